"""How old an account is, from what the platform knows and what people say. Pure.

Claims come from the account's own words ("j'ai 13 ans", "I'm 15", "tengo 12", "en 4ème",
"in 8th grade", "2º de la ESO") and from the reply to an age or school-year question ("13",
"12 but i'll be 13 in may", "7th lol"; `answers` in the policy). The estimate
keeps its evidence. A minor's age claimed and, later, an adult's (or the reverse) is a
contradiction: the account is then treated as the adult it admitted to be, and the deception
is itself a signal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from veilleur.detect.conversation.config import ClaimRule, ConversationPolicy
from veilleur.events import AgeBand

BAND_AGE = {AgeBand.UNDER_13: 12, AgeBand.AGE_13_15: 14, AgeBand.AGE_16_17: 16,
            AgeBand.ADULT: 30}


@dataclass(frozen=True, slots=True)
class AgeClaim:
    age: int
    kind: str
    """'said' (a stated age), 'grade' (a school grade), 'answer' (a number answered to an
    age question), 'platform' (the platform's age band)."""
    at: datetime
    message_id: str | None
    text: str


def claims_in(text: str, policy: ConversationPolicy, at: datetime,
              message_id: str | None) -> list[AgeClaim]:
    """The ages a message states about its author (folded text)."""
    return _claims(policy.claims, "said", _readable(text), at, message_id)


def answered(text: str, policy: ConversationPolicy, at: datetime,
             message_id: str | None) -> list[AgeClaim]:
    """The age a reply to an age or school-year question gives (folded text): "13", "12 but
    i'll be 13 in may", "14, en 3e. et toi ?". Only a short reply is one."""
    if len(text.split()) > policy.answer_words:
        return []
    return _claims(policy.answers, "answer", _readable(text), at, message_id)


def asks_age(text: str, policy: ConversationPolicy) -> bool:
    """A question about the other's age or school year, beyond the packs' terms (folded)."""
    text = _readable(text)
    return any(p.search(text) for p in policy.probes)


_AGE_CHARS = 2_000
"""Characters of a message read for ages: an age is said early, not after pages."""


def _readable(text: str) -> str:
    """Spaces collapsed and the length bounded before any age pattern reads a text: a run of
    thousands of spaces makes patterns with optional spaces backtrack for minutes."""
    squeezed = " ".join(text.split())
    if len(squeezed) <= _AGE_CHARS:
        return squeezed
    return squeezed[:_AGE_CHARS].rsplit(" ", 1)[0]  # never a number cut in two


def _claims(rules: Iterable[ClaimRule], said: str, text: str, at: datetime,
            message_id: str | None) -> list[AgeClaim]:
    out = []
    for rule in rules:
        for m in rule.regex.finditer(text):
            groups = m.groupdict()
            if groups.get("age"):
                if not groups["age"].isdecimal():
                    continue  # a policy pattern wider than its numbers: not an age
                age = int(groups["age"]) + rule.offset
                kind = said
            else:
                grade = groups.get("grade") or ""
                if rule.grades is not None:
                    if grade not in rule.grades:
                        continue
                    age = rule.grades[grade]
                elif grade.isdecimal():
                    age = int(grade) + rule.offset
                else:
                    continue
                kind = "grade"
            if 6 <= age <= 99:
                out.append(AgeClaim(age, kind, at, message_id, m.group().strip()))
    return out


@dataclass
class AgeRecord:
    """What is known of one account's age."""

    band: AgeBand | None = None
    claims: list[AgeClaim] = field(default_factory=list)

    def add(self, claim: AgeClaim, keep: int = 12) -> None:
        if all(c.message_id != claim.message_id or c.age != claim.age for c in self.claims):
            self.claims.append(claim)
            del self.claims[:-keep]


@dataclass(frozen=True, slots=True)
class AgeEstimate:
    age: int | None
    minor: bool | None
    """True, False, or None (nothing known)."""
    confidence: float
    evidence: tuple[str, ...]
    contradiction: str | None = None
    """'claimed 16 (…), later 31 (…)'."""


def estimate(record: AgeRecord | None, policy: ConversationPolicy,
             now: datetime | None = None) -> AgeEstimate:
    """`now`: only the claims made up to then count (a record kept from an earlier scan of
    the same messages holds claims made after the message being read again)."""
    said = [c for c in record.claims if now is None or c.at <= now] if record else []
    if record is None or (record.band is None and not said):
        return AgeEstimate(None, None, 0.0, ())
    adult = policy.adult
    minors = [c for c in said if c.age < adult]
    adults = [c for c in said if c.age >= adult]
    contradiction = None
    if minors and adults:
        first, later = (minors[0], adults[-1]) if minors[0].at <= adults[-1].at else \
            (adults[0], minors[-1])
        contradiction = (f"claimed {first.age} («{first.text}»), later {later.age} "
                         f"(«{later.text}»)")
    evidence = tuple(f"{c.kind} {c.age}: «{c.text}»" for c in said[-4:])
    if record.band is not None:
        age = BAND_AGE[record.band]
        band_minor = record.band is not AgeBand.ADULT
        # The platform's band is the strongest evidence, but an admitted adult age wins: a
        # man who set up the account as a teenager is still an adult.
        if band_minor and adults:
            return AgeEstimate(adults[-1].age, False, policy.claim_confidence,
                               (f"platform band {record.band.value}", *evidence),
                               contradiction or f"platform band {record.band.value}, "
                               f"said {adults[-1].age}")
        return AgeEstimate(age, band_minor, policy.platform_confidence,
                           (f"platform band {record.band.value}", *evidence), contradiction)
    if adults:
        age = adults[-1].age
        return AgeEstimate(age, False, policy.claim_confidence, evidence, contradiction)
    ages = sorted(c.age for c in minors)
    kinds = {c.kind for c in minors}
    confidence = policy.grade_confidence if kinds == {"grade"} else policy.claim_confidence
    confidence = min(0.9, confidence + 0.1 * (len(minors) - 1))
    return AgeEstimate(ages[len(ages) // 2], True, confidence, evidence)


def record_out(r: AgeRecord) -> dict[str, Any]:
    return {"band": r.band.value if r.band else None,
            "claims": [[c.age, c.kind, c.at.isoformat(), c.message_id, c.text]
                       for c in r.claims]}


def record_in(d: dict[str, Any]) -> AgeRecord:
    return AgeRecord(AgeBand(d["band"]) if d.get("band") else None,
                     [AgeClaim(a, k, datetime.fromisoformat(at), mid, text)
                      for a, k, at, mid, text in d["claims"]])


def merge_records(a: AgeRecord, b: AgeRecord) -> AgeRecord:
    """One account's age as two processes learnt it (a stream's workers, each with the
    conversations it reads): the platform's band if either knows it, every claim once."""
    bands = sorted({x.band for x in (a, b) if x.band is not None}, key=lambda band: band.value)
    def order(c: AgeClaim) -> tuple[datetime, str, int, str, str]:
        return (c.at, c.message_id or "", c.age, c.kind, c.text)

    claims: dict[tuple[str | None, int], AgeClaim] = {}
    for c in sorted((*a.claims, *b.claims), key=order):
        claims[c.message_id, c.age] = c  # one claim once: its latest reading
    newest = sorted(claims.values(), key=order)[-12:]
    # The same whichever side came first: the newest twelve, and one band when they differ.
    return AgeRecord(bands[0] if bands else None, newest)
