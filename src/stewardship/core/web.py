"""Request plumbing shared by every context's api and views.

- ``DbSession``: one session per request; it commits once when the endpoint returns and
  rolls back when it raises (services only flush).
- ``OptionalActor`` / ``CurrentActor``: who is calling, from a bearer token or the session
  cookie. An endpoint without one of them is public, on purpose.
- CSRF: a signed double-submit cookie; every form post checks its hidden field.
- Flash messages: a signed cookie read once by the next page.
- The one error handler that turns domain errors into ``{"error": {...}}``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stewardship.core.auth import Actor, Role, require
from stewardship.core.config import Settings
from stewardship.core.db import transaction
from stewardship.core.errors import Conflict, DomainError, Forbidden, PayloadTooLarge
from stewardship.core.pagination import PageParams
from stewardship.core.security import decode_signed_json, encode_signed_json, sign, unsign

SESSION_COOKIE = "stw_session"
CSRF_COOKIE = "stw_csrf"
FLASH_COOKIE = "stw_flash"
API_PREFIXES = ("/api/", "/epcis", "/pact")

ActorResolver = Callable[[Session, str, str], Actor | None]


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_db(request: Request) -> Iterator[Session]:
    with transaction(request.app.state.sessionmaker) as session:
        yield session


DbSession = Annotated[Session, Depends(get_db, scope="function")]


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


# --- flash messages ---------------------------------------------------------------------


def flash(request: Request, response: Response, message: str, category: str = "success") -> None:
    secret = settings_of(request).secret_key
    existing = decode_signed_json(secret, request.cookies.get(FLASH_COOKIE, "")) or []
    existing.append([category, message])
    response.set_cookie(FLASH_COOKIE, encode_signed_json(secret, existing[-5:]), path="/",
                        httponly=True, samesite="lax")


def redirect(request: Request, url: str, message: str | None = None,
             category: str = "success") -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    if message:
        flash(request, response, message, category)
    return response


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


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
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

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        import logging

        logging.getLogger("stewardship").exception("unhandled error on %s", request.url.path)
        message = "something went wrong on our side; nothing was saved"
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
            await self._refuse(send)
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
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        err = PayloadTooLarge(f"the request body is larger than {self.max_bytes} bytes")
        response = JSONResponse(err.to_dict(), status_code=413)
        await send({"type": "http.response.start", "status": 413,
                    "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})


class SecurityHeaders:
    """Sets the CSRF cookie minted during the request and a few protective headers."""

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
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"same-origin"))
                headers.append((b"x-frame-options", b"DENY"))
                new_cookie = state.get("new_csrf_cookie")
                if new_cookie:
                    flags = "; Path=/; HttpOnly; SameSite=Lax"
                    if self.settings.secure_cookies:
                        flags += "; Secure"
                    headers.append((b"set-cookie", f"{CSRF_COOKIE}={new_cookie}{flags}".encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, wrapped)
