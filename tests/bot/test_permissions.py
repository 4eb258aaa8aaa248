"""Least privilege: the install link asks for the table's permissions and no more; diagnose
names what a server withholds, per channel, and the missing intents."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import discord
import pytest

from tests.bot import fakes as f
from veilleur.bot import permissions as perms


def test_the_install_link_asks_exactly_for_the_table_and_never_administrator() -> None:
    url = perms.invite_link("123456789012345678")
    q = parse_qs(urlparse(url).query)
    asked = discord.Permissions(int(q["permissions"][0]))
    # discord.py lists view_channel under its older name, read_messages.
    names = {"view_channel" if n == "read_messages" else n for n, on in asked if on}
    assert names == {n.name for n in perms.NEEDED}
    assert not asked.administrator and not asked.kick_members
    # Bans only on a moderator's click: asked, and its reason says so.
    assert asked.ban_members
    assert "moderator's click" in next(n.why for n in perms.NEEDED if n.name == "ban_members")
    assert q["client_id"] == ["123456789012345678"]
    assert q["scope"] == ["bot applications.commands"]
    with pytest.raises(ValueError, match="application's number"):
        perms.invite_link("123&permissions=8")


def test_intents_are_the_needed_ones() -> None:
    have = perms.intents()
    assert have.guilds and have.guild_messages and have.message_content and have.members
    assert have.moderation and have.auto_moderation_execution
    assert not have.presences and not have.dm_messages
    assert perms.missing_intents(have) == []
    lacking = perms.missing_intents(discord.Intents.default())
    assert any("message_content" in p and "developer portal" in p for p in lacking)


def test_diagnose_names_each_missing_permission_per_channel() -> None:
    st = f.state()
    partial = discord.Permissions(view_channel=True, read_message_history=True,
                                  send_messages=True, moderate_members=True)
    g = f.guild(st, f.snowflake(), "Le Salon", bot_permissions=partial)
    general = f.text_channel(st, g, f.snowflake(), "general")
    # The server denies the bot's role the view of #secret.
    bot_role = g.me.top_role
    secret = f.text_channel(st, g, f.snowflake(), "secret", overwrites=[
        {"id": str(bot_role.id), "type": 0, "allow": "0",
         "deny": str(discord.Permissions(view_channel=True).value)}])
    problems = perms.diagnose(g, discord.Intents.default(), mod_log=general.id)
    text = "\n".join(problems)
    assert "missing permission Manage Roles on the server" in text
    assert "missing permission View Audit Log on the server" in text
    assert "Moderate Members" not in text
    assert f"#{general.name}: missing Manage Messages, Manage Channels" in text
    assert (f"#{secret.name}: missing View Channel, Read Message History, "
            "Manage Messages, Manage Channels") in text
    assert "intent members is off" in text
    assert "permission Send Messages in" not in text  # the mod log may be written


def test_diagnose_is_quiet_when_everything_is_granted_and_checks_the_quarantine_role() -> None:
    st = f.state()
    rid = f.snowflake()
    g = f.guild(st, f.snowflake(), "Le Salon", bot_permissions=perms.permissions(),
                roles=[f.role_data(rid, "quarantaine", discord.Permissions.none(), 1)])
    log = f.text_channel(st, g, f.snowflake(), "mod-log")
    assert perms.diagnose(g, perms.intents(), mod_log=log.id, quarantine_role=rid) == []
    high = f.snowflake()
    g2 = f.guild(st, f.snowflake(), "Autre", bot_permissions=perms.permissions(),
                 roles=[f.role_data(high, "staff", discord.Permissions.none(), 9)])
    [problem] = perms.diagnose(g2, perms.intents(), quarantine_role=high)
    assert "@staff is not below the bot's highest role" in problem
    assert perms.diagnose(g2, perms.intents(), mod_log=1) == [
        "the mod-log channel 1 does not exist"]


def test_diagnose_speaks_french_for_a_french_server() -> None:
    st = f.state()
    g = f.guild(st, f.snowflake(), "Le Salon",
                bot_permissions=discord.Permissions(view_channel=True))
    log = f.text_channel(st, g, f.snowflake(), "moderation")
    text = "\n".join(perms.diagnose(g, discord.Intents.default(), mod_log=log.id,
                                    locale="fr"))
    assert "permission manquante Bannir des membres sur le serveur" in text
    assert "Créer des fils privés dans #moderation" in text
    assert "#moderation : il manque Voir les anciens messages, Gérer les messages" in text
    assert "activez-le dans le portail des développeurs" in text
    assert "missing" not in text
    from veilleur.bot.client import diagnosis_text

    assert diagnosis_text([], "fr").startswith("Rien ne manque")
    assert diagnosis_text(["x"], "fr").startswith("Il manque au bot :")


def test_diagnose_quotes_the_servers_own_names_inert() -> None:
    st = f.state()
    g = f.guild(st, f.snowflake(), "Le Salon",
                bot_permissions=discord.Permissions(view_channel=True))
    f.text_channel(st, g, f.snowflake(), "x<@&1>`**y**`")
    text = "\n".join(perms.diagnose(g, perms.intents()))
    assert "<@&1>" not in text and "**y**" not in text and "\\<@&1\\>" in text
