"""The baseline the engine is compared with: what platforms did in the investigations.

Reports only, first in first out, one case per report, no proactive detection, no grouping,
no evidence preserved before review, no automatic blocking, no memory of confirmed media.
When a reviewer confirms the reported target, the same measures as the engine's policy apply
to that target. A suspended account or deleted server is still enforced by the platform (its
later posts are refused): that much every platform does.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime

from veilleur.cases.casework import report_intake
from veilleur.cases.config import CasePolicy
from veilleur.cases.content import ContentIndex
from veilleur.cases.models import Action, Intake, Resolution, iso
from veilleur.cases.review import Verdict
from veilleur.enforce.actions import Enforcement, Prevented, subject_of
from veilleur.events import Event, ReportFiled
from veilleur.state import Directory, MemoryState
from veilleur.taxonomy import Target


@dataclass
class BaselineCase:
    id: str
    opened_at: datetime
    targets: list[Target]
    intake: Intake
    reviewed_at: datetime | None = None


class FifoBaseline:
    def __init__(self, policy: CasePolicy) -> None:
        self.policy = policy
        self.directory = Directory(MemoryState())
        self.content = ContentIndex(self.directory, recent_per_channel=1, recent_per_user=1)
        self.enforcement = Enforcement(self.content)
        self.intakes: dict[str, Intake] = {}
        self.cases: dict[str, BaselineCase] = {}
        self.prevented: list[Prevented] = []
        self._queue: deque[str] = deque()
        self._n = 0

    def handle(self, event: Event) -> None:
        stopped = self.enforcement.stops(event)
        if stopped is not None:
            self.prevented.append(Prevented(event.ts, event.type, subject_of(event),
                                            stopped.reason, stopped.action.id))
            return
        self.directory.apply(event)
        self.content.apply(event)
        if isinstance(event, ReportFiled):
            r = event.report
            intake = report_intake(r, event.ts, self.policy)
            self.intakes[intake.id] = intake
            covered = self.enforcement.covering(r.target)
            if covered is not None:
                intake.settle(Resolution.ALREADY_ACTIONED, event.ts,
                              f"already {covered.action}")
                return
            self._n += 1
            case = BaselineCase(f"fifo-{self._n}", event.ts, [r.target], intake)
            self.cases[case.id] = case
            intake.case_id = case.id
            self._queue.append(case.id)

    def tick(self, now: datetime) -> None:
        pass

    def take_next(self, reviewer: str, now: datetime) -> BaselineCase | None:
        return self.cases[self._queue.popleft()] if self._queue else None

    def decide(self, case_id: str, reviewer: str, verdicts: dict[Target, Verdict],
               now: datetime) -> None:
        case = self.cases[case_id]
        case.reviewed_at = now
        upheld = False
        for target in case.targets:
            category = verdicts[target].category
            if category is None:
                continue
            upheld = True
            for measure in self.policy.measures[category].get(target.kind.value, ()):
                if not self.enforcement.done(target, measure):
                    self._n += 1
                    self.enforcement.apply(Action(f"fifo-action-{self._n}", now, measure,
                                                  target, case.id, False, category))
        case.intake.settle(Resolution.UPHELD if upheld else Resolution.REJECTED, now,
                           f"reviewed in case {case.id}")

    @property
    def actions(self) -> list[Action]:
        return list(self.enforcement.actions.values())

    def case_rows(self) -> list[dict[str, object]]:
        return [{"id": c.id, "opened_at": iso(c.opened_at), "reviewed_at": iso(c.reviewed_at),
                 "targets": [t.to_json() for t in c.targets]} for c in self.cases.values()]
