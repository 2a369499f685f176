"""Audits: choosing an accredited firm and lead auditor, the audit plan and its notice,
starting, the auditor's ratings per facility, and submitting the report."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.orm import Session

from stewardship.assurance import repository as repo
from stewardship.assurance.models import Audit, AuditRating, CertificationScope
from stewardship.assurance.rules import (
    DEFAULT_POLICY,
    AuditStatus,
    AuditType,
    Maturity,
    Outcome,
    Rating,
    audit_may_move,
    may_start,
    missing_ratings,
    plan_due_by,
    plan_notice_required,
    scope_ratings,
)
from stewardship.assurance.schemas import (
    AuditCreate,
    AuditorRef,
    AuditPage,
    AuditRead,
    AuditReschedule,
    FirmRef,
    MissingRating,
    PlanReceipt,
    PlanSubmit,
    RatingBatch,
    RatingProgress,
    RatingRead,
    RatingsRead,
    ReportSubmit,
)
from stewardship.assurance.service import evidence as evidence_service
from stewardship.assurance.service import findings
from stewardship.assurance.service.common import (
    Labels,
    load_audit,
    load_scope,
    organization_for,
    scope_applicability,
    today_or,
    version_refusal,
    version_row,
)
from stewardship.core import eventlog, labels
from stewardship.core.auth import Actor, Role, require
from stewardship.core.db import utcnow
from stewardship.core.errors import Conflict, Forbidden, InvalidInput
from stewardship.core.pagination import PageParams
from stewardship.registry import repository as registry_repo
from stewardship.registry.models import AuditFirm, Facility
from stewardship.registry.service import audit_firms

KIND_LABELS = dict(labels.STANDARD_KINDS)


# --- reading ----------------------------------------------------------------------------


def reads(db: Session, audits: list[Audit], *, with_progress: bool = False) -> list[AuditRead]:
    scopes = repo.scopes_by_ids(db, [a.scope_id for a in audits])
    labels = Labels(db, organizations=[a.organization_id for a in audits],
                    entities=[s.entity_id for s in scopes.values()],
                    versions=[s.version_id for s in scopes.values()],
                    firms=[a.audit_firm_id for a in audits])
    auditors = repo.auditors_by_ids(db, [a.lead_auditor_id for a in audits])
    certificates = repo.certificates_of_audits(db, [a.id for a in audits
                                                    if a.status == AuditStatus.DECIDED])
    out = []
    for a in audits:
        scope = scopes[a.scope_id]
        notice = plan_notice_required(AuditType(a.audit_type), scope.activities)
        slug, name = labels.firm(a.audit_firm_id)
        lead = auditors.get(a.lead_auditor_id)
        progress = None
        if with_progress:
            applicable = scope_applicability(db, scope)
            wanted = set(applicable.numbers)
            rated = sum(1 for r in repo.ratings_of(db, a.id) if r.criterion_number in wanted)
            progress = RatingProgress(rated=rated, required=len(wanted) * len(scope.facilities))
        certificate = certificates.get(a.id)
        out.append(AuditRead(
            id=a.id, scope_id=scope.id, scope_name=scope.name,
            organization=labels.organization(a.organization_id),
            entity=labels.entity(scope.entity_id), standard=labels.standard(scope.version_id),
            audit_firm=FirmRef(slug=slug, name=name),
            lead_auditor=AuditorRef(id=a.lead_auditor_id, name=lead.name if lead else ""),
            audit_type=AuditType(a.audit_type), start_on=a.start_on, end_on=a.end_on,
            plan=a.plan, plan_submitted_on=a.plan_submitted_on, plan_note=a.plan_note,
            notice_required=notice,
            plan_due_by=plan_due_by(a.start_on) if notice else None, status=a.status,
            proposed_maturity=Maturity(a.proposed_maturity) if a.proposed_maturity else None,
            public_summary=a.public_summary, submitted_at=a.submitted_at,
            reviewed_at=a.reviewed_at, outcome=Outcome(a.outcome) if a.outcome else None,
            maturity=Maturity(a.maturity) if a.maturity else None, decided_at=a.decided_at,
            certificate_number=certificate.number if certificate else None,
            progress=progress))
    return out


def get_audit(db: Session, actor: Actor | None, audit_id: uuid.UUID) -> AuditRead:
    """One audit with its rating progress: its organisation's members, the secretariat and
    the assigned firm's auditors (anyone else: 404)."""
    actor = require(actor, action="see audits")
    return reads(db, [load_audit(db, actor, audit_id)], with_progress=True)[0]


