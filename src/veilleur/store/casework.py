"""Casework in the database: the sink that writes it, and the reads behind the CLI.

Writes are buffered and flushed in one transaction every `batch` records (and at the end):
intakes and cases are upserted (the latest state wins), everything else is inserted once. The
audit records are chained onto the database's head when they are written, under its write lock
(`store.auditlog`); its rows are never updated.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Table, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from veilleur.audit import AuditRecord
from veilleur.cases.casework import Casework, Snapshot
from veilleur.cases.config import CasePolicy
from veilleur.cases.content import ContentView
from veilleur.cases.models import Action, Case, Decision, Intake, iso
from veilleur.compliance.documents import Document
from veilleur.enforce.evidence import EvidenceError, EvidenceKey, EvidenceRecord, open_record
from veilleur.engine import Engine as DetectionEngine
from veilleur.store.auditlog import append_audit, append_records
from veilleur.store.auditlog import audit_entries as audit_entries
from veilleur.store.auditlog import audit_head as audit_head
from veilleur.store.auditlog import verify_audit as verify_audit
from veilleur.store.db import StoreError, as_utc, locked_transaction
from veilleur.store.lease import refuse_if_held
from veilleur.store.models import (
    ActionRow,
    AuditRow,
    BusOutboxRow,
    CaseRow,
    DecisionRow,
    DocumentRow,
    EvidenceRow,
    IntakeRow,
    LabelRow,
)
from veilleur.taxonomy import Target

_T: dict[str, Table] = {r.__tablename__: r.__table__  # type: ignore[misc]
                        for r in (IntakeRow, CaseRow, DecisionRow, ActionRow, EvidenceRow,
                                  LabelRow, DocumentRow, BusOutboxRow)}
_KEYS = {"intakes": ("id",), "cases": ("id",), "decisions": ("id",), "actions": ("id",),
         "evidence": ("id",), "labels": ("target_kind", "target_id", "label"),
         "documents": ("id",), "bus_outbox": ("topic", "item_id", "rev")}
_UPSERT = {"intakes", "cases", "actions", "evidence", "labels", "documents"}


class ReadOnlyCaseworkError(StoreError):
    pass


class DatabaseSink:
    """Casework records into the database (`CaseworkSink`).

    `audit_only`: a command that only looks (`review show`) while a service may hold the
    casework: its looks are audited, and anything else it would write is refused here rather
    than written over the service's state."""

    def __init__(self, db: Engine, *, batch: int = 2000, audit_only: bool = False,
                 outbox: bool = False) -> None:
        self.db = db
        self.batch = batch
        self.audit_only = audit_only
        self.outbox = outbox
        """On a bus: each action and document written is also recorded, in the same
        transaction, as to be published (`bus.outbox`); off for the embedded service."""
        self._rows: dict[str, dict[Any, dict[str, Any]]] = {name: {} for name in _T}
        self._cases: dict[str, Case] = {}
        self._audit: list[AuditRecord] = []
        self._pending = 0

    def _refuse(self, what: str) -> None:
        if self.audit_only:
            raise ReadOnlyCaseworkError(f"this command only reads casework; it tried to write "
                                   f"{what}")

    def _put(self, table: str, row: dict[str, Any]) -> None:
        self._refuse(table)
        key = tuple(row[k] for k in _KEYS[table])
        self._rows[table][key] = row
        self._pending += 1
        if self._pending >= self.batch:
            self.flush()

    def intake(self, intake: Intake) -> None:
        self._put("intakes", {
            "id": intake.id, "kind": intake.kind.value, "source": intake.source,
            "target_kind": intake.target.kind.value, "target_id": intake.target.id,
            "category": intake.category.value if intake.category else None,
            "received_at": intake.received_at, "acknowledged_at": intake.acknowledged_at,
            "score": intake.score, "reporter_id": intake.reporter_id,
            "flagger": intake.flagger, "case_id": intake.case_id,
            "resolution": intake.resolution.value if intake.resolution else None,
            "resolved_at": intake.resolved_at, "reason": intake.reason,
            "body": intake.to_record()})

    def case(self, case: Case) -> None:
        # A busy case is touched at every finding it takes in; it is written as it stands
        # when the buffer is taken, once (its record grows with its targets).
        self._refuse("cases")
        self._cases[case.id] = case
        self._pending += 1
        if self._pending >= self.batch:
            self.flush()

    @staticmethod
    def _case_row(case: Case) -> dict[str, Any]:
        return {
            "id": case.id, "opened_at": case.opened_at, "status": case.status,
            "category": case.category.value if case.category else None,
            "priority": case.priority, "escalated": case.escalated, "raised": case.raised,
            "next_due": case.next_due(), "locked_by": case.locked_by,
            "lock_until": case.lock_until, "reviewed_at": case.reviewed_at,
            "decision_id": case.decision_id, "closed_at": case.closed_at,
            "body": case.to_record(case.closed_at or case.opened_at, 0.0)}

    def decision(self, decision: Decision) -> None:
        self._put("decisions", {"id": decision.id, "case_id": decision.case_id,
                                "decided_at": decision.decided_at,
                                "reviewer": decision.reviewer,
                                "automated": decision.automated, "body": decision.to_json()})

    def action(self, action: Action) -> None:
        self._put("actions", {
            "id": action.id, "ts": action.ts, "action": action.action,
            "target_kind": action.target.kind.value, "target_id": action.target.id,
            "case_id": action.case_id, "decision_id": action.decision_id,
            "automated": action.automated,
            "category": action.category.value if action.category else None,
            "reverted_at": action.reverted_at, "body": action.to_json()})
        if self.outbox:
            self._to_publish("actions", action.id, f"{action.target.kind.value}:"
                             f"{action.target.id}", action.ts, action.to_json())

    def _to_publish(self, topic: str, item_id: str, key: str, at: datetime,
                    body: dict[str, Any]) -> None:
        # One row per distinct state of an item (its digest): written again unchanged, it
        # is not published again; changed (an action lifted, a document sent), it is.
        rev = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False,
                                        default=str).encode()).hexdigest()[:32]
        self._put("bus_outbox", {"topic": topic, "item_id": item_id, "rev": rev, "key": key,
                                 "created_at": at, "published_at": None, "body": body})

    def evidence(self, record: EvidenceRecord) -> None:
        self._put("evidence", {
            "id": record.id, "case_id": record.case_id,
            "target_kind": record.target.kind.value, "target_id": record.target.id,
            "preserved_at": record.preserved_at, "expires_at": record.expires_at,
            "key_id": record.key_id, "nonce": record.nonce, "ciphertext": record.ciphertext,
            "sha256": record.sha256, "legal_hold": record.legal_hold,
            "purged_at": record.purged_at, "meta": record.meta})

    def audit(self, record: AuditRecord) -> None:
        # Chained when written, onto whatever head the database has then.
        self._audit.append(record)
        self._pending += 1
        if self._pending >= self.batch:
            self.flush()

    def label(self, target: Target, label: str, at: datetime, case_id: str | None) -> None:
        self._put("labels", {"target_kind": target.kind.value, "target_id": target.id,
                             "label": label, "set_at": at, "case_id": case_id,
                             "removed_at": None})
        if self.outbox:  # the detect workers remember it too (a server removed: successors)
            where = f"{target.kind.value}:{target.id}"
            self._to_publish("labels", f"{where}\x1f{label}", f"casework\x1f{where}\x1f{label}",
                             at, {"target": target.to_json(), "label": label,
                                  "at": at.isoformat(), "case_id": case_id})

    def label_removed(self, target: Target, label: str, at: datetime) -> None:
        key = (target.kind.value, target.id, label)
        row = self._rows["labels"].get(key)
        if row is None:
            self.flush()
            with Session(self.db) as s:
                stored = s.get(LabelRow, key)
                row = {"target_kind": target.kind.value, "target_id": target.id,
                       "label": label, "set_at": stored.set_at if stored else at,
                       "case_id": stored.case_id if stored else None}
        self._put("labels", {**row, "removed_at": at})

    def document(self, document: Document) -> None:
        self._put("documents", {
            "id": document.id, "kind": document.kind, "created_at": document.created_at,
            "status": document.status, "decision_id": document.refs.get("decision_id"),
            "case_id": document.refs.get("case_id"),
            "recipient_role": document.recipient.get("role") or "",
            "body": document.to_json()})
        if self.outbox:
            self._to_publish("documents", document.id, document.id, document.created_at,
                             document.to_json())

    def claim(self, case_id: str, reviewer: str, now: datetime, until: datetime) -> bool:
        """An exclusive lock in the database itself: one conditional update, so two
        processes can never both take the case."""
        self._refuse("a case lock")
        self.flush()
        t = _T["cases"]
        with self.db.begin() as conn:
            taken = conn.execute(t.update().where(
                t.c.id == case_id,
                or_(t.c.status == "open", t.c.locked_by == reviewer, t.c.lock_until < now),
                t.c.status != "closed",
            ).values(status="in_review", locked_by=reviewer, lock_until=until)).rowcount
        return bool(taken)

    def flush(self) -> None:
        self.detach()()

    def detach(self) -> Callable[[], None]:
        """Take the buffered records and return the write of them (see `StoreWriter`)."""
        if not self._pending:
            return lambda: None
        taken = {name: list(rows.values()) for name, rows in self._rows.items()}
        taken["cases"] += [self._case_row(c) for c in self._cases.values()]
        audit = self._audit
        for rows in self._rows.values():
            rows.clear()
        self._cases.clear()
        self._audit = []
        self._pending = 0

        def write() -> None:
            dialect = self.db.dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            # One transaction, the write lock held from its start: the audit entries (the
            # record of everything else) are chained onto the head read under it.
            with locked_transaction(self.db) as conn:
                append_records(conn, audit)
                for name, rows in taken.items():
                    if not rows:
                        continue
                    stmt = insert(_T[name])
                    if name in _UPSERT:
                        cols = {c: stmt.excluded[c] for c in rows[0] if c not in _KEYS[name]}
                        stmt = stmt.on_conflict_do_update(index_elements=list(_KEYS[name]),
                                                          set_=cols)
                    else:
                        stmt = stmt.on_conflict_do_nothing(index_elements=list(_KEYS[name]))
                    for i in range(0, len(rows), 500):
                        conn.execute(stmt, rows[i:i + 500])

        return write


