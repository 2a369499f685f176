"""A failed submit in Chromium: the error summary takes the focus at the top of the page,
the address is the form's own page (not the POST's), a reload shows that page afresh
without sending the form again, and a summary link moves the focus into its field. A
success is a redirect, so a reload after it does not send the form again either."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import log_in


def _my_organisation(page: Any) -> str:
    log_in(page, "admin@fjordal.example")
    page.locator(".nav-wide").get_by_role("link", name="My organisation").click()
    expect(page.locator("#field-entity_name")).to_be_visible()
    path: str = page.evaluate("location.pathname")
    assert re.fullmatch(r"/organizations/[a-z0-9-]+", path)
    return path


def _methods_of_navigations(page: Any) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.method)
            if request.is_navigation_request() else None)
    return seen


def test_a_failed_submit_focuses_the_summary_at_the_top_under_the_forms_address(
        page: Any, artifacts: Path) -> None:
    home = _my_organisation(page)
    page.locator("#field-entity_name").fill("   ")  # past the browser's own check
    page.get_by_role("button", name="Add entity").click()

    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    assert page.evaluate("document.querySelector('main').firstElementChild.id") == \
        "error-summary"
    box = summary.bounding_box()
    viewport = page.viewport_size
    assert box is not None and viewport is not None
    assert 0 <= box["y"] < viewport["height"] / 2, box  # in view, near the top
    assert page.evaluate("location.pathname") == home  # not /organizations/…/entities
    expect(page.locator("#error-entity_name")).to_be_visible()  # the field's own message
    page.screenshot(path=str(artifacts / "form-error-summary.png"))

    summary.get_by_role("link").first.click()
    expect(page.locator("#field-entity_name")).to_be_focused()

    navigations = _methods_of_navigations(page)
    page.reload()
    assert navigations == ["GET"]  # the reload loads the page; it sends nothing again
    expect(page.locator("#error-summary")).to_have_count(0)
    assert page.evaluate("location.pathname") == home


def test_a_success_redirects_so_a_reload_sends_nothing_again(page: Any) -> None:
    home = _my_organisation(page)
    name = f"Fjordal Reload Test {uuid.uuid4().hex[:6]} AS"
    page.locator("#field-entity_name").fill(name)
    page.get_by_role("button", name="Add entity").click()
    expect(page.locator(".flash-success")).to_be_visible()
    assert page.evaluate("location.pathname") == home

    navigations = _methods_of_navigations(page)
    page.reload()
    assert navigations == ["GET"]
    expect(page.locator("#error-summary")).to_have_count(0)  # not "already has an entity"
    expect(page.get_by_text(name, exact=True)).to_have_count(1)
