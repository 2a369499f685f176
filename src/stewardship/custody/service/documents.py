"""CoC documents: issue to a customer, receive or reject as the named recipient (at most
once), cancel before receipt, read as a party, verify as anyone holding the number. Each
document's verifiable credential follows it (``document_credentials``): issued with it,
revoked when it is cancelled or rejected, in the same transaction."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from typing import cast

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stewardship.core import canonical, issuance
from stewardship.core.auth import Actor, Role, require
from stewardship.core.db import utcnow
from stewardship.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from stewardship.core.eventlog import canonical_json, vouched_entry
from stewardship.core.pagination import PageParams
from stewardship.custody import repository as repo
from stewardship.custody import rules
from stewardship.custody.models import CocDocument
from stewardship.custody.origins import stored
from stewardship.custody.repository import DocumentFilter
from stewardship.custody.rules import CocMaterial, LedgerError, Period
from stewardship.custody.schemas import (
    CertificateAtShipment,
    DocumentCreate,
    DocumentPage,
    DocumentRead,
    DocumentVerification,
    Receipt,
    Refusal,
)
from stewardship.custody.service import common, document_credentials, footprints
from stewardship.custody.service.common import Leg
from stewardship.registry import repository as registry_repo
from stewardship.registry.models import Entity
from stewardship.registry.rules import ID_ALPHABET

DOCUMENT_FORMAT = "stewardship-coc-document/1"
_CENT = Decimal("0.01")


def verify_path(number: str) -> str:
    return f"/verify/coc/{number}"


def _new_number(year: int) -> str:
    """A random document number; the unique constraint catches the rare clash."""
    while True:
        number = rules.document_number(
            year, "".join(secrets.choice(ID_ALPHABET) for _ in range(8)))
        if number:
            return number


DOCUMENT_KEYS = [a.key for a in sa_inspect(CocDocument).column_attrs]
"""Every column of a document, as the row written for one."""


def _add(db: Session, doc: CocDocument, given: bool) -> None:
    """Insert the document (every column, as Core writes it) under a savepoint: a number
    given that another document carries is a conflict; a drawn one that clashes (one in
    10^12) is drawn again."""
    while True:
        try:
            with db.begin_nested():
                repo.insert_documents(db, [{k: getattr(doc, k) for k in DOCUMENT_KEYS}])
            return
        except IntegrityError:
            if not repo.document_number_taken(db, doc.number):
                raise
            if given:
                raise Conflict(f"document number {doc.number} is already used",
                               field="number") from None
            doc.number = _new_number(doc.shipment_date.year)


def period_named(settings_months: int, shipment: date, given: date | None) -> Period:
    period = rules.period_for(shipment, settings_months)
    if given is None or given == period.start:
        return period
    named = rules.period_for(given, settings_months)
    if named.start != given:
        raise InvalidInput(f"{given.isoformat()} is not the start of one of your "
                           f"{settings_months}-month accounting periods "
                           f"(they start on {named.start.isoformat()}, ...)",
                           field="period_start")
    try:
        rules.check_shipment_in_period(shipment, named)
    except ValueError as error:
        raise InvalidInput(str(error), field="shipment_date") from error
    raise AssertionError("unreachable")  # pragma: no cover


def _parties(db: Session, entity_id: uuid.UUID, issuer: Entity
             ) -> tuple[Entity, dict[uuid.UUID, tuple[str, str, str]]]:
    """The recipient, checked, and both parties' names for the read model, in one query."""
    found = repo.parties(db, [entity_id, issuer.id])
    party = found.get(entity_id)
    entity = common.check_recipient(None if party is None else party[:2], issuer)
    return entity, {i: names for i, (_, _, names) in found.items()}


