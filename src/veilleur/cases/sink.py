"""Where casework records go as they are made: nowhere (a replay in memory) or a database.

Casework calls these as things happen; a sink may buffer. Intakes and cases change after they
are first made, so they are handed over again on every change (the store keeps the latest).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from datetime import datetime

    from veilleur.audit import AuditRecord
    from veilleur.cases.models import Action, Case, Decision, Intake
    from veilleur.compliance.documents import Document
    from veilleur.enforce.evidence import EvidenceRecord
    from veilleur.taxonomy import Target


class CaseworkSink(Protocol):
    def intake(self, intake: Intake) -> None: ...

    def case(self, case: Case) -> None: ...

    def decision(self, decision: Decision) -> None: ...

    def action(self, action: Action) -> None: ...

    def evidence(self, record: EvidenceRecord) -> None: ...

    def audit(self, record: AuditRecord) -> None: ...

    def label(self, target: Target, label: str, at: datetime, case_id: str | None) -> None: ...

    def label_removed(self, target: Target, label: str, at: datetime) -> None: ...

    def document(self, document: Document) -> None: ...

    def claim(self, case_id: str, reviewer: str, now: datetime, until: datetime) -> bool:
        """Lock the case for the reviewer where other processes see it; False if someone
        else holds it."""
        ...

    def flush(self) -> None: ...


class NullSink:
    """Keeps nothing beyond what casework holds in memory."""

    def intake(self, intake: Intake) -> None:
        pass

    def case(self, case: Case) -> None:
        pass

    def decision(self, decision: Decision) -> None:
        pass

    def action(self, action: Action) -> None:
        pass

    def evidence(self, record: EvidenceRecord) -> None:
        pass

    def audit(self, record: AuditRecord) -> None:
        pass

    def label(self, target: Target, label: str, at: datetime, case_id: str | None) -> None:
        pass

    def label_removed(self, target: Target, label: str, at: datetime) -> None:
        pass

    def document(self, document: Document) -> None:
        pass

    def claim(self, case_id: str, reviewer: str, now: datetime, until: datetime) -> bool:
        return True

    def flush(self) -> None:
        pass
