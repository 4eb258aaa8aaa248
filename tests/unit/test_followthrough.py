"""Follow-through of a replay: milestones read with errors that name their line, and how
soon each extorter, groomer, successor server and returning account was stopped."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from veilleur.cases.models import Action
from veilleur.ingest.problems import ProblemLog
from veilleur.sim.followthrough import parse_milestone, read_milestones, score_followthrough
from veilleur.taxonomy import Target

T = datetime(2026, 3, 1, 12, tzinfo=UTC)


def ts(minutes: float) -> str:
    return (T + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def act(minutes: float, action: str, kind: str, tid: str, *, reverted: bool = False
        ) -> Action:
    return Action(id=f"a-{tid}-{action}-{minutes}", ts=T + timedelta(minutes=minutes),
                  action=action, target=Target.of(kind, tid), case_id=None, automated=False,
                  category=None, reverted_at=T + timedelta(hours=9) if reverted else None)


def ms(kind: str, tkind: str, tid: str, sign: float, answer: float | None = None) -> dict:  # type: ignore[type-arg]
    m = {"kind": kind, "target": {"kind": tkind, "id": tid}, "sign_at": ts(sign)}
    if answer is not None:
        m["answer_at"] = ts(answer)
    return m


@pytest.mark.parametrize(("data", "words"), [
    ({"kind": "spam", "target": {"kind": "user", "id": "u"}, "sign_at": ts(0)}, "kind must"),
    ({"kind": [], "target": {"kind": "user", "id": "u"}, "sign_at": ts(0)}, "kind must"),
    ({"kind": {}, "target": {"kind": "user", "id": "u"}, "sign_at": ts(0)}, "kind must"),
    ({**ms("sextortion", "user", "u", 0), "target": {"kind": "user", "id": 7}}, "non-empty"),
    (ms("successor", "user", "u", 0), "names a guild"),
    (ms("sextortion", "user", "", 0), "non-empty id"),
    ({**ms("sextortion", "user", "u", 0), "sign_at": "yesterday"}, "ISO 8601"),
    ({**ms("sextortion", "user", "u", 0), "sign_at": "2026-03-01T12:00:00"}, "time zone"),
    (ms("sextortion", "user", "u", 0, answer=5), "grooming milestones only"),
    (ms("grooming", "user", "u", 10, answer=5), "before sign_at"),
    ({**ms("returning", "user", "u", 0), "why": "x"}, "unknown field"),
    ([1, 2], "JSON object"),
])
def test_a_bad_milestone_says_what_is_wrong(data: object, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_milestone(data)


def test_bad_lines_are_named_and_the_good_ones_still_count(tmp_path: Path) -> None:
    f = tmp_path / "m.jsonl"
    f.write_text("\n".join([json.dumps(ms("sextortion", "user", "x", 0)), '{"kind": []}',
                            json.dumps(ms("successor", "user", "g", 0)), "",
                            "x" * 5000, json.dumps(ms("returning", "user", "r", 1))]) + "\n")
    problems = ProblemLog()
    got = read_milestones(f, problems)
    assert [m.target.id for m in got] == ["x", "r"]
    said = [(p.where, p.problem) for p in problems]
    assert [w for w, _ in said] == ["line 2", "line 3", "line 5"]
    assert "names a guild" in said[1][1] and "longer than" in said[2][1]


def test_each_kind_is_timed_from_its_first_sign() -> None:
    milestones = [parse_milestone(m) for m in (
        ms("sextortion", "user", "ext1", 0), ms("sextortion", "user", "ext2", 0),
        ms("sextortion", "user", "ext3", 0),
        ms("grooming", "user", "g1", 0, answer=30), ms("grooming", "user", "g2", 0, answer=30),
        ms("successor", "guild", "s1", 10),
        ms("returning", "user", "r1", 0), ms("returning", "user", "r2", 0))]
    actions = [
        act(20, "suspend_account", "user", "ext1"),
        act(90, "suspend_account", "user", "ext2"),
        act(5, "block_join", "user", "ext3"),   # a refused join leaves the DMs open
        act(1, "suspend_account", "user", "ext3", reverted=True),  # undone: not a stop
        act(25, "suspend_account", "user", "g1"),
        act(40, "suspend_account", "user", "g2"),
        act(15, "delete_guild", "guild", "s1"),
        act(3, "block_join", "user", "r1"),
        act(2, "remove_content", "message", "r2"),
    ]
    got = score_followthrough(milestones, actions)
    ext = got["sextortion"]
    assert (ext["n"], ext["within_1h"], ext["stopped"], ext["never"]) == (3, 1, 2, 1)
    assert ext["seconds"]["max"] == 90 * 60
    groom = got["grooming"]
    assert (groom["before_answer"], groom["with_answer"], groom["within_1h"]) == (1, 2, 2)
    assert got["successor"]["seconds"]["median"] == 5 * 60
    ret = got["returning"]
    assert (ret["within_1h"], ret["never"]) == (1, 1)
    assert [r["target"]["id"] for r in ret["rows"] if r["stopped_at"] is None] == ["r2"]
