"""Emission inventories for the demo world, through the carbon services.

Everything here is fictional: plausible orders of magnitude for each kind of site, not data
about any real one. Every upstream entity of the demo's chain (the mines and refineries,
the smelters with their casthouses, the remelters, rolling mills, the extruder and the can
makers) records last year's inventory early this year and one for this year to the end of
last month; the smelters also recorded the year before, where an older smelter's path to
the threshold starts. Two smelters frame the threshold:

- Sonkhal Aluminium (IN), commissioned in 2008 and powered by a captive coal plant, runs at
  about 19 t CO2e per t of aluminium cradle to gate: above the limit and, improving too
  slowly, off its path to it (flagged). It corrects last year's PFCs once, after its
  verifier's review.
- Fjordal Aluminium (NO), on hydropower, is under 3 t; Eldhraun (IS), commissioned in 2021,
  and Sandvær (NO) are near it.

Each inventory is recorded by the member's own user on its own day (a thread of the demo's
timeline, ``core.timeline``). Idempotent: nothing is done when any inventory exists.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from stewardship.carbon import repository as repo
from stewardship.carbon import rules
from stewardship.carbon.schemas import InventoryCorrection, InventoryCreate
from stewardship.carbon.service import inventories
from stewardship.core import timeline
from stewardship.core.auth import Actor, system_actor
from stewardship.core.errors import DomainError
from stewardship.core.pagination import PageParams
from stewardship.registry import repository as registry_repo
from stewardship.registry.service import accounts

LOADER = system_actor("demo-loader")
GHG = "GHG Protocol Corporate Standard"
SECTOR = f"{GHG} with the aluminium sector's GHG guidance"


@dataclass(frozen=True)
class Site:
    """One entity's year: output per process in tonnes, emissions in t CO2e."""

    slug: str
    entity: str
    output_t: dict[str, int]
    scope1_t: int
    mwh: int
    factor: str
    source: str
    scope3: tuple[int, int, int]
    """Categories 1, 3 and 4."""
    pfc_t: int = 0
    pfc_method: str | None = None
    anodes_t: int | None = None
    commissioned: int | None = None
    declared: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Declared allocation: for each process but the main one, (its Scope 1 t, its MWh);
    the main process carries the rest."""
    main: str | None = None
    method: str = GHG
    verified: bool = False
    year_before: str = "1.0"
    """Last year but one, as a multiple of last year's emissions per tonne."""
    this_year: str = "1.0"


def _smelter(slug: str, entity: str, metal_t: int, cast_t: int, *, anode_co2: str,
             pfc: str, mwh_per_t: str, factor: str, source: str, alumina_factor: str,
             commissioned: int, cat4_per_t: str, year_before: str = "1.0",
             this_year: str = "1.0", pfc_method: str = "slope") -> Site:
    cast_fuel, cast_mwh = cast_t * 8 // 100, cast_t * 21 // 100
    alumina = Decimal("1.93") * metal_t * Decimal(alumina_factor)
    # fuel- and energy-related upstream: coal's mining and haulage weigh on coal power
    power_upstream = Decimal("0.07") if Decimal(factor) > Decimal("0.5") else Decimal("0.004")
    return Site(
        slug=slug, entity=entity, output_t={"smelting": metal_t, "casting": cast_t},
        scope1_t=int(Decimal(anode_co2) * metal_t) + cast_fuel,
        mwh=int(Decimal(mwh_per_t) * metal_t) + cast_mwh, factor=factor, source=source,
        scope3=(int(alumina) + metal_t * 3 // 10,
                int(Decimal(mwh_per_t) * metal_t * power_upstream),
                int(Decimal(cat4_per_t) * metal_t)),
        pfc_t=int(Decimal(pfc) * metal_t), pfc_method=pfc_method,
        anodes_t=metal_t * 42 // 100, commissioned=commissioned,
        declared={"casting": (cast_fuel, cast_mwh)}, main="smelting", method=SECTOR,
        verified=True, year_before=year_before, this_year=this_year)


