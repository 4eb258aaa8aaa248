"""The bank CSV of contracts §7: `signal_type,signal,category` plus metadata columns."""

from __future__ import annotations

from pathlib import Path

from veilleur.detect.media.banks.common import (
    REQUIRED_COLUMNS,
    BankEntry,
    ParsedBank,
    csv_rows,
    entry_category,
    normalise,
    parse_time,
)
from veilleur.ingest.problems import ProblemLog
from veilleur.taxonomy import Category


def read(path: Path, parsed: ParsedBank, problems: ProblemLog,
              default: Category | None) -> bool:
    source = str(path)
    for columns, where, clean in csv_rows(path):
        if where == "header":
            needed = [c for c in REQUIRED_COLUMNS if c != "category" or default is None]
            missing = [c for c in needed if c not in columns]
            if missing:
                problems.report(source, f"not a hash bank CSV: missing column(s) "
                                f"{', '.join(missing)}", fatal=True)
                return False
            continue
        sig = normalise(clean.get("signal_type", ""), clean.get("signal", ""))
        if isinstance(sig, str):
            problems.report(source, sig, where)
            continue
        category = entry_category(clean.get("category"), default, problems, source, where)
        if category is None:
            continue
        enabled = clean.get("enabled", "true").lower() not in ("0", "false", "no", "n")
        metadata = {k: v for k, v in clean.items()
                    if k not in (*REQUIRED_COLUMNS, "added_at", "note", "enabled") and v}
        parsed.entries.append(BankEntry(
            sig[0], sig[1], category, added_at=parse_time(clean.get("added_at")),
            note=clean.get("note") or None, enabled=enabled,
            source_id=clean.get("id") or None, metadata=metadata))
    return True
