"""The engine as a long-running service: one live casework, fed from the inbox in order.

- **Accepting** (`accept`) validates each event and journals the good ones in the inbox,
  then answers: accepted means on disk. A full backlog is refused as a whole (`Busy`, HTTP
  429) rather than held in memory.
- **Taking in** (the worker thread) handles inbox rows in order through `Casework.handle`
  under the runtime's lock, with the wall clock as `now`, and between rows lets the clocks
  tick. Every `checkpoint_events` rows or `checkpoint_seconds`, `checkpoint` writes the
  store writer, the detectors' memory and the casework records, and only then marks the rows
  done. After a crash the rows not done are taken in again.
- **Verdicts** (`verdict`) journal the message, then handle it at once under the lock (the
  worker holds the lock one event at a time, so a verdict waits for at most one event), and
  answer from what casework did with it: refused, removed or blocked, under review, or allowed.
- **People** (console, API decisions) use the same casework under the same lock; a decision is
  made durable at once.
- **One writer.** The service holds the database's lease (`store.lease`) while it runs, so no
  other process writes casework under it; audit entries from any process are chained in the
  database (`store.auditlog`). If the engine stops (a write that keeps failing, the lease
  lost, a fault), the service says so (`failure`): /health and everything that would accept
  work answer 503 (`EngineDown`) rather than take in what nobody will handle, and nothing
  more is written over the hole; a restart takes the journal in again.
- **On a bus** (`serve --bus`, `settings.bus`; `bus.serve.BusLink`): accepted platform events
  go on the bus's `events` topic, acknowledged by the broker before the answer (accepted
  means on the log; a broker that does not acknowledge is `BusDown`, HTTP 503, nothing of
  the batch accepted), instead of the inbox. The engine thread takes the detect workers'
  `findings` into casework as it takes inbox rows, under the lock, and their offsets are
  committed once the checkpoint holding them is written. Reports, notices, orders, order
  updates and complaints still enter through the inbox (casework's, never on the bus). A
  verdict goes on `events` and is then judged here, by the service's own engine. Actions
  and documents go out on `actions` and `documents` from the database's outbox.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from veilleur.cases.casework import Casework
from veilleur.cases.models import Case, Decision, iso
from veilleur.cases.review import ReviewError, Verdict
from veilleur.confine import RefusedPathError, locate
from veilleur.deployment import Mode, Settings, assemble, fresh_content
from veilleur.detect.base import Detector
from veilleur.detect.media.decode import Limits
from veilleur.events import LEGAL_TYPES, PLATFORM_TYPES, Attachment, Event, Message, MessagePosted
from veilleur.ingest.eventlog import parse_event
from veilleur.ingest.fields import FieldError
from veilleur.ingest.media import MediaReader, is_remote
from veilleur.private import tighten
from veilleur.service.inbox import VERDICT, Inbox, Pending, event_key, journal_database
from veilleur.store import lease
from veilleur.store.content import LayeredContent
from veilleur.store.db import connect, database_url
from veilleur.store.memory import StoredMemory
from veilleur.store.writer import StoreWriter
from veilleur.taxonomy import Target, TargetKind

log = logging.getLogger("veilleur.service")
MEDIA_FOLDER = "media folder"


KNOWN_TYPES = PLATFORM_TYPES | LEGAL_TYPES
RECEIVED_BY = "received_by"
"""The journal's stamp on each accepted event: the door it came through (`api:KEY`, ...)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class ServiceSettings:
    db: str | None = None
    """A SQLite file or a PostgreSQL URL (`$VEILLEUR_DB`, else ./veilleur.db)."""
    evidence_key: Path | None = None
    media_root: Path | None = None
    """Attachments' `path`s are read under this folder (the platform's shared storage)."""
    upload_dir: Path | None = None
    """Where `/v1/verdict/upload` keeps the files it is sent (default: beside the database)."""
    max_batch: int = 5000
    max_backlog: int = 200_000
    checkpoint_events: int = 5000
    checkpoint_seconds: float = 1.0
    content_memory: int = 300_000
    """Messages held in memory before the in-process content view is dropped (the store
    answers for them)."""
    secure_cookies: bool = False
    secret: bytes = field(default_factory=lambda: __import__("secrets").token_bytes(32))
    public_per_minute: float = 6.0
    public_burst: int = 10
    form_per_minute: float = 120.0
    form_min_seconds: float = 2.0
    """A notice form sent sooner than this after it was served is a robot's."""
    key_per_minute: float = 60_000.0
    key_burst: int = 20_000
    max_body_bytes: int = 1024 * 1024
    """A request body's size, for every route not named below (413 past it)."""
    max_batch_bytes: int = 8 * 1024 * 1024
    """`POST /v1/events`."""
    max_bank_bytes: int = 32 * 1024 * 1024
    """`POST /v1/banks/{name}/entries`."""
    max_upload_bytes: int = 64 * 1024 * 1024
    """`POST /v1/verdict/upload`: the file and its fields; and the largest file of
    `POST /v1/verdict/message`."""
    max_message_bytes: int = 128 * 1024 * 1024
    """`POST /v1/verdict/message`: the message event and all its files."""
    max_form_bytes: int = 512 * 1024
    """The console's and the public notice's forms."""
    max_json_depth: int = 32
    """JSON bodies nested deeper are refused (400) before they are parsed."""
    trusted_proxies: tuple[str, ...] = ()
    """CIDRs of the reverse proxies whose X-Forwarded-For is believed; none by default."""
    metrics_from: tuple[str, ...] = ()
    """CIDRs that may read /metrics without a key; by default a `metrics` key is needed."""
    login_failures: int = 5
    """Failed console logins within `login_window_minutes` that lock the account."""
    login_window_minutes: float = 15.0
    lockout_minutes: float = 5.0
    """The first lock's length; each lock after it (no success between) doubles, to a day."""
    break_after_reveals: int = 20
    """The console reminds a reviewer to take a break after this many revealed files in a
    day (and again at each multiple)."""
    bus: Any = None
    """A `bus.serve.BusSettings` (`serve --bus kafka://HOST:PORT`): platform events go on the
    bus's `events` topic and casework takes the detect workers' `findings`; None: the
    embedded engine."""


