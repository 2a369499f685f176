"""Reversing a journal entry on the pages, without JavaScript: the journal offers
"Reverse" on the entries that may be reversed, the form asks for the reason, a refusal is
shown on the form and stores nothing, and the journal then shows the entry as reversed
beside its reversal."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor
from stewardship.custody.models import CustodyOperation
from tests import custody_world as cw
from tests.api.pages import post, text
from tests.api.test_custody_pages import balance, count


@pytest.fixture
def w(db: Session) -> cw.Chain:
    return cw.build(db)


def _production(db: Session, w: cw.Chain, kg: int) -> CustodyOperation:
    cw.produce(db, w.smelter, "asi_aluminium", kg)
    op = db.scalars(select(CustodyOperation).where(
        CustodyOperation.entity_id == w.smelter.entity_id,
        CustodyOperation.kilograms == kg)).one()
    return op


def test_a_member_reverses_an_entry_from_the_journal(
        db: Session, w: cw.Chain, signed_in: Callable[[Actor], TestClient]) -> None:
    wrong = _production(db, w, 40_000)
    client = signed_in(w.smelter.user)
    journal = client.get("/custody/journal")
    assert journal.status_code == 200
    assert f'href="/custody/journal/{wrong.id}/reverse"' in journal.text

    form = client.get(f"/custody/journal/{wrong.id}/reverse")
    assert form.status_code == 200, text(form)[-600:]
    body = text(form)
    assert "Reverse a journal entry" in body and "40.0 t" in body and "Reason" in body
    assert 'title="40,000 kg"' in form.text

    missing = post(client, f"/custody/journal/{wrong.id}/reverse", {"reason": ""})
    assert missing.status_code == 422
    assert "the reason is required" in text(missing).lower()
    assert balance(db, w.smelter, "asi_aluminium") == 40_000

    done = post(client, f"/custody/journal/{wrong.id}/reverse",
                {"reason": "Entered twice"})
    assert done.status_code == 303 and done.headers["location"] == "/custody/journal"
    assert balance(db, w.smelter, "asi_aluminium") == 0
    after = client.get("/custody/journal")
    listed = text(after)
    assert "Reversal" in listed and "Reason: Entered twice" in listed and "Reversed" in listed
    assert f'href="/custody/journal/{wrong.id}/reverse"' in after.text  # "see why"
    seen = text(client.get(f"/custody/journal/{wrong.id}/reverse"))
    assert "This entry was reversed on" in seen and "Entered twice" in seen
    assert "Reverse the entry" not in seen


def test_a_refused_reversal_is_shown_on_the_form_and_stores_nothing(
        db: Session, w: cw.Chain, signed_in: Callable[[Actor], TestClient]) -> None:
    wrong = _production(db, w, 1_000)
    cw.ship(db, w.smelter, w.mill, "asi_aluminium", 600)
    before = count(db, CustodyOperation)
    client = signed_in(w.smelter.user)
    refused = post(client, f"/custody/journal/{wrong.id}/reverse", {"reason": "Wrong pot"})
    assert refused.status_code == 409
    assert "already left" in text(refused) and "400 kg remain" in text(refused)
    assert count(db, CustodyOperation) == before
    assert balance(db, w.smelter, "asi_aluminium") == 400


def test_another_members_entry_is_not_found(
        db: Session, w: cw.Chain, signed_in: Callable[[Actor], TestClient]) -> None:
    wrong = _production(db, w, 1_000)
    other = signed_in(w.mill.user)
    assert other.get(f"/custody/journal/{wrong.id}/reverse").status_code == 404
    assert post(other, f"/custody/journal/{wrong.id}/reverse",
                {"reason": "Not mine"}).status_code == 404
    assert balance(db, w.smelter, "asi_aluminium") == 1_000
