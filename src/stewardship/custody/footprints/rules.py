"""Pure rules of the carbon footprint a custody pool carries beside its origins.

A pool's footprint is kept as whole milligrams of CO2e per contributor (an entity's
process at a tier of the chain: tier 0 is the pool's owner, tier 1 its suppliers, ...),
covering exactly the pool's ``known_kg``; the rest of the pool's kilograms are gaps, each
naming where the footprint was lost (an entity with no inventory for its process, a
document that stated none, material recorded before footprints were kept). A footprint
per kilogram is known only for a pool, or a share drawn from one, without gaps: the
platform states unknown, never zero and never a guess.

Integer milligrams make every step exact: mixing pools adds them, drawing a share splits
them by the largest remainder (taken + left = before), a transformation keeps them whole
over fewer kilograms (the carried footprint per kg is divided by the yield) and adds the
process's own emissions per kilogram of output. Six decimals of kg CO2e per kg are one
milligram per kilogram, so a stated footprint times whole kilograms is again whole
milligrams. Eligible scrap enters burden-free (the recycled-content, or cut-off,
convention): known, with no contribution until the remelter adds its own.

No I/O here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import NamedTuple, TypeVar

T = TypeVar("T")

MG_PER_KG = 1_000_000
"""Milligrams in a kilogram: kg CO2e per kg to six decimals is whole mg per kg."""
PER_KG = Decimal("0.000001")
_CENT = Decimal("0.01")

MAX_TIER = 6
"""Tiers deeper than this are merged into one row per kind of data (primary, secondary)
on a document, so a long chain keeps a compact breakdown."""
MAX_ROWS_PER_TIER = 8
"""Rows of one tier beyond the largest eight are merged likewise ("n other entities")."""

ORIGIN_PROCESSES = {"asi_bauxite": "mining", "asi_alumina": "refining",
                    "asi_aluminium": "smelting"}
"""The process whose emissions an origin's production carries, by the material made."""


class FootprintError(ValueError):
    """A footprint the rules refuse (a programming error or tampered data)."""


class Contributor(NamedTuple):
    """Who added emissions to the material, at which tier, in which process, and
    whether the figure is primary data (the entity's own) or secondary (a default).
    ``merged`` counts the contributors a merged row stands for (0: one real one)."""

    tier: int
    entity_id: str
    entity: str
    organization: str
    country: str
    process: str
    primary: bool = True
    merged: int = 0


class Gap(NamedTuple):
    """Where a footprint was lost: the entity and process with no figure, at a tier.
    ``process`` is ``""`` for material recorded before footprints were kept and
    ``"document"`` for a document that stated no footprint."""

    tier: int
    entity_id: str = ""
    entity: str = ""
    organization: str = ""
    country: str = ""
    process: str = ""


BEFORE_FOOTPRINTS = Gap(0)
"""Material recorded before the platform kept footprints."""
DAMAGED = Gap(0, process="damaged")
"""A stored footprint that does not cover its pool's kilograms (changed behind the
platform's back: the custody audit names it)."""


@dataclass(frozen=True)
class Footprint:
    """The footprint of a pool: ``known_kg`` kilograms whose footprint is known, carrying
    ``mg`` milligrams of CO2e per contributor, and ``gaps``: kilograms per place the
    footprint was lost. ``known_kg`` plus the gaps' kilograms is the pool's mass."""

    known_kg: int = 0
    mg: Mapping[Contributor, int] = field(default_factory=dict)
    gaps: Mapping[Gap, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        values = [self.known_kg, *self.mg.values(), *self.gaps.values()]
        if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in values):
            raise FootprintError("a footprint is non-negative whole mg and kg")
        if self.known_kg == 0 and any(self.mg.values()):
            raise FootprintError("emissions without known kilograms to carry them")

    @property
    def kilograms(self) -> int:
        return self.known_kg + sum(self.gaps.values())

    @property
    def total_mg(self) -> int:
        return sum(self.mg.values())

    @property
    def primary_mg(self) -> int:
        return sum(v for c, v in self.mg.items() if c.primary)

    @property
    def known(self) -> bool:
        """True when every kilogram's footprint is known."""
        return not any(self.gaps.values())


def unknown(kilograms: int, gap: Gap = BEFORE_FOOTPRINTS) -> Footprint:
    """Kilograms whose footprint is not known, lost at `gap`."""
    return Footprint(0, {}, {gap: kilograms} if kilograms else {})


def burden_free(kilograms: int) -> Footprint:
    """Eligible scrap: known, carrying nothing (the recycled-content convention)."""
    return Footprint(kilograms)