class Busy(RuntimeError):  # noqa: N818 - an answer (HTTP 429), not a fault
    def __init__(self, backlog: int, retry_after: int) -> None:
        super().__init__(f"the service has {backlog:,} events waiting to be taken in; "
                         f"send again in {retry_after} s")
        self.backlog, self.retry_after = backlog, retry_after


class BadEventError(ValueError):
    pass


class BusDown(RuntimeError):  # noqa: N818 - an answer (HTTP 503), not a fault
    """The bus did not acknowledge (serve --bus): nothing of the request is accepted."""

    def __init__(self, why: str, retry_after: int = 10) -> None:
        super().__init__(why)
        self.retry_after = retry_after


class EngineDown(RuntimeError):  # noqa: N818 - an answer (HTTP 503), not a fault
    """The engine no longer takes anything in: accepting more would be a false promise."""

    def __init__(self, why: str) -> None:
        super().__init__(f"the engine is stopped ({why}); nothing is accepted until the "
                         "service is restarted, which takes in again what was accepted")
        self.why = why


@dataclass
class Accepted:
    accepted: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"accepted": len(self.accepted), "duplicates": len(self.duplicates),
                "rejected": self.rejected, "items": self.accepted + self.duplicates}


class _Unread(MediaReader):
    """Accept-time parsing: checks where an attachment points, reads nothing."""

    def __init__(self, root: Path | None, *, bus: bool = False) -> None:
        super().__init__()
        self.root = root.resolve() if root is not None else None
        self.bus = bus
        self.warnings: list[str] = []

    def attachment(self, *, id: str, ref: str | None, base_dir: Path,
                   filename: str | None = None, size: int | None = None,
                   content_type: str | None = None) -> Attachment:
        if ref and not is_remote(ref):
            if self.bus:
                self.warnings.append(f"attachment {id}: the bus's detect workers read no "
                                     "local file; its file will not be hashed")
            elif self.root is None:
                self.warnings.append(f"attachment {id}: this service has no media folder "
                                     "(--media-root); its file will not be hashed")
            else:
                try:  # the same check as when the file is read; it need not exist yet
                    locate(ref, self.root, MEDIA_FOLDER)
                except RefusedPathError as exc:
                    raise FieldError(f"attachment {id}: {exc}") from None
        return Attachment(id=id, filename=filename, url=ref, content_type=content_type)


def unchecked_media(message: Message) -> list[str]:
    """Why each file the service was given could not be checked as a picture or video.

    A file read from disk (an upload, a path under the media folder) that does not decode
    has no PDQ: only its exact digests were matched, so "allow" would vouch for what nobody
    looked at. Remote references (never fetched) are not files given to us. The reasons
    name the attachment, never the server's path to it."""
    reasons = []
    for att in message.attachments:
        if att.path is None and att.media_error is None:
            continue
        decoded = att.media is not None and att.media.kind is not None
        if decoded and att.media_error is None:
            continue
        why = (att.media.error if att.media is not None and att.media.error
               else "the file could not be read")
        reasons.append(f"attachment {att.id} could not be checked as a picture or video "
                       f"({why}): held for a person to look at")
    return reasons


