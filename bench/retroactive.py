"""Retroactive matching: a bank learns new hashes; how long until past media are re-checked.

    .venv/bin/python bench/retroactive.py --media 200000 --entries 10000

Stores N past attachments' hashes (random PDQ lookups, 9 per picture as the engine stores
them) in a fresh SQLite database, then imports a bank of M new PDQ entries, some of them
within 20 bits of a stored picture. Prints the import time, the media re-checked per second
and checks that exactly the planted pictures were found.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from veilleur.decide.policy import load_policy
from veilleur.detect.base import POLICY_DIR
from veilleur.detect.media.banks import BankEntry, ParsedBank
from veilleur.store.banks import BankStore
from veilleur.store.db import connect, database_url
from veilleur.store.models import MediaHashRow
from veilleur.taxonomy import Category


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--media", type=int, default=200_000)
    ap.add_argument("--entries", type=int, default=10_000)
    ap.add_argument("--planted", type=int, default=25)
    args = ap.parse_args()
    rng = np.random.default_rng(5)
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url(str(Path(tmp) / "v.db"))
        db = connect(url)
        now = datetime.now(UTC)
        t0 = time.perf_counter()
        lookups = rng.integers(0, 256, (args.media, 9, 32), dtype=np.uint8)
        table = MediaHashRow.__table__
        with db.begin() as conn:
            for start in range(0, args.media, 10_000):
                conn.execute(table.insert(), [{  # type: ignore[attr-defined]
                    "attachment_id": str(i), "message_id": str(i), "kind": "image",
                    "pdq": lookups[i, 0].tobytes().hex(), "pdq_quality": 90,
                    "lookups": lookups[i].tobytes(), "detail": {"labels": []},
                    "hashed_at": now} for i in range(start, min(args.media, start + 10_000))])
        stored_s = time.perf_counter() - t0
        planted = rng.choice(args.media, args.planted, replace=False)
        entries = []
        for i in planted:
            code = bytearray(lookups[i, int(rng.integers(0, 9))].tobytes())
            for bit in rng.choice(256, 20, replace=False):
                code[bit // 8] ^= 1 << (bit % 8)
            entries.append(BankEntry("pdq", bytes(code).hex(), Category.CSAM))
        entries += [BankEntry("pdq", rng.bytes(32).hex(), Category.CSAM)
                    for _ in range(args.entries - len(entries))]
        store = BankStore(db, Path(tmp) / "index")
        t0 = time.perf_counter()
        report = store.import_entries("new", ParsedBank("csv", entries), actor="bench",
                                      policy=load_policy(POLICY_DIR / "policy.toml"))
        import_s = time.perf_counter() - t0
        found = {int(m.attachment_id) for m in report.retro_matches}
        assert found == {int(i) for i in planted}, (len(found), args.planted)
        print(f"{args.media:,} stored pictures ({stored_s:.0f} s to store); bank import of "
              f"{args.entries:,} PDQ entries with re-check: {import_s:.1f} s "
              f"({report.retro_media_checked / import_s:,.0f} media/s); "
              f"{len(found)} of {args.planted} planted pictures found, no others")


if __name__ == "__main__":
    main()
