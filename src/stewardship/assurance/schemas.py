"""Input and output models of the assurance API and pages."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator

from stewardship.assurance.rules import AuditType, ClaimKind, Maturity, Outcome, Rating
from stewardship.core.schemas import InputModel, OutputModel, PageOut
from stewardship.registry.rules import Activity

Text = Annotated[str, Field(default="", max_length=10_000)]
CriterionNumber = Annotated[str, Field(min_length=3, max_length=10, pattern=r"^\d{1,2}\.\d{1,2}$",
                                       description="e.g. 6.3")]

# --- references -------------------------------------------------------------------------


class OrganizationRef(OutputModel):
    slug: str
    name: str


class EntityRef(OutputModel):
    id: uuid.UUID
    name: str


class StandardRef(OutputModel):
    slug: str
    kind: str = Field(description="performance or chain_of_custody")
    title: str
    version: int


class FacilityBrief(OutputModel):
    id: str = Field(description="Public facility id")
    name: str
    country: str
    activities: list[str]


class FirmRef(OutputModel):
    slug: str
    name: str


# --- scopes -----------------------------------------------------------------------------


class ScopeCreate(InputModel):
    """What an entity asks to be certified."""

    entity_id: uuid.UUID = Field(description="An entity of your organisation")
    facilities: list[str] = Field(min_length=1, max_length=50,
                                  description="Public ids of your active facilities")
    activities: list[Activity] = Field(min_length=1, max_length=11,
                                       description="Carried out at the chosen facilities")
    standard: str = Field(min_length=2, max_length=80, description="Standard slug, e.g. "
                                                                   "performance")
    version: int = Field(ge=1, le=10_000)
    name: str | None = Field(default=None, min_length=2, max_length=200)


class CriterionApplicability(OutputModel):
    number: str
    title: str
    principle: int
    applicable: bool
    reason: str


class ScopeSummary(OutputModel):
    id: uuid.UUID
    name: str
    status: str = Field(description="active, or superseded after a move to a newer version")
    organization: OrganizationRef
    entity: EntityRef
    standard: StandardRef
    member_class: str
    activities: list[str]
    facilities: list[FacilityBrief]
    self_assessment_id: uuid.UUID | None
    created_at: datetime


class ScopeRead(ScopeSummary):
    applicable_count: int
    criteria: list[CriterionApplicability] = Field(
        description="Every criterion of the version, with whether it applies and why")


class ScopePage(PageOut[ScopeSummary]):
    pass


# --- evidence ---------------------------------------------------------------------------


class EvidenceRead(OutputModel):
    id: uuid.UUID
    organization: str = Field(description="Owner's slug")
    filename: str
    content_type: str
    size: int
    sha256: str
    effective_on: date = Field(description="The date the evidence speaks for")
    uploaded_at: datetime


class EvidenceUploaded(EvidenceRead):
    already_stored: bool = Field(description="The same content was uploaded before; the "
                                             "first upload's record is returned")


class EvidencePage(PageOut[EvidenceRead]):
    pass


class EvidenceRef(OutputModel):
    id: uuid.UUID
    filename: str
    content_type: str
    effective_on: date


# --- self-assessments -------------------------------------------------------------------


class AnswerWrite(InputModel):
    rating: Rating
    narrative: Text = Field(default="", description="Required when not applicable")
    evidence_ids: list[uuid.UUID] = Field(default_factory=list, max_length=50)


class AnswerRead(OutputModel):
    criterion: str
    rating: Rating
    narrative: str
    evidence: list[EvidenceRef]
    updated_at: datetime


class Progress(OutputModel):
    answered: int
    applicable: int
    percent: int


class SelfAssessmentItem(OutputModel):
    number: str
    title: str
    principle: int
    answer: AnswerRead | None


class SelfAssessmentRead(OutputModel):
    id: uuid.UUID
    scope_id: uuid.UUID
    scope_name: str
    organization: OrganizationRef
    entity: EntityRef
    standard: StandardRef
    status: str = Field(description="in_progress, or moved once carried to a newer version")
    moved_from_id: uuid.UUID | None
    progress: Progress
    items: list[SelfAssessmentItem] = Field(description="Every applicable criterion")
    created_at: datetime


class MoveRequest(InputModel):
    version: int = Field(ge=1, le=10_000, description="The newer version to move to")


class CarriedRead(OutputModel):
    from_number: str
    to_number: str
    title: str


class RedoRead(OutputModel):
    number: str
    title: str
    reason: str = Field(description="added, reworded, applicability changed or thresholds "
                                    "changed")


class CriterionBrief(OutputModel):
    number: str
    title: str


class MoveReport(OutputModel):
    from_version: int
    to_version: int
    scope: ScopeSummary = Field(description="The new scope on the newer version")
    assessment: SelfAssessmentRead = Field(description="The new self-assessment")
    carried: list[CarriedRead]
    redo: list[RedoRead] = Field(description="Applicable criteria to answer again")
    dropped: list[CriterionBrief] = Field(description="Answered criteria the version removed")


# --- audits -----------------------------------------------------------------------------


def _end_not_before_start(value: date, info: ValidationInfo) -> date:
    start = info.data.get("start_on")
    if start is not None and value < start:
        raise ValueError("the audit cannot end before it starts")
    return value


class AuditCreate(InputModel):
    scope_id: uuid.UUID
    audit_firm: str = Field(min_length=2, max_length=80, description="Audit firm slug")
    lead_auditor_id: uuid.UUID = Field(description="A lead auditor named by that firm")
    audit_type: AuditType
    start_on: date
    end_on: date
    plan: str = Field(default="", max_length=20_000)

    @field_validator("end_on")
    @classmethod
    def _after_start(cls, value: date, info: ValidationInfo) -> date:
        return _end_not_before_start(value, info)


class PlanSubmit(InputModel):
    plan: str = Field(min_length=10, max_length=20_000)


class AuditReschedule(InputModel):
    """New dates for a planned audit (secretariat)."""

    start_on: date = Field(description="Today or later")
    end_on: date
    reason: str = Field(min_length=3, max_length=2000)

    @field_validator("end_on")
    @classmethod
    def _after_start(cls, value: date, info: ValidationInfo) -> date:
        return _end_not_before_start(value, info)


class PlanReceipt(InputModel):
    """The secretariat's record that an audit plan reached it (by e-mail, on paper)."""

    received_on: date = Field(description="The day the plan arrived; not after today")
    note: str = Field(min_length=3, max_length=2000, description="How it arrived, from whom")
    plan: str | None = Field(default=None, min_length=10, max_length=20_000,
                             description="The plan's text, when it replaces the draft")


