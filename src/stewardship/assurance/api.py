"""REST API of assurance: /api/v1/assurance.

Scopes, self-assessments and evidence, audits with their ratings and findings, decisions,
certificates, claims, due dates, and the public register. Evidence is uploaded as
``multipart/form-data``; exports answer ``text/csv``; every other body is JSON.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile, status
from fastapi.responses import Response

from stewardship.assurance.rules import AuditStatus, ClaimStatus, Rating
from stewardship.assurance.schemas import (
    AnswerRead,
    AnswerWrite,
    AuditCreate,
    AuditPage,
    AuditRead,
    AuditReschedule,
    AuditSummary,
    CertificateDocument,
    CertificateImport,
    CertificateImportReport,
    CertificatePage,
    CertificateQuery,
    CertificateRead,
    ClaimCreate,
    ClaimPage,
    ClaimRead,
    ClosureVerify,
    CorrectivePlan,
    DecisionPreview,
    DecisionRead,
    DueItem,
    EvidencePage,
    EvidenceRead,
    EvidenceUploaded,
    FindingQuery,
    FindingRead,
    MoveReport,
    MoveRequest,
    Note,
    OverdueMember,
    PlanReceipt,
    PlanSubmit,
    PublicClaimPage,
    PublicFindingPage,
    RatingBatch,
    RatingsRead,
    Reason,
    RegisterStats,
    ReportSubmit,
    ScopeCreate,
    ScopePage,
    ScopeRead,
    SelfAssessmentRead,
    StatusChange,
)
from stewardship.assurance.service import (
    audits,
    certificates,
    claims,
    decisions,
    dues,
    evidence,
    findings,
    imports,
    register,
    scopes,
    self_assessment,
)
from stewardship.core.csvexport import csv_text
from stewardship.core.errors import InvalidInput
from stewardship.core.web import CurrentActor, DbSession, Pagination, settings_of
from stewardship.registry.rules import Activity
from stewardship.standards.rules import StandardKind

router = APIRouter(prefix="/api/v1/assurance", tags=["assurance"])

CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}},
          "description": "A CSV table, header first"}}
Slug = Annotated[str | None, Query(max_length=80, description="Organisation slug "
                                                             "(secretariat)")]
Number = Annotated[str, Path(max_length=40, description="Certificate number, e.g. "
                                                        "STW-PS-2026-0001")]


def _csv(rows: list[list[str]], filename: str) -> Response:
    return Response(csv_text(rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# --- scopes -----------------------------------------------------------------------------


@router.get("/scopes", response_model=ScopePage)
def list_scopes(db: DbSession, actor: CurrentActor, paging: Pagination,
                organization: Slug = None,
                status: Annotated[str | None, Query(pattern="^(active|superseded)$")] = None,
                ) -> object:
    """Certification scopes: a member's own; the secretariat's view of every member."""
    return scopes.list_scopes(db, actor, paging, organization=organization, status=status)


@router.post("/scopes", response_model=ScopeRead, status_code=status.HTTP_201_CREATED)
def create_scope(db: DbSession, actor: CurrentActor, body: ScopeCreate) -> ScopeRead:
    """Define a certification scope: an entity of your organisation, its facilities and
    activities, and a standard version usable for new audits today (member admin). The
    applicable criteria are computed; the self-assessment opens with the scope."""
    return scopes.create_scope(db, actor, body)


@router.get("/scopes/{scope_id}", response_model=ScopeRead)
def get_scope(db: DbSession, actor: CurrentActor, scope_id: uuid.UUID) -> ScopeRead:
    """A scope with every criterion of its version and whether (and why) it applies."""
    return scopes.get_scope(db, actor, scope_id)


# --- self-assessments -------------------------------------------------------------------


@router.get("/self-assessments/{assessment_id}", response_model=SelfAssessmentRead)
def get_self_assessment(db: DbSession, actor: CurrentActor,
                        assessment_id: uuid.UUID) -> SelfAssessmentRead:
    """The self-assessment: every applicable criterion with the member's answer, and the
    progress. Never shown to another member."""
    return self_assessment.get_self_assessment(db, actor, assessment_id)


@router.put("/self-assessments/{assessment_id}/answers/{criterion}", response_model=AnswerRead)
def answer_criterion(db: DbSession, actor: CurrentActor, assessment_id: uuid.UUID,
                     criterion: Annotated[str, Path(max_length=10, description="e.g. 6.3")],
                     body: AnswerWrite) -> AnswerRead:
    """Rate one applicable criterion yourself, with a narrative and your evidence files
    (the organisation's users)."""
    return self_assessment.answer(db, actor, assessment_id, criterion, body)


@router.get("/self-assessments/{assessment_id}/export", response_class=Response,
            responses=CSV_RESPONSE)
def export_self_assessment(db: DbSession, actor: CurrentActor,
                           assessment_id: uuid.UUID) -> Response:
    """The self-assessment as CSV, one row per applicable criterion."""
    rows = self_assessment.export_rows(db, actor, assessment_id)
    return _csv(rows, f"self-assessment-{assessment_id}.csv")


@router.post("/self-assessments/{assessment_id}/move", response_model=MoveReport,
             status_code=status.HTTP_201_CREATED)
def move_self_assessment(db: DbSession, actor: CurrentActor, assessment_id: uuid.UUID,
                         body: MoveRequest) -> MoveReport:
    """Move the self-assessment to a newer version of its standard (member admin): answers
    on unchanged criteria carry over; the report lists what must be answered again."""
    return self_assessment.move(db, actor, assessment_id, body)


# --- evidence ---------------------------------------------------------------------------

_UPLOAD_FIELDS = {"file", "effective_on"}


@dataclass(frozen=True)
class EvidenceFile:
    filename: str
    declared_type: str | None
    data: bytes
    effective_on: date


async def read_evidence_file(
    request: Request,
    file: Annotated[UploadFile, File(description="PDF, PNG, JPEG, UTF-8 text or CSV, at "
                                                 "most evidence_max_bytes (default 10 MB); "
                                                 "its declared type must match its bytes")],
    effective_on: Annotated[date, Form(description="The date the evidence speaks for")],
) -> EvidenceFile:
    """The upload form: unknown fields refused by name; the file read at most one byte
    past the limit (the service refuses it then)."""
    form = await request.form()
    unknown = sorted(set(form.keys()) - _UPLOAD_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]}", field=unknown[0])
    data = await file.read(settings_of(request).evidence_max_bytes + 1)
    return EvidenceFile(file.filename or "", file.content_type, data, effective_on)


