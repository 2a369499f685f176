"""Issuing many CoC documents in one request: an ERP's list of shipments, the shipment rows
of a CSV import, the shipping events of an EPCIS capture.

``issue_documents`` makes the same checks and refusals as ``documents.issue_document``
once per item, stores the same rows (document, journal row, movement legs, the account's
new state), the same event-log entries and a credential for each document, all or
nothing: the first refused item refuses the batch, the error naming its index
(``items.<i>.<field>``, the message starting ``item <i>:``) with the status the single
refusal has, and nothing is stored. What the batch shares is the work: one look-up of
each party and its settings, one certificate query per shipment day for every party of
that day, one lock per account (issuer, material, period; taken in a fixed order, so
two batches never wait on each other in a circle), documents, journal and legs each
written in one statement, the event-log entries chained in memory and written together,
and one transparency-log checkpoint covering every credential of the batch."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import date
from functools import partial
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stewardship.core import issuance
from stewardship.core.auth import Actor
from stewardship.core.db import utcnow
from stewardship.core.errors import Conflict, DomainError, InvalidInput
from stewardship.custody import repository as repo
from stewardship.custody import rules
from stewardship.custody.models import CocDocument, MaterialAccount
from stewardship.custody.origins import stored
from stewardship.custody.rules import CocMaterial, LedgerError, Period
from stewardship.custody.schemas import MAX_BATCH, DocumentCreate, DocumentRead
from stewardship.custody.service import common, document_credentials, documents, footprints
from stewardship.registry.models import Entity
from stewardship.registry.rules import ID_ALPHABET

_ITEM_FIELD = re.compile(r"^items\.(\d+)(?:\.|$)")


def refused_index(error: DomainError) -> int | None:
    """The index of the item a batch's refusal names (None: not an item's refusal). The
    refusal's cause (``__cause__``) is the error the item alone would have raised."""
    field = str(error.details[0].get("field") or "") if error.details else ""
    found = _ITEM_FIELD.match(field)
    return int(found.group(1)) if found else None


def _refusal(error: DomainError, index: int) -> DomainError:
    details = [{**d, "field": f"items.{index}.{d['field']}" if d.get("field")
                else f"items.{index}"} for d in error.details] or [
        {"field": f"items.{index}", "message": error.message}]
    refusal = type(error)(f"item {index}: {error.message}", details=details)
    refusal.__cause__ = error  # what the item alone would have raised
    return refusal


@dataclass
class _Item:
    index: int
    data: DocumentCreate
    issuer: Entity
    recipient: Entity
    period: Period
    material: CocMaterial
    performance: str = ""
    coc: str = ""
    theirs: dict[str, str | None] | None = None
    """The recipient's certificates on the shipment day."""
    number: str = ""


class _Parties:
    """The batch's issuers (the actor's entities), recipients, settings and days, each
    looked up once."""

    def __init__(self, db: Session, actor: Actor, items: list[DocumentCreate],
                 today: date | None) -> None:
        self.db, self.actor, self.today = db, actor, today
        self.found = repo.entities_and_status(db, list({i.recipient_entity_id for i in items}))
        self.issuers: dict[uuid.UUID | None, Entity] = {}
        self.days: dict[uuid.UUID, date] = {}
        self.months: dict[uuid.UUID, int] = {}

    def issuer(self, entity_id: uuid.UUID | None) -> Entity:
        if entity_id not in self.issuers:
            self.issuers[entity_id] = common.own_entity(self.db, self.actor, entity_id,
                                                        field="issuer_entity_id")
        return self.issuers[entity_id]

    def recipient(self, entity_id: uuid.UUID, issuer: Entity) -> Entity:
        return common.check_recipient(self.found.get(entity_id), issuer)

    def today_of(self, issuer: Entity) -> date:
        if issuer.id not in self.days:
            self.days[issuer.id] = common.today_of(self.db, issuer, self.today)
        return self.days[issuer.id]

    def period_months(self, issuer: Entity) -> int:
        if issuer.id not in self.months:
            self.months[issuer.id] = common.settings_of(self.db, issuer).period_months
        return self.months[issuer.id]


def _checked(parties: _Parties, index: int, data: DocumentCreate) -> _Item:
    """What ``issue_document`` checks before the certificates, for one item."""
    issuer = parties.issuer(data.issuer_entity_id)
    recipient = parties.recipient(data.recipient_entity_id, issuer)
    common.check_day(data.shipment_date, parties.today_of(issuer), "shipment_date")
    if data.coc_quantity_kg > data.quantity_kg:
        raise InvalidInput(f"CoC quantity {data.coc_quantity_kg} kg exceeds the shipped "
                           f"quantity {data.quantity_kg} kg", field="coc_quantity_kg")
    period = documents.period_named(parties.period_months(issuer), data.shipment_date,
                                    data.period_start)
    return _Item(index, data, issuer, recipient, period, CocMaterial(data.material))


