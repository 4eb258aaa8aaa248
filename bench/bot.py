"""The Discord bot's adapter, on one core: how many gateway events a second it hands to the
engine, and the time from a message to its hold.

discord.py's real objects are built from gateway payloads (`tests/bot/fakes.py`); the
runtime is `veilleur serve`'s on a temporary SQLite file; Discord's HTTP is a fake that
answers at once (so the figures are the bot's and the engine's, not Discord's).

1. **Mapping**: discord.py messages to wire events (`bot/events.py`, validated), per second.
2. **Into the engine**: every message enqueued at once, judged in order (journaled verdicts),
   ordinary chat with a lure every `--lure-every` messages: messages a second end to end.
3. **Message to hold**: one lure at a time on an idle bot, from the handler to Discord's
   delete call (evidence sealed and checked in between): p50 / p99.

    python bench/bot.py --messages 5000 --holds 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from tests.bot import fakes as f  # noqa: E402

from replay_scenarios import BENIGN  # noqa: E402
from veilleur.bot import events as bev  # noqa: E402
from veilleur.bot.client import Handlers  # noqa: E402
from veilleur.bot.execute import Executor  # noqa: E402
from veilleur.bot.intake import EmbeddedEngine  # noqa: E402
from veilleur.bot.policy import parse_policy  # noqa: E402
from veilleur.service.runtime import Runtime, ServiceSettings  # noqa: E402

LURE = "teaser du pack, le reste en VIP sur mega . nz / folder / x{}"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--lure-every", type=int, default=50)
    ap.add_argument("--holds", type=int, default=200)
    ap.add_argument("--all-cores", action="store_true", help="Do not pin to one core.")
    args = ap.parse_args()
    if not args.all_cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    with tempfile.TemporaryDirectory() as tmp:
        rt = Runtime(ServiceSettings(db=f"{tmp}/bot.db", evidence_key=Path(tmp) / "key"))
        rt.start()
        try:
            print(json.dumps(asyncio.run(run(rt, args)), indent=1))
        finally:
            rt.stop()


async def run(rt: Runtime, args: Any) -> dict[str, Any]:
    st = f.state()
    g = f.guild(st, f.snowflake(), "Le Salon")
    general = f.text_channel(st, g, f.snowflake(), "general")
    catalogue = f.text_channel(st, g, f.snowflake(), "teaser-mineure")
    deleted: dict[int, float] = {}
    http = f.http()
    http.delete_message.side_effect = lambda _c, mid, **_k: deleted.__setitem__(
        mid, time.perf_counter())
    engine = EmbeddedEngine(rt)
    policy = parse_policy({"guild_id": str(g.id), "automatic": {"csam": ["hold_message"]}},
                          "bench")
    h = Handlers(engine, {g.id: policy}, Executor(http, engine.evidence_of),
                 self_id=lambda: f.BOT_ID)
    h.intake.start()
    h.guild_available(g)
    await h.settle()

    def message(i: int, lure: bool) -> Any:
        ch, text = (catalogue, LURE.format(i)) if lure else (general, BENIGN[i % len(BENIGN)])
        return f.message(st, ch, f.snowflake(), (10_000 + i % 300, f"m{i % 300}"), text)

    msgs = [message(i, i % args.lure_every == 0) for i in range(args.messages)]
    started = time.perf_counter()
    for m in msgs:
        bev.message(m)
    mapping = len(msgs) / (time.perf_counter() - started)

    started = time.perf_counter()
    for m in msgs:
        h.message(m)
    await h.settle()
    through = time.perf_counter() - started
    lures = sum(1 for m in msgs if m.id in deleted)

    latencies = []
    for i in range(args.holds):
        m = message(args.messages + i, True)
        t0 = time.perf_counter()
        h.message(m)
        await h.settle()
        latencies.append((deleted[m.id] - t0) * 1000)
    return {"messages": args.messages, "mapping_per_s": round(mapping),
            "into_engine_messages_per_s": round(args.messages / through),
            "lures_held": lures, "lures_sent": len(range(0, args.messages, args.lure_every)),
            "hold_ms_p50": round(statistics.median(latencies), 2),
            "hold_ms_p99": round(percentile(latencies, 99), 2),
            "holds": args.holds, "failed": rt.stats["failed"]}


if __name__ == "__main__":
    main()
