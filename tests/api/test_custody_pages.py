"""The chain-of-custody pages through HTTP: a member's dashboard with its balances and the
issue form, a document's page with receive / reject / cancel, the chain behind it, the
public verification page, the recording forms with their typical yields, the journal,
periods and settings, the annual report, and the secretariat's network and audit.

Pages are read as text (tags dropped, entities decoded); form posts carry the CSRF token
read from a page, as a browser would send it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor
from stewardship.core.pagination import PageParams
from stewardship.custody.models import CocDocument, CustodyOperation
from stewardship.custody.service import chain, documents, reads
from tests import custody_world as cw
from tests import factories
from tests.api.pages import post, text
from tests.today import TODAY

ALL = PageParams(1, 100)
BASE = "http://testserver"  # no public base URL configured: the request's own address


def count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def balance(db: Session, m: cw.Member, material: str) -> int:
    return sum(a.balance_kg for a in reads.list_accounts(db, m.user, ALL,
                                                         entity_id=m.entity_id).items
               if a.material.value == material and a.status == "open")


@pytest.fixture
def w(db: Session) -> cw.Chain:
    return cw.build(db)


def _issue(client: TestClient, w: cw.Chain, **extra: object) -> Response:
    return post(client, "/custody/documents", {
        "issuer_entity_id": str(w.smelter.entity_id),
        "recipient_entity_id": str(w.mill.entity_id), "material": "asi_aluminium",
        "quantity_kg": "8000", "coc_quantity_kg": "6,000",
        "shipment_date": TODAY.isoformat(), **extra})


# --- the dashboard ----------------------------------------------------------------------


def test_the_dashboard_shows_balances_origins_and_the_way_to_every_page(
        db: Session, w: cw.Chain, signed_in: Callable[[Actor], TestClient]) -> None:
    cw.produce(db, w.smelter, "asi_aluminium", 50_000)
    cw.produce(db, w.smelter, "asi_aluminium", 25_000)
    page = signed_in(w.smelter.admin).get("/custody")
    assert page.status_code == 200, text(page)[-800:]
    body = text(page)
    assert "Balances" in body and "ASI Aluminium" in body
    assert "75.0 t" in body and "100.00 %" in body  # balance and CoC input percentage
    assert 'title="75,000 kg"' in page.text  # the exact kilograms on hover
    assert "Fjell Aluminium" in body and "(NO)" in body and "0% recycled" in body
    for href in ("/custody/record/production", "/custody/record/scrap-intake",
                 "/custody/record/non-coc-input", "/custody/record/transformation",
                 "/custody/journal", "/custody/periods", "/custody/settings",
                 f"/custody/report?entity={w.smelter.entity_id}&amp;year={TODAY.year}"):
        assert f'href="{href}' in page.text, href
    assert 'href="/custody" aria-current="page"' in page.text  # the navigation
    user_page = signed_in(w.smelter.user).get("/custody")
    assert 'href="/custody/settings' not in user_page.text  # settings: the admin's
    assert 'href="/custody"' in signed_in(w.smelter.user).get("/dashboard").text


def test_a_member_without_accounts_sees_the_empty_states(
        w: cw.Chain, signed_in: Callable[[Actor], TestClient]) -> None:
    body = text(signed_in(w.mill.user).get("/custody"))
    assert "No material accounts yet" in body
    assert "No document is waiting for your confirmation" in body
    assert "No document has waited more than 30 days" in body
    assert "Issue a CoC document" in body


def test_an_organisation_with_several_entities_chooses_one(
        db: Session, w: cw.Chain, signed_in: Callable[[Actor], TestClient]) -> None:
    cw.produce(db, w.smelter, "asi_aluminium", 9_000)
    other = factories.entity(db, w.smelter.slug, "Fjell Trading Ltd")
    client = signed_in(w.smelter.user)
    first = client.get("/custody")
    assert 'name="entity"' in first.text and "Fjell Trading Ltd" in text(first)
    chosen = client.get(f"/custody?entity={other.id}")
    assert chosen.status_code == 200
    assert "Custody: Fjell Trading Ltd" in text(chosen)
    assert "No material accounts yet" in text(chosen)
    assert client.get(f"/custody?entity={w.mill.entity_id}").status_code == 404


def test_who_may_open_the_dashboard(client: TestClient, w: cw.Chain,
                                    signed_in: Callable[[Actor], TestClient]) -> None:
    anonymous = client.get("/custody", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login?next=%2Fcustody")
    assert signed_in(w.auditor).get("/custody").status_code == 403
    secretariat = signed_in(w.secretariat).get("/custody", follow_redirects=False)
    assert secretariat.status_code == 303
    assert secretariat.headers["location"] == "/custody/network"


# --- issuing ----------------------------------------------------------------------------


def test_issuing_through_the_form_shows_the_new_document(
        db: Session, w: cw.Chain, signed_in: Callable[[Actor], TestClient]) -> None:
    cw.produce(db, w.smelter, "asi_aluminium", 10_000)
    client = signed_in(w.smelter.user)
    form = client.get("/custody")
    assert 'name="recipient_entity_id"' in form.text
    assert str(w.mill.entity_id) in form.text
    done = _issue(client, w, description="Sheet ingot", number="fj-2025-0001")
    assert done.status_code == 303, text(done)[-800:]
    assert done.headers["location"] == "/custody/documents/FJ-2025-0001"
    page = client.get(done.headers["location"])
    body = text(page)
    assert "is issued to Walz Rolling" in body  # the flash
    assert "FJ-2025-0001" in body and "6,000 kg" in body  # the flash: exact
    assert "8.0 t" in body and 'title="8,000 kg"' in page.text
    assert "Sheet ingot" in body and "Waiting for the recipient" in body
    assert w.smelter.certificates["chain_of_custody"] in body
    assert w.mill.certificates["performance"] in body
    assert "100.00 %" in body and "Primary" in body  # origin composition
    assert 'class="qr-code"' in page.text and "<svg" in page.text
    assert f"{BASE}/verify/coc/FJ-2025-0001" in page.text
    assert "Cancel this document" in body and "Confirm this document" not in body
    assert balance(db, w.smelter, "asi_aluminium") == 4_000


def test_an_issue_over_the_balance_is_refused_beside_the_field_and_stores_nothing(
        db: Session, w: cw.Chain, signed_in: Callable[[Actor], TestClient]) -> None:
    cw.produce(db, w.smelter, "asi_aluminium", 1_000)
    refused = _issue(signed_in(w.smelter.user), w, coc_quantity_kg="1001",
                     quantity_kg="1001", description="Too much")
    assert refused.status_code == 409
    body = text(refused)
    assert "Please correct the following" in body
    assert "exceeds the available balance of 1000 kg" in body
    assert 'id="error-coc_quantity_kg"' in refused.text
    assert 'value="1001"' in refused.text and 'value="Too much"' in refused.text
    assert f'<option value="{w.mill.entity_id}" selected>' in refused.text
    assert count(db, CocDocument) == 0
    assert balance(db, w.smelter, "asi_aluminium") == 1_000


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"quantity_kg": "lots"}, "quantity_kg", "Enter a whole number"),
    ({"shipment_date": ""}, "shipment_date", "The shipment date is required"),
    ({"recipient_entity_id": ""}, "recipient_entity_id", "The recipient is required"),
    ({"coc_quantity_kg": "9000"}, "coc_quantity_kg", "exceeds the shipped quantity"),
    ({"recycled_percent": "20"}, "recycled_method", "Say how the recycled content"),
    ({"number": "x"}, "number", "capital letters, digits and hyphens"),
])
def test_a_bad_field_is_named_and_nothing_is_issued(
        db: Session, w: cw.Chain, signed_in: Callable[[Actor], TestClient],
        change: dict[str, str], field: str, message: str) -> None:
    cw.produce(db, w.smelter, "asi_aluminium", 10_000)
    refused = _issue(signed_in(w.smelter.user), w, **change)
    assert refused.status_code == 422, text(refused)[-600:]
    assert f'id="error-{field}"' in refused.text
    assert message in text(refused)
    assert count(db, CocDocument) == 0


# --- receiving, rejecting, cancelling ---------------------------------------------------


def test_the_recipient_receives_through_the_pages(
        db: Session, w: cw.Chain, signed_in: Callable[[Actor], TestClient]) -> None:
    cw.produce(db, w.smelter, "asi_aluminium", 5_000)
    number = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 3_000)
    mill = signed_in(w.mill.user)
    dashboard = mill.get("/custody")
    assert "Documents to confirm" in text(dashboard) and number in dashboard.text
    assert f'action="/custody/documents/{number}/receive"' in dashboard.text
    page = mill.get(f"/custody/documents/{number}")
    assert "Confirm this document" in text(page) and "Cancel this document" not in text(page)
    done = post(mill, f"/custody/documents/{number}/receive", {"received_on": ""})
    assert done.status_code == 303
    after = mill.get(done.headers["location"])
    assert f"Document {number} is received" in text(after)
    assert f"Received on {TODAY:%d %b %Y}" in text(after)
    assert balance(db, w.mill, "asi_aluminium") == 3_000
    again = post(mill, f"/custody/documents/{number}/receive")
    assert again.status_code == 409 and "was already received" in text(again)
    assert "No document is waiting for your confirmation" in text(mill.get("/custody"))


def test_the_recipient_rejects_with_a_reason(
        db: Session, w: cw.Chain, signed_in: Callable[[Actor], TestClient]) -> None:
    cw.produce(db, w.smelter, "asi_aluminium", 5_000)
    number = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 3_000)
    mill = signed_in(w.mill.user)
    short = post(mill, f"/custody/documents/{number}/reject", {"reason": "no"})
    assert short.status_code == 422
    assert 'id="error-reason"' in short.text and "at least 3 characters" in text(short)
    done = post(mill, f"/custody/documents/{number}/reject",
                {"reason": "Wrong alloy delivered"})
    assert done.status_code == 303
    body = text(mill.get(done.headers["location"]))
    assert "is rejected" in body and "Wrong alloy delivered" in body
    assert balance(db, w.smelter, "asi_aluminium") == 5_000
    assert balance(db, w.mill, "asi_aluminium") == 0


def test_the_issuer_cancels_while_it_waits(
        db: Session, w: cw.Chain, signed_in: Callable[[Actor], TestClient]) -> None:
    cw.produce(db, w.smelter, "asi_aluminium", 5_000)
    number = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 3_000)
    smelter = signed_in(w.smelter.user)
    refused = post(smelter, f"/custody/documents/{number}/receive")
    assert refused.status_code == 403  # only the recipient receives
    done = post(smelter, f"/custody/documents/{number}/cancel", {"reason": "Order withdrawn"})
    assert done.status_code == 303
    assert "is cancelled" in text(smelter.get(done.headers["location"]))
    assert balance(db, w.smelter, "asi_aluminium") == 5_000


def test_a_non_party_finds_no_document(
        db: Session, w: cw.Chain, signed_in: Callable[[Actor], TestClient]) -> None:
    cw.produce(db, w.smelter, "asi_aluminium", 5_000)
    number = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 3_000)
    outsider = signed_in(w.canmaker.user)
    assert outsider.get(f"/custody/documents/{number}").status_code == 404
    assert outsider.get(f"/custody/documents/{number}/chain").status_code == 404
    assert post(outsider, f"/custody/documents/{number}/receive").status_code == 404
    assert number not in outsider.get("/custody/documents").text
    assert signed_in(w.secretariat).get(f"/custody/documents/{number}").status_code == 200


def test_the_document_list_filters_by_direction_and_status(
        db: Session, w: cw.Chain, signed_in: Callable[[Actor], TestClient]) -> None:
    cw.produce(db, w.smelter, "asi_aluminium", 5_000)
    out = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 1_000)
    cw.produce(db, w.mine, "asi_bauxite", 5_000)
    cw.transform(db, w.mine, "refining", "asi_bauxite", 5_000, "0.4")
    incoming = cw.ship(db, w.mine, w.smelter, "asi_alumina", 2_000)
    client = signed_in(w.smelter.user)
    both = client.get("/custody/documents")
    assert out in both.text and incoming in both.text
    only_in = client.get("/custody/documents?direction=incoming")
    assert incoming in only_in.text and out not in only_in.text
    received = client.get("/custody/documents?status=received")
    assert "No document matches these filters" in text(received)
    bad = client.get("/custody/documents?status=lost")
    assert bad.status_code == 422 and "These filters cannot be applied" in text(bad)


# --- the chain and the public verification ---------------------------------------------


def test_the_chain_page_lists_each_tier_and_what_it_leaves_out(
        db: Session, w: cw.Chain, signed_in: Callable[[Actor], TestClient],
        monkeypatch: pytest.MonkeyPatch) -> None:
    cw.produce(db, w.mine, "asi_bauxite", 4_000_000)
    cw.transform(db, w.mine, "refining", "asi_bauxite", 4_000_000, "0.5")
    alumina = [cw.ship(db, w.mine, w.smelter, "asi_alumina", 1_000_000) for _ in range(2)]
    for n in alumina:
        cw.receive(db, w.smelter, n)
    cw.transform(db, w.smelter, "smelting", "asi_alumina", 2_000_000, "0.52")
    metal = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 1_000_000)
    page = signed_in(w.mill.user).get(f"/custody/documents/{metal}/chain")
    assert page.status_code == 200
    body = text(page)
    assert "This document" in body and "Tier 1 upstream" in body
    assert all(n in body for n in alumina) and "Red Earth Bauxite" in body
    assert f'href="/verify/coc/{alumina[0]}"' in page.text
    monkeypatch.setattr(chain, "PER_TIER", 1)
    fewer = text(signed_in(w.mill.user).get(f"/custody/documents/{metal}/chain"))
    assert "and 1 more not listed" in fewer


def test_the_public_verification_page_needs_no_sign_in(
        db: Session, client: TestClient, w: cw.Chain) -> None:
    cw.produce(db, w.smelter, "asi_aluminium", 5_000)
    number = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 3_000)
    doc = documents.get_document(db, w.mill.user, number)
    page = client.get(f"/verify/coc/{number}")
    assert page.status_code == 200
    body = text(page)
    assert number in body and "Fjell Aluminium" in body and "Walz Rolling" in body
    assert "3.0 t" in body and 'title="3,000 kg"' in page.text and "ASI Aluminium" in body
    for kind in ("performance", "chain_of_custody"):
        assert f'href="/certificates/{w.smelter.certificates[kind]}"' in page.text
    assert page.text.count('class="badge badge-valid">Yes') == 2
    assert 'class="badge badge-failed"' not in page.text
    assert "held valid Performance and Chain of Custody certificates" in body
    assert doc.digest in body and "100.00 %" in body
    lower = client.get(f"/verify/coc?number={number.lower()}", follow_redirects=False)
    assert lower.status_code == 303 and lower.headers["location"] == f"/verify/coc/{number}"
    unknown = client.get("/verify/coc/COC-1999-NOTHING00")
    assert unknown.status_code == 404
    assert "No CoC document COC-1999-NOTHING00" in text(unknown)
    assert 'action="/verify/coc"' in unknown.text
    assert client.get("/verify/coc?number=no%20such!").status_code == 422
    assert "Type the number printed" in text(client.get("/verify/coc"))


# --- recording, the journal, periods and settings ---------------------------------------


def test_recording_a_transformation_shows_the_typical_yield_beside_the_declared_one(
        db: Session, w: cw.Chain, signed_in: Callable[[Actor], TestClient]) -> None:
    cw.produce(db, w.smelter, "asi_aluminium", 10_000)
    client = signed_in(w.smelter.user)
    form = client.get("/custody/record/transformation")
    body = text(form)
    assert "0.95 to 0.98 kg/kg (indicative)" in body and "about 0.52 kg/kg" in body
    assert w.smelter.facility in form.text
    values = {"entity_id": str(w.smelter.entity_id), "facility_id": w.smelter.facility,
              "transformation": "casting", "source_material": "asi_aluminium",
              "total_input_kg": "12,000", "coc_input_kg": "10000",
              "occurred_on": TODAY.isoformat()}
    refused = post(client, "/custody/record/transformation",
                   {**values, "total_output_kg": "14400"})
    assert refused.status_code == 422
    assert 'id="error-total_output_kg"' in refused.text
    assert "Typical for casting: 0.95 to 0.98 kg/kg (indicative)" in text(refused)
    assert count(db, CustodyOperation) == 1
    done = post(client, "/custody/record/transformation",
                {**values, "total_output_kg": "11640"})
    assert done.status_code == 303
    after = text(client.get(done.headers["location"]))
    assert "became 11,640 kg of ASI Aluminium at 0.97" in after
    assert "CoC input of 10,000 kg (83.33%) gives 9,700 kg of CoC ASI Aluminium" in after
    journal = text(client.get("/custody/journal?kind=transformation"))
    assert "0.97 kg/kg" in journal and "typical 0.95 to 0.98" in journal
    assert "83.33% CoC input" in journal


def test_recording_production_scrap_and_non_coc_input(
        db: Session, w: cw.Chain, signed_in: Callable[[Actor], TestClient]) -> None:
    smelter = signed_in(w.smelter.user)
    done = post(smelter, "/custody/record/production", {
        "facility_id": w.smelter.facility, "material": "asi_aluminium", "kilograms": "12,000",
        "occurred_on": TODAY.isoformat()})
    assert done.status_code == 303
    assert "Production of 12,000 kg of ASI Aluminium is recorded" in text(
        smelter.get(done.headers["location"]))
    missing = post(smelter, "/custody/record/production", {
        "facility_id": w.smelter.facility, "material": "asi_aluminium"})
    assert missing.status_code == 422 and "The kilograms is required" in text(missing)
    remelter = signed_in(w.remelter.user)
    assert post(remelter, "/custody/record/scrap-intake", {
        "facility_id": w.remelter.facility, "scrap_kind": "post_consumer",
        "kilograms": "800", "occurred_on": TODAY.isoformat(),
        "note": "DD file 7"}).status_code == 303
    assert post(remelter, "/custody/record/non-coc-input", {
        "material": "asi_aluminium", "kilograms": "200",
        "occurred_on": TODAY.isoformat()}).status_code == 303
    assert balance(db, w.remelter, "eligible_scrap") == 800
    journal = text(remelter.get("/custody/journal"))
    assert "Scrap intake" in journal and "DD file 7" in journal and "Non-CoC input" in journal


def test_closing_a_period_and_changing_settings(
        db: Session, w: cw.Chain, signed_in: Callable[[Actor], TestClient]) -> None:
    last_year = date(TODAY.year - 1, 6, 1)
    cw.produce(db, w.smelter, "asi_aluminium", 5_000, on=last_year)
    user = signed_in(w.smelter.user)
    periods = user.get("/custody/periods")
    assert "Close the period" in text(periods)
    done = post(user, "/custody/periods/close", {
        "entity_id": str(w.smelter.entity_id), "period_start": f"{TODAY.year - 1}-01-01"})
    assert done.status_code == 303
    assert "Carried into the next: ASI Aluminium 5,000 kg" in text(
        user.get(done.headers["location"]))
    assert balance(db, w.smelter, "asi_aluminium") == 5_000
    assert post(user, "/custody/settings", {"entity_id": str(w.smelter.entity_id),
                                            "carry_over_expiry": "2"}).status_code == 403
    admin = signed_in(w.smelter.admin)
    form = admin.get("/custody/settings")
    assert "Fixed now that the entity has accounts" in text(form)
    bad = post(admin, "/custody/settings", {"entity_id": str(w.smelter.entity_id),
                                            "period_months": "12", "carry_over_expiry": "40"})
    assert bad.status_code == 422 and 'id="error-carry_over_expiry"' in bad.text
    saved = post(admin, "/custody/settings", {
        "entity_id": str(w.smelter.entity_id), "period_months": "12",
        "carry_over_cap": "100000", "carry_over_expiry": "2"})
    assert saved.status_code == 303
    assert "a cap of 100,000 kg" in text(admin.get(saved.headers["location"]))


# --- reports ----------------------------------------------------------------------------


def test_the_annual_report_shows_materials_and_yields(
        db: Session, w: cw.Chain, signed_in: Callable[[Actor], TestClient]) -> None:
    cw.produce(db, w.mine, "asi_bauxite", 4_000_000)
    cw.transform(db, w.mine, "refining", "asi_bauxite", 4_000_000, "0.45")
    cw.ship(db, w.mine, w.smelter, "asi_alumina", 1_000_000)
    client = signed_in(w.mine.user)
    page = client.get(f"/custody/report?year={TODAY.year}")
    assert page.status_code == 200
    body = text(page)
    assert "Annual CoC report" in body and "Red Earth Bauxite" in body
    assert "ASI Bauxite" in body and "ASI Alumina" in body and "4,000.0 t" in body
    assert 'title="4,000,000 kg"' in page.text
    assert "Refining" in body and "0.4500 kg/kg" in body and "0.3 to 0.5 kg/kg" in body
    assert "Documents issued: 1" in body
    bad = client.get("/custody/report?year=1900")
    assert bad.status_code == 422 and "Year is 2000 to 2100" in text(bad)
    other = signed_in(w.mill.user).get(f"/custody/report?entity={w.mine.entity_id}")
    assert other.status_code == 404
    secretariat = signed_in(w.secretariat).get(
        f"/custody/report?entity={w.mine.entity_id}&year={TODAY.year}")
    assert secretariat.status_code == 200 and "0.4500 kg/kg" in text(secretariat)


def test_the_network_is_the_secretariats_with_its_sankey_and_the_audit(
        db: Session, w: cw.Chain, signed_in: Callable[[Actor], TestClient]) -> None:
    smelters = [w.smelter] + [cw.add_member(db, w, "Nord Smelt", "NO", ["smelting",
                                                                         "casthouse"])
                              for _ in range(2)]
    for s in smelters:
        cw.produce(db, s, "asi_aluminium", 10_000)
        cw.ship(db, s, w.mill, "asi_aluminium", 4_000)
    cw.produce(db, w.mine, "asi_bauxite", 10_000)
    cw.transform(db, w.mine, "refining", "asi_bauxite", 10_000, "0.4")
    cw.ship(db, w.mine, w.smelter, "asi_alumina", 1_000)  # one issuer: hidden
    assert signed_in(w.smelter.admin).get("/custody/network").status_code == 403
    staff = signed_in(w.secretariat)
    page = staff.get(f"/custody/network?year={TODAY.year}")
    assert page.status_code == 200
    assert "<svg" in page.text and "sankey" in page.text
    body = text(page)
    assert "Casting" in body and "Semi-fabrication" in body and "12.0 t" in body
    assert "1 link is not published: the three-entity competition rule" in body
    assert 'href="/custody/network"' in page.text  # the navigation
    ran = post(staff, "/custody/network/audit", {"year": str(TODAY.year)})
    assert ran.status_code == 200
    assert "All balances reconcile" in text(ran)
    assert post(signed_in(w.mill.admin), "/custody/network/audit").status_code == 403
