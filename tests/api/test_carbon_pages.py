"""The carbon pages: the member's inventories with intensities and the threshold flag, the
form that records an inventory with its processes (re-rendered with errors, nothing stored),
its correction, the CSV import with its row-by-row report, and the public board."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stewardship.carbon.models import CarbonInventory
from stewardship.carbon.schemas import InventoryCreate
from stewardship.carbon.service import inventories
from stewardship.core.auth import Actor
from stewardship.core.config import Settings
from stewardship.core.web import SESSION_COOKIE
from stewardship.registry import repository as registry_repo
from stewardship.registry.service import accounts
from tests import carbon_world as kw
from tests.api.test_custody_pages import post, text
from tests.today import TODAY

YEAR = TODAY.year - 1
Browser = Callable[[Actor], TestClient]


@pytest.fixture
def signed_in(app: FastAPI, db: Session, settings: Settings) -> Browser:
    """A browser signed in (session cookie) as the actor."""
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
def world(db: Session) -> kw.CarbonWorld:
    return kw.build(db)


def _count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(CarbonInventory)) or 0


FORM = {"period_start": f"{YEAR}-01-01", "period_end": f"{YEAR}-12-31",
        "scope1_t": "682000", "pfc_t": "42000", "pfc_method": "slope",
        "electricity_mwh": "6300000", "electricity_factor_t_per_mwh": "1.0",
        "electricity_factor_source": "captive coal plant", "method": "GHG Protocol",
        "commissioned_year": "2021", "allocation": "mass", "verification": "self_declared",
        "output_kg_smelting": "420000000"}


def test_the_form_records_an_inventory_and_the_page_flags_it(
        world: kw.CarbonWorld, db: Session, signed_in: Browser) -> None:
    browser = signed_in(world.smelter.user)
    form = browser.get("/carbon/inventories/new")
    assert form.status_code == 200
    assert 'name="output_kg_smelting"' in form.text and 'name="pfc_method"' in form.text
    sent = post(browser, "/carbon/inventories/new", FORM)
    assert sent.status_code == 303, text(sent)[-600:]
    page = browser.get(sent.headers["location"])
    assert page.status_code == 200
    body = text(page)
    # (682,000 + 42,000 + 6,300,000) t over 420,000 t: 16.724, above a new smelter's 11.0
    assert "16.724" in body and "Above the threshold" in body and "Flagged" in body
    listed = text(browser.get("/carbon/inventories"))
    assert "16.724" in listed and "Flagged" in listed
    assert _count(db) == 1


def test_a_bad_form_is_shown_again_with_its_errors_and_nothing_is_stored(
        world: kw.CarbonWorld, db: Session, signed_in: Browser) -> None:
    browser = signed_in(world.smelter.admin)
    bad = {**FORM, "scope1_t": "-3", "output_kg_smelting": "4.5 t"}
    sent = post(browser, "/carbon/inventories/new", bad)
    assert sent.status_code == 422
    assert 'id="error-summary"' in sent.text
    assert 'href="#field-scope1_t"' in sent.text and 'href="#field-output_kg_smelting"' in sent.text
    assert "Scope 1 may not be negative" in text(sent)
    assert 'value="captive coal plant"' in sent.text  # what was typed stays
    rolling = post(browser, "/carbon/inventories/new",
                   {**FORM, "output_kg_smelting": "", "output_kg_rolling": "5000"})
    assert rolling.status_code == 422, text(rolling)[-400:]
    assert 'href="#field-pfc_t"' in rolling.text, text(rolling)[:1500]
    assert _count(db) == 0


def test_a_member_corrects_its_inventory_and_another_member_cannot_see_it(
        world: kw.CarbonWorld, db: Session, signed_in: Browser) -> None:
    made = inventories.record_inventory(db, world.smelter.admin, InventoryCreate(
        **kw.smelter_body(YEAR)))
    browser = signed_in(world.smelter.user)
    form = browser.get(f"/carbon/inventories/{made.id}/correct")
    assert form.status_code == 200 and 'value="640000"' in form.text
    no_reason = post(browser, f"/carbon/inventories/{made.id}/correct",
                     {**FORM, "commissioned_year": "1968"})
    assert no_reason.status_code == 422 and 'href="#field-reason"' in no_reason.text
    fixed = post(browser, f"/carbon/inventories/{made.id}/correct",
                 {**FORM, "commissioned_year": "1968", "reason": "coal factor, not hydro"})
    assert fixed.status_code == 303
    page = text(browser.get(f"/carbon/inventories/{made.id}"))
    assert "revision 2" in page
    other = signed_in(world.mill.admin)
    assert other.get(f"/carbon/inventories/{made.id}").status_code == 404
    assert other.get(f"/carbon/inventories/{made.id}/correct").status_code == 404
    assert "No member" not in text(signed_in(world.secretariat).get("/carbon/inventories"))


def test_the_csv_import_reports_a_bad_row_and_stores_nothing(
        world: kw.CarbonWorld, db: Session, signed_in: Browser) -> None:
    browser = signed_in(world.smelter.admin)
    page = browser.get("/carbon/inventories/import")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    good = (f"{world.smelter.facility},{YEAR}-01-01,{YEAR}-12-31,640000,GHG Protocol,1968,"
            "420000000\n")
    bad = f"{world.casthouse},{YEAR}-01-01,{YEAR}-12-31,12000,GHG Protocol,1968,400\n"
    header = "facility_id,period_start,period_end,scope1_t,method,commissioned_year,"
    csv = header + "output_kg_smelting\n" + good + bad.replace(",400\n", ",oops\n")
    sent = browser.post("/carbon/inventories/import", data={"csrf_token": token},
                        files={"file": ("inv.csv", csv.encode(), "text/csv")},
                        follow_redirects=False)
    assert sent.status_code == 422
    body = text(sent)
    assert "Row by row" in body and "output_kg_smelting" in body and "Ready" in body
    assert _count(db) == 0
    ok = browser.post("/carbon/inventories/import", data={"csrf_token": token},
                      files={"file": ("inv.csv", (header + "output_kg_smelting\n" + good
                                                  ).encode(), "text/csv")},
                      follow_redirects=False)
    assert ok.status_code == 303
    assert _count(db) == 1


def test_the_public_board_has_an_empty_state_then_the_smelters(
        world: kw.CarbonWorld, db: Session, client: TestClient) -> None:
    empty = client.get("/carbon")
    assert empty.status_code == 200
    assert "No member smelter has recorded" in text(empty)
    inventories.record_inventory(db, world.smelter.admin, InventoryCreate(
        **kw.smelter_body(YEAR, facility=world.smelter.facility)))
    board = text(client.get("/carbon"))
    assert "1.789" in board and "At or below the threshold" in board
    assert "751,300" not in board  # absolute emissions stay the member's
    assert client.get("/carbon/inventories", follow_redirects=False).status_code == 303
