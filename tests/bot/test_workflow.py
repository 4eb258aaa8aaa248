"""The moderators' workflow end to end, without a network: the real runtime on SQLite, the
real buttons (parsed from their custom ids, as discord.py does after a restart), a fake
HTTP client. A catalogue server's teaser is held and numbered; a minor reports the adult
who writes to them in DMs (invisible to a bot); a moderator confirms through the button:
the engine decides, the author is told with an appeal button, then banned with their
messages kept; the person appeals; undo, escalation, notes and warnings behave."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import discord
import pytest

from tests.bot import fakes as f
from veilleur.bot import workflow as wf
from veilleur.bot.casebook import Casebook
from veilleur.bot.client import Handlers
from veilleur.bot.execute import Executor
from veilleur.bot.intake import EmbeddedEngine
from veilleur.bot.moderation import Moderator
from veilleur.bot.policy import parse_policy
from veilleur.bot.views import AppealButton, CaseButton
from veilleur.service.runtime import Runtime
from veilleur.taxonomy import Target, TargetKind

SELLER = (700_000_000_000_000_123, "vendeur")
ADULT = (700_000_000_000_000_200, "grand_frere_du_serveur")
MINOR = (700_000_000_000_000_300, "lea_13")
MOD = (700_000_000_000_000_400, "modo")
MOD_LOG = 555_000_000_000_000_001


def setup(rt: Runtime, tmp_path: Path, gid: int, calls: list[str], **policy: Any
          ) -> tuple[Handlers, Any]:
    http = f.http()
    http.delete_message.side_effect = lambda *a, **k: calls.append("delete")
    http.ban.side_effect = lambda *a, **k: calls.append("ban")
    opened = http.start_private_message.side_effect

    def dm(*a: Any, **k: Any) -> Any:
        calls.append("dm")
        return opened(*a, **k)

    http.start_private_message.side_effect = dm
    sent = http.send_message.side_effect

    def send(channel: int, **k: Any) -> Any:
        calls.append(f"send {channel}")
        return sent(channel, **k)

    http.send_message.side_effect = send
    engine = EmbeddedEngine(rt)
    real = engine.evidence_of

    async def evidence_of(message_id: int) -> Any:
        found = await real(message_id)
        calls.append(f"evidence {len(found)}")
        return found

    data = {"guild_id": str(gid), "mod_log_channel": str(MOD_LOG), "locale": "fr",
            "country": "FR", "automatic": {"csam": ["hold_message"]}} | policy
    handlers = Handlers(engine, {gid: parse_policy(data, "test")},
                        Executor(http, evidence_of), self_id=lambda: f.BOT_ID,
                        book=Casebook(tmp_path / "bot-records.sqlite"))
    return handlers, http


@dataclass
class Salon:
    """A server with a channel named like a catalogue and a mod-log channel, the bot's
    handlers on the real runtime, and what the fake Discord was asked (`calls`)."""

    st: Any
    g: discord.Guild
    catalogue: discord.TextChannel
    handlers: Handlers
    http: Any
    calls: list[str]

    def lure(self, tag: str = "x", author: tuple[int, str] = SELLER, minutes: int = 5
             ) -> discord.Message:
        return f.message(self.st, self.catalogue, f.snowflake(f.later(minutes)), author,
                         f"teaser du pack, le reste en VIP sur mega . nz / folder / {tag}")

    async def begin(self, *messages: discord.Message) -> None:
        """The bot started, the server seen, the messages judged and acted on."""
        self.handlers.intake.start()
        self.handlers.guild_available(self.g)
        for m in messages:
            self.handlers.message(m)
        await self.handlers.settle()


def salon(runtime: Runtime, tmp_path: Path, **policy: Any) -> Salon:
    st = f.state()
    g = f.guild(st, f.snowflake(), "Le Salon")
    catalogue = f.text_channel(st, g, f.snowflake(), "teaser-mineure")
    f.text_channel(st, g, MOD_LOG, "mod-log")
    calls: list[str] = []
    handlers, http = setup(runtime, tmp_path, g.id, calls, **policy)
    return Salon(st, g, catalogue, handlers, http, calls)


def interaction(handlers: Handlers, g: discord.Guild | None, user: tuple[int, str],
                perms: discord.Permissions, iid: int | None = None) -> MagicMock:
    """What discord.py hands a button's callback: the client (with the handlers), the
    server, the person and their permissions there."""
    i = MagicMock(name="Interaction")
    i.client.on = handlers
    i.guild = g
    i.id = iid or f.snowflake()
    i.user = MagicMock(id=user[0], roles=[])
    i.user.name = user[1]
    i.permissions = perms
    i.response.defer = AsyncMock()
    i.response.send_modal = AsyncMock()
    i.response.send_message = AsyncMock()
    i.followup.send = AsyncMock()
    return i


def entries(handlers: Handlers, guild_id: int) -> list[Any]:
    """A server's cases in the bot's records."""
    found = (handlers.moderation.book.get(guild_id, n) for n in range(1, 20))
    return [e for e in found if e is not None]


async def press(handlers: Handlers, custom_id: str, i: MagicMock) -> str:
    """A button pressed, as discord.py routes it: parsed back from its custom id."""
    for kind in (CaseButton, AppealButton):
        match = kind.__discord_ui_compiled_template__.fullmatch(custom_id)
        if match:
            item: Any = await kind.from_custom_id(i, MagicMock(), match)
            await item.callback(i)
            break
    else:
        raise AssertionError(f"no button for {custom_id}")
    if i.followup.send.await_args is None:
        return ""
    return str(i.followup.send.await_args.args[0])


MODERATOR = discord.Permissions(manage_messages=True, ban_members=True)


def test_a_held_teaser_is_numbered_confirmed_by_button_banned_after_a_dm_and_appealed(
        runtime: Runtime, tmp_path: Path) -> None:
    w = salon(runtime, tmp_path)
    g, calls, handlers, http = w.g, w.calls, w.handlers, w.http
    lure = w.lure()
    mid = lure.id

    async def scene() -> dict[str, Any]:
        await w.begin(lure)
        out: dict[str, Any] = {}
        case = handlers.moderation.book.get(g.id, 1)
        assert case is not None
        # A member without Manage Messages cannot decide.
        member = interaction(handlers, g, (701, "membre"), discord.Permissions.none())
        out["refused"] = await press(handlers, f"veilleur:case:confirm:{g.id}:1", member)
        calls.append("-- confirm --")
        mod = interaction(handlers, g, MOD, MODERATOR)
        out["confirmed"] = await press(handlers, f"veilleur:case:confirm:{g.id}:1", mod)
        out["again"] = await press(handlers, f"veilleur:case:confirm:{g.id}:1",
                                   interaction(handlers, g, MOD, MODERATOR))
        # The banned seller appeals from the direct message's button.
        seller = interaction(handlers, None, SELLER, discord.Permissions.none())
        await press(handlers, f"veilleur:appeal:{g.id}:1", seller)
        form = seller.response.send_modal.await_args.args[0]
        form.why._value = "je vendais des skins de jeu"
        await form.on_submit(seller)
        out["appealed"] = str(seller.followup.send.await_args.args[0])
        again = interaction(handlers, None, SELLER, discord.Permissions.none())
        await press(handlers, f"veilleur:appeal:{g.id}:1", again)
        form = again.response.send_modal.await_args.args[0]
        form.why._value = "encore"
        await form.on_submit(again)
        out["appealed_again"] = str(again.followup.send.await_args.args[0])
        return out

    out = asyncio.run(scene())
    assert "Seuls les modérateurs" in out["refused"]
    # Held (evidence first), then the moderator's click: the engine's decision, the DM with
    # the appeal button, then the ban, messages kept.
    assert calls.index("evidence 1") < calls.index("delete") < calls.index("-- confirm --")
    assert "confirmé" in out["confirmed"] and "décision" in out["confirmed"]
    case = handlers.moderation.book.get(g.id, 1)
    assert case is not None
    with runtime.lock:
        engine_case = runtime.casework.cases[case.case_id]
        [decision] = [d for d in runtime.casework.decisions.values()
                      if d.case_id == case.case_id]
        # The server's part is decided; the server itself and its owner are not its
        # moderators' to judge: the case stays open for them, in the console.
        assert engine_case.status == "open"
        assert {(t.kind.value, t.id) for t in runtime.casework.decided_targets(
            engine_case)} == {("message", str(mid)), ("user", str(SELLER[0]))}
    assert case.decision_id == decision.id
    # What is left is named by kind and count: no other place's ids.
    assert "Laissé à la console" in out["confirmed"]
    assert "le serveur lui-même" in out["confirmed"] and "1 salon(s)" in out["confirmed"]
    assert decision.reviewer.startswith(f"discord:{MOD[0]}")
    assert all(td.target.id != "5" for td in decision.targets)  # the owner: not theirs
    assert any(td.violation and td.target.id == str(mid) for td in decision.targets)
    assert any(td.violation and td.target.id == str(SELLER[0])
               and "suspend_account" in td.measures for td in decision.targets)
    # Told first (the case number and the appeal button), then banned, messages kept.
    http.ban.assert_awaited_once()
    assert http.ban.await_args.args == (SELLER[0], g.id)
    assert http.ban.await_args.kwargs["delete_message_seconds"] == 0
    assert calls.index("dm") < calls.index("ban")
    [dm] = [c for c in http.send_message.await_args_list
            if "veilleur:appeal" in str(c.kwargs["params"].payload.get("components"))]
    assert "dossier n°1" in dm.kwargs["params"].payload["content"]
    # The held message is not removed twice.
    http.delete_message.assert_awaited_once()
    assert "déjà décidé" in out["again"]
    # The appeal: an Art. 20 complaint in the engine, once.
    assert "enregistrée" in out["appealed"]
    assert "déjà contesté" in out["appealed_again"]
    runtime.wait_idle(30)
    with runtime.lock:
        complaints = [i for i in runtime.casework.intakes.values()
                      if i.id.startswith("complaint:discord-")]
    assert len(complaints) == 1
    notes = handlers.moderation.book.notes(g.id, 1)
    # Added, never overwritten: the decision, the second click's view, the appeal.
    assert [n.kind for n in notes] == ["decision", "decision", "appeal"]
    assert complaints[0].case_id is not None


def test_a_minors_report_on_an_adult_opens_a_case_a_warning_would_tip_off(
        runtime: Runtime, tmp_path: Path) -> None:
    """DMs are invisible to a bot: the minor's report is how it reaches the engine. The
    grooming case acts silently: a moderator's /warn on that adult is refused."""
    st = f.state()
    g = f.guild(st, f.snowflake(), "Le Salon")
    f.text_channel(st, g, MOD_LOG, "mod-log")
    calls: list[str] = []
    handlers, http = setup(runtime, tmp_path, g.id, calls)
    adult = f.member(st, g, ADULT[0], ADULT[1])
    who = Moderator(MOD[0], MOD[1], True, True)

    async def scene() -> tuple[str, str, str]:
        handlers.intake.start()
        handlers.guild_available(g)
        i = interaction(handlers, g, MINOR, discord.Permissions.none())
        said = await handlers.report(i, "grooming", member=adult,
                                     explanation="il me demande de garder le secret")
        await handlers.settle()  # the report's case, numbered and logged with its buttons
        warned = await handlers.moderation.warn(g.id, ADULT[0], "sois correct", who, None)
        other = await handlers.moderation.warn(g.id, 701, "pas de spam", who, None)
        return said, warned, other

    said, warned, other = asyncio.run(scene())
    assert "discord-" in said
    entry = handlers.moderation.book.get(g.id, 1)
    assert entry is not None
    assert entry.category == "grooming" and entry.targets == (("user", str(ADULT[0])),)
    assert entry.thread_id is not None and entry.head_message is not None
    with runtime.lock:
        assert any(t.id == str(ADULT[0]) for t in runtime.casework.cases[entry.case_id].targets)
    assert "agit en silence" in warned
    assert not [c for c in http.start_private_message.await_args_list
                if c.args == (ADULT[0],)]
    assert "averti (1 avertissement" in other
    assert [c.args for c in http.start_private_message.await_args_list][-1] == (701,)


