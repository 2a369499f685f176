"""What the assurance context asks someone to act on, for the dashboards and their list
pages: a member's certificates that are suspended or about to expire, its corrective
actions with their due dates, its scopes with the self-assessment's progress and the
audit's next step; the secretariat's audit reports awaiting review. Each read takes a
handful of batched queries whatever the number of rows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from stewardship.assurance import repository as repo
from stewardship.assurance.models import Audit, Certificate
from stewardship.assurance.rules import (
    EXPIRY_WARNING_DAYS,
    AuditStatus,
    AuditType,
    CertificateStatus,
    effective_status,
    plan_due_by,
    plan_notice_required,
)
from stewardship.assurance.schemas import OrganizationRef
from stewardship.assurance.service.common import (
    Labels,
    organization_for,
    scope_applicability,
    today_or,
)
from stewardship.assurance.service.dues import KIND_NAMES
from stewardship.core.auth import MEMBER_ROLES, Actor, Role, require
from stewardship.core.pagination import PageParams

SCOPES_SHOWN = 10


# --- certificates -----------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateAlert:
    number: str
    standard: str
    """Performance or Chain of Custody."""
    entity: str
    status: str
    """suspended, or active for one that is about to expire."""
    valid_until: date
    days_left: int

    @property
    def suspended(self) -> bool:
        return self.status == CertificateStatus.SUSPENDED.value


def certificate_alerts(db: Session, actor: Actor | None, *,
                       within_days: int = EXPIRY_WARNING_DAYS,
                       today: date | None = None) -> list[CertificateAlert]:
    """The member's own certificates that are suspended, or in force and ending within
    ``within_days``: suspended first, then the soonest to end. A certificate replaced by a
    newer one of the same entity and standard is not named."""
    actor = require(actor, *MEMBER_ROLES, action="see your certificates that need attention")
    day = today_or(today)
    rows = repo.live_certificates_for_dues(db, actor.organization_id)
    newest: dict[tuple[uuid.UUID, str], Certificate] = {}
    for c in rows:
        key = (c.entity_id, c.standard_kind)
        best = newest.get(key)
        if best is None or (c.valid_from, c.number) > (best.valid_from, best.number):
            newest[key] = c
    out = []
    for c in rows:
        if newest[(c.entity_id, c.standard_kind)] is not c:
            continue
        status = effective_status(CertificateStatus(c.status), c.valid_until, day)
        days_left = (c.valid_until - day).days
        if status is CertificateStatus.SUSPENDED or (
                status is CertificateStatus.ACTIVE and days_left <= within_days):
            out.append(CertificateAlert(
                number=c.number, standard=KIND_NAMES.get(c.standard_kind, c.standard_kind),
                entity=c.entity_name, status=status.value, valid_until=c.valid_until,
                days_left=days_left))
    return sorted(out, key=lambda a: (not a.suspended, a.valid_until, a.number))


# --- corrective actions -----------------------------------------------------------------


@dataclass(frozen=True)
class CorrectiveAction:
    finding_id: uuid.UUID
    audit_id: uuid.UUID
    organization: OrganizationRef
    criterion: str
    severity: str
    step: str
    """plan (the corrective action plan is due) or closure (the action must be done and
    verified by the auditor)."""
    due_on: date
    days_left: int

    @property
    def overdue(self) -> bool:
        return self.days_left < 0

    @property
    def label(self) -> str:
        what = ("Corrective action plan" if self.step == "plan"
                else "Corrective action carried out and verified")
        return f"{what} for the {self.severity} non-conformity on {self.criterion}"


def corrective_actions(db: Session, actor: Actor | None, *, today: date | None = None,
                       organization: str | None = None) -> list[CorrectiveAction]:
    """Every finding not yet closed with the step it waits for and when that is due,
    soonest (most overdue) first: a member's own; the secretariat every member's (or
    one's)."""
    actor = require(actor, Role.SECRETARIAT, *MEMBER_ROLES, action="see corrective actions")
    day = today_or(today)
    findings = repo.open_findings(db, organization_for(db, actor, organization))
    labels = Labels(db, organizations=[f.organization_id for f in findings])
    out = []
    for f in findings:
        step, due = ("plan", f.plan_due_on) if f.status == "open" else ("closure",
                                                                         f.closure_due_on)
        out.append(CorrectiveAction(
            finding_id=f.id, audit_id=f.audit_id, organization=labels.organization(
                f.organization_id), criterion=f.criterion_number, severity=f.severity,
            step=step, due_on=due, days_left=(due - day).days))
    return sorted(out, key=lambda a: (a.due_on, a.organization.name, a.criterion))


# --- scopes and audits ------------------------------------------------------------------


@dataclass(frozen=True)
class AuditStep:
    audit_id: uuid.UUID
    status: str
    audit_type: str
    start_on: date
    end_on: date
    firm: str
    member_action: str
    """What the member has to do for this audit now; empty when it waits for others."""
    waiting_for: str
    """Who the audit waits for when not for the member."""
    due_on: date | None


@dataclass(frozen=True)
class ScopeStep:
    scope_id: uuid.UUID
    name: str
    standard: str
    status: str
    self_assessment_id: uuid.UUID | None
    answered: int
    applicable: int
    audit: AuditStep | None
    """The scope's open audit (planned, in progress or submitted), if any."""

    @property
    def complete(self) -> bool:
        return self.answered >= self.applicable


def _audit_step(a: Audit, activities: list[str], firm: str) -> AuditStep:
    status = AuditStatus(a.status)
    action, waiting, due = "", "", None
    if status is AuditStatus.PLANNED:
        if a.plan_submitted_on is None and plan_notice_required(AuditType(a.audit_type),
                                                                activities):
            due = plan_due_by(a.start_on)
            action = "send the audit plan to the secretariat"
        else:
            waiting = "the audit firm, which starts it on its first day"
    elif status is AuditStatus.IN_PROGRESS:
        waiting = "the auditors, who rate the criteria and submit the report"
    else:
        waiting = "the secretariat's review and decision"
    return AuditStep(audit_id=a.id, status=status.value, audit_type=a.audit_type,
                     start_on=a.start_on, end_on=a.end_on, firm=firm, member_action=action,
                     waiting_for=waiting, due_on=due)


def scope_steps(db: Session, actor: Actor | None) -> list[ScopeStep]:
    """The member's active certification scopes, newest first, each with its
    self-assessment's progress (answered of applicable criteria) and its open audit's
    next step."""
    actor = require(actor, *MEMBER_ROLES, action="see your certification scopes")
    org_id = actor.organization_id
    assert org_id is not None
    page = repo.list_scopes(db, PageParams(1, SCOPES_SHOWN), organization_id=org_id,
                            status="active")
    scopes = list(page.items)
    assessments = repo.latest_self_assessments(db, [s.id for s in scopes])
    answered = repo.answered_criteria(db, list(assessments.values()))
    open_audits = {a.scope_id: a for a in reversed(repo.open_audits_of(db, org_id))}
    firms = repo.firm_refs(db, [a.audit_firm_id for a in open_audits.values()])
    labels = Labels(db, versions=[s.version_id for s in scopes])
    out = []
    for s in scopes:
        # The applicable criteria depend on the scope's version, activities and class:
        # computed per scope (a member has a few active scopes; the page shows ten).
        numbers = set(scope_applicability(db, s).numbers)
        assessment = assessments.get(s.id)
        audit = open_audits.get(s.id)
        firm = firms.get(audit.audit_firm_id) if audit is not None else None
        standard = labels.standard(s.version_id)
        out.append(ScopeStep(
            scope_id=s.id, name=s.name, standard=f"{standard.title} v{standard.version}",
            status=s.status, self_assessment_id=assessment,
            answered=len(answered.get(assessment, set()) & numbers) if assessment else 0,
            applicable=len(numbers),
            audit=_audit_step(audit, list(s.activities), firm[1] if firm else "")
            if audit is not None else None))
    return out


# --- the secretariat --------------------------------------------------------------------


def audits_awaiting_review(db: Session, actor: Actor | None) -> int:
    """How many audit reports are submitted and wait for the secretariat's review and
    decision (the list at /secretariat/audits)."""
    require(actor, Role.SECRETARIAT, action="review audit reports")
    return repo.list_audits(db, PageParams(1, 1), status=AuditStatus.SUBMITTED.value).total
