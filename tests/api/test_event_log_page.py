"""The event log page: people and organisations by name, what happened in words, the codes
kept in the title (on hover), and the names found in a fixed number of queries."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, event
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor, Role
from stewardship.core.config import Settings
from stewardship.core.web import SESSION_COOKIE
from stewardship.registry import repository as repo
from stewardship.registry.schemas import EntityCreate
from stewardship.registry.service import accounts, organizations
from tests import factories


def _visible(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _browser(app: FastAPI, db: Session, settings: Settings, actor: Actor) -> TestClient:
    assert actor.user_id is not None
    user = repo.user_by_id(db, actor.user_id)
    assert user is not None
    token = accounts.start_session(db, user, settings)
    db.flush()
    browser = TestClient(app, raise_server_exceptions=False)
    browser.cookies.set(SESSION_COOKIE, token)
    return browser


@contextmanager
def _counting(connection: Connection) -> Iterator[list[str]]:
    statements: list[str] = []

    def note(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(connection, "before_cursor_execute", note)
    try:
        yield statements
    finally:
        event.remove(connection, "before_cursor_execute", note)


def _entities(db: Session, admin: Actor, slug: str, n: int, first: int = 0) -> None:
    for i in range(first, first + n):
        organizations.add_entity(db, admin, slug, EntityCreate(name=f"Fjordlight Unit {i} AS"))
    db.flush()


def test_the_log_names_people_and_things_and_keeps_the_codes_on_hover(
        app: FastAPI, db: Session, settings: Settings) -> None:
    slug = factories.organization(db, name="Fjordlight Metals")
    admin = factories.user(db, Role.MEMBER_ADMIN, organization=slug)
    _entities(db, admin, slug, 1)
    staff = factories.user(db, Role.SECRETARIAT)
    page = _browser(app, db, settings, staff).get("/secretariat/events?kind=registry.entity")
    assert page.status_code == 200
    shown = _visible(page.text)
    assert "Legal entity added" in shown
    assert f"{admin.name} (Fjordlight Metals)" in shown
    assert "Legal entity: Fjordlight Unit 0 AS" in shown
    assert "registry.entity.created" not in shown and "user:" not in shown
    assert 'title="registry.entity.created"' in page.text
    assert f'title="user:{admin.user_id}"' in page.text
    admitted = _visible(_browser(app, db, settings, staff).get(
        "/secretariat/events?kind=registry.organization").text)
    assert "Admitted as a member" in admitted and "Organisation: Fjordlight Metals" in admitted
    assert "The platform" not in admitted and "Tests" in admitted  # the factories' actor


def test_names_take_the_same_queries_for_one_row_as_for_twenty(
        app: FastAPI, db: Session, settings: Settings, connection: Connection) -> None:
    slug = factories.organization(db, name="Fjordlight Metals")
    admins = [factories.user(db, Role.MEMBER_ADMIN, organization=slug) for _ in range(3)]
    staff = factories.user(db, Role.SECRETARIAT)
    browser = _browser(app, db, settings, staff)
    _entities(db, admins[0], slug, 1)
    with _counting(connection) as few:
        assert browser.get("/secretariat/events?kind=registry.entity&per_page=50").status_code \
            == 200
    for n, admin in enumerate(admins):
        _entities(db, admin, slug, 7, first=1 + 7 * n)
    with _counting(connection) as many:
        page = browser.get("/secretariat/events?kind=registry.entity&per_page=50")
    assert page.status_code == 200 and page.text.count("Legal entity added") == 22
    assert len(many) == len(few)


def test_the_event_log_stays_the_secretariats(app: FastAPI, db: Session,
                                              settings: Settings) -> None:
    slug = factories.organization(db, name="Fjordlight Metals")
    admin = factories.user(db, Role.MEMBER_ADMIN, organization=slug)
    page = _browser(app, db, settings, admin).get("/secretariat/events")
    assert page.status_code == 403
