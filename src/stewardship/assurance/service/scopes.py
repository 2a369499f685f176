"""Certification scopes: what an entity asks to be certified, and its applicable criteria."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.orm import Session

from stewardship.assurance import repository as repo
from stewardship.assurance.models import CertificationScope, ScopeFacility, SelfAssessment
from stewardship.assurance.schemas import ScopeCreate, ScopePage, ScopeRead, ScopeSummary
from stewardship.assurance.service.common import (
    Labels,
    applicability,
    kind_of,
    load_scope,
    organization_for,
    own_organization,
    scope_applicability,
    scope_labels,
    slug_of,
    today_or,
    version_refusal,
)
from stewardship.core import eventlog, labels
from stewardship.core.auth import Actor, Role, require
from stewardship.core.errors import Conflict, InvalidInput, NotFound
from stewardship.core.pagination import PageParams
from stewardship.registry.models import Facility
from stewardship.registry.rules import MembershipClass
from stewardship.registry.service import facilities as registry_facilities
from stewardship.standards.service import library


def _summary(scope: CertificationScope, labels: Labels,
             assessment_id: uuid.UUID | None) -> ScopeSummary:
    return ScopeSummary(
        id=scope.id, name=scope.name, status=scope.status,
        organization=labels.organization(scope.organization_id),
        entity=labels.entity(scope.entity_id), standard=labels.standard(scope.version_id),
        member_class=scope.member_class, activities=list(scope.activities),
        facilities=[labels.facility(f.facility_id) for f in scope.facilities],
        self_assessment_id=assessment_id, created_at=scope.created_at)


def summaries(db: Session, scopes: list[CertificationScope]) -> list[ScopeSummary]:
    labels = scope_labels(db, scopes)
    latest = repo.latest_self_assessments(db, [s.id for s in scopes])
    return [_summary(s, labels, latest.get(s.id)) for s in scopes]


def to_read(db: Session, scope: CertificationScope) -> ScopeRead:
    summary = summaries(db, [scope])[0]
    applicable = scope_applicability(db, scope)
    return ScopeRead(**summary.model_dump(), applicable_count=len(applicable.numbers),
                     criteria=applicable.rows)


def _facilities(db: Session, actor: Actor, org_id: uuid.UUID, entity_id: uuid.UUID,
                raw_ids: list[str]) -> list[Facility]:
    found: dict[uuid.UUID, Facility] = {}
    for raw in raw_ids:
        try:
            facility, asked = registry_facilities.resolve(db, actor, raw)
        except (InvalidInput, NotFound) as exc:
            raise InvalidInput(exc.message, field="facilities") from exc
        if facility.organization_id != org_id:
            raise InvalidInput(f"facility {asked} is not one of your organisation's",
                               field="facilities")
        if asked != facility.public_id:
            raise InvalidInput(f"facility {asked} was merged into {facility.public_id}; name "
                               "that one", field="facilities")
        if facility.status != "active":
            raise InvalidInput(f"facility {asked} is not active", field="facilities")
        if facility.entity_id is not None and facility.entity_id != entity_id:
            raise InvalidInput(f"facility {asked} belongs to another entity",
                               field="facilities")
        found[facility.id] = facility
    return list(found.values())


def _check_activities(facilities: list[Facility], activities: list[str]) -> None:
    offered = {a for f in facilities for a in f.activities}
    missing = [a for a in activities if a not in offered]
    if missing:
        raise InvalidInput(f"no chosen facility carries out {', '.join(missing)}",
                           field="activities")
    idle = [f.public_id for f in facilities if not set(f.activities) & set(activities)]
    if idle:
        raise InvalidInput(f"facility {', '.join(idle)} carries out none of the scope's "
                           "activities", field="facilities")


def create_scope(db: Session, actor: Actor | None, data: ScopeCreate, *,
                 today: date | None = None) -> ScopeRead:
    """Define a certification scope for an entity of the member's own organisation; its
    self-assessment is opened with it."""
    actor = require(actor, Role.MEMBER_ADMIN, action="define certification scopes")
    day = today_or(today)
    org = own_organization(db, actor)
    member_class = MembershipClass(org.membership_class)
    if org.status != "member":
        raise Conflict(f"an organisation that is {labels.lower(org.status)} cannot define scopes",
                       field="organization")
    if not member_class.may_certify:
        raise Conflict(f"{member_class.label} members do not certify; only Production & "
                       "Transformation and Industrial Users members do",
                       field="membership_class")
    entity = next((e for e in org.entities if e.id == data.entity_id), None)
    if entity is None:
        raise InvalidInput("the entity is not one of your organisation's", field="entity_id")
    facilities = _facilities(db, actor, org.id, entity.id, data.facilities)
    activities = sorted({a.value for a in data.activities})
    _check_activities(facilities, activities)
    try:
        version = library.load_version(db, data.standard, data.version)
    except NotFound as exc:
        field = exc.details[0]["field"] if exc.details else "standard"
        raise InvalidInput(exc.message, field=field) from exc
    refusal = version_refusal(db, version, day)
    if refusal:
        raise InvalidInput(refusal, field="version")
    applicable = applicability(db, version, activities, member_class.value, entity.id)
    if not applicable.numbers:
        raise InvalidInput("no criterion of this version applies to these activities",
                           field="activities")
    scope = CertificationScope(
        organization_id=org.id, entity_id=entity.id, version_id=version.id,
        standard_kind=kind_of(db, version), member_class=member_class.value,
        activities=activities, status="active",
        name=data.name or f"{entity.name}: {version.title} v{version.version}")
    scope.facilities = [ScopeFacility(facility_id=f.id) for f in facilities]
    db.add(scope)
    db.flush()
    db.add(SelfAssessment(organization_id=org.id, scope_id=scope.id, version_id=version.id,
                          status="in_progress"))
    db.flush()
    eventlog.append(db, actor, "assurance.scope.created", f"scope:{scope.id}", {
        "organization": org.slug, "entity": str(entity.id), "standard": slug_of(db, version),
        "version": version.version, "activities": activities,
        "facilities": sorted(f.public_id for f in facilities),
        "applicable": len(applicable.numbers)})
    return ScopeRead(**summaries(db, [scope])[0].model_dump(),
                     applicable_count=len(applicable.numbers), criteria=applicable.rows)


def get_scope(db: Session, actor: Actor | None, scope_id: uuid.UUID) -> ScopeRead:
    """A scope with every criterion of its version and whether it applies."""
    actor = require(actor, action="see certification scopes")
    return to_read(db, load_scope(db, actor, scope_id))


def list_scopes(db: Session, actor: Actor | None, params: PageParams, *,
                organization: str | None = None,
                status: str | None = None) -> ScopePage:
    """The member's own scopes; the secretariat sees every member's (or one's)."""
    actor = require(actor, Role.SECRETARIAT, Role.MEMBER_ADMIN, Role.MEMBER_USER,
                    action="list certification scopes")
    org_id = organization_for(db, actor, organization)
    page = repo.list_scopes(db, params, organization_id=org_id, status=status)
    return ScopePage(items=summaries(db, page.items), total=page.total, page=page.page,
                     per_page=page.per_page, pages=page.pages)
