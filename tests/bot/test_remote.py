"""The bot as a client of a running service (`--api`): the same scenario through the real
API (`/v1/events`, `/v1/verdict`) in process; the evidence the service lists in its verdict
is what the executor checks before the hold. With a fake service (`httpx.MockTransport`):
the queue on disk while it is unreachable, replayed in order (after a restart too), new items
behind it, a refused item dropped alone, 429 waited out, a refused key stopping the bot."""

from __future__ import annotations

import asyncio
import hashlib
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


# --- degrading safely: the queue on disk ----------------------------------------------------


class FakeService:
    """`veilleur serve` as far as the bot sees it: up or down, what it took in order, and
    the answers it is told to give."""

    def __init__(self) -> None:
        self.up = False
        self.got: list[tuple[str, Any]] = []
        self.calls = 0
        self.answers: list[httpx.Response] = []
        """Given first, one per call (429, 422...), before the normal answers."""
        self.bad_ids: set[str] = set()
        self.during: Any = None
        """An async function run inside the next call (new items arriving meanwhile)."""

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        import json

        self.calls += 1
        if request.url.path == "/health":
            return httpx.Response(200, json={"backlog": 0})
        if not self.up:
            raise httpx.ConnectError("connection refused", request=request)
        if self.during is not None:
            during, self.during = self.during, None
            await during()
        if self.answers:
            return self.answers.pop(0)
        path = request.url.path
        if path == "/v1/verdict/message":
            return self._message(request)
        body = json.loads(request.content)
        if path == "/v1/events":
            if any(e.get("event_id") in self.bad_ids for e in body["events"]):
                return httpx.Response(422, json={"detail": "a bad event in the batch"})
            self.got += [(path, e) for e in body["events"]]
            return httpx.Response(202, json={"accepted": len(body["events"]),
                                             "duplicates": 0, "rejected": [], "items": []})
        if path == "/v1/reports" and body.get("id") in self.bad_ids:
            return httpx.Response(422, json={"detail": "bad report"})
        self.got.append((path, body))
        if path == "/v1/verdict":
            return httpx.Response(200, json={"message_id": body["message"]["id"],
                                             "verdict": "allow", "findings": []})
        return httpx.Response(202, json={"accepted": 1, "duplicates": 0, "rejected": []})

    message_answer: dict[str, Any] | None = None
    """What `/v1/verdict/message` answers (default: allow)."""

    def _message(self, request: httpx.Request) -> httpx.Response:
        """A multipart message: its `event` and its file parts, by part name."""
        import email
        import email.policy
        import json

        head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
        form = email.message_from_bytes(head + request.content, policy=email.policy.HTTP)
        parts: dict[str, bytes] = {}
        event: Any = None
        for part in form.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True)
            if name == "event":
                event = json.loads(data)
            else:
                parts[str(name)] = data
        self.got.append(("/v1/verdict/message", {"event": event, "parts": parts,
                                                  "raw": request.content}))
        answer = self.message_answer or {"verdict": "allow", "findings": []}
        return httpx.Response(200, json={"message_id": event["message"]["id"]} | answer | {
            "files": [{"attachment_id": n.removeprefix("file:"),
                       "sha256": hashlib.sha256(d).hexdigest()} for n, d in parts.items()]})

    def ids(self) -> list[str]:
        return [b.get("event_id") or b.get("id") for _, b in self.got]


def event(n: int) -> dict[str, Any]:
    return {"type": "guild_created", "ts": "2026-12-01T10:00:00Z", "event_id": f"e{n}",
            "guild": {"id": str(n), "name": "x"}}


