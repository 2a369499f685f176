"""Request plumbing shared by every context's api and views.

- ``DbSession``: one session per request; it commits once when the endpoint returns and
  rolls back when it raises (services only flush). A GET only reads; a request waits its
  turn for the database for a bounded time and otherwise answers 503 (``get_db``).
- ``OptionalActor`` / ``CurrentActor``: who is calling, from a bearer token or the session
  cookie. An endpoint without one of them is public, on purpose.
- CSRF: a signed double-submit cookie; every form post checks its hidden field, and
  ``ApiCsrfGuard`` makes cookie-authenticated unsafe API requests send it as a header.
- ``SecurityHeaders``: the Content-Security-Policy and other protective headers on every
  answer.
- Flash messages: a signed cookie read once by the next page.
- The one error handler that turns domain errors into ``{"error": {...}}``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

import anyio
from cryptography.fernet import Fernet, InvalidToken
from fastapi import Depends, FastAPI, Query, Request
from fastapi.concurrency import contextmanager_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stewardship.core.auth import Actor, Role, require
from stewardship.core.config import Settings
from stewardship.core.db import DatabaseBusy, is_busy, switch_to_primary, transaction
from stewardship.core.errors import Conflict, DomainError, Forbidden, PayloadTooLarge
from stewardship.core.pagination import PageParams
from stewardship.core.replica import (
    WRITTEN_COOKIE,
    ReplicaRouter,
    replica_readable,
    token_key,
)
from stewardship.core.security import decode_signed_json, encode_signed_json, sign, unsign

SESSION_COOKIE = "stw_session"
CSRF_COOKIE = "stw_csrf"
FLASH_COOKIE = "stw_flash"
API_PREFIXES = ("/api/", "/epcis", "/pact")

ActorResolver = Callable[[Session, str, str], Actor | None]


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def public_base_url(request: Request) -> str:
    """The address links printed or sent from this request start with: the configured
    public base URL where there is one (a proxy in front), the address the request came
    to otherwise (``make run PORT=...``). No trailing slash."""
    configured = settings_of(request).base_url
    return (configured or str(request.base_url)).rstrip("/")


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _admission(request: Request, name: str, size: int) -> anyio.Semaphore:
    # Created on first use, inside the event loop (a single thread, so no race).
    gate: anyio.Semaphore | None = getattr(request.app.state, name, None)
    if gate is None:
        gate = anyio.Semaphore(size)
        setattr(request.app.state, name, gate)
    return gate


def _writer_slots(request: Request, threads: int) -> int:
    # SQLite writes one unit of work at a time: one writer at work and one ready to follow
    # it are enough; more would only sit in threads that the reads need.
    engine = getattr(request.app.state, "engine", None)
    return 2 if engine is not None and engine.dialect.name == "sqlite" else threads


async def get_db(request: Request) -> AsyncIterator[Session]:
    """The request's unit of work.

    - At most ``server_threads`` requests of the process hold a unit of work at once; the
      rest wait here, in the event loop, holding neither a thread nor a connection. The
      pool has a connection for each admitted request, so no request ever waits for a
      connection while another holds one and waits for a thread.
    - GET, HEAD and OPTIONS only read (on SQLite a DEFERRED transaction, beside the
      writers); every other method is a writing unit that queues for the database's
      writer (``transaction``). On SQLite writing requests first queue here, two at most
      admitted at a time, so that a burst of writers waits in the event loop (in order)
      and leaves the threads to the reads.
    - Waiting longer than ``database_wait_seconds`` for either answers 503 with
      ``Retry-After``; the unit commits once the endpoint returns and rolls back when it
      raises.
    """
    settings = settings_of(request)
    threads = settings.server_threads
    writes = request.method not in READ_METHODS
    gates = [_admission(request, "db_admission", threads)]
    if writes:
        gates.insert(0, _admission(request, "db_writers", _writer_slots(request, threads)))
    held: list[anyio.Semaphore] = []
    try:
        with anyio.move_on_after(settings.database_wait_seconds):
            for gate in gates:
                await gate.acquire()
                held.append(gate)
        if len(held) < len(gates):
            raise DatabaseBusy("the server is busy; nothing was done, try again in a moment")
        factory = request.app.state.sessionmaker
        wait = settings.database_wait_seconds
        replica: ReplicaRouter | None = getattr(request.app.state, "replica", None)
        if (replica is not None and replica_readable(request.method, request.url.path)
                and replica.usable(_written(request, replica))):
            unit = replica.read_unit(factory, wait_seconds=wait)
        else:
            unit = transaction(factory, write=writes, wait_seconds=wait)
        async with contextmanager_in_threadpool(unit) as session:
            yield session
        if writes and replica is not None:
            position = await anyio.to_thread.run_sync(replica.head)
            if position is not None:
                _remember_write(request, replica, position)
    finally:
        for gate in held:
            gate.release()


DbSession = Annotated[Session, Depends(get_db, scope="function")]


def _written(request: Request, replica: ReplicaRouter) -> int | None:
    """Where the caller's latest write ended in the primary's WAL, if it is recent."""
    token = _bearer(request)
    if token is not None:
        return replica.token_written(token_key(token))
    cookie = request.cookies.get(WRITTEN_COOKIE)
    value = unsign(settings_of(request).secret_key, cookie) if cookie else None
    digits = value.removeprefix("wal-") if value is not None else ""
    return int(digits) if value is not None and value.startswith("wal-") and digits.isdigit() \
        else None


def _remember_write(request: Request, replica: ReplicaRouter, position: int) -> None:
    """Keep the caller's write for its next reads (``core.replica``): by the bearer
    token in this process, or in a signed cookie that ``SecurityHeaders`` sets."""
    token = _bearer(request)
    if token is not None:
        replica.remember_token(token_key(token), position)
        return
    request.state.written_cookie = (sign(settings_of(request).secret_key, f"wal-{position}"),
                                    replica.remember_seconds)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def get_optional_actor(request: Request, db: DbSession) -> Actor | None:
    resolver: ActorResolver = request.app.state.actor_resolver
    actor: Actor | None = None
    token = _bearer(request)
    if token is not None:
        actor = resolver(db, "bearer", token)
        if actor is None and switch_to_primary(db):
            actor = resolver(db, "bearer", token)  # a token made a moment ago
        if actor is None:
            from stewardship.core.errors import Unauthenticated

            raise Unauthenticated("the bearer token is unknown, expired or revoked")
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            actor = resolver(db, "session", cookie)
    request.state.actor = actor
    return actor


def get_current_actor(actor: Annotated[Actor | None, Depends(get_optional_actor)]) -> Actor:
    return require(actor, action="do this")


OptionalActor = Annotated[Actor | None, Depends(get_optional_actor)]
CurrentActor = Annotated[Actor, Depends(get_current_actor)]


def page_params(
    request: Request,
    page: Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1")] = 1,
    per_page: Annotated[int | None, Query(
        ge=1, le=10_000, description="Items per page, up to the configured maximum "
        "(200 unless set otherwise)")] = None,
) -> PageParams:
    settings = settings_of(request)
    size = per_page or settings.page_size_default
    if size > settings.page_size_max:
        from stewardship.core.errors import InvalidInput

        raise InvalidInput(f"per_page may be at most {settings.page_size_max}", field="per_page")
    return PageParams(page=page, per_page=size)


Pagination = Annotated[PageParams, Depends(page_params)]


# --- CSRF -------------------------------------------------------------------------------


def csrf_token_for(request: Request) -> str:
    """The token this request's forms carry; minted (and later set as a cookie) if new."""
    existing = getattr(request.state, "csrf_token", None)
    if existing:
        return str(existing)
    secret = settings_of(request).secret_key
    cookie = request.cookies.get(CSRF_COOKIE, "")
    value = unsign(secret, cookie) if cookie else None
    if value is None:
        value = secrets.token_urlsafe(24)
        request.state.new_csrf_cookie = sign(secret, value)
    request.state.csrf_token = value
    return value


