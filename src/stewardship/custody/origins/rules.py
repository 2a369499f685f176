"""Pure rules of where CoC material came from and of the shares shown of a whole: the
stages of the chain (bauxite mine, alumina refinery, smelter or remelter), an origin kept
stage by stage, the largest-remainder split of whole units and the percent shares that
add up to exactly 100.00. The pool (`custody.rules.Pool`) carries these origins.

No I/O here; `custody.rules` imports these names and is where the services find them.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple, TypeVar

if TYPE_CHECKING:
    from _typeshed import SupportsRichComparison

K = TypeVar("K", bound="SupportsRichComparison")


class Route(StrEnum):
    """Primary metal (from bauxite) or recycled (from eligible scrap)."""

    PRIMARY = "primary"
    RECYCLED = "recycled"


class Stage(StrEnum):
    """The stage of the chain a site of origin stands for."""

    SMELTER = "smelter"
    REMELTER = "remelter"
    REFINERY = "refinery"
    MINE = "bauxite_mine"
    UNRECORDED = "unrecorded"
    """A stored origin from before stages were kept, where the stage cannot be told."""

    @property
    def label(self) -> str:
        return STAGE_LABELS[self]


STAGE_LABELS = {
    Stage.SMELTER: "Smelter",
    Stage.REMELTER: "Remelter",
    Stage.REFINERY: "Alumina refinery",
    Stage.MINE: "Bauxite mine",
    Stage.UNRECORDED: "Origin (stage not recorded)",
}

# Latest stage first: the metal's smelter or remelter, then the refinery, then the mine.
STAGE_RANK = {Stage.SMELTER: 0, Stage.REMELTER: 0, Stage.REFINERY: 1, Stage.MINE: 2,
              Stage.UNRECORDED: 3}


class Site(NamedTuple):
    """One stage's facility and its country (ISO 3166-1 alpha-2)."""

    stage: Stage
    facility_id: str
    country: str


class OriginKey(NamedTuple):
    """Where one part of a pool came from, stage by stage. The first level (facility,
    country, stage) is the latest stage: the smelter or remelter of the metal, the
    refinery of alumina, the mine of bauxite. `upstream` holds the earlier stages known
    for it, latest first (for smelted metal: its refinery, then its mine)."""

    facility_id: str
    country: str
    route: Route
    stage: Stage = Stage.UNRECORDED
    upstream: tuple[Site, ...] = ()

    @property
    def site(self) -> Site:
        return Site(self.stage, self.facility_id, self.country)

    @property
    def sites(self) -> tuple[Site, ...]:
        return (self.site, *self.upstream)


def origin_key(route: Route, sites: Iterable[Site]) -> OriginKey:
    """The key of an origin with these sites (one per stage), ordered latest first."""
    ordered = sorted(sites, key=lambda s: STAGE_RANK[s.stage])  # sorted is stable
    if not ordered:
        raise ValueError("an origin names at least one site")
    if len({s.stage for s in ordered}) != len(ordered):
        raise ValueError("an origin names one site per stage")
    first, *rest = ordered
    return OriginKey(first.facility_id, first.country, route, first.stage, tuple(rest))


