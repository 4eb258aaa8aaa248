"""Token buckets: per client on public endpoints and per API key, and one for everybody on
the public notice form (a flood from many addresses still cannot bury the reviewers).

The form never asks who you are: a notice of child sexual abuse may be anonymous (DSA Art.
16(2)(c)). Floods are held back by these buckets, a signed form ticket that must be at least a
couple of seconds old and is good once, and a field that only robots fill in.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rate:
    per_minute: float
    burst: int


class Buckets:
    def __init__(self, rate: Rate, *, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """0 when allowed (one token taken), else the seconds until the next token."""
        now = time.monotonic() if now is None else now
        per_s = self.rate.per_minute / 60.0
        with self._lock:
            tokens, at = self._buckets.pop(key, (float(self.rate.burst), now))
            tokens = min(float(self.rate.burst), tokens + (now - at) * per_s)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                wait = 0.0
            else:
                self._buckets[key] = (tokens, now)
                wait = (1.0 - tokens) / per_s if per_s > 0 else 3600.0
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return wait


class FormTickets:
    """Signed, timed, single-use form tickets (no identity, no cookie needed)."""

    def __init__(self, secret: bytes, *, min_age: float = 2.0, max_age: float = 4 * 3600,
                 remember: int = 200_000) -> None:
        self.secret, self.min_age, self.max_age = secret, min_age, max_age
        self._used: OrderedDict[str, None] = OrderedDict()
        self._remember = remember
        self._lock = threading.Lock()

    def _sign(self, issued: str, nonce: str) -> str:
        return hmac.new(self.secret, f"{issued}.{nonce}".encode(), hashlib.sha256
                        ).hexdigest()[:32]

    def issue(self, now: float | None = None) -> str:
        import secrets

        issued = str(int(time.time() if now is None else now))
        nonce = secrets.token_hex(8)
        return f"{issued}.{nonce}.{self._sign(issued, nonce)}"

    def redeem(self, ticket: str, now: float | None = None) -> str | None:
        """None when good (and now used), else what is wrong with it: a key of the public
        form's catalogues (`service/i18n/*.toml`), for the notifier to read in their language."""
        now = time.time() if now is None else now
        try:
            issued, nonce, sig = ticket.split(".")
            age = now - float(issued)
        except ValueError:
            return "notice_ticket_damaged"
        if not hmac.compare_digest(sig, self._sign(issued, nonce)):
            return "notice_ticket_damaged"
        if age < self.min_age:
            return "notice_too_fast"
        if age > self.max_age:
            return "notice_expired"
        with self._lock:
            if ticket in self._used:
                return "notice_already_sent"
            self._used[ticket] = None
            while len(self._used) > self._remember:
                self._used.popitem(last=False)
        return None