def mg_per_kg(value: Decimal) -> int:
    """kg CO2e per kg as whole milligrams per kg, refused beyond six decimals."""
    scaled = value * MG_PER_KG
    if not value.is_finite() or value < 0 or scaled != scaled.to_integral_value():
        raise FootprintError(f"a footprint per kg is at least 0 with at most six decimals, "
                             f"not {value}")
    return int(scaled)


def produced(kilograms: int, contributor: Contributor, per_kg: Decimal | None,
             gap: Gap) -> Footprint:
    """The footprint of material entering the chain at an origin: its own process's
    emissions per kg, or unknown (at `gap`) where there is no figure."""
    if per_kg is None:
        return unknown(kilograms, gap)
    added = mg_per_kg(per_kg) * kilograms
    return Footprint(kilograms, {contributor: added} if added else {})


def _merge(*counts: Mapping[T, int]) -> dict[T, int]:
    out: dict[T, int] = {}
    for c in counts:
        for k, v in c.items():
            out[k] = out.get(k, 0) + v
    return {k: v for k, v in out.items() if v}


def mix(a: Footprint, b: Footprint) -> Footprint:
    """Two pools mixed: the mass-weighted mean, as sums."""
    mg = _merge(a.mg, b.mg)
    gaps = _merge(a.gaps, b.gaps)
    return Footprint(a.known_kg + b.known_kg, mg, gaps)


