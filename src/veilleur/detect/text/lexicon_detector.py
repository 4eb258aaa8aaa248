"""`text.lexicon`: the starter text detector over messages, channel names and server names."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from veilleur.detect.base import Context, DetectorSettings, Signal
from veilleur.detect.text.lexicon import Lexicon, RuleHit, load_lexicon
from veilleur.events import ChannelCreated, Event, GuildCreated, GuildUpdated, MessagePosted
from veilleur.taxonomy import Target, TargetKind

_EXCERPT = 280


class LexiconDetector:
    id = "text.lexicon"

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self.version = lexicon.version

    @classmethod
    def from_settings(cls, settings: DetectorSettings) -> LexiconDetector:
        return cls(load_lexicon(Path(settings.policy_dir) / "lexicons" / "starter.toml"))

    def detect(self, event: Event, ctx: Context) -> Iterable[Signal]:
        if isinstance(event, MessagePosted):
            m = event.message
            target = Target(TargetKind.MESSAGE, m.id)
            context = {"guild_id": m.guild_id, "channel_id": m.channel_id, "author_id": m.author_id}
            return self._signals(m.content, target, context, "message text")
        if isinstance(event, ChannelCreated):
            c = event.channel
            text = "\n".join(x for x in (c.name, c.topic) if x)
            target = Target(TargetKind.CHANNEL, c.id)
            return self._signals(text, target, {"guild_id": c.guild_id, "channel_id": c.id},
                                 "channel name or topic")
        if isinstance(event, GuildCreated | GuildUpdated):
            # Judge the guild as it now stands, not only the fields this update changed.
            g = ctx.guild(event.guild.id) or event.guild
            text = "\n".join(x for x in (g.name, g.description) if x)
            return self._signals(text, Target(TargetKind.GUILD, g.id), {"guild_id": g.id},
                                 "server name or description")
        return ()

    def _signals(
        self, text: str, target: Target, context: dict[str, str | None], where: str
    ) -> list[Signal]:
        if not text:
            return []
        excerpt = text if len(text) <= _EXCERPT else text[: _EXCERPT - 1] + "…"
        return [
            Signal(
                detector=self.id,
                version=self.version,
                target=target,
                category=hit.rule.category,
                strength=hit.rule.weight,
                evidence=_evidence(hit, where),
                key=hit.rule.id,
                context=context,
                excerpt=excerpt,
            )
            for hit in self.lexicon.match(text, target.kind)
        ]


def _evidence(hit: RuleHit, where: str) -> str:
    terms = " + ".join(f"'{t}'" for t in hit.terms)
    return f"{hit.rule.describe}: matched {terms} in {where} (rule {hit.rule.id})"
