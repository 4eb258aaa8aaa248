"""hasher-matcher-actioner data files and python-threatexchange's cache: headerless rows
`indicator,descriptor_id,added_on,tags` (tags space-separated), one signal type per file.

The type is in no row: it comes from the caller's `signal_type`, else from the file name HMA
gives (`..._pdq.csv`, `<group>.pdq.te`), else from the value's shape where that is unambiguous
(`te_types.type_of_bare_value`). A `false_positive` tag (python-threatexchange: your own app
said the hash is not in the set) withdraws the hash; `disputed` (someone else said so) is kept
and shown in the entry's tags.
"""

from __future__ import annotations

import csv
from pathlib import Path

from veilleur.detect.media.banks.common import (
    BankEntry,
    ParsedBank,
    Removal,
    parse_time,
    signal_or_count,
)
from veilleur.detect.media.banks.te_types import (
    require_bank_category,
    type_from_file_name,
    type_of_bare_value,
    untyped_problem,
)
from veilleur.ingest.problems import ProblemLog
from veilleur.taxonomy import Category

_HEADER_NAMES = frozenset({"indicator", "hash", "signal", "signal_str", "raw_indicator"})
"""A first cell that names the column: a header someone added, not a hash."""


def looks_like(first_line: str) -> bool:
    """A first line shaped like an HMA row: a value, a numeric descriptor id, a time."""
    cells = next(csv.reader([first_line]), [])
    return (3 <= len(cells) <= 4 and bool(cells[0].strip()) and " " not in cells[0].strip()
            and cells[1].strip().isdigit()
            and (parse_time(cells[2]) is not None or cells[2].strip() == "mine"))


def read(path: Path, parsed: ParsedBank, problems: ProblemLog, default: Category | None,
         signal_type: str | None = None) -> bool:
    source = str(path)
    if not require_bank_category(default, problems, source):
        return False
    assert default is not None
    fallback = signal_type or type_from_file_name(path)
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        for cells in reader:
            where = f"line {reader.line_num}"
            if not cells or not "".join(cells).strip():
                continue
            if len(cells) > 4:
                problems.report(source, f"{len(cells)} columns where HMA rows have 4 "
                                "(indicator,descriptor_id,added_on,tags)", where)
                continue
            value, descriptor_id, added_on, tags = (c.strip() for c in [*cells, "", "", ""][:4])
            if reader.line_num == 1 and value.lower() in _HEADER_NAMES:
                continue
            kind = type_of_bare_value(value, fallback)
            if kind is None:
                problems.report(source, untyped_problem(value), where)
                continue
            sig = signal_or_count(kind, value, parsed, problems, source, where)
            if sig is None:
                continue
            labels = tags.split()
            if "false_positive" in labels:
                parsed.removals.append(Removal(sig[0], sig[1],
                                               "ThreatExchange: marked false positive"))
                continue
            parsed.entries.append(BankEntry(
                sig[0], sig[1], default, added_at=parse_time(added_on),
                source_id=descriptor_id or None,
                metadata={k: v for k, v in (("tags", " ".join(labels)), ("te_type", kind))
                          if v}))
    return True
