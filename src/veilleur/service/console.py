"""The review console (`/console`): server-rendered pages (Jinja2) with HTMX for the parts
that change in place (the queue, a revealed picture, the statement preview).

Every case view and every reveal is in the audit log; child sexual abuse cases and their
media are shown only to child-safety specialists; each POST carries the session's CSRF token.
"""

from __future__ import annotations

import secrets
import threading
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
from veilleur.cases.models import Action, Case, Decision, IntakeKind, iso
from veilleur.cases.review import ReviewError, Verdict, case_measures, target_decisions
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


class Exposure:
    """How many files each reviewer revealed today (UTC), and how many of them in child
    sexual abuse cases: shown to them, with a reminder to take a break every
    `break_after_reveals`. A file counts once a day per person however often it is
    revealed again. Each first reveal of the day is in the audit log (`media.revealed`),
    from which a restarted service counts the day's distinct files again."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        # (user, day) -> each file revealed that day -> whether it was child sexual abuse
        self._files: dict[tuple[str, str], dict[str, bool]] = {}
        self._lock = threading.Lock()  # pages are answered from several threads

    def _day(self, user: str, now: datetime) -> dict[str, bool]:
        day = now.date().isoformat()
        with self._lock:
            files = self._files.get((user, day))
        if files is None:
            stored = self._stored(user, day)
            with self._lock:
                files = self._files.setdefault((user, day), stored)
                for key in [k for k in self._files if k[1] != day]:
                    del self._files[key]
        return files

    def _stored(self, user: str, day: str) -> dict[str, bool]:
        import json

        from sqlalchemy import select

        from veilleur.store.models import AuditRow

        with self.rt.db.connect() as conn:
            details = conn.execute(select(AuditRow.detail).where(
                AuditRow.kind == "media.revealed", AuditRow.actor == user,
                AuditRow.at >= day)).scalars().all()
        files: dict[str, bool] = {}
        for d in details:
            item = json.loads(d)
            key = str(item.get("attachment"))
            files[key] = files.get(key, False) or bool(item.get("csam"))
        return files

    def add(self, user: str, now: datetime, attachment: str, *, csam: bool
            ) -> tuple[int, bool]:
        """The day's count after this reveal, and whether the file is new today."""
        files = self._day(user, now)
        with self._lock:
            new = attachment not in files
            files[attachment] = files.get(attachment, False) or csam
            return len(files), new

    def today(self, user: str, now: datetime) -> dict[str, int]:
        files = self._day(user, now)
        with self._lock:
            return {"all": len(files), "csam": sum(files.values())}


def exposure(rt: Runtime) -> Exposure:
    found: Exposure = rt.extras.setdefault("exposure", Exposure(rt))
    return found


def _active(rt: Runtime, who: Login) -> None:
    """When each person last used the console (for the alert on cases no one present may
    see)."""
    seen: dict[str, tuple[str, datetime]] = rt.extras.setdefault("active", {})
    seen[who.account.username] = (who.account.role, rt.clock())


def last_active(rt: Runtime, role: str) -> datetime | None:
    """The last time someone with this role used the console or logged in."""
    from sqlalchemy import func, select

    from veilleur.store.db import as_utc
    from veilleur.store.models import AccountRow, SessionRow

    seen: dict[str, tuple[str, datetime]] = rt.extras.get("active", {})
    times = [at for r, at in seen.values() if r == role]
    with rt.db.connect() as conn:
        login = conn.execute(select(func.max(SessionRow.created_at)).join(
            AccountRow, AccountRow.username == SessionRow.username).where(
            AccountRow.role == role, AccountRow.disabled_at.is_(None))).scalar()
    if (at := as_utc(login)) is not None:
        times.append(at)
    return max(times) if times else None


def _page(request: Request, name: str, who: Login | None, lang: str | None = None,
          **ctx: Any) -> HTMLResponse:
    language = who.account.language if who else (lang or pick(
        request.headers.get("accept-language")))
    extra: dict[str, Any] = {}
    if who is not None:
        rt: Runtime = request.app.state.runtime
        _active(rt, who)
        extra["exposure"] = exposure(rt).today(who.account.username, rt.clock())
        extra["break_after"] = rt.settings.break_after_reveals
    return templates.TemplateResponse(request, name, {
        "t": Words(language), "lang": language, "who": who,
        "csrf": who.csrf if who else None, **extra, **ctx})


