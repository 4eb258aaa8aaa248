"""Floors of the measures that matter (issue 17): the engine on phrasing families it was never
tuned or trained on, on eval-a (written outside the team), and its false alarms on ordinary
chat. The floors are what the engine achieves today minus a margin (`tests/data/floors/
generalization.toml`): they stop a regression, they are not the targets (precision 0.95 and
recall 0.90 per category, at most 10 false alarms per million), which the README's figures
compare against."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.shared_data import shared_testdata
from veilleur.corpus.families import FAMILY_DIR, load_families
from veilleur.corpus.measure import false_alarms, iter_groups, measure_families
from veilleur.corpus.split import HELD_OUT_WRITERS, NOT_SCORED, ORDINARY_WRITERS, split_of
from veilleur.corpus.transforms import obfuscate
from veilleur.evaluate import evaluate
from veilleur.taxonomy import Category, TargetKind

FLOORS = tomllib.loads((Path(__file__).resolve().parents[1] / "data" / "floors"
                        / "generalization.toml").read_text())
PER_FAMILY = 4
SCENE_VARIANTS = 1


@pytest.fixture(scope="module")
def groups() -> dict[str, list[Any]]:
    fams = [f for f in load_families(FAMILY_DIR) if f.writer not in NOT_SCORED]
    return dict(iter_groups(fams, split_of, HELD_OUT_WRITERS))


def _check(scores: Any, floors: dict[str, dict[str, float]], where: str) -> None:
    for category, floor in floors.items():
        s = next(v for (c, k), v in scores.items()
                 if c.value == category and k is TargetKind.MESSAGE)
        assert s.tp + s.fp == 0 or (s.precision or 0.0) >= floor["precision"], (
            f"{where}: {category} precision {s.tp}/{s.tp + s.fp} below {floor['precision']}")
        assert s.recall is not None and s.recall >= floor["recall"], (
            f"{where}: {category} recall {s.tp}/{s.tp + s.fn} below {floor['recall']}")


@pytest.mark.parametrize("group", ["unseen families", "unseen writers"])
@pytest.mark.parametrize("obfuscated", [False, True], ids=["plain", "obfuscated"])
def test_messages_of_families_never_tuned_on(groups: dict[str, list[Any]], group: str,
                                             obfuscated: bool) -> None:
    result = measure_families(groups[group], per_family=PER_FAMILY,
                              transform=obfuscate if obfuscated else None)
    name = f"{group}{', obfuscated' if obfuscated else ''}"
    _check(result.result.scores, FLOORS[name], name)


def test_eval_a() -> None:
    root = shared_testdata("eval-a")
    result = evaluate([root], root / "labels.jsonl", bank_paths=[root / "bank.csv"])
    assert result.problems == []
    _check(result.scores, FLOORS["eval-a"], "eval-a")
    for kind, floor in FLOORS["eval-a targets"].items():
        total = result.total(TargetKind(kind))
        assert total.recall is not None and total.recall >= floor["recall"], (kind, total)
        assert total.precision is not None and total.precision >= floor["precision"], (
            kind, total)


@pytest.mark.parametrize("writer", sorted(ORDINARY_WRITERS))
def test_ordinary_chat_raises_no_place_and_few_messages(writer: str) -> None:
    ordinary = [f for f in load_families(FAMILY_DIR) if f.writer == writer]
    fa = false_alarms(ordinary, 20_000)
    floor = FLOORS["ordinary chat"][writer]
    # No channel or server finding is the target; a blind writer's first measure that shows
    # some is held at what it showed (b15: artists' commission rules, "18+ only, no minors"),
    # never raised, and named in the README as unmet.
    for kind in (TargetKind.CHANNEL, TargetKind.GUILD):
        assert fa.findings[kind] <= floor.get(f"{kind.value}_findings", 0), (
            kind, fa.examples[:5])
    # Accounts found on ordinary chat are a known failure on the writers never studied
    # (friends' "ça reste entre nous", siblings' joking blackmail): held at what is measured.
    assert fa.findings[TargetKind.USER] <= floor["account_findings"], fa.examples[:5]
    assert fa.per_million() <= floor["message_findings_per_million"], (
        fa.per_million(), fa.by_family.most_common(5))


@pytest.mark.parametrize("which", ["demo", "eval-a"])
def test_a_database_that_already_holds_the_exports_gives_the_same_findings(
        which: str, tmp_path: Path) -> None:
    from veilleur.scan import run_scan

    if which == "demo":
        root, bank = Path(__file__).resolve().parents[2] / "examples" / "demo", ()
        skip: tuple[Path, ...] = ()
    else:
        root = shared_testdata("eval-a")
        bank, skip = (root / "bank.csv",), (root / "labels.jsonl",)
    fresh = tmp_path / "fresh.db"
    kept = tmp_path / "kept.db"

    def findings(db: Path) -> list[str]:
        result = run_scan([root], db_url=f"sqlite:///{db}", bank_paths=bank, skip=skip)
        return sorted(json.dumps(f.to_json(), sort_keys=True) for f in result.findings)

    first = findings(fresh)
    findings(kept)
    assert first and findings(kept) == first


@pytest.mark.parametrize("group", ["role lists, studied", "role lists, held out"])
def test_servers_read_from_their_role_lists(group: str) -> None:
    """Servers measured from their roles alone (`corpus/roles/`; the held-out writer's were
    never looked at): a role's signal joins the server's other evidence and never makes a
    finding alone; innocent look-alikes (age bands, shops' ranks, game leaks) give none."""
    from veilleur.corpus.role_lists import load_role_lists, measure_role_lists
    from veilleur.corpus.split import HELD_OUT_ROLE_WRITERS

    held = group.endswith("held out")
    r = measure_role_lists([s for s in load_role_lists()
                            if (s.writer in HELD_OUT_ROLE_WRITERS) == held])
    floors = FLOORS[group]
    assert r.found == 0
    assert len(r.false_servers) <= floors["innocent_servers_signalled"], r.false_servers
    for category, s in r.scores.items():
        if category.value in floors:
            floor = floors[category.value]
            assert s.recall is not None and s.recall >= floor["recall"], (group, category, s)
            assert (s.precision or 0.0) >= floor["precision"], (group, category, s)


@pytest.fixture(scope="module")
def scene_groups() -> dict[str, list[Any]]:
    from veilleur.corpus.scenes import load_scenes
    from veilleur.corpus.split import HELD_OUT_SCENE_WRITERS, scene_split_of

    scenes = load_scenes()
    return {
        "unseen scenes": [s for s in scenes if scene_split_of(s.key, s.writer) == "test"
                          and s.writer not in HELD_OUT_SCENE_WRITERS],
        "unseen scene writers": [s for s in scenes if s.writer in HELD_OUT_SCENE_WRITERS]}


@pytest.mark.parametrize("group", ["unseen scenes", "unseen scene writers"])
def test_accounts_channels_and_servers_of_scenes_never_tuned_on(
        scene_groups: dict[str, list[Any]], group: str) -> None:
    from veilleur.corpus.scene_measure import measure_scenes

    result = measure_scenes(scene_groups[group], variants=SCENE_VARIANTS)
    # The peer, the coach, the aunt, the child: never an account finding (issue 18).
    assert result.wrong_accounts == []
    for name, floor in FLOORS[group].items():
        category, kind = name.split(".")
        s = result.result.scores[(Category(category), TargetKind(kind))]
        assert s.tp + s.fp == 0 or (s.precision or 0.0) >= floor["precision"], (
            f"{group}: {name} precision {s.tp}/{s.tp + s.fp} below {floor['precision']}")
        assert s.recall is not None and s.recall >= floor["recall"], (
            f"{group}: {name} recall {s.tp}/{s.tp + s.fn} below {floor['recall']}")
