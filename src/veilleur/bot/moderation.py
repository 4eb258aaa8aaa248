"""The moderators' workflow on Discord, tied to the engine's casework.

- **Case numbers**: each engine case a server sees gets the server's next number
  (`casebook.py`). Its first sight opens a private thread in the mod-log channel (details,
  evidence references, every later event of the case) and posts one line in the mod log
  with the case's category, severity and deadline, and four buttons.
- **Buttons** (`views.py`): *Confirm* decides the case in the engine (the moderator is the
  reviewer, named in the decision), then carries the decision out here: a message still up
  is removed (its evidence checked first), an account the decision suspends is banned on
  the moderator's click, if they may ban themselves, with `delete_message_seconds=0` and a
  direct message first with the case number and an *Appeal* button. *Not a violation*
  decides the case the other way (the engine's feedback: reports rejected, the finding
  cleared) and takes back what the bot did automatically. *Escalate* prepares what the
  moderator files by hand (Discord Trust & Safety with the DSA notice filled in, the
  country's hotline), in the thread. *Undo* takes back the bot's reversible actions.
- A server's moderators decide only their server's part of a case: what it flagged or had
  reported (`workflow.scope`); the decision is partial, the rest (the server itself, its
  owner, what is elsewhere) stays open in the console. A child sexual abuse case is never
  *cleared* here (a specialist does, in the console); it may be confirmed (erring toward
  the child). A moderator named in a case does not decide it.
- **Notes are added, never overwritten**: every decision, escalation, undo, warning,
  appeal and moderator's note is a new line in the case's record and its thread.
- **Watch list** (opt-in per server, `share_watch_list`): a confirmed offender and the
  SHA-256 of a confirmed case's files are listed for the other servers that opted in; a
  listed account joining, or a listed file posted, raises an alert in the mod log with the
  evidence reference. Nothing is done automatically on it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import discord

from veilleur.bot import incidents
from veilleur.bot import wave as wave_mod
from veilleur.bot import workflow as wf
from veilleur.bot.casebook import UNDOABLE, Casebook, CaseEntry
from veilleur.bot.execute import MISSING_PERMISSIONS, Executor, send_text
from veilleur.bot.intake import Engine
from veilleur.bot.modlog import Outcome, fit, quoted
from veilleur.bot.modlog import text as modlog_text
from veilleur.bot.permissions import label
from veilleur.bot.plan import Action, Answer, Kind, MessageRef, Plan
from veilleur.bot.policy import SILENT, ServerPolicy
from veilleur.bot.wave import Step, WaveDecision
from veilleur.cases.models import parse_iso
from veilleur.taxonomy import Category

log = logging.getLogger("veilleur.bot")

APPEAL_WINDOW = timedelta(days=183)
"""Six months (DSA Art. 20(1)) from the action the bot carried out."""
APPEALS_PER_DAY = 3
"""A person's appeals in 24 h, all servers together (then: try tomorrow)."""


@dataclass(frozen=True, slots=True)
class Moderator:
    """Who clicked or typed, and what Discord lets them do in the server."""

    id: int
    name: str
    moderates: bool
    """Manage Messages in the server, or one of the policy's moderator roles."""
    bans: bool
    """Ban Members in the server: the bot never lends its own."""
    manages: bool = False
    """Manage Server (pausing and resuming invites and DMs)."""

    @property
    def reviewer(self) -> str:
        return f"discord:{self.id} ({self.name})"[:64]


Buttons = Callable[[int, int, str], Any]
"""(guild id, case number, locale) -> the case's buttons (a discord.ui.View)."""


