"""The gateway's handlers: every event kind reaches the engine in the order it came, the
bot's own messages are never read back, a deletion the bot made is a moderator's, and the
`/veilleur diagnose` reply."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import discord

from tests.bot import fakes as f
from veilleur.bot.client import Handlers, diagnosis_text
from veilleur.bot.execute import Executor
from veilleur.bot.plan import Answer, Evidence
from veilleur.bot.policy import parse_policy

AUTHOR = (700_000_000_000_000_009, "lea")


class FakeEngine:
    def __init__(self, verdict: str = "allow", categories: tuple[str, ...] = ("grooming",),
                 duplicate: bool = False) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []
        self.verdict = verdict
        self.categories = categories
        self.duplicate = duplicate

    async def send(self, raws: list[dict[str, Any]]) -> int:
        self.seen += [("send", r) for r in raws]
        return len(raws)

    spool = Path("/nonexistent-spool")

    async def judge(self, raw: dict[str, Any], *, fetched: bool = False) -> Answer:
        self.seen.append(("judge", raw))
        return Answer.of({"verdict": self.verdict, "duplicate": self.duplicate,
                          "findings": [{"category": c, "score": 0.9, "evidence": "e"}
                                       for c in self.categories]},
                         (Evidence("ev-1", "00" * 32),))

    async def evidence_of(self, _message_id: int) -> tuple[Evidence, ...]:
        return (Evidence("ev-1", "00" * 32),)


def handlers(engine: FakeEngine, policies: dict[int, Any] | None = None
             ) -> tuple[Handlers, Any]:
    http = f.http()
    h = Handlers(engine, policies or {}, Executor(http, engine.evidence_of),  # type: ignore[arg-type]
                 self_id=lambda: f.BOT_ID, clock=lambda: f.T0)
    return h, http


def test_a_pin_reaches_the_engine_as_the_message_pinned_and_is_not_judged() -> None:
    st = f.state()
    g = f.guild(st, f.snowflake(), "Le Salon")
    ch = f.text_channel(st, g, f.snowflake(), "règles")
    msg = f.message(st, ch, f.snowflake(), AUTHOR, "bienvenue, lisez les règles")
    pinned = f.message(st, ch, msg.id, AUTHOR, msg.content, pinned=True)
    engine = FakeEngine()
    h, _http = handlers(engine)

    async def feed() -> None:
        h.intake.start()
        h.message(msg)
        h.edit(discord.RawMessageUpdateEvent(
            {"id": str(msg.id), "channel_id": str(ch.id), "guild_id": str(g.id),
             "content": msg.content, "pinned": True, "edited_timestamp": None}, pinned))
        await h.settle()

    asyncio.run(feed())
    assert [(how, raw["message"]["pinned"]) for how, raw in engine.seen
            if raw["type"] == "message"] == [("judge", False), ("send", True)]


def test_an_edit_of_a_pinned_message_is_judged_once_and_says_pinned() -> None:
    st = f.state()
    g = f.guild(st, f.snowflake(), "Le Salon")
    ch = f.text_channel(st, g, f.snowflake(), "règles")
    mid = f.snowflake()
    edited = f.message(st, ch, mid, AUTHOR, "règles, version 2", edited=f.later(5),
                       pinned=True)
    engine = FakeEngine()
    h, _http = handlers(engine)

    async def feed() -> None:
        h.intake.start()
        h.edit(discord.RawMessageUpdateEvent(
            {"id": str(mid), "channel_id": str(ch.id), "guild_id": str(g.id),
             "content": edited.content, "pinned": True,
             "edited_timestamp": f.later(5).isoformat()}, edited))
        await h.settle()

    asyncio.run(feed())
    assert [(how, raw["message"]["pinned"]) for how, raw in engine.seen
            if raw["type"] == "message"] == [("judge", True)]


def test_every_event_kind_reaches_the_engine_in_order() -> None:
    st = f.state()
    g = f.guild(st, f.snowflake(), "Le Salon")
    ch = f.text_channel(st, g, f.snowflake(), "general")
    m = f.member(st, g, *AUTHOR)
    msg = f.message(st, ch, f.snowflake(), AUTHOR, "salut")
    edited = f.message(st, ch, msg.id, AUTHOR, "salut !", edited=f.later(1))
    invite = discord.Invite(state=st, guild=g, channel=ch, data={
        "code": "Zz9", "guild": {"id": str(g.id), "name": g.name},
        "channel": {"id": str(ch.id), "name": ch.name, "type": 0},
        "inviter": f.user_data(*AUTHOR)})
    automod = discord.AutoModAction(state=st, data={
        "guild_id": str(g.id), "action": {"type": 2, "metadata": {"channel_id": "1"}},
        "rule_id": "3", "rule_trigger_type": 1, "user_id": str(AUTHOR[0]),
        "channel_id": str(ch.id), "message_id": str(f.snowflake()), "content": "x",
        "matched_keyword": "x"})
    engine = FakeEngine()
    h, _http = handlers(engine)

    async def feed() -> None:
        h.intake.start()
        h.guild_available(g)
        h.channel(ch)
        h.member_joined(m)
        h.message(msg)
        h.message(f.message(st, ch, f.snowflake(), (f.BOT_ID, "veilleur"), "mod log"))
        h.edit(discord.RawMessageUpdateEvent({"id": str(msg.id), "channel_id": str(ch.id),
                                              "content": "salut !"}, edited))
        h.delete(discord.RawMessageDeleteEvent({"id": str(msg.id),
                                                "channel_id": str(ch.id)}))
        h.bulk_delete(discord.RawBulkMessageDeleteEvent({"ids": ["1"],
                                                         "channel_id": str(ch.id)}))
        h.guild_updated(g, f.guild(st, g.id, "Le Salon 2"))
        h.member_updated(m, f.member(st, g, AUTHOR[0], "lea2"))
        h.invite(invite)
        h.automod(automod)
        h.banned(g, m._user)
        h.member_left(discord.RawMemberRemoveEvent({"guild_id": str(g.id),
                                                    "user": f.user_data(*AUTHOR)}, m._user))
        h.channel_deleted(ch)  # its stored messages are marked gone
        await h.settle()

    asyncio.run(feed())
    assert [(how, raw["type"]) for how, raw in engine.seen] == [
        ("send", "guild_created"), ("send", "channel_created"), ("send", "channel_created"),
        ("send", "user_seen"), ("send", "member_joined"), ("judge", "message"),
        ("judge", "message"), ("send", "message_deleted"), ("send", "message_deleted"),
        ("send", "guild_updated"), ("send", "user_seen"), ("send", "invite_created"),
        ("judge", "message"), ("send", "member_left"), ("send", "member_left"),
        ("send", "channel_deleted")]
    assert engine.seen[7][1]["by"] == "author"


def posted_then_deleted(h: Handlers, msg: discord.Message) -> None:
    """`msg` posted and judged (its plan carried out), then deleted."""
    async def feed() -> None:
        h.intake.start()
        h.message(msg)
        await h.settle()
        h.delete(discord.RawMessageDeleteEvent({"id": str(msg.id),
                                                "channel_id": str(msg.channel.id)}))
        await h.settle()

    asyncio.run(feed())


def test_a_message_the_bot_held_is_deleted_by_a_moderator_and_the_author_is_never_told(
        ) -> None:
    st = f.state()
    g = f.guild(st, f.snowflake(), "Le Salon")
    ch = f.text_channel(st, g, f.snowflake(), "general")
    msg = f.message(st, ch, f.snowflake(), AUTHOR, "…")
    # csam alone would leave a notice: grooming found with it silences the channel.
    policy = parse_policy({"guild_id": str(g.id), "notice_in_channel": ["csam"],
                           "automatic": {"grooming": ["hold_message"],
                                         "csam": ["hold_message"]}}, "t")
    engine = FakeEngine("review", ("grooming", "csam"))
    h, http = handlers(engine, {g.id: policy})

    posted_then_deleted(h, msg)
    http.delete_message.assert_awaited_once()
    http.send_message.assert_not_awaited()  # silent, and this server has no mod log
    assert engine.seen[-1][1]["type"] == "message_deleted"
    assert engine.seen[-1][1]["by"] == "moderator"


def test_the_diagnose_reply() -> None:
    assert "Nothing is missing" in diagnosis_text([])
    assert diagnosis_text(["#a: missing View Channel"]) == \
        "The bot lacks:\n- #a: missing View Channel"
    assert len(diagnosis_text(["x" * 100] * 100)) <= 2000


def test_gateway_payloads_reach_the_handlers_through_discord_pys_own_parsers() -> None:
    """The bot's `on_*` methods are the ones discord.py dispatches: raw gateway payloads go
    through discord.py's `ConnectionState.parse_*`, as they would from the socket."""
    from veilleur.bot.client import VeilleurBot

    engine = FakeEngine()
    gid, cid, mid, uid = f.snowflake(), f.snowflake(), f.snowflake(), 700_000_000_000_000_042
    author = f.user_data(uid, "lea")
    member = {"roles": [], "joined_at": f.T0.isoformat(), "deaf": False, "mute": False,
              "flags": 0}
    msg = {"id": str(mid), "channel_id": str(cid), "guild_id": str(gid), "author": author,
           "content": "salut", "timestamp": f.T0.isoformat(), "edited_timestamp": None,
           "tts": False, "mention_everyone": False, "mentions": [], "mention_roles": [],
           "attachments": [], "embeds": [], "pinned": False, "type": 0, "member": member}
    channel = {"id": str(cid), "type": 0, "name": "general", "position": 0,
               "permission_overwrites": [], "guild_id": str(gid)}

    async def feed() -> None:
        bot = VeilleurBot(engine, {})  # type: ignore[arg-type]
        await bot._async_setup_hook()
        st = bot._connection
        st._chunk_guilds = False  # no socket to ask for members on
        st.user = discord.ClientUser(state=st, data=f.user_data(f.BOT_ID, "veilleur")
                                     | {"bot": True, "verified": True, "mfa_enabled": False})
        bot.handlers = Handlers(engine, {}, Executor(f.http(), engine.evidence_of),
                                self_id=lambda: f.BOT_ID)
        bot.handlers.intake.start()
        st.parse_guild_create({"id": str(gid), "name": "Le Salon", "owner_id": "5",
                               "roles": [{"id": str(gid), "name": "@everyone",
                                          "permissions": "0", "position": 0, "color": 0,
                                          "hoist": False, "managed": False,
                                          "mentionable": False}],
                               "channels": [channel], "member_count": 1,
                               "members": [{"user": f.user_data(f.BOT_ID, "veilleur"),
                                            **member}]})
        st.parse_channel_update(channel | {"name": "general-2"})
        st.parse_guild_member_add({"guild_id": str(gid), "user": author, **member})
        st.parse_message_create(msg)
        st.parse_message_update({**msg, "content": "salut !",
                                 "edited_timestamp": f.later(1).isoformat()})
        st.parse_message_delete({"id": str(mid), "channel_id": str(cid), "guild_id": str(gid)})
        st.parse_message_delete_bulk({"ids": ["1", "2"], "channel_id": str(cid),
                                      "guild_id": str(gid)})
        st.parse_invite_create({"code": "Zz9", "guild_id": str(gid), "channel_id": str(cid),
                                "inviter": author, "created_at": f.T0.isoformat(),
                                "max_age": 0, "max_uses": 0, "temporary": False, "uses": 0})
        st.parse_guild_ban_add({"guild_id": str(gid), "user": author})
        st.parse_guild_member_remove({"guild_id": str(gid), "user": author})
        st.parse_guild_update({"id": str(gid), "name": "Le Salon 2", "owner_id": "5",
                               "roles": []})
        st.parse_auto_moderation_action_execution({
            "guild_id": str(gid), "action": {"type": 2, "metadata": {"channel_id": str(cid)}},
            "rule_id": "3", "rule_trigger_type": 1, "user_id": str(uid),
            "channel_id": str(cid), "message_id": str(f.snowflake()), "content": "mot",
            "matched_keyword": "mot"})
        for _ in range(5):  # discord.py schedules each on_* as a task
            await asyncio.sleep(0)
        await bot.handlers.settle()
        await bot.close()

    asyncio.run(feed())
    assert [(how, raw["type"]) for how, raw in engine.seen] == [
        ("send", "guild_created"), ("send", "channel_created"), ("send", "channel_created"),
        ("send", "user_seen"), ("send", "member_joined"), ("judge", "message"),
        ("judge", "message"), ("send", "message_deleted"), ("send", "message_deleted"),
        ("send", "message_deleted"), ("send", "invite_created"), ("send", "member_left"),
        ("send", "member_left"), ("send", "guild_updated"), ("judge", "message")]
    assert engine.seen[2][1]["channel"]["name"] == "general-2"
    assert engine.seen[6][1]["message"]["content"] == "salut !"


