"""A wave's I/O through discord.py's HTTP client: pausing invites and DMs (Discord's
"incident actions", `PUT /guilds/{id}/incident-actions`, Manage Server), lifting the pause,
and a moderator's bulk ban (`POST /guilds/{id}/bulk-ban`, Ban Members and Manage Server).

- **The pause ends by itself.** Discord takes both times, at most 24 hours ahead; the
  pause is capped a minute short of that, so a clock a little ahead of Discord's is not
  refused. It is reversible containment, automatic only when the policy says so.
- **Bans are a moderator's click**, never a wave's decision: `bulk_ban` is for the button a
  moderator presses on the mod log's list. Messages are not deleted with the ban
  (`delete_message_seconds=0`): they are evidence, and the engine seals it first. Discord
  bans at most 200 accounts per call; its answer (banned, failed) is what is reported.
- **Failures are findings, not crashes**, as in `execute.py`: 50013 names the permission,
  a 429 that discord.py's rate limiter could not absorb is reported and not retried.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import discord

from veilleur.bot import wave
from veilleur.bot.execute import MISSING_PERMISSIONS
from veilleur.bot.permissions import label
from veilleur.bot.wave import MAX_AHEAD

log = logging.getLogger("veilleur.bot")

BAN_CHUNK = 200  # Discord's most per bulk ban
FAILED_TO_BAN = 500000
"""Discord's answer when not one account of a bulk ban could be banned."""
MAX_REASON = 512  # the audit log's


@dataclass(frozen=True, slots=True)
class Result:
    done: bool
    detail: str
    """What was done, or the problem line (the bot's English)."""


@dataclass(frozen=True, slots=True)
class Bans:
    banned: tuple[int, ...]
    failed: tuple[int, ...]
    """Refused by Discord, not named in its answer, or not tried after a refusal."""
    problems: tuple[str, ...]


def _why(exc: discord.HTTPException, permissions: str, guild_id: int) -> str:
    if exc.code == MISSING_PERMISSIONS:
        return f"missing permission {permissions} in the server (guild {guild_id})"
    if exc.status == 429:
        return ("Discord's rate limit: not retried (discord.py waited what it was told; "
                "the moderators decide)")
    return f"Discord refused ({exc.status}, code {exc.code})"


async def _incident_actions(http: Any, guild_id: int, until: datetime | None) -> None:
    stamp = None if until is None else until.isoformat()
    await http.edit_incident_actions(guild_id, payload={"invites_disabled_until": stamp,
                                                        "dms_disabled_until": stamp})


async def pause(http: Any, guild_id: int, until: datetime, reason: str, *,
                now: datetime | None = None) -> Result:
    """Invites and DMs paused until `until` (capped under 24 hours from `now`). Discord's
    endpoint takes no audit-log reason: `reason` goes to the bot's log."""
    now = now or discord.utils.utcnow()
    until = min(until, now + MAX_AHEAD)
    try:
        await _incident_actions(http, guild_id, until)
    except discord.HTTPException as exc:
        line = f"pause of invites and DMs: {_why(exc, label('manage_guild'), guild_id)}"
        log.warning("%s (%s)", line, reason)
        return Result(False, line)
    log.info("guild %s: invites and DMs paused until %s: %s", guild_id, until.isoformat(),
             reason)
    return Result(True, f"invites and DMs paused until {until.isoformat()}")


async def resume(http: Any, guild_id: int) -> Result:
    """The pause lifted before its time (both fields null)."""
    try:
        await _incident_actions(http, guild_id, None)
    except discord.HTTPException as exc:
        line = f"resuming invites and DMs: {_why(exc, label('manage_guild'), guild_id)}"
        log.warning("%s", line)
        return Result(False, line)
    return Result(True, "invites and DMs resumed")


async def bulk_ban(http: Any, guild_id: int, user_ids: list[int] | tuple[int, ...],
                   reason: str) -> Bans:
    """A moderator's bulk ban, `BAN_CHUNK` accounts per call, messages kept. After a 50013
    or a rate limit the rest is not tried (it would be refused the same way)."""
    ids = list(dict.fromkeys(i for i in user_ids if i > 0))
    banned: list[int] = []
    failed: list[int] = []
    problems: list[str] = []
    for start in range(0, len(ids), BAN_CHUNK):
        chunk = ids[start:start + BAN_CHUNK]
        try:
            answer = await http.bulk_ban(guild_id, user_ids=chunk, delete_message_seconds=0,
                                         reason=reason[:MAX_REASON])
        except discord.HTTPException as exc:
            if exc.code == FAILED_TO_BAN:
                failed += chunk  # Discord could ban none of them (owner, higher roles)
                continue
            why = _why(exc, f"{label('ban_members')} and {label('manage_guild')}", guild_id)
            problems.append(f"bulk ban: {why}")
            log.warning("bulk ban in guild %s: %s", guild_id, why)
            failed += ids[start:]
            break
        answer = answer or {}
        done = {int(i) for i in answer.get("banned_users") or []}
        banned += [i for i in chunk if i in done]
        failed += [i for i in chunk if i not in done]
    return Bans(tuple(banned), tuple(failed), tuple(problems))


Post = Callable[[int, str], Awaitable[None]]
"""`Executor.post`: a line in a channel, mentions off, previews suppressed."""


async def respond(http: Any, decision: wave.WaveDecision, *, post: Post,
                  mod_log: int | None, locale: str = "en", guild_name: str | None = None,
                  now: datetime | None = None) -> Result | None:
    """What the handlers do with a decision: the pause when the policy makes it automatic,
    then the mod log's line (when the server has one). The pause's result (None: only
    proposed)."""
    result = None
    if decision.pause:
        result = await pause(http, decision.guild_id, decision.until,
                             f"Veilleur wave: {decision.why()}", now=now)
    if mod_log is not None:
        line = wave.text(decision, locale, guild_name=guild_name,
                         problem=result.detail if result and not result.done else None)
        try:
            await post(mod_log, line)
        except discord.HTTPException as exc:
            log.warning("mod log %s: cannot write the wave's line (%s, code %s)", mod_log,
                        exc.status, exc.code)
    return result
