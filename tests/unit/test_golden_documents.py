"""Golden files: every letter in French and English, the TDB statement, the CyberTipline XML.

A change of wording shows up here as a diff to read. To accept it: `UPDATE_GOLDEN=1 pytest
tests/unit/test_golden_documents.py`, then review `git diff tests/golden`.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_ncmec import tip
from tests.unit.test_tdb import POLICY, restriction
from veilleur.compliance import letters, ncmec, tdb

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
T = datetime(2026, 3, 2, 14, 5, tzinfo=UTC)
LATER = datetime(2026, 3, 4, 18, 35, tzinfo=UTC)


def contexts(lang: str) -> dict[str, dict[str, Any]]:
    w = lambda key, **kw: letters.word(lang, key, **kw)  # noqa: E731
    item = {"what": w("message", when=letters.day(T, lang), where="#vos-ex"),
            "measures": w("remove_content"), "scope": w("scope_all"),
            "duration": w("indefinite"),
            "facts": w("facts", kinds=letters.kinds(lang, ["text", "image"]),
                       harm=w("ncii"), source=w("src_notice")),
            "ground": "illegal",
            "ground_text": "Code pénal art. 226-2-1 (non-consensual intimate images)",
            "why": w("why_ncii"), "explanation": None}
    account = item | {"what": w("user"), "measures": w("terminated"),
                      "facts": w("facts_account", kinds="", harm=w("ncii"),
                                 source=w("src_notice"))}
    common = {"provider": "Veilleur demo platform"}
    return {
        "notice_ack": common | {"notice_id": "nc-notice-1", "name": "Camille Durand",
                                "received_at": T, "items": ["message nc-msg-0",
                                                            "message nc-msg-1"],
                                "trusted_flagger": None,
                                "incomplete": ["(d) the bona fide statement"]},
        "decision_notice": common | {
            "notice_id": "nc-notice-1", "name": "Camille Durand", "received_at": T,
            "decided_at": LATER,
            "items": [{"what": "message nc-msg-0",
                       "outcome": w("upheld", measures=w("remove_content")), "reason": None},
                      {"what": "message nc-msg-1", "outcome": w("rejected"), "reason": None}],
            "automated": w("automated_notice"), "complaint_until": datetime(2026, 9, 4),
            "complaints_url": "https://platform.example/appeals"},
        "statement_of_reasons": common | {
            "name": "ex_leaks", "applied_at": T, "items": [item, account], "account": True,
            "contents": True, "automation": w("auto_not"),
            "terms_url": "https://platform.example/terms",
            "complaint_until": datetime(2026, 9, 2),
            "complaints_url": "https://platform.example/appeals", "reference": "decision-38"},
        "restored": common | {"name": "dropper", "at": LATER, "applied_at": T,
                              "what": w("attachment", name="photo.jpg",
                                        when=letters.day(T, lang)),
                              "measure": w("restored_content"),
                              "reason": w("review_no_violation"), "reference": "action-12"},
        "complaint_outcome": common | {
            "complaint_id": "nc-complaint-1", "name": "ex_leaks", "decision_ref": "decision-38",
            "received_at": T, "decided_at": LATER, "outcome_text": w("c_reversed"),
            "reversal": w("remove_content"), "refused": False},
        "complaint_refused": common | {
            "complaint_id": "nc-complaint-3", "name": None, "decision_ref": "decision-39",
            "received_at": T, "decided_at": T, "outcome_text": w("c_rejected_late", months=6),
            "reversal": None, "refused": True},
        "misuse_warning": common | {
            "stage": "warning", "kind": "unfounded_notices", "name": "troll", "window_days": 90,
            "count": 10, "total": 10, "suspension_days": 30, "warned_at": T, "until": T,
            "complaints_url": "https://platform.example/appeals"},
        "misuse_suspension": common | {
            "stage": "suspension", "kind": "illegal_content", "name": "dropper",
            "window_days": 90, "count": 4, "total": 5, "suspension_days": 30,
            "warned_at": T, "until": datetime(2026, 4, 3, tzinfo=UTC),
            "complaints_url": "https://platform.example/appeals"},
        "flagger_quality": {
            "flagger": "Example Flagger", "dsc": "Arcom", "member_state": "FR",
            "provider": "Veilleur demo platform", "since": datetime(2026, 1, 1, tzinfo=UTC),
            "until": T, "decided": 12, "upheld": 3, "rejected": 9, "precision": "0.25",
            "threshold": "0.50", "contact": "trust-and-safety@platform.example",
            "rows": [{"id": "tf-1", "received_at": T, "resolution": "rejected"}]},
        "referral": common | {
            "authority": "PHAROS (OFAC, police nationale)",
            "channel": "https://www.internet-signalement.gouv.fr",
            "reference": "case-7/decision-8", "harm": w("sextortion"),
            "urgency": w("urgent_sextortion"), "first_seen": T, "last_seen": LATER,
            "suspect": {"id": "ve-extortionist", "name": "maxime", "created_at": None},
            "victims": [{"id": "ve-victim", "age_band": "13_15"}],
            "measures": f"{w('suspend_account')}, {w('remove_content')}",
            "evidence": [{"id": "ev-18", "target": "message:ve-msg-0", "sha256": "ef3e" * 16}],
            "ncmec": True, "contact": "trust-and-safety@platform.example"},
    }


TEMPLATE = {"complaint_refused": "complaint_outcome", "misuse_warning": "misuse",
            "misuse_suspension": "misuse"}
CASES = [(kind, lang) for lang in ("fr", "en") for kind in contexts(lang)]


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize(("kind", "lang"), CASES)
def test_letters_match_their_golden_files(kind: str, lang: str) -> None:
    subject, body = letters.render(TEMPLATE.get(kind, kind), lang, **contexts(lang)[kind])
    check(f"{kind}.{lang}.txt", f"Subject: {subject}\n\n{body}")


def test_the_tdb_statement_matches_its_golden_file() -> None:
    s = tdb.statement(restriction(), POLICY)
    assert tdb.validate(s) == []
    check("tdb_statement.json", json.dumps(s, ensure_ascii=False, indent=1) + "\n")


def test_the_cybertipline_report_matches_its_golden_file() -> None:
    xml = ncmec.report_xml(tip())
    assert ncmec.validate_xml(xml) == []
    check("ncmec_report.xml", xml + "\n")
    f = ncmec.ReportedFile("a1", "p.jpg", T, "0" * 32, "1" * 64, "f" * 64, False, True)
    check("ncmec_file_details.xml", ncmec.file_details_xml("100000", "f1", f) + "\n")
