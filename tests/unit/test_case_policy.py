import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from veilleur.cases.config import (
    CasePolicyError,
    load_case_policy,
    parse_case_policy,
    parse_flaggers,
)
from veilleur.cases.models import Clock, Intake, IntakeKind
from veilleur.cases.priority import TrackRecords, prioritize
from veilleur.detect.base import POLICY_DIR
from veilleur.taxonomy import Category, Target

T = datetime(2026, 3, 1, tzinfo=UTC)
POLICY = load_case_policy()


def _raw() -> dict:
    return tomllib.loads((POLICY_DIR / "cases.toml").read_text(encoding="utf-8"))


def test_the_shipped_policy_and_registry_load() -> None:
    assert POLICY.target_hours("csam") == 1.0
    assert POLICY.legal_deadline_hours("csam") == 24.0
    assert {"point-de-contact", "e-enfance"} <= set(POLICY.flaggers)
    assert len(POLICY.territorial_scope) == 30


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["weights"].update(severity=0.9), "weights.*sum to 1"),
    (lambda d: d["measures"]["csam"].update(user=["ban_forever"]), "measures.csam.user"),
    (lambda d: d["measures"]["csam"].update(case=["remove_content"]), "measures.csam.case"),
    (lambda d: d["auto"][0].update(action="delete_guild"), "auto #1"),
    (lambda d: d["targets"].pop("csam"), "targets.csam"),
    (lambda d: d["severity"].update(spam=0.1), r"\[severity\]: unknown entries"),
    (lambda d: d["grounds"].pop("ncii"), "grounds.ncii"),
])
def test_errors_name_the_file_and_the_entry(edit, message: str) -> None:  # type: ignore[no-untyped-def]
    data = _raw()
    edit(data)
    with pytest.raises(CasePolicyError, match=f"cases.toml: .*{message}"):
        parse_case_policy(data, "cases.toml")


def test_flagger_registry_errors() -> None:
    with pytest.raises(CasePolicyError, match="flagger #1: missing 'name'"):
        parse_flaggers({"flagger": [{"id": "x"}]})
    with pytest.raises(CasePolicyError, match="duplicate id"):
        parse_flaggers({"flagger": [{"id": "x", "name": "X"}, {"id": "x", "name": "Y"}]})


def _intake(i: int, *, source: str = "user", category: Category | None = Category.CSAM,
            reporter: str | None = None, kind: IntakeKind = IntakeKind.REPORT, score: float = 0,
            flagger: str | None = None, explanation: str | None = None,
            keys: tuple[str, ...] = ()) -> Intake:
    return Intake(f"r{i}", kind, source, Target.of("guild", "g"), category, T, T, score=score,
                  reporter_id=reporter, flagger=flagger, explanation=explanation,
                  signal_keys=keys)


def _priority(intakes: list[Intake], members: int = 10, records: TrackRecords | None = None
              ) -> float:
    return prioritize(intakes, [members], policy=POLICY, records=records or TrackRecords())[0]


def test_severity_orders_csam_before_grooming_before_ncii() -> None:
    p = {c: _priority([_intake(1, category=c, reporter="u")])
         for c in (Category.CSAM, Category.GROOMING, Category.NCII)}
    assert p[Category.CSAM] > p[Category.GROOMING] > p[Category.NCII]


def test_sources_by_track_record() -> None:
    flagger = _priority([_intake(1, source="trusted_flagger", flagger="point-de-contact")])
    fresh = _priority([_intake(1, reporter="new")])
    records = TrackRecords()
    troll = _intake(1, reporter="troll")
    for _ in range(10):
        records.record(troll, upheld=False)
    trolled = _priority([troll], records=records)
    reliable = _intake(1, reporter="reliable")
    for _ in range(10):
        records.record(reliable, upheld=True)
    assert _priority([reliable], records=records) > fresh > trolled
    assert flagger > fresh


def test_a_thousand_accounts_weigh_no_more_than_the_strongest_three() -> None:
    three = _priority([_intake(i, reporter=f"u{i}") for i in range(3)])
    thousand = _priority([_intake(i, reporter=f"u{i}") for i in range(1000)])
    assert thousand == pytest.approx(three)


def test_risk_now_and_reach_raise_priority_and_are_explained() -> None:
    calm = prioritize([_intake(1, category=Category.GROOMING, reporter="v")], [0],
                      policy=POLICY, records=TrackRecords())
    meeting = prioritize([_intake(1, category=Category.GROOMING, reporter="v",
                                  kind=IntakeKind.FINDING, score=0.8,
                                  keys=("grooming.secrecy_meeting",))], [0],
                         policy=POLICY, records=TrackRecords())
    assert meeting[0] > calm[0]
    why = {f.name: f for f in meeting[1]}
    assert why["risk_now"].value == 1.0 and "meeting" in why["risk_now"].why
    said = prioritize([_intake(1, reporter="v", explanation="il menace de tout envoyer")], [0],
                      policy=POLICY, records=TrackRecords())[1]
    assert {f.name: f.value for f in said}["risk_now"] == 1.0
    assert _priority([_intake(1, reporter="v")], members=5000) > \
        _priority([_intake(1, reporter="v")], members=3)


def test_clock_runs_pauses_restarts_and_stops() -> None:
    c = Clock("removal", "legal", T, 24, "LCEN 6-1")
    assert c.status(T + timedelta(hours=1), 0.25) == "running"
    assert c.status(T + timedelta(hours=19), 0.25) == "at_risk"
    assert c.status(T + timedelta(hours=24), 0.25) == "breached"
    c.pause(T + timedelta(hours=2), "force majeure")
    assert c.due is None and c.status(T + timedelta(days=5), 0.25) == "paused"
    c.restart(T + timedelta(hours=10), "obstacle cleared")
    assert c.due == T + timedelta(hours=34)
    c.stopped_at = T + timedelta(hours=30)
    assert c.status(T + timedelta(days=9), 0.25) == "met"
    assert [h["event"] for h in c.history] == ["paused", "restarted"]


def test_policy_folder_without_registry_loads(tmp_path: Path) -> None:
    (tmp_path / "cases.toml").write_text((POLICY_DIR / "cases.toml").read_text())
    assert load_case_policy(tmp_path).flaggers == {}
