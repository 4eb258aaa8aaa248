"""The unique part of the ids casework gives its records (`case-…`, `decision-…`, `action-…`).

Case and decision ids appear in console URLs, so in the service they must not be guessable:
by default the part is random (80 bits from `secrets`). A replay or a test that compares runs
asks for counted ids instead (`case-1`, `case-2`, …), which anyone could guess."""

from __future__ import annotations

import secrets
from collections.abc import Callable

IdTail = Callable[[str], str]
"""Given a kind of record, the part of its id after `kind-`."""


def random_tail(kind: str) -> str:
    return secrets.token_hex(10)


class CountedTails:
    """1, 2, 3… for each kind: deterministic, for simulations and tests only."""

    def __init__(self) -> None:
        self._counters: dict[str, int] = {}

    def __call__(self, kind: str) -> str:
        n = self._counters[kind] = self._counters.get(kind, 0) + 1
        return str(n)
