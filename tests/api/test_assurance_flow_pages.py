"""The certification flow's pages through HTTP: scope, self-assessment and evidence, audit
planning, the auditor's ratings and report, corrective action plans, and the secretariat's
review and decision; what each refuses, and who may not see what."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stewardship.assurance.models import (
    Audit,
    AuditRating,
    CertificationScope,
    Evidence,
    SelfAssessmentAnswer,
)
from stewardship.assurance.rules import AuditType, Rating
from stewardship.assurance.schemas import AnswerWrite
from stewardship.assurance.service import audits, findings, scopes, self_assessment
from stewardship.core.auth import Actor
from stewardship.core.config import Settings
from stewardship.core.pagination import PageParams
from stewardship.registry.schemas import AuditorCreate
from stewardship.registry.service import audit_firms
from tests import assurance_world as aw
from tests import factories
from tests.api.pages import post, text
from tests.factories import SYSTEM
from tests.today import TODAY

ALL = PageParams(page=1, per_page=50)
LAST_MONTH = TODAY - timedelta(days=30)  # the day evidence speaks for


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(environment="test", password_profile="fast", var_dir=tmp_path,
                    secret_key="t" * 40, login_max_failures=3, page_size_max=100,
                    evidence_max_bytes=2_000)


def count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def w(db: Session) -> aw.World:
    return aw.build(db)


def _location_id(response: Response, prefix: str) -> uuid.UUID:
    assert response.status_code == 303, text(response)[-1500:]
    location = response.headers["location"]
    assert location.startswith(prefix), location
    return uuid.UUID(location.removeprefix(prefix).split("/")[0].split("#")[0])


def _define(client: TestClient, w: aw.World, **extra: object) -> Response:
    return post(client, "/assurance/scopes", {
        "entity_id": str(w.entity_id), "facilities": [w.smelter, w.casthouse],
        "activities": ["smelting", "casthouse"], "standard_version": "performance:3",
        **extra})


# --- scopes -----------------------------------------------------------------------------


def test_a_member_admin_defines_a_scope_and_sees_its_applicable_criteria(
        db: Session, w: aw.World, signed_in: Callable[[Actor], TestClient]) -> None:
    admin = signed_in(w.admin)
    empty = admin.get("/assurance/scopes")
    assert empty.status_code == 200
    assert "No certification scope is defined yet" in text(empty)
    assert 'href="/assurance/scopes"' in empty.text  # the nav link
    assert "Performance Standard, version 3" in text(empty) or "version 3" in text(empty)

    scope_id = _location_id(_define(admin, w), "/assurance/scopes/")
    page = admin.get(f"/assurance/scopes/{scope_id}")
    body = text(page)
    assert page.status_code == 200
    scope = scopes.get_scope(db, w.admin, scope_id)
    assert f"{scope.applicable_count} of {len(scope.criteria)}" in body
    assert "applies to smelting" in body and "none of the scope's activities" in body
    assert f'href="/assurance/scopes/{scope_id}/self-assessment"' in page.text
    assert "Plan an audit" in body
    assert "Define the scope" not in body
    listed = text(admin.get("/assurance/scopes"))
    assert scope.name in listed


def test_a_refused_scope_shows_the_message_and_stores_nothing(
        db: Session, w: aw.World, signed_in: Callable[[Actor], TestClient]) -> None:
    admin = signed_in(w.admin)
    before = count(db, CertificationScope)
    only_smelting = _define(admin, w, activities=["alumina_refining"])
    assert only_smelting.status_code == 422
    assert "No chosen facility carries out alumina_refining" in text(only_smelting)
    nothing = post(admin, "/assurance/scopes", {"entity_id": str(w.entity_id),
                                                "standard_version": "performance:3"})
    assert nothing.status_code == 422
    assert "Choose at least one facility" in text(nothing)
    assert "Choose at least one activity" in text(nothing)
    assert count(db, CertificationScope) == before


def test_a_member_cannot_open_another_members_scope(
        db: Session, w: aw.World, signed_in: Callable[[Actor], TestClient]) -> None:
    s = aw.scope(db, w)
    other = signed_in(w.other_admin)
    assert other.get(f"/assurance/scopes/{s.id}").status_code == 404
    assert other.get(f"/assurance/scopes/{s.id}/self-assessment").status_code == 404
    assert "No certification scope" in text(other.get("/assurance/scopes"))


def test_a_post_without_the_csrf_token_is_refused(
        db: Session, w: aw.World, signed_in: Callable[[Actor], TestClient]) -> None:
    admin = signed_in(w.admin)
    refused = admin.post("/assurance/scopes", data={
        "entity_id": str(w.entity_id), "facilities": [w.smelter], "activities": ["smelting"],
        "standard_version": "performance:3"}, follow_redirects=False)
    assert refused.status_code == 403
    assert count(db, CertificationScope) == 0


# --- the self-assessment ----------------------------------------------------------------


def test_the_self_assessment_saves_an_answer_with_evidence_and_shows_progress(
        db: Session, w: aw.World, signed_in: Callable[[Actor], TestClient]) -> None:
    s = aw.scope(db, w)
    user = signed_in(w.member_user)
    url = f"/assurance/scopes/{s.id}/self-assessment"
    page = user.get(url)
    assert page.status_code == 200
    assert f'id="sa-progress" max="{s.applicable_count}" value="0"' in page.text
    assert f"/api/v1/assurance/self-assessments/{s.self_assessment_id}/export" in page.text
    assert "No evidence uploaded yet" in text(page)

    uploaded = post(user, f"{url}/evidence", {"effective_on": LAST_MONTH.isoformat()},
                    files={"file": ("energy.csv", aw.CSV, "text/csv")})
    assert uploaded.status_code == 303, text(uploaded)[-1200:]
    stored = db.scalars(select(Evidence)).one()
    assert stored.effective_on == LAST_MONTH and stored.filename == "energy.csv"

    number = aw.applicable(s)[0]
    saved = post(user, f"{url}/answers/{number}", {
        "rating": "conformance", "narrative": "Procedure in place", "evidence_id": [
            str(stored.id)]})
    assert saved.status_code == 303
    assert s.self_assessment_id is not None
    read = self_assessment.get_self_assessment(db, w.admin, s.self_assessment_id)
    assert read.progress.answered == 1
    answer = next(i.answer for i in read.items if i.number == number)
    assert answer is not None and answer.rating is Rating.CONFORMANCE
    assert [e.filename for e in answer.evidence] == ["energy.csv"]
    after = user.get(url)
    assert 'value="1"' in after.text and "1 of" in text(after)

    refused = post(user, f"{url}/answers/{number}", {"rating": "not_applicable"})
    assert refused.status_code == 422
    assert "Say in the narrative why the criterion does not apply" in text(refused)
    assert count(db, SelfAssessmentAnswer) == 1


def test_evidence_refusals_are_field_errors_and_store_nothing(
        db: Session, w: aw.World, signed_in: Callable[[Actor], TestClient]) -> None:
    s = aw.scope(db, w)
    user = signed_in(w.member_user)
    url = f"/assurance/scopes/{s.id}/self-assessment/evidence"
    mislabelled = post(user, url, {"effective_on": LAST_MONTH.isoformat()},
                       files={"file": ("scan.pdf", aw.PNG, "application/pdf")})
    assert mislabelled.status_code == 422
    assert 'id="error-file"' in mislabelled.text
    oversize = post(user, url, {"effective_on": LAST_MONTH.isoformat()},
                    files={"file": ("big.csv", aw.CSV * 100, "text/csv")})
    assert oversize.status_code == 413
    assert 'id="error-file"' in oversize.text
    future = post(user, url, {"effective_on": (TODAY + timedelta(days=3)).isoformat()},
                  files={"file": ("energy.csv", aw.CSV, "text/csv")})
    assert future.status_code == 422 and 'id="error-effective_on"' in future.text
    assert count(db, Evidence) == 0


# --- audits -----------------------------------------------------------------------------


def test_the_whole_flow_through_the_pages(
        db: Session, w: aw.World, signed_in: Callable[[Actor], TestClient]) -> None:
    admin, auditor, sec = signed_in(w.admin), signed_in(w.auditor), signed_in(w.secretariat)
    scope_id = _location_id(_define(admin, w), "/assurance/scopes/")
    s = scopes.get_scope(db, w.admin, scope_id)
    assert s.self_assessment_id is not None
    first = aw.applicable(s)[0]
    assert post(admin, f"/assurance/scopes/{scope_id}/self-assessment/answers/{first}",
                {"rating": "conformance", "narrative": "ok"}).status_code == 303

    scope_page = admin.get(f"/assurance/scopes/{scope_id}")
    assert f'value="{w.firm}"' in scope_page.text and str(w.lead_auditor_id) in scope_page.text
    start = TODAY - timedelta(days=10)
    planned = post(admin, f"/assurance/scopes/{scope_id}/audits", {
        "audit_firm": w.firm, "lead_auditor_id": str(w.lead_auditor_id),
        "audit_type": "recertification", "start_on": start.isoformat(),
        "end_on": (start + timedelta(days=3)).isoformat(), "plan": "Draft"})
    audit_id = _location_id(planned, "/assurance/audits/")
    assert audits.get_audit(db, w.admin, audit_id).status == "planned"
    page = text(admin.get(f"/assurance/audits/{audit_id}"))
    assert "No advance notice is required" in page and "may start" in page

    assert post(admin, f"/assurance/audits/{audit_id}/plan",
                {"plan": "Opening meeting, site tour, closing meeting."}).status_code == 303
    assert audits.get_audit(db, w.admin, audit_id).plan_submitted_on == TODAY

    listed = text(auditor.get("/assurance/audits"))
    assert s.name in listed
    assert post(auditor, f"/assurance/audits/{audit_id}/start").status_code == 303
    assert audits.get_audit(db, w.admin, audit_id).status == "in_progress"

    rating_page = auditor.get(f"/assurance/audits/{audit_id}/ratings")
    assert rating_page.status_code == 200
    assert f'max="{s.applicable_count * 2}" value="0"' in rating_page.text

    # the report is refused while criteria are unrated
    early = post(auditor, f"/assurance/audits/{audit_id}/report", {
        "proposed_maturity": "medium", "public_summary": "Both sites were audited in full."})
    assert early.status_code == 409
    assert "criterion rating(s) are missing" in text(early)
    assert audits.get_audit(db, w.admin, audit_id).status == "in_progress"

    numbers = aw.applicable(s)
    for facility in (w.smelter, w.casthouse):
        form: dict[str, object] = {"facility": facility}
        for n in numbers:
            minor = facility == w.smelter and n == numbers[1]
            form[f"rating-{n}"] = "minor" if minor else "conformance"
            form[f"reason-{n}"] = "Grievance log incomplete" if minor else ""
            form[f"notes-{n}"] = ""
        assert post(auditor, f"/assurance/audits/{audit_id}/ratings", form).status_code == 303
    progress = audits.list_ratings(db, w.auditor, audit_id).progress
    assert progress.rated == progress.required == len(numbers) * 2
    found = findings.list_findings(db, w.admin, audit_id)
    assert [(f.criterion, f.severity) for f in found] == [(numbers[1], Rating.MINOR)]

    # the member files the corrective action plan; the auditor verifies closure
    member_view = admin.get(f"/assurance/audits/{audit_id}")
    assert "Corrective action plan due" in text(member_view)
    assert post(admin, f"/assurance/audits/{audit_id}/findings/{found[0].id}/corrective-plan",
                {"plan": "Complete the grievance log weekly."}).status_code == 303
    assert post(auditor, f"/assurance/audits/{audit_id}/findings/{found[0].id}/closure",
                {"note": "Log checked on site."}).status_code == 303
    assert findings.list_findings(db, w.admin, audit_id)[0].status == "closed"

    submitted = post(auditor, f"/assurance/audits/{audit_id}/report", {
        "proposed_maturity": "medium",
        "public_summary": "Both sites were audited in full; one minor finding."})
    assert submitted.status_code == 303
    assert audits.get_audit(db, w.admin, audit_id).status == "submitted"

    queue = sec.get("/secretariat/audits")
    assert queue.status_code == 200 and f"/assurance/audits/{audit_id}" in queue.text
    unreviewed = post(sec, f"/assurance/audits/{audit_id}/decision", {})
    assert unreviewed.status_code == 409
    assert "Review the report before deciding on it" in text(unreviewed)
    assert post(sec, f"/assurance/audits/{audit_id}/review", {"note": "complete"}
                ).status_code == 303
    decided = post(sec, f"/assurance/audits/{audit_id}/decision", {"note": ""})
    assert decided.status_code == 303
    audit = audits.get_audit(db, w.admin, audit_id)
    assert audit.status == "decided" and audit.outcome is not None
    assert audit.outcome.value == "certified" and audit.certificate_number
    final = sec.get(f"/assurance/audits/{audit_id}")
    assert f'href="/certificates/{audit.certificate_number}"' in final.text
    assert "No report is waiting" in text(sec.get("/secretariat/audits"))


def test_planning_with_an_unaccredited_firm_is_refused(
        db: Session, w: aw.World, signed_in: Callable[[Actor], TestClient]) -> None:
    s = aw.scope(db, w)
    german_only = factories.audit_firm(db, name="Rhein Only Audit", countries=["DE"])
    lead = audit_firms.add_auditor(db, SYSTEM, german_only, AuditorCreate(
        name="Greta", email="greta@rhein.example", lead=True))
    admin = signed_in(w.admin)
    before = count(db, Audit)
    refused = post(admin, f"/assurance/scopes/{s.id}/audits", {
        "audit_firm": german_only, "lead_auditor_id": str(lead.id),
        "audit_type": "certification", "start_on": (TODAY + timedelta(days=60)).isoformat(),
        "end_on": (TODAY + timedelta(days=63)).isoformat()})
    assert refused.status_code == 422
    assert "Rhein Only Audit may not audit this scope" in text(refused)
    assert "not accredited in NO" in text(refused)
    assert count(db, Audit) == before


def test_a_certification_audit_of_a_smelter_cannot_start_without_the_plan_notice(
        db: Session, w: aw.World, signed_in: Callable[[Actor], TestClient]) -> None:
    s = aw.scope(db, w)
    audit_id = aw.plan(db, w, s.id, audit_type=AuditType.CERTIFICATION, start_on=TODAY)
    admin, auditor = signed_in(w.admin), signed_in(w.auditor)
    page = text(admin.get(f"/assurance/audits/{audit_id}"))
    assert "the plan must reach the secretariat by" in page
    assert "The audit cannot start yet" in page
    assert post(admin, f"/assurance/audits/{audit_id}/plan",
                {"plan": "Opening meeting, site tour."}).status_code == 303
    refused = post(auditor, f"/assurance/audits/{audit_id}/start")
    assert refused.status_code == 409
    assert "The audit cannot start: the audit plan reached the secretariat" in text(refused)
    assert audits.get_audit(db, w.admin, audit_id).status == "planned"


def test_a_rating_refusal_shows_the_row_and_stores_nothing(
        db: Session, w: aw.World, signed_in: Callable[[Actor], TestClient]) -> None:
    s = aw.scope(db, w)
    audit_id = aw.plan(db, w, s.id)
    aw.start(db, w, audit_id)
    auditor = signed_in(w.auditor)
    n = aw.applicable(s)[0]
    refused = post(auditor, f"/assurance/audits/{audit_id}/ratings", {
        "facility": w.smelter, f"rating-{n}": "major", f"reason-{n}": "", f"notes-{n}": "x"})
    assert refused.status_code == 422
    assert f"Criterion {n} at {w.smelter}: give the non-conformance found" in text(refused)
    assert count(db, AuditRating) == 0


def test_another_firms_auditor_sees_neither_the_audit_nor_its_ratings(
        db: Session, w: aw.World, signed_in: Callable[[Actor], TestClient]) -> None:
    s = aw.scope(db, w)
    audit_id = aw.plan(db, w, s.id)
    other = signed_in(w.other_auditor)
    assert other.get(f"/assurance/audits/{audit_id}").status_code == 404
    assert other.get(f"/assurance/audits/{audit_id}/ratings").status_code == 404
    assert post(other, f"/assurance/audits/{audit_id}/start").status_code == 404
    assert "No audit is assigned to you yet" in text(other.get("/assurance/audits"))
    assert s.name not in text(other.get("/assurance/audits"))
    assert audits.get_audit(db, w.admin, audit_id).status == "planned"


def test_moving_the_self_assessment_to_the_current_version_shows_the_report(
        db: Session, signed_in: Callable[[Actor], TestClient]) -> None:
    w = aw.build(db, standard=False)
    aw.load_standard(db, "performance-v2.yaml")
    aw.load_standard(db, transition_ends_on=TODAY + timedelta(days=365))
    s = aw.scope(db, w, version=2)
    assert s.self_assessment_id is not None
    self_assessment.answer(db, w.admin, s.self_assessment_id, "1.1", AnswerWrite(
        rating=Rating.CONFORMANCE, narrative="unchanged"))
    admin = signed_in(w.admin)
    page = admin.get(f"/assurance/scopes/{s.id}/self-assessment")
    assert "Move to version 3" in text(page)
    assert "Move to version" not in text(signed_in(w.member_user).get(
        f"/assurance/scopes/{s.id}/self-assessment"))

    moved = post(admin, f"/assurance/scopes/{s.id}/self-assessment/move", {"version": "3"})
    assert moved.status_code == 303
    body = text(admin.get(moved.headers["location"]))
    assert "Moved from version 2 to version 3: 1 answer(s) carried over" in body
    assert "to answer again" in body
    old = self_assessment.get_self_assessment(db, w.admin, s.self_assessment_id)
    assert old.status == "moved"
    assert "Move to version" not in text(admin.get(f"/assurance/scopes/{s.id}/self-assessment"))


def test_the_auditor_dashboard_lists_the_firms_audits_by_step(
        db: Session, w: aw.World, signed_in: Callable[[Actor], TestClient]) -> None:
    s = aw.scope(db, w)
    running = aw.plan(db, w, s.id)
    aw.start(db, w, running)
    # A second member's audit by the same firm, not started yet.
    later = aw.build(db, standard=False)
    waiting = aw.scope(db, later)
    aw.plan(db, later, waiting.id, firm=w.firm, lead=w.lead_auditor_id,
            start_on=TODAY + timedelta(days=40))
    page = signed_in(w.auditor).get("/dashboard")
    assert page.status_code == 200
    body = text(page)
    assert "No audits are assigned" not in body
    assert "1 in progress" in body and "1 planned" in body and "0 submitted" in body
    assert s.name in body and waiting.name in body
    assert body.index(s.name) < body.index("Planned") < body.index(waiting.name)
    assert f'href="/assurance/audits/{running}"' in page.text
    assert "All 2 audits of your firm" in body
    # Another firm's auditor sees none of them.
    other = text(signed_in(w.other_auditor).get("/dashboard"))
    assert "No audits are assigned to your firm yet." in other