def test_not_a_violation_takes_back_the_time_out_and_undo_says_what_cannot_be(
        runtime: Runtime, tmp_path: Path) -> None:
    w = salon(runtime, tmp_path, locale="en",
                           automatic={"csam": ["timeout"], "ncii": ["timeout"]})
    g, handlers, http = w.g, w.handlers, w.http
    lure = w.lure()

    async def scene() -> tuple[str, str, str]:
        await w.begin(lure)
        mod = interaction(handlers, g, MOD, MODERATOR)
        undo = await press(handlers, f"veilleur:case:undo:{g.id}:1", mod)
        nothing = await press(handlers, f"veilleur:case:undo:{g.id}:1",
                              interaction(handlers, g, MOD, MODERATOR))
        clear = await press(handlers, f"veilleur:case:clear:{g.id}:1",
                            interaction(handlers, g, MOD, MODERATOR))
        return undo, nothing, clear

    undo, nothing, clear = asyncio.run(scene())
    # The time-out was the bot's: undone (Discord's null ends it), once.
    assert http.edit_member.await_count == 2
    assert http.edit_member.await_args.kwargs["communication_disabled_until"] is None
    assert "undid time-out" in undo
    assert "nothing the bot did can be undone" in nothing
    entry = handlers.moderation.book.get(g.id, 1)
    assert entry is not None
    # Never cleared by a server's moderators: a specialist does, in the console.
    assert entry.category == "csam" and "specialist" in clear
    assert [a.undone_at is not None for a in handlers.moderation.book.actions(g.id, 1)] == [
        True]