def list_audits(db: Session, actor: Actor | None, params: PageParams, *,
                status: str | None = None, organization: str | None = None,
                scope_id: uuid.UUID | None = None) -> AuditPage:
    """Audits the actor may see: a member its own, an auditor its firm's, the secretariat
    every one."""
    actor = require(actor, action="list audits")
    firm_id = None
    if actor.role is Role.AUDITOR:
        firm_id = actor.audit_firm_id
        org_id = None
        if firm_id is None:
            raise Forbidden("this auditor account belongs to no audit firm")
    else:
        org_id = organization_for(db, actor, organization)
    page = repo.list_audits(db, params, organization_id=org_id, audit_firm_id=firm_id,
                            status=status, scope_id=scope_id)
    return AuditPage(items=reads(db, page.items), total=page.total, page=page.page,
                     per_page=page.per_page, pages=page.pages)


# --- planning ---------------------------------------------------------------------------


def _scope_facilities(db: Session, scope: CertificationScope) -> list[Facility]:
    found = registry_repo.facilities_by_ids(db, [f.facility_id for f in scope.facilities])
    return sorted(found.values(), key=lambda f: f.public_id)


def accreditation_gaps(firm: AuditFirm, scope: CertificationScope,
                       facilities: list[Facility], on: date) -> list[str]:
    """What the firm's accreditation lacks to audit this scope on the day (empty: nothing;
    registry's ``audit_firms.covers`` is the final word)."""
    gaps: list[str] = []
    if firm.status != "accredited":
        gaps.append(f"its accreditation is {labels.lower(firm.status)}")
    if firm.accreditation_expires_on is not None and on > firm.accreditation_expires_on:
        gaps.append(f"its accreditation expires on {firm.accreditation_expires_on}")
    if scope.standard_kind not in firm.standards:
        gaps.append(f"it is not accredited for the "
                    f"{KIND_LABELS.get(scope.standard_kind, scope.standard_kind)} standard")
    countries = sorted({f.country for f in facilities} - set(firm.countries))
    if countries:
        gaps.append(f"it is not accredited in {', '.join(countries)}")
    activities = sorted(set(scope.activities) - set(firm.activities))
    if activities:
        gaps.append(f"it is not accredited for {', '.join(activities)}")
    for f in facilities:
        needed = sorted(set(f.activities) & set(scope.activities))
        if not gaps and not audit_firms.covers(firm, standard=scope.standard_kind,
                                               country=f.country, activities=needed, on=on):
            gaps.append(f"its accreditation does not cover facility {f.public_id}")
    return gaps


def _check_firm(db: Session, slug: str, lead_auditor_id: uuid.UUID,
                scope: CertificationScope, on: date) -> AuditFirm:
    firm = registry_repo.audit_firm_by_slug(db, slug)
    if firm is None:
        raise InvalidInput(f"no audit firm '{slug}'", field="audit_firm")
    gaps = accreditation_gaps(firm, scope, _scope_facilities(db, scope), on)
    if gaps:
        raise InvalidInput(f"{firm.name} may not audit this scope on {on}: " + "; ".join(gaps),
                           field="audit_firm")
    lead = next((a for a in firm.auditors if a.id == lead_auditor_id), None)
    if lead is None or not lead.active:
        raise InvalidInput(f"the lead auditor is not an active auditor of {firm.name}",
                           field="lead_auditor_id")
    if not lead.lead:
        raise InvalidInput(f"{lead.name} is not qualified to lead an audit",
                           field="lead_auditor_id")
    return firm