def apportion(parts: Mapping[K, int], amount: int) -> dict[K, int]:
    """`amount` shared over `parts` in proportion (largest remainder): each key gets the
    floor of its exact share, and the units still missing go one each to the keys with
    the largest remainders; equal remainders go to the lower key (for an origin: facility
    id, then country, then route), so a split never depends on insertion order. The
    shares sum to exactly `amount` and each is within 1 unit of its exact share."""
    total = sum(parts.values())
    keys = sorted(parts)
    floors = {k: parts[k] * amount // total for k in keys}
    rests = {k: parts[k] * amount % total for k in keys}
    missing = amount - sum(floors.values())
    for k in sorted(keys, key=lambda k: -rests[k])[:missing]:  # sorted is stable
        floors[k] += 1
    return floors


HUNDREDTHS = 10_000
"""100.00 % in hundredths of a percent: the unit every shown share is counted in."""


def percent_shares(weights: Mapping[K, int]) -> dict[K, Decimal]:
    """Each key's share of the whole, in percent with 2 decimals, such that the shares
    shown always add up to exactly 100.00 and no real share shows as 0.00.

    The rule: the 10,000 hundredths of a percent are apportioned by the largest
    remainder method (each key gets the floor of its exact share in hundredths; the
    hundredths still missing go one each to the largest remainders, equal remainders to
    the lower key). Then every key with a positive weight that got no hundredth gets the
    minimum of 0.01, taken from the key standing furthest above its exact share among
    those keeping at least 0.01 (equal excess: the lower key). Each share is so within
    0.02 of its exact value (within 0.01 when no minimum was needed). A zero weight
    shares nothing (0.00); with no weight at all every share is 0.00. (The minimum holds
    for up to 10,000 positive weights; beyond, the smallest keep 0.00.)"""
    for key, w in weights.items():
        if isinstance(w, bool) or not isinstance(w, int) or w < 0:
            raise ValueError(f"the weight of {key} is a non-negative whole number, "
                             f"not {w!r}")
    positive = {k: w for k, w in weights.items() if w}
    if not positive:
        return {k: Decimal("0.00") for k in weights}
    total = sum(positive.values())
    cents = {k: 0 for k in weights}
    cents.update(apportion(positive, HUNDREDTHS))
    # Donors by excess over the exact share (in 1/total of a hundredth), the greatest
    # first, equal excess the lower key (its place in key order).
    order = sorted(positive)
    donors = [(-(cents[k] * total - HUNDREDTHS * positive[k]), i) for i, k in
              enumerate(order) if cents[k] >= 2]
    heapq.heapify(donors)
    for k in sorted(order, key=lambda k: -positive[k]):  # the largest unshown first
        if cents[k] or not donors:
            continue
        minus_excess, i = heapq.heappop(donors)
        cents[order[i]] -= 1
        cents[k] = 1
        if cents[order[i]] >= 2:
            heapq.heappush(donors, (minus_excess + total, i))
    return {k: Decimal(c).scaleb(-2) for k, c in cents.items()}


class UpstreamLevel(NamedTuple):
    """The earlier stages of part of an origin (none known: `sites` is empty), its
    kilograms and its percent of that origin."""

    sites: tuple[Site, ...]
    kilograms: int
    percent: Decimal


class OriginLevel(NamedTuple):
    """The first level of the origins: a latest-stage site and route, its kilograms, its
    percent of the pool and, within it, the second level: where it came from before."""

    site: Site
    route: Route
    kilograms: int
    percent: Decimal
    upstream: tuple[UpstreamLevel, ...]


def origin_levels(parts: Mapping[OriginKey, int]) -> list[OriginLevel]:
    """A pool's origins (its parts) in two levels, largest first (equal kilograms: by site and
    route). The first level groups the parts by their latest stage's site and route, with
    its percent of the pool; the second splits each by its earlier stages, with its
    percent of that first-level origin. Either level's percents add up to 100.00
    (`percent_shares`), however the material entered the chain."""
    groups: dict[tuple[Site, Route], dict[tuple[Site, ...], int]] = {}
    for key, kg in parts.items():
        group = groups.setdefault((key.site, key.route), {})
        group[key.upstream] = group.get(key.upstream, 0) + kg
    totals = {g: sum(parts.values()) for g, parts in groups.items()}
    percents = percent_shares(totals)
    levels = []
    for g in sorted(groups, key=lambda g: (-totals[g], g)):
        within = percent_shares(groups[g])
        upstream = tuple(UpstreamLevel(sites, kg, within[sites]) for sites, kg in
                         sorted(groups[g].items(), key=lambda item: (-item[1], item[0])))
        levels.append(OriginLevel(g[0], g[1], totals[g], percents[g], upstream))
    return levels
