"""The detect stage's logic without a broker: what one worker process's engine costs per event.

`DetectStage.answer` (the bytes of one `events` message in, a findings message, a dead letter
or nothing out: exactly what a `veilleur worker --stage detect` runs per message) in a loop,
one process, one thread. Set beside `bench/bus.py` (the same stage on a broker) it separates
what the engine costs from what the bus costs.

    export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1
    PYTHONPATH=src .venv/bin/python bench/bus_stage.py --mix bench --events 50000
    PYTHONPATH=src .venv/bin/python bench/bus_stage.py --mix corpus --events 20000 [--no-semantic]
    PYTHONPATH=src .venv/bin/python bench/bus_stage.py --memory 10000 40000 160000 320000

(One thread per math library, as a worker should run: on a busy machine their idle threads
spin, and CPU per event was measured up to three times higher without these variables.)

Mixes (both are wire JSON, as a platform puts them on `events`):
- `bench`: `bench/bus.py`'s mix, the replay's ordinary traffic (`replay_scenarios.background`:
  server messages from a few dozen repeated sentences, 5 % joins, 0.05 % trade adverts; no
  direct messages, no attachments). Repeats are served from the text tiers' memories of
  recent texts, so this is the engine's cheap case.
- `corpus`: distinct text drawn from the corpus's families (as `bench/text_end_to_end.py`
  draws it: ordinary chat from the held-out ordinary writer, 1 % abuse from the test
  split), 20 % direct messages between fixed pairs, 5 % joins: the engine's costly case
  (the learned tier on every distinct text, the semantic layer on borderline ones).

Reports the mix (shares of event types, direct messages, attachments), events per second of
wall time and per CPU-second, per-event latency p50/p99/max by kind of event, findings per
event, and how many messages the semantic layer and each reader by meaning (the
conversation tier, the learned tier's second reader, places) read and embedded.

`--memory N1 N2 ...`: the stage's resident memory as the number of distinct places grows
(half servers with a channel, a join and `--messages-per-place` messages (4) from two new
accounts, half direct conversations of as many messages between two new accounts; repeated
text, so the text tiers' bounded memories do not count): RSS after each step and bytes per
place between steps. This is the per-key state a worker holds in memory today
(`MemoryState` and the detectors' own), the state Quix's store would hold per partition; at
the end, the same state pickled, per place (what it would weigh serialized, in a store or a
changelog, rather than as Python objects).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import pickle
import random
import resource
import sys
import tempfile
import time
from collections import Counter, defaultdict, deque
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from replay_scenarios import BENIGN, EventLog, background
from veilleur.bus.detect import DetectStage, is_dead
from veilleur.deployment import Mode, Settings
from veilleur.detect.base import DetectorSettings

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def bench_mix(n: int, seed: int) -> list[dict[str, Any]]:
    """The same events as `bench/bus.py`'s `traffic` (kept in step with it by hand)."""
    log = EventLog(Path(tempfile.gettempdir()))
    background(log, T0, n, seed=seed, guilds=max(50, n // 500), users=max(500, n // 20))
    return [e for _, _, e in sorted(log.events, key=lambda x: (x[0], x[1]))]


def corpus_mix(n: int, seed: int) -> list[dict[str, Any]]:
    from veilleur.corpus.families import FAMILY_DIR, load_families
    from veilleur.corpus.measure import draw
    from veilleur.corpus.split import ORDINARY_WRITERS, split_of

    rng = random.Random(seed)
    fams = load_families(FAMILY_DIR)
    ordinary = [f for f in fams if f.writer in ORDINARY_WRITERS]
    in_dm = [f for f in ordinary if f.where in ("dm", "any")] or ordinary
    in_guild = [f for f in ordinary if f.where in ("guild", "any")] or ordinary
    abuse = [f for f in fams if f.category is not None and f.alone and split_of(f) == "test"]
    guilds, pairs, users = max(20, n // 500), max(50, n // 100), max(1000, n // 20)
    out: list[dict[str, Any]] = []
    for g in range(guilds):
        out.append({"type": "guild_created", "ts": iso(T0), "event_id": f"g{g}",
                    "guild": {"id": f"g{g}", "name": f"serveur {g}", "owner_id": f"u{g}"}})
        for c in range(3):
            out.append({"type": "channel_created", "ts": iso(T0), "event_id": f"c{g}-{c}",
                        "channel": {"id": f"c{g}-{c}", "guild_id": f"g{g}", "name": "general",
                                    "kind": "text"}})
    i = 0
    while len(out) < n:
        ts = iso(T0 + timedelta(seconds=i))
        i += 1
        roll = rng.random()
        if roll < 0.05:
            out.append({"type": "member_joined", "ts": ts, "event_id": f"j{i}",
                        "guild_id": f"g{rng.randrange(guilds)}",
                        "user_id": f"u{rng.randrange(users)}"})
            continue
        direct = roll < 0.05 + 0.2
        pool = abuse if rng.random() < 0.01 else in_dm if direct else in_guild
        text = draw(rng.choice(pool), rng)
        m: dict[str, Any]
        if direct:
            p = rng.randrange(pairs)
            a, b = (f"u{2 * p}", f"u{2 * p + 1}") if rng.random() < 0.5 else \
                (f"u{2 * p + 1}", f"u{2 * p}")
            m = {"id": f"m{i}", "channel_id": f"dm{p}", "author_id": a, "content": text,
                 "recipient_ids": [b]}
        else:
            g = rng.randrange(guilds)
            m = {"id": f"m{i}", "channel_id": f"c{g}-{rng.randrange(3)}", "guild_id": f"g{g}",
                 "author_id": f"u{rng.randrange(users)}", "content": text}
        out.append({"type": "message", "ts": ts, "event_id": f"m{i}", "message": m})
    return out


def kind(raw: dict[str, Any]) -> str:
    if raw.get("type") != "message":
        return str(raw.get("type"))
    m = raw["message"]
    return "message (server)" if m.get("guild_id") else "message (direct)"


def mix_of(events: list[dict[str, Any]]) -> dict[str, Any]:
    kinds = Counter(kind(e) for e in events)
    messages = [e["message"] for e in events if e.get("type") == "message"]
    n = len(events)
    return {
        "events": n,
        "share": {k: round(v / n, 4) for k, v in kinds.most_common()},
        "messages_share": round(len(messages) / n, 4),
        "direct_share_of_messages": round(
            sum(1 for m in messages if not m.get("guild_id")) / max(1, len(messages)), 4),
        "with_attachments_share_of_messages": round(
            sum(1 for m in messages if m.get("attachments")) / max(1, len(messages)), 4),
        "distinct_texts": len({m.get("content") for m in messages}),
        "bytes_per_event": round(sum(len(json.dumps(e, separators=(",", ":")))
                                     for e in events) / n),
    }


def timed(stage: DetectStage, events: list[dict[str, Any]]) -> dict[str, Any]:
    bodies = [json.dumps(e, separators=(",", ":")).encode() for e in events]
    per: dict[str, list[int]] = defaultdict(list)
    out_messages = findings = dead = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for raw, body in zip(events, bodies, strict=True):
        t = time.perf_counter_ns()
        answers = stage.answer(body)
        per[kind(raw)].append(time.perf_counter_ns() - t)
        for a in answers:
            if is_dead(a):
                dead += 1
            else:
                out_messages += 1
                findings += len(a["findings"])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    every = np.array([x for v in per.values() for x in v]) / 1e3

    def pct(xs: np.ndarray) -> dict[str, float]:
        return {"p50_us": round(float(np.percentile(xs, 50)), 1),
                "p99_us": round(float(np.percentile(xs, 99)), 1),
                "max_ms": round(float(xs.max()) / 1e3, 1),
                "mean_us": round(float(xs.mean()), 1)}

    return {"seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
            "events_per_s": round(len(events) / wall),
            "events_per_cpu_s": round(len(events) / cpu),
            "latency_all": pct(every),
            "latency_by_kind": {k: {"n": len(v), **pct(np.array(v) / 1e3)}
                                for k, v in sorted(per.items())},
            "findings_messages": out_messages, "findings": findings, "dead_letters": dead,
            "findings_per_1000_events": round(1000 * findings / len(events), 3)}


def embeddings(stage: DetectStage) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in stage.engine.detectors:
        semantic = getattr(d, "semantic", None)
        if semantic is not None:
            out["text_borderline"] = int(getattr(d, "borderline", 0))
            out["text_embedded"] = int(getattr(semantic, "embedded", 0))
        meaning = getattr(d, "meaning", None)
        if meaning is not None:
            name = {"conversation.risk": "conversation", "text.learned": "learned",
                    "places.meaning": "places"}.get(d.id, d.id)
            out[f"{name}_read_by_meaning"] = int(getattr(meaning, "read", 0))
            out[f"{name}_embedded"] = int(getattr(meaning, "embedded", 0))
    return out


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def place_events(start: int, stop: int, per: int = 4) -> list[dict[str, Any]]:
    """Places `start`..`stop`-1: even ones servers, odd ones direct conversations."""
    out: list[dict[str, Any]] = []
    ts = iso(T0)
    for p in range(start, stop):
        if p % 2 == 0:
            g = f"pg{p}"
            out.append({"type": "guild_created", "ts": ts, "guild": {
                "id": g, "name": f"serveur {p}", "owner_id": f"pu{p}-0"}})
            out.append({"type": "channel_created", "ts": ts, "channel": {
                "id": f"{g}-c", "guild_id": g, "name": "general", "kind": "text"}})
            out.append({"type": "member_joined", "ts": ts, "guild_id": g,
                        "user_id": f"pu{p}-1"})
            for k in range(per):
                out.append({"type": "message", "ts": ts, "message": {
                    "id": f"pm{p}-{k}", "channel_id": f"{g}-c", "guild_id": g,
                    "author_id": f"pu{p}-{k % 2}", "content": BENIGN[(p + k) % len(BENIGN)]}})
        else:
            for k in range(per):
                a, b = (f"pu{p}-0", f"pu{p}-1") if k % 2 == 0 else (f"pu{p}-1", f"pu{p}-0")
                out.append({"type": "message", "ts": ts, "message": {
                    "id": f"pm{p}-{k}", "channel_id": f"pdm{p}", "author_id": a,
                    "content": BENIGN[(p + k) % len(BENIGN)], "recipient_ids": [b]}})
    return out


def pickled(stage: DetectStage) -> int:
    """Bytes of the containers (dicts, lists, sets, deques) reachable from the engine's
    directory, roll-up and detectors, pickled whole: about what a store would hold for them
    serialized (a store keyed per place repeats keys a whole pickle shares, so this is a
    lower bound). Containers that cannot be pickled (compiled matchers) are left out."""
    total = 0

    def walk(obj: Any, depth: int) -> None:
        nonlocal total
        for value in vars(obj).values():
            if isinstance(value, dict | list | set | deque):
                with contextlib.suppress(Exception):  # a compiled matcher inside: not state
                    total += len(pickle.dumps(value, protocol=5))
            elif depth < 2 and hasattr(value, "__dict__") \
                    and type(value).__module__.startswith("veilleur"):
                walk(value, depth + 1)

    engine = stage.engine
    total += len(pickle.dumps(engine.directory._state, protocol=5))
    for part in [engine.rollup, *engine.detectors]:
        if part is not None:
            walk(part, 0)
    return total


def memory(steps: list[int], per: int) -> dict[str, Any]:
    stage = DetectStage()
    for warm in place_events(10**9, 10**9 + 200):  # load what every worker loads once
        stage.answer(json.dumps(warm).encode())
    gc.collect()
    base = rss_mb()
    base_pickled = pickled(stage)
    rows, done, last_rss = [], 0, base
    for target in sorted(steps):
        bodies = [json.dumps(e).encode() for e in place_events(done, target, per)]
        t = time.perf_counter()
        for body in bodies:
            stage.answer(body)
        seconds = time.perf_counter() - t
        gc.collect()
        now = rss_mb()
        rows.append({"places": target, "accounts": 2 * target, "rss_mb": round(now),
                     "over_start_mb": round(now - base),
                     "bytes_per_place_this_step": round((now - last_rss) * 2**20
                                                        / (target - done)),
                     "events_per_s": round(len(bodies) / seconds)})
        done, last_rss = target, now
    serialized = (pickled(stage) - base_pickled) / max(1, done)
    return {"messages_per_place": per, "start_rss_mb": round(base), "steps": rows,
            "pickled_bytes_per_place": round(serialized),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mix", choices=("bench", "corpus"), default="bench")
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=500,
                    help="events of another seed first (loads the encoder, compiles kernels)")
    ap.add_argument("--no-semantic", action="store_true",
                    help="no embeddings at all (the semantic layer, conversations and servers "
                         "read by meaning): what the rest of the engine costs")
    ap.add_argument("--no-learned", action="store_true", help="without the learned tier")
    ap.add_argument("--memory", type=int, nargs="+", metavar="PLACES",
                    help="measure resident memory against distinct places instead")
    ap.add_argument("--messages-per-place", type=int, default=4, help="with --memory")
    args = ap.parse_args()
    load = round(os.getloadavg()[0], 2)  # the machine is shared: say how busy it was
    if args.memory:
        print(json.dumps({"bench": "bus.stage.memory", "load_before": load,
                          **memory(args.memory, args.messages_per_place)}, indent=2))
        return
    make = bench_mix if args.mix == "bench" else corpus_mix
    events = make(args.events, args.seed)
    stage = DetectStage(Settings(mode=Mode.DETECT, detectors=DetectorSettings(
        semantic=not args.no_semantic, learned=not args.no_learned)))
    if args.warmup:
        for body in make(max(args.warmup, 200), args.seed + 1000)[-args.warmup:]:
            stage.answer(json.dumps(body).encode())
    before = embeddings(stage)
    result = timed(stage, events)
    after = embeddings(stage)
    print(json.dumps({"bench": "bus.stage", "mix": args.mix, "load_before": load,
                      "semantic": not args.no_semantic, "learned": not args.no_learned,
                      "cores": os.cpu_count(), "mix_of": mix_of(events), **result,
                      "embedded": {k: after[k] - before.get(k, 0) for k in after},
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                           / 1024)}, indent=2))


if __name__ == "__main__":
    main()
