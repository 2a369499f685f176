"""Transformations recorded as they physically happen, and production held to what a
facility can put out, over HTTP: total input, total output and the CoC part of the input
give the CoC credit and the CoC input percentage; output beyond a facility's capacity for
the period is refused with a message naming it unless the secretariat records it with a
reason; the conservation audit flags output beyond capacity and yields far from typical
without calling the books broken."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor
from stewardship.core.eventlog import EventLogEntry, count_entries
from tests import custody_world as cw
from tests.api.pages import api_error, fields, ok, post, text
from tests.today import TODAY

C = "/api/v1/custody"
R = "/api/v1/registry"
Clients = Callable[[Actor], TestClient]
DAY = TODAY - timedelta(days=1)


def _balance(client: TestClient, entity_id: object, material: str) -> int:
    page = ok(client.get(f"{C}/accounts", params={
        "entity_id": str(entity_id), "material": material, "status": "open"}))
    return sum(a["balance_kg"] for a in page["items"])


# --- point 2: transformations as they physically happen --------------------------------


def _refining(w: cw.Chain, **figures: Any) -> dict[str, Any]:
    return {"facility_id": w.mine.facility, "transformation": "refining",
            "source_material": "asi_bauxite", "occurred_on": str(DAY), **figures}


def test_bauxite_partly_coc_is_refined_as_it_happened(db: Session, client_for: Clients) -> None:
    w = cw.build(db)
    cw.produce(db, w.mine, "asi_bauxite", 6_000_000, on=DAY)  # 6,000 t CoC
    mine = client_for(w.mine.user)
    # 10,000 t of bauxite went in (4,000 t of it not CoC), 4,000 t of alumina came out.
    op = ok(mine.post(f"{C}/transformations", json=_refining(
        w, total_input_kg=10_000_000, total_output_kg=4_000_000, coc_input_kg=6_000_000)),
        201)
    assert (op["total_input_kg"], op["total_output_kg"]) == (10_000_000, 4_000_000)
    assert (op["input_kg"], op["kilograms"]) == (6_000_000, 2_400_000)  # CoC in, CoC out
    assert Decimal(op["declared_yield"]) == Decimal("0.4")
    assert Decimal(op["coc_input_percent"]) == Decimal("60.00")
    assert _balance(mine, w.mine.entity_id, "asi_bauxite") == 0
    assert _balance(mine, w.mine.entity_id, "asi_alumina") == 2_400_000
    journal = ok(mine.get(f"{C}/entities/{w.mine.entity_id}/operations",
                          params={"kind": "transformation"}))["items"]
    assert Decimal(journal[0]["coc_input_percent"]) == Decimal("60.00")
    audit = ok(client_for(w.secretariat).get(f"{C}/audit"))
    assert audit["ok"], audit["problems"]


def test_the_older_shape_still_means_all_input_was_coc(db: Session,
                                                       client_for: Clients) -> None:
    w = cw.build(db)
    cw.produce(db, w.mine, "asi_bauxite", 10_000, on=DAY)
    mine = client_for(w.mine.user)
    op = ok(mine.post(f"{C}/transformations", json=_refining(
        w, input_kg=10_000, declared_yield="0.45")), 201)
    assert (op["total_input_kg"], op["total_output_kg"], op["input_kg"], op["kilograms"]) == (
        10_000, 4_500, 10_000, 4_500)
    assert Decimal(op["declared_yield"]) == Decimal("0.45")
    assert Decimal(op["coc_input_percent"]) == Decimal("100.00")


def test_bad_figures_are_refused_naming_the_field(db: Session, client_for: Clients) -> None:
    w = cw.build(db)
    cw.produce(db, w.mine, "asi_bauxite", 6_000_000, on=DAY)
    mine = client_for(w.mine.user)
    before = (count_entries(db), _balance(mine, w.mine.entity_id, "asi_bauxite"))
    cases: list[tuple[dict[str, Any], int, str, str]] = [
        ({"total_input_kg": 1_000, "total_output_kg": 400, "coc_input_kg": 1_001}, 422,
         "coc_input_kg", "exceeds the total input"),
        ({"total_input_kg": 1_000, "coc_input_kg": 500}, 422, "total_output_kg",
         "is required"),
        ({"total_input_kg": 1_000, "total_output_kg": 400, "coc_input_kg": 500,
          "declared_yield": "0.4"}, 422, "declared_yield", "not both"),
        ({"total_input_kg": 1_000, "total_output_kg": 900, "coc_input_kg": 500}, 422,
         "total_output_kg", "physical limit of 0.85"),
        ({"total_input_kg": 20_000_000, "total_output_kg": 8_000_000,
          "coc_input_kg": 7_000_000}, 409, "coc_input_kg", "exceeds the available balance"),
        ({}, 422, "total_input_kg", "is required"),
    ]
    for figures, status, field, words in cases:
        error = api_error(mine.post(f"{C}/transformations", json=_refining(w, **figures)),
                          status, "invalid" if status == 422 else "conflict")
        assert field in fields(error), (figures, error)
        assert words in error["message"], (figures, error)
    assert (count_entries(db), _balance(mine, w.mine.entity_id, "asi_bauxite")) == before
    assert _balance(mine, w.mine.entity_id, "asi_alumina") == 0


# --- point 3: capacity and plausibility ------------------------------------------------


def _smelter_of_420_kt(w: cw.Chain, admin: TestClient) -> str:
    """Registers the member's 420,000 t a year smelter, as a member admin does."""
    created = ok(admin.post(f"{R}/facilities", json={
        "name": "Fjordal Smelter", "address": "Industrivegen 15", "country": "NO",
        "activities": ["smelting"], "annual_capacity_t": 420_000,
        "entity_id": str(w.smelter.entity_id)}), 201)
    facility = created["facility"]
    assert facility["capacities"] == {"smelting": 420_000_000}
    return str(facility["id"])


