"""Pages of the shell: home, sign-in and out, API tokens, the event log (the dashboards
are in dashboard_views.py)."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from stewardship.assurance.service import certificates
from stewardship.core import eventlog, labels
from stewardship.core.auth import Role, require
from stewardship.core.errors import DomainError, InvalidInput
from stewardship.core.pagination import PageParams
from stewardship.core.templating import sentence
from stewardship.core.web import (
    SESSION_COOKIE,
    CsrfChecked,
    DbSession,
    OptionalActor,
    Pagination,
    public_base_url,
    redirect,
    revealed,
    settings_of,
)
from stewardship.custody.service import documents
from stewardship.registry.models import User
from stewardship.registry.service import accounts, audit_firms, facilities, organizations
from stewardship.registry.service import names as registry_names

router = APIRouter(include_in_schema=False)


def _render(request: Request, name: str, context: dict | None = None,  # type: ignore[type-arg]
            status_code: int = 200) -> Response:
    response: Response = request.app.state.templates.render(request, name, context, status_code)
    return response


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/dashboard"


@router.get("/")
def home(request: Request, db: DbSession, actor: OptionalActor) -> Response:
    first = PageParams(page=1, per_page=6)
    members = organizations.list_organizations(db, actor, first)
    sites = facilities.list_facilities(db, actor, PageParams(page=1, per_page=1))
    firms = audit_firms.list_audit_firms(db, actor, PageParams(page=1, per_page=1))
    return _render(request, "home.html", {"members": members, "facility_total": sites.total,
                                          "firm_total": firms.total})


VERIFY_KINDS = (("STW-", certificates.verify_path), ("COC-", documents.verify_path))
"""What a number printed on paper starts with, and the page that verifies it."""


@router.get("/verify")
def verify_lookup(request: Request,
                  number: Annotated[str, Query(max_length=100)] = "") -> Response:
    """One box for whatever a buyer holds: a certificate number or a CoC document
    number; the QR code printed on either opens the same pages."""
    wanted = "".join(number.split()).upper()
    if not wanted:
        return _render(request, "verify.html", {"number": "", "error": ""})
    for prefix, path_of in VERIFY_KINDS:
        if wanted.startswith(prefix) and len(wanted) > len(prefix):
            return redirect(request, path_of(wanted))
    return _render(request, "verify.html", {
        "number": number.strip(),
        "error": "A certificate number starts with STW- (for example STW-PS-2026-0001) and a "
                 "CoC document number with COC- (for example COC-2026-K7QP3WXA4): type it as "
                 "printed."}, 422)


@router.get("/login")
def login_form(request: Request, actor: OptionalActor, next: str | None = None) -> Response:
    if actor is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _render(request, "login.html", {"next": _safe_next(next), "email": "", "errors": {}})


@router.post("/login", dependencies=[CsrfChecked])
def login(request: Request, db: DbSession, email: Annotated[str, Form(max_length=254)] = "",
          password: Annotated[str, Form(max_length=200)] = "",
          next: Annotated[str, Form(max_length=500)] = "/dashboard") -> Response:
    settings = settings_of(request)
    context = {"next": _safe_next(next), "email": email}
    try:
        user = accounts.authenticate(db, email, password, settings, ip=_client(request))
    except DomainError as exc:
        db.rollback()
        # A lock: the page explains it and offers the e-mailed sign-in link.
        return _render(request, "login.html",
                       {**context, "errors": exc.field_errors(),
                        "locked": exc.status_code == 429},
                       status_code=exc.status_code)
    if user is None:
        # The failed attempt is committed with this response; it counts towards the lock.
        return _render(request, "login.html",
                       {**context, "errors": accounts.LOGIN_FAILED.field_errors()},
                       status_code=401)
    return _start_session(request, db, user, _safe_next(next), f"Welcome, {user.name}.")


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


def _start_session(request: Request, db: DbSession, user: User, target: str,
                   message: str) -> Response:
    settings = settings_of(request)
    token = accounts.start_session(db, user, settings)
    response = redirect(request, target, message)
    response.set_cookie(SESSION_COOKIE, token, max_age=settings.session_days * 86400, path="/",
                        httponly=True, samesite="lax", secure=settings.secure_cookies)
    return response


@router.get("/login/link")
def login_link_form(request: Request, email: Annotated[str, Query(max_length=254)] = ""
                    ) -> Response:
    return _render(request, "login_link.html", {"email": email, "errors": {}, "sent": ""})


@router.post("/login/link", dependencies=[CsrfChecked])
def send_login_link(request: Request, db: DbSession,
                    email: Annotated[str, Form(max_length=254)] = "") -> Response:
    """E-mail a one-time sign-in link: the way in past a lock on failed passwords."""
    try:
        sent = accounts.request_login_link(db, email, settings_of(request),
                                           request.app.state.mailer,
                                           base_url=public_base_url(request), ip=_client(request))
    except DomainError as exc:
        db.rollback()
        return _render(request, "login_link.html",
                       {"email": email, "errors": _field_or_form(exc), "sent": ""},
                       status_code=exc.status_code)
    return redirect(request, "/login/link?" + urlencode({"email": email}), sentence(sent),
                    "info")


def _field_or_form(exc: DomainError) -> dict[str, str]:
    return exc.field_errors() or {"email": exc.message}


@router.get("/login/link/{token}")
def login_link_page(request: Request, db: DbSession,
                    token: Annotated[str, Path(max_length=100)]) -> Response:
    """The link from the e-mail. Opening it signs nobody in (mail scanners open links);
    its button does."""
    try:
        accounts.open_login_link(db, token)
    except DomainError as exc:
        return _render(request, "login_link_use.html",
                       {"token": token, "problem": sentence(exc.message)},
                       status_code=exc.status_code)
    return _render(request, "login_link_use.html", {"token": token, "problem": ""})


@router.post("/login/link/{token}", dependencies=[CsrfChecked])
def use_login_link(request: Request, db: DbSession,
                   token: Annotated[str, Path(max_length=100)]) -> Response:
    try:
        user = accounts.sign_in_with_link(db, token, ip=_client(request))
    except DomainError as exc:
        db.rollback()
        return _render(request, "login_link_use.html",
                       {"token": token, "problem": sentence(exc.message)},
                       status_code=exc.status_code)
    return _start_session(request, db, user, "/dashboard",
                          f"Welcome, {user.name}. You signed in with an e-mailed link.")


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request, db: DbSession) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        accounts.end_session(db, token)
    response = redirect(request, "/", "You are signed out.", "info")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/account/tokens")
def tokens_page(request: Request, db: DbSession, actor: OptionalActor) -> Response:
    actor = require(actor, action="manage API tokens")
    shown = revealed(request)
    created = ({"name": shown["token_name"], "token": shown["token"]}
               if "token" in shown and "token_name" in shown else None)
    return _render(request, "tokens.html", {"tokens": accounts.list_tokens(db, actor),
                                            "created": created, "errors": {}, "name": ""})


@router.post("/account/tokens", dependencies=[CsrfChecked])
def create_token(request: Request, db: DbSession, actor: OptionalActor,
                 name: Annotated[str, Form(max_length=100)] = "",
                 expires_in_days: Annotated[str, Form(max_length=5)] = "") -> Response:
    actor = require(actor, action="create API tokens")
    try:
        if not name.strip():
            raise InvalidInput("give the token a name, e.g. the script that will use it",
                               field="name")
        days = None
        if expires_in_days.strip():
            if not expires_in_days.strip().isdecimal() or not 1 <= int(expires_in_days) <= 3650:
                raise InvalidInput("expiry must be a number of days from 1 to 3650",
                                   field="expires_in_days")
            days = int(expires_in_days)
        created = accounts.create_token(db, actor, name, days)
    except DomainError as exc:
        db.rollback()
        return _render(request, "tokens.html",
                       {"tokens": accounts.list_tokens(db, actor), "created": None,
                        "errors": exc.field_errors(), "name": name},
                       status_code=exc.status_code)
    return redirect(request, "/account/tokens", f"Token “{created.name}” is created.",
                    reveal={"token_name": created.name, "token": created.token})


@router.post("/account/tokens/{token_id}/revoke", dependencies=[CsrfChecked])
def revoke_token(request: Request, db: DbSession, actor: OptionalActor,
                 token_id: uuid.UUID) -> Response:
    token = accounts.revoke_token(db, actor, token_id)
    return redirect(request, "/account/tokens", f"Token “{token.name}” is revoked.")


@router.get("/secretariat/events")
def events_page(request: Request, db: DbSession, actor: OptionalActor,
                paging: Pagination, kind: str | None = None) -> Response:
    require(actor, Role.SECRETARIAT, action="read the event log")
    page = eventlog.list_entries(db, paging, kind_prefix=(kind or "").strip()[:120] or None)
    names = registry_names.names_of(db, actor, [ref for e in page.items
                                                for ref in (e.actor, e.subject)])
    rows = [{"entry": e, "what": labels.event_sentence(e.kind),
             "who": labels.event_actor(e.actor, names),
             "about": labels.event_subject(e.subject, names)} for e in page.items]
    return _render(request, "events.html", {"page": page, "rows": rows, "kind": kind or "",
                                            "report": eventlog.verify_chain(db)})
