"""An app wired to the test's rolled-back connection, and clients for each role: by bearer
token (the API) or by session cookie (the pages)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor
from stewardship.core.config import Settings
from stewardship.registry.service import accounts
from stewardship.web.app import create_app
from tests.api.pages import sign_in
from tests.conftest import session_on


@pytest.fixture
def app(engine: Engine, connection: Connection, settings: Settings) -> FastAPI:
    application = create_app(settings=settings, engine=engine)
    application.state.sessionmaker = lambda: session_on(connection)
    return application


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    # Not entered as a context manager: the lifespan's migration check has its own test.
    yield TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client_for(app: FastAPI, db: Session) -> Callable[[Actor], TestClient]:
    """A client that sends a fresh bearer token of the given actor."""

    def make(actor: Actor) -> TestClient:
        token = accounts.create_token(db, actor, "tests").token
        db.flush()
        return TestClient(app, raise_server_exceptions=False,
                          headers={"Authorization": f"Bearer {token}"})

    return make


@pytest.fixture
def signed_in(app: FastAPI, db: Session, settings: Settings) -> Callable[[Actor], TestClient]:
    """A browser-like client with a session cookie of the given actor."""

    def make(actor: Actor) -> TestClient:
        return sign_in(app, db, settings, actor)

    return make
