"""A second process beside a live service: a real `veilleur serve` runs on a database while
`veilleur` commands look at its cases and evidence (audited) and verify the audit log; the
service keeps taking events in, its audit chain stays whole, commands that would change its
casework are refused by name, and a restart recovers. On SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.service.conftest import message, server_events
from veilleur.service.auth import create_key
from veilleur.store.auditlog import audit_entries
from veilleur.store.casework import evidence_rows, list_cases
from veilleur.store.db import connect


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Live:
    def __init__(self, url: str, tmp_path: Path) -> None:
        self.url, self.tmp = url, tmp_path
        self.key_file = tmp_path / "evidence.key"
        self.env = os.environ | {"VEILLEUR_SECRET": "test"}
        self.port = _port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "serve.log"
        self.proc: subprocess.Popen[bytes] | None = None
        db = connect(url)
        _, secret = create_key(db, "platform", ["events", "verdict"], datetime.now(UTC))
        db.dispose()
        self.headers = {"Authorization": f"Bearer {secret}"}

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "veilleur", *args, "--db", self.url],
                              capture_output=True, text=True, env=self.env, timeout=120)

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "veilleur", "serve", "--db", self.url, "--evidence-key",
             str(self.key_file), "--port", str(self.port)],
            stdout=self.log.open("ab"), stderr=subprocess.STDOUT, env=self.env)
        self.until(lambda: self.health().get("status") == "ok", "the service did not come up")

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert self.proc.wait(60) in (0, -signal.SIGTERM), self.log.read_text()[-3000:]

    def health(self) -> dict[str, Any]:
        assert self.proc is not None
        assert self.proc.poll() is None, self.log.read_text()[-3000:]
        try:
            body: dict[str, Any] = httpx.get(f"{self.base}/health", timeout=5).json()
            return body
        except httpx.HTTPError:
            return {}

    def until(self, cond: Any, what: str, timeout: float = 90) -> None:
        end = time.monotonic() + timeout
        while not cond():
            assert time.monotonic() < end, f"{what}\n{self.log.read_text()[-3000:]}"
            time.sleep(0.1)

    def post_events(self, events: list[dict[str, Any]]) -> None:
        r = httpx.post(f"{self.base}/v1/events", json={"events": events},
                       headers=self.headers, timeout=30)
        assert r.status_code == 202, r.text
        self.until(lambda: self.health().get("backlog") == 0, "the events were not taken in")

    def store(self) -> Any:
        return connect(self.url, migrate=False)


@pytest.mark.slow
def test_commands_beside_a_live_service_keep_it_whole(db_url: str, tmp_path: Path) -> None:
    live = Live(db_url, tmp_path)
    live.start()
    try:
        live.post_events(server_events("g1", "u1"))
        db = live.store()
        case_id = list_cases(db)[0]["id"]
        record_id = evidence_rows(db, case_id)[0].id
        db.dispose()
        key = ("--evidence-key", str(live.key_file))

        password = tmp_path / "rita.password"
        password.write_text("a long enough password\n")
        added = live.cli("accounts", "add", "rita", "--role", "specialist",
                         "--password-file", str(password))
        assert added.returncode == 0, added.stderr
        shown = live.cli("review", "show", case_id, "--reviewer", "rita", *key)
        assert shown.returncode == 0, shown.stderr
        opened = live.cli("evidence", "show", record_id, "--actor", "rita", "--purpose",
                          "review", *key)
        assert opened.returncode == 0, opened.stderr
        taken = live.cli("review", "next", "--reviewer", "rita", *key)
        assert taken.returncode == 1
        assert live.proc is not None
        assert (f"veilleur serve (pid {live.proc.pid} on {socket.gethostname()}) holds this "
                "database: use the console or the API") in " ".join(taken.stderr.split())

        # The service's next checkpoints continue the chain after the commands' entries.
        live.post_events(server_events("g2", "u2"))
        verdict = httpx.post(f"{live.base}/v1/verdict", headers=live.headers, timeout=30,
                             json=message("v1", "vends pack cp mineures, paiement paypal"))
        assert verdict.status_code == 200 and verdict.json()["verdict"] == "review"
        live.post_events([message("m-after", "bonjour")])
        assert live.health()["engine"] is True
        verified = live.cli("audit", "verify")
        assert verified.returncode == 0, verified.stderr
        db = live.store()
        kinds = [e.kind for e in audit_entries(db)]
        assert len(list_cases(db)) >= 2
        db.dispose()
        assert kinds.index("case.viewed") < kinds.index("evidence.accessed") < \
            len(kinds) - kinds[::-1].index("case.opened") - 1
        live.stop()

        live.start()  # the restart takes up the casework and the journal
        live.post_events([message("m-restarted", "bonjour")])
        live.stop()
    finally:
        if live.proc is not None and live.proc.poll() is None:
            live.proc.kill()
    verified = live.cli("audit", "verify")
    assert verified.returncode == 0, verified.stderr
