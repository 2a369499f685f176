"""Shared fixtures: a migrated database per backend, one rolled-back transaction per test.

Every test that asks for ``db`` runs on SQLite, and on PostgreSQL as well when
``STEWARDSHIP_TEST_POSTGRES_URL`` is set or a server answers on 127.0.0.1:5432.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from stewardship.core.config import Settings
from stewardship.core.db import make_engine
from stewardship.core.migrate import upgrade

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _postgres_url() -> str | None:
    url = os.environ.get("STEWARDSHIP_TEST_POSTGRES_URL")
    if url:
        return url
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return DEFAULT_PG_URL
    except OSError:
        return None


POSTGRES_URL = _postgres_url()
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _fresh_postgres_database() -> str:
    """A database of this worker's own, created anew for the session."""
    assert POSTGRES_URL is not None
    base = make_url(POSTGRES_URL)
    name = f"stw_test_{_worker()}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Engine]]:
    made: dict[str, Engine] = {}
    yield made
    for engine in made.values():
        engine.dispose()


def _engine_for(backend: str, engines: dict[str, Engine], tmp: Path) -> Engine:
    if backend not in engines:
        if backend == "sqlite":
            url = f"sqlite:///{tmp / f'test-{_worker()}.db'}"
        else:
            url = _fresh_postgres_database()
        engine = make_engine(url)
        upgrade(engine)
        engines[backend] = engine
    return engines[backend]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def engine(backend: str, engines: dict[str, Engine],
           tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return _engine_for(backend, engines, tmp_path_factory.getbasetemp())


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """One outer transaction per test, rolled back at the end: nothing persists."""
    conn = engine.connect()
    outer = conn.begin()
    try:
        yield conn
    finally:
        if outer.is_active:
            outer.rollback()
        conn.close()


def session_on(connection: Connection) -> Session:
    return Session(bind=connection, join_transaction_mode="create_savepoint",
                   expire_on_commit=False)


@pytest.fixture
def db(connection: Connection) -> Iterator[Session]:
    session = session_on(connection)
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(environment="test", var_dir=tmp_path, secret_key="t" * 40,
                    login_max_failures=3, page_size_max=50)
