"""Input and output models of the complaints API.

Three readers see a case, and each has its own model, so that nothing leaks by accident:

- ``ComplaintCase``: the public log (when both parties agreed) and the respondent: the
  subject, the summary, the status, due dates and public notes. Never the complainant's
  identity or contact, never the description or the attachments.
- ``ComplaintTrack``: the complainant, through the private tracking link: the case plus
  their own description, attachments' names, consents and whether they may appeal.
- ``ComplaintRead``: the secretariat: everything, with every note.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import EmailStr, Field

from stewardship.complaints.rules import ComplaintStatus, Sanction, SubjectKind
from stewardship.core.schemas import InputModel, OutputModel, PageOut

# --- input ------------------------------------------------------------------------------


class ComplaintCreate(InputModel):
    """A complaint as filed. Sent as ``multipart/form-data`` so files can come with it."""

    subject_kind: SubjectKind = Field(description="Who the complaint is about")
    subject: str | None = Field(
        default=None, max_length=80,
        description="Slug of the member or audit firm; leave out for the secretariat")
    summary: str = Field(min_length=5, max_length=200,
                         description="One line; shown publicly if both parties agree to "
                         "publish the case log, so keep personal details out of it")
    description: str = Field(min_length=20, max_length=10_000,
                             description="What happened, where and when, and what you ask for")
    anonymous: bool = Field(default=False,
                            description="Keep no name; follow the case with the private link")
    complainant_name: str | None = Field(default=None, max_length=200,
                                         description="Required unless anonymous")
    complainant_email: EmailStr | None = Field(
        default=None, description="Required unless anonymous; never published")
    complainant_affiliation: str | None = Field(
        default=None, max_length=200, description="The group or community you speak for")
    consent_public: bool = Field(
        default=False, description="You agree that the case log may be published (it is, "
        "once the respondent agrees too)")


class TransitionRequest(InputModel):
    """Move a case on. Resolving needs an outcome and the list of sanctions."""

    to: ComplaintStatus
    note: str = Field(default="", max_length=5000)
    public_note: bool = Field(default=False, description="Show the note to the complainant "
                              "and, when the log is public, to everyone")
    outcome: str | None = Field(default=None, max_length=10_000)
    sanctions: list[Sanction] | None = Field(default=None, max_length=7)
    certificate: str | None = Field(
        default=None, max_length=40,
        description="With the suspend_certificate sanction: the number of the respondent's "
                    "certificate to suspend; left out, every current certificate of the "
                    "respondent is suspended")


class AssignRequest(InputModel):
    owner: uuid.UUID | None = Field(description="A secretariat user's id; null to unassign")


class ConsentRequest(InputModel):
    consent: bool = Field(description="True to agree that the case log is published")


class AppealRequest(InputModel):
    grounds: str = Field(min_length=10, max_length=5000,
                         description="Why the decision should be reconsidered")


# --- output -----------------------------------------------------------------------------


class SubjectRead(OutputModel):
    kind: SubjectKind
    slug: str | None
    name: str


class PublicStepRead(OutputModel):
    sequence: int
    kind: str
    from_status: ComplaintStatus | None
    to_status: ComplaintStatus
    note: str = Field(description="Empty unless the note was marked public")
    actor_role: str
    at: datetime
    due_on: date | None


class StepRead(PublicStepRead):
    note_public: bool
    actor_ref: str


class AttachmentRead(OutputModel):
    id: uuid.UUID
    filename: str
    content_type: str
    size: int
    sha256: str


class OwnerRead(OutputModel):
    id: uuid.UUID
    name: str


class ComplaintCase(OutputModel):
    """A case as the public (when published) and the respondent see it."""

    reference: str
    subject: SubjectRead
    summary: str
    status: ComplaintStatus
    status_label: str
    filed_at: datetime
    status_since: date
    due_on: date | None
    overdue: bool
    outcome: str | None
    sanctions: list[Sanction]
    public: bool = Field(description="Both parties agreed to publish the case log")
    steps: list[PublicStepRead]


class ComplaintTrack(ComplaintCase):
    """A case as the complainant sees it through the private tracking link."""

    description: str
    anonymous: bool
    consent_complainant: bool
    consent_respondent: bool
    appeal_open: bool
    appeal_last_day: date | None
    attachments: list[AttachmentRead]


class ComplaintRead(ComplaintTrack):
    """A case as the secretariat sees it."""

    complainant_name: str | None
    complainant_email: str | None
    complainant_affiliation: str | None
    owner: OwnerRead | None
    steps: list[StepRead]  # type: ignore[assignment]
    next_statuses: list[ComplaintStatus]
    due_what: str | None = Field(description="What the owner must do by the due date")


class ComplaintSummary(OutputModel):
    """One line of a list of cases."""

    reference: str
    subject: SubjectRead
    summary: str
    status: ComplaintStatus
    status_label: str
    filed_at: datetime
    due_on: date | None
    overdue: bool
    public: bool


class ComplaintListItem(ComplaintSummary):
    """One line of the secretariat's list."""

    anonymous: bool
    owner: OwnerRead | None


class ComplaintPage(PageOut[ComplaintListItem]):
    pass


class PublicComplaintPage(PageOut[ComplaintSummary]):
    pass


class ComplaintFiled(OutputModel):
    """The answer to a filing. The tracking token is in this answer only."""

    reference: str
    status: ComplaintStatus
    due_on: date | None
    tracking_token: str = Field(description="Shown once; keep it to follow the case")
    tracking_url: str
    attachments: list[AttachmentRead]
