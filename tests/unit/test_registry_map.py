"""The facility map's pure parts: the Equal Earth projection, the simplification of the
outlines, the path data, and the drawing of markers."""

from __future__ import annotations

import itertools
import math
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stewardship.registry import map as fmap

lons = st.floats(min_value=-180, max_value=180, allow_nan=False)
lats = st.floats(min_value=-90, max_value=90, allow_nan=False)


def test_equal_earth_origin_and_extents() -> None:
    assert fmap.equal_earth(0, 0) == (0.0, 0.0)
    # The published extents of Equal Earth on the unit sphere.
    assert fmap.equal_earth(180, 0)[0] == pytest.approx(2.706630, abs=1e-6)
    assert fmap.equal_earth(0, 90)[1] == pytest.approx(1.317363, abs=1e-6)
    # The pole is a line, not a point: shorter than the equator, not zero.
    assert 0 < fmap.equal_earth(180, 90)[0] < fmap.equal_earth(180, 0)[0]


@given(lons, lats)
def test_equal_earth_is_symmetric_and_keeps_order(lon: float, lat: float) -> None:
    x, y = fmap.equal_earth(lon, lat)
    assert fmap.equal_earth(-lon, lat) == pytest.approx((-x, y))
    assert fmap.equal_earth(lon, -lat) == pytest.approx((x, -y))
    assert abs(x) <= fmap.X_MAX + 1e-9 and abs(y) <= fmap.Y_MAX + 1e-9
    # North is up and east is right: a point further north or east projects so.
    if lat < 89:
        assert fmap.equal_earth(lon, lat + 1)[1] > y
    if lon < 179 and abs(lat) < 90:
        assert fmap.equal_earth(lon + 1, lat)[0] > x


def _cell_area(lon: float, lat: float, step: float = 0.01) -> float:
    (x0, y0), (x1, _), (_, y2) = (fmap.equal_earth(lon, lat), fmap.equal_earth(lon + step, lat),
                                  fmap.equal_earth(lon, lat + step))
    return abs((x1 - x0) * (y2 - y0))


def test_equal_earth_keeps_areas() -> None:
    """Equal area: a small cell's projected area is its area on the sphere (proportional
    to the cosine of its latitude), everywhere."""
    base = _cell_area(10, 0)
    for lat in (20, 45, 60, 75):
        assert _cell_area(10, lat) / base == pytest.approx(math.cos(math.radians(lat)), rel=2e-3)


def test_views_map_corners_and_stay_inside_the_world() -> None:
    world = fmap.world_view(960)
    assert world.to_px(-fmap.X_MAX, fmap.Y_MAX) == pytest.approx((0, 0))
    assert world.to_px(fmap.X_MAX, -fmap.Y_MAX) == pytest.approx((960, world.height), abs=1)
    assert world.height == math.ceil(960 * fmap.Y_MAX / fmap.X_MAX)
    region = fmap.region_view(5.857, 61.45)
    assert region.contains(*fmap.equal_earth(5.857, 61.45))
    assert region.height == 480
    # Near a pole or the date line the window moves in, the same size, around the place.
    east, north = fmap.region_view(179.5, 0), fmap.region_view(0, 89.5)
    assert east.x1 == pytest.approx(fmap.X_MAX) and north.y1 == pytest.approx(fmap.Y_MAX)
    assert east.x1 - east.x0 == pytest.approx(region.x1 - region.x0)
    assert east.contains(*fmap.equal_earth(179.5, 0))
    assert north.contains(*fmap.equal_earth(0, 89.5))


def test_distance_to_segment() -> None:
    assert fmap._distance_to_segment((0, 1), (-1, 0), (1, 0)) == pytest.approx(1)
    assert fmap._distance_to_segment((3, 0), (-1, 0), (1, 0)) == pytest.approx(2)
    assert fmap._distance_to_segment((1, 1), (0, 0), (0, 0)) == pytest.approx(math.sqrt(2))


