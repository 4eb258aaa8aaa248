"""The oracle of contracts §6: which targets are violations, read only by simulated reviewers."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from veilleur.cases.review import Verdict
from veilleur.ingest.problems import ProblemLog
from veilleur.taxonomy import Category, Target, TargetKind


class Oracle:
    def __init__(self, labels: Mapping[Target, Category]) -> None:
        self._labels = dict(labels)

    def __len__(self) -> int:
        return len(self._labels)

    def labels(self) -> dict[Target, Category]:
        """For scoring only, after the run; the engine never calls this."""
        return dict(self._labels)

    def review(self, targets: Iterable[Target]) -> dict[Target, Verdict]:
        """A reviewer who checks every target of the case."""
        return {t: Verdict(self._labels.get(t)) for t in targets}


def read_oracle(path: Path, problems: ProblemLog) -> Oracle:
    labels: dict[Target, Category] = {}
    source = str(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        problems.report(source, f"cannot read the oracle: {exc}", fatal=True)
        return Oracle(labels)
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            t = raw["target"]
            target = Target(TargetKind(t["kind"]), str(t["id"]))
            labels[target] = Category(raw["category"])
        except json.JSONDecodeError as exc:
            problems.report(source, f"not valid JSON: {exc}", f"line {n}")
        except (KeyError, TypeError) as exc:
            problems.report(source, f"needs target.kind, target.id and category: missing {exc}",
                            f"line {n}")
        except ValueError as exc:
            problems.report(source, f"bad label: {exc}", f"line {n}")
    return Oracle(labels)
