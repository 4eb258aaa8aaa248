"""The buttons: the four on each case's line in the mod log, and *Appeal* in the direct
message to a person acted against. Their state is in their custom id (`veilleur:case:
<action>:<server>:<number>`, `veilleur:appeal:<server>:<number>`), so they keep working
after the bot restarts (discord.py's dynamic items); what they do is
`moderation.Moderation`'s.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord

from veilleur.bot import workflow as wf
from veilleur.bot.modlog import fit

if TYPE_CHECKING:
    from veilleur.bot.moderation import Moderation, Moderator

ACTIONS = ("confirm", "clear", "escalate", "undo")
STYLES = {"confirm": discord.ButtonStyle.danger, "clear": discord.ButtonStyle.success,
          "escalate": discord.ButtonStyle.primary, "undo": discord.ButtonStyle.secondary}


def moderation_of(interaction: discord.Interaction) -> Moderation:
    bot: Any = interaction.client
    return bot.on.moderation  # type: ignore[no-any-return]


def moderator(interaction: discord.Interaction, roles: frozenset[int]) -> Moderator:
    from veilleur.bot.moderation import Moderator

    user = interaction.user
    mine = {r.id for r in getattr(user, "roles", ())}
    perms = interaction.permissions
    return Moderator(user.id, user.name, bool(perms.manage_messages or mine & roles),
                     bool(perms.ban_members), bool(perms.manage_guild))


async def answered(interaction: discord.Interaction, guild_id: int,
                   act: Callable[[Moderation, Moderator], Awaitable[str]]) -> None:
    """A moderator's button: only in the server its id names (a button copied elsewhere
    does nothing), answered privately, mentions off."""
    if interaction.guild is None or interaction.guild.id != guild_id:
        await interaction.response.send_message("—", ephemeral=True)
        return
    mod = moderation_of(interaction)
    who = moderator(interaction, mod.policy_of(guild_id).moderator_roles)
    await interaction.response.defer(ephemeral=True, thinking=True)
    text = await act(mod, who)
    await interaction.followup.send(fit(text), ephemeral=True,
                                    allowed_mentions=discord.AllowedMentions.none())


class CaseButton(discord.ui.DynamicItem[discord.ui.Button[Any]],
                 template=r"veilleur:case:(?P<action>confirm|clear|escalate|undo):"
                          r"(?P<guild>[0-9]{1,19}):(?P<number>[0-9]{1,9})"):
    def __init__(self, action: str, guild_id: int, number: int, locale: str = "en") -> None:
        super().__init__(discord.ui.Button(
            label=wf.words(locale)[action], style=STYLES[action],
            custom_id=f"veilleur:case:{action}:{guild_id}:{number}"))
        self.action, self.guild_id, self.number = action, guild_id, number

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction,
                             item: discord.ui.Item[Any], match: Any) -> CaseButton:
        return cls(match["action"], int(match["guild"]), int(match["number"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await answered(interaction, self.guild_id,
                       lambda mod, who: mod.click(self.action, self.guild_id, self.number, who))


def case_buttons(guild_id: int, number: int, locale: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in ACTIONS:
        view.add_item(CaseButton(action, guild_id, number, locale))
    return view


class AppealButton(discord.ui.DynamicItem[discord.ui.Button[Any]],
                   template=r"veilleur:appeal:(?P<guild>[0-9]{1,19}):(?P<number>[0-9]{1,9})"):
    def __init__(self, guild_id: int, number: int, locale: str = "en") -> None:
        super().__init__(discord.ui.Button(
            label=wf.dm(locale)["appeal_button"], style=discord.ButtonStyle.primary,
            custom_id=f"veilleur:appeal:{guild_id}:{number}"))
        self.guild_id, self.number = guild_id, number

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction,
                             item: discord.ui.Item[Any], match: Any) -> AppealButton:
        return cls(int(match["guild"]), int(match["number"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        locale = moderation_of(interaction).policy_of(self.guild_id).locale
        await interaction.response.send_modal(AppealForm(self.guild_id, self.number, locale))


def appeal_button(guild_id: int, number: int, locale: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(AppealButton(guild_id, number, locale))
    return view


class AppealForm(discord.ui.Modal):
    def __init__(self, guild_id: int, number: int, locale: str) -> None:
        d = wf.dm(locale)
        super().__init__(title=d["appeal_title"].format(n=number)[:45], timeout=900)
        self.guild_id, self.number = guild_id, number
        self.why: discord.ui.TextInput[AppealForm] = discord.ui.TextInput(
            label=d["appeal_label"][:45], style=discord.TextStyle.paragraph, min_length=1,
            max_length=1000)
        self.add_item(self.why)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        text = await moderation_of(interaction).appeal(
            self.guild_id, self.number, interaction.user.id, self.why.value,
            f"discord-{interaction.id}")
        await interaction.followup.send(fit(text), ephemeral=True,
                                        allowed_mentions=discord.AllowedMentions.none())


WAVE_LABELS = {"pause": "pause", "lift": "lift", "ban": "ban_wave"}
WAVE_STYLES = {"pause": discord.ButtonStyle.primary, "lift": discord.ButtonStyle.secondary,
               "ban": discord.ButtonStyle.danger}


class WaveButton(discord.ui.DynamicItem[discord.ui.Button[Any]],
                 template=r"veilleur:wave:(?P<action>pause|lift|ban):(?P<guild>[0-9]{1,19}):"
                          r"(?P<wave>[0-9]{1,12})"):
    def __init__(self, action: str, guild_id: int, wave_id: int, locale: str = "en") -> None:
        super().__init__(discord.ui.Button(
            label=wf.words(locale)[WAVE_LABELS[action]], style=WAVE_STYLES[action],
            custom_id=f"veilleur:wave:{action}:{guild_id}:{wave_id}"))
        self.action, self.guild_id, self.wave_id = action, guild_id, wave_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction,
                             item: discord.ui.Item[Any], match: Any) -> WaveButton:
        return cls(match["action"], int(match["guild"]), int(match["wave"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await answered(interaction, self.guild_id, lambda mod, who: mod.wave_click(
            self.action, self.guild_id, self.wave_id, who))


def wave_buttons(guild_id: int, wave_id: int, locale: str, paused: bool, accounts: bool
                 ) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(WaveButton("lift" if paused else "pause", guild_id, wave_id, locale))
    if accounts:
        view.add_item(WaveButton("ban", guild_id, wave_id, locale))
    return view
