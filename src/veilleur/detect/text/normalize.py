"""Starter text folding, applied identically to lexicon terms and to text.

Casefold, compatibility-fold (fancy alphabets, fullwidth), drop invisible format characters
(zero-width joiners used to split words), strip accents, fold a few letters NFKD leaves alone,
and turn punctuation used as separators ("teaser-mineure", "n_u_d_e_s") into spaces. The text
intelligence issue replaces this with decancer-based folding that keeps original offsets.
"""

from __future__ import annotations

import re
import unicodedata

_EXTRA = str.maketrans({"ø": "o", "ß": "ss", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d",
                        "þ": "th", "ı": "i"})
_SEPARATORS = re.compile(r"[\s\-_.,;:!?/\\|*~'\"`()\[\]{}<>+=#@&^%$]+")


def fold(text: str) -> str:
    """Folded text with single spaces between words and one space at each end."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(
        ch for ch in text if unicodedata.category(ch) not in ("Mn", "Cf")
    ).translate(_EXTRA)
    return f" {_SEPARATORS.sub(' ', text).strip()} "
