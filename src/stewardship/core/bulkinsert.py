"""Inserting many rows of one table through the driver's ``executemany``, with each
column's own bind processor applied a column at a time.

``conn.execute(table.insert(), rows)`` processes the parameters row by row (a dictionary,
a processor call and a key look-up per value), which on SQLite costs more than the insert
itself. ``insert_rows`` writes the same values (the processors are the columns' own, so
the bytes stored are the same: ``tests/test_benchmarks.py`` and the capture tests compare
them) as one ``INSERT ... VALUES (?, ...)`` handed to the driver with the rows as tuples.
It runs in the connection's transaction (and SAVEPOINT), and the driver's errors come back
as SQLAlchemy's (``IntegrityError``...), as they would from Core.

Only plain values: columns with a SQL-side bind expression or a Python-side default the
row leaves out are the caller's to fill (every row must name the same columns)."""

from __future__ import annotations

import functools
import operator
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Date, DateTime, Float, Table, TypeDecorator, Uuid

Row = dict[str, Any]
Processor = Callable[[Any], Any]

_PROCESSORS: dict[tuple[str, str, str], Processor | None] = {}
_REMEMBERED = 4096
"""Values a memoised processor keeps: a batch's dates and times repeat within it."""
_MARK = {"qmark": "?", "format": "%s", "pyformat": "%s", "numeric": None, "named": None}


def processor(table: Table, name: str, dialect: Any) -> Processor | None:
    """The column's bind processor for the dialect (kept per table, column and dialect).
    Dates and times repeat across rows, so theirs are memoised; UUIDs on a backend without
    a native type are their hex (what ``Uuid`` binds), done directly."""
    key = (table.name, name, dialect.name)
    if key in _PROCESSORS:
        return _PROCESSORS[key]
    type_ = table.c[name].type
    found: Processor | None
    if isinstance(type_, Uuid) and not dialect.supports_native_uuid:
        found = uuid_hex
    else:
        found = type_.dialect_impl(dialect).bind_processor(dialect)
        if found is not None and isinstance(type_, Date | DateTime | TypeDecorator):
            found = functools.lru_cache(maxsize=_REMEMBERED)(found)
    _PROCESSORS[key] = found
    return found


@functools.lru_cache(maxsize=_REMEMBERED)
def uuid_hex(value: uuid.UUID | None) -> str | None:
    return None if value is None else value.hex


def statement(table: Table, names: Sequence[str], dialect: Any) -> str:
    """``INSERT INTO "t" ("a", "b") VALUES (?, ?)`` in the driver's parameter style."""
    mark = _MARK.get(dialect.paramstyle)
    if mark is None:
        raise ValueError(f"no positional parameters in the {dialect.paramstyle} style")
    preparer = dialect.identifier_preparer
    quoted = ", ".join(preparer.quote(n) for n in names)
    return (f"INSERT INTO {preparer.format_table(table)} ({quoted}) "
            f"VALUES ({', '.join(mark for _ in names)})")


def bound_columns(table: Table, names: Sequence[str], rows: Sequence[Row],
                  dialect: Any, *, targets: Sequence[str] | None = None) -> list[list[Any]]:
    """The rows' values column by column, each through its column's processor; value
    ``names[i]`` binds as column ``targets[i]`` (the name itself by default)."""
    columns = []
    for name, target in zip(names, targets or names, strict=True):
        values = [row[name] for row in rows]
        process = processor(table, target, dialect)
        columns.append(list(map(process, values)) if process is not None else values)
    return columns


def insert_rows(conn: Connection, table: Table, rows: Sequence[Row]) -> None:
    """What ``conn.execute(table.insert(), rows)`` writes, through the driver's
    ``executemany`` (see the module docstring). Every row names the same columns."""
    if not rows:
        return
    names = list(rows[0])
    if len(names) == 1:
        insert_tuples(conn, table, names, [(row[names[0]],) for row in rows])
        return
    insert_tuples(conn, table, names, list(map(operator.itemgetter(*names), rows)))


def insert_tuples(conn: Connection, table: Table, names: Sequence[str],
                  rows: Sequence[tuple[Any, ...]], *, floats: Sequence[str] = ()) -> None:
    """``insert_rows`` for rows given as tuples, their values in the order of ``names``:
    only the columns with a bind processor are taken apart and put back together.
    ``floats``: columns of ``Float`` whose values are all floats or None already (what
    their processor, where there is one, gives back unchanged)."""
    if not rows:
        return
    dialect = conn.dialect
    processors = [None if name in floats and isinstance(table.c[name].type, Float)
                  else processor(table, name, dialect) for name in names]
    if any(process is not None for process in processors):
        columns = [list(map(process, values)) if process is not None else values
                   for process, values in zip(processors, zip(*rows, strict=True), strict=True)]
        rows = list(zip(*columns, strict=True))
    elif not isinstance(rows, list):
        rows = list(rows)
    conn.exec_driver_sql(statement(table, names, dialect), rows)
