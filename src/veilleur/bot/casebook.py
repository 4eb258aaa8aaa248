"""The bot's own records, per server, in one SQLite file beside the engine (`--state`): the
case numbers moderators use and the engine's case each stands for, where each case is
logged (its mod-log message and private thread), every action the bot or a moderator took
through it (so it can be undone), the notes moderators add (never overwritten), warnings,
appeals (with their cooldown), and the opt-in shared watch list.

The engine keeps the cases, evidence and decisions; this file only maps Discord's side of
them. It is written with `synchronous=FULL` (an action recorded is on disk before the next
one, so an undo after a crash still knows it) and created owner-only.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from veilleur.private import private_file

SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    guild_id INTEGER NOT NULL, number INTEGER NOT NULL, case_id TEXT NOT NULL,
    opened_at TEXT NOT NULL, category TEXT, head_channel INTEGER, head_message INTEGER,
    thread_id INTEGER, targets TEXT NOT NULL DEFAULT '[]', decision_id TEXT,
    PRIMARY KEY (guild_id, number), UNIQUE (guild_id, case_id));
CREATE TABLE IF NOT EXISTS actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, guild_id INTEGER NOT NULL, number INTEGER,
    kind TEXT NOT NULL, channel_id INTEGER, message_id INTEGER, member_id INTEGER,
    role_id INTEGER, by TEXT NOT NULL, at TEXT NOT NULL, undone_at TEXT, undone_by TEXT,
    decision_id TEXT);
CREATE INDEX IF NOT EXISTS actions_case ON actions (guild_id, number);
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, guild_id INTEGER NOT NULL, number INTEGER NOT NULL,
    author_id INTEGER NOT NULL, at TEXT NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS warnings (
    id INTEGER PRIMARY KEY AUTOINCREMENT, guild_id INTEGER NOT NULL, member_id INTEGER NOT NULL,
    by INTEGER NOT NULL, at TEXT NOT NULL, reason TEXT NOT NULL, number INTEGER);
CREATE TABLE IF NOT EXISTS appeals (
    id TEXT PRIMARY KEY, guild_id INTEGER NOT NULL, number INTEGER NOT NULL,
    member_id INTEGER NOT NULL, at TEXT NOT NULL, UNIQUE (guild_id, number, member_id));
CREATE TABLE IF NOT EXISTS waves (
    id INTEGER PRIMARY KEY AUTOINCREMENT, guild_id INTEGER NOT NULL, at TEXT NOT NULL,
    until TEXT NOT NULL, paused INTEGER NOT NULL, accounts TEXT NOT NULL DEFAULT '[]',
    lifted_at TEXT, lifted_by TEXT, banned_at TEXT, banned_by TEXT);
CREATE TABLE IF NOT EXISTS watch (
    kind TEXT NOT NULL, value TEXT NOT NULL, guild_id INTEGER NOT NULL, number INTEGER NOT NULL,
    category TEXT, at TEXT NOT NULL, evidence TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (kind, value, guild_id));
"""

UNDOABLE = ("timeout", "quarantine")
"""What Discord lets the bot take back on a case. A deleted message cannot be put back on
Discord (its text is in the sealed evidence); a ban is lifted by a moderator in Discord; a
wave's pause has its own button."""


MAX_TARGETS = 500
"""What one server showed the engine about one case, kept at most (the first ones)."""
MAX_ID = 2 ** 63 - 1
"""SQLite's largest integer: a Discord id past it is not one (a forged button)."""


class CasebookError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class CaseEntry:
    guild_id: int
    number: int
    case_id: str
    opened_at: str
    category: str | None
    head_channel: int | None
    head_message: int | None
    thread_id: int | None
    targets: tuple[tuple[str, str], ...]
    """(kind, id) of what this server showed the engine about the case (its messages, their
    authors, reported members)."""
    decision_id: str | None = None
    """The engine's decision this server's moderators took on it (what an appeal
    contests)."""


@dataclass(frozen=True, slots=True)
class ActionEntry:
    id: int
    guild_id: int
    number: int | None
    kind: str
    channel_id: int | None
    message_id: int | None
    member_id: int | None
    role_id: int | None
    by: str
    at: str
    undone_at: str | None
    decision_id: str | None = None