def test_when_the_engine_stops_the_bot_stops_taking_events() -> None:
    from veilleur.service.runtime import EngineDown

    class DownEngine(FakeEngine):
        async def send(self, raws: list[dict[str, Any]]) -> int:
            self.seen += [("send", r) for r in raws]
            raise EngineDown("the store refused a checkpoint")

    st = f.state()
    g = f.guild(st, f.snowflake(), "Le Salon")
    engine = DownEngine()
    downs: list[str] = []
    h = Handlers(engine, {}, Executor(f.http(), engine.evidence_of),  # type: ignore[arg-type]
                 self_id=lambda: f.BOT_ID, on_down=downs.append)

    async def feed() -> None:
        h.intake.start()
        h.guild_available(g)
        h.message(f.message(st, f.text_channel(st, g, f.snowflake(), "x"), f.snowflake(),
                            AUTHOR, "salut"))
        await h.settle()

    asyncio.run(feed())
    assert downs == ["the store refused a checkpoint"]
    assert [how for how, _ in engine.seen] == ["send"]  # the message never judged


def test_the_diagnose_slash_command_answers_privately_with_what_is_missing() -> None:
    from unittest.mock import AsyncMock, MagicMock

    from veilleur.bot.client import VeilleurBot
    from veilleur.bot.permissions import permissions

    st = f.state()
    g = f.guild(st, f.snowflake(), "Le Salon", bot_permissions=permissions())
    f.text_channel(st, g, f.snowflake(), "general", overwrites=[
        {"id": str(g.me.top_role.id), "type": 0, "allow": "0",
         "deny": str(discord.Permissions(manage_messages=True).value)}])
    bot = VeilleurBot(FakeEngine(), {})  # type: ignore[arg-type]
    group = bot.tree.get_command("veilleur")
    assert isinstance(group, discord.app_commands.Group)
    assert group.default_permissions is None  # members use `report`; `diagnose` checks
    command = group.get_command("diagnose")
    assert isinstance(command, discord.app_commands.Command)
    interaction = MagicMock(guild=g)
    interaction.response.send_message = AsyncMock()
    asyncio.run(command.callback(interaction))  # type: ignore[call-arg]
    text = interaction.response.send_message.await_args.args[0]
    assert text == "The bot lacks:\n- #general: missing Manage Messages"
    assert interaction.response.send_message.await_args.kwargs == {"ephemeral": True}
    interaction.permissions.manage_guild = False
    asyncio.run(command.callback(interaction))  # type: ignore[call-arg]
    assert interaction.response.send_message.await_args.args[0].startswith("Only members")


