from __future__ import annotations

from pathlib import Path

import pytest

from veilleur.detect.base import POLICY_DIR
from veilleur.detect.text.analyzer import TextAnalyzer
from veilleur.detect.text.links import LinkExtractor
from veilleur.detect.text.packs import PackError, expand, load_packs
from veilleur.taxonomy import Category

LANG = 'language = "xx"\nversion = "xx-1"\n[terms]\nminor = ["kid"]\nsexual = ["lewd"]\n'
RULE = ('version = "r1"\n[[rules]]\nid = "r"\ncategory = "csam"\nweight = 0.8\n'
        'all_of = ["sexual", "minor"]\n')


def pack(tmp_path: Path, lang: str = LANG, rules: str = RULE) -> Path:
    (tmp_path / "xx.toml").write_text(lang)
    (tmp_path / "rules.toml").write_text(rules)
    return tmp_path


def analyzer_for(folder: Path) -> TextAnalyzer:
    """An analyzer of the packs in `folder`, without links."""
    return TextAnalyzer(load_packs(folder), LinkExtractor({}))


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


def test_alternatives_expand_to_every_combination_in_order() -> None:
    assert expand("{dis rien a|dis pas a} {ta mere|ton pere}") == [
        "dis rien a ta mere", "dis rien a ton pere", "dis pas a ta mere", "dis pas a ton pere"]
    assert expand("pack {12..13} {ans|yo}") == ["pack 12 ans", "pack 12 yo", "pack 13 ans",
                                               "pack 13 yo"]
    for bad in ("{a|} x", "a } b", "{a|b", "a {b} {c", "{x|y}}"):
        with pytest.raises(PackError, match="bad alternatives"):
            expand(bad)
    with pytest.raises(PackError, match="more than"):
        expand(" ".join(["{a|b|c|d|e|f|g|h|i|j}"] * 4))


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
    # "quoted" is no set: it stands alone in a framing's any_of, and never vetoes.
    (LANG, RULE.replace('all_of = ["sexual", "minor"]', 'any_of = ["quoted"]'),
     "'quoted' stands alone in a framing's any_of"),
    (LANG, RULE.replace('all_of = ["sexual", "minor"]', 'all_of = ["quoted"]')
     .replace("0.8", "-0.5"), "'quoted' stands alone"),
    (LANG, RULE.replace('all_of = ["sexual", "minor"]', 'any_of = ["quoted", "minor"]')
     .replace("0.8", "-0.5"), "'quoted' stands alone"),
    (LANG, RULE.replace('all_of = ["sexual", "minor"]',
                        'any_of = ["quoted"]\nnone_of = ["minor"]').replace("0.8", "-0.5"),
     "'quoted' stands alone"),
    (LANG, RULE.replace('all_of = ["sexual", "minor"]', 'any_of = ["quoted"]')
     .replace("0.8", "-1"), "with a weight in (-1, 0)"),
    (LANG + 'quoted = ["said"]\n', RULE, "set names ['quoted'] are reserved"),
    (LANG + 'link_any = ["www"]\n', RULE, "set names ['link_any'] are reserved"),
    (LANG.replace('version = "xx-1"\n', ""), RULE, "needs 'language' and 'version'"),
    (LANG + '[ages]\ncolour = ["x"]\n', RULE, "ages: unknown key 'colour'"),
    (LANG + '[patterns]\nminor = ["(unclosed"]\n', RULE, "missing ), unterminated"),
    (LANG.replace('["kid"]', '["!!"]'), RULE, "has no letters or digits"),
    (LANG + '[patterns.age]\nwhen = "nope"\nregex = ["[0-9]+"]\n', RULE,
     "patterns.age.when: no term set 'nope'"),
    (LANG + '[patterns.age]\nwhen = ["minor", "nope"]\nregex = ["[0-9]+"]\n', RULE,
     "patterns.age.when: no term set 'nope'"),
    (LANG + '[patterns.age]\nwhen = []\nregex = ["[0-9]+"]\n', RULE,
     "patterns.age.when: a term set's name, or a list of them"),
    (LANG + '[patterns.age]\nwhen = ["minor", 3]\nregex = ["[0-9]+"]\n', RULE,
     "patterns.age.when: a term set's name, or a list of them"),
    (LANG + '[patterns.age]\nwhen = "minor"\nregexes = ["[0-9]+"]\n', RULE,
     "unknown key(s) ['regexes']"),
    (LANG + '[patterns.age]\nwhen = "minor"\n', RULE, "'regex' (a list of expressions)"),
    (LANG + '[patterns.age]\nmax_number = 0\nregex = ["[0-9]+"]\n', RULE,
     "patterns.age.max_number: a whole number from 1"),
    (LANG + '[patterns.age]\nmax_number = "12"\nregex = ["[0-9]+"]\n', RULE,
     "patterns.age.max_number: a whole number from 1"),
    (LANG + '[patterns.age]\nregex = ["[0-9]+"]\n', RULE, "needs 'when' or 'max_number'"),
    (LANG, RULE + 'also_any_of = ["minor"]\n', "'also_any_of' adds to 'any_of'"),
    (LANG, RULE + 'any_of = ["minor"]\nalso_any_of = [["minor"], ["nope"]]\n',
     "also_any_of names unknown set 'nope'"),
    (LANG, RULE + 'any_of = ["minor"]\nalso_any_of = [["minor"], []]\n',
     "a group must name at least one set"),
    (LANG, RULE + 'any_of = ["minor"]\nalso_any_of = [["minor"], "sexual"]\n',
     "must be a list of strings"),
    (LANG, RULE.replace("0.8", "-0.5") + 'any_of = ["minor"]\nalso_any_of = ["minor"]\n',
     "a framing takes no 'also_any_of'"),
    # `between`: a framing of a subject and its verdict, two all_of sets.
    (LANG, RULE + "between = true\n", "'between' (true or false) is for a framing"),
    (LANG, RULE.replace("0.8", "-0.5").replace('["sexual", "minor"]', '["sexual"]')
     + "between = true\n", "'between' (true or false) is for a framing"),
    (LANG, RULE.replace("0.8", "-0.5") + 'between = "yes"\n', "'between' (true or false)"),
])
def test_invalid_packs_name_the_file_and_the_problem(tmp_path: Path, lang: str, rules: str,
                                                    message: str) -> None:
    with pytest.raises(PackError) as err:
        load_packs(pack(tmp_path, lang, rules))
    assert message in str(err.value)
    assert str(tmp_path) in str(err.value)


