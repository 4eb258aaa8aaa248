"""The detect stage: events in, findings out, through the embedded engine unchanged.

`DetectStage` is the stage's logic without a broker: one message's bytes in, what goes out
(a findings message, a dead letter, labels, or nothing). Its engine comes from
`deployment.assemble` like every front door's, with the same detectors and policy as
`veilleur scan` (no fork). `run` wraps it in a Quix Streams application in the stage's
consumer group.

Input that cannot be taken (not JSON, not a valid event, a type that is casework's) goes to
the dead-letter topic with why, and is committed like any other message: the worker never
stops on input, and nothing is dropped without a trace.

The engine's memory (detectors', the book's, the roll-up's) is a `state.BusState`: what
belongs to a place is in the Quix state of the event's key (RocksDB and its changelog topic),
so a worker that takes a partition over goes on with that place's memory as last committed;
what spans places (accounts, the platform graph) is replicated through the `labels` topic.
A label that changes an account here (its count grew in another worker's servers) has the
account judged again, and what that finds goes out like an event's findings. Casework's
labels (a server removed, an account confirmed) come on the same topic; every worker takes
them, and what they make a detector find goes out from each (the sink keeps one).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from veilleur.bus import media, topics, wire
from veilleur.bus.state import CASEWORK, BusState, LabelError, label_key
from veilleur.deployment import Mode, Settings, assemble
from veilleur.detect.base import Detector
from veilleur.detect.media.decode import Limits
from veilleur.events import PLATFORM_TYPES, Event
from veilleur.ingest.eventlog import parse_event
from veilleur.ingest.fields import FieldError
from veilleur.ingest.media import MediaReader
from veilleur.service.inbox import event_key
from veilleur.taxonomy import Category, Target

log = logging.getLogger("veilleur.bus.detect")
STAGE = "detect"
_NO_MEDIA_ROOT = Path("/nonexistent-media-root")
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


class DetectStage:
    def __init__(self, settings: Settings | None = None, *, worker: str | None = None,
                 memory: bool = False, media_root: Path | None = None) -> None:
        """`memory` True: the engine's memory in a state store, the message key's handed to
        each `answer` (the worker's, Quix's); False: this process's only (what a worker
        taking partitions over starts without)."""
        settings = settings or Settings(mode=Mode.DETECT)
        if settings.mode is not Mode.DETECT or settings.db_url is not None:
            # Casework is the sink's; a worker that wrote the store would race its peers.
            raise ValueError("the detect stage runs a DETECT deployment without a database")
        # The host and process, and a random part: a container restarted in place is often
        # the same host and pid 1, and a worker skips its own labels.
        self.worker = worker or f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.memory = BusState(self.worker) if memory else None
        if self.memory is not None:
            settings = replace(settings, detectors=replace(settings.detectors,
                                                           memory=self.memory))
        self.deployment = assemble(settings, on_failure=self._detector_failed)
        self.engine = self.deployment.engine
        matcher = self.deployment.matcher
        # Attachments are read from `media_root` (a folder every worker mounts, read-only)
        # when one is given, confined to it; else no local file is read at all.
        self._media_root = media_root or _NO_MEDIA_ROOT
        self._reader = MediaReader(Limits(), features=matcher is not None
                                   and matcher.wants_features, folder="media folder",
                                   read_local=media_root is not None, cache_limit=1024)
        self.stats: Counter[str] = Counter()
        self.inbox: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        """Labels read from the topic (by `LabelReader`), taken in order under `lock`, by
        the stream before its next event or by the reader when the stream is idle."""
        self.judging = True
        """Whether a label growing an account has it judged again. Off while a starting
        worker reads the topic it missed (what those labels made was sent when they were
        new; judging them again would send every account ever found once more)."""
        self.lock = threading.Lock()
        """The engine is one thread's at a time: the stream's, or the labels reader's."""
        self.first_at: float | None = None
        """Wall time of the first message read (the benchmark's start)."""
        self.last_at: float | None = None
        self._logged = 0.0

    def _detector_failed(self, detector: Detector, event: Event, exc: Exception) -> None:
        # One faulty detector must not stop the stream; the others' findings still go out.
        self.stats["detector_failures"] += 1
        log.error("detector %s failed on a %s event: %s: %s", detector.id, event.type,
                  type(exc).__name__, exc)

    def answer(self, value: bytes | str | None, where: str = "", state: Any = None,
               key: bytes | str | None = None) -> list[dict[str, Any]]:
        """What one message of `events` produces: zero or one findings message (with its
        partition key under "key") and one sighting per hashed attachment (`media.answers`),
        or one dead letter (with "error"); and findings that labels taken first made.
        `state`: the Quix state of the message's key."""
        with self.lock:
            out = self._take_labels()
            return out + self._answer(value, where, state, key)

    def _answer(self, value: bytes | str | None, where: str, state: Any,
                key: bytes | str | None = None) -> list[dict[str, Any]]:
        self.stats["read"] += 1
        now = time.time()
        if self.first_at is None:
            self.first_at = now
        self.last_at = now
        if now - self._logged >= 1.0:  # progress, once a second at most
            self._logged = now
            log.info("progress: read=%d events=%d findings=%d dead=%d first=%.3f now=%.3f",
                     self.stats["read"], self.stats["events"], self.stats["findings"],
                     self.stats["dead"], self.first_at, now)
        try:
            raw = json.loads(value) if value is not None else None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return [self._dead(f"not valid JSON: {exc}", value, where)]
        if not _text_ok(value, raw):
            return [self._dead("not valid text: half of a UTF-16 surrogate pair alone "
                               "(\\uD800-\\uDFFF), which no UTF-8 text can hold", value,
                               where)]
        try:
            event = parse_event(raw, self._media_root, self._reader, "bus")
        except FieldError as exc:
            return [self._dead(f"not a valid event: {exc}", value, where)]
        assert isinstance(raw, dict)  # every valid event is an object
        if event.type not in PLATFORM_TYPES:
            return [self._dead(f"{event.type!r} events are casework's and enter through the "
                               "service's own doors, not the bus", value, where)]
        if key is not None:
            self._check_key(key, event, where)
        if self.memory is not None:
            if state is None:  # a place's memory would go to this process's scratch
                raise ValueError("this stage keeps its memory in a state store: give the "
                                 "message key's state")
            self.memory.bind(state)
        try:
            found = self.engine.process(event)
        except Exception as exc:  # the engine itself (not one detector): kept, logged
            log.exception("the engine failed on an event at %s", where)
            return [self._dead(f"the engine failed: {type(exc).__name__}: {exc}", value,
                               where)]
        finally:
            if self.memory is not None:
                self.memory.release()
        self.stats["events"] += 1
        # Each hashed attachment also goes on media-hashes, for retroactive matching.
        seen = media.answers(event, event_key(raw))
        self.stats["media"] += len(seen)
        if not found:
            return seen
        self.stats["findings"] += len(found)
        message = wire.findings_message(event_key(raw), raw, found, self.worker)
        message["key"] = topics.partition_key(event)
        return [message, *seen]

    def _check_key(self, key: bytes | str, event: Event, where: str) -> None:
        """An event keyed otherwise than by its place is read, but its place's memory is
        then split across keys (and workers): said, counted."""
        wanted = topics.partition_key(event)
        got = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
        if got != wanted:
            self.stats["wrong_key"] += 1
            n = self.stats["wrong_key"]
            if n <= 10 or n % 1000 == 0:
                log.warning("event at %s keyed %r, not by its place %r (%d so far): key events "
                            "with bus.topics.partition_key", where, got[:80], wanted, n)

    # --- shared memory -------------------------------------------------------------------

    def due_labels(self) -> list[dict[str, Any]]:
        """What changed in shared memory since the last call, as labels (with their key on
        the topic under "key"). Sent before each commit of the events' offsets
        (`LabelPublisher`): a committed event's changes are on the topic."""
        if self.memory is None:
            return []
        with self.lock:
            labels = self.memory.labels()
            self.stats["labels_out"] += len(labels)
        return [{"label": lab, "key": label_key(lab)} for lab in labels]

    def forget(self) -> None:
        """Partitions were assigned: what this process derived from places' state may be
        stale (another worker held them meanwhile)."""
        with self.lock:
            self.engine.forget()
            if self.memory is not None:
                self.memory.forget()

    def unsent(self, labels: list[dict[str, Any]]) -> None:
        """Labels the broker did not take: sent again with the next."""
        if self.memory is not None:
            with self.lock:
                self.memory.unsent(labels)
                self.stats["labels_out"] -= len(labels)

    def count(self, what: str, n: int = 1) -> None:
        with self.lock:
            self.stats[what] += n

    def take_labels(self, limit: int = 10_000) -> list[dict[str, Any]]:
        """Take the labels read so far (at most `limit`); the findings they make."""
        with self.lock:
            return self._take_labels(limit)

    def _take_labels(self, limit: int = 10_000) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for _ in range(limit):
            try:
                value = self.inbox.get_nowait()
            except queue.Empty:
                break
            out += self.take_label(value)
        return out

    def take_label(self, value: bytes | str) -> list[dict[str, Any]]:
        try:
            raw = json.loads(value)
            if isinstance(raw, dict) and raw.get("ns") == CASEWORK:
                if raw.get("v") != 1:
                    raise LabelError("not a label of this version")
                found = self._casework(raw.get("value"))
            else:
                found = self._merged(raw)
        except (UnicodeDecodeError, json.JSONDecodeError, LabelError) as exc:
            self.stats["bad_labels"] += 1
            log.warning("label not taken: %s", exc)
            return []
        except Exception:  # the engine on a label: logged, the stream goes on
            self.stats["bad_labels"] += 1
            log.exception("the engine failed on a label")
            return []
        self.stats["labels_in"] += 1
        if not found:
            return []
        self.stats["findings"] += len(found)
        first = found[0]
        message = wire.findings_message(f"label:{first.target.kind.value}:{first.target.id}",
                                        None, found, self.worker)
        message["key"] = f"{first.target.kind.value}:{first.target.id}"
        return [message]

    def _merged(self, raw: Any) -> list[Any]:
        """Another worker's change to shared memory, merged. An account it changed is
        judged again; an account's book entry it made stronger is a finding changed."""
        assert self.memory is not None
        entry = _book_target(raw) if isinstance(raw, dict) and raw.get("ns") == "book.user" \
            else None
        before = self.engine.book.finding(*entry) if entry is not None else None
        taken = self.memory.take(raw)
        if taken is None:
            return []
        namespace, key = taken
        if not self.judging:
            return []
        if namespace == "rollup.account":
            return self.engine.account_again(key)
        if entry is not None:
            after = self.engine.book.finding(*entry)
            if after is not None and (before is None or after.score > before.score):
                return [after]
        return []

    def _casework(self, value: Any) -> list[Any]:
        """Casework's label (a server removed, an account confirmed): remembered, and what
        it makes a detector find."""
        if not isinstance(value, dict) or not isinstance(value.get("label"), str):
            raise LabelError("a casework label needs a 'target', a 'label' and an 'at'")
        try:
            target = Target.of(value["target"]["kind"], str(value["target"]["id"]))
            at = datetime.fromisoformat(value["at"])
        except (KeyError, TypeError, ValueError) as exc:
            raise LabelError(f"a casework label needs a 'target', a 'label' and an 'at' "
                             f"({type(exc).__name__}: {exc})") from None
        if at.tzinfo is None:
            raise LabelError("a casework label's 'at' needs its time zone")
        return self.engine.label(target, value["label"], at)

    def _dead(self, error: str, value: bytes | str | None, where: str) -> dict[str, Any]:
        self.stats["dead"] += 1
        log.warning("dead letter (%s): %s", where or "?", error)
        return wire.dead_letter(error, value, stage=STAGE, where=where)