def automod_action(st: Any, g: Any, ch: Any, mid: int) -> discord.AutoModAction:
    return discord.AutoModAction(state=st, data={
        "guild_id": str(g.id), "action": {"type": 2, "metadata": {"channel_id": "1"}},
        "rule_id": "3", "rule_trigger_type": 1, "user_id": str(AUTHOR[0]),
        "channel_id": str(ch.id), "message_id": str(mid), "content": "x",
        "matched_keyword": "x"})


def test_a_repeat_is_acted_on_once() -> None:
    """An embed's unfurl re-sends the message, the gateway replays after a resume, AutoMod
    reports the same message: one mod-log post, one time-out."""
    st = f.state()
    g = f.guild(st, f.snowflake(), "Le Salon")
    ch = f.text_channel(st, g, f.snowflake(), "general")
    msg = f.message(st, ch, f.snowflake(), AUTHOR, "…")
    policy = parse_policy({"guild_id": str(g.id), "mod_log_channel": "99",
                           "automatic": {"csam": ["hold_message", "timeout"]}}, "t")
    engine = FakeEngine("review", ("csam",))
    h, http = handlers(engine, {g.id: policy})

    async def feed() -> None:
        h.intake.start()
        h.automod(automod_action(st, g, ch, msg.id))  # AutoMod's report came first
        h.message(msg)
        await h.settle()
        engine.duplicate = True  # the engine had answered this event already
        h.message(msg)
        await h.settle()

    asyncio.run(feed())
    # The message itself was judged (AutoMod's event did not stand in for it).
    assert [how for how, _ in engine.seen] == ["judge", "judge", "judge"]
    assert engine.seen[0][1]["event_id"] != engine.seen[1][1]["event_id"]
    http.edit_member.assert_awaited_once()
    # AutoMod's report (no files listed) timed out and logged; the message's own event held
    # it (its files checked) and logged that; the repeat did nothing.
    http.delete_message.assert_awaited_once()
    assert http.send_message.await_count == 2


