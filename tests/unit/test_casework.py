"""Casework end to end on hand-made events: intake, grouping, queue, clocks, decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from veilleur.cases.casework import Casework
from veilleur.cases.models import Resolution
from veilleur.cases.review import ReviewError, Verdict
from veilleur.enforce.evidence import open_record
from veilleur.engine import Engine
from veilleur.events import (
    AgeBand,
    Attachment,
    Channel,
    ChannelCreated,
    Guild,
    GuildCreated,
    GuildDeleted,
    MemberJoined,
    Message,
    MessageDeleted,
    MessagePosted,
    OrderUpdated,
    Report,
    ReportFiled,
    ReportSource,
    User,
    UserSeen,
)
from veilleur.taxonomy import Category, Target

T = datetime(2026, 3, 1, 12, tzinfo=UTC)
CSAM = Category.CSAM


def at(minutes: float) -> datetime:
    return T + timedelta(minutes=minutes)


def tgt(kind: str, id: str) -> Target:
    return Target.of(kind, id)


@pytest.fixture
def cw() -> Casework:
    work = Casework(Engine.build())
    for e in (GuildCreated(ts=T, guild=Guild("g1", "Club", "owner")),
              ChannelCreated(ts=T, channel=Channel("c1", "g1", "general")),
              UserSeen(ts=T, user=User("owner", "owner"))):
        work.handle(e)
    return work


def post(cw: Casework, mid: str, minutes: float, text: str = "salut", author: str = "u1",
         guild: str | None = "g1", channel: str = "c1", attachments: tuple = ()) -> None:
    cw.handle(MessagePosted(ts=at(minutes), message=Message(
        mid, channel, guild, author, text, attachments=attachments)))


def report(cw: Casework, rid: str, minutes: float, kind: str, id: str, *,
           source: ReportSource = ReportSource.USER, category: str | None = "csam",
           reporter: str | None = "r1", flagger: str | None = None,
           explanation: str | None = None) -> None:
    cw.handle(ReportFiled(ts=at(minutes), report=Report(
        rid, source, tgt(kind, id), category, explanation, reporter, None, flagger)))


def review(cw: Casework, reviewer: str, minutes: float, labels: dict[Target, Category]):  # type: ignore[no-untyped-def]
    case = cw.take_next(reviewer, at(minutes))
    assert case is not None
    verdicts = {t: Verdict(labels.get(t)) for t in case.targets}
    return case, cw.decide(case.id, reviewer, verdicts, at(minutes + 5))


def test_a_report_is_recorded_acknowledged_and_preserved_before_review(cw: Casework) -> None:
    post(cw, "m1", 1)
    report(cw, "r1", 2, "message", "m1")
    intake = cw.intakes["report:r1"]
    assert intake.acknowledged_at == at(2) and intake.pending
    case = cw.cases[intake.case_id]  # type: ignore[index]
    assert {tgt("message", "m1"), tgt("user", "u1"), tgt("guild", "g1"),
            tgt("user", "owner")} <= set(case.targets)
    preserved = [a for a in cw.enforcement.actions.values() if a.action == "preserve_evidence"]
    assert {a.target for a in preserved} == set(case.targets)
    assert all(a.ts == at(2) for a in preserved)
    kinds = [e.kind for e in cw.audit.entries]
    assert kinds.index("intake") < kinds.index("evidence.preserved")


def test_reports_on_the_same_server_join_one_case(cw: Casework) -> None:
    post(cw, "m1", 1, author="u1")
    post(cw, "m2", 1, author="u2")
    report(cw, "r1", 2, "message", "m1")
    report(cw, "r2", 3, "guild", "g1", reporter="r2")
    report(cw, "r3", 4, "message", "m2", reporter="r3")
    assert len({cw.intakes[f"report:r{i}"].case_id for i in (1, 2, 3)}) == 1
    assert cw.stats.cases_opened == 1


def test_a_case_under_review_is_not_changed_and_its_decision_settles_followups(
        cw: Casework) -> None:
    post(cw, "m1", 1)
    report(cw, "r1", 2, "guild", "g1")
    case = cw.take_next("alice", at(3))
    assert case is not None
    report(cw, "r2", 4, "message", "m1", reporter="r2")
    follow = cw.cases[cw.intakes["report:r2"].case_id]  # type: ignore[index]
    assert follow.id != case.id and follow.follows == case.id
    with pytest.raises(ReviewError, match="being reviewed by alice"):
        cw.take(case.id, "bob", at(4))
    cw.decide(case.id, "alice", {tgt("guild", "g1"): Verdict(CSAM)}, at(8))
    assert cw.intakes["report:r2"].resolution is Resolution.ALREADY_ACTIONED
    assert follow.status == "closed" and cw.queue(at(9)) == []
    # The server is gone: its later posts and joins are stopped.
    post(cw, "m3", 10, author="u9")
    cw.handle(MemberJoined(ts=at(11), guild_id="g1", user_id="u8"))
    assert [p.reason for p in cw.prevented] == ["its server was deleted", "the server was deleted"]


def test_the_queue_takes_the_gravest_first(cw: Casework) -> None:
    post(cw, "m1", 1, author="a", guild="g1")
    cw.handle(GuildCreated(ts=at(1), guild=Guild("g2", "Other", "o2")))
    post(cw, "m2", 1, author="b", guild="g2", channel="c2")
    report(cw, "r1", 2, "message", "m1", category="ncii")
    report(cw, "r2", 3, "message", "m2", category="csam", reporter="r2")
    first = cw.take_next("alice", at(4))
    assert first is not None and first.category is CSAM
    assert [f.name for f in first.factors] == ["severity", "confidence", "reach", "source",
                                               "risk_now"]


def test_clocks_raise_then_escalate_and_are_listed(cw: Casework) -> None:
    post(cw, "m1", 1)
    report(cw, "r1", 2, "message", "m1")  # CSAM: 1 h internal target
    cw.tick(at(2 + 46))
    case = cw.cases[cw.intakes["report:r1"].case_id]  # type: ignore[index]
    assert case.raised and not case.escalated
    assert [c["id"] for c in cw.clock_report(at(48))["at_risk"]] == [case.id]
    cw.tick(at(2 + 61))
    assert case.escalated and case.queue == "senior"
    assert cw.alerts[-1]["kind"] == "clock.breached"
    assert [c["id"] for c in cw.clock_report(at(63))["breached"]] == [case.id]


def test_a_confirmed_violation_is_carried_out_labelled_and_counted(cw: Casework) -> None:
    post(cw, "m1", 1, author="u1")
    report(cw, "r1", 2, "message", "m1", reporter="good")
    _, decision = review(cw, "alice", 3, {tgt("message", "m1"): CSAM, tgt("user", "u1"): CSAM})
    done = {(a.action, a.target) for a in cw.enforcement.actions.values()
            if a.decision_id == decision.id}
    assert done == {("remove_content", tgt("message", "m1")),
                    ("suspend_account", tgt("user", "u1")),
                    ("report_ncmec", tgt("user", "u1"))}
    assert "csam_confirmed" in cw.labels[tgt("user", "u1")]
    assert cw.intakes["report:r1"].resolution is Resolution.UPHELD
    assert cw.records.reporters["good"].upheld == 1
    by_target = {td.target: td for td in decision.targets}
    assert by_target[tgt("message", "m1")].ground_text.startswith("Code pénal art. 227-23")
    assert len(by_target[tgt("message", "m1")].territorial_scope) == 30
    assert not by_target[tgt("guild", "g1")].violation
    # A suspended account's next post and join are stopped.
    post(cw, "m2", 20, author="u1")
    cw.handle(MemberJoined(ts=at(21), guild_id="g1", user_id="u1"))
    assert [a.action for a in cw.enforcement.actions.values()][-1] == "block_join"
    assert len(cw.prevented) == 2
    # Evidence was extended for a year from the NCMEC report.
    ev = cw.vault.records[cw.vault.by_target[tgt("user", "u1")][0]]
    assert ev.expires_at >= at(8) + timedelta(days=365)


def test_trolls_are_answered_once_and_lose_weight(cw: Casework) -> None:
    post(cw, "m1", 1, author="u1")
    for i in range(50):
        report(cw, f"t{i}", 2 + i / 10, "message", "m1", reporter=f"troll{i % 5}")
    assert cw.stats.cases_opened == 1
    review(cw, "alice", 10, {})
    assert {cw.intakes[f"report:t{i}"].resolution for i in range(50)} == {Resolution.REJECTED}
    assert cw.records.reporters["troll0"].rejected == 10
    report(cw, "t-again", 30, "message", "m1", reporter="troll1")
    assert cw.intakes["report:t-again"].resolution is Resolution.ALREADY_REVIEWED
    # ...but a trusted flagger gets a fresh look.
    report(cw, "tf", 31, "message", "m1", source=ReportSource.TRUSTED_FLAGGER,
           reporter=None, flagger="point-de-contact")
    assert cw.intakes["report:tf"].pending
    assert not [a for a in cw.enforcement.actions.values() if a.action != "preserve_evidence"]


def test_authority_orders_keep_legal_clocks(cw: Casework) -> None:
    post(cw, "m1", 1)
    report(cw, "o1", 2, "message", "m1", source=ReportSource.AUTHORITY, reporter=None)
    clock = cw.intakes["report:o1"].clock
    assert clock is not None and clock.due == at(2) + timedelta(hours=24)
    cw.handle(OrderUpdated(ts=at(10), report_id="o1", status="force_majeure", note="outage"))
    assert clock.due is None
    cw.handle(OrderUpdated(ts=at(70), report_id="o1", status="obstacle_cleared"))
    assert clock.due == at(70) + timedelta(hours=24)
    # An order naming content this platform never had: clarification is requested.
    report(cw, "o2", 71, "message", "nowhere", source=ReportSource.AUTHORITY, reporter=None)
    o2 = cw.intakes["report:o2"].clock
    assert o2 is not None and o2.due is None and "clarification" in (o2.pause_reason or "")
    assert cw.alerts[-1]["kind"] == "order.clarification"
    cw.handle(OrderUpdated(ts=at(80), report_id="o-unknown", status="obstacle_cleared"))
    assert cw.alerts[-1]["kind"] == "order.unknown"
    review(cw, "alice", 90, {tgt("message", "m1"): CSAM})
    assert clock.status(at(200), 0.25) == "met"


def test_automatic_blocks_are_policy_reversible_and_confirmed_media_stays_out(
        cw: Casework, tmp_path: Path) -> None:
    from bench.imagegen import make_image

    from veilleur.detect.media.hashing import hash_file

    pic = tmp_path / "p.jpg"
    make_image(3, "photo").save(pic)
    media = hash_file(pic)
    att = Attachment("a1", "p.jpg", path=str(pic), md5=media.md5, sha256=media.sha256,
                     media=media)
    post(cw, "m1", 1, author="u1", attachments=(att,))
    report(cw, "r1", 2, "attachment", "a1")
    review(cw, "alice", 3, {tgt("attachment", "a1"): CSAM, tgt("message", "m1"): CSAM})
    # Re-posted elsewhere, by someone else, mirrored: stopped on upload, before anyone sees it.
    from PIL import ImageOps

    flipped = tmp_path / "q.jpg"
    ImageOps.mirror(make_image(3, "photo")).save(flipped)
    again = hash_file(flipped)
    cw.handle(GuildCreated(ts=at(30), guild=Guild("g2", "Next", "x")))
    post(cw, "m2", 31, author="u2", guild="g2", channel="c2", attachments=(Attachment(
        "a2", "q.jpg", path=str(flipped), md5=again.md5, sha256=again.sha256, media=again),))
    block = [a for a in cw.enforcement.actions.values() if a.action == "block_upload"]
    assert len(block) == 1 and block[0].automated and block[0].target == tgt("attachment", "a2")
    assert block[0].ts == at(31)
    # A reviewer who finds no violation reverses the automatic action.
    review(cw, "bob", 40, {})
    assert block[0].reverted_at == at(45) and not block[0].active


def test_deletion_by_a_user_never_deletes_preserved_evidence(cw: Casework) -> None:
    post(cw, "m1", 1, text="envoie une photo")
    report(cw, "r1", 2, "message", "m1")
    cw.handle(MessageDeleted(ts=at(3), message_id="m1", by="author"))
    cw.handle(GuildDeleted(ts=at(4), guild_id="g1", by="owner"))
    rid = cw.vault.by_target[tgt("message", "m1")][0]
    doc = open_record(cw.vault.records[rid], cw.vault.key)
    assert doc["messages"][-1]["content"] == "envoie une photo"
    assert any(e.kind == "target.gone" for e in cw.audit.entries)
    view = cw.view(cw.intakes["report:r1"].case_id, at(5))  # type: ignore[arg-type]
    gone = [t["gone"] for t in view["targets_in_context"] if "gone" in t]
    assert gone and gone[0]["by"] in ("author", "owner")


def test_engine_findings_are_intakes_and_the_case_explains_its_priority(cw: Casework) -> None:
    post(cw, "m1", 1, text="Pack VIP +400 vidéos -12 ans, prix 20€ paypal ou paysafecard")
    findings = [i for i in cw.intakes.values() if i.source == "engine"]
    assert findings and findings[0].category is CSAM and findings[0].score > 0.7
    view = cw.view(findings[0].case_id, at(2))  # type: ignore[arg-type]
    assert view["priority_explained"][1]["why"].startswith("engine score")
    assert any(c["kind"] == "internal" and c["hours"] == 1.0 for c in view["clocks"])


def test_deciding_needs_the_lock_and_known_targets(cw: Casework) -> None:
    post(cw, "m1", 1)
    report(cw, "r1", 2, "message", "m1")
    case_id = cw.intakes["report:r1"].case_id
    assert case_id is not None
    with pytest.raises(ReviewError, match="take it first"):
        cw.decide(case_id, "alice", {}, at(3))
    cw.take(case_id, "alice", at(3))
    with pytest.raises(ReviewError, match="not in the case"):
        cw.decide(case_id, "alice", {tgt("user", "zz"): Verdict(CSAM)}, at(4))
    # A reviewer can give a case back; a lock that lapsed can be taken over.
    cw.release(case_id, "alice", at(4))
    assert [c.id for c in cw.queue(at(4))] == [case_id]
    cw.take(case_id, "alice", at(5))
    assert cw.take(case_id, "bob", at(5 + 31)).locked_by == "bob"


def test_a_meeting_proposed_to_a_minor_is_referred_to_the_authorities(cw: Casework) -> None:
    cw.handle(UserSeen(ts=T, user=User("kid", "kid", age_band=AgeBand.AGE_13_15)))
    for i, text in enumerate(["tu as quel âge ?", "j'ai 13 ans",
                              "garde ça secret, on se voit demain après les cours"]):
        author, other = ("adult", "kid") if i != 1 else ("kid", "adult")
        cw.handle(MessagePosted(ts=at(i), message=Message(
            f"d{i}", "dm1", None, author, text, recipient_ids=(other,))))
    case = cw.take_next("alice", at(5))
    assert case is not None
    assert {f.name: f.value for f in case.factors}["risk_now"] == 1.0
    decision = cw.decide(case.id, "alice", {tgt("user", "adult"): Verdict(Category.GROOMING),
                                            tgt("message", "d2"): Verdict(Category.GROOMING)},
                         at(10))
    assert decision.case_measures == ("report_ncmec", "refer_authority")
    refer = [a for a in cw.enforcement.actions.values() if a.action == "refer_authority"]
    assert refer and refer[0].target == tgt("user", "adult")


def test_a_partial_decision_decides_the_named_targets_and_leaves_the_rest_open(
        cw: Casework) -> None:
    """A community's moderators decide their server's message and its author; the server
    and its owner stay open for the platform's reviewers, who then decide only those."""
    post(cw, "m1", 1)
    report(cw, "r1", 2, "message", "m1")
    report(cw, "r2", 2, "guild", "g1", reporter="r2")
    case = cw.take_next("mod", at(3))
    assert case is not None and tgt("guild", "g1") in case.targets
    with pytest.raises(ReviewError, match="nothing left to decide"):
        cw.decide(case.id, "mod", {}, at(4), partial=True)
    first = cw.decide(case.id, "mod", {tgt("message", "m1"): Verdict(CSAM),
                                       tgt("user", "u1"): Verdict(CSAM)}, at(4),
                      partial=True)
    assert {td.target for td in first.targets} == {tgt("message", "m1"), tgt("user", "u1")}
    # Open again for the rest; the report on the message is answered, the server's is not.
    assert case.status == "open" and case.locked_by is None and case.decision_id is None
    assert case.id in {c.id for c in cw.queue(at(5))}
    assert not cw.intakes["report:r1"].pending and cw.intakes["report:r2"].pending
    assert cw.decided_targets(case) == {tgt("message", "m1"), tgt("user", "u1")}
    assert cw.enforcement.suspended("u1", at(5)) is not None
    # The platform's reviewer: the targets already decided are not decided again (the
    # same verdict on them is ignored; a different one is refused, below).
    cw.take(case.id, "alice", at(6))
    second = cw.decide(case.id, "alice", {tgt("message", "m1"): Verdict(CSAM),
                                          tgt("guild", "g1"): Verdict(None)}, at(7))
    assert {td.target for td in second.targets} == {tgt("guild", "g1"), tgt("user", "owner")}
    assert not any(td.violation for td in second.targets)
    assert case.status == "closed" and case.decision_id == second.id
    assert cw.enforcement.suspended("u1", at(8)) is not None
    assert not cw.intakes["report:r2"].pending


