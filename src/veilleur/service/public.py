"""The public notice form (DSA Art. 16) and the public transparency report.

Anyone may send a notice without an account; for child sexual abuse, grooming and
sextortion the name and e-mail are optional (Art. 16(2)(c)). The notifier gets a reference
and a private link to follow the notice, and there reads the decision notice (16(5)) once
it is written; with an e-mail, the same letter is kept for delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
import time
import zipfile
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from veilleur.service.api import NoticeIn, NoticeItem, NotifierIn, TargetIn, notice_events
from veilleur.service.auth import LANGUAGES
from veilleur.service.console import _page
from veilleur.service.deps import GuardsDep, RuntimeDep, client_address, public_rate
from veilleur.service.i18n import Words, pick
from veilleur.service.runtime import Busy
from veilleur.store.models import PublicNoticeRow

router = APIRouter(include_in_schema=False)
KINDS = ("csam", "grooming", "sextortion", "ncii", "other")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_locations(text: str) -> list[NoticeItem]:
    """One location a line: a message link (…/channels/guild/channel/message), an invite, or a
    bare id. What cannot be read is still kept as the locator a person will look at."""
    import re

    items = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if m := re.search(r"/channels/([\w@-]+)/([\w-]+)/([\w-]+)", line):
            target = TargetIn(kind="message", id=m.group(3))
        elif m := re.search(r"(?:discord\.gg|discord(?:app)?\.com/invite)/([\w-]+)", line):
            target = TargetIn(kind="invite", id=m.group(1))
        elif m := re.search(r"/channels/([\w-]+)/([\w-]+)/?$", line):
            target = TargetIn(kind="channel", id=m.group(2))
        elif re.fullmatch(r"\d{5,25}", line):
            target = TargetIn(kind="message", id=line)
        else:
            target = TargetIn(kind="message", id="unknown-" + _digest(line)[:12])
        items.append(NoticeItem(target=target, locator=line[:2000]))
    return items


def _language(request: Request, asked: str | None) -> str:
    """The notifier's language: the one they chose (`?lang=`, or the form's own field), else
    the first of ours their browser asks for."""
    if asked is not None and asked in LANGUAGES:
        return asked
    return pick(request.headers.get("accept-language"))


def _letters_in(rt: RuntimeDep, language: str) -> str:
    """The language our letters to this notifier are written in (documents are French and
    English only: see `Documents.notifier_language`)."""
    with rt.lock:
        return rt.casework.compliance.notifier_language(language)


def _busy(words: Words, seconds: int) -> tuple[str, dict[str, str]]:
    """'Too many notices: send it again in N s', and the header that says the same."""
    return (words("notice_busy").replace("{s}", str(seconds)),
            {"Retry-After": str(seconds)})


def notice_rate(request: Request, g: GuardsDep, lang: str | None = None) -> None:
    """The per-address limit, said in the notifier's language."""
    wait = g.public.take(client_address(request))
    if wait:
        message, headers = _busy(Words(_language(request, lang)), int(wait) + 1)
        raise HTTPException(429, message, headers=headers)


@router.get("/notice", response_class=HTMLResponse)
def notice_form(request: Request, g: GuardsDep, lang: str | None = None) -> HTMLResponse:
    return _page(request, "notice.html.j2", None, lang=_language(request, lang),
                 ticket=g.tickets.issue(), kinds=KINDS, error=None, values={})


@router.post("/notice", response_class=HTMLResponse)
def notice_submit(request: Request, rt: RuntimeDep, g: GuardsDep,
                  ticket: Annotated[str, Form()] = "",
                  locations: Annotated[str, Form()] = "",
                  explanation: Annotated[str, Form()] = "",
                  kind: Annotated[str, Form()] = "",
                  lang: Annotated[str, Form()] = "",
                  name: Annotated[str, Form()] = "",
                  email: Annotated[str, Form()] = "",
                  bona_fide: Annotated[str | None, Form()] = None,
                  website: Annotated[str, Form()] = "") -> Response:
    language = _language(request, lang)
    words = Words(language)
    values = {"locations": locations, "kind": kind, "explanation": explanation,
              "name": name, "email": email}

    def again(key: str, status: int = 422, message: str | None = None,
              headers: dict[str, str] | None = None) -> HTMLResponse:
        """The form again, as the notifier filled it, with what is wrong in their words."""
        resp = _page(request, "notice.html.j2", None, lang=language,
                     ticket=g.tickets.issue(), kinds=KINDS, error=message or words(key),
                     values=values)
        resp.status_code = status
        resp.headers.update(headers or {})
        return resp

    # Floods first: per address, then (but for robots) for everyone.
    wait = g.public.take(client_address(request))
    if not wait and website:  # only robots fill the hidden field
        return again("notice_not_accepted", 400)
    wait = wait or g.form.take("form")
    if wait:
        return again("notice_busy", 429, *_busy(words, int(wait) + 1))
    if max(len(locations), len(explanation)) > 20_000 or len(name) > 200 or \
            len(email) > 320:
        return again("notice_too_long")
    problem = g.tickets.redeem(ticket)
    if problem:
        return again(problem)
    items = parse_locations(locations)
    if not items:
        return again("notice_no_location")
    if kind not in KINDS:  # none chosen, or one the form does not offer
        return again("notice_choose_kind")
    if not explanation.strip():
        return again("notice_no_why")
    notifier = NotifierIn(name=name.strip() or None, email=email.strip() or None,
                          language=language, channel="web")
    body = NoticeIn(items=items[:100], category_claimed=None if kind == "other" else kind,
                    explanation=explanation.strip(), notifier=notifier,
                    bona_fide=bool(bona_fide))
    notice_id, events = notice_events(rt, body, "dsa_notice", None)
    try:
        # Not the address: the audit log names who handed a notice in, and is never erased.
        result = rt.accept(events, "public-form", kinds=("report",))
    except Busy as exc:
        return again("notice_busy", 429, *_busy(words, exc.retry_after))
    if result.rejected:  # what the engine's validation says is for the logs, not the notifier
        return again("notice_rejected")
    token = secrets.token_urlsafe(24)
    with Session(rt.db) as s, s.begin():
        s.add(PublicNoticeRow(reference=notice_id, token_hash=_digest(token),
                              report_ids=[e["report"]["id"] for e in events],
                              created_at=rt.clock()))
    link = f"/notice/{notice_id}?token={token}&lang={language}"
    return _page(request, "notice_ack.html.j2", None, lang=language, reference=notice_id,
                 link=link, items=len(events), letters_in=_letters_in(rt, language))