def issue_document(db: Session, actor: Actor | None, data: DocumentCreate, *,
                   today: date | None = None) -> DocumentRead:
    """Pass CoC material to a customer: refused without valid Performance and CoC
    certificates on the shipment date, or beyond the available balance."""
    actor = common.member(actor, "issue CoC documents")
    issuer = common.own_entity(db, actor, data.issuer_entity_id, field="issuer_entity_id")
    recipient, names = _parties(db, data.recipient_entity_id, issuer)
    common.check_day(data.shipment_date, common.today_of(db, issuer, today), "shipment_date")
    if data.coc_quantity_kg > data.quantity_kg:
        raise InvalidInput(f"CoC quantity {data.coc_quantity_kg} kg exceeds the shipped "
                           f"quantity {data.quantity_kg} kg", field="coc_quantity_kg")
    settings = common.settings_of(db, issuer)
    period = period_named(settings.period_months, data.shipment_date, data.period_start)
    held = common.holdings_of(db, [issuer.id, recipient.id], data.shipment_date)
    performance, coc = common.require_certified(
        db, issuer, data.shipment_date, what="pass CoC material on", field="shipment_date",
        held=held[issuer.id])
    theirs = held[recipient.id]
    material = CocMaterial(data.material)
    row = common.account(db, issuer, material, period, field="shipment_date")
    try:
        new = rules.issue(common.balance(row), data.quantity_kg, data.coc_quantity_kg)
    except LedgerError as error:
        raise common.ledger_refusal(error, "coc_quantity_kg") from error
    taken, remaining = rules.take(common.pool(row), data.coc_quantity_kg)
    # The document's columns as plain attributes (what the read model, the digest and
    # the credential read, and the row written), without an ORM object's bookkeeping.
    doc = cast(CocDocument, SimpleNamespace(
        id=uuid.uuid4(), number=data.number or _new_number(data.shipment_date.year),
        issuer_organization_id=issuer.organization_id,
        issuer_entity_id=issuer.id, recipient_organization_id=recipient.organization_id,
        recipient_entity_id=recipient.id, issuer_performance_certificate=performance,
        issuer_coc_certificate=coc,
        recipient_performance_certificate=theirs["performance"],
        recipient_coc_certificate=theirs["chain_of_custody"], material=material.value,
        description=data.description, quantity_kg=data.quantity_kg,
        coc_quantity_kg=data.coc_quantity_kg, shipment_date=data.shipment_date,
        period_start=period.start, period_end=period.end,
        recycled_percent=data.recycled_percent, recycled_method=data.recycled_method,
        composition=rules.pool_to_data(taken), status="issued", issued_by=actor.ref,
        issued_at=utcnow(), decided_at=None, decided_by=None, received_on=None,
        receipt_period_start=None, reason=""))
    footprints.stamp(doc, taken)
    doc.origin_levels, doc.origin_levels_of = stored.stamp(doc.composition)
    _add(db, doc, given=bool(data.number))  # before the account changes: its savepoint
    common.store(row, new, remaining)
    number = doc.number
    operation, legs = issue_rows(actor, issuer, doc, row.id)
    repo.insert_operations(db, [operation])
    repo.insert_movements(db, legs)
    read = to_reads(db, [doc], names=names)[0]
    # The document's entry and its credential's, written together (as a batch writes them)
    record = ("custody.document.issued", f"coc_document:{number}",
              {"digest": read.digest, "issuer": issuer.id, "recipient": recipient.id,
               "material": material.value, "coc_quantity_kg": data.coc_quantity_kg,
               "shipment_date": data.shipment_date})
    signer = issuance.current_issuer()
    issuance.issue_many(db, actor, signer, [
        document_credentials.planned(db, doc, read, signer, (record,))])
    return read


def issue_rows(actor: Actor, issuer: Entity, doc: CocDocument, account_id: uuid.UUID
               ) -> tuple[dict[str, object], list[dict[str, object]]]:
    """The journal row of a document's issue and its two legs (the issuer's account
    debited, the document's transit account credited), as ``common.journal`` writes
    them, recorded at the document's issue."""
    op_id, org, now = uuid.uuid4(), issuer.organization_id, doc.issued_at
    operation: dict[str, object] = {
        "id": op_id, "organization_id": org, "entity_id": issuer.id, "kind": "issue",
        "material": doc.material, "source_material": None, "transformation": None,
        "facility_id": None, "input_kg": None, "kilograms": doc.coc_quantity_kg,
        "declared_yield": None, "scrap_kind": None, "occurred_on": doc.shipment_date,
        "period_start": doc.period_start, "document_id": doc.id, "note": "",
        "actor": actor.ref, "reverses_id": None, "composition": None,
        "total_input_kg": None, "total_output_kg": None, "capacity_override": None,
        "recorded_at": now}
    shared = {"correlation_id": op_id, "operation_id": op_id, "organization_id": org,
              "recorded_at": now}
    return operation, [
        {**shared, "account_id": account_id, "system_account": None,
         "kilograms": -doc.coc_quantity_kg},
        {**shared, "account_id": None, "system_account": f"transit:{doc.number}",
         "kilograms": doc.coc_quantity_kg}]


