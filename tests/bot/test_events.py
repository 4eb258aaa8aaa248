"""Each Discord event the bot listens to becomes the engine's events, in the wire format
(`eventformat` validates every one), with Discord's ids as event ids."""

from __future__ import annotations

from unittest.mock import MagicMock

import discord

from tests.bot import fakes as f
from veilleur import eventformat
from veilleur.bot import events as bev

AUTHOR = (700_000_000_000_000_007, "lea")


def _types(raws: list[dict]) -> list[str]:
    return [eventformat.validate(r).type for r in raws]


def setup() -> tuple[MagicMock, discord.Guild, discord.TextChannel]:
    st = f.state()
    g = f.guild(st, f.snowflake(), "Le Salon")
    ch = f.text_channel(st, g, f.snowflake(), "general", topic="on parle")
    return st, g, ch


def test_a_message_in_a_server_carries_text_place_author_and_attachment_references() -> None:
    st, g, ch = setup()
    mid = f.snowflake(f.later(3))
    m = f.message(st, ch, mid, AUTHOR, "salut", attachments=[f.attachment(f.snowflake())])
    raw = bev.message(m)
    assert raw["type"] == "message" and raw["event_id"] == f"discord:message:{mid}"
    body = raw["message"]
    assert body["guild_id"] == str(g.id) and body["channel_id"] == str(ch.id)
    assert body["author_id"] == str(AUTHOR[0]) and body["content"] == "salut"
    [att] = body["attachments"]
    assert att["path"].startswith("https://cdn.discordapp.com/")  # a reference, not fetched
    assert att["content_type"] == "image/png"
    assert raw["ts"].startswith("2026-12-01T10:03")  # the time Discord's id carries
    event = eventformat.validate(raw)
    assert event.type == "message"


def test_attachments_are_bounded_in_number_and_label_length() -> None:
    st, _g, ch = setup()
    many = [f.attachment(f.snowflake(), content_type="image/" + "x" * 2000) for _ in range(14)]
    raw = bev.message(f.message(st, ch, f.snowflake(), AUTHOR, "", attachments=many))
    atts = raw["message"]["attachments"]
    assert len(atts) == bev.MAX_ATTACHMENTS
    assert all(len(a["content_type"]) <= bev.MAX_FIELD for a in atts)


def test_a_bots_welcome_card_is_read_and_a_pin_is_said() -> None:
    st, _g, ch = setup()
    card = {"type": "rich", "title": "Bienvenue", "description": "Lis les règles",
            "fields": [{"name": "Accès", "value": "envoie ta preuve en mp", "inline": False}],
            "footer": {"text": "staff du salon"}, "author": {"name": "Portier"}}
    raw = bev.message(f.message(st, ch, f.snowflake(), AUTHOR, "", embeds=[card],
                                pinned=True))
    text = raw["message"]["content"]
    for part in ("Bienvenue", "Lis les règles", "Accès", "envoie ta preuve en mp",
                 "staff du salon", "Portier"):
        assert part in text
    assert raw["message"]["pinned"] is True
    assert eventformat.validate(raw).build(_build()).message.pinned  # type: ignore[attr-defined]
    plain = bev.message(f.message(st, ch, f.snowflake(), AUTHOR, "salut"))
    assert plain["message"]["content"] == "salut" and plain["message"]["pinned"] is False


def _build() -> eventformat.Build:
    from pathlib import Path

    from veilleur.ingest.media import MediaReader

    return eventformat.Build(Path("."), MediaReader(), None)


def test_a_direct_message_has_no_server_and_names_its_recipient() -> None:
    st = f.state()
    dm = f.dm_channel(st, f.snowflake(), AUTHOR)
    raw = bev.message(f.message(st, dm, f.snowflake(), AUTHOR, "coucou"))
    assert raw["message"]["guild_id"] is None
    assert raw["message"]["recipient_ids"] == [str(f.BOT_ID)]


