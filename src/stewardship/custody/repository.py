"""Every query of the custody context."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    Row,
    Select,
    String,
    Text,
    cast,
    func,
    or_,
    select,
    text,
    type_coerce,
)
from sqlalchemy.orm import Session, selectinload

from stewardship.core import bulkinsert
from stewardship.core.pagination import Page, PageParams
from stewardship.custody.models import (
    CocDocument,
    CustodyOperation,
    CustodySettings,
    MaterialAccount,
    Movement,
)
from stewardship.registry.models import Entity, Facility, FacilityActivity, Organization


def _page(db: Session, query: Select, params: PageParams) -> Page:  # type: ignore[type-arg]
    total = db.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    items = list(db.scalars(query.limit(params.per_page).offset(params.offset)))
    return Page(items=items, total=total, page=params.page, per_page=params.per_page)


# --- settings and accounts --------------------------------------------------------------


def settings_of(db: Session, entity_id: uuid.UUID) -> CustodySettings | None:
    return db.get(CustodySettings, entity_id)


def entity_has_accounts(db: Session, entity_id: uuid.UUID) -> bool:
    return db.scalar(select(func.count()).select_from(MaterialAccount)
                     .where(MaterialAccount.entity_id == entity_id)) != 0


def account(db: Session, entity_id: uuid.UUID, material: str, period_start: date, *,
            lock: bool = False) -> MaterialAccount | None:
    """The account, row-locked for the rest of the transaction when `lock` (PostgreSQL
    SELECT ... FOR UPDATE; SQLite writers already hold the database lock)."""
    query = select(MaterialAccount).where(MaterialAccount.entity_id == entity_id,
                                          MaterialAccount.material == material,
                                          MaterialAccount.period_start == period_start)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.scalars(query).first()


def account_by_id(db: Session, account_id: uuid.UUID) -> MaterialAccount | None:
    return db.get(MaterialAccount, account_id)


def open_accounts_before(db: Session, entity_id: uuid.UUID, period_start: date) -> int:
    return db.scalar(select(func.count()).select_from(MaterialAccount).where(
        MaterialAccount.entity_id == entity_id, MaterialAccount.status == "open",
        MaterialAccount.period_start < period_start)) or 0


def accounts_of_period(db: Session, entity_id: uuid.UUID, period_start: date, *,
                       lock: bool = False) -> list[MaterialAccount]:
    query = select(MaterialAccount).where(MaterialAccount.entity_id == entity_id,
                                          MaterialAccount.period_start == period_start
                                          ).order_by(MaterialAccount.material)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return list(db.scalars(query))


@dataclass(frozen=True)
class AccountFilter:
    organization_id: uuid.UUID | None = None
    entity_id: uuid.UUID | None = None
    material: str | None = None
    period_start: date | None = None
    status: str | None = None


def list_accounts(db: Session, f: AccountFilter, params: PageParams) -> Page:  # type: ignore[type-arg]
    query = select(MaterialAccount)
    if f.organization_id is not None:
        query = query.where(MaterialAccount.organization_id == f.organization_id)
    if f.entity_id is not None:
        query = query.where(MaterialAccount.entity_id == f.entity_id)
    if f.material is not None:
        query = query.where(MaterialAccount.material == f.material)
    if f.period_start is not None:
        query = query.where(MaterialAccount.period_start == f.period_start)
    if f.status is not None:
        query = query.where(MaterialAccount.status == f.status)
    return _page(db, query.order_by(MaterialAccount.period_start.desc(),
                                    MaterialAccount.entity_id, MaterialAccount.material),
                 params)


def periods_of(db: Session, entity_id: uuid.UUID) -> list[tuple[date, date, str]]:
    """Every period the entity has accounts in, newest first, with 'open' when any of its
    accounts is still open."""
    rows = db.execute(select(MaterialAccount.period_start, MaterialAccount.period_end,
                             func.min(MaterialAccount.status))
                      .where(MaterialAccount.entity_id == entity_id)
                      .group_by(MaterialAccount.period_start, MaterialAccount.period_end)
                      .order_by(MaterialAccount.period_start.desc()))
    return [(s, e, st) for s, e, st in rows]


# --- journal ----------------------------------------------------------------------------


def operations_of(db: Session, entity_id: uuid.UUID, start: date, end: date) -> list[
        CustodyOperation]:
    return list(db.scalars(select(CustodyOperation).where(
        CustodyOperation.entity_id == entity_id, CustodyOperation.occurred_on >= start,
        CustodyOperation.occurred_on <= end).order_by(CustodyOperation.recorded_at)))


def list_operations(db: Session, entity_id: uuid.UUID, params: PageParams, *,
                    kind: str | None = None) -> Page:  # type: ignore[type-arg]
    query = select(CustodyOperation).where(CustodyOperation.entity_id == entity_id)
    if kind is not None:
        query = query.where(CustodyOperation.kind == kind)
    return _page(db, query.order_by(CustodyOperation.recorded_at.desc(),
                                    CustodyOperation.id), params)


def operation_by_id(db: Session, operation_id: uuid.UUID) -> CustodyOperation | None:
    return db.get(CustodyOperation, operation_id)


def reversals_of(db: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, CustodyOperation]:
    """The reversal of each entry named that has one, by the entry it reverses."""
    if not ids:
        return {}
    rows = db.scalars(select(CustodyOperation).where(
        CustodyOperation.reverses_id.in_(list(ids))).execution_options(
            populate_existing=True))
    found: dict[uuid.UUID, CustodyOperation] = {}
    for r in rows:
        if r.reverses_id is not None:
            found[r.reverses_id] = r
    return found


def operations_named(db: Session, ids: Sequence[str]) -> dict[str, Row]:  # type: ignore[type-arg]
    """Journal rows by hex id, as ``operations_by_id`` gives them (the audit's look-up of
    the entries its reversals name)."""
    if not ids:
        return {}
    wanted = [uuid.UUID(i) for i in ids]
    rows = db.execute(_operation_columns(db).where(CustodyOperation.id.in_(wanted)))
    return {r.id: r for r in rows}


def insert_movements(db: Session, rows: list[dict[str, object]]) -> None:
    """The driver's executemany (``core.bulkinsert``): the rows Core would write."""
    bulkinsert.insert_rows(db.connection(), Movement.__table__, rows)


