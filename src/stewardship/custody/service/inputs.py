"""What comes into an entity's accounts other than by document: production at an origin,
eligible scrap at a remelter, non-CoC inputs, and transformations of one material into
another as they physically happened; production and output are held to the facility's
capacity for the period."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from stewardship.core.auth import Actor
from stewardship.core.errors import Conflict, InvalidInput
from stewardship.custody import repository as repo
from stewardship.custody import rules
from stewardship.custody.plausibility import rules as plausibility
from stewardship.custody.rules import CocMaterial, LedgerError, YieldError
from stewardship.custody.schemas import (
    NonCocInputCreate,
    OperationRead,
    ProductionCreate,
    ScrapIntakeCreate,
    TransformationCreate,
)
from stewardship.custody.service import common, footprints
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
    actor, entity = common.recorder(db, actor, data.entity_id, data.capacity_override_reason,
                                    "record production")
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
    period = common.period_of(common.settings_of(db, entity), data.occurred_on)
    check_capacity(db, facility, period, data.kilograms, data.capacity_override_reason,
                   "kilograms", material=material)
    return _credit_origin(db, actor, entity, facility, material, data.kilograms,
                          data.occurred_on, "production", None, data.note,
                          data.capacity_override_reason)


def check_capacity(db: Session, facility: Facility, period: rules.Period, adding_kg: int,
                   override: str | None, field: str, *,
                   transformation: rules.Transformation | None = None,
                   material: CocMaterial | None = None) -> None:
    """Refuse output beyond the facility's capacity for the activity it counts against,
    prorated to the period, counting what is already recorded there in the period; the
    secretariat's override (with its reason) lets it through."""
    activities = facility.activities
    activity = plausibility.output_activity(activities, transformation=transformation,
                                     material=material)
    annual = facility.capacities.get(activity) if activity else None
    if activity is None or annual is None or override:
        return
    recorded = sum(kg for kind, made, step, kg in repo.facility_output(
        db, facility.id, period.start, period.end)
        if plausibility.output_activity(
            activities, transformation=rules.Transformation(step) if step else None,
            material=CocMaterial(made) if kind == "production" else None) == activity)
    refusal = plausibility.capacity_refusal(f"{facility.name} ({facility.public_id})", activity,
                                     annual, period, recorded, adding_kg)
    if refusal:
        raise Conflict(refusal, field=field)


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
                   scrap_kind: str | None, note: str,
                   override: str | None = None) -> OperationRead:
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
        rules.entry_origin(material, facility.public_id, facility.country), kilograms,
        footprint=footprints.entering(db, entity, facility, material, kilograms, day))
    common.store(row, new, rules.add(common.pool(row), origin))
    operation = common.journal(
        db, actor, entity, kind, material=material.value, kilograms=kilograms,
        occurred_on=day, period=period, facility_id=facility.id, scrap_kind=scrap_kind,
        note=note, composition={"in": origin}, capacity_override=override,
        legs=[Leg(None, f"origin:{facility.public_id}", -kilograms), Leg(row, None, kilograms)])
    payload: dict[str, object] = {"entity": entity.id, "facility": facility.public_id,
                                  "material": material.value, "kilograms": kilograms,
                                  "on": day}
    if override:
        payload["capacity_override"] = override
    common.log(db, actor, f"{kind}.recorded", f"custody_operation:{operation.id}", payload)
    return operation_read(db, operation, new=True)


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
    return operation_read(db, operation, new=True)


def figures(data: TransformationCreate,
            transformation: rules.Transformation) -> tuple[rules.Physical, Decimal]:
    """The transformation's physical figures and the yield the journal records, from
    either shape of the input (``TransformationCreate``); refusals name the field."""
    given = {"total_input_kg": data.total_input_kg, "total_output_kg": data.total_output_kg,
             "coc_input_kg": data.coc_input_kg}
    older = {"input_kg": data.input_kg, "declared_yield": data.declared_yield}
    if any(v is not None for v in given.values()):
        mixed = next((name for name, v in older.items() if v is not None), None)
        if mixed:
            raise InvalidInput(f"give total_input_kg, total_output_kg and coc_input_kg, or "
                               f"the older input_kg with declared_yield, not both ({mixed})",
                               field=mixed)
        missing = next((name for name, v in given.items() if v is None), None)
        if missing:
            raise InvalidInput(f"{missing} is required with the other figures of what "
                               "physically happened (total_input_kg, total_output_kg, "
                               "coc_input_kg)", field=missing)
        total_in, total_out, coc_in = (int(v) for v in given.values())  # type: ignore[arg-type]
        declared = None
    else:
        missing = next((name for name, v in older.items() if v is None), None)
        if missing:
            field = "total_input_kg" if data.input_kg is None else missing
            raise InvalidInput(f"{field} is required: give total_input_kg, "
                               "total_output_kg and coc_input_kg (or the older input_kg "
                               "with declared_yield)", field=field)
        assert data.input_kg is not None and data.declared_yield is not None
        declared = data.declared_yield
        try:
            rules.check_yield(transformation, declared)
        except YieldError as error:
            raise _yield_refusal(error, transformation, "declared_yield") from error
        total_in = coc_in = data.input_kg
        total_out = rules.yield_output(data.input_kg, declared)
        if total_out == 0:
            raise InvalidInput(f"{data.input_kg} kg at {declared} kg/kg gives no whole "
                               "kilogram of output", field="input_kg")
    try:
        found = rules.physical(total_in, total_out, coc_in, transformation)
    except rules.FigureError as error:
        raise InvalidInput(str(error), field=error.figure) from error
    except YieldError as error:
        raise _yield_refusal(error, transformation, "total_output_kg") from error
    if found.coc_output == 0:
        raise InvalidInput(f"{coc_in} kg of CoC input at {found.declared_yield} kg/kg gives "
                           "no whole kilogram of CoC output", field="coc_input_kg")
    return found, declared if declared is not None else found.declared_yield