class Reason(InputModel):
    reason: str = Field(min_length=3, max_length=2000)


class Note(InputModel):
    note: str = Field(default="", max_length=2000)


class RatingProgress(OutputModel):
    rated: int
    required: int = Field(description="Applicable criteria times facilities")


class AuditorRef(OutputModel):
    id: uuid.UUID
    name: str


class AuditRead(OutputModel):
    id: uuid.UUID
    scope_id: uuid.UUID
    scope_name: str
    organization: OrganizationRef
    entity: EntityRef
    standard: StandardRef
    audit_firm: FirmRef
    lead_auditor: AuditorRef
    audit_type: AuditType
    start_on: date
    end_on: date
    plan: str
    plan_submitted_on: date | None = Field(description="The day the plan reached the "
                                                       "secretariat")
    plan_note: str = Field(default="", description="The secretariat's note on how the plan "
                                                   "was received")
    notice_required: bool = Field(description="An initial audit of mining, refining or "
                                              "smelting: the plan is due 6 weeks ahead")
    plan_due_by: date | None
    status: str
    proposed_maturity: Maturity | None
    public_summary: str
    submitted_at: datetime | None
    reviewed_at: datetime | None
    outcome: Outcome | None
    maturity: Maturity | None
    decided_at: datetime | None
    certificate_number: str | None
    progress: RatingProgress | None = None


class AuditPage(PageOut[AuditRead]):
    pass


