"""The public certificate register in Chromium, on the demo world: browse and filter the
register, open a certificate and see its QR code, status history and PDF link."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_visitor_browses_filters_and_opens_a_certificate(page: Any, artifacts: Path) -> None:
    page.goto("/certificates")
    expect(page.locator("h1")).to_have_text("Certificate register")
    rows = page.locator("table.certificates tbody tr")
    expect(rows.first).to_be_visible()
    assert rows.count() >= 4
    expect(page.locator("svg.chart")).to_have_count(3)
    page.screenshot(path=str(artifacts / "certificate-register.png"), full_page=True)

    page.select_option("#field-kind", "chain_of_custody")
    page.get_by_role("button", name="Filter").click()
    # the demo's value chain, three of each: mines and refineries, smelters with casthouses,
    # remelters, rolling mills (Rheinfeld's German and US mills), can plants
    expect(rows).to_have_count(15)
    expect(rows.filter(has_text="Rheinfeld Rolling Group")).to_have_count(2)
    export = page.get_by_role("link", name="Download these 15 as CSV")
    assert "kind=chain_of_custody" in (export.get_attribute("href") or "")

    page.get_by_role("link", name="Clear").click()
    page.select_option("#field-status", "suspended")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Lindtal Remelt")

    page.select_option("#field-status", "")
    page.select_option("#field-country", "NO")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(4)  # Fjordal's and Sandvær's Performance and CoC certificates
    fjordal = rows.filter(has_text="Fjordal Aluminium")
    fjordal.filter(has_text="STW-PS-").first.get_by_role("link").first.click()

    expect(page.locator("h1")).to_contain_text("STW-PS-")
    expect(page.locator(".qr svg")).to_be_visible()
    expect(page.get_by_text("Fjordal Smelter")).to_be_visible()
    expect(page.locator("section[aria-labelledby='history-heading']")).to_contain_text(
        "after audit")
    expect(page.get_by_role("link", name="Download PDF")).to_have_attribute(
        "href", page.url.split("/certificates/")[1].join(["/certificates/", ".pdf"]))
    expect(page.locator("section[aria-labelledby='claims-heading']")).to_contain_text(
        "certified against the Performance Standard")
    page.screenshot(path=str(artifacts / "certificate-page.png"), full_page=True)


def test_suspended_certificate_and_claims_are_public(page: Any, artifacts: Path) -> None:
    page.goto("/certificates?status=suspended")
    page.locator("table.certificates tbody tr").first.get_by_role("link").first.click()
    expect(page.get_by_role("status")).to_contain_text("This certificate is suspended")
    expect(page.locator("section[aria-labelledby='history-heading']")).to_contain_text(
        "scrap sourcing")
    page.goto("/claims")
    expect(page.locator("tbody tr")).to_have_count(2)
    expect(page.locator("tbody")).to_contain_text("On-product")
    page.goto("/register/findings?rating=major")
    expect(page.locator("tbody tr")).to_have_count(2)
    expect(page.locator("tbody")).to_contain_text("Sonkhal Aluminium")
    page.screenshot(path=str(artifacts / "findings-register.png"), full_page=True)
