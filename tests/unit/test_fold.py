from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veilleur.detect.text.fold import collapse, fold, glued, term_form, tokens


@pytest.mark.parametrize(("text", "plain"), [
    ("ADØS NXDES", "ados nxdes"),
    ("𝓷𝓾𝓭𝓮𝓼 𝓪𝓭𝓸𝓼", "nudes ados"),
    ("ｎｕｄｅｓ", "nudes"),
    ("nu\u200bdes", "nudes"),  # zero-width space is Cf: removed, the word stays whole
    ("Élève à l’école", "eleve a l ecole"),  # curly quotes are separators
    ("🅽🆄🅳🅴🆂", "nudes"),  # letter-like symbols become their letter
    ("Ｍｅｇａ．ｎｚ", "mega.nz"),  # fullwidth punctuation folds too
    ("nаdes", "nades"),  # Cyrillic а
])
def test_fold(text: str, plain: str) -> None:
    assert fold(text).plain == plain


def test_emoji_are_separators_not_letters() -> None:
    assert fold("ados👧nudes").plain == "ados nudes"


def test_currency_stays_readable() -> None:
    assert "eur" in fold("20€").plain


def test_offsets_point_back_into_the_original() -> None:
    text = "Salut 𝓷𝓾𝓭𝓮𝓼 des ADØS"
    f = fold(text)
    start = f.plain.index("nudes")
    s, e = f.span(start, start + 5)
    assert text[s:e] == "𝓷𝓾𝓭𝓮𝓼"
    start = f.plain.index("ados")
    s, e = f.span(start, start + 4)
    assert text[s:e] == "ADØS"
    ascii_text = fold("plain ascii")
    assert ascii_text.span(6, 11) == (6, 11)


@pytest.mark.parametrize(("plain", "expected"), [
    ("n00dz h0t", "noods hot"),  # a z ending a word reads as s ("nudez"), terms alike
    ("ph0t0z 7r1bu+3 8ad", "photos tribute bad"),
    ("p i z z a z.a.f.i.r.o", "p i z z a z.a.f.i.r.o"),  # a z standing alone is left
    ("c0l|eg!3nne tr!8u+e", "collegienne tribute"),
    ("nxdes nvde", "nudes nude"),
    ("$ex @dos n!ce", "seu ados nice"),
    ("2024 20$ 15/20", "2024 20$ 15/20"),  # numbers are not letters
    ("12yo", "i2yo"),
])
def test_collapse(plain: str, expected: str) -> None:
    assert collapse(plain) == expected
    assert len(collapse(plain)) == len(plain)


def test_glued_view_and_token_alignment() -> None:
    c = collapse(fold("n.u.d.e.s ados").plain)
    assert glued(c) == "nudesados"
    toks = tokens(c)
    assert toks.glued == glued(c)
    assert toks.accepts(0, 5, (5,)) == (0, 9)  # spelled out letter by letter
    assert toks.accepts(5, 9, (4,)) is not None  # a whole word
    c = collapse(fold("sac à dos").plain)
    toks = tokens(c)
    i = toks.glued.index("ados")
    assert toks.accepts(i, i + 4, (4,)) is None  # "a" + "dos" is not "ados"
    c = collapse(fold("school girls").plain)
    assert tokens(c).accepts(0, 11, (11,)) is not None  # a compound split in two
    c = collapse(fold("packados").plain)
    assert tokens(c).accepts(4, 8, (4,)) is None  # inside a word


def test_term_form() -> None:
    assert term_form("caldo de pollo") == ("caldodepollo", (5, 2, 5))
    assert term_form("Vos Ex") == ("uoseu", (3, 2))


@pytest.mark.parametrize(("text", "plain"), [
    ("n\u0336u\u0336d\u0336e\u0336s", "nudes"),  # strike-through marks
    ("na\u0363ked", "naked"),  # a combining letter above is decoration, not a letter
    ("⒫⒜⒞⒦ ⑴⒋", "pack 14"),  # parenthesized letters and numbers, digit full stop
    ("ⅽоӏӏеgе", "college"),  # Cyrillic palochka looks like l, not i
    ("f•o•r", "f*o*r"), ("a·b", "a.b"),  # bullets stay marks, not spaces
    ("🇳🇺🇩🇪🇸", "nudes"), ("1\ufe0f\u20e34\ufe0f\u20e3", "14"),
])
def test_fold_reads_what_a_reader_sees(text: str, plain: str) -> None:
    assert fold(text).plain == plain


def test_accented_latin_letters_are_their_base_letter() -> None:
    # decancer 0.4.1 reads "ó" as "p" and "ô" as "q": "dirección" must still be "direccion".
    from veilleur.detect.text.fold import fold

    assert fold("dirección código canción côté à Noël ñandú").plain == (
        "direccion codigo cancion cote a noel nandu")


@given(st.text(max_size=60))
def test_glued_deletes_exactly_the_separators(text: str) -> None:
    # The ASCII fast path (bytes deleted) and the regex agree on every text.
    assert glued(text) == re.sub(r"[^a-z0-9@$]+", "", text)
