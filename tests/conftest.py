from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from veilleur.events import Event
from veilleur.ingest.discover import discover_inputs, read_input
from veilleur.ingest.media import MediaReader
from veilleur.ingest.problems import ProblemLog
from veilleur.store.db import database_url

Reader = Callable[..., tuple[list[Event], ProblemLog]]


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask, under which files are created 0644 unless asked otherwise."""
    import os

    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def items_built(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many items `ijson.items` has built so far (one counter, read as `[0]`): what
    shows a batch reader stopped early rather than building everything first."""
    import ijson

    count = [0]
    real = ijson.items

    def counting(*args: Any, **kw: Any) -> Any:
        for item in real(*args, **kw):
            count[0] += 1
            yield item

    monkeypatch.setattr(ijson, "items", counting)
    return count


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


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL server for the session (skipped, visibly, where none can be started)."""
    from tests import pg

    why = pg.available()
    if why is not None:
        pytest.skip(why)
    with pg.server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each supported kind."""
    if request.param == "sqlite":
        return database_url(str(tmp_path / "v.db"))
    base: str = request.getfixturevalue("pg_url")
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.replace("/postgres?", f"/{name}?")
