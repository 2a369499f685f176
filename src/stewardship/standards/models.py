"""Tables of the standards context."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stewardship.core.db import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow


class Standard(IdMixin, TimestampMixin, Base):
    """A standard known by its URN; its content lives in versions."""

    __tablename__ = "standards"

    urn: Mapped[str] = mapped_column(String(200), unique=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    """The URN's last segment, used in URLs (``performance``)."""
    kind: Mapped[str] = mapped_column(String(30))
    """performance or chain_of_custody."""
    title: Mapped[str] = mapped_column(String(300))
    """Title of the latest version."""

    versions: Mapped[list[StandardVersion]] = relationship(
        back_populates="standard", lazy="raise", order_by="StandardVersion.version")


class StandardVersion(IdMixin, Base):
    """One immutable version of a standard, as loaded from its package."""

    __tablename__ = "standard_versions"
    __table_args__ = (UniqueConstraint("standard_id", "version"),)

    standard_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("standards.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    provider: Mapped[str] = mapped_column(String(300))
    copyright: Mapped[str] = mapped_column(Text)
    illustrative: Mapped[bool] = mapped_column(Boolean, default=False)
    published_on: Mapped[date] = mapped_column(Date)
    effective_on: Mapped[date] = mapped_column(Date)
    transition_ends_on: Mapped[date | None] = mapped_column(Date)
    """After this day no new audit may use the previous version."""
    package: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The whole package in the import format, exactly as validated."""
    digest: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the canonical package."""
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    loaded_by: Mapped[str] = mapped_column(String(120))

    standard: Mapped[Standard] = relationship(back_populates="versions", lazy="raise")
    criteria: Mapped[list[Criterion]] = relationship(
        back_populates="version", lazy="raise",
        order_by="[Criterion.principle_number, Criterion.minor]")


class Principle(IdMixin, Base):
    __tablename__ = "principles"
    __table_args__ = (UniqueConstraint("version_id", "number"),)

    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("standard_versions.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    group: Mapped[str] = mapped_column(String(30))
    intent: Mapped[str] = mapped_column(Text, default="")


class Criterion(IdMixin, Base):
    """One criterion of a version; ``number`` is ``<principle>.<criterion>``."""

    __tablename__ = "criteria"
    __table_args__ = (UniqueConstraint("version_id", "number"),)

    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("standard_versions.id"), index=True)
    principle_number: Mapped[int] = mapped_column(Integer)
    minor: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(300))
    requirement: Mapped[str] = mapped_column(Text)
    guidance: Mapped[str] = mapped_column(Text, default="")
    activities: Mapped[list[str] | None] = mapped_column(JSON)
    """Activities it applies to; null means every activity."""
    member_classes: Mapped[list[str]] = mapped_column(JSON)
    parts: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    thresholds: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    version: Mapped[StandardVersion] = relationship(back_populates="criteria", lazy="raise")


class ApplicabilityExclusion(IdMixin, Base):
    """A criterion the secretariat marked not applicable for one entity's scope."""

    __tablename__ = "applicability_exclusions"
    __table_args__ = (UniqueConstraint("version_id", "entity_id", "criterion_number"),)

    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("standard_versions.id"))
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    criterion_number: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(120))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- standard setting -------------------------------------------------------------------


class Revision(IdMixin, TimestampMixin, Base):
    """A revision of a standard on its way from draft to a published version."""

    __tablename__ = "revisions"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'consultation', 'vote', 'approved', 'published', "
                        "'withdrawn')", name="status"),
    )

    standard_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("standards.id"), index=True)
    target_version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    draft_yaml: Mapped[str] = mapped_column(Text)
    """The current draft, a complete package in the import format."""
    draft_digest: Mapped[str] = mapped_column(String(64))
    published_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("standard_versions.id"))

    standard: Mapped[Standard] = relationship(lazy="raise")
    rounds: Mapped[list[ConsultationRound]] = relationship(
        back_populates="revision", lazy="raise", order_by="ConsultationRound.number")


class ConsultationRound(IdMixin, Base):
    __tablename__ = "consultation_rounds"
    __table_args__ = (UniqueConstraint("revision_id", "number"),)

    revision_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("revisions.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    opens_on: Mapped[date] = mapped_column(Date)
    closes_on: Mapped[date] = mapped_column(Date)
    draft_digest: Mapped[str] = mapped_column(String(64))
    """The draft the round consulted on."""
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Set when the round closes; the synopsis of comments and responses is public then."""

    revision: Mapped[Revision] = relationship(back_populates="rounds", lazy="raise")


class Comment(IdMixin, Base):
    """A public comment on a draft, or on one clause of it, with the secretariat's answer."""

    __tablename__ = "consultation_comments"

    round_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consultation_rounds.id"), index=True)
    criterion_number: Mapped[str | None] = mapped_column(String(10))
    """Null for a comment on the draft as a whole."""
    body: Mapped[str] = mapped_column(Text)
    author_name: Mapped[str] = mapped_column(String(200))
    author_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    """Kept private; required without an account."""
    source: Mapped[str] = mapped_column(String(64), index=True)
    """Digest of who sent it (account or address), for flood control."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    response: Mapped[str | None] = mapped_column(Text)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    responded_by: Mapped[str | None] = mapped_column(String(120))


class BodyMember(IdMixin, TimestampMixin, Base):
    """A seat on the standard-setting body: one person, in one chamber, for a term.

    The holder is a user of the platform, or a person in their own right (no organisation,
    no account) known by name and e-mail. A seat that ends before its term keeps its row:
    ``ended_on`` is the first day it no longer counts."""

    __tablename__ = "body_members"
    __table_args__ = (
        CheckConstraint("user_id IS NOT NULL OR email IS NOT NULL", name="holder"),
        CheckConstraint("(ended_on IS NULL) = (end_reason IS NULL)", name="end_reason"),
    )

    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    """Null for a person seated in their own right, without an account."""
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    """Contact of a person seated without an account (lower-cased); kept private."""
    name: Mapped[str] = mapped_column(String(200))
    affiliation: Mapped[str] = mapped_column(String(200), default="")
    chamber: Mapped[str] = mapped_column(String(30))
    term_starts_on: Mapped[date] = mapped_column(Date)
    term_ends_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    """Set when the seat ends before its term: from this day it no longer counts."""
    end_reason: Mapped[str | None] = mapped_column(Text)


class Vote(IdMixin, Base):
    """A vote of the standard-setting body on a revision."""

    __tablename__ = "votes"

    revision_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("revisions.id"), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closes_on: Mapped[date] = mapped_column(Date)
    pass_share: Mapped[str] = mapped_column(String(10), default="2/3")
    quorum_share: Mapped[str] = mapped_column(String(10), default="1/2")
    eligible: Mapped[list[str]] = mapped_column(JSON)
    """Body member ids eligible when the vote opened (the roll)."""
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The tally by chamber, stored when the vote closes."""


class Ballot(IdMixin, Base):
    """One member's current choice in a vote; changes are in the event log."""

    __tablename__ = "ballots"
    __table_args__ = (UniqueConstraint("vote_id", "member_id"),
                      CheckConstraint("choice IN ('yes', 'no', 'abstain')", name="choice"))

    vote_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("votes.id"), index=True)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("body_members.id"))
    choice: Mapped[str] = mapped_column(String(10))
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
