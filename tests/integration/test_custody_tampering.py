"""Someone with write access to the database changes the custody tables behind the
platform's back, on a committed database (SQLite and PostgreSQL), as an attacker would:
the append-only triggers dropped (SQLite) or bypassed (PostgreSQL's replica role), raw SQL
straight at the tables. The conservation audit catches each change and names the table,
the record, the entity and the period; the public verification of a forged document says
it does not match the record; putting the row back audits clean again."""

from __future__ import annotations

import html
import json
import re
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from stewardship.cli import app as cli_app
from stewardship.core.auth import Actor
from stewardship.core.config import Settings, get_settings
from stewardship.core.eventlog import EventLogEntry, digest_payload
from stewardship.custody.models import CocDocument, CustodyOperation, MaterialAccount
from stewardship.custody.schemas import AuditResult, NonCocInputCreate
from stewardship.custody.service import audit, documents, inputs
from stewardship.web.app import create_app
from tests import custody_world as cw
from tests.custody_world import TODAY

LEDGER = ("custody_movements", "custody_operations", "event_log")


@dataclass
class World:
    engine: Engine
    secretariat: Actor
    received: str
    """Smelter to mill, 4,000 kg CoC of 5,000 kg shipped, received."""
    waiting: str
    """Smelter to mill, 1,000 kg, not received yet."""
    smelter: uuid.UUID
    mill: uuid.UUID


@pytest.fixture
def world(scratch_engine: Engine) -> World:
    with Session(scratch_engine) as db:
        w = cw.build(db)
        cw.produce(db, w.mine, "asi_bauxite", 10_000)
        cw.transform(db, w.mine, "refining", "asi_bauxite", 10_000, "0.45")
        cw.produce(db, w.smelter, "asi_aluminium", 10_000)
        received = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 4_000, quantity=5_000)
        cw.receive(db, w.mill, received)
        waiting = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 1_000)
        inputs.record_non_coc_input(db, w.mill.user, NonCocInputCreate(
            material="asi_aluminium", kilograms=700, occurred_on=TODAY, note="spot metal"),
            today=TODAY)
        db.commit()
        found = World(scratch_engine, w.secretariat, received, waiting, w.smelter.entity_id,
                      w.mill.entity_id)
    assert _audit(found).ok, _audit(found).problems
    return found


def tamper(engine: Engine, *statements: str) -> None:
    """Raw SQL with the ledger's append-only guard out of the way, committed."""
    if engine.dialect.name == "sqlite":
        raw = sqlite3.connect(str(engine.url.database))
        try:
            for table in LEDGER:
                for action in ("update", "delete"):
                    raw.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
            for statement in statements:
                raw.execute(statement)
            raw.commit()
        finally:
            raw.close()
        return
    with engine.begin() as conn:
        # Replica mode fires no ordinary trigger: neither the append-only guard nor the
        # foreign keys' checks.
        conn.exec_driver_sql("SET session_replication_role = replica")
        for statement in statements:
            conn.exec_driver_sql(statement)


def _audit(w: World) -> AuditResult:
    with Session(w.engine) as db:
        return audit.audit(db, w.secretariat)


def _breaks(result: AuditResult, table: str, record: str = "") -> list[str]:
    return [f"{b.entity} | {b.period} | {b.problem}" for b in result.breaks
            if b.table == table and record in b.record]


def _doc(w: World, number: str) -> CocDocument:
    with Session(w.engine) as db:
        doc = db.scalars(select(CocDocument).where(CocDocument.number == number)).one()
        db.expunge(doc)
        return doc


def _operation(w: World, kind: str, entity: uuid.UUID) -> uuid.UUID:
    with Session(w.engine) as db:
        return db.scalars(select(CustodyOperation.id).where(
            CustodyOperation.kind == kind, CustodyOperation.entity_id == entity)).first()


def _account(w: World, entity: uuid.UUID, material: str = "asi_aluminium") -> MaterialAccount:
    with Session(w.engine) as db:
        row = db.scalars(select(MaterialAccount).where(
            MaterialAccount.entity_id == entity, MaterialAccount.material == material)).one()
        db.expunge(row)
        return row


