"""`veilleur replay` on the scenario suite: the issue's targets, RESULT.json, the stored
casework, the audit log and evidence commands, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from bench.replay_scenarios import write_suite
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from veilleur.cli import app
from veilleur.sim.replay import run_replay

runner = CliRunner()


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return write_suite(tmp_path_factory.mktemp("suite"))


@pytest.fixture(scope="module")
def result(suite: tuple[Path, Path, Path]) -> dict:  # type: ignore[type-arg]
    events, oracle, bank = suite
    return run_replay(events, oracle, reviewers=2, review_seconds=300,
                      bank_paths=[bank]).document


def test_the_engine_meets_every_target(result: dict) -> None:  # type: ignore[type-arg]
    m = result["metrics"]["engine"]
    assert m["harmful_items"] > 70
    assert set(m["outcomes"]) <= {"removed", "prevented"}, m["outcomes"]
    assert m["removed_within_1h_of_report"] == m["reported_harmful"] >= 10
    assert m["engine_detected_csam_removed_within_1h"] == m["engine_detected_csam"] >= 5
    assert m["legal_deadlines_met"] == m["legal_orders"]["total"] == 3
    assert m["evidence_preserved_before_deletion"] == m["owner_deletions_after_flag"] == 1
    assert m["actions_on_innocent_targets"] == 0
    assert m["reports"]["total"] >= 1000 and m["reports"]["pending_at_end"] == 0
    assert m["report_to_removal_s"]["max"] <= 3600


def test_the_fifo_baseline_is_measured_side_by_side(result: dict) -> None:  # type: ignore[type-arg]
    engine, fifo = result["metrics"]["engine"], result["metrics"]["baseline_fifo"]
    assert fifo["harmful_items"] == engine["harmful_items"]
    assert fifo["outcomes"].get("not_removed", 0) > 0
    assert fifo["evidence_preserved_before_deletion"] == 0
    assert fifo["removed_within_1h_of_report"] < fifo["reported_harmful"]
    assert fifo["time_to_removal_s"]["median"] > engine["time_to_removal_s"]["median"]
    assert result["baseline_fifo"]["cases"]


def test_result_follows_the_contract(result: dict) -> None:  # type: ignore[type-arg]
    assert {"actions", "cases", "statements_of_reasons", "ncmec_reports", "metrics"} <= \
        set(result)
    names = {"remove_content", "block_upload", "suspend_account", "delete_guild", "block_join",
             "preserve_evidence", "report_ncmec", "refer_authority"}
    for a in result["actions"]:
        assert {"ts", "action", "target", "case_id", "automated", "category"} <= set(a)
        assert a["action"] in names and set(a["target"]) == {"kind", "id"}
    kinds = {a["action"] for a in result["actions"]}
    assert {"block_upload", "delete_guild", "suspend_account", "preserve_evidence",
            "remove_content", "report_ncmec"} <= kinds
    for c in result["cases"]:
        assert {"id", "opened_at", "reviewed_at", "targets", "priority"} <= set(c)
        assert 0 <= c["priority"] <= 1
    # Every report ends with a decision or a logged reason.
    assert all(r["resolution"] and r["reason"] for r in result["reports"])


def test_story_details(result: dict) -> None:  # type: ignore[type-arg]
    actions = result["actions"]
    by = {(a["action"], a["target"]["id"]): a for a in actions}
    # The owner deleted two hours after the report: evidence was preserved at the latest at
    # the report (earlier when the learned tier reads one of its posts), and the server was
    # deleted by the platform within the hour of the report, long before its owner tried.
    kept = [a["ts"] for a in actions if a["action"] == "preserve_evidence"
            and a["target"]["id"] == "od-guild"]
    assert kept and kept[0] <= "2026-03-02T14:00:00Z"
    assert by[("delete_guild", "od-guild")]["ts"] <= "2026-03-02T15:00:00Z"
    # The victim's extortionist: the engine caught the grooming before the threats, which
    # were then refused; her report found the account already suspended.
    suspended = by[("suspend_account", "ve-extortionist")]["ts"]
    assert suspended < "2026-03-02T14:40:00Z"
    reports = {r["id"]: r for r in result["reports"]}
    assert reports["report:ve-report-1"]["resolution"] == "already_actioned"
    # Known media blocked on upload, automatically; confirmed media blocked when re-posted.
    assert by[("block_upload", "km-att-known")]["automated"]
    assert all(by[("block_upload", f"km-reatt-{i}")]["automated"] for i in range(3))
    # The hotline's notice was decided with priority and counted in its statistics.
    assert by[("remove_content", "hn-swap")]["ts"] <= "2026-03-02T19:05:00Z"
    stats = result["trusted_flaggers"]["point-de-contact"]
    assert stats["notices"] == stats["upheld"] == 2 and stats["accuracy"] == 1.0  # 2 stories
    # Nothing happened to the club the trolls reported.
    assert not [a for a in actions if a["target"]["id"].startswith("tc-")
                and a["action"] != "preserve_evidence"]


def test_cli_replay_keeps_casework_in_the_database(suite: tuple[Path, Path, Path],
                                                   tmp_path: Path) -> None:
    events, oracle, bank = suite
    db = tmp_path / "r.db"
    out = tmp_path / "RESULT.json"
    r = runner.invoke(app, ["replay", str(events), "--oracle", str(oracle), "--bank", str(bank),
                            "--reviewers", "2", "--review-seconds", "300", "--out", str(out),
                            "--db", str(db), "--no-baseline", "-q"])
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    assert "baseline_fifo" not in doc["metrics"]
    r = runner.invoke(app, ["audit", "verify", "--db", str(db)])
    assert r.exit_code == 0 and "intact" in r.output
    # Opening evidence is audited; the chain still verifies.
    r = runner.invoke(app, ["evidence", "list", "--db", str(db)])
    assert r.exit_code == 0
    con = create_engine(f"sqlite:///{db}")
    with con.connect() as c:
        rid, = c.execute(text("SELECT id FROM evidence WHERE target_id='od-guild' "
                                 "ORDER BY preserved_at DESC")).first()
        before = c.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
    r = runner.invoke(app, ["evidence", "show", rid, "--db", str(db), "--actor", "inspector",
                            "--purpose", "test"])
    assert r.exit_code == 0, r.output
    shown = json.loads(r.stdout)
    # What the server held when it was preserved (all three posts when at the report; the
    # first two when the second was found, a minute before the third).
    assert shown["guild"]["name"] == "soirée pyjama" and len(shown["messages"]) >= 2
    assert shown["attachments"][0]["sha256"]
    with con.connect() as c:
        assert c.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == before + 1
        last = c.execute(text("SELECT kind, actor FROM audit_log ORDER BY seq DESC")).first()
    assert tuple(last) == ("evidence.accessed", "inspector")
    assert runner.invoke(app, ["audit", "verify", "--db", str(db)]).exit_code == 0
    with con.connect() as c:
        att, = c.execute(text("SELECT id FROM evidence WHERE target_id='od-att-0'")).first()
    r = runner.invoke(app, ["evidence", "show", att, "--db", str(db), "--actor", "legal",
                            "--purpose", "court", "--export-media", str(tmp_path / "media")])
    assert r.exit_code == 0, r.output
    shown = json.loads(r.stdout)
    exported = [a for a in shown["attachments"] if "exported_to" in a]
    assert len(exported) == 1 and "bytes_b64" not in r.stdout
    data = Path(exported[0]["exported_to"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == exported[0]["sha256"]
    # A legal hold outlives retention; a purge empties the rest, and is audited.
    r = runner.invoke(app, ["evidence", "hold", rid, "--reason", "réquisition 2026/42",
                            "--actor", "legal", "--db", str(db)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["evidence", "purge", "--at", "2030-01-01T00:00:00Z", "--db",
                            str(db)])
    assert r.exit_code == 0 and "purged" in r.output
    with con.connect() as c:
        left = c.execute(text("SELECT id FROM evidence WHERE purged_at IS NULL")).all()
        purged = c.execute(text("SELECT count(*) FROM audit_log WHERE kind='evidence.purged'")
                           ).scalar_one()
    assert [x[0] for x in left] == [rid] and purged > 10
    r = runner.invoke(app, ["evidence", "show", att, "--db", str(db), "--actor", "legal",
                            "--purpose", "court"])
    assert r.exit_code == 1 and "purged" in r.output
    assert runner.invoke(app, ["audit", "verify", "--db", str(db)]).exit_code == 0
    r = runner.invoke(app, ["cases", "flaggers", "--db", str(db), "--json"])
    assert r.exit_code == 0
    assert json.loads(r.stdout)["point-de-contact"] == doc["trusted_flaggers"]["point-de-contact"]
    r = runner.invoke(app, ["cases", "list", "--db", str(db), "--all", "--json"])
    assert r.exit_code == 0 and len(json.loads(r.stdout)) == len(doc["cases"])


def test_the_audit_log_refuses_changes_and_verify_names_a_tampered_entry(
        suite: tuple[Path, Path, Path], tmp_path: Path) -> None:
    events, oracle, _ = suite
    db = tmp_path / "t.db"
    r = runner.invoke(app, ["replay", str(events), "--oracle", str(oracle), "--out",
                            str(tmp_path / "R.json"), "--db", str(db), "--no-baseline", "-q"])
    assert r.exit_code == 0, r.output
    con = create_engine(f"sqlite:///{db}")
    with pytest.raises(Exception, match="append-only"), con.begin() as c:
        c.execute(text("UPDATE audit_log SET actor='x' WHERE seq=10"))
    with pytest.raises(Exception, match="append-only"), con.begin() as c:
        c.execute(text("DELETE FROM audit_log WHERE seq=10"))
    head = runner.invoke(app, ["audit", "head", "--db", str(db)]).stdout.strip()
    assert head.split(":")[0].isdigit() and len(head.split(":")[1]) == 64
    r = runner.invoke(app, ["audit", "verify", "--db", str(db), "--anchor", head])
    assert r.exit_code == 0 and "1 anchor(s) matched" in " ".join(r.output.split())
    r = runner.invoke(app, ["audit", "verify", "--db", str(db), "--anchor", "12:xyz"])
    assert r.exit_code == 1 and "SEQ:HASH" in r.output
    # Someone with file access drops the guard and edits an entry: verify names it.
    with con.begin() as c:
        c.execute(text("DROP TRIGGER audit_log_no_update"))
        c.execute(text("UPDATE audit_log SET detail='{}' WHERE seq=25"))
    r = runner.invoke(app, ["audit", "verify", "--db", str(db)])
    assert r.exit_code == 1 and "broken at entry 25" in r.output


def test_bad_inputs_are_named(tmp_path: Path, suite: tuple[Path, Path, Path]) -> None:
    events, oracle, _ = suite
    r = runner.invoke(app, ["replay", str(tmp_path / "none.jsonl"), "--oracle", str(oracle)])
    assert r.exit_code == 1 and "is not a readable file" in r.output
    bad = tmp_path / "oracle.jsonl"
    bad.write_text('{"target": {"kind": "message", "id": "m1"}, "category": "spam"}\nnope\n')
    log = tmp_path / "e.jsonl"
    log.write_text(events.read_text().splitlines()[0] + '\n{"type": "order_update"}\n')
    r = runner.invoke(app, ["replay", str(log), "--oracle", str(bad), "--out",
                            str(tmp_path / "R.json"), "-q"])
    assert r.exit_code == 2
    said = " ".join(r.output.split())  # rich wraps long paths
    assert "(line 1): bad label: 'spam'" in said and "(line 2): not valid JSON" in said
    assert "e.jsonl (line 2): skipped bad event: missing 'ts'" in said
    assert json.loads((tmp_path / "R.json").read_text())["metrics"]["simulation"]["events"] == 1


def test_casework_tables_on_postgresql(pg_url: str, suite: tuple[Path, Path, Path],
                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import base64
    import uuid

    events, oracle, bank = suite
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = pg_url.replace("/postgres?", f"/{name}?")
    monkeypatch.setenv("VEILLEUR_EVIDENCE_KEY", base64.b64encode(b"p" * 32).decode())
    r = runner.invoke(app, ["replay", str(events), "--oracle", str(oracle), "--bank", str(bank),
                            "--out", str(tmp_path / "R.json"), "--db", url, "-q",
                            "--no-baseline", "--reviewers", "1", "--review-seconds", "3000000",
                            "--drain-hours", "0"])
    assert r.exit_code == 0, r.output
    assert runner.invoke(app, ["audit", "verify", "--db", url]).exit_code == 0
    con = create_engine(url)
    with con.connect() as c:
        assert c.execute(text("SELECT count(*) FROM cases")).scalar_one() > 10
        assert c.execute(text("SELECT count(*) FROM evidence")).scalar_one() > 10
    # Picked up again from PostgreSQL: the content is read back from the store.
    assert runner.invoke(app, ["accounts", "add", "alice", "--role", "specialist", "--db", url],
                         env={"VEILLEUR_PASSWORD": "a long enough password"}).exit_code == 0
    r = runner.invoke(app, ["review", "next", "--reviewer", "alice", "--db", url, "--json"])
    assert r.exit_code == 0, r.output
    view = json.loads(r.stdout)
    assert any("message" in t or "guild" in t for t in view["targets_in_context"])
    r = runner.invoke(app, ["review", "decide", view["id"], "--reviewer", "alice", "--db", url,
                            "--others", "none"])
    assert r.exit_code == 0, r.output
    assert runner.invoke(app, ["audit", "verify", "--db", url]).exit_code == 0
    with pytest.raises(Exception, match="append-only"), con.begin() as c:
        c.execute(text("DELETE FROM audit_log"))
    con.dispose()


def test_stored_cases_are_reviewed_from_the_command_line(suite: tuple[Path, Path, Path],
                                                        tmp_path: Path) -> None:
    """A reviewer picks up stored casework in another process: the next case under a lock
    the database enforces, the case in context, a decision carried out and audited."""
    events, oracle, bank = suite
    db = str(tmp_path / "q.db")
    # One reviewer who takes weeks a case: most cases are still waiting at the end.
    r = runner.invoke(app, ["replay", str(events), "--oracle", str(oracle), "--bank", str(bank),
                            "--reviewers", "1", "--review-seconds", "3000000",
                            "--drain-hours", "0", "--db", db, "--no-baseline", "-q",
                            "--out", str(tmp_path / "R.json")])
    assert r.exit_code == 0, r.output
    waiting = json.loads(runner.invoke(app, ["cases", "list", "--db", db, "--json"]).stdout)
    assert waiting and all(c["clock_status"] == "breached" for c in waiting)
    top = waiting[0]
    for name in ("alice", "bob"):  # the CLI admits reviewers with an account, as the console
        assert runner.invoke(app, ["accounts", "add", name, "--role", "specialist", "--db", db],
                             env={"VEILLEUR_PASSWORD": "a long enough password"}).exit_code == 0
    r = runner.invoke(app, ["review", "next", "--reviewer", "alice", "--db", db, "--json"])
    assert r.exit_code == 0, r.output
    view = json.loads(r.stdout)
    assert view["id"] == top["id"] and view["status"] == "in_review"
    assert view["targets_in_context"] and view["items"] and view["priority_explained"]
    # The lock holds across processes: bob gets another case, and cannot decide alice's.
    r = runner.invoke(app, ["review", "next", "--reviewer", "bob", "--db", db, "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["id"] != view["id"]
    r = runner.invoke(app, ["review", "decide", view["id"], "--reviewer", "bob", "--db", db,
                            "--others", "none"])
    assert r.exit_code == 1 and "not locked by bob" in " ".join(r.output.split())
    # Every target needs a verdict (or --others).
    first = view["targets"][0]
    spec = f"{first['kind']}:{first['id']}=csam"
    r = runner.invoke(app, ["review", "decide", view["id"], "--reviewer", "alice", "--db", db,
                            "--verdict", spec])
    assert r.exit_code == 1 and "no verdict for" in " ".join(r.output.split())
    r = runner.invoke(app, ["review", "decide", view["id"], "--reviewer", "alice", "--db", db,
                            "--verdict", spec, "--others", "none", "--scope", "FR,BE",
                            "--json"])
    assert r.exit_code == 0, r.output
    done = json.loads(r.stdout)
    decided = {(t["target"]["kind"], t["target"]["id"]): t for t in done["decision"]["targets"]}
    assert decided[first["kind"], first["id"]]["territorial_scope"] == ["FR", "BE"]
    assert done["actions"] and all(a["target"] == first for a in done["actions"]
                                   if a["action"] != "report_ncmec")
    con = create_engine(f"sqlite:///{db}")
    with con.connect() as c:
        status = c.execute(text("SELECT status FROM cases WHERE id=:i"), {"i": view["id"]}
                           ).scalar_one()
        pending = c.execute(text("SELECT count(*) FROM intakes WHERE case_id=:i AND "
                                 "resolution IS NULL"), {"i": view["id"]}).scalar_one()
        kinds = [k for (k,) in c.execute(text(
            "SELECT kind FROM audit_log WHERE actor='alice' ORDER BY seq"))]
    assert status == "closed" and pending == 0
    assert kinds[:2] == ["case.taken", "case.viewed"] and "decision" in kinds
    assert runner.invoke(app, ["audit", "verify", "--db", db]).exit_code == 0
    # An automatic block is reversible by a reviewer; a human decision's action is not here.
    with con.connect() as c:
        auto, = c.execute(text("SELECT id FROM actions WHERE action='block_upload' "
                               "AND automated AND reverted_at IS NULL")).first()
        human, = c.execute(text("SELECT id FROM actions WHERE NOT automated")).first()
    r = runner.invoke(app, ["review", "revert", human, "--reviewer", "alice", "--reason", "x",
                            "--db", db])
    assert r.exit_code == 1 and "not an automatic restriction" in " ".join(r.output.split())
    r = runner.invoke(app, ["review", "revert", auto, "--reviewer", "alice", "--reason",
                            "benign meme", "--db", db])
    assert r.exit_code == 0, r.output
    with con.connect() as c:
        reverted = c.execute(text("SELECT reverted_at FROM actions WHERE id=:i"), {"i": auto}
                             ).scalar_one()
        last = c.execute(text("SELECT kind, actor FROM audit_log ORDER BY seq DESC LIMIT 2")
                         ).all()
        restored = c.execute(text("SELECT count(*) FROM documents WHERE kind='restored'")
                             ).scalar_one()
    # The reversal is audited, then the uploader is told the measure was lifted.
    assert reverted is not None
    assert [tuple(r) for r in last] == [("document", "engine"), ("action.reverted", "alice")]
    assert restored == 1
    r = runner.invoke(app, ["review", "revert", auto, "--reviewer", "alice", "--reason", "x",
                            "--db", db])
    assert r.exit_code == 1 and "already reverted" in r.output
    r = runner.invoke(app, ["review", "release", view["id"], "--reviewer", "alice", "--db",
                            db])
    assert r.exit_code == 1 and "not held by alice" in r.output
    # Bob gives his case back: it is waiting again, for anyone.
    bobs = [c for c in json.loads(runner.invoke(app, ["cases", "list", "--db", db, "--json"]
                                                ).stdout) if c["locked_by"] == "bob"]
    r = runner.invoke(app, ["review", "release", bobs[0]["id"], "--reviewer", "bob", "--db",
                            db])
    assert r.exit_code == 0
    again = json.loads(runner.invoke(app, ["cases", "list", "--db", db, "--json"]).stdout)
    assert {c["id"]: c["status"] for c in again}[bobs[0]["id"]] == "open"


def test_a_refusing_database_is_an_error_message(capsys: pytest.CaptureFixture[str]) -> None:
    import typer
    from sqlalchemy.exc import IntegrityError, OperationalError

    from veilleur.cli.common import database_errors

    @database_errors
    def locked() -> None:
        raise OperationalError("UPDATE cases", {}, Exception("database is locked"))

    @database_errors
    def raced() -> None:
        raise IntegrityError("INSERT audit_log", {}, Exception("UNIQUE constraint failed"))

    for command, said in ((locked, "database is locked"), (raced, "run it again")):
        with pytest.raises(typer.Exit) as exit_:
            command()
        assert exit_.value.exit_code == 1
        assert said in " ".join(capsys.readouterr().err.split())


def test_the_announced_successor_is_found_and_removed(result: dict) -> None:  # type: ignore[type-arg]
    """network_regroups: the fallback named in the removed server is found as soon as it
    exists (its owner was a member, the invite was announced) and removed on review, before
    the members regroup; the owner's new account is refused at its door."""
    by = {(a["action"], a["target"]["id"]): a for a in result["actions"]}
    first, second = by[("delete_guild", "nr-guild-1")], by[("delete_guild", "nr-guild-2")]
    assert first["ts"] < second["ts"]
    case = next(c for c in result["cases"] if c["id"] == second["case_id"])
    assert {"kind": "guild", "id": "nr-guild-2"} in case["targets"]
    regroup = [p for p in result["prevented"] if p["subject"]["id"].startswith("nr-member")]
    assert len(regroup) >= 10
    assert any(p["subject"]["id"] == "nr-boss-2" for p in result["prevented"])


