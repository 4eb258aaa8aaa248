"""Discord in, the engine's events out: pure functions from discord.py's objects (and raw
gateway events) to the wire format of `veilleur.eventformat` (contracts §5), which `check`
validates.

Each event carries an `event_id` made from Discord's ids, so a gateway resend after a resume
is a duplicate the journal drops. What the format has no type for is said here, not
invented (`NOT_IN_FORMAT`); the bot logs those and sends nothing.

An attachment is sent as Discord's reference (URL, id, content type) unless the bot fetched
it (`media.py`: pictures and videos under a size cap), in which case the event names the
local file and the engine hashes it. The wire format's attachment has no size or digest
field: the engine computes digests itself, from a file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import discord

from veilleur import eventformat
from veilleur.events import MAX_ROLE_CHARS, MAX_ROLES

Raw = dict[str, Any]

MAX_ATTACHMENTS = 10
"""Discord allows 10 files a message; more is not a real message."""
MAX_FIELD = 512
"""A filename or content type longer than this is cut (they are only labels)."""
MAX_EMBEDS = 10
MAX_EMBED_FIELDS = 25
"""Discord's own limits: a message has at most 10 embeds, an embed 25 fields."""

NOT_IN_FORMAT: dict[str, str] = {
    "member_ban": "no `member_banned` type: the leave is sent (`member_left`), the ban only "
                  "logged",
    "automod_unsendable": "an AutoMod execution without a channel or without the text (a "
                          "member's profile, or no Message Content intent) is not sent",
    "attachment_size": "an attachment has no size or digest field: a file too large to fetch "
                       "is sent as a reference, unhashed",
}
"""Discord events, and parts of them, that the wire format cannot carry."""

_KINDS = {
    discord.ChannelType.text: "text", discord.ChannelType.voice: "voice",
    discord.ChannelType.stage_voice: "voice", discord.ChannelType.private: "dm",
    discord.ChannelType.group: "group_dm", discord.ChannelType.category: "category",
    discord.ChannelType.news: "news", discord.ChannelType.forum: "forum",
    discord.ChannelType.media: "forum", discord.ChannelType.public_thread: "thread",
    discord.ChannelType.private_thread: "thread", discord.ChannelType.news_thread: "thread",
}


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def check(raw: Raw) -> Raw:
    """`raw`, once the event format has validated it (`EventFormatError` otherwise)."""
    eventformat.validate(raw)
    return raw


