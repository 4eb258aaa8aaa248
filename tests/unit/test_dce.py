from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

from tests.conftest import Reader
from tests.factories import (
    attachment,
    author,
    dm_export,
    export,
    gradient_png,
    message,
    write,
)
from veilleur.events import ChannelCreated, ChannelKind, GuildCreated, MessagePosted


def messages(events: list) -> list[MessagePosted]:
    return [e for e in events if isinstance(e, MessagePosted)]


def test_guild_export_gives_guild_channel_and_messages(tmp_path: Path, read: Reader) -> None:
    doc = export([message("hello", id="11"), message("again", id="12")], guild_name="Srv",
                 channel_name="general", topic="welcome")
    events, problems = read(write(tmp_path / "a.json", doc))
    assert not problems
    guild, channel = events[0], events[1]
    assert isinstance(guild, GuildCreated) and guild.guild.name == "Srv"
    assert isinstance(channel, ChannelCreated)
    assert channel.channel.name == "general" and channel.channel.topic == "welcome"
    assert channel.channel.kind is ChannelKind.TEXT
    # categoryId equal to the guild id means "no category", not a parent channel
    assert channel.channel.parent_id is None
    assert [m.message.id for m in messages(events)] == ["11", "12"]
    m = messages(events)[0]
    assert m.message.guild_id == doc["guild"]["id"]
    assert m.author is not None and m.author.name == "alice"
    assert m.source == str(tmp_path / "a.json")


def test_dm_export_has_no_guild(tmp_path: Path, read: Reader) -> None:
    events, problems = read(write(tmp_path / "dm.json", dm_export([message("hi")])))
    assert not problems
    assert not any(isinstance(e, GuildCreated) for e in events)
    channel = next(e for e in events if isinstance(e, ChannelCreated))
    assert channel.channel.guild_id is None and channel.channel.kind is ChannelKind.DM
    assert messages(events)[0].message.guild_id is None


def test_thread_keeps_its_parent(tmp_path: Path, read: Reader) -> None:
    doc = export([message("in thread")], channel_type="GuildPublicThread", category="general")
    doc["channel"]["categoryId"] = "900000000000000077"
    events, _ = read(write(tmp_path / "t.json", doc))
    channel = next(e for e in events if isinstance(e, ChannelCreated)).channel
    assert channel.kind is ChannelKind.THREAD
    assert channel.parent_id == "900000000000000077" and channel.parent_name == "general"


def test_old_export_with_missing_keys(tmp_path: Path, read: Reader) -> None:
    m = message("old one", id="21")
    for key in ("stickers", "inlineEmojis", "reactions", "mentions", "embeds"):
        del m[key]
    for key in ("nickname", "roles", "color"):
        del m["author"][key]
    m["reference"] = {"messageId": "20", "channelId": "1", "guildId": "2"}  # no "type"
    doc = export([m])
    del doc["exportedAt"]
    events, problems = read(write(tmp_path / "old.json", doc))
    assert not problems
    posted = messages(events)[0]
    assert posted.message.reply_to == "20"
    assert posted.author is not None and posted.author.display_name is None


def test_unknown_enum_values_are_kept(tmp_path: Path, read: Reader) -> None:
    doc = export([message("x", type="46")], channel_type="GuildMediaChannel")
    doc["messages"][0]["type"] = "46"
    events, problems = read(write(tmp_path / "u.json", doc))
    assert not problems
    channel = next(e for e in events if isinstance(e, ChannelCreated)).channel
    assert channel.kind is ChannelKind.OTHER
    assert messages(events)[0].message.kind == "46"


def test_timestamps_with_offsets_become_utc(tmp_path: Path, read: Reader) -> None:
    doc = export([message("a", ts="2026-03-01T12:00:00.1234567+02:00"),
                  message("b", ts="2026-03-01T12:00:00-05:00")])
    events, problems = read(write(tmp_path / "ts.json", doc))
    assert not problems
    stamps = [m.ts for m in messages(events)]
    assert stamps[0] == datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert stamps[1] == datetime(2026, 3, 1, 17, 0, tzinfo=UTC)
    # the channel is dated by its first message, not the epoch
    channel = next(e for e in events if isinstance(e, ChannelCreated))
    assert channel.ts == stamps[0]


def test_duplicate_message_ids_are_all_read(tmp_path: Path, read: Reader) -> None:
    doc = export([message("first", id="5"), message("second", id="5")])
    events, problems = read(write(tmp_path / "d.json", doc))
    assert not problems
    assert [m.message.content for m in messages(events)] == ["first", "second"]


