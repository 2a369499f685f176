"""CBAM on the custody ledger (SQLite and PostgreSQL): the mill's coil takes its
precursors' embedded emissions from the documents it received (the supplier's direct share
where separable, Scope 1+2 whole where not, a default value only where no footprint came,
each flagged); the smelter's unwrought aluminium has no precursors; an EU importer sees what
it received from outside the EU by CN code and origin country; refusals name their field
and change nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stewardship.carbon.models import CarbonInventory
from stewardship.carbon.service import cbam
from stewardship.core.errors import Forbidden, InvalidInput, NotFound
from stewardship.core.eventlog import EventLogEntry
from tests import cbam_world as cbw
from tests.today import TODAY


@pytest.fixture
def world(db: Session) -> cbw.CbamWorld:
    return cbw.build(db)


def test_the_coil_adds_its_precursors_embedded_emissions(world: cbw.CbamWorld,
                                                         db: Session) -> None:
    report = cbam.installation_report(db, world.chain.mill.user, world.mill_inventory)
    assert [g.cn_code for g in report.goods] == ["7606"]
    coil = report.goods[0]
    assert coil.activity_level_kg == 5_000
    assert coil.direct_t == Decimal("10.000")
    assert coil.precursors_t == cbw.PRECURSORS_T
    assert coil.see_direct_t_per_t == cbw.COIL_SEE
    # Indirect beside, not in: 50 MWh x 0.3 t over 5 t.
    assert coil.indirect_t == Decimal("15.000")
    assert coil.see_indirect_t_per_t == Decimal("3.000")
    by_doc = {p.document: p for p in coil.precursors}
    separable = by_doc[world.documents["separable"]]
    assert (separable.source, separable.default_used) == ("supplier_direct", False)
    assert separable.see_direct_t_per_t == cbw.SEPARABLE_SEE
    assert separable.origin_country == "NO" and separable.cn_code == "7601"
    merged = by_doc[world.documents["merged"]]
    assert (merged.source, merged.default_used) == ("supplier_scope12", False)
    assert merged.see_direct_t_per_t == Decimal("5.000")
    assert "could not be separated" in merged.note
    none = by_doc[world.documents["none"]]
    assert (none.source, none.default_used) == ("default", True)
    assert none.see_direct_t_per_t == Decimal("1.800")
    assert "illustrative" in none.note
    assert sum(p.default_used for p in coil.precursors) == 1
    assert report.reference.illustrative is True
    assert report.installation.kind == "entity"
    assert report.installation.country == "DE"


def test_the_smelter_makes_primary_unwrought_aluminium_without_precursors(
        world: cbw.CbamWorld, db: Session) -> None:
    report = cbam.installation_report(db, world.chain.smelter.user, world.smelter_inventory)
    (metal,) = report.goods
    assert (metal.cn_code, metal.route, metal.processes) == ("7601", "primary",
                                                             ["smelting", "casting"])
    assert metal.precursors == []
    # All 800 t direct (600 + 200 PFCs), by output mass over smelting and casting (one
    # good), per t of the cast output (380 t).
    assert metal.direct_t == Decimal("800.000")
    assert metal.activity_level_kg == 380_000
    assert metal.see_direct_t_per_t == Decimal("2.105")
    assert sum(p.pfc_t for p in report.processes) == Decimal("200.000")
    assert sum(p.indirect_t for p in report.processes) == Decimal("200.000")


def test_the_eu_importer_sees_what_it_received_from_outside_the_eu(world: cbw.CbamWorld,
                                                                   db: Session) -> None:
    data = cbam.importer_declaration(db, world.chain.mill.user, TODAY.year)
    (line,) = data.lines
    assert (line.cn_code, line.origin_country, line.documents) == ("7601", "NO", 3)
    assert line.quantity_kg == 6_000
    assert line.embedded_direct_t == cbw.PRECURSORS_T
    assert (line.default_documents, line.scope12_documents) == (1, 1)
    assert data.total_embedded_direct_t == cbw.PRECURSORS_T
    assert cbam.importer_declaration(db, world.chain.mill.user, TODAY.year,
                                     cn_code="7606").lines == []
    assert cbam.importer_declaration(db, world.chain.mill.user, TODAY.year - 1).lines == []


def _counts(db: Session) -> tuple[int, int]:
    return (db.scalar(select(func.count()).select_from(CarbonInventory)) or 0,
            db.scalar(select(func.count()).select_from(EventLogEntry)) or 0)


def test_refusals_name_their_field_and_change_nothing(world: cbw.CbamWorld,
                                                      db: Session) -> None:
    before = _counts(db)
    with pytest.raises(InvalidInput) as no_goods:
        cbam.installation_report(db, world.chain.mine.user, world.mine_inventory)
    assert no_goods.value.details[0]["field"] == "period"
    assert f"{TODAY.year}-01-01 to {TODAY.isoformat()}" in no_goods.value.message
    with pytest.raises(NotFound):
        cbam.installation_report(db, world.chain.mill.user, world.smelter_inventory)
    with pytest.raises(InvalidInput) as code:
        cbam.importer_declaration(db, world.chain.mill.user, TODAY.year, cn_code="7602")
    assert code.value.details[0]["field"] == "cn_code"
    with pytest.raises(InvalidInput) as year:
        cbam.importer_declaration(db, world.chain.mill.user, TODAY.year + 1)
    assert year.value.details[0]["field"] == "year"
    with pytest.raises(Forbidden):
        cbam.importer_declaration(db, world.chain.smelter.user, TODAY.year)
    with pytest.raises(InvalidInput) as who:
        cbam.importer_declaration(db, world.chain.secretariat, TODAY.year)
    assert who.value.details[0]["field"] == "organization"
    assert _counts(db) == before
