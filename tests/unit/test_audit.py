from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from veilleur.audit import AuditLog, verify

T = datetime(2026, 3, 1, tzinfo=UTC)


def _log(n: int = 5) -> list:
    log = AuditLog()
    for i in range(n):
        log.append(T + timedelta(minutes=i), "intake", "engine", f"report:{i}",
                   {"target": {"kind": "message", "id": str(i)}, "score": 0.5 + i / 10})
    return log.entries


def test_an_untouched_chain_verifies() -> None:
    result = verify(_log())
    assert result.ok and result.entries == 5 and result.broken_at is None


def test_an_altered_entry_is_named() -> None:
    entries = _log()
    entries[2] = replace(entries[2], detail={**entries[2].detail, "score": 0.0})
    result = verify(entries)
    assert not result.ok and result.broken_at == 3 and "altered" in (result.problem or "")
    assert result.entries == 2


def test_a_removed_entry_is_named() -> None:
    entries = _log()
    del entries[1]
    result = verify(entries)
    assert not result.ok and result.broken_at == 2 and "missing" in (result.problem or "")


def test_a_rewritten_tail_does_not_link() -> None:
    # Someone recomputes entry 3's own hash after changing it: entry 4 no longer links to it.
    entries = _log()
    from veilleur.audit import entry_hash

    e = replace(entries[2], actor="someone else")
    e = replace(e, hash=entry_hash(e.prev_hash, e.seq, e.at, e.kind, e.actor, e.subject,
                                   e.detail))
    entries[2] = e
    result = verify(entries)
    assert not result.ok and result.broken_at == 4 and "does not link" in (result.problem or "")


def test_a_log_continues_from_a_stored_head() -> None:
    first = _log(3)
    more = AuditLog(head=(first[-1].seq, first[-1].hash))
    more.append(T, "decision", "alice", "case-1", {})
    assert verify([*first, *more.entries]).ok


@given(st.integers(0, 4), st.sampled_from(["kind", "actor", "subject", "at"]))
def test_any_change_to_any_field_is_caught_at_that_entry(i: int, field: str) -> None:
    entries = _log()
    value = T + timedelta(days=9) if field == "at" else "tampered"
    entries[i] = replace(entries[i], **{field: value})
    result = verify(entries)
    assert not result.ok and result.broken_at == i + 1


def _rewrite_from(entries: list, i: int) -> list:  # type: ignore[type-arg]
    """What an attacker with write access does: change entry i, then re-hash every link."""
    from veilleur.audit import GENESIS, entry_hash

    out, prev = [], GENESIS
    for n, e in enumerate(entries):
        if n == i:
            e = replace(e, detail={"rewritten": True})
        e = replace(e, prev_hash=prev)
        e = replace(e, hash=entry_hash(prev, e.seq, e.at, e.kind, e.actor, e.subject,
                                       e.detail))
        out.append(e)
        prev = e.hash
    return out


def test_a_published_head_catches_a_rewrite_from_the_start() -> None:
    entries = _log()
    anchor = {entries[3].seq: entries[3].hash}  # published when the log had 4 entries
    forged = _rewrite_from(entries, 1)
    assert verify(forged).ok  # a full rewrite links and hashes perfectly...
    result = verify(forged, anchor)  # ...but not to what was published
    assert not result.ok and result.broken_at == 4 and "published" in (result.problem or "")
    assert verify(entries, anchor).ok
    truncated = verify(entries[:2], anchor)
    assert not truncated.ok and "no longer in the log" in (truncated.problem or "")