# --- reads ----------------------------------------------------------------------------------


def snapshot(db: Engine) -> Snapshot:
    """Everything casework needs to pick up where the stored casework stands."""
    with Session(db) as s:
        labels = list(s.execute(select(LabelRow).where(LabelRow.removed_at.is_(None)))
                      .scalars())
        return Snapshot(
            intakes=[Intake.from_record(b) for b in s.execute(select(IntakeRow.body))
                     .scalars()],
            cases=list(s.execute(select(CaseRow.body)).scalars()),
            decisions=[Decision.from_json(b) for b in s.execute(select(DecisionRow.body))
                       .scalars()],
            actions=[Action.from_json(b) for b in s.execute(select(ActionRow.body))
                     .scalars()],
            labels=[(Target.of(r.target_kind, r.target_id), r.label, r.case_id)
                    for r in labels],
            label_times={(Target.of(r.target_kind, r.target_id), r.label): at
                         for r in labels if (at := as_utc(r.set_at)) is not None},
            evidence=[_record(r) for r in s.execute(select(EvidenceRow)).scalars()],
            documents=[Document.from_json(b) for b in s.execute(
                select(DocumentRow.body).order_by(DocumentRow.created_at)).scalars()],
            media_views=[json.loads(d)["attachments"] for d in s.execute(
                select(AuditRow.detail).where(AuditRow.kind == "media.viewed")).scalars()])