def test_escalation_prepares_discord_and_the_french_hotlines_with_links_not_pictures(
        runtime: Runtime, tmp_path: Path) -> None:
    w = salon(runtime, tmp_path)
    g, catalogue, handlers, http = w.g, w.catalogue, w.handlers, w.http
    lure = w.lure()
    mid = lure.id

    async def scene() -> str:
        await w.begin(lure)
        return await press(handlers, f"veilleur:case:escalate:{g.id}:1",
                           interaction(handlers, g, MOD, MODERATOR))

    said = asyncio.run(scene())
    assert "signalement préparé" in said.lower()
    entry = handlers.moderation.book.get(g.id, 1)
    assert entry is not None and entry.thread_id is not None
    posted = [c.kwargs["params"].payload["content"]
              for c in http.send_message.await_args_list if c.args == (entry.thread_id,)]
    text = "\n".join(posted)
    assert f"https://discord.com/channels/{g.id}/{catalogue.id}/{mid}" in text
    assert "internet-signalement.gouv.fr" in text and "dis.gd/request" in text
    assert "bonne foi" in text and "sha256" in text
    assert "cdn.discordapp" not in text and "mega.nz" not in text
    assert all(len(p) <= 2000 for p in posted)
    # In the engine's audit chain, as the moderator's.
    from sqlalchemy import select

    from veilleur.store.models import AuditRow

    runtime.sync()
    with runtime.db.connect() as conn:
        actors = list(conn.execute(select(AuditRow.actor).where(
            AuditRow.kind == "case.escalated", AuditRow.subject == entry.case_id)).scalars())
    assert actors == [f"discord:{MOD[0]} ({MOD[1]})"]


def test_the_case_command_adds_notes_that_are_never_overwritten(
        runtime: Runtime, tmp_path: Path) -> None:
    w = salon(runtime, tmp_path, locale="en")
    g, handlers, http = w.g, w.handlers, w.http
    lure = w.lure()
    who = Moderator(MOD[0], MOD[1], True, False)
    nobody = Moderator(701, "membre", False, False)

    async def scene() -> tuple[str, str, str]:
        await w.begin(lure)
        await handlers.moderation.case(g.id, 1, who, "seen <@&1> @everyone")
        second = await handlers.moderation.case(g.id, 1, who, "asked the owner")
        missing = await handlers.moderation.case(g.id, 7, who, None)
        refused = await handlers.moderation.case(g.id, 1, nobody, "x")
        return second, missing, refused

    second, missing, refused = asyncio.run(scene())
    assert "Case #1" in second and "severity critical" in second
    assert "seen" in second and "asked the owner" in second
    assert "<@&1>" not in second and "\\<@&1\\>" in second  # quoted inert
    assert "No case #7" in missing and "Only the server's moderators" in refused
    assert [n.text for n in handlers.moderation.book.notes(g.id, 1)] == [
        "seen <@&1> @everyone", "asked the owner"]
    # The moderator who asked was added to the case's private thread.
    entry = handlers.moderation.book.get(g.id, 1)
    assert entry is not None
    assert (entry.thread_id, MOD[0]) in [c.args for c in
                                         http.add_user_to_thread.await_args_list]


def test_the_shared_watch_list_alerts_opted_in_servers_only(tmp_path: Path) -> None:
    from veilleur.bot.casebook import Casebook

    book = Casebook(tmp_path / "records.sqlite")
    now = f.T0
    entry, new = book.number(1, "case-a", now, "csam")
    assert new and entry.number == 1
    assert book.number(1, "case-a", now, "csam") == (entry, False)
    assert book.number(1, "case-b", now, None)[0].number == 2
    assert book.number(2, "case-a", now, None)[0].number == 1  # per server
    book.list_offender("user", "42", 1, 1, "csam", now, "case #1")
    assert [x.guild_id for x in book.listed("user", "42", frozenset({1, 2}), 2)] == [1]
    assert book.listed("user", "42", frozenset({2}), 2) == []  # server 1 did not opt in
    assert book.listed("user", "42", frozenset({1, 2}), 1) == []  # not its own
    book.unlist(1, 1)
    assert book.listed("user", "42", frozenset({1, 2}), 2) == []
    assert (tmp_path / "records.sqlite").stat().st_mode & 0o077 == 0