def _load_for_party(db: Session, actor: Actor, number: str, side: str) -> CocDocument:
    doc = repo.document_by_number(db, number.strip().upper(), lock=True)
    if doc is None or not (common.may_read(actor, doc.issuer_organization_id)
                           or common.may_read(actor, doc.recipient_organization_id)):
        raise NotFound(f"no CoC document '{number}'", field="number")
    own = doc.recipient_organization_id if side == "recipient" else doc.issuer_organization_id
    if actor.organization_id != own:
        raise Forbidden(f"only the {side} named on document {doc.number} may do this",
                        field="number")
    return doc


def _still_issued(doc: CocDocument) -> None:
    if doc.status != "issued":
        when = f" on {doc.received_on.isoformat()}" if doc.received_on else ""
        raise Conflict(f"document {doc.number} was already {doc.status}{when}",
                       field="number")


def receive_document(db: Session, actor: Actor | None, number: str, data: Receipt, *,
                     today: date | None = None) -> DocumentRead:
    """Confirm receipt: the CoC quantity and its origins arrive in the recipient's account
    of the period containing the receipt date. At most once, by the named recipient."""
    actor = common.member(actor, "confirm CoC documents")
    doc = _load_for_party(db, actor, number, "recipient")
    _still_issued(doc)
    recipient = registry_repo.entity_by_id(db, doc.recipient_entity_id)
    assert recipient is not None
    recipient_today = common.today_of(db, recipient, today)
    day = data.received_on or recipient_today
    common.check_day(day, recipient_today, "received_on")
    if day < doc.shipment_date:
        raise InvalidInput(f"received on {day.isoformat()}, before the shipment date "
                           f"{doc.shipment_date.isoformat()}", field="received_on")
    for number_, _, _, valid, _, _ in certificates_then(db, doc):
        if not valid:
            raise Conflict(f"certificate {number_} of the issuer was not valid on the "
                           f"shipment date; the material cannot be taken in as CoC material",
                           field="number")
    settings = common.settings_of(db, recipient)
    period = common.period_of(settings, day)
    row = common.account(db, recipient, CocMaterial(doc.material), period,
                         field="received_on")
    new = rules.receive(common.balance(row), doc.coc_quantity_kg)
    common.store(row, new, rules.add(common.pool(row), footprints.arriving(db, doc)))
    doc.status, doc.received_on, doc.receipt_period_start = "received", day, period.start
    doc.decided_at, doc.decided_by = utcnow(), actor.ref
    common.journal(db, actor, recipient, "receipt", material=doc.material,
                   kilograms=doc.coc_quantity_kg, occurred_on=day, period=period,
                   document_id=doc.id,
                   legs=[Leg(None, f"transit:{doc.number}", -doc.coc_quantity_kg),
                         Leg(row, None, doc.coc_quantity_kg)])
    common.log(db, actor, "document.received", f"coc_document:{doc.number}",
               {"digest": digest(doc), "received_on": day})
    return to_read(db, doc)


def reject_document(db: Session, actor: Actor | None, number: str, data: Refusal, *,
                    today: date | None = None) -> DocumentRead:
    """The recipient refuses the document: its CoC quantity returns to the issuer."""
    actor = common.member(actor, "reject CoC documents")
    doc = _load_for_party(db, actor, number, "recipient")
    _still_issued(doc)
    _return_to_issuer(db, actor, doc, common.today_or(today), "rejected", data.reason)
    return to_read(db, doc)


def cancel_document(db: Session, actor: Actor | None, number: str, data: Refusal, *,
                    today: date | None = None) -> DocumentRead:
    """The issuer withdraws a document before receipt: its CoC quantity returns."""
    actor = common.member(actor, "cancel CoC documents")
    doc = _load_for_party(db, actor, number, "issuer")
    _still_issued(doc)
    _return_to_issuer(db, actor, doc, common.today_or(today), "cancelled", data.reason)
    return to_read(db, doc)


