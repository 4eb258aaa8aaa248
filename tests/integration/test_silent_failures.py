"""Issue 15 item 9: what a new user met in silence. A read-only command on a database that
is not there, a scan that read nothing, a partial scan whose findings document looked
complete, a review by a name with no account, a bank import of a file that is no bank."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.factories import export, message, write
from veilleur.cli import app

runner = CliRunner()
NO_INPUT = "holds no DiscordChatExporter export (.json) or event log (.jsonl)"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working folder with no database configured: what a new user starts from."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VEILLEUR_DB", raising=False)
    return tmp_path


# --- commands that only read refuse to create a database ------------------------------------


@pytest.mark.parametrize("command", [
    ["cases", "list"],
    ["audit", "verify"],
    ["review", "next", "--reviewer", "alice"],
    ["evidence", "list"],
    ["bank", "list"],
    ["bank", "stats"],
    ["documents", "list"],
    ["accounts", "list"],
])
def test_a_reading_command_refuses_a_database_that_is_not_there(here: Path,
                                                                command: list[str]) -> None:
    result = runner.invoke(app, command)
    assert result.exit_code == 1, result.output
    assert f"no database at {here / 'veilleur.db'}: pass --db or run `veilleur scan` first" \
        in result.stderr.replace("\n", "")
    assert not (here / "veilleur.db").exists()
    assert list(here.iterdir()) == []


def test_a_reading_command_still_reads_a_database_a_scan_made(here: Path) -> None:
    write(here / "e" / "c.json", export([message("bonjour", id="1")]))
    assert runner.invoke(app, ["scan", "e", "-q"]).exit_code == 0
    assert (here / "veilleur.db").exists()
    result = runner.invoke(app, ["cases", "list"])
    assert result.exit_code == 0, result.output
    assert "Cases (0)" in result.stdout


# --- a scan that read nothing ---------------------------------------------------------------


def test_a_scan_of_a_folder_with_no_export_says_what_it_opened_and_exits_1(here: Path) -> None:
    folder = here / "exports"
    folder.mkdir()
    (folder / "notes.txt").write_text("not an export")
    (folder / "photo.png").write_bytes(b"\x89PNG")
    out = here / "f.json"
    result = runner.invoke(app, ["scan", str(folder), "--db", str(here / "v.db"),
                                 "--json", str(out)])
    assert result.exit_code == 1, result.output
    err = result.stderr.replace("\n", " ")
    assert f"nothing was read: {folder} {NO_INPUT}" in err
    assert "opened: 1 folder, 0 DiscordChatExporter export(s) (.json), 0 event log(s)" in err
    assert "2 other file(s) skipped" in err
    doc = json.loads(out.read_text())
    assert doc["findings"] == [] and doc["input_problems"][0]["source"] == str(folder)
    assert doc["input_problems"][0]["fatal"] is True


def test_a_scan_of_an_empty_folder_exits_1(here: Path) -> None:
    (here / "empty").mkdir()
    result = runner.invoke(app, ["scan", "empty", "--db", "v.db", "-q"])
    assert result.exit_code == 1, result.output
    assert f"nothing was read: empty {NO_INPUT}" in result.stderr.replace("\n", " ")


def test_a_scan_whose_only_file_is_unreadable_exits_1(here: Path) -> None:
    (here / "notes.json").write_text("not json at all")
    result = runner.invoke(app, ["scan", "notes.json", "--db", "v.db", "-q"])
    assert result.exit_code == 1, result.output
    assert "nothing was read" in result.stderr


def test_an_empty_folder_beside_a_readable_export_is_a_problem_not_a_failure(here: Path
                                                                            ) -> None:
    (here / "empty").mkdir()
    write(here / "c.json", export([message("bonjour", id="1")]))
    result = runner.invoke(app, ["scan", "empty", "c.json", "--db", "v.db"])
    assert result.exit_code == 2, result.output
    assert f"empty: {NO_INPUT} (it is empty)" in result.stderr.replace("\n", " ")
    assert "nothing was read" not in result.stderr
    assert "opened" in result.stdout  # the summary says what the paths held


# --- the findings document says what was read -----------------------------------------------


def test_the_findings_document_records_input_problems(here: Path) -> None:
    write(here / "e" / "good.json", export([message("bonjour", id="1")]))
    (here / "e" / "broken.json").write_text('{"guild": {"id": "1", "na')
    out = here / "f.json"
    result = runner.invoke(app, ["scan", "e", "missing.json", "--db", "v.db",
                                 "--json", str(out), "-q"])
    assert result.exit_code == 2, result.output
    doc = json.loads(out.read_text())
    assert {i["path"] for i in doc["inputs"]} == {str(Path("e/broken.json")),
                                                  str(Path("e/good.json"))}
    assert {i["kind"] for i in doc["inputs"]} == {"dce"}
    by_source = {p["source"]: p for p in doc["input_problems"]}
    assert set(by_source) == {str(Path("e/broken.json")), "missing.json"}
    assert "not valid JSON" in by_source[str(Path("e/broken.json"))]["problem"]
    assert by_source["missing.json"] == {"source": "missing.json", "where": None,
                                         "problem": "no such file or folder", "fatal": True}


def test_a_complete_scan_says_so_in_the_findings_document(here: Path) -> None:
    write(here / "c.json", export([message("bonjour", id="1")]))
    result = runner.invoke(app, ["scan", "c.json", "--db", "v.db", "--json", "-", "-q"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["input_problems"] == [] and doc["inputs"] == [{"path": "c.json",
                                                              "kind": "dce"}]


# --- the CLI admits reviewers as the console does -------------------------------------------

PASSWORD = {"VEILLEUR_PASSWORD": "a long enough password"}
DEMO = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def demo_cases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo exports scanned into cases once: a child sexual abuse case and a grooming
    case, and accounts of each role."""
    folder = tmp_path_factory.mktemp("cases")
    db = str(folder / "h.db")
    r = runner.invoke(app, ["scan", str(DEMO / "demo"), "--bank", str(DEMO / "demo-bank.csv"),
                            "--db", db, "--cases", "-q"])
    assert r.exit_code == 0, r.output
    for name, role in (("rita", "reviewer"), ("sam", "specialist"), ("ada", "admin"),
                       ("gone", "reviewer")):
        r = runner.invoke(app, ["accounts", "add", name, "--role", role, "--db", db],
                          env=PASSWORD)
        assert r.exit_code == 0, r.output
    assert runner.invoke(app, ["accounts", "disable", "gone", "--db", db]).exit_code == 0
    return folder


