"""Loads the fictional demo world from ``data/demo_world.yaml`` through the services.

Idempotent: organisations, audit firms and users that exist already are left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from typing import Any

import yaml
from sqlalchemy.orm import Session

from stewardship.assurance.demo import load_demo_assurance, load_demo_suspension
from stewardship.complaints.demo import load_demo_complaints
from stewardship.core import clock
from stewardship.core.auth import Role, system_actor
from stewardship.core.config import Settings
from stewardship.custody.demo import load_demo_custody
from stewardship.registry import repository as registry_repo
from stewardship.registry.rules import OrganizationStatus
from stewardship.registry.schemas import (
    Accreditation,
    AuditFirmCreate,
    AuditorCreate,
    EntityCreate,
    FacilityCreate,
    OrganizationCreate,
)
from stewardship.registry.service import accounts, audit_firms, facilities, organizations
from stewardship.standards.demo import load_demo_standards

DEMO_ACTOR = system_actor("demo-loader")


def load_world() -> dict[str, Any]:
    text = resources.files("stewardship.data").joinpath("demo_world.yaml").read_text("utf-8")
    world: dict[str, Any] = yaml.safe_load(text)
    return world


@dataclass
class DemoReport:
    created: dict[str, int] = field(default_factory=dict)
    logins: list[tuple[str, str, str]] = field(default_factory=list)

    def count(self, what: str) -> None:
        self.created[what] = self.created.get(what, 0) + 1


def steps(world: dict[str, Any]) -> int:
    return (len(world["secretariat"]) + len(world["organizations"])
            + len(world["audit_firms"]) + 3)


def _user(db: Session, report: DemoReport, spec: dict[str, Any], role: Role,
          organization: str | None = None, audit_firm: str | None = None) -> None:
    label = {Role.SECRETARIAT: "secretariat", Role.MEMBER_ADMIN: "member admin",
             Role.MEMBER_USER: "member user", Role.AUDITOR: "auditor"}[role]
    report.logins.append((label, spec["email"], spec["password"]))
    if registry_repo.user_by_email(db, spec["email"]) is not None:
        return
    accounts.create_user(db, DEMO_ACTOR, email=spec["email"], name=spec["name"],
                         password=spec["password"], role=role, organization=organization,
                         audit_firm=audit_firm)
    report.count("users")


def _organization(db: Session, report: DemoReport, spec: dict[str, Any]) -> None:
    slug = spec["slug"]
    if registry_repo.organization_by_slug(db, slug) is None:
        organizations.create_organization(db, DEMO_ACTOR, OrganizationCreate(
            name=spec["name"], slug=slug, membership_class=spec["membership_class"],
            country=spec["country"], website=spec.get("website"),
            description=spec.get("description", "")))
        if spec["status"] in ("member", "suspended"):
            organizations.admit(db, DEMO_ACTOR, slug, spec["joined_on"])
        if spec["status"] == "suspended":
            organizations.change_status(db, DEMO_ACTOR, slug, OrganizationStatus.SUSPENDED,
                                        "membership fees unpaid (demo)")
        report.count("organisations")
        for entity_spec in spec.get("entities") or []:
            entity = organizations.add_entity(db, DEMO_ACTOR, slug,
                                              EntityCreate(name=entity_spec["name"]))
            report.count("entities")
            for fac in entity_spec.get("facilities") or []:
                facilities.create_facility(db, DEMO_ACTOR, FacilityCreate(
                    organization=slug, entity_id=entity.id, name=fac["name"],
                    address=fac.get("address", ""), country=fac["country"],
                    latitude=fac.get("latitude"), longitude=fac.get("longitude"),
                    activities=fac["activities"],
                    annual_capacity_t=fac.get("annual_capacity_t")))
                report.count("facilities")
    for user_spec in spec.get("users") or []:
        _user(db, report, user_spec, Role(user_spec["role"]), organization=slug)


def _audit_firm(db: Session, report: DemoReport, spec: dict[str, Any]) -> None:
    slug = spec["slug"]
    if registry_repo.audit_firm_by_slug(db, slug) is None:
        acc = spec["accreditation"]
        audit_firms.accredit(db, DEMO_ACTOR, AuditFirmCreate(
            name=spec["name"], slug=slug, country=spec["country"], website=spec.get("website"),
            accreditation=Accreditation(standards=acc["standards"], countries=acc["countries"],
                                        activities=acc["activities"],
                                        expires_on=acc["expires_on"])))
        report.count("audit firms")
        for auditor in spec.get("auditors") or []:
            audit_firms.add_auditor(db, DEMO_ACTOR, slug, AuditorCreate(
                name=auditor["name"], email=auditor["email"], lead=bool(auditor.get("lead"))))
    for auditor in spec.get("auditors") or []:
        _user(db, report, auditor, Role.AUDITOR, audit_firm=slug)


def load_demo(db: Session, advance: Callable[[str], None] | None = None,
              settings: Settings | None = None, today: date | None = None) -> DemoReport:
    """Load the demo world into the caller's transaction; the certification and custody
    work is dated back from `today` (default: the real today)."""
    world = load_world()
    report = DemoReport()
    tick = advance or (lambda _label: None)
    for spec in world["secretariat"]:
        _user(db, report, spec, Role.SECRETARIAT)
        tick(spec["email"])
    for spec in world["organizations"]:
        _organization(db, report, spec)
        tick(spec["name"])
    for spec in world["audit_firms"]:
        _audit_firm(db, report, spec)
        tick(spec["name"])
    load_demo_standards(db, DEMO_ACTOR, world.get("standard_setting_body") or [],
                        settings or Settings())
    tick("standards")
    load_demo_complaints(db, settings)
    today = today or clock.today()
    certified = load_demo_assurance(db, today)
    if certified:
        report.count("certification demos")
    tick("certification")
    if load_demo_custody(db, today):
        report.count("chain-of-custody demos")
    if certified:  # after the custody demo: Lindtal's flows precede its suspension
        load_demo_suspension(db, today)
    tick("chain of custody")
    return report
