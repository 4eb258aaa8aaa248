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

from veilleur.bus import wire
from veilleur.deployment import Mode, Settings, assemble
from veilleur.detect.media.decode import Limits
from veilleur.enforce.evidence import key_for_database
from veilleur.ingest.eventlog import parse_event
from veilleur.ingest.media import MediaReader
from veilleur.store import lease
from veilleur.store.db import connect, database_url

log = logging.getLogger("veilleur.bus.sink")


def utcnow() -> datetime:
    return datetime.now(UTC)


class SinkStage:
    def __init__(self, db: str | None, *, evidence_key: Path | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.url = database_url(db)
        self.clock = clock
        self.db = connect(self.url)
        self.lease = secrets.token_hex(16)
        try:
            lease.take(self.db, self.lease, utcnow())  # judged on the wall clock, always
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
        self._reader = MediaReader(Limits(), read_local=False)
        self._applied: OrderedDict[str, None] = OrderedDict()
        """Events lately applied to the content view (a second delivery is not applied
        again: the index would count the message twice)."""
        self.stats: Counter[str] = Counter()

    def take(self, value: bytes | str | dict[str, Any], where: str = "") -> None:
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
        self.casework.take_findings(findings, self.clock())
        self.stats["findings"] += len(findings)
        self.stats["new_intakes"] += len(self.casework.intakes) - before

    def checkpoint(self) -> None:
        """What was taken in so far, in the database (raises if it cannot be: Quix then
        does not commit, and the messages are read again)."""
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
    from veilleur.bus.config import application, topic

    class CaseworkSink(BatchingSink):
        """Quix flushes a sink before it commits the offsets of what the sink was given."""

        def write(self, batch: SinkBatch) -> None:
            if batch.empty():
                return
            for item in batch:
                stage.take(item.value, f"{batch.topic}[{batch.partition}]@{item.offset}")
            stage.checkpoint()

    stage = SinkStage(db, evidence_key=evidence_key)
    try:
        app = application(config)
        findings = topic(app, config, topics.FINDINGS, value="bytes", key="bytes")
        app.dataframe(findings).sink(CaseworkSink())
        log.info("sink: %s -> casework in %s", findings.name, stage.url.split("@")[-1])
        app.run()
    finally:
        stage.close()
