"""Who may do what in assurance: the role x action matrix of /api/v1/assurance.

Same shape as ``test_permissions.py`` (which reads ``MATRIX`` from here to prove every
endpoint has a row), with one more role: an auditor of a firm that is not assigned. One
world per backend, built once inside an outer transaction, holds an audit in every state;
every case runs in a savepoint that is rolled back.

Roles, in ``ROLES`` order: anonymous, secretariat, member_admin of alpha (whose scopes and
audits these are), member_admin of another member, member_user of alpha, the lead auditor
of the assigned firm, an auditor of another firm.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from stewardship.assurance.rules import ClaimKind, Maturity, Rating
from stewardship.assurance.schemas import (
    ClaimCreate,
    CorrectivePlan,
    Note,
    PlanSubmit,
    RatingBatch,
    RatingWrite,
    ReportSubmit,
    StatusChange,
)
from stewardship.assurance.service import audits, certificates, claims, decisions, evidence
from stewardship.assurance.service import findings as findings_service
from stewardship.core.config import Settings
from stewardship.registry.service import accounts
from stewardship.web.app import create_app
from tests import assurance_world as aw
from tests.api.matrix import (
    Upload,
    World,
    assert_rows_well_formed,
    cases,
    check_case,
    savepoint,
)
from tests.conftest import BACKENDS, _engine_for, session_on
from tests.today import TODAY

ROLES = ("anonymous", "secretariat", "member_admin", "other_member_admin", "member_user",
         "auditor", "other_auditor")
A = "/api/v1/assurance"
ALL_OK = (200,) * 7
STAFF_ONLY = (401, 200, 403, 403, 403, 403, 403)
OWN_AND_AUDITOR = (401, 200, 200, 404, 200, 200, 404)
AUDITOR_ONLY = (401, 403, 403, 403, 403, 200, 404)
ADMIN_ONLY = (401, 403, 200, 404, 403, 403, 403)

SCOPE_BODY = {"entity_id": "{entity}", "facilities": ["{casthouse}"],
              "activities": ["casthouse"], "standard": "performance", "version": 3}
AUDIT_BODY = {"scope_id": "{scope_free}", "audit_firm": "{firm}",
              "lead_auditor_id": "{lead}", "audit_type": "certification",
              "start_on": str(TODAY + timedelta(days=30)),
              "end_on": str(TODAY + timedelta(days=32))}
RATING_BODY = {"ratings": [{"facility": "{casthouse}", "criterion": "1.1",
                            "rating": "conformance"}]}
REPORT_BODY = {"proposed_maturity": "high",
               "public_summary": "The casthouse was audited over three days."}
UPLOAD = Upload(data={"effective_on": str(TODAY)},
                files={"file": ("permit.pdf", aw.PDF, "application/pdf")})
STATUS = {"reason": "Matrix check"}

MATRIX: list[tuple[str, str, str, Any, tuple[int, ...]]] = [
    # scopes
    ("GET", f"{A}/scopes", f"{A}/scopes", None, (401, 200, 200, 200, 200, 403, 403)),
    ("POST", f"{A}/scopes", f"{A}/scopes", SCOPE_BODY, (401, 403, 201, 422, 403, 403, 403)),
    ("GET", f"{A}/scopes/{{scope_id}}", f"{A}/scopes/{{scope_planned}}", None,
     OWN_AND_AUDITOR),
    # self-assessments
    ("GET", f"{A}/self-assessments/{{assessment_id}}", f"{A}/self-assessments/{{sa}}", None,
     OWN_AND_AUDITOR),
    ("PUT", f"{A}/self-assessments/{{assessment_id}}/answers/{{criterion}}",
     f"{A}/self-assessments/{{sa}}/answers/1.1", {"rating": "conformance"},
     (401, 403, 200, 404, 200, 403, 403)),
    ("GET", f"{A}/self-assessments/{{assessment_id}}/export",
     f"{A}/self-assessments/{{sa}}/export", None, OWN_AND_AUDITOR),
    ("POST", f"{A}/self-assessments/{{assessment_id}}/move",
     f"{A}/self-assessments/{{sa_v2}}/move", {"version": 3},
     (401, 403, 201, 404, 403, 403, 403)),
    # evidence
    ("POST", f"{A}/evidence", f"{A}/evidence", UPLOAD, (401, 403, 201, 201, 201, 403, 403)),
    ("GET", f"{A}/evidence", f"{A}/evidence?organization={{alpha}}", None,
     (401, 200, 200, 200, 200, 403, 403)),
    ("GET", f"{A}/evidence/{{evidence_id}}", f"{A}/evidence/{{evidence}}", None,
     OWN_AND_AUDITOR),
    ("GET", f"{A}/evidence/{{evidence_id}}/content", f"{A}/evidence/{{evidence}}/content",
     None, OWN_AND_AUDITOR),
    # audits
    ("POST", f"{A}/audits", f"{A}/audits", AUDIT_BODY, (401, 403, 201, 404, 403, 403, 403)),
    ("GET", f"{A}/audits", f"{A}/audits", None, (401, 200, 200, 200, 200, 200, 200)),
    ("GET", f"{A}/audits/{{audit_id}}", f"{A}/audits/{{planned}}", None, OWN_AND_AUDITOR),
    ("POST", f"{A}/audits/{{audit_id}}/plan", f"{A}/audits/{{planned}}/plan",
     {"plan": "Three days at the casthouse."}, ADMIN_ONLY),
    ("POST", f"{A}/audits/{{audit_id}}/start", f"{A}/audits/{{planned}}/start", {},
     AUDITOR_ONLY),
    ("POST", f"{A}/audits/{{audit_id}}/cancel", f"{A}/audits/{{planned}}/cancel", STATUS,
     (401, 200, 200, 404, 403, 403, 403)),
    ("GET", f"{A}/audits/{{audit_id}}/ratings", f"{A}/audits/{{in_progress}}/ratings", None,
     OWN_AND_AUDITOR),
    ("POST", f"{A}/audits/{{audit_id}}/ratings", f"{A}/audits/{{in_progress}}/ratings",
     RATING_BODY, AUDITOR_ONLY),
    ("GET", f"{A}/audits/{{audit_id}}/findings", f"{A}/audits/{{in_progress}}/findings", None,
     OWN_AND_AUDITOR),
    ("POST", f"{A}/audits/{{audit_id}}/report", f"{A}/audits/{{rated}}/report", REPORT_BODY,
     AUDITOR_ONLY),
    ("POST", f"{A}/audits/{{audit_id}}/review", f"{A}/audits/{{submitted}}/review", {},
     STAFF_ONLY),
    ("POST", f"{A}/audits/{{audit_id}}/return", f"{A}/audits/{{submitted}}/return", STATUS,
     STAFF_ONLY),
    ("POST", f"{A}/audits/{{audit_id}}/decision", f"{A}/audits/{{reviewed}}/decision", {},
     STAFF_ONLY),
    ("POST", f"{A}/audits/{{audit_id}}/reschedule", f"{A}/audits/{{planned}}/reschedule",
     {"start_on": str(TODAY + timedelta(days=70)), "end_on": str(TODAY + timedelta(days=72)),
      "reason": "The smelter asked for a later week."}, STAFF_ONLY),
    ("POST", f"{A}/audits/{{audit_id}}/plan-received",
     f"{A}/audits/{{planned}}/plan-received",
     {"received_on": str(TODAY), "note": "By e-mail from the site manager."}, STAFF_ONLY),
    ("GET", f"{A}/audits/{{audit_id}}/decision/preview",
     f"{A}/audits/{{reviewed}}/decision/preview", None, STAFF_ONLY),
    ("GET", f"{A}/audits/{{audit_id}}/summary", f"{A}/audits/{{decided}}/summary", None,
     ALL_OK),
    ("GET", f"{A}/audits/{{audit_id}}/summary", f"{A}/audits/{{planned}}/summary", None,
     (404,) * 7),
    # findings
    ("GET", f"{A}/findings", f"{A}/findings?rating=minor", None, ALL_OK),
    ("GET", f"{A}/findings/export", f"{A}/findings/export", None, ALL_OK),
    ("POST", f"{A}/findings/{{finding_id}}/corrective-plan",
     f"{A}/findings/{{finding_open}}/corrective-plan", {"plan": "Retrain the crew."},
     ADMIN_ONLY),
    ("POST", f"{A}/findings/{{finding_id}}/closure", f"{A}/findings/{{finding_planned}}/closure",
     {"note": "Records seen."}, AUDITOR_ONLY),
    # certificates and the register
    ("GET", f"{A}/certificates", f"{A}/certificates?status=active", None, ALL_OK),
    ("GET", f"{A}/certificates/export", f"{A}/certificates/export", None, ALL_OK),
    # A row naming no member: the secretariat gets the row-by-row refusal, nothing stored.
    ("POST", f"{A}/certificates/import", f"{A}/certificates/import", {"certificates": [{
        "number": "OLD-PS-0001", "organization": "no-such-member", "entity": "Nobody AS",
        "standard": "performance", "version": 3, "certificate_type": "full",
        "maturity": "medium", "valid_from": str(TODAY - timedelta(days=400)),
        "valid_until": str(TODAY + timedelta(days=600)), "audit_reference": "A-17",
        "activities": ["casthouse"], "countries": ["NO"]}]},
     (401, 422, 403, 403, 403, 403, 403)),
    ("GET", f"{A}/certificates/{{number}}", f"{A}/certificates/{{active}}", None, ALL_OK),
    ("GET", f"{A}/certificates/{{number}}/document", f"{A}/certificates/{{active}}/document",
     None, ALL_OK),
    ("POST", f"{A}/certificates/{{number}}/suspend", f"{A}/certificates/{{active}}/suspend",
     STATUS, STAFF_ONLY),
    ("POST", f"{A}/certificates/{{number}}/reinstate",
     f"{A}/certificates/{{suspended}}/reinstate", STATUS, STAFF_ONLY),
    ("POST", f"{A}/certificates/{{number}}/withdraw", f"{A}/certificates/{{active}}/withdraw",
     STATUS, STAFF_ONLY),
    ("GET", f"{A}/register/stats", f"{A}/register/stats", None, ALL_OK),
    # due dates and standing
    ("GET", f"{A}/due-dates", f"{A}/due-dates", None, (401, 200, 200, 200, 200, 403, 403)),
    ("GET", f"{A}/overdue-members", f"{A}/overdue-members", None, STAFF_ONLY),
    # claims
    ("GET", f"{A}/claims", f"{A}/claims", None, ALL_OK),
    ("POST", f"{A}/claims", f"{A}/claims",
     {"certificate": "{active}", "kind": "off_product",
      "wording": "Our casthouse is certified."}, (401, 403, 201, 422, 403, 403, 403)),
    ("GET", f"{A}/claims/requests", f"{A}/claims/requests", None,
     (401, 200, 200, 200, 200, 403, 403)),
    ("GET", f"{A}/claims/{{claim_id}}", f"{A}/claims/{{claim}}", None,
     (401, 200, 200, 404, 200, 404, 404)),
    ("POST", f"{A}/claims/{{claim_id}}/approve", f"{A}/claims/{{claim}}/approve", {},
     STAFF_ONLY),
    ("POST", f"{A}/claims/{{claim_id}}/reject", f"{A}/claims/{{claim}}/reject", STATUS,
     STAFF_ONLY),
]

ERROR_CODES = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 409: "conflict",
               422: "invalid"}




def _audit_in(db: Any, w: aw.World, state: str) -> tuple[Any, Any]:
    """A casthouse-only scope with an audit taken as far as ``state``."""
    s = aw.scope(db, w, facilities=[w.casthouse], activities=["casthouse"])
    audit_id = aw.plan(db, w, s.id)
    audits.submit_plan(db, w.admin, audit_id, PlanSubmit(plan="Three days on site."))
    if state == "planned":
        return s, audit_id
    audits.start_audit(db, w.auditor, audit_id)
    if state == "in_progress":
        return s, audit_id
    aw.rate_all(db, w, audit_id, s, minors=1)
    if state == "rated":
        return s, audit_id
    audits.submit_report(db, w.auditor, audit_id, ReportSubmit(
        proposed_maturity=Maturity.MEDIUM, public_summary="Casthouse audited in full."))
    if state == "submitted":
        return s, audit_id
    decisions.review_report(db, w.secretariat, audit_id, Note())
    if state == "reviewed":
        return s, audit_id
    return s, decisions.decide_audit(db, w.secretariat, audit_id, Note())


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, engines: dict[str, Engine],
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    engine = _engine_for(request.param, engines, tmp_path_factory.getbasetemp())
    connection = engine.connect()
    outer = connection.begin()
    db = session_on(connection)
    try:
        w = aw.build(db, standard=False)
        aw.load_standard(db, "performance-v2.yaml")
        aw.load_standard(db, transition_ends_on=TODAY + timedelta(days=365))
        planned_scope, planned = _audit_in(db, w, "planned")
        sa_v2 = aw.scope(db, w, facilities=[w.casthouse], activities=["casthouse"],
                         version=2).self_assessment_id
        scope_free = aw.scope(db, w, facilities=[w.casthouse], activities=["casthouse"])
        _, in_progress = _audit_in(db, w, "in_progress")
        audits.rate(db, w.auditor, in_progress, RatingBatch(ratings=[
            RatingWrite(facility=w.casthouse, criterion="6.3", rating=Rating.MINOR,
                        reason="Waste log incomplete"),
            RatingWrite(facility=w.casthouse, criterion="6.6", rating=Rating.MAJOR,
                        reason="Dross stored in the open")]))
        open_finding, planned_finding = findings_service.list_findings(db, w.admin,
                                                                       in_progress)
        findings_service.file_corrective_plan(db, w.admin, planned_finding.id,
                                              CorrectivePlan(plan="Build a covered store."))
        _, rated = _audit_in(db, w, "rated")
        _, submitted = _audit_in(db, w, "submitted")
        _, reviewed = _audit_in(db, w, "reviewed")
        _, decided = _audit_in(db, w, "decided")
        _, other = _audit_in(db, w, "decided")
        active, suspended = decided.certificate.number, other.certificate.number
        certificates.suspend(db, w.secretariat, suspended, StatusChange(reason="Complaint"))
        claim = claims.request_claim(db, w.admin, ClaimCreate(
            certificate=active, kind=ClaimKind.OFF_PRODUCT,
            wording="Our casthouse is certified."))
        stored = evidence.upload(db, w.admin, filename="permit.pdf",
                                 declared_type="application/pdf", data=aw.PDF,
                                 effective_on=TODAY, max_bytes=10_000)
        actors = {"secretariat": w.secretariat, "member_admin": w.admin,
                  "other_member_admin": w.other_admin, "member_user": w.member_user,
                  "auditor": w.auditor, "other_auditor": w.other_auditor}
        tokens = {role: accounts.create_token(db, actor, "matrix").token
                  for role, actor in actors.items()}
        db.flush()
        settings = Settings(environment="test", var_dir=tmp_path_factory.mktemp("aperm"),
                            secret_key="m" * 40)
        app = create_app(settings=settings, engine=engine)
        app.state.sessionmaker = lambda: session_on(connection)
        yield World(connection=connection, app=app, tokens=tokens, values={
            "alpha": w.org, "entity": str(w.entity_id), "casthouse": w.casthouse,
            "firm": w.firm, "lead": str(w.lead_auditor_id),
            "scope_planned": str(planned_scope.id), "scope_free": str(scope_free.id),
            "sa": str(planned_scope.self_assessment_id), "sa_v2": str(sa_v2),
            "evidence": str(stored.id), "planned": str(planned),
            "in_progress": str(in_progress), "rated": str(rated), "submitted": str(submitted),
            "reviewed": str(reviewed), "decided": str(decided.audit_id),
            "finding_open": str(open_finding.id), "finding_planned": str(planned_finding.id),
            "active": active, "suspended": suspended, "claim": str(claim.id)})
    finally:
        db.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def isolated(world: World) -> Iterator[World]:
    with savepoint(world):
        yield world


@pytest.mark.parametrize(("method", "url", "body", "role", "expected"), cases(MATRIX, ROLES))
def test_assurance_permission_matrix(isolated: World, method: str, url: str, body: Any,
                                     role: str, expected: int) -> None:
    check_case(isolated, method, url, body, role, expected, ERROR_CODES)


def test_matrix_rows_are_well_formed() -> None:
    assert_rows_well_formed(MATRIX, ROLES, ERROR_CODES)
