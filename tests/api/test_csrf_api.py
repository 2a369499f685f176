"""Cross-site request forgery through the API.

A browser adds the session cookie to every request to the site, a plain HTML form posted
from any other page included. Every unsafe route under /api and /epcis, found from the
app's own route table, must refuse a cookie-only request without the CSRF header, before
anything is stored; the same request with a bearer token is never refused for that.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor, Role
from stewardship.core.config import Settings
from stewardship.core.db import Base
from stewardship.core.web import CSRF_HEADER, SESSION_COOKIE, UNSAFE_METHODS
from stewardship.registry import repository as repo
from stewardship.registry.service import accounts
from tests import factories
from tests.api.pages import csrf_in

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

_PARAM = re.compile(r"{([^}:]+)(?::[^}]+)?}")


def unsafe_api_routes(app: FastAPI) -> list[tuple[str, str, str]]:
    """(method, path with its parameters filled in, declared path) for every unsafe route
    under /api and /epcis, however the routers are nested."""
    found = []
    for route in iter_route_contexts(app.routes):
        original = route.original_route
        path_format = route.path
        if not isinstance(original, APIRoute) or not path_format:
            continue
        if not path_format.startswith(("/api/", "/epcis")):
            continue
        types = {p.name: p.field_info.annotation for p in original.dependant.path_params}

        def fill(match: re.Match[str], types: dict[str, object] = types) -> str:
            kind = types.get(match.group(1))
            if kind is uuid.UUID:
                return str(uuid.uuid4())
            if kind is int:
                return "1"
            return "x"

        path = _PARAM.sub(fill, path_format)
        for method in sorted((route.methods or set()) & UNSAFE_METHODS):
            found.append((method, path, path_format))
    return found


def row_counts(db: Session) -> dict[str, int]:
    db.flush()
    return {table.name: db.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables}


def is_csrf_refusal(response: object) -> bool:
    assert hasattr(response, "status_code")
    if response.status_code != 403:
        return False
    details = response.json()["error"]["details"]
    return any(d.get("field") == CSRF_HEADER for d in details)


@pytest.fixture
def secretariat(db: Session) -> Actor:
    return factories.user(db, Role.SECRETARIAT)


@pytest.fixture
def browser(app: FastAPI, db: Session, settings: Settings,
            secretariat: Actor) -> TestClient:
    """The secretariat's browser: a live session cookie and the CSRF cookie of a page."""
    assert secretariat.user_id is not None
    user = repo.user_by_id(db, secretariat.user_id)
    assert user is not None
    token = accounts.start_session(db, user, settings)
    db.flush()
    client = TestClient(app, raise_server_exceptions=False)
    client.cookies.set(SESSION_COOKIE, token)
    return client


def page_token(client: TestClient) -> str:
    """The CSRF token a page publishes for its scripts."""
    page = client.get("/dashboard")
    assert page.status_code == 200
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert match, "the layout publishes the CSRF token"
    return match.group(1)


def test_the_sweep_covers_the_routes_a_forged_form_would_aim_at(app: FastAPI) -> None:
    paths = {(method, declared) for method, _, declared in unsafe_api_routes(app)}
    assert ("POST", "/api/v1/custody/import") in paths
    assert ("POST", "/api/v1/custody/documents/{number}/receive") in paths
    assert ("POST", "/epcis/capture") in paths
    assert len(paths) > 40


def test_every_unsafe_api_route_refuses_the_cookie_without_the_header(
        app: FastAPI, db: Session, browser: TestClient) -> None:
    page_token(browser)  # the browser holds a CSRF cookie too, as a real one would
    before = row_counts(db)
    routes = unsafe_api_routes(app)
    for method, path, _declared in routes:
        # What a plain HTML form on another page sends: the cookies and form fields.
        response = browser.request(method, path, data={"name": "forged"},
                                   params={"apply": "true"})
        assert response.status_code == 403, (method, path, response.status_code)
        error = response.json()["error"]
        assert error["code"] == "forbidden"
        assert CSRF_HEADER in error["message"], (method, path)
        assert is_csrf_refusal(response)
    assert row_counts(db) == before


def test_a_bearer_token_is_never_refused_for_csrf(
        app: FastAPI, client_for: Callable[[Actor], TestClient],
        secretariat: Actor) -> None:
    api = client_for(secretariat)
    for method, path, _declared in unsafe_api_routes(app):
        response = api.request(method, path, json={})
        assert not is_csrf_refusal(response), (method, path)


def test_the_cookie_with_the_page_token_is_accepted(db: Session, browser: TestClient) -> None:
    token = page_token(browser)
    created = browser.post("/api/v1/auth/tokens", json={"name": "from the page"},
                           headers={CSRF_HEADER: token})
    assert created.status_code == 201, created.text
    same_origin = browser.post("/api/v1/auth/tokens", json={"name": "again"},
                               headers={CSRF_HEADER: token, "Origin": "http://testserver",
                                        "Sec-Fetch-Site": "same-origin"})
    assert same_origin.status_code == 201, same_origin.text


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
])
def test_the_page_token_from_another_origin_is_refused(
        db: Session, browser: TestClient, headers: dict[str, str]) -> None:
    token = page_token(browser)
    before = row_counts(db)
    response = browser.post("/api/v1/auth/tokens", json={"name": "forged"},
                            headers={CSRF_HEADER: token, **headers})
    assert is_csrf_refusal(response)
    assert "another site" in response.json()["error"]["message"] \
        or "not from this site" in response.json()["error"]["message"]
    assert row_counts(db) == before


def test_a_wrong_or_stolen_token_is_refused(app: FastAPI, db: Session, browser: TestClient,
                                            settings: Settings) -> None:
    page_token(browser)
    wrong = browser.post("/api/v1/auth/tokens", json={"name": "forged"},
                         headers={CSRF_HEADER: "not-the-token"})
    assert is_csrf_refusal(wrong)
    # A token minted for another browser does not match this browser's CSRF cookie.
    other = TestClient(app, raise_server_exceptions=False)
    theirs = csrf_in(other.get("/login").text)
    stolen = browser.post("/api/v1/auth/tokens", json={"name": "forged"},
                          headers={CSRF_HEADER: theirs})
    assert is_csrf_refusal(stolen)


def test_safe_requests_and_anonymous_posts_need_no_header(
        browser: TestClient, client: TestClient) -> None:
    assert browser.get("/api/v1/auth/me").status_code == 200
    # Without a session cookie nothing is forged: the request is anonymous.
    anonymous = client.post("/api/v1/auth/tokens", json={"name": "x"})
    assert anonymous.status_code == 401
