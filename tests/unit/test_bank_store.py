"""Stored banks on SQLite and PostgreSQL: import, disable, index catch-up, retroactive."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from bench.imagegen import make_image
from PIL import ImageOps

from veilleur.decide.policy import load_policy
from veilleur.detect.base import POLICY_DIR
from veilleur.detect.media.banks import BankEntry, ParsedBank, Removal
from veilleur.detect.media.hashing import MediaHashes
from veilleur.detect.media.pdq import PdqHash, query_hashes
from veilleur.events import Attachment, Message, MessagePosted
from veilleur.store.banks import BankError, BankStore
from veilleur.store.db import connect
from veilleur.store.writer import StoreWriter
from veilleur.taxonomy import Category


def picture_hashes(seed: int, mirror: bool = False) -> MediaHashes:
    im = make_image(seed)
    if mirror:
        im = ImageOps.mirror(im)
    own, lookups, labels = query_hashes(np.asarray(im))
    return MediaHashes(file=f"{seed}.jpg", md5=f"{seed:032x}", sha256=f"{seed:064x}", pdq=own,
                       kind="image", lookups=tuple(lookups), lookup_labels=tuple(labels))


def store_media(db_url: str, items: dict[str, MediaHashes]) -> None:
    writer = StoreWriter(connect(db_url))
    for att_id, hashes in items.items():
        msg = Message(id=f"m{att_id}", channel_id="c", guild_id="g", author_id="u", content="",
                      attachments=(Attachment(id=att_id, media=hashes),))
        writer.add(MessagePosted(ts=datetime(2026, 1, 1, tzinfo=UTC), message=msg))
    writer.flush()


def test_import_disable_and_index_catch_up(db_url: str, tmp_path: Path) -> None:
    db = connect(db_url)
    store = BankStore(db, tmp_path / "index")
    a, b = picture_hashes(1).pdq, picture_hashes(2).pdq
    assert a is not None and b is not None
    parsed = ParsedBank("csv", [BankEntry("pdq", a.hex, Category.CSAM, note="first"),
                                BankEntry("pdq", b.hex, Category.CSAM),
                                BankEntry("md5", "0" * 32, Category.CSAM)])
    report = store.import_entries("list", parsed, actor="test")
    assert (report.created, report.added, report.already_present) == (True, 3, 0)
    again = store.import_entries("list", parsed, actor="test")
    assert (again.created, again.added, again.already_present) == (False, 0, 3)

    matcher = store.matcher()
    assert matcher is not None
    hit = matcher.match(picture_hashes(1, mirror=True)).matches
    assert [(m.entry.note, m.signal_type) for m in hit] == [("first", "pdq")]
    assert hit[0].variant == "mirrored back" and hit[0].distance <= 8

    removed = store.import_entries("list", ParsedBank("csv", [], [
        Removal("pdq", a.hex, "withdrawn")]), actor="test")
    assert removed.removed == 1
    # a second store (another process) loads the saved index and replays the log
    other = BankStore(connect(db_url), tmp_path / "index")
    matcher = other.matcher()
    assert matcher is not None and not matcher.match(picture_hashes(1)).matches
    assert other.set_enabled("list", True, [a.hex], actor="test") == 1
    fresh = BankStore(connect(db_url), tmp_path / "index")
    assert fresh.matcher().match(picture_hashes(1)).matches  # type: ignore[union-attr]
    [summary] = fresh.list_banks()
    assert summary.entries == {"pdq": 2, "md5": 1} and summary.disabled == 0
    with pytest.raises(BankError, match="no bank named 'nope'"):
        fresh.set_enabled("nope", False, actor="test")


def test_damaged_index_is_rebuilt_from_the_database(db_url: str, tmp_path: Path) -> None:
    store = BankStore(connect(db_url), tmp_path / "index")
    h = picture_hashes(3).pdq
    assert h is not None
    store.import_entries("list", ParsedBank("csv", [BankEntry("pdq", h.hex, Category.NCII)]),
                         actor="test")
    (tmp_path / "index" / "codes.npy").write_bytes(b"garbage")
    again = BankStore(connect(db_url), tmp_path / "index")
    assert again.index().enabled_count() == 1
    assert again.matcher().match(picture_hashes(3)).matches  # type: ignore[union-attr]


def test_retroactive_matches_become_findings_once(db_url: str, tmp_path: Path) -> None:
    store_media(db_url, {"a1": picture_hashes(4), "a2": picture_hashes(5),
                         "a3": MediaHashes(file="flat.png", pdq=PdqHash(bytes(32), 10),
                                           kind="image", lookups=(bytes(32),))})
    store = BankStore(connect(db_url), tmp_path / "index")
    mirrored = picture_hashes(4, mirror=True).pdq
    assert mirrored is not None
    policy = load_policy(POLICY_DIR / "policy.toml")
    entries = [BankEntry("pdq", mirrored.hex, Category.CSAM),
               BankEntry("sha256", f"{5:064x}", Category.NCII),
               BankEntry("pdq", "0" * 64, Category.CSAM)]  # only a flat picture's hash
    report = store.import_entries("late", ParsedBank("csv", entries), policy=policy,
                                 actor="test")
    assert report.retro_media_checked == 3
    assert sorted((m.attachment_id, m.match.signal_type) for m in report.retro_matches) == [
        ("a1", "pdq"), ("a2", "sha256")]
    second = store.import_entries("late2", ParsedBank("csv", entries), policy=policy,
                                 actor="test")
    assert sorted(m.attachment_id for m in second.retro_matches) == ["a1", "a2"]  # new bank
    third = store.import_entries("late", ParsedBank("csv", entries), policy=policy,
                                 actor="test")
    assert third.retro_matches == []  # nothing new
    assert store.match_counts() == {"retroactive": 4}


def test_allow_bank_conflicts_are_refused(db_url: str, tmp_path: Path) -> None:
    store = BankStore(connect(db_url), tmp_path / "index")
    store.ensure_bank("memes", kind="allow", actor="test")
    with pytest.raises(BankError, match="is an allow-bank"):
        store.ensure_bank("memes", kind="deny", actor="test")
    with pytest.raises(BankError, match="between 0 and 35"):
        store.ensure_bank("x", pdq_threshold=40, actor="test")
