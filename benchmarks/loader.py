"""The bulk load's second process and its schema handling.

While the year is simulated, the rows are written by a writer process of their own, fed
through a queue with batches already prepared for the driver (the columns' bind values on
SQLite, the COPY values on PostgreSQL), so that simulation and insertion use two CPUs.
Before the first batch the writer drops the secondary indexes of the loaded tables (and on
PostgreSQL their unique and foreign-key constraints), and after the last one it creates
them again: one sort per index instead of random B-tree inserts, one join per foreign key
instead of a trigger per row. What is dropped is named by the migrations' metadata and
re-created from the definition the database itself holds, read before the drop, so the
schema ends exactly as migrated (the tests compare the catalogs). On SQLite the writer
also loads with the rollback journal in memory and without syncing, and puts both back."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, ForeignKeyConstraint, Table, UniqueConstraint, text

Batch = list[tuple[str, str, list[tuple[Any, ...]]]]
"""One transaction's writes: (kind, SQL, rows), kind ``copy`` or ``many``."""


@dataclass(frozen=True)
class Deferred:
    """One index or constraint dropped for the load: how to drop it, and the database's
    own definition to create it again."""

    name: str
    table: str
    drop: str
    create: str
    kind: str  # index, unique, foreign_key


def deferred(engine: Engine, tables: Iterable[Table]) -> list[Deferred]:
    """The secondary indexes of ``tables`` (and on PostgreSQL their unique and foreign-key
    constraints), named by the metadata, with the definitions the database holds. Restored
    in the order given: indexes and unique constraints before the foreign keys."""
    tables = list(tables)
    out: list[Deferred] = []
    with engine.connect() as conn:
        postgres = conn.dialect.name == "postgresql"
        for table in tables:
            for index in sorted(table.indexes, key=lambda i: str(i.name)):
                if postgres:
                    sql = conn.scalar(text(
                        "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()"
                        " AND tablename = :t AND indexname = :n"),
                        {"t": table.name, "n": index.name})
                else:
                    sql = conn.scalar(text("SELECT sql FROM sqlite_master WHERE type = "
                                           "'index' AND tbl_name = :t AND name = :n"),
                                      {"t": table.name, "n": index.name})
                if not sql:
                    raise LookupError(f"index {index.name} of {table.name} is not in the "
                                      "database: is it migrated to head?")
                out.append(Deferred(str(index.name), table.name,
                                    f'DROP INDEX "{index.name}"', str(sql), "index"))
        if not postgres:
            return out
        keys: list[Deferred] = []
        for table in tables:
            for constraint in sorted(table.constraints, key=lambda c: str(c.name)):
                if isinstance(constraint, UniqueConstraint):
                    kind, bucket = "unique", out
                elif isinstance(constraint, ForeignKeyConstraint):
                    kind, bucket = "foreign_key", keys
                else:
                    continue
                definition = conn.scalar(text(
                    "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_class r"
                    " ON r.oid = c.conrelid JOIN pg_namespace s ON s.oid = r.relnamespace"
                    " WHERE s.nspname = current_schema() AND r.relname = :t"
                    " AND c.conname = :n"), {"t": table.name, "n": constraint.name})
                if not definition:
                    raise LookupError(f"constraint {constraint.name} of {table.name} is not "
                                      "in the database: is it migrated to head?")
                alter = f'ALTER TABLE "{table.name}"'
                bucket.append(Deferred(
                    str(constraint.name), table.name,
                    f'{alter} DROP CONSTRAINT "{constraint.name}"',
                    f'{alter} ADD CONSTRAINT "{constraint.name}" {definition}', kind))
        # Foreign keys go first when dropping (a unique constraint may be referenced).
        return out + keys


def drop_order(items: list[Deferred]) -> list[Deferred]:
    return sorted(items, key=lambda d: d.kind != "foreign_key")


# --- the writer process -----------------------------------------------------------------

_SQLITE_LOAD = {"journal_mode": "MEMORY", "synchronous": "OFF", "cache_size": "-1048576"}


