"""Files, proxies, login lockout and /metrics in the running service (issue 15, item 8)."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
from PIL import Image
from sqlalchemy import select

from veilleur.store.models import AccountRow, AuditRow

from .conftest import PASSWORD, Service, open_service

NOTICE = {"locations": "https://chat.example/m/1", "kind": "other",
          "explanation": "a test notice", "ticket": "x"}


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)




# --- files ----------------------------------------------------------------------------------


def test_the_service_keeps_its_files_owner_only(tmp_path: Path, umask_022: None) -> None:
    (tmp_path / "media").mkdir()
    png = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(png, "PNG")
    for s in open_service(str(tmp_path / "data" / "v.db"), tmp_path):
        r = s.client.post("/v1/verdict/upload", headers=s.headers,
                          files={"file": ("p.png", png.getvalue(), "image/png")},
                          data={"message_id": "m1", "channel_id": "c1", "author_id": "u1",
                                "attachment_id": "a1"})
        assert r.status_code == 200, r.text
        s.post("/v1/verdict", {"type": "message", "ts": "2026-11-20T11:00:00Z", "message": {
            "id": "m2", "channel_id": "c1", "author_id": "u1", "content": "salut",
            "attachments": []}})
        data = tmp_path / "data"
        files = sorted(data.rglob("*"))
        names = {p.name for p in files}
        assert {"v.db", "v.db-wal", "v.db-shm", "v.db-inbox", "v.db-verdicts",
                "v.db.uploads"} <= names, names
        for p in [data, *files]:
            assert mode(p) == (0o700 if p.is_dir() else 0o600), f"{p}: {mode(p):04o}"
        assert mode(tmp_path / "evidence.key") == 0o600


# --- the client's address -------------------------------------------------------------------


def _notices(s: Service, n: int, spoof: bool = True) -> list[int]:
    return [s.client.post("/notice", data=NOTICE, headers={
        "X-Forwarded-For": f"198.51.100.{i}"} if spoof else {}).status_code
        for i in range(n)]


def test_forwarded_for_is_ignored_from_an_untrusted_peer(tmp_path: Path) -> None:
    (tmp_path / "media").mkdir()
    for s in open_service(str(tmp_path / "v.db"), tmp_path, peer=("127.0.0.1", 5000)):
        codes = _notices(s, 11)
        assert 429 not in codes[:10] and codes[10] == 429, codes


def test_forwarded_for_is_believed_from_a_trusted_proxy(tmp_path: Path) -> None:
    (tmp_path / "media").mkdir()
    for s in open_service(str(tmp_path / "v.db"), tmp_path, peer=("10.0.0.2", 5000),
                          trusted_proxies=("10.0.0.0/8",)):
        assert 429 not in _notices(s, 11)  # eleven clients behind the proxy
        codes = _notices(s, 11, spoof=False)  # the proxy itself: one client
        assert codes[-1] == 429, codes
        _wrong_login(s, "rita", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.7"})
        with s.rt.db.connect() as conn:
            detail = conn.execute(select(AuditRow.detail).where(
                AuditRow.kind == "console.login_failed")).scalar_one()
        assert json.loads(detail)["address"] == "203.0.113.7"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_a_real_server_trusts_no_proxy_by_default(tmp_path: Path) -> None:
    """`veilleur serve` as run: uvicorn must not believe X-Forwarded-For from loopback, the
    files it creates at start are owner-only under umask 022, /metrics needs a key."""
    port, db = _port(), tmp_path / "v.db"
    log = (tmp_path / "serve.log").open("wb")
    env = os.environ | {"VEILLEUR_SECRET": "test"}
    env.pop("VEILLEUR_EVIDENCE_KEY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "veilleur", "serve", "--db", str(db), "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=env, umask=0o022)
    base = f"http://127.0.0.1:{port}"
    try:
        end = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < end, "the service did not come up"
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        with httpx.Client(base_url=base, timeout=10) as client:
            codes = [client.post("/notice", data=NOTICE, headers={
                "X-Forwarded-For": f"198.51.100.{i}"}).status_code for i in range(11)]
            assert 429 not in codes[:10] and codes[10] == 429, codes
            assert client.get("/metrics").status_code == 401
        for name in ("v.db", "v.db-wal", "v.db-shm", "v.db-inbox", "v.db-verdicts",
                     "v.db.evidence-key"):
            assert mode(tmp_path / name) == 0o600, f"{name}: {mode(tmp_path / name):04o}"
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


# --- login lockout --------------------------------------------------------------------------


def _wrong_login(s: Service, user: str, password: str = "not the password",
                 headers: dict[str, str] | None = None) -> httpx.Response:
    page = s.client.get("/console/login")
    pre = re.search(r'name="prelogin" value="([^"]+)"', page.text)
    assert pre is not None
    r: httpx.Response = s.client.post(
        "/console/login", data={"username": user, "password": password,
                                "prelogin": pre.group(1)},
        headers=headers or {}, follow_redirects=False)
    return r


def test_an_account_is_locked_after_repeated_failures(service: Service) -> None:
    first = [_wrong_login(service, "rita") for _ in range(5)]
    # Locked: the right password gets the very answer a wrong one (or no account) gets.
    right = _wrong_login(service, "rita", PASSWORD)
    nobody = _wrong_login(service, "nobody-here")
    for r in (*first, right, nobody):
        assert (r.status_code, r.headers["location"]) == (303, "/console/login?error=1")
        assert "veilleur_session" not in r.headers.get("set-cookie", "")
    with service.rt.db.connect() as conn:
        audit = [(a, json.loads(d)) for a, d in conn.execute(
            select(AuditRow.actor, AuditRow.detail)
            .where(AuditRow.kind == "console.login_failed").order_by(AuditRow.seq))]
        row = conn.execute(select(AccountRow.locked_until, AccountRow.lockouts).where(
            AccountRow.username == "rita")).one()
    assert [a for a, _ in audit] == ["rita"] * 6 + ["nobody-here"]
    assert [("locked_until" in d) for _, d in audit] == [False] * 4 + [True, True, False]
    assert row.lockouts == 1 and row.locked_until is not None
    service.login("sam")  # another account is not affected


# --- /metrics -------------------------------------------------------------------------------


def test_metrics_need_the_metrics_scope(service: Service) -> None:
    assert service.client.get("/metrics").status_code == 401
    other = service.key_for("events", "cases:read")
    r = service.client.get("/metrics", headers=other)
    assert r.status_code == 403 and "metrics" in r.json()["detail"]
    r = service.client.get("/metrics", headers=service.key_for("metrics"))
    assert r.status_code == 200 and "veilleur_inbox_backlog" in r.text


def test_metrics_may_be_opened_to_configured_addresses(tmp_path: Path) -> None:
    (tmp_path / "media").mkdir()
    for s in open_service(str(tmp_path / "v.db"), tmp_path, peer=("127.0.0.1", 5000),
                          metrics_from=("127.0.0.0/8",)):
        assert s.client.get("/metrics").status_code == 200
    for s in open_service(str(tmp_path / "w.db"), tmp_path, peer=("192.0.2.8", 5000),
                          metrics_from=("127.0.0.0/8",)):
        assert s.client.get("/metrics").status_code == 401
        # A forged header from an untrusted peer does not open them either.
        assert s.client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}
                            ).status_code == 401
