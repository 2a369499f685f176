"""Queries of the named-query and subscription tables (the services' repository)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TypeVar

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from stewardship.interop.models import EpcisEvent
from stewardship.interop.subscription_models import (
    EpcisDelivery,
    EpcisNamedQuery,
    EpcisSubscription,
)

Row = TypeVar("Row")


def named_query(db: Session, owner: str, name: str) -> EpcisNamedQuery | None:
    return db.scalar(select(EpcisNamedQuery).where(EpcisNamedQuery.owner == owner,
                                                   EpcisNamedQuery.name == name))


def named_queries(db: Session, owner: str, after: str | None,
                  limit: int) -> list[EpcisNamedQuery]:
    stmt = select(EpcisNamedQuery).where(EpcisNamedQuery.owner == owner)
    if after is not None:
        stmt = stmt.where(EpcisNamedQuery.name > after)
    return list(db.scalars(stmt.order_by(EpcisNamedQuery.name).limit(limit)))


def add(db: Session, row: Row) -> Row:
    db.add(row)
    db.flush()
    return row


def delete_named_query(db: Session, query: EpcisNamedQuery) -> None:
    ids = select(EpcisSubscription.id).where(EpcisSubscription.query_id == query.id)
    db.execute(delete(EpcisDelivery).where(EpcisDelivery.subscription_id.in_(ids)))
    db.execute(delete(EpcisSubscription).where(EpcisSubscription.query_id == query.id))
    db.delete(query)
    db.flush()


def subscriptions_of(db: Session, query_id: uuid.UUID, after: datetime | None = None,
                     limit: int = 1000) -> list[EpcisSubscription]:
    stmt = select(EpcisSubscription).where(EpcisSubscription.query_id == query_id)
    if after is not None:
        stmt = stmt.where(EpcisSubscription.created_at > after)
    return list(db.scalars(stmt.order_by(EpcisSubscription.created_at).limit(limit)))


def subscription(db: Session, query_id: uuid.UUID,
                 subscription_id: uuid.UUID) -> EpcisSubscription | None:
    return db.scalar(select(EpcisSubscription).where(
        EpcisSubscription.query_id == query_id, EpcisSubscription.id == subscription_id))


def delete_subscription(db: Session, sub: EpcisSubscription) -> None:
    db.execute(delete(EpcisDelivery).where(EpcisDelivery.subscription_id == sub.id))
    db.delete(sub)
    db.flush()


def deliveries(db: Session, subscription_id: uuid.UUID, limit: int) -> list[EpcisDelivery]:
    return list(db.scalars(select(EpcisDelivery)
                           .where(EpcisDelivery.subscription_id == subscription_id)
                           .order_by(EpcisDelivery.id.desc()).limit(limit)))


def last_event_pk(db: Session) -> int:
    return int(db.scalar(select(func.max(EpcisEvent.id))) or 0)


def due_subscriptions(db: Session, now: datetime) -> list[tuple[EpcisSubscription,
                                                                 EpcisNamedQuery]]:
    """Webhook subscriptions worth a look: streams not waiting for a retry, and schedules
    (or retries) that are due; none leased by another delivery thread."""
    stmt = (select(EpcisSubscription, EpcisNamedQuery)
            .join(EpcisNamedQuery, EpcisNamedQuery.id == EpcisSubscription.query_id)
            .where(or_(EpcisSubscription.lease_until.is_(None),
                       EpcisSubscription.lease_until < now),
                   or_(EpcisSubscription.next_at <= now,
                       (EpcisSubscription.next_at.is_(None))
                       & EpcisSubscription.stream.is_(True)))
            .order_by(EpcisSubscription.created_at).limit(500))
    return [(sub, query) for sub, query in db.execute(stmt).all()]


def lease(db: Session, subscription_id: uuid.UUID, now: datetime, until: datetime) -> bool:
    """Claim the subscription for one delivery (compare-and-set on the lease)."""
    done = db.execute(update(EpcisSubscription)
                      .where(EpcisSubscription.id == subscription_id,
                             or_(EpcisSubscription.lease_until.is_(None),
                                 EpcisSubscription.lease_until < now))
                      .values(lease_until=until).execution_options(synchronize_session=False))
    return bool(getattr(done, "rowcount", 0) == 1)


def subscription_by_id(db: Session, subscription_id: uuid.UUID) -> EpcisSubscription | None:
    return db.get(EpcisSubscription, subscription_id)
