"""CBAM: an installation's goods with their specific embedded emissions, and an EU
importer's embedded emissions of what it received in a year.

The installation is the inventory's facility; where the inventory is entity-wide (the
demo's are), the entity is the installation, and its sole (or first) facility gives the
address and coordinates. The period is the inventory's.

Goods: every process of the inventory makes the good ``carbon.cn.rules.PROCESS_CN`` names
(smelting, remelting and casting: unwrought aluminium 7601; rolling 7606; extrusion 7604;
conversion 7616); processes of one CN code are one good whose activity level is the
output of the last of them down the chain (the others feed it inside the installation).
Direct emissions (Scope 1 with the PFCs) and electricity are attributed to each good's
processes as the inventory allocates Scope 1+2 (by output mass, or by the declared
figures). Mining and refining make bauxite and alumina, outside CBAM's aluminium goods.

Precursors: the aluminium of every CoC document the entity received in the period, taken as
consumed in it, by the good made last down the chain (precursors made inside the
installation are not chained into the goods made from them). Their embedded emissions are
the supplier's: a document's footprint is Scope 1+2 cradle to gate, so its direct part is
taken tier by tier (the mining and refining tiers left out: bauxite and alumina are outside
the aluminium goods' boundaries), each tier's figure times the direct share (Scope 1 with PFCs over
Scope 1+2) of the inventory its entity recorded for the period; a tier with no such
inventory (secondary data, a merged row) counts whole, Scope 1+2, and the precursor says
so (``supplier_scope12``). A document with no footprint takes the default value of its CN
code (data/cbam.yaml, with its source; the demo's are illustrative), flagged. Scrap
carries no embedded emissions and decides the route of remelted metal (secondary where
more than half the metal input is scrap).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

import yaml
from sqlalchemy.orm import Session

from stewardship.carbon import repository as repo
from stewardship.carbon import rules
from stewardship.carbon.cn import rules as cn
from stewardship.carbon.models import CarbonInventory
from stewardship.carbon.schemas import (
    CbamGoodRead,
    CbamImportLine,
    CbamImports,
    CbamInstallationData,
    CbamPrecursorRead,
    CbamProcessRead,
    CbamReference,
    CbamReport,
)
from stewardship.carbon.service.inventories import may_read, reader
from stewardship.core import clock
from stewardship.core.auth import Actor
from stewardship.core.errors import Forbidden, InvalidInput, NotFound
from stewardship.core.labels import label

OUTSIDE = frozenset({"mining", "refining"})
"""Tiers outside the aluminium goods' system boundaries: bauxite and alumina are not
precursors of CBAM's aluminium goods, so their emissions are not embedded in them."""
DIRECT_ONLY = ("CBAM counts direct emissions only for aluminium in the definitive period "
               "(from 2026): fuels and processes with the PFCs of anode effects; indirect "
               "emissions (electricity) are the installation's data, reported beside.")


