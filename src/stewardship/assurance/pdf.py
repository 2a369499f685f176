"""The certificate as an A4 PDF: title, a table of facts, a QR code of the public
verification address, and the address itself. Drawn with fpdf2's core fonts."""

from __future__ import annotations

import io
import unicodedata

import segno
from fpdf import FPDF

from stewardship.assurance.rules import issued_to_label
from stewardship.assurance.schemas import CertificateRead

KIND_TITLES = {"performance": "Performance Standard", "chain_of_custody":
               "Chain of Custody Standard"}


_PUNCTUATION = {"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"',
                "\u201d": '"', "\u2026": "..."}


def _latin1(text: object) -> str:
    """Core PDF fonts know Latin-1 only: keep what fits, strip accents from the rest."""
    out = []
    for ch in str(text):
        try:
            ch.encode("latin-1")
            out.append(ch)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
            out.append(base or _PUNCTUATION.get(ch, "?"))
    return "".join(out)


def qr_png(url: str, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()


def qr_svg(url: str) -> str:
    """The QR code as an inline ``<svg>`` element (no XML declaration)."""
    return str(segno.make(url, error="m").svg_inline(
        scale=4, border=2, title=f"QR code: {url}", svgclass="qr-code"))


def certificate_pdf(cert: CertificateRead, verify_url: str, *, demo: bool = False,
                    activity_labels: dict[str, str] | None = None,
                    country_names: dict[str, str] | None = None) -> bytes:
    labels = activity_labels or {}
    countries = country_names or {}
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_title(_latin1(f"Certificate {cert.number}"))
    pdf.set_author("Stewardship")
    pdf.set_creator("Stewardship")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    pdf.set_font("Helvetica", "B", 10)
    pdf.set_text_color(31, 111, 139)
    pdf.cell(width, 6, "STEWARDSHIP - RESPONSIBLE ALUMINIUM CERTIFICATION",
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(29, 39, 48)
    pdf.set_font("Helvetica", "B", 22)
    kind = KIND_TITLES.get(cert.standard.kind, cert.standard.kind)
    title = "Provisional certificate" if cert.certificate_type == "provisional" \
        else "Certificate"
    pdf.cell(width, 12, _latin1(f"{title} - {kind}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 14)
    pdf.cell(width, 8, _latin1(f"No. {cert.number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(width, 6, _latin1(
        f"This certifies that {cert.issued_to_entity}, an entity of {cert.issued_to}, "
        f"was audited against the {cert.standard.title} (version {cert.standard.version}) "
        f"for the scope below."), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    facts = [
        ("Certificate number", cert.number),
        ("Status", cert.status.capitalize()),
        ("Holder", issued_to_label(cert.issued_to, cert.organization.name)),
        ("Entity", issued_to_label(cert.issued_to_entity, cert.entity.name)),
        ("Standard", f"{cert.standard.title}, version {cert.standard.version}"),
        ("Type", cert.certificate_type.capitalize()),
        ("Maturity", cert.maturity.value.capitalize()),
        ("Valid from", cert.valid_from.strftime("%d %b %Y")),
        ("Valid until", cert.valid_until.strftime("%d %b %Y")),
        ("Surveillance audit due", cert.surveillance_due_on.strftime("%d %b %Y")
         if cert.surveillance_due_on else "-"),
        ("Activities", ", ".join(labels.get(a, a) for a in cert.activities)),
        ("Countries", ", ".join(countries.get(c, c) for c in cert.countries)),
        ("Facilities", "; ".join(f"{f.name} ({f.id}, {f.country})"
                                 for f in cert.facilities)),
    ]
    if cert.imported:
        facts.append(("Imported", f"Issued before the platform; audit {cert.audit_reference}"))
    label_w = 52
    for term, value in facts:
        pdf.set_font("Helvetica", "B", 10)
        y = pdf.get_y()
        pdf.set_fill_color(238, 243, 245)
        pdf.multi_cell(label_w, 7, _latin1(term), border=1, fill=True,
                       new_x="RIGHT", new_y="TOP")
        pdf.set_font("Helvetica", "", 10)
        pdf.multi_cell(width - label_w, 7, _latin1(value or "-"), border=1,
                       new_x="LMARGIN", new_y="NEXT")
        if pdf.get_y() < y + 7:
            pdf.set_y(y + 7)
    pdf.ln(6)

    top = pdf.get_y()
    if top > pdf.h - 70:
        pdf.add_page()
        top = pdf.get_y()
    pdf.image(io.BytesIO(qr_png(verify_url)), x=pdf.l_margin, y=top, w=40, h=40)
    pdf.set_xy(pdf.l_margin + 46, top + 4)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(width - 46, 6, "Verify this certificate", new_x="LEFT", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.multi_cell(width - 46, 5, _latin1(
        "Scan the code or open the address below to see the certificate's current status "
        "in the public register:"), new_x="LEFT", new_y="NEXT")
    pdf.set_font("Courier", "", 10)
    pdf.multi_cell(width - 46, 5, _latin1(verify_url), new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(pdf.get_y(), top + 44))
    if demo:
        pdf.ln(4)
        pdf.set_font("Helvetica", "I", 10)
        pdf.set_text_color(160, 80, 0)
        pdf.multi_cell(width, 5, "Illustrative demo: the organisations, sites and audit on "
                                 "this certificate are fictional.",
                       new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
