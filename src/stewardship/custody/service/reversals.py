"""Reversing a mistaken journal entry: an entry of its own (kind ``reversal``) that names
the one it undoes and why, and moves everything back: the legs the other way, the
counters and the origins the entry added or took. Refused when the material the entry
credited has already left the balance, when the entry is already reversed, is itself a
reversal, is of a kind with its own correction (a document is cancelled), or sits in a
closed period. The reversed entry stays in the journal: nothing is ever edited."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor
from stewardship.core.errors import Conflict, InvalidInput, NotFound
from stewardship.custody import repository as repo
from stewardship.custody import rules
from stewardship.custody.models import CustodyOperation, MaterialAccount
from stewardship.custody.rules import CocMaterial, LedgerError, Period, Pool, Route
from stewardship.custody.schemas import OperationRead, ReversalCreate
from stewardship.custody.service import common
from stewardship.custody.service.common import Leg
from stewardship.custody.service.reads import KIND_LABELS, operation_read
from stewardship.registry import repository as registry_repo

FIELD = "operation_id"


def _entry(db: Session, actor: Actor, operation_id: uuid.UUID) -> CustodyOperation:
    op = repo.operation_by_id(db, operation_id)
    if op is None or op.organization_id != actor.organization_id:
        raise NotFound("no such journal entry", field=FIELD)
    return op


def _what(op: CustodyOperation) -> str:
    return (f"the {KIND_LABELS.get(op.kind, op.kind).lower()} of {op.kilograms:,} kg on "
            f"{op.occurred_on.isoformat()}")


def _open(row: MaterialAccount, op: CustodyOperation) -> None:
    if row.status == "closed":
        raise Conflict(f"{_what(op)} is in the accounting period "
                       f"{Period(row.period_start, row.period_end).label}, which is closed; "
                       "correct it by an entry in the open period instead", field=FIELD)


def _pools(db: Session, op: CustodyOperation) -> tuple[Pool, Pool]:
    """(added to the credited account, taken from the debited one) by the entry."""
    kept = op.composition or {}
    if "in" in kept or "out" in kept:
        return rules.pool_from_data(kept.get("in")), rules.pool_from_data(kept.get("out"))
    if op.kind in ("production", "scrap_intake") and op.facility_id is not None:
        # Written before entries kept their origins: the origin is the facility's, as
        # the pools of that time stored it (and read it back).
        facility = registry_repo.facility_by_id(db, op.facility_id)
        if facility is not None:
            route = Route.PRIMARY if op.kind == "production" else Route.RECYCLED
            legacy = [[facility.public_id, facility.country, route.value, op.kilograms]]
            return rules.pool_from_data({"parts": legacy}), Pool()
    if op.kind == "non_coc_input":
        return Pool(), Pool()
    raise Conflict(f"{_what(op)} was recorded before entries kept the origins they moved, "
                   "so it cannot be reversed here; correct it by a new entry", field=FIELD)


def reverse_operation(db: Session, actor: Actor | None, operation_id: uuid.UUID,
                      data: ReversalCreate, *, today: date | None = None) -> OperationRead:
    """Reverse one of the organisation's journal entries, with the reason."""
    actor = common.member(actor, "reverse journal entries")
    op = _entry(db, actor, operation_id)
    refusal = rules.reversal_refusal(op.kind)
    if refusal is not None:
        raise InvalidInput(f"{_what(op)} cannot be reversed: {refusal}", field=FIELD)
    entity = registry_repo.entity_by_id(db, op.entity_id)
    assert entity is not None
    period = common.period_of(common.settings_of(db, entity), op.period_start)
    # Lock in the order every writer uses (material name) so nothing deadlocks; every
    # reversal of this entry then queues here, and the check below sees the winner's.
    materials = sorted({CocMaterial(op.material), *(
        [CocMaterial(op.source_material)] if op.source_material else [])})
    rows = {m: common.account(db, entity, m, period, for_change=False, field=FIELD)
            for m in materials}
    for row in rows.values():
        _open(row, op)
    done = repo.reversals_of(db, [op.id]).get(op.id)
    if done is not None:
        raise Conflict(f"{_what(op)} was already reversed on "
                       f"{done.recorded_at.date().isoformat()} by {done.actor}", field=FIELD)
    added, taken = _pools(db, op)
    target = rows[CocMaterial(op.material)]
    try:
        if op.kind == "transformation":
            source = rows[CocMaterial(op.source_material or "")]
            used, made = op.input_kg or 0, op.kilograms
            left = rules.remove(common.pool(target), added)
            if source is target:
                common.store(source, rules.unwind(common.balance(source), made,
                                                  transformed_out=used, transformed_in=made),
                             rules.add(left, taken))
            else:
                new_target = rules.unwind(common.balance(target), made, transformed_in=made)
                new_source = rules.unwind(common.balance(source), transformed_out=used)
                common.store(target, new_target, left)
                common.store(source, new_source, rules.add(common.pool(source), taken))
        elif op.kind == "non_coc_input":
            common.store(target, rules.unwind(common.balance(target), non_coc_in=op.kilograms))
        else:  # production or scrap intake: both count as produced
            new = rules.unwind(common.balance(target), op.kilograms, produced=op.kilograms)
            common.store(target, new, rules.remove(common.pool(target), added))
    except LedgerError as error:
        raise Conflict(f"{_what(op)} cannot be reversed: {error}", field=FIELD) from error
    by_id = {row.id: row for row in rows.values()}
    movements = repo.movements_of_operation(db, op.id)
    originals = [rules.Row(m.account_id.hex if m.account_id else f"system:{m.system_account}",
                           m.kilograms, str(op.id)) for m in movements]
    legs = []
    for back in rules.reverse_rows(originals, f"{op.id}:reversal"):
        if back.account.startswith("system:"):
            legs.append(Leg(None, back.account.removeprefix("system:"), back.kilograms))
        else:
            hit = by_id.get(uuid.UUID(back.account))
            if hit is None:
                raise Conflict(f"the movements of {_what(op)} name an account its journal "
                               "row does not; run the custody audit", field=FIELD)
            legs.append(Leg(hit, None, back.kilograms))
    try:
        with db.begin_nested():
            reversal = common.journal(
                db, actor, entity, "reversal", material=op.material,
                kilograms=op.kilograms, occurred_on=op.occurred_on, period=period,
                legs=legs, source_material=op.source_material,
                transformation=op.transformation, facility_id=op.facility_id,
                input_kg=op.input_kg, declared_yield=op.declared_yield,
                scrap_kind=op.scrap_kind, note=data.reason, reverses_id=op.id,
                composition={side: p for side, p in (("in", taken), ("out", added))
                             if p.parts})
    except IntegrityError:  # another reversal of it committed first
        raise Conflict(f"{_what(op)} was already reversed", field=FIELD) from None
    common.log(db, actor, "reversal.recorded", f"custody_operation:{reversal.id}",
               {"entity": entity.id, "reverses": op.id, "kind": op.kind,
                "material": op.material, "kilograms": op.kilograms, "reason": data.reason})
    return operation_read(db, reversal)
