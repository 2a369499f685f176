"""Carbon in Chromium, on the demo world: a smelter's member records an inventory through
the form (fixing the error it is shown on the way) and reads its intensity and threshold
check; the car maker's buyer opens a CoC document and reads its footprint, table and
drawing, on a laptop and on a phone without scrolling sideways; anyone reads the public
smelter board and follows a smelter to its facility page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in
from tests.today import TODAY

pytestmark = pytest.mark.browser

MEMBER = "erik.nygard@fjordal.example"
BUYER = "haruka.ishida@hoshikawa-motor.example"
YEAR = TODAY.year - 4  # before any inventory of the demo's
DESKTOP = (1366, 900)
PHONE = (390, 844)


def _no_sideways_scroll(page: Any, where: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    inner = page.evaluate("window.innerWidth")
    assert width <= inner, f"{where}: the page is {width}px wide in a {inner}px window"
    for selector in (".footprint .table-wrap", ".footprint .chart-scroll"):
        for box in page.locator(selector).all():
            assert box.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), \
                f"{where}: {selector} scrolls sideways"


def test_a_member_records_an_inventory_and_reads_its_intensity_and_check(
        new_page: Any, artifacts: Path) -> None:
    page = new_page(*DESKTOP)
    log_in(page, MEMBER)
    page.goto("/carbon/inventories")
    page.get_by_role("link", name="Record an inventory").click()
    expect(page.locator("h1")).to_contain_text("inventory")
    page.fill("#field-period_start", f"{YEAR}-01-01")
    page.fill("#field-period_end", f"{YEAR}-12-31")
    page.fill("#field-scope1_t", "682000")
    page.fill("#field-pfc_t", "42000")
    page.select_option("#field-pfc_method", "slope")
    page.fill("#field-commissioned_year", "1968")
    page.fill("#field-electricity_mwh", "6300000")
    page.fill("#field-electricity_factor_t_per_mwh", "0.011")
    page.fill("#field-electricity_factor_source", "hydropower supply contract")
    page.fill("#field-output_kg_smelting", "420,000 t")  # not kilograms: refused
    page.fill("#field-method", "GHG Protocol Corporate Standard")
    page.get_by_role("button", name="Record the inventory").click()
    expect(page.locator("#error-summary")).to_be_visible()
    expect(page.locator("#error-output_kg_smelting")).to_be_visible()
    # what was typed stays; the one field fixed, the form goes through
    expect(page.locator("#field-electricity_factor_source")).to_have_value(
        "hydropower supply contract")
    page.fill("#field-output_kg_smelting", "420000000")
    page.get_by_role("button", name="Record the inventory").click()
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator("h1")).to_contain_text(str(YEAR))
    body = page.locator("main")
    # (682,000 + 42,000 + 6,300,000 x 0.011) t CO2e over 420,000 t Al
    expect(body).to_contain_text("1.889")
    expect(page.locator("#check-heading")).to_be_visible()
    expect(body).to_contain_text("At or below the threshold")
    page.screenshot(path=str(artifacts / "carbon-inventory-recorded.png"), full_page=True)
    # the list shows it with its intensity; the entity's page, from the organisation's
    page.goto("/carbon/inventories")
    row = page.locator("tr", has_text=f"{YEAR}")
    expect(row.first).to_contain_text("1.889")
    page.goto("/organizations/fjordal-aluminium")
    page.locator("a[href*='/carbon/inventories?entity=']").first.click()
    expect(page.locator("h1")).to_contain_text("Fjordal Aluminium AS")
    expect(page.locator("#issued-heading")).to_be_visible()
    expect(page.locator(".carbon-issued table")).to_contain_text("COC-")


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_buyer_reads_a_documents_footprint_breakdown(new_page: Any, artifacts: Path,
                                                       size: tuple[int, int]) -> None:
    page = new_page(*size)
    log_in(page, BUYER)
    page.goto("/custody/documents?direction=incoming")
    link = page.locator("a[href^='/custody/documents/COC-']").first
    number = link.get_attribute("href").rsplit("/", 1)[-1]
    page.goto(f"/custody/documents/{number}")
    expect(page.locator("h1")).to_contain_text(number)
    section = page.locator("section.footprint")
    expect(section.locator("h2")).to_have_text("Carbon footprint")
    headline = section.locator("[data-footprint]")
    value = headline.get_attribute("data-footprint")
    assert value is not None and re.fullmatch(r"\d+\.\d+", value), value
    expect(headline).to_contain_text("kg CO2e per kg")
    drawing = section.locator("svg").first
    expect(drawing).to_be_visible()
    box = drawing.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 20
    assert box["x"] >= 0 and box["x"] + box["width"] <= size[0] + 1
    table = section.locator("table.footprint-tiers")
    expect(table).to_be_visible()
    tiers = table.locator("tbody tr")
    assert tiers.count() >= 3  # the mill, the smelter and casthouse, upstream
    expect(tiers.first).to_contain_text("Rolling")
    expect(table.locator("tfoot")).to_contain_text(value)
    _no_sideways_scroll(page, f"document {number} at {size[0]}px")
    page.screenshot(path=str(artifacts / f"carbon-footprint-{size[0]}.png"), full_page=True)


def test_the_public_smelter_board_links_each_smelter_to_its_facility(
        new_page: Any, artifacts: Path) -> None:
    page = new_page(*DESKTOP)
    page.goto("/carbon")
    expect(page.locator("h1")).to_contain_text("Smelters")
    board = page.locator("table.data")
    expect(board).to_contain_text("Sonkhal")
    flagged = board.locator("tr.problem", has_text="Sonkhal")
    expect(flagged).to_have_count(1)
    expect(board.locator("tr.ok", has_text="Fjordal")).to_have_count(1)
    page.screenshot(path=str(artifacts / "carbon-board.png"), full_page=True)
    row = board.locator("tr", has_text="Fjordal")
    link = row.locator("a[href^='/facilities/']").first
    expect(link).to_have_text("Fjordal Aluminium AS")  # an entity-wide inventory
    target = link.get_attribute("href")
    assert target is not None and re.fullmatch(r"/facilities/[A-Z0-9]+", target), target
    page.goto(target)
    expect(page.locator("h1")).to_contain_text("Fjordal Smelter")
    phone = new_page(*PHONE)
    phone.goto("/carbon")
    expect(phone.locator("table.data")).to_contain_text("Sonkhal")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= phone.evaluate("window.innerWidth")
