"""A CoC document in Chromium, on the demo world: Rheinfeld's rolling mill issues can
sheet to Corvina Latas from its dashboard, Corvina's admin confirms it on a phone, and
anyone opens the public verification page, signed out."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser

ISSUER = "katharina.vogt@rheinfeld-rolling.example"
RECIPIENT = "ana.lopes@corvina-latas.example"


def _choose_entity(page: Any, name: str) -> None:
    chooser = page.locator("form.entity-chooser")
    if chooser.count():
        option = chooser.locator("option", has_text=name).first
        chooser.locator("select").select_option(option.get_attribute("value"))
        chooser.get_by_role("button", name="Show").click()


def test_issue_receive_and_verify_a_coc_document(new_page: Any, artifacts: Path) -> None:
    # 1. the issuer: a balance to spend, then the issue form
    issuer = new_page()
    log_in(issuer, ISSUER)
    issuer.goto("/custody")
    _choose_entity(issuer, "Rheinfeld Walzwerk GmbH")
    expect(issuer.locator("h1")).to_contain_text("Rheinfeld Walzwerk GmbH")
    expect(issuer.locator("table.balances")).to_contain_text("ASI Aluminium")
    form = issuer.locator("#issue form")
    recipient = form.locator("#field-recipient_entity_id option",
                             has_text="Corvina Latas S.A.").first
    form.locator("#field-recipient_entity_id").select_option(recipient.get_attribute("value"))
    form.locator("#field-material").select_option("asi_aluminium")
    # first an over-claim: refused beside the field, nothing stored
    form.locator("#field-quantity_kg").fill("999000000000")
    form.locator("#field-coc_quantity_kg").fill("999000000000")
    form.get_by_role("button", name=re.compile("Issue")).click()
    expect(issuer.locator("#error-coc_quantity_kg")).to_contain_text(
        "exceeds the available balance")
    form = issuer.locator("#issue form")
    form.locator("#field-quantity_kg").fill("12000")
    form.locator("#field-coc_quantity_kg").fill("10000")
    form.get_by_role("button", name=re.compile("Issue")).click()
    expect(issuer.locator(".flash-success")).to_be_visible()
    heading = issuer.locator("h1 .mono")
    number = heading.inner_text().strip()
    assert re.fullmatch(r"COC-\d{4}-[0-9A-Z]{9}", number), number
    expect(issuer.locator("h1")).to_contain_text("Issued")
    expect(issuer.locator(".qr-card svg")).to_be_visible()
    issuer.screenshot(path=str(artifacts / "custody-document-issued.png"), full_page=True)

    # 2. the recipient, on a phone: the document waits on the dashboard; receive it
    recipient_page = new_page(390, 844)
    log_in(recipient_page, RECIPIENT)
    recipient_page.goto("/custody")
    _choose_entity(recipient_page, "Corvina Latas S.A.")
    card = recipient_page.locator("li.card", has_text=number)
    expect(card).to_contain_text("10.0 t")  # tonnes, the exact kilograms on hover
    assert card.locator("[title='10,000 kg']").count() >= 1
    card.get_by_role("button", name="Receive").click()
    expect(recipient_page.locator(".flash-success")).to_contain_text("is received")
    expect(recipient_page.locator("h1")).to_contain_text("Received")
    recipient_page.screenshot(path=str(artifacts / "custody-document-received-phone.png"),
                              full_page=False)

    # 3. anyone: the public verification page, signed out
    public = new_page()
    public.goto("/verify/coc")
    public.fill("input[name='number']", number.lower())
    public.get_by_role("button", name=re.compile("Verify|Check|Look")).click()
    expect(public.locator("h1")).to_contain_text(number)
    verdict = public.locator(".verdict .flash-success").first  # good news, success colours
    expect(verdict).to_contain_text("Valid on the shipment date")
    expect(verdict).to_contain_text("held valid Performance and Chain of Custody certificates")
    expect(public.locator("body")).to_contain_text("Rheinfeld Walzwerk GmbH")
    expect(public.locator("body")).to_contain_text("Corvina Latas S.A.")
    expect(public.locator("body")).to_contain_text("The recipient confirmed receipt")
    expect(public.get_by_role("heading", name="Origin composition")).to_be_visible()
    public.screenshot(path=str(artifacts / "custody-verify.png"), full_page=True)


def test_the_typical_yield_help_runs_under_the_content_security_policy(page: Any) -> None:
    # The help is a static script (no inline script is allowed): choosing a transformation
    # puts its typical yield beside the total output.
    log_in(page, ISSUER)
    page.goto("/custody/record/transformation")
    _choose_entity(page, "Rheinfeld Walzwerk GmbH")
    help_text = page.locator("#help-total_output_kg")
    before = help_text.inner_text()
    select = page.locator("#field-transformation")
    choice = select.locator("option").nth(1).get_attribute("value")
    select.select_option(choice)
    expect(help_text).not_to_have_text(before)
    expect(help_text).to_contain_text(re.compile(r"\d"))


def test_the_annual_report_fits_a_laptop_screen_and_prints_every_column(
        new_page: Any, artifacts: Path) -> None:
    page = new_page(1366, 900)
    log_in(page, ISSUER)
    page.goto("/custody/report")
    filters = page.locator("form.filters")
    chooser = filters.locator("#field-entity")
    if chooser.count():
        option = chooser.locator("option", has_text="Rheinfeld Walzwerk GmbH").first
        chooser.select_option(option.get_attribute("value"))
    year = filters.locator("#field-year")
    year.fill(str(int(year.input_value()) - 1))  # the demo's last full year
    filters.get_by_role("button", name="Show").click()
    expect(page.locator("h1")).to_contain_text("Annual CoC report")
    expect(page.locator("article.report table").first).to_be_visible()
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= 1366, f"the report scrolls sideways: {wide} px"
    for table in page.locator("article.report .table-wrap").all():
        assert table.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), "a table scrolls"
    page.screenshot(path=str(artifacts / "custody-report-1366.png"), full_page=True)

    page.emulate_media(media="print")
    assert page.locator(".site-header").evaluate("e => getComputedStyle(e).display") == "none"
    assert page.locator("form.filters").evaluate("e => getComputedStyle(e).display") == "none"
    for head in page.locator("article.report thead").all():
        assert head.evaluate("e => getComputedStyle(e).display") == "table-header-group"
    headings = page.locator("article.report th[scope='col']")
    assert headings.count() >= 13  # the two material tables at least
    for i in range(headings.count()):
        assert headings.nth(i).is_visible()
    page.screenshot(path=str(artifacts / "custody-report-print.png"), full_page=True)
