"""The chain of custody over HTTP: production to a verified document with bearer tokens,
the journal, reports and the network diagram, and bad input at the edge, each refused
with the one error shape naming the field while nothing is stored (the role x action
matrix is in ``test_permissions_custody.py``)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor
from stewardship.core.eventlog import count_entries
from tests import custody_world as cw
from tests.api.pages import api_error, fields, ok
from tests.today import TODAY

C = "/api/v1/custody"
Clients = Callable[[Actor], TestClient]


def _balance(client: TestClient, entity_id: object, material: str = "asi_aluminium") -> int:
    page = ok(client.get(f"{C}/accounts", params={
        "entity_id": str(entity_id), "material": material, "status": "open"}))
    return sum(a["balance_kg"] for a in page["items"])


class Ledger:
    """A snapshot of what a refused request must leave untouched."""

    def __init__(self, db: Session, staff: TestClient, w: cw.Chain) -> None:
        self.db, self.staff, self.w = db, staff, w

    def state(self) -> tuple[int, int, int, int, int]:
        self.db.expire_all()
        return (_balance(self.staff, self.w.smelter.entity_id),
                _balance(self.staff, self.w.mill.entity_id),
                ok(self.staff.get(f"{C}/documents"))["total"],
                ok(self.staff.get(f"{C}/entities/{self.w.smelter.entity_id}/operations"))[
                    "total"],
                count_entries(self.db))


@pytest.fixture
def w(db: Session) -> cw.Chain:
    chain = cw.build(db)
    cw.produce(db, chain.smelter, "asi_aluminium", 5_000, on=TODAY - timedelta(days=1))
    return chain


@pytest.fixture
def staff(w: cw.Chain, client_for: Clients) -> TestClient:
    return client_for(w.secretariat)


@pytest.fixture
def smelter(w: cw.Chain, client_for: Clients) -> TestClient:
    return client_for(w.smelter.user)


@pytest.fixture
def ledger(db: Session, staff: TestClient, w: cw.Chain) -> Ledger:
    return Ledger(db, staff, w)


def _document(w: cw.Chain, **change: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"recipient_entity_id": str(w.mill.entity_id),
                            "material": "asi_aluminium", "quantity_kg": 1_200,
                            "coc_quantity_kg": 1_000, "shipment_date": str(TODAY)}
    body.update(change)
    return body


# --- the flow -------------------------------------------------------------------------


def test_issue_receive_verify_over_http(w: cw.Chain, client: TestClient, staff: TestClient,
                                        client_for: Clients) -> None:
    smelter, mill = client_for(w.smelter.user), client_for(w.mill.admin)
    made = ok(smelter.post(f"{C}/production", json={
        "facility_id": w.smelter.facility, "material": "asi_aluminium", "kilograms": 2_000,
        "occurred_on": str(TODAY), "note": "Pot line 2"}), 201)
    assert (made["kind"], made["kilograms"], made["facility_id"]) == (
        "production", 2_000, w.smelter.facility)
    assert _balance(smelter, w.smelter.entity_id) == 7_000

    doc = ok(smelter.post(f"{C}/documents", json=_document(
        w, coc_quantity_kg=4_000, quantity_kg=4_500, description="Sheet ingot",
        shipment_date=str(TODAY - timedelta(days=1)), recycled_percent="0",
        recycled_method="mass balance")), 201)
    number = doc["number"]
    assert doc["status"] == "issued" and doc["verify_path"].endswith(number)
    assert doc["issuer"]["coc_certificate"] == w.smelter.certificates["chain_of_custody"]
    assert doc["composition"]["origins"][0]["country"] == "NO"
    assert _balance(smelter, w.smelter.entity_id) == 3_000
    incoming = ok(mill.get(f"{C}/documents", params={"direction": "incoming",
                                                     "status": "issued"}))
    assert [d["number"] for d in incoming["items"]] == [number]
    waiting = ok(mill.get(f"{C}/unmatched", params={"days": 0}))  # shipped before today
    assert [(p["documents"], p["days_waiting"]) for p in waiting["pairs"]] == [(1, 1)]
    assert ok(mill.get(f"{C}/unmatched"))["pairs"] == []  # not 30 days yet

    got = ok(mill.post(f"{C}/documents/{number}/receive"))  # no body: received today
    assert got["status"] == "received" and got["received_on"] == str(TODAY)
    assert _balance(mill, w.mill.entity_id) == 4_000
    assert ok(mill.get(f"{C}/documents/{number}"))["digest"] == doc["digest"]

    seen = ok(client.get(f"{C}/verify/{number.lower()}"))  # anonymous, any case
    assert seen["status"] == "received" and seen["digest"] == doc["digest"]
    assert seen["issuer"]["organization"] == w.smelter.slug
    assert {c["kind"] for c in seen["certificates"]} == {"performance", "chain_of_custody"}
    assert all(c["valid_on_shipment"] for c in seen["certificates"])

    journal = ok(smelter.get(f"{C}/entities/{w.smelter.entity_id}/operations"))
    assert [o["kind"] for o in journal["items"]] == ["issue", "production", "production"]
    assert journal["items"][0]["document"] == number
    only = ok(smelter.get(f"{C}/entities/{w.smelter.entity_id}/operations",
                          params={"kind": "issue"}))
    assert only["total"] == 1
    view = ok(mill.get(f"{C}/documents/{number}/chain", params={"depth": 2}))
    assert view["tiers"][0]["documents"][0]["number"] == number
    report = ok(smelter.get(f"{C}/entities/{w.smelter.entity_id}/report",
                            params={"year": TODAY.year}))
    metal = next(m for m in report["materials"] if m["material"] == "asi_aluminium")
    assert (metal["produced"], metal["issued"], report["documents_issued"]) == (7_000, 4_000, 1)
    checked = ok(staff.get(f"{C}/audit"))
    assert (checked["ok"], checked["problems"], checked["documents"]) == (True, [], 1)


def test_reject_and_cancel_return_the_balance(w: cw.Chain, smelter: TestClient,
                                              client_for: Clients) -> None:
    mill = client_for(w.mill.user)
    first = ok(smelter.post(f"{C}/documents", json=_document(w)), 201)["number"]
    second = ok(smelter.post(f"{C}/documents", json=_document(w)), 201)["number"]
    assert _balance(smelter, w.smelter.entity_id) == 3_000
    rejected = ok(mill.post(f"{C}/documents/{first}/reject", json={"reason": "Not ordered"}))
    assert (rejected["status"], rejected["reason"]) == ("rejected", "Not ordered")
    cancelled = ok(smelter.post(f"{C}/documents/{second}/cancel",
                                json={"reason": "Wrong truck"}))
    assert cancelled["status"] == "cancelled"
    assert _balance(smelter, w.smelter.entity_id) == 5_000
    error = api_error(mill.post(f"{C}/documents/{second}/receive"), 409, "conflict")
    assert "already cancelled" in error["message"] and "number" in fields(error)
    assert api_error(mill.post(f"{C}/documents/{first}/reject", json={"reason": "x"}), 422,
                     "validation_error")["details"][0]["field"] == "reason"


def test_inputs_transformations_settings_and_period_close(w: cw.Chain,
                                                          client_for: Clients) -> None:
    remelter, admin = client_for(w.remelter.user), client_for(w.remelter.admin)
    entity = w.remelter.entity_id
    settings = ok(admin.get(f"{C}/entities/{entity}/settings"))
    assert (settings["period_months"], settings["changeable"]) == (12, True)
    changed = ok(admin.put(f"{C}/entities/{entity}/settings", json={
        "period_months": 3, "carry_over_cap": 1_000, "carry_over_expiry": 2}))
    assert (changed["period_months"], changed["carry_over_cap"]) == (3, 1_000)
    last_year = date(TODAY.year - 1, 2, 10)
    ok(remelter.post(f"{C}/scrap-intake", json={
       "facility_id": w.remelter.facility, "scrap_kind": "post_consumer",
       "kilograms": 2_500, "occurred_on": str(last_year), "note": "DD-12"}), 201)
    step = ok(remelter.post(f"{C}/transformations", json={
        "facility_id": w.remelter.facility, "transformation": "remelting",
        "source_material": "eligible_scrap", "input_kg": 2_000, "declared_yield": "0.9",
        "occurred_on": str(last_year)}), 201)
    assert step["kilograms"] == 1_800 and step["input_kg"] == 2_000 and step["typical_yield"]
    ok(remelter.post(f"{C}/non-coc-inputs", json={
       "material": "asi_aluminium", "kilograms": 200, "occurred_on": str(last_year)}), 201)
    error = api_error(admin.put(f"{C}/entities/{entity}/settings", json={"period_months": 12}),
                      409, "conflict")
    assert "period_months" in fields(error)
    periods = ok(remelter.get(f"{C}/entities/{entity}/periods"))
    assert periods == [{"period_start": str(date(TODAY.year - 1, 1, 1)),
                        "period_end": str(date(TODAY.year - 1, 3, 31)), "status": "open"}]
    closed = ok(remelter.post(f"{C}/periods/close", json={
        "period_start": str(date(TODAY.year - 1, 1, 1))}))
    assert closed["carried"] == {"asi_aluminium": 1_000, "eligible_scrap": 500}
    assert closed["expired"] == {"asi_aluminium": 800, "eligible_scrap": 0}
    again = api_error(remelter.post(f"{C}/periods/close", json={
        "period_start": str(date(TODAY.year - 1, 1, 1))}), 409, "conflict")
    assert "already closed" in again["message"]
    metal = ok(remelter.get(f"{C}/accounts", params={"material": "asi_aluminium"}))
    assert {a["status"] for a in metal["items"]} == {"open", "closed"}
    account = next(a for a in metal["items"] if a["status"] == "closed")
    assert ok(remelter.get(f"{C}/accounts/{account['id']}"))["input_percentage"] == "90.00"


def test_network_json_and_svg(db: Session, w: cw.Chain, staff: TestClient,
                              client_for: Clients) -> None:
    cw.ship(db, w.smelter, w.mill, "asi_aluminium", 1_000)
    empty = staff.get(f"{C}/network.svg", params={"year": TODAY.year - 1})
    assert empty.status_code == 200
    assert empty.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(empty.text)
    assert root.tag.endswith("svg") and "No CoC document was shipped" in empty.text
    lonely = ok(staff.get(f"{C}/network"))  # the secretariat sees the lonely link
    assert lonely["hidden_links"] == 1
    assert [(ln["contributors"], ln["published"]) for ln in lonely["links"]] == [(1, False)]
    assert ok(staff.get(f"{C}/flows"))["links"] == []  # the public does not
    dashed = staff.get(f"{C}/network.svg")
    assert 'stroke-dasharray="6 4"' in dashed.text and 'data-published="false"' in dashed.text

    for n in range(2):
        other = cw.add_member(db, w, f"Second Smelter {n}", "IS", ["smelting", "casthouse"])
        cw.produce(db, other, "asi_aluminium", 10_000)
        cw.ship(db, other, w.mill, "asi_aluminium", 2_000 + n)
    flows = ok(staff.get(f"{C}/network", params={"year": TODAY.year}))
    assert flows["links"] == [{"source": "casthouse", "target": "semi_fabrication",
                               "material": "asi_aluminium", "kilograms": 5_001,
                               "contributors": 3, "published": True}]
    assert ok(staff.get(f"{C}/flows"))["links"] == flows["links"]
    drawn = staff.get(f"{C}/network.svg")
    assert drawn.status_code == 200 and "<path" in drawn.text
    assert "Casting" in drawn.text and "Semi-fabrication" in drawn.text
    ET.fromstring(drawn.text)
    year = api_error(staff.get(f"{C}/network", params={"year": 1999}), 422, "validation_error")
    assert "year" in fields(year)


# --- bad input: the field named, nothing stored -----------------------------------------


@pytest.mark.parametrize(("change", "field"), [
    ({"material": "asi_copper"}, "material"),
    ({"coc_quantity_kg": -5}, "coc_quantity_kg"),
    ({"coc_quantity_kg": 0}, "coc_quantity_kg"),
    ({"quantity_kg": 0}, "quantity_kg"),
    ({"quantity_kg": 1.5}, "quantity_kg"),
    ({"coc_quantity_kg": "1.5"}, "coc_quantity_kg"),
    ({"colour": "blue"}, "colour"),
    ({"shipment_date": "31/12/2025"}, "shipment_date"),
    ({"recipient_entity_id": "not-a-uuid"}, "recipient_entity_id"),
    ({"number": "bad number!"}, "number"),
    ({"recycled_percent": "40"}, "recycled_method"),
], ids=["unknown material", "negative", "zero CoC", "zero shipped", "1.5 kg",
        "'1.5' kg", "unknown field", "bad date", "bad id", "bad number",
        "recycled share without its method"])
def test_malformed_documents_are_422_naming_the_field(ledger: Ledger, smelter: TestClient,
                                                     w: cw.Chain, change: dict[str, Any],
                                                     field: str) -> None:
    before = ledger.state()
    error = api_error(smelter.post(f"{C}/documents", json=_document(w, **change)), 422,
                      "validation_error")
    assert field in fields(error)
    if field == "colour":
        assert fields(error)["colour"] == "unknown field"
    assert ledger.state() == before


@pytest.mark.parametrize(("change", "status", "field", "words"), [
    ({"recipient_entity_id": "self"}, 422, "recipient_entity_id", "not to its issuer"),
    ({"recipient_entity_id": "unknown"}, 422, "recipient_entity_id", "no such entity"),
    ({"period_start": str(date(TODAY.year - 3, 1, 1))}, 422, "shipment_date",
     "outside the accounting period"),
    ({"period_start": str(date(TODAY.year, 2, 3))}, 422, "period_start", "not the start"),
    ({"shipment_date": str(TODAY + timedelta(days=1))}, 422, "shipment_date", "future"),
    ({"coc_quantity_kg": 1_300}, 422, "coc_quantity_kg", "exceeds the shipped"),
    ({"coc_quantity_kg": 5_001, "quantity_kg": 6_000}, 409, "coc_quantity_kg",
     "exceeds the available balance of 5000 kg"),
], ids=["to oneself", "unknown recipient", "date outside the period", "not a period start",
        "future", "CoC over shipped", "over balance"])
def test_documents_breaking_a_rule_are_refused_naming_the_field(
        ledger: Ledger, smelter: TestClient, w: cw.Chain, change: dict[str, Any],
        status: int, field: str, words: str) -> None:
    before = ledger.state()
    change = dict(change)  # the parameter is shared by both backends' runs
    if change.get("recipient_entity_id") == "self":
        change["recipient_entity_id"] = str(w.smelter.entity_id)
    elif change.get("recipient_entity_id") == "unknown":
        change["recipient_entity_id"] = "00000000-0000-4000-8000-000000000000"
    error = api_error(smelter.post(f"{C}/documents", json=_document(w, **change)), status,
                      "conflict" if status == 409 else "invalid")
    assert words in error["message"]
    assert error["details"][0]["field"] == field
    assert ledger.state() == before


def test_issue_without_a_certificate_is_a_conflict(db: Session, w: cw.Chain, ledger: Ledger,
                                                   client_for: Clients) -> None:
    trader = client_for(w.trader.user)
    before = ledger.state()
    error = api_error(trader.post(f"{C}/documents", json=_document(w)), 409, "conflict")
    assert "no valid Performance or Chain of Custody certificate" in error["message"]
    assert fields(error).keys() == {"shipment_date"}
    assert ledger.state() == before


def test_receipts_by_the_wrong_party_or_twice_are_refused(
        ledger: Ledger, smelter: TestClient, w: cw.Chain, client_for: Clients) -> None:
    number = ok(smelter.post(f"{C}/documents", json=_document(w)), 201)["number"]
    mill, canmaker = client_for(w.mill.admin), client_for(w.canmaker.admin)
    before = ledger.state()
    error = api_error(smelter.post(f"{C}/documents/{number}/receive"), 403, "forbidden")
    assert "only the recipient" in error["message"] and "number" in fields(error)
    api_error(canmaker.post(f"{C}/documents/{number}/receive"), 404, "not_found")
    late = api_error(mill.post(f"{C}/documents/{number}/receive", json={
        "received_on": str(TODAY - timedelta(days=3))}), 422, "invalid")
    assert "before the shipment date" in late["message"]
    assert fields(late).keys() == {"received_on"}
    assert ledger.state() == before

    ok(mill.post(f"{C}/documents/{number}/receive", json={"received_on": str(TODAY)}))
    received = ledger.state()
    assert received[1] == 1_000
    twice = api_error(mill.post(f"{C}/documents/{number}/receive"), 409, "conflict")
    assert "already received" in twice["message"] and "number" in fields(twice)
    api_error(smelter.post(f"{C}/documents/{number}/cancel", json={"reason": "too late"}), 409,
              "conflict")
    assert ledger.state() == received


def test_unknown_document_numbers_are_404(client: TestClient, smelter: TestClient,
                                          ledger: Ledger) -> None:
    before = ledger.state()
    for response in (smelter.get(f"{C}/documents/COC-2026-NOSUCHNO"),
                     smelter.get(f"{C}/documents/COC-2026-NOSUCHNO/chain"),
                     smelter.post(f"{C}/documents/COC-2026-NOSUCHNO/receive"),
                     smelter.post(f"{C}/documents/COC-2026-NOSUCHNO/cancel",
                                  json={"reason": "not ours"}),
                     client.get(f"{C}/verify/COC-2026-NOSUCHNO")):
        error = api_error(response, 404, "not_found")
        assert "COC-2026-NOSUCHNO" in error["message"] and "number" in fields(error)
    too_long = api_error(client.get(f"{C}/verify/{'X' * 41}"), 422, "validation_error")
    assert "number" in fields(too_long)
    assert ledger.state() == before


V, INV, K = "validation_error", "invalid", "conflict"


@pytest.mark.parametrize(("path", "body", "code", "field", "words"), [
    ("/transformations", {"transformation": "casting", "source_material": "asi_aluminium",
                          "input_kg": 1_000, "declared_yield": "1.02"}, V,
     "declared_yield", None),
    ("/transformations", {"transformation": "casting", "source_material": "asi_aluminium",
                          "input_kg": 1_000, "declared_yield": "0.1234567"}, V,
     "declared_yield", None),
    ("/transformations", {"transformation": "smelting", "source_material": "asi_aluminium",
                          "input_kg": 1_000, "declared_yield": "0.5"}, INV,
     "source_material", "takes ASI Alumina as input"),
    ("/transformations", {"transformation": "casting", "source_material": "asi_aluminium",
                          "input_kg": 5_001, "declared_yield": "0.98"}, K, "input_kg",
     "exceeds the available balance"),
    ("/production", {"material": "eligible_scrap", "kilograms": 10}, INV, "material",
     "scrap intake"),
    ("/production", {"material": "asi_aluminium", "kilograms": -10}, V, "kilograms", None),
    ("/production", {"material": "asi_aluminium", "kilograms": 10**13}, V, "kilograms", None),
    ("/production", {"material": "asi_aluminium", "kilograms": 10,
                     "occurred_on": str(TODAY + timedelta(days=1))}, INV, "occurred_on",
     "in the future"),
    ("/non-coc-inputs", {"material": "tin", "kilograms": 10}, V, "material", None),
    ("/non-coc-inputs", {"material": "asi_aluminium", "kilograms": 2.5}, V, "kilograms", None),
    ("/scrap-intake", {"scrap_kind": "post_consumer", "kilograms": 10}, INV, "facility_id",
     "Remelting / refining"),
], ids=["yield over 1", "yield too precise", "wrong input", "over balance",
        "scrap as production", "negative kg", "over a gigatonne", "future", "unknown material",
        "2.5 kg", "scrap at a smelter"])
def test_inputs_breaking_a_rule_are_refused(ledger: Ledger, smelter: TestClient, w: cw.Chain,
                                            path: str, body: dict[str, Any], code: str,
                                            field: str, words: str | None) -> None:
    before = ledger.state()
    full = {"occurred_on": str(TODAY), **body}
    if path != "/non-coc-inputs":
        full["facility_id"] = w.smelter.facility
    status = {V: 422, INV: 422, K: 409}[code]
    error = api_error(smelter.post(f"{C}{path}", json=full), status, code)
    assert field in fields(error) and fields(error)[field], error
    # The platform's own refusals are checked word for word; a schema refusal keeps the
    # validation library's reason, whose wording is the library's, so only the field it
    # names and the summary line that carries it are checked.
    assert (words or f"{field}: {fields(error)[field]}") in error["message"], error
    assert ledger.state() == before


def test_a_yield_above_physics_is_refused_with_the_typical_one(
        db: Session, w: cw.Chain, client_for: Clients) -> None:
    cw.produce(db, w.mine, "asi_bauxite", 10_000)
    mine = client_for(w.mine.user)
    before = _balance(mine, w.mine.entity_id, "asi_bauxite")
    error = api_error(mine.post(f"{C}/transformations", json={
        "facility_id": w.mine.facility, "transformation": "refining",
        "source_material": "asi_bauxite", "input_kg": 1_000, "declared_yield": "0.9",
        "occurred_on": str(TODAY)}), 422, "invalid")
    assert "physical limit of 0.85" in error["message"] and "typical" in error["message"]
    assert fields(error).keys() == {"declared_yield"}
    assert _balance(mine, w.mine.entity_id, "asi_bauxite") == before
    assert _balance(mine, w.mine.entity_id, "asi_alumina") == 0


def test_bad_query_parameters_are_named(smelter: TestClient, w: cw.Chain) -> None:
    for url, field in ((f"{C}/documents?direction=sideways", "direction"),
                       (f"{C}/documents?material=gold", "material"),
                       (f"{C}/documents?shipped_from=yesterday", "shipped_from"),
                       (f"{C}/accounts?status=ajar", "status"),
                       (f"{C}/unmatched?days=-1", "days"),
                       (f"{C}/documents/COC-2026-ABCDEFGH/chain?depth=0", "depth"),
                       (f"{C}/entities/{w.smelter.entity_id}/operations?kind=theft", "kind"),
                       (f"{C}/entities/not-a-uuid/periods", "entity_id")):
        error = api_error(smelter.get(url), 422, "validation_error")
        assert field in fields(error), url


def test_documents_paginate(db: Session, w: cw.Chain, smelter: TestClient,
                            client_for: Clients) -> None:
    numbers = {ok(smelter.post(f"{C}/documents", json=_document(
        w, coc_quantity_kg=100 + n, quantity_kg=200,
        shipment_date=str(TODAY - timedelta(days=n)))), 201)["number"] for n in range(5)}
    seen: list[str] = []
    for page in (1, 2, 3):
        body = ok(smelter.get(f"{C}/documents", params={"page": page, "per_page": 2}))
        assert (body["total"], body["pages"], body["page"], body["per_page"]) == (5, 3, page, 2)
        assert len(body["items"]) == (1 if page == 3 else 2)
        seen += [d["number"] for d in body["items"]]
    assert len(seen) == 5 and set(seen) == numbers
    beyond = ok(smelter.get(f"{C}/documents", params={"page": 4, "per_page": 2}))
    assert beyond["items"] == [] and beyond["total"] == 5
    too_many = api_error(smelter.get(f"{C}/documents", params={"per_page": 51}), 422, "invalid")
    assert "per_page" in fields(too_many)
    api_error(smelter.get(f"{C}/documents", params={"page": 0}), 422, "validation_error")
    found = ok(smelter.get(f"{C}/documents", params={"q": seen[0][-6:].lower()}))
    assert [d["number"] for d in found["items"]] == [seen[0]]
    window = ok(smelter.get(f"{C}/documents", params={
        "shipped_from": str(TODAY - timedelta(days=1)), "shipped_to": str(TODAY)}))
    assert window["total"] == 2
    mill = client_for(w.mill.user)
    assert ok(mill.get(f"{C}/documents", params={"direction": "outgoing"}))["total"] == 0
    assert ok(mill.get(f"{C}/documents", params={"direction": "incoming"}))["total"] == 5