def test_a_servers_moderators_decide_their_part_and_leave_the_rest_to_the_console() -> None:
    view = {"category": "ncii", "targets_in_context": [
        {"target": {"kind": "message", "id": "m1"}, "guild": {"id": "1"},
         "message": {"author_id": "u1", "channel_id": "c"}},
        {"target": {"kind": "user", "id": "u1"}},
        {"target": {"kind": "message", "id": "m3"}, "guild": {"id": "1"},
         "message": {"author_id": "bystander", "channel_id": "c"}},
        {"target": {"kind": "user", "id": "bystander"}},
        {"target": {"kind": "message", "id": "m2"}, "guild": {"id": "2"}},
        {"target": {"kind": "guild", "id": "1"}, "guild": {"id": "1"}}],
        "items": [{"target": {"kind": "message", "id": "m1"}, "category": "grooming"}]}
    known = [("message", "m1"), ("user", "u1"), ("message", "m2")]
    s = wf.scope(view, 1, known)
    # What this server flagged, here; a bystander in the case's context, another server's
    # message (even one it knows) and the server itself are left.
    assert s.here == (("message", "m1"), ("user", "u1"))
    assert s.left == (("message", "m3"), ("user", "bystander"), ("message", "m2"),
                      ("guild", "1"))
    # Each target its own category: the message's, and its author's from it.
    assert s.categories == {("message", "m1"): "grooming", ("user", "u1"): "grooming"}
    assert set(s.named) == {"u1", "bystander"}
    # Clearing decides messages only: an account's clearance is the platform's.
    assert wf.scope(view, 1, known, clearing=True).here == (("message", "m1"),)
    done = wf.scope(view | {"decided_targets": [{"kind": "message", "id": "m1"}]}, 1, known)
    assert done.decided == (("message", "m1"),) and done.here == (("user", "u1"),)


def test_hotlines_by_country_and_category() -> None:
    assert [u for _, u in wf.hotlines("fr", "sextortion")] == [
        "https://www.internet-signalement.gouv.fr", "https://www.3018.fr"]
    assert [u for _, u in wf.hotlines("US", "csam")] == [
        "https://report.cybertip.org", "https://www.inhope.org"]
    assert [u for _, u in wf.hotlines(None, None)] == ["https://report.cybertip.org"]


def test_deadline_is_the_earliest_running_clock() -> None:
    t = f.T0
    view = {"clocks": [{"due": (t + timedelta(hours=24)).isoformat()},
                       {"due": (t + timedelta(hours=1)).isoformat(),
                        "stopped_at": t.isoformat()},
                       {"due": (t + timedelta(hours=4)).isoformat()}]}
    assert wf.deadline(view) == t + timedelta(hours=4)
    assert wf.deadline({}) is None
    assert f"<t:{int((t + timedelta(hours=4)).timestamp())}:R>" in wf.head(3, view, "en",
                                                                        None)


def test_a_wave_pauses_invites_and_dms_and_a_moderator_lifts_it_and_bans_the_accounts(
        runtime: Runtime, tmp_path: Path) -> None:
    from veilleur.bot.views import WaveButton

    w = salon(runtime, tmp_path, locale="en", automatic={},
                           wave={"flagged": 2, "joins": 0, "young_joins": 0,
                                 "automatic": True})
    st, g, catalogue, handlers, http = w.st, w.g, w.catalogue, w.handlers, w.http
    http.bulk_ban = AsyncMock(side_effect=lambda _g, user_ids, **_k: {
        "banned_users": [str(u) for u in user_ids], "failed_users": []})
    sellers = [(700_000_000_000_001_000 + i, f"v{i}") for i in range(2)]
    lures = [f.message(st, catalogue, f.snowflake(f.later(5 + i)), who,
                       f"teaser du pack, le reste en VIP sur mega . nz / folder / {i}")
             for i, who in enumerate(sellers)]

    async def scene() -> tuple[str, str, str, str]:
        handlers.intake.start()
        handlers.guild_available(g)
        for m in lures:
            handlers.message(m)
        await handlers.settle()
        wave_id = handlers.moderation.book.latest_wave(g.id)
        assert wave_id is not None
        plain = await press_wave(handlers, f"veilleur:wave:ban:{g.id}:{wave_id}", interaction(
            handlers, g, MOD, discord.Permissions(manage_messages=True)))
        refused = await press_wave(handlers, f"veilleur:wave:lift:{g.id}:{wave_id}",
                                   interaction(handlers, g, MOD, MODERATOR))
        assert "Manage Server" in refused  # the bot's own is not lent
        lifted = await press_wave(handlers, f"veilleur:wave:lift:{g.id}:{wave_id}",
                                  interaction(handlers, g, MOD, discord.Permissions(
                                      manage_messages=True, manage_guild=True)))
        banned = await press_wave(handlers, f"veilleur:wave:ban:{g.id}:{wave_id}",
                                  interaction(handlers, g, MOD, MODERATOR))
        again = await press_wave(handlers, f"veilleur:wave:ban:{g.id}:{wave_id}",
                                 interaction(handlers, g, MOD, MODERATOR))
        return plain, lifted, banned, again

    async def press_wave(handlers: Handlers, custom_id: str, i: MagicMock) -> str:
        match = WaveButton.__discord_ui_compiled_template__.fullmatch(custom_id)
        assert match is not None
        item = await WaveButton.from_custom_id(i, MagicMock(), match)
        await item.callback(i)
        return str(i.followup.send.await_args.args[0])

    plain, lifted, banned, again = asyncio.run(scene())
    # Paused automatically (reversible, time-limited), both fields, under 24 hours.
    pause, resume = http.edit_incident_actions.await_args_list
    payload = pause.kwargs["payload"]
    assert payload["invites_disabled_until"] == payload["dms_disabled_until"] is not None
    assert resume.kwargs["payload"] == {"invites_disabled_until": None,
                                       "dms_disabled_until": None}
    # The mod log's line carries the wave's buttons; no mention, ids only.
    [line] = [c.kwargs["params"].payload for c in http.send_message.await_args_list
              if "components" in c.kwargs["params"].payload
              and "veilleur:wave" in str(c.kwargs["params"].payload["components"])]
    assert [c["custom_id"].split(":")[2] for row in line["components"]
            for c in row["components"]] == ["lift", "ban"]
    # A moderator without Ban Members cannot ban through the bot.
    assert "Ban Members" in plain or "lack" in plain
    assert "resumed" in lifted
    http.bulk_ban.assert_awaited_once()
    assert set(http.bulk_ban.await_args.kwargs["user_ids"]) == {s[0] for s in sellers}
    assert http.bulk_ban.await_args.kwargs["delete_message_seconds"] == 0
    assert str(sellers[0][0]) in banned and "Already done" in again


