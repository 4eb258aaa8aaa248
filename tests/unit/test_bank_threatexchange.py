"""ThreatExchange-family bank files: hasher-matcher-actioner rows, the `threatexchange` CLI's
`dataset` output, Graph API descriptors. The files other projects wrote are read in place
(`formats-real/threatexchange`); the edge cases are generated here."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.shared_data import shared_testdata
from veilleur.detect.media.banks import FORMATS, detect_format, read_bank_file
from veilleur.detect.media.banks.te_types import type_from_file_name
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


@dataclass(frozen=True)
class Expected:
    format: str
    entries: dict[str, int]
    skipped: dict[str, int] = field(default_factory=dict)
    removals: int = 0


REAL = {
    "hma_sample_data_pdq.csv": Expected("hma", {"pdq": 138}),
    "hma_lite_sample_data_photo_md5.csv": Expected("hma", {"md5": 1}),
    "hma_lite_sample_data_video_md5.csv": Expected("hma", {"md5": 2}),
    "python_threatexchange_pdq_samples.csv": Expected("te-dataset", {"pdq": 138}),
    "threatexchange_cli_dataset_P.csv": Expected(
        "te-dataset", {"pdq": 16, "md5": 2, "sha256": 2},
        {"raw_text": 3, "url": 1, "trend_query": 1, "url_md5": 1}),
    "threatexchange_cli_dataset_P_S.txt": Expected(
        "te-signals", {"pdq": 16, "md5": 2, "sha256": 2},
        {"raw_text": 3, "url": 1, "trend_query": 1, "url_md5": 1}),
    "te_tag_query_ids_to_details.json": Expected("te-graph", {"md5": 1}),
}


def test_every_real_file_is_covered() -> None:
    folder = shared_testdata("formats-real", "threatexchange")
    assert sorted(p.name for p in folder.iterdir()) == sorted(REAL)


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_file_imports_as_its_authors_meant(name: str) -> None:
    path = shared_testdata("formats-real", "threatexchange") / name
    want = REAL[name]
    assert detect_format(path) == want.format
    problems = ProblemLog()
    parsed = read_bank_file(path, problems, category=Category.CSAM)
    assert [str(p) for p in problems] == []
    assert parsed is not None and parsed.format == want.format
    assert Counter(e.signal_type for e in parsed.entries) == want.entries
    assert dict(parsed.skipped_types) == want.skipped
    assert len(parsed.removals) == want.removals
    assert {e.category for e in parsed.entries} == {Category.CSAM}


def test_real_hma_rows_keep_descriptor_time_and_tags() -> None:
    path = shared_testdata("formats-real", "threatexchange") / "hma_lite_sample_data_video_md5.csv"
    parsed = read_bank_file(path, ProblemLog(), category=Category.NCII)
    assert parsed is not None
    first = parsed.entries[0]
    assert (first.signal, first.source_id) == ("cab08b36195edb1a1231d2d09fa450e0",
                                               "4162911387113748")
    assert first.added_at is not None and first.added_at.isoformat() == "2020-07-31T19:42:09+00:00"
    assert first.metadata["te_type"] == "video_md5"
    assert "disputed" in first.metadata["tags"].split()  # kept: someone else's dispute


def test_real_graph_descriptor_keeps_its_details() -> None:
    path = shared_testdata("formats-real", "threatexchange") / "te_tag_query_ids_to_details.json"
    parsed = read_bank_file(path, ProblemLog(), category=Category.CSAM)
    assert parsed is not None
    (entry,) = parsed.entries
    assert (entry.signal, entry.source_id, entry.note) == (
        "c7dfd847207cbd54a8bb292525fc111d", "3046896738736542", "our copies")
    assert entry.added_at is not None and entry.added_at.year == 2020
    assert entry.metadata["status"] == "MALICIOUS"
    assert entry.metadata["owner"] == "Media Hash Sharing RF Test"


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_file_without_a_category_is_refused_once(name: str) -> None:
    path = shared_testdata("formats-real", "threatexchange") / name
    problems = ProblemLog()
    assert read_bank_file(path, problems) is None
    (problem,) = list(problems)
    assert problem.fatal and "--category" in problem.problem
    assert problem.problem.startswith(f"{sum(REAL[name].entries.values())} entries read")


def test_without_a_category_removals_alone_are_kept_and_no_bank_is_told_so(
        tmp_path: Path) -> None:
    benign = write(tmp_path, "g.json", json.dumps([descriptor(PDQ_B, "HASH_PDQ",
                                                             "NON_MALICIOUS")]))
    problems = ProblemLog()
    parsed = read_bank_file(benign, problems)
    assert parsed is not None and [r.signal for r in parsed.removals] == [PDQ_B]
    assert list(problems) == []
    prose = write(tmp_path, "notes.txt", "hello world\n")
    assert detect_format(prose) == "csv"  # two words are no `signal_type signal` line
    problems = ProblemLog()
    assert read_bank_file(prose, problems, format="te-signals") is None
    (problem,) = list(problems)
    assert "no hash entry could be read" in problem.problem
    assert "--category" not in problem.problem


def test_cli_imports_hma_sample_data(tmp_path: Path) -> None:
    path = shared_testdata("formats-real", "threatexchange") / "hma_sample_data_pdq.csv"
    db = tmp_path / "v.db"
    run = [sys.executable, "-m", "veilleur", "bank", "import", str(path), "--db", str(db)]
    refused = subprocess.run(run, capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0 and "--category" in refused.stderr
    done = subprocess.run([*run, "--category", "csam"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "138" in done.stdout and "(hma)" in done.stdout


# --- hasher-matcher-actioner rows ------------------------------------------------------

def test_hma_type_from_file_name_and_false_positive_withdraws(tmp_path: Path) -> None:
    path = write(tmp_path, "123456.pdq.te", (
        f"{PDQ_A},11,2021-01-02T03:04:05+0000,media_type_photo disputed\n"
        f"{PDQ_B},12,mine,false_positive\n"
        "\n"
        f"{MD5},13,2021-01-02T03:04:05+0000,\n"))
    assert detect_format(path) == "hma"
    problems = ProblemLog()
    parsed = read_bank_file(path, problems, category=Category.CSAM)
    assert parsed is not None
    assert [(e.signal_type, e.signal, e.source_id) for e in parsed.entries] == [
        ("pdq", PDQ_A, "11")]
    assert [(r.signal, r.reason) for r in parsed.removals] == [
        (PDQ_B, "ThreatExchange: marked false positive")]
    (bad,) = list(problems)  # the name says pdq: a 32-hex value is not one
    assert "line 4" in str(bad) and "pdq signal must be 64 hex" in str(bad)


def test_hma_64_hex_without_a_type_is_refused_not_guessed(tmp_path: Path) -> None:
    path = write(tmp_path, "renamed.csv", "".join(
        f"{c * 64},{n},2020-07-31T18:47:52+0000,media_type_photo\n"
        for n, c in enumerate("abcdef", 1)))
    assert detect_format(path) == "hma"
    problems = ProblemLog()
    assert read_bank_file(path, problems, category=Category.CSAM) is None
    texts = [str(p) for p in problems]
    assert "line 1" in texts[0] and "may be PDQ or SHA-256" in texts[0]
    assert "--signal-type" in texts[0]
    assert problems.problems[-1].fatal and "no hash entry could be read" in texts[-1]


def test_hma_signal_type_parameter_beats_the_file_name(tmp_path: Path) -> None:
    text = f"{SHA},1,2020-07-31T18:47:52+0000,\n"
    renamed = write(tmp_path, "renamed.csv", text)
    parsed = read_bank_file(renamed, ProblemLog(), category=Category.CSAM,
                            signal_type="video_sha256")
    assert parsed is not None and [(e.signal_type, e.signal) for e in parsed.entries] == [
        ("sha256", SHA)]
    named_pdq = write(tmp_path, "x_pdq.csv", text)
    parsed = read_bank_file(named_pdq, ProblemLog(), category=Category.CSAM,
                            signal_type="sha256")
    assert parsed is not None and parsed.entries[0].signal_type == "sha256"


def test_hma_32_hex_without_a_type_is_md5_and_a_header_is_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, "renamed.csv", f"hash,id,timestamp,tags\n{MD5},7,,\n")
    parsed = read_bank_file(path, ProblemLog(), category=Category.CSAM, format="hma")
    assert parsed is not None and [(e.signal_type, e.source_id) for e in parsed.entries] == [
        ("md5", "7")]


def test_hma_type_we_do_not_match_is_counted_by_name(tmp_path: Path) -> None:
    path = write(tmp_path, "sample_vpdq.csv", f"{PDQ_A},1,2020-07-31T18:47:52+0000,\n")
    problems = ProblemLog()
    assert read_bank_file(path, problems, category=Category.CSAM) is None
    (problem,) = list(problems)
    assert problem.fatal and "vpdq ×1" in problem.problem


def test_hma_row_with_too_many_columns_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "x_md5.csv", f"{MD5},1,2020-07-31T18:47:52+0000,a,b\n{MD5},2,,\n")
    problems = ProblemLog()
    parsed = read_bank_file(path, problems, category=Category.CSAM, format="hma")
    assert parsed is not None and len(parsed.entries) == 1
    assert "line 1" in str(next(iter(problems))) and "5 columns" in str(next(iter(problems)))


# --- signal_type parameter ---------------------------------------------------------------

def test_unknown_signal_type_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", f"{MD5},1,2020-07-31T18:47:52+0000,\n")
    problems = ProblemLog()
    assert read_bank_file(path, problems, category=Category.CSAM, signal_type="jpeg") is None
    assert "unknown signal type 'jpeg'" in str(next(iter(problems)))


def test_signal_type_is_refused_for_files_that_type_every_row(tmp_path: Path) -> None:
    path = write(tmp_path, "b.csv", f"signal_type,signal,category\npdq,{PDQ_A},csam\n")
    problems = ProblemLog()
    assert read_bank_file(path, problems, signal_type="sha256") is None
    (problem,) = list(problems)
    assert problem.fatal and "this file is csv" in problem.problem


@pytest.mark.parametrize(("name", "kind"), [
    ("hma_sample_data_pdq.csv", "pdq"), ("hma_lite_sample_data_photo_md5.csv", "photo_md5"),
    ("x_video_md5.csv", "video_md5"), ("258601789084078.pdq.te", "pdq"),
    ("x_url_md5.csv", "url_md5"), ("bank.video_sha256.txt", "video_sha256"),
    ("bank.csv", None), ("mypdq.csv", None)])
def test_type_from_hma_file_names(name: str, kind: str | None) -> None:
    assert type_from_file_name(Path(name)) == kind


# --- threatexchange CLI: dataset -P --csv and -S ----------------------------------------

def test_dataset_csv_opinions(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", (
        "collab,signal_type,signal_str,category,tags\n"
        f"C,pdq,{PDQ_A},POSITIVE_CLASS,a b\n"
        f"C,pdq,{PDQ_B},NEGATIVE_CLASS,\n"
        f"C,video_md5,{MD5},FALSE_POSITIVE,\n"
        f"C,video_sha256,{SHA},MAYBE,\n"
        f"C,pdq,{'c' * 64},csam,\n"))
    assert detect_format(path) == "te-dataset"
    problems = ProblemLog()
    parsed = read_bank_file(path, problems, category=Category.NCII)
    assert parsed is not None
    (entry,) = parsed.entries
    assert entry.category == Category.NCII  # the bank's: `category` is an opinion here
    assert entry.metadata == {"collab": "C", "opinion": "POSITIVE_CLASS", "tags": "a b",
                              "te_type": "pdq"}
    assert [(r.signal_type, r.reason) for r in parsed.removals] == [
        ("pdq", "ThreatExchange: opinion not in the category"),
        ("md5", "ThreatExchange: opinion not in the category")]
    texts = [str(p) for p in problems]
    assert len(texts) == 2
    assert "line 5" in texts[0] and "unknown ThreatExchange opinion 'MAYBE'" in texts[0]
    assert "line 6" in texts[1] and "'CSAM'" in texts[1]


def test_dataset_csv_negative_in_one_collab_positive_in_another_is_disputed(
        tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", (
        "signal_type,signal_str,collab,category,tags\n"
        f"pdq,{PDQ_A},Hotline,NEGATIVE_CLASS,\n"
        f"pdq,{PDQ_A},Partners,POSITIVE_CLASS,\n"))
    parsed = read_bank_file(path, ProblemLog(), category=Category.CSAM)
    assert parsed is not None and parsed.removals == []
    (entry,) = parsed.entries
    assert entry.metadata["disputed_by"] == "Hotline (NEGATIVE_CLASS)"


def test_dataset_csv_with_nothing_we_match_is_refused_naming_the_types(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "signal_type,signal_str,collab,category,tags\n"
                 "raw_text,hello,C,INVESTIGATION_SEED,\nurl,https://example.org/,C,,\n")
    problems = ProblemLog()
    assert read_bank_file(path, problems, category=Category.CSAM) is None
    (problem,) = list(problems)
    assert problem.fatal and "raw_text ×1" in problem.problem and "url ×1" in problem.problem


def test_signal_lines_bare_and_typed(tmp_path: Path) -> None:
    bare = write(tmp_path, "collab_pdq.txt", f"{PDQ_A}\n{PDQ_B}\n")
    assert detect_format(bare) == "te-signals"
    parsed = read_bank_file(bare, ProblemLog(), category=Category.CSAM)
    assert parsed is not None and [e.signal for e in parsed.entries] == [PDQ_A, PDQ_B]

    typed = write(tmp_path, "s.txt", f"pdq {PDQ_A}\nsha256 {SHA}\n{MD5}\nclip abc def\n"
                  f"{PDQ_B}\n")
    problems = ProblemLog()
    parsed = read_bank_file(typed, problems, category=Category.CSAM)
    assert parsed is not None
    assert [e.signal_type for e in parsed.entries] == ["pdq", "sha256", "md5"]
    assert parsed.skipped_types == {"clip": 1}
    (bad,) = list(problems)
    assert "line 5" in str(bad) and "may be PDQ or SHA-256" in str(bad)


def test_signal_lines_raw_text_given_a_type_is_counted(tmp_path: Path) -> None:
    path = write(tmp_path, "s.txt", "bball now?\n")
    problems = ProblemLog()
    assert read_bank_file(path, problems, category=Category.CSAM, format="te-signals",
                          signal_type="raw_text") is None
    assert "raw_text ×1" in str(next(iter(problems)))


# --- Graph API descriptors ---------------------------------------------------------------

def descriptor(value: str, kind: str, status: str = "MALICIOUS", **extra: object
               ) -> dict[str, object]:
    return {"raw_indicator": value, "type": kind, "status": status, "id": "9",
            "added_on": "2020-06-03T01:38:01+0000", "tags": None, **extra}


def test_graph_statuses_and_types(tmp_path: Path) -> None:
    records = [
        descriptor(PDQ_A, "HASH_PDQ", tags={"data": [{"text": "t1"}, {"text": "t2"}]}),
        descriptor(PDQ_B, "HASH_PDQ", "NON_MALICIOUS"),
        descriptor(MD5, "HASH_MD5", should_delete=True),
        descriptor(SHA, "HASH_SHA256", "SUSPICIOUS", tags=["x"]),
        descriptor("c" * 32, "HASH_VIDEO_MD5", "UNKNOWN"),
        descriptor("AAAA", "HASH_TMK"),
        {"type": "HASH_MD5"},
    ]
    shapes = {"list.json": json.dumps(records),
              "page.json": json.dumps({"data": records, "paging": {"cursors": {}}}),
              "ids.json": json.dumps({str(n): r for n, r in enumerate(records)}),
              "lines.jsonl": "\n".join(json.dumps(r) for r in records)}
    for name, text in shapes.items():
        path = write(tmp_path, name, text)
        assert detect_format(path) == "te-graph", name
        problems = ProblemLog()
        parsed = read_bank_file(path, problems, category=Category.CSAM)
        assert parsed is not None, name
        assert [(e.signal_type, e.metadata.get("tags")) for e in parsed.entries] == [
            ("pdq", "t1 t2"), ("sha256", "x")]
        assert {(r.signal, r.reason) for r in parsed.removals} == {
            (PDQ_B, "ThreatExchange: marked benign"), (MD5, "ThreatExchange: deleted at source")}
        assert parsed.skipped_types == {"hash_tmk": 1}
        texts = [str(p) for p in problems]
        assert len(texts) == 2, texts
        assert "status 'UNKNOWN'" in texts[0]
        assert "lacks raw_indicator or type" in texts[1]


def test_graph_benign_beside_harmful_is_a_dispute_not_a_withdrawal(tmp_path: Path) -> None:
    path = write(tmp_path, "g.json", json.dumps([
        descriptor(PDQ_A, "HASH_PDQ", owner={"id": "1", "name": "A"}),
        descriptor(PDQ_A, "HASH_PDQ", "NON_MALICIOUS", owner={"id": "2", "name": "B"}),
        descriptor(PDQ_B, "HASH_PDQ", "NON_MALICIOUS", owner={"id": "2", "name": "B"})]))
    parsed = read_bank_file(path, ProblemLog(), category=Category.CSAM)
    assert parsed is not None
    (entry,) = parsed.entries
    assert (entry.signal, entry.metadata["owner"], entry.metadata["disputed_by"]) == (
        PDQ_A, "A", "B")
    assert [(r.signal, r.reason) for r in parsed.removals] == [
        (PDQ_B, "ThreatExchange: marked benign")]


def test_graph_json_is_told_from_stopncii(tmp_path: Path) -> None:
    stop = write(tmp_path, "s.json", json.dumps([{"signalType": "ImagePDQ", "hashValue": PDQ_A,
                                                  "hashStatus": "Active"}]))
    graph = write(tmp_path, "g.json", json.dumps(descriptor(PDQ_A, "HASH_PDQ")))
    updates = write(tmp_path, "u.json", json.dumps(
        {"data": [{"id": "1", "indicator": MD5, "type": "HASH_MD5", "should_delete": True}]}))
    assert (detect_format(stop), detect_format(graph), detect_format(updates)) == (
        "stopncii", "te-graph", "te-graph")
    parsed = read_bank_file(updates, ProblemLog(), category=Category.CSAM)
    assert parsed is not None and [r.signal for r in parsed.removals] == [MD5]


def test_every_format_says_what_it_expects() -> None:
    from veilleur.detect.media.banks import EXPECTED
    assert set(EXPECTED) == set(FORMATS)


# --- hostile input -----------------------------------------------------------------------

def test_hostile_json_costs_its_line_not_the_file(tmp_path: Path) -> None:
    good = json.dumps(descriptor(MD5, "HASH_MD5"))
    path = write(tmp_path, "g.jsonl", "\n".join([
        good, '{"raw_indicator": ' + "[" * 50_000, '{"confidence": 1' + "9" * 5000 + "}"]))
    problems = ProblemLog()
    parsed = read_bank_file(path, problems, category=Category.CSAM)
    assert parsed is not None and [e.signal for e in parsed.entries] == [MD5]
    texts = [str(p) for p in problems]
    assert len(texts) == 2 and all("unreadable JSON" in t for t in texts)
    assert "line 2" in texts[0] and "line 3" in texts[1]


def test_json_nested_past_the_recursion_limit_is_refused_not_raised(tmp_path: Path) -> None:
    path = write(tmp_path, "deep.json", "[" * 100_000)  # detected as StopNCII: any reader
    problems = ProblemLog()
    assert read_bank_file(path, problems) is None
    (problem,) = list(problems)
    assert problem.fatal and "nested too deeply" in problem.problem


def test_empty_or_hostile_type_names_are_bad_rows_not_counted_types(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "signal_type,signal_str\n"
                 f",{MD5}\n{'<b>' * 30},{MD5}\npdq,{PDQ_A}\n")
    problems = ProblemLog()
    parsed = read_bank_file(path, problems, category=Category.CSAM)
    assert parsed is not None and len(parsed.entries) == 1
    assert parsed.skipped_types == {}
    texts = [str(p) for p in problems]
    assert "line 2" in texts[0] and "no signal type" in texts[0]
    assert "line 3" in texts[1] and "unreadable signal type '<b><b>" in texts[1]
