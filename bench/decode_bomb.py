"""Time and peak memory of refusing a decompression bomb, in a fresh process each.

    .venv/bin/python bench/decode_bomb.py

A mostly-empty 30000x30000 PNG (about 110 KB) goes through the console's preview
(`service.media.render`) and through hashing (`hash_file`). Before the decode limits, one
preview of such a file took 17.6 s and 4.3 GB; both paths now refuse it from its header.
Peak memory is the child's maximum resident set (Linux `ru_maxrss`), imports included.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.unit.test_decode_limits import huge_png

CHILD = """
import resource, sys, time
from pathlib import Path
from veilleur.detect.media.decode import MediaError
from veilleur.detect.media.hashing import hash_file
from veilleur.service.media import render
path = Path(sys.argv[2])
start = time.perf_counter()
if sys.argv[1] == "preview":
    try:
        render(path.read_bytes(), clear=False)
        outcome = "rendered"
    except MediaError as exc:
        outcome = str(exc)
else:
    outcome = hash_file(path).error or "hashed"
took = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{took * 1000:.1f} ms, peak {peak:.0f} MB: {outcome}")
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bomb.png"
        path.write_bytes(huge_png())
        print(f"bomb: {path.stat().st_size / 1024:.0f} KB declaring 30000x30000")
        for what in ("preview", "hash"):
            r = subprocess.run([sys.executable, "-c", CHILD, what, str(path)],
                               capture_output=True, text=True, timeout=600)
            print(f"{what:8} {r.stdout.strip() or r.stderr.strip()[-300:]}")


if __name__ == "__main__":
    main()