def message(n: int) -> dict[str, Any]:
    return {"type": "message", "ts": "2026-12-01T10:00:00Z", "event_id": f"m{n}",
            "message": {"id": str(n), "channel_id": "2", "guild_id": "1", "author_id": "3",
                        "content": "hello"}}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def queued_engine(svc: FakeService, folder: Path, clock: Clock | None = None,
                  **kw: Any) -> ServiceEngine:
    from veilleur.bot.diskqueue import DiskQueue

    clock = clock or Clock()
    client = httpx.AsyncClient(transport=httpx.MockTransport(svc))
    kw.setdefault("background", False)
    return ServiceEngine("http://veilleur.test", "vk_x", client=client,
                         queue=DiskQueue(folder), sleep=clock.sleep, clock=clock,
                         order_seconds=0.0, **kw)


def test_while_the_service_is_down_everything_is_queued_on_disk_and_replayed_in_order_after_a_restart(  # noqa: E501
        tmp_path: Path) -> None:
    from veilleur.bot.plan import MessageRef, plan
    from veilleur.bot.policy import default_policy

    svc = FakeService()

    async def down() -> None:
        engine = queued_engine(svc, tmp_path / "q")
        assert await engine.send([event(1), event(2)]) == 2
        answer = await engine.judge(message(3))
        assert answer.queued and answer.verdict == "allow"
        p = plan(answer, MessageRef(1, 2, 3, 4), default_policy(1))
        assert p.empty  # nothing is done on a message nobody judged
        await engine.report({"id": "r4", "target": {"kind": "user", "id": "9"}})
        assert await engine.send([event(5)]) == 1
        assert len(engine.queue or ()) == 5
        assert await engine.drain() > 0  # still down
        await engine.close()

    asyncio.run(down())
    assert svc.got == []
    svc.up = True

    async def restarted() -> None:
        engine = queued_engine(svc, tmp_path / "q")  # the bot restarted: the file is read
        assert len(engine.queue or ()) == 5
        await engine.send([event(6)])  # behind what was queued, never ahead
        assert svc.got == []
        assert await engine.drain() == 0.0
        assert len(engine.queue or ()) == 0
        await engine.send([event(7)])  # straight through again
        await engine.close()

    asyncio.run(restarted())
    assert svc.ids() == ["e1", "e2", "m3", "r4", "e5", "e6", "e7"]
    # The message went as a plain event (judged by the service when it took it in).
    assert [p for p, _ in svc.got] == ["/v1/events"] * 3 + ["/v1/reports"] + ["/v1/events"] * 3


def test_items_arriving_while_the_queue_drains_go_behind_it(tmp_path: Path) -> None:
    svc = FakeService()

    async def scene() -> None:
        engine = queued_engine(svc, tmp_path / "q", batch=2)
        await engine.send([event(i) for i in range(5)])
        svc.up = True

        async def meanwhile() -> None:  # the gateway goes on while the replay is in flight
            await engine.send([event(10)])
            answer = await engine.judge(message(11))
            assert answer.queued

        svc.during = meanwhile
        assert await engine.drain() == 0.0
        await engine.close()

    asyncio.run(scene())
    assert svc.ids() == ["e0", "e1", "e2", "e3", "e4", "e10", "m11"]


def test_the_background_replay_backs_off_to_a_minute_then_drains(tmp_path: Path) -> None:
    svc = FakeService()
    clock = Clock()

    async def scene() -> None:
        engine = queued_engine(svc, tmp_path / "q", clock, background=True)
        await engine.send([event(1)])
        while len(clock.slept) < 7:
            await asyncio.sleep(0)
        svc.up = True
        while len(engine.queue or ()):
            await asyncio.sleep(0)
        await engine.close()

    asyncio.run(scene())
    assert clock.slept[:7] == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    assert svc.ids() == ["e1"]


