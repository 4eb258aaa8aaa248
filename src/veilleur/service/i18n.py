"""The console's words in French, English and Spanish (`i18n/*.toml`).

Every word a reviewer reads comes from these catalogues: templates ask for keys, never hold
words of their own, and a key missing from the reader's language is recorded in `MISSES`
(the words audit fails on it) before English stands in."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from functools import cache
from pathlib import Path

from veilleur.service.auth import LANGUAGES

FOLDER = Path(__file__).resolve().parent / "i18n"
MISSES: set[tuple[str, str]] = set()
"""(language, key) asked for and not in that language's catalogue."""


@cache
def catalog(lang: str) -> dict[str, str]:
    with (FOLDER / f"{lang}.toml").open("rb") as f:
        return {k: str(v) for k, v in tomllib.load(f).items()}


def pick(accept_language: str | None, default: str = "fr",
         among: tuple[str, ...] = LANGUAGES) -> str:
    """The first of our languages the browser asks for."""
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip()[:2].lower()
        if code in among:
            return code
    return default


class Words:
    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else "fr"
        self._words = catalog(self.lang)

    def __call__(self, key: str) -> str:
        word = self._words.get(key)
        if word is None:
            MISSES.add((self.lang, key))
            return catalog("en").get(key) or key
        return word

    def has(self, key: str) -> bool:
        return key in self._words

    def duration(self, span: timedelta) -> str:
        """`2 d 3 h`, `3 h 10 min`, `4 min`: in the catalogue's units."""
        minutes = max(0, int(span.total_seconds() // 60))
        d, h, m = minutes // 1440, minutes % 1440 // 60, minutes % 60
        if d:
            return f"{d} {self('u_day')} {h} {self('u_hour')}"
        if h:
            return f"{h} {self('u_hour')} {m} {self('u_min')}"
        return f"{m} {self('u_min')}"
