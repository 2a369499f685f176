"""Receiving many CoC documents in one call: the receiving events of an EPCIS capture's
chunk.

``receive_documents`` makes, for each item in turn, the same checks and refusals as
``documents.receive_document`` (and, before them, the caller's own checks of the
document), and stores the same rows: the document's receipt, the journal row and its
legs, the recipient account's new state and the ``custody.document.received`` entry.
Unlike the batch issue it is not all or nothing: a refused item drops out with its own
error and the others are received, each judged on the state the earlier ones left (a
document received by an earlier item is "already received" for a later one). What the
items share is the work: one look-up of the documents (row-locked in the order of their
numbers), of the recipients, of their settings and of the issuers' certificates on the
shipment days (one query with their status histories, no eager loads); the recipients'
accounts that exist are locked once each in a fixed order (entity, material, period);
journal rows and legs are written by executemany and the event-log entries chained in
memory and written in one statement."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from stewardship.assurance.service import certificates
from stewardship.core import eventlog
from stewardship.core.auth import Actor
from stewardship.core.db import utcnow
from stewardship.core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from stewardship.custody import repository as repo
from stewardship.custody import rules
from stewardship.custody.models import CocDocument, CustodySettings, MaterialAccount
from stewardship.custody.rules import CocMaterial
from stewardship.custody.schemas import Party
from stewardship.custody.service import common, documents, footprints
from stewardship.registry.models import Entity


@dataclass(frozen=True)
class Shipped:
    """What a receipt's caller may check of the document before it is received, named as
    on the document's read model; ``received_on`` is set once it is received."""

    number: str
    issuer: Party
    recipient: Party
    material: CocMaterial
    quantity_kg: int
    coc_quantity_kg: int
    received_on: date | None = None


@dataclass(frozen=True)
class ReceiptItem:
    number: str
    received_on: date | None
    today: date | None = None
    """The day it is where the receipt happened (None: at the recipient's main site)."""
    check: Callable[[Shipped], None] | None = None
    """The caller's own checks of the document, run after the document is found and
    before the receipt's (what a caller reading the document first would refuse)."""


Outcome = Shipped | DomainError


class _Batch:
    """The items' documents, recipients, settings, certificates and accounts, each read
    once."""

    def __init__(self, db: Session, items: list[ReceiptItem]) -> None:
        self.db = db
        self.docs = repo.documents_by_numbers(
            db, sorted({i.number.strip().upper() for i in items}), lock=True)
        ids = {d.recipient_entity_id for d in self.docs.values()}
        self.entities: dict[uuid.UUID, Entity] = {e.id: e for e in db.scalars(
            select(Entity).where(Entity.id.in_(ids)))} if ids else {}
        self.settings = repo.settings_of_entities(db, list(ids))
        self.names = common.Names(db, [e for d in self.docs.values() for e in (
            d.issuer_entity_id, d.recipient_entity_id)])
        asked = [([d.issuer_performance_certificate, d.issuer_coc_certificate],
                  d.shipment_date) for d in self.docs.values()]
        self.valid: dict[str, bool] = {
            d.number: all(row[3] for row in rows)
            for d, rows in zip(self.docs.values(), certificates.validity_of(db, asked),
                               strict=True)}
        self.days: dict[uuid.UUID, date] = {}
        self.accounts: dict[tuple[uuid.UUID, str, date], MaterialAccount] = {}
        self.invalid: dict[str, str] = {}

    def today_of(self, entity: Entity, today: date | None) -> date:
        if today is not None:
            return today
        if entity.id not in self.days:
            self.days[entity.id] = common.today_of(self.db, entity)
        return self.days[entity.id]

    def settings_of(self, entity: Entity) -> CustodySettings:
        found = self.settings.get(entity.id)
        return found if found is not None else common.settings_of(self.db, entity)

    def lock_accounts(self, keys: set[tuple[uuid.UUID, str, date]]) -> None:
        """The accounts that exist among those the items credit, locked in a fixed order;
        a missing one is opened (and locked) when its first item is received."""
        for key in sorted(keys, key=lambda k: (str(k[0]), k[1], k[2])):
            row = repo.account(self.db, *key, lock=True)
            if row is not None:
                self.accounts[key] = row

    def shipped(self, doc: CocDocument) -> Shipped:
        return Shipped(doc.number, self.names.party(doc.issuer_entity_id),
                       self.names.party(doc.recipient_entity_id), CocMaterial(doc.material),
                       doc.quantity_kg, doc.coc_quantity_kg, doc.received_on)


def _planned_key(batch: _Batch, actor: Actor, item: ReceiptItem
                 ) -> tuple[uuid.UUID, str, date] | None:
    """The account the item would credit, when its document can be received as things
    stand before the batch (what is locked up front)."""
    doc = batch.docs.get(item.number.strip().upper())
    if doc is None or doc.status != "issued" or \
            actor.organization_id != doc.recipient_organization_id:
        return None
    recipient = batch.entities.get(doc.recipient_entity_id)
    if recipient is None:
        return None
    day = item.received_on or batch.today_of(recipient, item.today)
    period = common.period_of(batch.settings_of(recipient), day)
    return recipient.id, doc.material, period.start


