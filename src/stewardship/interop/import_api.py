"""CSV import of custody movements over HTTP: ``POST /api/v1/custody/import``.

For companies without EPCIS: the same movements as the custody API, one row each, checked
row by row and stored all or nothing. docs/epcis-profile.md lists the columns.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from stewardship.core.openapi import refused_with_report
from stewardship.core.uploads import read_text_upload
from stewardship.core.web import CurrentActor, DbSession
from stewardship.interop import csv_import
from stewardship.interop.csv_import import MAX_BYTES, ImportReport

router = APIRouter(prefix="/api/v1/custody", tags=["custody"])

REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "text/csv": {"schema": {"type": "string"},
                     "example": "kind,date,facility_id,material,kilograms\n"
                                "production,2026-03-02,NO2024AB12CDR,asi_aluminium,250000\n"},
        "multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary",
                                    "description": "The CSV file, UTF-8"}}}},
    },
}
REFUSED: dict[int | str, dict[str, Any]] = {
    422: refused_with_report("Rows are refused (nothing stored): the error names each row "
                             "and column, and `report` holds the whole row-by-row report; "
                             "or the file itself is malformed", "ImportReport"),
    413: {"description": f"The file is larger than {MAX_BYTES:,} bytes or has more than "
                         f"{csv_import.MAX_ROWS:,} rows"},
}


async def read_csv(request: Request) -> str:
    """The CSV text of a ``text/csv`` body or of the ``file`` field of a form, read at
    most one byte past the limit."""
    return await read_text_upload(
        request, max_bytes=MAX_BYTES,
        too_large=f"the file is larger than {MAX_BYTES:,} bytes; split it into several "
                  "imports")


CsvText = Annotated[str, Depends(read_csv)]


@router.post("/import", response_model=ImportReport, responses=REFUSED,
             openapi_extra={"requestBody": REQUEST_BODY})
def import_movements(
    db: DbSession, actor: CurrentActor, text: CsvText,
    apply: Annotated[bool, Query(description="Store the movements when every row is "
                                             "valid; false (the default) only checks")]
    = False,
) -> ImportReport:
    """Import custody movements from a CSV file (member admins and users, for their own
    organisation): production, scrap intake, non-CoC inputs, transformations, shipments
    (CoC documents issued) and receipts, one row each, run through the same rules as the
    rest of the custody API.

    The answer reports every row: what it did (or would do), or the column at fault and
    why. With `apply=false` nothing is stored; with `apply=true` the rows are stored only
    when every one is valid. When a row is refused the answer is 422, the error names each
    refused row, and `report` holds the whole report. At most 2,000,000 bytes and 5,000
    rows per file (413 beyond)."""
    report = csv_import.import_csv(db, actor, text, apply=apply)
    if not report.ok:
        raise csv_import.ImportRefused(report)
    return report