@pytest.fixture
def cases_db(demo_cases: Path, tmp_path: Path) -> str:
    import shutil

    shutil.copytree(demo_cases, tmp_path / "c")
    return str(tmp_path / "c" / "h.db")


def _cases(db: str) -> dict[str, dict]:  # type: ignore[type-arg]
    rows = json.loads(runner.invoke(app, ["cases", "list", "--db", db, "--json"]).stdout)
    return {r["category"]: r for r in rows}


def _audit_actors(db: str) -> set[str]:
    import sqlite3

    with sqlite3.connect(db) as con:
        return {a for (a,) in con.execute("SELECT actor FROM audit_log")}


@pytest.mark.parametrize(("name", "why"), [
    ("nobody", "no account 'nobody'"),
    ("ada", "account 'ada' has the admin role: only reviewers and specialists review"),
    ("gone", "account 'gone' is disabled"),
])
def test_review_refuses_a_name_without_a_reviewing_account(cases_db: str, name: str,
                                                           why: str) -> None:
    csam = _cases(cases_db)["csam"]["id"]
    for command in (["review", "next"], ["review", "show", csam],
                    ["review", "decide", csam, "--others", "none"],
                    ["review", "release", csam]):
        r = runner.invoke(app, [*command, "--reviewer", name, "--db", cases_db])
        assert r.exit_code == 1, (command, r.output)
        assert why in " ".join(r.stderr.split()), (command, r.stderr)
    assert all(c["status"] == "open" for c in _cases(cases_db).values())
    assert name not in _audit_actors(cases_db)  # nothing was shown to, or done by, the name


