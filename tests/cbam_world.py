"""A small CBAM world on the custody chain of ``tests/custody_world.py``: the smelter (NO)
records this year's inventory and ships three lots of unwrought aluminium to the rolling
mill (DE, an EU importer), which receives them and records its own inventory of rolling.
The documents are given the footprint columns the footprint work fills: one built up tier
by tier on the smelter's own inventory (its direct share separable), one whose only tier
is merged secondary data (not separable), one with no footprint (a default value)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from stewardship.carbon.schemas import InventoryCreate
from stewardship.carbon.service import inventories
from stewardship.custody import repository as custody_repo
from tests import custody_world as cw
from tests.today import TODAY

START = date(TODAY.year, 1, 1)
# The smelter: Scope 1 600 t + PFCs 200 t direct, 1 000 MWh x 0.2 t = 200 t indirect:
# its direct share is 800 / 1 000 = 0.8.
SMELTER = {"scope1_t": "600", "pfc_t": "200", "pfc_method": "slope",
           "electricity_mwh": "1000", "electricity_factor_t_per_mwh": "0.2",
           "electricity_factor_source": "grid average", "method": "GHG Protocol",
           "commissioned_year": 2010,
           "processes": [{"process": "smelting", "output_kg": 400_000},
                         {"process": "casting", "output_kg": 380_000}]}
# The mill: 10 t direct, 50 MWh x 0.3 t = 15 t indirect, 5 000 kg of coil.
MILL = {"scope1_t": "10", "electricity_mwh": "50", "electricity_factor_t_per_mwh": "0.3",
        "electricity_factor_source": "grid average 2025", "method": "GHG Protocol",
        "processes": [{"process": "rolling", "output_kg": 5_000}]}


@dataclass
class CbamWorld:
    chain: cw.Chain
    smelter_inventory: uuid.UUID
    mill_inventory: uuid.UUID
    mine_inventory: uuid.UUID
    documents: dict[str, str]
    """separable, merged, none -> document number."""


def _inventory(db: Session, m: cw.Member, body: dict[str, Any]) -> uuid.UUID:
    return inventories.record_inventory(db, m.user, InventoryCreate.model_validate({
        "period_start": START.isoformat(), "period_end": TODAY.isoformat(), **body})).id


def _footprint(db: Session, number: str, tiers: list[dict[str, Any]] | None) -> None:
    doc = custody_repo.document_by_number(db, number)
    assert doc is not None
    if tiers is None:
        doc.footprint_kg_co2e_per_kg = None
        doc.footprint_primary_percent = None
        doc.footprint_tiers = None
    else:
        doc.footprint_kg_co2e_per_kg = sum((Decimal(t["kg_co2e_per_kg"]) for t in tiers),
                                           Decimal(0))
        doc.footprint_primary_percent = Decimal("50")
        doc.footprint_tiers = tiers
    db.flush()


def build(db: Session) -> CbamWorld:
    chain = cw.build(db)
    smelter_inv = _inventory(db, chain.smelter, SMELTER)
    mill_inv = _inventory(db, chain.mill, MILL)
    mine_inv = _inventory(db, chain.mine, {
        "scope1_t": "5", "method": "GHG Protocol",
        "processes": [{"process": "mining", "output_kg": 9_000}]})
    cw.produce(db, chain.smelter, "asi_aluminium", 20_000, on=START)
    numbers = {}
    for key, kg, words in (("separable", 3_000, "Sheet ingot"), ("merged", 2_000, "Sow"),
                           ("none", 1_000, "T-bar")):
        number = cw.ship(db, chain.smelter, chain.mill, "asi_aluminium", kg)
        doc = custody_repo.document_by_number(db, number)
        assert doc is not None
        doc.description = words
        numbers[key] = number
    _footprint(db, numbers["separable"], [
        {"tier": 0, "entity_id": str(chain.smelter.entity_id), "entity": "Fjell Aluminium",
         "organization": "Fjell Aluminium", "country": "NO", "process": "smelting",
         "kg_co2e_per_kg": "6.000000", "primary": True, "merged": 0},
        {"tier": 1, "entity_id": str(chain.mine.entity_id), "entity": "Red Earth Bauxite",
         "organization": "Red Earth Bauxite", "country": "AU", "process": "refining",
         "kg_co2e_per_kg": "2.000000", "primary": True, "merged": 0}])
    _footprint(db, numbers["merged"], [
        {"tier": 0, "entity_id": None, "entity": "", "organization": "", "country": "NO",
         "process": "various", "kg_co2e_per_kg": "5.000000", "primary": False,
         "merged": 3}])
    _footprint(db, numbers["none"], None)
    for number in numbers.values():
        cw.receive(db, chain.mill, number)
    db.flush()
    return CbamWorld(chain, smelter_inv, mill_inv, mine_inv, numbers)


# What the mill's coil must come to: the separable lot's direct part is its smelting tier
# times 0.8 (the refining tier is outside the boundary), the merged lot counts whole, the
# lot without a footprint takes 7601's default value (data/cbam.yaml: 1.800).
SEPARABLE_SEE = Decimal("4.800")
PRECURSORS_T = Decimal("3") * SEPARABLE_SEE + Decimal("2") * Decimal("5") + Decimal("1.8")
COIL_SEE = ((Decimal("10") + PRECURSORS_T) / Decimal("5")).quantize(Decimal("0.001"))
