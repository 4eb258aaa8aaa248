"""The JSON Lines event log of contracts §5, streamed a line at a time.

A bad line is reported with its number and skipped; every good line before and after it is kept.

Every event type is read here, those of legal weight too (`events.LEGAL_TYPES`: reports,
authority orders and their updates, complaints): an event log given to the CLI (`scan`,
`replay`) is the operator's own trusted input. The service does not take them as raw
events: `Runtime.accept` lets each door take only its own types, so they enter only
through their scoped endpoints.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from veilleur.events import (
    ORDER_STATUSES,
    AgeBand,
    Channel,
    ChannelCreated,
    ChannelKind,
    Complaint,
    ComplaintFiled,
    Event,
    Guild,
    GuildCreated,
    GuildDeleted,
    GuildUpdated,
    InviteCreated,
    MemberJoined,
    MemberLeft,
    Message,
    MessageDeleted,
    MessagePosted,
    OrderUpdated,
    Report,
    ReportFiled,
    ReportSource,
    User,
    UserSeen,
)
from veilleur.ingest import fields as F
from veilleur.ingest.media import MediaReader, report_media_errors
from veilleur.ingest.problems import ProblemLog
from veilleur.taxonomy import Target, TargetKind


def read_eventlog(
    path: Path,
    problems: ProblemLog,
    media: MediaReader,
    on_bytes: Callable[[int], None] | None = None,
) -> Iterator[Event]:
    source = str(path)
    try:
        with path.open("rb") as f:
            for lineno, raw_line in enumerate(f, start=1):
                if on_bytes is not None:
                    on_bytes(len(raw_line))
                line = raw_line.strip()
                if not line:
                    continue
                try:
                    event = parse_event(json.loads(line), path.parent, media, source)
                except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                    problems.report(source, f"not valid JSON: {exc}", f"line {lineno}")
                except F.FieldError as exc:
                    problems.report(source, f"skipped bad event: {exc}", f"line {lineno}")
                else:
                    report_media_errors(event, problems, f"line {lineno}")
                    yield event
    except OSError as exc:
        problems.report(source, f"cannot read file: {exc.strerror or exc}", fatal=True)


def parse_event(raw: Any, base_dir: Path, media: MediaReader, source: str | None = None) -> Event:
    d = F.obj(raw, "event")
    kind = F.text(d, "type")
    ts = F.timestamp(d, "ts")
    parser = _PARSERS.get(kind)
    if parser is None:
        raise F.FieldError(f"unknown event type {kind!r}")
    return parser(d, ts, base_dir, media, source)


def _user(d: dict[str, Any], ts: Any, _b: Path, _m: MediaReader, source: str | None) -> Event:
    u = F.obj(d.get("user"), "'user'")
    band = F.opt_text(u, "age_band")
    try:
        age_band = AgeBand(band) if band is not None else None
    except ValueError:
        raise F.FieldError(f"unknown age_band {band!r}") from None
    user = User(
        id=F.snowflake(u, "id"),
        name=F.text(u, "name", ""),
        created_at=F.opt_timestamp(u, "created_at"),
        age_band=age_band,
    )
    return UserSeen(ts=ts, user=user, source=source)


def _guild_of(d: dict[str, Any]) -> Guild:
    g = F.obj(d.get("guild"), "'guild'")
    return Guild(
        id=F.snowflake(g, "id"),
        name=F.opt_text(g, "name"),
        owner_id=F.opt_snowflake(g, "owner_id"),
        description=F.opt_text(g, "description"),
    )


def _guild_created(d: dict[str, Any], ts: Any, _b: Path, _m: MediaReader, source: str | None
                   ) -> Event:
    return GuildCreated(ts=ts, guild=_guild_of(d), source=source)


def _guild_updated(d: dict[str, Any], ts: Any, _b: Path, _m: MediaReader, source: str | None
                   ) -> Event:
    return GuildUpdated(ts=ts, guild=_guild_of(d), source=source)


def _guild_deleted(d: dict[str, Any], ts: Any, _b: Path, _m: MediaReader, source: str | None
                   ) -> Event:
    by = _choice(d, "by", ("owner", "platform"))
    return GuildDeleted(ts=ts, guild_id=F.snowflake(d, "guild_id"), by=by, source=source)  # type: ignore[arg-type]


def _channel(d: dict[str, Any], ts: Any, _b: Path, _m: MediaReader, source: str | None) -> Event:
    c = F.obj(d.get("channel"), "'channel'")
    kind = F.opt_text(c, "kind") or "text"
    try:
        channel_kind = ChannelKind(kind)
    except ValueError:
        channel_kind = ChannelKind.OTHER  # unknown kinds are kept, not rejected
    channel = Channel(
        id=F.snowflake(c, "id"),
        guild_id=F.opt_snowflake(c, "guild_id"),
        name=F.text(c, "name", ""),
        topic=F.opt_text(c, "topic"),
        kind=channel_kind,
    )
    return ChannelCreated(ts=ts, channel=channel, source=source)


def _joined(d: dict[str, Any], ts: Any, _b: Path, _m: MediaReader, source: str | None) -> Event:
    return MemberJoined(
        ts=ts,
        guild_id=F.snowflake(d, "guild_id"),
        user_id=F.snowflake(d, "user_id"),
        invite_code=F.opt_text(d, "invite_code"),
        source=source,
    )


def _left(d: dict[str, Any], ts: Any, _b: Path, _m: MediaReader, source: str | None) -> Event:
    return MemberLeft(
        ts=ts, guild_id=F.snowflake(d, "guild_id"), user_id=F.snowflake(d, "user_id"),
        source=source,
    )


def _invite(d: dict[str, Any], ts: Any, _b: Path, _m: MediaReader, source: str | None) -> Event:
    i = F.obj(d.get("invite"), "'invite'")
    return InviteCreated(
        ts=ts,
        code=F.text(i, "code"),
        guild_id=F.snowflake(i, "guild_id"),
        inviter_id=F.snowflake(i, "inviter_id"),
        source=source,
    )


def _message(d: dict[str, Any], ts: Any, base_dir: Path, media: MediaReader, source: str | None
             ) -> Event:
    m = F.obj(d.get("message"), "'message'")
    attachments = []
    for i, item in enumerate(F.array(m, "attachments")):
        a = F.obj(item, f"attachment #{i + 1}")
        attachments.append(
            media.attachment(
                id=F.snowflake(a, "id"),
                ref=F.opt_text(a, "path"),
                base_dir=base_dir,
                content_type=F.opt_text(a, "content_type"),
            )
        )
    recipients = F.array(m, "recipient_ids")
    if not all(isinstance(r, str) for r in recipients):
        raise F.FieldError("'recipient_ids' must be an array of string ids")
    message = Message(
        id=F.snowflake(m, "id"),
        channel_id=F.snowflake(m, "channel_id"),
        guild_id=F.opt_snowflake(m, "guild_id"),
        author_id=F.snowflake(m, "author_id"),
        content=F.text(m, "content", ""),
        attachments=tuple(attachments),
        recipient_ids=tuple(recipients),
    )
    return MessagePosted(ts=ts, message=message, source=source)


def _deleted(d: dict[str, Any], ts: Any, _b: Path, _m: MediaReader, source: str | None) -> Event:
    by = _choice(d, "by", ("author", "moderator", "platform"))
    return MessageDeleted(ts=ts, message_id=F.snowflake(d, "message_id"), by=by,  # type: ignore[arg-type]
                          source=source)


def _report(d: dict[str, Any], ts: Any, _b: Path, _m: MediaReader, source: str | None) -> Event:
    r = F.obj(d.get("report"), "'report'")
    t = F.obj(r.get("target"), "'target'")
    try:
        report_source = ReportSource(F.text(r, "source"))
        target = Target(TargetKind(F.text(t, "kind")), F.snowflake(t, "id"))
    except ValueError as exc:
        if isinstance(exc, F.FieldError):
            raise
        raise F.FieldError(f"report: {exc}") from None
    notifier = F.opt_obj(r, "notifier")
    report = Report(
        id=F.snowflake(r, "id"),
        source=report_source,
        target=target,
        category_claimed=F.opt_text(r, "category_claimed"),
        explanation=F.opt_text(r, "explanation"),
        reporter_id=F.opt_snowflake(r, "reporter_id"),
        notifier={str(k): str(v) for k, v in notifier.items()} if notifier else None,
        flagger=F.opt_text(r, "flagger"),
        notice_id=F.opt_text(r, "notice_id"),
        bona_fide=F.flag(r, "bona_fide") if "bona_fide" in r else None,
        locator=F.opt_text(r, "locator"),
    )
    return ReportFiled(ts=ts, report=report, source=source)


def _complaint(d: dict[str, Any], ts: Any, _b: Path, _m: MediaReader, source: str | None
               ) -> Event:
    c = F.obj(d.get("complaint"), "'complaint'")
    t = F.obj(c.get("target"), "'target'")
    try:
        target = Target(TargetKind(F.text(t, "kind")), F.snowflake(t, "id"))
    except ValueError as exc:
        if isinstance(exc, F.FieldError):
            raise
        raise F.FieldError(f"complaint: {exc}") from None
    by = _choice(c, "by", ("affected", "notifier"))
    complaint = Complaint(
        id=F.snowflake(c, "id"), target=target, by=by,  # type: ignore[arg-type]
        complainant_id=F.opt_snowflake(c, "complainant_id"),
        decision_id=F.opt_text(c, "decision_id"), report_id=F.opt_snowflake(c, "report_id"),
        explanation=F.opt_text(c, "explanation"), email=F.opt_text(c, "email"))
    return ComplaintFiled(ts=ts, complaint=complaint, source=source)


def _order_update(d: dict[str, Any], ts: Any, _b: Path, _m: MediaReader, source: str | None
                  ) -> Event:
    status = _choice(d, "status", ORDER_STATUSES)
    return OrderUpdated(ts=ts, report_id=F.snowflake(d, "report_id"), status=status,  # type: ignore[arg-type]
                        note=F.opt_text(d, "note"), source=source)


def _choice(d: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = F.text(d, key)
    if value not in allowed:
        raise F.FieldError(f"'{key}' must be one of {', '.join(allowed)}; got {value!r}")
    return value


_PARSERS: dict[str, Callable[[dict[str, Any], Any, Path, MediaReader, str | None], Event]] = {
    "user_seen": _user,
    "guild_created": _guild_created,
    "guild_updated": _guild_updated,
    "guild_deleted": _guild_deleted,
    "channel_created": _channel,
    "member_joined": _joined,
    "member_left": _left,
    "invite_created": _invite,
    "message": _message,
    "message_deleted": _deleted,
    "report": _report,
    "order_update": _order_update,
    "complaint": _complaint,
}
