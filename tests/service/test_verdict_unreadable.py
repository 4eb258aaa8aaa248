"""Issue 15 item 9: a file that is no picture was answered `allow` by `/v1/verdict/upload`
although scan and hash call it unreadable. Nobody checked it: it is held for review, and the
answer says why."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import gradient_png
from tests.service.conftest import Service, message


def _upload(s: Service, mid: str, name: str, data: bytes, content_type: str) -> Any:
    r = s.client.post("/v1/verdict/upload", headers=s.headers, data={
        "message_id": mid, "channel_id": "c1", "author_id": "u1", "attachment_id": f"a-{mid}"},
        files={"file": (name, data, content_type)})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize(("name", "data", "content_type"), [
    ("notes.txt", b"just some words, no picture", "text/plain"),
    ("photo.png", b"\x89PNG\r\n\x1a\n but the rest is not a picture", "image/png"),
    ("blob.bin", b"\x00\x01\x02\x03" * 64, "application/octet-stream"),
])
def test_an_upload_that_is_no_picture_is_held_for_review_with_the_reason(
        service: Service, name: str, data: bytes, content_type: str) -> None:
    body = _upload(service, "m1", name, data, content_type)
    assert body["verdict"] == "review", body
    assert any(r.startswith("attachment a-m1 could not be checked as a picture or video (")
               for r in body["reasons"]), body["reasons"]
    assert str(service.rt.upload_dir) not in str(body)  # the server's paths stay its own


def test_a_picture_is_still_allowed_and_a_remote_reference_is_not_held(service: Service
                                                                        ) -> None:
    assert _upload(service, "m2", "p.png", gradient_png(64, 64, seed=3),
                   "image/png")["verdict"] == "allow"
    remote = service.post("/v1/verdict", message("m3", "bonjour", attachments=[
        {"id": "a3", "path": "https://cdn.example.com/a.png"}])).json()
    assert remote["verdict"] == "allow", remote
