"""Reversing a mistaken journal entry over HTTP, as a member's user meets it: the reversal
is an entry of its own naming the reversed one and the reason, the balance and origins go
back, the audit stays clean; refusals are the platform's error shape naming the entry and
the reason, and change nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor
from stewardship.core.eventlog import count_entries
from tests import custody_world as cw
from tests.api.pages import api_error, ok
from tests.today import TODAY

C = "/api/v1/custody"
Clients = Callable[[Actor], TestClient]


def _account(client: TestClient, entity_id: object, material: str) -> dict[str, Any]:
    page = ok(client.get(f"{C}/accounts", params={"entity_id": str(entity_id),
                                                  "material": material, "status": "open"}))
    assert len(page["items"]) == 1
    account: dict[str, Any] = page["items"][0]
    return account


@pytest.fixture
def w(db: Session) -> cw.Chain:
    return cw.build(db)


@pytest.fixture
def smelter(w: cw.Chain, client_for: Clients) -> TestClient:
    return client_for(w.smelter.user)


@pytest.fixture
def staff(w: cw.Chain, client_for: Clients) -> TestClient:
    return client_for(w.secretariat)


def _produce(client: TestClient, w: cw.Chain, kg: int) -> dict[str, Any]:
    made: dict[str, Any] = ok(client.post(f"{C}/production", json={
        "facility_id": w.smelter.facility, "material": "asi_aluminium", "kilograms": kg,
        "occurred_on": str(TODAY - timedelta(days=1))}), 201)
    return made


def _reverse(client: TestClient, op: dict[str, Any], reason: str = "Typed 50,000 for "
             "5,000") -> Response:
    return client.post(f"{C}/operations/{op['id']}/reverse", json={"reason": reason})


def test_a_mistaken_production_is_reversed_by_an_entry_of_its_own(
        db: Session, w: cw.Chain, smelter: TestClient, staff: TestClient) -> None:
    kept = _produce(smelter, w, 5_000)
    wrong = _produce(smelter, w, 50_000)
    assert _account(smelter, w.smelter.entity_id, "asi_aluminium")["balance_kg"] == 55_000

    reversal = ok(_reverse(smelter, wrong), 201)
    assert (reversal["kind"], reversal["reverses"], reversal["kilograms"]) == (
        "reversal", wrong["id"], 50_000)
    assert reversal["note"] == "Typed 50,000 for 5,000"
    assert reversal["reversible"] is False
    account = _account(smelter, w.smelter.entity_id, "asi_aluminium")
    assert (account["balance_kg"], account["produced"]) == (5_000, 5_000)
    assert account["composition"]["kilograms"] == 5_000

    journal = ok(smelter.get(f"{C}/entities/{w.smelter.entity_id}/operations"))["items"]
    by_id = {o["id"]: o for o in journal}
    assert by_id[wrong["id"]]["reversed_by"] == reversal["id"]
    assert by_id[wrong["id"]]["reversible"] is False
    assert by_id[kept["id"]]["reversible"] is True and by_id[kept["id"]]["reversed_by"] is None
    assert ok(smelter.get(f"{C}/operations/{wrong['id']}"))["reversed_by"] == reversal["id"]
    only = ok(smelter.get(f"{C}/entities/{w.smelter.entity_id}/operations",
                          params={"kind": "reversal"}))
    assert [o["id"] for o in only["items"]] == [reversal["id"]]

    checked = ok(staff.get(f"{C}/audit"))
    assert (checked["ok"], checked["problems"]) == (True, [])


def test_a_reversal_is_refused_once_the_material_has_left(
        db: Session, w: cw.Chain, smelter: TestClient) -> None:
    wrong = _produce(smelter, w, 3_000)
    ok(smelter.post(f"{C}/documents", json={
       "recipient_entity_id": str(w.mill.entity_id), "material": "asi_aluminium",
       "quantity_kg": 2_000, "coc_quantity_kg": 2_000, "shipment_date": str(TODAY)}), 201)
    before = (_account(smelter, w.smelter.entity_id, "asi_aluminium"), count_entries(db))

    error = api_error(_reverse(smelter, wrong), 409)
    assert error["code"] == "conflict"
    assert error["details"][0]["field"] == "operation_id"
    assert "already left" in error["message"] and "1000 kg remain" in error["message"]
    db.expire_all()
    assert (_account(smelter, w.smelter.entity_id, "asi_aluminium"), count_entries(db)) == before
    assert ok(smelter.get(f"{C}/operations/{wrong['id']}"))["reversed_by"] is None


def test_a_second_reversal_and_a_reversal_of_a_reversal_are_refused(
        w: cw.Chain, smelter: TestClient) -> None:
    wrong = _produce(smelter, w, 1_000)
    reversal = ok(_reverse(smelter, wrong), 201)
    again = api_error(_reverse(smelter, wrong), 409)
    assert "already reversed" in again["message"]
    undo = api_error(_reverse(smelter, reversal), 422)
    assert "cannot itself be reversed" in undo["message"]
    assert undo["details"][0]["field"] == "operation_id"


def test_an_issue_is_corrected_by_cancelling_its_document(
        w: cw.Chain, smelter: TestClient) -> None:
    _produce(smelter, w, 1_000)
    number = ok(smelter.post(f"{C}/documents", json={
        "recipient_entity_id": str(w.mill.entity_id), "material": "asi_aluminium",
        "quantity_kg": 500, "coc_quantity_kg": 500, "shipment_date": str(TODAY)}),
        201)["number"]
    journal = ok(smelter.get(f"{C}/entities/{w.smelter.entity_id}/operations",
                             params={"kind": "issue"}))["items"]
    assert journal[0]["document"] == number and journal[0]["reversible"] is False
    error = api_error(_reverse(smelter, journal[0]), 422)
    assert "cancelling the document" in error["message"]


def test_a_transformation_is_reversed_with_its_input_and_origins(
        w: cw.Chain, client_for: Clients, staff: TestClient) -> None:
    mine = client_for(w.mine.user)
    ok(mine.post(f"{C}/production", json={
       "facility_id": w.mine.facility, "material": "asi_bauxite", "kilograms": 10_000,
       "occurred_on": str(TODAY)}), 201)
    step = ok(mine.post(f"{C}/transformations", json={
        "facility_id": w.mine.facility, "transformation": "refining",
        "source_material": "asi_bauxite", "input_kg": 4_000, "declared_yield": "0.5",
        "occurred_on": str(TODAY)}), 201)
    assert _account(mine, w.mine.entity_id, "asi_alumina")["balance_kg"] == 2_000
    reversal = ok(_reverse(mine, step, "Wrong batch"), 201)
    assert (reversal["input_kg"], reversal["kilograms"]) == (4_000, 2_000)
    bauxite = _account(mine, w.mine.entity_id, "asi_bauxite")
    alumina = _account(mine, w.mine.entity_id, "asi_alumina")
    assert (bauxite["balance_kg"], bauxite["transformed_out"]) == (10_000, 0)
    assert bauxite["composition"]["kilograms"] == 10_000
    assert (alumina["balance_kg"], alumina["transformed_in"]) == (0, 0)
    assert alumina["composition"]["origins"] == []
    report = ok(mine.get(f"{C}/entities/{w.mine.entity_id}/report",
                         params={"year": TODAY.year}))
    assert report["activities"] == []  # the reversed refining no longer counts
    assert ok(staff.get(f"{C}/audit"))["problems"] == []


def test_who_may_reverse(w: cw.Chain, smelter: TestClient, staff: TestClient,
                         client_for: Clients, client: TestClient) -> None:
    wrong = _produce(smelter, w, 1_000)
    assert api_error(_reverse(client, wrong), 401)["code"]
    assert api_error(_reverse(staff, wrong), 403)["code"] == "forbidden"
    assert api_error(_reverse(client_for(w.mill.admin), wrong), 404)["code"] == "not_found"
    assert api_error(client_for(w.mill.admin).get(f"{C}/operations/{wrong['id']}"), 404)
    assert ok(staff.get(f"{C}/operations/{wrong['id']}"))["id"] == wrong["id"]
    assert api_error(smelter.post(f"{C}/operations/{wrong['id']}/reverse", json={}),
                     422)["details"][0]["field"] == "reason"
    assert api_error(smelter.post(f"{C}/operations/{wrong['id']}/reverse",
                                  json={"reason": "  "}), 422)["details"][0]["field"] == "reason"
    assert ok(smelter.get(f"{C}/operations/{wrong['id']}"))["reversed_by"] is None
    assert ok(_reverse(client_for(w.smelter.admin), wrong), 201)["kind"] == "reversal"