@dataclass(frozen=True, slots=True)
class Note:
    author_id: int
    at: str
    kind: str
    """'note' (a moderator's words), 'decision', 'escalation', 'undo', 'warning',
    'appeal'."""
    text: str


@dataclass(frozen=True, slots=True)
class Listed:
    """A watch-list entry another server shared."""

    kind: str
    value: str
    guild_id: int
    number: int
    category: str | None
    at: str
    evidence: str


@dataclass(frozen=True, slots=True)
class Wave:
    id: int
    guild_id: int
    at: str
    until: str
    paused: bool
    accounts: tuple[int, ...]
    lifted_at: str | None
    banned_at: str | None


class Casebook:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            try:
                private_file(Path(self.path))
            except OSError as exc:
                raise CasebookError(f"{self.path}: cannot create the bot's records: "
                                    f"{exc.strerror or exc}") from None
        try:
            self.db = sqlite3.connect(self.path, check_same_thread=False,
                                      isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise CasebookError(f"{self.path}: cannot open the bot's records: {exc}") from None
        self._lock = threading.Lock()

    def close(self) -> None:
        self.db.close()

    def _write(self, sql: str, args: tuple[Any, ...]) -> sqlite3.Cursor:
        with self._lock:
            return self.db.execute(sql, args)

    def _rows(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self.db.execute(sql, args).fetchall()

    # --- cases ---------------------------------------------------------------------------

    def number(self, guild_id: int, case_id: str, at: datetime, category: str | None
               ) -> tuple[CaseEntry, bool]:
        """The server's number for the engine's case, given at its first sight here (True:
        new)."""
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                row = self.db.execute("SELECT number FROM cases WHERE guild_id=? AND "
                                      "case_id=?", (guild_id, case_id)).fetchone()
                new = row is None
                if new:
                    (top,) = self.db.execute("SELECT COALESCE(MAX(number), 0) FROM cases "
                                             "WHERE guild_id=?", (guild_id,)).fetchone()
                    self.db.execute("INSERT INTO cases (guild_id, number, case_id, opened_at,"
                                    " category) VALUES (?, ?, ?, ?, ?)",
                                    (guild_id, top + 1, case_id, at.isoformat(), category))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        entry = self.by_case(guild_id, case_id)
        assert entry is not None
        return entry, new

    def _entry(self, row: tuple[Any, ...] | None) -> CaseEntry | None:
        if row is None:
            return None
        return CaseEntry(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7],
                         tuple((str(k), str(v)) for k, v in json.loads(row[8])), row[9])

    _COLUMNS = ("guild_id, number, case_id, opened_at, category, head_channel, head_message, "
                "thread_id, targets, decision_id")

    def by_case(self, guild_id: int, case_id: str) -> CaseEntry | None:
        rows = self._rows(f"SELECT {self._COLUMNS} FROM cases WHERE guild_id=? AND case_id=?",
                          (guild_id, case_id))
        return self._entry(rows[0] if rows else None)

    def get(self, guild_id: int, number: int) -> CaseEntry | None:
        if not (0 < guild_id <= MAX_ID and 0 < number <= MAX_ID):
            return None
        rows = self._rows(f"SELECT {self._COLUMNS} FROM cases WHERE guild_id=? AND number=?",
                          (guild_id, number))
        return self._entry(rows[0] if rows else None)

    def open_cases_of(self, guild_id: int, member_id: int) -> list[CaseEntry]:
        """This server's cases naming the member (as an author or a reported member),
        decided or not (the engine says which are still open)."""
        needle = json.dumps(["user", str(member_id)])
        rows = self._rows(f"SELECT {self._COLUMNS} FROM cases WHERE guild_id=? AND "
                          "instr(targets, ?) > 0", (guild_id, needle))
        return [e for r in rows if (e := self._entry(r)) is not None]

    def logged_at(self, guild_id: int, number: int, channel: int, message: int | None,
                  thread: int | None) -> None:
        self._write("UPDATE cases SET head_channel=?, head_message=?, thread_id=? WHERE "
                    "guild_id=? AND number=?", (channel, message, thread, guild_id, number))

    def moved(self, guild_id: int, number: int, case_id: str) -> None:
        """The engine merged the case into `case_id`: the number now stands for that one
        (the merged case takes nothing more in)."""
        self._write("UPDATE cases SET case_id=? WHERE guild_id=? AND number=?",
                    (case_id, guild_id, number))

    def decided(self, guild_id: int, number: int, decision_id: str) -> None:
        self._write("UPDATE cases SET decision_id=? WHERE guild_id=? AND number=?",
                    (decision_id, guild_id, number))

    def add_targets(self, guild_id: int, number: int, targets: list[tuple[str, str]]) -> None:
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                (known,) = self.db.execute("SELECT targets FROM cases WHERE guild_id=? AND "
                                           "number=?", (guild_id, number)).fetchone()
                have = [tuple(t) for t in json.loads(known)]
                # Bounded: a raid by one account must not grow one row without end.
                merged = list(dict.fromkeys([*have, *targets]))[:MAX_TARGETS]
                self.db.execute("UPDATE cases SET targets=? WHERE guild_id=? AND number=?",
                                (json.dumps(merged), guild_id, number))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    # --- actions, notes, warnings, appeals -------------------------------------------------

    def acted(self, guild_id: int, number: int | None, kind: str, at: datetime, by: str, *,
              channel_id: int | None = None, message_id: int | None = None,
              member_id: int | None = None, role_id: int | None = None,
              decision_id: str | None = None) -> int:
        """`decision_id`: the engine's decision the action carries out (what an appeal of
        it contests)."""
        cur = self._write("INSERT INTO actions (guild_id, number, kind, channel_id, message_id,"
                          " member_id, role_id, by, at, decision_id) VALUES (?, ?, ?, ?, ?, ?,"
                          " ?, ?, ?, ?)", (guild_id, number, kind, channel_id, message_id,
                                           member_id, role_id, by, at.isoformat(),
                                           decision_id))
        return int(cur.lastrowid or 0)

    def acted_on(self, guild_id: int, member_id: int, kind: str | None = None
                 ) -> list[ActionEntry]:
        """The actions on a member in this server, any case (and none: a wave's ban)."""
        return [ActionEntry(*r) for r in self._rows(
            "SELECT id, guild_id, number, kind, channel_id, message_id, member_id, role_id, "
            "by, at, undone_at, decision_id FROM actions WHERE guild_id=? AND member_id=? "
            "AND (? IS NULL OR kind=?) ORDER BY id", (guild_id, member_id, kind, kind))]

    def actions(self, guild_id: int, number: int) -> list[ActionEntry]:
        return [ActionEntry(*r) for r in self._rows(
            "SELECT id, guild_id, number, kind, channel_id, message_id, member_id, role_id, "
            "by, at, undone_at, decision_id FROM actions WHERE guild_id=? AND number=? "
            "ORDER BY id", (guild_id, number))]

    def undone(self, action_id: int, at: datetime, by: str) -> None:
        self._write("UPDATE actions SET undone_at=?, undone_by=? WHERE id=? AND undone_at IS "
                    "NULL", (at.isoformat(), by, action_id))

    def note(self, guild_id: int, number: int, author_id: int, at: datetime, text: str,
             kind: str = "note") -> None:
        """Added to the case's record; nothing is ever overwritten or removed."""
        self._write("INSERT INTO notes (guild_id, number, author_id, at, kind, text) VALUES "
                    "(?, ?, ?, ?, ?, ?)", (guild_id, number, author_id, at.isoformat(), kind,
                                           text))

    def notes(self, guild_id: int, number: int) -> list[Note]:
        return [Note(*r) for r in self._rows(
            "SELECT author_id, at, kind, text FROM notes WHERE guild_id=? AND number=? "
            "ORDER BY id", (guild_id, number))]

    def warn(self, guild_id: int, member_id: int, by: int, at: datetime, reason: str,
             number: int | None) -> int:
        self._write("INSERT INTO warnings (guild_id, member_id, by, at, reason, number) "
                    "VALUES (?, ?, ?, ?, ?, ?)", (guild_id, member_id, by, at.isoformat(),
                                                  reason, number))
        (n,) = self._rows("SELECT COUNT(*) FROM warnings WHERE guild_id=? AND member_id=?",
                          (guild_id, member_id))[0]
        return int(n)

    def appealed(self, guild_id: int, number: int, member_id: int) -> bool:
        return bool(self._rows("SELECT 1 FROM appeals WHERE guild_id=? AND number=? AND "
                               "member_id=?", (guild_id, number, member_id)))

    def appeal_failed(self, appeal_id: str) -> None:
        """The engine refused it: the member may try again."""
        self._write("DELETE FROM appeals WHERE id=?", (appeal_id,))

    def appeals_since(self, member_id: int, since: datetime) -> int:
        (n,) = self._rows("SELECT COUNT(*) FROM appeals WHERE member_id=? AND at>=?",
                          (member_id, since.isoformat()))[0]
        return int(n)

    def appeal(self, appeal_id: str, guild_id: int, number: int, member_id: int,
               at: datetime) -> bool:
        """Recorded once (False: this appeal, or one on this case by this member, exists;
        the database's constraint decides between two at the same time)."""
        try:
            self._write("INSERT INTO appeals (id, guild_id, number, member_id, at) VALUES "
                        "(?, ?, ?, ?, ?)", (appeal_id, guild_id, number, member_id,
                                            at.isoformat()))
        except sqlite3.IntegrityError:
            return False
        return True

    # --- waves ------------------------------------------------------------------------------

    def wave(self, guild_id: int, at: datetime, until: datetime, paused: bool,
             accounts: tuple[int, ...]) -> int:
        cur = self._write("INSERT INTO waves (guild_id, at, until, paused, accounts) VALUES "
                          "(?, ?, ?, ?, ?)", (guild_id, at.isoformat(), until.isoformat(),
                                              int(paused), json.dumps(list(accounts))))
        return int(cur.lastrowid or 0)

    def wave_grew(self, wave_id: int, until: datetime, accounts: tuple[int, ...]) -> None:
        self._write("UPDATE waves SET until=?, accounts=? WHERE id=?",
                    (until.isoformat(), json.dumps(list(accounts)), wave_id))

    def wave_of(self, guild_id: int, wave_id: int) -> Wave | None:
        if not (0 < guild_id <= MAX_ID and 0 < wave_id <= MAX_ID):
            return None
        rows = self._rows("SELECT id, guild_id, at, until, paused, accounts, lifted_at, "
                          "banned_at FROM waves WHERE guild_id=? AND id=?",
                          (guild_id, wave_id))
        if not rows:
            return None
        r = rows[0]
        return Wave(r[0], r[1], r[2], r[3], bool(r[4]),
                    tuple(int(a) for a in json.loads(r[5])), r[6], r[7])

    def latest_wave(self, guild_id: int) -> int | None:
        rows = self._rows("SELECT MAX(id) FROM waves WHERE guild_id=?", (guild_id,))
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    def wave_done(self, wave_id: int, what: str, at: datetime, by: str) -> bool:
        """`what`: 'lifted' or 'banned'; False if it was already done (a second click)."""
        column = {"lifted": "lifted", "banned": "banned"}[what]
        cur = self._write(f"UPDATE waves SET {column}_at=?, {column}_by=? WHERE id=? AND "
                          f"{column}_at IS NULL", (at.isoformat(), by, wave_id))
        return cur.rowcount == 1

    # --- the shared watch list (opt-in) ----------------------------------------------------

    def list_offender(self, kind: str, value: str, guild_id: int, number: int,
                      category: str | None, at: datetime, evidence: str) -> None:
        """`kind`: 'user' (a confirmed offender's id) or 'sha256' (a confirmed file)."""
        self._write("INSERT OR IGNORE INTO watch (kind, value, guild_id, number, category, "
                    "at, evidence) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (kind, value, guild_id, number, category, at.isoformat(), evidence))

    def unlist(self, guild_id: int, number: int) -> None:
        self._write("DELETE FROM watch WHERE guild_id=? AND number=?", (guild_id, number))

    def listed(self, kind: str, value: str, sharing: frozenset[int], but: int
               ) -> list[Listed]:
        """Entries for `value` from the servers in `sharing`, other than `but`."""
        rows = self._rows("SELECT kind, value, guild_id, number, category, at, evidence FROM "
                          "watch WHERE kind=? AND value=? AND guild_id<>? ORDER BY at",
                          (kind, value, but))
        return [Listed(*r) for r in rows if r[2] in sharing]
