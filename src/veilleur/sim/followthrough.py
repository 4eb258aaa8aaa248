"""Follow-through of a replay: how soon an extorter, a groomer, a successor server and a
returning account were stopped, measured from the moment each showed itself.

The oracle (contracts §6) says what is harmful, not when the harm began nor what a groomer was
waiting for; a story that knows it writes *milestones* beside the oracle (JSON Lines, one a
line, never read by the engine):

    {"kind": "sextortion", "target": {"kind": "user", "id": U}, "sign_at": TS}
    {"kind": "grooming", "target": {"kind": "user", "id": U}, "sign_at": TS, "answer_at": TS}
    {"kind": "successor", "target": {"kind": "guild", "id": G}, "sign_at": TS}
    {"kind": "returning", "target": {"kind": "user", "id": U}, "sign_at": TS}

`sign_at`: the first threat, the first grooming step, the first sign a server took a fallen
one's place, a returning account's first step. `answer_at`: when the child answered the first
request for a picture or a webcam (grooming is stopped in time only before it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from veilleur.cases.models import Action, iso
from veilleur.ingest.problems import ProblemLog
from veilleur.sim.metrics import HOUR, summary
from veilleur.taxonomy import Target, TargetKind

KINDS = {"sextortion": TargetKind.USER, "grooming": TargetKind.USER,
         "successor": TargetKind.GUILD, "returning": TargetKind.USER}
# What stops each: an extorter or groomer only when the account is suspended (a refused join
# leaves the DMs open); a returning account also when it is barred from joining.
_STOPS = {"sextortion": {"suspend_account"}, "grooming": {"suspend_account"},
          "successor": {"delete_guild"}, "returning": {"suspend_account", "block_join"}}
MAX_LINE = 4096


@dataclass(frozen=True, slots=True)
class Milestone:
    kind: str
    target: Target
    sign_at: datetime
    answer_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "target": self.target.to_json(),
                               "sign_at": iso(self.sign_at)}
        if self.answer_at is not None:
            out["answer_at"] = iso(self.answer_at)
        return out


def _time(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{field} must be an ISO 8601 time, got {value!r}")
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{field} must be an ISO 8601 time, got {value!r}") from None
    if ts.tzinfo is None:
        raise ValueError(f"{field} must carry a time zone, got {value!r}")
    return ts


def parse_milestone(data: Any) -> Milestone:
    if not isinstance(data, dict):
        raise ValueError("a milestone is a JSON object")
    unknown = set(data) - {"kind", "target", "sign_at", "answer_at"}
    if unknown:
        raise ValueError(f"unknown field(s) {sorted(unknown)}")
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    t = data.get("target")
    if not isinstance(t, dict) or not isinstance(t.get("id"), str) or not t["id"]:
        raise ValueError("target must be {\"kind\", \"id\"} with a non-empty id")
    if t.get("kind") != KINDS[kind].value:
        raise ValueError(f"a {kind} milestone names a {KINDS[kind].value}, "
                         f"got {t.get('kind')!r}")
    sign = _time(data.get("sign_at"), "sign_at")
    answer = data.get("answer_at")
    answer_at = None
    if answer is not None:
        if kind != "grooming":
            raise ValueError("answer_at is for grooming milestones only")
        answer_at = _time(answer, "answer_at")
        if answer_at < sign:
            raise ValueError("answer_at is before sign_at")
    return Milestone(kind, Target(KINDS[kind], t["id"]), sign, answer_at)


def read_milestones(path: Path, problems: ProblemLog) -> list[Milestone]:
    """Every valid line; each bad one is a problem naming its line, the rest still count."""
    out: list[Milestone] = []
    with path.open("r", encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"line {n}"
            if len(line) > MAX_LINE:
                problems.report(str(path), f"milestone line longer than {MAX_LINE} "
                                "characters: skipped", where)
                continue
            try:
                out.append(parse_milestone(json.loads(line)))
            except (ValueError, TypeError, RecursionError) as exc:
                problems.report(str(path), f"milestone skipped: {exc}", where)
    return out


def _stops(actions: Iterable[Action]) -> dict[tuple[Target, str], datetime]:
    first: dict[tuple[Target, str], datetime] = {}
    for a in actions:
        if not a.active:
            continue
        key = (a.target, a.action)
        if key not in first or a.ts < first[key]:
            first[key] = a.ts
    return first


def score_followthrough(milestones: Sequence[Milestone], actions: Iterable[Action]
                        ) -> dict[str, Any]:
    """Per kind: how many, how soon stopped after their sign (median, p90, max), how many
    within an hour, never; grooming: how many stopped before the child answered a request
    for a picture. Each row names its target, for the misses to be read."""
    stops = _stops(actions)
    by_kind: dict[str, Any] = {}
    for kind in KINDS:
        rows = []
        delays: list[float] = []
        for m in (m for m in milestones if m.kind == kind):
            times = [ts for act in _STOPS[kind] if (ts := stops.get((m.target, act)))]
            stopped = min(times) if times else None
            row: dict[str, Any] = m.to_json() | {"stopped_at": iso(stopped)}
            if stopped is not None:
                row["seconds"] = max(0.0, (stopped - m.sign_at).total_seconds())
                delays.append(row["seconds"])
            if m.answer_at is not None:
                row["before_answer"] = stopped is not None and stopped <= m.answer_at
            rows.append(row)
        if not rows:
            continue
        section: dict[str, Any] = {
            "n": len(rows),
            "within_1h": sum(1 for d in delays if d <= HOUR),
            "stopped": len(delays),
            "never": len(rows) - len(delays),
            "seconds": summary(delays),
        }
        answered = [r for r in rows if "before_answer" in r]
        if answered:
            section["before_answer"] = sum(1 for r in answered if r["before_answer"])
            section["with_answer"] = len(answered)
        section["rows"] = rows
        by_kind[kind] = section
    return by_kind