@router.post("/evidence", response_model=EvidenceUploaded,
             status_code=status.HTTP_201_CREATED)
def upload_evidence(request: Request, db: DbSession, actor: CurrentActor,
                    upload: Annotated[EvidenceFile, Depends(read_evidence_file)],
                    ) -> EvidenceUploaded:
    """Upload an evidence file of your organisation (``multipart/form-data``). Stored by
    content hash: the same file again returns the first upload's record. A mislabelled or
    unknown file is refused with 422, an oversized one with 413, and nothing is stored."""
    return evidence.upload(db, actor, filename=upload.filename,
                           declared_type=upload.declared_type, data=upload.data,
                           effective_on=upload.effective_on,
                           max_bytes=settings_of(request).evidence_max_bytes)


@router.get("/evidence", response_model=EvidencePage)
def list_evidence(db: DbSession, actor: CurrentActor, paging: Pagination,
                  organization: Slug = None) -> object:
    """Your organisation's evidence files, newest first."""
    return evidence.list_evidence(db, actor, paging, organization=organization)


@router.get("/evidence/{evidence_id}", response_model=EvidenceRead)
def get_evidence(db: DbSession, actor: CurrentActor, evidence_id: uuid.UUID) -> EvidenceRead:
    """An evidence file's record (its organisation, the secretariat, its auditors)."""
    return evidence.get_evidence(db, actor, evidence_id)


@router.get("/evidence/{evidence_id}/content", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}},
                             "description": "The file, with its content type"}})
