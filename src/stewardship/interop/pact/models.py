"""Tables of the PACT API: the client credentials a member gives its buyers, and the
outbox of events the platform sends to a buyer's ``/events`` endpoint."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stewardship.core.db import Base, IdMixin, UTCDateTime, utcnow


class PactClient(IdMixin, Base):
    """OAuth2 client credentials a member (the supplier) made for one buyer organisation.

    The buyer's software signs in with ``client_id`` and the secret (shown once, only its
    digest kept) and sees the footprints of the supplier's CoC documents addressed to it."""

    __tablename__ = "pact_clients"
    __table_args__ = (
        CheckConstraint("organization_id <> buyer_organization_id", name="two_parties"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"),
                                                       index=True)
    """The supplier whose documents the client sees (the member that made it)."""
    buyer_organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"),
                                                             index=True)
    """The buyer: only documents addressed to this organisation are seen."""
    name: Mapped[str] = mapped_column(String(100))
    client_id: Mapped[str] = mapped_column(String(40), unique=True)
    secret_digest: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the client secret."""
    events_base_url: Mapped[str] = mapped_column(String(300), default="")
    """The buyer's PACT base URL: answers to its requests are POSTed to
    ``{events_base_url}/3/events`` (``/2/events`` for a v2 request); empty, none are sent."""
    events_client_id: Mapped[str] = mapped_column(String(200), default="")
    """The credentials the platform signs in with at ``{events_base_url}/auth/token``
    before it sends an event there (empty: events go without a token)."""
    events_client_secret: Mapped[str] = mapped_column(Text, default="")
    """That secret, encrypted with a key derived from the platform's secret key."""
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PactOutboundEvent(IdMixin, Base):
    """A CloudEvent waiting to be sent to a buyer (an answer to its request), sent by the
    server's background sender with retries and growing waits."""

    __tablename__ = "pact_outbound_events"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status"),
        Index("ix_pact_outbound_events_due", "status", "next_attempt_at"),
    )

    client_pk: Mapped[uuid.UUID] = mapped_column(ForeignKey("pact_clients.id"), index=True)
    target_url: Mapped[str] = mapped_column(String(400))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
