"""Builders of test data, all through the services (so the event log sees them too)."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from stewardship.core.auth import Actor, Role, system_actor
from stewardship.registry import repository as repo
from stewardship.registry.rules import add_years
from stewardship.registry.schemas import (
    Accreditation,
    AuditFirmCreate,
    EntityCreate,
    FacilityCreate,
    OrganizationCreate,
)
from stewardship.registry.service import accounts, audit_firms, facilities, organizations
from tests.today import TODAY

SYSTEM = system_actor("tests")
PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)

# Every date a builder gives is counted from the session's day, so the same world stands
# however far the calendar has moved on. A member has belonged for a little under three
# years: past its two-year certification deadline.
JOINED_ON = TODAY - timedelta(days=1050)
# Audit firms stay accredited well beyond any audit, certificate or claim a test plans.
ACCREDITED_UNTIL = add_years(TODAY, 5)


def organization(db: Session, *, name: str | None = None, admitted: bool = True,
                 membership_class: str = "production_transformation", country: str = "NO",
                 joined_on: date | None = JOINED_ON) -> str:
    n = next(_seq)
    org = organizations.create_organization(db, SYSTEM, OrganizationCreate(
        name=name or f"Test Metals {n}", membership_class=membership_class, country=country))
    if admitted:
        organizations.admit(db, SYSTEM, org.slug, joined_on)
    return org.slug


def entity(db: Session, org_slug: str, name: str = "Test Metals AS") -> Any:
    return organizations.add_entity(db, SYSTEM, org_slug, EntityCreate(name=name))


def facility(db: Session, org_slug: str, *, name: str = "Test Smelter",
             address: str = "Industrivegen 1, 6800 Førde", country: str = "NO",
             activities: list[str] | None = None, **extra: Any) -> Any:
    created = facilities.create_facility(db, SYSTEM, FacilityCreate(
        organization=org_slug, name=name, address=address, country=country,
        activities=activities or ["smelting"], **extra))
    return created


def audit_firm(db: Session, *, name: str | None = None, countries: list[str] | None = None,
               activities: list[str] | None = None) -> str:
    n = next(_seq)
    firm = audit_firms.accredit(db, SYSTEM, AuditFirmCreate(
        name=name or f"Test Assurance {n}", country="GB",
        accreditation=Accreditation(standards=["performance", "chain_of_custody"],
                                    countries=countries or ["NO", "DE"],
                                    activities=activities or ["smelting", "casthouse"],
                                    expires_on=ACCREDITED_UNTIL)))
    return firm.slug


def user(db: Session, role: Role, *, organization: str | None = None,
         audit_firm: str | None = None, email: str | None = None) -> Actor:
    """A user with the given role and the actor the services see for them."""
    n = next(_seq)
    created = accounts.create_user(
        db, SYSTEM, email=email or f"{role.value}.{n}@tests.example", name=f"Test {role.value} {n}",
        password=PASSWORD, role=role, organization=organization, audit_firm=audit_firm)
    loaded = repo.user_by_id(db, created.id)
    assert loaded is not None
    return accounts.actor_for(loaded)


def events(db: Session) -> list[Any]:
    """Every event log entry so far, oldest first (the test's transaction starts empty)."""
    from sqlalchemy import select

    from stewardship.core.eventlog import EventLogEntry

    db.flush()
    return list(db.scalars(select(EventLogEntry).order_by(EventLogEntry.sequence)))


def event_kinds(db: Session) -> list[str]:
    return [e.kind for e in events(db)]
