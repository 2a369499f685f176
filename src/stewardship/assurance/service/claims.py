"""Claims: a certified member asks to make a claim (logo, certificate number, wording,
percentage); the secretariat approves or rejects it; approved claims are public."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.orm import Session

from stewardship.assurance import repository as repo
from stewardship.assurance.models import Certificate, Claim
from stewardship.assurance.rules import (
    CertificateStatus,
    ClaimKind,
    ClaimStatus,
    claim_refusal,
    is_current,
)
from stewardship.assurance.schemas import (
    ClaimCreate,
    ClaimPage,
    ClaimRead,
    Note,
    PublicClaimPage,
    PublicClaimRead,
    Reason,
)
from stewardship.assurance.service import certificates
from stewardship.assurance.service.common import (
    Labels,
    organization_for,
    own_organization,
    today_or,
)
from stewardship.core import eventlog
from stewardship.core.auth import MEMBER_ROLES, Actor, Role, require
from stewardship.core.db import utcnow
from stewardship.core.errors import Conflict, InvalidInput, NotFound
from stewardship.core.pagination import PageParams
from stewardship.registry import repository as registry_repo


def _reads(db: Session, claims: list[Claim]) -> list[ClaimRead]:
    certs = repo.certificates_by_ids(db, [c.certificate_id for c in claims]
                                     + [c.coc_certificate_id for c in claims
                                        if c.coc_certificate_id is not None])
    labels = Labels(db, organizations=[c.organization_id for c in claims])
    return [ClaimRead(
        id=c.id, organization=labels.organization(c.organization_id),
        certificate_number=certs[c.certificate_id].number,
        coc_certificate_number=certs[c.coc_certificate_id].number
        if c.coc_certificate_id else None,
        kind=ClaimKind(c.kind), uses_logo=c.uses_logo, wording=c.wording,
        percentage=c.percentage, status=c.status, decision_reason=c.decision_reason,
        decided_at=c.decided_at, created_at=c.created_at) for c in claims]


def _holdings(db: Session, certificate: Certificate,
              day: date) -> tuple[Certificate | None, Certificate | None]:
    """The entity's current Performance and Chain of Custody certificates."""
    perf = repo.current_certificates(db, on=day, kind="performance",
                                     entity_id=certificate.entity_id)
    coc = repo.current_certificates(db, on=day, kind="chain_of_custody",
                                    entity_id=certificate.entity_id)
    return (perf[0] if perf else None), (coc[0] if coc else None)


def _refusal(db: Session, certificate: Certificate, kind: ClaimKind,
             day: date) -> tuple[str | None, Certificate | None]:
    if not is_current(CertificateStatus(certificate.status), certificate.valid_from,
                      certificate.valid_until, day):
        return f"certificate {certificate.number} is not current", None
    perf, coc = _holdings(db, certificate, day)
    return claim_refusal(kind, perf is not None, coc is not None), coc


def request_claim(db: Session, actor: Actor | None, data: ClaimCreate, *,
                  today: date | None = None) -> ClaimRead:
    """Ask the secretariat to approve a claim on one of your current certificates. Every
    claim needs a current Performance certificate of the entity; an on-product claim also
    a current Chain of Custody certificate."""
    actor = require(actor, Role.MEMBER_ADMIN, action="request claims")
    day = today_or(today)
    org = own_organization(db, actor)
    try:
        certificate = certificates.load(db, data.certificate)
    except NotFound as exc:
        raise InvalidInput(exc.message, field="certificate") from exc
    if certificate.organization_id != org.id:
        raise InvalidInput(f"certificate {certificate.number} is not your organisation's",
                           field="certificate")
    refusal, coc = _refusal(db, certificate, data.kind, day)
    if refusal:
        raise Conflict(refusal, field="certificate" if "not current" in refusal else "kind")
    claim = Claim(organization_id=org.id, certificate_id=certificate.id,
                  coc_certificate_id=coc.id if coc and data.kind is ClaimKind.ON_PRODUCT
                  else None, kind=data.kind.value, uses_logo=data.uses_logo,
                  wording=data.wording, percentage=data.percentage,
                  status=ClaimStatus.REQUESTED.value, requested_by=actor.ref)
    db.add(claim)
    db.flush()
    eventlog.append(db, actor, "assurance.claim.requested", f"claim:{claim.id}", {
        "certificate": certificate.number, "kind": claim.kind, "uses_logo": claim.uses_logo,
        "percentage": claim.percentage})
    return _reads(db, [claim])[0]


