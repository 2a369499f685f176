"""The annual CoC report as files: CSV (exact kilograms, one block per table, for a
spreadsheet) and an A4 landscape PDF (every column on the page, the table headings
repeated on each page, yields outside the typical range flagged and explained).
Drawn from the same read model as the page; nothing here computes a figure."""

from __future__ import annotations

import unicodedata

from fpdf import FPDF
from fpdf.fonts import FontFace

from stewardship.core.csvexport import csv_text
from stewardship.core.labels import label
from stewardship.custody.plausibility import rules as plausibility
from stewardship.custody.schemas import ActivityLine, AnnualReport

MATERIAL_COLUMNS = ("Material", "Carried in (kg)", "Produced or taken in (kg)",
                    "Received (kg)", "Transformed in (kg)", "Non-CoC in (kg)", "Issued (kg)",
                    "Transformed out (kg)", "Carried out (kg)", "Expired (kg)",
                    "Closing balance (kg)", "CoC input (%)")
ACTIVITY_COLUMNS = ("Transformation", "Input material", "Output material", "Operations",
                    "CoC input (kg)", "CoC output (kg)", "Total input (kg)",
                    "Total output (kg)", "Average yield (kg/kg)", "Typical yield",
                    "Yield outside the typical range", "Why")
FLAGGED = "Yes"


def filename(report: AnnualReport, suffix: str) -> str:
    slug = "".join(ch if ch.isalnum() else "-" for ch in report.entity.entity.lower())
    return f"coc-report-{report.year}-{'-'.join(filter(None, slug.split('-')))}.{suffix}"


def _material_row(m: object) -> list[object]:
    return [getattr(m, name) for name in (
        "material_label", "carried_in", "produced", "received", "transformed_in",
        "non_coc_in", "issued", "transformed_out", "carried_out", "expired", "closing_kg",
        "input_percentage")]


def _activity_row(a: ActivityLine) -> list[object]:
    return [label(a.transformation), label(a.source_material), label(a.material),
            a.operations, a.input_kg,
            a.output_kg, a.total_input_kg, a.total_output_kg, a.average_yield,
            a.typical_yield, FLAGGED if a.yield_flag else "No", a.yield_flag or ""]


def report_csv(report: AnnualReport) -> str:
    """Every figure in exact kilograms (integers, no separators), blocks separated by an
    empty line: what the report is, its periods, the materials, the transformations."""
    rows: list[list[object]] = [
        ["Annual CoC report", report.year],
        ["Entity", report.entity.entity],
        ["Organisation", report.entity.organization_name],
        ["Generated", report.generated_at.isoformat()],
        ["Documents issued", report.documents_issued],
        ["Documents received", report.documents_received],
        [],
        ["Accounting period start", "Accounting period end", "Status"],
        *([p.period_start.isoformat(), p.period_end.isoformat(), label(p.status)]
          for p in report.periods),
        [],
        list(MATERIAL_COLUMNS),
        *(_material_row(m) for m in report.materials),
        [],
        list(ACTIVITY_COLUMNS),
        *(_activity_row(a) for a in report.activities),
    ]
    return csv_text(rows)


# --- PDF --------------------------------------------------------------------------------

_PLAIN = {"\u2013": "-", "\u2014": "-", "\u2019": "'", "\u2018": "'", "\u201c": '"',
          "\u201d": '"', "\u2192": "->", "\u2026": "...", "\u2212": "-"}


def _pdf_text(value: object) -> str:
    """The core PDF fonts hold Latin-1: punctuation beyond it spelled plainly, accents
    kept where Latin-1 has the letter and dropped where it has not."""
    out = []
    for ch in str(value):
        if ord(ch) < 256:
            out.append(ch)
        elif ch in _PLAIN:
            out.append(_PLAIN[ch])
        else:
            out.append(unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore")
                       .decode("latin-1") or "?")
    return "".join(out)


def _kg(n: int) -> str:
    return f"{n:,}"


class _ReportPdf(FPDF):
    title_line = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, _pdf_text(f"{self.title_line} - page {self.page_no()} of {{nb}}"),
                  align="C")


