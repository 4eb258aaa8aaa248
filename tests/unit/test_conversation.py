"""Conversations over time: ages from what people say and what the platform knows; grooming
and sextortion stages accumulating in DMs, weighed by who talks to whom; benign look-alikes
(peers, coaches, parents, prevention) stay quiet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from veilleur.detect.conversation.ages import (
    AgeRecord,
    answered,
    asks_age,
    claims_in,
    estimate,
)
from veilleur.detect.conversation.config import (
    ConversationPolicyError,
    load_conversation_policy,
    parse_conversation_policy,
)
from veilleur.detect.text.fold import fold
from veilleur.engine import Engine
from veilleur.events import (
    AgeBand,
    Channel,
    ChannelCreated,
    ChannelKind,
    Message,
    MessagePosted,
    User,
    UserSeen,
)

POLICY = load_conversation_policy()
T = datetime(2026, 3, 1, 18, tzinfo=UTC)
DAY = 60 * 24


@pytest.mark.parametrize(("text", "age"), [
    ("j'ai 13 ans", 13), ("13 ans et toi ?", 13), ("moi j'ai 16 ans et toi", 16),
    ("jsuis en 4ème", 13), ("je suis en troisième", 14), ("bon en vrai j'ai 31 ans", 31),
    ("I'm 15", 15), ("i am 12 lol", 12), ("15 and you?", 15), ("I'm in 8th grade", 13),
    ("im a freshman", 14), ("tengo 12 años", 12), ("12 años y tú?", 12),
    ("estoy en 2º de la ESO", 13), ("estoy en segundo de la eso", 13),
    # school years said in passing or as a short reply, in each school system
    ("en 4e", 13), ("je passe en 5eme l'an prochain", 12), ("en secondaire 2", 13),
    ("7th grade and u?", 12), ("year 8", 13), ("en séptimo", 12), ("octavo básico", 13),
    ("voy en primero de secundaria", 12), ("3ro de secu", 14), ("primero medio", 14),
    # "me too" school years closed as one is, and "I'm in the 9th grade"
    ("moi en 3e", 14), ("pareil, 3e !", 14), ("i'm in the 9th grade", 14),
    ("14 también", 14), ("18 también", 18),
])
def test_stated_ages_and_grades_are_read_in_three_languages(text: str, age: int) -> None:
    claims = claims_in(fold(text).plain, POLICY, T, "m1")
    assert [c.age for c in claims][:1] == [age], claims


@pytest.mark.parametrize("text", [
    "I'm 15 minutes away", "j'ai 2 chats", "ma soeur a 13 ans", "tengo 12 euros",
    "the 8th grade teacher", "rdv à 14h", "in 7th place lol", "5th avenue",
    "j'ai 4 ans de foot", "en segundo",
    # an adult remembering school, a parent, a rank, a gear, a floor, a tournament
    "we were in 8th grade when we met", "im in 5th place lol", "we're in 8th grade math",
    "we're in the 5th week of training", "im in 9th gear all day", "moi 4e au tournoi",
    "moi 3e du classement", "pareil 5e étage", "moi, 6e fois que je le vois",
    "moi en 3e position", "moi en 3e année de fac", "je suis en 3e année de thèse",
    "en 4e vitesse", "1 sec", "gimme 2 sec", "sec 2 pls", "j'ai 15 ans d'expérience",
    "j'ai 14 ans d'écart avec ma femme", "bientôt 12 ans qu'on est ensemble",
    "i'm 13 years sober", "i'm 10 seconds away", "im 12 wks pregnant", "i'm 14 euros short",
    "i'm 10.5 miles out", "tengo 12 hijos", "tengo 15 años de experiencia", "same 15 bucks",
    "me too 12 euros", "pareil 12 balles",
])
def test_other_numbers_are_not_ages(text: str) -> None:
    assert claims_in(fold(text).plain, POLICY, T, "m1") == []


def test_estimates_keep_evidence_and_catch_contradictions() -> None:
    rec = AgeRecord()
    for i, text in enumerate(("moi j'ai 16 ans", "en vrai j'ai 31 ans")):
        for c in claims_in(fold(text).plain, POLICY, T + timedelta(days=i), f"m{i}"):
            rec.add(c)
    est = estimate(rec, POLICY)
    assert est.minor is False and est.age == 31
    assert est.contradiction is not None and "16" in est.contradiction
    # As known at a time: only the claims made by then (a record kept from an earlier scan
    # of the same messages holds later ones); none yet is an unknown age, not an error.
    assert estimate(rec, POLICY, T).contradiction is None
    assert estimate(rec, POLICY, T).age == 16
    assert estimate(rec, POLICY, T - timedelta(days=1)).minor is None
    band = estimate(AgeRecord(band=AgeBand.AGE_13_15), POLICY)
    assert band.minor is True and band.confidence == pytest.approx(0.95)


@pytest.mark.parametrize(("question", "asks"), [
    ("So you are 13 or 14?", True), ("how old are u btw", True), ("what grade r u", True),
    ("t'as 13 ou 14 ans ?", True), ("c quoi ton âge", True), ("t'es en quelle classe ?", True),
    ("¿Cuántos años cumples?", True), ("tienes 12 o 13?", True), ("r u 18?", True),
    ("are you coming at 5?", False), ("on se voit à 14h ?", False), ("you have 2 lives?", False),
    ("tienes 5 minutos?", False),
    # someone else's age, or something else asked
    ("quel âge a ton fils ?", False), ("¿cuántos años tiene tu hija?", False),
    ("à quel âge t'as eu ton premier tel ?", False), ("what year u born?", False),
    ("what grade are you teaching", False), ("t'es en quelle année de fac ?", False),
    ("cuántos años tienes de experiencia", False), ("what's your age limit", False),
    ("how old are you gonna be next year", False), ("tu as quel age ton fils", False),
])
def test_age_questions_beyond_the_term_lists(question: str, asks: bool) -> None:
    assert asks_age(fold(question).plain, POLICY) is asks


@pytest.mark.parametrize(("reply", "age"), [
    ("13", 13), ("14 et toi", 14), ("12 but i'll be 13 in may", 12), ("14, en 3e. et toi ?", 14),
    ("15 si, como tu", 15), ("7th lol", 12), ("year 8", 13), ("en 4e", 13), ("cinquième", 12),
    ("on se voit à 14h demain avec les autres", None), ("5 min", None), ("20€ max", None),
    ("30 dollars", None), ("2nd place", None), ("12 years older than you lol", None),
    ("06", None), ("10th of may", None), ("8th grade was ages ago", None), ("12 years ago", None),
    # a guess denied or echoed is not an answer
    ("12? lol no", None), ("13, nope", None), ("12 mais non", None), ("13? no i'm 25", None),
    ("13 " + "mais bon c'est pas la question, on parlait d'autre chose avant " * 2, None),
])
def test_a_reply_to_an_age_question_gives_an_age(reply: str, age: int | None) -> None:
    got = answered(fold(reply).plain, POLICY, T, "m1")
    assert [c.age for c in got][:1] == ([age] if age is not None else [])


def test_age_rules_are_validated() -> None:
    base = {"version": "v", "risk": {"half_life_days": 1, "account_threshold": 0.7,
                                     "max_group": 6, "per_stage_events": 4},
            "relationship": {k: 1 for k in ("adult_to_minor", "unknown_to_minor",
                                            "adult_to_unknown", "unknown_to_unknown",
                                            "minor_to_minor", "to_adult")},
            "ages": {"adult": 18, "platform_confidence": 0.9, "claim_confidence": 0.6,
                     "grade_confidence": 0.5, "deception_weight": 0.5},
            "stages": {"s": {"category": "grooming", "weight": 0.5, "sets": ["secrecy"]}},
            "suppress": {"sets": []}}
    parse_conversation_policy(base)
    for bad, match in (({"probes": [{"regex": "("}]}, r"probes #1: bad regex"),
                       ({"probes": ["how old"]}, r"probes #1: must be a table"),
                       ({"answers": [{"regex": "x"}]}, r"answers #1: the regex needs"),
                       ({"answers": [{"regex": "(?P<age>x)", "offset": "5"}]},
                        r"answers #1.offset"),
                       ({"answer_words": 0}, r"answer_words"),
                       ({"probes": [{"regex": "(?:x)?"}]}, r"probes #1: the regex matches an"),
                       ({"answers": [{"regex": "(?P<age>x)", "ofset": 5}]},
                        r"answers #1: unknown key"),
                       ({"probe": [{"regex": "x"}]}, r"top level: unknown key")):
        with pytest.raises(ConversationPolicyError, match=match):
            parse_conversation_policy({**base, **bad})
    stage = base["stages"]["s"]
    # A typo inside a table switches a part off without a word: refused, named.
    for bad, match in (
            ({"risk": {**base["risk"], "half_life": 30}}, r"risk: unknown key.*half_life"),
            ({"ages": {**base["ages"], "adults": 21}}, r"ages: unknown key"),
            ({"relationship": {**base["relationship"], "adult_to_child": 1}},
             r"relationship: unknown key"),
            ({"stages": {"s": {**stage, "urgnet": True}}}, r"stages.s: unknown key"),
            ({"stages": {"s": {**stage, "urgent": "false"}}}, r"stages.s.urgent: must be true"),
            ({"stages": {"s": {**stage, "sets": "secrecy"}}}, r"stages.s.sets: must list"),
            ({"suppress": {"sets": "prevention"}}, r"suppress.sets: must list"),
            ({"suppress": {"set": ["prevention"]}}, r"suppress: unknown key"),
            ({"risk": {**base["risk"], "max_group": 6.5}}, r"risk.max_group: must be a whole"),
            ({"ages": {**base["ages"], "adult": 17.9}}, r"ages.adult: must be a whole"),
            ({"stages": {"s": {**stage, "meaning": 1}}}, r"stages.s.meaning: must be true"),
            ({"stages": {"s": {**stage, "sets": ["secrecy", ""]}}}, r"stages.s.sets: must"),
            ({"probes": [{"regex": r"\b(?:age|)"}]}, r"probes #1: the regex matches an"),
            ({"probes": [{"regex": "(?=.)"}]}, r"probes #1: the regex matches an")):
        with pytest.raises(ConversationPolicyError, match=match):
            parse_conversation_policy({**base, **bad})
    assert parse_conversation_policy(
        {**base, "stages": {"s": {**stage, "urgent": True}}}).stages[0].urgent


def test_stage_and_suppression_sets_must_exist_in_the_language_packs() -> None:
    """A misspelt set never matches: the stage would be off and nobody would know."""
    from dataclasses import replace

    from veilleur.detect.base import POLICY_DIR
    from veilleur.detect.conversation.config import Stage
    from veilleur.detect.conversation.detector import ConversationDetector
    from veilleur.detect.text.analyzer import TextAnalyzer
    from veilleur.taxonomy import Category

    analyzer = TextAnalyzer.load(POLICY_DIR)
    ConversationDetector(analyzer, POLICY)  # the shipped policy names only real sets
    typo = replace(POLICY, stages=(*POLICY.stages, Stage(
        "x", Category.GROOMING, 0.5, frozenset({"secrecyy"}))))
    with pytest.raises(ConversationPolicyError, match=r"stages.x.sets: no such term set.*secrecyy"):
        ConversationDetector(analyzer, typo)
    with pytest.raises(ConversationPolicyError, match=r"suppress.sets: no such term set"):
        ConversationDetector(analyzer, replace(POLICY, suppress=frozenset({"prevent"})))


def conversation(lines: list[tuple[str, str, float]], users: dict[str, AgeBand | None]
                 ) -> dict[tuple[str, str, str], tuple[float, str]]:
    engine = Engine.build()
    found: dict[tuple[str, str, str], tuple[float, str]] = {}
    events: list[object] = [UserSeen(ts=T, user=User(u, u, age_band=b))
                            for u, b in users.items()]
    events.append(ChannelCreated(ts=T, channel=Channel("dm1", None, "dm", kind=ChannelKind.DM)))
    for i, (who, text, minutes) in enumerate(lines):
        others = tuple(u for u in users if u != who)
        events.append(MessagePosted(ts=T + timedelta(minutes=minutes), message=Message(
            f"m{i}", "dm1", None, who, text, recipient_ids=others)))
    for ev in events:
        for f in engine.process(ev):  # type: ignore[arg-type]
            found[f.target.kind.value, f.target.id, f.category.value] = (f.score, f.evidence)
    return found


GROOMING = [
    ("man", "salut ! t'es trop mignonne sur ta photo de profil", 0),
    ("man", "moi j'ai 16 ans et toi ?", 5), ("kid", "j'ai 13 ans", 6),
    ("man", "tu es trop mature pour ton âge", DAY),
    ("man", "garde ça secret, dis rien à tes parents", 2 * DAY),
    ("man", "bon en vrai j'ai 31 ans, ça te dérange ?", 3 * DAY),
    ("man", "tu portes quoi comme culotte ?", 4 * DAY),
    ("man", "envoie moi une photo, juste pour moi", 4 * DAY + 5),
    ("man", "on se voit samedi ? je viens te chercher après les cours", 5 * DAY)]


def test_the_groomer_is_flagged_with_his_timeline_and_lies() -> None:
    found = conversation(GROOMING, {"man": None, "kid": None})
    score, evidence = found["user", "man", "grooming"]
    assert score >= 0.7
    assert "claimed 16" in evidence and "31" in evidence and "minor 13" in evidence
    assert "meeting" in evidence and "timeline" in evidence
    flagged = {k[1] for k in found if k[0] == "message"}
    assert {"m4", "m6", "m7", "m8"} <= flagged  # the messages that carried it
    assert ("user", "kid", "grooming") not in found


def test_a_meeting_names_itself_so_casework_puts_the_child_first() -> None:
    from veilleur.cases.casework import Casework

    cw = Casework(Engine.build())
    cw.handle(ChannelCreated(ts=T, channel=Channel("dm1", None, "dm", kind=ChannelKind.DM)))
    for i, (who, text, minutes) in enumerate(GROOMING):
        other = "kid" if who == "man" else "man"
        cw.handle(MessagePosted(ts=T + timedelta(minutes=minutes), message=Message(
            f"m{i}", "dm1", None, who, text, recipient_ids=(other,))))
    (case,) = [c for c in cw.cases.values() if any(t.id == "man" for t in c.targets)]
    risk = next(f for f in case.factors if f.name == "risk_now")
    assert risk.value == 1.0 and "meeting" in risk.why
    assert cw.queue(T + timedelta(days=6))[0].id == case.id


def test_sextortion_of_a_minor_is_flagged_as_sextortion() -> None:
    lines = [("x", "j'ai tes photos, tu te souviens ?", 0),
             ("x", "si tu bloques j'envoie tout à tes parents", 10),
             ("x", "je sais où tu habites", 12)]
    found = conversation(lines, {"x": AgeBand.ADULT, "girl": AgeBand.AGE_13_15})
    score, evidence = found["user", "x", "sextortion"]
    assert score >= 0.7 and "threat" in evidence and "doxxing" in evidence


def test_english_and_spanish_groomers_are_flagged() -> None:
    en = [("a", "how old are you?", 0), ("b", "I'm in 8th grade", 1),
          ("a", "you're so mature for your age", 30), ("a", "this is our secret ok", 40),
          ("a", "send me a pic, just for me", 50)]
    es = [("a", "cuantos años tienes?", 0), ("b", "tengo 12 años", 1),
          ("a", "eres muy madura para tu edad", 30), ("a", "es nuestro secreto", 40),
          ("a", "mándame una foto", 50)]
    for lines in (en, es):
        found = conversation(lines, {"a": None, "b": None})
        assert found.get(("user", "a", "grooming"), (0, ""))[0] >= 0.7, found


def test_the_eighth_rounds_moves_add_up_where_the_child_is_known() -> None:
    """A move to another app, a camera, a gift for a picture of the child: no child named in
    these lines, so no message rule; the conversation knows the child's age and reads them as
    stages on the adult's account."""
    lines = [("a", "t'as quel âge ?", 0), ("b", "13 ans et toi", 1),
             ("a", "viens sur telegram, c'est plus privé", 60),
             ("a", "allume ta cam ce soir, porte fermée", 24 * 60),
             ("a", "je te paie un skin pour une photo de toi", 2 * 24 * 60)]
    found = conversation(lines, {"a": None, "b": None})
    score, evidence = found["user", "a", "grooming"]
    assert score >= 0.7 and "platform move" in evidence and "image request" in evidence
    assert ("message", "m4", "grooming") in found  # a gift for a picture of the child
    assert ("user", "b", "grooming") not in found
    # The same words between two adults stay theirs.
    adults = conversation(lines[2:], {"a": AgeBand.ADULT, "b": AgeBand.ADULT})
    assert not [k for k in adults if k[0] == "user"], adults


