"""A server's policy, as data: where the mod log goes, the quarantine role, and what the bot
does by itself. One TOML file per server, validated before use; every error names the file
and the key.

Only reversible containment may be automatic: holding or deleting a message (its evidence
is kept first), a time-out, the quarantine role. Bans and kicks take a moderator: a file
that asks for them automatically is refused. Grooming and sextortion act silently: no
notice in the channel and no sanction the author is shown (a time-out, a role): a file that
asks for either for them is refused; only the message is held or deleted, which Discord
does not tell its author.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from veilleur.detect.base import PolicyDataError
from veilleur.taxonomy import Category

AUTOMATIC = ("hold_message", "delete_message", "timeout", "quarantine")
"""The containment the bot may do by itself: each can be undone (a held message's text is
in the sealed evidence; a time-out ends; a role is taken back)."""
MODERATOR_ONLY = {"ban": "a ban", "kick": "a kick", "escalate": "an escalation"}
BLOCKED = "blocked"
"""The `[automatic]` key for what the engine refuses outright (media already confirmed)."""
SILENT = frozenset({Category.GROOMING, Category.SEXTORTION})
"""Warning a groomer or an extortionist tells them to delete and move elsewhere."""
VISIBLE = {"timeout": "a time-out", "quarantine": "a new role"}
"""Containment the author is shown by Discord: never automatic for a `SILENT` category."""
LOCALES = ("fr", "en")
MAX_TIMEOUT_MINUTES = 28 * 24 * 60  # Discord's longest time-out
_KEYS = {"guild_id", "locale", "mod_log_channel", "quarantine_role", "timeout_minutes",
         "notice_in_channel", "automatic", "moderator_roles", "country", "share_watch_list",
         "wave", "automod", "automod_keyword_rules"}
AUTOMOD_KEYWORD_RULES = (1, 2)
"""How many of the server's keyword rules (Discord allows 6) Veilleur's AutoMod rules may
take: the rest stay the server's own."""


class BotPolicyError(PolicyDataError):
    pass


@dataclass(frozen=True, slots=True)
class ServerPolicy:
    guild_id: int
    locale: str = "en"
    mod_log_channel: int | None = None
    quarantine_role: int | None = None
    timeout_minutes: int = 60
    notice_in_channel: frozenset[str] = frozenset()
    """Categories (or `blocked`) whose holds leave a neutral notice in the channel."""
    automatic: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Per category value (or `blocked`), the containment done at once."""
    source: str = "(default)"
    moderator_roles: frozenset[int] = frozenset()
    """Roles whose members may use the case buttons and commands, besides those holding
    Manage Messages."""
    country: str | None = None
    """ISO 3166 code of the server's country: the hotline an escalation names."""
    share_watch_list: bool = False
    """Opt-in: this server's confirmed offenders and files are listed for the other servers
    that opted in, and theirs are alerted on here."""
    wave: WavePolicy | None = None
    """A raid's thresholds (`[wave]`); None: waves are not watched."""
    automod: bool = False
    """Keep Veilleur's AutoMod rules in the server (`bot.automod`): opt-in, since it changes
    the server's AutoMod."""
    automod_keyword_rules: int = 2

    def actions_for(self, key: str) -> tuple[str, ...]:
        return self.automatic.get(key, ())


def default_policy(guild_id: int) -> ServerPolicy:
    """A server without a file: the bot watches and feeds the engine, and does nothing by
    itself (the engine's cases still open)."""
    return ServerPolicy(guild_id=guild_id)


