"""Reads from a real PostgreSQL streaming replica (core/replica.py, docs/scaling.md section 2).

A hot standby is made with pg_basebackup -R and started on a free port
(tests/streaming_replica.py); the application runs with STEWARDSHIP_READ_DATABASE_URL
pointing at it. Which server ran each statement is recorded with SQLAlchemy's
``before_cursor_execute`` event on the primary's and the replica's engines.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from stewardship.core.config import Settings
from stewardship.core.db import make_engine, make_sessionmaker, transaction
from stewardship.core.migrate import upgrade
from stewardship.core.replica import WRITTEN_COOKIE, ReplicaRouter, replica_readable
from stewardship.core.web import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from stewardship.registry import repository as registry_repo
from stewardship.registry.service import accounts
from stewardship.web.app import create_app
from tests import custody_world as cw
from tests.conftest import POSTGRES_URL
from tests.streaming_replica import Pair, ReplicaUnavailable, stop_replica, streaming_replica

C = "/api/v1/custody"


def test_the_routes_scaling_md_lists_are_replica_readable_and_no_others() -> None:
    for path in ("/register", "/api/v1/registry/organizations", "/certificates/ASI-1",
                 "/verify/coc/CoC-1", f"{C}/verify/CoC-1", "/epcis/events",
                 f"{C}/documents/CoC-1/chain", "/custody/network", "/custody/report.csv",
                 "/api/v1/assurance/certificates/export", "/standards/asi-ps/v3"):
        assert replica_readable("GET", path), path
        assert replica_readable("HEAD", path), path
        assert not replica_readable("POST", path), path
    for path in (f"{C}/accounts", f"{C}/documents/CoC-1", f"{C}/audit", "/epcis/capture",
                 "/epcis/capture/1", "/api/v1/log/verify", "/api/v1/auth/me", "/dashboard",
                 "/api/v1/standards/revisions/1", "/consultations", "/"):
        assert not replica_readable("GET", path), path


def test_a_read_database_url_with_sqlite_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="STEWARDSHIP_READ_DATABASE_URL"):
        Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}",
                 read_database_url="postgresql+psycopg://postgres@127.0.0.1:1/x")
    env = {**os.environ, "STEWARDSHIP_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
           "STEWARDSHIP_READ_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/x"}
    done = subprocess.run([sys.executable, "-c", "from stewardship.cli import main; main()",
                           "serve"], env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 2
    said = " ".join(done.stderr.split())
    assert "STEWARDSHIP_READ_DATABASE_URL is set, but STEWARDSHIP_DATABASE_URL is not a " \
           "PostgreSQL URL" in said
    assert "Traceback" not in done.stderr


# --- against a real replica ---------------------------------------------------------------


@dataclass
class Served:
    app: FastAPI
    router: ReplicaRouter
    pair: Pair
    database: str
    smelter_token: str
    mill_token: str
    mill_entity: str
    smelter_user: object
    statements: dict[str, list[str]] = field(default_factory=lambda: {"primary": [],
                                                                      "replica": []})

    def clear(self) -> None:
        for found in self.statements.values():
            found.clear()

    def ran_on(self, server: str, table: str) -> bool:
        return any(table in s and "pg_current_wal_lsn" not in s
                   for s in self.statements[server])

    def on_replica(self, statement: str) -> object:
        engine = create_engine(self.pair.replica_url(self.database),
                               isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                return conn.execute(text(statement)).scalar()
        finally:
            engine.dispose()


def _until(what: str, check: Callable[[], bool], seconds: float = 120) -> None:
    """Wait for a state the test needs (the replica catching up), failing with ``what``
    if it never comes; a wait, not a measurement."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.1)


def _record(engine: Engine, into: list[str]) -> None:
    def seen(_conn, _cursor, statement, *_args) -> None:
        into.append(statement)

    event.listen(engine, "before_cursor_execute", seen)


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    if POSTGRES_URL is None:
        pytest.skip("no PostgreSQL server answers on 127.0.0.1:5432")
    source = make_url(POSTGRES_URL).set(database="postgres").render_as_string(
        hide_password=False)
    try:
        replica = streaming_replica(source)
        pair = replica.__enter__()
    except ReplicaUnavailable as reason:
        pytest.skip(f"no streaming replica on this machine: {reason}")
    database = f"stw_replica_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(pair.primary_url("postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{database}"'))
        primary = make_engine(pair.primary_url(database))
        upgrade(primary)
        with transaction(make_sessionmaker(primary)) as db:
            chain = cw.build(db)
            cw.produce(db, chain.smelter, "asi_aluminium", 100_000)
            smelter_token = accounts.create_token(db, chain.smelter.user, "t").token
            mill_token = accounts.create_token(db, chain.mill.admin, "t").token
        primary.dispose()
        settings = Settings(environment="test", password_profile="fast", secret_key="r" * 40,
                            database_url=pair.primary_url(database), server_threads=8,
                            read_database_url=pair.replica_url(database),
                            read_replica_max_lag_seconds=3600)
        app = create_app(settings)
        router: ReplicaRouter = app.state.replica
        found = Served(app=app, router=router, pair=pair, database=database,
                       smelter_token=smelter_token, mill_token=mill_token,
                       mill_entity=str(chain.mill.entity_id), smelter_user=chain.smelter.user)
        _record(app.state.engine, found.statements["primary"])
        _record(router.replica, found.statements["replica"])
        with TestClient(app, raise_server_exceptions=False):  # runs the watcher
            _until("the replica has the migrated database and catches up",
                   lambda: router.usable())
            yield found
    finally:
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        finally:
            admin.dispose()
            replica.__exit__(None, None, None)