def _yield_refusal(error: YieldError, transformation: rules.Transformation,
                   field: str) -> InvalidInput:
    return InvalidInput(f"{error}; typical: {rules.typical_yield(transformation).label}",
                        field=field)


def record_transformation(db: Session, actor: Actor | None, data: TransformationCreate, *,
                          today: date | None = None) -> OperationRead:
    """A transformation as it physically happened: its CoC input leaves the balance and
    the CoC input times the yield (total output / total input, within physics) arrives
    as CoC output."""
    actor, entity = common.recorder(db, actor, data.entity_id, data.capacity_override_reason,
                                    "record a transformation")
    transformation = rules.Transformation(data.transformation)
    source_material = CocMaterial(data.source_material)
    target_material = transformation.output
    try:
        rules.check_transformation(transformation, source_material, target_material)
    except LedgerError as error:
        raise InvalidInput(str(error), field="source_material") from error
    found, declared = figures(data, transformation)
    spent_field = "coc_input_kg" if data.input_kg is None else "input_kg"
    facility = _facility(db, actor, entity, data.facility_id)
    common.check_day(data.occurred_on, common.today_at(facility, today), "occurred_on")
    refusal = rules.activity_refusal(facility.activities, transformation=transformation)
    if refusal:
        raise InvalidInput(f"facility {facility.public_id}: {refusal}", field="facility_id")
    settings = common.settings_of(db, entity)
    period = common.period_of(settings, data.occurred_on)
    check_capacity(db, facility, period, found.total_output, data.capacity_override_reason,
                   "total_output_kg" if data.input_kg is None else "input_kg",
                   transformation=transformation)
    # Lock in a fixed order (material name) so two transformations never deadlock.
    materials = sorted({source_material, target_material})
    rows = {m: common.account(db, entity, m, period) for m in materials}
    source, target = rows[source_material], rows[target_material]
    try:
        new_source, new_target = rules.transform_physical(
            common.balance(source), common.balance(target), transformation, found)
    except LedgerError as error:
        raise common.ledger_refusal(error, spent_field) from error
    spent, output = found.coc_input, found.coc_output
    taken, remaining = rules.take(common.pool(source), spent)
    produced = footprints.transformed(
        db, entity, facility, transformation,
        rules.through(rules.scale(taken, output), transformation, facility.public_id,
                      facility.country), data.occurred_on)
    if source is target:
        common.store(source, new_source, rules.add(remaining, produced))
    else:
        common.store(source, new_source, remaining)
        common.store(target, new_target, rules.add(common.pool(target), produced))
    process = f"process:{facility.public_id}"
    override = data.capacity_override_reason
    operation = common.journal(
        db, actor, entity, "transformation", material=target_material.value,
        source_material=source_material.value, transformation=transformation.value,
        facility_id=facility.id, input_kg=spent, kilograms=output,
        declared_yield=declared, occurred_on=data.occurred_on, period=period,
        note=data.note, total_input_kg=found.total_input, total_output_kg=found.total_output,
        capacity_override=override, composition={"out": taken, "in": produced},
        legs=[Leg(source, None, -spent), Leg(None, process, spent),
              Leg(None, process, -output), Leg(target, None, output)])
    payload: dict[str, object] = {
        "entity": entity.id, "facility": facility.public_id,
        "transformation": transformation.value, "input_kg": spent, "output_kg": output,
        "declared_yield": declared, "total_input_kg": found.total_input,
        "total_output_kg": found.total_output, "on": data.occurred_on}
    if override:
        payload["capacity_override"] = override
    common.log(db, actor, "transformation.recorded", f"custody_operation:{operation.id}",
               payload)
    return operation_read(db, operation, new=True)
