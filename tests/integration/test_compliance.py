"""The documents every decision owes, produced by casework as things happen (issue 6): notices,
statements of reasons, TDB statements, complaints and reversals, misuse, trusted-flagger
quality, CyberTipline reports, Art. 18 referrals; the replay's documents all valid; the
transparency report from a stored run."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from bench.replay_scenarios import write_suite
from typer.testing import CliRunner

from tests.unit.test_casework import T, at, tgt
from veilleur.cases.casework import Casework
from veilleur.cases.models import Resolution
from veilleur.cases.review import Verdict
from veilleur.cli import app
from veilleur.compliance import ncmec, tdb
from veilleur.compliance.documents import Document
from veilleur.engine import Engine
from veilleur.events import (
    AgeBand,
    Attachment,
    Channel,
    ChannelCreated,
    Complaint,
    ComplaintFiled,
    Guild,
    GuildCreated,
    Message,
    MessagePosted,
    Report,
    ReportFiled,
    ReportSource,
    User,
    UserSeen,
)
from veilleur.sim.replay import run_replay
from veilleur.taxonomy import Category, Target

runner = CliRunner()


@pytest.fixture
def cw() -> Casework:
    work = Casework(Engine.build())
    for e in (GuildCreated(ts=T, guild=Guild("g1", "Club", "owner")),
              ChannelCreated(ts=T, channel=Channel("c1", "g1", "general")),
              UserSeen(ts=T, user=User("owner", "owner")),
              UserSeen(ts=T, user=User("u1", "alice"))):
        work.handle(e)
    return work


def post(cw: Casework, mid: str, minutes: float, text: str = "salut tout le monde, ça va ?",
         author: str = "u1", attachments: tuple[Attachment, ...] = (),
         guild: str | None = "g1", channel: str = "c1",
         recipients: tuple[str, ...] = ()) -> None:
    cw.handle(MessagePosted(ts=at(minutes), message=Message(
        mid, channel, guild, author, text, attachments=attachments, recipient_ids=recipients)))


def notice(cw: Casework, rid: str, minutes: float, kind: str, id: str, *,
           source: ReportSource = ReportSource.DSA_NOTICE, category: str | None = "ncii",
           reporter: str | None = None, notifier: dict[str, str] | None = None,
           notice_id: str | None = None, bona_fide: bool | None = True,
           flagger: str | None = None,
           explanation: str | None = "intimate photo shared without consent") -> None:
    cw.handle(ReportFiled(ts=at(minutes), report=Report(
        rid, source, tgt(kind, id), category, explanation, reporter, notifier, flagger,
        notice_id=notice_id, bona_fide=bona_fide)))


def review(cw: Casework, reviewer: str, minutes: float, labels: dict[Target, Category],
           **verdict: object):  # type: ignore[no-untyped-def]
    case = cw.take_next(reviewer, at(minutes))
    assert case is not None
    verdicts = {t: Verdict(labels.get(t), **verdict) for t in case.targets}  # type: ignore[arg-type]
    return case, cw.decide(case.id, reviewer, verdicts, at(minutes + 5))


def docs(cw: Casework, kind: str) -> list[Document]:
    return cw.compliance.of_kind(kind)


def test_a_notice_with_two_items_is_acknowledged_once_and_answered_once(cw: Casework) -> None:
    post(cw, "m1", 1)
    post(cw, "m2", 2)
    who = {"name": "Camille Durand", "email": "camille@redaction.example", "language": "fr"}
    for i, mid in enumerate(("m1", "m2")):
        notice(cw, f"n1-{i}", 10, "message", mid, notifier=who, notice_id="n1")
    (ack,) = docs(cw, "notice_ack")
    assert ack.recipient["address"] == "camille@redaction.example" and ack.language == "fr"
    assert "2 éléments" in (ack.body or "") and ack.refs["missing_elements"] == []
    review(cw, "rev", 20, {tgt("message", "m1"): Category.NCII})
    (answer,) = docs(cw, "decision_notice")
    body = answer.body or ""
    assert "m1 : nous avons constaté une infraction et agi : retiré" in body
    assert "m2 : après examen, nous n'avons constaté aucune violation" in body
    assert "article 20" in body and "article 21" in body and "moyens automatisés" in body


def test_anonymous_notices_are_accepted_and_the_missing_elements_recorded(cw: Casework
                                                                         ) -> None:
    post(cw, "m1", 1)
    notice(cw, "csam-anon", 5, "message", "m1", category="csam", bona_fide=None)
    notice(cw, "ncii-anon", 6, "message", "m1", category="ncii", bona_fide=None)
    assert docs(cw, "notice_ack") == []  # nobody to acknowledge to (16(4))
    n = cw.compliance.notices
    assert n["csam-anon"].missing == ["(d) the bona fide statement"]  # (c) exempt: 2011/93
    assert n["ncii-anon"].missing == ["(c) the notifier's name and e-mail",
                                      "(d) the bona fide statement"]
    assert all(i.case_id for i in cw.intakes.values())  # still examined


def test_the_statement_of_reasons_speaks_the_users_language(cw: Casework) -> None:
    cw.handle(UserSeen(ts=T, user=User("u2", "bob")))
    post(cw, "m1", 1, "salut, tu viens ce soir ? je t'envoie les photos demain", author="u2")
    post(cw, "m2", 2, "on se retrouve au parc après les cours", author="u2")
    post(cw, "m3", 3, "hey, are you coming tonight? I will send the photos tomorrow")
    notice(cw, "n1", 5, "message", "m1")
    notice(cw, "n2", 5, "message", "m3")
    minutes = 10
    while (case := cw.take_next("rev", at(minutes))) is not None:
        cw.decide(case.id, "rev", {t: Verdict(Category.NCII if t.kind.value == "message"
                                              else None) for t in case.targets},
                  at(minutes + 5))
        minutes += 10
    sor = {d.recipient["id"]: d for d in docs(cw, "statement_of_reasons")}
    assert sor["u2"].language == "fr" and "Pourquoi nous avons restreint" in (sor["u2"].subject
                                                                           or "")
    assert sor["u1"].language == "en" and "Article 17" in (sor["u1"].body or "")
    statements = docs(cw, "tdb_statement")
    assert len(statements) == 2 and all(d.status == "ready" for d in statements)
    for d in statements:
        assert d.payload["source_type"] == "SOURCE_ARTICLE_16"
        assert d.payload["automated_decision"] == "AUTOMATED_DECISION_NOT_AUTOMATED"
        assert tdb.validate(d.payload) == []
        assert tdb.lint_personal_data(d.payload, ["alice", "bob", "Club"]) == []


def banned(cw: Casework, mid: str, aid: str, minutes: float, sha: str, author: str = "u1"
           ) -> None:
    post(cw, mid, minutes, "regarde", author=author,
         attachments=(Attachment(aid, filename="p.jpg", sha256=sha, md5=sha[:32]),))


def confirm_media(cw: Casework) -> None:
    """A reviewer confirms (wrongly, as a complaint will show) a file: it enters the
    internal bank of confirmed media."""
    banned(cw, "m1", "a1", 1, "ab" * 32)
    notice(cw, "n1", 2, "message", "m1", category="ncii")
    review(cw, "rev-1", 5, {tgt("message", "m1"): Category.NCII,
                                      tgt("attachment", "a1"): Category.NCII})
    assert cw.enforcement.covering(tgt("message", "m1")) is not None


def test_a_complaint_that_shows_the_decision_was_wrong_reverses_it_at_once(cw: Casework
                                                                          ) -> None:
    confirm_media(cw)
    banned(cw, "m9", "a9", 20, "ab" * 32, author="u3")  # a re-upload: blocked
    assert cw.enforcement.covering(tgt("attachment", "a9")) is not None
    decision = next(iter(cw.decisions.values()))
    reupload = cw.take_next("rev-3", at(21))  # the automatic block is reviewed
    assert reupload is not None and reupload.kind == "moderation"
    cw.decide(reupload.id, "rev-3", {}, at(26))  # no violation: the block is lifted
    assert cw.enforcement.covering(tgt("attachment", "a9")) is None
    cw.handle(ComplaintFiled(ts=at(60), complaint=Complaint(
        "c1", tgt("message", "m1"), "affected", complainant_id="u1",
        explanation="it is a photo of my cat")))
    case = cw.take_next("rev-2", at(61))
    assert case is not None and case.kind == "complaint"
    cw.decide(case.id, "rev-2", {tgt("message", "m1"): Verdict(None)}, at(66))
    assert cw.enforcement.covering(tgt("message", "m1")) is None  # restored
    assert not cw.labels.get(tgt("attachment", "a1"))  # labels removed
    assert cw.confirmed.match(None, sha256="ab" * 32) is None  # out of the internal bank
    (outcome,) = docs(cw, "complaint_outcome")
    assert outcome.refs["outcome"] == "reversed" and outcome.refs["decision_id"] == decision.id
    assert "reverse our decision" in (outcome.body or "")
    assert {d.refs["target"]["id"] for d in docs(cw, "restored")} >= {"m1"}
    assert cw.intakes["complaint:c1"].resolution is Resolution.UPHELD


def test_only_a_party_within_the_window_can_complain(cw: Casework) -> None:
    confirm_media(cw)
    late = at(5 + 60 * 24 * 200)
    for cid, who, when in (("c-stranger", "u7", at(30)), ("c-late", "u1", late)):
        cw.handle(ComplaintFiled(ts=when, complaint=Complaint(
            cid, tgt("message", "m1"), "affected", complainant_id=who)))
    stranger, late_one = cw.intakes["complaint:c-stranger"], cw.intakes["complaint:c-late"]
    assert stranger.resolution is Resolution.NOT_ADMISSIBLE
    assert late_one.resolution is Resolution.NOT_ADMISSIBLE and "6" in (late_one.reason or "")
    assert all(d.refs["outcome"] == "omitted" for d in docs(cw, "complaint_outcome"))
    assert cw.take_next("rev", late) is None  # nothing for a person to decide


def test_a_notifier_complaint_can_get_the_content_removed(cw: Casework) -> None:
    post(cw, "m1", 1)
    notice(cw, "n1", 2, "message", "m1", source=ReportSource.USER, reporter="r1")
    review(cw, "rev-1", 5, {})  # wrongly found not violating
    cw.handle(ComplaintFiled(ts=at(30), complaint=Complaint(
        "c1", tgt("message", "m1"), "notifier", complainant_id="r1", report_id="n1")))
    case = cw.take_next("rev-2", at(31))
    assert case is not None
    cw.decide(case.id, "rev-2", {tgt("message", "m1"): Verdict(Category.NCII)}, at(36))
    assert cw.enforcement.covering(tgt("message", "m1")) is not None
    (outcome,) = docs(cw, "complaint_outcome")
    assert outcome.refs["outcome"] == "newly_imposed"
    assert any(d.refs["decision_id"] == case.decision_id
               for d in docs(cw, "statement_of_reasons"))


def test_repeated_unfounded_notices_warn_then_suspend_the_reporting_channel(cw: Casework
                                                                           ) -> None:
    post(cw, "m0", 1)
    for i in range(10):  # 10 unfounded notices: a warning
        post(cw, f"m{i + 1}", 2 + i)
        notice(cw, f"t{i}", 20 + i, "message", f"m{i + 1}", source=ReportSource.USER,
               reporter="troll", category="ncii")
        review(cw, "rev", 40 + 10 * i, {})
    assert [d.refs["misuse"] for d in docs(cw, "misuse_warning")] == ["unfounded_notices"]
    post(cw, "m20", 200)
    notice(cw, "t10", 201, "message", "m20", source=ReportSource.USER, reporter="troll")
    review(cw, "rev", 210, {})
    (suspension,) = docs(cw, "misuse_suspension")
    notice(cw, "t11", 230, "message", "m0", source=ReportSource.USER, reporter="troll")
    assert cw.intakes["report:t11"].resolution is Resolution.REPORTER_SUSPENDED
    notice(cw, "t12", 231, "message", "m0", source=ReportSource.USER, reporter="troll",
           category="csam")  # child sexual abuse is always looked at
    assert cw.intakes["report:t12"].pending
    assert suspension.refs["until"] is not None


def test_repeated_illegal_posts_warn_then_suspend_the_account_for_a_while(cw: Casework
                                                                         ) -> None:
    for i in range(4):
        post(cw, f"m{i}", 1 + 100 * i)
        notice(cw, f"n{i}", 2 + 100 * i, "message", f"m{i}")
        case = cw.take_next("rev", at(10 + 100 * i))
        assert case is not None
        cw.decide(case.id, "rev", {t: Verdict(Category.NCII if t.kind.value == "message"
                                              else None) for t in case.targets},
                  at(15 + 100 * i))
    assert len(docs(cw, "misuse_warning")) == 1
    assert len(docs(cw, "misuse_suspension")) == 1
    action = cw.enforcement.suspended("u1", at(400))
    assert action is not None and action.detail["basis"] == "DSA23(1)"
    assert cw.enforcement.suspended("u1", at(400 + 60 * 24 * 31)) is None  # it ends
    sor = [d for d in docs(cw, "statement_of_reasons")
           if d.refs["decision_id"] == action.id]
    assert sor and ("30 days" in (sor[0].body or "") or "30 jours" in (sor[0].body or ""))


def test_a_degrading_trusted_flagger_is_reported_to_its_coordinator_once(cw: Casework
                                                                        ) -> None:
    for i in range(12):
        post(cw, f"m{i}", 1 + i)
        notice(cw, f"tf{i}", 20 + i, "message", f"m{i}",
               source=ReportSource.TRUSTED_FLAGGER, flagger="point-de-contact",
               category="csam")
        review(cw, "rev", 40 + 10 * i, {})
    (letter,) = docs(cw, "flagger_quality")
    assert letter.recipient["id"] == "Arcom" and letter.language == "fr"
    assert letter.refs["precision"] == 0.0 and "22, paragraphe 6" in (letter.body or "")


def test_sextortion_of_a_minor_files_ncmec_and_refers_to_pharos(cw: Casework) -> None:
    cw.handle(UserSeen(ts=T, user=User("kid", "lea", age_band=AgeBand.AGE_13_15)))
    cw.handle(UserSeen(ts=T, user=User("x", "maxime")))
    cw.handle(ChannelCreated(ts=T, channel=Channel("dm1", None, "dm")))
    lines = ["tu as quel âge ? envoie une photo", "si tu bloques j'envoie tout à tes parents"]
    for i, line in enumerate(lines):
        post(cw, f"d{i}", 1 + i, line, author="x", guild=None, channel="dm1",
             recipients=("kid",))
    cw.handle(ReportFiled(ts=at(5), report=Report(
        "r1", ReportSource.USER, tgt("user", "x"), "sextortion",
        "il menace d'envoyer mes photos à mes parents", "kid")))
    labels = {tgt("user", "x"): Category.SEXTORTION,
              **{tgt("message", f"d{i}"): Category.SEXTORTION for i in range(2)}}
    case = cw.take_next("rev", at(10))
    assert case is not None
    cw.view_media(case.id, "rev", at(10))
    cw.decide(case.id, "rev", {t: Verdict(labels.get(t)) for t in case.targets}, at(15))
    (report,) = docs(cw, "ncmec_report")
    xml = report.payload["xml"]
    assert ncmec.validate_xml(xml) == []
    assert "<incidentType>Online Enticement of Children for Sexual Acts</incidentType>" in xml
    assert "<sextortion />" in xml and "<escalateToHighPriority>" in xml
    assert "<victim>" in xml and "<espIdentifier>kid</espIdentifier>" in xml
    assert report.payload["chat_context"]
    (referral,) = docs(cw, "referral")
    assert referral.recipient["id"] == "FR" and "PHAROS" in referral.payload["authority"]
    assert referral.payload["victims"] == [{"id": "kid", "age_band": "13_15"}]
    assert referral.payload["evidence"] and referral.language == "fr"


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return write_suite(tmp_path_factory.mktemp("suite"))


def test_every_document_of_the_replay_passes_its_validator(suite: tuple[Path, Path, Path]
                                                          ) -> None:
    events, oracle, bank = suite
    result = run_replay(events, oracle, reviewers=2, review_seconds=300, bank_paths=[bank],
                        baseline=False)
    doc = result.document
    assert doc["statements_of_reasons"] and doc["ncmec_reports"]
    for s in doc["statements_of_reasons"]:
        assert tdb.validate(s) == [], s
        assert tdb.lint_personal_data(s) == [], s
    assert len({s["puid"] for s in doc["statements_of_reasons"]}) == len(
        doc["statements_of_reasons"])
    for xml in doc["ncmec_reports"]:
        assert ncmec.validate_xml(xml) == []
    assert doc["documents"]["invalid"] == []
    counts = doc["documents"]["counts"]
    for kind in ("notice_ack", "decision_notice", "statement_of_reasons", "referral",
                 "complaint_outcome"):
        assert counts[kind]["ready"] > 0, kind
    # every restricting decision has its statement (content refused on arrival, which the
    # platform never had, restricts nobody)
    never_posted = {p["subject"]["id"] for p in doc["prevented"]}
    restricting = {a["decision_id"] or a["id"] for a in doc["actions"]
                   if a["action"] in ("remove_content", "block_upload", "suspend_account",
                                      "delete_guild") and not a.get("detail", {}).get(
                       "already_gone") and a["target"]["id"] not in never_posted}
    puids = {s["puid"] for s in doc["statements_of_reasons"]}
    assert restricting and all(any(tdb.puid_for(d, a["target"]["kind"], a["target"]["id"])
                                   in puids for a in doc["actions"]
                                   if (a["decision_id"] or a["id"]) == d
                                   and a["target"]["id"] not in never_posted)
                               for d in restricting)


def test_the_transparency_report_from_a_stored_run(suite: tuple[Path, Path, Path],
                                                   tmp_path: Path) -> None:
    events, oracle, bank = suite
    db = str(tmp_path / "v.db")
    r = runner.invoke(app, ["replay", str(events), "--oracle", str(oracle), "--bank", str(bank),
                            "--db", db, "--out", str(tmp_path / "R.json"), "-q",
                            "--no-baseline"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["report", "transparency", "--year", "2026", "--db", db, "--out",
                            str(tmp_path / "tr")])
    assert r.exit_code == 0, r.output
    parts = {p.stem: p for p in (tmp_path / "tr").glob("*.csv")}
    assert sorted(parts) == ["Part_4_notices", "Part_5_own_initiative_illegal",
                             "Part_6_own_initiative_TC", "Part_7_appeals_and_recidivism",
                             "Part_8_automated_means"]
    raw = parts["Part_4_notices"].read_bytes()
    assert b"\r\n" in raw and not raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
    assert len({len(r) for r in rows}) == 1 and rows[1][3] == "TOTAL"
    total = dict(zip(rows[0], rows[1], strict=True))
    assert int(total["Number of notices received "]) >= 1000
    assert float(total["Median time to take action"]) >= 0
    appeals = list(csv.reader(parts["Part_7_appeals_and_recidivism"].open(newline="")))
    values = {(r[4], r[5]): r[6] for r in appeals[1:]}
    assert values[("Number of complaints submitted to the internal-complaints mechanism",
                   "Total number")] == "3"
    assert values[("Number of disputes submitted to out-of-court dispute settlement bodies",
                   "Total number")] == ""  # not recorded here: blank, with the reason
    html = (tmp_path / "tr" / "transparency.html").read_text(encoding="utf-8")
    assert "<svg" in html and "Part 4 notices" in html
    r = runner.invoke(app, ["documents", "list", "--db", db, "--kind", "referral", "--json"])
    assert r.exit_code == 0 and json.loads(r.output)[0]["kind"] == "referral"
    referral = json.loads(r.output)[0]["id"]
    r = runner.invoke(app, ["documents", "show", referral, "--db", db])
    assert r.exit_code == 0 and "PHAROS" in r.output and "article 18" in r.output
    r = runner.invoke(app, ["documents", "show", "no-such-doc", "--db", db])
    assert r.exit_code == 2 and "no document" in r.output


def test_documents_and_their_clocks_survive_a_restart(tmp_path: Path) -> None:
    from veilleur.deployment import stored_casework
    from veilleur.enforce.evidence import EvidenceKey
    from veilleur.store.casework import database_casework
    from veilleur.store.content import StoredState
    from veilleur.store.db import connect
    from veilleur.store.writer import StoreWriter

    db = connect(f"sqlite:///{tmp_path / 'v.db'}")
    key = EvidenceKey.generate()
    engine = Engine.build(store=StoreWriter(db), state=StoredState(db))
    first = database_casework(db, key, engine)  # as `replay --db` does
    for e in (GuildCreated(ts=T, guild=Guild("g1", "Club", "owner")),
              ChannelCreated(ts=T, channel=Channel("c1", "g1", "general"))):
        first.handle(e)
    confirm_media(first)
    first.close()
    again = stored_casework(db, key)
    kinds = {d.kind for d in again.compliance.documents.values()}
    assert {"statement_of_reasons", "tdb_statement"} <= kinds
    decision = next(iter(again.decisions))
    assert again.compliance.complaint_window(decision, "u1") is not None
    again.handle(ComplaintFiled(ts=at(90), complaint=Complaint(
        "c1", tgt("message", "m1"), "affected", complainant_id="u1")))
    case = again.take_next("rev-2", at(91))
    assert case is not None and case.kind == "complaint"
    again.decide(case.id, "rev-2", {tgt("message", "m1"): Verdict(None)}, at(95))
    again.close()
    third = stored_casework(db, key)
    assert third.enforcement.covering(tgt("message", "m1")) is None
    assert not third.labels.get(tgt("attachment", "a1"))  # lifted labels stay lifted
    assert third.confirmed.match(None, sha256="ab" * 32) is None
    assert any(d.kind == "complaint_outcome" for d in third.compliance.documents.values())
    db.dispose()
