"""Charts of the public register, drawn on the server as plain SVG (no JavaScript).

Each function takes the register service's counts and returns one self-contained ``<svg>``
element with a title, a description and a text alternative per bar, safe to embed in a
page (every label is escaped).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from stewardship.assurance.schemas import CountRow, NonconformityRow

BAR = "#1f6f8b"
MAJOR = "#b3261e"
MINOR = "#c77700"
TEXT = "#1d2730"
GRID = "#d5dde2"


def _svg(width: int, height: int, title: str, desc: str, body: list[str], cid: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
            f'aria-labelledby="{cid}-title {cid}-desc">'
            f'<title id="{cid}-title">{escape(title)}</title>'
            f'<desc id="{cid}-desc">{escape(desc)}</desc>' + "".join(body) + "</svg>")


def _empty(title: str, cid: str) -> str:
    return _svg(480, 60, title, "No data yet.", [
        f'<text x="10" y="35" fill="{TEXT}" font-size="14">No data yet.</text>'], cid)


def bar_chart(rows: Sequence[CountRow], *, title: str, cid: str, unit: str = "certificates",
              width: int = 560) -> str:
    """Horizontal bars, one per row, largest first, with the count at the end of each."""
    if not rows:
        return _empty(title, cid)
    rows = sorted(rows, key=lambda r: (-r.count, r.label))
    label_w, bar_h, gap, top = 190, 22, 8, 10
    plot_w = width - label_w - 50
    peak = max(r.count for r in rows) or 1
    height = top * 2 + len(rows) * (bar_h + gap)
    body: list[str] = []
    for i, r in enumerate(rows):
        y = top + i * (bar_h + gap)
        w = max(2, round(plot_w * r.count / peak))
        label = r.label if len(r.label) <= 28 else r.label[:27] + "…"
        body.append(
            f'<g><title>{escape(r.label)}: {r.count} {escape(unit)}</title>'
            f'<text x="{label_w - 8}" y="{y + bar_h - 6}" text-anchor="end" fill="{TEXT}" '
            f'font-size="13">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" fill="{BAR}" rx="2"/>'
            f'<text x="{label_w + w + 6}" y="{y + bar_h - 6}" fill="{TEXT}" '
            f'font-size="13">{r.count}</text></g>')
    desc = "; ".join(f"{r.label}: {r.count}" for r in rows)
    return _svg(width, height, title, desc, body, cid)


def nonconformity_chart(rows: Sequence[NonconformityRow], *, title: str, cid: str,
                        max_width: int = 900) -> str:
    """Grouped, stacked columns: per principle one column per year, majors below minors."""
    if not rows:
        return _empty(title, cid)
    principles = sorted({r.principle for r in rows})
    years = sorted({r.year for r in rows})
    cell = {(r.principle, r.year): r for r in rows}
    peak = max(r.majors + r.minors for r in rows) or 1
    left, top, plot_h, bottom = 36, 28, 180, 44
    col_w = 22
    group_w = col_w * len(years) + 18
    width = min(max_width, max(480, left + 10 + group_w * len(principles)))
    if left + 10 + group_w * len(principles) > width:
        group_w = (width - left - 10) // len(principles)
        col_w = max(4, (group_w - 6) // len(years))
    height = top + plot_h + bottom
    base = top + plot_h
    body = [f'<line x1="{left}" y1="{base}" x2="{width - 5}" y2="{base}" stroke="{GRID}"/>',
            f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" fill="{TEXT}" '
            f'font-size="11">{peak}</text>',
            f'<text x="{left - 6}" y="{base}" text-anchor="end" fill="{TEXT}" '
            f'font-size="11">0</text>',
            f'<rect x="{left}" y="4" width="12" height="12" fill="{MAJOR}"/>'
            f'<text x="{left + 16}" y="14" fill="{TEXT}" font-size="12">Major</text>'
            f'<rect x="{left + 70}" y="4" width="12" height="12" fill="{MINOR}"/>'
            f'<text x="{left + 86}" y="14" fill="{TEXT}" font-size="12">Minor</text>'
            f'<text x="{left + 140}" y="14" fill="{TEXT}" font-size="12">Years: '
            f'{escape(", ".join(str(y) for y in years))}</text>']
    for gi, p in enumerate(principles):
        gx = left + 4 + gi * group_w
        for yi, year in enumerate(years):
            r = cell.get((p, year))
            if r is None:
                continue
            x = gx + yi * col_w
            h_major = round(plot_h * r.majors / peak)
            h_minor = round(plot_h * r.minors / peak)
            body.append(
                f'<g><title>Principle {p}, {year}: {r.majors} major, {r.minors} minor</title>'
                f'<rect x="{x}" y="{base - h_major}" width="{col_w - 2}" height="{h_major}" '
                f'fill="{MAJOR}"/>'
                f'<rect x="{x}" y="{base - h_major - h_minor}" width="{col_w - 2}" '
                f'height="{h_minor}" fill="{MINOR}"/></g>')
        body.append(f'<text x="{gx + (col_w * len(years)) / 2:.0f}" y="{base + 16}" '
                    f'text-anchor="middle" fill="{TEXT}" font-size="12">P{p}</text>')
    body.append(f'<text x="{left}" y="{base + 36}" fill="{TEXT}" font-size="12">'
                f'Non-conformities by principle (P) and year of the audit</text>')
    desc = "; ".join(f"principle {r.principle} in {r.year}: {r.majors} major, "
                     f"{r.minors} minor" for r in rows)
    return _svg(width, height, title, desc, body, cid)
