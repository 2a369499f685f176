"""REST API of the carbon context: /api/v1/carbon.

Emission inventories per entity or installation (facility) and period, with their
intensities and the smelter threshold check; a CSV import of inventories; and the public
board of smelters' intensities against the threshold; CBAM: an installation's goods with
their specific embedded emissions (JSON, .xlsx) and an EU importer's declaration lines.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status

from stewardship.carbon import csv_import as imports
from stewardship.carbon.cbam_workbook import XLSX, imports_csv, installation_workbook
from stewardship.carbon.csv_import import MAX_BYTES, InventoryImportReport
from stewardship.carbon.schemas import (
    CbamImports,
    CbamReport,
    InventoryCorrection,
    InventoryCreate,
    InventoryPage,
    InventoryRead,
    SmelterBoard,
)
from stewardship.carbon.service import cbam, inventories
from stewardship.core.openapi import refused_with_report
from stewardship.core.uploads import csv_request_body, read_text_upload
from stewardship.core.web import CurrentActor, DbSession, Pagination

router = APIRouter(prefix="/api/v1/carbon", tags=["carbon"])


@router.get("/inventories", response_model=InventoryPage)
def list_inventories(db: DbSession, actor: CurrentActor, paging: Pagination,
                     entity_id: uuid.UUID | None = None,
                     organization: Annotated[str | None, Query(
                         max_length=120, description="Secretariat: one organisation's "
                                                     "(its slug)")] = None) -> object:
    """Emission inventories, latest period first, with their intensities and the smelter
    threshold check: a member's own (its admins and users); every member's for the
    secretariat."""
    page = inventories.list_inventories(db, actor, paging, entity_id=entity_id,
                                        organization=organization)
    return InventoryPage(items=page.items, total=page.total, page=page.page,
                         per_page=page.per_page, pages=page.pages)


@router.post("/inventories", response_model=InventoryRead,
             status_code=status.HTTP_201_CREATED)
def record_inventory(db: DbSession, actor: CurrentActor, body: InventoryCreate
                     ) -> InventoryRead:
    """Record an inventory of one of your organisation's entities, or of one of its
    facilities (an installation), for a period that is over (member admins and users).

    Emissions in t CO2e, zero or more: Scope 1 (PFCs from anode effects apart, with their
    method, and the anodes consumed: smelting only), Scope 2 as the electricity consumed
    and its emission factor with its source, the upstream Scope 3 categories 1, 3 and 4;
    production per process in whole kg (at least one); the smelter's commissioning year
    with smelting. Periods of one entity (or facility) may not overlap. Every refusal names
    its field (422) and stores nothing."""
    return inventories.record_inventory(db, actor, body)


@router.get("/inventories/{inventory_id}", response_model=InventoryRead)
def get_inventory(db: DbSession, actor: CurrentActor, inventory_id: uuid.UUID
                  ) -> InventoryRead:
    """One inventory with its intensities per process and the threshold check: its
    organisation's users and the secretariat (404 for anyone else)."""
    return inventories.get_inventory(db, actor, inventory_id)


@router.put("/inventories/{inventory_id}", response_model=InventoryRead)
def correct_inventory(db: DbSession, actor: CurrentActor, inventory_id: uuid.UUID,
                      body: InventoryCorrection) -> InventoryRead:
    """Correct an inventory (member admins and users of its organisation): the figures as
    they should read, with the reason. The inventory keeps its id and counts up its
    revision; the event log keeps the old and new figures and the reason."""
    return inventories.correct_inventory(db, actor, inventory_id, body)


async def read_csv(request: Request) -> str:
    return await read_text_upload(
        request, max_bytes=MAX_BYTES,
        too_large=f"the file is larger than {MAX_BYTES:,} bytes; split it into several "
                  "imports")


CsvText = Annotated[str, Depends(read_csv)]
REFUSED: dict[int | str, dict[str, Any]] = {
    422: refused_with_report("Rows are refused (nothing stored): the error names each row "
                             "and column, and `report` holds the whole row-by-row report; "
                             "or the file itself is malformed", "InventoryImportReport"),
    413: {"description": f"The file is larger than {MAX_BYTES:,} bytes or has more than "
                         f"{imports.MAX_ROWS:,} rows"},
}


