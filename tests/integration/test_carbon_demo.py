"""The demo world's emission inventories: every upstream entity has last year's, the coal
smelter is flagged off its path and the hydro one is well below the threshold, the public
board shows them, loading again adds nothing, and the custody chain's processes find their
emissions per kg."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from stewardship.carbon.cbam_workbook import installation_workbook
from stewardship.carbon.demo import SITES, demo_carbon
from stewardship.carbon.models import CarbonInventory
from stewardship.carbon.service import cbam, inventories
from stewardship.carbon.service.footprint_source import process_emissions
from stewardship.core import timeline
from stewardship.core.auth import system_actor
from stewardship.core.config import Settings
from stewardship.core.pagination import PageParams
from stewardship.demo import DemoReport
from stewardship.registry import repository as registry_repo
from stewardship.web.app import create_app
from tests.conftest import BACKENDS, DemoTemplates, session_on
from tests.today import TODAY

SECRETARIAT = system_actor("tests")


@dataclass
class Demo:
    engine: Engine
    report: DemoReport


@pytest.fixture(scope="module", params=BACKENDS)
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
         demo_templates: DemoTemplates) -> Iterator[Demo]:
    directory: Path = tmp_path_factory.mktemp("carbon-demo")
    with demo_templates.database(str(request.param), directory) as (engine, report):
        yield Demo(engine, report)


@pytest.fixture
def db(demo: Demo) -> Iterator[Session]:
    connection = demo.engine.connect()
    outer = connection.begin()
    session = session_on(connection)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


def _entity_id(db: Session, slug: str, name: str) -> uuid.UUID:
    org = registry_repo.organization_by_slug(db, slug)
    assert org is not None
    return next(e.id for e in org.entities if e.name == name)


def test_every_upstream_entity_has_last_years_inventory(demo: Demo, db: Session) -> None:
    assert demo.report.created.get("carbon demos") == 1
    last = date(TODAY.year - 1, 12, 31)
    for site in SITES:
        entity_id = _entity_id(db, site.slug, site.entity)
        count = db.scalar(select(func.count()).select_from(CarbonInventory).where(
            CarbonInventory.entity_id == entity_id, CarbonInventory.period_end == last))
        assert count == 1, site.entity


def test_the_coal_smelter_is_flagged_and_the_hydro_smelter_well_below(demo: Demo,
                                                                     db: Session) -> None:
    board = {s.organization: s for s in inventories.smelter_board(db).smelters}
    coal, hydro = board["sonkhal-aluminium"], board["fjordal-aluminium"]
    assert coal.threshold.flagged
    assert coal.threshold.intensity_t_per_t > coal.threshold.limit_t_per_t
    assert not hydro.threshold.flagged
    assert hydro.threshold.intensity_t_per_t < hydro.threshold.limit_t_per_t / 2
    assert board["eldhraun-aluminium"].threshold.new_smelter
    # Sonkhal corrected last year's PFCs once
    page = inventories.list_inventories(db, SECRETARIAT, PageParams(1, 10),
                                        organization="sonkhal-aluminium")
    assert [r.revision for r in page.items
            if r.period_end == date(TODAY.year - 1, 12, 31)] == [2]
    assert all(r.threshold is not None and r.threshold.flagged for r in page.items
               if r.period_start.year == TODAY.year - 1)


def test_the_pages_show_the_board_and_the_members_inventories(demo: Demo,
                                                             tmp_path: Path) -> None:
    settings = Settings(environment="test", var_dir=tmp_path, secret_key="d" * 40)
    client = TestClient(create_app(settings=settings, engine=demo.engine))
    page = client.get("/carbon")
    assert page.status_code == 200
    assert "Sonkhal Aluminium" in page.text and "Flagged" in page.text
    assert "Fjordal Aluminium" in page.text


def test_the_chain_finds_each_process_s_emissions_per_kg(demo: Demo, db: Session) -> None:
    on = date(TODAY.year - 1, 6, 30)
    smelting = process_emissions(db, _entity_id(db, "fjordal-aluminium",
                                                "Fjordal Aluminium AS"), "smelting", on)
    assert smelting is not None and Decimal("1") < smelting.kg_co2e_per_kg < Decimal("3")
    rolling = process_emissions(db, _entity_id(db, "rheinfeld-rolling",
                                               "Rheinfeld Walzwerk GmbH"), "rolling", on)
    assert rolling is not None and rolling.kg_co2e_per_kg < Decimal("1")


def test_loading_again_adds_nothing(demo: Demo, db: Session) -> None:
    before = db.scalar(select(func.count()).select_from(CarbonInventory))
    assert timeline.run_one(demo_carbon(db, TODAY)) is False
    assert db.scalar(select(func.count()).select_from(CarbonInventory)) == before
    assert inventories.list_inventories(db, SECRETARIAT, PageParams(1, 5)).total == before


def test_the_demo_has_a_cbam_export_and_eu_importers_with_lines(demo: Demo,
                                                                 db: Session) -> None:
    year = TODAY.year - 1
    page = inventories.list_inventories(db, SECRETARIAT, PageParams(1, 10),
                                        organization="sonkhal-aluminium")
    inv = next(r for r in page.items if r.period_start.year == year)
    report = cbam.installation_report(db, SECRETARIAT, inv.id)
    (metal,) = report.goods
    assert (metal.cn_code, metal.route) == ("7601", "primary")
    assert metal.see_direct_t_per_t > 0
    book = load_workbook(io.BytesIO(installation_workbook(report)))
    for name in ("A_InstData", "C_Emissions&Energy", "D_Processes", "E_PurchPrec",
                 "Summary_Products"):
        assert book[name].max_row >= 4, name
    # The rolling mill in the EU received from outside it; the German mill's coil carries
    # its precursors from the documents it received.
    mill = next(r for r in inventories.list_inventories(
        db, SECRETARIAT, PageParams(1, 10), organization="rheinfeld-rolling").items
        if r.period_start.year == year and r.entity == "Rheinfeld Walzwerk GmbH")
    coil = cbam.installation_report(db, SECRETARIAT, mill.id).goods[0]
    assert coil.cn_code == "7606"
    assert coil.precursors and not any(p.default_used for p in coil.precursors)
    for slug in ("rheinfeld-rolling", "laminoirs-sevre", "duinbron-beverages"):
        lines = cbam.importer_declaration(db, SECRETARIAT, year, organization=slug).lines
        assert lines, slug
        assert all(line.origin_country not in cbam.eu_countries() for line in lines)
