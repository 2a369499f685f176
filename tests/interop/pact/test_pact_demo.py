"""The PACT API on the demo world, on SQLite and PostgreSQL: the car maker's connector signs
in with the demo's client credentials (Rheinfeld's, for Hoshikawa Motor) and pulls every
footprint page by page; each validates against PACT's ProductFootprint schema and states
its document's footprint, and none is of a document addressed to anyone else. The list's
filters, applied by the query, keep exactly what reading every footprint would keep."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from stewardship import demo as world_demo
from stewardship.core.config import Settings
from stewardship.custody.models import CocDocument
from stewardship.interop.pact import repository as pact_repo
from stewardship.interop.pact import rules
from stewardship.interop.pact.models import PactClient
from stewardship.interop.pact.service import footprints
from stewardship.registry import repository as registry_repo
from stewardship.registry.service import accounts
from tests.api.pages import sign_in, text
from tests.conftest import BACKENDS, DemoTemplates
from tests.interop.pact.conftest import token_for
from tests.interop.pact.schema import needs_conformance, problems

CLIENT = "pact_demo_hoshikawa_rheinfeld"
SCHEMA_URL = "http://testserver/pact/extensions/coc/1.0.0/schema.json"


@pytest.fixture(scope="module", params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           demo_templates: DemoTemplates) -> Iterator[Engine]:
    directory: Path = tmp_path_factory.mktemp("pact-demo")
    with demo_templates.database(str(request.param), directory) as (engine, _report):
        yield engine


def _spec() -> dict[str, Any]:
    found = [s for s in world_demo.load_world()["pact_clients"] if s["client_id"] == CLIENT]
    assert len(found) == 1
    return found[0]


def _client(db: Session) -> PactClient:
    client = pact_repo.client_by_client_id(db, CLIENT)
    assert client is not None
    return client


def _seen_documents(db: Session) -> list[CocDocument]:
    """What the connector may see: Rheinfeld's standing documents to Hoshikawa Motor."""
    client = _client(db)
    return [d for d in db.scalars(select(CocDocument).order_by(CocDocument.issued_at,
                                                               CocDocument.id))
            if d.issuer_organization_id == client.organization_id
            and d.recipient_organization_id == client.buyer_organization_id
            and d.status in ("issued", "received")]


def _pull(pact: TestClient, headers: dict[str, str], url: str) -> list[dict[str, Any]]:
    """Every page of a list, following its Link headers."""
    found: list[dict[str, Any]] = []
    pages = 0
    while url:
        answer = pact.get(url, headers=headers)
        assert answer.status_code == 200, answer.text
        found += answer.json()["data"]
        pages += 1
        link = answer.headers.get("link", "")
        url = link[1:link.index(">")].replace("http://testserver", "") if link else ""
        assert pages < 100
    return found


def test_the_demo_client_is_rheinfelds_for_the_car_maker(db: Session) -> None:
    client = _client(db)
    supplier = registry_repo.organization_by_slug(db, "rheinfeld-rolling")
    buyer = registry_repo.organization_by_slug(db, "hoshikawa-motor")
    assert supplier is not None and buyer is not None
    assert (client.organization_id, client.buyer_organization_id) == (supplier.id, buyer.id)
    assert client.revoked_at is None and client.name == _spec()["name"]


@needs_conformance
def test_the_car_maker_pulls_its_footprints_and_each_validates(pact: TestClient,
                                                               db: Session) -> None:
    spec = _spec()
    headers = {"Authorization": f"Bearer {token_for(pact, CLIENT, spec['client_secret'])}"}
    pulled = _pull(pact, headers, "/pact/3/footprints?limit=7")
    documents = {str(d.id): d for d in _seen_documents(db)}
    assert len(documents) > 7  # more than one page
    assert [fp["id"] for fp in pulled] == list(documents)  # each once, oldest first
    for fp in pulled:
        assert problems("3", "ProductFootprint", fp) == [], fp["id"]
        document = documents[fp["id"]]
        assert document.footprint_kg_co2e_per_kg is not None
        assert Decimal(fp["pcf"]["pcfExcludingBiogenicUptake"]) == \
            document.footprint_kg_co2e_per_kg
        assert fp["productIds"][0] == f"urn:stewardship:coc:{document.number}"
        assert fp["companyName"] == "Rheinfeld Rolling Group"
        assert "Hoshikawa Motor" in fp["comment"]
    # one footprint by id says the same; another buyer's document is no footprint of it
    first = pulled[0]
    one = pact.get(f"/pact/3/footprints/{first['id']}", headers=headers)
    assert one.status_code == 200 and one.json()["data"] == first
    hoshikawa = registry_repo.organization_by_slug(db, "hoshikawa-motor")
    assert hoshikawa is not None
    others = [d for d in db.scalars(select(CocDocument))
              if d.recipient_organization_id != hoshikawa.id
              or d.issuer_organization_id != _client(db).organization_id]
    assert any(d.issuer_organization_id == _client(db).organization_id for d in others)
    assert {str(d.id) for d in others}.isdisjoint(fp["id"] for fp in pulled)
    for d in others[:5]:
        refused = pact.get(f"/pact/3/footprints/{d.id}", headers=headers)
        assert refused.status_code == 404 and refused.json()["code"] == "NotFound"


