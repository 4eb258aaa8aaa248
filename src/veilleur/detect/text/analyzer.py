"""The fast tier: fold, match terms and patterns, extract links, evaluate rules.

Pure and stateless: `analyze` turns a text into features (which sets it touches, where), and
`rules` says which rules fire for a target kind given the features of its context. One
Aho-Corasick pass over the glued view finds every term of every language at once; one combined
regular expression over the plain view finds every pattern.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import ahocorasick_rs

from veilleur.detect.text.fold import Folded, collapse, fold, tokens
from veilleur.detect.text.links import Link, LinkExtractor
from veilleur.detect.text.packs import PolicyPack, Rule, Term, load_packs
from veilleur.taxonomy import TargetKind

_TOKEN_CHARS = re.compile(r"(?:[a-z0-9@$]|(?<=[a-z0-9])!(?=[a-z0-9]))+")


@dataclass(frozen=True, slots=True)
class Hit:
    set_name: str
    text: str
    """What matched: the lexicon term, a pattern's match, or a link's URL."""
    span: tuple[int, int]
    """Where, in the original text."""


@dataclass(frozen=True, slots=True)
class Analysis:
    text: str
    features: Mapping[str, Hit]
    """The first hit of each set (and link feature) in the text."""
    links: tuple[Link, ...] = ()

    def __contains__(self, name: object) -> bool:
        return name in self.features


@dataclass(frozen=True, slots=True)
class RuleHit:
    rule: Rule
    hits: tuple[Hit, ...]
    context: tuple[str, ...] = field(default=())
    """The context features the rule relied on."""


class TextAnalyzer:
    def __init__(self, pack: PolicyPack, links: LinkExtractor) -> None:
        self.pack = pack
        self.links = links
        self.version = pack.version
        by_form: dict[str, list[Term]] = {}
        for term in pack.terms:
            by_form.setdefault(term.glued, []).append(term)
        self._forms = list(by_form)
        self._terms = [by_form[f] for f in self._forms]
        self._matcher = ahocorasick_rs.AhoCorasick(self._forms) if self._forms else None
        self._patterns = list(pack.patterns)
        parts = []
        for i, p in enumerate(self._patterns):
            body = p.regex.pattern.replace("(?P<age>", f"(?P<age{i}>")
            parts.append(f"(?P<p{i}>{body})")
        self._combined = re.compile("|".join(parts)) if parts else None
        self._rules: dict[TargetKind, list[Rule]] = {}
        for rule in pack.rules:
            for target in rule.targets:
                self._rules.setdefault(target, []).append(rule)

    @classmethod
    def load(cls, policy_dir: Path) -> TextAnalyzer:
        return cls(load_packs(policy_dir / "packs"),
                   LinkExtractor.load(policy_dir / "links.toml"))

    def analyze(self, text: str) -> Analysis:
        folded = fold(text)
        features: dict[str, Hit] = {}
        self._terms_in(folded, features)
        self._patterns_in(folded, features)
        links = tuple(self.links.extract(folded))
        for link in links:
            span = folded.span(*link.span)
            for name in (f"link_{link.kind}", "link_any",
                         *(("link_obfuscated",) if link.obfuscated else ())):
                features.setdefault(name, Hit(name, link.url, span))
        return Analysis(text, features, links)

    def analyze_batch(self, texts: Iterable[str]) -> list[Analysis]:
        return [self.analyze(t) for t in texts]

    def _terms_in(self, folded: Folded, features: dict[str, Hit]) -> None:
        if self._matcher is None:
            return
        collapsed = collapse(folded.plain)
        glued = "".join(_TOKEN_CHARS.findall(collapsed))
        matches = self._matcher.find_matches_as_indexes(glued, overlapping=True)
        if not matches:
            return
        toks = tokens(collapsed)
        for index, start, end in matches:
            for term in self._terms[index]:
                if term.set_name in features:
                    continue
                span = toks.accepts(start, end, term.shape)
                if span is not None:
                    features[term.set_name] = Hit(term.set_name, term.text,
                                                  folded.span(*span))

    def _patterns_in(self, folded: Folded, features: dict[str, Hit]) -> None:
        if self._combined is None:
            return
        for m in self._combined.finditer(folded.plain):
            name = m.lastgroup
            if name is None:
                continue
            i = int(name[1:])
            pattern = self._patterns[i]
            if pattern.set_name in features:
                continue
            if pattern.max_age is not None:
                age = m.group(f"age{i}")
                if age is None or not age.isdigit() or int(age) > pattern.max_age:
                    continue
            features[pattern.set_name] = Hit(pattern.set_name, m.group().strip(),
                                             folded.span(*m.span()))

    def rules(self, analysis: Analysis, target: TargetKind,
              context: Sequence[str] | set[str] | frozenset[str] = frozenset()
              ) -> list[RuleHit]:
        features = analysis.features
        if not features:
            return []
        ctx = context if isinstance(context, set | frozenset) else set(context)
        fired = []
        for rule in self._rules.get(target, ()):
            if rule.all_of and rule.all_of[0] not in features:
                continue
            if rule.fires(features, ctx):
                names = [*rule.all_of, *(n for n in rule.any_of if n in features)]
                hits = tuple(features[n] for n in dict.fromkeys(names))
                used = tuple(n for n in (*rule.context_all_of, *rule.context_any_of)
                             if n in ctx)
                fired.append(RuleHit(rule, hits, used))
        return fired
