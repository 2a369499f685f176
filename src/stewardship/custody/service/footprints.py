"""Carbon footprints down the mass-balance chain: what material brings into a pool where
it enters (an origin's production carries the entity's own process emissions, eligible
scrap enters burden-free, a received document its supplier's footprint), what a
transformation adds, what an issued document states, and how a party and the public
read it.

The figures come from the carbon context (``carbon.service.footprint_source``: the
emissions an entity's own process adds per kg, from its inventory for the day); where
there is none the footprint is unknown and says where it was lost, never zero. The
arithmetic is ``custody.footprints.rules``, carried in every pool beside its origins."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from stewardship.carbon.service.footprint_source import process_emissions
from stewardship.custody import repository as repo
from stewardship.custody import rules
from stewardship.custody.footprints import rules as fp
from stewardship.custody.footprints.rules import Contributor, Footprint, Gap
from stewardship.custody.models import CocDocument
from stewardship.custody.rules import CocMaterial, Pool
from stewardship.custody.schemas import DocumentFootprint, FootprintGapRead, FootprintTierRead
from stewardship.custody.service import common
from stewardship.registry.models import Entity, Facility


def _who(db: Session, entity: Entity, country: str, process: str, primary: bool = True
         ) -> tuple[Contributor, Gap]:
    _, _, org = common.remembered(db, ("names", entity.id), lambda: repo.entities_with_org(
        db, [entity.id]).get(entity.id, ("", "", "")))
    contributor = Contributor(0, str(entity.id), entity.name, org, country, process, primary)
    return contributor, Gap(0, str(entity.id), entity.name, org, country, process)


def _own(db: Session, entity: Entity, facility: Facility, process: str, day: date
         ) -> tuple[Contributor, Gap, Decimal | None]:
    found = common.remembered(db, ("emissions", entity.id, process, day),
                              lambda: process_emissions(db, entity.id, process, day))
    contributor, gap = _who(db, entity, facility.country, process,
                            found.primary if found is not None else True)
    return contributor, gap, found.kg_co2e_per_kg if found is not None else None


def entering(db: Session, entity: Entity, facility: Facility, material: CocMaterial,
             kilograms: int, day: date) -> Footprint:
    """The footprint of material put into the chain at `facility`: an origin's production
    carries its own process's emissions per kg for the day (unknown without an inventory
    covering it); eligible scrap enters burden-free."""
    if material is CocMaterial.ELIGIBLE_SCRAP:
        return fp.burden_free(kilograms)
    process = fp.ORIGIN_PROCESSES[material.value]
    contributor, gap, per_kg = _own(db, entity, facility, process, day)
    return fp.produced(kilograms, contributor, per_kg, gap)


def transformed(db: Session, entity: Entity, facility: Facility,
                transformation: rules.Transformation, output: Pool, day: date) -> Pool:
    """A transformation's output pool (its input's pool already rescaled to the output,
    so the carried footprint per kg is divided by the yield) with the entity's own
    emissions per kg of output added; unknown from here on without an inventory."""
    contributor, gap, per_kg = _own(db, entity, facility, transformation.value, day)
    footprint = fp.add_process(rules.footprint_of(output), contributor, per_kg, gap)
    return Pool(output.parts, output.attributes, footprint)


def stamp(doc: CocDocument, taken: Pool) -> None:
    """Write on an issued document the footprint of the share of the pool it took: per
    kg, its primary share and its tiers (NULL, all three, where unknown)."""
    said = fp.state(rules.footprint_of(taken))
    doc.footprint_kg_co2e_per_kg = said.kg_co2e_per_kg
    doc.footprint_primary_percent = said.primary_percent
    doc.footprint_tiers = [fp.tier_to_data(t) for t in said.tiers] if said.known else None


def _issuer_gap(db: Session, doc: CocDocument) -> Gap:
    name, _, org = repo.entities_with_org(db, [doc.issuer_entity_id]).get(
        doc.issuer_entity_id, ("", "", ""))
    return Gap(1, str(doc.issuer_entity_id), name, org, "", "document")


def arriving(db: Session, doc: CocDocument) -> Pool:
    """The pool a received document brings its recipient: the origins it took, with the
    footprint its columns state one tier up; where it states none, the gaps its
    composition names (covered by its digest), one tier up."""
    pool = rules.pool_from_data(doc.composition)
    kg = pool.kilograms
    if doc.footprint_kg_co2e_per_kg is not None:
        tiers = [fp.tier_from_data(t) for t in doc.footprint_tiers or []]
        try:  # the gap is for a document stating none: not this one
            footprint = fp.received(Decimal(doc.footprint_kg_co2e_per_kg), tiers, kg,
                                    fp.BEFORE_FOOTPRINTS)
        except fp.FootprintError:  # tiers that do not add up: not what the platform wrote
            footprint = fp.unknown(kg, _issuer_gap(db, doc))
    elif pool.footprint is not None and not pool.footprint.known:
        footprint = Footprint(0, {}, fp.shifted_gaps(pool.footprint))
    elif pool.footprint is None:
        footprint = fp.unknown(kg)
    else:
        footprint = fp.unknown(kg, _issuer_gap(db, doc))
    return Pool(pool.parts, pool.attributes, footprint)


def drift(doc: object) -> str | None:
    """How a stored document's footprint columns disagree with the footprint its
    composition (covered by its digest) gives, or None where they agree (or the document
    was issued before footprints were kept). Reads plain columns or a row."""
    composition = getattr(doc, "composition", None) or {}
    if not isinstance(composition, dict) or "footprint" not in composition:
        return None
    try:
        said = fp.state(rules.footprint_of(rules.pool_from_data(composition)))
    except (ValueError, TypeError) as error:
        return f"its composition's footprint cannot be read: {error}"
    per_kg = getattr(doc, "footprint_kg_co2e_per_kg", None)
    primary = getattr(doc, "footprint_primary_percent", None)
    tiers = getattr(doc, "footprint_tiers", None)
    wanted = [fp.tier_to_data(t) for t in said.tiers] if said.known else None
    if _dec(per_kg) != said.kg_co2e_per_kg:
        return (f"states {per_kg} kg CO2e per kg but its composition gives "
                f"{said.kg_co2e_per_kg}")
    if _dec(primary, "0.01") != said.primary_percent:
        return f"states {primary}% primary data but its composition gives {said.primary_percent}"
    if tiers != wanted:
        return "its footprint tiers are not the ones its composition gives"
    return None


def _dec(value: object, places: str = "0.000001") -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal(places))


# --- reading ----------------------------------------------------------------------------


def read(doc: CocDocument, *, public: bool = False) -> DocumentFootprint:
    """The footprint a document states and how it was built up tier by tier; for the
    public (anyone holding the number) the tiers name the process and country but not the
    entity. Unknown: the reasons, from its composition."""
    per_kg = doc.footprint_kg_co2e_per_kg
    if per_kg is not None:
        tiers = [fp.tier_from_data(t) for t in doc.footprint_tiers or []]
        shares = rules.percent_shares({i: fp.mg_per_kg(t.kg_co2e_per_kg)
                                       for i, t in enumerate(tiers)})
        rows = [_tier_read(t, shares[i], public) for i, t in enumerate(tiers)]
        primary = doc.footprint_primary_percent
        return DocumentFootprint(
            known=True, kg_co2e_per_kg=Decimal(per_kg).quantize(fp.PER_KG),
            t_co2e_total=(Decimal(per_kg) * doc.coc_quantity_kg / 1000).quantize(
                Decimal("0.001")),
            primary_percent=primary,
            secondary_percent=(Decimal(100) - primary) if primary is not None else None,
            tiers=rows, gaps=[], basis=BASIS)
    pool = rules.pool_from_data(doc.composition)
    gaps = (sorted(pool.footprint.gaps.items(), key=lambda g: (-g[1], g[0]))
            if pool.footprint is not None else [(fp.BEFORE_FOOTPRINTS, pool.kilograms)])
    return DocumentFootprint(
        known=False, kg_co2e_per_kg=None, t_co2e_total=None, primary_percent=None,
        secondary_percent=None, tiers=[],
        gaps=[FootprintGapRead(tier=g.tier, entity="" if public else g.entity,
                               organization="" if public else g.organization,
                               process=g.process, kilograms=kg,
                               reason=_public_reason(g) if public else fp.gap_reason(g))
              for g, kg in gaps if kg],
        basis=BASIS)


BASIS = ("Cradle-to-gate, kg CO2e per kg of the CoC quantity: the mass-weighted footprint "
         "of the pool the document was drawn from. Each entity adds its own Scope 1 and 2 "
         "emissions per kg of its process's output (allocated by its inventory's method); "
         "a transformation divides what its input carried by its yield. Eligible scrap "
         "enters burden-free (recycled-content convention). Tiers beyond "
         f"{fp.MAX_TIER}, and rows of one tier beyond {fp.MAX_ROWS_PER_TIER}, are merged.")


def _public_reason(gap: Gap) -> str:
    if gap.process in ("", "upstream", "damaged"):
        return fp.gap_reason(gap)
    if gap.process == "document":
        return "a supplier's document stated no footprint"
    return f"no emission inventory covering {gap.process} at tier {gap.tier}"


def _tier_read(t: fp.Tier, share: Decimal, public: bool) -> FootprintTierRead:
    c = t.contributor
    merged = (f"{c.merged} {'entity' if c.merged == 1 else 'entities'} "
              f"{'further up the chain' if c.tier > fp.MAX_TIER else 'merged'}"
              if c.merged else "")
    hidden = public and not c.merged
    return FootprintTierRead(
        tier=c.tier, entity="" if hidden else (merged or c.entity),
        organization="" if public or c.merged else c.organization,
        country=c.country, process=c.process, kg_co2e_per_kg=t.kg_co2e_per_kg,
        percent=share, primary=c.primary, merged=c.merged)
