import base64
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from veilleur.audit import AuditLog, verify
from veilleur.enforce.evidence import (
    KEY_ENV,
    EvidenceError,
    EvidenceKey,
    EvidenceVault,
    open_record,
)
from veilleur.taxonomy import Target

T = datetime(2026, 3, 1, tzinfo=UTC)
MSG = Target.of("message", "m1")


def _vault(key: EvidenceKey | None = None) -> EvidenceVault:
    ids = iter(range(1, 1000))
    return EvidenceVault(key or EvidenceKey.generate(), AuditLog(), retention_days=365,
                         new_id=lambda kind: f"{kind}-{next(ids)}")


def test_preserved_evidence_is_sealed_and_opens_with_its_key() -> None:
    vault = _vault()
    doc = {"target": MSG.to_json(), "messages": [{"content": "envoie une photo"}]}
    rec = vault.preserve("case-1", MSG, doc, T)
    assert b"envoie" not in rec.ciphertext  # encrypted at rest
    assert rec.expires_at == T + timedelta(days=365)
    assert vault.open(rec.id, actor="alice", purpose="review", at=T) == doc
    kinds = [e.kind for e in vault.audit.entries]
    assert kinds == ["evidence.preserved", "evidence.accessed"]
    assert vault.audit.entries[1].actor == "alice"
    assert verify(vault.audit.entries).ok


def test_a_wrong_key_a_moved_or_altered_blob_never_opens() -> None:
    vault = _vault()
    rec = vault.preserve("case-1", MSG, {"x": 1}, T)
    with pytest.raises(EvidenceError, match="sealed with key"):
        open_record(rec, EvidenceKey.generate())
    moved = type(rec)(**{**rec.__dict__, "case_id": "case-2"})
    with pytest.raises(EvidenceError, match="altered or moved"):
        open_record(moved, vault.key)
    flipped = bytearray(rec.ciphertext)
    flipped[5] ^= 1
    altered = type(rec)(**{**rec.__dict__, "ciphertext": bytes(flipped)})
    with pytest.raises(EvidenceError, match="altered or moved"):
        open_record(altered, vault.key)


def test_an_unknown_record_is_an_error_and_the_attempt_is_logged() -> None:
    vault = _vault()
    with pytest.raises(EvidenceError, match="no evidence record"):
        vault.open("ev-404", actor="mallory", purpose="curiosity", at=T)
    assert vault.audit.entries[-1].detail == {"purpose": "curiosity", "found": False}


def test_retention_purges_only_expired_records_without_a_hold() -> None:
    vault = _vault()
    kept = vault.preserve("case-1", MSG, {"a": 1}, T)
    held = vault.preserve("case-1", Target.of("user", "u1"), {"b": 2}, T)
    extended = vault.preserve("case-1", Target.of("guild", "g1"), {"c": 3}, T)
    vault.hold(held.id, "requête judiciaire 2026/123", actor="legal", at=T)
    vault.extend(Target.of("guild", "g1"), T + timedelta(days=700), "NCMEC report filed", T)
    assert vault.purge(T + timedelta(days=100), actor="cron") == []
    assert vault.purge(T + timedelta(days=366), actor="cron") == [kept.id]
    with pytest.raises(EvidenceError, match="purged"):
        open_record(kept, vault.key)
    assert open_record(held, vault.key) == {"b": 2}
    assert open_record(extended, vault.key) == {"c": 3}


def test_key_file_is_created_private_and_reused(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    path = tmp_path / "keys" / "evidence.key"
    key = EvidenceKey.load(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert EvidenceKey.load(path).id == key.id
    monkeypatch.setenv(KEY_ENV, base64.b64encode(b"k" * 32).decode())
    assert EvidenceKey.load(path).secret == b"k" * 32
    monkeypatch.setenv(KEY_ENV, "not base64!")
    with pytest.raises(EvidenceError, match=KEY_ENV):
        EvidenceKey.load(None)
