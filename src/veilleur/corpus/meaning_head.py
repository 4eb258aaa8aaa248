"""Training the meaning head (`detect/text/meaning_head.py`, `veilleur train --meaning-head`).

What it learns from:
- `BANK_PER_FAMILY` messages of every *train* family, labelled by their family (the shipped
  meaning bank holds six of them; the head, a network rather than a vote, wants more);
- ordinary and hard-negative chat of the families `split.teaches_head` picks (the hard-negative
  writers, half of the studied ordinary writers' families), labelled `none`, kept only where
  the second reader would ask the head: a message the learned tier gives `BAND` or more for
  some category, of `MIN_WORDS_ALONE` words or more. The train families' own hard negatives
  are not the chat the head is asked about; without these it calls about one ordinary
  message with a trap word in a hundred abusive (measured 2026-12-06).
The tune and test families, the scenes, the other half of the studied ordinary families (where
its bars are checked) and the blind writers never enter it.

One hidden layer (scikit-learn's `MLPClassifier`, ReLU, softmax out), classes weighted to
count alike and `none` twice (a missed paraphrase is recovered by the rules, the conversation
tier or a report; a false alarm lands on an innocent). The vectors are rounded to float16 as a
bank stores them, so a bank file of the same messages can stand in for embedding them again;
the draws and the network's initialisation are seeded (whether two runs give the same bytes
also depends on the BLAS's threads: not checked, unlike the n-gram model).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from veilleur.corpus.families import Family, expand
from veilleur.corpus.meaning_bank import bank_rows, bank_version, embed
from veilleur.corpus.split import ORDINARY_WRITERS, teaches_head
from veilleur.detect.conversation.meaning import ENCODER
from veilleur.detect.text.learned import MIN_WORDS_ALONE, words
from veilleur.detect.text.semantic import Encoder

if TYPE_CHECKING:
    from veilleur.detect.text.linear import LinearModel

BANK_PER_FAMILY = 18
BANK_SEED = 1
BAND = 0.1
"""Below the lowest probability the head may be asked from (`learned.toml`'s `from` must be
at least this: under it the head never saw ordinary chat)."""
PER_ORDINARY = 50
"""Messages drawn from an ordinary family (long, varied chat: what volume looks like)."""
PER_HARD = 8
"""From a hard-negative family (short families written around one trap each)."""
SEED = 7
HIDDEN = 256
NONE_WEIGHT = 2.0
ALPHA = 1e-3


def head_negatives(families: Sequence[Family], model: LinearModel
                   ) -> tuple[list[str], list[str]]:
    """Ordinary and hard-negative messages the head would be asked about, in a stable order."""
    texts: list[str] = []
    labels: list[str] = []
    for family in families:
        if not teaches_head(family):
            continue
        n = PER_ORDINARY if family.writer in ORDINARY_WRITERS else PER_HARD
        for text in expand(family, n, SEED):
            if (words(text) >= MIN_WORDS_ALONE
                    and float(model.probabilities(text).max()) >= BAND):
                texts.append(text)
                labels.append(family.label)
    return texts, labels


def fit_head(x: np.ndarray, labels: Sequence[str], classes: Sequence[str], *,
             seed: int = 0) -> dict[str, np.ndarray]:
    """The head's layers, trained on unit-norm vectors `x` (classes: `none` first)."""
    from sklearn.neural_network import MLPClassifier

    y = np.array([classes.index(label) for label in labels])
    weight = np.ones(len(y))
    for i in range(len(classes)):
        if not (y == i).any():
            raise ValueError(f"the meaning head has no training message of {classes[i]!r}")
        weight[y == i] = len(y) / (len(classes) * (y == i).sum())
    weight[y == 0] *= NONE_WEIGHT
    # Balanced by drawing (with replacement, twice the rows) rather than by sample weights:
    # measured on 2026-12-06, weights gave a head whose bars, by the same rule, confirmed no
    # grooming at all. Early stopping's validation rows are drawn from the same pool, so it
    # stops later than a clean split would; the bars and every figure are measured on
    # families it never saw.
    draw = np.random.default_rng(seed).choice(len(y), size=2 * len(y), p=weight / weight.sum())
    clf = MLPClassifier(hidden_layer_sizes=(HIDDEN,), alpha=ALPHA, max_iter=300,
                        early_stopping=True, random_state=seed).fit(x[draw], y[draw])
    if list(clf.classes_) != list(range(len(classes))):
        raise ValueError("the meaning head did not see every class")
    return {"w1": clf.coefs_[0].astype(np.float32), "b1": clf.intercepts_[0].astype(np.float32),
            "w2": clf.coefs_[1].astype(np.float32), "b2": clf.intercepts_[1].astype(np.float32)}


def build_head(families: Sequence[Family], encoder: Encoder, model: LinearModel, out: Path,
               *, cache: Path | None = None, batch: int = 64) -> tuple[Path, int]:
    """Embed, fit and write the head. `cache`: a bank file; used instead of embedding the
    train families again when it holds exactly the head's messages (its version is their
    digest, `meaning_bank.build_bank` with `BANK_PER_FAMILY` and `BANK_SEED`)."""
    texts, labels = bank_rows(families, BANK_PER_FAMILY, BANK_SEED)
    version = bank_version(texts, labels)
    bank_x = _cached(cache, version, len(texts))
    if bank_x is None:
        bank_x = embed(encoder, texts, batch).astype(np.float32)
    negatives, none_labels = head_negatives(families, model)
    extra = embed(encoder, negatives, batch).astype(np.float32) if negatives else np.zeros(
        (0, bank_x.shape[1]), np.float32)
    x = np.vstack([bank_x, extra])
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-6)
    classes = ["none", *(c.value for c in model.categories)]
    layers = fit_head(x, [*labels, *none_labels], classes)
    return write_head(layers, classes, out, version, model.content()), len(x)


def _cached(path: Path | None, version: str, rows: int) -> np.ndarray | None:
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["version"]) != version or str(data["encoder"]) != ENCODER:
                return None
            x = np.asarray(data["x"], dtype=np.float32)
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read the cached bank: {exc}") from None
    return x if x.shape[0] == rows else None


def write_head(layers: dict[str, np.ndarray], classes: Sequence[str], out: Path,
               bank_version: str, model_content: str) -> Path:
    """`model_content`: `LinearModel.content()` of the model that picked the ordinary chat."""
    digest = hashlib.sha256(b"".join(layers[n].tobytes() for n in ("w1", "b1", "w2", "b2"))
                            ).hexdigest()[:12]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as fh:  # np.savez_compressed on a path would add ".npz" by itself
        np.savez_compressed(fh, w1=layers["w1"], b1=layers["b1"], w2=layers["w2"],
                            b2=layers["b2"], classes=np.array(list(classes)),
                            version=np.array(f"head-{digest}"), encoder=np.array(ENCODER),
                            bank=np.array(bank_version), band=np.array(BAND),
                            model=np.array(model_content))
    return out