def _production(facility: str, kg: int, **extra: Any) -> dict[str, Any]:
    return {"facility_id": facility, "material": "asi_aluminium", "kilograms": kg,
            "occurred_on": str(DAY), **extra}


def test_production_beyond_a_smelters_capacity_is_refused(db: Session,
                                                          client_for: Clients) -> None:
    w = cw.build(db)
    facility = _smelter_of_420_kt(w, client_for(w.smelter.admin))
    smelter = client_for(w.smelter.user)
    before = count_entries(db)
    error = api_error(smelter.post(f"{C}/production", json=_production(
        facility, 900_000_000_000)), 409, "conflict")
    assert "Fjordal Smelter" in error["message"] and facility in error["message"]
    assert "beyond its capacity of 420,000,000 kg" in error["message"]
    assert "secretariat" in error["message"] and "kilograms" in fields(error)
    assert count_entries(db) == before
    assert _balance(smelter, w.smelter.entity_id, "asi_aluminium") == 0
    # Within the capacity it goes in; what is already recorded counts towards it.
    ok(smelter.post(f"{C}/production", json=_production(facility, 400_000_000)), 201)
    error = api_error(smelter.post(f"{C}/production", json=_production(facility, 20_000_001)),
                      409, "conflict")
    assert "400,000,000 kg recorded already" in error["message"]
    ok(smelter.post(f"{C}/production", json=_production(facility, 20_000_000)), 201)
    audit = ok(client_for(w.secretariat).get(f"{C}/audit"))
    assert audit["ok"] and audit["flags"] == [], audit


def test_capacity_is_prorated_to_a_quarter(db: Session, client_for: Clients) -> None:
    w = cw.build(db)
    admin = client_for(w.smelter.admin)
    ok(admin.put(f"{C}/entities/{w.smelter.entity_id}/settings",
                 json={"period_months": 3}))
    facility = _smelter_of_420_kt(w, admin)
    smelter = client_for(w.smelter.user)
    error = api_error(smelter.post(f"{C}/production", json=_production(facility, 105_000_001)),
                      409, "conflict")
    assert "capacity of 105,000,000 kg for the period" in error["message"]
    ok(smelter.post(f"{C}/production", json=_production(facility, 105_000_000)), 201)


def test_only_the_secretariat_overrides_the_capacity_with_a_reason(
        db: Session, client_for: Clients) -> None:
    w = cw.build(db)
    facility = _smelter_of_420_kt(w, client_for(w.smelter.admin))
    smelter, staff = client_for(w.smelter.user), client_for(w.secretariat)
    reason = "Potline 3 restarted; capacity update pending with the registry"
    body = _production(facility, 500_000_000, entity_id=str(w.smelter.entity_id))
    error = api_error(smelter.post(f"{C}/production", json={
        **body, "capacity_override_reason": reason}), 403, "forbidden")
    assert "only the secretariat" in error["message"]
    error = api_error(staff.post(f"{C}/production", json=body), 403, "forbidden")
    assert "capacity_override_reason" in fields(error)
    op = ok(staff.post(f"{C}/production", json={**body, "capacity_override_reason": reason}),
            201)
    assert op["capacity_override"] == reason and op["kilograms"] == 500_000_000
    logged = db.scalars(select(EventLogEntry).where(
        EventLogEntry.subject == f"custody_operation:{op['id']}")).one()
    assert logged.payload["capacity_override"] == reason
    assert logged.actor == w.secretariat.ref
    audit = ok(staff.get(f"{C}/audit"))
    assert audit["ok"], audit["problems"]  # a flag, not a break
    [flag] = audit["flags"]
    assert (flag["kind"], flag["facility"], flag["subject"]) == ("capacity", facility,
                                                                  "smelting")
    assert "119% of the capacity" in flag["problem"]


