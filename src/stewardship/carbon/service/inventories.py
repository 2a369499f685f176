"""Use cases of emission inventories: record, correct, read, list; and the public board of
smelters against the threshold.

Who: a member's own users (admin and user, as for its custody accounts) record and correct
the inventories of its own entities and facilities and read them; the secretariat reads
every member's; nobody else reads one. A correction edits the inventory in place (the
figures that footprints are computed from are read when a document is issued and copied
onto it, so no issued document changes), counts up its revision and appends the old and new
figures to the event log with the reason.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from stewardship.carbon import repository as repo
from stewardship.carbon import rules
from stewardship.carbon.models import CarbonInventory, CarbonProcess
from stewardship.carbon.rules import Allocation, CarbonError
from stewardship.carbon.schemas import (
    InventoryCorrection,
    InventoryCreate,
    InventoryFigures,
    InventoryRead,
    ProcessRead,
    SmelterBoard,
    SmelterRead,
)
from stewardship.carbon.service import thresholds
from stewardship.core import clock, eventlog
from stewardship.core.auth import MEMBER_ROLES, Actor, Role, require
from stewardship.core.errors import InvalidInput, NotFound
from stewardship.core.labels import label
from stewardship.core.pagination import Page, PageParams
from stewardship.registry import repository as registry_repo
from stewardship.registry.models import Entity, Facility

MAX_YEARS = 2
"""An inventory covers at most this many years (a year's inventory is the rule)."""


# --- who --------------------------------------------------------------------------------


def recorder(actor: Actor | None, action: str) -> Actor:
    """A member's own users record for its entities; nobody else does."""
    actor = require(actor, Role.MEMBER_ADMIN, Role.MEMBER_USER, action=action)
    if actor.organization_id is None:
        raise InvalidInput("this account belongs to no organisation", field="organization")
    return actor


def may_read(actor: Actor | None, organization_id: uuid.UUID) -> bool:
    return actor is not None and (actor.is_secretariat() or (
        actor.role in MEMBER_ROLES and actor.organization_id == organization_id))


def reader(actor: Actor | None) -> Actor:
    return require(actor, Role.SECRETARIAT, Role.MEMBER_ADMIN, Role.MEMBER_USER,
                   action="read emission inventories")


def _own_entity(db: Session, actor: Actor, entity_id: uuid.UUID | None) -> Entity:
    assert actor.organization_id is not None
    entities = repo.entities_of(db, actor.organization_id)
    if entity_id is None:
        if len(entities) == 1:
            return entities[0]
        if not entities:
            raise InvalidInput("your organisation has no entity to record an inventory for",
                               field="entity_id")
        raise InvalidInput("your organisation has several entities: name one",
                           field="entity_id")
    for entity in entities:
        if entity.id == entity_id:
            return entity
    raise InvalidInput("not an entity of your organisation", field="entity_id")


def _facility(db: Session, entity: Entity, public_id: str | None) -> Facility | None:
    if public_id is None:
        return None
    facility = repo.facility_by_public_id(db, public_id.strip().upper())
    if facility is None:
        raise InvalidInput(f"no facility {public_id}", field="facility_id")
    if facility.organization_id != entity.organization_id:
        raise InvalidInput(f"the facility {facility.public_id} does not belong to the "
                           "entity's organisation", field="facility_id")
    if facility.entity_id is not None and facility.entity_id != entity.id:
        raise InvalidInput(f"the facility {facility.public_id} belongs to another entity "
                           f"of the organisation, not {entity.name}", field="facility_id")
    if facility.status != "active":
        raise InvalidInput(f"the facility {facility.public_id} was merged into another; "
                           "use the surviving id", field="facility_id")
    return facility


# --- checks -----------------------------------------------------------------------------


def _check_figures(db: Session, data: InventoryFigures, entity: Entity,
                   facility: Facility | None, today: date,
                   exclude: uuid.UUID | None = None) -> None:
    """Every rule an inventory's figures must meet, each refusal naming its field."""
    if data.period_end < data.period_start:
        raise InvalidInput("the period ends before it starts", field="period_end")
    if data.period_end > today:
        raise InvalidInput(f"the period ends on {data.period_end.isoformat()}, in the "
                           "future: record an inventory once its period is over",
                           field="period_end")
    if (data.period_end - data.period_start).days > 366 * MAX_YEARS:
        raise InvalidInput(f"an inventory covers at most {MAX_YEARS} years",
                           field="period_end")
    processes = {p.process.value for p in data.processes}
    smelting = rules.SMELTING in processes
    if not smelting:
        for name in ("pfc_t", "anodes_consumed_t"):
            value = getattr(data, name)
            if value is not None and value != 0:
                raise InvalidInput(f"{name} is for smelting only: this inventory records "
                                   "no smelting", field=name)
        if data.pfc_method is not None:
            raise InvalidInput("pfc_method is for smelting only: this inventory records no "
                               "smelting", field="pfc_method")
        if data.commissioned_year is not None:
            raise InvalidInput("commissioned_year is the smelter's: this inventory records "
                               "no smelting", field="commissioned_year")
    else:
        if data.commissioned_year is None:
            raise InvalidInput("commissioned_year is required with smelting: the threshold "
                               "depends on it", field="commissioned_year")
        if data.commissioned_year > data.period_end.year:
            raise InvalidInput("the smelter was commissioned after the period",
                               field="commissioned_year")
        if data.pfc_t > 0 and data.pfc_method is None:
            raise InvalidInput("say how the PFCs were quantified: slope or overvoltage",
                               field="pfc_method")
    if data.electricity_mwh > 0 and not data.electricity_factor_source.strip():
        raise InvalidInput("say where the electricity's emission factor comes from",
                           field="electricity_factor_source")
    if data.electricity_mwh == 0 and data.electricity_factor_t_per_mwh > 0:
        raise InvalidInput("an emission factor without electricity: give electricity_mwh",
                           field="electricity_mwh")
    for i, p in enumerate(data.processes):
        if data.allocation is Allocation.DECLARED and p.declared_t is None:
            raise InvalidInput(f"the allocation is declared: give declared_t for "
                               f"{p.process.value}", field=f"processes.{i}.declared_t")
        if data.allocation is Allocation.MASS and p.declared_t is not None:
            raise InvalidInput(f"declared_t goes with the declared allocation, not mass "
                               f"({p.process.value})", field=f"processes.{i}.declared_t")
    if data.allocation is Allocation.DECLARED:
        own = data.scope1_t + data.pfc_t + rules.scope2_t(
            data.electricity_mwh, data.electricity_factor_t_per_mwh)
        declared = sum((p.declared_t or Decimal(0) for p in data.processes), Decimal(0))
        if declared != own:
            raise InvalidInput(f"the processes' declared figures add up to {declared} t, "
                               f"Scope 1 and 2 to {own} t: they must be equal",
                               field="processes")
    clash = repo.overlapping(db, entity.id, facility.id if facility else None,
                             data.period_start, data.period_end, exclude)
    if clash is not None:
        where = f"the facility {facility.public_id}" if facility else entity.name
        raise InvalidInput(f"{where} already has an inventory for "
                           f"{clash.period_start.isoformat()} to {clash.period_end.isoformat()}"
                           ": periods may not overlap; correct that one instead",
                           field="period_start")


def _t(value: Decimal | None) -> Decimal | None:
    """Tonnes as stored: to the kilogram."""
    return None if value is None else value.quantize(rules.TONNE_SCALE)


def _figures(data: InventoryFigures) -> dict[str, Any]:
    return {"period_start": data.period_start, "period_end": data.period_end,
            "scope1_t": _t(data.scope1_t), "pfc_t": _t(data.pfc_t),
            "pfc_method": data.pfc_method.value if data.pfc_method else None,
            "anodes_consumed_t": _t(data.anodes_consumed_t),
            "electricity_mwh": _t(data.electricity_mwh),
            "electricity_factor_t_per_mwh": data.electricity_factor_t_per_mwh.quantize(
                Decimal("0.000001")),
            "electricity_factor_source": data.electricity_factor_source.strip(),
            "scope3_cat1_t": _t(data.scope3_cat1_t), "scope3_cat3_t": _t(data.scope3_cat3_t),
            "scope3_cat4_t": _t(data.scope3_cat4_t), "allocation": data.allocation.value,
            "method": data.method.strip(), "verification": data.verification.value,
            "commissioned_year": data.commissioned_year}


def _processes(data: InventoryFigures) -> list[dict[str, Any]]:
    return sorted(({"process": p.process.value, "output_kg": p.output_kg,
                    "declared_t": _t(p.declared_t)} for p in data.processes),
                  key=lambda p: str(p["process"]))


def _snapshot(inv: CarbonInventory) -> dict[str, Any]:
    out = {name: getattr(inv, name) for name in (
        "period_start", "period_end", "scope1_t", "pfc_t", "pfc_method", "anodes_consumed_t",
        "electricity_mwh", "electricity_factor_t_per_mwh", "electricity_factor_source",
        "scope3_cat1_t", "scope3_cat3_t", "scope3_cat4_t", "allocation", "method",
        "verification", "commissioned_year")}
    out["processes"] = [{"process": p.process, "output_kg": p.output_kg,
                         "declared_t": p.declared_t} for p in inv.processes]
    return out


def _normal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def _comparable(values: dict[str, Any]) -> dict[str, Any]:
    """The figures as JSON, each number in its shortest form (12.000 and 12 compare
    equal)."""
    return eventlog.json_ready(_normal(values))  # type: ignore[no-any-return]


# --- record and correct -----------------------------------------------------------------


def record_inventory(db: Session, actor: Actor | None, data: InventoryCreate, *,
                     today: date | None = None) -> InventoryRead:
    """Record an entity's (or one of its facilities') inventory for a period."""
    actor = recorder(actor, "record an emission inventory")
    entity = _own_entity(db, actor, data.entity_id)
    facility = _facility(db, entity, data.facility_id)
    day = today if today is not None else _today()
    _check_figures(db, data, entity, facility, day)
    inv = CarbonInventory(id=uuid.uuid4(), organization_id=entity.organization_id,
                          entity_id=entity.id, facility_id=facility.id if facility else None,
                          recorded_by=actor.ref, revision=1, **_figures(data),
                          processes=[CarbonProcess(**p) for p in _processes(data)])
    db.add(inv)
    db.flush()
    eventlog.append(db, actor, "carbon.inventory.recorded", f"carbon_inventory:{inv.id}",
                    {"entity_id": entity.id,
                     "facility_id": facility.public_id if facility else None,
                     **_comparable(_snapshot(inv))})
    return read_models(db, [inv])[0]


def correct_inventory(db: Session, actor: Actor | None, inventory_id: uuid.UUID,
                      data: InventoryCorrection, *, today: date | None = None
                      ) -> InventoryRead:
    """Correct an inventory's figures: edited in place, its revision counted up, and the
    old and new figures appended to the event log with the reason."""
    actor = recorder(actor, "correct an emission inventory")
    inv = repo.inventory_by_id(db, inventory_id)
    if inv is None or inv.organization_id != actor.organization_id:
        raise NotFound("no such inventory", field="inventory_id")
    entity = _own_entity(db, actor, inv.entity_id)
    facility = db.get(Facility, inv.facility_id) if inv.facility_id else None
    day = today if today is not None else _today()
    _check_figures(db, data, entity, facility, day, exclude=inv.id)
    before = _comparable(_snapshot(inv))
    after = _comparable({**_figures(data), "processes": _processes(data)})
    changed = sorted(k for k in after if after[k] != before.get(k))
    if not changed:
        raise InvalidInput("nothing to correct: the figures are the ones recorded",
                           field="form")
    for name, value in _figures(data).items():
        setattr(inv, name, value)
    inv.processes.clear()
    db.flush()  # the old rows go before the new ones take their (inventory, process) keys
    inv.processes.extend(CarbonProcess(**p) for p in _processes(data))
    inv.revision += 1
    db.flush()
    eventlog.append(db, actor, "carbon.inventory.corrected", f"carbon_inventory:{inv.id}",
                    {"revision": inv.revision, "reason": data.reason, "changed": changed,
                     "before": {k: before.get(k) for k in changed},
                     "after": {k: after[k] for k in changed}})
    return read_models(db, [inv])[0]


def _today() -> date:
    return clock.today()


# --- reads ------------------------------------------------------------------------------


def read_models(db: Session, rows: list[CarbonInventory]) -> list[InventoryRead]:
    """Inventories as read models, with their intensities and threshold checks."""
    entity_names, facility_names = repo.names(
        db, {r.entity_id for r in rows}, {r.facility_id for r in rows if r.facility_id})
    smelting = [r for r in rows if any(p.process == rules.SMELTING for p in r.processes)]
    limits = thresholds.smelter_limits(db) if smelting else None
    firsts = repo.first_smelting_inventories(db, [r.entity_id for r in smelting]) \
        if smelting else {}
    out = []
    for r in rows:
        entity, slug, org = entity_names.get(r.entity_id, ("", "", ""))
        facility = facility_names.get(r.facility_id) if r.facility_id else None
        out.append(_read(r, slug, org, entity, facility, limits,
                         firsts.get((r.entity_id, r.facility_id))))
    return out


def _read(r: CarbonInventory, slug: str, org: str, entity: str,
          facility: tuple[str, str, str] | None, limits: thresholds.Limits | None,
          first: CarbonInventory | None) -> InventoryRead:
    scope2 = rules.scope2_t(r.electricity_mwh, r.electricity_factor_t_per_mwh)
    own = r.scope1_t + r.pfc_t + scope2
    scope3 = r.scope3_cat1_t + r.scope3_cat3_t + r.scope3_cat4_t
    outputs = {p.process: p.output_kg for p in r.processes}
    try:
        stages = {s.process: s for s in rules.stage_intensities(
            own, scope3, outputs, r.allocation,
            {p.process: p.declared_t for p in r.processes})}
    except CarbonError:  # pragma: no cover - the checks refuse such an inventory first
        stages = {}
    processes = [ProcessRead(
        process=p.process, process_label=label(p.process), output_kg=p.output_kg,
        declared_t=p.declared_t,
        intensity_t_per_t=stages[p.process].scope12 if p.process in stages else Decimal(0),
        cradle_to_gate_t_per_t=stages[p.process].cradle_to_gate if p.process in stages
        else None) for p in r.processes]
    return InventoryRead(
        id=r.id, organization=slug, organization_name=org, entity_id=r.entity_id,
        entity=entity, facility_id=facility[0] if facility else None,
        facility=facility[1] if facility else None, period_start=r.period_start,
        period_end=r.period_end, scope1_t=r.scope1_t, pfc_t=r.pfc_t, pfc_method=r.pfc_method,
        anodes_consumed_t=r.anodes_consumed_t, electricity_mwh=r.electricity_mwh,
        electricity_factor_t_per_mwh=r.electricity_factor_t_per_mwh,
        electricity_factor_source=r.electricity_factor_source, scope2_t=scope2,
        scope12_t=own, scope3_cat1_t=r.scope3_cat1_t, scope3_cat3_t=r.scope3_cat3_t,
        scope3_cat4_t=r.scope3_cat4_t, scope3_t=scope3, allocation=r.allocation,
        method=r.method, verification=r.verification, commissioned_year=r.commissioned_year,
        output_kg=sum(outputs.values()), intensity_t_per_t=rules.entity_intensity(own, outputs),
        processes=processes, threshold=thresholds.check(r, limits, first),
        revision=r.revision, recorded_by=r.recorded_by, created_at=r.created_at,
        updated_at=r.updated_at)


def get_inventory(db: Session, actor: Actor | None, inventory_id: uuid.UUID) -> InventoryRead:
    """One inventory: its organisation's users and the secretariat (404 for anyone else)."""
    actor = reader(actor)
    inv = repo.inventory_by_id(db, inventory_id)
    if inv is None or not may_read(actor, inv.organization_id):
        raise NotFound("no such inventory", field="inventory_id")
    return read_models(db, [inv])[0]


def list_inventories(db: Session, actor: Actor | None, paging: PageParams, *,
                     entity_id: uuid.UUID | None = None, organization: str | None = None
                     ) -> Page[InventoryRead]:
    """A member's own inventories; the secretariat's view of every member's (narrowed to
    one organisation by its slug)."""
    actor = reader(actor)
    if actor.is_secretariat():
        org_id = None
        if organization:
            org = registry_repo.organization_by_slug(db, organization)
            if org is None:
                raise NotFound(f"no organisation '{organization}'", field="organization")
            org_id = org.id
    else:
        org_id = actor.organization_id
    rows, total = repo.inventories(db, organization_id=org_id, entity_id=entity_id,
                                   offset=paging.offset, limit=paging.per_page)
    return Page(read_models(db, rows), total, paging.page, paging.per_page)


@dataclass(frozen=True)
class Choice:
    value: str
    text: str


@dataclass(frozen=True)
class FormChoices:
    entities: list[Choice]
    facilities: list[Choice]


def form_choices(db: Session, actor: Actor | None) -> FormChoices:
    """The entities and facilities a member may record an inventory for."""
    actor = recorder(actor, "record an emission inventory")
    assert actor.organization_id is not None
    return FormChoices(
        entities=[Choice(str(e.id), e.name) for e in repo.entities_of(db,
                                                                      actor.organization_id)],
        facilities=[Choice(f.public_id, f"{f.name} ({f.public_id})")
                    for f in repo.facilities_of(db, actor.organization_id)])


def editable(db: Session, actor: Actor | None, inventory_id: uuid.UUID) -> InventoryRead:
    """An inventory its member may correct (404 for anyone else's)."""
    actor = recorder(actor, "correct an emission inventory")
    inv = repo.inventory_by_id(db, inventory_id)
    if inv is None or inv.organization_id != actor.organization_id:
        raise NotFound("no such inventory", field="inventory_id")
    return read_models(db, [inv])[0]


# --- the public board -------------------------------------------------------------------


def smelter_board(db: Session) -> SmelterBoard:
    """Every smelter's latest inventory against the threshold, for anyone: the intensity of
    its smelting (Scope 1+2 per t Al), the period, whether the figures are verified and the
    check; the absolute emissions and the electricity contracts stay the member's."""
    limits = thresholds.smelter_limits(db)
    rows = repo.smelting_inventories(db)
    latest: dict[tuple[uuid.UUID, uuid.UUID | None], CarbonInventory] = {}
    first: dict[tuple[uuid.UUID, uuid.UUID | None], CarbonInventory] = {}
    for r in rows:
        key = (r.entity_id, r.facility_id)
        first.setdefault(key, r)
        latest[key] = r
    smelters: list[SmelterRead] = []
    if limits is not None:
        entity_names, facility_names = repo.names(
            db, {k[0] for k in latest}, {k[1] for k in latest if k[1]})
        smelters_of = repo.smelting_facilities(db, {k[0] for k in latest if not k[1]})
        for key, r in latest.items():
            checked = thresholds.check(r, limits, first[key])
            if checked is None:  # pragma: no cover - every row has smelting
                continue
            entity, slug, org = entity_names.get(r.entity_id, ("", "", ""))
            facility = facility_names.get(r.facility_id) if r.facility_id else None
            site = facility or smelters_of.get(r.entity_id)
            smelters.append(SmelterRead(
                organization=slug, organization_name=org, entity=entity,
                facility=facility[1] if facility else None,
                facility_id=site[0] if site else None,
                country=site[2] if site else None, period_start=r.period_start,
                period_end=r.period_end, verification=r.verification, threshold=checked))
        smelters.sort(key=lambda s: (s.threshold.intensity_t_per_t, s.organization_name))
    t = limits.thresholds if limits else None
    return SmelterBoard(new_max_t_per_t=t.new_max if t else None,
                        new_from=t.new_from if t else None,
                        existing_max_t_per_t=t.existing_max if t else None,
                        existing_by=t.existing_by if t else None,
                        criterion=limits.criterion if limits else None,
                        basis=limits.basis if limits else None,
                        basis_label=label(limits.basis) if limits else None,
                        smelters=smelters)