SITES: tuple[Site, ...] = (
    Site("kebbe-bauxite", "Kebbe Bauxite Company SA", {"mining": 10_500_000}, 52_000, 40_000,
         "0.55", "diesel generation on site and the regional grid, 2025",
         (8_000, 9_000, 31_000)),
    Site("wattlebay-alumina", "Wattlebay Alumina Pty Ltd",
         {"mining": 7_600_000, "refining": 1_950_000}, 1_180_000, 540_000, "0.51",
         "state grid average, 2025", (380_000, 95_000, 45_000),
         declared={"mining": (30_000, 20_000)}, main="refining", verified=True),
    Site("gebeng-alumina", "Gebeng Alumina Sdn. Bhd.",
         {"mining": 3_700_000, "refining": 860_000}, 1_290_000, 260_000, "0.70",
         "peninsular grid average, 2025", (170_000, 120_000, 25_000),
         declared={"mining": (22_000, 10_000)}, main="refining", verified=True),
    Site("bacabeira-alumina", "Bacabeira Alumina Ltda.",
         {"mining": 4_600_000, "refining": 1_040_000}, 700_000, 310_000, "0.06",
         "national grid average, 2025", (200_000, 40_000, 30_000),
         declared={"mining": (25_000, 12_000)}, main="refining", verified=True),
    _smelter("fjordal-aluminium", "Fjordal Aluminium AS", 400_000, 380_000,
             anode_co2="1.52", pfc="0.05", mwh_per_t="13.6", factor="0.011",
             source="hydropower supply contract with guarantees of origin",
             alumina_factor="0.55", commissioned=1968, cat4_per_t="0.25"),
    _smelter("sonkhal-aluminium", "Sonkhal Aluminium Limited", 540_000, 290_000,
             anode_co2="1.55", pfc="0.35", mwh_per_t="14.9", factor="1.02",
             source="captive coal-fired power plant, measured", alumina_factor="0.75",
             commissioned=2008, cat4_per_t="0.15", year_before="1.01", this_year="0.995"),
    _smelter("eldhraun-aluminium", "Eldhraun Aluminium ehf.", 205_000, 195_000,
             anode_co2="1.50", pfc="0.03", mwh_per_t="13.4", factor="0.005",
             source="geothermal and hydropower supply contract", alumina_factor="0.8",
             commissioned=2021, cat4_per_t="0.3", pfc_method="overvoltage"),
    _smelter("sandvaer-metall", "Sandvær Metall AS", 185_000, 176_000, anode_co2="1.55",
             pfc="0.06", mwh_per_t="13.9", factor="0.011",
             source="hydropower supply contract with guarantees of origin",
             alumina_factor="0.8", commissioned=1967, cat4_per_t="0.3"),
    Site("lindtal-remelt", "Lindtal Remelt GmbH", {"remelting": 205_000}, 57_400, 22_550,
         "0.38", "national grid average, 2025", (20_500, 6_000, 14_000)),
    Site("rifusione-adda", "Rifusione Adda S.r.l.", {"remelting": 56_000}, 15_680, 6_160,
         "0.26", "national grid average, 2025", (5_600, 1_700, 3_900)),
    Site("severn-recycled-metals", "Severn Recycled Metals Ltd", {"remelting": 64_000},
         17_920, 7_040, "0.21", "national grid average, 2025", (6_400, 1_900, 4_500)),
    Site("rheinfeld-rolling", "Rheinfeld Walzwerk GmbH", {"rolling": 300_000}, 51_000,
         165_000, "0.38", "national grid average, 2025", (24_000, 12_000, 18_000)),
    Site("rheinfeld-rolling", "Rheinfeld Rolling Inc.", {"rolling": 225_000}, 38_250,
         123_750, "0.37", "regional grid average, 2025", (18_000, 9_000, 13_500)),
    Site("laminoirs-sevre", "Laminoirs de la Sèvre SAS", {"rolling": 140_000}, 23_800,
         77_000, "0.03", "national grid average, 2025", (11_200, 4_200, 8_400)),
    Site("estrusi-valsorda", "Estrusi Valsorda S.p.A.", {"extrusion": 74_000}, 8_880,
         44_400, "0.26", "national grid average, 2025", (5_900, 2_200, 3_700)),
    Site("corvina-latas", "Corvina Latas S.A.", {"conversion": 82_000}, 8_200, 73_800,
         "0.06", "national grid average, 2025", (16_400, 1_500, 4_900)),
    Site("corvina-latas", "Corvina Packaging UK Limited", {"conversion": 22_000}, 2_200,
         19_800, "0.21", "national grid average, 2025", (4_400, 500, 1_300)),
    Site("envases-tajo", "Envases Tajo S.L.", {"conversion": 27_000}, 2_700, 24_300, "0.15",
         "national grid average, 2025", (5_400, 700, 1_600)),
)

T = Decimal("0.001")


def _scaled(value: int | Decimal, share: Decimal) -> Decimal:
    return (Decimal(value) * share).quantize(T)


