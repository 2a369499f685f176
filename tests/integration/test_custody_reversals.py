"""Reversing journal entries through the custody services on a real database (SQLite and
PostgreSQL): the accounts, origins and legs go back and the conservation audit stays
clean, and checks every reversal; refusals once the material has moved on or the period
has closed; two writers reversing one entry at once, one wins; and a reversal changed
behind the platform's back is caught by the audit."""

from __future__ import annotations

import json
import uuid
from datetime import date

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from stewardship.core.db import transaction
from stewardship.core.errors import Conflict
from stewardship.custody.models import CustodyOperation, MaterialAccount
from stewardship.custody.schemas import NonCocInputCreate, PeriodClose, ReversalCreate
from stewardship.custody.service import audit, audit_records, inputs, periods, reversals
from tests import custody_world as cw
from tests.integration.test_custody_races import WRITERS, _race, chain_db
from tests.integration.test_custody_tampering import _hex, tamper
from tests.today import TODAY

__all__ = ["chain_db"]  # the committed chain, shared with the race tests

WHY = ReversalCreate(reason="Entered by mistake")


def _entry(db: Session, entity: uuid.UUID, kind: str) -> CustodyOperation:
    return db.scalars(select(CustodyOperation).where(
        CustodyOperation.entity_id == entity, CustodyOperation.kind == kind)
        .order_by(CustodyOperation.recorded_at.desc())).first()  # type: ignore[return-value]


def _account(db: Session, entity: uuid.UUID, material: str) -> MaterialAccount:
    db.expire_all()
    return db.scalars(select(MaterialAccount).where(
        MaterialAccount.entity_id == entity, MaterialAccount.material == material,
        MaterialAccount.status == "open")).one()


def _clean(db: Session, w: cw.Chain) -> None:
    result = audit.audit(db, w.secretariat)
    assert result.ok, result.problems
    report, _, breaks = audit_records.verify_documents(db)  # ``stewardship verify``
    assert report.ok and breaks == []


def test_a_production_transformed_since_is_refused_until_the_transformation_is_reversed(
        db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.mine, "asi_bauxite", 8_000)
    made = _entry(db, w.mine.entity_id, "production")
    cw.transform(db, w.mine, "refining", "asi_bauxite", 6_000, "0.45")
    step = _entry(db, w.mine.entity_id, "transformation")
    with pytest.raises(Conflict, match="already left: only 2000 kg remain") as refused:
        reversals.reverse_operation(db, w.mine.user, made.id, WHY)
    assert refused.value.field_errors() == {"operation_id": refused.value.message}
    reversals.reverse_operation(db, w.mine.user, step.id, WHY)
    done = reversals.reverse_operation(db, w.mine.user, made.id, WHY)
    assert done.reverses == made.id
    bauxite = _account(db, w.mine.entity_id, "asi_bauxite")
    alumina = _account(db, w.mine.entity_id, "asi_alumina")
    assert (bauxite.balance_kg, bauxite.produced, bauxite.transformed_out) == (0, 0, 0)
    assert alumina.balance_kg == 0
    assert bauxite.pool["parts"] == alumina.pool["parts"] == []
    _clean(db, w)


def test_a_casting_within_one_account_and_a_non_coc_input_are_reversed(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 1_000)
    cw.transform(db, w.smelter, "casting", "asi_aluminium", 1_000, "0.9")
    inputs.record_non_coc_input(db, w.smelter.user, NonCocInputCreate(
        material="asi_aluminium", kilograms=300, occurred_on=TODAY), today=TODAY)
    reversals.reverse_operation(db, w.smelter.user,
                                _entry(db, w.smelter.entity_id, "transformation").id, WHY)
    reversals.reverse_operation(db, w.smelter.user,
                                _entry(db, w.smelter.entity_id, "non_coc_input").id, WHY)
    metal = _account(db, w.smelter.entity_id, "asi_aluminium")
    assert (metal.balance_kg, metal.transformed_in, metal.transformed_out,
            metal.non_coc_in) == (1_000, 0, 0, 0)
    assert metal.pool["parts"] == [[w.smelter.facility, "NO", "primary", 1_000, "smelter", []]]
    _clean(db, w)


def test_an_entry_of_a_closed_period_is_not_reversed(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 9_000, on=date(TODAY.year - 1, 6, 1))
    made = _entry(db, w.smelter.entity_id, "production")
    periods.close_period(db, w.smelter.user,
                         PeriodClose(period_start=date(TODAY.year - 1, 1, 1)))
    before = db.scalar(select(func.count()).select_from(CustodyOperation))
    y = TODAY.year - 1
    with pytest.raises(Conflict, match=f"period {y}-01-01 to {y}-12-31, which is closed"):
        reversals.reverse_operation(db, w.smelter.user, made.id, WHY)
    assert db.scalar(select(func.count()).select_from(CustodyOperation)) == before
    _clean(db, w)