def plan_audit(db: Session, actor: Actor | None, data: AuditCreate, *,
               today: date | None = None) -> AuditRead:
    """Choose an accredited audit firm and lead auditor for a scope, with the audit's type,
    dates and (draft) plan. The firm must be accredited for the scope's standard, every
    facility's country and activities, on the start date."""
    actor = require(actor, Role.MEMBER_ADMIN, action="plan audits")
    scope = load_scope(db, actor, data.scope_id)
    if not actor.is_admin_of(scope.organization_id):
        raise Forbidden("only the organisation's admins plan its audits")
    if scope.status != "active":
        raise Conflict("this scope was superseded by a move to a newer version",
                       field="scope_id")
    refusal = version_refusal(db, version_row(db, scope.version_id), data.start_on)
    if refusal:
        raise InvalidInput(refusal, field="start_on")
    firm = _check_firm(db, data.audit_firm, data.lead_auditor_id, scope, data.start_on)
    if repo.open_audit_of_scope(db, scope.id) is not None:
        raise Conflict("this scope has an audit under way already; finish or cancel it",
                       field="scope_id")
    if data.audit_type is AuditType.SURVEILLANCE and not repo.current_certificates(
            db, on=today_or(today), scope_id=scope.id):
        raise Conflict("a surveillance audit needs a current certificate for this scope",
                       field="audit_type")
    audit = Audit(organization_id=scope.organization_id, scope_id=scope.id,
                  audit_firm_id=firm.id, lead_auditor_id=data.lead_auditor_id,
                  audit_type=data.audit_type.value, start_on=data.start_on,
                  end_on=data.end_on, plan=data.plan, status=AuditStatus.PLANNED.value)
    db.add(audit)
    db.flush()
    eventlog.append(db, actor, "assurance.audit.planned", f"audit:{audit.id}", {
        "scope": str(scope.id), "audit_firm": firm.slug, "type": audit.audit_type,
        "start_on": audit.start_on, "end_on": audit.end_on})
    return reads(db, [audit])[0]


def submit_plan(db: Session, actor: Actor | None, audit_id: uuid.UUID, data: PlanSubmit, *,
                today: date | None = None) -> AuditRead:
    """Send the audit plan to the secretariat; the day it arrives is recorded (a changed
    plan sent again counts from its own day)."""
    actor = require(actor, Role.MEMBER_ADMIN, action="submit audit plans")
    audit = load_audit(db, actor, audit_id)
    if not actor.is_admin_of(audit.organization_id):
        raise Forbidden("only the organisation's admins submit its audit plans")
    if audit.status != AuditStatus.PLANNED:
        raise Conflict(f"the audit is {labels.lower(audit.status)}; its plan can no longer change",
                       field="status")
    audit.plan = data.plan
    audit.plan_submitted_on = today_or(today)
    audit.plan_note = ""
    db.flush()
    eventlog.append(db, actor, "assurance.audit.plan_submitted", f"audit:{audit.id}",
                    {"submitted_on": audit.plan_submitted_on,
                     "plan_digest": eventlog.digest_payload({"plan": data.plan})})
    return reads(db, [audit])[0]


def _require_firm_auditor(actor: Actor, audit: Audit, action: str) -> None:
    if actor.role is not Role.AUDITOR or actor.audit_firm_id != audit.audit_firm_id:
        raise Forbidden(f"only an auditor of the assigned firm may {action}")


def _move(db: Session, actor: Actor, audit: Audit, target: AuditStatus,
          payload: dict[str, object]) -> None:
    current = AuditStatus(audit.status)
    if not audit_may_move(current, target):
        raise Conflict(f"an audit that is {labels.lower(current)} cannot become "
                       f"{labels.lower(target)}", field="status")
    audit.status = target.value
    db.flush()
    eventlog.append(db, actor, f"assurance.audit.{target.value}", f"audit:{audit.id}",
                    {"from": current.value, **payload})