def entity_and_status(db: Session, entity_id: uuid.UUID) -> tuple[Entity, str] | None:
    """An entity with its organisation's membership status, in one query."""
    row = db.execute(select(Entity, Organization.status)
                     .join(Organization, Organization.id == Entity.organization_id)
                     .where(Entity.id == entity_id)).first()
    return (row[0], row[1]) if row else None


def parties(db: Session, entity_ids: Sequence[uuid.UUID]) -> dict[
        uuid.UUID, tuple[Entity, str, tuple[str, str, str]]]:
    """Entities with their organisation's membership status and their names (entity,
    organisation slug and name, as ``entities_with_org``), in one query."""
    rows = db.execute(select(Entity, Organization.status, Organization.slug, Organization.name)
                      .join(Organization, Organization.id == Entity.organization_id)
                      .where(Entity.id.in_(set(entity_ids))))
    return {e.id: (e, status, (e.name, slug, name)) for e, status, slug, name in rows}


def entities_and_status(db: Session, entity_ids: Sequence[uuid.UUID]
                        ) -> dict[uuid.UUID, tuple[Entity, str]]:
    """``entity_and_status`` for several entities, in one query."""
    if not entity_ids:
        return {}
    rows = db.execute(select(Entity, Organization.status)
                      .join(Organization, Organization.id == Entity.organization_id)
                      .where(Entity.id.in_(set(entity_ids))))
    return {entity.id: (entity, status) for entity, status in rows}


def movements_of_operation(db: Session, operation_id: uuid.UUID) -> list[Movement]:
    return list(db.scalars(select(Movement).where(Movement.operation_id == operation_id)
                           .order_by(Movement.id)))


# --- documents --------------------------------------------------------------------------


def document_by_number(db: Session, number: str, *, lock: bool = False) -> CocDocument | None:
    query = select(CocDocument).where(CocDocument.number == number)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.scalars(query).first()


def documents_by_numbers(db: Session, numbers: Sequence[str], *,
                         lock: bool = False) -> dict[str, CocDocument]:
    """number -> document for each number found, in one query; `lock`: row-locked in
    the order of their numbers (so that two callers queue instead of deadlocking)."""
    if not numbers:
        return {}
    query = (select(CocDocument).where(CocDocument.number.in_(set(numbers)))
             .order_by(CocDocument.number))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return {d.number: d for d in db.scalars(query)}


