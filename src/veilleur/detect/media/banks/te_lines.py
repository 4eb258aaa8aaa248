"""`signal_type signal` lines: the `threatexchange` CLI's `dataset -P -S` and
python-threatexchange's file exchange. The type is the first word, the signal the rest of the
line (raw text holds spaces). When one type was selected (`dataset -s pdq -P -S`) or the file
exchange was configured with one, lines hold the bare signal: its type then comes as for HMA
files (`te_types.type_of_bare_value`).
"""

from __future__ import annotations

import re
from pathlib import Path

from veilleur.detect.media.banks.common import BankEntry, ParsedBank, signal_or_count
from veilleur.detect.media.banks.te_types import (
    TE_SIGNAL_NAMES,
    known_signal_type,
    require_bank_category,
    type_from_file_name,
    type_of_bare_value,
    untyped_problem,
)
from veilleur.ingest.problems import ProblemLog
from veilleur.taxonomy import Category

_TYPE_WORD = re.compile(r"[a-z][a-z0-9_]*")
_BARE_HASH = re.compile(r"^([0-9a-fA-F]{32}|[0-9a-fA-F]{64})$")


def looks_like(first_line: str) -> bool:
    """`<ThreatExchange type> <signal>` or a bare hash (any two words could be prose)."""
    line = first_line.strip()
    words = line.split(None, 1)
    return bool(_BARE_HASH.match(line)) or (len(words) == 2 and words[0] in TE_SIGNAL_NAMES)


def split_line(line: str, fallback: str | None) -> tuple[str | None, str]:
    """(type, signal) of one line; the type is None when the line does not give it.

    A first word is the type when it names one, or, in a file with no other source of type,
    when it looks like one (so an unknown type is counted by name, not refused as a value).
    """
    words = line.split(None, 1)
    if len(words) == 2 and _TYPE_WORD.fullmatch(words[0]) and (
            known_signal_type(words[0]) or fallback is None):
        return words[0], words[1].strip()
    return None, line


def read(path: Path, parsed: ParsedBank, problems: ProblemLog, default: Category | None,
         signal_type: str | None = None) -> bool:
    source = str(path)
    if not require_bank_category(default, problems, source):
        return False
    assert default is not None
    fallback = signal_type or type_from_file_name(path)
    with path.open(encoding="utf-8-sig") as f:
        for n, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            where = f"line {n}"
            kind, value = split_line(line, fallback)
            kind = kind or type_of_bare_value(value, fallback)
            if kind is None:
                problems.report(source, untyped_problem(value), where)
                continue
            sig = signal_or_count(kind, value, parsed, problems, source, where)
            if sig is None:
                continue
            parsed.entries.append(BankEntry(sig[0], sig[1], default,
                                            metadata={"te_type": kind.lower()}))
    return True