def start_audit(db: Session, actor: Actor | None, audit_id: uuid.UUID, *,
                today: date | None = None) -> AuditRead:
    """The assigned firm's auditor starts the audit. An initial audit of mining, refining or
    smelting starts only when its plan reached the secretariat 6 weeks before the start."""
    actor = require(actor, Role.AUDITOR, action="start audits")
    audit = load_audit(db, actor, audit_id)
    _require_firm_auditor(actor, audit, "start this audit")
    if audit.status != AuditStatus.PLANNED:
        raise Conflict(f"the audit is {labels.lower(audit.status)}, not planned", field="status")
    day = today_or(today)
    _require_open(audit, day)
    scope = repo.scope_by_id(db, audit.scope_id)
    assert scope is not None
    reason = may_start(AuditType(audit.audit_type), scope.activities, audit.plan_submitted_on,
                       audit.start_on)
    if reason:
        raise Conflict(f"the audit cannot start: {reason}", field="plan_submitted_on")
    firm = registry_repo.audit_firm_by_id(db, audit.audit_firm_id)
    assert firm is not None
    gaps = accreditation_gaps(firm, scope, _scope_facilities(db, scope), day)
    if gaps:
        raise Conflict(f"{firm.name} may no longer audit this scope: " + "; ".join(gaps),
                       field="audit_firm")
    _move(db, actor, audit, AuditStatus.IN_PROGRESS, {})
    return reads(db, [audit])[0]


def _require_open(audit: Audit, day: date) -> None:
    """Work on an audit (starting it, rating) opens on its start date."""
    if day < audit.start_on:
        raise Conflict(f"the audit starts on {audit.start_on}; work on it opens that day",
                       field="start_on")


def reschedule_audit(db: Session, actor: Actor | None, audit_id: uuid.UUID,
                     data: AuditReschedule, *, today: date | None = None) -> AuditRead:
    """Move a planned audit to new dates, with the reason (secretariat). The standard
    version and the firm's accreditation must hold on the new start date; a plan that must
    reach the secretariat six weeks ahead counts against the new start."""
    actor = require(actor, Role.SECRETARIAT, action="reschedule audits")
    audit = load_audit(db, actor, audit_id)
    if audit.status != AuditStatus.PLANNED:
        raise Conflict(f"the audit is {labels.lower(audit.status)}; only a planned audit is "
                       "rescheduled", field="status")
    day = today_or(today)
    if data.start_on < day:
        raise InvalidInput(f"the new start date {data.start_on} is in the past",
                           field="start_on")
    if (data.start_on, data.end_on) == (audit.start_on, audit.end_on):
        raise InvalidInput("the audit already has these dates", field="start_on")
    scope = repo.scope_by_id(db, audit.scope_id)
    assert scope is not None
    refusal = version_refusal(db, version_row(db, scope.version_id), data.start_on)
    if refusal:
        raise InvalidInput(refusal, field="start_on")
    firm = registry_repo.audit_firm_by_id(db, audit.audit_firm_id)
    assert firm is not None
    gaps = accreditation_gaps(firm, scope, _scope_facilities(db, scope), data.start_on)
    if gaps:
        raise InvalidInput(f"{firm.name} may not audit this scope on {data.start_on}: "
                           + "; ".join(gaps), field="start_on")
    before = {"start_on": audit.start_on, "end_on": audit.end_on}
    audit.start_on, audit.end_on = data.start_on, data.end_on
    db.flush()
    eventlog.append(db, actor, "assurance.audit.rescheduled", f"audit:{audit.id}", {
        "from": before, "to": {"start_on": audit.start_on, "end_on": audit.end_on},
        "reason": data.reason})
    return reads(db, [audit])[0]


def record_plan_received(db: Session, actor: Actor | None, audit_id: uuid.UUID,
                         data: PlanReceipt, *, today: date | None = None) -> AuditRead:
    """Record the day an audit plan reached the secretariat outside the platform, with a
    note (secretariat); the notice rule counts from that day."""
    actor = require(actor, Role.SECRETARIAT, action="record audit plans")
    audit = load_audit(db, actor, audit_id)
    if audit.status != AuditStatus.PLANNED:
        raise Conflict(f"the audit is {labels.lower(audit.status)}; its plan can no longer change",
                       field="status")
    day = today_or(today)
    if data.received_on > day:
        raise InvalidInput(f"{data.received_on} is after today; record a plan once it has "
                           "arrived", field="received_on")
    if data.plan is not None:
        audit.plan = data.plan
    audit.plan_submitted_on = data.received_on
    audit.plan_note = data.note
    db.flush()
    eventlog.append(db, actor, "assurance.audit.plan_recorded", f"audit:{audit.id}", {
        "received_on": data.received_on, "note": data.note,
        "plan_digest": eventlog.digest_payload({"plan": audit.plan})})
    return reads(db, [audit])[0]