def document_numbers(db: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = db.execute(select(CocDocument.id, CocDocument.number)
                      .where(CocDocument.id.in_(set(ids))))
    return {i: n for i, n in rows}


def document_number_taken(db: Session, number: str) -> bool:
    return db.scalar(select(func.count()).select_from(CocDocument)
                     .where(CocDocument.number == number)) != 0


def document_numbers_taken(db: Session, numbers: Sequence[str]) -> set[str]:
    """Which of the numbers documents already carry, in one query."""
    if not numbers:
        return set()
    return set(db.scalars(select(CocDocument.number)
                          .where(CocDocument.number.in_(set(numbers)))))


def insert_documents(db: Session, rows: list[dict[str, object]]) -> None:
    """The driver's executemany (``core.bulkinsert``; every column given, no ORM identity
    needed): the rows Core would write."""
    bulkinsert.insert_rows(db.connection(), CocDocument.__table__, rows)


def insert_operations(db: Session, rows: list[dict[str, object]]) -> None:
    """As ``insert_documents``: every column given."""
    bulkinsert.insert_rows(db.connection(), CustodyOperation.__table__, rows)


@dataclass(frozen=True)
class DocumentFilter:
    organization_id: uuid.UUID | None = None
    direction: str | None = None
    """outgoing, incoming or None for both (relative to organization_id)."""
    entity_id: uuid.UUID | None = None
    status: str | None = None
    material: str | None = None
    shipped_from: date | None = None
    shipped_to: date | None = None
    q: str | None = None


def list_documents(db: Session, f: DocumentFilter, params: PageParams) -> Page:  # type: ignore[type-arg]
    query = select(CocDocument)
    if f.organization_id is not None:
        if f.direction == "outgoing":
            query = query.where(CocDocument.issuer_organization_id == f.organization_id)
        elif f.direction == "incoming":
            query = query.where(CocDocument.recipient_organization_id == f.organization_id)
        else:
            query = query.where(or_(CocDocument.issuer_organization_id == f.organization_id,
                                    CocDocument.recipient_organization_id == f.organization_id))
    if f.entity_id is not None:
        query = query.where(or_(CocDocument.issuer_entity_id == f.entity_id,
                                CocDocument.recipient_entity_id == f.entity_id))
    if f.status is not None:
        query = query.where(CocDocument.status == f.status)
    if f.material is not None:
        query = query.where(CocDocument.material == f.material)
    if f.shipped_from is not None:
        query = query.where(CocDocument.shipment_date >= f.shipped_from)
    if f.shipped_to is not None:
        query = query.where(CocDocument.shipment_date <= f.shipped_to)
    if f.q:
        query = query.where(CocDocument.number.contains(f.q.strip().upper(), autoescape=True))
    return _page(db, query.order_by(CocDocument.shipment_date.desc(), CocDocument.number),
                 params)


def unmatched(db: Session, shipped_before: date, params: PageParams, *,
              organization_id: uuid.UUID | None = None) -> Page:  # type: ignore[type-arg]
    """Documents still waiting for their recipient, shipped before the day."""
    query = select(CocDocument).where(CocDocument.status == "issued",
                                      CocDocument.shipment_date < shipped_before)
    if organization_id is not None:
        query = query.where(or_(CocDocument.issuer_organization_id == organization_id,
                                CocDocument.recipient_organization_id == organization_id))
    return _page(db, query.order_by(CocDocument.shipment_date, CocDocument.number), params)


def unmatched_by_pair(db: Session, shipped_before: date, *,
                      organization_id: uuid.UUID | None = None) -> list[
        tuple[uuid.UUID, uuid.UUID, int, int, date]]:
    """(issuer entity, recipient entity, documents, CoC kg, oldest shipment) of the
    documents waiting, per pair."""
    query = select(CocDocument.issuer_entity_id, CocDocument.recipient_entity_id,
                   func.count(), func.sum(CocDocument.coc_quantity_kg),
                   func.min(CocDocument.shipment_date)).where(
        CocDocument.status == "issued", CocDocument.shipment_date < shipped_before)
    if organization_id is not None:
        query = query.where(or_(CocDocument.issuer_organization_id == organization_id,
                                CocDocument.recipient_organization_id == organization_id))
    rows = db.execute(query.group_by(CocDocument.issuer_entity_id,
                                     CocDocument.recipient_entity_id)
                      .order_by(func.min(CocDocument.shipment_date)))
    return [(i, r, int(n), int(kg or 0), d) for i, r, n, kg, d in rows]


def waiting_for_receipt(db: Session, organization_id: uuid.UUID,
                        limit: int) -> tuple[int, list[CocDocument]]:
    """Documents addressed to the organisation that it has neither received nor rejected:
    how many, and the ``limit`` issued longest ago."""
    waiting = (CocDocument.status == "issued",
               CocDocument.recipient_organization_id == organization_id)
    total = db.scalar(select(func.count()).select_from(CocDocument).where(*waiting)) or 0
    rows = db.scalars(select(CocDocument).where(*waiting)
                      .order_by(CocDocument.issued_at, CocDocument.number).limit(limit))
    return int(total), list(rows)


def count_unmatched(db: Session, shipped_before: date) -> int:
    """Documents of any member still waiting for their recipient, shipped before the day."""
    return int(db.scalar(select(func.count()).select_from(CocDocument).where(
        CocDocument.status == "issued", CocDocument.shipment_date < shipped_before)) or 0)


# A tier's windows arrive as one JSON parameter (key, entity, periods from and to, received
# on or before), so the statement's text is the same for every tier and every trace. Per
# window: the count, read from ix_coc_documents_recipient alone, and the largest documents,
# read from ix_coc_documents_chain in quantity order until `per` are found (only equal
# quantities are sorted by number).
_WINDOW = ("f.recipient_entity_id = w.entity AND f.status = 'received' "
           "AND f.receipt_period_start >= w.since AND f.receipt_period_start <= w.until "
           "AND f.received_on <= w.upto")
_TIER_SQLITE = text(
    "WITH w AS MATERIALIZED (SELECT json_extract(value, '$.k') AS k, "
    "json_extract(value, '$.entity') AS entity, json_extract(value, '$.since') AS since, "
    "json_extract(value, '$.until') AS until, json_extract(value, '$.upto') AS upto "
    "FROM json_each(:windows)) "
    f"SELECT w.k, (SELECT count(*) FROM coc_documents f WHERE {_WINDOW}), "
    "(SELECT json_group_array(json_array(t.coc_quantity_kg, t.number, t.id)) FROM ("
    "SELECT f.coc_quantity_kg, f.number, f.id FROM coc_documents f "
    f"INDEXED BY ix_coc_documents_chain WHERE {_WINDOW} "
    "ORDER BY f.coc_quantity_kg DESC, f.number LIMIT :per) t) FROM w")
_TIER_POSTGRESQL = text(
    "SELECT w.k, c.total, t.found FROM jsonb_to_recordset(CAST(:windows AS jsonb)) "
    "AS w(k integer, entity uuid, since date, until date, upto date) "
    f"CROSS JOIN LATERAL (SELECT count(*) AS total FROM coc_documents f WHERE {_WINDOW}) c "
    "CROSS JOIN LATERAL (SELECT json_agg(json_build_array(t.coc_quantity_kg, t.number, "
    "t.id) ORDER BY t.coc_quantity_kg DESC, t.number) AS found FROM ("
    f"SELECT f.coc_quantity_kg, f.number, f.id FROM coc_documents f WHERE {_WINDOW} "
    "ORDER BY f.coc_quantity_kg DESC, f.number LIMIT :per) t) t")


def received_in_windows(db: Session, windows: Sequence[tuple[int, uuid.UUID, date, date, date]],
                        per_window: int) -> list[tuple[int, int, list[tuple[str, str]]]]:
    """For each window (key, entity, periods from, periods to, received on or before): how
    many documents the entity received into those periods by that day, and the largest
    `per_window` of them (equal quantities by number), as (key, count, [(id as 32 hex
    digits, number)]). One statement for a whole tier of a chain, its text the same for
    every tier."""
    if not windows:
        return []
    sqlite = db.get_bind().dialect.name == "sqlite"
    param = json.dumps([{"k": k, "entity": e.hex, "since": a.isoformat(),
                         "until": b.isoformat(), "upto": c.isoformat()}
                        for k, e, a, b, c in windows])
    out = []
    for k, total, found in db.execute(_TIER_SQLITE if sqlite else _TIER_POSTGRESQL,
                                      {"windows": param, "per": per_window}):
        if isinstance(found, str):
            found = json.loads(found)
        ranked = found or []
        if sqlite:  # binary text order, as SQLite's ORDER BY number
            ranked.sort(key=lambda t: (-t[0], t[1]))
        out.append((int(k), int(total), [(i.replace("-", ""), n) for _, n, i in ranked]))
    out.sort(key=lambda row: row[0])
    return out


def chain_nodes(db: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Row]:  # type: ignore[type-arg]
    """What a chain view shows of each document, by id, as plain rows: its composition
    and origin levels as their stored text (parsed only where the trace needs them)."""
    if not ids:
        return {}
    d = CocDocument
    rows = db.execute(select(d.id, d.number, d.issuer_entity_id, d.recipient_entity_id,
                             d.material, d.coc_quantity_kg, d.shipment_date, d.period_start,
                             cast(d.composition, Text).label("composition"),
                             cast(d.origin_levels, Text).label("origin_levels"),
                             d.origin_levels_of).where(d.id.in_(ids)))
    return {row[0]: row for row in rows}


def carry_months_of_entities(db: Session, ids: Sequence[uuid.UUID]) -> dict[
        uuid.UUID, tuple[int, int]]:
    """(period months, carry-over expiry in periods) of each entity that has settings."""
    if not ids:
        return {}
    s = CustodySettings
    return {e: (int(m), int(x)) for e, m, x in db.execute(
        select(s.entity_id, s.period_months, s.carry_over_expiry)
        .where(s.entity_id.in_(set(ids))))}


def settings_of_entities(db: Session, ids: Sequence[uuid.UUID]) -> dict[
        uuid.UUID, CustodySettings]:
    if not ids:
        return {}
    return {s.entity_id: s for s in db.scalars(select(CustodySettings).where(
        CustodySettings.entity_id.in_(set(ids))))}


# --- audit ------------------------------------------------------------------------------


def all_accounts(db: Session) -> Iterator[MaterialAccount]:
    yield from db.scalars(select(MaterialAccount).order_by(MaterialAccount.entity_id,
                                                           MaterialAccount.period_start)
                          .execution_options(yield_per=5000))


def movement_sums_by_account(db: Session) -> dict[uuid.UUID, int]:
    rows = db.execute(select(Movement.account_id, func.sum(Movement.kilograms))
                      .where(Movement.account_id.is_not(None)).group_by(Movement.account_id))
    return {a: int(s) for a, s in rows}


def _hex_ids(db: Session, *columns: Any) -> list[Any]:
    """UUID columns as 32 lower-case hex digits, without building a UUID object per value
    (the audit reads millions): SQLite stores them so, PostgreSQL prints them with dashes."""
    if db.get_bind().dialect.name == "postgresql":
        return [func.replace(cast(c, String), "-", "").label(c.key) for c in columns]
    return [type_coerce(c, String).label(c.key) for c in columns]


def operations_by_id(db: Session) -> Iterator[Row]:  # type: ignore[type-arg]
    """Every journal row, ids as hex, by id: the audit streams it beside the legs."""
    yield from db.execute(_operation_columns(db).order_by(CustodyOperation.id)
                          .execution_options(yield_per=10_000))


def _operation_columns(db: Session) -> Select:  # type: ignore[type-arg]
    """A journal row as the audit reads it: plain columns, ids as hex."""
    o = CustodyOperation
    return (
        select(*_hex_ids(db, o.id, o.organization_id, o.entity_id, o.facility_id,
                         o.document_id, o.reverses_id),
               o.kind, o.material, o.source_material, o.transformation, o.input_kg,
               o.kilograms, o.declared_yield, o.scrap_kind, o.occurred_on, o.period_start,
               o.actor, o.note, o.total_input_kg, o.total_output_kg, o.capacity_override))


def legs_by_operation(db: Session) -> Iterator[Row]:  # type: ignore[type-arg]
    """Every movement leg, ids as hex, grouped by operation (the indexed correlation id,
    which equals the operation id) in the order of ``operations_by_id``."""
    m = Movement
    yield from db.execute(
        select(*_hex_ids(db, m.correlation_id, m.account_id), m.system_account, m.kilograms)
        .order_by(m.correlation_id, m.id).execution_options(yield_per=10_000))


def misfiled_legs(db: Session, limit: int = 100) -> list[tuple[uuid.UUID, uuid.UUID | None]]:
    """(correlation id, operation) of legs whose operation id is not their correlation id
    or whose organisation is not their operation's."""
    rows = db.execute(
        select(Movement.correlation_id, Movement.operation_id)
        .join(CustodyOperation, CustodyOperation.id == Movement.operation_id, isouter=True)
        .where(or_(Movement.operation_id != Movement.correlation_id,
                   Movement.organization_id != CustodyOperation.organization_id))
        .limit(limit))
    return [(c, o) for c, o in rows]


def documents_in_bulk(db: Session) -> Iterator[Row]:  # type: ignore[type-arg]
    """Every CoC document as plain columns (enough for its digest)."""
    yield from db.execute(select(CocDocument.__table__)
                          .execution_options(yield_per=10_000))


def facility_public_ids(db: Session) -> dict[str, str]:
    """Facility id as hex -> public id."""
    return {i: p for i, p in db.execute(select(*_hex_ids(db, Facility.id),
                                               Facility.public_id))}


def movement_count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Movement)) or 0


