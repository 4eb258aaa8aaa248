"""Typed, immutable platform events (contracts §5), shared by every adapter.

Adapters (DiscordChatExporter import, the JSON Lines log, the HTTP service, the bot) all
produce these; nothing downstream knows which adapter an event came from except through
`source`, which names the input for error messages and provenance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from veilleur.taxonomy import Target

if TYPE_CHECKING:
    from veilleur.detect.media.hashing import MediaHashes


class AgeBand(StrEnum):
    UNDER_13 = "under_13"
    AGE_13_15 = "13_15"
    AGE_16_17 = "16_17"
    ADULT = "adult"


class ChannelKind(StrEnum):
    TEXT = "text"
    VOICE = "voice"
    DM = "dm"
    GROUP_DM = "group_dm"
    THREAD = "thread"
    CATEGORY = "category"
    NEWS = "news"
    FORUM = "forum"
    OTHER = "other"


GuildDeletedBy = Literal["owner", "platform"]
MessageDeletedBy = Literal["author", "moderator", "platform"]
ComplainantRole = Literal["affected", "notifier"]
OrderStatus = Literal["force_majeure", "obstacle_cleared", "clarification_requested",
                      "clarification_received"]
"""The closed choices of the event format, shared by these types and the wire models
(`eventformat.py`) that publish them."""


class ReportSource(StrEnum):
    USER = "user"
    DSA_NOTICE = "dsa_notice"
    TRUSTED_FLAGGER = "trusted_flagger"
    AUTHORITY = "authority"


# --- entities carried by events ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class User:
    id: str
    name: str
    display_name: str | None = None
    is_bot: bool = False
    created_at: datetime | None = None
    age_band: AgeBand | None = None


MAX_ROLES = 250
"""Role names kept per server (Discord allows 250 roles): more is not a server's."""
MAX_ROLE_CHARS = 100
"""A role name's length on Discord."""


@dataclass(frozen=True, slots=True)
class Guild:
    id: str
    name: str | None = None
    owner_id: str | None = None
    description: str | None = None
    roles: tuple[str, ...] | None = None
    """Names of the server's roles seen so far (what it calls its members: "Modo", "13-15
    ans", "VIP"); None: nothing said of them. Updates add to what is known."""