def _hex(value: uuid.UUID) -> str:
    """How an id is written in raw SQL on both databases (SQLite keeps 32 hex digits)."""
    return value.hex


# --- documents --------------------------------------------------------------------------


@pytest.fixture
def pages(world: World, settings: Settings) -> Iterator[TestClient]:
    yield TestClient(create_app(settings=settings, engine=world.engine),
                     raise_server_exceptions=False)


def test_a_forged_document_quantity_is_caught_and_not_shown_as_valid(
        world: World, pages: TestClient) -> None:
    number = world.received
    doc = _doc(world, number)
    period = f"{doc.period_start.isoformat()} to {doc.period_end.isoformat()}"
    before = pages.get(f"/verify/coc/{number}")
    assert "Matches the record" in before.text and "does not match" not in before.text
    tamper(world.engine, "UPDATE coc_documents SET quantity_kg = 9000, coc_quantity_kg = 8000 "
                         f"WHERE number = '{number}'")

    found = _audit(world)
    assert not found.ok
    named = _breaks(found, "coc_documents", number)
    assert any("does not match the record" in b and "Fjell Aluminium" in b and period in b
               for b in named), found.problems
    assert any("moves 4000 kg, not the document's CoC quantity 8000 kg" in b
               for b in named), named
    assert not _breaks(found, "coc_documents", world.waiting)
    assert any(p.startswith(f"coc_documents {number} (Fjell Aluminium") for p in found.problems)

    page = pages.get(f"/verify/coc/{number}")
    assert page.status_code == 200
    body = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.text)).split())
    assert "Not verified: this document does not match the record." in body
    assert 'data-verdict="does_not_match"' in page.text
    assert "held valid Performance and Chain of Custody certificates" not in body
    assert "passed 4.0 t of CoC material" in body  # what the log recorded at issue
    assert 'title="4,000 kg"' in page.text
    assert "Matches the record" not in body and "Does not match the record" in body
    api = pages.get(f"/api/v1/custody/verify/{number}").json()
    assert api["record"] == "does_not_match" and api["coc_quantity_kg"] == 8000
    assert api["recorded_coc_quantity_kg"] == 4000 and api["recorded_digest"] != api["digest"]
    honest = pages.get(f"/api/v1/custody/verify/{world.waiting}").json()
    assert honest["record"] == "matches" and honest["recorded_digest"] == honest["digest"]

    tamper(world.engine, "UPDATE coc_documents SET quantity_kg = 5000, coc_quantity_kg = 4000 "
                         f"WHERE number = '{number}'")
    assert _audit(world).ok
    assert "Matches the record" in pages.get(f"/verify/coc/{number}").text


def test_a_document_with_no_issue_in_the_event_log_is_not_in_the_record(
        world: World, pages: TestClient) -> None:
    number = world.waiting
    tamper(world.engine, f"UPDATE event_log SET subject = 'coc_document:X{number}' "
                         f"WHERE subject = 'coc_document:{number}'")
    page = pages.get(f"/verify/coc/{number}")
    assert "Not verified: this document is not in the record." in page.text
    assert pages.get(f"/api/v1/custody/verify/{number}").json()["record"] == "unrecorded"
    found = _audit(world)
    assert _breaks(found, "event_log"), found.problems  # the chain no longer verifies


def _cli(w: World, *args: str) -> tuple[int, str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STEWARDSHIP_DATABASE_URL",
                     w.engine.url.render_as_string(hide_password=False))
        patch.setenv("STEWARDSHIP_ENVIRONMENT", "development")
        patch.setenv("COLUMNS", "250")
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(cli_app, list(args))
        finally:
            get_settings.cache_clear()
    return result.exit_code, " ".join(result.output.split())


