"""The executor: evidence is asked for before any removal (and none means no removal),
50013 becomes a problem naming the permission, a 429 is reported and not retried, the mod
log is text with mentions off and previews suppressed."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.bot import fakes as f
from veilleur.bot.execute import Executor
from veilleur.bot.plan import Answer, Evidence, Kind, MessageRef, plan
from veilleur.bot.policy import parse_policy

REF = MessageRef(guild_id=11, channel_id=22, message_id=33, author_id=44)
POLICY = parse_policy({"guild_id": "11", "mod_log_channel": "99", "quarantine_role": "88",
                       "automatic": {"csam": ["hold_message", "timeout", "quarantine"]}},
                      "test")
SEALED = (Evidence("ev-7", "cd" * 32),)


def csam_plan() -> Any:
    return plan(Answer.of({"verdict": "review", "case_id": "C-9", "reasons": ["r"],
                           "findings": [{"category": "csam", "score": 0.97, "evidence": "e"}]},
                          SEALED), REF, POLICY)


def run(executor: Executor, p: Any) -> Any:
    return asyncio.run(executor.carry_out(p))


def recording(calls: list[str], evidence: tuple[Evidence, ...]) -> Any:
    async def evidence_of(message_id: int) -> tuple[Evidence, ...]:
        calls.append(f"evidence {message_id}")
        return evidence
    return evidence_of


def test_evidence_is_checked_before_the_message_is_removed() -> None:
    calls: list[str] = []
    http = f.http()
    http.delete_message.side_effect = lambda *a, **k: calls.append("delete")
    outcomes = run(Executor(http, recording(calls, SEALED), clock=lambda: f.T0), csam_plan())
    assert calls == ["evidence 33", "delete"]
    assert [o.done for o in outcomes] == [True, True, True]
    http.delete_message.assert_awaited_once_with(22, 33, reason="Veilleur case C-9: csam")
    kw = http.edit_member.await_args.kwargs
    assert kw["communication_disabled_until"] == f.later(60).isoformat()
    http.add_role.assert_awaited_once_with(11, 44, 88, reason="Veilleur case C-9: csam")


def test_without_evidence_nothing_is_removed_and_the_mod_log_says_so() -> None:
    http = f.http()
    ex = Executor(http, recording([], ()), clock=lambda: f.T0)
    outcomes = run(ex, csam_plan())
    http.delete_message.assert_not_awaited()
    assert not outcomes[0].done and "no evidence" in outcomes[0].detail
    log = http.send_message.await_args
    assert log.args == (99,)
    assert "Not done: hold_message: kept in place" in log.kwargs["params"].payload["content"]


def failing(**errors: Exception) -> tuple[Any, Executor, Any]:
    """The CSAM plan carried out while each named HTTP call raises its error."""
    http = f.http()
    for call, error in errors.items():
        getattr(http, call).side_effect = error
    ex = Executor(http, recording([], SEALED), clock=lambda: f.T0)
    return http, ex, run(ex, csam_plan())


def test_missing_permissions_are_named_and_do_not_stop_the_rest() -> None:
    http, ex, outcomes = failing(delete_message=f.forbidden(50013),
                                 add_role=f.forbidden(50013))
    assert [o.done for o in outcomes] == [False, True, False]
    assert "missing permission Manage Messages in channel 22" in outcomes[0].detail
    assert "missing permission Manage Roles in the server" in outcomes[2].detail
    assert len(ex.problems) == 2
    content = http.send_message.await_args.kwargs["params"].payload["content"]
    assert "Done: timed the author out for 60 min" in content
    assert "Manage Messages" in content


def test_a_rate_limit_is_reported_once_and_never_retried() -> None:
    http, ex, outcomes = failing(edit_member=f.rate_limited())
    assert http.edit_member.await_count == 1
    assert not outcomes[1].done and "rate limit: not retried" in outcomes[1].detail
    # Reported once (the bot's log, the mod log), and the rest of the plan went on.
    assert ex.problems == [f"timeout on message {REF.message_id}: Discord's rate limit: "
                           "not retried (discord.py waited what it was told; the moderators "
                           "decide)"]
    assert [o.done for o in outcomes] == [True, False, True]
    content = http.send_message.await_args.kwargs["params"].payload["content"]
    assert "Not done: timeout: Discord's rate limit" in content
    # The next plan asks again (a rate limit is not a refusal): one call, not a storm.
    run(ex, csam_plan())
    assert http.edit_member.await_count == 2


def test_a_message_already_gone_is_not_a_problem_and_a_closed_mod_log_is_noted() -> None:
    _http, ex, outcomes = failing(delete_message=f.forbidden(10008),
                                  send_message=f.forbidden(50013))
    assert "already gone" in outcomes[0].detail
    assert ex.problems == ["mod log 99: cannot write (missing permission Send Messages)"]


def test_the_mod_log_mentions_nobody_and_unfolds_no_preview() -> None:
    http = f.http()
    run(Executor(http, recording([], SEALED), clock=lambda: f.T0), csam_plan())
    payload = http.send_message.await_args.kwargs["params"].payload
    assert payload["allowed_mentions"] == {"parse": []}
    assert payload["flags"] & 4  # SUPPRESS_EMBEDS
    assert "ev-7 sha256 " + "cd" * 32 in payload["content"]
    assert "<@44>" in payload["content"]


def test_kinds_are_the_planned_ones() -> None:
    assert [a.kind for a in csam_plan().actions] == [Kind.HOLD, Kind.TIMEOUT, Kind.QUARANTINE]


def test_a_permission_refused_once_is_not_asked_again_for_a_while() -> None:
    """No bursts of 403: after a 50013, the same action in the same place waits."""
    now = [0.0]
    http = f.http()
    http.delete_message.side_effect = f.forbidden(50013)
    ex = Executor(http, recording([], SEALED), clock=lambda: f.T0, monotonic=lambda: now[0])
    first = run(ex, csam_plan())
    second = run(ex, csam_plan())
    assert http.delete_message.await_count == 1
    assert "not tried: missing permission Manage Messages" in second[0].detail
    assert first[1].done and second[1].done  # the time-out is another permission
    now[0] = 601.0
    run(ex, csam_plan())
    assert http.delete_message.await_count == 2


def test_a_message_whose_attachment_was_not_hashed_is_not_removed() -> None:
    """The message's own evidence is not enough: an attachment the bot could not fetch
    is not in it, and deleting the message would lose it."""
    from dataclasses import replace as but

    http = f.http()
    ex = Executor(http, recording([], SEALED), clock=lambda: f.T0)
    ref = but(REF, attachment_ids=(5, 6), attachment_sha256=((5, "ab" * 32),))
    p = plan(csam_plan().answer, ref, POLICY)
    outcomes = run(ex, p)
    http.delete_message.assert_not_awaited()
    assert not outcomes[0].done and "attachment(s) 6 could not be fetched" in outcomes[0].detail
    # Every attachment hashed: removed.
    ok = plan(csam_plan().answer, but(ref, attachment_sha256=((5, "ab" * 32),
                                                               (6, "cd" * 32))), POLICY)
    run(ex, ok)
    http.delete_message.assert_awaited_once()


def test_a_time_out_refused_for_one_higher_ranked_member_does_not_stop_the_others() -> None:
    from dataclasses import replace as but

    http = f.http()
    http.edit_member.side_effect = [f.forbidden(50013), None]
    ex = Executor(http, recording([], SEALED), clock=lambda: f.T0,
                  granted=lambda _g, _p: True)  # the bot may time members out
    first = run(ex, csam_plan())
    assert "member 44" in first[1].detail and "above the bot" in first[1].detail
    other = plan(csam_plan().answer, but(REF, author_id=45, message_id=34), POLICY)
    assert run(ex, other)[1].done
    assert http.edit_member.await_count == 2
    again = run(ex, csam_plan())  # the same member waits
    assert "not tried" in again[1].detail and http.edit_member.await_count == 2
    # Without the permission, the whole server waits.
    http2 = f.http()
    http2.edit_member.side_effect = f.forbidden(50013)
    ex2 = Executor(http2, recording([], SEALED), clock=lambda: f.T0,
                   granted=lambda _g, _p: False)
    run(ex2, csam_plan())
    assert "not tried" in run(ex2, other)[1].detail and http2.edit_member.await_count == 1


def test_a_closed_mod_log_is_not_written_to_again_for_a_while() -> None:
    now = [0.0]
    http = f.http()
    http.send_message.side_effect = f.forbidden(50013)
    ex = Executor(http, recording([], SEALED), clock=lambda: f.T0, monotonic=lambda: now[0])
    for _ in range(3):
        run(ex, csam_plan())
    assert http.send_message.await_count == 1
    assert len([p for p in ex.problems if p.startswith("mod log")]) == 1
    now[0] = 601.0
    run(ex, csam_plan())
    assert http.send_message.await_count == 2


def test_a_french_servers_mod_log_says_what_failed_in_french() -> None:
    from dataclasses import replace

    from veilleur.bot.modlog import text

    _, _, outcomes = failing(delete_message=f.forbidden(50013), edit_member=f.rate_limited(),
                                 add_role=f.forbidden(50013))
    p = replace(csam_plan(), locale="fr")
    content = text(p, outcomes)
    assert ("Pas fait: retenue du message : permission manquante Gérer les messages dans le "
            "salon 22") in content
    assert "exclusion temporaire : limite de débit de Discord" in content
    assert "rôle de quarantaine : permission manquante Gérer les rôles sur le serveur" in content
    assert "missing" not in content and "refused" not in content
    # The bot's log keeps English.
    assert "missing permission Manage Messages in channel 22" in outcomes[0].detail
