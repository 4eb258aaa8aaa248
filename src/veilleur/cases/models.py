"""What casework is made of: intakes, clocks, cases, decisions and actions.

Plain dataclasses; times are always timezone-aware UTC. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from veilleur.taxonomy import Category, Target


class IntakeKind(StrEnum):
    REPORT = "report"
    FINDING = "finding"
    COMPLAINT = "complaint"
    """An Art. 20 complaint against a decision (by the person affected or the notifier)."""


class Resolution(StrEnum):
    UPHELD = "upheld"
    """A reviewer confirmed a violation on what the intake pointed at."""
    REJECTED = "rejected"
    """A reviewer found no violation."""
    ALREADY_ACTIONED = "already_actioned"
    """What it points at was already removed, suspended or deleted by an earlier action."""
    ALREADY_REVIEWED = "already_reviewed"
    """The same target was reviewed recently and found not violating; nothing new was said."""
    OWNER_DELETED = "owner_deleted"
    """Gone before review (deleted by its owner or author); the evidence is preserved."""
    REPORTER_SUSPENDED = "reporter_suspended"
    """Not processed: the sender's notices or complaints are suspended (DSA Art. 23(2))."""
    NOT_ADMISSIBLE = "not_admissible"
    """A complaint filed too late, by someone the decision does not concern, or about no
    decision."""


def iso(ts: datetime | None) -> str | None:
    return None if ts is None else ts.isoformat().replace("+00:00", "Z")


def parse_iso(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def _ts(text: str | None) -> datetime:
    ts = parse_iso(text)
    assert ts is not None
    return ts


@dataclass
class Clock:
    """A deadline. Legal clocks (authority orders) can be stopped and restarted by law."""

    name: str
    kind: str
    """'legal' or 'internal'."""
    started_at: datetime
    hours: float
    basis: str
    paused_at: datetime | None = None
    pause_reason: str | None = None
    stopped_at: datetime | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    intake_id: str | None = None
    """The authority order a legal clock belongs to."""

    @property
    def due(self) -> datetime | None:
        if self.paused_at is not None:
            return None
        return self.started_at + timedelta(hours=self.hours)

    def at_risk_from(self, share: float) -> datetime | None:
        due = self.due
        return None if due is None else due - timedelta(hours=self.hours * share)

    def status(self, now: datetime, at_risk_share: float) -> str:
        due = self.due
        if self.stopped_at is not None:
            assert due is not None or self.paused_at is not None
            return "met" if due is None or self.stopped_at <= due else "late"
        if due is None:
            return "paused"
        if now >= due:
            return "breached"
        if now >= due - timedelta(hours=self.hours * at_risk_share):
            return "at_risk"
        return "running"

    def pause(self, at: datetime, reason: str) -> None:
        if self.stopped_at is None and self.paused_at is None:
            self.paused_at, self.pause_reason = at, reason
            self.history.append({"at": iso(at), "event": "paused", "reason": reason})

    def restart(self, at: datetime, reason: str) -> None:
        # LCEN 6-2 II: after force majeure or a clarification, the whole period runs again.
        if self.stopped_at is None:
            self.started_at, self.paused_at, self.pause_reason = at, None, None
            self.history.append({"at": iso(at), "event": "restarted", "reason": reason})

    def to_json(self, now: datetime, at_risk_share: float) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "basis": self.basis,
                "started_at": iso(self.started_at), "hours": self.hours,
                "due": iso(self.due), "status": self.status(now, at_risk_share),
                "stopped_at": iso(self.stopped_at), "history": list(self.history)}

    def to_record(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "basis": self.basis,
                "started_at": iso(self.started_at), "hours": self.hours,
                "paused_at": iso(self.paused_at), "pause_reason": self.pause_reason,
                "stopped_at": iso(self.stopped_at), "history": list(self.history),
                "intake_id": self.intake_id}

    @classmethod
    def from_record(cls, d: dict[str, Any]) -> Clock:
        return cls(d["name"], d["kind"], _ts(d["started_at"]), d["hours"], d["basis"],
                   parse_iso(d.get("paused_at")), d.get("pause_reason"),
                   parse_iso(d.get("stopped_at")), list(d.get("history", ())),
                   d.get("intake_id"))


