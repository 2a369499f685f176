"""The dashboards' to-do reads on a real database (SQLite, and PostgreSQL where one
answers): what each counts, in which order, and that a member only ever counts its own."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from stewardship.assurance.models import Certificate, Finding
from stewardship.assurance.rules import Rating
from stewardship.assurance.schemas import AnswerWrite
from stewardship.assurance.service import self_assessment
from stewardship.assurance.service import todo as assurance_todo
from stewardship.complaints.models import Complaint
from stewardship.complaints.rules import SubjectKind
from stewardship.complaints.schemas import ComplaintCreate
from stewardship.complaints.service import filing
from stewardship.complaints.service import todo as complaints_todo
from stewardship.core.auth import Role
from stewardship.core.config import Settings
from stewardship.core.errors import Forbidden
from stewardship.custody.models import CocDocument
from stewardship.custody.service import todo as custody_todo
from tests import assurance_world as aw
from tests import custody_world as cw
from tests import factories
from tests.today import TODAY


def _issued_days_ago(db: Session, number: str, days: int) -> None:
    """Back-date when a document was issued (the services stamp the present)."""
    moment = datetime.combine(TODAY - timedelta(days=days), time(9), tzinfo=UTC)
    db.execute(update(CocDocument).where(CocDocument.number == number)
               .values(issued_at=moment))
    db.flush()


# --- custody ----------------------------------------------------------------------------


def test_documents_waiting_for_receipt_are_the_members_own_oldest_first(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 9_000, on=TODAY - timedelta(days=60))
    older = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 1_000, on=TODAY - timedelta(days=50))
    newer = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 2_000, on=TODAY - timedelta(days=20))
    elsewhere = cw.ship(db, w.smelter, w.remelter, "asi_aluminium", 500,
                        on=TODAY - timedelta(days=50))
    _issued_days_ago(db, older, 48)
    _issued_days_ago(db, newer, 19)
    _issued_days_ago(db, elsewhere, 49)

    waiting = custody_todo.waiting_for_receipt(db, w.mill.user, today=TODAY)
    assert waiting.total == 2
    assert [d.number for d in waiting.oldest] == [older, newer]
    assert [d.days_waiting for d in waiting.oldest] == [48, 19]
    assert waiting.oldest[0].coc_quantity_kg == 1_000
    assert waiting.oldest[0].issuer_organization.startswith("Fjell Aluminium")
    assert waiting.url == "/custody/documents?direction=incoming&status=issued"
    # Only one shown: the count still says two.
    one = custody_todo.waiting_for_receipt(db, w.mill.admin, shown=1, today=TODAY)
    assert one.total == 2 and [d.number for d in one.oldest] == [older]
    # The remelter counts only its own; the issuer has nothing to receive.
    assert [d.number for d in custody_todo.waiting_for_receipt(
        db, w.remelter.user, today=TODAY).oldest] == [elsewhere]
    assert custody_todo.waiting_for_receipt(db, w.smelter.user, today=TODAY).total == 0
    # Received: no longer waiting.
    cw.receive(db, w.mill, older)
    after = custody_todo.waiting_for_receipt(db, w.mill.user, today=TODAY)
    assert after.total == 1 and [d.number for d in after.oldest] == [newer]
    with pytest.raises(Forbidden):
        custody_todo.waiting_for_receipt(db, w.secretariat)


def test_unmatched_documents_are_counted_after_the_days_since_shipment(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 9_000, on=TODAY - timedelta(days=60))
    cw.ship(db, w.smelter, w.mill, "asi_aluminium", 1_000, on=TODAY - timedelta(days=31))
    cw.ship(db, w.smelter, w.remelter, "asi_aluminium", 1_000, on=TODAY - timedelta(days=45))
    cw.ship(db, w.smelter, w.mill, "asi_aluminium", 1_000, on=TODAY - timedelta(days=30))
    received = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 1_000,
                       on=TODAY - timedelta(days=40))
    cw.receive(db, w.mill, received)
    result = custody_todo.unmatched(db, w.secretariat, today=TODAY)
    # Shipped 31 and 45 days ago and still issued; 30 days is not yet "after 30 days".
    assert result.total == 2 and result.days == 30
    assert result.shipped_to == TODAY - timedelta(days=31)
    assert result.url == ("/custody/documents?status=issued&shipped_to="
                          f"{(TODAY - timedelta(days=31)).isoformat()}")
    assert custody_todo.unmatched(db, w.secretariat, days=40, today=TODAY).total == 1
    with pytest.raises(Forbidden):
        custody_todo.unmatched(db, w.mill.admin)


# --- assurance --------------------------------------------------------------------------


def test_certificate_alerts_name_suspended_and_soon_ending_ones_of_the_member(
        db: Session) -> None:
    w = cw.build(db, certified=False)
    soon = cw.add_member(db, w, "Soon Casting", "DE", ["casthouse"], certified=False)
    ending = cw.certify(db, w, soon, "performance", valid_until=TODAY + timedelta(days=90))
    suspended = cw.certify(db, w, soon, "chain_of_custody")
    db.execute(update(Certificate).where(Certificate.number == suspended)
               .values(status="suspended"))
    fine = cw.add_member(db, w, "Fine Casting", "DE", ["casthouse"], certified=False)
    cw.certify(db, w, fine, "performance", valid_until=TODAY + timedelta(days=91))
    cw.certify(db, w, fine, "chain_of_custody", valid_until=TODAY - timedelta(days=1))
    # An older certificate about to end, replaced by a newer one: not named.
    renewed = cw.add_member(db, w, "Renewed Casting", "DE", ["casthouse"], certified=False)
    cw.certify(db, w, renewed, "performance", valid_from=TODAY - timedelta(days=1000),
               valid_until=TODAY + timedelta(days=10))
    cw.certify(db, w, renewed, "performance", valid_from=TODAY - timedelta(days=5))
    db.flush()

    alerts = assurance_todo.certificate_alerts(db, soon.user, today=TODAY)
    assert [(a.number, a.status) for a in alerts] == [(suspended, "suspended"),
                                                      (ending, "active")]
    assert alerts[0].suspended and alerts[1].days_left == 90
    assert alerts[1].standard == "Performance"
    assert assurance_todo.certificate_alerts(db, fine.admin, today=TODAY) == []
    assert assurance_todo.certificate_alerts(db, renewed.admin, today=TODAY) == []
    with pytest.raises(Forbidden):
        assurance_todo.certificate_alerts(db, w.secretariat)


def test_corrective_actions_with_their_step_and_due_date(db: Session) -> None:
    w = aw.build(db)
    s = aw.scope(db, w)
    aw.certify(db, w, s, majors=1, minors=1)
    actions = assurance_todo.corrective_actions(db, w.admin, today=TODAY)
    assert len(actions) == 2 and {a.severity for a in actions} == {"major", "minor"}
    assert all(a.step == "plan" and not a.overdue for a in actions)
    assert all(a.organization.slug == w.org for a in actions)
    # Past the plan's due date: overdue, and first.
    db.execute(update(Finding).where(Finding.severity == "minor",
                                     Finding.organization_id == w.admin.organization_id)
               .values(plan_due_on=TODAY - timedelta(days=3)))
    actions = assurance_todo.corrective_actions(db, w.member_user, today=TODAY)
    assert actions[0].severity == "minor" and actions[0].overdue
    assert actions[0].days_left == -3 and not actions[1].overdue
    assert "Corrective action plan for the minor non-conformity" in actions[0].label
    # Plan filed: the closure is what is due now.
    db.execute(update(Finding).where(Finding.severity == "major",
                                     Finding.organization_id == w.admin.organization_id)
               .values(status="plan_submitted"))
    major = next(a for a in assurance_todo.corrective_actions(db, w.admin, today=TODAY)
                 if a.severity == "major")
    assert major.step == "closure" and major.due_on > TODAY
    # Another member counts none of them; the secretariat counts them all.
    assert assurance_todo.corrective_actions(db, w.other_admin, today=TODAY) == []
    everyone = assurance_todo.corrective_actions(db, w.secretariat, today=TODAY)
    assert {a.finding_id for a in actions} <= {a.finding_id for a in everyone}
    with pytest.raises(Forbidden):
        assurance_todo.corrective_actions(db, w.auditor)


def test_scope_steps_show_self_assessment_progress_and_the_audit_step(db: Session) -> None:
    w = aw.build(db)
    s = aw.scope(db, w)
    applicable = len(aw.applicable(s))
    [step] = assurance_todo.scope_steps(db, w.admin)
    assert (step.answered, step.applicable, step.audit) == (0, applicable, None)
    assert not step.complete and step.self_assessment_id == s.self_assessment_id
    assert s.self_assessment_id is not None
    for number in aw.applicable(s)[:2]:
        self_assessment.answer(db, w.admin, s.self_assessment_id, number,
                               AnswerWrite(rating=Rating.CONFORMANCE))
    # An initial audit of a smelter: the plan is due six weeks ahead, from the member.
    audit_id = aw.plan(db, w, s.id, start_on=TODAY + timedelta(days=70))
    [step] = assurance_todo.scope_steps(db, w.member_user)
    assert step.answered == 2 and step.audit is not None
    assert step.audit.audit_id == audit_id and step.audit.status == "planned"
    assert step.audit.member_action == "send the audit plan to the secretariat"
    assert step.audit.due_on == TODAY + timedelta(days=70 - 42)
    assert step.audit.firm.startswith("Nordic Assurance")
    assert assurance_todo.scope_steps(db, w.other_admin) == []


def test_audits_awaiting_review_are_the_submitted_reports(db: Session) -> None:
    w = aw.build(db)
    s = aw.scope(db, w)
    before = assurance_todo.audits_awaiting_review(db, w.secretariat)
    audit_id = aw.plan(db, w, s.id)
    aw.start(db, w, audit_id)
    assert assurance_todo.audits_awaiting_review(db, w.secretariat) == before
    aw.rate_all(db, w, audit_id, s)
    aw.submit_and_review(db, w, audit_id)
    assert assurance_todo.audits_awaiting_review(db, w.secretariat) == before + 1
    with pytest.raises(Forbidden):
        assurance_todo.audits_awaiting_review(db, w.admin)


# --- complaints -------------------------------------------------------------------------


def test_open_complaints_are_those_not_closed_the_overdue_first(db: Session,
                                                                 settings: Settings) -> None:
    member = factories.organization(db, name="Riverside Refining")
    references = []
    for summary in ("Dust on the fields", "Noise at night", "Water in the cellar"):
        case, _ = filing.file_complaint(db, None, ComplaintCreate(
            subject_kind=SubjectKind.MEMBER, subject=member, summary=summary,
            description="What the village has seen for months.", anonymous=True),
            [], settings=settings, source="203.0.113.9")
        references.append(case.reference)
    db.flush()
    closed, late, waiting = references
    db.execute(update(Complaint).where(Complaint.reference == closed)
               .values(status="closed", due_on=None))
    db.execute(update(Complaint).where(Complaint.reference == late)
               .values(due_on=TODAY - timedelta(days=2)))
    db.flush()
    staff = factories.user(db, Role.SECRETARIAT)
    result = complaints_todo.open_complaints(db, staff)
    assert [c.reference for c in result.soonest] == [late, waiting]
    assert result.soonest[0].overdue and not result.soonest[1].overdue
    assert (result.total, result.overdue) == (2, 1)
    assert result.url == "/secretariat/complaints?open=yes"
    with pytest.raises(Forbidden):
        complaints_todo.open_complaints(db, factories.user(db, Role.MEMBER_ADMIN,
                                                           organization=member))
