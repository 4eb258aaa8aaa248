"""Waves (raids): thresholds start one wave, a continuing one is extended (not restarted),
a new one is possible once its pause is over; memory is bounded; the `[wave]` policy is
validated; the pause and its lifting go through Discord's incident actions (both fields,
ISO times, under 24 hours), a missing Manage Server is a problem line; a moderator's bulk
ban goes by 200 and keeps the messages; the mod log's text is inert and fits Discord's
limit. Every clock is injected."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock

import pytest

from tests.bot import fakes as f
from veilleur.bot import incidents, wave
from veilleur.bot.execute import Executor
from veilleur.bot.modlog import MAX_TEXT
from veilleur.bot.policy import BotPolicyError, WavePolicy, load_policy, parse_policy
from veilleur.bot.wave import MAX_EVENTS, Step, Waves

G = 123456789012345678
POLICY = WavePolicy(flagged=5, joins=20, young_joins=10, window_seconds=300,
                    pause_minutes=60, automatic=True)


def at(seconds: float) -> datetime:
    return f.T0 + timedelta(seconds=seconds)


def waves(policy: WavePolicy | None = POLICY, **kw: Any) -> Waves:
    return Waves(lambda _g: policy, **kw)


def flood(w: Waves, n: int, start: float = 0, step: float = 10, first_author: int = 1000
          ) -> list[wave.WaveDecision]:
    """`n` flagged messages from `n` accounts, `step` seconds apart: the decisions given."""
    out = []
    for k in range(n):
        d = w.observe_flagged(G, first_author + k, at(start + k * step))
        if d is not None:
            out.append(d)
    return out


# The detector ----------------------------------------------------------------------------

def test_under_the_threshold_nothing_and_reaching_it_starts_one_wave() -> None:
    w = waves()
    assert flood(w, 4) == []
    d = w.observe_flagged(G, 1004, at(40))
    assert d is not None and d.step is Step.START and d.pause
    assert d.until == at(40) + timedelta(minutes=60) and d.started == at(40)
    assert (d.flagged, d.authors, d.joins, d.reached) == (5, 5, 0, ("flagged",))
    assert d.accounts == (1000, 1001, 1002, 1003, 1004)
    assert "5 flagged messages from 5 accounts" in d.why()


def test_the_window_slides_old_messages_do_not_count() -> None:
    w = waves()
    # 5 messages 100 s apart: never 5 within 300 s.
    assert flood(w, 12, step=100) == []


def test_a_message_judged_twice_counts_once() -> None:
    w = waves()
    for k in range(4):  # AutoMod's event and the message's own, for each
        assert w.observe_flagged(G, 1, at(k), message_id=77 + k) is None
        assert w.observe_flagged(G, 1, at(k), message_id=77 + k) is None
    d = w.observe_flagged(G, 1, at(5), message_id=99)
    assert d is not None and d.flagged == 5 and d.authors == 1 and d.accounts == (1,)


def test_a_continuing_wave_is_extended_not_restarted() -> None:
    w = waves()
    [start] = flood(w, 5)
    # The flood goes on: no second start, and at most one extension per window.
    more = flood(w, 30, start=50, step=10, first_author=2000)
    assert [d.step for d in more] == [Step.EXTEND]
    ext = more[0]
    assert ext.started == start.started and ext.until > start.until
    assert (ext.until - start.until) >= timedelta(seconds=300)
    # The accounts of the whole wave, first seen first.
    assert ext.accounts[:5] == start.accounts and 2000 in ext.accounts
    # The flood stops; a lone flagged message later in the pause changes nothing.
    assert w.observe_flagged(G, 9, at(1800)) is None


def test_after_the_pause_a_new_burst_is_a_new_wave() -> None:
    w = waves()
    [first] = flood(w, 5)
    after = (first.until - f.T0).total_seconds() + 1
    [second] = flood(w, 5, start=after, first_author=3000)
    assert second.step is Step.START and second.started > first.until
    assert second.accounts == (3000, 3001, 3002, 3003, 3004)
    # A moderator lifting the pause early ends the wave too.
    w.end(G)
    [third] = flood(w, 5, start=after + 60, first_author=4000)
    assert third.step is Step.START


def test_joins_and_young_accounts_start_a_wave_without_flagged_messages() -> None:
    w = waves()
    old, young = f.T0 - timedelta(days=400), f.T0 - timedelta(days=2)
    for k in range(9):
        assert w.observe_join(G, 5000 + k, young, at(k)) is None
    d = w.observe_join(G, 5009, young, at(9))
    assert d is not None and d.reached == ("young_joins",) and d.young_joins == 10
    assert d.accounts == ()  # joining is no evidence: nobody is proposed for a ban
    w2 = waves()
    ds = [w2.observe_join(G, 6000 + k, old, at(k)) for k in range(20)]
    assert [d.reached for d in ds if d] == [("joins",)] and ds[-1] is not None
    assert ds[-1].young_joins == 0


def test_a_server_without_wave_policy_is_not_watched_and_a_proposal_is_not_a_pause() -> None:
    w = waves(None)
    assert flood(w, 50) == [] and len(w) == 0
    [d] = flood(waves(WavePolicy(flagged=5)), 5)
    assert not d.pause  # automatic defaults to false: the mod log proposes it


def test_memory_is_bounded() -> None:
    w = waves(max_guilds=3)
    for g in range(10):
        w.observe_flagged(g + 1, 1, at(0))
    assert len(w) == 3
    # Per server, the events kept are capped, and the young-account count follows them.
    big = WavePolicy(flagged=1000, joins=0, young_joins=1000, window_seconds=3600)
    d = wave.Detector(G, big)
    for k in range(MAX_EVENTS + 50):
        d.flagged(k, at(k * 0.01))
        d.joined(f.T0 - timedelta(days=400 * (k % 3 == 0)), at(k * 0.01))
    assert len(d._g.flagged) == MAX_EVENTS and len(d._g.joins) == MAX_EVENTS
    assert d._g.young == sum(y for _, y in d._g.joins) < MAX_EVENTS
    assert d._g.wave is not None and len(d._g.wave.accounts) <= wave.MAX_ACCOUNTS


def test_a_long_pause_is_capped_under_discord_s_24_hours() -> None:
    [d] = flood(waves(WavePolicy(flagged=1, pause_minutes=24 * 60)), 1)
    assert d.until - d.started < timedelta(hours=24)


# The policy ------------------------------------------------------------------------------

BASE = 'guild_id = "123456789012345678"\n'


@pytest.mark.parametrize(("table", "message"), [
    ("[wave]\nflagged = -1", "wave.flagged: must be a whole number from 0 to 1000"),
    ("[wave]\npause_minutes = 1441", "wave.pause_minutes: must be a whole number from 1 "
                                     "to 1440 (24 hours"),
    ("[wave]\nwindow_seconds = 2.5", "wave.window_seconds: must be a whole number"),
    ("[wave]\nautomatic = \"yes\"", "wave.automatic: must be true or false"),
    ("[wave]\njoins = true", "wave.joins: must be a whole number"),
    ("[wave]\nraid = 3", "wave.raid: unknown key"),
    ("[wave]\nflagged = 0\njoins = 0\nyoung_joins = 0", "wave: flagged, joins and "
                                                       "young_joins are all 0"),
    ("wave = 5", "wave: must be a table"),
])
def test_wave_policy_errors_name_the_file_and_the_key(tmp_path: Path, table: str,
                                                      message: str) -> None:
    path = tmp_path / "server.toml"
    path.write_text(BASE + table, encoding="utf-8")
    with pytest.raises(BotPolicyError) as err:
        load_policy(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)


def test_wave_policy_defaults_and_values() -> None:
    assert parse_policy({"guild_id": "1"}, "t").wave is None
    p = parse_policy({"guild_id": "1", "wave": {"joins": 0, "automatic": True}}, "t").wave
    assert p == WavePolicy(flagged=5, joins=0, young_joins=10, young_days=7,
                           window_seconds=300, pause_minutes=60, automatic=True)


def test_the_example_policy_has_a_wave_table() -> None:
    example = Path(__file__).parents[2] / "examples" / "bot" / "server-policy.toml"
    assert load_policy(example).wave == WavePolicy(automatic=True)


# Discord ---------------------------------------------------------------------------------

def http() -> Any:
    h = f.http()
    h.edit_incident_actions = AsyncMock(name="edit_incident_actions", return_value={})
    h.bulk_ban = AsyncMock(name="bulk_ban")
    return h


def test_pause_sends_both_fields_as_iso_times_under_24_hours() -> None:
    h = http()
    r = asyncio.run(incidents.pause(h, G, f.T0 + timedelta(days=3), "wave", now=f.T0))
    assert r.done
    (gid,), kw = h.edit_incident_actions.await_args
    payload = kw["payload"]
    assert gid == G and set(payload) == {"invites_disabled_until", "dms_disabled_until"}
    until = datetime.fromisoformat(payload["invites_disabled_until"])
    assert payload["dms_disabled_until"] == payload["invites_disabled_until"]
    assert until.tzinfo is not None and f.T0 < until <= f.T0 + timedelta(hours=24)
    asyncio.run(incidents.pause(h, G, f.later(60), "wave", now=f.T0))
    assert h.edit_incident_actions.await_args.kwargs["payload"]["invites_disabled_until"] \
        == f.later(60).isoformat()


def test_resume_clears_both_fields() -> None:
    h = http()
    assert asyncio.run(incidents.resume(h, G)).done
    assert h.edit_incident_actions.await_args.kwargs["payload"] == {
        "invites_disabled_until": None, "dms_disabled_until": None}


def test_missing_manage_server_is_a_problem_line_not_a_crash() -> None:
    h = http()
    h.edit_incident_actions.side_effect = f.forbidden(50013)
    r = asyncio.run(incidents.pause(h, G, f.later(60), "wave", now=f.T0))
    assert not r.done and "missing permission Manage Server" in r.detail and str(G) in r.detail
    r = asyncio.run(incidents.resume(h, G))
    assert not r.done and "Manage Server" in r.detail
    h.edit_incident_actions.side_effect = f.rate_limited()
    r = asyncio.run(incidents.pause(h, G, f.later(60), "wave", now=f.T0))
    assert not r.done and "not retried" in r.detail


def test_bulk_ban_goes_by_200_keeps_messages_and_honours_discord_s_answer() -> None:
    h = http()
    ids = list(range(1, 451))

    async def answer(_g: int, *, user_ids: list[int], delete_message_seconds: int,
                     reason: str) -> dict[str, Any]:
        # Discord bans all but the first of each chunk (the owner, a higher role).
        return {"banned_users": [str(i) for i in user_ids[1:]],
                "failed_users": [str(user_ids[0])]}
    h.bulk_ban.side_effect = answer
    r = asyncio.run(incidents.bulk_ban(h, G, [*ids, 1, 2], "wave: moderator 7"))
    sizes = [len(c.kwargs["user_ids"]) for c in h.bulk_ban.await_args_list]
    assert sizes == [200, 200, 50]
    assert all(c.kwargs["delete_message_seconds"] == 0 for c in h.bulk_ban.await_args_list)
    assert r.failed == (1, 201, 401) and len(r.banned) == 447 and r.problems == ()


def test_bulk_ban_refusals() -> None:
    h = http()
    h.bulk_ban.side_effect = f.forbidden(50013)
    r = asyncio.run(incidents.bulk_ban(h, G, list(range(1, 301)), "x"))
    assert h.bulk_ban.await_count == 1  # not asked again: it would be refused the same way
    assert r.banned == () and len(r.failed) == 300
    assert "missing permission Ban Members and Manage Server" in r.problems[0]
    # "Failed to ban users" (none of the chunk): the next chunk is still tried.
    h = http()
    h.bulk_ban.side_effect = [f.forbidden(500000), {"banned_users": ["201"]}]
    r = asyncio.run(incidents.bulk_ban(h, G, list(range(1, 203)), "x"))
    assert r.banned == (201,) and len(r.failed) == 201 and r.problems == ()


# The mod log -----------------------------------------------------------------------------

def test_the_mod_log_text_is_inert_names_ids_and_fits() -> None:
    w = waves(WavePolicy(flagged=5, automatic=True, window_seconds=300))
    [d] = flood(w, 5)
    en = wave.text(d, "en", guild_name="**Le Salon** <@&1> https://evil.example/x ||s||")
    assert "Invites and DMs paused until <t:" in en
    assert "5 flagged messages from 5 accounts and 0 joins" in en and "in 5 min" in en
    assert "1000, 1001, 1002, 1003, 1004" in en and "<@1000>" not in en
    assert "\\*\\*Le Salon\\*\\*" in en and "\\<@&1\\>" in en and "hxxps://" in en
    assert "\\|\\|s\\|\\|" in en
    fr = wave.text(d, "fr")
    assert "Invitations et MP suspendus jusqu'à" in fr and "5 messages signalés" in fr
    problem = wave.text(d, "fr", problem="pause of invites and DMs: missing permission "
                                         "Manage Server in the server")
    assert "Pas fait: pause of invites and DMs: missing permission Manage Server" in problem
    proposed = wave.text(flood(waves(WavePolicy(flagged=5)), 5)[0])
    assert "not paused: the policy leaves it to a moderator" in proposed
    # A thousand accounts: the list is cut, counted, and the line fits one message.
    big = flood(waves(WavePolicy(flagged=1000, window_seconds=3600)), 1000, step=1,
                first_author=10**17)[0]
    for locale in ("en", "fr"):
        t = wave.text(big, locale, guild_name="x" * 5000)
        assert len(t) <= MAX_TEXT and ("more" in t or "de plus" in t)
        assert t.splitlines()[-1].split(": ", 1)[1].split(", ")[0] == str(10**17)


def test_ban_text_fits_and_names_what_failed() -> None:
    t = wave.ban_text(G, 7, tuple(range(10**17, 10**17 + 300)), (5, 6),
                      ("bulk ban: missing permission Ban Members",), "en")
    assert len(t) <= MAX_TEXT and "Banned by moderator 7 (300)" in t
    assert "Not banned (Discord refused or did not say) (2): 5, 6" in t
    assert t.endswith("Not done: bulk ban: missing permission Ban Members")


def test_respond_pauses_then_logs_without_mentions() -> None:
    h = http()
    ex = Executor(h, AsyncMock(return_value=()), clock=lambda: f.T0)
    [d] = flood(waves(), 5)
    r = asyncio.run(incidents.respond(h, d, post=ex.post, mod_log=99, locale="en",
                                      now=f.T0))
    assert r is not None and r.done
    h.edit_incident_actions.assert_awaited_once()
    payload = h.send_message.await_args.kwargs["params"].payload
    assert h.send_message.await_args.args == (99,)
    assert payload["allowed_mentions"] == {"parse": []}
    assert "paused until" in payload["content"]
    # Not automatic: nothing asked of Discord, the mod log proposes it.
    h2 = http()
    [p] = flood(waves(WavePolicy(flagged=5)), 5)
    assert asyncio.run(incidents.respond(h2, p, post=Executor(h2, AsyncMock()).post,
                                         mod_log=99)) is None
    h2.edit_incident_actions.assert_not_awaited()
    assert "not paused" in h2.send_message.await_args.kwargs["params"].payload["content"]
    # Refused: the mod log says so, in the server's language.
    h3 = http()
    h3.edit_incident_actions.side_effect = f.forbidden(50013)
    r3 = asyncio.run(incidents.respond(h3, d, post=Executor(h3, AsyncMock()).post,
                                       mod_log=99, locale="fr", now=f.T0))
    assert r3 is not None and not r3.done
    assert "Pas fait: pause of invites and DMs: missing permission Manage Server" in \
        h3.send_message.await_args.kwargs["params"].payload["content"]
