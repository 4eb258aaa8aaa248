"""Whatever arrives, in whatever order: every intake ends with a resolution and a reason, no
action touches a target the reviewers never confirmed, and the audit log verifies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from veilleur.audit import verify
from veilleur.cases.casework import Casework
from veilleur.cases.review import Verdict
from veilleur.enforce.actions import RESTRICTING
from veilleur.engine import Engine
from veilleur.events import (
    Guild,
    GuildCreated,
    GuildDeleted,
    MemberJoined,
    Message,
    MessageDeleted,
    MessagePosted,
    Report,
    ReportFiled,
    ReportSource,
)
from veilleur.taxonomy import Category, Target, TargetKind

T = datetime(2026, 3, 1, tzinfo=UTC)
TEXTS = ["salut", "gg", "Pack VIP -12 ans, prix paypal", "garde ça secret, envoie une photo",
         "trib ma cousine", "on joue ce soir ?"]

step = st.one_of(
    st.tuples(st.just("post"), st.integers(0, 9), st.integers(0, 2), st.integers(0, 5),
              st.sampled_from(TEXTS)),
    st.tuples(st.just("report"), st.sampled_from(list(ReportSource)),
              st.sampled_from(["message", "user", "guild", "channel"]), st.integers(0, 9),
              st.sampled_from([None, "csam", "ncii", "bogus"])),
    st.tuples(st.just("join"), st.integers(0, 2), st.integers(0, 5)),
    st.tuples(st.just("delete_message"), st.integers(0, 9)),
    st.tuples(st.just("delete_guild"), st.integers(0, 2)),
    st.tuples(st.just("review"), st.integers(0, 2)),
)
truth = st.dictionaries(st.sampled_from([f"m{i}" for i in range(10)] + ["u0", "u1", "g0"]),
                        st.sampled_from(list(Category)), max_size=6)


def _target(label: str) -> Target:
    kind = {"m": TargetKind.MESSAGE, "u": TargetKind.USER, "g": TargetKind.GUILD}[label[0]]
    return Target(kind, label)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=40), truth)
def test_nothing_falls_through(steps: list[tuple], labels: dict[str, Category]) -> None:  # type: ignore[type-arg]
    cw = Casework(Engine.build())  # a fresh engine: detectors keep state across events
    oracle = {_target(k): v for k, v in labels.items()}
    for g in range(3):
        cw.handle(GuildCreated(ts=T, guild=Guild(f"g{g}", f"server {g}", "u0")))
    now = T
    for n, s in enumerate(steps):
        now = now + timedelta(minutes=7)
        kind = s[0]
        if kind == "post":
            _, m, g, u, text = s
            cw.handle(MessagePosted(ts=now, message=Message(f"m{m}", f"c{g}", f"g{g}", f"u{u}",
                                                            text)))
        elif kind == "report":
            _, source, tkind, i, cat = s
            tid = {"message": f"m{i}", "user": f"u{i % 6}", "guild": f"g{i % 3}",
                   "channel": f"c{i % 3}"}[tkind]
            cw.handle(ReportFiled(ts=now, report=Report(
                f"r{n}", source, Target.of(tkind, tid), cat, None, f"u{i % 4}", None,
                "point-de-contact" if source is ReportSource.TRUSTED_FLAGGER else None)))
        elif kind == "join":
            cw.handle(MemberJoined(ts=now, guild_id=f"g{s[1]}", user_id=f"u{s[2]}"))
        elif kind == "delete_message":
            cw.handle(MessageDeleted(ts=now, message_id=f"m{s[1]}", by="author"))
        elif kind == "delete_guild":
            cw.handle(GuildDeleted(ts=now, guild_id=f"g{s[1]}", by="owner"))
        else:
            for _ in range(s[1]):
                case = cw.take_next("r", now)
                if case is None:
                    break
                cw.decide(case.id, "r", {t: Verdict(oracle.get(t)) for t in case.targets},
                          now + timedelta(minutes=1))
    # Reviewers work through what is left.
    while (case := cw.take_next("r", now)) is not None:
        cw.decide(case.id, "r", {t: Verdict(oracle.get(t)) for t in case.targets}, now)
    assert all(i.resolution is not None and i.reason for i in cw.intakes.values())
    assert all(c.status == "closed" for c in cw.cases.values())
    for a in cw.enforcement.actions.values():
        if a.action in RESTRICTING and a.action != "block_join" and a.active:
            assert a.target in oracle, a.to_json()
    assert verify(cw.audit.entries).ok
