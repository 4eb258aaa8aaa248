"""The review console and the public notice form, over HTTP (the browser tests drive the
same pages in chromium)."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import select

from tests.factories import gradient_png
from tests.service.conftest import Service, message, server_events
from veilleur.service.casepage import OFFERED
from veilleur.service.i18n import catalog
from veilleur.store.models import AuditRow


def _media_case(s: Service, tmp_path: Path) -> str:
    """A grooming conversation with a picture: a case any reviewer may see."""
    (tmp_path / "media" / "p.png").write_bytes(gradient_png(96, 96, seed=3))
    events = [
        {"type": "user_seen", "ts": "2026-11-20T09:00:00Z",
         "user": {"id": "kid", "name": "lea", "age_band": "13_15"}},
        {"type": "user_seen", "ts": "2026-11-20T09:00:00Z",
         "user": {"id": "adult", "name": "marc", "age_band": "adult"}},
        message("d1", "t'as quel âge ?", author="adult", channel="dm1", guild=None,
                ts="2026-11-20T09:01:00Z"),
        message("d2", "j'ai 13 ans", author="kid", channel="dm1", guild=None,
                ts="2026-11-20T09:02:00Z"),
        message("d3", "envoie moi une photo de toi, c'est notre secret, ne dis rien à tes "
                "parents", author="adult", channel="dm1", guild=None,
                ts="2026-11-20T09:03:00Z",
                attachments=[{"id": "pic1", "path": "p.png", "content_type": "image/png"}]),
    ]
    for e in events[2:]:
        e["message"]["recipient_ids"] = ["kid", "adult"]
    r = s.post("/v1/events", {"events": events}).json()
    assert r["accepted"] == 5 and not r["rejected"]
    r = s.post("/v1/reports", {"id": "R-kid", "target": {"kind": "message", "id": "d3"},
                               "category_claimed": "grooming", "reporter_id": "kid",
                               "explanation": "he asks for photos"})
    assert r.status_code == 202
    s.drain()
    with s.rt.lock:
        case = s.rt.casework.case_of(s.rt.casework.intakes["report:R-kid"].case_id)
    assert case is not None
    return case.id


def _taken(service: Service, tmp_path: Path, who: str = "rita") -> tuple[str, str, str]:
    """The media case, taken by `who`: its id, the session's CSRF token and its page."""
    case_id = _media_case(service, tmp_path)
    csrf = service.login(who)
    service.client.post(f"/console/cases/{case_id}/take", data={"csrf": csrf})
    return case_id, csrf, service.client.get(f"/console/cases/{case_id}").text


def test_login_needs_the_form_token_and_the_right_password(service: Service) -> None:
    c = service.client
    assert c.get("/console/", follow_redirects=False).headers["location"] == "/console/login"
    r = c.post("/console/login", data={"username": "rita", "password": "a long test password",
                                       "prelogin": "forged"})
    assert r.status_code == 403
    page = c.get("/console/login")
    pre = re.search(r'name="prelogin" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = c.post("/console/login", data={"username": "rita", "password": "wrong password!!",
                                       "prelogin": pre}, follow_redirects=False)
    assert r.headers["location"] == "/console/login?error=1"
    csrf = service.login("rita")
    with service.rt.db.connect() as conn:
        logins = list(conn.execute(select(AuditRow.kind, AuditRow.actor).where(
            AuditRow.kind.like("console.login%")).order_by(AuditRow.seq)))
    assert [tuple(r) for r in logins] == [("console.login_failed", "rita"),
                                          ("console.login", "rita")]
    assert "HttpOnly" in c.cookies.jar.__class__.__name__ or csrf
    # Every change needs the session's token.
    assert c.post("/console/next", data={"csrf": "nope"}).status_code == 403
    assert c.post("/console/next", data={"csrf": csrf}, follow_redirects=False
                  ).status_code == 303
    r = c.get("/console/")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store"


