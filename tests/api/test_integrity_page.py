"""The secretariat's integrity page shows the last whole-database check kept, and runs a
new one only on "Check now": before any run it says none has run; after one, when and by
whom, the tables checked with their counts, an "everything verifies" verdict on an
untouched world, and every problem (paginated, by table) with its table, row and entry
once a row is changed behind the platform's back. A change made after the run shows only
at the next check. Only the secretariat may open it or run it; the secretariat's
dashboard links to it."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor
from stewardship.core.web import SESSION_COOKIE
from stewardship.registry import repository as registry_repo
from stewardship.registry.service import accounts
from stewardship.web.app import create_app
from tests.api.pages import csrf_in
from tests.conftest import BACKENDS
from tests.integrity_world import Template, World, clone, template_database

URL = "/secretariat/integrity"


@pytest.fixture(scope="module", params=BACKENDS)
def template(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    yield from template_database(str(request.param), tmp_path_factory.mktemp("integrity"))


@pytest.fixture
def world(template: Template, tmp_path: Path) -> Iterator[World]:
    yield from clone(template, tmp_path)


def _browser(w: World, actor: Actor | None) -> TestClient:
    app = create_app(settings=w.t.settings, engine=w.engine)
    browser = TestClient(app, raise_server_exceptions=False)
    if actor is not None:
        assert actor.user_id is not None
        with Session(w.engine) as db:
            user = registry_repo.user_by_id(db, actor.user_id)
            assert user is not None
            token = accounts.start_session(db, user, w.t.settings)
            db.commit()
        browser.cookies.set(SESSION_COOKIE, token)
    return browser


def _text(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _check_now(browser: TestClient) -> str:
    """Press "Check now"; the flash message the page then shows."""
    answer = browser.post(f"{URL}/check", data={"csrf_token": csrf_in(browser.get(URL).text)},
                          follow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == URL
    return _text(browser.get(URL).text)


def test_no_check_has_run_until_one_is_asked_for(world: World) -> None:
    browser = _browser(world, world.t.secretariat)
    page = browser.get(URL)
    assert page.status_code == 200, page.text
    assert "No check has been run yet." in _text(page.text)
    assert "data-verdict" not in page.text and "Rows checked" not in page.text
    assert 'action="/secretariat/integrity/check"' in page.text
    forged = browser.post(f"{URL}/check", data={"csrf_token": "forged"},
                          follow_redirects=False)
    assert forged.status_code == 403
    assert "No check has been run yet." in _text(browser.get(URL).text)


def test_the_page_says_everything_verifies_with_the_tables_counted(world: World) -> None:
    browser = _browser(world, world.t.secretariat)
    assert "The check ran: everything verifies." in _check_now(browser)
    page = browser.get(URL)
    assert page.status_code == 200, page.text
    assert 'data-verdict="verifies"' in page.text
    body = _text(page.text)
    assert "Everything verifies." in body
    report = world.check()
    for table, rows, problems in report.tables():
        assert problems == 0
        assert f"{table} {rows:,} 0" in body, table
    assert 'id="problems-heading"' not in page.text
    assert f"by {world.t.secretariat.name}." in body and "Last checked" in body
    dashboard = browser.get("/dashboard")
    assert f'href="{URL}"' in dashboard.text


def test_the_page_names_every_problem_with_its_table_row_and_entry(world: World) -> None:
    number = world.t.certificate
    issued = world.entry("assurance.certificate.issued", f"certificate:{number}")
    suspended = world.entry("assurance.certificate.suspended", f"certificate:{number}")
    world.tamper(f"UPDATE certificates SET status = 'active', holder_name = 'Someone Else' "
                 f"WHERE number = '{number}'",
                 f"UPDATE coc_documents SET coc_quantity_kg = 900, quantity_kg = 900 "
                 f"WHERE number = '{world.t.waiting}'")
    browser = _browser(world, world.t.secretariat)
    total = len(world.check().problems)
    assert f"The check ran: {total} problems found." in _check_now(browser)
    page = browser.get(URL)
    assert page.status_code == 200
    assert 'data-verdict="problems"' in page.text and "Everything verifies" not in page.text
    body = _text(page.text)
    assert f"{total} problems found." in body
    assert (f"certificates {number} entry {issued} changed after the event log recorded its "
            "issue: holder_name Someone Else") in body
    assert (f"certificates {number} entry {suspended} status active but the event log "
            "recorded suspended") in body
    assert f'href="{URL}?{urlencode({"table": "certificates"})}">2</a>' in page.text

    only_certificates = _text(browser.get(f"{URL}?table=certificates").text)
    assert "Problems in certificates" in only_certificates
    assert world.t.waiting not in only_certificates.split("Problems in certificates")[1]

    first = browser.get(f"{URL}?per_page=1")
    assert f"Page 1 of {total}" in _text(first.text)
    second = _text(browser.get(f"{URL}?per_page=1&page=2").text)
    assert f"Page 2 of {total}" in second


def test_only_the_secretariat_opens_the_page(world: World) -> None:
    anonymous = _browser(world, None).get(URL, follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?" + urlencode({"next": URL})
    member_browser = _browser(world, world.t.admin)
    member = member_browser.get(URL)
    assert member.status_code == 403
    assert "Not allowed" in _text(member.text)
    assert "Rows checked" not in member.text and "event_log_nodes" not in member.text
    token = csrf_in(member_browser.get("/dashboard").text)
    refused = member_browser.post(f"{URL}/check", data={"csrf_token": token},
                                  follow_redirects=False)
    assert refused.status_code == 403
    assert "No check has been run yet." in _text(
        _browser(world, world.t.secretariat).get(URL).text)


def test_the_page_shows_the_kept_run_until_the_next_check(world: World) -> None:
    browser = _browser(world, world.t.secretariat)
    assert "The check ran: everything verifies." in _check_now(browser)
    world.tamper(f"UPDATE coc_documents SET coc_quantity_kg = 900, quantity_kg = 900 "
                 f"WHERE number = '{world.t.waiting}'")
    kept = browser.get(URL)
    assert 'data-verdict="verifies"' in kept.text  # the page reads the run, not the tables
    after = _check_now(browser)
    assert "problem found." in after or "problems found." in after
    assert world.t.waiting in after
