"""Retroactive matching on the bus: how fast a retro run replays `media-hashes`.

N sightings (what the detect stage writes for each hashed attachment: MD5, SHA-256, the PDQ
and its lookups, where it was posted) are put on a fresh compacted `media-hashes` topic of
the test broker (Tansu, memory only); then `veilleur worker --stage retro` is run once with
a bank file of new entries. The rate is the run's own summary: from its start (the matcher
built, the group's offsets and the high watermarks read) to its end (every message read,
checked and matched, the findings acknowledged, the offsets committed); the process's start
and imports are in `process_seconds` only. The run's peak memory is its resident set
(`ru_maxrss`).

    python bench/bus_retro.py --messages 100000 --entries 1000

The sightings are random hashes (no picture is drawn: what is measured is the replay, not
hashing), each with 10 lookups like a still picture's. Of the new entries, 1 in 40 is a
PDQ a few bits from one sighting's, 1 in 40 the SHA-256 of another; the rest are random
PDQs, which match nothing. The run's matches must be exactly the planted ones (checked).

Tansu is a test broker; a real cluster's figures come from the same command pointed at it
(`--broker HOST:PORT`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from veilleur.bus import testbroker, topics
from veilleur.bus.config import BusConfig, ensure_topics

SRC = Path(__file__).resolve().parent.parent / "src"
LOOKUPS = 10


def flip(code: bytes, bits: int, rng: np.random.Generator) -> bytes:
    raw = bytearray(code)
    for b in rng.choice(256, bits, replace=False).tolist():
        raw[b // 8] ^= 1 << (b % 8)
    return bytes(raw)


def sightings(n: int, seed: int) -> tuple[list[tuple[bytes, bytes]], np.ndarray, list[str]]:
    """(key, value) pairs, each sighting's reference PDQ (n x 32 bytes), its SHA-256."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, (n, LOOKUPS, 32), dtype=np.uint8)
    digests = rng.integers(0, 256, (n, 48), dtype=np.uint8)
    out = []
    shas = []
    for i in range(n):
        lookups = [codes[i, j].tobytes().hex() for j in range(LOOKUPS)]
        sha = digests[i, :32].tobytes().hex()
        shas.append(sha)
        value = {"v": 1, "attachment_id": f"att{i}", "filename": None, "kind": "image",
                 "md5": digests[i, 32:].tobytes().hex(), "sha256": sha,
                 "pdq": lookups[0], "pdq_quality": 100, "lookups": lookups,
                 "lookup_labels": ["as uploaded", "mirrored back"] + ["variant"] * 8,
                 "message_id": f"m{i}", "channel_id": f"c{i % 500}",
                 "guild_id": f"g{i % 100}", "author_id": f"u{i % 5000}",
                 "event_id": f"id:ev-{i}", "ts": "2026-03-01T12:00:00+00:00"}
        out.append((f"att{i}".encode(), json.dumps(value, separators=(",", ":")).encode()))
    return out, codes[:, 0, :], shas


