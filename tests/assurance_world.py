"""A small world for the assurance tests, built through the services: a certifying member
with an entity and two facilities (a Norwegian smelter with a casthouse, a German
casthouse), an audit firm accredited for them with a lead auditor, a second firm, the
users of every role, and the shipped Performance Standard."""

from __future__ import annotations

import functools
import itertools
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import yaml
from sqlalchemy.orm import Session

from stewardship.assurance.rules import AuditType, Maturity, Rating
from stewardship.assurance.schemas import (
    AuditCreate,
    DecisionRead,
    Note,
    PlanSubmit,
    RatingBatch,
    RatingWrite,
    ReportSubmit,
    ScopeCreate,
    ScopeRead,
)
from stewardship.assurance.service import audits, decisions, scopes
from stewardship.core.auth import Actor, Role
from stewardship.registry.schemas import AuditorCreate
from stewardship.registry.service import audit_firms
from stewardship.standards import repository as standards_repo
from stewardship.standards.demo import shipped_package_text
from stewardship.standards.package import parse_package
from stewardship.standards.rules import StandardPackage
from stewardship.standards.service import library
from tests import factories
from tests.factories import SYSTEM
from tests.today import TODAY

_seq = itertools.count(1)

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(17)
CSV = b"site,month,tonnes\nFjord,2026-01,1200\nFjord,2026-02,1180\n"


