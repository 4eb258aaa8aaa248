"""The bot as a client of a running `veilleur serve` (`veilleur bot --api URL`), so that many
servers' bots share one engine.

Events go to `POST /v1/events` (journaled by the service before it answers), messages to
`POST /v1/verdict` (with the files the bot fetched: `POST /v1/verdict/message`), members'
reports to `POST /v1/reports`, with an API key holding the
`events`, `verdict` and `reports` scopes. A message's
verdict is asked once the service's backlog is empty after the bot sent other events (read
from `/health`, waited for at most `order_seconds`: a busy shared service may hold a
catalogue channel's creation behind other servers' traffic). The evidence check before a
removal is the service's answer: its verdict lists the records it sealed for the message,
written to disk before it answers.

Degrading safely (`--queue DIR`, `diskqueue.DiskQueue`): when the service cannot be reached
(a connection error, a time-out, 500/502/503/504) or stays busy (429) longer than
`busy_seconds`, what the bot was handing in is written to the queue on disk and counts as
taken: events as they are, a member's report as it is, and a message that wanted a verdict
as a plain message event (the service judges it when it gets it; the bot does nothing about
it now, since acting needs the evidence the service seals: its answer is `allow` marked
`queued`). A message whose verdict request may have reached the service before the
connection failed is queued for `/v1/verdict` instead, whose journal recognises a repeat.
While anything is queued, new items go behind it, never ahead; a background task replays
the queue in order (events in batches), every `retry_seconds` doubling to `max_backoff`
while the service stays away, and as long as a 429's `Retry-After` says. An item is
removed only once the service accepted it; the service de-duplicates (`/v1/events` and
`/v1/reports` by event id, `/v1/verdict` by its verdicts' journal), so a resend after a crash
is harmless. An item the service refuses as bad (400, 413, 422) is logged and dropped, since
it would never be accepted (a refused batch is split first, so that only the bad event
goes). A refused key (401, 403) stops the bot, queue kept. The queue survives a restart: it
is sent first.

Attachments: the bot fetches them as in embedded mode (`media.py`, under `--fetch-mb`),
into a private folder of its own (`spool`: `<queue folder>/spool`, owner-only), and a message
with files goes to `POST /v1/verdict/message` in one multipart call: its event as Discord
references its files (the service never sees a local path) and one part `file:<attachment
id>` per file fetched. The service hashes them, seals them in the evidence if a case opens,
and answers as `/v1/verdict` does; the bot's local copies are removed once the call returns
(`Handlers._judge`). When the service cannot be reached, the message is queued with its
references only (the local copies go all the same): the service judges it later without
its files' bytes, and the log says so. Clear copies left by a crash are removed at the next
start (nothing queued names them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from veilleur.bot.diskqueue import DiskQueue, Item
from veilleur.bot.plan import Answer, Evidence
from veilleur.private import private_dir
from veilleur.service.runtime import EngineDown

log = logging.getLogger("veilleur.bot")

EVENTS, VERDICT, REPORTS = "/v1/events", "/v1/verdict", "/v1/reports"
MESSAGE = "/v1/verdict/message"
"""A message with the files the bot fetched (multipart); never queued: the queue holds the
message with its references."""
FILE_PART = "file:"
BAD = (400, 413, 422)
"""The item itself is refused: sending it again will not change that."""
UNREACHABLE = (500, 502, 503, 504)
"""The service (or the proxy before it) is not answering for now."""
MAX_RETRY_AFTER = 3600.0
BATCH_BYTES = 4 * 1024 * 1024
"""A replayed batch of events holds at most this much (the service takes 8 MiB)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """One request's result: `ok`, `busy` (429), `down` (unreachable), `bad` (the item is
    refused), `odd` (another status: the URL or the service is wrong, not the item)."""

    kind: str
    why: str = ""
    response: httpx.Response | None = None
    wait: float = 0.0
    """`busy`: what Retry-After asked."""
    sent: bool = False
    """`down`: the request may have reached the service (it failed after being sent)."""


