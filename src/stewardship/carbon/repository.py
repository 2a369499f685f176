"""Queries of the carbon context."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from stewardship.carbon.models import CarbonInventory, CarbonProcess
from stewardship.carbon.rules import LATEST_INVENTORY_DAYS
from stewardship.custody.models import CocDocument
from stewardship.registry.models import Entity, Facility, FacilityActivity, Organization


def inventory_covering(db: Session, entity_id: uuid.UUID, on: date, *,
                       ended_after: date | None = None) -> CarbonInventory | None:
    """The entity-wide inventory whose period holds ``on``; where none does yet (an
    inventory is recorded once its period is over), the latest one before it that ended
    after ``ended_after``; with its processes."""
    return db.scalars(
        select(CarbonInventory)
        .where(CarbonInventory.entity_id == entity_id, CarbonInventory.facility_id.is_(None),
               CarbonInventory.period_start <= on,
               CarbonInventory.period_end >= (ended_after or on))
        .order_by(CarbonInventory.period_start.desc()).limit(1)
        .options(selectinload(CarbonInventory.processes))).first()


def inventory_by_id(db: Session, inventory_id: uuid.UUID) -> CarbonInventory | None:
    return db.scalars(select(CarbonInventory).where(CarbonInventory.id == inventory_id)
                      .options(selectinload(CarbonInventory.processes))).first()


def _series(entity_id: uuid.UUID, facility_id: uuid.UUID | None) -> list[Any]:
    return [CarbonInventory.entity_id == entity_id,
            CarbonInventory.facility_id == facility_id if facility_id is not None
            else CarbonInventory.facility_id.is_(None)]


def overlapping(db: Session, entity_id: uuid.UUID, facility_id: uuid.UUID | None,
                start: date, end: date, exclude: uuid.UUID | None = None
                ) -> CarbonInventory | None:
    """An inventory of the same entity and facility (or the same entity-wide series) whose
    period shares a day with ``start``..``end``."""
    query = select(CarbonInventory).where(
        *_series(entity_id, facility_id), CarbonInventory.period_start <= end,
        CarbonInventory.period_end >= start)
    if exclude is not None:
        query = query.where(CarbonInventory.id != exclude)
    return db.scalars(query.order_by(CarbonInventory.period_start).limit(1)).first()


def first_smelting_inventories(db: Session, entity_ids: list[uuid.UUID]
                               ) -> dict[tuple[uuid.UUID, uuid.UUID | None], CarbonInventory]:
    """The earliest inventory with smelting of every series (entity, facility) of the
    entities named, with its processes: where an older smelter's path starts."""
    if not entity_ids:
        return {}
    rows = db.scalars(
        select(CarbonInventory)
        .where(CarbonInventory.entity_id.in_(set(entity_ids)),
               CarbonInventory.id.in_(select(CarbonProcess.inventory_id)
                                      .where(CarbonProcess.process == "smelting")))
        .order_by(CarbonInventory.period_start)
        .options(selectinload(CarbonInventory.processes)))
    out: dict[tuple[uuid.UUID, uuid.UUID | None], CarbonInventory] = {}
    for row in rows:
        out.setdefault((row.entity_id, row.facility_id), row)
    return out


def _listed(organization_id: uuid.UUID | None, entity_id: uuid.UUID | None,
            facility_id: uuid.UUID | None) -> list[Any]:
    where: list[Any] = []
    if organization_id is not None:
        where.append(CarbonInventory.organization_id == organization_id)
    if entity_id is not None:
        where.append(CarbonInventory.entity_id == entity_id)
    if facility_id is not None:
        where.append(CarbonInventory.facility_id == facility_id)
    return where


def inventories(db: Session, *, organization_id: uuid.UUID | None,
                entity_id: uuid.UUID | None = None, facility_id: uuid.UUID | None = None,
                offset: int = 0, limit: int = 20) -> tuple[list[CarbonInventory], int]:
    """One page of inventories (all organisations' when ``organization_id`` is None),
    latest period first, with the total."""
    where = _listed(organization_id, entity_id, facility_id)
    total = db.scalar(select(func.count()).select_from(CarbonInventory).where(*where)) or 0
    rows = db.scalars(
        select(CarbonInventory).where(*where)
        .order_by(CarbonInventory.period_start.desc(), CarbonInventory.created_at.desc(),
                  CarbonInventory.id)
        .offset(offset).limit(limit).options(selectinload(CarbonInventory.processes)))
    return list(rows), total


def smelting_inventories(db: Session) -> list[CarbonInventory]:
    """Every inventory with smelting of a member in good standing (admitted, not
    suspended or terminated), oldest first: the public dashboard's source."""
    return list(db.scalars(
        select(CarbonInventory)
        .join(Organization, Organization.id == CarbonInventory.organization_id)
        .where(Organization.status == "member",
               CarbonInventory.id.in_(select(CarbonProcess.inventory_id)
                                      .where(CarbonProcess.process == "smelting")))
        .order_by(CarbonInventory.period_start, CarbonInventory.id)
        .options(selectinload(CarbonInventory.processes))))


