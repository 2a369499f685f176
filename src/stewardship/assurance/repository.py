"""Every query of the assurance context.

Rows of the registry and standards contexts are only read here (names and labels for the
read models, the candidates for the good-standing check); they are written by their own
services.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session, defer, selectinload

from stewardship.assurance.models import (
    Audit,
    AuditRating,
    Certificate,
    CertificateActivity,
    CertificateCountry,
    CertificateEvent,
    CertificationScope,
    Claim,
    Evidence,
    Finding,
    ScopeFacility,
    SelfAssessment,
    SelfAssessmentAnswer,
)
from stewardship.core.pagination import Page, PageParams
from stewardship.registry.models import AuditFirm, Auditor, Entity, Facility, Organization
from stewardship.standards.models import Standard, StandardVersion

OPEN_AUDIT_STATUSES = ("planned", "in_progress", "submitted")
LIVE_FINDING_STATUSES = ("open", "plan_submitted", "closed")


def _page(db: Session, query: Select, params: PageParams) -> Page:  # type: ignore[type-arg]
    total = db.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = db.scalars(query.offset(params.offset).limit(params.per_page)).all()
    return Page(list(rows), total or 0, params.page, params.per_page)


# --- labels from the other contexts (read only) -----------------------------------------


@dataclass(frozen=True)
class VersionLabel:
    slug: str
    kind: str
    title: str
    version: int


def entity_names(db: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    return dict(db.execute(select(Entity.id, Entity.name).where(Entity.id.in_(set(ids)))).all())


def entity_named(db: Session, organization_id: uuid.UUID, name: str) -> Entity | None:
    """The organisation's entity of that name (case and surrounding blanks aside)."""
    return db.scalars(select(Entity).where(
        Entity.organization_id == organization_id,
        func.lower(Entity.name) == name.strip().lower()).order_by(Entity.created_at)
        .limit(1)).first()


def organization_refs(db: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, tuple[str, str]]:
    """id -> (slug, name)."""
    if not ids:
        return {}
    rows = db.execute(select(Organization.id, Organization.slug, Organization.name)
                      .where(Organization.id.in_(set(ids))))
    return {oid: (slug, name) for oid, slug, name in rows}


def version_labels(db: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, VersionLabel]:
    if not ids:
        return {}
    rows = db.execute(
        select(StandardVersion.id, Standard.slug, Standard.kind, StandardVersion.title,
               StandardVersion.version)
        .join(Standard, Standard.id == StandardVersion.standard_id)
        .where(StandardVersion.id.in_(set(ids))))
    return {vid: VersionLabel(slug, kind, title, number)
            for vid, slug, kind, title, number in rows}


def standard_of(db: Session, version: StandardVersion) -> Standard:
    """The standard a version belongs to (read without touching the version's lazy
    relationship, which another context's load may have reset)."""
    standard = db.get(Standard, version.standard_id)
    assert standard is not None
    return standard


def firm_refs(db: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, tuple[str, str]]:
    """audit firm id -> (slug, name)."""
    if not ids:
        return {}
    rows = db.execute(select(AuditFirm.id, AuditFirm.slug, AuditFirm.name)
                      .where(AuditFirm.id.in_(set(ids))))
    return {fid: (slug, name) for fid, slug, name in rows}


def auditors_by_ids(db: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Auditor]:
    if not ids:
        return {}
    return {a.id: a for a in db.scalars(select(Auditor).where(Auditor.id.in_(set(ids))))}


# --- scopes and self-assessments --------------------------------------------------------


def scope_by_id(db: Session, scope_id: uuid.UUID) -> CertificationScope | None:
    return db.get(CertificationScope, scope_id,
                  options=[selectinload(CertificationScope.facilities)])


def scopes_by_ids(db: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, CertificationScope]:
    if not ids:
        return {}
    rows = db.scalars(select(CertificationScope).where(CertificationScope.id.in_(set(ids)))
                      .options(selectinload(CertificationScope.facilities)))
    return {s.id: s for s in rows}


