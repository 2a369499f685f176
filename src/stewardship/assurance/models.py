"""Tables of the assurance context. Tenant-owned rows carry ``organization_id``."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stewardship.core.db import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow


class CertificationScope(IdMixin, TimestampMixin, Base):
    """What an entity asks to be certified: facilities, activities, a standard version."""

    __tablename__ = "certification_scopes"

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"),
                                                       index=True)
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("standard_versions.id"))
    standard_kind: Mapped[str] = mapped_column(String(30))
    """performance or chain_of_custody, copied from the standard for filtering."""
    member_class: Mapped[str] = mapped_column(String(40))
    activities: Mapped[list[str]] = mapped_column(JSON)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="active")

    facilities: Mapped[list[ScopeFacility]] = relationship(lazy="raise",
                                                           cascade="all, delete-orphan")


class ScopeFacility(Base):
    __tablename__ = "scope_facilities"

    scope_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("certification_scopes.id"),
                                                primary_key=True)
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id"),
                                                   primary_key=True)


class SelfAssessment(IdMixin, TimestampMixin, Base):
    """A member's own rating of every applicable criterion of a scope."""

    __tablename__ = "self_assessments"

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"),
                                                       index=True)
    scope_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("certification_scopes.id"),
                                                index=True)
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("standard_versions.id"))
    status: Mapped[str] = mapped_column(String(20), default="in_progress")
    moved_from_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("self_assessments.id"))
    """The assessment on an older version this one was carried over from."""


class SelfAssessmentAnswer(IdMixin, Base):
    __tablename__ = "self_assessment_answers"
    __table_args__ = (UniqueConstraint("assessment_id", "criterion_number"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"),
                                                       index=True)
    assessment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("self_assessments.id"),
                                                     index=True)
    criterion_number: Mapped[str] = mapped_column(String(10))
    rating: Mapped[str] = mapped_column(String(20))
    narrative: Mapped[str] = mapped_column(Text, default="")
    evidence_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Evidence(IdMixin, Base):
    """An evidence file, stored once per organisation by content hash."""

    __tablename__ = "evidence"
    __table_args__ = (UniqueConstraint("organization_id", "sha256"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"),
                                                       index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    effective_on: Mapped[date] = mapped_column(Date)
    """The date the evidence speaks for, distinct from the upload date."""
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    uploaded_by: Mapped[str] = mapped_column(String(120))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Audit(IdMixin, TimestampMixin, Base):
    __tablename__ = "audits"
    __table_args__ = (
        CheckConstraint("status IN ('planned', 'in_progress', 'submitted', 'decided', "
                        "'cancelled')", name="status"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"),
                                                       index=True)
    scope_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("certification_scopes.id"),
                                                index=True)
    audit_firm_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("audit_firms.id"), index=True)
    lead_auditor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("auditors.id"))
    audit_type: Mapped[str] = mapped_column(String(20))
    start_on: Mapped[date] = mapped_column(Date)
    end_on: Mapped[date] = mapped_column(Date)
    plan: Mapped[str] = mapped_column(Text, default="")
    plan_submitted_on: Mapped[date | None] = mapped_column(Date)
    """The day the plan reached the secretariat (sent here, or recorded by it)."""
    plan_note: Mapped[str] = mapped_column(Text, default="")
    """The secretariat's note on how and when the plan was received."""
    status: Mapped[str] = mapped_column(String(20), default="planned", index=True)
    proposed_maturity: Mapped[str | None] = mapped_column(String(10))
    public_summary: Mapped[str] = mapped_column(Text, default="")
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by: Mapped[str | None] = mapped_column(String(120))
    outcome: Mapped[str | None] = mapped_column(String(20))
    """certified, provisional or refused, once decided."""
    maturity: Mapped[str | None] = mapped_column(String(10))
    """The decided maturity rating (the auditor's proposal capped by the rules)."""
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decision_note: Mapped[str] = mapped_column(Text, default="")


class AuditRating(IdMixin, Base):
    """The auditor's rating of one applicable criterion at one facility."""

    __tablename__ = "audit_ratings"
    __table_args__ = (UniqueConstraint("audit_id", "facility_id", "criterion_number"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"),
                                                       index=True)
    audit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("audits.id"), index=True)
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id"))
    criterion_number: Mapped[str] = mapped_column(String(10))
    rating: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    """Why not applicable; the finding for a non-conformance."""
    notes: Mapped[str] = mapped_column(Text, default="")
    evidence_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    rated_by: Mapped[str] = mapped_column(String(120))