def _fail(who: Login | None, status: int, key: str) -> HTTPException:
    """An error for a person, in their language."""
    return HTTPException(status, Words(who.account.language if who else "fr")(key))


def _check_csrf(request: Request, who: Login, form_token: str | None) -> None:
    token = form_token or request.headers.get("x-csrf-token")
    if not same_token(token, who.csrf):
        raise _fail(who, 403, "e_csrf")


def _visible(rt: Runtime, who: Login, case: Case) -> bool:
    return casepage.visible_to(who.account, rt.casework, case)


def _case_for(rt: Runtime, who: Login, case_id: str) -> Case:
    case = rt.case(case_id)
    if case is None:
        raise _fail(who, 404, "e_no_case")
    if not _visible(rt, who, case):
        raise _fail(who, 403, "reserved")
    return case


def _reviewer(who: Login) -> None:
    if not who.account.reviews:
        raise _fail(who, 403, "e_reviewers_only")


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
        words = Words(pick(request.headers.get("accept-language")))
        raise HTTPException(429, words("e_too_many").replace("{s}", str(int(wait) + 1)),
                            headers={"Retry-After": str(int(wait) + 1)})
    if not same_token(prelogin, request.cookies.get(PRELOGIN)):
        raise HTTPException(403, Words(pick(request.headers.get("accept-language")))(
            "e_login_csrf"))
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


SORTS = ("queue", "deadline", "opened", "targets")


def _queue_rows(rt: Runtime, who: Login, cat: str = "", src: str = "",
                sort: str = "queue") -> list[dict[str, Any]]:
    """The cases this person may take, with what to triage on: category, a safe one-line
    summary, where they came from, the clock that runs out first, the number of targets;
    filtered (`cat`: a category or `none`; `src`: one of `casepage.CHIPS`) and sorted."""
    now = rt.clock()
    with rt.lock:
        cw = rt.casework
        share = cw.policy.at_risk_share
        queued = cw.queue(now)
        held = [c for c in cw.cases.values() if c.status == "in_review"
                and c.locked_by == who.account.username]
        rows: list[dict[str, Any]] = []
        for c in [*held, *queued]:
            if not _visible(rt, who, c):
                continue
            category = c.category.value if c.category else None
            if cat and (category or "none") != cat:
                continue
            chips = list(dict.fromkeys(casepage.chip(cw.intakes[i]) for i in c.intakes
                                       if i in cw.intakes))
            if src and src not in chips:
                continue
            statuses = {clock.status(now, share) for clock in c.clocks}
            rows.append({"id": c.id, "priority": round(c.effective_priority(
                cw.policy.at_risk_boost), 3), "category": category,
                "targets": len(c.targets), "opened_at": iso(c.opened_at),
                "due": iso(c.next_due()), "clocks": casepage.running_clocks(
                    c, now, share, cw.policy.trusted_flagger_hours),
                "summary": casepage.summary(cw, c), "sources": chips,
                "state": "breached" if "breached" in statuses or c.escalated
                else "at_risk" if "at_risk" in statuses else "",
                "kind": c.kind, "mine": c.locked_by == who.account.username})
            if len(rows) >= 200:
                break
    if sort == "deadline":
        rows.sort(key=lambda r: r["due"] or "9999")
    elif sort == "opened":
        rows.sort(key=lambda r: r["opened_at"] or "")
    elif sort == "targets":
        rows.sort(key=lambda r: -r["targets"])
    # Breached cases first whatever the order asked: their deadline has passed.
    rows.sort(key=lambda r: (not r["mine"], r["state"] != "breached"))
    return rows