def operation_count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(CustodyOperation)) or 0


def document_totals(db: Session) -> list[tuple[str, str, date, int]]:
    """(material, status, receipt or shipment period start, CoC kg) over all documents."""
    rows = db.execute(select(CocDocument.material, CocDocument.status,
                             CocDocument.period_start, func.sum(CocDocument.coc_quantity_kg))
                      .group_by(CocDocument.material, CocDocument.status,
                                CocDocument.period_start))
    return [(m, s, p, int(kg)) for m, s, p, kg in rows]


# --- flows and names --------------------------------------------------------------------


def flows(db: Session, start: date, end: date) -> list[tuple[str, str, str, uuid.UUID, int]]:
    """(issuer activity key, recipient activity key, material, issuer entity, CoC kg)
    per document received or waiting, shipped in the window. Activities are resolved by
    the service; here the raw rows by issuing and receiving organisation."""
    rows = db.execute(select(CocDocument.issuer_organization_id,
                             CocDocument.recipient_organization_id, CocDocument.material,
                             CocDocument.issuer_entity_id,
                             func.sum(CocDocument.coc_quantity_kg))
                      .where(CocDocument.shipment_date >= start,
                             CocDocument.shipment_date <= end,
                             CocDocument.status.in_(("issued", "received")))
                      .group_by(CocDocument.issuer_organization_id,
                                CocDocument.recipient_organization_id, CocDocument.material,
                                CocDocument.issuer_entity_id))
    return [(str(i), str(r), m, e, int(kg)) for i, r, m, e, kg in rows]


