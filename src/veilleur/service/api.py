"""The HTTP API for platforms, trusted flaggers and authorities (`/v1`, OpenAPI at
`/v1/openapi.json`).

Everything that changes casework goes through the inbox as contracts §5 events, so the API,
the replay and the CLI share one path; reads and decisions use the live casework.
"""

from __future__ import annotations

import dataclasses
import functools
import secrets
import time
from collections.abc import Collection
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile as StarletteUpload

from veilleur.cases.models import iso
from veilleur.cases.review import ReviewError, Verdict
from veilleur.events import PLATFORM_TYPES
from veilleur.eventschema import batch_schema, verdict_schema
from veilleur.service.auth import ApiKey
from veilleur.service.deps import MetricsDep, RuntimeDep, scope
from veilleur.service.jsonbody import INLINE_BYTES, BadJsonError, JsonRoute, loads, read_batch
from veilleur.service.limits import SCOPE_KEY, BodyLimits, BodyTooLarge, size_text
from veilleur.service.runtime import BadEventError, Busy, Runtime, report_event
from veilleur.service.uploads import safe_suffix, store_upload
from veilleur.taxonomy import Category, Target, TargetKind

router = APIRouter(prefix="/v1", tags=["v1"], route_class=JsonRoute)


# --- bodies ---------------------------------------------------------------------------------


class TargetIn(BaseModel):
    kind: Literal["message", "attachment", "channel", "guild", "user", "invite"]
    id: str = Field(min_length=1, max_length=64)


MAX_BATCH_DOCUMENTED = 5000
"""The default `max_batch`, as the OpenAPI document states it."""


class RejectedEvent(BaseModel):
    index: int = Field(description="The event's place in `events`, from 0.")
    error: str = Field(description="The field and what is wrong with it, e.g. "
                       "\"'message.attachments[0].id' must be a non-empty string id, got "
                       "null\".")


class TakenEvent(BaseModel):
    index: int
    key: str = Field(description="`id:` and the event_id, or the digest of the content.")
    seq: int | None = Field(default=None, description="Its place in the journal.")
    duplicate: bool | None = Field(default=None, description="Already taken before.")
    warnings: list[str] | None = None


class BatchAnswer(BaseModel):
    """What became of each event: accepted (journaled), a duplicate, or rejected."""

    accepted: int
    duplicates: int
    rejected: list[RejectedEvent]
    items: list[TakenEvent]


class ReportIn(BaseModel):
    id: str = Field(min_length=1, max_length=64)
    target: TargetIn
    category_claimed: str | None = None
    explanation: str | None = Field(default=None, max_length=20_000)
    reporter_id: str | None = None


