"""AutoMod as the first line: the rules Veilleur wants stay within Discord's limits, match
only certain patterns (innocent sentences pass, synthetic lures do not), and `sync` touches
only the bot's own rules, makes no call when nothing changed, and reports Discord's refusals
instead of raising."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import discord
import pytest

from tests.bot import fakes as f
from veilleur.bot import automod as am
from veilleur.bot.policy import BotPolicyError, ServerPolicy, load_policy, parse_policy
from veilleur.corpus.families import expand, load_families
from veilleur.taxonomy import Category

GUILD = 11
MOD_LOG = 99
FULL = parse_policy({"guild_id": str(GUILD), "automod": True, "locale": "fr",
                     "mod_log_channel": str(MOD_LOG)}, "test")
POLICIES = [FULL, replace(FULL, locale="en"), replace(FULL, automod_keyword_rules=1),
            replace(FULL, mod_log_channel=None)]


def keyword_matches(keyword: str, text: str) -> bool:
    """Discord's keyword matching: case-insensitive; without a `*` at an end the keyword
    must end (or start) a word there; a phrase matches words in a row."""
    core = re.escape(keyword.strip("*"))
    before = "" if keyword.startswith("*") else r"(?<!\w)"
    after = "" if keyword.endswith("*") else r"(?!\w)"
    return re.search(before + core + after, text, re.IGNORECASE) is not None


def matched_by(rule: am.Desired, text: str) -> list[str]:
    return [k for k in rule.keywords if keyword_matches(k, text)] + \
        [r for r in rule.regexes if re.search(r, text)]


def matcher(rule: am.Desired) -> Callable[[str], bool]:
    """`matched_by` made fast over many messages: a keyword's text must be in the message
    before its word boundaries are checked; the regexes compiled once."""
    keywords = [(k.strip("*").lower(), k) for k in rule.keywords]
    regexes = [re.compile(r) for r in rule.regexes]

    def matches(text: str) -> bool:
        low = text.lower()
        return any(core in low and keyword_matches(k, text) for core, k in keywords) or \
            any(r.search(text) for r in regexes)
    return matches


def rules(policy: ServerPolicy = FULL) -> dict[str, am.Desired]:
    return {r.name: r for r in am.desired_rules(policy)}


CODE_WORDS = "Veilleur: abuse-material code words"
GIFTS = "Veilleur: nudes for gifts or an unban"

INNOCENT = [
    "le pack de skins est dispo",
    "mon petit frère est en CP",
    "envoie une photo de ton setup",
    "je pose des CP vendredi",
    "la pizza au fromage est prête",
    "caldo de pollo para la cena",
    "je t'offre du nitro pour ton anniversaire",
    "unban pour le spam, désolé",
    "on échange des skins contre des robux ?",
    "un rouge à lèvres nude pour la soirée",
    "the depth charge scene was great",
    "the teen club meets on friday",
    "the loli character in this anime is funny",
    "le mineur a trouvé de l'or",
    "Nina a gagné le tournoi",
    "speedo pack for the swim team",
    "robux pour acheter des skins",
    "nitro for the whole server, gg",
    "send a pic of your new pc",
    "mi hermano menor juega a roblox",
    "gift card for nude heels",
    "nitro pour noël, merci !",
]

LURES = {
    CODE_WORDS: ["pthc dispo en mp", "p.t.h.c links", "vends pedo pack",
                 "p3d0 p4ck ici", "PEDOPACK en dm", "pack pédo complet",
                 "loli porn en dm", "nudes mineures dispo", "underage nudez vip",
                 "pr3teen lewds"],
    GIFTS: ["robux contre des nudes", "nitro for your nudes", "nudes pour robux",
            "je te deban contre tes nudes", "unban for nudez", "v-bucks for noodz",
            "1000 robux pour tes nvdes", "gift card for nudes"],
}


# ------------------------------------------------------------------ limits

@pytest.mark.parametrize("policy", POLICIES)
def test_every_rule_is_within_discords_limits(policy: ServerPolicy) -> None:
    wanted = am.desired_rules(policy)
    assert 1 <= len(wanted) <= policy.automod_keyword_rules < am.MAX_KEYWORD_RULES
    for rule in wanted:
        assert am.problems(rule) == []
        assert rule.name.startswith("Veilleur: ") and len(rule.name) <= am.MAX_NAME
        assert 0 < len(rule.keywords) <= am.MAX_KEYWORDS
        assert len(set(rule.keywords)) == len(rule.keywords)
        for k in rule.keywords:
            assert 0 < len(k) <= am.MAX_KEYWORD_LENGTH and "*" not in k.strip("*")
            assert k == k.lower()
        assert 0 < len(rule.regexes) <= am.MAX_REGEXES
        for r in rule.regexes:
            assert len(r) <= am.MAX_REGEX_LENGTH
            re.compile(r)
            assert not re.search(r"\(\?[=!<]|\\[1-9]|\(\?P=|\\k<", r)  # not in Rust
        for action in rule.actions():
            notice = action["metadata"].get("custom_message", "")
            assert len(notice) <= am.MAX_CUSTOM_MESSAGE


def test_the_checks_refuse_what_discord_would() -> None:
    rule = rules()[CODE_WORDS]
    too_many = replace(rule, regexes=rule.regexes + ("a",) * 11)
    assert any("regexes" in p for p in am.problems(too_many))
    assert any("260" in p for p in am.problems(replace(rule, regexes=("a" * 261,))))
    assert any("lookaround" in p for p in am.problems(replace(rule, regexes=("(?<!x)y",))))
    assert any("compile" in p for p in am.problems(replace(rule, regexes=("(a",))))
    assert any("escape" in p for p in am.problems(replace(rule, regexes=(r"a\Z",))))
    assert any("60" in p for p in am.problems(replace(rule, keywords=("a" * 61,))))
    assert any("* only" in p for p in am.problems(replace(rule, keywords=("a*b",))))
    with pytest.raises(am.AutomodLimitError, match="abuse-material"):
        am.check(replace(rule, keywords=("x",) * 1001))


def test_the_rules_are_the_same_every_time() -> None:
    assert am.desired_rules(FULL) == am.desired_rules(FULL)
    assert list(rules()) == [CODE_WORDS, GIFTS]


def test_one_keyword_rule_allowed_takes_the_code_words() -> None:
    assert list(rules(replace(FULL, automod_keyword_rules=1))) == [CODE_WORDS]


def test_automod_off_wants_no_rule() -> None:
    assert am.desired_rules(replace(FULL, automod=False)) == ()
    assert am.desired_rules(parse_policy({"guild_id": "1"}, "t")) == ()


# ------------------------------------------------------------------ certain patterns only

@pytest.mark.parametrize("text", INNOCENT)
def test_innocent_sentences_match_no_rule(text: str) -> None:
    for rule in rules().values():
        assert matched_by(rule, text) == [], (rule.name, text)


@pytest.mark.parametrize(("name", "text"), [(n, t) for n, ts in LURES.items() for t in ts])
def test_synthetic_lures_are_matched(name: str, text: str) -> None:
    assert matched_by(rules()[name], text), text
    assert matcher(rules()[name])(text)


def test_the_corpus_hard_negatives_match_no_rule() -> None:
    """The engine's own hard negatives that resemble abuse material or sextortion (shops,
    menus, school talk, prevention...), ten messages a family: none is matched."""
    families = [fam for fam in load_families() if fam.category is None
                and fam.resembles in (Category.CSAM, Category.SEXTORTION)]
    assert len(families) > 100
    patterns = [matcher(rule) for rule in rules().values()]
    caught = [m for fam in families for m in expand(fam, 10)
              if any(p(m) for p in patterns)]
    assert caught == []


def test_plain_lures_are_caught_by_keywords_alone() -> None:
    """Keywords are the floor: the plain spellings need no regex."""
    for name, text in ((CODE_WORDS, "pthc dispo en mp"), (CODE_WORDS, "loli porn en dm"),
                       (GIFTS, "nitro for nudes"), (GIFTS, "nudes contre robux")):
        assert any(keyword_matches(k, text) for k in rules()[name].keywords), text


def test_every_word_is_still_in_the_engines_packs() -> None:
    pack = am.shipped_pack()
    ids = {r.id: r for r in pack.rules}
    for family in am.FAMILIES:
        assert max(ids[r].weight for r in family.pack_rules) >= 0.75
        for words in [*family.alone, *(w for p in family.pairs for w in (p.first, p.second))]:
            assert am.in_pack(words, pack) == words.words, words.set_name
            if words.regex is not None:
                for w in words.words:
                    assert re.fullmatch(words.regex + r"[\$5sz]*", w), w


def test_a_word_the_pack_drops_is_dropped() -> None:
    family = replace(am.FAMILIES[0], alone=(am.Words("csam_code", ("pthc", "not-a-term")),),
                     pairs=())
    keywords, regexes = am.family_patterns(family)
    assert not any("not" in k for k in keywords) and len(regexes) == 1


# ------------------------------------------------------------------ actions

def test_code_words_are_blocked_with_a_notice_in_the_servers_language() -> None:
    actions = rules()[CODE_WORDS].actions()
    assert actions == [{"type": am.BLOCK_MESSAGE,
                        "metadata": {"custom_message": am.NOTICE["fr"]}},
                       {"type": am.SEND_ALERT_MESSAGE,
                        "metadata": {"channel_id": str(MOD_LOG)}}]
    no_log = rules(replace(FULL, locale="en", mod_log_channel=None))[CODE_WORDS]
    assert no_log.actions() == [{"type": am.BLOCK_MESSAGE,
                                 "metadata": {"custom_message": am.NOTICE["en"]}}]


def test_sextortion_is_not_blocked_in_the_authors_face_only_alerted() -> None:
    """Discord tells the author of a blocked message; sextortion acts silently."""
    assert rules()[GIFTS].actions() == [{"type": am.SEND_ALERT_MESSAGE,
                                         "metadata": {"channel_id": str(MOD_LOG)}}]
    chosen, notes = am.choose(replace(FULL, mod_log_channel=None))
    assert [c.name for c in chosen] == [CODE_WORDS]
    assert "mod_log_channel" in notes[0]


# ------------------------------------------------------------------ sync

BOT = f.BOT_ID


def http(existing: list[dict[str, Any]] | Exception) -> MagicMock:
    h = MagicMock(name="HTTPClient")
    if isinstance(existing, Exception):
        h.get_auto_moderation_rules = AsyncMock(side_effect=existing)
    else:
        h.get_auto_moderation_rules = AsyncMock(return_value=existing)
    for name in ("create_auto_moderation_rule", "edit_auto_moderation_rule",
                 "delete_auto_moderation_rule"):
        setattr(h, name, AsyncMock(name=name, return_value={}))
    return h


def in_discord(want: am.Desired, rid: int, *, creator: int = BOT, **extra: Any
               ) -> dict[str, Any]:
    rule = want.payload() | {"id": str(rid), "guild_id": str(GUILD),
                             "creator_id": str(creator), "enabled": True,
                             "exempt_roles": [], "exempt_channels": []}
    return rule | extra


def server_rule(rid: int, name: str = "Server words") -> dict[str, Any]:
    return {"id": str(rid), "guild_id": str(GUILD), "name": name, "creator_id": "5",
            "event_type": 1, "trigger_type": 1, "enabled": True,
            "trigger_metadata": {"keyword_filter": ["spam*"]},
            "actions": [{"type": 1, "metadata": {}}]}


def sync(h: MagicMock, wanted: tuple[am.Desired, ...] | None = None) -> am.SyncReport:
    return asyncio.run(am.sync(h, GUILD, am.desired_rules(FULL) if wanted is None
                               else wanted, bot_id=BOT))


def test_absent_rules_are_created() -> None:
    h = http([server_rule(1)])
    report = sync(h)
    assert report.created == [CODE_WORDS, GIFTS] and report.ok
    first = h.create_auto_moderation_rule.await_args_list[0]
    assert first.args == (GUILD,) and first.kwargs["enabled"] is True
    assert first.kwargs["name"] == CODE_WORDS and first.kwargs["trigger_type"] == 1
    assert first.kwargs["trigger_metadata"]["keyword_filter"] == \
        list(rules()[CODE_WORDS].keywords)
    h.edit_auto_moderation_rule.assert_not_awaited()
    h.delete_auto_moderation_rule.assert_not_awaited()


def test_rules_already_as_wanted_make_no_call() -> None:
    wanted = am.desired_rules(FULL)
    h = http([server_rule(1), *(in_discord(w, 10 + i) for i, w in enumerate(wanted))])
    report = sync(h)
    assert report.unchanged == [CODE_WORDS, GIFTS]
    assert not report.created and not report.updated and not report.deleted
    for name in ("create", "edit", "delete"):
        getattr(h, f"{name}_auto_moderation_rule").assert_not_awaited()


def test_a_changed_rule_is_updated_keeping_the_servers_exemptions() -> None:
    code, gifts = am.desired_rules(FULL)
    old = in_discord(replace(code, keywords=("old*",)), 10, exempt_roles=["77"])
    old["trigger_metadata"]["allow_list"] = ["prevention talk"]
    h = http([old, in_discord(gifts, 11)])
    report = sync(h)
    assert report.updated == [CODE_WORDS] and report.unchanged == [GIFTS]
    call = h.edit_auto_moderation_rule.await_args
    assert call.args == (GUILD, "10")
    assert call.kwargs["trigger_metadata"]["keyword_filter"] == list(code.keywords)
    assert call.kwargs["trigger_metadata"]["allow_list"] == ["prevention talk"]
    assert "exempt_roles" not in call.kwargs and "enabled" not in call.kwargs


def test_a_rule_the_server_switched_off_stays_off() -> None:
    wanted = am.desired_rules(FULL)
    h = http([in_discord(wanted[0], 10, enabled=False), in_discord(wanted[1], 11)])
    report = sync(h)
    assert report.disabled == [CODE_WORDS] and report.unchanged == [CODE_WORDS, GIFTS]
    h.edit_auto_moderation_rule.assert_not_awaited()


def test_foreign_rules_are_left_alone_and_our_stale_ones_removed() -> None:
    wanted = am.desired_rules(FULL)
    look_alike = in_discord(wanted[0], 20, creator=5)  # named like ours, not the bot's
    stale = in_discord(replace(wanted[0], name="Veilleur: retired"), 21)
    twin = in_discord(wanted[1], 23)
    h = http([server_rule(1), look_alike, stale, in_discord(wanted[0], 22),
              in_discord(wanted[1], 12), twin])
    report = sync(h)
    deleted = [c.args[1] for c in h.delete_auto_moderation_rule.await_args_list]
    assert deleted == ["21", "23"]
    assert report.deleted == ["Veilleur: retired", GIFTS]
    h.edit_auto_moderation_rule.assert_not_awaited()
    h.create_auto_moderation_rule.assert_not_awaited()


def test_missing_manage_server_is_reported_not_raised() -> None:
    report = sync(http(f.forbidden(50013)))
    assert not report.ok and "Manage Server" in report.failed[0]
    assert "Manage Server" in report.summary()


def test_a_refused_rule_is_reported_and_the_next_still_tried() -> None:
    h = http([])
    invalid = discord.HTTPException(f.FakeResponse(400, "Bad Request"),  # type: ignore[arg-type]
                                    {"code": 50035, "message": "Invalid Form Body"})
    h.create_auto_moderation_rule.side_effect = [invalid, {}]
    report = sync(h)
    assert report.created == [GIFTS]
    assert "invalid (50035" in report.failed[0] and CODE_WORDS in report.failed[0]


def test_no_answer_from_discord_is_reported_not_raised() -> None:
    h = http([])
    h.create_auto_moderation_rule.side_effect = TimeoutError()
    report = sync(h)
    assert len(report.failed) == 2 and "not created" in report.failed[0]
    assert "no answer from Discord" in report.failed[0]
    assert report.summary().startswith(f"AutoMod in guild {GUILD}: failed 2")


def test_a_full_server_gets_no_new_rule_and_says_why() -> None:
    h = http([server_rule(i, f"Server words {i}") for i in range(1, 7)])
    report = sync(h)
    h.create_auto_moderation_rule.assert_not_awaited()
    assert len(report.failed) == 2 and "6 keyword rules" in report.failed[0]


def test_keep_in_sync_with_automod_off_removes_only_ours() -> None:
    wanted = am.desired_rules(FULL)
    h = http([server_rule(1), in_discord(wanted[0], 10)])
    report = asyncio.run(am.keep_in_sync(h, GUILD, BOT, replace(FULL, automod=False)))
    assert report.deleted == [CODE_WORDS]
    assert [c.args[1] for c in h.delete_auto_moderation_rule.await_args_list] == ["10"]


def test_keep_in_sync_off_without_manage_server_is_quiet() -> None:
    report = asyncio.run(am.keep_in_sync(http(f.forbidden(50013)), GUILD, BOT,
                                         replace(FULL, automod=False)))
    assert report.ok and "Manage Server" in report.notes[0]


def test_keep_in_sync_creates_and_notes_what_is_left_out() -> None:
    h = http([])
    report = asyncio.run(am.keep_in_sync(h, GUILD, BOT, replace(FULL, mod_log_channel=None)))
    assert report.created == [CODE_WORDS]
    assert any("mod_log_channel" in n for n in report.notes)


# ------------------------------------------------------------------ policy keys

def test_the_policy_keys_are_read_and_default_off(tmp_path: Path) -> None:
    assert parse_policy({"guild_id": "1"}, "t").automod is False
    p = tmp_path / "s.toml"
    p.write_text('guild_id = "1"\nautomod = true\nautomod_keyword_rules = 1\n',
                 encoding="utf-8")
    policy = load_policy(p)
    assert policy.automod is True and policy.automod_keyword_rules == 1


@pytest.mark.parametrize(("extra", "key"), [({"automod": "yes"}, "automod"),
                                            ({"automod_keyword_rules": 3},
                                             "automod_keyword_rules"),
                                            ({"automod_keyword_rules": True},
                                             "automod_keyword_rules")])
def test_bad_policy_values_name_the_file_and_key(extra: dict[str, Any], key: str) -> None:
    with pytest.raises(BotPolicyError, match=rf"^server\.toml: {key}:"):
        parse_policy({"guild_id": "1", **extra}, "server.toml")
