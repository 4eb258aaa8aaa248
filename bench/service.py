"""The service under load, over loopback: batch ingest and synchronous verdicts.

A real `veilleur serve` process (uvicorn, SQLite) is driven by Python clients in this process:

1. **Ingest**: ordinary platform traffic (the replay's background generator) in batches, from
   several connections at once. Reported: how fast events are accepted (journaled), and how
   fast they are taken in end to end (until the backlog is empty).
2. **Verdicts, idle**: one text message at a time; latency percentiles as the client sees them.
3. **Verdicts under load**: the same while other connections keep sending batches.

    python bench/service.py --events 200000 --clients 4 --verdicts 3000
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from replay_scenarios import BENIGN, TRADE, EventLog, background
from veilleur.service.auth import create_key
from veilleur.store.db import connect

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        p: int = s.getsockname()[1]
        return p


def traffic(n: int, seed: int) -> list[dict[str, Any]]:
    log = EventLog(Path(tempfile.gettempdir()))
    background(log, T0, n, seed=seed, guilds=max(50, n // 500), users=max(500, n // 20))
    return [e for _, _, e in sorted(log.events, key=lambda x: (x[0], x[1]))]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def send_all(base: str, headers: dict[str, str], events: list[dict[str, Any]], batch: int,
             clients: int) -> tuple[float, int, int]:
    """All events, `clients` connections at once; returns (seconds, accepted, busy answers)."""
    work: queue.Queue[list[dict[str, Any]]] = queue.Queue()
    for i in range(0, len(events), batch):
        work.put(events[i:i + batch])
    accepted = busy = 0
    lock = threading.Lock()

    def worker() -> None:
        nonlocal accepted, busy
        with httpx.Client(timeout=60) as client:
            while True:
                try:
                    chunk = work.get_nowait()
                except queue.Empty:
                    return
                while True:
                    r = client.post(f"{base}/v1/events", json={"events": chunk},
                                    headers=headers)
                    if r.status_code == 429:
                        with lock:
                            busy += 1
                        time.sleep(float(r.headers.get("retry-after", "1")))
                        continue
                    r.raise_for_status()
                    with lock:
                        accepted += r.json()["accepted"]
                    break

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, accepted, busy


def wait_drained(base: str, timeout: float = 3600) -> float:
    started = time.perf_counter()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if httpx.get(f"{base}/health", timeout=10).json()["backlog"] == 0:
            return time.perf_counter() - started
        time.sleep(0.05)
    raise RuntimeError("the backlog did not drain")


def verdicts(base: str, headers: dict[str, str], n: int, seed: int, tag: str,
             inside: list[float] | None = None) -> list[float]:
    """Latencies as the client sees them; `inside` gets the server's own time per verdict."""
    rng = random.Random(seed)
    out = []
    with httpx.Client(timeout=30) as client:
        for i in range(n):
            content = rng.choice(TRADE) if rng.random() < 0.02 else rng.choice(BENIGN)
            body = {"message": {"id": f"v-{tag}-{i}", "channel_id": f"bg-chan-{i % 40}-0",
                                "guild_id": f"bg-guild-{i % 40}",
                                "author_id": f"bg-user-{rng.randrange(500)}",
                                "content": content}}
            started = time.perf_counter()
            r = client.post(f"{base}/v1/verdict", json=body, headers=headers)
            out.append((time.perf_counter() - started) * 1000)
            r.raise_for_status()
            if inside is not None:
                inside.append(r.json()["ms"])
    return out


def pct(values: list[float]) -> dict[str, float]:
    s = sorted(values)
    q = statistics.quantiles(s, n=100)
    return {"p50": round(q[49], 2), "p95": round(q[94], 2), "p99": round(q[98], 2),
            "max": round(s[-1], 2), "n": len(s)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--verdicts", type=int, default=3000)
    ap.add_argument("--json", type=Path, default=Path("bench/out/service.json"))
    args = ap.parse_args()

    events = traffic(args.events, seed=1)
    extra = traffic(max(20_000, args.events // 2), seed=2)
    for e in extra:  # other ids: the load during the verdicts is new traffic
        for key in ("message", "guild", "channel"):
            if key in e and "id" in e[key]:
                e[key]["id"] = "x" + e[key]["id"]
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "v.db"
        database = connect(f"sqlite:///{db}")
        _, secret = create_key(database, "bench", ["events", "verdict"], datetime.now(UTC))
        database.dispose()
        headers = {"Authorization": f"Bearer {secret}"}
        p = port()
        base = f"http://127.0.0.1:{p}"
        proc = subprocess.Popen([sys.executable, "-m", "veilleur", "serve", "--db", str(db),
                                 "--port", str(p), "--max-backlog", "2000000"],
                                env=os.environ | {"VEILLEUR_SECRET": "bench"})
        try:
            end = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    if time.monotonic() > end:
                        raise
                time.sleep(0.1)
            accept_s, accepted, busy = send_all(base, headers, events, args.batch,
                                                args.clients)
            drain_s = wait_drained(base)
            idle_inside: list[float] = []
            idle = verdicts(base, headers, args.verdicts, 3, "idle", idle_inside)
            loader = threading.Thread(target=send_all, args=(base, headers, extra, args.batch,
                                                             2))
            loader.start()
            time.sleep(0.5)
            loaded_inside: list[float] = []
            loaded = verdicts(base, headers, args.verdicts, 4, "load", loaded_inside)
            loader.join()
            wait_drained(base)
            rss = peak_rss_mb(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(120)
    result = {
        "events": len(events), "batch": args.batch, "clients": args.clients,
        "accepted": accepted, "busy_answers": busy,
        "accept_seconds": round(accept_s, 2),
        "accepted_per_second": round(accepted / accept_s),
        "end_to_end_seconds": round(accept_s + drain_s, 2),
        "end_to_end_per_second": round(accepted / (accept_s + drain_s)),
        "verdict_ms_idle": pct(idle), "verdict_ms_under_ingest": pct(loaded),
        "verdict_ms_inside_engine_idle": pct(idle_inside),
        "verdict_ms_inside_engine_under_ingest": pct(loaded_inside),
        "server_peak_rss_mb": round(rss),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
