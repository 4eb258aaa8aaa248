"""Where the CPU goes when the detect stage runs on a broker: worker, broker, producer.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1 \
        PYTHONPATH=src .venv/bin/python bench/bus_cpu.py --events 50000 --partitions 8

(One thread per math library, as a worker should run: one process per core. Without those
variables, on a machine busy with other processes, the libraries' idle threads spin and the
worker's CPU per event was measured 2-3 times higher.)

Runs `bench/bus.py` (one worker process: `--processes 1`) as a child and samples, every
0.2 s, the CPU time (user + system, from /proc) of every process under it: the benchmark
itself (which makes the events and produces them), the Tansu broker and the detect worker.
The last sample of each is its CPU time for the whole run (a process that exits between
samples loses at most 0.2 s). Divided by the events read, it gives CPU microseconds per
event for each part: what the worker costs per event beside what `bench/bus_stage.py`
measures for the stage's logic alone (the difference is the bus's cost in the worker:
consuming, Quix's dataframe, producing findings, committing).

On this machine the broker and the producer share the worker's two cores, so the wall-clock
rate of `bench/bus.py` understates a worker's rate on a cluster; CPU per event does not
depend on who else runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
"""Reported: on a busy machine, math libraries' idle threads spin and burn CPU."""


def children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        out.setdefault(ppid, []).append(int(entry))
    return out


def tree(root: int) -> list[int]:
    kids, todo, out = children(), [root], []
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += kids.get(pid, [])
    return out


def cpu_and_name(pid: int) -> tuple[float, str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK, cmd


def role(cmd: str) -> str:
    if "tansu" in cmd:
        return "broker (tansu)"
    if "veilleur worker" in cmd or "-m veilleur worker" in cmd:
        return "detect worker"
    if "bus.py" in cmd:
        return "bench (events made, produced)"
    return "other"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--state", choices=["on", "off"], default="on",
                    help="the worker's memory in Quix's state store (on) or its process (off)")
    args = ap.parse_args()
    bench = Path(__file__).resolve().parent / "bus.py"
    child = subprocess.Popen([sys.executable, str(bench), "--events", str(args.events),
                              "--partitions", str(args.partitions), "--processes", "1",
                              "--state", args.state],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    last: dict[int, tuple[float, str]] = {}
    series: dict[int, list[tuple[float, float]]] = {}
    while child.poll() is None:
        for pid in tree(child.pid):
            got = cpu_and_name(pid)
            if got is not None:  # a process that is exiting has no command line left
                last[pid] = (got[0], last[pid][1] if pid in last else got[1])
                series.setdefault(pid, []).append((time.monotonic(), got[0]))
        time.sleep(0.2)
    out, _ = child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"bench/bus.py failed (exit {child.returncode})")
    result = json.loads(out)
    run = result["runs"][0]
    per_role: dict[str, float] = {}
    for seconds, cmd in last.values():
        per_role[role(cmd)] = per_role.get(role(cmd), 0.0) + seconds
    # The worker's start-up (imports, the engine, the group's join) ends in the idle wait
    # before the events are produced: its CPU at the first 2 s without progress.
    [worker] = [pid for pid, (_, cmd) in last.items() if role(cmd) == "detect worker"]
    startup = next(cpu for k, (t, cpu) in enumerate(series[worker])
                   if any(t2 - t >= 2.0 and c2 - cpu < 0.05
                          for t2, c2 in series[worker][k:]))
    per_role["detect worker, after start-up"] = per_role["detect worker"] - startup
    print(json.dumps({
        "bench": "bus.cpu", "events": run["read"], "load_before": result["load_before"],
        "threads": {k: os.environ.get(k) for k in THREADS},
        "wall_events_per_s": run["events_per_s"],
        "embedded_events_per_s": result["embedded"]["events_per_s"],
        "cpu_seconds": {k: round(v, 2) for k, v in sorted(per_role.items())},
        "cpu_us_per_event": {k: round(1e6 * v / run["read"]) for k, v in
                             sorted(per_role.items())},
        "note": "bench's CPU includes making the events and the embedded reference run; the "
                "worker's includes its start-up (imports, engine, group join)",
    }, indent=2))


if __name__ == "__main__":
    main()
