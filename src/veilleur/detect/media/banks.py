"""Hash bank files: the CSV of contracts §7 and the exchange formats converted into it.

Pure parsing: every reader yields `BankEntry`s for the entries to hold and `Removal`s for the
ones the source withdrew or deleted (they must stop matching), and reports bad rows to a
`ProblemLog` with their position. Nothing here touches the database.

- `csv`: contracts §7 (`signal_type,signal,category` plus metadata columns).
- `threatexchange`: ThreatExchange CSV downloads (`td_raw_indicator`, `td_indicator_type`
  or `type`, `td_status`, ...) and indicator exports (`indicator,type,should_delete,...`).
- `stopncii`: StopNCII hash records, JSON (a list, an object holding a list, or JSON Lines)
  with `signalType`, `hashValue`, `hashStatus`; withdrawn and deleted records are removals.
- `ncmec`: NCMEC hash-sharing XML; each record's `<fingerprints>` holds `md5`, `pdq`,
  `sha256`, ... (types we do not match, such as PhotoDNA, are counted and skipped); deleted
  records are removals.
"""

from __future__ import annotations

import csv
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from veilleur.ingest.problems import ProblemLog
from veilleur.taxonomy import Category

REQUIRED_COLUMNS = ("signal_type", "signal", "category")
SIGNAL_TYPES = ("md5", "sha256", "pdq")
FORMATS = ("csv", "threatexchange", "stopncii", "ncmec")
EXPECTED = {
    "csv": "a CSV with the columns signal_type,signal,category (contracts §7)",
    "threatexchange": "a ThreatExchange CSV export (td_raw_indicator, td_indicator_type)",
    "stopncii": "StopNCII JSON hash records (signalType, hashValue)",
    "ncmec": "an NCMEC hash list (XML with <fingerprints>)",
}
"""What each format looks like, for the error that says a file is none of them."""
_HEX = {"md5": re.compile(r"^[0-9a-f]{32}$"), "sha256": re.compile(r"^[0-9a-f]{64}$"),
        "pdq": re.compile(r"^[0-9a-f]{64}$")}
_TYPE_ALIASES = {
    "md5": "md5", "hash_md5": "md5", "sha256": "sha256", "sha-256": "sha256",
    "hash_sha256": "sha256", "pdq": "pdq", "hash_pdq": "pdq", "pdqhash": "pdq",
}
_TRUE = {"1", "true", "yes", "y"}


@dataclass(frozen=True, slots=True)
class BankEntry:
    signal_type: str
    signal: str
    category: Category
    added_at: datetime | None = None
    note: str | None = None
    enabled: bool = True
    source_id: str | None = None
    """The entry's id at its source (NCMEC record, ThreatExchange descriptor), if any."""
    metadata: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True, slots=True)
class Removal:
    signal_type: str
    signal: str
    reason: str


@dataclass
class ParsedBank:
    format: str
    entries: list[BankEntry] = field(default_factory=list)
    removals: list[Removal] = field(default_factory=list)
    skipped_types: Counter[str] = field(default_factory=Counter)
    """Signal types present in the file that this engine does not match (e.g. PhotoDNA)."""


@dataclass(frozen=True, slots=True)
class HashBank:
    """A bank read from a file for one run (`scan --bank`), not stored."""

    name: str
    entries: tuple[BankEntry, ...]
    allow: bool = False
    pdq_threshold: int = 31

    def count(self, signal_type: str) -> int:
        return sum(1 for e in self.entries if e.signal_type == signal_type)


def normalise(kind: str, value: str) -> tuple[str, str] | str:
    """(signal_type, signal) in canonical form, or the reason it is invalid."""
    canonical = _TYPE_ALIASES.get(kind.strip().lower().replace(" ", "_"))
    if canonical is None:
        return f"unknown signal type {kind!r} (pdq, md5 or sha256)"
    value = value.strip().lower()
    if not _HEX[canonical].match(value):
        length = 32 if canonical == "md5" else 64
        return f"{canonical} signal must be {length} hex characters, got {value[:70]!r}"
    return canonical, value


def parse_time(value: str | None) -> datetime | None:
    """ISO 8601 or Unix seconds; None when absent or unreadable (metadata, not evidence)."""
    if not value:
        return None
    value = str(value).strip()
    try:
        if re.fullmatch(r"\d{9,11}(\.\d+)?", value):
            return datetime.fromtimestamp(float(value), UTC)
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


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
    reader = {"csv": _read_csv, "threatexchange": _read_threatexchange,
              "stopncii": _read_stopncii, "ncmec": _read_ncmec}[fmt]
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
    if ok and not parsed.entries and not parsed.removals:
        # A file whose every line was refused (or that had none) is no bank: importing it
        # would leave an empty bank that looks loaded and matches nothing.
        skipped = ", ".join(f"{kind} ×{n}" for kind, n in parsed.skipped_types.most_common())
        problems.report(str(path), "no hash entry could be read: expected "
                        f"{EXPECTED[fmt]}" + (f"; only hash types this engine does not "
                                              f"match ({skipped})" if skipped else ""),
                        fatal=True)
        return None
    return parsed if ok else None


