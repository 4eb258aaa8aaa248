"""The findings document of contracts §4, with the optional fields that say what was read.

The contracts' preamble says "add optional fields freely"; §4's two fields are untouched.
`inputs` and `input_problems` are written by every scan (an empty list of problems means
every input was read), so a reader can tell a partial scan from a complete one without the
scan's standard error.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from veilleur import __version__
from veilleur.decide.policy import Finding
from veilleur.ingest.discover import InputFile
from veilleur.ingest.problems import InputProblem


def findings_document(findings: Iterable[Finding], *,
                      inputs: Sequence[InputFile] | None = None,
                      problems: Iterable[InputProblem] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"veilleur_version": __version__,
                           "findings": [f.to_json() for f in findings]}
    if inputs is not None:
        doc["inputs"] = [{"path": str(i.path), "kind": i.kind.value} for i in inputs]
    if problems is not None:
        doc["input_problems"] = [problem_json(p) for p in problems]
    return doc


def problem_json(problem: InputProblem) -> dict[str, Any]:
    return {"source": problem.source, "where": problem.where, "problem": problem.problem,
            "fatal": problem.fatal}


def dumps(findings: Iterable[Finding], *, inputs: Sequence[InputFile] | None = None,
          problems: Iterable[InputProblem] | None = None) -> str:
    doc = findings_document(findings, inputs=inputs, problems=problems)
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
