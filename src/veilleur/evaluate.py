"""`veilleur eval`: precision and recall of the engine on labelled exports.

Labels use the oracle format of contracts §6, one JSON object a line:
`{"target": {"kind": K, "id": ID}, "category": C}`, where C may also be `null` (a labelled
negative: anything flagged there is a false positive) or `"ignore"` (not scored). Kinds are
message, attachment, channel, guild (server) and user (account). A flagged message also flags
its attachments. A finding on a message or attachment the labels do not name is a false
positive; a channel, server or account the labels do not name is not scored, only counted
(`unlabelled`): labellers name every message that matters but not every member of an abusive
server, so the seller nobody thought to label says nothing about precision (the convention of
eval-a's own scorer). A labels file that names no account says nothing about accounts.

Each precision and recall comes with its 95 % Wilson interval: on tens of labels a point
estimate says little, and the floors in tests are set against the interval's meaning.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from veilleur.decide.policy import Finding
from veilleur.detect.base import DetectorSettings
from veilleur.events import ChannelCreated, GuildCreated, MessagePosted
from veilleur.ingest.discover import discover_inputs, read_input
from veilleur.ingest.media import MediaReader
from veilleur.ingest.problems import ProblemLog
from veilleur.scan import run_scan
from veilleur.taxonomy import Category, TargetKind

KINDS = (TargetKind.MESSAGE, TargetKind.ATTACHMENT, TargetKind.CHANNEL, TargetKind.GUILD,
         TargetKind.USER)
Key = tuple[TargetKind, str, Category]
Place = tuple[TargetKind, str]
IGNORE = "ignore"


class LabelError(ValueError):
    pass


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """The 95 % Wilson score interval of a proportion k/n (None when n is 0)."""
    if n == 0:
        return None
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def precision_ci(self) -> tuple[float, float] | None:
        return wilson(self.tp, self.tp + self.fp)

    @property
    def recall_ci(self) -> tuple[float, float] | None:
        return wilson(self.tp, self.tp + self.fn)

    def add(self, other: Score) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn

    def to_json(self) -> dict[str, object]:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "precision": self.precision,
                "precision_ci": self.precision_ci, "recall": self.recall,
                "recall_ci": self.recall_ci}


def fraction(k: int, n: int, ci: tuple[float, float] | None) -> str:
    """`22/42 0.52 [0.38-0.67]`, for tables."""
    if ci is None:
        return "-"
    return f"{k}/{n} {k / n:.2f} [{ci[0]:.2f}-{ci[1]:.2f}]"


@dataclass(frozen=True)
class EvalError:
    kind: str  # "false positive" | "false negative"
    key: Key
    text: str
    evidence: str = ""


@dataclass
class EvalResult:
    scores: dict[tuple[Category, TargetKind], Score] = field(default_factory=dict)
    errors: list[EvalError] = field(default_factory=list)
    labels: int = 0
    findings: int = 0
    unlabelled: dict[TargetKind, int] = field(default_factory=dict)
    """Findings on channels, servers and accounts the labels do not name (not scored)."""
    problems: list[str] = field(default_factory=list)

    def total(self, kind: TargetKind) -> Score:
        """All categories of one target kind together."""
        out = Score()
        for (_, k), score in self.scores.items():
            if k is kind:
                out.add(score)
        return out

    def to_json(self) -> dict[str, object]:
        return {
            "labels": self.labels, "findings": self.findings,
            "unlabelled": {k.value: n for k, n in sorted(self.unlabelled.items())},
            "scores": [{"category": c.value, "target_kind": k.value, **s.to_json()}
                       for (c, k), s in sorted(self.scores.items())],
            "totals": {k.value: self.total(k).to_json() for k in KINDS},
            "errors": [{"error": e.kind, "target": {"kind": e.key[0].value, "id": e.key[1]},
                        "category": e.key[2].value, "text": e.text, "evidence": e.evidence}
                       for e in self.errors],
        }


@dataclass(frozen=True)
class Labels:
    positives: frozenset[Key]
    negatives: frozenset[Place] = frozenset()
    ignored: frozenset[Place] = frozenset()

    def __len__(self) -> int:
        return len(self.positives) + len(self.negatives)

    @property
    def kinds(self) -> frozenset[TargetKind]:
        """The target kinds these labels speak of."""
        return frozenset({k for k, _, _ in self.positives} | {k for k, _ in self.negatives}
                         | {k for k, _ in self.ignored})


def load_labels(path: Path) -> Labels:
    positives: set[Key] = set()
    negatives: set[Place] = set()
    ignored: set[Place] = set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelError(f"{path}: cannot read labels: {exc}") from None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            place = (TargetKind(d["target"]["kind"]), str(d["target"]["id"]))
            category = d["category"]
            if category is None:
                negatives.add(place)
            elif category == IGNORE:
                ignored.add(place)
            else:
                positives.add((*place, Category(category)))
        except (ValueError, KeyError, TypeError) as exc:
            raise LabelError(f"{path} (line {n}): bad label: {exc}") from None
    return Labels(frozenset(positives), frozenset(negatives), frozenset(ignored))


def score_findings(findings: Iterable[Finding], labels: Labels,
                   attachments_of: Mapping[str, Sequence[str]] = {},
                   texts: Mapping[Place, str] = {}) -> EvalResult:
    """Findings against labels (pure): per category and target kind, with the errors."""
    flagged: dict[Key, str] = {}
    kinds = labels.kinds
    for f in findings:
        if f.target.kind not in KINDS:
            continue
        flagged.setdefault((f.target.kind, f.target.id, f.category), f.evidence)
        if f.target.kind is TargetKind.MESSAGE:
            for att in attachments_of.get(f.target.id, ()):
                flagged.setdefault((TargetKind.ATTACHMENT, att, f.category),
                                   f"its message: {f.evidence}")
    result = EvalResult(labels=len(labels),
                        findings=sum(1 for key in flagged if key[0] in kinds))
    for category in Category:
        for kind in KINDS:
            result.scores[(category, kind)] = Score()
    named = {k[:2] for k in labels.positives} | labels.negatives
    for key in flagged.keys() | labels.positives:
        if key[:2] in labels.ignored or key[0] not in kinds:
            continue
        if key[0] not in (TargetKind.MESSAGE, TargetKind.ATTACHMENT) and key[:2] not in named:
            result.unlabelled[key[0]] = result.unlabelled.get(key[0], 0) + 1
            continue
        score = result.scores[(key[2], key[0])]
        if key in flagged and key in labels.positives:
            score.tp += 1
        elif key in flagged:
            score.fp += 1
            result.errors.append(EvalError("false positive", key, texts.get(key[:2], ""),
                                           flagged[key]))
        else:
            score.fn += 1
            result.errors.append(EvalError("false negative", key, texts.get(key[:2], "")))
    result.errors.sort(key=lambda e: (e.kind, e.key[2].value, e.key[0].value, e.key[1]))
    return result


def evaluate(paths: Sequence[Path], labels_path: Path,
             settings: DetectorSettings | None = None,
             bank_paths: Sequence[Path] = ()) -> EvalResult:
    labels = load_labels(labels_path)
    # A labels file inside a scanned folder would be read as an event log.
    skip = labels_path.resolve()
    scan = run_scan(paths, db_url=None, settings=settings, bank_paths=bank_paths,
                    skip=(skip,))
    texts, attachments_of = _texts(paths, skip)
    result = score_findings(scan.findings, labels, attachments_of, texts)
    result.problems = [str(p) for p in scan.problems]
    return result


def _texts(paths: Sequence[Path], skip: Path
           ) -> tuple[dict[Place, str], dict[str, list[str]]]:
    """The text of every target, to show next to its errors, and each message's files."""
    problems = ProblemLog()
    media = MediaReader()
    texts: dict[Place, str] = {}
    attachments_of: dict[str, list[str]] = {}
    for item in discover_inputs(paths, problems):
        if item.path.resolve() == skip:
            continue
        for event in read_input(item, problems, media):
            if isinstance(event, MessagePosted):
                m = event.message
                texts[(TargetKind.MESSAGE, m.id)] = m.content
                for att in m.attachments:
                    texts[(TargetKind.ATTACHMENT, att.id)] = att.filename or ""
                    attachments_of.setdefault(m.id, []).append(att.id)
            elif isinstance(event, ChannelCreated):
                texts[(TargetKind.CHANNEL, event.channel.id)] = event.channel.name
            elif isinstance(event, GuildCreated):
                texts[(TargetKind.GUILD, event.guild.id)] = event.guild.name or ""
    return texts, attachments_of
