"""What a restriction is, in the terms the law's documents need. Pure.

One `Restriction` is one target restricted by one decision (a reviewer's, or the policy's
automatic action): the measures, their scope and duration, the ground, what started it (a
notice, a trusted flagger, an authority, our own detection), how much was automated. Every
document about a decision — the user's statement of reasons, the Transparency Database
payload, the notifier's decision notice — is written from these, so they always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from veilleur.cases.models import iso
from veilleur.taxonomy import Category, Target


class Source(StrEnum):
    NOTICE = "notice"
    """An Art 16 notice (in-app report or DSA notice form)."""
    TRUSTED_FLAGGER = "trusted_flagger"
    AUTHORITY = "authority"
    OWN_INITIATIVE = "own_initiative"


class Automation(StrEnum):
    FULLY = "fully"
    """The policy's automatic action, no human in the decision."""
    PARTIALLY = "partially"
    """Automated detection, a human decided."""
    NOT = "not"


@dataclass(frozen=True, slots=True)
class Restriction:
    decision_id: str
    case_id: str | None
    target: Target
    affected_user: str | None
    """The account the measure concerns: the author, the owner, the account itself."""
    category: Category
    ground: str
    """'illegal' or 'terms'."""
    ground_text: str
    measures: tuple[str, ...]
    duration_days: int | None
    territorial_scope: tuple[str, ...]
    applied_at: datetime
    content_date: datetime | None
    content_kinds: tuple[str, ...]
    """text, image, video, file, channel, server, account."""
    source: Source
    automated_detection: bool
    automation: Automation
    minor_victim: bool = False
    flagger_name: str | None = None
    explanation: str | None = None
    """The reviewer's words: for the user's letter only, never for the public database."""
    content_language: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"decision_id": self.decision_id, "case_id": self.case_id,
                "target": self.target.to_json(), "affected_user": self.affected_user,
                "category": self.category.value, "ground": self.ground,
                "ground_text": self.ground_text, "measures": list(self.measures),
                "duration_days": self.duration_days,
                "territorial_scope": list(self.territorial_scope),
                "applied_at": iso(self.applied_at), "content_date": iso(self.content_date),
                "content_kinds": list(self.content_kinds), "source": self.source.value,
                "automated_detection": self.automated_detection,
                "automation": self.automation.value, "minor_victim": self.minor_victim,
                "flagger_name": self.flagger_name, "explanation": self.explanation,
                "content_language": self.content_language}