def documents(db: Engine, *, kind: str | None = None, status: str | None = None,
              since: datetime | None = None, until: datetime | None = None,
              doc_id: str | None = None) -> list[Document]:
    with Session(db) as s:
        q = select(DocumentRow.body).order_by(DocumentRow.created_at, DocumentRow.id)
        if doc_id:
            q = q.where(DocumentRow.id == doc_id)
        if kind:
            q = q.where(DocumentRow.kind == kind)
        if status:
            q = q.where(DocumentRow.status == status)
        if since:
            q = q.where(DocumentRow.created_at >= since)
        if until:
            q = q.where(DocumentRow.created_at < until)
        return [Document.from_json(b) for b in s.execute(q).scalars()]


def save_document(db: Engine, document: Document) -> None:
    """One document's new status (submitted, failed) after a front door sent it."""
    refuse_if_held(db, datetime.now(UTC))
    sink = DatabaseSink(db, batch=1 << 30)
    sink.document(document)
    sink.flush()


def load_casework(db: Engine, key: EvidenceKey, *, engine: DetectionEngine,
                  content: ContentView, policy: CasePolicy | None = None,
                  read_only: bool = False, lease: str | None = None) -> Casework:
    """Stored casework, live again in this process: reads through the store, writes through
    the store, continues the audit chain. Close it (or flush `casework.sink`) when done.
    The engine and the content view are the deployment's (`deployment.assemble`).

    `read_only`: only audit entries are written (a look at a case); otherwise `DatabaseHeld`
    is raised while a service other than `lease` (the service's own token) holds the
    database."""
    casework = database_casework(db, key, engine, policy, content=content,
                                 read_only=read_only, lease=lease)
    casework.restore(snapshot(db))
    return casework


