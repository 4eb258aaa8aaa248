"""Hash bank files: the CSV of contracts §7 and the exchange formats converted into it.

Pure parsing: every reader yields `BankEntry`s for the entries to hold and `Removal`s for the
ones the source withdrew or deleted (they must stop matching), and reports bad rows to a
`ProblemLog` with their position. Nothing here touches the database. One module per format.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from functools import partial
from pathlib import Path

from veilleur.detect.media.banks import (
    contracts_csv,
    hma,
    ncmec,
    stopncii,
    te_dataset,
    te_graph,
    te_lines,
    threatexchange,
)
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
from veilleur.detect.media.banks.te_types import NO_CATEGORY, known_signal_type
from veilleur.ingest.problems import ProblemLog
from veilleur.taxonomy import Category

__all__ = ["EXPECTED", "FORMATS", "REQUIRED_COLUMNS", "SIGNAL_TYPES", "BankEntry", "HashBank",
           "ParsedBank", "Removal", "detect_format", "load_bank_file", "normalise",
           "parse_time", "read_bank_file"]

Reader = Callable[[Path, ParsedBank, ProblemLog, Category | None], bool]
_READERS: dict[str, Reader] = {
    "csv": contracts_csv.read, "threatexchange": threatexchange.read,
    "stopncii": stopncii.read, "ncmec": ncmec.read, "hma": hma.read,
    "te-dataset": te_dataset.read, "te-signals": te_lines.read, "te-graph": te_graph.read}
_BANK_GIVES_CATEGORY = frozenset({"hma", "te-dataset", "te-signals", "te-graph"})
"""Formats that never say CSAM or NCII (`te_types.NO_CATEGORY`): entries need the bank's."""
_TYPELESS = {"hma": hma.read, "te-signals": te_lines.read}
"""Formats whose rows may not say their signal type: the caller's `signal_type` is for them."""
FORMATS = tuple(_READERS)
EXPECTED = {
    "csv": "a CSV with the columns signal_type,signal,category (contracts §7)",
    "threatexchange": "a ThreatExchange CSV export (td_raw_indicator, td_indicator_type)",
    "stopncii": "StopNCII JSON hash records (signalType, hashValue)",
    "ncmec": "an NCMEC hash list (XML with <fingerprints>)",
    "hma": "hasher-matcher-actioner rows without a header (indicator,descriptor_id,added_on,"
           "tags)",
    "te-dataset": "a threatexchange `dataset -P --csv` file (signal_type,signal_str,collab,"
                  "category,tags)",
    "te-signals": "`signal_type signal` lines (threatexchange `dataset -P -S`, file exchange)",
    "te-graph": "ThreatExchange Graph API descriptors (JSON with raw_indicator, type, status)",
}
"""What each format looks like, for the error that says a file is none of them."""


def detect_format(path: Path) -> str:
    """Guess a bank file's format from its first bytes (the reader then checks them)."""
    try:
        with path.open("rb") as f:
            head = f.read(4096).lstrip(b"\xef\xbb\xbf").lstrip()
    except OSError:
        return "csv"  # the reader reports the I/O error
    if head.startswith(b"<"):
        return "ncmec"
    if head.startswith((b"[", b"{")):
        return "te-graph" if te_graph.looks_like(head) else "stopncii"
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    lowered = first.lower()
    # HMA rows first: their free-text tags could hold any of the words the headers are
    # recognised by.
    if hma.looks_like(first):
        return "hma"
    if te_dataset.looks_like(lowered):
        return "te-dataset"
    if "td_raw_indicator" in lowered or ("indicator" in lowered and "signal_type" not in lowered):
        return "threatexchange"
    if te_lines.looks_like(first):
        return "te-signals"
    return "csv"


def read_bank_file(path: Path, problems: ProblemLog, *, format: str | None = None,
                   category: Category | None = None, signal_type: str | None = None
                   ) -> ParsedBank | None:
    """Entries and removals of one bank file; None if the file cannot be used at all.

    `category` is the bank's default, for formats without one per entry (NCMEC lists are
    CSAM, StopNCII lists are intimate images shared without consent; ThreatExchange files
    never say, so they need it). `signal_type` is the type of values a file gives none for
    (`hma`, `te-signals`); it wins over the type an HMA file name says.
    """
    fmt = format or detect_format(path)
    if fmt not in FORMATS:
        problems.report(str(path), f"unknown bank format {fmt!r} (one of {', '.join(FORMATS)})",
                        fatal=True)
        return None
    reader = _READERS[fmt]
    if signal_type is not None:
        kind = known_signal_type(signal_type)
        if kind is None:
            problems.report(str(path), f"unknown signal type {signal_type!r} (pdq, md5, "
                            "sha256, or a ThreatExchange name such as photo_md5, video_md5, "
                            "video_sha256)", fatal=True)
            return None
        if fmt not in _TYPELESS:
            # A file with a type per row must not be silently re-typed.
            problems.report(str(path), f"a signal type is only for files that give none "
                            f"({', '.join(_TYPELESS)}); this file is {fmt}", fatal=True)
            return None
        reader = partial(_TYPELESS[fmt], signal_type=kind)
    parsed = ParsedBank(fmt)
    # Without the bank's category such a file is still read (with a stand-in that never
    # leaves this function), so that a file that is no bank is told so, and removals alone,
    # which need no category, are kept.
    asks_category = category is None and fmt in _BANK_GIVES_CATEGORY
    try:
        ok = reader(path, parsed, problems, Category.CSAM if asks_category else category)
    except UnicodeDecodeError:
        problems.report(str(path), f"not a hash bank: the file is not UTF-8 text (expected "
                        f"{EXPECTED[fmt]})", fatal=True)
        return None
    except (OSError, csv.Error, ValueError) as exc:
        # ValueError: what a hostile file can still raise past a reader's own checks (a
        # number past Python's digit limit); the file is refused, the engine goes on.
        problems.report(str(path), f"cannot read hash bank: {str(exc)[:200]}", fatal=True)
        return None
    except RecursionError:
        problems.report(str(path), "cannot read hash bank: nested too deeply", fatal=True)
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
    if ok and asks_category and parsed.entries:
        problems.report(str(path), f"{len(parsed.entries):,} entries read, but {NO_CATEGORY}",
                        fatal=True)
        return None
    return parsed if ok else None


def load_bank_file(path: Path, problems: ProblemLog) -> HashBank | None:
    """A bank file read for one run (`scan --bank`), any format; None if unusable."""
    parsed = read_bank_file(path, problems)
    if parsed is None:
        return None
    return HashBank(name=path.stem, entries=tuple(parsed.entries))
