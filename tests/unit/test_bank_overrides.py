"""Issue 15, item 6: an allow entry never quietly silences a deny list.

An allow entry that would silence a listed hash or a category a deny bank holds is an
override: refused without leave, recorded and audited with it; a listed child sexual abuse
hash keeps matching against any allow entry that was not made as such an override."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from tests.unit.test_bank_store import picture_hashes
from veilleur.detect.media.banks import BankEntry, ParsedBank
from veilleur.detect.media.hashing import MediaHashes
from veilleur.detect.media.matcher import BankInfo, BankMatcher, EntryInfo, Override
from veilleur.store.banks import BankStore, OverrideRefusedError
from veilleur.store.casework import audit_entries, verify_audit
from veilleur.store.db import connect
from veilleur.store.models import BankEntryRow, BankRow
from veilleur.taxonomy import Category

MD5 = "ab" * 16
DENY, ALLOW = BankInfo(1, "list"), BankInfo(2, "memes", allow=True)


def _matcher(deny: Category, override: Override | None) -> BankMatcher:
    entries = {1: EntryInfo(1, DENY, "md5", MD5, deny),
               2: EntryInfo(2, ALLOW, "md5", MD5, Category.NCII, overrides=override)}
    return BankMatcher({1: DENY, 2: ALLOW}, exact={("md5", MD5): [1, 2]},
                       resolve=lambda ids: {i: entries[i] for i in ids})


def _hit(deny: Category, override: Override | None) -> tuple[list[int], list[int]]:
    result = _matcher(deny, override).match(MediaHashes(file="x", md5=MD5))
    return [m.entry.id for m in result.matches], [m.entry.id for m in result.suppressed]


def test_only_an_explicit_override_silences_a_protected_category() -> None:
    assert _hit(Category.CSAM, None) == ([1], [])  # an ordinary allow entry: still listed
    assert _hit(Category.CSAM, Override(entries=frozenset({1}))) == ([], [1])
    assert _hit(Category.CSAM, Override(categories=frozenset({Category.CSAM}))) == ([], [1])
    # an override for another entry or category leaves this one standing
    assert _hit(Category.CSAM, Override(entries=frozenset({7}),
                                        categories=frozenset({Category.NCII}))) == ([1], [])
    # outside the protected categories an allow entry is the exception it always was
    assert _hit(Category.NCII, None) == ([], [1])


def _store(db_url: str, tmp_path: Path) -> BankStore:
    return BankStore(connect(db_url), tmp_path / "index")


def test_an_allow_entry_for_a_listed_hash_is_refused_without_leave(
        db_url: str, tmp_path: Path) -> None:
    store = _store(db_url, tmp_path)
    store.import_entries("hotline", ParsedBank("csv", [BankEntry("md5", MD5, Category.CSAM)]),
                         actor="cli:ops")
    allow = ParsedBank("csv", [BankEntry("md5", MD5, Category.NCII, note="a meme")])
    with pytest.raises(OverrideRefusedError, match=r"md5 abababababab… is listed in deny "
                       r"bank 'hotline'.*banks:override.*--override"):
        store.import_entries("memes", allow, kind="allow", actor="cli:mallory")
    assert [b.name for b in store.list_banks()] == ["hotline"]  # nothing stored
    matcher = store.matcher()
    assert matcher is not None and matcher.match(MediaHashes(file="x", md5=MD5)).matches
    # a category a deny bank holds needs leave as well, whatever the hash
    with pytest.raises(OverrideRefusedError, match="category csam is held by a deny bank"):
        store.import_entries("memes", ParsedBank("csv", [
            BankEntry("md5", "cd" * 16, Category.CSAM)]), kind="allow", actor="cli:mallory")
    # an allow entry touching no deny list is an ordinary one
    fine = store.import_entries("memes", ParsedBank("csv", [
        BankEntry("md5", "cd" * 16, Category.NCII)]), kind="allow", actor="cli:ops")
    assert fine.added == 1 and fine.overrides is None


def test_a_pdq_within_a_deny_banks_radius_is_an_override(db_url: str, tmp_path: Path) -> None:
    store = _store(db_url, tmp_path)
    listed = picture_hashes(1).pdq
    assert listed is not None
    store.import_entries("hotline", ParsedBank("csv", [BankEntry("pdq", listed.hex,
                                                                 Category.SEXTORTION)]),
                         actor="cli:ops")
    close = bytearray(bytes.fromhex(listed.hex))
    close[0] ^= 0b111  # three bits away: well inside the default radius of 31
    with pytest.raises(OverrideRefusedError, match=r"pdq .* is listed in deny bank"):
        store.import_entries("memes", ParsedBank("csv", [
            BankEntry("pdq", bytes(close).hex(), Category.NCII)]), kind="allow",
            actor="cli:mallory")


def test_an_override_is_recorded_audited_and_honoured(db_url: str, tmp_path: Path) -> None:
    store = _store(db_url, tmp_path)
    store.import_entries("hotline", ParsedBank("csv", [BankEntry("md5", MD5, Category.CSAM)]),
                         actor="cli:ops")
    report = store.import_entries("memes", ParsedBank("csv", [
        BankEntry("md5", MD5, Category.NCII, note="a benign collision")]),
        kind="allow", actor="cli:lea", override=True)
    assert report.overrides is not None and report.overrides["allow_entries"] == 1
    assert report.overrides["overridden_entries_count"] == 1
    with store.db.connect() as conn:
        deny_id = conn.execute(select(BankEntryRow.id).join(BankRow).where(
            BankRow.name == "hotline")).scalar_one()
        (recorded,) = conn.execute(select(BankEntryRow.overrides).join(BankRow).where(
            BankRow.name == "memes")).scalars()
    assert recorded["entries"] == [deny_id] and recorded["by"] == "cli:lea"
    matcher = store.matcher()
    assert matcher is not None
    result = matcher.match(MediaHashes(file="x", md5=MD5))
    assert not result.matches and [m.entry.id for m in result.suppressed] == [deny_id]
    assert store.set_enabled("memes", False, actor="cli:lea") == 1
    audit = [(e.kind, e.actor, e.subject) for e in audit_entries(store.db)]
    assert audit == [("bank.created", "cli:ops", "bank:hotline"),
                     ("bank.import", "cli:ops", "bank:hotline"),
                     ("bank.created", "cli:lea", "bank:memes"),
                     ("bank.import", "cli:lea", "bank:memes"),
                     ("bank.override", "cli:lea", "bank:memes"),
                     ("bank.disabled", "cli:lea", "bank:memes")]
    override = next(e for e in audit_entries(store.db) if e.kind == "bank.override")
    assert override.detail["overridden_entries"] == [deny_id]
    assert next(e for e in audit_entries(store.db) if e.kind == "bank.import").detail[
        "added"] == 1
    assert verify_audit(store.db).ok


def test_a_deny_entry_listed_after_an_ordinary_allow_entry_still_matches(
        db_url: str, tmp_path: Path) -> None:
    """However an ordinary allow entry got there first, it never silences abuse listed later."""
    store = _store(db_url, tmp_path)
    store.import_entries("memes", ParsedBank("csv", [BankEntry("md5", MD5, Category.NCII)]),
                         kind="allow", actor="cli:ops")
    store.import_entries("hotline", ParsedBank("csv", [BankEntry("md5", MD5, Category.CSAM)]),
                         actor="cli:ops")
    matcher = store.matcher()
    assert matcher is not None
    result = matcher.match(MediaHashes(file="x", md5=MD5))
    assert [m.entry.category for m in result.matches] == [Category.CSAM]
    assert [m.entry.bank.name for m in result.allowed_by] == ["memes"]
