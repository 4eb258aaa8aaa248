"""Where the reference data written outside the project lives: `../shared/testdata` beside the
checkout (as CI lays it), or `$VEILLEUR_SHARED`. Tests read it in place; it is never copied
into the repository. Missing, it skips a developer's test and fails CI's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def shared_testdata(*parts: str) -> Path:
    """The folder `shared/testdata/<parts>`; skips (fails under CI) when it is absent."""
    candidates = []
    if os.environ.get("VEILLEUR_SHARED"):
        candidates.append(Path(os.environ["VEILLEUR_SHARED"]))
    here = Path(__file__).resolve()
    candidates += [p / "shared" for p in here.parents]
    for shared in candidates:
        path = shared / "testdata" / Path(*parts)
        if path.exists():
            return path
    reason = f"shared/testdata/{'/'.join(parts)} is not beside this checkout"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)
