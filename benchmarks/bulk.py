"""Writing a generated world straight into the tables: Core ``insert()`` executemany in
batches (SQLite, and PostgreSQL at small sizes) or ``COPY ... FROM STDIN`` through psycopg
(PostgreSQL), always in foreign-key order; and a digest of the rows, to prove that one seed
always makes one world."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    bindparam,
    select,
    update,
)

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
    goes through ``conn.execute(insert(), rows)`` (the tests compare the two)."""

    def __init__(self, engine: Engine, *, batch_rows: int = 50_000,
                 copy: bool | None = None, fast: bool = True,
                 on_write: Callable[[int], None] | None = None) -> None:
        self.engine = engine
        self.copy = engine.dialect.name == "postgresql" if copy is None else copy
        self.batch_rows = batch_rows
        self.fast = fast
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

    def close(self) -> None:
        self.flush()
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
        statement = (update(t).where(t.c.id == bindparam("_id"))
                     .values({c: bindparam(c) for c in columns}))
        conn = self.connection()
        with conn.begin():
            for start in range(0, len(rows), self.batch_rows):
                chunk = [{**{c: r[c] for c in columns}, "_id": r["id"]}
                         for r in rows[start:start + self.batch_rows]]
                conn.execute(statement, chunk)


def _executemany(conn: Connection, table: Table, rows: list[Row]) -> None:
    """What ``conn.execute(table.insert(), rows)`` does on SQLite, with each column's own
    bind processor (UUIDs as hex, dates and times as text, JSON serialised) applied a
    column at a time, minus the per-row parameter compilation that costs more than the
    insert itself (``stewardship.core.bulkinsert``; the tests prove both write the same
    bytes)."""
    bulkinsert.insert_rows(conn, table, rows)


def _copy(conn: Connection, table: Table, rows: list[Row]) -> None:
    names = list(rows[0])
    json_columns = {c.name for c in table.columns
                    if c.type.__class__.__name__ == "JSON" and c.name in names}
    raw = conn.connection.driver_connection
    assert raw is not None
    quoted = ", ".join(f'"{n}"' for n in names)
    with raw.cursor() as cursor, cursor.copy(
            f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([json.dumps(row[n]) if n in json_columns and row[n] is not None
                            else row[n] for n in names])


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