def _text_ok(value: bytes | str | None, raw: Any) -> bool:
    """Whether what was read can be written again as UTF-8 (JSON's escapes admit half a
    surrogate pair, which every encoder downstream refuses: the findings, the state, the
    labels). Checked in full only when an escape of one is there."""
    if isinstance(value, str):
        try:
            value = value.encode()
        except UnicodeEncodeError:
            return False
    if value is None or not _SURROGATE.search(value):
        return True
    try:
        json.dumps(raw, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True


def is_dead(answer: dict[str, Any]) -> bool:
    return "error" in answer


def is_findings(answer: dict[str, Any]) -> bool:
    return "findings" in answer


def _book_target(raw: dict[str, Any]) -> tuple[Target, Category]:
    """The target and category of a `book.user` label's key ("user:ID<US>category")."""
    try:
        target, category = str(raw["key"]).split("\x1f")
        kind, _, ident = target.partition(":")
        return Target.of(kind, ident), Category(category)
    except (KeyError, ValueError) as exc:
        raise LabelError(f"not an account's book entry: {raw.get('key')!r}") from exc


def run(config: Any, settings: Settings | None = None, *, memory: bool = True,
        media_root: Path | None = None, labels_timeout: float = 300.0) -> None:
    """Run the stage until SIGINT or SIGTERM (Quix stops after committing what was done).
    `config`: a `config.BusConfig`. With `memory`, the labels topic is read to its end
    before the first event (at most `labels_timeout` seconds, then the worker starts with
    what it has and says so)."""
    from veilleur.bus.config import application
    from veilleur.bus.labels import LabelReader

    stage = DetectStage(settings, memory=memory, media_root=media_root)
    app = application(config, state=memory, on_assign=stage.forget)
    dataframe(app, config, stage)
    reader = None
    if memory:
        reader = LabelReader(config, stage)
        stage.judging = False
        reader.start()
        if not reader.ready.wait(labels_timeout):
            log.warning("the labels topic was not read to its end in %.0f s: starting with "
                        "what was read (%d labels)", labels_timeout, reader.read)
            stage.judging = True
        else:  # the reader judged nothing it read up to the end, and judges from now on
            log.info("labels read: %d", reader.read)
    log.info("detect worker %s on %s", stage.worker, config.broker)
    try:
        app.run()
    finally:
        if reader is not None:
            reader.stop()
    log.info("stopped: read=%d events=%d findings=%d dead=%d labels_in=%d labels_out=%d "
             "first=%.3f last=%.3f", stage.stats["read"], stage.stats["events"],
             stage.stats["findings"], stage.stats["dead"], stage.stats["labels_in"],
             stage.stats["labels_out"], stage.first_at or 0.0, stage.last_at or 0.0)


def dataframe(app: Any, config: Any, stage: DetectStage) -> Any:
    """The stage's stream on `app` (a Quix `Application`): events in; findings, dead
    letters, attachments' sightings and (before each commit) labels out."""
    from quixstreams import message_context

    from veilleur.bus.config import topic

    # Read as bytes: what is not JSON is the stage's to report, not a deserializer's crash.
    events = topic(app, config, topics.EVENTS, value="bytes", key="bytes")
    findings = topic(app, config, topics.FINDINGS)
    dead = topic(app, config, topics.DEAD_LETTERS)
    media_hashes = topic(app, config, topics.MEDIA_HASHES)

    def where() -> str:
        ctx = message_context()
        return f"{ctx.topic}[{ctx.partition}]@{ctx.offset}"

    if stage.memory is not None:
        def remembered(value: bytes, key: Any, _ts: int, _headers: Any, state: Any
                       ) -> list[dict[str, Any]]:
            return stage.answer(value, where(), state, key)

        answers = app.dataframe(events).apply(remembered, stateful=True, expand=True,
                                              metadata=True)
    else:
        def answer(value: bytes, key: Any, _ts: int, _headers: Any) -> list[dict[str, Any]]:
            return stage.answer(value, where(), key=key)

        answers = app.dataframe(events).apply(answer, expand=True, metadata=True)
    # Branches of one stream: findings keyed by their place, dead letters aside, each
    # hashed attachment's sighting keyed by the attachment (compacted).
    answers.filter(is_findings).to_topic(findings, key=lambda a: a["key"])
    answers.filter(is_dead).to_topic(dead, key=lambda a: a["where"])
    answers.filter(media.is_sighting).apply(media.unwrap).to_topic(
        media_hashes, key=lambda s: s["attachment_id"])
    if stage.memory is not None:
        # Quix flushes its sinks before it commits: what the committed events changed in
        # shared memory is on the labels topic first.
        from veilleur.bus.labels import LabelPublisher

        answers.sink(LabelPublisher(config, stage))
    return answers
