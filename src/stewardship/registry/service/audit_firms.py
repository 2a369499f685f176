"""Audit firms: accreditation by the secretariat, named auditors, the public list."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from stewardship.core import clock, eventlog
from stewardship.core.auth import Actor, Role, require
from stewardship.core.errors import Conflict, InvalidInput, NotFound
from stewardship.core.pagination import Page, PageParams
from stewardship.registry import repository as repo
from stewardship.registry.models import AuditFirm, Auditor
from stewardship.registry.rules import accreditation_covers, normalize_country
from stewardship.registry.schemas import (
    Accreditation,
    AuditFirmCreate,
    AuditFirmRead,
    AuditorCreate,
    AuditorRead,
)
from stewardship.registry.service import organizations

FIRM_STATUSES = ("accredited", "suspended", "withdrawn")


def to_read(firm: AuditFirm) -> AuditFirmRead:
    return AuditFirmRead(
        slug=firm.slug, name=firm.name, country=firm.country, website=firm.website,
        status=firm.status, standards=firm.standards, countries=firm.countries,
        activities=firm.activities, accreditation_expires_on=firm.accreditation_expires_on,
        auditors=[AuditorRead.model_validate(a) for a in firm.auditors if a.active],
    )


def list_audit_firms(db: Session, actor: Actor | None, params: PageParams, *,
                     country: str | None = None) -> Page[AuditFirmRead]:
    statuses = FIRM_STATUSES if actor and actor.is_secretariat() else ("accredited",)
    if country:
        try:
            country = normalize_country(country)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="country") from exc
    page = repo.list_audit_firms(db, params, statuses=statuses, country=country)
    return Page([to_read(f) for f in page.items], page.total, page.page, page.per_page)


def load(db: Session, actor: Actor | None, slug: str) -> AuditFirm:
    firm = repo.audit_firm_by_slug(db, slug)
    visible = firm is not None and (
        firm.status == "accredited"
        or (actor is not None and (actor.is_secretariat() or actor.audit_firm_id == firm.id))
    )
    if firm is None or not visible:
        raise NotFound(f"no audit firm '{slug}'", field="slug")
    return firm


def get_audit_firm(db: Session, actor: Actor | None, slug: str) -> AuditFirmRead:
    return to_read(load(db, actor, slug))


def _scope_payload(acc: Accreditation) -> dict[str, object]:
    return {"standards": [s.value for s in acc.standards], "countries": acc.countries,
            "activities": [a.value for a in acc.activities], "expires_on": acc.expires_on}


def accredit(db: Session, actor: Actor | None, data: AuditFirmCreate) -> AuditFirmRead:
    """Accredit a new audit firm for standards, countries and activities."""
    actor = require(actor, Role.SECRETARIAT, action="accredit audit firms")
    slug = organizations.unique_slug(db, AuditFirm, data.slug, data.name, "audit-firm")
    if data.accreditation.expires_on <= clock.today():
        raise InvalidInput("the accreditation must expire in the future",
                           field="accreditation.expires_on")
    acc = data.accreditation
    firm = AuditFirm(
        slug=slug, name=data.name, country=data.country, website=data.website,
        status="accredited", standards=[s.value for s in acc.standards],
        countries=acc.countries, activities=sorted(a.value for a in acc.activities),
        accreditation_expires_on=acc.expires_on,
    )
    db.add(firm)
    db.flush()
    eventlog.append(db, actor, "registry.audit_firm.accredited", f"audit_firm:{slug}",
                    {"name": firm.name, **_scope_payload(acc)})
    db.refresh(firm, ["auditors"])
    return to_read(firm)


def update_accreditation(db: Session, actor: Actor | None, slug: str,
                         data: Accreditation) -> AuditFirmRead:
    actor = require(actor, Role.SECRETARIAT, action="change accreditations")
    firm = load(db, actor, slug)
    if data.expires_on <= clock.today():
        raise InvalidInput("the accreditation must expire in the future", field="expires_on")
    firm.standards = [s.value for s in data.standards]
    firm.countries = data.countries
    firm.activities = sorted(a.value for a in data.activities)
    firm.accreditation_expires_on = data.expires_on
    db.flush()
    eventlog.append(db, actor, "registry.audit_firm.scope_changed", f"audit_firm:{slug}",
                    _scope_payload(data))
    return to_read(firm)


def set_status(db: Session, actor: Actor | None, slug: str, status: str,
               reason: str) -> AuditFirmRead:
    actor = require(actor, Role.SECRETARIAT, action="suspend or withdraw accreditations")
    if status not in FIRM_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(FIRM_STATUSES)}", field="status")
    firm = load(db, actor, slug)
    if firm.status == "withdrawn":
        raise Conflict("a withdrawn accreditation cannot change; accredit the firm anew",
                       field="status")
    previous, firm.status = firm.status, status
    db.flush()
    eventlog.append(db, actor, f"registry.audit_firm.{status}", f"audit_firm:{slug}",
                    {"from": previous, "reason": reason})
    return to_read(firm)


def add_auditor(db: Session, actor: Actor | None, slug: str, data: AuditorCreate) -> AuditorRead:
    """Name an auditor of the firm (the secretariat approves auditors)."""
    actor = require(actor, Role.SECRETARIAT, action="name auditors")
    firm = load(db, actor, slug)
    email = str(data.email).lower()
    if any(a.email == email for a in firm.auditors):
        raise Conflict(f"{email} is already an auditor of {firm.name}", field="email")
    auditor = Auditor(audit_firm_id=firm.id, name=data.name, email=email, lead=data.lead)
    db.add(auditor)
    db.flush()
    eventlog.append(db, actor, "registry.auditor.named", f"audit_firm:{slug}",
                    {"auditor": str(auditor.id), "name": auditor.name, "lead": auditor.lead})
    return AuditorRead.model_validate(auditor)


def covers(firm: AuditFirm, *, standard: str, country: str, activities: list[str],
           on: date) -> bool:
    """Whether the firm may audit this scope on that day."""
    return firm.status == "accredited" and accreditation_covers(
        firm.standards, firm.countries, firm.activities, firm.accreditation_expires_on,
        standard=standard, country=country, needed=activities, on=on)
