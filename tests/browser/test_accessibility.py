"""Every kind of page, for the public and each role, checked by axe-core in Chromium against
the WCAG 2.1 A and AA rules, with a screenshot of each kept under test-artifacts/ (desktop
1366x900; the main pages also on a 390x844 phone).

One browser context per role and one tab in it, reused from page to page; the violations
of every page are gathered and reported together, so one run names them all."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser

axe_sync = pytest.importorskip("axe_playwright_python.sync_playwright")

WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


class Checker:
    """Opens pages in one tab, runs axe on each and keeps its screenshots."""

    def __init__(self, page: Any, artifacts: Path, who: str) -> None:
        self.page, self.who = page, who
        self.folder = artifacts / "pages"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.axe = axe_sync.Axe()
        self.problems: list[str] = []
        self.checked: list[str] = []

    def href(self, url: str, pattern: str) -> str:
        """The first link on the page at `url` whose address matches `pattern`."""
        self.page.goto(url)
        for link in self.page.locator("a[href]").all():
            target = link.get_attribute("href") or ""
            if re.fullmatch(pattern, target.split("?")[0].split("#")[0]):
                return target
        raise AssertionError(f"{url} links to nothing like {pattern}")

    def check(self, name: str, url: str, *, phone: bool = False) -> None:
        page = self.page
        page.set_viewport_size(DESKTOP)
        response = page.goto(url)
        if response is None or response.status >= 400:
            self.problems.append(f"{self.who} {name} ({url}): answered "
                                 f"{response.status if response else 'nothing'}")
            return
        page.screenshot(path=str(self.folder / f"{self.who}-{name}-desktop.png"),
                        full_page=True)
        if phone:
            page.set_viewport_size(PHONE)
            page.screenshot(path=str(self.folder / f"{self.who}-{name}-phone.png"),
                            full_page=True)
        results = self.axe.run(page, options={
            "runOnly": {"type": "tag", "values": WCAG_21_AA}, "resultTypes": ["violations"]})
        self.checked.append(url)
        for violation in results.response["violations"]:
            targets = "; ".join(" ".join(node["target"]) for node in violation["nodes"][:3])
            self.problems.append(f"{self.who} {name} ({url}): {violation['id']} "
                                 f"[{violation['impact']}] {violation['help']} at {targets}")

    def assert_clean(self) -> None:
        assert self.checked
        assert self.problems == [], "WCAG 2.1 AA violations:\n" + "\n".join(self.problems)


@pytest.fixture
def checker(new_page: Callable[..., Any], artifacts: Path) -> Callable[[str], Checker]:
    def make(who: str) -> Checker:
        return Checker(new_page(DESKTOP["width"], DESKTOP["height"]), artifacts, who)
    return make


def test_public_pages_meet_wcag_21_aa(checker: Callable[[str], Checker]) -> None:
    c = checker("public")
    c.check("home", "/", phone=True)
    c.check("register", "/register", phone=True)
    c.check("organisation", "/organizations/fjordal-aluminium", phone=True)
    c.check("facilities", "/facilities")
    c.check("facility", c.href("/organizations/fjordal-aluminium", r"/facilities/[A-Z0-9]+"),
            phone=True)
    c.check("certificates", "/certificates")
    c.check("certificate", c.href("/certificates", r"/certificates/STW-[A-Z0-9-]+"),
            phone=True)
    c.check("verify", "/verify", phone=True)
    c.check("coc-verify", "/verify/coc")
    c.check("credential-verify", "/verify/credential", phone=True)
    c.check("transparency-log", "/log", phone=True)
    c.check("standards", "/standards")
    c.check("standard-version", "/standards/performance/v3")
    c.check("standards-body", "/standards/body")
    c.check("consultations", "/consultations")
    c.check("consultation", c.href("/consultations", r"/consultations/[0-9a-f-]+"),
            phone=True)
    c.check("complaint-form", "/complaints/new", phone=True)
    c.check("carbon-board", "/carbon", phone=True)
    c.check("login", "/login", phone=True)
    c.assert_clean()


def test_member_pages_meet_wcag_21_aa(checker: Callable[[str], Checker]) -> None:
    user = checker("member-user")
    log_in(user.page, "erik.nygard@fjordal.example")
    user.check("dashboard", "/dashboard", phone=True)
    user.check("custody", "/custody", phone=True)
    user.check("documents", "/custody/documents")
    document = user.href("/custody/documents", r"/custody/documents/COC-[A-Z0-9-]+")
    user.check("document", document, phone=True)
    user.check("chain", document + "/chain")
    user.check("report", "/custody/report")
    user.check("coc-verify-result", "/verify/coc/" + document.rsplit("/", 1)[-1], phone=True)
    user.check("carbon-inventories", "/carbon/inventories", phone=True)
    user.check("carbon-inventory", user.href("/carbon/inventories",
                                             r"/carbon/inventories/[0-9a-f-]{36}"), phone=True)
    user.check("carbon-form", "/carbon/inventories/new", phone=True)
    user.check("carbon-import", "/carbon/inventories/import")
    user.page.goto("/organizations/fjordal-aluminium")
    entity = user.page.locator("a[href*='/carbon/inventories?entity=']").first
    user.check("carbon-entity", entity.get_attribute("href") or "", phone=True)

    admin = checker("member-admin")
    log_in(admin.page, "admin@fjordal.example")
    admin.check("dashboard", "/dashboard", phone=True)
    admin.check("scopes", "/assurance/scopes")
    scope = admin.href("/assurance/scopes", r"/assurance/scopes/[0-9a-f-]+")
    admin.check("scope", scope)
    admin.check("self-assessment", scope + "/self-assessment", phone=True)
    admin.check("pact-clients", "/members/pact-clients", phone=True)
    admin.problems[:0] = user.problems
    admin.assert_clean()


def test_auditor_and_secretariat_pages_meet_wcag_21_aa(
        checker: Callable[[str], Checker]) -> None:
    auditor = checker("auditor")
    log_in(auditor.page, "rohan.mehta@coralsea-audit.example")
    auditor.check("dashboard", "/dashboard", phone=True)
    auditor.check("audits", "/assurance/audits")
    audit = auditor.href("/assurance/audits", r"/assurance/audits/[0-9a-f-]+")
    auditor.check("audit", audit)
    auditor.check("audit-rating", audit + "/ratings", phone=True)

    staff = checker("secretariat")
    log_in(staff.page, "secretariat@stewardship.example")
    staff.check("dashboard", "/dashboard", phone=True)
    staff.check("audits", "/secretariat/audits")
    staff.check("complaints", "/secretariat/complaints")
    staff.check("network", "/custody/network", phone=True)
    staff.check("carbon-inventories", "/carbon/inventories", phone=True)
    staff.check("organisation-carbon", "/organizations/sonkhal-aluminium")
    staff.check("event-log", "/secretariat/events")
    staff.check("transparency-log", "/secretariat/log", phone=True)
    staff.problems[:0] = auditor.problems
    staff.assert_clean()
