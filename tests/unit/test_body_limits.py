"""The body limits and the bounded JSON reader, without a service around them."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veilleur.service import jsonbody
from veilleur.service.jsonbody import (
    BadJsonError,
    TooManyItemsError,
    batch,
    loads,
    max_depth,
    nesting_problem,
)
from veilleur.service.limits import MIB, BodyLimit, BodyLimits, parse_size, size_text

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(1 - 2**63, 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.sampled_from('ab"\\[]{}\u202e\x00 '), max_size=8),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(alphabet='k"[{\\', max_size=3), inner, max_size=3),
    max_leaves=30)



def run(coro: Any) -> Any:
    """`asyncio.run` in a thread of its own: the browser tests' Playwright keeps an event loop
    running in the main thread for the whole session, and asyncio refuses to nest loops."""
    out: list[Any] = []
    worker = threading.Thread(target=lambda: out.append(asyncio.run(coro)))
    worker.start()
    worker.join()
    return out[0] if out else None

def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(JSON, st.integers(min_value=1, max_value=6))
def test_nesting_is_measured_as_json_loads_would_meet_it(value: Any, bound: int) -> None:
    """Brackets, quotes and backslashes inside strings do not count; containers do."""
    text = json.dumps(value).encode()
    assert (nesting_problem(text, bound) is None) == (depth(value) <= bound)
    # Measured a chunk at a time: the state carried across chunk edges (inside a string, a
    # run of backslashes, the depth) gives the same answer with tiny chunks.
    for chunk in (1, 2, 3, 7):
        assert max_depth(text, chunk) == depth(value)


def test_deep_and_unclosed_nesting_is_refused_before_parsing() -> None:
    for body in (b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
                 b"[" * 100_000, b'["' + b"[" * 100 + b'"]' + b"[" * 40):
        with pytest.raises(BadJsonError, match="nested deeper than 32 levels"):
            loads(body, 32)
    # Brackets in a string (escaped quote included) are text; a shallow unclosed body is bad
    # JSON, named as such.
    assert loads(b'["\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]', 32) == \
        ['"' + "[" * 45]
    with pytest.raises(BadJsonError, match="not JSON"):
        loads(b"[[[1", 32)


@pytest.mark.parametrize("body", [b"1" * 5000, b"[1e999]", b"[NaN]", b"[-Infinity]",
                                  b"\xff\xfe[]", b"{not json", b""])
def test_numbers_python_refuses_and_bad_bytes_are_bad_json(body: bytes) -> None:
    with pytest.raises(BadJsonError):
        loads(body, 32)


def test_integers_past_64_bits_are_refused_alike_by_both_readers() -> None:
    assert loads(b"[9223372036854775807, -9223372036854775807]", 32) == [2**63 - 1, 1 - 2**63]
    assert batch(b'{"events": [9223372036854775807]}', "events", 10, 32) == [2**63 - 1]
    for number in (b"9223372036854775808", b"-9223372036854775808", b"1" + b"0" * 30):
        with pytest.raises(BadJsonError, match="larger than 64 bits"):
            loads(b"[" + number + b"]", 32)
        with pytest.raises(BadJsonError, match="larger than 64 bits"):
            batch(b'{"events": [' + number + b"]}", "events", 10, 32)


def test_a_batch_is_refused_at_the_first_item_over_its_cap(items_built: list[int]) -> None:
    huge = b'{"events":[' + b",".join([b"{}"] * 1_000_000) + b"]}"
    with pytest.raises(TooManyItemsError, match="at most 5,000 events"):
        batch(huge, "events", 5000, 32)
    assert items_built[0] == 5001  # the other 994,999 were never built
    assert batch(b'{"events":[{"a":1},2]}', "events", 5000, 32) == [{"a": 1}, 2]
    assert batch(b'{"events":[]}', "events", 5000, 32) == []
    for wrong in (b"[1]", b'{"events":5}', b"{}"):
        with pytest.raises(BadJsonError, match="must be"):
            batch(wrong, "events", 5000, 32)
    for bad in (b'{"events":[1]} x', b'{"events":[1', b'{"events":[' + b"9" * 30 + b"]}",
                b'{"events":[' + b"[" * 40 + b"]" * 40 + b"]}"):
        with pytest.raises(BadJsonError) as info:
            batch(bad, "events", 5000, 32)
        assert not isinstance(info.value, TooManyItemsError)


def test_large_bodies_are_parsed_in_a_worker_thread() -> None:
    seen: list[int] = []

    def parse(data: bytes) -> int:
        seen.append(threading.get_ident())
        return len(data)

    loop_thread: list[int] = []

    async def both() -> None:
        loop_thread.append(threading.get_ident())
        await jsonbody.off_loop(b"x" * 10, parse)
        await jsonbody.off_loop(b"x" * (jsonbody.INLINE_BYTES + 1), parse)

    run(both())
    assert seen[0] == loop_thread[0] and seen[1] != loop_thread[0]


def test_sizes_read_and_said() -> None:
    assert parse_size("512KiB") == 512 * 1024 and parse_size("8 MiB") == 8 * MIB
    assert parse_size("1048576") == MIB and parse_size("1.5m") == 3 * MIB // 2
    with pytest.raises(ValueError, match="not a size"):
        parse_size("12x")
    assert size_text(MIB) == "1 MiB" and size_text(1536) == "1.5 KiB"
    limits = BodyLimits()
    assert limits.for_request("POST", "/v1/verdict/upload")[0] == limits.upload
    assert limits.for_request("POST", "/v1/events")[0] == limits.batch
    assert limits.for_request("POST", "/v1/banks/x/entries")[0] == limits.bank
    assert limits.for_request("POST", "/console/cases/c/decide")[0] == limits.form
    assert limits.for_request("POST", "/v1/verdict")[0] == limits.json


# --- the middleware, driven as an ASGI server would ------------------------------------------


def drive(headers: list[tuple[bytes, bytes]], chunks: list[bytes], limit: int = 100
          ) -> tuple[list[dict[str, Any]], int, int]:
    """(what was sent back, how many chunks the app was given, how many it asked for)."""
    pulled = 0
    given_to_app = 0
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal given_to_app
        while True:
            message = await receive()
            given_to_app += 1
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": chunks[pulled - 1],
                "more_body": pulled < len(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/verdict", "headers": headers}
    mw = BodyLimit(app, BodyLimits(json=limit))
    run(mw(scope, receive, send))  # type: ignore[arg-type]
    return sent, given_to_app, pulled


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    sent, given_to_app, pulled = drive([(b"content-length", b"150000000")], [b"x" * 10])
    assert sent[0]["status"] == 413 and pulled == 0 and given_to_app == 0
    body = json.loads(sent[1]["body"])
    assert body["limit"] == 100 and "100 bytes" in body["detail"]


def test_a_chunked_body_is_counted_as_it_streams() -> None:
    sent, given_to_app, pulled = drive([], [b"x" * 40] * 1000)
    assert sent[0]["status"] == 413 and pulled == 3 and given_to_app == 2
    sent, _, _ = drive([], [b"x" * 40, b"x" * 40])
    assert sent[0]["status"] == 200


@pytest.mark.parametrize("value", [b"12abc", b"-1", b"9" * 40])
def test_a_content_length_that_is_not_a_number_is_a_clear_400(value: bytes) -> None:
    sent, _, pulled = drive([(b"content-length", value)], [b""])
    assert sent[0]["status"] == 400 and pulled == 0
    assert "Content-Length" in json.loads(sent[1]["body"])["detail"]


def test_serve_names_a_bad_size_option(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from veilleur.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["serve", "--db", str(tmp_path / "v.db"), "--max-upload", "12x",
                            "--openapi", str(tmp_path / "o.json")])
    assert r.exit_code != 0 and "--max-upload" in r.output and "not a size" in r.output
    r = runner.invoke(app, ["serve", "--db", str(tmp_path / "v.db"), "--max-body", "2MiB",
                            "--openapi", str(tmp_path / "o.json")])
    assert r.exit_code == 0, r.output