def _snowflake(where: str, key: str, value: Any) -> int:
    if (isinstance(value, str) and value.isdigit()) or \
            (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        return int(value)
    raise BotPolicyError(f"{where}: {key}: must be a Discord id (digits), got {value!r}")


def parse_policy(data: Mapping[str, Any], where: str) -> ServerPolicy:
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise BotPolicyError(f"{where}: {unknown[0]}: unknown key (the keys are "
                             f"{', '.join(sorted(_KEYS))})")
    if "guild_id" not in data:
        raise BotPolicyError(f"{where}: guild_id: missing (the server this file is for)")
    guild_id = _snowflake(where, "guild_id", data["guild_id"])
    locale = data.get("locale", "en")
    if locale not in LOCALES:
        raise BotPolicyError(f"{where}: locale: must be one of {', '.join(LOCALES)}, "
                             f"got {locale!r}")
    mod_log = data.get("mod_log_channel")
    role = data.get("quarantine_role")
    minutes = data.get("timeout_minutes", 60)
    if isinstance(minutes, bool) or not isinstance(minutes, int) or \
            not 1 <= minutes <= MAX_TIMEOUT_MINUTES:
        raise BotPolicyError(f"{where}: timeout_minutes: must be a whole number of minutes "
                             f"from 1 to {MAX_TIMEOUT_MINUTES} (28 days), got {minutes!r}")
    keys = [c.value for c in Category] + [BLOCKED]
    table = data.get("automatic", {})
    if not isinstance(table, Mapping):
        raise BotPolicyError(f"{where}: automatic: must be a table of category = [actions]")
    automatic: dict[str, tuple[str, ...]] = {}
    for key, actions in table.items():
        entry = f"automatic.{key}"
        if key not in keys:
            raise BotPolicyError(f"{where}: {entry}: unknown category (the keys are "
                                 f"{', '.join(keys)})")
        if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
            raise BotPolicyError(f"{where}: {entry}: must be a list of action names")
        for action in actions:
            if action in MODERATOR_ONLY:
                raise BotPolicyError(
                    f"{where}: {entry}: {action!r} cannot be automatic: "
                    f"{MODERATOR_ONLY[action]} is not reversible containment and takes a "
                    f"moderator's click (automatic: {', '.join(AUTOMATIC)})")
            if action not in AUTOMATIC:
                raise BotPolicyError(f"{where}: {entry}: unknown action {action!r} "
                                     f"(automatic: {', '.join(AUTOMATIC)})")
        visible = [a for a in actions if a in VISIBLE]
        if key in SILENT and visible:
            raise BotPolicyError(
                f"{where}: {entry}: {visible[0]!r} cannot be automatic for {key}: the "
                f"author sees {VISIBLE[visible[0]]}, which warns them (it acts silently: "
                "hold_message or delete_message only)")
        if "quarantine" in actions and role is None:
            raise BotPolicyError(f"{where}: {entry}: 'quarantine' needs quarantine_role")
        automatic[key] = tuple(dict.fromkeys(actions))
    notice = data.get("notice_in_channel", [])
    if not isinstance(notice, list) or not all(isinstance(n, str) for n in notice):
        raise BotPolicyError(f"{where}: notice_in_channel: must be a list of categories")
    for key in notice:
        if key not in keys:
            raise BotPolicyError(f"{where}: notice_in_channel: unknown category {key!r}")
        if key in SILENT:
            raise BotPolicyError(f"{where}: notice_in_channel: {key} acts silently (a notice "
                                 "warns the offender); remove it")
    roles = data.get("moderator_roles", [])
    if not isinstance(roles, list):
        raise BotPolicyError(f"{where}: moderator_roles: must be a list of role ids")
    country = data.get("country")
    if country is not None and not (isinstance(country, str) and len(country) == 2
                                    and country.isascii() and country.isalpha()):
        raise BotPolicyError(f"{where}: country: must be a two-letter ISO 3166 code "
                             f"(\"FR\"), got {country!r}")
    share = data.get("share_watch_list", False)
    if not isinstance(share, bool):
        raise BotPolicyError(f"{where}: share_watch_list: must be true or false, got "
                             f"{share!r}")
    return ServerPolicy(
        moderator_roles=frozenset(_snowflake(where, "moderator_roles", r) for r in roles),
        country=country.upper() if country else None, share_watch_list=share,
        guild_id=guild_id, locale=locale,
        mod_log_channel=None if mod_log is None else _snowflake(where, "mod_log_channel",
                                                                  mod_log),
        quarantine_role=None if role is None else _snowflake(where, "quarantine_role", role),
        timeout_minutes=minutes, notice_in_channel=frozenset(notice),
        automatic=automatic, source=where, wave=parse_wave(data.get("wave"), where),
        **_automod(data, where))


def load_policy(path: Path) -> ServerPolicy:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BotPolicyError(f"{path}: cannot load: {exc}") from None
    return parse_policy(data, str(path))


def load_policies(paths: list[Path]) -> dict[int, ServerPolicy]:
    """Files, or folders of `*.toml`, one server each; two files for one server are an
    error."""
    files = [p for path in paths
             for p in (sorted(path.glob("*.toml")) if path.is_dir() else [path])]
    out: dict[int, ServerPolicy] = {}
    for file in files:
        policy = load_policy(file)
        if policy.guild_id in out:
            raise BotPolicyError(f"{file}: guild_id: {policy.guild_id} already has a policy "
                                 f"({out[policy.guild_id].source})")
        out[policy.guild_id] = policy
    return out


MAX_PAUSE_MINUTES = 24 * 60  # Discord pauses invites and DMs for 24 hours at most
_WAVE_KEYS = {"flagged": 5, "joins": 20, "young_joins": 10, "young_days": 7,
              "window_seconds": 300, "pause_minutes": 60, "automatic": False}
_WAVE_RANGES = {"flagged": (0, 1000), "joins": (0, 1000), "young_joins": (0, 1000),
                "young_days": (1, 90), "window_seconds": (10, 3600),
                "pause_minutes": (1, MAX_PAUSE_MINUTES)}


@dataclass(frozen=True, slots=True)
class WavePolicy:
    """A wave (a raid) in one server: this many flagged messages, joins, or joins of
    accounts younger than `young_days`, within `window_seconds` (a threshold of 0 is off).
    Pausing invites and DMs is reversible and ends by itself (24 hours at most), so it may
    be `automatic`; else the mod log proposes it. Bans always take a moderator."""
    flagged: int = 5
    joins: int = 20
    young_joins: int = 10
    young_days: int = 7
    window_seconds: int = 300
    pause_minutes: int = 60
    automatic: bool = False


def parse_wave(table: Any, where: str) -> WavePolicy | None:
    if table is None:
        return None
    if not isinstance(table, Mapping):
        raise BotPolicyError(f"{where}: wave: must be a table ([wave] with "
                             f"{', '.join(_WAVE_KEYS)})")
    unknown = sorted(set(table) - set(_WAVE_KEYS))
    if unknown:
        raise BotPolicyError(f"{where}: wave.{unknown[0]}: unknown key (the keys are "
                             f"{', '.join(_WAVE_KEYS)})")
    values = dict(_WAVE_KEYS) | dict(table)
    for key, (low, high) in _WAVE_RANGES.items():
        v = values[key]
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            cap = " (24 hours: Discord's longest pause)" if key == "pause_minutes" else ""
            off = " (0: off)" if low == 0 else ""
            raise BotPolicyError(f"{where}: wave.{key}: must be a whole number from {low} "
                                 f"to {high}{cap}{off}, got {v!r}")
    if not isinstance(values["automatic"], bool):
        raise BotPolicyError(f"{where}: wave.automatic: must be true or false, got "
                             f"{values['automatic']!r}")
    if not (values["flagged"] or values["joins"] or values["young_joins"]):
        raise BotPolicyError(f"{where}: wave: flagged, joins and young_joins are all 0: "
                             "nothing would start a wave (remove [wave] instead)")
    return WavePolicy(**values)


def _automod(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    on = data.get("automod", False)
    if not isinstance(on, bool):
        raise BotPolicyError(f"{where}: automod: must be true or false, got {on!r}")
    rules = data.get("automod_keyword_rules", 2)
    if not isinstance(rules, int) or isinstance(rules, bool) or \
            rules not in AUTOMOD_KEYWORD_RULES:
        raise BotPolicyError(f"{where}: automod_keyword_rules: must be 1 or 2 (Discord allows "
                             "6 keyword rules per server; the others stay the server's), "
                             f"got {rules!r}")
    return {"automod": on, "automod_keyword_rules": rules}