class NotifierIn(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    language: str | None = Field(default=None, max_length=2)
    channel: Literal["web"] | None = Field(
        default=None, description="'web': the notifier follows the notice behind a private "
        "link (the public form); the acknowledgement and decision notice are kept for it.")


class NoticeItem(BaseModel):
    target: TargetIn
    locator: str | None = Field(default=None, max_length=2000,
                                description="The exact location (URL) the notifier gave.")


class NoticeIn(BaseModel):
    """A DSA Art. 16 notice: the items, the explanation, who sends it (optional for child
    sexual abuse), and the bona fide statement."""

    id: str | None = Field(default=None, max_length=48)
    items: list[NoticeItem] = Field(min_length=1, max_length=100)
    category_claimed: str | None = None
    explanation: str = Field(max_length=20_000)
    notifier: NotifierIn | None = None
    bona_fide: bool = False
    reporter_id: str | None = None


class OrderIn(BaseModel):
    id: str = Field(min_length=1, max_length=64)
    target: TargetIn
    category_claimed: str | None = None
    explanation: str | None = None
    authority: str | None = Field(default=None, description="Who sent it (e.g. OFMIN).")


class OrderUpdateIn(BaseModel):
    status: Literal["force_majeure", "obstacle_cleared", "clarification_requested",
                    "clarification_received"]
    note: str | None = None


class AppealIn(BaseModel):
    id: str = Field(min_length=1, max_length=64)
    target: TargetIn
    by: Literal["affected", "notifier"]
    complainant_id: str | None = None
    decision_id: str | None = None
    report_id: str | None = None
    explanation: str | None = Field(default=None, max_length=20_000)
    email: str | None = None


class TargetVerdict(BaseModel):
    target: TargetIn
    category: Category | None = None
    ground: Literal["illegal", "terms"] = "illegal"
    explanation: str | None = None
    duration_days: int | None = None


class DecisionIn(BaseModel):
    reviewer: str = Field(min_length=1, max_length=64, description="The person deciding.")
    verdicts: list[TargetVerdict]
    partial: bool = Field(default=False, description=(
        "Decide only the targets named (a community's moderators decide their server's "
        "messages and members); the case stays open for the rest. Otherwise the targets "
        "not named are found not violating and the case closes."))


# --- helpers --------------------------------------------------------------------------------


FRONT_DOORS = {
    "report": "report events enter through POST /v1/reports (user reports), /v1/notices, "
              "/v1/flagger/notices or /v1/orders, under a key holding that scope",
    "complaint": "complaint events enter through POST /v1/appeals (scope 'appeals')",
    "order_update": "order_update events enter through POST /v1/orders/{id}/updates "
                    "(scope 'orders')",
}
"""Where each event type that carries legal weight enters, for the batch that tried it."""


async def _accept(rt: Runtime, m: Any, events: list[dict[str, Any]], source: str,
                  kinds: Collection[str]) -> dict[str, Any]:
    try:
        result = await run_in_threadpool(
            functools.partial(rt.accept, kinds=kinds, elsewhere=FRONT_DOORS), events, source)
    except Busy as exc:
        m.busy.inc()
        raise HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after)}
                            ) from None
    except BadEventError as exc:
        raise HTTPException(413, str(exc)) from None
    m.accepted.inc(len(result.accepted))
    m.duplicates.inc(len(result.duplicates))
    m.rejected.inc(len(result.rejected))
    return result.to_json()


async def _json(request: Request) -> Any:
    """The body as JSON, bounded in depth and decoded off the event loop when it is large
    (`LimitedRequest`)."""
    return await request.json()


def _report_event(rt: Runtime, report: dict[str, Any]) -> dict[str, Any]:
    return report_event(rt.clock(), report)


def _target(t: TargetIn) -> dict[str, str]:
    return {"kind": t.kind, "id": t.id}


def _one(result: dict[str, Any]) -> dict[str, Any]:
    if result["rejected"]:
        raise HTTPException(422, result["rejected"][0]["error"])
    return result


# --- ingest and verdicts --------------------------------------------------------------------


