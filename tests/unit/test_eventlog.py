from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.conftest import Reader
from tests.factories import gradient_png
from veilleur.events import (
    AgeBand,
    ChannelCreated,
    ChannelKind,
    GuildCreated,
    GuildDeleted,
    GuildUpdated,
    InviteCreated,
    MemberJoined,
    MemberLeft,
    MessageDeleted,
    MessagePosted,
    ReportFiled,
    ReportSource,
    UserSeen,
)
from veilleur.taxonomy import Target, TargetKind

T = "2026-05-01T10:00:00Z"
ALL = [
    {"type": "user_seen", "ts": T, "user": {"id": "u1", "name": "kim", "age_band": "13_15",
                                            "created_at": "2026-04-01T00:00:00Z"}},
    {"type": "guild_created", "ts": T, "guild": {"id": "g1", "name": "srv", "owner_id": "u2"}},
    {"type": "guild_updated", "ts": T, "guild": {"id": "g1", "description": "new"}},
    {"type": "channel_created", "ts": T, "channel": {"id": "c1", "guild_id": "g1", "name": "x"}},
    {"type": "member_joined", "ts": T, "guild_id": "g1", "user_id": "u1", "invite_code": "abc"},
    {"type": "member_left", "ts": T, "guild_id": "g1", "user_id": "u1"},
    {"type": "invite_created", "ts": T, "invite": {"code": "abc", "guild_id": "g1",
                                                   "inviter_id": "u2"}},
    {"type": "message", "ts": T, "message": {"id": "m1", "channel_id": "dm1", "guild_id": None,
                                             "author_id": "u2", "content": "hi",
                                             "recipient_ids": ["u1"], "attachments": []}},
    {"type": "message_deleted", "ts": T, "message_id": "m1", "by": "author"},
    {"type": "guild_deleted", "ts": T, "guild_id": "g1", "by": "owner"},
    {"type": "report", "ts": T, "report": {"id": "r1", "source": "dsa_notice",
                                           "target": {"kind": "guild", "id": "g1"},
                                           "category_claimed": "csam",
                                           "notifier": {"name": "N", "email": "n@example.org"}}},
]


def write_log(path: Path, lines: list[object]) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


def test_every_event_type(tmp_path: Path, read: Reader) -> None:
    events, problems = read(write_log(tmp_path / "log.jsonl", ALL))
    assert not problems, list(problems)
    types = [type(e) for e in events]
    assert types == [UserSeen, GuildCreated, GuildUpdated, ChannelCreated, MemberJoined,
                     MemberLeft, InviteCreated, MessagePosted, MessageDeleted, GuildDeleted,
                     ReportFiled]
    user = events[0]
    assert isinstance(user, UserSeen) and user.user.age_band is AgeBand.AGE_13_15
    channel = events[3]
    assert isinstance(channel, ChannelCreated) and channel.channel.kind is ChannelKind.TEXT
    msg = events[7]
    assert isinstance(msg, MessagePosted)
    assert msg.message.guild_id is None and msg.message.recipient_ids == ("u1",)
    report = events[-1]
    assert isinstance(report, ReportFiled)
    assert report.report.source is ReportSource.DSA_NOTICE
    assert report.report.target == Target(TargetKind.GUILD, "g1")
    assert report.report.notifier == {"name": "N", "email": "n@example.org"}


def test_bad_lines_are_reported_and_the_rest_kept(tmp_path: Path, read: Reader) -> None:
    lines: list[object] = [
        ALL[1],
        "{not json",
        {"type": "teleport", "ts": T},
        {"type": "member_joined", "ts": "yesterday", "guild_id": "g", "user_id": "u"},
        {"type": "message_deleted", "ts": T, "message_id": "m", "by": "cat"},
        {"type": "report", "ts": T, "report": {"id": "r", "source": "pigeon",
                                               "target": {"kind": "guild", "id": "g"}}},
        {"type": "user_seen", "ts": T, "user": {"id": "u", "name": "n", "age_band": "42"}},
        "",
        ALL[5],
    ]
    events, problems = read(write_log(tmp_path / "log.jsonl", lines))
    assert [type(e) for e in events] == [GuildCreated, MemberLeft]
    text = [str(p) for p in problems]
    assert len(text) == 6
    assert "(line 2): not valid JSON" in text[0]
    assert "(line 3)" in text[1] and "unknown event type 'teleport'" in text[1]
    assert "(line 4)" in text[2] and "not an ISO 8601 timestamp" in text[2]
    assert "'by' must be one of author, moderator, platform" in text[3]
    assert "pigeon" in text[4]
    assert "'user.age_band' must be one of under_13, 13_15, 16_17, adult; got '42'" in text[5]


def test_attachment_paths_are_relative_to_the_log(tmp_path: Path, read: Reader) -> None:
    (tmp_path / "media").mkdir()
    data = gradient_png(seed=9)
    (tmp_path / "media" / "x.png").write_bytes(data)
    line = {"type": "message", "ts": T, "message": {
        "id": "m", "channel_id": "c", "guild_id": "g", "author_id": "u", "content": "",
        "attachments": [{"id": "a", "path": "media/x.png", "content_type": "image/png"},
                        {"id": "b", "path": "media/missing.png"}]}}
    events, problems = read(write_log(tmp_path / "log.jsonl", [line]))
    msg = events[0]
    assert isinstance(msg, MessagePosted)
    a, b = msg.message.attachments
    assert a.sha256 == hashlib.sha256(data).hexdigest() and a.content_type == "image/png"
    assert b.media_error is not None
    (p,) = list(problems)
    assert "line 1" in str(p) and "missing.png" in str(p)