def test_a_refused_item_is_dropped_alone_and_the_rest_goes_on(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    svc = FakeService()
    svc.bad_ids = {"e2", "r9"}

    async def scene() -> None:
        engine = queued_engine(svc, tmp_path / "q")
        await engine.send([event(i) for i in range(5)])
        await engine.report({"id": "r9", "target": {"kind": "user", "id": "9"}})
        await engine.send([event(6)])
        svc.up = True
        assert await engine.drain() == 0.0
        assert engine.dropped == 2 and len(engine.queue or ()) == 0
        await engine.close()

    asyncio.run(scene())
    assert svc.ids() == ["e0", "e1", "e3", "e4", "e6"]
    assert "refused by the service" in caplog.text and "dropped" in caplog.text


def test_a_429_is_waited_out_as_long_as_it_says_never_a_burst(tmp_path: Path) -> None:
    svc = FakeService()
    svc.up = True
    clock = Clock()

    def busy(seconds: str) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": seconds},
                              json={"detail": "the service has events waiting"})

    async def scene() -> None:
        engine = queued_engine(svc, tmp_path / "q", clock, busy_seconds=10)
        svc.answers = [busy("7")]
        assert await engine.send([event(1)]) == 1  # waited in line: 7 s is within 10
        assert clock.slept == [7.0] and svc.ids() == ["e1"]
        svc.answers = [busy("7"), busy("30")]
        await engine.send([event(2)])  # 7 + 30 > 10: queued, the replay waits 30 s
        assert len(engine.queue or ()) == 1 and clock.slept == [7.0, 7.0]
        calls = svc.calls
        await engine.send([event(3)])  # behind it, no call
        assert svc.calls == calls
        assert await engine.drain() == 30.0 and svc.calls == calls  # not before it said
        clock.now += 30
        svc.answers = [busy("12")]
        assert await engine.drain() == 12.0
        clock.now += 12
        assert await engine.drain() == 0.0
        await engine.close()

    asyncio.run(scene())
    assert svc.ids() == ["e1", "e2", "e3"]


def test_a_verdict_lost_after_it_was_sent_is_queued_for_the_verdict_journal(
        tmp_path: Path) -> None:
    svc = FakeService()
    svc.up = True

    async def scene() -> None:
        engine = queued_engine(svc, tmp_path / "q")

        async def timeout() -> None:
            raise httpx.ReadTimeout("no answer")

        svc.during = timeout
        answer = await engine.judge(message(1))
        assert answer.queued
        assert engine.queue is not None
        assert [i.path for i in engine.queue.head(5)] == ["/v1/verdict"]
        assert await engine.drain() == 0.0
        await engine.close()

    asyncio.run(scene())
    assert svc.got == [("/v1/verdict", message(1))]


def test_a_refused_key_during_the_replay_stops_the_bot_with_the_queue_kept(
        tmp_path: Path) -> None:
    svc = FakeService()

    async def scene() -> None:
        engine = queued_engine(svc, tmp_path / "q")
        await engine.send([event(1)])
        svc.up = True
        svc.answers = [httpx.Response(401, json={"detail": "unknown key"})]
        with pytest.raises(EngineDown, match="refused the API key"):
            await engine.drain()
        with pytest.raises(EngineDown, match="refused the API key"):
            await engine.send([event(2)])
        assert len(engine.queue or ()) == 1
        await engine.close()

    asyncio.run(scene())


def test_the_service_takes_a_resend_as_a_duplicate(tmp_path: Path) -> None:
    """At least once is harmless: the service knows each event, report and verdict again."""
    rt = Runtime(ServiceSettings(db=str(tmp_path / "s.db"),
                                 evidence_key=tmp_path / "evidence.key",
                                 checkpoint_seconds=0.05))
    _, key = create_key(rt.db, "bot", ["events", "verdict", "reports"], datetime.now(UTC))
    rt.start()
    app = create_app(runtime=rt, start=False)

    async def scene() -> list[Any]:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                   base_url="http://veilleur.test",
                                   headers={"Authorization": f"Bearer {key}"})
        out = []
        for _ in range(2):
            r = await client.post("/v1/events", json={"events": [event(1)]})
            out.append(r.json()["duplicates"])
            r = await client.post("/v1/reports", json={
                "id": "r1", "target": {"kind": "user", "id": "9"}})
            out.append((r.status_code, r.json()["duplicates"]))
            r = await client.post("/v1/verdict", json=message(2))
            out.append(r.json().get("duplicate", False))
        await client.aclose()
        return out

    try:
        got = asyncio.run(scene())
    finally:
        rt.stop()
    assert got == [0, (202, 0), False, 1, (202, 1), True]


