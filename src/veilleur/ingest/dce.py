"""DiscordChatExporter JSON (contracts §3, spec/discord_export.md), streamed.

Two passes over the file, both incremental: the first reads the small header (guild, channel,
exportedAt) and stops at the messages array; the second streams the messages one by one with
ijson's C backend. A 2 GB export is never held in memory. Whatever was read before a broken
point is kept: a truncated export still yields its intact messages, and the file is reported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import ijson

from veilleur.events import (
    MAX_ROLE_CHARS,
    MAX_ROLES,
    Channel,
    ChannelCreated,
    ChannelKind,
    Event,
    Guild,
    GuildCreated,
    GuildUpdated,
    Message,
    MessagePosted,
    User,
)
from veilleur.ingest import fields as F
from veilleur.ingest.media import MediaReader, report_media_errors
from veilleur.ingest.problems import ProblemLog

DM_GUILD_ID = "0"

_CHANNEL_KINDS = {
    "GuildTextChat": ChannelKind.TEXT,
    "DirectTextChat": ChannelKind.DM,
    "DirectGroupTextChat": ChannelKind.GROUP_DM,
    "GuildVoiceChat": ChannelKind.VOICE,
    "GuildStageVoice": ChannelKind.VOICE,
    "GuildCategory": ChannelKind.CATEGORY,
    "GuildNews": ChannelKind.NEWS,
    "GuildNewsThread": ChannelKind.THREAD,
    "GuildPublicThread": ChannelKind.THREAD,
    "GuildPrivateThread": ChannelKind.THREAD,
    "GuildForum": ChannelKind.FORUM,
    "GuildDirectory": ChannelKind.OTHER,
}
_HEADER_KEYS = ("guild", "channel", "exportedAt", "dateRange")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class NotAnExportError(ValueError):
    pass


class _Progress:
    """A read-only file wrapper that reports bytes consumed, for progress bars."""

    def __init__(self, f: BinaryIO, on_bytes: Callable[[int], None] | None) -> None:
        self._f = f
        self._on_bytes = on_bytes

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        if self._on_bytes is not None and data:
            self._on_bytes(len(data))
        return data


def read_dce(
    path: Path,
    problems: ProblemLog,
    media: MediaReader,
    on_bytes: Callable[[int], None] | None = None,
) -> Iterator[Event]:
    """Yield the events of one DCE export; every problem goes to `problems`, none is raised."""
    source = str(path)
    try:
        with path.open("rb") as f:
            header = _read_header(f)
            guild, channel, export_ts = _parse_header(header)
            f.seek(0)
            yield from _read_messages(path, f, guild, channel, export_ts, problems, media,
                                      on_bytes)
    except OSError as exc:
        problems.report(source, f"cannot read file: {exc.strerror or exc}", fatal=True)
    except NotAnExportError as exc:
        problems.report(source, f"not a DiscordChatExporter JSON export: {exc}", fatal=True)
    except F.FieldError as exc:
        problems.report(source, f"bad export header: {exc}", fatal=True)
    except ijson.IncompleteJSONError as exc:
        problems.report(source, "not valid JSON: the file ends before the document is complete "
                        f"(truncated?): {_json_error(exc)}", fatal=True)
    except ijson.JSONError as exc:
        problems.report(source, f"not valid JSON: {_json_error(exc)}", fatal=True)


def _read_header(f: BinaryIO) -> dict[str, Any]:
    header: dict[str, Any] = {}
    builder: Any = None
    building: str | None = None
    depth = 0
    saw_messages = False
    for prefix, event, value in ijson.parse(f):
        if building is not None:
            builder.event(event, value)
            depth += event in ("start_map", "start_array")
            depth -= event in ("end_map", "end_array")
            if depth == 0:
                header[building] = builder.value
                building = None
            continue
        if prefix == "":
            if event not in ("start_map", "map_key", "end_map"):
                raise NotAnExportError("the top level is not an object")
        elif prefix == "messages" and event == "start_array":
            saw_messages = True
            if "guild" in header and "channel" in header:
                return header
        elif prefix in _HEADER_KEYS:
            if event in ("start_map", "start_array"):
                builder = ijson.ObjectBuilder()
                builder.event(event, value)
                building, depth = prefix, 1
            else:
                header[prefix] = value
    if not saw_messages:
        raise NotAnExportError("no 'messages' array")
    return header


def _parse_header(header: dict[str, Any]) -> tuple[Guild | None, Channel, datetime | None]:
    if "guild" not in header or "channel" not in header:
        missing = [k for k in ("guild", "channel") if k not in header]
        raise NotAnExportError(f"missing {' and '.join(repr(k) for k in missing)}")
    g = F.obj(header["guild"], "'guild'")
    c = F.obj(header["channel"], "'channel'")
    guild_id = F.snowflake(g, "id")
    guild = None if guild_id == DM_GUILD_ID else Guild(id=guild_id, name=F.opt_text(g, "name"))
    raw_kind = F.opt_text(c, "type") or ""
    kind = _CHANNEL_KINDS.get(raw_kind, ChannelKind.OTHER)
    if guild is None and kind not in (ChannelKind.DM, ChannelKind.GROUP_DM):
        kind = ChannelKind.DM
    parent_id = F.opt_snowflake(c, "categoryId")
    channel = Channel(
        id=F.snowflake(c, "id"),
        guild_id=guild.id if guild else None,
        name=F.text(c, "name", ""),
        topic=F.opt_text(c, "topic"),
        kind=kind,
        # DCE fills categoryId with the guild id for channels outside any category.
        parent_id=None if parent_id in (guild_id, DM_GUILD_ID) else parent_id,
        parent_name=F.opt_text(c, "category"),
    )
    exported_at = F.opt_timestamp(header, "exportedAt")
    return guild, channel, exported_at


def _header_events(
    guild: Guild | None, channel: Channel, when: datetime, source: str
) -> Iterator[Event]:
    if guild is not None:
        yield GuildCreated(ts=when, guild=guild, source=source)
    yield ChannelCreated(ts=when, channel=channel, source=source)


def _read_messages(
    path: Path,
    f: BinaryIO,
    guild: Guild | None,
    channel: Channel,
    exported_at: datetime | None,
    problems: ProblemLog,
    media: MediaReader,
    on_bytes: Callable[[int], None] | None,
) -> Iterator[Event]:
    """Messages, preceded by the guild and channel events.

    Exports give no creation time for guild and channel: they are dated by the first message
    (they existed by then), else by the export time, else the epoch.
    """
    source = str(path)
    base_dir = path.parent
    index = -1
    header_sent = False
    # The server's roles, as its members' messages show them (an export has no list of its
    # own): each new one is told as a server update before the message that showed it.
    roles: dict[str, None] = {}
    try:
        for index, raw in enumerate(ijson.items(_Progress(f, on_bytes), "messages.item")):
            try:
                event = _message_event(raw, guild, channel, base_dir, media, source)
                shown = _roles(raw) if guild is not None else []
            except F.FieldError as exc:
                where = f"message #{index + 1}{_id_hint(raw)}"
                problems.report(source, f"skipped malformed message: {exc}", where)
                continue
            report_media_errors(event, problems)
            if not header_sent:
                yield from _header_events(guild, channel, event.ts, source)
                header_sent = True
            new = [r for r in dict.fromkeys(shown) if r not in roles][:MAX_ROLES - len(roles)]
            if new and guild is not None:
                roles.update(dict.fromkeys(new))
                yield GuildUpdated(ts=event.ts, guild=Guild(id=guild.id, roles=tuple(new)),
                                   source=source)
            yield event
        if not header_sent:
            yield from _header_events(guild, channel, exported_at or _EPOCH, source)
    except ijson.JSONError as exc:
        if not header_sent:
            yield from _header_events(guild, channel, exported_at or _EPOCH, source)
        problems.report(
            source,
            f"file is truncated or corrupt after {index + 1} messages "
            f"(those were kept): {_json_error(exc)}",
            fatal=True,
        )


def _message_event(
    raw: Any,
    guild: Guild | None,
    channel: Channel,
    base_dir: Path,
    media: MediaReader,
    source: str,
) -> MessagePosted:
    m = F.obj(raw, "message")
    a = F.obj(m.get("author"), "'author'")
    author = User(
        id=F.snowflake(a, "id"),
        name=F.text(a, "name", ""),
        display_name=F.opt_text(a, "nickname"),
        is_bot=F.flag(a, "isBot"),
    )
    attachments = []
    for i, item in enumerate(F.array(m, "attachments")):
        att = F.obj(item, f"attachment #{i + 1}")
        attachments.append(
            media.attachment(
                id=F.snowflake(att, "id"),
                ref=F.opt_text(att, "url"),
                base_dir=base_dir,
                filename=F.opt_text(att, "fileName"),
                size=F.opt_int(att, "fileSizeBytes"),
            )
        )
    ref = F.opt_obj(m, "reference")
    message = Message(
        id=F.snowflake(m, "id"),
        channel_id=channel.id,
        guild_id=guild.id if guild else None,
        author_id=author.id,
        content=_content(m),
        attachments=tuple(attachments),
        kind=_enum_text(m.get("type")),
        reply_to=F.opt_snowflake(ref, "messageId") if ref else None,
        edited_at=F.opt_timestamp(m, "timestampEdited"),
        pinned=m.get("isPinned") is True,
    )
    return MessagePosted(ts=F.timestamp(m, "timestamp"), message=message, author=author,
                         source=source)


def _roles(m: dict[str, Any]) -> list[str]:
    """Names of the roles the author and the mentioned members hold (DCE writes them on each
    message since 2023-07; older exports have none). Metadata beside the message: a
    malformed entry is passed over, never a reason to lose the message."""
    names = []
    mentions = m.get("mentions")
    people = [m.get("author"), *(mentions if isinstance(mentions, list) else ())]
    for person in people:
        roles = person.get("roles") if isinstance(person, dict) else None
        for item in roles if isinstance(roles, list) else ():
            name = item.get("name") if isinstance(item, dict) else None
            if isinstance(name, str) and (name := _CONTROL.sub("", name).strip()):
                names.append(name[:MAX_ROLE_CHARS])
    return names


def _content(m: dict[str, Any]) -> str:
    """The message text plus embed and forwarded text: a link's preview, a bot's welcome card
    (its fields, its footer) are part of what is said."""
    parts = [F.text(m, "content", "")]
    for i, item in enumerate(F.array(m, "embeds")):
        e = F.obj(item, f"embed #{i + 1}")
        parts.append(_said(e.get("author"), "name"))
        parts.extend(v for k in ("title", "description") if (v := F.opt_text(e, k)))
        # A card's fields, footer and author line were added after title and description:
        # a malformed one is passed over, never a reason to lose the message.
        fields = e.get("fields")
        for fld in fields if isinstance(fields, list) else ():
            parts += [_said(fld, "name"), _said(fld, "value")]
        parts.append(_said(e.get("footer"), "text"))
        if url := F.opt_text(e, "url"):
            parts.append(url)
    fwd = F.opt_obj(m, "forwardedMessage")
    if fwd is not None:
        parts.append(F.text(fwd, "content", ""))
    return "\n".join(p for p in parts if p)


def _said(obj: Any, key: str) -> str:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, str) else ""


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
"""Control and direction characters: a role name is one line, displayed as written."""


def _enum_text(value: Any) -> str:
    # Unknown Discord types are written as their number; keep whatever came as text.
    if value is None:
        return "Default"
    return str(value)


def _id_hint(raw: Any) -> str:
    if isinstance(raw, dict) and isinstance(raw.get("id"), str | int):
        return f", id {raw['id']}"
    return ""


def _json_error(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
