"""Starter text folding, applied identically to lexicon terms and to text.

Casefold, compatibility-fold (fancy alphabets, fullwidth), drop invisible format characters
(zero-width joiners used to split words), strip accents, fold a few letters NFKD leaves alone,
and turn punctuation used as separators ("teaser-mineure", "n_u_d_e_s") into spaces. The text
intelligence issue replaces this with decancer-based folding that keeps original offsets.
"""

from __future__ import annotations

import re
import unicodedata

_EXTRA = {"ø": "o", "ß": "ss", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th",
          "ı": "i"}
_SEPARATORS = re.compile(r"[\s\-_.,;:!?/\\|*~'\"`()\[\]{}<>+=#@&^%$]+")


class _FoldTable(dict[int, str | None]):
    """`str.translate` table: drops combining marks and invisible format characters, maps the
    extra letters; each code point is looked up once, then served from the dict in C."""

    def __missing__(self, code: int) -> str | None:
        ch = chr(code)
        value = None if unicodedata.category(ch) in ("Mn", "Cf") else _EXTRA.get(ch, ch)
        self[code] = value
        return value


_TABLE = _FoldTable()


def fold(text: str) -> str:
    """Folded text with single spaces between words and one space at each end."""
    text = text.casefold()
    if not text.isascii():  # ASCII is already NFKD and has no marks or format characters
        text = unicodedata.normalize("NFKD", text).translate(_TABLE)
    return f" {_SEPARATORS.sub(' ', text).strip()} "
