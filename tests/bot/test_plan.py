"""The planner: the engine's answer and the server's policy in, the automatic containment
out, in order (the message first), silent for grooming and sextortion; and the mod log's
text: hashes, reasons and links, never a picture or a file's URL."""

from __future__ import annotations

from veilleur.bot import modlog
from veilleur.bot.modlog import Outcome
from veilleur.bot.plan import Answer, Evidence, Kind, MessageRef, plan
from veilleur.bot.policy import parse_policy

REF = MessageRef(guild_id=1, channel_id=2, message_id=3, author_id=4, attachment_ids=(5,))
POLICY = parse_policy({
    "guild_id": "1", "mod_log_channel": "9", "quarantine_role": "8",
    "notice_in_channel": ["ncii", "blocked"],
    "automatic": {"csam": ["hold_message", "quarantine"], "grooming": ["hold_message"],
                  "ncii": ["delete_message", "timeout"], "blocked": ["delete_message"]}},
    "test")


def answer(verdict: str, *cats: tuple[str, float]) -> Answer:
    return Answer.of({"verdict": verdict, "case_id": "C-1" if cats else None,
                      "reasons": ["held for review: teaser + https://mega.nz/folder/x"],
                      "findings": [{"category": c, "score": s, "evidence": "e"}
                                   for c, s in cats]},
                     (Evidence("ev-1", "ab" * 32),))


def test_allowed_messages_and_direct_messages_plan_nothing() -> None:
    assert plan(answer("allow"), REF, POLICY).empty
    dm = MessageRef(None, 2, 3, 4)
    assert plan(answer("review", ("grooming", 0.9)), dm, POLICY).empty


def test_the_message_first_then_the_author_and_grooming_is_silent() -> None:
    p = plan(answer("review", ("ncii", 0.9)), REF, POLICY)
    assert [a.kind for a in p.actions] == [Kind.DELETE, Kind.TIMEOUT, Kind.NOTICE]
    assert p.actions[1].minutes == 60
    g = plan(answer("review", ("grooming", 0.9)), REF, POLICY)
    assert [a.kind for a in g.actions] == [Kind.HOLD]
    assert g.silent and g.mod_log == 9
    assert "case C-1: grooming" in g.actions[0].reason


def test_categories_combine_and_a_notice_is_left_only_when_the_case_is_not_silent() -> None:
    p = plan(answer("review", ("ncii", 0.8)), REF, POLICY)
    assert [a.kind for a in p.actions] == [Kind.DELETE, Kind.TIMEOUT, Kind.NOTICE]
    both = plan(answer("review", ("ncii", 0.8), ("grooming", 0.7)), REF, POLICY)
    # Grooming found too: no notice, and no time-out or role the author would see.
    assert [a.kind for a in both.actions] == [Kind.HOLD]
    assert both.silent
    blocked = plan(answer("block"), REF, POLICY)
    assert [a.kind for a in blocked.actions] == [Kind.DELETE, Kind.NOTICE]


def test_without_automatic_containment_the_moderators_are_told() -> None:
    p = plan(answer("review", ("sextortion", 0.9)), REF, POLICY)
    assert p.actions == () and p.mod_log == 9 and p.silent


def test_the_mod_log_carries_hashes_reasons_and_the_link_never_a_file_url() -> None:
    p = plan(answer("review", ("csam", 0.95)), REF, POLICY)
    text = modlog.text(p, [Outcome(p.actions[0], True, "held the message"),
                           Outcome(p.actions[1], False, "quarantine: missing permission")])
    assert "https://discord.com/channels/1/2/3" in text
    assert "ev-1 sha256 " + "ab" * 32 in text
    assert "csam 0.95" in text and "case C-1" in text
    assert "Attachments (not shown, never reposted): 5 (not fetched)" in text
    assert "Done: held the message" in text and "Not done: quarantine" in text
    assert "cdn.discordapp" not in text and "mega.nz" not in text
    assert "hxxps://mega[.]nz/folder/x" in text
    assert text.count("https://") == 1


def test_the_mod_log_speaks_the_servers_language() -> None:
    fr = parse_policy({"guild_id": "1", "locale": "fr", "mod_log_channel": "9",
                       "automatic": {"grooming": ["hold_message"]}}, "test")
    p = plan(answer("review", ("grooming", 0.9)), REF, fr)
    text = modlog.text(p, [Outcome(p.actions[0], True, "held the message"),
                           Outcome(p.actions[0], False, "timeout: missing permission")])
    assert "dossier C-1" in text and "silencieux (l'auteur n'est pas prévenu)" in text
    assert "Fait: message retenu" in text and "Pas fait: timeout: missing permission" in text
    assert "Preuves scellées: ev-1 sha256" in text


def test_every_link_is_defanged_whatever_its_scheme_or_host() -> None:
    assert modlog.defang("https://93.184.216.34/x") == "hxxps://93[.]184[.]216[.]34/x"
    assert modlog.defang("voir ftp://files.example/a") == "voir ftp[:]//files[.]example/a"
    assert modlog.defang("mega.co.nz") == "mega[.]co[.]nz"


def test_platform_strings_cannot_format_or_mention_in_the_mod_log() -> None:
    a = Answer.of({"verdict": "review", "case_id": "C-1",
                   "reasons": ["||secret|| `code` *b* _i_ ~~s~~ > q <@&123> </ban:1>"],
                   "findings": [{"category": "csam", "score": 0.9, "evidence": "e"}]})
    p = plan(a, REF, POLICY)
    text = modlog.text(p, [])
    why = next(line for line in text.splitlines() if line.startswith("Why: "))
    for raw in ("||secret||", "`code`", "*b*", "_i_", "~~s~~", "<@&123>", "</ban:1>"):
        assert raw not in why, raw
    assert r"\|\|secret\|\|" in why and r"\<@&123\>" in why and r"\> q" in why


def test_a_long_mod_log_keeps_what_was_done_and_cuts_the_reasons() -> None:
    ref = MessageRef(1, 2, 3, 4, attachment_ids=tuple(range(10**17, 10**17 + 10)))
    a = Answer.of({"verdict": "review", "case_id": "C-1",
                   "reasons": ["mot " * 200, "autre " * 200, "encore " * 200],
                   "findings": [{"category": "csam", "score": 0.9, "evidence": "e"}]},
                  tuple(Evidence(f"ev-{i}", "ab" * 32) for i in range(12)))
    p = plan(a, ref, POLICY)
    outcomes = [Outcome(p.actions[0], True, "held"),
                Outcome(p.actions[1], False, "quarantine: missing permission Manage Roles")]
    text = modlog.text(p, outcomes)
    assert len(text) <= 2000
    assert text.splitlines()[-2] == "Done: held"
    assert text.splitlines()[-1] == ("Not done: quarantine: missing permission Manage "
                                     "Roles")
    assert "ev-11 sha256" in text
