"""PACT fixtures: the app on the test's rolled-back connection (plain HTTP allowed, as
for local work, unless a test asks otherwise) and the PACT world in it."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from stewardship.core.config import Settings
from stewardship.web.app import create_app
from tests.conftest import session_on
from tests.interop.pact.world import PactWorld, build


@pytest.fixture
def make_app(engine: Engine, connection: Connection,
             settings: Settings) -> Callable[..., FastAPI]:
    def make(**changes: object) -> FastAPI:
        application = create_app(settings=settings.model_copy(update=changes), engine=engine)
        application.state.sessionmaker = lambda: session_on(connection)
        return application

    return make


@pytest.fixture
def pact(make_app: Callable[..., FastAPI]) -> TestClient:
    return TestClient(make_app(pact_allow_http=True), raise_server_exceptions=False)


@pytest.fixture
def pw(db: Session, settings: Settings) -> PactWorld:
    return build(db, settings.secret_key, events_base_url="http://127.0.0.1:9/buyer")


def basic(client_id: str, secret: str) -> dict[str, str]:
    value = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {value}"}


def token_for(client: TestClient, client_id: str, secret: str) -> str:
    answer = client.post("/pact/auth/token", data={"grant_type": "client_credentials"},
                         headers=basic(client_id, secret))
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])