def _digest(*parts: str) -> str:
    """A short digest of `parts`, for an event id that must change with them (and stay
    short whatever their length)."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _cut(text: str | None) -> str | None:
    return None if text is None else text[:MAX_FIELD]


def user(u: discord.User | discord.Member, at: datetime) -> Raw:
    """`user_seen`: an account's name and creation time (Discord's, from its id)."""
    return check({"type": "user_seen", "ts": iso(at),
                  "event_id": f"discord:user:{u.id}:{_digest(u.name)}:{at.timestamp():.3f}",
                  "user": {"id": str(u.id), "name": u.name,
                           "created_at": iso(u.created_at)}})


def message(m: discord.Message, fetched: Mapping[int, str] | None = None) -> Raw:
    """`message`: the text, author, place (server or direct message) and attachments
    (`fetched`: the local files of those the bot downloaded, by attachment id)."""
    fetched = fetched or {}
    at = m.edited_at or m.created_at
    edit = f":{m.edited_at.timestamp():.3f}" if m.edited_at else ""
    body: Raw = {
        "id": str(m.id), "channel_id": str(m.channel.id),
        "guild_id": str(m.guild.id) if m.guild else None,
        "author_id": str(m.author.id), "content": content(m),
        "pinned": bool(m.pinned),
        "attachments": [{"id": str(a.id), "path": fetched.get(a.id, a.url),
                         "content_type": _cut(a.content_type)}
                        for a in m.attachments[:MAX_ATTACHMENTS]],
    }
    if m.edited_at is not None:
        body["edited_at"] = iso(m.edited_at)  # its text replaces the stored one
    if m.guild is None:
        # Everyone in the conversation but the author (the bot itself, in a DM with it).
        people = [*(getattr(m.channel, "recipients", None) or ()),
                  *(p for p in (getattr(m.channel, "recipient", None),
                                getattr(m.channel, "me", None)) if p is not None)]
        ids = dict.fromkeys(str(p.id) for p in people if p.id != m.author.id)
        body["recipient_ids"] = list(ids)
    return check({"type": "message", "ts": iso(at),
                  "event_id": f"discord:message:{m.id}{edit}", "message": body})


def content(m: discord.Message) -> str:
    """The text and its embeds' (a bot's welcome card: title, fields, footer), as an export
    gives them: what a member reads is what is said."""
    parts = [m.content or ""]
    for e in m.embeds[:MAX_EMBEDS]:
        parts += [x for x in (e.author.name, e.title, e.description) if x]
        for f in e.fields[:MAX_EMBED_FIELDS]:
            parts += [x for x in (f.name, f.value) if x]
        parts += [x for x in (e.footer.text, e.url) if x]
    return "\n".join(p for p in parts if p)


def edited(raw: discord.RawMessageUpdateEvent) -> Raw | None:
    """An edit (raw, so edits of messages out of the cache come too): the message again
    with its new text and `edited_at` (the store then keeps the new text). None when the
    text did not change: an embed unfurled, or a pin (Discord may send the whole message
    again, with no edit time: it would be the post's own event again)."""
    if "content" not in raw.data or raw.message.edited_at is None:
        return None
    before = raw.cached_message
    if before is not None and (before.content, before.edited_at) == (
            raw.message.content, raw.message.edited_at):
        return None  # an earlier edit sent again whole (a pin): nothing new to read
    return message(raw.message)


def pinned(raw: discord.RawMessageUpdateEvent) -> Raw | None:
    """A server's message pinned after it was posted (rules pinned by the owner, an ad pinned
    by a seller): the message again, `pinned`, under an event id of its own (the post's would
    be a repeat, and the pin never read). None for anything else: an unpin, a pin the bot
    already knew of (the message was pinned in its cache), a direct message. (An update
    that is also an edit is sent as the edit, which says `pinned` itself: the handler asks
    this only when `edited` gave nothing. Known limit: a message edited earlier and out of
    the bot's cache, then pinned, looks like that edit again, a repeat; in the cache, the
    bot sees it is not.)"""
    if raw.data.get("pinned") is not True or raw.message.guild is None:
        return None
    before = raw.cached_message
    if before is not None and before.pinned:
        return None
    r = message(raw.message)
    r["message"]["pinned"] = True
    r["event_id"] = f"{r['event_id']}:pinned"
    return check(r)


def deleted(raw: discord.RawMessageDeleteEvent, at: datetime, *, by: str = "author") -> Raw:
    """`message_deleted`. Discord does not say who deleted a message: `by` is the author
    unless the bot knows better (its own containment, a moderator in the audit log)."""
    return check({"type": "message_deleted", "ts": iso(at),
                  "event_id": f"discord:deleted:{raw.message_id}",
                  "message_id": str(raw.message_id), "by": by})


def bulk_deleted(raw: discord.RawBulkMessageDeleteEvent, at: datetime) -> list[Raw]:
    """A bulk deletion is a moderator's or a bot's (members cannot bulk delete)."""
    return [check({"type": "message_deleted", "ts": iso(at),
                   "event_id": f"discord:deleted:{i}", "message_id": str(i),
                   "by": "moderator"}) for i in sorted(raw.message_ids)]


def channel(c: discord.abc.GuildChannel | discord.Thread, at: datetime, *,
            change: bool = True) -> Raw:
    """`channel_created`, for a creation and for an update (same id: the store keeps the
    newest name and topic). The event id holds a digest of what is sent (a long name or a
    topic changed late is not cut off into a repeat) and, for a `change` the gateway
    reported, its time, so that a name changed back (A, B, then A again) is sent again too.
    A server's layout found at start (`change=False`) has no time in its ids: found again
    after a reconnection, it is a repeat."""
    topic = getattr(c, "topic", None)
    # A thread's channel (or forum), a channel's category: where it sits says what it is.
    parent = getattr(c, "parent_id", None) if isinstance(c, discord.Thread) else \
        getattr(c, "category_id", None)
    body = {"id": str(c.id), "guild_id": str(c.guild.id), "name": c.name, "topic": topic,
            "kind": _KINDS.get(c.type, "other")}
    if parent is not None:
        body["parent_id"] = str(parent)
    return check({"type": "channel_created", "ts": iso(at),
                  "event_id": f"discord:channel:{c.id}:"
                              f"{_digest(c.name, topic or '', str(c.type), str(parent))}"
                              + (f":{at.timestamp():.3f}" if change else ""),
                  "channel": body})


def channel_deleted(c: discord.abc.GuildChannel, at: datetime) -> Raw:
    """`channel_deleted` (an extension of the format): its stored messages are marked gone,
    by the server's staff (Discord does not say who: someone with Manage Channels)."""
    return check({"type": "channel_deleted", "ts": iso(at),
                  "event_id": f"discord:channel-deleted:{c.id}",
                  "channel_id": str(c.id), "guild_id": str(c.guild.id), "by": "moderator"})


def _guild(g: discord.Guild) -> Raw:
    return {"id": str(g.id), "name": g.name,
            "owner_id": str(g.owner_id) if g.owner_id else None,
            "description": g.description, "roles": _roles(g)}


def _roles(g: discord.Guild) -> list[str]:
    """Its role names (what it calls its members), highest first; not @everyone."""
    ranked = sorted((r for r in g.roles if not r.is_default()),
                    key=lambda r: r.position, reverse=True)
    names = [r.name.strip()[:MAX_ROLE_CHARS] for r in ranked if r.name.strip()]
    return list(dict.fromkeys(names))[:MAX_ROLES]


def roles_changed(g: discord.Guild, at: datetime) -> Raw:
    """A role created or renamed: `guild_updated` with the roles (they add to those known)."""
    names = _roles(g)
    return check({"type": "guild_updated", "ts": iso(at),
                  "event_id": f"discord:roles:{g.id}:{_digest(*names)}",
                  "guild": {"id": str(g.id), "roles": names}})


def guild(g: discord.Guild, at: datetime) -> list[Raw]:
    """A server the bot joins (or finds at start): `guild_created`, then its channels."""
    body = _guild(g)
    # The id changes with what it says: the server found again at a start with new roles (or
    # after an upgrade that sends them) is news, the same server the same is a repeat.
    said = _digest(str(body["name"]), str(body["description"]), str(body["owner_id"]),
                   *body["roles"])
    first = check({"type": "guild_created", "ts": iso(at),
                   "event_id": f"discord:guild:{g.id}:{said}", "guild": body})
    return [first, *(channel(c, at, change=False) for c in g.channels)]


def guild_updated(before: discord.Guild, after: discord.Guild, at: datetime) -> Raw | None:
    """`guild_updated` when the name, description or owner changed."""
    if (before.name, before.description, before.owner_id, _roles(before)) == \
            (after.name, after.description, after.owner_id, _roles(after)):
        return None
    return check({"type": "guild_updated", "ts": iso(at),
                  "event_id": f"discord:guild:{after.id}:{iso(at)}", "guild": _guild(after)})


def member_joined(m: discord.Member) -> list[Raw]:
    """The account (its age on Discord matters), then its join. Discord does not say which
    invite was used."""
    at = m.joined_at or m.created_at
    return [user(m, at), check({
        "type": "member_joined", "ts": iso(at),
        "event_id": f"discord:joined:{m.guild.id}:{m.id}:{at.timestamp():.0f}",
        "guild_id": str(m.guild.id), "user_id": str(m.id)})]


def member_left(raw: discord.RawMemberRemoveEvent, at: datetime) -> Raw:
    return check({"type": "member_left", "ts": iso(at),
                  "event_id": f"discord:left:{raw.guild_id}:{raw.user.id}:{at.timestamp():.0f}",
                  "guild_id": str(raw.guild_id), "user_id": str(raw.user.id)})


def member_updated(before: discord.Member, after: discord.Member, at: datetime) -> Raw | None:
    """A new name is the account seen again (`user_seen`); roles and the rest are not
    the engine's."""
    if (before.name, before.display_name) == (after.name, after.display_name):
        return None
    return user(after, at)


def invite_created(i: discord.Invite, at: datetime) -> Raw | None:
    """`invite_created`; an invite without an inviter (a widget's) names none and is not
    sent."""
    if i.guild is None or i.inviter is None:
        return None
    return check({"type": "invite_created", "ts": iso(i.created_at or at),
                  "event_id": f"discord:invite:{i.code}",
                  "invite": {"code": i.code, "guild_id": str(i.guild.id),
                             "inviter_id": str(i.inviter.id)}})


def automod(e: discord.AutoModAction, at: datetime) -> Raw | None:
    """An AutoMod execution on a posted message is that message, with an event id of its
    own (per rule and action): when it comes before the gateway's message, the message
    itself (with its attachments) is still judged, not dropped as a repeat. A blocked one
    is an attempt (`_blocked`)."""
    if e.channel_id is None or not e.content:
        return None
    if e.message_id is None:
        return _blocked(e, at)
    return check({"type": "message", "ts": iso(at),
                  "event_id": f"discord:automod:{e.message_id}:{e.rule_id}:"
                              f"{e.action.type.value}",
                  "message": {"id": str(e.message_id), "channel_id": str(e.channel_id),
                              "guild_id": str(e.guild_id), "author_id": str(e.user_id),
                              "content": e.content}})


def _blocked(e: discord.AutoModAction, at: datetime) -> Raw:
    """A message AutoMod blocked never existed on Discord, but trying to post it is a sign
    about its author: it is sent as a message of its own, its id made from the attempt
    (Discord gives none), so the engine judges it, a case opens on the author if it is
    flagged, and what they tried to post is in the sealed evidence. The executions of one
    attempt (the block, the alert) within the same ten seconds are one event."""
    seen = f"{e.guild_id}:{e.channel_id}:{e.user_id}:{e.rule_id}:{_digest(e.content)}"
    window = int(at.timestamp() // 10)
    key = hashlib.sha256(f"{seen}:{window}".encode()).hexdigest()
    # A number, as a message id is (below Discord's snowflakes of today: no collision in
    # practice), so the bot's lookups by id work the same.
    attempt = int(key[:15], 16)
    return check({"type": "message", "ts": iso(at),
                  "event_id": f"discord:automod-blocked:{key[:32]}",
                  "message": {"id": str(attempt), "channel_id": str(e.channel_id),
                              "guild_id": str(e.guild_id), "author_id": str(e.user_id),
                              "content": e.content}})


def banned(g: discord.Guild, u: discord.User | discord.Member, at: datetime) -> Raw:
    """A ban: the format has no type for it, so it is the member's leave (Discord sends the
    leave too; a second leave changes nothing)."""
    return check({"type": "member_left", "ts": iso(at),
                  "event_id": f"discord:left:{g.id}:{u.id}:{at.timestamp():.0f}",
                  "guild_id": str(g.id), "user_id": str(u.id)})
