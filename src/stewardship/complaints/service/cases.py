"""What each reader sees of a case; the secretariat's list and the public log; the
plumbing the flows share (loading a case, appending a step, the clock, the schedule)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from stewardship.complaints import repository as repo
from stewardship.complaints.models import Complaint, ComplaintStep
from stewardship.complaints.rules import (
    DUE_WHAT,
    ComplaintStatus,
    DueSchedule,
    Sanction,
    SubjectKind,
    appeal_problem,
    case_log_public,
    next_statuses,
)
from stewardship.complaints.rules import appeal_last_day as rule_appeal_last_day
from stewardship.complaints.rules import overdue as rule_overdue
from stewardship.complaints.schemas import (
    AttachmentRead,
    ComplaintCase,
    ComplaintListItem,
    ComplaintRead,
    ComplaintSummary,
    ComplaintTrack,
    OwnerRead,
    PublicStepRead,
    StepRead,
    SubjectRead,
)
from stewardship.core.auth import Actor, Role, require, system_actor
from stewardship.core.config import Settings
from stewardship.core.db import utcnow
from stewardship.core.errors import InvalidInput, NotFound
from stewardship.core.pagination import Page, PageParams

COMPLAINANT_REF = "complainant"
# Attributes the complainant's actions in the event log. Used for nothing else: it is
# never handed to a permission check.
COMPLAINANT_LOG_ACTOR = system_actor(COMPLAINANT_REF)


def schedule_of(settings: Settings) -> DueSchedule:
    """The due-date schedule: the defaults with the settings' overrides."""
    return DueSchedule().with_overrides(settings.complaint_due_days)


def clock(now: datetime | None) -> tuple[datetime, date]:
    """The moment of the action and its (UTC) day; tests and the demo pass ``now``."""
    moment = now or utcnow()
    return moment, moment.date()


def subject_label(case: Complaint) -> SubjectRead:
    kind = SubjectKind(case.subject_kind)
    if kind is SubjectKind.MEMBER and case.organization is not None:
        return SubjectRead(kind=kind, slug=case.organization.slug, name=case.organization.name)
    if kind is SubjectKind.AUDIT_FIRM and case.audit_firm is not None:
        return SubjectRead(kind=kind, slug=case.audit_firm.slug, name=case.audit_firm.name)
    return SubjectRead(kind=kind, slug=None, name="The secretariat")


def subject_ref(case: Complaint) -> str | None:
    """The subject's slug (what event log payloads name)."""
    return subject_label(case).slug


def is_public(case: Complaint) -> bool:
    return case_log_public(case.consent_complainant, case.consent_respondent)


def is_respondent(actor: Actor | None, case: Complaint) -> bool:
    """Whether the actor speaks for the party complained about."""
    if actor is None:
        return False
    if case.organization_id is not None:
        return actor.belongs_to(case.organization_id)
    if case.audit_firm_id is not None:
        return actor.role is Role.AUDITOR and actor.audit_firm_id == case.audit_firm_id
    return False


def load(db: Session, reference: str, *, lock: bool = False) -> Complaint:
    """The case, or 404; with ``lock`` its row is held until the transaction ends."""
    case = repo.by_reference(db, (reference or "").strip().upper(), lock=lock)
    if case is None:
        raise NotFound(f"no complaint {reference}", field="reference")
    return case


def add_step(db: Session, case: Complaint, *, kind: str, from_status: str | None,
             note: str, public: bool, actor_role: str, actor_ref: str,
             at: datetime) -> ComplaintStep:
    """Append one entry to the case's log, stamped with the case's current due date."""
    step = ComplaintStep(
        complaint_id=case.id, sequence=repo.last_step_sequence(db, case.id) + 1, kind=kind,
        from_status=from_status, to_status=case.status, note=note.strip(),
        note_public=public, actor_role=actor_role, actor_ref=actor_ref, at=at,
        due_on=case.due_on)
    db.add(step)
    db.flush()
    return step


def refreshed(db: Session, case: Complaint) -> Complaint:
    """The case reloaded with its steps and attachments after a change."""
    db.flush()
    return load(db, case.reference)


# --- what each reader sees --------------------------------------------------------------


def _public_steps(case: Complaint, *, own_notes: bool) -> list[PublicStepRead]:
    """Steps with only their public notes; with ``own_notes`` the complainant also sees
    the notes they wrote themselves (their appeal)."""
    out = []
    for step in case.steps:
        shown = step.note_public or (own_notes and step.actor_role == COMPLAINANT_REF)
        out.append(PublicStepRead(
            sequence=step.sequence, kind=step.kind,
            from_status=ComplaintStatus(step.from_status) if step.from_status else None,
            to_status=ComplaintStatus(step.to_status), note=step.note if shown else "",
            actor_role=step.actor_role, at=step.at, due_on=step.due_on))
    return out


def _common(case: Complaint, today: date) -> dict[str, Any]:
    status = ComplaintStatus(case.status)
    return {
        "reference": case.reference, "subject": subject_label(case), "summary": case.summary,
        "status": status, "status_label": status.label, "filed_at": case.created_at,
        "status_since": case.status_since, "due_on": case.due_on,
        "overdue": rule_overdue(case.due_on, today), "outcome": case.outcome,
        "sanctions": [Sanction(s) for s in case.sanctions or []], "public": is_public(case),
    }


