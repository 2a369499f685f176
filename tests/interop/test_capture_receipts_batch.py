"""Receiving events captured together (``custody.service.receipts``, through the capture's
receiving group) do what the same events do one at a time through ``profile.apply_event``
and the request's ``documents.receive_document``: the same refusals with the same
messages, statuses and fields, the same effects, the same stored documents, journal
rows, legs and accounts, and the same ``custody.*`` event-log entries in the same order.
A refused receipt drops out alone under ``proceed``; ``rollback`` keeps nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from stewardship.assurance.models import Certificate, CertificateEvent
from stewardship.core.auth import Actor
from stewardship.core.errors import DomainError
from stewardship.core.eventlog import EventLogEntry
from stewardship.custody.models import CocDocument, CustodyOperation, MaterialAccount, Movement
from stewardship.custody.service import audit
from stewardship.interop import profile
from stewardship.interop.epcis.capture import (
    PROCEED,
    ROLLBACK,
    CaptureRejected,
    _pointer,
    capture_document,
)
from stewardship.interop.models import EpcisEvent
from tests import custody_world as cw
from tests.interop import test_capture_ledger_chunks as chunks
from tests.interop.test_epcis_corrections import DAY, _doc
from tests.interop.test_profile import _receiving
from tests.today import TODAY

BASE = "/epcisBody/eventList"


def _world(db: Session) -> tuple[cw.Chain, dict[str, str]]:
    """Documents to the mill from the smelter, one the mill issued itself, one shipped
    while the smelter's CoC certificate stood suspended."""
    w = cw.build(db)
    early = DAY - timedelta(days=6)
    cw.produce(db, w.smelter, "asi_aluminium", 60_000, on=early)
    docs = {name: cw.ship(db, w.smelter, w.mill, "asi_aluminium", kg, on=DAY)
            for name, kg in (("a", 1_000), ("b", 2_000), ("c", 3_000), ("d", 4_000),
                             ("e", 5_000))}
    docs["lapsed"] = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 700,
                             on=DAY - timedelta(days=4))
    cw.receive(db, w.mill, docs.pop("e"), on=DAY)
    docs["own"] = cw.ship(db, w.mill, w.canmaker, "asi_aluminium", 500, on=DAY)
    # The smelter's CoC certificate was suspended from DAY-5 to DAY-3 (recorded later).
    cert = db.scalar(select(Certificate).where(
        Certificate.number == w.smelter.certificates["chain_of_custody"]))
    assert cert is not None
    for days, old, new in ((5, "active", "suspended"), (3, "suspended", "active")):
        db.add(CertificateEvent(certificate_id=cert.id, from_status=old, to_status=new,
                                reason="test", actor="system:test",
                                at=datetime.combine(DAY - timedelta(days=days), time(9),
                                                    UTC)))
    db.flush()
    return w, docs


def _events(w: cw.Chain, docs: dict[str, str]) -> list[dict[str, Any]]:
    def at(n: int, event: dict[str, Any]) -> dict[str, Any]:
        lots = {} if "quantityList" in event else {"epcList": []}
        return {**event, **lots, "eventID": f"urn:uuid:00000000-0000-4000-9000-{n:012d}"}

    wrong_kg = [{"epcClass": "urn:stewardship:material:asi_aluminium", "quantity": 1,
                 "uom": "KGM"}]
    future = TODAY + timedelta(days=3)
    return [at(n, e) for n, e in enumerate([
        _receiving(w.mill, docs["a"]),                            # received
        _receiving(w.mill, docs["a"]),                            # already, by the first
        _receiving(w.mill, docs["b"], quantityList=wrong_kg),     # not the document's kg
        _receiving(w.mill, "LB-NO-SUCH-DOC"),                     # no such document
        {k: v for k, v in _receiving(w.mill, docs["own"]).items()  # the mill issued it
         if k != "destinationList"},
        _receiving(w.mill, docs["b"]),                            # received
        _receiving(w.mill, docs["c"], DAY - timedelta(days=1)),   # before the shipment
        _receiving(w.mill, docs["lapsed"]),                       # certificate suspended
        {**_receiving(w.mill, docs["d"]), "destinationList": [{   # another recipient
            "type": "owning_party", "destination": f"urn:stewardship:org:{w.trader.slug}"}]},
        _receiving(w.mill, docs["c"]),                            # received
        _receiving(w.mill, docs["d"], future),                    # not happened yet
        _receiving(w.mill, docs["d"]),                            # received
    ])]


def _unclocked(message: str) -> str:
    """A refusal's words without the present instant it names (the clock ticks)."""
    return re.sub(r"the present instant \([^)]*\)", "the present instant (now)", message)


def _one_by_one(db: Session, actor: Actor, events: list[dict[str, Any]],
                context: Any = None) -> tuple[list[tuple[int, str]], list[dict[str, Any]]]:
    """Each event through ``profile.apply_event`` under its own savepoint: the effects
    and the refusals (as the capture reports them)."""
    effects, errors = [], []
    for i, event in enumerate(events):
        savepoint = db.begin_nested()
        try:
            note = profile.apply_event(db, actor, {"@context": context or _doc()["@context"],
                                                   **event})
            db.flush()
        except DomainError as exc:
            savepoint.rollback()
            field = exc.details[0].get("field") if exc.details else None
            errors.append({"eventIndex": i, "detail": _unclocked(exc.message),
                           "status": 400 if exc.status_code in (400, 422) else
                           exc.status_code, "path": _pointer(BASE, i, field)})
            continue
        savepoint.commit()
        assert note is not None
        effects.append((i, note))
    return effects, errors