def list_scopes(db: Session, params: PageParams, *,
                organization_id: uuid.UUID | None = None,
                status: str | None = None) -> Page[CertificationScope]:
    query = select(CertificationScope).options(selectinload(CertificationScope.facilities))
    if organization_id is not None:
        query = query.where(CertificationScope.organization_id == organization_id)
    if status is not None:
        query = query.where(CertificationScope.status == status)
    return _page(db, query.order_by(CertificationScope.created_at.desc(),
                                    CertificationScope.id), params)


def self_assessment_by_id(db: Session, assessment_id: uuid.UUID) -> SelfAssessment | None:
    return db.get(SelfAssessment, assessment_id)


def latest_self_assessments(db: Session,
                            scope_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """scope id -> id of its newest self-assessment."""
    if not scope_ids:
        return {}
    rows = db.execute(select(SelfAssessment.scope_id, SelfAssessment.id)
                      .where(SelfAssessment.scope_id.in_(set(scope_ids)))
                      .order_by(SelfAssessment.created_at))
    return {scope_id: sa_id for scope_id, sa_id in rows}


def answers_of(db: Session, assessment_id: uuid.UUID) -> list[SelfAssessmentAnswer]:
    return list(db.scalars(select(SelfAssessmentAnswer)
                           .where(SelfAssessmentAnswer.assessment_id == assessment_id)))


def answer_of(db: Session, assessment_id: uuid.UUID, number: str) -> SelfAssessmentAnswer | None:
    return db.scalar(select(SelfAssessmentAnswer).where(
        SelfAssessmentAnswer.assessment_id == assessment_id,
        SelfAssessmentAnswer.criterion_number == number))


# --- evidence ---------------------------------------------------------------------------


def evidence_by_id(db: Session, evidence_id: uuid.UUID, *,
                   with_data: bool = False) -> Evidence | None:
    options = [] if with_data else [defer(Evidence.data)]
    return db.scalar(select(Evidence).where(Evidence.id == evidence_id).options(*options))


def evidence_by_hash(db: Session, organization_id: uuid.UUID, sha256: str) -> Evidence | None:
    return db.scalar(select(Evidence).options(defer(Evidence.data)).where(
        Evidence.organization_id == organization_id, Evidence.sha256 == sha256))


def evidence_of(db: Session, organization_id: uuid.UUID,
                ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Evidence]:
    if not ids:
        return {}
    rows = db.scalars(select(Evidence).options(defer(Evidence.data)).where(
        Evidence.organization_id == organization_id, Evidence.id.in_(set(ids))))
    return {e.id: e for e in rows}


def list_evidence(db: Session, params: PageParams,
                  organization_id: uuid.UUID) -> Page[Evidence]:
    query = (select(Evidence).options(defer(Evidence.data))
             .where(Evidence.organization_id == organization_id)
             .order_by(Evidence.uploaded_at.desc(), Evidence.id))
    return _page(db, query, params)


def count_evidence(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Evidence)) or 0


# --- audits, ratings, findings ----------------------------------------------------------


def audit_by_id(db: Session, audit_id: uuid.UUID) -> Audit | None:
    return db.get(Audit, audit_id)


def audits_by_ids(db: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Audit]:
    if not ids:
        return {}
    return {a.id: a for a in db.scalars(select(Audit).where(Audit.id.in_(set(ids))))}


def list_audits(db: Session, params: PageParams, *, organization_id: uuid.UUID | None = None,
                audit_firm_id: uuid.UUID | None = None, status: str | None = None,
                scope_id: uuid.UUID | None = None) -> Page[Audit]:
    query = select(Audit)
    if organization_id is not None:
        query = query.where(Audit.organization_id == organization_id)
    if audit_firm_id is not None:
        query = query.where(Audit.audit_firm_id == audit_firm_id)
    if status is not None:
        query = query.where(Audit.status == status)
    if scope_id is not None:
        query = query.where(Audit.scope_id == scope_id)
    return _page(db, query.order_by(Audit.start_on.desc(), Audit.id), params)


