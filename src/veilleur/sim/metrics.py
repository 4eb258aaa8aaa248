"""Scoring a replay against the oracle: how fast harm went away, and what went wrong.

The timeline (when each labelled item appeared, was first reported, was deleted by its owner)
is recorded by the replay from the event log itself, the same for every system compared.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from veilleur.cases.content import ContentView
from veilleur.cases.models import Action, Intake, IntakeKind, iso
from veilleur.enforce.actions import RESTRICTING, Prevented
from veilleur.events import (
    ChannelCreated,
    Event,
    GuildCreated,
    GuildDeleted,
    InviteCreated,
    MemberJoined,
    MessageDeleted,
    MessagePosted,
    ReportFiled,
    UserSeen,
)
from veilleur.taxonomy import Category, Target, TargetKind

HOUR = 3600.0


@dataclass
class Timeline:
    """What happened to each labelled item, independent of any system's actions."""

    labels: Mapping[Target, Category]
    appeared: dict[Target, datetime] = field(default_factory=dict)
    reported: dict[Target, datetime] = field(default_factory=dict)
    containers: dict[Target, tuple[Target, ...]] = field(default_factory=dict)
    deletions: list[tuple[Target, datetime, str]] = field(default_factory=list)
    """Owner or author deletions (of any target: evidence must survive them)."""

    def observe(self, event: Event) -> None:
        labels = self.labels
        if isinstance(event, MessagePosted):
            m = event.message
            places: list[Target] = [Target(TargetKind.CHANNEL, m.channel_id)]
            if m.guild_id:
                places.append(Target(TargetKind.GUILD, m.guild_id))
            msg = Target(TargetKind.MESSAGE, m.id)
            self._appear(msg, event.ts, tuple(places))
            for a in m.attachments:
                self._appear(Target(TargetKind.ATTACHMENT, a.id), event.ts, (msg, *places))
            self._appear(Target(TargetKind.USER, m.author_id), event.ts, ())
        elif isinstance(event, UserSeen):
            self._appear(Target(TargetKind.USER, event.user.id), event.ts, ())
        elif isinstance(event, MemberJoined):
            self._appear(Target(TargetKind.USER, event.user_id), event.ts, ())
        elif isinstance(event, GuildCreated):
            self._appear(Target(TargetKind.GUILD, event.guild.id), event.ts, ())
            if event.guild.owner_id:
                self._appear(Target(TargetKind.USER, event.guild.owner_id), event.ts, ())
        elif isinstance(event, ChannelCreated):
            ch = event.channel
            self._appear(Target(TargetKind.CHANNEL, ch.id), event.ts,
                         (Target(TargetKind.GUILD, ch.guild_id),) if ch.guild_id else ())
        elif isinstance(event, InviteCreated):
            self._appear(Target(TargetKind.INVITE, event.code), event.ts,
                         (Target(TargetKind.GUILD, event.guild_id),))
        elif isinstance(event, ReportFiled):
            t = event.report.target
            if t in labels:
                self.reported.setdefault(t, event.ts)
        elif isinstance(event, GuildDeleted) and event.by == "owner":
            self.deletions.append((Target(TargetKind.GUILD, event.guild_id), event.ts, "owner"))
        elif isinstance(event, MessageDeleted) and event.by == "author":
            self.deletions.append((Target(TargetKind.MESSAGE, event.message_id), event.ts,
                                   "author"))

    def _appear(self, target: Target, ts: datetime, places: tuple[Target, ...]) -> None:
        if target in self.labels and target not in self.appeared:
            self.appeared[target] = ts
            self.containers[target] = places

    def gone(self, target: Target) -> datetime | None:
        """When the owner or author deleted the item (or the server holding it)."""
        scope = {target, *self.containers.get(target, ())}
        times = [ts for t, ts, _ in self.deletions if t in scope]
        return min(times) if times else None


@dataclass
class SystemRecord:
    """What one system did, as the scoring needs it."""

    name: str
    actions: Sequence[Action]
    prevented: Sequence[Prevented]
    intakes: Mapping[str, Intake]
    content: ContentView
    cases: int


