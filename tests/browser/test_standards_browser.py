"""The standards pages in Chromium, on the demo world: an anonymous visitor comments on
the open consultation, the result of the closed vote, and the diff between versions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_anonymous_visitor_comments_on_the_open_consultation(page: Any,
                                                             artifacts: Path) -> None:
    page.goto("/consultations")
    open_list = page.locator("section[aria-labelledby='open-heading']")
    open_list.get_by_role("link", name="Chain of Custody Standard version 3").click()
    expect(page.locator("h1")).to_have_text("Chain of Custody Standard version 3")
    revision_url = page.url

    page.get_by_role("link", name="Comment on the draft").click()
    clause = page.locator("#field-criterion option").nth(3)
    clause_number = clause.get_attribute("value")
    page.select_option("#field-criterion", clause_number)
    page.fill("#field-body", "Please give an example of a compliant CoC document for this "
                             "clause, so that small remelters can follow it.")
    page.fill("#field-name", "Noor Haddad")
    page.fill("#field-contact_email", "noor.haddad@remelt-forum.example")
    page.get_by_role("button", name="Send comment").click()

    expect(page).to_have_url(revision_url)
    expect(page.locator(".flash-success")).to_have_text("Thank you, your comment was received.")
    page.screenshot(path=str(artifacts / "consultation-comment-sent.png"), full_page=False)
    # Comments are published with their responses once the round closes, not before.
    synopsis = page.locator("section[aria-labelledby='synopsis-heading']")
    expect(synopsis).to_contain_text("The synopsis is published when a consultation round closes")
    expect(page.get_by_text("Noor Haddad")).to_have_count(0)


def test_closed_vote_page_shows_the_result_the_chambers_and_the_roll(
        new_page: Any, artifacts: Path) -> None:
    page = new_page()
    page.goto("/consultations")
    past = page.locator("section[aria-labelledby='past-heading']")
    past.get_by_role("link", name=re.compile("Performance Standard version 4")).click()
    page.get_by_role("link", name=re.compile(r"^Vote opened")).click()

    expect(page.locator("h1")).to_have_text("Vote of the standard-setting body")
    expect(page.locator(".vote-result")).to_have_text("PASSED")
    chambers = page.locator("section[aria-labelledby='chambers-heading'] tbody tr")
    expect(chambers).to_have_count(4)
    expect(chambers.first).to_contain_text("Industry upstream")
    roll = page.locator("section[aria-labelledby='roll-heading'] tbody tr")
    expect(roll).to_have_count(10)
    expect(roll.filter(has_text="Sigrid Haugland")).to_contain_text("Abstain")
    expect(page.locator(".facts")).to_contain_text("Met (10 of 10 took part)")
    expect(page.locator("form[action$='/ballot']")).to_have_count(0)
    page.screenshot(path=str(artifacts / "standards-vote.png"), full_page=True)

    phone = new_page(390, 844)
    phone.goto(page.url)
    expect(phone.locator(".vote-result")).to_have_text("PASSED")
    first = phone.locator("section[aria-labelledby='roll-heading'] tbody tr").first
    expect(first.locator("td[data-label='Vote']")).to_be_visible()
    phone.screenshot(path=str(artifacts / "standards-vote-phone.png"), full_page=True)


def test_diff_page_shows_what_changed_between_versions(page: Any, artifacts: Path) -> None:
    page.goto("/standards")
    page.get_by_role("link", name="What changed from v2 to v3").click()
    expect(page.locator("h1")).to_have_text("What changed from v2 to v3")
    added = page.locator("section[aria-labelledby='added'] li")
    expect(added.filter(has_text="GHG pathway and reduction plan")).to_contain_text("5.3")
    removed = page.locator("section[aria-labelledby='removed'] li")
    expect(removed.filter(has_text="GHG reduction targets")).to_contain_text("5.3")
    expect(page.locator("section[aria-labelledby='renumbered'] tbody tr").first).to_contain_text(
        "→ 3.2")
    expect(page.locator("section[aria-labelledby='reworded'] ins").first).to_be_visible()
    page.screenshot(path=str(artifacts / "standards-diff.png"), full_page=True)

    page.select_option("#field-from", "3")
    page.select_option("#field-to", "2")
    page.get_by_role("button", name="Compare").click()
    expect(page).to_have_url(re.compile(r"from=3&to=2$"))
    expect(page.locator("h1")).to_have_text("What changed from v3 to v2")
