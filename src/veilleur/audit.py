"""The audit log: append-only, hash-chained.

Each entry's hash covers its content and the previous entry's hash, so changing, removing or
reordering any entry breaks every link after it; `verify` names the first broken link. The
chain is computed here, purely; the store keeps the entries and refuses updates and deletes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from veilleur.cases.models import iso

GENESIS = hashlib.sha256(b"veilleur audit log v1").hexdigest()


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: datetime
    kind: str
    """intake, acknowledgement, case.opened, decision, action, action.reverted, evidence.preserved,
    evidence.accessed, clock.at_risk, clock.breached, ..."""
    actor: str
    """Who did it: 'engine', a reviewer's name, 'simulated-reviewer-2', a command."""
    subject: str
    """What it is about: a case, a target, an evidence record."""
    detail: dict[str, Any]
    prev_hash: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": iso(self.at), "kind": self.kind, "actor": self.actor,
                "subject": self.subject, "detail": self.detail,
                "prev_hash": self.prev_hash, "hash": self.hash}


def entry_hash(prev_hash: str, seq: int, at: datetime, kind: str, actor: str, subject: str,
               detail: dict[str, Any]) -> str:
    body = json.dumps([seq, iso(at), kind, actor, subject, detail], sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


class AuditLog:
    """Builds the chain in memory; a sink (the database) receives each entry as it is made."""

    def __init__(self, *, head: tuple[int, str] = (0, GENESIS),
                 sink: Callable[[AuditEntry], None] | None = None, keep: bool = True) -> None:
        self.seq, self.head = head
        self.entries: list[AuditEntry] = []
        self._sink = sink
        self._keep = keep

    def append(self, at: datetime, kind: str, actor: str, subject: str,
               detail: dict[str, Any] | None = None) -> AuditEntry:
        detail = json.loads(json.dumps(detail or {}, default=str))  # plain JSON, as stored
        seq = self.seq + 1
        digest = entry_hash(self.head, seq, at, kind, actor, subject, detail)
        entry = AuditEntry(seq, at, kind, actor, subject, detail, self.head, digest)
        self.seq, self.head = seq, digest
        if self._keep:
            self.entries.append(entry)
        if self._sink is not None:
            self._sink(entry)
        return entry


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    entries: int
    head: str
    broken_at: int | None = None
    problem: str | None = None


def verify(entries: Iterable[AuditEntry], anchors: Mapping[int, str] | None = None
           ) -> Verification:
    """Walk the chain from the start; stop at the first entry that does not link or hash.

    `anchors` (entry number -> hash) are heads published outside the database earlier
    (`veilleur audit head`): a chain rewritten from the start links and hashes perfectly, but
    cannot match a head that was published before the rewrite."""
    anchors = dict(anchors or {})
    prev, expected_seq, n = GENESIS, 1, 0
    for e in entries:
        if e.seq != expected_seq:
            what = "missing" if e.seq > expected_seq else "repeated or out of order"
            return Verification(False, n, prev, expected_seq,
                                f"entry {expected_seq} is {what} (found {e.seq} next)")
        if e.prev_hash != prev:
            return Verification(False, n, prev, e.seq,
                                f"entry {e.seq} does not link to entry {e.seq - 1}: "
                                "an earlier entry was changed or removed")
        digest = entry_hash(e.prev_hash, e.seq, e.at, e.kind, e.actor, e.subject, e.detail)
        if digest != e.hash:
            return Verification(False, n, prev, e.seq,
                                f"entry {e.seq} ({e.kind}) was altered: its content does not "
                                "match its hash")
        anchored = anchors.pop(e.seq, None)
        if anchored is not None and anchored != e.hash:
            return Verification(False, n, prev, e.seq,
                                f"entry {e.seq} does not match the head published for it: "
                                "the log was rewritten after it was anchored")
        prev, expected_seq, n = e.hash, expected_seq + 1, n + 1
    if anchors:
        first = min(anchors)
        return Verification(False, n, prev, first,
                            f"entry {first} was anchored but is no longer in the log")
    return Verification(True, n, prev)