def to_case(case: Complaint, today: date) -> ComplaintCase:
    return ComplaintCase(**_common(case, today),
                         steps=_public_steps(case, own_notes=False))


def _track_fields(case: Complaint, today: date, schedule: DueSchedule) -> dict[str, Any]:
    status = ComplaintStatus(case.status)
    problem = appeal_problem(status, case.status_since, today,
                             already_appealed=case.appealed_on is not None, schedule=schedule)
    return {
        "description": case.description, "anonymous": case.anonymous,
        "consent_complainant": case.consent_complainant,
        "consent_respondent": case.consent_respondent, "appeal_open": problem is None,
        "appeal_last_day": (rule_appeal_last_day(status, case.status_since, schedule)
                            if case.appealed_on is None else None),
        "attachments": [AttachmentRead.model_validate(a) for a in case.attachments],
    }


def to_track(case: Complaint, today: date, schedule: DueSchedule) -> ComplaintTrack:
    return ComplaintTrack(**_common(case, today),
                          **_track_fields(case, today, schedule),
                          steps=_public_steps(case, own_notes=True))


def _owner(case: Complaint) -> OwnerRead | None:
    return OwnerRead(id=case.owner.id, name=case.owner.name) if case.owner else None


def to_read(case: Complaint, today: date, schedule: DueSchedule) -> ComplaintRead:
    status = ComplaintStatus(case.status)
    steps = [StepRead(
        sequence=s.sequence, kind=s.kind,
        from_status=ComplaintStatus(s.from_status) if s.from_status else None,
        to_status=ComplaintStatus(s.to_status), note=s.note, note_public=s.note_public,
        actor_role=s.actor_role, actor_ref=s.actor_ref, at=s.at, due_on=s.due_on,
    ) for s in case.steps]
    return ComplaintRead(
        **_common(case, today),
        **_track_fields(case, today, schedule),
        complainant_name=case.complainant_name, complainant_email=case.complainant_email,
        complainant_affiliation=case.complainant_affiliation, owner=_owner(case),
        steps=steps, next_statuses=next_statuses(status), due_what=DUE_WHAT.get(status))


def _summary_fields(case: Complaint, today: date) -> dict[str, Any]:
    status = ComplaintStatus(case.status)
    return {"reference": case.reference, "subject": subject_label(case),
            "summary": case.summary, "status": status, "status_label": status.label,
            "filed_at": case.created_at, "due_on": case.due_on,
            "overdue": rule_overdue(case.due_on, today), "public": is_public(case)}


# --- reads ------------------------------------------------------------------------------


def get_case(db: Session, actor: Actor | None, reference: str, *, settings: Settings,
             now: datetime | None = None, full: bool = True) -> ComplaintRead | ComplaintCase:
    """The secretariat sees a case whole (or, with ``full=False``, as the public would,
    published or not); the respondent and, once both parties agreed, the public see its
    public log; anyone else is told there is no such case."""
    _, today = clock(now)
    case = load(db, reference)
    if actor is not None and actor.is_secretariat():
        return to_read(case, today, schedule_of(settings)) if full else to_case(case, today)
    if is_public(case) or is_respondent(actor, case):
        return to_case(case, today)
    raise NotFound(f"no complaint {reference}", field="reference")


def get_for_secretariat(db: Session, actor: Actor | None, reference: str, *,
                        settings: Settings, now: datetime | None = None) -> ComplaintRead:
    require(actor, Role.SECRETARIAT, action="handle complaints")
    _, today = clock(now)
    return to_read(load(db, reference), today, schedule_of(settings))


def list_complaints(db: Session, actor: Actor | None, params: PageParams, *,
                    status: str | None = None, overdue: bool = False,
                    open_only: bool = False,
                    now: datetime | None = None) -> Page[ComplaintListItem]:
    """Every case for the secretariat, soonest due first; filter by status, overdue, or
    open (not closed)."""
    require(actor, Role.SECRETARIAT, action="list complaints")
    _, today = clock(now)
    statuses = ([s.value for s in ComplaintStatus if s is not ComplaintStatus.CLOSED]
                if open_only else None)
    if status:
        try:
            statuses = [s for s in [ComplaintStatus(status).value]
                        if statuses is None or s in statuses]
        except ValueError as exc:
            raise InvalidInput(
                f"status must be one of {', '.join(s.value for s in ComplaintStatus)}",
                field="status") from exc
    page = repo.list_complaints(db, params, statuses=statuses,
                                overdue_on=today if overdue else None)
    items = [ComplaintListItem(**_summary_fields(c, today),
                               anonymous=c.anonymous, owner=_owner(c)) for c in page.items]
    return Page(items, page.total, page.page, page.per_page)


def list_public(db: Session, params: PageParams, *,
                now: datetime | None = None) -> Page[ComplaintSummary]:
    """Cases whose complainant and respondent both agreed to publish the log. Public."""
    _, today = clock(now)
    page = repo.list_complaints(db, params, public_only=True)
    items = [ComplaintSummary(**_summary_fields(c, today))
             for c in page.items]
    return Page(items, page.total, page.page, page.per_page)


def secretariat_staff(db: Session, actor: Actor | None) -> list[OwnerRead]:
    """Who may own a case (for the assignment form)."""
    require(actor, Role.SECRETARIAT, action="assign complaints")
    return [OwnerRead(id=u.id, name=u.name) for u in repo.secretariat_users(db)]