class RatingWrite(InputModel):
    facility: str = Field(min_length=5, max_length=20, description="Public facility id")
    criterion: CriterionNumber
    rating: Rating
    reason: Text = Field(default="", description="Required for not applicable, minor and "
                                                 "major: the finding's description")
    notes: Text = Field(default="", description="Confidential working notes")
    evidence_ids: list[uuid.UUID] = Field(default_factory=list, max_length=50)


class RatingBatch(InputModel):
    ratings: list[RatingWrite] = Field(min_length=1, max_length=2000)


class RatingRead(OutputModel):
    facility: str
    criterion: str
    rating: Rating
    reason: str
    notes: str
    evidence_ids: list[uuid.UUID]
    rated_at: datetime


class MissingRating(OutputModel):
    facility: str
    criterion: str


class RatingsRead(OutputModel):
    audit_id: uuid.UUID
    progress: RatingProgress
    missing: list[MissingRating] = Field(description="The first unrated pairs (at most 20)")
    scope_ratings: dict[str, Rating] = Field(description="criterion -> worst rating over "
                                                         "the scope's facilities")
    ratings: list[RatingRead]


class FindingRead(OutputModel):
    id: uuid.UUID
    audit_id: uuid.UUID
    criterion: str
    principle: int
    severity: Rating
    description: str
    status: str = Field(description="open, plan_submitted, closed or withdrawn")
    plan_due_on: date
    closure_due_on: date
    corrective_plan: str | None
    plan_submitted_at: datetime | None
    closed_at: datetime | None
    closure_note: str | None


class CorrectivePlan(InputModel):
    plan: str = Field(min_length=10, max_length=20_000)


class ClosureVerify(InputModel):
    note: str = Field(min_length=3, max_length=5000)


class ReportSubmit(InputModel):
    proposed_maturity: Maturity
    public_summary: str = Field(min_length=20, max_length=20_000,
                                description="Published with the decision; no confidential "
                                            "detail")


# --- decisions and certificates ---------------------------------------------------------


class CertificateEventRead(OutputModel):
    from_status: str | None
    to_status: str
    reason: str
    at: datetime
    by: str = Field(description="secretariat or platform")


class CertificateSummary(OutputModel):
    number: str
    status: str = Field(description="As of today: active, suspended, withdrawn, expired or "
                                    "superseded (replaced by a later certificate for the "
                                    "same scope)")
    certificate_type: str = Field(description="full or provisional")
    organization: OrganizationRef
    entity: EntityRef
    issued_to: str = Field(description="The holder's name when the certificate was issued: "
                                       "what the certificate says (organization.name is the "
                                       "member's name now)")
    issued_to_entity: str = Field(description="The entity's name when it was issued")
    standard: StandardRef
    maturity: Maturity
    valid_from: date
    valid_until: date
    surveillance_due_on: date | None
    activities: list[str]
    countries: list[str]
    verify_path: str
    imported: bool = Field(default=False, description="Issued before the platform existed "
                                                      "and imported; no platform audit")
    audit_reference: str | None = Field(default=None, description="An imported "
                                        "certificate's audit, as the old records name it")


class CertificateRead(CertificateSummary):
    audit_id: uuid.UUID | None = Field(description="The platform audit; None when imported")
    scope_id: uuid.UUID | None = Field(description="None when imported without a scope")
    facilities: list[FacilityBrief]
    history: list[CertificateEventRead]


class CertificatePage(PageOut[CertificateSummary]):
    pass


class CertificateQuery(InputModel):
    """The register's filters."""

    kind: str | None = Field(default=None, description="performance or chain_of_custody")
    standard: str | None = Field(default=None, max_length=80, description="Standard slug")
    version: int | None = Field(default=None, ge=1, le=10_000)
    activity: str | None = Field(default=None, max_length=40)
    country: str | None = Field(default=None, max_length=2)
    status: str | None = Field(default=None, description="As of today: active, suspended, "
                                                         "withdrawn, expired or superseded")
    organization: str | None = Field(default=None, max_length=80)
    q: str | None = Field(default=None, max_length=100, description="Number or entity name")


