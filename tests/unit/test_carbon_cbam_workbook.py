"""The importer's workbook and CSV: figures are numbers, a supplier's text is never a
formula."""

from __future__ import annotations

import io
from decimal import Decimal

from openpyxl import load_workbook

from stewardship.carbon.cbam_workbook import imports_csv, imports_workbook
from stewardship.carbon.schemas import CbamImportLine, CbamImports, CbamPrecursorRead
from stewardship.carbon.service.cbam import reference


def _data() -> CbamImports:
    doc = CbamPrecursorRead(
        document="COC-2026-000001", cn_code="7601", description="=HYPERLINK(\"x\")",
        supplier="=1+1 (Acme)", origin_country="IN", quantity_kg=2_500,
        see_direct_t_per_t=Decimal("2.000"), embedded_t=Decimal("5.000"), source="default",
        default_used=True, note="")
    line = CbamImportLine(cn_code="7601", name="Unwrought aluminium", origin_country="IN",
                          documents=1, quantity_kg=2_500, embedded_direct_t=Decimal("5.000"),
                          see_direct_t_per_t=Decimal("2.000"), default_documents=1,
                          scope12_documents=0)
    return CbamImports(organization="Importer", country="DE", year=2026, cn_code=None,
                       lines=[line], total_quantity_kg=2_500,
                       total_embedded_direct_t=Decimal("5.000"), documents=[doc],
                       reference=reference())


def test_text_stays_text_and_figures_are_numbers() -> None:
    book = load_workbook(io.BytesIO(imports_workbook(_data())))
    row = next(book["Documents"].iter_rows(min_row=4, max_row=4))
    assert row[3].value == "=HYPERLINK(\"x\")" and row[3].data_type == "s"
    assert row[4].data_type == "s"
    assert row[6].data_type == "n" and Decimal(str(row[6].value)) == Decimal("2.5")
    decl = next(book["Declaration"].iter_rows(min_row=4, max_row=4, values_only=True))
    assert decl[:3] == ("7601", "Unwrought aluminium", "IN")
    assert Decimal(str(decl[5])) == Decimal(5)


def test_the_csv_has_one_line_per_cn_code_and_origin() -> None:
    lines = imports_csv(_data()).splitlines()
    assert lines[0].startswith("year,cn_code,good,origin_country")
    assert lines[1] == "2026,7601,Unwrought aluminium,IN,1,2500,5.000,2.000,1,0"
