"""The main path of the roles the other browser tests do not walk, on the demo world, with a
screenshot of each step under test-artifacts/paths/: a buyer at the car maker takes the
number of a CoC document it received and, signed out like any visitor, verifies it and its
issuer's certificate (on a phone too); the demo auditor rates a criterion of the audit in
progress; a standard-setting body member reads the open consultation. (The member admin's
scope and self-assessment, the member user's issue and receipt, and the secretariat's
review and decision are walked in test_assurance_flow_browser.py and
test_custody_browser.py.)"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser

BUYER = "haruka.ishida@hoshikawa-motor.example"
AUDITOR = "rohan.mehta@coralsea-audit.example"
BODY_MEMBER = "mariama.soumah@bauxite-communities-watch.example"


@pytest.fixture(scope="module")
def shots(artifacts: Path) -> Path:
    folder = artifacts / "paths"
    folder.mkdir(exist_ok=True)
    return folder


def test_buyer_verifies_a_received_document_and_its_issuers_certificate(
        new_page: Callable[..., Any], shots: Path) -> None:
    buyer = new_page(1366, 900)
    log_in(buyer, BUYER)
    expect(buyer.locator(".page-header")).to_contain_text("Hoshikawa Motor")
    buyer.screenshot(path=str(shots / "buyer-1-dashboard.png"), full_page=True)
    buyer.goto("/custody/documents")
    link = buyer.locator("a[href^='/custody/documents/COC-']").first
    number = link.inner_text().strip()
    assert re.fullmatch(r"COC-\d{4}-[A-Z0-9]+", number), number
    buyer.screenshot(path=str(shots / "buyer-2-documents.png"), full_page=True)

    for width, height, device in ((1366, 900, "desktop"), (390, 844, "phone")):
        visitor = new_page(width, height)
        visitor.goto("/verify")
        visitor.fill("#field-number", number)
        visitor.get_by_role("button", name="Verify").click()
        expect(visitor).to_have_url(re.compile(f"/verify/coc/{number}$"))
        expect(visitor.locator("h1")).to_contain_text(number)
        expect(visitor.locator("main")).to_contain_text("Hoshikawa Motor")
        visitor.screenshot(path=str(shots / f"buyer-3-coc-verified-{device}.png"),
                           full_page=True)

        certificate = visitor.locator("main a[href^='/certificates/STW-']").first
        wanted = certificate.inner_text().strip()
        visitor.goto("/verify")
        visitor.fill("#field-number", wanted)
        visitor.get_by_role("button", name="Verify").click()
        expect(visitor).to_have_url(re.compile(f"/certificates/{wanted}$"))
        expect(visitor.locator("h1")).to_contain_text(wanted)
        visitor.screenshot(path=str(shots / f"buyer-4-certificate-{device}.png"),
                           full_page=True)


def test_demo_auditor_rates_a_criterion_of_the_audit_in_progress(
        new_page: Callable[..., Any], shots: Path) -> None:
    auditor = new_page(1366, 900)
    log_in(auditor, AUDITOR)
    auditor.screenshot(path=str(shots / "auditor-1-dashboard.png"), full_page=True)
    auditor.goto("/assurance/audits")
    row = auditor.locator("tr").filter(has_text="Kebbe")
    expect(row).to_have_count(1)
    row.get_by_role("link").first.click()
    expect(auditor.locator("main")).to_contain_text("Kebbe")
    auditor.screenshot(path=str(shots / "auditor-2-audit.png"), full_page=True)
    auditor.goto(auditor.url.split("?")[0] + "/ratings")

    ratings = auditor.locator("select[name^='rating-']")
    unrated = [s for s in ratings.all() if s.input_value() == ""]
    rated = ratings.count() - len(unrated)
    assert rated > 0 and unrated, "the audit in progress has some criteria rated, not all"
    choice = unrated[0]
    criterion = (choice.get_attribute("name") or "").removeprefix("rating-")
    choice.select_option("conformance")
    auditor.screenshot(path=str(shots / "auditor-3-rating.png"), full_page=False)
    choice.locator("xpath=ancestor::form").get_by_role(
        "button", name=re.compile(r"^Save the ratings")).click()
    expect(auditor.locator(".flash-success")).to_be_visible()
    saved = auditor.locator(f"select[name='rating-{criterion}']").first
    expect(saved).to_have_value("conformance")
    auditor.screenshot(path=str(shots / "auditor-4-saved.png"), full_page=True)


def test_body_member_reads_the_open_consultation(new_page: Callable[..., Any],
                                                 shots: Path) -> None:
    member = new_page(390, 844)
    log_in(member, BODY_MEMBER)
    member.screenshot(path=str(shots / "body-member-1-dashboard.png"), full_page=True)
    member.goto("/consultations")
    member.locator("main a[href^='/consultations/']").first.click()
    expect(member.locator("h1")).to_contain_text("Chain of Custody")
    member.screenshot(path=str(shots / "body-member-2-consultation.png"), full_page=True)