def entities_with_org(db: Session, ids: Sequence[uuid.UUID]) -> dict[
        uuid.UUID, tuple[str, str, str]]:
    """entity id -> (entity name, organisation slug, organisation name)."""
    if not ids:
        return {}
    rows = db.execute(select(Entity.id, Entity.name, Organization.slug, Organization.name)
                      .join(Organization, Organization.id == Entity.organization_id)
                      .where(Entity.id.in_(set(ids))))
    return {i: (n, s, o) for i, n, s, o in rows}


def member_entities(db: Session) -> list[tuple[uuid.UUID, str, str, str]]:
    """(entity id, entity name, organisation slug, organisation name) of every entity of
    an organisation in the scheme (members and suspended members), by name."""
    rows = db.execute(select(Entity.id, Entity.name, Organization.slug, Organization.name)
                      .join(Organization, Organization.id == Entity.organization_id)
                      .where(Organization.status.in_(("member", "suspended")))
                      .order_by(Organization.name, Entity.name))
    return [(i, n, s, o) for i, n, s, o in rows]


def facilities_of_entity(db: Session, organization_id: uuid.UUID,
                         entity_id: uuid.UUID) -> list[Facility]:
    return list(db.scalars(select(Facility).where(
        Facility.organization_id == organization_id, Facility.status == "active",
        or_(Facility.entity_id == entity_id, Facility.entity_id.is_(None)))
        .options(selectinload(Facility.activity_rows)).order_by(Facility.name)))