@router.post("/events", status_code=202, summary="Send a batch of platform events",
             response_model=BatchAnswer, response_model_exclude_none=True,
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": batch_schema(MAX_BATCH_DOCUMENTED)}}}})
async def post_events(request: Request, rt: RuntimeDep, m: MetricsDep,
                      key: Annotated[ApiKey, Depends(scope("events"))]) -> dict[str, Any]:
    """Each item is one of the event types below (the same definitions as
    `schemas/events.schema.json`, with `type` as discriminator), checked on its own.
    Accepted events are journaled before the answer: they survive a crash (with
    `serve --bus`, they are on the bus's `events` topic, acknowledged by the broker; a broker
    that does not acknowledge answers 503 with `Retry-After`, and nothing in the batch is
    accepted). Malformed ones are listed in `rejected` with their index, the field and what
    is wrong; the others are kept. A full backlog answers 429 with `Retry-After`, for the
    whole batch.

    Only what a platform observes is taken here: reports, notices, orders, order updates and
    complaints carry legal weight and enter through their own scoped endpoints (such an
    event in a batch is rejected, with where it belongs; the rest of the batch is kept)."""
    events = await read_batch(request, "events", rt.settings.max_batch)
    return await _accept(rt, m, events, f"api:{key.name}", PLATFORM_TYPES)


@router.post("/verdict", summary="Verdict on one message before it is posted",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": verdict_schema()}}}})
async def post_verdict(request: Request, rt: RuntimeDep, m: MetricsDep,
                       key: Annotated[ApiKey, Depends(scope("verdict"))]) -> dict[str, Any]:
    """The body is a contracts §5 `message` event, or just `{"message": {...}}` (now). The
    message is taken in at once: `block` (refused or removed), `review` (held: a case has it),
    or `allow`. With `serve --bus` it is also put on the bus's `events` topic first (the
    detect workers' memory of its conversation has it), then judged by the service's own
    engine; a broker that does not acknowledge answers 503 with `Retry-After`."""
    raw = await _json(request)
    # A large message (up to the body limit) is judged in a thread, like an upload.
    return await _verdict(rt, m, raw, f"api:{key.name}",
                          inline=len(await request.body()) <= INLINE_BYTES)


async def _verdict(rt: Runtime, m: Any, raw: Any, source: str, *, trusted: bool = False,
                   inline: bool = False) -> dict[str, Any]:
    """`inline`: a text message's verdict runs on the event loop. It takes about a
    millisecond and verdicts go one at a time through the engine's lock anyway; a thread hop
    on a busy interpreter costs more than that."""
    from veilleur.ingest.fields import FieldError

    started = time.perf_counter()
    try:
        if inline and rt.bus is None:  # on a bus a verdict waits for the broker: a thread
            result = rt.verdict(raw, source, trusted_paths=trusted)
        else:
            result = await run_in_threadpool(rt.verdict, raw, source, trusted_paths=trusted)
    except (FieldError, BadEventError) as exc:
        raise HTTPException(422, str(exc)) from None
    if result.get("evidence"):
        # A client removes the message on this answer: what was sealed is written first
        # (the runtime's own checkpoint may be a second away; a crash would lose it).
        await run_in_threadpool(rt.sync)
    m.verdicts.labels(result["verdict"]).inc()
    m.verdict_seconds.observe(time.perf_counter() - started)
    return result


@router.post("/verdict/upload", summary="Verdict on one upload (multipart)")
async def post_verdict_upload(
        rt: RuntimeDep, m: MetricsDep, key: Annotated[ApiKey, Depends(scope("verdict"))],
        file: Annotated[UploadFile, File(description="The file being uploaded.")],
        message_id: Annotated[str, Form()], channel_id: Annotated[str, Form()],
        author_id: Annotated[str, Form()], attachment_id: Annotated[str, Form()],
        guild_id: Annotated[str | None, Form()] = None,
        content: Annotated[str, Form()] = "") -> dict[str, Any]:
    """The file is hashed (MD5, SHA-256, PDQ) and matched against the banks and confirmed
    media; it is kept under the upload folder as the attachment's evidence."""
    path = await run_in_threadpool(store_upload, file.file, rt.upload_dir,
                                   safe_suffix(file.filename))
    raw = {"type": "message", "ts": iso(rt.clock()), "message": {
        "id": message_id, "channel_id": channel_id, "guild_id": guild_id,
        "author_id": author_id, "content": content,
        "attachments": [{"id": attachment_id, "path": str(path),
                         "content_type": file.content_type}]}}
    return await _verdict(rt, m, raw, f"api:{key.name}", trusted=True)


MAX_FILES = 10
"""Files one message may carry (Discord's maximum)."""
FILE_PART = "file:"
"""A file part of `POST /v1/verdict/message` is named `file:<attachment id>`."""
MESSAGE_FORM_SCHEMA = {"type": "object", "required": ["event"], "properties": {
    "event": {"type": "string", "description": "The message event, as JSON (the body "
              "`POST /v1/verdict` takes)."}},
    "additionalProperties": {"type": "string", "format": "binary", "description":
                             "`file:<attachment id>`: that attachment's file."}}


@router.post("/verdict/message", summary="Verdict on one message with its files (multipart)",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "multipart/form-data": {"schema": MESSAGE_FORM_SCHEMA}}}})
async def post_verdict_message(request: Request, rt: RuntimeDep, m: MetricsDep,
                               key: Annotated[ApiKey, Depends(scope("verdict"))]
                               ) -> dict[str, Any]:
    """A message and the files it carries, judged at once. The form holds one field `event`,
    the message event as JSON exactly as `POST /v1/verdict` takes it (event id, time,
    recipients, attachments with their ids), and one file part per attachment sent, named
    `file:<attachment id>` (e.g. `file:1187`): at most 10, each at most the upload size
    (`--max-upload`), the whole body at most `--max-message-upload`. Each file is kept in
    the upload folder (by SHA-256), hashed (MD5, SHA-256, PDQ) and matched against the
    banks and confirmed media, and its attachment in the event names it; the path the event
    gave for that attachment is not read. Attachments without a file part keep their
    reference (an http(s) URL is never fetched). Then the message is judged as by
    `POST /v1/verdict` (journaled; the same event again is a `duplicate`); the answer also
    lists the files taken (`files`: attachment id and SHA-256).

    Refused: a part naming an attachment the event does not have, two parts for one
    attachment, any other part (422); more than 10 files, a file over the upload size (413);
    an `event` that is not JSON (400) or not a valid message event (422)."""
    from veilleur.ingest.fields import FieldError

    source = f"api:{key.name}"
    raw, files = await _message_form(request, rt)
    if "type" not in raw:
        raw = {"type": "message", "ts": iso(rt.clock()), **raw}
    try:
        message = raw.get("message") if isinstance(raw, dict) else None
        attachments = message.get("attachments") if isinstance(message, dict) else None
        listed = [a for a in attachments if isinstance(a, dict)] \
            if isinstance(attachments, list) else []
        ids = [str(a.get("id")) for a in listed]
        unknown = [aid for aid in files if aid not in ids]
        if unknown:
            raise HTTPException(422, f"part '{FILE_PART}{unknown[0]}' names no attachment "
                                "of the message (its attachments: "
                                f"{', '.join(ids) or 'none'})")
        for aid, upload in files.items():
            if upload.size is not None and upload.size > rt.settings.max_upload_bytes:
                raise HTTPException(413, f"part '{FILE_PART}{aid}' is larger than the "
                                    f"{size_text(rt.settings.max_upload_bytes)} a file may "
                                    "hold")
        # Checked as /v1/verdict checks it (where its references point included), without
        # the paths the files replace.
        for a in listed:
            if str(a.get("id")) in files:
                a["path"] = None
        try:
            await run_in_threadpool(rt.parse, raw, source)
        except (FieldError, BadEventError) as exc:
            raise HTTPException(422, str(exc)) from None
        taken = []
        for a in listed:
            part = files.get(str(a.get("id")))
            if part is None:
                continue
            path = await run_in_threadpool(store_upload, part.file, rt.upload_dir,
                                           safe_suffix(part.filename))
            a["path"] = str(path)
            if not a.get("content_type") and part.content_type:
                a["content_type"] = part.content_type[:512]
            taken.append({"attachment_id": str(a["id"]), "sha256": path.name.split(".")[0]})
    finally:
        for upload in files.values():
            await upload.close()
    result = await _verdict(rt, m, raw, source, trusted=True)
    return result | {"files": taken}


