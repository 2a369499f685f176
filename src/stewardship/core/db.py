"""Engine, sessions and the declarative base shared by every context.

Concurrency, on both databases (docs/scaling.md says more):

- Every unit of work declares whether it may write (``transaction(write=...)``; a request
  by its HTTP method). On SQLite reads begin DEFERRED and never wait; writers queue in the
  process on a ``WriterGate`` and then take the write lock at BEGIN (IMMEDIATE).
- The pool is sized by the caller to its threads, and nothing here checks out a second
  connection while a unit of work holds one (``after_commit`` work runs after it).
- "The database is busy" (the writer queue, the pool, a lock timeout, a deadlock victim)
  raises or is recognised by ``is_busy`` and leaves as 503 with ``Retry-After``.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import DateTime, Engine, MetaData, Uuid, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from stewardship.core import clock
from stewardship.core.errors import DomainError

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


WAIT_SECONDS = 30.0
"""How long a unit of work waits for the database (the writer queue, a pooled connection,
a row lock) before it gives up with ``DatabaseBusy``."""
BUSY_TIMEOUT_SECONDS = 10.0
"""SQLite's own wait for a write lock held by another process."""
READ_ONLY = "stewardship_read_only"
AFTER_COMMIT = "stewardship_after_commit"


def utcnow() -> datetime:
    return clock.now()


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp that always comes back in UTC, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; store UTC-aware times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the driver so that SQLAlchemy's BEGIN below (and
    # SAVEPOINTs) are what SQLite sees.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # A unit of work that may write takes the database's write lock when it begins
    # (IMMEDIATE), so a read-then-write (the event log head, a balance) can never be
    # overtaken, and it never has to upgrade a read snapshot to a writer mid-transaction:
    # SQLite refuses such an upgrade at once with SQLITE_BUSY whatever the busy timeout,
    # whenever another writer committed since the snapshot. A read-only unit begins
    # DEFERRED: in WAL mode it reads its snapshot and never waits for, or blocks, a writer.
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


# --- the writer gate ----------------------------------------------------------------------


class WriterGate:
    """The queue of this process's writers to one SQLite database.

    SQLite has one writer at a time. Left to SQLite, writers that find the lock taken sleep
    and poll (the busy timeout), unfairly, and fail with "database is locked" when the
    timeout runs out under a burst. In front of ``BEGIN IMMEDIATE`` every writing unit of
    work of the process therefore waits on this lock first, holding no connection while it
    waits; the busy timeout is left as the backstop against writers of other processes (a
    ``stewardship worker`` or a CLI command beside the server).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def acquire(self, timeout: float) -> bool:
        if timeout <= 0:
            return self._lock.acquire(blocking=False)
        return self._lock.acquire(timeout=timeout)

    def release(self) -> None:
        self._lock.release()

    def busy(self) -> bool:
        return self._lock.locked()


_gates: dict[str, WriterGate] = {}
_gates_guard = threading.Lock()
_read_engines: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
_writing_engines: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
_replica_engines: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def writer_gate(engine: Engine) -> WriterGate | None:
    """The writer gate of a SQLite database (one per file, shared by every engine of the
    process on that file); None on PostgreSQL, whose writers lock rows, not the database."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database or ":memory:"
    key = database if database == ":memory:" else str(Path(database).resolve())
    with _gates_guard:
        gate = _gates.get(key)
        if gate is None:
            gate = _gates[key] = WriterGate()
        return gate


def read_only_engine(engine: Engine, *, writes_to: Engine | None = None) -> Engine:
    """The same engine (and pool) with its transactions marked read-only: DEFERRED on
    SQLite, so that they never take the write lock.

    ``writes_to``: for a read replica's engine, the primary's, where what a read finds due
    is written (``write_now``) and where a read that cannot use the replica goes on
    (``switch_to_primary``)."""
    found = _read_engines.get(engine)
    if found is None:
        found = _read_engines[engine] = engine.execution_options(**{READ_ONLY: True})
        _writing_engines[found] = engine
    if writes_to is not None:
        _writing_engines[found] = writes_to
        _replica_engines[found] = writes_to
    return found


def switch_to_primary(session: Session) -> bool:
    """Move a read-only session bound to a read replica over to the primary: its
    transaction (which has only read) is ended and it reads on, from the next statement,
    on the primary, which has every committed row. False when it was not on a replica.
    Objects the session had loaded are expired."""
    bind = session.get_bind()
    primary = _replica_engines.get(bind) if isinstance(bind, Engine) else None
    if primary is None:
        return False
    session.rollback()
    session.bind = read_only_engine(primary)
    return True


def make_engine(url: str, *, pool_size: int | None = None,
                wait_seconds: float = WAIT_SECONDS, **kwargs: Any) -> Engine:
    """The engine for ``url``.

    ``pool_size``: the connections kept open, sized by the caller to the threads that use
    them at once (the server's thread pool, a worker's threads) so that no thread waits for
    a connection held by a request that itself waits for a thread. There is no overflow:
    a thread that still finds the pool empty after ``wait_seconds`` gets
    ``sqlalchemy.exc.TimeoutError``, which the web layer answers with 503.
    On PostgreSQL a row lock waited on for longer than ``wait_seconds`` fails the same way
    (``lock_timeout``), instead of leaving the request hanging.
    """
    parsed = make_url(url)
    in_memory = parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")
    # An in-memory SQLite database lives in one connection per thread (SQLAlchemy's
    # SingletonThreadPool): there is no pool to size.
    if pool_size is not None and not in_memory:
        kwargs.setdefault("pool_size", max(1, pool_size))
        kwargs.setdefault("max_overflow", 0)
        kwargs.setdefault("pool_timeout", wait_seconds)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("options", f"-c lock_timeout={int(wait_seconds * 1000)}")
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


