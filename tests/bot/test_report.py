"""Members' reports from Discord (`/veilleur report`, "Report to moderators" on a message):
each reaches the engine's intake as a user report and opens or joins a case; the reporter is
answered privately, in the server's language; the mod log gets one inert line; a link into
another server, a malformed one, and a flood are refused."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import discord
import pytest

from tests.bot import fakes as f
from tests.bot.test_remote import engine_for
from tests.bot.test_scenario import MEMBER, MOD_LOG, bot, play
from veilleur.bot import report as rep
from veilleur.bot.client import CategoryView, French, Handlers, VeilleurBot
from veilleur.bot.execute import Executor
from veilleur.bot.intake import EmbeddedEngine
from veilleur.bot.policy import parse_policy
from veilleur.service.app import create_app
from veilleur.service.auth import create_key
from veilleur.service.runtime import Runtime, ServiceSettings

REPORTER = (700_000_000_000_000_777, "camille")


def interaction(g: discord.Guild) -> MagicMock:
    i = MagicMock(guild=g, id=f.snowflake(), user=MagicMock(id=REPORTER[0]))
    i.response.defer = AsyncMock()
    i.response.send_message = AsyncMock()
    i.followup.send = AsyncMock()
    i.edit_original_response = AsyncMock()
    return i


def slash(h: Handlers) -> Any:
    b = VeilleurBot(h.engine, h.policies)
    b.handlers = h
    group = b.tree.get_command("veilleur")
    assert isinstance(group, discord.app_commands.Group)
    command = group.get_command("report")
    assert isinstance(command, discord.app_commands.Command)
    return command


def choice(value: str) -> discord.app_commands.Choice[str]:
    return discord.app_commands.Choice(name=value, value=value)


def intake_of(rt: Runtime, report_id: str) -> Any:
    end = time.monotonic() + 5
    while time.monotonic() < end:
        with rt.lock:
            found = rt.casework.intakes.get(f"report:{report_id}")
        if found is not None:
            return found
        time.sleep(0.02)
    raise AssertionError(f"report {report_id} never reached the casework")


def logged(http: Any) -> list[str]:
    return [c.kwargs["params"].payload["content"] for c in http.send_message.await_args_list]


def test_links_are_read_only_into_this_server() -> None:
    assert rep.parse_link("https://discord.com/channels/111111111111111111/"
                          "222222222222222222/333333333333333333", 111111111111111111) \
        == (222222222222222222, 333333333333333333)
    assert rep.parse_link("https://ptb.discord.com/channels/999999999999999999/"
                          "222222222222222222/333333333333333333", 111111111111111111) is None
    for bad in ("https://discord.com.evil.example/channels/1/2/3", "hello",
                "https://discord.com/channels/@me/222222222222222222/333333333333333333"):
        assert rep.parse_link(bad, 111111111111111111) is None


def test_the_cooldown_refuses_a_flood_then_lets_the_member_report_again() -> None:
    now = [0.0]
    c = rep.Cooldown(most=5, seconds=600, monotonic=lambda: now[0])
    assert all(c.take(1, 2) for _ in range(5))
    assert not c.take(1, 2) and c.take(1, 3)  # another member is not held back
    now[0] = 601
    assert c.take(1, 2)


def test_a_slash_report_on_a_message_link_joins_the_case_of_the_held_message(
        runtime: Runtime) -> None:
    st = f.state()
    g, catalogue, lure = f.catalogue_lure(st, MEMBER, "r")
    handlers, http = bot(runtime, g.id, [])
    play(handlers, g, lure)
    i = interaction(g)
    link = f"https://discord.com/channels/{g.id}/{catalogue.id}/{lure.id}"

    async def go() -> None:
        await slash(handlers).callback(i, category=choice("grooming"), message_link=link,
                                       explanation="he asks @everyone for <@1> pics ||x||")

    asyncio.run(go())
    ref = f"discord-{i.id}"
    text = i.followup.send.await_args.args[0]
    assert ref in text and "not told" in text
    assert i.followup.send.await_args.kwargs == {"ephemeral": True}
    assert i.response.defer.await_args.kwargs["ephemeral"] is True
    intake = intake_of(runtime, ref)
    assert intake.source == "user" and intake.reporter_id == str(REPORTER[0])
    assert intake.target.id == str(lure.id) and intake.case_id is not None
    held = runtime.casework.intakes  # the lure's own case
    assert intake.case_id in {x.case_id for k, x in held.items() if k != f"report:{ref}"}
    line = logged(http)[-1]
    assert ref in line and link in line and str(REPORTER[0]) in line
    assert r"\<@1\>" in line and r"\|\|x\|\|" in line and "<@" not in line.replace(r"\<@", "")


def test_a_member_report_opens_a_case_and_french_servers_are_answered_in_french(
        runtime: Runtime) -> None:
    st = f.state()
    g = f.guild(st, f.snowflake(), "Le Salon")
    http = f.http()
    policy = parse_policy({"guild_id": str(g.id), "locale": "fr",
                           "mod_log_channel": str(MOD_LOG)}, "test")
    engine = EmbeddedEngine(runtime)
    h = Handlers(engine, {g.id: policy}, Executor(http, engine.evidence_of),
                 self_id=lambda: f.BOT_ID)
    target = f.member(st, g, MEMBER[0], MEMBER[1])
    i = interaction(g)
    asyncio.run(slash(h).callback(i, category=choice("sextortion"), member=target))
    text = i.followup.send.await_args.args[0]
    assert text.startswith("Merci.") and f"discord-{i.id}" in text
    intake = intake_of(runtime, f"discord-{i.id}")
    assert intake.target.kind.value == "user" and intake.target.id == str(MEMBER[0])
    assert intake.category is not None and intake.category.value == "sextortion"
    assert intake.case_id is not None
    assert logged(http)[-1].startswith("**Signalement**")


@pytest.mark.parametrize("link", [
    "https://discord.com/channels/123456789012345678/223456789012345678/323456789012345678",
    "not a link"])
def test_a_link_into_another_server_or_malformed_is_refused_privately(link: str) -> None:
    engine = MagicMock(report=AsyncMock())
    st = f.state()
    g = f.guild(st, f.snowflake(), "Le Salon")
    http = f.http()
    h = Handlers(engine, {}, Executor(http, AsyncMock()), self_id=lambda: f.BOT_ID)
    i = interaction(g)
    asyncio.run(slash(h).callback(i, category=choice("csam"), message_link=link))
    assert "not a link to a message of this server" in i.followup.send.await_args.args[0]
    assert i.followup.send.await_args.kwargs == {"ephemeral": True}
    engine.report.assert_not_awaited()
    http.send_message.assert_not_awaited()


def test_a_flood_of_reports_is_refused_with_a_clear_message() -> None:
    engine = MagicMock(report=AsyncMock())
    st = f.state()
    g = f.guild(st, f.snowflake(), "Le Salon")
    h = Handlers(engine, {}, Executor(f.http(), AsyncMock()), self_id=lambda: f.BOT_ID)
    target = f.member(st, g, MEMBER[0], MEMBER[1])
    answers = []
    for _ in range(6):
        i = interaction(g)
        asyncio.run(slash(h).callback(i, category=choice("other"), member=target))
        answers.append(i.followup.send.await_args.args[0])
    assert engine.report.await_count == 5
    assert "5 reports in the last 10 minutes" in answers[-1]
    assert engine.report.await_args.args[0]["category_claimed"] is None  # "other"


def test_the_message_menu_asks_the_category_privately_then_files_the_report() -> None:
    engine = MagicMock(report=AsyncMock())
    st = f.state()
    g, _catalogue, lure = f.catalogue_lure(st, MEMBER, "m")
    h = Handlers(engine, {}, Executor(f.http(), AsyncMock()), self_id=lambda: f.BOT_ID)
    b = VeilleurBot(engine, {})
    b.handlers = h
    menu = b.tree.get_command("Report to moderators", type=discord.AppCommandType.message)
    assert isinstance(menu, discord.app_commands.ContextMenu)
    i = interaction(g)
    asyncio.run(menu.callback(i, lure))  # type: ignore[call-arg]
    kwargs = i.response.send_message.await_args.kwargs
    assert kwargs["ephemeral"] is True
    view = kwargs["view"]
    assert isinstance(view, CategoryView)
    assert not any(o.default for o in view.choose.options)  # nothing preselected

    async def choose() -> None:
        view.choose._values = ["grooming"]  # what Discord's select interaction sets
        await view.chosen(i)

    asyncio.run(choose())
    body = engine.report.await_args.args[0]
    assert body["target"] == {"kind": "message", "id": str(lure.id)}
    assert body["reporter_id"] == str(REPORTER[0]) and body["category_claimed"] == "grooming"
    assert f"discord-{i.id}" in i.edit_original_response.await_args.kwargs["content"]


def test_in_api_mode_the_report_goes_to_v1_reports(tmp_path: Path) -> None:
    rt = Runtime(ServiceSettings(db=str(tmp_path / "s.db"),
                                 evidence_key=tmp_path / "evidence.key",
                                 checkpoint_seconds=0.05))
    _, key = create_key(rt.db, "discord-bot", ["events", "verdict", "reports"],
                        datetime.now(UTC))
    rt.start()
    try:
        app = create_app(runtime=rt, start=False)
        st = f.state()
        g = f.guild(st, f.snowflake(), "Le Salon")
        target = f.member(st, g, MEMBER[0], MEMBER[1])
        i = interaction(g)

        async def go() -> None:
            engine = engine_for(app, key)
            h = Handlers(engine, {}, Executor(f.http(), engine.evidence_of),
                         self_id=lambda: f.BOT_ID)
            await slash(h).callback(i, category=choice("grooming"), member=target)
            await engine.close()

        asyncio.run(go())
        assert f"discord-{i.id}" in i.followup.send.await_args.args[0]
        intake = intake_of(rt, f"discord-{i.id}")
        assert intake.reporter_id == str(REPORTER[0]) and intake.source == "user"
    finally:
        rt.stop()


def test_the_commands_are_named_in_french_for_members_whose_discord_speaks_it() -> None:
    b = VeilleurBot(MagicMock(), {})
    menu = b.tree.get_command("Report to moderators", type=discord.AppCommandType.message)
    assert menu is not None
    group = b.tree.get_command("veilleur")
    assert isinstance(group, discord.app_commands.Group)

    async def payloads() -> tuple[dict[str, Any], dict[str, Any]]:
        return (await menu.get_translated_payload(b.tree, French()),
                await group.get_translated_payload(b.tree, French()))

    menu_payload, group_payload = asyncio.run(payloads())
    assert menu_payload["name_localizations"] == {"fr": "Signaler aux modérateurs"}
    report = next(o for o in group_payload["options"] if o["name"] == "report")
    category = next(o for o in report["options"] if o["name"] == "category")
    assert category["required"] is True
    assert {c["name_localizations"]["fr"] for c in category["choices"]} == \
        set(rep.LABELS["fr"].values())