async def _message_form(request: Request, rt: Runtime
                        ) -> tuple[dict[str, Any], dict[str, StarletteUpload]]:
    """The `event` (parsed, bounded as a JSON body is) and the file parts, by attachment
    id."""
    from starlette.exceptions import HTTPException as StarletteHTTPException

    try:
        form = await request.form(max_files=MAX_FILES, max_fields=MAX_FILES,
                                  max_part_size=rt.settings.max_body_bytes)
    except BodyTooLarge:
        raise
    except StarletteHTTPException as exc:
        if "Too many files" in str(exc.detail):
            raise HTTPException(413, f"a message carries at most {MAX_FILES} files "
                                "(Discord's maximum); got more") from None
        raise HTTPException(400, f"the form cannot be read: {exc.detail}") from None
    files: dict[str, StarletteUpload] = {}
    events: list[str] = []
    try:
        for name, value in form.multi_items():
            if name == "event" and isinstance(value, str):
                events.append(value)
            elif name.startswith(FILE_PART) and not isinstance(value, str):
                aid = name.removeprefix(FILE_PART)
                if aid in files:
                    raise HTTPException(422, f"two parts '{name}': one file per attachment")
                files[aid] = value
            else:
                what = "a text field" if isinstance(value, str) else "a file"
                raise HTTPException(422, f"part {name[:80]!r} ({what}) is not taken: the form "
                                    f"holds the field 'event' and files named "
                                    f"'{FILE_PART}<attachment id>'")
        if len(events) != 1:
            raise HTTPException(422, "the form needs one field 'event' (the message event "
                                f"as JSON), got {len(events)}")
        try:
            limits = request.scope.get(SCOPE_KEY)
            raw = loads(events[0].encode(), limits.depth if isinstance(limits, BodyLimits)
                        else BodyLimits().depth)
        except BadJsonError as exc:
            raise HTTPException(400, f"event: {exc}") from None
        if not isinstance(raw, dict):
            raise HTTPException(422, "event: a verdict is asked for one JSON object (a "
                                f"message event), not {type(raw).__name__}")
    except BaseException:
        await form.close()
        raise
    return raw, files


