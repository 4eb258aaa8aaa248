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
from itertools import accumulate

import decancer_py
from anyascii import anyascii

_COLLAPSE = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t",
                           "8": "b", "9": "g", "@": "a", "$": "s", "!": "i", "|": "l",
                           "(": "c", "+": "t", "x": "u", "v": "u"})
_HAS_LETTER = re.compile(r"[a-z]")
_SEPARATORS = re.compile(r"[^a-z0-9@$]+")
_WORD = re.compile(r"[a-z0-9@$]+")
_NOT_TOKEN_BYTES = bytes(b for b in range(128) if not _WORD.fullmatch(chr(b)))
_NEEDS_TOKENS = re.compile(r"[0-9@$!|(+]")
# A token holding a leet character, matched whole: digits, @ and $ anywhere ("n00dz", "$ex"),
# and "!", "|", "(", "+" only between two token characters ("n!ce", "col|ege"; "(ute" and
# "ici!" are punctuation).
_TOKEN = r"[a-z0-9@$]"
_INNER = r"[!|(+]+"
_MIXED = re.compile(rf"(?<![a-z0-9@$]){_TOKEN}*[0-9@$]{_TOKEN}*(?:{_INNER}{_TOKEN}+)*"
                    rf"|(?<![a-z0-9@$]){_TOKEN}+(?:{_INNER}{_TOKEN}+)+")
# "nudez", "anz", "tez": a z ending a word reads as s. Terms go through it too, so "nudz" and
# "nudes" still differ; the cost is French "-ez" verbs reading as "-es" ("volez" ~ "volés").
# A spelled-out word's z stands alone ("n_u_d_z") and is left to the terms' own z spelling
# (`final_z`): here it could as well start the next word ("z.a.f.i.r.o", "p i z z a").
_FINAL_Z = re.compile(r"(?<=[a-z])z+(?![a-z0-9@$])")
_LOOKALIKES = {"\u04cf": "l", "\u04c0": "l", "\u01c0": "l", "\u0399": "i",
               "\u2022": "*", "\u2219": "*", "\u25cf": "*", "\u2027": ".", "\u00b7": ".",
               "\u22c5": ".", "\u30fb": "."}
"""Look-alikes whose usual transliteration is not the letter they look like: Cyrillic palochka
(ӏ, Ӏ) and the dental click (ǀ) look like l. Bullets and middle dots are kept as ASCII marks,
not spaces: "f•o•r a n•u•d•e" must still show where a spelled-out word ends."""
_PARENTHESIZED = re.compile(r"\(([a-z0-9]+)\)|([0-9]+)\.")


def with_words(name: str) -> str:
    """A place's name, followed by its words in brackets when they are glued in camel case
    ("CumtribFR (Cumtrib FR)", "NSFWLeaks (NSFW Leaks)"): terms must line up with whole
    words, and a glued name hides them. The name itself stays first, as it was written.
    Digits are not cut off: they are leet as often as numbers ("N00dz")."""
    cuts = [i for i in range(1, len(name))
            if name[i].isupper() and (name[i - 1].islower() or (
                name[i - 1].isupper() and i + 1 < len(name) and name[i + 1].islower()))]
    if not cuts:
        return name
    words = [name[a:b] for a, b in zip([0, *cuts], [*cuts, len(name)], strict=True)]
    return f"{name} ({' '.join(words)})"


def place_text(name: str | None, about: str | None) -> str:
    """What is read of a server or channel: its name with its words (`with_words`), and its
    description or topic on the next line."""
    return "\n".join(x for x in (with_words(name or ""), about) if x)


@lru_cache(maxsize=65536)
def fold_char(ch: str) -> str:
    """The plain form of one non-ASCII character (possibly empty or several letters)."""
    cat = unicodedata.category(ch)
    if cat == "Cf" or cat[0] == "M":
        # Invisible characters, and combining marks: a mark never adds a letter a reader
        # sees ("n̶u̶d̶e̶s̶"; U+0363.. are tiny letters *above* a letter, read as decoration).
        return ""
    if ch in _LOOKALIKES:
        return _LOOKALIKES[ch]
    if cat[0] in "LN":
        # An accented Latin letter is its base letter ("ó" → "o"): decided here, before
        # decancer, which reads some of them as other letters (0.4.1: "ó" → "p", "ô" → "q").
        # Only Latin-1 and Latin Extended-A: further on, marked letters stand in for others
        # (small-caps "ǫ" is a q).
        if "\u00c0" <= ch <= "\u017f":
            base = "".join(c for c in unicodedata.normalize("NFKD", ch)
                           if not unicodedata.combining(c))
            if base.isascii() and base.isalnum():
                return base.lower()
        nfkc = unicodedata.normalize("NFKC", ch).lower()
        enclosed = _PARENTHESIZED.fullmatch(nfkc)
        if enclosed:  # "⒫", "⑴", "⒈": the letter or number without its brackets
            return enclosed.group(1) or enclosed.group(2)
        out = str(decancer_py.parse(ch))
        if out and out.isascii() and out.strip():
            return out.lower()
        out = anyascii(ch).lower()
        return out if out.isascii() else " "
    if cat == "Sc":  # "20€": keep the currency readable for price patterns
        return {"€": " eur ", "£": " gbp ", "¥": " yen "}.get(ch, " ")
    nfkc = unicodedata.normalize("NFKC", ch).lower()
    enclosed = _PARENTHESIZED.fullmatch(nfkc)
    if enclosed:  # "⒜" is a symbol: the letter without its brackets
        return enclosed.group(1) or enclosed.group(2)
    if nfkc.isascii() and nfkc.strip():
        return nfkc  # fullwidth punctuation: "．" → "."
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