def test_only_specialists_see_child_abuse_cases(service: Service) -> None:
    service.post("/v1/events", {"events": server_events()})
    service.drain()
    case_id = service.get("/v1/cases").json()["cases"][0]["id"]
    service.login("rita")
    assert case_id not in service.client.get("/console/").text
    assert service.client.get(f"/console/cases/{case_id}").status_code == 403
    service.client.cookies.clear()
    service.login("ada")  # an admin neither
    assert service.client.get(f"/console/cases/{case_id}").status_code == 403
    service.client.cookies.clear()
    service.login("sam")
    page = service.client.get(f"/console/cases/{case_id}")
    assert page.status_code == 200 and "teaser-mineure" in page.text and "ADØS NXDES" in page.text
    with service.rt.db.connect() as conn:
        viewers = list(conn.execute(select(AuditRow.actor).where(
            AuditRow.kind == "case.viewed", AuditRow.subject == case_id)).scalars())
    assert viewers == ["sam"]


def test_media_is_blurred_until_revealed_one_at_a_time(service: Service, tmp_path: Path
                                                       ) -> None:
    case_id = _media_case(service, tmp_path)
    csrf = service.login("rita")
    c = service.client
    page = c.get(f"/console/cases/{case_id}").text
    assert f"/console/cases/{case_id}/media/pic1" in page and "autoplay" not in page
    blurred = c.get(f"/console/cases/{case_id}/media/pic1")
    assert blurred.status_code == 200 and blurred.headers["cache-control"] == "no-store"
    img = Image.open(io.BytesIO(blurred.content))
    assert img.mode == "L"  # greyscale
    original = Image.open(io.BytesIO(gradient_png(96, 96, seed=3))).convert("L")
    # Blurred: neighbouring pixels barely differ, unlike the original gradient's edges.
    assert _roughness(img) < _roughness(original) / 2
    assert c.get(f"/console/cases/{case_id}/media/pic1?clear=1").status_code == 403
    assert c.get(f"/console/cases/{case_id}/media/other").status_code == 404
    with service.rt.lock:
        assert "pic1" not in service.rt.casework.viewed_media
    r = c.post(f"/console/cases/{case_id}/media/pic1/reveal", data={"csrf": csrf})
    assert r.status_code == 200 and "clear=1" in r.text
    clear = c.get(f"/console/cases/{case_id}/media/pic1?clear=1")
    assert clear.status_code == 200 and Image.open(io.BytesIO(clear.content)).mode == "L"
    with service.rt.lock:
        assert "pic1" in service.rt.casework.viewed_media  # NCMEC: a person viewed it
    with service.rt.db.connect() as conn:
        seen = list(conn.execute(select(AuditRow.actor).where(
            AuditRow.kind == "media.viewed")).scalars())
    assert seen == ["rita"]
    # The preference for colour after revealing is remembered.
    c.post("/console/preferences", data={"csrf": csrf, "language": "en", "blur": "light",
                                         "colour": "1"})
    colour = c.get(f"/console/cases/{case_id}/media/pic1?clear=1")
    assert Image.open(io.BytesIO(colour.content)).mode == "RGB"
    assert Image.open(io.BytesIO(c.get(f"/console/cases/{case_id}/media/pic1").content)
                      ).mode == "L"  # never in colour while blurred


def _roughness(img: Image.Image) -> float:
    import numpy as np

    px = np.asarray(img, dtype=float)
    return float(np.abs(np.diff(px, axis=1)).mean())


def decision_form(page: str, category: str, csrf: str, **extra: str) -> dict[str, Any]:
    """The decision form filled as a reviewer would: a violation of `category` on every
    target, on the ground of the law, with every measure the form offers for it."""
    fields: dict[str, Any] = {"csrf": csrf, **extra}
    for i in re.findall(r'name="cat_(\d+)"', page):
        fields |= {f"verdict_{i}": "violation", f"cat_{i}": category,
                   f"ground_{i}": "illegal",
                   f"measure_{i}": re.findall(rf'name="measure_{i}" value="([a-z_]+)"', page)}
    return fields