def report_event(now: datetime, report: dict[str, Any]) -> dict[str, Any]:
    """A report (a `ReportIn`'s fields, with its `source`) as the journal's `report` event:
    the API's report doors and the Discord bot's `/veilleur report` make it the same way."""
    clean = {k: v for k, v in report.items() if v is not None}
    return {"type": "report", "ts": iso(now), "event_id": f"report:{report['id']}",
            "report": clean}


class Runtime:
    def __init__(self, settings: ServiceSettings, *,
                 clock: Callable[[], datetime] = utcnow) -> None:
        from veilleur.enforce.evidence import key_for_database

        self.settings = settings
        self.clock = clock
        self.url = database_url(settings.db)
        self.db = connect(self.url)
        self.lease = secrets.token_hex(16)
        """This runtime's token for the database's lease (taken by `hold`)."""
        self._failure: str | None = None
        self._lease_renewed = 0.0
        # The checkpoints write the buffers; the writer's own threshold is only a backstop.
        try:
            self.key = key_for_database(self.url, settings.evidence_key)
            deployment = assemble(Settings(mode=Mode.LIVE, db_url=self.url,
                                           evidence_key=self.key, lease=self.lease,
                                           batch_size=50_000),
                                  db=self.db, on_failure=self._detector_failed)
        except BaseException:
            self.db.dispose()
            raise
        assert deployment.writer is not None and deployment.casework is not None
        self.writer: StoreWriter = deployment.writer
        self.detector_settings = deployment.engine_settings
        self.casework: Casework = deployment.casework
        self.inbox = Inbox(journal_database(self.db, self.url))
        self.verdict_log = Inbox(journal_database(self.db, self.url, "-verdicts"),
                                 verdicts=True)
        """Verdicts' messages get a journal of their own: their one-row commits never wait
        behind a batch's."""
        self.lock = threading.RLock()
        self.media_root = settings.media_root.resolve() if settings.media_root else None
        self.upload_dir = (settings.upload_dir or Path(
            self.url.removeprefix("sqlite:///") + ".uploads"
            if self.url.startswith("sqlite:///") else "veilleur-uploads")).resolve()
        # Uploads kept by an earlier version may sit in a folder others can read.
        tighten(self.upload_dir)
        self._reader = self._new_reader()
        self._uncommitted: list[int] = []
        self._results: dict[int, dict[str, Any]] = {}
        self._uncommitted_verdicts: list[int] = []
        self._verdict_results: dict[int, dict[str, Any]] = {}
        self._recent_verdicts: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._last_seq = 0
        self._taken_seq = 0
        """The last inbox row whose take-in has finished (`taken_in`)."""
        self._last_checkpoint = time.monotonic()
        self._io = threading.Lock()
        self._waiting = 0
        """Verdicts and people waiting for the lock (the worker steps aside for them)."""
        self._waiting_lock = threading.Lock()
        self._settled = time.monotonic()
        self._pending_writes: list[tuple[list[Callable[[], None]],
                                         list[tuple[Inbox, list[int],
                                                    dict[int, dict[str, Any]]]],
                                         dict[tuple[str, int], int]]] = []
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.started_at = clock()
        self.stats = {"processed": 0, "failed": 0, "detector_failures": 0,
                      "checkpoints": 0, "verdicts": 0}
        self.extras: dict[str, Any] = {}
        """Per-service state of the front doors (the console's reveals)."""
        self.bus: Any = None
        """The `bus.serve.BusLink` of `serve --bus`, else None."""
        self._uncommitted_findings = 0
        if settings.bus is not None:
            from veilleur.bus.serve import BusLink

            try:
                self.bus = BusLink(settings.bus, self.db, self.casework, self.writer)
            except BaseException:
                self.db.dispose()
                raise

    # --- lifecycle -------------------------------------------------------------------------

    def hold(self) -> None:
        """Take the database's lease (`store.lease.DatabaseHeld` if another service has it)."""
        # The lease is judged by other processes against their wall clock, never against
        # this runtime's (a test's or a benchmark's fixed clock).
        lease.take(self.db, self.lease, utcnow(),
                   role="serve --bus" if self.bus is not None else lease.SERVE)
        self._lease_renewed = time.monotonic()

    def start(self) -> None:
        """Hold the database, take in what was accepted and not done before (a crash, a
        stop), then keep up."""
        if self._thread is None:
            self.hold()
            if self.bus is not None:
                self.bus.start()
            self._thread = threading.Thread(target=self._run, name="veilleur-engine",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        if self.failure is None:
            try:
                self.sync()
                with self.lock:
                    self.casework.close()
            except EngineDown:
                pass  # logged where it failed; the journal keeps what was not done
        else:
            log.error("stopping without writing what is in memory: %s; the restart takes "
                      "the journal in again", self.failure)
        if self.bus is not None and self._thread is not None:
            try:  # what the last checkpoint wrote is committed; the outbox goes out
                self.bus.close()
            except Exception:
                log.exception("the bus did not close cleanly (the restart reads again what "
                              "was not committed)")
        if self._thread is not None:
            try:
                lease.release(self.db, self.lease)
            except Exception:  # it lapses by itself (TTL); the stop goes on
                log.exception("cannot give the lease on the database back")
        self.db.dispose()
        for journal in (self.inbox, self.verdict_log):
            journal.db.dispose()

    def sync(self) -> None:
        """Everything taken in so far is in the store when this returns."""
        self._check()
        with self.lock:
            self.checkpoint()
        self._write_behind()

    @property
    def failure(self) -> str | None:
        """Why the engine no longer takes anything in, or None while it does (or was never
        started: tests drive it by hand)."""
        if self._failure is not None:
            return self._failure
        thread = self._thread
        if thread is not None and not thread.is_alive() and not self._stopping.is_set():
            return "the engine thread stopped"
        return None

    def _fail(self, why: str) -> None:
        if self._failure is None:
            self._failure = why
            log.error("the engine stops: %s", why)

    def _check(self) -> None:
        why = self.failure
        if why is not None:
            raise EngineDown(why)

    def _keep_lease(self) -> None:
        every = lease.RENEW_EVERY.total_seconds()
        if time.monotonic() - self._lease_renewed < every:
            return
        try:
            ours = lease.renew(self.db, self.lease, utcnow())
        except Exception:  # the database briefly unavailable: the lease outlives a few tries
            log.exception("cannot renew the lease on the database")
            self._lease_renewed = time.monotonic() - every + 1.0
            return
        if not ours:
            raise EngineDown("this service lost its hold on the database to another process")
        self._lease_renewed = time.monotonic()

    @property
    def backlog(self) -> int:
        return self.inbox.backlog + self.verdict_log.backlog

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Until every accepted event is taken in and durable (tests, benchmarks)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.backlog == 0:
                return True
            self._wake.set()
            time.sleep(0.02)
        return False

    def taken_in(self, seq: int) -> bool:
        """Whether the inbox row `seq` (and every row before it) has been handled by
        casework. A front door that needs an answer in order (the Discord bot: a channel's
        creation before a message in it) waits for this before asking for a verdict."""
        return self._taken_seq >= seq

    def evidence_of(self, target: Target) -> list[tuple[str, str]]:
        """The evidence records sealed for `target` so far: (record id, SHA-256 of what was
        sealed). A front door checks this before it removes anything."""
        with self._turn():
            vault = self.casework.vault
            return [(i, vault.records[i].sha256) for i in vault.by_target.get(target, ())]

    # --- accepting -------------------------------------------------------------------------

    def parse(self, raw: Any, source: str, media: MediaReader | None = None) -> Event:
        base = self.media_root or Path("/nonexistent-media-root")
        return parse_event(raw, base, media or _Unread(self.media_root), source)

    def accept(self, raws: list[Any], source: str, *, kinds: Collection[str],
               elsewhere: Mapping[str, str] | None = None) -> Accepted:
        """Journal the good events of a batch; the others are listed with their index.

        `kinds`: the event types this door takes (every door says which: a raw platform
        batch may not carry a report, an order or a complaint). `elsewhere` says, per type
        refused here, where it enters instead. Each journaled event is stamped with `source`
        (`received_by`, whatever the body said): who handed it in is the door's to say."""
        self._check()
        if len(raws) > self.settings.max_batch:
            raise BadEventError(f"a batch holds at most {self.settings.max_batch:,} events; "
                           f"got {len(raws):,}")
        backlog = self.inbox.backlog
        if backlog + len(raws) > self.settings.max_backlog:
            raise Busy(backlog, retry_after=max(1, min(60, backlog // 5000)))
        out = Accepted()
        items: list[tuple[str, str, str]] = []
        where: list[tuple[int, str, list[str]]] = []
        on_bus: list[tuple[int, str, Any, list[str]]] = []
        for i, raw in enumerate(raws):
            kind = raw.get("type") if isinstance(raw, dict) else None
            if isinstance(kind, str) and kind in KNOWN_TYPES and kind not in kinds:
                why = (elsewhere or {}).get(kind) or "not taken through this door"
                out.rejected.append({"index": i, "error": f"{kind!r} events are refused "
                                     f"here: {why}"})
                continue
            reader = _Unread(self.media_root, bus=self.bus is not None
                             and kind in PLATFORM_TYPES)
            try:
                event = self.parse(raw, source, reader)
            except FieldError as exc:
                out.rejected.append({"index": i, "error": str(exc)})
                continue
            if event.type not in kinds:  # a type newer than the lists above: not here either
                out.rejected.append({"index": i, "error": f"{event.type!r} events are "
                                     "refused here: not taken through this door"})
                continue
            key = event_key(raw)
            if self.bus is not None and event.type in PLATFORM_TYPES:
                # Detection is the bus's: the event goes on `events` as it came.
                on_bus.append((i, key, raw, reader.warnings))
                continue
            stamped = {**raw, RECEIVED_BY: source}
            items.append((key, event.type, json.dumps(stamped, ensure_ascii=False,
                                                      separators=(",", ":"))))
            where.append((i, key, reader.warnings))
        if on_bus:
            self._put_on_bus(on_bus, out)
        added = self.inbox.add(items, self.clock()) if items else {}
        for i, key, warnings in where:
            item: dict[str, Any] = {"index": i, "key": key}
            if warnings:
                item["warnings"] = warnings
            if key in added:
                out.accepted.append(item | {"seq": added.pop(key)})
            else:
                out.duplicates.append(item | {"duplicate": True})
        if out.accepted:
            self._wake.set()
        out.accepted.sort(key=lambda item: item["index"])
        out.rejected.sort(key=lambda item: item["index"])
        out.duplicates.sort(key=lambda item: item["index"])
        return out

    def _put_on_bus(self, items: list[tuple[int, str, Any, list[str]]], out: Accepted
                    ) -> None:
        """Platform events on the bus's `events` (serve --bus): accepted once the broker has
        acknowledged them all; else `BusDown` and nothing of the batch is accepted."""
        fresh: list[tuple[int, str, Any, dict[str, Any]]] = []
        for i, key, raw, warnings in items:
            item: dict[str, Any] = {"index": i, "key": key}
            if warnings:
                item["warnings"] = warnings
            if self.bus.seen(key) or any(key == k for _, k, _, _ in fresh):
                out.duplicates.append(item | {"duplicate": True})
            else:
                fresh.append((i, key, raw, item))
        put = self.bus.put([raw for _, _, raw, _ in fresh], [k for _, k, _, _ in fresh])
        refused = {r["index"]: r["error"] for r in put.rejected}
        for j, (i, _, _, item) in enumerate(fresh):
            if j in refused:  # the producer checks the format as this door did: named
                out.rejected.append({"index": i, "error": refused[j]})
            else:
                out.accepted.append(item)

    # --- taking in -------------------------------------------------------------------------

    def _new_reader(self) -> MediaReader:
        matcher = self.detector_settings.matcher
        # Without a media root no folder is trusted: no local path is read, wherever it points.
        return MediaReader(Limits(), features=matcher is not None and matcher.wants_features,
                           folder=MEDIA_FOLDER, read_local=self.media_root is not None,
                           own_folders=(self.upload_dir,))

    def _detector_failed(self, detector: Detector, event: Event, exc: Exception) -> None:
        self.stats["detector_failures"] += 1
        log.error("detector %s failed on a %s event: %s: %s", detector.id, event.type,
                  type(exc).__name__, exc)

    def _run(self) -> None:
        try:
            self._loop()
        except EngineDown as exc:
            self._fail(exc.why)
        except BaseException as exc:  # whatever it was, the service must say it is down
            log.exception("the engine thread failed")
            self._fail(f"{type(exc).__name__}: {exc}")

    def _loop(self) -> None:
        self._recover_verdicts()
        while not self._stopping.is_set():
            self._keep_lease()
            try:
                rows = self.inbox.after(self._last_seq, 500)
            except Exception:  # the database may be briefly unavailable; never die
                log.exception("cannot read the inbox")
                self._stopping.wait(1.0)
                continue
            taken = self._take_findings(0.0 if rows else 0.25) if self.bus is not None else 0
            if not rows:
                with self.lock:
                    self.casework.tick(self.clock())
                    if (self._uncommitted or self._uncommitted_verdicts
                            or self._uncommitted_findings) and self._due():
                        self.checkpoint()
                self._write_behind()
                if self.bus is not None:
                    self.bus.commit()
                if not taken and self.bus is None:  # the bus's poll waited already
                    self._wake.wait(0.25)
                self._wake.clear()
                continue
            for row in rows:
                self._last_seq = row.seq
                with self.lock:
                    self._take_in(row)
                self._taken_seq = row.seq
                if self._waiting:
                    # Python's locks are not fair: let a verdict or a reviewer in first.
                    time.sleep(0.0002)
                if self._due():
                    with self.lock:
                        self.checkpoint()
                    self._write_behind()
                if self._stopping.is_set():
                    break

    def _take_findings(self, timeout: float) -> int:
        """The detect workers' findings into casework (serve --bus), one message at a time
        under the lock, checkpointing as the inbox does; their offsets are committed once
        the checkpoint that holds them is written."""
        self.bus.commit()  # what the last checkpoints wrote (a request's, or this thread's)
        messages = self.bus.poll(500, timeout)
        for message in messages:
            with self.lock:
                self.bus.take(message, self.clock())
                self._uncommitted_findings += 1
            if self._waiting:
                time.sleep(0.0002)  # a verdict or a reviewer first, as between inbox rows
            if self._due():
                with self.lock:
                    self.checkpoint()
                self._write_behind()
                self.bus.commit()
            if self._stopping.is_set():
                break
        return len(messages)

    def _recover_verdicts(self) -> None:
        """Verdicts answered before a crash whose effects were not yet in the store: their
        messages are taken in again, before anything newer."""
        last = 0
        while rows := self.verdict_log.after(last, 500):
            for row in rows:
                last = row.seq
                with self.lock:
                    self._take_in(row, verdict=True)
        with self.lock:
            if self._uncommitted_verdicts:
                self.checkpoint()
        self._write_behind()

    def _take_in(self, row: Pending, *, verdict: bool = False) -> None:
        results = self._verdict_results if verdict else self._results
        try:
            raw = json.loads(row.body)
            by = raw.get(RECEIVED_BY) if isinstance(raw, dict) else None
            # Rows journaled before stamps existed say only that they came from the inbox.
            event = self.parse(raw, by if isinstance(by, str) else "inbox", self._reader)
            self.casework.handle(event, now=self.clock())
        except Exception as exc:  # a bad event is recorded, never the end of the engine
            self.stats["failed"] += 1
            results[row.seq] = {"error": f"{type(exc).__name__}: {exc}"}
            log.exception("event %s could not be taken in", row.seq)
        self.stats["processed"] += 1
        (self._uncommitted_verdicts if verdict else self._uncommitted).append(row.seq)

    def _due(self) -> bool:
        return (len(self._uncommitted) + len(self._uncommitted_verdicts)
                + self._uncommitted_findings >= self.settings.checkpoint_events
                or time.monotonic() - self._last_checkpoint >= self.settings.checkpoint_seconds)

    def checkpoint(self) -> None:
        """Everything taken in so far, durable; then its inbox rows are done. Call it holding
        the lock; the writes happen after the lock is released (`_write_behind`), so verdicts
        and reviewers do not wait for the disk."""
        self._io.acquire()  # one write at a time, in the order they were taken
        writes = [self.writer.detach()]
        memory = self.detector_settings.memory
        if isinstance(memory, StoredMemory):
            writes.append(memory.detach())
        writes.append(self.casework.sink.detach())  # type: ignore[attr-defined]
        done = [(self.inbox, self._uncommitted, self._results),
                (self.verdict_log, self._uncommitted_verdicts, self._verdict_results)]
        self._uncommitted, self._results = [], {}
        self._uncommitted_verdicts, self._verdict_results = [], {}
        offsets = self.bus.offsets() if self.bus is not None else {}
        self._uncommitted_findings = 0
        self._last_checkpoint = time.monotonic()
        self.stats["checkpoints"] += 1
        self._trim()
        self._pending_writes.append((writes, done, offsets))

    def _write_behind(self) -> None:
        """Do the writes `checkpoint` took, after the lock is released. A write that keeps
        failing stops the engine: what it held is lost from memory, so writing later
        batches (which refer to it) would leave holes; its journal rows stay not done and
        the restart takes them in again."""
        while self._pending_writes:
            writes, done, offsets = self._pending_writes.pop(0)
            try:
                if self._failure is None and self._write(writes, done) \
                        and self.bus is not None:
                    # Written: the findings' offsets may be committed, the outbox published.
                    self.bus.written(offsets)
            finally:
                self._io.release()
        self._check()
        if time.monotonic() - self._settled > 2.0:
            self._settled = time.monotonic()
            self.inbox.settle()
            self.verdict_log.settle()

    def _write(self, writes: list[Callable[[], None]],
               done: list[tuple[Inbox, list[int], dict[int, dict[str, Any]]]]) -> bool:
        written = 0  # a write is one transaction: one that committed is not run again
        for attempt in range(3):
            try:
                while written < len(writes):
                    writes[written]()
                    written += 1
                for journal, seqs, results in done:
                    journal.mark_done(seqs, self.clock(), results)
                return True
            except Exception as exc:
                log.exception("a checkpoint's write failed (attempt %d of 3)", attempt + 1)
                if attempt == 2:
                    first = str(exc).splitlines()[0] if str(exc) else ""
                    self._fail(f"the store refused a checkpoint: {type(exc).__name__}: "
                               f"{first}"[:300])
                    return False
                time.sleep(0.5 * 2 ** attempt)
        return False

    def _trim(self) -> None:
        """Memory stays bounded: what this process holds is in the store now."""
        content = self.casework.content
        if isinstance(content, LayeredContent) and \
                len(content.memory.messages) > self.settings.content_memory:
            content.reset(fresh_content(self.casework.engine, self.casework.policy))
        if len(self._reader._cache) > 10_000:
            self._reader = self._new_reader()

    # --- verdicts --------------------------------------------------------------------------

    def verdict(self, raw: Any, source: str, *, trusted_paths: bool = False
                ) -> dict[str, Any]:
        """Handle one message now and say what to do with it. Attachment paths must lie under
        the media folder unless the service wrote them itself (`trusted_paths`)."""
        started = time.perf_counter()
        self._check()
        if not isinstance(raw, dict):  # everything below reads it as an object
            raise BadEventError(f"a verdict is asked for one JSON object (a message event), "
                                f"not {type(raw).__name__}")
        if "type" not in raw:
            raw = {"type": "message", "ts": iso(self.clock()), **raw}
        key = event_key(raw)
        recent = self._recent_verdicts.get(key)
        if recent is not None:
            return recent | {"duplicate": True}
        found = self.verdict_log.find(key)
        if found is not None:
            _seq, _, result = found
            if result is not None:
                return result | {"duplicate": True}
            raise BadEventError(f"this message ({key}) was already sent for a verdict whose "
                                "answer was not kept (a restart came between); it is taken "
                                "in all the same")
        if not trusted_paths:
            self.parse(raw, source)  # where attachments point is checked before reading
        event = self.parse(raw, source, self._reader)
        if not isinstance(event, MessagePosted):
            raise BadEventError(f"a verdict is asked for a message event, not {event.type!r}")
        if self.bus is not None:
            self._verdict_on_bus(raw, key)
        added = self.verdict_log.add([(key, VERDICT, json.dumps(raw, ensure_ascii=False))],
                                     self.clock())
        seq = added.get(key)
        with self._turn():
            before = len(self.casework.prevented)
            self.casework.handle(event, now=self.clock())
            result = self._judge(event, self.casework.prevented[before:])
            if seq is not None:
                self._uncommitted_verdicts.append(seq)
                self._verdict_results[seq] = result
            self._recent_verdicts[key] = result
            while len(self._recent_verdicts) > 10_000:
                self._recent_verdicts.popitem(last=False)
        self.stats["verdicts"] += 1
        return result | {"ms": round((time.perf_counter() - started) * 1000, 2)}

    def _verdict_on_bus(self, raw: dict[str, Any], key: str) -> None:
        """serve --bus: a message judged here goes on `events` too, before it is judged, so
        the detect workers' memory (its conversation, its server) has it as it has every
        other message, and what they find with that memory comes back as casework (the
        findings they share with this verdict are taken once). Its files were read here;
        the workers read no local file, so their paths stay here (the findings on the
        files are this verdict's). `BusDown` if the broker does not acknowledge it: no
        verdict on a message the bus does not have."""
        copy = dict(raw)
        message = copy.get("message")
        if isinstance(message, dict) and isinstance(message.get("attachments"), list):
            copy["message"] = {**message, "attachments": [
                {k: v for k, v in a.items() if k != "path"} if isinstance(a, dict) else a
                for a in message["attachments"]]}
        put = self.bus.put([copy], [key])
        # Casework applies the message here; its findings coming back from the bus must not
        # apply it to the content view a second time.
        self.bus.taker.applied(key)
        if put.rejected:  # an attachment with nothing left but its path: not for the bus
            log.warning("a verdict's message was not put on the bus: %s",
                        put.rejected[0]["error"])

    def _judge(self, event: MessagePosted, stopped: list[Any]) -> dict[str, Any]:
        m = event.message
        out: dict[str, Any] = {"message_id": m.id, "verdict": "allow", "reasons": [],
                               "findings": [], "case_id": None}
        targets = [Target(TargetKind.MESSAGE, m.id),
                   *(Target(TargetKind.ATTACHMENT, a.id) for a in m.attachments)]
        if stopped:
            out["verdict"] = "block"
            out["reasons"] = [p.reason for p in stopped]
            return out | self._sealed(targets)
        for t in targets:
            action = self.casework.enforcement.covering(t)
            if action is not None and action.active:
                out["verdict"] = "block"
                out["reasons"].append(f"{action.action}: {action.reason}")
            for intake in self.casework.findings_on(t):
                case = self.casework.case_of(intake.case_id)
                out["findings"].append({"target": t.to_json(),
                                        "category": intake.category.value
                                        if intake.category else None,
                                        "score": round(intake.score, 4),
                                        "evidence": intake.evidence})
                if case is not None:
                    out["case_id"] = case.id
        if out["verdict"] == "allow" and out["findings"]:
            out["verdict"] = "review"
            out["reasons"] = ["held for review: " + f["evidence"] for f in out["findings"]
                              if f["evidence"]][:3]
        unchecked = unchecked_media(m)
        if out["verdict"] != "block" and unchecked:
            # A file the banks could not be asked about is not known to be harmless.
            out["verdict"] = "review"
            out["reasons"] += unchecked
        return out | (self._sealed(targets) if out["verdict"] != "allow" else {})

    def _sealed(self, targets: list[Target]) -> dict[str, Any]:
        """The evidence records sealed for the message and its files: a client that takes
        the message down (the Discord bot on a remote service) checks them first."""
        vault = self.casework.vault
        return {"evidence": [{"target": t.to_json(), "id": i, "sha256": vault.records[i].sha256}
                             for t in targets for i in vault.by_target.get(t, ())]}

    # --- people ----------------------------------------------------------------------------

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """The lock, for someone who should not wait behind the engine's whole backlog."""
        with self._waiting_lock:
            self._waiting += 1
        try:
            self.lock.acquire()
        finally:
            with self._waiting_lock:
                self._waiting -= 1
        try:
            yield
        finally:
            self.lock.release()

    @contextmanager
    def work(self) -> Iterator[Casework]:
        """Casework for a person's action; what they did is durable when this ends."""
        self._check()
        with self._turn():
            yield self.casework
            self.checkpoint()
        self._write_behind()

    def decide(self, case_id: str, reviewer: str, verdicts: dict[Target, Verdict], *,
               partial: bool = False) -> Decision:
        """`partial`: only the named targets (`Casework.decide`)."""
        with self.work() as cw:
            now = self.clock()
            case = cw.cases.get(case_id)
            took = case is not None and case.locked_by != reviewer
            if took:
                cw.take(case_id, reviewer, now)
            try:
                return cw.decide(case_id, reviewer, verdicts, now, partial=partial)
            except ReviewError:
                if took:  # taken for this decision only: back in the queue, clocks visible
                    cw.release(case_id, reviewer, now)
                raise

    def audit(self, kind: str, actor: str, subject: str, detail: dict[str, Any]) -> None:
        """One entry in the audit chain, as the engine writes its own (chained in the database
        under its lock at the next checkpoint)."""
        with self.work() as cw:
            cw.audit.append(self.clock(), kind, actor, subject, detail)

    def import_bank(self, name: str, parsed: Any, *, kind: str, category: Any,
                    source: str | None, actor: str, override: bool = False
                    ) -> dict[str, Any]:
        """New bank entries, live: stored, the matcher rebuilt for what comes next, and the
        stored media that the new entries match taken in as findings now. Audited as
        `actor`; `override`: allow entries may silence deny lists (else they are refused)."""
        from dataclasses import replace

        from veilleur.detect.media.detector import HashMatchDetector, match_signals
        from veilleur.events import Message
        from veilleur.store.banks import BankStore, default_index_dir

        folder = default_index_dir(self.url) if self.url != "sqlite://" else None
        store = BankStore(self.db, folder, audit=self.audit)
        self.sync()  # the media taken in so far are stored: the look back sees them
        report = store.import_entries(name, parsed, actor=actor, kind=kind, category=category,
                                      source=source, override=override)
        matcher = store.matcher()
        with self.work() as cw:
            self.detector_settings = replace(self.detector_settings, matcher=matcher)
            for detector in cw.engine.detectors:
                if isinstance(detector, HashMatchDetector):
                    detector.matcher = matcher
            signals = []
            for rm in report.retro_matches:
                att = cw.content.attachment(rm.attachment_id)
                msg = cw.content.message(att.message_id) if att else None
                message = Message(id=msg.id, channel_id=msg.channel_id,
                                  guild_id=msg.guild_id, author_id=msg.author_id,
                                  content="") if msg else None
                signals += match_signals(Attachment(id=rm.attachment_id,
                                                    filename=rm.filename), message,
                                         [rm.match], HashMatchDetector.id,
                                         HashMatchDetector.version)
            intakes = cw.take_findings(cw.engine.accept(signals), self.clock())
        return {"bank": report.bank, "created": report.created, "read": report.read,
                "overrides": report.overrides,
                "added": report.added, "updated": report.updated,
                "already_present": report.already_present,
                "skipped_types": dict(report.skipped_types),
                "stored_media_checked": report.retro_media_checked,
                "stored_media_matched": len(report.retro_matches),
                "cases": sorted({i.case_id for i in intakes if i.case_id})}

    def case(self, case_id: str) -> Case | None:
        return self.casework.case_of(case_id)
