"""A reviewer's day in a real browser, and a notifier's notice."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Server
from tests.service.conftest import PASSWORD, Service, open_service
from tests.service.test_console import _media_case
from veilleur.service.app import create_app

pytestmark = pytest.mark.browser


@pytest.fixture
def live(tmp_path: Path) -> Any:
    (tmp_path / "media").mkdir()
    for s in open_service(str(tmp_path / "v.db"), tmp_path):
        case_id = _media_case(s, tmp_path)
        with Server(create_app(runtime=s.rt, start=False)) as server:
            yield s, server, case_id


def test_a_reviewer_takes_reveals_and_decides(live: Any, browser: Any, tmp_path: Path
                                              ) -> None:
    s, server, case_id = live
    page = browser.new_page()
    page.goto(f"{server.url}/console/login")
    page.fill("input[name=username]", "rita")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/console/")
    assert page.locator(f"#queue-rows tr[data-case='{case_id}']").count() == 1
    page.keyboard.press("n")  # take the top case
    page.wait_for_url(f"**/console/cases/{case_id}")
    figure = page.locator("figure.blurred")
    assert figure.count() == 1
    src = figure.locator("img").get_attribute("src")
    assert src is not None and "clear" not in src
    _wait_decoded(page, "figure.blurred img")
    assert page.locator("video[autoplay]").count() == 0
    page.screenshot(path=str(tmp_path / "case-blurred.png"), full_page=True)
    with s.rt.lock:
        assert "pic1" not in s.rt.casework.viewed_media
    page.keyboard.press("r")  # reveal the next blurred file, deliberately
    page.wait_for_selector("figure.revealed img")
    _wait_decoded(page, "figure.revealed img")
    with s.rt.lock:
        assert "pic1" in s.rt.casework.viewed_media
    # Nothing is chosen: `c` is refused, with the reason, and nothing is decided.
    page.keyboard.press("c")
    assert "Nothing is chosen yet" in page.inner_text("#decision-msg")
    assert page.locator("#decision input:checked").count() == 0
    page.keyboard.press("s")  # the engine's suggestion, applied on purpose
    assert page.locator("#decision input[type=radio][value=violation]:checked").count() >= 1
    page.keyboard.press("p")
    page.wait_for_selector("#preview article.letter")
    letter = page.inner_text("#preview article.letter")
    assert "grooming" in letter.lower() or "sollicitation" in letter.lower() or letter
    with s.rt.lock:
        assert s.rt.casework.cases[case_id].decision_id is None  # shown, not yet decided
    page.keyboard.press("c")
    page.wait_for_url("**/console/decisions/*")
    with s.rt.lock:
        cw = s.rt.casework
        decision_id = cw.cases[case_id].decision_id
        statements = [d for d in cw.compliance.documents.values()
                      if d.kind == "statement_of_reasons"
                      and d.refs.get("decision_id") == decision_id]
    assert decision_id and statements and decision_id in page.url
    assert page.locator("#actions a").count() >= 1
    page.click(f"#documents a[href='/console/documents/{statements[0].id}']")
    page.wait_for_url(f"**/console/documents/{statements[0].id}")
    assert (statements[0].subject or "") in page.inner_text("main")
    page.close()


def test_an_anonymous_notice_from_the_form(live: Any, browser: Any) -> None:
    s, server, _ = live
    page = browser.new_page()
    page.goto(f"{server.url}/notice?lang=en")
    page.fill("textarea[name=locations]", "https://discord.com/channels/@me/dm1/d3")
    page.check("input[name=kind][value=grooming]")
    page.fill("textarea[name=explanation]", "an adult asks a 13-year-old for photos")
    page.check("input[name=bona_fide]")
    page.click("button[type=submit]")
    page.wait_for_selector("#reference")
    reference = page.inner_text("#reference")
    page.click("#status-link")
    page.wait_for_selector("h1")
    assert reference in page.inner_text("h1")
    Service.drain(s)
    with s.rt.lock:
        intake = s.rt.casework.intakes[f"report:{reference}-1"]
    assert intake.source == "dsa_notice" and intake.target.id == "d3"
    assert intake.notifier is not None and "email" not in intake.notifier
    page.close()


def _wait_decoded(page: Any, selector: str, timeout: float = 15.0) -> None:
    """Scroll to the picture (it loads lazily) and wait until it is decoded. Polled from
    here: `wait_for_function` compiles its predicate in the page, which the console's CSP
    (no 'unsafe-eval') rightly refuses."""
    page.locator(selector).scroll_into_view_if_needed()
    deadline = time.monotonic() + timeout
    while page.locator(selector).evaluate("img => img.naturalWidth") == 0:
        assert time.monotonic() < deadline, f"{selector} not decoded in {timeout} s"
        time.sleep(0.05)
