"""Pages of the registry's audit firms: the public list and firm pages, naming and
inviting a firm's auditors, and the secretariat's accreditation page. Same habits as
`registry.views`: the form builds the API's input model, the service decides, a failed
post shows the form again with what to fix.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor, Role, require
from stewardship.core.errors import DomainError
from stewardship.core.pagination import PageParams
from stewardship.core.web import (
    CsrfChecked,
    DbSession,
    OptionalActor,
    Pagination,
    redirect,
    settings_of,
)
from stewardship.registry.schemas import AuditFirmCreate, AuditorCreate, InvitationCreate
from stewardship.registry.service import accounts, audit_firms
from stewardship.registry.views import (
    ACTIVITIES,
    COUNTRIES,
    COUNTRY_NAMES,
    STANDARDS,
    Many,
    Short,
    _errors,
    _first_page,
    _render,
    _reraise_access,
    _validate,
    invited_shown,
    reveal_invitation,
)

router = APIRouter(include_in_schema=False)


@router.get("/audit-firms")
def audit_firm_list(request: Request, db: DbSession, actor: OptionalActor,
                    paging: Pagination) -> Response:
    page = audit_firms.list_audit_firms(db, actor, paging)
    return _render(request, "registry/audit_firms.html", {"page": page})


def _firm_page(request: Request, db: Session, actor: Actor | None, slug: str, *,
               errors: dict[str, str] | None = None, values: dict[str, Any] | None = None,
               invited: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    firm = audit_firms.get_audit_firm(db, actor, slug)
    return _render(request, "registry/audit_firm.html", {
        "firm": firm, "errors": errors or {}, "values": values or {}, "invited": invited,
        "manage": actor is not None and actor.is_secretariat(),
        "country_names": COUNTRY_NAMES,
    }, status_code)


@router.get("/audit-firms/{slug}")
def audit_firm_page(request: Request, db: DbSession, actor: OptionalActor,
                    slug: Annotated[str, Path(max_length=80)]) -> Response:
    return _firm_page(request, db, actor, slug, invited=invited_shown(request))


@router.post("/audit-firms/{slug}/auditors", dependencies=[CsrfChecked])
def add_auditor(request: Request, db: DbSession, actor: OptionalActor,
                slug: Annotated[str, Path(max_length=80)],
                auditor_name: Short = "",
                auditor_email: Annotated[str, Form(max_length=254)] = "",
                lead: Annotated[str, Form(max_length=5)] = "") -> Response:
    actor = require(actor, Role.SECRETARIAT, action="name auditors")
    values = {"auditor_name": auditor_name, "auditor_email": auditor_email, "lead": bool(lead)}
    try:
        data = _validate(AuditorCreate, {"name": auditor_name, "email": auditor_email,
                                         "lead": bool(lead)})
        auditor = audit_firms.add_auditor(db, actor, slug, data)
    except DomainError as exc:
        _reraise_access(exc)
        db.rollback()
        return _firm_page(request, db, actor, slug, values=values,
                          errors=_errors(exc, prefix="auditor_", fallback="name"),
                          status_code=exc.status_code)
    role = "lead auditor" if auditor.lead else "auditor"
    return redirect(request, f"/audit-firms/{slug}", f"{auditor.name} is named as {role}.")


@router.post("/audit-firms/{slug}/invitations", dependencies=[CsrfChecked])
def invite_auditor(request: Request, db: DbSession, actor: OptionalActor,
                   slug: Annotated[str, Path(max_length=80)], invite_name: Short = "",
                   invite_email: Annotated[str, Form(max_length=254)] = "") -> Response:
    actor = require(actor, Role.SECRETARIAT, action="invite auditors")
    values = {"invite_name": invite_name, "invite_email": invite_email}
    settings = settings_of(request)
    try:
        data = _validate(InvitationCreate, {"name": invite_name, "email": invite_email,
                                            "role": Role.AUDITOR.value, "audit_firm": slug})
        invitation, token = accounts.invite(db, actor, data, settings)
    except DomainError as exc:
        _reraise_access(exc)
        db.rollback()
        return _firm_page(request, db, actor, slug, values=values,
                          errors=_errors(exc, prefix="invite_", fallback="email"),
                          status_code=exc.status_code)
    return redirect(request, f"/audit-firms/{slug}", f"{invitation.name} is invited.",
                    reveal=reveal_invitation(request, invitation, token))


@router.get("/secretariat/audit-firms")
def secretariat_audit_firms(request: Request, db: DbSession, actor: OptionalActor,
                            paging: Pagination) -> Response:
    actor = require(actor, Role.SECRETARIAT, action="accredit audit firms")
    return _accredit_page(request, db, actor, paging, values={})


def _accredit_page(request: Request, db: Session, actor: Actor, paging: PageParams, *,
                   values: dict[str, Any], errors: dict[str, str] | None = None,
                   status_code: int = 200) -> Response:
    return _render(request, "registry/secretariat_audit_firms.html", {
        "page": audit_firms.list_audit_firms(db, actor, paging), "values": values,
        "errors": errors or {}, "countries": COUNTRIES, "activities": ACTIVITIES,
        "standards": STANDARDS,
    }, status_code)


@router.post("/secretariat/audit-firms", dependencies=[CsrfChecked])
def accredit(request: Request, db: DbSession, actor: OptionalActor, name: Short = "",
             country: Annotated[str, Form(max_length=2)] = "",
             website: Annotated[str, Form(max_length=300)] = "",
             standards: Many = None, countries: Annotated[str, Form(max_length=1000)] = "",
             activities: Many = None,
             expires_on: Annotated[str, Form(max_length=20)] = "") -> Response:
    actor = require(actor, Role.SECRETARIAT, action="accredit audit firms")
    values = {"name": name, "country": country, "website": website.strip(),
              "standards": standards or [], "countries": countries,
              "activities": activities or [], "expires_on": expires_on}
    codes = [c for c in countries.replace(",", " ").replace(";", " ").split() if c]
    try:
        accreditation = {"standards": standards or [], "countries": codes,
                         "activities": activities or [], "expires_on": expires_on}
        # Blank parts are left out so that each is reported as missing by its name.
        accreditation = {k: v for k, v in accreditation.items() if v not in ("", [])}
        data = _validate(AuditFirmCreate, {"name": name, "country": country,
                                           "website": values["website"],
                                           "accreditation": accreditation})
        firm = audit_firms.accredit(db, actor, data)
    except DomainError as exc:
        _reraise_access(exc)
        db.rollback()
        errors = _errors(exc, fallback="name", rename={"accreditation.expires_on": "expires_on",
                                                      "slug": "name"})
        return _accredit_page(request, db, actor, _first_page(request), values=values,
                              errors=errors, status_code=exc.status_code)
    return redirect(request, f"/audit-firms/{firm.slug}",
                    f"{firm.name} is accredited until {firm.accreditation_expires_on:%d %b %Y}.")