def open_audit_of_scope(db: Session, scope_id: uuid.UUID) -> Audit | None:
    return db.scalar(select(Audit).where(Audit.scope_id == scope_id,
                                         Audit.status.in_(OPEN_AUDIT_STATUSES)).limit(1))


def firm_audits_organization(db: Session, audit_firm_id: uuid.UUID,
                             organization_id: uuid.UUID) -> bool:
    """Whether the firm has a live or decided audit of the organisation."""
    return db.scalar(select(exists().where(
        Audit.audit_firm_id == audit_firm_id, Audit.organization_id == organization_id,
        Audit.status != "cancelled"))) or False


def firm_audits_scope(db: Session, audit_firm_id: uuid.UUID, scope_id: uuid.UUID) -> bool:
    return db.scalar(select(exists().where(
        Audit.audit_firm_id == audit_firm_id, Audit.scope_id == scope_id,
        Audit.status != "cancelled"))) or False


def ratings_of(db: Session, audit_id: uuid.UUID) -> list[AuditRating]:
    return list(db.scalars(select(AuditRating).where(AuditRating.audit_id == audit_id)))


def findings_of(db: Session, audit_id: uuid.UUID) -> list[Finding]:
    return list(db.scalars(select(Finding).where(Finding.audit_id == audit_id)
                           .order_by(Finding.principle_number, Finding.criterion_number)))


def finding_by_id(db: Session, finding_id: uuid.UUID) -> Finding | None:
    return db.get(Finding, finding_id)


def open_findings(db: Session, organization_id: uuid.UUID | None) -> list[Finding]:
    """Findings not yet closed, of audits that were not cancelled."""
    query = (select(Finding).join(Audit, Audit.id == Finding.audit_id)
             .where(Finding.status.in_(("open", "plan_submitted")),
                    Audit.status != "cancelled"))
    if organization_id is not None:
        query = query.where(Finding.organization_id == organization_id)
    return list(db.scalars(query.order_by(Finding.closure_due_on)))


def planned_audits(db: Session, organization_id: uuid.UUID | None) -> list[Audit]:
    query = select(Audit).where(Audit.status == "planned")
    if organization_id is not None:
        query = query.where(Audit.organization_id == organization_id)
    return list(db.scalars(query.order_by(Audit.start_on)))


def open_audits_of(db: Session, organization_id: uuid.UUID) -> list[Audit]:
    """The organisation's audits not yet decided or cancelled, soonest start first."""
    return list(db.scalars(select(Audit).where(Audit.organization_id == organization_id,
                                               Audit.status.in_(OPEN_AUDIT_STATUSES))
                           .order_by(Audit.start_on, Audit.id)))


def answered_criteria(db: Session,
                      assessment_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, set[str]]:
    """The criterion numbers each self-assessment has an answer for."""
    if not assessment_ids:
        return {}
    rows = db.execute(select(SelfAssessmentAnswer.assessment_id,
                             SelfAssessmentAnswer.criterion_number)
                      .where(SelfAssessmentAnswer.assessment_id.in_(set(assessment_ids))))
    out: dict[uuid.UUID, set[str]] = {}
    for assessment_id, number in rows:
        out.setdefault(assessment_id, set()).add(number)
    return out


# --- certificates -----------------------------------------------------------------------

_CERT_LOAD = (selectinload(Certificate.activity_rows), selectinload(Certificate.country_rows))


def effective_status_is(status: str, today: date) -> ColumnElement[bool]:
    """The SQL condition for a certificate's status as the register shows it on ``today``
    (active and suspended certificates past their end are expired)."""
    live = Certificate.status.in_(("active", "suspended"))
    if status == "expired":
        return or_(Certificate.status == "expired",
                   and_(live, Certificate.valid_until < today))
    if status in ("active", "suspended"):
        return and_(Certificate.status == status, Certificate.valid_until >= today)
    return Certificate.status == status


