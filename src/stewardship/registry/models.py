"""Tables of the registry context."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stewardship.core.db import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow


class Organization(IdMixin, TimestampMixin, Base):
    """A member of the scheme, or an applicant for membership."""

    __tablename__ = "organizations"

    slug: Mapped[str] = mapped_column(String(80), unique=True)
    """Stable public key used in URLs."""
    name: Mapped[str] = mapped_column(String(200), index=True)
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    """``rules.name_key`` of the name: the database refuses a second organisation whose
    name differs from another's only in case, accents, spacing or punctuation."""
    membership_class: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True, default="applicant")
    joined_on: Mapped[date | None] = mapped_column(Date)
    """Date of admission; the certification deadline counts from it."""
    country: Mapped[str] = mapped_column(String(2), index=True)
    """Headquarters, ISO 3166-1 alpha-2."""
    website: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")

    entities: Mapped[list[Entity]] = relationship(back_populates="organization", lazy="raise",
                                                  order_by="Entity.name")


class OrganizationNameChange(IdMixin, Base):
    """A member admin's rename of a certified member, which the secretariat approves or
    refuses: certificates, buyers and the register know the member by its name."""

    __tablename__ = "organization_name_changes"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'refused')", name="status"),
        # One open request per organisation; decided ones stay as the history.
        Index("uq_organization_name_changes_pending", "organization_id", unique=True,
              sqlite_where=text("status = 'pending'"),
              postgresql_where=text("status = 'pending'")),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"),
                                                       index=True)
    old_name: Mapped[str] = mapped_column(String(200))
    new_name: Mapped[str] = mapped_column(String(200))
    new_name_key: Mapped[str] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    requested_by: Mapped[str] = mapped_column(String(120))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")
    """Why the secretariat refused (or a note on approval)."""


class Entity(IdMixin, TimestampMixin, Base):
    """A legal entity of a member: the thing a certificate is issued to."""

    __tablename__ = "entities"

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"),
                                                       index=True)
    name: Mapped[str] = mapped_column(String(200))

    organization: Mapped[Organization] = relationship(back_populates="entities", lazy="raise")


class Facility(IdMixin, TimestampMixin, Base):
    """A site where a member mines, refines, smelts, casts, rolls, converts or uses aluminium."""

    __tablename__ = "facilities"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'merged')", name="status"),
        Index("ix_facilities_country_name_clean", "country", "name_clean"),
    )

    public_id: Mapped[str] = mapped_column(String(13), unique=True)
    """Stable id with a check character, e.g. ``NO2024FT1F3YK``."""
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"),
                                                       index=True)
    entity_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("entities.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    """As the member wrote it."""
    name_clean: Mapped[str] = mapped_column(String(200))
    """Folded, punctuation and legal suffixes removed: what matching compares."""
    address: Mapped[str] = mapped_column(String(400), default="")
    address_clean: Mapped[str] = mapped_column(String(400), default="")
    country: Mapped[str] = mapped_column(String(2), index=True)
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    annual_capacity_t: Mapped[int | None] = mapped_column(BigInteger)
    """Capacity of the main output in whole tonnes per year."""
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    """IANA name of the zone the site keeps (``Europe/Oslo``): the day a date without a
    time is judged in. Starts as its country's main zone (core/timezones.py)."""
    status: Mapped[str] = mapped_column(String(10), default="active", index=True)
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("facilities.id"))

    organization: Mapped[Organization] = relationship(lazy="raise")
    entity: Mapped[Entity | None] = relationship(lazy="raise")
    activity_rows: Mapped[list[FacilityActivity]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="FacilityActivity.activity")

    @property
    def activities(self) -> list[str]:
        return [row.activity for row in self.activity_rows]

    @property
    def capacities(self) -> dict[str, int]:
        """Annual capacity in kg per activity, where known: the activity's own, else,
        for a facility of one activity, the facility's annual capacity in tonnes."""
        out = {row.activity: row.annual_capacity_kg for row in self.activity_rows
               if row.annual_capacity_kg is not None}
        if not out and len(self.activity_rows) == 1 and self.annual_capacity_t is not None:
            out[self.activity_rows[0].activity] = self.annual_capacity_t * 1000
        return out


