"""The composition root: settings in, a ready deployment out.

Every front door (scan, replay, serve, the case commands, and later the bot and the bus's
workers) gets its detection engine, its store, its banks and its casework from `assemble`,
so that "what a scan runs" and "what the service runs" are one answer written once. The
rest of the code takes what it needs as arguments and never builds a store or an engine of
its own.

Four ways to run, because they differ in what they continue from and what they keep:
- `DETECT`: findings only (a scan without cases). With a database the detectors match the
  stored banks and keep their memory there, so conversations and the graph continue from
  one scan to the next; the platform's directory is this run's.
- `LIVE`: findings and casework that continue the stored ones (a scan with cases, the
  service): the directory and content read through to the store, the stored cases are taken
  up, the audit chain continued, and a running service's lease is honoured.
- `SIMULATED`: the replay under simulated time: casework starts empty (in memory, or
  written to a database under a run prefix), and only the given banks are matched.
- `REVIEW`: the stored casework, for the case commands (a look, a decision, a purge).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path

from sqlalchemy import Engine as Database

from veilleur.cases.casework import Casework
from veilleur.cases.config import CasePolicy, load_case_policy
from veilleur.cases.content import ContentIndex
from veilleur.cases.ids import CountedTails
from veilleur.detect.base import DetectorSettings
from veilleur.detect.media.banks import HashBank, load_bank_file
from veilleur.detect.media.matcher import BankMatcher, combine, matcher_from_banks
from veilleur.enforce.evidence import EvidenceKey
from veilleur.engine import DetectorFailure, Engine
from veilleur.ingest.problems import ProblemLog
from veilleur.store.banks import BankStore, default_index_dir
from veilleur.store.casework import database_casework, load_casework
from veilleur.store.content import LayeredContent, LayeredState, StoredContent, StoredState
from veilleur.store.db import StoreError, connect
from veilleur.store.memory import StoredMemory
from veilleur.store.writer import StoreWriter


class Mode(Enum):
    DETECT = "detect"
    LIVE = "live"
    SIMULATED = "simulated"
    REVIEW = "review"


@dataclass(frozen=True)
class Settings:
    """What a front door decides; everything else follows from it."""

    mode: Mode = Mode.DETECT
    db_url: str | None = None
    """None: nothing is stored, everything is this process's."""
    bank_files: tuple[Path, ...] = ()
    """Hash bank files matched besides the stored banks (`--bank`)."""
    index_dir: Path | None = None
    """Where the stored banks' PDQ index lives (default: beside the database)."""
    detectors: DetectorSettings = field(default_factory=DetectorSettings)
    evidence_key: EvidenceKey | None = None
    """Seals preserved evidence. Needed for casework on a database; a simulation held in
    memory makes a key of its own."""
    case_policy: CasePolicy | None = None
    lease: str | None = None
    """The service's token for the database's lease: anyone else who would change casework
    is refused while a service holds it."""
    read_only: bool = False
    """REVIEW only: a look, which writes nothing but its audit entries."""
    batch_size: int = 5000
    """Rows the store's writer buffers before writing (the service checkpoints earlier)."""


@dataclass
class Deployment:
    settings: Settings
    engine: Engine
    casework: Casework | None
    db: Database | None
    writer: StoreWriter | None
    banks: list[HashBank]
    problems: ProblemLog
    owns_db: bool = True
    engine_settings: DetectorSettings = field(default_factory=DetectorSettings)
    """The detectors' settings as assembled (stored banks and memory included)."""

    @property
    def matcher(self) -> BankMatcher | None:
        return self.engine_settings.matcher

    def close(self) -> None:
        """Write what is buffered (the engine's findings, casework's records); the engine
        and casework may still be read afterwards. The database stays open: `dispose`."""
        if self.casework is not None:
            self.casework.close()
        else:
            self.engine.close()

    def dispose(self) -> None:
        if self.db is not None and self.owns_db:
            self.db.dispose()


def assemble(settings: Settings, *, db: Database | None = None,
             problems: ProblemLog | None = None,
             on_failure: DetectorFailure | None = None) -> Deployment:
    """A deployment for `settings`. `db`: a database already open (its URL still in
    `settings.db_url`), which the deployment then does not dispose of. Bank files that
    cannot be read are reported in `problems`, not raised: the run goes on without them."""
    problems = problems if problems is not None else ProblemLog()
    mode = settings.mode
    if mode in (Mode.LIVE, Mode.REVIEW) and settings.db_url is None and db is None:
        raise StoreError("opening cases needs a database (--db)")
    banks = [b for p in settings.bank_files if (b := load_bank_file(p, problems)) is not None]
    owns = db is None
    if db is None and settings.db_url is not None:
        db = connect(settings.db_url)
    try:
        return _assemble(settings, db, banks, problems, on_failure, owns)
    except BaseException:
        if owns and db is not None:
            db.dispose()
        raise


