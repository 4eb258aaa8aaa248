"""Reading a JSON body that anyone may have written.

- Nesting is measured before parsing, in one vectorised pass, and a body nested deeper than
  the bound is refused (400): `json.loads` recurses once per level, and a 100,000-deep body
  would otherwise end in `RecursionError` (still caught, as a last resort).
- A body larger than a few KiB is parsed in a worker thread: the event loop (and `/health`)
  keeps answering while it is decoded.
- A batch's items are counted while they are parsed (ijson), so a batch over its cap is
  refused without ever holding all of its items.

Every route under `/v1` reads its JSON through `LimitedRequest.json` (`JsonRoute`), the
models FastAPI validates included, so the rules hold for every endpoint.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from veilleur.service.limits import SCOPE_KEY, BodyLimits

INLINE_BYTES = 64 * 1024
"""Bodies up to this size are parsed on the event loop: well under a millisecond, less than
a thread hop costs a verdict."""


TOO_LONG = "the body holds an integer larger than 64 bits"


class BadJsonError(ValueError):
    """The body cannot be used; the message says why, for the client."""


class TooManyItemsError(BadJsonError):
    pass


CHUNK = 1 << 20
"""Bytes measured at a time: the arrays of a pass stay a few MiB whatever the body's size."""


def max_depth(data: bytes, chunk: int = CHUNK) -> int:
    """How deep `data` nests, as a JSON parser would meet it: brackets and braces outside
    strings, a quote ending a string unless an odd run of backslashes precedes it.

    Vectorised (numpy), a chunk at a time, carrying the state between chunks (depth, inside
    a string, the backslashes that end the chunk): linear and at C speed, where a byte loop
    in Python would take seconds on a large hostile body."""
    import numpy as np

    depth = deepest = 0
    in_string = 0
    run = 0  # backslashes that end the previous chunk
    for start in range(0, len(data), chunk):
        a = np.frombuffer(data, np.uint8, count=min(chunk, len(data) - start), offset=start)
        quote = a == 34
        slash = a == 92
        if slash.any() or run:
            where = np.arange(len(a))
            # Index of the last byte that is not a backslash, at or before each position.
            last = np.maximum.accumulate(np.where(slash, -1 - run, where))
            run_here = where - last  # the backslash run ending at each position
            escaped = np.empty(len(a), bool)
            escaped[0] = run % 2 == 1
            escaped[1:] = slash[:-1] & (run_here[:-1] % 2 == 1)
            quote &= ~escaped
            run = int(run_here[-1]) if slash[-1] else 0
        outside = (np.cumsum(quote, dtype=np.int64) + in_string) % 2 == 0
        in_string = int(not outside[-1])
        step = (((a == 91) | (a == 123)) & outside).astype(np.int32) \
            - (((a == 93) | (a == 125)) & outside)
        levels = np.cumsum(step, dtype=np.int64) + depth
        deepest = max(deepest, int(levels.max()))
        depth = int(levels[-1])
    return deepest


def nesting_problem(data: bytes, max_depth_allowed: int) -> str | None:
    """Why `data` nests too deep for `json.loads` (which recurses once per level), or
    None."""
    if data.count(b"[") + data.count(b"{") <= max_depth_allowed:
        return None  # a verdict's usual body: not enough openings to nest too deep
    if max_depth(data) > max_depth_allowed:
        return f"the JSON is nested deeper than {max_depth_allowed} levels"
    return None


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadJsonError(f"the number {text[:40]} is too large")
    return value


INT64 = 2**63


def _int64(text: str) -> int:
    # Past 64 bits a number is no id or count here, and no database column holds it. The
    # batch reader (yajl) refuses the same numbers, -2**63 included.
    if len(text.lstrip("-")) > 19 or not -INT64 < (value := int(text)) < INT64:
        raise BadJsonError(TOO_LONG)
    return value


def _no_constant(name: str) -> Any:
    raise BadJsonError(f"{name} is not a JSON number")


