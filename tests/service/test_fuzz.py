"""Hostile bodies to every route of the service, with a valid API key and a console session so
the handlers are really reached: never a 5xx, every 4xx explains itself in JSON or HTML, and
afterwards the engine runs, /health is ok and what was accepted before is still there."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from starlette.routing import Mount, Route

from tests.factories import gradient_png
from tests.service.conftest import Service, message, open_service, server_events
from veilleur.store.models import MessageRow

HOSTILE = [
    "", " ", "\x00", "a\x00b", "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>',
    'hx-get="/console/logout" hx-trigger="load"', "{{7*7}}", "{% raw %}", "../../../etc/passwd",
    "..\\..\\windows\\win.ini", "/etc/passwd", "file:///etc/passwd", "%2e%2e%2f", "\u202egnp.exe",
    "\u200f\u200e\u2066", "\ud7ff\ufffe\uffff", "𝕏" * 40, "é" * 300, "x" * 5000, "-1", "0",
    "1e999", "NaN", "99999999999999999999999999", "null", "true", "[]", "{}", "csam",
    "2026-11-20T10:00:00Z", "2026-13-45T99:99:99Z", "C-1", "g1-m1", "message", "report",
    "\r\nSet-Cookie: x=1", "javascript:alert(1)", "data:text/html,<b>", "%00", "' OR 1=1 --",
    "2026", "https://discord.com/channels/1/2/3", "grooming", "deny", "sha256", "a" * 64,
]
KEYS = [
    "type", "ts", "event_id", "message", "id", "channel_id", "guild_id", "author_id", "content",
    "attachments", "path", "url", "filename", "size", "content_type", "user", "guild", "channel",
    "name", "owner_id", "report", "complaint", "target", "kind", "items", "locator",
    "explanation", "notifier", "email", "language", "channel", "bona_fide", "category_claimed",
    "reporter_id", "authority", "status", "note", "by", "complainant_id", "decision_id",
    "report_id", "reviewer", "verdicts", "category", "ground", "duration_days", "entries",
    "signal_type", "signal", "source", "source_id", "events", "edited_ts", "reason",
]
FORM_BASE = {"message_id": "m-up", "channel_id": "c1", "author_id": "u1",
             "attachment_id": "t1", "locations": "https://discord.com/channels/1/2/3",
             "kind": "csam", "explanation": "e", "username": "x", "password": "y",
             "prelogin": "z", "language": "en", "blur": "strong", "cat_0": "csam"}
"""Every form's required fields, so a form is handled past its parsing; hostile values are
drawn over them."""
FORM_KEYS = ["username", "password", "prelogin", "locations", "kind", "explanation", "ticket",
             "lang", "name", "email", "bona_fide", "website", "language", "blur", "colour",
             "cat_0", "cat_1", "ground_0", "message_id", "channel_id", "author_id",
             "attachment_id", "guild_id", "content"]

text = st.sampled_from(HOSTILE) | st.text(max_size=40)
scalar = (st.none() | st.booleans() | st.integers(1 - 2**63, 2**63 - 1)
          | st.floats(allow_nan=False, allow_infinity=False) | text
          | st.sampled_from([2**63 - 1, 1 - 2**63, 1e308, -0.0]))
key = st.sampled_from(KEYS) | st.text(max_size=8)
JSON = st.recursive(scalar, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(key, inner, max_size=6), max_leaves=25)
event = st.fixed_dictionaries({"type": st.sampled_from(
    ["message", "report", "complaint", "user_seen", "guild_created", "channel_created",
     "message_edited", "message_deleted", "order_update", "x"]) | text,
    "ts": st.sampled_from(["2026-11-20T10:00:00Z"]) | text},
    optional={"message": st.dictionaries(key, JSON, max_size=8),
              "report": st.dictionaries(key, JSON, max_size=8),
              "event_id": text})


CATEGORIES = st.sampled_from(["csam", "grooming", "sextortion", "ncii", "other", "CSAM"])
target = st.fixed_dictionaries({"kind": st.sampled_from(
    ["message", "attachment", "channel", "guild", "user", "invite", "x"]), "id": text})
message_like = st.fixed_dictionaries(
    {"id": text, "channel_id": text, "author_id": text, "content": text},
    optional={"guild_id": text | st.none(), "attachments": st.lists(st.fixed_dictionaries(
        {"id": text}, optional={"path": text, "url": text, "filename": text,
                                "content_type": text, "size": scalar}), max_size=2),
        "edited_ts": text, "extra": JSON})
shaped_event = st.fixed_dictionaries({"type": st.sampled_from(
    ["message", "message_edited", "message_deleted", "report", "user_seen"]),
    "ts": st.just("2026-11-20T10:00:00Z") | text, "message": message_like},
    optional={"event_id": text, "report": st.dictionaries(key, JSON, max_size=6)})
SHAPES: dict[str, st.SearchStrategy[Any]] = {
    "/v1/events": st.builds(lambda es: {"events": es}, st.lists(shaped_event | event,
                                                                max_size=6)),
    "/v1/verdict": st.builds(lambda m: {"message": m}, message_like) | shaped_event,
    "/v1/reports": st.fixed_dictionaries({"id": text, "target": target}, optional={
        "category_claimed": CATEGORIES | text, "explanation": text, "reporter_id": text}),
    "/v1/notices": st.fixed_dictionaries({"items": st.lists(st.fixed_dictionaries(
        {"target": target}, optional={"locator": text}), max_size=3), "explanation": text},
        optional={"category_claimed": CATEGORIES | text, "bona_fide": st.booleans(),
                  "id": text, "notifier": st.fixed_dictionaries({}, optional={
                      "name": text, "email": text, "language": text,
                      "channel": st.just("web") | text})}),
    "/v1/orders": st.fixed_dictionaries({"id": text, "target": target}, optional={
        "category_claimed": CATEGORIES | text, "explanation": text, "authority": text}),
    "/v1/orders/{order_id}/updates": st.fixed_dictionaries({"status": st.sampled_from(
        ["force_majeure", "obstacle_cleared", "clarification_requested"]) | text},
        optional={"note": text}),
    "/v1/appeals": st.fixed_dictionaries({"id": text, "target": target, "by": st.sampled_from(
        ["affected", "notifier"])}, optional={"explanation": text, "decision_id": text,
                                              "email": text, "complainant_id": text}),
    "/v1/cases/{case_id}/decision": st.fixed_dictionaries({"reviewer": text, "verdicts":
        st.lists(st.fixed_dictionaries({"target": target}, optional={
            "category": CATEGORIES, "ground": st.sampled_from(["illegal", "terms"]),
            "explanation": text, "duration_days": st.integers(-(2**40), 2**40)}),
            max_size=3)}),
    "/v1/banks/{name}/entries": st.fixed_dictionaries({"entries": st.lists(
        st.fixed_dictionaries({"signal_type": st.sampled_from(["md5", "sha256", "pdq"]),
                               "signal": st.sampled_from(["a" * 32, "b" * 64, "0" * 64])
                               | text}, optional={"category": CATEGORIES, "note": text}),
        min_size=1, max_size=3)}, optional={"kind": st.sampled_from(["deny", "allow"]),
                                            "category": CATEGORIES, "source": text}),
}
SHAPES["/v1/flagger/notices"] = SHAPES["/v1/notices"]


def raw_bodies(path_format: str) -> st.SearchStrategy[tuple[bytes, str | None]]:
    """(bytes, content type) of every hostile kind, and JSON shaped like what the route
    expects (with hostile values) so that its handler runs past validation."""
    json_type = st.just("application/json")
    deep = st.integers(min_value=33, max_value=5000).map(
        lambda n: ("[" * n + "]" * n).encode())
    unclosed = st.integers(min_value=33, max_value=50_000).map(lambda n: b'{"a":' + b"[" * n)
    huge = st.sampled_from([b'{"events": [1' + b"0" * 5000 + b"]}", b'{"id": 1e999}',
                            b'{"events": [{"type": "message", "n": 18446744073709551616}]}',
                            b'{"message": {"id": -1' + b"9" * 4400 + b"}}", b"[NaN]",
                            b'{"events": [Infinity]}', b'"' + b"\\u0000" * 1000 + b'"'])
    structured = st.one_of(event, st.dictionaries(key, JSON, max_size=8), JSON)
    shaped = SHAPES.get(path_format, structured)

    def encode(value: Any) -> bytes:
        return json.dumps(value).encode()

    return st.one_of(
        st.tuples(shaped.map(encode), json_type), st.tuples(shaped.map(encode), json_type),
        st.tuples(structured.map(encode), json_type),
        st.tuples(st.binary(max_size=3000), st.sampled_from(
            [None, "application/json", "application/x-www-form-urlencoded", "text/plain",
             "multipart/form-data; boundary=xyz", "application/json; charset=utf-16"])),
        st.tuples(deep | unclosed | huge, json_type),
        st.tuples(st.binary(min_size=1, max_size=200).map(
            lambda b: b'{"message": {"id": "m", "content": "' + b"\xff" + b + b'"}}'),
            json_type),
    )


@pytest.fixture
def fuzzed(tmp_path: Path) -> Iterator[Service]:
    (tmp_path / "media").mkdir()
    yield from open_service(str(tmp_path / "v.db"), tmp_path, upload_dir=tmp_path / "uploads",
                            public_per_minute=1e9, public_burst=10**9, form_per_minute=1e9)


def routes(s: Service) -> list[tuple[str, str]]:
    """(method, path format) of every route the app serves."""
    out = []

    def walk(items: list[Any]) -> None:
        for route in items:
            included = getattr(route, "original_router", None)  # FastAPI's lazy include
            if included is not None:
                walk(included.routes)
            elif isinstance(route, APIRoute | Route):
                out.extend((m, route.path_format) for m in sorted(route.methods or ())
                           if m != "HEAD")
            elif isinstance(route, Mount):
                out.append(("GET", route.path + "/{path}"))

    walk(s.client.app.routes)  # type: ignore[attr-defined]
    return out


def check(r: Any, what: str) -> None:
    assert r.status_code < 500, f"{what}: {r.status_code} {r.text[:500]}"
    if r.status_code >= 400:
        kind = r.headers.get("content-type", "")
        assert kind.startswith(("application/json", "text/html")), f"{what}: {kind}"
        if kind.startswith("application/json"):
            assert "detail" in r.json(), f"{what}: {r.text[:200]}"
        else:
            assert r.text.strip(), what


def test_hostile_bodies_to_every_route(fuzzed: Service) -> None:
    s = fuzzed
    assert s.post("/v1/events", {"events": server_events()}).json()["accepted"] == 4
    verdict = s.post("/v1/verdict", message("kept-1", "bonjour")).json()
    assert verdict["verdict"] == "allow"
    s.drain()
    with s.rt.lock:
        cases_before = set(s.rt.casework.cases)
    assert cases_before
    case_id = sorted(cases_before)[0]
    csrf = s.login("sam")
    table = routes(s)
    assert len(table) > 30 and ("POST", "/v1/verdict") in table
    tickets = s.client.app.state.guards.tickets  # type: ignore[attr-defined]

    def url(path_format: str, values: list[str]) -> str:
        names = re.findall(r"\{(\w+)(?::\w+)?\}", path_format)
        out = path_format
        for name, value in zip(names, values + [case_id] * len(names), strict=False):
            value = case_id if value == "<case>" else value
            out = re.sub(r"\{" + name + r"(?::\w+)?\}", quote(value, safe="") or "x", out)
        return out

    def send(method: str, path: str, body: bytes, content_type: str | None,
             query: dict[str, str]) -> None:
        headers = dict(s.headers)
        if content_type:
            headers["content-type"] = content_type
        r = s.client.request(method, path, content=body, headers=headers, params=query,
                             follow_redirects=False)
        check(r, f"{method} {path} {body[:80]!r}")

    # Every route gets each of the fixed hostile kinds at least once.
    fixed = [(b"[" * 10_000, "application/json"), (b"\xff\xfe\x00", "application/json"),
             (b'{"a": 1' + b"0" * 5000 + b"}", "application/json"),
             (b"x" * (2 * 1024 * 1024), "application/json"),
             (b"csrf=" + csrf.encode() + b"&cat_0=%00&explanation=%3Cscript%3E",
              "application/x-www-form-urlencoded"),
             (b"--xyz\r\nContent-Disposition: form-data; name=\"explanation\"; filename=\"a\""
              b"\r\n\r\n<b>\r\n--xyz--\r\n", "multipart/form-data; boundary=xyz")]
    for method, path_format in table:
        for body, kind in fixed:
            if "logout" not in path_format or b"csrf" not in body:
                send(method, url(path_format, ["<case>"]), body, kind, {})

    form_value = text | st.just(csrf)
    # The JSON routes, where most of the handling is, are drawn more often.
    api_posts = [r for r in table if r[0] == "POST" and r[1].startswith("/v1")]

    @settings(max_examples=300, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(route=st.sampled_from(table) | st.sampled_from(api_posts),
           params=st.lists(text | st.just("<case>"), max_size=2),
           data=st.data(),
           form=st.dictionaries(st.sampled_from(FORM_KEYS) | st.text(max_size=6), form_value,
                                max_size=8),
           as_form=st.sampled_from([False, False, True]),
           query=st.dictionaries(st.sampled_from(["limit", "status", "lang", "token", "md5",
                                                  "sha256", "pdq", "saved", "error"]),
                                 text, max_size=3))
    def one(route: tuple[str, str], params: list[str], data: st.DataObject,
            form: dict[str, str], as_form: bool, query: dict[str, str]) -> None:
        method, path_format = route
        body = data.draw(raw_bodies(path_format))
        path = url(path_format, params)
        if as_form:
            form = FORM_BASE | form
            if "logout" not in path:  # a valid token there would end the session being used
                form.setdefault("csrf", csrf)
            form.setdefault("ticket", tickets.issue())
            if path.endswith("/upload"):
                picture = gradient_png(16, 16, seed=len(form))
                files = {"file": (form.get("name", "p.png"), picture, "image/png")}
                r = s.client.request(method, path, data=form, files=files, headers=s.headers,
                                     params=query, follow_redirects=False)
            else:
                # Sometimes a file where a text field is read.
                files = {data.draw(st.sampled_from(FORM_KEYS)): ("a.html", b"<b>x</b>",
                                                                 "text/html")} \
                    if data.draw(st.booleans()) else None
                r = s.client.request(method, path, data=form, files=files,
                                     headers=s.headers, params=query, follow_redirects=False)
            check(r, f"{method} {path} form {form!r}")
        else:
            send(method, path, body[0], body[1], query)

    one()

    # Afterwards: the engine runs, the service is healthy, nothing accepted was lost.
    s.drain()
    assert s.rt.alive
    assert s.rt.stats["failed"] == 0 and s.rt.stats["detector_failures"] == 0, s.rt.stats
    health = s.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    with s.rt.db.connect() as conn:
        stored = set(conn.execute(select(MessageRow.id)).scalars())
    assert {"g1-m1", "kept-1"} <= stored
    with s.rt.lock:
        assert cases_before <= set(s.rt.casework.cases)
    assert s.post("/v1/verdict", message("kept-2", "encore")).json()["verdict"] == "allow"
