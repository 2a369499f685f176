"""Links the platform prints or sends start with its public address: the configured base
URL where there is one (a proxy in front), otherwise the address the request came to."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stewardship.core.auth import Role
from stewardship.registry.service import accounts
from tests import factories

INVITE = {"email": "new.person@example.org", "name": "New Person", "role": "member_user"}


def _invite(app: FastAPI, db: Session, base_url: str) -> str:
    org = factories.organization(db)
    admin = factories.user(db, Role.MEMBER_ADMIN, organization=org)
    token = accounts.create_token(db, admin, "tests").token
    db.flush()
    client = TestClient(app, base_url=base_url, raise_server_exceptions=False,
                        headers={"Authorization": f"Bearer {token}"})
    response = client.post("/api/v1/registry/invitations", json=INVITE)
    assert response.status_code == 201, response.text
    url: str = response.json()["accept_url"]
    return url


def test_without_a_configured_address_links_use_the_one_the_request_came_to(
        app: FastAPI, db: Session) -> None:
    assert app.state.settings.base_url == ""
    url = _invite(app, db, "http://192.0.2.7:8123")
    assert url.startswith("http://192.0.2.7:8123/invitations/")
    assert "127.0.0.1:8000" not in url


def test_a_configured_public_address_wins_over_the_request(app: FastAPI, db: Session) -> None:
    app.state.settings.base_url = "https://register.example.org/"
    url = _invite(app, db, "http://10.0.0.5:8000")
    assert url.startswith("https://register.example.org/invitations/")
    assert "//invitations" not in url
