"""The demo year of chain-of-custody flows on a fresh database: it loads through the
services (once per backend for the whole module: the demo world takes seconds), loading
again changes nothing, the conservation audit finds nothing, Rheinfeld can issue from an
open balance, some documents wait for their recipient, and the can maker's metal traces
back to primary and recycled origins."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from stewardship.assurance.demo import suspension_day
from stewardship.assurance.service import certificates
from stewardship.core.auth import Actor, system_actor
from stewardship.core.config import Settings
from stewardship.core.eventlog import count_entries
from stewardship.core.pagination import PageParams
from stewardship.custody import repository as repo
from stewardship.custody.demo import load_demo_custody
from stewardship.custody.models import CocDocument, CustodyOperation
from stewardship.custody.service import audit, chain, documents, reads, reports
from stewardship.demo import DemoReport, load_demo
from stewardship.registry import repository as registry_repo
from stewardship.registry.service import accounts
from stewardship.web.app import create_app
from tests.conftest import BACKENDS, DemoTemplates, session_on
from tests.today import TODAY

ALL = PageParams(1, 100)
SECRETARIAT = system_actor("tests")


@dataclass
class Demo:
    engine: Engine
    report: DemoReport
    today: date


@pytest.fixture(scope="module", params=BACKENDS)
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
         demo_templates: DemoTemplates) -> Iterator[Demo]:
    directory: Path = tmp_path_factory.mktemp("custody-demo")
    with demo_templates.database(str(request.param), directory) as (engine, report):
        yield Demo(engine, report, TODAY)


@pytest.fixture
def db(demo: Demo) -> Iterator[Session]:
    """A session on the demo database whose changes are rolled back."""
    connection = demo.engine.connect()
    outer = connection.begin()
    session = session_on(connection)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


def _user(db: Session, email: str) -> Actor:
    user = registry_repo.user_by_email(db, email)
    assert user is not None
    return accounts.actor_for(user)


def _entity_id(db: Session, slug: str, name: str) -> object:
    org = registry_repo.organization_by_slug(db, slug)
    assert org is not None
    return next(e.id for e in repo.entities_of(db, org.id) if e.name == name)


def _documents(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(CocDocument)) or 0


def test_the_demo_year_is_recorded_through_the_services(demo: Demo, db: Session) -> None:
    assert demo.report.created.get("chain-of-custody demos") == 1
    kinds = dict(db.execute(select(CustodyOperation.kind, func.count())
                            .group_by(CustodyOperation.kind)).all())
    for kind in ("production", "scrap_intake", "non_coc_input", "transformation", "issue",
                 "receipt", "rejection", "cancellation", "period_close"):
        assert kinds.get(kind), kind
    steps = set(db.scalars(select(CustodyOperation.transformation).distinct()))
    assert {"refining", "smelting", "casting", "remelting", "rolling", "conversion"} <= steps
    statuses = dict(db.execute(select(CocDocument.status, func.count())
                               .group_by(CocDocument.status)).all())
    assert statuses["rejected"] == 1 and statuses["cancelled"] == 1
    assert statuses["received"] >= 60
    # nothing is dated after the flows stop, a few days before today
    assert db.scalar(select(func.max(CustodyOperation.occurred_on)).where(
        CustodyOperation.kind != "period_close")) <= demo.today - timedelta(days=3)


def test_the_previous_year_runs_in_full_at_the_declared_yields(demo: Demo,
                                                               db: Session) -> None:
    year = demo.today.year - 1
    wattlebay = _entity_id(db, "wattlebay-alumina", "Wattlebay Alumina Pty Ltd")
    report = reports.annual_report(db, SECRETARIAT, wattlebay, year)  # type: ignore[arg-type]
    assert [p.status for p in report.periods] == ["closed"]
    bauxite = next(m for m in report.materials if m.material == "asi_bauxite")
    assert 150_000_000 <= bauxite.produced <= 200_000_000  # about 14,000 t a month
    refining = next(a for a in report.activities if a.transformation == "refining")
    assert refining.operations == 12  # monthly
    assert abs(refining.average_yield - Decimal("0.45")) < Decimal("0.001")
    fjordal = _entity_id(db, "fjordal-aluminium", "Fjordal Aluminium AS")
    smelting = next(a for a in reports.annual_report(
        db, SECRETARIAT, fjordal, year).activities  # type: ignore[arg-type]
        if a.transformation == "smelting")
    assert abs(smelting.average_yield - Decimal("0.52")) < Decimal("0.001")
    assert 30_000_000 <= smelting.output_kg <= 60_000_000  # tens of thousands of tonnes


def test_loading_again_changes_nothing(demo: Demo, db: Session) -> None:
    documents_before, events_before = _documents(db), count_entries(db)
    assert load_demo_custody(db, demo.today) is False
    again = load_demo(db, today=demo.today)
    assert "chain-of-custody demos" not in again.created
    assert "certification demos" not in again.created
    assert (_documents(db), count_entries(db)) == (documents_before, events_before)


def test_the_audit_finds_nothing(db: Session) -> None:
    result = audit.audit(db, SECRETARIAT)
    assert result.problems == [] and result.ok
    assert result.documents == _documents(db) and result.accounts > 10


def test_rheinfeld_can_issue_from_an_open_aluminium_balance(demo: Demo,
                                                            db: Session) -> None:
    rheinfeld = _user(db, "daniel.brooks@rheinfeld-rolling.example")
    entity = _entity_id(db, "rheinfeld-rolling", "Rheinfeld Walzwerk GmbH")
    open_accounts = reads.list_accounts(db, rheinfeld, ALL, entity_id=entity,  # type: ignore[arg-type]
                                        status="open").items
    metal = [a for a in open_accounts if a.material.value == "asi_aluminium"]
    assert len(metal) == 1
    account = metal[0]
    assert account.period_start <= demo.today <= account.period_end
    assert account.balance_kg > 100_000
    assert account.carried_in > 0  # the previous year was closed and carried over
    assert 0 < account.input_percentage < 100  # non-CoC metal besides
    held = certificates.holdings_on(db, entity, demo.today)  # type: ignore[arg-type]
    assert held["performance"] and held["chain_of_custody"]


def test_some_documents_wait_for_their_recipient(demo: Demo, db: Session) -> None:
    waiting = chain.unmatched(db, SECRETARIAT, ALL, days=30, today=demo.today)
    assert 2 <= waiting.documents.total <= 3
    assert all(p.days_waiting > 30 for p in waiting.pairs)
    assert {p.issuer.organization for p in waiting.pairs} <= {
        "wattlebay-alumina", "fjordal-aluminium", "rheinfeld-rolling"}


def test_can_maker_documents_trace_to_primary_and_recycled_origins(db: Session) -> None:
    corvina = _user(db, "rafael.nascimento@corvina-latas.example")
    page = documents.list_documents(db, corvina, ALL, direction="incoming",
                                    status="received")
    assert page.total >= 10
    # the Brazilian plants' can stock, from Rheinfeld's German mill
    doc = next(d for d in page.items if d.issuer.entity == "Rheinfeld Walzwerk GmbH")
    assert doc.issuer.organization == "rheinfeld-rolling"
    assert doc.issuer.coc_certificate and doc.recipient.coc_certificate
    origins = {(o.country, o.route, o.stage) for o in doc.composition.origins}
    # Fjordal's smelter: its own metal and Wattlebay's bauxite, refined and smelted there
    assert ("NO", "primary", "smelter") in origins
    assert ("DE", "recycled", "remelter") in origins  # Lindtal's remelted scrap
    assert not any(country == "AU" for country, _, _ in origins)
    upstream = {s.country for o in doc.composition.origins for u in o.upstream
                for s in u.sites}
    assert upstream == {"AU"}
    assert 0 < doc.composition.recycled_percent < 100
    assert doc.coc_quantity_kg < doc.quantity_kg


def test_lindtal_passes_metal_on_only_before_its_suspension(demo: Demo,
                                                            db: Session) -> None:
    lindtal = _entity_id(db, "lindtal-remelt", "Lindtal Remelt GmbH")
    last = db.scalar(select(func.max(CustodyOperation.occurred_on)).where(
        CustodyOperation.entity_id == lindtal, CustodyOperation.kind != "period_close"))
    assert last is not None and last < suspension_day(demo.today)
    held = certificates.holdings_on(db, lindtal, demo.today)  # type: ignore[arg-type]
    assert held["performance"] is None  # suspended now
    number = db.scalar(select(CocDocument.number).where(
        CocDocument.issuer_entity_id == lindtal).order_by(CocDocument.shipment_date.desc()))
    assert number is not None
    seen = documents.verify_document(db, number, today=demo.today)
    assert seen.recycled_percent == Decimal(100)
    assert all(c.valid_on_shipment for c in seen.certificates)
    assert {c.status_now for c in seen.certificates} == {"active", "suspended"}


# --- origins over HTTP --------------------------------------------------------------------

METAL_STAGES = {"smelter": "primary", "remelter": "recycled"}


def _client(demo: Demo, db: Session, tmp_path: Path, email: str) -> TestClient:
    """A bearer-token client on the demo world, inside the test's rolled-back session."""
    app = create_app(settings=Settings(environment="test", password_profile="fast",
                                       var_dir=tmp_path, secret_key="t" * 40),
                     engine=demo.engine)
    connection = db.connection()
    app.state.sessionmaker = lambda: session_on(connection)
    token = accounts.create_token(db, _user(db, email), "tests").token
    db.flush()
    return TestClient(app, raise_server_exceptions=False,
                      headers={"Authorization": f"Bearer {token}"})


