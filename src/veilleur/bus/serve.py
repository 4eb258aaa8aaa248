"""`veilleur serve --bus kafka://HOST:PORT`: the service as the bus's front door and its
casework writer.

- Accepted platform events go on `events` (`EventProducer`: checked, keyed, acknowledged by
  the broker before the answer says accepted), not to the in-process engine.
- The detect workers' `findings` are read by a consumer group of the service's own and taken
  into the service's live casework on its engine thread, by the sink stage's own code
  (`sink.FindingsTaker`): one casework writer, the service, which keeps the database's
  lease. Offsets are committed only after a checkpoint has written what was taken before
  them (at least once; casework keeps one intake per target and category, so a finding
  delivered twice adds nothing).
- Actions and documents casework writes are published from the outbox (`outbox`) by a
  thread of their own.

`BusLink` holds these three; the runtime (`service.runtime`) calls it. Its consumer is used
only on the engine thread (poll, take, commit, close); `put` is called from request threads
(the producer is thread-safe).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from veilleur.bus import outbox, topics
from veilleur.bus.producer import EventProducer, Put
from veilleur.bus.sink import FindingsTaker, outbox_on
from veilleur.cases.casework import Casework
from veilleur.service.runtime import BusDown
from veilleur.store.writer import StoreWriter

log = logging.getLogger("veilleur.bus.serve")
SCHEME = "kafka://"


def broker_of(url: str) -> str:
    """HOST:PORT[,HOST:PORT...] of `kafka://HOST:PORT[,...]`; a bad one is named."""
    if not url.startswith(SCHEME):
        raise ValueError(f"--bus {url!r}: write kafka://HOST:PORT (a broker to start from)")
    rest = url.removeprefix(SCHEME).rstrip("/")
    for part in rest.split(","):
        host, sep, port = part.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"--bus {url!r}: {part!r} is not HOST:PORT")
    return rest


@dataclass
class BusSettings:
    url: str
    """kafka://HOST:PORT of one broker (bootstrap)."""
    prefix: str = ""
    group: str = "veilleur-serve"
    """The service's consumer group on `findings` (not the sink stage's)."""
    partitions: int = 12
    """For the topics the service creates if they are missing."""
    replication: int = 1
    timeout: float = 10.0
    """Seconds a batch waits for the broker's acknowledgement before it is refused (503)."""
    session_timeout_ms: int = 10_000
    producer: dict[str, Any] = field(default_factory=dict)
    consumer: dict[str, Any] = field(default_factory=dict)