def activities_of_organizations(db: Session, ids: Sequence[uuid.UUID]) -> dict[
        uuid.UUID, list[str]]:
    """The activities of each organisation's active facilities."""
    if not ids:
        return {}
    out: dict[uuid.UUID, set[str]] = {}
    for org, activity in db.execute(
            select(Facility.organization_id, FacilityActivity.activity)
            .join(FacilityActivity, FacilityActivity.facility_id == Facility.id)
            .where(Facility.organization_id.in_(set(ids)), Facility.status == "active")):
        out.setdefault(org, set()).add(activity)
    return {k: sorted(v) for k, v in out.items()}


def entities_of(db: Session, organization_id: uuid.UUID) -> list[Entity]:
    return list(db.scalars(select(Entity).where(Entity.organization_id == organization_id)
                           .order_by(Entity.name)))


def facility_names(db: Session, public_ids: Sequence[str]) -> dict[str, str]:
    if not public_ids:
        return {}
    rows = db.execute(select(Facility.public_id, Facility.name)
                      .where(Facility.public_id.in_(set(public_ids))))
    return {public_id: name for public_id, name in rows}


def public_ids_of_facilities(db: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """facility id -> its public id, in one lean query (no facility objects)."""
    if not ids:
        return {}
    rows = db.execute(select(Facility.id, Facility.public_id)
                      .where(Facility.id.in_(set(ids))))
    return {i: public_id for i, public_id in rows}


def document_count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(CocDocument)) or 0


