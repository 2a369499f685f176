"""The pages in Chromium: signing in as each role, the public register, adding a facility
that nearly duplicates another, and the register on a phone."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in

ROLES = [
    ("secretariat@stewardship.example", "Secretariat dashboard", "Signed in as Clara Whitfield"),
    ("admin@fjordal.example", "Fjordal Aluminium", "Member admin dashboard"),
    ("erik.nygard@fjordal.example", "Fjordal Aluminium", "Member user dashboard"),
    ("harriet.lowe@thistlebrook.example", "Auditor dashboard", "Thistlebrook Assurance"),
]
FACILITY_ID = re.compile(r"^[A-Z]{2}\d{4}[0-9A-Z]{7}$")


@pytest.mark.parametrize(("email", "heading", "subtitle"), ROLES,
                         ids=["secretariat", "member-admin", "member-user", "auditor"])
def test_each_role_signs_in_to_its_dashboard_and_out(page: Any, email: str, heading: str,
                                                     subtitle: str) -> None:
    log_in(page, email)
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.locator("h1")).to_have_text(heading)
    expect(page.locator(".page-header")).to_contain_text(subtitle)
    expect(page.locator(".flash-success")).to_contain_text("Welcome")

    page.locator(".nav-wide").get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator(".flash-info")).to_have_text("You are signed out.")
    expect(page.locator(".nav-wide").get_by_role("link", name="Log in")).to_be_visible()
    page.goto("/dashboard")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fdashboard$"))


def test_wrong_password_says_so_and_keeps_the_email(page: Any) -> None:
    log_in(page, "admin@fjordal.example", "not-the-password")
    expect(page.locator("h1")).to_have_text("Log in")
    expect(page.locator(".form-errors")).to_contain_text("e-mail or password is not right")
    expect(page.locator("#field-email")).to_have_value("admin@fjordal.example")


def test_public_register_filters_and_leads_to_organisations_and_facilities(
        page: Any, artifacts: Path) -> None:
    page.goto("/")
    page.fill("#home-q", "fjordal")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table.data tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Fjordal Aluminium")

    page.goto("/register")
    page.select_option("#field-country", "NO")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"country=NO"))
    countries = page.locator("table.data tbody td[data-label='Country']")
    expect(countries.first).to_have_text("Norway")
    assert set(countries.all_inner_texts()) == {"Norway"}

    page.goto("/register")
    page.select_option("#field-activity", "smelting")
    page.get_by_role("button", name="Filter").click()
    activities = page.locator("table.data tbody td[data-label='Activities']")
    expect(activities.first).to_contain_text("Smelting")
    assert all("Smelting" in text for text in activities.all_inner_texts())
    page.screenshot(path=str(artifacts / "register-smelting.png"), full_page=True)

    page.get_by_role("link", name="Fjordal Aluminium").click()
    expect(page.locator("h1")).to_have_text("Fjordal Aluminium")
    expect(page.locator(".facts")).to_contain_text("Production & Transformation")
    expect(page.locator(".facts")).to_contain_text("Performance Standard")
    page.screenshot(path=str(artifacts / "organization.png"), full_page=True)

    page.get_by_role("link", name="Fjordal Smelter").click()
    expect(page.locator("h1")).to_have_text("Fjordal Smelter")
    facility_id = page.locator("dd.mono").first.inner_text()
    assert FACILITY_ID.match(facility_id)
    expect(page.locator(".facts")).to_contain_text("420,000 tonnes a year")
    expect(page).to_have_url(re.compile(f"/facilities/{facility_id}$"))


def test_member_admin_registers_a_near_duplicate_and_sees_its_score(
        page: Any, artifacts: Path) -> None:
    log_in(page, "admin@fjordal.example")
    page.goto("/members/facilities/new")
    page.fill("#field-name", "Fjordal Smelter Plant")
    page.fill("#field-address", "Industrivegen 15, Forde")
    page.select_option("#field-country", "NO")
    page.get_by_label("Smelting").check()
    page.fill("#field-annual_capacity_t", "1 000")

    page.get_by_role("button", name="Check for duplicates").click()
    expect(page.locator("h1")).to_have_text("Add a facility")
    match = page.locator("table.duplicates tbody tr").filter(has_text="Fjordal Smelter")
    expect(match).to_have_count(1)
    expect(page.locator("#field-name")).to_have_value("Fjordal Smelter Plant")
    expect(page.get_by_label("Smelting")).to_be_checked()

    page.get_by_role("button", name="Register facility").click()
    # Asked before anything is stored: the summary at the top, the likely duplicate below.
    expect(page.locator("#error-summary")).to_be_focused()
    expect(page.locator("#error-summary")).to_contain_text("like this one")
    question = page.locator("#field-confirm_duplicate")
    match = question.locator("table.duplicates tbody tr").filter(has_text="Fjordal Smelter")
    expect(match).to_have_count(1)
    combined = int(match.locator("td[data-label='Score'] .score").inner_text())
    assert 75 <= combined <= 100
    page.screenshot(path=str(artifacts / "facility-duplicates.png"), full_page=True)

    page.get_by_role("button", name="Register anyway: it is another site").click()
    expect(page.locator(".flash-success")).to_contain_text("You confirmed it is another site")
    new_id = page.evaluate("location.pathname").removeprefix("/facilities/")
    assert FACILITY_ID.match(new_id) and new_id.startswith("NO")


def test_phone_shows_the_menu_and_a_readable_register(
        new_page: Callable[..., Any], artifacts: Path) -> None:
    page = new_page(390, 844)
    page.goto("/register")
    expect(page.locator(".nav-wide")).to_be_hidden()
    menu = page.locator(".nav-compact > summary")
    expect(menu).to_be_visible()
    menu.click()
    panel = page.locator(".nav-compact .nav-panel")
    expect(panel.get_by_role("link", name="Facilities")).to_be_visible()
    expect(panel.get_by_role("link", name="Log in")).to_be_visible()
    page.screenshot(path=str(artifacts / "phone-menu.png"))
    menu.click()

    first = page.locator("table.data tbody tr").first
    expect(first).to_be_visible()
    expect(first.locator("td[data-label='Country']")).to_be_visible()
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px on a phone"
    page.screenshot(path=str(artifacts / "phone-register.png"), full_page=True)

    first.get_by_role("link").click()
    expect(page.locator("h1")).to_be_visible()
    assert page.url.rsplit("/", 2)[-2] == "organizations"