def test_the_bot_does_nothing_on_a_message_the_service_could_not_judge_and_sends_it_later(
        tmp_path: Path) -> None:
    svc = FakeService()
    g, _catalogue, lure = f.catalogue_lure(f.state(), MEMBER, "z")
    http = f.http()
    policy = parse_policy({"guild_id": str(g.id), "mod_log_channel": str(MOD_LOG),
                           "automatic": {"csam": ["hold_message"]}}, "test")

    async def scene() -> None:
        engine = queued_engine(svc, tmp_path / "q")
        h = Handlers(engine, {g.id: policy}, Executor(http, engine.evidence_of),
                     self_id=lambda: f.BOT_ID)
        h.intake.start()
        h.guild_available(g)
        h.message(lure)
        await h.settle()
        assert h.intake.down is None  # the bot goes on
        svc.up = True
        assert await engine.drain() == 0.0
        await engine.close()

    asyncio.run(scene())
    http.delete_message.assert_not_called()
    http.send_message.assert_not_called()
    assert [b.get("type") for _, b in svc.got][-1] == "message"
    assert svc.got[-1][1]["message"]["id"] == str(lure.id)


def test_without_a_queue_an_unreachable_service_stops_the_bot_after_its_tries() -> None:
    svc = FakeService()
    clock = Clock()

    async def scene() -> None:
        engine = ServiceEngine("http://veilleur.test", "vk_x",
                               client=httpx.AsyncClient(transport=httpx.MockTransport(svc)),
                               tries=3, sleep=clock.sleep, clock=clock)
        try:
            await engine.send([event(1)])
        finally:
            await engine.close()

    with pytest.raises(EngineDown, match=r"unreachable.*3 tries"):
        asyncio.run(scene())
    assert clock.slept == [0.5, 1.0]


def test_a_full_queue_refuses_and_says_so_the_member_is_told_to_try_again(
        tmp_path: Path) -> None:
    from veilleur.bot.diskqueue import DiskQueue

    svc = FakeService()

    async def scene() -> None:
        engine = ServiceEngine("http://veilleur.test", "vk_x",
                               client=httpx.AsyncClient(transport=httpx.MockTransport(svc)),
                               queue=DiskQueue(tmp_path / "q", max_rows=2), background=False)
        assert await engine.send([event(1), event(2), event(3)]) == 2
        answer = await engine.judge(message(4))
        assert not answer.queued and answer.verdict == "allow"
        assert "queue is full" in answer.reasons[0]
        with pytest.raises(RuntimeError, match="disk queue is full"):
            await engine.report({"id": "r5", "target": {"kind": "user", "id": "9"}})
        assert engine.queue is not None and engine.queue.refused == 3
        await engine.close()

    asyncio.run(scene())


# --- attachments: fetched by the bot, sent with the message ---------------------------------


def two_pictures(st: Any, tag: int) -> tuple[Any, Any, dict[int, bytes]]:
    """A server, and a message in an ordinary channel carrying two generated pictures
    (Discord's CDN, faked, gives each its own bytes)."""
    from unittest.mock import AsyncMock

    from tests.factories import gradient_png

    g = f.guild(st, f.snowflake(), "Le Salon")
    ch = f.text_channel(st, g, f.snowflake(), "general")
    a1, a2 = f.snowflake(), f.snowflake()
    data = {a1: gradient_png(64, 64, seed=tag), a2: gradient_png(64, 64, seed=tag + 1)}
    by_url = {f"https://cdn.discordapp.com/attachments/1/{a}/p{a}.png": d
              for a, d in data.items()}
    st.http.get_from_cdn = AsyncMock(side_effect=lambda url: by_url[url])
    m = f.message(st, ch, f.snowflake(f.later(3)), MEMBER, "regarde", attachments=[
        f.attachment(a, f"p{a}.png", size=len(d)) for a, d in data.items()])
    return g, m, data


