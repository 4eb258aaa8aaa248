"""Every console page and the public form, with hostile text in every field a platform, a
notice or a form controls: shown as text, inside hx-disable, never as markup (issue 15)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.factories import gradient_png
from tests.service.conftest import Service
from tests.service.hostile import MARK, assert_safe, hostile, read
from tests.service.test_console import decision_form
from veilleur.service.i18n import catalog

T = "2026-11-20T09:0{}:00Z"
USER, MSG, FILE = hostile("user-id", short=True), hostile("msg-id", short=True), \
    hostile("file-id", short=True)
NOTICE_ID = hostile("notice", short=True)[:48]


def hostile_world(s: Service, tmp_path: Path) -> str:
    """A server, a channel and a conversation whose every name and text is hostile, reported
    by a user and by a notice; returns the case."""
    (tmp_path / "media" / "p.png").write_bytes(gradient_png(64, 64, seed=5))
    events: list[dict[str, Any]] = [
        {"type": "user_seen", "ts": T.format(0), "user": {"id": USER,
                                                         "name": hostile("user-name")}},
        {"type": "guild_created", "ts": T.format(0), "guild": {
            "id": "g-h", "name": hostile("guild"), "owner_id": USER}},
        {"type": "channel_created", "ts": T.format(0), "channel": {
            "id": "c-h", "guild_id": "g-h", "name": hostile("channel"),
            "topic": hostile("topic")}},
        {"type": "message", "ts": T.format(1), "message": {
            "id": "m-before", "channel_id": "c-h", "guild_id": "g-h", "author_id": USER,
            "content": hostile("context"), "attachments": []}},
        {"type": "message", "ts": T.format(2), "message": {
            "id": MSG, "channel_id": "c-h", "guild_id": "g-h", "author_id": USER,
            "content": hostile("content"),
            "attachments": [{"id": FILE, "path": "p.png", "content_type": "image/png"}]}},
    ]
    r = s.post("/v1/events", {"events": events}).json()
    assert r["accepted"] == len(events) and not r["rejected"], r
    target = {"kind": "message", "id": MSG}
    assert s.post("/v1/reports", {"id": "R-h", "target": target, "category_claimed":
                                  "grooming", "reporter_id": "kid",
                                  "explanation": hostile("report")}).status_code == 202
    assert s.post("/v1/notices", {"id": NOTICE_ID, "items": [{"target": target}],
                                  "explanation": hostile("notice-text"),
                                  "category_claimed": "grooming", "notifier": {
                                      "name": hostile("notifier"), "email": "n@example.org"}}
                  ).status_code == 202
    s.drain()
    with s.rt.lock:
        case = s.rt.casework.case_of(s.rt.casework.intakes["report:R-h"].case_id)
    assert case is not None
    return case.id


def test_every_console_page_shows_hostile_text_as_text(service: Service, tmp_path: Path
                                                      ) -> None:
    case_id = hostile_world(service, tmp_path)
    # The id in the URL is not the next of a counter: 80 random bits after the run's prefix.
    assert re.fullmatch(r"[0-9a-f]{6}-case-[0-9a-f]{20}", case_id), case_id
    csrf = service.login("rita")
    c = service.client
    assert_safe(c.get("/console/").text)
    assert_safe(c.get("/console/queue/rows").text)
    page = c.get(f"/console/cases/{case_id}")
    assert page.status_code == 200
    assert_safe(page.text, "context", "content", "user-name", "guild", "channel", "report",
                "notice-text", "notifier", short=("msg-id", "file-id", "user-id"))
    # htmx stays on this origin, evaluates nothing, runs no swapped script, caches no page.
    meta = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", page.text)
    assert meta is not None
    assert json.loads(meta.group(1)) == {
        "includeIndicatorStyles": False, "allowEval": False, "allowScriptTags": False,
        "selfRequestsOnly": True, "historyCacheSize": 0}
    # The console's own htmx control still works, and carries the token itself.
    reveal = re.search(r'<button type="button" class="reveal" hx-post="([^"]+)"', page.text)
    assert reveal is not None and MARK not in reveal.group(1).replace(f"{MARK}-file", "")
    assert "hx-headers" not in page.text.split("<body", 1)[1].split(">", 1)[0]
    fragment = c.post(reveal.group(1), data={"csrf": csrf})
    assert fragment.status_code == 200
    assert_safe(fragment.text, short=("file-id",))
    assert c.post(f"/console/cases/{case_id}/take", data={"csrf": csrf}).status_code == 200
    page = c.get(f"/console/cases/{case_id}").text
    assert_safe(page, "content")
    form = decision_form(page, "grooming", csrf, explanation=hostile("explanation")) | {
        hostile("key", short=True): hostile("value")}
    preview = c.post(f"/console/cases/{case_id}/preview", data=form)
    assert preview.status_code == 200
    assert_safe(preview.text, "explanation")
    assert hostile("value") in read_values(preview.text)  # kept, as a value, for the decision
    done = c.post(f"/console/cases/{case_id}/decide", data=form, follow_redirects=False)
    assert done.status_code == 303
    # The decision's page, and each measure and document it links, name hostile things as
    # text.
    decided = c.get(done.headers["location"]).text
    assert_safe(decided)
    for link in re.findall(r'href="(/console/(?:actions|documents)/[^"]+)"', decided):
        shown = c.get(link)
        assert shown.status_code == 200
        assert_safe(shown.text)
    assert_safe(c.get("/console/", params={"done": hostile("done")}).text, "done")
    with service.rt.lock:
        decision_id = service.rt.casework.cases[case_id].decision_id
    appeal = service.post("/v1/appeals", {
        "id": "A-h", "target": {"kind": "message", "id": MSG}, "by": "affected",
        "complainant_id": USER, "decision_id": decision_id, "explanation": hostile("appeal")})
    assert appeal.status_code == 202
    service.drain()
    with service.rt.lock:
        assert service.rt.casework.intakes["complaint:A-h"].case_id
    assert_safe(c.get("/console/appeals").text, "appeal")
    notices = c.get("/console/notices").text
    assert_safe(notices)
    assert NOTICE_ID in "\n".join(t for t, _ in read(notices).texts)
    assert_safe(c.get("/console/transparency").text)
    assert_safe(c.get("/console/preferences").text)


def read_values(page: str) -> list[str]:
    from html import unescape

    return [unescape(v) for v in re.findall(r'value="([^"]*)"', page)]


def _form(c: Any, lang: str = "en") -> str:
    form = c.get(f"/notice?lang={lang}").text
    assert_safe(form)
    ticket = re.search(r'name="ticket" value="([^"]+)"', form)
    assert ticket is not None
    return ticket.group(1)


def test_the_public_form_reflects_hostile_fields_as_text(service: Service) -> None:
    c = service.client
    fields = {"lang": "en", "kind": "grooming", "locations": hostile("locations"),
              "explanation": hostile("why"), "name": hostile("name")[:200],
              "email": hostile("email")[:320]}
    # A robot (the hidden field filled) gets its own fields back, harmless.
    robot = c.post("/notice", data=fields | {"ticket": _form(c), "website": hostile("trap")})
    assert robot.status_code == 400
    assert_safe(robot.text, "locations", "why")
    assert hostile("name") in read_values(robot.text)
    assert hostile("email") in read_values(robot.text)
    assert MARK + "-trap" not in robot.text  # the trap's value is never shown
    # An unknown kind: the notifier is asked, in the catalogue's words, to choose one of
    # the form's; what was sent is not echoed at all.
    wrong = c.post("/notice", data=fields | {"ticket": _form(c), "kind": hostile("kind")})
    assert wrong.status_code == 422
    assert_safe(wrong.text, "locations", "why")
    assert catalog("en")["notice_choose_kind"] in wrong.text
    assert MARK + "-kind" not in wrong.text
    # Accepted: the acknowledgement and the notifier's page show it as text too.
    ok = c.post("/notice", data=fields | {"ticket": _form(c)})
    assert ok.status_code == 200, ok.text
    assert_safe(ok.text)
    link = re.search(r'id="status-link" href="([^"]+)"', ok.text)
    assert link is not None
    service.drain()
    status = c.get(link.group(1).replace("&amp;", "&"))
    assert status.status_code == 200
    assert_safe(status.text)
