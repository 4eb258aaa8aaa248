"""What the store holds about platform content, seen through casework's `ContentView`.

A process that picks up stored casework (the `review` commands; later the service) reads
messages, attachments, servers and names from the tables the store writer fills, instead of
holding everything in memory. Lookups are small indexed queries, cached for the process.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from veilleur.cases.content import AttachmentRecord, ContentIndex, ContentView, MessageRecord
from veilleur.events import AgeBand, Channel, ChannelKind, Event, Guild, User
from veilleur.state import Directory, MemoryState
from veilleur.store.db import as_utc
from veilleur.store.models import (
    AttachmentRow,
    ChannelRow,
    EventRow,
    GuildRow,
    MediaHashRow,
    MessageRow,
    UserRow,
)


class StoredState:
    """`KeyedState` over the guild, channel and user tables. What is put is kept for the
    process (the store writer is what writes the tables)."""

    def __init__(self, db: Engine) -> None:
        self.db = db
        self._cache: dict[tuple[str, str], Any] = {}

    def get(self, namespace: str, key: str) -> Any | None:
        if (namespace, key) in self._cache:
            return self._cache[namespace, key]
        value: Any = None
        with Session(self.db) as s:
            if namespace == "guild" and (g := s.get(GuildRow, key)) is not None:
                value = Guild(g.id, g.name, g.owner_id, g.description)
            elif namespace == "channel" and (c := s.get(ChannelRow, key)) is not None:
                try:
                    kind = ChannelKind(c.kind)
                except ValueError:
                    kind = ChannelKind.OTHER
                value = Channel(c.id, c.guild_id, c.name, c.topic, kind, c.parent_id)
            elif namespace == "user" and (u := s.get(UserRow, key)) is not None:
                value = User(u.id, u.name, u.display_name, u.is_bot, as_utc(u.created_at),
                             AgeBand(u.age_band) if u.age_band else None)
        self._cache[namespace, key] = value
        return value

    def put(self, namespace: str, key: str, value: Any) -> None:
        self._cache[namespace, key] = value


class StoredContent(ContentView):
    def __init__(self, db: Engine, directory: Directory | None = None) -> None:
        self.db = db
        self.directory = directory or Directory(StoredState(db))

    def apply(self, event: Event) -> None:
        pass  # the store writer records events; this view reads what it wrote

    def _record(self, s: Session, row: MessageRow) -> MessageRecord:
        atts = s.execute(select(AttachmentRow.id).where(AttachmentRow.message_id == row.id)
                         .order_by(AttachmentRow.id)).scalars().all()
        ts = as_utc(row.ts)
        assert ts is not None
        return MessageRecord(row.id, ts, row.channel_id, row.guild_id, row.author_id,
                             row.content, tuple(atts), (), as_utc(row.deleted_at),
                             row.deleted_by)

    def message(self, message_id: str) -> MessageRecord | None:
        with Session(self.db) as s:
            row = s.get(MessageRow, message_id)
            return self._record(s, row) if row is not None else None

    def attachment(self, attachment_id: str) -> AttachmentRecord | None:
        with Session(self.db) as s:
            a = s.get(AttachmentRow, attachment_id)
            if a is None:
                return None
            media = s.get(MediaHashRow, attachment_id)
            return AttachmentRecord(a.id, a.message_id, a.filename, a.local_path, a.size,
                                    a.md5, a.sha256, media.pdq if media else None)

    def _count(self, kind: str, guild_id: str) -> int:
        with Session(self.db) as s:
            return int(s.execute(select(func.count()).select_from(EventRow).where(
                EventRow.type == kind,
                EventRow.payload["guild_id"].as_string() == guild_id)).scalar_one())

    def member_count(self, guild_id: str) -> int:
        return max(0, self._count("member_joined", guild_id)
                   - self._count("member_left", guild_id))

    def invite_guild(self, code: str) -> str | None:
        with Session(self.db) as s:
            payload = s.execute(select(EventRow.payload).where(
                EventRow.type == "invite_created",
                EventRow.payload["code"].as_string() == code).limit(1)).scalar()
        return None if payload is None else str(payload["guild_id"])

    def channels_of(self, guild_id: str) -> list[str]:
        with Session(self.db) as s:
            named = s.execute(select(ChannelRow.id).where(ChannelRow.guild_id == guild_id)
                              ).scalars().all()
            posted = s.execute(select(MessageRow.channel_id).distinct()
                               .where(MessageRow.guild_id == guild_id)).scalars().all()
        return list(dict.fromkeys([*named, *posted]))

    def guild_deletion(self, guild_id: str) -> tuple[datetime, str] | None:
        with Session(self.db) as s:
            g = s.get(GuildRow, guild_id)
        at = as_utc(g.deleted_at) if g is not None else None
        return None if g is None or at is None else (at, g.deleted_by or "owner")

    def recent_in_channel(self, channel_id: str, n: int, before: str | None = None
                          ) -> list[MessageRecord]:
        if not n:
            return []
        with Session(self.db) as s:
            q = select(MessageRow).where(MessageRow.channel_id == channel_id)
            if before is not None and (b := s.get(MessageRow, before)) is not None:
                q = q.where(MessageRow.ts < b.ts)
            rows = s.execute(q.order_by(MessageRow.ts.desc()).limit(n)).scalars().all()
            return [self._record(s, r) for r in reversed(rows)]

    def after_in_channel(self, channel_id: str, after: str, n: int) -> list[MessageRecord]:
        if not n:
            return []
        with Session(self.db) as s:
            a = s.get(MessageRow, after)
            if a is None:
                return []
            rows = s.execute(select(MessageRow).where(
                MessageRow.channel_id == channel_id, MessageRow.ts > a.ts
            ).order_by(MessageRow.ts).limit(n)).scalars().all()
            return [self._record(s, r) for r in rows]

    def recent_by_user(self, user_id: str, n: int) -> list[MessageRecord]:
        if not n:
            return []
        with Session(self.db) as s:
            rows = s.execute(select(MessageRow).where(MessageRow.author_id == user_id)
                             .order_by(MessageRow.ts.desc()).limit(n)).scalars().all()
            return [self._record(s, r) for r in reversed(rows)]


class LayeredState:
    """What this process learnt first, then the store (for a scan adding to a database)."""

    def __init__(self, db: Engine) -> None:
        self.memory = MemoryState()
        self.stored = StoredState(db)
        # The store only changes through this process, whose puts are in memory: what it
        # answered (a miss too) stays true, so it is asked once per key.
        self._asked: dict[tuple[str, str], Any] = {}

    def get(self, namespace: str, key: str) -> Any | None:
        found = self.memory.get(namespace, key)
        if found is not None:
            return found
        k = (namespace, key)
        if k in self._asked:
            return self._asked[k]
        if len(self._asked) > 200_000:
            self._asked.clear()
        value = self._asked[k] = self.stored.get(namespace, key)
        return value

    def put(self, namespace: str, key: str, value: Any) -> None:
        self.memory.put(namespace, key, value)


class LayeredContent(ContentView):
    """What this process saw (in memory, complete for it), then what the store holds from
    earlier runs. Recent messages come from memory when it has any for that channel or
    account: the store lags behind the writer's buffer."""

    def __init__(self, memory: ContentIndex, stored: StoredContent) -> None:
        self.memory, self.stored = memory, stored
        self.directory = memory.directory
        # What the store held of a server when first asked: what came later is in memory
        # (until `reset`), so the store is asked once per server, not at every finding.
        self._members: dict[str, int] = {}
        self._channels: dict[str, list[str]] = {}
        self._deleted: dict[str, tuple[datetime, str] | None] = {}

    def reset(self, memory: ContentIndex) -> None:
        """A fresh memory layer: the store now holds what the old one had."""
        self.memory = memory
        self._members.clear()
        self._channels.clear()
        self._deleted.clear()

    def apply(self, event: Event) -> None:
        self.memory.apply(event)

    def message(self, message_id: str) -> MessageRecord | None:
        return self.memory.message(message_id) or self.stored.message(message_id)

    def attachment(self, attachment_id: str) -> AttachmentRecord | None:
        return self.memory.attachment(attachment_id) or self.stored.attachment(attachment_id)

    def member_count(self, guild_id: str) -> int:
        # The store holds this run's joins too once flushed: the larger count is the truth.
        stored = self._members.get(guild_id)
        if stored is None:
            if len(self._members) > 100_000:
                self._members.clear()
            stored = self._members[guild_id] = self.stored.member_count(guild_id)
        return max(self.memory.member_count(guild_id), stored)

    def invite_guild(self, code: str) -> str | None:
        return self.memory.invite_guild(code) or self.stored.invite_guild(code)

    def channels_of(self, guild_id: str) -> list[str]:
        stored = self._channels.get(guild_id)
        if stored is None:
            if len(self._channels) > 100_000:
                self._channels.clear()
            stored = self._channels[guild_id] = self.stored.channels_of(guild_id)
        return list(dict.fromkeys([*self.memory.channels_of(guild_id), *stored]))

    def guild_deletion(self, guild_id: str) -> tuple[datetime, str] | None:
        found = self.memory.guild_deletion(guild_id)
        if found is not None:
            return found
        if guild_id not in self._deleted:
            if len(self._deleted) > 100_000:
                self._deleted.clear()
            self._deleted[guild_id] = self.stored.guild_deletion(guild_id)
        return self._deleted[guild_id]

    def recent_in_channel(self, channel_id: str, n: int, before: str | None = None
                          ) -> list[MessageRecord]:
        return (self.memory.recent_in_channel(channel_id, n, before)
                or self.stored.recent_in_channel(channel_id, n, before))

    def after_in_channel(self, channel_id: str, after: str, n: int) -> list[MessageRecord]:
        return (self.memory.after_in_channel(channel_id, after, n)
                or self.stored.after_in_channel(channel_id, after, n))

    def recent_by_user(self, user_id: str, n: int) -> list[MessageRecord]:
        return self.memory.recent_by_user(user_id, n) or self.stored.recent_by_user(user_id, n)
