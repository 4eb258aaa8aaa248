"""The PDQ index: every stored hash within a Hamming radius of a query, exactly, fast.

Multi-index hashing (Norouzi, Punjani and Fleet, 2012) over NumPy arrays with compiled
loops (`mih.py`). Chosen over FAISS after measuring both here (`bench/pdq_index.py`, figures
in the README): FAISS's binary multi-hash index took ~300 bytes per hash and ~50 ms per query
at 2 M, and its flat index scans every hash per query.

Layout: `codes` (slot -> 256-bit hash as 4 x uint64), `enabled` (slot -> bool), `group`
(slot -> bank number, so the caller applies per-bank thresholds), `ref` (slot -> the caller's
id for the entry, e.g. its database row), and one table per chunk
(slots sorted by that chunk's value, with a directory of where each value starts). New hashes
are appended and compared one by one until enough accumulate to re-sort the tables; disabling
flips a flag. Slots never move, so a slot is a stable id for a bank entry.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT = 1
# The compiled kernels (numba, ~80 MB) are imported on first use: a scan with no PDQ bank
# never pays for them.
MIN_CHUNK_BITS = 12
MAX_CHUNK_BITS = 24
MAX_FLIPS = 2
_FILES = ("codes", "enabled", "group", "ref", "tables", "dirs")


class IndexLoadError(Exception):
    """An index file that cannot be used (missing, damaged, from another version)."""


@dataclass(frozen=True, slots=True, order=True)
class Hit:
    distance: int
    slot: int
    query: int
    """Position of the matching query hash in the list searched."""


def to_codes(hashes: Iterable[bytes]) -> np.ndarray:
    raw = b"".join(hashes)
    if len(raw) % 32:
        raise ValueError("PDQ hashes are 32 bytes each")
    return np.frombuffer(raw, dtype=np.uint64).reshape(-1, 4).copy()


def _probe_cost(n: int, bits: int, radius: int = 31) -> float:
    """Expected memory reads per query hash with chunks of `bits` (probes, then candidates)."""
    m = math.ceil(256 / bits)
    flips = max(0, math.ceil((radius + 1) / m) - 1)
    probes = m * sum(math.comb(bits, k) for k in range(flips + 1))
    return float(probes * (2 + n / 2**bits))


def chunk_layout(n: int, min_bits: int = MIN_CHUNK_BITS, max_bits: int = MAX_CHUNK_BITS,
                 radius: int = 31) -> tuple[np.ndarray, np.ndarray]:
    """(starts, widths) of the chunks for an index of n hashes.

    The width with the fewest expected reads for a query of the usual `radius`: narrow
    chunks need few probes but each finds many candidates, wide ones the reverse (16-bit
    chunks win up to ~3 M hashes, 23-24-bit ones at 10 M: 2 ms where 21-22-bit take 4.4,
    measured with
    `bench/pdq_index.py --chunk-bits`). Directories hold 2^bits entries per chunk, so among
    near-equal widths the narrowest is taken, and the width is capped (24 bits: ~0.5 GB).
    """
    costs = {b: _probe_cost(n, b, radius) for b in range(min_bits, max_bits + 1)}
    best = min(costs.values())
    bits = min(b for b, c in costs.items() if c <= 1.1 * best)  # near-best: the smallest
    m = math.ceil(256 / bits)
    widths = np.full(m, 256 // m, np.int64)
    widths[: 256 - int(widths.sum())] += 1
    starts = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.int64)
    return starts, widths


class PdqIndex:
    def __init__(self, capacity: int = 1024, *, min_chunk_bits: int = MIN_CHUNK_BITS,
                 max_chunk_bits: int = MAX_CHUNK_BITS, radius_hint: int = 31) -> None:
        self.min_chunk_bits = min_chunk_bits
        self.max_chunk_bits = max_chunk_bits
        self.radius_hint = radius_hint
        """The radius most searches will use (the layout is tuned for it; any radius works)."""
        self._codes = np.zeros((max(capacity, 16), 4), np.uint64)
        self._enabled = np.zeros(len(self._codes), np.bool_)
        self._group = np.zeros(len(self._codes), np.uint16)
        self._ref = np.zeros(len(self._codes), np.uint32)
        self._n = 0
        self._n_indexed = 0
        self._starts, self._widths = chunk_layout(0, min_chunk_bits, max_chunk_bits,
                                                  radius_hint)
        self._tables = np.zeros((len(self._widths), 0), np.uint32)
        self._dirs = np.zeros(0, np.uint32)
        self._dir_offsets = np.zeros(len(self._widths), np.int64)
        self.meta: dict[str, int] = {}
        """What the owner needs to know about this copy (e.g. how far it has caught up)."""
        self._build()

    # -- size ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._n

    @property
    def pending(self) -> int:
        """Hashes added since the tables were last sorted (compared one by one)."""
        return self._n - self._n_indexed

    def nbytes(self) -> int:
        n = max(self._n, 1)
        return int(self._codes[:n].nbytes + self._enabled[:n].nbytes + self._group[:n].nbytes
                   + self._ref[:n].nbytes + self._tables.nbytes + self._dirs.nbytes)

    def enabled_count(self) -> int:
        return int(self._enabled[: self._n].sum())

    # -- changes ---------------------------------------------------------------------------

    def add(self, hashes: Sequence[bytes], group: int = 0,
            refs: Sequence[int] | None = None, *, sort: bool = True) -> range:
        """Append hashes (32 bytes each); returns their slots. Searchable at once.

        With `sort=False` (bulk loading) the tables are left for `compact()` to sort once.
        """
        codes = to_codes(hashes)
        if refs is not None and len(refs) != len(codes):
            raise ValueError("one ref per hash")
        if not 0 <= group < 1 << 16:
            raise ValueError("group must fit 16 bits")
        start = self._n
        self._reserve(start + len(codes))
        self._codes[start: start + len(codes)] = codes
        self._enabled[start: start + len(codes)] = True
        self._group[start: start + len(codes)] = group
        self._ref[start: start + len(codes)] = (np.arange(start, start + len(codes))
                                                if refs is None else refs)
        self._n += len(codes)
        if sort and self.pending > max(4096, self._n_indexed // 16):
            self._build()
        return range(start, self._n)

    def set_enabled(self, slots: Iterable[int], enabled: bool) -> None:
        idx = np.fromiter(slots, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self._n):
            raise KeyError(f"slot out of range (index holds {self._n})")
        self._enabled[idx] = enabled

    def code(self, slot: int) -> bytes:
        return bytes(self._codes[slot].tobytes())

    def group(self, slot: int) -> int:
        return int(self._group[slot])

    def ref(self, slot: int) -> int:
        return int(self._ref[slot])

    def refs(self) -> np.ndarray:
        """The ref of every slot, in slot order (a view: do not modify)."""
        return self._ref[: self._n]

    def _reserve(self, n: int) -> None:
        if n <= len(self._codes):
            return
        size = max(n, len(self._codes) * 2)
        for name in ("_codes", "_enabled", "_group", "_ref"):
            old = getattr(self, name)
            new = np.zeros((size, *old.shape[1:]), old.dtype)
            new[: self._n] = old[: self._n]
            setattr(self, name, new)

    def _build(self) -> None:
        """Sort every chunk table over all hashes (the only step that costs O(n log n))."""
        n = self._n
        codes = self._codes[:n]
        self._starts, self._widths = chunk_layout(n, self.min_chunk_bits, self.max_chunk_bits,
                                                  self.radius_hint)
        m = len(self._widths)
        sizes = [(1 << int(w)) + 1 for w in self._widths]
        self._dir_offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self._dirs = np.zeros(sum(sizes), np.uint32)
        self._tables = np.zeros((m, n), np.uint32)
        self._n_indexed = n
        if not n:
            return  # empty: the directories are all zero, nothing to sort
        from veilleur.detect.media import mih

        for t in range(m):
            keys = mih.chunk_keys(codes, int(self._starts[t]), int(self._widths[t]))
            self._tables[t] = np.argsort(keys, kind="stable")
            counts = np.bincount(keys, minlength=1 << int(self._widths[t]))
            directory = self._dirs[self._dir_offsets[t]: self._dir_offsets[t] + sizes[t]]
            directory[1:] = np.cumsum(counts)

    def compact(self) -> None:
        """Sort the tables now (e.g. after a large import, before saving)."""
        if self.pending:
            self._build()

    # -- queries ---------------------------------------------------------------------------

    def search_arrays(self, queries: Sequence[bytes], radius: int = 31, *,
                      max_bucket: int = 0, flips: int | None = None) -> np.ndarray:
        """Raw hits as rows (query, slot, distance); a slot may repeat (several chunks).

        `max_bucket` > 0, or fewer `flips` than the radius needs, make the search inexact
        (see `mih.search`): for voting only, never for bank lookups.
        """
        if not queries or not self._n:
            return np.empty((0, 3), np.int64)
        if radius < 0:
            raise ValueError("radius must be >= 0")
        from veilleur.detect.media import mih

        q = to_codes(queries)
        if flips is None:
            flips = math.ceil((radius + 1) / len(self._widths)) - 1
        capacity = 256 * len(queries)
        while True:
            out = np.empty((capacity, 3), np.int64)
            if flips > MAX_FLIPS:
                found = mih.brute_force(self._codes, self._n, self._enabled, q, radius, out)
            else:
                found = mih.search(self._codes, self._tables, self._dirs, self._dir_offsets,
                                   self._starts, self._widths, self._n_indexed, self._n,
                                   self._enabled, q, radius, max(flips, 0), out, max_bucket)
            if found <= capacity:
                return out[:found]
            capacity = found

    def search(self, queries: Sequence[bytes], radius: int = 31) -> list[Hit]:
        """Every enabled slot within `radius` of any query, once, with its closest query."""
        best: dict[int, Hit] = {}
        for qi, slot, d in self.search_arrays(queries, radius).tolist():
            hit = Hit(d, slot, qi)
            if slot not in best or hit < best[slot]:
                best[slot] = hit
        return sorted(best.values())

    def brute_force(self, queries: Sequence[bytes], radius: int = 31) -> list[Hit]:
        """The reference answer (every slot compared); for tests and checks."""
        from veilleur.detect.media import mih

        q = to_codes(queries)
        out = np.empty((max(1, self._n * len(queries)), 3), np.int64)
        found = mih.brute_force(self._codes, self._n, self._enabled, q, radius, out)
        best: dict[int, Hit] = {}
        for qi, slot, d in out[:found].tolist():
            hit = Hit(d, slot, qi)
            if slot not in best or hit < best[slot]:
                best[slot] = hit
        return sorted(best.values())

    # -- persistence -----------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Write the index to `folder`, replacing what was there only once fully written."""
        self.compact()
        folder = Path(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
        try:
            n = self._n
            arrays = {"codes": self._codes[:n], "enabled": self._enabled[:n],
                      "group": self._group[:n], "ref": self._ref[:n], "tables": self._tables,
                      "dirs": self._dirs}
            for name, array in arrays.items():
                np.save(tmp / f"{name}.npy", np.ascontiguousarray(array))
            (tmp / "meta.json").write_text(json.dumps({
                "format": FORMAT, "n": n, "min_chunk_bits": self.min_chunk_bits,
                "max_chunk_bits": self.max_chunk_bits, "radius_hint": self.radius_hint,
                **self.meta}))
            old = folder.with_name(folder.name + ".old")
            if folder.exists():
                os.replace(folder, old)
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @classmethod
    def load(cls, folder: Path) -> PdqIndex:
        folder = Path(folder)
        try:
            meta = json.loads((folder / "meta.json").read_text())
            if meta.get("format") != FORMAT:
                raise IndexLoadError(f"{folder}: index format {meta.get('format')}, "
                                  f"this version reads {FORMAT}")
            arrays = {name: np.load(folder / f"{name}.npy") for name in _FILES}
        except IndexLoadError:
            raise
        except (OSError, ValueError, KeyError) as exc:
            raise IndexLoadError(f"{folder}: cannot load PDQ index: {exc}") from None
        n = int(meta["n"])
        index = cls.__new__(cls)
        index.min_chunk_bits = int(meta.get("min_chunk_bits", MIN_CHUNK_BITS))
        index.max_chunk_bits = int(meta.get("max_chunk_bits", MAX_CHUNK_BITS))
        index.radius_hint = int(meta.get("radius_hint", 31))
        index._codes = arrays["codes"].reshape(-1, 4)
        index._enabled = arrays["enabled"]
        index._group = arrays["group"]
        index._ref = arrays["ref"]
        index._n = n
        index._n_indexed = n
        index.meta = {k: v for k, v in meta.items()
                      if k not in ("format", "n", "min_chunk_bits", "max_chunk_bits",
                                   "radius_hint")}
        index._starts, index._widths = chunk_layout(n, index.min_chunk_bits,
                                                    index.max_chunk_bits, index.radius_hint)
        m = len(index._widths)
        sizes = [(1 << int(w)) + 1 for w in index._widths]
        index._dir_offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        index._tables = arrays["tables"]
        index._dirs = arrays["dirs"]
        if (len(index._codes) != n or len(index._ref) != n or index._tables.shape != (m, n)
                or len(index._dirs) != sum(sizes)):
            raise IndexLoadError(f"{folder}: PDQ index files do not agree with each other "
                              "(damaged or partly written); rebuild it")
        return index