class FacilityActivity(Base):
    """One supply-chain activity carried out at a facility (a row each, so lists filter)."""

    __tablename__ = "facility_activities"
    __table_args__ = (Index("ix_facility_activities_activity", "activity", "facility_id"),)

    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id"),
                                                   primary_key=True)
    activity: Mapped[str] = mapped_column(String(40), primary_key=True)
    annual_capacity_kg: Mapped[int | None] = mapped_column(BigInteger)
    """What the facility can put out in this activity in a year, whole kilograms; NULL:
    not given (a facility of one activity then has its ``annual_capacity_t``)."""


class FacilityAlias(Base):
    """A retired facility id that keeps resolving to the facility it was merged into."""

    __tablename__ = "facility_aliases"

    alias: Mapped[str] = mapped_column(String(13), primary_key=True)
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id"), index=True)
    reason: Mapped[str] = mapped_column(String(20), default="merge")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditFirm(IdMixin, TimestampMixin, Base):
    """A third-party audit firm and its accreditation scope."""

    __tablename__ = "audit_firms"

    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    website: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), default="accredited")
    """accredited, suspended or withdrawn."""
    standards: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Standards the firm may audit against."""
    countries: Mapped[list[str]] = mapped_column(JSON, default=list)
    activities: Mapped[list[str]] = mapped_column(JSON, default=list)
    accreditation_expires_on: Mapped[date | None] = mapped_column(Date)

    auditors: Mapped[list[Auditor]] = relationship(back_populates="audit_firm", lazy="raise",
                                                   order_by="Auditor.name")


class Auditor(IdMixin, TimestampMixin, Base):
    """A named auditor of an accredited firm."""

    __tablename__ = "auditors"

    audit_firm_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("audit_firms.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    lead: Mapped[bool] = mapped_column(Boolean, default=False)
    """Qualified to lead an audit."""
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    audit_firm: Mapped[AuditFirm] = relationship(back_populates="auditors", lazy="raise")


class User(IdMixin, TimestampMixin, Base):
    """A person who signs in: secretariat staff, a member's user, or an auditor."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "(role = 'secretariat' AND organization_id IS NULL AND audit_firm_id IS NULL) OR "
            "(role IN ('member_admin', 'member_user') AND organization_id IS NOT NULL "
            "AND audit_firm_id IS NULL) OR "
            "(role = 'auditor' AND audit_firm_id IS NOT NULL AND organization_id IS NULL)",
            name="role_home",
        ),
    )

    email: Mapped[str] = mapped_column(String(254), unique=True)
    """Lower-cased; the login name."""
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), index=True)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id"),
                                                              index=True)
    audit_firm_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("audit_firms.id"),
                                                            index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organization: Mapped[Organization | None] = relationship(lazy="raise")
    audit_firm: Mapped[AuditFirm | None] = relationship(lazy="raise")


class Invitation(IdMixin, Base):
    """An invitation to join an organisation or audit firm; the link carries the token."""

    __tablename__ = "invitations"

    email: Mapped[str] = mapped_column(String(254), index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id"))
    audit_firm_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("audit_firms.id"))
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiToken(IdMixin, Base):
    """A personal bearer token for the API. Only its SHA-256 digest is stored."""

    __tablename__ = "api_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(12))
    """The first characters of the token, to recognise it in a list."""
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UserSession(IdMixin, Base):
    """A signed-in browser. The cookie holds the token; the table its digest."""

    __tablename__ = "user_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoginAttempt(IdMixin, Base):
    """Each failed sign-in, kept to throttle guessing. Counted per e-mail and client address,
    so that failures from one place never lock the account's owner out elsewhere."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_email_at", "email", "at"),
                      Index("ix_login_attempts_email_ip_at", "email", "ip", "at"))

    email: Mapped[str] = mapped_column(String(254))
    ip: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoginLink(IdMixin, Base):
    """A one-time sign-in link sent by e-mail, for a user locked out by failed passwords
    (or who forgot theirs). Only the token's SHA-256 digest is stored; it works once."""

    __tablename__ = "login_links"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    requested_from: Mapped[str] = mapped_column(String(64), default="")
    """The client address that asked for the link."""
