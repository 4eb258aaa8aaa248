"""PDQ index benchmark: build, save, load, memory and query latency at N hashes.

    .venv/bin/python bench/pdq_index.py --hashes 10000000

Queries are what an upload costs: 10 hashes for one image (19 when it also has a border to
trim; `--per-image`), each a stored hash with 0-31 bits
flipped, so every query has true matches to find. The answer is checked against brute force
on a sample. One core (numba runs single-threaded here). `--compare-faiss` also measures
FAISS's binary indexes at a smaller size, the alternative the design considered.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from veilleur.detect.media.index import PdqIndex


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def flipped(code: bytes, rng: np.random.Generator, max_bits: int) -> bytes:
    b = bytearray(code)
    for bit in rng.choice(256, int(rng.integers(0, max_bits + 1)), replace=False):
        b[bit // 8] ^= 1 << (bit % 8)
    return bytes(b)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hashes", type=int, default=10_000_000)
    ap.add_argument("--images", type=int, default=500, help="queries (one image each)")
    ap.add_argument("--per-image", type=int, default=10,
                    help="hashes looked up per image (10: as uploaded, mirrored back and 8 "
                         "orientations; 19 with a border trimmed)")
    ap.add_argument("--radius", type=int, default=31)
    ap.add_argument("--chunk-bits", type=int, default=None,
                    help="force the chunk width (default: about log2(hashes) + 1, at most 24); "
                         "wider chunks: fewer candidates, larger directories")
    ap.add_argument("--compare-faiss", type=int, default=0, metavar="N",
                    help="also time FAISS binary indexes with N hashes")
    args = ap.parse_args()
    rng = np.random.default_rng(7)
    n = args.hashes

    base_rss = rss_mb()
    codes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    t0 = time.perf_counter()
    index = (PdqIndex(capacity=n) if args.chunk_bits is None else
             PdqIndex(capacity=n, min_chunk_bits=args.chunk_bits, max_chunk_bits=args.chunk_bits))
    step = 1_000_000
    for i in range(0, n, step):
        block = codes[i: i + step]
        index.add([bytes(r) for r in block], sort=False)
    index.compact()
    build_s = time.perf_counter() - t0
    del codes

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "pdq-index"
        t0 = time.perf_counter()
        index.save(folder)
        save_s = time.perf_counter() - t0
        del index
        t0 = time.perf_counter()
        index = PdqIndex.load(folder)
        load_s = time.perf_counter() - t0
    per_hash = index.nbytes() / n

    queries = []
    for _ in range(args.images):
        slots = rng.integers(0, n, args.per_image)
        queries.append([flipped(index.code(int(s)), rng, args.radius) for s in slots])
    index.search(queries[0], args.radius)  # compile
    times = []
    found = 0
    for q in queries:
        t0 = time.perf_counter()
        hits = index.search(q, args.radius)
        times.append(time.perf_counter() - t0)
        found += len(hits)
    for q in queries[:5]:
        assert index.search(q, args.radius) == index.brute_force(q, args.radius)
    ms = np.array(times) * 1e3

    # adding to a loaded index without re-sorting, then disabling
    extra = [rng.bytes(32) for _ in range(10_000)]
    t0 = time.perf_counter()
    slots = index.add(extra)
    add_ms = (time.perf_counter() - t0) * 1e3
    t0 = time.perf_counter()
    index.set_enabled(slots[:5000], False)
    disable_ms = (time.perf_counter() - t0) * 1e3
    after = []
    for q in queries[:100]:
        t0 = time.perf_counter()
        index.search(q, args.radius)
        after.append(time.perf_counter() - t0)

    print(f"hashes: {n:,}  chunks: {len(index._widths)}  radius: {args.radius}")
    print(f"build: {build_s:.1f} s   save: {save_s:.1f} s   load: {load_s:.2f} s")
    print(f"memory: {per_hash:.1f} bytes/hash (index arrays); process peak RSS "
          f"{rss_mb() - base_rss:,.0f} MB over start")
    print(f"query ({args.per_image} hashes/image, {args.images} images): "
          f"p50 {np.percentile(ms, 50):.2f} ms  p99 {np.percentile(ms, 99):.2f} ms  "
          f"max {ms.max():.2f} ms  ({found} matches)")
    print(f"add 10,000 without re-sorting: {add_ms:.0f} ms; disable 5,000: {disable_ms:.2f} ms; "
          f"query p99 with them pending: {np.percentile(np.array(after) * 1e3, 99):.2f} ms")

    if args.compare_faiss:
        compare_faiss(args.compare_faiss, args.per_image, args.radius, rng)


def compare_faiss(n: int, per_image: int, radius: int, rng: np.random.Generator) -> None:
    import faiss

    faiss.omp_set_num_threads(1)
    codes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    q = np.stack([np.frombuffer(flipped(bytes(codes[i]), rng, radius), np.uint8)
                  for i in rng.integers(0, n, per_image)])
    for name, make in (("IndexBinaryFlat", lambda: faiss.IndexBinaryFlat(256)),
                       ("IndexBinaryMultiHash(16x16, nflip=1)", lambda: _multihash(faiss))):
        before = rss_mb()
        index = make()
        t0 = time.perf_counter()
        index.add(codes)
        build = time.perf_counter() - t0
        grown = rss_mb() - before
        t0 = time.perf_counter()
        for _ in range(5):
            index.range_search(q, radius + 1)
        ms = (time.perf_counter() - t0) / 5 * 1e3
        print(f"faiss {name} at {n:,}: build {build:.1f} s, ~{grown * 1024 * 1024 / n:.0f} "
              f"bytes/hash (peak RSS growth), query of {per_image} hashes {ms:.1f} ms")


def _multihash(faiss: object) -> object:
    index = faiss.IndexBinaryMultiHash(256, 16, 16)  # type: ignore[attr-defined]
    index.nflip = 1
    return index


if __name__ == "__main__":
    main()