def test_a_decision_shows_its_statement_before_it_is_taken(service: Service, tmp_path: Path
                                                           ) -> None:
    case_id = _media_case(service, tmp_path)
    csrf = service.login("rita")
    c = service.client
    r = c.post(f"/console/cases/{case_id}/take", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    page = c.get(f"/console/cases/{case_id}").text
    targets = re.findall(r'name="cat_(\d+)"', page)
    assert targets
    # Nothing is chosen for the reviewer: no verdict, category or ground comes preselected.
    assert " checked" not in page.split('id="decision"')[1].split("</form>")[0]
    assert " selected" not in page.split('id="decision"')[1].split("</form>")[0]
    # A category alone is not a verdict: refused, with the targets still to choose.
    half = {"csrf": csrf} | {f"cat_{i}": "grooming" for i in targets}
    refused = c.post(f"/console/cases/{case_id}/preview", data=half)
    assert refused.status_code == 422 and 'id="refused"' in refused.text
    assert catalog("en")["refused_nothing"] in refused.text
    assert c.post(f"/console/cases/{case_id}/decide", data=half).status_code == 422
    form = decision_form(page, "grooming", csrf,
                         explanation="requests for pictures from a 13-year-old")
    # A value the form does not offer is refused too.
    bad = {k: ["delete_guild"] if k.startswith("measure_") else v for k, v in form.items()}
    assert c.post(f"/console/cases/{case_id}/preview", data=bad).status_code == 422
    preview = c.post(f"/console/cases/{case_id}/preview", data=form)
    assert preview.status_code == 200
    # The adult wrote in French: the letter is in French, with the reviewer's explanation.
    assert '<article class="letter">' in preview.text
    assert "requests for pictures from a 13-year-old" in preview.text
    assert catalog("en")["m_remove_content"] in preview.text
    with service.rt.lock:
        assert not service.rt.casework.cases[case_id].decision_id  # nothing decided yet
    done = c.post(f"/console/cases/{case_id}/decide", data=form, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith(
        "/console/decisions/")
    with service.rt.lock:
        cw = service.rt.casework
        decision_id = cw.cases[case_id].decision_id
        assert decision_id is not None
        decision = cw.decisions[decision_id]
        # What was chosen, no more: every measure the form offered on each target.
        assert all(td.violation and td.measures == OFFERED[td.target.kind.value]
                   for td in decision.targets)
        letters = [d for d in cw.compliance.documents.values()
                   if d.kind == "statement_of_reasons"
                   and d.refs.get("decision_id") == decision_id]
        actions = [a.id for a in cw.enforcement.actions.values()
                   if a.decision_id == decision_id]
    assert letters and "requests for pictures from a 13-year-old" in (letters[0].body or "")
    # The decision's page links each measure and each document, and each link opens.
    shown = c.get(done.headers["location"]).text
    for a in actions:
        assert f'href="/console/actions/{a}"' in shown
        assert c.get(f"/console/actions/{a}").status_code == 200
    for d in letters:
        assert f'href="/console/documents/{d.id}"' in shown
        doc = c.get(f"/console/documents/{d.id}")
        assert doc.status_code == 200 and "requests for pictures from a 13-year-old" in doc.text


def test_appeals_notices_transparency_and_languages(service: Service, tmp_path: Path) -> None:
    _media_case(service, tmp_path)
    service.post("/v1/notices", {"items": [{"target": {"kind": "message", "id": "d3"}}],
                                 "explanation": "grooming", "category_claimed": "grooming"})
    service.drain()
    service.login("rita")
    c = service.client
    notices = c.get("/console/notices").text
    # The missing Art. 16 elements in the catalogue's words (the engine records them in
    # English).
    assert "DSA notice (Art. 16)" in notices and catalog("en")["miss_d"] in notices
    assert c.get("/console/appeals").status_code == 200
    t = c.get("/console/transparency").text
    assert t.count("<svg") == 2 and "Time from receipt to outcome" in t
    assert set(catalog("fr")) == set(catalog("en")) == set(catalog("es"))
    csrf = re.search(r'data-csrf="([^"]+)"', c.get("/console/").text).group(1)  # type: ignore[union-attr]
    c.post("/console/preferences", data={"csrf": csrf, "language": "fr", "blur": "strong"})
    assert "Signalements et leurs sources" not in c.get("/console/").text
    assert "File" in c.get("/console/").text and "Préférences" in c.get("/console/").text


def test_anyone_may_send_a_notice_and_follow_it(service: Service) -> None:
    service.post("/v1/events", {"events": server_events()})
    c = service.client
    form = c.get("/notice?lang=en").text
    ticket = re.search(r'name="ticket" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    r = c.post("/notice", data={
        "ticket": ticket, "lang": "en", "kind": "csam",
        "locations": "https://discord.com/channels/g1/g1-c1/g1-m1\n",
        "explanation": "they sell pictures of children"})
    assert r.status_code == 200, r.text
    reference = re.search(r'id="reference">([^<]+)<', r.text).group(1)  # type: ignore[union-attr]
    link = re.search(r'id="status-link" href="([^"]+)"', r.text).group(1)  # type: ignore[union-attr]
    # A ticket is good once.
    again = c.post("/notice", data={"ticket": ticket, "lang": "en", "kind": "csam",
                                    "locations": "x", "explanation": "y"})
    assert again.status_code == 422 and "already sent" in again.text
    robot = c.post("/notice", data={"ticket": "1.2.3", "lang": "en", "kind": "csam",
                                    "locations": "x", "explanation": "y", "website": "spam"})
    assert robot.status_code == 400
    service.drain()
    with service.rt.lock:
        intake = service.rt.casework.intakes[f"report:{reference}-1"]
        assert intake.source == "dsa_notice" and intake.target.id == "g1-m1"
        assert intake.notifier and "email" not in intake.notifier  # anonymous
    status = c.get(link)
    assert status.status_code == 200 and reference in status.text
    assert "We have received your notice" in status.text or "received" in status.text
    assert c.get(link.replace("token=", "token=x")).status_code == 404


def test_the_public_form_chooses_no_kind_and_asks_for_one(service: Service) -> None:
    c = service.client
    for lang in ("fr", "en"):
        form = c.get(f"/notice?lang={lang}").text
        assert len(re.findall(r'name="kind"', form)) == 5
        assert " checked" not in form  # nothing preselected, child abuse neither
        ticket = re.search(r'name="ticket" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
        r = c.post("/notice", data={"ticket": ticket, "lang": lang,
                                    "locations": "https://discord.com/channels/g1/g1-c1/g1-m1",
                                    "explanation": "they sell pictures of children"})
        assert r.status_code == 422
        assert catalog(lang)["notice_choose_kind"] in r.text.replace("&#39;", "'")
        assert " checked" not in r.text  # still nothing chosen for them


def test_the_exposure_count_is_kept_across_a_restart(service: Service, tmp_path: Path
                                                     ) -> None:
    case_id = _media_case(service, tmp_path)
    csrf = service.login("rita")
    c = service.client
    assert 'id="exposure-all">0<' in c.get("/console/").text
    r = c.post(f"/console/cases/{case_id}/media/pic1/reveal", data={"csrf": csrf})
    assert r.status_code == 200
    assert 'id="exposure-all">1<' in c.get("/console/").text
    service.rt.extras.pop("exposure")  # what a new process starts with
    assert 'id="exposure-all">1<' in c.get("/console/").text  # counted from the audit log
    assert 'id="exposure-csam">0<' in c.get("/console/").text


def test_a_reviewer_cannot_decide_child_abuse_and_a_case_so_decided_is_reserved(
        service: Service, tmp_path: Path) -> None:
    case_id, csrf, page = _taken(service, tmp_path)
    c = service.client
    form_html = page.split('id="decision"')[1].split("</form>")[0]
    assert 'value="csam"' not in form_html and 'id="csam-hand-back"' in page
    # Refused on the server too, for a form written by hand.
    for path in ("preview", "decide"):
        r = c.post(f"/console/cases/{case_id}/{path}", data=decision_form(page, "csam", csrf))
        assert r.status_code == 422 and catalog("en")["refused_csam"] in r.text
    with service.rt.lock:
        assert not service.rt.casework.cases[case_id].decision_id
    c.post(f"/console/cases/{case_id}/release", data={"csrf": csrf})
    # A specialist decides it child sexual abuse: from then on it is theirs alone.
    c.cookies.clear()
    csrf = service.login("sam")
    c.post(f"/console/cases/{case_id}/take", data={"csrf": csrf})
    page = c.get(f"/console/cases/{case_id}").text
    done = c.post(f"/console/cases/{case_id}/decide", data=decision_form(page, "csam", csrf),
                  follow_redirects=False)
    assert done.status_code == 303
    with service.rt.lock:
        cw = service.rt.casework
        decision_id = cw.cases[case_id].decision_id
        assert decision_id is not None
        cw.cases[case_id].category = None  # reserved by what was decided, not the label
        actions = [a.id for a in cw.enforcement.actions.values() if a.case_id == case_id]
        documents = [d.id for d in cw.compliance.documents.values()
                     if d.refs.get("decision_id") == decision_id]
    assert actions and documents
    c.cookies.clear()
    csrf = service.login("rita")
    assert c.get(f"/console/cases/{case_id}").status_code == 403
    assert c.post(f"/console/cases/{case_id}/media/pic1/reveal",
                  data={"csrf": csrf}).status_code == 403
    # Reserved ids answer as unknown ones: their existence does not leak.
    assert c.get(f"/console/decisions/{decision_id}").status_code == 404
    for a in actions:
        assert c.get(f"/console/actions/{a}").status_code == 404
    for d in documents:
        assert c.get(f"/console/documents/{d}").status_code == 404


def test_a_case_with_more_than_forty_targets_can_be_decided(service: Service, tmp_path: Path
                                                            ) -> None:
    from veilleur.taxonomy import Target, TargetKind

    case_id = _media_case(service, tmp_path)
    extra = [message(f"x{n}", f"message {n}", author="adult", channel="dm1", guild=None,
                     ts=f"2026-11-20T10:{n:02d}:00Z") for n in range(44)]
    assert service.post("/v1/events", {"events": extra}).json()["accepted"] == 44
    service.drain()
    with service.rt.lock:
        case = service.rt.casework.cases[case_id]
        case.targets.extend(Target(TargetKind.MESSAGE, f"x{n}") for n in range(44))
        count = len(case.targets)
    assert count >= 45
    csrf = service.login("rita")
    c = service.client
    c.post(f"/console/cases/{case_id}/take", data={"csrf": csrf})
    page = c.get(f"/console/cases/{case_id}").text
    assert len(re.findall(r'name="cat_(\d+)"', page)) == count  # every one can be decided
    done = c.post(f"/console/cases/{case_id}/decide",
                  data=decision_form(page, "grooming", csrf), follow_redirects=False)
    assert done.status_code == 303
    with service.rt.lock:
        decision = service.rt.casework.decisions[
            service.rt.casework.cases[case_id].decision_id or ""]
    assert len(decision.targets) == count


def test_a_file_revealed_again_counts_once_and_admins_reveal_nothing(
        service: Service, tmp_path: Path) -> None:
    from veilleur.taxonomy import Category

    case_id = _media_case(service, tmp_path)
    with service.rt.lock:
        service.rt.casework.cases[case_id].category = Category.CSAM  # a specialist's case
    csrf = service.login("ada")
    c = service.client
    assert c.post(f"/console/cases/{case_id}/media/pic1/reveal",
                  data={"csrf": csrf}).status_code == 403
    c.cookies.clear()
    csrf = service.login("sam")
    for _ in range(4):
        r = c.post(f"/console/cases/{case_id}/media/pic1/reveal", data={"csrf": csrf})
        assert r.status_code == 200
    queue = c.get("/console/").text
    assert 'id="exposure-all">1<' in queue and 'id="exposure-csam">1<' in queue
    with service.rt.db.connect() as conn:
        logged = list(conn.execute(select(AuditRow.actor).where(
            AuditRow.kind == "media.revealed")).scalars())
    assert logged == ["sam"]
    service.rt.extras.pop("exposure")  # what a new process starts with
    queue = c.get("/console/").text
    assert 'id="exposure-all">1<' in queue and 'id="exposure-csam">1<' in queue
    c.post(f"/console/cases/{case_id}/media/pic1/reveal", data={"csrf": csrf})
    assert 'id="exposure-all">1<' in c.get("/console/").text


def test_suspending_the_author_too_preserves_and_audits_the_added_target(
        service: Service, tmp_path: Path) -> None:
    import pytest

    from veilleur.cases.review import ReviewError, Verdict
    from veilleur.taxonomy import Category, Target, TargetKind

    case_id = _media_case(service, tmp_path)
    other = message("x1", "me too", author="stranger", channel="dm1", guild=None,
                    ts="2026-11-20T09:04:00Z")
    assert service.post("/v1/events", {"events": [other]}).json()["accepted"] == 1
    service.drain()
    adult = Target(TargetKind.USER, "stranger")
    with service.rt.lock:
        service.rt.casework.cases[case_id].targets.append(Target(TargetKind.MESSAGE, "x1"))
    csrf = service.login("rita")
    c = service.client
    c.post(f"/console/cases/{case_id}/take", data={"csrf": csrf})
    with service.rt.lock:
        cw = service.rt.casework
        case = cw.cases[case_id]
        assert adult not in case.targets
        # Verdicts that do not decide add nothing to the case.
        bad = {t: Verdict(Category.GROOMING, "nowhere") for t in [*case.targets, adult]}
        with pytest.raises(ReviewError):
            cw.decide(case_id, "rita", bad, service.rt.clock(), add=[adult])
        assert adult not in case.targets and adult not in case.preserved
    page = c.get(f"/console/cases/{case_id}").text
    authors = re.findall(r'name="(author_\d+)"', page)
    assert len(authors) == 1
    form = decision_form(page, "grooming", csrf) | {authors[0]: "1"}
    done = c.post(f"/console/cases/{case_id}/decide", data=form, follow_redirects=False)
    assert done.status_code == 303
    with service.rt.lock:
        cw = service.rt.casework
        case = cw.cases[case_id]
        assert adult in case.targets and adult in case.preserved
        assert cw.vault.by_target.get(adult)
    with service.rt.db.connect() as conn:
        added = list(conn.execute(select(AuditRow.actor).where(
            AuditRow.kind == "case.targets_added", AuditRow.subject == case_id)).scalars())
    assert added == ["rita"]


def test_the_alert_counts_a_case_come_in_after_a_specialist_was_last_seen(
        service: Service) -> None:
    import dataclasses
    from datetime import timedelta

    service.post("/v1/events", {"events": server_events()})
    service.drain()
    now = service.rt.clock()
    with service.rt.lock:
        reserved = [c for c in service.rt.casework.cases.values() if c.status == "open"]
        assert reserved
        case = reserved[0]
        clock = next(k for k in case.clocks if k.stopped_at is None)
        # One clock started long ago, one after the specialist was last seen.
        clock.started_at = now - timedelta(hours=5)
        case.clocks.append(dataclasses.replace(clock, started_at=now - timedelta(hours=1)))
    service.rt.extras["active"] = {"sam": ("specialist", now - timedelta(hours=2))}
    service.login("rita")
    assert 'id="hidden-alert"' in service.client.get("/console/").text
    service.rt.extras["active"] = {"sam": ("specialist", now - timedelta(minutes=30))}
    assert 'id="hidden-alert"' not in service.client.get("/console/").text


def test_a_refusal_is_a_whole_page_without_htmx_and_a_fragment_with_it(
        service: Service, tmp_path: Path) -> None:
    case_id = _media_case(service, tmp_path)
    csrf = service.login("rita")
    c = service.client
    c.post(f"/console/cases/{case_id}/take", data={"csrf": csrf})
    plain = c.post(f"/console/cases/{case_id}/decide", data={"csrf": csrf})
    assert plain.status_code == 422 and "<html" in plain.text and 'id="refused"' in plain.text
    assert f'href="/console/cases/{case_id}"' in plain.text
    swapped = c.post(f"/console/cases/{case_id}/preview", data={"csrf": csrf},
                     headers={"HX-Request": "true"})
    assert 'id="refused"' in swapped.text and "<html" not in swapped.text


def test_the_replies_to_a_message_show_in_a_busy_channel(service: Service, tmp_path: Path
                                                         ) -> None:
    case_id = _media_case(service, tmp_path)
    busy = [message(f"b{n}", f"reply number {n}", author="kid", channel="dm1", guild=None,
                    ts=f"2026-11-20T{10 + n // 60:02d}:{n % 60:02d}:00Z") for n in range(250)]
    for start in range(0, 250, 50):
        r = service.post("/v1/events", {"events": busy[start:start + 50]}).json()
        assert r["accepted"] == 50
    service.drain()
    service.login("rita")
    page = service.client.get(f"/console/cases/{case_id}").text
    context = page.split('id="context"')[1].split("</section>")[0]
    assert "reply number 0" in context and "reply number 4" in context
    assert "reply number 5" not in context  # the first few replies, not the latest


def test_the_queue_takes_any_released_flag(service: Service) -> None:
    service.login("rita")
    c = service.client
    assert c.get("/console/?released=x").status_code == 200
    assert catalog("en")["released"] in c.get("/console/?released=1").text
    assert catalog("en")["released"] not in c.get("/console/?released=x").text


def test_an_ncmec_report_is_a_specialists_to_read_even_on_a_grooming_case(
        service: Service, tmp_path: Path) -> None:
    case_id, csrf, page = _taken(service, tmp_path)
    c = service.client
    done = c.post(f"/console/cases/{case_id}/decide",
                  data=decision_form(page, "grooming", csrf), follow_redirects=False)
    assert done.status_code == 303
    with service.rt.lock:
        cw = service.rt.casework
        decision_id = cw.cases[case_id].decision_id
        reports = [d.id for d in cw.compliance.documents.values() if d.kind == "ncmec_report"
                   and d.refs.get("decision_id") == decision_id]
    assert reports  # enticement of a child is reported to NCMEC
    shown = c.get(done.headers["location"]).text
    for d in reports:
        assert d not in shown and c.get(f"/console/documents/{d}").status_code == 404
    c.cookies.clear()
    service.login("sam")
    shown = c.get(done.headers["location"]).text
    for d in reports:
        assert d in shown and c.get(f"/console/documents/{d}").status_code == 200


def test_the_history_links_only_to_cases_the_reader_may_see(service: Service, tmp_path: Path
                                                            ) -> None:
    from veilleur.taxonomy import Target, TargetKind

    case_id = _media_case(service, tmp_path)
    service.post("/v1/events", {"events": server_events()})
    service.drain()
    with service.rt.lock:
        cw = service.rt.casework
        other = next(c for c in cw.cases.values() if c.id != case_id
                     and c.category is not None and c.category.value == "csam")
        other.targets.append(Target(TargetKind.USER, "adult"))  # the same account in both
    service.login("rita")
    assert other.id not in service.client.get(f"/console/cases/{case_id}").text
    service.client.cookies.clear()
    service.login("sam")
    assert other.id in service.client.get(f"/console/cases/{case_id}").text