def certificate_by_number(db: Session, number: str) -> Certificate | None:
    return db.scalar(select(Certificate).where(Certificate.number == number)
                     .options(*_CERT_LOAD))


@dataclass(frozen=True)
class CertificateHistory:
    """A certificate's dates and status with its status history (at, from, to), oldest
    first: what judging its validity on a day needs, without the certificate's object."""

    number: str
    standard_kind: str
    status: str
    valid_from: date
    valid_until: date
    events: tuple[tuple[datetime, str | None, str], ...]


def certificate_histories(db: Session, numbers: Sequence[str]) -> dict[str, CertificateHistory]:
    """Each named certificate (number -> history) in one lean query: the certificates
    joined to their status events, no eager loads."""
    if not numbers:
        return {}
    rows = db.execute(
        select(Certificate.number, Certificate.standard_kind, Certificate.status,
               Certificate.valid_from, Certificate.valid_until, CertificateEvent.at,
               CertificateEvent.from_status, CertificateEvent.to_status)
        .outerjoin(CertificateEvent, CertificateEvent.certificate_id == Certificate.id)
        .where(Certificate.number.in_(set(numbers)))
        .order_by(Certificate.number, CertificateEvent.at, CertificateEvent.id))
    found: dict[str, tuple[Any, list[tuple[datetime, str | None, str]]]] = {}
    for number, kind, status, start, until, at, from_status, to_status in rows:
        _, events = found.setdefault(number, ((number, kind, status, start, until), []))
        if at is not None:
            events.append((at, from_status, to_status))
    return {n: CertificateHistory(*head, events=tuple(events))
            for n, (head, events) in found.items()}


def certificate_by_id(db: Session, certificate_id: uuid.UUID) -> Certificate | None:
    return db.get(Certificate, certificate_id, options=list(_CERT_LOAD))


def certificates_by_ids(db: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Certificate]:
    if not ids:
        return {}
    rows = db.scalars(select(Certificate).where(Certificate.id.in_(set(ids)))
                      .options(*_CERT_LOAD))
    return {c.id: c for c in rows}


def certificate_numbers(db: Session, prefix: str) -> list[str]:
    return list(db.scalars(select(Certificate.number).where(
        Certificate.number.startswith(prefix, autoescape=True))))


def current_certificates(db: Session, *, on: date, kind: str | None = None,
                         entity_id: uuid.UUID | None = None,
                         organization_id: uuid.UUID | None = None,
                         scope_id: uuid.UUID | None = None) -> list[Certificate]:
    """Active certificates valid on the day (rules.is_current), newest first."""
    query = select(Certificate).where(Certificate.status == "active",
                                      Certificate.valid_from <= on, Certificate.valid_until >= on)
    if kind is not None:
        query = query.where(Certificate.standard_kind == kind)
    if entity_id is not None:
        query = query.where(Certificate.entity_id == entity_id)
    if organization_id is not None:
        query = query.where(Certificate.organization_id == organization_id)
    if scope_id is not None:
        query = query.where(Certificate.scope_id == scope_id)
    return list(db.scalars(query.options(*_CERT_LOAD)
                           .order_by(Certificate.valid_from.desc(), Certificate.number)))


def current_numbers(db: Session, entity_ids: Sequence[uuid.UUID], on: date) -> dict[
        tuple[uuid.UUID, str], str]:
    """(entity, standard kind) -> the number of the newest certificate current on the day,
    for several entities in one lean query (no eager loads): what custody checks on every
    shipment."""
    # A superseded certificate still counts for the days before it was replaced.
    replaced_later = exists().where(
        CertificateEvent.certificate_id == Certificate.id,
        CertificateEvent.to_status == "superseded",
        CertificateEvent.at >= datetime.combine(on + timedelta(days=1), time(), UTC))
    rows = db.execute(select(Certificate.entity_id, Certificate.standard_kind,
                             Certificate.number)
                      .where(Certificate.entity_id.in_(set(entity_ids)),
                             or_(Certificate.status == "active",
                                 and_(Certificate.status == "superseded", replaced_later)),
                             Certificate.valid_from <= on, Certificate.valid_until >= on)
                      .order_by(Certificate.valid_from.desc(), Certificate.number))
    out: dict[tuple[uuid.UUID, str], str] = {}
    for entity_id, kind, number in rows:
        out.setdefault((entity_id, kind), number)
    return out


