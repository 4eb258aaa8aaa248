"""`text.lexicon`: the text and link detector over messages, channels and servers.

Each text is analysed by the fast tier (`analyzer.py`); rules are evaluated with the text's
context, kept as keyed state per channel and per server:
- a channel: the features of its name and topic, and which categories they made it suspect of;
- a server: the same for its name and description, its layout (features of all its channel
  names) and its profile (how many strong message signals of each category it produced).
A message is read with its channel, its server, the layout and the profile; a channel with its
server; a server with its layout. So "le reste en VIP" is trade in #teaser-mineure and nothing
in a game shop, and a server whose channels are "vos-ex", "vos-cousines" is itself flagged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from veilleur.decide.policy import combine
from veilleur.detect.base import Context, DetectorSettings, Signal
from veilleur.detect.text.analyzer import Analysis, RuleHit, TextAnalyzer
from veilleur.events import ChannelCreated, Event, GuildCreated, GuildUpdated, MessagePosted
from veilleur.state import KeyedState, MemoryState
from veilleur.taxonomy import Category, Target, TargetKind

_EXCERPT = 280
PROFILE_MIN_SIGNALS = 2
"""Strong message signals of a category after which a server's profile carries it."""
STRONG = 0.7


@dataclass(frozen=True, slots=True)
class _Place:
    """What is known of a channel's or server's own text."""

    features: frozenset[str] = frozenset()
    suspect: frozenset[Category] = frozenset()


@dataclass(frozen=True, slots=True)
class _GuildProfile:
    layout: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    strong: tuple[tuple[Category, int], ...] = ()
    flags: frozenset[str] = field(default=frozenset())


