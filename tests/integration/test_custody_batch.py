"""Issuing CoC documents in a batch (SQLite and PostgreSQL): the same documents, journal,
legs, balances, event-log entries and credentials as issuing them one at a time, with
one checkpoint for the batch; one refused item refuses the whole batch, naming its
index, and stores nothing; two batches racing for one balance never over-claim it."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stewardship.core import bundles, eventlog, issuance, notes, tlog
from stewardship.core.db import transaction
from stewardship.core.errors import Conflict, DomainError, InvalidInput
from stewardship.custody.models import CocDocument, CustodyOperation, MaterialAccount, Movement
from stewardship.custody.schemas import MAX_BATCH, DocumentBatch, DocumentCreate
from stewardship.custody.service import audit, batch, document_credentials, documents
from tests import custody_world as cw
from tests.integration.test_custody_races import WRITERS, _race, committed_chain
from tests.today import TODAY

BASE = "https://register.example.org"
ISSUER = issuance.Issuer(BASE, notes.Signer("register.example.org/log",
                                            Ed25519PrivateKey.generate()))


@pytest.fixture
def w(db: Session) -> cw.Chain:
    with issuance.issuing_as(ISSUER):
        chain = cw.build(db)
        cw.produce(db, chain.smelter, "asi_aluminium", 600_000)
        return chain


def _items(w: cw.Chain, *kgs: int, **extra: Any) -> list[DocumentCreate]:
    recipients = [w.mill, w.remelter]
    return [DocumentCreate(recipient_entity_id=recipients[i % 2].entity_id,
                           material="asi_aluminium", quantity_kg=kg + 1_000,
                           coc_quantity_kg=kg, shipment_date=TODAY,
                           description=f"Lot {i}", **extra) for i, kg in enumerate(kgs)]


def _counts(db: Session) -> dict[str, int]:
    return {name: db.scalar(select(func.count()).select_from(model)) or 0
            for name, model in (("documents", CocDocument), ("operations", CustodyOperation),
                                ("legs", Movement), ("log", eventlog.EventLogEntry),
                                ("credentials", issuance.IssuedCredential),
                                ("checkpoints", tlog.LogCheckpoint))}


def _account(db: Session, w: cw.Chain) -> MaterialAccount:
    db.expire_all()
    return db.scalars(select(MaterialAccount).where(
        MaterialAccount.entity_id == w.smelter.entity_id,
        MaterialAccount.material == "asi_aluminium")).one()


_SAME = ("issuer_entity_id", "recipient_entity_id", "issuer_performance_certificate",
         "issuer_coc_certificate", "recipient_performance_certificate",
         "recipient_coc_certificate", "material", "description", "quantity_kg",
         "coc_quantity_kg", "shipment_date", "period_start", "period_end", "composition",
         "footprint_kg_co2e_per_kg", "footprint_primary_percent", "footprint_tiers",
         "origin_levels", "origin_levels_of", "status", "issued_by")


def _doc(db: Session, number: str) -> CocDocument:
    return db.scalars(select(CocDocument).where(CocDocument.number == number)).one()


def _verdict(db: Session, number: str) -> bundles.Verdict:
    row = document_credentials.credential_of(db, number)
    assert row is not None
    data = issuance.bundle(db, ISSUER, row.id)
    return bundles.verify_bundle(json.dumps(data), trusted_issuers={ISSUER.did})


def test_a_batch_stores_what_single_issues_store_with_one_checkpoint(
        db: Session, w: cw.Chain) -> None:
    kgs = (100_000, 50_000, 25_000)
    before = _counts(db)
    start = _account(db, w)
    balance0, pool0, issued0 = start.balance_kg, dict(start.pool), start.issued
    with issuance.issuing_as(ISSUER):
        singles = [documents.issue_document(db, w.smelter.user, item, today=TODAY)
                   for item in _items(w, *kgs)]
    middle = _counts(db)
    after_singles = _account(db, w)
    single_balance, single_issued = after_singles.balance_kg, after_singles.issued
    assert single_balance == balance0 - sum(kgs)
    with issuance.issuing_as(ISSUER):
        reads = batch.issue_documents(db, w.smelter.user, _items(w, *kgs), today=TODAY)
    after = _counts(db)
    acct = _account(db, w)
    # The same rows as the singles wrote, but one checkpoint for the whole batch.
    grew = {k: after[k] - middle[k] for k in after}
    single = {k: middle[k] - before[k] for k in middle}
    assert single["checkpoints"] == 3 and grew["checkpoints"] == 1
    assert {k: v for k, v in grew.items() if k != "checkpoints"} == {
        k: v for k, v in single.items() if k != "checkpoints"}
    assert grew["documents"] == 3 and grew["legs"] == 6 and grew["log"] == 6
    # The balance moved by the same again, and the pool's origins were drawn alike.
    assert acct.balance_kg == single_balance - sum(kgs)
    assert acct.issued - single_issued == single_issued - issued0
    assert pool0  # the smelter's production has origins to share
    for one, many in zip(singles, reads, strict=True):
        a, b = _doc(db, one.number), _doc(db, many.number)
        assert {k: getattr(a, k) for k in _SAME} == {k: getattr(b, k) for k in _SAME}
        assert many.digest == documents.digest(b)
        assert documents.verify_document(db, many.number, today=TODAY).record == "matches"
        legs = db.scalars(select(Movement.kilograms, Movement.system_account)
                          .join(CustodyOperation, CustodyOperation.id == Movement.operation_id)
                          .where(CustodyOperation.document_id == b.id)
                          .order_by(Movement.kilograms)).all()
        assert len(legs) == 2
        op = db.scalars(select(CustodyOperation).where(
            CustodyOperation.document_id == b.id)).one()
        assert (op.kind, op.kilograms, op.entity_id) == ("issue", b.coc_quantity_kg,
                                                         b.issuer_entity_id)
        assert _verdict(db, many.number).status == "valid"
    # Each document's entry then its credential's, in the items' order, chained.
    entries = db.scalars(select(eventlog.EventLogEntry)
                         .order_by(eventlog.EventLogEntry.sequence.desc()).limit(6)).all()
    assert [(e.kind, e.subject) for e in reversed(entries)] == [
        pair for r in reads for pair in (
            ("custody.document.issued", f"coc_document:{r.number}"),
            ("credential.coc_document.issued", f"coc_document:{r.number}"))]
    assert eventlog.verify_chain(db).ok
    assert audit.audit(db, w.secretariat).ok


def test_a_later_item_draws_what_an_earlier_left(db: Session, w: cw.Chain) -> None:
    with issuance.issuing_as(ISSUER):
        reads = batch.issue_documents(db, w.smelter.user, _items(w, 300_000, 300_000),
                                      today=TODAY)
    assert [r.coc_quantity_kg for r in reads] == [300_000, 300_000]
    assert _account(db, w).balance_kg == 0


@pytest.mark.parametrize(("bad", "status", "field", "words"), [
    ({"coc_quantity_kg": 500_000, "quantity_kg": 500_000}, Conflict, "items.2.coc_quantity_kg",
     "exceeds the available balance"),
    ({"quantity_kg": 10}, InvalidInput, "items.2.coc_quantity_kg", "exceeds the shipped"),
    ({"shipment_date": TODAY + timedelta(days=2)}, InvalidInput, "items.2.shipment_date",
     "in the future"),
    ({"number": "COC-2026-SAME0001"}, Conflict, "items.2.number", "given to item 1"),
    ({"material": "asi_alumina"}, Conflict, "items.2.coc_quantity_kg",
     "exceeds the available balance"),
])
def test_one_bad_item_refuses_the_batch_naming_it(db: Session, w: cw.Chain,
                                                  bad: dict[str, Any], status: type,
                                                  field: str, words: str) -> None:
    items = _items(w, 100_000, 50_000, 25_000)
    if "number" in bad:
        items[1] = items[1].model_copy(update={"number": bad["number"]})
    items[2] = items[2].model_copy(update=bad)
    before, balance = _counts(db), _account(db, w).balance_kg
    # The caller's transaction is the request's: a refusal rolls back the savepoint.
    with issuance.issuing_as(ISSUER), pytest.raises(DomainError) as caught, \
            db.begin_nested():
        batch.issue_documents(db, w.smelter.user, items, today=TODAY)
    error = caught.value
    assert type(error) is status
    assert error.details[0]["field"] == field and words in error.message
    assert error.message.startswith("item 2: ")
    assert batch.refused_index(error) == 2
    assert isinstance(error.__cause__, DomainError)
    assert _counts(db) == before and _account(db, w).balance_kg == balance


def test_a_recipient_outside_the_scheme_and_a_number_taken_are_named(
        db: Session, w: cw.Chain) -> None:
    taken = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 1_000)
    items = _items(w, 1_000, 1_000)
    items[1] = items[1].model_copy(update={"number": taken})
    with issuance.issuing_as(ISSUER), pytest.raises(Conflict) as caught:
        batch.issue_documents(db, w.smelter.user, items, today=TODAY)
    assert caught.value.details[0]["field"] == "items.1.number"
    items = _items(w, 1_000, 1_000)
    items[0] = items[0].model_copy(update={"recipient_entity_id": w.smelter.entity_id})
    with issuance.issuing_as(ISSUER), pytest.raises(InvalidInput) as refused:
        batch.issue_documents(db, w.smelter.user, items, today=TODAY)
    assert refused.value.details[0]["field"] == "items.0.recipient_entity_id"


def test_an_uncertified_issuer_is_refused_at_the_first_item(db: Session,
                                                            w: cw.Chain) -> None:
    with issuance.issuing_as(ISSUER), pytest.raises(Conflict) as caught:
        batch.issue_documents(db, w.trader.user, [DocumentCreate(
            recipient_entity_id=w.mill.entity_id, material="asi_aluminium",
            quantity_kg=10, coc_quantity_kg=10, shipment_date=TODAY)], today=TODAY)
    assert caught.value.details[0]["field"] == "items.0.shipment_date"
    assert "certificate" in caught.value.message


def test_a_batch_holds_at_most_a_thousand_items(w: cw.Chain) -> None:
    item = _items(w, 10)[0].model_dump()
    assert len(DocumentBatch(items=[item] * MAX_BATCH).items) == MAX_BATCH
    with pytest.raises(ValidationError) as caught:
        DocumentBatch(items=[item] * (MAX_BATCH + 1))
    assert caught.value.errors()[0]["loc"] == ("items",)
    assert "at most 1000" in str(caught.value)
    with pytest.raises(ValidationError):
        DocumentBatch(items=[])


def test_the_service_refuses_more_than_a_thousand_too(db: Session, w: cw.Chain) -> None:
    with pytest.raises(InvalidInput, match="at most 1,000"):
        batch.issue_documents(db, w.smelter.user, _items(w, *([1] * (MAX_BATCH + 1))),
                              today=TODAY)


@pytest.fixture
def chain_db(backend: str, tmp_path: Path) -> object:
    with committed_chain(backend, tmp_path, ISSUER) as made:
        yield made


def test_racing_batches_never_over_claim_one_balance(chain_db: object) -> None:
    engine, factory, w = chain_db  # type: ignore[misc]

    def work(session: Session) -> object:
        with issuance.issuing_as(ISSUER):
            return batch.issue_documents(session, w.smelter.user, _items(w, 100, 200),
                                         today=TODAY)

    results = _race(engine, work)
    won = [r for r in results if isinstance(r, list)]
    lost = [r for r in results if isinstance(r, Exception)]
    assert len(won) == 3 and len(lost) == WRITERS - 3, results
    assert all(isinstance(e, Conflict) and "exceeds the available balance" in e.message
               for e in lost), lost
    with transaction(factory) as session:
        balance = session.scalar(select(MaterialAccount.balance_kg).where(
            MaterialAccount.entity_id == w.smelter.entity_id))
        assert balance == 100
        assert audit.audit(session, w.secretariat).ok
        assert eventlog.verify_chain(session).ok
        kinds = Counter(session.scalars(select(eventlog.EventLogEntry.kind)))
        assert kinds["custody.document.issued"] == 6
