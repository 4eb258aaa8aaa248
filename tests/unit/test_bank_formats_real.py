"""The hash-sharing files real programmes send (StopNCII FetchHashes pages, NCMEC hash-sharing
pages), read in place from `shared/testdata/formats-real`: what each one must give."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.shared_data import shared_testdata
from veilleur.detect.media.banks import BankEntry, ParsedBank, Removal, read_bank_file
from veilleur.ingest.problems import ProblemLog
from veilleur.taxonomy import Category


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def unix(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def read(path: Path) -> ParsedBank:
    problems = ProblemLog()
    parsed = read_bank_file(path, problems)
    assert parsed is not None, [str(p) for p in problems]
    assert not problems, [str(p) for p in problems]
    return parsed


def entries(parsed: ParsedBank) -> list[tuple[str, str, str | None, str | None, datetime | None]]:
    return [(e.signal_type, e.signal, e.source_id, e.metadata.get("classification"),
             e.added_at) for e in parsed.entries]


STOPNCII = {
    "fetch_page1.json": dict(
        entries=[("pdq", "2afc4a5c09628a7961c14d436493bba66b89b831453baa1d556ba385554daa82",
                  "Received", unix(1625167804)),
                 ("pdq", "79e07de27d7295339435d63cd31cf35a7bfa29eb2885008500a588a5ea3ae75a",
                  "Received", unix(1625167844))],
        more=True),
    "fetch_page2.json": dict(
        entries=[("pdq", "9def0b7dafa86a1c90f2abd78e79ceb25ec3d1a4b3d4bc7a4354baf7717ea038",
                  "Active", unix(1625175071))],
        more=False),
}


def test_every_stopncii_page_is_read_as_stopncii_meant_it() -> None:
    folder = shared_testdata("formats-real", "stopncii")
    assert sorted(p.name for p in folder.iterdir()) == sorted(STOPNCII)
    for name, want in STOPNCII.items():
        parsed = read(folder / name)
        assert parsed.format == "stopncii" and parsed.feed_page, name
        assert [(e.signal_type, e.signal, e.metadata["hashStatus"], e.added_at)
                for e in parsed.entries] == want["entries"], name
        assert all(e.category == Category.NCII for e in parsed.entries)
        assert parsed.removals == [] and not parsed.skipped_types, name
        assert (parsed.more_pages is not None) == want["more"], name
    first = read(folder / "fetch_page1.json")
    assert first.more_pages is not None and first.more_pages.startswith("W3siY29tcG9z")
    cases = json.loads(first.entries[0].metadata["caseNumbers"])
    assert len(cases) == 4 and set(cases.values()) == {"Received"}
    feedback = json.loads(read(folder / "fetch_page2.json").entries[0].metadata["CSPFeedbacks"])
    assert feedback[0]["feedbackValue"] == "Blocked"


def test_stopncii_records_without_their_page_wrapper(tmp_path: Path) -> None:
    """A copy holding only the records (the issue's renamed copy): `Received` is an entry,
    withdrawn and deleted records withdraw, unknown types are counted by name."""
    page = json.loads(shared_testdata("formats-real", "stopncii", "fetch_page1.json")
                      .read_text())
    records = page["hashRecords"]
    records[1]["hashStatus"] = "Withdrawn"
    records += [{"signalType": "VideoMD5", "hashValue": "ab" * 16, "hashStatus": "Deleted"},
                {"signalType": "VideoMD5", "hashValue": "cd" * 16, "hashStatus": "Active"},
                {"signalType": "VideoTMK", "hashValue": "00", "hashStatus": "Active"},
                {"signalType": "URL", "hashValue": "example.org", "hashStatus": "Active"}]
    path = tmp_path / "records.json"
    path.write_text(json.dumps(records))
    parsed = read(path)
    assert not parsed.feed_page and parsed.more_pages is None
    assert [(e.signal_type, e.metadata["hashStatus"]) for e in parsed.entries] == [
        ("pdq", "Received"), ("md5", "Active")]
    assert [(r.signal_type, r.signal, r.reason) for r in parsed.removals] == [
        ("pdq", records[1]["hashValue"], "StopNCII: withdrawn"),
        ("md5", "ab" * 16, "StopNCII: deleted")]
    assert parsed.skipped_types == {"videotmk": 1, "url": 1}


FACE, BACE = "face" * 8, "bace" * 8
NCMEC = {
    "ENTRIES_XML.xml": dict(
        entries=[("md5", "a1" * 16, "image1", "A1", at("2017-10-24T15:00:00")),
                 ("md5", "b1" * 16, "video1", None, at("2017-10-24T15:00:00"))],
        deleted=["image4", "video4"], skipped={"sha1": 2, "pdna": 1}, more=True),
    "ENTRIES_XML2.xml": dict(
        entries=[("md5", "b1" + "a1" * 15, "image10", "A1", at("2019-10-24T15:00:00"))],
        deleted=[], skipped={"sha1": 1, "pdna": 1}, more=True),
    "ENTRIES_XML3.xml": dict(
        entries=[("md5", FACE, "willupdate", "A1", at("2019-11-25T15:10:00")),
                 ("md5", BACE, "willdelete", "A1", at("2019-11-24T15:10:00"))],
        deleted=[], skipped={}, more=True),
    "ENTRIES_XML4.xml": dict(
        entries=[("md5", FACE, "willupdate", "A2", at("2019-11-24T15:10:00"))],
        deleted=["willdelete"], skipped={}, more=False),
    "ENTRIES_LARGE_FINGERPRINTS.xml": dict(
        entries=[("md5", FACE, "largetags", "A2", at("2019-11-24T15:10:00"))],
        deleted=[], skipped={"tmk-pdqf": 1, "videntifier": 1}, more=False),
    "ENTRIES_NO_DATA_XML.xml": dict(entries=[], deleted=[], skipped={}, more=False),
}


@pytest.mark.parametrize("name", sorted(NCMEC))
def test_every_ncmec_page_is_read_as_ncmec_meant_it(name: str) -> None:
    folder = shared_testdata("formats-real", "ncmec-hash-sharing")
    assert sorted(p.name for p in folder.iterdir()) == sorted(NCMEC)
    want = NCMEC[name]
    parsed = read(folder / name)
    assert parsed.format == "ncmec" and parsed.feed_page
    assert entries(parsed) == want["entries"]
    assert all(e.category == Category.CSAM for e in parsed.entries)
    # a deletion names the record, not its hashes: it withdraws whatever was stored for it
    assert [(r.source_id, r.signal) for r in parsed.removals] == [
        (i, "") for i in want["deleted"]]
    assert dict(parsed.skipped_types) == want["skipped"]
    assert (parsed.more_pages is not None) == want["more"]


def test_ncmec_record_keeps_member_and_kind() -> None:
    parsed = read(shared_testdata("formats-real", "ncmec-hash-sharing", "ENTRIES_XML.xml"))
    assert parsed.entries[0].metadata == {"classification": "A1", "member": "Example Member",
                                          "member_id": "42", "record": "image"}
    assert parsed.entries[1].metadata["record"] == "video"


def test_ncmec_pdq_fingerprints_are_kept(tmp_path: Path) -> None:
    pdq = "f" * 63 + "0"
    path = tmp_path / "page.xml"
    path.write_text(f"""<?xml version="1.0"?>
<queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2">
  <images count="1" maxTimestamp="2024-01-01T00:00:00Z"><image><member id="1">M</member>
    <timestamp>2024-01-01T00:00:00Z</timestamp><id>p1</id><classification>B1</classification>
    <fingerprints><md5>{"1" * 32}</md5><pdq>{pdq.upper()}</pdq><netclean>x</netclean>
    </fingerprints></image></images></queryResult>""")
    parsed = read(path)
    assert [(e.signal_type, e.signal) for e in parsed.entries] == [("md5", "1" * 32),
                                                                  ("pdq", pdq)]
    assert {e.added_at for e in parsed.entries} == {at("2024-01-01T00:00:00")}
    assert parsed.skipped_types == {"netclean": 1}


def test_a_deletions_only_page_and_an_empty_page_are_valid(tmp_path: Path) -> None:
    path = tmp_path / "deleted.xml"
    path.write_text("""<queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2">
  <images count="1"><deletedImage><member id="2">M</member><id>gone</id>
  <timestamp>2024-01-01T00:00:00Z</timestamp></deletedImage>
  <deletedImage><member id="2">M</member></deletedImage></images></queryResult>""")
    problems = ProblemLog()
    parsed = read_bank_file(path, problems)
    assert parsed is not None and parsed.entries == []
    assert [r.source_id for r in parsed.removals] == ["gone"]
    (bad,) = list(problems)  # the deletion that names no record is said, not fatal
    assert "<deletedimage> without an <id>" in str(bad) and not bad.fatal
    empty = tmp_path / "empty.json"
    empty.write_text('{"count": 0, "hashRecords": [], "hasMoreRecords": false}')
    parsed = read(empty)
    assert parsed.feed_page and parsed.entries == [] and parsed.removals == []


def test_a_file_is_applied_in_order_the_later_word_wins() -> None:
    parsed = ParsedBank("ncmec")
    parsed.add(BankEntry("md5", "1" * 32, Category.CSAM, source_id="r1"))
    parsed.add(BankEntry("md5", "2" * 32, Category.CSAM, source_id="r2"))
    parsed.remove(Removal.of_record("r1", "deleted"))  # drops r1's entry from this file
    parsed.remove(Removal("md5", "3" * 32, "withdrawn"))
    parsed.add(BankEntry("md5", "3" * 32, Category.CSAM))  # listed again: withdrawal undone
    assert [e.signal[0] for e in parsed.entries] == ["2", "3"]
    assert [(r.source_id, r.signal) for r in parsed.removals] == [("r1", "")]