def _return_to_issuer(db: Session, actor: Actor, doc: CocDocument, day: date, status: str,
                      reason: str) -> None:
    issuer = registry_repo.entity_by_id(db, doc.issuer_entity_id)
    assert issuer is not None
    material = CocMaterial(doc.material)
    original = repo.account(db, issuer.id, material.value, doc.period_start, lock=True)
    if original is not None and original.status == "open":
        row, period = original, Period(doc.period_start, doc.period_end)
        new = rules.cancel(common.balance(row), doc.coc_quantity_kg)
    else:  # the period is closed: the kilograms come back into today's period
        period = common.period_of(common.settings_of(db, issuer), day)
        row = common.account(db, issuer, material, period, field="number")
        new = rules.receive(common.balance(row), doc.coc_quantity_kg)
    common.store(row, new, rules.add(common.pool(row), rules.pool_from_data(doc.composition)))
    doc.status, doc.reason = status, reason
    doc.decided_at, doc.decided_by = utcnow(), actor.ref
    kind = "rejection" if status == "rejected" else "cancellation"
    common.journal(db, actor, issuer, kind, material=doc.material,
                   kilograms=doc.coc_quantity_kg, occurred_on=day, period=period,
                   document_id=doc.id, note=reason,
                   legs=[Leg(None, f"transit:{doc.number}", -doc.coc_quantity_kg),
                         Leg(row, None, doc.coc_quantity_kg)])
    common.log(db, actor, f"document.{status}", f"coc_document:{doc.number}",
               {"digest": digest(doc), "reason": reason})
    document_credentials.revoke(db, actor, doc.number)


# --- reading ----------------------------------------------------------------------------


def document_data(doc: CocDocument) -> dict[str, object]:
    """The fields a document's digest covers, as canonical JSON data."""
    return {"format": DOCUMENT_FORMAT, "number": doc.number,
            "issuer": {"entity": str(doc.issuer_entity_id),
                       "performance_certificate": doc.issuer_performance_certificate,
                       "coc_certificate": doc.issuer_coc_certificate},
            "recipient": {"entity": str(doc.recipient_entity_id),
                          "performance_certificate": doc.recipient_performance_certificate,
                          "coc_certificate": doc.recipient_coc_certificate},
            "material": doc.material, "description": doc.description,
            "quantity_kg": doc.quantity_kg, "coc_quantity_kg": doc.coc_quantity_kg,
            "shipment_date": doc.shipment_date.isoformat(),
            "period": [doc.period_start.isoformat(), doc.period_end.isoformat()],
            # two places, as stored: the digest at issue equals every later one
            "recycled_percent": (str(Decimal(doc.recycled_percent).quantize(_CENT))
                                 if doc.recycled_percent is not None else None),
            "recycled_method": doc.recycled_method, "composition": doc.composition}


def digest(doc: CocDocument) -> str:
    return hashlib.sha256(canonical_json(document_data(doc)).encode()).hexdigest()


def to_reads(db: Session, docs: list[CocDocument], *,
             names: dict[uuid.UUID, tuple[str, str, str]] | None = None) -> list[DocumentRead]:
    """The documents' read models (``names``: the parties' names when already read)."""
    # Documents issued together often carry the same composition (one pool, equal
    # lots): each distinct one is read once (its text as the key: None, never shared,
    # for data whose text is not canonical orjson's, see core.canonical).
    keys = [canonical.fast_text(d.composition) for d in docs]
    distinct = {k: d.composition for k, d in zip(keys, docs, strict=True) if k is not None}
    facilities = common.pool_facilities(
        *distinct.values(), *(d.composition for k, d in zip(keys, docs, strict=True)
                              if k is None))
    names_ = common.Names(db, [d.issuer_entity_id for d in docs]
                          + [d.recipient_entity_id for d in docs], facilities, known=names)
    shared = {k: common.composition(data, names_) for k, data in distinct.items()}
    return [DocumentRead(
        number=d.number, status=d.status,
        issuer=names_.party(d.issuer_entity_id, d.issuer_performance_certificate,
                            d.issuer_coc_certificate),
        recipient=names_.party(d.recipient_entity_id, d.recipient_performance_certificate,
                               d.recipient_coc_certificate),
        material=CocMaterial(d.material), material_label=CocMaterial(d.material).label,
        description=d.description, quantity_kg=d.quantity_kg,
        coc_quantity_kg=d.coc_quantity_kg, shipment_date=d.shipment_date,
        period_start=d.period_start, period_end=d.period_end,
        recycled_percent=d.recycled_percent, recycled_method=d.recycled_method,
        composition=(shared[k] if k is not None else common.composition(d.composition,
                                                                         names_)),
        issued_at=d.issued_at, decided_at=d.decided_at, received_on=d.received_on,
        reason=d.reason, verify_path=verify_path(d.number), digest=digest(d),
        footprint=footprints.read(d)) for d, k in zip(docs, keys, strict=True)]


def to_read(db: Session, doc: CocDocument) -> DocumentRead:
    return to_reads(db, [doc])[0]


