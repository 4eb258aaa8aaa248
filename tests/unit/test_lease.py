"""While `veilleur serve` holds a database, no other process writes its casework: the lease,
who it names, when it lapses; commands that only look still work (audited), and a case whose
items were lost does not stop casework from being taken up."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, text

from tests.service.conftest import message
from veilleur.deployment import stored_casework
from veilleur.enforce.evidence import EvidenceKey
from veilleur.store import lease
from veilleur.store.auditlog import audit_entries
from veilleur.store.casework import ReadOnlyCaseworkError, set_hold
from veilleur.store.db import connect
from veilleur.store.models import LeaseRow

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    engine = connect(f"sqlite:///{tmp_path / 'v.db'}")
    yield engine
    engine.dispose()


def test_a_held_database_names_its_holder(db: Engine) -> None:
    lease.take(db, "service-a", NOW)
    lease.refuse_if_held(db, NOW, mine="service-a")  # its own holder writes
    with pytest.raises(lease.DatabaseHeld) as held:
        lease.refuse_if_held(db, NOW)
    assert str(held.value).startswith(
        f"veilleur serve (pid {os.getpid()} on {socket.gethostname()}) holds this database: "
        "use the console or the API")
    with pytest.raises(lease.DatabaseHeld):
        lease.take(db, "service-b", NOW)  # a second service is refused too
    assert lease.renew(db, "service-a", NOW + timedelta(seconds=30))
    lease.release(db, "service-a")
    assert lease.holder(db, NOW) is None
    lease.take(db, "service-b", NOW)


def test_a_lease_lapses_when_it_is_not_renewed(db: Engine) -> None:
    lease.take(db, "service-a", NOW)
    later = NOW + lease.TTL + timedelta(seconds=1)
    assert lease.holder(db, later) is None
    lease.take(db, "service-b", later)  # the first is gone: the second takes over
    assert not lease.renew(db, "service-a", later)  # and the first, if it wakes, knows


def test_a_killed_holder_on_this_host_frees_the_database_at_once(db: Engine) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with db.begin() as conn:
        conn.execute(insert(LeaseRow).values(name=lease.SERVE, token="killed", pid=gone.pid,
                                             host=socket.gethostname(), since=NOW,
                                             renewed_at=NOW))
    assert lease.holder(db, NOW) is None
    lease.take(db, "restarted", NOW)


def _stored_case(tmp_path: Path) -> tuple[str, EvidenceKey]:
    from veilleur.service.runtime import Runtime, ServiceSettings

    rt = Runtime(ServiceSettings(db=str(tmp_path / "v.db"),
                                 evidence_key=tmp_path / "evidence.key"))
    answer = rt.verdict(message("m1", "vends pack cp mineures, paiement paypal"), "test")
    rt.sync()
    for engine in (rt.db, rt.inbox.db, rt.verdict_log.db):
        engine.dispose()
    assert answer["case_id"]
    return answer["case_id"], rt.key


def test_casework_writers_are_refused_while_a_service_holds_the_database(
        tmp_path: Path, db: Engine) -> None:
    case_id, key = _stored_case(tmp_path)
    now = datetime.now(UTC)  # the writers judge the lease at the time they run
    lease.take(db, "service-a", now)
    with pytest.raises(lease.DatabaseHeld):
        stored_casework(db, key)  # review next / decide / revert / release, a scan, a replay
    with pytest.raises(lease.DatabaseHeld):
        set_hold(db, "ev-1", "court order", actor="cli", at=now)
    looking = stored_casework(db, key, read_only=True)  # review show
    looking.view(case_id, now, viewer="rita")
    looking.sink.flush()
    assert [e.kind for e in audit_entries(db)][-1] == "case.viewed"
    with pytest.raises(ReadOnlyCaseworkError):
        looking.take(case_id, "rita", now)


def test_a_case_whose_items_were_lost_is_taken_up(tmp_path: Path, db: Engine) -> None:
    """A checkpoint that stored the case but not its items (the write before it failed)."""
    case_id, key = _stored_case(tmp_path)
    with db.begin() as conn:
        conn.execute(text("DELETE FROM intakes"))
    cw = stored_casework(db, key)
    view = cw.view(case_id, NOW, viewer="rita")
    assert view["id"] == case_id and view["items"] == []
