"""`veilleur serve --bus`: the front door's accepted events/s (checked, put on `events`,
acknowledged by the broker), and the findings/s its engine thread takes into casework.

    python bench/serve_bus.py --events 20000 --findings 3000

Front door: the replay's ordinary platform traffic (`replay_scenarios.background`) posted
to `POST /v1/events` in batches of 1,000 through the service's app in this process (no
network hop; the HTTP parsing, the checks, the producer and the broker's acknowledgement
are counted). Take-in: findings messages made by the detect stage itself (`DetectStage`, in
this process, not counted) on synthetic solicitation lines spread over servers and direct
conversations (three per server, each by its own account), put on `findings`; measured
from the first put until the service has taken and written them all (cases, intakes,
sealed evidence, the checkpoints, the offset commits). Then the same messages through the
sink stage's logic alone, without a broker (`sink_stage_reference`: what casework itself
costs per finding, the bound of any take-in). Tansu is a test broker (memory only): a real
cluster's numbers come from the same command with `--broker HOST:PORT`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from replay_scenarios import EventLog, background
from veilleur.bus import testbroker, topics
from veilleur.bus.serve import BusSettings

T0 = datetime(2026, 11, 1, tzinfo=UTC)
LURES = ("vends packs -14 ans, écrivez en mp", "CP packs dispo, prix en dm")


def traffic(n: int, seed: int) -> list[dict[str, Any]]:
    log = EventLog(Path(tempfile.gettempdir()))
    background(log, T0, n, seed=seed, guilds=max(50, n // 500), users=max(500, n // 20))
    return [e for _, _, e in sorted(log.events, key=lambda x: (x[0], x[1]))]


def findings_messages(n: int) -> list[dict[str, Any]]:
    from veilleur.bus.detect import DetectStage

    stage = DetectStage(worker="bench")
    out: list[dict[str, Any]] = []
    i = 0
    while len(out) < n:
        # A few adverts per server, each by its own account: cases of ordinary size (one
        # server flooded with thousands makes a few huge cases, whose cost is casework's
        # own and the same without a bus).
        guild = f"bg{i // 3}" if i % 5 else None
        m: dict[str, Any] = {"id": f"bm{i}", "channel_id": f"bc{i // 3}",
                             "author_id": f"bu{i}", "content": LURES[i % 2]}
        if guild:
            m["guild_id"] = guild
        out += stage.answer(json.dumps({"type": "message", "ts": "2026-11-01T12:00:00Z",
                                        "event_id": f"bev{i}", "message": m}))
        i += 1
    return out[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--findings", type=int, default=3_000)
    ap.add_argument("--broker", help="HOST:PORT of a running broker (default: start Tansu)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    from confluent_kafka import Producer
    from fastapi.testclient import TestClient

    from veilleur.service.app import create_app
    from veilleur.service.auth import create_key
    from veilleur.service.runtime import Runtime, ServiceSettings

    tansu = testbroker.start() if args.broker is None else None
    broker = args.broker or (tansu.address if tansu else "")
    events = traffic(args.events, args.seed)
    found = findings_messages(args.findings)
    result: dict[str, Any] = {"events": len(events), "findings_messages": len(found)}
    with tempfile.TemporaryDirectory() as tmp:
        prefix = f"sb{uuid.uuid4().hex[:6]}."
        rt = Runtime(ServiceSettings(
            db=f"{tmp}/v.db", evidence_key=Path(tmp) / "evidence.key",
            key_per_minute=1e9, key_burst=10**9,
            bus=BusSettings(url=f"kafka://{broker}", prefix=prefix, group=f"{prefix}serve",
                            partitions=8, session_timeout_ms=testbroker.SESSION_TIMEOUT_MS)))
        _, secret = create_key(rt.db, "bench", ["events"], datetime.now(UTC))
        headers = {"Authorization": f"Bearer {secret}"}
        try:
            with TestClient(create_app(runtime=rt)) as client:
                started = time.perf_counter()
                for i in range(0, len(events), 1000):
                    r = client.post("/v1/events", json={"events": events[i:i + 1000]},
                                    headers=headers)
                    if r.status_code != 202:
                        raise RuntimeError(f"batch {i}: {r.status_code} {r.text[:300]}")
                seconds = time.perf_counter() - started
                result["front_door"] = {"seconds": round(seconds, 2),
                                        "accepted_events_per_s": round(len(events) / seconds)}
                producer = Producer({"bootstrap.servers": broker})
                name = topics.names(prefix)[topics.FINDINGS]
                started = time.perf_counter()
                for m in found:
                    producer.produce(name, json.dumps(m).encode(), m["key"].encode())
                producer.flush(30)
                while rt.bus.stats["findings_messages"] < len(found):
                    if time.perf_counter() - started > 600:
                        raise RuntimeError(f"taken {rt.bus.stats['findings_messages']}")
                    time.sleep(0.05)
                rt.sync()
                seconds = time.perf_counter() - started
                result["take_in"] = {"seconds": round(seconds, 2),
                                     "findings_messages_per_s": round(len(found) / seconds),
                                     "intakes": len(rt.casework.intakes),
                                     "cases": len(rt.casework.cases)}
        finally:
            if tansu is not None:
                tansu.stop()
        result["sink_stage_reference"] = sink_reference(found, Path(tmp))
    print(json.dumps(result, indent=1))


def sink_reference(found: list[dict[str, Any]], folder: Path) -> dict[str, Any]:
    """The same findings messages through the sink stage's logic in this process, no broker
    (a checkpoint every 500): what casework itself costs, the bound of any take-in."""
    from veilleur.bus.sink import SinkStage

    stage = SinkStage(f"{folder}/sink.db", evidence_key=folder / "sink.key")
    started = time.perf_counter()
    try:
        for i, m in enumerate(found):
            stage.take(m)
            if i % 500 == 499:
                stage.checkpoint()
        stage.checkpoint()
    finally:
        stage.close()
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2),
            "findings_messages_per_s": round(len(found) / seconds)}


if __name__ == "__main__":
    main()