def _hidden(rt: Runtime, who: Login) -> dict[str, Any] | None:
    """Cases waiting that this person's role may not see: how many, how long the oldest has
    waited, the nearest deadline, and whether anyone who may see them has been active since
    their clocks started."""
    if who.account.sees_csam:
        return None
    now = rt.clock()
    with rt.lock:
        cw = rt.casework
        waiting = [c for c in cw.cases.values() if c.status == "open"
                   and c.merged_into is None and not _visible(rt, who, c)]
        if not waiting:
            return None
        oldest = min(c.opened_at for c in waiting)
        starts = [k.started_at for c in waiting for k in c.clocks if k.stopped_at is None]
        dues = [d for c in waiting if (d := c.next_due()) is not None]
    seen = last_active(rt, "specialist")
    words = Words(who.account.language)
    # The alert: a case whose clock started after a specialist was last active (the newest
    # start counts, not the oldest: one seen case must not hide those that came after).
    return {"count": len(waiting), "age": words.duration(now - oldest),
            "due": iso(min(dues)) if dues else None,
            "alert": seen is None or any(seen < s for s in starts or [oldest])}


def _filters(cat: str, src: str, sort: str) -> dict[str, str]:
    return {"cat": cat if cat in (*casepage.CATEGORIES, "none") else "",
            "src": src if src in casepage.CHIPS else "",
            "sort": sort if sort in SORTS else "queue"}


@router.get("/", response_class=HTMLResponse)
def queue_page(request: Request, rt: RuntimeDep, who: UserDep,
               done: str | None = None, released: str = "", cat: str = "", src: str = "",
               sort: str = "queue") -> HTMLResponse:
    f = _filters(cat, src, sort)
    # A flag from our own redirect: anything but "1" is no flag, never a 422 page.
    return _page(request, "queue.html.j2", who, rows=_queue_rows(rt, who, **f), done=done,
                 released=1 if released == "1" else 0, hidden=_hidden(rt, who), filters=f,
                 categories=casepage.CATEGORIES, chips=casepage.CHIPS, sorts=SORTS,
                 now=iso(rt.clock()))


@router.get("/queue/rows", response_class=HTMLResponse)
def queue_rows(request: Request, rt: RuntimeDep, who: UserDep, cat: str = "", src: str = "",
               sort: str = "queue") -> HTMLResponse:
    f = _filters(cat, src, sort)
    return _page(request, "_queue_rows.html.j2", who, rows=_queue_rows(rt, who, **f),
                 filters=f)


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
        page = casepage.case_page(cw, case, rt.clock(), who.account.language,
                                  who.account)
    return _page(request, "case.html.j2", who, page=page,
                 prefs=who.account.preferences, now=iso(rt.clock()))


def _on_case(request: Request, rt: Runtime, who: Login, csrf: str | None, case_id: str,
             act: Callable[[Casework, Case], object]) -> Case:
    _check_csrf(request, who, csrf)
    with rt.work() as cw:
        case = _case_for(rt, who, case_id)
        try:
            act(cw, case)
        except ReviewError:
            raise _fail(who, 409, "e_not_held") from None
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
    return RedirectResponse("/console/?released=1", status_code=303)


def _own_file(rt: Runtime, who: Login, case_id: str, attachment_id: str) -> Case:
    case = _case_for(rt, who, case_id)
    if attachment_id not in rt.casework.files_of(case):
        raise _fail(who, 404, "e_not_in_case")
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
            raise _fail(who, 403, "e_reveal_first")
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
            raise _fail(who, 403, "e_reveal_first")
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
    _reviewer(who)  # admins review nothing, and see no one's media
    user = who.account.username
    with rt.work() as cw:
        case = _own_file(rt, who, case_id, attachment_id)
        cw.view_media(case.id, user, rt.clock(), only=[attachment_id])
        request_reveals(rt).grant(user, attachment_id)
        page = casepage.case_page(cw, case, rt.clock(), who.account.language,
                                  who.account)
        csam = casepage.reserved(cw, case)
        # Counted before it is logged; the same file again today counts and logs nothing.
        count, new = exposure(rt).add(user, rt.clock(), attachment_id, csam=csam)
        if new:
            cw.audit.append(rt.clock(), "media.revealed", user, case.id,
                            {"attachment": attachment_id, "csam": csam})
    item = next(m for m in page["media"] if m["id"] == attachment_id)
    every = rt.settings.break_after_reveals
    return _page(request, "_media_revealed.html.j2", who, m=item, case_id=case_id,
                 remind=count if new and every and count % every == 0 else None)