def test_the_catalogue_scenario_down_to_the_successors_invite_posted_elsewhere(
        runtime: Runtime, tmp_path: Path) -> None:
    """A catalogue server appears; a member posts a teaser with a spaced mega link; a minor
    reports the adult who writes to them in DMs; the bot holds and logs, the cases open, a
    moderator confirms through the button (evidence sealed before the deletion); the
    platform's specialist decides the server and its owner in the console; the members
    regroup in a successor; its invite, posted later in another server, is held there."""
    from veilleur.cases.review import Verdict
    from veilleur.taxonomy import Category, Target

    st = f.state()
    owner = 777_000_000_000_000_001
    g = f.guild(st, f.snowflake(), "ADØS NXDES", owner=owner)
    catalogue = f.text_channel(st, g, f.snowflake(), "teaser-mineure")
    f.text_channel(st, g, MOD_LOG, "mod-log")
    community = f.guild(st, f.snowflake(), "Entraide Devoirs")
    general = f.text_channel(st, community, f.snowflake(), "general")
    community_log = f.snowflake()
    f.text_channel(st, community, community_log, "moderation")
    calls: list[str] = []
    handlers, http = setup(runtime, tmp_path, g.id, calls)
    handlers.policies[community.id] = parse_policy(  # type: ignore[index]
        {"guild_id": str(community.id), "mod_log_channel": str(community_log),
         "automatic": {"csam": ["hold_message"]}}, "community")
    members = [f.member(st, g, 800_000_000_000_000_000 + i, f"m{i}") for i in range(12)]
    adult = f.member(st, g, ADULT[0], ADULT[1])
    teaser = f.snowflake(f.later(5))
    lure = f.message(st, catalogue, teaser, SELLER,
                     "teaser du pack, le reste en VIP sur mega . nz / folder / x")
    g2 = f.guild(st, f.snowflake(f.later(60)), "ados nxdes 2", owner=members[3].id)
    lobby = f.text_channel(st, g2, f.snowflake(f.later(60)), "general")
    invite = discord.Invite(state=st, guild=g2, channel=lobby, data={
        "code": "backup1", "guild": {"id": str(g2.id), "name": g2.name},
        "channel": {"id": str(lobby.id), "name": "general", "type": 0},
        "inviter": f.user_data(members[3].id, "m3"), "created_at": f.later(60).isoformat()})
    # Later than the console's decision, which the runtime takes on its own (real) clock.
    recruiting = f.snowflake(discord.utils.utcnow() + timedelta(minutes=5))
    recruit = f.message(st, general, recruiting, (members[5].id, "m5"),
                        "venez on est là maintenant discord . gg / backup1")

    async def scene() -> str:
        handlers.intake.start()
        handlers.guild_available(g)
        handlers.guild_available(community)
        for m in members:
            handlers.member_joined(m)
        handlers.message(lure)
        await handlers.report(interaction(handlers, g, MINOR, discord.Permissions.none()),
                              "grooming", member=adult, explanation="il me donne du nitro")
        await handlers.settle()
        # The teaser's case (the report's may have been numbered first).
        [entry] = [e for e in entries(handlers, g.id) if ("message", str(teaser)) in e.targets]
        said = await press(handlers, f"veilleur:case:confirm:{g.id}:{entry.number}",
                           interaction(handlers, g, MOD, MODERATOR))
        # The platform's specialist decides what the server's moderators could not.
        with runtime.lock:  # the report may have joined the catalogue's case, or it this
            live = runtime.casework._live(entry.case_id)
        assert live is not None
        runtime.decide(live.id, "specialist", {
            Target.of("guild", str(g.id)): Verdict(Category.CSAM),
            Target.of("user", str(owner)): Verdict(Category.CSAM)})
        handlers.guild_available(g2)
        handlers.invite(invite)
        for m in members:
            handlers.member_joined(f.member(st, g2, m.id, m.name, joined=f.later(70)))
        await handlers.settle()
        handlers.message(recruit)
        await handlers.settle()
        return said

    said = asyncio.run(scene())
    assert "confirmé" in said
    # Evidence sealed, then the teaser held; the report got its own case number.
    assert calls.index("evidence 1") < calls.index("delete")
    # (Its engine case may be the catalogue's: reports on one server join one case.)
    assert any(("user", str(ADULT[0])) in e.targets for e in entries(handlers, g.id))
    # The invite to the successor, posted later in another server, is held there, as a case
    # of that server, with the reason named.
    deleted = [c.args for c in http.delete_message.await_args_list]
    assert (general.id, recruiting) in deleted
    [held] = [e for e in entries(handlers, community.id)
              if ("message", str(recruiting)) in e.targets]
    assert held.category == "csam"
    with runtime.lock:
        intakes = [i for i in runtime.casework.intakes.values()
                   if i.target == Target.of("message", str(recruiting))]
    assert intakes and any(k.startswith("network.invite:") for k in intakes[0].signal_keys)
    thread_text = "\n".join(c.kwargs["params"].payload["content"]
                            for c in http.send_message.await_args_list
                            if c.args == (held.thread_id,))
    assert "invites \\(code backup1\\)" in thread_text  # quoted inert


