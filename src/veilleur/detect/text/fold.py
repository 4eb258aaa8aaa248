"""Obfuscation-proof text views with offsets back into the original text.

Three views of one text, all derived once:
- `plain`: invisible characters (Unicode Cf) removed, look-alikes and fancy alphabets folded
  to plain lowercase letters (decancer, anyascii as fallback), other symbols and emoji as
  separators. Numbers stay numbers: ages and links are read here.
- `collapsed`: `plain` with our own collapse map inside tokens that hold a letter (leet digits
  0→o 3→e 4/@→a 1/!→i $/5→s, and the x/v-for-u swaps of "nxdes"/"nvde"). Same length as
  `plain`, so offsets carry over.
- `glued`: the tokens of `collapsed` with every separator removed ("n.u.d.e.s" → "nudes").
  Terms are matched here, and a match must line up with tokens (see `Tokens.accepts`).

Lexicon terms go through the very same functions, so patterns and text always agree.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

import decancer_py
from anyascii import anyascii

_COLLAPSE = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "@": "a",
                           "$": "s", "!": "i", "x": "u", "v": "u"})
_XV = str.maketrans({"x": "u", "v": "u"})
_HAS_LETTER = re.compile(r"[a-z]")
_SEPARATORS = re.compile(r"[^a-z0-9@$]+")
_WORD = re.compile(r"[a-z0-9@$]+")
_NEEDS_TOKENS = re.compile(r"[0-9@$!]")
_TOKEN_CHAR = r"(?:[a-z0-9@$]|(?<=[a-z0-9])!(?=[a-z0-9]))"
# A token holding at least one leet character, matched from its first character.
_MIXED = re.compile(rf"(?<![a-z0-9@$]){_TOKEN_CHAR}*?(?:[0-9@$]|(?<=[a-z0-9])!(?=[a-z0-9]))"
                    rf"{_TOKEN_CHAR}*")


@lru_cache(maxsize=65536)
def fold_char(ch: str) -> str:
    """The plain form of one non-ASCII character (possibly empty or several letters)."""
    cat = unicodedata.category(ch)
    if cat == "Cf":
        return ""
    if cat[0] in "LNM":
        out = str(decancer_py.parse(ch))
        if out and out.isascii() and out.strip():
            return out.lower()
        out = anyascii(ch).lower()
        return out if out.isascii() else " "
    if cat == "Sc":  # "20€": keep the currency readable for price patterns
        return {"€": " eur ", "£": " gbp ", "¥": " yen "}.get(ch, " ")
    nfkc = unicodedata.normalize("NFKC", ch)
    if nfkc.isascii() and nfkc.strip():
        return nfkc.lower()  # fullwidth punctuation: "．" → "."
    if cat == "So":  # letter-like symbols (🅽, ⓝ) become their letter; emoji a separator
        out = anyascii(ch)
        if len(out) == 1 and out.isalnum():
            return out.lower()
    return " "


class _FoldTable(dict[int, str]):
    """`str.translate` table: each code point is folded once, then served from C."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        value = ch.lower() if code < 128 else fold_char(ch)
        self[code] = value
        return value


_TABLE = _FoldTable()


class Folded:
    """A text and its plain view, with offsets from the plain view back to the text."""

    __slots__ = ("_offsets", "original", "plain")

    def __init__(self, original: str, plain: str) -> None:
        self.original = original
        self.plain = plain
        self._offsets: list[int] | None = None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The span of `original` that `plain[start:end]` came from."""
        if len(self.plain) == len(self.original) and self.original.isascii():
            return start, end
        if end <= start:
            return start, start
        if self._offsets is None:  # only texts with a hit ever need them
            offsets: list[int] = []
            for i, ch in enumerate(self.original):
                offsets.extend([i] * len(_TABLE[ord(ch)]))
            self._offsets = offsets
        return self._offsets[start], self._offsets[end - 1] + 1


def fold(text: str) -> Folded:
    if text.isascii():
        return Folded(text, text.lower())
    return Folded(text, text.translate(_TABLE))


def collapse(plain: str) -> str:
    """`plain` with the collapse map applied inside tokens that hold a letter (same length)."""
    if not _NEEDS_TOKENS.search(plain):
        return plain.translate(_XV)  # no digits or @$!: only the x/v swaps apply
    # Tokens with leet characters are collapsed whole if they hold a letter ("n00dz", "$ex")
    # and left alone if not ("2024", "20$"); x and v never occur in the latter.
    return _MIXED.sub(_collapse_token, plain).translate(_XV)


def _collapse_token(m: re.Match[str]) -> str:
    tok = m.group()
    return tok.translate(_COLLAPSE) if _HAS_LETTER.search(tok) else tok


@dataclass(frozen=True, slots=True)
class Tokens:
    """Tokens of the collapsed view and their concatenation, the glued view."""

    glued: str
    starts: tuple[int, ...]
    """Start of each token in `glued`."""
    spans: tuple[tuple[int, int], ...]
    """(start, end) of each token in the collapsed (= plain) view."""

    def token_at(self, pos: int) -> int:
        return bisect_right(self.starts, pos) - 1

    def accepts(self, start: int, end: int, shape: tuple[int, ...]) -> tuple[int, int] | None:
        """The plain-view span of a glued match [start, end), if it lines up with tokens.

        It must begin at a token start and end at a token end, and either cover exactly one
        token ("caldodepollo"), or tokens shaped like the term itself ("caldo de pollo"), or
        only one-character tokens ("n.u.d.e.s"), or only tokens of three characters or more
        (a compound split in two: "school girls"). So "sac à dos" never yields "ados".
        """
        first = self.token_at(start)
        last = self.token_at(end - 1)
        if self.starts[first] != start:
            return None
        last_end = self.starts[last] + self.spans[last][1] - self.spans[last][0]
        if last_end != end:
            return None
        if first != last:
            lengths = tuple(e - s for s, e in self.spans[first:last + 1])
            if lengths != shape and any(n != 1 for n in lengths) \
                    and any(n < 3 for n in lengths):
                return None
        return self.spans[first][0], self.spans[last][1]


def glued(collapsed: str) -> str:
    """The glued view: every separator removed (after `collapse`, "!" is never inside one)."""
    return _SEPARATORS.sub("", collapsed)


def tokens(collapsed: str) -> Tokens:
    spans = tuple(m.span() for m in _WORD.finditer(collapsed))
    starts = []
    pos = 0
    for s, e in spans:
        starts.append(pos)
        pos += e - s
    return Tokens("".join(collapsed[s:e] for s, e in spans), tuple(starts), spans)


def term_form(term: str) -> tuple[str, tuple[int, ...]]:
    """How a lexicon term is matched: its glued form and its token shape."""
    collapsed = collapse(fold(term).plain)
    toks = tokens(collapsed)
    assert toks.glued == glued(collapsed)
    return toks.glued, tuple(e - s for s, e in toks.spans)
