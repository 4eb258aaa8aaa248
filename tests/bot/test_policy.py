"""A server's policy file is validated before use; errors name the file and the key; only
reversible containment may be automatic; grooming and sextortion act silently."""

from __future__ import annotations

from pathlib import Path

import pytest

from veilleur.bot.policy import BotPolicyError, load_policies, load_policy, parse_policy

GOOD = """
guild_id = "123456789012345678"
locale = "fr"
mod_log_channel = "223456789012345678"
quarantine_role = "323456789012345678"
timeout_minutes = 120
notice_in_channel = ["ncii"]

[automatic]
csam = ["hold_message", "quarantine"]
grooming = ["hold_message"]
ncii = ["delete_message", "timeout"]
blocked = ["delete_message"]
"""


def write(tmp_path: Path, text: str, name: str = "server.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_a_good_file_loads(tmp_path: Path) -> None:
    p = load_policy(write(tmp_path, GOOD))
    assert p.guild_id == 123456789012345678 and p.locale == "fr"
    assert p.mod_log_channel == 223456789012345678
    assert p.actions_for("grooming") == ("hold_message",)
    assert p.actions_for("ncii") == ("delete_message", "timeout")
    assert p.actions_for("sextortion") == ()
    assert p.timeout_minutes == 120 and p.notice_in_channel == {"ncii"}


@pytest.mark.parametrize(("change", "message"), [
    ('grooming = ["hold_message", "ban"]',
     "automatic.grooming: 'ban' cannot be automatic: a ban is not reversible"),
    ('grooming = ["kick"]', "automatic.grooming: 'kick' cannot be automatic"),
    ('grooming = ["mute_forever"]', "automatic.grooming: unknown action 'mute_forever'"),
    ('groomin = ["timeout"]', "automatic.groomin: unknown category"),
])
def test_automatic_bans_kicks_and_unknown_actions_are_refused(
        tmp_path: Path, change: str, message: str) -> None:
    text = GOOD.replace('grooming = ["hold_message"]', change)
    path = write(tmp_path, text)
    with pytest.raises(BotPolicyError) as err:
        load_policy(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)


@pytest.mark.parametrize(("text", "message"), [
    (GOOD.replace('notice_in_channel = ["ncii"]', 'notice_in_channel = ["grooming"]'),
     "notice_in_channel: grooming acts silently"),
    (GOOD.replace('notice_in_channel = ["ncii"]', 'notice_in_channel = ["sextortion"]'),
     "notice_in_channel: sextortion acts silently"),
    (GOOD.replace('grooming = ["hold_message"]', 'grooming = ["hold_message", "timeout"]'),
     "automatic.grooming: 'timeout' cannot be automatic for grooming: the author sees a "
     "time-out"),
    (GOOD.replace('grooming = ["hold_message"]', 'sextortion = ["quarantine"]'),
     "automatic.sextortion: 'quarantine' cannot be automatic for sextortion"),
    (GOOD.replace("timeout_minutes = 120", "timeout_minutes = 50000"), "timeout_minutes:"),
    (GOOD.replace('locale = "fr"', 'locale = "de"'), "locale: must be one of fr, en"),
    (GOOD.replace('mod_log_channel = "223456789012345678"', 'mod_log_channel = "#mods"'),
     "mod_log_channel: must be a Discord id"),
    (GOOD.replace('quarantine_role = "323456789012345678"\n', ""),
     "automatic.csam: 'quarantine' needs quarantine_role"),
    (GOOD.replace('guild_id = "123456789012345678"\n', ""), "guild_id: missing"),
    ("mod_log = 1\n" + GOOD, "mod_log: unknown key"),
    ("guild_id = [", "cannot load"),
])
def test_errors_name_the_file_and_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(BotPolicyError, match="^" + str(path).replace(".", r"\.")) as err:
        load_policy(path)
    assert message in str(err.value)


def test_a_folder_holds_one_file_per_server_and_two_for_one_server_are_refused(
        tmp_path: Path) -> None:
    write(tmp_path, GOOD, "a.toml")
    write(tmp_path, GOOD.replace("123456789012345678", "999456789012345678", 1), "b.toml")
    assert set(load_policies([tmp_path])) == {123456789012345678, 999456789012345678}
    write(tmp_path, GOOD, "c.toml")
    with pytest.raises(BotPolicyError, match=r"c\.toml: guild_id: .* already has a policy"):
        load_policies([tmp_path])


def test_the_readme_example_loads() -> None:
    example = Path(__file__).parents[2] / "examples" / "bot" / "server-policy.toml"
    p = load_policy(example)
    assert p.actions_for("csam") == ("hold_message", "quarantine")
    assert p.locale == "fr" and p.quarantine_role == 323456789012345678
    assert p.actions_for("grooming") == ("hold_message",)
    assert p.country == "FR" and p.moderator_roles == frozenset({423456789012345678})
    assert p.share_watch_list is False


@pytest.mark.parametrize(("key", "value", "says"), [
    ("country", "France", "two-letter ISO 3166 code"),
    ("country", 33, "two-letter ISO 3166 code"),
    ("moderator_roles", "123", "must be a list of role ids"),
    ("moderator_roles", ["modos"], "moderator_roles: must be a Discord id"),
    ("share_watch_list", "yes", "share_watch_list: must be true or false"),
])
def test_the_workflow_keys_are_checked_naming_file_and_key(key: str, value: object,
                                                           says: str) -> None:
    with pytest.raises(BotPolicyError, match=f"srv.toml: .*{says}"):
        parse_policy({"guild_id": "1", key: value}, "srv.toml")
