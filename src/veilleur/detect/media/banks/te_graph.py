"""ThreatExchange Graph API descriptors as JSON: one object, a list, a Graph page
(`{"data": [...]}`), a map of id to details (te-tag-query's `ids-to-details`) or JSON Lines.

A descriptor has `raw_indicator` (or `indicator`), `type` (`HASH_PDQ`, `HASH_MD5`, ...),
`status`, `tags`, `added_on`, `last_updated`, `id`; `/threat_updates` records add
`should_delete`. `should_delete` withdraws the hash; so does `NON_MALICIOUS` (its owner says
benign) unless another descriptor in the file still calls it harmful (then it is kept, marked
disputed); `MALICIOUS` and `SUSPICIOUS` are kept; `UNKNOWN` is refused, as ThreatExchange's
StatusType says not to use it for content safety.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from veilleur.detect.media.banks.common import (
    TRUE,
    BankEntry,
    ParsedBank,
    Removal,
    parse_time,
    signal_or_count,
)
from veilleur.detect.media.banks.te_types import require_bank_category, settle_opinions
from veilleur.ingest.problems import ProblemLog
from veilleur.taxonomy import Category

_KEPT = frozenset({"MALICIOUS", "SUSPICIOUS", ""})
_METADATA = ("status", "review_status", "severity", "share_level", "confidence",
             "privacy_type", "last_updated", "expired_on")
"""Kept with the entry for the reviewer; not used to decide (`expired_on` is the owner's
opinion of when it stops being a threat, and a deny list does not expire on a date)."""


def looks_like(head: bytes) -> bool:
    """JSON that holds descriptors, not StopNCII records (`signalType`, `hashValue`)."""
    if b'"hashValue"' in head or b'"signalType"' in head:
        return False
    return b'"raw_indicator"' in head or (b'"indicator"' in head and b'"should_delete"' in head)


def _is_descriptor(value: Any) -> bool:
    return isinstance(value, dict) and ("raw_indicator" in value or "indicator" in value)


def _records(path: Path, problems: ProblemLog) -> Iterator[tuple[str, Any]]:
    text = path.read_text(encoding="utf-8-sig")
    source = str(path)
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        # Not one document: JSON Lines, where a bad line costs that line only. ValueError also
        # covers numbers past Python's digit limit; RecursionError, hostile nesting.
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                yield f"line {n}", json.loads(line)
            except json.JSONDecodeError as exc:
                problems.report(source, f"not JSON: {exc.msg}", f"line {n}")
            except (ValueError, RecursionError) as exc:
                problems.report(source, f"unreadable JSON: {str(exc)[:80] or 'too deep'}",
                                f"line {n}")
        return
    if _is_descriptor(doc):
        doc = [doc]
    elif isinstance(doc, dict) and isinstance(doc.get("data"), list):
        doc = doc["data"]
    elif (isinstance(doc, dict) and all(isinstance(v, dict) for v in doc.values())
          and any(_is_descriptor(v) for v in doc.values())):
        doc = list(doc.values())
    if not isinstance(doc, list):
        problems.report(source, "expected ThreatExchange descriptors (objects with "
                        "raw_indicator and type)", fatal=True)
        return
    for n, record in enumerate(doc, 1):
        yield f"descriptor {n}", record


def _indicator(record: dict[str, Any]) -> tuple[str, str]:
    """(value, type): a descriptor's `indicator` may be the ThreatIndicator object."""
    value, kind = record.get("raw_indicator"), record.get("type")
    indicator = record.get("indicator")
    if isinstance(indicator, dict):
        value = value or indicator.get("indicator")
        kind = kind or indicator.get("type")
    elif value is None:
        value = indicator
    return ("" if value is None else str(value)), ("" if kind is None else str(kind))


def _tags(value: Any) -> list[str]:
    """`null`, a list of strings, or the Graph edge `{"data": [{"text": ...}]}`."""
    if isinstance(value, dict):
        value = [t.get("text") for t in value.get("data", []) if isinstance(t, dict)]
    if not isinstance(value, list):
        return []
    return [str(t) for t in value if t]


def _owner(record: dict[str, Any]) -> str:
    owner = record.get("owner")
    if isinstance(owner, dict):
        return str(owner.get("name") or owner.get("id") or "")
    return ""


def read(path: Path, parsed: ParsedBank, problems: ProblemLog,
         default: Category | None) -> bool:
    source = str(path)
    if not require_bank_category(default, problems, source):
        return False
    assert default is not None
    kept: list[BankEntry] = []
    benign: dict[tuple[str, str], list[str]] = {}  # NON_MALICIOUS, by hash: who said so
    for where, record in _records(path, problems):
        if not isinstance(record, dict):
            problems.report(source, "descriptor is not an object", where)
            continue
        value, kind = _indicator(record)
        if not value or not kind:
            problems.report(source, "descriptor lacks raw_indicator or type", where)
            continue
        sig = signal_or_count(kind, value, parsed, problems, source, where)
        if sig is None:
            continue
        status = str(record.get("status") or "").strip().upper()
        if str(record.get("should_delete", "")).strip().lower() in TRUE:
            parsed.removals.append(Removal(sig[0], sig[1], "ThreatExchange: deleted at source"))
            continue
        if status == "NON_MALICIOUS":
            benign.setdefault(sig, []).append(_owner(record) or "a member")
            continue
        if status not in _KEPT:
            problems.report(source, f"status {status!r} is not usable for content safety "
                            "(MALICIOUS, SUSPICIOUS, or NON_MALICIOUS to withdraw)", where)
            continue
        metadata = {k: str(record[k]) for k in _METADATA if record.get(k) not in (None, "")}
        metadata["te_type"] = kind.lower()
        if tags := _tags(record.get("tags")):
            metadata["tags"] = " ".join(tags)
        if owner := _owner(record):
            metadata["owner"] = owner
        kept.append(BankEntry(
            sig[0], sig[1], default, added_at=parse_time(str(record.get("added_on") or "")),
            note=str(record.get("description") or "") or None,
            source_id=str(record.get("id") or "") or None, metadata=metadata))
    settle_opinions(parsed, kept, benign, "ThreatExchange: marked benign")
    return True