@pytest.mark.parametrize(("lines", "users"), [
    ([("p1", "t'as quel âge ?", 0), ("p2", "14 et toi", 1), ("p1", "pareil 14 ! tu es en "
      "quelle classe ?", 2), ("p2", "en 3e", 3), ("p1", "envoie moi une photo de ton chat", 4),
      ("p2", "garde ça secret mais j'aime bien théo", 5)],
     {"p1": AgeBand.AGE_13_15, "p2": AgeBand.AGE_13_15}),
    ([("coach", "on se retrouve au stade samedi à 10h pour le match", 0),
      ("coach", "n'oublie pas tes crampons et ta gourde", 1), ("kid", "ok coach !", 2),
      ("coach", "tes parents viennent te chercher après ?", 3)],
     {"coach": AgeBand.ADULT, "kid": AgeBand.AGE_13_15}),
    ([("mum", "garde ça secret pour la surprise de papa", 0), ("kid", "promis", 1),
      ("mum", "je viens te chercher à la sortie de l'école", 60)],
     {"mum": AgeBand.ADULT, "kid": AgeBand.UNDER_13}),
    ([("helper", "ne partage jamais tes photos, et si quelqu'un te menace, signale-le au "
      "3018", 0), ("kid", "merci", 1)],
     {"helper": AgeBand.ADULT, "kid": AgeBand.AGE_13_15}),
])
def test_benign_look_alikes_stay_quiet(lines: list[tuple[str, str, float]],
                                       users: dict[str, AgeBand | None]) -> None:
    found = conversation(lines, users)
    assert not [k for k in found if k[0] == "user"], found


