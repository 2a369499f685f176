"""Tables of the complaints context.

A complaint row holds the case as it stands; ``complaint_steps`` is its append-only log
(every status change, assignment, consent and appeal is a new step, never an edit);
``complaint_attachments`` holds the files the complainant sent, checked by their bytes.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stewardship.core.db import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow
from stewardship.registry.models import AuditFirm, Organization, User

_STATUSES = ("'received', 'accepted', 'out_of_scope', 'mediation', 'investigation', 'panel', "
             "'resolved', 'appealed', 'closed'")


class Complaint(IdMixin, TimestampMixin, Base):
    """A complaint about a member, an audit firm or the secretariat, and where it stands."""

    __tablename__ = "complaints"
    __table_args__ = (
        UniqueConstraint("ref_year", "ref_number"),
        CheckConstraint(f"status IN ({_STATUSES})", name="status"),
        CheckConstraint(
            "(subject_kind = 'member' AND organization_id IS NOT NULL "
            "AND audit_firm_id IS NULL) OR "
            "(subject_kind = 'audit_firm' AND audit_firm_id IS NOT NULL "
            "AND organization_id IS NULL) OR "
            "(subject_kind = 'secretariat' AND organization_id IS NULL "
            "AND audit_firm_id IS NULL)",
            name="subject",
        ),
        CheckConstraint(
            "(anonymous AND complainant_name IS NULL) OR "
            "(NOT anonymous AND complainant_name IS NOT NULL "
            "AND complainant_email IS NOT NULL)",
            name="complainant",
        ),
        Index("ix_complaints_source_digest_created_at", "source_digest", "created_at"),
    )

    reference: Mapped[str] = mapped_column(String(16), unique=True)
    """Public reference, ``C-2026-0001``: sequential per year."""
    ref_year: Mapped[int] = mapped_column(Integer)
    ref_number: Mapped[int] = mapped_column(Integer)
    subject_kind: Mapped[str] = mapped_column(String(20), index=True)
    """member, audit_firm or secretariat."""
    organization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id"),
                                                              index=True)
    """The member complained about (the tenant key of the row); None for other subjects."""
    audit_firm_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("audit_firms.id"),
                                                            index=True)
    """The audit firm complained about (its conduct or its auditors')."""
    summary: Mapped[str] = mapped_column(String(200))
    """One line the complainant wrote; shown on the public log when both parties agree."""
    description: Mapped[str] = mapped_column(Text)
    """The complaint in full; seen by the complainant and the secretariat only."""
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    """No name is kept; the private tracking link is how the complainant follows the case."""
    complainant_name: Mapped[str | None] = mapped_column(String(200))
    complainant_email: Mapped[str | None] = mapped_column(String(254))
    """Required when named; optional when anonymous. Never shown outside the secretariat."""
    complainant_affiliation: Mapped[str | None] = mapped_column(String(200))
    """The group or community the complainant speaks for, if any."""
    status: Mapped[str] = mapped_column(String(20), index=True, default="received")
    status_since: Mapped[date] = mapped_column(Date)
    """The day the case entered its status: due dates and the appeal window count from it."""
    due_on: Mapped[date | None] = mapped_column(Date, index=True)
    """When the current step is due; None once closed."""
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    """The secretariat user who handles the case."""
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 of the private tracking token; the token itself is shown once and not kept."""
    consent_complainant: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_respondent: Mapped[bool] = mapped_column(Boolean, default=False)
    """Both true: the case log is public."""
    outcome: Mapped[str | None] = mapped_column(Text)
    """The resolution, in words."""
    sanctions: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Sanctions decided at resolution (``rules.Sanction`` values)."""
    appealed_on: Mapped[date | None] = mapped_column(Date)
    """Set when the case was appealed; a case is appealed at most once."""
    source_digest: Mapped[str] = mapped_column(String(64))
    """Keyed digest of the filer's address, for flood control only."""

    organization: Mapped[Organization | None] = relationship(lazy="raise")
    audit_firm: Mapped[AuditFirm | None] = relationship(lazy="raise")
    owner: Mapped[User | None] = relationship(lazy="raise")
    steps: Mapped[list[ComplaintStep]] = relationship(
        back_populates="complaint", lazy="raise", order_by="ComplaintStep.sequence")
    attachments: Mapped[list[ComplaintAttachment]] = relationship(
        back_populates="complaint", lazy="raise", order_by="ComplaintAttachment.created_at")


class ComplaintStep(IdMixin, Base):
    """One entry of a case's log. Rows are only ever added."""

    __tablename__ = "complaint_steps"
    __table_args__ = (
        UniqueConstraint("complaint_id", "sequence"),
        CheckConstraint("kind IN ('filed', 'transition', 'assigned', 'consent', 'appeal')",
                        name="kind"),
    )

    complaint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("complaints.id"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    """1, 2, 3 ... within the case."""
    kind: Mapped[str] = mapped_column(String(20))
    """filed, transition, assigned, consent or appeal."""
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    """Equal to ``from_status`` for steps that do not move the case."""
    note: Mapped[str] = mapped_column(Text, default="")
    note_public: Mapped[bool] = mapped_column(Boolean, default=False)
    """Whether the note may be shown to the complainant and, when the log is public, to all."""
    actor_role: Mapped[str] = mapped_column(String(20))
    """secretariat, complainant or respondent: what the public log shows."""
    actor_ref: Mapped[str] = mapped_column(String(120))
    """``user:<uuid>``, ``system:<name>`` or ``complainant`` (never the complainant's id)."""
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_on: Mapped[date | None] = mapped_column(Date)
    """The case's due date as this step left it."""

    complaint: Mapped[Complaint] = relationship(back_populates="steps", lazy="raise")


class ComplaintAttachment(IdMixin, Base):
    """A file sent with a complaint. Its type was read from its bytes, not its name."""

    __tablename__ = "complaint_attachments"

    complaint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("complaints.id"), index=True)
    filename: Mapped[str] = mapped_column(String(120))
    """Sanitised, with the extension of the real type."""
    content_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True, deferred_raiseload=True)
    """The bytes; loaded only when someone downloads the file."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    complaint: Mapped[Complaint] = relationship(back_populates="attachments", lazy="raise")

