"""discord.py's real objects made from gateway payload dicts, over a mocked connection state
(python-discord's approach): the adapter's code meets what discord.py really builds, without
a network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import discord
from discord.utils import time_snowflake

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
BOT_ID = 900_000_000_000_000_001
_counter = [0]


def snowflake(at: datetime = T0) -> int:
    """An id Discord would give something made at `at` (ids carry their time)."""
    _counter[0] += 1
    return time_snowflake(at) + _counter[0]


def state() -> MagicMock:
    st = MagicMock(name="ConnectionState")
    st.self_id = BOT_ID
    st.user = MagicMock(id=BOT_ID)
    st.http = MagicMock(name="HTTPClient")
    st.store_user = lambda data, cache=True: discord.User(state=st, data=data)
    st.create_user = st.store_user
    st._get_guild = lambda _id: None
    st.member_cache_flags = discord.MemberCacheFlags.all()
    return st


def user_data(uid: int, name: str) -> dict[str, Any]:
    return {"id": str(uid), "username": name, "discriminator": "0", "avatar": None,
            "global_name": None}


def role_data(rid: int, name: str, permissions: discord.Permissions, position: int
              ) -> dict[str, Any]:
    return {"id": str(rid), "name": name, "permissions": str(permissions.value),
            "position": position, "color": 0, "hoist": False, "managed": False,
            "mentionable": False}


def guild(st: MagicMock, gid: int, name: str, *, owner: int = 5,
          bot_permissions: discord.Permissions | None = None,
          roles: list[dict[str, Any]] | None = None) -> discord.Guild:
    """A server where the bot is a member with `bot_permissions` (through its role)."""
    bot_role = snowflake()
    data = {"id": str(gid), "name": name, "owner_id": str(owner), "description": None,
            "roles": [role_data(gid, "@everyone", discord.Permissions.none(), 0),
                      role_data(bot_role, "Veilleur", bot_permissions
                                or discord.Permissions.none(), 5), *(roles or [])],
            "channels": [], "members": [], "member_count": 2}
    g = discord.Guild(data=data, state=st)
    me = member(st, g, BOT_ID, "veilleur", roles=[bot_role])
    g._add_member(me)
    return g


def member(st: MagicMock, g: discord.Guild, uid: int, name: str, *,
           roles: list[int] | None = None, joined: datetime = T0) -> discord.Member:
    return discord.Member(data={"user": user_data(uid, name), "roles": [str(r) for r in
                                                                         roles or []],
                                "joined_at": joined.isoformat(), "deaf": False,
                                "mute": False, "flags": 0, "nick": None},
                          guild=g, state=st)


def text_channel(st: MagicMock, g: discord.Guild, cid: int, name: str, *,
                 topic: str | None = None, overwrites: list[dict[str, Any]] | None = None,
                 kind: int = 0) -> discord.TextChannel:
    c = discord.TextChannel(state=st, guild=g, data={
        "id": str(cid), "type": kind, "name": name, "topic": topic, "position": 0,
        "guild_id": str(g.id), "permission_overwrites": overwrites or []})
    g._add_channel(c)
    return c


def message(st: MagicMock, ch: Any, mid: int, author: tuple[int, str], content: str, *,
            attachments: list[dict[str, Any]] | None = None,
            edited: datetime | None = None, embeds: list[dict[str, Any]] | None = None,
            pinned: bool = False) -> discord.Message:
    data: dict[str, Any] = {
        "id": str(mid), "channel_id": str(ch.id), "author": user_data(*author),
        "content": content, "timestamp": discord.utils.snowflake_time(mid).isoformat(),
        "edited_timestamp": edited.isoformat() if edited else None, "tts": False,
        "mention_everyone": False, "mentions": [], "mention_roles": [],
        "attachments": attachments or [], "embeds": embeds or [], "pinned": pinned,
        "type": 0}
    if getattr(ch, "guild", None) is not None:
        data["guild_id"] = str(ch.guild.id)
    return discord.Message(state=st, channel=ch, data=data)


def attachment(aid: int, name: str = "photo.png", size: int = 2048,
               content_type: str = "image/png") -> dict[str, Any]:
    return {"id": str(aid), "filename": name, "size": size,
            "url": f"https://cdn.discordapp.com/attachments/1/{aid}/{name}",
            "proxy_url": f"https://media.discordapp.net/attachments/1/{aid}/{name}",
            "content_type": content_type}


def dm_channel(st: MagicMock, cid: int, recipient: tuple[int, str]) -> discord.DMChannel:
    return discord.DMChannel(me=discord.ClientUser(state=st, data=user_data(BOT_ID, "veilleur")
                                                   | {"verified": True, "mfa_enabled": False,
                                                      "bot": True}),
                             state=st, data={"id": str(cid), "type": 1,
                                             "recipients": [user_data(*recipient)]})


class FakeResponse:
    """What discord.py's HTTPException reads from an aiohttp response."""

    def __init__(self, status: int, reason: str = "") -> None:
        self.status = status
        self.reason = reason


def forbidden(code: int = 50013) -> discord.Forbidden:
    return discord.Forbidden(FakeResponse(403, "Forbidden"),  # type: ignore[arg-type]
                             {"code": code, "message": "Missing Permissions"})


def rate_limited() -> discord.HTTPException:
    return discord.HTTPException(FakeResponse(429, "Too Many Requests"),  # type: ignore[arg-type]
                                 {"code": 0, "message": "You are being rate limited."})


def http() -> MagicMock:
    """discord.py's HTTPClient with every call a coroutine mock."""
    h = MagicMock(name="HTTPClient")
    for name in ("delete_message", "edit_member", "add_role", "get_message",
                 "add_user_to_thread", "ban", "remove_role", "edit_incident_actions"):
        setattr(h, name, AsyncMock(name=name, return_value=None))
    # Discord answers a message or a thread with the object made, and its id.
    h.send_message = AsyncMock(name="send_message",
                               side_effect=lambda *_a, **_k: {"id": str(snowflake())})
    h.start_thread_without_message = AsyncMock(
        name="start_thread_without_message", side_effect=lambda *_a, **_k: {
            "id": str(snowflake()), "type": 12})
    h.start_private_message = AsyncMock(
        name="start_private_message", side_effect=lambda *_a, **_k: {
            "id": str(snowflake()), "type": 1})
    return h


def later(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def catalogue_lure(st: MagicMock, author: tuple[int, str], tag: str = "x"
                   ) -> tuple[discord.Guild, discord.TextChannel, discord.Message]:
    """A server with a channel named like a catalogue, and a teaser posted in it (a spaced
    mega link, `tag` its folder)."""
    g = guild(st, snowflake(), "Le Salon")
    catalogue = text_channel(st, g, snowflake(), "teaser-mineure")
    lure = message(st, catalogue, snowflake(later(5)), author,
                   f"teaser du pack, le reste en VIP sur mega . nz / folder / {tag}")
    return g, catalogue, lure
