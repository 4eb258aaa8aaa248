"""Issue 19 in a real browser: a console reviewers would choose. Nothing chosen for them,
the engine's suggestion applied only on purpose, cases kept from their role counted, clocks
named, a queue to triage, the whole conversation, limits on exposure, a page that fits, in
the reviewer's language."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Server
from tests.factories import gradient_png
from tests.service.conftest import PASSWORD, Service, message, open_service, server_events
from veilleur.service.app import create_app
from veilleur.service.auth import set_preferences
from veilleur.service.i18n import catalog

pytestmark = pytest.mark.browser

T = "2026-11-20T09:0{}:00Z"


def world(s: Service, tmp_path: Path) -> dict[str, str]:
    """A grooming conversation with a picture and a video, the child's reply after the
    flagged message; a child sexual abuse server (a specialist's case); a message on a server
    known only from its messages, under an authority's order; and a trusted flagger's
    notice."""
    (tmp_path / "media" / "p.png").write_bytes(gradient_png(96, 96, seed=3))
    (tmp_path / "media" / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    dm = {"channel": "dm1", "guild": None}
    events: list[dict[str, Any]] = [
        {"type": "user_seen", "ts": T.format(0), "user": {"id": "kid", "name": "lea",
                                                          "age_band": "13_15"}},
        {"type": "user_seen", "ts": T.format(0), "user": {"id": "adult", "name": "marc",
                                                          "age_band": "adult"}},
        message("d1", "t'as quel âge ?", author="adult", ts=T.format(1), **dm),
        message("d2", "j'ai 13 ans", author="kid", ts=T.format(2), **dm),
        message("d3", "envoie moi une photo de toi, c'est notre secret, ne dis rien à tes "
                "parents", author="adult", ts=T.format(3), **dm, attachments=[
                    {"id": "pic1", "path": "p.png", "content_type": "image/png"},
                    {"id": "vid1", "path": "clip.mp4", "filename": "clip.mp4",
                     "content_type": "video/mp4"}]),
        message("d4", "non j'ai peur, je vais le dire", author="kid", ts=T.format(5), **dm),
        message("x1", "je publie ses photos intimes si elle ne paie pas", author="ext",
                channel="c-exp", guild="g-exp", ts=T.format(6)),
        message("f1", "regardez les photos de elle nue haha", author="coach",
                channel="c-fl", guild="g-fl", ts=T.format(7)),
        *server_events(),
    ]
    for e in events[2:6]:
        e["message"]["recipient_ids"] = ["kid", "adult"]
    r = s.post("/v1/events", {"events": events}).json()
    assert r["accepted"] == len(events) and not r["rejected"], r
    assert s.post("/v1/reports", {"id": "R-kid", "target": {"kind": "message", "id": "d3"},
                                  "category_claimed": "grooming", "reporter_id": "kid",
                                  "explanation": "he asks for photos"}).status_code == 202
    assert s.post("/v1/orders", {"id": "ORD-1", "target": {"kind": "message", "id": "x1"},
                                 "category_claimed": "sextortion", "authority": "OFMIN"}
                  ).status_code == 202
    flagger = s.key_for(flagger="point-de-contact")
    assert s.client.post("/v1/flagger/notices", headers=flagger, json={
        "id": "PDC-1", "items": [{"target": {"kind": "message", "id": "f1"}}],
        "category_claimed": "ncii", "explanation": "intimate pictures of a pupil shared",
        "bona_fide": True}).status_code == 202
    s.drain()
    cw = s.rt.casework
    with s.rt.lock:
        ids = {"dm": cw.intakes["report:R-kid"].case_id, "order": cw.intakes[
            "report:ORD-1"].case_id, "flagger": cw.intakes["report:PDC-1-1"].case_id}
        ids["csam"] = next(c.id for c in cw.cases.values() if c.category
                           and c.category.value == "csam")
    assert all(ids.values()) and len(set(ids.values())) == 4, ids
    return {k: v or "" for k, v in ids.items()}


@pytest.fixture
def live(tmp_path: Path) -> Any:
    (tmp_path / "media").mkdir()
    for s in open_service(str(tmp_path / "v.db"), tmp_path, break_after_reveals=2):
        cases = world(s, tmp_path)
        with Server(create_app(runtime=s.rt, start=False)) as server:
            yield s, server, cases


def login(browser: Any, server: Server, s: Service, user: str, lang: str = "en") -> Any:
    set_preferences(s.rt.db, user, language=lang)
    page = browser.new_page()
    page.goto(f"{server.url}/console/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/console/")
    return page


def take(page: Any, server: Server, case_id: str) -> None:
    page.goto(f"{server.url}/console/cases/{case_id}")
    page.click("#take button")
    page.wait_for_selector("#decision")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_nothing_is_chosen_c_is_refused_and_the_decision_links_what_it_did(
        live: Any, browser: Any, lang: str) -> None:
    s, server, cases = live
    w = catalog(lang)
    page = login(browser, server, s, "rita", lang)
    take(page, server, cases["dm"])
    form = page.locator("#decision")
    assert form.locator("input:checked").count() == 0  # no verdict, no measure
    assert all(v == "" for v in form.locator("select").evaluate_all(
        "els => els.map(e => e.value)"))  # no category, no ground
    assert w["suggestion"] in page.inner_text("#suggestion")
    page.keyboard.press("c")
    assert page.inner_text("#decision-msg") == w["refused_nothing"]
    # One target chosen, the others not: previewing is refused, naming those left.
    form.locator("fieldset.target-choice").first.locator("input[value=violation]").check()
    page.keyboard.press("Escape")  # out of the field: keys are shortcuts again
    page.keyboard.press("p")
    page.wait_for_selector("#refused")
    assert w["refused_incomplete"] in page.inner_text("#refused")
    page.keyboard.press("c")
    assert page.inner_text("#decision-msg") == w["refused_incomplete"]
    with s.rt.lock:
        assert s.rt.casework.cases[cases["dm"]].decision_id is None
    # The reviewer applies the suggestion, chooses a measure of their own, and confirms.
    page.click("#use-suggestion")
    assert form.locator("input[type=radio][value=violation]:checked").count() == \
        form.locator("fieldset.target-choice").count()
    # ... then chooses otherwise: no suspension, only the content removed.
    suspend = form.locator("input[value=suspend_account]:checked")
    assert suspend.count() >= 1
    for _ in range(suspend.count()):
        form.locator("input[value=suspend_account]:checked").first.uncheck()
    page.keyboard.press("Escape")
    page.keyboard.press("p")
    page.wait_for_selector("#confirm-button")
    assert w["m_remove_content"] in page.inner_text("#preview")
    assert w["m_suspend_account"] not in page.inner_text("#preview table")
    page.keyboard.press("c")
    page.wait_for_url("**/console/decisions/*")
    assert w["decided"] in page.inner_text("#decided")
    kinds = page.locator("#actions a").all_inner_texts()
    assert w["m_remove_content"] in kinds and w["m_suspend_account"] not in kinds
    assert w["doc_statement_of_reasons"] in page.locator("#documents a").all_inner_texts()
    with s.rt.lock:
        cw = s.rt.casework
        assert cw.enforcement.suspended("adult") is None
        decision_id = cw.cases[cases["dm"]].decision_id
    assert decision_id and decision_id in page.url
    page.locator("#actions a").first.click()
    page.wait_for_url("**/console/actions/*")
    page.go_back()
    page.click("#case-link")  # the case, closed, leads back to its decision
    page.wait_for_url(f"**/console/cases/{cases['dm']}")
    page.click("#decision-link")
    page.wait_for_url(f"**/console/decisions/{decision_id}")
    page.locator("#documents a", has_text=w["doc_statement_of_reasons"]).first.click()
    page.wait_for_url("**/console/documents/*")
    assert page.locator("pre.letter-body").count() == 1
    page.go_back()
    for link in page.locator("#documents a").all():  # every document opens
        assert page.request.get(f"{server.url}{link.get_attribute('href')}").ok
    page.close()


@pytest.mark.parametrize("lang", ["fr", "en", "es"])
def test_the_public_notice_form_chooses_no_category(live: Any, browser: Any, lang: str
                                                    ) -> None:
    _, server, _ = live
    page = browser.new_page()
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.goto(f"{server.url}/notice?lang={lang}")
    assert page.locator("input[name=kind]").count() == 5
    assert page.locator("input[name=kind]:checked").count() == 0
    page.fill("textarea[name=locations]", "https://discord.com/channels/@me/dm1/d3")
    page.fill("textarea[name=explanation]", "an adult asks a 13-year-old for photos")
    page.click("button[type=submit]")
    assert posts == []  # the browser asks for the kind first
    assert page.locator("input[name=kind]:invalid").count() == 5
    page.check("input[name=kind][value=grooming]")
    page.click("button[type=submit]")
    page.wait_for_selector("#reference")
    assert catalog(lang)["notice_thanks"] in page.inner_text("h1")
    page.close()


def test_the_public_notice_form_speaks_spanish(live: Any, browser: Any) -> None:
    """Asked by the browser or chosen in the link, the form is in Spanish; so are its
    refusals, the acknowledgement and the status page, which says our letters (French and
    English only) are written in English."""
    s, server, _ = live
    w = catalog("es")
    page = browser.new_page()
    page.set_extra_http_headers({"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"})
    page.goto(f"{server.url}/notice")
    assert page.get_attribute("html", "lang") == "es"
    assert page.inner_text("h1") == w["notice_title"]
    assert page.locator("input[name=kind]:checked").count() == 0
    labels = page.locator("label.choice").all_inner_texts()
    assert all(w["kind_" + k] in labels[i] for i, k in enumerate(
        ("csam", "grooming", "sextortion", "ncii", "other")))
    # Chosen in the link, whatever the browser asks for.
    page.set_extra_http_headers({"Accept-Language": "en"})
    page.goto(f"{server.url}/notice?lang=es")
    assert page.inner_text("h1") == w["notice_title"]
    assert w["notice_send"] in page.inner_text("button[type=submit]")
    page.fill("textarea[name=locations]", "https://discord.com/channels/@me/dm1/d3")
    page.check("input[name=kind][value=grooming]")
    page.fill("textarea[name=explanation]", "   ")  # the browser lets spaces through
    page.click("button[type=submit]")
    page.wait_for_selector("#notice-error")
    assert w["notice_no_why"] in page.inner_text("#notice-error")
    assert page.locator("input[name=kind][value=grooming]:checked").count() == 1  # kept
    page.fill("textarea[name=explanation]", "un adulto pide fotos a una niña de 13 años")
    page.click("button[type=submit]")
    page.wait_for_selector("#reference")
    assert page.inner_text("h1") == w["notice_thanks"]
    assert w["notice_keep"] in page.inner_text("main")
    letters_in = w["notice_letters_language"].replace("{language}", w["language_en"])
    assert page.inner_text("#letters-language") == letters_in
    reference = page.inner_text("#reference")
    Service.drain(s)
    page.click("#status-link")
    page.wait_for_selector("#notice-items")
    assert page.get_attribute("html", "lang") == "es"
    assert w["notice_status"] in page.inner_text("h1") and reference in page.inner_text("h1")
    assert w["notice_waiting"] in page.inner_text("#notice-items")
    letter = page.locator("article.letter")
    assert letter.count() == 1 and letter.get_attribute("lang") == "en"
    assert letter.locator(".letter-language").inner_text() == \
        w["notice_letter_language"].replace("{language}", w["language_en"])
    with s.rt.lock:
        notifier = s.rt.casework.intakes[f"report:{reference}-1"].notifier
    assert notifier is not None and notifier["language"] == "es"  # as the notifier wrote
    page.close()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_key_1_is_a_specialists_a_reviewer_is_told_so(live: Any, browser: Any, lang: str
                                                      ) -> None:
    """A reviewer may not decide child sexual abuse: their `1` chooses nothing (never a
    violation without a category) and says why, in their words; a specialist's `1` chooses
    it on every target, leaving the ground to them."""
    s, server, cases = live
    w = catalog(lang)
    reserved = w["key_reserved"].replace("{key}", "1").replace("{category}", w["cat_csam"])
    page = login(browser, server, s, "rita", lang)
    take(page, server, cases["dm"])
    form = page.locator("#decision")
    page.keyboard.press("1")
    assert page.inner_text("#decision-msg") == reserved
    assert form.locator("input:checked").count() == 0  # nothing chosen
    assert form.locator("select.category").evaluate_all("els => els.map(e => e.value)") \
        == [""] * form.locator("fieldset.target-choice").count()
    page.keyboard.press("2")  # a category theirs to choose
    assert page.inner_text("#decision-msg") == ""
    assert form.locator("input[value=violation]:checked").count() == \
        form.locator("fieldset.target-choice").count()
    assert set(form.locator("select.category").evaluate_all(
        "els => els.map(e => e.value)")) == {"grooming"}
    page.keyboard.press("1")  # what was chosen stays as it was
    assert page.inner_text("#decision-msg") == reserved
    assert set(form.locator("select.category").evaluate_all(
        "els => els.map(e => e.value)")) == {"grooming"}
    page.close()
    spec = login(browser, server, s, "sam", lang)
    take(spec, server, cases["csam"])
    assert spec.get_attribute("body", "data-key-reserved") is None
    form = spec.locator("#decision")
    targets = form.locator("fieldset.target-choice").count()
    spec.keyboard.press("1")
    assert spec.inner_text("#decision-msg") == ""
    assert form.locator("input[value=violation]:checked").count() == targets
    assert form.locator("select.category").evaluate_all("els => els.map(e => e.value)") \
        == ["csam"] * targets
    assert set(form.locator("select.ground").evaluate_all(
        "els => els.map(e => e.value)")) == {""}  # the ground is still theirs to choose
    spec.keyboard.press("c")
    assert spec.inner_text("#decision-msg") == w["refused_incomplete"]
    spec.close()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_cases_kept_from_a_role_are_counted_with_an_alert(live: Any, browser: Any,
                                                          lang: str) -> None:
    s, server, cases = live
    w = catalog(lang)
    page = login(browser, server, s, "rita", lang)
    assert page.locator(f"tr[data-case='{cases['csam']}']").count() == 0
    hidden = page.inner_text("#hidden-cases")
    head = w["hidden_cases"].split("{n}")[1].split(";")[0]
    assert f"1{head}" in hidden
    assert w["hidden_alert"] in page.inner_text("#hidden-alert")  # no specialist came by
    s.client.cookies.clear()
    s.login("sam")  # a specialist logs in
    page.reload()
    assert page.locator("#hidden-cases").count() == 1
    assert page.locator("#hidden-alert").count() == 0
    page.close()
    # The specialist sees the case itself, and nothing is counted as kept from them.
    spec = login(browser, server, s, "sam", lang)
    assert spec.locator(f"tr[data-case='{cases['csam']}']").count() == 1
    assert spec.locator("#hidden-cases").count() == 0
    spec.close()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_clocks_are_named_with_their_deadline_in_local_time_and_basis(
        live: Any, browser: Any, lang: str) -> None:
    s, server, cases = live
    w = catalog(lang)
    page = login(browser, server, s, "rita", lang)
    for which, kind, hours in (("dm", "internal", "2"), ("order", "legal", "24"),
                               ("flagger", "flagger", "4")):
        page.goto(f"{server.url}/console/cases/{cases[which]}")
        row = page.locator(f"#clocks tr[data-kind={kind}]")
        assert row.count() == 1, which
        text = row.inner_text()
        assert f"{w['clock_' + kind]} ({hours} {w['clock_hours']})" in text
        assert w["basis_" + kind].split("{h}")[0] in text
        local = row.locator("time.local")
        assert local.get_attribute("data-local") == "1"  # shown in the browser's time zone
        assert "T" not in local.inner_text()
    # The flagger by the name the registry gives it.
    assert "Point de Contact" in page.inner_text("#reports")
    page.close()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_queue_gives_what_to_triage_on_and_filters_and_sorts(live: Any, browser: Any,
                                                                 lang: str) -> None:
    s, server, cases = live
    w = catalog(lang)
    page = login(browser, server, s, "rita", lang)
    row = page.locator(f"tr[data-case='{cases['dm']}']")
    text = row.inner_text()
    assert w["cat_grooming"] in row.locator("td.category").inner_text()
    assert "envoie moi une photo" in row.locator("td.summary").inner_text()
    assert row.locator("td.summary img, td.summary video").count() == 0  # words only
    assert "2 " + w["files"] in text
    chips = row.locator("td.sources .chip").all_inner_texts()
    assert w["chip_report"] in chips
    assert w["clock_internal"] in row.locator("td.clock").inner_text()
    assert int(row.locator("td.targets").inner_text()) >= 1
    order = page.locator(f"tr[data-case='{cases['order']}']")
    assert w["clock_legal"] in order.locator("td.clock").inner_text()
    assert w["chip_order"] in order.locator("td.sources").inner_text()
    # Only the authority's orders.
    page.select_option("#queue-filter select[name=src]", "order")
    page.click("#queue-filter button")
    page.wait_for_url("**src=order**")
    assert page.locator("#queue-rows tr[data-case]").count() == 1
    assert page.locator(f"tr[data-case='{cases['order']}']").count() == 1
    # Most targets first.
    page.goto(f"{server.url}/console/?sort=targets")
    counts = [int(x) for x in page.locator("#queue-rows td.targets").all_inner_texts()]
    assert counts == sorted(counts, reverse=True) and len(counts) == 3
    # Only grooming; kept through the live refresh.
    page.goto(f"{server.url}/console/?cat=grooming")
    categories = page.locator("#queue-rows td.category").all_inner_texts()
    assert categories == [w["cat_grooming"]]
    with page.expect_response("**/console/queue/rows?**cat=grooming**"):
        pass  # the 10 s refresh asks with the same filters
    page.close()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_case_page_shows_the_whole_conversation_by_name(live: Any, browser: Any,
                                                            lang: str) -> None:
    s, server, cases = live
    w = catalog(lang)
    page = login(browser, server, s, "rita", lang)
    page.goto(f"{server.url}/console/cases/{cases['dm']}")
    convo = page.locator("#context ol.conversation", has=page.locator(
        "li.focus", has_text="notre secret")).first
    items = convo.locator("li").all_inner_texts()
    focus = next(i for i, x in enumerate(items) if "notre secret" in x)
    assert any("j'ai 13 ans" in x for x in items[:focus])
    assert any("je vais le dire" in x for x in items[focus + 1:])  # the child's reply
    assert w["focus"] in items[focus]
    assert w["age_13_15"] in " ".join(items) and w["age_adult"] in " ".join(items)
    assert "lea" in " ".join(items) and "marc" in " ".join(items)
    # Findings grouped by target; each kind of finding explained once.
    signals = page.inner_text("#signals")
    for key in [k for k in catalog(lang) if k.startswith("det_")]:
        assert signals.count(w[key]) <= 1
    heads = page.locator("#signals .finding-group h3").all_inner_texts()
    assert len(heads) == len(set(heads))
    # Why, in the reader's words: the rule and the stages by name; the engine's English
    # sentence folded away as the record.
    assert w["rule_grooming_secrecy_image"] in signals
    assert w["stage_image_request"] in signals
    assert "(rule grooming." not in signals
    assert page.locator("#signals details .evidence").first.is_hidden()
    # One conversation for the DM, with both of the adult's flagged messages marked.
    assert page.locator("#context ol.conversation:not(.recent)").count() == 1
    assert convo.locator("li.focus").count() == 2
    # A server known only from its messages: its size is unknown, not zero.
    page.goto(f"{server.url}/console/cases/{cases['order']}")
    servers = page.inner_text("#servers")
    assert w["members_unknown"] in servers
    assert f"0 {w['members']}" not in servers
    assert page.locator("#servers .server").count() == 1
    page.close()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_exposure_is_counted_videos_stay_muted_and_a_case_goes_back(live: Any, browser: Any,
                                                                    lang: str) -> None:
    s, server, cases = live
    w = catalog(lang)
    page = login(browser, server, s, "rita", lang)
    take(page, server, cases["dm"])
    assert page.inner_text("#exposure-all") == "0"
    page.keyboard.press("r")
    page.wait_for_selector("figure.revealed")
    assert page.locator(".break-reminder").count() == 0
    page.keyboard.press("r")
    page.wait_for_selector("figure.revealed >> nth=1")
    video = page.locator("figure.revealed video")
    assert video.count() == 1
    assert video.evaluate("v => [v.muted, v.paused, v.autoplay, v.preload]") == \
        [True, True, False, "none"]
    # The second reveal (break_after_reveals=2): a reminder to step away.
    assert w["break_reminder"].split("{n}")[0] in page.inner_text("figure.revealed .break-reminder")
    page.reload()
    assert page.inner_text("#exposure-all") == "2"
    assert page.inner_text("#exposure-csam") == "0"  # not a child sexual abuse case
    assert page.locator("#break-reminder").count() == 1
    # Handed back without deciding: in the queue again, for anyone.
    page.keyboard.press("Escape")
    page.wait_for_url("**/console/?released=1")
    assert w["released"] in page.inner_text("#released")
    with s.rt.lock:
        case = s.rt.casework.cases[cases["dm"]]
        assert case.status == "open" and case.locked_by is None and case.decision_id is None
    page.close()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_transparency_page_fits_and_explains(live: Any, browser: Any, lang: str) -> None:
    s, server, _ = live
    w = catalog(lang)
    page = login(browser, server, s, "rita", lang)
    page.set_viewport_size({"width": 760, "height": 900})
    page.goto(f"{server.url}/console/transparency")
    assert page.evaluate("document.documentElement.scrollWidth") <= 760
    text = page.inner_text("main")
    assert w["time_to_action_note"] in text and w["volumes_note"] in text
    page.close()


def test_the_yearly_report_fits_hides_empty_rows_and_explains_its_figures(
        live: Any, browser: Any) -> None:
    from datetime import UTC, datetime

    from tests.service.test_console import decision_form

    s, server, cases = live
    csrf = s.login("rita")
    s.client.post(f"/console/cases/{cases['dm']}/take", data={"csrf": csrf})
    form = decision_form(s.client.get(f"/console/cases/{cases['dm']}").text, "grooming", csrf)
    assert s.client.post(f"/console/cases/{cases['dm']}/decide", data=form,
                         follow_redirects=False).status_code == 303
    page = browser.new_page()
    page.set_viewport_size({"width": 760, "height": 900})
    page.goto(f"{server.url}/transparency/{datetime.now(UTC).year}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 760
    text = page.inner_text("body")
    # Each figure of the automated means is said in words, as a share.
    assert "Recall" in text and "of the targets reviewers found violating" in text
    assert " %" in text.split("Recall", 1)[1]
    # No empty per-language rows (they stay in the CSV files), and the page says so.
    cells = page.locator("td").all_inner_texts()
    assert "bg" not in cells and "mt" not in cells
    assert "left out here; they are in the CSV file" in text
    page.close()