@dataclass
class Intake:
    """One report or one engine finding, recorded and acknowledged when it arrives."""

    id: str
    kind: IntakeKind
    source: str
    """user, dsa_notice, trusted_flagger, authority, or engine."""
    target: Target
    category: Category | None
    received_at: datetime
    acknowledged_at: datetime
    score: float = 0.0
    """A finding's score; for a report, the credibility of its source when it arrived."""
    reporter_id: str | None = None
    flagger: str | None = None
    notifier: dict[str, str] | None = None
    explanation: str | None = None
    detectors: tuple[str, ...] = ()
    signal_keys: tuple[str, ...] = ()
    evidence: str | None = None
    case_id: str | None = None
    resolution: Resolution | None = None
    resolved_at: datetime | None = None
    reason: str | None = None
    clock: Clock | None = None
    """The legal clock of an authority order."""
    notice_id: str | None = None
    """The notice this item belongs to (one notice may name several items)."""
    bona_fide: bool | None = None
    challenges: str | None = None
    """A complaint: the decision it contests."""
    received_by: str | None = None
    """Who handed it in: the service's API key (`api:NAME`, `flagger:NAME`), the public form,
    or the operator's input file. Set by the door it came through, never by its body."""

    @property
    def pending(self) -> bool:
        return self.resolution is None

    def settle(self, resolution: Resolution, at: datetime, reason: str) -> None:
        """End the intake with a reason; its legal clock (if any) stops here."""
        self.resolution, self.resolved_at, self.reason = resolution, at, reason
        if self.clock is not None and self.clock.stopped_at is None:
            self.clock.stopped_at = at

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind.value, "source": self.source,
                "target": self.target.to_json(),
                "category": self.category.value if self.category else None,
                "received_at": iso(self.received_at),
                "acknowledged_at": iso(self.acknowledged_at),
                "score": round(self.score, 4), "reporter_id": self.reporter_id,
                "flagger": self.flagger, "case_id": self.case_id,
                "resolution": self.resolution.value if self.resolution else None,
                "resolved_at": iso(self.resolved_at), "reason": self.reason,
                "received_by": self.received_by}

    def to_record(self) -> dict[str, Any]:
        """Everything, for the store (`from_record` gives it back)."""
        return self.to_json() | {
            "score": self.score, "notifier": self.notifier, "explanation": self.explanation,
            "detectors": list(self.detectors), "signal_keys": list(self.signal_keys),
            "evidence": self.evidence,
            "clock": self.clock.to_record() if self.clock else None,
            "notice_id": self.notice_id, "bona_fide": self.bona_fide,
            "challenges": self.challenges}

    @classmethod
    def from_record(cls, d: dict[str, Any]) -> Intake:
        t = d["target"]
        return cls(
            id=d["id"], kind=IntakeKind(d["kind"]), source=d["source"],
            target=Target.of(t["kind"], t["id"]),
            category=Category(d["category"]) if d.get("category") else None,
            received_at=_ts(d["received_at"]), acknowledged_at=_ts(d["acknowledged_at"]),
            score=d.get("score", 0.0), reporter_id=d.get("reporter_id"),
            flagger=d.get("flagger"), notifier=d.get("notifier"),
            explanation=d.get("explanation"), detectors=tuple(d.get("detectors", ())),
            signal_keys=tuple(d.get("signal_keys", ())), evidence=d.get("evidence"),
            case_id=d.get("case_id"),
            resolution=Resolution(d["resolution"]) if d.get("resolution") else None,
            resolved_at=parse_iso(d.get("resolved_at")), reason=d.get("reason"),
            clock=Clock.from_record(d["clock"]) if d.get("clock") else None,
            notice_id=d.get("notice_id"), bona_fide=d.get("bona_fide"),
            challenges=d.get("challenges"), received_by=d.get("received_by"))


