"""Carrying a plan out through Discord, evidence first.

- **Evidence before removal.** Before a message is held or deleted the executor asks the
  engine for the evidence it sealed for that message (`evidence_of`); without any, the
  message stays where it is and the mod log says why. The same holds for every attachment
  of the message: one the bot could not fetch and have hashed (too large, a download that
  failed) is not in the sealed evidence, so the message is not removed. The engine seals
  evidence when the message's case opens, which `Runtime.verdict` does before it answers,
  and the engine's answer comes only once that record is written to disk (a crash after the
  removal loses nothing).
- **Failures are findings, not crashes.** 50013 (Missing Permissions) becomes a problem
  naming the permission and the place (as `diagnose` would), and that action is not tried
  again there for `forbidden_seconds` (there: the channel for a message; for a time-out the
  member, when the bot holds Moderate Members, since the cause is then that member's rank,
  else the server; the mod log's channel for the mod log): a server that withholds a
  permission would otherwise get a 403 for every flagged message, and Discord bans clients
  that pile up refused requests. 10008 (Unknown Message) means
  someone removed it first; a 429 that discord.py's own rate limiter (per route, with the
  `Retry-After` it is given) could not absorb is reported and never retried here: no
  storms. One action failing does not stop the next.
- **The mod log last**, as text with hashes and links (`modlog.text`), mentions disabled and
  previews suppressed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import discord
from discord.http import handle_message_parameters

from veilleur.bot import modlog
from veilleur.bot.modlog import Outcome
from veilleur.bot.permissions import label
from veilleur.bot.plan import Action, Evidence, Kind, Plan

log = logging.getLogger("veilleur.bot")

MISSING_PERMISSIONS = 50013
UNKNOWN_MESSAGE = 10008
PERMISSION_OF = {Kind.HOLD: "manage_messages", Kind.DELETE: "manage_messages",
                 Kind.TIMEOUT: "moderate_members", Kind.QUARANTINE: "manage_roles",
                 Kind.NOTICE: "send_messages"}
DONE = {Kind.HOLD: "held the message (removed from the channel; its text is in the sealed "
                   "evidence for review)",
        Kind.DELETE: "deleted the message", Kind.TIMEOUT: "timed the author out for {m} min",
        Kind.QUARANTINE: "gave the author the quarantine role",
        Kind.NOTICE: "left a notice in the channel"}

EvidenceOf = Callable[[int], Awaitable[tuple[Evidence, ...]]]
Granted = Callable[[int | None, str], bool | None]
"""Whether the bot holds a permission server-wide (from the gateway's cache; None: not
known)."""
Where = tuple[str, int | None, str, int | None]
"""(permission, server, "channel" | "member" | "server", its id) of a refusal."""


class Executor:
    def __init__(self, http: Any, evidence_of: EvidenceOf, *,
                 clock: Callable[[], datetime] = discord.utils.utcnow,
                 forbidden_seconds: float = 600.0,
                 monotonic: Callable[[], float] = time.monotonic,
                 granted: Granted = lambda _guild, _permission: None) -> None:
        self.http = http
        """discord.py's HTTPClient (`client.http`): its requests honour Discord's rate
        limits."""
        self.evidence_of = evidence_of
        self.clock = clock
        self.problems: list[str] = []
        """Every failure so far, for `diagnose` and the bot's log."""
        self.forbidden_seconds = forbidden_seconds
        self.monotonic = monotonic
        self.removed: set[int] = set()
        """Messages this executor took down (or is taking down): their deletion event is a
        moderator's, not the author's."""
        self.granted = granted
        self._forbidden: dict[Where, float] = {}
        """Where Discord refused a permission with 50013, until when. A time-out refused
        while the bot holds Moderate Members server-wide is the member's rank (above the
        bot's, or the owner): only that member waits, not the whole server."""

    async def carry_out(self, plan: Plan, *, log: bool = True) -> list[Outcome]:
        """The plan's actions in order; then its mod-log post, unless `log` is False (the
        case's workflow writes it: `moderation.Moderation.logged`)."""
        outcomes = [await self._one(a) for a in plan.actions]
        if log and plan.mod_log is not None:
            await self.log(plan, outcomes)
        return outcomes

    def _places(self, a: Action) -> list[Where]:
        """Where a refusal of this action may have been recorded, narrowest first."""
        perm, guild = PERMISSION_OF[a.kind], a.ref.guild_id
        if a.kind in (Kind.HOLD, Kind.DELETE, Kind.NOTICE):
            return [(perm, guild, "channel", a.ref.channel_id)]
        if a.kind is Kind.TIMEOUT:
            return [(perm, guild, "member", a.ref.author_id), (perm, guild, "server", None)]
        return [(perm, guild, "server", None)]

    def _refused(self, a: Action) -> Where:
        """Where a 50013 on this action applies."""
        places = self._places(a)
        if a.kind is Kind.TIMEOUT and \
                self.granted(a.ref.guild_id, PERMISSION_OF[a.kind]) is not False:
            return places[0]  # the bot may time members out: this one outranks it
        return places[-1]

    async def _one(self, a: Action) -> Outcome:
        ref = a.ref
        now = self.monotonic()
        if any(now < self._forbidden.get(w, now) for w in self._places(a)):
            minutes = f"{self.forbidden_seconds / 60:.0f}"
            return Outcome(a, False, f"{a.kind.value}: not tried: missing permission "
                                     f"{label(PERMISSION_OF[a.kind])}, as Discord said "
                                     f"less than {minutes} minutes ago", "not_tried",
                           self._perm(a, minutes=minutes))
        try:
            if a.removes:
                evidence = await self.evidence_of(ref.message_id)
                if not evidence:
                    return self._problem(a, "no_evidence",
                                         "kept in place: the engine holds no evidence of "
                                            "it yet (evidence comes before any removal)")
                hashed = {i for i, _ in ref.attachment_sha256}
                unsealed = [i for i in ref.attachment_ids if i not in hashed]
                if unsealed:
                    return self._problem(a, "unsealed", "kept in place: attachment(s) "
                                            f"{', '.join(map(str, unsealed))} could not be "
                                            "fetched and hashed, so no evidence holds their "
                                            "bytes (evidence comes before any removal)",
                                         ids=", ".join(map(str, unsealed)))
                # Marked while the call is out: Discord's deletion event may come before
                # its answer. Unmarked if it failed: a later deletion is the author's.
                self.removed.add(ref.message_id)
                try:
                    await self.http.delete_message(ref.channel_id, ref.message_id,
                                                   reason=a.reason)
                except BaseException:
                    self.removed.discard(ref.message_id)
                    raise
            elif a.kind is Kind.TIMEOUT:
                until = self.clock() + timedelta(minutes=a.minutes or 60)
                await self.http.edit_member(ref.guild_id, ref.author_id, reason=a.reason,
                                            communication_disabled_until=until.isoformat())
            elif a.kind is Kind.QUARANTINE:
                await self.http.add_role(ref.guild_id, ref.author_id, a.role_id,
                                         reason=a.reason)
            elif a.kind is Kind.NOTICE:
                await self._send(ref.channel_id, a.reason)
        except discord.HTTPException as exc:
            return self._failed(a, exc)
        return Outcome(a, True, DONE[a.kind].format(m=a.minutes))

    def _failed(self, a: Action, exc: discord.HTTPException) -> Outcome:
        in_channel = a.kind in (Kind.HOLD, Kind.DELETE, Kind.NOTICE)
        where = f"channel {a.ref.channel_id}" if in_channel else "the server"
        where_fr = f"dans le salon {a.ref.channel_id}" if in_channel else "sur le serveur"
        if exc.code == MISSING_PERMISSIONS:
            place = self._refused(a)
            self._forbidden[place] = self.monotonic() + self.forbidden_seconds
            if place[2] == "member":
                return self._problem(a, "outranks",
                                     f"Discord refused it for member {a.ref.author_id} "
                                        "(their highest role is above the bot's, or they own "
                                        f"the server; guild {a.ref.guild_id})",
                                     member=str(a.ref.author_id))
            return self._problem(a, "missing",
                                 f"missing permission {label(PERMISSION_OF[a.kind])} in "
                                 f"{where} (guild {a.ref.guild_id})",
                                 **dict(self._perm(a, where=where_fr)))
        if exc.code == UNKNOWN_MESSAGE:
            return Outcome(a, False, "the message was already gone (removed by someone else)",
                           "gone")
        if exc.status == 429:
            return self._problem(a, "rate_limit",
                                 "Discord's rate limit: not retried (discord.py waited "
                                    "what it was told; the moderators decide)")
        return self._problem(a, "refused", f"Discord refused ({exc.status}, code {exc.code})",
                             status=str(exc.status), code=str(exc.code))

    @staticmethod
    def _perm(a: Action, **more: str) -> tuple[tuple[str, str], ...]:
        return (("perm", label(PERMISSION_OF[a.kind], "fr")), *more.items())

    def _problem(self, a: Action, why: str, detail: str, **params: str) -> Outcome:
        line = f"{a.kind.value} on message {a.ref.message_id}: {detail}"
        self.noted(line)
        log.warning("%s", line)
        return Outcome(a, False, f"{a.kind.value}: {detail}", why, tuple(params.items()))

    def noted(self, line: str) -> None:
        """A failure kept for `diagnose` (the newest 1,000; every one is in the log)."""
        self.problems.append(line)
        del self.problems[:-1000]

    async def post(self, channel_id: int, content: str) -> None:
        """A text line in a channel (a member's report in the mod log): no mention pings,
        no previews."""
        await self._send(channel_id, content)

    async def _send(self, channel_id: int, content: str) -> None:
        await send_text(self.http, channel_id, content)

    async def log(self, plan: Plan, outcomes: list[Outcome], *, text: str | None = None
                  ) -> None:
        """The plan and what became of it, in the mod log (`text`: already written)."""
        if plan.mod_log is None:
            return
        closed: Where = ("send_messages", plan.ref.guild_id, "mod_log", plan.mod_log)
        now = self.monotonic()
        if now < self._forbidden.get(closed, now):
            # Refused a moment ago: not asked again (one 403 per flagged message otherwise).
            log.warning("mod log %s closed to the bot; the plan for %s was: %s",
                        plan.mod_log, plan.ref.link, [o.detail for o in outcomes])
            return
        try:
            await self._send(plan.mod_log, text or modlog.text(plan, outcomes))
        except discord.HTTPException as exc:
            why = (f"missing permission {label('send_messages')}"
                   if exc.code == MISSING_PERMISSIONS else f"{exc.status}, code {exc.code}")
            if exc.status in (403, 404):  # no access, or no such channel: it will not change
                self._forbidden[closed] = self.monotonic() + self.forbidden_seconds
            line = f"mod log {plan.mod_log}: cannot write ({why})"
            self.noted(line)
            log.warning("%s; the plan for %s was: %s", line, plan.ref.link,
                        [o.detail for o in outcomes])


async def send_text(http: Any, channel_id: int, content: str, *, view: Any = None) -> Any:
    """A text message as the bot sends every one: no mention pings, no previews (a lure's
    link quoted in a reason must not unfold), with buttons if `view`; Discord's answer (the
    message made)."""
    with handle_message_parameters(
            content=content, view=view if view is not None else discord.utils.MISSING,
            allowed_mentions=discord.AllowedMentions.none(),
            flags=discord.MessageFlags(suppress_embeds=True)) as params:
        return await http.send_message(channel_id, params=params)
