"""Generated pictures posted on the bus, and bank files listing some of them: what the
media-hashes and retroactive tests share. Nothing here is a real picture or a real list."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
from bench.imagegen import make_image

from veilleur.detect.media.pdq import pdq

SEEDS = (1, 2, 3, 4, 5, 6)
"""Posted pictures: p1 listed by PDQ (near), p2 by a PDQ too far away, p3 by SHA-256, p4 by
MD5 (the new entries); p5 by SHA-256 in the bank the detect workers already had; p6 never."""


def write_pictures(folder: Path) -> dict[int, bytes]:
    out = {}
    for seed in SEEDS:
        path = folder / f"p{seed}.png"
        make_image(seed).save(path)
        out[seed] = path.read_bytes()
    return out


def flipped(hex64: str, bits: int, seed: int = 0) -> str:
    """`hex64` with `bits` distinct bits flipped: a PDQ `bits` away."""
    raw = bytearray(bytes.fromhex(hex64))
    for b in np.random.default_rng(seed).choice(256, bits, replace=False).tolist():
        raw[b // 8] ^= 1 << (b % 8)
    return raw.hex()


def reference_pdq(data: bytes) -> str:
    import io

    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    return pdq(rgb).hex


def write_banks(folder: Path, pictures: dict[int, bytes]) -> tuple[Path, Path]:
    """(new entries, the bank in force before them), as contracts §7 CSV files."""
    new = folder / "new-entries.csv"
    new.write_text("signal_type,signal,category\n"
                   f"pdq,{flipped(reference_pdq(pictures[1]), 12)},csam\n"
                   f"pdq,{flipped(reference_pdq(pictures[2]), 90, seed=1)},csam\n"
                   f"sha256,{hashlib.sha256(pictures[3]).hexdigest()},csam\n"
                   f"md5,{hashlib.md5(pictures[4], usedforsecurity=False).hexdigest()},csam\n")
    old = folder / "old-bank.csv"
    old.write_text("signal_type,signal,category\n"
                   f"sha256,{hashlib.sha256(pictures[5]).hexdigest()},csam\n")
    return new, old


def posted(mid: str, guild: str | None, channel: str, author: str, pictures: list[str],
           text: str = "regarde", ts: str = "2026-03-01T12:00:00Z") -> dict[str, Any]:
    """A message event with attachments: (attachment id, picture file) from `pictures`
    given as "ATTACHMENT:FILE"."""
    atts = []
    for item in pictures:
        att, _, path = item.partition(":")
        atts.append({"id": att, "path": path})
    m: dict[str, Any] = {"id": mid, "channel_id": channel, "author_id": author,
                         "content": text, "attachments": atts}
    if guild is not None:
        m["guild_id"] = guild
    return {"type": "message", "ts": ts, "event_id": f"ev-{mid}", "message": m}


def traffic() -> list[dict[str, Any]]:
    """Pictures posted in two servers and a DM; p1 twice (two attachments, two places)."""
    return [posted("m1", "g1", "c1", "u1", ["a1:p1.png", "a2:p2.png"]),
            posted("m2", "g1", "c1", "u2", ["a3:p3.png"]),
            posted("m3", "g2", "c2", "u3", ["a4:p4.png", "a5:p5.png"]),
            posted("m4", None, "dm1", "u4", ["a6:p6.png", "a7:p1.png"]),
            posted("m5", "g2", "c2", "u5", ["a8:https://cdn.example/x.png"]),
            {"type": "message", "ts": "2026-03-01T12:01:00Z", "event_id": "ev-m6",
             "message": {"id": "m6", "channel_id": "c1", "guild_id": "g1",
                         "author_id": "u1", "content": "gg"}}]


NEW_MATCHES = {"a1", "a3", "a4", "a7"}
"""The attachments the new entries match: p1 (twice, by PDQ), p3 (SHA-256), p4 (MD5)."""
HASHED = {"a1", "a2", "a3", "a4", "a5", "a6", "a7"}
"""Attachments with a hash (a8 is a remote reference, never fetched)."""