def cancel_audit(db: Session, actor: Actor | None, audit_id: uuid.UUID,
                 reason: str) -> AuditRead:
    """Cancel a planned or running audit (the organisation's admins or the secretariat)."""
    actor = require(actor, Role.MEMBER_ADMIN, Role.SECRETARIAT, action="cancel audits")
    audit = load_audit(db, actor, audit_id)
    if not (actor.is_secretariat() or actor.is_admin_of(audit.organization_id)):
        raise Forbidden("only the organisation's admins or the secretariat cancel audits")
    _move(db, actor, audit, AuditStatus.CANCELLED, {"reason": reason})
    return reads(db, [audit])[0]


# --- ratings ----------------------------------------------------------------------------


def _facility_ids(db: Session, scope: CertificationScope) -> dict[str, uuid.UUID]:
    return {f.public_id: f.id for f in _scope_facilities(db, scope)}


def ratings_read(db: Session, actor: Actor, audit: Audit) -> RatingsRead:
    scope = repo.scope_by_id(db, audit.scope_id)
    assert scope is not None
    public_ids = {v: k for k, v in _facility_ids(db, scope).items()}
    applicable = set(scope_applicability(db, scope).numbers)
    rows = [r for r in repo.ratings_of(db, audit.id) if r.criterion_number in applicable]
    by_facility: dict[str, dict[str, Rating]] = {}
    for r in rows:
        by_facility.setdefault(public_ids[r.facility_id], {})[r.criterion_number] = \
            Rating(r.rating)
    missing = missing_ratings(applicable, public_ids.values(), by_facility)
    confidential = actor.is_secretariat() or actor.role is Role.AUDITOR
    rows.sort(key=lambda r: (public_ids[r.facility_id], _key(r.criterion_number)))
    return RatingsRead(
        audit_id=audit.id,
        progress=RatingProgress(rated=len(rows), required=len(applicable) * len(public_ids)),
        missing=[MissingRating(facility=f, criterion=c) for f, c in missing[:20]],
        scope_ratings=dict(sorted(scope_ratings(by_facility).items(), key=lambda i: _key(i[0]))),
        ratings=[RatingRead(facility=public_ids[r.facility_id], criterion=r.criterion_number,
                            rating=Rating(r.rating), reason=r.reason,
                            notes=r.notes if confidential else "",
                            evidence_ids=[uuid.UUID(i) for i in r.evidence_ids],
                            rated_at=r.rated_at) for r in rows])


def list_ratings(db: Session, actor: Actor | None, audit_id: uuid.UUID) -> RatingsRead:
    """The ratings so far, the scope rating of each criterion, and what is still unrated
    (working notes only for the auditors and the secretariat)."""
    actor = require(actor, action="see audit ratings")
    return ratings_read(db, actor, load_audit(db, actor, audit_id))


