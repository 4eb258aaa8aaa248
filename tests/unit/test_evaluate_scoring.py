"""Scoring findings against labels: negatives, ignored targets, kinds, attachments, intervals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from veilleur.decide.policy import Finding
from veilleur.evaluate import LabelError, Score, load_labels, score_findings, wilson
from veilleur.taxonomy import Category, Target, TargetKind

M, A, U = TargetKind.MESSAGE, TargetKind.ATTACHMENT, TargetKind.USER


def finding(kind: TargetKind, tid: str, category: Category = Category.CSAM) -> Finding:
    return Finding(Target(kind, tid), category, 0.9, ("t",), "because", {})


def labels_file(tmp_path: Path, rows: list[tuple[str, str, str | None]]) -> Path:
    path = tmp_path / "labels.jsonl"
    path.write_text("\n".join(json.dumps({"target": {"kind": k, "id": i}, "category": c})
                              for k, i, c in rows) + "\n", encoding="utf-8")
    return path


def test_wilson_interval() -> None:
    assert wilson(0, 0) is None
    lo, hi = wilson(22, 42) or (0, 0)
    assert (round(lo, 2), round(hi, 2)) == (0.38, 0.67)
    lo, hi = wilson(22, 22) or (0, 0)
    assert hi == 1.0 and round(lo, 2) == 0.85
    assert Score(3, 1, 2).precision_ci == wilson(3, 4)


def test_negatives_ignored_and_unlabelled_findings(tmp_path: Path) -> None:
    labels = load_labels(labels_file(tmp_path, [
        ("message", "1", "csam"), ("message", "2", None), ("message", "3", "ignore"),
        ("message", "4", "grooming"), ("attachment", "9", "csam")]))
    result = score_findings(
        [finding(M, "1"), finding(M, "2"), finding(M, "3"), finding(M, "5"),
         finding(M, "4", Category.SEXTORTION), finding(U, "u1")],
        labels, attachments_of={"1": ["9"]})
    csam = result.scores[(Category.CSAM, M)]
    assert (csam.tp, csam.fp, csam.fn) == (1, 2, 0)  # 2: a negative; 5: nobody labelled it
    assert result.scores[(Category.GROOMING, M)].fn == 1
    assert result.scores[(Category.SEXTORTION, M)].fp == 1  # the wrong category is wrong
    assert result.scores[(Category.CSAM, A)].tp == 1  # the flagged message flags its file
    assert result.scores[(Category.CSAM, U)].fp == 0  # no label speaks of accounts
    assert result.total(M).fp == 3
    assert {e.kind for e in result.errors} == {"false positive", "false negative"}


def test_unlabelled_places_and_accounts_are_counted_not_scored(tmp_path: Path) -> None:
    labels = load_labels(labels_file(tmp_path, [
        ("user", "u1", "grooming"), ("user", "u2", None), ("message", "1", "csam")]))
    result = score_findings(
        [finding(U, "u1", Category.GROOMING), finding(U, "u2"), finding(U, "u3"),
         finding(M, "7")], labels)
    assert result.scores[(Category.GROOMING, U)].tp == 1
    assert result.scores[(Category.CSAM, U)].fp == 1  # u2 is a labelled negative
    assert result.unlabelled == {U: 1}  # u3: a member nobody labelled, not an error
    assert result.scores[(Category.CSAM, M)].fp == 1  # an unlabelled message still is


def test_bad_labels_are_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"target": {"kind": "message", "id": "1"}, "category": "csam"}\n'
                    '{"target": {"kind": "planet", "id": "2"}, "category": "csam"}\n')
    with pytest.raises(LabelError, match=r"bad.jsonl \(line 2\): bad label"):
        load_labels(path)