def database_casework(db: Engine, key: EvidenceKey, engine: DetectionEngine,
                      policy: CasePolicy | None = None, *, content: ContentView | None = None,
                      read_only: bool = False, lease: str | None = None) -> Casework:
    """Casework that writes to the database and continues its audit chain, under ids of its
    own (a run prefix), so several runs can share one database. The chain is continued when
    the records are written, from the head the database has then (`store.auditlog`)."""
    if not read_only:
        refuse_if_held(db, datetime.now(UTC), mine=lease)
    return Casework(engine, policy, key=key, sink=DatabaseSink(db, audit_only=read_only),
                    id_prefix=secrets.token_hex(3) + "-", audit_head=None,
                    keep_audit=False, content=content)


def list_cases(db: Engine, *, status: str | None = None) -> list[dict[str, Any]]:
    with Session(db) as session:
        q = select(CaseRow)
        if status:
            q = q.where(CaseRow.status == status)
        rows = session.execute(q).scalars().all()
        return [row.body | {"status": row.status, "priority": row.priority,
                            "escalated": row.escalated, "raised": row.raised,
                            "next_due": iso(as_utc(row.next_due)),
                            "locked_by": row.locked_by} for row in rows]


def clock_status(case: dict[str, Any], now: datetime, at_risk_share: float) -> str:
    """The worst clock of a stored case at `now`: breached, at_risk, running or none."""
    worst = "none"
    for c in case.get("clocks", ()):
        if c.get("stopped_at") or not c.get("due"):
            continue
        due = datetime.fromisoformat(c["due"].replace("Z", "+00:00"))
        left = (due - now).total_seconds()
        status = ("breached" if left <= 0 else
                  "at_risk" if left <= c["hours"] * 3600 * at_risk_share else "running")
        order = ("none", "running", "at_risk", "breached")
        if order.index(status) > order.index(worst):
            worst = status
    return worst


def evidence_rows(db: Engine, case_id: str | None = None) -> list[EvidenceRecord]:
    with Session(db) as session:
        q = select(EvidenceRow).order_by(EvidenceRow.preserved_at)
        if case_id:
            q = q.where(EvidenceRow.case_id == case_id)
        return [_record(r) for r in session.execute(q).scalars()]


