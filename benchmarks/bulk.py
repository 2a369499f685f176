"""Writing a generated world straight into the tables: Core ``insert()`` executemany in
batches (SQLite, and PostgreSQL at small sizes) or ``COPY ... FROM STDIN`` through psycopg
(PostgreSQL), always in foreign-key order, from a writer process of its own while the year
is simulated (``benchmarks.loader``); and a digest of the rows, to prove that one seed
always makes one world."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    LargeBinary,
    Table,
    Uuid,
    bindparam,
    select,
    update,
)

from benchmarks import loader
from stewardship.assurance.models import (
    Audit,
    Certificate,
    CertificateActivity,
    CertificateCountry,
    CertificateEvent,
    CertificationScope,
    ScopeFacility,
)
from stewardship.core import bulkinsert
from stewardship.core.eventlog import EventLogEntry
from stewardship.core.tlog import LogNode
from stewardship.custody.models import (
    CocDocument,
    CustodyOperation,
    CustodySettings,
    MaterialAccount,
    Movement,
)
from stewardship.registry.models import (
    AuditFirm,
    Auditor,
    Entity,
    Facility,
    FacilityActivity,
    Organization,
    User,
)

Row = dict[str, Any]

# Parents before children: every batch is written in this order.
TABLES: list[Table] = [t.__table__ for t in (  # type: ignore[misc]
    Organization, Entity, Facility, FacilityActivity, User, AuditFirm, Auditor,
    CertificationScope, ScopeFacility, Audit, Certificate, CertificateActivity,
    CertificateCountry, CertificateEvent, CustodySettings,
    MaterialAccount, CocDocument, CustodyOperation, Movement, EventLogEntry, LogNode)]
BY_NAME = {t.name: t for t in TABLES}

# Columns the database fills (the movements' serial id).
_GENERATED = {("custody_movements", "id")}


class _Shape:
    """One table's row shape: column order, the scalar defaults and NULLs that fill what a
    row leaves out, and the columns that must be given."""

    def __init__(self, table: Table) -> None:
        self.columns: list[str] = []
        self.fill: Row = {}
        self.required: set[str] = set()
        for column in table.columns:
            if (table.name, column.name) in _GENERATED:
                continue
            self.columns.append(column.name)
            default = column.default
            if default is not None and getattr(default, "is_scalar", False):
                self.fill[column.name] = default.arg  # type: ignore[attr-defined]
            elif default is None and column.nullable:
                self.fill[column.name] = None
            else:
                self.required.add(column.name)
        self.width = len(self.columns)


_SHAPES = {t.name: _Shape(t) for t in TABLES}


def complete(table: str, values: Row) -> Row:
    """The row with every column present (executemany needs one shape): a missing column
    takes its scalar default, or NULL. A callable default (a clock, a random id) must be
    given explicitly, so that one seed always gives one world."""
    shape = _SHAPES[table]
    row = {**shape.fill, **values}
    if len(row) != shape.width or not shape.required <= values.keys():
        missing = shape.required - set(values)
        extra = set(row) - set(shape.columns)
        raise ValueError(f"{table}: missing {sorted(missing)}, unknown {sorted(extra)}")
    return row


class BulkWriter:
    """Buffers rows per table and writes them in foreign-key order, one transaction per
    batch. ``on_write`` hears how many rows each batch wrote. ``fast`` (SQLite) binds
    through the columns' own processors straight to the driver; without it every batch
    goes through ``conn.execute(insert(), rows)`` (the tests compare the two).

    ``background`` (with ``fast``, by default) hands the batches written after
    ``begin_load`` to a writer process, the secondary indexes dropped meanwhile
    (``benchmarks.loader``); ``close`` waits for it, and ``load_stats`` then says how
    its time went."""

    def __init__(self, engine: Engine, *, batch_rows: int = 50_000,
                 copy: bool | None = None, fast: bool = True,
                 background: bool | None = None,
                 on_write: Callable[[int], None] | None = None) -> None:
        self.engine = engine
        self.copy = engine.dialect.name == "postgresql" if copy is None else copy
        self.batch_rows = batch_rows
        self.fast = fast
        self.background = fast if background is None else background
        self._loader: loader.Background | None = None
        self.load_stats: dict[str, Any] = {}
        self._conn: Connection | None = None
        self.buffers: dict[str, list[Row]] = {t.name: [] for t in TABLES}
        self.pending = 0
        self.written: dict[str, int] = dict.fromkeys(self.buffers, 0)
        self.on_write = on_write

    def connection(self) -> Connection:
        """The writer's one connection. On SQLite it skips syncing and keeps a large page
        cache while loading (a load lost to a crash is generated again); ``close`` puts
        the connection back as the application has it."""
        if self._conn is None:
            self._conn = self.engine.connect()
            if self._conn.dialect.name == "sqlite":
                raw = self._conn.connection.driver_connection
                assert raw is not None
                raw.execute("PRAGMA synchronous=OFF")
                raw.execute("PRAGMA cache_size=-262144")
        return self._conn

    def begin_load(self) -> None:
        """From here on (the setup is written, the year begins) batches go to the writer
        process: the indexes and constraints to defer are read from the database, this
        process lets go of its connections (SQLite changes its journal mode only with the
        file to itself) and the writer starts."""
        self.flush()
        if not self.background or self._loader is not None:
            return
        items = loader.deferred(self.engine, TABLES)
        self._release()
        self.engine.dispose()
        url = self.engine.url
        if url.get_backend_name() == "sqlite":
            target = url.database or ""
        else:
            target = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._loader = loader.Background(url.get_backend_name(), target, items)

    def close(self) -> None:
        self.flush()
        if self._loader is not None:
            started = time.perf_counter()
            self.load_stats = self._loader.finish()
            self.load_stats["close_waited_seconds"] = round(time.perf_counter() - started, 2)
            self._loader = None
        self._release()

    def _release(self) -> None:
        if self._conn is not None:
            if self._conn.dialect.name == "sqlite":
                raw = self._conn.connection.driver_connection
                assert raw is not None
                raw.execute("PRAGMA synchronous=NORMAL")
                raw.execute("PRAGMA cache_size=-2000")
            self._conn.close()
            self._conn = None

    def add(self, table: str, row: Row) -> None:
        self.buffers[table].append(row)
        self.pending += 1

    def add_all(self, table: str, rows: Iterable[Row]) -> None:
        for row in rows:
            self.add(table, row)

    def maybe_flush(self) -> None:
        if self.pending >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        if self._loader is not None:
            batch: loader.Batch = []
            for table in TABLES:
                rows = self.buffers[table.name]
                if not rows:
                    continue
                if self.copy:
                    batch.append(("copy", *_prepare_copy(table, rows)))
                else:
                    batch.append(("many", *_prepare_sqlite(table, rows,
                                                           self.engine.dialect)))
                self.written[table.name] += len(rows)
                self.buffers[table.name] = []
            self._loader.put(batch)
            done, self.pending = self.pending, 0
            if self.on_write:
                self.on_write(done)
            return
        conn = self.connection()
        with conn.begin():
            for table in TABLES:
                rows = self.buffers[table.name]
                if not rows:
                    continue
                if self.copy:
                    _copy(conn, table, rows)
                elif self.fast and conn.dialect.name == "sqlite":
                    _executemany(conn, table, rows)
                else:
                    conn.execute(table.insert(), rows)
                self.written[table.name] += len(rows)
                self.buffers[table.name] = []
        done, self.pending = self.pending, 0
        if self.on_write:
            self.on_write(done)

    def update_accounts(self, rows: list[Row]) -> None:
        """Write the accounts' final counters, pools and versions (they were inserted
        when opened, before the movements that name them)."""
        t = MaterialAccount.__table__
        columns = [c for c in rows[0] if c != "id"] if rows else []
        if self._loader is not None:
            self.flush()
            mark = "%s" if self.copy else "?"
            sets = ", ".join(f'"{c}" = {mark}' for c in columns)
            sql = f'UPDATE "{t.name}" SET {sets} WHERE "id" = {mark}'
            for start in range(0, len(rows), self.batch_rows):
                chunk = [{**r, "_id": r["id"]} for r in rows[start:start + self.batch_rows]]
                names = [*columns, "_id"]
                if self.copy:
                    _, values = _prepare_copy(t, chunk, names)
                else:
                    _, values = _prepare_sqlite(t, chunk, self.engine.dialect, names)
                self._loader.put([("many", sql, values)])
            return
        statement = (update(t).where(t.c.id == bindparam("_id"))
                     .values({c: bindparam(c) for c in columns}))
        conn = self.connection()
        with conn.begin():
            for start in range(0, len(rows), self.batch_rows):
                chunk = [{**{c: r[c] for c in columns}, "_id": r["id"]}
                         for r in rows[start:start + self.batch_rows]]
                conn.execute(statement, chunk)


def _prepare_sqlite(table: Table, rows: list[Row], dialect: Any,
                    names: list[str] | None = None) -> tuple[str, list[tuple[Any, ...]]]:
    """The INSERT and its parameters as ``conn.execute(table.insert(), rows)`` binds them
    on SQLite (``bulkinsert.bound_columns``), ready to cross to the writer process: a
    parameter ``_c`` binds as column ``c`` (the accounts' update), and the driver's
    binary values (memoryviews) cross as the same bytes."""
    names = names or list(rows[0])
    targets = [n.lstrip("_") for n in names]
    columns = bulkinsert.bound_columns(table, names, rows, dialect, targets=targets)
    for i, target in enumerate(targets):
        if isinstance(table.c[target].type, LargeBinary):
            columns[i] = [bytes(v) if isinstance(v, memoryview) else v for v in columns[i]]
    return bulkinsert.statement(table, names, dialect), list(zip(*columns, strict=True))


def _executemany(conn: Connection, table: Table, rows: list[Row]) -> None:
    sql, values = _prepare_sqlite(table, rows, conn.dialect)
    raw = conn.connection.driver_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        cursor.executemany(sql, values)
    finally:
        cursor.close()


def _prepare_copy(table: Table, rows: list[Row],
                  names: list[str] | None = None) -> tuple[str, list[tuple[Any, ...]]]:
    """The COPY and its rows: JSON serialised, UUIDs as their hex (which PostgreSQL reads
    as the same uuid, and which crosses to the writer process cheaper than the object)."""
    names = names or list(rows[0])
    columns = []
    for name in names:
        type_ = table.c[name.lstrip("_")].type
        values = [row[name] for row in rows]
        if type_.__class__.__name__ == "JSON":
            values = [None if v is None else json.dumps(v) for v in values]
        elif isinstance(type_, Uuid):
            values = list(map(bulkinsert.uuid_hex, values))
        elif isinstance(type_, LargeBinary):  # hashes read back from bytea: memoryviews
            values = [bytes(v) if isinstance(v, memoryview) else v for v in values]
        columns.append(values)
    quoted = ", ".join(f'"{n}"' for n in names)
    return (f'COPY "{table.name}" ({quoted}) FROM STDIN',
            list(zip(*columns, strict=True)))


def _copy(conn: Connection, table: Table, rows: list[Row]) -> None:
    sql, values = _prepare_copy(table, rows)
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(sql) as copy:
        for row in values:
            copy.write_row(row)


# --- determinism ------------------------------------------------------------------------

# Written by the standards service during setup (fresh ids and clock each run).
DIGEST_SKIP_COLUMNS = {"version_id"}
_CHAINED = {"sequence", "prev_hash", "hash"}


def digest(engine: Engine) -> dict[str, str]:
    """A SHA-256 per generated table over every row in primary-key order (columns that
    point at the standards loaded through their service left out)."""
    out: dict[str, str] = {}
    with engine.connect() as conn:
        for table in TABLES:
            if table.name == "event_log_nodes":
                continue  # hashes of the entries below, whose chain carries the run's clock
            columns = [c for c in table.columns if c.name not in DIGEST_SKIP_COLUMNS]
            query = select(*columns).order_by(*table.primary_key.columns)
            if table.name == "event_log":
                # The world's own entries; their chain hashes start from the setup's
                # entries, which carry the clock of the run, so only their fields count.
                query = (select(*(c for c in columns if c.name not in _CHAINED))
                         .where(table.c.kind.startswith("custody."))
                         .order_by(table.c.sequence))
            h = hashlib.sha256()
            for row in conn.execute(query):
                h.update(repr(tuple(row)).encode())
            out[table.name] = h.hexdigest()
    return out
