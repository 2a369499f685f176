"""The demo year with an inventory at every entity of the chain (seeded here through the
carbon models, on the first day of the flows, the way the carbon demo provides them):
every CoC document down to the car maker and the can maker carries a footprint built up
tier by tier back to the mines, and the conservation audit still finds nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from stewardship import demo as world_demo
from stewardship.carbon.models import CarbonInventory, CarbonProcess
from stewardship.core import clock, timeline
from stewardship.core.auth import system_actor
from stewardship.core.config import Settings
from stewardship.core.db import make_sessionmaker, transaction
from stewardship.custody import repository as repo
from stewardship.custody.demo import FOOTPRINT_PROCESSES, PARTIES
from stewardship.custody.models import CocDocument
from stewardship.custody.service import audit
from stewardship.registry import repository as registry_repo
from tests.conftest import BACKENDS, scratch_database, session_on
from tests.today import TODAY

# t CO2e per t of output, Scope 1 + 2, by party and process (fictional, of a realistic size)
INTENSITY = {"mining": Decimal("0.008"), "refining": Decimal("0.75"),
             "casting": Decimal("0.12"), "remelting": Decimal("0.35"),
             "rolling": Decimal("0.28"), "conversion": Decimal("0.45")}
SMELTING = {"fjordal": Decimal("3.9"), "eldhraun": Decimal("3.2"), "sandvaer": Decimal("4.4")}
OUTPUT_KG = 100_000_000


def _seed(db: Session, today: date) -> timeline.Thread:
    yield timeline.at(date(today.year - 1, 1, 1), 6)
    for who, processes in FOOTPRINT_PROCESSES.items():
        slug, name = PARTIES[who]
        org = registry_repo.organization_by_slug(db, slug)
        assert org is not None, slug
        entity = next(e for e in repo.entities_of(db, org.id) if e.name == name)
        for year in (today.year - 1, today.year):
            declared = {p: (SMELTING[who] if p == "smelting" else INTENSITY[p])
                        * OUTPUT_KG / 1000 for p in processes}
            db.add(CarbonInventory(
                organization_id=org.id, entity_id=entity.id,
                period_start=date(year, 1, 1), period_end=date(year, 12, 31),
                scope1_t=sum(declared.values()), allocation="declared",
                recorded_by="system:test",
                processes=[CarbonProcess(process=p, output_kg=OUTPUT_KG, declared_t=t)
                           for p, t in declared.items()]))
    db.flush()


@pytest.fixture(scope="module", params=BACKENDS)
def engine(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    directory: Path = tmp_path_factory.mktemp("custody-demo-footprints")
    with scratch_database(str(request.param), directory) as engine:
        with transaction(make_sessionmaker(engine)) as db:
            moment = world_demo._moment(TODAY)
            report = world_demo.DemoReport()
            with clock.use(clock.SteppedClock(moment)):
                timeline.run([*world_demo._threads(db, world_demo.load_world(), report,
                                                   lambda _label: None, Settings(),
                                                   moment.date()),
                              _seed(db, moment.date())])
        yield engine


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    connection = engine.connect()
    outer = connection.begin()
    session = session_on(connection)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


def test_every_document_down_to_the_car_maker_carries_a_footprint(db: Session) -> None:
    docs = list(db.scalars(select(CocDocument)))
    assert len(docs) > 100
    unknown = [d.number for d in docs if d.footprint_kg_co2e_per_kg is None]
    assert unknown == []
    assert all(d.footprint_primary_percent == Decimal("100.00") for d in docs)
    hoshikawa = registry_repo.organization_by_slug(db, "hoshikawa-motor")
    assert hoshikawa is not None
    bought = [d for d in docs if d.recipient_organization_id == hoshikawa.id]
    assert bought
    for d in bought:
        tiers = d.footprint_tiers or []
        assert sum(Decimal(t["kg_co2e_per_kg"]) for t in tiers) == d.footprint_kg_co2e_per_kg
        processes = {t["process"] for t in tiers}
        assert tiers[0]["tier"] == 0 and tiers[0]["process"] == "rolling"
        assert {"smelting", "casting"} <= processes
        # primary metal mixed with recycled slab at the mill
        assert d.footprint_kg_co2e_per_kg is not None
        assert Decimal("1") < d.footprint_kg_co2e_per_kg < Decimal("8")
    assert any({"mining", "refining"} <= {t["process"] for t in d.footprint_tiers or []}
               for d in bought)
    # recycled slab: the remelter's own emissions, scrap burden-free
    lindtal = registry_repo.organization_by_slug(db, "lindtal-remelt")
    assert lindtal is not None
    slab = [d for d in docs if d.issuer_organization_id == lindtal.id]
    assert slab and all(d.footprint_kg_co2e_per_kg is not None and d.footprint_kg_co2e_per_kg
                        < Decimal("0.5") for d in slab)


def test_the_audit_finds_nothing_with_footprints_in_every_pool(db: Session) -> None:
    result = audit.audit(db, system_actor("tests"))
    assert result.ok, result.problems[:5]
