"""What a buyer reads of a document's origins over HTTP: the smelter (or remelter) first,
its refinery and mine second, the same origin however the metal entered the chain, the
chain view naming facilities and countries, and shares that add up to exactly 100.00 on
the API and the pages, with no real share shown as 0."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor
from tests import custody_world as cw
from tests.api.pages import ok
from tests.today import TODAY

C = "/api/v1/custody"
Clients = Callable[[Actor], TestClient]
DAY = str(TODAY - timedelta(days=1))


def _produce(client: TestClient, facility: str, material: str, kg: int) -> None:
    ok(client.post(f"{C}/production", json={
       "facility_id": facility, "material": material, "kilograms": kg, "occurred_on": DAY}),
       201)


def _transform(client: TestClient, facility: str, step: str, source: str, kg: int,
               declared: str) -> None:
    ok(client.post(f"{C}/transformations", json={
       "facility_id": facility, "transformation": step, "source_material": source,
       "input_kg": kg, "declared_yield": declared, "occurred_on": DAY}), 201)


def _ship(client: TestClient, to: cw.Member, material: str, kg: int) -> str:
    doc = ok(client.post(f"{C}/documents", json={
        "recipient_entity_id": str(to.entity_id), "material": material,
        "quantity_kg": kg, "coc_quantity_kg": kg, "shipment_date": DAY}), 201)
    return str(doc["number"])


def _receive(client: TestClient, number: str) -> None:
    ok(client.post(f"{C}/documents/{number}/receive", json={"received_on": DAY}))


def _adds_up(composition: dict[str, Any]) -> None:
    """Every level of shares shown adds up to exactly 100.00."""
    assert sum(Decimal(o["percent"]) for o in composition["origins"]) == Decimal("100.00")
    assert Decimal(composition["primary_percent"]) + Decimal(
        composition["recycled_percent"]) == Decimal("100.00")
    for o in composition["origins"]:
        if o["upstream"]:
            assert sum(Decimal(u["percent"]) for u in o["upstream"]) == Decimal("100.00")


def test_a_can_buyer_reads_the_smelter_first_and_the_refinery_and_mine_second(
        db: Session, client_for: Clients) -> None:
    w = cw.build(db)
    refinery = cw.add_facility(db, w.mine, "Red Earth Refinery", ["alumina_refining"])
    mine, smelter = client_for(w.mine.user), client_for(w.smelter.user)
    mill, canmaker = client_for(w.mill.user), client_for(w.canmaker.user)
    _produce(mine, w.mine.facility, "asi_bauxite", 4_000_000)
    _transform(mine, refinery, "refining", "asi_bauxite", 4_000_000, "0.5")
    _receive(smelter, _ship(mine, w.smelter, "asi_alumina", 2_000_000))
    _transform(smelter, w.smelter.facility, "smelting", "asi_alumina", 2_000_000, "0.5")
    # the same smelter's metal recorded as its production: the same first-level origin
    _produce(smelter, w.smelter.facility, "asi_aluminium", 1_000_000)
    _receive(mill, _ship(smelter, w.mill, "asi_aluminium", 2_000_000))
    _transform(mill, w.mill.facility, "rolling", "asi_aluminium", 2_000_000, "0.97")
    number = _ship(mill, w.canmaker, "asi_aluminium", 1_000_000)

    doc = ok(canmaker.get(f"{C}/documents/{number}"))
    comp = doc["composition"]
    [origin] = comp["origins"]
    assert (origin["facility_id"], origin["country"], origin["stage"], origin["route"],
            origin["percent"]) == (w.smelter.facility, "NO", "smelter", "primary", "100.00")
    assert origin["facility"].startswith("Fjell Aluminium")
    # second level: half refined and mined upstream, half the smelter's own production
    known, unknown = sorted(origin["upstream"], key=lambda u: not u["sites"])
    assert [(s["stage"], s["facility_id"], s["country"]) for s in known["sites"]] == [
        ("refinery", refinery, "AU"), ("bauxite_mine", w.mine.facility, "AU")]
    assert known["sites"][0]["facility"].startswith("Red Earth Refinery")
    assert (known["percent"], unknown["sites"], unknown["percent"]) == ("50.00", [], "50.00")
    assert comp["summary"].startswith("100% Fjell Aluminium")
    _adds_up(comp)

    # the public verification and the page say the same
    assert ok(canmaker.get(f"{C}/verify/{number}"))["composition"] == comp
    page = canmaker.get(f"/custody/documents/{number}")
    assert page.status_code == 200
    assert "Smelter" in page.text and "Bauxite mine" in page.text
    assert "Alumina refinery" in page.text and "earlier stages not recorded" in page.text

    # the chain view names facilities and countries, tier by tier
    tiers = ok(canmaker.get(f"{C}/documents/{number}/chain"))["tiers"]
    for tier in tiers:
        for link in tier["documents"]:
            if link["material"] == "asi_aluminium":
                assert [(o["stage"], o["country"]) for o in link["origins"]] == [
                    ("smelter", "NO")]
    alumina = next(link for tier in tiers for link in tier["documents"]
                   if link["material"] == "asi_alumina")
    assert [(o["stage"], o["country"]) for o in alumina["origins"]] == [("refinery", "AU")]
    assert alumina["origins"][0]["facility"].startswith("Red Earth Refinery")
    chain_page = canmaker.get(f"/custody/documents/{number}/chain")
    assert chain_page.status_code == 200
    assert "Fjell Aluminium" in chain_page.text and "(NO)" in chain_page.text
    assert "Red Earth Refinery" in chain_page.text and "(AU)" in chain_page.text


def test_shares_add_up_to_100_and_no_real_share_shows_as_0(db: Session,
                                                           client_for: Clients) -> None:
    w = cw.build(db)
    other = cw.add_member(db, w, "Nordkapp Smelter", "IS", ["smelting"])
    smelter, second = client_for(w.smelter.user), client_for(other.user)
    remelter, mill = client_for(w.remelter.user), client_for(w.mill.user)
    # 67.7966 % and 32.2034 %: shown rounded down as 67.79 % and 32.20 %, 99.99 % in all
    _produce(smelter, w.smelter.facility, "asi_aluminium", 677_966)
    _produce(second, other.facility, "asi_aluminium", 322_034)
    _receive(mill, _ship(smelter, w.mill, "asi_aluminium", 677_966))
    _receive(mill, _ship(second, w.mill, "asi_aluminium", 322_034))
    [account] = ok(mill.get(f"{C}/accounts", params={
        "entity_id": str(w.mill.entity_id), "material": "asi_aluminium"}))["items"]
    comp = account["composition"]
    assert [(o["country"], o["percent"]) for o in comp["origins"]] == [
        ("NO", "67.80"), ("IS", "32.20")]
    _adds_up(comp)

    # 10 kg of recycled metal in a million: a real share, once shown as 0.00 %
    ok(remelter.post(f"{C}/scrap-intake", json={
       "facility_id": w.remelter.facility, "scrap_kind": "post_consumer", "kilograms": 10,
       "occurred_on": DAY, "note": "Due diligence file DD-7"}), 201)
    _transform(remelter, w.remelter.facility, "remelting", "eligible_scrap", 10, "1")
    _receive(mill, _ship(remelter, w.mill, "asi_aluminium", 10))
    number = _ship(mill, w.canmaker, "asi_aluminium", 1_000_010)
    doc = ok(mill.get(f"{C}/documents/{number}"))
    comp = doc["composition"]
    assert comp["recycled_percent"] == "0.01" and comp["primary_percent"] == "99.99"
    assert [(o["stage"], o["percent"]) for o in comp["origins"]] == [
        ("smelter", "67.79"), ("smelter", "32.20"), ("remelter", "0.01")]
    _adds_up(comp)
    page = mill.get(f"/custody/documents/{number}")
    assert page.status_code == 200
    cells = re.findall(r'data-label="Share" class="num"><span class="nowrap">([\d.]+) %',
                       page.text)
    assert cells == ["67.79", "32.20", "0.01"]
    assert "Primary <span class=\"nowrap\">99.99 %</span> · recycled <span " \
           "class=\"nowrap\">0.01 %</span>" in page.text