def test_an_edit_is_the_message_again_with_its_new_text_and_its_own_event_id() -> None:
    st, _g, ch = setup()
    mid = f.snowflake()
    m = f.message(st, ch, mid, AUTHOR, "now different", edited=f.later(9))
    raw = bev.edited(discord.RawMessageUpdateEvent({"id": str(mid), "channel_id": str(ch.id),
                                                    "content": "now different"}, m))
    assert raw is not None and raw["message"]["content"] == "now different"
    assert raw["event_id"] != bev.message(f.message(st, ch, mid, AUTHOR, "first"))["event_id"]
    assert raw["ts"].startswith("2026-12-01T10:09")
    # An embed unfolding is an update without text: nothing to send.
    assert bev.edited(discord.RawMessageUpdateEvent({"id": str(mid),
                                                     "channel_id": str(ch.id)}, m)) is None


def _pin(st: MagicMock, ch: discord.abc.Messageable, mid: int, text: str,
         before: discord.Message | None = None, *, pinned: bool = True
         ) -> discord.RawMessageUpdateEvent:
    """A pin as Discord sends it: the whole message again, `pinned`, with no edit time."""
    m = f.message(st, ch, mid, AUTHOR, text, pinned=pinned)
    data = {"id": str(mid), "channel_id": str(ch.id), "content": text, "pinned": pinned,
            "edited_timestamp": None}
    if getattr(ch, "guild", None) is not None:
        data["guild_id"] = str(ch.guild.id)
    raw = discord.RawMessageUpdateEvent(data, m)
    raw.cached_message = before
    return raw


def test_a_pin_is_told_once_under_its_own_event_id_and_is_no_edit() -> None:
    st, _g, ch = setup()
    mid = f.snowflake()
    post = bev.message(f.message(st, ch, mid, AUTHOR, "règles : pas de spam"))
    raw = _pin(st, ch, mid, "règles : pas de spam")
    assert bev.edited(raw) is None  # the same text, no edit time: the post's event again
    told = bev.pinned(raw)
    assert told is not None and told["message"]["pinned"] is True
    assert told["event_id"] == post["event_id"] + ":pinned"
    assert told["message"]["content"] == "règles : pas de spam"
    assert eventformat.validate(told).message.pinned  # type: ignore[attr-defined]
    # Known pinned already (the bot's cache), unpinned, or in a direct message: nothing.
    known = f.message(st, ch, mid, AUTHOR, "règles : pas de spam", pinned=True)
    assert bev.pinned(_pin(st, ch, mid, "règles : pas de spam", known)) is None
    assert bev.pinned(_pin(st, ch, mid, "règles : pas de spam", pinned=False)) is None
    dm = f.dm_channel(st, f.snowflake(), AUTHOR)
    assert bev.pinned(_pin(st, dm, f.snowflake(), "coucou")) is None



def test_a_message_edited_earlier_then_pinned_is_a_pin_when_the_bot_knew_the_edit() -> None:
    st, _g, ch = setup()
    mid = f.snowflake()
    before = f.message(st, ch, mid, AUTHOR, "règles v2", edited=f.later(4))
    after = f.message(st, ch, mid, AUTHOR, "règles v2", edited=f.later(4), pinned=True)
    raw = discord.RawMessageUpdateEvent(
        {"id": str(mid), "channel_id": str(ch.id), "guild_id": str(ch.guild.id),
         "content": "règles v2", "pinned": True,
         "edited_timestamp": f.later(4).isoformat()}, after)
    raw.cached_message = before
    assert bev.edited(raw) is None
    told = bev.pinned(raw)
    assert told is not None and told["event_id"].endswith(":pinned")
    assert told["event_id"] == bev.message(before)["event_id"] + ":pinned"


def test_deletions_raw_and_bulk() -> None:
    _st, g, ch = setup()
    one = bev.deleted(discord.RawMessageDeleteEvent({"id": "42", "channel_id": str(ch.id),
                                                     "guild_id": str(g.id)}), f.T0)
    assert one["message_id"] == "42" and one["by"] == "author"
    bulk = bev.bulk_deleted(discord.RawBulkMessageDeleteEvent(
        {"ids": ["43", "44"], "channel_id": str(ch.id), "guild_id": str(g.id)}), f.T0)
    assert [b["message_id"] for b in bulk] == ["43", "44"]
    assert {b["by"] for b in bulk} == {"moderator"}
    assert _types([one, *bulk]) == ["message_deleted"] * 3