@router.get("/notice/{reference}", response_class=HTMLResponse,
            dependencies=[Depends(notice_rate)])
def notice_status(request: Request, reference: str, rt: RuntimeDep, token: str = "",
                  lang: str | None = None) -> HTMLResponse:
    language = _language(request, lang)
    with Session(rt.db) as s:
        row = s.get(PublicNoticeRow, reference)
        if row is None or not hmac.compare_digest(row.token_hash, _digest(token)):
            resp = _page(request, "notice_missing.html.j2", None, lang=language)
            resp.status_code = 404
            return resp
        report_ids = list(row.report_ids)
    letters: list[dict[str, Any]] = []
    items = []
    with rt.lock:
        cw = rt.casework
        for rid in report_ids:
            intake = cw.intakes.get(f"report:{rid}")
            items.append({"id": rid, "resolution": intake.resolution.value
                          if intake and intake.resolution else None})
        for doc in cw.compliance.documents.values():
            if doc.kind in ("notice_ack", "decision_notice") and \
                    doc.refs.get("notice_id") == reference and doc.body:
                letters.append({"kind": doc.kind, "subject": doc.subject, "body": doc.body,
                                "language": doc.language})
    return _page(request, "notice_status.html.j2", None, lang=language, reference=reference,
                 items=items, letters=letters, letters_in=_letters_in(rt, language),
                 token=token)


# --- transparency (public by nature: DSA Art. 15 and 24) -------------------------------------


def transparency_tables(rt: RuntimeDep, year: int) -> tuple[list[Any], Any, Any]:
    from veilleur.compliance import transparency as tr
    from veilleur.compliance.config import load_compliance_policy
    from veilleur.store.casework import snapshot

    if not 2024 <= year <= 2100:
        raise HTTPException(422, "year must be between 2024 and 2100")
    cache: dict[int, tuple[float, Any]] = rt.extras.setdefault("transparency", {})
    hit = cache.get(year)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]  # type: ignore[no-any-return]
    rt.sync()
    snap = snapshot(rt.db)
    policy = load_compliance_policy()
    period = tr.Period.year(year)
    made = (tr.report(tr.Records(snap.intakes, snap.decisions, snap.documents), period,
                      policy), period, policy)
    # Read from the whole store: made at most once a minute, whoever asks.
    cache[year] = (time.monotonic() + 60.0, made)
    return made


@router.get("/transparency/{year}.zip", dependencies=[Depends(public_rate)])
def transparency_zip(year: int, rt: RuntimeDep) -> Response:
    """The IR 2024/2835 CSV parts 4-8 and the HTML page, in one archive."""
    from veilleur.compliance import transparency as tr

    tables, period, policy = transparency_tables(rt, year)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for t in tables:
            z.writestr(f"{t.name}.csv", t.csv())
        z.writestr("transparency.html", tr.html(tables, period, policy))
    return Response(buf.getvalue(), media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="transparency-{year}.zip"'})


@router.get("/transparency/{year}", response_class=HTMLResponse,
            dependencies=[Depends(public_rate)])
def transparency_html(year: int, rt: RuntimeDep) -> HTMLResponse:
    from veilleur.compliance import transparency as tr

    tables, period, policy = transparency_tables(rt, year)
    page = tr.html(tables, period, policy)
    return HTMLResponse(page, headers={"Content-Security-Policy": _csp_for(page)})


def _csp_for(page: str) -> str:
    """The service's policy, with the page's own stylesheet allowed by its digest (the same
    page is also a file in the zip, so its style is inline): without it the page had no
    style at all, and its tables ran past the window."""
    import base64
    import re

    from veilleur.service.app import CSP

    hashes = " ".join("'sha256-" + base64.b64encode(hashlib.sha256(m.encode()).digest())
                      .decode() + "'" for m in re.findall(r"<style>(.*?)</style>", page,
                                                          re.S))
    return CSP.replace("style-src 'self'", f"style-src 'self' {hashes}".rstrip())
