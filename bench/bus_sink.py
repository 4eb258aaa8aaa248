"""The sink stage without a broker: findings messages per second into casework, on SQLite and
on PostgreSQL, and what a sink restarted on that casework costs.

    PYTHONPATH=src:. .venv/bin/python bench/bus_sink.py --messages 5000 --db sqlite postgresql
    PYTHONPATH=src:. .venv/bin/python bench/bus_sink.py --messages 3000 --batch 200 \
        --profile 2000   # where the time goes once 2,000 messages are in

The findings messages are the detect stage's own answers (`DetectStage.answer`) to synthetic
trade adverts (`replay_scenarios.TRADE`: solicitation vocabulary only), each message from
one of `--messages`/4 accounts in one of `--messages`/10 servers (`--accounts`, `--servers`),
so nearly every finding is a new intake, and findings on one server or account join one
case, which grows: the sink's costly path (each intake re-weighs its whole case). With as
many servers and accounts as messages, few findings share a case: the cheap path. They are handed to
`SinkStage.take` as Quix's `BatchingSink` hands them (inside `Casework.batch`, each case
weighed once per batch), with `SinkStage.checkpoint` (the database write before the offsets
are committed) every `--batch` messages. Then:
- the same messages a second time (at-least-once delivery after a worker's failover: the
  sink must add nothing, and how fast it says so);
- a new `SinkStage` on the same database (a sink's failover: the lease, casework read back):
  its start time and its resident memory, which grow with the casework it reads back.

PostgreSQL is the tests' throwaway server (`tests/pg.py`: a Unix socket, fsync off, so a
lower bound on a real server's commit cost); it is skipped, with why, where none can start.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' PostgreSQL
from bus_stage import rss_mb
from replay_scenarios import TRADE
from veilleur.bus.detect import DetectStage
from veilleur.bus.sink import SinkStage


def answers(n: int, seed: int, servers: int | None = None,
            accounts: int | None = None) -> list[bytes]:
    """`n` findings messages from the detect stage (each event's answer as it goes on
    `findings`), from adverts spread over `servers` servers and `accounts` accounts."""
    rng = random.Random(seed)
    stage = DetectStage()
    out: list[bytes] = []
    i = 0
    while len(out) < n:
        i += 1
        g = rng.randrange(servers or max(1, n // 10))
        u = rng.randrange(accounts or max(1, n // 4))
        raw = {"type": "message", "ts": "2026-11-01T12:00:00Z", "event_id": f"s{seed}-{i}",
               "message": {"id": f"s{seed}-{i}", "channel_id": f"sc{g}", "guild_id": f"sg{g}",
                           "author_id": f"su{u}", "content": rng.choice(TRADE)}}
        out += [json.dumps(a).encode() for a in stage.answer(json.dumps(raw).encode())]
    return out[:n]


def feed(sink: SinkStage, messages: list[bytes], batch: int,
         per_batch: list[float] | None = None) -> float:
    t = time.perf_counter()
    for i in range(0, len(messages), batch):
        b = time.perf_counter()
        with sink.casework.batch():  # as the sink's Quix BatchingSink hands them
            for m in messages[i:i + batch]:
                sink.take(m, "bench")
        sink.checkpoint()
        if per_batch is not None:
            per_batch.append(time.perf_counter() - b)
    return time.perf_counter() - t


def profile(url: str, key: Path, messages: list[bytes], batch: int, skip: int) -> None:
    """Where the sink's time goes once `skip` messages are in: cProfile of the next `batch`
    messages and their checkpoint, the top 25 functions by cumulative time, on stderr."""
    import cProfile
    import pstats

    sink = SinkStage(url, evidence_key=key)
    try:
        feed(sink, messages[:skip], batch)
        profiler = cProfile.Profile()
        profiler.enable()
        feed(sink, messages[skip:skip + batch], batch)
        profiler.disable()
    finally:
        sink.close()
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(25)


def one(url: str, key: Path, messages: list[bytes], batch: int) -> dict[str, Any]:
    findings = sum(len(json.loads(m)["findings"]) for m in messages)
    sink = SinkStage(url, evidence_key=key)
    try:
        per_batch: list[float] = []
        first = feed(sink, messages, batch, per_batch)
        intakes = sink.stats["new_intakes"]
        cases = len(getattr(sink.casework, "cases", {}))
        again = feed(sink, messages, batch)
        added_again = sink.stats["new_intakes"] - intakes
    finally:
        sink.close()
    before = rss_mb()
    t = time.perf_counter()
    restarted = SinkStage(url, evidence_key=key)
    start_s = time.perf_counter() - t
    grown = rss_mb() - before
    restarted.close()
    return {"messages": len(messages), "findings": findings, "new_intakes": intakes,
            "cases": cases, "batch": batch,
            "first_delivery": {"seconds": round(first, 2),
                               "messages_per_s": round(len(messages) / first),
                               "findings_per_s": round(findings / first),
                               "ms_per_message_by_batch": [round(1000 * x / batch, 1)
                                                           for x in per_batch]},
            "second_delivery": {"seconds": round(again, 2),
                                "messages_per_s": round(len(messages) / again),
                                "intakes_added": added_again},
            "restart": {"seconds": round(start_s, 2), "rss_growth_mb": round(grown)}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=5000, help="findings messages")
    ap.add_argument("--batch", type=int, default=500,
                    help="messages between checkpoints (what one commit interval brings)")
    ap.add_argument("--db", nargs="+", choices=("sqlite", "postgresql"),
                    default=["sqlite", "postgresql"])
    ap.add_argument("--servers", type=int, help="servers the adverts are spread over "
                    "(default: messages/10; as many as messages: few findings share a case)")
    ap.add_argument("--accounts", type=int, help="accounts posting them (default: messages/4)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--profile", type=int, metavar="SKIP",
                    help="instead: profile the sink (SQLite) on --batch messages after SKIP")
    args = ap.parse_args()
    load = round(os.getloadavg()[0], 2)
    t = time.perf_counter()
    messages = answers(args.messages, args.seed, args.servers, args.accounts)
    made_s = time.perf_counter() - t
    if args.profile is not None:
        with tempfile.TemporaryDirectory() as tmp:
            profile(f"sqlite:///{tmp}/casework.db", Path(tmp) / "evidence.key", messages,
                    args.batch, args.profile)
        return
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        key = Path(tmp) / "evidence.key"
        for kind in args.db:
            if kind == "sqlite":
                url = f"sqlite:///{tmp}/casework.db"
            else:
                from sqlalchemy import create_engine, text
                from tests import pg

                why = pg.available()
                if why is not None:
                    results[kind] = {"skipped": why}
                    continue
                base = stack.enter_context(pg.server())
                name = f"b_{uuid.uuid4().hex[:12]}"
                admin = create_engine(base, isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
                admin.dispose()
                url = base.replace("/postgres?", f"/{name}?")
            results[kind] = one(url, key, messages, args.batch)
            # Each database's figures as soon as they are known (a long run may be stopped).
            print(json.dumps({kind: results[kind]}), file=sys.stderr, flush=True)
    print(json.dumps({"bench": "bus.sink", "load_before": load, "cores": os.cpu_count(),
                      "servers": args.servers or max(1, args.messages // 10),
                      "accounts": args.accounts or max(1, args.messages // 4),
                      "made_messages_in_s": round(made_s, 2), **results,
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                           / 1024)}, indent=2))


if __name__ == "__main__":
    main()
