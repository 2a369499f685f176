"""A committed world with a row of every trust table, for the whole-database integrity
tests: a certificate issued through a real audit and decision, then suspended (two
status-history rows, its credential's suspension bit set); the custody chain's
certificates; CoC documents issued and received with their journal, legs and accounts;
checkpoints signed along the way and one cosigned by a registered witness.

The world is built once per backend and module (``template``); each test gets a copy of
its own (``clone``) to tamper with: a file copy on SQLite, ``CREATE DATABASE ... TEMPLATE``
on PostgreSQL."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from stewardship.assurance.schemas import StatusChange
from stewardship.assurance.service import certificates
from stewardship.core import issuance, notes, tlog
from stewardship.core.auth import Actor
from stewardship.core.config import Settings
from stewardship.core.db import make_engine
from stewardship.core.eventlog import EventLogEntry
from stewardship.core.integrity import Report
from stewardship.core.keys import log_signer, new_seed
from stewardship.core.migrate import upgrade
from stewardship.integrity import check_database
from tests import assurance_world as aw
from tests import custody_world as cw
from tests.conftest import create_database, database_engine, drop_database

BASE = "https://register.example.org"
WITNESS = "firm.example/witness"
SEED = new_seed()


def settings_for(var_dir: Path) -> Settings:
    """The settings every part of the test signs and verifies with (one log key)."""
    return Settings(environment="test", password_profile="fast", var_dir=var_dir,
                    secret_key="t" * 40, log_key=SEED, page_size_max=50)


@dataclass(frozen=True)
class Template:
    backend: str
    location: str
    """The SQLite file, or the PostgreSQL database name."""
    settings: Settings
    secretariat: Actor
    admin: Actor
    certificate: str
    """Issued through an audit and decision, then suspended."""
    audit: uuid.UUID
    received: str
    """A CoC document issued and received."""
    waiting: str
    """A CoC document issued, not yet received."""
    smelter: uuid.UUID
    mill: uuid.UUID


def build(engine: Engine, settings: Settings, backend: str, location: str) -> Template:
    signer = log_signer(settings)
    witness = notes.Signer(WITNESS, Ed25519PrivateKey.generate(), notes.COSIGNATURE_ED25519)
    with Session(engine) as db, issuance.issuing_as(issuance.Issuer(BASE, signer)):
        w = aw.build(db)
        s = aw.scope(db, w)
        decided = aw.certify(db, w, s)
        assert decided.certificate is not None
        number = decided.certificate.number
        certificates.suspend(db, w.secretariat, number,
                             StatusChange(reason="Complaint upheld"))
        chain = cw.build(db)
        cw.produce(db, chain.smelter, "asi_aluminium", 10_000)
        received = cw.ship(db, chain.smelter, chain.mill, "asi_aluminium", 4_000,
                           quantity=5_000)
        cw.receive(db, chain.mill, received)
        waiting = cw.ship(db, chain.smelter, chain.mill, "asi_aluminium", 1_000)
        tlog.register_witness(db, witness.verifier.vkey, "system:tests")
        head = tlog.make_checkpoint(db, signer, signer.name)
        text = head.note.split("\n\n")[0] + "\n"
        tlog.add_cosignature(db, head.size, notes.cosign(text, witness, 1_800_000_000).line)
        db.commit()
        return Template(backend, location, settings, w.secretariat, w.admin, number,
                        decided.audit_id, received, waiting, chain.smelter.entity_id,
                        chain.mill.entity_id)


@dataclass
class World:
    engine: Engine
    t: Template

    def check(self) -> Report:
        with Session(self.engine) as db:
            return check_database(db, self.t.secretariat, settings=self.t.settings)

    def entry(self, kind: str, subject: str, *, last: bool = False) -> int:
        """The sequence of the first (or last) entry of ``kind`` about ``subject``."""
        order = EventLogEntry.sequence.desc() if last else EventLogEntry.sequence
        with Session(self.engine) as db:
            found = db.scalars(select(EventLogEntry.sequence).where(
                EventLogEntry.kind == kind, EventLogEntry.subject == subject)
                .order_by(order).limit(1)).first()
        assert found is not None, (kind, subject)
        return found

    def scalar(self, statement: str) -> object:
        with self.engine.connect() as conn:
            return conn.exec_driver_sql(statement).scalar()

    def tamper(self, *statements: str) -> None:
        """Raw SQL behind the platform's back, committed: on SQLite with every append-only
        trigger dropped, on PostgreSQL in replica mode (no trigger fires, no foreign key
        is checked)."""
        if self.engine.dialect.name == "sqlite":
            raw = sqlite3.connect(str(self.engine.url.database))
            try:
                for (name,) in raw.execute(
                        "SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
                    raw.execute(f'DROP TRIGGER "{name}"')
                for statement in statements:
                    raw.execute(statement)
                raw.commit()
            finally:
                raw.close()
            return
        with self.engine.begin() as conn:
            conn.exec_driver_sql("SET session_replication_role = replica")
            for statement in statements:
                conn.exec_driver_sql(statement)


def template_database(backend: str, directory: Path) -> Iterator[Template]:
    """Build the world once; yields its template, removed afterwards."""
    settings = settings_for(directory)
    url, location = create_database(backend, directory, "integrity_template")
    engine = make_engine(url)
    try:
        upgrade(engine)
        template = build(engine, settings, backend, location)
    finally:
        engine.dispose()
    try:
        yield template
    finally:
        drop_database(backend, location)


def clone(template: Template, directory: Path) -> Iterator[World]:
    with database_engine(template.backend, directory, "integrity",
                         template=template.location) as engine:
        yield World(engine, template)