def _split(parts: Mapping[T, int], amount: int) -> dict[T, int]:
    """`amount` shared over `parts` by the largest remainder (ties: the order of the
    keys' text, so a split never depends on insertion order)."""
    total = sum(parts.values())
    if total == 0 or amount == 0:
        return {k: 0 for k in parts}
    keys = sorted(parts, key=repr)
    floors = {k: parts[k] * amount // total for k in keys}
    rests = {k: parts[k] * amount % total for k in keys}
    missing = amount - sum(floors.values())
    for k in sorted(keys, key=lambda k: -rests[k])[:missing]:
        floors[k] += 1
    return floors


def _round_div(a: int, b: int) -> int:
    """a / b to the nearest whole, halves to even."""
    q, r = divmod(a, b)
    if 2 * r > b or (2 * r == b and q % 2):
        q += 1
    return q


_KNOWN = Gap(-1, "known")


def _masses(fp: Footprint, kilograms: int) -> tuple[int, dict[Gap, int]]:
    """The known kilograms and gaps of `kilograms` in the same proportion as `fp`'s."""
    weights: dict[Gap, int] = {_KNOWN: fp.known_kg, **fp.gaps}
    split = _split(weights, kilograms)
    known = split.pop(_KNOWN)
    return known, {g: kg for g, kg in split.items() if kg}


def draw(fp: Footprint, kilograms: int) -> tuple[Footprint, Footprint]:
    """A share of `kilograms` drawn from a pool with this footprint: (taken, left). The
    known kilograms and gaps split in proportion; the emissions follow the known
    kilograms, so the taken share keeps the pool's footprint per known kg (to the
    milligram of the whole taken) and nothing appears or vanishes."""
    if kilograms < 0 or kilograms > fp.kilograms:
        raise FootprintError(f"cannot draw {kilograms} kg from {fp.kilograms} kg")
    known, gaps = _masses(fp, kilograms)
    if fp.known_kg and known:
        amount = (fp.total_mg if known == fp.known_kg
                  else _round_div(fp.total_mg * known, fp.known_kg))
        mg = {c: v for c, v in _split(fp.mg, amount).items() if v}
    else:
        mg = {}
    taken = Footprint(known, mg, gaps)
    left = Footprint(fp.known_kg - known,
                     {c: v - mg.get(c, 0) for c, v in fp.mg.items() if v - mg.get(c, 0)},
                     {g: v - gaps.get(g, 0) for g, v in fp.gaps.items() if v - gaps.get(g, 0)})
    return taken, left


def rescale(fp: Footprint, kilograms: int) -> Footprint:
    """The same footprint carried by `kilograms` (a transformation's output): the
    emissions stay whole, so each kilogram carries the input's footprint divided by the
    yield. Known kilograms and gaps rescale in proportion."""
    known, gaps = _masses(fp, kilograms)
    if known == 0 and fp.total_mg:  # too few kilograms left to carry them: keep one
        if not gaps:
            raise FootprintError("cannot carry a footprint on 0 kg")
        first = sorted(gaps, key=repr)[0]
        gaps[first] -= 1
        known = 1
        gaps = {g: v for g, v in gaps.items() if v}
    return Footprint(known, dict(fp.mg) if known else {}, gaps)


def add_process(fp: Footprint, contributor: Contributor, per_kg: Decimal | None,
                gap: Gap) -> Footprint:
    """A process's own emissions added to each known kilogram of its output; without a
    figure (`per_kg` None) the whole output's footprint becomes unknown at `gap`, its
    earlier gaps kept."""
    if per_kg is None:
        return Footprint(0, {}, _merge(fp.gaps, {gap: fp.known_kg}))
    added = mg_per_kg(per_kg) * fp.known_kg
    return Footprint(fp.known_kg, _merge(fp.mg, {contributor: added}),
                     dict(fp.gaps))


def remove(fp: Footprint, part: Footprint, kilograms: int) -> Footprint:
    """`fp` without `part` (a reversed entry's), for a pool left with `kilograms`. Where
    the part is wholly there this is exact; else each figure falls by the part's, not
    below 0, and the kilograms are shared in the proportion left."""
    known = max(fp.known_kg - part.known_kg, 0)
    gaps = {g: max(v - part.gaps.get(g, 0), 0) for g, v in fp.gaps.items()}
    mg = {c: max(v - part.mg.get(c, 0), 0) for c, v in fp.mg.items()}
    left = Footprint(known, {c: v for c, v in mg.items() if v} if known else {},
                     {g: v for g, v in gaps.items() if v})
    if left.kilograms == kilograms:
        return left
    if left.kilograms == 0:
        return unknown(kilograms)
    return rescale(left, kilograms)


def shifted_gaps(fp: Footprint) -> dict[Gap, int]:
    """The gaps one tier further up the chain (as a document's recipient sees its
    supplier's), those beyond `MAX_TIER` + 1 merged."""
    gaps: dict[Gap, int] = {}
    for g, kg in fp.gaps.items():
        key = g if g == BEFORE_FOOTPRINTS else g._replace(tier=g.tier + 1)
        if key.tier > MAX_TIER + 1:
            key = Gap(MAX_TIER + 1, process="upstream")
        gaps[key] = gaps.get(key, 0) + kg
    return gaps


# --- what a document states -------------------------------------------------------------


class Tier(NamedTuple):
    """One row of a stated breakdown: a contributor and its kg CO2e per kg."""

    contributor: Contributor
    kg_co2e_per_kg: Decimal


@dataclass(frozen=True)
class Statement:
    """A footprint as a document states it: per kg, the primary share, the tiers (their
    figures add up to exactly the footprint per kg); or unknown, with the gaps."""

    kg_co2e_per_kg: Decimal | None
    primary_percent: Decimal | None
    tiers: tuple[Tier, ...]
    gaps: tuple[tuple[Gap, int], ...] = ()

    @property
    def known(self) -> bool:
        return self.kg_co2e_per_kg is not None


def _merged_row(tier: int, primary: bool, count: int) -> Contributor:
    return Contributor(tier, "", "", "", "", "upstream" if tier > MAX_TIER else "various",
                       primary, count)


def compact(mg: Mapping[Contributor, int]) -> dict[Contributor, int]:
    """At most `MAX_ROWS_PER_TIER` rows per tier and no tier beyond `MAX_TIER`: the
    rest merged into one row per tier and kind of data, counting what it stands for."""
    out: dict[Contributor, int] = {}
    merged: dict[tuple[int, bool], list[int]] = {}
    by_tier: dict[int, list[tuple[Contributor, int]]] = {}
    for c, v in mg.items():
        if c.tier > MAX_TIER:
            group = merged.setdefault((MAX_TIER + 1, c.primary), [0, 0])
            group[0] += v
            group[1] += c.merged or 1
        else:
            by_tier.setdefault(c.tier, []).append((c, v))
    for tier, rows in by_tier.items():
        rows.sort(key=lambda cv: (-cv[1], cv[0]))
        for c, v in rows[:MAX_ROWS_PER_TIER]:
            out[c] = out.get(c, 0) + v
        for c, v in rows[MAX_ROWS_PER_TIER:]:
            group = merged.setdefault((tier, c.primary), [0, 0])
            group[0] += v
            group[1] += c.merged or 1
    for (tier, primary), (v, count) in sorted(merged.items()):
        key = _merged_row(tier, primary, count)
        out[key] = out.get(key, 0) + v
    return out


def state(fp: Footprint) -> Statement:
    """What a document drawn with this footprint states: unknown when any kilogram's
    footprint is; else kg CO2e per kg to six decimals (nearest, halves to even), the
    compacted tiers (largest remainder, so they add up to it exactly) and the primary
    share of it (percent, two decimals; none when the footprint is 0)."""
    if not fp.known or fp.kilograms == 0:
        return Statement(None, None, (), tuple(sorted(fp.gaps.items(),
                                                      key=lambda g: (-g[1], g[0]))))
    total = _round_div(fp.total_mg, fp.known_kg)
    rows = compact(fp.mg)
    per_row = _split(rows, total)
    tiers = tuple(Tier(c, Decimal(per_row[c]).scaleb(-6).quantize(PER_KG))
                  for c in sorted(rows, key=lambda c: (c.tier, -rows[c], c)))
    primary = sum(per_row[c] for c in rows if c.primary)
    percent = ((Decimal(100) * primary / total).quantize(_CENT, rounding=ROUND_HALF_EVEN)
               if total else None)
    return Statement(Decimal(total).scaleb(-6).quantize(PER_KG), percent, tiers)


def received(per_kg: Decimal | None, tiers: Iterable[Tier], kilograms: int,
             gap: Gap) -> Footprint:
    """The footprint a received document brings: its stated tiers, one tier further up,
    times its kilograms (exact: six decimals times whole kg are whole mg); unknown at
    `gap` when it states none."""
    if per_kg is None:
        return unknown(kilograms, gap)
    mg: dict[Contributor, int] = {}
    for t in tiers:
        c = t.contributor._replace(tier=t.contributor.tier + 1)
        mg[c] = mg.get(c, 0) + mg_per_kg(t.kg_co2e_per_kg) * kilograms
    stated = mg_per_kg(per_kg) * kilograms
    if sum(mg.values()) != stated:
        raise FootprintError(f"the tiers add up to {sum(mg.values())} mg, the document "
                             f"states {stated} mg")
    return Footprint(kilograms, {c: v for c, v in mg.items() if v})


def conserved(before: Footprint, added_mg: int, after: Footprint) -> bool:
    """The balance a transformation keeps: emissions out = emissions in + added."""
    return after.total_mg == before.total_mg + added_mg


# --- data -------------------------------------------------------------------------------


def to_data(fp: Footprint) -> dict[str, object]:
    """The footprint as JSON data: ``{"known_kg": int, "mg": [[tier, entity id, entity,
    organisation, country, process, primary, merged, mg], ...], "gaps": [[tier, entity
    id, entity, organisation, country, process, kg], ...]}``, rows sorted."""
    return {"known_kg": fp.known_kg,
            "mg": [[*c, v] for c, v in sorted(fp.mg.items())],
            "gaps": [[*g, kg] for g, kg in sorted(fp.gaps.items())]}


def from_data(data: Mapping[str, object]) -> Footprint:
    known = data.get("known_kg", 0)
    rows = data.get("mg") or []
    gap_rows = data.get("gaps") or []
    if not isinstance(known, int) or not isinstance(rows, list) or not isinstance(
            gap_rows, list):
        raise FootprintError("a stored footprint is {known_kg, mg, gaps}")
    mg: dict[Contributor, int] = {}
    for t, e, n, o, c, p, primary, merged, v in rows:
        key = Contributor(int(t), str(e), str(n), str(o), str(c), str(p), bool(primary),
                          int(merged))
        mg[key] = mg.get(key, 0) + int(v)
    gaps: dict[Gap, int] = {}
    for t, e, n, o, c, p, kg in gap_rows:
        gkey = Gap(int(t), str(e), str(n), str(o), str(c), str(p))
        gaps[gkey] = gaps.get(gkey, 0) + int(kg)
    return Footprint(known, mg, gaps)


def tier_to_data(t: Tier) -> dict[str, object]:
    """One row of a document's ``footprint_tiers`` (see ``CocDocument``)."""
    c = t.contributor
    return {"tier": c.tier, "entity_id": c.entity_id or None, "entity": c.entity,
            "organization": c.organization, "country": c.country, "process": c.process,
            "kg_co2e_per_kg": str(t.kg_co2e_per_kg), "primary": c.primary,
            "merged": c.merged}


def tier_from_data(row: Mapping[str, object]) -> Tier:
    merged = row.get("merged") or 0
    tier = row.get("tier")
    if not isinstance(tier, int) or not isinstance(merged, int):
        raise FootprintError("a footprint tier has a whole tier number")
    return Tier(Contributor(tier, str(row.get("entity_id") or ""), str(row.get("entity", "")),
                            str(row.get("organization", "")), str(row.get("country", "")),
                            str(row.get("process", "")), bool(row.get("primary", True)),
                            merged), Decimal(str(row.get("kg_co2e_per_kg"))))


def gap_reason(gap: Gap) -> str:
    """Why the footprint of these kilograms is not known, in words."""
    if gap.process == "":
        return "recorded before the platform kept footprints"
    who = f"{gap.entity} ({gap.organization})" if gap.organization else gap.entity
    if gap.process == "document":
        return f"{who} issued its document without a footprint"
    if gap.process == "damaged":
        return "its stored footprint does not match its kilograms (see the custody audit)"
    if gap.process == "upstream":
        return "an entity further up the chain gave no footprint"
    return f"{who} has no emission inventory covering {gap.process} on that day"