def receive_documents(db: Session, actor: Actor | None,
                      items: list[ReceiptItem]) -> list[Outcome]:
    """Receive each item's document as ``documents.receive_document`` would, in order:
    for each item the document as received (``Shipped``) or its refusal."""
    actor = common.member(actor, "confirm CoC documents")
    if not items:
        return []
    batch = _Batch(db, items)
    batch.lock_accounts({k for k in (_planned_key(batch, actor, i) for i in items) if k})
    outcomes: list[Outcome] = []
    done: list[tuple[CocDocument, MaterialAccount, date, rules.Period]] = []
    for item in items:
        try:
            done.append(_receive(batch, actor, item))
        except DomainError as error:
            outcomes.append(error)
            continue
        outcomes.append(batch.shipped(done[-1][0]))
    if done:
        _write(db, actor, done)
    return outcomes


def _receive(batch: _Batch, actor: Actor, item: ReceiptItem
             ) -> tuple[CocDocument, MaterialAccount, date, rules.Period]:
    """One item: its checks in ``receive_document``'s order, then the document and the
    account changed in memory (written by ``_write``)."""
    number = item.number.strip().upper()
    doc = batch.docs.get(number)
    if doc is None or not (common.may_read(actor, doc.issuer_organization_id)
                           or common.may_read(actor, doc.recipient_organization_id)):
        raise NotFound(f"no CoC document '{item.number}'", field="number")
    if item.check is not None:
        item.check(batch.shipped(doc))
    if actor.organization_id != doc.recipient_organization_id:
        raise Forbidden(f"only the recipient named on document {doc.number} may do this",
                        field="number")
    if doc.status != "issued":
        when = f" on {doc.received_on.isoformat()}" if doc.received_on else ""
        raise Conflict(f"document {doc.number} was already {doc.status}{when}",
                       field="number")
    recipient = batch.entities.get(doc.recipient_entity_id)
    assert recipient is not None
    recipient_today = batch.today_of(recipient, item.today)
    day = item.received_on or recipient_today
    common.check_day(day, recipient_today, "received_on")
    if day < doc.shipment_date:
        raise InvalidInput(f"received on {day.isoformat()}, before the shipment date "
                           f"{doc.shipment_date.isoformat()}", field="received_on")
    if not batch.valid[doc.number]:
        bad = next(n for n, _, _, valid, _, _ in documents.certificates_then(batch.db, doc)
                   if not valid)
        raise Conflict(f"certificate {bad} of the issuer was not valid on the shipment "
                       "date; the material cannot be taken in as CoC material",
                       field="number")
    period = common.period_of(batch.settings_of(recipient), day)
    key = (recipient.id, doc.material, period.start)
    row = common.account(batch.db, recipient, CocMaterial(doc.material), period,
                         field="received_on", locked=batch.accounts.get(key))
    batch.accounts[key] = row
    new = rules.receive(common.balance(row), doc.coc_quantity_kg)
    arriving = footprints.arriving(batch.db, doc)
    common.store(row, new, rules.add(common.pool(row), arriving))
    doc.status, doc.received_on, doc.receipt_period_start = "received", day, period.start
    doc.decided_at, doc.decided_by = utcnow(), actor.ref
    return doc, row, day, period


def _write(db: Session, actor: Actor,
           done: list[tuple[CocDocument, MaterialAccount, date, rules.Period]]) -> None:
    """The journal rows and legs by executemany, the documents' and accounts' changes,
    and the event-log entries chained in memory, in the items' order."""
    now = utcnow()
    operations, legs, entries = [], [], []
    for doc, row, day, period in done:
        op_id, org = uuid.uuid4(), doc.recipient_organization_id
        operations.append({
            "id": op_id, "organization_id": org, "entity_id": doc.recipient_entity_id,
            "kind": "receipt", "material": doc.material, "source_material": None,
            "transformation": None, "facility_id": None, "input_kg": None,
            "kilograms": doc.coc_quantity_kg, "declared_yield": None, "scrap_kind": None,
            "occurred_on": day, "period_start": period.start, "document_id": doc.id,
            "note": "", "actor": actor.ref, "reverses_id": None, "composition": None,
            "total_input_kg": None, "total_output_kg": None, "capacity_override": None,
            "recorded_at": now})
        shared = {"correlation_id": op_id, "operation_id": op_id, "organization_id": org,
                  "recorded_at": now}
        if doc.coc_quantity_kg:
            legs += [{**shared, "account_id": None, "system_account": f"transit:{doc.number}",
                      "kilograms": -doc.coc_quantity_kg},
                     {**shared, "account_id": row.id, "system_account": None,
                      "kilograms": doc.coc_quantity_kg}]
        entries.append(("custody.document.received", f"coc_document:{doc.number}",
                        {"digest": documents.digest(doc), "received_on": day}))
    db.flush()  # the documents' receipts and the accounts' new states
    repo.insert_operations(db, operations)
    if legs:
        repo.insert_movements(db, legs)
    eventlog.append_many(db, actor, entries)
