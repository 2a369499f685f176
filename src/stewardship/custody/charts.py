"""The network's CoC flows as a Sankey diagram, drawn as SVG on the server."""

from __future__ import annotations

from collections import defaultdict
from xml.sax.saxutils import escape

from stewardship.core.labels import label
from stewardship.custody.schemas import FlowLink

MATERIAL_COLOURS = {"asi_bauxite": "#b5651d", "asi_alumina": "#9e9e9e",
                    "asi_aluminium": "#4a78b5", "eligible_scrap": "#3a9a5b"}


def _tonnes(kg: int) -> str:
    return f"{kg / 1000:,.0f} t" if kg >= 1000 else f"{kg} kg"


def sankey(links: list[FlowLink], stages: tuple[str, ...], labels: dict[str, str], *,
           width: int = 900, height: int = 420) -> str:
    """Columns are the stages in chain order; node heights and link widths are
    proportional to kilograms."""
    if not links:
        return ""
    order = [s for s in (*stages, "other") if any(s in (ln.source, ln.target) for ln in links)]
    column = {s: i for i, s in enumerate(order)}
    inflow: dict[str, int] = defaultdict(int)
    outflow: dict[str, int] = defaultdict(int)
    for ln in links:
        outflow[ln.source] += ln.kilograms
        inflow[ln.target] += ln.kilograms
    size = {s: max(inflow[s], outflow[s]) for s in order}
    node_w, pad_top, label_room = 14, 24, 120
    usable_h = height - pad_top - 20
    scale = usable_h / max(size.values())
    step = (width - label_room - node_w) / max(1, len(order) - 1)
    x = {s: 10 + column[s] * step for s in order}
    # stagger nodes vertically so adjacent columns' labels never collide
    y = {s: pad_top + (usable_h - size[s] * scale) / 2 for s in order}
    h = {s: max(2.0, size[s] * scale) for s in order}
    out_off: dict[str, float] = defaultdict(float)
    in_off: dict[str, float] = defaultdict(float)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'role="img" aria-labelledby="sankey-title" class="chart sankey">',
             '<title id="sankey-title">CoC material flows between activities</title>']
    for ln in sorted(links, key=lambda ln: (column[ln.source], column[ln.target])):
        w = max(1.0, ln.kilograms * scale)
        y0 = y[ln.source] + out_off[ln.source] + w / 2
        y1 = y[ln.target] + in_off[ln.target] + w / 2
        out_off[ln.source] += w
        in_off[ln.target] += w
        x0, x1 = x[ln.source] + node_w, x[ln.target]
        mid = (x0 + x1) / 2
        colour = MATERIAL_COLOURS.get(ln.material, "#777")
        tip = (f"{labels.get(ln.source, ln.source)} → {labels.get(ln.target, ln.target)}: "
               f"{_tonnes(ln.kilograms)} of {label(ln.material)} "
               f"({ln.contributors} entities)")
        parts.append(f'<path d="M{x0:.1f},{y0:.1f} C{mid:.1f},{y0:.1f} {mid:.1f},{y1:.1f} '
                     f'{x1:.1f},{y1:.1f}" stroke="{colour}" stroke-opacity="0.45" '
                     f'stroke-width="{w:.1f}" fill="none"><title>{escape(tip)}</title></path>')
    for s in order:
        parts.append(f'<rect x="{x[s]:.1f}" y="{y[s]:.1f}" width="{node_w}" height="{h[s]:.1f}" '
                     f'fill="#333"><title>{escape(labels.get(s, s))}: '
                     f'{_tonnes(size[s])}</title></rect>')
        parts.append(f'<text x="{x[s] + node_w + 4:.1f}" y="{y[s] - 6:.1f}" font-size="12">'
                     f'{escape(labels.get(s, s))} · {_tonnes(size[s])}</text>')
    parts.append("</svg>")
    return "".join(parts)
