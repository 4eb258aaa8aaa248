"""Throughput and peak memory of `veilleur scan` on synthetic DCE exports.

Runs the real CLI in a child process (progress bar off) against one large export and reports
messages/s and the child's peak resident memory. Bounded memory means the peak stays flat as
the input grows: the smaller baseline run shows it.

    python bench/scan_throughput.py --messages 1000000 [--files 1] [--baseline 100000]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_dce import generate

OUT = Path(__file__).resolve().parent / "out"


def run(messages: int, files: int) -> dict[str, float]:
    folder = OUT / f"dce-{messages}-{files}"
    marker = folder / ".complete"
    if not marker.exists():
        shutil.rmtree(folder, ignore_errors=True)
        generate(folder, messages, files)
        marker.touch()
    size = sum(p.stat().st_size for p in folder.glob("*.json"))
    db = OUT / f"bench-{messages}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    findings = OUT / f"findings-{messages}.json"
    cmd = [sys.executable, "-m", "veilleur", "scan", str(folder), "--db", str(db),
           "--json", str(findings), "--quiet"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        sys.exit(f"scan failed ({proc.returncode}):\n{proc.stderr}")
    if peak_kb <= before:
        print("warning: peak RSS of this run is not above an earlier child's", file=sys.stderr)
    n_findings = len(json.loads(findings.read_text())["findings"])
    return {"messages": messages, "input_mb": size / 1e6, "seconds": elapsed,
            "messages_per_s": messages / elapsed, "peak_rss_mb": peak_kb / 1024,
            "findings": n_findings, "db_mb": db.stat().st_size / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=1)
    parser.add_argument("--baseline", type=int, default=100_000,
                        help="a smaller run first, to show memory does not grow with input")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    rows = []
    # The smaller run goes first: ru_maxrss of children is a running maximum.
    for n in ([args.baseline] if args.baseline else []) + [args.messages]:
        rows.append(run(n, args.files))
        r = rows[-1]
        print(f"{r['messages']:>9,} messages  {r['input_mb']:7.0f} MB in  {r['seconds']:7.1f} s  "
              f"{r['messages_per_s']:9,.0f} msg/s  peak RSS {r['peak_rss_mb']:6.0f} MB  "
              f"{r['findings']:,} findings  db {r['db_mb']:.0f} MB", flush=True)
    (OUT / "scan_throughput.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
