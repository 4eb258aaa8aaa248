"""The risk of a conversation, speaker by speaker, from its stages and who is talking. Pure.

Each speaker's stages (what they said: age probing, secrecy, image requests, meeting
proposals, threats...) count at their strongest, decayed by age, and combine by noisy-OR per
category; a contradiction in the speaker's own age claims is a stage of its own. The result is
multiplied by the relationship factor: an adult (or an account whose claims contradict each
other) speaking to a minor counts fully; two minors, or anyone speaking to an adult, count
little — two 14-year-olds asking each other's age stay quiet.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from veilleur.detect.conversation.ages import AgeEstimate
from veilleur.detect.conversation.config import ConversationPolicy
from veilleur.taxonomy import Category

_REPORTS = 16
"""Reports remembered per speaker and category (the latest, among those made by then)."""
_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class StageEvent:
    stage: str
    at: datetime
    message_id: str
    excerpt: str
    weight: float | None = None
    """For stages found by meaning: what this reading is worth (the stage's weight scales it)."""


@dataclass
class Conversation:
    """What is remembered of one direct conversation (a DM or a small group DM)."""

    participants: set[str] = field(default_factory=set)
    stages: dict[str, dict[str, list[StageEvent]]] = field(default_factory=dict)
    """speaker → stage → the latest events of that stage."""
    reads: dict[str, int] = field(default_factory=dict)
    """Speaker → messages read by meaning (bounded by the policy)."""
    asked_age: str | None = None
    """Who asked "how old are you" last (the next number the other says is an answer)."""
    flagged: dict[tuple[str, str], list[tuple[datetime, float, str]]] = field(
        default_factory=dict)
    """(speaker, category) → the latest reports: when, the risk reported, the message that
    reported it (reported again when it grows, or when that message is read again)."""
    unread: dict[str, list[tuple[datetime, str, str]]] = field(default_factory=dict)
    """Speaker → (time, message id, text) of their latest messages worth reading by meaning,
    said before the conversation was known to be at stake (before the child said their age):
    read when it is, so what came first is not lost."""
    asked_at: datetime | None = None
    """When `asked_age` asked: only a later message answers (messages read again, from an
    earlier scan of the same conversation, are not answers to a question asked after them)."""

    def report(self, speaker: str, category: str, at: datetime, risk: float,
               message_id: str) -> None:
        """Remember a report, bounded among those made by then (as `add` bounds events)."""
        reports = self.flagged.setdefault((speaker, category), [])
        past = sorted([*(r for r in reports if r[0] <= at), (at, risk, message_id)])
        reports[:] = past[-_REPORTS:] + [r for r in reports if r[0] > at]

    def add(self, speaker: str, event: StageEvent, keep: int) -> None:
        events = self.stages.setdefault(speaker, {}).setdefault(event.stage, [])
        # A message read again (the same export scanned into a database that kept the
        # conversation) is already counted: counting it twice would inflate the risk.
        if any(e.message_id == event.message_id for e in events):
            return
        # Bounded among what was said by then: events later than this one come from an
        # earlier scan of the same messages; evicting older ones for them would make the
        # risk at this message depend on what the store already held.
        # In time, then by message: readings made together share a time, and which of them
        # stay must not depend on the order they were made in.
        past = sorted([*(e for e in events if e.at <= event.at), event],
                      key=lambda e: (e.at, e.message_id))
        events[:] = past[-keep:] + [e for e in events if e.at > event.at]


@dataclass(frozen=True, slots=True)
class Risk:
    category: Category
    score: float
    """After the relationship factor."""
    raw: float
    factor: float
    relationship: str
    stages: tuple[str, ...]
    events: tuple[StageEvent, ...]


def relationship(speaker: AgeEstimate, others: list[AgeEstimate]) -> str:
    """The riskiest relationship of the speaker with someone in the conversation."""
    order = ("adult_to_minor", "unknown_to_minor", "adult_to_unknown", "unknown_to_unknown",
             "minor_to_minor", "to_adult")
    s = False if speaker.contradiction else speaker.minor
    found = []
    for o in others:
        if o.minor is False:
            found.append("to_adult")
        elif s is True:
            found.append("minor_to_minor")
        elif o.minor is True:
            found.append("adult_to_minor" if s is False else "unknown_to_minor")
        else:
            found.append("adult_to_unknown" if s is False else "unknown_to_unknown")
    return min(found, key=order.index) if found else "unknown_to_unknown"


def _decay(now: datetime, at: datetime, policy: ConversationPolicy) -> float:
    age_days = max(0.0, (now - at).total_seconds() / 86400)
    return math.pow(0.5, age_days / policy.half_life_days)


def score(conv: Conversation, speaker: str, ages: Mapping[str, AgeEstimate],
          policy: ConversationPolicy, now: datetime) -> list[Risk]:
    """The speaker's risk per category, worst first."""
    own = ages[speaker]
    others = [ages[p] for p in conv.participants if p != speaker]
    rel = relationship(own, others)
    factor = policy.relationship[rel]
    stages = {s.name: s for s in policy.stages}
    per_category: dict[Category, list[tuple[float, str, list[StageEvent]]]] = {}
    for name, kept in conv.stages.get(speaker, {}).items():
        stage = stages.get(name)
        # Only what was said up to now: a conversation remembered from an earlier scan of
        # the same messages must not lend their future to the messages read again.
        # The latest of them, bounded here as `add` bounds them: a list kept from an earlier
        # scan holds older events again (re-added as they are read again), never fewer.
        events = [e for e in kept if e.at <= now][-policy.per_stage_events:]
        if stage is None or not events:
            continue
        if stage.meaning:  # each reading adds up, each decayed by its own age
            weight = 1.0 - math.prod(
                1.0 - stage.weight * (e.weight or 0.0) * _decay(now, e.at, policy)
                for e in events)
        else:
            weight = stage.weight * _decay(now, events[-1].at, policy)
        per_category.setdefault(stage.category, []).append((weight, name, events))
    if own.contradiction:
        deception: tuple[float, str, list[StageEvent]] = (policy.deception_weight,
                                                          "age_deception", [])
        for cat in per_category or {Category.GROOMING: []}:
            per_category.setdefault(cat, []).append(deception)
    strong = policy.meaning.strong_weight if policy.meaning is not None else 0.0
    out = []
    for category, parts in per_category.items():
        if all(name == "age_deception" for _, name, _ in parts):
            continue  # a contradiction alone is evidence, not yet a conversation at risk
        if all(name in stages and stages[name].meaning for _, name, _ in parts) and not any(
                (e.weight or 0.0) >= strong for _, _, evs in parts for e in evs):
            continue  # weak readings by meaning alone: a hint, never an accusation
        raw = 1.0 - math.prod(1.0 - w for w, _, _ in parts)
        timeline = tuple(sorted((e for _, _, evs in parts for e in evs),
                                key=lambda e: (e.at, e.message_id)))
        names = tuple(sorted({n for _, n, _ in parts}))
        out.append(Risk(category, raw * factor, raw, factor, rel, names, timeline))
    out.sort(key=lambda r: -r.score)
    return out


def conversation_out(c: Conversation) -> dict[str, Any]:
    return {"participants": sorted(c.participants), "asked_age": c.asked_age,
            "asked_at": c.asked_at.isoformat() if c.asked_at is not None else None,
            "reads": c.reads,
            "stages": {sp: {st: [[e.at.isoformat(), e.message_id, e.excerpt]
                                 + ([e.weight] if e.weight is not None else []) for e in evs]
                            for st, evs in stages.items()}
                       for sp, stages in c.stages.items()},
            "flagged": [[sp, cat, [[t.isoformat(), v, mid] for t, v, mid in reports]]
                        for (sp, cat), reports in c.flagged.items()],
            "unread": {sp: [[at.isoformat(), mid, text] for at, mid, text in items]
                       for sp, items in c.unread.items()}}


def conversation_in(d: dict[str, Any]) -> Conversation:
    return Conversation(
        set(d["participants"]),
        {sp: {st: [StageEvent(st, datetime.fromisoformat(e[0]), e[1], e[2],
                              float(e[3]) if len(e) > 3 else None) for e in evs]
              for st, evs in stages.items()} for sp, stages in d["stages"].items()},
        {str(k): int(v) for k, v in d.get("reads", {}).items()},
        d.get("asked_age"), {(f[0], f[1]): _reports_in(f) for f in d.get("flagged", [])},
        {str(sp): [(datetime.fromisoformat(i[0]), str(i[1]), str(i[2])) for i in items]
         for sp, items in d.get("unread", {}).items()},
        datetime.fromisoformat(d["asked_at"]) if d.get("asked_at") else None)


def _reports_in(f: list[Any]) -> list[tuple[datetime, float, str]]:
    if isinstance(f[2], list):
        return [(datetime.fromisoformat(r[0]), float(r[1]), str(r[2])) for r in f[2]]
    # Kept before reports had a time: one report, before anything read from now on.
    return [(_LONG_AGO, float(f[2]), str(f[3]) if len(f) > 3 else "")]
