"""Accepted events onto `events`: what `veilleur serve --bus kafka://HOST:PORT` uses, and a
platform's own front door may.

Each event is checked with the event format (`eventformat`, through `parse_event`) before it
is put on the log, keyed by its place (`topics.partition_key`), and `put` returns once the
broker has acknowledged every accepted event: accepted means on the log, as the embedded
service's accepted means in its journal. A rejected event never reaches the log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from veilleur.bus import topics
from veilleur.detect.media.decode import Limits
from veilleur.events import PLATFORM_TYPES
from veilleur.ingest.eventlog import parse_event
from veilleur.ingest.fields import FieldError
from veilleur.ingest.media import MediaReader
from veilleur.service.inbox import event_key


@dataclass
class Put:
    accepted: list[str] = field(default_factory=list)
    """The accepted events' ids (`service.inbox.event_key`), in order."""
    rejected: list[dict[str, Any]] = field(default_factory=list)
    """`{"index": i, "error": why}` for each event refused."""


class EventProducer:
    def __init__(self, broker: str, *, prefix: str = "",
                 options: dict[str, Any] | None = None, partitions: int = 12,
                 timeout: float = 30.0) -> None:
        """`timeout`: seconds a `put` waits for the broker before it fails (and a message
        not acknowledged by then is dropped from the local queue, never sent later)."""
        from veilleur.bus.config import BusConfig, ensure_topics

        self.topic = topics.names(prefix)[topics.EVENTS]
        self.timeout = timeout
        # Made here if missing, as the workers make them (not by the broker's defaults).
        ensure_topics(BusConfig(broker=broker, group="", prefix=prefix,
                                partitions=partitions), timeout=timeout)
        # acks=all: an event is accepted when the replicas have it, not when a leader does.
        self._producer = Producer({"bootstrap.servers": broker, "acks": "all",
                                   "message.timeout.ms": int(timeout * 1000),
                                   **(options or {})})
        self._reader = MediaReader(Limits(), read_local=False)  # nothing read, only checked

    def put(self, raws: list[Any], *, timeout: float | None = None) -> Put:
        from veilleur.bus.config import produce

        out = Put()
        failed: list[str] = []

        def delivered(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                failed.append(str(err))

        for i, raw in enumerate(raws):
            try:
                event = parse_event(raw, Path("/nonexistent-media-root"), self._reader, "bus")
            except FieldError as exc:
                out.rejected.append({"index": i, "error": str(exc)})
                continue
            if event.type not in PLATFORM_TYPES:
                out.rejected.append({"index": i, "error": f"{event.type!r} events are "
                                     "casework's: not put on the bus"})
                continue
            body = json.dumps(raw, ensure_ascii=False, separators=(",", ":")).encode()
            produce(self._producer, self.topic, body, topics.partition_key(event), delivered)
            out.accepted.append(event_key(raw))
        # Past message.timeout.ms a message fails; the margin lets its failure be reported.
        left = self._producer.flush(timeout if timeout is not None else self.timeout + 5.0)
        if left or failed:
            raise RuntimeError(f"the broker did not acknowledge {left + len(failed)} events "
                               f"({failed[0] if failed else 'timed out'}); send them again "
                               "(the sink de-duplicates)")
        return out
