"""`kill -9` under load loses nothing that was accepted: a real `veilleur serve` process is
killed while batches and notices pour in, restarted on the same database, and every event and
notice it answered 'accepted' is counted in the store."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from veilleur.service.auth import create_key
from veilleur.store.db import connect
from veilleur.store.models import InboxRow, IntakeRow, MessageRow


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start(db: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {"VEILLEUR_SECRET": "test"}
    return subprocess.Popen(
        [sys.executable, "-m", "veilleur", "serve", "--db", str(db), "--port", str(port)],
        stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env)


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"the service exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("the service did not come up")


class Load(threading.Thread):
    """Batches of new messages and, between them, notices, until the service goes away."""

    def __init__(self, base: str, key: str) -> None:
        super().__init__(daemon=True)
        self.base, self.headers = base, {"Authorization": f"Bearer {key}"}
        self.messages: set[str] = set()
        self.notices: set[str] = set()
        self.batches = 0

    def run(self) -> None:
        n = 0
        with httpx.Client(timeout=5) as client:
            while True:
                batch: list[dict[str, Any]] = []
                for _ in range(200):
                    n += 1
                    batch.append({"type": "message", "ts": "2026-11-20T12:00:00Z",
                                  "message": {"id": f"m{n}", "channel_id": f"c{n % 50}",
                                              "guild_id": "g1", "author_id": f"u{n % 300}",
                                              "content": f"message {n} about the weekend",
                                              "attachments": []}})
                try:
                    r = client.post(f"{self.base}/v1/events", json={"events": batch},
                                    headers=self.headers)
                    if r.status_code == 202:
                        self.messages.update(batch[i["index"]]["message"]["id"]
                                             for i in r.json()["items"])
                        self.batches += 1
                    notice = client.post(f"{self.base}/v1/notices", headers=self.headers,
                                         json={"id": f"N{n}", "items": [{"target": {
                                             "kind": "message", "id": f"m{n}"}}],
                                               "explanation": "x", "category_claimed": "ncii"})
                    if notice.status_code == 202:
                        self.notices.add(f"N{n}-1")
                except httpx.HTTPError:
                    return


@pytest.mark.slow
def test_kill_9_under_load_loses_no_accepted_event(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    database = connect(f"sqlite:///{db}")
    _, key = create_key(database, "load", ["events", "notices"], datetime.now(UTC))
    database.dispose()
    port = _port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    proc = _start(db, port, log)
    try:
        _wait_healthy(base, proc)
        load = Load(base, key)
        load.start()
        deadline = time.monotonic() + 30
        while load.batches < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        load.join(10)
        assert load.batches >= 40, log.read_text()[-2000:]
        accepted = set(load.messages)
        notices = set(load.notices)
        journal = connect(f"sqlite:///{db}-inbox", migrate=False)
        with journal.connect() as conn:
            done_before = conn.execute(select(func.count()).select_from(InboxRow).where(
                InboxRow.done_at.is_not(None))).scalar_one()
            total_before = conn.execute(select(func.count()).select_from(InboxRow)
                                        ).scalar_one()
        journal.dispose()
        # The kill came while work was still waiting: the restart has something to do.
        assert total_before > done_before

        proc = _start(db, port, log)
        _wait_healthy(base, proc)
        end = time.monotonic() + 120
        while httpx.get(f"{base}/health").json()["backlog"] and time.monotonic() < end:
            time.sleep(0.2)
        assert httpx.get(f"{base}/health").json()["backlog"] == 0
        proc.send_signal(signal.SIGTERM)  # a clean stop writes the rest
        proc.wait(60)
        store = connect(f"sqlite:///{db}", migrate=False)
        with store.connect() as conn:
            messages = set(conn.execute(select(MessageRow.id)).scalars())
            intakes = set(conn.execute(select(IntakeRow.id)).scalars())
        store.dispose()
        journal = connect(f"sqlite:///{db}-inbox", migrate=False)
        with journal.connect() as conn:
            pending = conn.execute(select(func.count()).select_from(InboxRow).where(
                InboxRow.done_at.is_(None))).scalar_one()
        journal.dispose()
        lost_messages = accepted - messages
        lost_notices = {n for n in notices if f"report:{n}" not in intakes}
        print(f"accepted {len(accepted)} messages and {len(notices)} notices; "
              f"{total_before - done_before} waiting at the kill")
        assert not lost_messages, f"{len(lost_messages)} accepted messages lost"
        assert not lost_notices, f"{len(lost_notices)} accepted notices lost"
        assert pending == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_verdict_answered_before_a_crash_is_taken_in_after_it(tmp_path: Path) -> None:
    """The verdict's message is journaled before the answer; a process that dies before its
    next checkpoint leaves it to the next one, which takes it in first."""
    from veilleur.service.runtime import Runtime, ServiceSettings

    settings = ServiceSettings(db=str(tmp_path / "v.db"))
    first = Runtime(settings)  # no engine thread: nothing is ever checkpointed
    answer = first.verdict({"message": {"id": "vm1", "channel_id": "c1", "guild_id": "g1",
                                        "author_id": "u1",
                                        "content": "vends pack cp mineures, paiement paypal"}},
                           "test")
    assert answer["verdict"] == "review"
    for engine in (first.db, first.inbox.db, first.verdict_log.db):
        engine.dispose()  # the process is gone: its buffers with it
    with connect(f"sqlite:///{tmp_path / 'v.db'}", migrate=False).connect() as conn:
        assert "vm1" not in set(conn.execute(select(MessageRow.id)).scalars())
    second = Runtime(settings)
    assert second.backlog == 1
    second.start()
    assert second.wait_idle(300)
    second.stop()
    store = connect(f"sqlite:///{tmp_path / 'v.db'}", migrate=False)
    with store.connect() as conn:
        assert "vm1" in set(conn.execute(select(MessageRow.id)).scalars())
        intakes = list(conn.execute(select(IntakeRow.target_id)).scalars())
    store.dispose()
    assert "vm1" in intakes