def live_certificates(db: Session, *, scope_ids: Sequence[uuid.UUID]) -> list[Certificate]:
    """Active or suspended certificates of the scopes (expired by date included: the
    caller decides), oldest first."""
    if not scope_ids:
        return []
    return list(db.scalars(select(Certificate).where(
        Certificate.scope_id.in_(set(scope_ids)),
        Certificate.status.in_(("active", "suspended"))).options(*_CERT_LOAD)
        .order_by(Certificate.valid_from, Certificate.number)))


def certificates_covering(db: Session, entity_id: uuid.UUID, kind: str,
                          on: date) -> list[Certificate]:
    """The entity's certificates of the kind whose validity covers the day, in any status,
    newest first."""
    return list(db.scalars(select(Certificate).where(
        Certificate.entity_id == entity_id, Certificate.standard_kind == kind,
        Certificate.valid_from <= on, Certificate.valid_until >= on)
        .order_by(Certificate.valid_from.desc(), Certificate.number.desc())))


def next_certificate_from(db: Session, entity_id: uuid.UUID, kind: str,
                          on: date) -> Certificate | None:
    """The entity's first certificate of the kind valid only after the day (not withdrawn
    or superseded)."""
    return db.scalars(select(Certificate).where(
        Certificate.entity_id == entity_id, Certificate.standard_kind == kind,
        Certificate.valid_from > on, Certificate.status.in_(("active", "suspended")))
        .order_by(Certificate.valid_from, Certificate.number).limit(1)).first()


def scope_lineage(db: Session, scope_id: uuid.UUID) -> list[uuid.UUID]:
    """The scope and every scope it was moved from to a newer version, newest first: one
    unit of certification across standard versions."""
    out = [scope_id]
    while True:
        moved_from = db.scalars(select(SelfAssessment.moved_from_id).where(
            SelfAssessment.scope_id == out[-1],
            SelfAssessment.moved_from_id.is_not(None)).limit(1)).first()
        previous = None if moved_from is None else db.scalar(
            select(SelfAssessment.scope_id).where(SelfAssessment.id == moved_from))
        if previous is None or previous in out:
            return out
        out.append(previous)


def holds_current_certificate(db: Session, organization_id: uuid.UUID, kind: str,
                              on: date) -> bool:
    return db.scalar(select(exists().where(
        Certificate.organization_id == organization_id, Certificate.standard_kind == kind,
        Certificate.status == "active", Certificate.valid_from <= on,
        Certificate.valid_until >= on))) or False


def holds_live_certificate(db: Session, organization_id: uuid.UUID, on: date) -> bool:
    """Whether any certificate of the organisation is still in force or only suspended
    (not withdrawn, not expired): one that carries the member's name to buyers."""
    return db.scalar(select(exists().where(
        Certificate.organization_id == organization_id,
        Certificate.status.in_(("active", "suspended")), Certificate.valid_until >= on))) \
        or False


# --- certification as the registry's pages show it ----------------------------------------

_LIVE = ("active", "suspended")


