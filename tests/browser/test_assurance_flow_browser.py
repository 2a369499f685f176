"""The certification flow in Chromium, on the demo world: Fjordal's member admin defines a
scope for its smelter, answers the self-assessment, plans an audit with Coral Sea Audit
(accredited for Norway and smelting) and sends the plan; its lead auditor starts the
audit, rates every applicable criterion and submits the report. A second walk goes on to
the certificate: Estrusi Valsorda's recertification audit by Thistlebrook Assurance, held
last week, is rated, submitted, reviewed and decided by the secretariat."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in
from tests.today import TODAY

pytestmark = pytest.mark.browser

ADMIN = "admin@fjordal.example"
LEAD_AUDITOR = "rohan.mehta@coralsea-audit.example"


def test_from_scope_definition_to_a_submitted_audit_report(new_page: Any,
                                                            artifacts: Path) -> None:
    member = new_page(390, 844)  # a phone
    log_in(member, ADMIN)
    member.goto("/assurance/scopes")
    expect(member.locator("h1")).to_have_text("Certification scopes")

    # 1. the scope: the smelter alone, smelting, the first usable Performance version
    member.select_option("#field-entity_id", index=1)
    member.locator("#field-facilities").get_by_label(re.compile(r"Fjordal Smelter")).check()
    member.locator("#field-activities").get_by_label("Smelting", exact=True).check()
    version = member.locator("#field-standard_version option[value^='performance:']").first
    member.select_option("#field-standard_version", version.get_attribute("value"))
    member.fill("#field-name", "Fjordal smelter, browser flow")
    member.get_by_role("button", name="Define the scope").click()
    expect(member.locator(".flash-success")).to_contain_text("is defined")
    expect(member.locator("h1")).to_have_text("Fjordal smelter, browser flow")
    scope_url = member.url
    member.screenshot(path=str(artifacts / "assurance-scope-phone.png"), full_page=False)

    # 2. the self-assessment: one answer, saved with the page's one button; progress moves
    member.get_by_role("link", name="Self-assessment").click()
    first = member.locator("article.card").first
    first.locator("select[name^='rating-']").select_option("conformance")
    first.locator("textarea[name^='narrative-']").fill("Energy procedure in place since 2024.")
    member.get_by_role("button", name="Save all answers").click()
    expect(member.locator(".flash-success")).to_contain_text("1 answer(s) saved")
    expect(member.locator("#sa-progress")).to_have_attribute("value", "1")
    member.screenshot(path=str(artifacts / "assurance-self-assessment-phone.png"),
                      full_page=False)

    # 3. the audit: an initial certification audit held today, whose plan reached the
    # secretariat by e-mail seven weeks ago (work on an audit opens on its start date and
    # its report waits for its last day)
    member.goto(scope_url)
    firm = member.locator("#field-audit_firm option", has_text="Coral Sea Audit")
    member.select_option("#field-audit_firm", firm.get_attribute("value"))
    lead = member.locator("#field-lead_auditor_id option", has_text="Rohan Mehta")
    member.select_option("#field-lead_auditor_id", lead.get_attribute("value"))
    member.select_option("#field-audit_type", "certification")
    member.fill("#field-start_on", TODAY.isoformat())
    member.fill("#field-end_on", TODAY.isoformat())
    member.get_by_role("button", name="Plan the audit").click()
    expect(member.locator(".flash-success")).to_contain_text("is planned")
    expect(member.locator("#start-refusal")).to_contain_text("cannot start yet")
    audit_url = member.url
    member.fill("#field-plan", "Day 1 opening meeting and potline tour; interviews; "
                              "records; closing meeting.")
    member.get_by_role("button", name="Send the plan to the secretariat").click()
    expect(member.locator(".flash-success")).to_contain_text("reached the secretariat")
    expect(member.locator("#start-refusal")).to_contain_text("cannot start yet")

    staff = new_page()
    log_in(staff, SECRETARIAT)
    staff.goto(audit_url)
    staff.fill("#field-received_on", (TODAY - timedelta(days=49)).isoformat())
    staff.fill("#field-note", "Received by e-mail from the lead auditor")
    staff.get_by_role("button", name="Record the plan as received").click()
    expect(staff.locator(".flash-success")).to_contain_text("recorded as received")
    member.goto(audit_url)
    expect(member.locator("#start-refusal")).to_contain_text("may start")

    # 4. the lead auditor: sees the audit, starts it, rates everything, submits
    auditor = new_page()
    log_in(auditor, LEAD_AUDITOR)
    auditor.get_by_role("link", name="Audits", exact=True).first.click()
    auditor.get_by_role("link", name="Fjordal smelter, browser flow").first.click()
    expect(auditor).to_have_url(audit_url)
    auditor.get_by_role("button", name="Start the audit").click()
    expect(auditor.locator(".flash-success")).to_contain_text("in progress")

    summary = ("The smelter was audited against every applicable criterion; no "
               "non-conformance was found.")
    auditor.select_option("#field-proposed_maturity", "high")
    auditor.fill("#field-public_summary", summary)
    auditor.get_by_role("button", name="Submit the report").click()
    expect(auditor.locator("#error-summary")).to_contain_text(
        "criterion rating(s) are missing")

    # beside each criterion: its requirement and what the member answered itself
    first_row = auditor.locator("th.rating-criterion").first
    expect(first_row.locator("details.requirement summary")).to_contain_text("Requirement:")
    expect(first_row.locator(".self-assessment")).to_contain_text("Conformance")
    expect(first_row.locator(".self-assessment")).to_contain_text("Energy procedure")
    auditor.locator("select[name^='rating-']").first.select_option("conformance")
    auditor.get_by_role("button", name=re.compile(r"^Save the ratings at ")).click()
    expect(auditor.locator(".flash-success")).to_contain_text("rated")
    # the rest in one go, after a confirmation step
    auditor.get_by_role("link", name=re.compile(r"^Mark the rest conformant")).click()
    expect(auditor.locator("h1")).to_have_text("Mark the rest conformant")
    auditor.get_by_role("button", name=re.compile(r"^Mark \d+ conformant")).click()
    expect(auditor.locator(".form-errors")).to_contain_text("Tick the box to confirm")
    auditor.get_by_label(re.compile(r"^I confirm that these")).check()
    auditor.get_by_role("button", name=re.compile(r"^Mark \d+ conformant")).click()
    expect(auditor.locator(".flash-success")).to_contain_text("marked conformant")
    progress = auditor.locator("#rating-progress")
    expect(progress).to_have_attribute("value", progress.get_attribute("max") or "x")
    auditor.screenshot(path=str(artifacts / "assurance-ratings.png"), full_page=False)

    auditor.select_option("#field-proposed_maturity", "high")
    auditor.fill("#field-public_summary", summary)
    auditor.get_by_role("button", name="Submit the report").click()
    expect(auditor.locator(".flash-success")).to_contain_text("report is submitted")
    expect(auditor.locator(".badge").first).to_have_text("Submitted")

    member.goto(audit_url)
    expect(member.locator(".facts")).to_contain_text("Submitted")
    member.screenshot(path=str(artifacts / "assurance-audit-submitted-phone.png"),
                      full_page=True)


VALSORDA_ADMIN = "giulia.ferraresi@estrusi-valsorda.example"
THISTLEBROOK_LEAD = "harriet.lowe@thistlebrook.example"
SECRETARIAT = "secretariat@stewardship.example"


def test_from_scope_definition_to_a_certificate(new_page: Any, artifacts: Path) -> None:
    """Estrusi Valsorda's extrusion plant (Italy, semi-fabrication) is audited by Thistlebrook
    Assurance (accredited for both) in a recertification audit that ended last week, so no
    plan notice applies and the secretariat can decide at once."""
    name = "Valsorda Castel Mella, browser certificate"
    member = new_page()
    log_in(member, VALSORDA_ADMIN)
    member.goto("/assurance/scopes")
    expect(member.locator("h1")).to_have_text("Certification scopes")

    # 1. the scope: one extrusion plant, semi-fabrication, Performance version 3
    member.select_option("#field-entity_id", index=1)
    member.locator("#field-facilities").get_by_label(
        re.compile(r"Valsorda Extrusion Plant Castel Mella")).check()
    member.locator("#field-activities").get_by_label("Semi-fabrication", exact=True).check()
    member.select_option("#field-standard_version", "performance:3")
    member.fill("#field-name", name)
    member.get_by_role("button", name="Define the scope").click()
    expect(member.locator(".flash-success")).to_contain_text("is defined")
    expect(member.locator("h1")).to_have_text(name)

    # 2. the audit: a recertification audit held 10 to 7 days ago; no notice is required
    firm = member.locator("#field-audit_firm option", has_text="Thistlebrook Assurance")
    member.select_option("#field-audit_firm", firm.get_attribute("value"))
    lead = member.locator("#field-lead_auditor_id option", has_text="Harriet Lowe")
    member.select_option("#field-lead_auditor_id", lead.get_attribute("value"))
    member.select_option("#field-audit_type", "recertification")
    start = TODAY - timedelta(days=10)
    member.fill("#field-start_on", start.isoformat())
    member.fill("#field-end_on", (start + timedelta(days=3)).isoformat())
    member.get_by_role("button", name="Plan the audit").click()
    expect(member.locator(".flash-success")).to_contain_text("is planned")
    expect(member.locator("#start-refusal")).to_contain_text("may start")
    audit_url = member.url

    # 3. the lead auditor: starts, rates every applicable criterion, submits the report
    auditor = new_page()
    log_in(auditor, THISTLEBROOK_LEAD)
    auditor.get_by_role("link", name="Audits", exact=True).first.click()
    auditor.get_by_role("link", name=name).first.click()
    expect(auditor).to_have_url(audit_url)
    auditor.get_by_role("button", name="Start the audit").click()
    expect(auditor.locator(".flash-success")).to_contain_text("in progress")
    # beside each criterion: its requirement and what the member answered itself
    first_row = auditor.locator("th.rating-criterion").first
    expect(first_row.locator("details.requirement summary")).to_contain_text("Requirement:")
    expect(first_row.locator(".self-assessment")).to_contain_text("not answered")
    auditor.locator("select[name^='rating-']").first.select_option("conformance")
    auditor.get_by_role("button", name=re.compile(r"^Save the ratings at ")).click()
    expect(auditor.locator(".flash-success")).to_contain_text("rated")
    # the rest in one go, after a confirmation step
    auditor.get_by_role("link", name=re.compile(r"^Mark the rest conformant")).click()
    expect(auditor.locator("h1")).to_have_text("Mark the rest conformant")
    auditor.get_by_role("button", name=re.compile(r"^Mark \d+ conformant")).click()
    expect(auditor.locator(".form-errors")).to_contain_text("Tick the box to confirm")
    auditor.get_by_label(re.compile(r"^I confirm that these")).check()
    auditor.get_by_role("button", name=re.compile(r"^Mark \d+ conformant")).click()
    expect(auditor.locator(".flash-success")).to_contain_text("marked conformant")
    progress = auditor.locator("#rating-progress")
    expect(progress).to_have_attribute("value", progress.get_attribute("max") or "x")
    auditor.select_option("#field-proposed_maturity", "high")
    auditor.fill("#field-public_summary", "The extrusion plant was audited against every "
                                          "applicable criterion; no non-conformance.")
    auditor.get_by_role("button", name="Submit the report").click()
    expect(auditor.locator(".flash-success")).to_contain_text("report is submitted")

    # 4. the secretariat: finds the report in its queue, reviews it and decides
    secretariat = new_page()
    log_in(secretariat, SECRETARIAT)
    secretariat.goto("/secretariat/audits")
    expect(secretariat.locator("h1")).to_have_text(
        "Audit reports awaiting review and decision")
    secretariat.get_by_role("link", name=name).first.click()
    expect(secretariat).to_have_url(audit_url)
    secretariat.fill("#decide textarea[name='note']", "Report complete.")
    secretariat.get_by_role("button", name="Record the review").click()
    expect(secretariat.locator(".flash-success")).to_contain_text("is reviewed")
    secretariat.get_by_role("button", name="Decide", exact=True).click()
    flash = secretariat.locator(".flash-success")
    expect(flash).to_contain_text("Decision: certified, maturity high; certificate ")
    found = re.search(r"certificate (\S+) valid until", flash.inner_text())
    assert found, flash.inner_text()
    number = found.group(1)

    # 5. the certificate: opened through the audit page's link
    secretariat.locator(".facts").get_by_role("link", name=number).click()
    expect(secretariat).to_have_url(re.compile(rf"/certificates/{re.escape(number)}$"))
    expect(secretariat.locator("h1")).to_contain_text(number)
    facts = secretariat.locator(".facts")
    expect(facts.locator(".fact", has_text="Certificate number")).to_contain_text(number)
    expect(facts.locator(".fact", has_text="Status today")).to_contain_text(
        re.compile("active", re.IGNORECASE))
    expect(secretariat.locator(".qr-card .qr svg")).to_be_visible()
    secretariat.screenshot(path=str(artifacts / "assurance-certificate.png"), full_page=False)
