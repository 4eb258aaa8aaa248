"""Preserved evidence: encrypted at rest, every access logged, kept a year, legal holds.

A record is a JSON document (the target, its context, attachment hashes and, where the file is
at hand, its bytes), compressed and sealed with AES-256-GCM. The associated data binds the
ciphertext to its record id and case, so a blob moved to another record does not open. A user
deleting a message or an owner deleting a server never touches this: preservation happens
when a case opens, before anyone reviews it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from veilleur.audit import AuditLog
from veilleur.cases.models import iso
from veilleur.private import FILE_MODE, FileModeError, check_secret, make_dir
from veilleur.taxonomy import Target

KEY_ENV = "VEILLEUR_EVIDENCE_KEY"


class EvidenceError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class EvidenceKey:
    id: str
    """A fingerprint of the key (never the key): which key sealed a record."""
    secret: bytes

    @classmethod
    def from_secret(cls, secret: bytes) -> EvidenceKey:
        if len(secret) != 32:
            raise EvidenceError("an evidence key is 32 bytes (base64 of 32 random bytes)")
        return cls(hashlib.sha256(b"veilleur-key-id" + secret).hexdigest()[:16], secret)

    @classmethod
    def generate(cls) -> EvidenceKey:
        return cls.from_secret(AESGCM.generate_key(bit_length=256))

    @classmethod
    def load(cls, key_file: Path | None) -> EvidenceKey:
        """`$VEILLEUR_EVIDENCE_KEY` (base64), else the key file, created (mode 0600) if absent."""
        env = os.environ.get(KEY_ENV)
        if env:
            try:
                return cls.from_secret(base64.b64decode(env, validate=True))
            except ValueError:
                raise EvidenceError(f"${KEY_ENV} is not base64 of 32 bytes") from None
        if key_file is None:
            return cls.generate()
        try:
            if key_file.exists():
                check_secret(key_file, "evidence key")
                return cls.from_secret(base64.b64decode(key_file.read_text().strip()))
            key = cls.generate()
            make_dir(key_file.parent)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            with os.fdopen(fd, "w") as f:
                f.write(base64.b64encode(key.secret).decode() + "\n")
            return key
        except FileModeError as exc:
            raise EvidenceError(str(exc)) from None
        except (OSError, ValueError) as exc:
            raise EvidenceError(f"cannot use the evidence key file {key_file}: {exc}") from None


@dataclass
class EvidenceRecord:
    id: str
    case_id: str
    target: Target
    preserved_at: datetime
    expires_at: datetime
    key_id: str
    nonce: bytes
    ciphertext: bytes
    sha256: str
    """Digest of the plaintext document: what was preserved, provably unchanged."""
    legal_hold: str | None = None
    purged_at: datetime | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "case_id": self.case_id, "target": self.target.to_json(),
                "preserved_at": iso(self.preserved_at), "expires_at": iso(self.expires_at),
                "sha256": self.sha256, "key_id": self.key_id, "legal_hold": self.legal_hold,
                "bytes": len(self.ciphertext), **self.meta}


def _aad(record_id: str, case_id: str) -> bytes:
    return f"veilleur-evidence:{record_id}:{case_id}".encode()


class EvidenceVault:
    def __init__(self, key: EvidenceKey, audit: AuditLog, *, retention_days: int = 365,
                 new_id: Callable[[str], str],
                 sink: Callable[[EvidenceRecord], None] | None = None) -> None:
        self.key = key
        self._aead = AESGCM(key.secret)
        self.audit = audit
        self.retention = timedelta(days=retention_days)
        self.records: dict[str, EvidenceRecord] = {}
        self.by_target: dict[Target, list[str]] = {}
        self._sink = sink
        self._new_id = new_id

    def preserve(self, case_id: str, target: Target, document: dict[str, Any], at: datetime,
                 actor: str = "engine") -> EvidenceRecord:
        record_id = self._new_id("ev")
        plain = json.dumps(document, sort_keys=True, ensure_ascii=False, default=str).encode()
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, zlib.compress(plain, 6), _aad(record_id, case_id))
        rec = EvidenceRecord(record_id, case_id, target, at, at + self.retention, self.key.id,
                             nonce, sealed, hashlib.sha256(plain).hexdigest(),
                             meta={"messages": len(document.get("messages", ())),
                                   "attachments": len(document.get("attachments", ()))})
        self.records[record_id] = rec
        self.by_target.setdefault(target, []).append(record_id)
        self.audit.append(at, "evidence.preserved", actor, record_id,
                          {"case_id": case_id, "target": target.to_json(),
                           "sha256": rec.sha256, "expires_at": iso(rec.expires_at)})
        self._changed(rec)
        return rec

    def restore(self, records: Iterable[EvidenceRecord]) -> None:
        """Records read back from the store (nothing is audited: nothing was opened)."""
        for rec in records:
            self.records[rec.id] = rec
            self.by_target.setdefault(rec.target, []).append(rec.id)

    def open(self, record_id: str, *, actor: str, purpose: str, at: datetime) -> dict[str, Any]:
        """Decrypt one record. Logged before the plaintext is returned, whatever the outcome."""
        rec = self.records.get(record_id)
        self.audit.append(at, "evidence.accessed", actor, record_id, {"purpose": purpose,
                                                                      "found": rec is not None})
        if rec is None:
            raise EvidenceError(f"no evidence record {record_id!r}")
        return open_record(rec, self.key)

    def hold(self, record_id: str, reason: str, *, actor: str, at: datetime) -> None:
        rec = self.records[record_id]
        rec.legal_hold = reason
        self.audit.append(at, "evidence.hold", actor, record_id, {"reason": reason})
        self._changed(rec)

    def extend(self, target: Target, until: datetime, reason: str, at: datetime) -> None:
        for rid in self.by_target.get(target, ()):
            rec = self.records[rid]
            if until > rec.expires_at:
                rec.expires_at = until
                self.audit.append(at, "evidence.extended", "engine", rid,
                                  {"until": iso(until), "reason": reason})
                self._changed(rec)

    def purge(self, now: datetime, *, actor: str) -> list[str]:
        """Drop expired records that no legal hold keeps; the audit log says which."""
        purged = []
        for rec in self.records.values():
            if rec.purged_at is None and rec.legal_hold is None and rec.expires_at <= now:
                rec.ciphertext, rec.purged_at = b"", now
                purged.append(rec.id)
                self.audit.append(now, "evidence.purged", actor, rec.id,
                                  {"expired_at": iso(rec.expires_at)})
                self._changed(rec)
        return purged

    def _changed(self, rec: EvidenceRecord) -> None:
        if self._sink is not None:
            self._sink(rec)


def open_record(rec: EvidenceRecord, key: EvidenceKey) -> dict[str, Any]:
    if rec.purged_at is not None:
        raise EvidenceError(f"evidence {rec.id} was purged on {iso(rec.purged_at)} "
                            "(retention ended, no legal hold)")
    if rec.key_id != key.id:
        raise EvidenceError(f"evidence {rec.id} was sealed with key {rec.key_id}, "
                            f"not with the key given ({key.id})")
    try:
        plain = zlib.decompress(AESGCM(key.secret).decrypt(rec.nonce, rec.ciphertext,
                                                           _aad(rec.id, rec.case_id)))
    except (InvalidTag, zlib.error):
        raise EvidenceError(f"evidence {rec.id} does not decrypt: it was altered or moved"
                            ) from None
    if hashlib.sha256(plain).hexdigest() != rec.sha256:
        raise EvidenceError(f"evidence {rec.id} does not match its recorded digest")
    doc: dict[str, Any] = json.loads(plain)
    return doc


def key_for_database(url: str, key_file: Path | None) -> EvidenceKey:
    """The evidence key for a database: the file given, the environment, or the file beside
    a SQLite database (created on first use)."""
    if key_file is None and url.startswith("sqlite:///"):
        key_file = Path(url.removeprefix("sqlite:///") + ".evidence-key")
    if key_file is None and not os.environ.get(KEY_ENV):
        raise EvidenceError(f"evidence needs a key: set ${KEY_ENV} or pass --evidence-key FILE")
    return EvidenceKey.load(key_file)