def live_certificates_of(db: Session, *, on: date, organization_slug: str | None = None,
                         facility_public_id: str | None = None) -> list[Certificate]:
    """Active or suspended certificates still in date on the day, of an organisation or
    whose scope covers a facility; by standard kind, newest first."""
    query = select(Certificate).where(Certificate.status.in_(_LIVE),
                                      Certificate.valid_until >= on)
    if organization_slug is not None:
        query = query.join(Organization, Organization.id == Certificate.organization_id) \
            .where(Organization.slug == organization_slug)
    if facility_public_id is not None:
        query = query.where(exists().where(
            ScopeFacility.scope_id == Certificate.scope_id,
            ScopeFacility.facility_id == Facility.id, Facility.public_id == facility_public_id))
    return list(db.scalars(query.options(*_CERT_LOAD).order_by(
        Certificate.standard_kind, Certificate.valid_from.desc(), Certificate.number)))


def live_kinds_by_slug(db: Session, slugs: Sequence[str],
                       on: date) -> list[tuple[str, str, str]]:
    """(organisation slug, standard kind, status) of the organisations' certificates that
    are active or suspended on the day, distinct: one query for a page of the register."""
    if not slugs:
        return []
    return [(slug, kind, status) for slug, kind, status in db.execute(
        select(Organization.slug, Certificate.standard_kind, Certificate.status)
        .join(Organization, Organization.id == Certificate.organization_id)
        .where(Organization.slug.in_(set(slugs)), Certificate.status.in_(_LIVE),
               Certificate.valid_from <= on, Certificate.valid_until >= on)
        .distinct())]


def current_holders(kind: str | None, on: date) -> Select[tuple[uuid.UUID]]:
    """The ids of organisations holding a certificate current on the day (of the kind, or
    of any): a sub-query another context's list can filter by, in its own single query."""
    query = select(Certificate.organization_id).where(
        Certificate.status == "active", Certificate.valid_from <= on,
        Certificate.valid_until >= on)
    if kind is not None:
        query = query.where(Certificate.standard_kind == kind)
    return query


@dataclass(frozen=True)
class CertificateFilter:
    kind: str | None = None
    version_id: uuid.UUID | None = None
    standard_id: uuid.UUID | None = None
    activity: str | None = None
    country: str | None = None
    status: str | None = None
    organization_id: uuid.UUID | None = None
    entity_id: uuid.UUID | None = None
    q: str | None = None


def _certificate_query(f: CertificateFilter, today: date) -> Select:  # type: ignore[type-arg]
    query = select(Certificate)
    if f.kind:
        query = query.where(Certificate.standard_kind == f.kind)
    if f.version_id:
        query = query.where(Certificate.version_id == f.version_id)
    if f.standard_id:
        query = query.where(Certificate.version_id.in_(
            select(StandardVersion.id).where(StandardVersion.standard_id == f.standard_id)))
    if f.activity:
        query = query.where(exists().where(CertificateActivity.certificate_id == Certificate.id,
                                           CertificateActivity.activity == f.activity))
    if f.country:
        query = query.where(exists().where(CertificateCountry.certificate_id == Certificate.id,
                                           CertificateCountry.country == f.country))
    if f.status:
        query = query.where(effective_status_is(f.status, today))
    if f.organization_id:
        query = query.where(Certificate.organization_id == f.organization_id)
    if f.entity_id:
        query = query.where(Certificate.entity_id == f.entity_id)
    if f.q:
        escaped = f.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        query = query.where(or_(
            func.lower(Certificate.number).like(pattern, escape="\\"),
            Certificate.entity_id.in_(select(Entity.id).where(
                func.lower(Entity.name).like(pattern, escape="\\")))))
    return query


def list_certificates(db: Session, params: PageParams, f: CertificateFilter,
                      today: date) -> Page[Certificate]:
    query = _certificate_query(f, today).options(*_CERT_LOAD).order_by(
        Certificate.valid_from.desc(), Certificate.number.desc())
    return _page(db, query, params)


def all_certificates(db: Session, f: CertificateFilter, today: date,
                     limit: int) -> list[Certificate]:
    query = _certificate_query(f, today).options(*_CERT_LOAD).order_by(
        Certificate.valid_from.desc(), Certificate.number.desc()).limit(limit)
    return list(db.scalars(query))


