"""Units of work beside each other on a committed database (SQLite and PostgreSQL): reads
never wait for a writer, writers queue instead of failing, a database that cannot be had
in time answers 503 with Retry-After, and a bearer token's last use is written at most
once a minute, after the request and without waiting for anyone."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update

from stewardship.core.auth import Role
from stewardship.core.config import Settings
from stewardship.core.db import DatabaseBusy, make_engine, make_sessionmaker, transaction, utcnow
from stewardship.registry.models import ApiToken, Organization
from stewardship.registry.service import accounts
from stewardship.web.app import create_app
from tests import factories
from tests.conftest import scratch_database


@pytest.fixture
def committed(backend: str, tmp_path: Path) -> Iterator[Engine]:
    with scratch_database(backend, tmp_path) as engine:
        with transaction(make_sessionmaker(engine)) as db:
            factories.organization(db)
        yield engine


def _rename_all(db: object, name: str) -> None:
    db.execute(update(Organization).values(name=name))  # type: ignore[attr-defined]


def test_reads_go_on_while_a_writer_holds_the_database(committed: Engine) -> None:
    factory = make_sessionmaker(committed)
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with transaction(factory) as db:
            _rename_all(db, "Renamed meanwhile")
            db.flush()
            holding.set()
            release.wait(20)

    thread = threading.Thread(target=writer)
    thread.start()
    assert holding.wait(20)
    finished: list[float] = []
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            with transaction(factory, write=False) as db:
                names = db.scalars(select(Organization.name)).all()
                assert names and "Renamed meanwhile" not in names  # the committed snapshot
            finished.append(time.monotonic())
        except BaseException as error:
            errors.append(error)

    readers = [threading.Thread(target=reader) for _ in range(20)]
    for r in readers:
        r.start()
    for r in readers:
        r.join(15)
    released_at = time.monotonic()
    release.set()
    thread.join(20)
    assert errors == []
    assert len(finished) == 20 and max(finished) < released_at  # none waited for the writer


def test_writers_queue_for_their_turn_instead_of_failing(committed: Engine) -> None:
    # Together they hold the database for longer than SQLite's busy timeout: left to
    # SQLite some would fail with "database is locked".
    factory = make_sessionmaker(committed)
    start = threading.Barrier(16)
    outcomes: list[object] = []

    def write(i: int) -> None:
        start.wait()
        try:
            with transaction(factory) as db:
                factories.organization(db)  # reads the event log's head, then appends
                time.sleep(0.4)
            outcomes.append("ok")
        except Exception as error:
            outcomes.append(error)

    with transaction(factory, write=False) as db:
        before = db.scalar(select(func.count()).select_from(Organization))
    threads = [threading.Thread(target=write, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert outcomes == ["ok"] * 16
    with transaction(factory, write=False) as db:
        assert db.scalar(select(func.count()).select_from(Organization)) == before + 16


def _app(engine: Engine, tmp_path: Path, **overrides: object) -> TestClient:
    settings = Settings(environment="test", password_profile="fast", var_dir=tmp_path,
                        secret_key="t" * 40, **overrides)  # type: ignore[arg-type]
    return TestClient(create_app(settings=settings, engine=engine),
                      raise_server_exceptions=False)


def test_a_writer_that_cannot_get_the_database_in_time_answers_503(
        backend: str, tmp_path: Path) -> None:
    with scratch_database(backend, tmp_path) as plain:
        url = plain.url.render_as_string(hide_password=False)
        engine = make_engine(url, wait_seconds=0.5)
        try:
            factory = make_sessionmaker(engine)
            with transaction(factory) as db:
                slug = factories.organization(db)
                admin = factories.user(db, Role.SECRETARIAT)
                token = accounts.create_token(db, admin, "t").token
            client = _app(engine, tmp_path, database_wait_seconds=0.5)
            auth = {"Authorization": f"Bearer {token}"}
            with transaction(make_sessionmaker(plain)) as db:
                # Another unit of work holds the organisation's row (and, on SQLite, the
                # database) while the request wants to change it.
                db.execute(update(Organization).where(Organization.slug == slug)
                           .values(name="Held"))
                db.flush()
                changed = client.patch(f"/api/v1/registry/organizations/{slug}",
                                       json={"name": "Changed"}, headers=auth)
                read = client.get(f"/api/v1/registry/organizations/{slug}", headers=auth)
            assert changed.status_code == 503, changed.text
            assert changed.headers["retry-after"].isdigit()
            assert changed.json()["error"]["code"] == "busy"
            assert read.status_code == 200 and read.json()["name"] != "Changed"
            with transaction(factory, write=False) as db:
                assert db.scalar(select(Organization.name)
                                 .where(Organization.slug == slug)) == "Held"
        finally:
            engine.dispose()


def test_the_writer_queue_gives_up_with_database_busy(backend: str, committed: Engine) -> None:
    if backend != "sqlite":
        pytest.skip("PostgreSQL writers lock rows, not the database")
    factory = make_sessionmaker(committed)
    with transaction(factory):
        outcome: list[object] = []

        def late() -> None:
            try:
                with transaction(factory, wait_seconds=0.2):
                    outcome.append("ran")
            except DatabaseBusy as error:
                outcome.append(error)

        thread = threading.Thread(target=late)
        thread.start()
        thread.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], DatabaseBusy)


def _token(engine: Engine) -> tuple[str, uuid.UUID]:
    with transaction(make_sessionmaker(engine)) as db:
        actor = factories.user(db, Role.SECRETARIAT)
        created = accounts.create_token(db, actor, "t")
        return created.token, created.id


def _last_used(engine: Engine, token_id: uuid.UUID) -> object:
    with transaction(make_sessionmaker(engine), write=False) as db:
        return db.scalar(select(ApiToken.last_used_at).where(ApiToken.id == token_id))


def test_a_token_s_last_use_is_written_at_most_once_a_minute(committed: Engine,
                                                            tmp_path: Path) -> None:
    token, token_id = _token(committed)
    client = _app(committed, tmp_path)
    auth = {"Authorization": f"Bearer {token}"}
    assert _last_used(committed, token_id) is None
    with time_machine.travel(utcnow(), tick=False) as clock:
        assert client.get("/api/v1/auth/me", headers=auth).status_code == 200
        first = _last_used(committed, token_id)
        assert first is not None
        clock.shift(timedelta(seconds=50))
        assert client.get("/api/v1/auth/me", headers=auth).status_code == 200
        assert _last_used(committed, token_id) == first  # within the minute: not written
        clock.shift(timedelta(seconds=20))
        assert client.get("/api/v1/auth/me", headers=auth).status_code == 200
        later = _last_used(committed, token_id)
        assert later is not None and later - first == timedelta(seconds=70)  # type: ignore[operator]


def test_a_get_with_a_token_waits_for_no_lock(committed: Engine, tmp_path: Path) -> None:
    """Another unit of work holds the token's row (and on SQLite the write lock): a read
    with that token answers at once; its last use is simply recorded another time."""
    token, token_id = _token(committed)
    # The app would wait ten minutes for the row: a GET that waited for it could only end
    # once the holder below lets go, which it does only after the GET has answered.
    client = _app(committed, tmp_path, database_wait_seconds=600)
    answers: list[Any] = []
    with transaction(make_sessionmaker(committed)) as db:
        row = db.scalars(select(ApiToken).where(ApiToken.id == token_id)
                         .with_for_update()).one()
        row.name = "held"
        db.flush()
        reader = threading.Thread(target=lambda: answers.append(client.get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})))
        reader.start()
        reader.join(timeout=120)
        waited = reader.is_alive()
    reader.join(timeout=120)
    assert not waited, "the GET waited for the token's row lock"
    answer = answers[0]
    assert answer.status_code == 200, answer.text
    assert _last_used(committed, token_id) is None