def _dm(lines: list[tuple[str, str, float]], people: tuple[str, ...] = ("man", "kid")
        ) -> Engine:
    engine = Engine.build()
    engine.process(ChannelCreated(ts=T, channel=Channel("dm1", None, "dm",
                                                        kind=ChannelKind.DM)))
    for i, (who, text, minutes) in enumerate(lines):
        engine.process(MessagePosted(ts=T + timedelta(minutes=minutes), message=Message(
            f"m{i}", "dm1", None, who, text,
            recipient_ids=tuple(p for p in people if p != who))))
    return engine


def _age(engine: Engine, who: str) -> int | None:
    det = next(d for d in engine.detectors if d.id == "conversation.risk")
    return det.age(who).age  # type: ignore[attr-defined,no-any-return]


def test_an_age_answered_to_a_question_is_the_repliers_only_right_after_it() -> None:
    asked = ("man", "so you're 12 or 13?", 0)
    assert _age(_dm([asked, ("kid", "12 but i'll be 13 in may", 1)]), "kid") == 12
    assert _age(_dm([asked, ("kid", "12 but i'll be 13 in may", 1)]), "man") is None
    # the asker's own next words close the question; so does a long silence
    assert _age(_dm([asked, ("man", "nvm how many kills", 1), ("kid", "12 lol", 2)]),
                "kid") is None
    assert _age(_dm([asked, ("kid", "12 lol", 3 * DAY)]), "kid") is None
    # in a group, who answers is not known
    group = _dm([asked, ("kid2", "12 lol", 1)], people=("man", "kid", "kid2"))
    assert _age(group, "kid2") is None


