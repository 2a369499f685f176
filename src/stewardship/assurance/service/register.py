"""The public register beyond certificates: findings of decided audits, the public summary
of each decided audit, the counts the charts draw, and the certification the registry's
organisation, facility and member-register pages show (the registry reads it here, never
from assurance's tables). No account needed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select
from sqlalchemy.orm import Session

from stewardship.assurance import repository as repo
from stewardship.assurance.models import Finding
from stewardship.assurance.repository import FindingFilter
from stewardship.assurance.rules import (
    NON_CONFORMANCES,
    AuditStatus,
    AuditType,
    Maturity,
    Outcome,
    Rating,
)
from stewardship.assurance.schemas import (
    AuditSummary,
    CertificateSummary,
    CountRow,
    FindingQuery,
    FirmRef,
    NonconformityRow,
    PublicFindingPage,
    PublicFindingRead,
    RegisterStats,
    SummaryFinding,
)
from stewardship.assurance.service import certificates
from stewardship.assurance.service.common import Labels, today_or
from stewardship.core.errors import InvalidInput, NotFound
from stewardship.core.pagination import PageParams
from stewardship.registry.rules import Activity, country_name
from stewardship.standards.rules import StandardKind

EXPORT_LIMIT = 50_000


def build_filter(query: FindingQuery) -> FindingFilter:
    principle, criterion, rating = query.principle, query.criterion, query.rating
    year, kind = query.year, query.kind
    if kind is not None and kind not in {k.value for k in StandardKind}:
        raise InvalidInput("kind must be performance or chain_of_custody", field="kind")
    if rating is not None and rating not in {r.value for r in NON_CONFORMANCES}:
        raise InvalidInput("rating must be minor or major", field="rating")
    if criterion is not None and principle is not None \
            and not criterion.startswith(f"{principle}."):
        raise InvalidInput(f"criterion {criterion} is not under principle {principle}",
                           field="criterion")
    return FindingFilter(principle=principle, criterion=criterion, severity=rating,
                         year=year, kind=kind)


def _public_reads(db: Session, findings: list[Finding]) -> list[PublicFindingRead]:
    audits = repo.audits_by_ids(db, [f.audit_id for f in findings])
    scopes = repo.scopes_by_ids(db, [a.scope_id for a in audits.values()])
    labels = Labels(db, organizations=[f.organization_id for f in findings],
                    entities=[s.entity_id for s in scopes.values()],
                    versions=[s.version_id for s in scopes.values()])
    out = []
    for f in findings:
        audit = audits[f.audit_id]
        scope = scopes[audit.scope_id]
        out.append(PublicFindingRead(
            id=f.id, audit_id=f.audit_id, organization=labels.organization(f.organization_id),
            entity=labels.entity(scope.entity_id), standard=labels.standard(scope.version_id),
            criterion=f.criterion_number, principle=f.principle_number,
            severity=Rating(f.severity), status=f.status, audit_end_on=audit.end_on))
    return out


def list_findings(db: Session, params: PageParams,
                  query: FindingQuery | None = None) -> PublicFindingPage:
    """Non-conformities of decided audits, filtered by principle, criterion, rating, year
    and standard kind, with their counts by rating. Public."""
    f = build_filter(query or FindingQuery())
    page = repo.list_public_findings(db, params, f)
    counts = {r.value: 0 for r in (Rating.MAJOR, Rating.MINOR)}
    counts.update(repo.public_finding_counts(db, f))
    return PublicFindingPage(items=_public_reads(db, page.items), total=page.total,
                             page=page.page, per_page=page.per_page, pages=page.pages,
                             counts=counts)


EXPORT_HEADER = ["audit_id", "organization", "entity", "standard", "version", "criterion",
                 "principle", "rating", "status", "audit_end_on"]


def export_findings(db: Session, query: FindingQuery | None = None) -> list[list[str]]:
    """The filtered findings as table rows, header first. Public."""
    f = build_filter(query or FindingQuery())
    rows = [list(EXPORT_HEADER)]
    for r in _public_reads(db, repo.all_public_findings(db, f, EXPORT_LIMIT)):
        rows.append([str(r.audit_id), r.organization.name, r.entity.name, r.standard.slug,
                     str(r.standard.version), r.criterion, str(r.principle), r.severity.value,
                     r.status, r.audit_end_on.isoformat()])
    return rows


def audit_summary(db: Session, audit_id: uuid.UUID) -> AuditSummary:
    """The public summary of a decided audit: scope, firm, outcome, maturity, the findings
    by criterion and the auditor's public summary (no working notes, no evidence)."""
    audit = repo.audit_by_id(db, audit_id)
    if (audit is None or audit.status != AuditStatus.DECIDED or audit.decided_at is None
            or audit.outcome is None or audit.maturity is None):
        raise NotFound("no decided audit with this id", field="audit_id")
    scope = repo.scope_by_id(db, audit.scope_id)
    assert scope is not None
    labels = Labels(db, organizations=[audit.organization_id], entities=[scope.entity_id],
                    versions=[scope.version_id], firms=[audit.audit_firm_id],
                    facilities=[f.facility_id for f in scope.facilities])
    findings = [f for f in repo.findings_of(db, audit.id) if f.status != "withdrawn"]
    certificate = repo.certificates_of_audits(db, [audit.id]).get(audit.id)
    slug, name = labels.firm(audit.audit_firm_id)
    return AuditSummary(
        audit_id=audit.id, organization=labels.organization(audit.organization_id),
        entity=labels.entity(scope.entity_id), standard=labels.standard(scope.version_id),
        audit_type=AuditType(audit.audit_type), audit_firm=FirmRef(slug=slug, name=name),
        start_on=audit.start_on, end_on=audit.end_on, activities=list(scope.activities),
        facilities=[labels.facility(f.facility_id) for f in scope.facilities],
        outcome=Outcome(audit.outcome), maturity=Maturity(audit.maturity),
        decided_on=audit.decided_at.date(),
        majors=sum(1 for f in findings if f.severity == Rating.MAJOR),
        minors=sum(1 for f in findings if f.severity == Rating.MINOR),
        certificate_number=certificate.number if certificate else None,
        public_summary=audit.public_summary,
        findings=[SummaryFinding(criterion=f.criterion_number, principle=f.principle_number,
                                 severity=Rating(f.severity), status=f.status)
                  for f in findings])


