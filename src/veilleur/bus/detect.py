"""The detect stage: events in, findings out, through the embedded engine unchanged.

`DetectStage` is the stage's logic without a broker: one message's bytes in, what goes out
(a findings message, a dead letter, or nothing). Its engine comes from `deployment.assemble`
like every front door's, with the same detectors and policy as `veilleur scan` (no fork).
`run` wraps it in a Quix Streams application in the stage's consumer group.

Input that cannot be taken (not JSON, not a valid event, a type that is casework's) goes to
the dead-letter topic with why, and is committed like any other message: the worker never
stops on input, and nothing is dropped without a trace.

Detector state lives in this process's memory (`MemoryState` and the detectors' own, as in
`veilleur scan` without a database). What that means on a bus: a partition's memory is the
worker's that reads it; when a worker dies, the worker that takes its partitions over starts
their memory empty and reads again only from the last committed offset. Findings that need
only the message itself (the rules, the learned tier, the banks) come out the same; what
builds up over many events (a conversation's stages, a server's profile, roll-ups to
channels and servers) starts again for those keys. And what spans places is split between
workers even without a failure: an account's posts in several servers are counted by
several engines, so its roll-up to the account may not be reached (on the benchmark's mix,
50,000 events split by place between two engines: 32 of the 37 findings; the 5 missing are
accounts advertising in several servers; every message finding is there). Putting the
memory in Quix's state store (RocksDB with changelog topics, behind `KeyedState`) and the
cross-place memory on a topic every worker reads are the next steps of issue 21.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

from veilleur.bus import media, topics, wire
from veilleur.deployment import Mode, Settings, assemble
from veilleur.detect.base import Detector
from veilleur.detect.media.decode import Limits
from veilleur.events import PLATFORM_TYPES, Event
from veilleur.ingest.eventlog import parse_event
from veilleur.ingest.fields import FieldError
from veilleur.ingest.media import MediaReader
from veilleur.service.inbox import event_key

log = logging.getLogger("veilleur.bus.detect")
STAGE = "detect"
_NO_MEDIA_ROOT = Path("/nonexistent-media-root")


class DetectStage:
    def __init__(self, settings: Settings | None = None, *, worker: str | None = None,
                 media_root: Path | None = None) -> None:
        settings = settings or Settings(mode=Mode.DETECT)
        if settings.mode is not Mode.DETECT or settings.db_url is not None:
            # Casework is the sink's; a worker that wrote the store would race its peers.
            raise ValueError("the detect stage runs a DETECT deployment without a database")
        self.deployment = assemble(settings, on_failure=self._detector_failed)
        self.engine = self.deployment.engine
        matcher = self.deployment.matcher
        # Attachments are read from `media_root` (a folder every worker mounts, read-only)
        # when one is given, confined to it; else no local file is read at all.
        self._media_root = media_root or _NO_MEDIA_ROOT
        self._reader = MediaReader(Limits(), features=matcher is not None
                                   and matcher.wants_features, folder="media folder",
                                   read_local=media_root is not None, cache_limit=1024)
        self.worker = worker or f"{os.uname().nodename}:{os.getpid()}"
        self.stats: Counter[str] = Counter()
        self.first_at: float | None = None
        """Wall time of the first message read (the benchmark's start)."""
        self.last_at: float | None = None
        self._logged = 0.0

    def _detector_failed(self, detector: Detector, event: Event, exc: Exception) -> None:
        # One faulty detector must not stop the stream; the others' findings still go out.
        self.stats["detector_failures"] += 1
        log.error("detector %s failed on a %s event: %s: %s", detector.id, event.type,
                  type(exc).__name__, exc)

    def answer(self, value: bytes | str | None, where: str = "") -> list[dict[str, Any]]:
        """What one message of `events` produces: zero or one findings message (with its
        partition key under "key") and one sighting per hashed attachment (`media.answers`),
        or one dead letter (with "error")."""
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
        try:
            event = parse_event(raw, self._media_root, self._reader, "bus")
        except FieldError as exc:
            return [self._dead(f"not a valid event: {exc}", value, where)]
        assert isinstance(raw, dict)  # every valid event is an object
        if event.type not in PLATFORM_TYPES:
            return [self._dead(f"{event.type!r} events are casework's and enter through the "
                               "service's own doors, not the bus", value, where)]
        try:
            found = self.engine.process(event)
        except Exception as exc:  # the engine itself (not one detector): kept, logged
            log.exception("the engine failed on an event at %s", where)
            return [self._dead(f"the engine failed: {type(exc).__name__}: {exc}", value,
                               where)]
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

    def _dead(self, error: str, value: bytes | str | None, where: str) -> dict[str, Any]:
        self.stats["dead"] += 1
        log.warning("dead letter (%s): %s", where or "?", error)
        return wire.dead_letter(error, value, stage=STAGE, where=where)


def is_dead(answer: dict[str, Any]) -> bool:
    return "error" in answer


def run(config: Any, settings: Settings | None = None, *,
        media_root: Path | None = None) -> None:
    """Run the stage until SIGINT or SIGTERM (Quix stops after committing what was done).
    `config`: a `config.BusConfig`."""
    from veilleur.bus.config import application

    stage = DetectStage(settings, media_root=media_root)
    app = application(config)
    dataframe(app, config, stage)
    log.info("detect worker %s on %s", stage.worker, config.broker)
    app.run()
    log.info("stopped: read=%d events=%d findings=%d dead=%d first=%.3f last=%.3f",
             stage.stats["read"], stage.stats["events"], stage.stats["findings"],
             stage.stats["dead"], stage.first_at or 0.0, stage.last_at or 0.0)


def dataframe(app: Any, config: Any, stage: DetectStage) -> Any:
    """The stage's stream on `app` (a Quix `Application`): events in, three branches out."""
    from quixstreams import message_context

    from veilleur.bus.config import topic

    # Read as bytes: what is not JSON is the stage's to report, not a deserializer's crash.
    events = topic(app, config, topics.EVENTS, value="bytes", key="bytes")
    findings = topic(app, config, topics.FINDINGS)
    dead = topic(app, config, topics.DEAD_LETTERS)
    media_hashes = topic(app, config, topics.MEDIA_HASHES)

    def answer(value: bytes, _key: Any, _ts: int, _headers: Any) -> list[dict[str, Any]]:
        ctx = message_context()
        return stage.answer(value, f"{ctx.topic}[{ctx.partition}]@{ctx.offset}")

    answers = app.dataframe(events).apply(answer, expand=True, metadata=True)
    # Three branches of one stream: findings keyed by the event's place, dead letters
    # aside, and each hashed attachment's sighting keyed by the attachment (compacted).
    answers.filter(lambda a: not is_dead(a) and not media.is_sighting(a)).to_topic(
        findings, key=lambda a: a["key"])
    answers.filter(is_dead).to_topic(dead, key=lambda a: a["where"])
    answers.filter(media.is_sighting).apply(media.unwrap).to_topic(
        media_hashes, key=lambda s: s["attachment_id"])
    return answers
