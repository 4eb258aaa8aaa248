from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from veilleur.events import Event
from veilleur.ingest.discover import discover_inputs, read_input
from veilleur.ingest.media import MediaReader
from veilleur.ingest.problems import ProblemLog

Reader = Callable[..., tuple[list[Event], ProblemLog]]


@pytest.fixture
def read() -> Reader:
    """Read paths as `veilleur scan` would; return (events, problems)."""

    def _read(*paths: Path) -> tuple[list[Event], ProblemLog]:
        problems = ProblemLog()
        media = MediaReader()
        events: list[Event] = []
        for item in discover_inputs(list(paths), problems):
            events.extend(read_input(item, problems, media))
        return events, problems

    return _read