def test_simplify_drops_points_on_a_line_and_keeps_corners() -> None:
    line = [(float(i), 0.0) for i in range(11)]
    assert fmap.simplify(line, 0.1) == [(0.0, 0.0), (10.0, 0.0)]
    corner = [(0.0, 0.0), (5.0, 0.02), (10.0, 0.0), (10.0, 5.0), (10.0, 10.0)]
    assert fmap.simplify(corner, 0.1) == [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0)]
    assert fmap.simplify(corner, 0) == corner
    assert fmap.simplify(corner[:2], 5) == corner[:2]


points = st.lists(st.tuples(st.floats(-100, 100), st.floats(-100, 100)), min_size=3,
                  max_size=60)


@given(points, st.floats(0.01, 20))
def test_simplify_keeps_ends_order_and_stays_close(pts: list[tuple[float, float]],
                                                   tolerance: float) -> None:
    kept = fmap.simplify(pts, tolerance)
    assert kept[0] == pts[0] and kept[-1] == pts[-1]
    # A subsequence of the input, in its order.
    it = iter(pts)
    assert all(any(p == q for q in it) for p in kept)
    # Every dropped point lies near the line kept.
    segments = list(itertools.pairwise(kept)) or [(kept[0], kept[0])]
    for p in pts:
        assert min(fmap._distance_to_segment(p, a, b) for a, b in segments) \
            <= 2 * tolerance + 1e-9


def test_ring_path_is_relative_whole_units_and_skips_dots() -> None:
    square = [(10.2, 10.4), (20.0, 10.0), (20.0, 19.6), (10.0, 20.0), (10.0, 10.0)]
    assert fmap.ring_path(square) == "M10 10l10 0 0 10-10 0z"
    assert fmap.ring_path([(1.0, 1.0), (1.2, 1.1), (0.9, 1.3), (1.0, 1.0)]) == ""
    assert fmap.ring_path([(0.0, 0.0), (5.0, 0.0), (10.0, 0.0)]) == ""


def test_markers_only_for_facilities_with_coordinates() -> None:
    sites = [SimpleNamespace(id="NO1", name="Fjord <Smelter>", country_name="Norway",
                             latitude=Decimal("61.45"), longitude=Decimal("5.86")),
             SimpleNamespace(id="DE1", name="Mill", country_name="Germany", latitude=None,
                             longitude=None)]
    markers = fmap.facility_markers(sites, current="NO1")
    assert markers == [fmap.Marker(5.86, 61.45, "/facilities/NO1",
                                   "Fjord <Smelter>, Norway (NO1)", current=True)]


def test_a_drawing_has_title_outline_and_a_link_per_marker_in_view() -> None:
    markers = [fmap.Marker(5.86, 61.45, "/facilities/A", "Fjord & Smelter"),
               fmap.Marker(-47.9, -15.8, "/facilities/B", "Brasília", current=True)]
    svg = fmap.world_map(markers, title="Map <of> two", desc="Both sites.", map_id="m1")
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert '<title id="m1-title">Map &lt;of&gt; two</title>' in svg
    assert 'aria-labelledby="m1-title m1-desc"' in svg and 'role="img"' in svg
    links = re.findall(r'<a href="([^"]+)"[^>]*><title>([^<]+)</title>', svg)
    # The current facility is drawn last, on top of the others.
    assert links == [("/facilities/A", "Fjord &amp; Smelter"), ("/facilities/B", "Brasília")]
    assert svg.count('aria-current="page"') == 1
    land = re.search(r'<path d="([^"]+)"', svg)
    assert land and land.group(1).count("M") > 150  # the world's countries and islands
    # Page weight: the world's outlines stay small.
    assert len(svg.encode()) < 45_000
    # A region shows what is in its window only.
    region = fmap.region_map(markers, 5.86, 61.45, title="t", desc="d")
    assert "/facilities/A" in region and "/facilities/B" not in region
    assert len(region.encode()) < 60_000