@router.post("/inventories/import", response_model=InventoryImportReport, responses=REFUSED,
             openapi_extra={"requestBody": csv_request_body(imports.EXAMPLE)})
def import_inventories(
    db: DbSession, actor: CurrentActor, text: CsvText,
    apply: Annotated[bool, Query(description="Store the inventories when every row is "
                                             "valid; false (the default) only checks")]
    = False,
) -> InventoryImportReport:
    """Import inventories from a CSV file, one row each (member admins and users, for their
    own organisation), through the same rules as `POST /inventories`.

    Columns: the fields of an inventory by name, and the production per process as
    `output_kg_<process>` (with `declared_t_<process>` for a declared allocation). The
    answer reports every row. With `apply=false` nothing is stored; with `apply=true` the
    rows are stored only when every one is valid. When a row is refused the answer is 422,
    the error names each refused row and column, and `report` holds the whole report."""
    report = imports.import_csv(db, actor, text, apply=apply)
    if not report.ok:
        raise imports.ImportRefused(report)
    return report


@router.get("/smelters", response_model=SmelterBoard)
def smelter_board(db: DbSession) -> SmelterBoard:
    """Public: each smelter's latest GHG intensity of smelting (t CO2e per t Al) against the
    threshold of the latest Performance standard's criterion on smelter GHG intensity, on
    the basis that version states (Scope 1+2, or cradle to gate with upstream Scope 3), with
    its status (at or below the limit, on its path to it, off its path, above). Members in
    good standing only; absolute emissions are not shown."""
    return inventories.smelter_board(db)


# --- CBAM -------------------------------------------------------------------------------

Year = Annotated[int, Query(ge=2023, le=2100, description="The calendar year of receipt "
                                                          "(CBAM began on 1 October 2023)")]
CnCode = Annotated[str | None, Query(max_length=12, description="Only this CN code of "
                                                                "CBAM's aluminium goods")]
Importer = Annotated[str | None, Query(max_length=120, description="Secretariat: the "
                                                                   "importer (its slug)")]


@router.get("/inventories/{inventory_id}/cbam", response_model=CbamReport)
def cbam_installation(db: DbSession, actor: CurrentActor, inventory_id: uuid.UUID
                      ) -> CbamReport:
    """The CBAM data of the installation an inventory covers, for its period: its goods
    by CN code with their activity level and specific direct embedded emissions (attributed
    direct emissions plus the precursors' embedded emissions, per t produced), indirect
    emissions beside, and each precursor with its origin and whether a default value stood
    in. Its organisation's users and the secretariat (404 for anyone else); 422 naming the
    period where it records no production of aluminium goods."""
    return cbam.installation_report(db, actor, inventory_id)


@router.get("/inventories/{inventory_id}/cbam.xlsx",
            responses={200: {"content": {XLSX: {}},
                             "description": "The communication workbook"}})
def cbam_installation_workbook(db: DbSession, actor: CurrentActor, inventory_id: uuid.UUID
                               ) -> Response:
    """The same as a workbook in the structure of the Commission's communication template
    for installations."""
    report = cbam.installation_report(db, actor, inventory_id)
    return Response(installation_workbook(report), media_type=XLSX, headers={
        "Content-Disposition": f'attachment; filename="cbam-{report.period_start.year}-'
                               f'{inventory_id}.xlsx"'})


@router.get("/cbam/imports", response_model=CbamImports)
def cbam_imports(db: DbSession, actor: CurrentActor, year: Year, cn_code: CnCode = None,
                 organization: Importer = None) -> CbamImports:
    """An EU importer's embedded emissions of the aluminium goods it received in a year
    from installations outside the EU, by CN code and origin country, for its annual
    declaration (its own users; 403 for a member outside the EU; the secretariat names the
    importer). 422 naming the field for an unknown CN code or a year not begun."""
    return cbam.importer_declaration(db, actor, year, cn_code=cn_code,
                                     organization=organization)


@router.get("/cbam/imports.csv", responses={200: {"content": {"text/csv": {}}}})
def cbam_imports_csv(db: DbSession, actor: CurrentActor, year: Year, cn_code: CnCode = None,
                     organization: Importer = None) -> Response:
    """The same lines as CSV."""
    data = cbam.importer_declaration(db, actor, year, cn_code=cn_code,
                                     organization=organization)
    return Response(imports_csv(data), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="cbam-imports-{year}.csv"'})
