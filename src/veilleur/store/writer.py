"""Batched, idempotent writes: the same input written twice leaves the same rows.

Entities (guilds, channels, users) take their newest values, without blanking what a partial
update or an older export leaves out; messages keep their first stored version (evidence is
not overwritten); attachments gain digests and local paths when a later export carries the
media; other events are stored once each, keyed by their content.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, update
from sqlalchemy.dialects import postgresql, sqlite

from veilleur.decide.policy import Finding
from veilleur.detect.base import Signal
from veilleur.detect.media.detector import HashMatchDetector
from veilleur.events import ChannelCreated as ChannelEvent
from veilleur.events import (
    ChannelDeleted,
    Event,
    GuildCreated,
    GuildDeleted,
    GuildUpdated,
    MessageDeleted,
    MessagePosted,
    User,
    UserSeen,
)
from veilleur.serialize import canonical_key, to_plain
from veilleur.store.models import (
    AttachmentRow,
    ChannelRow,
    EventRow,
    FindingRow,
    GuildRow,
    MediaHashRow,
    MediaMatchRow,
    MessageRow,
    UserRow,
)

_GUILDS: Table = GuildRow.__table__  # type: ignore[assignment]
_CHANNELS: Table = ChannelRow.__table__  # type: ignore[assignment]
_USERS: Table = UserRow.__table__  # type: ignore[assignment]
_MESSAGES: Table = MessageRow.__table__  # type: ignore[assignment]
_ATTACHMENTS: Table = AttachmentRow.__table__  # type: ignore[assignment]
_EVENTS: Table = EventRow.__table__  # type: ignore[assignment]
_FINDINGS: Table = FindingRow.__table__  # type: ignore[assignment]
_MEDIA: Table = MediaHashRow.__table__  # type: ignore[assignment]
_MATCHES: Table = MediaMatchRow.__table__  # type: ignore[assignment]

# How each table takes a row it already has. "merge": each column takes the newest value unless
# that value is null (entities: a partial update or an older export blanks nothing). "first":
# the stored row stays (messages are evidence; events are stored once).
_MODES: list[tuple[Table, tuple[str, ...], str]] = [
    (_GUILDS, ("id",), "merge"),
    (_CHANNELS, ("id",), "merge"),
    (_USERS, ("id",), "merge"),
    (_MESSAGES, ("id",), "edits"),
    (_ATTACHMENTS, ("id",), "merge"),
    (_MEDIA, ("attachment_id",), "merge"),
    (_EVENTS, ("dedup_key",), "first"),
    (_MATCHES, ("attachment_id", "entry_id"), "first"),
]
_MERGED = {t.name for t, _, mode in _MODES if mode == "merge"}
_EDITED = {t.name for t, _, mode in _MODES if mode == "edits"}
"""Messages: the first version is kept, unless an edit comes (a newer `edited_at`): its
text replaces the stored one, so what a case preserves and a reviewer reads is what the
message says now (an innocent message edited into a lure)."""


def _newer_edit(row: dict[str, Any], old: dict[str, Any]) -> bool:
    return row.get("edited_at") is not None and (
        old.get("edited_at") is None or row["edited_at"] > old["edited_at"])


def _nothing() -> None:
    pass


class StoreWriter:
    def __init__(self, engine: Engine, *, batch_size: int = 5000) -> None:
        self.engine = engine
        self.batch_size = batch_size
        self._rows: dict[str, dict[Any, dict[str, Any]]] = {t.name: {} for t, _, _ in _MODES}
        self._deletions: list[tuple[Table, str, datetime, str]] = []
        self._emptied: list[tuple[str, datetime, str]] = []
        """Channels deleted: every message stored in them is marked gone."""
        self._pending = 0

    def add(self, event: Event) -> None:
        if isinstance(event, MessagePosted):
            self._message(event)
        elif isinstance(event, GuildCreated | GuildUpdated):
            g = event.guild
            self._put(_GUILDS, g.id, {"id": g.id, "name": g.name, "description": g.description,
                                      "owner_id": g.owner_id})
        elif isinstance(event, ChannelEvent):
            c = event.channel
            self._put(_CHANNELS, c.id, {"id": c.id, "guild_id": c.guild_id, "name": c.name,
                                        "topic": c.topic, "kind": c.kind.value,
                                        "parent_id": c.parent_id})
        elif isinstance(event, UserSeen):
            self._user(event.user)
        else:
            if isinstance(event, MessageDeleted):
                self._deletions.append((_MESSAGES, event.message_id, event.ts, event.by))
            elif isinstance(event, GuildDeleted):
                self._deletions.append((_GUILDS, event.guild_id, event.ts, event.by))
            elif isinstance(event, ChannelDeleted):
                self._emptied.append((event.channel_id, event.ts, event.by))
            key = canonical_key(event)
            self._put(_EVENTS, key, {"dedup_key": key, "type": event.type, "ts": event.ts,
                                     "payload": to_plain(event)})
        self._pending += 1
        if self._pending >= self.batch_size:
            self.flush()

    def _message(self, event: MessagePosted) -> None:
        m = event.message
        self._put(_MESSAGES, m.id, {
            "id": m.id, "channel_id": m.channel_id, "guild_id": m.guild_id,
            "author_id": m.author_id, "ts": event.ts, "content": m.content, "kind": m.kind,
            "reply_to": m.reply_to, "edited_at": m.edited_at, "source": event.source,
        })
        for a in m.attachments:
            self._put(_ATTACHMENTS, a.id, {
                "id": a.id, "message_id": m.id, "filename": a.filename, "url": a.url,
                "local_path": a.path, "content_type": a.content_type, "size": a.size,
                "md5": a.md5, "sha256": a.sha256,
            })
            if a.media is not None:
                h = a.media
                self._put(_MEDIA, a.id, {
                    "attachment_id": a.id, "message_id": m.id, "channel_id": m.channel_id,
                    "guild_id": m.guild_id, "author_id": m.author_id, "filename": a.filename,
                    "kind": h.kind, "md5": h.md5, "sha256": h.sha256,
                    "pdq": h.pdq.hex if h.pdq else None,
                    "pdq_quality": h.pdq.quality if h.pdq else None,
                    "lookups": b"".join(h.lookups) or None,
                    "detail": {"labels": list(h.lookup_labels),
                               "frames": [{"t": f.t, "pdq": f.pdq.hex,
                                           "pdq_quality": f.pdq.quality} for f in h.frames]},
                    "error": h.error, "hashed_at": datetime.now(UTC),
                })
        if event.author is not None:
            self._user(event.author)

    def _user(self, u: User) -> None:
        self._put(_USERS, u.id, {
            "id": u.id, "name": u.name, "display_name": u.display_name, "is_bot": u.is_bot,
            "created_at": u.created_at, "age_band": u.age_band.value if u.age_band else None,
        })

    def _put(self, table: Table, key: Any, row: dict[str, Any]) -> None:
        rows = self._rows[table.name]
        old = rows.get(key)
        if old is None:
            rows[key] = row
        elif table.name in _MERGED:
            old.update((k, v) for k, v in row.items() if v is not None)
        elif table.name in _EDITED and _newer_edit(row, old):
            old.update(content=row["content"], edited_at=row["edited_at"])

    def flush(self) -> None:
        self.detach()()

    def detach(self) -> Callable[[], None]:
        """Take what is buffered and return the write of it: a service takes the rows under
        its lock and writes them after releasing it."""
        if not self._pending and not self._deletions and not self._emptied:
            return _nothing
        rows = {table.name: list(self._rows[table.name].values()) for table, _, _ in _MODES}
        deletions = list(self._deletions)
        emptied = list(self._emptied)
        for table, _, _ in _MODES:
            self._rows[table.name].clear()
        self._deletions.clear()
        self._emptied.clear()
        self._pending = 0

        def write() -> None:
            with self.engine.begin() as conn:
                for table, keys, mode in _MODES:
                    batch = rows[table.name]
                    if batch:
                        merged = tuple(c for c in batch[0] if c not in keys) \
                            if mode == "merge" else ()
                        if mode == "edits":
                            _upsert_edits(conn, table, batch, keys)
                        else:
                            _upsert(conn, table, batch, keys, (), merged)
                for table, row_id, ts, by in deletions:
                    conn.execute(
                        update(table)
                        .where(table.c.id == row_id, table.c.deleted_at.is_(None))
                        .values(deleted_at=ts, deleted_by=by)
                    )
                for channel_id, ts, by in emptied:
                    conn.execute(
                        update(_MESSAGES)
                        .where(_MESSAGES.c.channel_id == channel_id,
                               _MESSAGES.c.deleted_at.is_(None), _MESSAGES.c.ts <= ts)
                        .values(deleted_at=ts, deleted_by=by))

        return write

    def add_signals(self, signals: Iterable[Signal]) -> None:
        """Record bank matches as they are made (retroactive matching skips them later)."""
        for s in signals:
            entry = s.context.get("entry_id")
            if s.detector != HashMatchDetector.id or entry is None or int(entry) < 0:
                continue  # negative ids are banks read from a file for one run
            key = (s.target.id, int(entry))
            self._put(_MATCHES, key, {
                "attachment_id": s.target.id, "entry_id": int(entry),
                "signal_type": s.context.get("match") or "", "distance":
                int(s.context.get("distance") or 0), "via": "scan", "matched_at": datetime.now(UTC),
            })

    def save_findings(self, findings: Iterable[Finding], policy_version: str) -> None:
        save_findings(self.engine, findings, policy_version)


def save_findings(engine: Engine, findings: Iterable[Finding], policy_version: str) -> None:
    """Upsert findings by (target, category): a later run updates, never duplicates."""
    now = datetime.now(UTC)
    rows = [{
        "target_kind": f.target.kind.value, "target_id": f.target.id,
        "category": f.category.value, "score": f.score, "detectors": list(f.detectors),
        "evidence": f.evidence, "context": dict(f.context), "policy_version": policy_version,
        "first_seen": now, "last_seen": now,
    } for f in findings]
    if not rows:
        return
    with engine.begin() as conn:
        _upsert(conn, _FINDINGS, rows, ("target_kind", "target_id", "category"),
                ("score", "detectors", "evidence", "context", "policy_version", "last_seen"),
                ())


def _upsert_edits(conn: Connection, table: Table, rows: Sequence[dict[str, Any]],
                  keys: tuple[str, ...]) -> None:
    """Insert, or take an edit's text when it is newer than what is stored."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    newer = stmt.excluded.edited_at.is_not(None) & (
        table.c.edited_at.is_(None) | (stmt.excluded.edited_at > table.c.edited_at))
    conn.execute(stmt.on_conflict_do_update(
        index_elements=list(keys), set_={"content": stmt.excluded.content,
                                         "edited_at": stmt.excluded.edited_at},
        where=newer), list(rows))


def _upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: tuple[str, ...],
    replaced: tuple[str, ...],
    unless_null: tuple[str, ...],
) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    if replaced or unless_null:
        values = {c: stmt.excluded[c] for c in replaced}
        values |= {c: func.coalesce(stmt.excluded[c], table.c[c]) for c in unless_null}
        stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_=values)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
    conn.execute(stmt, list(rows))
