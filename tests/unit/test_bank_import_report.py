"""What `bank import` says per file, from the store's report."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from veilleur.cli.bank_report import file_json, file_lines
from veilleur.store.banks import ImportReport


def test_counts_in_words_and_json() -> None:
    report = ImportReport("feed", False, read=3, added=1, updated=1, already_present=1,
                          removed=2, not_held=1, skipped_types=Counter({"pdna": 2}),
                          more_pages="/v2/entries?start=2")
    lines = file_lines(Path("p.xml"), "ncmec", report)
    assert lines[0] == ("p.xml (ncmec): bank 'feed' updated: 3 entries read, 1 imported (new), "
                        "1 updated, 1 already present, 2 disabled (withdrawn or deleted at "
                        "source)")
    assert lines[1:] == [
        "  1 withdrawal(s) name nothing this bank holds (not held: nothing to disable)",
        "  skipped 2 pdna hashes (type not matched by this engine)",
        "  more pages remain: the feed says this page is not its last"]
    doc = file_json(Path("p.xml"), "ncmec", report)
    assert (doc["imported"], doc["updated"], doc["disabled"], doc["not_held"],
            doc["more_pages"], doc["skipped_types"]) == (1, 1, 2, 1, True, {"pdna": 2})


def test_a_file_of_made_up_types_is_summed_up() -> None:
    many = Counter({f"type{i}": 1 for i in range(500)})
    report = ImportReport("x", False, stored=False, skipped_types=many)
    lines = file_lines(Path("x.xml"), "ncmec", report)
    assert lines[0].endswith("nothing to import (no hash entry in this page); bank 'x' left "
                             "as it was")
    assert len(lines) == 22 and lines[-1] == "  skipped 480 more types not matched by this engine"
