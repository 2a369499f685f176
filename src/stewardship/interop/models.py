"""Tables of the EPCIS 2.0 repository: events (one row each, the JSON text beside the
columns queries filter on), a narrow index of what each event names, the JSON-LD contexts
events were captured with, and the capture-job queue the workers share."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from stewardship.core.db import Base, UTCDateTime, utcnow

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid); PostgreSQL gets BIGINT.
BigId = BigInteger().with_variant(Integer, "sqlite")


class EpcisContext(Base):
    """A JSON-LD ``@context`` (its non-standard part) that captured events were written in;
    stored once per distinct content, so that query results can declare the prefixes."""

    __tablename__ = "epcis_contexts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 of ``body``."""
    body: Mapped[str] = mapped_column(Text)
    """The context as JSON: a list of strings and prefix objects."""


class EpcisCaptureJob(Base):
    """One document sent to ``POST /epcis/capture``, queued until a worker captures it."""

    __tablename__ = "epcis_capture_jobs"
    __table_args__ = (Index("ix_epcis_capture_jobs_status_lease", "status", "lease_until"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id"), index=True)
    """The capturing organisation (None for the secretariat)."""
    actor: Mapped[dict[str, Any]] = mapped_column(JSON)
    """Who sent the document, as the services see them (the worker acts as them)."""
    behaviour: Mapped[str] = mapped_column(String(10))
    """``rollback`` (all or nothing) or ``proceed`` (keep the good events)."""
    status: Mapped[str] = mapped_column(String(10), default="queued")
    """``queued``, ``running`` (claimed by a worker under a lease) or ``done``."""
    success: Mapped[bool] = mapped_column(Boolean, default=True)
    document: Mapped[str | None] = mapped_column(Text)
    """The document as received; dropped once the job is done."""
    validation: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    """Problems found when the document was received (None: not validated yet)."""
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    captured_count: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """RFC 7807 problem documents, one per failed event or for the whole document."""
    ledger: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    """What each captured event did to the custody ledger (eventIndex, eventID, effect)."""
    worker: Mapped[str | None] = mapped_column(String(80))
    """Token of the claim that holds the job; a stale worker's completion is refused."""
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EpcisEvent(Base):
    """One captured EPCIS event: its JSON as stored and the fields queries filter on."""

    __tablename__ = "epcis_events"
    __table_args__ = (
        # An eventID is unique within the capturing organisation only: a member cannot
        # learn that another captured an id, nor block its capture by taking the id first.
        # An error declaration repeats the id of the event it corrects, so it is the one
        # second event an id may have. (NULLs are distinct in a unique index, hence the
        # secretariat's own partial index.)
        Index("uq_epcis_events_owner_event_id", "organization_id", "event_id",
              "error_declaration", unique=True),
        Index("uq_epcis_events_secretariat_event_id", "event_id", "error_declaration",
              unique=True, sqlite_where=text("organization_id IS NULL"),
              postgresql_where=text("organization_id IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(512), index=True)
    """The EPCIS eventID: as sent, or the CBV 2.0 hash id when the event had none."""
    error_declaration: Mapped[bool] = mapped_column(Boolean, default=False)
    """Whether the event declares an error in the event with its eventID."""
    event_type: Mapped[str] = mapped_column(String(40))
    event_time: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    record_time: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    """When this repository captured the event."""
    action: Mapped[str | None] = mapped_column(String(10))
    biz_step: Mapped[str | None] = mapped_column(String(300), index=True)
    """Standard values as bare words (``shipping``), custom ones as sent."""
    disposition: Mapped[str | None] = mapped_column(String(300), index=True)
    biz_location: Mapped[str | None] = mapped_column(String(512), index=True)
    read_point: Mapped[str | None] = mapped_column(String(512), index=True)
    transformation_id: Mapped[str | None] = mapped_column(String(512), index=True)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id"), index=True)
    """The organisation that captured the event (None: the secretariat)."""
    job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("epcis_capture_jobs.id"))
    context_id: Mapped[int | None] = mapped_column(ForeignKey("epcis_contexts.id"))
    body: Mapped[str] = mapped_column(Text)
    """The event as JSON, with its eventID and recordTime, without ``@context``."""


class EpcisMasterData(Base):
    """One vocabulary element of the master data a capturer sent in an ``epcisHeader``
    (a location, a party...), its attributes as last sent. Kept per capturer: one
    member's description of a location neither shows to nor overrides another's."""

    __tablename__ = "epcis_master_data"
    __table_args__ = (
        Index("uq_epcis_master_data_owner_element", "organization_id", "vocabulary",
              "element_id", unique=True),
        Index("ix_epcis_master_data_element", "element_id", "vocabulary"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id"), index=True)
    """The organisation that sent it (None: the secretariat)."""
    vocabulary: Mapped[str] = mapped_column(String(300))
    """The vocabulary type as sent (``urn:epcglobal:epcis:vtype:BusinessLocation``)."""
    element_id: Mapped[str] = mapped_column(String(512))
    attributes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """``[{"id": <attribute IRI or CURIE>, "attribute": <value>}, ...]`` as sent."""
    children: Mapped[list[str]] = mapped_column(JSON, default=list)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EpcisEventTerm(Base):
    """What an event names, one row per (kind, value): EPCs, parent ids, EPC classes (and
    their canonical Digital Links), the organisations it names as owning or possessing
    party (kinds in ``rules``), and the fields the query parameters read
    (``epcis.fields``)."""

    __tablename__ = "epcis_event_terms"
    __table_args__ = (Index("ix_epcis_event_terms_value_kind", "value", "kind", "event_pk"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_pk: Mapped[int] = mapped_column(BigId, ForeignKey("epcis_events.id"))
    kind: Mapped[int] = mapped_column(SmallInteger)
    value: Mapped[str] = mapped_column(String(512))
    number: Mapped[float | None] = mapped_column(Float(precision=53))
    """A field's number, or a date-time's UTC epoch milliseconds (``epcis.fields``)."""