@dataclass(frozen=True, slots=True)
class Factor:
    name: str
    value: float
    weight: float
    why: str

    @property
    def contribution(self) -> float:
        return self.value * self.weight

    def to_json(self) -> dict[str, Any]:
        return {"factor": self.name, "value": round(self.value, 4), "weight": self.weight,
                "contribution": round(self.contribution, 4), "why": self.why}


@dataclass
class Case:
    id: str
    opened_at: datetime
    targets: list[Target] = field(default_factory=list)
    intakes: list[str] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    status: str = "open"
    """open, in_review, closed."""
    category: Category | None = None
    priority: float = 0.0
    factors: tuple[Factor, ...] = ()
    clocks: list[Clock] = field(default_factory=list)
    raised: bool = False
    """A clock is at risk: the case moved up the queue."""
    escalated: bool = False
    """A clock ran out: the case is in the senior queue and an alert went out."""
    locked_by: str | None = None
    lock_until: datetime | None = None
    reviewed_at: datetime | None = None
    decision_id: str | None = None
    closed_at: datetime | None = None
    close_reason: str | None = None
    follows: str | None = None
    """The case that was under review when this one's first item arrived."""
    merged_into: str | None = None
    preserved: set[Target] = field(default_factory=set)
    kind: str = "moderation"
    """'moderation', or 'complaint' (an Art. 20 complaint: decided by a person, never merged)."""

    @property
    def queue(self) -> str:
        return "senior" if self.escalated else "standard"

    def effective_priority(self, boost: float) -> float:
        return min(1.0, self.priority + (boost if self.raised else 0.0))

    def next_due(self) -> datetime | None:
        dues = [c.due for c in self.clocks if c.stopped_at is None and c.due is not None]
        return min(dues) if dues else None

    def to_json(self, now: datetime, at_risk_share: float) -> dict[str, Any]:
        return {"id": self.id, "opened_at": iso(self.opened_at), "status": self.status,
                "category": self.category.value if self.category else None,
                "priority": round(self.priority, 4),
                "priority_explained": [f.to_json() for f in self.factors],
                "queue": self.queue, "raised": self.raised, "escalated": self.escalated,
                "targets": [t.to_json() for t in self.targets],
                "intakes": list(self.intakes),
                "clocks": [c.to_json(now, at_risk_share) for c in self.clocks],
                "reviewed_at": iso(self.reviewed_at), "decision_id": self.decision_id,
                "closed_at": iso(self.closed_at), "close_reason": self.close_reason,
                "follows": self.follows, "merged_into": self.merged_into, "kind": self.kind}

    def to_record(self, now: datetime, at_risk_share: float) -> dict[str, Any]:
        """`to_json` plus what casework needs to pick the case up again."""
        return self.to_json(now, at_risk_share) | {
            "locked_by": self.locked_by, "lock_until": iso(self.lock_until),
            "grouping_keys": sorted(self.keys),
            "preserved": [t.to_json() for t in sorted(self.preserved)],
            "clock_records": [c.to_record() for c in self.clocks]}

    @classmethod
    def from_record(cls, d: dict[str, Any], clocks: dict[str, Clock]) -> Case:
        """`clocks`: the legal clocks of the intakes, by intake id, shared with them."""
        return cls(
            id=d["id"], opened_at=_ts(d["opened_at"]),
            targets=[Target.of(t["kind"], t["id"]) for t in d["targets"]],
            intakes=list(d["intakes"]), keys=set(d.get("grouping_keys", ())),
            status=d["status"],
            category=Category(d["category"]) if d.get("category") else None,
            priority=d["priority"],
            factors=tuple(Factor(f["factor"], f["value"], f["weight"], f["why"])
                          for f in d.get("priority_explained", ())),
            clocks=[clocks.get(c.get("intake_id") or "") or Clock.from_record(c)
                    for c in d.get("clock_records", ())],
            raised=d.get("raised", False), escalated=d.get("escalated", False),
            locked_by=d.get("locked_by"), lock_until=parse_iso(d.get("lock_until")),
            reviewed_at=parse_iso(d.get("reviewed_at")), decision_id=d.get("decision_id"),
            closed_at=parse_iso(d.get("closed_at")), close_reason=d.get("close_reason"),
            follows=d.get("follows"), merged_into=d.get("merged_into"),
            preserved={Target.of(t["kind"], t["id"]) for t in d.get("preserved", ())},
            kind=d.get("kind", "moderation"))


