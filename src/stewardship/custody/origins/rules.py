"""Pure rules of where CoC material came from and of the shares shown of a whole: the
stages of the chain (bauxite mine, alumina refinery, smelter or remelter), an origin kept
stage by stage, the largest-remainder split of whole units and the percent shares that
add up to exactly 100.00; and the provenance pool that carries these origins (kg per
origin and mass-weighted attributes), with what may be taken from it, added or removed.

No I/O here; `custody.rules` imports these names and is where the services find them.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple, TypeVar

import stewardship.core.labels as labels
import stewardship.custody.footprints.rules as fp
from stewardship.custody.footprints.rules import Footprint

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


STAGE_LABELS = {s: labels.STAGES[s.value] for s in Stage}

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


# --- the pool ---------------------------------------------------------------------------


class LedgerError(ValueError):
    """An operation the mass balance refuses."""


def whole_kilograms(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise LedgerError(f"{what} is a whole number of kilograms, not {value!r}")
    if value <= 0:
        raise LedgerError(f"{what} must be positive, got {value} kg")
    return value


@dataclass(frozen=True)
class Pool:
    """A mass-weighted composition: kg per origin, and per attribute the mass-weighted
    sum (kg x value per kg), so any per-kg attribute rides along; and the carbon
    footprint of the whole (``footprints.rules``), in whole milligrams beside it. A pool
    without one (``footprint`` None: stored before footprints were kept) reads as
    unknown for all its kilograms."""

    parts: Mapping[OriginKey, int] = field(default_factory=dict)
    attributes: Mapping[str, Decimal] = field(default_factory=dict)
    footprint: Footprint | None = None

    def __post_init__(self) -> None:
        for key, kg in self.parts.items():
            if isinstance(kg, bool) or not isinstance(kg, int) or kg <= 0:
                raise LedgerError(f"pool part {key} must be positive whole kg, not {kg!r}")
        if self.footprint is not None and self.footprint.kilograms != self.kilograms:
            raise LedgerError(f"the footprint covers {self.footprint.kilograms} kg of a "
                              f"{self.kilograms} kg pool")

    @property
    def kilograms(self) -> int:
        return sum(self.parts.values())


def pool_of(key: OriginKey, kilograms: int,
            per_kg: Mapping[str, Decimal] | None = None,
            footprint: Footprint | None = None) -> Pool:
    """A pool of one origin; `per_kg` gives attribute values per kilogram, `footprint`
    the carbon footprint of the kilograms."""
    whole_kilograms(kilograms, "pool mass")
    return Pool({key: kilograms},
                {name: value * kilograms for name, value in (per_kg or {}).items()},
                footprint)


def footprint_of(pool: Pool) -> Footprint:
    """The pool's footprint; unknown for every kilogram of a pool stored without one."""
    return pool.footprint if pool.footprint is not None else fp.unknown(pool.kilograms)


def add(pool: Pool, other: Pool) -> Pool:
    parts = dict(pool.parts)
    for key, kg in other.parts.items():
        parts[key] = parts.get(key, 0) + kg
    attributes = dict(pool.attributes)
    for name, value in other.attributes.items():
        attributes[name] = attributes.get(name, Decimal(0)) + value
    footprint = None if pool.footprint is None and other.footprint is None else fp.mix(
        footprint_of(pool), footprint_of(other))
    return Pool(parts, attributes, footprint)


def remove(pool: Pool, part: Pool) -> Pool:
    """`pool` without `part` (a reversed entry's origins), refused unless every origin of
    it is still wholly there: what later documents took in proportion has left, named,
    and is not taken from other origins. Attribute sums fall by the part's, not below 0."""
    parts = dict(pool.parts)
    for key, kg in sorted(part.parts.items()):
        if parts.get(key, 0) < kg:
            raise LedgerError(f"of the {kg} kg from {key.facility_id} ({key.country}, "
                              f"{key.route.value}) only {parts.get(key, 0)} kg remain in "
                              "the balance; the rest has left in later documents or "
                              "transformations")
        parts[key] -= kg
    parts = {k: kg for k, kg in parts.items() if kg}
    attributes = {n: max(v - part.attributes.get(n, Decimal(0)), Decimal(0))
                  for n, v in pool.attributes.items()} if parts else {}
    footprint = None if pool.footprint is None and part.footprint is None else fp.remove(
        footprint_of(pool), footprint_of(part), sum(parts.values()))
    return Pool(parts, attributes, footprint)


