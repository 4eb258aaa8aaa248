"""Policy packs: versioned per-language term sets and patterns, and language-independent rules.

Layout of `policies/packs/`:
- `<lang>.toml` (fr, en, es, ...): `language`, `version`, `[terms]` set → list of terms
  (a term may write a range, `{12..15}`, and alternatives, `{a|b}`: see `expand`),
  `[ages]` how ages are written (units, prefixes, what makes a number a duration), and
  `[patterns]` set → list of regular expressions over the plain view for other numbers
  (prices, amounts): they are only tried near the digits of a text; a set written as a table
  `[patterns.<set>]` with `when = "<term set>"` (or a list of them) and `regex = [...]` is
  tried only on texts where that term set (one of them) matched (the cost stays off
  ordinary text); `max_number = N` tries them only near numbers up to N.
- `rules.toml`: `version`, `[[rules]]` with `id`, `category`, `weight`, `targets`, and
  conditions on the features of the text (`all_of`, `any_of`, `none_of`, and `also_any_of`:
  more groups, one list or a list of lists, of each of which one must be present too) and of
  its context
  (`context_all_of`, `context_any_of`, `context_none_of`): the channel and server names and
  descriptions, the server's other channel names, and flags (`suspect.<category>`: the channel
  or server itself matched a rule of that category; `profile.<category>`: the server already
  has findings of it; `ordinary.<set>`: the server's messages mostly say that set's words in
  ordinary talk, so they are no code word there).

A rule with a negative weight (-1 ≤ weight < 0) is a *framing*: it makes no signal, it
lowers the rules of its categories (`category` may then be a list) that fire on the same text:
their weights are multiplied by 1 + weight (-1 is a veto). Prevention, moderation, journalism
and victims' own complaints quote the abuse vocabulary; framings make that lower a score.

Sets of the same name in several languages are merged: a message mixing languages is read
with all of them. Everything is validated when loaded; an error names the file and the entry.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from veilleur.detect.base import PolicyDataError, load_policy_toml
from veilleur.detect.text.fold import final_z, term_form
from veilleur.taxonomy import Category, TargetKind

_RANGE = re.compile(r"\{(\d+)\.\.(\d+)\}")
_ALTERNATIVES = re.compile(r"([^{]*)\{([^{}]*)\}")
_MAX_FORMS = 2000
_RULE_TARGETS = {TargetKind.MESSAGE, TargetKind.CHANNEL, TargetKind.GUILD}
_CONDITIONS = ("all_of", "any_of", "none_of", "context_all_of", "context_any_of",
               "context_none_of")
LINK_FEATURES = ("link_filehost", "link_invite", "link_telegram", "link_shortener",
                 "link_obfuscated", "link_any")
FLAG_PREFIXES = ("suspect.", "profile.")
QUOTED = "quoted"
"""Not a set: a framing naming it (`any_of = ["quoted"]`) lowers the hits that only a text's
quotes carry, not the writer's own words (`analyzer.TextAnalyzer.rules`)."""


class PackError(PolicyDataError):
    pass


@dataclass(frozen=True, slots=True)
class Term:
    text: str
    set_name: str
    language: str
    glued: str
    shape: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Pattern:
    set_name: str
    language: str
    regex: re.Pattern[str]
    when: tuple[str, ...] | None = None
    """Term sets one of which must have matched for the pattern to be tried at all (cheap:
    most texts with digits never pay for it)."""
    max_number: int | None = None
    """Tried only near numbers up to this one (school years are small numbers: times,
    prices and years never pay for them)."""