def download_evidence(db: DbSession, actor: CurrentActor, evidence_id: uuid.UUID) -> Response:
    """The evidence file itself, as an attachment."""
    record, data = evidence.evidence_content(db, actor, evidence_id)
    name = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_"
                   for c in record.filename) or "evidence"
    return Response(data, media_type=record.content_type,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# --- audits -----------------------------------------------------------------------------


@router.post("/audits", response_model=AuditRead, status_code=status.HTTP_201_CREATED)
def plan_audit(db: DbSession, actor: CurrentActor, body: AuditCreate) -> AuditRead:
    """Plan an audit of a scope with an audit firm accredited for its standard, countries
    and activities on the start date, and one of its lead auditors (member admin)."""
    return audits.plan_audit(db, actor, body)


@router.get("/audits", response_model=AuditPage)
def list_audits(db: DbSession, actor: CurrentActor, paging: Pagination,
                status: AuditStatus | None = None, organization: Slug = None,
                scope_id: uuid.UUID | None = None) -> object:
    """Audits you may see: a member its own, an auditor only its firm's, the secretariat
    every one."""
    return audits.list_audits(db, actor, paging, status=status.value if status else None,
                              organization=organization, scope_id=scope_id)


@router.get("/audits/{audit_id}", response_model=AuditRead)
def get_audit(db: DbSession, actor: CurrentActor, audit_id: uuid.UUID) -> AuditRead:
    """One audit with its rating progress (another firm's auditor gets 404)."""
    return audits.get_audit(db, actor, audit_id)


@router.post("/audits/{audit_id}/plan", response_model=AuditRead)
def submit_plan(db: DbSession, actor: CurrentActor, audit_id: uuid.UUID,
                body: PlanSubmit) -> AuditRead:
    """Send the audit plan to the secretariat; today is recorded as the day it arrived
    (member admin)."""
    return audits.submit_plan(db, actor, audit_id, body)


@router.post("/audits/{audit_id}/plan-received", response_model=AuditRead)
def record_plan_received(db: DbSession, actor: CurrentActor, audit_id: uuid.UUID,
                         body: PlanReceipt) -> AuditRead:
    """Record the day a plan reached the secretariat outside the platform (by e-mail, on
    paper), with a note and optionally the plan's text (secretariat). The six-week notice
    counts from that day."""
    return audits.record_plan_received(db, actor, audit_id, body)


@router.post("/audits/{audit_id}/reschedule", response_model=AuditRead)
def reschedule_audit(db: DbSession, actor: CurrentActor, audit_id: uuid.UUID,
                     body: AuditReschedule) -> AuditRead:
    """Move a planned audit to new dates, today or later, with the reason (secretariat).
    The standard version and the firm's accreditation must hold on the new start date."""
    return audits.reschedule_audit(db, actor, audit_id, body)


@router.post("/audits/{audit_id}/start", response_model=AuditRead)
def start_audit(db: DbSession, actor: CurrentActor, audit_id: uuid.UUID) -> AuditRead:
    """Start the audit (the assigned firm's auditor), on or after its start date. An
    initial audit of mining, refining or smelting needs its plan at the secretariat 6 weeks
    before the start date (409)."""
    return audits.start_audit(db, actor, audit_id)


@router.post("/audits/{audit_id}/cancel", response_model=AuditRead)
def cancel_audit(db: DbSession, actor: CurrentActor, audit_id: uuid.UUID,
                 body: Reason) -> AuditRead:
    """Cancel a planned or running audit (member admin or secretariat)."""
    return audits.cancel_audit(db, actor, audit_id, body.reason)


@router.get("/audits/{audit_id}/ratings", response_model=RatingsRead)
def list_ratings(db: DbSession, actor: CurrentActor, audit_id: uuid.UUID) -> RatingsRead:
    """The ratings so far, each criterion's scope rating and what is still unrated."""
    return audits.list_ratings(db, actor, audit_id)


@router.post("/audits/{audit_id}/ratings", response_model=RatingsRead)
def rate(db: DbSession, actor: CurrentActor, audit_id: uuid.UUID,
         body: RatingBatch) -> RatingsRead:
    """Rate applicable criteria per facility, all or nothing (the assigned firm's auditor):
    conformance, minor, major, or not applicable with a reason. A non-conformance at one
    facility is a finding of the whole scope."""
    return audits.rate(db, actor, audit_id, body)


@router.get("/audits/{audit_id}/findings", response_model=list[FindingRead])
def list_findings(db: DbSession, actor: CurrentActor,
                  audit_id: uuid.UUID) -> list[FindingRead]:
    """The audit's findings with corrective action plans, due dates and closure."""
    return findings.list_findings(db, actor, audit_id)


@router.post("/audits/{audit_id}/report", response_model=AuditRead)
def submit_report(db: DbSession, actor: CurrentActor, audit_id: uuid.UUID,
                  body: ReportSubmit) -> AuditRead:
    """Submit the audit report (the lead auditor), on or after the audit's last day;
    refused (409) before then or while any applicable criterion is unrated at any
    facility."""
    return audits.submit_report(db, actor, audit_id, body)


@router.post("/audits/{audit_id}/review", response_model=AuditRead)
def review_report(db: DbSession, actor: CurrentActor, audit_id: uuid.UUID,
                  body: Note) -> AuditRead:
    """Record the secretariat's review of the submitted report."""
    return decisions.review_report(db, actor, audit_id, body)


@router.post("/audits/{audit_id}/return", response_model=AuditRead)
def return_report(db: DbSession, actor: CurrentActor, audit_id: uuid.UUID,
                  body: Reason) -> AuditRead:
    """Send the submitted report back to the auditor with the reason (secretariat)."""
    return decisions.return_report(db, actor, audit_id, body)


@router.get("/audits/{audit_id}/decision/preview", response_model=DecisionPreview)
def preview_decision(db: DbSession, actor: CurrentActor,
                     audit_id: uuid.UUID) -> DecisionPreview:
    """What deciding on the submitted report today would do, changing nothing: the outcome,
    its dates, and the certificates it would issue, supersede, withdraw or keep, with what
    still stands in the way of deciding (secretariat)."""
    return decisions.preview_decision(db, actor, audit_id)


@router.post("/audits/{audit_id}/decision", response_model=DecisionRead)
def decide(db: DbSession, actor: CurrentActor, audit_id: uuid.UUID,
           body: Note) -> DecisionRead:
    """Decide on a reviewed report (secretariat): certified (3 years), provisional (1 year,
    one to three majors) or refused (the audited scope's live certificates withdrawn). A
    new certificate supersedes the scope's live one; a surveillance audit without a major
    keeps it, one with one to three majors issues a provisional certificate that supersedes
    it. ``effect`` says in words what was done."""
    return decisions.decide_audit(db, actor, audit_id, body)


@router.get("/audits/{audit_id}/summary", response_model=AuditSummary)
def audit_summary(db: DbSession, audit_id: uuid.UUID) -> AuditSummary:
    """The public summary of a decided audit. Public."""
    return register.audit_summary(db, audit_id)


# --- findings ---------------------------------------------------------------------------


def _finding_query(principle: Annotated[int | None, Query(ge=1, le=99)] = None,
                   criterion: Annotated[str | None, Query(max_length=10)] = None,
                   rating: Rating | None = None,
                   year: Annotated[int | None, Query(ge=2000, le=2200)] = None,
                   kind: StandardKind | None = None) -> FindingQuery:
    return FindingQuery(principle=principle, criterion=criterion,
                        rating=rating.value if rating else None, year=year,
                        kind=kind.value if kind else None)


FindingFilters = Annotated[FindingQuery, Depends(_finding_query)]


@router.get("/findings", response_model=PublicFindingPage)
def public_findings(db: DbSession, paging: Pagination,
                    filters: FindingFilters) -> PublicFindingPage:
    """Non-conformities of decided audits, filtered by principle, criterion, rating (minor
    or major), year and standard, with counts by rating. Public."""
    return register.list_findings(db, paging, filters)


@router.get("/findings/export", response_class=Response, responses=CSV_RESPONSE)
def export_findings(db: DbSession, filters: FindingFilters) -> Response:
    """The filtered findings as CSV. Public."""
    return _csv(register.export_findings(db, filters), "findings.csv")


@router.post("/findings/{finding_id}/corrective-plan", response_model=FindingRead)
def file_corrective_plan(db: DbSession, actor: CurrentActor, finding_id: uuid.UUID,
                         body: CorrectivePlan) -> FindingRead:
    """File or revise the corrective action plan of a finding (member admin)."""
    return findings.file_corrective_plan(db, actor, finding_id, body)


@router.post("/findings/{finding_id}/closure", response_model=FindingRead)
def verify_closure(db: DbSession, actor: CurrentActor, finding_id: uuid.UUID,
                   body: ClosureVerify) -> FindingRead:
    """Verify that the corrective action closed the finding (the assigned firm's
    auditor)."""
    return findings.verify_closure(db, actor, finding_id, body)


# --- certificates -----------------------------------------------------------------------


CertStatus = Annotated[str | None, Query(
    pattern="^(active|suspended|withdrawn|expired|superseded)$", description="As of today")]


def _certificate_query(kind: StandardKind | None = None,
                       standard: Annotated[str | None, Query(
                           max_length=80, description="Standard slug")] = None,
                       version: Annotated[int | None, Query(ge=1, le=10_000)] = None,
                       activity: Activity | None = None,
                       country: Annotated[str | None, Query(max_length=2)] = None,
                       status: CertStatus = None, organization: Slug = None,
                       q: Annotated[str | None, Query(
                           max_length=100, description="Number or entity name")] = None,
                       ) -> CertificateQuery:
    return CertificateQuery(kind=kind.value if kind else None, standard=standard,
                            version=version, activity=activity.value if activity else None,
                            country=country, status=status, organization=organization, q=q)


CertificateFilters = Annotated[CertificateQuery, Depends(_certificate_query)]


@router.get("/certificates", response_model=CertificatePage)
def list_certificates(db: DbSession, paging: Pagination,
                      filters: CertificateFilters) -> CertificatePage:
    """The public register of every certificate ever issued: filter by standard kind,
    standard and version, activity, country, status (expiry by date counts), holder, or
    search by number or entity. Public."""
    return certificates.list_certificates(db, paging, filters)


@router.get("/certificates/export", response_class=Response, responses=CSV_RESPONSE)
def export_certificates(db: DbSession, filters: CertificateFilters) -> Response:
    """The filtered register as CSV. Public."""
    return _csv(certificates.export_rows(db, filters), "certificates.csv")


@router.post("/certificates/import", response_model=CertificateImportReport,
             status_code=status.HTTP_201_CREATED)
def import_certificates(db: DbSession, actor: CurrentActor,
                        body: CertificateImport) -> CertificateImportReport:
    """Register certificates issued before the platform existed, with their own numbers,
    dates and audit references (secretariat): they are marked imported in the register and
    on their pages. Every row is checked; when any has a problem nothing is imported and
    the 422's details name each problem with its row."""
    return imports.import_certificates(db, actor, body.certificates)


@router.get("/certificates/{number}", response_model=CertificateRead)
def get_certificate(db: DbSession, number: Number) -> CertificateRead:
    """A certificate with its facilities and whole status history. Public."""
    return certificates.get_certificate(db, number)


@router.get("/certificates/{number}/document", response_model=CertificateDocument)
def certificate_document(db: DbSession, number: Number) -> CertificateDocument:
    """The certificate as one self-contained JSON document with a SHA-256 digest (what its
    verification link shows). Public."""
    return certificates.certificate_document(db, number)


@router.post("/certificates/{number}/suspend", response_model=CertificateRead)
def suspend_certificate(db: DbSession, actor: CurrentActor, number: Number,
                        body: StatusChange) -> CertificateRead:
    """Suspend an active certificate with the reason, e.g. from a complaint (secretariat)."""
    return certificates.suspend(db, actor, number, body)


@router.post("/certificates/{number}/reinstate", response_model=CertificateRead)
def reinstate_certificate(db: DbSession, actor: CurrentActor, number: Number,
                          body: StatusChange) -> CertificateRead:
    """Lift a suspension (secretariat)."""
    return certificates.reinstate(db, actor, number, body)


@router.post("/certificates/{number}/withdraw", response_model=CertificateRead)
def withdraw_certificate(db: DbSession, actor: CurrentActor, number: Number,
                         body: StatusChange) -> CertificateRead:
    """Withdraw a certificate for good (secretariat)."""
    return certificates.withdraw(db, actor, number, body)


@router.get("/register/stats", response_model=RegisterStats)
def register_stats(db: DbSession) -> RegisterStats:
    """Current certificates by activity and by country, and non-conformities of decided
    audits by principle and year (what the register's charts draw). Public."""
    return register.register_stats(db)


# --- due dates and standing -------------------------------------------------------------


@router.get("/due-dates", response_model=list[DueItem])
def due_dates(db: DbSession, actor: CurrentActor, organization: Slug = None,
              overdue: Annotated[bool, Query(description="Only overdue items")] = False,
              ) -> list[DueItem]:
    """Surveillance and re-certification audits, audit plans and corrective actions due,
    soonest first, overdue ones flagged: a member's own; everyone's for the secretariat."""
    return dues.due_dates(db, actor, organization=organization, overdue_only=overdue)


@router.get("/overdue-members", response_model=list[OverdueMember])
def overdue_members(db: DbSession, actor: CurrentActor) -> list[OverdueMember]:
    """Production & Transformation and Industrial Users members past their certification
    deadline without a current Performance certificate (secretariat)."""
    return dues.overdue_members(db, actor)


# --- claims -----------------------------------------------------------------------------


@router.get("/claims", response_model=PublicClaimPage)
def public_claims(db: DbSession, paging: Pagination, organization: Slug = None,
                  include_lapsed: Annotated[bool, Query(
                      description="Also claims whose certificate is no longer active")] = False,
                  ) -> PublicClaimPage:
    """Approved claims with their certificate. Public."""
    return claims.list_public_claims(db, paging, organization=organization,
                                     include_lapsed=include_lapsed)


@router.post("/claims", response_model=ClaimRead, status_code=status.HTTP_201_CREATED)
def request_claim(db: DbSession, actor: CurrentActor, body: ClaimCreate) -> ClaimRead:
    """Ask to make a claim on one of your current certificates (member admin); an
    on-product claim needs current Performance and Chain of Custody certificates (409)."""
    return claims.request_claim(db, actor, body)


@router.get("/claims/requests", response_model=ClaimPage)
def list_claim_requests(db: DbSession, actor: CurrentActor, paging: Pagination,
                        status: ClaimStatus | None = None,
                        organization: Slug = None) -> ClaimPage:
    """Claim requests and their decisions: your own; every one for the secretariat."""
    return claims.list_claim_requests(db, actor, paging,
                                      status=status.value if status else None,
                                      organization=organization)


@router.get("/claims/{claim_id}", response_model=ClaimRead)
def get_claim(db: DbSession, actor: CurrentActor, claim_id: uuid.UUID) -> ClaimRead:
    """One claim request (its organisation and the secretariat)."""
    return claims.get_claim(db, actor, claim_id)


@router.post("/claims/{claim_id}/approve", response_model=ClaimRead)
def approve_claim(db: DbSession, actor: CurrentActor, claim_id: uuid.UUID,
                  body: Note) -> ClaimRead:
    """Approve a requested claim (secretariat); its certificates must still be current."""
    return claims.approve_claim(db, actor, claim_id, body)


@router.post("/claims/{claim_id}/reject", response_model=ClaimRead)
def reject_claim(db: DbSession, actor: CurrentActor, claim_id: uuid.UUID,
                 body: Reason) -> ClaimRead:
    """Reject a requested claim with the reason (secretariat)."""
    return claims.reject_claim(db, actor, claim_id, body)