def _assemble(settings: Settings, db: Database | None, banks: list[HashBank],
              problems: ProblemLog, on_failure: DetectorFailure | None,
              owns: bool) -> Deployment:
    mode, url = settings.mode, settings.db_url or ""
    extra = matcher_from_banks(banks)
    detectors = settings.detectors
    if db is not None and mode in (Mode.DETECT, Mode.LIVE):
        detectors = stored_settings(detectors, db, url, index_dir=settings.index_dir,
                                    extra=extra)
    else:
        detectors = replace(detectors, matcher=combine(
            [m for m in (detectors.matcher, extra) if m is not None]))
        if db is not None and detectors.memory is None:
            detectors = replace(detectors, memory=StoredMemory(db))

    def done(engine: Engine, casework: Casework | None,
             writer: StoreWriter | None) -> Deployment:
        return Deployment(settings, engine, casework, db, writer, banks, problems,
                          owns_db=owns, engine_settings=detectors)

    if mode is Mode.REVIEW:
        assert db is not None
        engine = Engine.build(detectors, store=StoreWriter(db), state=StoredState(db))
        casework = load_casework(db, _key(settings), policy=settings.case_policy,
                                 engine=engine, content=StoredContent(db, engine.directory),
                                 read_only=settings.read_only, lease=settings.lease)
        return done(engine, casework, None)

    writer = StoreWriter(db, batch_size=settings.batch_size) if db is not None else None
    if mode is Mode.LIVE:
        assert db is not None
        engine = Engine.build(detectors, store=writer, state=LayeredState(db),
                              on_detector_failure=on_failure)
        policy = settings.case_policy or load_case_policy(detectors.policy_dir)
        content = LayeredContent(fresh_content(engine, policy),
                                 StoredContent(db, engine.directory))
        casework = load_casework(db, _key(settings), policy=policy, engine=engine,
                                 content=content, lease=settings.lease)
        return done(engine, casework, writer)

    # Memory given without a database (a stream worker's state store) keeps everything:
    # the directory, the book and the roll-up with the detectors' own.
    memory = detectors.memory if db is None else None
    engine = Engine.build(detectors, store=writer, on_detector_failure=on_failure,
                          state=memory, memory=memory)
    if mode is Mode.DETECT:
        return done(engine, None, writer)
    policy = settings.case_policy or load_case_policy(detectors.policy_dir)
    if db is not None:
        casework = database_casework(db, _key(settings), engine, policy)
    else:  # a simulation in memory: ids counted, so that two runs compare
        casework = Casework(engine, policy, key=settings.evidence_key or EvidenceKey.generate(),
                            keep_audit=False, id_tail=CountedTails())
    return done(engine, casework, writer)


def _key(settings: Settings) -> EvidenceKey:
    if settings.evidence_key is None:
        raise StoreError("casework on a database needs its evidence key")
    return settings.evidence_key


def stored_settings(settings: DetectorSettings, db: Database, db_url: str, *,
                    index_dir: Path | None = None,
                    extra: BankMatcher | None = None) -> DetectorSettings:
    """Detector settings that match against the stored banks (and `extra`) and keep the
    detectors' memory in the store."""
    folder = index_dir or (default_index_dir(db_url) if db_url not in ("", "sqlite://")
                           else None)
    stored = BankStore(db, folder).matcher()
    matcher = combine([m for m in (settings.matcher, stored, extra) if m is not None])
    settings = replace(settings, matcher=matcher)
    if settings.memory is None:
        settings = replace(settings, memory=StoredMemory(db))
    return settings


def fresh_content(engine: Engine, policy: CasePolicy) -> ContentIndex:
    """What casework reads first: the content this process saw (the store lags behind)."""
    return ContentIndex(engine.directory, recent_per_channel=policy.guild_messages,
                        recent_per_user=policy.user_messages)


def stored_casework(db: Database, key: EvidenceKey, *, read_only: bool = False) -> Casework:
    """The stored casework on an open database, as the case commands take it up."""
    casework = assemble(Settings(mode=Mode.REVIEW, evidence_key=key, read_only=read_only),
                        db=db).casework
    assert casework is not None
    return casework
