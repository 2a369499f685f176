"""Maps of facilities, drawn on the server as one self-contained SVG (no tiles, no network,
no JavaScript).

The country outlines are Natural Earth's admin-0 polygons (public domain) as the
``geo-intel-offline`` package ships them (latitude/longitude pairs, MIT-licensed package).
They are read once per process, projected with the Equal Earth projection (Šavrič, Patterson
and Jenny, 2018: equal-area, pleasant shapes, a closed formula) and simplified once per
level of detail with Douglas-Peucker; a page only scales, clips and rounds them.

The projection and the simplification are plain functions on floats and are unit-tested;
the drawing takes markers (a place, a link and a label) and returns markup in which every
piece of text is escaped.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from html import escape
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

Point = tuple[float, float]
Ring = tuple[Point, ...]

# --- the Equal Earth projection ---------------------------------------------------------

A1, A2, A3, A4 = 1.340264, -0.081106, 0.000893, 0.003796
_M = math.sqrt(3) / 2


def equal_earth(lon: float, lat: float) -> Point:
    """Project a longitude and latitude (degrees) to Equal Earth x, y on the unit sphere;
    y grows northwards. The world spans x in ±2.7066 and y in ±1.3173."""
    lam = math.radians(lon)
    theta = math.asin(_M * math.sin(math.radians(lat)))
    t2 = theta * theta
    t6 = t2 * t2 * t2
    x = 2 * math.sqrt(3) * lam * math.cos(theta) / (
        3 * (A1 + 3 * A2 * t2 + t6 * (7 * A3 + 9 * A4 * t2)))
    y = theta * (A1 + A2 * t2 + t6 * (A3 + A4 * t2))
    return x, y


X_MAX = equal_earth(180, 0)[0]
Y_MAX = equal_earth(0, 90)[1]


@dataclass(frozen=True)
class View:
    """A window on the projected plane (x0 < x1, y0 < y1) drawn ``width`` units wide."""

    x0: float
    y0: float
    x1: float
    y1: float
    width: int

    @property
    def scale(self) -> float:
        return self.width / (self.x1 - self.x0)

    @property
    def height(self) -> int:
        return math.ceil((self.y1 - self.y0) * self.scale - 1e-9)

    def to_px(self, x: float, y: float) -> Point:
        """Projected x, y to the drawing's units: origin top left, y downwards."""
        return (x - self.x0) * self.scale, (self.y1 - y) * self.scale

    def contains(self, x: float, y: float) -> bool:
        return self.x0 <= x <= self.x1 and self.y0 <= y <= self.y1

    def overlaps(self, box: tuple[float, float, float, float]) -> bool:
        bx0, by0, bx1, by1 = box
        return bx0 <= self.x1 and bx1 >= self.x0 and by0 <= self.y1 and by1 >= self.y0


def world_view(width: int = 960) -> View:
    return View(-X_MAX, -Y_MAX, X_MAX, Y_MAX, width)


def region_view(lon: float, lat: float, *, half_width: float = 0.32, width: int = 960) -> View:
    """A window of 2:1 around a place (``half_width`` in projected units: 0.32 is about
    20 degrees of longitude at the equator), moved back inside the world at its edges."""
    cx, cy = equal_earth(lon, lat)
    half_height = half_width / 2
    cx = min(max(cx, -X_MAX + half_width), X_MAX - half_width)
    cy = min(max(cy, -Y_MAX + half_height), Y_MAX - half_height)
    return View(cx - half_width, cy - half_height, cx + half_width, cy + half_height, width)


# --- simplification ---------------------------------------------------------------------


def _distance_to_segment(p: Point, a: Point, b: Point) -> float:
    (px, py), (ax, ay), (bx, by) = p, a, b
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    if length2 == 0:
        return math.hypot(px - ax, py - ay)
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def _radial(points: Sequence[Point], tolerance: float) -> list[Point]:
    """Drop each point closer than ``tolerance`` to the last one kept (a cheap first pass
    that leaves Douglas-Peucker far fewer points); the last point is always kept."""
    kept = [points[0]]
    for p in points[1:-1]:
        if math.hypot(p[0] - kept[-1][0], p[1] - kept[-1][1]) > tolerance:
            kept.append(p)
    kept.append(points[-1])
    return kept


