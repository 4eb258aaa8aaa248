"""The audit chain has one writer at a time, whichever process writes: entries from several
connections (threads standing for processes, each with its own engine) interleave into one
chain that verifies, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from veilleur.audit import AuditLog
from veilleur.store.auditlog import append_audit, audit_entries, verify_audit
from veilleur.store.casework import DatabaseSink
from veilleur.store.db import connect

T = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def test_two_processes_appending_at_once_make_one_chain(db_url: str) -> None:
    connect(db_url).dispose()  # migrated once, before the writers start
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        db = connect(db_url, migrate=False)  # a connection pool of its own, as a process has
        try:
            for i in range(30):
                append_audit(db, T + timedelta(seconds=i), "evidence.accessed", name,
                             f"ev-{i}", {"purpose": "test"})
        except BaseException as exc:  # the assertion below names it
            errors.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=writer, args=(f"w{n}",)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    db = connect(db_url, migrate=False)
    result = verify_audit(db)
    actors = [e.actor for e in audit_entries(db)]
    db.dispose()
    assert result.ok, result.problem
    assert result.entries == 90
    assert sorted(set(actors)) == ["w0", "w1", "w2"]


def test_a_batch_made_before_another_process_wrote_is_chained_after_it(db_url: str) -> None:
    """The service buffers a checkpoint's records; a command appends meanwhile; the batch is
    written onto the head the database has then, not the head the service last knew."""
    service_db = connect(db_url)
    cli_db = connect(db_url, migrate=False)
    append_audit(service_db, T, "intake", "engine", "report:0", {})
    sink = DatabaseSink(service_db)
    log = AuditLog(head=None, sink=sink.audit, keep=False)  # as casework on a database
    for i in range(1, 4):
        log.append(T + timedelta(minutes=i), "intake", "engine", f"report:{i}", {"n": i})
    write = sink.detach()
    append_audit(cli_db, T + timedelta(minutes=5), "case.viewed", "rita", "case-1", {})
    write()
    log.append(T + timedelta(minutes=6), "case.opened", "engine", "case-2", {})
    sink.flush()
    result = verify_audit(service_db)
    kinds = [(e.seq, e.kind) for e in audit_entries(service_db)]
    service_db.dispose()
    cli_db.dispose()
    assert result.ok, result.problem
    assert kinds == [(1, "intake"), (2, "case.viewed"), (3, "intake"), (4, "intake"),
                     (5, "intake"), (6, "case.opened")]


def test_a_log_on_a_database_does_not_chain_in_memory() -> None:
    """Its seq counts what it handed over; the chain is the database's to make."""
    got = []
    log = AuditLog(head=None, sink=got.append)
    log.append(T, "intake", "engine", "report:1", {"when": T})
    assert log.seq == 1 and log.head is None and log.entries == []
    assert got[0].detail == {"when": str(T)}  # plain JSON, as it will be hashed and stored
