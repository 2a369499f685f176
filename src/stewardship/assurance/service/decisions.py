"""The secretariat's review of an audit report and the certification decision."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.orm import Session

from stewardship.assurance import repository as repo
from stewardship.assurance.models import Audit
from stewardship.assurance.rules import (
    DEFAULT_POLICY,
    AuditStatus,
    AuditType,
    CertificateStatus,
    Maturity,
    Outcome,
    Rating,
    decide,
    effective_status,
    missing_ratings,
    scope_ratings,
)
from stewardship.assurance.schemas import AuditRead, DecisionRead, Note, Reason
from stewardship.assurance.service import audits, certificates
from stewardship.assurance.service.common import load_audit, scope_applicability, today_or
from stewardship.core import eventlog
from stewardship.core.auth import Actor, Role, require
from stewardship.core.db import utcnow
from stewardship.core.errors import Conflict


def _submitted(db: Session, actor: Actor, audit_id: uuid.UUID) -> Audit:
    audit = load_audit(db, actor, audit_id)
    if audit.status != AuditStatus.SUBMITTED:
        raise Conflict(f"the audit is {audit.status}; only a submitted report is reviewed "
                       "and decided", field="status")
    return audit


def review_report(db: Session, actor: Actor | None, audit_id: uuid.UUID,
                  data: Note) -> AuditRead:
    """Record that the secretariat reviewed the submitted report (a decision needs it)."""
    actor = require(actor, Role.SECRETARIAT, action="review audit reports")
    audit = _submitted(db, actor, audit_id)
    if audit.reviewed_at is not None:
        raise Conflict(f"the report was reviewed on {audit.reviewed_at:%Y-%m-%d} already",
                       field="reviewed_at")
    audit.reviewed_at = utcnow()
    audit.reviewed_by = actor.ref
    db.flush()
    eventlog.append(db, actor, "assurance.audit.reviewed", f"audit:{audit.id}",
                    {"note": data.note})
    return audits.reads(db, [audit])[0]


def return_report(db: Session, actor: Actor | None, audit_id: uuid.UUID,
                  data: Reason) -> AuditRead:
    """Send a submitted report back to the auditor, with the reason; the audit is in
    progress again and its ratings may change."""
    actor = require(actor, Role.SECRETARIAT, action="return audit reports")
    audit = _submitted(db, actor, audit_id)
    audit.status = AuditStatus.IN_PROGRESS.value
    audit.submitted_at = None
    audit.reviewed_at = None
    audit.reviewed_by = None
    db.flush()
    eventlog.append(db, actor, "assurance.audit.returned", f"audit:{audit.id}",
                    {"reason": data.reason})
    return audits.reads(db, [audit])[0]


def decide_audit(db: Session, actor: Actor | None, audit_id: uuid.UUID, data: Note, *,
                 today: date | None = None) -> DecisionRead:
    """Decide on a reviewed report. No major: certified for 3 years with surveillance at 18
    months; one to three majors: provisional for 1 year; more: refused, and the entity's
    current certificate for the standard is withdrawn. A surveillance audit keeps the
    current certificate instead of issuing a new one."""
    actor = require(actor, Role.SECRETARIAT, action="decide on audits")
    day = today_or(today)
    audit = _submitted(db, actor, audit_id)
    if audit.reviewed_at is None:
        raise Conflict("review the report before deciding on it", field="reviewed_at")
    if day < audit.end_on:
        raise Conflict(f"the audit ends on {audit.end_on}; decide once it has ended",
                       field="end_on")
    scope = repo.scope_by_id(db, audit.scope_id)
    assert scope is not None
    applicable = scope_applicability(db, scope)
    wanted = set(applicable.numbers)
    by_facility: dict[str, dict[str, Rating]] = {}
    for r in repo.ratings_of(db, audit.id):
        if r.criterion_number in wanted:
            by_facility.setdefault(str(r.facility_id), {})[r.criterion_number] = Rating(r.rating)
    missing = missing_ratings(wanted, [str(f.facility_id) for f in scope.facilities],
                              by_facility)
    if missing:
        raise Conflict(f"{len(missing)} criterion rating(s) are missing (the applicable "
                       "criteria changed since the report); return the report",
                       field="ratings")
    proposed = Maturity(audit.proposed_maturity) if audit.proposed_maturity else None
    decision = decide(scope_ratings(by_facility).values(), audit.end_on, day,
                      proposed_maturity=proposed, policy=DEFAULT_POLICY)
    withdrawn: list[str] = []
    certificate = None
    valid_from, valid_until = decision.valid_from, decision.valid_until
    if decision.outcome is Outcome.REFUSED:
        for c in repo.live_certificates(db, entity_id=scope.entity_id, kind=scope.standard_kind):
            if effective_status(CertificateStatus(c.status), c.valid_until, day) \
                    is not CertificateStatus.EXPIRED:
                certificates.change_status(db, actor, c, CertificateStatus.WITHDRAWN,
                                           f"certification refused after audit {audit.id} "
                                           f"({decision.majors} major non-conformities)",
                                           today=day)
                withdrawn.append(c.number)
    elif AuditType(audit.audit_type) is AuditType.SURVEILLANCE:
        current = repo.current_certificates(db, on=day, scope_id=scope.id)
        for c in current:
            c.surveillance_due_on = None
            db.flush()
            eventlog.append(db, actor, "assurance.certificate.surveillance_done",
                            f"certificate:{c.number}", {"audit": str(audit.id)})
        certificate = current[0] if current else None
        valid_from = certificate.valid_from if certificate else None
        valid_until = certificate.valid_until if certificate else None
    else:
        certificate = certificates.issue(db, actor, audit, scope, decision)
    audit.status = AuditStatus.DECIDED.value
    audit.outcome = decision.outcome.value
    audit.maturity = decision.maturity.value
    audit.decided_at = utcnow()
    audit.decided_by = actor.ref
    audit.decision_note = data.note
    db.flush()
    eventlog.append(db, actor, "assurance.audit.decided", f"audit:{audit.id}", {
        "outcome": decision.outcome.value, "majors": decision.majors,
        "minors": decision.minors, "maturity": decision.maturity.value,
        "certificate": certificate.number if certificate else None, "withdrawn": withdrawn})
    return DecisionRead(
        audit_id=audit.id, outcome=decision.outcome, majors=decision.majors,
        minors=decision.minors, maturity=decision.maturity, valid_from=valid_from,
        valid_until=valid_until, surveillance_due=certificate.surveillance_due_on
        if certificate else None, corrective_plan_due=decision.corrective_plan_due,
        major_closure_due=decision.major_closure_due,
        certificate=certificates.summaries(db, [certificate], day)[0] if certificate else None,
        withdrawn=withdrawn)
