"""Pages of the carbon context.

Public: the smelter board (/carbon), each smelter's Scope 1+2 intensity against the
threshold. Members (admins and users) and the secretariat: the inventories page with
intensities and the threshold check; members: the form that records an inventory with its
processes, its correction and the CSV import with its row-by-row report; CBAM: an
installation's goods and its communication workbook, an EU importer's declaration lines.

Views read the form, build the API's input models, call the services and render; a
refused post rolls back and shows the form again with what was typed and what to fix.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from stewardship.carbon import cbam_workbook as workbook
from stewardship.carbon import csv_import as imports
from stewardship.carbon.cn.rules import PROCESS_CN
from stewardship.carbon.rules import Allocation, PfcMethod, Process, Verification
from stewardship.carbon.schemas import InventoryCorrection, InventoryCreate, InventoryRead
from stewardship.carbon.service import cbam, entity_page, inventories
from stewardship.core import clock
from stewardship.core.auth import Role
from stewardship.core.errors import DomainError, Forbidden, InvalidInput, Unauthenticated
from stewardship.core.labels import label
from stewardship.core.templating import sentence
from stewardship.core.web import CsrfChecked, DbSession, OptionalActor, Pagination, redirect

router = APIRouter(include_in_schema=False)

PROCESSES = [(p.value, label(p.value)) for p in Process]
PFC_METHODS = [(m.value, label(m.value)) for m in PfcMethod]
ALLOCATIONS = [(a.value, label(a.value)) for a in Allocation]
VERIFICATIONS = [(v.value, label(v.value)) for v in Verification]
FIGURES = ("entity_id", "facility_id", *imports.FIELDS[2:], "reason")
"""Form fields besides the processes' (``output_kg_<process>``, ``declared_t_<process>``)."""


def _render(request: Request, name: str, context: dict[str, Any],
            status_code: int = 200) -> Response:
    response: Response = request.app.state.templates.render(request, name, context,
                                                            status_code)
    return response


async def _form_values(request: Request) -> dict[str, str]:
    form = await request.form(max_files=0, max_fields=len(FIGURES) + 2 * len(Process) + 4)
    return {k: v.strip() for k, v in form.items()
            if isinstance(v, str) and k != "csrf_token"}


FormValues = Annotated[dict[str, str], Depends(_form_values)]


def _reraise_access(exc: DomainError) -> None:
    if isinstance(exc, Unauthenticated | Forbidden):
        raise exc


def _field(name: str, values: dict[str, str]) -> str:
    """A service's field as the form's (``processes.1.declared_t`` -> the declared_t field
    of the second process given)."""
    parts = name.split(".")
    if parts[0] == "processes" and len(parts) == 3 and parts[1].isdigit():
        given = [p.value for p in Process if values.get(f"output_kg_{p.value}")]
        index = int(parts[1])
        if index < len(given):
            return f"{parts[2]}_{given[index]}"
    if parts[0] == "processes":
        return "output_kg"
    if name in FIGURES or name.startswith(("output_kg", "declared_t_")):
        return name
    return "form"


