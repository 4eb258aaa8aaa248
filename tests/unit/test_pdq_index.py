"""The PDQ index returns exactly what brute force returns, through adds, disables, reloads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veilleur.detect.media.index import IndexLoadError, PdqIndex, chunk_layout


def flip(code: bytes, bits: list[int]) -> bytes:
    b = bytearray(code)
    for bit in bits:
        b[bit // 8] ^= 1 << (bit % 8)
    return bytes(b)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 3000),
       radius=st.sampled_from([0, 8, 31, 35, 48]), sorted_part=st.floats(0, 1))
def test_search_equals_brute_force(seed: int, n: int, radius: int, sorted_part: float) -> None:
    rng = np.random.default_rng(seed)
    codes = [rng.bytes(32) for _ in range(n)]
    index = PdqIndex()
    cut = int(n * sorted_part)
    index.add(codes[:cut], sort=False)
    index.compact()
    index.add(codes[cut:], group=3, sort=False)  # pending: compared one by one
    queries = [flip(codes[int(i)], [int(b) for b in rng.choice(256, int(rng.integers(0, 45)),
                                                               replace=False)])
               for i in rng.integers(0, n, 6)]
    assert index.search(queries, radius) == index.brute_force(queries, radius)


def test_every_match_within_31_is_found_and_none_beyond() -> None:
    rng = np.random.default_rng(1)
    base = rng.bytes(32)
    near = [flip(base, list(range(k))) for k in range(0, 40)]
    index = PdqIndex()
    index.add(near + [rng.bytes(32) for _ in range(5000)])
    hits = index.search([base], 31)
    assert sorted(h.slot for h in hits) == list(range(32))
    assert all(h.distance == h.slot for h in hits)


def test_disable_refs_groups_and_reload(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    codes = [rng.bytes(32) for _ in range(2000)]
    index = PdqIndex()
    slots = index.add(codes, group=7, refs=list(range(1000, 3000)))
    index.set_enabled([slots[10]], False)
    assert index.search([codes[10]], 0) == []
    hit = index.search([codes[11]], 0)[0]
    assert (index.ref(hit.slot), index.group(hit.slot)) == (1011, 7)
    index.meta = {"entries_through": 42}
    index.save(tmp_path / "idx")
    loaded = PdqIndex.load(tmp_path / "idx")
    assert loaded.meta == {"entries_through": 42}
    assert loaded.search(codes[:50], 31) == index.search(codes[:50], 31)
    loaded.add([rng.bytes(32)])  # grows after loading
    assert len(loaded) == 2001
    with pytest.raises(KeyError):
        loaded.set_enabled([5000], False)


def test_damaged_index_is_a_clear_error(tmp_path: Path) -> None:
    index = PdqIndex()
    index.add([bytes(32)] * 10)
    index.save(tmp_path / "idx")
    (tmp_path / "idx" / "tables.npy").write_bytes(b"not numpy")
    with pytest.raises(IndexLoadError, match="cannot load PDQ index"):
        PdqIndex.load(tmp_path / "idx")
    with pytest.raises(IndexLoadError):
        PdqIndex.load(tmp_path / "missing")


def test_chunks_cover_256_bits() -> None:
    for n in (0, 10, 10**4, 10**6, 10**7, 10**9):
        starts, widths = chunk_layout(n)
        assert int(widths.sum()) == 256 and starts[0] == 0
        assert all(starts[1:] == np.cumsum(widths)[:-1])
        assert len(widths) * 3 - 1 >= 31  # radius 31 is always exact
