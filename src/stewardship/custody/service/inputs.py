"""What comes into an entity's accounts other than by document: production at an origin,
eligible scrap at a remelter, non-CoC inputs, and transformations of one material into
another at a declared yield."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from stewardship.core.auth import Actor
from stewardship.core.errors import InvalidInput
from stewardship.custody import rules
from stewardship.custody.rules import CocMaterial, LedgerError, YieldError
from stewardship.custody.schemas import (
    NonCocInputCreate,
    OperationRead,
    ProductionCreate,
    ScrapIntakeCreate,
    TransformationCreate,
)
from stewardship.custody.service import common
from stewardship.custody.service.common import Leg
from stewardship.custody.service.reads import operation_read
from stewardship.registry.models import Entity, Facility
from stewardship.registry.service import facilities as facility_service


def _facility(db: Session, actor: Actor, entity: Entity, raw_id: str) -> Facility:
    facility, _ = facility_service.resolve(db, actor, raw_id)
    if facility.organization_id != entity.organization_id or (
            facility.entity_id is not None and facility.entity_id != entity.id):
        raise InvalidInput(f"facility {facility.public_id} is not one of {entity.name}'s",
                           field="facility_id")
    if facility.status != "active":
        raise InvalidInput(f"facility {facility.public_id} is merged into another",
                           field="facility_id")
    return facility


def record_production(db: Session, actor: Actor | None, data: ProductionCreate, *,
                      today: date | None = None) -> OperationRead:
    """CoC material produced at a certified origin facility."""
    actor = common.member(actor, "record production")
    entity = common.own_entity(db, actor, data.entity_id)
    material = CocMaterial(data.material)
    if material not in rules.ORIGIN_MATERIALS:
        raise InvalidInput("eligible scrap enters through a remelter's scrap intake, "
                           "not as production", field="material")
    facility = _facility(db, actor, entity, data.facility_id)
    common.check_day(data.occurred_on, common.today_at(facility, today), "occurred_on")
    refusal = rules.activity_refusal(facility.activities, material=material)
    if refusal:
        raise InvalidInput(f"facility {facility.public_id}: {refusal}", field="facility_id")
    common.require_certified(db, entity, data.occurred_on, what="put CoC material into the "
                             "chain", field="occurred_on")
    return _credit_origin(db, actor, entity, facility, material, data.kilograms,
                          data.occurred_on, "production", None, data.note)


def record_scrap_intake(db: Session, actor: Actor | None, data: ScrapIntakeCreate, *,
                        today: date | None = None) -> OperationRead:
    """Eligible scrap taken in by a certified remelter after due diligence."""
    actor = common.member(actor, "record scrap intake")
    entity = common.own_entity(db, actor, data.entity_id)
    facility = _facility(db, actor, entity, data.facility_id)
    common.check_day(data.occurred_on, common.today_at(facility, today), "occurred_on")
    refusal = rules.activity_refusal(facility.activities,
                                     material=CocMaterial.ELIGIBLE_SCRAP)
    if refusal:
        raise InvalidInput(f"facility {facility.public_id}: {refusal}", field="facility_id")
    common.require_certified(db, entity, data.occurred_on, what="take in eligible scrap",
                             field="occurred_on")
    return _credit_origin(db, actor, entity, facility, CocMaterial.ELIGIBLE_SCRAP,
                          data.kilograms, data.occurred_on, "scrap_intake",
                          data.scrap_kind.value, data.note)


def _credit_origin(db: Session, actor: Actor, entity: Entity, facility: Facility,
                   material: CocMaterial, kilograms: int, day: date, kind: str,
                   scrap_kind: str | None, note: str) -> OperationRead:
    settings = common.settings_of(db, entity)
    period = common.period_of(settings, day)
    row = common.account(db, entity, material, period)
    try:
        if kind == "production":
            new = rules.produce(common.balance(row), kilograms)
        else:
            new = rules.take_in_scrap(common.balance(row), kilograms,
                                      rules.ScrapKind(scrap_kind))
    except LedgerError as error:
        raise common.ledger_refusal(error, "kilograms") from error
    origin = rules.pool_of(
        rules.entry_origin(material, facility.public_id, facility.country), kilograms)
    common.store(row, new, rules.add(common.pool(row), origin))
    operation = common.journal(
        db, actor, entity, kind, material=material.value, kilograms=kilograms,
        occurred_on=day, period=period, facility_id=facility.id, scrap_kind=scrap_kind,
        note=note, composition={"in": origin},
        legs=[Leg(None, f"origin:{facility.public_id}", -kilograms), Leg(row, None, kilograms)])
    common.log(db, actor, f"{kind}.recorded", f"custody_operation:{operation.id}",
               {"entity": entity.id, "facility": facility.public_id,
                "material": material.value, "kilograms": kilograms, "on": day})
    return operation_read(db, operation)


def record_non_coc_input(db: Session, actor: Actor | None, data: NonCocInputCreate, *,
                         today: date | None = None) -> OperationRead:
    """Material taken in without CoC status: counted for the input percentage only."""
    actor = common.member(actor, "record non-CoC input")
    entity = common.own_entity(db, actor, data.entity_id)
    common.check_day(data.occurred_on, common.today_of(db, entity, today), "occurred_on")
    settings = common.settings_of(db, entity)
    period = common.period_of(settings, data.occurred_on)
    material = CocMaterial(data.material)
    row = common.account(db, entity, material, period)
    try:
        new = rules.record_non_coc(common.balance(row), data.kilograms)
    except LedgerError as error:
        raise common.ledger_refusal(error, "kilograms") from error
    common.store(row, new)
    operation = common.journal(db, actor, entity, "non_coc_input", material=material.value,
                               kilograms=data.kilograms, occurred_on=data.occurred_on,
                               period=period, note=data.note, legs=[])
    common.log(db, actor, "non_coc_input.recorded", f"custody_operation:{operation.id}",
               {"entity": entity.id, "material": material.value,
                "kilograms": data.kilograms, "on": data.occurred_on})
    return operation_read(db, operation)


def record_transformation(db: Session, actor: Actor | None, data: TransformationCreate, *,
                          today: date | None = None) -> OperationRead:
    """CoC input turned into CoC output at a declared yield within physics."""
    actor = common.member(actor, "record a transformation")
    entity = common.own_entity(db, actor, data.entity_id)
    transformation = rules.Transformation(data.transformation)
    source_material = CocMaterial(data.source_material)
    target_material = transformation.output
    try:
        rules.check_transformation(transformation, source_material, target_material)
    except LedgerError as error:
        raise InvalidInput(str(error), field="source_material") from error
    try:
        rules.check_yield(transformation, data.declared_yield)
    except YieldError as error:
        raise InvalidInput(f"{error}; typical: "
                           f"{rules.typical_yield(transformation).label}",
                           field="declared_yield") from error
    output = rules.yield_output(data.input_kg, data.declared_yield)
    if output == 0:
        raise InvalidInput(f"{data.input_kg} kg at {data.declared_yield} kg/kg gives no whole "
                           "kilogram of output", field="input_kg")
    facility = _facility(db, actor, entity, data.facility_id)
    common.check_day(data.occurred_on, common.today_at(facility, today), "occurred_on")
    refusal = rules.activity_refusal(facility.activities, transformation=transformation)
    if refusal:
        raise InvalidInput(f"facility {facility.public_id}: {refusal}", field="facility_id")
    settings = common.settings_of(db, entity)
    period = common.period_of(settings, data.occurred_on)
    # Lock in a fixed order (material name) so two transformations never deadlock.
    materials = sorted({source_material, target_material})
    rows = {m: common.account(db, entity, m, period) for m in materials}
    source, target = rows[source_material], rows[target_material]
    try:
        new_source, new_target = rules.transform(
            common.balance(source), common.balance(target), transformation, data.input_kg,
            data.declared_yield)
    except LedgerError as error:
        raise common.ledger_refusal(error, "input_kg") from error
    taken, remaining = rules.take(common.pool(source), data.input_kg)
    produced = rules.through(rules.scale(taken, output), transformation,
                             facility.public_id, facility.country)
    if source is target:
        common.store(source, new_source, rules.add(remaining, produced))
    else:
        common.store(source, new_source, remaining)
        common.store(target, new_target, rules.add(common.pool(target), produced))
    process = f"process:{facility.public_id}"
    operation = common.journal(
        db, actor, entity, "transformation", material=target_material.value,
        source_material=source_material.value, transformation=transformation.value,
        facility_id=facility.id, input_kg=data.input_kg, kilograms=output,
        declared_yield=data.declared_yield, occurred_on=data.occurred_on, period=period,
        note=data.note, composition={"out": taken, "in": produced},
        legs=[Leg(source, None, -data.input_kg),
                              Leg(None, process, data.input_kg),
                              Leg(None, process, -output), Leg(target, None, output)])
    common.log(db, actor, "transformation.recorded", f"custody_operation:{operation.id}",
               {"entity": entity.id, "facility": facility.public_id,
                "transformation": transformation.value, "input_kg": data.input_kg,
                "output_kg": output, "declared_yield": data.declared_yield,
                "on": data.occurred_on})
    return operation_read(db, operation)
