"""A CoC receiving event needs no quantityList (docs/epcis-profile.md, "Receiving"): with
the epcList of the lots (even empty, as GS1's schema allows) an ObjectEvent or a
TransactionEvent receives the whole document through the repository; with neither list
GS1's schema refuses the ObjectEvent, naming what it wants."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from stewardship.interop.epcis import capture as service
from stewardship.interop.epcis.validation import Validation
from tests import custody_world as cw
from tests.interop.test_epcis_corrections import DAY, _doc
from tests.interop.test_profile import _balance, _receiving


@pytest.mark.parametrize(("kind", "lots"), [
    ("ObjectEvent", ["urn:epc:id:sgtin:4012345.011111.77"]),
    ("ObjectEvent", []),
    ("TransactionEvent", ["urn:epc:id:sgtin:4012345.011111.78"]),
])
def test_a_receipt_without_quantity_list_receives_the_whole_document(
        db: Session, validation: Validation, kind: str, lots: list[str]) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 30_000, on=DAY)
    number = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 20_000, quantity=24_500, on=DAY)
    event: dict[str, Any] = {**_receiving(w.mill, number), "type": kind, "epcList": lots}
    if kind == "TransactionEvent":
        event["action"] = "ADD"
    assert "quantityList" not in event
    result = service.capture_document(db, w.mill.user, _doc(event), validation=validation)
    assert result.success, result.errors
    [effect] = result.ledger
    assert effect.startswith(f"CoC document {number} received on {DAY}: 20000 kg "
                             "asi_aluminium from ")
    assert _balance(db, w.mill, "asi_aluminium") == 20_000


def test_a_receipt_naming_nothing_is_refused_by_gs1s_schema(db: Session,
                                                           validation: Validation) -> None:
    if validation.mode != "gs1-json-schema":
        pytest.skip("GS1's schema is not configured")
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 30_000, on=DAY)
    number = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 20_000, on=DAY)
    with pytest.raises(service.CaptureRejected) as refused:
        service.capture_document(db, w.mill.user, _doc(_receiving(w.mill, number)),
                                 validation=validation)
    assert '"quantityList" is a required property' in refused.value.errors[0]["detail"]
    assert _balance(db, w.mill, "asi_aluminium") == 0
