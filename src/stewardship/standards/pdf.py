"""The full text of a standard version as an A4 PDF: a title page of facts, the contents,
then every principle and criterion with its requirement, parts, applicability, thresholds
and guidance. PDF bookmarks follow the principles and criteria.

Drawn as the certificate is (assurance/pdf.py): fpdf2's core Helvetica, which knows
Latin-1 only, so other letters are folded to their base letter and typographic punctuation
to its plain form.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from fpdf import FPDF

from stewardship.standards.schemas import CriterionRead, VersionRead

INK = (29, 39, 48)
ACCENT = (31, 111, 139)
MUTED = (84, 98, 110)

_PLAIN = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2018": "'",
                        "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"',
                        "\u201e": '"', "\u2026": "...", "\u2022": "-", "\u00a0": " ",
                        "\u2009": " ", "\u202f": " ", "\u2192": "->", "\u2264": "<=",
                        "\u2265": ">=", "\u2082": "2", "\u2083": "3", "\u0141": "L",
                        "\u0142": "l", "\u0110": "D", "\u0111": "d", "\u0152": "OE",
                        "\u0153": "oe"})


def fold(text: object) -> str:
    """What Helvetica can print of ``text``: Latin-1 kept, punctuation made plain, other
    letters without their marks, anything else a question mark."""
    out = []
    for ch in str(text).translate(_PLAIN):
        if ord(ch) < 256:
            out.append(ch)
            continue
        bare = "".join(c for c in unicodedata.normalize("NFKD", ch) if ord(c) < 128)
        out.append(bare or "?")
    return "".join(out)


class _Document(FPDF):
    def __init__(self, running_title: str, url: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.running_title = running_title
        self.url = url

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(*MUTED)
        self.cell(0, 5, fold(f"{self.running_title} - {self.url}"), align="L")
        self.set_x(self.l_margin)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")


def version_pdf(version: VersionRead, url: str, *,
                activity_label: Callable[[str], str] = str,
                class_label: Callable[[str], str] = str,
                group_label: Callable[[str], str] = str) -> bytes:
    """The PDF of ``version``; ``url`` is its full-text page, printed on every page."""
    title = f"{version.title}, version {version.version}"
    pdf = _Document(title, url)
    pdf.set_title(fold(title))
    pdf.set_author(fold(version.provider or "Stewardship"))
    pdf.set_creator("Stewardship")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.alias_nb_pages()
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def para(text: str, size: float = 10.5, style: str = "", color: tuple[int, int, int] = INK,
             height: float = 5.2, indent: float = 0) -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.set_text_color(*color)
        pdf.set_x(pdf.l_margin + indent)
        pdf.multi_cell(width - indent, height, fold(text), new_x="LMARGIN", new_y="NEXT")

    pdf.set_font("Helvetica", "B", 10)
    pdf.set_text_color(*ACCENT)
    pdf.cell(width, 6, "STEWARDSHIP - STANDARD", new_x="LMARGIN", new_y="NEXT")
    para(version.title, 22, "B", height=10)
    para(f"Version {version.version}", 14, height=8)
    pdf.ln(2)
    facts = [("URN", version.urn), ("Provider", version.provider),
             ("Published", version.published_on.isoformat()),
             ("Effective", version.effective_on.isoformat()),
             ("Transition ends", version.transition_ends_on.isoformat()
              if version.transition_ends_on else "No transition set"),
             ("Criteria", f"{sum(len(p.criteria) for p in version.principles)} in "
                          f"{len(version.principles)} principles"),
             ("Package digest", f"SHA-256 {version.digest}"),
             ("Copyright", version.copyright)]
    for name, value in facts:
        pdf.set_font("Helvetica", "B", 9.5)
        pdf.set_text_color(*MUTED)
        pdf.cell(38, 5.5, fold(name))
        pdf.set_font("Helvetica", "", 9.5)
        pdf.set_text_color(*INK)
        pdf.multi_cell(width - 38, 5.5, fold(value), new_x="LMARGIN", new_y="NEXT")
    if version.illustrative:
        pdf.ln(2)
        para("Illustrative content: our own wording, structured like the real standards of "
             "the aluminium value chain; not the official text.", 9.5, "I", MUTED)

    pdf.ln(4)
    para("Contents", 14, "B", height=8)
    for p in version.principles:
        para(f"{p.number}. {p.title}", 10.5, "B", height=5.5)
        for c in p.criteria:
            para(f"{c.number}  {c.title}", 9.5, indent=6, height=4.8)

    group = None
    for p in version.principles:
        pdf.add_page()
        if p.group != group:
            group = p.group
            pdf.start_section(fold(group_label(group)), level=0)
            para(group_label(group).upper(), 9.5, "B", ACCENT, height=6)
        pdf.start_section(fold(f"{p.number}. {p.title}"), level=1)
        para(f"Principle {p.number}. {p.title}", 16, "B", height=8)
        if p.intent:
            para(p.intent, 10, "I", MUTED)
        for c in p.criteria:
            pdf.ln(3)
            if pdf.will_page_break(30):  # a criterion's heading never ends a page
                pdf.add_page()
            pdf.start_section(fold(f"{c.number} {c.title}"), level=2)
            _criterion(para, c, activity_label, class_label)
    return bytes(pdf.output())


def _criterion(para: Callable[..., None], c: CriterionRead,
               activity_label: Callable[[str], str],
               class_label: Callable[[str], str]) -> None:
    para(f"{c.number}  {c.title}", 12, "B", ACCENT, height=6.5)
    para(c.requirement)
    for part in c.parts:
        para(f"{c.number}.{part.letter}  {part.requirement}", indent=5)
    applies = ("Every activity" if c.activities is None
               else ", ".join(activity_label(a) for a in sorted(c.activities)))
    classes = ", ".join(class_label(m) for m in sorted(c.member_classes))
    para(f"Applies to: {applies}. Membership classes: {classes}.", 9, color=MUTED, height=4.8)
    for t in c.thresholds:
        since = f", from {t.applies_from.isoformat()}" if t.applies_from else ""
        about = f" - {t.description}" if t.description else ""
        para(f"Threshold {t.key}: {t.value} {t.unit}{since}{about}", 9, color=MUTED,
             height=4.8)
    if c.guidance:
        para("Guidance", 9.5, "B", height=5.5)
        para(c.guidance, 9.5, "I", height=4.8)
