"""`POST /v1/verdict/message`: a message event and its files in one multipart call."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.factories import gradient_png
from tests.service.conftest import Service, open_service
from veilleur.detect.media.banks import BankEntry, ParsedBank
from veilleur.store.banks import BankStore
from veilleur.store.db import connect
from veilleur.taxonomy import Category

KNOWN = gradient_png(64, 64, seed=5)
"""A generated picture, listed in the test bank below ("known bad")."""
OTHER = gradient_png(64, 64, seed=77)


@pytest.fixture
def banked(tmp_path: Path) -> Iterator[Service]:
    db = connect(f"sqlite:///{tmp_path / 'v.db'}")
    BankStore(db, tmp_path / "index").import_entries("test-bank", ParsedBank("csv", [
        BankEntry("sha256", hashlib.sha256(KNOWN).hexdigest(), Category.CSAM)]), actor="test")
    db.dispose()
    (tmp_path / "media").mkdir()
    yield from open_service(str(tmp_path / "v.db"), tmp_path, upload_dir=tmp_path / "uploads",
                            max_upload_bytes=64 * 1024, max_message_bytes=256 * 1024)


def event(mid: str = "dm1", *ids: str) -> dict[str, Any]:
    return {"type": "message", "ts": "2026-11-20T11:00:00Z", "event_id": f"discord:message:{mid}",
            "message": {"id": mid, "channel_id": "c1", "guild_id": None, "author_id": "u1",
                        "recipient_ids": ["u2"], "content": "regarde",
                        "attachments": [{"id": i, "path": f"https://cdn.example/{i}/x.png",
                                         "content_type": "image/png"} for i in ids]}}


def post(s: Service, body: dict[str, Any], files: list[tuple[str, Any]]) -> Any:
    return s.client.post("/v1/verdict/message", headers=s.headers,
                         data={"event": json.dumps(body)}, files=files)


def test_a_message_with_two_files_is_hashed_matched_and_a_repeat_is_a_duplicate(
        banked: Service) -> None:
    s = banked
    body = event("dm1", "a1", "a2", "a3")
    files = [("file:a1", ("a.png", KNOWN, "image/png")),
             ("file:a2", ("b.png", OTHER, "image/png"))]
    r = post(s, body, files)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["verdict"] == "block" and got["reasons"][0].startswith("block_upload")
    assert got["files"] == [
        {"attachment_id": "a1", "sha256": hashlib.sha256(KNOWN).hexdigest()},
        {"attachment_id": "a2", "sha256": hashlib.sha256(OTHER).hexdigest()}]
    assert any(e["target"] == {"kind": "message", "id": "dm1"} for e in got["evidence"])
    # Both files are kept by their SHA-256; the third attachment stayed a reference.
    kept = sorted(p.name for p in (s.rt.upload_dir).iterdir())
    assert kept == sorted(f"{hashlib.sha256(d).hexdigest()}.png" for d in (KNOWN, OTHER))
    from sqlalchemy import select

    from veilleur.store.models import AttachmentRow

    s.rt.sync()
    with s.rt.db.connect() as conn:
        rows = {a.id: a for a in conn.execute(select(AttachmentRow))}
    assert rows["a1"].sha256 == hashlib.sha256(KNOWN).hexdigest()
    assert rows["a2"].md5 == hashlib.md5(OTHER).hexdigest()
    assert rows["a3"].sha256 is None and rows["a3"].url.startswith("https://cdn.example/")
    # The same message again (its event id) is answered from the journal.
    again = post(s, body, files).json()
    assert again["duplicate"] is True and again["verdict"] == "block"
    assert s.rt.stats["verdicts"] == 1
    # A message with an unlisted file only.
    plain = post(s, event("dm2", "b1"), [("file:b1", ("b.png", OTHER, "image/png"))]).json()
    assert plain["verdict"] == "allow" and plain["files"][0]["attachment_id"] == "b1"


def test_bad_parts_are_refused_naming_what_is_wrong(banked: Service) -> None:
    s = banked
    png = ("a.png", OTHER, "image/png")
    r = post(s, event("m1", "a1"), [("file:zz", png)])
    assert r.status_code == 422
    assert r.json()["detail"] == "part 'file:zz' names no attachment of the message " \
                                 "(its attachments: a1)"
    r = post(s, event("m1", "a1"), [("file:a1", png), ("file:a1", png)])
    assert r.status_code == 422 and "two parts 'file:a1'" in r.json()["detail"]
    r = post(s, event("m1", "a1"), [("photo", png)])
    assert r.status_code == 422 and "part 'photo' (a file) is not taken" in r.json()["detail"]
    r = s.client.post("/v1/verdict/message", headers=s.headers, files=[("file:a1", png)])
    assert r.status_code == 422 and "one field 'event'" in r.json()["detail"]
    r = s.client.post("/v1/verdict/message", headers=s.headers, data={"event": "{nope"},
                      files=[("file:a1", png)])
    assert r.status_code == 400 and r.json()["detail"].startswith("event: the body is not JSON")
    # Validated as /v1/verdict validates it: ids, times, where references point.
    bad = event("m1", "a1")
    bad["ts"] = "yesterday"
    r = post(s, bad, [("file:a1", png)])
    assert r.status_code == 422 and "'ts'" in r.json()["detail"]
    outside = event("m1", "a1", "a2")
    outside["message"]["attachments"][1]["path"] = "../../etc/passwd"
    r = post(s, outside, [("file:a1", png)])
    assert r.status_code == 422 and "leaves the media folder" in r.json()["detail"]
    # The path given for an attachment sent as a file is never read: the file replaces it.
    local = event("m2", "a1")
    local["message"]["attachments"][0]["path"] = "/home/bot/spool/secret.png"
    r = post(s, local, [("file:a1", png)])
    assert r.status_code == 200, r.text
    assert s.rt.stats["verdicts"] == 1


def test_the_limits_hold(banked: Service) -> None:
    s = banked
    ids = [f"a{i}" for i in range(11)]
    tiny = gradient_png(4, 4, seed=1)
    r = post(s, event("m1", *ids), [(f"file:{i}", ("x.png", tiny, "image/png")) for i in ids])
    assert r.status_code == 413 and "at most 10 files" in r.json()["detail"]
    big = b"\0" * (65 * 1024)  # over the 64 KiB a file may hold here
    r = post(s, event("m1", "a1"), [("file:a1", ("x.bin", big, "application/octet-stream"))])
    assert r.status_code == 413 and r.json()["detail"] == "part 'file:a1' is larger than " \
                                                          "the 64 KiB a file may hold"
    r = post(s, event("m1", *ids[:5]), [(f"file:{i}", ("x.bin", big[:60_000], None))
                                        for i in ids[:5]])
    assert r.status_code == 413 and "256 KiB a message with its files" in r.json()["detail"]
    assert s.rt.stats["verdicts"] == 0
    # Nothing was kept of a refused message.
    assert not s.rt.upload_dir.exists() or not any(s.rt.upload_dir.iterdir())
