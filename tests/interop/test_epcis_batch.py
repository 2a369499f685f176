"""EPCIS capture: consecutive shipping events of a capture have their CoC documents
issued together through the batch use case (one transparency checkpoint for the run),
each event's ledger effect still reported as its own; when one of them is refused they
run one by one, so that the refusal names its event and the others behave as before."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stewardship.core import tlog
from stewardship.custody.models import CocDocument
from stewardship.custody.service import documents
from stewardship.interop.epcis import capture as service
from stewardship.interop.epcis.validation import Validation
from tests import custody_world as cw
from tests.interop.test_epcis_corrections import DAY, _doc
from tests.interop.test_profile import _balance, _shipping


def _ship(w: cw.Chain, n: int, tonnes: float) -> dict[str, object]:
    return {**_shipping(w.smelter, w.mill if n % 2 else w.remelter, f"COC-EPB-{n:04d}",
                        quantity=tonnes, coc=tonnes),
            "eventID": f"urn:uuid:5b3c1e1a-0000-4000-8000-0000000b{n:04d}"}


def _checkpoints(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(tlog.LogCheckpoint)) or 0


def test_consecutive_shipping_events_are_issued_together(db: Session,
                                                         validation: Validation) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 50_000, on=DAY)
    before = _checkpoints(db)
    result = service.capture_document(
        db, w.smelter.user, _doc(*[_ship(w, n, t) for n, t in enumerate((5, 10, 15))]),
        validation=validation)
    assert result.captured == 3 and result.errors == []
    assert [e["eventIndex"] for e in result.effects] == [0, 1, 2]
    assert [e["effect"].split(" issued")[0] for e in result.effects] == [
        f"CoC document COC-EPB-{n:04d}" for n in range(3)]
    assert result.ledger == [e["effect"] for e in result.effects]
    assert _checkpoints(db) - before == 1
    assert _balance(db, w.smelter, "asi_aluminium") == 20_000
    doc = documents.get_document(db, w.smelter.user, "COC-EPB-0001")
    assert (doc.coc_quantity_kg, doc.recipient.entity_id) == (10_000, w.mill.entity_id)


def test_a_refused_shipping_event_is_named_and_proceed_keeps_the_others(
        db: Session, validation: Validation) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 20_000, on=DAY)
    result = service.capture_document(
        db, w.smelter.user, _doc(*[_ship(w, n, t) for n, t in enumerate((5, 30, 10))]),
        "proceed", validation=validation)
    assert result.captured == 2 and len(result.errors) == 1
    assert "/1/" in result.errors[0]["instance"] + "/"
    assert "exceeds the available balance" in result.errors[0]["detail"]
    assert [e["eventIndex"] for e in result.effects] == [0, 2]
    assert _balance(db, w.smelter, "asi_aluminium") == 5_000
    numbers = set(db.scalars(select(CocDocument.number)))
    assert numbers == {"COC-EPB-0000", "COC-EPB-0002"}