def rate(db: Session, actor: Actor | None, audit_id: uuid.UUID,
         data: RatingBatch, *, today: date | None = None) -> RatingsRead:
    """Rate applicable criteria per facility (all or nothing). A non-conformance at one
    facility is a finding of the whole scope, kept at the worst severity."""
    actor = require(actor, Role.AUDITOR, action="rate criteria")
    audit = load_audit(db, actor, audit_id)
    _require_firm_auditor(actor, audit, "rate this audit")
    if audit.status != AuditStatus.IN_PROGRESS:
        raise Conflict(f"the audit is {labels.lower(audit.status)}; ratings change only while "
                       "it is in progress", field="status")
    _require_open(audit, today_or(today))
    scope = repo.scope_by_id(db, audit.scope_id)
    assert scope is not None
    facilities = _facility_ids(db, scope)
    applicable = scope_applicability(db, scope)
    numbers = set(applicable.numbers)
    seen: set[tuple[str, str]] = set()
    for i, item in enumerate(data.ratings):
        where = f"ratings.{i}"
        public_id = _pid(item.facility)
        if public_id not in facilities:
            raise InvalidInput(f"facility {item.facility} is not in the audit's scope",
                               field=f"{where}.facility")
        if item.criterion not in numbers:
            why = applicable.reason(item.criterion) or "the version has no such criterion"
            raise InvalidInput(f"criterion {item.criterion} does not apply to this scope "
                               f"({why})", field=f"{where}.criterion")
        if (public_id, item.criterion) in seen:
            raise InvalidInput(f"criterion {item.criterion} at {public_id} is rated twice",
                               field=f"{where}.criterion")
        seen.add((public_id, item.criterion))
        if item.rating is not Rating.CONFORMANCE and not item.reason:
            need = ("why it does not apply" if item.rating is Rating.NOT_APPLICABLE
                    else "the non-conformance found")
            raise InvalidInput(f"criterion {item.criterion} at {public_id}: give {need}",
                               field=f"{where}.reason")
        evidence_service.check_refs(db, audit.organization_id, item.evidence_ids,
                                    field=f"{where}.evidence_ids")
    existing = {(r.facility_id, r.criterion_number): r for r in repo.ratings_of(db, audit.id)}
    for item in data.ratings:
        public_id = _pid(item.facility)
        key = (facilities[public_id], item.criterion)
        row = existing.get(key)
        if row is None:
            row = AuditRating(organization_id=audit.organization_id, audit_id=audit.id,
                              facility_id=key[0], criterion_number=item.criterion)
            db.add(row)
            existing[key] = row
        row.rating = item.rating.value
        row.reason = item.reason
        row.notes = item.notes
        row.evidence_ids = [str(e) for e in dict.fromkeys(item.evidence_ids)]
        row.rated_by = actor.ref
    db.flush()
    eventlog.append(db, actor, "assurance.audit.rated", f"audit:{audit.id}", {
        "ratings": [[_pid(i.facility), i.criterion, i.rating.value] for i in data.ratings]})
    names = {fid: pid for pid, fid in facilities.items()}
    findings.refresh(db, actor, audit, sorted({c for _, c in seen}, key=_key),
                     list(existing.values()), names, policy=DEFAULT_POLICY)
    return ratings_read(db, actor, audit)


def _pid(raw: str) -> str:
    return raw.strip().upper().replace("-", "").replace(" ", "")


def submit_report(db: Session, actor: Actor | None, audit_id: uuid.UUID,
                  data: ReportSubmit, *, today: date | None = None) -> AuditRead:
    """The lead auditor submits the report with a proposed maturity and a public summary,
    on or after the audit's last day; refused while any applicable criterion is unrated
    at any facility."""
    actor = require(actor, Role.AUDITOR, action="submit audit reports")
    audit = load_audit(db, actor, audit_id)
    _require_firm_auditor(actor, audit, "submit this report")
    lead = repo.auditors_by_ids(db, [audit.lead_auditor_id]).get(audit.lead_auditor_id)
    if lead is None or lead.email.lower() != actor.email.lower():
        raise Forbidden("only the audit's lead auditor"
                        + (f" ({lead.name})" if lead else "") + " submits the report")
    if audit.status != AuditStatus.IN_PROGRESS:
        raise Conflict(f"the audit is {labels.lower(audit.status)}, not in progress",
                       field="status")
    if today_or(today) < audit.end_on:
        raise Conflict(f"the audit's last day is {audit.end_on}; submit the report on or "
                       "after it", field="end_on")
    ratings = ratings_read(db, actor, audit)
    unrated = ratings.progress.required - ratings.progress.rated
    if unrated:
        first = ", ".join(f"{m.criterion} at {m.facility}" for m in ratings.missing[:5])
        raise Conflict(f"{unrated} criterion rating(s) are missing, e.g. {first}",
                       field="ratings",
                       details=[{"field": "ratings", "facility": m.facility,
                                 "criterion": m.criterion, "message": "not rated"}
                                for m in ratings.missing[:5]])
    audit.proposed_maturity = data.proposed_maturity.value
    audit.public_summary = data.public_summary
    audit.submitted_at = utcnow()
    audit.reviewed_at = None
    audit.reviewed_by = None
    _move(db, actor, audit, AuditStatus.SUBMITTED,
          {"proposed_maturity": audit.proposed_maturity,
           "scope_ratings": ratings.scope_ratings})
    return reads(db, [audit])[0]


def _key(number: str) -> tuple[int, ...]:
    return tuple(int(p) for p in number.split(".") if p.isdecimal())
