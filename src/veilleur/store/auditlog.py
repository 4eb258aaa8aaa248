"""The audit log in the database: the one place entries are chained and stored.

Every process that appends (the service's checkpoints, a command opening evidence, a second
service by mistake) goes through `append_records`, inside a `locked_transaction`: the head is
read and the new entries inserted under the database's write lock, so two processes can never
both continue the same head. The service's batch takes the lock once, not once per entry.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.orm import Session

from veilleur.audit import GENESIS, AuditEntry, AuditRecord, Verification, chain, verify
from veilleur.cases.models import iso
from veilleur.store.db import locked_transaction
from veilleur.store.models import AuditRow


def stored_head(conn: Connection) -> tuple[int, str]:
    row = conn.execute(select(AuditRow.seq, AuditRow.hash)
                       .order_by(AuditRow.seq.desc()).limit(1)).first()
    return (row[0], row[1]) if row else (0, GENESIS)


def audit_head(db: Engine) -> tuple[int, str]:
    with db.connect() as conn:
        return stored_head(conn)


def append_records(conn: Connection, records: Sequence[AuditRecord]) -> list[AuditEntry]:
    """Chain `records` onto the stored head and insert them. `conn` must be in a
    `locked_transaction` that has not read the head yet: that is what makes this the one
    writer across processes."""
    if not records:
        return []
    entries = chain(stored_head(conn), records)
    rows = [_row(e) for e in entries]
    for i in range(0, len(rows), 500):
        conn.execute(insert(AuditRow), rows[i:i + 500])
    return entries


def _row(entry: AuditEntry) -> dict[str, Any]:
    # Time and detail are kept as the exact text that was hashed.
    return {"seq": entry.seq, "at": iso(entry.at), "kind": entry.kind, "actor": entry.actor,
            "subject": entry.subject,
            "detail": json.dumps(entry.detail, sort_keys=True, ensure_ascii=False),
            "prev_hash": entry.prev_hash, "hash": entry.hash}


def append_audit(db: Engine, at: datetime, kind: str, actor: str, subject: str,
                 detail: dict[str, Any]) -> AuditEntry:
    """One entry from a command (an evidence access), in a transaction of its own."""
    detail = json.loads(json.dumps(detail, default=str))  # plain JSON, as stored
    with locked_transaction(db) as conn:
        return append_records(conn, [AuditRecord(at, kind, actor, subject, detail)])[0]


def audit_entries(db: Engine) -> Iterator[AuditEntry]:
    with Session(db) as session:
        for row in session.execute(select(AuditRow).order_by(AuditRow.seq)
                                   .execution_options(yield_per=5000)).scalars():
            yield AuditEntry(row.seq, datetime.fromisoformat(row.at.replace("Z", "+00:00")),
                             row.kind, row.actor, row.subject, json.loads(row.detail),
                             row.prev_hash, row.hash)


def verify_audit(db: Engine, anchors: dict[int, str] | None = None) -> Verification:
    return verify(audit_entries(db), anchors)
