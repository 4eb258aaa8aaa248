"""Phrasing families: the format's checks, deterministic expansion, the split, the measure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from veilleur.corpus.families import (
    FamilyError,
    expand,
    fill,
    load_families,
    load_file,
    parse_families,
)
from veilleur.corpus.measure import false_alarms, measure_families
from veilleur.corpus.split import HELD_OUT_WRITERS, SPLITS, split_of
from veilleur.detect.base import DetectorSettings
from veilleur.taxonomy import Category, TargetKind

MINI = Path(__file__).resolve().parents[1] / "data" / "corpus_mini"
PACKAGE = Path(__file__).resolve().parents[2] / "src" / "veilleur" / "corpus" / "families"


def family(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "en-none-x", "category": "none", "lang": "en", "register": "r",
        "templates": ["a {x}", "b {x}", "c {x}"],
        "slots": {"x": [str(i) for i in range(10)]}}
    return base | over


@pytest.mark.parametrize(("over", "said"), [
    ({"category": "porn"}, "'category' must be one of"),
    ({"lang": "de"}, "'lang' must be one of"),
    ({"templates": ["a {x}", "b {x}"]}, "at least 3"),
    ({"templates": ["a {x}", "b {y}", "c {x}"]}, "undefined slot(s) ['y']"),
    ({"slots": {"x": ["1", "2"], "z": ["3"]}}, "used by no template"),
    ({"templates": ["a {x}", "b {x} }", "c {x}"]}, "stray brace"),
    ({"slots": {"x": ["1"]}}, "yields 3 messages"),
    ({"resembles": "csam", "category": "ncii"}, "for category none only"),
    ({"colour": "red"}, "unknown key(s) ['colour']"),
    ({"id": "Bad Id"}, "'id' must match"),
])
def test_a_bad_family_is_refused_with_what_is_wrong(over: dict[str, Any], said: str) -> None:
    with pytest.raises(FamilyError) as caught:
        parse_families({"writer": "t9", "family": [family(**over)]}, "t9.toml")
    assert said in str(caught.value)
    assert str(caught.value).startswith("t9.toml")


def test_writer_and_duplicate_ids_are_checked() -> None:
    with pytest.raises(FamilyError, match="'writer'"):
        parse_families({"family": [family()]}, "x.toml")
    with pytest.raises(FamilyError, match="used twice"):
        parse_families({"writer": "t9", "family": [family(), family()]}, "x.toml")


def test_fill_tidies_what_empty_slots_leave() -> None:
    assert fill("{a} hello {b} , ok {c}", {"a": "", "b": "", "c": ""}) == "hello, ok"
    # The writer's French spacing before ? and ! is kept.
    assert fill("ça va {a} ?", {"a": ""}) == "ça va ?"


def test_expansion_is_deterministic_distinct_and_covers_every_template() -> None:
    fams = load_file(MINI / "t1.toml")
    shop = fams[0]
    first = expand(shop, 15, seed=3)
    assert first == expand(shop, 15, seed=3)
    assert first != expand(shop, 15, seed=4)
    assert len(set(first)) == 15
    assert any(t.startswith("nouveau pack") for t in first)
    assert any(t.startswith("qui veut") for t in first)
    assert len(expand(shop, 10_000)) == len(set(expand(shop, 10_000)))  # never repeats


def test_split_is_by_family_stable_and_holds_writers_out() -> None:
    fams = load_file(MINI / "t1.toml")
    assert all(split_of(f) in SPLITS for f in fams)
    assert [split_of(f) for f in fams] == [split_of(f) for f in load_file(MINI / "t1.toml")]
    doc = {"writer": sorted(HELD_OUT_WRITERS)[0], "family": [family()]}
    assert {split_of(f) for f in parse_families(doc, "h.toml")} == {"test"}
    # Over many families the shares come out near 60/15/25.
    many = parse_families({"writer": "t9", "family": [family(id=f"f{i}") for i in
                                                      range(400)]}, "m.toml")
    shares = {s: sum(split_of(f) == s for f in many) / 400 for s in SPLITS}
    assert 0.5 < shares["train"] < 0.7 and 0.08 < shares["tune"] < 0.22
    assert 0.18 < shares["test"] < 0.32


def test_the_package_corpus_loads() -> None:
    fams = load_families(PACKAGE)
    assert len({f.key for f in fams}) == len(fams)


def test_measure_scores_each_message_alone() -> None:
    fams = load_file(MINI / "t1.toml")
    out = measure_families(fams, per_family=12, settings=DetectorSettings(semantic=False))
    assert out.messages == 24 and out.families == 2
    ncii = out.result.scores[(Category.NCII, TargetKind.MESSAGE)]
    assert ncii.tp + ncii.fn == 12
    assert sum(out.missed_by_family.values()) == ncii.fn
    assert out.missed_by_family["t1/en-ncii-leak"] == ncii.fn
    assert not out.flagged_by_family  # the skins shop stays quiet


def test_false_alarms_counts_findings_per_million() -> None:
    fams = load_file(MINI / "t1.toml")
    fa = false_alarms(fams, 500, settings=DetectorSettings(semantic=False))
    assert fa.messages == 500
    assert fa.findings[TargetKind.MESSAGE] == sum(fa.by_family.values())
    assert fa.per_million() == fa.findings[TargetKind.MESSAGE] * 2000
    with pytest.raises(ValueError, match="no category-none family"):
        false_alarms([f for f in fams if f.category], 10)