def get_document(db: Session, actor: Actor | None, number: str) -> DocumentRead:
    """The whole document: its two parties and the secretariat."""
    if actor is None:
        require(actor, action="see CoC documents")
    doc = repo.document_by_number(db, number.strip().upper())
    if doc is None or not (common.may_read(actor, doc.issuer_organization_id)
                           or common.may_read(actor, doc.recipient_organization_id)):
        raise NotFound(f"no CoC document '{number}'", field="number")
    return to_read(db, doc)


def certificates_then(db: Session, doc: CocDocument, today: date | None = None) -> list[
        tuple[str, str, str, bool, date, date]]:
    numbers = [doc.issuer_performance_certificate, doc.issuer_coc_certificate]
    return common.certificates.validity_on(db, numbers, doc.shipment_date, today)


def verify_document(db: Session, number: str, *,
                    today: date | None = None) -> DocumentVerification:
    """Public: anyone holding a document number sees who passed what to whom, whether
    the issuer's certificates were valid on the shipment date, and the origins."""
    doc = repo.document_by_number(db, number.strip().upper())
    if doc is None:
        raise NotFound(f"no CoC document '{number}'", field="number")
    read = to_read(db, doc)
    then = certificates_then(db, doc, today)
    since = common.certificates.status_since(db, [row[0] for row in then], today)
    certs = [CertificateAtShipment(number=n, kind=k, status_now=s, valid_on_shipment=v,
                                   valid_from=f, valid_until=u, status_since=since.get(n))
             for n, k, s, v, f, u in then]
    kinds = {c.kind for c in certs if c.valid_on_shipment}
    valid_then = kinds >= {"performance", "chain_of_custody"} and all(
        c.valid_on_shipment for c in certs)
    standing = min((c.status_now for c in certs), key=_GRAVITY.index, default="active")
    # The stored row is only as good as the event log says: recompute, compare.
    entry = vouched_entry(db, "custody.document.issued", f"coc_document:{doc.number}")
    recorded = str(entry.payload.get("digest")) if entry is not None else None
    record = ("unrecorded" if recorded is None
              else "matches" if recorded == read.digest else "does_not_match")
    recorded_kg = entry.payload.get("coc_quantity_kg") if entry is not None else None
    return DocumentVerification(
        number=read.number, status=read.status, issuer=read.issuer, recipient=read.recipient,
        material=read.material, material_label=read.material_label,
        quantity_kg=read.quantity_kg, coc_quantity_kg=read.coc_quantity_kg,
        shipment_date=read.shipment_date, recycled_percent=read.recycled_percent,
        recycled_method=read.recycled_method, certificates=certs,
        composition=read.composition, digest=read.digest, record=record,
        recorded_digest=recorded,
        recorded_coc_quantity_kg=recorded_kg if isinstance(recorded_kg, int) else None,
        valid_on_shipment=valid_then, issuer_standing_today=standing,
        footprint=footprints.read(doc, public=True))


_GRAVITY = ["withdrawn", "suspended", "expired", "superseded", "active"]
"""Certificate statuses today, gravest first: the one a verification headline names."""


def list_documents(db: Session, actor: Actor | None, params: PageParams, *,
                   direction: str | None = None, status: str | None = None,
                   material: CocMaterial | None = None, entity_id: uuid.UUID | None = None,
                   shipped_from: date | None = None, shipped_to: date | None = None,
                   q: str | None = None, organization: str | None = None) -> DocumentPage:
    """Documents the actor's organisation issued or received (the secretariat: all)."""
    actor = require(actor, Role.SECRETARIAT, Role.MEMBER_ADMIN, Role.MEMBER_USER,
                    action="see CoC documents")
    if direction not in (None, "incoming", "outgoing"):
        raise InvalidInput("direction is incoming or outgoing", field="direction")
    if status not in (None, "issued", "received", "rejected", "cancelled"):
        raise InvalidInput("status is issued, received, rejected or cancelled",
                           field="status")
    org_id = common.organization_for(db, actor, organization)
    if entity_id is not None:
        common.readable_entity(db, actor, entity_id)
    page = repo.list_documents(db, DocumentFilter(
        organization_id=org_id, direction=direction if org_id else None,
        entity_id=entity_id, status=status, material=material.value if material else None,
        shipped_from=shipped_from, shipped_to=shipped_to, q=q), params)
    return DocumentPage(items=to_reads(db, page.items), total=page.total, page=page.page,
                        per_page=page.per_page, pages=page.pages)