def summary(values: Sequence[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "median": None, "p90": None, "max": None}
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {"n": len(ordered), "median": round(statistics.median(ordered), 1),
            "p90": round(p90, 1), "max": round(ordered[-1], 1)}


def _removals(actions: Iterable[Action]) -> dict[Target, list[Action]]:
    by_target: dict[Target, list[Action]] = {}
    for a in actions:
        if a.action in RESTRICTING and a.active:
            by_target.setdefault(a.target, []).append(a)
    return by_target


def score(system: SystemRecord, timeline: Timeline, end: datetime) -> dict[str, Any]:
    labels = timeline.labels
    removals = _removals(system.actions)
    prevented_subjects: dict[Target, datetime] = {}
    for p in system.prevented:
        prevented_subjects.setdefault(p.subject, p.ts)

    def removed_at(t: Target) -> tuple[datetime, Action] | None:
        scope = [t, *timeline.containers.get(t, ())]
        best: tuple[datetime, Action] | None = None
        for s in scope:
            for a in removals.get(s, ()):
                if s.kind is TargetKind.USER and s != t:
                    continue
                if a.action == "block_join":
                    continue
                if best is None or a.ts < best[0]:
                    best = (a.ts, a)
        return best

    engine_found = {i.target: i.received_at for i in system.intakes.values()
                    if i.kind is IntakeKind.FINDING}
    rows = []
    for t, category in labels.items():
        appeared = timeline.appeared.get(t)
        msg_scope = (t, *[c for c in timeline.containers.get(t, ())
                          if c.kind is TargetKind.MESSAGE])
        stopped = next((prevented_subjects[s] for s in msg_scope if s in prevented_subjects),
                       None)
        rem = removed_at(t)
        gone = timeline.gone(t)
        row: dict[str, Any] = {"target": t.to_json(), "category": category.value,
                               "appeared": iso(appeared),
                               "reported": iso(timeline.reported.get(t))}
        if appeared is None and stopped is None:
            row["outcome"] = "not_in_log"
        elif stopped is not None and (rem is None or stopped <= rem[0]):
            row.update(outcome="prevented", removed=iso(stopped), seconds=0.0)
        elif rem is not None and (gone is None or rem[0] <= gone):
            row.update(outcome="removed", removed=iso(rem[0]), by=rem[1].action,
                       automated=rem[1].automated,
                       seconds=max(0.0, (rem[0] - appeared).total_seconds())
                       if appeared else 0.0)
        elif gone is not None:
            row.update(outcome="gone_before_action", gone=iso(gone))
        else:
            row["outcome"] = "not_removed"
        rows.append(row)

    in_log = [r for r in rows if r["outcome"] != "not_in_log"]
    latencies = [r["seconds"] for r in in_log if "seconds" in r]
    reported = []
    for r in in_log:
        t = Target.of(r["target"]["kind"], r["target"]["id"])
        rep = timeline.reported.get(t)
        if rep is None:
            continue
        if "seconds" in r:
            done = datetime.fromisoformat(r["removed"].replace("Z", "+00:00"))
            reported.append(max(0.0, (done - rep).total_seconds()))
        else:
            reported.append(float("inf") if r["outcome"] == "not_removed" else -1.0)
    report_delays = [d for d in reported if d >= 0]
    csam_found = []
    for r in in_log:
        t = Target.of(r["target"]["kind"], r["target"]["id"])
        if r["category"] == "csam" and t in engine_found and "seconds" in r:
            csam_found.append(r["seconds"])
        elif r["category"] == "csam" and t in engine_found:
            csam_found.append(float("inf"))

    innocent = [a for a in system.actions if a.action in RESTRICTING and a.target not in labels]
    orders = [i for i in system.intakes.values() if i.clock is not None]
    order_status = Counter(i.clock.status(end, 0.0) for i in orders if i.clock is not None)
    reports = [i for i in system.intakes.values() if i.kind is IntakeKind.REPORT]
    preserve: dict[Target, datetime] = {}
    for a in system.actions:
        if a.action == "preserve_evidence":
            preserve.setdefault(a.target, a.ts)
    deletions = []
    for target, ts, by in timeline.deletions:
        guild = system.content.guild_of(target) if target.kind is not TargetKind.GUILD \
            else target.id
        flagged = any(i.received_at <= ts and (i.target == target or (
            guild is not None and system.content.guild_of(i.target) == guild))
            for i in system.intakes.values())
        if flagged:
            kept = preserve.get(target)
            deletions.append({"target": target.to_json(), "deleted_at": iso(ts), "by": by,
                              "preserved_at": iso(kept),
                              "preserved_before": kept is not None and kept <= ts})
    outcomes = Counter(r["outcome"] for r in rows)
    return {
        "harmful_items": len(in_log),
        "outcomes": dict(outcomes),
        "time_to_removal_s": summary(latencies),
        "reported_harmful": len(reported),
        "removed_within_1h_of_report": sum(1 for d in reported if 0 <= d <= HOUR),
        "report_to_removal_s": summary(report_delays),
        "engine_detected_csam": len(csam_found),
        "engine_detected_csam_removed_within_1h": sum(1 for d in csam_found if d <= HOUR),
        "legal_orders": {"total": len(orders), **dict(order_status)},
        "legal_deadlines_met": order_status.get("met", 0),
        "owner_deletions_after_flag": len(deletions),
        "evidence_preserved_before_deletion": sum(1 for d in deletions if d["preserved_before"]),
        "actions_on_innocent_targets": len(innocent),
        "innocent_actions": [a.to_json() for a in innocent[:50]],
        "reports": {"total": len(reports),
                    "pending_at_end": sum(1 for i in reports if i.pending),
                    "by_resolution": dict(Counter(i.resolution.value for i in reports
                                                  if i.resolution is not None))},
        "cases": system.cases,
        "prevented_attempts": len(system.prevented),
        "actions": dict(Counter(a.action for a in system.actions)),
        "items": rows,
    }
