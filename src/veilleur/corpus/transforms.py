"""Obfuscation transforms: how people respell a message so that a word filter misses it.

Each transform is a pure function `(text, rng) -> str` that keeps the text's meaning for a
human reader: look-alike letters from other scripts and fancy alphabets, invisible characters,
combining marks, keycap and emoji digits, regional-indicator letters, separators inside words,
spaced and spelled-out links, leet, dropped vowels, repeated letters, case mixing. All of them
live in one registry, `TRANSFORMS`, so the corpus generator, the learned-tier trainer and the
property tests apply the same set: `apply(name, text, rng)` for one, `chain(text, rng, k)` for
a random chain of k.

Transforms act on words (runs of ASCII letters); digits are touched only by the digit
transforms, and links only by the link transforms, so a transform never changes what a number
or an address says. Randomness comes only from the `rng` argument: the same seed gives the
same text.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType

Transform = Callable[[str, random.Random], str]

_WORD = re.compile(r"(?<![^\W_])[^\W\d_]+(?![^\W_])")
"""A word: a run of letters, accented ones included (a split "collég iennes" is no word).
Letters next to digits ("8th", "14ans") are no word: they are left as they are."""
_DIGITS = re.compile(r"(?<![^\W\d_])[0-9]+(?![^\W\d_])")
"""A number standing as a number: digits inside a word are leet ("n0des") and stay."""
# A link as people paste it: a host with a dot and a top-level domain, an optional path.
_LINK = re.compile(r"(?<![\w.-])(?:https?://)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}"
                   r"(?:/[^\s]*)?", re.IGNORECASE)
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


class UnknownTransformError(KeyError):
    pass


# -- helpers ---------------------------------------------------------------------------------

def _outside_links(text: str, fn: Callable[[str], str]) -> str:
    """`fn` applied to the text between links (links keep their exact spelling)."""
    out, pos = [], 0
    for m in _LINK.finditer(text):
        out.append(fn(text[pos:m.start()]))
        out.append(m.group())
        pos = m.end()
    out.append(fn(text[pos:]))
    return "".join(out)


def _per_letter(table: Mapping[str, str], share: float = 0.6) -> Transform:
    """Replace letters that have an entry in `table` (keyed by lowercase and uppercase), each
    with probability `share`, at least one per text when any can be replaced."""
    def transform(text: str, rng: random.Random) -> str:
        def sub(part: str) -> str:
            chars = list(part)
            spots = [i for i, c in enumerate(chars) if c in table]
            if not spots:
                return part
            chosen = {i for i in spots if rng.random() < share} or {rng.choice(spots)}
            return "".join(table[c] if i in chosen else c for i, c in enumerate(chars))
        return _outside_links(text, sub)
    return transform


def _named(prefix: str, upper: bool = True, lower: bool = True) -> dict[str, str]:
    """Letters of a Unicode alphabet found by name ("MATHEMATICAL BOLD SMALL A"); letters the
    alphabet lacks (the holes of the script and fraktur blocks) are left out."""
    table = {}
    for c in _LETTERS:
        for case, src in (("SMALL", c), ("CAPITAL", c.upper())):
            if (case == "SMALL" and not lower) or (case == "CAPITAL" and not upper):
                continue
            try:
                table[src] = unicodedata.lookup(f"{prefix} {case} {c.upper()}")
            except KeyError:
                continue
    return table


def _offset(base: int, letters: str = _LETTERS, both_cases: bool = True) -> dict[str, str]:
    table = {c: chr(base + i) for i, c in enumerate(letters)}
    if both_cases:
        table.update({c.upper(): v for c, v in table.items()})
    return table


def _both(pairs: str) -> dict[str, str]:
    """A table from "aа eе ..." pairs (ASCII letter, look-alike)."""
    return {p[0]: p[1:] for p in pairs.split()}


# -- look-alikes -----------------------------------------------------------------------------

CYRILLIC = _both("aа cс eе oо pр xх yу iі jј sѕ hһ dԁ qԛ wԝ lӏ "
                 "AА BВ CС EЕ HН KК MМ OО PР TТ XХ YҮ IІ JЈ SЅ")
GREEK = _both("oο aα iι vν uυ kκ pρ yγ "
              "AΑ BΒ EΕ ZΖ HΗ IΙ KΚ MΜ NΝ OΟ PΡ TΤ YΥ XΧ")
ARMENIAN = _both("oօ nո uս hհ qզ gց dժ")
CHEROKEE = {k: v for c, v in _both("AᎪ BᏴ CᏟ DᎠ EᎬ GᏀ HᎻ JᎫ KᏦ LᏞ MᎷ PᏢ RᎡ SᏚ TᎢ VᏙ WᎳ ZᏃ").items()
            for k in (c, c.lower())}
"""Cherokee has only capitals that look Latin: they replace either case."""
FULLWIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F) if chr(c).isalnum()}
SMALL_CAPS = {k: v for c, v in zip(_LETTERS, "ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘǫʀꜱᴛᴜᴠᴡxʏᴢ", strict=True)
              for k in (c, c.upper()) if v != "x"}
SUPERSCRIPT = {k: v for c, v in zip(_LETTERS, "ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖqʳˢᵗᵘᵛʷˣʸᶻ", strict=True)
               for k in (c, c.upper()) if v != "q"}
SUBSCRIPT = {k: v for c, v in zip("aehijklmnoprstuvx", "ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ", strict=True)
             for k in (c, c.upper())}
CIRCLED = {**_offset(0x24D0, both_cases=False), **{c.upper(): chr(0x24B6 + i)
                                                  for i, c in enumerate(_LETTERS)}}
PARENTHESIZED = _offset(0x249C)
NEGATIVE_CIRCLED = _offset(0x1F150)
SQUARED = _offset(0x1F130)
NEGATIVE_SQUARED = _offset(0x1F170)
REGIONAL = _offset(0x1F1E6)

MATH_ALPHABETS = ("BOLD", "ITALIC", "BOLD ITALIC", "SCRIPT", "BOLD SCRIPT", "FRAKTUR",
                  "BOLD FRAKTUR", "DOUBLE-STRUCK", "SANS-SERIF", "SANS-SERIF BOLD",
                  "SANS-SERIF ITALIC", "SANS-SERIF BOLD ITALIC", "MONOSPACE")

# -- invisible characters and marks ----------------------------------------------------------

INVISIBLE = ("\u200b", "\u200c", "\u200d", "\u2060", "\u00ad", "\ufeff", "\u2061", "\u2062",
             "\u2063", "\u2064", "\u180e", "\u034f",
             *(chr(c) for c in range(0xFE00, 0xFE10)))
"""ZWSP, ZWNJ, ZWJ, word joiner, soft hyphen, BOM, invisible operators, Mongolian vowel
separator, combining grapheme joiner, variation selectors."""
TAGS = tuple(chr(c) for c in range(0xE0020, 0xE0080))
COMBINING = tuple(chr(c) for c in range(0x0300, 0x0370) if c != 0x034F)


def _insert_inside_words(pool: tuple[str, ...], share: float = 0.5) -> Transform:
    """Characters from `pool` inserted between the letters of words."""
    def transform(text: str, rng: random.Random) -> str:
        def word(m: re.Match[str]) -> str:
            w = m.group()
            if len(w) < 2:
                return w
            out = [w[0]]
            for c in w[1:]:
                if rng.random() < share:
                    out.append(rng.choice(pool))
                out.append(c)
            if len(out) == len(w):  # at least one per word
                out.insert(rng.randrange(1, len(w)), rng.choice(pool))
            return "".join(out)
        return _outside_links(text, lambda part: _WORD.sub(word, part))
    return transform


def combining_marks(text: str, rng: random.Random) -> str:
    """One or two combining marks after letters ("ñ̃ṵ̈d́es")."""
    def word(m: re.Match[str]) -> str:
        return "".join(c + "".join(rng.choice(COMBINING) for _ in range(rng.randint(0, 2)))
                       for c in m.group())
    return _outside_links(text, lambda part: _WORD.sub(word, part))


# -- digits ----------------------------------------------------------------------------------

def keycap_digits(text: str, rng: random.Random) -> str:
    """"14" → "1️⃣4️⃣" (digit, emoji presentation selector, combining enclosing keycap); the
    selector is dropped at times, as keyboards do."""
    def digit(c: str) -> str:
        return c + ("\ufe0f" if rng.random() < 0.8 else "") + "\u20e3"
    return _outside_links(text, lambda part: _DIGITS.sub(
        lambda m: "".join(digit(c) for c in m.group()), part))


def _digit_alphabets() -> list[str]:
    """Ten-digit alphabets a reader sees as ordinary digits: fullwidth, mathematical,
    superscript, subscript, dingbat circled sans-serif, outlined."""
    alphabets = ["".join(chr(0xFF10 + i) for i in range(10)),
                 "⁰¹²³⁴⁵⁶⁷⁸⁹", "₀₁₂₃₄₅₆₇₈₉"]
    for base in (0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1FBF0):
        alphabets.append("".join(chr(base + i) for i in range(10)))
    return alphabets


DIGIT_ALPHABETS = tuple(_digit_alphabets())
_CIRCLED_NUMBERS = {str(n): chr(0x2460 + n - 1) for n in range(1, 21)}
_NEGATIVE_CIRCLED_NUMBERS = {str(n): chr(0x2776 + n - 1) for n in range(1, 11)}


def emoji_digits(text: str, rng: random.Random) -> str:
    """Numbers in another digit alphabet ("𝟭𝟰", "１４", "¹⁴") or, up to twenty, as one
    circled number ("⑭", "❿", "🔟")."""
    def number(m: re.Match[str]) -> str:
        n = m.group()
        choices: list[str] = []
        if n in _CIRCLED_NUMBERS:
            choices.append(_CIRCLED_NUMBERS[n])
        if n in _NEGATIVE_CIRCLED_NUMBERS:
            choices.append(_NEGATIVE_CIRCLED_NUMBERS[n])
        if n == "10":
            choices.append("\U0001f51f")
        alphabet = rng.choice(DIGIT_ALPHABETS)
        choices.append("".join(alphabet[int(c)] for c in n))
        return rng.choice(choices)
    return _outside_links(text, lambda part: _DIGITS.sub(number, part))


# -- separators inside words -----------------------------------------------------------------

def _separated(seps: tuple[str, ...]) -> Transform:
    """Letters of some words split by a separator ("n.u.d.e.s"). Two neighbouring words are
    never both split: "n u d e s p a c k" would no longer say where one word ends, for a
    reader as for a machine."""
    def transform(text: str, rng: random.Random) -> str:
        sep = rng.choice(seps)

        def part_fn(part: str) -> str:
            words = list(_WORD.finditer(part))
            if not words:
                return part
            def single(i: int) -> bool:
                return 0 <= i < len(words) and len(words[i].group()) == 1

            # A word beside a one-letter word stays whole too: "o r i'll", "f o r a n u d e"
            # run letters of two words together for a reader as for a machine.
            eligible = [i for i in range(len(words))
                        if len(words[i].group()) > 1 and not single(i - 1)
                        and not single(i + 1)]
            chosen: set[int] = set()
            for i in eligible:
                if i - 1 not in chosen and rng.random() < 0.5:
                    chosen.add(i)
            if not chosen and eligible:
                chosen.add(rng.choice(eligible))
            out, pos = [], 0
            for i, m in enumerate(words):
                out.append(part[pos:m.start()])
                out.append(sep.join(m.group()) if i in chosen else m.group())
                pos = m.end()
            out.append(part[pos:])
            return "".join(out)
        return _outside_links(text, part_fn)
    return transform


# -- links -----------------------------------------------------------------------------------

def _link_rewrite(dots: tuple[str, ...], slashes: tuple[str, ...]) -> Transform:
    def transform(text: str, rng: random.Random) -> str:
        def link(m: re.Match[str]) -> str:
            url = re.sub(r"^https?://", "", m.group(), flags=re.IGNORECASE)
            host, slash, path = url.partition("/")
            dot, sl = rng.choice(dots), rng.choice(slashes)
            out = host.replace(".", dot)
            if slash:
                out += sl + path.replace("/", sl)
            return out
        return _LINK.sub(link, text)
    return transform


# -- spelling --------------------------------------------------------------------------------

LEET_CLASSIC = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7", "b": "8", "g": "9"}
LEET_SYMBOLS = {"a": "@", "s": "$", "i": "!", "c": "(", "l": "|", "t": "+"}
_VOWELS = frozenset("aeiouAEIOU")


def _leet(table: Mapping[str, str], share: float = 0.6) -> Transform:
    """Letters swapped for digits or symbols; the first letter of a word is kept, as people do
    ("n0udz", "p3d0"), so the word still starts like itself. A word never ends in "!", "|",
    "(" or "+": there a reader takes it for punctuation ("ici!")."""
    def transform(text: str, rng: random.Random) -> str:
        def swap(c: str, last: bool) -> str:
            new = table.get(c.lower(), c)
            if last and not (new.isalnum() or new in "@$"):
                return c
            return new if rng.random() < share else c

        def word(m: re.Match[str]) -> str:
            w = m.group()
            return w[0] + "".join(swap(c, i == len(w) - 1) for i, c in enumerate(w[1:], 1))
        return _outside_links(text, lambda part: _WORD.sub(word, part))
    return transform


def leet_new(text: str, rng: random.Random) -> str:
    """Newer forms: a final "s" written "z" ("nudez"), "o" written "0", "u" written "v" or
    "x" ("nxdes")."""
    def word(m: re.Match[str]) -> str:
        w = m.group()
        if len(w) < 3:
            return w
        chars = list(w)
        for i, c in enumerate(chars[1:], 1):
            low = c.lower()
            if low == "o" and rng.random() < 0.7:
                chars[i] = "0"
            elif low == "u" and rng.random() < 0.7:
                chars[i] = rng.choice("vx")
        if chars[-1] in "sS" and rng.random() < 0.7:
            chars[-1] = "z"
        return "".join(chars)
    return _outside_links(text, lambda part: _WORD.sub(word, part))


def dropped_vowels(text: str, rng: random.Random) -> str:
    """Inner vowels of longer words dropped ("ndes", "pdo"): the first and last letters stay."""
    def word(m: re.Match[str]) -> str:
        w = m.group()
        if len(w) < 4:
            return w
        inner = "".join(c for c in w[1:-1] if c not in _VOWELS or rng.random() < 0.2)
        return w[0] + inner + w[-1]
    return _outside_links(text, lambda part: _WORD.sub(word, part))


def repeated_letters(text: str, rng: random.Random) -> str:
    """A letter of some words held for three to five ("nuuudes", "pleeease")."""
    def word(m: re.Match[str]) -> str:
        w = m.group()
        if len(w) < 3 or rng.random() < 0.4:
            return w
        # ASCII letters only: "œ" reads as "oe", and "œœœ" is no held letter.
        spots = [i for i, c in enumerate(w) if c.isascii()]
        if not spots:
            return w
        i = rng.choice(spots)
        return w[:i] + w[i] * rng.randint(3, 5) + w[i + 1:]
    return _outside_links(text, lambda part: _WORD.sub(word, part))


def case_mixing(text: str, rng: random.Random) -> str:
    """"NuDeS": each letter's case flipped at random (links included: hosts are caseless,
    invite paths are left alone)."""
    def part_fn(part: str) -> str:
        return "".join(c.swapcase() if c.isalpha() and rng.random() < 0.5 else c for c in part)
    return _outside_links(text, part_fn)


# -- the registry ----------------------------------------------------------------------------

def _registry() -> dict[str, Transform]:
    reg: dict[str, Transform] = {
        "cyrillic": _per_letter(CYRILLIC),
        "greek": _per_letter(GREEK),
        "armenian": _per_letter(ARMENIAN),
        "cherokee": _per_letter(CHEROKEE),
        "fullwidth": _per_letter(FULLWIDTH, share=1.0),
        "small_caps": _per_letter(SMALL_CAPS, share=1.0),
        "superscript": _per_letter(SUPERSCRIPT, share=1.0),
        "subscript": _per_letter(SUBSCRIPT, share=0.5),
        "circled": _per_letter(CIRCLED, share=1.0),
        "parenthesized": _per_letter(PARENTHESIZED, share=1.0),
        "negative_circled": _per_letter(NEGATIVE_CIRCLED, share=1.0),
        "squared": _per_letter(SQUARED, share=1.0),
        "negative_squared": _per_letter(NEGATIVE_SQUARED, share=1.0),
        "regional_indicator": _per_letter(REGIONAL, share=1.0),
    }
    for alphabet in MATH_ALPHABETS:
        name = "math_" + alphabet.lower().replace("-", "_").replace(" ", "_")
        reg[name] = _per_letter(_named(f"MATHEMATICAL {alphabet}"), share=1.0)
    reg.update({
        "zero_width": _insert_inside_words(INVISIBLE),
        "tag_characters": _insert_inside_words(TAGS),
        "combining_marks": combining_marks,
        "keycap_digits": keycap_digits,
        "emoji_digits": emoji_digits,
        "spaced_letters": _separated((" ",)),
        "dotted_letters": _separated((".", ". ")),
        "dashed_letters": _separated(("-",)),
        "underscored_letters": _separated(("_",)),
        "starred_letters": _separated(("*", "•", "/")),
        "spaced_link": _link_rewrite((" . ", ". ", " ."), (" / ", "/ ", " /")),
        "spelled_link": _link_rewrite((" dot ", " point ", " punto "),
                                      (" slash ", " / ")),
        "bracketed_link": _link_rewrite(("[.]", "(.)", "[dot]", "(dot)", "{.}"), ("/",)),
        "leet_classic": _leet(LEET_CLASSIC),
        "leet_symbols": _leet(LEET_SYMBOLS),
        "leet_new": leet_new,
        "dropped_vowels": dropped_vowels,
        "repeated_letters": repeated_letters,
        "case_mixing": case_mixing,
    })
    return reg


TRANSFORMS: Mapping[str, Transform] = MappingProxyType(_registry())
"""Every transform by name."""

_STAGES = (
    (),
    ("spaced_letters", "dotted_letters", "dashed_letters", "underscored_letters",
     "starred_letters"),
    ("leet_classic", "leet_symbols", "leet_new", "dropped_vowels", "repeated_letters",
     "case_mixing"),
)
_LATE = ("zero_width", "tag_characters", "combining_marks")
_LINKS = ("spaced_link", "spelled_link", "bracketed_link")
STAGE: Mapping[str, int] = MappingProxyType(
    {name: next((i for i, names in enumerate(_STAGES) if name in names),
                5 if name in _LINKS else 4 if name in _LATE else 3) for name in TRANSFORMS})
"""Where a transform goes in a chain: a writer splits words (1), spells the letters of the
words left whole (2), dresses letters and digits in another alphabet (3), hides characters
between them (4), and spells out the link last (5): the other transforms leave a link as it
is only while it still looks like one. In another order a transform would cut words another
one made ("n​u*d*e*s", "c a ( h e t t e")."""


GROUP: Mapping[str, str] = MappingProxyType({
    **{n: "leet" for n in ("leet_classic", "leet_symbols", "leet_new")},
    **{n: "separators" for n in _STAGES[1]},
    **{n: "link" for n in _LINKS},
})
"""Transforms a chain takes at most one of: two leets on one word ("adrez$e"), or two
separators, make a spelling nobody writes, and the word boundaries each assumes are gone."""


def apply(name: str, text: str, rng: random.Random) -> str:
    """One named transform of `text`."""
    try:
        transform = TRANSFORMS[name]
    except KeyError:
        raise UnknownTransformError(f"unknown transform {name!r} (known: "
                               f"{', '.join(sorted(TRANSFORMS))})") from None
    return transform(text, rng)


def chain(text: str, rng: random.Random, k: int,
          names: Iterable[str] | None = None) -> tuple[str, tuple[str, ...]]:
    """A random chain of `k` distinct transforms (drawn from `names`, default all; at most
    one per `GROUP`), applied in `STAGE` order; returns the text and the names applied, so a
    corpus row can say what it holds."""
    pool = sorted(TRANSFORMS if names is None else set(names))
    for name in pool:
        if name not in TRANSFORMS:
            raise UnknownTransformError(f"unknown transform {name!r}")
    if k < 0:
        raise ValueError(f"k must be 0 or more, not {k}")
    picked: list[str] = []
    for _ in range(k):
        left = [n for n in pool if n not in picked
                and not any(GROUP.get(n, n) == GROUP.get(p, p) for p in picked)]
        if not left:
            raise ValueError(f"no chain of {k} transforms from {len(pool)} names: at most one "
                             f"per group ({', '.join(sorted(set(GROUP.values())))})")
        picked.append(rng.choice(left))
    chosen = tuple(sorted(picked, key=lambda n: STAGE[n]))
    for name in chosen:
        text = TRANSFORMS[name](text, rng)
    return text, chosen


def obfuscate(text: str, rng: random.Random) -> str:
    """One or two transforms drawn from all, as a writer hiding words would chain them: the
    transform training and the evaluation's obfuscated sets apply."""
    return chain(text, rng, rng.choice((1, 1, 2)))[0]
