"""The dashboards: what each role has to act on, as counts that link to the list showing
exactly those items, then the role's overview; and the to-do lists that no context's
list page shows (a member's certificates needing attention and its corrective actions,
the members past their certification deadline)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from stewardship.assurance.rules import EXPIRY_WARNING_DAYS, AuditStatus
from stewardship.assurance.schemas import CertificateQuery
from stewardship.assurance.service import audits as audit_service
from stewardship.assurance.service import certificates, claims, dues
from stewardship.assurance.service import todo as assurance_todo
from stewardship.complaints.service import todo as complaints_todo
from stewardship.core import eventlog
from stewardship.core.auth import MEMBER_ROLES, Actor, Role, require
from stewardship.core.pagination import PageParams
from stewardship.core.web import DbSession, OptionalActor
from stewardship.custody.service import todo as custody_todo
from stewardship.registry.service import accounts, audit_firms, facilities, organizations

router = APIRouter(include_in_schema=False)

SHOWN = 5
"""How many items of each kind a dashboard names under its count."""

def _render(request: Request, name: str, context: dict[str, Any],
            status_code: int = 200) -> Response:
    response: Response = request.app.state.templates.render(request, name, context, status_code)
    return response


def _secretariat(db: Session, actor: Actor) -> dict[str, Any]:
    small = PageParams(page=1, per_page=10)
    overdue_members = dues.overdue_members(db, actor)
    return {
        "applicants": organizations.list_organizations(db, actor, small, status="applicant"),
        "members": organizations.list_organizations(db, actor, PageParams(1, 1),
                                                    status="member"),
        "facility_total": facilities.list_facilities(db, actor, PageParams(1, 1)).total,
        "firms": audit_firms.list_audit_firms(db, actor, PageParams(1, 50)),
        "events": eventlog.list_entries(db, small),
        "due_dates": dues.due_dates(db, actor),
        "overdue_members": overdue_members,
        "awaiting_review": assurance_todo.audits_awaiting_review(db, actor),
        "claims_waiting": claims.list_claim_requests(db, actor, PageParams(1, 1),
                                                     status="requested").total,
        "complaints": complaints_todo.open_complaints(db, actor, shown=SHOWN),
        "unmatched": custody_todo.unmatched(db, actor),
    }


def _member(db: Session, actor: Actor) -> dict[str, Any]:
    assert actor.organization_slug is not None
    is_admin = actor.role is Role.MEMBER_ADMIN
    corrective = assurance_todo.corrective_actions(db, actor)
    return {
        "organization": organizations.get_organization(db, actor, actor.organization_slug),
        "facilities": facilities.list_facilities(db, actor, PageParams(1, 50),
                                                 organization=actor.organization_slug),
        "users": accounts.list_users(db, actor, PageParams(1, 50)),
        "invitations": accounts.pending_invitations(db, actor) if is_admin else [],
        "due_dates": dues.due_dates(db, actor),
        "certificates": certificates.list_certificates(
            db, PageParams(1, 20), CertificateQuery(organization=actor.organization_slug)),
        "alerts": assurance_todo.certificate_alerts(db, actor),
        "within_days": EXPIRY_WARNING_DAYS,
        "waiting": custody_todo.waiting_for_receipt(db, actor, shown=SHOWN),
        "corrective": corrective,
        "corrective_overdue": sum(1 for c in corrective if c.overdue),
        "scope_steps": assurance_todo.scope_steps(db, actor) if is_admin else [],
    }


def _auditor(db: Session, actor: Actor) -> dict[str, Any]:
    assert actor.audit_firm_slug is not None
    first, count = PageParams(1, 10), PageParams(1, 1)
    return {
        "firm": audit_firms.get_audit_firm(db, actor, actor.audit_firm_slug),
        "in_progress": audit_service.list_audits(db, actor, first,
                                                 status=AuditStatus.IN_PROGRESS.value),
        "planned": audit_service.list_audits(db, actor, first,
                                             status=AuditStatus.PLANNED.value),
        "submitted": audit_service.list_audits(db, actor, count,
                                               status=AuditStatus.SUBMITTED.value),
        "all_audits": audit_service.list_audits(db, actor, count),
    }


@router.get("/dashboard")
def dashboard(request: Request, db: DbSession, actor: OptionalActor) -> Response:
    actor = require(actor, action="see your dashboard")
    if actor.role is Role.SECRETARIAT:
        return _render(request, "dashboards/secretariat.html", _secretariat(db, actor))
    if actor.role in MEMBER_ROLES:
        return _render(request, "dashboards/member.html", _member(db, actor))
    return _render(request, "dashboards/auditor.html", _auditor(db, actor))


# --- the to-do lists --------------------------------------------------------------------


@router.get("/todo/certificates")
def certificates_needing_attention(request: Request, db: DbSession,
                                   actor: OptionalActor) -> Response:
    actor = require(actor, *MEMBER_ROLES, action="see your certificates that need attention")
    return _render(request, "dashboards/todo_certificates.html", {
        "alerts": assurance_todo.certificate_alerts(db, actor),
        "within_days": EXPIRY_WARNING_DAYS})


@router.get("/todo/corrective-actions")
def corrective_actions(request: Request, db: DbSession, actor: OptionalActor) -> Response:
    actor = require(actor, Role.SECRETARIAT, *MEMBER_ROLES, action="see corrective actions")
    items = assurance_todo.corrective_actions(db, actor)
    return _render(request, "dashboards/todo_corrective.html", {
        "items": items, "overdue": sum(1 for c in items if c.overdue),
        "show_organization": actor.is_secretariat()})


@router.get("/todo/overdue-members")
def overdue_members(request: Request, db: DbSession, actor: OptionalActor) -> Response:
    actor = require(actor, Role.SECRETARIAT,
                    action="see members past their certification deadline")
    return _render(request, "dashboards/todo_overdue_members.html",
                   {"members": dues.overdue_members(db, actor)})
