"""`veilleur scan`: read inputs, run the engine, collect findings and problems."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine as Database
from sqlalchemy.orm import Session

from veilleur import __version__
from veilleur.cases.models import Case
from veilleur.decide.policy import Finding
from veilleur.deployment import Deployment, Mode, Settings, assemble
from veilleur.detect.base import Detector, DetectorSettings
from veilleur.detect.media.banks import HashBank
from veilleur.enforce.evidence import EvidenceKey
from veilleur.events import Event
from veilleur.ingest.discover import InputFile, Opened, discover_inputs, read_input
from veilleur.ingest.media import MediaReader
from veilleur.ingest.problems import ProblemLog
from veilleur.state import Directory
from veilleur.store.models import ScanRow


@dataclass
class ScanResult:
    findings: list[Finding]
    problems: ProblemLog
    inputs: list[InputFile]
    directory: Directory
    messages: int = 0
    events: int = 0
    attachments_local: int = 0
    attachments_remote: int = 0
    attachments_decoded: int = 0
    """Local attachments read as pictures or videos (PDQ-hashed)."""
    banks: list[HashBank] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)
    """With `cases=True`: the cases this scan opened or added to, highest priority first."""
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    opened: Opened = field(default_factory=Opened)
    """What the paths held: folders opened, inputs found by kind, other files skipped."""

    @property
    def inputs_failed(self) -> int:
        failed = self.problems.sources()
        return sum(1 for i in self.inputs if str(i.path) in failed)

    @property
    def complete(self) -> bool:
        return not self.problems

    @property
    def nothing_read(self) -> bool:
        """No event came out of any input (even an empty channel's export yields its guild
        and channel): the scan did not run on anything, whatever the paths were."""
        return self.events == 0


class ScanHooks:
    """Progress callbacks; the CLI draws a bar with them, tests and services ignore them."""

    def start(self, total_bytes: int, inputs: int) -> None:  # pragma: no cover - interface
        pass

    def advance(self, n_bytes: int) -> None:  # pragma: no cover - interface
        pass

    def file_done(self, item: InputFile) -> None:  # pragma: no cover - interface
        pass


def run_scan(
    paths: Sequence[Path],
    *,
    db_url: str | None,
    bank_paths: Sequence[Path] = (),
    settings: DetectorSettings | None = None,
    hooks: ScanHooks | None = None,
    batch_size: int = 5000,
    index_dir: Path | None = None,
    cases: EvidenceKey | None = None,
    skip: Sequence[Path] = (),
) -> ScanResult:
    """Scan inputs against the stored banks (if a database is given) and `bank_paths`.

    `cases` (an evidence key; needs a database): findings also go through casework, adding
    to the stored cases: grouped, prioritised, with clocks from now, evidence preserved,
    ready for `veilleur review`."""
    hooks = hooks or ScanHooks()
    problems = ProblemLog()

    def failure(detector: Detector, event: Event, exc: Exception) -> None:
        problems.report(event.source or "engine",
                        f"detector {detector.id} failed on a {event.type} event: "
                        f"{type(exc).__name__}: {exc}")

    deployment = assemble(Settings(
        mode=Mode.LIVE if cases is not None else Mode.DETECT, db_url=db_url,
        bank_files=tuple(bank_paths), index_dir=index_dir,
        detectors=settings or DetectorSettings(), evidence_key=cases,
        batch_size=batch_size), problems=problems, on_failure=failure)
    try:
        return _scan(deployment, paths, problems, hooks, skip)
    except BaseException:
        # What was read is written (a scan read again adds nothing twice), and the database
        # is let go, before the error goes on.
        with suppress(Exception):
            deployment.close()
        deployment.dispose()
        raise


def _scan(deployment: Deployment, paths: Sequence[Path], problems: ProblemLog,
          hooks: ScanHooks, skip: Sequence[Path]) -> ScanResult:
    engine, casework, matcher = deployment.engine, deployment.casework, deployment.matcher
    opened = Opened()
    inputs = discover_inputs(paths, problems, opened)
    if skip:  # resolved paths not to read (a labels file beside the exports it labels)
        inputs = [i for i in inputs if i.path.resolve() not in skip]
    result = ScanResult(findings=[], problems=problems, inputs=inputs,
                        directory=engine.directory, banks=deployment.banks, opened=opened)
    media = MediaReader(features=matcher is not None and matcher.wants_features)
    hooks.start(sum(i.size for i in inputs), len(inputs))
    for item in inputs:
        for event in read_input(item, problems, media, hooks.advance):
            if casework is not None:
                casework.handle(event, now=datetime.now(UTC), live=False)
            else:
                engine.process(event)
        hooks.file_done(item)
    deployment.close()
    if casework is not None:
        touched = {i.case_id for i in casework.intakes.values()
                   if i.received_at >= result.started_at and i.case_id}
        result.cases = sorted((c for c in casework.cases.values() if c.id in touched
                               and c.merged_into is None),
                              key=lambda c: (-c.priority, c.opened_at))
    result.findings = engine.findings()
    result.messages = engine.stats.messages
    result.events = engine.stats.events
    result.attachments_local = media.local_files
    result.attachments_remote = media.remote_refs
    result.attachments_decoded = media.decoded
    result.finished_at = datetime.now(UTC)
    if deployment.db is not None:
        _record_scan(deployment.db, result)
    deployment.dispose()
    return result


def _record_scan(db: Database, result: ScanResult) -> None:
    with Session(db) as session, session.begin():
        session.add(ScanRow(
            started_at=result.started_at,
            finished_at=result.finished_at,
            veilleur_version=__version__,
            inputs={"files": [str(i.path) for i in result.inputs]},
            summary={"messages": result.messages, "events": result.events,
                     "findings": len(result.findings), "problems": len(result.problems)},
        ))
