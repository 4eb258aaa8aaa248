"""Stored hash banks: import, list, disable; the PDQ index kept in step; retroactive matching.

The database is the record (banks, entries, and a log of every change); the PDQ index on
disk is a fast copy of the PDQ entries that catches up by replaying that log, so importing or
disabling never needs a rebuild, and a lost index is rebuilt from the database.

Every change names its actor and is also written to the audit log (`BankAudit`). An allow
entry that would silence a deny list (the hash of a deny entry, a PDQ within a deny bank's
radius, or a category a deny bank holds) is an override: refused unless the caller was
allowed to override (`override=True`: the API's `banks:override` scope, the CLI's
`--override`), and then recorded on the entry with what it overrides.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import Engine, Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from veilleur.decide.policy import Finding, FindingBook, Policy
from veilleur.detect.base import Signal
from veilleur.detect.media.banks import BankEntry, ParsedBank, Removal
from veilleur.detect.media.decode import Limits, MediaError, image_frames
from veilleur.detect.media.detector import HashMatchDetector, match_signals
from veilleur.detect.media.features import FeatureIndex, LocalFeatures
from veilleur.detect.media.features import extract as extract_features
from veilleur.detect.media.hashing import MediaHashes, digests
from veilleur.detect.media.index import IndexLoadError, PdqIndex
from veilleur.detect.media.matcher import BankInfo, BankMatcher, EntryInfo, Match, Override
from veilleur.detect.media.pdq import PdqHash, enrolment_hashes
from veilleur.events import Attachment, Message
from veilleur.store.models import (
    BankEntryRow,
    BankEventRow,
    BankFeaturesRow,
    BankRow,
    MediaHashRow,
    MediaMatchRow,
)
from veilleur.taxonomy import Category

_BATCH = 5000
T = TypeVar("T")
MAX_THRESHOLD = 35
"""The widest PDQ radius a bank may use."""
_BANKS: Table = BankRow.__table__  # type: ignore[assignment]
_EVENTS: Table = BankEventRow.__table__  # type: ignore[assignment]


class BankError(ValueError):
    """A bank operation that cannot be done (unknown bank, conflicting settings)."""


class OverrideRefusedError(BankError):
    """Allow entries that would silence deny lists, from a caller not allowed to override."""


BankAudit = Callable[[str, str, str, dict[str, Any]], None]
"""(kind, actor, subject, detail): writes one audit entry for a bank change."""


@dataclass
class ImportReport:
    bank: str
    created: bool
    read: int = 0
    added: int = 0
    """Entries new to this bank."""
    updated: int = 0
    """Entries already held that the source changed (category, note, source id, metadata such
    as NCMEC's classification, or an earlier `added_at`): applied, logged and audited."""
    already_present: int = 0
    """Entries already held, unchanged."""
    removed: int = 0
    """Entries the source withdrew or deleted, now disabled here."""
    not_held: int = 0
    """Withdrawals naming nothing this bank holds (never imported here): counted, no error."""
    reenabled: int = 0
    """Entries disabled by an earlier withdrawal that the source lists again."""
    skipped_types: Counter[str] = field(default_factory=Counter)
    more_pages: str | None = None
    """The file says its feed has more pages (the next page's token or link)."""
    stored: bool = True
    """False when the file held nothing to store (an empty page, or withdrawals only for a
    bank that does not exist): no bank was made or changed."""
    retro_media_checked: int = 0
    retro_matches: list[RetroMatch] = field(default_factory=list)
    overrides: dict[str, Any] | None = None
    """Allow entries made as overrides: how many, which deny entries and categories."""


@dataclass(frozen=True, slots=True)
class RetroMatch:
    attachment_id: str
    message_id: str | None
    filename: str | None
    match: Match


@dataclass(frozen=True, slots=True)
class BankSummary:
    name: str
    kind: str
    category: str | None
    source: str
    pdq_threshold: int
    enabled: bool
    created_at: datetime
    note: str | None
    entries: dict[str, int]
    """Enabled entries per signal type."""
    disabled: int
    last_change: datetime | None


def default_index_dir(db_url: str) -> Path:
    """Beside a SQLite file; for a server database, `$VEILLEUR_INDEX_DIR` or the cwd."""
    env = os.environ.get("VEILLEUR_INDEX_DIR")
    if env:
        return Path(env)
    if db_url.startswith("sqlite:///"):
        return Path(db_url.removeprefix("sqlite:///") + ".pdq-index")
    return Path("veilleur.pdq-index")


class BankStore:
    def __init__(self, db: Engine, index_dir: Path | None, *,
                 audit: BankAudit | None = None) -> None:
        """`audit`: where changes are audited. The service passes its live chain's writer;
        without one (a command), entries continue the chain in the database directly."""
        self.db = db
        self.index_dir = index_dir
        self._index: PdqIndex | None = None
        self._audit = audit or self._audit_in_database

    def _audit_in_database(self, kind: str, actor: str, subject: str,
                           detail: dict[str, Any]) -> None:
        from veilleur.store.auditlog import append_audit

        append_audit(self.db, datetime.now(UTC), kind, actor, subject, detail)

    # -- banks -----------------------------------------------------------------------------

    def _bank(self, name: str) -> BankRow:
        with Session(self.db) as conn:
            row = conn.execute(select(BankRow).where(BankRow.name == name)).first()
        if row is None:
            known = ", ".join(b.name for b in self.list_banks()) or "none yet"
            raise BankError(f"no bank named {name!r} (banks: {known})")
        bank: BankRow = row[0]
        return bank

    def ensure_bank(self, name: str, *, actor: str, kind: str = "deny",
                    category: Category | None = None, source: str = "csv",
                    pdq_threshold: int | None = None, note: str | None = None
                    ) -> tuple[int, bool]:
        """(bank id, created). Settings given for an existing bank must agree with it."""
        if kind not in ("deny", "allow"):
            raise BankError(f"bank kind must be 'deny' or 'allow', not {kind!r}")
        if pdq_threshold is not None and not 0 <= pdq_threshold <= MAX_THRESHOLD:
            raise BankError("PDQ threshold must be between 0 and 35 bits")
        now = datetime.now(UTC)
        threshold = 31 if pdq_threshold is None else pdq_threshold
        with self.db.begin() as conn:
            existing = conn.execute(select(BankRow.id, BankRow.kind, BankRow.pdq_threshold)
                                    .where(BankRow.name == name)).first()
            if existing is not None:
                if existing.kind != kind:
                    raise BankError(f"bank {name!r} is a{'n' if existing.kind == 'allow' else ''}"
                                    f" {existing.kind}-bank; import into another bank to use "
                                    f"it as {kind}")
                bank_id, created = int(existing.id), False
                changed = pdq_threshold is not None and pdq_threshold != existing.pdq_threshold
                if changed:
                    conn.execute(update(BankRow).where(BankRow.id == existing.id)
                                 .values(pdq_threshold=pdq_threshold))
                    _log(conn, existing.id, None, "threshold", {"pdq_threshold": pdq_threshold,
                                                                "by": actor})
            else:
                inserted = conn.execute(_BANKS.insert().values(
                    name=name, kind=kind, category=category.value if category else None,
                    source=source, pdq_threshold=threshold, enabled=True, created_at=now,
                    note=note)).inserted_primary_key
                assert inserted is not None
                bank_id, created, changed = int(inserted[0]), True, False
                if bank_id > 0xFFFF:
                    raise BankError("too many banks (the PDQ index numbers banks in 16 bits)")
                _log(conn, bank_id, None, "created", {"kind": kind, "source": source,
                                                      "by": actor})
        # Audited once the change is committed: the audit is written elsewhere (the live
        # chain, or another transaction), never under this one's write lock.
        if created:
            self._audit("bank.created", actor, f"bank:{name}", {
                "kind": kind, "category": category.value if category else None,
                "source": source, "pdq_threshold": threshold})
        elif changed:
            assert existing is not None
            self._audit("bank.threshold", actor, f"bank:{name}", {
                "from": existing.pdq_threshold, "to": pdq_threshold})
        return bank_id, created

    def list_banks(self) -> list[BankSummary]:
        with Session(self.db) as conn:
            banks = conn.execute(select(BankRow).order_by(BankRow.name)).scalars().all()
            counts = conn.execute(
                select(BankEntryRow.bank_id, BankEntryRow.signal_type, BankEntryRow.enabled,
                       func.count()).group_by(BankEntryRow.bank_id, BankEntryRow.signal_type,
                                              BankEntryRow.enabled)).all()
            changes = dict(conn.execute(select(BankEventRow.bank_id, func.max(BankEventRow.at))
                                        .group_by(BankEventRow.bank_id)).all())
        out = []
        for b in banks:
            entries: dict[str, int] = {}
            disabled = 0
            for bank_id, kind, enabled, n in counts:
                if bank_id != b.id:
                    continue
                if enabled:
                    entries[kind] = entries.get(kind, 0) + n
                else:
                    disabled += n
            out.append(BankSummary(b.name, b.kind, b.category, b.source, b.pdq_threshold,
                                   b.enabled, b.created_at, b.note, entries, disabled,
                                   changes.get(b.id)))
        return out

    def import_entries(self, name: str, parsed: ParsedBank, *, actor: str,
                       kind: str = "deny", category: Category | None = None,
                       source: str | None = None, pdq_threshold: int | None = None,
                       note: str | None = None, retroactive: bool = True,
                       policy: Policy | None = None, override: bool = False) -> ImportReport:
        """Store a parsed bank file; disable what the source removed; re-check past media.
        Nothing to import is an error before any bank is made: an empty bank would look
        loaded and match nothing.

        `override`: the caller may add allow entries that silence deny lists; without it,
        such entries are refused (`OverrideRefusedError`) and nothing is stored."""
        if not parsed.entries and not parsed.removals and not parsed.feed_page:
            raise BankError(f"nothing to import into bank {name!r}: no hash entry was read")
        report = ImportReport(name, False, read=len(parsed.entries),
                              skipped_types=parsed.skipped_types, more_pages=parsed.more_pages)
        if not parsed.entries:
            with Session(self.db) as conn:
                exists = conn.execute(select(BankRow.id).where(BankRow.name == name)
                                      ).first() is not None
            if not exists or not parsed.removals:
                # An empty page, or withdrawals of what no bank holds: valid, and nothing is
                # made for it (an empty bank would look loaded and match nothing).
                report.not_held = len(parsed.removals)
                report.stored = False
                return report
        overrides: dict[int, Override] = {}
        if kind == "allow":
            with Session(self.db) as conn:
                other = conn.execute(select(BankRow.kind).where(BankRow.name == name)
                                     ).scalar()
            if other is None or other == "allow":  # else ensure_bank names the conflict
                overrides = self._overrides(parsed.entries, actor, refuse=not override)
        bank_id, created = self.ensure_bank(name, actor=actor, kind=kind, category=category,
                                            source=source or parsed.format,
                                            pdq_threshold=pdq_threshold, note=note)
        report.created = created
        now = datetime.now(UTC)
        # Each entry is the source's current word on its hash: a later one in the file wins.
        latest = {(e.signal_type, e.signal): e for e in parsed.entries}
        table = BankEntryRow.__table__
        new_ids: list[int] = []
        with self.db.begin() as conn:
            held = {} if created else _held_rows(conn, bank_id, list(latest))
            fresh = [e for key, e in latest.items() if key not in held]
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            for batch in _chunks(fresh, _BATCH):
                stmt = dialect.insert(table).on_conflict_do_nothing(
                    index_elements=["bank_id", "signal_type", "signal"])
                result = conn.execute(stmt.returning(table.c.id),
                                      [_entry_row(bank_id, e, now) for e in batch])
                new_ids += [int(r[0]) for r in result]
            report.added = len(new_ids)
            for key, row in held.items():
                change = _entry_change(row, latest[key])
                if change:
                    conn.execute(update(BankEntryRow).where(BankEntryRow.id == row.id)
                                 .values(**change))
                    _log(conn, bank_id, row.id, "update", {
                        "from": {k: _plain(getattr(row, k)) for k in change},
                        "to": {k: _plain(v) for k, v in change.items()},
                        "format": parsed.format, "by": actor})
                    report.updated += 1
                if not row.enabled and _withdrawn_at_source(conn, row.id):
                    conn.execute(update(BankEntryRow).where(BankEntryRow.id == row.id)
                                 .values(enabled=True))
                    _log(conn, bank_id, row.id, "enable", {
                        "reason": "listed again at source", "format": parsed.format,
                        "by": actor})
                    report.reenabled += 1
                    new_ids.append(row.id)
            report.already_present = report.read - report.added - report.updated
            report.removed, report.not_held = _apply_removals(conn, bank_id, parsed.removals)
            for i, o in overrides.items():
                e = parsed.entries[i]
                # also an entry already present as an ordinary one: it becomes the override
                conn.execute(update(BankEntryRow).where(
                    BankEntryRow.bank_id == bank_id, BankEntryRow.signal_type == e.signal_type,
                    BankEntryRow.signal == e.signal).values(
                        overrides=o.to_record() | {"at": now.isoformat()}))
            _log(conn, bank_id, None, "import", {
                "read": report.read, "added": report.added, "updated": report.updated,
                "removed": report.removed, "not_held": report.not_held,
                "reenabled": report.reenabled, "format": parsed.format,
                "skipped_types": dict(parsed.skipped_types),
                "more_pages": parsed.more_pages is not None,
                "overrides": len(overrides), "by": actor})
        self._audit("bank.import", actor, f"bank:{name}", {
            "kind": kind, "format": parsed.format, "source": source or parsed.format,
            "read": report.read, "added": report.added, "updated": report.updated,
            "already_present": report.already_present, "removed": report.removed,
            "not_held": report.not_held, "reenabled": report.reenabled})
        if overrides:
            report.overrides = _override_summary(overrides.values())
            self._audit("bank.override", actor, f"bank:{name}", report.overrides)
        self._sync_index()
        if retroactive and new_ids and kind == "deny":
            report.retro_media_checked, report.retro_matches = self.retro_match(new_ids)
            if report.retro_matches and policy is not None:
                self.record_retro_findings(report.retro_matches, policy)
        return report

    def enrol(self, name: str, pictures: Sequence[Path], *, actor: str, category: Category,
              note: str | None = None, policy: Policy | None = None,
              limits: Limits | None = None) -> tuple[ImportReport, list[tuple[Path, str]]]:
        """Add pictures we hold to a deny bank: their digests, reference and anti-aliased PDQ,
        and local features (crop-tolerant matching). The pictures themselves are not kept.

        Returns the import report and the pictures that could not be read, with the reason.
        """
        limits = limits or Limits()
        parsed = ParsedBank("pictures")
        keypoints: dict[str, LocalFeatures] = {}
        failed: list[tuple[Path, str]] = []
        for path in pictures:
            try:
                data = path.read_bytes()
                frames = image_frames(data, limits)
            except (OSError, MediaError) as exc:
                failed.append((path, str(exc)))
                continue
            rgb = frames[0].rgb
            md5, sha = digests(data)
            label = note or path.name
            parsed.entries += [BankEntry("md5", md5, category, note=label),
                               BankEntry("sha256", sha, category, note=label)]
            hashes = enrolment_hashes(rgb)
            for h, form in hashes:
                parsed.entries.append(BankEntry("pdq", h.hex, category, note=label,
                                                metadata={"form": form,
                                                          "quality": str(h.quality)}))
            feats = extract_features(rgb)
            if feats is not None:
                keypoints[hashes[0][0].hex] = feats  # kept with the reference hash's entry
        if not parsed.entries:
            raise BankError(f"no picture could be read, bank {name!r} is left as it was: "
                            + "; ".join(f"{path}: {reason}" for path, reason in failed[:10]))
        report = self.import_entries(name, parsed, actor=actor, category=category,
                                     source="pictures", policy=policy)
        if keypoints:
            with self.db.begin() as conn:
                bank_id = conn.execute(select(BankRow.id).where(BankRow.name == name)
                                       ).scalar_one()
                rows = [r for chunk in _chunks(list(keypoints), 5000)
                        for r in conn.execute(select(BankEntryRow.id, BankEntryRow.signal).where(
                            BankEntryRow.bank_id == bank_id, BankEntryRow.signal_type == "pdq",
                            BankEntryRow.signal.in_(chunk)))]
                dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
                stmt = dialect.insert(BankFeaturesRow.__table__).on_conflict_do_nothing(
                    index_elements=["entry_id"])
                conn.execute(stmt, [{"entry_id": r.id, "features": keypoints[r.signal].to_bytes()}
                                    for r in rows])
        return report, failed

    def set_enabled(self, name: str, enabled: bool, signals: Sequence[str] = (), *,
                    actor: str) -> int:
        """Disable (or re-enable) a whole bank, or some of its entries by hash value."""
        bank = self._bank(name)
        action = "enable" if enabled else "disable"
        with self.db.begin() as conn:
            if not signals:
                conn.execute(update(BankRow).where(BankRow.id == bank.id)
                             .values(enabled=enabled))
                _log(conn, bank.id, None, f"bank_{action}", {"by": actor})
                changed = 1
            else:
                changed = 0
                wanted = [s.strip().lower() for s in signals]
                rows = conn.execute(select(BankEntryRow.id, BankEntryRow.enabled).where(
                    BankEntryRow.bank_id == bank.id, BankEntryRow.signal.in_(wanted))).all()
                found = {r.id for r in rows}
                if len(found) < len(set(wanted)):
                    missing = len(set(wanted)) - len(found)
                    raise BankError(f"{missing} of the given hashes are not in bank {name!r}")
                for r in rows:
                    if r.enabled != enabled:
                        conn.execute(update(BankEntryRow).where(BankEntryRow.id == r.id)
                                     .values(enabled=enabled))
                        _log(conn, bank.id, r.id, action, {"by": actor})
                        changed += 1
        self._audit(f"bank.{action}d", actor, f"bank:{name}",
                    {"whole_bank": True} if not signals else
                    {"entries_given": len(signals), "entries_changed": changed})
        self._sync_index()
        return changed

    # -- overrides -------------------------------------------------------------------------

    def _overrides(self, entries: Sequence[BankEntry], actor: str, *, refuse: bool
                   ) -> dict[int, Override]:
        """What each allow entry would silence, by its position: deny entries with its hash
        (enabled or not: they may come back), enabled PDQ deny entries within their bank's
        radius, and its category when a deny bank holds that category. Refused as a whole,
        naming an example, when the caller may not override."""
        with Session(self.db) as conn:
            deny = {b.id: b for b in conn.execute(select(BankRow).where(
                BankRow.kind == "deny")).scalars()}
            if not deny:
                return {}
            held = {Category(b.category) for b in deny.values() if b.category}
            held |= {Category(c) for c in conn.execute(
                select(BankEntryRow.category).where(BankEntryRow.bank_id.in_(list(deny)))
                .distinct()).scalars()}
            listed: dict[tuple[str, str], list[tuple[int, int]]] = {}
            wanted = sorted({(e.signal_type, e.signal) for e in entries})
            for kind in sorted({k for k, _ in wanted}):  # by type: the lookup index serves
                signals = [sig for k, sig in wanted if k == kind]
                for chunk in _chunks(signals, 5000):
                    for eid, bank_id, signal in conn.execute(
                            select(BankEntryRow.id, BankEntryRow.bank_id, BankEntryRow.signal)
                            .where(BankEntryRow.signal_type == kind,
                                   BankEntryRow.signal.in_(chunk),
                                   BankEntryRow.bank_id.in_(list(deny)))):
                        listed.setdefault((kind, signal), []).append((eid, bank_id))
        found: dict[int, list[tuple[int, int]]] = {
            i: listed[(e.signal_type, e.signal)] for i, e in enumerate(entries)
            if (e.signal_type, e.signal) in listed}
        pdq = [i for i, e in enumerate(entries) if e.signal_type == "pdq"]
        if pdq:
            self._sync_index()  # another process may have added deny entries since
            index = self.index()
            radius = max(b.pdq_threshold for b in deny.values())
            hits = index.search_arrays([bytes.fromhex(entries[i].signal) for i in pdq], radius)
            for q, slot, d in hits.tolist():
                bank = deny.get(index.group(slot))
                if bank is not None and d <= bank.pdq_threshold:
                    found.setdefault(pdq[q], []).append((index.ref(slot), bank.id))
        out: dict[int, Override] = {}
        for i, e in enumerate(entries):
            hits_i = found.get(i, [])
            categories = {e.category} & held
            if hits_i or categories:
                out[i] = Override(frozenset(eid for eid, _ in hits_i), frozenset(categories),
                                  actor)
        if out and refuse:
            i, first = next(iter(out.items()))
            e = entries[i]
            if first.entries:
                bank_id = found[i][0][1]
                why = (f"{e.signal_type} {e.signal[:12]}… is listed in deny bank "
                       f"{deny[bank_id].name!r}")
            else:
                why = f"category {e.category.value} is held by a deny bank"
            raise OverrideRefusedError(
                f"{len(out)} of these allow entries would silence deny lists ({why}); an "
                "allow entry that overrides a deny entry or a deny bank's category needs an "
                "explicit override (API scope 'banks:override', CLI --override), recorded "
                "and audited as one; nothing was stored")
        return out

    # -- the index -------------------------------------------------------------------------

    def index(self) -> PdqIndex:
        if self._index is None:
            self._sync_index()
        assert self._index is not None
        return self._index

    def _sync_index(self) -> None:
        """Bring the PDQ index up to the database: new entries, then logged toggles."""
        index = self._index
        if index is None and self.index_dir is not None and self.index_dir.exists():
            try:
                index = PdqIndex.load(self.index_dir)
            except IndexLoadError:
                index = None  # damaged or old: rebuilt below from the database
        if index is None:
            index = PdqIndex()
            index.meta = {"entries_through": 0, "events_through": 0}
        changed = False
        through = int(index.meta.get("entries_through", 0))
        with Session(self.db) as conn:
            last_event = conn.execute(select(func.max(BankEventRow.id))).scalar() or 0
            q = (select(BankEntryRow.id, BankEntryRow.bank_id, BankEntryRow.signal,
                        BankEntryRow.enabled)
                 .where(BankEntryRow.signal_type == "pdq", BankEntryRow.id > through)
                 .order_by(BankEntryRow.id))
            for rows in _chunks(conn.execute(q), 100_000):
                for bank_id, group in _group_runs(rows):
                    slots = index.add([bytes.fromhex(r.signal) for r in group], group=bank_id,
                                      refs=[r.id for r in group], sort=False)
                    off = [s for s, r in zip(slots, group, strict=True) if not r.enabled]
                    index.set_enabled(off, False)
                through = rows[-1].id
                changed = True
            events_through = int(index.meta.get("events_through", 0))
            toggles = conn.execute(
                select(BankEventRow.entry_id, BankEventRow.action)
                .where(BankEventRow.id > events_through, BankEventRow.entry_id.is_not(None),
                       BankEventRow.action.in_(("enable", "disable")))
                .order_by(BankEventRow.id)).all()
            if toggles:
                refs = index.refs()
                for entry_id, action in toggles:
                    assert entry_id is not None  # selected for
                    slot = int(np.searchsorted(refs, entry_id))
                    if slot < len(refs) and refs[slot] == entry_id:
                        index.set_enabled([slot], action == "enable")
                changed = True
        if last_event != int(index.meta.get("events_through", 0)):
            changed = True
        index.compact()
        index.meta = {"entries_through": through, "events_through": last_event}
        if changed and self.index_dir is not None:
            index.save(self.index_dir)
        self._index = index

    # -- matching --------------------------------------------------------------------------

    def matcher(self, *, keypoints: bool = True) -> BankMatcher | None:
        """A matcher over every stored bank (None when there is nothing to match).

        `keypoints=False` leaves out enrolled pictures' keypoints (loading them costs; stored
        media have none to compare, so retroactive matching does without).
        """
        with Session(self.db) as conn:
            infos = _bank_infos(conn)
            has_exact = conn.execute(select(BankEntryRow.id).where(
                BankEntryRow.signal_type != "pdq", BankEntryRow.enabled).limit(1)).first()
            features = FeatureIndex()
            for entry_id, blob in (conn.execute(
                    select(BankFeaturesRow.entry_id, BankFeaturesRow.features)
                    .join(BankEntryRow, BankEntryRow.id == BankFeaturesRow.entry_id)
                    .where(BankEntryRow.enabled)) if keypoints else ()):
                features.add(entry_id, LocalFeatures.from_bytes(blob))
            features.compact()
        index = self.index()
        if has_exact is None and not index.enabled_count() and not len(features):
            return None
        # Exact digests are looked up in the database (indexed) as files come: lists of
        # millions of MD5s need not sit in memory, and attachments are rare next to messages.
        return BankMatcher(infos, exact=self.exact_lookup if has_exact else None,
                           pdq=index if len(index) else None, features=features,
                           resolve=self.resolve)

    def exact_lookup(self, kind: str, digest: str) -> list[int]:
        with self.db.connect() as conn:
            return [r[0] for r in conn.execute(select(BankEntryRow.id).where(
                BankEntryRow.signal_type == kind, BankEntryRow.signal == digest,
                BankEntryRow.enabled))]

    def resolve(self, ids: Sequence[int]) -> dict[int, EntryInfo]:
        with Session(self.db) as conn:
            infos = _bank_infos(conn)
            # in chunks: SQLite limits the number of bound parameters in one statement
            rows = [r for chunk in _chunks(list(ids), 5000)
                    for r in conn.execute(select(BankEntryRow).where(
                        BankEntryRow.id.in_(chunk), BankEntryRow.enabled)).scalars()]
            return {r.id: EntryInfo(r.id, infos[r.bank_id], r.signal_type, r.signal,
                                    Category(r.category), r.note, r.source_id,
                                    Override.from_record(r.overrides)) for r in rows}

    def retro_match(self, entry_ids: Sequence[int]) -> tuple[int, list[RetroMatch]]:
        """Re-check every stored media hash against new entries; (media checked, matches).

        Stored lookups are searched for the new entries only, a batch at a time; each media
        found is then confirmed by the full matcher, so allow-banks and thresholds apply as in
        a scan.
        """
        with self.db.connect() as conn:
            if conn.execute(select(MediaHashRow.attachment_id).limit(1)).first() is None:
                return 0, []  # nothing stored yet: nothing to look back at
            rows = [(kind, signal) for chunk in _chunks(list(entry_ids), 5000)
                    for kind, signal in conn.execute(
                        select(BankEntryRow.signal_type, BankEntryRow.signal).where(
                            BankEntryRow.id.in_(chunk), BankEntryRow.enabled))]
            known = {(r[0], r[1]) for r in conn.execute(
                select(MediaMatchRow.attachment_id, MediaMatchRow.entry_id))}
        new_exact = {(kind, signal) for kind, signal in rows if kind != "pdq"}
        pdq_signals = [signal for kind, signal in rows if kind == "pdq"]
        matcher = self.matcher(keypoints=False)
        # the widest radius a deny bank uses: what a stored picture must be within
        radius = max((b.pdq_threshold for b in (matcher.banks.values() if matcher else ())
                      if not b.allow), default=31)
        checked = 0
        found: list[RetroMatch] = []
        new_ids = set(entry_ids)
        new_codes = [bytes.fromhex(signal) for signal in pdq_signals]
        del rows, pdq_signals
        fresh: PdqIndex | None = None
        for batch in _chunks(self.stored_media(), 20_000):
            checked += len(batch)
            hit = [bool((m.hashes.md5 and ("md5", m.hashes.md5) in new_exact)
                        or (m.hashes.sha256 and ("sha256", m.hashes.sha256) in new_exact))
                   for m in batch]
            owners = [(i, m.hashes.lookups) for i, m in enumerate(batch)
                      if m.hashes.matchable and m.hashes.lookups]
            queries = [h for _, hs in owners for h in hs]
            refs = [i for i, hs in owners for _ in hs]
            if new_codes and queries:
                # Index the larger side, search with the smaller: a few new entries against
                # many stored lookups, or a whole list's first import against a batch.
                if len(new_codes) < len(queries):
                    lookups = PdqIndex(capacity=len(queries), radius_hint=radius)
                    lookups.add(queries, refs=refs, sort=False)
                    lookups.compact()
                    for slot in set(lookups.search_arrays(new_codes, radius)[:, 1].tolist()):
                        hit[refs[slot]] = True
                else:
                    if fresh is None:
                        fresh = PdqIndex(capacity=len(new_codes), radius_hint=radius)
                        fresh.add(new_codes, sort=False)
                        fresh.compact()
                    for qi in set(fresh.search_arrays(queries, radius)[:, 0].tolist()):
                        hit[refs[qi]] = True
            if matcher is None:
                continue
            for media, flagged in zip(batch, hit, strict=True):
                if not flagged:
                    continue
                for m in matcher.match(media.hashes).matches:
                    if m.entry.id in new_ids and (media.attachment_id, m.entry.id) not in known:
                        found.append(RetroMatch(media.attachment_id, media.message_id,
                                                media.filename, m))
        return checked, found

    def match_counts(self) -> dict[str, int]:
        with Session(self.db) as conn:
            return {via: n for via, n in conn.execute(
                select(MediaMatchRow.via, func.count()).group_by(MediaMatchRow.via))}

    def stored_media(self) -> Iterator[StoredMedia]:
        t = MediaHashRow
        columns = (t.attachment_id, t.message_id, t.filename, t.kind, t.md5, t.sha256, t.pdq,
                   t.pdq_quality, t.lookups, t.detail)
        with self.db.connect() as conn:
            result = conn.execution_options(yield_per=2000).execute(
                select(*columns).where(t.error.is_(None)))
            for row in result:
                yield StoredMedia.from_row(row)

    def record_matches(self, rows: Iterable[dict[str, Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        with self.db.begin() as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            stmt = dialect.insert(MediaMatchRow.__table__).on_conflict_do_nothing(
                index_elements=["attachment_id", "entry_id"])
            conn.execute(stmt, rows)

    def record_retro_findings(self, matches: Sequence[RetroMatch], policy: Policy) -> list[
            Finding]:
        """Findings on old attachments that a bank has just learnt; stored like a scan's."""
        from veilleur.store.writer import save_findings

        now = datetime.now(UTC)
        with Session(self.db) as conn:
            media = {r.attachment_id: r for r in conn.execute(
                select(MediaHashRow).where(MediaHashRow.attachment_id.in_(
                    [m.attachment_id for m in matches]))).scalars()}
        book = FindingBook(policy)
        signals: list[Signal] = []
        for rm in matches:
            row = media.get(rm.attachment_id)
            att = Attachment(id=rm.attachment_id, filename=rm.filename)
            message = (Message(id=row.message_id or "", channel_id=row.channel_id or "",
                               guild_id=row.guild_id, author_id=row.author_id or "",
                               content="") if row is not None and row.message_id else None)
            signals.extend(match_signals(att, message, [rm.match], HashMatchDetector.id,
                                         HashMatchDetector.version))
        book.add(signals)
        findings = book.findings()
        save_findings(self.db, findings, policy.version)
        self.record_matches({"attachment_id": rm.attachment_id, "entry_id": rm.match.entry.id,
                             "signal_type": rm.match.signal_type,
                             "distance": rm.match.distance, "via": "retroactive",
                             "matched_at": now} for rm in matches)
        return findings


@dataclass(frozen=True, slots=True)
class StoredMedia:
    attachment_id: str
    message_id: str | None
    filename: str | None
    hashes: MediaHashes

    @classmethod
    def from_row(cls, row: Any) -> StoredMedia:
        """From a `media_hashes` row (any object with its columns as attributes)."""
        blob = row.lookups or b""
        lookups = tuple(blob[i: i + 32] for i in range(0, len(blob), 32))
        labels = tuple((row.detail or {}).get("labels", ()))
        pdq = PdqHash.from_hex(row.pdq, row.pdq_quality or 0) if row.pdq else None
        hashes = MediaHashes(file=row.filename or row.attachment_id, md5=row.md5,
                             sha256=row.sha256, kind=row.kind, pdq=pdq, lookups=lookups,
                             lookup_labels=labels)
        return cls(row.attachment_id, row.message_id, row.filename, hashes)


def _bank_infos(conn: Any) -> dict[int, BankInfo]:
    return {b.id: BankInfo(b.id, b.name, b.kind == "allow", b.pdq_threshold, b.enabled)
            for b in conn.execute(select(BankRow)).scalars()}


def _entry_row(bank_id: int, e: BankEntry, now: datetime) -> dict[str, Any]:
    return {"bank_id": bank_id, "signal_type": e.signal_type, "signal": e.signal,
            "category": e.category.value, "added_at": e.added_at or now, "imported_at": now,
            "note": e.note, "enabled": e.enabled, "source_id": e.source_id,
            "meta": dict(e.metadata)}


def _held_rows(conn: Any, bank_id: int, keys: Sequence[tuple[str, str]]
               ) -> dict[tuple[str, str], Any]:
    """The rows this bank already holds for these (signal_type, signal) keys."""
    t = BankEntryRow
    out: dict[tuple[str, str], Any] = {}
    for kind in sorted({k for k, _ in keys}):  # by type: the unique index serves the lookup
        signals = [sig for k, sig in keys if k == kind]
        for chunk in _chunks(signals, 5000):
            for row in conn.execute(select(
                    t.id, t.signal_type, t.signal, t.category, t.note, t.source_id, t.meta,
                    t.added_at, t.enabled).where(t.bank_id == bank_id, t.signal_type == kind,
                                                 t.signal.in_(chunk))):
                out[(row.signal_type, row.signal)] = row
    return out


def _entry_change(row: Any, e: BankEntry) -> dict[str, Any]:
    """What the source changed on an entry already held. What a file leaves out (no note, no
    metadata, no source id, no time) erases nothing; `added_at` only moves earlier (when the
    source first listed it: NCMEC pages do not come in time order)."""
    change: dict[str, Any] = {}
    if e.category.value != row.category:
        change["category"] = e.category.value
    if e.note is not None and e.note != row.note:
        change["note"] = e.note
    if e.source_id is not None and e.source_id != row.source_id:
        change["source_id"] = e.source_id
    if e.metadata and dict(e.metadata) != (row.meta or {}):
        change["meta"] = dict(e.metadata)
    held_at = row.added_at if row.added_at.tzinfo else row.added_at.replace(tzinfo=UTC)
    if e.added_at is not None and e.added_at < held_at:
        change["added_at"] = e.added_at
    return change


def _plain(value: Any) -> Any:
    """A value as the JSON event log keeps it."""
    return value.isoformat() if isinstance(value, datetime) else value


def _withdrawn_at_source(conn: Any, entry_id: int) -> bool:
    """Was the entry's last toggle a withdrawal by its source (not an operator's decision,
    which a re-import must not undo)?"""
    last = conn.execute(select(BankEventRow.action, BankEventRow.detail).where(
        BankEventRow.entry_id == entry_id, BankEventRow.action.in_(("enable", "disable")))
        .order_by(BankEventRow.id.desc()).limit(1)).first()
    return (last is not None and last.action == "disable" and "reason" in last.detail
            and "by" not in last.detail)


def _apply_removals(conn: Any, bank_id: int, removals: Sequence[Removal]) -> tuple[int, int]:
    """Disable what the source withdrew, in order; (entries disabled, withdrawals naming
    nothing held). A withdrawal names one hash, or a record at the source (every entry
    stored with that source id, whatever its hashes)."""
    t = BankEntryRow
    by_hash: dict[tuple[str, str], list[Any]] = {}
    for kind in sorted({r.signal_type for r in removals if r.source_id is None}):
        signals = sorted({r.signal for r in removals if r.source_id is None
                          and r.signal_type == kind})
        for chunk in _chunks(signals, 5000):
            for row in conn.execute(select(t.id, t.signal_type, t.signal, t.enabled).where(
                    t.bank_id == bank_id, t.signal_type == kind, t.signal.in_(chunk))):
                by_hash[(row.signal_type, row.signal)] = [row]
    by_record: dict[str, list[Any]] = {}
    records = sorted({r.source_id for r in removals if r.source_id is not None})
    for chunk in _chunks(records, 5000):
        for row in conn.execute(select(t.id, t.source_id, t.enabled).where(
                t.bank_id == bank_id, t.source_id.in_(chunk)).order_by(t.id)):
            by_record.setdefault(row.source_id, []).append(row)
    disabled: set[int] = set()
    not_held = 0
    for r in removals:
        rows = (by_record.get(r.source_id, []) if r.source_id is not None
                else by_hash.get((r.signal_type, r.signal), []))
        if not rows:
            not_held += 1
            continue
        for row in rows:
            if not row.enabled or row.id in disabled:
                continue
            conn.execute(update(t).where(t.id == row.id).values(enabled=False))
            detail = {"reason": r.reason}
            if r.source_id is not None:
                detail["source_id"] = r.source_id
            _log(conn, bank_id, row.id, "disable", detail)
            disabled.add(row.id)
    return len(disabled), not_held


def _log(conn: Any, bank_id: int, entry_id: int | None, action: str,
         detail: dict[str, Any]) -> None:
    conn.execute(_EVENTS.insert().values(
        at=datetime.now(UTC), bank_id=bank_id, entry_id=entry_id, action=action, detail=detail))


def _override_summary(overrides: Iterable[Override]) -> dict[str, Any]:
    """What an import's overrides silence, for the audit log."""
    items = list(overrides)
    entries = sorted({i for o in items for i in o.entries})
    return {"allow_entries": len(items), "overridden_entries": entries[:1000],
            "overridden_entries_count": len(entries),
            "categories": sorted({c.value for o in items for c in o.categories})}


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most `size` items (rows, ids, entries)."""
    chunk: list[T] = []
    for row in items:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _group_runs(rows: Sequence[Any]) -> Iterator[tuple[int, list[Any]]]:
    """Consecutive rows of the same bank, in order (slots must follow entry ids)."""
    start = 0
    for i in range(1, len(rows) + 1):
        if i == len(rows) or rows[i].bank_id != rows[start].bank_id:
            yield rows[start].bank_id, list(rows[start:i])
            start = i