@pytest.fixture(scope="module")
def follow_through(tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    from bench.replay_scenarios import FOLLOW_THROUGH, MILESTONES

    folder = tmp_path_factory.mktemp("follow")
    events, oracle, bank = write_suite(folder, stories=list(FOLLOW_THROUGH))
    return run_replay(events, oracle, reviewers=2, review_seconds=300, bank_paths=[bank],
                      baseline=False, milestones_path=folder / MILESTONES).document


def test_follow_through_on_conversations_and_networks_written_apart(
        follow_through: dict) -> None:  # type: ignore[type-arg]
    """Floors, not promises: the unseen scene conversations are partly missed (README).
    Measured on this suite: extorters 9/18 within 1 h (12/18 before the fifth round of hard
    negatives raised the sextortion tier's line), groomers 12/18 stopped before a picture
    request was answered, successors 8/8, returning accounts 6/8 (the two misses: new
    accounts whose only tie is joining the successor)."""
    m = follow_through["metrics"]["engine"]
    ft = m["follow_through"]
    assert m["actions_on_innocent_targets"] == 0, m["innocent_actions"]
    assert ft["successor"]["within_1h"] == ft["successor"]["n"] == 8
    assert ft["returning"]["within_1h"] >= 6 and ft["returning"]["n"] == 8
    assert ft["sextortion"]["within_1h"] >= 8 and ft["sextortion"]["n"] >= 15
    assert ft["grooming"]["before_answer"] >= 10 and ft["grooming"]["with_answer"] >= 15
    late = [r for r in ft["returning"]["rows"] if r["stopped_at"] is None]
    assert len(late) <= 2  # the newcomers whose only tie is the successor they joined