def _record(r: EvidenceRow) -> EvidenceRecord:
    preserved = as_utc(r.preserved_at)
    expires = as_utc(r.expires_at)
    assert preserved is not None and expires is not None
    return EvidenceRecord(r.id, r.case_id, Target.of(r.target_kind, r.target_id), preserved,
                          expires, r.key_id, r.nonce, r.ciphertext, r.sha256, r.legal_hold,
                          as_utc(r.purged_at), dict(r.meta))


def open_evidence(db: Engine, record_id: str, key: EvidenceKey, *, actor: str, purpose: str,
                  at: datetime) -> dict[str, Any]:
    """Decrypt one stored record; the access is in the audit log before anything is shown."""
    with Session(db) as session:
        row = session.get(EvidenceRow, record_id)
        rec = _record(row) if row is not None else None
    append_audit(db, at, "evidence.accessed", actor, record_id,
                 {"purpose": purpose, "found": rec is not None})
    if rec is None:
        raise EvidenceError(f"no evidence record {record_id!r}")
    return open_record(rec, key)


def set_hold(db: Engine, record_id: str, reason: str | None, *, actor: str, at: datetime
             ) -> bool:
    refuse_if_held(db, datetime.now(UTC))  # the service holds the records in memory
    with db.begin() as conn:
        n = conn.execute(EvidenceRow.__table__.update()  # type: ignore[attr-defined]
                         .where(EvidenceRow.id == record_id)
                         .values(legal_hold=reason)).rowcount
    if n:
        append_audit(db, at, "evidence.hold" if reason else "evidence.hold_released", actor,
                     record_id, {"reason": reason})
    return bool(n)


def purge_expired(db: Engine, *, actor: str, at: datetime) -> list[str]:
    """Empty expired records that no legal hold keeps; each purge is audited."""
    refuse_if_held(db, datetime.now(UTC))
    table = EvidenceRow.__table__
    with db.begin() as conn:
        ids = [r[0] for r in conn.execute(
            select(EvidenceRow.id).where(EvidenceRow.expires_at <= at,
                                         EvidenceRow.legal_hold.is_(None),
                                         EvidenceRow.purged_at.is_(None)))]
        if ids:
            conn.execute(table.update().where(EvidenceRow.id.in_(ids))  # type: ignore[attr-defined]
                         .values(ciphertext=b"", purged_at=at))
    for rid in ids:
        append_audit(db, at, "evidence.purged", actor, rid, {"reason": "retention ended"})
    return ids


def extend_retention(db: Engine, record_ids: list[str], until: datetime, reason: str, *,
                     actor: str, at: datetime) -> list[str]:
    """Keep records at least until `until` (18 USC 2258A(h): a year after a CyberTipline
    report); each extension is audited."""
    refuse_if_held(db, datetime.now(UTC))
    table = EvidenceRow.__table__
    with db.begin() as conn:
        ids = [r[0] for r in conn.execute(
            select(EvidenceRow.id).where(EvidenceRow.id.in_(record_ids),
                                         EvidenceRow.expires_at < until))]
        if ids:
            conn.execute(table.update().where(EvidenceRow.id.in_(ids))  # type: ignore[attr-defined]
                         .values(expires_at=until))
    for rid in ids:
        append_audit(db, at, "evidence.extended", actor, rid,
                     {"until": iso(until), "reason": reason})
    return ids


def flagger_notices(db: Engine) -> list[tuple[str | None, str | None]]:
    with db.connect() as conn:
        return [(r[0], r[1]) for r in conn.execute(
            select(IntakeRow.flagger, IntakeRow.resolution)
            .where(IntakeRow.source == "trusted_flagger"))]


def counts(db: Engine) -> dict[str, int]:
    with db.connect() as conn:
        return {name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for name, t in _T.items()}
