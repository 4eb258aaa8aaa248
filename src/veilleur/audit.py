"""The audit log: append-only, hash-chained.

Each entry's hash covers its content and the previous entry's hash, so changing, removing or
reordering any entry breaks every link after it; `verify` names the first broken link. The
chain is computed here, purely (`chain`); the store keeps the entries and refuses updates and
deletes.

The chain has one writer at a time, whichever process writes: in memory (a replay) the
`AuditLog` chains each record itself; on a database, several processes append (the service,
a command reading evidence), so the log hands over unchained `AuditRecord`s and the store
chains them onto the head it reads under the database's write lock
(`store.auditlog.append_records`).
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
class AuditRecord:
    """What happened, before it has its place in the chain."""

    at: datetime
    kind: str
    actor: str
    subject: str
    detail: dict[str, Any]


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


def chain(head: tuple[int, str], records: Iterable[AuditRecord]) -> list[AuditEntry]:
    """The records as entries following `head` (its seq and hash), in order."""
    seq, prev = head
    out = []
    for r in records:
        seq += 1
        digest = entry_hash(prev, seq, r.at, r.kind, r.actor, r.subject, r.detail)
        out.append(AuditEntry(seq, r.at, r.kind, r.actor, r.subject, r.detail, prev, digest))
        prev = digest
    return out


class AuditLog:
    """Where casework writes what happened. Each record goes to the sink as it is made.

    With a `head`, this log owns the chain (one process, in memory): it chains each record
    and, with `keep`, keeps the entries. Without (`head=None`, a database), the sink chains
    the records when it stores them, under the database's lock, because another process may
    have appended in between; `seq` then counts this log's records and `head` is None."""

    def __init__(self, *, head: tuple[int, str] | None = (0, GENESIS),
                 sink: Callable[[AuditRecord], None] | None = None, keep: bool = True) -> None:
        self._chained = head is not None
        self.seq: int = head[0] if head is not None else 0
        self.head: str | None = head[1] if head is not None else None
        self.entries: list[AuditEntry] = []
        self._sink = sink
        self._keep = keep and self._chained

    def append(self, at: datetime, kind: str, actor: str, subject: str,
               detail: dict[str, Any] | None = None) -> AuditRecord:
        detail = json.loads(json.dumps(detail or {}, default=str))  # plain JSON, as stored
        record = AuditRecord(at, kind, actor, subject, detail)
        if self._chained:
            assert self.head is not None
            entry = chain((self.seq, self.head), [record])[0]
            self.head = entry.hash
            if self._keep:
                self.entries.append(entry)
        self.seq += 1
        if self._sink is not None:
            self._sink(record)
        return record


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
