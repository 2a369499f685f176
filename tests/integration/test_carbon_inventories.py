"""Inventory use cases on a real database (SQLite and PostgreSQL): a correction replaces
the processes' rows under their unique key and the chain reads the corrected figures, the
event log holds every change, series are kept apart, the standard's thresholds are what
the check reads, and a refusal leaves nothing behind."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stewardship.carbon.models import CarbonInventory, CarbonProcess
from stewardship.carbon.schemas import InventoryCorrection, InventoryCreate
from stewardship.carbon.service import inventories, thresholds
from stewardship.carbon.service.footprint_source import process_emissions
from stewardship.core.errors import InvalidInput, NotFound
from stewardship.core.eventlog import verify_chain
from stewardship.core.pagination import PageParams
from tests import carbon_world as kw
from tests import factories
from tests.today import TODAY

YEAR = TODAY.year - 1


def _create(**body: object) -> InventoryCreate:
    return InventoryCreate.model_validate(body)


def test_a_correction_replaces_the_processes_and_the_chain_reads_it(db: Session) -> None:
    w = kw.build(db)
    made = inventories.record_inventory(db, w.smelter.admin, _create(**kw.smelter_body(
        YEAR, processes=[{"process": "smelting", "output_kg": 420_000_000},
                         {"process": "casting", "output_kg": 400_000_000}])))
    on = date(YEAR, 7, 1)
    before = process_emissions(db, w.smelter.entity_id, "smelting", on)
    assert before is not None
    fixed = inventories.correct_inventory(db, w.smelter.user, made.id, InventoryCorrection(
        **{**kw.smelter_body(YEAR), "reason": "casting belongs to the casthouse's inventory"}))
    assert [p.process for p in fixed.processes] == ["smelting"]
    rows = db.scalars(select(CarbonProcess).where(CarbonProcess.inventory_id == made.id)).all()
    assert [(r.process, r.output_kg) for r in rows] == [("smelting", 420_000_000)]
    after = process_emissions(db, w.smelter.entity_id, "smelting", on)
    assert after is not None
    # all of Scope 1+2 now falls on the smelting output: 751,300 t over 420,000 t
    assert after.kg_co2e_per_kg == Decimal("1.788810")
    assert after.kg_co2e_per_kg > before.kg_co2e_per_kg
    kinds = factories.event_kinds(db)
    assert kinds.count("carbon.inventory.recorded") == 1
    assert kinds.count("carbon.inventory.corrected") == 1
    assert verify_chain(db).ok


def test_the_series_of_an_entity_and_of_each_installation_are_kept_apart(db: Session) -> None:
    w = kw.build(db)
    admin = w.smelter.admin
    inventories.record_inventory(db, admin, _create(**kw.smelter_body(YEAR)))
    inventories.record_inventory(db, admin, _create(**kw.smelter_body(
        YEAR, facility=w.smelter.facility)))
    cast = {"period_start": f"{YEAR}-01-01", "period_end": f"{YEAR}-12-31",
            "scope1_t": "12000", "method": "GHG Protocol", "facility_id": w.casthouse,
            "processes": [{"process": "casting", "output_kg": 400_000_000}]}
    inventories.record_inventory(db, admin, _create(**cast))
    with pytest.raises(InvalidInput) as refused:
        inventories.record_inventory(db, admin, _create(**{**cast,
                                                           "period_start": f"{YEAR}-12-31"}))
    assert refused.value.details[0]["field"] == "period_start"
    page = inventories.list_inventories(db, w.secretariat, PageParams(1, 10),
                                        organization=w.smelter.slug)
    assert page.total == 3
    assert {i.facility_id for i in page.items} == {None, w.smelter.facility, w.casthouse}
    assert inventories.list_inventories(db, w.mill.user, PageParams(1, 10)).total == 0
    with pytest.raises(NotFound):
        inventories.list_inventories(db, w.secretariat, PageParams(1, 10),
                                     organization="no-such-member")


def test_the_check_reads_the_thresholds_of_the_latest_version(db: Session) -> None:
    kw.build(db, standard="performance-v2.yaml")
    limits = thresholds.smelter_limits(db)
    assert limits is not None
    assert limits.thresholds.new_max == Decimal("8.0")
    assert limits.thresholds.existing_by == date(2030, 1, 1)
    w = kw.build(db)  # loads version 3 as well: its limits win
    latest = thresholds.smelter_limits(db)
    assert latest is not None and latest.thresholds.new_max == Decimal("11.0")
    assert latest.basis == thresholds.CRADLE_TO_GATE and limits.basis == thresholds.SCOPE12
    made = inventories.record_inventory(db, w.smelter.admin, _create(**kw.smelter_body(
        YEAR, scope3_cat1_t="420000")))
    assert made.threshold is not None
    # 1.789 of Scope 1+2 and 1.000 of upstream Scope 3 per tonne
    assert made.threshold.intensity_t_per_t == Decimal("2.789")


def test_a_refused_inventory_leaves_nothing_behind(db: Session) -> None:
    w = kw.build(db)
    entries = len(factories.events(db))
    declared = kw.smelter_body(YEAR, allocation="declared")
    with pytest.raises(InvalidInput) as refused:
        inventories.record_inventory(db, w.smelter.admin, _create(**declared))
    assert refused.value.details[0]["field"] == "processes.0.declared_t"
    assert db.scalar(select(func.count()).select_from(CarbonInventory)) == 0
    assert len(factories.events(db)) == entries