class CertificateDocument(OutputModel):
    """The certificate as a self-contained JSON document (what a QR code points at)."""

    format: str
    number: str
    status: str
    status_as_of: date
    certificate_type: str
    holder: OrganizationRef
    entity: EntityRef
    issued_to: str = Field(description="The holder's name when the certificate was issued")
    issued_to_entity: str
    standard: StandardRef
    maturity: Maturity
    valid_from: date
    valid_until: date
    activities: list[str]
    countries: list[str]
    facilities: list[FacilityBrief]
    verify_path: str
    digest: str = Field(description="SHA-256 of the document's other fields, canonical JSON")


class CertificateImportRow(InputModel):
    """A certificate issued before the platform existed, as the scheme's records hold it."""

    number: str = Field(min_length=3, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9./-]*$",
                        description="The certificate's own number, kept as it was issued")
    organization: str = Field(min_length=2, max_length=80, description="Member slug")
    entity: str = Field(min_length=1, max_length=200,
                        description="The member's entity: its id or its exact name")
    standard: str = Field(min_length=2, max_length=80, description="Standard slug")
    version: int = Field(ge=1, le=10_000)
    certificate_type: str = Field(pattern="^(full|provisional)$")
    maturity: Maturity
    valid_from: date = Field(description="The day it was issued; not after today")
    valid_until: date
    surveillance_due_on: date | None = Field(default=None, description="Full certificates")
    audit_reference: str = Field(min_length=1, max_length=100,
                                 description="The audit it rests on, as the old records "
                                             "name it")
    status: str = Field(default="active", pattern="^(active|suspended)$",
                        description="active or suspended on the day of the import")
    activities: list[Activity] = Field(min_length=1, max_length=11)
    countries: list[str] = Field(min_length=1, max_length=60,
                                 description="ISO 3166 codes of the facilities' countries")
    scope_id: uuid.UUID | None = Field(default=None, description="A platform scope of the "
                                       "entity for the same standard, where one exists: a "
                                       "later decision on it supersedes this certificate")

    @field_validator("valid_until")
    @classmethod
    def _after_start(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("valid_from")
        if start is not None and value < start:
            raise ValueError("the certificate cannot end before it starts")
        return value


class CertificateImport(InputModel):
    certificates: list[CertificateImportRow] = Field(min_length=1, max_length=2000)


class ImportRowReport(OutputModel):
    row: int = Field(description="1 for the first certificate (in a CSV file: the line "
                                 "after the header)")
    number: str
    ok: bool
    problems: list[str]


class CertificateImportReport(OutputModel):
    imported: int
    certificates: list[CertificateSummary]


class StatusChange(InputModel):
    reason: str = Field(min_length=3, max_length=2000)
    complaint: str | None = Field(default=None, max_length=40,
                                  description="Reference of the complaint that led to it")


class DecisionRead(OutputModel):
    audit_id: uuid.UUID
    outcome: Outcome
    majors: int
    minors: int
    maturity: Maturity
    valid_from: date | None
    valid_until: date | None
    surveillance_due: date | None
    corrective_plan_due: date | None
    major_closure_due: date | None
    certificate: CertificateSummary | None = Field(
        description="The certificate issued, or the one a passed surveillance audit kept")
    withdrawn: list[str] = Field(description="Numbers of certificates withdrawn by a refusal")
    superseded: list[str] = Field(default_factory=list,
                                  description="Numbers of certificates the new one replaced")
    kept: list[str] = Field(default_factory=list,
                            description="Numbers of certificates a passed surveillance audit "
                                        "left in force")
    effect: str = Field(default="", description="What the decision did to certificates, in "
                                                "words")


class DecisionPreview(OutputModel):
    """What deciding today would do; nothing is changed by asking."""

    audit_id: uuid.UUID
    as_of: date
    outcome: Outcome
    majors: int
    minors: int
    maturity: Maturity
    valid_from: date | None
    valid_until: date | None
    issues: str | None = Field(description="full or provisional: the certificate it would "
                                           "issue; None when it issues none")
    corrective_plan_due: date | None
    major_closure_due: date | None
    supersedes: list[CertificateSummary]
    withdraws: list[CertificateSummary]
    keeps: list[CertificateSummary]
    effect: str = Field(description="What the decision would do to certificates, in words")
    may_decide: bool
    blockers: list[str] = Field(description="What must happen before deciding")


# --- due dates and standing -------------------------------------------------------------


class DueItem(OutputModel):
    kind: str = Field(description="surveillance_audit, recertification, audit_plan, "
                                  "corrective_plan or finding_closure")
    label: str
    due_on: date
    overdue: bool
    days_left: int
    organization: OrganizationRef
    entity: EntityRef | None
    certificate_number: str | None = None
    audit_id: uuid.UUID | None = None
    finding_id: uuid.UUID | None = None


class OverdueMember(OutputModel):
    organization: OrganizationRef
    membership_class: str
    joined_on: date
    deadline: date
    days_overdue: int


# --- claims -----------------------------------------------------------------------------


class ClaimCreate(InputModel):
    certificate: str = Field(min_length=5, max_length=40, description="Certificate number")
    kind: ClaimKind
    uses_logo: bool = False
    wording: str = Field(min_length=10, max_length=2000)
    percentage: Decimal | None = Field(default=None, ge=0, le=100, max_digits=5,
                                       decimal_places=2, description="0-100")


class ClaimRead(OutputModel):
    id: uuid.UUID
    organization: OrganizationRef
    certificate_number: str
    coc_certificate_number: str | None
    kind: ClaimKind
    uses_logo: bool
    wording: str
    percentage: Decimal | None
    status: str
    decision_reason: str | None
    decided_at: datetime | None
    created_at: datetime


class ClaimPage(PageOut[ClaimRead]):
    pass


class PublicClaimRead(OutputModel):
    id: uuid.UUID
    organization: OrganizationRef
    kind: ClaimKind
    uses_logo: bool
    wording: str
    percentage: Decimal | None
    decided_at: datetime | None
    certificate: CertificateSummary


class PublicClaimPage(PageOut[PublicClaimRead]):
    pass


# --- the public register ----------------------------------------------------------------


class PublicFindingRead(OutputModel):
    id: uuid.UUID
    audit_id: uuid.UUID
    organization: OrganizationRef
    entity: EntityRef
    standard: StandardRef
    criterion: str
    principle: int
    severity: Rating
    status: str
    audit_end_on: date


class FindingQuery(InputModel):
    """The public findings' filters."""

    principle: int | None = Field(default=None, ge=1, le=99)
    criterion: str | None = Field(default=None, max_length=10)
    rating: str | None = Field(default=None, description="minor or major")
    year: int | None = Field(default=None, ge=2000, le=2200, description="Of the audit's end")
    kind: str | None = Field(default=None, description="performance or chain_of_custody")


class PublicFindingPage(PageOut[PublicFindingRead]):
    counts: dict[str, int] = Field(description="Findings matching the filter, by severity")


class SummaryFinding(OutputModel):
    criterion: str
    principle: int
    severity: Rating
    status: str


class AuditSummary(OutputModel):
    """What the public may know of a decided audit: no working notes, no evidence."""

    audit_id: uuid.UUID
    organization: OrganizationRef
    entity: EntityRef
    standard: StandardRef
    audit_type: AuditType
    audit_firm: FirmRef
    start_on: date
    end_on: date
    activities: list[str]
    facilities: list[FacilityBrief]
    outcome: Outcome
    maturity: Maturity
    decided_on: date
    majors: int
    minors: int
    certificate_number: str | None
    public_summary: str
    findings: list[SummaryFinding]


class CountRow(OutputModel):
    key: str
    label: str
    count: int


class NonconformityRow(OutputModel):
    year: int
    principle: int
    majors: int
    minors: int


class RegisterStats(OutputModel):
    as_of: date
    certificates_by_activity: list[CountRow]
    certificates_by_country: list[CountRow]
    nonconformities_by_principle: list[NonconformityRow]
