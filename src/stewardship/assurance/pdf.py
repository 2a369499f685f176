"""The certificate as an A4 PDF: title, a table of facts, a QR code of the public
verification address, and the address itself. Drawn with fpdf2's core fonts.

A printed certificate outlives the moment it was printed, so every page says when its
status was read ("Status as of ...", in UTC) and where to read it live; a certificate that
is not active (suspended, withdrawn, expired, superseded) carries its status word across
every page and no longer opens with "This certifies that"."""

from __future__ import annotations

import io
import unicodedata
from datetime import UTC, datetime

from fpdf import FPDF

from stewardship.assurance.rules import issued_to_label
from stewardship.assurance.schemas import CertificateRead
from stewardship.core.qr import qr_png

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


STATUS_SENTENCES = {
    "suspended": "is suspended: it does not certify conformance while the suspension lasts",
    "withdrawn": "was withdrawn and certifies nothing",
    "expired": "has expired and certifies nothing any more",
    "superseded": "was replaced by a later certificate for the same scope and certifies "
                  "nothing any more",
}


def status_as_of_line(moment: datetime) -> str:
    """"Status as of 02 Dec 2026, 07:15 UTC": the moment a printed status was read."""
    return f"Status as of {moment.astimezone(UTC):%d %b %Y, %H:%M} UTC"


class _CertificatePdf(FPDF):
    """An A4 page that draws the status word across itself when the certificate is not
    active (before the content, so the text stays readable on top of it)."""

    def __init__(self, watermark: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.watermark = watermark

    def header(self) -> None:
        if not self.watermark:
            return
        x, y = self.l_margin, self.t_margin
        self.set_font("Helvetica", "B", 88)
        self.set_text_color(226, 160, 160)
        with self.rotation(angle=55, x=self.w / 2, y=self.h / 2):
            width = self.get_string_width(self.watermark)
            self.text(self.w / 2 - width / 2, self.h / 2 + 12, self.watermark)
        self.set_text_color(29, 39, 48)
        self.set_xy(x, y)


def certificate_pdf(cert: CertificateRead, verify_url: str, *, status_as_of: datetime,
                    demo: bool = False, activity_labels: dict[str, str] | None = None,
                    country_names: dict[str, str] | None = None) -> bytes:
    """The PDF of ``cert`` (whose ``status`` is its effective status on the day read),
    with ``status_as_of`` the moment that status was read."""
    labels = activity_labels or {}
    countries = country_names or {}
    active = cert.status == "active"
    pdf = _CertificatePdf("" if active else _latin1(cert.status.upper()))
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
    pdf.set_font("Helvetica", "B", 11)
    if active:
        pdf.set_text_color(28, 110, 60)
    else:
        pdf.set_text_color(170, 30, 30)
    pdf.cell(width, 6, _latin1(f"{status_as_of_line(status_as_of)}: "
                               f"{cert.status.upper()}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(29, 39, 48)
    pdf.ln(2)
    pdf.set_font("Helvetica", "", 11)
    audited = (f"{cert.issued_to_entity}, an entity of {cert.issued_to}, was audited against "
               f"the {cert.standard.title} (version {cert.standard.version}) for the scope "
               f"below")
    if active:
        opening = f"This certifies that {audited}."
    else:
        why = STATUS_SENTENCES.get(cert.status, f"is {cert.status} and certifies nothing")
        opening = (f"This certificate {why}. It recorded that {audited}. Check the live "
                   f"status at the address at the foot of this page.")
    pdf.multi_cell(width, 6, _latin1(opening), new_x="LMARGIN", new_y="NEXT")
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
    pdf.multi_cell(width - 46, 5, _latin1(verify_url), new_x="LEFT", new_y="NEXT",
                   link=verify_url)
    pdf.set_font("Helvetica", "", 9)
    pdf.multi_cell(width - 46, 5, _latin1(
        f"{status_as_of_line(status_as_of)}. The status may have changed since; the "
        f"address above shows it live."), new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(pdf.get_y(), top + 44))
    if demo:
        pdf.ln(4)
        pdf.set_font("Helvetica", "I", 10)
        pdf.set_text_color(160, 80, 0)
        pdf.multi_cell(width, 5, "Illustrative demo: the organisations, sites and audit on "
                                 "this certificate are fictional.",
                       new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