def only_roles(guild: Guild) -> bool:
    """A server update that tells its roles and nothing else (an export's messages show
    them one by one)."""
    return guild.name is None and guild.description is None and guild.owner_id is None


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    guild_id: str | None
    name: str
    topic: str | None = None
    kind: ChannelKind = ChannelKind.TEXT
    parent_id: str | None = None
    parent_name: str | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file posted with a message.

    `path` is a local file (resolved, readable) when the export carried the media; `url` is a
    remote reference that is never fetched. Digests are of the file bytes, never of the URL.
    """

    id: str
    filename: str | None = None
    url: str | None = None
    path: str | None = None
    content_type: str | None = None
    size: int | None = None
    md5: str | None = None
    sha256: str | None = None
    media_error: str | None = None
    media: MediaHashes | None = field(default=None, compare=False, repr=False,
                                      metadata={"transient": True})
    """Every hash of the file (PDQ and its lookup variants too), computed once at ingest."""


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    channel_id: str
    guild_id: str | None
    author_id: str
    content: str
    attachments: tuple[Attachment, ...] = ()
    recipient_ids: tuple[str, ...] = ()
    kind: str = "Default"
    reply_to: str | None = None
    edited_at: datetime | None = None
    pinned: bool = False
    """Pinned in its channel: the rules, the price list, what the place puts first."""


@dataclass(frozen=True, slots=True)
class Report:
    id: str
    source: ReportSource
    target: Target
    category_claimed: str | None = None
    explanation: str | None = None
    reporter_id: str | None = None
    notifier: dict[str, str] | None = None
    flagger: str | None = None
    notice_id: str | None = None
    """Extension: the DSA notice this item belongs to (one notice may name several items)."""
    bona_fide: bool | None = None
    """Extension: the notifier states the notice is accurate and complete (Art 16(2)(d))."""
    locator: str | None = None
    """Extension: the exact electronic location the notifier gave (a URL)."""


@dataclass(frozen=True, slots=True)
class Complaint:
    """An Art. 20 complaint against a decision, by the person affected or by the notifier."""

    id: str
    target: Target
    by: ComplainantRole
    complainant_id: str | None = None
    decision_id: str | None = None
    report_id: str | None = None
    explanation: str | None = None
    email: str | None = None


# --- events ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _Event:
    ts: datetime
    source: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class UserSeen(_Event):
    type: Literal["user_seen"] = "user_seen"
    user: User


@dataclass(frozen=True, slots=True, kw_only=True)
class GuildCreated(_Event):
    type: Literal["guild_created"] = "guild_created"
    guild: Guild


@dataclass(frozen=True, slots=True, kw_only=True)
class GuildUpdated(_Event):
    type: Literal["guild_updated"] = "guild_updated"
    guild: Guild


@dataclass(frozen=True, slots=True, kw_only=True)
class GuildDeleted(_Event):
    type: Literal["guild_deleted"] = "guild_deleted"
    guild_id: str
    by: GuildDeletedBy


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelCreated(_Event):
    type: Literal["channel_created"] = "channel_created"
    channel: Channel


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberJoined(_Event):
    type: Literal["member_joined"] = "member_joined"
    guild_id: str
    user_id: str
    invite_code: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberLeft(_Event):
    type: Literal["member_left"] = "member_left"
    guild_id: str
    user_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class InviteCreated(_Event):
    type: Literal["invite_created"] = "invite_created"
    code: str
    guild_id: str
    inviter_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MessagePosted(_Event):
    type: Literal["message"] = "message"
    message: Message
    author: User | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageDeleted(_Event):
    type: Literal["message_deleted"] = "message_deleted"
    message_id: str
    by: MessageDeletedBy


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportFiled(_Event):
    type: Literal["report"] = "report"
    report: Report


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderUpdated(_Event):
    """What happened to an authority's removal request (LCEN 6-2 II): force majeure or a
    request for clarification stops its clock; the obstacle cleared or the answer received
    starts the whole period again. An extension of contracts §5 (optional event type)."""

    type: Literal["order_update"] = "order_update"
    report_id: str
    status: OrderStatus
    note: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ComplaintFiled(_Event):
    """Extension of contracts §5 (optional event type): an Art. 20 complaint."""

    type: Literal["complaint"] = "complaint"
    complaint: Complaint


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelDeleted(_Event):
    """Extension of contracts §5 (optional event type): a channel deleted with its
    messages (an owner emptying a server before it is reported: what was kept is the
    evidence, and every case shows its messages gone and by whom)."""

    type: Literal["channel_deleted"] = "channel_deleted"
    channel_id: str
    guild_id: str | None = None
    by: MessageDeletedBy


LEGAL_TYPES = frozenset({"report", "complaint", "order_update"})
"""Event types that carry legal weight: a report names a notifier, may be a trusted flagger's
(Art. 22) or an authority's order with a legal clock (LCEN 6-1); an order update stops or
restarts that clock; a complaint contests a decision (Art. 20). What they claim is only as
good as who sent them, so the service takes them in only through the front door scoped for
each (never as raw platform events); an operator's own event log (the CLI) is trusted."""

PLATFORM_TYPES = frozenset({
    "user_seen", "guild_created", "guild_updated", "guild_deleted", "channel_created",
    "channel_deleted", "member_joined", "member_left", "invite_created", "message",
    "message_deleted"})
"""What a platform observes and may send as raw events (`/v1/events`)."""


Event = (
    UserSeen
    | GuildCreated
    | GuildUpdated
    | GuildDeleted
    | ChannelCreated
    | ChannelDeleted
    | MemberJoined
    | MemberLeft
    | InviteCreated
    | MessagePosted
    | MessageDeleted
    | ReportFiled
    | OrderUpdated
    | ComplaintFiled
)
