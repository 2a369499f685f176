"""Bad input and the wrong people: clear errors, and nothing stored."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from stewardship.assurance import repository as repo
from stewardship.assurance.rules import AuditType, Rating
from stewardship.assurance.schemas import (
    AnswerWrite,
    AuditCreate,
    Note,
    PlanSubmit,
    RatingBatch,
    RatingWrite,
    Reason,
    ScopeCreate,
)
from stewardship.assurance.service import audits, decisions, evidence, scopes, self_assessment
from stewardship.core.auth import Role
from stewardship.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
)
from stewardship.core.eventlog import count_entries
from stewardship.core.pagination import PageParams
from stewardship.registry.schemas import AuditorCreate
from stewardship.registry.service import audit_firms
from stewardship.standards.schemas import ExclusionCreate
from stewardship.standards.service import library
from tests import assurance_world as aw
from tests import factories
from tests.factories import SYSTEM
from tests.today import TODAY


def _field(exc: pytest.ExceptionInfo[DomainError]) -> str:
    return str(exc.value.details[0]["field"])


def test_scope_refusals(db: Session) -> None:
    w = aw.build(db, standard=False)
    aw.load_standard(db, "performance-v2.yaml")
    aw.load_standard(db)
    base = dict(entity_id=w.entity_id, facilities=[w.smelter], activities=["smelting"],
                standard="performance", version=3)
    cases = [
        ({"activities": ["alumina_refining"]}, "activities", "alumina_refining"),
        ({"facilities": [w.smelter, w.casthouse], "activities": ["smelting"]}, "facilities",
         w.casthouse),
        ({"version": 9}, "version", "no version 9"),
        ({"standard": "unknown-standard"}, "standard", "unknown-standard"),
        ({"entity_id": factories.entity(db, w.other_org, "Other AS").id}, "entity_id",
         "not one of your"),
    ]
    other_facility = factories.facility(db, w.other_org, name="Other Plant").facility.id
    cases.append(({"facilities": [other_facility]}, "facilities", other_facility))
    events = count_entries(db)
    for change, field, words in cases:
        with pytest.raises(InvalidInput) as refused:
            scopes.create_scope(db, w.admin, ScopeCreate(**{**base, **change}))
        assert _field(refused) == field, change
        assert words in refused.value.message, refused.value.message
    assert count_entries(db) == events
    with pytest.raises(Forbidden):
        scopes.create_scope(db, w.member_user, ScopeCreate(**base))

    # a retired version: shipped v3's transition ended on 2023-06-01
    with pytest.raises(InvalidInput) as retired:
        scopes.create_scope(db, w.admin, ScopeCreate(**{**base, "version": 2}))
    assert _field(retired) == "version"
    assert "2023-06-01" in retired.value.message and "use version 3" in retired.value.message

    # members of a class that does not certify
    supporter = factories.organization(db, membership_class="civil_society")
    entity = factories.entity(db, supporter, "Watchdog eV")
    facility = factories.facility(db, supporter, name="Watchdog Office").facility.id
    admin = factories.user(db, Role.MEMBER_ADMIN, organization=supporter)
    with pytest.raises(Conflict) as not_certifying:
        scopes.create_scope(db, admin, ScopeCreate(**{**base, "entity_id": entity.id,
                                                      "facilities": [facility]}))
    assert "Civil Society" in not_certifying.value.message
    assert count_entries(db) > events  # only the setup above wrote anything


def test_exclusions_recorded_for_the_entity_are_respected(db: Session) -> None:
    w = aw.build(db)
    library.mark_not_applicable(db, w.secretariat, "performance", 3, ExclusionCreate(
        entity_id=w.entity_id, criterion="5.4", reason="Inert anode cells emit no PFCs"))
    s = aw.scope(db, w)
    row = next(c for c in s.criteria if c.number == "5.4")
    assert not row.applicable and "Inert anode cells" in row.reason
    assert "5.4" not in aw.applicable(s)


def test_audit_firm_must_be_accredited_for_the_scope(db: Session) -> None:
    w = aw.build(db)
    s = aw.scope(db, w)
    narrow = factories.audit_firm(db, name="Narrow Audits", countries=["NO"],
                                  activities=["smelting"])
    narrow_lead = audit_firms.add_auditor(db, SYSTEM, narrow, AuditorCreate(
        name="Nils Narrow", email="nils@narrow.example", lead=True))
    not_lead = audit_firms.add_auditor(db, SYSTEM, w.firm, AuditorCreate(
        name="Junior", email="junior@nordic.example", lead=False))
    start = TODAY + timedelta(days=60)
    base = dict(scope_id=s.id, audit_firm=w.firm, lead_auditor_id=w.lead_auditor_id,
                audit_type=AuditType.CERTIFICATION, start_on=start,
                end_on=start + timedelta(days=2))
    events = count_entries(db)
    with pytest.raises(InvalidInput) as unaccredited:
        audits.plan_audit(db, w.admin, AuditCreate(**{**base, "audit_firm": narrow,
                                                      "lead_auditor_id": narrow_lead.id}))
    assert _field(unaccredited) == "audit_firm"
    assert "DE" in unaccredited.value.message and "casthouse" in unaccredited.value.message
    with pytest.raises(InvalidInput) as expired:
        audits.plan_audit(db, w.admin, AuditCreate(**{
            **base, "start_on": factories.ACCREDITED_UNTIL + timedelta(days=150),
            "end_on": factories.ACCREDITED_UNTIL + timedelta(days=152)}))
    assert f"expires on {factories.ACCREDITED_UNTIL}" in expired.value.message
    for lead, words in ((not_lead.id, "not qualified to lead"),
                        (w.extra["other_lead_auditor_id"], "not an active auditor")):
        with pytest.raises(InvalidInput) as bad_lead:
            audits.plan_audit(db, w.admin, AuditCreate(**{**base, "lead_auditor_id": lead}))
        assert _field(bad_lead) == "lead_auditor_id" and words in bad_lead.value.message
    with pytest.raises(InvalidInput) as unknown:
        audits.plan_audit(db, w.admin, AuditCreate(**{**base, "audit_firm": "no-such-firm"}))
    assert _field(unknown) == "audit_firm"
    with pytest.raises(Conflict) as surveillance:
        audits.plan_audit(db, w.admin, AuditCreate(**{**base,
                                                      "audit_type": AuditType.SURVEILLANCE}))
    assert "current certificate" in surveillance.value.message
    assert count_entries(db) == events
    assert audits.list_audits(db, w.admin, PageParams()).total == 0
    with pytest.raises(NotFound):
        audits.plan_audit(db, w.other_admin, AuditCreate(**base))


def test_plan_notice_for_an_initial_smelter_audit(db: Session) -> None:
    w = aw.build(db)
    s = aw.scope(db, w)
    late = aw.plan(db, w, s.id, start_on=TODAY + timedelta(days=41))
    audits.submit_plan(db, w.admin, late, PlanSubmit(plan="Site visit over two days."))
    events = count_entries(db)
    with pytest.raises(Conflict) as refused:  # on its start date: the plan came too late
        audits.start_audit(db, w.auditor, late, today=TODAY + timedelta(days=41))
    due = TODAY - timedelta(days=1)
    assert f"by {due}" not in refused.value.message
    assert str(TODAY) in refused.value.message and str(due) in refused.value.message
    assert audits.get_audit(db, w.admin, late).status == "planned"
    assert count_entries(db) == events
    audits.cancel_audit(db, w.admin, late, "moved to a later date")
    in_time = aw.plan(db, w, s.id, start_on=TODAY + timedelta(days=42))
    audits.submit_plan(db, w.admin, in_time, PlanSubmit(plan="Site visit over two days."))
    assert audits.start_audit(db, w.auditor, in_time,
                              today=TODAY + timedelta(days=42)).status == "in_progress"
    with pytest.raises(Conflict):
        audits.submit_plan(db, w.admin, in_time, PlanSubmit(plan="Changed after starting"))

    # a casthouse-only scope needs no notice; neither does a non-initial audit
    casthouse_only = aw.scope(db, w, facilities=[w.casthouse], activities=["casthouse"])
    audit_id = aw.plan(db, w, casthouse_only.id, start_on=TODAY + timedelta(days=3))
    assert not audits.get_audit(db, w.admin, audit_id).notice_required
    assert audits.start_audit(db, w.auditor, audit_id,
                              today=TODAY + timedelta(days=3)).status == "in_progress"


def test_ratings_are_checked_and_all_or_nothing(db: Session) -> None:
    w = aw.build(db)
    s = aw.scope(db, w, facilities=[w.smelter], activities=["smelting", "casthouse"])
    audit_id = aw.plan(db, w, s.id)
    aw.start(db, w, audit_id)
    good = RatingWrite(facility=w.smelter, criterion="1.1", rating=Rating.CONFORMANCE)
    bad_items = [
        (RatingWrite(facility=w.smelter, criterion="8.7", rating=Rating.CONFORMANCE),
         "ratings.1.criterion", "8.7 does not apply"),
        (RatingWrite(facility=w.smelter, criterion="42.1", rating=Rating.CONFORMANCE),
         "ratings.1.criterion", "no such criterion"),
        (RatingWrite(facility=w.casthouse, criterion="1.2", rating=Rating.CONFORMANCE),
         "ratings.1.facility", "not in the audit's scope"),
        (RatingWrite(facility=w.smelter, criterion="1.2", rating=Rating.NOT_APPLICABLE),
         "ratings.1.reason", "why it does not apply"),
        (RatingWrite(facility=w.smelter, criterion="1.2", rating=Rating.MAJOR),
         "ratings.1.reason", "non-conformance"),
        (RatingWrite(facility=w.smelter, criterion="1.1", rating=Rating.MINOR, reason="x"),
         "ratings.1.criterion", "rated twice"),
        (RatingWrite(facility=w.smelter, criterion="1.2", rating=Rating.CONFORMANCE,
                     evidence_ids=[aw_uuid()]), "ratings.1.evidence_ids", "no evidence"),
    ]
    events = count_entries(db)
    for item, field, words in bad_items:
        with pytest.raises(InvalidInput) as refused:
            audits.rate(db, w.auditor, audit_id, RatingBatch(ratings=[good, item]))
        assert _field(refused) == field and words in refused.value.message, item
    assert repo.ratings_of(db, audit_id) == []
    assert count_entries(db) == events
    with pytest.raises(Forbidden):
        audits.rate(db, w.admin, audit_id, RatingBatch(ratings=[good]))
    with pytest.raises(NotFound):
        audits.rate(db, w.other_auditor, audit_id, RatingBatch(ratings=[good]))

    # re-rating a non-conformance as conforming withdraws its finding
    nc = RatingWrite(facility=w.smelter, criterion="1.2", rating=Rating.MINOR, reason="gap")
    audits.rate(db, w.auditor, audit_id, RatingBatch(ratings=[nc]))
    assert [f.status for f in repo.findings_of(db, audit_id)] == ["open"]
    audits.rate(db, w.auditor, audit_id, RatingBatch(ratings=[nc.model_copy(update={
        "rating": Rating.CONFORMANCE, "reason": ""})]))
    assert [f.status for f in repo.findings_of(db, audit_id)] == ["withdrawn"]
    audits.rate(db, w.auditor, audit_id, RatingBatch(ratings=[nc.model_copy(update={
        "rating": Rating.MAJOR})]))
    finding = repo.findings_of(db, audit_id)[0]
    assert (finding.status, finding.severity) == ("open", "major")


def aw_uuid() -> object:
    import uuid

    return uuid.uuid4()


def test_decisions_need_a_reviewed_report_of_an_ended_audit(db: Session) -> None:
    w = aw.build(db)
    s = aw.scope(db, w, facilities=[w.casthouse], activities=["casthouse"])
    audit_id = aw.plan(db, w, s.id, start_on=TODAY - timedelta(days=1), days=3)
    aw.start(db, w, audit_id)
    with pytest.raises(Conflict) as not_submitted:
        decisions.decide_audit(db, w.secretariat, audit_id, Note())
    assert "in progress" in not_submitted.value.message
    aw.rate_all(db, w, audit_id, s)
    with pytest.raises(Conflict) as too_early:  # the audit's last day is still to come
        aw.submit_and_review(db, w, audit_id)
    assert "submit the report on or after it" in too_early.value.message
    aw.submit_and_review(db, w, audit_id, today=TODAY + timedelta(days=2))
    with pytest.raises(Forbidden):
        decisions.decide_audit(db, w.admin, audit_id, Note(),
                               today=TODAY + timedelta(days=5))
    returned = decisions.return_report(db, w.secretariat, audit_id,
                                       Reason(reason="Evidence for 6.3 missing"))
    assert (returned.status, returned.reviewed_at) == ("in_progress", None)
    audits.rate(db, w.auditor, audit_id, RatingBatch(ratings=[RatingWrite(
        facility=w.casthouse, criterion="6.3", rating=Rating.MINOR, reason="Records late")]))
    aw.submit_and_review(db, w, audit_id, today=TODAY + timedelta(days=2))
    decision = decisions.decide_audit(db, w.secretariat, audit_id, Note(),
                                      today=TODAY + timedelta(days=5))
    assert (decision.outcome.value, decision.minors) == ("certified", 1)
    assert decision.certificate is not None
    assert decision.certificate.valid_from == TODAY + timedelta(days=5)
    with pytest.raises(Conflict):
        decisions.decide_audit(db, w.secretariat, audit_id, Note())


PDF = aw.PDF


@pytest.mark.parametrize(("name", "declared", "data", "error", "words"), [
    ("big.pdf", "application/pdf", PDF + bytes(2000), PayloadTooLarge, "big.pdf"),
    ("permit.pdf", "application/pdf", aw.PNG, InvalidInput, "permit.pdf"),
    ("site.png", "image/png", b"MZ\x90\x00\x00binary", InvalidInput, "site.png"),
    ("flows.csv", "text/csv", b"just one line of prose", InvalidInput, "flows.csv"),
])
def test_bad_evidence_is_refused_and_nothing_stored(db: Session, name: str, declared: str,
                                                    data: bytes, error: type[DomainError],
                                                    words: str) -> None:
    w = aw.build(db, standard=False)
    rows, events = repo.count_evidence(db), count_entries(db)
    with pytest.raises(error) as refused:
        evidence.upload(db, w.admin, filename=name, declared_type=declared, data=data,
                        effective_on=TODAY - timedelta(days=10), max_bytes=1000)
    assert words in refused.value.message and _field(refused) == "file"
    assert (repo.count_evidence(db), count_entries(db)) == (rows, events)


def test_evidence_dates_and_roles(db: Session) -> None:
    w = aw.build(db, standard=False)
    with pytest.raises(InvalidInput) as future:
        evidence.upload(db, w.admin, filename="a.pdf", declared_type="application/pdf",
                        data=PDF, effective_on=TODAY + timedelta(days=1), max_bytes=1000)
    assert _field(future) == "effective_on"
    for actor in (w.auditor, w.secretariat):
        with pytest.raises(Forbidden):
            evidence.upload(db, actor, filename="a.pdf", declared_type="application/pdf",
                            data=PDF, effective_on=TODAY, max_bytes=1000)
    assert repo.count_evidence(db) == 0


def test_members_and_auditors_see_only_their_own(db: Session) -> None:
    w = aw.build(db)
    s = aw.scope(db, w)
    assessment_id = s.self_assessment_id
    assert assessment_id is not None
    stored = evidence.upload(db, w.admin, filename="permit.pdf",
                             declared_type="application/pdf", data=PDF,
                             effective_on=TODAY, max_bytes=1000)
    self_assessment.answer(db, w.admin, assessment_id, "1.1", AnswerWrite(
        rating=Rating.CONFORMANCE, narrative="Register of legal requirements kept",
        evidence_ids=[stored.id]))
    audit_id = aw.plan(db, w, s.id)
    # another member: nothing exists
    for call in (lambda a: self_assessment.get_self_assessment(db, a, assessment_id),
                 lambda a: self_assessment.export_rows(db, a, assessment_id),
                 lambda a: evidence.get_evidence(db, a, stored.id),
                 lambda a: evidence.evidence_content(db, a, stored.id),
                 lambda a: scopes.get_scope(db, a, s.id),
                 lambda a: audits.get_audit(db, a, audit_id),
                 lambda a: self_assessment.answer(db, a, assessment_id, "1.2", AnswerWrite(
                     rating=Rating.CONFORMANCE))):
        with pytest.raises(NotFound):
            call(w.other_admin)
    with pytest.raises(InvalidInput):  # another member cannot cite our evidence
        other = scopes.create_scope(db, w.other_admin, ScopeCreate(
            entity_id=factories.entity(db, w.other_org, "Other AS").id,
            facilities=[factories.facility(db, w.other_org, name="Other Smelter").facility.id],
            activities=["smelting"], standard="performance", version=3))
        self_assessment.answer(db, w.other_admin, other.self_assessment_id, "1.1",  # type: ignore[arg-type]
                               AnswerWrite(rating=Rating.CONFORMANCE,
                                           evidence_ids=[stored.id]))
    # another firm's auditor: 404 everywhere; the assigned firm reads what it audits
    for call in (lambda a: audits.get_audit(db, a, audit_id),
                 lambda a: audits.list_ratings(db, a, audit_id),
                 lambda a: self_assessment.get_self_assessment(db, a, assessment_id),
                 lambda a: evidence.get_evidence(db, a, stored.id)):
        with pytest.raises(NotFound):
            call(w.other_auditor)
        call(w.co_auditor)
    assert audits.list_audits(db, w.other_auditor, PageParams()).total == 0
    assert [a.id for a in audits.list_audits(db, w.co_auditor, PageParams()).items] == [
        audit_id]
    content = evidence.evidence_content(db, w.auditor, stored.id)
    assert content[1] == PDF