def test_refusals_are_said_not_raised_thread_ban_and_direct_message(
        runtime: Runtime, tmp_path: Path) -> None:
    """No private thread allowed: the case goes to the mod log itself. Closed DMs: the ban
    still happens. A ban Discord refuses (50013): the moderator is told which permission."""
    w = salon(runtime, tmp_path, locale="en")
    g, handlers, http = w.g, w.handlers, w.http
    http.start_thread_without_message.side_effect = f.forbidden(50013)
    http.start_private_message.side_effect = f.forbidden(50007)
    http.ban.side_effect = f.forbidden(50013)
    lure = w.lure()

    async def scene() -> str:
        await w.begin(lure)
        return await press(handlers, f"veilleur:case:confirm:{g.id}:1",
                           interaction(handlers, g, MOD, MODERATOR))

    said = asyncio.run(scene())
    entry = handlers.moderation.book.get(g.id, 1)
    assert entry is not None and entry.thread_id is None
    texts = [c.kwargs["params"].payload["content"] for c in http.send_message.await_args_list
             if c.args == (MOD_LOG,)]
    assert texts[0].startswith("**Veilleur · Case #1**")
    assert any("Message: https://discord.com/channels/" in t for t in texts[1:])
    assert any("no private thread" in p and "Create Private Threads" in p
               for p in handlers.executor.problems)
    assert "ban of" in said and "Ban Members" in said
    http.ban.assert_awaited_once()


def test_the_watch_list_alerts_an_opted_in_server_when_a_confirmed_account_joins(
        runtime: Runtime, tmp_path: Path) -> None:
    w = salon(runtime, tmp_path, locale="en", share_watch_list=True)
    st, g, handlers, http = w.st, w.g, w.handlers, w.http
    other = f.guild(st, f.snowflake(), "Autre <@&1> serveur")
    other_log = f.snowflake()
    quiet = f.guild(st, f.snowflake(), "Sans liste")
    for server, log_channel, share in ((other, other_log, True), (quiet, f.snowflake(), False)):
        handlers.policies[server.id] = parse_policy(  # type: ignore[index]
            {"guild_id": str(server.id), "mod_log_channel": str(log_channel),
             "share_watch_list": share}, "other")
    handlers.sharing = frozenset({g.id, other.id})

    async def scene() -> None:
        await w.begin(w.lure())
        await press(handlers, f"veilleur:case:confirm:{g.id}:1",
                    interaction(handlers, g, MOD, MODERATOR))
        handlers.member_joined(f.member(st, other, SELLER[0], "vendeur <@&1>"))
        handlers.member_joined(f.member(st, quiet, SELLER[0], SELLER[1]))
        await handlers.settle()

    asyncio.run(scene())
    [alert] = [c.kwargs["params"].payload["content"] for c in http.send_message.await_args_list
               if c.args == (other_log,)]
    assert alert.startswith("**Watch list**") and str(SELLER[0]) in alert
    assert "child sexual abuse material" in alert and "case #1" in alert
    assert "<@&1>" not in alert  # the member's name, quoted inert
    assert not [c for c in http.send_message.await_args_list if c.args[0] not in (
        other_log, MOD_LOG) and "Watch list" in c.kwargs["params"].payload["content"]]
    http.ban.assert_awaited_once()  # once, by the moderator's click; the join bans nobody


def test_appeals_are_limited_per_person_and_day(runtime: Runtime, tmp_path: Path) -> None:

    calls: list[str] = []
    handlers, _ = setup(runtime, tmp_path, 1, calls, locale="en")
    book: Casebook = handlers.moderation.book
    for n in range(1, 6):
        book.number(1, f"case-{n}", f.T0, "ncii")
        # Acted against in each, by a decision (what an appeal contests).
        book.acted(1, n, "ban", f.T0, "discord:9 (m)", member_id=42, decision_id=f"d{n}")
    handlers.moderation.clock = lambda: f.T0

    async def scene() -> list[str]:
        out = [await handlers.moderation.appeal(1, 5, 7, "not me", "discord-x")]
        for n in range(1, 5):
            out.append(await handlers.moderation.appeal(1, n, 42, "wrong", f"discord-{n}"))
        return out

    said = asyncio.run(scene())
    # Someone else (a forwarded or forged button) appeals nobody's case.
    assert "can no longer be appealed" in said[0]
    assert [s.startswith("Your appeal") for s in said[1:]] == [True, True, True, False]
    assert "tomorrow" in said[4]


def test_a_case_merged_into_another_keeps_its_number(tmp_path: Path) -> None:
    """The engine merges two open cases of one server into one: the number follows the
    merged case, so moderators see one case once."""
    from veilleur.bot.moderation import Moderation
    from veilleur.bot.plan import Answer, MessageRef, Plan

    class Views:
        async def case_view(self, case_id: str, viewer: str) -> dict[str, Any]:
            return {"id": case_id, "category": "ncii",
                    "merged_from": ["case-a"] if case_id == "case-b" else []}

    http = f.http()
    book = Casebook(tmp_path / "records.sqlite")
    policy = parse_policy({"guild_id": "1", "mod_log_channel": "9"}, "test")
    mod = Moderation(Views(), http, book, lambda _g: policy,  # type: ignore[arg-type]
                     Executor(http, AsyncMock(return_value=())), clock=lambda: f.T0)
    ref = MessageRef(1, 2, 3, 4)

    async def scene() -> None:
        for case in ("case-a", "case-b"):
            await mod.logged(Plan(ref, Answer("review", case_id=case), (), False, 9), [])

    asyncio.run(scene())
    entry = book.get(1, 1)
    assert entry is not None and entry.case_id == "case-b" and book.get(1, 2) is None


