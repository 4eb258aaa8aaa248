"""The review console (`/console`): server-rendered pages (Jinja2) with HTMX for the parts
that change in place (the queue, a revealed picture, the statement preview).

Every case view and every reveal is in the audit log; child sexual abuse cases and their
media are shown only to child-safety specialists; each POST carries the session's CSRF token.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import FileSystemLoader

from veilleur.cases.casework import Casework
from veilleur.cases.models import Case, IntakeKind, iso
from veilleur.cases.review import ReviewError, Verdict, target_decisions
from veilleur.detect.media.decode import MediaError
from veilleur.safe_html import html_environment
from veilleur.service import casepage, media
from veilleur.service.auth import (
    Login,
    attempt_login,
    close_session,
    open_session,
    same_token,
    set_preferences,
)
from veilleur.service.deps import (
    SESSION_COOKIE,
    GuardsDep,
    RuntimeDep,
    UserDep,
    client_address,
    too_many,
)
from veilleur.service.i18n import Words, pick
from veilleur.service.runtime import Runtime
from veilleur.taxonomy import Category, Target, TargetKind

TEMPLATES = Path(__file__).resolve().parent / "templates"
PRELOGIN = "veilleur_prelogin"
REVEAL_MINUTES = 10
# Escaping on for every template: Jinja2Templates alone leaves `.html.j2` files unescaped.
templates = Jinja2Templates(env=html_environment(FileSystemLoader(TEMPLATES)))
router = APIRouter(prefix="/console", include_in_schema=False)


class Reveals:
    """Which person revealed which file, for a few minutes: the clear picture is served only
    to them, only after the (audited) reveal."""

    def __init__(self) -> None:
        self._until: OrderedDict[tuple[str, str], float] = OrderedDict()

    def grant(self, user: str, attachment: str) -> None:
        self._until[user, attachment] = time.monotonic() + REVEAL_MINUTES * 60
        while len(self._until) > 10_000:
            self._until.popitem(last=False)

    def allowed(self, user: str, attachment: str) -> bool:
        return self._until.get((user, attachment), 0.0) > time.monotonic()


def _page(request: Request, name: str, who: Login | None, lang: str | None = None,
          **ctx: Any) -> HTMLResponse:
    language = who.account.language if who else (lang or pick(
        request.headers.get("accept-language")))
    return templates.TemplateResponse(request, name, {
        "t": Words(language), "lang": language, "who": who,
        "csrf": who.csrf if who else None, **ctx})


def _check_csrf(request: Request, who: Login, form_token: str | None) -> None:
    token = form_token or request.headers.get("x-csrf-token")
    if not same_token(token, who.csrf):
        raise HTTPException(403, "the form's CSRF token is missing or wrong: reload the page")


def _visible(rt: Runtime, who: Login, case: Case) -> bool:
    return casepage.visible_to(who.account, rt.casework, case)


def _case_for(rt: Runtime, who: Login, case_id: str) -> Case:
    case = rt.case(case_id)
    if case is None:
        raise HTTPException(404, f"no case {case_id}")
    if not _visible(rt, who, case):
        raise HTTPException(403, Words(who.account.language)("reserved"))
    return case


def _reviewer(who: Login) -> None:
    if not who.account.reviews:
        raise HTTPException(403, "only reviewers and specialists review cases")


# --- login ----------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, error: str | None = None) -> HTMLResponse:
    token = secrets.token_urlsafe(16)
    resp = _page(request, "login.html.j2", None, prelogin=token, error=error)
    resp.set_cookie(PRELOGIN, token, httponly=True, samesite="strict", max_age=3600,
                    path="/console", secure=request.app.state.runtime.settings.secure_cookies)
    return resp


@router.post("/login")
def login_submit(request: Request, rt: RuntimeDep, g: GuardsDep,
                 username: Annotated[str, Form()], password: Annotated[str, Form()],
                 prelogin: Annotated[str, Form()]) -> Response:
    wait = g.public.take("login:" + client_address(request))
    if wait:
        raise too_many(wait, "login attempts")
    if not same_token(prelogin, request.cookies.get(PRELOGIN)):
        raise HTTPException(403, "the login form's CSRF token is missing or wrong: reload it")
    attempt = attempt_login(rt.db, username, password, rt.clock(), g.lockout)
    account = attempt.account
    if account is None:
        detail: dict[str, Any] = {"address": client_address(request)}
        if attempt.locked_until is not None:
            detail["locked_until"] = iso(attempt.locked_until)
        with rt.work() as cw:  # failed attempts are part of the record too
            cw.audit.append(rt.clock(), "console.login_failed", username[:64] or "?",
                            "console", detail)
        # Locked or wrong, the same answer: it must not tell whether the account exists.
        return RedirectResponse("/console/login?error=1", status_code=303)
    token, _ = open_session(rt.db, account, rt.clock())
    resp = RedirectResponse("/console/", status_code=303)
    resp.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict",
                    secure=rt.settings.secure_cookies, path="/")
    resp.delete_cookie(PRELOGIN, path="/console")
    with rt.work() as cw:  # the live audit chain: one writer
        cw.audit.append(rt.clock(), "console.login", account.username, "console",
                        {"address": client_address(request)})
    return resp


@router.post("/logout")
def logout(request: Request, rt: RuntimeDep, who: UserDep,
           csrf: Annotated[str | None, Form()] = None) -> Response:
    _check_csrf(request, who, csrf)
    close_session(rt.db, request.cookies.get(SESSION_COOKIE))
    resp = RedirectResponse("/console/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


# --- the queue ------------------------------------------------------------------------------


def _queue_rows(rt: Runtime, who: Login) -> list[dict[str, Any]]:
    now = rt.clock()
    with rt.lock:
        cw = rt.casework
        share = cw.policy.at_risk_share
        queued = cw.queue(now)
        held = [c for c in cw.cases.values() if c.status == "in_review"
                and c.locked_by == who.account.username]
        rows = []
        for c in [*held, *queued]:
            if not _visible(rt, who, c):
                continue
            statuses = {clock.status(now, share) for clock in c.clocks}
            rows.append({"id": c.id, "priority": round(c.effective_priority(
                cw.policy.at_risk_boost), 3), "category": c.category.value
                if c.category else None, "targets": len(c.targets),
                "opened_at": iso(c.opened_at), "due": iso(c.next_due()),
                "state": "breached" if "breached" in statuses or c.escalated
                else "at_risk" if "at_risk" in statuses else "",
                "kind": c.kind, "mine": c.locked_by == who.account.username})
            if len(rows) >= 200:
                break
    # Breached cases first whatever their score: their deadline has passed.
    rows.sort(key=lambda r: (not r["mine"], r["state"] != "breached"))
    return rows


@router.get("/", response_class=HTMLResponse)
def queue_page(request: Request, rt: RuntimeDep, who: UserDep,
               done: str | None = None) -> HTMLResponse:
    return _page(request, "queue.html.j2", who, rows=_queue_rows(rt, who), done=done,
                 now=iso(rt.clock()))


@router.get("/queue/rows", response_class=HTMLResponse)
def queue_rows(request: Request, rt: RuntimeDep, who: UserDep) -> HTMLResponse:
    return _page(request, "_queue_rows.html.j2", who, rows=_queue_rows(rt, who))


@router.post("/next")
def take_next(request: Request, rt: RuntimeDep, who: UserDep,
              csrf: Annotated[str | None, Form()] = None) -> Response:
    _check_csrf(request, who, csrf)
    _reviewer(who)
    user = who.account.username
    with rt.work() as cw:
        case = cw.take_first(user, rt.clock(), lambda c: _visible(rt, who, c))
    if case is not None:
        return RedirectResponse(f"/console/cases/{case.id}", status_code=303)
    return RedirectResponse("/console/", status_code=303)


# --- a case ---------------------------------------------------------------------------------


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_view(request: Request, case_id: str, rt: RuntimeDep, who: UserDep) -> HTMLResponse:
    with rt.work() as cw:
        case = _case_for(rt, who, case_id)
        cw.view(case.id, rt.clock(), viewer=who.account.username)  # audited
        page = casepage.case_page(cw, case, rt.clock(), who.account.language)
    return _page(request, "case.html.j2", who, page=page,
                 prefs=who.account.preferences, now=iso(rt.clock()))


def _on_case(request: Request, rt: Runtime, who: Login, csrf: str | None, case_id: str,
             act: Callable[[Casework, Case], object]) -> Case:
    _check_csrf(request, who, csrf)
    with rt.work() as cw:
        case = _case_for(rt, who, case_id)
        try:
            act(cw, case)
        except ReviewError as exc:
            raise HTTPException(409, str(exc)) from None
    return case


@router.post("/cases/{case_id}/take")
def take(request: Request, case_id: str, rt: RuntimeDep, who: UserDep,
         csrf: Annotated[str | None, Form()] = None) -> Response:
    _reviewer(who)
    case = _on_case(request, rt, who, csrf, case_id,
                    lambda cw, c: cw.take(c.id, who.account.username, rt.clock()))
    return RedirectResponse(f"/console/cases/{case.id}", status_code=303)


@router.post("/cases/{case_id}/release")
def release(request: Request, case_id: str, rt: RuntimeDep, who: UserDep,
            csrf: Annotated[str | None, Form()] = None) -> Response:
    _on_case(request, rt, who, csrf, case_id,
             lambda cw, c: cw.release(c.id, who.account.username, rt.clock()))
    return RedirectResponse("/console/", status_code=303)


def _own_file(rt: Runtime, who: Login, case_id: str, attachment_id: str) -> Case:
    case = _case_for(rt, who, case_id)
    if attachment_id not in rt.casework.files_of(case):
        raise HTTPException(404, f"attachment {attachment_id} is not in case {case_id}")
    return case


_NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


@router.get("/cases/{case_id}/media/{attachment_id}")
def media_file(case_id: str, attachment_id: str, rt: RuntimeDep, who: UserDep,
               clear: int = 0) -> Response:
    """The picture: blurred and greyscale, or clear after this person revealed it."""
    user = who.account.username
    with rt.lock:
        _own_file(rt, who, case_id, attachment_id)
        if clear and not request_reveals(rt).allowed(user, attachment_id):
            raise HTTPException(403, "reveal the picture first")
        data = media.file_bytes(rt.casework, attachment_id, viewer=user, now=rt.clock())
    if data is None:
        return Response(status_code=404, headers=_NO_STORE)
    prefs = who.account.preferences
    try:
        picture = media.render(data, clear=bool(clear), colour=bool(prefs.get("colour")),
                               blur=str(prefs.get("blur", "strong")))
    except MediaError as exc:  # shown as a plain tile; the reason in words beside it
        # One line of ASCII: a decoder's message may hold anything, a header may not.
        reason = " ".join(str(exc).replace("\u00d7", "x").encode("ascii", "replace")
                          .decode().split())
        return Response(media.placeholder(), media_type="image/jpeg",
                        headers=_NO_STORE | {"X-Veilleur-Refused": reason[:300]})
    return Response(picture, media_type="image/jpeg", headers=_NO_STORE)


@router.get("/cases/{case_id}/media/{attachment_id}/video")
def media_video(case_id: str, attachment_id: str, rt: RuntimeDep, who: UserDep) -> Response:
    user = who.account.username
    with rt.lock:
        _own_file(rt, who, case_id, attachment_id)
        if not request_reveals(rt).allowed(user, attachment_id):
            raise HTTPException(403, "reveal the video first")
        data = media.file_bytes(rt.casework, attachment_id, viewer=user, now=rt.clock())
    kind = media.video_type(data) if data is not None else None
    if data is None or kind is None:
        return Response(status_code=404, headers=_NO_STORE)
    return Response(data, media_type=kind, headers=_NO_STORE)


def request_reveals(rt: Runtime) -> Reveals:
    reveals: Reveals = rt.extras.setdefault("reveals", Reveals())
    return reveals


@router.post("/cases/{case_id}/media/{attachment_id}/reveal", response_class=HTMLResponse)
def reveal(request: Request, case_id: str, attachment_id: str, rt: RuntimeDep,
           who: UserDep, csrf: Annotated[str | None, Form()] = None) -> HTMLResponse:
    """One file, on purpose: recorded (NCMEC asks whether a person viewed each file)."""
    _check_csrf(request, who, csrf)
    user = who.account.username
    with rt.work() as cw:
        case = _own_file(rt, who, case_id, attachment_id)
        cw.view_media(case.id, user, rt.clock(), only=[attachment_id])
        request_reveals(rt).grant(user, attachment_id)
        page = casepage.case_page(cw, case, rt.clock(), who.account.language)
    item = next(m for m in page["media"] if m["id"] == attachment_id)
    return _page(request, "_media_revealed.html.j2", who, m=item, case_id=case_id)


async def text_form(request: Request) -> dict[str, str]:
    """A decision form's fields. Files are refused (400) by the parser: every field here is
    text, and a file where text is read was a 500."""
    form = await request.form(max_files=0)
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _verdicts(case: Case, form: dict[str, Any]) -> dict[Target, Verdict]:
    out = {}
    explanation = (form.get("explanation") or "").strip() or None
    for i, t in enumerate(case.targets):
        value = form.get(f"cat_{i}") or ""
        if not value:
            continue
        try:
            category = Category(value)
        except ValueError:
            raise HTTPException(422, f"unknown category {value!r}") from None
        ground = form.get(f"ground_{i}") or "illegal"
        out[t] = Verdict(category, ground if ground in ("illegal", "terms") else "illegal",
                         explanation=explanation)
    return out


@router.post("/cases/{case_id}/preview", response_class=HTMLResponse)
async def preview(request: Request, case_id: str, rt: RuntimeDep, who: UserDep
                  ) -> HTMLResponse:
    form = await text_form(request)
    _check_csrf(request, who, str(form.get("csrf") or ""))
    _reviewer(who)
    with rt.lock:
        cw = rt.casework
        case = _case_for(rt, who, case_id)
        verdicts = _verdicts(case, form)
        try:
            tds = target_decisions(case.targets, verdicts, cw.policy)
        except ReviewError as exc:
            raise HTTPException(422, str(exc)) from None
        letters = cw.compliance.preview(case, tds, rt.clock())
    chosen = [{"target": t.to_json(), "category": v.category.value if v.category else None,
               "ground": v.ground} for t, v in verdicts.items()]
    return _page(request, "_preview.html.j2", who, letters=letters, chosen=chosen,
                 case_id=case_id, form=form)


@router.post("/cases/{case_id}/decide")
async def decide(request: Request, case_id: str, rt: RuntimeDep, who: UserDep) -> Response:
    form = await text_form(request)
    _check_csrf(request, who, str(form.get("csrf") or ""))
    _reviewer(who)
    with rt.lock:
        case = _case_for(rt, who, case_id)
        verdicts = _verdicts(case, form)
    try:
        decision = rt.decide(case.id, who.account.username, verdicts)
    except ReviewError as exc:
        raise HTTPException(409, str(exc)) from None
    headers = {"HX-Redirect": f"/console/?done={decision.id}"}
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers=headers)
    return RedirectResponse(f"/console/?done={decision.id}", status_code=303)


# --- appeals, notices, transparency, preferences ---------------------------------------------


@router.get("/appeals", response_class=HTMLResponse)
def appeals(request: Request, rt: RuntimeDep, who: UserDep) -> HTMLResponse:
    now = rt.clock()
    with rt.lock:
        cw = rt.casework
        rows = []
        for c in cw.cases.values():
            if c.kind != "complaint" or not _visible(rt, who, c):
                continue
            intake = cw.intakes.get(c.intakes[0]) if c.intakes else None
            rows.append({"id": c.id, "status": c.status, "opened_at": iso(c.opened_at),
                         "due": iso(c.next_due()), "by": intake.source if intake else None,
                         "challenges": intake.challenges if intake else None,
                         "explanation": intake.explanation if intake else None,
                         "target": c.targets[0].to_json() if c.targets else None})
    rows.sort(key=lambda r: (r["status"] == "closed", r["opened_at"]))
    return _page(request, "appeals.html.j2", who, rows=rows, now=iso(now))


@router.get("/notices", response_class=HTMLResponse)
def notices(request: Request, rt: RuntimeDep, who: UserDep, limit: int = 300) -> HTMLResponse:
    lang = who.account.language
    with rt.lock:
        cw = rt.casework
        items = [i for i in cw.intakes.values() if i.kind is IntakeKind.REPORT
                 and i.source in ("dsa_notice", "trusted_flagger", "authority")]
        items.sort(key=lambda i: i.received_at, reverse=True)
        rows = []
        for i in items[:max(1, min(limit, 2000))]:
            case = cw.case_of(i.case_id)
            hidden = case is not None and not _visible(rt, who, case)
            notice = cw.compliance.notices.get(i.notice_id or i.id.removeprefix("report:"))
            rows.append({"id": i.id, "source": casepage.SOURCES[lang].get(i.source, i.source),
                         "flagger": i.flagger, "received_at": iso(i.received_at),
                         "category": i.category.value if i.category else None,
                         "case_id": case.id if case else None, "hidden": hidden,
                         "resolution": i.resolution.value if i.resolution else None,
                         "missing": notice.missing if notice else [],
                         "notice_id": i.notice_id})
    return _page(request, "notices.html.j2", who, rows=rows)


def _week(ts: datetime) -> str:
    monday = ts - timedelta(days=ts.weekday())
    return monday.strftime("%Y-%m-%d")


@router.get("/transparency", response_class=HTMLResponse)
def transparency_page(request: Request, rt: RuntimeDep, who: UserDep,
                      year: int | None = None) -> HTMLResponse:
    from veilleur.compliance.transparency import bar_chart

    year = year or rt.clock().year
    buckets = [("< 1 h", 1.0), ("1-6 h", 6.0), ("6-24 h", 24.0), ("1-7 d", 168.0),
               ("> 7 d", float("inf"))]
    by_time = {label: 0 for label, _ in buckets}
    by_week: dict[str, int] = {}
    with rt.lock:
        for i in rt.casework.intakes.values():
            if i.received_at.year != year:
                continue
            week = _week(i.received_at)
            by_week[week] = by_week.get(week, 0) + 1
            if i.kind is IntakeKind.REPORT and i.resolved_at is not None:
                hours = (i.resolved_at - i.received_at).total_seconds() / 3600
                label = next(lb for lb, top in buckets if hours < top)
                by_time[label] += 1
    charts = [
        {"title": "time_to_action", "svg": bar_chart([(k, float(v))
                                                      for k, v in by_time.items()])},
        {"title": "volumes", "svg": bar_chart([(k, float(v))
                                               for k, v in sorted(by_week.items())[-26:]])},
    ]
    return _page(request, "transparency.html.j2", who, charts=charts, year=year)


@router.get("/preferences", response_class=HTMLResponse)
def preferences_page(request: Request, who: UserDep, saved: int = 0) -> HTMLResponse:
    return _page(request, "preferences.html.j2", who, prefs=who.account.preferences,
                 saved=saved)


@router.post("/preferences")
def preferences_save(request: Request, rt: RuntimeDep, who: UserDep,
                     language: Annotated[str, Form()], blur: Annotated[str, Form()],
                     colour: Annotated[str | None, Form()] = None,
                     csrf: Annotated[str | None, Form()] = None) -> Response:
    _check_csrf(request, who, csrf)
    set_preferences(rt.db, who.account.username, language=language,
                    blur="light" if blur == "light" else "strong", colour=bool(colour))
    return RedirectResponse("/console/preferences?saved=1", status_code=303)


def target_label(t: dict[str, str]) -> str:
    return f"{t['kind']}:{t['id']}"


templates.env.filters["target"] = target_label
templates.env.globals["TargetKind"] = TargetKind