def test_ages_are_read_in_bounded_time_whatever_the_spaces() -> None:
    """Runs of spaces are collapsed before the age patterns read a text (patterns with
    optional spaces backtracked for minutes on "moi" + 100,000 spaces + "1")."""
    for text in ("moi" + " " * 20_000 + "1", "i" + " " * 20_000 + "x"):
        assert claims_in(text, POLICY, T, "m") == []
        assert answered(text, POLICY, T, "m") == []
        assert asks_age(text, POLICY) is False


def test_a_number_said_before_the_question_is_not_its_answer_when_read_again() -> None:
    engine = Engine.build()
    det = next(d for d in engine.detectors if d.id == "conversation.risk")
    events = [ChannelCreated(ts=T, channel=Channel("dm1", None, "dm", kind=ChannelKind.DM)),
              *(MessagePosted(ts=T + timedelta(minutes=i), message=Message(
                  f"m{i}", "dm1", None, who, text, recipient_ids=("b" if who == "a" else "a",)))
                for i, (who, text) in enumerate((("a", "12 lol"), ("b", "how old are you"))))]
    for _ in range(2):  # a scan, then the same messages read again into the same memory
        for ev in events:
            engine.process(ev)
        assert det.age("a").minor is None  # type: ignore[attr-defined]
    # ... while said after it, it is
    later = MessagePosted(ts=T + timedelta(minutes=5), message=Message(
        "m9", "dm1", None, "a", "12 lol", recipient_ids=("b",)))
    engine.process(events[2])  # the question again
    engine.process(later)
    assert det.age("a").age == 12  # type: ignore[attr-defined]


def test_a_question_asked_is_kept_with_its_time_and_old_values_read_without_it() -> None:
    import json

    from veilleur.detect.conversation.risk import (
        Conversation,
        conversation_in,
        conversation_out,
    )
    conv = Conversation({"a", "b"}, asked_age="b", asked_at=T)
    back = conversation_in(json.loads(json.dumps(conversation_out(conv))))
    assert (back.asked_age, back.asked_at) == ("b", T)
    old = conversation_out(conv)
    del old["asked_at"]
    assert conversation_in(old).asked_at is None