def test_transformation_output_counts_against_the_capacity_of_its_activity(
        db: Session, client_for: Clients) -> None:
    w = cw.build(db)
    cw.produce(db, w.mine, "asi_bauxite", 10_000_000, on=DAY)
    admin = client_for(w.mine.admin)
    facility = ok(admin.put(f"{R}/facilities/{w.mine.facility}/capacities", json={
        "capacities": {"alumina_refining": 3_000_000}}))
    assert facility["capacities"] == {"alumina_refining": 3_000_000}
    mine = client_for(w.mine.user)
    error = api_error(mine.post(f"{C}/transformations", json=_refining(
        w, total_input_kg=10_000_000, total_output_kg=4_000_000, coc_input_kg=6_000_000)),
        409, "conflict")
    assert "alumina_refining output" in error["message"]
    assert "total_output_kg" in fields(error)
    assert _balance(mine, w.mine.entity_id, "asi_alumina") == 0


def test_setting_capacities_names_bad_input_and_who_may(db: Session,
                                                        client_for: Clients) -> None:
    w = cw.build(db)
    url = f"{R}/facilities/{w.smelter.facility}/capacities"
    error = api_error(client_for(w.smelter.admin).put(url, json={
        "capacities": {"alumina_refining": 1_000}}), 422, "invalid")
    assert "capacities.alumina_refining" in fields(error)
    error = api_error(client_for(w.smelter.admin).put(url, json={
        "capacities": {"smelting": -5}}), 422, "validation_error")
    assert "capacities" in fields(error)
    api_error(client_for(w.smelter.user).put(url, json={"capacities": {"smelting": 1}}), 403,
              "forbidden")
    api_error(client_for(w.mill.admin).put(url, json={"capacities": {"smelting": 1}}), 403,
              "forbidden")
    done = ok(client_for(w.secretariat).put(url, json={
        "capacities": {"smelting": 420_000_000, "casthouse": 380_000_000}}))
    assert done["capacities"] == {"smelting": 420_000_000, "casthouse": 380_000_000}
    cleared = ok(client_for(w.smelter.admin).put(url, json={"capacities": {"casthouse": None}}))
    assert cleared["capacities"] == {"smelting": 420_000_000}


def test_the_audit_flags_a_yield_far_from_typical(db: Session, client_for: Clients) -> None:
    w = cw.build(db)
    cw.produce(db, w.mine, "asi_bauxite", 1_000_000, on=DAY)
    mine = client_for(w.mine.user)
    ok(mine.post(f"{C}/transformations", json=_refining(
       w, total_input_kg=1_000_000, total_output_kg=150_000, coc_input_kg=1_000_000)), 201)
    audit = ok(client_for(w.secretariat).get(f"{C}/audit"))
    assert audit["ok"], audit["problems"]
    [flag] = audit["flags"]
    assert (flag["kind"], flag["subject"]) == ("yield", "refining")
    assert "0.15" in flag["problem"] and "far from the typical" in flag["problem"]


def test_the_facility_page_shows_and_sets_capacities(
        db: Session, signed_in: Callable[[Actor], TestClient]) -> None:
    w = cw.build(db)
    admin = signed_in(w.smelter.admin)
    url = f"/facilities/{w.smelter.facility}"
    page = admin.get(url)
    assert page.status_code == 200 and 'id="field-capacity_smelting"' in page.text
    refused = post(admin, f"{url}/capacities", {"activity": ["smelting", "casthouse"],
                                                "annual_capacity_kg": ["lots", ""]})
    assert refused.status_code == 422 and 'id="error-capacity_smelting"' in refused.text
    done = post(admin, f"{url}/capacities", {"activity": ["smelting", "casthouse"],
                                             "annual_capacity_kg": ["420,000,000", ""]})
    assert done.status_code == 303, done.text
    assert "Smelting: 420,000,000 kg a year" in text(admin.get(url))
    # Anyone else reads the capacities but is offered no form.
    assert 'id="field-capacity_smelting"' not in signed_in(w.mill.admin).get(url).text