class BusLink:
    def __init__(self, settings: BusSettings, db: Engine, casework: Casework,
                 writer: StoreWriter) -> None:
        from confluent_kafka import Consumer, KafkaException

        from veilleur.bus.config import BusConfig, ensure_topics

        self.settings = settings
        self.broker = broker_of(settings.url)
        self.names = topics.names(settings.prefix)
        config = BusConfig(broker=self.broker, group=settings.group, prefix=settings.prefix,
                           partitions=settings.partitions, replication=settings.replication)
        try:
            ensure_topics(config, (topics.EVENTS, topics.FINDINGS, topics.DEAD_LETTERS,
                                   topics.ACTIONS, topics.DOCUMENTS, topics.LABELS,
                                   topics.MEDIA_HASHES), timeout=settings.timeout)
            self.producer = EventProducer(self.broker, prefix=settings.prefix,
                                          options=dict(settings.producer),
                                          partitions=settings.partitions,
                                          timeout=settings.timeout)
        except (KafkaException, RuntimeError) as exc:
            raise RuntimeError(f"cannot reach the bus at {settings.url}: {exc}") from None
        outbox_on(casework)
        self.taker = FindingsTaker(casework, writer)
        self.consumer = Consumer({"bootstrap.servers": self.broker,
                                  "group.id": settings.group,
                                  "enable.auto.commit": False,
                                  "auto.offset.reset": "earliest",
                                  "session.timeout.ms": settings.session_timeout_ms,
                                  **settings.consumer})
        self.consumer.subscribe([self.names[topics.FINDINGS]])
        self.publisher = outbox.Publisher(db, self.broker, prefix=settings.prefix,
                                          options=dict(settings.producer),
                                          timeout=settings.timeout)
        self.background = outbox.Background(self.publisher)
        self._taken: dict[tuple[str, int], int] = {}
        """Next offset per partition of what was taken since the last checkpoint."""
        self._ready: dict[tuple[str, int], int] = {}
        """Offsets whose messages' effects are written: to commit."""
        self._ready_lock = threading.Lock()
        self._seen: OrderedDict[str, None] = OrderedDict()
        """Keys of events lately acknowledged: the same event sent again within this window
        is answered as a duplicate and not put again."""
        self._seen_lock = threading.Lock()
        self.stats = {"events_put": 0, "put_failures": 0, "findings_messages": 0,
                      "commits": 0, "poll_errors": 0}

    def start(self) -> None:
        self.background.start()  # publishes what an earlier writer left, at once

    # --- the front door ----------------------------------------------------------------------

    def seen(self, key: str) -> bool:
        with self._seen_lock:
            return key in self._seen

    def put(self, raws: list[Any], keys: list[str]) -> Put:
        """On `events`, acknowledged; `BusDown` if the broker did not acknowledge them all
        (then nothing is said accepted: some may be on the log, and sent again they are
        de-duplicated downstream by finding key)."""
        if not raws:
            return Put()
        try:
            put = self.producer.put(raws)
        except (RuntimeError, BufferError) as exc:
            self.stats["put_failures"] += 1
            raise BusDown(f"the bus ({self.settings.url}) did not take the events: {exc}. "
                          "Nothing in this request is accepted; send it again") from None
        self.stats["events_put"] += len(put.accepted)
        with self._seen_lock:
            for key in keys:
                self._seen[key] = None
            while len(self._seen) > 100_000:
                self._seen.popitem(last=False)
        return put

    # --- findings, on the engine thread -------------------------------------------------------

    def poll(self, most: int, timeout: float) -> list[Any]:
        try:
            messages = self.consumer.consume(most, timeout)
        except Exception as exc:  # a fatal consumer error: logged, the loop goes on
            self.stats["poll_errors"] += 1
            log.error("cannot read %s: %s", self.names[topics.FINDINGS], exc)
            return []
        out = []
        for m in messages:
            if m.error() is not None:
                self.stats["poll_errors"] += 1
                log.warning("reading %s: %s", self.names[topics.FINDINGS], m.error())
                continue
            out.append(m)
        return out

    def take(self, message: Any, now: datetime) -> None:
        """One findings message into casework (the caller holds the runtime's lock)."""
        self.taker.take(message.value(), f"{message.topic()}[{message.partition()}]@"
                        f"{message.offset()}", now=now)
        self._taken[(message.topic(), message.partition())] = message.offset() + 1
        self.stats["findings_messages"] += 1

    def offsets(self) -> dict[tuple[str, int], int]:
        """What was taken since the last call: to commit once its checkpoint is written."""
        taken, self._taken = self._taken, {}
        return taken

    def written(self, offsets: dict[tuple[str, int], int]) -> None:
        """A checkpoint holding these offsets' effects is in the database (any thread)."""
        with self._ready_lock:
            for tp, offset in offsets.items():
                self._ready[tp] = max(offset, self._ready.get(tp, 0))
        self.background.wake()

    def commit(self, *, wait: bool = False) -> None:
        """Commit what is written (engine thread). Asynchronous by default: the engine does
        not wait for the broker; a commit that is lost only means a message read again."""
        from confluent_kafka import TopicPartition

        with self._ready_lock:
            ready, self._ready = self._ready, {}
        if not ready:
            return
        try:
            self.consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o
                                          in ready.items()], asynchronous=not wait)
            self.stats["commits"] += 1
        except Exception as exc:  # read again after a restart, de-duplicated: not a fault
            log.warning("offsets of %s not committed: %s", self.names[topics.FINDINGS], exc)

    def wake_outbox(self) -> None:
        self.background.wake()

    def close(self) -> None:
        """After the last checkpoint: its offsets committed, the consumer leaves its group,
        the outbox published a last time."""
        try:
            self.commit(wait=True)
        finally:
            try:
                self.consumer.close()
            finally:
                self.background.stop()

    def describe(self) -> dict[str, Any]:
        # Counts only: /health answers anyone, and the broker's address is not theirs.
        return {**self.stats, "outbox_published": self.publisher.stats["published"],
                "outbox_failed_rounds": self.publisher.stats["failed_rounds"],
                **{f"findings_{k}": v for k, v in self.taker.stats.items()}}


