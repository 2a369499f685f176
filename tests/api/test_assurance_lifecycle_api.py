"""The certificate lifecycle over HTTP: a refusal withdraws only the audited scope's
certificates, a new certificate supersedes the scope's old one, a surveillance audit with
majors makes the live certificate provisional, audit work keeps to the audit's dates, a
refused CoC document says what became of the certificate, and the secretariat reschedules
audits, records plans received, previews decisions and imports old certificates."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stewardship.assurance.rules import AuditType, Maturity
from stewardship.assurance.schemas import ReportSubmit, StatusChange
from stewardship.assurance.service import audits, certificates, common, imports
from stewardship.core.auth import Actor
from stewardship.core.eventlog import count_entries
from stewardship.registry.rules import add_years
from tests import assurance_world as aw
from tests import custody_world as cw
from tests.api.pages import api_error, fields, ok, post, text
from tests.today import TODAY

A = "/api/v1/assurance"
Clients = Callable[[Actor], TestClient]


@pytest.fixture
def w(db: Session) -> aw.World:
    return aw.build(db)


def _reviewed(db: Session, w: aw.World, s: Any, *, majors: int = 0,
              audit_type: AuditType = AuditType.CERTIFICATION) -> uuid.UUID:
    """An audit of the scope, rated and reviewed, waiting for the decision."""
    audit_id = aw.plan(db, w, s.id, audit_type=audit_type)
    aw.start(db, w, audit_id)
    aw.rate_all(db, w, audit_id, s, majors=majors)
    aw.submit_and_review(db, w, audit_id)
    return audit_id


def _number(decision: Any) -> str:
    assert decision.certificate is not None
    return str(decision.certificate.number)


# --- withdrawal and supersession --------------------------------------------------------


def test_a_refusal_withdraws_only_the_audited_scopes_certificates(
        db: Session, w: aw.World, client_for: Clients) -> None:
    both = aw.scope(db, w)
    casthouse = aw.scope(db, w, facilities=[w.casthouse], activities=["casthouse"])
    audited = _number(aw.certify(db, w, both))
    other = _number(aw.certify(db, w, casthouse))
    audit_id = _reviewed(db, w, both, majors=4, audit_type=AuditType.RECERTIFICATION)
    staff = client_for(w.secretariat)
    decision = ok(staff.post(f"{A}/audits/{audit_id}/decision", json={}))
    assert decision["outcome"] == "refused"
    assert decision["withdrawn"] == [audited]
    assert decision["effect"] == f"Withdrew certificate {audited}."
    assert ok(staff.get(f"{A}/certificates/{audited}"))["status"] == "withdrawn"
    assert ok(staff.get(f"{A}/certificates/{other}"))["status"] == "active"


def test_a_recertification_supersedes_the_old_certificate(
        db: Session, w: aw.World, client_for: Clients, client: TestClient) -> None:
    s = aw.scope(db, w)
    old = _number(aw.certify(db, w, s))
    audit_id = _reviewed(db, w, s, audit_type=AuditType.RECERTIFICATION)
    decision = ok(client_for(w.secretariat).post(f"{A}/audits/{audit_id}/decision",
                                                 json={}))
    new = decision["certificate"]["number"]
    assert new != old and decision["superseded"] == [old]
    assert f"superseded certificate {old}" in decision["effect"]
    read = ok(client.get(f"{A}/certificates/{old}"))
    assert read["status"] == "superseded"
    assert read["history"][-1]["to_status"] == "superseded"
    assert f"superseded by {new}" in read["history"][-1]["reason"]
    assert f"supersedes {old}" in ok(client.get(f"{A}/certificates/{new}"))[
        "history"][0]["reason"]
    active = ok(client.get(f"{A}/certificates", params={"status": "active"}))
    assert [c["number"] for c in active["items"]] == [new]
    superseded = ok(client.get(f"{A}/certificates", params={"status": "superseded"}))
    assert [c["number"] for c in superseded["items"]] == [old]
    page = client.get(f"/certificates/{old}")
    assert page.status_code == 200 and "This certificate is superseded" in page.text


def test_a_full_certificate_after_a_provisional_one_supersedes_it(
        db: Session, w: aw.World, client_for: Clients) -> None:
    s = aw.scope(db, w)
    provisional = aw.certify(db, w, s, majors=1)
    assert provisional.certificate is not None
    assert provisional.certificate.certificate_type == "provisional"
    audit_id = _reviewed(db, w, s, audit_type=AuditType.CERTIFICATION)
    staff = client_for(w.secretariat)
    decision = ok(staff.post(f"{A}/audits/{audit_id}/decision", json={}))
    assert decision["certificate"]["certificate_type"] == "full"
    assert decision["superseded"] == [provisional.certificate.number]
    assert ok(staff.get(f"{A}/certificates/{provisional.certificate.number}"))[
        "status"] == "superseded"


def test_a_surveillance_audit_with_majors_makes_the_certificate_provisional(
        db: Session, w: aw.World, client_for: Clients) -> None:
    s = aw.scope(db, w)
    full = _number(aw.certify(db, w, s))
    audit_id = _reviewed(db, w, s, majors=2, audit_type=AuditType.SURVEILLANCE)
    staff = client_for(w.secretariat)
    decision = ok(staff.post(f"{A}/audits/{audit_id}/decision", json={}))
    until = add_years(TODAY, 1) - timedelta(days=1)
    assert decision["outcome"] == "provisional"
    provisional = decision["certificate"]
    assert provisional["certificate_type"] == "provisional" and provisional["number"] != full
    assert provisional["valid_from"] == str(TODAY) and provisional["valid_until"] == str(until)
    assert decision["valid_until"] == str(until)
    assert decision["superseded"] == [full]
    assert decision["effect"] == (f"Issued a provisional certificate {provisional['number']}, "
                                  f"valid until {until}; it superseded certificate {full}.")
    old = ok(staff.get(f"{A}/certificates/{full}"))
    assert old["status"] == "superseded" and "provisional after audit" in \
        old["history"][-1]["reason"]


def test_a_surveillance_audit_without_majors_says_it_keeps_the_certificate(
        db: Session, w: aw.World, client_for: Clients) -> None:
    s = aw.scope(db, w)
    full = _number(aw.certify(db, w, s))
    audit_id = _reviewed(db, w, s, audit_type=AuditType.SURVEILLANCE)
    decision = ok(client_for(w.secretariat).post(f"{A}/audits/{audit_id}/decision",
                                                 json={}))
    assert decision["certificate"]["number"] == full and decision["kept"] == [full]
    assert decision["superseded"] == [] and decision["withdrawn"] == []
    assert "stays in force as it was" in decision["effect"]


# --- the audit's dates ------------------------------------------------------------------


def test_audit_work_opens_on_the_start_date_and_the_report_waits_for_the_last_day(
        db: Session, w: aw.World, client_for: Clients) -> None:
    casthouse = aw.scope(db, w, facilities=[w.casthouse], activities=["casthouse"])
    auditor = client_for(w.auditor)
    ahead = aw.plan(db, w, casthouse.id, start_on=TODAY + timedelta(days=21))
    error = api_error(auditor.post(f"{A}/audits/{ahead}/start"), 409, "conflict")
    assert fields(error).keys() == {"start_on"}
    assert str(TODAY + timedelta(days=21)) in error["message"]
    assert ok(auditor.get(f"{A}/audits/{ahead}"))["status"] == "planned"
    client_for(w.admin).post(f"{A}/audits/{ahead}/cancel", json={"reason": "moved"})

    running = aw.plan(db, w, casthouse.id, start_on=TODAY - timedelta(days=1), days=3)
    assert ok(auditor.post(f"{A}/audits/{running}/start"))["status"] == "in_progress"
    items = [r.model_dump(mode="json") for r in aw.ratings_for(casthouse)]
    assert ok(auditor.post(f"{A}/audits/{running}/ratings", json={"ratings": items}))[
        "progress"]["rated"] == len(items)
    before = count_entries(db)
    error = api_error(auditor.post(f"{A}/audits/{running}/report", json={
        "proposed_maturity": "high", "public_summary": "Casthouse audited; all conforms."}),
        409, "conflict")
    assert fields(error).keys() == {"end_on"}
    assert str(TODAY + timedelta(days=2)) in error["message"]
    assert ok(auditor.get(f"{A}/audits/{running}"))["status"] == "in_progress"
    assert count_entries(db) == before


# --- the refusal of a CoC document ------------------------------------------------------


def test_a_refused_coc_document_says_the_certificate_was_valid_and_is_suspended(
        db: Session, client_for: Clients) -> None:
    chain = cw.build(db)
    shipped_on = TODAY - timedelta(days=5)
    cw.produce(db, chain.smelter, "asi_aluminium", 5_000, on=shipped_on)
    coc = chain.smelter.certificates["chain_of_custody"]
    certificates.suspend(db, chain.secretariat, coc, StatusChange(reason="Complaint upheld"))
    error = api_error(client_for(chain.smelter.user).post("/api/v1/custody/documents", json={
        "recipient_entity_id": str(chain.mill.entity_id), "material": "asi_aluminium",
        "quantity_kg": 1_000, "coc_quantity_kg": 1_000, "shipment_date": str(shipped_on)}),
        409, "conflict")
    assert "held no valid" not in error["message"]
    assert (f"its Chain of Custody certificate {coc} was valid on {shipped_on} but has been "
            f"suspended since {TODAY}") in error["message"]
    assert fields(error).keys() == {"shipment_date"}


# --- the secretariat --------------------------------------------------------------------


def test_the_secretariat_reschedules_a_planned_audit(
        db: Session, w: aw.World, client_for: Clients) -> None:
    s = aw.scope(db, w)
    audit_id = aw.plan(db, w, s.id, start_on=TODAY + timedelta(days=30))
    staff = client_for(w.secretariat)
    start, end = TODAY + timedelta(days=60), TODAY + timedelta(days=63)
    body = {"start_on": str(start), "end_on": str(end), "reason": "Site flooded"}
    api_error(client_for(w.admin).post(f"{A}/audits/{audit_id}/reschedule", json=body), 403,
              "forbidden")
    past = api_error(staff.post(f"{A}/audits/{audit_id}/reschedule", json={
        **body, "start_on": str(TODAY - timedelta(days=1))}), 422, "invalid")
    assert fields(past).keys() == {"start_on"}
    backwards = api_error(staff.post(f"{A}/audits/{audit_id}/reschedule", json={
        **body, "end_on": str(start - timedelta(days=1))}), 422, "validation_error")
    assert fields(backwards).keys() == {"end_on"}
    moved = ok(staff.post(f"{A}/audits/{audit_id}/reschedule", json=body))
    assert (moved["start_on"], moved["end_on"]) == (str(start), str(end))
    assert moved["plan_due_by"] == str(start - timedelta(days=42))


def test_the_secretariat_records_a_plan_received_with_a_note(
        db: Session, w: aw.World, client_for: Clients) -> None:
    s = aw.scope(db, w)  # a smelter: the plan must arrive six weeks ahead
    audit_id = aw.plan(db, w, s.id, start_on=TODAY - timedelta(days=1))
    staff = client_for(w.secretariat)
    received = TODAY - timedelta(days=50)
    body = {"received_on": str(received), "note": "By e-mail from the lead auditor"}
    future = api_error(staff.post(f"{A}/audits/{audit_id}/plan-received", json={
        **body, "received_on": str(TODAY + timedelta(days=1))}), 422, "invalid")
    assert fields(future).keys() == {"received_on"}
    api_error(client_for(w.admin).post(f"{A}/audits/{audit_id}/plan-received", json=body), 403,
              "forbidden")
    recorded = ok(staff.post(f"{A}/audits/{audit_id}/plan-received", json=body))
    assert recorded["plan_submitted_on"] == str(received)
    assert recorded["plan_note"] == "By e-mail from the lead auditor"
    assert ok(client_for(w.auditor).post(f"{A}/audits/{audit_id}/start"))[
        "status"] == "in_progress"


def test_the_secretariat_previews_a_decision_before_taking_it(
        db: Session, w: aw.World, client_for: Clients) -> None:
    s = aw.scope(db, w)
    old = _number(aw.certify(db, w, s))
    audit_id = aw.plan(db, w, s.id, audit_type=AuditType.RECERTIFICATION)
    aw.start(db, w, audit_id)
    aw.rate_all(db, w, audit_id, s, minors=1)
    audits.submit_report(db, w.auditor, audit_id, ReportSubmit(
        proposed_maturity=Maturity.HIGH, public_summary="Both sites; one minor finding."))
    staff = client_for(w.secretariat)
    api_error(client_for(w.admin).get(f"{A}/audits/{audit_id}/decision/preview"), 403,
              "forbidden")
    before = count_entries(db)
    preview = ok(staff.get(f"{A}/audits/{audit_id}/decision/preview"))
    assert (preview["outcome"], preview["minors"], preview["issues"]) == (
        "certified", 1, "full")
    assert preview["maturity"] == "medium"
    assert [c["number"] for c in preview["supersedes"]] == [old]
    assert preview["withdraws"] == [] and preview["keeps"] == []
    assert preview["effect"].startswith("Issues a full certificate, valid until ")
    assert preview["may_decide"] is False and preview["blockers"] == [
        "the report is not reviewed yet"]
    assert count_entries(db) == before
    assert ok(staff.get(f"{A}/certificates/{old}"))["status"] == "active"
    assert ok(staff.get(f"{A}/audits/{audit_id}"))["status"] == "submitted"
    page = client_for(w.secretariat).get(f"/assurance/audits/{audit_id}")
    assert "What deciding today would do" in page.text and old in page.text


def _row(w: aw.World, **change: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "number": "ps-2024-017", "organization": w.org, "entity": "Fjord Aluminium AS",
        "standard": "performance", "version": 3, "certificate_type": "full",
        "maturity": "medium", "valid_from": str(TODAY - timedelta(days=400)),
        "valid_until": str(TODAY + timedelta(days=600)),
        "audit_reference": "OLD-AUD-2024-017", "activities": ["smelting", "casthouse"],
        "countries": ["NO", "de"]}
    row.update(change)
    return row


def test_the_secretariat_imports_certificates_issued_before_the_platform(
        db: Session, w: aw.World, client_for: Clients, client: TestClient) -> None:
    entity = common.Labels(db, entities=[w.entity_id]).entity(w.entity_id).name
    good = _row(w, entity=entity)
    staff = client_for(w.secretariat)
    api_error(client_for(w.admin).post(f"{A}/certificates/import",
                                       json={"certificates": [good]}), 403, "forbidden")
    before = count_entries(db)
    refused = api_error(staff.post(f"{A}/certificates/import", json={"certificates": [
        good,
        _row(w, number="PS-2024-018", entity="No Such Entity"),
        _row(w, number="PS-2024-017", entity=entity, valid_until=str(
            TODAY + timedelta(days=2000))),
    ]}), 422, "invalid")
    assert refused["message"] == "2 of 3 row(s) have problems; nothing was imported"
    problems = {(d["row"], d["message"].split(":")[0]) for d in refused["details"]}
    assert problems == {(2, "entity"), (3, "number"), (3, "valid_until")}
    assert api_error(client.get(f"{A}/certificates/PS-2024-017"), 404, "not_found")
    assert count_entries(db) == before

    report = ok(staff.post(f"{A}/certificates/import", json={"certificates": [
        good, _row(w, number="PS-2023-004", entity=str(w.entity_id), status="suspended",
                  certificate_type="provisional", valid_from=str(TODAY - timedelta(days=30)),
                  valid_until=str(TODAY + timedelta(days=300)))]}), 201)
    assert report["imported"] == 2
    read = ok(client.get(f"{A}/certificates/PS-2024-017"))
    assert (read["imported"], read["audit_reference"], read["audit_id"]) == (
        True, "OLD-AUD-2024-017", None)
    assert (read["status"], read["countries"]) == ("active", ["DE", "NO"])
    assert "imported" in read["history"][0]["reason"]
    suspended = ok(client.get(f"{A}/certificates/PS-2023-004"))
    assert [h["to_status"] for h in suspended["history"]] == ["active", "suspended"]
    listed = ok(client.get(f"{A}/certificates", params={"organization": w.org}))
    assert {(c["number"], c["imported"]) for c in listed["items"]} == {
        ("PS-2024-017", True), ("PS-2023-004", True)}
    page = client.get("/certificates/PS-2024-017")
    assert page.status_code == 200 and "Imported certificate" in page.text
    assert "OLD-AUD-2024-017" in page.text and "Public audit summary" not in page.text
    assert client.get("/certificates/PS-2024-017.pdf").headers["content-type"] == \
        "application/pdf"
    register = client.get("/certificates")
    assert "(imported)" in register.text
    again = api_error(staff.post(f"{A}/certificates/import", json={"certificates": [good]}),
                      422, "invalid")
    assert "already registered" in again["details"][0]["message"]


def test_the_csv_import_page_reports_every_row_and_imports_all_or_nothing(
        db: Session, w: aw.World, signed_in: Callable[[Actor], TestClient]) -> None:
    entity = common.Labels(db, entities=[w.entity_id]).entity(w.entity_id).name
    header = ",".join(imports.CSV_COLUMNS)
    dates = f"{TODAY - timedelta(days=90)},{TODAY + timedelta(days=900)}"
    good = (f"PS-LEGACY-1,{w.org},{entity},performance,3,full,medium,{dates},,AUD-77,,"
            "smelting casthouse,NO DE,")
    bad = f"PS-LEGACY-2,{w.org},{entity},performance,3,full,medium,{dates},,,,smelting,XX,"
    staff = signed_in(w.secretariat)
    page = staff.get("/secretariat/certificates/import")
    assert page.status_code == 200 and "Upload a CSV file" in page.text
    template = staff.get("/secretariat/certificates/import/template.csv")
    assert template.text.splitlines()[0] == header
    assert signed_in(w.admin).get("/secretariat/certificates/import").status_code == 403
    refused = post(staff, "/secretariat/certificates/import", files={
        "file": ("old.csv", f"{header}\n{good}\n{bad}\n".encode(), "text/csv")})
    assert refused.status_code == 422
    words = text(refused)
    assert "1 of 2 row(s) have problems; nothing was imported" in words
    assert "PS-LEGACY-1 Ready" in words
    assert "audit_reference: Field required" in words
    assert staff.get(f"{A}/certificates/PS-LEGACY-1").status_code == 404
    done = post(staff, "/secretariat/certificates/import", files={
        "file": ("old.csv", f"{header}\n{good}\n".encode(), "text/csv")})
    assert done.status_code == 303 and done.headers["location"] == "/certificates"
    imported = ok(staff.get(f"{A}/certificates/PS-LEGACY-1"))
    assert imported["imported"] and imported["audit_reference"] == "AUD-77"
    assert imported["activities"] == ["casthouse", "smelting"]