def entries(path: Path, n: int, codes: np.ndarray, shas: list[str], seed: int
            ) -> set[str]:
    """Write the new entries' bank file; the attachments they must match."""
    rng = np.random.default_rng(seed + 1)
    planted = max(1, n // 40)
    near = rng.choice(len(codes), planted, replace=False)
    exact = rng.choice(np.setdiff1d(np.arange(len(codes)), near), planted, replace=False)
    lines = ["signal_type,signal,category"]
    for i in near.tolist():
        lines.append(f"pdq,{flip(codes[i].tobytes(), 16, rng).hex()},csam")
    for i in exact.tolist():
        lines.append(f"sha256,{shas[i]},csam")
    for _ in range(n - 2 * planted):
        lines.append(f"pdq,{rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex()},csam")
    path.write_text("\n".join(lines) + "\n")
    return {f"att{i}" for i in near.tolist() + exact.tolist()}


def put(broker: str, topic: str, items: list[tuple[bytes, bytes]], options: dict[str, Any]
        ) -> float:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": broker, "acks": "all", **options})
    started = time.monotonic()
    for key, value in items:
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.05)
    if producer.flush(300):
        raise SystemExit("the broker did not take every sighting")
    return time.monotonic() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--entries", type=int, default=1_000)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--broker", help="HOST:PORT of a broker [default: a Tansu started here]")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", type=Path, help="Also write the figures here.")
    ap.add_argument("--consumer-option", action="append", default=[],
                    help="NAME=VALUE for the run's consumer (librdkafka), repeatable.")
    args = ap.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bus-retro-"))
    tansu = None if args.broker else testbroker.start(folder / "tansu.log")
    broker = args.broker or tansu.address  # type: ignore[union-attr]
    # One message per producer batch on Tansu: its high watermark is wrong after batches
    # of several, and the replay ends at the high watermark.
    options: dict[str, Any] = {} if args.broker else dict(testbroker.PRODUCER_OPTIONS)
    try:
        prefix = f"bench{uuid.uuid4().hex[:6]}."
        config = BusConfig(broker=broker, group="", prefix=prefix,
                           partitions=args.partitions)
        ensure_topics(config, (topics.MEDIA_HASHES, topics.FINDINGS))
        made = time.monotonic()
        items, codes, shas = sightings(args.messages, args.seed)
        bank = folder / "new-entries.csv"
        want = entries(bank, args.entries, codes, shas, args.seed)
        print(f"{args.messages:,} sightings and {args.entries:,} new entries made in "
              f"{time.monotonic() - made:.1f} s", flush=True)
        put_s = put(broker, prefix + topics.MEDIA_HASHES, items, options)
        print(f"put on {prefix}{topics.MEDIA_HASHES} in {put_s:.1f} s", flush=True)
        del items
        cmd = [sys.executable, "-m", "veilleur", "worker", "--stage", "retro", "--json",
               "--broker", broker, "--topic-prefix", prefix, "--entries", str(bank),
               "--run", "bench", "--session-timeout-ms", str(testbroker.SESSION_TIMEOUT_MS)]
        for k, v in options.items():
            cmd += ["--producer-option", f"{k}={v}"]
        for option in args.consumer_option:
            cmd += ["--consumer-option", option]
        env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONWARNINGS": "ignore"}
        started = time.monotonic()
        done = subprocess.run(cmd, capture_output=True, env=env, stdin=subprocess.DEVNULL)
        wall = time.monotonic() - started
        # The only child waited for so far: the retro run's peak memory (KB on Linux).
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if done.returncode != 0:
            raise SystemExit(done.stderr.decode()[-3000:])
        summary = json.loads(done.stdout)
        found = _matched(broker, prefix + topics.FINDINGS, summary["messages_written"])
    finally:
        if tansu is not None:
            tansu.stop()
    figures = {"messages": args.messages, "entries": args.entries,
               "partitions": args.partitions, "put_seconds": round(put_s, 2),
               "retro_seconds": summary["seconds"], "process_seconds": round(wall, 2),
               "hashes_per_second": summary["hashes_per_second"],
               "retro_peak_rss_mb": round(peak_mb),
               "checked": summary["checked"], "matched": summary["matched_media"],
               "planted": len(want), "exactly_the_planted": found == want}
    print(json.dumps(figures, indent=1))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    if found != want:
        raise SystemExit(f"the run's matches are not the planted ones: {len(found - want)} "
                         f"unexpected, {len(want - found)} missed")


def _matched(broker: str, topic: str, n: int) -> set[str]:
    """The attachments the run's findings name (read back from `findings`)."""
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": broker, "group.id": f"check-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "session.timeout.ms": testbroker.SESSION_TIMEOUT_MS})
    consumer.subscribe([topic])
    out: set[str] = set()
    seen = 0
    end = time.monotonic() + 60
    try:
        while seen < n and time.monotonic() < end:
            msg = consumer.poll(0.5)
            if msg is None or msg.error() is not None:
                continue
            seen += 1
            out |= {f["target"]["id"] for f in json.loads(msg.value())["findings"]}
    finally:
        consumer.close()
    return out


if __name__ == "__main__":
    main()
