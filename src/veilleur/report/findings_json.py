"""The findings document of contracts §4, exactly."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from veilleur import __version__
from veilleur.decide.policy import Finding


def findings_document(findings: Iterable[Finding]) -> dict[str, Any]:
    return {"veilleur_version": __version__, "findings": [f.to_json() for f in findings]}


def dumps(findings: Iterable[Finding]) -> str:
    return json.dumps(findings_document(findings), ensure_ascii=False, indent=2) + "\n"