# The rules and the learned tier read the same message, other detectors (names, links)
# fold other texts in between: the last few texts folded and views collapsed are kept (by
# identity, so never a wrong hit) and each is computed once. Each memo is one tuple, read and
# replaced whole: safe across threads.
_MEMO = 4
_folds: tuple[tuple[str, Folded], ...] = ()
_collapses: tuple[tuple[str, str], ...] = ()


def fold(text: str) -> Folded:
    global _folds
    memo = _folds
    for seen, folded in memo:
        if seen is text:
            return folded
    folded = Folded(text, text.lower() if text.isascii() else text.translate(_TABLE))
    _folds = ((text, folded), *memo[:_MEMO - 1])
    return folded


def collapse(plain: str) -> str:
    """`plain` with the collapse map applied inside tokens that hold a letter (same length)."""
    global _collapses
    memo = _collapses
    for seen, collapsed in memo:
        if seen is plain:
            return collapsed
    collapsed = _collapse(plain)
    _collapses = ((plain, collapsed), *memo[:_MEMO - 1])
    return collapsed


def _collapse(plain: str) -> str:
    if _NEEDS_TOKENS.search(plain):
        # Tokens with leet characters are collapsed whole if they hold a letter ("n00dz",
        # "$ex") and left alone if not ("2024", "20$"); x and v never occur in the latter.
        plain = _MIXED.sub(_collapse_token, plain)
    if "z" in plain:
        plain = _FINAL_Z.sub(lambda m: "s" * len(m.group()), plain)
    # Two replaces in C: `translate` looks every character up in a dict.
    return plain.replace("x", "u").replace("v", "u")


def _collapse_token(m: re.Match[str]) -> str:
    tok = m.group()
    return tok.translate(_COLLAPSE) if _HAS_LETTER.search(tok) else tok


def letter_pattern(letter: str) -> str:
    """A regex for one letter of a phrase read on the plain view: any character the collapsed
    view reads as it, held as long as the writer likes ("aaans", "4ns", "anz")."""
    forms = {letter, *(k for k, v in _COLLAPSE_FORMS.items() if v == letter)}
    if letter == "s":
        forms.add("z")
    if len(forms) == 1:
        return re.escape(letter) + "+"
    return "[" + "".join(re.escape(f) for f in sorted(forms)) + "]+"


_COLLAPSE_FORMS = {chr(k): v for k, v in _COLLAPSE.items() if isinstance(v, str)}