def _table(pdf: FPDF, headings: tuple[str, ...], rows: list[list[str]],
           widths: tuple[int, ...], *, numeric: range, marked: set[int]) -> None:
    """A table whose heading row is repeated on every page it runs over; the rows in
    `marked` are shaded (flagged)."""
    pdf.set_font("Helvetica", "", 7.5)
    heading = FontFace(emphasis="BOLD", fill_color=(226, 234, 238))
    with pdf.table(col_widths=widths, headings_style=heading, line_height=4.6,
                   text_align="LEFT", repeat_headings=1) as table:
        head = table.row()
        for text in headings:
            head.cell(_pdf_text(text))
        for index, values in enumerate(rows):
            style = FontFace(fill_color=(253, 236, 200)) if index in marked else None
            row = table.row(style=style)
            for col, text in enumerate(values):
                row.cell(_pdf_text(text), align="RIGHT" if col in numeric else "LEFT")


def report_pdf(report: AnnualReport, page_url: str) -> bytes:
    pdf = _ReportPdf(orientation="L", unit="mm", format="A4")
    pdf.title_line = f"Annual CoC report {report.year}, {report.entity.entity}"
    pdf.set_title(_pdf_text(pdf.title_line))
    pdf.set_author("Stewardship")
    pdf.set_creator("Stewardship")
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.alias_nb_pages()
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(width, 10, _pdf_text(f"Annual CoC report {report.year}"),
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    pdf.cell(width, 6, _pdf_text(f"{report.entity.entity} - {report.entity.organization_name}"),
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    periods = "; ".join(f"{p.period_start:%d %b %Y} to {p.period_end:%d %b %Y} "
                        f"({p.status})" for p in report.periods) or "none"
    pdf.multi_cell(width, 5, _pdf_text(
        f"Computed from the ledger on {report.generated_at:%d %b %Y %H:%M} UTC. Accounting "
        f"periods starting in {report.year}: {periods}. Documents issued: "
        f"{report.documents_issued}; documents received: {report.documents_received}. "
        "Quantities in exact kilograms."), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(width, 7, "Inputs and outputs by material", new_x="LMARGIN", new_y="NEXT")
    if report.materials:
        rows = [[str(v) if i in (0, 11) else _kg(int(str(v))) for i, v in
                 enumerate(_material_row(m))] for m in report.materials]
        rows = [[*r[:11], f"{r[11]} %"] for r in rows]
        _table(pdf, MATERIAL_COLUMNS, rows, (31, 22, 24, 22, 22, 22, 22, 23, 22, 21, 24, 22),
               numeric=range(1, 12), marked=set())
    else:
        pdf.set_font("Helvetica", "", 9)
        pdf.cell(width, 6, _pdf_text(f"No material moved in {report.year}."),
                 new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)

    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(width, 7, "Transformations by activity", new_x="LMARGIN", new_y="NEXT")
    flagged = [a for a in report.activities if a.yield_flag]
    if report.activities:
        rows = []
        for a in report.activities:
            r = _activity_row(a)
            rows.append([str(r[0]), str(r[1]), str(r[2]), str(r[3]),
                         *(_kg(int(str(v))) for v in r[4:8]), f"{r[8]}", str(r[9]),
                         "FLAGGED" if a.yield_flag else "-", str(r[11]) or "-"])
        _table(pdf, ACTIVITY_COLUMNS, rows, (20, 20, 21, 15, 20, 20, 20, 20, 17, 28, 19, 57),
               numeric=range(3, 9),
               marked={i for i, a in enumerate(report.activities) if a.yield_flag})
    else:
        pdf.set_font("Helvetica", "", 9)
        pdf.cell(width, 6, _pdf_text(f"No transformation recorded in {report.year}."),
                 new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("Helvetica", "", 8.5)
    margin = f"{(plausibility.YIELD_FLAG_MARGIN * 100).normalize():f} %"
    note = (f"{len(flagged)} yield{'s' if len(flagged) != 1 else ''} outside the typical "
            f"range (more than {margin} beyond it), shaded above: worth a look, not a break "
            "of the mass balance." if flagged else "Every yield is within its typical range.")
    pdf.multi_cell(width, 4.5, _pdf_text(note + f" The report on the platform: {page_url}"),
                   new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
