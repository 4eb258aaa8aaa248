"""What casework knows about each target: where a message lives, who wrote it, how big a server is.

Fed with every event, before detection. Used to group items into cases (same content, account,
server), to measure reach, to preserve evidence with its context, and to tell when something
is gone. Kept compact: one small record per message, bounded recent lists per channel and user.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from veilleur.events import (
    ChannelDeleted,
    Event,
    GuildCreated,
    GuildDeleted,
    InviteCreated,
    MemberJoined,
    MemberLeft,
    MessageDeleted,
    MessagePosted,
)
from veilleur.state import Directory
from veilleur.taxonomy import Target, TargetKind


@dataclass(slots=True)
class MessageRecord:
    id: str
    ts: datetime
    channel_id: str
    guild_id: str | None
    author_id: str
    content: str
    attachments: tuple[str, ...]
    recipients: tuple[str, ...] = ()
    deleted_at: datetime | None = None
    deleted_by: str | None = None


@dataclass(slots=True)
class AttachmentRecord:
    id: str
    message_id: str
    filename: str | None
    path: str | None
    size: int | None
    md5: str | None
    sha256: str | None
    pdq: str | None


class ContentView(ABC):
    """What casework asks about targets. Subclasses answer the primitive questions (a message,
    an attachment, a server's members, channels and recent messages); the derived ones
    (where a target lives, what belongs in its case) are answered here, once."""

    directory: Directory

    @abstractmethod
    def message(self, message_id: str) -> MessageRecord | None:
        ...

    @abstractmethod
    def attachment(self, attachment_id: str) -> AttachmentRecord | None:
        ...

    @abstractmethod
    def member_count(self, guild_id: str) -> int:
        ...

    @abstractmethod
    def invite_guild(self, code: str) -> str | None:
        ...

    @abstractmethod
    def channels_of(self, guild_id: str) -> list[str]:
        ...

    @abstractmethod
    def guild_deletion(self, guild_id: str) -> tuple[datetime, str] | None:
        ...

    @abstractmethod
    def recent_in_channel(self, channel_id: str, n: int, before: str | None = None
                          ) -> list[MessageRecord]:
        """The last `n` messages of the channel (before `before` if given), oldest first."""

    @abstractmethod
    def recent_by_user(self, user_id: str, n: int) -> list[MessageRecord]:
        ...

    def after_in_channel(self, channel_id: str, after: str, n: int) -> list[MessageRecord]:
        """The first `n` messages of the channel after `after` (the replies to it), oldest
        first, however many came since."""
        latest = self.recent_in_channel(channel_id, 1000)
        ids = [m.id for m in latest]
        return latest[ids.index(after) + 1:][:n] if after in ids else []

    @abstractmethod
    def apply(self, event: Event) -> None:
        """Learn from an event."""

    def recent_in_guild(self, guild_id: str, n: int) -> list[MessageRecord]:
        found: list[MessageRecord] = []
        for ch in self.channels_of(guild_id):
            found.extend(self.recent_in_channel(ch, n))
        found.sort(key=lambda m: m.ts)
        return found[-n:] if n else []

    # --- where things live -------------------------------------------------------------

    def knows(self, target: Target) -> bool:
        """Whether the target was ever seen here."""
        kind, tid, d = target.kind, target.id, self.directory
        if kind is TargetKind.MESSAGE:
            return self.message(tid) is not None
        if kind is TargetKind.ATTACHMENT:
            return self.attachment(tid) is not None
        if kind is TargetKind.INVITE:
            return self.invite_guild(tid) is not None
        found = {TargetKind.GUILD: d.guild, TargetKind.CHANNEL: d.channel,
                 TargetKind.USER: d.user}[kind](tid)
        return found is not None

    def guild_of(self, target: Target) -> str | None:
        kind, tid = target.kind, target.id
        if kind is TargetKind.GUILD:
            return tid
        if kind is TargetKind.ATTACHMENT:
            att = self.attachment(tid)
            return self.guild_of(Target(TargetKind.MESSAGE, att.message_id)) if att else None
        if kind is TargetKind.MESSAGE:
            msg = self.message(tid)
            return msg.guild_id if msg else None
        if kind is TargetKind.CHANNEL:
            ch = self.directory.channel(tid)
            return ch.guild_id if ch else None
        if kind is TargetKind.INVITE:
            return self.invite_guild(tid)
        return None

    def message_of(self, target: Target) -> MessageRecord | None:
        if target.kind is TargetKind.MESSAGE:
            return self.message(target.id)
        if target.kind is TargetKind.ATTACHMENT:
            att = self.attachment(target.id)
            return self.message(att.message_id) if att else None
        return None

    def author_of(self, target: Target) -> str | None:
        msg = self.message_of(target)
        if msg is not None:
            return msg.author_id
        if target.kind is TargetKind.GUILD:
            g = self.directory.guild(target.id)
            return g.owner_id if g else None
        return None

    def grouping_keys(self, target: Target) -> set[str]:
        """Keys shared by targets that belong in one case: content, account, server, DM."""
        keys = {f"{target.kind.value}:{target.id}"}
        msg = self.message_of(target)
        if msg is not None:
            keys.add(f"message:{msg.id}")
            keys.add(f"user:{msg.author_id}")
            keys.add(f"guild:{msg.guild_id}" if msg.guild_id else f"dm:{msg.channel_id}")
        else:
            guild = self.guild_of(target)
            if guild is not None:
                keys.add(f"guild:{guild}")
            elif target.kind is TargetKind.CHANNEL:
                keys.add(f"dm:{target.id}")
        return keys

    def related_targets(self, target: Target, *, media: int = 20) -> list[Target]:
        """What a reviewer must also decide on: a message's files, author and server; a
        server's owner; the latest files of the server (or of the channel reported) and who
        posted them (media found where abuse is traded gets reviewed, and once confirmed, its
        re-uploads are stopped)."""
        out: list[Target] = []
        msg = self.message_of(target)
        if target.kind is TargetKind.ATTACHMENT and msg is not None:
            out.append(Target(TargetKind.MESSAGE, msg.id))
        if msg is not None:
            out.extend(Target(TargetKind.ATTACHMENT, a) for a in msg.attachments)
            out.append(Target(TargetKind.USER, msg.author_id))
        guild = self.guild_of(target)
        if guild is not None:
            out.append(Target(TargetKind.GUILD, guild))
            owner = self.author_of(Target(TargetKind.GUILD, guild))
            if owner:
                out.append(Target(TargetKind.USER, owner))
        if target.kind is TargetKind.CHANNEL:
            recent = self.recent_in_channel(target.id, 4 * media)
        elif guild is not None:
            recent = self.recent_in_guild(guild, 4 * media)
        else:
            recent = []
        posted = [(m, a) for m in recent for a in m.attachments][-media:]
        for m, a in posted:
            out.append(Target(TargetKind.ATTACHMENT, a))
            out.append(Target(TargetKind.USER, m.author_id))
        return [t for t in dict.fromkeys(out) if t != target]

    def containers(self, target: Target) -> list[Target]:
        """What holds the target: an attachment's message, a message's channel, the server."""
        out = []
        msg = self.message_of(target)
        if target.kind is TargetKind.ATTACHMENT and msg is not None:
            out.append(Target(TargetKind.MESSAGE, msg.id))
        if msg is not None:
            out.append(Target(TargetKind.CHANNEL, msg.channel_id))
        guild = self.guild_of(target)
        if guild is not None and target.kind is not TargetKind.GUILD:
            out.append(Target(TargetKind.GUILD, guild))
        return out

    def reach(self, target: Target) -> int:
        guild = self.guild_of(target)
        return self.member_count(guild) if guild else 0

    def gone(self, target: Target) -> tuple[datetime, str] | None:
        """When and by whom the target disappeared without us (an owner or author deleting it)."""
        guild = self.guild_of(target)
        if guild is not None and (deleted := self.guild_deletion(guild)) is not None:
            return deleted
        msg = self.message_of(target)
        if msg is not None and msg.deleted_at is not None:
            return msg.deleted_at, msg.deleted_by or "author"
        return None


class ContentIndex(ContentView):
    """The in-memory view, fed with every event."""

    def __init__(self, directory: Directory, *, recent_per_channel: int = 200,
                 recent_per_user: int = 50) -> None:
        self.directory = directory
        self.messages: dict[str, MessageRecord] = {}
        self.attachments: dict[str, AttachmentRecord] = {}
        self.members: dict[str, int] = {}
        self.invites: dict[str, str] = {}
        self.guild_deleted: dict[str, tuple[datetime, str]] = {}
        self.guild_channels: dict[str, dict[str, None]] = {}
        self._recent_channel: dict[str, deque[str]] = {}
        self._recent_user: dict[str, deque[str]] = {}
        self._per_channel = recent_per_channel
        self._per_user = recent_per_user

    def apply(self, event: Event) -> None:
        if isinstance(event, MessagePosted):
            m = event.message
            known = self.messages.get(m.id)
            if known is not None and m.edited_at is None:
                return  # a repeat of the same message: the first version stays (the store's rule)
            self.messages[m.id] = MessageRecord(
                m.id, event.ts, m.channel_id, m.guild_id, m.author_id, m.content,
                tuple(a.id for a in m.attachments), m.recipient_ids)
            for a in m.attachments:
                pdq = a.media.pdq.hex if a.media is not None and a.media.pdq is not None else None
                self.attachments[a.id] = AttachmentRecord(
                    a.id, m.id, a.filename, a.path, a.size, a.md5, a.sha256, pdq)
            if m.guild_id is not None:
                self.guild_channels.setdefault(m.guild_id, {})[m.channel_id] = None
            self._remember(self._recent_channel, m.channel_id, m.id, self._per_channel)
            self._remember(self._recent_user, m.author_id, m.id, self._per_user)
        elif isinstance(event, MessageDeleted):
            rec = self.messages.get(event.message_id)
            if rec is not None and rec.deleted_at is None:
                rec.deleted_at, rec.deleted_by = event.ts, event.by
        elif isinstance(event, ChannelDeleted):
            # Rare (a channel, not a message): a pass over what is held is affordable.
            for rec in self.messages.values():
                if rec.channel_id == event.channel_id and rec.deleted_at is None \
                        and rec.ts <= event.ts:
                    rec.deleted_at, rec.deleted_by = event.ts, event.by
        elif isinstance(event, MemberJoined):
            self.members[event.guild_id] = self.members.get(event.guild_id, 0) + 1
        elif isinstance(event, MemberLeft):
            self.members[event.guild_id] = max(0, self.members.get(event.guild_id, 0) - 1)
        elif isinstance(event, InviteCreated):
            self.invites[event.code] = event.guild_id
        elif isinstance(event, GuildCreated):
            self.members.setdefault(event.guild.id, 1 if event.guild.owner_id else 0)
        elif isinstance(event, GuildDeleted):
            self.guild_deleted.setdefault(event.guild_id, (event.ts, event.by))
        elif event.type == "channel_created":
            ch = event.channel
            if ch.guild_id is not None:
                self.guild_channels.setdefault(ch.guild_id, {})[ch.id] = None

    @staticmethod
    def _remember(table: dict[str, deque[str]], key: str, message_id: str, n: int) -> None:
        q = table.get(key)
        if q is None:
            q = table[key] = deque(maxlen=max(n, 1))
        q.append(message_id)

    def message(self, message_id: str) -> MessageRecord | None:
        return self.messages.get(message_id)

    def attachment(self, attachment_id: str) -> AttachmentRecord | None:
        return self.attachments.get(attachment_id)

    def member_count(self, guild_id: str) -> int:
        return self.members.get(guild_id, 0)

    def invite_guild(self, code: str) -> str | None:
        return self.invites.get(code)

    def channels_of(self, guild_id: str) -> list[str]:
        return list(self.guild_channels.get(guild_id, ()))

    def guild_deletion(self, guild_id: str) -> tuple[datetime, str] | None:
        return self.guild_deleted.get(guild_id)

    def recent_in_channel(self, channel_id: str, n: int, before: str | None = None
                          ) -> list[MessageRecord]:
        ids = list(self._recent_channel.get(channel_id, ()))
        if before is not None and before in ids:
            ids = ids[:ids.index(before)]
        return [self.messages[i] for i in ids[-n:] if i in self.messages] if n else []

    def after_in_channel(self, channel_id: str, after: str, n: int) -> list[MessageRecord]:
        ids = list(self._recent_channel.get(channel_id, ()))
        if not n or after not in ids:
            return []
        start = ids.index(after) + 1
        return [self.messages[i] for i in ids[start:start + n] if i in self.messages]

    def recent_by_user(self, user_id: str, n: int) -> list[MessageRecord]:
        ids = list(self._recent_user.get(user_id, ()))[-n:] if n else []
        return [self.messages[i] for i in ids if i in self.messages]