def test_channels_created_and_updated_carry_name_topic_and_kind() -> None:
    st, g, _ch = setup()
    c = f.text_channel(st, g, f.snowflake(), "catalogue-vip", topic="packs")
    thread_like = f.text_channel(st, g, f.snowflake(), "annonces", kind=5)  # news
    raws = [bev.channel(c, f.T0), bev.channel(thread_like, f.T0)]
    assert _types(raws) == ["channel_created", "channel_created"]
    assert raws[0]["channel"] | {} == {"id": str(c.id), "guild_id": str(g.id),
                                      "name": "catalogue-vip", "topic": "packs",
                                      "kind": "text"}
    assert raws[1]["channel"]["kind"] == "news"
    renamed = f.text_channel(st, g, c.id, "catalogue-vip-2", topic="packs")
    assert bev.channel(renamed, f.T0)["event_id"] != raws[0]["event_id"]


def test_a_server_joined_is_the_server_then_its_channels_and_its_updates() -> None:
    st, g, ch = setup()
    raws = bev.guild(g, f.T0)
    assert _types(raws) == ["guild_created", "channel_created"]
    assert raws[0]["guild"]["name"] == "Le Salon" and raws[1]["channel"]["id"] == str(ch.id)
    after = f.guild(st, g.id, "Le Salon (nouveau)")
    up = bev.guild_updated(g, after, f.T0)
    assert up is not None and up["type"] == "guild_updated"
    assert up["guild"]["name"] == "Le Salon (nouveau)"
    assert bev.guild_updated(g, g, f.T0) is None


def test_a_servers_roles_are_its_own_words_highest_first_and_their_changes_are_said() -> None:
    st = f.state()
    perms = discord.Permissions.none()
    g = f.guild(st, f.snowflake(), "Club", roles=[
        f.role_data(f.snowflake(), "Coach U13", perms, 3),
        f.role_data(f.snowflake(), "  ", perms, 2),
        f.role_data(f.snowflake(), "x" * 300, perms, 1)])
    [created, *_] = bev.guild(g, f.T0)
    roles = created["guild"]["roles"]
    assert roles[:2] == ["Veilleur", "Coach U13"] and "@everyone" not in roles
    assert roles[2] == "x" * 100 and len(roles) == 3  # cut as Discord cuts; blanks dropped
    # Found again at a start: the same server is the same event, new roles a new one.
    assert bev.guild(g, f.later(5))[0]["event_id"] == created["event_id"]
    g2 = f.guild(st, g.id, "Club", roles=[f.role_data(f.snowflake(), "Coach U15", perms, 3)])
    assert bev.guild(g2, f.T0)[0]["event_id"] != created["event_id"]
    up = bev.roles_changed(g, f.T0)
    assert up["type"] == "guild_updated" and up["guild"] == {"id": str(g.id), "roles": roles}
    built = eventformat.validate(up).build(_build())
    assert built.guild.roles == tuple(roles)  # type: ignore[attr-defined]


def test_joins_leaves_member_updates_and_bans() -> None:
    st, g, _ch = setup()
    m = f.member(st, g, AUTHOR[0], AUTHOR[1], joined=f.later(1))
    raws = bev.member_joined(m)
    assert _types(raws) == ["user_seen", "member_joined"]
    assert raws[0]["user"]["created_at"]  # the account's age, from its id
    left = bev.member_left(discord.RawMemberRemoveEvent({"guild_id": str(g.id),
                                                         "user": f.user_data(*AUTHOR)},
                                                        m._user), f.later(2))
    assert left["type"] == "member_left" and left["user_id"] == str(AUTHOR[0])
    renamed = f.member(st, g, AUTHOR[0], "lea_officiel")
    seen = bev.member_updated(m, renamed, f.later(3))
    assert seen is not None and seen["user"]["name"] == "lea_officiel"
    assert bev.member_updated(m, m, f.later(3)) is None
    ban = bev.banned(g, m._user, f.later(4))
    assert eventformat.validate(ban).type == "member_left"