def test_a_ban_made_in_discord_is_recorded_on_the_members_case_with_who_and_why(
        runtime: Runtime, tmp_path: Path) -> None:
    w = salon(runtime, tmp_path, locale="en")
    st, g, handlers, http = w.st, w.g, w.handlers, w.http
    lure = w.lure()
    seller = f.member(st, g, SELLER[0], SELLER[1])

    async def audit() -> tuple[int, str | None]:
        return MOD[0], "vente <@&1> @everyone"

    async def scene() -> None:
        await w.begin(lure)
        handlers.banned(g, seller, audit)
        await handlers.settle()
        handlers.banned(g, seller, audit)  # Discord's second event: recorded once
        await handlers.settle()

    asyncio.run(scene())
    bans = [a for a in handlers.moderation.book.actions(g.id, 1) if a.kind == "ban"]
    assert len(bans) == 1 and bans[0].by == f"discord:{MOD[0]}"
    entry = handlers.moderation.book.get(g.id, 1)
    assert entry is not None
    [line] = [c.kwargs["params"].payload["content"] for c in http.send_message.await_args_list
              if c.args == (entry.thread_id,) and "banned in Discord" in
              c.kwargs["params"].payload["content"]]
    assert f"<@{MOD[0]}>" in line and "<@&1>" not in line and "vente" in line


def test_confirm_never_removes_a_message_whose_files_are_in_no_evidence(
        runtime: Runtime, tmp_path: Path) -> None:
    """The files were not fetched (cap 0): neither the automatic hold nor a moderator's
    confirmation removes the message; they are told why."""
    w = salon(runtime, tmp_path, locale="en")
    st, g, catalogue, handlers, http = w.st, w.g, w.catalogue, w.handlers, w.http
    handlers.fetch_cap = 0
    lure = f.message(st, catalogue, f.snowflake(f.later(5)), SELLER,
                     "teaser du pack, le reste en VIP sur mega . nz / folder / x",
                     attachments=[f.attachment(f.snowflake())])

    async def scene() -> str:
        await w.begin(lure)
        return await press(handlers, f"veilleur:case:confirm:{g.id}:1",
                           interaction(handlers, g, MOD, MODERATOR))

    said = asyncio.run(scene())
    http.delete_message.assert_not_awaited()
    assert "kept in place" in said and "could not be fetched and hashed" in said


def test_one_case_gets_one_thread_however_many_of_its_messages_come_at_once(
        runtime: Runtime, tmp_path: Path) -> None:
    w = salon(runtime, tmp_path, locale="en")
    st, g, catalogue, handlers, http = w.st, w.g, w.catalogue, w.handlers, w.http
    made = http.start_thread_without_message.side_effect

    async def slow(*a: Any, **k: Any) -> Any:
        await asyncio.sleep(0.05)  # Discord's answer takes a while; the others arrive
        return made(*a, **k)

    http.start_thread_without_message.side_effect = slow
    lures = [f.message(st, catalogue, f.snowflake(f.later(5 + i)), SELLER,
                       f"teaser du pack, le reste en VIP sur mega . nz / folder / {i}")
             for i in range(4)]

    async def scene() -> None:
        handlers.intake.start()
        handlers.guild_available(g)
        for m in lures:
            handlers.message(m)
        await handlers.settle()

    asyncio.run(scene())
    cases = entries(handlers, g.id)
    assert http.start_thread_without_message.await_count == len(cases) == 1


def test_a_decision_the_engine_refuses_leaves_the_case_in_the_queue(
        runtime: Runtime, tmp_path: Path) -> None:
    """The case is taken for the decision only: refused, it goes back to the console's
    queue (its clocks visible), not locked for half an hour."""
    from veilleur.cases.review import ReviewError, Verdict
    from veilleur.taxonomy import Category, Target

    w = salon(runtime, tmp_path)
    asyncio.run(w.begin(w.lure()))
    runtime.wait_idle(30)
    with runtime.lock:
        case = next(iter(runtime.casework.cases.values()))
    with pytest.raises(ReviewError):
        runtime.decide(case.id, "discord:1 (a)", {Target.of("message", "nope"):
                                                  Verdict(Category.CSAM)}, partial=True)
    assert case.status == "open" and case.locked_by is None


def test_a_groomer_is_told_of_the_ban_only_once_it_is_done(
        runtime: Runtime, tmp_path: Path) -> None:
    """Grooming acts silently: a ban Discord refuses must not have warned them; the
    direct message with the appeal comes after the ban."""
    from veilleur.bot.moderation import Moderator

    calls: list[str] = []
    handlers, http = setup(runtime, tmp_path, 1, calls, locale="en")
    book = handlers.moderation.book
    entry, _ = book.number(1, "case-g", f.T0, "grooming")
    who = Moderator(MOD[0], MOD[1], True, True)
    policy = handlers.policy(1)

    async def scene() -> tuple[str, str]:
        done = await handlers.moderation.ban(entry, ADULT[0], who, policy,
                                             category="grooming", decision_id="d1")
        http.ban.side_effect = f.forbidden(50013)
        refused = await handlers.moderation.ban(entry, ADULT[0] + 1, who, policy,
                                                category="grooming", decision_id="d1")
        return done, refused

    done, refused = asyncio.run(scene())
    # (`setup` records "ban" and "dm".) The refused one: no ban, and no message either.
    assert [c for c in calls if c in ("ban", "dm")] == ["ban", "dm"]
    assert "banned" in done and "not done" in refused