@cache
def _data() -> dict[str, Any]:
    text = (resources.files("stewardship.data") / "cbam.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def reference() -> CbamReference:
    data = _data()
    return CbamReference(
        illustrative=bool(data["illustrative"]), defaults_source=data["defaults"]["source"],
        defaults_date=str(data["defaults"]["date"]),
        benchmarks=[{k: str(v) for k, v in b.items()} for b in data["benchmarks"]])


def default_value(code: str) -> Decimal:
    return Decimal(str(_data()["defaults"]["values"][code]))


def eu_countries() -> frozenset[str]:
    return frozenset(_data()["eu_countries"]["codes"])


def _scrap_share() -> Decimal:
    return Decimal(str(_data()["secondary_scrap_share"]))


# --- precursors -------------------------------------------------------------------------


def _shares(db: Session, docs: list[Any]) -> dict[tuple[uuid.UUID, date], Decimal]:
    """The direct share of each tier entity's inventory, for each document's shipment."""
    pairs = {(uuid.UUID(str(t["entity_id"])), row.CocDocument.shipment_date)
             for row in docs for t in (row.CocDocument.footprint_tiers or [])
             if t.get("entity_id") and t.get("primary")}
    found = repo.inventories_covering(db, pairs)
    return {key: rules.direct_fraction(inv.scope1_t + inv.pfc_t, inv.scope2_t)
            for key, inv in found.items()}


def _precursor(row: Any, shares: dict[tuple[uuid.UUID, date], Decimal]
               ) -> CbamPrecursorRead | None:
    doc = row.CocDocument
    code = cn.cn_code(doc.material, doc.description)
    if code != cn.SCRAP_CN and code not in cn.CBAM_ALUMINIUM:
        return None
    tiers = doc.footprint_tiers or []
    origin = str(tiers[0].get("country") or row.issuer_country) if tiers \
        else row.issuer_country
    common = {"document": doc.number, "cn_code": code, "description": doc.description,
              "supplier": f"{row.issuer_entity} ({row.issuer_org})",
              "origin_country": origin, "quantity_kg": doc.quantity_kg}
    if code == cn.SCRAP_CN:
        see, source, default, note = Decimal("0.000"), "scrap", False, \
            "scrap carries no embedded emissions"
    elif tiers:
        rows = []
        for t in tiers:
            if t.get("process") in OUTSIDE:
                continue
            key = (uuid.UUID(str(t["entity_id"])), doc.shipment_date) \
                if t.get("entity_id") and t.get("primary") else None
            rows.append((Decimal(str(t["kg_co2e_per_kg"])),
                         shares.get(key) if key else None))
        direct, unknown = rules.direct_of_tiers(rows)
        see = direct.quantize(rules.INTENSITY)
        default = False
        if unknown:
            source = "supplier_scope12"
            note = (f"the supplier's footprint; the direct share of {unknown} tier"
                    f"{'s' if unknown > 1 else ''} could not be separated (no inventory of "
                    "its own behind it), so Scope 1+2 is taken whole there: an upper bound")
        else:
            source = "supplier_direct"
            note = "the supplier's footprint, its direct share by each tier's inventory"
    elif doc.footprint_kg_co2e_per_kg is not None:
        see = doc.footprint_kg_co2e_per_kg.quantize(rules.INTENSITY)
        source, default = "supplier_scope12", False
        note = ("the supplier's footprint, not built up by tier: the direct share cannot be "
                "separated, Scope 1+2 taken whole (an upper bound)")
    else:
        see, source, default = default_value(code), "default", True
        note = ("no footprint from the supplier: the default value of "
                f"{code}{' (illustrative)' if _data()['illustrative'] else ''}")
    return CbamPrecursorRead(**common, see_direct_t_per_t=see,
                             embedded_t=rules.embedded_t(doc.quantity_kg, see),
                             source=source, default_used=default, note=note)


def precursors_of(db: Session, docs: list[Any]) -> list[CbamPrecursorRead]:
    shares = _shares(db, docs)
    return [p for p in (_precursor(row, shares) for row in docs) if p is not None]


# --- the installation's report ----------------------------------------------------------


def _installation(db: Session, inv: CarbonInventory) -> CbamInstallationData:
    org = repo.organization_by_id(db, inv.organization_id)
    entity = repo.entity_by_id(db, inv.entity_id)
    assert org is not None and entity is not None
    if inv.facility_id is not None:
        facility = repo.facility_by_id(db, inv.facility_id)
        kind = "facility"
    else:
        sites = repo.entity_facilities(db, entity.id, org.id)
        facility = sites[0] if sites else None
        kind = "entity"
    return CbamInstallationData(
        name=facility.name if kind == "facility" and facility else entity.name, kind=kind,
        facility_id=facility.public_id if facility else None, operator=org.name,
        address=facility.address if facility else "",
        country=facility.country if facility else org.country, un_locode=None,
        latitude=facility.latitude if facility else None,
        longitude=facility.longitude if facility else None)


def _period(inv: CarbonInventory) -> str:
    return f"{inv.period_start.isoformat()} to {inv.period_end.isoformat()}"


def _readable(db: Session, actor: Actor | None, inventory_id: uuid.UUID) -> CarbonInventory:
    actor = reader(actor)
    inv = repo.inventory_by_id(db, inventory_id)
    if inv is None or not may_read(actor, inv.organization_id):
        raise NotFound("no such inventory", field="inventory_id")
    return inv


def installation_report(db: Session, actor: Actor | None, inventory_id: uuid.UUID
                        ) -> CbamReport:
    """The CBAM data of the installation an inventory covers, for its period: its
    organisation's users and the secretariat (404 for anyone else). Refused (422, naming
    the period) where the inventory records no production of aluminium goods."""
    inv = _readable(db, actor, inventory_id)
    outputs = {p.process: p.output_kg for p in inv.processes}
    declared = {p.process: p.declared_t for p in inv.processes}
    order = [p for p in rules.PROCESSES if p in outputs]
    groups: dict[str, list[str]] = {}
    for p in order:
        if p in cn.PROCESS_CN:
            groups.setdefault(cn.PROCESS_CN[p], []).append(p)
    if not groups:
        raise InvalidInput(
            f"the period {_period(inv)} records no production of aluminium goods (only "
            f"{', '.join(label(p).lower() for p in order) or 'nothing'}): CBAM has nothing "
            "to report for it", field="period")

    def share(total: Decimal, processes: list[str]) -> Decimal:
        return rules.attributed_t(total, outputs, processes, inv.allocation, declared)

    processes = []
    for p in order:
        co2, pfc, mwh = share(inv.scope1_t, [p]), share(inv.pfc_t, [p]), \
            share(inv.electricity_mwh, [p])
        processes.append(CbamProcessRead(
            process=p, output_kg=outputs[p], direct_co2_t=co2, pfc_t=pfc,
            direct_t=co2 + pfc, electricity_mwh=mwh,
            electricity_factor_t_per_mwh=inv.electricity_factor_t_per_mwh,
            indirect_t=rules.scope2_t(mwh, inv.electricity_factor_t_per_mwh)))
    by_process = {p.process: p for p in processes}
    docs = repo.received_documents(db, entity_id=inv.entity_id, start=inv.period_start,
                                   end=inv.period_end)
    precursors = precursors_of(db, docs)
    last_code = cn.PROCESS_CN[[p for p in order if p in cn.PROCESS_CN][-1]]
    goods = []
    for code, group in groups.items():
        mine = precursors if code == last_code else []
        activity = outputs[group[-1]]
        direct = sum((by_process[p].direct_t for p in group), Decimal(0))
        indirect = sum((by_process[p].indirect_t for p in group), Decimal(0))
        prec_t = sum((p.embedded_t for p in mine), Decimal(0))
        notes = []
        route = None
        if code == cn.UNWROUGHT_CN:
            scrap = sum(p.quantity_kg for p in mine if p.cn_code == cn.SCRAP_CN)
            metal = sum(p.quantity_kg for p in mine if p.cn_code != cn.SCRAP_CN)
            if rules.SMELTING in group:
                route = "primary"
            elif metal == 0:
                route = "secondary"
                notes.append("no aluminium received as CoC metal in the period: the metal "
                             "remelted is taken to be scrap")
            else:
                route = "secondary" if rules.secondary_route(scrap, metal, _scrap_share()) \
                    else "primary"
            if rules.SMELTING in group:
                notes.append("primary aluminium: alumina and anodes are not precursors of "
                             "CBAM's aluminium goods")
        if len(group) > 1:
            notes.append(f"{', '.join(label(p).lower() for p in group)} make one good; "
                         f"its activity level is the {label(group[-1]).lower()} output")
        if code != last_code:
            notes.append("feeds the installation's later goods; received precursors are "
                         "counted with the last good down the chain")
        if any(p.default_used for p in mine):
            notes.append("default values stand in where a supplier gave no footprint")
        goods.append(CbamGoodRead(
            cn_code=code, name=cn.CN_NAMES[code], route=route, processes=group,
            activity_level_kg=activity, direct_t=direct, precursors_t=prec_t,
            see_direct_t_per_t=rules.specific_embedded(direct, prec_t, activity,
                                                       cn.CN_NAMES[code]),
            indirect_t=indirect,
            see_indirect_t_per_t=(indirect * 1000 / activity).quantize(rules.INTENSITY),
            precursors=mine, notes=notes))
    notes = [DIRECT_ONLY,
             "Precursors: the metal of every CoC document received in the period, taken as "
             "consumed in it."]
    if inv.facility_id is None:
        notes.append("The inventory is entity-wide: the entity is the installation.")
    if _data()["illustrative"]:
        notes.append("The default values are illustrative, not the Commission's.")
    return CbamReport(
        inventory_id=inv.id, period_start=inv.period_start, period_end=inv.period_end,
        installation=_installation(db, inv), verification=inv.verification,
        method=inv.method, electricity_factor_source=inv.electricity_factor_source,
        processes=processes, goods=goods,
        not_covered=[p for p in order if p not in cn.PROCESS_CN], reference=reference(),
        notes=notes)


# --- the importer's declaration ---------------------------------------------------------


def importer_declaration(db: Session, actor: Actor | None, year: int, *,
                         cn_code: str | None = None, organization: str | None = None
                         ) -> CbamImports:
    """What an EU member received in ``year`` from installations outside the EU, by CN
    code and origin country: the member's own users; the secretariat names the
    organisation (its slug)."""
    actor = reader(actor)
    if year > clock.today().year:
        raise InvalidInput(f"{year} has not begun: declare a year that is over or under way",
                           field="year")
    code = None
    if cn_code:
        try:
            code = cn.cbam_code(cn_code)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="cn_code") from None
    if actor.is_secretariat():
        if not organization:
            raise InvalidInput("name the importer (its slug)", field="organization")
        org = repo.organization_by_slug(db, organization)
        if org is None:
            raise NotFound(f"no organisation '{organization}'", field="organization")
    else:
        assert actor.organization_id is not None
        org = repo.organization_by_id(db, actor.organization_id)
        assert org is not None
    if org.country not in eu_countries():
        raise Forbidden(f"{org.name} is in {org.country}, outside the EU: only an EU "
                        "importer declares under CBAM", field="organization")
    docs = repo.received_documents(db, organization_id=org.id, start=date(year, 1, 1),
                                   end=date(year, 12, 31))
    eu = eu_countries()
    rows = [p for p in precursors_of(db, docs)
            if p.cn_code in cn.CBAM_ALUMINIUM and p.origin_country not in eu
            and (code is None or p.cn_code == code)]
    groups: dict[tuple[str, str], list[CbamPrecursorRead]] = defaultdict(list)
    for p in rows:
        groups[(p.cn_code, p.origin_country)].append(p)
    lines = []
    for (c, country), items in sorted(groups.items()):
        kg = sum(p.quantity_kg for p in items)
        t = sum((p.embedded_t for p in items), Decimal(0))
        lines.append(CbamImportLine(
            cn_code=c, name=cn.CN_NAMES[c], origin_country=country, documents=len(items),
            quantity_kg=kg, embedded_direct_t=t,
            see_direct_t_per_t=(t * 1000 / kg).quantize(rules.INTENSITY),
            default_documents=sum(p.default_used for p in items),
            scope12_documents=sum(p.source == "supplier_scope12" for p in items)))
    return CbamImports(
        organization=org.name, country=org.country, year=year, cn_code=code, lines=lines,
        total_quantity_kg=sum(line.quantity_kg for line in lines),
        total_embedded_direct_t=sum((line.embedded_direct_t for line in lines), Decimal(0)),
        documents=rows, reference=reference())