def test_local_media_is_hashed_windows_and_posix_paths(tmp_path: Path, read: Reader) -> None:
    png1, png2, png3 = gradient_png(seed=1), gradient_png(seed=2), gradient_png(seed=3)
    media_dir = tmp_path / "chan.json_Files"
    media_dir.mkdir()
    (media_dir / "a-1A2B3.png").write_bytes(png1)
    (media_dir / "b c-0123456789abcdef.png").write_bytes(png2)
    (media_dir / "c.png").write_bytes(png3)
    doc = export([message("media", attachments=[
        attachment("chan.json_Files\\a-1A2B3.png", id="a1"),
        attachment("chan.json_Files/b%20c-0123456789abcdef.png", id="a2"),
        attachment("./chan.json_Files//c.png", id="a3"),  # absolute paths: test_hostile_paths
    ])])
    events, problems = read(write(tmp_path / "chan.json", doc))
    assert not problems, list(problems)
    atts = messages(events)[0].message.attachments
    for att, data in zip(atts, (png1, png2, png3), strict=True):
        assert att.sha256 == hashlib.sha256(data).hexdigest()
        assert att.md5 == hashlib.md5(data).hexdigest()
        assert att.size == len(data) and att.path is not None
        assert att.content_type == "image/png"


def test_remote_urls_are_references_never_fetched(tmp_path: Path, read: Reader) -> None:
    url = "https://cdn.discordapp.com/attachments/1/2/photo.jpg?ex=1&is=2&hm=3"
    events, problems = read(write(tmp_path / "r.json", export([message("x", attachments=[
        attachment(url, id="r1", name="photo.jpg", size=1234)])])))
    assert not problems
    att = messages(events)[0].message.attachments[0]
    assert att.url == url and att.path is None and att.sha256 is None
    assert att.size == 1234 and att.content_type == "image/jpeg"


def test_missing_media_file_is_reported_and_message_kept(tmp_path: Path, read: Reader) -> None:
    events, problems = read(write(tmp_path / "m.json", export([message("x", id="77", attachments=[
        attachment("m.json_Files\\gone.png", id="g1")])])))
    assert len(messages(events)) == 1
    assert messages(events)[0].message.attachments[0].media_error
    (p,) = list(problems)
    assert "media file not found" in p.problem and "gone.png" in p.problem
    assert "77" in str(p)


def test_truncated_export_keeps_what_was_read(tmp_path: Path, read: Reader) -> None:
    doc = export([message(f"message {i}", id=str(100 + i)) for i in range(50)])
    text = json.dumps(doc, indent=2)
    cut = text.index('"message 30"')
    path = tmp_path / "cut.json"
    path.write_text(text[:cut])
    events, problems = read(path)
    got = [m.message.id for m in messages(events)]
    assert got == [str(100 + i) for i in range(30)]
    (p,) = list(problems)
    assert p.fatal and "truncated or corrupt after 30 messages" in p.problem
    assert str(path) in str(p)
    assert any(isinstance(e, GuildCreated) for e in events)


def test_not_json_is_one_clear_problem(tmp_path: Path, read: Reader) -> None:
    path = tmp_path / "notes.json"
    path.write_text("these are my notes, not an export\n")
    events, problems = read(path)
    assert events == []
    (p,) = list(problems)
    assert p.fatal and "not valid JSON" in p.problem and "notes.json" in str(p)


def test_file_cut_inside_the_header_says_so(tmp_path: Path, read: Reader) -> None:
    path = tmp_path / "cut.json"
    path.write_text('{"guild": {"id"')
    events, problems = read(path)
    assert events == []
    (p,) = list(problems)
    assert p.fatal and "ends before the document is complete (truncated?)" in p.problem


def test_json_that_is_not_an_export(tmp_path: Path, read: Reader) -> None:
    for name, doc, expected in [
        ("list.json", [1, 2], "top level is not an object"),
        ("nomsg.json", {"guild": {"id": "1"}, "channel": {"id": "2"}}, "no 'messages' array"),
        ("noguild.json", {"messages": []}, "missing 'guild' and 'channel'"),
        ("badid.json", {"guild": {"id": []}, "channel": {"id": "2"}, "messages": []},
         "'id' must be a non-empty string id"),
    ]:
        events, problems = read(write(tmp_path / name, doc))
        assert events == []
        (p,) = list(problems)
        assert expected in p.problem, p


def test_malformed_message_is_skipped_with_its_position(tmp_path: Path, read: Reader) -> None:
    bad = message("x", id="99")
    del bad["author"]
    doc = export([message("good", id="1"), bad, message("also good", id="3"), "oops"])
    events, problems = read(write(tmp_path / "mal.json", doc))
    assert [m.message.id for m in messages(events)] == ["1", "3"]
    lines = [str(p) for p in problems]
    assert any("message #2, id 99" in line and "'author'" in line for line in lines)
    assert any("message #4" in line and "must be an object" in line for line in lines)