def test_an_attempt_automod_blocked_is_judged_kept_as_evidence_and_never_removed(
        runtime: Runtime, tmp_path: Path) -> None:
    w = salon(runtime, tmp_path, locale="en")
    data = {"guild_id": str(w.g.id), "action": {"type": 1}, "rule_id": "3",
            "rule_trigger_type": 1, "user_id": str(SELLER[0]),
            "channel_id": str(w.catalogue.id), "message_id": None,
            "content": "teaser du pack, le reste en VIP sur mega . nz / folder / z",
            "matched_keyword": "pack", "matched_content": "pack"}

    async def scene() -> None:
        await w.begin()
        w.handlers.automod(discord.AutoModAction(data=data, state=w.st))
        w.handlers.automod(discord.AutoModAction(data=data | {"action": {
            "type": 2, "metadata": {"channel_id": "1"}}}, state=w.st))
        await w.handlers.settle()

    asyncio.run(scene())
    w.http.delete_message.assert_not_awaited()  # it never existed on Discord
    [entry] = entries(w.handlers, w.g.id)
    assert ("user", str(SELLER[0])) in entry.targets
    runtime.wait_idle(30)
    runtime.sync()
    with runtime.lock:
        stored = [runtime.casework.content.message(i) for k, i in entry.targets
                  if k == "message"]
    assert [m.content for m in stored if m] == [data["content"]]
    assert runtime.stats["verdicts"] == 1  # the block and its alert: one attempt


def test_a_deleted_channel_shows_its_messages_gone_in_the_case(
        runtime: Runtime, tmp_path: Path) -> None:
    """An owner emptying the server after the hold: the case keeps its evidence and says
    the message is gone, and by whom."""
    w = salon(runtime, tmp_path, locale="en")
    lure = w.lure()

    async def scene() -> None:
        await w.begin(lure)
        w.handlers.channel_deleted(w.catalogue)
        await w.handlers.settle()

    asyncio.run(scene())
    runtime.wait_idle(30)
    runtime.sync()
    [entry] = entries(w.handlers, w.g.id)
    with runtime.lock:
        view = runtime.casework.view(entry.case_id, runtime.clock())
    [item] = [i for i in view["targets_in_context"]
              if i["target"] == {"kind": "message", "id": str(lure.id)}]
    assert item["gone"]["by"] == "moderator"
    assert runtime.evidence_of(Target(TargetKind.MESSAGE, str(lure.id)))


def test_a_proposed_pause_is_the_moderators_click(runtime: Runtime, tmp_path: Path) -> None:
    """A policy that does not make the pause automatic proposes it: the line's button is
    *Pause*, and a moderator holding Manage Server presses it (once it is done, the next
    wave's line offers *Resume*)."""
    from veilleur.bot.views import WaveButton

    w = salon(runtime, tmp_path, locale="fr", automatic={},
              wave={"flagged": 2, "joins": 0, "young_joins": 0, "automatic": False})
    lures = [w.lure(str(i), (700_000_000_000_002_000 + i, f"v{i}"), 5 + i) for i in range(2)]

    async def scene() -> str:
        await w.begin(*lures)
        wave_id = w.handlers.moderation.book.latest_wave(w.g.id)
        i = interaction(w.handlers, w.g, MOD, discord.Permissions(manage_messages=True,
                                                                  manage_guild=True))
        match = WaveButton.__discord_ui_compiled_template__.fullmatch(
            f"veilleur:wave:pause:{w.g.id}:{wave_id}")
        assert match is not None
        item = await WaveButton.from_custom_id(i, MagicMock(), match)
        await item.callback(i)
        return str(i.followup.send.await_args.args[0])

    said = asyncio.run(scene())
    [line] = [c.kwargs["params"].payload for c in w.http.send_message.await_args_list
              if "veilleur:wave" in str(c.kwargs["params"].payload.get("components"))]
    assert [c["custom_id"].split(":")[2] for row in line["components"]
            for c in row["components"]] == ["pause", "ban"]
    # Not paused by itself; paused on the click, until the wave's end.
    [pause] = w.http.edit_incident_actions.await_args_list
    assert pause.kwargs["payload"]["invites_disabled_until"] is not None
    assert "suspendus par" in said


def test_escalation_reports_only_what_this_server_flagged_not_the_cases_context(
        tmp_path: Path) -> None:
    """An engine case holds context (a bystander's post nearby, another server's message):
    the report a moderator files names only what their server flagged or had reported."""
    from veilleur.bot.moderation import Moderation
    from veilleur.bot.plan import Evidence

    class Views:
        async def case_view(self, case_id: str, viewer: str) -> dict[str, Any]:
            return {"id": case_id, "category": "csam", "targets_in_context": [
                {"target": {"kind": "message", "id": "11"}, "guild": {"id": "1"},
                 "message": {"author_id": "21", "channel_id": "5"}},
                {"target": {"kind": "message", "id": "12"}, "guild": {"id": "1"},
                 "message": {"author_id": "22", "channel_id": "5"}},
                {"target": {"kind": "message", "id": "13"}, "guild": {"id": "2"},
                 "message": {"author_id": "23", "channel_id": "6"}},
                {"target": {"kind": "user", "id": "21"}}]}

        async def evidence_of(self, message_id: int) -> tuple[Evidence, ...]:
            return (Evidence(f"ev-{message_id}", "ab" * 32),)

        async def audit(self, *_: Any) -> None:
            return None

    http = f.http()
    book = Casebook(tmp_path / "records.sqlite")
    policy = parse_policy({"guild_id": "1", "mod_log_channel": "9", "country": "FR"},
                          "test")
    mod = Moderation(Views(), http, book, lambda _g: policy,  # type: ignore[arg-type]
                     Executor(http, AsyncMock(return_value=())), clock=lambda: f.T0)
    entry, _ = book.number(1, "case-x", f.T0, "csam")
    book.add_targets(1, entry.number, [("message", "11"), ("user", "21")])
    said = asyncio.run(mod.click("escalate", 1, entry.number,
                                 Moderator(MOD[0], MOD[1], True, False)))
    assert "escalation prepared" in said
    text = "\n".join(c.kwargs["params"].payload["content"]
                     for c in http.send_message.await_args_list)
    assert "/1/5/11" in text and "ev-11" in text
    assert "/1/5/12" not in text and "ev-12" not in text and "22" not in text.split(
        "Accounts (ids):")[1].split("\n")[0]
    assert "/2/6/13" not in text and "ev-13" not in text
