"""Messages to learn from: families expanded, balanced, optionally obfuscated.

Each family yields up to `per_family` messages (`families.expand`), and every family weighs
the same in total whatever its size: a family with 400 variants must not drown one with 20.
Obfuscation transforms are plugged in as callables (`Transform`); each message may also be
seen once transformed, the transform and its randomness drawn from the family's own seed so
the set is the same on every run.
"""

from __future__ import annotations

import hashlib
import random
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from veilleur.corpus.families import Family, expand

Transform = Callable[[str, random.Random], str]
"""An obfuscation: the text and a seeded random source in, the obfuscated text out."""

NONE = "none"
NEGATIVES_KEY = "extra/negatives"


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: str
    """A category's value, or "none"."""
    family: str
    """The family's key (or `extra/...` for texts from outside the corpus)."""
    weight: float
    transformed: bool = False


def _rng(seed: int, *parts: object) -> random.Random:
    digest = hashlib.sha256("\x1f".join(map(str, (seed, *parts))).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def family_examples(family: Family, per_family: int, seed: int,
                    transforms: Sequence[Transform] = (), transformed_share: float = 0.5
                    ) -> list[Example]:
    """A family's messages, plus transformed copies of some; weights sum to 1."""
    texts = expand(family, per_family, seed)
    rng = _rng(seed, "transforms", family.key)
    pairs: list[tuple[str, bool]] = [(t, False) for t in texts]
    if transforms:
        for text in texts:
            if rng.random() < transformed_share:
                changed = rng.choice(list(transforms))(text, rng)
                if changed and changed != text:
                    pairs.append((changed, True))
    if not pairs:
        return []
    weight = 1.0 / len(pairs)
    return [Example(text, family.label, family.key, weight, transformed)
            for text, transformed in pairs]


def examples(families: Iterable[Family], per_family: int, seed: int,
             transforms: Sequence[Transform] = (), transformed_share: float = 0.5
             ) -> list[Example]:
    out: list[Example] = []
    for family in families:
        out.extend(family_examples(family, per_family, seed, transforms, transformed_share))
    return out


def negative_examples(texts: Iterable[str], weight: float) -> list[Example]:
    """Ordinary texts from outside the corpus, each weighing `weight`."""
    unique = list(dict.fromkeys(t.strip() for t in texts if t.strip()))
    return [Example(t, NONE, NEGATIVES_KEY, weight) for t in unique]


def labelled_negatives(path: Path) -> list[str]:
    """The messages labelled none ("-| text") of a labelled corpus file (tests/data/...)."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the labelled corpus: {exc}") from None
    out = []
    for line in _messages(doc):
        labels, sep, text = line.partition("|")
        if sep and labels.strip() == "-" and text.strip():
            out.append(text.strip())
    return out


def _messages(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "messages" and isinstance(value, list):
                yield from (v for v in value if isinstance(v, str))
            else:
                yield from _messages(value)
    elif isinstance(node, list):
        for item in node:
            yield from _messages(item)
