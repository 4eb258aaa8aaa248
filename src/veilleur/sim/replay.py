"""`veilleur replay`: the whole loop under a simulated clock (contracts §6).

Events are read once, in time order, and fed to the engine's casework and, side by side, to
the FIFO baseline; each has its own N simulated reviewers who take S seconds a case and answer
from the oracle. Between two events the clock jumps: reviewers finish, clocks tick, free
reviewers take the next case. After the last event the simulation runs on until every queue is
empty (or `drain_hours` have passed), so that nothing is scored as pending merely because the
log stopped.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine as Database

from veilleur import __version__
from veilleur.cases.casework import Casework
from veilleur.cases.config import CasePolicy, load_case_policy
from veilleur.cases.priority import flagger_statistics
from veilleur.cases.review import Verdict
from veilleur.compliance.documents import Compliance
from veilleur.deployment import Mode, Settings, assemble
from veilleur.detect.base import Detector, DetectorSettings
from veilleur.enforce.evidence import EvidenceKey
from veilleur.events import Event
from veilleur.ingest.eventlog import read_eventlog
from veilleur.ingest.media import MediaReader
from veilleur.ingest.problems import ProblemLog
from veilleur.sim.baseline import FifoBaseline
from veilleur.sim.followthrough import read_milestones, score_followthrough
from veilleur.sim.metrics import SystemRecord, Timeline, score
from veilleur.sim.oracle import Oracle, read_oracle
from veilleur.taxonomy import Target


class _Reviewable(Protocol):
    id: str
    targets: list[Target]


class _System(Protocol):
    def handle(self, event: Event) -> None: ...

    def tick(self, now: datetime) -> None: ...

    def take_next(self, reviewer: str, now: datetime) -> _Reviewable | None: ...

    def decide(self, case_id: str, reviewer: str, verdicts: dict[Target, Verdict],
               now: datetime) -> Any: ...


class SimulatedReviewers:
    """N reviewers, S seconds a case, each checking every target of the case with the oracle
    when it opens the case, deciding when the S seconds are up."""

    def __init__(self, system: _System, oracle: Oracle, n: int, seconds: float,
                 name: str) -> None:
        self.system = system
        self.oracle = oracle
        self.duration = timedelta(seconds=seconds)
        self.idle = [f"{name}-reviewer-{i + 1}" for i in range(n)]
        self.busy: list[tuple[datetime, int, str, str, dict[Target, Verdict]]] = []
        self._order = itertools.count()
        self.reviewed = 0

    def next_finish(self) -> datetime | None:
        return self.busy[0][0] if self.busy else None

    def finish_one(self) -> datetime:
        at, _, reviewer, case_id, verdicts = heapq.heappop(self.busy)
        self.system.decide(case_id, reviewer, verdicts, at)
        self.reviewed += 1
        self.idle.append(reviewer)
        return at

    def dispatch(self, now: datetime) -> None:
        while self.idle:
            reviewer = self.idle[-1]
            case = self.system.take_next(reviewer, now)
            if case is None:
                return
            self.idle.pop()
            view_media = getattr(self.system, "view_media", None)
            if view_media is not None:
                view_media(case.id, reviewer, now)  # they check every item, files included
            verdicts = self.oracle.review(case.targets)
            heapq.heappush(self.busy, (now + self.duration, next(self._order), reviewer,
                                       case.id, verdicts))

    def advance(self, to: datetime) -> None:
        """Run every review that finishes up to `to`, handing out new cases as people free up."""
        while (nxt := self.next_finish()) is not None and nxt <= to:
            at = self.finish_one()
            self.system.tick(at)
            self.dispatch(at)
        self.system.tick(to)


def documents_summary(compliance: Compliance) -> dict[str, Any]:
    """How many documents of each kind, and any that failed their validator (never sent)."""
    return {"counts": compliance.counts(),
            "invalid": [{"id": d.id, "kind": d.kind, "errors": d.errors}
                        for d in compliance.documents.values() if d.status == "invalid"]}


@dataclass
class ReplayResult:
    document: dict[str, Any]
    problems: ProblemLog
    events: int = 0
    seconds: float = 0.0
    casework: Casework | None = None
    baseline: FifoBaseline | None = None
    timings: dict[str, float] = field(default_factory=dict)


def run_replay(
    events_path: Path,
    oracle_path: Path,
    *,
    reviewers: int,
    review_seconds: float,
    bank_paths: Sequence[Path] = (),
    settings: DetectorSettings | None = None,
    policy: CasePolicy | None = None,
    baseline: bool = True,
    drain_hours: float = 72.0,
    db: Database | None = None,
    db_url: str | None = None,
    evidence_key: EvidenceKey | None = None,
    on_bytes: Callable[[int], None] | None = None,
    milestones_path: Path | None = None,
) -> ReplayResult:
    """`db` (open, at `db_url`): keep the casework, the events themselves (messages,
    servers, names) and the detectors' memory in that database, so that the stored casework
    can be picked up later (`veilleur review`); `evidence_key` seals its evidence. Without
    it the run is held in memory. `milestones_path`: when each story's harm showed itself
    (`sim/followthrough.py`), to score how soon it was stopped."""
    started = time.perf_counter()
    problems = ProblemLog()
    if reviewers < 1 or review_seconds <= 0:
        raise ValueError("reviewers must be >= 1 and review seconds > 0")
    policy = policy or load_case_policy()
    oracle = read_oracle(oracle_path, problems)
    milestones = read_milestones(milestones_path, problems) if milestones_path else []

    def failure(detector: Detector, event: Event, exc: Exception) -> None:
        problems.report(event.source or "engine", f"detector {detector.id} failed on a "
                        f"{event.type} event: {type(exc).__name__}: {exc}")

    deployment = assemble(Settings(
        mode=Mode.SIMULATED, db_url=db_url, bank_files=tuple(bank_paths),
        detectors=settings or DetectorSettings(), evidence_key=evidence_key,
        case_policy=policy), db=db, problems=problems, on_failure=failure)
    engine, casework, matcher = deployment.engine, deployment.casework, deployment.matcher
    assert casework is not None
    systems: list[tuple[str, _System, SimulatedReviewers]] = [
        ("engine", casework, SimulatedReviewers(casework, oracle, reviewers, review_seconds,
                                                "engine"))]
    fifo = FifoBaseline(policy) if baseline else None
    if fifo is not None:
        systems.append(("baseline_fifo", fifo,
                        SimulatedReviewers(fifo, oracle, reviewers, review_seconds, "fifo")))

    timeline = Timeline(oracle.labels())
    media = MediaReader(features=matcher is not None and matcher.wants_features)
    now: datetime | None = None
    first: datetime | None = None
    n = 0
    for event in read_eventlog(events_path, problems, media, on_bytes):
        if now is not None and event.ts < now:
            problems.report(str(events_path), f"event out of time order ({event.type} at "
                            f"{event.ts.isoformat()} after {now.isoformat()}): handled at "
                            "the current simulated time")
            event = replace(event, ts=now)
        now = event.ts
        first = first or now
        n += 1
        timeline.observe(event)
        for _, system, people in systems:
            people.advance(now)
            system.handle(event)
            people.dispatch(now)
    end = now or datetime.now().astimezone()
    if now is not None:
        horizon = now + timedelta(hours=drain_hours)
        for _, _system, people in systems:
            while (nxt := people.next_finish()) is not None and nxt <= horizon:
                people.advance(nxt)
            end = max(end, min(horizon, people.next_finish() or now))
        for _, _system, people in systems:
            people.advance(end)
    casework.close()

    records = [SystemRecord("engine", list(casework.enforcement.actions.values()),
                            casework.prevented, casework.intakes, casework.content,
                            len(casework.cases))]
    if fifo is not None:
        records.append(SystemRecord("baseline_fifo", fifo.actions, fifo.prevented,
                                    fifo.intakes, fifo.content, len(fifo.cases)))
    metrics: dict[str, Any] = {r.name: score(r, timeline, end) for r in records}
    if milestones:
        for r in records:
            metrics[r.name]["follow_through"] = score_followthrough(milestones, r.actions)
    metrics["simulation"] = {
        "events": n, "reviewers": reviewers, "review_seconds": review_seconds,
        "start": first.isoformat() if first else None, "end": end.isoformat(),
        "labelled_targets": len(oracle), "problems": len(problems),
        "engine_stats": vars(casework.stats) | {"engine_events": engine.stats.events,
                                                "signals": engine.stats.signals},
        "audit_entries": casework.audit.seq, "audit_head": casework.audit.head,
        "alerts": len(casework.alerts),
    }
    share = policy.at_risk_share
    document: dict[str, Any] = {
        "veilleur_version": __version__,
        "case_policy": policy.version,
        "actions": [a.to_json() for a in casework.enforcement.actions.values()],
        "cases": [c.to_json(end, share) for c in casework.cases.values()],
        "decisions": [d.to_json() for d in casework.decisions.values()],
        "reports": [i.to_json() for i in casework.intakes.values()
                    if i.kind.value == "report"],
        "prevented": [p.to_json() for p in casework.prevented],
        "alerts": casework.alerts,
        "trusted_flaggers": flagger_statistics(
            ((i.flagger, i.resolution.value if i.resolution else None)
             for i in casework.intakes.values() if i.source == "trusted_flagger"), policy),
        "statements_of_reasons": [d.payload for d in
                                  casework.compliance.of_kind("tdb_statement")],
        "ncmec_reports": [d.payload["xml"] for d in casework.compliance.of_kind("ncmec_report")],
        "documents": documents_summary(casework.compliance),
        "metrics": metrics,
    }
    if fifo is not None:
        document["baseline_fifo"] = {"actions": [a.to_json() for a in fifo.actions],
                                     "cases": fifo.case_rows()}
    return ReplayResult(document, problems, n, time.perf_counter() - started, casework, fifo)
