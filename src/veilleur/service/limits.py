"""How large a request body may be, enforced once for every route by a pure ASGI middleware.

The limit depends on the route (a verdict is small, a batch of events larger, an upload
larger still, a console form small). A declared `Content-Length` over the limit is refused
before a byte is read; a body without one (chunked) is counted as it streams in and refused
as soon as it passes the limit, so no route ever holds more than its limit in memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SCOPE_KEY = "veilleur.limits"
"""Where the middleware leaves the `BodyLimits` for the request (the JSON reader's depth)."""

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class BodyLimits:
    """Bytes a request body may hold, by kind of route, and how deep JSON may nest."""

    json: int = 1 * MIB
    """Every route not named below (a verdict, a notice, a decision...)."""
    batch: int = 8 * MIB
    """`POST /v1/events`: a batch of at most `max_batch` events."""
    bank: int = 32 * MIB
    """`POST /v1/banks/{name}/entries`: up to 100,000 entries."""
    upload: int = 64 * MIB
    """`POST /v1/verdict/upload`: the file and its form fields (also the most one file of
    `POST /v1/verdict/message` may hold)."""
    message: int = 128 * MIB
    """`POST /v1/verdict/message`: a message event and its files (at most 10)."""
    form: int = 512 * KIB
    """The console's and the public notice's forms."""
    depth: int = 32
    """JSON nested deeper than this is refused (400) before it is parsed."""

    def for_request(self, method: str, path: str) -> tuple[int, str]:
        """(limit, what it is for) of a request."""
        if method == "POST":
            if path == "/v1/verdict/upload":
                return self.upload, "an upload"
            if path == "/v1/verdict/message":
                return self.message, "a message with its files"
            if path == "/v1/events":
                return self.batch, "a batch of events"
            if _BANK_ENTRIES.fullmatch(path):
                return self.bank, "bank entries"
        if path.startswith(("/console", "/notice")):
            return self.form, "a form"
        return self.json, "this request"


_BANK_ENTRIES = re.compile(r"/v1/banks/[^/]+/entries/?")


def size_text(n: int) -> str:
    """1048576 -> '1 MiB', 1536 -> '1.5 KiB'."""
    for unit, size in (("GiB", 1024 * MIB), ("MiB", MIB), ("KiB", KIB)):
        if n >= size:
            return f"{n / size:.4g} {unit}"
    return f"{n} bytes"


_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": KIB, "kb": KIB, "kib": KIB, "m": MIB, "mb": MIB, "mib": MIB,
          "g": 1024 * MIB, "gb": 1024 * MIB, "gib": 1024 * MIB}


def parse_size(text: str) -> int:
    """'512KiB', '8 MiB', '1048576' -> bytes (units are powers of 1024)."""
    m = _SIZE.fullmatch(text)
    if m is None:
        raise ValueError(f"{text!r} is not a size (e.g. 512KiB, 8MiB, 1048576)")
    return int(float(m.group(1)) * _UNITS[(m.group(2) or "").lower()])


class BodyTooLarge(HTTPException):
    """Raised by the counted `receive` (so the app's own error handler answers when a
    handler is reading) or answered by the middleware itself."""

    def __init__(self, limit: int, what: str) -> None:
        super().__init__(413, f"the request body is larger than the {size_text(limit)} "
                              f"{what} may hold")
        self.limit = limit


def _content_length(scope: Scope) -> int | str | None:
    """The declared length; a string says why it cannot be used."""
    values = [v for k, v in scope.get("headers", []) if k.lower() == b"content-length"]
    if not values:
        return None
    if len(set(values)) > 1:
        return "the request has several different Content-Length headers"
    raw = values[0].strip()
    if not raw.isdigit() or len(raw) > 18:
        return "the Content-Length header is not a number of bytes"
    return int(raw)


async def _answer(send: Send, status: int, detail: str, extra: dict[str, Any]) -> None:
    import json

    body = json.dumps({"detail": detail} | extra).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """The middleware. Pure ASGI (no `BaseHTTPMiddleware`): it only wraps `receive`, so a
    body streams through it untouched until the count passes the route's limit."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope[SCOPE_KEY] = self.limits
        limit, what = self.limits.for_request(scope["method"], scope["path"])
        declared = _content_length(scope)
        if isinstance(declared, str):
            await _answer(send, 400, declared, {})
            return
        if declared is not None and declared > limit:
            await _answer(send, 413, BodyTooLarge(limit, what).detail, {"limit": limit})
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit, what)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as exc:
            # Raised outside any handler (or past the app's error handlers): answer here.
            if started:
                raise
            await _answer(send, 413, exc.detail, {"limit": exc.limit})
