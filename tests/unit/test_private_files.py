"""Files that hold data are owner-only whatever the umask; a key file others can read is
refused (issue 15, item 8)."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from veilleur.cli import app
from veilleur.enforce.evidence import EvidenceError, EvidenceKey, key_for_database
from veilleur.private import FileModeError, check_secret, private_dir, private_file, write_private
from veilleur.service.inbox import journal_database
from veilleur.store.db import connect, database_url

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)




def test_private_helpers_ignore_the_umask(tmp_path: Path, umask_022: None) -> None:
    assert mode(private_dir(tmp_path / "a" / "b")) == 0o700
    assert mode(tmp_path / "a") == 0o700  # the missing parent too
    assert mode(private_file(tmp_path / "a" / "b" / "f")) == 0o600
    assert mode(write_private(tmp_path / "new" / "x.json", "{}")) == 0o600
    assert mode(tmp_path / "new") == 0o700
    assert (tmp_path / "new" / "x.json").read_text() == "{}"


def test_existing_open_files_and_folders_are_tightened(tmp_path: Path, umask_022: None
                                                       ) -> None:
    f = tmp_path / "old.db"
    f.write_bytes(b"")
    f.chmod(0o644)
    folder = tmp_path / "uploads"
    folder.mkdir(mode=0o755)
    assert mode(private_file(f)) == 0o600
    assert mode(private_dir(folder)) == 0o700
    # A folder the engine does not own (the database's) is created private, never changed.
    here = tmp_path / "shared"
    here.mkdir(mode=0o755)
    connect(database_url(str(here / "v.db"))).dispose()
    assert mode(here) == 0o755 and mode(here / "v.db") == 0o600


def test_database_wal_shm_and_journals_are_owner_only(tmp_path: Path, umask_022: None
                                                      ) -> None:
    url = database_url(str(tmp_path / "db" / "v.db"))
    engine = connect(url)
    inbox = journal_database(engine, url)
    with engine.begin() as conn, inbox.begin() as jconn:  # both files in WAL, open
        conn.execute(text("CREATE TABLE t (x)"))
        jconn.execute(text("SELECT 1"))
        names = sorted(p.name for p in (tmp_path / "db").iterdir())
        assert {"v.db", "v.db-wal", "v.db-shm", "v.db-inbox", "v.db-inbox-wal",
                "v.db-inbox-shm"} <= set(names)
        for name in names:
            assert mode(tmp_path / "db" / name) == 0o600, name
    assert mode(tmp_path / "db") == 0o700
    engine.dispose()
    inbox.dispose()


def test_an_existing_world_readable_database_and_wal_are_tightened(tmp_path: Path,
                                                                   umask_022: None) -> None:
    path = tmp_path / "v.db"
    connect(database_url(str(path))).dispose()
    path.chmod(0o644)
    (tmp_path / "v.db-wal").write_bytes(b"")
    (tmp_path / "v.db-wal").chmod(0o644)
    connect(database_url(str(path))).dispose()
    assert mode(path) == 0o600
    if (tmp_path / "v.db-wal").exists():
        assert mode(tmp_path / "v.db-wal") == 0o600


def test_a_new_evidence_key_is_owner_only(tmp_path: Path, umask_022: None,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VEILLEUR_EVIDENCE_KEY", raising=False)
    key_for_database(database_url(str(tmp_path / "k" / "v.db")), None)
    assert mode(tmp_path / "k" / "v.db.evidence-key") == 0o600
    assert mode(tmp_path / "k") == 0o700


@pytest.mark.parametrize("bits", [0o644, 0o640, 0o604, 0o620])
def test_an_evidence_key_others_can_reach_is_refused(tmp_path: Path, bits: int,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VEILLEUR_EVIDENCE_KEY", raising=False)
    key = tmp_path / "evidence.key"
    key.write_text(base64.b64encode(EvidenceKey.generate().secret).decode() + "\n")
    key.chmod(bits)
    with pytest.raises(EvidenceError) as err:
        EvidenceKey.load(key)
    assert str(err.value).startswith(f"evidence key {key} is ")
    assert f"by group/others (mode {bits:04o}): chmod 600 {key}" in str(err.value)
    if bits & 0o044:
        assert "is readable by" in str(err.value)
    assert mode(key) == bits  # refused, not silently changed
    key.chmod(0o600)
    assert EvidenceKey.load(key).secret  # once fixed, used


def test_check_secret_names_the_file(tmp_path: Path) -> None:
    f = tmp_path / "s"
    f.write_text("x")
    f.chmod(0o600)
    check_secret(f, "thing")
    f.chmod(0o644)
    with pytest.raises(FileModeError, match=r"thing .* is readable by group/others"):
        check_secret(f, "thing")


def test_a_scan_writes_owner_only_files(tmp_path: Path, umask_022: None,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VEILLEUR_EVIDENCE_KEY", raising=False)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [
        "scan", str(EXAMPLES / "demo"), "--bank", str(EXAMPLES / "demo-bank.csv"),
        "--db", str(out / "demo.db"), "--json", str(out / "findings.json"),
        "--html", str(out / "report.html")])
    assert result.exit_code == 0, result.output
    written = [p for p in out.rglob("*")]
    assert out / "demo.db" in written and out / "findings.json" in written
    for p in [out, *written]:
        assert mode(p) & 0o077 == 0, f"{p} is {mode(p):04o}"


def test_the_evidence_cli_refuses_an_open_key(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VEILLEUR_EVIDENCE_KEY", raising=False)
    key = tmp_path / "evidence.key"
    key.write_text(base64.b64encode(EvidenceKey.generate().secret).decode() + "\n")
    key.chmod(0o644)
    connect(f"sqlite:///{tmp_path / 'v.db'}").dispose()  # a database, so the key is what fails
    result = CliRunner().invoke(app, ["evidence", "show", "ev-1", "--actor", "ana",
                                      "--purpose", "test", "--db", str(tmp_path / "v.db"),
                                      "--evidence-key", str(key)])
    assert result.exit_code != 0
    assert "chmod 600" in result.output
