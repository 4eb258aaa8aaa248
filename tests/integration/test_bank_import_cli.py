"""`veilleur bank import FILE [FILE ...]`: pages of one feed in order, counts per file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.shared_data import shared_testdata
from veilleur.cli import app

runner = CliRunner()


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VEILLEUR_DB", raising=False)
    return tmp_path


def ncmec(name: str) -> str:
    return str(shared_testdata("formats-real", "ncmec-hash-sharing", name))


def test_pages_of_a_feed_in_order_say_what_each_did(here: Path) -> None:
    r = runner.invoke(app, ["bank", "import", ncmec("ENTRIES_XML3.xml"),
                            ncmec("ENTRIES_XML4.xml"), ncmec("ENTRIES_NO_DATA_XML.xml"),
                            ncmec("ENTRIES_XML.xml"), "--name", "ncmec", "--db", "b.db"])
    assert r.exit_code == 0, r.output
    text = " ".join(r.stdout.split())
    per_file = text.split(str(shared_testdata("formats-real", "ncmec-hash-sharing")))[1:]
    assert len(per_file) == 4
    third, fourth, empty, first = per_file
    assert ("bank 'ncmec' created: 2 entries read, 2 imported (new), 0 updated, 0 already "
            "present, 0 disabled") in third and "more pages remain" in third
    assert ("1 entries read, 0 imported (new), 1 updated, 0 already present, 1 disabled"
            in fourth) and "more pages remain" not in fourth
    assert "nothing to import (no hash entry in this page)" in empty
    assert "2 withdrawal(s) name nothing this bank holds (not held" in first
    assert "skipped 1 pdna hashes" in first and "skipped 2 sha1 hashes" in first

    as_json = runner.invoke(app, ["bank", "import", ncmec("ENTRIES_XML3.xml"),
                                  ncmec("ENTRIES_XML4.xml"), "--name", "again", "--json",
                                  "--db", "b.db"])
    assert as_json.exit_code == 0, as_json.output
    doc = json.loads(as_json.stdout)
    assert [(f["imported"], f["updated"], f["unchanged"], f["disabled"], f["not_held"],
             f["more_pages"]) for f in doc["files"]] == [(2, 0, 0, 0, 0, True),
                                                         (0, 1, 0, 1, 0, False)]
    assert doc["failed"] is None and doc["bank"] == "again"


def test_a_file_nothing_can_be_read_from_stops_the_import(here: Path) -> None:
    (here / "notes.json").write_text('{"foo": 1}')
    r = runner.invoke(app, ["bank", "import", ncmec("ENTRIES_XML3.xml"), "notes.json",
                            ncmec("ENTRIES_XML4.xml"), "--name", "feed", "--db", "b.db"])
    assert r.exit_code == 1, r.output
    err = " ".join(r.stderr.split())
    assert "stopped at notes.json: no hash entry could be read" in err
    assert f"Imported before it: {ncmec('ENTRIES_XML3.xml')}" in err
    assert f"not imported: {ncmec('ENTRIES_XML4.xml')}" in err
    (bank,) = json.loads(runner.invoke(app, ["bank", "list", "--db", "b.db", "--json"]
                                       ).stdout)
    assert bank["entries"] == {"md5": 2} and bank["disabled_entries"] == 0  # page 3 only


def test_an_empty_page_alone_makes_no_bank(here: Path) -> None:
    from veilleur.store.db import connect

    connect(f"sqlite:///{here / 'b.db'}").dispose()
    r = runner.invoke(app, ["bank", "import", ncmec("ENTRIES_NO_DATA_XML.xml"), "--db", "b.db"])
    assert r.exit_code == 0, r.output
    assert "nothing to import" in r.stdout
    assert json.loads(runner.invoke(app, ["bank", "list", "--db", "b.db", "--json"]
                                    ).stdout) == []
