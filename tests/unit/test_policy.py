from __future__ import annotations

import pytest

from veilleur.decide.policy import FindingBook, PolicyError, combine, parse_policy
from veilleur.detect.base import Signal
from veilleur.taxonomy import Category, Target, TargetKind

POLICY = parse_policy({"version": "t", "thresholds": {c.value: 0.7 for c in Category}})
MSG = Target(TargetKind.MESSAGE, "m1")


def sig(key: str, strength: float, target: Target = MSG, category: Category = Category.CSAM,
        detector: str = "d") -> Signal:
    return Signal(detector=detector, version="1", target=target, category=category,
                  strength=strength, evidence=f"ev {key}", key=key, context={"guild_id": "g"})


def test_combine_is_noisy_or() -> None:
    assert combine([]) == 0
    assert combine([0.5, 0.5]) == pytest.approx(0.75)
    assert combine([1.0, 0.2]) == 1.0


def test_below_threshold_is_not_a_finding() -> None:
    book = FindingBook(POLICY)
    assert book.add([sig("a", 0.6)]) == []
    assert book.findings() == []


def test_independent_signals_add_up_and_cross_the_threshold() -> None:
    book = FindingBook(POLICY)
    book.add([sig("a", 0.5)])
    (f,) = book.add([sig("b", 0.5, detector="e")])
    assert f.score == pytest.approx(0.75)
    assert f.detectors == ("d", "e")
    assert "ev a" in f.evidence and "ev b" in f.evidence
    assert book.findings() == [f]


def test_the_same_observation_counts_once() -> None:
    book = FindingBook(POLICY)
    for _ in range(5):
        book.add([sig("a", 0.5)])
    assert book.findings() == []
    book.add([sig("a", 0.8)])  # stronger reading of the same observation replaces it
    (f,) = book.findings()
    assert f.score == pytest.approx(0.8)


def test_one_finding_per_target_and_category_sorted_by_score() -> None:
    book = FindingBook(POLICY)
    other = Target(TargetKind.GUILD, "g")
    book.add([sig("a", 0.75), sig("b", 0.9, target=other), sig("c", 0.8,
                                                                category=Category.NCII)])
    scores = [(f.target.id, f.category.value, round(f.score, 2)) for f in book.findings()]
    assert scores == [("g", "csam", 0.9), ("m1", "ncii", 0.8), ("m1", "csam", 0.75)]


def test_policy_validation() -> None:
    with pytest.raises(PolicyError, match=r"thresholds\.grooming"):
        parse_policy({"version": "x", "thresholds": {"csam": 0.5}})
    with pytest.raises(PolicyError, match="unknown categories"):
        parse_policy({"version": "x", "thresholds": {**{c.value: 0.5 for c in Category},
                                                     "spam": 0.1}})
