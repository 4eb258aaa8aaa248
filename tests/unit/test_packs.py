from __future__ import annotations

from pathlib import Path

import pytest

from veilleur.detect.base import POLICY_DIR
from veilleur.detect.text.packs import PackError, expand, load_packs
from veilleur.taxonomy import Category

LANG = 'language = "xx"\nversion = "xx-1"\n[terms]\nminor = ["kid"]\nsexual = ["lewd"]\n'
RULE = ('version = "r1"\n[[rules]]\nid = "r"\ncategory = "csam"\nweight = 0.8\n'
        'all_of = ["sexual", "minor"]\n')


def pack(tmp_path: Path, lang: str = LANG, rules: str = RULE) -> Path:
    (tmp_path / "xx.toml").write_text(lang)
    (tmp_path / "rules.toml").write_text(rules)
    return tmp_path


def test_shipped_packs_load_and_cover_every_category() -> None:
    p = load_packs(POLICY_DIR / "packs")
    assert set(p.languages) == {"fr", "en", "es"}
    assert {r.category for r in p.rules} == set(Category)
    assert p.version.startswith("rules-")
    assert p.ages.units and p.ages.prefixes


def test_minimal_pack_and_plural_variants(tmp_path: Path) -> None:
    p = load_packs(pack(tmp_path))
    assert {t.text for t in p.terms} == {"kid", "kids", "lewd", "lewds"}


def test_range_expansion() -> None:
    assert expand("{12..14} ans") == ["12 ans", "13 ans", "14 ans"]
    with pytest.raises(PackError):
        expand("{9..1} ans")


@pytest.mark.parametrize(("lang", "rules", "message"), [
    (LANG, RULE.replace('"csam"', '"spam"'), "unknown category 'spam'"),
    (LANG, RULE.replace('"minor"]', '"nope"]'), "unknown set 'nope'"),
    (LANG, RULE.replace("weight = 0.8", "weight = 3"), "'weight' must be in (0, 1]"),
    (LANG, RULE + 'context_any_of = ["suspect.spam"]\n', "unknown flag 'suspect.spam'"),
    (LANG, RULE + 'context_any_of = ["layout.nope"]\n', "unknown set 'layout.nope'"),
    (LANG, RULE + 'context_none_of = ["ordinary.nope"]\n', "unknown set 'ordinary.nope'"),
    (LANG, RULE.replace("weight = 0.8", "weight = -1.5"), "or in [-1, 0) for a framing"),
    (LANG, RULE.replace("weight = 0.8", "weight = 0"), "'weight' must be in (0, 1]"),
    (LANG, RULE.replace("weight = 0.8", "weight = true"), "'weight' must be in (0, 1]"),
    (LANG, RULE.replace('"csam"', '["csam", "ncii"]'), "unknown category"),
    (LANG, RULE.replace('"csam"', '["csam", "spam"]').replace("0.8", "-0.5"),
     "unknown category"),
    (LANG, RULE + 'colour = "red"\n', "unknown keys ['colour']"),
    (LANG, RULE.replace('all_of = ["sexual", "minor"]\n', ""), "needs 'all_of' or 'any_of'"),
    (LANG, RULE + RULE.split("\n", 1)[1], "rule ids must be unique"),
    (LANG.replace('version = "xx-1"\n', ""), RULE, "needs 'language' and 'version'"),
    (LANG + '[ages]\ncolour = ["x"]\n', RULE, "ages: unknown key 'colour'"),
    (LANG + '[patterns]\nminor = ["(unclosed"]\n', RULE, "missing ), unterminated"),
    (LANG.replace('["kid"]', '["!!"]'), RULE, "has no letters or digits"),
    (LANG + '[patterns.age]\nwhen = "nope"\nregex = ["[0-9]+"]\n', RULE,
     "patterns.age.when: no term set 'nope'"),
    (LANG + '[patterns.age]\nwhen = "minor"\nregexes = ["[0-9]+"]\n', RULE,
     "unknown key(s) ['regexes']"),
    (LANG + '[patterns.age]\nwhen = "minor"\n', RULE, "'regex' (a list of expressions)"),
])
def test_invalid_packs_name_the_file_and_the_problem(tmp_path: Path, lang: str, rules: str,
                                                    message: str) -> None:
    with pytest.raises(PackError) as err:
        load_packs(pack(tmp_path, lang, rules))
    assert message in str(err.value)
    assert str(tmp_path) in str(err.value)