@dataclass(frozen=True, slots=True)
class TargetDecision:
    target: Target
    violation: bool
    category: Category | None = None
    ground: str | None = None
    """'illegal' (a law) or 'terms' (the terms of service)."""
    ground_text: str | None = None
    measures: tuple[str, ...] = ()
    duration_days: int | None = None
    """None: indefinite."""
    territorial_scope: tuple[str, ...] = ()
    explanation: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target.to_json(), "violation": self.violation,
                "category": self.category.value if self.category else None,
                "ground": self.ground, "ground_text": self.ground_text,
                "measures": list(self.measures), "duration_days": self.duration_days,
                "territorial_scope": list(self.territorial_scope),
                "explanation": self.explanation}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TargetDecision:
        t = d["target"]
        return cls(Target.of(t["kind"], t["id"]), d["violation"],
                   Category(d["category"]) if d.get("category") else None, d.get("ground"),
                   d.get("ground_text"), tuple(d.get("measures", ())), d.get("duration_days"),
                   tuple(d.get("territorial_scope", ())), d.get("explanation"))


@dataclass(frozen=True, slots=True)
class Decision:
    id: str
    case_id: str
    decided_at: datetime
    reviewer: str
    automated: bool
    targets: tuple[TargetDecision, ...]
    case_measures: tuple[str, ...] = ()

    @property
    def restricting(self) -> bool:
        return any(t.violation and t.measures for t in self.targets)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "case_id": self.case_id, "decided_at": iso(self.decided_at),
                "reviewer": self.reviewer, "automated": self.automated,
                "targets": [t.to_json() for t in self.targets],
                "case_measures": list(self.case_measures)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Decision:
        return cls(d["id"], d["case_id"], _ts(d["decided_at"]), d["reviewer"], d["automated"],
                   tuple(TargetDecision.from_json(t) for t in d["targets"]),
                   tuple(d.get("case_measures", ())))


@dataclass
class Action:
    id: str
    ts: datetime
    action: str
    target: Target
    case_id: str | None
    automated: bool
    category: Category | None
    decision_id: str | None = None
    reason: str | None = None
    reverted_at: datetime | None = None
    reverted_by: str | None = None
    revert_reason: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.reverted_at is None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "ts": iso(self.ts), "action": self.action,
            "target": self.target.to_json(), "case_id": self.case_id,
            "automated": self.automated,
            "category": self.category.value if self.category else None,
            "decision_id": self.decision_id, "reason": self.reason}
        if self.reverted_at is not None:
            out.update(reverted_at=iso(self.reverted_at), reverted_by=self.reverted_by,
                       revert_reason=self.revert_reason)
        if self.detail:
            out["detail"] = self.detail
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Action:
        t = d["target"]
        return cls(d["id"], _ts(d["ts"]), d["action"], Target.of(t["kind"], t["id"]),
                   d.get("case_id"), d["automated"],
                   Category(d["category"]) if d.get("category") else None,
                   d.get("decision_id"), d.get("reason"), parse_iso(d.get("reverted_at")),
                   d.get("reverted_by"), d.get("revert_reason"), dict(d.get("detail", {})))
