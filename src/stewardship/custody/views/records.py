"""What a member records in its accounts other than by document (production at an origin,
eligible scrap at a remelter, non-CoC input, a transformation as it physically happened,
its yield shown beside the typical one) and the journal where every movement is listed."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor, require
from stewardship.core.errors import DomainError, InvalidInput
from stewardship.core.templating import sentence
from stewardship.core.web import CsrfChecked, DbSession, OptionalActor, Pagination, redirect
from stewardship.custody import rules
from stewardship.custody.rules import CocMaterial
from stewardship.custody.schemas import (
    NonCocInputCreate,
    OperationPage,
    OperationRead,
    ProductionCreate,
    ReversalCreate,
    ScrapIntakeCreate,
    TransformationCreate,
)
from stewardship.custody.service import inputs, reads, reversals
from stewardship.custody.views.common import (
    MATERIAL_LABELS,
    MATERIALS,
    SCRAP_KINDS,
    TRANSFORMATIONS,
    LongText,
    QueryText,
    Short,
    choose_entity,
    errors_of,
    facility_options,
    render,
    reraise_access,
    today_of,
    validate,
    yield_rows,
)

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class RecordKind:
    title: str
    lead: str
    model: type[BaseModel]
    record: Callable[..., OperationRead]
    fields: tuple[str, ...]


KINDS: dict[str, RecordKind] = {
    "production": RecordKind(
        "Record production",
        "CoC material produced at a certified origin: bauxite at a mine, alumina at a "
        "refinery, aluminium at a smelter.",
        ProductionCreate, inputs.record_production,
        ("facility_id", "material", "kilograms", "occurred_on", "note")),
    "scrap-intake": RecordKind(
        "Record scrap intake",
        "Eligible scrap taken in by a remelter after its due diligence on the supplier.",
        ScrapIntakeCreate, inputs.record_scrap_intake,
        ("facility_id", "scrap_kind", "kilograms", "occurred_on", "note")),
    "non-coc-input": RecordKind(
        "Record non-CoC input",
        "Material taken in without CoC status. It never becomes CoC material; it counts "
        "for the CoC input percentage only.",
        NonCocInputCreate, inputs.record_non_coc_input,
        ("material", "kilograms", "occurred_on", "note")),
    "transformation": RecordKind(
        "Record a transformation",
        "What went in and came out, as it physically happened: the total input, the total "
        "output and the CoC part of the input. The yield (output per kg of input) is held "
        "to the physical maximum; the CoC input times that yield becomes CoC output.",
        TransformationCreate, inputs.record_transformation,
        ("facility_id", "transformation", "source_material", "total_input_kg",
         "total_output_kg", "coc_input_kg", "occurred_on", "note")),
}
Kind = Annotated[str, Path(pattern="^(" + "|".join(KINDS) + ")$")]
OPERATION_KINDS = list(reads.KIND_LABELS.items())


def _done(op: OperationRead) -> str:
    label = MATERIAL_LABELS.get(op.material, op.material)
    if op.kind == "production":
        return f"Production of {op.kilograms:,} kg of {label} is recorded."
    if op.kind == "scrap_intake":
        kind = (op.scrap_kind or "").replace("_", "-")
        return f"Intake of {op.kilograms:,} kg of {kind} eligible scrap is recorded."
    if op.kind == "non_coc_input":
        return (f"{op.kilograms:,} kg of non-CoC {label} input is recorded; it counts for "
                "the CoC input percentage only.")
    source = MATERIAL_LABELS.get(op.source_material or "", op.source_material)
    return (f"The {op.transformation} is recorded: {op.total_input_kg or 0:,} kg of {source} "
            f"became {op.total_output_kg or 0:,} kg of {label} at "
            f"{(op.declared_yield or 0).normalize():f} kg/kg (typical: {op.typical_yield}); "
            f"the CoC input of {op.input_kg or 0:,} kg ({op.coc_input_percent}%) gives "
            f"{op.kilograms:,} kg of CoC {label}.")


def _typical(transformation: str) -> str:
    try:
        t = rules.Transformation(transformation)
    except ValueError:
        return ""
    return (f"Typical for {t.value}: {rules.typical_yield(t).label}; physical maximum "
            f"{rules.yield_limit(t)} kg/kg.")


def record_page(request: Request, db: Session, actor: Actor | None, kind: str, entity: str,
                *, errors: dict[str, str] | None = None, values: dict[str, Any] | None = None,
                status_code: int = 200) -> Response:
    actor = require(actor, action="record custody movements")
    choice = choose_entity(db, actor, entity)
    values = values or {"occurred_on": today_of(db, actor, choice).isoformat()}
    spec = KINDS[kind]
    materials = ([(m.value, m.label) for m in CocMaterial if m in rules.ORIGIN_MATERIALS]
                 if kind == "production" else MATERIALS)
    return render(request, "custody/record.html", {
        "kind": kind, "spec": spec, "choice": choice, "errors": errors or {},
        "values": values, "materials": materials, "scrap_kinds": SCRAP_KINDS,
        "transformations": TRANSFORMATIONS, "yields": yield_rows(),
        "typical": _typical(str(values.get("transformation", ""))),
        "typicals": {t.value: _typical(t.value) for t in rules.Transformation},
        "facilities": facility_options(request, db, actor, choice.id)
        if "facility_id" in spec.fields and choice.selected else [],
    }, status_code)


@router.get("/custody/record/{kind}")
def record_form(request: Request, db: DbSession, actor: OptionalActor, kind: Kind,
                entity: QueryText = "") -> Response:
    return record_page(request, db, actor, kind, entity)


@router.post("/custody/record/{kind}", dependencies=[CsrfChecked])
def record(request: Request, db: DbSession, actor: OptionalActor, kind: Kind,
           entity_id: Short = "", facility_id: Short = "", material: Short = "",
           scrap_kind: Short = "", kilograms: Short = "", occurred_on: Short = "",
           transformation: Short = "", source_material: Short = "",
           total_input_kg: Short = "", total_output_kg: Short = "", coc_input_kg: Short = "",
           note: LongText = "") -> Response:
    actor = require(actor, action="record custody movements")
    spec = KINDS[kind]
    given = {"facility_id": facility_id.strip().upper(), "material": material,
             "scrap_kind": scrap_kind, "kilograms": kilograms.strip().replace(",", ""),
             "occurred_on": occurred_on.strip(), "transformation": transformation,
             "source_material": source_material,
             **{name: raw.strip().replace(",", "").replace(" ", "") for name, raw in (
                 ("total_input_kg", total_input_kg), ("total_output_kg", total_output_kg),
                 ("coc_input_kg", coc_input_kg))},
             "note": note.strip()}
    values = {name: given[name] for name in spec.fields}
    try:
        data = validate(spec.model, {**values, "entity_id": entity_id})
        op = spec.record(db, actor, data)
    except DomainError as exc:
        reraise_access(exc)
        db.rollback()
        return record_page(request, db, actor, kind, entity_id,
                           errors=errors_of(exc, shown=spec.fields), values=values,
                           status_code=exc.status_code)
    return redirect(request, f"/custody?entity={entity_id}" if entity_id else "/custody",
                    _done(op))


# --- the journal ------------------------------------------------------------------------


@router.get("/custody/journal")
def journal(request: Request, db: DbSession, actor: OptionalActor, paging: Pagination,
            entity: QueryText = "", kind: QueryText = "") -> Response:
    actor = require(actor, action="see the custody journal")
    choice = choose_entity(db, actor, entity)
    problem, code = "", 200
    page: Any = OperationPage(items=[], total=0, page=paging.page, per_page=paging.per_page,
                              pages=1)
    try:
        if kind and kind not in dict(OPERATION_KINDS):
            raise InvalidInput("choose one of the listed kinds", field="kind")
        if choice.id is not None:
            page = reads.list_operations(db, actor, choice.id, paging, kind=kind or None)
    except DomainError as exc:
        reraise_access(exc)
        problem, code = sentence(exc.message), exc.status_code
    return render(request, "custody/journal.html", {
        "page": page, "choice": choice, "kind": kind, "kinds": OPERATION_KINDS,
        "kind_labels": dict(OPERATION_KINDS), "material_labels": MATERIAL_LABELS,
        "problem": problem, "filtered": bool(kind),
    }, code)



# --- reversing an entry -----------------------------------------------------------------


def reverse_page(request: Request, db: Session, actor: Actor | None, operation_id: uuid.UUID,
                 *, errors: dict[str, str] | None = None, reason: str = "",
                 status_code: int = 200) -> Response:
    actor = require(actor, action="reverse journal entries")
    op = reads.get_operation(db, actor, operation_id)
    choice = choose_entity(db, actor, str(op.entity_id))  # another member's entry: 404
    reversal = (reads.get_operation(db, actor, op.reversed_by) if op.reversed_by
                else None)
    return render(request, "custody/reverse.html", {
        "op": op, "choice": choice, "reversal": reversal, "errors": errors or {},
        "reason": reason, "kind_labels": reads.KIND_LABELS,
        "material_labels": MATERIAL_LABELS}, status_code)


@router.get("/custody/journal/{operation_id}/reverse")
def reverse_form(request: Request, db: DbSession, actor: OptionalActor,
                 operation_id: uuid.UUID) -> Response:
    return reverse_page(request, db, actor, operation_id)


@router.post("/custody/journal/{operation_id}/reverse", dependencies=[CsrfChecked])
def reverse(request: Request, db: DbSession, actor: OptionalActor, operation_id: uuid.UUID,
            reason: LongText = "") -> Response:
    actor = require(actor, action="reverse journal entries")
    try:
        data = validate(ReversalCreate, {"reason": reason.strip()}, whole_form_field="reason")
        done = reversals.reverse_operation(db, actor, operation_id, data)
    except DomainError as exc:
        reraise_access(exc)
        db.rollback()
        return reverse_page(request, db, actor, operation_id,
                            errors=errors_of(exc, shown=("reason",), fallback="form"),
                            reason=reason, status_code=exc.status_code)
    choice = choose_entity(db, actor, str(done.entity_id))
    label = reads.KIND_LABELS.get(done.kind, done.kind)
    return redirect(request, "/custody/journal" + choice.query,
                    f"The entry is reversed: a {label.lower()} entry of "
                    f"{done.kilograms:,} kg now undoes it, with your reason.")
