"""The composition root: each way to run gets what it continues from and nothing more."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine as Database
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.service.conftest import message
from veilleur.deployment import Mode, Settings, assemble, stored_casework
from veilleur.enforce.evidence import EvidenceKey
from veilleur.ingest.eventlog import parse_event
from veilleur.ingest.media import MediaReader
from veilleur.ingest.problems import ProblemLog
from veilleur.store.db import StoreError, connect
from veilleur.store.models import AuditRow, CaseRow

KEY = EvidenceKey.generate()
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
GROOMING = [
    message("m1", "t'as quel âge ?", author="adult", channel="dm", guild=None),
    message("m2", "envoie moi une photo de toi, c'est notre secret, ne dis rien à tes "
            "parents", author="adult", channel="dm", guild=None, ts="2026-11-20T11:01:00Z"),
]


def events(raw: list[dict]) -> list:
    return [parse_event(r, Path("."), MediaReader(features=False)) for r in raw]


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'v.db'}"


@pytest.fixture
def db(url: str) -> Iterator[Database]:
    engine = connect(url)
    yield engine
    engine.dispose()


def cases_in(db: Database) -> int:
    with Session(db) as s:
        return s.scalar(select(func.count()).select_from(CaseRow)) or 0


def test_detecting_in_memory_builds_an_engine_and_nothing_else() -> None:
    d = assemble(Settings(detectors=_fast()))
    assert d.casework is None and d.writer is None and d.db is None
    for e in events(GROOMING):
        d.engine.process(e)
    d.close()
    assert {f.category.value for f in d.engine.findings()} == {"grooming"}


def test_casework_on_a_database_needs_one_and_its_key(url: str) -> None:
    with pytest.raises(StoreError, match="opening cases needs a database"):
        assemble(Settings(mode=Mode.LIVE))
    with pytest.raises(StoreError, match="opening cases needs a database"):
        assemble(Settings(mode=Mode.REVIEW))
    with pytest.raises(StoreError, match="needs its evidence key"):
        assemble(Settings(mode=Mode.SIMULATED, db_url=url, detectors=_fast()))


def test_a_bank_file_that_cannot_be_read_is_a_problem_not_a_failure(tmp_path: Path) -> None:
    problems = ProblemLog()
    bad = tmp_path / "bank.csv"
    bad.write_text("not,a,bank\n")
    d = assemble(Settings(bank_files=(bad, tmp_path / "missing.csv"), detectors=_fast()),
                 problems=problems)
    assert d.banks == [] and d.matcher is None
    assert {p.source for p in problems} >= {str(bad), str(tmp_path / "missing.csv")}


def test_a_simulation_in_memory_counts_its_ids_so_two_runs_compare() -> None:
    ids = []
    for _ in range(2):
        d = assemble(Settings(mode=Mode.SIMULATED, detectors=_fast()))
        assert d.casework is not None
        for e in events(GROOMING):
            d.casework.handle(e, now=NOW)
        d.close()
        ids.append(sorted(d.casework.cases))
    assert ids[0] == ids[1] and ids[0]


def test_live_casework_continues_the_stored_cases_and_review_reads_them(
        url: str, db: Database) -> None:
    first = assemble(Settings(mode=Mode.LIVE, db_url=url, evidence_key=KEY,
                              detectors=_fast()), db=db)
    assert first.casework is not None and first.writer is not None
    for e in events(GROOMING):
        first.casework.handle(e, now=NOW, live=False)
    first.close()
    opened = sorted(first.casework.cases)
    assert opened and cases_in(db) == len(opened)

    again = assemble(Settings(mode=Mode.LIVE, db_url=url, evidence_key=KEY,
                              detectors=_fast()), db=db)
    assert again.casework is not None and sorted(again.casework.cases) == opened
    again.close()
    looking = stored_casework(db, KEY, read_only=True)
    assert sorted(looking.cases) == opened
    # A deployment handed an open database leaves it open for its owner.
    again.dispose()
    with Session(db) as s:
        assert s.scalar(select(func.count()).select_from(AuditRow))


def test_a_deployment_that_opened_its_database_disposes_of_it(url: str) -> None:
    d = assemble(Settings(mode=Mode.DETECT, db_url=url, detectors=_fast()))
    assert d.db is not None and d.writer is not None and d.owns_db
    assert d.engine_settings.memory is not None  # conversations continue from run to run
    d.close()
    d.dispose()


def _fast():
    from veilleur.detect.base import DetectorSettings

    return DetectorSettings(semantic=False, learned=False)


def test_a_scan_that_fails_midway_keeps_what_it_read_and_lets_the_database_go(
        tmp_path: Path, url: str) -> None:
    import json

    from veilleur.scan import ScanHooks, run_scan
    from veilleur.store.models import FindingRow, MessageRow

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text("".join(json.dumps(e) + "\n" for e in GROOMING))

    class Broken(ScanHooks):
        def file_done(self, item: object) -> None:
            raise RuntimeError("the progress bar broke")

    with pytest.raises(RuntimeError, match="progress bar"):
        run_scan([tmp_path / "in"], db_url=url, settings=_fast(), hooks=Broken())
    db = connect(url)
    try:
        with Session(db) as s:
            assert s.scalar(select(func.count()).select_from(MessageRow)) == len(GROOMING)
            assert s.scalar(select(func.count()).select_from(FindingRow))
    finally:
        db.dispose()
