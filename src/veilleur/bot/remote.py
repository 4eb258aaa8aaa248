"""The bot as a client of a running `veilleur serve` (`veilleur bot --api URL`), so that many
servers' bots share one engine.

Events go to `POST /v1/events` (journaled by the service before it answers), messages to
`POST /v1/verdict`, members' reports to `POST /v1/reports`, with an API key holding the
`events`, `verdict` and `reports` scopes. A message's
verdict is asked once the service's backlog is empty after the bot sent other events (read
from `/health`, waited for at most `order_seconds`: a busy shared service may hold a
catalogue channel's creation behind other servers' traffic). The evidence check before a
removal is the service's answer: its verdict lists the records it sealed for the message,
written to disk before it answers.

Not in this mode: fetching attachments (they are sent as references), and a queue on disk
while the service is unreachable: the bot retries for a while, then stops (what the service
accepted is safe in its journal; what the bot held in memory is not).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from veilleur.bot.plan import Answer, Evidence
from veilleur.service.runtime import EngineDown

log = logging.getLogger("veilleur.bot")


class ServiceEngine:
    @property
    def spool(self) -> Path | None:
        """No local folder: attachments are not fetched in this mode."""
        return None

    def __init__(self, url: str, key: str, *, client: httpx.AsyncClient | None = None,
                 tries: int = 6, order_seconds: float = 2.0) -> None:
        self.url = url.rstrip("/")
        self.client = client or httpx.AsyncClient(timeout=30.0)
        self.headers = {"Authorization": f"Bearer {key}"}
        self.tries = tries
        self.order_seconds = order_seconds
        self._unordered = False
        """Events were sent since the last verdict: wait for the service to take them in."""
        self._evidence: dict[int, tuple[Evidence, ...]] = {}
        self.rejected: list[str] = []

    async def send(self, raws: list[dict[str, Any]]) -> int:
        if not raws:
            return 0
        body = (await self._post("/v1/events", {"events": raws})).json()
        for bad in body.get("rejected", ()):
            line = f"event {raws[bad['index']].get('type')} refused: {bad['error']}"
            self.rejected.append(line)
            del self.rejected[:-1000]
            log.error("%s", line)
        self._unordered = True
        return int(body.get("accepted", 0))

    async def judge(self, raw: dict[str, Any], *, fetched: bool = False) -> Answer:
        if self._unordered:
            await self._caught_up()
        verdict = (await self._post("/v1/verdict", raw)).json()
        mid = int(raw["message"]["id"])
        evidence = tuple(Evidence(e["id"], e["sha256"]) for e in verdict.get("evidence", ())
                         if e.get("target") == {"kind": "message", "id": str(mid)})
        if evidence:
            self._evidence[mid] = evidence
            while len(self._evidence) > 10_000:
                self._evidence.pop(next(iter(self._evidence)))
        return Answer.of(verdict, evidence)

    async def evidence_of(self, message_id: int) -> tuple[Evidence, ...]:
        return self._evidence.get(message_id, ())

    async def report(self, body: dict[str, Any]) -> None:
        """`POST /v1/reports` (the key's `reports` scope)."""
        await self._post("/v1/reports", body)

    async def close(self) -> None:
        await self.client.aclose()

    # A moderator's click waits on these: answered at once, never queued or retried at
    # length; a failure is told to the moderator (`ValueError`), the bot goes on.

    async def case_view(self, case_id: str, viewer: str) -> dict[str, Any] | None:
        """`GET /v1/cases/{id}` (the key's `cases:read` scope; audited as the key's)."""
        r = await self._ask("GET", f"/v1/cases/{quote(case_id, safe='')}")
        if r.status_code == 404:
            return None
        view = self._ok(r, "cases:read").json()
        merged = view.get("merged_into")
        if merged and merged != case_id:
            return await self.case_view(str(merged), viewer)
        return dict(view)

    async def decide(self, case_id: str, reviewer: str,
                     verdicts: Mapping[tuple[str, str], str | None]) -> dict[str, Any]:
        """`POST /v1/cases/{id}/decision` (the key's `cases:decide` scope)."""
        body = {"reviewer": reviewer[:64], "partial": True, "verdicts": [
            {"target": {"kind": kind, "id": tid}, "category": category}
            for (kind, tid), category in verdicts.items()]}
        r = await self._ask("POST", f"/v1/cases/{quote(case_id, safe='')}/decision", body)
        return dict(self._ok(r, "cases:decide").json())

    async def report_case(self, report_id: str, *, tries: int = 20) -> str | None:
        """`GET /v1/reports/{id}` until the service has taken the report in (about 10 s at
        most: past that the moderators find the case in the console)."""
        for _ in range(tries):
            try:
                r = await self._ask("GET", f"/v1/reports/{quote(report_id, safe='')}")
            except ValueError:
                return None
            if r.status_code == 200:
                case = r.json().get("case_id")
                return str(case) if case else None
            if r.status_code != 404:
                return None
            await asyncio.sleep(0.5)
        return None

    async def complaint(self, body: dict[str, Any]) -> None:
        """`POST /v1/appeals` (the key's `appeals` scope)."""
        self._ok(await self._ask("POST", "/v1/appeals", body), "appeals")

    async def audit(self, kind: str, actor: str, subject: str, detail: dict[str, Any]
                    ) -> None:
        """The service's audit chain has no door for a client: its decisions and appeals
        are audited there; the rest is in the bot's log."""
        log.info("audit %s by %s on %s: %s", kind, actor, subject, detail)

    async def _ask(self, method: str, path: str, body: Any = None) -> httpx.Response:
        try:
            return await self.client.request(method, f"{self.url}{path}", json=body,
                                              headers=self.headers)
        except httpx.TransportError as exc:
            raise ValueError(f"the service at {self.url} is unreachable "
                             f"({type(exc).__name__})") from None

    @staticmethod
    def _ok(r: httpx.Response, scope: str) -> httpx.Response:
        if r.status_code in (401, 403):
            raise ValueError(f"the service refused the API key ({r.status_code}); this "
                             f"needs its {scope} scope")
        if r.status_code >= 400:
            raise ValueError(f"{r.status_code}: {_detail(r)}")
        return r

    async def _caught_up(self) -> None:
        end = time.monotonic() + self.order_seconds
        while time.monotonic() < end:
            try:
                r = await self.client.get(f"{self.url}/health")
                if r.json().get("backlog", 0) == 0:
                    break
            except (httpx.HTTPError, ValueError):
                break  # the verdict's own call says what is wrong
            await asyncio.sleep(0.05)
        self._unordered = False

    async def _post(self, path: str, body: Any) -> httpx.Response:
        """One call, retried while the service is busy (429, as long as it says) or out of
        reach (backing off); a stopped engine (503) or giving up stops the bot."""
        why = ""
        for attempt in range(self.tries):
            try:
                r = await self.client.post(f"{self.url}{path}", json=body,
                                           headers=self.headers)
            except httpx.TransportError as exc:
                why = f"the service at {self.url} is unreachable ({type(exc).__name__})"
                await asyncio.sleep(min(30.0, 0.5 * 2 ** attempt))
                continue
            if r.status_code == 429:
                why = "the service is busy"
                await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
                continue
            if r.status_code == 503:
                raise EngineDown(_detail(r))
            if r.status_code in (401, 403):
                raise EngineDown(f"the service refused the API key ({r.status_code}: "
                                 f"{_detail(r)}); it needs the events, verdict and reports scopes")
            if r.status_code >= 400:
                raise ValueError(f"{path}: {r.status_code}: {_detail(r)}")
            return r
        raise EngineDown(f"{why}, {self.tries} tries")


def _detail(r: httpx.Response) -> str:
    try:
        return str(r.json().get("detail", r.text))[:300]
    except ValueError:
        return r.text[:300]
