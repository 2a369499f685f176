"""What every custody use case shares: who acts for which entity, the entity's periods,
opening and locking accounts, turning an account row into the rules' Balance and back,
writing the journal and the paired movements, and the read models' names."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stewardship.assurance.service import certificates

# Shared with assurance: the day a use case runs on, and whose lists a caller sees.
from stewardship.assurance.service.common import organization_for as organization_for
from stewardship.assurance.service.common import today_or as today_or
from stewardship.core import eventlog
from stewardship.core.auth import MEMBER_ROLES, Actor, Role, require
from stewardship.core.db import utcnow
from stewardship.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from stewardship.custody import repository as repo
from stewardship.custody import rules
from stewardship.custody.models import CustodyOperation, CustodySettings, MaterialAccount
from stewardship.custody.origins.rules import OriginLevel
from stewardship.custody.rules import (
    Balance,
    CarryOverRule,
    CocMaterial,
    LedgerError,
    Period,
    Pool,
    YieldError,
)
from stewardship.custody.schemas import (
    Composition,
    OriginShare,
    OriginSite,
    Party,
    UpstreamShare,
)
from stewardship.registry import repository as registry_repo
from stewardship.registry.models import Entity, Facility
from stewardship.registry.service import facilities as facility_service

_REMEMBERED: ContextVar[dict[tuple[Any, ...], Any] | None] = ContextVar(
    "custody_lookups_remembered", default=None)
T = TypeVar("T")


@contextmanager
def lookups_remembered() -> Iterator[None]:
    """Within the block (one unit of work moving the ledger event after event, such as
    an EPCIS capture's chunk), what the custody services read and the block does not
    change is read once per session: an entity's custody settings, the certificates it
    holds on a day, the actor's organisation's entity named, and the names and process
    emissions a footprint cites. Nothing in the block may change settings, certificates,
    entities or emission inventories; refusals are judged on every call."""
    token = _REMEMBERED.set({})
    try:
        yield
    finally:
        _REMEMBERED.reset(token)


def remembered(db: Session, key: tuple[Any, ...], read: Callable[[], T]) -> T:
    """``read()``, once per session and key inside ``lookups_remembered``."""
    memo = _REMEMBERED.get()
    if memo is None:
        return read()
    full = (id(db), *key)
    if full not in memo:
        memo[full] = read()
    return memo[full]  # type: ignore[no-any-return]


def member(actor: Actor | None, action: str) -> Actor:
    """Only a member's own users move its accounts."""
    actor = require(actor, Role.MEMBER_ADMIN, Role.MEMBER_USER, action=action)
    if actor.organization_id is None:
        raise InvalidInput("this account belongs to no organisation", field="organization")
    return actor


def recorder(db: Session, actor: Actor | None, entity_id: uuid.UUID | None,
             override: str | None, action: str) -> tuple[Actor, Entity]:
    """Who records production or a transformation, and for which entity: a member's own
    users for its own entities; the secretariat for any member's entity named, and only
    to record output beyond a facility's capacity with the reason (``override``)."""
    if actor is not None and actor.is_secretariat():
        if not override:
            raise Forbidden(f"the secretariat may {action} only to override a facility's "
                            "capacity, with the reason in capacity_override_reason",
                            field="capacity_override_reason")
        if entity_id is None:
            raise InvalidInput("name the member's entity the operation is recorded for",
                               field="entity_id")
        entity = registry_repo.entity_by_id(db, entity_id)
        if entity is None:
            raise InvalidInput("no such entity", field="entity_id")
        return actor, entity
    actor = member(actor, action)
    if override is not None:
        raise Forbidden("only the secretariat may record output beyond a facility's "
                        "capacity", field="capacity_override_reason")
    return actor, own_entity(db, actor, entity_id)


def own_entity(db: Session, actor: Actor, entity_id: uuid.UUID | None,
               field: str = "entity_id") -> Entity:
    """The actor's entity named, or its only one."""
    assert actor.organization_id is not None
    memo = _REMEMBERED.get()
    if memo is None:
        return _own_entity(db, actor, entity_id, field)
    key = (id(db), "own_entity", actor.organization_id, entity_id)
    if key not in memo:  # only what was found: a refusal is judged again
        memo[key] = _own_entity(db, actor, entity_id, field)
    return memo[key]  # type: ignore[no-any-return]


def _own_entity(db: Session, actor: Actor, entity_id: uuid.UUID | None,
                field: str) -> Entity:
    assert actor.organization_id is not None
    if entity_id is None:
        entities = repo.entities_of(db, actor.organization_id)
        if len(entities) == 1:
            return entities[0]
        if not entities:
            raise InvalidInput("your organisation has no entity to keep accounts for",
                               field=field)
        raise InvalidInput("your organisation has several entities: name one", field=field)
    entity = registry_repo.entity_of(db, actor.organization_id, entity_id)
    if entity is None:
        raise InvalidInput("not an entity of your organisation", field=field)
    return entity


def may_read(actor: Actor | None, organization_id: uuid.UUID) -> bool:
    """An organisation's accounts and documents: its own users and the secretariat."""
    return actor is not None and (actor.is_secretariat() or (
        actor.role in MEMBER_ROLES and actor.organization_id == organization_id))


def readable_entity(db: Session, actor: Actor | None, entity_id: uuid.UUID) -> Entity:
    entity = registry_repo.entity_by_id(db, entity_id)
    if entity is None or not may_read(actor, entity.organization_id):
        raise NotFound("no such entity", field="entity_id")
    return entity


# --- settings and periods ---------------------------------------------------------------


def check_recipient(found: tuple[Entity, str] | None, issuer: Entity) -> Entity:
    """The recipient of a CoC document as looked up (entity and its organization's
    membership status, None when there is no such entity), refused by the scheme's rule."""
    if found is None:
        raise InvalidInput("no such entity", field="recipient_entity_id")
    entity, status = found
    refusal = rules.recipient_refusal(entity.id, issuer.id, entity.name, status)
    if refusal is not None:
        raise InvalidInput(refusal, field="recipient_entity_id")
    return entity


def settings_of(db: Session, entity: Entity) -> CustodySettings:
    return remembered(db, ("settings", entity.id), lambda: _settings_of(db, entity))


def _settings_of(db: Session, entity: Entity) -> CustodySettings:
    found = repo.settings_of(db, entity.id)
    if found is not None:
        return found
    return CustodySettings(entity_id=entity.id, organization_id=entity.organization_id,
                           period_months=rules.DEFAULT_PERIOD_MONTHS, carry_over_cap=None,
                           carry_over_expiry=1)


def carry_over_rule(s: CustodySettings) -> CarryOverRule:
    return CarryOverRule(cap=s.carry_over_cap, expiry_periods=s.carry_over_expiry)


def period_of(s: CustodySettings, day: date) -> Period:
    return rules.period_for(day, s.period_months)


def check_day(day: date, today: date, field: str) -> None:
    if day > today:
        raise InvalidInput(f"{day.isoformat()} is in the future", field=field)


def today_at(facility: Facility, today: date | None = None) -> date:
    """The day it is at the facility, in its time zone (``today``: the caller's day)."""
    return today if today is not None else facility_service.today_at(facility)


def today_of(db: Session, entity: Entity, today: date | None = None) -> date:
    """The day it is at the entity's main facility, for what names no facility (a
    document's shipment or receipt, a non-CoC input); ``today``: the caller's day."""
    return today if today is not None else facility_service.today_where(
        db, entity.organization_id, entity.id)


# --- accounts ---------------------------------------------------------------------------


def account(db: Session, entity: Entity, material: CocMaterial, period: Period, *,
            for_change: bool = True, field: str = "occurred_on",
            locked: MaterialAccount | None = None) -> MaterialAccount:
    """The entity's account for the material and period, created when missing and
    row-locked for the rest of the transaction. A closed period refuses changes.
    ``locked``: the row, already read and locked in this transaction."""
    row = locked if locked is not None else repo.account(db, entity.id, material.value,
                                                         period.start, lock=True)
    if row is None:
        row = MaterialAccount(organization_id=entity.organization_id, entity_id=entity.id,
                              material=material.value, period_start=period.start,
                              period_end=period.end, status="open", carried=[], carried_in=0,
                              produced=0, received=0, transformed_in=0, transformed_out=0,
                              issued=0, non_coc_in=0, carried_out=0, expired=0, balance_kg=0,
                              pool={})
        try:
            with db.begin_nested():
                db.add(row)
        except IntegrityError:  # another writer opened it first: take theirs, locked
            row = repo.account(db, entity.id, material.value, period.start, lock=True)
            assert row is not None
    if for_change and row.status == "closed":
        raise Conflict(f"the accounting period {period.label} is closed for "
                       f"{material.label}", field=field)
    return row


def balance(row: MaterialAccount) -> Balance:
    return Balance(CocMaterial(row.material), Period(row.period_start, row.period_end),
                   carried=tuple(row.carried or ()), produced=row.produced,
                   received=row.received, transformed_in=row.transformed_in,
                   transformed_out=row.transformed_out, issued=row.issued,
                   non_coc_in=row.non_coc_in)


def store(row: MaterialAccount, b: Balance, pool: Pool | None = None) -> None:
    """Write the rules' new balance (and pool) back onto the row."""
    row.carried = list(b.carried)
    row.carried_in = b.carried_in
    row.produced, row.received = b.produced, b.received
    row.transformed_in, row.transformed_out = b.transformed_in, b.transformed_out
    row.issued, row.non_coc_in = b.issued, b.non_coc_in
    row.balance_kg = b.kilograms - row.carried_out - row.expired
    if pool is not None:
        row.pool = rules.pool_to_data(pool)
    if row.balance_kg < 0:  # pragma: no cover - the rules refuse first
        raise Conflict("the balance would go negative")


def pool(row: MaterialAccount) -> Pool:
    return rules.pool_from_data(row.pool)


def ledger_refusal(error: LedgerError | YieldError | ValueError, field: str) -> Exception:
    """A rule's refusal as the API's error: over-spending is a conflict, the rest input."""
    text = str(error)
    if "exceeds the available balance" in text or "cannot cancel" in text:
        return Conflict(text, field=field)
    return InvalidInput(text, field=field)


# --- journal and movements --------------------------------------------------------------


@dataclass
class Leg:
    account: MaterialAccount | None
    system: str | None
    kilograms: int


def journal(db: Session, actor: Actor, entity: Entity, kind: str, *, material: str,
            kilograms: int, occurred_on: date, period: Period, legs: list[Leg],
            source_material: str | None = None, transformation: str | None = None,
            facility_id: uuid.UUID | None = None, input_kg: int | None = None,
            declared_yield: Decimal | None = None, scrap_kind: str | None = None,
            document_id: uuid.UUID | None = None, note: str = "",
            composition: dict[str, Pool] | None = None,
            reverses_id: uuid.UUID | None = None,
            total_input_kg: int | None = None, total_output_kg: int | None = None,
            capacity_override: str | None = None) -> CustodyOperation:
    """One journal row and its movement legs; the legs must sum to zero. `composition`:
    the origins moved (``in``: added to the credited account, ``out``: taken from the
    debited one), kept so that a reversal can give them back."""
    if sum(leg.kilograms for leg in legs) != 0:  # pragma: no cover - a programming error
        raise AssertionError(f"unbalanced legs for {kind}")
    operation = CustodyOperation(
        id=uuid.uuid4(), organization_id=entity.organization_id, entity_id=entity.id,
        kind=kind, material=material, source_material=source_material,
        transformation=transformation, facility_id=facility_id, input_kg=input_kg,
        kilograms=kilograms, declared_yield=declared_yield, scrap_kind=scrap_kind,
        occurred_on=occurred_on, period_start=period.start, document_id=document_id,
        note=note, actor=actor.ref, reverses_id=reverses_id,
        composition={side: rules.pool_to_data(p) for side, p in composition.items()}
        if composition is not None else None, total_input_kg=total_input_kg,
        total_output_kg=total_output_kg, capacity_override=capacity_override)
    db.add(operation)
    db.flush()
    rows = [{"correlation_id": operation.id, "operation_id": operation.id,
             "organization_id": entity.organization_id,
             "account_id": leg.account.id if leg.account else None,
             "system_account": leg.system, "kilograms": leg.kilograms, "recorded_at": utcnow()}
            for leg in legs if leg.kilograms]
    if rows:  # one executemany: the legs need no ORM identity
        repo.insert_movements(db, rows)
    return operation


def log(db: Session, actor: Actor, kind: str, subject: str, payload: dict[str, object]) -> None:
    eventlog.append(db, actor, f"custody.{kind}", subject, payload)


# --- names ------------------------------------------------------------------------------


class Names:
    """Entity, organisation and facility names for read models, fetched in batches."""

    def __init__(self, db: Session, entity_ids: list[uuid.UUID],
                 facility_ids: list[str] | None = None, *,
                 known: dict[uuid.UUID, tuple[str, str, str]] | None = None) -> None:
        """``known``: names already read (entity id -> entity, organisation slug and
        name); only the others are fetched."""
        known = known or {}
        self._entities = {**repo.entities_with_org(
            db, [e for e in entity_ids if e not in known]), **known}
        self._facilities = repo.facility_names(db, facility_ids or [])

    def party(self, entity_id: uuid.UUID, performance: str | None = None,
              coc: str | None = None) -> Party:
        name, slug, org = self._entities.get(entity_id, ("", "", ""))
        return Party(entity_id=entity_id, entity=name, organization=slug,
                     organization_name=org, performance_certificate=performance,
                     coc_certificate=coc)

    def entity(self, entity_id: uuid.UUID) -> str:
        """The entity's name alone ("" when unknown), as ``party(...).entity``."""
        found = self._entities.get(entity_id)
        return found[0] if found is not None else ""

    def facility(self, public_id: str) -> str:
        return self._facilities.get(public_id, public_id)


def pool_facilities(*pools: dict[str, object]) -> list[str]:
    """The public ids of every facility the stored pools name, at every stage."""
    out: list[str] = []
    for data in pools:
        for key in rules.pool_from_data(data).parts:
            out.extend(site.facility_id for site in key.sites)
    return out


def _site(site: rules.Site, names: Names) -> OriginSite:
    return OriginSite(stage=site.stage.value, stage_label=site.stage.label,
                      facility_id=site.facility_id, facility=names.facility(site.facility_id),
                      country=site.country)


def origins(pool: Pool, names: Names) -> list[OriginShare]:
    """The pool's origins as read models: the first level (smelter or remelter of metal)
    with its share, and under it the second level (refinery and mine) with theirs."""
    return origins_of_levels(rules.origin_levels(pool), names)


def origins_of_levels(levels: list[OriginLevel], names: Names) -> list[OriginShare]:
    """`origins` from the pool's levels already computed (`rules.origin_levels`)."""
    return [OriginShare(
        facility_id=level.site.facility_id, facility=names.facility(level.site.facility_id),
        country=level.site.country, route=level.route.value, stage=level.site.stage.value,
        stage_label=level.site.stage.label, kilograms=level.kilograms, percent=level.percent,
        upstream=[UpstreamShare(sites=[_site(s, names) for s in up.sites],
                                kilograms=up.kilograms, percent=up.percent)
                  for up in level.upstream] if any(up.sites for up in level.upstream) else [])
        for level in levels]


def composition(data: dict[str, object], names: Names) -> Composition:
    p = rules.pool_from_data(data)
    total = p.kilograms
    if total == 0:
        return Composition(kilograms=0, origins=[], recycled_percent=Decimal("0.00"),
                           primary_percent=Decimal("0.00"), summary="no CoC material")
    found = origins(p, names)
    routes = rules.route_shares(p)
    recycled = routes[rules.Route.RECYCLED]
    attributes = {name: (value / total).quantize(Decimal("0.000001"))
                  for name, value in p.attributes.items()}
    words = ", ".join(f"{o.percent.normalize():f}% {o.facility} ({o.country})"
                      for o in found[:5])
    if len(found) > 5:
        words += f" and {len(found) - 5} more"
    summary = f"{words}; {recycled.normalize():f}% recycled"
    return Composition(kilograms=total, origins=found, recycled_percent=recycled,
                       primary_percent=routes[rules.Route.PRIMARY],
                       attributes_per_kg=attributes, summary=summary)


# --- certificates -----------------------------------------------------------------------


def holdings(db: Session, entity_id: uuid.UUID, day: date) -> dict[str, str | None]:
    return holdings_of(db, [entity_id], day)[entity_id]


def holdings_of(db: Session, entity_ids: list[uuid.UUID],
                day: date) -> dict[uuid.UUID, dict[str, str | None]]:
    """Each entity's certificates on the day (``certificates.holdings_of``); inside
    ``lookups_remembered`` those not read yet on that day, in one query."""
    memo = _REMEMBERED.get()
    if memo is None:
        return certificates.holdings_of(db, entity_ids, day)
    missing = [e for e in entity_ids if (id(db), "held", e, day) not in memo]
    if missing:
        for e, held in certificates.holdings_of(db, missing, day).items():
            memo[(id(db), "held", e, day)] = held
    return {e: dict(memo[(id(db), "held", e, day)]) for e in entity_ids}


def require_certified(db: Session, entity: Entity, day: date, *, what: str, field: str,
                      held: dict[str, str | None] | None = None) -> tuple[str, str]:
    """The entity's Performance and CoC certificate numbers on the day, or a refusal
    naming what is missing (`held`: the holdings when already read)."""
    if held is None:
        held = holdings(db, entity.id, day)
    missing = [(kind, label) for kind, label in (("performance", "Performance"),
                                                 ("chain_of_custody", "Chain of Custody"))
               if held[kind] is None]
    if missing:
        lapses = [(label, certificates.lapse_on(db, entity.id, kind, day))
                  for kind, label in missing]
        none = " or ".join(label for label, lapse in lapses if lapse is None)
        said = [lapse for _, lapse in lapses if lapse is not None]
        if not said:
            raise Conflict(f"{entity.name} held no valid {none} certificate on "
                           f"{day.isoformat()}, so it may not {what}", field=field)
        if none:
            said.append(f"it held no valid {none} certificate on {day.isoformat()}")
        raise Conflict(f"{entity.name} may not {what}: {'; '.join(said)}", field=field)
    return held["performance"] or "", held["chain_of_custody"] or ""
