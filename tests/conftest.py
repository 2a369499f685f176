"""Shared fixtures: a migrated database per backend, one rolled-back transaction per test.

Every test that asks for ``db`` runs on SQLite, and on PostgreSQL as well when
``STEWARDSHIP_TEST_POSTGRES_URL`` is set or a server answers on 127.0.0.1:5432.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from stewardship.core.config import Settings
from stewardship.core.db import make_engine, make_sessionmaker, transaction
from stewardship.core.migrate import upgrade
from stewardship.core.security import use_password_profile
from stewardship.demo import DemoReport, load_demo
from tests.today import TODAY

# Test suites hash passwords with argon2's cheapest parameters (never allowed in
# production); the CLI and any app built from the environment read the same setting.
os.environ.setdefault("STEWARDSHIP_PASSWORD_PROFILE", "fast")
use_password_profile("fast")

# No property test asserts a time: Hypothesis's 200 ms deadline per example only measures how
# busy the machine is. Under mutmut (which names the mutant under test in MUTANT_UNDER_TEST,
# empty for its clean runs) the rules tests run at the lowest priority beside other work and
# every call goes through mutmut's trampoline, so a passing example can overrun the deadline
# and fail mutmut's statistics run ("failed to collect stats. runner returned 1"), or kill a
# mutant by the clock. There the examples are also drawn from a fixed seed and no failing
# example is kept between runs, so a mutant is killed or survives the same way every time;
# and a property draws 20 examples, not 100, unless its test asks for more: each of the
# 3 600 mutants runs every property test that reaches its function.
hypothesis_settings.register_profile("stewardship", deadline=None)
hypothesis_settings.register_profile(
    "mutation", deadline=None, derandomize=True, database=None, max_examples=20,
    suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile(
    "mutation" if "MUTANT_UNDER_TEST" in os.environ else "stewardship")


@pytest.fixture(scope="session")
def today() -> date:
    """The session's one day (tests/today.py): importing it above set the platform's
    clock, and under STEWARDSHIP_TEST_TRAVEL the machine's, before any test module was
    collected."""
    return TODAY


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


def _postgres_admin(statement: str) -> None:
    assert POSTGRES_URL is not None
    admin = create_engine(make_url(POSTGRES_URL).set(database="postgres"),
                          isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(statement))
    finally:
        admin.dispose()


def _fresh_postgres_database() -> str:
    """A database of this worker's own, created anew for the session.

    The name carries the process id, so that two test runs on one server (two developers'
    checkouts, or a run beside CI) never drop each other's database.
    """
    assert POSTGRES_URL is not None
    name = f"stw_test_{_worker()}_{os.getpid()}"
    _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _postgres_admin(f'CREATE DATABASE "{name}"')
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Engine]]:
    made: dict[str, Engine] = {}
    yield made
    for engine in made.values():
        engine.dispose()
        if engine.dialect.name == "postgresql":
            _postgres_admin(f'DROP DATABASE IF EXISTS "{engine.url.database}" WITH (FORCE)')


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
    return Settings(environment="test", password_profile="fast", var_dir=tmp_path,
                    secret_key="t" * 40, login_max_failures=3, page_size_max=50)


def create_database(backend: str, directory: Path, stem: str,
                    template: str | None = None) -> tuple[str, str]:
    """A new database of its own, empty or a copy of ``template`` (where another one is):
    its URL and where it is, an SQLite file's path or a PostgreSQL database's name. A
    template must have no connection open (dispose its engine first)."""
    if backend == "sqlite":
        where = str(directory / f"{stem}-{uuid.uuid4().hex[:8]}.db")
        if template is not None:
            source, target = sqlite3.connect(template), sqlite3.connect(where)
            try:
                source.backup(target)
            finally:
                source.close()
                target.close()
        return f"sqlite:///{where}", where
    assert POSTGRES_URL is not None
    where = f"stw_{stem}_{_worker()}_{uuid.uuid4().hex[:8]}"
    copied = f' TEMPLATE "{template}"' if template is not None else ""
    _postgres_admin(f'CREATE DATABASE "{where}"{copied}')
    return make_url(POSTGRES_URL).set(database=where).render_as_string(
        hide_password=False), where


def drop_database(backend: str, where: str) -> None:
    if backend == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{where}{suffix}").unlink(missing_ok=True)
    else:
        _postgres_admin(f'DROP DATABASE IF EXISTS "{where}" WITH (FORCE)')


@contextmanager
def database_engine(backend: str, directory: Path, stem: str,
                    template: str | None = None) -> Iterator[Engine]:
    """``create_database``'s database and an engine on it, removed when the block ends."""
    url, where = create_database(backend, directory, stem, template)
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
        drop_database(backend, where)


@contextmanager
def scratch_database(backend: str, directory: Path) -> Iterator[Engine]:
    """A migrated database of its own, for tests whose commits must really persist (races,
    the CLI); removed when the block ends."""
    with database_engine(backend, directory, "scratch") as engine:
        upgrade(engine)
        yield engine


@pytest.fixture
def scratch_engine(backend: str, tmp_path: Path) -> Iterator[Engine]:
    """A committed-data database of the test's own on the current backend."""
    with scratch_database(backend, tmp_path) as engine:
        yield engine


class DemoTemplates:
    """The demo world as of TODAY, recorded through the services once per test process
    and backend (it takes tens of seconds), and handed out as copies: a database of the
    caller's own each time, by SQLite's backup API or PostgreSQL's CREATE DATABASE ...
    TEMPLATE. The modules that read the demo share one recording instead of making it
    again; what a module writes to its copy stays there."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.made: dict[str, tuple[str, DemoReport]] = {}

    def _template(self, backend: str) -> tuple[str, DemoReport]:
        if backend not in self.made:
            url, where = create_database(backend, self.directory, "demo_template")
            engine = make_engine(url)
            try:
                upgrade(engine)
                with transaction(make_sessionmaker(engine)) as db:
                    report = load_demo(db, today=TODAY)
            finally:
                engine.dispose()  # no connection may stay open on a template
            self.made[backend] = (where, report)
        return self.made[backend]

    @contextmanager
    def database(self, backend: str, directory: Path) -> Iterator[tuple[Engine, DemoReport]]:
        """A copy of the demo database of the caller's own, removed when the block ends,
        with the report of the recording it was copied from."""
        where, report = self._template(backend)
        with database_engine(backend, directory, "demo", template=where) as engine:
            yield engine, report

    def drop(self) -> None:
        for backend, (where, _) in self.made.items():
            drop_database(backend, where)
        self.made.clear()


@pytest.fixture(scope="session")
def demo_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoTemplates]:
    templates = DemoTemplates(tmp_path_factory.mktemp("demo-templates"))
    try:
        yield templates
    finally:
        templates.drop()


