"""CSV import of emission inventories: one row per inventory, checked row by row through
the same use case as the API and the form, stored all or nothing.

As the custody import: every row runs in a savepoint of its own, in file order (a later
row overlapping an earlier one is refused), inside one outer savepoint that is kept only
when ``apply`` is true and every row passed. A row's production is given per process in the
columns ``output_kg_<process>`` (and, for a declared allocation, ``declared_t_<process>``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import Field, ValidationError
from sqlalchemy.orm import Session

from stewardship.carbon.rules import Process
from stewardship.carbon.schemas import InventoryCreate, InventoryFigures
from stewardship.carbon.service import inventories
from stewardship.core import csvimport
from stewardship.core.auth import Actor
from stewardship.core.errors import DomainError, InvalidInput
from stewardship.core.schemas import OutputModel

M = TypeVar("M", bound=InventoryFigures)

MAX_BYTES = 2_000_000
MAX_ROWS = 2_000
MAX_CELL = 2_000

FIELDS = ("entity_id", "facility_id", "period_start", "period_end", "scope1_t", "pfc_t",
          "pfc_method", "anodes_consumed_t", "electricity_mwh",
          "electricity_factor_t_per_mwh", "electricity_factor_source", "scope3_cat1_t",
          "scope3_cat3_t", "scope3_cat4_t", "allocation", "method", "verification",
          "commissioned_year")
PROCESS_COLUMNS = tuple(f"{kind}_{p.value}" for p in Process
                        for kind in ("output_kg", "declared_t"))
COLUMNS = FIELDS + PROCESS_COLUMNS
REQUIRED = ("period_start", "period_end", "scope1_t", "method")
EXAMPLE = ("entity_id,facility_id,period_start,period_end,scope1_t,pfc_t,pfc_method,"
           "electricity_mwh,electricity_factor_t_per_mwh,electricity_factor_source,"
           "method,commissioned_year,output_kg_smelting\n"
           ",NO2024AB12CDR,2025-01-01,2025-12-31,640000,42000,slope,6300000,0.011,"
           "supplier contract 2025,GHG Protocol,1968,420000000\n")


class InventoryImportRow(OutputModel):
    row: int = Field(description="Line of the file where the row starts; the header is "
                                 "line 1")
    ok: bool
    field: str | None = Field(default=None, description="The column at fault")
    message: str = Field(description="What the row records (or would), or why it is "
                                     "refused")


class InventoryImportReport(OutputModel):
    ok: bool = Field(description="Every row is valid")
    applied: bool = Field(description="The inventories were stored")
    rows: int
    valid: int
    invalid: int
    results: list[InventoryImportRow]


ImportRefused = csvimport.ImportRefused
"""Some rows are refused: the error names them, and the body carries the report."""


def _check_header(header: list[str]) -> None:
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise InvalidInput(f"unknown column {unknown[0]!r} (quantities are in t CO2e, MWh "
                           "and whole kg, named by their columns); the columns are: "
                           f"{', '.join(COLUMNS)}", field="header")
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise InvalidInput(f"column {twice[0]!r} appears twice", field="header")
    for name in REQUIRED:
        if name not in header:
            raise InvalidInput(f"the header has no {name!r} column", field="header")
    if not any(name.startswith("output_kg_") for name in header):
        raise InvalidInput("the header has no output_kg_<process> column: an inventory "
                           "needs its production", field="header")


def parse(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the rows with the line each starts on (comma- or
    semicolon-separated)."""
    table = csvimport.read(text, max_bytes=MAX_BYTES, max_rows=MAX_ROWS,
                           check_header=_check_header)
    return table.header, table.rows


def _values(header: list[str], record: list[str]) -> dict[str, str]:
    return csvimport.values(header, record, max_cell=MAX_CELL)


def _number(raw: str) -> str:
    """A decimal comma read as a point (a spreadsheet's export in many countries)."""
    return raw.replace(",", ".") if "." not in raw else raw


WORDS = {"entity_id": "the entity", "facility_id": "the facility",
         "period_start": "the period's first day", "period_end": "the period's last day",
         "scope1_t": "Scope 1", "pfc_t": "the PFC emissions", "pfc_method": "the PFC method",
         "anodes_consumed_t": "the anodes consumed", "electricity_mwh": "the electricity",
         "electricity_factor_t_per_mwh": "the electricity's emission factor",
         "electricity_factor_source": "the factor's source",
         "scope3_cat1_t": "Scope 3 category 1", "scope3_cat3_t": "Scope 3 category 3",
         "scope3_cat4_t": "Scope 3 category 4", "allocation": "the allocation",
         "method": "the method", "verification": "the verification",
         "commissioned_year": "the commissioning year", "reason": "the reason"}


def column_words(column: str) -> str:
    """How a form's message names a column (``output_kg_smelting``: the output of
    smelting)."""
    if column in WORDS:
        return WORDS[column]
    for kind, words in (("output_kg_", "the output of "), ("declared_t_", "the declared "
                                                                          "emissions of ")):
        if column.startswith(kind):
            return words + column.removeprefix(kind)
    return column.replace("_", " ")