def loads(data: bytes, max_depth: int) -> Any:
    """`json.loads`, bounded: depth checked first; NaN, infinities and integers longer than
    Python converts are refused with the rest of the bad JSON."""
    problem = nesting_problem(data, max_depth)
    if problem:
        raise BadJsonError(problem)
    try:
        return json.loads(data, parse_float=_finite, parse_int=_int64,
                          parse_constant=_no_constant)
    except BadJsonError:
        raise
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, digits
        raise BadJsonError(f"the body is not JSON: {exc}") from None


def batch(data: bytes, key: str, max_items: int, max_depth: int) -> list[Any]:
    """The list under `key` of a JSON object, refused (`TooManyItemsError`) at its
    `max_items + 1`th item: items are built one at a time and the count is checked as each
    arrives, so an oversized batch is never held whole."""
    import ijson

    problem = nesting_problem(data, max_depth)
    if problem:
        raise BadJsonError(problem)
    items: list[Any] = []
    try:
        for item in ijson.items(data, f"{key}.item", use_float=True):
            if len(items) == max_items:
                raise TooManyItemsError(f"a batch holds at most {max_items:,} events; "
                                   f"this one has more")
            items.append(item)
    except ijson.JSONError as exc:
        why = exc.args[0] if exc.args else ""
        why = (why.decode("utf-8", "replace") if isinstance(why, bytes) else str(why)
               ).splitlines()[0]
        raise BadJsonError(TOO_LONG if "integer overflow" in why
                           else f"the body is not JSON: {why}") from None
    except UnicodeDecodeError as exc:
        raise BadJsonError(f"the body is not JSON: {exc}") from None
    if not items:
        # Nothing under `key`: an empty list, or not the expected shape at all (the body is
        # valid and shallow by now, so reading it whole is safe).
        body = loads(data, max_depth)
        if not isinstance(body, dict) or not isinstance(body.get(key), list):
            raise BadJsonError(f'the body must be {{"{key}": [ ... ]}}')
    return items


def _depth(request: Request) -> int:
    limits = request.scope.get(SCOPE_KEY)
    return limits.depth if isinstance(limits, BodyLimits) else BodyLimits().depth


async def off_loop(data: bytes, parse: Callable[..., Any], *args: Any) -> Any:
    """`parse(data, *args)`, in a thread unless `data` is small."""
    if len(data) <= INLINE_BYTES:
        return parse(data, *args)
    return await run_in_threadpool(parse, data, *args)


class LimitedRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                self._json = await off_loop(await self.body(), loads, _depth(self))
            except BadJsonError as exc:
                raise HTTPException(400, str(exc)) from None
        return self._json


async def read_batch(request: Request, key: str, max_items: int) -> list[Any]:
    """The items of a `{key: [...]}` body: 400 if it is not JSON or nests too deep, 413 past
    `max_items`, 422 if it has another shape."""
    try:
        items: list[Any] = await off_loop(await request.body(), batch, key, max_items,
                                          _depth(request))
    except TooManyItemsError as exc:
        raise HTTPException(413, str(exc)) from None
    except BadJsonError as exc:
        status = 422 if str(exc).startswith("the body must be") else 400
        raise HTTPException(status, str(exc)) from None
    return items


class JsonRoute(APIRoute):
    """A route whose handler, and FastAPI's body validation, read JSON through
    `LimitedRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def limited(request: Request) -> Response:
            return await handler(LimitedRequest(request.scope, request.receive))

        return limited


def _echo(data: bytes) -> str:
    return data[:1000].decode("utf-8", "replace")


async def invalid_body(request: Request, exc: Exception) -> Response:
    """422 for a body that does not fit the model. FastAPI's own answer echoes the input,
    and a body that is not text (sent without a JSON content type) made that echo a 500."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse({"detail": jsonable_encoder(errors, custom_encoder={bytes: _echo})},
                        status_code=422)
