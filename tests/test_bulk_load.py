"""The world's bulk load through the writer process: whatever it drops for the load (the
secondary indexes, and on PostgreSQL the unique and foreign-key constraints) is back
exactly as the migrations made it, the rows are those the in-process path writes, and a
batch the database refuses fails the load instead of vanishing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from benchmarks import bulk
from benchmarks.runner import fresh_database
from benchmarks.world import SCALES, generate
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_URL, _postgres_admin, _worker, scratch_database

TINY = SCALES["tiny"]


def schema(engine: Engine) -> dict[str, Any]:
    """Every index and constraint the database holds, with its definition as the catalog
    gives it (and on SQLite the journal mode the file is left in)."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            objects = conn.execute(text(
                "SELECT type, name, tbl_name, sql FROM sqlite_master "
                "ORDER BY type, name")).all()
            mode = conn.scalar(text("PRAGMA journal_mode"))
            return {"objects": [(*o[:3], _clauses(o[3]) if o[0] == "table" else o[3])
                                for o in objects], "journal_mode": mode}
        indexes = conn.execute(text(
            "SELECT tablename, indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = current_schema() ORDER BY tablename, indexname")).all()
        constraints = conn.execute(text(
            "SELECT r.relname, c.conname, c.contype, pg_get_constraintdef(c.oid), "
            "c.convalidated, c.condeferrable FROM pg_constraint c "
            "JOIN pg_class r ON r.oid = c.conrelid "
            "JOIN pg_namespace s ON s.oid = r.relnamespace "
            "WHERE s.nspname = current_schema() ORDER BY r.relname, c.conname")).all()
        return {"indexes": [tuple(i) for i in indexes],
                "constraints": [tuple(c) for c in constraints]}


def _clauses(create_table: str) -> tuple[str, ...]:
    """A CREATE TABLE's column and constraint clauses, in order of name: the migrations'
    table rebuilds on SQLite do not always list the constraints in one order."""
    return tuple(sorted(line.strip().rstrip(",") for line in create_table.splitlines()))


def test_the_bulk_load_leaves_the_schema_as_migrated(backend: str, tmp_path: Path) -> None:
    with scratch_database(backend, tmp_path) as fresh:
        migrated = schema(fresh)
    with scratch_database(backend, tmp_path) as engine:
        writer = bulk.BulkWriter(engine)
        assert writer.background
        generate(engine, TINY, seed=5, writer=writer)
        stats = writer.load_stats
        assert stats["batches"] >= 1
        loaded = schema(engine)
        rows = bulk.digest(engine)
    # The load did drop what it re-created: the deferred indexes are real ones.
    assert "ix_custody_movements_account_id" in stats["restore_slowest"] or \
        stats["restore_seconds"] >= 0
    if backend == "sqlite":
        assert stats["journal_mode_during_load"] == "memory"
        assert loaded["journal_mode"] == "wal"
    for key in migrated:  # the differences, named, before the whole
        assert sorted(set(loaded[key]) ^ set(migrated[key]), key=str) == [], key
    assert loaded == migrated
    # The same rows as written in this process, without the writer or the drops.
    with scratch_database(backend, tmp_path) as engine:
        generate(engine, TINY, seed=5, writer=bulk.BulkWriter(engine, background=False))
        assert bulk.digest(engine) == rows


def test_a_batch_the_database_refuses_fails_the_load(backend: str, tmp_path: Path) -> None:
    with scratch_database(backend, tmp_path) as engine:
        writer = bulk.BulkWriter(engine)
        writer.begin_load()
        op = uuid.uuid4()
        writer.add("custody_movements", {  # zero kilograms: a check the load keeps
            "correlation_id": op, "operation_id": op, "organization_id": uuid.uuid4(),
            "account_id": None, "system_account": "origin:x", "kilograms": 0,
            "recorded_at": datetime(2025, 1, 1, tzinfo=UTC)})
        with pytest.raises(RuntimeError, match="bulk writer failed"):
            writer.close()


@pytest.mark.skipif(POSTGRES_URL is None, reason="no PostgreSQL server")
def test_the_runner_makes_the_database_its_url_names() -> None:
    """`bench --url` with a database name gets that database, dropped and created again
    (so a run never lands in another run's `stw_bench_<scale>`)."""
    assert POSTGRES_URL is not None
    name = f"stw_scratch_{_worker()}_{uuid.uuid4().hex[:8]}"
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        for _ in range(2):  # the second time over the first one's database
            engine = fresh_database("tiny", "postgresql", url)
            try:
                with engine.connect() as conn:
                    assert conn.scalar(text("SELECT current_database()")) == name
                    assert conn.scalar(text("SELECT count(*) FROM audit_firms")) == 0
                    conn.execute(text("INSERT INTO audit_firms (id, slug, name, country, "
                                      "status, standards, countries, activities, "
                                      "created_at, updated_at) SELECT gen_random_uuid(), "
                                      "'x', 'X', 'GB', 'accredited', '[]', '[]', '[]', "
                                      "now(), now()"))
                    conn.commit()
            finally:
                engine.dispose()
    finally:
        _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
