"""`create_app`: the FastAPI application around one `Runtime` (no global state: everything
hangs off `app.state` and is injected)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import HTTPException as FastAPIHTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from veilleur import __version__
from veilleur.eventschema import add_components
from veilleur.service import api, console, public
from veilleur.service.auth import Lockout
from veilleur.service.clientaddr import parse_networks
from veilleur.service.deps import Guards, NeedLogin, metrics_reader
from veilleur.service.jsonbody import invalid_body
from veilleur.service.limits import BodyLimit, BodyLimits
from veilleur.service.metrics import Metrics
from veilleur.service.ratelimit import Buckets, FormTickets, Rate
from veilleur.service.runtime import BusDown, EngineDown, Runtime, ServiceSettings

STATIC = Path(__file__).resolve().parent / "static"
CSP = ("default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; "
       "script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'self'")


def _document_events(app: FastAPI) -> None:
    """The OpenAPI document gets the event types as components: `POST /v1/events` refers to
    them (its body is read by hand, item by item, so FastAPI does not collect them)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_components(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: ServiceSettings | None = None, *, runtime: Runtime | None = None,
               start: bool = True) -> FastAPI:
    """The service. `runtime` lets tests and benchmarks pass their own (a fixed clock);
    with `start`, the engine thread runs while the app does."""
    rt = runtime or Runtime(settings or ServiceSettings())
    s = rt.settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if start:
            rt.start()
        try:
            yield
        finally:
            if start:
                rt.stop()

    app = FastAPI(title="Veilleur", version=__version__, lifespan=lifespan,
                  openapi_url="/v1/openapi.json", docs_url=None, redoc_url=None,
                  description="Child-safety engine for chat platforms: events in, verdicts, "
                              "cases, decisions and the documents the law asks for out.")
    app.state.runtime = rt
    app.add_exception_handler(RequestValidationError, invalid_body)
    app.state.metrics = metrics = Metrics(rt)
    app.state.guards = Guards(
        public=Buckets(Rate(s.public_per_minute, s.public_burst)),
        form=Buckets(Rate(s.form_per_minute, max(10, int(s.form_per_minute // 4)))),
        keys=Buckets(Rate(s.key_per_minute, s.key_burst)),
        tickets=FormTickets(s.secret, min_age=s.form_min_seconds), key_cache={},
        proxies=parse_networks(s.trusted_proxies),
        lockout=Lockout(failures=s.login_failures,
                        window=timedelta(minutes=s.login_window_minutes),
                        first=timedelta(minutes=s.lockout_minutes)),
        metrics_from=parse_networks(s.metrics_from, "--metrics-from"))
    app.include_router(api.router)
    _document_events(app)
    app.include_router(console.router)
    app.include_router(public.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # Added before `headers`, so inside it: a 413 is counted and gets the same headers.
    app.add_middleware(BodyLimit, limits=BodyLimits(
        json=s.max_body_bytes, batch=s.max_batch_bytes, bank=s.max_bank_bytes,
        upload=s.max_upload_bytes, message=s.max_message_bytes,
        form=s.max_form_bytes, depth=s.max_json_depth))

    @app.middleware("http")
    async def headers(request: Request,
                      call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        metrics.requests.labels(path, str(response.status_code)).inc()
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if not request.url.path.startswith(("/v1", "/metrics", "/health")):
            response.headers.setdefault("Content-Security-Policy", CSP)
            response.headers.setdefault("X-Frame-Options", "DENY")
        if request.url.path.startswith(("/console", "/notice")):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(NeedLogin)
    async def need_login(request: Request, exc: NeedLogin) -> Response:
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": "/console/login"})
        return RedirectResponse("/console/login", status_code=303)

    @app.exception_handler(FastAPIHTTPException)
    async def http_error(request: Request, exc: FastAPIHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if request.url.path.startswith(("/console", "/notice")) and \
                "text/html" in request.headers.get("accept", ""):
            from html import escape

            return HTMLResponse(
                f"<!doctype html><meta charset=utf-8><link rel=stylesheet "
                f"href=/static/console.css><main class=error><h1>{exc.status_code}</h1>"
                f"<p>{escape(str(exc.detail))}</p><p><a href=/console/>←</a></p></main>",
                status_code=exc.status_code, headers=headers)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                            headers=headers)

    @app.exception_handler(EngineDown)
    async def engine_down(request: Request, exc: EngineDown) -> Response:
        # Every path that accepts work goes through the runtime, which refuses once its
        # engine has stopped: one answer for all of them.
        return await http_error(request, FastAPIHTTPException(
            503, str(exc), headers={"Retry-After": "30"}))

    @app.exception_handler(BusDown)
    async def bus_down(request: Request, exc: BusDown) -> Response:
        # serve --bus: the broker did not acknowledge; nothing of the request was accepted.
        return await http_error(request, FastAPIHTTPException(
            503, str(exc), headers={"Retry-After": str(exc.retry_after)}))

    @app.get("/", include_in_schema=False)
    def root() -> Response:
        return RedirectResponse("/console/", status_code=303)

    @app.get("/health", tags=["ops"], summary="Liveness and readiness")
    def health() -> Response:
        from sqlalchemy import text

        failure = rt.failure
        body: dict[str, Any] = {"version": __version__,
                                "engine": failure is None and (rt.alive or not start),
                                "backlog": rt.backlog,
                                "uptime_s": round(time.time() - rt.started_at.timestamp())}
        if failure is not None:
            body["engine_error"] = failure
        if rt.bus is not None:
            body["bus"] = rt.bus.describe()
        try:
            with rt.db.connect() as conn:
                conn.execute(text("SELECT 1"))
            body["database"] = True
        except Exception as exc:  # the answer is the diagnosis
            body["database"] = False
            body["error"] = f"{type(exc).__name__}: {exc}"
        ok = body["database"] and body["engine"]
        return JSONResponse(body | {"status": "ok" if ok else "failing"},
                            status_code=200 if ok else 503)

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics",
             dependencies=[Depends(metrics_reader)])
    def prometheus() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    return app
