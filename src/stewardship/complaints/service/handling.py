"""The secretariat's side: assign a case, move it on, resolve it with sanctions, record the
respondent's agreement to publish, read the files.

Sanctions that change another context go through that context's service, never its
tables: suspending or terminating a membership calls the registry's
``organizations.change_status``; withdrawing an accreditation calls
``audit_firms.set_status``; suspending a certificate calls assurance's
``certificates.suspend_for_sanction`` (the certificate named in the resolution, or every
current one of the member), which puts the complaint in the certificate's public history
and the event log.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy.orm import Session

from stewardship.assurance.service import certificates
from stewardship.complaints import repository as repo
from stewardship.complaints.models import Complaint, ComplaintAttachment
from stewardship.complaints.rules import (
    VERBS,
    ComplaintStatus,
    Sanction,
    SubjectKind,
    appeal_problem,
    close_problem,
    may_transition,
    next_due,
    sanctions_problem,
)
from stewardship.complaints.schemas import ComplaintCase, ComplaintRead, TransitionRequest
from stewardship.complaints.service.cases import (
    add_step,
    clock,
    is_public,
    is_respondent,
    load,
    refreshed,
    schedule_of,
    subject_ref,
    to_case,
    to_read,
)
from stewardship.core import eventlog
from stewardship.core.auth import Actor, Role, require
from stewardship.core.config import Settings
from stewardship.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from stewardship.registry.rules import OrganizationStatus
from stewardship.registry.service import audit_firms, organizations


def _certificates(db: Session, actor: Actor, case: Complaint, reason: str,
                  number: str | None) -> str:
    org = case.organization
    assert org is not None
    numbers = certificates.suspend_for_sanction(db, actor, org.id, reason, number=number)
    if not numbers:
        return f"{org.name} holds no current certificate to suspend."
    return f"Certificate(s) of {org.name} suspended: {', '.join(numbers)}."


def suspendable_certificates(db: Session, actor: Actor | None,
                             reference: str) -> list[tuple[str, str]]:
    """(number, description) of the respondent member's certificates that are active
    today: what the resolution form offers to suspend (secretariat)."""
    actor = require(actor, Role.SECRETARIAT, action="handle complaints")
    case = load(db, reference)
    if case.organization_id is None:
        return []
    return [(c.number, f"{c.number}: {c.standard.title} v{c.standard.version}, valid until "
                       f"{c.valid_until:%d %b %Y}")
            for c in certificates.current_of(db, case.organization_id)]


def assign(db: Session, actor: Actor | None, reference: str, owner_id: uuid.UUID | None, *,
           settings: Settings, now: datetime | None = None) -> ComplaintRead:
    """Make a secretariat user the owner of a case, or leave it unassigned."""
    actor = require(actor, Role.SECRETARIAT, action="assign complaints")
    moment, today = clock(now)
    case = load(db, reference, lock=True)
    if case.status == ComplaintStatus.CLOSED:
        raise Conflict("a closed case is not assigned any more", field="owner")
    owner = None
    if owner_id is not None:
        owner = repo.secretariat_user(db, owner_id)
        if owner is None:
            raise InvalidInput("the owner must be an active secretariat user", field="owner")
    if case.owner_id != owner_id:
        case.owner_id = owner_id
        add_step(db, case, kind="assigned", from_status=case.status,
                 note=f"Assigned to {owner.name}." if owner else "Unassigned.", public=False,
                 actor_role="secretariat", actor_ref=actor.ref, at=moment)
        eventlog.append(db, actor, "complaints.complaint.assigned",
                        f"complaint:{case.reference}", {"owner": owner_id})
        case = refreshed(db, case)
    return to_read(case, today, schedule_of(settings))


def _membership(db: Session, actor: Actor, case: Complaint, target: OrganizationStatus,
                reason: str) -> str:
    org = case.organization
    assert org is not None
    verb = "suspended" if target is OrganizationStatus.SUSPENDED else "terminated"
    if org.status == target.value or org.status == OrganizationStatus.TERMINATED:
        return f"Membership of {org.name} not {verb}: it is {org.status} already."
    organizations.change_status(db, actor, org.slug, target, reason)
    return f"Membership of {org.name} {verb}."


def _apply_sanctions(db: Session, actor: Actor, case: Complaint, sanctions: list[Sanction],
                     certificate: str | None = None) -> list[str]:
    """Carry out the sanctions that act on other contexts; what happened, line by line."""
    reason = f"sanction decided in complaint {case.reference}"
    lines = []
    for sanction in sanctions:
        if sanction is Sanction.SUSPEND_MEMBERSHIP:
            lines.append(_membership(db, actor, case, OrganizationStatus.SUSPENDED, reason))
        elif sanction is Sanction.TERMINATE_MEMBERSHIP:
            lines.append(_membership(db, actor, case, OrganizationStatus.TERMINATED, reason))
        elif sanction is Sanction.SUSPEND_CERTIFICATE:
            lines.append(_certificates(db, actor, case, reason, certificate))
        elif sanction is Sanction.WITHDRAW_ACCREDITATION:
            firm = case.audit_firm
            assert firm is not None
            if firm.status == "withdrawn":
                lines.append(f"Accreditation of {firm.name} is withdrawn already.")
            else:
                audit_firms.set_status(db, actor, firm.slug, "withdrawn", reason)
                lines.append(f"Accreditation of {firm.name} withdrawn.")
    return lines


def _check_transition(case: Complaint, data: TransitionRequest, today: date,
                      settings: Settings) -> None:
    """Refuse a move the rules do not allow, before anything changes."""
    current, target = ComplaintStatus(case.status), data.to
    schedule = schedule_of(settings)
    if not may_transition(current, target):
        allowed = ", ".join(s.value for s in ComplaintStatus if may_transition(current, s))
        raise Conflict(f"a case that is {current.label.lower()} cannot move to "
                       f"{target.value}" + (f" (it can move to: {allowed})" if allowed
                                            else " (it is closed)"), field="to")
    appealed = case.appealed_on is not None
    if target is ComplaintStatus.APPEALED:
        problem = appeal_problem(current, case.status_since, today,
                                 already_appealed=appealed, schedule=schedule)
        if problem:
            raise Conflict(problem, field="to")
    if target is ComplaintStatus.CLOSED:
        problem = close_problem(current, case.status_since, today,
                                already_appealed=appealed, schedule=schedule)
        if problem:
            raise Conflict(problem, field="to")
    if target is ComplaintStatus.RESOLVED:
        if not (data.outcome or "").strip():
            raise InvalidInput("a resolution needs its outcome in words", field="outcome")
        problem = sanctions_problem(data.sanctions or [], SubjectKind(case.subject_kind))
        if problem:
            raise InvalidInput(problem, field="sanctions")
        if data.certificate and Sanction.SUSPEND_CERTIFICATE not in (data.sanctions or []):
            raise InvalidInput("name a certificate only with the sanction "
                               "'Suspend certificate'", field="certificate")
    else:
        if (data.outcome or "").strip():
            raise InvalidInput("only a resolution carries an outcome", field="outcome")
        if data.sanctions:
            raise InvalidInput("only a resolution carries sanctions", field="sanctions")
        if data.certificate:
            raise InvalidInput("only a resolution suspends a certificate", field="certificate")
    needs_note = (target is ComplaintStatus.OUT_OF_SCOPE
                  or (current is ComplaintStatus.APPEALED and target is ComplaintStatus.CLOSED))
    if needs_note and not data.note.strip():
        what = ("why the complaint is out of scope" if target is ComplaintStatus.OUT_OF_SCOPE
                else "why the appeal is dismissed")
        raise InvalidInput(f"say in the note {what}", field="note")


def transition(db: Session, actor: Actor | None, reference: str, data: TransitionRequest, *,
               settings: Settings, now: datetime | None = None) -> ComplaintRead:
    """Move a case on (secretariat). The new status gets its due date from the schedule;
    resolving records the outcome and sanctions and carries the sanctions out."""
    actor = require(actor, Role.SECRETARIAT, action="move complaints on")
    moment, today = clock(now)
    schedule = schedule_of(settings)
    case = load(db, reference, lock=True)
    _check_transition(case, data, today, settings)
    current, target = ComplaintStatus(case.status), data.to
    effects: list[str] = []
    payload: dict[str, object] = {"from": current.value, "to": target.value}
    if target is ComplaintStatus.RESOLVED:
        sanctions = list(data.sanctions or [])
        effects = _apply_sanctions(db, actor, case, sanctions, data.certificate or None)
        case.outcome = (data.outcome or "").strip()
        case.sanctions = [s.value for s in sanctions]
        payload.update(sanctions=case.sanctions, subject=subject_ref(case))
    if target is ComplaintStatus.APPEALED:
        case.appealed_on = today
        payload["by"] = "secretariat"
    case.status, case.status_since = target.value, today
    case.due_on = next_due(target, today, schedule)
    payload["due_on"] = case.due_on
    note = "\n".join(part for part in [data.note.strip(), *effects] if part)
    add_step(db, case, kind="transition", from_status=current.value, note=note,
             public=data.public_note, actor_role="secretariat", actor_ref=actor.ref, at=moment)
    eventlog.append(db, actor, f"complaints.complaint.{VERBS[target]}",
                    f"complaint:{case.reference}", payload)
    return to_read(refreshed(db, case), today, schedule)


def set_respondent_consent(db: Session, actor: Actor | None, reference: str, consent: bool, *,
                           settings: Settings,
                           now: datetime | None = None) -> ComplaintRead | ComplaintCase:
    """Record that the respondent agrees (or no longer agrees) to publish the case log.

    The secretariat records it for any respondent (it speaks for itself and receives an
    audit firm's answer); a member admin of the organisation complained about gives it
    directly. Other users of that organisation are refused; anyone else is told there is
    no such case.
    """
    actor = require(actor, action="answer for the respondent")
    moment, today = clock(now)
    case = load(db, reference, lock=True)
    by_admin = case.organization_id is not None and actor.is_admin_of(case.organization_id)
    if not (actor.is_secretariat() or by_admin):
        if is_respondent(actor, case):
            raise Forbidden("only the organisation's admins may answer for it")
        if not is_public(case):
            raise NotFound(f"no complaint {reference}", field="reference")
        raise Forbidden("only the respondent or the secretariat may answer for the respondent")
    if case.consent_respondent != consent:
        case.consent_respondent = consent
        who = "The respondent" if by_admin else "The secretariat recorded that the respondent"
        note = (f"{who} agrees that the case log may be published." if consent
                else f"{who} withdrew the agreement to publish the case log.")
        add_step(db, case, kind="consent", from_status=case.status, note=note, public=True,
                 actor_role="respondent" if by_admin else "secretariat",
                 actor_ref=actor.ref, at=moment)
        eventlog.append(db, actor, f"complaints.consent.{'given' if consent else 'withdrawn'}",
                        f"complaint:{case.reference}",
                        {"party": "respondent", "public": consent and case.consent_complainant})
        case = refreshed(db, case)
    if actor.is_secretariat():
        return to_read(case, today, schedule_of(settings))
    return to_case(case, today)


def attachment(db: Session, actor: Actor | None, reference: str,
               attachment_id: uuid.UUID) -> ComplaintAttachment:
    """One file of a case, with its bytes (secretariat)."""
    require(actor, Role.SECRETARIAT, action="read complaint attachments")
    case = load(db, reference)
    found = repo.attachment_with_data(db, case.id, attachment_id)
    if found is None:
        raise NotFound("no such attachment on this case", field="attachment_id")
    return found
