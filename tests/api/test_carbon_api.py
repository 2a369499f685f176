"""The carbon API: record, list, get and correct inventories; refusals that name their
field and store nothing; members kept apart; the CSV import; the public smelter board."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stewardship.carbon.models import CarbonInventory
from stewardship.core.auth import Actor
from tests import carbon_world as kw
from tests import factories
from tests.today import TODAY

URL = "/api/v1/carbon/inventories"
YEAR = TODAY.year - 1
Client = Callable[[Actor], TestClient]


@pytest.fixture
def world(db: Session) -> kw.CarbonWorld:
    return kw.build(db)


def _count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(CarbonInventory)) or 0


def _field(response: Any) -> str:
    return str(response.json()["error"]["details"][0]["field"])


def test_a_member_records_lists_and_reads_an_inventory(world: kw.CarbonWorld, db: Session,
                                                        client_for: Client) -> None:
    admin = client_for(world.smelter.admin)
    created = admin.post(URL, json=kw.smelter_body(YEAR, facility=world.smelter.facility))
    assert created.status_code == 201, created.text
    body = created.json()
    # 640,000 + 42,000 + 6,300,000 MWh x 0.011 t over 420,000 t of aluminium.
    assert body["scope2_t"] == "69300.000"
    assert body["scope12_t"] == "751300.000"
    assert body["intensity_t_per_t"] == "1.789"
    assert body["processes"][0]["intensity_t_per_t"] == "1.789"
    assert body["processes"][0]["cradle_to_gate_t_per_t"] is None
    assert body["facility_id"] == world.smelter.facility
    assert body["threshold"]["status"] == "meets"
    assert body["threshold"]["flagged"] is False
    assert body["threshold"]["limit_t_per_t"] == "11.0"
    assert body["threshold"]["basis"] == "cradle_to_gate"
    assert "v3" in body["threshold"]["criterion"]
    assert "carbon.inventory.recorded" in factories.event_kinds(db)

    listed = client_for(world.smelter.user).get(URL)
    assert listed.status_code == 200
    assert [i["id"] for i in listed.json()["items"]] == [body["id"]]
    assert listed.json()["total"] == 1
    one = client_for(world.smelter.user).get(f"{URL}/{body['id']}")
    assert one.status_code == 200 and one.json()["scope12_t"] == "751300.000"
    assert client_for(world.secretariat).get(f"{URL}/{body['id']}").status_code == 200


def test_a_coal_smelter_off_its_path_is_flagged(world: kw.CarbonWorld,
                                                 client_for: Client) -> None:
    admin = client_for(world.smelter.admin)
    coal = {"factor": "1.0", "electricity_factor_source": "captive coal plant"}
    first = admin.post(URL, json=kw.smelter_body(YEAR - 1, **coal))
    assert first.status_code == 201, first.text
    # 6,982,000 t over 420,000 t: above 11.0, but an older smelter's first inventory is
    # where its path starts.
    assert first.json()["threshold"]["intensity_t_per_t"] == "16.624"
    assert first.json()["threshold"]["status"] == "on_path"
    worse = admin.post(URL, json=kw.smelter_body(YEAR, scope1="700000", **coal))
    assert worse.status_code == 201, worse.text
    check = worse.json()["threshold"]
    assert check["status"] == "off_path" and check["flagged"] is True
    assert date.fromisoformat(check["due_on"]) == date(2030, 1, 1)
    assert float(check["allowed_t_per_t"]) < 16.624
    # a new smelter at that intensity is simply above the limit
    new = admin.post(URL, json=kw.smelter_body(YEAR, facility=world.smelter.facility,
                                               commissioned=2021, **coal))
    assert new.json()["threshold"]["status"] == "above"


@pytest.mark.parametrize(("change", "field"), [
    ({"scope1_t": "-1"}, "scope1_t"),
    ({"processes": []}, "processes"),
    ({"processes": [{"process": "smelting", "output_kg": 0}]}, "output_kg"),
    ({"processes": [{"process": "melting", "output_kg": 10}]}, "process"),
    ({"pfc_method": "guess"}, "pfc_method"),
    ({"allocation": "value"}, "allocation"),
    ({"scope1_kg": "10"}, "scope1_kg"),
    ({"processes": [{"process": "rolling", "output_kg": 1000}]}, "pfc_t"),
    ({"commissioned_year": None}, "commissioned_year"),
    ({"period_end": f"{TODAY.year + 1}-01-01"}, "period_end"),
])
def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
        world: kw.CarbonWorld, db: Session, client_for: Client, change: dict[str, Any],
        field: str) -> None:
    body = {**kw.smelter_body(YEAR), **change}
    if change.get("commissioned_year", 0) is None:
        body.pop("commissioned_year")
    answer = client_for(world.smelter.admin).post(URL, json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] in ("invalid", "validation_error")
    assert field in _field(answer)
    assert _count(db) == 0


def test_overlapping_periods_and_a_foreign_facility_are_refused(
        world: kw.CarbonWorld, db: Session, client_for: Client) -> None:
    admin = client_for(world.smelter.admin)
    assert admin.post(URL, json=kw.smelter_body(YEAR)).status_code == 201
    again = admin.post(URL, json=kw.smelter_body(YEAR, period_start=f"{YEAR}-06-01"))
    assert again.status_code == 422 and _field(again) == "period_start"
    assert "overlap" in again.json()["error"]["message"]
    # the same period for one installation is another series: allowed
    assert admin.post(URL, json=kw.smelter_body(YEAR, facility=world.smelter.facility)
                      ).status_code == 201
    foreign = admin.post(URL, json=kw.smelter_body(YEAR - 1, facility=world.mill.facility))
    assert foreign.status_code == 422 and _field(foreign) == "facility_id"
    assert _count(db) == 2


def test_another_member_can_neither_read_nor_write_yours(world: kw.CarbonWorld, db: Session,
                                                         client_for: Client) -> None:
    made = client_for(world.smelter.admin).post(URL, json=kw.smelter_body(YEAR)).json()
    other = client_for(world.mill.admin)
    assert other.get(f"{URL}/{made['id']}").status_code == 404
    assert other.get(URL).json()["total"] == 0
    correction = {**kw.smelter_body(YEAR), "reason": "typo in Scope 1"}
    assert other.put(f"{URL}/{made['id']}", json=correction).status_code == 404
    foreign = other.post(URL, json={**kw.smelter_body(YEAR),
                                    "entity_id": str(world.smelter.entity_id)})
    assert foreign.status_code == 422 and _field(foreign) == "entity_id"
    assert client_for(world.secretariat).post(URL, json=kw.smelter_body(YEAR)
                                              ).status_code == 403
    assert client_for(world.auditor).get(URL).status_code == 403
    assert TestClient(client_for(world.mill.admin).app).get(URL).status_code == 401
    assert _count(db) == 1


def test_a_correction_edits_in_place_counts_the_revision_and_logs_the_change(
        world: kw.CarbonWorld, db: Session, client_for: Client) -> None:
    user = client_for(world.smelter.user)
    made = user.post(URL, json=kw.smelter_body(YEAR)).json()
    same = user.put(f"{URL}/{made['id']}", json={**kw.smelter_body(YEAR), "reason": "none"})
    assert same.status_code == 422
    fixed = user.put(f"{URL}/{made['id']}", json={
        **kw.smelter_body(YEAR, scope1="650000"), "reason": "meter reading corrected"})
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["id"] == made["id"]
    assert fixed.json()["revision"] == 2
    assert fixed.json()["scope1_t"] == "650000.000"
    entry = [e for e in factories.events(db) if e.kind == "carbon.inventory.corrected"]
    assert len(entry) == 1
    assert entry[0].payload["changed"] == ["scope1_t"]
    assert entry[0].payload["before"] == {"scope1_t": "640000"}
    assert entry[0].payload["reason"] == "meter reading corrected"
    assert _count(db) == 1


def test_declared_allocation_gives_each_process_its_own_figure(
        world: kw.CarbonWorld, client_for: Client) -> None:
    body = kw.smelter_body(YEAR, allocation="declared", processes=[
        {"process": "smelting", "output_kg": 420_000_000, "declared_t": "741300"},
        {"process": "casting", "output_kg": 400_000_000, "declared_t": "10000"}])
    made = client_for(world.smelter.admin).post(URL, json=body)
    assert made.status_code == 201, made.text
    stages = {p["process"]: p["intensity_t_per_t"] for p in made.json()["processes"]}
    assert stages == {"casting": "0.025", "smelting": "1.765"}
    off = {**body, "processes": [{**body["processes"][0], "declared_t": "1"},
                                 body["processes"][1]]}
    refused = client_for(world.smelter.admin).post(URL, json=off)
    assert refused.status_code == 422 and _field(refused) == "processes"


CSV = ("facility_id,period_start,period_end,scope1_t,electricity_mwh,"
       "electricity_factor_t_per_mwh,electricity_factor_source,method,commissioned_year,"
       "output_kg_smelting,output_kg_casting\n"
       "{f},{y}-01-01,{y}-12-31,640000,6300000,0.011,hydro contract,GHG Protocol,1968,"
       "420000000,\n"
       "{c},{y}-01-01,{y}-12-31,12000,150000,\"0,011\",hydro contract,GHG Protocol,,,"
       "400000000\n")


def test_the_csv_import_checks_stores_and_refuses_all_or_nothing(
        world: kw.CarbonWorld, db: Session, client_for: Client) -> None:
    admin = client_for(world.smelter.admin)
    text = CSV.format(f=world.smelter.facility, c=world.casthouse, y=YEAR)
    checked = admin.post(f"{URL}/import", content=text, headers={"content-type": "text/csv"})
    assert checked.status_code == 200, checked.text
    assert checked.json()["ok"] and not checked.json()["applied"]
    assert _count(db) == 0
    bad = text + f"{world.casthouse},{YEAR - 1}-01-01,{YEAR - 1}-12-31,-5,0,0,,GHG,,,1000\n"
    refused = admin.post(f"{URL}/import?apply=true", content=bad,
                         headers={"content-type": "text/csv"})
    assert refused.status_code == 422
    report = refused.json()["report"]
    assert [r["ok"] for r in report["results"]] == [True, True, False]
    assert report["results"][2]["field"] == "scope1_t"
    assert report["results"][2]["row"] == 4
    assert refused.json()["error"]["details"][0]["field"] == "row 4: scope1_t"
    assert _count(db) == 0
    stored = admin.post(f"{URL}/import?apply=true", content=text,
                        headers={"content-type": "text/csv"})
    assert stored.status_code == 200 and stored.json()["applied"]
    assert _count(db) == 2
    unknown = admin.post(f"{URL}/import", content="period_start,scope1_kg\n2025-01-01,1\n",
                         headers={"content-type": "text/csv"})
    assert unknown.status_code == 422 and _field(unknown) == "header"


def test_the_smelter_board_is_public_and_shows_intensities_only(
        world: kw.CarbonWorld, client: TestClient, client_for: Client) -> None:
    empty = client.get("/api/v1/carbon/smelters")
    assert empty.status_code == 200 and empty.json()["smelters"] == []
    assert empty.json()["existing_max_t_per_t"] == "11.0"
    admin = client_for(world.smelter.admin)
    admin.post(URL, json=kw.smelter_body(YEAR - 1, facility=world.smelter.facility))
    admin.post(URL, json=kw.smelter_body(YEAR, facility=world.smelter.facility,
                                         scope1="600000"))
    board = client.get("/api/v1/carbon/smelters").json()
    assert len(board["smelters"]) == 1  # the latest period of the one smelter
    s = board["smelters"][0]
    assert s["period_start"] == f"{YEAR}-01-01"
    assert s["threshold"]["status"] == "meets"
    assert "scope1_t" not in s and "electricity_mwh" not in str(s)
