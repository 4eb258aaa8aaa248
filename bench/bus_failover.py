"""A detect worker's failover with its memory in the state store: what the one taking over
pays to restore it.

    PYTHONPATH=src .venv/bin/python bench/bus_failover.py --events 50000 --partitions 8

A worker reads `--events` of the replay's ordinary mix (`bench/bus.py`'s traffic) with its
memory in Quix's state store, commits, and is killed with SIGKILL. A second worker starts
in the same group: it reads the `labels` topic whole, restores each partition's store from
its changelog topic, and answers a probe (one advert in one of the servers). Measured: the
seconds from the second worker's start to its answer, the changelog messages and labels it
read, and the same start-to-answer with `--no-state` (nothing to restore: the start-up of a
worker alone). Tansu, the test broker, keeps everything in memory; a real cluster's restore
reads from disk and over the network (docs/capacity.md §6, §10).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bus import SRC, traffic
from veilleur.bus import testbroker, topics
from veilleur.bus.producer import EventProducer

PROGRESS = re.compile(r"progress: read=(\d+)")
LABELS = re.compile(r"labels read: (\d+)")


def worker(broker: str, prefix: str, partitions: int, folder: Path, name: str,
           state: bool) -> tuple[subprocess.Popen[bytes], Path]:
    log = folder / f"{name}.log"
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "veilleur", "worker", "--stage", "detect", "--broker", broker,
           "--topic-prefix", prefix, "--group", f"{prefix}detect",
           "--partitions", str(partitions),
           "--session-timeout-ms", str(testbroker.SESSION_TIMEOUT_MS),
           "--commit-interval", "1", "--state-dir", str(folder / f"{name}-state"),
           "--state" if state else "--no-state"]
    for k, v in testbroker.PRODUCER_OPTIONS.items():
        cmd += ["--producer-option", f"{k}={v}"]
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                stdin=subprocess.DEVNULL), log


def read_count(log: Path) -> int:
    found = PROGRESS.findall(log.read_text()) if log.exists() else []
    return int(found[-1]) if found else 0


def changelog_messages(broker: str, prefix: str) -> int:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": broker, "group.id": f"{prefix}size"})
    total = 0
    for name, meta in consumer.list_topics(timeout=30).topics.items():
        if name.startswith("changelog__") and prefix.rstrip(".") in name:
            for p in meta.partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(name, p), timeout=30)
                total += high - low
    consumer.close()
    return total


def answered(broker: str, prefix: str, event_id: str, timeout: float) -> float | None:
    """When the probe's findings arrived (monotonic), or None."""
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": broker, "group.id": f"{prefix}probe-{uuid.uuid4()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "session.timeout.ms": testbroker.SESSION_TIMEOUT_MS})
    consumer.subscribe([topics.names(prefix)[topics.FINDINGS]])
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            msg = consumer.poll(0.2)
            if msg is not None and msg.error() is None and \
                    json.loads(msg.value()).get("event_id") == f"id:{event_id}":
                return time.monotonic()
    finally:
        consumer.close()
    return None


def once(broker: str, events: list[dict[str, Any]], partitions: int, folder: Path,
         state: bool) -> dict[str, Any]:
    prefix = f"fo{uuid.uuid4().hex[:6]}."
    producer = EventProducer(broker, prefix=prefix, partitions=partitions,
                             options=dict(testbroker.PRODUCER_OPTIONS))
    first, first_log = worker(broker, prefix, partitions, folder, f"{prefix}first", state)
    try:
        for i in range(0, len(events), 5000):
            producer.put(events[i:i + 5000])
        # Read when its progress stops moving (it reports once a second while it reads).
        end, seen, still = time.monotonic() + 600, -1, time.monotonic()
        while seen < 0.9 * len(events) or time.monotonic() - still < 5.0:
            if first.poll() is not None or time.monotonic() > end:
                raise RuntimeError("the first worker stopped or stalled: "
                                   + first_log.read_text()[-2000:])
            if read_count(first_log) != seen:
                seen, still = read_count(first_log), time.monotonic()
            time.sleep(0.5)
        # ... and 5 s more: several commits, the stores are in their changelogs.
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    changelog = changelog_messages(broker, prefix)
    guild = next(e["message"]["guild_id"] for e in events if e["type"] == "message")
    probe = {"type": "message", "ts": "2026-11-30T12:00:00Z", "event_id": "probe",
             "message": {"id": "probe", "channel_id": "probe-c", "guild_id": guild,
                         "author_id": "probe-u", "content": "vends packs -14 ans, écrivez en mp"}}
    started = time.monotonic()
    second, second_log = worker(broker, prefix, partitions, folder, f"{prefix}second", state)
    try:
        producer.put([probe])
        at = answered(broker, prefix, "probe", 300)
    finally:
        os.kill(second.pid, signal.SIGTERM)
        second.wait(timeout=60)
    labels = LABELS.findall(second_log.read_text())
    return {"state": state, "events": len(events), "changelog_messages": changelog,
            "labels_read_at_start": int(labels[-1]) if labels else 0,
            "start_to_answer_s": round(at - started, 2) if at is not None else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    events = traffic(args.events, args.seed)
    load = os.getloadavg()[0]
    tansu = testbroker.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            runs = [once(tansu.address, events, args.partitions, Path(tmp), state)
                    for state in (True, False)]
    finally:
        tansu.stop()
    print(json.dumps({"bench": "bus.failover", "cores": os.cpu_count(),
                      "partitions": args.partitions, "load_before": round(load, 2),
                      "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