def _client(served: Served, token: str | None = None) -> TestClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return TestClient(served.app, raise_server_exceptions=False, headers=headers)


def _issue(served: Served, client: TestClient, headers: dict[str, str] | None = None) -> str:
    answer = client.post(f"{C}/documents", headers=headers or {}, json={
        "recipient_entity_id": served.mill_entity, "material": "asi_aluminium",
        "quantity_kg": 10, "coc_quantity_kg": 10, "shipment_date": str(date.today())})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["number"])


def test_replica_readable_reads_are_served_by_the_replica(served: Served) -> None:
    served.clear()
    listed = _client(served).get("/api/v1/registry/organizations")
    assert listed.status_code == 200
    assert "Fjell Aluminium" in listed.text
    assert served.ran_on("replica", "organizations")
    assert not served.ran_on("primary", "organizations")
    served.clear()
    page = _client(served).get("/register")
    assert page.status_code == 200
    assert served.ran_on("replica", "organizations")
    assert not served.ran_on("primary", "organizations")


def test_other_reads_and_every_write_are_served_by_the_primary(served: Served) -> None:
    smelter = _client(served, served.smelter_token)
    served.clear()
    accounts_page = smelter.get(f"{C}/accounts")
    assert accounts_page.status_code == 200
    assert served.ran_on("primary", "material_accounts")
    assert not served.ran_on("replica", "material_accounts")
    served.clear()
    number = _issue(served, smelter)
    received = _client(served, served.mill_token).post(f"{C}/documents/{number}/receive")
    assert received.status_code == 200, received.text
    assert served.ran_on("primary", "INSERT INTO custody_movements")
    assert not any(s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
                   for s in served.statements["replica"])


def _only_the_writer_sees(served: Served, writer: TestClient, path: str, number: str) -> None:
    """With the replica's replay paused after ``writer`` issued document ``number``: the
    writer reads from the primary and sees it at once; anyone else reads the replica,
    which has not replayed it yet."""
    served.clear()
    own = writer.get(path)
    assert own.status_code == 200, own.text
    assert number in own.text
    assert not served.ran_on("replica", "coc_documents")
    served.clear()
    other = _client(served).get(path)
    assert other.status_code == 404, other.text
    assert served.ran_on("replica", "coc_documents")


def test_a_token_reads_its_own_write_while_the_replica_lags(served: Served) -> None:
    served.on_replica("SELECT pg_wal_replay_pause()")
    try:
        number = _issue(served, _client(served, served.smelter_token))
        _only_the_writer_sees(served, _client(served, served.smelter_token),
                              f"{C}/verify/{number}", number)
    finally:
        served.on_replica("SELECT pg_wal_replay_resume()")
    _until("the replica replays the document",
           lambda: _client(served).get(f"{C}/verify/{number}").status_code == 200)


def test_a_browser_reads_its_own_write_by_its_signed_cookie(served: Served) -> None:
    with transaction(make_sessionmaker(served.router.primary)) as db:
        user = registry_repo.user_by_id(db, served.smelter_user.user_id)  # type: ignore[attr-defined]
        cookie = accounts.start_session(db, user, served.app.state.settings)
    browser = _client(served)
    browser.cookies.set(SESSION_COOKIE, cookie)
    assert browser.get("/login", follow_redirects=True).status_code == 200
    _until("the replica has the new session", lambda: served.router.usable(
        served.router.head()))
    served.on_replica("SELECT pg_wal_replay_pause()")
    try:
        number = _issue(served, browser, headers={CSRF_HEADER: _csrf_value(served, browser)})
        assert browser.cookies.get(WRITTEN_COOKIE)
        _only_the_writer_sees(served, browser, f"/verify/coc/{number}", number)
    finally:
        served.on_replica("SELECT pg_wal_replay_resume()")


def _csrf_value(served: Served, browser: TestClient) -> str:
    from stewardship.core.security import unsign

    value = unsign(served.app.state.settings.secret_key, browser.cookies.get(CSRF_COOKIE, ""))
    assert value
    return value


def test_a_replica_too_far_behind_is_not_read_from(served: Served) -> None:
    served.on_replica("SELECT pg_wal_replay_pause()")
    limit = served.router.max_lag_seconds
    try:
        number = _issue(served, _client(served, served.smelter_token))
        served.router.max_lag_seconds = 0.5
        _until("the paused replica falls behind the lag limit",
               lambda: not served.router.usable())
        served.clear()
        other = _client(served).get(f"{C}/verify/{number}")
        assert other.status_code == 200
        assert not served.ran_on("replica", "coc_documents")
    finally:
        served.router.max_lag_seconds = limit
        served.on_replica("SELECT pg_wal_replay_resume()")
    _until("the replica catches up again", lambda: served.router.usable())


def test_a_replica_that_is_down_falls_back_to_the_primary(served: Served) -> None:
    # Last in the module: the replica stays down afterwards.
    number = _issue(served, _client(served, served.smelter_token))
    _until("the replica replays the document",
           lambda: served.router.usable(served.router.head()))
    stop_replica(served.pair)
    for _ in range(3):
        answer = _client(served).get(f"{C}/verify/{number}")
        assert answer.status_code == 200, answer.text
        assert _client(served).get("/api/v1/registry/organizations").status_code == 200
    _until("the watcher sees the replica down", lambda: served.router.lag_seconds() is None)
    assert _client(served).get(f"{C}/verify/{number}").status_code == 200
