"""Least privilege: the one table of what the bot needs and why, the install link computed
from it, and `diagnose`, which names what a server withholds (per channel) and which intents
are missing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlencode

import discord

from veilleur.bot.modlog import quoted


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
         "receive AutoMod executions (Discord sends them only with this permission), keep "
         "its AutoMod rules, pause invites and DMs during a wave"),
    Need("ban_members", Scope.GUILD,
         "ban on a moderator's click, never by itself (the moderator needs Ban Members too)"),
    Need("create_private_threads", Scope.MOD_LOG,
         "open a private thread per case in the mod-log channel"),
    Need("send_messages_in_threads", Scope.MOD_LOG, "write in the cases' threads"),
    Need("manage_threads", Scope.MOD_LOG,
         "add the moderators who act on a case to its private thread"),
)
"""Everything the bot asks for, and nothing else: no Administrator, no kick. Bans only on a
moderator's click (the bot checks the moderator holds Ban Members), never automatic."""

FRENCH_LABELS = {
    "view_channel": "Voir les salons", "read_message_history": "Voir les anciens messages",
    "manage_messages": "Gérer les messages", "manage_channels": "Gérer les salons",
    "send_messages": "Envoyer des messages", "moderate_members": "Exclure temporairement "
    "des membres", "manage_roles": "Gérer les rôles", "view_audit_log": "Voir les logs du "
    "serveur", "manage_guild": "Gérer le serveur", "ban_members": "Bannir des membres",
    "create_private_threads": "Créer des fils privés",
    "send_messages_in_threads": "Envoyer des messages dans les fils",
    "manage_threads": "Gérer les fils"}
"""Discord's own names for the permissions in its French settings."""

FRENCH_WHY = {
    "view_channel": "voir le salon et ses messages",
    "read_message_history": "relire un message pour garder sa preuve et son lien",
    "manage_messages": "retenir ou supprimer un message (confinement)",
    "manage_channels": "recevoir les créations d'invitations (Discord ne les envoie "
                       "qu'avec cette permission)",
    "send_messages": "écrire le journal de modération",
    "moderate_members": "exclure temporairement un membre (confinement)",
    "manage_roles": "donner le rôle de quarantaine (confinement)",
    "view_audit_log": "savoir qui a banni ou supprimé",
    "manage_guild": "recevoir les actions d'AutoMod, tenir ses règles AutoMod, suspendre "
                    "invitations et MP pendant une vague",
    "ban_members": "bannir sur le clic d'un modérateur, jamais seul (le modérateur doit "
                   "aussi avoir Bannir des membres)",
    "create_private_threads": "ouvrir un fil privé par dossier dans le salon de modération",
    "send_messages_in_threads": "écrire dans les fils des dossiers",
    "manage_threads": "ajouter au fil privé d'un dossier les modérateurs qui agissent"}

WORDS = {
    "en": {"on_server": "on the server", "in": "in", "missing_permission":
           "missing permission {perm} {where} (to {why})", "channel_missing":
           "#{channel}: missing {perms}", "not_member": "the bot is not a member of {name}",
           "no_mod_log": "the mod-log channel {id} does not exist",
           "no_role": "the quarantine role {id} does not exist",
           "role_high": "the quarantine role @{role} is not below the bot's highest role "
                        "(@{top}): it cannot be given",
           "intent": "intent {name} is off ({what}", "portal":
           "; switch it on in the developer portal)"},
    "fr": {"on_server": "sur le serveur", "in": "dans", "missing_permission":
           "permission manquante {perm} {where} (pour {why})", "channel_missing":
           "#{channel} : il manque {perms}", "not_member":
           "le bot n'est pas membre de {name}",
           "no_mod_log": "le salon de modération {id} n'existe pas",
           "no_role": "le rôle de quarantaine {id} n'existe pas",
           "role_high": "le rôle de quarantaine @{role} n'est pas sous le rôle le plus haut "
                        "du bot (@{top}) : il ne peut pas être donné",
           "intent": "l'intent {name} est désactivé ({what}", "portal":
           " ; activez-le dans le portail des développeurs)"},
}

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


def label(permission: str, locale: str = "en") -> str:
    """'manage_messages' -> 'Manage Messages', as Discord's settings name it (in French:
    'Gérer les messages')."""
    if locale == "fr" and permission in FRENCH_LABELS:
        return FRENCH_LABELS[permission]
    return permission.replace("_", " ").title().replace("Guild", "Server")


def _why(need: Need, locale: str) -> str:
    return FRENCH_WHY.get(need.name, need.why) if locale == "fr" else need.why


def missing_intents(have: discord.Intents, locale: str = "en") -> list[str]:
    w = WORDS.get(locale, WORDS["en"])
    return [w["intent"].format(name=name, what=what) + (w["portal"] if privileged else ")")
            for name, what, privileged in INTENTS if not getattr(have, name)]


def _lacking(allowed: discord.Permissions, scope: Scope, where: str, locale: str
             ) -> list[str]:
    w = WORDS.get(locale, WORDS["en"])
    return [w["missing_permission"].format(perm=label(n.name, locale), where=where,
                                           why=_why(n, locale))
            for n in NEEDED if n.scope is scope and not getattr(allowed, n.name)]


def diagnose(guild: discord.Guild, have: discord.Intents, *,
             mod_log: int | None = None, quarantine_role: int | None = None,
             channels: Iterable[discord.abc.GuildChannel] | None = None,
             locale: str = "en") -> list[str]:
    """Each thing the bot lacks in `guild`, one line each, in the server's language (the
    server's own names quoted inert: they are the platform's strings):
    intents, server-wide permissions, the mod-log channel's, the quarantine role's place,
    and each watched channel's missing permissions (by name)."""
    w = WORDS.get(locale, WORDS["en"])
    problems = missing_intents(have, locale)
    me = guild.me
    if me is None:
        return [*problems, w["not_member"].format(name=quoted(guild.name))]
    problems += _lacking(me.guild_permissions, Scope.GUILD, w["on_server"], locale)
    if mod_log is not None:
        log_channel = guild.get_channel(mod_log)
        if log_channel is None:
            problems.append(w["no_mod_log"].format(id=mod_log))
        else:
            problems += _lacking(log_channel.permissions_for(me), Scope.MOD_LOG,
                                 f"{w['in']} #{quoted(log_channel.name)}", locale)
    if quarantine_role is not None:
        role = guild.get_role(quarantine_role)
        if role is None:
            problems.append(w["no_role"].format(id=quarantine_role))
        elif role >= me.top_role:
            problems.append(w["role_high"].format(role=quoted(role.name),
                                                  top=quoted(me.top_role.name)))
    for channel in guild.text_channels if channels is None else channels:
        allowed = channel.permissions_for(me)
        lacking = [label(n.name, locale) for n in NEEDED
                   if n.scope is Scope.CHANNEL and not getattr(allowed, n.name)]
        if lacking:
            problems.append(w["channel_missing"].format(channel=quoted(channel.name),
                                                        perms=", ".join(lacking)))
    return problems
