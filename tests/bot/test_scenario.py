"""The bot end to end, without a network: discord.py's real objects from payloads, the real
runtime (`veilleur serve`'s) on SQLite, a fake HTTP client. A member posts a teaser with a
spaced mega link in a channel named like a catalogue: the bot holds it, times the author out
as the server's policy says, logs it with the evidence's hash and the message's link (never
the link to the files), and the evidence was sealed before the deletion."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import discord
import pytest

from tests.bot import fakes as f
from veilleur.bot import events as bev
from veilleur.bot.client import Handlers
from veilleur.bot.execute import Executor
from veilleur.bot.intake import EmbeddedEngine
from veilleur.bot.policy import parse_policy
from veilleur.service.runtime import Runtime, ServiceSettings
from veilleur.taxonomy import Target, TargetKind

MEMBER = (700_000_000_000_000_123, "vendeur")
MOD_LOG = 555_000_000_000_000_001


def bot(rt: Runtime, guild_id: int, calls: list[str]) -> tuple[Handlers, Any]:
    http = f.http()
    http.delete_message.side_effect = lambda *a, **k: calls.append("delete")
    engine = EmbeddedEngine(rt)
    real = engine.evidence_of

    async def evidence_of(message_id: int) -> Any:
        found = await real(message_id)
        calls.append(f"evidence {len(found)}")
        return found

    policy = parse_policy({"guild_id": str(guild_id), "mod_log_channel": str(MOD_LOG),
                           "automatic": {"csam": ["hold_message", "timeout"]}}, "test")
    handlers = Handlers(engine, {guild_id: policy}, Executor(http, evidence_of),
                        self_id=lambda: f.BOT_ID)
    return handlers, http


def play(handlers: Handlers, g: discord.Guild, *messages: discord.Message) -> None:
    """The server as the bot finds it, then each message, until all is carried out."""
    async def scene() -> None:
        handlers.intake.start()
        handlers.guild_available(g)
        for m in messages:
            handlers.message(m)
        await handlers.settle()

    asyncio.run(scene())


def test_a_teaser_with_a_spaced_mega_link_in_a_catalogue_channel_is_held_and_logged(
        runtime: Runtime) -> None:
    st = f.state()
    g = f.guild(st, f.snowflake(), "Le Salon")
    catalogue = f.text_channel(st, g, f.snowflake(), "teaser-mineure")
    f.text_channel(st, g, MOD_LOG, "mod-log")
    calls: list[str] = []
    handlers, http = bot(runtime, g.id, calls)
    mid = f.snowflake(f.later(5))
    lure = f.message(st, catalogue, mid, MEMBER,
                     "teaser du pack, le reste en VIP sur mega . nz / folder / x")
    hello = f.message(st, catalogue, f.snowflake(f.later(6)), (701, "quelqu'un"), "bonjour")

    async def scene() -> None:
        handlers.intake.start()
        handlers.guild_available(g)   # the server and its channels, journaled first
        handlers.message(lure)
        handlers.message(hello)
        await handlers.settle()
        handlers.delete(discord.RawMessageDeleteEvent({"id": str(mid), "channel_id":
                                                       str(catalogue.id),
                                                       "guild_id": str(g.id)}))
        await handlers.settle()

    asyncio.run(scene())
    # Evidence first: sealed by the engine, checked by the executor, then the deletion.
    assert calls == ["evidence 1", "delete"]
    [record] = runtime.evidence_of(Target(TargetKind.MESSAGE, str(mid)))
    http.delete_message.assert_awaited_once()
    assert http.delete_message.await_args.args == (catalogue.id, mid)
    assert http.edit_member.await_args.args == (g.id, MEMBER[0])
    # The case: numbered 1 on this server, a private thread in the mod-log channel, and one
    # line in the mod log with the severity, the deadline and the four buttons.
    [thread_call] = http.start_thread_without_message.await_args_list
    assert thread_call.args == (MOD_LOG,) and thread_call.kwargs["type"] == 12
    assert thread_call.kwargs["invitable"] is False
    head_call, log_call = http.send_message.await_args_list
    assert head_call.args == (MOD_LOG,)
    head = head_call.kwargs["params"].payload
    assert "Case #1" in head["content"] and "severity critical" in head["content"]
    assert [c["custom_id"] for row in head["components"] for c in row["components"]] == [
        f"veilleur:case:{a}:{g.id}:1" for a in ("confirm", "clear", "escalate", "undo")]
    # The case's thread: the message's link, the evidence's hash, the case; no mega link.
    case = handlers.moderation.book.get(g.id, 1)
    assert case is not None and case.thread_id is not None
    assert log_call.args == (case.thread_id,)
    assert case.head_channel == MOD_LOG and case.head_message is not None
    text = log_call.kwargs["params"].payload["content"]
    assert f"https://discord.com/channels/{g.id}/{catalogue.id}/{mid}" in text
    assert f"{record[0]} sha256 {record[1]}" in text
    assert "csam" in text and "case #1 (" in text
    assert "mega.nz" not in text and "mega . nz" not in text
    # The ordinary message was read and left alone; the deletion was journaled as ours.
    assert runtime.wait_idle(10)
    assert runtime.stats["failed"] == 0
    assert runtime.stats["verdicts"] == 2
    assert handlers.removed == set()


def picture() -> bytes:
    """A generated picture (a gradient): the bank entry below names it."""
    import io

    from PIL import Image

    img = Image.new("RGB", (96, 96))
    img.putdata([(x * 2, y * 2, (x + y) % 256) for y in range(96) for x in range(96)])
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def test_pictures_are_fetched_under_a_cap_hashed_by_the_engine_and_not_kept_in_clear(
        runtime: Runtime) -> None:
    import hashlib
    from unittest.mock import AsyncMock

    from sqlalchemy import select

    from veilleur.store.models import AttachmentRow

    st = f.state()
    data = picture()
    st.http.get_from_cdn = AsyncMock(return_value=data)
    g = f.guild(st, f.snowflake(), "Le Salon")
    ch = f.text_channel(st, g, f.snowflake(), "photos")
    small, big, doc = f.snowflake(), f.snowflake(), f.snowflake()
    m = f.message(st, ch, f.snowflake(f.later(2)), MEMBER, "regarde", attachments=[
        f.attachment(small, "a.png", size=len(data)),
        f.attachment(big, "b.png", size=50 * 1024 * 1024),
        f.attachment(doc, "c.pdf", size=100, content_type="application/pdf")])
    handlers, _http = bot(runtime, g.id, [])

    play(handlers, g, m)
    # Every file under the cap is fetched, whatever its declared type; the big one is not.
    assert st.http.get_from_cdn.await_count == 2
    runtime.sync()
    with runtime.db.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(AttachmentRow))}
    assert rows[str(small)].sha256 == hashlib.sha256(data).hexdigest()
    assert rows[str(small)].md5 == hashlib.md5(data).hexdigest()
    assert rows[str(big)].sha256 is None and rows[str(big)].url.startswith("https://cdn.")
    assert rows[str(doc)].sha256 == hashlib.sha256(data).hexdigest()
    assert list(runtime.upload_dir.glob("*")) == []  # the clear copy is gone


def banked(tmp_path: Path, sha: str) -> Runtime:
    """A started runtime on a database whose hash bank lists `sha` as csam."""
    from typer.testing import CliRunner

    from veilleur.cli import app

    bank = tmp_path / "bank.csv"
    bank.write_text(f"signal_type,signal,category\nsha256,{sha},csam\n", encoding="utf-8")
    db = str(tmp_path / "bot.db")
    r = CliRunner().invoke(app, ["bank", "import", str(bank), "--db", db])
    assert r.exit_code == 0, r.output
    rt = Runtime(ServiceSettings(db=db, evidence_key=tmp_path / "evidence.key",
                                 checkpoint_seconds=0.05))
    rt.start()
    return rt


@pytest.mark.parametrize(("name", "declared"), [
    ("x.png", "image/png"),
    # Renamed, with another type: still fetched, decoded by its own bytes, matched.
    ("notes.dat", "application/octet-stream")])
def test_a_picture_in_a_hash_bank_is_held_with_its_digest_in_the_mod_log(
        tmp_path: Path, name: str, declared: str) -> None:
    """A generated picture is entered in a bank (as a hotline's list would hold a known
    file); posted in an ordinary channel, it is fetched, matched, sealed, held, and the mod
    log names it by SHA-256 only."""
    import hashlib
    from unittest.mock import AsyncMock

    data = picture()
    sha = hashlib.sha256(data).hexdigest()
    rt = banked(tmp_path, sha)
    try:
        st = f.state()
        st.http.get_from_cdn = AsyncMock(return_value=data)
        g = f.guild(st, f.snowflake(), "Le Salon")
        ch = f.text_channel(st, g, f.snowflake(), "general")
        aid, mid = f.snowflake(), f.snowflake(f.later(4))
        m = f.message(st, ch, mid, MEMBER, "",
                      attachments=[f.attachment(aid, name, size=len(data),
                                                content_type=declared)])
        calls: list[str] = []
        handlers, http = bot(rt, g.id, calls)

        play(handlers, g, m)
        assert calls == ["evidence 1", "delete"]
        text = http.send_message.await_args.kwargs["params"].payload["content"]
        assert f"Attachments (not shown, never reposted): {aid} sha256 {sha}" in text
        assert "csam" in text and "cdn.discordapp" not in text
        assert list(rt.upload_dir.glob("*")) == []
        # The picture's bytes are in the sealed evidence; the clear copy is gone.
        import base64

        [(record_id, _)] = rt.evidence_of(Target(TargetKind.MESSAGE, str(mid)))
        doc = rt.casework.vault.open(record_id, actor="test", purpose="check", at=f.T0)
        [att] = doc["attachments"]
        assert att["sha256"] == sha and base64.b64decode(att["bytes_b64"]) == data
    finally:
        rt.stop()


def test_a_message_edited_into_a_lure_is_read_again_and_a_resend_is_a_duplicate(
        runtime: Runtime) -> None:
    st = f.state()
    g = f.guild(st, f.snowflake(), "Le Salon")
    catalogue = f.text_channel(st, g, f.snowflake(), "teaser-mineure")
    calls: list[str] = []
    handlers, http = bot(runtime, g.id, calls)
    mid = f.snowflake(f.later(5))
    first = f.message(st, catalogue, mid, MEMBER, "bonjour")
    edited = f.message(st, catalogue, mid, MEMBER,
                       "teaser du pack, le reste en VIP sur mega . nz / folder / y",
                       edited=f.later(7))

    async def scene() -> None:
        handlers.intake.start()
        handlers.guild_available(g)
        handlers.message(first)
        await handlers.settle()
        assert calls == [] and runtime.stats["verdicts"] == 1
        handlers.edit(discord.RawMessageUpdateEvent(
            {"id": str(mid), "channel_id": str(catalogue.id), "content": edited.content},
            edited))
        await handlers.settle()
        # A gateway resume sends the server again: every event is a duplicate.
        assert await handlers.engine.send(bev.guild(g, f.T0)) == 0

    asyncio.run(scene())
    assert calls == ["evidence 1", "delete"]
    assert http.delete_message.await_args.args == (catalogue.id, mid)
    # What the case holds, and a reviewer reads, is the message as it reads now.
    runtime.sync()
    with runtime.lock:
        stored = runtime.casework.content.message(str(mid))
    assert stored is not None and "mega . nz" in stored.content


def test_nothing_is_removed_before_the_evidence_is_durable(tmp_path: Path) -> None:
    """The runtime writes at its checkpoints; with none due for an hour, the verdict's own
    checkpoint must be written before the bot deletes anything (a crash then loses
    nothing)."""
    rt = Runtime(ServiceSettings(db=str(tmp_path / "bot.db"),
                                 evidence_key=tmp_path / "evidence.key",
                                 checkpoint_seconds=3600, checkpoint_events=10**6))
    rt.start()
    try:
        g, _catalogue, lure = f.catalogue_lure(f.state(), MEMBER)
        calls: list[str] = []
        handlers, http = bot(rt, g.id, calls)
        pending: list[int] = []
        http.delete_message.side_effect = lambda *a, **k: pending.append(
            len(rt._uncommitted_verdicts) + len(rt._pending_writes))
        play(handlers, g, lure)
        assert pending == [0]
    finally:
        rt.stop()


@pytest.mark.parametrize("failure", ["client_error", "timeout"])
def test_a_failed_download_still_judges_the_message_and_leaves_no_clear_file(
        runtime: Runtime, failure: str, caplog: pytest.LogCaptureFixture) -> None:
    import aiohttp

    from veilleur.bot import media

    st = f.state()
    data = picture()

    async def cdn(url: str) -> bytes:
        if url.endswith("bad.png"):
            if failure == "timeout":
                await asyncio.sleep(30)
            raise aiohttp.ClientPayloadError("connection reset")
        return data

    st.http.get_from_cdn = cdn
    g = f.guild(st, f.snowflake(), "Le Salon")
    ch = f.text_channel(st, g, f.snowflake(), "photos")
    good, bad = f.snowflake(), f.snowflake()
    mid = f.snowflake(f.later(3))
    m = f.message(st, ch, mid, MEMBER, "regarde", attachments=[
        f.attachment(good, "good.png", size=len(data)),
        f.attachment(bad, "bad.png", size=len(data))])
    handlers, _http = bot(runtime, g.id, [])
    real = media.fetch

    async def quick(*a: Any, **k: Any) -> Any:
        return await real(*a, **k, timeout=0.2)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(media, "fetch", quick)
        play(handlers, g, m)
    assert runtime.stats["verdicts"] == 1  # judged, without the file that failed
    assert list(runtime.upload_dir.glob("*")) == []
    assert f"attachment {bad} sent as a reference, unhashed" in caplog.text
