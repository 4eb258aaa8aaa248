"""`policies/conversation.toml`: stages, weights, relationship factors, age-claim grammar.
Validated at load; every error names the file and the entry."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from veilleur.detect.base import POLICY_DIR, PolicyDataError, load_policy_toml, matches_empty
from veilleur.taxonomy import Category

RELATIONSHIPS = ("adult_to_minor", "unknown_to_minor", "adult_to_unknown",
                 "unknown_to_unknown", "minor_to_minor", "to_adult")


class ConversationPolicyError(PolicyDataError):
    pass


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    category: Category
    weight: float
    sets: frozenset[str]
    urgent: bool = False
    meaning: bool = False
    """Found by meaning (`meaning.py`), not by term sets: its events carry their own weight
    and add up (noisy-OR over the kept events), as several messages that read like grooming
    say more than one."""


@dataclass(frozen=True, slots=True)
class ClaimRule:
    lang: str
    regex: re.Pattern[str]
    offset: int = 0
    grades: Mapping[str, int] | None = None


@dataclass(frozen=True, slots=True)
class ConversationPolicy:
    version: str
    half_life_days: float
    account_threshold: float
    max_group: int
    per_stage_events: int
    relationship: Mapping[str, float]
    adult: int
    platform_confidence: float
    claim_confidence: float
    grade_confidence: float
    deception_weight: float
    stages: tuple[Stage, ...]
    suppress: frozenset[str]
    claims: tuple[ClaimRule, ...]
    meaning: MeaningSettings | None = None
    probes: tuple[re.Pattern[str], ...] = ()
    """Questions about the other's age or school year, beyond the packs' `age_probe` terms
    ("so you're 13 or 14?"): the reply that follows is read with `answers`."""
    answers: tuple[ClaimRule, ...] = ()
    """Ages said as a reply to such a question ("12 but i'll be 13 in may", "7th lol"): only
    read then, in a reply of at most `answer_words` words."""
    answer_words: int = 12
    answer_minutes: int = 60
    """A reply later than this after the question is not its answer."""


@dataclass(frozen=True, slots=True)
class MeaningSettings:
    """Which conversations are read by meaning, and what a reading is worth."""

    k: int
    support: float
    strong: float
    support_weight: float
    strong_weight: float
    max_reads: int
    """Per conversation and speaker: a bound on the cost of one long conversation."""
    prefilter: float = 0.0
    """A message is embedded only if the learned tier gives it at least this probability of
    a category read by meaning (when the learned tier is on): it costs microseconds and
    passes most of what reads like grooming, few ordinary messages."""
    learned_support: float = 1.1
    learned_strong: float = 1.1
    """The learned tier's probability of a stage's category from which a message read in a
    conversation at stake is a weak or a strong reading, as its meaning's vote is (above 1:
    the learned tier does not read)."""
    unread: int = 0
    """Per conversation and speaker: how many of their latest messages said before the
    conversation was at stake are kept, to be read when it is (0: none)."""
    head_support: float = 1.1
    head_strong: float = 1.1
    """The meaning head's probability of a stage's category (the learned tier's second
    reader, `detect/text/meaning_head.py`, on the same vector) from which a message read is
    a weak or a strong reading (above 1: the head does not read; `head_support` not given:
    the same as `head_strong`, strong readings only)."""


_TOP = frozenset({"version", "risk", "relationship", "ages", "stages", "meaning", "suppress",
                  "claims", "probes", "answers", "answer_words", "answer_minutes"})
_CLAIM_KEYS = frozenset({"regex", "lang", "offset", "grades"})
_RISK_KEYS = frozenset({"half_life_days", "account_threshold", "max_group", "per_stage_events"})
_AGES_KEYS = frozenset({"adult", "platform_confidence", "claim_confidence", "grade_confidence",
                        "deception_weight"})
_STAGE_KEYS = frozenset({"category", "weight", "sets", "urgent", "meaning"})
_MEANING_KEYS = frozenset({"k", "support", "strong", "support_weight", "strong_weight",
                           "max_reads", "prefilter", "learned_support", "learned_strong",
                           "unread", "head_support", "head_strong"})


def load_conversation_policy(policy_dir: Path = POLICY_DIR) -> ConversationPolicy:
    path = policy_dir / "conversation.toml"
    return parse_conversation_policy(load_policy_toml(path, ConversationPolicyError), str(path))


def parse_conversation_policy(data: Mapping[str, Any], where: str = "conversation"
                              ) -> ConversationPolicy:
    def fail(entry: str, msg: str) -> ConversationPolicyError:
        return ConversationPolicyError(f"{where}: {entry}: {msg}")

    def table(name: str) -> Mapping[str, Any]:
        t = data.get(name)
        if not isinstance(t, dict):
            raise fail(f"[{name}]", "missing or not a table")
        return t

    def num(t: Mapping[str, Any], key: str, entry: str, lo: float, hi: float) -> float:
        v = t.get(key)
        if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
            raise fail(f"{entry}.{key}", f"must be a number in [{lo}, {hi}]")
        return float(v)

    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise fail("version", "missing")

    def only(t: Mapping[str, Any], entry: str, keys: frozenset[str]) -> None:
        if unknown := set(t) - keys:
            raise fail(entry, f"unknown key(s) {sorted(unknown)} (a typo switches a part off)")

    def whole(t: Mapping[str, Any], key: str, entry: str | None, lo: int, hi: int,
              default: int | None = None) -> int:
        v = t.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise fail(f"{entry}.{key}" if entry else key,
                       f"must be a whole number in [{lo}, {hi}]")
        return v

    def flag(t: Mapping[str, Any], key: str, entry: str) -> bool:
        v = t.get(key, False)
        if not isinstance(v, bool):  # "false" as a string is truthy
            raise fail(f"{entry}.{key}", "must be true or false")
        return v

    def names(t: Mapping[str, Any], key: str, entry: str) -> list[str]:
        v = t.get(key, [])
        if not isinstance(v, list) or not all(isinstance(s, str) and s for s in v):
            raise fail(f"{entry}.{key}", "must list term sets of the language packs")
        return v

    only(data, "top level", _TOP)
    risk, rel, ages = table("risk"), table("relationship"), table("ages")
    only(risk, "risk", _RISK_KEYS)
    only(rel, "relationship", frozenset(RELATIONSHIPS))
    only(ages, "ages", _AGES_KEYS)
    relationship = {k: num(rel, k, "relationship", 0, 1) for k in RELATIONSHIPS}
    stages = []
    for name, raw in table("stages").items():
        if not isinstance(raw, dict):
            raise fail(f"stages.{name}", "must be a table")
        only(raw, f"stages.{name}", _STAGE_KEYS)
        try:
            category = Category(str(raw.get("category")))
        except ValueError:
            raise fail(f"stages.{name}.category", "unknown category") from None
        by_meaning = flag(raw, "meaning", f"stages.{name}")
        if by_meaning and raw.get("sets"):
            raise fail(f"stages.{name}.sets", "a stage found by meaning has no term sets")
        sets = names(raw, "sets", f"stages.{name}")
        if not sets and not by_meaning:
            raise fail(f"stages.{name}.sets", "must list term sets of the language packs")
        stages.append(Stage(name, category, num(raw, "weight", f"stages.{name}", 0, 1),
                            frozenset(sets), flag(raw, "urgent", f"stages.{name}"),
                            by_meaning))
    def regex_of(raw: Any, entry: str, keys: frozenset[str]) -> re.Pattern[str]:
        if not isinstance(raw, dict):
            raise fail(entry, "must be a table with a 'regex'")
        only(raw, entry, keys)
        try:
            regex = re.compile(raw["regex"])
        except (KeyError, TypeError, re.error) as exc:
            raise fail(entry, f"bad regex: {exc}") from None
        if matches_empty(regex):
            raise fail(entry, "the regex matches an empty text (it would match every message)")
        return regex

    def claim_rules(key: str) -> tuple[ClaimRule, ...]:
        rules = []
        for i, raw in enumerate(data.get(key, [])):
            entry = f"{key} #{i + 1}"
            regex = regex_of(raw, entry, _CLAIM_KEYS)
            if not set(regex.groupindex) & {"age", "grade"}:
                raise fail(entry, "the regex needs a group named 'age' or 'grade'")
            grades = raw.get("grades")
            if grades is not None and (not isinstance(grades, dict) or not all(
                    isinstance(v, int) and not isinstance(v, bool) for v in grades.values())):
                raise fail(f"{entry}.grades", "must map words to ages")
            offset = raw.get("offset", 0)
            if isinstance(offset, bool) or not isinstance(offset, int):
                raise fail(f"{entry}.offset", "must be a whole number")
            rules.append(ClaimRule(str(raw.get("lang", "")), regex, offset, grades))
        return tuple(rules)

    claims = claim_rules("claims")
    answers = claim_rules("answers")
    probes = tuple(regex_of(raw, f"probes #{i + 1}", frozenset({"regex", "lang"}))
                   for i, raw in enumerate(data.get("probes", [])))
    answer_words = whole(data, "answer_words", None, 1, 100, default=12)
    answer_minutes = whole(data, "answer_minutes", None, 1, 10_080, default=60)
    suppress_table = table("suppress")
    only(suppress_table, "suppress", frozenset({"sets"}))
    suppress = names(suppress_table, "sets", "suppress")
    meaning = None
    if "meaning" in data:
        mt = table("meaning")
        only(mt, "meaning", _MEANING_KEYS)
        head_strong = num(mt, "head_strong", "meaning", 0, 1.1) if "head_strong" in mt else 1.1
        meaning = MeaningSettings(
            k=whole(mt, "k", "meaning", 1, 50),
            support=num(mt, "support", "meaning", 0, 1),
            strong=num(mt, "strong", "meaning", 0, 1),
            support_weight=num(mt, "support_weight", "meaning", 0, 1),
            strong_weight=num(mt, "strong_weight", "meaning", 0, 1),
            max_reads=whole(mt, "max_reads", "meaning", 1, 100_000),
            prefilter=num(mt, "prefilter", "meaning", 0, 1) if "prefilter" in mt else 0.0,
            learned_support=num(mt, "learned_support", "meaning", 0, 1.1)
            if "learned_support" in mt else 1.1,
            learned_strong=num(mt, "learned_strong", "meaning", 0, 1.1)
            if "learned_strong" in mt else 1.1,
            unread=whole(mt, "unread", "meaning", 0, 50, default=0),
            head_strong=head_strong,
            # A strong bar alone: the head makes strong readings only (no weak ones).
            head_support=num(mt, "head_support", "meaning", 0, 1.1)
            if "head_support" in mt else head_strong)
        if meaning.learned_strong < meaning.learned_support:
            raise fail("meaning.learned_strong", "must be at least meaning.learned_support")
        if meaning.head_strong < meaning.head_support:
            raise fail("meaning.head_strong", "must be at least meaning.head_support")
        if meaning.strong < meaning.support:
            raise fail("meaning.strong", "must be at least meaning.support")
        if not any(st.meaning for st in stages):
            raise fail("meaning", "no stage is found by meaning (meaning = true)")
    elif any(st.meaning for st in stages):
        raise fail("stages", "a stage found by meaning needs the [meaning] table")
    return ConversationPolicy(
        version=version,
        half_life_days=num(risk, "half_life_days", "risk", 0.1, 3650),
        account_threshold=num(risk, "account_threshold", "risk", 0.01, 1),
        max_group=whole(risk, "max_group", "risk", 2, 100),
        per_stage_events=whole(risk, "per_stage_events", "risk", 1, 100),
        relationship=relationship, adult=whole(ages, "adult", "ages", 10, 30),
        platform_confidence=num(ages, "platform_confidence", "ages", 0, 1),
        claim_confidence=num(ages, "claim_confidence", "ages", 0, 1),
        grade_confidence=num(ages, "grade_confidence", "ages", 0, 1),
        deception_weight=num(ages, "deception_weight", "ages", 0, 1),
        stages=tuple(stages), suppress=frozenset(suppress), claims=claims,
        meaning=meaning, probes=probes, answers=answers, answer_words=answer_words,
        answer_minutes=answer_minutes)