class TextDetector:
    id = "text.lexicon"

    def __init__(self, analyzer: TextAnalyzer, state: KeyedState | None = None) -> None:
        self.analyzer = analyzer
        self.version = analyzer.version
        self._state = state if state is not None else MemoryState()
        self._context_cache: dict[str, frozenset[str]] = {}

    @classmethod
    def from_settings(cls, settings: DetectorSettings) -> TextDetector:
        return cls(TextAnalyzer.load(settings.policy_dir))

    # -- events -------------------------------------------------------------------------

    def detect(self, event: Event, ctx: Context) -> Iterable[Signal]:
        if isinstance(event, MessagePosted):
            return self._message(event)
        if isinstance(event, ChannelCreated):
            return self._channel(event)
        if isinstance(event, GuildCreated | GuildUpdated):
            guild = ctx.guild(event.guild.id) or event.guild
            text = "\n".join(x for x in (guild.name, guild.description) if x)
            return self._guild(guild.id, text)
        return ()

    def _message(self, event: MessagePosted) -> list[Signal]:
        m = event.message
        analysis = self.analyzer.analyze(m.content)
        if not analysis.features:
            return []
        context = self._message_context(m.channel_id, m.guild_id)
        hits = self.analyzer.rules(analysis, TargetKind.MESSAGE, context)
        if not hits:
            return []
        target = Target(TargetKind.MESSAGE, m.id)
        ctx = {"guild_id": m.guild_id, "channel_id": m.channel_id, "author_id": m.author_id}
        signals = self._signals(analysis, hits, target, ctx, "message")
        if m.guild_id is not None:
            self._count_strong(m.guild_id, hits)
        return signals

    def _channel(self, event: ChannelCreated) -> list[Signal]:
        c = event.channel
        text = "\n".join(x for x in (c.name, c.topic) if x)
        analysis = self.analyzer.analyze(text)
        context = self._guild_context(c.guild_id) if c.guild_id else frozenset()
        hits = self.analyzer.rules(analysis, TargetKind.CHANNEL, context)
        self._state.put("text.channel", c.id, _Place(
            frozenset(analysis.features), frozenset(h.rule.category for h in hits)))
        self._state.put("text.channel_guild", c.id, c.guild_id)
        self._context_cache.clear()
        signals = self._signals(analysis, hits, Target(TargetKind.CHANNEL, c.id),
                                {"guild_id": c.guild_id, "channel_id": c.id},
                                "channel name or topic")
        if c.guild_id is not None:
            profile = self._profile(c.guild_id)
            if c.id not in profile.channels:
                self._put_profile(c.guild_id, replace(
                    profile, layout=profile.layout | frozenset(analysis.features),
                    channels=profile.channels | {c.id}))
                place = self._state.get("text.guild_text", c.guild_id)
                if place is not None:  # the server is judged again with its new layout
                    signals += self._guild(c.guild_id, place)
        return signals

    def _guild(self, guild_id: str, text: str) -> list[Signal]:
        self._state.put("text.guild_text", guild_id, text)
        analysis = self.analyzer.analyze(text)
        layout = self._profile(guild_id).layout
        context = frozenset(f"layout.{x}" for x in layout)
        hits = self.analyzer.rules(analysis, TargetKind.GUILD, context)
        self._state.put("text.guild", guild_id, _Place(
            frozenset(analysis.features), frozenset(h.rule.category for h in hits)))
        self._context_cache.clear()
        return self._signals(analysis, hits, Target(TargetKind.GUILD, guild_id),
                             {"guild_id": guild_id}, "server name or description")

    # -- context ------------------------------------------------------------------------

    def _guild_context(self, guild_id: str) -> frozenset[str]:
        place: _Place = self._state.get("text.guild", guild_id) or _Place()
        profile = self._profile(guild_id)
        return (place.features | {f"suspect.{c.value}" for c in place.suspect}
                | {f"layout.{x}" for x in profile.layout} | profile.flags)

    def _message_context(self, channel_id: str, guild_id: str | None) -> frozenset[str]:
        cached = self._context_cache.get(channel_id)
        if cached is not None:
            return cached
        channel: _Place = self._state.get("text.channel", channel_id) or _Place()
        context = channel.features | {f"suspect.{c.value}" for c in channel.suspect}
        if guild_id is not None:
            context |= self._guild_context(guild_id)
        self._context_cache[channel_id] = context
        return context

    def _profile(self, guild_id: str) -> _GuildProfile:
        profile: _GuildProfile | None = self._state.get("text.profile", guild_id)
        return profile or _GuildProfile()

    def _put_profile(self, guild_id: str, profile: _GuildProfile) -> None:
        self._state.put("text.profile", guild_id, profile)
        self._context_cache.clear()

    def _count_strong(self, guild_id: str, hits: list[RuleHit]) -> None:
        """Count the message if its rules, combined as the policy combines them, are strong."""
        by_category: dict[Category, list[float]] = {}
        for h in hits:
            by_category.setdefault(h.rule.category, []).append(h.rule.weight)
        strong = {c for c, weights in by_category.items() if combine(weights) >= STRONG}
        if not strong:
            return
        profile = self._profile(guild_id)
        counts = dict(profile.strong)
        for category in strong:
            counts[category] = counts.get(category, 0) + 1
        flags = frozenset(f"profile.{c.value}" for c, n in counts.items()
                          if n >= PROFILE_MIN_SIGNALS)
        new = replace(profile, strong=tuple(sorted(counts.items())), flags=flags)
        if flags != profile.flags:
            self._put_profile(guild_id, new)
        else:
            self._state.put("text.profile", guild_id, new)

    # -- signals ------------------------------------------------------------------------

    def _signals(self, analysis: Analysis, hits: list[RuleHit], target: Target,
                 context: dict[str, str | None], where: str) -> list[Signal]:
        if not hits:
            return []
        text = analysis.text
        excerpt = text if len(text) <= _EXCERPT else text[: _EXCERPT - 1] + "…"
        signals = []
        for hit in hits:
            spans = tuple(sp for h in hit.hits
                          if (sp := analysis.original_span(h))[1] <= len(excerpt))
            signals.append(Signal(
                detector=self.id, version=self.version, target=target,
                category=hit.rule.category, strength=hit.rule.weight,
                evidence=_evidence(hit, where), key=hit.rule.id, context=context,
                excerpt=excerpt, spans=spans,
            ))
        # Links are evidence weighed by the rules: they join a finding, never make one.
        for category in {h.rule.category for h in hits}:
            for link in analysis.links:
                signals.append(Signal(
                    detector=f"link.{link.kind}", version=self.analyzer.links.version,
                    target=target, category=category, strength=0.0,
                    evidence=f"link to a {link.kind.replace('filehost', 'file host')} "
                             f"({link.domain}{', obfuscated' if link.obfuscated else ''})",
                    key=link.url, context=context, excerpt=excerpt,
                ))
        return signals


def _evidence(hit: RuleHit, where: str) -> str:
    terms = " + ".join(f"'{h.text}'" for h in hit.hits)
    text = f"{hit.rule.describe}: matched {terms} in {where}"
    if hit.context:
        text += f", in context ({', '.join(hit.context)})"
    return f"{text} (rule {hit.rule.id})"
