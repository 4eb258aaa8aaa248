from __future__ import annotations

import pytest

from veilleur.detect.base import POLICY_DIR
from veilleur.detect.text.lexicon import LexiconError, expand, load_lexicon, parse_lexicon
from veilleur.detect.text.normalize import fold
from veilleur.taxonomy import Category, TargetKind

LEX = load_lexicon(POLICY_DIR / "lexicons" / "starter.toml")


def rules(text: str, target: TargetKind = TargetKind.MESSAGE) -> set[str]:
    return {h.rule.id for h in LEX.match(text, target)}


def test_fold_handles_case_accents_lookalikes_invisibles_and_separators() -> None:
    assert fold("ADØS") == " ados "
    assert fold("Ｎｕｄｅｓ") == " nudes "  # fullwidth
    assert fold("nu\u200bdes") == " nudes "  # zero-width space (Cf)
    assert fold("teaser-mineure") == " teaser mineure "
    assert fold("Élève_à  l'école") == " eleve a l ecole "


@pytest.mark.parametrize(("text", "rule"), [
    ("ADØS NXDES", "csam.sexual_minor"),
    ("Pack VIP +400 vidéos -12 ans, prix 20€ paypal", "csam.paid_minor"),
    ("caldo de pollo dispo", "csam.code_word"),
    ("garde ça secret, envoie-moi une photo", "grooming.secrecy_image"),
    ("how old are you? send me a pic", "grooming.age_image"),
    ("je vais envoyer à tes parents tes photos", "sextortion.threat_images"),
    ("un nitro pour une nude", "sextortion.gift_for_nude"),
    ("trib ma cousine", "ncii.tribute_relation"),
    ("cuántos años tienes? mándame una foto", "grooming.age_image"),
])
def test_bad_text_fires(text: str, rule: str) -> None:
    assert rule in rules(text)


@pytest.mark.parametrize("text", [
    "mon fils est en CP",
    "ne partagez jamais de nudes, vous êtes mineurs, signalez",
    "saphir et diamants, prix sympa",
    "texture pack sur mega.nz",
    "nudes",  # one word alone is not a signal
    "ados",
    "12 ans",
])
def test_benign_text_is_quiet(text: str) -> None:
    assert rules(text) == set()


def test_word_boundaries() -> None:
    assert rules("hotel pour adoptions") == set()  # 'hot' in 'hotel', 'ado' in 'adoptions'


def test_rules_respect_targets() -> None:
    text = "garde ça secret, envoie-moi une photo"
    assert "grooming.secrecy_image" in rules(text, TargetKind.MESSAGE)
    assert rules(text, TargetKind.GUILD) == set()
    assert "csam.sexual_minor" in rules("nudes ados", TargetKind.GUILD)


def test_range_expansion() -> None:
    assert expand("{12..14} ans") == ["12 ans", "13 ans", "14 ans"]
    assert expand("plain") == ["plain"]
    with pytest.raises(LexiconError):
        expand("{9..1} ans")


@pytest.mark.parametrize(("data", "message"), [
    ({}, "missing 'version'"),
    ({"version": "1", "sets": {"a": {"terms": "x"}}}, "needs 'terms'"),
    ({"version": "1", "sets": {"a": {"terms": ["x"]}},
      "rules": [{"id": "r", "category": "spam", "all_of": ["a"], "weight": 0.5}]},
     "unknown category"),
    ({"version": "1", "sets": {"a": {"terms": ["x"]}},
      "rules": [{"id": "r", "category": "csam", "all_of": ["b"], "weight": 0.5}]},
     "unknown set 'b'"),
    ({"version": "1", "sets": {"a": {"terms": ["x"]}},
      "rules": [{"id": "r", "category": "csam", "all_of": ["a"], "weight": 2}]},
     "'weight' must be in (0, 1]"),
    ({"version": "1", "sets": {"a": {"terms": ["x"]}},
      "rules": [{"id": "r", "category": "csam", "all_of": ["a"], "weight": 1},
                {"id": "r", "category": "csam", "all_of": ["a"], "weight": 1}]},
     "unique"),
])
def test_invalid_lexicons_are_rejected_with_a_reason(data: dict, message: str) -> None:
    with pytest.raises(LexiconError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_lexicon(data)


def test_starter_lexicon_covers_every_category() -> None:
    assert {r.category for r in LEX.rules} == set(Category)
