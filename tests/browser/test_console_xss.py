"""A case whose messages and reports carry htmx aimed at the reviewer's own powers (deciding
the case, changing their preferences), opened by a reviewer in a real browser: nothing fires,
and no element the browser built from that text has htmx attributes (issue 15)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.browser.conftest import Server
from tests.factories import gradient_png
from tests.service.conftest import PASSWORD, Service, message, open_service
from veilleur.service.app import create_app
from veilleur.store.models import AccountRow

pytestmark = pytest.mark.browser

PREFERENCES = ('<i hx-post="/console/preferences" hx-trigger="load" '
               'hx-vals=\'{"language": "fr", "blur": "light", "colour": "1"}\'>x</i>')


def _decide(case_id: str) -> str:
    return (f'"><i hx-post="/console/cases/{case_id}/decide" hx-trigger="load">x</i>'
            f'<b data-hx-post="/console/cases/{case_id}/decide" data-hx-trigger="load">y</b>')


def _attacked_case(s: Service, tmp_path: Path) -> str:
    (tmp_path / "media" / "p.png").write_bytes(gradient_png(64, 64, seed=7))
    events: list[dict[str, Any]] = [
        {"type": "user_seen", "ts": "2026-11-20T09:00:00Z",
         "user": {"id": "kid", "name": "lea", "age_band": "13_15"}},
        {"type": "user_seen", "ts": "2026-11-20T09:00:00Z",
         "user": {"id": "adult", "name": PREFERENCES, "age_band": "adult"}},
        message("d1", f"salut {PREFERENCES}", author="adult", channel="dm1", guild=None,
                ts="2026-11-20T09:01:00Z"),
        message("d2", "t'as quel âge ? envoie moi une photo de toi, c'est notre secret",
                author="adult", channel="dm1", guild=None, ts="2026-11-20T09:03:00Z",
                attachments=[{"id": "pic1", "path": "p.png", "content_type": "image/png"}]),
    ]
    assert s.post("/v1/events", {"events": events}).json()["accepted"] == len(events)
    target = {"kind": "message", "id": "d2"}
    assert s.post("/v1/reports", {"id": "R-1", "target": target, "category_claimed":
                                  "grooming", "explanation": "he asks for photos"}
                  ).status_code == 202
    s.drain()
    with s.rt.lock:
        case = s.rt.casework.case_of(s.rt.casework.intakes["report:R-1"].case_id)
    assert case is not None
    # Once the case exists, a second report aims at it by its id.
    assert s.post("/v1/reports", {"id": "R-2", "target": target, "category_claimed":
                                  "grooming", "explanation": _decide(case.id)}
                  ).status_code == 202
    s.drain()
    return case.id


def _preferences(s: Service) -> dict[str, Any]:
    with Session(s.rt.db) as session:
        row = session.get(AccountRow, "rita")
        assert row is not None
        return {"language": row.language, **(row.preferences or {})}


# Every element with an htmx attribute (htmx 2 also reads data-hx-*), and whether it sits in
# an element with hx-disable.
HTMX_ELEMENTS = """() => Array.from(document.querySelectorAll('*')).filter(el =>
  Array.from(el.attributes).some(a => /^(data-)?hx-/.test(a.name) && a.name !== 'hx-disable'))
  .map(el => ({tag: el.tagName.toLowerCase(), disabled: !!el.closest('[hx-disable]'),
               cls: el.className || '', html: el.outerHTML.slice(0, 120)}))"""


@pytest.fixture
def attacked(tmp_path: Path) -> Any:
    (tmp_path / "media").mkdir()
    for s in open_service(str(tmp_path / "v.db"), tmp_path):
        case_id = _attacked_case(s, tmp_path)
        with Server(create_app(runtime=s.rt, start=False)) as server:
            yield s, server, case_id


def test_htmx_in_a_case_does_not_act_for_the_reviewer(attacked: Any, browser: Any) -> None:
    s, server, case_id = attacked
    before = _preferences(s)
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(f"{r.method} {r.url}"))
    page.goto(f"{server.url}/console/login")
    page.fill("input[name=username]", "rita")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/console/")
    requests.clear()  # the login's own POST
    page.goto(f"{server.url}/console/cases/{case_id}")
    page.wait_for_function("window.htmx !== undefined")
    page.wait_for_load_state("networkidle")  # whatever 'load' triggers has gone out
    text = page.inner_text("main")
    elements = page.evaluate(HTMX_ELEMENTS)
    page.close()
    assert [r for r in requests if r.startswith("POST")] == []
    with s.rt.lock:
        assert s.rt.casework.cases[case_id].decision_id is None
    assert _preferences(s) == before
    assert "/decide" in text and "hx-vals" in text  # shown, as text
    # Only the console's own control (the reveal button) has htmx attributes.
    assert [e["tag"] for e in elements] == ["button"], elements
    assert not any(e["disabled"] for e in elements), elements