def _stored(db: Session, head: int) -> dict[str, Any]:
    """What the ledger holds, without surrogate keys and clock readings."""
    db.flush()
    numbers = {i: n for i, n in db.execute(select(CocDocument.id, CocDocument.number))}
    skip = {"id", "recorded_at", "decided_at", "created_at", "updated_at"}

    def plain(row: Any, *more: str) -> dict[str, Any]:
        return {c.key: getattr(row, c.key) for c in row.__table__.columns
                if c.key not in skip and c.key not in more}

    ops = {o.id: o for o in db.scalars(select(CustodyOperation))}
    accounts = {a.id: a for a in db.scalars(select(MaterialAccount))}

    def op_key(o: CustodyOperation) -> tuple[str, str, str]:
        return (o.kind, numbers.get(o.document_id, ""), o.note)

    return {
        "documents": sorted((plain(d) for d in db.scalars(select(CocDocument))),
                            key=lambda d: d["number"]),
        "operations": sorted((plain(o, "document_id") | {"doc": numbers.get(o.document_id)}
                              for o in ops.values()), key=repr),
        "legs": sorted((plain(m, "correlation_id", "operation_id", "account_id")
                        | {"op": op_key(ops[m.operation_id]),
                           "account": (accounts[m.account_id].material,
                                       accounts[m.account_id].entity_id)
                           if m.account_id else None}
                        for m in db.scalars(select(Movement))), key=repr),
        "accounts": sorted((plain(a, "version") for a in accounts.values()), key=repr),
        "log": [(e.actor, e.kind, _subject(e.subject, ops, op_key), e.payload)
                for e in db.scalars(
            select(EventLogEntry).where(EventLogEntry.sequence > head,
                                        EventLogEntry.kind.startswith("custody."))
            .order_by(EventLogEntry.sequence))],
    }


def _subject(subject: str, ops: dict[Any, CustodyOperation], key: Any) -> object:
    """An entry's subject, a journal row named by what it is rather than its random id."""
    kind, _, ident = subject.partition(":")
    if kind != "custody_operation":
        return subject
    return kind, key(next(o for o in ops.values() if str(o.id) == ident))


def _head(db: Session) -> int:
    found = db.scalar(select(EventLogEntry.sequence).order_by(
        EventLogEntry.sequence.desc()).limit(1))
    return int(found or 0)


def test_receiving_events_captured_together_equal_one_by_one(db: Session) -> None:
    w, docs = _world(db)
    events = _events(w, docs)
    head = _head(db)

    outer = db.begin_nested()
    effects, errors = _one_by_one(db, w.mill.user, events)
    expected = _stored(db, head)
    outer.rollback()

    result = capture_document(db, w.mill.user, _doc(*events), PROCEED)
    assert [(e["eventIndex"], e["effect"]) for e in result.effects] == effects
    assert [{k: e[k] for k in ("eventIndex", "status", "path")} | {
        "detail": _unclocked(e["detail"].split(": ", 1)[1])} for e in result.errors] == errors
    assert [i for i, _ in effects] == [0, 5, 9, 11]
    assert [e["eventIndex"] for e in errors] == [1, 2, 3, 4, 6, 7, 8, 10]
    details = {e["eventIndex"]: e["detail"] for e in errors}
    assert "already received" in details[1] and "no CoC document" in details[3]
    assert "only the recipient" in details[4] and "before the shipment" in details[6]
    assert "not valid on the shipment date" in details[7]
    assert _stored(db, head) == expected
    stored = set(db.scalars(select(EpcisEvent.event_id)))
    assert {e["eventID"] for e in events} & stored == {events[i]["eventID"]
                                                       for i in (0, 5, 9, 11)}
    assert audit.audit(db, w.secretariat).ok


def test_a_rollback_capture_of_receipts_keeps_nothing(db: Session) -> None:
    w, docs = _world(db)
    events = _events(w, docs)
    head = _head(db)
    before = _stored(db, head)
    with pytest.raises(CaptureRejected) as refused:
        capture_document(db, w.mill.user, _doc(*events), ROLLBACK)
    [error] = refused.value.errors
    assert error["eventIndex"] == 1 and "already received" in error["detail"]
    assert _stored(db, head) == before
    good = [events[i] for i in (0, 5, 9, 11)]
    result = capture_document(db, w.mill.user, _doc(*good), ROLLBACK)
    assert (result.captured, len(result.effects)) == (4, 4)
    assert len(_stored(db, head)["log"]) == 4
    assert audit.audit(db, w.secretariat).ok


def test_production_and_transformations_of_a_chunk_equal_one_by_one(db: Session) -> None:
    """What the chunk reads once (settings, certificates on the day, the entity, the
    footprint's names and emissions) gives the effects, refusals and rows of each event
    run on its own."""
    w = cw.build(db)
    events = chunks._mixed(w)
    document = chunks._document(events)
    head = _head(db)
    outer = db.begin_nested()
    effects, errors = _one_by_one(db, w.mine.user, events, document["@context"])
    expected = _stored(db, head)
    outer.rollback()
    result = capture_document(db, w.mine.user, document, PROCEED)
    assert [(e["eventIndex"], e["effect"]) for e in result.effects] == effects
    assert [{k: e[k] for k in ("eventIndex", "status", "path")} | {
        "detail": _unclocked(e["detail"].split(": ", 1)[1])} for e in result.errors] == errors
    assert [i for i, _ in effects] == [0, 3, 4, 6]
    assert _stored(db, head) == expected
