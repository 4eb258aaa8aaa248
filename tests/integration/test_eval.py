"""The labelled and held-out sets: the quality targets of the text work, as tests."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from veilleur.evaluate import evaluate
from veilleur.taxonomy import Category, TargetKind

DATA = Path(__file__).resolve().parents[1] / "data"


def floors(name: str) -> tuple[dict[str, float], dict[str, float]]:
    path = DATA / name / "floors.toml"
    if not path.exists():
        return {"default": 0.95}, {"default": 0.95}
    data = tomllib.loads(path.read_text())
    return data["recall"], data["precision"]


@pytest.mark.parametrize("name", ["labelled", "holdout"])
def test_precision_and_recall_targets(name: str) -> None:
    result = evaluate([DATA / name / "exports"], DATA / name / "labels.jsonl")
    assert result.problems == []
    recall_floor, precision_floor = floors(name)
    for (category, kind), score in result.scores.items():
        if score.tp + score.fn:
            floor = recall_floor.get(category.value, recall_floor["default"])
            assert score.recall is not None and score.recall >= floor, (category, kind, score)
        if score.tp + score.fp:
            floor = precision_floor.get(category.value, precision_floor["default"])
            assert score.precision is not None and score.precision >= floor, (category, kind)
    # The sets cover every category on messages, and csam/ncii on channels and servers.
    covered = {key for key, s in result.scores.items() if s.tp}
    assert {(c, TargetKind.MESSAGE) for c in Category} <= covered
    if name == "labelled":
        for c in (Category.CSAM, Category.NCII):
            assert {(c, TargetKind.CHANNEL), (c, TargetKind.GUILD)} <= covered


def test_no_false_positive_on_hard_negatives() -> None:
    result = evaluate([DATA / "labelled" / "exports"], DATA / "labelled" / "labels.jsonl")
    assert [e for e in result.errors if e.kind == "false positive"] == []


@pytest.mark.parametrize("name", ["labelled", "holdout"])
def test_exports_are_built_from_the_corpus(name: str, tmp_path: Path) -> None:
    """The committed exports and labels are exactly what build.py makes of corpus.toml."""
    sys.path.insert(0, str(DATA / "labelled"))
    import build

    shutil.copy(DATA / name / "corpus.toml", tmp_path / "corpus.toml")
    here = build.HERE
    try:
        build.HERE = tmp_path
        build.build(tmp_path)
    finally:
        build.HERE = here
    assert filecmp.cmp(tmp_path / "labels.jsonl", DATA / name / "labels.jsonl", shallow=False)
    made = sorted(p.name for p in (tmp_path / "exports").glob("*.json"))
    assert made == sorted(p.name for p in (DATA / name / "exports").glob("*.json"))
    for file in made:
        assert filecmp.cmp(tmp_path / "exports" / file, DATA / name / "exports" / file,
                           shallow=False), file


def test_eval_command(tmp_path: Path) -> None:
    out = tmp_path / "metrics.json"
    result = subprocess.run(
        [sys.executable, "-m", "veilleur", "eval", str(DATA / "labelled" / "exports"),
         "--labels", str(DATA / "labelled" / "labels.jsonl"), "--json", str(out),
         "--min-precision", "0.95", "--min-recall", "0.95"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "precision" in result.stdout and "csam" in result.stdout
    assert out.is_file()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"target": {"kind": "message"}, "category": "csam"}\n')
    result = subprocess.run(
        [sys.executable, "-m", "veilleur", "eval", str(DATA / "labelled" / "exports"),
         "--labels", str(bad)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "bad.jsonl (line 1): bad label" in result.stderr
