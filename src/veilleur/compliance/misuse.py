"""Art. 23 DSA: measures against misuse. Pure bookkeeping, no I/O.

Three kinds of misuse, each counted per account over a sliding window: posting manifestly
illegal content, sending manifestly unfounded notices, sending manifestly unfounded complaints.
Crossing the policy's threshold (an absolute number *and* a share of all the account's items,
Art 23(3)(a)-(b)) gives a warning first; crossing it again after the warning gives a suspension
for the policy's period: of the account for illegal content, of the notice or complaint channel
for the other two (23(2)). `warned → suspended(until) → restored`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from veilleur.compliance.config import MisusePolicy


class Misuse(StrEnum):
    ILLEGAL_CONTENT = "illegal_content"
    UNFOUNDED_NOTICES = "unfounded_notices"
    UNFOUNDED_COMPLAINTS = "unfounded_complaints"


@dataclass
class MisuseState:
    warned_at: datetime | None = None
    suspended_until: datetime | None = None
    suspensions: int = 0


@dataclass(frozen=True, slots=True)
class Step:
    """What a new observation calls for: a warning or a suspension, with the counts behind it."""

    kind: Misuse
    account: str
    stage: str
    """'warning' or 'suspension'."""
    count: int
    total: int
    at: datetime
    until: datetime | None = None
    warned_at: datetime | None = None


class _Counter:
    """One account's items in the window, by day, and its misuse times. Kept small: every
    account that posts has one."""

    __slots__ = ("bad", "days")

    def __init__(self) -> None:
        self.bad: deque[datetime] | None = None
        self.days: list[list[int]] = []
        """[day ordinal, items that day], oldest first."""


class MisuseLedger:
    def __init__(self, policy: MisusePolicy) -> None:
        self.policy = policy
        self._counters: dict[tuple[Misuse, str], _Counter] = {}
        self.states: dict[tuple[Misuse, str], MisuseState] = {}

    def _thresholds(self, kind: Misuse) -> tuple[int, float]:
        p = self.policy
        return {Misuse.ILLEGAL_CONTENT: (p.illegal_posts, p.illegal_share),
                Misuse.UNFOUNDED_NOTICES: (p.unfounded_notices, p.unfounded_notice_share),
                Misuse.UNFOUNDED_COMPLAINTS: (p.unfounded_complaints,
                                              p.unfounded_complaint_share)}[kind]

    def item(self, kind: Misuse, account: str, at: datetime) -> None:
        """One more item of the account (a post, a notice, a complaint), whatever it was."""
        c = self._counters.get((kind, account))
        if c is None:
            c = self._counters[kind, account] = _Counter()
        day = at.toordinal()
        if c.days and c.days[-1][0] == day:
            c.days[-1][1] += 1
            return
        c.days.append([day, 1])
        self._trim(c, at)

    def _trim(self, c: _Counter, at: datetime) -> None:
        start = at - timedelta(days=self.policy.window_days)
        while c.bad and c.bad[0] < start:
            c.bad.popleft()
        first = start.toordinal()
        drop = 0
        while drop < len(c.days) and c.days[drop][0] < first:
            drop += 1
        if drop:
            del c.days[:drop]

    def counts(self, kind: Misuse, account: str, at: datetime) -> tuple[int, int]:
        c = self._counters.get((kind, account))
        if c is None:
            return 0, 0
        self._trim(c, at)
        bad = len(c.bad) if c.bad else 0
        return bad, max(sum(n for _, n in c.days), bad)

    def misuse(self, kind: Misuse, account: str, at: datetime, *, total: int | None = None
               ) -> Step | None:
        """A manifestly illegal post or unfounded notice or complaint: the step it calls for.
        `total`: the account's items in the window, when the caller counts them itself."""
        c = self._counters.get((kind, account))
        if c is None:
            c = self._counters[kind, account] = _Counter()
        if c.bad is None:
            c.bad = deque()
        c.bad.append(at)
        n, counted = self.counts(kind, account, at)
        total = max(counted, total or 0, n)
        need, share = self._thresholds(kind)
        if n < need or n / total < share:
            return None
        state = self.states.setdefault((kind, account), MisuseState())
        if state.suspended_until is not None and state.suspended_until > at:
            return None
        if state.warned_at is None:
            state.warned_at = at
            return Step(kind, account, "warning", n, total, at)
        until = at + timedelta(days=self.policy.suspension_days)
        state.suspended_until = until
        state.suspensions += 1
        return Step(kind, account, "suspension", n, total, at, until, state.warned_at)

    def suspended(self, kind: Misuse, account: str | None, at: datetime) -> datetime | None:
        """Until when the account (or its channel) is suspended, if it is now."""
        if account is None:
            return None
        state = self.states.get((kind, account))
        if state is None or state.suspended_until is None or state.suspended_until <= at:
            return None
        return state.suspended_until

    def restore(self, step: Step) -> None:
        """Take a stored warning or suspension back (a new process)."""
        state = self.states.setdefault((step.kind, step.account), MisuseState())
        if step.stage == "warning":
            state.warned_at = step.at
        else:
            state.warned_at = state.warned_at or step.warned_at or step.at
            state.suspended_until = step.until
            state.suspensions += 1
