"""Reversal rows of the CSV import: a row of kind ``reversal`` names the journal entry it
reverses (``reverses``) and why (``reason``), runs through the same service as the API,
and is refused, naming the column, where the API refuses; a refused row stores nothing of
the file."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor
from stewardship.custody.models import CustodyOperation
from stewardship.interop.csv_import import import_csv
from tests import custody_world as cw
from tests.interop.test_csv_import import CSV_HEADERS, DAY, URL, _balance

HEADER = "kind,date,facility_id,material,kilograms,reverses,reason"


def _entry(db: Session, w: cw.Chain, kg: int) -> CustodyOperation:
    cw.produce(db, w.smelter, "asi_aluminium", kg)
    return db.scalars(select(CustodyOperation).where(
        CustodyOperation.entity_id == w.smelter.entity_id,
        CustodyOperation.kilograms == kg)).one()


def _count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(CustodyOperation)) or 0


def test_a_reversal_row_reverses_the_entry_it_names(
        db: Session, client_for: Callable[[Actor], TestClient]) -> None:
    w = cw.build(db)
    wrong = _entry(db, w, 7_000)
    text = "\n".join([
        HEADER,
        f"reversal,,,,,{wrong.id},Typed into the wrong month",
        f"production,{DAY},{w.smelter.facility},asi_aluminium,700,,",
    ]) + "\n"
    response = client_for(w.smelter.user).post(f"{URL}?apply=true", content=text,
                                               headers=CSV_HEADERS)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert results[0]["kind"] == "reversal" and results[0]["ok"] is True
    assert results[0]["message"].startswith(f"reversal of entry {wrong.id}")
    assert "Typed into the wrong month" in results[0]["message"]
    assert _balance(db, w.smelter, "asi_aluminium") == 700
    reversal = db.scalars(select(CustodyOperation).where(
        CustodyOperation.reverses_id == wrong.id)).one()
    assert (reversal.kind, reversal.note) == ("reversal", "Typed into the wrong month")


def test_reversal_rows_are_refused_naming_the_column(db: Session) -> None:
    w = cw.build(db)
    wrong = _entry(db, w, 3_000)
    cw.ship(db, w.smelter, w.mill, "asi_aluminium", 2_500)
    before = _count(db)
    rows = [
        f"reversal,,,,,{wrong.id},Wrong pot line",  # the metal has left in a document
        "reversal,,,,,not-an-id,Wrong",
        f"reversal,,,,,{wrong.id},",
        f"reversal,{DAY},,,,{wrong.id},Wrong pot line",
    ]
    report = import_csv(db, w.smelter.user, "\n".join([HEADER, *rows]) + "\n", apply=True)
    assert not report.applied
    got = [(r.ok, r.field) for r in report.results]
    assert got == [(False, "reverses"), (False, "reverses"), (False, "reason"),
                   (False, "date")]
    assert "already left" in report.results[0].message
    assert "not a journal entry id" in report.results[1].message
    assert _count(db) == before
    assert _balance(db, w.smelter, "asi_aluminium") == 500


def test_another_members_entry_cannot_be_reversed_by_csv(db: Session) -> None:
    w = cw.build(db)
    wrong = _entry(db, w, 1_000)
    report = import_csv(db, w.mill.user, f"{HEADER}\nreversal,,,,,{wrong.id},Not ours\n",
                        apply=True)
    assert [(r.ok, r.field) for r in report.results] == [(False, "reverses")]
    assert "no such journal entry" in report.results[0].message
    assert _balance(db, w.smelter, "asi_aluminium") == 1_000
