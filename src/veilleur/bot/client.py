"""The gateway side: a discord.py client whose handlers turn each event into the engine's
events (`events.py`) and enqueue them (`intake.Intake`); messages come back with the
engine's answer, planned under the server's policy and carried out (`execute.py`).

The bot's own messages (its mod log quotes what it found) are never read back in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import discord
from discord import app_commands

from veilleur.bot import automod, media, permissions
from veilleur.bot import events as bev
from veilleur.bot import report as rep
from veilleur.bot.casebook import Casebook
from veilleur.bot.execute import Executor
from veilleur.bot.intake import Engine, Intake
from veilleur.bot.moderation import Moderation
from veilleur.bot.modlog import fit
from veilleur.bot.plan import Kind, MessageRef, Plan, plan
from veilleur.bot.policy import ServerPolicy, default_policy
from veilleur.bot.views import (
    AppealButton,
    CaseButton,
    WaveButton,
    appeal_button,
    case_buttons,
    moderator,
    wave_buttons,
)
from veilleur.bot.wave import Waves
from veilleur.service.runtime import EngineDown

log = logging.getLogger("veilleur.bot")


def ref_of(m: discord.Message) -> MessageRef:
    return MessageRef(guild_id=m.guild.id if m.guild else None, channel_id=m.channel.id,
                      message_id=m.id, author_id=m.author.id,
                      attachment_ids=tuple(a.id for a in m.attachments))


class Handlers:
    """What each gateway event does, apart from the connection (tests drive it with
    discord.py's real objects and a fake HTTP client)."""

    def __init__(self, engine: Engine, policies: Mapping[int, ServerPolicy],
                 executor: Executor, *, self_id: Callable[[], int | None],
                 clock: Callable[[], datetime] = discord.utils.utcnow,
                 fetch_cap: int = media.DEFAULT_CAP,
                 on_down: Callable[[str], None] | None = None,
                 book: Casebook | None = None,
                 names: Callable[[int], str | None] = lambda _guild: None) -> None:
        self.engine = engine
        self.fetch_cap = fetch_cap
        """Pictures and videos up to this size are fetched and hashed (0: none)."""
        self.policies = policies
        self.executor = executor
        self.self_id = self_id
        self.clock = clock
        self.intake = Intake(on_down)
        self.removed = executor.removed
        """Messages the bot took down (marked by the executor once the deletion is asked,
        unmarked if it fails): their deletion is a moderator's, not the author's."""
        self._acting: set[asyncio.Task[Any]] = set()
        self._planned: dict[int, set[Kind]] = {}
        """Per message (the latest 10,000), the actions already planned for it."""
        # A report the engine took is numbered and logged with its buttons once it is in
        # a case (beside the intake: the reporter's answer does not wait for it).
        self.reports = rep.Reports(
            lambda body: self.engine.report(body), executor.post,
            filed=lambda rid, guild, t: self._beside(self.moderation.reported(
                rid, guild, t.kind, t.id)))
        self.moderation = Moderation(engine, executor.http, book or Casebook(":memory:"),
                                     self.policy, executor, buttons=case_buttons,
                                     names=names, clock=clock)
        self.moderation.appeal_button = appeal_button
        self.moderation.wave_buttons = wave_buttons
        self.waves = Waves(lambda g: self.policy(g).wave)
        self.moderation.on_lift = self.waves.end
        self.sharing = frozenset(g for g, p in policies.items() if p.share_watch_list)
        """The servers that opted in to the shared watch list."""

    def policy(self, guild_id: int | None) -> ServerPolicy:
        return self.policies.get(guild_id or 0) or default_policy(guild_id or 0)

    def send(self, *raws: dict[str, Any] | None) -> None:
        kept = [r for r in raws if r is not None]
        if kept:
            self.intake.put(lambda: self._send(kept))

    async def _send(self, raws: list[dict[str, Any]]) -> None:
        await self.engine.send(raws)

    def judge(self, raw: dict[str, Any], ref: MessageRef,
              message: discord.Message | None = None, *, may_remove: bool = True) -> None:
        self.intake.put(lambda: self._judge(raw, ref, message, may_remove))

    async def _judge(self, raw: dict[str, Any], ref: MessageRef,
                     message: discord.Message | None, may_remove: bool = True) -> None:
        fetched: dict[int, str] = {}
        references: dict[str, Any] | None = None
        spool = self.engine.spool
        keep = False
        try:
            if message is not None and message.attachments and self.fetch_cap > 0 and spool:
                await media.fetch(message.attachments, spool, cap=self.fetch_cap,
                                  into=fetched)
                if fetched:
                    references = bev.message(message)
                    raw = bev.message(message, fetched)
                    # Files are named by their SHA-256 (`store_upload`).
                    ref = replace(ref, attachment_sha256=tuple(
                        (i, Path(p).name.split(".")[0]) for i, p in fetched.items()))
            if fetched:
                # A service is sent the event as Discord references the files (never the
                # bot's local paths), with the files themselves (`remote.ServiceEngine`).
                answer = await self.engine.judge(raw, fetched=True, references=references)
            else:
                answer = await self.engine.judge(raw)
        except EngineDown:
            # The journal may hold the message naming these files: the restart reads them.
            keep = True
            raise
        finally:
            # Hashed, and sealed durably if a case opened (`Engine.judge`): the clear copy
            # goes, whatever happened.
            if not keep:
                await asyncio.to_thread(media.discard, fetched.values())
        if ref.attachment_sha256 and self.sharing:
            self._beside(self.moderation.watch_files(ref, self.sharing))
        if answer.verdict != "allow" and ref.guild_id is not None and not answer.duplicate:
            wave = self.waves.observe_flagged(ref.guild_id, ref.author_id, self.clock(),
                                              message_id=ref.message_id)
            if wave is not None:
                self._beside(self.moderation.wave(wave))
        p = plan(answer, ref, self.policy(ref.guild_id))
        if not may_remove:
            # AutoMod's report does not list the message's files: the message's own event
            # (fetched, hashed) is what may take it down.
            p = replace(p, actions=tuple(a for a in p.actions
                                         if not a.removes and a.kind is not Kind.NOTICE))
        p = self._once(p)
        if p.empty:
            return
        # Carried out beside the intake: Discord's rate limits never hold the engine's queue.
        self._beside(self._act(p))

    def _beside(self, work: Coroutine[Any, Any, Any]) -> None:
        """Carried out beside the intake (Discord's rate limits never hold the engine's
        queue), kept until done (`settle`)."""
        task = asyncio.get_running_loop().create_task(work)
        self._acting.add(task)
        task.add_done_callback(self._acting.discard)

    async def _act(self, p: Plan) -> None:
        outcomes = await self.executor.carry_out(p, log=False)
        await self.moderation.logged(p, outcomes)

    def _once(self, p: Plan) -> Plan:
        """`p` without what was already planned for the same message: the engine marks an
        exact repeat (`Answer.duplicate`), but an AutoMod execution and the message itself
        are two events about one message, each judged. What is new (a picture matched
        once the message's files were read) is still done and logged."""
        if p.empty:
            return p
        done = self._planned.get(p.ref.message_id)
        if done is None:
            done = self._planned[p.ref.message_id] = set()
            while len(self._planned) > 10_000:
                self._planned.pop(next(iter(self._planned)))
        elif {a.kind for a in p.actions} <= done:
            log.info("message %s: already acted on, nothing new to do", p.ref.message_id)
            return replace(p, actions=(), mod_log=None)
        fresh = tuple(a for a in p.actions if a.kind not in done)
        done.update(a.kind for a in fresh)
        return replace(p, actions=fresh)

    async def settle(self) -> None:
        """Until everything enqueued is taken in and every plan carried out (tests)."""
        await self.intake.drain()
        while self._acting:
            await asyncio.gather(*self._acting)

    async def report(self, interaction: discord.Interaction, category: str, *,
                     link: str | None = None, member: discord.abc.User | None = None,
                     message: discord.Message | None = None,
                     explanation: str | None = None) -> str:
        """A member's report on a message (its link, or the message itself from the
        context menu) or a member; the words of the private answer."""
        g = interaction.guild
        p = self.policy(g.id if g else None)
        w = rep.words(p.locale)
        if g is None:
            return w["bad_link"]
        if message is not None:
            target = rep.Target("message", message.id, ref_of(message).link)
        elif link:
            found = rep.parse_link(link, g.id)
            if found is None:
                return w["bad_link"]
            target = rep.Target("message", found[1], MessageRef(
                g.id, found[0], found[1], 0).link)
        elif member is not None:
            target = rep.Target("user", member.id, "")
        else:
            return w["no_target"]
        return await self.reports.report(
            report_id=f"discord-{interaction.id}", guild_id=g.id,
            reporter_id=interaction.user.id, target=target, category=category,
            explanation=explanation, locale=p.locale, mod_log=p.mod_log_channel)

    # --- the gateway's events ------------------------------------------------------------

    def guild_available(self, g: discord.Guild) -> None:
        self.send(*bev.guild(g, self.clock()))

    def message(self, m: discord.Message) -> None:
        if m.author.id == self.self_id():
            return
        self.judge(bev.message(m), ref_of(m), m)

    def edit(self, raw: discord.RawMessageUpdateEvent) -> None:
        if raw.message.author.id == self.self_id():
            return
        r = bev.edited(raw)
        if r is not None:  # an edit says `pinned` itself: never a second reading
            self.judge(r, ref_of(raw.message), raw.message)
        elif (p := bev.pinned(raw)) is not None:
            # A pin is the server's word on a post, not a new post: told, never held.
            self.send(p)

    def delete(self, raw: discord.RawMessageDeleteEvent) -> None:
        by = "moderator" if raw.message_id in self.removed else "author"
        self.removed.discard(raw.message_id)
        self.send(bev.deleted(raw, self.clock(), by=by))

    def bulk_delete(self, raw: discord.RawBulkMessageDeleteEvent) -> None:
        self.send(*bev.bulk_deleted(raw, self.clock()))

    def channel(self, c: discord.abc.GuildChannel | discord.Thread) -> None:
        self.send(bev.channel(c, self.clock()))

    def channel_deleted(self, c: discord.abc.GuildChannel) -> None:
        self.send(bev.channel_deleted(c, self.clock()))

    def guild_updated(self, before: discord.Guild, after: discord.Guild) -> None:
        self.send(bev.guild_updated(before, after, self.clock()))

    def roles_changed(self, g: discord.Guild) -> None:
        self.send(bev.roles_changed(g, self.clock()))

    def member_joined(self, m: discord.Member) -> None:
        self.send(*bev.member_joined(m))
        # Discord's side beside the intake: a raid's rate limits never hold the engine.
        wave = self.waves.observe_join(m.guild.id, m.id, m.created_at, self.clock())
        if wave is not None:
            self._beside(self.moderation.wave(wave))
        if m.guild.id in self.sharing:
            self._beside(self.moderation.watch_join(m.guild.id, m.id, m.name, self.sharing))

    def member_left(self, raw: discord.RawMemberRemoveEvent) -> None:
        self.send(bev.member_left(raw, self.clock()))

    def member_updated(self, before: discord.Member, after: discord.Member) -> None:
        self.send(bev.member_updated(before, after, self.clock()))

    def invite(self, i: discord.Invite) -> None:
        self.send(bev.invite_created(i, self.clock()))

    def automod(self, e: discord.AutoModAction) -> None:
        r = bev.automod(e, self.clock())
        if r is None:
            log.info("AutoMod rule %s acted on %s in %s: %s", e.rule_id, e.user_id,
                     e.guild_id, bev.NOT_IN_FORMAT["automod_unsendable"])
            return
        # A blocked attempt has no message on Discord (its id is the attempt's): nothing
        # to remove, ever; the author may still be contained as the policy says.
        ref = MessageRef(e.guild_id, e.channel_id or 0, int(r["message"]["id"]), e.user_id)
        self.judge(r, ref, may_remove=False)

    def banned(self, g: discord.Guild, u: discord.User | discord.Member,
               by: Callable[[], Awaitable[tuple[int, str | None] | None]] | None = None
               ) -> None:
        """`by`: who banned and why, from the audit log (read beside the intake)."""
        log.info("member %s banned from %s: %s", u.id, g.id, bev.NOT_IN_FORMAT["member_ban"])
        self.send(bev.banned(g, u, self.clock()))
        if self.moderation.book.open_cases_of(g.id, u.id):
            async def record() -> None:
                who = await by() if by is not None else None
                await self.moderation.banned_elsewhere(g.id, u.id, who)
            self._beside(record())


class VeilleurBot(discord.Client):
    def __init__(self, engine: Engine, policies: Mapping[int, ServerPolicy], *,
                 fetch_cap: int = media.DEFAULT_CAP, book: Casebook | None = None) -> None:
        super().__init__(intents=permissions.intents(),
                         allowed_mentions=discord.AllowedMentions.none())
        self.engine = engine
        self.fetch_cap = fetch_cap
        self.policies = policies
        self.book = book
        self.handlers: Handlers | None = None
        self.engine_failure: str | None = None
        self._closing: asyncio.Task[None] | None = None
        self.tree = app_commands.CommandTree(self)
        self.tree.add_command(commands(self))
        self.tree.add_command(report_menu(self))

    @property
    def on(self) -> Handlers:
        assert self.handlers is not None, "setup_hook has not run"
        return self.handlers

    async def setup_hook(self) -> None:
        self.handlers = Handlers(self.engine, self.policies,
                                 Executor(self.http, self.engine.evidence_of,
                                          granted=self._granted),
                                 self_id=lambda: self.user.id if self.user else None,
                                 fetch_cap=self.fetch_cap, on_down=self._engine_down,
                                 book=self.book, names=self._name)
        self.handlers.intake.start()
        self.add_dynamic_items(CaseButton, AppealButton, WaveButton)
        await self.tree.set_translator(French())
        await self.tree.sync()

    def _name(self, guild_id: int) -> str | None:
        g = self.get_guild(guild_id)
        return g.name if g else None

    def _granted(self, guild_id: int | None, permission: str) -> bool | None:
        g = self.get_guild(guild_id) if guild_id else None
        if g is None or g.me is None:
            return None
        return bool(getattr(g.me.guild_permissions, permission))

    def _engine_down(self, why: str) -> None:
        self.engine_failure = why
        # Kept: a task nobody references may be collected before it ends.
        self._closing = asyncio.get_running_loop().create_task(self.close())

    async def close(self) -> None:
        await super().close()
        closing = self._closing
        if closing is not None and closing is not asyncio.current_task():
            await asyncio.shield(closing)

    async def on_ready(self) -> None:
        for g in self.guilds:
            self.on.guild_available(g)
            self._diagnose(g)
            self._automod(g)

    async def on_guild_join(self, g: discord.Guild) -> None:
        self.on.guild_available(g)
        self._diagnose(g)
        self._automod(g)

    def _automod(self, g: discord.Guild) -> None:
        """Veilleur's AutoMod rules made what the server's policy asks (removed when it
        asks for none), beside the gateway's loop. Only servers with a policy file: the
        bot changes nothing in a server that did not say what it wants."""
        p = self.policies.get(g.id)
        if p is None or self.user is None:
            return
        self.on._beside(self._sync_automod(g.id, self.user.id, p))

    async def _sync_automod(self, guild_id: int, bot_id: int, p: ServerPolicy) -> None:
        report = await automod.keep_in_sync(self.http, guild_id, bot_id, p)
        (log.warning if report.failed else log.info)("%s", report.summary())

    def _diagnose(self, g: discord.Guild) -> None:
        p = self.policies.get(g.id)
        # The bot's own log stays in English, whatever the server's language.
        for problem in permissions.diagnose(
                g, self.intents, mod_log=p.mod_log_channel if p else None,
                quarantine_role=p.quarantine_role if p else None):
            log.warning("%s (%s): %s", g.name, g.id, problem)

    async def on_message(self, m: discord.Message) -> None:
        self.on.message(m)

    async def on_raw_message_edit(self, raw: discord.RawMessageUpdateEvent) -> None:
        self.on.edit(raw)

    async def on_raw_message_delete(self, raw: discord.RawMessageDeleteEvent) -> None:
        self.on.delete(raw)

    async def on_raw_bulk_message_delete(self, raw: discord.RawBulkMessageDeleteEvent
                                         ) -> None:
        self.on.bulk_delete(raw)

    async def on_guild_channel_create(self, c: discord.abc.GuildChannel) -> None:
        self.on.channel(c)

    async def on_guild_channel_update(self, _before: discord.abc.GuildChannel,
                                      after: discord.abc.GuildChannel) -> None:
        self.on.channel(after)

    async def on_guild_channel_delete(self, c: discord.abc.GuildChannel) -> None:
        self.on.channel_deleted(c)

    async def on_thread_create(self, t: discord.Thread) -> None:
        self.on.channel(t)

    async def on_guild_update(self, before: discord.Guild, after: discord.Guild) -> None:
        self.on.guild_updated(before, after)

    async def on_guild_role_create(self, role: discord.Role) -> None:
        self.on.roles_changed(role.guild)

    async def on_guild_role_update(self, before: discord.Role, after: discord.Role) -> None:
        if before.name != after.name:
            self.on.roles_changed(after.guild)

    async def on_member_join(self, m: discord.Member) -> None:
        self.on.member_joined(m)

    async def on_raw_member_remove(self, raw: discord.RawMemberRemoveEvent) -> None:
        self.on.member_left(raw)

    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        self.on.member_updated(before, after)

    async def on_invite_create(self, i: discord.Invite) -> None:
        self.on.invite(i)

    async def on_automod_action(self, e: discord.AutoModAction) -> None:
        self.on.automod(e)

    async def on_member_ban(self, g: discord.Guild, u: discord.User | discord.Member) -> None:
        self.on.banned(g, u, lambda: who_banned(g, u.id))


async def who_banned(g: discord.Guild, user_id: int) -> tuple[int, str | None] | None:
    """The moderator and reason of a member's latest ban, from the audit log (View Audit
    Log); None if the bot cannot read it or finds none."""
    try:
        async for entry in g.audit_logs(limit=10, action=discord.AuditLogAction.ban):
            if entry.target is not None and entry.target.id == user_id and entry.user:
                return entry.user.id, entry.reason
    except discord.HTTPException as exc:
        log.info("audit log of %s not readable (%s, code %s)", g.id, exc.status, exc.code)
    return None


def commands(bot: VeilleurBot) -> app_commands.Group:
    # Open to every member (`report`); `diagnose` checks Manage Server itself (Discord's
    # default permissions apply to a whole group).
    group = app_commands.Group(name="veilleur", description="Veilleur, child safety",
                               guild_only=True)

    @group.command(name="diagnose",
                   description="What the bot lacks here: permissions per channel, intents")
    async def diagnose(interaction: discord.Interaction) -> None:
        g = interaction.guild
        if g is None:
            return
        locale = (bot.policies.get(g.id) or default_policy(g.id)).locale
        if not interaction.permissions.manage_guild:
            await interaction.response.send_message(DIAGNOSIS[locale]["only"],
                                                    ephemeral=True)
            return
        p = bot.policies.get(g.id)
        problems = permissions.diagnose(g, bot.intents,
                                        mod_log=p.mod_log_channel if p else None,
                                        quarantine_role=p.quarantine_role if p else None,
                                        locale=locale)
        await interaction.response.send_message(diagnosis_text(problems, locale),
                                                ephemeral=True)

    @group.command(name="report", description=_("Report a message or a member to the "
                                                 "moderators, privately"))
    @app_commands.describe(category=_("What it is about"),
                           message_link=_("The message's link (Copy Message Link)"),
                           member=_("Or the member"),
                           explanation=_("Optional: what happened, briefly"))
    @app_commands.choices(category=[app_commands.Choice(name=_(rep.LABELS["en"][c]), value=c)
                                    for c in rep.CATEGORIES])
    async def report(interaction: discord.Interaction, category: app_commands.Choice[str],
                     message_link: app_commands.Range[str, 1, 200] | None = None,
                     member: discord.Member | None = None,
                     explanation: app_commands.Range[str, 1, rep.MAX_EXPLANATION] | None
                     = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        text = await bot.on.report(interaction, category.value, link=message_link,
                                   member=member, explanation=explanation)
        await interaction.followup.send(text, ephemeral=True)

    @group.command(name="case", description=_("A case of this server, and a note added to "
                                               "it (moderators)"))
    @app_commands.describe(number=_("The case number"),
                           note=_("Optional: a note added to the case (never overwritten)"))
    async def case(interaction: discord.Interaction,
                   number: app_commands.Range[int, 1, 999_999_999],
                   note: app_commands.Range[str, 1, 1000] | None = None) -> None:
        g = interaction.guild
        if g is None:
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        policy = bot.on.policy(g.id)
        who = moderator(interaction, policy.moderator_roles)
        text = await bot.on.moderation.case(g.id, number, who, note)
        entry = bot.on.moderation.book.get(g.id, number) if who.moderates else None
        await interaction.followup.send(
            text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none(),
            view=case_buttons(g.id, number, policy.locale) if entry else
            discord.utils.MISSING)

    @group.command(name="warn", description=_("Warn a member, privately (moderators)"))
    @app_commands.describe(member=_("The member"), reason=_("What they are warned about"),
                           case=_("Optional: the case it belongs to"))
    async def warn(interaction: discord.Interaction, member: discord.Member,
                   reason: app_commands.Range[str, 1, 500],
                   case: app_commands.Range[int, 1, 999_999_999] | None = None) -> None:
        g = interaction.guild
        if g is None:
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = moderator(interaction, bot.on.policy(g.id).moderator_roles)
        text = await bot.on.moderation.warn(g.id, member.id, reason, who, case)
        await interaction.followup.send(text, ephemeral=True,
                                        allowed_mentions=discord.AllowedMentions.none())

    return group


def _(text: str) -> app_commands.locale_str:
    return app_commands.locale_str(text)


FRENCH = {"Report to moderators": "Signaler aux modérateurs",
          "Report a message or a member to the moderators, privately":
              "Signaler un message ou un membre aux modérateurs, en privé",
          "What it is about": "De quoi il s'agit",
          "The message's link (Copy Message Link)": "Le lien du message (Copier le lien)",
          "Or the member": "Ou le membre",
          "Optional: what happened, briefly": "Facultatif : ce qui s'est passé, en bref",
          "A case of this server, and a note added to it (moderators)":
              "Un dossier de ce serveur, et une note à y ajouter (modérateurs)",
          "The case number": "Le numéro du dossier",
          "Optional: a note added to the case (never overwritten)":
              "Facultatif : une note ajoutée au dossier (jamais écrasée)",
          "Warn a member, privately (moderators)":
              "Avertir un membre, en privé (modérateurs)",
          "The member": "Le membre", "What they are warned about": "Le motif",
          "Optional: the case it belongs to": "Facultatif : le dossier concerné",
          **{rep.LABELS["en"][c]: rep.LABELS["fr"][c] for c in rep.CATEGORIES}}


class French(app_commands.Translator):
    """The commands' names and choices in French for members whose Discord speaks it
    (Discord shows commands in each member's own language, not the server's)."""

    async def translate(self, string: app_commands.locale_str, locale: discord.Locale,
                        context: app_commands.TranslationContextTypes) -> str | None:
        return FRENCH.get(string.message) if locale is discord.Locale.french else None


def report_menu(bot: VeilleurBot) -> app_commands.ContextMenu:
    """"Report to moderators" on a message: the category is chosen in a private menu
    (nothing preselected), in the server's language; choosing files the report."""
    async def callback(interaction: discord.Interaction, message: discord.Message) -> None:
        locale = bot.on.policy(interaction.guild.id if interaction.guild else None).locale
        await interaction.response.send_message(
            rep.words(locale)["choose"], view=CategoryView(bot.on, message, locale),
            ephemeral=True)

    menu = app_commands.ContextMenu(name=_("Report to moderators"), callback=callback,
                                    type=discord.AppCommandType.message)
    menu.guild_only = True
    return menu


class CategoryView(discord.ui.View):
    def __init__(self, handlers: Handlers, message: discord.Message, locale: str) -> None:
        super().__init__(timeout=300)
        self.handlers = handlers
        self.message = message
        labels = rep.LABELS.get(locale, rep.LABELS["en"])
        self.choose: discord.ui.Select[CategoryView] = discord.ui.Select(
            placeholder=rep.words(locale)["choose"], min_values=1, max_values=1,
            options=[discord.SelectOption(label=labels[c], value=c) for c in rep.CATEGORIES])
        self.choose.callback = self.chosen  # type: ignore[method-assign]
        self.add_item(self.choose)

    async def chosen(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer()  # the menu's own message becomes the answer
        text = await self.handlers.report(interaction, self.choose.values[0],
                                          message=self.message)
        self.stop()
        await interaction.edit_original_response(content=text, view=None)


DIAGNOSIS = {
    "en": {"only": "Only members who manage the server may ask this.",
           "fine": "Nothing is missing: every permission and intent the bot needs is granted.",
           "lacks": "The bot lacks:"},
    "fr": {"only": "Seuls les membres qui gèrent le serveur peuvent le demander.",
           "fine": "Rien ne manque : le bot a toutes les permissions et intents qu'il lui "
                   "faut.",
           "lacks": "Il manque au bot :"},
}


def diagnosis_text(problems: list[str], locale: str = "en") -> str:
    w = DIAGNOSIS.get(locale, DIAGNOSIS["en"])
    if not problems:
        return w["fine"]
    return fit(w["lacks"] + "\n" + "\n".join(f"- {p}" for p in problems))
