"""Alembic environment: runs on the connection handed over by core.migrate, or its own."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from stewardship.core.db import make_engine
from stewardship.schema import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = config.get_main_option("sqlalchemy.url") or ""
    engine = config.attributes.get("engine") or make_engine(url)
    with engine.begin() as conn:
        _run(conn)