class DatabaseBusy(DomainError):
    """The database could not be had in time (the writer queue, the connection pool or a
    row lock): nothing was done, and the same request may simply be sent again."""

    status_code = 503
    code = "busy"
    retry_after = 2


_BUSY_SQLSTATES = frozenset({
    "55P03",  # lock_not_available: lock_timeout ran out, or NOWAIT
    "40P01",  # deadlock_detected: PostgreSQL rolled this transaction back
    "40001",  # serialization_failure
    "57014",  # query_canceled (statement_timeout)
})


def is_busy(error: BaseException) -> bool:
    """Whether ``error`` means "the database was busy", not "the request was wrong": a
    writer that waited too long, an exhausted pool, a lock timeout or a deadlock victim.
    Such a request changed nothing and may be retried as it is."""
    if isinstance(error, DatabaseBusy | PoolTimeout | TimeoutError):
        return True
    if isinstance(error, OperationalError | DBAPIError):
        original = error.orig
        if isinstance(original, sqlite3.OperationalError):
            message = str(original).lower()
            return "locked" in message or "busy" in message
        return getattr(original, "sqlstate", None) in _BUSY_SQLSTATES
    return False


AfterCommit = Callable[[Session], None]


def after_commit(session: Session, work: AfterCommit) -> None:
    """Do ``work`` in a short write transaction of its own once this session's unit of
    work has ended and given its connection back; skipped when the database is busy at
    that moment. For bookkeeping that a read must not do inside its own transaction (a
    token's last use), and that may be missed now and then without harm."""
    pending: list[AfterCommit] = session.info.setdefault(AFTER_COMMIT, [])
    pending.append(work)


def _run_after_commit(factory: sessionmaker[Session], work: list[AfterCommit]) -> None:
    for item in work:
        try:
            with transaction(factory, write=True, wait_seconds=0) as session:
                item(session)
        except Exception as error:
            if not is_busy(error):
                raise


@contextmanager
def transaction(factory: sessionmaker[Session], *, write: bool = True,
                wait_seconds: float = WAIT_SECONDS,
                read_from: Engine | None = None) -> Iterator[Session]:
    """One unit of work: commit when the block succeeds, roll back when it raises.

    ``write=False`` declares a unit that only reads: on SQLite it begins DEFERRED and does
    not queue behind writers. Writing in it is a mistake that SQLite may refuse under load.
    A writing unit on SQLite first queues on the process's ``WriterGate`` for up to
    ``wait_seconds`` (``DatabaseBusy`` after that, before anything was done), and holds
    the gate until it has committed or rolled back. Work registered with ``after_commit``
    runs once the unit has ended, committed or not.

    ``read_from``: for a read-only unit, a read replica's engine (registered with
    ``read_only_engine(replica, writes_to=primary)``) to read from instead of the factory's
    engine; ``after_commit`` work still goes to the factory's.
    """
    # A factory bound to something other than an engine (a test's connection) is used as
    # it is: its transaction is someone else's.
    engine = getattr(factory, "kw", {}).get("bind")
    if not isinstance(engine, Engine):
        engine = None
    gate = writer_gate(engine) if write and engine is not None else None
    if gate is not None and not gate.acquire(wait_seconds):
        raise DatabaseBusy("the database is busy with other changes; nothing was saved, "
                           "try again in a moment")
    if not write and read_from is not None:
        session = factory(bind=read_only_engine(read_from))
    elif not write and engine is not None:
        session = factory(bind=read_only_engine(engine))
    else:
        session = factory()
    later: list[AfterCommit] = []
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        later = session.info.pop(AFTER_COMMIT, [])
        session.close()
        if gate is not None:
            gate.release()
        if later:
            _run_after_commit(factory, later)


T = TypeVar("T")


def write_now(session: Session, work: Callable[[Session], T]) -> T:
    """Do ``work`` that a unit of work found due (a vote past its closing time) and that
    must be stored whatever the unit goes on to do.

    In a unit that may write, ``work`` runs in it. A read-only unit (a GET) must not
    write: its transaction, which has only read, is ended first so that it holds no
    connection; ``work`` runs in a short writing unit of its own that commits; and the
    session then reads on in a new transaction that sees what ``work`` stored. Objects the
    session had loaded are expired: load what you need after calling this.
    """
    bind = session.get_bind()
    engine = _writing_engines.get(bind) if isinstance(bind, Engine) else None
    if engine is None:
        return work(session)
    session.rollback()
    with transaction(make_sessionmaker(engine)) as writer:
        done = work(writer)
    # A session reading from a replica reads on from the primary, which has it already.
    switch_to_primary(session)
    return done
