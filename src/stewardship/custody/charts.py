"""The custody pictures, drawn as SVG on the server (no JavaScript): the network's CoC
flows as a Sankey diagram, an account's balance over its period as a step chart, and the
chain behind a document as a graph, tiers left to right with edges as wide as their
quantity. Each is an image with a title and a description; the page holds the same
numbers in a table for anyone who cannot see the picture."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from xml.sax.saxutils import escape, quoteattr

from stewardship.core.labels import label
from stewardship.core.templating import tonnes_text
from stewardship.custody.schemas import BalancePoint, ChainRead, DocumentFootprint, FlowLink

MATERIAL_COLOURS = {"asi_bauxite": "#b5651d", "asi_alumina": "#7a7a7a",
                    "asi_aluminium": "#3f6fae", "eligible_scrap": "#2f8a50"}
MINUS = "\u2212"


def _material(code: str) -> str:
    return label(code)


def _exact(kg: int) -> str:
    """Tonnes to read and the exact kilograms, for a tooltip."""
    shown = tonnes_text(kg)
    return shown if shown.endswith(" kg") else f"{shown} ({kg:,} kg)"


def _open(name: str, width: int, height: int, title: str, desc: str, css: str) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" '
            f'aria-labelledby="{name}-title {name}-desc" class="chart {css}">',
            f'<title id="{name}-title">{escape(title)}</title>',
            f'<desc id="{name}-desc">{escape(desc)}</desc>']


# --- the network ------------------------------------------------------------------------


def sankey(links: list[FlowLink], stages: tuple[str, ...], labels: dict[str, str], *,
           width: int = 900, height: int = 420) -> str:
    """Columns are the stages in chain order; node heights and link widths are
    proportional to kilograms. A link the public view does not publish is dashed."""
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
    y = {s: pad_top + (usable_h - size[s] * scale) / 2 for s in order}
    h = {s: max(2.0, size[s] * scale) for s in order}
    out_off: dict[str, float] = defaultdict(float)
    in_off: dict[str, float] = defaultdict(float)
    parts = _open("sankey", width, height, "CoC material flows between activities",
                  "Columns are activities down the chain; each band is the CoC material "
                  "shipped from one activity to the next, as wide as its kilograms. The "
                  "table of links beside the picture holds the same numbers.", "sankey")
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
               f"{_exact(ln.kilograms)} of {_material(ln.material)} "
               f"({ln.contributors} entities)"
               + ("" if ln.published else "; not published: fewer than the competition "
                                          "rule's minimum of entities"))
        dash = "" if ln.published else ' stroke-dasharray="6 4"'
        parts.append(f'<path d="M{x0:.1f},{y0:.1f} C{mid:.1f},{y0:.1f} {mid:.1f},{y1:.1f} '
                     f'{x1:.1f},{y1:.1f}" stroke="{colour}" stroke-opacity="0.45" '
                     f'stroke-width="{w:.1f}" fill="none"{dash} data-kg="{ln.kilograms}" '
                     f'data-published="{str(ln.published).lower()}">'
                     f'<title>{escape(tip)}</title></path>')
    for s in order:
        parts.append(f'<rect x="{x[s]:.1f}" y="{y[s]:.1f}" width="{node_w}" height="{h[s]:.1f}" '
                     f'fill="#333"><title>{escape(labels.get(s, s))}: '
                     f'{escape(_exact(size[s]))}</title></rect>')
        parts.append(f'<text x="{x[s] + node_w + 4:.1f}" y="{y[s] - 6:.1f}" font-size="12">'
                     f'{escape(labels.get(s, s))} · {escape(tonnes_text(size[s]))}</text>')
    parts.append("</svg>")
    return "".join(parts)


# --- an account's balance over time -----------------------------------------------------


@dataclass(frozen=True)
class Step:
    """A corner of the step line: the balance from this day on."""

    on: date
    balance_kg: int


def steps(points: list[BalancePoint]) -> list[Step]:
    """The balance line as steps: zero at the start, then the balance after each day
    that moved the account."""
    return [Step(p.on, p.balance_kg) for p in points]


def balance_chart(points: list[BalancePoint], start: date, end: date, *, title: str,
                  width: int = 720, height: int = 260) -> str:
    """The balance over the period as a step line: flat between days with movements,
    a vertical step on each such day; a dot per day with its balance. `end` is the last
    day drawn (the period's end, or today while the period runs)."""
    if not points:
        return ""
    last = max(end, points[-1].on)
    left, right, top, bottom = 84, 16, 16, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    days = max(1, (last - start).days)
    high = max(1, max(p.balance_kg for p in points))
    low = min(0, min(p.balance_kg for p in points))

    def px(on: date) -> float:
        return left + plot_w * (on - start).days / days

    def py(kg: int) -> float:
        return top + plot_h * (high - kg) / (high - low)

    parts = _open("balance", width, height, title,
                  f"The balance from {start:%d %b %Y} to {last:%d %b %Y}, stepping on each "
                  f"of the {len(points)} days that moved it; it ends at "
                  f"{_exact(points[-1].balance_kg)}. The table below lists each day.",
                  "balance-chart")
    for kg in sorted({low, 0, (high + low) // 2, high}):
        y = py(kg)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
                     f'stroke="#d5dbe0" stroke-width="1"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" '
                     f'text-anchor="end">{escape(tonnes_text(kg))}</text>')
    for on in (start, last):
        anchor = "start" if on == start else "end"
        parts.append(f'<text x="{px(on):.1f}" y="{height - 12}" font-size="11" '
                     f'text-anchor="{anchor}">{on:%d %b %Y}</text>')
    d = [f"M{px(start):.1f},{py(0):.1f}"]
    previous = 0
    for s in steps(points):
        d.append(f"H{px(s.on):.1f}")
        if s.balance_kg != previous:
            d.append(f"V{py(s.balance_kg):.1f}")
        previous = s.balance_kg
    d.append(f"H{px(last):.1f}")
    parts.append(f'<path d="{" ".join(d)}" fill="none" stroke="#1f6f8b" stroke-width="2"/>')
    for p in points:
        sign = "+" if p.change_kg >= 0 else MINUS
        tip = (f"{p.on:%d %b %Y}: {sign}"
               f"{_exact(abs(p.change_kg))}, balance {_exact(p.balance_kg)}")
        parts.append(f'<circle cx="{px(p.on):.1f}" cy="{py(p.balance_kg):.1f}" r="3.5" '
                     f'fill="#1f6f8b" data-on="{p.on.isoformat()}" '
                     f'data-balance-kg="{p.balance_kg}"><title>{escape(tip)}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


# --- the chain behind a document --------------------------------------------------------


@dataclass
class ChainEdge:
    """The documents of one tier from one party to another, of one material."""

    tier: int
    source: tuple[int, str]
    target: tuple[int, str]
    material: str
    kilograms: int = 0
    numbers: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ChainGraph:
    """Columns from the origins (left) to the document's recipient (right); column 0
    is the recipient, column k the issuers of tier k - 1's documents."""

    columns: list[list[str]]
    edges: list[ChainEdge]


def chain_graph(chain: ChainRead) -> ChainGraph:
    """One node per party per column, one edge per (tier, issuer, recipient, material)
    with the documents' summed CoC quantity."""
    edges: dict[tuple[int, str, str, str], ChainEdge] = {}
    through: dict[tuple[int, str], int] = defaultdict(int)
    for tier in chain.tiers:
        for d in tier.documents:
            source, target = (tier.depth + 1, d.issuer), (tier.depth, d.recipient)
            key = (tier.depth, d.issuer, d.recipient, d.material)
            edge = edges.setdefault(key, ChainEdge(tier.depth, source, target, d.material))
            edge.kilograms += d.coc_quantity_kg
            edge.numbers.append(d.number)
            through[source] += d.coc_quantity_kg
            through[target] += d.coc_quantity_kg
    count = len(chain.tiers) + 1
    columns: list[list[str]] = [[] for _ in range(count)]
    for (col, name), _kg in sorted(through.items(), key=lambda item: (-item[1], item[0][1])):
        columns[col].append(name)
    return ChainGraph(columns=columns, edges=list(edges.values()))


def column_label(col: int) -> str:
    if col == 0:
        return "Recipient"
    if col == 1:
        return "Issuer"
    return f"Tier {col - 1} suppliers"


def _short(name: str, room: int = 22) -> str:
    return name if len(name) <= room else name[:room - 1].rstrip() + "…"


def chain_svg(chain: ChainRead, *, max_width: int = 26) -> str:
    """The chain as a graph: each column a tier's parties, origins on the left; an edge
    per documents passed between two parties, its width proportional to the CoC
    quantity (the largest `max_width` pixels, none under 2)."""
    graph = chain_graph(chain)
    if not graph.edges:
        return ""
    node_w, node_h, row, col_step, top, margin = 168, 34, 62, 236, 34, 10
    count = len(graph.columns)
    rows = max(len(c) for c in graph.columns)
    width = margin * 2 + node_w + col_step * (count - 1)
    height = top + rows * row + margin

    def x(col: int) -> float:
        return margin + (count - 1 - col) * col_step

    def y(col: int, name: str) -> float:
        names = graph.columns[col]
        offset = (rows - len(names)) * row / 2
        return top + offset + names.index(name) * row + (row - node_h) / 2

    heaviest = max(e.kilograms for e in graph.edges)
    parts = _open("chain", width, height, f"The chain behind {chain.number}",
                  f"{len(graph.edges)} links over {count - 1} tiers: origins on the left, "
                  f"the recipient of {chain.number} on the right; each link is as wide as "
                  "the CoC quantity passed. The tables below list every document.",
                  "chain-graph")
    for col in range(count):
        if graph.columns[col]:
            parts.append(f'<text x="{x(col) + node_w / 2:.1f}" y="18" font-size="12" '
                         f'font-weight="600" text-anchor="middle">{column_label(col)}</text>')
    for e in sorted(graph.edges, key=lambda e: -e.kilograms):
        w = max(2.0, max_width * e.kilograms / heaviest)
        x0 = x(e.source[0]) + node_w
        y0 = y(*e.source) + node_h / 2
        x1 = x(e.target[0])
        y1 = y(*e.target) + node_h / 2
        mid = (x0 + x1) / 2
        docs = ", ".join(e.numbers[:5]) + (f" and {len(e.numbers) - 5} more"
                                           if len(e.numbers) > 5 else "")
        tip = (f"{e.source[1]} → {e.target[1]}: {_exact(e.kilograms)} of "
               f"{_material(e.material)} in {len(e.numbers)} document"
               f"{'s' if len(e.numbers) != 1 else ''} ({docs})")
        parts.append(f'<path class="chain-edge" d="M{x0:.1f},{y0:.1f} C{mid:.1f},{y0:.1f} '
                     f'{mid:.1f},{y1:.1f} {x1:.1f},{y1:.1f}" fill="none" '
                     f'stroke="{MATERIAL_COLOURS.get(e.material, "#777")}" '
                     f'stroke-opacity="0.55" stroke-width="{w:.1f}" data-kg="{e.kilograms}" '
                     f'data-tier="{e.tier}"><title>{escape(tip)}</title></path>')
    for col, names in enumerate(graph.columns):
        for name in names:
            top_y = y(col, name)
            parts.append(f'<g class="chain-node" data-column="{col}" '
                         f'data-party={quoteattr(name)}><title>{escape(name)}</title>'
                         f'<rect x="{x(col):.1f}" y="{top_y:.1f}" width="{node_w}" '
                         f'height="{node_h}" rx="4" fill="#fff" stroke="#33414d"/>'
                         f'<text x="{x(col) + 8:.1f}" y="{top_y + node_h / 2 + 4:.1f}" '
                         f'font-size="12">{escape(_short(name))}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


# --- a document's carbon footprint ------------------------------------------------------

TIER_COLOURS = ("#3f6fae", "#7a9a3a", "#c0812f", "#8a5aa8", "#2f8a8a", "#b5651d", "#777",
                "#555")


def footprint_svg(footprint: DocumentFootprint | None, *, width: int = 720,
                  bar: int = 34) -> str:
    """The footprint per kg as one bar, a segment per row of its breakdown as long as
    what it contributes, tier 0 (the issuer) on the left; secondary data hatched. Each
    segment's title holds its exact figure; the table beside it holds them all."""
    if footprint is None or not footprint.known or not footprint.tiers:
        return ""
    total = footprint.kg_co2e_per_kg or 0
    if not total:
        return ""
    left, right, top = 8, 8, 22
    usable = width - left - right
    height = top + bar + 28
    parts = _open("footprint", width, height,
                  f"Carbon footprint: {footprint.kg_co2e_per_kg} kg CO2e per kg",
                  "One bar as long as the footprint per kg; each segment is what one "
                  "entity's process at one tier of the chain contributes, the document's "
                  "issuer (tier 0) first. Hatched segments are secondary or default data. "
                  "The table beside the picture holds the same figures.", "footprint")
    parts.append('<defs><pattern id="footprint-hatch" width="6" height="6" '
                 'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
                 '<line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-width="2.5"/>'
                 '</pattern></defs>')
    parts.append(f'<text x="{left}" y="{top - 8}" font-size="12">0</text>')
    parts.append(f'<text x="{width - right}" y="{top - 8}" font-size="12" text-anchor="end">'
                 f'{escape(str(total))} kg CO2e/kg</text>')
    x = float(left)
    for row in footprint.tiers:
        w = usable * float(row.kg_co2e_per_kg / total)
        colour = TIER_COLOURS[min(row.tier, len(TIER_COLOURS) - 1)]
        who = (row.entity or "an entity") + (f" in {row.country}" if row.country else "")
        tip = (f"Tier {row.tier}: {who}, {label(row.process)}: {row.kg_co2e_per_kg} kg "
               f"CO2e per kg ({row.percent} %), {'primary' if row.primary else 'secondary'} "
               "data")
        parts.append(f'<g data-tier="{row.tier}" data-kg-co2e-per-kg="{row.kg_co2e_per_kg}">'
                     f'<rect x="{x:.2f}" y="{top}" width="{w:.2f}" height="{bar}" '
                     f'fill="{colour}" stroke="#fff" stroke-width="1">'
                     f'<title>{escape(tip)}</title></rect>')
        if not row.primary:
            parts.append(f'<rect x="{x:.2f}" y="{top}" width="{w:.2f}" height="{bar}" '
                         f'fill="url(#footprint-hatch)"/>')
        if w > 56:
            parts.append(f'<text x="{x + 4:.2f}" y="{top + bar / 2 + 4:.1f}" font-size="11" '
                         f'fill="#fff">T{row.tier} {escape(str(row.percent))} %</text>')
        parts.append("</g>")
        x += w
    parts.append(f'<text x="{left}" y="{top + bar + 18}" font-size="12">Tier 0 is the '
                 f'document\'s issuer; tier 1 its suppliers; and so on up the chain.</text>')
    parts.append("</svg>")
    return "".join(parts)