def _certified(db: Session, items: list[_Item]) -> dict[tuple[uuid.UUID, date],
                                                         dict[str, str | None]]:
    """Both parties' certificates on each shipment day: one query per day."""
    by_day: dict[date, set[uuid.UUID]] = {}
    for item in items:
        by_day.setdefault(item.data.shipment_date, set()).update(
            (item.issuer.id, item.recipient.id))
    held: dict[tuple[uuid.UUID, date], dict[str, str | None]] = {}
    for day, ids in sorted(by_day.items()):
        for entity_id, numbers in common.holdings_of(db, sorted(ids), day).items():
            held[(entity_id, day)] = numbers
    return held


def _at(index: int, fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except DomainError as error:
        raise _refusal(error, index)  # noqa: B904 - its cause is set


def _numbers(db: Session, items: list[_Item]) -> None:
    """Numbers given are checked (twice in the batch, or taken already: a conflict);
    the others are drawn at random, all checked in one query."""
    given: dict[str, int] = {}
    for item in items:
        if item.data.number:
            if item.data.number in given:
                raise _refusal(Conflict(
                    f"document number {item.data.number} is given to item "
                    f"{given[item.data.number]} too", field="number"), item.index)
            given[item.data.number] = item.index
            item.number = item.data.number
    for number in sorted(repo.document_numbers_taken(db, list(given)),
                         key=given.__getitem__):
        raise _refusal(Conflict(f"document number {number} is already used",
                                field="number"), given[number])
    _draw(db, [i for i in items if not i.data.number], set(given))


def _draw(db: Session, items: list[_Item], used: set[str]) -> None:
    while items:
        for item in items:
            item.number = _random_number(item.data.shipment_date.year, used)
        taken = repo.document_numbers_taken(db, [i.number for i in items])
        items = [i for i in items if i.number in taken]


_SYMBOL_BITS = 5
assert len(ID_ALPHABET) == 1 << _SYMBOL_BITS  # so that every 5 random bits are a symbol


def _random_number(year: int, used: set[str]) -> str:
    """A number drawn as ``documents`` draws one (8 symbols, each uniform over the
    alphabet), from one call for 40 random bits."""
    while True:
        bits = secrets.randbits(8 * _SYMBOL_BITS)
        number = rules.document_number(year, "".join(
            ID_ALPHABET[(bits >> (_SYMBOL_BITS * i)) & 31] for i in range(8)))
        if number and number not in used:
            used.add(number)
            return number


def _accounts(db: Session, items: list[_Item]) -> dict[tuple[uuid.UUID, str, date],
                                                       MaterialAccount]:
    """Each account the batch draws on, locked once, in a fixed order (issuer, material,
    period), so that concurrent batches queue instead of deadlocking."""
    keys: dict[tuple[uuid.UUID, str, date], _Item] = {}
    for item in items:
        keys.setdefault((item.issuer.id, item.material.value, item.period.start), item)
    rows = {}
    for key in sorted(keys, key=lambda k: (str(k[0]), k[1], k[2])):
        first = keys[key]
        rows[key] = _at(first.index, partial(common.account, db, first.issuer,
                                             first.material, first.period,
                                             field="shipment_date"))
    return rows


def _key(item: _Item) -> tuple[uuid.UUID, str, date]:
    return item.issuer.id, item.material.value, item.period.start


def issue_documents(db: Session, actor: Actor | None, items: list[DocumentCreate], *,
                    today: date | None = None) -> list[DocumentRead]:
    """Issue every item as ``documents.issue_document`` would, in order (a later item may
    draw what an earlier one left), or none: see the module's docstring."""
    actor = common.member(actor, "issue CoC documents")
    if not items:
        raise InvalidInput("the batch has no documents", field="items")
    if len(items) > MAX_BATCH:
        raise InvalidInput(f"a batch issues at most {MAX_BATCH:,} documents, not "
                           f"{len(items):,}; split it", field="items")
    parties = _Parties(db, actor, items, today)
    checked: list[_Item] = [_at(i, _checked, parties, i, data) for i, data in enumerate(items)]
    held = _certified(db, checked)
    for item in checked:
        day = item.data.shipment_date
        item.performance, item.coc = _at(item.index, partial(
            common.require_certified, db, item.issuer, day, what="pass CoC material on",
            field="shipment_date", held=held[(item.issuer.id, day)]))
        item.theirs = held[(item.recipient.id, day)]
    _numbers(db, checked)
    accounts = _accounts(db, checked)
    balances = {key: common.balance(row) for key, row in accounts.items()}
    pools = {key: common.pool(row) for key, row in accounts.items()}
    now = utcnow()
    docs: list[CocDocument] = []
    for item in checked:
        key, data = _key(item), item.data
        try:
            balances[key] = rules.issue(balances[key], data.quantity_kg,
                                        data.coc_quantity_kg)
        except LedgerError as error:
            refusal = common.ledger_refusal(error, "coc_quantity_kg")
            assert isinstance(refusal, DomainError)
            raise _refusal(refusal, item.index)  # noqa: B904 - its cause is set
        taken, pools[key] = rules.take(pools[key], data.coc_quantity_kg)
        docs.append(_document(actor, item, taken, now))
    for key, row in accounts.items():
        common.store(row, balances[key], pools[key])
    _insert(db, actor, checked, docs, accounts)
    reads = documents.to_reads(db, docs)
    _log_and_credentials(db, actor, checked, docs, reads)
    return reads


def _document(actor: Actor, item: _Item, taken: rules.Pool, now: Any) -> CocDocument:
    data, issuer, recipient = item.data, item.issuer, item.recipient
    theirs = item.theirs or {}
    # The document's columns as plain attributes (what the read model, digest and
    # credential read, and the row written), without an ORM object's bookkeeping.
    doc = cast(CocDocument, SimpleNamespace(
        id=uuid.uuid4(), number=item.number, issuer_organization_id=issuer.organization_id,
        issuer_entity_id=issuer.id, recipient_organization_id=recipient.organization_id,
        recipient_entity_id=recipient.id, issuer_performance_certificate=item.performance,
        issuer_coc_certificate=item.coc,
        recipient_performance_certificate=theirs.get("performance"),
        recipient_coc_certificate=theirs.get("chain_of_custody"), material=item.material.value,
        description=data.description, quantity_kg=data.quantity_kg,
        coc_quantity_kg=data.coc_quantity_kg, shipment_date=data.shipment_date,
        period_start=item.period.start, period_end=item.period.end,
        recycled_percent=data.recycled_percent, recycled_method=data.recycled_method,
        composition=rules.pool_to_data(taken), status="issued", issued_at=now,
        issued_by=actor.ref, decided_at=None, decided_by=None, received_on=None,
        receipt_period_start=None, reason=""))
    footprints.stamp(doc, taken)
    doc.origin_levels, doc.origin_levels_of = stored.stamp(doc.composition)
    return doc


def _insert(db: Session, actor: Actor, items: list[_Item], docs: list[CocDocument],
            accounts: dict[tuple[uuid.UUID, str, date], MaterialAccount]) -> None:
    """Documents, journal rows and legs, one statement each. A drawn number that another
    request took since it was checked is drawn again (under a savepoint); a number given
    that another request took meanwhile is the item's conflict."""
    while True:
        try:
            with db.begin_nested():
                repo.insert_documents(db, [{k: getattr(d, k) for k in
                                            documents.DOCUMENT_KEYS} for d in docs])
            break
        except IntegrityError:
            taken = repo.document_numbers_taken(db, [d.number for d in docs])
            for item in items:
                if item.data.number and item.number in taken:
                    used = Conflict(f"document number {item.number} is already used",
                                    field="number")
                    raise _refusal(used, item.index)  # noqa: B904 - its cause is set
            clashed = [item for item in items if item.number in taken]
            if not clashed:
                raise
            _draw(db, clashed, {d.number for d in docs})
            for item, doc in zip(items, docs, strict=True):
                doc.number = item.number
    operations, legs = [], []
    for item, doc in zip(items, docs, strict=True):
        operation, pair = documents.issue_rows(actor, item.issuer, doc,
                                               accounts[_key(item)].id)
        operations.append(operation)
        legs += pair
    repo.insert_operations(db, operations)
    repo.insert_movements(db, legs)


def _log_and_credentials(db: Session, actor: Actor, items: list[_Item],
                         docs: list[CocDocument], reads: list[DocumentRead]) -> None:
    """Each document's ``custody.document.issued`` entry, then its credential's; all
    written together, with one checkpoint."""
    issuer = issuance.current_issuer()
    planned = []
    for item, doc, read in zip(items, docs, reads, strict=True):
        record = ("custody.document.issued", f"coc_document:{doc.number}",
                  {"digest": read.digest, "issuer": item.issuer.id,
                   "recipient": item.recipient.id, "material": doc.material,
                   "coc_quantity_kg": doc.coc_quantity_kg,
                   "shipment_date": doc.shipment_date})
        planned.append(document_credentials.planned(db, doc, read, issuer, (record,)))
    issuance.issue_many(db, actor, issuer, planned)
