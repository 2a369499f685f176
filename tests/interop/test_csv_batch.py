"""CSV import: consecutive shipment rows are issued together through the batch use case
(one transparency checkpoint for the run of them, the same documents as row by row);
when one of them is refused the rows are reported one by one, naming the row and the
column, and nothing is stored."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stewardship.core import tlog
from stewardship.custody.models import CocDocument
from stewardship.custody.service import documents
from stewardship.interop.csv_import import import_csv
from tests import custody_world as cw
from tests.interop.test_csv_import import DAY, _balance, _csv, _stored


def _file(w: cw.Chain, *cocs: int) -> str:
    s = w.smelter
    rows = [f"production,{DAY},{s.facility},asi_aluminium,10000,,,,,,,,,cast batch 7"]
    rows += [f"shipment,{DAY},,asi_aluminium,,,,,,"
             f"{(w.mill if i % 2 else w.remelter).entity_id},COC-CSVB-{i:04d},{coc},{coc},"
             f"lot {i}" for i, coc in enumerate(cocs)]
    rows.append(f"non_coc_input,{DAY},,asi_aluminium,500,,,,,,,,,")
    rows.append(f"shipment,{DAY},,asi_aluminium,,,,,,{w.mill.entity_id},,100,100,last")
    return _csv(*rows)


def _checkpoints(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(tlog.LogCheckpoint)) or 0


def test_consecutive_shipments_are_issued_as_one_batch(db: Session) -> None:
    w = cw.build(db)
    before = _checkpoints(db)
    report = import_csv(db, w.smelter.user, _file(w, 1_000, 2_000, 3_000), apply=True)
    assert report.ok and report.applied and report.rows == 6, report.results
    assert [r.kind for r in report.results] == [
        "production", "shipment", "shipment", "shipment", "non_coc_input", "shipment"]
    assert [r.message.split(" issued")[0] for r in report.results[1:4]] == [
        f"CoC document COC-CSVB-{i:04d}" for i in range(3)]
    # the three together signed one checkpoint; the lone shipment after them its own
    assert _checkpoints(db) - before == 2
    assert _balance(db, w.smelter, "asi_aluminium") == 10_000 - 6_000 - 100
    doc = documents.get_document(db, w.smelter.user, "COC-CSVB-0001")
    assert (doc.coc_quantity_kg, doc.description, doc.recipient.entity_id) == (
        2_000, "lot 1", w.mill.entity_id)


def test_a_refused_shipment_in_a_run_is_reported_as_its_row(db: Session) -> None:
    w = cw.build(db)
    report = import_csv(db, w.smelter.user, _file(w, 4_000, 5_000, 2_000), apply=True)
    assert not report.ok and not report.applied
    assert [r.ok for r in report.results] == [True, True, True, False, True, True]
    bad = report.results[3]
    assert (bad.row, bad.field) == (5, "coc_quantity_kg")
    assert "exceeds the available balance of 1000 kg" in bad.message
    assert _stored(db) == (0, 0)
    assert db.scalar(select(func.count()).select_from(CocDocument)) == 0


def test_a_malformed_shipment_in_a_run_names_its_column(db: Session) -> None:
    w = cw.build(db)
    text = _file(w, 1_000, 2_000).replace(",2000,2000,", ",2000,2000.5,")
    report = import_csv(db, w.smelter.user, text, apply=False)
    assert [r.ok for r in report.results] == [True, True, False, True, True]
    assert report.results[2].field == "coc_quantity_kg"
    assert _stored(db) == (0, 0)
