"""What the HTTP tests share: a browser signed in as an actor, the CSRF token a page's forms
carry, posting a form as that browser does, a page as a reader sees it, and the checks of
an API answer: a success, or a refusal in the platform's error shape naming the field at
fault. The ``signed_in`` fixture (tests/api/conftest.py) is built on ``sign_in``."""

from __future__ import annotations

import html
import re
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor
from stewardship.core.config import Settings
from stewardship.core.web import SESSION_COOKIE
from stewardship.registry import repository as registry_repo
from stewardship.registry.service import accounts

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def text(response: Response) -> str:
    """The page as a reader sees it: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


def sign_in(app: FastAPI, db: Session, settings: Settings, actor: Actor) -> TestClient:
    """A browser-like client with a fresh session cookie of the actor (a user)."""
    assert actor.user_id is not None
    user = registry_repo.user_by_id(db, actor.user_id)
    assert user is not None
    token = accounts.start_session(db, user, settings)
    db.flush()
    browser = TestClient(app, raise_server_exceptions=False)
    browser.cookies.set(SESSION_COOKIE, token)
    return browser


def csrf_in(page: str) -> str:
    """The CSRF token of a page's forms, from the page's HTML."""
    found = CSRF_FIELD.search(page)
    assert found, "no form with a CSRF token on the page"
    return found.group(1)


def csrf(client: TestClient, url: str = "/login") -> str:
    """The token the forms of the page at ``url`` carry (the client keeps the matching
    cookie); the login page, or where it sends a signed-in browser, unless told."""
    page = client.get(url, follow_redirects=True)
    assert page.status_code == 200, page.text
    return csrf_in(page.text)


def post(client: TestClient, url: str, data: dict[str, object] | None = None, *,
         files: dict[str, tuple[str, bytes, str]] | None = None) -> Response:
    """Post a form as the browser does, with a fresh CSRF token; redirects not followed."""
    response: Response = client.post(url, data={**(data or {}), "csrf_token": csrf(client)},
                                     files=files, follow_redirects=False)
    return response


def ok(response: Response, status: int = 200) -> Any:
    """The JSON of a successful answer with that status."""
    assert response.status_code == status, response.text
    return response.json()


def api_error(response: Response, status: int, code: str | None = None, *,
              field: str | None = None) -> dict[str, Any]:
    """The ``error`` of a refusal in the platform's shape (code, message, details), with
    that status, and that code and a detail naming ``field`` where given; never a trace."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "Traceback" not in response.text
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "details"}
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], list)
    if code is not None:
        assert error["code"] == code, error
    if field is not None:
        assert field in fields(error), error
    return error


def fields(error: dict[str, Any]) -> dict[str, str]:
    """The fields an error's details name, each with its message."""
    return {d["field"]: d["message"] for d in error["details"]}
