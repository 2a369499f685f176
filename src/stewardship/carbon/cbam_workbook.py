"""The CBAM communication workbook (.xlsx) of an installation, and the importer's.

The installation's follows the structure of the Commission's communication template for
installations: installation data (A_InstData), emissions and energy of the installation
(C_Emissions&Energy), emissions and energy by process (D_Processes), purchased precursors
(E_PurchPrec) and the summary of goods with their specific embedded emissions
(Summary_Products); a Notes sheet says how each figure was taken. Figures are numbers
(tonnes, t CO2e per t, MWh), never text, so that a spreadsheet can add them up.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from stewardship.carbon.schemas import CbamImports, CbamPrecursorRead, CbamReport
from stewardship.core.csvexport import csv_text

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BOLD = Font(bold=True)


def _t(kg: int) -> Decimal:
    return Decimal(kg) / Decimal(1000)


def _sheet(book: Workbook, title: str, heading: str, header: Sequence[str],
           rows: Iterable[Sequence[Any]]) -> Worksheet:
    ws = book.create_sheet(title)
    ws.append([heading])
    ws["A1"].font = Font(bold=True, size=13)
    ws.append([])
    ws.append(list(header))
    for cell in ws[3]:
        cell.font = BOLD
    for row in rows:
        ws.append(list(row))
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"
                """Text, never a formula, whatever a supplier typed."""
    for i, name in enumerate(header, start=1):
        ws.column_dimensions[ws.cell(3, i).column_letter].width = max(14, len(name) + 2)
    return ws


def _precursor_rows(items: Iterable[tuple[str, CbamPrecursorRead]]) -> list[list[Any]]:
    return [[good, p.document, p.cn_code, p.description, p.supplier, p.origin_country,
             _t(p.quantity_kg), p.see_direct_t_per_t, p.embedded_t,
             "yes" if p.default_used else "no", p.source, p.note] for good, p in items]


PRECURSOR_HEADER = ("Good (CN)", "CoC document", "Precursor CN", "Description", "Supplier",
                    "Country of origin", "Quantity (t)", "SEE direct (t CO2e/t)",
                    "Embedded direct (t CO2e)", "Default value", "Source", "Note")


def installation_workbook(report: CbamReport) -> bytes:
    book = Workbook()
    first = book.active
    assert first is not None
    book.remove(first)
    inst = report.installation
    _sheet(book, "A_InstData", "A. Installation data", ("Item", "Value"), [
        ("Installation name", inst.name), ("Installation is", inst.kind),
        ("Facility id", inst.facility_id or ""), ("Operator", inst.operator),
        ("Address", inst.address), ("Country", inst.country),
        ("UN/LOCODE", inst.un_locode or "not recorded"),
        ("Latitude", inst.latitude if inst.latitude is not None else ""),
        ("Longitude", inst.longitude if inst.longitude is not None else ""),
        ("Reporting period start", report.period_start.isoformat()),
        ("Reporting period end", report.period_end.isoformat()),
        ("Monitoring method", report.method), ("Verification", report.verification)])
    procs = report.processes
    direct = sum((p.direct_t for p in procs), Decimal(0))
    _sheet(book, "C_Emissions&Energy", "C. Emissions and energy of the installation",
           ("Item", "Value", "Unit"), [
               ("Direct CO2 (fuels and processes)", sum((p.direct_co2_t for p in procs),
                                                        Decimal(0)), "t CO2"),
               ("PFCs (CF4, C2F6) from anode effects", sum((p.pfc_t for p in procs),
                                                           Decimal(0)), "t CO2e"),
               ("Direct emissions, total", direct, "t CO2e"),
               ("Electricity consumed", sum((p.electricity_mwh for p in procs), Decimal(0)),
                "MWh"),
               ("Emission factor of electricity", procs[0].electricity_factor_t_per_mwh
                if procs else Decimal(0), "t CO2/MWh"),
               ("Source of the factor", report.electricity_factor_source, ""),
               ("Indirect emissions", sum((p.indirect_t for p in procs), Decimal(0)),
                "t CO2")])
    _sheet(book, "D_Processes", "D. Emissions and energy by production process",
           ("Process", "Output (t)", "Direct CO2 (t)", "PFCs (t CO2e)",
            "Direct total (t CO2e)", "Electricity (MWh)", "Factor (t CO2/MWh)",
            "Indirect (t CO2)"),
           [(p.process, _t(p.output_kg), p.direct_co2_t, p.pfc_t, p.direct_t,
             p.electricity_mwh, p.electricity_factor_t_per_mwh, p.indirect_t)
            for p in procs])
    prec = [(g.cn_code, p) for g in report.goods for p in g.precursors]
    rows = _precursor_rows(prec) or [["none", "no precursor received in the period"]]
    _sheet(book, "E_PurchPrec", "E. Purchased precursors", PRECURSOR_HEADER, rows)
    _sheet(book, "Summary_Products", "Summary of goods: specific embedded emissions",
           ("CN code", "Good", "Route", "Processes", "Activity level (t)",
            "Attributed direct (t CO2e)", "Precursors embedded (t CO2e)",
            "SEE direct (t CO2e/t)", "Indirect (t CO2)", "SEE indirect (t CO2/t)",
            "Precursors", "Of which default values", "Notes"),
           [(g.cn_code, g.name, g.route or "", ", ".join(g.processes),
             _t(g.activity_level_kg), g.direct_t, g.precursors_t, g.see_direct_t_per_t,
             g.indirect_t, g.see_indirect_t_per_t, len(g.precursors),
             sum(p.default_used for p in g.precursors), "; ".join(g.notes))
            for g in report.goods])
    ref = report.reference
    _sheet(book, "Notes", "How the figures were taken", ("Note",),
           [(n,) for n in report.notes]
           + [(f"Default values: {ref.defaults_source} ({ref.defaults_date})"
               f"{', ILLUSTRATIVE' if ref.illustrative else ''}",)]
           + [(f"Benchmark {b['name']}: {b['value']} {b['unit']} ({b['source']}, "
               f"{b['date']})",) for b in ref.benchmarks])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def imports_workbook(data: CbamImports) -> bytes:
    book = Workbook()
    first = book.active
    assert first is not None
    book.remove(first)
    _sheet(book, "Declaration", f"CBAM imports of {data.organization} ({data.country}), "
           f"{data.year}", ("CN code", "Good", "Country of origin", "Documents",
                            "Quantity (t)", "Embedded direct (t CO2e)",
                            "SEE direct (t CO2e/t)", "Documents on default values",
                            "Documents on Scope 1+2 (direct not separable)"),
           [(x.cn_code, x.name, x.origin_country, x.documents, _t(x.quantity_kg),
             x.embedded_direct_t, x.see_direct_t_per_t, x.default_documents,
             x.scope12_documents) for x in data.lines])
    _sheet(book, "Documents", "Received CoC documents", PRECURSOR_HEADER,
           _precursor_rows(("", p) for p in data.documents))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def imports_csv(data: CbamImports) -> str:
    """The importer's lines as CSV, every cell neutralised as every export's are."""
    header = ["year", "cn_code", "good", "origin_country", "documents", "quantity_kg",
              "embedded_direct_t", "see_direct_t_per_t", "default_documents",
              "scope12_documents"]
    return csv_text([header, *([data.year, x.cn_code, x.name, x.origin_country, x.documents,
                                x.quantity_kg, x.embedded_direct_t, x.see_direct_t_per_t,
                                x.default_documents, x.scope12_documents]
                               for x in data.lines)])