async def text_form(request: Request) -> list[tuple[str, str]]:
    """A decision form's fields, in order (a target's measures are several fields of one
    name). Files are refused (400) by the parser: every field here is text, and a file where
    text is read was a 500."""
    form = await request.form(max_files=0)
    return [(k, v) for k, v in form.multi_items() if isinstance(v, str)]


class Refused(Exception):  # noqa: N818 - an answer to the reviewer, not a fault
    """The form does not say what to decide: the catalogue's key, and the targets still to
    choose for."""

    def __init__(self, key: str, missing: list[dict[str, Any]] | None = None) -> None:
        super().__init__(key)
        self.key = key
        self.missing = missing or []


def _verdicts(cw: Casework, case: Case, fields: list[tuple[str, str]], who: Login
              ) -> tuple[dict[Target, Verdict], list[Target]]:
    """What the reviewer chose, target by target; and the accounts added as targets (a
    message's author to suspend too). Nothing is assumed: a target without a verdict, or a
    violation without its category or ground, is refused, as is any value the form does not
    offer. Child sexual abuse is decided only by a specialist: anyone else hands the case
    back (released, a specialist takes it)."""
    form: dict[str, list[str]] = {}
    for k, v in fields:
        form.setdefault(k, []).append(v)

    def one(key: str) -> str:
        return (form.get(key) or [""])[0]

    explanation = one("explanation").strip() or None
    out: dict[Target, Verdict] = {}
    added: list[Target] = []
    missing = []
    for i, t in enumerate(case.targets):
        verdict = one(f"verdict_{i}")
        if verdict == "none":
            out[t] = Verdict(None, explanation=explanation)
            continue
        if verdict not in ("", "violation"):
            raise Refused("refused_unknown")
        value, ground = one(f"cat_{i}"), one(f"ground_{i}")
        if not verdict or not value or not ground:
            missing.append(casepage.name_of(cw, t))
            continue
        try:
            category = Category(value)
        except ValueError:
            raise Refused("refused_unknown") from None
        if category is Category.CSAM and not who.account.sees_csam:
            raise Refused("refused_csam")
        offered = casepage.OFFERED.get(t.kind.value, ())
        measures = tuple(dict.fromkeys(form.get(f"measure_{i}", ())))
        if ground not in ("illegal", "terms") or any(m not in offered for m in measures):
            raise Refused("refused_unknown")
        out[t] = Verdict(category, ground, measures=measures, explanation=explanation)
        if one(f"author_{i}") == "1":
            msg = cw.content.message_of(t)
            author = Target(TargetKind.USER, msg.author_id) if msg is not None else None
            if author is None:
                raise Refused("refused_unknown")
            if author not in case.targets and author not in added:
                added.append(author)
                out[author] = Verdict(category, ground, measures=("suspend_account",),
                                      explanation=explanation)
    if missing:
        anything = any(one(f"verdict_{i}") for i in range(len(case.targets)))
        raise Refused("refused_incomplete" if anything else "refused_nothing", missing)
    return out, added


def _refusal(request: Request, who: Login, exc: Refused, case_id: str) -> HTMLResponse:
    # htmx swaps the fragment in where the preview goes; a plain form post (no script) gets
    # a whole page, with a way back to the case.
    if request.headers.get("hx-request"):
        return _page(request, "_refused.html.j2", who, key=exc.key, missing=exc.missing,
                     case_id=case_id)
    resp = _page(request, "refused.html.j2", who, key=exc.key, missing=exc.missing,
                 case_id=case_id)
    resp.status_code = 422
    return resp


