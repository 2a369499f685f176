"""Whole flows through HTTP: tokens, sign-in throttling, invitations, facilities, the log."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor, Role
from stewardship.core.config import Settings
from stewardship.core.db import make_engine
from stewardship.registry.service import accounts
from stewardship.web.app import create_app
from tests import factories
from tests.factories import PASSWORD

R = "/api/v1/registry"
TOKENS = "/api/v1/auth/tokens"


def _bearer(app: FastAPI, token: str) -> TestClient:
    return TestClient(app, raise_server_exceptions=False,
                      headers={"Authorization": f"Bearer {token}"})


def test_token_lifecycle(app: FastAPI, client: TestClient, db: Session) -> None:
    factories.user(db, Role.SECRETARIAT, email="ops@example.org")
    db.flush()
    response = client.post(TOKENS, json={"name": "deploy script", "email": "OPS@example.org",
                                         "password": PASSWORD, "expires_in_days": 7})
    assert response.status_code == 201, response.text
    created = response.json()
    token = created["token"]
    assert token.startswith("stw_") and created["prefix"] == token[:10]
    assert created["expires_at"] is not None
    authed = _bearer(app, token)
    me = authed.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert (me.json()["email"], me.json()["role"]) == ("ops@example.org", "secretariat")
    listed = authed.get(TOKENS).json()
    assert [t["id"] for t in listed] == [created["id"]]
    assert "token" not in listed[0]
    revoked = authed.delete(f"{TOKENS}/{created['id']}")
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    after = authed.get("/api/v1/auth/me")
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "unauthenticated"


def test_signed_in_users_create_tokens_without_a_password(
        app: FastAPI, db: Session, client_for: Callable[[Actor], TestClient]) -> None:
    org = factories.organization(db)
    first = client_for(factories.user(db, Role.MEMBER_USER, organization=org))
    response = first.post(TOKENS, json={"name": "second"})
    assert response.status_code == 201
    second = _bearer(app, response.json()["token"])
    assert second.get("/api/v1/auth/me").json()["organization"] == org


def test_wrong_password_is_401_and_repeated_failures_lock(client: TestClient, db: Session,
                                                          settings: Settings) -> None:
    factories.user(db, Role.SECRETARIAT, email="target@example.org")
    db.flush()
    wrong = {"name": "x", "email": "target@example.org", "password": "not-the-password"}
    for _ in range(settings.login_max_failures):
        response = client.post(TOKENS, json=wrong)
        assert response.status_code == 401
        error = response.json()["error"]
        assert error["code"] == "unauthenticated"
        assert error["details"][0]["field"] == "password"
    locked = client.post(TOKENS, json={**wrong, "password": PASSWORD})
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "too_many_requests"
    assert "try again" in locked.json()["error"]["message"]


def test_unknown_email_is_the_same_401(client: TestClient) -> None:
    response = client.post(TOKENS, json={"name": "x", "email": "ghost@example.org",
                                         "password": "whatever-it-is"})
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "the e-mail or password is not right"
    missing = client.post(TOKENS, json={"name": "x"})
    assert missing.status_code == 401


def test_invitation_flow(app: FastAPI, client: TestClient, db: Session,
                         client_for: Callable[[Actor], TestClient],
                         settings: Settings) -> None:
    org = factories.organization(db)
    admin = client_for(factories.user(db, Role.MEMBER_ADMIN, organization=org))
    response = admin.post(f"{R}/invitations", json={
        "email": "Newcomer@Example.org", "name": "New Comer", "role": "member_user"})
    assert response.status_code == 201, response.text
    invitation = response.json()
    assert invitation["email"] == "newcomer@example.org"
    assert invitation["accept_url"] == f"http://testserver/invitations/{invitation['token']}"
    accepted = client.post(f"{R}/invitations/{invitation['token']}/accept",
                           json={"password": "my-own-password"})
    assert accepted.status_code == 201, accepted.text
    assert (accepted.json()["organization"], accepted.json()["role"]) == (org, "member_user")
    again = client.post(f"{R}/invitations/{invitation['token']}/accept",
                        json={"password": "my-own-password"})
    assert again.status_code == 409
    token = client.post(TOKENS, json={"name": "mine", "email": "newcomer@example.org",
                                      "password": "my-own-password"})
    assert token.status_code == 201
    me = _bearer(app, token.json()["token"]).get("/api/v1/auth/me").json()
    assert me["email"] == "newcomer@example.org"
    users = admin.get(f"{R}/users").json()
    assert "newcomer@example.org" in [u["email"] for u in users["items"]]
    bogus = client.post(f"{R}/invitations/not-a-token/accept", json={"password": "x" * 12})
    assert bogus.status_code == 404


def test_facility_duplicates_and_merge(db: Session,
                                       client_for: Callable[[Actor], TestClient]) -> None:
    org = factories.organization(db)
    admin = client_for(factories.user(db, Role.MEMBER_ADMIN, organization=org))
    staff = client_for(factories.user(db, Role.SECRETARIAT))
    body = {"name": "Fjordal Smelter", "address": "Industrivegen 15, 6800 Førde",
            "country": "NO", "activities": ["smelting"]}
    first = admin.post(f"{R}/facilities", json=body)
    assert first.status_code == 201, first.text
    assert first.json()["possible_duplicates"] == []
    first_id = first.json()["facility"]["id"]
    second = admin.post(f"{R}/facilities", json={**body, "name": "Fjordal Smelter AS"})
    assert second.status_code == 201
    [dup] = second.json()["possible_duplicates"]
    assert (dup["facility"]["id"], dup["score"], dup["exact"]) == (first_id, 100, True)
    second_id = second.json()["facility"]["id"]
    merged = staff.post(f"{R}/facilities/{second_id}/merge", json={"into": first_id})
    assert merged.status_code == 200, merged.text
    assert merged.json()["id"] == first_id
    old = admin.get(f"{R}/facilities/{second_id.lower()}")
    assert old.status_code == 200
    assert (old.json()["id"], old.json()["requested_id"]) == (first_id, second_id)
    refused = staff.post(f"{R}/facilities/{second_id}/merge", json={"into": first_id})
    assert refused.status_code == 409
    listed = admin.get(f"{R}/facilities", params={"organization": org}).json()
    assert [f["id"] for f in listed["items"]] == [first_id]


def test_log_verify_reports_the_chain(client: TestClient, db: Session) -> None:
    empty = client.get("/api/v1/log/verify").json()
    assert empty == {"entries": 0, "head_hash": "0" * 64, "ok": True,
                     "first_bad_sequence": None, "reason": None, "checkpoints_checked": 0,
                     "tree_problems": []}
    factories.organization(db)
    db.flush()
    report = client.get("/api/v1/log/verify").json()
    assert report["ok"] is True
    assert report["entries"] == 2
    assert report["head_hash"] == factories.events(db)[-1].hash


def test_register_pages_through_http(client: TestClient, db: Session) -> None:
    for n in range(3):
        factories.organization(db, name=f"Listed Metals {n}")
    db.flush()
    page = client.get(f"{R}/organizations", params={"per_page": 2, "page": 2}).json()
    assert (page["total"], page["pages"], page["page"], page["per_page"]) == (3, 2, 2, 2)
    assert [o["name"] for o in page["items"]] == ["Listed Metals 2"]


def test_the_app_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    app = create_app(settings=Settings(environment="test", var_dir=tmp_path), engine=engine)
    with pytest.raises(RuntimeError) as exc, TestClient(app):
        pass  # pragma: no cover - the lifespan refuses before requests are served
    message = str(exc.value)
    assert "stewardship db upgrade" in message
    assert "no schema yet" in message
    engine.dispose()


def test_two_organisations_invite_the_same_address(client: TestClient, db: Session,
                                                   client_for: Callable[[Actor], TestClient]
                                                   ) -> None:
    first, second = factories.organization(db), factories.organization(db)
    actor_1 = factories.user(db, Role.MEMBER_ADMIN, organization=first)
    actor_2 = factories.user(db, Role.MEMBER_ADMIN, organization=second)
    admin_1, admin_2 = client_for(actor_1), client_for(actor_2)
    body = {"email": "wanted@example.org", "name": "Wanted", "role": "member_user"}
    one = admin_1.post(f"{R}/invitations", json=body)
    two = admin_2.post(f"{R}/invitations", json=body)
    assert one.status_code == two.status_code == 201
    # The second organisation's invitation did not revoke the first one's.
    assert [i.email for i in accounts.pending_invitations(db, actor_1)] == [
        "wanted@example.org"]
    accepted = client.post(f"{R}/invitations/{one.json()['token']}/accept",
                           json={"password": "my-own-password"})
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["organization"] == first
    # Accepting one makes the other moot: it is revoked, its link no longer valid.
    assert accounts.pending_invitations(db, actor_2) == []
    moot = client.post(f"{R}/invitations/{two.json()['token']}/accept",
                       json={"password": "my-own-password"})
    assert moot.status_code == 404