def test_the_audit_and_verify_commands_exit_1_naming_the_forged_document(
        world: World) -> None:
    code, out = _cli(world, "verify")
    assert code == 0 and "OK: 2 CoC documents match the digests the event log recorded" in out
    number = world.received
    tamper(world.engine, "UPDATE coc_documents SET coc_quantity_kg = 4500, quantity_kg = 5000 "
                         f"WHERE number = '{number}'")
    code, out = _cli(world, "custody", "audit")
    assert code == 1, out
    assert f"coc_documents {number} (Fjell Aluminium" in out
    assert "does not match the record" in out
    code, out = _cli(world, "verify")
    assert code == 1, out
    assert "OK:" in out and "entries" in out  # the chain itself is intact
    with Session(world.engine) as db:
        issued = db.scalars(select(EventLogEntry.sequence).where(
            EventLogEntry.subject == f"coc_document:{number}",
            EventLogEntry.kind == "custody.document.issued")).one()
    # The row's digest, and the quantity its issue and receipt moved, contradict the log.
    assert re.search(r"│ coc_documents\s*│\s*2 │\s*3 │", out), out
    assert f"coc_documents {number} (entry {issued}): does not match the record" in out
    assert world.waiting not in out


# --- movement legs ----------------------------------------------------------------------


def test_changed_legs_are_caught_even_when_they_still_sum_to_zero(world: World) -> None:
    op = _operation(world, "production", world.smelter)
    # Both legs of the smelter's production raised by 500 kg, and its balance with them.
    tamper(world.engine,
           f"UPDATE custody_movements SET kilograms = kilograms + 500 "
           f"WHERE operation_id = '{_hex(op)}' AND kilograms > 0",
           f"UPDATE custody_movements SET kilograms = kilograms - 500 "
           f"WHERE operation_id = '{_hex(op)}' AND kilograms < 0")
    found = _audit(world)
    legs = _breaks(found, "custody_movements", str(op))
    assert any("Fjell Aluminium" in b and "+10500 kg" in b and "calls for" in b
               and "+10000 kg" in b for b in legs), found.problems
    assert not any("sum to" in b for b in legs)
    accounts = _breaks(found, "material_accounts", "asi_aluminium")
    assert any("Fjell Aluminium" in b and "movements sum to 5500 kg" in b for b in accounts)


def test_a_leg_changed_alone_or_removed_is_caught(world: World) -> None:
    issue = _operation(world, "issue", world.smelter)
    production = _operation(world, "production", world.smelter)
    tamper(world.engine,
           f"UPDATE custody_movements SET kilograms = kilograms + 1 "
           f"WHERE operation_id = '{_hex(production)}' AND kilograms > 0",
           f"DELETE FROM custody_movements WHERE operation_id = '{_hex(issue)}'")
    found = _audit(world)
    assert any("its legs sum to 1 kg, not 0" in b
               for b in _breaks(found, "custody_movements", str(production))), found.problems
    assert any("has no movement legs" in b and "Fjell Aluminium" in b
               for b in _breaks(found, "custody_operations", str(issue))), found.problems


# --- accounts ---------------------------------------------------------------------------


def test_account_counters_changed_in_step_are_caught_by_the_journal(world: World) -> None:
    row = _account(world, world.smelter)
    period = f"{row.period_start.isoformat()} to {row.period_end.isoformat()}"
    # Balance, counters and pool all still agree with one another: only the journal knows.
    tamper(world.engine, "UPDATE material_accounts SET produced = produced + 2000, "
                         f"issued = issued + 2000 WHERE id = '{_hex(row.id)}'")
    found = _audit(world)
    named = _breaks(found, "material_accounts", "asi_aluminium account")
    assert any("Fjell Aluminium" in b and period in b
               and "produced is 12000 kg but its journal gives 10000 kg" in b
               for b in named), found.problems
    assert any("issued is 7000 kg but its journal gives 5000 kg" in b for b in named)
    tamper(world.engine, "UPDATE material_accounts SET produced = produced - 2000, "
                         f"issued = issued - 2000 WHERE id = '{_hex(row.id)}'")
    assert _audit(world).ok


def test_an_account_balance_and_pool_raised_are_caught(world: World) -> None:
    row = _account(world, world.mill)
    parts = row.pool["parts"]
    raised = json.dumps({**row.pool, "parts": [[*parts[0][:3], parts[0][3] + 1000],
                                               *parts[1:]]})
    tamper(world.engine, "UPDATE material_accounts SET balance_kg = balance_kg + 1000, "
                         f"received = received + 1000, pool = '{raised}' "
                         f"WHERE id = '{_hex(row.id)}'")
    found = _audit(world)
    named = _breaks(found, "material_accounts", "asi_aluminium account")
    assert any("Walz Rolling" in b and "stored balance 5000 kg but its movements sum to "
               "4000 kg" in b for b in named), found.problems
    assert any("received is 5000 kg but its journal gives 4000 kg" in b for b in named)
    # The pool alone: its origins no longer add up to the balance.
    tamper(world.engine, "UPDATE material_accounts SET balance_kg = balance_kg - 1000, "
                         f"received = received - 1000 WHERE id = '{_hex(row.id)}'")
    found = _audit(world)
    assert [b.split(" | ")[2] for b in _breaks(found, "material_accounts")] == [
        "origins account for 5000 kg of a 4000 kg balance"], found.problems