def _message(err: dict[str, Any], column: str, named: Callable[[str], str]) -> str:
    words = named(column)
    kind = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return f"{words} is required"
    if kind == "greater_than_equal" and str(ctx.get("ge")) == "0":
        return f"{words} may not be negative"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal"):
        bound = ctx.get("ge", ctx.get("gt", ctx.get("le")))
        how = {"greater_than_equal": "at least", "greater_than": "more than",
               "less_than_equal": "at most"}[kind]
        return f"{words} must be {how} {bound}"
    if kind in ("decimal_parsing", "decimal_type", "int_parsing", "int_from_float"):
        return f"{words}: enter a number" + (" (whole)" if kind.startswith("int") else "")
    if kind == "decimal_max_places":
        return f"{words}: at most {ctx.get('decimal_places')} decimal places"
    if kind == "decimal_max_digits":
        return f"{words}: the number is too large"
    if kind in ("date_parsing", "date_from_datetime_parsing", "date_type"):
        return f"{words}: enter a date as YYYY-MM-DD"
    if kind == "enum":
        return f"{words}: {err.get('input')!r} is not one of {ctx.get('expected', '')}"
    text = str(err.get("msg", "is not valid")).removeprefix("Value error, ")
    return f"{words}: {text[:1].lower()}{text[1:]}"


def inventory_input(values: dict[str, str], model: type[M] = InventoryCreate,  # type: ignore[assignment]
                    named: Callable[[str], str] = lambda column: column) -> M:
    """The input model from a row's (or a form's) cells: an inventory's fields by name, the
    production per process as ``output_kg_<process>`` and ``declared_t_<process>``. Every
    problem is named by its column (``named``: how messages name a column)."""
    values = {k: v.strip() for k, v in values.items() if v and v.strip()}
    fields = set(model.model_fields) - {"processes"}
    body: dict[str, Any] = {k: v for k, v in values.items() if k in fields}
    for name in body:
        if name.endswith(("_t", "_mwh", "_per_mwh")):
            body[name] = _number(body[name])
    details: list[dict[str, str]] = []
    processes: list[dict[str, Any]] = []
    columns: list[str] = []
    for p in Process:
        out, declared = values.get(f"output_kg_{p.value}"), values.get(f"declared_t_{p.value}")
        if out is None and declared is None:
            continue
        column = f"output_kg_{p.value}"
        if out is None:
            details.append({"field": column, "message": f"{named(column)} is required with "
                                                        f"{named('declared_t_' + p.value)}"})
            continue
        if not re.fullmatch(r"[0-9]{1,15}", out):
            details.append({"field": column, "message": f"{named(column)}: {out!r} is not "
                            "whole kilograms (digits only, no separators or decimals)"})
            continue
        processes.append({"process": p.value, "output_kg": int(out),
                          **({"declared_t": _number(declared)} if declared else {})})
        columns.append(p.value)
    body["processes"] = processes
    try:
        built = model.model_validate(body)
    except ValidationError as exc:
        for err in exc.errors():
            loc = [str(part) for part in err["loc"]]
            if loc[:1] == ["processes"] and len(loc) >= 3 and loc[1].isdigit():
                column = f"{loc[2]}_{columns[int(loc[1])]}"
            elif loc[:1] == ["processes"]:
                if err["type"] == "too_short" and not details:
                    details.append({"field": "output_kg", "message": "give the production: "
                                    "the output in kg of at least one process"})
                elif err["type"] != "too_short":
                    details.append({"field": "output_kg", "message": str(
                        err["msg"]).removeprefix("Value error, ")})
                continue
            else:
                column = loc[0] if loc else "form"
            details.append({"field": column, "message": _message(dict(err), column, named)})
        built = None
    if details or built is None:
        raise InvalidInput(details[0]["message"] if details else "the row is not valid",
                           details=details)
    return built


def _column(field: str, data: InventoryCreate | None) -> str:
    """A service's field as the file's column (``processes.0.declared_t`` ->
    ``declared_t_smelting``)."""
    parts = field.split(".")
    if parts[0] == "processes" and len(parts) == 3 and parts[1].isdigit() and data:
        return f"{parts[2]}_{data.processes[int(parts[1])].process.value}"
    return field


def _run(db: Session, actor: Actor, header: list[str], line: int,
         record: list[str]) -> InventoryImportRow:
    savepoint = db.begin_nested()
    data: InventoryCreate | None = None
    try:
        data = inventory_input(_values(header, record))
        done = inventories.record_inventory(db, actor, data)
    except DomainError as error:
        savepoint.rollback()
        field = error.details[0].get("field") if error.details else None
        return InventoryImportRow(row=line, ok=False,
                                  field=_column(str(field), data) if field else None,
                                  message=error.message)
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    where = f"{done.facility} ({done.facility_id})" if done.facility else done.entity
    return InventoryImportRow(row=line, ok=True, message=(
        f"{where}, {done.period_start.isoformat()} to {done.period_end.isoformat()}: "
        f"{done.scope12_t.normalize():f} t CO2e Scope 1+2 over "
        f"{done.output_kg // 1000:,} t of output"))


def import_csv(db: Session, actor: Actor | None, text: str, *, apply: bool
               ) -> InventoryImportReport:
    """Check every row of an inventories CSV by recording it; keep them only when
    ``apply`` is true and every row passed. File-level faults raise; row faults are
    reported."""
    actor = inventories.recorder(actor, "import emission inventories")
    header, rows = parse(text)
    outer = db.begin_nested()
    try:
        results = [_run(db, actor, header, line, record) for line, record in rows]
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
    return InventoryImportReport(ok=ok, applied=apply and ok, rows=len(results), valid=valid,
                        invalid=len(results) - valid, results=results)


def csv_template() -> str:
    return EXAMPLE