def inventory_input(site: Site, start: date, end: date, share: Decimal,
                    intensity: Decimal, entity_id: uuid.UUID | None = None) -> InventoryCreate:
    """The site's inventory for a period: its year's output times ``share`` (the part of
    the year), its emissions per tonne times ``intensity``."""
    emits = share * intensity
    scope1, mwh = _scaled(site.scope1_t, emits), _scaled(site.mwh, emits)
    factor = Decimal(site.factor)
    processes = []
    own = scope1 + _scaled(site.pfc_t, emits) + rules.scope2_t(mwh, factor)
    rest = own
    for process, tonnes in site.output_t.items():
        row: dict[str, object] = {"process": process,
                                  "output_kg": int(Decimal(tonnes) * share) * 1000}
        if site.declared and process != site.main:
            fuel, power = site.declared[process]
            part = _scaled(fuel, emits) + rules.scope2_t(_scaled(power, emits), factor)
            row["declared_t"] = part
            rest -= part
        processes.append(row)
    if site.declared:
        for row in processes:
            if row["process"] == site.main:
                row["declared_t"] = rest
    cat1, cat3, cat4 = site.scope3
    return InventoryCreate.model_validate({
        "period_start": start, "period_end": end, "scope1_t": scope1,
        "pfc_t": _scaled(site.pfc_t, emits), "pfc_method": site.pfc_method,
        "anodes_consumed_t": _scaled(site.anodes_t, share) if site.anodes_t else None,
        "electricity_mwh": mwh, "electricity_factor_t_per_mwh": factor,
        "electricity_factor_source": site.source, "scope3_cat1_t": _scaled(cat1, emits),
        "scope3_cat3_t": _scaled(cat3, emits), "scope3_cat4_t": _scaled(cat4, emits),
        "allocation": "declared" if site.declared else "mass", "method": site.method,
        "verification": "third_party_verified" if site.verified else "self_declared",
        "commissioned_year": site.commissioned, "processes": processes,
        "entity_id": entity_id})


def _recorder(db: Session, site: Site) -> tuple[Actor, uuid.UUID] | None:
    """The member's own user (or admin) and the entity's id, where the world has them."""
    org = registry_repo.organization_by_slug(db, site.slug)
    if org is None:
        return None
    entity = next((e for e in org.entities if e.name == site.entity), None)
    users = accounts.list_users(db, LOADER, PageParams(1, 100), organization=site.slug).items
    user = next((u for u in users if u.role == "member_user"),
                next((u for u in users if u.role == "member_admin"), None))
    if entity is None or user is None:
        return None
    row = registry_repo.user_by_email(db, user.email)
    if row is None:
        return None
    return accounts.actor_for(row), entity.id


@dataclass(order=True)
class _Step:
    day: date
    order: int
    site: Site = field(compare=False)
    start: date = field(compare=False)
    end: date = field(compare=False)
    share: Decimal = field(compare=False)
    intensity: Decimal = field(compare=False)
    hour: int = field(default=10, compare=False)


def _steps(today: date) -> Iterator[_Step]:
    year = today.year
    last_start, last_end = date(year - 1, 1, 1), date(year - 1, 12, 31)
    ytd_end = date(year, today.month, 1) - timedelta(days=1)
    for n, site in enumerate(SITES):
        # The year before last for every site, there before the demo's first CoC flow (its
        # footprints take the latest inventory an entity has): older smelters show their
        # path from it.
        yield _Step(date(year - 1, 1, 1), n, site, date(year - 2, 1, 1),
                    date(year - 2, 12, 31), Decimal(1), Decimal(site.year_before), hour=5)
        yield _Step(min(date(year, 2, 2) + timedelta(days=n), today), n, site, last_start,
                    last_end, Decimal(1), Decimal(1))
        if ytd_end.year == year:
            days = Decimal((ytd_end - date(year, 1, 1)).days + 1)
            yield _Step(min(ytd_end + timedelta(days=8 + n % 5), today), n, site,
                        date(year, 1, 1), ytd_end, (days / 365).quantize(Decimal("0.0001")),
                        Decimal(site.this_year))


def _correct(db: Session, actor: Actor, inventory_id: uuid.UUID, data: InventoryCreate,
             day: date) -> timeline.Thread:
    """Sonkhal's correction of last year's PFCs after its verifier's review."""
    yield timeline.at(day, 11)
    fixed = data.model_dump(exclude={"entity_id", "facility_id"})
    pfc = (data.pfc_t * Decimal("1.08")).quantize(T)
    for p in fixed["processes"]:
        if p["process"] == rules.SMELTING:
            p["declared_t"] = p["declared_t"] + pfc - data.pfc_t
    fixed.update(pfc_method="overvoltage", pfc_t=pfc,
                 reason="PFCs recalculated by the overvoltage method after the verifier's "
                        "review")
    inventories.correct_inventory(db, actor, inventory_id,
                                  InventoryCorrection.model_validate(fixed), today=day)


def demo_carbon(db: Session, today: date) -> timeline.Thread:
    """The demo's inventories, each written on its own day (a timeline thread); True when
    any was recorded."""
    if repo.any_inventory(db):
        return False
    done = 0
    for step in sorted(_steps(today)):
        yield timeline.at(step.day, step.hour, step.order % 60)
        found = _recorder(db, step.site)
        if found is None:
            continue
        actor, entity_id = found
        data = inventory_input(step.site, step.start, step.end, step.share, step.intensity,
                               entity_id)
        try:
            made = inventories.record_inventory(db, actor, data, today=step.day)
        except DomainError:  # a trimmed world: skip what it cannot hold
            continue
        done += 1
        if step.site.slug == "sonkhal-aluminium" and step.end == date(today.year - 1, 12, 31):
            yield _correct(db, actor, made.id, data, min(step.day + timedelta(days=40), today))
    return done > 0
