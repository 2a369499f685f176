"""The migration that gives facilities their time zone: sites registered before it get
their country's main zone, and downgrading removes the column again."""

from __future__ import annotations

import uuid
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from stewardship.core.db import make_engine
from stewardship.core.migrate import alembic_config, upgrade

REVISION = "0012"  # facility time zones


def test_sites_registered_before_get_their_countrys_main_zone(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'zones.db'}")
    try:
        parent = ScriptDirectory.from_config(alembic_config(engine)).get_revision(
            REVISION).down_revision
        assert isinstance(parent, str)
        upgrade(engine, parent)
        org = uuid.uuid4().hex
        sites = {"NO2024AAAAAA1": "NO", "AU2024AAAAAA2": "AU", "XK2024AAAAAA3": "XK"}
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO organizations (id, slug, name, name_key, membership_class, "
                "status, country, description, created_at, updated_at) VALUES (:id, 'zones', "
                "'Zones', 'zones', 'production_transformation', 'member', 'NO', '', "
                "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"), {"id": org})
            for public_id, country in sites.items():
                connection.execute(text(
                    "INSERT INTO facilities (id, public_id, organization_id, name, name_clean, "
                    "address, address_clean, country, status, created_at, updated_at) VALUES "
                    "(:id, :public_id, :org, 'Works', 'works', '', '', :country, 'active', "
                    "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"),
                    {"id": uuid.uuid4().hex, "public_id": public_id, "org": org,
                     "country": country})
        upgrade(engine, REVISION)
        with engine.connect() as connection:
            zones = dict(connection.execute(text(
                "SELECT public_id, time_zone FROM facilities")).all())
        assert zones == {"NO2024AAAAAA1": "Europe/Oslo", "AU2024AAAAAA2": "Australia/Sydney",
                         "XK2024AAAAAA3": "UTC"}
        column = {c["name"]: c for c in inspect(engine).get_columns("facilities")}["time_zone"]
        assert column["nullable"] is False

        with engine.begin() as connection:
            config = alembic_config(engine)
            config.attributes["connection"] = connection
            command.downgrade(config, parent)
        assert "time_zone" not in {c["name"] for c in inspect(engine).get_columns("facilities")}
    finally:
        engine.dispose()
