"""Every query of the PACT API: client credentials, the CoC documents a client may see as
footprints (with the register data they are translated with), and the event outbox."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, update
from sqlalchemy.orm import Session, aliased

from stewardship.custody.models import CocDocument
from stewardship.interop.pact.models import PactClient, PactOutboundEvent
from stewardship.interop.pact.rules import ColumnFilters
from stewardship.registry.models import Entity, Facility, Organization

FOOTPRINT_STATUSES = ("issued", "received")
"""Documents that stand: a rejected or cancelled document is no footprint."""


def client_by_client_id(db: Session, client_id: str) -> PactClient | None:
    return db.scalar(select(PactClient).where(PactClient.client_id == client_id))


def client_by_id(db: Session, pk: uuid.UUID) -> PactClient | None:
    return db.get(PactClient, pk)


def record_client_use(db: Session, pk: uuid.UUID, now: datetime) -> None:
    db.execute(update(PactClient).where(PactClient.id == pk).values(last_used_at=now))


def clients_of(db: Session, organization_id: uuid.UUID) -> list[tuple[PactClient, str]]:
    """The organisation's client credentials, newest first, with each buyer's name."""
    rows = db.execute(
        select(PactClient, Organization.name)
        .join(Organization, Organization.id == PactClient.buyer_organization_id)
        .where(PactClient.organization_id == organization_id)
        .order_by(PactClient.created_at.desc(), PactClient.id))
    return [(client, name) for client, name in rows]


def organization_by_slug(db: Session, slug: str) -> Organization | None:
    return db.scalar(select(Organization).where(Organization.slug == slug))


def organization_by_id(db: Session, pk: uuid.UUID) -> Organization | None:
    return db.get(Organization, pk)


def _document_query(supplier_id: uuid.UUID, buyer_id: uuid.UUID,  # type: ignore[no-untyped-def]
                    filters: ColumnFilters | None = None):
    issuer = aliased(Organization)
    recipient = aliased(Organization)
    conditions = _conditions(issuer, filters) if filters is not None else []
    return (select(CocDocument, issuer, recipient, Entity)
            .join(issuer, issuer.id == CocDocument.issuer_organization_id)
            .join(recipient, recipient.id == CocDocument.recipient_organization_id)
            .join(Entity, Entity.id == CocDocument.issuer_entity_id)
            .where(CocDocument.issuer_organization_id == supplier_id,
                   CocDocument.recipient_organization_id == buyer_id,
                   CocDocument.status.in_(FOOTPRINT_STATUSES),
                   CocDocument.footprint_kg_co2e_per_kg.is_not(None), *conditions))


def footprint_documents(db: Session, supplier_id: uuid.UUID, buyer_id: uuid.UUID,
                        filters: ColumnFilters | None = None, *, offset: int = 0,
                        limit: int | None = None,
                        ) -> list[tuple[CocDocument, Organization, Organization, Entity]]:
    """The supplier's standing documents addressed to the buyer that state a footprint and
    pass the column filters, oldest issue first; ``offset`` and ``limit`` page them."""
    query = (_document_query(supplier_id, buyer_id, filters)
             .order_by(CocDocument.issued_at, CocDocument.id))
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [(d, i, r, e) for d, i, r, e in db.execute(query)]


def _conditions(issuer: Any, filters: ColumnFilters) -> list[ColumnElement[bool]]:
    """The column filters on the document query (``issuer``: its issuer's alias)."""
    if filters.nothing:
        return [false()]
    found: list[ColumnElement[bool]] = []
    if filters.company:
        found.append(or_(issuer.slug.in_(filters.slugs) if filters.slugs else false(),
                         CocDocument.issuer_entity_id.in_(filters.entity_ids)
                         if filters.entity_ids else false()))
    if filters.product:
        found.append(or_(CocDocument.number.in_(filters.numbers) if filters.numbers
                         else false(),
                         CocDocument.material.in_(filters.materials) if filters.materials
                         else false()))
    if filters.first_day is not None:  # the earlier of the two days is on or after it
        found += [CocDocument.period_end >= filters.first_day,
                  CocDocument.shipment_date >= filters.first_day]
    if filters.last_day is not None:
        found.append(or_(CocDocument.period_end <= filters.last_day,
                         CocDocument.shipment_date <= filters.last_day))
    return found


def footprint_document(db: Session, supplier_id: uuid.UUID, buyer_id: uuid.UUID,
                       document_id: uuid.UUID,
                       ) -> tuple[CocDocument, Organization, Organization, Entity] | None:
    row = db.execute(_document_query(supplier_id, buyer_id)
                     .where(CocDocument.id == document_id)).first()
    return (row[0], row[1], row[2], row[3]) if row else None


def entity_countries(db: Session, entity_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Each entity's facility country: its first active facility's (by creation)."""
    if not entity_ids:
        return {}
    rows = db.execute(
        select(Facility.entity_id, Facility.country)
        .where(Facility.entity_id.in_(set(entity_ids)), Facility.status == "active")
        .order_by(Facility.created_at, Facility.public_id))
    found: dict[uuid.UUID, str] = {}
    for entity_id, country in rows:
        if entity_id is not None:
            found.setdefault(entity_id, country)
    return found


def due_events(db: Session, now: datetime, limit: int = 20) -> list[uuid.UUID]:
    return list(db.scalars(
        select(PactOutboundEvent.id)
        .where(PactOutboundEvent.status == "pending", PactOutboundEvent.next_attempt_at <= now)
        .order_by(PactOutboundEvent.next_attempt_at, PactOutboundEvent.id).limit(limit)))


def event_for_update(db: Session, pk: uuid.UUID) -> PactOutboundEvent | None:
    """The outbox row, locked (PostgreSQL) so that two senders never send one event."""
    return db.scalar(select(PactOutboundEvent).where(PactOutboundEvent.id == pk)
                     .with_for_update(skip_locked=True))


def events_of(db: Session, client_pk: uuid.UUID) -> list[PactOutboundEvent]:
    return list(db.scalars(select(PactOutboundEvent)
                           .where(PactOutboundEvent.client_pk == client_pk)
                           .order_by(PactOutboundEvent.created_at)))


def event_by_id(db: Session, pk: uuid.UUID) -> PactOutboundEvent | None:
    return db.get(PactOutboundEvent, pk)