def take(pool: Pool, kilograms: int) -> tuple[Pool, Pool]:
    """Split off `kilograms` in proportion to the composition: (taken, remaining).
    Largest remainder rounding: the taken parts sum to exactly `kilograms` and every
    part is within 1 kg of its exact share; attributes split exactly by mass."""
    whole_kilograms(kilograms, "kilograms taken")
    total = pool.kilograms
    if kilograms > total:
        raise LedgerError(f"cannot take {kilograms} kg from a pool of {total} kg")
    split = apportion(pool.parts, kilograms)
    taken = {k: kg for k, kg in split.items() if kg}
    remaining = {k: kg - split[k] for k, kg in sorted(pool.parts.items()) if kg - split[k]}
    taken_attrs = {n: v * kilograms / total for n, v in pool.attributes.items()}
    remaining_attrs = {n: v - taken_attrs[n] for n, v in pool.attributes.items()}
    if pool.footprint is None:
        return Pool(taken, taken_attrs), Pool(remaining, remaining_attrs)
    taken_fp, left_fp = fp.draw(pool.footprint, kilograms)
    return Pool(taken, taken_attrs, taken_fp), Pool(remaining, remaining_attrs, left_fp)


def shares(pool: Pool) -> dict[OriginKey, Decimal]:
    """Percent of the pool per origin (`percent_shares`: they add up to 100.00)."""
    return dict(sorted(percent_shares(pool.parts).items()))


def route_shares(pool: Pool) -> dict[Route, Decimal]:
    """Percent of the pool per route, primary and recycled (`percent_shares`: they add up
    to 100.00, or are both 0.00 for an empty pool)."""
    by_route = {route: 0 for route in Route}
    for key, kg in pool.parts.items():
        by_route[key.route] += kg
    return percent_shares(by_route)


def route_share(pool: Pool, route: Route) -> Decimal:
    """Percent of the pool from `route` (primary or recycled), as `route_shares`."""
    return route_shares(pool)[route]


def attribute_per_kg(pool: Pool, name: str) -> Decimal | None:
    """The mass-weighted average of an attribute, or None when the pool lacks it."""
    if name not in pool.attributes or pool.kilograms == 0:
        return None
    return pool.attributes[name] / pool.kilograms


def scale(pool: Pool, kilograms: int) -> Pool:
    """The same composition carried by `kilograms` (a transformation's output): parts
    rescaled with largest-remainder rounding so they sum to exactly `kilograms`; the
    attribute sums are kept whole, so a per-kg attribute (a footprint) rises as the yield
    loses mass."""
    whole_kilograms(kilograms, "scaled pool mass")
    total = pool.kilograms
    if total == 0:
        raise LedgerError("cannot scale an empty pool")
    split = apportion(pool.parts, kilograms)
    footprint = None if pool.footprint is None else fp.rescale(pool.footprint, kilograms)
    return Pool({k: kg for k, kg in split.items() if kg}, dict(pool.attributes), footprint)


def pool_to_data(pool: Pool) -> dict[str, object]:
    """The pool as JSON data: parts sorted, each ``[facility id, country, route, kg,
    stage, [[stage, facility id, country], ...]]`` (the first level, then its upstream
    sites), attributes as decimal strings, and the footprint where it has one
    (``footprints.rules.to_data``)."""
    data: dict[str, object] = {
        "parts": [[k.facility_id, k.country, k.route.value, kg, k.stage.value,
                   [[s.stage.value, s.facility_id, s.country] for s in k.upstream]]
                  for k, kg in sorted(pool.parts.items())],
        "attributes": {n: str(v) for n, v in sorted(pool.attributes.items())}}
    if pool.footprint is not None:
        data["footprint"] = fp.to_data(pool.footprint)
    return data


def pool_from_data(data: Mapping[str, object] | None) -> Pool:
    """The pool stored by `pool_to_data`. A part stored before stages were kept,
    ``[facility id, country, route, kg]``, reads as an origin of the remelter stage on the
    recycled route (scrap only ever entered at a remelter), else of an unrecorded stage.
    Never rewritten: a document's composition is covered by its digest at issue."""
    if not data:
        return Pool()
    parts_data = data.get("parts") or []
    attrs_data = data.get("attributes") or {}
    assert isinstance(parts_data, list) and isinstance(attrs_data, dict)
    parts: dict[OriginKey, int] = {}
    for f, c, r, kg, *staged in parts_data:
        route = Route(str(r))
        if staged:
            stage_value, upstream = staged
            key = OriginKey(str(f), str(c), route, Stage(str(stage_value)),
                            tuple(Site(Stage(str(s)), str(sf), str(sc))
                                  for s, sf, sc in upstream))
        else:
            key = OriginKey(str(f), str(c), route, Stage.REMELTER if route is
                            Route.RECYCLED else Stage.UNRECORDED)
        parts[key] = parts.get(key, 0) + int(kg)
    footprint_data = data.get("footprint")
    footprint = None
    if footprint_data is not None:
        try:
            footprint = fp.from_data(footprint_data)  # type: ignore[arg-type]
        except (ValueError, TypeError, AttributeError):
            footprint = fp.unknown(sum(parts.values()), fp.DAMAGED)
    if footprint is not None and footprint.kilograms != sum(parts.values()):
        # Not what the platform wrote (the audit names it): unknown, never a guess.
        footprint = fp.unknown(sum(parts.values()), fp.DAMAGED)
    return Pool(parts, {str(n): Decimal(str(v)) for n, v in attrs_data.items()}, footprint)
