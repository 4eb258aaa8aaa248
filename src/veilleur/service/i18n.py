"""The console's words in French and English (`i18n/*.toml`)."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

from veilleur.service.auth import LANGUAGES

FOLDER = Path(__file__).resolve().parent / "i18n"


@cache
def catalog(lang: str) -> dict[str, str]:
    with (FOLDER / f"{lang}.toml").open("rb") as f:
        return {k: str(v) for k, v in tomllib.load(f).items()}


def pick(accept_language: str | None, default: str = "fr") -> str:
    """The first of our languages the browser asks for."""
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip()[:2].lower()
        if code in LANGUAGES:
            return code
    return default


class Words:
    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else "fr"
        self._words = catalog(self.lang)

    def __call__(self, key: str) -> str:
        return self._words.get(key) or catalog("en").get(key) or key
