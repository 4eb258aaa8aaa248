"""The wire format of platform events (contracts §5): one model per `type`, discriminated by it.

These models are the single source of the format. `parse` validates a decoded JSON object with
them and builds the typed events of `events.py` (the event log, the CLI and the service all
go through it); `eventschema.py` publishes their JSON Schema (`schemas/events.schema.json`) and
the OpenAPI document references the same definitions. A check the schema cannot state is not
made here: what an attachment path may point at is the media reader's (`ingest/media.py`).

Leniency that older logs rely on is part of the format, stated in the schema rather than
hidden in a parser: ids may be JSON integers (read as their digits), optional ids may be "",
names and content may be null, unknown keys are ignored, an unknown channel kind is kept as
`other`, and a timestamp without an offset is UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StrictStr,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from veilleur import events as ev
from veilleur.ingest.fields import FieldError
from veilleur.ingest.media import MediaReader
from veilleur.taxonomy import Target as TargetRef
from veilleur.taxonomy import TargetKind

TS_PATTERN = (r"^(?!0000)[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]"
              r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?"
              r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?$")
"""ISO 8601 date and time as the schema states it (ASCII digits, `T` or a space, seconds and
offset optional). The validator checks this very pattern, then the calendar (2026-02-30
matches the pattern and is refused: a regular expression does not know month lengths)."""
_TS = re.compile(TS_PATTERN)


class EventFormatError(FieldError):
    """An event that does not follow the format; the message names the field and the fault
    (a `FieldError`, which every reader of untrusted input already reports)."""


def _fault(what: str) -> PydanticCustomError:
    # The field's path is put in front by `describe`, which knows where the error was.
    return PydanticCustomError("event_field", "{what}", {"what": what})


def kind_of(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number"}.get(type(value), type(value).__name__)


def _id(value: Any) -> str:
    if isinstance(value, str) and value:
        return value
    # A number is read as its digits (hand-written logs); JSON Schema's "integer" counts 1.0.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    raise _fault(f"must be a non-empty string id, got {kind_of(value)}"
                 + (" ''" if value == "" else ""))


def _opt_id(value: Any) -> str | None:
    return None if value is None or value == "" else _id(value)


def _timestamp(value: Any) -> datetime:
    if not isinstance(value, str):
        raise _fault(f"must be an ISO 8601 timestamp string, got {kind_of(value)}")
    if _TS.fullmatch(value) is None:
        raise _fault(f"is not an ISO 8601 timestamp: {value[:40]!r}")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _fault(f"is not an ISO 8601 timestamp: {value[:40]!r} ({exc})") from None
    if ts.tzinfo is None:
        return ts.replace(tzinfo=UTC)
    try:
        return ts.astimezone(UTC)
    except OverflowError:
        # "0001-01-01T00:00:00+05:30" is a valid timestamp the schema allows, but in UTC it
        # falls before year 1 (or after 9999): it is held at the first or last representable
        # instant, hours off a date that no real event carries.
        return (datetime.min if ts.year == 1 else datetime.max).replace(tzinfo=UTC)


_ID_SCHEMA: list[dict[str, Any]] = [{"type": "string", "minLength": 1}, {"type": "integer"}]
Id = Annotated[str, PlainValidator(_id), WithJsonSchema({
    "anyOf": _ID_SCHEMA,
    "description": "The platform's own id, a string. A JSON integer is read as its digits "
                   "(send strings: JavaScript numbers lose digits past 2^53)."})]
OptId = Annotated[str | None, PlainValidator(_opt_id), WithJsonSchema({
    "anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}],
    "description": "An id, or null (\"\" is read as null)."})]
Timestamp = Annotated[datetime, PlainValidator(_timestamp), WithJsonSchema({
    "type": "string", "pattern": TS_PATTERN,
    "description": "ISO 8601 date and time, e.g. 2026-11-20T10:00:00Z; without an offset it "
                   "is UTC."})]
OptTimestamp = Annotated[datetime | None, PlainValidator(
    lambda v: None if v is None else _timestamp(v)), WithJsonSchema({
        "anyOf": [{"type": "string", "pattern": TS_PATTERN}, {"type": "null"}]})]
Text = StrictStr


@dataclass(frozen=True, slots=True)
class Build:
    """What turning a validated event into a typed one needs: attachment paths are relative
    to `base_dir` and read (or only checked) by `media`; `source` names the input."""

    base_dir: Path
    media: MediaReader
    source: str | None


class _Wire(BaseModel):
    # Unknown keys are ignored (contracts: optional fields may be added freely); the schema
    # says so by leaving additionalProperties open.
    model_config = ConfigDict(extra="ignore", frozen=True)


# --- what events carry ----------------------------------------------------------------------


class User(_Wire):
    """An account as the platform knows it."""

    id: Id
    name: Text | None = Field(default="", description="null is read as \"\".")
    created_at: OptTimestamp = None
    age_band: ev.AgeBand | None = Field(
        default=None, description="What the platform knows of the person's age, if anything.")


class Guild(_Wire):
    """A server. `guild_created` should give its name and owner; `guild_updated` gives what
    changed."""

    id: Id
    name: Text | None = None
    owner_id: OptId = None
    description: Text | None = None
    roles: list[Annotated[Text, Field(max_length=ev.MAX_ROLE_CHARS)]] | None = Field(
        default=None, max_length=ev.MAX_ROLES, description=(
            "Names of the server's roles (what it calls its members); an update adds to "
            "those known."))


KNOWN_CHANNEL_KINDS = tuple(k.value for k in ev.ChannelKind if k is not ev.ChannelKind.OTHER)


class Channel(_Wire):
    id: Id
    guild_id: OptId = Field(default=None, description="null for direct messages.")
    name: Text | None = Field(default="", description="null is read as \"\".")
    topic: Text | None = None
    kind: Text | None = Field(default=None, description=(
        f"One of {', '.join(KNOWN_CHANNEL_KINDS)}; missing or null is text, another value "
        "is kept as 'other'."))
    parent_id: OptId = Field(default=None, description=(
        "A thread's channel, or the category a channel sits in."))


class Invite(_Wire):
    code: Text
    guild_id: Id
    inviter_id: Id


class Attachment(_Wire):
    id: Id
    path: Text | None = Field(default=None, description=(
        "The file, relative to the event log's folder (the service: to its --media-root); "
        "an http(s) URL is kept as a reference and never fetched."))
    content_type: Text | None = None


class Message(_Wire):
    id: Id
    channel_id: Id
    guild_id: OptId = Field(default=None, description="null for direct messages.")
    author_id: Id
    content: Text | None = Field(default="", description="null is read as \"\".")
    recipient_ids: list[Text] | None = Field(
        default=None, description="Who a direct message is sent to.")
    attachments: list[Attachment] | None = None
    edited_at: OptTimestamp = Field(default=None, description=(
        "Set when this is an edit of a message sent before (same id): its text replaces "
        "the stored one if it is newer, and it is judged again."))
    pinned: StrictBool | None = Field(default=False, description=(
        "Pinned in its channel (rules, a price list): it says what the place is for."))


class Target(_Wire):
    kind: TargetKind
    id: Id


class Report(_Wire):
    """A report, notice or order about one target. `source`: `user` (in-app),
    `dsa_notice` (DSA Art. 16), `trusted_flagger` (Art. 22, `flagger` names it),
    `authority` (a removal order, with a legal deadline)."""

    id: Id
    source: ev.ReportSource
    target: Target
    category_claimed: Text | None = None
    explanation: Text | None = None
    reporter_id: OptId = None
    notifier: dict[str, Text | None] | None = Field(
        default=None, description="Who sent a notice: name, email, language...")
    flagger: Text | None = None
    notice_id: Text | None = None
    bona_fide: StrictBool | None = None
    locator: Text | None = Field(default=None, description="The exact URL the notifier gave.")


class Complaint(_Wire):
    """An Art. 20 complaint against a decision."""

    id: Id
    target: Target
    by: ev.ComplainantRole
    complainant_id: OptId = None
    decision_id: Text | None = None
    report_id: OptId = None
    explanation: Text | None = None
    email: Text | None = None


# --- events ---------------------------------------------------------------------------------


class _Event(_Wire):
    type: str
    ts: Timestamp
    event_id: Text | None = Field(default=None, description=(
        "The platform's id of this event: a resend with the same id is a duplicate. Without "
        "it, the same content is."))

    def build(self, b: Build) -> ev.Event:
        raise NotImplementedError


class UserSeenEvent(_Event):
    """An account seen (created, or first seen by the engine)."""

    type: Literal["user_seen"]
    user: User

    def build(self, b: Build) -> ev.Event:
        u = self.user
        return ev.UserSeen(ts=self.ts, source=b.source, user=ev.User(
            id=u.id, name=u.name or "", created_at=u.created_at, age_band=u.age_band))


def _guild(g: Guild) -> ev.Guild:
    return ev.Guild(id=g.id, name=g.name, owner_id=g.owner_id, description=g.description,
                    roles=None if g.roles is None else tuple(g.roles))


class GuildCreatedEvent(_Event):
    type: Literal["guild_created"]
    guild: Guild

    def build(self, b: Build) -> ev.Event:
        return ev.GuildCreated(ts=self.ts, source=b.source, guild=_guild(self.guild))


class GuildUpdatedEvent(_Event):
    """A server renamed or described anew: only what changed need be given."""

    type: Literal["guild_updated"]
    guild: Guild

    def build(self, b: Build) -> ev.Event:
        return ev.GuildUpdated(ts=self.ts, source=b.source, guild=_guild(self.guild))


class GuildDeletedEvent(_Event):
    type: Literal["guild_deleted"]
    guild_id: Id
    by: ev.GuildDeletedBy

    def build(self, b: Build) -> ev.Event:
        return ev.GuildDeleted(ts=self.ts, source=b.source, guild_id=self.guild_id, by=self.by)


class ChannelCreatedEvent(_Event):
    type: Literal["channel_created"]
    channel: Channel

    def build(self, b: Build) -> ev.Event:
        c = self.channel
        try:
            kind = ev.ChannelKind(c.kind or "text")
        except ValueError:
            kind = ev.ChannelKind.OTHER  # kept, not refused: platforms add kinds
        return ev.ChannelCreated(ts=self.ts, source=b.source, channel=ev.Channel(
            id=c.id, guild_id=c.guild_id, name=c.name or "", topic=c.topic, kind=kind,
            parent_id=c.parent_id))


class ChannelDeletedEvent(_Event):
    """A channel deleted with its messages (an extension: optional)."""

    type: Literal["channel_deleted"]
    channel_id: Id
    guild_id: OptId = None
    by: ev.MessageDeletedBy = Field(description=(
        "Who deleted it: `moderator` for the server's own staff or owner."))

    def build(self, b: Build) -> ev.Event:
        return ev.ChannelDeleted(ts=self.ts, source=b.source, channel_id=self.channel_id,
                                 guild_id=self.guild_id, by=self.by)


class MemberJoinedEvent(_Event):
    type: Literal["member_joined"]
    guild_id: Id
    user_id: Id
    invite_code: Text | None = None

    def build(self, b: Build) -> ev.Event:
        return ev.MemberJoined(ts=self.ts, source=b.source, guild_id=self.guild_id,
                               user_id=self.user_id, invite_code=self.invite_code)


class MemberLeftEvent(_Event):
    type: Literal["member_left"]
    guild_id: Id
    user_id: Id

    def build(self, b: Build) -> ev.Event:
        return ev.MemberLeft(ts=self.ts, source=b.source, guild_id=self.guild_id,
                             user_id=self.user_id)


class InviteCreatedEvent(_Event):
    type: Literal["invite_created"]
    invite: Invite

    def build(self, b: Build) -> ev.Event:
        i = self.invite
        return ev.InviteCreated(ts=self.ts, source=b.source, code=i.code, guild_id=i.guild_id,
                                inviter_id=i.inviter_id)


class MessageEvent(_Event):
    """A message posted, with its attachments."""

    type: Literal["message"]
    message: Message

    def build(self, b: Build) -> ev.Event:
        m = self.message
        attachments = tuple(
            b.media.attachment(id=a.id, ref=a.path, base_dir=b.base_dir,
                               content_type=a.content_type)
            for a in m.attachments or ())
        return ev.MessagePosted(ts=self.ts, source=b.source, message=ev.Message(
            id=m.id, channel_id=m.channel_id, guild_id=m.guild_id, author_id=m.author_id,
            content=m.content or "", attachments=attachments,
            recipient_ids=tuple(m.recipient_ids or ()), edited_at=m.edited_at,
            pinned=bool(m.pinned)))


class MessageDeletedEvent(_Event):
    type: Literal["message_deleted"]
    message_id: Id
    by: ev.MessageDeletedBy

    def build(self, b: Build) -> ev.Event:
        return ev.MessageDeleted(ts=self.ts, source=b.source, message_id=self.message_id,
                                 by=self.by)


def _target(t: Target) -> TargetRef:
    return TargetRef(t.kind, t.id)


class ReportEvent(_Event):
    """Not taken by `POST /v1/events`: reports enter through their scoped endpoints."""

    type: Literal["report"]
    report: Report

    def build(self, b: Build) -> ev.Event:
        r = self.report
        notifier = None if r.notifier is None else {
            k: v for k, v in r.notifier.items() if v is not None}
        return ev.ReportFiled(ts=self.ts, source=b.source, report=ev.Report(
            id=r.id, source=r.source, target=_target(r.target),
            category_claimed=r.category_claimed, explanation=r.explanation,
            reporter_id=r.reporter_id, notifier=notifier, flagger=r.flagger,
            notice_id=r.notice_id, bona_fide=r.bona_fide, locator=r.locator))


class OrderUpdateEvent(_Event):
    """What happened to an authority's order (LCEN 6-2 II). Not taken by `POST /v1/events`
    (see `POST /v1/orders/{id}/updates`)."""

    type: Literal["order_update"]
    report_id: Id
    status: ev.OrderStatus
    note: Text | None = None

    def build(self, b: Build) -> ev.Event:
        return ev.OrderUpdated(ts=self.ts, source=b.source, report_id=self.report_id,
                               status=self.status, note=self.note)


class ComplaintEvent(_Event):
    """Not taken by `POST /v1/events` (see `POST /v1/appeals`)."""

    type: Literal["complaint"]
    complaint: Complaint

    def build(self, b: Build) -> ev.Event:
        c = self.complaint
        return ev.ComplaintFiled(ts=self.ts, source=b.source, complaint=ev.Complaint(
            id=c.id, target=_target(c.target), by=c.by, complainant_id=c.complainant_id,
            decision_id=c.decision_id, report_id=c.report_id, explanation=c.explanation,
            email=c.email))


PlatformEvent = Annotated[
    UserSeenEvent | GuildCreatedEvent | GuildUpdatedEvent | GuildDeletedEvent
    | ChannelCreatedEvent | ChannelDeletedEvent | MemberJoinedEvent | MemberLeftEvent
    | InviteCreatedEvent | MessageEvent | MessageDeletedEvent,
    Field(discriminator="type")]
"""What a platform observes and sends to `POST /v1/events` (`events.PLATFORM_TYPES`)."""

AnyEvent = Annotated[
    UserSeenEvent | GuildCreatedEvent | GuildUpdatedEvent | GuildDeletedEvent
    | ChannelCreatedEvent | ChannelDeletedEvent | MemberJoinedEvent | MemberLeftEvent
    | InviteCreatedEvent | MessageEvent | MessageDeletedEvent | ReportEvent | OrderUpdateEvent
    | ComplaintEvent,
    Field(discriminator="type")]
"""Every event an event log (`veilleur scan`, `veilleur replay`) may hold."""

ANY_EVENT: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)
PLATFORM_EVENT: TypeAdapter[PlatformEvent] = TypeAdapter(PlatformEvent)

MODELS: dict[str, type[_Event]] = {
    m.model_fields["type"].annotation.__args__[0]: m  # type: ignore[union-attr]
    for m in (UserSeenEvent, GuildCreatedEvent, GuildUpdatedEvent, GuildDeletedEvent,
              ChannelCreatedEvent, ChannelDeletedEvent, MemberJoinedEvent, MemberLeftEvent,
              InviteCreatedEvent,
              MessageEvent, MessageDeletedEvent, ReportEvent, OrderUpdateEvent, ComplaintEvent)}
"""Each event type's model, by its `type`."""


