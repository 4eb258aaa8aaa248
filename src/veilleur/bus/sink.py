"""The sink stage: findings in, casework in the database (SQLite here, PostgreSQL for a
platform), at least once and de-duplicated.

`SinkStage` is the logic without a broker: it assembles a `LIVE` deployment on the database
(`deployment.assemble`, as `veilleur serve` does), holds the database's lease (one casework
writer: a service and a sink never write the same casework at once), and takes in each
findings message:

- the event it answers is applied to casework's content view and stored, so casework knows
  where the message lives (its channel, server and author) when it groups findings;
- each finding is handed to `Casework.take_findings`, which keeps one intake per target and
  category: a finding delivered again (a detect worker killed before it committed, the
  partition read again by another) finds its intake and adds nothing; a stronger one raises
  it, as in the embedded engine. Casework read back from the database at start knows the
  intakes taken before, so this holds across the sink's own restarts.

`checkpoint` makes what was taken in durable; `CaseworkSink` (Quix) calls it before Quix
commits the offsets, so a message is committed only once its findings are in the database.
Then the actions and documents casework wrote go out on `actions` and `documents` from the
database's outbox (`bus.outbox`: recorded with them, published once acknowledged).

`FindingsTaker` is the taking in itself, shared with `veilleur serve --bus` (`bus.serve`),
which takes the findings on its own engine thread: one way to turn findings into casework.
The two never write one database at once: each holds its lease (`store.lease`), and the
second is refused with the first named.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections import Counter, OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from veilleur.bus import wire
from veilleur.bus.outbox import Publisher
from veilleur.cases.casework import Casework
from veilleur.deployment import Mode, Settings, assemble
from veilleur.detect.media.decode import Limits
from veilleur.enforce.evidence import key_for_database
from veilleur.ingest.eventlog import parse_event
from veilleur.ingest.media import MediaReader
from veilleur.store import lease
from veilleur.store.casework import DatabaseSink
from veilleur.store.db import connect, database_url
from veilleur.store.writer import StoreWriter

log = logging.getLogger("veilleur.bus.sink")


def utcnow() -> datetime:
    return datetime.now(UTC)


class FindingsTaker:
    """Findings messages into one live casework: the sink stage's and `serve --bus`'s one
    way of taking them (the caller holds whatever lock guards its casework, and makes what
    was taken durable at its checkpoints before the offsets are committed)."""

    def __init__(self, casework: Casework, writer: StoreWriter) -> None:
        self.casework = casework
        self.writer = writer
        self._reader = MediaReader(Limits(), read_local=False)
        self._applied: OrderedDict[str, None] = OrderedDict()
        """Events lately applied to the content view (a second delivery is not applied
        again: the index would count the message twice)."""
        self.stats: Counter[str] = Counter()

    def applied(self, event_id: str) -> None:
        """`event_id` was applied to casework by its owner (a verdict in `serve --bus`)."""
        self._applied[event_id] = None

    def take(self, value: bytes | str | dict[str, Any], where: str = "", *,
             now: datetime | None = None) -> None:
        """One findings message; a malformed one is logged and counted, never raised (the
        stream goes on; the message stays on the topic to be read again)."""
        try:
            msg = json.loads(value) if isinstance(value, bytes | str) else value
            findings = [wire.finding_from_json(f) for f in msg["findings"]]
            raw = msg.get("event")
            event = (parse_event(raw, Path("/nonexistent-media-root"), self._reader, "bus")
                     if raw is not None else None)
        except Exception as exc:
            self.stats["bad"] += 1
            log.error("findings message at %s not taken: %s: %s", where or "?",
                      type(exc).__name__, exc)
            return
        self.stats["messages"] += 1
        event_id = str(msg.get("event_id", ""))
        if event is not None and event_id not in self._applied:
            # Where the message lives, for grouping; the store keeps an event once.
            self.casework.content.apply(event)
            self.writer.add(event)
            self._applied[event_id] = None
            while len(self._applied) > 100_000:
                self._applied.popitem(last=False)
        before = len(self.casework.intakes)
        with self.casework.batch():  # an event's findings often join one case: weighed once
            self.casework.take_findings(findings, now or utcnow())
        self.stats["findings"] += len(findings)
        self.stats["new_intakes"] += len(self.casework.intakes) - before


def outbox_on(casework: Casework) -> None:
    """The casework writer on a bus records its actions and documents for the bus
    (`bus.outbox`), in the transactions that write them."""
    sink = casework.sink
    if not isinstance(sink, DatabaseSink):
        raise TypeError("casework on a bus is written to a database")
    sink.outbox = True


class SinkStage:
    def __init__(self, db: str | None, *, evidence_key: Path | None = None,
                 clock: Callable[[], datetime] = utcnow,
                 publisher: Callable[[Engine], Publisher] | None = None) -> None:
        """`publisher`: makes the outbox's publisher on the stage's database (None: the
        outbox stays in the database, for a later writer or a test to publish)."""
        self.url = database_url(db)
        self.clock = clock
        self.db = connect(self.url)
        self.lease = secrets.token_hex(16)
        try:
            # Judged on the wall clock, always; refused (by name) while a service holds it.
            lease.take(self.db, self.lease, utcnow(), role="sink")
            self._renewed = utcnow()
            deployment = assemble(Settings(mode=Mode.LIVE, db_url=self.url,
                                           evidence_key=key_for_database(self.url,
                                                                         evidence_key),
                                           lease=self.lease, batch_size=50_000),
                                  db=self.db)
        except BaseException:
            self.db.dispose()
            raise
        assert deployment.casework is not None and deployment.writer is not None
        self.deployment = deployment
        self.casework = deployment.casework
        self.writer = deployment.writer
        outbox_on(self.casework)
        self.taker = FindingsTaker(self.casework, self.writer)
        self.stats = self.taker.stats
        self.publisher = publisher(self.db) if publisher is not None else None
        if self.publisher is not None:  # what an earlier writer left unpublished
            self.publisher.publish()

    def take(self, value: bytes | str | dict[str, Any], where: str = "") -> None:
        self.taker.take(value, where, now=self.clock())

    def checkpoint(self) -> None:
        """What was taken in so far, in the database (raises if it cannot be: Quix then
        does not commit, and the messages are read again); then the actions and documents
        it made, on the bus (a failure there is kept for the next checkpoint)."""
        now = utcnow()
        if (now - self._renewed) >= lease.RENEW_EVERY:
            if not lease.renew(self.db, self.lease, now):
                raise RuntimeError("the sink lost its hold on the database to another process")
            self._renewed = now
        # The clocks of cases run in the database's casework: the sink keeps them, as the
        # service's engine thread does between events.
        self.casework.tick(self.clock())
        self.writer.flush()
        self.casework.sink.flush()
        if self.publisher is not None:
            self.publisher.publish()
        # One line per checkpoint: what an operator (and the kill test) reads of progress.
        log.info("checkpoint: messages=%d findings=%d new_intakes=%d bad=%d",
                 self.stats["messages"], self.stats["findings"], self.stats["new_intakes"],
                 self.stats["bad"])

    def close(self) -> None:
        try:
            self.checkpoint()
        finally:
            try:
                lease.release(self.db, self.lease)
            finally:
                self.db.dispose()


def run(config: Any, db: str | None, *, evidence_key: Path | None = None) -> None:
    """Run the stage until SIGINT or SIGTERM. `config`: a `config.BusConfig`."""
    from quixstreams.sinks import BatchingSink, SinkBatch

    from veilleur.bus import topics
    from veilleur.bus.config import application, ensure_topics, topic

    class CaseworkSink(BatchingSink):
        """Quix flushes a sink before it commits the offsets of what the sink was given."""

        def write(self, batch: SinkBatch) -> None:
            if batch.empty():
                return
            # Each case the batch touches is weighed once, at its end, not at every finding
            # (a case growing by n findings one at a time costs O(n²)).
            with stage.casework.batch():
                for item in batch:
                    stage.take(item.value, f"{batch.topic}[{batch.partition}]@{item.offset}")
            stage.checkpoint()

    ensure_topics(config, (topics.ACTIONS, topics.DOCUMENTS, topics.LABELS))
    stage = SinkStage(db, evidence_key=evidence_key, publisher=lambda engine: Publisher(
        engine, config.broker, prefix=config.prefix, options=dict(config.producer)))
    try:
        app = application(config)
        findings = topic(app, config, topics.FINDINGS, value="bytes", key="bytes")
        app.dataframe(findings).sink(CaseworkSink())
        log.info("sink: %s -> casework in %s", findings.name, stage.url.split("@")[-1])
        app.run()
    finally:
        stage.close()