@functools.lru_cache(maxsize=16)
def _package(name: str, overrides: tuple[tuple[str, Any], ...]) -> StandardPackage:
    data = yaml.safe_load(shipped_package_text(name))
    data.update(dict(overrides))
    return parse_package(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def load_standard(db: Session, name: str = "performance-v3.yaml",
                  **overrides: Any) -> uuid.UUID:
    """Store a shipped standard package (with fields overridden) unless that version is
    loaded already; returns the version's id. Packages are parsed once per process."""
    package = _package(name, tuple(sorted(overrides.items())))
    standard = standards_repo.standard_by_urn(db, package.urn)
    if standard is not None:
        existing = standards_repo.version_of(db, standard.id, package.version)
        if existing is not None:
            return existing.id
    return library.store_version(db, SYSTEM, package).id


@dataclass
class World:
    org: str
    entity_id: uuid.UUID
    smelter: str
    casthouse: str
    firm: str
    lead_auditor_id: uuid.UUID
    other_firm: str
    admin: Actor
    member_user: Actor
    auditor: Actor
    """The lead auditor's account."""
    co_auditor: Actor
    other_auditor: Actor
    secretariat: Actor
    other_org: str
    other_admin: Actor
    extra: dict[str, Any] = field(default_factory=dict)


def build(db: Session, *, standard: bool = True, joined_on: date = factories.JOINED_ON,
          membership_class: str = "production_transformation") -> World:
    n = next(_seq)
    org = factories.organization(db, name=f"Fjord Aluminium {n}", joined_on=joined_on,
                                 membership_class=membership_class)
    entity = factories.entity(db, org, f"Fjord Aluminium AS {n}")
    smelter = factories.facility(db, org, name=f"Fjord Smelter {n}", country="NO",
                                 activities=["smelting", "casthouse"],
                                 entity_id=entity.id).facility.id
    casthouse = factories.facility(db, org, name=f"Rhein Casthouse {n}",
                                   address="Hafenstrasse 2, 41460 Neuss", country="DE",
                                   activities=["casthouse"]).facility.id
    firm = factories.audit_firm(db, name=f"Nordic Assurance {n}")
    lead = audit_firms.add_auditor(db, SYSTEM, firm, AuditorCreate(
        name="Lena Lead", email=f"lena.{n}@nordic.example", lead=True))
    other_firm = factories.audit_firm(db, name=f"Other Assurance {n}")
    other_lead = audit_firms.add_auditor(db, SYSTEM, other_firm, AuditorCreate(
        name="Otto Other", email=f"otto.{n}@other.example", lead=True))
    other_org = factories.organization(db, name=f"Other Metals {n}")
    if standard:
        load_standard(db)
    return World(
        org=org, entity_id=entity.id, smelter=smelter, casthouse=casthouse, firm=firm,
        lead_auditor_id=lead.id, other_firm=other_firm,
        admin=factories.user(db, Role.MEMBER_ADMIN, organization=org),
        member_user=factories.user(db, Role.MEMBER_USER, organization=org),
        auditor=factories.user(db, Role.AUDITOR, audit_firm=firm,
                               email=f"lena.{n}@nordic.example"),
        co_auditor=factories.user(db, Role.AUDITOR, audit_firm=firm),
        other_auditor=factories.user(db, Role.AUDITOR, audit_firm=other_firm,
                                     email=f"otto.{n}@other.example"),
        secretariat=factories.user(db, Role.SECRETARIAT),
        other_org=other_org,
        other_admin=factories.user(db, Role.MEMBER_ADMIN, organization=other_org),
        extra={"other_lead_auditor_id": other_lead.id},
    )


def scope(db: Session, w: World, *, facilities: list[str] | None = None,
          activities: list[str] | None = None, standard: str = "performance",
          version: int = 3) -> ScopeRead:
    return scopes.create_scope(db, w.admin, ScopeCreate(
        entity_id=w.entity_id, facilities=facilities or [w.smelter, w.casthouse],
        activities=activities or ["smelting", "casthouse"], standard=standard,
        version=version))


def applicable(s: ScopeRead) -> list[str]:
    return [c.number for c in s.criteria if c.applicable]


def plan(db: Session, w: World, scope_id: uuid.UUID, *,
         audit_type: AuditType = AuditType.CERTIFICATION, start_on: date | None = None,
         days: int = 4, firm: str | None = None,
         lead: uuid.UUID | None = None) -> uuid.UUID:
    start = start_on or TODAY - timedelta(days=20)
    created = audits.plan_audit(db, w.admin, AuditCreate(
        scope_id=scope_id, audit_firm=firm or w.firm, lead_auditor_id=lead or w.lead_auditor_id,
        audit_type=audit_type, start_on=start, end_on=start + timedelta(days=days)))
    return created.id


def start(db: Session, w: World, audit_id: uuid.UUID, *, plan_on: date | None = None) -> None:
    """Send the plan (in time, by default 60 days before the start) and start the audit."""
    audit = audits.get_audit(db, w.admin, audit_id)
    audits.submit_plan(db, w.admin, audit_id, PlanSubmit(plan="Opening meeting, site tour, "
                                                              "interviews, closing meeting."),
                       today=plan_on or audit.start_on - timedelta(days=60))
    audits.start_audit(db, w.auditor, audit_id)


def ratings_for(s: ScopeRead, *, majors: int = 0, minors: int = 0,
                at: str | None = None) -> list[RatingWrite]:
    """Every (facility, applicable criterion) rated; the first ``majors`` criteria major
    and the next ``minors`` minor, at one facility only (``at``, default the first)."""
    numbers = applicable(s)
    bad = {n: Rating.MAJOR for n in numbers[:majors]}
    bad.update({n: Rating.MINOR for n in numbers[majors:majors + minors]})
    where = at or s.facilities[0].id
    items = []
    for f in s.facilities:
        for n in numbers:
            rating = bad.get(n, Rating.CONFORMANCE) if f.id == where else Rating.CONFORMANCE
            items.append(RatingWrite(
                facility=f.id, criterion=n, rating=rating,
                reason="" if rating is Rating.CONFORMANCE else f"gap found on {n}"))
    return items


def rate_all(db: Session, w: World, audit_id: uuid.UUID, s: ScopeRead, **kw: Any) -> None:
    audits.rate(db, w.auditor, audit_id, RatingBatch(ratings=ratings_for(s, **kw)))


def submit_and_review(db: Session, w: World, audit_id: uuid.UUID, *,
                      today: date | None = None) -> None:
    audits.submit_report(db, w.auditor, audit_id, ReportSubmit(
        proposed_maturity=Maturity.HIGH,
        public_summary="The audit covered both sites; see the findings by criterion."),
        today=today)
    decisions.review_report(db, w.secretariat, audit_id, Note(note="complete"))


def certify(db: Session, w: World, s: ScopeRead, *, majors: int = 0, minors: int = 0,
            audit_type: AuditType = AuditType.CERTIFICATION) -> DecisionRead:
    """A whole audit, from plan to decision, with dates in the recent past."""
    audit_id = plan(db, w, s.id, audit_type=audit_type)
    start(db, w, audit_id)
    rate_all(db, w, audit_id, s, majors=majors, minors=minors)
    submit_and_review(db, w, audit_id)
    return decisions.decide_audit(db, w.secretariat, audit_id, Note())
