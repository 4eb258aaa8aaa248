"""When the engine stops, the service says so and accepts nothing it would not take in: /health
and every accepting path answer 503 naming why; a restart takes the journal in again."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.service.conftest import PASSWORD, Service, message, open_service, server_events
from veilleur.service.app import create_app
from veilleur.service.runtime import Runtime, ServiceSettings
from veilleur.store.auditlog import verify_audit
from veilleur.store.casework import list_cases


def _until(cond: Callable[[], bool], what: str, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, what
        time.sleep(0.05)


def _refuses_everything(s: Service, why: str) -> None:
    health = s.client.get("/health")
    assert health.status_code == 503
    assert health.json()["engine"] is False and why in health.json()["engine_error"]
    answers = {
        "events": s.post("/v1/events", {"events": [message("late-1", "bonjour")]}),
        "verdict": s.post("/v1/verdict", message("late-2", "bonjour")),
        "report": s.post("/v1/reports", {"id": "R9", "target": {"kind": "user", "id": "u1"},
                                         "category_claimed": "grooming"}),
    }
    for path, r in answers.items():
        assert r.status_code == 503, (path, r.status_code, r.text)
        assert why in r.json()["detail"] and r.headers["retry-after"]
    page = s.client.get("/console/login")
    pre = re.search(r'name="prelogin" value="([^"]+)"', page.text)
    assert pre is not None
    login = s.client.post("/console/login", data={"username": "rita", "password": PASSWORD,
                                                  "prelogin": pre.group(1)},
                          follow_redirects=False)
    assert login.status_code == 503, login.text


def test_a_dead_engine_thread_turns_accepting_paths_to_503(
        service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    def fault(now: object) -> None:
        raise RuntimeError("injected fault")

    monkeypatch.setattr(service.rt.casework, "tick", fault)  # the idle loop ticks the clocks
    _until(lambda: service.rt.failure is not None, "the engine thread did not stop")
    _refuses_everything(service, "injected fault")


def test_a_write_the_store_refuses_stops_the_engine_and_the_restart_recovers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "media").mkdir()
    first = open_service(str(tmp_path / "v.db"), tmp_path)
    s = next(first)

    def refused() -> None:
        raise OSError("disk full (injected)")

    monkeypatch.setattr(s.rt.casework.sink, "detach", lambda: refused)
    assert s.post("/v1/events", {"events": server_events()}).status_code == 202
    _until(lambda: s.rt.failure is not None, "the failed write did not stop the engine")
    _refuses_everything(s, "disk full (injected)")
    assert s.rt.inbox.backlog == 4  # not done: nothing of theirs is in the store
    db = s.rt.db
    assert list_cases(db) == []
    next(first, None)  # the service stops without writing over what was lost
    monkeypatch.undo()

    rt = Runtime(ServiceSettings(db=str(tmp_path / "v.db"), evidence_key=tmp_path / "evidence.key",
                                 media_root=tmp_path / "media"))
    with TestClient(create_app(runtime=rt)) as client:
        assert rt.wait_idle(300)
        assert client.get("/health").status_code == 200
        assert [c["category"] for c in list_cases(rt.db)] == ["csam"]
        assert verify_audit(rt.db).ok
        r = client.post("/v1/events", json={"events": [message("after", "bonjour")]},
                        headers=s.headers)
        assert r.status_code == 202


def test_a_service_that_lost_its_lease_stops_writing(service: Service) -> None:
    """Stalled longer than the lease lasts, another process took the database over: this
    service must not write its casework over the other's."""
    from datetime import UTC, datetime

    from veilleur.store import lease

    lease.take(service.rt.db, "another-service", datetime.now(UTC) + lease.TTL * 2)
    service.rt._lease_renewed = 0.0  # its next turn renews
    _until(lambda: service.rt.failure is not None, "the engine kept its lost lease")
    _refuses_everything(service, "lost its hold on the database")
