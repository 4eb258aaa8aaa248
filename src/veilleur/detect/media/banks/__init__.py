"""Hash bank files: the CSV of contracts §7 and the exchange formats converted into it.

Pure parsing: every reader yields `BankEntry`s for the entries to hold and `Removal`s for the
ones the source withdrew or deleted (they must stop matching), and reports bad rows to a
`ProblemLog` with their position. Nothing here touches the database. One module per format.
"""

from __future__ import annotations

import csv
from pathlib import Path

from veilleur.detect.media.banks import contracts_csv, ncmec, stopncii, threatexchange
from veilleur.detect.media.banks.common import (
    REQUIRED_COLUMNS,
    SIGNAL_TYPES,
    BankEntry,
    HashBank,
    ParsedBank,
    Removal,
    normalise,
    parse_time,
)
from veilleur.ingest.problems import ProblemLog
from veilleur.taxonomy import Category

__all__ = ["EXPECTED", "FORMATS", "REQUIRED_COLUMNS", "SIGNAL_TYPES", "BankEntry", "HashBank",
           "ParsedBank", "Removal", "detect_format", "load_bank_file", "normalise",
           "parse_time", "read_bank_file"]

_READERS = {"csv": contracts_csv.read, "threatexchange": threatexchange.read,
            "stopncii": stopncii.read, "ncmec": ncmec.read}
FORMATS = tuple(_READERS)
EXPECTED = {
    "csv": "a CSV with the columns signal_type,signal,category (contracts §7)",
    "threatexchange": "a ThreatExchange CSV export (td_raw_indicator, td_indicator_type)",
    "stopncii": "StopNCII JSON hash records (signalType, hashValue)",
    "ncmec": "an NCMEC hash list (XML with <fingerprints>)",
}
"""What each format looks like, for the error that says a file is none of them."""

def detect_format(path: Path) -> str:
    """Guess a bank file's format from its name and first bytes."""
    try:
        with path.open("rb") as f:
            head = f.read(4096).lstrip(b"\xef\xbb\xbf").lstrip()
    except OSError:
        return "csv"  # the reader reports the I/O error
    if head.startswith(b"<"):
        return "ncmec"
    if head.startswith((b"[", b"{")):
        return "stopncii"
    first = head.split(b"\n", 1)[0].lower()
    if b"td_raw_indicator" in first or (b"indicator" in first and b"signal_type" not in first):
        return "threatexchange"
    return "csv"


def read_bank_file(path: Path, problems: ProblemLog, *, format: str | None = None,
                   category: Category | None = None) -> ParsedBank | None:
    """Entries and removals of one bank file; None if the file cannot be used at all.

    `category` is the bank's default, for formats without one per entry (NCMEC lists are
    CSAM, StopNCII lists are intimate images shared without consent).
    """
    fmt = format or detect_format(path)
    if fmt not in FORMATS:
        problems.report(str(path), f"unknown bank format {fmt!r} (one of {', '.join(FORMATS)})",
                        fatal=True)
        return None
    reader = _READERS[fmt]
    parsed = ParsedBank(fmt)
    try:
        ok = reader(path, parsed, problems, category)
    except UnicodeDecodeError:
        problems.report(str(path), f"not a hash bank: the file is not UTF-8 text (expected "
                        f"{EXPECTED[fmt]})", fatal=True)
        return None
    except (OSError, csv.Error) as exc:
        problems.report(str(path), f"cannot read hash bank: {exc}", fatal=True)
        return None
    if ok and not parsed.entries and not parsed.removals and not parsed.feed_page:
        # A file whose every line was refused (or that had none) is no bank: importing it
        # would leave an empty bank that looks loaded and matches nothing. A feed's page
        # with nothing in it is a valid answer: the store imports nothing from it.
        skipped = ", ".join(f"{kind} ×{n}" for kind, n in parsed.skipped_types.most_common())
        problems.report(str(path), "no hash entry could be read: expected "
                        f"{EXPECTED[fmt]}" + (f"; only hash types this engine does not "
                                              f"match ({skipped})" if skipped else ""),
                        fatal=True)
        return None
    return parsed if ok else None



def load_bank_file(path: Path, problems: ProblemLog) -> HashBank | None:
    """A bank file read for one run (`scan --bank`), any format; None if unusable."""
    parsed = read_bank_file(path, problems)
    if parsed is None:
        return None
    return HashBank(name=path.stem, entries=tuple(parsed.entries))