def test_invites_need_an_inviter() -> None:
    st, g, ch = setup()
    data = {"code": "AbCd12", "guild": {"id": str(g.id), "name": g.name},
            "channel": {"id": str(ch.id), "name": ch.name, "type": 0},
            "inviter": f.user_data(*AUTHOR), "created_at": f.T0.isoformat()}
    inv = discord.Invite(state=st, data=data, guild=g, channel=ch)
    raw = bev.invite_created(inv, f.T0)
    assert raw is not None and raw["invite"] == {"code": "AbCd12", "guild_id": str(g.id),
                                                 "inviter_id": str(AUTHOR[0])}
    no_inviter = discord.Invite(state=st, data={k: v for k, v in data.items()
                                                if k != "inviter"}, guild=g, channel=ch)
    assert bev.invite_created(no_inviter, f.T0) is None


def test_automod_executions_on_a_posted_message_are_that_message() -> None:
    st, g, ch = setup()
    mid = f.snowflake()
    data = {"guild_id": str(g.id), "action": {"type": 2, "metadata": {"channel_id": "1"}},
            "rule_id": "3", "rule_trigger_type": 1, "user_id": str(AUTHOR[0]),
            "channel_id": str(ch.id), "message_id": str(mid), "content": "mot interdit",
            "matched_keyword": "interdit", "matched_content": "interdit"}
    raw = bev.automod(discord.AutoModAction(data=data, state=st), f.T0)
    # Its own event id: the gateway's message (with its files) is not dropped as a repeat.
    assert raw is not None and raw["event_id"] == f"discord:automod:{mid}:3:2"
    assert raw["message"]["id"] == str(mid)
    assert raw["message"]["content"] == "mot interdit"
    # A blocked attempt never existed on Discord: sent as a message of its own (an id made
    # from the attempt), the block and the alert within ten seconds being one event.
    blocked = {**data, "action": {"type": 1}, "message_id": None}
    alert = {**data, "action": {"type": 2, "metadata": {"channel_id": "1"}},
             "message_id": None}
    first = bev.automod(discord.AutoModAction(data=blocked, state=st), f.T0)
    second = bev.automod(discord.AutoModAction(data=alert, state=st), f.later(0))
    assert first is not None and second is not None
    assert first["event_id"] == second["event_id"] != raw["event_id"]
    assert first["message"]["id"].isdigit() and first["message"]["id"] != str(mid)
    assert first["message"]["content"] == "mot interdit"
    later = bev.automod(discord.AutoModAction(data=blocked, state=st), f.later(1))
    assert later is not None and later["event_id"] != first["event_id"]  # a new attempt
    no_text = {**blocked, "content": ""}
    assert bev.automod(discord.AutoModAction(data=no_text, state=st), f.T0) is None


def test_a_thread_names_its_channel_and_a_channel_its_category() -> None:
    st, g, ch = setup()
    thread = discord.Thread(guild=g, state=st, data={
        "id": str(f.snowflake()), "guild_id": str(g.id), "parent_id": str(ch.id),
        "owner_id": str(AUTHOR[0]), "name": "vos ex", "type": 11, "message_count": 0,
        "member_count": 0, "rate_limit_per_user": 0, "thread_metadata": {
            "archived": False, "auto_archive_duration": 1440,
            "archive_timestamp": f.T0.isoformat(), "locked": False}})
    raw = bev.channel(thread, f.T0)
    assert raw["channel"]["parent_id"] == str(ch.id)
    assert eventformat.validate(raw).channel.parent_id == str(ch.id)  # type: ignore[attr-defined]


def test_channel_changes_are_never_dropped_as_repeats() -> None:
    """A change past the 120th character, and a name changed back, are new events."""
    st, g, _ch = setup()
    long_name = "n" * 100
    first = f.text_channel(st, g, 4242, long_name, topic="a")
    late = f.text_channel(st, g, 4242, long_name, topic="b")
    a, b = bev.channel(first, f.T0), bev.channel(late, f.later(1))
    assert a["event_id"] != b["event_id"] and len(a["event_id"]) <= 120
    named_a = f.text_channel(st, g, 4243, "a")
    named_b = f.text_channel(st, g, 4243, "b")
    ids = {bev.channel(named_a, f.T0)["event_id"], bev.channel(named_b, f.later(1))["event_id"],
           bev.channel(named_a, f.later(2))["event_id"]}
    assert len(ids) == 3
    # A replay of one update is still a repeat.
    assert bev.channel(named_a, f.T0)["event_id"] == bev.channel(named_a, f.T0)["event_id"]
