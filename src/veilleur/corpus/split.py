"""Which families are trained on, which tune, which are kept unseen: decided by the family.

A family goes wholly to one split, chosen by a hash of its key (`w1/fr-grooming-secret`), so
the split never depends on which other families exist, on their order, or on the run:
adding a family never moves another one. About 60 % `train` (the model's weights), 15 %
`tune` (calibration and thresholds), 25 % `test` (never trained nor tuned on: the figures
that say whether detection generalises). Writers kept outside entirely (`HELD_OUT_WRITERS`)
are always `test`: their way of writing is never seen before measuring.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Literal

from veilleur.corpus.families import Family

Split = Literal["train", "tune", "test"]
SPLITS: tuple[Split, ...] = ("train", "tune", "test")
HELD_OUT_WRITERS = frozenset({"w4", "b1"})
TRAIN_SHARE = 0.60
TUNE_SHARE = 0.15


def split_of(family: Family) -> Split:
    """The split a family belongs to (the same on every machine and in every run)."""
    if family.writer in HELD_OUT_WRITERS:
        return "test"
    digest = hashlib.sha256(f"split\x1f{family.key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < TRAIN_SHARE:
        return "train"
    if u < TRAIN_SHARE + TUNE_SHARE:
        return "tune"
    return "test"


def split_families(families: Iterable[Family]) -> dict[Split, list[Family]]:
    """Families by split, each list in the order given."""
    out: dict[Split, list[Family]] = {name: [] for name in SPLITS}
    for family in families:
        out[split_of(family)].append(family)
    return out
