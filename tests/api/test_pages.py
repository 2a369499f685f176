"""The HTML pages through HTTP: what each role sees, what forms do, and what they refuse.

Pages are read as text (entities unescaped); form posts carry the CSRF token read from a
page, as a browser would send it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor, Role
from stewardship.core.config import Settings
from stewardship.core.pagination import PageParams
from stewardship.registry import repository as repo
from stewardship.registry.models import AuditFirm, Facility, Organization, User
from stewardship.registry.rules import CHECK_ALPHABET, add_years, new_facility_id
from stewardship.registry.schemas import AuditorCreate, InvitationCreate
from stewardship.registry.service import accounts, audit_firms, facilities
from tests import factories
from tests.api.pages import post, text
from tests.today import TODAY

SECRET = re.compile(r'<p class="secret"[^>]*>([^<]+)</p>')
ALL = PageParams(page=1, per_page=50)
EXPIRES = TODAY + timedelta(days=540)  # an accreditation a firm is given


def count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def member(db: Session) -> str:
    """An admitted Norwegian member with an entity and a smelter."""
    slug = factories.organization(db, name="Fjordlight Metals",
                                  joined_on=TODAY - timedelta(days=60))
    entity = factories.entity(db, slug, "Fjordlight Metals AS")
    factories.facility(db, slug, name="Fjordlight Smelter", entity_id=entity.id,
                       latitude="61.4519", longitude="5.857", annual_capacity_t=420000)
    return slug


@pytest.fixture
def admin(db: Session, member: str) -> Actor:
    return factories.user(db, Role.MEMBER_ADMIN, organization=member)


@pytest.fixture
def secretariat(db: Session) -> Actor:
    return factories.user(db, Role.SECRETARIAT)


# --- public pages -------------------------------------------------------------------------


def test_home_shows_counts_search_and_members(client: TestClient, db: Session,
                                              member: str) -> None:
    factories.audit_firm(db, name="Heron Audit")
    page = client.get("/")
    assert page.status_code == 200
    assert '<form class="search-box" method="get" action="/register"' in page.text
    body = text(page)
    assert "Fjordlight Metals" in body
    assert "1 member 1 facility 1 accredited audit firm" in body


def test_register_filters_by_country_activity_class_and_name(client: TestClient,
                                                             db: Session, member: str) -> None:
    rhine = factories.organization(db, name="Rhine Rolling", country="DE",
                                   membership_class="industrial_users")
    factories.facility(db, rhine, name="Rhine Mill", address="Hafenstr. 3, Duisburg",
                       country="DE", activities=["semi_fabrication"])
    factories.organization(db, name="Hopeful Applicant", admitted=False)

    everyone = text(client.get("/register"))
    assert "Fjordlight Metals" in everyone and "Rhine Rolling" in everyone
    assert "Hopeful Applicant" not in everyone
    assert "2 results" in everyone

    by_country = text(client.get("/register?country=de"))
    assert "Rhine Rolling" in by_country and "Fjordlight Metals" not in by_country
    by_activity = text(client.get("/register?activity=smelting"))
    assert "Fjordlight Metals" in by_activity and "Rhine Rolling" not in by_activity
    by_class = text(client.get("/register?membership_class=industrial_users"))
    assert "Rhine Rolling" in by_class and "Fjordlight Metals" not in by_class
    by_name = text(client.get("/register?q=fjordl"))
    assert "Fjordlight Metals" in by_name and "Rhine Rolling" not in by_name
    assert f'href="/organizations/{member}"' in client.get("/register?q=fjordl").text


def test_register_explains_an_unknown_country_instead_of_failing(client: TestClient) -> None:
    page = client.get("/register?country=ZZ")
    assert page.status_code == 422
    assert "'ZZ' is not an ISO 3166-1 alpha-2 country code" in text(page)
    assert 'class="notice"' in page.text
    assert "<table" not in page.text

    bad_activity = client.get("/register?activity=juggling")
    assert bad_activity.status_code == 422
    assert "'juggling' is not a supply-chain activity" in text(bad_activity)


def test_register_has_empty_state_and_pagination(client: TestClient, db: Session) -> None:
    assert "No members match these filters" in text(client.get("/register?q=nobody"))
    for name in ("Alpha Alloys", "Beta Billets", "Gamma Granules"):
        factories.organization(db, name=name)
    first = text(client.get("/register?per_page=2"))
    assert "Page 1 of 2 · 3 results" in first
    assert "Alpha Alloys" in first and "Gamma Granules" not in first
    assert 'href="/register?per_page=2&amp;page=2"' in client.get("/register?per_page=2").text
    second = text(client.get("/register?per_page=2&page=2"))
    assert "Gamma Granules" in second and "Alpha Alloys" not in second


def test_organization_page_shows_facts_entities_and_facilities(client: TestClient, db: Session,
                                                               member: str) -> None:
    page = client.get(f"/organizations/{member}")
    assert page.status_code == 200
    assert "<h1>Fjordlight Metals</h1>" in page.text
    body = text(page)
    deadline = add_years(TODAY - timedelta(days=60), 2)
    assert "Production & Transformation" in body
    assert "Must hold a Performance Standard certificate by" in body
    assert deadline.strftime("%d %b %Y") in body
    assert "Fjordlight Metals AS" in body
    assert "Fjordlight Smelter" in body
    # The public gets no management forms.
    assert "Add entity" not in body and "csrf_token" not in page.text

    supporters = factories.organization(db, name="Friends of Foil",
                                        membership_class="general_supporters")
    assert "do not certify against the Performance Standard" in text(
        client.get(f"/organizations/{supporters}"))


def test_applicants_are_not_public(client: TestClient, db: Session) -> None:
    applicant = factories.organization(db, name="Quiet Applicant", admitted=False)
    page = client.get(f"/organizations/{applicant}")
    assert page.status_code == 404
    assert "Page not found" in text(page)


def test_facility_list_filters_and_facility_page(client: TestClient, db: Session,
                                                 member: str) -> None:
    rhine = factories.organization(db, name="Rhine Rolling", country="DE")
    factories.facility(db, rhine, name="Rhine Mill", address="Hafenstr. 3, Duisburg",
                       country="DE", activities=["semi_fabrication"])
    listing = text(client.get("/facilities?country=NO"))
    assert "Fjordlight Smelter" in listing and "Rhine Mill" not in listing
    assert "Rhine Mill" in text(client.get("/facilities?activity=semi_fabrication"))
    assert "No facilities match these filters" in text(client.get("/facilities?q=nothing"))

    smelter = facilities.list_facilities(db, None, ALL, country="NO").items[0]
    page = client.get(f"/facilities/{smelter.id}")
    assert page.status_code == 200
    assert f'<dd class="mono">{smelter.id}</dd>' in page.text
    assert f'href="/organizations/{member}"' in page.text
    body = text(page)
    assert "420,000 tonnes a year" in body
    assert "61.451900, 5.857000" in body
    assert "Fjordlight Metals AS" in body

    lower = client.get(f"/facilities/{smelter.id.lower()}", follow_redirects=False)
    assert lower.status_code == 301 and lower.headers["location"] == f"/facilities/{smelter.id}"
    found = client.get(f"/facilities?id={smelter.id}", follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"] == f"/facilities/{smelter.id}"


def test_merged_facility_id_redirects_permanently_to_the_survivor(client: TestClient,
                                                                  db: Session,
                                                                  member: str) -> None:
    survivor = facilities.list_facilities(db, None, ALL).items[0].id
    duplicate = factories.facility(db, member, name="Fjordlight Smelter AS").facility.id
    facilities.merge(db, factories.SYSTEM, duplicate, survivor)
    db.flush()

    moved = client.get(f"/facilities/{duplicate}", follow_redirects=False)
    assert moved.status_code == 301
    assert moved.headers["location"].startswith(f"/facilities/{survivor}")
    landed = client.get(moved.headers["location"])
    assert landed.status_code == 200
    assert f"The id {duplicate} belonged to a duplicate that was merged" in text(landed)


def test_facility_id_with_wrong_check_character_is_a_422_page(client: TestClient,
                                                              db: Session, member: str) -> None:
    good = facilities.list_facilities(db, None, ALL).items[0].id
    wrong = good[:-1] + next(c for c in CHECK_ALPHABET if c != good[-1])
    page = client.get(f"/facilities/{wrong}")
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert "has a wrong check character" in text(page)
    malformed = client.get("/facilities/not-an-id")
    assert malformed.status_code == 422
    assert "is not a facility id" in text(malformed)
    unknown = client.get("/facilities/" + new_facility_id("NO", 2020, "ZZZZZZ"))
    assert unknown.status_code == 404


def test_audit_firm_pages_show_scope_and_auditors(client: TestClient, db: Session) -> None:
    slug = factories.audit_firm(db, name="Heron Audit", countries=["NO", "DE"])
    audit_firms.add_auditor(db, factories.SYSTEM, slug,
                            AuditorCreate(name="Ada Lead", email="ada@heron.example", lead=True))
    listing = text(client.get("/audit-firms"))
    assert "Heron Audit" in listing and f"{factories.ACCREDITED_UNTIL:%d %b %Y}" in listing
    page = client.get(f"/audit-firms/{slug}")
    assert page.status_code == 200
    body = text(page)
    assert "Performance Standard, Chain of Custody Standard" in body
    assert "Norway" in body and "Germany" in body
    assert "Ada Lead" in body and "Lead auditor" in body
    assert "Name an auditor" not in body  # secretariat only
    assert client.get("/audit-firms/nobody").status_code == 404


# --- invitations and signing in -----------------------------------------------------------


def test_invitation_accepts_a_password_once(client: TestClient, db: Session, member: str,
                                            settings: Settings) -> None:
    _, token = accounts.invite(db, factories.SYSTEM, InvitationCreate(
        email="newcomer@fjordlight.example", name="Nora Newcomer", role="member_user",
        organization=member), settings)
    db.flush()
    page = client.get(f"/invitations/{token}")
    assert page.status_code == 200
    assert "Welcome, Nora Newcomer" in text(page)
    assert 'value="newcomer@fjordlight.example"' in page.text

    mismatch = post(client, f"/invitations/{token}",
                    {"password": "a-long-password", "password_again": "another-password"})
    assert mismatch.status_code == 422
    assert "The two passwords are not the same" in text(mismatch)
    assert repo.user_by_email(db, "newcomer@fjordlight.example") is None

    short = post(client, f"/invitations/{token}", {"password": "short", "password_again": "short"})
    assert short.status_code == 422
    assert "The password must have at least 10 characters." in text(short)

    done = post(client, f"/invitations/{token}",
                {"password": "a-long-password", "password_again": "a-long-password"})
    assert done.status_code == 303 and done.headers["location"] == "/login"
    user = accounts.authenticate(db, "newcomer@fjordlight.example", "a-long-password", settings)
    assert user is not None and user.role == "member_user"

    again = client.get(f"/invitations/{token}")
    assert again.status_code == 409
    assert "accepted already" in text(again)
    assert client.get("/invitations/not-a-real-token").status_code == 404


def test_login_page_signs_in_and_lands_on_the_dashboard(client: TestClient, db: Session,
                                                        admin: Actor) -> None:
    form = client.get("/login")
    assert 'id="field-email"' in form.text and 'id="field-password"' in form.text
    wrong = post(client, "/login", {"email": admin.email, "password": "wrong-password"})
    assert wrong.status_code == 401
    assert "e-mail or password is not right" in text(wrong)
    assert f'value="{admin.email}"' in wrong.text

    signed = post(client, "/login", {"email": admin.email, "password": factories.PASSWORD,
                                     "next": "/dashboard"})
    assert signed.status_code == 303 and signed.headers["location"] == "/dashboard"
    dashboard = client.get("/dashboard")
    assert "<h1>Fjordlight Metals</h1>" in dashboard.text
    assert "Member admin dashboard" in text(dashboard)


def test_form_posts_without_the_csrf_token_are_refused(client: TestClient, db: Session,
                                                       signed_in: Callable[[Actor], TestClient],
                                                       secretariat: Actor) -> None:
    refused = client.post("/login", data={"email": "x@example.com", "password": "x"})
    assert refused.status_code == 403
    assert "security token is missing or stale" in text(refused)

    browser = signed_in(secretariat)
    before = count(db, Organization)
    forged = browser.post("/secretariat/organizations", follow_redirects=False, data={
        "name": "Forged Metals", "membership_class": "associations", "country": "NO",
        "csrf_token": "made-up"})
    assert forged.status_code == 403
    assert count(db, Organization) == before


def test_anonymous_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    for url in ("/members/users", "/secretariat/organizations", "/dashboard",
                "/members/facilities/new"):
        answer = client.get(url, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?" + urlencode({"next": url})
    # The query string survives the trip through the login page.
    answer = client.get("/members/users?page=2", follow_redirects=False)
    assert answer.headers["location"] == "/login?next=%2Fmembers%2Fusers%3Fpage%3D2"


def test_member_admin_cannot_open_secretariat_pages(signed_in: Callable[[Actor], TestClient],
                                                    admin: Actor) -> None:
    browser = signed_in(admin)
    for url in ("/secretariat/organizations", "/secretariat/audit-firms",
                "/secretariat/facilities/merge", "/secretariat/events",
                "/secretariat/integrity"):
        page = browser.get(url)
        assert page.status_code == 403, url
        assert "Not allowed" in text(page)


@pytest.mark.parametrize(("role", "heading"), [
    (Role.SECRETARIAT, "<h1>Secretariat dashboard</h1>"),
    (Role.MEMBER_ADMIN, "<h1>Fjordlight Metals</h1>"),
    (Role.MEMBER_USER, "<h1>Fjordlight Metals</h1>"),
    (Role.AUDITOR, "<h1>Auditor dashboard</h1>"),
])
def test_each_role_has_its_dashboard(db: Session, signed_in: Callable[[Actor], TestClient],
                                     member: str, role: Role, heading: str) -> None:
    firm = factories.audit_firm(db, name="Heron Audit")
    actor = factories.user(db, role, organization=member if role in (
        Role.MEMBER_ADMIN, Role.MEMBER_USER) else None,
        audit_firm=firm if role is Role.AUDITOR else None)
    page = signed_in(actor).get("/dashboard")
    assert page.status_code == 200
    assert heading in page.text
    body = text(page)
    if role is Role.MEMBER_USER:
        assert "Member user dashboard" in body and "Pending invitations" not in body
    if role is Role.AUDITOR:
        assert "No audits are assigned to your firm yet." in body and "Heron Audit" in body
    if role is Role.SECRETARIAT:
        assert "Applicants needing admission" in body and "Recent events" in body


# --- member admins ------------------------------------------------------------------------


def test_member_admin_invites_a_user_and_sees_the_link_once(
        db: Session, signed_in: Callable[[Actor], TestClient], admin: Actor,
        settings: Settings) -> None:
    browser = signed_in(admin)
    page = browser.get("/members/users")
    assert page.status_code == 200 and admin.name in text(page)
    assert "No invitations are waiting" in text(page)

    invited = post(browser, "/members/users/invite",
                   {"name": "Ola Operator", "email": "ola@fjordlight.example",
                    "role": "member_user"})
    assert invited.status_code == 303  # post/redirect/get; the link is shown by the GET
    assert invited.headers["location"] == "/members/users"
    shown = browser.get("/members/users")
    link = SECRET.search(shown.text)
    assert link and link.group(1).startswith("http://testserver/invitations/")
    assert "ola@fjordlight.example" in text(shown) and "Ola Operator is invited." in text(shown)
    token = link.group(1).rsplit("/", 1)[1]
    assert browser.get(f"/invitations/{token}").status_code == 200

    later = browser.get("/members/users")
    assert "ola@fjordlight.example" in text(later)  # pending
    assert 'class="secret"' not in later.text  # the link is never shown again

    bad = post(browser, "/members/users/invite",
               {"name": "X", "email": "not-an-email", "role": "boss"})
    assert bad.status_code == 422
    body = text(bad)
    assert "The name needs at least 2 characters." in body
    assert 'id="error-email"' in bad.text  # the e-mail's reason is the validator's words
    assert "Choose one of the listed options" in body


def test_member_admin_changes_roles_but_keeps_an_admin(
        db: Session, signed_in: Callable[[Actor], TestClient], admin: Actor,
        member: str) -> None:
    colleague = factories.user(db, Role.MEMBER_USER, organization=member)
    browser = signed_in(admin)

    refused = post(browser, f"/members/users/{admin.user_id}", {"role": "member_user"})
    assert refused.status_code == 409
    assert "An organisation must keep at least one active member admin" in text(refused)
    assert f'id="field-role-{admin.user_id}"' in refused.text
    assert db.get(User, admin.user_id, populate_existing=True).role == "member_admin"

    promoted = post(browser, f"/members/users/{colleague.user_id}", {"role": "member_admin"})
    assert promoted.status_code == 303
    assert db.get(User, colleague.user_id, populate_existing=True).role == "member_admin"

    off = post(browser, f"/members/users/{colleague.user_id}", {"active": "false"})
    assert off.status_code == 303
    assert db.get(User, colleague.user_id, populate_existing=True).active is False

    stranger = post(browser, f"/members/users/{uuid.uuid4()}", {"role": "member_user"})
    assert stranger.status_code == 404
    assert "No such user in your organisation" in text(stranger)


CONFIRM = re.compile(r'name="confirm_duplicate" value="([0-9a-f]+)"')


def test_a_likely_duplicate_facility_is_asked_about_before_it_is_registered(
        db: Session, signed_in: Callable[[Actor], TestClient], admin: Actor) -> None:
    browser = signed_in(admin)
    form = browser.get("/members/facilities/new")
    assert form.status_code == 200
    assert "Fjordlight Metals AS" in text(form)  # entity choice
    assert 'formaction="/members/facilities/check"' in form.text

    before = count(db, Facility)
    typed = {"name": "Fjordlight Smelter Plant", "address": "Industrivegen 1, 6800 Førde",
             "country": "NO", "activities": ["smelting", "casthouse"],
             "annual_capacity_t": "12 000", "latitude": "61.45", "longitude": "5.86"}
    asked = post(browser, "/members/facilities/new", typed)
    assert asked.status_code == 409
    assert count(db, Facility) == before  # nothing registered yet
    body = asked.text
    main = body[body.index('<main id="main"'):]
    assert main.index('id="error-summary"') < main.index("<h1")  # the question comes first
    assert 'href="#field-confirm_duplicate"' in body and 'id="field-confirm_duplicate"' in body
    assert "registered facility looks like this one" in text(asked)
    question = body[body.index('id="field-confirm_duplicate"'):]
    assert "Fjordlight Smelter</a>" in question and "Industrivegen 1" in question
    assert re.search(r'class="score score-\w+">\d+</span>', question)
    existing = re.search(r'href="/facilities/([A-Z0-9]{13})">Open Fjordlight Smelter', question)
    assert existing, "no way to the registered facility"
    assert browser.get(f"/facilities/{existing.group(1)}").status_code == 200
    assert 'value="Fjordlight Smelter Plant"' in body  # what was typed stays
    confirmation = CONFIRM.search(body)
    assert confirmation

    # A confirmation holds for what was confirmed: change the name and it is asked again.
    renamed = post(browser, "/members/facilities/new", {
        **typed, "name": "Fjordlight Smelter Works", "confirm_duplicate": confirmation.group(1)})
    assert renamed.status_code == 409 and count(db, Facility) == before

    created = post(browser, "/members/facilities/new",
                   {**typed, "confirm_duplicate": confirmation.group(1)})
    assert created.status_code == 303
    assert count(db, Facility) == before + 1
    new_id = created.headers["location"].removeprefix("/facilities/")
    assert new_id.startswith("NO") and len(new_id) == 13
    shown = text(browser.get(created.headers["location"]))
    assert f"Fjordlight Smelter Plant is registered with id {new_id}" in shown
    assert "You confirmed it is another site than the 1 that look like it" in shown


def test_a_facility_like_no_other_is_registered_at_once(
        db: Session, signed_in: Callable[[Actor], TestClient], admin: Actor) -> None:
    browser = signed_in(admin)
    before = count(db, Facility)
    lonely = post(browser, "/members/facilities/new", {
        "name": "Arctic Can Plant", "address": "Hammerfest havn", "country": "NO",
        "activities": ["material_conversion"]})
    assert lonely.status_code == 303
    assert count(db, Facility) == before + 1
    shown = text(browser.get(lonely.headers["location"]))
    assert "Arctic Can Plant is registered with id NO" in shown
    assert "You confirmed" not in shown


def test_the_api_registers_a_likely_duplicate_and_lists_it(
        client_for: Callable[[Actor], TestClient], admin: Actor) -> None:
    """The API keeps registering at once and answering the likely duplicates; its clients
    ask first with POST /api/v1/registry/facilities/duplicates."""
    api = client_for(admin)
    answer = api.post("/api/v1/registry/facilities", json={
        "name": "Fjordlight Smelter", "address": "Industrivegen 1, 6800 Førde",
        "country": "NO", "activities": ["smelting"]})
    assert answer.status_code == 201, answer.text
    assert answer.json()["possible_duplicates"][0]["exact"] is True


def test_invalid_facility_form_says_what_to_fix_and_saves_nothing(
        db: Session, signed_in: Callable[[Actor], TestClient], admin: Actor) -> None:
    browser = signed_in(admin)
    before = count(db, Facility)
    answer = post(browser, "/members/facilities/new", {
        "name": "Half Plant", "country": "NO", "latitude": "95", "longitude": "",
        "annual_capacity_t": "lots"})
    assert answer.status_code == 422
    body = text(answer)
    assert "Choose at least one activity" in body
    assert "latitude must be between -90 and 90" in body.lower()
    assert "Enter a whole number" in body
    assert 'value="Half Plant"' in answer.text  # what was typed stays
    assert count(db, Facility) == before


def test_duplicate_check_lists_candidates_without_saving(
        db: Session, signed_in: Callable[[Actor], TestClient], admin: Actor) -> None:
    browser = signed_in(admin)
    before = count(db, Facility)
    checked = post(browser, "/members/facilities/check", {
        "name": "Fjordlight Smelter", "address": "Industrivegen 1, 6800 Førde",
        "country": "NO", "activities": ["smelting"]})
    assert checked.status_code == 303  # back to the form's own page, filled in
    assert checked.headers["location"].startswith("/members/facilities/new?")
    shown = browser.get(checked.headers["location"])
    assert shown.status_code == 200
    body = text(shown)
    assert "Exact match" in body and "Fjordlight Smelter" in body
    assert 'type="checkbox" id="field-activities-5" name="activities" value="smelting" checked' \
        in shown.text
    assert count(db, Facility) == before

    nothing = post(browser, "/members/facilities/check",
                   {"name": "Completely Different Works", "country": "NO"})
    assert "No registered facility in this country looks like this one" in text(
        browser.get(nothing.headers["location"]))
    unnamed = browser.get("/members/facilities/new?country=NO&check=1")
    assert unnamed.status_code == 422 and 'href="#field-name"' in unnamed.text


def test_member_admin_adds_entities_to_own_organisation_only(
        db: Session, signed_in: Callable[[Actor], TestClient], admin: Actor,
        member: str) -> None:
    browser = signed_in(admin)
    page = text(browser.get(f"/organizations/{member}"))
    assert "Add entity" in page and "Membership (secretariat)" not in page

    added = post(browser, f"/organizations/{member}/entities",
                 {"entity_name": "Fjordlight Casting AS"})
    assert added.status_code == 303
    assert "Fjordlight Casting AS" in text(browser.get(f"/organizations/{member}"))

    twice = post(browser, f"/organizations/{member}/entities",
                 {"entity_name": "Fjordlight Casting AS"})
    assert twice.status_code == 409
    assert "already has an entity named" in text(twice)

    other = factories.organization(db, name="Other Metals")
    refused = post(browser, f"/organizations/{other}/entities", {"entity_name": "Sneaky AS"})
    assert refused.status_code == 403


# --- the secretariat ----------------------------------------------------------------------


def test_secretariat_records_an_applicant_and_admits_it(
        db: Session, signed_in: Callable[[Actor], TestClient], secretariat: Actor) -> None:
    browser = signed_in(secretariat)
    before = count(db, Organization)
    invalid = post(browser, "/secretariat/organizations", {
        "name": "", "membership_class": "", "country": "NO", "website": "fjord.example"})
    assert invalid.status_code == 422
    body = text(invalid)
    assert "The name is required." in body
    assert "The membership class is required." in body
    assert "Enter a full web address starting with https://" in body
    assert 'value="fjord.example"' in invalid.text
    assert count(db, Organization) == before

    created = post(browser, "/secretariat/organizations", {
        "name": "Saltfjord Alloys", "membership_class": "production_transformation",
        "country": "NO", "website": "https://saltfjord.example", "description": "Billets."})
    assert created.status_code == 303
    assert created.headers["location"] == "/organizations/saltfjord-alloys"
    assert count(db, Organization) == before + 1
    applicants = text(browser.get("/secretariat/organizations?status=applicant"))
    assert "Saltfjord Alloys" in applicants

    page = text(browser.get("/organizations/saltfjord-alloys"))
    assert "Admit Saltfjord Alloys" in page and "Refuse the application" in page
    future = post(browser, "/organizations/saltfjord-alloys/admit",
                  {"joined_on": (TODAY + timedelta(days=3)).isoformat()})
    assert future.status_code == 422
    assert "The joining date cannot be in the future" in text(future)

    admitted = post(browser, "/organizations/saltfjord-alloys/admit",
                    {"joined_on": "2025-03-01"})
    assert admitted.status_code == 303
    member_page = text(browser.get("/organizations/saltfjord-alloys"))
    assert "Saltfjord Alloys is admitted as a member from 01 Mar 2025." in member_page
    assert "01 Mar 2027" in member_page  # the certification deadline


def test_secretariat_suspends_with_a_reason(db: Session,
                                            signed_in: Callable[[Actor], TestClient],
                                            secretariat: Actor, member: str) -> None:
    browser = signed_in(secretariat)
    short = post(browser, f"/organizations/{member}/status", {"action": "suspend",
                                                               "reason": "x"})
    assert short.status_code == 422
    assert "The reason needs at least 3 characters." in text(short)
    db.expire_all()
    assert repo.organization_by_slug(db, member).status == "member"

    done = post(browser, f"/organizations/{member}/status",
                {"action": "suspend", "reason": "fees unpaid for two years"})
    assert done.status_code == 303
    db.expire_all()
    assert repo.organization_by_slug(db, member).status == "suspended"
    assert "Reinstate the membership" in text(browser.get(f"/organizations/{member}"))

    nonsense = post(browser, f"/organizations/{member}/status",
                    {"action": "suspend", "reason": "again"})
    assert nonsense.status_code == 409
    assert "cannot become suspended" in text(nonsense)


def test_secretariat_accredits_a_firm_and_names_auditors(
        db: Session, signed_in: Callable[[Actor], TestClient], secretariat: Actor,
        settings: Settings) -> None:
    browser = signed_in(secretariat)
    before = count(db, AuditFirm)
    invalid = post(browser, "/secretariat/audit-firms", {
        "name": "Osprey Assurance", "country": "GB", "countries": "NO, ZZ",
        "activities": ["smelting"], "expires_on": EXPIRES.isoformat()})
    assert invalid.status_code == 422
    body = text(invalid)
    assert "Choose at least one standard" in body
    assert "'ZZ' is not an ISO 3166-1 alpha-2 country code" in body
    assert 'value="NO, ZZ"' in invalid.text
    assert count(db, AuditFirm) == before

    created = post(browser, "/secretariat/audit-firms", {
        "name": "Osprey Assurance", "country": "GB", "website": "https://osprey.example",
        "standards": ["performance", "chain_of_custody"], "countries": "no de;gb",
        "activities": ["smelting", "casthouse"], "expires_on": EXPIRES.isoformat()})
    assert created.status_code == 303
    assert created.headers["location"] == "/audit-firms/osprey-assurance"
    page = text(browser.get("/audit-firms/osprey-assurance"))
    assert f"Osprey Assurance is accredited until {EXPIRES:%d %b %Y}." in page
    assert "Germany, United Kingdom" in page and "Northern Ireland, Norway" in page

    named = post(browser, "/audit-firms/osprey-assurance/auditors",
                 {"auditor_name": "Owen Lead", "auditor_email": "owen@osprey.example",
                  "lead": "1"})
    assert named.status_code == 303
    assert "Owen Lead is named as lead auditor." in text(
        browser.get("/audit-firms/osprey-assurance"))

    invited = post(browser, "/audit-firms/osprey-assurance/invitations",
                   {"invite_name": "Owen Lead", "invite_email": "owen@osprey.example"})
    assert invited.status_code == 303
    link = SECRET.search(browser.get(invited.headers["location"]).text)
    assert link and link.group(1).startswith("http://testserver/invitations/")
    assert 'class="secret"' not in browser.get("/audit-firms/osprey-assurance").text
    assert "an auditor of your audit firm" in text(browser.get(
        link.group(1).removeprefix("http://testserver")))


def test_secretariat_merges_duplicate_facilities(
        db: Session, signed_in: Callable[[Actor], TestClient], secretariat: Actor,
        member: str) -> None:
    browser = signed_in(secretariat)
    survivor = facilities.list_facilities(db, None, ALL).items[0].id
    duplicate = factories.facility(db, member, name="Fjordlight Smelter AS").facility.id

    empty = post(browser, "/secretariat/facilities/merge", {"facility_id": "", "into": ""})
    assert empty.status_code == 422
    assert "Enter the id of the duplicate facility" in text(empty)
    wrong = survivor[:-1] + next(c for c in CHECK_ALPHABET if c != survivor[-1])
    bad = post(browser, "/secretariat/facilities/merge",
               {"facility_id": duplicate, "into": wrong})
    assert bad.status_code == 422
    assert 'id="error-into"' in bad.text and "wrong check character" in text(bad)
    assert facilities.get_facility(db, None, duplicate).requested_id is None  # not merged

    merged = post(browser, "/secretariat/facilities/merge",
                  {"facility_id": duplicate.lower(), "into": survivor})
    assert merged.status_code == 303
    assert merged.headers["location"] == f"/facilities/{survivor}"
    landed = text(browser.get(merged.headers["location"]))
    assert f"{duplicate} is merged into {survivor}" in landed


def test_tokens_page_shows_a_new_token_once(db: Session,
                                            signed_in: Callable[[Actor], TestClient],
                                            admin: Actor) -> None:
    browser = signed_in(admin)
    assert "You have no API tokens yet." in text(browser.get("/account/tokens"))
    nameless = post(browser, "/account/tokens", {"name": " "})
    assert nameless.status_code == 422 and "give the token a name" in text(nameless)

    made = post(browser, "/account/tokens", {"name": "ERP export", "expires_in_days": "30"})
    assert made.status_code == 303 and made.headers["location"] == "/account/tokens"
    shown = browser.get("/account/tokens")
    secret = re.search(r'<p class="secret"[^>]*>(stw_[^<]+)</p>', shown.text)
    assert secret
    assert "it will not be shown again" in text(shown)
    assert f"Authorization: Bearer {secret.group(1)}" in text(shown)
    assert 'stw_reveal=""' in shown.headers.get("set-cookie", "")  # spent once shown
    listing = browser.get("/account/tokens")
    assert "ERP export" in text(listing) and secret.group(1) not in listing.text

    token_id = accounts.list_tokens(db, admin)[0].id
    revoked = post(browser, f"/account/tokens/{token_id}/revoke")
    assert revoked.status_code == 303
    assert "Revoked" in text(browser.get("/account/tokens"))


def test_event_log_page_reports_the_chain(db: Session,
                                          signed_in: Callable[[Actor], TestClient],
                                          secretariat: Actor, member: str) -> None:
    browser = signed_in(secretariat)
    page = text(browser.get("/secretariat/events"))
    assert "The chain is intact." in page
    assert "Membership applied for" in page
    only_entities = text(browser.get("/secretariat/events?kind=registry.entity"))
    assert "Legal entity added" in only_entities
    assert "Membership applied for" not in only_entities
    assert "No events of a kind starting with" in text(
        browser.get("/secretariat/events?kind=nothing.here"))


def test_the_secretariat_menu_is_grouped_without_near_duplicates(
        db: Session, signed_in: Callable[[Actor], TestClient]) -> None:
    page = signed_in(factories.user(db, Role.SECRETARIAT)).get("/secretariat/audits")
    assert page.status_code == 200
    wide = page.text[page.text.index('<div class="nav-wide">'):page.text.index("</nav>")]
    menu = wide[:wide.index('<div class="nav-account">')]
    outer = re.sub(r"(<summary[^>]*>[^<]+</summary>).*?</details>", r"\1", menu, flags=re.S)
    top = re.findall(r'<summary[^>]*>([^<]+)</summary>|<a href="[^"]+"[^>]*>([^<]+)</a>', outer)
    labels = [group or link for group, link in top]
    assert labels == ["Dashboard", "Members", "Standards", "Assurance", "Complaints",
                      "Custody", "Carbon", "Trust", "Verify"]
    links = re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', menu)
    names = [name for _, name in links]
    assert len(names) == len(set(names)), names
    assert len(links) == 23 and "/secretariat/audit-firms" in dict(links)
    # The group of the page shown is marked; the link itself is the current page.
    assert re.search(r'<summary aria-current="true">Assurance</summary>', menu)
    assert '<a href="/secretariat/audits" aria-current="page">' in menu
