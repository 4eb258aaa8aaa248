"""Hash banks in the lowest common form of contracts §7 (CSV: signal_type, signal, category).

Converters from ThreatExchange, StopNCII and NCMEC formats, and PDQ matching, arrive with the
media issue; this loader validates every row and keeps the extra columns as metadata.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from veilleur.ingest.problems import ProblemLog
from veilleur.taxonomy import Category

REQUIRED_COLUMNS = ("signal_type", "signal", "category")
_HEX = {"md5": re.compile(r"^[0-9a-f]{32}$"), "sha256": re.compile(r"^[0-9a-f]{64}$"),
        "pdq": re.compile(r"^[0-9a-f]{64}$")}


@dataclass(frozen=True, slots=True)
class BankEntry:
    signal_type: str
    signal: str
    category: Category
    metadata: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True, slots=True)
class HashBank:
    name: str
    entries: tuple[BankEntry, ...]

    def count(self, signal_type: str) -> int:
        return sum(1 for e in self.entries if e.signal_type == signal_type)


def load_bank_csv(path: Path, problems: ProblemLog) -> HashBank | None:
    """The bank in `path`, or None if the file cannot be used at all; bad rows are reported."""
    source = str(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            columns = [c.strip() for c in reader.fieldnames or []]
            missing = [c for c in REQUIRED_COLUMNS if c not in columns]
            if missing:
                problems.report(source, f"not a hash bank CSV: missing column(s) "
                                f"{', '.join(missing)}", fatal=True)
                return None
            entries = []
            for row in reader:
                entry = _entry(row, problems, source, f"line {reader.line_num}")
                if entry is not None:
                    entries.append(entry)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        problems.report(source, f"cannot read hash bank: {exc}", fatal=True)
        return None
    return HashBank(name=path.stem, entries=tuple(entries))


def _entry(row: dict[str | None, str | None], problems: ProblemLog, source: str, where: str
           ) -> BankEntry | None:
    clean = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
    kind = clean.get("signal_type", "").lower()
    value = clean.get("signal", "").lower()
    if kind not in _HEX:
        problems.report(source, f"unknown signal_type {kind!r} (pdq, md5 or sha256)", where)
        return None
    if not _HEX[kind].match(value):
        length = 32 if kind == "md5" else 64
        problems.report(source, f"{kind} signal must be {length} hex characters, "
                        f"got {value[:70]!r}", where)
        return None
    try:
        category = Category(clean.get("category", "").lower())
    except ValueError:
        problems.report(source, f"unknown category {clean.get('category')!r}", where)
        return None
    metadata = {k: v for k, v in clean.items() if k not in REQUIRED_COLUMNS and v}
    return BankEntry(kind, value, category, metadata)