def hold_policy(guild_id: int) -> Any:
    return parse_policy({"guild_id": str(guild_id), "mod_log_channel": str(MOD_LOG),
                         "automatic": {"csam": ["hold_message"]}}, "test")


def test_fetched_files_go_with_the_message_in_one_call_and_the_local_copies_go(
        tmp_path: Path) -> None:
    svc = FakeService()
    svc.up = True
    st = f.state()
    g, m, data = two_pictures(st, 20)
    svc.message_answer = {
        "verdict": "review", "case_id": None,
        "findings": [{"target": {"kind": "attachment", "id": str(next(iter(data)))},
                      "category": "csam", "score": 1.0, "evidence": "bank test-bank"}],
        "evidence": [{"target": {"kind": "message", "id": str(m.id)}, "id": "ev-9",
                      "sha256": "ab" * 32}]}
    http = f.http()
    spool = tmp_path / "q" / "spool"

    async def scene() -> None:
        engine = queued_engine(svc, tmp_path / "q")
        assert engine.spool == spool and spool.stat().st_mode & 0o077 == 0
        h = Handlers(engine, {g.id: hold_policy(g.id)}, Executor(http, engine.evidence_of),
                     self_id=lambda: f.BOT_ID)
        h.intake.start()
        h.guild_available(g)
        h.message(m)
        await h.settle()
        assert [e.record_id for e in await engine.evidence_of(m.id)] == ["ev-9"]
        await engine.close()

    asyncio.run(scene())
    [(path, sent)] = [(p, b) for p, b in svc.got if p != "/v1/events"]
    assert path == "/v1/verdict/message"
    # One part per file, named by its attachment, holding its bytes.
    assert sent["parts"] == {f"file:{a}": d for a, d in data.items()}
    # The service sees Discord's references, never the bot's folder.
    atts = sent["event"]["message"]["attachments"]
    assert [a["path"] for a in atts] == [
        f"https://cdn.discordapp.com/attachments/1/{a}/p{a}.png" for a in data]
    assert sent["event"]["event_id"] == f"discord:message:{m.id}"
    assert str(tmp_path).encode() not in sent["raw"]
    assert list(spool.iterdir()) == []  # the clear copies are gone
    # Every file was sent and hashed: the message may be taken down, evidence first.
    http.delete_message.assert_awaited_once()
    text = http.send_message.await_args.kwargs["params"].payload["content"]
    for a, d in data.items():
        assert f"{a} sha256 {hashlib.sha256(d).hexdigest()}" in text