@router.post("/cases/{case_id}/preview", response_class=HTMLResponse)
async def preview(request: Request, case_id: str, rt: RuntimeDep, who: UserDep
                  ) -> HTMLResponse:
    fields = await text_form(request)
    _check_csrf(request, who, dict(fields).get("csrf"))
    _reviewer(who)
    with rt.lock:
        cw = rt.casework
        case = _case_for(rt, who, case_id)
        try:
            verdicts, added = _verdicts(cw, case, fields, who)
        except Refused as exc:
            return _refusal(request, who, exc, case_id)
        try:
            tds = target_decisions([*case.targets, *added], verdicts, cw.policy)
        except ReviewError:
            return _refusal(request, who, Refused("refused_unknown"), case_id)
        letters = cw.compliance.preview(case, tds, rt.clock())
        risk = cw.imminent_risk(case, tds) is not None
        extra = [] if case.kind == "complaint" else list(case_measures(tds, cw.policy,
                                                                       risk_now=risk))
        chosen = [{"name": casepage.name_of(cw, td.target), "violation": td.violation,
                   "category": td.category.value if td.category else None,
                   "ground": td.ground, "measures": list(td.measures)} for td in tds]
    return _page(request, "_preview.html.j2", who, letters=letters, chosen=chosen,
                 case_measures=extra, case_id=case_id, form=fields)


@router.post("/cases/{case_id}/decide")
async def decide(request: Request, case_id: str, rt: RuntimeDep, who: UserDep) -> Response:
    fields = await text_form(request)
    _check_csrf(request, who, dict(fields).get("csrf"))
    _reviewer(who)
    user = who.account.username
    try:
        with rt.work() as cw:
            case = _case_for(rt, who, case_id)
            if case.status != "in_review" or case.locked_by != user:
                raise _fail(who, 409, "e_not_held")
            verdicts, added = _verdicts(cw, case, fields, who)
            try:  # a message's author, suspended too: added (preserved, audited) by casework
                decision = cw.decide(case.id, user, verdicts, rt.clock(), add=added)
            except ReviewError:
                raise _fail(who, 409, "e_not_held") from None
    except Refused as exc:
        return _refusal(request, who, exc, case_id)
    where = f"/console/decisions/{decision.id}"
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": where})
    return RedirectResponse(where, status_code=303)


def _decision_for(rt: Runtime, who: Login, decision_id: str) -> Decision:
    decision = rt.casework.decisions.get(decision_id)
    if decision is None:
        raise _fail(who, 404, "e_no_decision")
    case = rt.casework.cases.get(decision.case_id)
    # Not found, as for an id that does not exist: a reserved one must not leak existence.
    if case is None or not _visible(rt, who, case):
        raise _fail(who, 404, "e_no_decision")
    return decision


@router.get("/decisions/{decision_id}", response_class=HTMLResponse)
def decision_page(request: Request, decision_id: str, rt: RuntimeDep, who: UserDep
                  ) -> HTMLResponse:
    """What a decision did: each target's verdict, the measures carried out and the
    documents written, each a link."""
    with rt.lock:
        cw = rt.casework
        decision = _decision_for(rt, who, decision_id)
        targets = [{"name": casepage.name_of(cw, td.target), "violation": td.violation,
                    "category": td.category.value if td.category else None,
                    "ground": td.ground, "ground_text": td.ground_text,
                    "measures": list(td.measures)} for td in decision.targets]
        actions = [_action_json(cw, a) for a in cw.enforcement.actions.values()
                   if a.decision_id == decision.id]
        # A report to NCMEC is a specialist's to read: not listed (nor opened) for others.
        documents = [_document_json(d) for d in cw.compliance.documents.values()
                     if d.refs.get("decision_id") == decision.id
                     and (d.kind != "ncmec_report" or who.account.sees_csam)]
    return _page(request, "decision.html.j2", who, decision={
        "id": decision.id, "case_id": decision.case_id, "reviewer": decision.reviewer,
        "decided_at": iso(decision.decided_at), "targets": targets},
        actions=actions, documents=documents)


