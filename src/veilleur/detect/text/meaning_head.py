"""The meaning head: a small network that reads a message's embedding and names its category.

The meaning bank's vote (`detect/conversation/meaning.py`) asks which training messages a
text lies nearest to; a paraphrase that lies between several families, or far from all of
them, gets a split vote and is left alone. The head learns the regions of the embedding
space instead (one hidden layer over multilingual-e5-small's vectors), trained on the bank's
messages and on ordinary and hard-negative chat (`corpus/meaning_head.py`, `veilleur train
--meaning-head`). It is the second reader's second voice (`detect/text/learned.py`): either
voice reaching its own bar confirms the learned tier's uncertain probability.

Stored as one `.npz` without pickle: `w1` (dimensions × hidden), `b1`, `w2` (hidden ×
classes), `b2`, `classes` (`none` first, then categories), `version`, `encoder`, `band` (see
`MeaningHead.band`), `bank` (the version of the messages it learnt from) and `model`
(`LinearModel.content()` of the n-gram model that picked its ordinary chat: the suite checks
it is the shipped one).
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from veilleur.detect.base import PolicyDataError
from veilleur.detect.text.semantic import Matrix
from veilleur.taxonomy import Category

HEAD_FILE = Path("model") / "meaning-head.npz"
MAX_HIDDEN = 4096
"""A bound on what a hostile or corrupt file can make the engine allocate per message."""
MAX_BYTES = 64 << 20
"""A bound on each array of the file, checked before it is inflated (the shipped head's
largest is 0.4 MB)."""


class HeadError(PolicyDataError):
    pass


@dataclass(frozen=True)
class MeaningHead:
    version: str
    encoder_name: str
    categories: tuple[Category, ...]
    w1: Matrix
    b1: Matrix
    w2: Matrix
    b2: Matrix
    band: float = 0.0
    """The lowest learned probability of the ordinary chat it was trained on: asked below
    it, it would read chat it never saw."""
    model: str = ""
    """`LinearModel.content()` of the n-gram model that picked that ordinary chat."""

    @classmethod
    def load(cls, path: Path, encoder: str) -> MeaningHead:
        try:
            _check_members(path)
            with np.load(path, allow_pickle=False) as data:
                raw = {n: data[n] for n in _MEMBERS}
        except HeadError:
            raise
        except Exception as exc:  # any unreadable file (truncated, corrupt, lying) is one refusal
            raise HeadError(f"{path}: cannot load the meaning head: {exc!r}") from None
        if not all(isinstance(a, np.ndarray) for a in raw.values()):
            raise HeadError(f"{path}: every member must be an array")
        texts = {n: raw[n] for n in ("version", "encoder", "model")}
        if any(a.ndim != 0 or a.dtype.kind != "U" for a in texts.values()):
            raise HeadError(f"{path}: 'version', 'encoder' and 'model' must be strings")
        if str(texts["encoder"]) != encoder:
            raise HeadError(f"{path}: trained on {str(texts['encoder'])!r} vectors, not "
                            f"{encoder!r}: retrain it (veilleur train --meaning-head)")
        if raw["classes"].ndim != 1 or raw["classes"].dtype.kind != "U":
            raise HeadError(f"{path}: 'classes' must be a list of names")
        classes = [str(v) for v in raw["classes"]]
        if not classes or classes[0] != "none" or len(set(classes)) != len(classes):
            raise HeadError(f"{path}: classes must be 'none' then distinct categories")
        try:
            categories = tuple(Category(c) for c in classes[1:])
        except ValueError as exc:
            raise HeadError(f"{path}: {exc}") from None
        numbers = {n: raw[n] for n in ("w1", "b1", "w2", "b2", "band")}
        if any(a.dtype.kind != "f" for a in numbers.values()):
            raise HeadError(f"{path}: the meaning head's weights must be floating-point")
        w1, b1, w2, b2 = (numbers[n].astype(np.float32) for n in ("w1", "b1", "w2", "b2"))
        hidden = w1.shape[1] if w1.ndim == 2 else -1
        if (w1.ndim != 2 or not 0 < hidden <= MAX_HIDDEN or b1.shape != (hidden,)
                or w2.shape != (hidden, len(classes)) or b2.shape != (len(classes),)):
            raise HeadError(f"{path}: the meaning head's layers do not fit together")
        band = numbers["band"]
        if band.ndim != 0 or not 0.0 <= float(band) < 1.0:
            raise HeadError(f"{path}: 'band' must be a probability")
        if not all(np.isfinite(a).all() for a in (w1, b1, w2, b2)):
            raise HeadError(f"{path}: the meaning head holds non-finite weights")
        return cls(str(texts["version"]), str(texts["encoder"]), categories, w1, b1, w2, b2,
                   float(band), str(texts["model"]))

    @property
    def dimensions(self) -> int:
        return int(self.w1.shape[0])

    def probabilities(self, vectors: Matrix) -> list[dict[Category, float]]:
        """Each text's probability of every category (rows: unit-norm embeddings)."""
        hidden = np.maximum(vectors @ self.w1 + self.b1, 0.0)
        logits = hidden @ self.w2 + self.b2
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        # A vector that was not finite reads as nothing (its logits are NaN).
        p = np.nan_to_num(p, nan=0.0)
        return [{c: float(row[i + 1]) for i, c in enumerate(self.categories)} for row in p]


_MEMBERS = ("w1", "b1", "w2", "b2", "classes", "version", "encoder", "band", "bank", "model")


def _check_members(path: Path) -> None:
    """The file holds exactly the head's arrays, each no larger than `MAX_BYTES` by its own
    header, read before numpy allocates anything (a header may claim terabytes)."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        expected = sorted(f"{n}.npy" for n in _MEMBERS)
        if sorted(names) == [n for n in expected if n != "model.npy"]:
            raise HeadError(f"{path}: a meaning head from before heads recorded the model "
                            "beside which they were trained: retrain it (`make head`)")
        if sorted(names) != expected:
            raise HeadError(f"{path}: not a meaning head (members {sorted(names)[:12]})")
        for name in names:
            with archive.open(name) as fh:
                version = np.lib.format.read_magic(fh)
                header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                          else np.lib.format.read_array_header_2_0)
                shape, _, dtype = header(fh)
                size = dtype.itemsize
                for n in shape:
                    size *= n
                if size > MAX_BYTES:
                    raise HeadError(f"{path}: '{name}' is larger than {MAX_BYTES} bytes")


@lru_cache(maxsize=4)
def _head(path: Path, encoder: str, _stamp: tuple[int, int]) -> MeaningHead:
    return MeaningHead.load(path, encoder)


def load_head(policy_dir: Path, encoder: str) -> MeaningHead | None:
    """The package's head, or None when it is absent (the second reader then votes alone)."""
    path = policy_dir / HEAD_FILE
    try:
        st = path.stat()
    except OSError:
        return None
    return _head(path, encoder, (st.st_mtime_ns, st.st_size))


def required_head(policy_dir: Path, encoder: str, categories: Iterable[Category],
                  error: Callable[[str], Exception], asked_by: str, remedy: str) -> MeaningHead:
    """The package's head for a policy that gives it bars (`asked_by` names it): refused with
    `error` when missing or blind to one of `categories`, never left silently unread."""
    path = policy_dir / HEAD_FILE
    head = load_head(policy_dir, encoder)
    if head is None:
        raise error(f"{path}: missing, and {asked_by} gives the meaning head bars ({remedy})")
    if missing := sorted(c.value for c in set(categories) if c not in head.categories):
        raise error(f"{path}: the meaning head does not read {missing}, which {asked_by} "
                    "asks it about")
    return head
