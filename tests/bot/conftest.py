"""The real runtime (`veilleur serve`'s) on SQLite, for the bot's scenario tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from veilleur.service.runtime import Runtime, ServiceSettings


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = Runtime(ServiceSettings(db=str(tmp_path / "bot.db"),
                                 evidence_key=tmp_path / "evidence.key",
                                 checkpoint_seconds=0.05))
    rt.start()
    yield rt
    rt.stop()