def certificate_events(db: Session, certificate_id: uuid.UUID) -> list[CertificateEvent]:
    return list(db.scalars(select(CertificateEvent)
                           .where(CertificateEvent.certificate_id == certificate_id)
                           .order_by(CertificateEvent.at, CertificateEvent.id)))


def live_certificates_for_dues(db: Session,
                               organization_id: uuid.UUID | None) -> list[Certificate]:
    """Active and suspended certificates (expired by date included: their
    re-certification is overdue)."""
    query = select(Certificate).where(Certificate.status.in_(("active", "suspended")))
    if organization_id is not None:
        query = query.where(Certificate.organization_id == organization_id)
    return list(db.scalars(query.options(*_CERT_LOAD).order_by(Certificate.valid_until)))


def certificates_of_audits(db: Session,
                           audit_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Certificate]:
    if not audit_ids:
        return {}
    rows = db.scalars(select(Certificate).where(Certificate.audit_id.in_(set(audit_ids)))
                      .options(*_CERT_LOAD))
    return {c.audit_id: c for c in rows if c.audit_id is not None}


# --- the public register ----------------------------------------------------------------


@dataclass(frozen=True)
class FindingFilter:
    principle: int | None = None
    criterion: str | None = None
    severity: str | None = None
    year: int | None = None
    kind: str | None = None


def _public_findings(f: FindingFilter) -> Select:  # type: ignore[type-arg]
    query = (select(Finding).join(Audit, Audit.id == Finding.audit_id)
             .where(Audit.status == "decided", Finding.status.in_(LIVE_FINDING_STATUSES)))
    if f.principle is not None:
        query = query.where(Finding.principle_number == f.principle)
    if f.criterion:
        query = query.where(Finding.criterion_number == f.criterion)
    if f.severity:
        query = query.where(Finding.severity == f.severity)
    if f.year is not None:
        query = query.where(Audit.end_on >= date(f.year, 1, 1),
                            Audit.end_on <= date(f.year, 12, 31))
    if f.kind:
        query = query.where(Audit.scope_id.in_(select(CertificationScope.id).where(
            CertificationScope.standard_kind == f.kind)))
    return query


def list_public_findings(db: Session, params: PageParams, f: FindingFilter) -> Page[Finding]:
    query = _public_findings(f).order_by(Audit.end_on.desc(), Finding.principle_number,
                                         Finding.criterion_number, Finding.id)
    return _page(db, query, params)


def all_public_findings(db: Session, f: FindingFilter, limit: int) -> list[Finding]:
    query = _public_findings(f).order_by(Audit.end_on.desc(), Finding.principle_number,
                                         Finding.criterion_number, Finding.id).limit(limit)
    return list(db.scalars(query))


def public_finding_counts(db: Session, f: FindingFilter) -> dict[str, int]:
    sub = _public_findings(f).subquery()
    rows = db.execute(select(sub.c.severity, func.count()).group_by(sub.c.severity))
    return {severity: count for severity, count in rows}


def nonconformities_by_principle_year(db: Session) -> list[tuple[int, int, str, int]]:
    """(year of the audit's end, principle, severity, count) over decided audits."""
    sub = (select(Audit.end_on.label("end_on"), Finding.principle_number.label("principle"),
                  Finding.severity.label("severity"))
           .join(Audit, Audit.id == Finding.audit_id)
           .where(Audit.status == "decided", Finding.status.in_(LIVE_FINDING_STATUSES))
           ).subquery()
    rows = db.execute(select(sub.c.end_on, sub.c.principle, sub.c.severity))
    counts: dict[tuple[int, int, str], int] = {}
    for end_on, principle, severity in rows:
        key = (end_on.year, principle, severity)
        counts[key] = counts.get(key, 0) + 1
    return sorted((y, p, s, n) for (y, p, s), n in counts.items())


