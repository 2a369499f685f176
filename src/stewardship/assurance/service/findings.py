"""Findings: the scope's non-conformances, their corrective action plans and closure."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from stewardship.assurance import repository as repo
from stewardship.assurance.models import Audit, AuditRating, Finding
from stewardship.assurance.rules import (
    AssurancePolicy,
    AuditStatus,
    FindingStatus,
    Rating,
    add_months,
    closure_due,
    finding_severity,
)
from stewardship.assurance.schemas import ClosureVerify, CorrectivePlan, FindingRead
from stewardship.assurance.service.common import load_audit
from stewardship.core import eventlog, labels
from stewardship.core.auth import Actor, Role, require
from stewardship.core.db import utcnow
from stewardship.core.errors import Conflict, Forbidden, NotFound


def to_read(f: Finding) -> FindingRead:
    return FindingRead(
        id=f.id, audit_id=f.audit_id, criterion=f.criterion_number, principle=f.principle_number,
        severity=Rating(f.severity), description=f.description, status=f.status,
        plan_due_on=f.plan_due_on, closure_due_on=f.closure_due_on,
        corrective_plan=f.corrective_plan, plan_submitted_at=f.plan_submitted_at,
        closed_at=f.closed_at, closure_note=f.closure_note)


def refresh(db: Session, actor: Actor, audit: Audit, criteria: list[str],
            ratings: list[AuditRating], facility_names: dict[uuid.UUID, str], *,
            policy: AssurancePolicy) -> None:
    """Bring the findings of these criteria in line with the ratings: one per criterion at
    the worst severity over the facilities; withdrawn when no non-conformance is left."""
    existing = {f.criterion_number: f for f in repo.findings_of(db, audit.id)}
    for number in criteria:
        rows = sorted((r for r in ratings if r.criterion_number == number),
                      key=lambda r: facility_names.get(r.facility_id, ""))
        severity = finding_severity(Rating(r.rating) for r in rows)
        finding = existing.get(number)
        if severity is None:
            if finding is not None and finding.status != FindingStatus.WITHDRAWN:
                finding.status = FindingStatus.WITHDRAWN.value
                db.flush()
                eventlog.append(db, actor, "assurance.finding.withdrawn",
                                f"finding:{finding.id}", {"criterion": number})
            continue
        description = "\n".join(f"{facility_names.get(r.facility_id, '')} ({r.rating}): "
                                f"{r.reason}" for r in rows
                                if Rating(r.rating) in (Rating.MINOR, Rating.MAJOR))
        due = closure_due(severity, audit.end_on, policy)
        assert due is not None
        if finding is None:
            finding = Finding(
                organization_id=audit.organization_id, audit_id=audit.id,
                criterion_number=number, principle_number=int(number.split(".")[0]),
                status=FindingStatus.OPEN.value,
                plan_due_on=add_months(audit.end_on, policy.corrective_plan_months))
            db.add(finding)
            kind = "raised"
        elif finding.severity == severity.value and finding.description == description \
                and finding.status != FindingStatus.WITHDRAWN:
            continue
        else:
            kind = "changed"
        if finding.status == FindingStatus.WITHDRAWN:
            finding.status = (FindingStatus.PLAN_SUBMITTED.value if finding.corrective_plan
                              else FindingStatus.OPEN.value)
        finding.severity = severity.value
        finding.description = description
        finding.closure_due_on = due
        db.flush()
        eventlog.append(db, actor, f"assurance.finding.{kind}", f"finding:{finding.id}",
                        {"audit": str(audit.id), "criterion": number,
                         "severity": severity.value, "closure_due_on": due})


def list_findings(db: Session, actor: Actor | None, audit_id: uuid.UUID) -> list[FindingRead]:
    """The audit's findings with their corrective action plans and closure."""
    actor = require(actor, action="see findings")
    audit = load_audit(db, actor, audit_id)
    return [to_read(f) for f in repo.findings_of(db, audit.id)]


def _load(db: Session, actor: Actor, finding_id: uuid.UUID) -> tuple[Finding, Audit]:
    finding = repo.finding_by_id(db, finding_id)
    if finding is None:
        raise NotFound("no such finding", field="finding_id")
    try:
        audit = load_audit(db, actor, finding.audit_id)
    except NotFound:
        raise NotFound("no such finding", field="finding_id") from None
    return finding, audit


def file_corrective_plan(db: Session, actor: Actor | None, finding_id: uuid.UUID,
                         data: CorrectivePlan) -> FindingRead:
    """The member files (or revises) the corrective action plan of a finding."""
    actor = require(actor, Role.MEMBER_ADMIN, action="file corrective action plans")
    finding, audit = _load(db, actor, finding_id)
    if not actor.is_admin_of(finding.organization_id):
        raise Forbidden("only the organisation's admins file its corrective action plans")
    if audit.status == AuditStatus.CANCELLED:
        raise Conflict("the audit was cancelled", field="status")
    if finding.status in (FindingStatus.CLOSED, FindingStatus.WITHDRAWN):
        raise Conflict(f"the finding is {labels.lower(finding.status)}", field="status")
    finding.corrective_plan = data.plan
    finding.plan_submitted_at = utcnow()
    finding.status = FindingStatus.PLAN_SUBMITTED.value
    db.flush()
    eventlog.append(db, actor, "assurance.finding.plan_submitted", f"finding:{finding.id}",
                    {"criterion": finding.criterion_number,
                     "plan_digest": eventlog.digest_payload({"plan": data.plan})})
    return to_read(finding)


def verify_closure(db: Session, actor: Actor | None, finding_id: uuid.UUID,
                   data: ClosureVerify) -> FindingRead:
    """The assigned firm's auditor verifies that the corrective action closed the
    finding."""
    actor = require(actor, Role.AUDITOR, action="verify closures")
    finding, audit = _load(db, actor, finding_id)
    if actor.audit_firm_id != audit.audit_firm_id:  # pragma: no cover - load_audit hides it
        raise Forbidden("only an auditor of the assigned firm verifies closure")
    if finding.status != FindingStatus.PLAN_SUBMITTED:
        raise Conflict("a finding is closed after its corrective action plan was filed"
                       if finding.status == FindingStatus.OPEN
                       else f"the finding is {labels.lower(finding.status)}", field="status")
    finding.status = FindingStatus.CLOSED.value
    finding.closed_at = utcnow()
    finding.closed_by = actor.ref
    finding.closure_note = data.note
    db.flush()
    eventlog.append(db, actor, "assurance.finding.closed", f"finding:{finding.id}",
                    {"criterion": finding.criterion_number, "severity": finding.severity})
    return to_read(finding)