async def verify_csrf(request: Request) -> None:
    """Dependency for every form post: the hidden field must match the signed cookie."""
    form = await request.form()
    sent = str(form.get("csrf_token") or "")
    secret = settings_of(request).secret_key
    cookie = request.cookies.get(CSRF_COOKIE, "")
    expected = unsign(secret, cookie) if cookie else None
    if not expected or not sent or not secrets.compare_digest(sent, expected):
        raise Forbidden(
            "the form's security token is missing or stale; reload the page and try again",
            field="csrf_token",
        )


CsrfChecked = Depends(verify_csrf)


# --- CSRF for the API -------------------------------------------------------------------
#
# The API takes a bearer token, which a browser never adds to a request on its own, or the
# session cookie, which it adds to every request to this site, including a plain HTML form
# posted from another page. So an unsafe request to the API that carries the cookie and no
# bearer token must prove it comes from one of the platform's own pages: it sends the
# token of the signed CSRF cookie (pages publish it in <meta name="csrf-token">) in the
# X-CSRF-Token header, which a form cannot set and another origin cannot read, and its
# Origin and Sec-Fetch-Site, when the browser sends them, must name this site.

CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_GUARDED_PREFIXES = ("/api/", "/epcis", "/pact")


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def api_csrf_problem(method: str, path: str, headers: dict[str, str], cookies: dict[str, str],
                     *, secret: str, own_origins: frozenset[str]) -> str | None:
    """Why this request must be refused as a possible cross-site forgery, or None.

    ``headers`` are keyed in lower case. Requests that are safe, outside the API, carry
    a bearer token or carry no session cookie are never refused here.
    """
    if method.upper() not in UNSAFE_METHODS or not path.startswith(CSRF_GUARDED_PREFIXES):
        return None
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return None
    if not cookies.get(SESSION_COOKIE):
        return None
    fetch_site = headers.get("sec-fetch-site", "").lower()
    if fetch_site not in ("", "same-origin", "none"):
        return (f"the request came from another site ({fetch_site}); the API does not take "
                "the session cookie from other sites: use a bearer token")
    origin = headers.get("origin", "").lower()
    if origin and origin not in own_origins:
        return (f"the request came from {origin}, not from this site; the API does not take "
                "the session cookie from other sites: use a bearer token")
    sent = headers.get(CSRF_HEADER.lower(), "")
    signed = cookies.get(CSRF_COOKIE, "")
    expected = unsign(secret, signed) if signed else None
    if not expected or not sent or not secrets.compare_digest(sent, expected):
        return (f"a request signed in with the session cookie must send the page's CSRF token "
                f"in the {CSRF_HEADER} header (or use a bearer token instead of the cookie)")
    return None


