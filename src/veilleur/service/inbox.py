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

from sqlalchemy import Engine, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from veilleur.store.models import InboxRow


def event_key(raw: dict[str, Any]) -> str:
    """The idempotency key of one event: `event_id` (an extension of contracts §5) when the
    platform sends one, else a digest of the event's content (key order does not matter)."""
    given = raw.get("event_id")
    if isinstance(given, str) and given:
        return "id:" + given[:120]
    body = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Pending:
    seq: int
    kind: str
    body: str


class Inbox:
    def __init__(self, db: Engine) -> None:
        self.db = db
        self._lock = threading.Lock()
        with db.connect() as conn:
            self._backlog = int(conn.execute(select(func.count()).select_from(InboxRow)
                                             .where(InboxRow.done_at.is_(None))).scalar_one())

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
        with self.db.begin() as conn:
            for i in range(0, len(rows), 500):
                for key, seq in conn.execute(stmt, rows[i:i + 500]):
                    added[key] = seq
        with self._lock:
            self._backlog += len(added)
        return added

    def after(self, seq: int, limit: int) -> list[Pending]:
        with self.db.connect() as conn:
            return [Pending(s, k, b) for s, k, b in conn.execute(
                select(InboxRow.seq, InboxRow.kind, InboxRow.body)
                .where(InboxRow.seq > seq, InboxRow.done_at.is_(None))
                .order_by(InboxRow.seq).limit(limit))]

    def mark_done(self, seqs: Iterable[int], now: datetime,
                  results: dict[int, dict[str, Any]] | None = None) -> None:
        done = sorted(set(seqs))
        if not done:
            return
        results = results or {}
        with self.db.begin() as conn:
            for i in range(0, len(done), 900):
                chunk = done[i:i + 900]
                conn.execute(update(InboxRow).where(InboxRow.seq.in_(chunk))
                             .values(done_at=now))
            for seq, result in results.items():
                conn.execute(update(InboxRow).where(InboxRow.seq == seq)
                             .values(result=result))
        with self._lock:
            self._backlog = max(0, self._backlog - len(done))

    def find(self, key: str) -> tuple[int, datetime | None, dict[str, Any] | None] | None:
        """A journaled event by key: its seq, when it was made durable, its stored result."""
        with self.db.connect() as conn:
            row = conn.execute(select(InboxRow.seq, InboxRow.done_at, InboxRow.result)
                               .where(InboxRow.key == key)).first()
        return None if row is None else (row[0], row[1], row[2])

    def counts(self) -> dict[str, int]:
        with self.db.connect() as conn:
            total = conn.execute(select(func.count()).select_from(InboxRow)).scalar_one()
        return {"accepted": int(total), "pending": self._backlog}