def test_a_partly_decided_target_is_changed_only_by_new_information(cw: Casework) -> None:
    """A second reviewer cannot silently overturn an earlier partial decision (that is a
    complaint's job): refused, naming the decision. A report on the target that came in
    after it (a trusted flagger disagreeing) puts it back to be decided, and the report is
    answered by that new decision, not rejected by the old one."""
    post(cw, "m1", 1)
    report(cw, "r1", 2, "message", "m1")
    report(cw, "r2", 2, "guild", "g1", reporter="r2")
    case = cw.take_next("mod", at(3))
    assert case is not None
    first = cw.decide(case.id, "mod", {tgt("message", "m1"): Verdict(None)}, at(4),
                      partial=True)
    cw.take(case.id, "alice", at(5))
    with pytest.raises(ReviewError, match=f"decided in {first.id} by mod"):
        cw.decide(case.id, "alice", {tgt("message", "m1"): Verdict(CSAM)}, at(6))
    cw.release(case.id, "alice", at(6))
    report(cw, "tf", 7, "message", "m1", source=ReportSource.TRUSTED_FLAGGER, flagger="tf1",
           reporter=None)
    tf = cw.intakes["report:tf"]
    assert tf.case_id == case.id and tf.pending
    cw.take(case.id, "alice", at(8))
    final = cw.decide(case.id, "alice", {tgt("message", "m1"): Verdict(CSAM)}, at(9))
    assert any(td.target == tgt("message", "m1") and td.violation for td in final.targets)
    assert tf.resolution is Resolution.UPHELD and case.status == "closed"
