"""The complaints API over HTTP: who may do what, and how bad input is refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stewardship.complaints import repository as repo
from stewardship.core import eventlog
from stewardship.core.auth import Actor, Role
from stewardship.core.config import Settings
from tests import factories
from tests.complaint_samples import EXE, PDF, png_bytes

ClientFor = Callable[[Actor], TestClient]
URL = "/api/v1/complaints"


@pytest.fixture(autouse=True)
def _generous_flood_limit(settings: Settings) -> None:
    # Every request of a test comes from the same test client address.
    settings.complaints_per_hour = 100


class World(dict[str, Any]):
    """The member complained about, another member, an audit firm; the users of each role
    are made on first use (each costs a password hash)."""

    def __init__(self, db: Session) -> None:
        member = factories.organization(db, name="Riverbend Bauxite")
        super().__init__(member=member, other=factories.organization(db, name="Faraway Rolling"),
                         firm=factories.audit_firm(db))
        self.db = db

    def __missing__(self, key: str) -> Actor:
        role, home = {
            "secretariat": (Role.SECRETARIAT, {}),
            "admin": (Role.MEMBER_ADMIN, {"organization": self["member"]}),
            "user": (Role.MEMBER_USER, {"organization": self["member"]}),
            "other_admin": (Role.MEMBER_ADMIN, {"organization": self["other"]}),
            "auditor": (Role.AUDITOR, {"audit_firm": self["firm"]}),
        }[key]
        actor = factories.user(self.db, role, **home)
        self.db.flush()
        self[key] = actor
        return actor


@pytest.fixture
def world(db: Session) -> World:
    made = World(db)
    db.flush()
    return made


def form(subject: str, **extra: str) -> dict[str, str]:
    values = {"subject_kind": "member", "subject": subject,
              "summary": "Dust from the haul road covers our fields",
              "description": "Since March the trucks run at night without covering loads.",
              "complainant_name": "Mariam Konaté",
              "complainant_email": "mariam@villages.example"}
    values.update(extra)
    return values


def file(client: TestClient, subject: str, files: list[Any] | None = None,
         **extra: str) -> Any:
    return client.post(URL, data=form(subject, **extra), files=files or [])


def filed(client: TestClient, subject: str, **extra: str) -> tuple[str, str]:
    response = file(client, subject, **extra)
    assert response.status_code == 201, response.text
    body = response.json()
    return body["reference"], body["tracking_token"]


def error_fields(response: Any) -> list[str]:
    return [d["field"] for d in response.json()["error"]["details"]]


# --- filing and tracking ----------------------------------------------------------------


def test_anyone_files_with_files_and_tracks_the_case(client: TestClient,
                                                     world: World) -> None:
    response = file(client, world["member"], anonymous="true", complainant_name="",
                    complainant_email="", files=[
                        ("attachments", ("photo.pdf", png_bytes(), "application/pdf")),
                        ("attachments", ("letter.pdf", PDF, "application/pdf"))])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["reference"].startswith("C-") and body["status"] == "received"
    assert body["tracking_url"].endswith(f"/complaints/track/{body['tracking_token']}")
    assert [(a["filename"], a["content_type"]) for a in body["attachments"]] == [
        ("photo.png", "image/png"), ("letter.pdf", "application/pdf")]
    tracked = client.get(f"{URL}/track/{body['tracking_token']}")
    assert tracked.status_code == 200
    assert tracked.json()["reference"] == body["reference"]
    assert tracked.json()["anonymous"] is True
    assert "complainant_name" not in tracked.json()
    assert client.get(f"{URL}/track/not-the-token").status_code == 404


def test_a_signed_in_member_may_file_too(client_for: ClientFor,
                                         world: World) -> None:
    response = file(client_for(world["other_admin"]), world["member"])
    assert response.status_code == 201


@pytest.mark.parametrize(("extra", "field"), [
    ({"bogus": "x"}, "bogus"),
    ({"subject_kind": "government"}, "subject_kind"),
    ({"summary": "x"}, "summary"),
    ({"complainant_email": "not-an-address"}, "complainant_email"),
])
def test_malformed_filings_are_422_naming_the_field(client: TestClient, world: World,
                                                    extra: dict[str, str], field: str) -> None:
    response = file(client, world["member"], **extra)
    assert response.status_code == 422
    assert field in error_fields(response)
    if field == "bogus":
        assert response.json()["error"]["details"][0]["message"] == "unknown field"


def test_a_json_body_is_not_a_filing(client: TestClient, world: World) -> None:
    response = client.post(URL, json=form(world["member"]))
    assert response.status_code == 422
    assert "subject_kind" in error_fields(response)


@pytest.mark.parametrize(("subject_kind", "subject"), [
    ("member", "no-such-member"), ("audit_firm", "no-such-firm"),
])
def test_an_unknown_subject_is_refused(client: TestClient, db: Session, world: World,
                                       subject_kind: str, subject: str) -> None:
    response = file(client, subject, subject_kind=subject_kind)
    assert response.status_code == 422
    assert error_fields(response) == ["subject"]
    assert subject in response.json()["error"]["message"]
    assert repo.count_rows(db)["complaints"] == 0


def test_missing_name_and_email_are_both_named(client: TestClient,
                                               world: World) -> None:
    response = file(client, world["member"], complainant_name="", complainant_email="")
    assert response.status_code == 422
    assert error_fields(response) == ["complainant_name", "complainant_email"]


def test_oversize_attachment_is_413_naming_the_file(client: TestClient, db: Session,
                                                    settings: Settings,
                                                    world: World) -> None:
    settings.complaint_attachment_max_bytes = 2_000
    events = eventlog.count_entries(db)
    response = file(client, world["member"], files=[
        ("attachments", ("scan.pdf", PDF + b"0" * 5_000, "application/pdf"))])
    assert response.status_code == 413
    assert error_fields(response) == ["attachments"]
    assert "scan.pdf" in response.json()["error"]["message"]
    assert repo.count_rows(db) == {"complaints": 0, "steps": 0, "attachments": 0}
    assert eventlog.count_entries(db) == events


def test_disallowed_type_is_422_naming_the_file(client: TestClient, db: Session,
                                                world: World) -> None:
    response = file(client, world["member"], files=[
        ("attachments", ("invoice.pdf", EXE, "application/pdf"))])
    assert response.status_code == 422
    assert error_fields(response) == ["attachments"]
    assert "invoice.pdf" in response.json()["error"]["message"]
    assert repo.count_rows(db)["complaints"] == 0


def test_too_many_files(client: TestClient, world: World) -> None:
    files = [("attachments", (f"n{i}.txt", b"note", "text/plain")) for i in range(6)]
    response = file(client, world["member"], files=files)
    assert response.status_code == 422
    assert "at most 5" in response.json()["error"]["message"]


def test_flood_control_answers_429(client: TestClient, settings: Settings,
                                   world: World) -> None:
    settings.complaints_per_hour = 1
    filed(client, world["member"])
    response = file(client, world["member"])
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "too_many_requests"


# --- the secretariat's work and the permission matrix -----------------------------------


def test_only_the_secretariat_lists_cases(client: TestClient, client_for: ClientFor,
                                          world: World) -> None:
    filed(client, world["member"])
    assert client.get(URL).status_code == 401
    for role in ("admin", "user", "auditor", "other_admin"):
        assert client_for(world[role]).get(URL).status_code == 403, role
    staff = client_for(world["secretariat"])
    listed = staff.get(URL, params={"status": "received", "overdue": "false"})
    assert listed.status_code == 200 and listed.json()["total"] == 1
    assert staff.get(URL, params={"status": "pending"}).status_code == 422


def test_who_sees_a_case(client: TestClient, client_for: ClientFor,
                         world: World) -> None:
    ref, _ = filed(client, world["member"])
    assert client.get(f"{URL}/{ref}").status_code == 404
    assert client_for(world["other_admin"]).get(f"{URL}/{ref}").status_code == 404
    assert client_for(world["auditor"]).get(f"{URL}/{ref}").status_code == 404
    respondent = client_for(world["user"]).get(f"{URL}/{ref}")
    assert respondent.status_code == 200
    assert "complainant_name" not in respondent.json()
    assert "Mariam" not in respondent.text and "description" not in respondent.json()
    full = client_for(world["secretariat"]).get(f"{URL}/{ref}")
    assert full.status_code == 200
    assert full.json()["complainant_name"] == "Mariam Konaté"
    assert client.get(f"{URL}/C-2026-9999").status_code == 404


def test_transitions_and_assignment_are_the_secretariats(client: TestClient,
                                                         client_for: ClientFor,
                                                         world: World) -> None:
    ref, _ = filed(client, world["member"])
    accept = {"to": "accepted", "note": "Within scope.", "public_note": True}
    assert client.post(f"{URL}/{ref}/transition", json=accept).status_code == 401
    assert client_for(world["admin"]).post(f"{URL}/{ref}/transition",
                                           json=accept).status_code == 403
    staff = client_for(world["secretariat"])
    moved = staff.post(f"{URL}/{ref}/transition", json=accept)
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "accepted" and moved.json()["due_on"]
    illegal = staff.post(f"{URL}/{ref}/transition", json={"to": "closed"})
    assert illegal.status_code == 409 and error_fields(illegal) == ["to"]
    unknown = staff.post(f"{URL}/{ref}/transition", json={"to": "panel", "urgent": True})
    assert unknown.status_code == 422 and "urgent" in error_fields(unknown)
    owner = {"owner": str(world["secretariat"].user_id)}
    assert client_for(world["admin"]).post(f"{URL}/{ref}/assign", json=owner).status_code == 403
    assigned = staff.post(f"{URL}/{ref}/assign", json=owner)
    assert assigned.status_code == 200
    assert assigned.json()["owner"]["id"] == owner["owner"]
    not_staff = staff.post(f"{URL}/{ref}/assign", json={"owner": str(world["admin"].user_id)})
    assert not_staff.status_code == 422 and error_fields(not_staff) == ["owner"]


def test_resolving_with_suspension_suspends_the_member(client: TestClient,
                                                       client_for: ClientFor,
                                                       world: World) -> None:
    ref, token = filed(client, world["member"])
    staff = client_for(world["secretariat"])
    for to in ("accepted", "investigation"):
        assert staff.post(f"{URL}/{ref}/transition", json={"to": to}).status_code == 200
    no_sanctions = staff.post(f"{URL}/{ref}/transition",
                              json={"to": "resolved", "outcome": "Upheld."})
    assert no_sanctions.status_code == 422 and error_fields(no_sanctions) == ["sanctions"]
    bad_sanction = staff.post(f"{URL}/{ref}/transition",
                              json={"to": "resolved", "outcome": "Upheld.",
                                    "sanctions": ["fine"]})
    assert bad_sanction.status_code == 422
    resolved = staff.post(f"{URL}/{ref}/transition", json={
        "to": "resolved", "outcome": "Upheld.", "sanctions": ["suspend_membership"]})
    assert resolved.status_code == 200, resolved.text
    org = client.get(f"/api/v1/registry/organizations/{world['member']}")
    assert org.status_code == 404   # suspended members leave the public register
    seen = staff.get(f"/api/v1/registry/organizations/{world['member']}")
    assert seen.json()["status"] == "suspended"
    appeal = client.post(f"{URL}/track/{token}/appeal", json={"grounds": "Too harsh a result."})
    assert appeal.status_code == 200 and appeal.json()["status"] == "appealed"
    again = client.post(f"{URL}/track/{token}/appeal", json={"grounds": "Too harsh a result."})
    assert again.status_code == 409 and error_fields(again) == ["grounds"]


def test_appeal_only_on_a_decision(client: TestClient, world: World) -> None:
    _, token = filed(client, world["member"])
    early = client.post(f"{URL}/track/{token}/appeal", json={"grounds": "Nothing decided yet."})
    assert early.status_code == 409
    short = client.post(f"{URL}/track/{token}/appeal", json={"grounds": "no"})
    assert short.status_code == 422 and error_fields(short) == ["grounds"]


def test_consents_make_the_log_public(client: TestClient, client_for: ClientFor,
                                      world: World) -> None:
    ref, token = filed(client, world["member"], consent_public="true")
    body = {"consent": True}
    assert client.post(f"{URL}/{ref}/respondent-consent", json=body).status_code == 401
    assert client_for(world["user"]).post(f"{URL}/{ref}/respondent-consent",
                                          json=body).status_code == 403
    assert client_for(world["other_admin"]).post(f"{URL}/{ref}/respondent-consent",
                                                 json=body).status_code == 404
    assert client.get(f"{URL}/public").json()["total"] == 0
    given = client_for(world["admin"]).post(f"{URL}/{ref}/respondent-consent", json=body)
    assert given.status_code == 200 and given.json()["public"] is True
    public = client.get(f"{URL}/public").json()
    assert [c["reference"] for c in public["items"]] == [ref]
    case = client.get(f"{URL}/{ref}")
    assert case.status_code == 200
    for secret in ("Mariam", "mariam@villages.example", "Since March"):
        assert secret not in case.text
    withdrawn = client.post(f"{URL}/track/{token}/consent", json={"consent": False})
    assert withdrawn.status_code == 200 and withdrawn.json()["public"] is False
    assert client.get(f"{URL}/{ref}").status_code == 404
    recorded = client_for(world["secretariat"]).post(f"{URL}/{ref}/respondent-consent",
                                                     json={"consent": False})
    assert recorded.status_code == 200 and recorded.json()["consent_respondent"] is False


def test_attachments_are_for_the_secretariat(client: TestClient, client_for: ClientFor,
                                             world: World) -> None:
    response = file(client, world["member"], files=[
        ("attachments", ("notes.txt", b"sampling notes", "text/plain"))])
    body = response.json()
    url = f"{URL}/{body['reference']}/attachments/{body['attachments'][0]['id']}"
    assert client.get(url).status_code == 401
    assert client_for(world["admin"]).get(url).status_code == 403
    download = client_for(world["secretariat"]).get(url)
    assert download.status_code == 200
    assert download.content == b"sampling notes"
    assert download.headers["content-type"].startswith("text/plain")
    assert "attachment" in download.headers["content-disposition"]


def test_the_openapi_schema_documents_the_multipart_filing(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    body = spec["paths"][URL]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert {"subject_kind", "summary", "attachments"} <= set(body["schema"]["properties"])
