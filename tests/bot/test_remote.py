"""The bot as a client of a running service (`--api`): the same scenario through the real
API (`/v1/events`, `/v1/verdict`) in process; the evidence the service lists in its verdict
is what the executor checks before the hold."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.bot import fakes as f
from tests.bot.test_scenario import MEMBER, MOD_LOG
from veilleur.bot.client import Handlers
from veilleur.bot.execute import Executor
from veilleur.bot.policy import parse_policy
from veilleur.bot.remote import ServiceEngine
from veilleur.service.app import create_app
from veilleur.service.auth import create_key
from veilleur.service.runtime import EngineDown, Runtime, ServiceSettings


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[Runtime, Any, str]]:
    rt = Runtime(ServiceSettings(db=str(tmp_path / "s.db"),
                                 evidence_key=tmp_path / "evidence.key",
                                 checkpoint_seconds=0.05))
    _, key = create_key(rt.db, "discord-bot", ["events", "verdict"], datetime.now(UTC))
    rt.start()
    yield rt, create_app(runtime=rt, start=False), key
    rt.stop()


def engine_for(app: Any, key: str) -> ServiceEngine:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    return ServiceEngine("http://veilleur.test", key, client=client)


def test_the_bot_on_a_remote_service_holds_a_lure_after_the_service_sealed_evidence(
        service: tuple[Runtime, Any, str]) -> None:
    _rt, app, key = service
    g, catalogue, lure = f.catalogue_lure(f.state(), MEMBER, "z")
    mid = lure.id
    calls: list[str] = []
    http = f.http()
    http.delete_message.side_effect = lambda *a, **k: calls.append("delete")
    policy = parse_policy({"guild_id": str(g.id), "mod_log_channel": str(MOD_LOG),
                           "automatic": {"csam": ["hold_message"]}}, "test")

    async def scene() -> None:
        engine = engine_for(app, key)

        async def evidence_of(message_id: int) -> Any:
            found = await engine.evidence_of(message_id)
            calls.append(f"evidence {len(found)}")
            return found

        h = Handlers(engine, {g.id: policy}, Executor(http, evidence_of),
                     self_id=lambda: f.BOT_ID)
        h.intake.start()
        h.guild_available(g)
        h.message(lure)
        await h.settle()
        await engine.close()

    asyncio.run(scene())
    assert calls == ["evidence 1", "delete"]
    text = http.send_message.await_args.kwargs["params"].payload["content"]
    assert f"/{catalogue.id}/{mid}" in text and "csam" in text


def test_a_refused_key_stops_the_bot(service: tuple[Runtime, Any, str]) -> None:
    _rt, app, _key = service

    async def send() -> None:
        engine = engine_for(app, "vk_not-a-key")
        try:
            await engine.send([{"type": "guild_created", "ts": "2026-12-01T10:00:00Z",
                                "guild": {"id": "1", "name": "x"}}])
        finally:
            await engine.close()

    with pytest.raises(EngineDown, match="refused the API key"):
        asyncio.run(send())