def test_embeds_and_forwards_are_part_of_the_text(tmp_path: Path, read: Reader) -> None:
    m = message("look", embeds=[{"title": "Pack", "description": "desc", "url": "https://x.y/z"}],
                forwardedMessage={"content": "forwarded words", "attachments": []})
    events, _ = read(write(tmp_path / "e.json", export([m])))
    content = messages(events)[0].message.content
    for part in ("look", "Pack", "desc", "https://x.y/z", "forwarded words"):
        assert part in content


def test_a_bots_welcome_card_is_read_whole(tmp_path: Path, read: Reader) -> None:
    card = {"title": "Bienvenue", "description": "les règles", "author": {"name": "Portier"},
            "fields": [{"name": "Accès", "value": "preuve en mp", "isInline": False}],
            "footer": {"text": "le staff"}}
    odd = {"title": "Règles", "fields": [None, {"name": 3, "value": "lis tout"}],
           "footer": "staff", "author": ["x"]}
    events, problems = read(write(tmp_path / "w.json", export([
        message("", embeds=[card]), message("", embeds=[odd])])))
    content = messages(events)[0].message.content
    for part in ("Bienvenue", "les règles", "Portier", "Accès", "preuve en mp", "le staff"):
        assert part in content
    # a card's malformed extras are passed over: the message and the rest are kept
    assert not problems and messages(events)[1].message.content == "Règles\nlis tout"


def test_roles_are_told_as_server_updates_before_the_message_that_shows_them(
        tmp_path: Path, read: Reader) -> None:
    def role(name: object) -> dict:
        return {"id": "5", "name": name, "color": None, "position": 1}

    boss = author("7", "boss", roles=[role("Admin"), role("Acheteur"), role("  ")])
    fan = author("8", "fan", roles=[role("Acheteur"), role("x" * 300)])
    doc = export([message("a", id="1", user=boss, isPinned=True),
                  message("b", id="2", user=fan, mentions=[author("9", "m", roles=[
                      role("Modo")])]),
                  message("c", id="3", user=boss),
                  # roles are metadata beside the message: malformed ones are passed over
                  message("d", id="4", user=author("6", "odd", roles=[role(3), "x", None,
                                                                      role("Le\u202eBoss\n")]),
                          mentions=[None, "y"], isPinned=None)])
    events, problems = read(write(tmp_path / "r.json", doc))
    kinds = [(type(e).__name__, getattr(getattr(e, "guild", None), "roles", None))
             for e in events if not isinstance(e, ChannelCreated)]
    assert kinds == [("GuildCreated", None), ("GuildUpdated", ("Admin", "Acheteur")),
                     ("MessagePosted", None), ("GuildUpdated", ("x" * 100, "Modo")),
                     ("MessagePosted", None), ("MessagePosted", None),
                     ("GuildUpdated", ("LeBoss",)), ("MessagePosted", None)]
    assert [m.message.pinned for m in messages(events)] == [True, False, False, False]
    assert not problems


def test_folder_and_several_paths(tmp_path: Path, read: Reader) -> None:
    write(tmp_path / "exports" / "a.json", export([message("1", id="1")], channel_id="10"))
    write(tmp_path / "exports" / "sub" / "b.json", export([message("2", id="2")], channel_id="20"))
    (tmp_path / "exports" / "a.json_Files").mkdir()
    (tmp_path / "exports" / "a.json_Files" / "meta.json").write_text("{}")  # media, not an export
    (tmp_path / "exports" / "readme.txt").write_text("ignored")
    extra = write(tmp_path / "c.json", export([message("3", id="3")], channel_id="30"))
    events, problems = read(tmp_path / "exports", extra, extra)
    assert not problems
    assert sorted(m.message.id for m in messages(events)) == ["1", "2", "3"]


def test_missing_path_is_reported(tmp_path: Path, read: Reader) -> None:
    _, problems = read(tmp_path / "nope.json")
    (p,) = list(problems)
    assert "no such file or folder" in p.problem


def test_author_fields(tmp_path: Path, read: Reader) -> None:
    bot = author("42", "helper", isBot=True, nickname="Helper Bot")
    events, _ = read(write(tmp_path / "b.json", export([message("x", user=bot)])))
    a = messages(events)[0].author
    assert a is not None and a.is_bot and a.display_name == "Helper Bot" and a.id == "42"
