"""StopNCII hash records: JSON (a list, an object holding a list, or JSON Lines) with
`signalType`, `hashValue`, `hashStatus`; withdrawn and deleted records are removals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from veilleur.detect.media.banks.common import (
    BankEntry,
    ParsedBank,
    Removal,
    parse_time,
    signal_or_count,
)
from veilleur.ingest.problems import ProblemLog
from veilleur.taxonomy import Category


def _json_records(path: Path, problems: ProblemLog) -> Iterator[tuple[str, Any]]:
    text = path.read_text(encoding="utf-8-sig")
    source = str(path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                yield f"line {n}", json.loads(line)
            except json.JSONDecodeError as exc:
                problems.report(source, f"not JSON: {exc.msg}", f"line {n}")
        return
    if isinstance(doc, dict):
        lists = [v for v in doc.values() if isinstance(v, list)]
        doc = lists[0] if len(lists) == 1 else [doc]
    if not isinstance(doc, list):
        problems.report(source, "expected a list of hash records", fatal=True)
        return
    for n, record in enumerate(doc, 1):
        yield f"record {n}", record


def read(path: Path, parsed: ParsedBank, problems: ProblemLog,
                   default: Category | None) -> bool:
    source = str(path)
    default = default or Category.NCII
    seen = False
    for where, record in _json_records(path, problems):
        seen = True
        if not isinstance(record, dict):
            problems.report(source, "hash record is not an object", where)
            continue
        kind = str(record.get("signalType") or record.get("signal_type") or "")
        value = str(record.get("hashValue") or record.get("hash_value") or "")
        if not kind or not value:
            problems.report(source, "hash record lacks signalType or hashValue", where)
            continue
        sig = signal_or_count(kind, value, parsed, problems, source, where)
        if sig is None:
            continue
        status = str(record.get("hashStatus") or "active").strip().lower()
        if status in ("withdrawn", "deleted", "removed", "inactive"):
            parsed.removals.append(Removal(sig[0], sig[1], f"StopNCII: {status}"))
            continue
        if status != "active":
            problems.report(source, f"unknown hashStatus {record.get('hashStatus')!r}", where)
            continue
        extras = {k: json.dumps(v) if not isinstance(v, str) else v for k, v in record.items()
                  if k not in ("signalType", "hashValue", "hashStatus") and v not in (None, "")}
        parsed.entries.append(BankEntry(
            sig[0], sig[1], default,
            added_at=parse_time(str(record.get("createDate") or record.get("addedAt") or "")),
            source_id=str(record.get("hashRecordId") or record.get("id") or "") or None,
            metadata=extras))
    if not seen:
        problems.report(source, "no hash records in file", fatal=True)
        return False
    return True
