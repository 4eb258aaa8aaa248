"""Least privilege: the one table of what the bot needs and why, the install link computed
from it, and `diagnose`, which names what a server withholds (per channel) and which intents
are missing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlencode

import discord


class Scope(Enum):
    CHANNEL = "channel"
    """Needed in every channel the bot watches."""
    GUILD = "guild"
    """Needed once, server-wide."""
    MOD_LOG = "mod-log"
    """Needed in the mod-log channel."""


@dataclass(frozen=True, slots=True)
class Need:
    name: str
    """discord.Permissions' attribute."""
    scope: Scope
    why: str


NEEDED: tuple[Need, ...] = (
    Need("view_channel", Scope.CHANNEL, "see the channel and its messages"),
    Need("read_message_history", Scope.CHANNEL,
         "read a message again to keep its evidence and link"),
    Need("manage_messages", Scope.CHANNEL, "hold or delete a message (containment)"),
    Need("manage_channels", Scope.CHANNEL,
         "receive invite creations (Discord sends them only with this permission)"),
    Need("send_messages", Scope.MOD_LOG, "write the mod log"),
    Need("moderate_members", Scope.GUILD, "time a member out (containment)"),
    Need("manage_roles", Scope.GUILD, "give the quarantine role (containment)"),
    Need("view_audit_log", Scope.GUILD, "learn who banned or deleted"),
    Need("manage_guild", Scope.GUILD,
         "receive AutoMod executions (Discord sends them only with this permission)"),
)
"""Everything the bot asks for, and nothing else: no Administrator, no ban or kick (a
moderator does those)."""

INTENTS: tuple[tuple[str, str, bool], ...] = (
    ("guilds", "servers and channels", False),
    ("guild_messages", "messages in servers", False),
    ("message_content", "what messages say", True),
    ("members", "joins, leaves and member updates", True),
    ("moderation", "bans", False),
    ("auto_moderation_execution", "AutoMod executions", False),
    ("invites", "invite creations", False),
)
"""(discord.Intents attribute, what it brings, privileged: to be switched on in the
developer portal)."""


def permissions() -> discord.Permissions:
    """The permissions of the install link: exactly the table's."""
    return discord.Permissions(**{n.name: True for n in NEEDED})


def intents() -> discord.Intents:
    return discord.Intents(**{name: True for name, _, _ in INTENTS})


def invite_link(client_id: str) -> str:
    """The URL that installs the bot in a server with the table's permissions."""
    if not client_id.isdigit():
        raise ValueError(f"a client id is the application's number, got {client_id!r}")
    query = urlencode({"client_id": client_id, "permissions": str(permissions().value),
                       "scope": "bot applications.commands"})
    return f"https://discord.com/oauth2/authorize?{query}"


def label(permission: str) -> str:
    """'manage_messages' -> 'Manage Messages', as Discord's settings name it."""
    return permission.replace("_", " ").title().replace("Guild", "Server")


def missing_intents(have: discord.Intents) -> list[str]:
    return [f"intent {name} is off ({what}"
            + ("; switch it on in the developer portal)" if privileged else ")")
            for name, what, privileged in INTENTS if not getattr(have, name)]


def _lacking(allowed: discord.Permissions, scope: Scope, where: str) -> list[str]:
    return [f"missing permission {label(n.name)} {where} (to {n.why})"
            for n in NEEDED if n.scope is scope and not getattr(allowed, n.name)]


def diagnose(guild: discord.Guild, have: discord.Intents, *,
             mod_log: int | None = None, quarantine_role: int | None = None,
             channels: Iterable[discord.abc.GuildChannel] | None = None) -> list[str]:
    """Each thing the bot lacks in `guild`, one line each: intents, server-wide permissions,
    the mod-log channel's, the quarantine role's place, and each watched channel's missing
    permissions (by name)."""
    problems = missing_intents(have)
    me = guild.me
    if me is None:
        return [*problems, f"the bot is not a member of {guild.name}"]
    problems += _lacking(me.guild_permissions, Scope.GUILD, "on the server")
    if mod_log is not None:
        log_channel = guild.get_channel(mod_log)
        if log_channel is None:
            problems.append(f"the mod-log channel {mod_log} does not exist")
        else:
            problems += _lacking(log_channel.permissions_for(me), Scope.MOD_LOG,
                                 f"in #{log_channel.name}")
    if quarantine_role is not None:
        role = guild.get_role(quarantine_role)
        if role is None:
            problems.append(f"the quarantine role {quarantine_role} does not exist")
        elif role >= me.top_role:
            problems.append(f"the quarantine role @{role.name} is not below the bot's "
                            f"highest role (@{me.top_role.name}): it cannot be given")
    for channel in guild.text_channels if channels is None else channels:
        allowed = channel.permissions_for(me)
        lacking = [label(n.name) for n in NEEDED
                   if n.scope is Scope.CHANNEL and not getattr(allowed, n.name)]
        if lacking:
            problems.append(f"#{channel.name}: missing {', '.join(lacking)}")
    return problems
