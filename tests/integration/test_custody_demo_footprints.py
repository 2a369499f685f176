"""The demo year with the carbon demo's inventories at every entity of the chain (the year
before last's recorded before the first flow, later ones as their periods end):
every CoC document down to the car maker and the can maker carries a footprint built up
tier by tier back to the mines, and the conservation audit still finds nothing."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from stewardship.core.auth import system_actor
from stewardship.custody.models import CocDocument
from stewardship.custody.service import audit
from stewardship.registry import repository as registry_repo
from tests.conftest import BACKENDS, DemoTemplates, session_on


@pytest.fixture(scope="module", params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           demo_templates: DemoTemplates) -> Iterator[Engine]:
    directory: Path = tmp_path_factory.mktemp("custody-demo-footprints")
    with demo_templates.database(str(request.param), directory) as (engine, _report):
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
