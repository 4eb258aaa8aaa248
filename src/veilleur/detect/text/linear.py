"""The learned tier's model: a linear model over hashed n-grams, calibrated per category.

Stored as one `.npz` (no pickle: plain arrays and one JSON document), weights in float16:
- `weights` (2**bits × categories, float16) and `bias` (categories): each category's
  log-odds against `none` (a multinomial model with `none` as its reference class);
- `calibration` (categories × 2): Platt's a and b per category, fitted on the `tune` families
  (never on `train`): p = sigmoid(a · margin + b), where the margin is the category's
  log-odds against every other class;
- `alone`, `support` (categories): calibrated probabilities from which the learned tier may
  make a finding by itself, or only support the rules (chosen on `tune`, see `train.py`);
- `meta`: JSON (version, features version, bits, what it was trained on).

Saving is byte-for-byte deterministic (fixed zip dates and order): the same corpus and seed
give the same file, so a retrained model that did not change shows no diff.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from veilleur.detect.base import PolicyDataError
from veilleur.detect.text.ngrams import (
    FEATURES_VERSION,
    logits,
    margins,
    probabilities,
    top_probability,
)
from veilleur.taxonomy import Category

if TYPE_CHECKING:
    from numpy.typing import NDArray

MODEL_FILE = "text-linear.npz"
_ARRAYS = ("weights", "bias", "calibration", "alone", "support", "meta")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class ModelError(PolicyDataError):
    """A model file that cannot be used, naming the file and what is wrong."""


@dataclass(frozen=True, slots=True)
class LinearModel:
    categories: tuple[Category, ...]
    bits: int
    weights: NDArray[np.float32]
    """(2**bits, len(categories)): log-odds of each category against `none`."""
    bias: NDArray[np.float32]
    calibration: NDArray[np.float32]
    """(len(categories), 2): Platt's (a, b) per category."""
    alone: NDArray[np.float32]
    support: NDArray[np.float32]
    version: str
    meta: dict[str, Any] = field(default_factory=dict)

    def margins(self, text: str) -> NDArray[np.float64]:
        """Each category's log-odds against every other class (`none` included)."""
        return margins(logits(text, self.bits, self.weights, self.bias).astype(np.float64))

    def probabilities(self, text: str) -> NDArray[np.float64]:
        """Each category's calibrated probability, in the order of `categories`."""
        return probabilities(text, self.bits, self.weights, self.bias, self.calibration)[0]

    def top(self, text: str) -> float:
        """The largest calibrated probability (cheaper: no array crosses back)."""
        return top_probability(text, self.bits, self.weights, self.bias, self.calibration)

    def probabilities_and_top(self, text: str) -> tuple[NDArray[np.float64], float]:
        """The calibrated probabilities and the largest of them, in one compiled call."""
        return probabilities(text, self.bits, self.weights, self.bias, self.calibration)

    def content(self) -> str:
        """What the model computes, as a digest (`weights-` and 12 hex digits): its weights,
        bias, calibration and thresholds as stored. The meaning head records it: the model
        picked the ordinary chat the head learnt from."""
        import hashlib

        h = hashlib.sha256()
        for array in (self.weights, self.bias, self.calibration, self.alone, self.support):
            h.update(np.ascontiguousarray(array, dtype="<f4").tobytes())
        return f"weights-{h.hexdigest()[:12]}"

    # -- storage ------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        meta = dict(self.meta, version=self.version, bits=self.bits,
                    features=FEATURES_VERSION,
                    categories=[c.value for c in self.categories])
        arrays: dict[str, NDArray[Any]] = {
            "weights": self.weights.astype(np.float16),
            "bias": self.bias.astype(np.float32),
            "calibration": self.calibration.astype(np.float32),
            "alone": self.alone.astype(np.float32),
            "support": self.support.astype(np.float32),
            "meta": np.frombuffer(json.dumps(meta, sort_keys=True, ensure_ascii=True)
                                  .encode(), dtype=np.uint8),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        with zipfile.ZipFile(tmp, "w") as zf:
            for name in _ARRAYS:
                buf = io.BytesIO()
                np.lib.format.write_array(buf, arrays[name], allow_pickle=False)
                info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, buf.getvalue(), compresslevel=9)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        try:
            with np.load(path, allow_pickle=False) as data:
                missing = [n for n in _ARRAYS if n not in data.files]
                if missing:
                    raise ModelError(f"{path}: not a learned-tier model (missing {missing})")
                arrays = {n: data[n] for n in _ARRAYS}
            meta = json.loads(arrays["meta"].tobytes().decode())
        except (OSError, ValueError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
            raise ModelError(f"{path}: cannot load the learned-tier model: {exc}") from None
        return cls.from_arrays(arrays, meta, str(path))

    @classmethod
    def from_arrays(cls, arrays: dict[str, NDArray[Any]], meta: Any, where: str
                    ) -> LinearModel:
        if not isinstance(meta, dict):
            raise ModelError(f"{where}: 'meta' is not a JSON object")
        if meta.get("features") != FEATURES_VERSION:
            raise ModelError(f"{where}: trained on features {meta.get('features')!r}, this "
                             f"engine computes {FEATURES_VERSION!r}: retrain (veilleur train)")
        try:
            categories = tuple(Category(c) for c in meta["categories"])
            bits = int(meta["bits"])
            version = str(meta["version"])
        except (KeyError, ValueError, TypeError) as exc:
            raise ModelError(f"{where}: bad 'meta': {exc}") from None
        k = len(categories)
        shapes = {"weights": (2**bits, k), "bias": (k,), "calibration": (k, 2),
                  "alone": (k,), "support": (k,)}
        for name, shape in shapes.items():
            if arrays[name].shape != shape:
                raise ModelError(f"{where}: '{name}' has shape {arrays[name].shape}, "
                                 f"expected {shape}")
            if not np.all(np.isfinite(arrays[name])):
                raise ModelError(f"{where}: '{name}' holds a value that is not finite")
        return cls(categories=categories, bits=bits,
                   weights=np.ascontiguousarray(arrays["weights"], dtype=np.float32),
                   bias=arrays["bias"].astype(np.float32),
                   calibration=arrays["calibration"].astype(np.float32),
                   alone=arrays["alone"].astype(np.float32),
                   support=arrays["support"].astype(np.float32),
                   version=version, meta=meta)
