"""Evidence files: checked by size and by what their bytes really are, stored once per
organisation by content hash, readable only by the owner, the secretariat and a firm that
audits the owner."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy.orm import Session

from stewardship.assurance import repository as repo
from stewardship.assurance.models import Evidence
from stewardship.assurance.rules import check_evidence
from stewardship.assurance.schemas import EvidencePage, EvidenceRead, EvidenceRef, EvidenceUploaded
from stewardship.assurance.service.common import (
    may_see,
    organization_for,
    own_organization,
)
from stewardship.core import eventlog
from stewardship.core.auth import MEMBER_ROLES, Actor, Role, require
from stewardship.core.errors import InvalidInput, NotFound, PayloadTooLarge
from stewardship.core.pagination import PageParams
from stewardship.registry.service import facilities as facility_service


def to_read(evidence: Evidence, org_slug: str) -> EvidenceRead:
    return EvidenceRead(id=evidence.id, organization=org_slug, filename=evidence.filename,
                        content_type=evidence.content_type, size=evidence.size,
                        sha256=evidence.sha256, effective_on=evidence.effective_on,
                        uploaded_at=evidence.uploaded_at)


def to_ref(evidence: Evidence) -> EvidenceRef:
    return EvidenceRef(id=evidence.id, filename=evidence.filename,
                       content_type=evidence.content_type, effective_on=evidence.effective_on)


def upload(db: Session, actor: Actor | None, *, filename: str, declared_type: str | None,
           data: bytes, effective_on: date, max_bytes: int,
           today: date | None = None) -> EvidenceUploaded:
    """Store an evidence file of the member's organisation. The declared type must be what
    the bytes are (PDF, PNG, JPEG, UTF-8 text or CSV); a file over the limit is refused
    with 413. The same content uploaded again returns the first upload's record."""
    actor = require(actor, *MEMBER_ROLES, action="upload evidence")
    org = own_organization(db, actor)
    verdict = check_evidence(filename, declared_type, data, max_bytes)
    if verdict.too_large:
        raise PayloadTooLarge(verdict.problem or "", field="file")
    if verdict.problem or verdict.content_type is None:
        raise InvalidInput(verdict.problem or "", field="file")
    # A day still to come at the member's main facility: the member's own calendar.
    if effective_on > (today or facility_service.today_where(db, org.id)):
        raise InvalidInput("the evidence cannot speak for a day still to come",
                           field="effective_on")
    digest = hashlib.sha256(data).hexdigest()
    existing = repo.evidence_by_hash(db, org.id, digest)
    if existing is not None:
        return EvidenceUploaded(**to_read(existing, org.slug).model_dump(), already_stored=True)
    evidence = Evidence(organization_id=org.id, sha256=digest, filename=verdict.filename,
                        content_type=verdict.content_type, size=len(data),
                        effective_on=effective_on, uploaded_by=actor.ref, data=data)
    db.add(evidence)
    db.flush()
    eventlog.append(db, actor, "assurance.evidence.uploaded", f"evidence:{evidence.id}", {
        "organization": org.slug, "sha256": digest, "filename": evidence.filename,
        "content_type": evidence.content_type, "size": evidence.size,
        "effective_on": effective_on})
    return EvidenceUploaded(**to_read(evidence, org.slug).model_dump(), already_stored=False)


def _load(db: Session, actor: Actor, evidence_id: uuid.UUID, *, with_data: bool) -> Evidence:
    evidence = repo.evidence_by_id(db, evidence_id, with_data=with_data)
    if evidence is None or not may_see(db, actor, evidence.organization_id):
        raise NotFound("no such evidence", field="evidence_id")
    return evidence


def _slug(db: Session, organization_id: uuid.UUID) -> str:
    return repo.organization_refs(db, [organization_id])[organization_id][0]


def get_evidence(db: Session, actor: Actor | None, evidence_id: uuid.UUID) -> EvidenceRead:
    actor = require(actor, action="see evidence")
    evidence = _load(db, actor, evidence_id, with_data=False)
    return to_read(evidence, _slug(db, evidence.organization_id))


def evidence_content(db: Session, actor: Actor | None,
                     evidence_id: uuid.UUID) -> tuple[EvidenceRead, bytes]:
    """The file itself, with its record."""
    actor = require(actor, action="download evidence")
    evidence = _load(db, actor, evidence_id, with_data=True)
    return to_read(evidence, _slug(db, evidence.organization_id)), evidence.data


def list_evidence(db: Session, actor: Actor | None, params: PageParams, *,
                  organization: str | None = None) -> EvidencePage:
    """The organisation's evidence files, newest first (its members; the secretariat names
    the organisation)."""
    actor = require(actor, Role.SECRETARIAT, *MEMBER_ROLES, action="list evidence")
    org_id = organization_for(db, actor, organization)
    if org_id is None:
        raise InvalidInput("name the organisation whose evidence to list",
                           field="organization")
    page = repo.list_evidence(db, params, org_id)
    slug = _slug(db, org_id)
    return EvidencePage(items=[to_read(e, slug) for e in page.items], total=page.total,
                        page=page.page, per_page=page.per_page, pages=page.pages)


def check_refs(db: Session, organization_id: uuid.UUID, ids: Sequence[uuid.UUID], *,
               field: str = "evidence_ids") -> dict[uuid.UUID, Evidence]:
    """The evidence named by ids, all of which must be the organisation's."""
    found = repo.evidence_of(db, organization_id, ids)
    unknown = [str(i) for i in ids if i not in found]
    if unknown:
        raise InvalidInput(f"no evidence {', '.join(unknown[:3])} of this organisation",
                           field=field)
    return found