def _action_json(cw: Casework, a: Action) -> dict[str, Any]:
    return {"id": a.id, "action": a.action, "at": iso(a.ts), "name": casepage.name_of(
        cw, a.target), "automated": a.automated, "active": a.active, "reason": a.reason,
        "category": a.category.value if a.category else None, "case_id": a.case_id,
        "decision_id": a.decision_id}


def _document_json(d: Any) -> dict[str, Any]:
    return {"id": d.id, "kind": d.kind, "at": iso(d.created_at), "status": d.status,
            "recipient": (d.recipient or {}).get("role"), "language": d.language,
            "subject": d.subject, "body": d.body, "refs": d.refs,
            "payload": None if d.body else d.payload}


@router.get("/actions/{action_id}", response_class=HTMLResponse)
def action_page(request: Request, action_id: str, rt: RuntimeDep, who: UserDep
                ) -> HTMLResponse:
    with rt.lock:
        cw = rt.casework
        a = cw.enforcement.actions.get(action_id)
        case = cw.cases.get(a.case_id or "") if a is not None else None
        if a is None or case is None or not _visible(rt, who, case) or (
                a.category is Category.CSAM and not who.account.sees_csam):
            raise _fail(who, 404, "e_no_action")  # a reserved id: as if there were none
        item = _action_json(cw, a)
    return _page(request, "action.html.j2", who, a=item)


@router.get("/documents/{document_id}", response_class=HTMLResponse)
def document_page(request: Request, document_id: str, rt: RuntimeDep, who: UserDep
                  ) -> HTMLResponse:
    """One document a decision wrote (a statement of reasons, a notice to the notifier, a
    report to NCMEC...), as it will be sent; shown only to those who may see its case."""
    import json

    with rt.lock:
        cw = rt.casework
        d = cw.compliance.documents.get(document_id)
        decision = cw.decisions.get(d.refs.get("decision_id") or "") if d else None
        case = cw.cases.get(decision.case_id if decision else d.refs.get("case_id") or ""
                            ) if d else None
        # A report to NCMEC is about child sexual abuse whatever its case says; a reserved
        # id answers as one that does not exist.
        if d is None or case is None or not _visible(rt, who, case) or (
                d.kind == "ncmec_report" and not who.account.sees_csam):
            raise _fail(who, 404, "e_no_document")
        doc = _document_json(d)
    payload = json.dumps(doc["payload"], ensure_ascii=False, indent=2) \
        if doc["payload"] is not None else None
    return _page(request, "document.html.j2", who, d=doc, payload=payload,
                 decision_id=decision.id if decision else None, case_id=case.id)


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
                         "name": casepage.name_of(cw, c.targets[0]) if c.targets else None})
    rows.sort(key=lambda r: (r["status"] == "closed", r["opened_at"]))
    return _page(request, "appeals.html.j2", who, rows=rows, now=iso(now))


@router.get("/notices", response_class=HTMLResponse)
def notices(request: Request, rt: RuntimeDep, who: UserDep, limit: int = 300) -> HTMLResponse:
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
            rows.append({"id": i.id, "source": casepage.source_code(i),
                         "flagger": f.name if (f := cw.policy.flaggers.get(i.flagger or ""))
                         else i.flagger, "received_at": iso(i.received_at),
                         "category": i.category.value if i.category else None,
                         "case_id": case.id if case else None, "hidden": hidden,
                         "resolution": i.resolution.value if i.resolution else None,
                         "missing": [m[1] if m[:1] == "(" and m[2:3] == ")" else m
                                     for m in (notice.missing if notice else [])],
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
    t = Words(who.account.language)
    h, d = t("u_hour"), t("u_day")
    buckets = [(f"< 1 {h}", 1.0), (f"1-6 {h}", 6.0), (f"6-24 {h}", 24.0), (f"1-7 {d}", 168.0),
               (f"> 7 {d}", float("inf"))]
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
                                                      for k, v in by_time.items()]),
         "total": sum(by_time.values())},
        {"title": "volumes", "svg": bar_chart([(k, float(v))
                                               for k, v in sorted(by_week.items())[-26:]]),
         "total": sum(by_week.values())},
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


templates.env.globals["TargetKind"] = TargetKind
