"""The inbox: what the service accepted, journaled before it answers.

An event is *accepted* once its row is committed; the engine takes rows in order and marks
them done only after their effects are in the store (`Runtime.checkpoint`). A crash between
the two loses nothing: on restart the rows not done are taken in again. Keys make accepting
idempotent: the platform's event id when it gives one, else a digest of the event.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from veilleur.store.db import private_sqlite, sqlite_pragmas
from veilleur.store.models import InboxRow


def journal_database(db: Engine, url: str, suffix: str = "-inbox") -> Engine:
    """Where a journal lives. SQLite has one writer per file, so there each journal is a file
    of its own beside the database (`<file>-inbox`, `<file>-verdicts`): accepting does not
    wait behind the engine's writes, nor a verdict behind a batch. PostgreSQL locks rows: the
    journals are the `inbox` table of the database."""
    if not url.startswith("sqlite:///"):
        return db
    private_sqlite(url + suffix)
    engine = create_engine(url + suffix)
    event.listen(engine, "connect", sqlite_pragmas)
    # The WAL is copied back by `Inbox.settle` (the engine thread), not by whichever request
    # happens to commit the thousandth page: accepting never waits for that fsync.
    event.listen(engine, "connect", _no_autocheckpoint)
    InboxRow.metadata.create_all(engine, tables=[InboxRow.__table__])  # type: ignore[list-item]
    return engine


def event_key(raw: dict[str, Any]) -> str:
    """The idempotency key of one event: `event_id` (an extension of contracts §5) when the
    platform sends one, else a digest of the event's content (key order does not matter)."""
    given = raw.get("event_id")
    if isinstance(given, str) and given:
        return "id:" + given[:120]
    body = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


def _no_autocheckpoint(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA wal_autocheckpoint=0")
    cur.close()


@dataclass(frozen=True, slots=True)
class Pending:
    seq: int
    kind: str
    body: str


VERDICT = "verdict"
"""The kind of the rows of the verdicts' journal (messages handled as they were received)."""


class Inbox:
    """One journal: the events accepted in batches, or (`verdicts`) the messages handled at
    once for a verdict. On PostgreSQL both share the table, told apart by `kind`."""

    def __init__(self, db: Engine, *, verdicts: bool = False) -> None:
        self.db = db
        self.mine = InboxRow.kind == VERDICT if verdicts else InboxRow.kind != VERDICT
        self._lock = threading.Lock()
        self._write = threading.Lock()
        with db.connect() as conn:
            self._backlog = int(conn.execute(select(func.count()).select_from(InboxRow)
                                             .where(InboxRow.done_at.is_(None), self.mine)
                                             ).scalar_one())

    @property
    def backlog(self) -> int:
        """Accepted events the engine has not yet made durable."""
        return self._backlog

    def add(self, items: Sequence[tuple[str, str, str]], now: datetime) -> dict[str, int]:
        """Journal `(key, kind, body)` items in one transaction; returns the new rows' seq by
        key. Keys already in the inbox (or twice in `items`) are not added again."""
        rows, seen = [], set()
        for key, kind, body in items:
            if key not in seen:
                seen.add(key)
                rows.append({"key": key, "kind": kind, "body": body, "accepted_at": now})
        if not rows:
            return {}
        insert = postgresql.insert if self.db.dialect.name == "postgresql" else sqlite.insert
        stmt = (insert(InboxRow).on_conflict_do_nothing(index_elements=["key"])
                .returning(InboxRow.key, InboxRow.seq))
        added: dict[str, int] = {}
        # Short transactions, one writer at a time in this process: a verdict's one row waits
        # for at most one chunk, never in SQLite's sleeping busy handler. A crash between
        # chunks leaves some of a batch journaled and unanswered; the resend finds them by key.
        for i in range(0, len(rows), 250):
            with self._write, self.db.begin() as conn:
                for key, seq in conn.execute(stmt, rows[i:i + 250]):
                    added[key] = seq
        with self._lock:
            self._backlog += len(added)
        return added

    def after(self, seq: int, limit: int) -> list[Pending]:
        with self.db.connect() as conn:
            return [Pending(s, k, b) for s, k, b in conn.execute(
                select(InboxRow.seq, InboxRow.kind, InboxRow.body)
                .where(InboxRow.seq > seq, InboxRow.done_at.is_(None), self.mine)
                .order_by(InboxRow.seq).limit(limit))]

    def mark_done(self, seqs: Iterable[int], now: datetime,
                  results: dict[int, dict[str, Any]] | None = None) -> None:
        done = sorted(set(seqs))
        if not done:
            return
        results = results or {}
        with self._write, self.db.begin() as conn:
            for i in range(0, len(done), 900):
                chunk = done[i:i + 900]
                conn.execute(update(InboxRow).where(InboxRow.seq.in_(chunk))
                             .values(done_at=now))
            for seq, result in results.items():
                conn.execute(update(InboxRow).where(InboxRow.seq == seq)
                             .values(result=result))
        with self._lock:
            self._backlog = max(0, self._backlog - len(done))

    def settle(self) -> None:
        """Copy the SQLite journal's write-ahead log back into its file (concurrent writers
        go on); nothing to do on PostgreSQL."""
        if self.db.dialect.name == "sqlite":
            with self.db.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def find(self, key: str) -> tuple[int, datetime | None, dict[str, Any] | None] | None:
        """A journaled event by key: its seq, when it was made durable, its stored result."""
        with self.db.connect() as conn:
            row = conn.execute(select(InboxRow.seq, InboxRow.done_at, InboxRow.result)
                               .where(InboxRow.key == key)).first()
        return None if row is None else (row[0], row[1], row[2])

    def counts(self) -> dict[str, int]:
        with self.db.connect() as conn:
            total = conn.execute(select(func.count()).select_from(InboxRow)
                                 .where(self.mine)).scalar_one()
        return {"accepted": int(total), "pending": self._backlog}
