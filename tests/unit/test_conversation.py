"""Conversations over time: ages from what people say and what the platform knows; grooming
and sextortion stages accumulating in DMs, weighed by who talks to whom; benign look-alikes
(peers, coaches, parents, prevention) stay quiet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from veilleur.detect.conversation.ages import AgeRecord, answered_age, claims_in, estimate
from veilleur.detect.conversation.config import load_conversation_policy
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
])
def test_stated_ages_and_grades_are_read_in_three_languages(text: str, age: int) -> None:
    claims = claims_in(fold(text).plain, POLICY, T, "m1")
    assert [c.age for c in claims][:1] == [age], claims


@pytest.mark.parametrize("text", [
    "I'm 15 minutes away", "j'ai 2 chats", "ma soeur a 13 ans", "tengo 12 euros",
    "the 8th grade teacher", "rdv à 14h", "in 7th place lol", "5th avenue",
    "j'ai 4 ans de foot", "en segundo",
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
    assert answered_age("13") == 13 and answered_age("14 et toi") == 14
    assert answered_age("on se voit à 14h demain avec les autres") is None


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