def test_generic_patterns_are_read_near_numbers(tmp_path: Path) -> None:
    lang = LANG + '[patterns]\nprice = [\'\\b[0-9]+\\s*(?:eur|euros)\\b\']\n'
    rules = RULE + ('[[rules]]\nid = "p"\ncategory = "csam"\nweight = 0.5\n'
                    'all_of = ["sexual", "price"]\n')
    analyzer = analyzer_for(pack(tmp_path, lang, rules))
    hit = analyzer.analyze("lewd pack, 20€").features["price"]
    assert hit.text == "20 eur"
    assert "price" not in analyzer.analyze("lewd pack, twenty euros").features


def test_a_framing_lowers_the_rules_of_its_categories(tmp_path: Path) -> None:
    """A negative weight makes no signal: it multiplies the weights of its categories' rules
    that fire on the same text by 1 + weight (-1 vetoes them)."""
    from veilleur.taxonomy import TargetKind

    lang = LANG + 'news = ["police said"]\nplea = ["help me"]\n'
    rules = RULE + ('[[rules]]\nid = "f"\ncategory = ["csam", "ncii"]\nweight = -0.5\n'
                    'any_of = ["news"]\n[[rules]]\nid = "v"\ncategory = ["csam"]\n'
                    'weight = -1\nany_of = ["plea"]\n')
    analyzer = analyzer_for(pack(tmp_path, lang, rules))

    def hits(text: str) -> list[tuple[str, float, tuple[str, ...]]]:
        found = analyzer.rules(analyzer.analyze(text), TargetKind.MESSAGE)
        return [(h.rule.id, h.strength, tuple(f.id for f in h.lowered_by)) for h in found]

    assert hits("lewd kid") == [("r", 0.8, ())]
    assert hits("lewd kid, police said") == [("r", 0.4, ("f",))]
    assert hits("lewd kid, help me") == []
    assert hits("police said") == []


def test_a_gated_pattern_is_tried_only_when_its_term_set_matched(tmp_path: Path) -> None:
    lang = LANG + ('[patterns.amount]\nwhen = "sexual"\n'
                   'regex = [\'\\b[0-9]+\\s*coins\\b\']\n')
    analyzer = analyzer_for(pack(tmp_path, lang))
    assert analyzer.analyze("lewd, 20 coins").features["amount"].text == "20 coins"
    assert "amount" not in analyzer.analyze("kid, 20 coins").features


