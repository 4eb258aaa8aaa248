"""Matching one file's hashes against banks: exact digests, PDQ within each bank's radius.

Allow-banks (known-benign memes, logos) are exceptions against false positives, and they
are weaker than the lists they except from: an ordinary allow entry silences a deny match
only outside the protected categories (child sexual abuse). A deny match there is silenced
only by an allow entry made as an explicit override (`Override`: a separate scope or flag,
audited) that names that deny entry or its category. Silenced matches are reported
(`suppressed`, `allowed_by`) so a reviewer can see it happened.

A `BankMatcher` is built by whoever owns the storage (the database-backed bank store, or
`scan --bank` for a file read on the fly) and handed to the detector; it does no I/O itself
except through the `resolve` callable it was given, used only when something matched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from veilleur.detect.media.banks import HashBank
from veilleur.detect.media.features import FeatureIndex
from veilleur.detect.media.hashing import MediaHashes
from veilleur.detect.media.index import PdqIndex
from veilleur.taxonomy import Category


@dataclass(frozen=True, slots=True)
class BankInfo:
    id: int
    name: str
    allow: bool = False
    pdq_threshold: int = 31
    enabled: bool = True


PROTECTED = frozenset({Category.CSAM})
"""Deny categories that no ordinary allow entry silences: a listed abuse hash keeps matching
unless someone allowed to override the lists said otherwise, for that entry or category."""


@dataclass(frozen=True, slots=True)
class Override:
    """What an allow entry made as an explicit override silences."""

    entries: frozenset[int] = frozenset()
    """Deny entries it was found to cover when it was made (same hash, or PDQ in radius)."""
    categories: frozenset[Category] = frozenset()
    """Deny categories it excepts from (its own category, held by a deny bank)."""
    by: str = ""

    def covers(self, entry: EntryInfo) -> bool:
        return entry.id in self.entries or entry.category in self.categories

    def to_record(self) -> dict[str, Any]:
        return {"entries": sorted(self.entries),
                "categories": sorted(c.value for c in self.categories), "by": self.by}

    @classmethod
    def from_record(cls, d: Mapping[str, Any] | None) -> Override | None:
        if not d:
            return None
        return cls(frozenset(int(i) for i in d.get("entries", ())),
                   frozenset(Category(c) for c in d.get("categories", ())),
                   str(d.get("by", "")))


@dataclass(frozen=True, slots=True)
class EntryInfo:
    id: int
    bank: BankInfo
    signal_type: str
    signal: str
    category: Category
    note: str | None = None
    source_id: str | None = None
    overrides: Override | None = None
    """For an allow entry made as an explicit override: what it silences."""


@dataclass(frozen=True, slots=True)
class Match:
    entry: EntryInfo
    signal_type: str
    """How it matched: 'md5', 'sha256' or 'pdq'."""
    distance: int
    """Bits between the hashes (0 for identical bytes or local-feature matches)."""
    variant: str
    """Which form of the file matched ('file bytes', 'as uploaded', 'flip_horizontal', ...)."""
    inliers: int | None = None
    """For local-feature matches: keypoints that agree on one geometric transform."""


@dataclass
class MatchResult:
    matches: list[Match] = field(default_factory=list)
    suppressed: list[Match] = field(default_factory=list)
    """Deny matches silenced by an allow entry that may silence them (`silences`)."""
    allowed_by: list[Match] = field(default_factory=list)
    """Every allow entry the file matched."""


def silences(allow: Match, deny: Match) -> bool:
    """Whether an allow match cancels a deny match on the same file. An explicit override
    silences what it names; any allow entry silences what is not protected; nothing else
    silences a protected category (an ordinary allow entry added for a listed abuse hash,
    however it got in, leaves the hash matching)."""
    override = allow.entry.overrides
    if override is not None and override.covers(deny.entry):
        return True
    return deny.entry.category not in PROTECTED


def arbitrate(denied: Sequence[Match], allowed: Sequence[Match]) -> MatchResult:
    """Deny matches, in order, split into those that stand and those an allow match silences."""
    result = MatchResult(allowed_by=list(allowed))
    for d in denied:
        if any(silences(a, d) for a in allowed):
            result.suppressed.append(d)
        else:
            result.matches.append(d)
    return result


Resolver = Callable[[Sequence[int]], Mapping[int, EntryInfo]]
ExactLookup = Callable[[str, str], Sequence[int]]
"""(signal type, digest) -> ids of enabled entries with exactly that digest."""


class BankMatcher:
    def __init__(
        self,
        banks: Mapping[int, BankInfo],
        *,
        exact: Mapping[tuple[str, str], Sequence[int]] | ExactLookup | None = None,
        pdq: PdqIndex | None = None,
        features: FeatureIndex | None = None,
        resolve: Resolver,
    ) -> None:
        self.banks = dict(banks)
        if exact is None or isinstance(exact, Mapping):
            table = dict(exact or {})
            self._exact: ExactLookup = lambda kind, digest: table.get((kind, digest), ())
            self._has_exact = bool(table)
        else:
            self._exact, self._has_exact = exact, True
        self._pdq = pdq
        self._features = features if features is not None and len(features) else None
        self._resolve = resolve
        thresholds = [b.pdq_threshold for b in self.banks.values() if b.enabled]
        self._radius = max(thresholds, default=31)

    @property
    def empty(self) -> bool:
        return (not self._has_exact and (self._pdq is None or not len(self._pdq))
                and self._features is None)

    @property
    def wants_features(self) -> bool:
        """Whether uploads should carry local features (some entries were enrolled)."""
        return self._features is not None

    def match(self, media: MediaHashes) -> MatchResult:
        # entry id, how, distance, variant, inliers
        found: list[tuple[int, str, int, str, int | None]] = []
        for kind, digest in (("md5", media.md5), ("sha256", media.sha256)):
            if digest:
                found.extend((eid, kind, 0, "file bytes", None)
                             for eid in self._exact(kind, digest))
        if self._pdq is not None and len(self._pdq) and media.lookups and media.matchable:
            for hit in self._pdq.search(list(media.lookups), self._radius):
                bank = self.banks.get(self._pdq.group(hit.slot))
                if bank is None or not bank.enabled or hit.distance > bank.pdq_threshold:
                    continue
                found.append((self._entry_id(hit.slot), "pdq", hit.distance,
                              media.lookup_labels[hit.query]
                              if hit.query < len(media.lookup_labels) else "variant", None))
        if self._features is not None and media.features is not None:
            for eid, n in self._features.match(media.features).items():
                found.append((eid, "features", 0, "local features (crop-tolerant)", n))
        if not found:
            return MatchResult()
        entries = self._resolve(sorted({f[0] for f in found}))
        best: dict[int, Match] = {}
        for eid, how, d, variant, agreeing in found:
            entry = entries.get(eid)
            if entry is None or not entry.bank.enabled:
                continue
            m = Match(entry, how, d, variant, agreeing)
            if eid not in best or d < best[eid].distance:
                best[eid] = m
        allowed = [m for m in best.values() if m.entry.bank.allow]
        denied = sorted((m for m in best.values() if not m.entry.bank.allow),
                        key=lambda m: (m.distance, m.entry.id))
        return arbitrate(denied, allowed)

    def _entry_id(self, slot: int) -> int:
        assert self._pdq is not None
        return self._pdq.ref(slot)


def combine(matchers: Sequence[BankMatcher]) -> BankMatcher | None:
    """One matcher over several (stored banks and files loaded for one run)."""
    live = [m for m in matchers if not m.empty]
    if not live:
        return None
    if len(live) == 1:
        return live[0]
    return _Combined(live)


class _Combined(BankMatcher):
    def __init__(self, parts: Sequence[BankMatcher]) -> None:
        self._parts = list(parts)
        self.banks = {}
        for p in parts:
            self.banks.update(p.banks)

    @property
    def empty(self) -> bool:
        return all(p.empty for p in self._parts)

    @property
    def wants_features(self) -> bool:
        return any(p.wants_features for p in self._parts)

    def match(self, media: MediaHashes) -> MatchResult:
        results = [p.match(media) for p in self._parts]
        allowed = [m for r in results for m in r.allowed_by]
        denied = [m for r in results for m in (*r.matches, *r.suppressed)]
        return arbitrate(denied, allowed)


def matcher_from_banks(banks: Sequence[HashBank], *, first_bank_id: int = 60000
                       ) -> BankMatcher | None:
    """A matcher over banks read from files for one run (nothing stored).

    Bank numbers start high so they never collide with stored banks' in a combined matcher.
    """
    infos: dict[int, BankInfo] = {}
    entries: dict[int, EntryInfo] = {}
    exact: dict[tuple[str, str], list[int]] = {}
    index = PdqIndex()
    eid = 0
    for offset, bank in enumerate(banks):
        info = BankInfo(first_bank_id + offset, bank.name, bank.allow, bank.pdq_threshold)
        infos[info.id] = info
        pdq_hashes: list[bytes] = []
        pdq_refs: list[int] = []
        for e in bank.entries:
            if not e.enabled:
                continue
            eid -= 1  # negative ids: never a database row
            entries[eid] = EntryInfo(eid, info, e.signal_type, e.signal, e.category, e.note,
                                     e.source_id)
            if e.signal_type == "pdq":
                pdq_hashes.append(bytes.fromhex(e.signal))
                pdq_refs.append(-eid)
            else:
                exact.setdefault((e.signal_type, e.signal), []).append(eid)
        if pdq_hashes:
            index.add(pdq_hashes, group=info.id, refs=pdq_refs, sort=False)
    index.compact()
    matcher = _FileMatcher(infos, exact=exact, pdq=index if len(index) else None,
                           resolve=lambda ids: {i: entries[i] for i in ids if i in entries})
    return None if matcher.empty else matcher


class _FileMatcher(BankMatcher):
    """Index refs are unsigned, so file entries (negative ids) are stored negated."""

    def _entry_id(self, slot: int) -> int:
        return -super()._entry_id(slot)
