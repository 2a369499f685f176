"""What the auditor rates with: beside each applicable criterion, the requirement's text
(from the standard) and the member's own self-assessment answer; and "mark the rest
conformant", which rates every still unrated applicable criterion at every facility as a
conformance through the same ``audits.rate`` as any rating (same checks, same event log).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from stewardship.assurance import repository as repo
from stewardship.assurance.rules import AuditStatus, Rating
from stewardship.assurance.schemas import RatingBatch, RatingsRead, RatingWrite
from stewardship.assurance.service import audits
from stewardship.assurance.service.common import load_audit, scope_applicability, version_row
from stewardship.core.auth import Actor, Role, require
from stewardship.core.errors import Conflict, InvalidInput
from stewardship.registry import repository as registry_repo
from stewardship.standards.service import library

BATCH = 2000
"""Ratings sent to ``audits.rate`` at once (RatingBatch's limit)."""


@dataclass(frozen=True)
class CriterionAid:
    """One applicable criterion as the rating page shows it."""

    number: str
    title: str
    requirement: str
    self_rating: str | None
    """The member's self-rating (conformance, minor, major, not_applicable), or None."""
    self_narrative: str


@dataclass(frozen=True)
class UnratedPair:
    facility: str
    """The facility's public id."""
    facility_name: str
    criterion: str
    title: str


def criterion_aids(db: Session, actor: Actor | None,
                   audit_id: uuid.UUID) -> dict[str, CriterionAid]:
    """criterion number -> its requirement and the member's self-assessment answer, for
    every criterion applicable to the audit's scope. The audit's firm, the member and the
    secretariat may read it (who may see the audit)."""
    actor = require(actor, action="see audit ratings")
    audit = load_audit(db, actor, audit_id)
    scope = repo.scope_by_id(db, audit.scope_id)
    assert scope is not None
    package = library.to_package(version_row(db, scope.version_id))
    requirements = {c.number: c.requirement for c in package.criteria()}
    assessment_id = repo.latest_self_assessments(db, [scope.id]).get(scope.id)
    answers = {a.criterion_number: a for a in repo.answers_of(db, assessment_id)} \
        if assessment_id is not None else {}
    out: dict[str, CriterionAid] = {}
    for row in scope_applicability(db, scope).rows:
        if not row.applicable:
            continue
        answer = answers.get(row.number)
        out[row.number] = CriterionAid(
            number=row.number, title=row.title, requirement=requirements.get(row.number, ""),
            self_rating=answer.rating if answer else None,
            self_narrative=answer.narrative if answer else "")
    return out


def unrated(db: Session, actor: Actor | None, audit_id: uuid.UUID) -> list[UnratedPair]:
    """Every (facility, applicable criterion) of the audit not rated yet, facility by
    facility in the standard's order: what "mark the rest conformant" would rate."""
    actor = require(actor, action="see audit ratings")
    audit = load_audit(db, actor, audit_id)
    scope = repo.scope_by_id(db, audit.scope_id)
    assert scope is not None
    facilities = registry_repo.facilities_by_ids(db, [f.facility_id for f in scope.facilities])
    rated = {(r.facility_id, r.criterion_number) for r in repo.ratings_of(db, audit.id)}
    rows = [r for r in scope_applicability(db, scope).rows if r.applicable]
    out = []
    for facility in sorted(facilities.values(), key=lambda f: (f.name, f.public_id)):
        for row in rows:
            if (facility.id, row.number) not in rated:
                out.append(UnratedPair(facility=facility.public_id, facility_name=facility.name,
                                       criterion=row.number, title=row.title))
    return out


def rate_rest_conformant(db: Session, actor: Actor | None, audit_id: uuid.UUID, *,
                         confirmed: bool, today: date | None = None) -> tuple[int, RatingsRead]:
    """Rate every still unrated applicable criterion at every facility as a conformance,
    once the auditor has confirmed it; ratings already given stay as they are. Returns how
    many were rated and the audit's ratings after."""
    actor = require(actor, Role.AUDITOR, action="rate criteria")
    if not confirmed:
        raise InvalidInput("tick the box to confirm that every criterion still unrated "
                           "conforms at every facility", field="confirm")
    audit = load_audit(db, actor, audit_id)
    if audit.status != AuditStatus.IN_PROGRESS:
        raise Conflict(f"the audit is {audit.status}; ratings change only while it is in "
                       "progress", field="confirm")
    rest = unrated(db, actor, audit_id)
    if not rest:
        raise Conflict("every applicable criterion is rated already at every facility",
                       field="confirm")
    writes = [RatingWrite(facility=p.facility, criterion=p.criterion,
                          rating=Rating.CONFORMANCE, reason="",
                          notes="Marked conformant with the rest of the unrated criteria.")
              for p in rest]
    result: RatingsRead | None = None
    for start in range(0, len(writes), BATCH):
        result = audits.rate(db, actor, audit_id,
                             RatingBatch(ratings=writes[start:start + BATCH]), today=today)
    assert result is not None
    return len(writes), result
