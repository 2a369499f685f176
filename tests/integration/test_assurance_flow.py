"""The assurance flow through the services on a real database: scope, self-assessment,
evidence, audit, ratings, findings, report, review, decision, certificate, the register,
due dates and good standing; and the refusals along the way."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from stewardship.assurance.rules import AuditType, Maturity, Outcome, Rating, add_months
from stewardship.assurance.schemas import (
    AnswerWrite,
    AuditCreate,
    ClosureVerify,
    CorrectivePlan,
    FindingQuery,
    Note,
    PlanSubmit,
    RatingBatch,
    ReportSubmit,
)
from stewardship.assurance.service import (
    audits,
    certificates,
    decisions,
    dues,
    evidence,
    findings,
    register,
    self_assessment,
)
from stewardship.core.errors import Conflict, Forbidden
from stewardship.core.eventlog import verify_chain
from stewardship.core.pagination import PageParams
from stewardship.registry.rules import add_years
from stewardship.registry.service import organizations
from tests import assurance_world as aw
from tests import factories
from tests.today import TODAY


def _answer_everything(db: Session, w: aw.World, assessment_id: uuid.UUID,
                       numbers: list[str], evidence_id: uuid.UUID) -> None:
    for n in numbers:
        self_assessment.answer(db, w.member_user, assessment_id, n, AnswerWrite(
            rating=Rating.CONFORMANCE, narrative=f"Procedure for {n} in place",
            evidence_ids=[evidence_id]))


def test_the_whole_flow_from_scope_to_certificate(db: Session) -> None:
    w = aw.build(db)
    org = organizations.get_organization(db, None, w.org)
    assert org.standing == "overdue"  # joined_on: JOINED_ON, past the deadline, no certificate

    # 1. the scope and its applicable criteria
    s = aw.scope(db, w)
    numbers = aw.applicable(s)
    assert s.applicable_count == len(numbers) > 40
    assert s.standard.kind == "performance" and s.standard.version == 3
    assert {f.id for f in s.facilities} == {w.smelter, w.casthouse}
    reasons = {c.number: c for c in s.criteria}
    assert reasons["5.2"].applicable and reasons["5.2"].reason == "applies to smelting"
    assert not reasons["8.7"].applicable
    assert reasons["8.7"].reason == "none of the scope's activities"

    # 2. evidence and the self-assessment
    stored = evidence.upload(db, w.member_user, filename="energy.csv",
                             declared_type="text/csv", data=aw.CSV,
                             effective_on=TODAY - timedelta(days=30), max_bytes=10_000)
    assert stored.content_type == "text/csv" and not stored.already_stored
    again = evidence.upload(db, w.admin, filename="copy.csv", declared_type="text/csv",
                            data=aw.CSV, effective_on=TODAY - timedelta(days=90), max_bytes=10_000)
    assert again.already_stored and again.id == stored.id and again.filename == "energy.csv"
    assessment_id = s.self_assessment_id
    assert assessment_id is not None
    sa = self_assessment.get_self_assessment(db, w.admin, assessment_id)
    assert (sa.progress.answered, sa.progress.applicable) == (0, len(numbers))
    _answer_everything(db, w, assessment_id, numbers[:5], stored.id)
    self_assessment.answer(db, w.admin, assessment_id, numbers[5], AnswerWrite(
        rating=Rating.NOT_APPLICABLE, narrative="No such process at our sites"))
    sa = self_assessment.get_self_assessment(db, w.admin, assessment_id)
    assert sa.progress.answered == 6
    assert sa.progress.percent == round(600 / len(numbers))
    first = sa.items[0].answer
    assert first is not None and [e.filename for e in first.evidence] == ["energy.csv"]
    rows = self_assessment.export_rows(db, w.admin, assessment_id)
    assert rows[0][0] == "criterion" and len(rows) == len(numbers) + 1
    assert rows[1][3] == "conformance" and rows[1][5] == "energy.csv"
    assert rows[1][6] == (TODAY - timedelta(days=30)).isoformat()
    assert rows[-1][3] == ""

    # 3. the audit: plan, notice, start
    start_on = TODAY - timedelta(days=20)
    audit = audits.plan_audit(db, w.admin, AuditCreate(
        scope_id=s.id, audit_firm=w.firm, lead_auditor_id=w.lead_auditor_id,
        audit_type=AuditType.CERTIFICATION, start_on=start_on,
        end_on=start_on + timedelta(days=3)))
    assert audit.status == "planned" and audit.notice_required
    assert audit.plan_due_by == start_on - timedelta(days=42)
    with pytest.raises(Conflict) as refused:
        audits.start_audit(db, w.auditor, audit.id)
    assert refused.value.details[0]["field"] == "plan_submitted_on"
    audits.submit_plan(db, w.admin, audit.id, PlanSubmit(plan="Two sites over four days."),
                       today=start_on - timedelta(days=42))
    started = audits.start_audit(db, w.auditor, audit.id)
    assert started.status == "in_progress"
    assert started.progress is None

    # 4. ratings: a major at the smelter only is a finding of the whole scope
    items = aw.ratings_for(s, majors=1, minors=2, at=w.smelter)
    half = len(items) // 2
    after = audits.rate(db, w.co_auditor, audit.id, RatingBatch(ratings=items[:half]))
    assert after.progress.rated == half
    with pytest.raises(Conflict) as incomplete:
        audits.submit_report(db, w.auditor, audit.id, ReportSubmit(
            proposed_maturity=Maturity.HIGH, public_summary="x" * 30))
    missing = len(items) - half
    assert f"{missing} criterion rating(s) are missing" in incomplete.value.message
    assert [d.get("criterion") for d in incomplete.value.details[1:]] == numbers[:5]
    audits.rate(db, w.auditor, audit.id, RatingBatch(ratings=items[half:]))
    found = findings.list_findings(db, w.admin, audit.id)
    assert [(f.criterion, f.severity) for f in found] == [
        (numbers[0], Rating.MAJOR), (numbers[1], Rating.MINOR), (numbers[2], Rating.MINOR)]
    major = found[0]
    assert major.plan_due_on == add_months(audit.end_on, 1)
    assert major.closure_due_on == add_months(audit.end_on, 12)
    assert found[1].closure_due_on == add_months(audit.end_on, 24)
    assert "gap found" in major.description
    ratings = audits.list_ratings(db, w.admin, audit.id)
    assert ratings.scope_ratings[numbers[0]] is Rating.MAJOR
    assert ratings.progress.rated == ratings.progress.required == len(numbers) * 2
    assert all(r.notes == "" for r in ratings.ratings)

    # corrective action plan and closure
    with pytest.raises(Conflict):
        findings.verify_closure(db, w.auditor, major.id, ClosureVerify(note="seen"))
    findings.file_corrective_plan(db, w.admin, major.id,
                                  CorrectivePlan(plan="Retrain staff and revise the procedure"))
    closed = findings.verify_closure(db, w.co_auditor, major.id,
                                     ClosureVerify(note="Procedure revised; records seen"))
    assert closed.status == "closed" and closed.closed_at is not None

    # 5. report, review, decision
    with pytest.raises(Forbidden):
        audits.submit_report(db, w.co_auditor, audit.id, ReportSubmit(
            proposed_maturity=Maturity.HIGH, public_summary="x" * 30))
    audits.submit_report(db, w.auditor, audit.id, ReportSubmit(
        proposed_maturity=Maturity.HIGH, public_summary="Both sites audited; one major "
                                                        "non-conformity, since closed."))
    with pytest.raises(Conflict) as unreviewed:
        decisions.decide_audit(db, w.secretariat, audit.id, Note())
    assert "review" in unreviewed.value.message
    decisions.review_report(db, w.secretariat, audit.id, Note(note="complete"))
    with pytest.raises(Conflict):
        decisions.review_report(db, w.secretariat, audit.id, Note())
    decision = decisions.decide_audit(db, w.secretariat, audit.id, Note(note="ok"))
    assert decision.outcome is Outcome.PROVISIONAL
    assert (decision.majors, decision.minors) == (1, 2)
    assert decision.maturity is Maturity.LOW
    cert = decision.certificate
    assert cert is not None
    assert cert.number == f"STW-PS-{TODAY.year}-0001"
    assert cert.certificate_type == "provisional" and cert.status == "active"
    assert (cert.valid_from, cert.valid_until) == (TODAY, decision.valid_until)
    assert cert.valid_until == add_years(TODAY, 1) - timedelta(days=1)
    assert cert.activities == ["casthouse", "smelting"] and cert.countries == ["DE", "NO"]

    # 6. the certificate, public
    read = certificates.get_certificate(db, cert.number)
    assert [(h.from_status, h.to_status) for h in read.history] == [(None, "active")]
    assert {f.id for f in read.facilities} == {w.smelter, w.casthouse}
    document = certificates.certificate_document(db, cert.number)
    assert document.digest and document.number == cert.number
    summary = register.audit_summary(db, audit.id)
    assert summary.outcome is Outcome.PROVISIONAL and summary.majors == 1
    assert summary.certificate_number == cert.number
    assert "gap found" not in summary.model_dump_json()  # no working detail
    public = register.list_findings(db, PageParams(1, 50), FindingQuery(rating="major"))
    assert public.counts == {"major": 1, "minor": 0}
    assert [f.criterion for f in public.items] == [numbers[0]]

    # 7./8. due dates and good standing
    due = dues.due_dates(db, w.admin)
    kinds = {(d.kind, d.certificate_number or d.finding_id) for d in due}
    assert ("recertification", cert.number) in kinds
    assert ("corrective_plan", found[1].id) in kinds and ("finding_closure", major.id) \
        not in kinds
    assert all(not d.overdue for d in due if d.kind == "recertification")
    assert organizations.get_organization(db, None, w.org).standing == "certified"
    assert w.org not in [m.organization.slug for m in dues.overdue_members(db, w.secretariat)]

    # every step is in the tamper-evident log, in order
    kinds = [k for k in factories.event_kinds(db) if k.startswith("assurance.")]
    expected = ["assurance.scope.created", "assurance.evidence.uploaded",
                "assurance.self_assessment.answered", "assurance.audit.planned",
                "assurance.audit.plan_submitted", "assurance.audit.in_progress",
                "assurance.audit.rated", "assurance.finding.raised",
                "assurance.finding.plan_submitted", "assurance.finding.closed",
                "assurance.audit.submitted", "assurance.audit.reviewed",
                "assurance.certificate.issued", "assurance.audit.decided"]
    position = 0
    for kind in kinds:
        if position < len(expected) and kind == expected[position]:
            position += 1
    assert position == len(expected), (expected[position:], kinds)
    assert kinds.count("assurance.evidence.uploaded") == 1
    assert kinds.count("assurance.finding.raised") == 3
    assert kinds.count("assurance.self_assessment.answered") == 6
    assert verify_chain(db).ok
