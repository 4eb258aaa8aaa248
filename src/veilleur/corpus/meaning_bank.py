"""The meaning bank: a few messages of every training family, embedded once.

`detect/conversation/meaning.py` reads conversations and servers against it. Only families of
the `train` split enter (never `tune`, never `test`, never the held-out writers), so every
figure on unseen families and scenes stays a measure of writing the bank never held.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from veilleur.corpus.families import Family, expand
from veilleur.corpus.split import split_of
from veilleur.detect.conversation.meaning import ENCODER
from veilleur.detect.text.semantic import Encoder


def bank_rows(families: Sequence[Family], per_family: int, seed: int
              ) -> tuple[list[str], list[str]]:
    """The texts and labels that enter the bank, in a stable order."""
    texts: list[str] = []
    labels: list[str] = []
    for family in families:
        if split_of(family) != "train":
            continue
        for text in expand(family, per_family, seed):
            texts.append(text)
            labels.append(family.label)
    return texts, labels


def bank_version(texts: Sequence[str], labels: Sequence[str]) -> str:
    """A bank's version: `meaning-` and a digest of its messages and labels."""
    return "meaning-" + hashlib.sha256("\x1f".join(f"{lab}\x1e{t}" for t, lab in zip(
        texts, labels, strict=True)).encode()).hexdigest()[:12]


def embed(encoder: Encoder, texts: Sequence[str], batch: int = 64) -> np.ndarray:
    """The texts' vectors in batches, as a bank stores them (float16)."""
    rows = [encoder.encode(list(texts[i:i + batch])) for i in range(0, len(texts), batch)]
    return np.vstack(rows).astype(np.float16)


def build_bank(families: Sequence[Family], encoder: Encoder, out: Path, *,
               per_family: int = 6, seed: int = 1, batch: int = 64) -> tuple[Path, int]:
    texts, labels = bank_rows(families, per_family, seed)
    if not texts or "none" not in labels or len(set(labels)) < 2:
        raise ValueError("the bank needs training families of ordinary talk and of abuse")
    x = embed(encoder, texts, batch)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as fh:  # np.savez_compressed on a path would add ".npz" by itself
        np.savez_compressed(fh, x=x, labels=np.array(labels),
                            version=np.array(bank_version(texts, labels)),
                            encoder=np.array(ENCODER))
    return out, len(texts)
