"""What every bank reader shares: the entries, the removals, signal types and their checks."""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from veilleur.ingest.problems import ProblemLog
from veilleur.taxonomy import Category

REQUIRED_COLUMNS = ("signal_type", "signal", "category")
SIGNAL_TYPES = ("md5", "sha256", "pdq")
_HEX = {"md5": re.compile(r"^[0-9a-f]{32}$"), "sha256": re.compile(r"^[0-9a-f]{64}$"),
        "pdq": re.compile(r"^[0-9a-f]{64}$")}
TYPE_ALIASES = {
    "md5": "md5", "hash_md5": "md5", "sha256": "sha256", "sha-256": "sha256",
    "hash_sha256": "sha256", "pdq": "pdq", "hash_pdq": "pdq", "pdqhash": "pdq",
    # python-threatexchange / HMA names (`photo_md5` before 1.0) and the Graph API's video
    # types: the same file digests, told apart only by the content they were taken from
    "photo_md5": "md5", "video_md5": "md5", "hash_video_md5": "md5",
    "video_sha256": "sha256", "hash_video_sha256": "sha256",
}
"""Signal type names this engine matches, to its own. Not here on purpose: `url_md5` and
`text_md5` (an MD5 of a URL or text, not of a file) and every other type, which readers count
and name instead."""
TRUE = {"1", "true", "yes", "y"}
_TYPE_NAME = re.compile(r"^[a-z0-9][a-z0-9 _.-]{0,39}$")
"""A signal type name we can count and show (`raw_text`, `ImagePDQ`, `HASH_TMK`)."""


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
    """The source withdrew something: one hash (`signal_type`, `signal`), or, with
    `source_id`, every entry of that record at the source whatever its hashes (an NCMEC
    `<deletedImage>` names only the record's id)."""

    signal_type: str
    signal: str
    reason: str
    source_id: str | None = None

    @classmethod
    def of_record(cls, source_id: str, reason: str) -> Removal:
        return cls("", "", reason, source_id)


@dataclass
class ParsedBank:
    format: str
    entries: list[BankEntry] = field(default_factory=list)
    removals: list[Removal] = field(default_factory=list)
    skipped_types: Counter[str] = field(default_factory=Counter)
    """Signal types present in the file that this engine does not match (e.g. PhotoDNA)."""
    feed_page: bool = False
    """The file is a well-formed page of a feed (an NCMEC `queryResult`, a StopNCII
    FetchHashes answer): valid even with nothing usable in it, unlike a file that is no bank."""
    more_pages: str | None = None
    """The feed says more pages follow (its next-page token or link, at most 4096
    characters: a hostile file's is not carried whole)."""

    _held: Counter[object] = field(default_factory=Counter, init=False, repr=False,
                                   compare=False)
    _withdrawn: Counter[object] = field(default_factory=Counter, init=False, repr=False,
                                        compare=False)
    """What `entries` and `removals` name (hash keys and source ids), so that each `add` and
    `remove` checks in constant time whether the other side must change."""

    def __post_init__(self) -> None:
        for e in self.entries:
            self._held.update(_names(e))
        for r in self.removals:
            self._withdrawn[_target(r)] += 1

    def add(self, entry: BankEntry) -> None:
        """An entry, in file order: it cancels an earlier withdrawal of the same hash or
        record in this file (the later word wins, as the feeds mean it)."""
        names = _names(entry)
        if any(self._withdrawn[n] for n in names):
            kept = [r for r in self.removals if _target(r) not in names]
            for r in self.removals:
                if _target(r) in names:
                    self._withdrawn[_target(r)] -= 1
            self.removals = kept
        self.entries.append(entry)
        self._held.update(names)

    def remove(self, removal: Removal) -> None:
        """A withdrawal, in file order: earlier entries of this file that it names are dropped
        (never stored only to be disabled); it still applies to what earlier files stored."""
        target = _target(removal)
        if self._held[target]:
            kept = []
            for e in self.entries:
                if target in _names(e):
                    self._held.subtract(_names(e))
                else:
                    kept.append(e)
            self.entries = kept
        self.removals.append(removal)
        self._withdrawn[target] += 1


def _names(entry: BankEntry) -> tuple[object, ...]:
    """What a removal may name an entry by: its hash, and its record at the source."""
    key = ("hash", entry.signal_type, entry.signal)
    return (key, ("record", entry.source_id)) if entry.source_id else (key,)


def _target(removal: Removal) -> object:
    if removal.source_id is not None:
        return ("record", removal.source_id)
    return ("hash", removal.signal_type, removal.signal)


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
    canonical = TYPE_ALIASES.get(kind.strip().lower().replace(" ", "_"))
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


def signal_or_count(kind: str, value: str, parsed: ParsedBank, problems: ProblemLog, source: str,
            where: str) -> tuple[str, str] | None:
    """The canonical signal; a type we do not match is counted, a bad value reported."""
    sig = normalise(kind, value)
    if not isinstance(sig, str):
        return sig
    name = kind.strip().lower()
    if TYPE_ALIASES.get(name) is not None:
        problems.report(source, sig, where)
    elif _TYPE_NAME.match(name):
        parsed.skipped_types[name] += 1
    else:
        # Counted types are printed and stored by name: a hostile or empty "type" is a bad row.
        problems.report(source, f"unreadable signal type {kind.strip()[:40]!r}"
                        if name else "no signal type", where)
    return None


def entry_category(value: str | None, default: Category | None, problems: ProblemLog, source: str,
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


def csv_rows(path: Path, lower: bool = False
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