def _every_document(client: TestClient, **params: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        response = client.get("/api/v1/custody/documents",
                              params={**params, "page": str(page), "per_page": "50"})
        assert response.status_code == 200, response.text
        body = response.json()
        found.extend(body["items"])
        if page >= body["pages"]:
            return found
        page += 1


def _shares_add_up(comp: dict[str, Any]) -> None:
    hundred = Decimal("100.00")
    assert sum(Decimal(o["percent"]) for o in comp["origins"]) == hundred
    assert Decimal(comp["primary_percent"]) + Decimal(comp["recycled_percent"]) == hundred
    assert all(Decimal(o["percent"]) > 0 for o in comp["origins"])
    for o in comp["origins"]:
        assert not o["upstream"] or sum(
            Decimal(u["percent"]) for u in o["upstream"]) == hundred


def test_every_document_downstream_of_a_smelter_names_the_smelter_first(
        demo: Demo, db: Session, tmp_path: Path) -> None:
    staff = _client(demo, db, tmp_path, "secretariat@stewardship.example")
    docs = _every_document(staff)
    assert len(docs) == _documents(db)
    for doc in docs:
        comp = doc["composition"]
        _shares_add_up(comp)
        stages = {(o["stage"], o["route"]) for o in comp["origins"]}
        if doc["material"] == "asi_aluminium":  # everything downstream of a smelter
            assert stages <= set(METAL_STAGES.items()), (doc["number"], stages)
        elif doc["material"] == "asi_alumina":
            assert stages == {("refinery", "primary")}, doc["number"]
    # Fjordal smelted Wattlebay's alumina: its metal names the refinery and the mine.
    smelted = [o for d in docs for o in d["composition"]["origins"]
               if o["facility"] == "Fjordal Smelter"]
    assert smelted and all(o["country"] == "NO" for o in smelted)
    assert {tuple((s["stage"], s["facility"], s["country"]) for s in u["sites"])
            for o in smelted for u in o["upstream"]} == {
        (("refinery", "Wattlebay Kemerton Refinery", "AU"),
         ("bauxite_mine", "Wattlebay Darling Range Mine", "AU")),
        ()}  # and its own production, upstream not recorded


def test_a_can_buyer_reads_where_its_aluminium_was_smelted(demo: Demo, db: Session,
                                                            tmp_path: Path) -> None:
    buyer = _client(demo, db, tmp_path, "youssef.elamrani@duinbron-beverages.example")
    cans = _every_document(buyer, direction="incoming")
    assert cans and {d["issuer"]["organization"] for d in cans} == {"corvina-latas",
                                                                    "envases-tajo"}
    brazil = [d for d in cans if d["issuer"]["entity"] == "Corvina Latas S.A."]
    assert brazil  # the Brazilian plants' cans, whose metal Fjordal smelted
    for doc in brazil:
        origins = doc["composition"]["origins"]
        assert origins[0]["stage"] in METAL_STAGES
        assert ("Fjordal Smelter", "NO", "smelter") in {
            (o["facility"], o["country"], o["stage"]) for o in origins}
        chain = buyer.get(f"/api/v1/custody/documents/{doc['number']}/chain")
        assert chain.status_code == 200, chain.text
        for tier in chain.json()["tiers"]:
            for link in tier["documents"]:
                assert link["origins"], link["number"]
                assert all(o["facility"] and o["country"] for o in link["origins"])
        break  # one document's chain is enough; every document's origins were checked


def test_each_link_of_the_public_network_has_three_issuers(demo: Demo, db: Session) -> None:
    # The public network shows a link only where three issuing entities contribute to it:
    # the demo world has enough members for every link from refinery to can to show.
    for year in (demo.today.year - 1, demo.today.year):
        flows = reports.network_flows(db, SECRETARIAT, year)
        links = {(link.source, link.target): link.contributors for link in flows.links}
        assert set(links) >= {
            ("alumina_refining", "smelting"), ("casthouse", "semi_fabrication"),
            ("remelting_refining", "semi_fabrication"),
            ("semi_fabrication", "material_conversion"),
            ("semi_fabrication", "other_manufacturing"),
            ("material_conversion", "industrial_user")}, (year, links)
        assert min(links.values()) >= flows.minimum_contributors == 3
        assert flows.hidden_links == 0
