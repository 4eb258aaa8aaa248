"""The client-mode bot's queue on disk (`veilleur bot --api URL --queue DIR`): what the bot
could not hand to the service (unreachable, overloaded) waits here, in order, until it
answers again (`remote.ServiceEngine` replays it).

One SQLite file, `DIR/queue.db`, in WAL mode with `synchronous=FULL`: an item is on disk
(fsynced) when `put` returns, so a crash or a restart of the bot loses nothing it queued;
the next start reads the file and replays it before anything new. Items are appended with
an ever-growing sequence number and taken out strictly in that order; each one is removed
only once the service accepted it (at least once: the service de-duplicates by event id,
so a resend after a crash between its answer and the removal is harmless).

The file is the owner's alone (0600, its folder 0700, like the engine's databases: it holds
the messages' text). One bot at a time uses a folder (a lock on `DIR/queue.lock`). It is
bounded (`max_bytes` of items, `max_rows` items): past that, new items are refused and
counted, with an error in the log; what is already queued is never dropped to make room.
A row the bot cannot read back (a damaged file, a hand edit) is logged and skipped, and a
file SQLite cannot open at all is moved aside (`queue.db.unreadable-TIME`) and a new one
begun: the bot keeps running either way.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from veilleur.private import private_dir, private_file, tighten

log = logging.getLogger("veilleur.bot")

FILE = "queue.db"
LOCK = "queue.lock"
DEFAULT_FOLDER = Path("veilleur-bot-queue")
"""`--queue`'s default, in the current folder (as `--db`'s `./veilleur.db` is)."""
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
DEFAULT_MAX_ROWS = 1_000_000
_SCHEMA = ("CREATE TABLE IF NOT EXISTS items (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
           "path TEXT NOT NULL, body TEXT NOT NULL, size INTEGER NOT NULL)")


class QueueError(RuntimeError):
    """The queue's folder cannot be used (another bot holds it, it is not a folder...)."""


@dataclass(frozen=True, slots=True)
class Item:
    seq: int
    path: str
    """Where it goes: `/v1/events` (one event), `/v1/verdict`, `/v1/reports`."""
    body: Any
    size: int


class DiskQueue:
    def __init__(self, folder: Path, *, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_rows: int = DEFAULT_MAX_ROWS) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.max_rows = max_rows
        self.refused = 0
        """Items refused because the queue was full (lost: never sent to the service)."""
        self.skipped = 0
        """Rows that could not be read back (logged and removed)."""
        self._lock = threading.Lock()
        try:
            private_dir(self.folder)
        except OSError as exc:
            raise QueueError(f"queue folder {self.folder}: {exc.strerror or exc}") from None
        self.file = self.folder / FILE
        self._held = self._hold()
        try:
            self._db = self._open()
        except BaseException:
            os.close(self._held)
            raise
        count, size = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM items").fetchone()
        self.count: int = int(count)
        self.bytes: int = int(size)
        if self.count:
            log.warning("the bot's disk queue %s holds %d item(s) from before: they are sent "
                        "first, in order", self.file, self.count)

    def _hold(self) -> int:
        path = private_file(self.folder / LOCK)
        fd = os.open(path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise QueueError(f"queue folder {self.folder} is in use by another bot; "
                                 "give each bot its own --queue") from None
            raise
        return fd

    def _open(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except sqlite3.DatabaseError as exc:
            aside = self.file.with_name(f"{FILE}.unreadable-{time.strftime('%Y%m%dT%H%M%S')}")
            log.error("the bot's disk queue %s cannot be read (%s): moved aside to %s, a new "
                      "one is begun; what it held was not sent", self.file, exc, aside.name)
            for suffix in ("", "-wal", "-shm"):
                old = Path(f"{self.file}{suffix}")
                if old.exists():
                    os.replace(old, Path(f"{aside}{suffix}"))
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        private_file(self.file)
        for suffix in ("-wal", "-shm"):  # SQLite gives them the file's mode; older ones too
            tighten(Path(f"{self.file}{suffix}"))
        db = sqlite3.connect(self.file, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute(_SCHEMA)
            db.execute("SELECT seq, path, body, size FROM items LIMIT 1").fetchall()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def __len__(self) -> int:
        return self.count

    def put(self, items: Sequence[tuple[str, Any]]) -> int:
        """Append `items` ((path, JSON body), in order), on disk when this returns; the
        number stored. Past the bound the rest are refused (counted and logged): a later
        item never goes in ahead of an earlier one refused."""
        texts = [(path, json.dumps(body, ensure_ascii=False, separators=(",", ":")))
                 for path, body in items]
        rows = []
        with self._lock:
            count, size = self.count, self.bytes
            for path, text in texts:
                n = len(text.encode())
                if count + 1 > self.max_rows or size + n > self.max_bytes:
                    break
                rows.append((path, text, n))
                count, size = count + 1, size + n
            if rows:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.executemany(
                        "INSERT INTO items (path, body, size) VALUES (?, ?, ?)", rows)
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self.count, self.bytes = count, size
        lost = len(items) - len(rows)
        if lost:
            before = self.refused
            self.refused += lost
            if before == 0 or before // 1000 != self.refused // 1000:
                log.error("the bot's disk queue is full (%d items, %d bytes; at most %d, %d): "
                          "%d item(s) refused so far, never sent to the service", self.count,
                          self.bytes, self.max_rows, self.max_bytes, self.refused)
        return len(rows)

    def head(self, most: int) -> list[Item]:
        """The oldest `most` items, in order. A row that cannot be read back is logged and
        removed (skipped), never raised."""
        with self._lock:
            rows = self._db.execute("SELECT seq, path, body, size FROM items ORDER BY seq "
                                    "LIMIT ?", (most,)).fetchall()
        out, bad = [], []
        for seq, path, body, size in rows:
            try:
                if not isinstance(path, str) or not path.startswith("/v1/"):
                    raise ValueError(f"no destination ({path!r})")
                if not isinstance(body, str):
                    raise ValueError(f"the body is {type(body).__name__}, not text")
                out.append(Item(seq, path, json.loads(body),
                                size if isinstance(size, int) else len(body.encode())))
            except ValueError as exc:
                bad.append((seq, size if isinstance(size, int) else 0))
                log.error("the bot's disk queue %s: item %s cannot be read (%s); skipped, it "
                          "is not sent", self.file, seq, str(exc)[:200])
        if bad:
            self.skipped += len(bad)
            self._delete(bad)
        return out

    def remove(self, items: Sequence[Item]) -> None:
        """Taken out once the service accepted them."""
        self._delete([(i.seq, i.size) for i in items])

    def _delete(self, rows: Sequence[tuple[int, int]]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                gone = self._db.executemany("DELETE FROM items WHERE seq = ?",
                                            [(seq,) for seq, _ in rows]).rowcount
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self.count = max(0, self.count - max(0, gone))
            self.bytes = max(0, self.bytes - sum(n for _, n in rows))
            if self.count == 0:
                self.bytes = 0
                # Emptied: the write-ahead log is folded in and cut back to nothing.
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock:
            self._db.close()
        if self._held >= 0:
            os.close(self._held)  # the lock goes with it
            self._held = -1
