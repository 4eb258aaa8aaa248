"""StopNCII hash records: a FetchHashes answer (`hashRecords`, `nextPageToken`,
`hasMoreRecords`), or a list, an object holding a list, or JSON Lines of records.

A record is `signalType` (`ImagePDQ` -> pdq, `VideoMD5` -> md5; `VideoTMK`, `Text`, `URL` are
counted and named), `hashValue`, `hashStatus`, `caseNumbers`, `lastModtimestamp` and CSP
feedback. `Received` (a person's submission, not yet reviewed by any platform: StopNCII's
initial state) and `Active` are entries, as python-threatexchange takes them; `Withdrawn` and
`Deleted` (the person withdrew it: to be deleted by every platform) disable the hash. Each
record is the hash's whole current state, so a later one replaces the earlier.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from veilleur.detect.media.banks.common import (
    BankEntry,
    ParsedBank,
    Removal,
    normalise,
    parse_time,
    signal_or_count,
)
from veilleur.ingest.problems import ProblemLog
from veilleur.taxonomy import Category

_SIGNAL_TYPES = {"imagepdq": "pdq", "videomd5": "md5"}
"""StopNCII's names for the types this engine matches (a video's MD5 is its file's)."""
_ENTRY = ("received", "active")
_GONE = ("withdrawn", "deleted", "removed", "inactive")
_KEYS = ("signalType", "hashValue", "hashStatus", "lastModtimestamp", "signal_type",
         "hash_value")


def _json_records(path: Path, parsed: ParsedBank, problems: ProblemLog
                  ) -> Iterator[tuple[str, Any]]:
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
    if isinstance(doc, dict) and isinstance(doc.get("hashRecords"), list):
        # a FetchHashes page: valid even when empty; says whether more pages follow
        parsed.feed_page = True
        if doc.get("hasMoreRecords") is True:
            parsed.more_pages = str(doc.get("nextPageToken") or "yes")[:4096]
        doc = doc["hashRecords"]
    elif isinstance(doc, dict):
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
    for where, record in _json_records(path, parsed, problems):
        seen = True
        if not isinstance(record, dict):
            problems.report(source, "hash record is not an object", where)
            continue
        kind = str(record.get("signalType") or record.get("signal_type") or "")
        value = str(record.get("hashValue") or record.get("hash_value") or "")
        if not kind or not value:
            problems.report(source, "hash record lacks signalType or hashValue", where)
            continue
        ours = _SIGNAL_TYPES.get(kind.strip().lower())
        if ours is not None:
            checked = normalise(ours, value)
            if isinstance(checked, str):
                problems.report(source, f"{kind}: {checked}", where)
                continue
            sig: tuple[str, str] | None = checked
        else:
            sig = signal_or_count(kind, value, parsed, problems, source, where)
        if sig is None:
            continue
        status = str(record.get("hashStatus") or "active").strip().lower()
        if status in _GONE:
            parsed.remove(Removal(sig[0], sig[1], f"StopNCII: {status}"))
            continue
        if status not in _ENTRY:
            problems.report(source, f"unknown hashStatus {record.get('hashStatus')!r} "
                            f"(Received, Active, Withdrawn or Deleted)", where)
            continue
        extras = {k: json.dumps(v) if not isinstance(v, str) else v for k, v in record.items()
                  if k not in _KEYS and v not in (None, "")}
        if record.get("hashStatus"):
            extras["hashStatus"] = str(record["hashStatus"])
        stamp = record.get("lastModtimestamp") or record.get("createDate") or record.get(
            "addedAt")
        parsed.add(BankEntry(
            sig[0], sig[1], default, added_at=parse_time(str(stamp or "")),
            source_id=str(record.get("hashRecordId") or record.get("id") or "") or None,
            metadata=extras))
    if not seen and not parsed.feed_page:
        problems.report(source, "no hash records in file", fatal=True)
        return False
    return True