# --- reports, notices, orders, appeals ------------------------------------------------------


@router.post("/reports", status_code=202, summary="An in-app user report")
async def post_report(body: ReportIn, rt: RuntimeDep, m: MetricsDep,
                      key: Annotated[ApiKey, Depends(scope("reports"))]) -> dict[str, Any]:
    m.notices.labels("user").inc()
    report = body.model_dump() | {"source": "user", "target": _target(body.target)}
    return _one(await _accept(rt, m, [_report_event(rt, report)], f"api:{key.name}",
                              ("report",)))


def notice_events(rt: Runtime, body: NoticeIn, source: str, flagger: str | None
                  ) -> tuple[str, list[dict[str, Any]]]:
    notice_id = body.id or f"N{rt.clock():%Y%m%d}-{secrets.token_hex(4).upper()}"
    notifier = {k: v for k, v in (body.notifier.model_dump() if body.notifier else {})
                .items() if v}
    events = []
    for i, item in enumerate(body.items, start=1):
        report = {"id": f"{notice_id}-{i}", "source": source, "target": _target(item.target),
                  "category_claimed": body.category_claimed, "explanation": body.explanation,
                  "notifier": notifier or None, "flagger": flagger, "notice_id": notice_id,
                  "bona_fide": body.bona_fide, "locator": item.locator,
                  "reporter_id": body.reporter_id}
        events.append(_report_event(rt, report))
    return notice_id, events


@router.post("/notices", status_code=202, summary="A DSA Art. 16 notice")
async def post_notice(body: NoticeIn, rt: RuntimeDep, m: MetricsDep,
                      key: Annotated[ApiKey, Depends(scope("notices"))]) -> dict[str, Any]:
    m.notices.labels("dsa_notice").inc()
    notice_id, events = notice_events(rt, body, "dsa_notice", None)
    return {"notice_id": notice_id} | _one(await _accept(rt, m, events, f"api:{key.name}",
                                                         ("report",)))


@router.post("/flagger/notices", status_code=202, summary="A trusted flagger's notice")
async def post_flagger_notice(body: NoticeIn, rt: RuntimeDep, m: MetricsDep,
                              key: Annotated[ApiKey, Depends(scope("flagger"))]
                              ) -> dict[str, Any]:
    """The flagger is the key's (Art. 22): a notice cannot claim another flagger's name."""
    m.notices.labels("trusted_flagger").inc()
    notice_id, events = notice_events(rt, body, "trusted_flagger", key.flagger)
    return {"notice_id": notice_id} | _one(await _accept(rt, m, events, f"flagger:{key.name}",
                                                         ("report",)))


@router.post("/orders", status_code=202, summary="An authority's removal order")
async def post_order(body: OrderIn, rt: RuntimeDep, m: MetricsDep,
                     key: Annotated[ApiKey, Depends(scope("orders"))]) -> dict[str, Any]:
    m.notices.labels("authority").inc()
    report = {"id": body.id, "source": "authority", "target": _target(body.target),
              "category_claimed": body.category_claimed, "explanation": body.explanation,
              "notifier": {"name": body.authority} if body.authority else None}
    return _one(await _accept(rt, m, [_report_event(rt, report)], f"api:{key.name}",
                              ("report",)))


@router.post("/orders/{order_id}/updates", status_code=202,
             summary="Force majeure, clarification, obstacle cleared (LCEN 6-2 II)")
async def post_order_update(order_id: str, body: OrderUpdateIn, rt: RuntimeDep, m: MetricsDep,
                            key: Annotated[ApiKey, Depends(scope("orders"))]
                            ) -> dict[str, Any]:
    event = {"type": "order_update", "ts": iso(rt.clock()), "report_id": order_id,
             "status": body.status, "note": body.note}
    return _one(await _accept(rt, m, [event], f"api:{key.name}", ("order_update",)))


@router.post("/appeals", status_code=202, summary="An Art. 20 complaint against a decision")
async def post_appeal(body: AppealIn, rt: RuntimeDep, m: MetricsDep,
                      key: Annotated[ApiKey, Depends(scope("appeals"))]) -> dict[str, Any]:
    complaint = {k: v for k, v in body.model_dump().items() if v is not None}
    complaint["target"] = _target(body.target)
    event = {"type": "complaint", "ts": iso(rt.clock()), "event_id": f"complaint:{body.id}",
             "complaint": complaint}
    return _one(await _accept(rt, m, [event], f"api:{key.name}", ("complaint",)))


