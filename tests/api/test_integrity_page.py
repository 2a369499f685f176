"""The secretariat's integrity page runs the whole-database check in the request: the
tables checked with their counts, an "everything verifies" verdict on an untouched world,
and every problem (paginated, by table) with its table, row and entry once a row is
changed behind the platform's back. Only the secretariat may open it; the secretariat's
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


def test_the_page_says_everything_verifies_with_the_tables_counted(world: World) -> None:
    browser = _browser(world, world.t.secretariat)
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
    page = browser.get(URL)
    assert page.status_code == 200
    assert 'data-verdict="problems"' in page.text and "Everything verifies" not in page.text
    body = _text(page.text)
    total = len(world.check().problems)
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
    member = _browser(world, world.t.admin).get(URL)
    assert member.status_code == 403
    assert "Not allowed" in _text(member.text)
    assert "Rows checked" not in member.text and "event_log_nodes" not in member.text
