"""Issuing CoC documents in a batch over HTTP: one request issues them all, in order, with
the documents returned; a refused item refuses the whole batch with the single
document's status and the item's index and field named, and nothing is stored; more
than 1,000 items is a validation error naming ``items``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stewardship.custody.schemas import MAX_BATCH
from tests import custody_world as cw
from tests.api.pages import api_error, fields, ok
from tests.api.test_custody_api import C, Ledger, _balance, _document
from tests.api.test_custody_api import ledger as ledger
from tests.api.test_custody_api import smelter as smelter
from tests.api.test_custody_api import staff as staff
from tests.api.test_custody_api import w as w
from tests.today import TODAY


def test_a_batch_issues_every_item_in_order(w: cw.Chain, smelter: TestClient,
                                            staff: TestClient) -> None:
    items = [_document(w, coc_quantity_kg=kg, quantity_kg=kg, description=f"Lot {kg}")
             for kg in (1_000, 2_000, 1_500)]
    body = ok(smelter.post(f"{C}/documents/batch", json={"items": items}), 201)
    assert body["count"] == 3
    assert [d["coc_quantity_kg"] for d in body["items"]] == [1_000, 2_000, 1_500]
    assert [d["description"] for d in body["items"]] == ["Lot 1000", "Lot 2000", "Lot 1500"]
    assert len({d["number"] for d in body["items"]}) == 3
    assert _balance(staff, w.smelter.entity_id) == 500
    for doc in body["items"]:
        verified = ok(staff.get(f"{C}/verify/{doc['number']}"))
        assert verified["record"] == "matches" and verified["valid_on_shipment"]


@pytest.mark.parametrize(("change", "status", "field", "words"), [
    ({"coc_quantity_kg": 4_500, "quantity_kg": 4_500}, 409, "items.1.coc_quantity_kg",
     "exceeds the available balance"),
    ({"shipment_date": str(TODAY + timedelta(days=1))}, 422, "items.1.shipment_date",
     "future"),
    ({"recipient_entity_id": "00000000-0000-4000-8000-000000000000"}, 422,
     "items.1.recipient_entity_id", "no such entity"),
], ids=["over balance", "future", "unknown recipient"])
def test_one_refused_item_refuses_the_batch(ledger: Ledger, smelter: TestClient,
                                            w: cw.Chain, change: dict[str, Any],
                                            status: int, field: str, words: str) -> None:
    before = ledger.state()
    items = [_document(w), _document(w, **change)]
    error = api_error(smelter.post(f"{C}/documents/batch", json={"items": items}), status,
                      "conflict" if status == 409 else "invalid")
    assert error["message"].startswith("item 1: ") and words in error["message"]
    assert error["details"][0]["field"] == field
    assert ledger.state() == before


def test_a_malformed_item_and_too_many_items_are_validation_errors(
        ledger: Ledger, smelter: TestClient, w: cw.Chain) -> None:
    before = ledger.state()
    error = api_error(smelter.post(f"{C}/documents/batch", json={"items": [
        _document(w), _document(w, quantity_kg="1.5")]}), 422, "validation_error")
    assert "items.1.quantity_kg" in fields(error)
    error = api_error(smelter.post(f"{C}/documents/batch", json={
        "items": [_document(w, coc_quantity_kg=1, quantity_kg=1)] * (MAX_BATCH + 1)}),
        422, "validation_error")
    assert "items" in fields(error) and "at most 1000" in fields(error)["items"]
    api_error(smelter.post(f"{C}/documents/batch", json={"items": []}), 422,
              "validation_error")
    assert ledger.state() == before