class Moderation:
    def __init__(self, engine: Engine, http: Any, book: Casebook,
                 policy_of: Callable[[int | None], ServerPolicy], executor: Executor, *,
                 buttons: Buttons | None = None,
                 names: Callable[[int], str | None] = lambda _guild: None,
                 clock: Callable[[], datetime] = discord.utils.utcnow) -> None:
        self.engine = engine
        self.http = http
        self.book = book
        self.policy_of = policy_of
        self.executor = executor
        self.buttons = buttons
        self.names = names
        """A server's name (the gateway's cache), for the direct messages."""
        self.appeal_button: Buttons | None = None
        """(server, case number, language) -> the *Appeal* button (set by the client)."""
        self.wave_buttons: Callable[[int, int, str, bool, bool], Any] | None = None
        """(server, wave id, language, paused, has accounts) -> the wave's buttons."""
        self.on_lift: Callable[[int], None] = lambda _guild: None
        """The wave detector told that a pause was lifted early (`wave.Waves.end`)."""
        self._opening: dict[tuple[int, int], asyncio.Lock] = {}
        self.clock = clock

    # --- the engine's plans, logged per case ----------------------------------------------

    async def logged(self, plan: Plan, outcomes: list[Outcome]) -> None:
        """After a plan is carried out: its case numbered, its actions recorded (for undo),
        and the mod log written (the case's line and thread the first time)."""
        ref, answer = plan.ref, plan.answer
        if ref.guild_id is None or answer.case_id is None:
            await self.executor.log(plan, outcomes)
            return
        first = await self.follow_merges(ref.guild_id, answer.case_id)
        entry = self.number(ref.guild_id, answer.case_id, answer)
        self.book.add_targets(ref.guild_id, entry.number, [
            ("message", str(ref.message_id)), ("user", str(ref.author_id)),
            *(("sha256", sha) for _, sha in ref.attachment_sha256)])
        for o in outcomes:
            if o.done:
                self.book.acted(ref.guild_id, entry.number, o.action.kind.value, self.clock(),
                                "bot", channel_id=ref.channel_id, message_id=ref.message_id,
                                member_id=ref.author_id, role_id=o.action.role_id)
        if plan.mod_log is None:
            return
        text = modlog_text(plan, outcomes, number=entry.number)
        thread = await self.opened(entry, plan.mod_log, plan.locale, view=first)
        if thread is None:
            await self.executor.log(plan, outcomes, text=text)
        else:
            await self.say(thread, text)

    async def follow_merges(self, guild_id: int, case_id: str) -> dict[str, Any] | None:
        """A case new to this server may be one it numbered under another id, merged into
        it since (two reports on one server become one case): the number follows it, so
        moderators see one case once. The engine's view of a case new to this server (what
        its first line in the mod log shows), None for one it knows."""
        if self.book.by_case(guild_id, case_id) is not None:
            return None
        view = await self._view_of(case_id)
        for old in (view or {}).get("merged_from") or ():
            known = self.book.by_case(guild_id, str(old))
            if known is not None:
                self.book.moved(guild_id, known.number, case_id)
                break
        return view

    async def _view_of(self, case_id: str, viewer: str = "veilleur-bot"
                       ) -> dict[str, Any] | None:
        try:
            return await self.engine.case_view(case_id, viewer)
        except ValueError as exc:
            log.warning("case %s: the engine's view: %s", case_id, exc)
            return None

    def number(self, guild_id: int, case_id: str, answer: Answer | None = None, *,
               category: str | None = None) -> CaseEntry:
        if answer is not None and answer.categories:
            category = answer.categories[0].value
        entry, _ = self.book.number(guild_id, case_id, self.clock(), category)
        return entry

    async def reported(self, report_id: str, guild_id: int, kind: str, target_id: int
                       ) -> CaseEntry | None:
        """A member's report, once the engine has taken it in: its case numbered here and
        logged (line, buttons, thread) like the engine's own findings."""
        case_id = await self.engine.report_case(report_id)
        if case_id is None:
            log.info("report %s: no case yet; it is in the console's queue", report_id)
            return None
        view = await self.follow_merges(guild_id, case_id) or await self._view_of(case_id)
        entry = self.number(guild_id, case_id,
                            category=(view or {}).get("category") or None)
        self.book.add_targets(guild_id, entry.number, [(kind, str(target_id))])
        policy = self.policy_of(guild_id)
        if policy.mod_log_channel is not None:
            thread = await self.opened(entry, policy.mod_log_channel, policy.locale,
                                       view=view)
            if thread is not None:
                await self.say(thread, f"**Veilleur** · {wf.words(policy.locale)['case']} "
                                       f"#{entry.number} · report `{quoted(report_id)}` · "
                                       f"{kind} {target_id}")
        return self.book.get(guild_id, entry.number)

    async def opened(self, entry: CaseEntry, mod_log: int, locale: str, *,
                     view: Mapping[str, Any] | None = None) -> int | None:
        """The case's thread (made, with its line in the mod log, at the case's first
        sight); None when the bot cannot make one (the case's text then goes to the mod
        log itself). One at a time per case: several flagged messages of one case come
        together, and each would open its own thread."""
        key = (entry.guild_id, entry.number)
        lock = self._opening.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                fresh = self.book.get(entry.guild_id, entry.number) or entry
                if fresh.head_message is not None or fresh.head_channel is not None:
                    return fresh.thread_id
                return await self._open(fresh, mod_log, locale, view)
        finally:
            if not lock.locked() and self._opening.get(key) is lock:
                del self._opening[key]

    async def _open(self, entry: CaseEntry, mod_log: int, locale: str,
                    view: Mapping[str, Any] | None) -> int | None:
        view = view or await self._view_of(entry.case_id)
        name = f"{wf.words(locale)['case'].lower()}-{entry.number}"
        if entry.category:
            name += f"-{entry.category}"
        thread: int | None = None
        try:
            made = await self.http.start_thread_without_message(
                mod_log, name=name[:100], auto_archive_duration=10080, type=12,
                invitable=False, reason=f"Veilleur case {entry.case_id}")
            thread = int(made["id"])
        except discord.HTTPException as exc:
            self._problem(f"case #{entry.number}: no private thread in channel {mod_log} "
                          f"({self._why(exc, 'create_private_threads')}); the case is "
                          "logged in the channel itself")
        head = wf.head(entry.number, view or {"id": entry.case_id,
                                              "category": entry.category},
                       locale, thread)
        message_id = await self.say(mod_log, head, buttons=(entry.guild_id, entry.number,
                                                            locale))
        self.book.logged_at(entry.guild_id, entry.number, mod_log, message_id, thread)
        return thread

    async def say(self, channel_id: int, content: str, *,
                  buttons: tuple[int, int, str] | None = None, view: Any = None
                  ) -> int | None:
        """A text message (no mention pings, no previews); its id, or None if refused.
        `buttons`: the case's (server, number, language); `view`: other buttons."""
        if buttons and self.buttons:
            view = self.buttons(*buttons)
        try:
            sent = await send_text(self.http, channel_id, fit(content), view=view)
        except discord.HTTPException as exc:
            self._problem(f"cannot write in channel {channel_id} "
                          f"({self._why(exc, 'send_messages')})")
            return None
        return int(sent["id"]) if isinstance(sent, Mapping) and "id" in sent else None

    async def to_case(self, entry: CaseEntry, content: str) -> None:
        """A line for the case: in its thread, else in the mod log."""
        policy = self.policy_of(entry.guild_id)
        where = entry.thread_id or entry.head_channel or policy.mod_log_channel
        if where is not None:
            for part in wf.chunks(content):
                await self.say(where, part)

    # --- the buttons -------------------------------------------------------------------------

    async def click(self, action: str, guild_id: int, number: int, who: Moderator) -> str:
        """A case button pressed; the private answer to the moderator."""
        policy = self.policy_of(guild_id)
        entry = await self._entry_for(guild_id, number, who, policy)
        if isinstance(entry, str):
            return entry
        if action == "confirm":
            return await self.confirm(entry, who, policy)
        if action == "clear":
            return await self.clear(entry, who, policy)
        if action == "escalate":
            return await self.escalate(entry, who, policy)
        if action == "undo":
            return await self.undo(entry, who, policy)
        return wf.words(policy.locale)["no_case"].format(n=number)

    async def _entry_for(self, guild_id: int, number: int, who: Moderator,
                         policy: ServerPolicy) -> CaseEntry | str:
        """The case a moderator asks about (added to its thread), or why not."""
        w = wf.words(policy.locale)
        if not who.moderates:
            return w["not_moderator"]
        entry = self.book.get(guild_id, number)
        if entry is None:
            return w["no_case"].format(n=number)
        await self.joined_thread(entry, who.id)
        return entry

    async def joined_thread(self, entry: CaseEntry, member_id: int) -> None:
        """A moderator who acts on a case is added to its private thread."""
        if entry.thread_id is None:
            return
        try:
            await self.http.add_user_to_thread(entry.thread_id, member_id)
        except discord.HTTPException as exc:
            self._problem(f"case #{entry.number}: cannot add {member_id} to its thread "
                          f"({self._why(exc, 'manage_threads')})")

    async def _decidable(self, entry: CaseEntry, who: Moderator, policy: ServerPolicy, *,
                         clearing: bool = False
                         ) -> tuple[dict[str, Any] | None, wf.Scope | None, str | None]:
        """The case's view and this server's part of it, or why it is not decided here."""
        w = wf.words(policy.locale)
        try:
            view = await self.engine.case_view(entry.case_id, f"discord:{who.id}")
        except ValueError as exc:
            return None, None, w["engine_refused"].format(why=quoted(str(exc)))
        if view is None:
            return None, None, w["no_case"].format(n=entry.number)
        scope = wf.scope(view, entry.guild_id, entry.targets, clearing=clearing)
        if str(who.id) in scope.named:
            return view, None, w["self"].format(n=entry.number)
        if not scope.here:
            if scope.decided or view.get("decision_id"):
                return view, None, w["already"].format(n=entry.number, decision=quoted(
                    str(view.get("decision_id") or view.get("status"))))
            return view, None, w["elsewhere"].format(n=entry.number,
                                                     what=_kinds(scope.left, policy.locale))
        return view, scope, None

    async def confirm(self, entry: CaseEntry, who: Moderator, policy: ServerPolicy) -> str:
        w = wf.words(policy.locale)
        view, scope, refused = await self._decidable(entry, who, policy)
        if refused is not None or view is None or scope is None:
            self._note(entry, who, "confirm (not decided here)", "decision")
            return refused or w["no_case"].format(n=entry.number)
        try:
            # The view's id: the case this one was merged into, if it was. Each target its
            # own category (a bystander is not here at all: `workflow.scope`).
            decision = await self.engine.decide(str(view.get("id") or entry.case_id),
                                                who.reviewer, dict(scope.categories))
        except ValueError as exc:
            return w["engine_refused"].format(why=quoted(str(exc)))
        self.book.decided(entry.guild_id, entry.number, str(decision.get("id")))
        done = await self._carry_out(entry, view, decision, who, policy)
        if policy.share_watch_list:
            self._list(entry, decision)
        said = w["confirmed"].format(n=entry.number, who=f"<@{who.id}>",
                                     decision=quoted(str(decision.get("id"))))
        if scope.left:
            done.append(w["left"].format(what=_kinds(scope.left, policy.locale)))
        self._note(entry, who, f"confirmed: decision {decision.get('id')}", "decision")
        await self.to_case(entry, "\n".join([said, *(f"- {d}" for d in done)]))
        return "\n".join([said, *(f"- {d}" for d in done)])

    async def clear(self, entry: CaseEntry, who: Moderator, policy: ServerPolicy) -> str:
        """Messages and files of this server only (`workflow.scope`, clearing)."""
        w = wf.words(policy.locale)
        view, scope, refused = await self._decidable(entry, who, policy, clearing=True)
        if refused is None and scope is not None and view is not None and (
                view.get("category") == Category.CSAM.value
                or Category.CSAM.value in scope.categories.values()):
            refused = w["csam_clear"]
        if refused is not None or view is None or scope is None:
            self._note(entry, who, "not a violation (not decided here)", "decision")
            return refused or w["no_case"].format(n=entry.number)
        try:
            decision = await self.engine.decide(str(view.get("id") or entry.case_id),
                                                who.reviewer, dict.fromkeys(scope.here))
        except ValueError as exc:
            return w["engine_refused"].format(why=quoted(str(exc)))
        self.book.decided(entry.guild_id, entry.number, str(decision.get("id")))
        undone = await self._undo_all(entry, who)
        said = w["cleared"].format(n=entry.number, who=f"<@{who.id}>",
                                   decision=quoted(str(decision.get("id"))))
        self._note(entry, who, f"not a violation: decision {decision.get('id')}", "decision")
        if scope.left:
            undone.append(w["left"].format(what=_kinds(scope.left, policy.locale)))
        lines = [said, *(f"- {u}" for u in undone)]
        await self.to_case(entry, "\n".join(lines))
        return "\n".join(lines)

    async def escalate(self, entry: CaseEntry, who: Moderator, policy: ServerPolicy) -> str:
        w = wf.words(policy.locale)
        view = await self._view_of(entry.case_id, f"discord:{who.id}")
        if view is None:
            return w["no_case"].format(n=entry.number)
        links, accounts, records = [], [], []
        for item in view.get("targets_in_context") or ():
            t = item.get("target") or {}
            if (str(t.get("kind")), str(t.get("id"))) not in entry.targets:
                # Not what this server flagged or had reported: another server's, or the
                # case's context (a bystander's post nearby) is not theirs to report.
                continue
            msg = item.get("message")
            if t.get("kind") == "message" and msg:
                links.append(MessageRef(entry.guild_id, int(msg["channel_id"]),
                                        int(t["id"]), 0).link)
                accounts.append(str(msg.get("author_id")))
                records += [(e.record_id, e.sha256)
                            for e in await self.engine.evidence_of(int(t["id"]))]
            elif t.get("kind") == "user":
                accounts.append(str(t["id"]))
        parts = wf.escalation(entry.number, view, links, accounts, records, policy.country,
                              policy.locale)
        where = entry.thread_id or entry.head_channel or policy.mod_log_channel
        if where is not None:
            for part in parts:
                await self.say(where, part)
        self._note(entry, who, "escalation prepared", "escalation")
        await self.engine.audit("case.escalated", who.reviewer, entry.case_id,
                                {"via": "discord", "guild_id": str(entry.guild_id),
                                 "number": entry.number, "country": policy.country,
                                 "links": links})
        if where is None:  # no mod log: the moderator gets it privately
            return parts[0]
        return w["escalated"].format(n=entry.number, who=f"<@{who.id}>")

    async def undo(self, entry: CaseEntry, who: Moderator, policy: ServerPolicy) -> str:
        w = wf.words(policy.locale)
        undone = await self._undo_all(entry, who)
        if not undone:
            return w["nothing_undo"].format(n=entry.number)
        said = w["undone"].format(n=entry.number, who=f"<@{who.id}>", what="; ".join(undone))
        self._note(entry, who, said, "undo")
        await self.to_case(entry, said)
        return said

    async def _undo_all(self, entry: CaseEntry, who: Moderator) -> list[str]:
        out = []
        for a in self.book.actions(entry.guild_id, entry.number):
            if a.undone_at is not None or a.kind not in UNDOABLE:
                continue
            try:
                if a.kind == "timeout" and a.member_id:
                    await self.http.edit_member(entry.guild_id, a.member_id,
                                                communication_disabled_until=None,
                                                reason=f"Veilleur: undo by {who.id}")
                    what = f"time-out of {a.member_id}"
                elif a.kind == "quarantine" and a.member_id and a.role_id:
                    await self.http.remove_role(entry.guild_id, a.member_id, a.role_id,
                                                reason=f"Veilleur: undo by {who.id}")
                    what = f"quarantine role of {a.member_id}"
                else:
                    continue
            except discord.HTTPException as exc:
                out.append(f"{a.kind} of {a.member_id}: not undone "
                           f"({self._why(exc, 'moderate_members')})")
                continue
            self.book.undone(a.id, self.clock(), who.reviewer)
            out.append(what)
        return out

    async def _carry_out(self, entry: CaseEntry, view: Mapping[str, Any],
                         decision: Mapping[str, Any], who: Moderator,
                         policy: ServerPolicy) -> list[str]:
        """The decision on Discord: messages still up removed (evidence checked first),
        suspended accounts banned, each on this moderator's click."""
        w = wf.words(policy.locale)
        removed = {a.message_id for a in self.book.actions(entry.guild_id, entry.number)
                   if a.kind in (Kind.HOLD.value, Kind.DELETE.value)}
        where = {str(i["target"]["id"]): i.get("message") for i in
                 view.get("targets_in_context") or () if i.get("message")}
        done: list[str] = []
        for td in decision.get("targets") or ():
            t, measures = td.get("target") or {}, td.get("measures") or ()
            if not td.get("violation"):
                continue
            if t.get("kind") == "message" and "remove_content" in measures:
                mid = int(t["id"])
                msg = where.get(str(mid))
                if mid in removed or not msg or msg.get("deleted_by"):
                    continue
                files = [a for a in msg.get("attachments") or ()
                         if str(a.get("id", "")).isdigit()]
                ref = MessageRef(entry.guild_id, int(msg["channel_id"]), mid,
                                 int(msg.get("author_id") or 0),
                                 attachment_ids=tuple(int(a["id"]) for a in files),
                                 attachment_sha256=tuple((int(a["id"]), str(a["sha256"]))
                                                         for a in files if a.get("sha256")))
                outcomes = await self.executor.carry_out(Plan(
                    ref, Answer("review", case_id=entry.case_id),
                    (Action(Kind.DELETE, ref, f"Veilleur case {entry.case_id}: decided by "
                                              f"{who.id}"[:512]),), False, None))
                if outcomes and outcomes[0].done:
                    self.book.acted(entry.guild_id, entry.number, "delete_message",
                                    self.clock(), who.reviewer, channel_id=ref.channel_id,
                                    message_id=mid, member_id=ref.author_id)
                    done.append(w["removed"].format(id=mid))
                else:
                    done.append(w["kept"].format(id=mid, why=outcomes[0].detail
                                                 if outcomes else "?"))
            elif t.get("kind") == "user" and "suspend_account" in measures:
                done.append(await self.ban(entry, int(t["id"]), who, policy,
                                           category=td.get("category"),
                                           decision_id=str(decision.get("id"))))
        return done

    async def ban(self, entry: CaseEntry, member_id: int, who: Moderator,
                  policy: ServerPolicy, *, category: str | None, decision_id: str) -> str:
        """A ban on a moderator's click, keeping the person's messages (evidence first).
        They are told (case number, appeal button) before it, while a shared server still
        lets the bot write to them; for grooming and sextortion after it, once it is done
        (a ban Discord refuses must not have warned them)."""
        w = wf.words(policy.locale)
        if not who.bans:
            return w["ban_refused"].format(id=member_id, why=w["no_ban_right"])
        server = quoted(self.names(entry.guild_id) or str(entry.guild_id))
        text = wf.dm(policy.locale)["ban"].format(
            server=server, n=entry.number, category=wf.category_words(category,
                                                                      policy.locale))
        silent = category in {c.value for c in SILENT}
        if not silent:
            await self.direct(member_id, text,
                              appeal=(entry.guild_id, entry.number, policy.locale))
        try:
            await self.http.ban(member_id, entry.guild_id, delete_message_seconds=0,
                                reason=f"Veilleur case {entry.case_id}: confirmed by "
                                       f"{who.id}"[:512])
        except discord.HTTPException as exc:
            return w["ban_refused"].format(id=member_id, why=self._why(exc, "ban_members"))
        self.book.acted(entry.guild_id, entry.number, "ban", self.clock(), who.reviewer,
                        member_id=member_id, decision_id=decision_id)
        if silent:
            await self.direct(member_id, text,
                              appeal=(entry.guild_id, entry.number, policy.locale))
        return w["banned"].format(id=member_id)

    async def direct(self, user_id: int, content: str, *,
                     appeal: tuple[int, int, str] | None = None) -> bool:
        """A direct message (with the appeal button); False if Discord refused it (closed
        DMs, no shared server)."""
        try:
            channel = await self.http.start_private_message(user_id)
            view = self.appeal_button(*appeal) if appeal and self.appeal_button else None
            await send_text(self.http, int(channel["id"]), fit(content), view=view)
        except discord.HTTPException as exc:
            log.info("direct message to %s refused (%s, code %s)", user_id, exc.status,
                     exc.code)
            return False
        return True

    # --- commands ------------------------------------------------------------------------

    async def case(self, guild_id: int, number: int, who: Moderator, note: str | None
                   ) -> str:
        """`/veilleur case`: the case, and a note added to it."""
        policy = self.policy_of(guild_id)
        w = wf.words(policy.locale)
        entry = await self._entry_for(guild_id, number, who, policy)
        if isinstance(entry, str):
            return entry
        if note:
            self.book.note(guild_id, number, who.id, self.clock(), note)
            await self.to_case(entry, f"{w['notes']} · <@{who.id}>: {quoted(note)}")
        view = await self._view_of(entry.case_id, f"discord:{who.id}")
        return wf.summary(number, view or {"id": entry.case_id, "category": entry.category},
                          policy.locale, self.book.actions(guild_id, number),
                          self.book.notes(guild_id, number), entry.thread_id)

    async def warn(self, guild_id: int, member_id: int, reason: str, who: Moderator,
                   number: int | None) -> str:
        """`/veilleur warn`: recorded, and sent to the member, unless a case on them acts
        silently (a warning would tell a groomer or an extortionist to hide)."""
        policy = self.policy_of(guild_id)
        w = wf.words(policy.locale)
        if not who.moderates:
            return w["not_moderator"]
        member = f"<@{member_id}>"
        silent = {c.value for c in SILENT}
        for entry in self.book.open_cases_of(guild_id, member_id):
            # The case's category now (it may have become grooming since it was numbered).
            live = (await self._view_of(entry.case_id) or {}).get("category")
            if live in silent and entry.category not in silent:
                entry = replace(entry, category=live)
            if entry.category in silent:
                self.book.note(guild_id, entry.number, who.id, self.clock(),
                               f"warning not sent: {reason}", "warning")
                return w["warn_silent"].format(member=member, n=entry.number,
                                               category=wf.category_words(entry.category,
                                                                          policy.locale))
        count = self.book.warn(guild_id, member_id, who.id, self.clock(), reason, number)
        related = self.book.get(guild_id, number) if number else None
        if related is not None:
            self.book.note(guild_id, related.number, who.id, self.clock(),
                           f"warned {member_id}: {reason}", "warning")
            await self.to_case(related, f"<@{who.id}> → {member}: {quoted(reason)}")
        elif policy.mod_log_channel is not None:
            await self.say(policy.mod_log_channel,
                           f"**Veilleur** · <@{who.id}> → {member} ({member_id}): "
                           f"{quoted(reason)}")
        sent = await self.direct(member_id, wf.dm(policy.locale)["warn"].format(
            server=quoted(self.names(guild_id) or str(guild_id)), reason=quoted(reason)))
        said = w["warned"].format(member=member, count=count)
        return said if sent else f"{said}\n{w['warn_dm_failed']}"

    async def appeal(self, guild_id: int, number: int, user_id: int, text: str,
                     reference: str) -> str:
        """The *Appeal* button's form sent: an Art. 20 complaint in the engine, once per
        case and person, at most `APPEALS_PER_DAY` a day."""
        policy = self.policy_of(guild_id)
        d = wf.dm(policy.locale)
        entry = self.book.get(guild_id, number)
        if entry is None:
            return d["appeal_unknown"]
        now = self.clock()
        # Only the person acted against in this case, within the complaint window (a
        # button forwarded or forged is no one's appeal).
        acted = [a for a in self.book.actions(guild_id, number)
                 if a.member_id == user_id and a.decision_id
                 and (parse_iso(a.at) or now) >= now - APPEAL_WINDOW]
        if not acted:
            return d["appeal_unknown"]
        if self.book.appealed(guild_id, number, user_id):
            return d["appeal_again"].format(n=number)
        if self.book.appeals_since(user_id, now - timedelta(days=1)) >= APPEALS_PER_DAY:
            return d["appeal_cooldown"]
        if not self.book.appeal(reference, guild_id, number, user_id, now):
            return d["appeal_again"].format(n=number)  # a second form sent meanwhile
        body = {"id": reference, "target": {"kind": "user", "id": str(user_id)},
                "by": "affected", "complainant_id": str(user_id),
                "decision_id": acted[-1].decision_id, "explanation": text[:4000]}
        try:
            await self.engine.complaint(body)
        except ValueError as exc:
            self.book.appeal_failed(reference)
            log.warning("appeal on %s #%s: %s", guild_id, number, exc)
            return wf.words(policy.locale)["engine_refused"].format(why=quoted(str(exc)))
        self.book.note(guild_id, number, user_id, now, text[:1000], "appeal")
        await self.to_case(entry, f"**Appeal** `{quoted(reference)}` · <@{user_id}> "
                                  f"({user_id}): {quoted(text)[:1500]}")
        return d["appealed"].format(n=number, ref=quoted(reference))

    # --- waves ----------------------------------------------------------------------------

    async def wave(self, d: WaveDecision) -> None:
        """A wave (raid) seen: the pause if the policy makes it automatic, then a line in
        the mod log with its buttons (pause or lift, and the listed accounts' bulk ban on a
        moderator's click)."""
        g = d.guild_id
        policy = self.policy_of(g)
        result = None
        if d.pause:
            result = await incidents.pause(self.http, g, d.until,
                                           f"Veilleur wave: {d.why()}", now=self.clock())
        paused = bool(result and result.done)
        latest = self.book.latest_wave(g)
        if d.step is Step.START or latest is None:
            wave_id = self.book.wave(g, self.clock(), d.until, paused, d.accounts)
        else:
            wave_id = latest
            self.book.wave_grew(wave_id, d.until, d.accounts)
        if result is not None and not result.done:
            self._problem(result.detail)
        if policy.mod_log_channel is None:
            return
        view = (self.wave_buttons(g, wave_id, policy.locale, paused, bool(d.accounts))
                if self.wave_buttons else None)
        await self.say(policy.mod_log_channel, wave_mod.text(
            d, policy.locale, guild_name=self.names(g),
            problem=result.detail if result and not result.done else None), view=view)

    async def wave_click(self, action: str, guild_id: int, wave_id: int, who: Moderator
                         ) -> str:
        """A wave's button: `pause` (when it was only proposed), `lift` (end the pause
        now), `ban` (the accounts whose messages were flagged in it, messages kept)."""
        policy = self.policy_of(guild_id)
        w = wf.words(policy.locale)
        if not who.moderates:
            return w["not_moderator"]
        if action in ("pause", "lift") and not who.manages:
            return w["not_manager"]  # the bot's Manage Server is not lent
        found = self.book.wave_of(guild_id, wave_id)
        if found is None:
            return w["no_wave"]
        now = self.clock()
        if action == "ban":
            if not who.bans:
                return w["ban_refused"].format(id=len(found.accounts), why=w["no_ban_right"])
            if not self.book.wave_done(wave_id, "banned", now, who.reviewer):
                return w["wave_again"]
            bans = await incidents.bulk_ban(self.http, guild_id, found.accounts,
                                            f"Veilleur wave {wave_id}: bulk ban by {who.id}")
            for member in bans.banned:
                self.book.acted(guild_id, None, "ban", now, who.reviewer, member_id=member)
            line = wave_mod.ban_text(guild_id, who.id, bans.banned, bans.failed,
                                     bans.problems, policy.locale)
        elif action == "lift":
            if found.lifted_at is not None:
                return w["wave_again"]
            result = await incidents.resume(self.http, guild_id)
            if result.done:  # marked only once Discord did it: a failed lift may be retried
                self.book.wave_done(wave_id, "lifted", now, who.reviewer)
                self.on_lift(guild_id)
            line = w["wave_lifted" if result.done else "wave_failed"].format(
                who=f"<@{who.id}>", why=result.detail)
        else:
            until = max(parse_iso(found.until) or now, now + timedelta(minutes=10))
            result = await incidents.pause(self.http, guild_id, until,
                                           f"Veilleur wave {wave_id}: paused by {who.id}",
                                           now=now)
            line = w["wave_paused" if result.done else "wave_failed"].format(
                who=f"<@{who.id}>", why=result.detail)
        if policy.mod_log_channel is not None:
            await self.say(policy.mod_log_channel, line)
        return line

    # --- bans made in Discord ---------------------------------------------------------------

    async def banned_elsewhere(self, guild_id: int, member_id: int,
                               by: tuple[int, str | None] | None) -> None:
        """A ban a moderator made in Discord itself (not through the bot): recorded on the
        member's cases here, with who banned and why from the audit log (`by`: None when
        the bot cannot read it), so the case's record is whole."""
        now = self.clock()
        if any(a.undone_at is None for a in self.book.acted_on(guild_id, member_id, "ban")):
            return  # the bot's own ban (a case's, or a wave's bulk ban), already recorded
        who = f"discord:{by[0]}" if by else "discord (audit log not readable)"
        for entry in self.book.open_cases_of(guild_id, member_id):
            self.book.acted(guild_id, entry.number, "ban", now, who, member_id=member_id)
            reason = f": {quoted(by[1])[:300]}" if by and by[1] else ""
            line = (f"**Veilleur** · {member_id} banned in Discord by "
                    + (f"<@{by[0]}>" if by else "someone (the bot cannot read the audit log: "
                       "View Audit Log)") + reason)
            self.book.note(guild_id, entry.number, by[0] if by else 0, now, line, "ban")
            await self.to_case(entry, line)

    # --- the watch list ------------------------------------------------------------------

    def _list(self, entry: CaseEntry, decision: Mapping[str, Any]) -> None:
        """The accounts the decision confirmed, and the files of the case's messages here
        when it confirmed one, each with its own category."""
        evidence = f"case #{entry.number}, engine {entry.case_id}, decision {decision.get('id')}"
        confirmed = [td for td in decision.get("targets") or () if td.get("violation")]
        for td in confirmed:
            t = td.get("target") or {}
            if t.get("kind") == "user":
                self.book.list_offender("user", str(t["id"]), entry.guild_id, entry.number,
                                        td.get("category"), self.clock(), evidence)
        messages = [td for td in confirmed if (td.get("target") or {}).get("kind") == "message"]
        if messages:
            category = max((td.get("category") or "" for td in messages),
                           key=lambda c: wf.RANK.get(c, 0)) or None
            for kind, value in entry.targets:
                if kind == "sha256":
                    self.book.list_offender("sha256", value, entry.guild_id, entry.number,
                                            category, self.clock(), evidence)

    async def watch_join(self, guild_id: int, member_id: int, member_name: str,
                         sharing: frozenset[int]) -> None:
        policy = self.policy_of(guild_id)
        if guild_id not in sharing or policy.mod_log_channel is None:
            return
        for hit in self.book.listed("user", str(member_id), sharing, guild_id):
            await self.say(policy.mod_log_channel, wf.words(policy.locale)["listed"].format(
                member=quoted(member_name), id=member_id,
                category=wf.category_words(hit.category, policy.locale), n=hit.number,
                at=hit.at[:10], evidence=quoted(hit.evidence)))

    async def watch_files(self, ref: MessageRef, sharing: frozenset[int]) -> None:
        policy = self.policy_of(ref.guild_id)
        if ref.guild_id is None or ref.guild_id not in sharing or \
                policy.mod_log_channel is None:
            return
        for _, sha in ref.attachment_sha256:
            for hit in self.book.listed("sha256", sha, sharing, ref.guild_id):
                await self.say(policy.mod_log_channel,
                               wf.words(policy.locale)["listed_file"].format(
                                   link=ref.link, category=wf.category_words(
                                       hit.category, policy.locale), n=hit.number, sha=sha))

    # --- small helpers -------------------------------------------------------------------

    def _note(self, entry: CaseEntry, who: Moderator, text: str, kind: str) -> None:
        self.book.note(entry.guild_id, entry.number, who.id, self.clock(), text, kind)

    def _why(self, exc: discord.HTTPException, permission: str) -> str:
        if exc.code == MISSING_PERMISSIONS:
            return f"missing permission {label(permission)}"
        return f"Discord refused: {exc.status}, code {exc.code}"

    def _problem(self, line: str) -> None:
        self.executor.noted(line)
        log.warning("%s", line)


KIND_WORDS = {"en": {"guild": "the server itself", "user": "account(s)",
                     "message": "message(s)", "channel": "channel(s)", "attachment": "file(s)"},
              "fr": {"guild": "le serveur lui-même", "user": "compte(s)",
                     "message": "message(s)", "channel": "salon(s)",
                     "attachment": "fichier(s)"}}


def _kinds(targets: tuple[tuple[str, str], ...], locale: str) -> str:
    """What is left, by kind and count: other servers' ids are not this server's to see."""
    words = KIND_WORDS.get(locale, KIND_WORDS["en"])
    counts: dict[str, int] = {}
    for kind, _ in targets:
        counts[kind] = counts.get(kind, 0) + 1
    return ", ".join(words.get(k, k) if k == "guild" else f"{n} {words.get(k, k)}"
                     for k, n in counts.items()) or "—"