@dataclass(frozen=True, slots=True)
class Ages:
    """How ages are written: "13 ans", "j'ai 13", "13-16 ans"; and what makes a number a
    duration instead ("il y a 10 ans"). Merged across languages."""

    units: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    not_after: tuple[str, ...] = ()
    not_before: tuple[str, ...] = ()
    max_minor: int = 17


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    category: Category
    weight: float
    targets: frozenset[TargetKind]
    all_of: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    none_of: tuple[str, ...] = ()
    context_all_of: tuple[str, ...] = ()
    context_any_of: tuple[str, ...] = ()
    context_none_of: tuple[str, ...] = ()
    also_any_of: tuple[tuple[str, ...], ...] = ()
    """More alternatives, one of each group too (a person named, an offer and a picture, each
    said in many words)."""
    describe: str = ""
    lowers: frozenset[Category] = frozenset()
    """A framing (negative weight): the categories whose rules it lowers."""
    between: bool = False
    """A framing of two `all_of` sets, said in that order in one sentence (a subject, then
    the verdict on it): it lowers only the hits whose words lie between them ("ceux qui
    *partagent les photos volées* sont des malades"), not what the text says after it."""
    _sets: tuple[frozenset[str], ...] = field(default=(), repr=False, compare=False)
    _also: tuple[frozenset[str], ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        # Set operations run in C: rules are evaluated for most messages.
        object.__setattr__(self, "_sets", tuple(frozenset(getattr(self, k))
                                                for k in _CONDITIONS))
        object.__setattr__(self, "_also", tuple(frozenset(g) for g in self.also_any_of))

    def fires(self, features: Collection[str], context: Collection[str]) -> bool:
        all_of, any_of, none_of, c_all, c_any, c_none = self._sets
        f = features if isinstance(features, set | frozenset) else set(features)
        if (not all_of <= f or (any_of and any_of.isdisjoint(f)) or not none_of.isdisjoint(f)
                or any(group.isdisjoint(f) for group in self._also)):
            return False
        c = context if isinstance(context, set | frozenset) else set(context)
        return (c_all <= c and (not c_any or not c_any.isdisjoint(c))
                and c_none.isdisjoint(c))


@dataclass(frozen=True, slots=True)
class PolicyPack:
    version: str
    languages: tuple[str, ...]
    terms: tuple[Term, ...]
    patterns: tuple[Pattern, ...]
    rules: tuple[Rule, ...]
    ages: Ages = Ages()

    @property
    def features(self) -> frozenset[str]:
        """Every feature an analysis of a text can hold: the names other policies may use."""
        return frozenset({t.set_name for t in self.terms} | {p.set_name for p in self.patterns}
                         | set(LINK_FEATURES)
                         | ({"minor"} if self.ages.units or self.ages.prefixes else set()))


def expand(term: str) -> list[str]:
    """`"{12..15} ans"` → ["12 ans", ..., "15 ans"] (one range per term), and alternatives:
    `"{dis rien a|dis pas a} {ta mere|ton pere}"` → every combination, in order (a phrase
    said with many verbs and many people is one line, not hundreds)."""
    m = _RANGE.search(term)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        if hi < lo or hi - lo > 100:
            raise PackError(f"bad range in term {term!r}")
        term = term[: m.start()] + "{" + "|".join(map(str, range(lo, hi + 1))) + "}" \
            + term[m.end():]
    forms, at, text = [""], 0, term + "{}"
    for part in _ALTERNATIVES.finditer(text):
        literal, choices = part.groups()
        options = choices.split("|") if choices else [""]
        if part.start() != at or "}" in literal or (choices and not all(options)):
            raise PackError(f"bad alternatives in term {term!r}")
        at = part.end()
        forms = [f + literal + o for f in forms for o in options]
        if len(forms) > _MAX_FORMS:
            raise PackError(f"term {term!r} makes more than {_MAX_FORMS} forms")
    if at != len(text):
        raise PackError(f"bad alternatives in term {term!r}")
    return forms


def load_packs(folder: Path) -> PolicyPack:
    lang_files = sorted(p for p in folder.glob("*.toml") if p.name != "rules.toml")
    if not lang_files:
        raise PackError(f"{folder}: no language pack (<lang>.toml)")
    terms: list[Term] = []
    patterns: list[Pattern] = []
    versions = []
    languages = []
    ages: dict[str, list[str]] = {"units": [], "prefixes": [], "not_after": [], "not_before": []}
    for path in lang_files:
        data = _read(path)
        try:
            lang, version, t, p = _language_pack(data)
            for key, items in _table(data, "ages").items():
                if key not in ages:
                    raise PackError(f"ages: unknown key {key!r} "
                                    "(units, prefixes, not_after, not_before)")
                ages[key] += _strings(items, f"ages.{key}")
        except PackError as exc:
            raise PackError(f"{path}: {exc}") from None
        languages.append(lang)
        versions.append(version)
        terms += t
        patterns += p
    term_sets = {t.set_name for t in terms}
    if reserved := sorted(({p.set_name for p in patterns} | term_sets)
                          & {QUOTED, *LINK_FEATURES}):
        raise PackError(f"{folder}: set names {reserved} are reserved (the analyzer makes "
                        "them)")
    for pattern in patterns:
        for gate in pattern.when or ():
            if gate not in term_sets:
                raise PackError(f"{folder}: patterns.{pattern.set_name}.when: no term set "
                                f"{gate!r}")
    rules_path = folder / "rules.toml"
    data = _read(rules_path)
    unique = {k: tuple(dict.fromkeys(v)) for k, v in ages.items()}
    age_spec = Ages(units=unique["units"], prefixes=unique["prefixes"],
                    not_after=unique["not_after"], not_before=unique["not_before"])
    known = PolicyPack("", (), tuple(terms), tuple(patterns), (), age_spec).features
    try:
        rules_version, rules = _rules(data, known)
    except PackError as exc:
        raise PackError(f"{rules_path}: {exc}") from None
    version = "+".join([rules_version, *versions])
    return PolicyPack(version, tuple(languages), tuple(terms), tuple(patterns), tuple(rules),
                      age_spec)


def _read(path: Path) -> dict[str, Any]:
    return load_policy_toml(path, PackError)


def _language_pack(data: Mapping[str, Any]) -> tuple[str, str, list[Term], list[Pattern]]:
    lang, version = data.get("language"), data.get("version")
    if not isinstance(lang, str) or not isinstance(version, str):
        raise PackError("needs 'language' and 'version'")
    terms: list[Term] = []
    for set_name, items in _table(data, "terms").items():
        for raw in _strings(items, f"terms.{set_name}"):
            for text in expand(raw):
                for variant in _variants(text):
                    glued, shape = term_form(variant)
                    if not glued:
                        raise PackError(f"terms.{set_name}: {raw!r} has no letters or digits")
                    terms.append(Term(variant, set_name, lang, glued, shape))
                    for z_form in final_z(glued, shape):
                        terms.append(Term(variant, set_name, lang, z_form, shape))
    patterns: list[Pattern] = []
    for set_name, items in _table(data, "patterns").items():
        when, max_number = None, None
        if isinstance(items, dict):  # {when = "<term set>", max_number = N, regex = [...]}
            unknown = set(items) - {"when", "regex", "max_number"}
            if unknown:
                raise PackError(f"patterns.{set_name}: unknown key(s) {sorted(unknown)} "
                                "(when, max_number, regex)")
            when = items.get("when")
            if isinstance(when, str):
                when = [when]
            if when is not None and (not isinstance(when, list) or not when or not all(
                    isinstance(w, str) and w for w in when)):
                raise PackError(f"patterns.{set_name}.when: a term set's name, or a list of "
                                "them")
            when = tuple(when) if when is not None else None
            max_number = items.get("max_number")
            if max_number is not None and (type(max_number) is not int or max_number < 1):
                raise PackError(f"patterns.{set_name}.max_number: a whole number from 1")
            if when is None and max_number is None:
                raise PackError(f"patterns.{set_name}: a table needs 'when' or 'max_number' "
                                "(else write the expressions as a plain list)")
            if not items.get("regex"):
                raise PackError(f"patterns.{set_name}: 'regex' (a list of expressions) is "
                                "missing or empty")
            items = items["regex"]
        for raw in _strings(items, f"patterns.{set_name}"):
            try:
                regex = re.compile(raw)
            except re.error as exc:
                raise PackError(f"patterns.{set_name}: {raw!r}: {exc}") from None
            patterns.append(Pattern(set_name, lang, regex, when, max_number))
    return lang, version, terms, patterns


def _variants(term: str) -> list[str]:
    """A single word also matches its plural in -s (the data lists irregular forms)."""
    if " " in term.strip() or not term.isalpha() or len(term) < 3 or term[-1] in "sxz":
        return [term]
    return [term, term + "s"]


def _rules(data: Mapping[str, Any], known: frozenset[str]) -> tuple[str, list[Rule]]:
    version = data.get("version")
    if not isinstance(version, str):
        raise PackError("needs 'version'")
    rules: list[Rule] = []
    for raw in data.get("rules", []):
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            raise PackError("each rule needs an 'id'")
        rid = raw["id"]
        unknown_keys = set(raw) - {"id", "category", "weight", "targets", "describe",
                                   "also_any_of", "between", *_CONDITIONS}
        if unknown_keys:
            raise PackError(f"rule {rid}: unknown keys {sorted(unknown_keys)}")
        weight = raw.get("weight")
        if not isinstance(weight, int | float) or isinstance(weight, bool) or not (
                -1 <= weight < 0 or 0 < weight <= 1):
            raise PackError(f"rule {rid}: 'weight' must be in (0, 1], or in [-1, 0) for a "
                            "framing")
        raw_category = raw.get("category")
        named = raw_category if isinstance(raw_category, list) and weight < 0 else [raw_category]
        try:
            lowers = frozenset(Category(str(c)) for c in named)
        except ValueError:
            raise PackError(f"rule {rid}: unknown category {raw_category!r}") from None
        if not lowers:
            raise PackError(f"rule {rid}: needs a category")
        category = sorted(lowers, key=lambda c: c.value)[0]
        try:
            targets = frozenset(TargetKind(t) for t in raw.get("targets", ["message"]))
        except ValueError as exc:
            raise PackError(f"rule {rid}: {exc}") from None
        if not targets or not targets <= _RULE_TARGETS:
            raise PackError(f"rule {rid}: targets must be among message, channel, guild")
        conditions: dict[str, tuple[str, ...]] = {}
        for key in _CONDITIONS:
            names = tuple(_strings(raw.get(key, []), f"rule {rid}.{key}"))
            for name in names:
                base = name.removeprefix("layout.").removeprefix("ordinary.") \
                    if key.startswith("context") else name
                flag = key.startswith("context") and name.startswith(FLAG_PREFIXES)
                if flag:
                    if name.split(".", 1)[1] not in {c.value for c in Category}:
                        raise PackError(f"rule {rid}: {key} names unknown flag {name!r}")
                elif base not in known and name != QUOTED:
                    raise PackError(f"rule {rid}: {key} names unknown set {name!r}")
            conditions[key] = names
        if not conditions["all_of"] and not conditions["any_of"]:
            raise PackError(f"rule {rid}: needs 'all_of' or 'any_of'")
        also = _groups(raw.get("also_any_of", []), f"rule {rid}.also_any_of")
        for name in (n for group in also for n in group):
            if name not in known:
                raise PackError(f"rule {rid}: also_any_of names unknown set {name!r}")
        if also and not conditions["any_of"]:
            raise PackError(f"rule {rid}: 'also_any_of' adds to 'any_of': write 'any_of' first")
        if also and weight < 0:
            raise PackError(f"rule {rid}: a framing takes no 'also_any_of'")
        between = raw.get("between", False)
        if not isinstance(between, bool) or (between and (
                weight >= 0 or len(conditions["all_of"]) != 2 or conditions["any_of"])):
            raise PackError(f"rule {rid}: 'between' (true or false) is for a framing whose "
                            "'all_of' names two sets, a subject and its verdict, and no "
                            "'any_of'")
        if any(QUOTED in names for names in conditions.values()) and (
                conditions["any_of"] != (QUOTED,) or weight <= -1 or weight > 0
                or any(conditions[k] for k in _CONDITIONS if k != "any_of")):
            # Quotes are read hit by hit (`analyzer.TextAnalyzer.rules`), not as a set: no
            # other condition could be honoured, and quotes alone never veto.
            raise PackError(f"rule {rid}: {QUOTED!r} stands alone in a framing's any_of, "
                            "with a weight in (-1, 0)")
        rules.append(Rule(
            id=rid, category=category, weight=float(weight), targets=targets,
            describe=str(raw.get("describe", rid)), all_of=conditions["all_of"],
            any_of=conditions["any_of"], none_of=conditions["none_of"],
            context_all_of=conditions["context_all_of"],
            context_any_of=conditions["context_any_of"],
            context_none_of=conditions["context_none_of"],
            also_any_of=also,
            lowers=lowers if weight < 0 else frozenset(), between=between))
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        raise PackError("rule ids must be unique")
    return version, rules


def _table(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise PackError(f"'{key}' must be a table")
    return value


def _groups(value: Any, where: str) -> tuple[tuple[str, ...], ...]:
    """One list of names, or a list of such lists (each a group of alternatives)."""
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        groups = tuple(tuple(_strings(v, where)) for v in value)
    else:
        groups = (tuple(_strings(value, where)),) if value else ()
    if any(not g for g in groups):
        raise PackError(f"{where}: a group must name at least one set")
    return groups


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PackError(f"{where} must be a list of strings")
    return value