class Finding(IdMixin, TimestampMixin, Base):
    """A non-conformance of the scope, with its corrective action plan and closure."""

    __tablename__ = "findings"
    __table_args__ = (UniqueConstraint("audit_id", "criterion_number"),
                      Index("ix_findings_principle_severity", "principle_number", "severity"))

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"),
                                                       index=True)
    audit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("audits.id"), index=True)
    criterion_number: Mapped[str] = mapped_column(String(10))
    principle_number: Mapped[int] = mapped_column(Integer)
    severity: Mapped[str] = mapped_column(String(10))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open")
    """open, plan_submitted, closed; withdrawn when re-rated conforming before the report."""
    plan_due_on: Mapped[date] = mapped_column(Date)
    closure_due_on: Mapped[date] = mapped_column(Date)
    corrective_plan: Mapped[str | None] = mapped_column(Text)
    plan_submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(120))
    closure_note: Mapped[str | None] = mapped_column(Text)


class Certificate(IdMixin, TimestampMixin, Base):
    __tablename__ = "certificates"
    __table_args__ = (
        Index("ix_certificates_status_kind", "status", "standard_kind"),
        CheckConstraint("status IN ('active', 'suspended', 'withdrawn', 'expired', "
                        "'superseded')", name="status"),
    )

    number: Mapped[str] = mapped_column(String(40), unique=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"),
                                                       index=True)
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    holder_name: Mapped[str] = mapped_column(String(200))
    """The member's name when the certificate was issued: what the certificate says, kept
    when the member is renamed later."""
    entity_name: Mapped[str] = mapped_column(String(200))
    """The legal entity's name when the certificate was issued."""
    scope_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("certification_scopes.id"),
                                                       index=True)
    """None only for a certificate imported without a platform scope."""
    audit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("audits.id"))
    """The platform audit that earned it; None for an imported certificate."""
    audit_reference: Mapped[str | None] = mapped_column(String(100))
    """The audit an imported certificate rests on, as the scheme's old records name it."""
    imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When a certificate issued before the platform existed was registered here."""
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("standard_versions.id"))
    standard_kind: Mapped[str] = mapped_column(String(30))
    certificate_type: Mapped[str] = mapped_column(String(20))
    """full or provisional."""
    maturity: Mapped[str] = mapped_column(String(10))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    surveillance_due_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="active")
    """As last changed; expiry by date is computed (rules.effective_status). superseded:
    a later certificate for the same scope replaced it."""

    activity_rows: Mapped[list[CertificateActivity]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="CertificateActivity.activity")
    country_rows: Mapped[list[CertificateCountry]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="CertificateCountry.country")

    @property
    def activities(self) -> list[str]:
        return [row.activity for row in self.activity_rows]

    @property
    def countries(self) -> list[str]:
        return [row.country for row in self.country_rows]


class CertificateActivity(Base):
    """An activity the certificate covers (a row each, so the register filters)."""

    __tablename__ = "certificate_activities"
    __table_args__ = (Index("ix_certificate_activities_activity", "activity",
                            "certificate_id"),)

    certificate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("certificates.id"),
                                                      primary_key=True)
    activity: Mapped[str] = mapped_column(String(40), primary_key=True)


class CertificateCountry(Base):
    """A country where a facility of the certificate's scope lies."""

    __tablename__ = "certificate_countries"
    __table_args__ = (Index("ix_certificate_countries_country", "country", "certificate_id"),)

    certificate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("certificates.id"),
                                                      primary_key=True)
    country: Mapped[str] = mapped_column(String(2), primary_key=True)


class CertificateEvent(IdMixin, Base):
    """The status history of a certificate, shown on the public register."""

    __tablename__ = "certificate_events"

    certificate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("certificates.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))


class Claim(IdMixin, TimestampMixin, Base):
    __tablename__ = "claims"

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"),
                                                       index=True)
    certificate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("certificates.id"))
    coc_certificate_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("certificates.id"))
    kind: Mapped[str] = mapped_column(String(20))
    uses_logo: Mapped[bool] = mapped_column(Boolean, default=False)
    wording: Mapped[str] = mapped_column(Text)
    percentage: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    status: Mapped[str] = mapped_column(String(20), default="requested")
    """requested, approved or rejected."""
    requested_by: Mapped[str] = mapped_column(String(120))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(120))