class ServiceEngine:
    @property
    def spool(self) -> Path | None:
        """Where fetched attachments wait for the call that sends them (owner-only; the
        queue's folder's `spool`, or the one given); None without either: attachments are
        sent as references."""
        return self._spool

    def __init__(self, url: str, key: str, *, client: httpx.AsyncClient | None = None,
                 queue: DiskQueue | None = None, spool: Path | None = None,
                 tries: int = 6, order_seconds: float = 2.0,
                 busy_seconds: float = 60.0, retry_seconds: float = 2.0,
                 max_backoff: float = 60.0, batch: int = 500,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 background: bool = True) -> None:
        self.url = url.rstrip("/")
        self.client = client or httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))
        self.headers = {"Authorization": f"Bearer {key}"}
        self.queue = queue
        """Where items wait while the service is unreachable (None: the bot retries `tries`
        times, then stops)."""
        if spool is None and queue is not None:
            spool = queue.folder / "spool"
        self._spool = private_dir(spool) if spool is not None else None
        if self._spool is not None:
            # Clear copies a crash left: nothing queued names them (the queue holds
            # references), so they are of no use and are not kept.
            for left in self._spool.iterdir():
                if left.is_file():
                    left.unlink(missing_ok=True)
        self.tries = tries
        self.order_seconds = order_seconds
        self.busy_seconds = busy_seconds
        """How long a 429 is waited out in line before the item goes to the queue."""
        self.retry_seconds = retry_seconds
        self.max_backoff = max_backoff
        self.batch = batch
        self.sleep = sleep
        self.clock = clock
        self.background = background
        self._unordered = False
        """Events were sent since the last verdict: wait for the service to take them in."""
        self._evidence: dict[int, tuple[Evidence, ...]] = {}
        self.rejected: list[str] = []
        self.dropped = 0
        """Queued items the service refused as bad (logged, removed from the queue)."""
        self.failure: str | None = None
        """Set when the replay met a refused key: the next call stops the bot."""
        self._order = asyncio.Lock()
        """Held by a call handed in at once: another waits, then sees what it queued."""
        self._not_before = 0.0
        self._backoff = retry_seconds
        self._split = batch
        self._wake: asyncio.Event | None = None
        self._replayer: asyncio.Task[None] | None = None

    # --- the Engine protocol ---------------------------------------------------------------

    async def send(self, raws: list[dict[str, Any]]) -> int:
        if not raws:
            return 0
        self._start()
        async with self._order:
            if self._behind():
                return await self._enqueue([(EVENTS, r) for r in raws])
            out = await self._direct(EVENTS, {"events": raws})
            if out.kind == "down":
                log.warning("%s: %d event(s) queued on disk", out.why, len(raws))
                return await self._enqueue([(EVENTS, r) for r in raws])
            body = self._ok(out, EVENTS).json()
            self._refused(body, raws)
            self._unordered = True
            return int(body.get("accepted", 0))

    async def judge(self, raw: dict[str, Any], *, fetched: bool = False,
                    references: dict[str, Any] | None = None) -> Answer:
        """`fetched`: `raw` names files the bot wrote under `spool`; they are sent with
        `references` (the same event as Discord references its files), or with `raw`
        without those paths: the service never sees a local path."""
        self._start()
        files = self._files(raw) if fetched else {}
        if files:
            raw = self._plain(references if references is not None else raw, files)
        path = MESSAGE if files else VERDICT
        async with self._order:
            if self._behind():
                return await self._queued(EVENTS, raw, files)
            if self._unordered:
                await self._caught_up()
            out = await self._direct(path, raw, files)
            if out.kind == "down":
                # Sent and lost on the way back: the verdicts' journal knows a repeat.
                log.warning("%s: message %s queued on disk, judged when the service is "
                            "back", out.why, raw.get("message", {}).get("id"))
                return await self._queued(VERDICT if out.sent else EVENTS, raw, files)
            verdict = self._ok(out, path).json()
        if files:
            taken = {str(f.get("attachment_id")) for f in verdict.get("files") or ()}
            missing = sorted(set(files) - taken)
            if missing:
                log.error("message %s: the service did not say it took attachment(s) %s",
                          raw["message"]["id"], ", ".join(missing))
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
        """`POST /v1/reports` (the key's `reports` scope); queued on disk while the service
        is unreachable (taken: the member is answered so)."""
        self._start()
        async with self._order:
            if not self._behind():
                out = await self._direct(REPORTS, body)
                if out.kind != "down":
                    self._ok(out, REPORTS)
                    return
                log.warning("%s: report %s queued on disk", out.why, body.get("id"))
            if not await self._enqueue([(REPORTS, body)]):
                raise RuntimeError(f"report {body.get('id')}: the service is unreachable "
                                   "and the bot's disk queue is full")

    async def close(self) -> None:
        task = self._replayer
        if task is not None and not task.done():
            try:
                same_loop = task.get_loop() is asyncio.get_running_loop()
            except RuntimeError:
                same_loop = False
            if same_loop:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if self.queue is not None:
            self.queue.close()
        await self.client.aclose()

    # A moderator's click waits on these: answered at once, never queued or retried at
    # length; a failure is told to the moderator (`ValueError`), the bot goes on.

    async def case_view(self, case_id: str, viewer: str) -> dict[str, Any] | None:
        """`GET /v1/cases/{id}` (the key's `cases:read` scope; audited as the key's)."""
        r = await self._ask("GET", f"/v1/cases/{quote(case_id, safe='')}")
        if r.status_code == 404:
            return None
        view = self._answered(r, "cases:read").json()
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
        return dict(self._answered(r, "cases:decide").json())

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
        self._answered(await self._ask("POST", "/v1/appeals", body), "appeals")

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
    def _answered(r: httpx.Response, scope: str) -> httpx.Response:
        if r.status_code in (401, 403):
            raise ValueError(f"the service refused the API key ({r.status_code}); this "
                             f"needs its {scope} scope")
        if r.status_code >= 400:
            raise ValueError(f"{r.status_code}: {_detail(r)}")
        return r

    # --- the queue -------------------------------------------------------------------------

    def _behind(self) -> bool:
        """New items go to the queue: it holds older ones, or the service asked to wait."""
        if self.failure is not None:
            raise EngineDown(self.failure)
        return self.queue is not None and (len(self.queue) > 0
                                           or self.clock() < self._not_before)

    async def _enqueue(self, items: list[tuple[str, Any]]) -> int:
        assert self.queue is not None
        try:
            stored = await asyncio.to_thread(self.queue.put, items)
        except (sqlite3.Error, OSError) as exc:  # the disk is full, the file went away...
            self.queue.refused += len(items)
            log.error("the bot's disk queue %s could not be written (%s): %d item(s) lost, "
                      "%d so far", self.queue.file, exc, len(items), self.queue.refused)
            return 0
        if self._wake is not None:
            self._wake.set()
        return stored

    def _files(self, raw: dict[str, Any]) -> dict[str, Path]:
        """The attachments of `raw` that are files the bot fetched (under `spool`), by id."""
        if self._spool is None:
            return {}
        spool = self._spool.resolve()
        out = {}
        for a in (raw.get("message") or {}).get("attachments") or ():
            where = a.get("path")
            if not where or "://" in where:
                continue
            p = Path(where).resolve()
            if p.is_relative_to(spool) and p.is_file():
                out[str(a["id"])] = p
        return out

    def _plain(self, event: dict[str, Any], files: Mapping[str, Path]) -> dict[str, Any]:
        """`event` as the service may see it: no attachment names a local file of the bot
        (one that does loses its path; a file sent replaces it)."""
        spool = self._spool.resolve() if self._spool is not None else None
        message = dict(event["message"])
        kept = []
        for a in message.get("attachments") or ():
            where = a.get("path")
            local = bool(where) and "://" not in where and (
                str(a.get("id")) in files
                or (spool is not None and Path(where).resolve().is_relative_to(spool)))
            kept.append({k: v for k, v in a.items() if k != "path"} if local else a)
        message["attachments"] = kept
        return {**event, "message": message}

    async def _queued(self, path: str, raw: dict[str, Any],
                      files: Mapping[str, Path] | None = None) -> Answer:
        if files:
            log.warning("message %s queued with its attachments as references: file(s) %s "
                        "were not hashed (the bot's copies are not kept)",
                        raw.get("message", {}).get("id"), ", ".join(files))
        if await self._enqueue([(path, raw)]):
            return Answer("allow", ("queued: the service is unreachable; it judges the "
                                    "message when it is back",), queued=True)
        return Answer("allow", ("dropped: the service is unreachable and the bot's disk "
                                "queue is full",))

    def _start(self) -> None:
        """The replay runs in the bot's loop from its first call on (the queue left by the
        last run goes first)."""
        if self.queue is None or not self.background or self._replayer is not None:
            return
        self._wake = asyncio.Event()
        if len(self.queue):
            self._wake.set()
        self._replayer = asyncio.get_running_loop().create_task(self._replay(),
                                                                name="queue-replay")

    async def _replay(self) -> None:
        assert self.queue is not None and self._wake is not None
        while True:
            if not len(self.queue):
                self._wake.clear()
                await self._wake.wait()
            try:
                wait = await self.drain()
            except EngineDown:
                return
            except Exception:
                log.exception("the bot's disk queue could not be replayed")
                wait = self._later()
            if wait > 0:
                await self.sleep(wait)

    async def drain(self) -> float:
        """Replay the queue in order until it is empty (0.0) or the service fails again
        (then the seconds to wait before the next try)."""
        if self.queue is None:
            return 0.0
        # No lock: while anything is queued, new items only go behind it (`_behind`), and
        # the last one is removed only once the service took it.
        while True:
            if not len(self.queue):
                self._backoff = self.retry_seconds
                return 0.0
            wait = self._not_before - self.clock()
            if wait > 0:
                return wait
            items = await asyncio.to_thread(self.queue.head, self._split)
            if not items:
                continue  # only unreadable rows, skipped
            group = [items[0]]
            if items[0].path == EVENTS:
                size = items[0].size
                for item in items[1:]:
                    size += item.size
                    if item.path != EVENTS or size > BATCH_BYTES:
                        break
                    group.append(item)
            wait = await self._hand_in(group)
            if wait > 0:
                return wait

    async def _hand_in(self, group: list[Item]) -> float:
        assert self.queue is not None
        path = group[0].path
        if path == VERDICT and self._unordered:
            await self._caught_up()
        body = {"events": [i.body for i in group]} if path == EVENTS else group[0].body
        try:
            out = await self._call(path, body)
        except EngineDown as exc:
            self.failure = exc.why
            log.error("%s; the bot stops at its next event (the queue on disk is kept)", exc)
            raise
        if out.kind == "busy":
            self._not_before = self.clock() + out.wait
            log.warning("%s; the queue is replayed again in %.0f s", out.why, out.wait)
            return out.wait
        if out.kind in ("down", "odd"):
            wait = self._later()
            log.log(logging.ERROR if out.kind == "odd" else logging.WARNING,
                    "%s; %d item(s) queued on disk, tried again in %.0f s", out.why,
                    len(self.queue), wait)
            return wait
        if out.kind == "bad":
            if len(group) > 1:
                self._split = max(1, len(group) // 2)  # the bad one is found by halves
                return 0.0
            self.dropped += 1
            log.error("queued %s item %s refused by the service (%s): dropped, it will never "
                      "be accepted (%d dropped so far)", path, group[0].seq, out.why,
                      self.dropped)
        else:
            assert out.response is not None
            answer = out.response.json()
            if path == EVENTS:
                self._refused(answer, [i.body for i in group])
                self._unordered = True
            elif path == VERDICT and answer.get("verdict") not in (None, "allow"):
                log.warning("queued message %s judged %s by the service (case %s): the "
                            "moderators have it", answer.get("message_id"),
                            answer.get("verdict"), answer.get("case_id"))
        await asyncio.to_thread(self.queue.remove, group)
        self._backoff = self.retry_seconds
        self._split = min(self.batch, self._split * 2)
        return 0.0

    def _later(self) -> float:
        wait, self._backoff = self._backoff, min(self.max_backoff, self._backoff * 2)
        return wait

    # --- calls -----------------------------------------------------------------------------

    async def _direct(self, path: str, body: Any,
                      files: Mapping[str, Path] | None = None) -> Outcome:
        """One call in line: a 429 waited out while `busy_seconds` last (then it is `down`:
        queued, and the replay waits as the service asked); with no queue, an unreachable
        service is tried `tries` times before the bot stops."""
        waited, attempt = 0.0, 0
        while True:
            out = await self._call(path, body, files)
            if out.kind == "busy":
                if self.queue is not None:
                    if waited + out.wait > self.busy_seconds:
                        self._not_before = self.clock() + out.wait
                        return Outcome("down", out.why)
                else:
                    attempt += 1
                    if attempt >= self.tries:
                        raise EngineDown(f"{out.why}, {self.tries} tries")
                waited += out.wait
                await self.sleep(out.wait)
            elif out.kind == "down" and self.queue is None:
                attempt += 1
                if attempt >= self.tries:
                    raise EngineDown(f"{out.why}, {self.tries} tries")
                await self.sleep(min(30.0, 0.5 * 2 ** (attempt - 1)))
            else:
                return out

    async def _call(self, path: str, body: Any,
                    files: Mapping[str, Path] | None = None) -> Outcome:
        try:
            if files:
                r = await self._multipart(path, body, files)
            else:
                r = await self.client.post(f"{self.url}{path}", json=body,
                                           headers=self.headers)
        except httpx.TransportError as exc:
            sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout
                                  | httpx.PoolTimeout)
            return Outcome("down", f"the service at {self.url} is unreachable "
                           f"({type(exc).__name__})", sent=sent)
        if r.status_code in (401, 403):
            raise EngineDown(f"the service refused the API key ({r.status_code}: "
                             f"{_detail(r)}); it needs the events, verdict and reports scopes")
        if r.status_code == 429:
            return Outcome("busy", f"the service is busy ({_detail(r)})",
                           wait=retry_after(r))
        if r.status_code in UNREACHABLE:
            return Outcome("down", f"the service at {self.url} answers {r.status_code} "
                           f"({_detail(r)[:120]})", sent=r.status_code != 503)
        if r.status_code in BAD:
            return Outcome("bad", f"{path}: {r.status_code}: {_detail(r)}", r)
        if r.status_code >= 400:
            return Outcome("odd", f"{path}: {r.status_code}: {_detail(r)}", r)
        return Outcome("ok", "", r)

    async def _multipart(self, path: str, event: dict[str, Any],
                         files: Mapping[str, Path]) -> httpx.Response:
        """The event and its files in one call (`POST /v1/verdict/message`): a part
        `file:<attachment id>` per file, named by its own name (its SHA-256), never its
        folder. The files are opened for each try and streamed, not read whole."""
        types = {str(a.get("id")): a.get("content_type")
                 for a in event["message"].get("attachments") or ()}
        with contextlib.ExitStack() as stack:
            parts = [(f"{FILE_PART}{aid}",
                      (p.name, stack.enter_context(open(p, "rb")),
                       types.get(aid) or "application/octet-stream"))
                     for aid, p in files.items()]
            return await self.client.post(
                f"{self.url}{path}", data={"event": json.dumps(event, ensure_ascii=False)},
                files=parts, headers=self.headers)

    def _ok(self, out: Outcome, path: str) -> httpx.Response:
        if out.kind != "ok" or out.response is None:
            raise ValueError(out.why or f"{path}: no answer")
        return out.response

    def _refused(self, body: dict[str, Any], raws: list[Any]) -> None:
        for bad in body.get("rejected", ()):
            raw = raws[bad["index"]] if 0 <= bad.get("index", -1) < len(raws) else {}
            line = f"event {raw.get('type')} refused: {bad['error']}"
            self.rejected.append(line)
            del self.rejected[:-1000]
            log.error("%s", line)

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


def retry_after(r: httpx.Response, default: float = 5.0) -> float:
    """The seconds a 429 asks to wait (a number; a date or nothing: `default`)."""
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(r.headers.get("Retry-After", ""))))
    except ValueError:
        return default


def _detail(r: httpx.Response) -> str:
    try:
        return str(r.json().get("detail", r.text))[:300]
    except (ValueError, AttributeError):
        return r.text[:300]
