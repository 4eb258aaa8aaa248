"""`veilleur eval`: precision and recall of the engine on labelled exports.

Labels use the oracle format of contracts §6, one JSON object a line:
`{"target": {"kind": K, "id": ID}, "category": C}`. Everything the engine flags that is not
labelled is a false positive; every label it misses is a false negative. Attachments are out
of scope here (media has its own benchmark).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
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

KINDS = (TargetKind.MESSAGE, TargetKind.CHANNEL, TargetKind.GUILD)
Key = tuple[TargetKind, str, Category]


class LabelError(ValueError):
    pass


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
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "labels": self.labels, "findings": self.findings,
            "scores": [{"category": c.value, "target_kind": k.value, "tp": s.tp, "fp": s.fp,
                        "fn": s.fn, "precision": s.precision, "recall": s.recall}
                       for (c, k), s in sorted(self.scores.items())],
            "errors": [{"error": e.kind, "target": {"kind": e.key[0].value, "id": e.key[1]},
                        "category": e.key[2].value, "text": e.text, "evidence": e.evidence}
                       for e in self.errors],
        }


def load_labels(path: Path) -> set[Key]:
    labels: set[Key] = set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise LabelError(f"{path}: cannot read labels: {exc.strerror or exc}") from None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            key = (TargetKind(d["target"]["kind"]), str(d["target"]["id"]),
                   Category(d["category"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise LabelError(f"{path} (line {n}): bad label: {exc}") from None
        labels.add(key)
    return labels


def evaluate(paths: Sequence[Path], labels_path: Path,
             settings: DetectorSettings | None = None) -> EvalResult:
    labels = load_labels(labels_path)
    scan = run_scan(paths, db_url=None, settings=settings)
    findings: dict[Key, Finding] = {
        (f.target.kind, f.target.id, f.category): f
        for f in scan.findings if f.target.kind in KINDS
    }
    texts = _texts(paths)
    result = EvalResult(labels=len(labels), findings=len(findings),
                        problems=[str(p) for p in scan.problems])
    for category in Category:
        for kind in KINDS:
            result.scores[(category, kind)] = Score()
    for key in findings.keys() | labels:
        score = result.scores[(key[2], key[0])]
        if key in findings and key in labels:
            score.tp += 1
        elif key in findings:
            score.fp += 1
            result.errors.append(EvalError("false positive", key, texts.get(key[:2], ""),
                                           findings[key].evidence))
        else:
            score.fn += 1
            result.errors.append(EvalError("false negative", key, texts.get(key[:2], "")))
    result.errors.sort(key=lambda e: (e.kind, e.key[2].value, e.key[0].value, e.key[1]))
    return result


def _texts(paths: Sequence[Path]) -> dict[tuple[TargetKind, str], str]:
    """The text of every target, to show next to its errors."""
    problems = ProblemLog()
    media = MediaReader()
    texts: dict[tuple[TargetKind, str], str] = {}
    for item in discover_inputs(paths, problems):
        for event in read_input(item, problems, media):
            if isinstance(event, MessagePosted):
                texts[(TargetKind.MESSAGE, event.message.id)] = event.message.content
            elif isinstance(event, ChannelCreated):
                texts[(TargetKind.CHANNEL, event.channel.id)] = event.channel.name
            elif isinstance(event, GuildCreated):
                texts[(TargetKind.GUILD, event.guild.id)] = event.guild.name or ""
    return texts
