"""Exchange formats converted into bank entries; withdrawn and deleted entries removed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from veilleur.detect.media.banks import detect_format, read_bank_file
from veilleur.ingest.problems import ProblemLog
from veilleur.taxonomy import Category

PDQ_A = "a" * 64
PDQ_B = "b" * 64
MD5 = hashlib.md5(b"x").hexdigest()
SHA = hashlib.sha256(b"x").hexdigest()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_threatexchange_ui_download(tmp_path: Path) -> None:
    path = write(tmp_path, "te.csv", (
        "td_raw_indicator,td_indicator_type,td_status,td_subjective_tags,td_creation_time,"
        "td_description\n"
        f"{PDQ_A},HASH_PDQ,MALICIOUS,csam;verified,2024-01-02T03:04:05-05:00,first\n"
        f"{MD5},HASH_MD5,MALICIOUS,,,\n"
        f"{PDQ_B},HASH_PDQ,NON_MALICIOUS,,,\n"
        "deadbeef,HASH_PDQ,MALICIOUS,,,\n"
        "abc,URI,MALICIOUS,,,\n"
    ))
    assert detect_format(path) == "threatexchange"
    problems = ProblemLog()
    parsed = read_bank_file(path, problems, category=Category.CSAM)
    assert parsed is not None
    assert [(e.signal_type, e.signal) for e in parsed.entries] == [("pdq", PDQ_A), ("md5", MD5)]
    first = parsed.entries[0]
    assert first.note == "first" and first.metadata["tags"] == "csam;verified"
    assert first.added_at is not None and first.added_at.year == 2024
    assert [(r.signal, r.reason) for r in parsed.removals] == [
        (PDQ_B, "ThreatExchange: marked benign")]
    assert parsed.skipped_types == {"uri": 1}
    (bad,) = list(problems)
    assert "line 5" in str(bad) and "pdq signal must be 64 hex" in str(bad)


def test_threatexchange_indicator_export_with_should_delete(tmp_path: Path) -> None:
    path = write(tmp_path, "te2.csv", (
        "id,indicator,type,should_delete,tags\n"
        f"1,{PDQ_A},HASH_PDQ,false,a\n"
        f"2,{PDQ_B},HASH_PDQ,true,b\n"
    ))
    parsed = read_bank_file(path, ProblemLog(), category=Category.NCII)
    assert parsed is not None
    assert [(e.signal, e.source_id, e.category) for e in parsed.entries] == [
        (PDQ_A, "1", Category.NCII)]
    assert [r.signal for r in parsed.removals] == [PDQ_B]


def test_stopncii_records_in_every_json_shape(tmp_path: Path) -> None:
    records = [
        {"signalType": "PDQ", "hashValue": PDQ_A, "hashStatus": "Active",
         "caseNumbers": ["12"], "createDate": "2025-05-01T10:00:00Z"},
        {"signalType": "pdq", "hashValue": PDQ_B, "hashStatus": "Withdrawn"},
        {"signalType": "md5", "hashValue": MD5, "hashStatus": "Deleted"},
        {"signalType": "vpdq", "hashValue": "00", "hashStatus": "Active"},
        {"signalType": "pdq", "hashValue": PDQ_A, "hashStatus": "Pending review"},
        {"hashValue": PDQ_A},
    ]
    shapes = {"list.json": json.dumps(records),
              "wrapped.json": json.dumps({"hashRecords": records, "count": 6}),
              "lines.jsonl": "\n".join(json.dumps(r) for r in records)}
    for name, text in shapes.items():
        path = write(tmp_path, name, text)
        assert detect_format(path) == "stopncii"
        problems = ProblemLog()
        parsed = read_bank_file(path, problems)
        assert parsed is not None, name
        (entry,) = parsed.entries
        assert entry.signal == PDQ_A and entry.category == Category.NCII  # StopNCII's default
        assert entry.metadata["caseNumbers"] == '["12"]'
        assert {(r.signal_type, r.reason) for r in parsed.removals} == {
            ("pdq", "StopNCII: withdrawn"), ("md5", "StopNCII: deleted")}
        assert parsed.skipped_types == {"vpdq": 1}
        texts = [str(p) for p in problems]
        assert len(texts) == 2
        assert "unknown hashStatus 'Pending review'" in texts[0]
        assert "lacks signalType or hashValue" in texts[1]


def test_ncmec_xml(tmp_path: Path) -> None:
    path = write(tmp_path, "ncmec.xml", f"""<?xml version="1.0" encoding="UTF-8"?>
<queryResult xmlns="https://hashsharing.ncmec.org/npo/v1">
  <images count="3">
    <image>
      <id>1001</id>
      <classification>A1</classification>
      <lastModifiedTimestamp>2025-01-02T03:04:05Z</lastModifiedTimestamp>
      <fingerprints><md5>{MD5}</md5><sha256>{SHA}</sha256><pdq>{PDQ_A}</pdq>
        <photodna>AAAA</photodna></fingerprints>
    </image>
    <image deleted="true"><id>1002</id><fingerprints><pdq>{PDQ_B}</pdq></fingerprints></image>
    <image><id>1003</id><deleted>true</deleted><fingerprints><md5>{"c" * 32}</md5>
      </fingerprints></image>
    <image><id>1004</id><fingerprints><pdq>nothex</pdq></fingerprints></image>
  </images>
</queryResult>""")
    assert detect_format(path) == "ncmec"
    problems = ProblemLog()
    parsed = read_bank_file(path, problems)
    assert parsed is not None
    assert [(e.signal_type, e.source_id) for e in parsed.entries] == [
        ("md5", "1001"), ("sha256", "1001"), ("pdq", "1001")]
    assert all(e.category == Category.CSAM for e in parsed.entries)
    assert parsed.entries[0].metadata == {"classification": "A1", "record": "image"}
    assert [(r.signal_type, r.signal) for r in parsed.removals] == [
        ("pdq", PDQ_B), ("md5", "c" * 32)]
    assert parsed.skipped_types == {"photodna": 1}
    (bad,) = list(problems)
    assert "record 4 (id 1004)" in str(bad)


def test_broken_xml_keeps_what_was_read(tmp_path: Path) -> None:
    path = write(tmp_path, "cut.xml", (
        f"<images><image><id>1</id><fingerprints><md5>{MD5}</md5></fingerprints></image>"
        "<image><id>2</id><fingerp"))
    problems = ProblemLog()
    parsed = read_bank_file(path, problems)
    assert parsed is not None and [e.signal for e in parsed.entries] == [MD5]
    assert "not well-formed XML" in str(next(iter(problems)))


def test_csv_without_category_needs_a_default(tmp_path: Path) -> None:
    path = write(tmp_path, "b.csv", f"signal_type,signal\npdq,{PDQ_A}\n")
    problems = ProblemLog()
    assert read_bank_file(path, problems) is None
    assert "missing column(s) category" in str(next(iter(problems)))
    parsed = read_bank_file(path, ProblemLog(), category=Category.CSAM)
    assert parsed is not None and parsed.entries[0].category == Category.CSAM


def test_unknown_format_is_fatal(tmp_path: Path) -> None:
    problems = ProblemLog()
    assert read_bank_file(write(tmp_path, "x.csv", "a\n"), problems, format="photodna") is None
    assert next(iter(problems)).fatal