def test_a_reviewer_never_sees_a_child_abuse_case_a_specialist_does(cases_db: str) -> None:
    cases = _cases(cases_db)
    csam, grooming = cases["csam"]["id"], cases["grooming"]["id"]
    r = runner.invoke(app, ["review", "show", csam, "--reviewer", "rita", "--db", cases_db])
    assert r.exit_code == 1 and "reserved to child-safety specialists" in r.stderr
    r = runner.invoke(app, ["review", "decide", csam, "--reviewer", "rita", "--others", "none",
                            "--db", cases_db])
    assert r.exit_code == 1 and "reserved to child-safety specialists" in r.stderr
    # `next` passes over the case rita may not see, whatever its priority.
    r = runner.invoke(app, ["review", "next", "--reviewer", "rita", "--db", cases_db, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["id"] == grooming
    r = runner.invoke(app, ["review", "next", "--reviewer", "rita", "--db", cases_db, "--json"])
    assert r.exit_code == 0 and "no case is waiting" in r.stdout
    r = runner.invoke(app, ["review", "show", csam, "--reviewer", "sam", "--db", cases_db,
                            "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["id"] == csam


# --- a file that is no bank leaves no bank behind -------------------------------------------


def _png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize(("name", "content", "said"), [
    ("notes.txt", b"hello world\n", "not a hash bank CSV: missing column(s)"),
    ("records.json", b'{"foo": 1}', "no hash entry could be read: expected StopNCII JSON"),
    ("bad.csv", b"signal_type,signal,category\nmd5,zz,csam\n",
     "no hash entry could be read: expected a CSV with the columns signal_type,signal,"),
    ("header.csv", b"signal_type,signal,category\n", "no hash entry could be read"),
    ("photodna.csv", b"signal_type,signal,category\nphotodna,abc,csam\n",
     "no hash entry could be read"),
    ("picture.png", None, "not a hash bank: the file is not UTF-8 text"),
])
def test_bank_import_of_a_file_that_is_no_bank_leaves_no_bank(here: Path, name: str,
                                                              content: bytes | None,
                                                              said: str) -> None:
    from veilleur.store.db import connect

    connect(f"sqlite:///{here / 'b.db'}").dispose()  # an existing store, with no bank yet
    (here / name).write_bytes(_png() if content is None else content)
    r = runner.invoke(app, ["bank", "import", name, "--db", "b.db"])
    assert r.exit_code == 1, r.output
    assert f"error: {name}" in r.stderr and said in " ".join(r.stderr.split())
    listed = runner.invoke(app, ["bank", "list", "--db", "b.db", "--json"])
    assert listed.exit_code == 0 and json.loads(listed.stdout) == []


def test_bank_add_of_no_readable_picture_leaves_no_bank(here: Path) -> None:
    from veilleur.store.db import connect

    connect(f"sqlite:///{here / 'b.db'}").dispose()
    (here / "notes.txt").write_text("not a picture")
    r = runner.invoke(app, ["bank", "add", "notes.txt", "--name", "mine", "--category", "csam",
                            "--db", "b.db"])
    assert r.exit_code == 1, r.output
    assert "no picture could be read" in " ".join(r.stderr.split())
    assert json.loads(runner.invoke(app, ["bank", "list", "--db", "b.db", "--json"]
                                    ).stdout) == []


def test_the_store_refuses_to_make_a_bank_from_nothing(tmp_path: Path) -> None:
    from veilleur.detect.media.banks import ParsedBank
    from veilleur.store.banks import BankError, BankStore
    from veilleur.store.db import connect

    db = connect(f"sqlite:///{tmp_path / 'b.db'}")
    store = BankStore(db, tmp_path / "index")
    with pytest.raises(BankError, match="no hash entry was read"):
        store.import_entries("empty", ParsedBank("csv"), actor="cli:test")
    assert store.list_banks() == []
    db.dispose()