def test_an_answer_marked_duplicate_plans_nothing() -> None:
    from veilleur.bot.plan import MessageRef, plan

    answer = Answer.of({"verdict": "review", "duplicate": True, "findings": [
        {"category": "csam", "score": 0.9, "evidence": "e"}]})
    policy = parse_policy({"guild_id": "1", "mod_log_channel": "99",
                           "automatic": {"csam": ["hold_message", "timeout"]}}, "t")
    assert plan(answer, MessageRef(1, 2, 3, 4), policy).empty


def test_a_deletion_the_bot_could_not_make_leaves_a_later_one_to_the_author() -> None:
    st = f.state()
    g = f.guild(st, f.snowflake(), "Le Salon")
    ch = f.text_channel(st, g, f.snowflake(), "general")
    msg = f.message(st, ch, f.snowflake(), AUTHOR, "…")
    policy = parse_policy({"guild_id": str(g.id),
                           "automatic": {"csam": ["delete_message"]}}, "t")
    engine = FakeEngine("review", ("csam",))
    h, http = handlers(engine, {g.id: policy})
    http.delete_message.side_effect = f.forbidden()

    posted_then_deleted(h, msg)
    http.delete_message.assert_awaited_once()
    assert engine.seen[-1][1]["type"] == "message_deleted"
    assert engine.seen[-1][1]["by"] == "author"


def test_the_intake_queue_is_bounded_and_says_so_when_full(
        caplog: Any) -> None:
    from veilleur.bot.intake import Intake

    async def nothing() -> None:
        return None

    async def fill() -> Intake:
        intake = Intake(most=3)
        for _ in range(5):
            intake.put(nothing)
        return intake

    intake = asyncio.run(fill())
    assert intake.queue.qsize() == 3 and intake.dropped == 2
    assert "the bot's queue is full" in caplog.text