def simplify(points: Sequence[Point], tolerance: float) -> list[Point]:
    """Fewer of ``points``, in order, first and last always kept: a radial pass, then
    Douglas-Peucker. No dropped point lies farther than twice ``tolerance`` from the line
    through those kept (``tolerance`` alone after the Douglas-Peucker step)."""
    if len(points) < 3 or tolerance <= 0:
        return list(points)
    points = _radial(points, tolerance)
    if len(points) < 3:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        far, index = 0.0, -1
        for i in range(first + 1, last):
            d = _distance_to_segment(points[i], points[first], points[last])
            if d > far:
                far, index = d, i
        if index >= 0 and far > tolerance:
            keep[index] = True
            stack.append((first, index))
            stack.append((index, last))
    return [p for p, kept in zip(points, keep, strict=True) if kept]


def ring_path(points: Iterable[Point]) -> str:
    """One closed ring as compact path data: an absolute move, then relative lines in
    whole drawing units; repeated points dropped; '' for a ring that rounds to a dot or
    a line."""
    rounded: list[tuple[int, int]] = []
    for x, y in points:
        p = (round(x), round(y))
        if not rounded or rounded[-1] != p:
            rounded.append(p)
    if len(rounded) > 1 and rounded[0] == rounded[-1]:
        rounded.pop()
    doubled_area = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1)
                       in zip(rounded, [*rounded[1:], rounded[0]], strict=True))
    if len(set(rounded)) < 3 or doubled_area == 0:
        return ""
    (x0, y0), out = rounded[0], []
    px, py = x0, y0
    for x, y in rounded[1:]:
        out.append(f"{x - px} {y - py}")
        px, py = x, y
    return f"M{x0} {y0}l" + " ".join(out).replace(" -", "-") + "z"


# --- the outlines, once per process -----------------------------------------------------

WORLD_TOLERANCE = 0.004  # projected units: under a pixel on a 960-unit world map
REGION_TOLERANCE = 0.001  # about a pixel and a half on a 960-unit window 0.64 units wide


def outlines_file() -> Path:
    """Where the installed package keeps its polygons (found without importing it)."""
    spec = importlib.util.find_spec("geo_intel_offline")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the geo-intel-offline package (country outlines) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "polygons.json.gz"


@dataclass(frozen=True)
class Shape:
    box: tuple[float, float, float, float]
    rings: tuple[Ring, ...]


def _box(rings: Iterable[Ring]) -> tuple[float, float, float, float]:
    xs = [x for r in rings for x, _ in r]
    ys = [y for r in rings for _, y in r]
    return min(xs), min(ys), max(xs), max(ys)


@cache
def _projected() -> tuple[Shape, ...]:
    try:
        with gzip.open(outlines_file(), "rt", encoding="utf-8") as fh:
            raw: dict[str, dict[str, Any]] = json.load(fh)
    except (RuntimeError, OSError, ValueError) as exc:
        # A page must not fail for want of a picture: the markers are drawn on an empty
        # sea, and the log says what to install.
        log.warning("facility maps without country outlines: %s", exc)
        return ()
    shapes = []
    for country in raw.values():
        rings = [*(country.get("exteriors") or [country["exterior"]]), *country["holes"]]
        projected = tuple(tuple(equal_earth(lon, lat) for lat, lon in ring)
                          for ring in rings if len(ring) >= 3)
        if projected:
            shapes.append(Shape(_box(projected), projected))
    return tuple(shapes)