def test_the_suppliers_entity_page_shows_the_footprints_the_connector_pulls(
        make_app: Callable[..., FastAPI], db: Session, settings: Settings) -> None:
    admin = registry_repo.user_by_email(db, _spec()["made_by"])
    assert admin is not None
    browser = sign_in(make_app(), db, settings, accounts.actor_for(admin))
    entity = next(d.issuer_entity_id for d in reversed(_seen_documents(db)))
    page = browser.get(f"/carbon/inventories?entity={entity}")
    assert page.status_code == 200, page.text[-500:]
    body = text(page)
    latest = sorted((d for d in db.scalars(select(CocDocument))
                     if d.issuer_entity_id == entity),
                    key=lambda d: (d.shipment_date, d.number), reverse=True)
    shown = [d for d in latest if d.number in body]
    assert shown and len(shown) <= 8
    for d in shown:
        assert d.footprint_kg_co2e_per_kg is not None
        assert f"{d.footprint_kg_co2e_per_kg.normalize()}" in body or \
            f"{d.footprint_kg_co2e_per_kg}" in body
        assert f'href="/custody/documents/{d.number}"' in page.text
    assert latest[0].shipment_date in {d.shipment_date for d in shown}  # the latest ones


def _by_reading_every_footprint(db: Session, client: PactClient, filters: rules.Filters,
                                limit: int) -> tuple[list[str], int | None]:
    """The list as reading every footprint and filtering it would give it."""
    every = footprints.all_footprints(db, client, 3, SCHEMA_URL)
    kept = [fp["id"] for fp in every if rules.matches(fp, filters)]
    page = kept[filters.offset:filters.offset + limit]
    more = filters.offset + limit < len(kept)
    return page, filters.offset + limit if more else None


def _filter_cases(db: Session) -> list[list[tuple[str, str]]]:
    documents = _seen_documents(db)
    every = footprints.all_footprints(db, _client(db), 3, SCHEMA_URL)
    entity_ids = sorted({fp["companyIds"][1] for fp in every})
    assert len(entity_ids) == 2  # the German mill and the US one
    middle = every[len(every) // 2]
    days = sorted({fp["validityPeriodStart"] for fp in every})
    ends = sorted({fp["validityPeriodEnd"] for fp in every})
    numbers = [d.number for d in documents]
    singles: list[list[tuple[str, str]]] = [
        [], [("companyId", "urn:stewardship:org:rheinfeld-rolling")],
        [("companyId", entity_ids[0])], [("companyId", entity_ids[1].upper())],
        [("companyId", entity_ids[0]), ("companyId", "urn:stewardship:org:nobody")],
        [("companyId", "urn:stewardship:org:laminoirs-sevre")],
        [("productId", f"urn:stewardship:coc:{numbers[0]}"),
         ("productId", f"urn:stewardship:coc:{numbers[-1]}")],
        [("productId", "urn:stewardship:material:asi_aluminium")],
        [("productId", "urn:stewardship:material:asi_bauxite")],
        [("status", "Active")], [("status", "Deprecated")],
        [("validOn", days[len(days) // 2])], [("validOn", ends[0])],
        [("validOn", "2027-03-01T00:00:00Z")],
        [("validAfter", days[len(days) // 3])], [("validAfter", "2020-01-01")],
        [("validBefore", ends[len(ends) // 2])], [("validBefore", ends[-1])],
        [("validAfter", days[-1]), ("validBefore", ends[0])],
        [("geography", middle["pcf"]["geographyCountry"])], [("geography", "DE"),
                                                              ("geography", "US")],
        [("classification", middle["productClassifications"][0])],
    ]
    cases = list(singles)
    for a, b in itertools.combinations(singles[1:], 2):
        if len(cases) < 80:
            cases.append(a + b)
    return cases


def test_the_query_keeps_what_reading_every_footprint_keeps(db: Session) -> None:
    client = _client(db)
    total = len(footprints.all_footprints(db, client, 3, SCHEMA_URL))
    checked = kept_some = 0
    for items in _filter_cases(db):
        for offset, limit in ((0, 1000), (0, 3), (3, 4), (total - 2, 5), (total + 4, 2)):
            filters = rules.parse_filters([*items, ("offset", str(offset)),
                                           ("limit", str(limit))])
            page = footprints.list_footprints(db, client, filters, version=3,
                                              schema_url=SCHEMA_URL, default_limit=50)
            expected, next_offset = _by_reading_every_footprint(db, client, filters, limit)
            assert [fp["id"] for fp in page.items] == expected, items
            assert page.next_offset == next_offset, (items, offset, limit)
            checked += 1
            kept_some += bool(expected)
    assert checked > 300 and kept_some > 100
    v2 = footprints.list_footprints(db, client, rules.parse_filters([("limit", "5")]),
                                    version=2, schema_url=SCHEMA_URL, default_limit=50)
    assert [fp["id"] for fp in v2.items] == _by_reading_every_footprint(
        db, client, rules.Filters(limit=5), 5)[0]
    assert all(fp["specVersion"] == rules.SPEC_V2 for fp in v2.items)