def _signal(kind: str, value: str, parsed: ParsedBank, problems: ProblemLog, source: str,
            where: str) -> tuple[str, str] | None:
    """The canonical signal; a type we do not match is counted, a bad value reported."""
    sig = normalise(kind, value)
    if not isinstance(sig, str):
        return sig
    if _TYPE_ALIASES.get(kind.strip().lower()) is None:
        parsed.skipped_types[kind.strip().lower()] += 1
    else:
        problems.report(source, sig, where)
    return None


def _category(value: str | None, default: Category | None, problems: ProblemLog, source: str,
              where: str) -> Category | None:
    if value:
        try:
            return Category(value.strip().lower())
        except ValueError:
            problems.report(source, f"unknown category {value!r}", where)
            return None
    if default is None:
        problems.report(source, "entry has no category and the bank has no default "
                        "(give --category)", where)
    return default


def _csv_rows(path: Path, lower: bool = False
              ) -> Iterator[tuple[list[str], str, dict[str, str]]]:
    """(columns, position, row with keys and values stripped) for each data row."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = [c.strip().lower() if lower else c.strip() for c in reader.fieldnames or []]
        yield columns, "header", {}
        for row in reader:
            yield columns, f"line {reader.line_num}", {
                ((k or "").strip().lower() if lower else (k or "").strip()): (v or "").strip()
                for k, v in row.items() if k is not None}


def _read_csv(path: Path, parsed: ParsedBank, problems: ProblemLog,
              default: Category | None) -> bool:
    source = str(path)
    for columns, where, clean in _csv_rows(path):
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
        category = _category(clean.get("category"), default, problems, source, where)
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


def _read_threatexchange(path: Path, parsed: ParsedBank, problems: ProblemLog,
                         default: Category | None) -> bool:
    source = str(path)
    value_col = type_col = None
    for columns, where, clean in _csv_rows(path, lower=True):
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
            if len(value) != 32:
                problems.report(source, "no indicator type: a 64-hex value may be PDQ or "
                                "SHA-256; export with the type column", where)
                continue
            kind = "md5"
        sig = _signal(kind, value, parsed, problems, source, where)
        if sig is None:
            continue
        status = (clean.get("td_status") or clean.get("status") or "").upper()
        if clean.get("should_delete", "").lower() in _TRUE or status == "NON_MALICIOUS":
            reason = "deleted at source" if status != "NON_MALICIOUS" else "marked benign"
            parsed.removals.append(Removal(sig[0], sig[1], f"ThreatExchange: {reason}"))
            continue
        category = _category(clean.get("category"), default, problems, source, where)
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


def _read_stopncii(path: Path, parsed: ParsedBank, problems: ProblemLog,
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
        sig = _signal(kind, value, parsed, problems, source, where)
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


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _read_ncmec(path: Path, parsed: ParsedBank, problems: ProblemLog,
                default: Category | None) -> bool:
    source = str(path)
    default = default or Category.CSAM
    n = 0
    try:
        for _, elem in ET.iterparse(path, events=("end",)):
            children = {_local(c.tag): c for c in elem}
            if "fingerprints" not in children:
                continue
            n += 1
            where = f"record {n}"
            record_id = elem.get("id") or (children["id"].text if "id" in children else None)
            if record_id:
                where += f" (id {record_id.strip()})"
            deleted = elem.get("deleted", "").lower() in _TRUE
            for flag in ("deleted", "status"):
                text = (children[flag].text or "").strip().lower() if flag in children else ""
                deleted |= text in _TRUE or text in ("deleted", "removed")
            for fp in children["fingerprints"]:
                kind = _local(fp.tag)
                value = (fp.text or "").strip()
                if _TYPE_ALIASES.get(kind) is None:
                    parsed.skipped_types[kind] += 1
                    continue
                sig = normalise(kind, value)
                if isinstance(sig, str):
                    problems.report(source, sig, where)
                    continue
                if deleted:
                    parsed.removals.append(Removal(sig[0], sig[1], "NCMEC: deleted"))
                    continue
                classification = children.get("classification")
                parsed.entries.append(BankEntry(
                    sig[0], sig[1], default,
                    added_at=parse_time(children["lastmodifiedtimestamp"].text
                                        if "lastmodifiedtimestamp" in children else None),
                    source_id=record_id.strip() if record_id else None,
                    metadata={"classification": (classification.text or "").strip()}
                    if classification is not None and classification.text else {}))
            elem.clear()
    except ET.ParseError as exc:
        problems.report(source, f"not well-formed XML: {exc}", fatal=not parsed.entries)
        return bool(parsed.entries or parsed.removals)
    if n == 0:
        problems.report(source, "no record with <fingerprints> in this XML", fatal=True)
        return False
    return True


def load_bank_file(path: Path, problems: ProblemLog) -> HashBank | None:
    """A bank file read for one run (`scan --bank`), any format; None if unusable."""
    parsed = read_bank_file(path, problems)
    if parsed is None:
        return None
    return HashBank(name=path.stem, entries=tuple(parsed.entries))
