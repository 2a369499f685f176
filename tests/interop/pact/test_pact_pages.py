"""The member admin's page of PACT client credentials: made through the form, the secret
is shown once and works at the token endpoint; revoked through the button, it stops
working; a member user and a signed-out visitor are refused."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor
from stewardship.core.config import Settings
from stewardship.core.web import SESSION_COOKIE
from stewardship.interop.pact.service import clients
from stewardship.registry import repository as registry_repo
from stewardship.registry.service import accounts
from tests.interop.pact.conftest import basic
from tests.interop.pact.world import PactWorld

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SECRET = re.compile(r'aria-label="Client secret">(pcs_[^<]+)<')
CLIENT_ID = re.compile(r'aria-label="Client id">(pact_[^<]+)<')


def _browser(app: FastAPI, db: Session, settings: Settings, who: Actor) -> TestClient:
    browser = TestClient(app, raise_server_exceptions=False)
    assert who.user_id is not None
    user = registry_repo.user_by_id(db, who.user_id)
    assert user is not None
    browser.cookies.set(SESSION_COOKIE, accounts.start_session(db, user, settings))
    db.flush()
    return browser


def _post(browser: TestClient, url: str, data: dict[str, str]) -> object:
    page = browser.get("/members/pact-clients")
    token = CSRF.search(page.text)
    assert token, page.text[:500]
    return browser.post(url, data={**data, "csrf_token": token.group(1)},
                        headers={"referer": "http://testserver/members/pact-clients"},
                        follow_redirects=False)


def test_credentials_made_shown_once_used_and_revoked(
        make_app: Callable[..., FastAPI], pw: PactWorld, db: Session,
        settings: Settings) -> None:
    app = make_app(pact_allow_http=True)
    admin = _browser(app, db, settings, pw.chain.mill.admin)
    made = _post(admin, "/members/pact-clients", {
        "name": "Can maker connector", "buyer": pw.chain.canmaker.slug,
        "events_base_url": "https://pact.cans.example/pact"})
    assert made.status_code == 303  # type: ignore[attr-defined]
    shown = admin.get("/members/pact-clients")
    secret, client_id = SECRET.search(shown.text), CLIENT_ID.search(shown.text)
    assert secret and client_id, shown.text
    assert "https://pact.cans.example/pact" in shown.text
    again = admin.get("/members/pact-clients")
    assert secret.group(1) not in again.text and client_id.group(1) in again.text
    api = TestClient(app, raise_server_exceptions=False)
    grant = {"grant_type": "client_credentials"}
    assert api.post("/pact/auth/token", data=grant,
                    headers=basic(client_id.group(1), secret.group(1))).status_code == 200
    listed = {c.client_id: c for c in clients.list_clients(db, pw.chain.mill.admin)}
    revoked = _post(admin, f"/members/pact-clients/{listed[client_id.group(1)].id}/revoke", {})
    assert revoked.status_code == 303  # type: ignore[attr-defined]
    assert api.post("/pact/auth/token", data=grant,
                    headers=basic(client_id.group(1), secret.group(1))).status_code == 401


def test_bad_input_rerenders_the_form_and_stores_nothing(
        make_app: Callable[..., FastAPI], pw: PactWorld, db: Session,
        settings: Settings) -> None:
    admin = _browser(make_app(), db, settings, pw.chain.mill.admin)
    for data, field in (({"name": "X", "buyer": "no-such-member"}, "buyer"),
                        ({"name": "X", "buyer": pw.chain.mill.slug}, "buyer"),
                        ({"name": "X", "buyer": pw.chain.canmaker.slug,
                          "events_base_url": "ftp://nope"}, "events_base_url"),
                        ({"name": "", "buyer": pw.chain.canmaker.slug}, "name")):
        answer = _post(admin, "/members/pact-clients", data)
        assert answer.status_code == 422, data  # type: ignore[attr-defined]
        assert f'href="#field-{field}"' in answer.text  # type: ignore[attr-defined]
    page = admin.get("/members/pact-clients")
    assert "You have made no PACT client credentials yet." in page.text


def test_only_member_admins_manage_credentials(make_app: Callable[..., FastAPI],
                                               pw: PactWorld, db: Session,
                                               settings: Settings) -> None:
    app = make_app()
    user = _browser(app, db, settings, pw.chain.smelter.user)
    assert user.get("/members/pact-clients").status_code == 403
    anonymous = TestClient(app, raise_server_exceptions=False)
    assert anonymous.get("/members/pact-clients", follow_redirects=False).status_code == 303