# --- validation -----------------------------------------------------------------------------


def validate(raw: Any) -> _Event:
    """The event `raw` (decoded JSON) as its model, or `EventFormatError` naming what is
    wrong."""
    try:
        return ANY_EVENT.validate_python(raw)
    except ValidationError as exc:
        raise EventFormatError(describe(exc)) from None


def parse(raw: Any, b: Build) -> ev.Event:
    return validate(raw).build(b)


def describe(exc: ValidationError, most: int = 3) -> str:
    """One line: each fault with the field's path (`message.attachments[0].id`)."""
    errors = exc.errors(include_url=False)
    said = [_one(e) for e in errors[:most]]
    more = len(errors) - most
    return "; ".join(said) + (f" (and {more} more)" if more > 0 else "")


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _choices(expected: str) -> str:
    # pydantic says "'a', 'b' or 'c'"; a plain list reads better in one line.
    return expected.replace("'", "").replace(" or ", ", ")


def _one(e: ErrorDetails) -> str:
    kind, loc, ctx = e["type"], e["loc"], e.get("ctx") or {}
    if kind == "union_tag_invalid" and isinstance(e["input"], dict) and \
            not isinstance(e["input"].get("type"), str):
        return f"'type' must be a string, got {kind_of(e['input'].get('type'))}"
    if kind == "union_tag_invalid":
        return (f"unknown event type {ctx.get('tag')!r} (the types are "
                f"{_choices(str(ctx.get('expected_tags', '')))})")
    if kind == "union_tag_not_found":
        return "missing 'type'"
    # Under a union, the first element of `loc` is the variant's tag: not a field.
    path = _path(tuple(loc[1:]))
    if not path:
        return f"the event must be an object, got {kind_of(e['input'])}"
    field = f"'{path}'"
    got = kind_of(e["input"])
    if kind == "missing":
        return f"missing {field}"
    if kind == "event_field":
        return f"{field} {ctx['what']}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{field} must be an object, got {got}"
    if kind == "string_type":
        return f"{field} must be a string, got {got}"
    if kind == "bool_type":
        return f"{field} must be true or false, got {got}"
    if kind == "list_type":
        return f"{field} must be an array, got {got}"
    if kind in ("literal_error", "enum"):
        shown = repr(e["input"]) if isinstance(e["input"], str) else got
        return f"{field} must be one of {_choices(str(ctx.get('expected', '')))}; got {shown}"
    return f"{field}: {e['msg']}"
