"""Loads the fictional demo world from ``data/demo_world.yaml`` through the services.

The world's history is written as it happened: each context's demo is a set of threads
of ``core.timeline`` whose steps say the day they represent (an organisation's
application and admission, an audit's plan, a CoC document's shipment); the timeline runs
them all in time order under a ``SteppedClock`` moved to each step's moment, so rows and
event log entries carry those times, never the load's, and the event log grows in time
order.

Idempotent: organisations, audit firms and users that exist already are left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from typing import Any

import yaml
from sqlalchemy.orm import Session

from stewardship.assurance.demo import demo_assurance, demo_suspension
from stewardship.carbon.demo import demo_carbon
from stewardship.complaints.demo import demo_complaints
from stewardship.core import clock, timeline
from stewardship.core.auth import Role, system_actor
from stewardship.core.config import Settings
from stewardship.custody.demo import demo_custody
from stewardship.interop.pact.demo import demo_pact_clients, demo_pact_logins
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
from stewardship.standards.demo import demo_standards

DEMO_ACTOR = system_actor("demo-loader")


def load_world() -> dict[str, Any]:
    text = resources.files("stewardship.data").joinpath("demo_world.yaml").read_text("utf-8")
    world: dict[str, Any] = yaml.safe_load(text)
    return world


APPLICATION_DAYS = 45
"""An organisation applies this many days before the day it is admitted."""
APPLICANT_DAYS = 12
"""The applicant of the demo world applied this many days before the load (by default)."""


@dataclass
class DemoReport:
    created: dict[str, int] = field(default_factory=dict)
    logins: list[tuple[str, str, str]] = field(default_factory=list)
    """(role, e-mail, password): one person to sign in as for each role."""
    pact_clients: list[tuple[str, str, str]] = field(default_factory=list)
    """(what for, client id, secret): the demo's PACT client credentials."""

    def count(self, what: str) -> None:
        self.created[what] = self.created.get(what, 0) + 1


def steps(world: dict[str, Any]) -> int:
    return (len(world["secretariat"]) + len(world["organizations"])
            + len(world["audit_firms"]) + 5)


def demo_logins(db: Session, world: dict[str, Any] | None = None) -> list[tuple[str, str, str]]:
    """One login per role, from the world's ``logins`` list, for the people who exist in
    the database (role, e-mail, password)."""
    world = world or load_world()
    passwords = {spec["email"]: spec["password"] for spec in _people(world)}
    return [(row["role"], row["email"], passwords[row["email"]])
            for row in world.get("logins") or []
            if row["email"] in passwords
            and registry_repo.user_by_email(db, row["email"]) is not None]


def _people(world: dict[str, Any]) -> list[dict[str, Any]]:
    people = list(world["secretariat"])
    for org in world["organizations"]:
        people += org.get("users") or []
    for firm in world["audit_firms"]:
        people += firm.get("auditors") or []
    return people


def _user(db: Session, report: DemoReport, spec: dict[str, Any], role: Role,
          organization: str | None = None, audit_firm: str | None = None) -> None:
    if registry_repo.user_by_email(db, spec["email"]) is not None:
        return
    accounts.create_user(db, DEMO_ACTOR, email=spec["email"], name=spec["name"],
                         password=spec["password"], role=role, organization=organization,
                         audit_firm=audit_firm)
    report.count("users")


def _organization(db: Session, report: DemoReport, spec: dict[str, Any], load_day: date
                  ) -> timeline.Thread:
    slug = spec["slug"]
    joined: date | None = spec.get("joined_on")
    applied: date = spec.get("applied_on") or (
        joined - timedelta(days=APPLICATION_DAYS) if joined
        else load_day - timedelta(days=APPLICANT_DAYS))
    yield timeline.at(applied, 10)
    if registry_repo.organization_by_slug(db, slug) is None:
        organizations.create_organization(db, DEMO_ACTOR, OrganizationCreate(
            name=spec["name"], slug=slug, membership_class=spec["membership_class"],
            country=spec["country"], website=spec.get("website"),
            description=spec.get("description", "")))
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
        if spec["status"] in ("member", "suspended"):
            yield timeline.at(joined or load_day, 11)
            organizations.admit(db, DEMO_ACTOR, slug, joined)
        if spec["status"] == "suspended":
            yield timeline.at(spec.get("suspended_on") or load_day - timedelta(days=30), 11)
            organizations.change_status(db, DEMO_ACTOR, slug, OrganizationStatus.SUSPENDED,
                                        "membership fees unpaid (demo)")
    for i, user_spec in enumerate(spec.get("users") or []):
        # the first person (its admin) signs up with the application, the rest on admission
        yield timeline.at(applied if i == 0 or not joined else joined, 10, 30 + i)
        _user(db, report, user_spec, Role(user_spec["role"]), organization=slug)


def _audit_firm(db: Session, report: DemoReport, spec: dict[str, Any]) -> timeline.Thread:
    slug = spec["slug"]
    yield timeline.at(spec["accreditation"]["accredited_on"], 10)
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


def _moment(today: date | None) -> datetime:
    """The load's own moment: now, or noon UTC of the given day when it is not today."""
    now = clock.now()
    if today is None or today == now.date():
        return now
    return datetime(today.year, today.month, today.day, 12, tzinfo=UTC)


def load_demo(db: Session, advance: Callable[[str], None] | None = None,
              settings: Settings | None = None, today: date | None = None) -> DemoReport:
    """Load the demo world into the caller's transaction; the certification and custody
    work is dated back from `today` (default: the real today), and every step is written
    at the time it represents."""
    moment = _moment(today)
    world = load_world()
    report = DemoReport()
    tick = advance or (lambda _label: None)
    with clock.use(clock.SteppedClock(moment)):
        timeline.run(_threads(db, world, report, tick, settings, moment.date()))
    report.logins = demo_logins(db, world)
    report.pact_clients = demo_pact_logins(db, world.get("pact_clients") or [])
    return report


def _threads(db: Session, world: dict[str, Any], report: DemoReport,
             tick: Callable[[str], None], settings: Settings | None, today: date
             ) -> list[timeline.Thread]:
    def ticked(label: str, thread: timeline.Thread, counts: str | None = None
               ) -> timeline.Thread:
        done = yield from thread
        if counts is not None and done:
            report.count(counts)
        tick(label)

    def secretariat() -> timeline.Thread:
        for spec in world["secretariat"]:
            yield timeline.at(spec["since"], 9)
            _user(db, report, spec, Role.SECRETARIAT)
            tick(spec["email"])

    threads = [secretariat()]
    threads += [ticked(spec["name"], _organization(db, report, spec, today))
                for spec in world["organizations"]]
    threads += [ticked(spec["name"], _audit_firm(db, report, spec))
                for spec in world["audit_firms"]]
    threads += [
        ticked("standards", demo_standards(db, DEMO_ACTOR,
                                           world.get("standard_setting_body") or [],
                                           settings or Settings())),
        demo_complaints(db, settings),
        ticked("certification", demo_assurance(db, today), "certification demos"),
        ticked("chain of custody", demo_custody(db, today), "chain-of-custody demos"),
        ticked("carbon", demo_carbon(db, today), "carbon demos"),
        ticked("PACT clients", demo_pact_clients(db, world.get("pact_clients") or [],
                                                 (settings or Settings()).secret_key, today),
               "PACT clients"),
        demo_suspension(db, today),  # Lindtal's flows end before its suspension
    ]
    return threads
