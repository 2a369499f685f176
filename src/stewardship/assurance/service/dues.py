"""Due dates (surveillance, re-certification, audit plans, corrective actions) with
overdue flags, and the members who miss the certification obligation."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.orm import Session

from stewardship.assurance import repository as repo
from stewardship.assurance.models import Certificate
from stewardship.assurance.rules import (
    AuditType,
    CertificateStatus,
    effective_status,
    plan_due_by,
    plan_notice_required,
)
from stewardship.assurance.schemas import DueItem, OrganizationRef, OverdueMember
from stewardship.assurance.service.common import Labels, organization_for, today_or
from stewardship.core.auth import MEMBER_ROLES, Actor, Role, require
from stewardship.registry.rules import (
    CERTIFYING_CLASSES,
    MembershipClass,
    Standing,
    certification_deadline,
    good_standing,
)

KIND_NAMES = {"performance": "Performance", "chain_of_custody": "Chain of Custody"}


def _latest(certificates: list[Certificate]) -> list[Certificate]:
    """Per entity and standard only the newest certificate is due anything: a newer one
    replaced the older one's surveillance and re-certification."""
    newest: dict[tuple[uuid.UUID, str], Certificate] = {}
    for c in certificates:
        key = (c.entity_id, c.standard_kind)
        if key not in newest or (c.valid_from, c.number) > (newest[key].valid_from,
                                                             newest[key].number):
            newest[key] = c
    return list(newest.values())


def due_dates(db: Session, actor: Actor | None, *, organization: str | None = None,
              overdue_only: bool = False, today: date | None = None) -> list[DueItem]:
    """What falls due, soonest first: surveillance and re-certification audits of current
    certificates, audit plans that need 6 weeks' notice, corrective action plans and the
    closure of findings. A member sees its own; the secretariat everyone's (or one's)."""
    actor = require(actor, Role.SECRETARIAT, *MEMBER_ROLES, action="see due dates")
    day = today_or(today)
    org_id = organization_for(db, actor, organization)
    certificates = _latest(repo.live_certificates_for_dues(db, org_id))
    audits = [a for a in repo.planned_audits(db, org_id) if a.plan_submitted_on is None]
    findings = repo.open_findings(db, org_id)
    finding_audits = repo.audits_by_ids(db, [f.audit_id for f in findings])
    scopes = repo.scopes_by_ids(db, [a.scope_id for a in [*audits, *finding_audits.values()]])
    labels = Labels(db, organizations=[c.organization_id for c in certificates]
                    + [a.organization_id for a in audits]
                    + [f.organization_id for f in findings],
                    entities=[c.entity_id for c in certificates]
                    + [s.entity_id for s in scopes.values()])
    items: list[DueItem] = []

    def add(kind: str, label: str, due: date, org: uuid.UUID, entity: uuid.UUID | None,
            **refs: object) -> None:
        items.append(DueItem(kind=kind, label=label, due_on=due, overdue=due < day,
                             days_left=(due - day).days, organization=labels.organization(org),
                             entity=labels.entity(entity) if entity else None,
                             **refs))  # type: ignore[arg-type]

    for c in certificates:
        name = KIND_NAMES.get(c.standard_kind, c.standard_kind)
        expired = effective_status(CertificateStatus(c.status), c.valid_until, day) \
            is CertificateStatus.EXPIRED
        if c.surveillance_due_on is not None and not expired:
            add("surveillance_audit", f"Surveillance audit for {name} certificate {c.number}",
                c.surveillance_due_on, c.organization_id, c.entity_id,
                certificate_number=c.number)
        add("recertification", f"Re-certification audit before {name} certificate "
            f"{c.number} ends", c.valid_until, c.organization_id, c.entity_id,
            certificate_number=c.number)
    for a in audits:
        scope = scopes[a.scope_id]
        if plan_notice_required(AuditType(a.audit_type), scope.activities):
            add("audit_plan", f"Audit plan to the secretariat for the audit starting "
                f"{a.start_on}", plan_due_by(a.start_on), a.organization_id, scope.entity_id,
                audit_id=a.id)
    for f in findings:
        audit = finding_audits[f.audit_id]
        entity = scopes[audit.scope_id].entity_id
        if f.status == "open":
            add("corrective_plan", f"Corrective action plan for the {f.severity} "
                f"non-conformity on {f.criterion_number}", f.plan_due_on, f.organization_id,
                entity, audit_id=f.audit_id, finding_id=f.id)
        add("finding_closure", f"Closure of the {f.severity} non-conformity on "
            f"{f.criterion_number}", f.closure_due_on, f.organization_id, entity,
            audit_id=f.audit_id, finding_id=f.id)
    if overdue_only:
        items = [i for i in items if i.overdue]
    return sorted(items, key=lambda i: (i.due_on, i.kind, i.label))


def overdue_members(db: Session, actor: Actor | None, *,
                    today: date | None = None) -> list[OverdueMember]:
    """Production & Transformation and Industrial Users members past their certification
    deadline without a current Performance Standard certificate (secretariat)."""
    require(actor, Role.SECRETARIAT, action="see members in breach of the certification "
                                            "obligation")
    day = today_or(today)
    candidates = repo.certifying_members_joined_before(
        db, sorted(c.value for c in CERTIFYING_CLASSES), day)
    holding = repo.organizations_holding(db, [o.id for o in candidates], "performance", day)
    out = []
    for org in candidates:
        mclass = MembershipClass(org.membership_class)
        standing = good_standing(mclass, org.joined_on, org.id in holding, day)
        deadline = certification_deadline(mclass, org.joined_on)
        if standing is Standing.OVERDUE and deadline is not None and org.joined_on:
            out.append(OverdueMember(
                organization=OrganizationRef(slug=org.slug, name=org.name),
                membership_class=mclass.value, joined_on=org.joined_on, deadline=deadline,
                days_overdue=(day - deadline).days))
    return sorted(out, key=lambda m: (m.deadline, m.organization.name))


def holds_performance_certificate(db: Session, organization_id: uuid.UUID,
                                  today: date | None = None) -> bool:
    """Whether the organisation holds a current Performance Standard certificate."""
    return repo.holds_current_certificate(db, organization_id, "performance", today_or(today))
