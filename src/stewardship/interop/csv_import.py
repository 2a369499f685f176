"""CSV import of custody movements, for companies without EPCIS: one row per movement
(production, scrap intake, non-CoC input, transformation, shipment, receipt, and the
reversal of a mistaken journal entry), the same custody services behind every row as
behind the API and the EPCIS profile.

Every row runs in a savepoint of its own, in file order (a later row may spend what an
earlier one produced); a refused row's savepoint is rolled back and the row reported with
the column and the reason. Consecutive shipment rows are issued together through the
batch use case (``custody.service.batch``), the same documents as row by row; when one
of them is refused, they run row by row for the report. The whole import sits in one
outer savepoint: it is kept only when ``apply`` is true and every row passed; otherwise
it is rolled back and nothing is stored. docs/epcis-profile.md ("CSV import") lists the columns.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import Field
from sqlalchemy.orm import Session

from stewardship.core import csvimport
from stewardship.core.auth import Actor, Role, require
from stewardship.core.errors import DomainError, InvalidInput
from stewardship.core.schemas import OutputModel
from stewardship.custody.rules import CocMaterial, Transformation
from stewardship.custody.schemas import (
    MAX_BATCH,
    DocumentCreate,
    NonCocInputCreate,
    ProductionCreate,
    Receipt,
    ReversalCreate,
    ScrapIntakeCreate,
    TransformationCreate,
)
from stewardship.custody.service import batch, documents, inputs, reversals
from stewardship.interop.profile import (
    build,
    document_effect,
    fields_named,
    operation_effect,
)

MAX_BYTES = 2_000_000
"""Largest file taken in one import (UTF-8 bytes)."""
MAX_ROWS = 5_000
"""Most movements in one import; split larger files."""
MAX_CELL = 2_000
"""Longest cell (the note)."""

COLUMNS = ("kind", "date", "entity_id", "facility_id", "material", "kilograms", "scrap_kind",
           "transformation", "source_material", "input_kg", "output_kg", "coc_input_kg",
           "declared_yield",
           "recipient_entity_id", "document_number", "quantity_kg", "coc_quantity_kg",
           "note", "reverses", "reason")

# kind: (required columns, optional columns)
KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "production": (("date", "facility_id", "material", "kilograms"), ("entity_id", "note")),
    "scrap_intake": (("date", "facility_id", "scrap_kind", "kilograms"),
                     ("entity_id", "note")),
    "non_coc_input": (("date", "material", "kilograms"), ("entity_id", "note")),
    "transformation": (("date", "facility_id", "transformation", "source_material",
                        "input_kg"), ("output_kg", "coc_input_kg", "declared_yield",
                                      "entity_id", "note")),
    "shipment": (("date", "recipient_entity_id", "material", "coc_quantity_kg"),
                 ("quantity_kg", "document_number", "entity_id", "note")),
    "receipt": (("date", "document_number"), ()),
    "reversal": (("reverses", "reason"), ()),
}

# Custody input fields, as the file's columns name them.
CSV_FIELDS = {"occurred_on": "date", "shipment_date": "date", "received_on": "date",
              "period_start": "date", "number": "document_number",
              "issuer_entity_id": "entity_id", "description": "note",
              "operation_id": "reverses", "total_input_kg": "input_kg",
              "total_output_kg": "output_kg"}


class RowResult(OutputModel):
    row: int = Field(description="Line of the file where the row starts; the header is "
                                 "line 1")
    kind: str
    ok: bool
    field: str | None = Field(default=None, description="The column at fault")
    message: str = Field(description="What the row did (or would do), or why it is "
                                     "refused")


class ImportReport(OutputModel):
    ok: bool = Field(description="Every row is valid")
    applied: bool = Field(description="The movements were stored")
    rows: int
    valid: int
    invalid: int
    results: list[RowResult]


ImportRefused = csvimport.ImportRefused
"""Some rows are refused: the error names them, and the body carries the report."""


# --- reading the file ---------------------------------------------------------------------


def _check_header(header: list[str]) -> None:
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise InvalidInput(f"unknown column {unknown[0]!r}; the columns are: "
                           f"{', '.join(COLUMNS)}", field="header")
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise InvalidInput(f"column {twice[0]!r} appears twice", field="header")
    for name in ("kind", "date"):
        if name not in header:
            raise InvalidInput(f"the header has no {name!r} column", field="header")


def parse(text: str) -> tuple[list[str], list[tuple[int, list[str]]], str]:
    """The header, the rows with the line each starts on, and the delimiter (a comma, or
    a semicolon as spreadsheets write in countries with a decimal comma)."""
    table = csvimport.read(text, max_bytes=MAX_BYTES, max_rows=MAX_ROWS,
                           split="split it into several imports",
                           empty=f" ({', '.join(COLUMNS)})", check_header=_check_header)
    return table.header, table.rows, table.delimiter


# --- cells --------------------------------------------------------------------------------


def _values(header: list[str], record: list[str]) -> dict[str, str]:
    return csvimport.values(header, record, max_cell=MAX_CELL)


def _check_columns(kind: str, values: dict[str, str]) -> None:
    required, optional = KINDS[kind]
    for name in required:
        if name not in values:
            raise InvalidInput(f"{name} is required in a {kind} row", field=name)
    for name in COLUMNS:
        if name in values and name != "kind" and name not in required + optional:
            raise InvalidInput(f"{name} is not used in a {kind} row; leave it empty",
                               field=name)


def _day(values: dict[str, str]) -> date:
    raw = values["date"]
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        raise InvalidInput(f"date: {raw!r} is not a date written YYYY-MM-DD", field="date")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"date: {raw!r} is not a calendar date", field="date") from None


def _kg(values: dict[str, str], name: str) -> int:
    raw = values[name]
    if not re.fullmatch(r"[0-9]{1,15}", raw):
        raise InvalidInput(f"{name}: {raw!r} is not whole kilograms (digits only, no "
                           "separators or decimals)", field=name)
    return int(raw)


def _decimal(values: dict[str, str], name: str) -> Decimal:
    raw = values[name]
    text = raw.replace(",", ".") if "." not in raw else raw
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidInput(f"{name}: {raw!r} is not a number", field=name) from None
    if not value.is_finite():
        raise InvalidInput(f"{name}: {raw!r} is not a number", field=name)
    return value


def _uuid(values: dict[str, str], name: str, what: str = "an entity id") -> uuid.UUID | None:
    if name not in values:
        return None
    try:
        return uuid.UUID(values[name])
    except ValueError:
        raise InvalidInput(f"{name}: {values[name]!r} is not {what} (a UUID)",
                           field=name) from None


def _choice(values: dict[str, str], name: str, enum: type[Any]) -> Any:
    try:
        return enum(values[name].lower())
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise InvalidInput(f"{name}: {values[name]!r} is not one of {allowed}",
                           field=name) from None


# --- one row per movement -----------------------------------------------------------------


def _production(db: Session, actor: Actor, v: dict[str, str]) -> str:
    data = build(ProductionCreate, CSV_FIELDS, entity_id=_uuid(v, "entity_id"),
                 facility_id=v["facility_id"], material=_choice(v, "material", CocMaterial),
                 kilograms=_kg(v, "kilograms"), occurred_on=_day(v), note=v.get("note", ""))
    return operation_effect(inputs.record_production(db, actor, data))


def _scrap_intake(db: Session, actor: Actor, v: dict[str, str]) -> str:
    data = build(ScrapIntakeCreate, CSV_FIELDS, entity_id=_uuid(v, "entity_id"),
                 facility_id=v["facility_id"], scrap_kind=v["scrap_kind"].lower(),
                 kilograms=_kg(v, "kilograms"), occurred_on=_day(v), note=v.get("note", ""))
    return operation_effect(inputs.record_scrap_intake(db, actor, data))


def _non_coc_input(db: Session, actor: Actor, v: dict[str, str]) -> str:
    data = build(NonCocInputCreate, CSV_FIELDS, entity_id=_uuid(v, "entity_id"),
                 material=_choice(v, "material", CocMaterial), kilograms=_kg(v, "kilograms"),
                 occurred_on=_day(v), note=v.get("note", ""))
    return operation_effect(inputs.record_non_coc_input(db, actor, data))


def _transformation(db: Session, actor: Actor, v: dict[str, str]) -> str:
    step = _choice(v, "transformation", Transformation)
    source = _choice(v, "source_material", CocMaterial)
    input_kg = _kg(v, "input_kg")
    if ("output_kg" in v) == ("declared_yield" in v):
        raise InvalidInput("give either output_kg or declared_yield", field="output_kg")
    shared = {"entity_id": _uuid(v, "entity_id"), "facility_id": v["facility_id"],
              "transformation": step, "source_material": source, "occurred_on": _day(v),
              "note": v.get("note", "")}
    if "output_kg" in v:  # what happened: input_kg and output_kg are the totals
        data = build(TransformationCreate, CSV_FIELDS, total_input_kg=input_kg,
                     total_output_kg=_kg(v, "output_kg"),
                     coc_input_kg=_kg(v, "coc_input_kg") if "coc_input_kg" in v else input_kg,
                     **shared)
    elif "coc_input_kg" in v:
        raise InvalidInput("coc_input_kg goes with output_kg: a declared yield is for a "
                           "wholly CoC input", field="coc_input_kg")
    else:
        data = build(TransformationCreate, CSV_FIELDS, input_kg=input_kg,
                     declared_yield=_decimal(v, "declared_yield"), **shared)
    return operation_effect(inputs.record_transformation(db, actor, data))


def _shipment_data(v: dict[str, str]) -> DocumentCreate:
    coc_kg = _kg(v, "coc_quantity_kg")
    return build(DocumentCreate, CSV_FIELDS, issuer_entity_id=_uuid(v, "entity_id"),
                 recipient_entity_id=_uuid(v, "recipient_entity_id"),
                 material=_choice(v, "material", CocMaterial),
                 quantity_kg=_kg(v, "quantity_kg") if "quantity_kg" in v else coc_kg,
                 coc_quantity_kg=coc_kg, shipment_date=_day(v),
                 number=v["document_number"].upper() if "document_number" in v else None,
                 description=v.get("note", ""))


def _shipment(db: Session, actor: Actor, v: dict[str, str]) -> str:
    return document_effect(documents.issue_document(db, actor, _shipment_data(v)), "issued")


def _receipt(db: Session, actor: Actor, v: dict[str, str]) -> str:
    receipt = build(Receipt, CSV_FIELDS, received_on=_day(v))
    return document_effect(
        documents.receive_document(db, actor, v["document_number"], receipt), "received")


def _reversal(db: Session, actor: Actor, v: dict[str, str]) -> str:
    entry = _uuid(v, "reverses", "a journal entry id")
    assert entry is not None  # a required column
    data = build(ReversalCreate, CSV_FIELDS, reason=v["reason"])
    return operation_effect(reversals.reverse_operation(db, actor, entry, data))


_Row = Callable[[Session, Actor, dict[str, str]], str]
_ROWS: dict[str, _Row] = {
    "production": _production, "scrap_intake": _scrap_intake,
    "non_coc_input": _non_coc_input, "transformation": _transformation,
    "shipment": _shipment, "receipt": _receipt, "reversal": _reversal,
}


def _movement(db: Session, actor: Actor, header: list[str], record: list[str]) -> str:
    values = _values(header, record)
    kind = values.get("kind", "").lower()
    if kind not in _ROWS:
        raise InvalidInput(f"kind: {values.get('kind', '')!r} is not one of "
                           f"{', '.join(KINDS)}", field="kind")
    _check_columns(kind, values)
    with fields_named(CSV_FIELDS):
        return _ROWS[kind](db, actor, values)


def _run(db: Session, actor: Actor, header: list[str], line: int,
         record: list[str]) -> RowResult:
    kind = _kind(header, record)
    savepoint = db.begin_nested()
    try:
        effect = _movement(db, actor, header, record)
    except DomainError as error:
        savepoint.rollback()
        field = error.details[0].get("field") if error.details else None
        return RowResult(row=line, kind=kind, ok=False,
                         field=str(field) if field else None, message=error.message)
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    return RowResult(row=line, kind=kind, ok=True, message=effect)


def _kind(header: list[str], record: list[str]) -> str:
    at = header.index("kind")
    return record[at].strip().lower() if len(record) > at else ""


def _shipments(db: Session, actor: Actor, header: list[str],
               rows: list[tuple[int, list[str]]]) -> list[RowResult]:
    """Consecutive shipment rows issued in one call of the batch use case (up to its
    limit at a time), in a savepoint: the same documents as row by row. Should any row
    be refused, the savepoint is rolled back and the rows run one by one instead, so that
    the report names every refused row and its column as before."""
    if len(rows) < 2:
        return [_run(db, actor, header, line, record) for line, record in rows]
    results: list[RowResult] = []
    for start in range(0, len(rows), MAX_BATCH):
        part = rows[start:start + MAX_BATCH]
        savepoint = db.begin_nested()
        try:
            items = []
            for _, record in part:
                values = _values(header, record)
                _check_columns("shipment", values)
                items.append(_shipment_data(values))
            reads = batch.issue_documents(db, actor, items)
        except DomainError:
            savepoint.rollback()
            results += [_run(db, actor, header, line, record) for line, record in part]
            continue
        except BaseException:
            savepoint.rollback()
            raise
        savepoint.commit()
        results += [RowResult(row=line, kind="shipment", ok=True,
                              message=document_effect(read, "issued"))
                    for (line, _), read in zip(part, reads, strict=True)]
    return results


def _runs(db: Session, actor: Actor, header: list[str],
          rows: list[tuple[int, list[str]]]) -> list[RowResult]:
    """Every row in file order; consecutive shipments together (``_shipments``)."""
    results: list[RowResult] = []
    waiting: list[tuple[int, list[str]]] = []
    for line, record in rows:
        if _kind(header, record) == "shipment":
            waiting.append((line, record))
            continue
        results += _shipments(db, actor, header, waiting)
        waiting = []
        results.append(_run(db, actor, header, line, record))
    return results + _shipments(db, actor, header, waiting)


def import_csv(db: Session, actor: Actor | None, text: str, *, apply: bool) -> ImportReport:
    """Validate every row of a custody CSV by running it; keep the movements only when
    ``apply`` is true and every row passed (all or nothing). File-level faults (too
    large, too many rows, no header, an unknown column) raise; row faults are reported."""
    actor = require(actor, Role.MEMBER_ADMIN, Role.MEMBER_USER,
                    action="import custody movements")
    header, rows, _ = parse(text)
    outer = db.begin_nested()
    try:
        results = _runs(db, actor, header, rows)
        ok = all(r.ok for r in results)
        if apply and ok:
            outer.commit()
        else:
            outer.rollback()
    except BaseException:
        if outer.is_active:
            outer.rollback()
        raise
    valid = sum(r.ok for r in results)
    return ImportReport(ok=ok, applied=apply and ok, rows=len(results), valid=valid,
                        invalid=len(results) - valid, results=results)
