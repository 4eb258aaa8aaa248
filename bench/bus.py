"""The detect stage on a Kafka log: events/s per worker process, with 1 and then 2 processes.

The bench mix is the replay's ordinary platform traffic (`replay_scenarios.background`:
servers, channels, joins, chat, and a few trade adverts among them). For each count of
processes the events are put on a fresh `events` topic of the test broker (Tansu, memory
only) with the bus's producer, then that many `veilleur worker --stage detect` processes
read it in one consumer group. Measured from the first message any worker read to the last
one (each worker logs both). The workers start and their group settles before the events
are put on the topic, so start-up and the join are not counted; reading, the engine, the
findings' production and the offset commits are.

    python bench/bus.py --events 50000 --partitions 8

The same events also go once through the same engine in this process (`embedded`): the
reference for the findings and for the cost of the bus itself. Workers run with their
memory in Quix's state store and shared memory on the labels topic (`--state on`, the
default), and with memory in each process only (`--state off`, where one account's posts in
servers read by two processes are counted apart): the cost of the state store, and what it
changes in the findings.

Tansu is a test broker; a real cluster's numbers come from the same command pointed at it
(`--broker HOST:PORT`). The machine's cores bound what two processes can add.
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from replay_scenarios import EventLog, background
from veilleur.bus import testbroker, wire
from veilleur.bus.producer import EventProducer

T0 = datetime(2026, 11, 1, tzinfo=UTC)
SRC = Path(__file__).resolve().parent.parent / "src"
STOPPED = re.compile(r"stopped: read=(\d+) events=(\d+) findings=(\d+) dead=(\d+) "
                     r"labels_in=(\d+) labels_out=(\d+) first=([\d.]+) last=([\d.]+)")
PROGRESS = re.compile(r"progress: read=(\d+)")


def traffic(n: int, seed: int) -> list[dict[str, Any]]:
    log = EventLog(Path(tempfile.gettempdir()))
    background(log, T0, n, seed=seed, guilds=max(50, n // 500), users=max(500, n // 20))
    return [e for _, _, e in sorted(log.events, key=lambda x: (x[0], x[1]))]


def run(broker: str, events: list[dict[str, Any]], processes: int, partitions: int,
        folder: Path, session_timeout_ms: int, state: bool) -> dict[str, Any]:
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    producer = EventProducer(broker, prefix=prefix, partitions=partitions)
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONWARNINGS": "ignore"}
    logs = [folder / f"{prefix}{k}.log" for k in range(processes)]
    workers = []
    for k in range(processes):
        with open(logs[k], "wb") as out:  # the worker has its own copy
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "veilleur", "worker", "--stage", "detect",
                 "--broker", broker, "--topic-prefix", prefix, "--group", f"{prefix}detect",
                 "--partitions", str(partitions),
                 "--session-timeout-ms", str(session_timeout_ms),
                 "--state-dir", str(folder / f"{prefix}{k}-state"),
                 "--state" if state else "--no-state"],
                stdout=out, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL))
    # The group settles before the first event: a join during the run is not measured.
    while not all(p.exists() and "detect worker" in p.read_text() for p in logs):
        if any(w.poll() is not None for w in workers):
            raise RuntimeError("a worker stopped: " + " ".join(p.read_text() for p in logs))
        time.sleep(0.2)
    time.sleep(2 * session_timeout_ms / 1000)
    started = time.perf_counter()
    for i in range(0, len(events), 5000):
        producer.put(events[i:i + 5000])
    put_s = time.perf_counter() - started
    try:
        # Done when no worker has reported progress for 5 s (they report each second
        # while they read); the counts are checked from what they say when stopped.
        last_change, seen = time.monotonic(), 0
        while seen == 0 or time.monotonic() - last_change < 5.0:
            time.sleep(0.5)
            read = sum(int(m[-1]) if (m := PROGRESS.findall(p.read_text())) else 0
                       for p in logs)
            if read != seen:
                seen, last_change = read, time.monotonic()
            if time.monotonic() - last_change > 120:
                raise RuntimeError(f"no progress for 120 s at {seen} events read")
    finally:
        for w in workers:
            if w.poll() is None:
                os.kill(w.pid, signal.SIGTERM)
        for w in workers:
            w.wait(timeout=60)
    stops = [STOPPED.search(p.read_text()) for p in logs]
    if not all(stops):
        raise RuntimeError("a worker did not report when it stopped: " + str(logs))
    per = [{"read": int(s[1]), "events": int(s[2]), "findings": int(s[3]),
            "dead": int(s[4]), "labels_in": int(s[5]), "labels_out": int(s[6]),
            "first": float(s[7]), "last": float(s[8])}
           for s in stops if s is not None]
    span = max(p["last"] for p in per) - min(p["first"] for p in per if p["read"])
    read = sum(p["read"] for p in per)
    if read < len(events):
        raise RuntimeError(f"the workers read {read} of {len(events)} events: {per}")
    keys = finding_keys(broker, prefix)
    return {"processes": processes, "state": state, "events": len(events), "read": read,
            "distinct_findings": len(keys), "finding_keys": keys,
            "findings": sum(p["findings"] for p in per),
            "labels_out": sum(p["labels_out"] for p in per),
            "labels_in": sum(p["labels_in"] for p in per),
            "dead_letters": sum(p["dead"] for p in per),
            "seconds": round(span, 2), "events_per_s": round(read / span),
            "events_per_s_per_process": round(read / span / processes),
            "read_per_process": [p["read"] for p in per],
            "produce_events_per_s": round(len(events) / put_s)}


def finding_keys(broker: str, prefix: str) -> list[str]:
    """Every finding the workers wrote, once per target and category (the sink's rule):
    the topic read whole, every partition up to its end (no group to join)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    from veilleur.bus import topics

    name = topics.names(prefix)[topics.FINDINGS]
    consumer = Consumer({"bootstrap.servers": broker, "group.id": f"{prefix}count",
                         "enable.auto.commit": False})
    parts = sorted(consumer.list_topics(name, timeout=30).topics[name].partitions)
    end = {p: consumer.get_watermark_offsets(TopicPartition(name, p), timeout=30)[1]
           for p in parts}
    end = {p: high for p, high in end.items() if high > 0}
    consumer.assign([TopicPartition(name, p, OFFSET_BEGINNING) for p in parts])
    keys: set[str] = set()
    deadline = time.monotonic() + 120
    while end and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None or msg.error() is not None:
            continue
        keys.update(f["key"] for f in json.loads(msg.value())["findings"])
        if msg.offset() + 1 >= end.get(msg.partition(), 0):
            end.pop(msg.partition(), None)
    consumer.close()
    return sorted(keys)


def embedded(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The same events through the same engine in this process (no bus): the reference the
    workers' findings and speed are read against."""
    from veilleur.deployment import Mode, Settings, assemble
    from veilleur.ingest.eventlog import parse_event
    from veilleur.ingest.media import MediaReader

    engine = assemble(Settings(mode=Mode.DETECT)).engine
    reader = MediaReader(read_local=False)
    started = time.perf_counter()
    found = 0
    keys: set[str] = set()
    for raw in events:
        new = engine.process(parse_event(raw, Path("/nonexistent"), reader, "bench"))
        found += len(new)
        keys.update(wire.finding_key(f) for f in new)
    seconds = time.perf_counter() - started
    return {"findings": found, "distinct_findings": len(keys), "finding_keys": sorted(keys),
            "seconds": round(seconds, 2), "events_per_s": round(len(events) / seconds)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--broker", help="HOST:PORT of a real cluster (default: start Tansu)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--state", choices=["on", "off"], nargs="+", default=["on", "off"],
                    help="on: memory in Quix's state store and labels (the default of "
                    "workers); off: --no-state, memory in each process only")
    args = ap.parse_args()
    events = traffic(args.events, args.seed)
    load = os.getloadavg()[0]  # the machine is shared: say how busy it was
    tansu = None if args.broker else testbroker.start()
    broker = args.broker or tansu.address  # type: ignore[union-attr]
    session = testbroker.SESSION_TIMEOUT_MS if tansu else 10_000
    results = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for state in args.state:
                for n in args.processes:
                    results.append(run(broker, events, n, args.partitions, Path(tmp),
                                       session, state == "on"))
    finally:
        if tansu is not None:
            tansu.stop()
    reference = embedded(events)
    for r in results:  # what each run found against the embedded engine, by key
        mine = set(r.pop("finding_keys"))
        r["missing_vs_embedded"] = sorted(set(reference["finding_keys"]) - mine)
        r["extra_vs_embedded"] = sorted(mine - set(reference["finding_keys"]))
    reference.pop("finding_keys")
    print(json.dumps({"bench": "bus.detect", "broker": "tansu" if tansu else args.broker,
                      "cores": os.cpu_count(), "partitions": args.partitions,
                      "load_before": round(load, 2),
                      "embedded": reference, "runs": results}, indent=2))


if __name__ == "__main__":
    main()
