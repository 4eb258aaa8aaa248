"""Which families are trained on, tuned on, or kept unseen: decided by family, never by message.

Messages of one family share its way of speaking; splitting them would let a model learn the
family and be scored on its siblings. So a family is wholly `train`, `tune` (calibration and
thresholds) or `test` (never trained or tuned on), by a hash of its key, stable across runs and
machines. Some writers are held out entirely: their voice is unseen, not only their families.
"""

from __future__ import annotations

import hashlib

from veilleur.corpus.families import Family

ORDINARY_WRITERS = frozenset({"b1", "b6", "b8", "b13"})
"""Writers of ordinary chat at volume: the false-alarm count, never trained on. b1's false
alarms were studied to fix rules by kind (CP's other meanings, food and gem words); b6, written
later by another hand, was after its first blind measure; b8 and b13 never were: they are the
blind measures."""
HELD_OUT_WRITERS = frozenset({"w4"}) | ORDINARY_WRITERS
"""Writers whose every family is unseen (w4: another voice entirely)."""
SHARES = (("train", 60), ("tune", 15), ("test", 25))
SPLITS = tuple(name for name, _ in SHARES)


def split_of(family: Family) -> str:
    """`train`, `tune` or `test`."""
    if family.writer in HELD_OUT_WRITERS:
        return "test"
    bucket = int.from_bytes(hashlib.sha256(family.key.encode()).digest()[:4], "big") % 100
    for name, share in SHARES:
        if bucket < share:
            return name
        bucket -= share
    return "test"


HELD_OUT_SCENE_WRITERS = frozenset({"c4"})
"""Scene writers whose every scene is unseen (c4: conversations in unusual shapes)."""
SCENE_SHARES = (("tune", 50), ("test", 50))


def scene_split_of(key: str, writer: str) -> str:
    """`tune` (thresholds of the roll-up and the conversation tier are set on it) or `test`.

    Scenes are not trained on: the learned tier reads messages, and scenes are whole places.
    """
    if writer in HELD_OUT_SCENE_WRITERS:
        return "test"
    bucket = int.from_bytes(hashlib.sha256(("scene:" + key).encode()).digest()[:4],
                            "big") % 100
    return "tune" if bucket < SCENE_SHARES[0][1] else "test"