def names(db: Session, entity_ids: set[uuid.UUID], facility_ids: set[uuid.UUID]
          ) -> tuple[dict[uuid.UUID, tuple[str, str, str]], dict[uuid.UUID, tuple[str, str, str]]]:
    """Entities as (name, organisation slug, organisation name) and facilities as (public
    id, name, country), for read models."""
    entities = {row.id: (row.name, row.slug, row.org_name) for row in db.execute(
        select(Entity.id, Entity.name, Organization.slug, Organization.name.label("org_name"))
        .join(Organization, Organization.id == Entity.organization_id)
        .where(Entity.id.in_(entity_ids)))} if entity_ids else {}
    facilities = {row.id: (row.public_id, row.name, row.country) for row in db.execute(
        select(Facility.id, Facility.public_id, Facility.name, Facility.country)
        .where(Facility.id.in_(facility_ids)))} if facility_ids else {}
    return entities, facilities


def smelting_facilities(db: Session, entity_ids: set[uuid.UUID]
                        ) -> dict[uuid.UUID, tuple[str, str, str]]:
    """Each entity's active smelting facility (the first by name) as (public id, name,
    country): where an entity-wide inventory's smelter stands."""
    if not entity_ids:
        return {}
    rows = db.execute(
        select(Facility.entity_id, Facility.public_id, Facility.name, Facility.country)
        .join(FacilityActivity, FacilityActivity.facility_id == Facility.id)
        .where(Facility.entity_id.in_(entity_ids), Facility.status == "active",
               FacilityActivity.activity == "smelting")
        .order_by(Facility.name, Facility.public_id))
    found: dict[uuid.UUID, tuple[str, str, str]] = {}
    for entity_id, public_id, name, country in rows:
        if entity_id is not None:
            found.setdefault(entity_id, (public_id, name, country))
    return found


def entities_of(db: Session, organization_id: uuid.UUID | None) -> list[Entity]:
    """An organisation's entities (every member's when None), by name."""
    query = select(Entity).order_by(Entity.name)
    if organization_id is not None:
        query = query.where(Entity.organization_id == organization_id)
    return list(db.scalars(query))


def facilities_of(db: Session, organization_id: uuid.UUID) -> list[Facility]:
    return list(db.scalars(select(Facility).where(Facility.organization_id == organization_id,
                                                  Facility.status == "active")
                           .order_by(Facility.name)))


def facility_by_public_id(db: Session, public_id: str) -> Facility | None:
    return db.scalars(select(Facility).where(Facility.public_id == public_id)).first()


def any_inventory(db: Session) -> bool:
    return db.scalar(select(CarbonInventory.id).limit(1)) is not None


# --- CBAM -------------------------------------------------------------------------------


def entity_facilities(db: Session, entity_id: uuid.UUID, organization_id: uuid.UUID
                      ) -> list[Facility]:
    """The active facilities of an entity (those of its organisation that name no entity
    after them), the entity's own first."""
    rows = db.scalars(select(Facility).where(
        Facility.organization_id == organization_id, Facility.status == "active",
        (Facility.entity_id == entity_id) | Facility.entity_id.is_(None))
        .order_by(Facility.entity_id.is_(None), Facility.public_id))
    return list(rows)


def facility_by_id(db: Session, facility_id: uuid.UUID) -> Facility | None:
    return db.get(Facility, facility_id)


def entity_by_id(db: Session, entity_id: uuid.UUID) -> Entity | None:
    return db.get(Entity, entity_id)


def organization_by_id(db: Session, organization_id: uuid.UUID) -> Organization | None:
    return db.get(Organization, organization_id)


def received_documents(db: Session, *, entity_id: uuid.UUID | None = None,
                       organization_id: uuid.UUID | None = None, start: date, end: date
                       ) -> list[Any]:
    """CoC documents received from ``start`` to ``end`` (by the day of receipt) by one
    entity or by any entity of one organisation, with the issuer's organisation country
    and names, oldest first."""
    issuer = Organization.__table__.alias("issuer_org")
    query = (select(CocDocument, issuer.c.country.label("issuer_country"),
                    issuer.c.name.label("issuer_org"), Entity.name.label("issuer_entity"))
             .join(issuer, issuer.c.id == CocDocument.issuer_organization_id)
             .join(Entity, Entity.id == CocDocument.issuer_entity_id)
             .where(CocDocument.status == "received", CocDocument.received_on >= start,
                    CocDocument.received_on <= end)
             .order_by(CocDocument.received_on, CocDocument.number))
    if entity_id is not None:
        query = query.where(CocDocument.recipient_entity_id == entity_id)
    if organization_id is not None:
        query = query.where(CocDocument.recipient_organization_id == organization_id)
    return list(db.execute(query))


def inventories_covering(db: Session, pairs: set[tuple[uuid.UUID, date]]
                         ) -> dict[tuple[uuid.UUID, date], CarbonInventory]:
    """For each (entity, day): the entity-wide inventory the footprint took for that day
    (as ``inventory_covering`` finds it, its latest within two years where none covers
    the day yet)."""
    out: dict[tuple[uuid.UUID, date], CarbonInventory] = {}
    for entity_id, day in pairs:
        found = inventory_covering(db, entity_id, day,
                                   ended_after=day - timedelta(days=LATEST_INVENTORY_DAYS))
        if found is not None:
            out[(entity_id, day)] = found
    return out


def organization_by_slug(db: Session, slug: str) -> Organization | None:
    return db.scalars(select(Organization).where(Organization.slug == slug)).first()
