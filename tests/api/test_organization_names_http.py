"""Unique names and the review of a certified member's rename, over the API and the pages."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor
from tests import assurance_world as aw
from tests import factories
from tests.api.pages import post, text

R = "/api/v1/registry"


def test_a_clashing_name_answers_409_naming_field_and_holder(
        db: Session, client_for: Callable[[Actor], TestClient]) -> None:
    w = aw.build(db)
    admin = client_for(w.admin)
    other = factories.organization(db, name="Glacier Smelting")
    response = admin.patch(f"{R}/organizations/{w.org}", json={"name": "GLACIER smelting"})
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "conflict" and "Glacier Smelting" in error["message"]
    assert [d["field"] for d in error["details"]] == ["name", "organization"]
    assert error["details"][1]["message"] == other
    assert client_for(w.secretariat).post(f"{R}/organizations", json={
        "name": "glacier-smelting", "membership_class": "civil_society",
        "country": "NO"}).status_code == 409


def test_the_secretariat_reviews_a_certified_members_rename(
        db: Session, client_for: Callable[[Actor], TestClient],
        signed_in: Callable[[Actor], TestClient]) -> None:
    w = aw.build(db)
    number = aw.certify(db, w, aw.scope(db, w)).certificate.number  # type: ignore[union-attr]
    old = client_for(w.admin).get(f"{R}/organizations/{w.org}").json()["name"]
    member = signed_in(w.admin)
    asked = post(member, f"/organizations/{w.org}/name", {"new_name": "Fjord Metals Group"})
    assert asked.status_code == 303, asked.text
    page = text(member.get(f"/organizations/{w.org}"))
    assert "Rename waiting for review" in page and "Fjord Metals Group" in page
    staff = client_for(w.secretariat)
    [waiting] = staff.get(f"{R}/name-changes").json()
    assert (waiting["organization"], waiting["new_name"]) == (w.org, "Fjord Metals Group")
    assert client_for(w.admin).get(f"{R}/name-changes").status_code == 403

    reviewer = signed_in(w.secretariat)
    assert "Rename to “Fjord Metals Group”" in text(reviewer.get(f"/organizations/{w.org}"))
    refused = post(reviewer, f"/organizations/{w.org}/name-change", {"decision": "refuse"})
    assert refused.status_code == 422 and "why" in text(refused)
    done = post(reviewer, f"/organizations/{w.org}/name-change", {"decision": "approve"})
    assert done.status_code == 303, done.text
    assert staff.get(f"{R}/organizations/{w.org}").json()["name"] == "Fjord Metals Group"

    certificate = text(member.get(f"/certificates/{number}"))
    assert f"Issued to {old} (now Fjord Metals Group)" in certificate
    cert = staff.get(f"/api/v1/assurance/certificates/{number}").json()
    assert (cert["issued_to"], cert["organization"]["name"]) == (old, "Fjord Metals Group")
