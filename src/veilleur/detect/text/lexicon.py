"""Lexicons as data: term sets and co-occurrence rules, loaded from versioned TOML files.

A rule fires when every set it names (`all_of`) has a term in the text and no set of its
`none_of` has one: a bare "ado" or "nudes" is not a signal, "nudes" with "ados" is. Matching
is one Aho-Corasick pass over folded text, whatever the number of terms.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ahocorasick_rs

from veilleur.detect.text.normalize import fold
from veilleur.taxonomy import Category, TargetKind

_RANGE = re.compile(r"\{(\d+)\.\.(\d+)\}")
_RULE_TARGETS = {TargetKind.MESSAGE, TargetKind.CHANNEL, TargetKind.GUILD, TargetKind.USER}


class LexiconError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    category: Category
    all_of: tuple[str, ...]
    none_of: tuple[str, ...]
    weight: float
    targets: frozenset[TargetKind]
    describe: str


@dataclass(frozen=True, slots=True)
class RuleHit:
    rule: Rule
    terms: tuple[str, ...]
    """The first term found for each set of the rule, in the rule's order."""


class Lexicon:
    def __init__(self, version: str, sets: Mapping[str, tuple[str, ...]], rules: list[Rule]):
        self.version = version
        self.sets = dict(sets)
        self.rules = rules
        patterns: dict[str, set[str]] = {}
        for set_name, terms in self.sets.items():
            for term in terms:
                folded = fold(term)
                if folded.strip():
                    patterns.setdefault(folded, set()).add(set_name)
        self._patterns = list(patterns)
        self._pattern_sets = [sorted(patterns[p]) for p in self._patterns]
        self._matcher = ahocorasick_rs.AhoCorasick(self._patterns) if self._patterns else None

    def sets_in(self, text: str) -> dict[str, str]:
        """Each set with a term in `text`, mapped to the first such term (folded)."""
        if self._matcher is None:
            return {}
        found: dict[str, str] = {}
        folded = fold(text)
        for index, _start, _end in self._matcher.find_matches_as_indexes(folded, overlapping=True):
            for set_name in self._pattern_sets[index]:
                found.setdefault(set_name, self._patterns[index].strip())
        return found

    def match(self, text: str, target: TargetKind) -> list[RuleHit]:
        found = self.sets_in(text)
        if not found:
            return []
        hits = []
        for rule in self.rules:
            if target not in rule.targets:
                continue
            if all(s in found for s in rule.all_of) and not any(s in found for s in rule.none_of):
                hits.append(RuleHit(rule, tuple(found[s] for s in rule.all_of)))
        return hits


def expand(term: str) -> list[str]:
    """`"{12..15} ans"` → ["12 ans", ..., "15 ans"]; one range per term."""
    m = _RANGE.search(term)
    if not m:
        return [term]
    lo, hi = int(m.group(1)), int(m.group(2))
    if hi < lo or hi - lo > 100:
        raise LexiconError(f"bad range in term {term!r}")
    return [term[: m.start()] + str(n) + term[m.end():] for n in range(lo, hi + 1)]


def load_lexicon(path: Path) -> Lexicon:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise LexiconError(f"{path}: cannot load lexicon: {exc}") from None
    try:
        return parse_lexicon(data)
    except LexiconError as exc:
        raise LexiconError(f"{path}: {exc}") from None


def parse_lexicon(data: Mapping[str, Any]) -> Lexicon:
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise LexiconError("missing 'version'")
    raw_sets = data.get("sets", {})
    if not isinstance(raw_sets, dict):
        raise LexiconError("'sets' must be a table")
    sets: dict[str, tuple[str, ...]] = {}
    for name, body in raw_sets.items():
        terms = body.get("terms") if isinstance(body, dict) else None
        if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
            raise LexiconError(f"set {name!r} needs 'terms', a list of strings")
        sets[name] = tuple(x for t in terms for x in expand(t))
    rules = [_rule(r, sets) for r in data.get("rules", [])]
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        raise LexiconError("rule ids must be unique")
    return Lexicon(version, sets, rules)


def _rule(raw: Any, sets: Mapping[str, tuple[str, ...]]) -> Rule:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise LexiconError("each rule needs an 'id'")
    rid = raw["id"]
    try:
        category = Category(str(raw.get("category")))
    except ValueError:
        raise LexiconError(f"rule {rid}: unknown category {raw.get('category')!r}") from None
    all_of = tuple(raw.get("all_of", ()))
    none_of = tuple(raw.get("none_of", ()))
    if not all_of:
        raise LexiconError(f"rule {rid}: 'all_of' names no set")
    for s in all_of + none_of:
        if s not in sets:
            raise LexiconError(f"rule {rid}: unknown set {s!r}")
    weight = raw.get("weight")
    if not isinstance(weight, int | float) or not 0 < weight <= 1:
        raise LexiconError(f"rule {rid}: 'weight' must be in (0, 1]")
    try:
        targets = frozenset(TargetKind(t) for t in raw.get("targets", ["message"]))
    except ValueError as exc:
        raise LexiconError(f"rule {rid}: {exc}") from None
    if not targets <= _RULE_TARGETS:
        raise LexiconError(f"rule {rid}: text rules apply to message, channel, guild or user")
    return Rule(
        id=rid,
        category=category,
        all_of=all_of,
        none_of=none_of,
        weight=float(weight),
        targets=targets,
        describe=str(raw.get("describe", rid)),
    )