class ApiCsrfGuard:
    """Refuses cookie-authenticated unsafe API requests without the CSRF header, with 403,
    before any endpoint, body parsing or database work runs."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.secret = settings.secret_key
        self.base_origin = _origin_of(settings.base_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        own = {self.base_origin, _origin_of(str(request.base_url))} - {""}
        headers = {k.lower(): v for k, v in request.headers.items()}
        problem = api_csrf_problem(request.method, request.url.path, headers,
                                   dict(request.cookies), secret=self.secret,
                                   own_origins=frozenset(own))
        if problem is None:
            await self.app(scope, receive, send)
            return
        refusal = Forbidden(problem, field=CSRF_HEADER)
        answer = (_own_shape(request, 403, problem) if "app" in scope else None) or \
            JSONResponse(refusal.to_dict(), status_code=403)
        await answer(scope, receive, send)


# --- flash messages ---------------------------------------------------------------------


def flash(request: Request, response: Response, message: str, category: str = "success") -> None:
    secret = settings_of(request).secret_key
    existing = decode_signed_json(secret, request.cookies.get(FLASH_COOKIE, "")) or []
    existing.append([category, message])
    response.set_cookie(FLASH_COOKIE, encode_signed_json(secret, existing[-5:]), path="/",
                        httponly=True, samesite="lax")


def redirect(request: Request, url: str, message: str | None = None,
             category: str = "success", *,
             reveal: dict[str, Any] | None = None) -> RedirectResponse:
    """The answer to every successful form post: 303 to the page to show next, with an
    optional flash message and, for a secret shown only once (a new API token, an
    invitation link, a complaint's tracking link), ``reveal``: see ``reveal_once``."""
    response = RedirectResponse(url, status_code=303)
    if message:
        flash(request, response, message, category)
    if reveal is not None:
        reveal_once(request, response, urlsplit(url).path or "/", reveal)
    return response


# --- shown once -------------------------------------------------------------------------

REVEAL_COOKIE = "stw_reveal"
REVEAL_SECONDS = 300


def _reveal_box(request: Request) -> Fernet:
    digest = hashlib.sha256(b"stewardship: shown once\0"
                            + settings_of(request).secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def reveal_once(request: Request, response: Response, path: str, data: dict[str, Any]) -> None:
    """Carry what the next page shows once across a post/redirect/get: encrypted and
    authenticated (Fernet, keyed from the secret key), only for ``path``, HttpOnly and
    SameSite=Strict, good for five minutes; the page that shows it deletes it. Nothing of
    it is stored on the server, so it cannot be shown again."""
    box = _reveal_box(request).encrypt(json.dumps(data).encode()).decode()
    response.set_cookie(REVEAL_COOKIE, box, path=path, max_age=REVEAL_SECONDS, httponly=True,
                        samesite="strict",
                        secure=settings_of(request).secure_cookies or request.url.scheme == "https")


def revealed(request: Request) -> dict[str, Any]:
    """What ``reveal_once`` left for this page; empty when nothing (or it expired)."""
    raw = request.cookies.get(REVEAL_COOKIE)
    if not raw:
        return {}
    try:
        data = json.loads(_reveal_box(request).decrypt(raw.encode(), ttl=REVEAL_SECONDS))
    except (InvalidToken, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def form_page_of(request: Request) -> str:
    """The page a form was sent from: for a POST, the same-origin page that the browser
    names as the referrer (path and query); "" for anything else. A failed submit is shown
    under this address (forms.js replaces the POST's with it), so a reload loads the form's
    page afresh and never sends the form again. A view may pass ``form_page_url`` itself."""
    if request.method in READ_METHODS:
        return ""
    referer = urlsplit(request.headers.get("referer", ""))
    if not referer.path.startswith("/") or referer.path.startswith("//"):
        return ""
    if referer.netloc not in ("", request.url.netloc):
        return ""
    return referer.path + (f"?{referer.query}" if referer.query else "")


def base_context(request: Request) -> dict[str, Any]:
    secret = settings_of(request).secret_key
    raw = request.cookies.get(FLASH_COOKIE)
    flashes = decode_signed_json(secret, raw) if raw else None
    return {
        "request": request,
        "actor": getattr(request.state, "actor", None),
        "csrf_token": csrf_token_for(request),
        "flashes": [tuple(f) for f in flashes or []],
        "_flashes_consumed": bool(raw),
        "form_page_url": form_page_of(request),
        "revealed": revealed(request),
        "_revealed_consumed": REVEAL_COOKIE in request.cookies,
        "Role": Role,
    }


# --- errors -----------------------------------------------------------------------------


def _wants_json(request: Request) -> bool:
    if request.url.path.startswith(API_PREFIXES):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _return_to(request: Request) -> str:
    """Where to go after signing in: this page for a GET, else the page the form was on."""
    if request.method == "GET":
        query = request.url.query
        return request.url.path + (f"?{query}" if query else "")
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.path.startswith("/") and referer.netloc in ("", request.url.netloc):
        return referer.path + (f"?{referer.query}" if referer.query else "")
    return "/dashboard"


def _error_page(request: Request, status: int, message: str) -> Response:
    templates = getattr(request.app.state, "templates", None)
    if templates is None:
        return JSONResponse({"error": {"code": "error", "message": message, "details": []}},
                            status_code=status)
    if not hasattr(request.state, "actor"):
        request.state.actor = None
    response: Response = templates.render(request, "error.html",
                                          {"status": status, "message": message},
                                          status_code=status)
    return response


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or str(loc[-1] if loc else "")


def _busy(request: Request, exc: BaseException) -> Response:
    """503 with ``Retry-After``: the database could not be had in time (``is_busy``); the
    unit of work was rolled back, so nothing of the request was saved."""
    busy = exc if isinstance(exc, DatabaseBusy) else DatabaseBusy(
        "the database is busy with other requests; nothing was saved, try again in a moment")
    headers = {"Retry-After": str(DatabaseBusy.retry_after)}
    own = _own_shape(request, busy.status_code, busy.message, headers)
    if own is not None:
        return own
    if not _wants_json(request):
        response = _error_page(request, busy.status_code, busy.message)
        response.headers.update(headers)
        return response
    return JSONResponse(busy.to_dict(), status_code=busy.status_code, headers=headers)


ErrorShape = Callable[[Request, int, str, dict[str, str] | None], Response]
"""Renders an error in a standard interface's own shape: (request, status, message, headers)."""


def use_error_shape(app: FastAPI, prefix: str, render: ErrorShape) -> None:
    """Answer every error under ``prefix`` (a standard interface mounted there, such as
    PACT's ``/pact``) with ``render`` instead of the platform's shape: domain errors,
    validation errors, unknown paths and methods, and the unexpected 500 alike."""
    shapes: dict[str, ErrorShape] = getattr(app.state, "error_shapes", {})
    shapes[prefix] = render
    app.state.error_shapes = shapes


def _own_shape(request: Request, status: int, message: str,
               headers: dict[str, str] | None = None) -> Response | None:
    shapes: dict[str, ErrorShape] = getattr(request.app.state, "error_shapes", {})
    path = request.url.path
    for prefix, render in shapes.items():
        if path == prefix or path.startswith(prefix + "/"):
            return render(request, status, message, headers)
    return None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        if isinstance(exc, DatabaseBusy):
            return _busy(request, exc)
        own = _own_shape(request, exc.status_code, exc.message)
        if own is not None:
            return own
        if not _wants_json(request):
            if exc.status_code == 401:
                return RedirectResponse("/login?" + urlencode({"next": _return_to(request)}),
                                        status_code=303)
            return _error_page(request, exc.status_code, exc.message)
        return JSONResponse(exc.to_dict(), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        details = []
        for err in exc.errors():
            kind = err.get("type", "")
            message = str(err.get("msg", "invalid"))
            if kind == "extra_forbidden":
                message = "unknown field"
            details.append({"field": _field_name(err.get("loc", ())), "message": message})
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
        message = f"the request is not valid: {summary}"
        own = _own_shape(request, 400, message)
        if own is not None:
            return own
        body = {"error": {"code": "validation_error", "message": message, "details": details}}
        if not _wants_json(request):
            return _error_page(request, 422, message)
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
        message = str(exc.detail) if exc.detail else "error"
        if exc.status_code == 404 and message == "Not Found":
            message = f"nothing is at {request.url.path}"
        if exc.status_code == 405 and message == "Method Not Allowed":
            message = f"{request.url.path} does not take {request.method}"
        own = _own_shape(request, exc.status_code, message, getattr(exc, "headers", None))
        if own is not None:
            return own
        if not _wants_json(request):
            return _error_page(request, exc.status_code, message)
        return JSONResponse(
            {"error": {"code": codes.get(exc.status_code, "http_error"), "message": message,
                       "details": []}},
            status_code=exc.status_code, headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError) -> Response:
        # A guarded row (a material account) changed under this request between its read
        # and its write: nothing was saved, and trying again sees the new state.
        conflict = Conflict("the record changed in another request at the same moment; "
                            "nothing was saved, try again")
        return await _domain(request, conflict)

    @app.exception_handler(DBAPIError)
    @app.exception_handler(PoolTimeout)
    async def _database(request: Request, exc: Exception) -> Response:
        if is_busy(exc):
            return _busy(request, exc)
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        import logging

        logging.getLogger("stewardship").exception("unhandled error on %s", request.url.path)
        message = "something went wrong on our side; nothing was saved"
        own = _own_shape(request, 500, message)
        if own is not None:
            return own
        if not _wants_json(request):
            return _error_page(request, 500, message)
        return JSONResponse({"error": {"code": "internal", "message": message, "details": []}},
                            status_code=500)


# --- middleware -------------------------------------------------------------------------


class _BodyTooLarge(StarletteHTTPException):
    """Raised while a streamed body is read. An HTTPException, so that FastAPI's body parsing
    passes it on (it turns any other error into a 400) and the one handler answers 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the request body is larger than {max_bytes} bytes")


class BodySizeLimit:
    """Refuse request bodies over the limit with 413, whether or not Content-Length says so."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            # Reached only when no exception handler answered (a body read outside a route).
            if not response_started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        err = PayloadTooLarge(f"the request body is larger than {self.max_bytes} bytes")
        request = Request(scope, receive)
        # A prefix with an error shape of its own (PACT) answers in it; a form sent from a
        # page gets a page saying so (a browser shows JSON as text); the rest JSON.
        own = _own_shape(request, 413, err.message) if "app" in scope else None
        response: Response = own or (
            _error_page(request, 413, err.message)
            if "app" in scope and not _wants_json(request)
            else JSONResponse(err.to_dict(), status_code=413))
        await send({"type": "http.response.start", "status": 413,
                    "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})


def content_security_policy(*, script_src: tuple[str, ...] = (),
                            style_src: tuple[str, ...] = (),
                            img_src: tuple[str, ...] = ()) -> str:
    """The pages' policy: everything from this origin only, no inline script or style, no
    framing, forms posting only here. A page that needs more names its extra sources."""
    directives = [
        ("default-src", ("'self'",)),
        ("script-src", ("'self'", *script_src)),
        ("style-src", ("'self'", *style_src)),
        ("img-src", ("'self'", "data:", *img_src)),
        ("connect-src", ("'self'",)),
        ("frame-ancestors", ("'none'",)),
        ("form-action", ("'self'",)),
        ("base-uri", ("'self'",)),
        ("object-src", ("'none'",)),
    ]
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives)


PAGE_CSP = content_security_policy()

_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)


def inline_script_hashes(html: str) -> tuple[str, ...]:
    """CSP sources allowing exactly the inline scripts of one page, by their SHA-256."""
    return tuple(
        "'sha256-" + base64.b64encode(hashlib.sha256(m.group(1).encode()).digest()).decode()
        + "'" for m in _INLINE_SCRIPT.finditer(html))


class SecurityHeaders:
    """Sets the CSRF cookie minted during the request and the protective headers.

    The application wraps its whole middleware stack in this one (see web/app.py), so that
    every answer carries the headers: errors, a 413 from the body limit and the 500 that
    Starlette's outermost error middleware sends included. A response that already sets a
    Content-Security-Policy (the API docs page) keeps its own.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"same-origin"))
                headers.append((b"x-frame-options", b"DENY"))
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", PAGE_CSP.encode()))
                flags = "; Path=/; HttpOnly; SameSite=Lax"
                if self.settings.secure_cookies:
                    flags += "; Secure"
                new_cookie = state.get("new_csrf_cookie")
                if new_cookie:
                    headers.append((b"set-cookie", f"{CSRF_COOKIE}={new_cookie}{flags}".encode()))
                written = state.get("written_cookie")
                if written:  # where this caller's write ended, for its next reads
                    value, seconds = written
                    headers.append((b"set-cookie", f"{WRITTEN_COOKIE}={value}; Max-Age="
                                    f"{seconds}{flags}".encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, wrapped)