def test_a_pattern_gated_on_several_term_sets_is_tried_beside_any_of_them(tmp_path: Path
                                                                          ) -> None:
    lang = LANG.replace('sexual = ["lewd"]', 'sexual = ["lewd"]\nother = ["shop"]') + (
        '[patterns.amount]\nwhen = ["sexual", "minor"]\n'
        'regex = [\'\\b[0-9]+\\s*coins\\b\']\n')
    analyzer = analyzer_for(pack(tmp_path, lang))
    assert analyzer.analyze("lewd, 20 coins").features["amount"].text == "20 coins"
    assert analyzer.analyze("kid, 20 coins").features["amount"].text == "20 coins"
    assert "amount" not in analyzer.analyze("shop, 20 coins").features


def test_a_pattern_with_max_number_is_tried_only_near_small_numbers(tmp_path: Path) -> None:
    """Patterns that share a leading lookbehind are combined under it; that changes nothing
    they find."""

    lang = LANG + ('[patterns.year]\nmax_number = 12\n'
                   'regex = [\'(?<![a-z0-9])year\\s?[0-9]+\', \'(?<![a-z0-9])[0-9]+th\\b\']\n')
    analyzer = analyzer_for(pack(tmp_path, lang))
    assert analyzer.analyze("she is in year 9").features["year"].text == "year 9"
    assert analyzer.analyze("the 8th, lol").features["year"].text == "8th"
    assert "year" not in analyzer.analyze("year 13 of the war").features
    assert "year" not in analyzer.analyze("my 20th birthday").features
    assert "year" not in analyzer.analyze("ayear 9").features


def test_the_same_pattern_with_another_max_number_is_kept(tmp_path: Path) -> None:
    """Two languages may write the same expression with different bounds: each is tried
    with its own (one is not dropped as a repeat of the other)."""

    pack(tmp_path, LANG + '[patterns.year]\nmax_number = 9\nregex = [\'year\\s?[0-9]+\']\n')
    other = LANG.replace('language = "xx"', 'language = "yy"').replace('"xx-1"', '"yy-1"')
    (tmp_path / "yy.toml").write_text(
        other + '[patterns.year]\nmax_number = 5\nregex = [\'year\\s?[0-9]+\']\n')
    analyzer = analyzer_for(tmp_path)
    assert analyzer.analyze("in year 7").features["year"].text == "year 7"
    assert "year" not in analyzer.analyze("in year 11").features


def test_a_lookbehind_is_not_hoisted_over_a_patterns_own_alternatives(tmp_path: Path) -> None:
    """`(?<!x)a|b`: the lookbehind guards `a` only; combined with another pattern under a
    shared lookbehind, `b` would lose matches it has alone."""
    lang = LANG + ('[patterns.year]\nmax_number = 12\n'
                   'regex = [\'(?<![a-z0-9])grade\\s?[0-9]|gr[0-9]\', '
                   '\'(?<![a-z0-9])yr[0-9]\']\n')
    analyzer = analyzer_for(pack(tmp_path, lang))
    assert analyzer.analyze("xgr7").features["year"].text == "gr7"
    assert analyzer.analyze("in yr7").features["year"].text == "yr7"
    assert "year" not in analyzer.analyze("xyr7").features


def test_cp_as_a_quantity_or_postal_code_is_no_code_word() -> None:
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