def test_while_the_service_is_down_a_message_is_queued_with_its_references_only(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    svc = FakeService()
    st = f.state()
    g, m, data = two_pictures(st, 30)
    http = f.http()

    async def timeout() -> None:
        raise httpx.ReadTimeout("no answer")

    async def scene() -> None:
        engine = queued_engine(svc, tmp_path / "q")
        h = Handlers(engine, {g.id: hold_policy(g.id)}, Executor(http, engine.evidence_of),
                     self_id=lambda: f.BOT_ID)
        h.intake.start()
        h.guild_available(g)
        h.message(m)  # unreachable: queued as a plain event
        await h.settle()
        assert engine.queue is not None
        queued = engine.queue.head(10)
        assert [i.path for i in queued][-1] == "/v1/events"
        svc.up = True
        assert await engine.drain() == 0.0
        svc.during = timeout  # sent, the answer lost: queued for the verdicts' journal
        h.message(m)
        await h.settle()
        [again] = engine.queue.head(10)
        assert again.path == "/v1/verdict"
        for item in (queued[-1], again):
            assert [a["path"] for a in item.body["message"]["attachments"]] == [
                f"https://cdn.discordapp.com/attachments/1/{a}/p{a}.png" for a in data]
            assert str(tmp_path) not in str(item.body)
        assert list((tmp_path / "q" / "spool").iterdir()) == []
        await engine.close()

    asyncio.run(scene())
    http.delete_message.assert_not_called()
    assert caplog.text.count("were not hashed") == 2
    # The multipart call was tried (and lost) once; nothing else carried the files.
    assert [p for p, _ in svc.got] == ["/v1/events"] * 3


def test_a_crash_s_clear_copies_are_removed_at_the_next_start(tmp_path: Path) -> None:
    from veilleur.bot.diskqueue import DiskQueue

    spool = tmp_path / "q" / "spool"
    spool.mkdir(parents=True)
    (spool / "ab.png").write_bytes(b"left by a crash")
    engine = ServiceEngine("http://veilleur.test", "vk_x", queue=DiskQueue(tmp_path / "q"),
                           background=False)
    assert engine.spool == spool and list(spool.iterdir()) == []
    asyncio.run(engine.close())


def test_a_banked_picture_sent_by_the_bot_is_hashed_by_the_service_and_held(
        tmp_path: Path) -> None:
    """Through the real API: two fetched files in one call, one listed in a test bank; the
    service hashes both, seals them, answers with the evidence; the bot holds the message."""
    import base64

    from veilleur.detect.media.banks import BankEntry, ParsedBank
    from veilleur.store.banks import BankStore
    from veilleur.store.db import connect
    from veilleur.taxonomy import Category, Target, TargetKind

    st = f.state()
    g, m, data = two_pictures(st, 40)
    known = next(iter(data.values()))
    db = connect(f"sqlite:///{tmp_path / 's.db'}")
    BankStore(db, tmp_path / "index").import_entries("test-bank", ParsedBank("csv", [
        BankEntry("sha256", hashlib.sha256(known).hexdigest(), Category.CSAM)]), actor="test")
    db.dispose()
    rt = Runtime(ServiceSettings(db=str(tmp_path / "s.db"),
                                 evidence_key=tmp_path / "evidence.key",
                                 checkpoint_seconds=0.05))
    _, key = create_key(rt.db, "discord-bot", ["events", "verdict"], datetime.now(UTC))
    rt.start()
    app = create_app(runtime=rt, start=False)
    calls: list[str] = []
    http = f.http()
    http.delete_message.side_effect = lambda *a, **k: calls.append("delete")

    async def scene() -> None:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
        engine = ServiceEngine("http://veilleur.test", key, client=client,
                               spool=tmp_path / "spool")

        async def evidence_of(message_id: int) -> Any:
            found = await engine.evidence_of(message_id)
            calls.append(f"evidence {len(found)}")
            return found

        h = Handlers(engine, {g.id: hold_policy(g.id)}, Executor(http, evidence_of),
                     self_id=lambda: f.BOT_ID)
        h.intake.start()
        h.guild_available(g)
        h.message(m)
        await h.settle()
        await engine.close()

    try:
        asyncio.run(scene())
        assert calls == ["evidence 1", "delete"]
        assert list((tmp_path / "spool").iterdir()) == []
        assert sorted(p.name for p in rt.upload_dir.iterdir()) == sorted(
            f"{hashlib.sha256(d).hexdigest()}.png" for d in data.values())
        # Both files' bytes are in the sealed evidence, and no path of the bot's.
        [(record_id, _)] = rt.evidence_of(Target(TargetKind.MESSAGE, str(m.id)))
        doc = rt.casework.vault.open(record_id, actor="test", purpose="check", at=f.T0)
        got = {a["id"]: base64.b64decode(a["bytes_b64"]) for a in doc["attachments"]}
        assert got == {str(a): d for a, d in data.items()}
        assert str(tmp_path / "spool") not in str(doc)
    finally:
        rt.stop()