def current_counts_by(db: Session, facet: str, today: date) -> list[tuple[str, int]]:
    """Current (active, in date) certificates per activity or per country."""
    if facet == "activity":
        column, table = CertificateActivity.activity, CertificateActivity
    else:
        column, table = CertificateCountry.country, CertificateCountry  # type: ignore[assignment]
    rows = db.execute(
        select(column, func.count()).select_from(table)
        .join(Certificate, Certificate.id == table.certificate_id)
        .where(effective_status_is("active", today))
        .group_by(column).order_by(func.count().desc(), column))
    return [(key, count) for key, count in rows]


def decided_audit_ids(db: Session, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    if not ids:
        return set()
    return set(db.scalars(select(Audit.id).where(Audit.id.in_(set(ids)),
                                                 Audit.status == "decided")))


# --- claims -----------------------------------------------------------------------------


def claim_by_id(db: Session, claim_id: uuid.UUID) -> Claim | None:
    return db.get(Claim, claim_id)


def list_claims(db: Session, params: PageParams, *, status: str | None = None,
                organization_id: uuid.UUID | None = None,
                certificate_active_on: date | None = None) -> Page[Claim]:
    query = select(Claim)
    if status is not None:
        query = query.where(Claim.status == status)
    if organization_id is not None:
        query = query.where(Claim.organization_id == organization_id)
    if certificate_active_on is not None:
        query = query.where(Claim.certificate_id.in_(select(Certificate.id).where(
            effective_status_is("active", certificate_active_on))))
    return _page(db, query.order_by(Claim.created_at.desc(), Claim.id), params)


# --- good standing ----------------------------------------------------------------------


def certifying_members_joined_before(db: Session, classes: Sequence[str],
                                     joined_before: date) -> list[Organization]:
    """Members of the certifying classes that joined before the day (the caller applies
    the exact deadline and the certificate check)."""
    return list(db.scalars(
        select(Organization).where(
            Organization.status == "member", Organization.membership_class.in_(classes),
            Organization.joined_on.is_not(None), Organization.joined_on < joined_before)
        .order_by(Organization.joined_on, Organization.name)))


def organizations_holding(db: Session, ids: Sequence[uuid.UUID], kind: str,
                          on: date) -> set[uuid.UUID]:
    if not ids:
        return set()
    return set(db.scalars(select(Certificate.organization_id).where(
        Certificate.organization_id.in_(set(ids)), Certificate.standard_kind == kind,
        Certificate.status == "active", Certificate.valid_from <= on,
        Certificate.valid_until >= on)))


# --- the integrity check: plain stored rows, never objects cached in the session ---------


def certificate_rows(db: Session) -> list[Any]:
    return list(db.execute(select(Certificate.__table__).order_by(Certificate.number)))


def certificate_coverage(db: Session) -> dict[uuid.UUID, tuple[list[str], list[str]]]:
    """Each certificate's activities and countries, sorted."""
    out: dict[uuid.UUID, tuple[list[str], list[str]]] = {}
    for cid, activity in db.execute(select(CertificateActivity.certificate_id,
                                           CertificateActivity.activity)
                                    .order_by(CertificateActivity.activity)):
        out.setdefault(cid, ([], []))[0].append(activity)
    for cid, country in db.execute(select(CertificateCountry.certificate_id,
                                          CertificateCountry.country)
                                   .order_by(CertificateCountry.country)):
        out.setdefault(cid, ([], []))[1].append(country)
    return out


def certificate_event_rows(db: Session) -> list[Any]:
    table = CertificateEvent.__table__
    return list(db.execute(select(table).order_by(table.c.at, table.c.id)))


def audit_rows(db: Session) -> list[Any]:
    table = Audit.__table__
    return list(db.execute(select(table.c.id, table.c.status, table.c.scope_id,
                                  table.c.audit_type, table.c.proposed_maturity,
                                  table.c.submitted_at, table.c.reviewed_at,
                                  table.c.reviewed_by, table.c.outcome, table.c.maturity,
                                  table.c.decided_at, table.c.decided_by,
                                  table.c.decision_note).order_by(table.c.id)))