def register_stats(db: Session, *, today: date | None = None) -> RegisterStats:
    """What the register's charts draw: current certificates by activity and by country,
    and non-conformities of decided audits by principle and year. Public."""
    day = today_or(today)
    labels = {a.value: a.label for a in Activity}
    by_activity = [CountRow(key=k, label=labels.get(k, k), count=n)
                   for k, n in repo.current_counts_by(db, "activity", day)]
    by_country = [CountRow(key=k, label=country_name(k), count=n)
                  for k, n in repo.current_counts_by(db, "country", day)]
    table: dict[tuple[int, int], list[int]] = {}
    for year, principle, severity, count in repo.nonconformities_by_principle_year(db):
        row = table.setdefault((year, principle), [0, 0])
        row[0 if severity == Rating.MAJOR else 1] += count
    return RegisterStats(
        as_of=day, certificates_by_activity=by_activity, certificates_by_country=by_country,
        nonconformities_by_principle=[
            NonconformityRow(year=y, principle=p, majors=m, minors=n)
            for (y, p), (m, n) in sorted(table.items())])


# --- certification on the registry's pages ------------------------------------------------

CERTIFICATION_CHOICES: tuple[tuple[str, str], ...] = (
    ("any", "Certified (any standard)"),
    ("performance", "Certified to the Performance Standard"),
    ("chain_of_custody", "Certified to the Chain of Custody Standard"),
    ("none", "Holds no current certificate"),
)
"""The member register's certification filter: value and label."""


@dataclass(frozen=True)
class CertificationMark:
    """One standard an organisation is certified to (or suspended from) today."""

    kind: str
    status: str


@dataclass(frozen=True)
class HolderFilter:
    """Organisations to keep (``holding``) or leave out: a sub-query of their ids, so the
    register filters in its own single, paginated query."""

    organization_ids: Select[tuple[uuid.UUID]]
    holding: bool


def certification_filter(value: str, *, today: date | None = None) -> HolderFilter | None:
    """The register's filter for ``value`` (one of CERTIFICATION_CHOICES; empty: none)."""
    if not value:
        return None
    if value not in {v for v, _ in CERTIFICATION_CHOICES}:
        raise InvalidInput(f"'{value}' is not a certification filter: choose any, "
                           "performance, chain_of_custody or none", field="certification")
    day = today_or(today)
    kind = value if value in {k.value for k in StandardKind} else None
    return HolderFilter(repo.current_holders(kind, day), holding=value != "none")


def certification_by_organization(db: Session, slugs: list[str], *,
                                  today: date | None = None) -> dict[str, list[CertificationMark]]:
    """For each organisation slug, the standards it holds an active or suspended
    certificate of today (Performance first); one query for a whole page. Public."""
    day = today_or(today)
    order = {k.value: i for i, k in enumerate(StandardKind)}
    out: dict[str, list[CertificationMark]] = {slug: [] for slug in slugs}
    for slug, kind, status in sorted(repo.live_kinds_by_slug(db, slugs, day),
                                     key=lambda r: (order.get(r[1], 9), r[2])):
        out.setdefault(slug, []).append(CertificationMark(kind=kind, status=status))
    return out


def live_certificates(db: Session, *, organization: str | None = None,
                      facility: str | None = None,
                      today: date | None = None) -> list[CertificateSummary]:
    """The certificates in force or suspended today of an organisation (by slug) or whose
    scope covers a facility (by public id): what its page lists. Public."""
    day = today_or(today)
    rows = repo.live_certificates_of(db, on=day, organization_slug=organization,
                                     facility_public_id=facility)
    return certificates.summaries(db, rows, day)


def performance_holders(db: Session, organization_ids: list[uuid.UUID], *,
                        today: date | None = None) -> set[uuid.UUID]:
    """Which of the organisations hold a current Performance Standard certificate (their
    good standing), in one query for a page of them."""
    return repo.organizations_holding(db, organization_ids, StandardKind.PERFORMANCE.value,
                                      today_or(today))