@dataclass(frozen=True, slots=True)
class Tokens:
    """Tokens of the collapsed view and their concatenation, the glued view."""

    glued: str
    starts: tuple[int, ...]
    """Start of each token in `glued`."""
    spans: tuple[tuple[int, int], ...]
    """(start, end) of each token in the collapsed (= plain) view."""
    text: str = ""
    """The collapsed view itself (for the gaps between tokens)."""

    def token_at(self, pos: int) -> int:
        return bisect_right(self.starts, pos) - 1

    def accepts(self, start: int, end: int, shape: tuple[int, ...] | None
                ) -> tuple[int, int] | None:
        """The plain-view span of a glued match [start, end), if it lines up with tokens.

        It must begin at a token start and end at a token end, and either cover exactly one
        token ("caldodepollo"), or tokens shaped like the term itself ("caldo de pollo"), each
        word possibly spelled out in one-character tokens ("envoie m o i une photo"), or only
        one-character tokens ("n.u.d.e.s"), or only tokens of three characters or more (a
        compound split in two: "school girls"). So "sac à dos" never yields "ados".
        `shape=None` checks only the alignment (for a match the caller has vetted).
        """
        first = self.token_at(start)
        last = self.token_at(end - 1)
        if self.starts[first] != start:
            return None
        last_end = self.starts[last] + self.spans[last][1] - self.spans[last][0]
        if last_end != end:
            return None
        if first != last:
            if self._inside_spelled_word(first, last):
                return None
            lengths = tuple(e - s for s, e in self.spans[first:last + 1])
            if shape is not None and lengths != shape and any(n != 1 for n in lengths) \
                    and any(n < 3 for n in lengths) \
                    and not _spelled_out(lengths, shape, self._ligatures(first, last)):
                return None
        return self.spans[first][0], self.spans[last][1]

    def word_cut(self, pos: int) -> bool:
        """Whether words meet at glued position `pos`, for `squeeze`: at a token start, but
        not inside a spelled-out word ("t_e_l_l" keeps its "ll" as one run, as "tell" does)."""
        i = self.token_at(pos)
        return i > 0 and self.starts[i] == pos and not self._spelled_pair(i - 1)

    def _spelled_pair(self, i: int) -> bool:
        """Whether tokens i and i + 1 are letters of one spelled-out word: both one letter,
        and their gap is the gap of a neighbouring letter pair."""
        if not (self._single(i) and self._single(i + 1)):
            return False
        gap = self._gap(i)
        return (self._single(i + 2) and self._gap(i + 1) == gap) \
            or (self._single(i - 1) and self._gap(i - 1) == gap)

    def _ligatures(self, first: int, last: int) -> frozenset[int]:
        return frozenset(i - first for i in range(first, last + 1)
                         if self.text[self.spans[i][0]:self.spans[i][1]] in _LIGATURES)

    def _gap(self, i: int) -> str:
        """What separates token i from token i + 1."""
        return self.text[self.spans[i][1]:self.spans[i + 1][0]]

    def _single(self, i: int) -> bool:
        """Whether token i is one letter (a lone digit, as in "a las 7 m y son", is a number,
        not a spelled-out letter)."""
        return 0 <= i < len(self.spans) and self.spans[i][1] - self.spans[i][0] == 1 \
            and self.text[self.spans[i][0]].isalpha()

    def _inside_spelled_word(self, first: int, last: int) -> bool:
        """Whether a match starting or ending on one-letter tokens cuts a word spelled out
        with one separator ("f.i.l.t.r.a.d.o" holds no "a.d.o"): a letter joined to the
        match's edge by the gap the match's own letters use belongs to the same word. A
        different gap ("s.e.n.d n.u.d.e.s") or a longer token marks a word's edge."""
        if not self.text:
            return False
        if self._single(first - 1) and self._spelled_pair(first) \
                and self._gap(first - 1) == self._gap(first):
            return True
        return self._single(last + 1) and self._spelled_pair(last - 1) \
            and self._gap(last) == self._gap(last - 1)


_LIGATURES = frozenset({"oe", "ae", "ss", "ij", "fi", "fl", "ff"})
"""Two-letter tokens that are one character before folding (œ, æ, ß, ĳ, ﬁ, ﬂ, ﬀ)."""


def _spelled_out(lengths: tuple[int, ...], shape: tuple[int, ...],
                 ligatures: frozenset[int] = frozenset()) -> bool:
    """Whether tokens of these lengths are the term's words, some spelled out letter by
    letter: each word of length n is one token of length n, or one-letter tokens (and
    `ligatures`, the indexes of tokens that fold from one character: "s œ u r") that add up
    to n."""
    i = 0
    for n in shape:
        if i < len(lengths) and lengths[i] == n:
            i += 1
            continue
        total = 0
        while total < n and i < len(lengths) and (lengths[i] == 1 or i in ligatures):
            total += lengths[i]
            i += 1
        if total != n:
            return False
    return i == len(lengths)


def glued(collapsed: str) -> str:
    """The glued view: every separator removed (after `collapse`, "!" is never inside one)."""
    if collapsed.isascii():  # always, after `fold`: deleting bytes is a C loop, no regex
        return collapsed.encode("ascii").translate(None, _NOT_TOKEN_BYTES).decode("ascii")
    return _SEPARATORS.sub("", collapsed)


def tokens(collapsed: str, glued_view: str | None = None) -> Tokens:
    """`glued_view`: `glued(collapsed)` when the caller has it (the same string)."""
    spans = tuple([m.span() for m in _WORD.finditer(collapsed)])
    starts = tuple(accumulate([e - s for s, e in spans[:-1]], initial=0)) if spans else ()
    view = glued_view if glued_view is not None else "".join(
        collapsed[s:e] for s, e in spans)
    return Tokens(view, starts, spans, collapsed)


def final_z(glued_form: str, shape: tuple[int, ...] = ()) -> list[str]:
    """The spelled-out "n_u_d_z" forms of a term whose words end in s (a word's final s
    written z, one word at a time: "e-n-v-o-y-e-z vos"): `collapse` reads a z ending a word
    as s, but not a z standing alone, so a term matches both spellings. `shape` gives the
    words' lengths (the whole glued form is one word without it)."""
    if len(glued_form) < 4:
        return []
    forms = []
    end = 0
    for length in shape or (len(glued_form),):
        end += length
        word = glued_form[end - length:end]
        if word.endswith("s") and not word.endswith("ss"):
            forms.append(glued_form[:end - 1] + "z" + glued_form[end:])
    return forms


def term_form(term: str) -> tuple[str, tuple[int, ...]]:
    """How a lexicon term is matched: its glued form and its token shape."""
    collapsed = collapse(fold(term).plain)
    toks = tokens(collapsed)
    assert toks.glued == glued(collapsed)
    return toks.glued, tuple(e - s for s, e in toks.spans)
