"""The whole database against the event log, continued: the custody tables (CoC documents,
movement legs, material accounts, the journal) and the log itself (entries, stored Merkle
tree nodes, checkpoints, cosignatures), one row at a time edited, deleted or inserted on a
committed database (SQLite and PostgreSQL); ``stewardship verify`` exits 1 naming it."""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Table, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from stewardship.cli import app as cli_app
from stewardship.core.config import get_settings
from stewardship.core.db import Base
from stewardship.core.tlog import LogCheckpoint, LogCosignature
from stewardship.custody.models import CocDocument, CustodyOperation, MaterialAccount
from tests.conftest import BACKENDS
from tests.integration.test_database_integrity import named, only
from tests.integrity_world import SEED, Template, World, clone, template_database


@pytest.fixture(scope="module", params=BACKENDS)
def template(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    yield from template_database(str(request.param), tmp_path_factory.mktemp("integrity"))


@pytest.fixture
def world(template: Template, tmp_path: Path) -> Iterator[World]:
    yield from clone(template, tmp_path)


def _copy(table: Table, where: str, **changes: str) -> str:
    """INSERT of a copy of the row ``where`` picks, with ``changes`` (SQL literals)."""
    columns = [c.name for c in table.columns]
    values = [changes.get(name, name) for name in columns]
    return (f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT {', '.join(values)} "
            f"FROM {table.name} WHERE {where}")


def _new_id() -> str:
    return f"'{uuid.uuid4().hex}'"


def _operation(w: World, kind: str, entity: uuid.UUID) -> uuid.UUID:
    with Session(w.engine) as db:
        found = db.scalars(select(CustodyOperation.id).where(
            CustodyOperation.kind == kind, CustodyOperation.entity_id == entity)).first()
    assert found is not None
    return found


def _account(w: World, entity: uuid.UUID) -> uuid.UUID:
    with Session(w.engine) as db:
        return db.scalars(select(MaterialAccount.id).where(
            MaterialAccount.entity_id == entity,
            MaterialAccount.material == "asi_aluminium")).one()


# --- CoC documents ----------------------------------------------------------------------


def test_a_coc_document_edited_deleted_or_inserted_is_named(world: World) -> None:
    number = world.t.waiting
    issued = world.entry("custody.document.issued", f"coc_document:{number}")
    world.tamper(f"UPDATE coc_documents SET coc_quantity_kg = 900, quantity_kg = 900 "
                 f"WHERE number = '{number}'")
    report = world.check()
    digest = [p for p in named(report, "coc_documents", number)
              if "does not match the record" in p.problem]
    assert [p.entry for p in digest] == [issued], report.problems

    world.tamper(f"UPDATE coc_documents SET coc_quantity_kg = 1000, quantity_kg = 1000 "
                 f"WHERE number = '{number}'")
    assert world.check().ok
    forged = "COC-2099-FORGED1"
    world.tamper(_copy(CocDocument.__table__, f"number = '{number}'", id=_new_id(),
                       number=f"'{forged}'"),
                 f"DELETE FROM coc_documents WHERE number = '{world.t.received}'")
    report = world.check()
    inserted = [p for p in named(report, "coc_documents", forged)
                if "no issue of this document is recorded" in p.problem]
    assert [p.where for p in inserted] == ["no entry records it"], report.problems
    received = world.entry("custody.document.issued", f"coc_document:{world.t.received}")
    deleted = [p for p in named(report, "coc_documents", world.t.received)
               if p.problem == "the event log recorded its issue but there is no such row"]
    assert [p.entry for p in deleted] == [received], report.problems


# --- movement legs ----------------------------------------------------------------------


def test_a_movement_leg_edited_deleted_or_inserted_is_named(world: World) -> None:
    op = _operation(world, "production", world.t.smelter)
    recorded = world.entry("custody.production.recorded", f"custody_operation:{op}")
    legs = "custody_movements"
    world.tamper(f"UPDATE {legs} SET kilograms = kilograms + 500 "
                 f"WHERE operation_id = '{op.hex}' AND kilograms > 0",
                 f"UPDATE {legs} SET kilograms = kilograms - 500 "
                 f"WHERE operation_id = '{op.hex}' AND kilograms < 0")
    report = world.check()
    edited = named(report, legs, str(op))
    assert edited and {p.entry for p in edited} == {recorded}, report.problems
    assert any("+10500 kg" in p.problem and "calls for" in p.problem for p in edited)

    world.tamper(f"UPDATE {legs} SET kilograms = kilograms - 500 "
                 f"WHERE operation_id = '{op.hex}' AND kilograms > 0",
                 f"UPDATE {legs} SET kilograms = kilograms + 500 "
                 f"WHERE operation_id = '{op.hex}' AND kilograms < 0")
    assert world.check().ok
    world.tamper(f"DELETE FROM {legs} WHERE operation_id = '{op.hex}' AND kilograms < 0")
    report = world.check()
    assert any("its legs sum to 10000 kg, not 0" in p.problem and p.entry == recorded
               for p in named(report, legs, str(op))), report.problems

    with world.engine.connect() as conn:
        top = conn.exec_driver_sql(f"SELECT MAX(id) FROM {legs}").scalar()
    world.tamper(_copy(Base.metadata.tables[legs], f"operation_id = '{op.hex}' AND kilograms > 0",
                       id=str(int(top) + 1)))
    report = world.check()
    assert any("its legs are" in p.problem and p.entry == recorded
               for p in named(report, legs, str(op))), report.problems


# --- material accounts ------------------------------------------------------------------


def test_an_account_edited_or_inserted_is_named(world: World) -> None:
    account = _account(world, world.t.mill)
    receipt = _operation(world, "receipt", world.t.mill)
    number = world.t.received
    received = world.entry("custody.document.received", f"coc_document:{number}")
    with Session(world.engine) as db:
        kind = db.scalars(select(CustodyOperation.kind).where(
            CustodyOperation.id == receipt)).one()
    assert kind == "receipt"
    world.tamper(f"UPDATE material_accounts SET received = received + 1000 "
                 f"WHERE id = '{account.hex}'")
    report = world.check()
    assert {p.table for p in report.problems} == {"material_accounts"}, report.problems
    problem = next(p for p in named(report, "material_accounts",
                                    "asi_aluminium account of Walz Rolling")
                   if "received is 5000 kg but its journal gives 4000 kg" in p.problem)
    assert problem.entry == received

    world.tamper(f"UPDATE material_accounts SET received = received - 1000 "
                 f"WHERE id = '{account.hex}'")
    assert world.check().ok
    world.tamper(_copy(MaterialAccount.__table__, f"id = '{account.hex}'", id=_new_id(),
                       period_start="'2031-01-01'", period_end="'2031-12-31'",
                       balance_kg="1000"))
    report = world.check()
    inserted = [p for p in named(report, "material_accounts", "2031-01-01")
                if "movements sum to 0 kg" in p.problem]
    assert [p.where for p in inserted] == ["no entry records it"], report.problems


# --- the journal ------------------------------------------------------------------------


def test_a_journal_row_edited_deleted_or_inserted_is_named(world: World) -> None:
    op = _operation(world, "production", world.t.smelter)
    recorded = world.entry("custody.production.recorded", f"custody_operation:{op}")
    journal = "custody_operations"
    world.tamper(f"UPDATE {journal} SET kilograms = kilograms + 1000 WHERE id = '{op.hex}'")
    report = world.check()
    edited = [p for p in named(report, journal, str(op))
              if "changed after the event log recorded it" in p.problem]
    assert [p.entry for p in edited] == [recorded], report.problems
    assert "kilograms 11000 (the event log recorded 10000)" in edited[0].problem

    forged = uuid.uuid4()
    world.tamper(f"UPDATE {journal} SET kilograms = kilograms - 1000 WHERE id = '{op.hex}'",
                 _copy(CustodyOperation.__table__, f"id = '{op.hex}'", id=f"'{forged.hex}'"))
    report = world.check()
    inserted = [p for p in named(report, journal, str(forged))
                if "not recorded in the event log as written" in p.problem]
    assert [p.where for p in inserted] == ["no entry records it"], report.problems

    world.tamper(f"DELETE FROM {journal} WHERE id = '{forged.hex}'",
                 f"DELETE FROM {journal} WHERE id = '{op.hex}'")
    report = world.check()
    deleted = [p for p in named(report, journal, str(op)) if "no such journal row" in p.problem]
    assert [p.entry for p in deleted] == [recorded], report.problems


# --- the event log ----------------------------------------------------------------------


def test_an_event_log_entry_edited_or_deleted_is_named(world: World) -> None:
    original = world.scalar("SELECT actor FROM event_log WHERE sequence = 5")
    world.tamper("UPDATE event_log SET actor = 'user:forger' WHERE sequence = 5")
    report = world.check()
    chain = named(report, "event_log")
    assert [(p.key, p.entry) for p in chain] == [("entry 5", 5)], report.problems
    assert chain[0].problem.startswith("entry hash does not match its fields (4 entries "
                                       "before it verify)")
    assert named(report, "event_log_nodes", "leaf 4")  # the tree disagrees too

    assert {p.table for p in report.problems} == {
        "event_log", "event_log_nodes", "event_log_checkpoints"}, report.problems
    world.tamper(f"UPDATE event_log SET actor = '{original}' WHERE sequence = 5")
    assert world.check().ok
    world.tamper("DELETE FROM event_log WHERE sequence = 7")
    report = world.check()
    chain = named(report, "event_log")
    assert [(p.key, p.entry) for p in chain] == [("entry 8", 8)], report.problems
    assert chain[0].problem.startswith("sequence gap: expected 7, found 8")


# --- stored tree nodes ------------------------------------------------------------------


def test_a_stored_tree_node_edited_deleted_or_inserted_is_named(world: World) -> None:
    world.tamper("UPDATE event_log_nodes SET hash = "
                 + ("x'" + "00" * 32 + "'" if world.t.backend == "sqlite"
                    else "'\\x" + "00" * 32 + "'::bytea")
                 + " WHERE level = 2 AND idx = 1")
    report = world.check()
    assert [(p.key, p.entry) for p in named(report, "event_log_nodes")][:1] == [
        ("level 2 index 1", 8)], report.problems
    assert named(report, "event_log_nodes", "level 2 index 1")[0].problem == (
        "does not hash entries 5 to 8 as it is stored now")

    world.tamper("DELETE FROM event_log_nodes WHERE level = 2 AND idx = 1",
                 "DELETE FROM event_log_nodes WHERE level = 0 AND idx = 20")
    report = world.check()
    missing = {(p.key, p.entry, p.problem) for p in named(report, "event_log_nodes")}
    assert ("leaf 20", 21, "missing") in missing, report.problems
    assert ("level 2 index 1", 8, "missing") in missing

    size = int(str(world.scalar("SELECT MAX(idx) + 1 FROM event_log_nodes WHERE level = 0")))
    world.tamper("INSERT INTO event_log_nodes (level, idx, hash) SELECT level, "
                 f"{size + 5}, hash FROM event_log_nodes WHERE level = 0 AND idx = 0")
    report = world.check()
    beyond = named(report, "event_log_nodes", f"leaf {size + 5}")
    assert [p.where for p in beyond] == ["no entry records it"], report.problems


# --- checkpoints and cosignatures -------------------------------------------------------


def test_a_checkpoint_edited_deleted_or_inserted_is_named(world: World) -> None:
    with Session(world.engine) as db:
        sizes = list(db.scalars(select(LogCheckpoint.size).order_by(LogCheckpoint.size)))
        cosigned = db.scalars(select(LogCosignature.checkpoint_size)).one()
    first = sizes[0]
    world.tamper("UPDATE event_log_checkpoints SET root_hash = (SELECT root_hash FROM "
                 f"event_log_checkpoints WHERE size = {sizes[1]}) WHERE size = {first}")
    report = world.check()
    assert {p.table for p in report.problems} == {"event_log_checkpoints"}, report.problems
    assert {(p.key, p.entry, p.problem) for p in report.problems} == {
        (f"size {first}", first, "its root is not the root of the entries as they are "
         "stored now"),
        (f"size {first}", first, "its signed note names another tree head")}

    world.tamper(f"DELETE FROM event_log_checkpoints WHERE size = {first}")
    problem = only(world.check(), "event_log_checkpoints", f"size {first}")
    assert problem.entry == first and problem.problem.startswith("missing: credential")

    world.tamper(_copy(LogCheckpoint.__table__, f"size = {cosigned}",
                       size=str(cosigned + 100)))
    report = world.check()
    inserted = named(report, "event_log_checkpoints", f"size {cosigned + 100}")
    assert [p.where for p in inserted] == ["no entry records it"], report.problems
    assert inserted[0].problem == (f"signed for {cosigned + 100} entries; the log holds "
                                   f"{report.entries}")


def test_a_cosignature_edited_or_inserted_is_named(world: World) -> None:
    with Session(world.engine) as db:
        row = db.scalars(select(LogCosignature)).one()
        row_id, size, line = row.id, row.checkpoint_size, row.line
    head, blob = line.strip().rsplit(" ", 1)
    raw = base64.b64decode(blob)
    forged = f"{head} {base64.b64encode(raw[:-1] + bytes([raw[-1] ^ 1])).decode()}\n"
    world.tamper(f"UPDATE event_log_cosignatures SET line = '{forged}' WHERE id = {row_id}")
    problem = only(world.check(), "event_log_cosignatures", f"{row_id} (")
    assert problem.entry == size
    assert problem.problem.startswith(f"does not verify over checkpoint {size}")

    world.tamper(f"UPDATE event_log_cosignatures SET line = '{line}' WHERE id = {row_id}",
                 _copy(LogCosignature.__table__, f"id = {row_id}", id=str(row_id + 1),
                       witness="'someone.example/w'"))
    problem = only(world.check(), "event_log_cosignatures", f"{row_id + 1} (")
    assert problem.problem == "someone.example/w is not a registered witness"


# --- the command ------------------------------------------------------------------------


def _verify(w: World) -> tuple[int, str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STEWARDSHIP_DATABASE_URL",
                     w.engine.url.render_as_string(hide_password=False))
        patch.setenv("STEWARDSHIP_ENVIRONMENT", "development")
        patch.setenv("STEWARDSHIP_LOG_KEY", SEED)
        patch.setenv("COLUMNS", "250")
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(cli_app, ["verify"])
        finally:
            get_settings.cache_clear()
    return result.exit_code, " ".join(result.output.split())


def test_verify_exits_1_naming_the_table_row_and_entry(world: World) -> None:
    code, out = _verify(world)
    assert code == 0 and "Everything verifies" in out, out
    assert re.search(r"│ certificate_events\s*│\s*\d+ │\s*0 │", out), out
    number = world.t.certificate
    issued = world.entry("assurance.certificate.issued", f"certificate:{number}")
    world.tamper(f"UPDATE certificates SET maturity = 'forged' WHERE number = '{number}'")
    code, out = _verify(world)
    assert code == 1, out
    assert re.search(r"│ certificates\s*│\s*\d+ │\s*1 │", out), out
    assert "1 problem(s)" in out and "Everything verifies" not in out
    assert (f"certificates {number} (entry {issued}): changed after the event log recorded "
            "its issue: maturity forged (the event log recorded") in out
