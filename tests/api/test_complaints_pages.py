"""The complaints pages: filing through the form with CSRF and files, the one-time
tracking link, the tracking page, the public log and the secretariat's pages."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stewardship.complaints import repository as repo
from stewardship.complaints.rules import AttachmentUpload, SubjectKind
from stewardship.complaints.schemas import ComplaintCreate
from stewardship.complaints.service import filing
from stewardship.core.auth import Role
from stewardship.core.config import Settings
from tests import factories
from tests.api.pages import csrf, csrf_in, sign_in
from tests.complaint_samples import png_bytes

_TRACK = re.compile(r'href="/complaints/track/([A-Za-z0-9_-]+)"')


@pytest.fixture
def member(db: Session) -> str:
    slug = factories.organization(db, name="Riverbend Bauxite")
    db.flush()
    return slug


def filing_form(member: str, **extra: str) -> dict[str, str]:
    values = {"about": f"member:{member}",
              "summary": "Red water in the school well after rain",
              "description": "Each heavy rain since the road was widened turns the well red.",
              "complainant_name": "Mariam Konaté",
              "complainant_email": "mariam@villages.example", "consent_public": "yes"}
    values.update(extra)
    return values


def file_through_service(db: Session, settings: Settings, member: str) -> tuple[str, str]:
    case, token = filing.file_complaint(db, None, ComplaintCreate(
        subject_kind=SubjectKind.MEMBER, subject=member, summary="Dust on the fields",
        description="The trucks run uncovered at night past the village.", anonymous=True,
    ), [AttachmentUpload("notes.txt", b"dates and photos")], settings=settings,
        source="203.0.113.5")
    db.flush()
    return case.reference, token


# --- filing -----------------------------------------------------------------------------


def test_the_form_lists_who_a_complaint_can_be_about(client: TestClient, db: Session,
                                                     member: str) -> None:
    firm = factories.audit_firm(db, name="Heathmoor Audit")
    db.flush()
    page = client.get("/complaints/new", params={"about": f"member:{member}"})
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.text
    assert f'value="member:{member}" selected' in page.text
    assert f'value="audit_firm:{firm}"' in page.text
    assert 'value="secretariat"' in page.text


def test_filing_through_the_form_shows_the_tracking_link_once(client: TestClient, db: Session,
                                                              member: str) -> None:
    token = csrf(client, "/complaints/new")
    response = client.post("/complaints/new", data={**filing_form(member), "csrf_token": token},
                           files=[("attachments", ("well.pdf", png_bytes(), "application/pdf"))],
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/complaints/filed"
    response = client.get("/complaints/filed")
    assert response.headers["cache-control"] == "no-store"
    match = _TRACK.search(response.text)
    assert match, "the confirmation shows no tracking link"
    tracking = match.group(1)
    assert "will not be shown again" in response.text
    reference = re.search(r"C-\d{4}-\d{4}", response.text)
    assert reference is not None
    again = client.get("/complaints/filed")  # shown once: the link is gone from it
    assert again.status_code == 200 and tracking not in again.text
    assert "Nothing to show here now" in again.text
    page = client.get(f"/complaints/track/{tracking}")
    assert page.status_code == 200
    assert reference.group(0) in page.text and "well.png" in page.text
    assert repo.count_rows(db) == {"complaints": 1, "steps": 1, "attachments": 1}


def test_the_form_needs_its_csrf_token(client: TestClient, db: Session, member: str) -> None:
    client.get("/complaints/new")
    response = client.post("/complaints/new", data=filing_form(member))
    assert response.status_code == 403
    assert repo.count_rows(db)["complaints"] == 0


def test_a_refused_form_shows_what_to_fix_and_stores_nothing(client: TestClient, db: Session,
                                                             member: str) -> None:
    token = csrf(client, "/complaints/new")
    response = client.post("/complaints/new", data={
        **filing_form(member, complainant_name="", complainant_email=""), "csrf_token": token},
        files=[("attachments", ("tool.pdf", b"MZ\x90\x00binary", "application/pdf")),
               ("attachments", ("empty.txt", b"", "text/plain"))])
    assert response.status_code == 422
    assert "Give your name, or file the complaint anonymously." in response.text
    assert "The file tool.pdf is not a PDF, PNG, JPEG or plain-text file." in response.text
    assert "The file empty.txt is empty." in response.text
    assert "Red water in the school well after rain" in response.text   # what was typed
    assert repo.count_rows(db)["complaints"] == 0


def test_choosing_nobody_to_complain_about_is_explained(client: TestClient,
                                                        member: str) -> None:
    token = csrf(client, "/complaints/new")
    response = client.post("/complaints/new",
                           data={**filing_form(member, about=""), "csrf_token": token})
    assert response.status_code == 422
    assert 'id="error-about"' in response.text


# --- following a case -------------------------------------------------------------------


def test_tracking_page_and_consent_form(client: TestClient, db: Session, settings: Settings,
                                        member: str) -> None:
    reference, tracking = file_through_service(db, settings, member)
    page = client.get(f"/complaints/track/{tracking}")
    assert page.status_code == 200
    assert reference in page.text and "Received" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "Appeal the decision" not in page.text
    token = csrf_in(page.text)
    agreed = client.post(f"/complaints/track/{tracking}/consent",
                         data={"consent": "yes", "csrf_token": token},
                         follow_redirects=False)
    assert agreed.status_code == 303
    assert "Withdraw my agreement" in client.get(f"/complaints/track/{tracking}").text
    assert client.get("/complaints/track/unknown-token").status_code == 404


def test_public_pages(client: TestClient, db: Session, settings: Settings,
                      member: str) -> None:
    reference, _ = file_through_service(db, settings, member)
    listing = client.get("/complaints")
    assert listing.status_code == 200 and reference not in listing.text
    assert 'href="/complaints/new"' in listing.text
    assert client.get(f"/complaints/{reference}").status_code == 404


# --- the respondent and the secretariat -------------------------------------------------


def test_member_admin_agrees_on_the_case_page(app: FastAPI, db: Session, settings: Settings,
                                              member: str) -> None:
    reference, tracking = file_through_service(db, settings, member)
    filing.set_complainant_consent(db, tracking, True, settings=settings)
    admin = sign_in(app, db, settings, factories.user(db, Role.MEMBER_ADMIN,
                                                      organization=member))
    page = admin.get(f"/complaints/{reference}")
    assert page.status_code == 200
    assert "We agree to publish the case log" in page.text
    token = csrf_in(page.text)
    response = admin.post(f"/complaints/{reference}/respondent-consent",
                          data={"consent": "yes", "csrf_token": token},
                          follow_redirects=False)
    assert response.status_code == 303
    anonymous = TestClient(app, raise_server_exceptions=False)
    public = anonymous.get(f"/complaints/{reference}")
    assert public.status_code == 200
    assert "Mariam" not in public.text and "notes.txt" not in public.text
    assert reference in anonymous.get("/complaints").text


@pytest.mark.parametrize("path", ["/secretariat/complaints", "/secretariat/complaints/{ref}"])
def test_secretariat_pages_are_for_the_secretariat(app: FastAPI, db: Session,
                                                   settings: Settings, member: str,
                                                   path: str) -> None:
    reference, _ = file_through_service(db, settings, member)
    url = path.format(ref=reference)
    anonymous = TestClient(app, raise_server_exceptions=False)
    away = anonymous.get(url, follow_redirects=False)
    assert away.status_code == 303 and away.headers["location"].startswith("/login")
    admin = sign_in(app, db, settings, factories.user(db, Role.MEMBER_ADMIN,
                                                      organization=member))
    assert admin.get(url).status_code == 403
    staff = sign_in(app, db, settings, factories.user(db, Role.SECRETARIAT))
    page = staff.get(url)
    assert page.status_code == 200
    assert reference in page.text


def test_secretariat_lists_overdue_and_moves_a_case_on(app: FastAPI, db: Session,
                                                       settings: Settings,
                                                       member: str) -> None:
    reference, _ = file_through_service(db, settings, member)
    staff_actor = factories.user(db, Role.SECRETARIAT)
    staff = sign_in(app, db, settings, staff_actor)
    listing = staff.get("/secretariat/complaints", params={"status": "received"})
    assert listing.status_code == 200 and reference in listing.text
    none_overdue = staff.get("/secretariat/complaints", params={"overdue": "yes"})
    assert reference not in none_overdue.text
    bad_filter = staff.get("/secretariat/complaints", params={"status": "pending"})
    assert bad_filter.status_code == 200 and "cannot be applied" in bad_filter.text

    case_url = f"/secretariat/complaints/{reference}"
    page = staff.get(case_url)
    assert "notes.txt" in page.text and "Anonymous." in page.text
    csrf = csrf_in(page.text)
    refused = staff.post(f"{case_url}/transition",
                         data={"to": "out_of_scope", "csrf_token": csrf})
    assert refused.status_code == 422
    assert "Say in the note why the complaint is out of scope." in refused.text
    moved = staff.post(f"{case_url}/transition",
                       data={"to": "accepted", "note": "Within scope.", "public_note": "yes",
                             "csrf_token": csrf}, follow_redirects=False)
    assert moved.status_code == 303
    assigned = staff.post(f"{case_url}/assign",
                          data={"owner": str(staff_actor.user_id), "csrf_token": csrf},
                          follow_redirects=False)
    assert assigned.status_code == 303
    recorded = staff.post(f"{case_url}/respondent-consent",
                          data={"consent": "yes", "csrf_token": csrf}, follow_redirects=False)
    assert recorded.status_code == 303
    after = staff.get(case_url)
    assert "Received → Accepted" in after.text and "Within scope." in after.text
    assert staff_actor.name in after.text
    attachment = re.search(rf'href="({case_url}/attachments/[0-9a-f-]+)"', after.text)
    assert attachment is not None
    download = staff.get(attachment.group(1))
    assert download.status_code == 200 and download.content == b"dates and photos"


def test_appeal_through_the_tracking_page(client: TestClient, db: Session,
                                          settings: Settings, member: str) -> None:
    from stewardship.complaints.rules import ComplaintStatus, Sanction
    from stewardship.complaints.schemas import TransitionRequest
    from stewardship.complaints.service import handling

    reference, tracking = file_through_service(db, settings, member)
    staff = factories.user(db, Role.SECRETARIAT)
    for to in (ComplaintStatus.ACCEPTED, ComplaintStatus.MEDIATION):
        handling.transition(db, staff, reference, TransitionRequest(to=to), settings=settings)
    handling.transition(db, staff, reference, TransitionRequest(
        to=ComplaintStatus.RESOLVED, outcome="Not upheld: the dust came from another road.",
        public_note=True, sanctions=[Sanction.NONE]), settings=settings)
    db.flush()
    page = client.get(f"/complaints/track/{tracking}")
    assert "Appeal the decision" in page.text and "Not upheld" in page.text
    token = csrf_in(page.text)
    empty = client.post(f"/complaints/track/{tracking}/appeal",
                        data={"grounds": " ", "csrf_token": token})
    assert empty.status_code == 422
    assert "Say why the decision should be reconsidered." in empty.text
    lodged = client.post(f"/complaints/track/{tracking}/appeal",
                         data={"grounds": "The dust samples were not read.",
                               "csrf_token": token}, follow_redirects=False)
    assert lodged.status_code == 303
    after = client.get(f"/complaints/track/{tracking}")
    assert "Appealed" in after.text and "The dust samples were not read." in after.text
    assert "Appeal the decision" not in after.text


def test_staff_see_the_public_view_on_the_public_case_page(app: FastAPI, db: Session,
                                                           settings: Settings,
                                                           member: str) -> None:
    from stewardship.complaints.rules import ComplaintStatus
    from stewardship.complaints.schemas import TransitionRequest
    from stewardship.complaints.service import handling

    reference, _ = file_through_service(db, settings, member)
    staff_actor = factories.user(db, Role.SECRETARIAT)
    handling.transition(db, staff_actor, reference, TransitionRequest(
        to=ComplaintStatus.ACCEPTED, note="Internal: call the mine manager."),
        settings=settings)
    staff = sign_in(app, db, settings, staff_actor)
    page = staff.get(f"/complaints/{reference}")
    assert page.status_code == 200
    assert "Manage the case" in page.text
    assert "Internal: call the mine manager." not in page.text


def test_resolving_with_suspend_certificate_suspends_the_chosen_certificate(
        app: FastAPI, db: Session, settings: Settings) -> None:
    from tests import assurance_world as aw

    w = aw.build(db)
    decision = aw.certify(db, w, aw.scope(db, w))
    assert decision.certificate is not None
    number = decision.certificate.number
    reference, _ = file_through_service(db, settings, w.org)
    staff = sign_in(app, db, settings, w.secretariat)
    case_url = f"/secretariat/complaints/{reference}"
    page = staff.get(case_url)
    assert "a certificate suspension is recorded for now" not in page.text
    assert f'<option value="{number}"' in page.text
    csrf = csrf_in(page.text)
    for status in ("accepted", "investigation"):
        assert staff.post(f"{case_url}/transition", data={"to": status, "csrf_token": csrf},
                          follow_redirects=False).status_code == 303
    wrong = staff.post(f"{case_url}/transition", data={
        "to": "resolved", "outcome": "Upheld.", "sanctions": "suspend_certificate",
        "certificate": "STW-PS-1999-0001", "csrf_token": csrf})
    assert wrong.status_code == 422 and "not a certificate of the organisation" in wrong.text
    done = staff.post(f"{case_url}/transition", data={
        "to": "resolved", "outcome": "Upheld.", "sanctions": "suspend_certificate",
        "certificate": number, "csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303
    certificate_page = staff.get(f"/certificates/{number}")
    assert "Suspended" in certificate_page.text or "suspended" in certificate_page.text
    assert f"sanction decided in complaint {reference}" in certificate_page.text
    assert f"suspended: {number}" in staff.get(case_url).text
