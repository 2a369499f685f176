"""A CoC document's carbon footprint over HTTP: the API's read model with the footprint
and its tiers, the parties' document page with the drawn breakdown and the table of
exact figures, the public verification page with the figures but not the entities'
names, and an unknown footprint shown as unknown with its reason."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor
from stewardship.core.config import Settings
from stewardship.core.web import SESSION_COOKIE
from stewardship.registry import repository as registry_repo
from stewardship.registry.service import accounts
from tests.integration.test_custody_footprints import World, _run, _world

C = "/api/v1/custody"


def text(body: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


@pytest.fixture
def signed_in(app: FastAPI, db: Session, settings: Settings) -> Callable[[Actor], TestClient]:
    def make(actor: Actor) -> TestClient:
        assert actor.user_id is not None
        user = registry_repo.user_by_id(db, actor.user_id)
        assert user is not None
        token = accounts.start_session(db, user, settings)
        db.flush()
        browser = TestClient(app, raise_server_exceptions=False)
        browser.cookies.set(SESSION_COOKIE, token)
        return browser

    return make


@pytest.fixture
def chain(db: Session) -> tuple[World, str]:
    x = _world(db)
    return x, _run(db, x)


def test_the_api_read_model_carries_the_footprint_and_its_tiers(
        chain: tuple[World, str], client_for: Callable[[Actor], TestClient],
        client: TestClient) -> None:
    x, number = chain
    got = client_for(x.carmaker.user).get(f"{C}/documents/{number}")
    assert got.status_code == 200, got.text
    f = got.json()["footprint"]
    assert f["known"] is True
    assert Decimal(f["kg_co2e_per_kg"]) == Decimal("6.832077")
    assert Decimal(f["primary_percent"]) == Decimal("100.00")
    assert Decimal(f["t_co2e_total"]) == Decimal("3416.038")   # 500 t of it, halves to even
    assert [(t["tier"], t["process"]) for t in f["tiers"]] == [
        (0, "rolling"), (1, "smelting"), (2, "refining"), (3, "mining")]
    assert sum(Decimal(t["kg_co2e_per_kg"]) for t in f["tiers"]) == Decimal("6.832077")
    assert f["tiers"][0]["entity"].startswith("Walz Rolling")
    public = client.get(f"{C}/verify/{number}").json()["footprint"]
    assert Decimal(public["kg_co2e_per_kg"]) == Decimal("6.832077")
    assert {t["entity"] for t in public["tiers"]} == {""}
    assert {t["organization"] for t in public["tiers"]} == {""}


def test_the_document_page_draws_the_breakdown_with_exact_figures(
        chain: tuple[World, str], signed_in: Callable[[Actor], TestClient]) -> None:
    x, number = chain
    for actor in (x.carmaker.user, x.w.mill.user):     # the recipient and the issuer
        page = signed_in(actor).get(f"/custody/documents/{number}")
        assert page.status_code == 200, text(page.text)[-600:]
        body = text(page.text)
        assert "Carbon footprint" in body
        assert "6.832077 kg CO2e per kg of the CoC quantity (3416.038 t CO2e in all)" in body
        assert "primary data 100.00 %" in body
        section = page.text.split('id="footprint"', 1)[1].split("</section>", 1)[0]
        # the drawn bar: one segment per tier, its exact figure with it
        assert '<svg' in section and 'class="chart footprint"' in section
        segments = re.findall(r'data-tier="(\d)" data-kg-co2e-per-kg="([\d.]+)"', section)
        assert [s[0] for s in segments] == ["0", "1", "2", "3"]
        assert sum(Decimal(s[1]) for s in segments) == Decimal("6.832077")
        words = text(section)
        assert "0.250000" in words and "Rolling" in words and "Walz Rolling" in words
        assert "Fjell Aluminium" in words and "Smelting" in words and "Mining" in words


def test_the_public_verification_shows_the_footprint_without_the_entities(
        chain: tuple[World, str], client: TestClient) -> None:
    _, number = chain
    page = client.get(f"/verify/coc/{number}")
    assert page.status_code == 200
    section = page.text.split('id="footprint"', 1)[1].split("</section>", 1)[0]
    words = text(section)
    assert "6.832077 kg CO2e per kg" in words and "0.250000" in words
    assert "Rolling" in words and "DE" in words and 'class="chart footprint"' in section
    assert "Walz Rolling" not in words and "Fjell Aluminium" not in words


def test_an_unknown_footprint_says_so_and_why(
        db: Session, signed_in: Callable[[Actor], TestClient], client: TestClient) -> None:
    x = _world(db, mill_inventory=False)
    number = _run(db, x)
    section = signed_in(x.carmaker.user).get(f"/custody/documents/{number}").text.split(
        'id="footprint"', 1)[1].split("</section>", 1)[0]
    words = text(section)
    assert "Unknown" in words and "no emission inventory covering rolling" in words
    assert "Walz Rolling" in words and "<svg" not in section
    public = text(client.get(f"/verify/coc/{number}").text.split('id="footprint"', 1)[1])
    assert "Unknown" in public and "no emission inventory covering rolling" in public
    assert "Walz Rolling" not in public.split("Digest", 1)[0]
