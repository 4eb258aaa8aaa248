from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from veilleur.service.app import create_app
from veilleur.service.auth import add_account, create_key
from veilleur.service.runtime import Runtime, ServiceSettings

ALL_SCOPES = ["events", "verdict", "reports", "notices", "orders", "appeals", "cases:read",
              "cases:decide", "banks", "metrics"]
PASSWORD = "a long test password"


@dataclass
class Service:
    rt: Runtime
    client: TestClient
    key: str
    headers: dict[str, str] = field(default_factory=dict)

    def post(self, path: str, body: Any, **kw: Any) -> Any:
        return self.client.post(path, json=body, headers=self.headers, **kw)

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, headers=self.headers, **kw)

    def key_for(self, *scopes: str, flagger: str | None = None) -> dict[str, str]:
        _, secret = create_key(self.rt.db, "other", list(scopes), datetime.now(UTC),
                               flagger=flagger)
        return {"Authorization": f"Bearer {secret}"}

    def drain(self) -> None:
        # A wait, not a speed target: the first event loads the models and compiles the
        # kernels, which on a busy machine takes well over half a minute.
        assert self.rt.wait_idle(300), "the engine did not take in what was accepted"

    def login(self, username: str) -> str:
        """Log in to the console; returns the session's CSRF token."""
        page = self.client.get("/console/login")
        pre = re.search(r'name="prelogin" value="([^"]+)"', page.text)
        assert pre is not None
        r = self.client.post("/console/login", data={"username": username,
                                                      "password": PASSWORD,
                                                      "prelogin": pre.group(1)},
                             follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/console/", r.text
        queue = self.client.get("/console/")
        token = re.search(r'data-csrf="([^"]+)"', queue.text)
        assert token is not None
        return token.group(1)


def open_service(url: str, tmp_path: Path, *, peer: tuple[str, int] = ("testclient", 50000),
                 **settings: Any) -> Iterator[Service]:
    rt = Runtime(ServiceSettings(db=url, evidence_key=tmp_path / "evidence.key",
                                 media_root=tmp_path / "media", form_min_seconds=0.0,
                                 **settings))
    now = datetime.now(UTC)
    _, secret = create_key(rt.db, "platform", ALL_SCOPES, now)
    for name, role in (("rita", "reviewer"), ("sam", "specialist"), ("ada", "admin")):
        add_account(rt.db, name, PASSWORD, role, now, language="en")
    with TestClient(create_app(runtime=rt), client=peer) as client:
        yield Service(rt, client, secret, {"Authorization": f"Bearer {secret}"})


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    """The service on SQLite."""
    (tmp_path / "media").mkdir()
    yield from open_service(str(tmp_path / "v.db"), tmp_path)


@pytest.fixture
def any_service(db_url: str, tmp_path: Path) -> Iterator[Service]:
    """The service on SQLite and on a real PostgreSQL."""
    (tmp_path / "media").mkdir()
    yield from open_service(db_url, tmp_path)


T0 = "2026-11-20T10:00:00Z"


def server_events(guild: str = "g1", owner: str = "u1") -> list[dict[str, Any]]:
    """A server laid out as a catalogue, and a message offering material in it."""
    return [
        {"type": "user_seen", "ts": T0, "user": {"id": owner, "name": "vendor"}},
        {"type": "guild_created", "ts": T0, "guild": {"id": guild, "name": "ADØS NXDES",
                                                      "owner_id": owner}},
        {"type": "channel_created", "ts": T0, "channel": {"id": f"{guild}-c1",
                                                          "guild_id": guild,
                                                          "name": "teaser-mineure"}},
        {"type": "message", "ts": "2026-11-20T10:01:00Z", "message": {
            "id": f"{guild}-m1", "channel_id": f"{guild}-c1", "guild_id": guild,
            "author_id": owner, "content": "vends pack cp mineures, paiement paypal",
            "attachments": []}},
    ]


def message(mid: str, content: str, *, author: str = "u9", channel: str = "c-plain",
            guild: str | None = "g-plain", attachments: list[dict[str, Any]] | None = None,
            ts: str = "2026-11-20T11:00:00Z") -> dict[str, Any]:
    return {"type": "message", "ts": ts, "message": {
        "id": mid, "channel_id": channel, "guild_id": guild, "author_id": author,
        "content": content, "attachments": attachments or []}}