@router.get("/reports/{report_id}", summary="Where a report or notice item stands")
def get_report(report_id: str, rt: RuntimeDep,
               key: Annotated[ApiKey, Depends(scope("reports", "notices", "flagger", "orders",
                                                    "cases:read"))]) -> dict[str, Any]:
    with rt.lock:
        intake = rt.casework.intakes.get(f"report:{report_id}")
        if intake is None or (key.kind == "flagger" and intake.flagger != key.flagger):
            raise HTTPException(404, f"no report {report_id} (it may still be in the inbox)")
        out = intake.to_json()
    out.pop("evidence", None)
    return out


# --- cases and decisions --------------------------------------------------------------------


@router.get("/cases", summary="Cases, in queue order for open ones")
def get_cases(rt: RuntimeDep, key: Annotated[ApiKey, Depends(scope("cases:read"))],
              status: Annotated[Literal["open", "in_review", "closed"] | None, Query()] = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    now = rt.clock()
    with rt.lock:
        cw = rt.casework
        share = cw.policy.at_risk_share
        if status in (None, "open"):
            cases = cw.queue(now)
            if status is None:
                cases += [c for c in cw.cases.values() if c.status != "open"
                          and c.merged_into is None]
        else:
            cases = [c for c in cw.cases.values() if c.status == status
                     and c.merged_into is None]
        rows = [c.to_json(now, share) for c in cases[:limit]]
    return {"cases": rows, "count": len(rows)}


@router.get("/cases/{case_id}", summary="One case with its items (access is audited)")
def get_case(case_id: str, rt: RuntimeDep,
             key: Annotated[ApiKey, Depends(scope("cases:read"))]) -> dict[str, Any]:
    try:
        with rt.work() as cw:
            return cw.view(case_id, rt.clock(), viewer=f"api:{key.name}")
    except ReviewError as exc:
        raise HTTPException(404, str(exc)) from None


def parse_verdicts(items: list[TargetVerdict]) -> dict[Target, Verdict]:
    out = {}
    for v in items:
        out[Target(TargetKind(v.target.kind), v.target.id)] = Verdict(
            v.category, v.ground, duration_days=v.duration_days, explanation=v.explanation)
    return out


@router.post("/cases/{case_id}/decision", summary="Decide a case")
def post_decision(case_id: str, body: DecisionIn, rt: RuntimeDep,
                  key: Annotated[ApiKey, Depends(scope("cases:decide"))]) -> dict[str, Any]:
    """Targets not named are found not violating. The decision's documents (statements of
    reasons, TDB statements, NCMEC report) are written with it and listed here."""
    try:
        decision = rt.decide(case_id, f"{body.reviewer} (api:{key.name})",
                             parse_verdicts(body.verdicts), partial=body.partial)
    except ReviewError as exc:
        raise HTTPException(409, str(exc)) from None
    return decision_json(rt, decision.id)


def decision_json(rt: Runtime, decision_id: str) -> dict[str, Any]:
    with rt.lock:
        decision = rt.casework.decisions.get(decision_id)
        if decision is None:
            raise HTTPException(404, f"no decision {decision_id}")
        docs = [d.to_json() for d in rt.casework.compliance.documents.values()
                if d.refs.get("decision_id") == decision_id]
    return decision.to_json() | {"documents": docs}


@router.get("/decisions/{decision_id}", summary="A decision and its documents")
def get_decision(decision_id: str, rt: RuntimeDep,
                 key: Annotated[ApiKey, Depends(scope("cases:read"))]) -> dict[str, Any]:
    return decision_json(rt, decision_id)


# --- banks ----------------------------------------------------------------------------------


@router.get("/banks", summary="The hash banks")
def get_banks(rt: RuntimeDep, key: Annotated[ApiKey, Depends(scope("banks"))]
              ) -> dict[str, Any]:
    from veilleur.store.banks import BankStore

    return {"banks": [dataclasses.asdict(b) for b in BankStore(rt.db, None).list_banks()]}


class BankEntryIn(BaseModel):
    signal_type: Literal["md5", "sha256", "pdq"]
    signal: str = Field(min_length=32, max_length=64, description="Hexadecimal digest or PDQ.")
    category: Category | None = None
    note: str | None = Field(default=None, max_length=500)
    source_id: str | None = Field(default=None, max_length=200)


class BankEntriesIn(BaseModel):
    entries: list[BankEntryIn] = Field(min_length=1, max_length=100_000)
    kind: Literal["deny", "allow"] = "deny"
    category: Category | None = Field(default=None, description="For entries without one.")
    source: str | None = Field(default=None, max_length=100, description="e.g. ncmec, stopncii")


@router.post("/banks/{name}/entries", summary="Add entries to a bank (live)")
def post_bank_entries(name: str, body: BankEntriesIn, rt: RuntimeDep,
                      key: Annotated[ApiKey, Depends(scope("banks"))]) -> dict[str, Any]:
    """Stored, matched from the next upload on, and checked against the media already stored:
    the old files the new entries match become findings and cases now. Audited as the key.

    Allow entries (exceptions against false positives) that would silence a deny list (a
    listed hash, a PDQ within a deny bank's radius, a category a deny bank holds) need the
    scope `banks:override` as well: they are then recorded with what they override
    (`overrides` in the answer) and audited; without it they are refused (403)."""
    from veilleur.detect.media.banks import BankEntry, ParsedBank
    from veilleur.store.banks import BankError, OverrideRefusedError

    entries = []
    for i, e in enumerate(body.entries):
        size = 32 if e.signal_type == "md5" else 64
        if len(e.signal) != size or any(c not in "0123456789abcdefABCDEF" for c in e.signal):
            raise HTTPException(422, f"entry {i}: a {e.signal_type} is {size} hexadecimal "
                                f"digits")
        category = e.category or body.category
        if category is None:
            # An allow entry's category is the deny category it is an exception for.
            raise HTTPException(422, f"entry {i}: no category (give one per entry or for "
                                "the batch)")
        entries.append(BankEntry(e.signal_type, e.signal.lower(), category,
                                 note=e.note, source_id=e.source_id))
    try:
        return rt.import_bank(name, ParsedBank("api", entries), kind=body.kind,
                              category=body.category, source=body.source or f"api:{key.name}",
                              actor=f"api:{key.name}", override=key.allows("banks:override"))
    except OverrideRefusedError as exc:
        raise HTTPException(403, str(exc)) from None
    except BankError as exc:
        raise HTTPException(409, str(exc)) from None


@router.get("/hashes/lookup", summary="Is this file in a bank or confirmed here?")
def lookup_hash(rt: RuntimeDep, key: Annotated[ApiKey, Depends(scope("banks", "verdict"))],
                md5: str | None = None, sha256: str | None = None, pdq: str | None = None
                ) -> dict[str, Any]:
    from veilleur.detect.media.hashing import MediaHashes
    from veilleur.detect.media.pdq import PdqHash

    if not (md5 or sha256 or pdq):
        raise HTTPException(422, "give md5, sha256 or pdq (64 hex digits)")
    for name, value, size in (("md5", md5, 32), ("sha256", sha256, 64), ("pdq", pdq, 64)):
        if value is not None and (len(value) != size or
                                  any(c not in "0123456789abcdefABCDEF" for c in value)):
            raise HTTPException(422, f"{name} must be {size} hexadecimal digits")
    given = PdqHash.from_hex(pdq.lower()) if pdq else None
    hashes = MediaHashes(file="lookup", md5=md5.lower() if md5 else None,
                         sha256=sha256.lower() if sha256 else None, pdq=given,
                         lookups=(given.bits,) if given else (),
                         lookup_labels=("as given",) if given else ())
    matcher = rt.detector_settings.matcher
    result = matcher.match(hashes) if matcher is not None else None
    matches = [{"bank": m.entry.bank.name, "entry_id": m.entry.id,
                "category": m.entry.category.value, "how": m.signal_type,
                "distance": m.distance} for m in (result.matches if result else [])]
    with rt.lock:
        hit = rt.casework.confirmed.match(hashes, hashes.md5, hashes.sha256)
    confirmed = None if hit is None else {
        "category": hit.entry.category.value, "decision_id": hit.entry.decision_id,
        "attachment_id": hit.entry.attachment_id, "how": hit.how, "distance": hit.distance}
    return {"bank_matches": matches, "confirmed_here": confirmed}
