"""The secretariat's review of an audit report and the certification decision."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from stewardship.assurance import repository as repo
from stewardship.assurance.models import Audit, Certificate, CertificationScope
from stewardship.assurance.rules import (
    DEFAULT_POLICY,
    AuditStatus,
    AuditType,
    CertificateChanges,
    CertificateStatus,
    Decision,
    Maturity,
    Rating,
    certificate_changes,
    decide,
    describe_changes,
    effective_status,
    missing_ratings,
    scope_ratings,
)
from stewardship.assurance.schemas import (
    AuditRead,
    DecisionPreview,
    DecisionRead,
    Note,
    Reason,
)
from stewardship.assurance.service import audits, certificates
from stewardship.assurance.service.common import load_audit, scope_applicability, today_or
from stewardship.core import eventlog, labels
from stewardship.core.auth import Actor, Role, require
from stewardship.core.db import utcnow
from stewardship.core.errors import Conflict


def _submitted(db: Session, actor: Actor, audit_id: uuid.UUID) -> Audit:
    audit = load_audit(db, actor, audit_id)
    if audit.status != AuditStatus.SUBMITTED:
        raise Conflict(f"the audit is {labels.lower(audit.status)}; only a submitted report is "
                       "reviewed and decided", field="status")
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


@dataclass(frozen=True)
class _Plan:
    """A decision worked out but not yet taken: its outcome and what it does to the
    certificates of the audited scope."""

    audit: Audit
    scope: CertificationScope
    decision: Decision
    changes: CertificateChanges
    live: dict[str, Certificate]


def _plan(db: Session, actor: Actor, audit_id: uuid.UUID, day: date, *,
          deciding: bool) -> _Plan:
    audit = _submitted(db, actor, audit_id)
    if deciding and audit.reviewed_at is None:
        raise Conflict("review the report before deciding on it", field="reviewed_at")
    if deciding and day < audit.end_on:
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
    live = {c.number: c for c in repo.live_certificates(
        db, scope_ids=repo.scope_lineage(db, scope.id))
        if effective_status(CertificateStatus(c.status), c.valid_until, day)
        is not CertificateStatus.EXPIRED}
    changes = certificate_changes(decision.outcome, AuditType(audit.audit_type), list(live))
    return _Plan(audit, scope, decision, changes, live)


def preview_decision(db: Session, actor: Actor | None, audit_id: uuid.UUID, *,
                     today: date | None = None) -> DecisionPreview:
    """What deciding on the submitted report today would do, without doing it: the
    outcome, its dates, and the certificates it would issue, supersede, withdraw or keep
    (secretariat)."""
    actor = require(actor, Role.SECRETARIAT, action="preview decisions")
    day = today_or(today)
    p = _plan(db, actor, audit_id, day, deciding=False)
    d = p.decision
    summaries = {s.number: s for s in certificates.summaries(db, list(p.live.values()), day)}
    kept = [p.live[n] for n in p.changes.keep]
    blockers = []
    if p.audit.reviewed_at is None:
        blockers.append("the report is not reviewed yet")
    if day < p.audit.end_on:
        blockers.append(f"the audit ends on {p.audit.end_on}")
    return DecisionPreview(
        audit_id=p.audit.id, as_of=day, outcome=d.outcome, majors=d.majors, minors=d.minors,
        maturity=d.maturity,
        valid_from=d.valid_from if p.changes.issue else (kept[0].valid_from if kept else None),
        valid_until=d.valid_until if p.changes.issue else (
            kept[0].valid_until if kept else None),
        issues=p.changes.issue, corrective_plan_due=d.corrective_plan_due,
        major_closure_due=d.major_closure_due,
        supersedes=[summaries[n] for n in p.changes.supersede],
        withdraws=[summaries[n] for n in p.changes.withdraw],
        keeps=[summaries[n] for n in p.changes.keep],
        effect=describe_changes(p.changes, done=False,
                                valid_until=d.valid_until if p.changes.issue else None),
        may_decide=not blockers, blockers=blockers)


def decide_audit(db: Session, actor: Actor | None, audit_id: uuid.UUID, data: Note, *,
                 today: date | None = None) -> DecisionRead:
    """Decide on a reviewed report. No major: certified for 3 years with surveillance at 18
    months; one to three majors: provisional for 1 year; more: refused, and the live
    certificates of the audited scope are withdrawn (other scopes' are untouched). A new
    certificate supersedes the scope's live one. A surveillance audit without a major
    keeps the live certificate and clears its surveillance; one with one to three majors
    issues a provisional certificate (one year from the decision) that supersedes it."""
    actor = require(actor, Role.SECRETARIAT, action="decide on audits")
    day = today_or(today)
    p = _plan(db, actor, audit_id, day, deciding=True)
    audit, scope, decision, changes = p.audit, p.scope, p.decision, p.changes
    certificate = None
    valid_from, valid_until = decision.valid_from, decision.valid_until
    what = f"audit {audit.id} ({audit.audit_type})"
    for number in changes.withdraw:
        certificates.change_status(db, actor, p.live[number], CertificateStatus.WITHDRAWN,
                                   f"certification refused after {what} "
                                   f"({decision.majors} major non-conformities)", today=day)
    for number in changes.keep:
        c = p.live[number]
        c.surveillance_due_on = None
        db.flush()
        eventlog.append(db, actor, "assurance.certificate.surveillance_done",
                        f"certificate:{c.number}", {"audit": str(audit.id)})
    if changes.keep:
        certificate = p.live[changes.keep[-1]]
        valid_from, valid_until = certificate.valid_from, certificate.valid_until
    elif changes.issue is not None:
        certificate = certificates.issue(db, actor, audit, scope, decision,
                                         supersedes=list(changes.supersede))
        for number in changes.supersede:
            certificates.change_status(db, actor, p.live[number], CertificateStatus.SUPERSEDED,
                                       f"superseded by {certificate.number} "
                                       f"({decision.outcome.value} after {what})", today=day)
    effect = describe_changes(changes, done=True,
                              issued=certificate.number if changes.issue and certificate
                              else None,
                              valid_until=valid_until if changes.issue else None)
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
        "certificate": certificate.number if certificate else None,
        "withdrawn": list(changes.withdraw), "superseded": list(changes.supersede),
        "note": data.note, "decided_at": audit.decided_at})
    return DecisionRead(
        audit_id=audit.id, outcome=decision.outcome, majors=decision.majors,
        minors=decision.minors, maturity=decision.maturity, valid_from=valid_from,
        valid_until=valid_until, surveillance_due=certificate.surveillance_due_on
        if certificate else None, corrective_plan_due=decision.corrective_plan_due,
        major_closure_due=decision.major_closure_due,
        certificate=certificates.summaries(db, [certificate], day)[0] if certificate else None,
        withdrawn=list(changes.withdraw), superseded=list(changes.supersede),
        kept=list(changes.keep), effect=effect)
