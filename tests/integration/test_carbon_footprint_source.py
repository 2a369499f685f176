"""The emissions an entity's own process adds per kilogram, read from its inventory."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from stewardship.carbon.models import CarbonInventory, CarbonProcess
from stewardship.carbon.service.footprint_source import process_emissions
from stewardship.registry.repository import organization_by_slug
from tests import factories


def test_the_inventory_covering_the_day_answers_for_its_processes(db: Session) -> None:
    slug = factories.organization(db)
    ent = factories.entity(db, slug)
    org = organization_by_slug(db, slug)
    assert org is not None
    inv = CarbonInventory(
        organization_id=org.id, entity_id=ent.id,
        period_start=date(2026, 1, 1), period_end=date(2026, 12, 31),
        scope1_t=Decimal("150000"), pfc_t=Decimal("10000"),
        electricity_mwh=Decimal("1000000"), electricity_factor_t_per_mwh=Decimal("0.4"),
        recorded_by="system:test",
        processes=[CarbonProcess(process="smelting", output_kg=100_000_000)])
    db.add(inv)
    db.flush()
    found = process_emissions(db, ent.id, "smelting", date(2026, 6, 30))
    assert found is not None
    # (150,000 + 10,000 + 1,000,000 MWh x 0.4) t over 100,000 t.
    assert found.kg_co2e_per_kg == Decimal("5.600000")
    assert found.primary
    assert process_emissions(db, ent.id, "casting", date(2026, 6, 30)) is None
    assert process_emissions(db, ent.id, "smelting", date(2025, 12, 31)) is None
    # A day whose period has no inventory yet takes the latest one, while it is recent.
    later = process_emissions(db, ent.id, "smelting", date(2027, 3, 1))
    assert later is not None and later.kg_co2e_per_kg == Decimal("5.600000")
    assert process_emissions(db, ent.id, "smelting", date(2029, 1, 1)) is None
