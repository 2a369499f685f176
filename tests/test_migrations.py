"""The migrations build exactly the schema the models describe, on every backend, and run
down and up again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from stewardship.core.db import make_engine
from stewardship.core.migrate import (
    alembic_config,
    current_revision,
    head_revision,
    pending_message,
    upgrade,
)
from stewardship.schema import metadata


def _differences(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "target_metadata": metadata})
        return list(compare_metadata(context, metadata))


def test_migrations_match_the_models(engine: Engine) -> None:
    # `engine` is the session's test database, built by running the migrations.
    assert current_revision(engine) == head_revision(engine)
    assert _differences(engine) == []


def test_every_table_of_the_models_exists(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert set(metadata.tables) <= tables


def test_event_log_triggers_are_installed(engine: Engine) -> None:
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            names = set(connection.scalars(text(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'event_log'::regclass "
                "AND NOT tgisinternal")))
            assert "event_log_no_change" in names
        else:
            names = set(connection.scalars(text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'event_log'")))
            assert {"event_log_no_update", "event_log_no_delete"} <= names


def test_upgrade_downgrade_upgrade_on_a_scratch_file(tmp_path: Path) -> None:
    from alembic import command

    engine = make_engine(f"sqlite:///{tmp_path / 'roundtrip.db'}")
    try:
        assert current_revision(engine) is None
        assert "stewardship db upgrade" in (pending_message(engine) or "")
        upgrade(engine)
        assert pending_message(engine) is None
        with engine.begin() as connection:
            config = alembic_config(engine)
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        assert current_revision(engine) is None
        leftover = set(inspect(engine).get_table_names()) - {"alembic_version"}
        assert leftover == set()
        upgrade(engine)
        assert current_revision(engine) == head_revision(engine)
        assert _differences(engine) == []
        upgrade(engine)  # a second upgrade is a no-op
        assert current_revision(engine) == head_revision(engine)
    finally:
        engine.dispose()


def test_each_revision_downgrades_to_its_parent(tmp_path: Path) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory

    engine = make_engine(f"sqlite:///{tmp_path / 'steps.db'}")
    try:
        script = ScriptDirectory.from_config(alembic_config(engine))
        revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
        for revision in revisions:
            upgrade(engine, revision)
            assert current_revision(engine) == revision
        for revision in reversed(revisions):
            parent = script.get_revision(revision).down_revision
            with engine.begin() as connection:
                config = alembic_config(engine)
                config.attributes["connection"] = connection
                command.downgrade(config, parent or "base")
            assert current_revision(engine) == parent
    finally:
        engine.dispose()
