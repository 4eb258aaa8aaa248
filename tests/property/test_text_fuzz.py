"""Any text at all: analysis never fails, and every span lies inside the original text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from veilleur.detect.base import POLICY_DIR
from veilleur.detect.text.analyzer import TextAnalyzer
from veilleur.taxonomy import TargetKind

A = TextAnalyzer.load(POLICY_DIR)
words = st.sampled_from(["nudes", "ados", "12 ans", "mega. nz/x", "ØØ", "𝓷𝓾𝓭𝓮𝓼", "\u200b",
                         "👧", "cp", "é", "İ", "ß", "ﬁ", "trib", "-", ".", " ", "$", "!", "0"])


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=200), st.lists(words, max_size=30).map("".join)))
def test_analysis_never_fails_and_spans_are_in_bounds(text: str) -> None:
    analysis = A.analyze(text)
    for hit in analysis.features.values():
        start, end = analysis.original_span(hit)
        assert 0 <= start <= end <= len(text)
    for target in (TargetKind.MESSAGE, TargetKind.CHANNEL, TargetKind.GUILD):
        A.rules(analysis, target, frozenset({"suspect.csam"}))
