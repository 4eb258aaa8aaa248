"""Hashed n-gram features of a message, for the learned tier (`learned.py`).

A text is read in the same obfuscation-proof view the rules read (`fold` then `collapse`:
look-alikes, invisible characters and leet folded), every run of characters other than
`[a-z0-9]` becomes one space, a letter held three times or more is written once, and three
or more one-character tokens in a row are joined ("n u d e s"); the features are:
- character n-grams of lengths 2 to 5 of that view, padded with a space at both ends, so
  "nudes", "nudez" and "n00dz" share most of their grams;
- word unigrams and bigrams, and each word's skeleton (first letter, inner consonants, last
  letter: "nudes", "ndes" and "nds" share it).
Each gram is hashed with FNV-1a (stable across processes and machines: never Python's salted
`hash`) into `2**bits` buckets; a feature's value is its count divided by the square root of
the number of grams, so long and short messages weigh alike.

The kernels are compiled (numba) and imported on first use: training and scoring call the
very same `_grams` function, so the model always sees the features it was trained on.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np

from veilleur.detect.text.fold import collapse, fold

if TYPE_CHECKING:
    from numpy.typing import NDArray

FEATURES_VERSION = "ngrams-3"
"""Changes whenever the features change: a model states the version it was trained with."""
MAX_CHARS = 4096
"""Only the start of a very long message is read: the cost stays bounded."""


def view(text: str) -> bytes:
    """The folded, collapsed view of a text as ASCII bytes (what the grams are taken from)."""
    plain = collapse(fold(text[:MAX_CHARS]).plain)
    # fold() yields ASCII; a stray character (never expected) becomes a separator.
    return plain.encode("ascii", "replace")


@functools.cache
def _kernels() -> Any:
    # Imported on first use, once: numba is large and an import statement per call is not free.
    from veilleur.detect.text import ngrams_kernels

    return ngrams_kernels


def grams(text: str, bits: int) -> NDArray[np.int64]:
    """The bucket of every gram of a text, in order, repeats kept (empty for empty text)."""
    raw = np.frombuffer(view(text), dtype=np.uint8)
    result: NDArray[np.int64] = _kernels().grams(raw, bits)
    return result


def features(text: str, bits: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """A text's sparse feature vector: sorted buckets and their values (count / sqrt(total))."""
    idx = grams(text, bits)
    if idx.shape[0] == 0:
        return idx, np.zeros(0, np.float32)
    buckets, counts = np.unique(idx, return_counts=True)
    values = (counts / np.sqrt(idx.shape[0])).astype(np.float32)
    return buckets, values


def logits(text: str, bits: int, weights: NDArray[np.float32],
           bias: NDArray[np.float32]) -> NDArray[np.float32]:
    """`features(text) @ weights + bias`, computed without building the vector."""
    raw = np.frombuffer(view(text), dtype=np.uint8)
    result: NDArray[np.float32] = _kernels().logits(raw, bits, weights, bias)
    return result


def probabilities(text: str, bits: int, weights: NDArray[np.float32],
                  bias: NDArray[np.float32], calibration: NDArray[np.float32]
                  ) -> tuple[NDArray[np.float64], float]:
    """Each category's calibrated probability (see `linear.py`) and the largest, in one
    compiled call."""
    raw = np.frombuffer(view(text), dtype=np.uint8)
    probs, top = _kernels().probabilities(raw, bits, weights, bias, calibration)
    return probs, float(top)


def top_probability(text: str, bits: int, weights: NDArray[np.float32],
                    bias: NDArray[np.float32], calibration: NDArray[np.float32]) -> float:
    """The largest calibrated probability of a text: the learned tier's test on every
    message (the probabilities themselves are computed only when it passes)."""
    raw = np.frombuffer(view(text), dtype=np.uint8)
    return float(_kernels().top_probability(raw, bits, weights, bias, calibration))


def margins(d: NDArray[np.float64]) -> NDArray[np.float64]:
    """Log-odds of each category against every other class, from log-odds against `none`."""
    result: NDArray[np.float64] = _kernels().margins(np.ascontiguousarray(d, np.float64))
    return result
