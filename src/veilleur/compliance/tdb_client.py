"""Submitting statements to the DSA Transparency Database API (spec §2.1).

- Batches of at most 100 (`POST statements`, all-or-nothing).
- Idempotent by puid: puids known to be stored are never sent again; a batch refused because
  some puids already exist is resent without them.
- 429 and 5xx are retried with exponential back-off (honouring Retry-After); 401 stops.
- An ambiguous outcome (a timeout, a dropped connection) is reconciled puid by puid with
  `GET statement/existing-puid/{puid}` (302: stored, 404: not) before anything is resent.
- A 422 naming statements refuses those (they are reported, with the API's messages) and
  sends the rest.
Local validation runs first: an invalid statement never leaves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from veilleur.compliance import tdb

MAX_BATCH = 100
SANDBOX = "https://transparency.dsa.ec.europa.eu/api/v1/"


class TdbAuthError(RuntimeError):
    pass


@dataclass
class Outcome:
    submitted: dict[str, str | None] = field(default_factory=dict)
    """puid → uuid (None when the API only told us it exists)."""
    already: list[str] = field(default_factory=list)
    rejected: dict[str, list[str]] = field(default_factory=dict)
    """puid → why (local validation or the API's 422)."""
    failed: dict[str, str] = field(default_factory=dict)
    """puid → the last error, after every retry (to try again later)."""
    requests: int = 0
    retries: int = 0


class TdbSubmitter:
    def __init__(self, client: httpx.Client, token: str, *, base_url: str = SANDBOX,
                 attempts: int = 6, backoff: float = 0.5, max_wait: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.base = base_url.rstrip("/") + "/"
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json",
                        "Content-Type": "application/json"}
        self.attempts = attempts
        self.backoff = backoff
        self.max_wait = max_wait
        self.sleep = sleep

    def submit(self, statements: Sequence[dict[str, Any]], *,
               known: set[str] | None = None) -> Outcome:
        """`known`: puids already stored (from our own records): skipped."""
        out = Outcome()
        seen = set(known or ())
        todo: list[dict[str, Any]] = []
        for s in statements:
            puid = str(s.get("puid"))
            if puid in seen:
                continue
            seen.add(puid)
            errors = tdb.validate(s)
            if errors:
                out.rejected[puid] = errors
            else:
                todo.append(s)
        for i in range(0, len(todo), MAX_BATCH):
            self._batch(todo[i:i + MAX_BATCH], out)
        return out

    def _batch(self, batch: list[dict[str, Any]], out: Outcome) -> None:
        attempt = 0
        while batch:
            attempt += 1
            out.requests += 1
            try:
                r = self.client.post(self.base + "statements", json={"statements": batch},
                                     headers=self.headers)
            except httpx.TransportError as exc:
                # Ambiguous: the batch may have been stored. Ask before resending.
                batch = self._reconcile(batch, out)
                if not batch:
                    return
                if attempt >= self.attempts:
                    self._fail(batch, out, f"{type(exc).__name__}: {exc}")
                    return
                self._wait(attempt, None, out)
                continue
            if r.status_code == 201:
                stored = r.json().get("statements", [])
                for s, item in zip(batch, stored, strict=False):
                    out.submitted[s["puid"]] = item.get("uuid")
                for s in batch[len(stored):]:
                    out.submitted[s["puid"]] = None
                return
            if r.status_code == 401:
                raise TdbAuthError("the Transparency Database refused the token (401)")
            if r.status_code == 422:
                batch = self._refused(batch, r, out)
                attempt = 0
                continue
            if r.status_code == 429 or r.status_code >= 500:
                if attempt >= self.attempts:
                    self._fail(batch, out, f"HTTP {r.status_code} after {attempt} attempts")
                    return
                self._wait(attempt, r.headers.get("Retry-After"), out)
                continue
            self._fail(batch, out, f"HTTP {r.status_code}: {r.text[:200]}")
            return

    def _refused(self, batch: list[dict[str, Any]], r: httpx.Response, out: Outcome
                 ) -> list[dict[str, Any]]:
        """A 422 stores nothing: drop what exists or is invalid, and resend the rest."""
        try:
            body = r.json()
        except ValueError:
            body = {}
        errors = body.get("errors", {}) if isinstance(body, dict) else {}
        existing = set(errors.get("existing_puids", []) or [])
        if isinstance(body, dict) and isinstance(body.get("existing"), dict):
            existing.add(str(body["existing"].get("puid")))
        keep = []
        named = False
        for i, s in enumerate(batch):
            puid = s["puid"]
            why = errors.get(f"statement_{i}")
            if puid in existing:
                out.already.append(puid)
                named = True
            elif why:
                out.rejected[puid] = [str(w) for w in (why if isinstance(why, list)
                                                       else [why])]
                named = True
            else:
                keep.append(s)
        if not named:  # a 422 we cannot attribute: refuse the lot rather than loop
            for s in batch:
                out.rejected[s["puid"]] = [str(body.get("message", "HTTP 422"))
                                           if isinstance(body, dict) else "HTTP 422"]
            return []
        return keep

    def exists(self, puid: str) -> bool | None:
        """True (302), False (404), None (could not tell)."""
        try:
            r = self.client.get(self.base + f"statement/existing-puid/{puid}",
                                headers=self.headers, follow_redirects=False)
        except httpx.TransportError:
            return None
        return True if r.status_code == 302 else False if r.status_code == 404 else None

    def _reconcile(self, batch: list[dict[str, Any]], out: Outcome) -> list[dict[str, Any]]:
        rest = []
        for s in batch:
            found = self.exists(s["puid"])
            out.requests += 1
            if found:
                out.submitted[s["puid"]] = None
            else:
                rest.append(s)
        return rest

    def _wait(self, attempt: int, retry_after: str | None, out: Outcome) -> None:
        out.retries += 1
        delay = self.backoff * 2 ** (attempt - 1)
        if retry_after and retry_after.isdigit():
            delay = max(delay, float(retry_after))
        self.sleep(min(delay, self.max_wait))

    @staticmethod
    def _fail(batch: list[dict[str, Any]], out: Outcome, why: str) -> None:
        for s in batch:
            out.failed[s["puid"]] = why