# --- the journal ------------------------------------------------------------------------


def test_a_journal_row_changed_after_the_event_log_recorded_it_is_caught(
        world: World) -> None:
    op = _operation(world, "production", world.smelter)
    tamper(world.engine, "UPDATE custody_operations SET kilograms = kilograms + 1000 "
                         f"WHERE id = '{_hex(op)}'")
    found = _audit(world)
    journal = _breaks(found, "custody_operations", str(op))
    assert any("Fjell Aluminium" in b and "changed after the event log recorded it" in b
               and "kilograms 11000 (the event log recorded 10000)" in b
               for b in journal), found.problems
    assert _breaks(found, "custody_movements", str(op))  # its legs call for 10,000 kg
    assert any("produced is 10000 kg but its journal gives 11000 kg" in b
               for b in _breaks(found, "material_accounts"))


def test_a_receipt_moved_to_another_day_or_entity_is_caught(world: World) -> None:
    op = _operation(world, "receipt", world.mill)
    tamper(world.engine, f"UPDATE custody_operations SET entity_id = '{_hex(world.smelter)}' "
                         f"WHERE id = '{_hex(op)}'")
    found = _audit(world)
    assert any("belongs to another entity than the document names" in b
               for b in _breaks(found, "coc_documents", world.received)), found.problems
    assert _breaks(found, "custody_movements", str(op))


def test_journal_rows_deleted_are_caught(world: World) -> None:
    production = _operation(world, "production", world.smelter)
    non_coc = _operation(world, "non_coc_input", world.mill)
    tamper(world.engine,
           f"DELETE FROM custody_operations WHERE id = '{_hex(production)}'",
           f"DELETE FROM custody_operations WHERE id = '{_hex(non_coc)}'")
    found = _audit(world)
    assert any("2 leg(s) name an operation that is not in the journal" in b
               and "Fjell Aluminium" in b
               for b in _breaks(found, "custody_movements", str(production))), found.problems
    assert any("the event log recorded it" in b and "no such journal row" in b
               and "Walz Rolling" in b
               for b in _breaks(found, "custody_operations", str(non_coc))), found.problems
    assert any("non_coc_in is 700 kg but its journal gives 0 kg" in b
               for b in _breaks(found, "material_accounts"))


def test_a_forger_who_rewrites_the_event_log_breaks_its_chain(world: World,
                                                              pages: TestClient) -> None:
    number = world.received
    tamper(world.engine, "UPDATE coc_documents SET coc_quantity_kg = 4100 "
                         f"WHERE number = '{number}'")
    digest = documents.digest(_doc(world, number))
    with Session(world.engine) as db:
        entry = db.scalars(select(EventLogEntry).where(
            EventLogEntry.subject == f"coc_document:{number}",
            EventLogEntry.kind == "custody.document.issued")).one()
        sequence, payload = entry.sequence, dict(entry.payload)
    # The recorded digest rewritten to the forged row's, its own digest recomputed too.
    forged = {**payload, "digest": digest, "coc_quantity_kg": 4100}
    tamper(world.engine, f"UPDATE event_log SET payload = '{json.dumps(forged)}', "
                         f"payload_digest = '{digest_payload(forged)}' "
                         f"WHERE sequence = {sequence}")
    found = _audit(world)
    chain = _breaks(found, "event_log", f"entry {sequence}")
    assert chain and "does not verify (entry hash does not match its fields)" in chain[0], (
        found.problems)
    assert _breaks(found, "coc_documents", number)  # its issue operation still says 4000
    assert 'data-verdict="unrecorded"' in pages.get(f"/verify/coc/{number}").text