def test_generic_patterns_are_read_near_numbers(tmp_path: Path) -> None:
    from veilleur.detect.text.analyzer import TextAnalyzer
    from veilleur.detect.text.links import LinkExtractor

    lang = LANG + '[patterns]\nprice = [\'\\b[0-9]+\\s*(?:eur|euros)\\b\']\n'
    rules = RULE + ('[[rules]]\nid = "p"\ncategory = "csam"\nweight = 0.5\n'
                    'all_of = ["sexual", "price"]\n')
    analyzer = TextAnalyzer(load_packs(pack(tmp_path, lang, rules)), LinkExtractor({}))
    hit = analyzer.analyze("lewd pack, 20€").features["price"]
    assert hit.text == "20 eur"
    assert "price" not in analyzer.analyze("lewd pack, twenty euros").features


def test_a_framing_lowers_the_rules_of_its_categories(tmp_path: Path) -> None:
    """A negative weight makes no signal: it multiplies the weights of its categories' rules
    that fire on the same text by 1 + weight (-1 vetoes them)."""
    from veilleur.detect.text.analyzer import TextAnalyzer
    from veilleur.detect.text.links import LinkExtractor
    from veilleur.taxonomy import TargetKind

    lang = LANG + 'news = ["police said"]\nplea = ["help me"]\n'
    rules = RULE + ('[[rules]]\nid = "f"\ncategory = ["csam", "ncii"]\nweight = -0.5\n'
                    'any_of = ["news"]\n[[rules]]\nid = "v"\ncategory = ["csam"]\n'
                    'weight = -1\nany_of = ["plea"]\n')
    analyzer = TextAnalyzer(load_packs(pack(tmp_path, lang, rules)), LinkExtractor({}))

    def hits(text: str) -> list[tuple[str, float, tuple[str, ...]]]:
        found = analyzer.rules(analyzer.analyze(text), TargetKind.MESSAGE)
        return [(h.rule.id, h.strength, tuple(f.id for f in h.lowered_by)) for h in found]

    assert hits("lewd kid") == [("r", 0.8, ())]
    assert hits("lewd kid, police said") == [("r", 0.4, ("f",))]
    assert hits("lewd kid, help me") == []
    assert hits("police said") == []


def test_a_gated_pattern_is_tried_only_when_its_term_set_matched(tmp_path: Path) -> None:
    from veilleur.detect.text.analyzer import TextAnalyzer
    from veilleur.detect.text.links import LinkExtractor

    lang = LANG + ('[patterns.amount]\nwhen = "sexual"\n'
                   'regex = [\'\\b[0-9]+\\s*coins\\b\']\n')
    analyzer = TextAnalyzer(load_packs(pack(tmp_path, lang)), LinkExtractor({}))
    assert analyzer.analyze("lewd, 20 coins").features["amount"].text == "20 coins"
    assert "amount" not in analyzer.analyze("kid, 20 coins").features


def test_cp_as_a_quantity_or_postal_code_is_no_code_word() -> None:
    from veilleur.detect.text.analyzer import TextAnalyzer

    analyzer = TextAnalyzer.load(POLICY_DIR)

    def fired(text: str) -> set[str]:
        from veilleur.taxonomy import TargetKind

        return {h.rule.id for h in analyzer.rules(analyzer.analyze(text), TargetKind.MESSAGE)}

    for ordinary in ("me compré 2000 CP para el pack de operador",
                     "el envío a C.P. 41001 sale en 5,90€, te mando el link de pago"):
        assert "csam.cp_trade" not in fired(ordinary), ordinary
    for trade in ("selling 500 cp vids, dm me", "selling cp 10000 files dm me",
                  "pack cp 50e mp"):
        assert "csam.cp_trade" in fired(trade), trade