@cache
def outlines(tolerance: float) -> tuple[Shape, ...]:
    """Every country's rings, projected and simplified to ``tolerance``; cached."""
    out = []
    # The world's coarse outlines start from the regions' finer ones: the same result in
    # a fraction of the time.
    source = _projected() if tolerance <= REGION_TOLERANCE else outlines(REGION_TOLERANCE)
    for shape in source:
        rings = tuple(tuple(simplify(r, tolerance)) for r in shape.rings)
        rings = tuple(r for r in rings if len(r) >= 4)
        if rings:
            out.append(Shape(shape.box, rings))
    return tuple(out)


def land_path(view: View, tolerance: float) -> str:
    """Path data of every ring that overlaps the view (the SVG clips the rest)."""
    parts = []
    for shape in outlines(tolerance):
        if not view.overlaps(shape.box):
            continue
        for ring in shape.rings:
            d = ring_path(view.to_px(x, y) for x, y in ring)
            if d:
                parts.append(d)
    return "".join(parts)


# --- markers and the drawing ------------------------------------------------------------


class Located(Protocol):
    id: str
    name: str
    country_name: str
    latitude: Decimal | None
    longitude: Decimal | None


@dataclass(frozen=True)
class Marker:
    lon: float
    lat: float
    href: str
    label: str
    current: bool = False


def facility_markers(facilities: Iterable[Located], current: str | None = None) -> list[Marker]:
    """A marker per facility that has coordinates, linking to its page."""
    return [Marker(float(f.longitude), float(f.latitude), f"/facilities/{f.id}",
                   f"{f.name}, {f.country_name} ({f.id})", current=f.id == current)
            for f in facilities if f.latitude is not None and f.longitude is not None]


SEA, LAND, BORDER, DOT, CURRENT = "#eaf2f6", "#d3dde3", "#ffffff", "#1f6f8b", "#b3261e"


def _marker(view: View, m: Marker) -> str:
    x, y = view.to_px(*equal_earth(m.lon, m.lat))
    attrs = ' class="map-marker map-marker-current" aria-current="page"' if m.current \
        else ' class="map-marker"'
    r, fill = (9, CURRENT) if m.current else (6, DOT)
    return (f'<a href="{escape(m.href)}"{attrs}><title>{escape(m.label)}</title>'
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{fill}" stroke="#fff" '
            f'stroke-width="2"/></a>')


def draw(view: View, markers: Sequence[Marker], *, title: str, desc: str, map_id: str,
         tolerance: float = WORLD_TOLERANCE) -> str:
    """The SVG: a group of the outlines as one image, then one link per marker in the
    view (the current one last, so on top). The svg is a group, not an image, because
    an image's children are hidden from assistive technology and the links must not be."""
    shown = sorted((m for m in markers if view.contains(*equal_earth(m.lon, m.lat))),
                   key=lambda m: m.current)
    w, h = view.width, view.height
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="facility-map" role="group" '
        f'viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        f'aria-labelledby="{map_id}-title {map_id}-desc" id="{map_id}">'
        f'<title id="{map_id}-title">{escape(title)}</title>'
        f'<desc id="{map_id}-desc">{escape(desc)}</desc>'
        f'<g role="img" aria-label="Country outlines (Natural Earth)">'
        f'<rect width="{w}" height="{h}" fill="{SEA}"/>'
        f'<path d="{land_path(view, tolerance)}" fill="{LAND}" fill-rule="evenodd" '
        f'stroke="{BORDER}" stroke-width="0.6" stroke-linejoin="round"/></g>'
        f'<g class="map-markers">{"".join(_marker(view, m) for m in shown)}</g></svg>')


def world_map(markers: Sequence[Marker], *, title: str, desc: str,
              map_id: str = "facility-map") -> str:
    return draw(world_view(), markers, title=title, desc=desc, map_id=map_id)


def region_map(markers: Sequence[Marker], lon: float, lat: float, *, title: str, desc: str,
               map_id: str = "facility-map") -> str:
    return draw(region_view(lon, lat), markers, title=title, desc=desc, map_id=map_id,
                tolerance=REGION_TOLERANCE)
