"""Tables of EPCIS named queries and their subscriptions: the query an organisation saved
under a name, the webhooks subscribed to it (on capture or on a schedule), and the log of
every delivery attempt."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stewardship.core.db import Base, UTCDateTime, utcnow
from stewardship.interop.models import BigId


class EpcisNamedQuery(Base):
    """An EPCIS Query Language query saved under a name by its owner."""

    __tablename__ = "epcis_named_queries"
    __table_args__ = (Index("uq_epcis_named_queries_owner_name", "owner", "name",
                            unique=True),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    owner: Mapped[str] = mapped_column(String(40))
    """The owning organisation's id (hex), or ``secretariat``."""
    name: Mapped[str] = mapped_column(String(100))
    query: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The query as sent (EPCIS Query Language)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EpcisSubscription(Base):
    """A webhook subscribed to a named query: ``stream`` (on capture) or a ``schedule``."""

    __tablename__ = "epcis_subscriptions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    query_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("epcis_named_queries.id"),
                                                index=True)
    actor: Mapped[dict[str, Any]] = mapped_column(JSON)
    """Who subscribed: deliveries carry only the events they may see."""
    dest: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str | None] = mapped_column(String(500))
    """The subscriber's ``signatureToken``: the HMAC key of ``GS1-Signature``; never shown."""
    stream: Mapped[bool] = mapped_column(Boolean, default=False)
    schedule: Mapped[dict[str, str] | None] = mapped_column(JSON)
    report_if_empty: Mapped[bool] = mapped_column(Boolean, default=False)
    media_type: Mapped[str] = mapped_column(String(40), default="application/json",
                                            server_default="application/json")
    """What the deliveries are sent as: ``application/json``, ``application/ld+json`` or
    ``application/xml`` (GS1's XML EPCISQueryDocument)."""
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    """Row id of the last event delivered (or seen when subscribing)."""
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    """The next scheduled run, or the retry of a failed delivery."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Failed attempts of the pending delivery."""
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """A delivery thread holds the subscription until then."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EpcisDelivery(Base):
    """One attempt to deliver to a subscription's destination."""

    __tablename__ = "epcis_deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subscription_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("epcis_subscriptions.id"),
                                                       index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempt: Mapped[int] = mapped_column(Integer)
    event_count: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(12))
    """``delivered``, ``failed`` (retried later) or ``given_up``."""
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
