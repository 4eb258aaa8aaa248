"""What every request may depend on: the runtime, the API key and its scope, the person
logged in to the console, rate limits. FastAPI injects them; nothing here is global."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from veilleur.service.auth import ApiKey, Lockout, Login, check_key, session_login
from veilleur.service.clientaddr import Network, client_ip, within
from veilleur.service.metrics import Metrics
from veilleur.service.ratelimit import Buckets, FormTickets
from veilleur.service.runtime import Runtime

SESSION_COOKIE = "veilleur_session"


@dataclass
class Guards:
    """The service's rate limits and form tickets (one set per app)."""

    public: Buckets
    form: Buckets
    keys: Buckets
    tickets: FormTickets
    key_cache: dict[str, tuple[float, ApiKey | None]]
    proxies: tuple[Network, ...] = ()
    """Peers whose `X-Forwarded-For` is believed (`--trusted-proxy`); none by default."""
    lockout: Lockout = field(default_factory=Lockout)
    """When failed console logins lock an account."""
    metrics_from: tuple[Network, ...] = ()
    """Addresses that may read /metrics without a key (`--metrics-from`); none by default."""


async def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


async def metrics(request: Request) -> Metrics:
    m: Metrics = request.app.state.metrics
    return m


async def guards(request: Request) -> Guards:
    g: Guards = request.app.state.guards
    return g


RuntimeDep = Annotated[Runtime, Depends(runtime)]
GuardsDep = Annotated[Guards, Depends(guards)]
MetricsDep = Annotated[Metrics, Depends(metrics)]


def client_address(request: Request) -> str:
    """The address the limits and the audit log use: the socket's peer, or, behind a proxy
    named in `--trusted-proxy`, the right-most address in X-Forwarded-For it did not add."""
    g: Guards = request.app.state.guards
    return client_ip(request.client.host if request.client else None,
                     request.headers.getlist("x-forwarded-for"), g.proxies)


def too_many(wait: float, what: str) -> HTTPException:
    return HTTPException(429, f"too many {what}: try again in {int(wait) + 1} s",
                         headers={"Retry-After": str(int(wait) + 1)})


def public_rate(request: Request, g: GuardsDep) -> None:
    wait = g.public.take(client_address(request))
    if wait:
        raise too_many(wait, "requests from this address")


def _token(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-api-key")


async def api_key(request: Request, rt: RuntimeDep, g: GuardsDep) -> ApiKey:
    # async: the cached path does no I/O, and a thread hop per request costs a verdict time
    token = _token(request)
    if not token:
        raise HTTPException(401, "an API key is needed: 'Authorization: Bearer vk_…'",
                            headers={"WWW-Authenticate": "Bearer"})
    now = time.monotonic()
    cached = g.key_cache.get(token)
    if cached is None or cached[0] < now:
        # A revoked key stops working within the cache's 30 s.
        cached = (now + 30.0, check_key(rt.db, token))
        if len(g.key_cache) > 10_000:
            g.key_cache.clear()
        g.key_cache[token] = cached
    key = cached[1]
    if key is None:
        raise HTTPException(401, "this API key is unknown or revoked",
                            headers={"WWW-Authenticate": "Bearer"})
    wait = g.keys.take(key.id)
    if wait:
        raise too_many(wait, f"requests with key {key.id}")
    return key


KeyDep = Annotated[ApiKey, Depends(api_key)]


def scope(*wanted: str) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency: the request's key must hold one of these scopes."""

    async def check(key: KeyDep) -> ApiKey:
        if not any(key.allows(s) for s in wanted):
            raise HTTPException(403, f"key {key.id} lacks the scope "
                                f"{' or '.join(repr(s) for s in wanted)}")
        return key

    return check


async def metrics_reader(request: Request, rt: RuntimeDep, g: GuardsDep) -> None:
    """/metrics tells the backlog, the queue and the clocks: a key with the `metrics` scope,
    unless the client is in an address range the operator opened (`--metrics-from`)."""
    if within(client_address(request), g.metrics_from):
        return
    await scope("metrics")(await api_key(request, rt, g))


def login(request: Request, rt: RuntimeDep) -> Login | None:
    return session_login(rt.db, request.cookies.get(SESSION_COOKIE), rt.clock())


LoginDep = Annotated[Login | None, Depends(login)]


class NeedLogin(Exception):  # noqa: N818 - an outcome, handled by a redirect
    pass


def logged_in(who: LoginDep) -> Login:
    if who is None:
        raise NeedLogin()
    return who


UserDep = Annotated[Login, Depends(logged_in)]

