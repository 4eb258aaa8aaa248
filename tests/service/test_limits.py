"""Request size limits, through the whole service: every route has one, declared or streamed
bodies past it get 413 naming it, deep JSON gets 400, and uploads never sit whole in memory."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.factories import gradient_png
from tests.service.conftest import Service, message, open_service, server_events


@pytest.fixture
def small(tmp_path: Path) -> Iterator[Service]:
    """The service with small limits, so tests send kilobytes, not megabytes."""
    (tmp_path / "media").mkdir()
    yield from open_service(str(tmp_path / "v.db"), tmp_path, upload_dir=tmp_path / "uploads",
                            max_body_bytes=4096, max_batch_bytes=64 * 1024,
                            max_upload_bytes=32 * 1024, max_form_bytes=2048)


def test_a_declared_body_over_the_limit_is_refused_before_the_handler(small: Service) -> None:
    big = message("m-big", "x" * 5000)
    r = small.post("/v1/verdict", big)
    assert r.status_code == 413
    assert r.json() == {"detail": "the request body is larger than the 4 KiB this request "
                                  "may hold", "limit": 4096}
    assert r.headers["x-content-type-options"] == "nosniff"  # still behind the headers
    assert small.rt.stats["verdicts"] == 0
    assert small.post("/v1/verdict", message("m-ok", "hello")).json()["verdict"] == "allow"
    # Each route has its own: the same message fits in a batch.
    assert small.post("/v1/events", {"events": [big]}).json()["accepted"] == 1
    r = small.client.post("/console/login", data={"username": "x" * 3000, "password": "p",
                                                   "prelogin": "t"})
    assert r.status_code == 413 and "2 KiB" in r.json()["detail"]


def test_a_body_without_a_length_is_counted(small: Service) -> None:
    """No Content-Length (chunked): the count stops it inside the handler's read, and the
    app's own error handler answers. (That the rest is never pulled from the client is shown
    at the ASGI level in tests/unit/test_body_limits.py: the test client reads it whole.)"""

    def stream() -> Iterator[bytes]:
        yield b'{"message": {"id": "m1", "content": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}}'

    r = small.client.post("/v1/verdict", content=stream(), headers=small.headers | {
        "content-type": "application/json"})
    assert r.status_code == 413 and "4 KiB" in r.json()["detail"]
    assert small.rt.stats["verdicts"] == 0
    assert small.get("/health").json()["status"] == "ok"


def test_deep_nesting_is_a_400_on_every_kind_of_json_route(small: Service) -> None:
    deep = "[" * 1000 + '"x"' + "]" * 1000
    for path, body in (("/v1/verdict", f'{{"message": {{"id": "m", "content": {deep}}}}}'),
                       ("/v1/events", f'{{"events": [{deep}]}}'),
                       ("/v1/notices", f'{{"items": {deep}, "explanation": "e"}}'),
                       ("/v1/cases/c1/decision", f'{{"reviewer": "r", "verdicts": {deep}}}')):
        r = small.client.post(path, content=body, headers=small.headers | {
            "content-type": "application/json"})
        assert r.status_code == 400, (path, r.text)
        assert r.json()["detail"] == "the JSON is nested deeper than 32 levels"
    very = b'{"events": [' + b"[" * 3000 + b"]" * 3000 + b"]}"
    r = small.client.post("/v1/events", content=very, headers=small.headers)
    assert r.status_code == 400 and "nested deeper" in r.json()["detail"]


def test_numbers_python_cannot_take_are_a_400(service: Service) -> None:
    for body in (b'{"message": {"id": 1' + b"0" * 4400 + b"}}", b'{"message": {"id": 1e999}}'):
        r = service.client.post("/v1/verdict", content=body, headers=service.headers)
        assert r.status_code == 400 and "detail" in r.json(), r.text
    r = service.client.post("/v1/events", content=b'{"events": [1' + b"0" * 4400 + b"]}",
                            headers=service.headers)
    assert r.status_code == 400


def test_a_batch_over_its_cap_is_refused_while_parsed(tmp_path: Path,
                                                      items_built: list[int]) -> None:
    (tmp_path / "media").mkdir()
    for s in open_service(str(tmp_path / "v.db"), tmp_path):
        million = b'{"events":[' + b",".join([b"{}"] * 1_000_000) + b"]}"
        r = s.client.post("/v1/events", content=million, headers=s.headers)
        assert r.status_code == 413 and "at most 5,000 events" in r.json()["detail"]
        assert items_built[0] == 5001
        assert s.rt.inbox.backlog == 0


def test_an_upload_is_streamed_to_disk_never_read_whole(small: Service, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from starlette.datastructures import UploadFile

    async def whole(self: Any, size: int = -1) -> bytes:
        raise AssertionError("an upload was read whole into memory")

    monkeypatch.setattr(UploadFile, "read", whole)
    picture = gradient_png(64, 64, seed=3)
    form = {"message_id": "u1", "channel_id": "c1", "author_id": "a1", "attachment_id": "t1"}
    r = small.client.post("/v1/verdict/upload", headers=small.headers, data=form,
                          files={"file": ("p.png", picture, "image/png")})
    assert r.status_code == 200, r.text
    stored = tmp_path / "uploads" / f"{hashlib.sha256(picture).hexdigest()}.png"
    assert stored.read_bytes() == picture
    too_big = small.client.post("/v1/verdict/upload", headers=small.headers, data=form | {
        "message_id": "u2", "attachment_id": "t2"},
        files={"file": ("big.png", b"\x89PNG" + b"x" * 40_000, "image/png")})
    assert too_big.status_code == 413 and "32 KiB" in too_big.json()["detail"]
    assert [p.name for p in (tmp_path / "uploads").iterdir()] == [stored.name]


def test_a_hostile_upload_name_never_reaches_the_path(small: Service, tmp_path: Path) -> None:
    form = {"message_id": "u1", "channel_id": "c1", "author_id": "a1", "attachment_id": "t1"}
    for name in ("a.p\x00ng", "x.../../../etc", "a.\u202egnp", "b." + "z" * 50):
        r = small.client.post("/v1/verdict/upload", headers=small.headers, data=form,
                              files={"file": (name, b"not a picture", "image/png")})
        assert r.status_code < 500, r.text
    names = [p.name for p in (tmp_path / "uploads").iterdir()]
    assert names == [hashlib.sha256(b"not a picture").hexdigest()]


# --- bodies of the wrong kind (found by tests/service/test_fuzz.py) ---------------------------


def test_bodies_of_the_wrong_kind_are_4xx_not_5xx(service: Service) -> None:
    # Not UTF-8, without a JSON content type, to a route with a model: FastAPI's 422 echoed
    # the bytes and failed to encode them.
    r = service.client.post("/v1/reports", content=b"\x80\xff", headers=service.headers)
    assert r.status_code == 422 and r.json()["detail"][0]["input"] == "\ufffd\ufffd"
    # A verdict on something that is not an object.
    for body in (b'"a message"', b"[1, 2]", b"12"):
        r = service.client.post("/v1/verdict", content=body, headers=service.headers)
        assert r.status_code == 422 and "one JSON object" in r.json()["detail"], r.text
    # A file where the decision form reads text.
    service.post("/v1/events", {"events": server_events()})
    service.drain()
    with service.rt.lock:
        case_id = sorted(service.rt.casework.cases)[0]
    csrf = service.login("sam")
    for action in ("preview", "decide"):
        r = service.client.post(f"/console/cases/{case_id}/{action}",
                                data={"csrf": csrf, "cat_0": "csam"},
                                files={"explanation": ("a.txt", b"<b>x</b>", "text/plain")},
                                follow_redirects=False)
        assert r.status_code == 400 and "files" in r.json()["detail"], r.text
    with service.rt.lock:
        assert service.rt.casework.cases[case_id].status != "closed"
