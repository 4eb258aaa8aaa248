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
    (LANG, RULE + 'colour = "red"\n', "unknown keys ['colour']"),
    (LANG, RULE.replace('all_of = ["sexual", "minor"]\n', ""), "needs 'all_of' or 'any_of'"),
    (LANG, RULE + RULE.split("\n", 1)[1], "rule ids must be unique"),
    (LANG.replace('version = "xx-1"\n', ""), RULE, "needs 'language' and 'version'"),
    (LANG + '[ages]\ncolour = ["x"]\n', RULE, "ages: unknown key 'colour'"),
    (LANG + '[patterns]\nminor = ["(unclosed"]\n', RULE, "missing ), unterminated"),
    (LANG.replace('["kid"]', '["!!"]'), RULE, "has no letters or digits"),
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
