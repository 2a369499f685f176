"""Queries of the carbon context."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from stewardship.carbon.models import CarbonInventory


def inventory_covering(db: Session, entity_id: uuid.UUID, on: date) -> CarbonInventory | None:
    """The entity-wide inventory whose period holds ``on`` (the latest starting one if
    several do), with its processes."""
    return db.scalars(
        select(CarbonInventory)
        .where(CarbonInventory.entity_id == entity_id, CarbonInventory.facility_id.is_(None),
               CarbonInventory.period_start <= on, CarbonInventory.period_end >= on)
        .order_by(CarbonInventory.period_start.desc()).limit(1)
        .options(selectinload(CarbonInventory.processes))).first()
