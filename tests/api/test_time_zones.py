"""A member's dates judged in the member's time zone, over HTTP: each facility keeps an IANA
zone (its country's main zone unless its admin names another), a day recorded without a
time is "in the future" only once it is after the day at the facility (or, for what names
no facility, at the entity's main facility), and the zone is shown and changed through the
facility API.

The moment: 10:30 UTC on TODAY, when it is still the day before at UTC-11 (Niue) and
already the next day at UTC+14 (the Line Islands)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor, Role
from stewardship.core.eventlog import count_entries
from tests import custody_world as cw
from tests import factories
from tests.api.pages import api_error, ok
from tests.today import TODAY, stopped_at

C = "/api/v1/custody"
FACILITIES = "/api/v1/registry/facilities"
MOMENT = datetime.combine(TODAY, time(10, 30), UTC)
YESTERDAY, TOMORROW = TODAY - timedelta(days=1), TODAY + timedelta(days=1)
Clients = Callable[[Actor], TestClient]


def _balance(client: TestClient, entity_id: object) -> int:
    page = ok(client.get(f"{C}/accounts", params={
        "entity_id": str(entity_id), "material": "asi_aluminium", "status": "open"}))
    return sum(a["balance_kg"] for a in page["items"])


@pytest.fixture
def w(db: Session) -> cw.Chain:
    return cw.build(db)


def _member(db: Session, w: cw.Chain, client_for: Clients, country: str,
            zone: str | None) -> cw.Member:
    """A certified smelter in ``country``; its facility's zone changed by its admin over
    HTTP when ``zone`` is given."""
    m = cw.add_member(db, w, f"Zone Smelting {country}", country, ["smelting", "casthouse"])
    if zone is not None:
        changed = ok(client_for(m.admin).patch(f"{FACILITIES}/{m.facility}",
                                               json={"time_zone": zone}))
        assert changed["time_zone"] == zone
    return m


# Where the facility is, the zone it keeps, and the day it is there at MOMENT.
PLACES = [("NU", None, "Pacific/Niue", YESTERDAY),
          ("IS", "UTC", "UTC", TODAY),
          ("KI", "Pacific/Kiritimati", "Pacific/Kiritimati", TOMORROW)]


@pytest.mark.parametrize(("country", "given", "zone", "local_today"), PLACES,
                         ids=["UTC-11", "UTC", "UTC+14"])
def test_production_is_dated_by_the_day_at_its_facility(
        db: Session, w: cw.Chain, client_for: Clients, country: str, given: str | None,
        zone: str, local_today: Any) -> None:
    m = _member(db, w, client_for, country, given)
    user = client_for(m.user)
    with stopped_at(MOMENT):
        made = ok(user.post(f"{C}/production", json={
            "facility_id": m.facility, "material": "asi_aluminium", "kilograms": 700,
            "occurred_on": str(local_today)}), 201)
        assert made["occurred_on"] == str(local_today)
        before = (_balance(user, m.entity_id), count_entries(db))
        ahead = local_today + timedelta(days=1)
        error = api_error(user.post(f"{C}/production", json={
            "facility_id": m.facility, "material": "asi_aluminium", "kilograms": 700,
            "occurred_on": str(ahead)}), 422)
        assert error["details"][0]["field"] == "occurred_on"
        assert error["message"] == f"{ahead.isoformat()} is in the future"
        assert (_balance(user, m.entity_id), count_entries(db)) == before == (700, before[1])
    assert ok(user.get(f"{FACILITIES}/{m.facility}"))["time_zone"] == zone


def test_documents_and_inputs_are_dated_at_the_entitys_main_facility(
        db: Session, w: cw.Chain, client_for: Clients) -> None:
    east = _member(db, w, client_for, "KI", "Pacific/Kiritimati")
    middle = _member(db, w, client_for, "IS", "UTC")
    west = _member(db, w, client_for, "NU", None)
    for m in (east, middle):
        cw.produce(db, m, "asi_aluminium", 5_000, on=YESTERDAY)
    shipment = {"recipient_entity_id": str(w.mill.entity_id), "material": "asi_aluminium",
                "quantity_kg": 1_000, "coc_quantity_kg": 1_000,
                "shipment_date": str(TOMORROW)}
    with stopped_at(MOMENT):
        doc = ok(client_for(east.user).post(f"{C}/documents", json=shipment), 201)
        assert doc["shipment_date"] == str(TOMORROW)
        refused = api_error(client_for(middle.user).post(f"{C}/documents", json=shipment), 422)
        assert refused["details"][0]["field"] == "shipment_date"
        assert "in the future" in refused["message"]
        assert _balance(client_for(middle.user), middle.entity_id) == 5_000

        west_user = client_for(west.user)
        non_coc = {"material": "asi_aluminium", "kilograms": 50}
        error = api_error(west_user.post(f"{C}/non-coc-inputs",
                                         json={**non_coc, "occurred_on": str(TODAY)}), 422)
        assert (error["details"][0]["field"], error["message"]) == (
            "occurred_on", f"{TODAY.isoformat()} is in the future")
        ok(west_user.post(f"{C}/non-coc-inputs",
                          json={**non_coc, "occurred_on": str(YESTERDAY)}), 201)

        # The receipt is dated at the recipient's facility: the mill's, in Germany.
        receipt = f"{C}/documents/{doc['number']}/receive"
        mill = client_for(w.mill.user)
        error = api_error(mill.post(receipt, json={"received_on": str(TOMORROW)}), 422)
        assert (error["details"][0]["field"], error["message"]) == (
            "received_on", f"{TOMORROW.isoformat()} is in the future")
    assert ok(mill.get(f"{C}/documents/{doc['number']}"))["status"] == "issued"


def test_a_facility_keeps_its_countrys_zone_until_its_admin_changes_it(
        db: Session, client_for: Clients) -> None:
    slug = factories.organization(db, name="Tidal Zones Metals", country="AU")
    other = factories.organization(db, name="Other Zones Metals", country="AU")
    admin = client_for(factories.user(db, Role.MEMBER_ADMIN, organization=slug))
    body = {"name": "Zone Smelter", "address": "1 Coast Road", "activities": ["smelting"]}
    sydney = ok(admin.post(FACILITIES, json={**body, "country": "AU"}), 201)["facility"]
    assert sydney["time_zone"] == "Australia/Sydney"  # not Lord Howe, zone.tab's first
    niue = ok(admin.post(FACILITIES, json={**body, "name": "Niue Works", "country": "NU"}),
              201)["facility"]
    assert niue["time_zone"] == "Pacific/Niue"
    named = ok(admin.post(FACILITIES, json={**body, "name": "Perth Works", "country": "AU",
                                            "time_zone": "australia/perth"}), 201)
    assert named["facility"]["time_zone"] == "Australia/Perth"

    member_user = client_for(factories.user(db, Role.MEMBER_USER, organization=slug))
    outsider = client_for(factories.user(db, Role.MEMBER_ADMIN, organization=other))
    before = count_entries(db)
    bad = api_error(admin.post(FACILITIES, json={**body, "name": "Mars Works", "country": "AU",
                                                 "time_zone": "Mars/Olympus"}), 422)
    assert bad["details"][0]["field"] == "time_zone"
    assert "not an IANA time zone name" in bad["details"][0]["message"]
    path = f"{FACILITIES}/{sydney['id']}"
    bad = api_error(admin.patch(path, json={"time_zone": "Australia/Atlantis"}), 422)
    assert bad["details"][0]["field"] == "time_zone"
    api_error(member_user.patch(path, json={"time_zone": "Australia/Perth"}), 403)
    api_error(outsider.patch(path, json={"time_zone": "Australia/Perth"}), 403)
    assert ok(admin.get(path))["time_zone"] == "Australia/Sydney"
    assert count_entries(db) == before

    changed = ok(admin.patch(path, json={"time_zone": "Australia/Adelaide"}))
    assert changed["time_zone"] == "Australia/Adelaide"
    assert ok(admin.get(path))["time_zone"] == "Australia/Adelaide"
    assert count_entries(db) == before + 1
    staff = client_for(factories.user(db, Role.SECRETARIAT))
    assert ok(staff.patch(path, json={"time_zone": "UTC"}))["time_zone"] == "UTC"


def test_evidence_speaks_for_days_begun_at_the_members_main_facility(
        db: Session, client_for: Clients) -> None:
    east = factories.organization(db, name="Line Islands Evidence", country="KI")
    factories.facility(db, east, name="Kiritimati Works", country="KI",
                       time_zone="Pacific/Kiritimati")
    west = factories.organization(db, name="Niue Evidence", country="NU")  # no facility yet
    pdf = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"

    def upload(slug: str, day: Any) -> Response:
        admin = client_for(factories.user(db, Role.MEMBER_ADMIN, organization=slug))
        return admin.post("/api/v1/assurance/evidence", data={"effective_on": str(day)},
                          files={"file": ("permit.pdf", pdf, "application/pdf")})

    with stopped_at(MOMENT):
        assert ok(upload(east, TOMORROW), 201)["effective_on"] == str(TOMORROW)
        error = api_error(upload(west, TODAY), 422)
        assert error["details"][0]["field"] == "effective_on"
        assert "a day still to come" in error["message"]
        assert ok(upload(west, YESTERDAY), 201)["effective_on"] == str(YESTERDAY)
