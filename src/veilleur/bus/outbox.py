"""Actions and documents onto the bus, after the database has them: the casework writer's
outbox.

Whoever writes casework on a bus (`veilleur serve --bus`, `veilleur worker --stage sink`)
has its `DatabaseSink` record each action and document it writes in `bus_outbox`, in the
same transaction (`DatabaseSink.outbox`): nothing can be in the database and not be due for
the bus. `Publisher.publish` puts the rows not yet published on `actions` or `documents`
(`wire.action_message`, `wire.document_message`), waits for the broker's acknowledgement,
and only then marks them (dropping the row's copy of the body; the id and digest stay, so
the same state written again is not published again). It runs at start and after each
checkpoint; a broker that does not answer leaves the rows as they are, to be published at
the next one: a failed publish loses nothing. A writer killed between the acknowledgement
and the mark publishes those rows again at start: at least once, with stable ids.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, update

from veilleur.bus import topics, wire
from veilleur.store.models import BusOutboxRow

log = logging.getLogger("veilleur.bus.outbox")


def pending(db: Engine, limit: int = 500) -> list[BusOutboxRow]:
    """The oldest rows not yet published, in the order they were written."""
    with db.connect() as conn:
        rows = conn.execute(select(BusOutboxRow.seq, BusOutboxRow.topic, BusOutboxRow.item_id,
                                   BusOutboxRow.rev, BusOutboxRow.key, BusOutboxRow.body)
                            .where(BusOutboxRow.published_at.is_(None))
                            .order_by(BusOutboxRow.seq).limit(limit)).all()
    return [BusOutboxRow(seq=r.seq, topic=r.topic, item_id=r.item_id, rev=r.rev, key=r.key,
                         body=r.body) for r in rows]


def backlog(db: Engine) -> int:
    from sqlalchemy import func

    with db.connect() as conn:
        n = conn.execute(select(func.count()).select_from(BusOutboxRow)
                         .where(BusOutboxRow.published_at.is_(None))).scalar_one()
    return int(n)


def mark(db: Engine, seqs: list[int], now: datetime) -> None:
    for i in range(0, len(seqs), 500):
        with db.begin() as conn:
            conn.execute(update(BusOutboxRow).where(BusOutboxRow.seq.in_(seqs[i:i + 500]))
                         .values(published_at=now, body=None))


def message(row: BusOutboxRow) -> bytes:
    build = wire.OUTBOX_MESSAGES[row.topic]
    return json.dumps(build(row.item_id, row.rev, row.body or {}), ensure_ascii=False,
                      separators=(",", ":")).encode()


class Publisher:
    """Publishes the outbox of `db` through one producer. `publish` never raises: what it
    could not put stays in the outbox (logged, counted in `stats`)."""

    def __init__(self, db: Engine, broker: str, *, prefix: str = "",
                 options: dict[str, Any] | None = None, timeout: float = 10.0) -> None:
        from confluent_kafka import Producer

        self.db = db
        self.names = topics.names(prefix)
        self.timeout = timeout
        # acks=all: published means the replicas have it. A message the broker does not
        # take within the timeout fails (and stays in the outbox) instead of lingering.
        self._producer = Producer({"bootstrap.servers": broker, "acks": "all",
                                   "message.timeout.ms": int(timeout * 1000),
                                   **(options or {})})
        self.stats: Counter[str] = Counter()
        self._lock = threading.Lock()  # one publish at a time (start, checkpoints, thread)

    def publish(self, limit: int = 500, rounds: int = 100) -> int:
        """Put what is pending on the bus; the number of rows published."""
        done = 0
        with self._lock:
            try:
                for _ in range(rounds):
                    rows = pending(self.db, limit)
                    if not rows:
                        break
                    acked = self._put(rows)
                    if acked:
                        mark(self.db, acked, datetime.now(UTC))
                        done += len(acked)
                        self.stats["published"] += len(acked)
                    if len(acked) < len(rows):
                        self.stats["failed_rounds"] += 1
                        break
            except Exception as exc:  # the database or the broker: the next round retries
                self.stats["failed_rounds"] += 1
                log.error("outbox not published (kept for the next checkpoint): %s: %s",
                          type(exc).__name__, exc)
        return done

    def _put(self, rows: list[BusOutboxRow]) -> list[int]:
        from veilleur.bus.config import produce

        acked: list[int] = []
        errors: list[str] = []

        def delivered(seq: int) -> Callable[[Any, Any], None]:
            def on(err: Any, _msg: Any) -> None:
                if err is None:
                    acked.append(seq)
                else:
                    errors.append(str(err))
            return on

        for row in rows:
            produce(self._producer, self.names[row.topic], message(row), row.key.encode(),
                    delivered(row.seq))
        left = self._producer.flush(self.timeout)
        if left or errors:
            log.error("the broker did not acknowledge %d of %d outbox items (%s); they stay "
                      "in the outbox", len(rows) - len(acked), len(rows),
                      errors[0] if errors else "timed out")
        # Marked: the rows acknowledged before the first that was not. Everything after it is
        # published again, in order, so the last message on a key is always the item's
        # latest state even when a later state got through and an earlier one did not.
        ok = set(acked)
        prefix = []
        for row in rows:
            if row.seq not in ok:
                break
            prefix.append(row.seq)
        return prefix


class Background:
    """`Publisher.publish` on a thread of its own, woken after each checkpoint and every
    `every` seconds (a broker back after an outage gets what waited): the casework thread
    never waits for the broker."""

    def __init__(self, publisher: Publisher, every: float = 5.0) -> None:
        self.publisher = publisher
        self.every = every
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="veilleur-outbox", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.publisher.publish()
            self._wake.wait(self.every)
            self._wake.clear()

    def stop(self) -> None:
        """A last publish of what the final checkpoint wrote, then the thread ends (never
        started: nothing to do, the database may be another writer's)."""
        if not self._thread.is_alive() and self._thread.ident is None:
            return
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=self.publisher.timeout * 3)
        self.publisher.publish()