def facility_output(db: Session, facility_id: uuid.UUID, start: date,
                    end: date) -> list[tuple[str, str, str | None, int]]:
    """(kind, material, transformation, kg put out) of every production and
    transformation at the facility on the days from `start` to `end`: a transformation's
    whole output (its CoC output where no total was recorded)."""
    o = CustodyOperation
    rows = db.execute(
        select(o.kind, o.material, o.transformation,
               func.coalesce(o.total_output_kg, o.kilograms))
        .where(o.facility_id == facility_id, o.occurred_on >= start, o.occurred_on <= end,
               o.kind.in_(("production", "transformation"))))
    return [(k, m, t, int(kg)) for k, m, t, kg in rows]


def output_by_facility(db: Session) -> Iterator[Row]:  # type: ignore[type-arg]
    """The plausibility checks' reading of the journal: per entity, period, facility,
    kind, material and step, the kilograms put out and (transformations) taken in."""
    o = CustodyOperation
    yield from db.execute(
        select(o.entity_id, o.period_start, o.facility_id, o.kind, o.material,
               o.transformation,
               func.sum(func.coalesce(o.total_output_kg, o.kilograms)).label("output_kg"),
               func.sum(func.coalesce(o.total_input_kg, o.input_kg, 0)).label("input_kg"))
        .where(o.kind.in_(("production", "transformation")), o.facility_id.is_not(None))
        .group_by(o.entity_id, o.period_start, o.facility_id, o.kind, o.material,
                  o.transformation))


def account_movements(db: Session, account_id: uuid.UUID) -> list[tuple[date, int]]:
    """The legs on one account as (the day of their operation, signed kilograms), in the
    order they were recorded within each day."""
    rows = db.execute(
        select(CustodyOperation.occurred_on, Movement.kilograms)
        .join(CustodyOperation, CustodyOperation.id == Movement.operation_id)
        .where(Movement.account_id == account_id)
        .order_by(CustodyOperation.occurred_on, Movement.id))
    return [(on, int(kg)) for on, kg in rows]


def account_operations(db: Session, account_id: uuid.UUID, limit: int) -> list[
        CustodyOperation]:
    """The operations with a leg on the account, newest first (at most `limit`)."""
    ids = select(Movement.operation_id).where(Movement.account_id == account_id)
    return list(db.scalars(select(CustodyOperation).where(CustodyOperation.id.in_(ids))
                           .order_by(CustodyOperation.occurred_on.desc(),
                                     CustodyOperation.recorded_at.desc())
                           .limit(limit)))