def _errors(exc: DomainError, values: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in exc.details:
        name = _field(str(item.get("field") or ""), values)
        out.setdefault(name, sentence(str(item.get("message", ""))))
    if not out:
        out["form"] = sentence(exc.message)
    return out


# --- the public board -------------------------------------------------------------------


@router.get("/carbon")
def smelter_board(request: Request, db: DbSession) -> Response:
    return _render(request, "carbon/board.html", {"board": inventories.smelter_board(db)})


# --- inventories ------------------------------------------------------------------------


@router.get("/carbon/inventories")
def inventories_page(request: Request, db: DbSession, actor: OptionalActor,
                     paging: Pagination,
                     organization: Annotated[str, Query(max_length=120)] = "",
                     entity: uuid.UUID | None = None) -> Response:
    """The inventories (a member's own; the secretariat's of every member, or of one);
    for one entity, with the footprints of the documents it issued most recently."""
    actor = inventories.reader(actor)
    about = entity_page.entity_carbon(db, actor, entity) if entity is not None else None
    page = inventories.list_inventories(db, actor, paging, entity_id=entity,
                                        organization=organization or None)
    return _render(request, "carbon/inventories.html", {
        "page": page, "may_record": actor.role in (Role.MEMBER_ADMIN, Role.MEMBER_USER),
        "organization": organization, "about": about})


def _form_page(request: Request, db: DbSession, actor: Any, values: dict[str, str],
               errors: dict[str, str], *, inventory: InventoryRead | None = None,
               status_code: int = 200) -> Response:
    choices = inventories.form_choices(db, actor)
    return _render(request, "carbon/form.html", {
        "values": values, "errors": errors, "inventory": inventory,
        "entities": [(c.value, c.text) for c in choices.entities],
        "facilities": [(c.value, c.text) for c in choices.facilities],
        "processes": PROCESSES, "pfc_methods": PFC_METHODS, "allocations": ALLOCATIONS,
        "verifications": VERIFICATIONS,
        "action": f"/carbon/inventories/{inventory.id}/correct" if inventory
        else "/carbon/inventories/new"}, status_code)


@router.get("/carbon/inventories/new")
def new_inventory(request: Request, db: DbSession, actor: OptionalActor) -> Response:
    return _form_page(request, db, actor, {"allocation": "mass",
                                           "verification": "self_declared"}, {})


@router.post("/carbon/inventories/new", dependencies=[CsrfChecked])
def record_inventory(request: Request, db: DbSession, actor: OptionalActor,
                     values: FormValues) -> Response:
    actor = inventories.recorder(actor, "record an emission inventory")
    try:
        data = imports.inventory_input(values, InventoryCreate, named=imports.column_words)
        done = inventories.record_inventory(db, actor, data)
    except DomainError as exc:
        _reraise_access(exc)
        db.rollback()
        return _form_page(request, db, actor, values, _errors(exc, values),
                          status_code=exc.status_code)
    where = done.facility or done.entity
    return redirect(request, f"/carbon/inventories/{done.id}",
                    f"The inventory of {where} for {done.period_start.isoformat()} to "
                    f"{done.period_end.isoformat()} is recorded.")


# --- the CSV import ---------------------------------------------------------------------


def _import_page(request: Request, *, errors: dict[str, str] | None = None,
                 report: imports.InventoryImportReport | None = None,
                 status_code: int = 200) -> Response:
    return _render(request, "carbon/import.html", {
        "columns": imports.COLUMNS, "required": imports.REQUIRED, "errors": errors or {},
        "report": report}, status_code)


@router.get("/carbon/inventories/import")
def import_form(request: Request, actor: OptionalActor) -> Response:
    inventories.recorder(actor, "import emission inventories")
    return _import_page(request)


@router.get("/carbon/inventories/import/template.csv")
def import_template(actor: OptionalActor) -> Response:
    inventories.recorder(actor, "import emission inventories")
    return Response(imports.csv_template(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition":
                             'attachment; filename="emission-inventories.csv"'})


@router.post("/carbon/inventories/import", dependencies=[CsrfChecked])
async def import_upload(request: Request, db: DbSession, actor: OptionalActor) -> Response:
    actor = inventories.recorder(actor, "import emission inventories")
    form = await request.form(max_files=1, max_fields=4)
    upload = form.get("file")
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InvalidInput("choose a CSV file to upload", field="file")
        data = await upload.read(imports.MAX_BYTES + 1)
        if len(data) > imports.MAX_BYTES:
            raise InvalidInput(f"the file is larger than {imports.MAX_BYTES:,} bytes; split "
                               "it".replace(",", " "), field="file")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput("the file is not UTF-8 text: save it as 'CSV UTF-8'",
                               field="file") from None
        report = imports.import_csv(db, actor, text, apply=True)
    except DomainError as exc:
        _reraise_access(exc)
        db.rollback()
        return _import_page(request, errors={"file": sentence(exc.message)},
                            status_code=exc.status_code)
    if not report.ok:
        db.rollback()
        bad = report.invalid
        return _import_page(request, errors={"file": sentence(
            f"{bad} of {report.rows} rows are refused, so nothing was imported; the report "
            "below names each row and column")}, report=report, status_code=422)
    return redirect(request, "/carbon/inventories",
                    f"{report.valid} inventor{'y' if report.valid == 1 else 'ies'} imported.")


# --- one inventory ----------------------------------------------------------------------


@router.get("/carbon/inventories/{inventory_id}")
def inventory_page(request: Request, db: DbSession, actor: OptionalActor,
                   inventory_id: uuid.UUID) -> Response:
    found = inventories.get_inventory(db, actor, inventory_id)
    assert actor is not None
    may_correct = actor.role in (Role.MEMBER_ADMIN, Role.MEMBER_USER)
    return _render(request, "carbon/inventory.html", {
        "inv": found, "may_correct": may_correct,
        "cbam": any(p.process in PROCESS_CN for p in found.processes)})


def _values_of(inv: InventoryRead) -> dict[str, str]:
    def text(value: Any) -> str:
        if value is None:
            return ""
        if hasattr(value, "normalize"):
            return f"{value.normalize():f}"
        return str(value)

    out = {name: text(getattr(inv, name)) for name in imports.FIELDS[2:]}
    for p in inv.processes:
        out[f"output_kg_{p.process}"] = str(p.output_kg)
        if p.declared_t is not None:
            out[f"declared_t_{p.process}"] = text(p.declared_t)
    return out


@router.get("/carbon/inventories/{inventory_id}/correct")
def correct_form(request: Request, db: DbSession, actor: OptionalActor,
                 inventory_id: uuid.UUID) -> Response:
    inv = inventories.editable(db, actor, inventory_id)
    return _form_page(request, db, actor, _values_of(inv), {}, inventory=inv)


@router.post("/carbon/inventories/{inventory_id}/correct", dependencies=[CsrfChecked])
def correct_inventory(request: Request, db: DbSession, actor: OptionalActor,
                      inventory_id: uuid.UUID, values: FormValues) -> Response:
    inv = inventories.editable(db, actor, inventory_id)
    try:
        data = imports.inventory_input(values, InventoryCorrection,
                                       named=imports.column_words)
        done = inventories.correct_inventory(db, actor, inventory_id, data)
    except DomainError as exc:
        _reraise_access(exc)
        db.rollback()
        return _form_page(request, db, actor, values, _errors(exc, values), inventory=inv,
                          status_code=exc.status_code)
    return redirect(request, f"/carbon/inventories/{done.id}",
                    f"The inventory is corrected (revision {done.revision}).")


# --- CBAM -------------------------------------------------------------------------------


@router.get("/carbon/inventories/{inventory_id}/cbam")
def cbam_page(request: Request, db: DbSession, actor: OptionalActor,
              inventory_id: uuid.UUID) -> Response:
    inv = inventories.get_inventory(db, actor, inventory_id)
    try:
        report = cbam.installation_report(db, actor, inventory_id)
    except InvalidInput as exc:
        return _render(request, "carbon/cbam.html", {"inv": inv, "report": None,
                                                     "error": sentence(exc.message)}, 422)
    return _render(request, "carbon/cbam.html", {"inv": inv, "report": report,
                                                 "error": None})


@router.get("/carbon/inventories/{inventory_id}/cbam.xlsx")
def cbam_workbook(db: DbSession, actor: OptionalActor, inventory_id: uuid.UUID
                  ) -> Response:
    report = cbam.installation_report(db, actor, inventory_id)
    return Response(workbook.installation_workbook(report), media_type=workbook.XLSX,
                    headers={"Content-Disposition": 'attachment; filename="cbam-'
                             f'{report.period_start.year}-{inventory_id}.xlsx"'})


def _year(value: str) -> int:
    if not value.strip().isdigit() or not 2023 <= int(value) <= 2100:
        raise InvalidInput("give the year as four digits, from 2023", field="year")
    return int(value)


@router.get("/carbon/cbam/imports")
def cbam_imports_page(request: Request, db: DbSession, actor: OptionalActor,
                      year: Annotated[str, Query(max_length=8)] = "",
                      cn_code: Annotated[str, Query(max_length=12)] = "",
                      organization: Annotated[str, Query(max_length=120)] = "") -> Response:
    actor = inventories.reader(actor)
    values = {"year": year or str(clock.today().year - 1), "cn_code": cn_code,
              "organization": organization}
    try:
        data = cbam.importer_declaration(db, actor, _year(values["year"]),
                                         cn_code=cn_code or None,
                                         organization=organization or None)
    except DomainError as exc:
        _reraise_access(exc)
        return _render(request, "carbon/cbam_imports.html", {
            "data": None, "values": values,
            "errors": {k: sentence(v) for k, v in exc.field_errors().items()}
            or {"form": sentence(exc.message)},
            "secretariat": actor.is_secretariat()}, exc.status_code)
    return _render(request, "carbon/cbam_imports.html", {
        "data": data, "values": values, "errors": {}, "secretariat": actor.is_secretariat(),
        "query": urlencode({k: v for k, v in values.items() if v})})


def _imports(db: DbSession, actor: OptionalActor, year: str, cn_code: str,
             organization: str) -> Any:
    return cbam.importer_declaration(db, actor, _year(year), cn_code=cn_code or None,
                                     organization=organization or None)


@router.get("/carbon/cbam/imports.csv")
def cbam_imports_csv(db: DbSession, actor: OptionalActor,
                     year: Annotated[str, Query(max_length=8)],
                     cn_code: Annotated[str, Query(max_length=12)] = "",
                     organization: Annotated[str, Query(max_length=120)] = "") -> Response:
    data = _imports(db, actor, year, cn_code, organization)
    return Response(workbook.imports_csv(data), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition":
                             f'attachment; filename="cbam-imports-{data.year}.csv"'})


@router.get("/carbon/cbam/imports.xlsx")
def cbam_imports_xlsx(db: DbSession, actor: OptionalActor,
                      year: Annotated[str, Query(max_length=8)],
                      cn_code: Annotated[str, Query(max_length=12)] = "",
                      organization: Annotated[str, Query(max_length=120)] = "") -> Response:
    data = _imports(db, actor, year, cn_code, organization)
    return Response(workbook.imports_workbook(data), media_type=workbook.XLSX,
                    headers={"Content-Disposition":
                             f'attachment; filename="cbam-imports-{data.year}.xlsx"'})
