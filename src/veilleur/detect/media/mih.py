"""Compiled kernels of the PDQ index (numba): chunk keys, radius search, brute force.

Kept apart from `index.py` so the data structure reads as Python and only the loops that
must run at memory speed are compiled.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)


@njit(cache=True, inline="always")
def _popcount(x: np.uint64) -> np.int64:
    x = x - ((x >> np.uint64(1)) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return np.int64((x * _H01) >> np.uint64(56))


@njit(cache=True, inline="always")
def _distance(a: np.ndarray, b: np.ndarray) -> np.int64:
    return (_popcount(a[0] ^ b[0]) + _popcount(a[1] ^ b[1]) + _popcount(a[2] ^ b[2])
            + _popcount(a[3] ^ b[3]))


@njit(cache=True, inline="always")
def _chunk(code: np.ndarray, start: int, width: int) -> np.int64:
    word = start >> 6
    offset = start & 63
    value = code[word] >> np.uint64(offset)
    if offset + width > 64:
        value |= code[word + 1] << np.uint64(64 - offset)
    return np.int64(value & np.uint64((1 << width) - 1))


@njit(cache=True)
def chunk_keys(codes: np.ndarray, start: int, width: int) -> np.ndarray:
    out = np.empty(codes.shape[0], np.uint32)
    for i in range(codes.shape[0]):
        out[i] = _chunk(codes[i], start, width)
    return out


@njit(cache=True)
def _probe_keys(queries: np.ndarray, starts: np.ndarray, widths: np.ndarray,
                dir_offsets: np.ndarray, flips: int) -> tuple[np.ndarray, np.ndarray]:
    """Directory positions of every chunk value within `flips` bits of each query's."""
    m = starts.shape[0]
    total = 0
    for t in range(m):
        w = widths[t]
        total += 1 + (w if flips >= 1 else 0) + (w * (w - 1) // 2 if flips >= 2 else 0)
    keys = np.empty(total * queries.shape[0], np.int64)
    owner = np.empty(total * queries.shape[0], np.int32)
    n = 0
    for qi in range(queries.shape[0]):
        q = queries[qi]
        for t in range(m):
            width = widths[t]
            value = _chunk(q, starts[t], width)
            base = dir_offsets[t]
            keys[n] = base + value
            owner[n] = qi * 256 + t
            n += 1
            if flips >= 1:
                for a in range(width):
                    va = value ^ (1 << a)
                    keys[n] = base + va
                    owner[n] = qi * 256 + t
                    n += 1
                    if flips >= 2:
                        for b in range(a + 1, width):
                            keys[n] = base + (va ^ (1 << b))
                            owner[n] = qi * 256 + t
                            n += 1
    return keys[:n], owner[:n]


@njit(cache=True)
def search(codes: np.ndarray, tables: np.ndarray, dirs: np.ndarray, dir_offsets: np.ndarray,
           starts: np.ndarray, widths: np.ndarray, n_indexed: int, n_total: int,
           enabled: np.ndarray, queries: np.ndarray, radius: int, flips: int,
           out: np.ndarray, max_bucket: int) -> int:
    """Every (query, slot, distance) with distance <= radius; returns how many were found.

    Multi-index hashing: the code is cut into m chunks; if two codes differ in at most
    `radius` bits, some chunk differs in at most `flips` bits when m * (flips + 1) > radius.
    So probing every chunk value within `flips` bits of the query's finds every match, and
    nothing else needs a look. Slots from `n_indexed` on are not in the tables yet (recent
    additions) and are compared one by one. `out` rows are (query, slot, distance); a slot
    found through several chunks appears several times (the caller keeps one).

    `max_bucket` > 0 skips directory buckets holding more slots than that: the answer is then
    no longer exhaustive, which suits voting over non-distinctive descriptors (keypoint
    matching), never bank lookups.

    The work is done in passes (probe keys, directory ranges, candidate slots, distances)
    because each pass is a loop of independent memory reads the CPU can overlap; interleaved,
    every read would wait for the one before it.
    """
    keys, owner = _probe_keys(queries, starts, widths, dir_offsets, flips)
    n_probes = keys.shape[0]
    lo = np.empty(n_probes, np.int64)
    hi = np.empty(n_probes, np.int64)
    total = 0
    for j in range(n_probes):
        lo[j] = dirs[keys[j]]
        hi[j] = dirs[keys[j] + 1]
        if max_bucket > 0 and hi[j] - lo[j] > max_bucket:
            hi[j] = lo[j]
        total += hi[j] - lo[j]
    cand = np.empty(total, np.int64)
    cand_q = np.empty(total, np.int32)
    c = 0
    for j in range(n_probes):
        t = (owner[j] % 256)
        qi = owner[j] // 256
        for i in range(lo[j], hi[j]):
            cand[c] = tables[t, i]
            cand_q[c] = qi
            c += 1
    n = 0
    capacity = out.shape[0]
    for j in range(c):
        slot = cand[j]
        qi = cand_q[j]
        d = _distance(codes[slot], queries[qi])
        if d <= radius and enabled[slot]:
            if n < capacity:
                out[n, 0] = qi
                out[n, 1] = slot
                out[n, 2] = d
            n += 1
    for qi in range(queries.shape[0]):
        q = queries[qi]
        for slot in range(n_indexed, n_total):
            if enabled[slot]:
                d = _distance(codes[slot], q)
                if d <= radius:
                    if n < capacity:
                        out[n, 0] = qi
                        out[n, 1] = slot
                        out[n, 2] = d
                    n += 1
    return n


@njit(cache=True)
def brute_force(codes: np.ndarray, n_total: int, enabled: np.ndarray, queries: np.ndarray,
                radius: int, out: np.ndarray) -> int:
    """The same answer by comparing with every slot: the reference the tests check against."""
    n = 0
    for qi in range(queries.shape[0]):
        for slot in range(n_total):
            if enabled[slot]:
                d = _distance(codes[slot], queries[qi])
                if d <= radius:
                    if n < out.shape[0]:
                        out[n, 0] = qi
                        out[n, 1] = slot
                        out[n, 2] = d
                    n += 1
    return n