def _serve(backend: str, target: str, items: list[Deferred], inbox: Any,
           outbox: Any) -> None:
    """The writer: drop, write every batch as it comes, create again, report."""
    try:
        stats: dict[str, Any] = {"batches": 0, "write_seconds": 0.0}
        if backend == "sqlite":
            import sqlite3

            conn: Any = sqlite3.connect(target, isolation_level=None)
            before = {p: conn.execute(f"PRAGMA {p}").fetchone()[0] for p in _SQLITE_LOAD}
            for pragma, value in _SQLITE_LOAD.items():
                conn.execute(f"PRAGMA {pragma}={value}")
            conn.execute("PRAGMA foreign_keys=ON")
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            stats["journal_mode_during_load"] = mode
        else:
            import psycopg

            conn = psycopg.connect(target)
            before = {}
            conn.execute("SET synchronous_commit = off")
        cursor = conn.cursor()

        def run(statements: Iterable[str]) -> None:
            if backend == "sqlite":
                cursor.execute("BEGIN")
            for sql in statements:
                cursor.execute(sql)
            conn.commit() if backend != "sqlite" else cursor.execute("COMMIT")

        started = time.perf_counter()
        run(d.drop for d in drop_order(items))
        stats["drop_seconds"] = round(time.perf_counter() - started, 2)
        parent = os.getppid()
        while True:
            try:
                data = inbox.get(timeout=5.0)
            except queue.Empty:
                if os.getppid() != parent:  # the generator is gone: nothing more comes
                    raise RuntimeError("the generator stopped") from None
                continue
            if data is None:
                break
            message = pickle.loads(data)
            started = time.perf_counter()
            if backend == "sqlite":
                cursor.execute("BEGIN")
                for _kind, sql, rows in message:
                    cursor.executemany(sql, rows)
                cursor.execute("COMMIT")
            else:
                for kind, sql, rows in message:
                    if kind == "copy":
                        with cursor.copy(sql) as copy:
                            for row in rows:
                                copy.write_row(row)
                    else:
                        cursor.executemany(sql, rows)
                conn.commit()
            stats["batches"] += 1
            stats["write_seconds"] += time.perf_counter() - started
        started = time.perf_counter()
        restore: dict[str, float] = {}
        if backend == "postgresql":
            conn.execute("SET maintenance_work_mem = '512MB'")
        for d in items:
            one = time.perf_counter()
            run([d.create])
            restore[d.name] = round(time.perf_counter() - one, 2)
        stats["restore_seconds"] = round(time.perf_counter() - started, 2)
        stats["restore_slowest"] = dict(sorted(restore.items(), key=lambda kv: -kv[1])[:5])
        if backend == "sqlite":
            for pragma, value in before.items():
                conn.execute(f"PRAGMA {pragma}={value}")
            stats["journal_mode_after"] = conn.execute("PRAGMA journal_mode").fetchone()[0]
        stats["write_seconds"] = round(stats["write_seconds"], 2)
        import resource

        stats["writer_peak_rss_mb"] = resource.getrusage(
            resource.RUSAGE_SELF).ru_maxrss // 1024
        usage = resource.getrusage(resource.RUSAGE_SELF)
        stats["writer_cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 2)
        if backend == "postgresql":
            stats["server_cpu_seconds"] = server_cpu_seconds(
                conn.execute("SELECT pg_backend_pid()").fetchone()[0])
        cursor.close()
        conn.close()
        outbox.put(("done", stats))
    except BaseException:  # the parent reports it
        outbox.put(("error", traceback.format_exc()))


def server_cpu_seconds(pid: int) -> float | None:
    """The CPU time a PostgreSQL backend of this machine has used (None when the server
    runs elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)


class Background:
    """The writer process, its queue (a few batches deep, so the generator runs ahead
    while a batch is written) and its answer."""

    def __init__(self, backend: str, target: str, items: list[Deferred],
                 depth: int = 3) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.inbox = ctx.Queue(maxsize=depth)
        self.outbox = ctx.Queue()
        self.process = ctx.Process(target=_serve, name="bulk-writer", daemon=True,
                                   args=(backend, target, items, self.inbox, self.outbox))
        self.process.start()
        self.stats: dict[str, Any] = {}
        self.waited = 0.0

    def _failed(self) -> None:
        """Raise what stopped the writer, if it stopped."""
        try:
            kind, detail = self.outbox.get_nowait()
        except queue.Empty:
            if not self.process.is_alive():
                raise RuntimeError(f"the bulk writer stopped ({self.process.exitcode})") \
                    from None
            return
        raise RuntimeError(f"the bulk writer failed:\n{detail}" if kind == "error"
                           else "the bulk writer finished early")

    def put(self, batch: Batch | None) -> None:
        """Queue a batch; while the queue is full, the time waited is counted (the
        writer is then the slower side)."""
        # Pickled here, not in the queue's feeder thread, so that a value that cannot
        # cross fails the load instead of being left out of it.
        data = None if batch is None else pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
        started = time.perf_counter()
        while True:
            try:
                self.inbox.put(data, timeout=1.0)
                break
            except queue.Full:
                self._failed()
        self.waited += time.perf_counter() - started

    def finish(self) -> dict[str, Any]:
        """Send the end, wait for the indexes and constraints to be back, and return the
        writer's figures (or raise what went wrong in it)."""
        self.put(None)
        while True:
            try:
                kind, detail = self.outbox.get(timeout=1.0)
                break
            except queue.Empty:
                if not self.process.is_alive():
                    raise RuntimeError(
                        f"the bulk writer stopped ({self.process.exitcode})") from None
        self.process.join()
        if kind == "error":
            raise RuntimeError(f"the bulk writer failed:\n{detail}")
        self.stats = {**detail, "generator_waited_seconds": round(self.waited, 2)}
        return self.stats