def _requested(db: Session, claim_id: uuid.UUID) -> Claim:
    claim = repo.claim_by_id(db, claim_id)
    if claim is None:
        raise NotFound("no such claim", field="claim_id")
    if claim.status != ClaimStatus.REQUESTED:
        raise Conflict(f"the claim was {claim.status} already", field="status")
    return claim


def approve_claim(db: Session, actor: Actor | None, claim_id: uuid.UUID, data: Note, *,
                  today: date | None = None) -> ClaimRead:
    """Approve a requested claim; the certificates it needs must still be current."""
    actor = require(actor, Role.SECRETARIAT, action="approve claims")
    claim = _requested(db, claim_id)
    certificate = repo.certificate_by_id(db, claim.certificate_id)
    assert certificate is not None
    refusal, coc = _refusal(db, certificate, ClaimKind(claim.kind), today_or(today))
    if refusal:
        raise Conflict(f"the claim can no longer be approved: {refusal}", field="status")
    if claim.kind == ClaimKind.ON_PRODUCT and coc is not None:
        claim.coc_certificate_id = coc.id
    return _decide(db, actor, claim, ClaimStatus.APPROVED, data.note)


def reject_claim(db: Session, actor: Actor | None, claim_id: uuid.UUID,
                 data: Reason) -> ClaimRead:
    """Reject a requested claim, saying why."""
    actor = require(actor, Role.SECRETARIAT, action="reject claims")
    return _decide(db, actor, _requested(db, claim_id), ClaimStatus.REJECTED, data.reason)


def _decide(db: Session, actor: Actor, claim: Claim, status: ClaimStatus,
            reason: str) -> ClaimRead:
    claim.status = status.value
    claim.decision_reason = reason
    claim.decided_at = utcnow()
    claim.decided_by = actor.ref
    db.flush()
    eventlog.append(db, actor, f"assurance.claim.{status.value}", f"claim:{claim.id}",
                    {"reason": reason})
    return _reads(db, [claim])[0]


def get_claim(db: Session, actor: Actor | None, claim_id: uuid.UUID) -> ClaimRead:
    """One claim request: its organisation's members and the secretariat."""
    actor = require(actor, action="see claims")
    claim = repo.claim_by_id(db, claim_id)
    if claim is None or not (actor.is_secretariat() or actor.belongs_to(claim.organization_id)):
        raise NotFound("no such claim", field="claim_id")
    return _reads(db, [claim])[0]


def list_claim_requests(db: Session, actor: Actor | None, params: PageParams, *,
                        status: str | None = None,
                        organization: str | None = None) -> ClaimPage:
    """Claim requests with their decisions: the member's own; every one for the
    secretariat."""
    actor = require(actor, Role.SECRETARIAT, *MEMBER_ROLES, action="list claim requests")
    org_id = organization_for(db, actor, organization)
    page = repo.list_claims(db, params, status=status, organization_id=org_id)
    return ClaimPage(items=_reads(db, page.items), total=page.total, page=page.page,
                     per_page=page.per_page, pages=page.pages)


def list_public_claims(db: Session, params: PageParams, *, organization: str | None = None,
                       include_lapsed: bool = False,
                       today: date | None = None) -> PublicClaimPage:
    """Approved claims with their certificate; by default only those whose certificate is
    active today. Public."""
    day = today_or(today)
    org_id = None
    if organization:
        org = registry_repo.organization_by_slug(db, organization)
        if org is None:
            raise InvalidInput(f"no organisation '{organization}'", field="organization")
        org_id = org.id
    page = repo.list_claims(db, params, status=ClaimStatus.APPROVED.value,
                            organization_id=org_id,
                            certificate_active_on=None if include_lapsed else day)
    certs = repo.certificates_by_ids(db, [c.certificate_id for c in page.items])
    summaries = dict(zip(certs, certificates.summaries(db, list(certs.values()), day),
                         strict=True))
    labels = Labels(db, organizations=[c.organization_id for c in page.items])
    items = [PublicClaimRead(
        id=c.id, organization=labels.organization(c.organization_id), kind=ClaimKind(c.kind),
        uses_logo=c.uses_logo, wording=c.wording, percentage=c.percentage,
        decided_at=c.decided_at, certificate=summaries[c.certificate_id])
        for c in page.items]
    return PublicClaimPage(items=items, total=page.total, page=page.page,
                           per_page=page.per_page, pages=page.pages)