def test_two_writers_reversing_one_entry_one_wins(chain_db: object) -> None:
    engine, factory, w = chain_db  # type: ignore[misc]
    with transaction(factory) as session:
        made = _entry(session, w.smelter.entity_id, "production").id
    results = _race(engine, lambda s: reversals.reverse_operation(s, w.smelter.user, made, WHY))  # type: ignore[arg-type]
    won = [r for r in results if not isinstance(r, Exception)]
    lost = [r for r in results if isinstance(r, Exception)]
    assert len(won) == 1 and len(lost) == WRITERS - 1, results
    assert all(isinstance(e, Conflict) and "already reversed" in e.message for e in lost), lost
    with transaction(factory) as session:
        assert session.scalar(select(func.count()).select_from(CustodyOperation).where(
            CustodyOperation.reverses_id == made)) == 1
        assert _account(session, w.smelter.entity_id, "asi_aluminium").balance_kg == 0
        _clean(session, w)


# --- the audit checks reversals ---------------------------------------------------------


@pytest.fixture
def reversed_world(scratch_engine: Engine) -> tuple[Engine, cw.Chain, uuid.UUID, uuid.UUID]:
    with Session(scratch_engine) as db:
        w = cw.build(db)
        cw.produce(db, w.smelter, "asi_aluminium", 5_000)
        cw.produce(db, w.smelter, "asi_aluminium", 700)
        made = _entry(db, w.smelter.entity_id, "production").id
        done = reversals.reverse_operation(db, w.smelter.user, made, WHY).id
        db.commit()
        _clean(db, w)
    return scratch_engine, w, made, done


def _problems(engine: Engine, w: cw.Chain) -> list[str]:
    with Session(engine) as db:
        return audit.audit(db, w.secretariat).problems


def test_a_reversal_changed_after_it_was_written_is_caught(
        reversed_world: tuple[Engine, cw.Chain, uuid.UUID, uuid.UUID]) -> None:
    engine, w, _, done = reversed_world
    tamper(engine, "UPDATE custody_operations SET kilograms = 500, note = 'nothing' "
                   f"WHERE id = '{_hex(done)}'")
    problems = " | ".join(_problems(engine, w))
    assert "differs from the entry it reverses: kilograms 500 (the entry has 700)" in problems
    assert "reason 'nothing' (the event log recorded 'Entered by mistake')" in problems


def test_a_reversal_pointed_at_a_document_entry_is_caught(
        reversed_world: tuple[Engine, cw.Chain, uuid.UUID, uuid.UUID]) -> None:
    engine, w, _, done = reversed_world
    with Session(engine) as db:
        cw.ship(db, w.smelter, w.mill, "asi_aluminium", 1_000)
        db.commit()
        issue = _entry(db, w.smelter.entity_id, "issue").id
    tamper(engine, f"UPDATE custody_operations SET reverses_id = '{_hex(issue)}' "
                   f"WHERE id = '{_hex(done)}'")
    problems = " | ".join(_problems(engine, w))
    assert "reverses a issue entry (an issued document is corrected by cancelling" in problems
    assert "produced is 5000 kg but its journal gives 5700 kg" in problems


def test_an_entry_written_before_origins_were_kept_is_still_reversed(
        reversed_world: tuple[Engine, cw.Chain, uuid.UUID, uuid.UUID]) -> None:
    engine, w, _, _ = reversed_world
    with Session(engine) as db:
        first = db.scalars(select(CustodyOperation.id).where(
            CustodyOperation.kind == "production", CustodyOperation.kilograms == 5_000)).one()
    # As the entry and the account's origins were stored before either kept stages.
    tamper(engine, f"UPDATE custody_operations SET composition = NULL WHERE id = '{_hex(first)}'")
    legacy = json.dumps({"parts": [[w.smelter.facility, "NO", "primary", 5_000]],
                         "attributes": {}})
    tamper(engine, f"UPDATE material_accounts SET pool = '{legacy}' "
                   f"WHERE entity_id = '{_hex(w.smelter.entity_id)}' "
                   "AND material = 'asi_aluminium'")
    with Session(engine) as db:
        reversals.reverse_operation(db, w.smelter.user, first, WHY)
        db.commit()
        assert _account(db, w.smelter.entity_id, "asi_aluminium").balance_kg == 0
        _clean(db, w)
