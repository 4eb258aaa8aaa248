"""ThreatExchange UI CSV downloads (`td_raw_indicator`, `td_indicator_type` or `type`,
`td_status`, ...) and indicator exports (`indicator,type,should_delete,...`). The other
ThreatExchange files have their own readers: `hma`, `te_dataset`, `te_lines`, `te_graph`."""

from __future__ import annotations

from pathlib import Path

from veilleur.detect.media.banks.common import (
    TRUE,
    BankEntry,
    ParsedBank,
    Removal,
    csv_rows,
    entry_category,
    parse_time,
    signal_or_count,
)
from veilleur.detect.media.banks.te_types import type_of_bare_value, untyped_problem
from veilleur.ingest.problems import ProblemLog
from veilleur.taxonomy import Category


def read(path: Path, parsed: ParsedBank, problems: ProblemLog,
                         default: Category | None) -> bool:
    source = str(path)
    value_col = type_col = None
    for columns, where, clean in csv_rows(path, lower=True):
        if where == "header":
            value_col = next((c for c in ("td_raw_indicator", "raw_indicator", "indicator")
                              if c in columns), None)
            type_col = next((c for c in ("td_indicator_type", "td_type", "indicator_type",
                                         "type") if c in columns), None)
            if value_col is None:
                problems.report(source, "not a ThreatExchange export: no td_raw_indicator or "
                                "indicator column", fatal=True)
                return False
            continue
        assert value_col is not None  # the header came first
        value = clean.get(value_col, "")
        kind = clean.get(type_col, "") if type_col else ""
        if not kind:
            kind = type_of_bare_value(value, None) or ""
            if not kind:
                problems.report(source, untyped_problem(
                    value, "export with the type column"), where)
                continue
        sig = signal_or_count(kind, value, parsed, problems, source, where)
        if sig is None:
            continue
        status = (clean.get("td_status") or clean.get("status") or "").upper()
        if clean.get("should_delete", "").lower() in TRUE or status == "NON_MALICIOUS":
            reason = "deleted at source" if status != "NON_MALICIOUS" else "marked benign"
            parsed.removals.append(Removal(sig[0], sig[1], f"ThreatExchange: {reason}"))
            continue
        category = entry_category(clean.get("category"), default, problems, source, where)
        if category is None:
            continue
        tags = clean.get("td_subjective_tags") or clean.get("tags") or ""
        parsed.entries.append(BankEntry(
            sig[0], sig[1], category,
            added_at=parse_time(clean.get("td_creation_time") or clean.get("creation_time")
                                or clean.get("added_on")),
            note=clean.get("td_description") or clean.get("description") or None,
            source_id=clean.get("id") or clean.get("td_id") or None,
            metadata={k: v for k, v in (("tags", tags),
                                        ("owner", clean.get("td_owner_name", "")))
                      if v}))
    return True
