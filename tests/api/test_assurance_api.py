"""Assurance over HTTP: the flow from scope to certificate with bearer tokens, the public
register, and bad input at the edge (the role x action matrix is in
``test_permissions_assurance.py``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session

from stewardship.assurance import repository as repo
from stewardship.core.auth import Actor
from stewardship.core.config import Settings
from stewardship.core.eventlog import count_entries
from tests import assurance_world as aw
from tests.api.pages import api_error, fields, ok
from tests.today import TODAY

A = "/api/v1/assurance"
EVIDENCE_LIMIT = 2_000
LAST_MONTH = TODAY - timedelta(days=30)  # the day evidence speaks for


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The suite's settings with a small evidence limit, so that 413 is cheap to reach."""
    return Settings(environment="test", password_profile="fast", var_dir=tmp_path,
                    secret_key="t" * 40, page_size_max=50, evidence_max_bytes=EVIDENCE_LIMIT)


def _rows(response: Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    return list(csv.reader(io.StringIO(response.text)))


def test_the_flow_through_http(db: Session, client: TestClient,
                               client_for: Callable[[Actor], TestClient]) -> None:
    w = aw.build(db)
    admin, user = client_for(w.admin), client_for(w.member_user)
    auditor, staff = client_for(w.auditor), client_for(w.secretariat)
    stranger = client_for(w.other_auditor)

    scope = ok(admin.post(f"{A}/scopes", json={
        "entity_id": str(w.entity_id), "facilities": [w.casthouse],
        "activities": ["casthouse"], "standard": "performance", "version": 3}), 201)
    numbers = [c["number"] for c in scope["criteria"] if c["applicable"]]
    assert scope["applicable_count"] == len(numbers) and "5.2" not in numbers
    sa = scope["self_assessment_id"]

    stored = ok(user.post(f"{A}/evidence", data={"effective_on": LAST_MONTH.isoformat()},
                          files={"file": ("energy.csv", aw.CSV, "text/csv")}), 201)
    assert (stored["content_type"], stored["effective_on"]) == ("text/csv", LAST_MONTH.isoformat())
    assert stored["organization"] == w.org and not stored["already_stored"]
    download = admin.get(f"{A}/evidence/{stored['id']}/content")
    assert download.status_code == 200 and download.content == aw.CSV
    assert download.headers["content-type"].startswith("text/csv")
    answer = ok(user.put(f"{A}/self-assessments/{sa}/answers/1.1", json={
        "rating": "conformance", "narrative": "Legal register kept",
        "evidence_ids": [stored["id"]]}))
    assert answer["evidence"][0]["filename"] == "energy.csv"
    progress = ok(admin.get(f"{A}/self-assessments/{sa}"))["progress"]
    assert (progress["answered"], progress["applicable"]) == (1, len(numbers))
    rows = _rows(admin.get(f"{A}/self-assessments/{sa}/export"))
    assert rows[0][:4] == ["criterion", "principle", "title", "self_rating"]
    assert rows[1][0] == "1.1" and rows[1][3] == "conformance" and len(rows) == len(numbers) + 1

    start = TODAY - timedelta(days=10)
    audit = ok(admin.post(f"{A}/audits", json={
        "scope_id": scope["id"], "audit_firm": w.firm,
        "lead_auditor_id": str(w.lead_auditor_id), "audit_type": "certification",
        "start_on": str(start), "end_on": str(start + timedelta(days=2))}), 201)
    url = f"{A}/audits/{audit['id']}"
    assert not audit["notice_required"] and audit["plan_due_by"] is None
    ok(admin.post(f"{url}/plan", json={"plan": "Two days at the casthouse."}))
    assert ok(auditor.post(f"{url}/start"))["status"] == "in_progress"
    api_error(stranger.get(url), 404, "not_found")
    assert ok(stranger.get(f"{A}/audits"))["total"] == 0

    ratings = [{"facility": w.casthouse, "criterion": n, "rating": "conformance"}
               for n in numbers]
    ratings[3] = {**ratings[3], "rating": "minor", "reason": "Drill records incomplete",
                  "notes": "spoke to the shift lead"}
    rated = ok(auditor.post(f"{url}/ratings", json={"ratings": ratings}))
    assert rated["progress"] == {"rated": len(numbers), "required": len(numbers)}
    assert rated["missing"] == [] and rated["scope_ratings"][numbers[3]] == "minor"
    member_view = ok(admin.get(f"{url}/ratings"))
    assert {r["notes"] for r in member_view["ratings"]} == {""}
    finding = ok(admin.get(f"{url}/findings"))[0]
    assert (finding["criterion"], finding["severity"], finding["status"]) == (
        numbers[3], "minor", "open")
    ok(admin.post(f"{A}/findings/{finding['id']}/corrective-plan",
                  json={"plan": "New drill schedule and records"}))
    ok(auditor.post(f"{url}/report", json={
       "proposed_maturity": "high", "public_summary": "The casthouse was audited in full."}))
    api_error(staff.post(f"{url}/decision", json={}), 409, "conflict")
    ok(staff.post(f"{url}/review", json={"note": "complete"}))
    decision = ok(staff.post(f"{url}/decision", json={"note": "certified"}))
    assert (decision["outcome"], decision["maturity"], decision["minors"]) == (
        "certified", "medium", 1)
    number = decision["certificate"]["number"]
    assert number == f"STW-PS-{TODAY.year}-0001"

    # the public register, without an account
    cert = ok(client.get(f"{A}/certificates/{number}"))
    assert cert["status"] == "active" and cert["countries"] == ["DE"]
    assert [f["id"] for f in cert["facilities"]] == [w.casthouse]
    assert cert["verify_path"] == f"/certificates/{number}"
    document = ok(client.get(f"{A}/certificates/{number}/document"))
    assert document["format"] == "stewardship-certificate/1" and len(document["digest"]) == 64
    listed = ok(client.get(f"{A}/certificates", params={
        "activity": "casthouse", "country": "DE", "status": "active", "kind": "performance"}))
    assert [c["number"] for c in listed["items"]] == [number]
    assert ok(client.get(f"{A}/certificates", params={"country": "NO"}))["total"] == 0
    exported = _rows(client.get(f"{A}/certificates/export", params={"status": "active"}))
    assert [r[0] for r in exported[1:]] == [number]
    summary = ok(client.get(f"{url}/summary"))
    assert summary["outcome"] == "certified" and summary["minors"] == 1
    assert "shift lead" not in str(summary) and "Drill records" not in str(summary)
    found = ok(client.get(f"{A}/findings", params={"rating": "minor"}))
    assert found["counts"] == {"major": 0, "minor": 1}
    assert [f["criterion"] for f in found["items"]] == [numbers[3]]
    assert _rows(client.get(f"{A}/findings/export"))[1][5] == numbers[3]
    stats = ok(client.get(f"{A}/register/stats"))
    assert stats["certificates_by_country"] == [{"key": "DE", "label": "Germany", "count": 1}]
    org = ok(client.get(f"/api/v1/registry/organizations/{w.org}"))
    assert org["standing"] == "certified"

    due = ok(admin.get(f"{A}/due-dates"))
    assert {d["kind"] for d in due} == {"surveillance_audit", "recertification",
                                        "finding_closure"}
    suspended = ok(staff.post(f"{A}/certificates/{number}/suspend",
                              json={"reason": "Complaint upheld", "complaint": "C-2026-3"}))
    assert [h["to_status"] for h in suspended["history"]] == ["active", "suspended"]
    assert ok(client.get(f"/api/v1/registry/organizations/{w.org}"))["standing"] == "overdue"
    assert w.org in [m["organization"]["slug"]
                     for m in ok(staff.get(f"{A}/overdue-members"))]


def test_unknown_fields_and_bad_values_are_named(
        db: Session, client_for: Callable[[Actor], TestClient]) -> None:
    w = aw.build(db)
    admin = client_for(w.admin)
    scope_body = {"entity_id": str(w.entity_id), "facilities": [w.casthouse],
                  "activities": ["casthouse"], "standard": "performance", "version": 3}
    events = count_entries(db)
    error = api_error(admin.post(f"{A}/scopes", json={**scope_body, "colour": "red"}), 422,
                      "validation_error")
    assert {d["field"]: d["message"] for d in error["details"]} == {"colour": "unknown field"}
    error = api_error(admin.post(f"{A}/scopes", json={**scope_body, "activities": ["knitting"]}),
                      422, "validation_error")
    assert fields(error).keys() == {"activities.0"}
    error = api_error(admin.post(f"{A}/scopes", json={**scope_body, "version": 2}), 422,
                      "invalid")
    assert fields(error).keys() == {"version"}
    scope = ok(admin.post(f"{A}/scopes", json=scope_body), 201)

    audit_body = {"scope_id": scope["id"], "audit_firm": w.firm,
                  "lead_auditor_id": str(w.lead_auditor_id), "audit_type": "certification",
                  "start_on": "2026-12-10", "end_on": "2026-12-08"}
    error = api_error(admin.post(f"{A}/audits", json=audit_body), 422, "validation_error")
    assert fields(error).keys() == {"end_on"} and "before it starts" in error["message"]
    error = api_error(admin.post(f"{A}/audits", json={**audit_body, "start_on": "2026-02-30"}),
                      422, "validation_error")
    assert "start_on" in fields(error)
    error = api_error(admin.post(f"{A}/audits", json={**audit_body, "end_on": "2026-12-12",
                                                      "audit_type": "spot_check"}),
                      422, "validation_error")
    assert fields(error).keys() == {"audit_type"}
    api_error(admin.get(f"{A}/audits/not-an-id"), 422, "validation_error")
    error = api_error(admin.post(f"{A}/claims", json={
        "certificate": "STW-PS-2026-0001", "kind": "on_product",
        "wording": "Made with certified aluminium", "percentage": "150"}),
        422, "validation_error")
    assert fields(error).keys() == {"percentage"}
    error = api_error(admin.put(f"{A}/self-assessments/{scope['self_assessment_id']}/answers/8.7",
                                json={"rating": "conformance"}), 422, "invalid")
    assert fields(error).keys() == {"criterion"} and "8.7" in error["message"]
    api_error(client_for(w.secretariat).get(f"{A}/certificates", params={"per_page": 500}),
              422, "invalid")
    assert count_entries(db) == events + 2  # the scope and its self-assessment


def test_evidence_upload_is_checked_at_the_edge(
        db: Session, client_for: Callable[[Actor], TestClient]) -> None:
    w = aw.build(db, standard=False)
    admin = client_for(w.admin)
    before = (repo.count_evidence(db), count_entries(db))

    def upload(name: str, data: bytes, declared: str, **form: str) -> Response:
        return admin.post(f"{A}/evidence", data={"effective_on": LAST_MONTH.isoformat(), **form},
                          files={"file": (name, data, declared)})

    error = api_error(upload("huge.pdf", aw.PDF + bytes(EVIDENCE_LIMIT), "application/pdf"),
                      413, "payload_too_large")
    assert "huge.pdf" in error["message"] and fields(error).keys() == {"file"}
    error = api_error(upload("permit.pdf", aw.PNG, "application/pdf"), 422, "invalid")
    assert "permit.pdf" in error["message"] and "PNG" in error["message"]
    error = api_error(upload("run.exe", b"MZ\x90\x00\x03\x00binary", "application/pdf"), 422,
                      "invalid")
    assert "run.exe" in error["message"]
    error = api_error(upload("ok.pdf", aw.PDF, "application/pdf", colour="red"), 422, "invalid")
    assert fields(error).keys() == {"colour"}
    error = api_error(admin.post(f"{A}/evidence", files={"file": ("a.pdf", aw.PDF,
                                                                  "application/pdf")}),
                      422, "validation_error")
    assert fields(error).keys() == {"effective_on"}
    error = api_error(upload("ok.pdf", aw.PDF, "application/pdf", effective_on="yesterday"), 422,
                      "validation_error")
    assert fields(error).keys() == {"effective_on"}
    db.expire_all()
    assert (repo.count_evidence(db), count_entries(db)) == before
    first = ok(upload("permit.pdf", aw.PDF, "application/pdf"), 201)
    again = ok(upload("permit-copy.pdf", aw.PDF, "application/pdf"), 201)
    assert again["id"] == first["id"] and again["already_stored"]
    assert ok(admin.get(f"{A}/evidence"))["total"] == 1
    api_error(client_for(w.other_admin).get(f"{A}/evidence/{first['id']}"), 404, "not_found")