def test_a_quoted_framing_lowers_what_only_the_quotes_say(tmp_path: Path) -> None:
    from veilleur.taxonomy import TargetKind

    lang = LANG + 'trade = ["who wants"]\n'
    rules = RULE + ('[[rules]]\nid = "q"\ncategory = ["csam"]\nweight = -0.75\n'
                    'any_of = ["quoted"]\n')
    analyzer = analyzer_for(pack(tmp_path, lang, rules))

    def weights(text: str, context: frozenset[str] = frozenset()
                ) -> list[tuple[float, tuple[str, ...]]]:
        return [(h.strength, tuple(f.id for f in h.lowered_by))
                for h in analyzer.rules(analyzer.analyze(text), TargetKind.MESSAGE, context)]

    assert weights("lewd kid pics here") == [(0.8, ())]
    assert weights("who keeps posting 'lewd kid pics' here, so gross") == [(0.2, ("q",))]
    assert weights("who keeps posting « lewd kid » here, so gross") == [(0.2, ("q",))]
    assert weights("> lewd kid pics\nwho keeps posting this here, so gross") == [(0.2, ("q",))]
    # The writer says it too, outside the quotes: the hit stands.
    assert weights("who keeps posting 'lewd kid' here, lewd kid stuff again") == [(0.8, ())]
    # Offer words of the writer's own: a title in quotes, not a quote.
    assert weights("'lewd kid pics' here, who wants some") == [(0.8, ())]
    # Too few words of one's own (four, and half as many as quoted): the line is the message.
    assert weights("'lewd kid pics' ok so gross") == [(0.8, ())]
    assert weights("'lewd kid pics' ok so very gross") == [(0.2, ("q",))]
    assert weights("'lewd kid pics tonight in the usual place for all of you' ok so very "
                   "gross") == [(0.8, ())]
    # Apostrophes inside words, and elisions, are no quotes.
    assert weights("it's a lewd kid's thing we're doing") == [(0.8, ())]
    assert weights("got 'em lewd kid pics, nothin' but that here") == [(0.8, ())]
    # A hit that needed the place's context stands (sellers quote in their own servers).
    ctx_rules = RULE.replace('all_of = ["sexual", "minor"]',
                             'all_of = ["sexual"]\ncontext_any_of = ["suspect.csam"]')
    (tmp_path / "ctx").mkdir()
    placed = analyzer_for(pack(tmp_path / "ctx", LANG, ctx_rules + rules[len(RULE):]))
    hits = placed.rules(placed.analyze("who keeps posting 'lewd pics' here, so gross"),
                        TargetKind.MESSAGE, frozenset({"suspect.csam"}))
    assert [(h.strength, h.lowered_by) for h in hits] == [(0.8, ())]


def test_a_framing_lowers_what_quotes_lowered() -> None:
    """Quoted hits are lowered once per category (a pasted ad's many rules would add back up
    past a finding); framings multiply what the quotes left, and the evidence names both."""
    from veilleur.decide.policy import combine
    from veilleur.detect.base import POLICY_DIR
    from veilleur.taxonomy import TargetKind

    analyzer = TextAnalyzer.load(POLICY_DIR)
    offer = "pack cp mineures dispo en dm"
    plain = analyzer.rules(analyzer.analyze(offer), TargetKind.MESSAGE)
    assert len(plain) >= 2 and {h.rule.category for h in plain} == {Category.CSAM}
    text = f"the mod team removed the post '{offer}' from the general channel today"
    (hit,) = analyzer.rules(analyzer.analyze(text), TargetKind.MESSAGE)
    assert [f.id for f in hit.lowered_by] == ["framing.quoted", "framing.moderation"]
    assert hit.rule.weight == max(h.rule.weight for h in plain)
    quoted = round(combine([h.strength for h in plain]) * 0.3, 4)
    assert hit.strength == pytest.approx(round(quoted * 0.4, 4))


def test_also_any_of_needs_one_of_each_group(tmp_path: Path) -> None:
    """`any_of` and every group of `also_any_of` each need one of their sets present; a
    single list is one group."""
    from veilleur.taxonomy import TargetKind

    lang = LANG + 'offer = ["who wants"]\npic = ["pic"]\nswap = ["swap"]\n'
    rules = ('version = "r1"\n[[rules]]\nid = "g"\ncategory = "ncii"\nweight = 0.8\n'
             'all_of = ["sexual"]\nany_of = ["minor"]\n'
             'also_any_of = [["offer", "swap"], ["pic"]]\n'
             '[[rules]]\nid = "one"\ncategory = "csam"\nweight = 0.8\n'
             'any_of = ["offer"]\nalso_any_of = ["pic"]\n')
    analyzer = analyzer_for(pack(tmp_path, lang, rules))

    def fired(text: str) -> set[str]:
        return {h.rule.id for h in analyzer.rules(analyzer.analyze(text), TargetKind.MESSAGE)}

    assert fired("lewd kid pic, who wants") == {"g", "one"}
    assert fired("lewd kid pic, swap") == {"g"}
    assert fired("lewd kid, who wants") == set()
    assert fired("lewd pic, who wants") == {"one"}
    hit = analyzer.rules(analyzer.analyze("lewd kid pic swap"), TargetKind.MESSAGE)[0]
    assert [h.text for h in hit.hits] == ["lewd", "kid", "swap", "pic"]
