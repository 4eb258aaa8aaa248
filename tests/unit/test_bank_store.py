"""Stored banks on SQLite and PostgreSQL: import, disable, index catch-up, retroactive."""

from __future__ import annotations

import json
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


# --- pages of a feed, imported in order (issue 16) ----------------------------------------

FACE, BACE = "face" * 8, "bace" * 8


def audited_store(db_url: str, tmp_path: Path) -> tuple[BankStore, list[tuple[str, dict]]]:
    """A store whose audit entries are kept in a list, to read back."""
    audit: list[tuple[str, dict]] = []
    store = BankStore(connect(db_url), tmp_path / "index",
                      audit=lambda kind, actor, subject, detail: audit.append((kind, detail)))
    return store, audit


def page(folder: str, name: str) -> ParsedBank:
    from tests.shared_data import shared_testdata
    from veilleur.detect.media.banks import read_bank_file
    from veilleur.ingest.problems import ProblemLog

    parsed = read_bank_file(shared_testdata("formats-real", folder, name), ProblemLog())
    assert parsed is not None
    return parsed


def rows(db_url: str, bank: str) -> dict[str, tuple[bool, str | None, dict, datetime]]:
    """signal -> (enabled, source id, metadata, added_at) of a bank's entries."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from veilleur.store.models import BankEntryRow, BankRow

    with Session(connect(db_url)) as conn:
        found = conn.execute(select(BankEntryRow).join(
            BankRow, BankRow.id == BankEntryRow.bank_id).where(BankRow.name == bank)).scalars()
        return {r.signal: (r.enabled, r.source_id, r.meta, r.added_at.replace(tzinfo=UTC))
                for r in found}


def test_ncmec_pages_3_then_4_update_one_record_and_delete_the_other(
        db_url: str, tmp_path: Path) -> None:
    store, audit = audited_store(db_url, tmp_path)
    third = store.import_entries("ncmec", page("ncmec-hash-sharing", "ENTRIES_XML3.xml"),
                                 actor="test")
    assert (third.added, third.updated, third.removed, third.more_pages is not None) == (
        2, 0, 0, True)
    fourth = store.import_entries("ncmec", page("ncmec-hash-sharing", "ENTRIES_XML4.xml"),
                                  actor="test")
    assert (fourth.read, fourth.added, fourth.updated, fourth.already_present,
            fourth.removed, fourth.not_held, fourth.more_pages) == (1, 0, 1, 0, 1, 0, None)
    held = rows(db_url, "ncmec")
    assert held[BACE][:2] == (False, "willdelete")  # deleted by its record id
    enabled, source_id, meta, added_at = held[FACE]
    assert (enabled, source_id, meta["classification"]) == (True, "willupdate", "A2")
    # the record's <timestamp>, not the import's; page 4's is the earlier (NCMEC pages do not
    # come in time order): the time the source first listed it
    assert added_at == datetime(2019, 11, 24, 15, 10, tzinfo=UTC)
    assert store.exact_lookup("md5", BACE) == [] and len(store.exact_lookup("md5", FACE)) == 1
    # the update is in the bank's event log and in the audit
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from veilleur.store.models import BankEventRow

    with Session(store.db) as conn:
        (update,) = conn.execute(select(BankEventRow.detail).where(
            BankEventRow.action == "update")).scalars()
    assert update["from"]["meta"]["classification"] == "A1"
    assert update["to"]["meta"]["classification"] == "A2"
    imports = [d for kind, d in audit if kind == "bank.import"]
    assert [(d["added"], d["updated"], d["removed"]) for d in imports] == [(2, 0, 0), (0, 1, 1)]
    # page 4 again changes nothing: already present, the deleted record stays off
    again = store.import_entries("ncmec", page("ncmec-hash-sharing", "ENTRIES_XML4.xml"),
                                 actor="test")
    assert (again.added, again.updated, again.already_present, again.removed) == (0, 0, 1, 0)
    assert rows(db_url, "ncmec")[BACE][0] is False


def test_ncmec_feed_in_order_and_deletions_of_what_is_not_held(
        db_url: str, tmp_path: Path) -> None:
    store, _ = audited_store(db_url, tmp_path)
    reports = [store.import_entries("feed", page("ncmec-hash-sharing", name), actor="test")
               for name in ("ENTRIES_XML.xml", "ENTRIES_XML2.xml", "ENTRIES_NO_DATA_XML.xml",
                            "ENTRIES_XML3.xml", "ENTRIES_XML4.xml")]
    assert [(r.added, r.updated, r.removed, r.not_held, r.stored) for r in reports] == [
        (2, 0, 0, 2, True),  # image4 and video4 were never imported here
        (1, 0, 0, 0, True), (0, 0, 0, 0, False), (2, 0, 0, 0, True), (0, 1, 1, 0, True)]
    [summary] = store.list_banks()
    assert summary.entries == {"md5": 4} and summary.disabled == 1
    large = store.import_entries("large", page("ncmec-hash-sharing",
                                               "ENTRIES_LARGE_FINGERPRINTS.xml"), actor="test")
    assert large.added == 1 and large.skipped_types == {"tmk-pdqf": 1, "videntifier": 1}


def test_a_page_with_nothing_to_store_makes_no_bank(db_url: str, tmp_path: Path) -> None:
    store, audit = audited_store(db_url, tmp_path)
    empty = store.import_entries("x", page("ncmec-hash-sharing", "ENTRIES_NO_DATA_XML.xml"),
                                 actor="test")
    gone = store.import_entries("x", ParsedBank("ncmec", [], [Removal.of_record("r", "d")]),
                                actor="test")
    assert (empty.stored, gone.stored, gone.not_held) == (False, False, 1)
    assert store.list_banks() == [] and audit == []
    with pytest.raises(BankError, match="no hash entry was read"):
        store.import_entries("x", ParsedBank("csv"), actor="test")  # a file that is no bank


def test_stopncii_withdrawals_disable_what_earlier_pages_imported(
        db_url: str, tmp_path: Path) -> None:
    store, _ = audited_store(db_url, tmp_path)
    first = store.import_entries("stop", page("stopncii", "fetch_page1.json"), actor="test")
    second = store.import_entries("stop", page("stopncii", "fetch_page2.json"), actor="test")
    assert (first.added, first.more_pages is not None) == (2, True)
    assert (second.added, second.more_pages) == (1, None)
    [summary] = store.list_banks()
    assert summary.entries == {"pdq": 3} and summary.category is None
    received = page("stopncii", "fetch_page1.json").entries[0]
    assert received.metadata["hashStatus"] == "Received"  # a submission: it matches
    (info,) = store.resolve(store.exact_lookup("pdq", received.signal)).values()
    assert info.category == Category.NCII
    held = rows(db_url, "stop")
    assert held[received.signal][3] == datetime(2021, 7, 1, 19, 30, 4, tzinfo=UTC)

    def status(value: str, *signals: str) -> ParsedBank:
        from veilleur.detect.media.banks import read_bank_file
        from veilleur.ingest.problems import ProblemLog

        path = tmp_path / f"{value}.json"
        path.write_text(json.dumps({"count": len(signals), "hasMoreRecords": False,
                                    "nextPageToken": "", "hashRecords": [
            {"lastModtimestamp": 1700000000, "hashValue": s, "hashStatus": value,
             "caseNumbers": {}, "signalType": "ImagePDQ"} for s in signals]}))
        parsed = read_bank_file(path, ProblemLog())
        assert parsed is not None
        return parsed

    withdrawn = store.import_entries("stop", status("Withdrawn", received.signal, "e" * 64),
                                     actor="test")
    assert (withdrawn.removed, withdrawn.not_held) == (1, 1)
    assert rows(db_url, "stop")[received.signal][0] is False
    assert BankStore(connect(db_url), tmp_path / "index").index().enabled_count() == 2
    # listed again at source: enabled again; an operator's own decision is never undone
    back = store.import_entries("stop", status("Active", received.signal), actor="test")
    assert (back.reenabled, back.updated) == (1, 1)  # its status is now Active
    assert rows(db_url, "stop")[received.signal][0] is True
    store.set_enabled("stop", False, [received.signal], actor="test")
    kept_off = store.import_entries("stop", status("Active", received.signal), actor="test")
    assert kept_off.reenabled == 0 and rows(db_url, "stop")[received.signal][0] is False
