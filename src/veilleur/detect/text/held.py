"""Terms written with letters held: "nuuudes", "teeeen", "quuuel âge".

The glued view is squeezed (every run of one letter written once) and matched against the
terms' squeezed forms; a match is kept only where the text is the term with some runs held
three times or more, so "ten" never reads as "teen" nor "polo" as "pollo". Only texts that
hold a letter three times pay for it, and most of them ("www", "mdrrr") stop at a prefilter
run in C.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from operator import itemgetter

import ahocorasick_rs

from veilleur.detect.text.fold import Tokens
from veilleur.detect.text.packs import Term

LONG_RUN = re.compile(r"([a-z])\1\1")
"""A letter held three times or more: the sign of a lengthened word ("nuuudes")."""


def word_cuts(lengths: Iterable[int]) -> frozenset[int]:
    """Glued positions where a term's words meet, for `squeeze`."""
    cuts, pos = [], 0
    for n in lengths:
        if pos:
            cuts.append(pos)
        pos += n
    return frozenset(cuts)


_MULTI = re.compile(r"(.)\1+")
_FIRST = itemgetter(1)
"""`_MULTI.sub(_FIRST, text)`: each run written once (a C callable beats a template)."""


@dataclass(frozen=True, slots=True)
class Squeezed:
    """A text with every run of one character written once ("nuuudes" → "nudes"), and where
    each squeezed character's run lies in the text."""

    text: str
    held: tuple[tuple[int, int, int], ...]
    """(squeezed position, start, end) of the runs longer than one character, in order."""

    def runs(self, start: int, end: int) -> tuple[tuple[int, int], ...]:
        """The text runs of squeezed characters [start, end)."""
        out = []
        positions = [h[0] for h in self.held]
        k = bisect_right(positions, start) - 1
        for i in range(start, end):
            while k + 1 < len(self.held) and self.held[k + 1][0] <= i:
                k += 1
            if k >= 0 and self.held[k][0] == i:
                out.append((self.held[k][1], self.held[k][2]))
                continue
            # After the last longer run before i, squeezed and text advance together.
            base = (self.held[k][2] - self.held[k][0] - 1) if k >= 0 else 0
            out.append((i + base, i + base + 1))
        return tuple(out)


def squeeze(text: str, cut_at: Callable[[int], bool] | frozenset[int] = frozenset()
            ) -> Squeezed:
    """`text` squeezed. Runs stop where `cut_at` says words meet, so a held letter never
    swallows the next word's first letter ("agee eenvoie"). Matching squeezed forms finds
    lengthened words; `lengthened` then says whether a match really is one. Only the runs
    longer than one character are walked in Python: the rest is regular expressions."""
    is_cut = cut_at.__contains__ if isinstance(cut_at, frozenset) else cut_at
    pieces: list[str] = []
    held: list[tuple[int, int, int]] = []
    pos = shift = 0
    for m in _MULTI.finditer(text):
        s, e = m.span()
        pieces.append(text[pos:s])
        bounds = [s, *(c for c in range(s + 1, e) if is_cut(c)), e]
        for lo, hi in pairwise(bounds):
            if hi - lo > 1:
                held.append((lo - shift, lo, hi))
            shift += hi - lo - 1
            pieces.append(text[lo])
        pos = e
    pieces.append(text[pos:])
    return Squeezed("".join(pieces), tuple(held))


def lengthened(term_runs: tuple[int, ...], runs: tuple[tuple[int, int], ...]
               ) -> list[tuple[int, int]]:
    """The glued spans that may be a lengthened spelling of a term, given the term's run
    lengths and the text runs its squeezed form matched (none if it is not one).

    Each run must be as long as the term's or held three times or more, and at least one must
    be held ("teeen" is "teen", "ten" is not; "nuudes" stays unread: doubled letters are
    ordinary spelling). The first and last runs may run on into a neighbouring word ("age
    eeenvoie"): then both the whole run and the run cut to the term's length are offered, and
    the caller keeps the one that lines up with words."""
    if len(term_runs) != len(runs):
        return []
    last = len(runs) - 1
    inner_held = False
    for i, ((s, e), want) in enumerate(zip(runs, term_runs, strict=True)):
        n = e - s
        if n < want or (n != want and n < 3 and 0 < i < last):
            return []
        if 0 < i < last and n > want:
            inner_held = True
    first_s, first_e = runs[0]
    last_s, last_e = runs[-1]
    starts = {first_s: first_e - first_s >= 3 and first_e - first_s > term_runs[0],
              first_e - term_runs[0]: False}
    ends = {last_e: last_e - last_s >= 3 and last_e - last_s > term_runs[-1],
            last_s + term_runs[-1]: False}
    if last == 0:  # one run: the whole term is one letter held
        return [(first_s, first_e)] if starts[first_s] else []
    return [(start, end) for start, s_held in starts.items() for end, e_held in ends.items()
            if inner_held or s_held or e_held]


class HeldTerms:
    """Finds terms written with held letters, for an analyzer's terms."""

    def __init__(self, terms: Sequence[Term]) -> None:
        by_form: dict[str, list[tuple[Term, tuple[int, ...]]]] = {}
        for term in terms:
            # Two-letter code words stay exact: "cccp" is no held "cp".
            if len(term.glued) > 2:
                squeezed = squeeze(term.glued, word_cuts(term.shape))
                runs = squeezed.runs(0, len(squeezed.text))
                by_form.setdefault(squeezed.text, []).append(
                    (term, tuple(e - s for s, e in runs)))
        forms = list(by_form)
        self._forms = [by_form[f] for f in forms]
        self._matcher = ahocorasick_rs.AhoCorasick(forms) if forms else None
        # Squeezing without word cuts only merges more: a text holding a term's cut-aware
        # form holds its cut-free form, so this prefilter never loses a match.
        loose = sorted({_MULTI.sub(_FIRST, f) for f in forms})
        self._prefilter = ahocorasick_rs.AhoCorasick(loose) if loose else None

    def find(self, view: str, toks: Callable[[], Tokens]
             ) -> Iterable[tuple[Term, tuple[int, int]]]:
        """(term, plain-view span) of each held spelling of a term in the glued view; the
        view's tokens are asked for only past the prefilter."""
        if self._matcher is None or self._prefilter is None or not LONG_RUN.search(view):
            return
        if not self._prefilter.find_matches_as_indexes(_MULTI.sub(_FIRST, view)):
            return
        tokens = toks()
        squeezed = squeeze(view, tokens.word_cut)
        for index, start, end in self._matcher.find_matches_as_indexes(squeezed.text,
                                                                       overlapping=True):
            runs = squeezed.runs(start, end)
            for term, term_runs in self._forms[index]:
                for region in lengthened(term_runs, runs):
                    span = tokens.accepts(*region, None)
                    if span is not None:
                        yield term, span
                        break
