"""The console's previews are bounded like hashing: a tiny file declaring a huge picture
gets a refusal tile, never a decode."""

from __future__ import annotations

from pathlib import Path

import pytest

import tests.service.test_console as console_tests
from tests.service.conftest import Service
from tests.unit.test_decode_limits import huge_png


def test_a_huge_picture_gets_a_refusal_tile_not_a_decode(service: Service, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    bomb = huge_png()
    monkeypatch.setattr(console_tests, "gradient_png", lambda *a, **k: bomb)
    case_id = console_tests._media_case(service, tmp_path)  # its picture is the bomb
    service.login("rita")
    r = service.client.get(f"/console/cases/{case_id}/media/pic1")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert r.headers["x-veilleur-refused"].startswith(
        "picture too large (900,000,000 pixels > limit of 64,000,000 pixels)")
    assert len(r.content) < 5000  # the plain tile, not a rendering
