"""Hashing throughput on one core: 1-megapixel JPEGs, decode included.

    .venv/bin/python bench/hashing.py --images 300

Three costs are measured on the same files: `veilleur hash` (MD5, SHA-256, reference PDQ),
what the engine computes for every attachment (plus the lookup variants: orientations of an
anti-aliased copy, trimmed borders), and the same with local features (only when enrolled
pictures exist).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from imagegen import make_image
from veilleur.detect.media.hashing import hash_file


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=300)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(args.images):
            path = Path(tmp) / f"{i}.jpg"
            make_image(i).resize((1280, 800)).save(path, "JPEG", quality=88)
            paths.append(path)
        size = sum(p.stat().st_size for p in paths) / len(paths)
        hash_file(paths[0], features=True)  # warm up (imports, compiled code)
        print(f"{args.images} JPEGs of 1280x800 (1.02 MP), {size / 1024:.0f} KB on average")
        for label, kw in (("veilleur hash (md5, sha256, reference PDQ)", {"lookups": False}),
                          ("engine (+ lookup variants)", {"lookups": True}),
                          ("engine + local features", {"lookups": True, "features": True})):
            t0 = time.perf_counter()
            for p in paths:
                h = hash_file(p, **kw)
                assert h.error is None, h.error
            dt = time.perf_counter() - t0
            print(f"{label:<45} {args.images / dt:7.1f} images/s  "
                  f"({dt / args.images * 1e3:.1f} ms each)")


if __name__ == "__main__":
    main()
