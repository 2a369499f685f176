"""EPCIS capture of events that move the custody ledger (``stewardship bench``'s
``capture_ledger`` phase), beside the raw insert of the rows those operations wrote.

For pairs of a member and its customer (the member holding the balance to ship from,
the customer turning what it receives into its own output), in rounds of `per_round`
documents each way:

1. the member captures a document of shipping events (each issues a CoC document of
   `coc` kg to the customer on the last day of the year);
2. the customer captures one document mixing receiving events (each receives one of those
   documents) and transformation events (each turns the kilograms received into its
   output at its facility, at a typical yield), and, where the member is an origin,
   the member captures a document of commissioning events (production at its facility).

Documents are captured as a ``proceed`` job's chunk is (``capture_document`` under
``proceed``, one transaction each). Reported: the rate over all of them, the rate of the
documents without shipping (which a batch issue changes), and the raw insert of the same
rows (events, terms, operations, legs, documents, event log, the accounts' new state)
with Core executemany in one transaction, rolled back."""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

from sqlalchemy import Engine, Table, bindparam, func, insert, select, update

from benchmarks.measure import (
    LAST_DAY,
    Progress,
    Result,
    Samples,
    _event_head,
    _issuers,
    _rows,
    peak_rss_mb,
    request,
    rolled_back,
)
from benchmarks.world import YIELDS, Member, World
from stewardship.core.db import make_sessionmaker
from stewardship.core.eventlog import EventLogEntry
from stewardship.custody import rules as custody_rules
from stewardship.custody.models import CocDocument, CustodyOperation, MaterialAccount, Movement
from stewardship.interop import rules as epcis_rules
from stewardship.interop.epcis.capture import PROCEED, capture_document
from stewardship.interop.models import EpcisEvent, EpcisEventTerm
from stewardship.interop.profile import CONTEXT

CONTEXT_LIST = [epcis_rules.STANDARD_CONTEXT, CONTEXT]
TIME = f"{LAST_DAY.isoformat()}T10:00:00.000Z"


def _id(kind: str, n: int) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'bench-ledger-{kind}-{n}')}"


def _q(material: Any, kg: int) -> dict[str, Any]:
    return {"epcClass": f"urn:stewardship:material:{material.value}", "quantity": kg,
            "uom": "KGM"}


def _place(m: Member) -> dict[str, str]:
    return {"id": f"urn:stewardship:facility:{m.public_id}"}


def _document(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {"@context": CONTEXT_LIST, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": TIME, "epcisBody": {"eventList": events}}


def shipping(issuer: Member, recipient: Member, number: str, coc: int,
             n: int) -> dict[str, Any]:
    return {"type": "ObjectEvent", "eventID": _id("ship", n), "eventTime": TIME,
            "eventTimeZoneOffset": "+00:00", "action": "OBSERVE", "bizStep": "shipping",
            "disposition": "in_transit", "readPoint": _place(issuer),
            "quantityList": [_q(issuer.kind.output, coc)],
            "bizTransactionList": [{"type": "cert",
                                    "bizTransaction": f"urn:stewardship:coc:{number}"}],
            "sourceList": [{"type": "owning_party",
                            "source": f"urn:stewardship:org:{issuer.slug}"}],
            "destinationList": [{"type": "owning_party",
                                 "destination": f"urn:stewardship:entity:"
                                                f"{recipient.entity_id}"}],
            "stw:cocQuantity": {"quantity": coc, "uom": "KGM"}}


def receiving(recipient: Member, number: str, material: Any, kg: int,
              n: int) -> dict[str, Any]:
    return {"type": "ObjectEvent", "eventID": _id("receive", n), "eventTime": TIME,
            "eventTimeZoneOffset": "+00:00", "action": "OBSERVE", "bizStep": "receiving",
            "disposition": "in_progress", "bizLocation": _place(recipient),
            "quantityList": [_q(material, kg)],
            "bizTransactionList": [{"type": "cert",
                                    "bizTransaction": f"urn:stewardship:coc:{number}"}]}


def transformation(m: Member, step: Any, source: Any, kg: int, n: int) -> dict[str, Any]:
    output = custody_rules.yield_output(kg, YIELDS[step][0])
    return {"type": "TransformationEvent", "eventID": _id("transform", n), "eventTime": TIME,
            "eventTimeZoneOffset": "+00:00", "bizStep": "commissioning",
            "bizLocation": _place(m), "inputQuantityList": [_q(source, kg)],
            "outputQuantityList": [_q(m.kind.output, output)],
            "stw:transformation": step.value}


def commissioning(m: Member, kg: int, n: int) -> dict[str, Any]:
    return {"type": "ObjectEvent", "eventID": _id("commission", n), "eventTime": TIME,
            "eventTimeZoneOffset": "+00:00", "action": "ADD", "bizStep": "commissioning",
            "bizLocation": _place(m), "quantityList": [_q(m.kind.output, kg)]}


def _customer(recipient: Member, numbers: list[str], material: Any, step: Any, coc: int,
              start: int, receipts_first: bool) -> list[dict[str, Any]]:
    """The customer's document: each receipt and the transformation of what it brought,
    or (``receipts_first``) every receipt, then every transformation."""
    got = [receiving(recipient, number, material, coc, start + i)
           for i, number in enumerate(numbers)]
    made = [transformation(recipient, step, material, coc, start + i)
            for i in range(len(numbers))]
    if receipts_first:
        return got + made
    return [e for pair in zip(got, made, strict=True) for e in pair]


def _step(recipient: Member, material: Any) -> Any:
    return next((step for step, source in recipient.kind.steps if source is material), None)


def measure_ledger_capture(engine: Engine, world: World, n: int, progress: Progress, *,
                           per_round: int = 50, coc: int = 100,
                           receipts_first: bool = False) -> Result:
    """About `n` ledger events (a quarter each shipping, receiving, transformation and
    commissioning where the member is an origin) captured as described above.
    ``receipts_first``: the customer's document lists its receiving events first, then
    its transformations (instead of each receipt followed by its transformation); its
    events have ids of their own, so both orders may run on one world."""
    factory = make_sessionmaker(engine)
    pairs = [(m, r) for m, r in _issuers(world, max(1, n // 4), coc)
             if _step(r, m.kind.output) is not None]
    if not pairs:
        return {"status": "no member ships to a customer that transforms its output"}
    head = _event_head(engine)
    with engine.connect() as conn:
        first_pk = int(conn.scalar(select(func.coalesce(func.max(EpcisEvent.id), 0))) or 0)
    with_ship, without = Samples(), Samples()
    counts = {"shipping": 0, "receiving": 0, "transformation": 0, "commissioning": 0}
    refused: list[Any] = []
    numbers: list[str] = []
    notes: list[str] = []
    done = 0
    progress("capturing ledger events", 0, n)
    for start in range(0, max(1, n // 4), per_round):
        issuer, recipient = pairs[(start // per_round) % len(pairs)]
        k = min(per_round, n // 4 - start)
        batch = [f"LB-{start + i:06d}-{uuid.uuid4().hex[:8].upper()}" for i in range(k)]
        numbers += batch
        step = _step(recipient, issuer.kind.output)
        first = start + (1_000_000 if receipts_first else 0)  # the events' ids
        plans = [
            (with_ship, issuer, [shipping(issuer, recipient, number, coc, first + i)
                                 for i, number in enumerate(batch)]),
            (without, recipient, _customer(recipient, batch, issuer.kind.output, step, coc,
                                           first, receipts_first)),
        ]
        if not issuer.kind.steps:  # an origin: it produces what it ships
            plans.append((without, issuer, [commissioning(issuer, coc, first + i)
                                            for i in range(k)]))
        for samples, who, events in plans:
            with samples.timed(), request(factory) as db:
                result = capture_document(db, who.actor(), _document(events), PROCEED)
            refused += result.errors
            for event in events:
                kind = ("shipping" if event["bizStep"] == "shipping" else
                        "receiving" if event["bizStep"] == "receiving" else
                        "transformation" if event["type"] == "TransformationEvent"
                        else "commissioning")
                counts[kind] += 1
                notes.append(f"EPCIS event {event['eventID']}")
            done += len(events)
        progress("capturing ledger events", done, n)
    total = sum(with_ship.wall) + sum(without.wall)
    cpu = sum(with_ship.cpu) + sum(without.cpu)
    plain = sum(counts.values()) - counts["shipping"]
    raw = _raw_ledger(engine, first_pk, numbers, notes, head)
    events = sum(counts.values())
    return {"events": events, "by_kind": counts, "refused": len(refused),
            "refusals": [e.get("detail") for e in refused[:5]],
            "seconds": round(total, 3), "cpu_seconds": round(cpu, 3),
            "per_s": round(events / total, 1), "per_cpu_s": round(events / cpu, 1),
            "without_shipping": {
                "events": plain, "seconds": round(sum(without.wall), 3),
                "per_s": round(plain / sum(without.wall), 1),
                "per_cpu_s": round(plain / sum(without.cpu), 1)},
            "shipping": {"events": counts["shipping"],
                         "per_s": round(counts["shipping"] / sum(with_ship.wall), 1),
                         "per_cpu_s": round(counts["shipping"] / sum(with_ship.cpu), 1)},
            "raw": raw,
            "service_share_of_raw": round(events / total / raw["per_s"], 4)
            if raw.get("per_s") else None,
            "service_share_of_raw_cpu": round(events / cpu / raw["per_cpu_s"], 4)
            if raw.get("per_cpu_s") else None,
            "peak_rss_mb": peak_rss_mb()}


def _raw_ledger(engine: Engine, first_pk: int, numbers: list[str], notes: list[str],
                head: int) -> Result:
    """The rows the captures wrote, copied under fresh keys, Core executemany in one
    transaction (rolled back)."""
    ev_t, term_t = EpcisEvent.__table__, EpcisEventTerm.__table__
    docs_t, ops_t = CocDocument.__table__, CustodyOperation.__table__
    legs_t, log_t, acc_t = Movement.__table__, EventLogEntry.__table__, MaterialAccount.__table__
    with engine.connect() as conn:
        events = _rows(conn, ev_t, ev_t.c.id > first_pk)
        terms = _rows(conn, term_t, term_t.c.event_pk > first_pk)
        docs = [d for part in _parts(numbers)
                for d in _rows(conn, docs_t, docs_t.c.number.in_(part))]
        doc_ids = [d["id"] for d in docs]
        ops = {o["id"]: o for part in _parts(notes)
               for o in _rows(conn, ops_t, ops_t.c.note.in_(part))}
        ops.update({o["id"]: o for part in _parts(doc_ids)
                    for o in _rows(conn, ops_t, ops_t.c.document_id.in_(part))})
        legs = [leg for part in _parts(list(ops))
                for leg in _rows(conn, legs_t, legs_t.c.operation_id.in_(part))]
        log = _rows(conn, log_t, log_t.c.sequence > head)
        accounts = {a["id"]: a for part in _parts(list({leg["account_id"] for leg in legs
                                                        if leg["account_id"]}))
                    for a in _rows(conn, acc_t, acc_t.c.id.in_(part))}
        top = int(conn.scalar(select(func.max(ev_t.c.id))) or 0)
        top_term = int(conn.scalar(select(func.max(term_t.c.id))) or 0)
        top_log = int(conn.scalar(select(func.max(log_t.c.sequence))) or 0)
    if not events:
        return {"rows": 0}
    new_pk = {e["id"]: top + i + 1 for i, e in enumerate(events)}
    new_doc = {d: uuid.uuid4() for d in doc_ids}
    new_op = {o: uuid.uuid4() for o in ops}
    tables: list[tuple[Table, list[dict[str, Any]]]] = [
        (ev_t, [{**e, "id": new_pk[e["id"]], "event_id": f"raw:{e['event_id']}"}
                for e in events]),
        (term_t, [{**t, "id": top_term + i + 1, "event_pk": new_pk[t["event_pk"]]}
                  for i, t in enumerate(terms)]),
        (docs_t, [{**d, "id": new_doc[d["id"]], "number": f"RAW-{i:08d}"}
                  for i, d in enumerate(docs)]),
        (ops_t, [{**o, "id": new_op[o["id"]],
                  "document_id": new_doc.get(o["document_id"], o["document_id"])}
                 for o in ops.values()]),
        (legs_t, [{k: v for k, v in leg.items() if k != "id"}
                  | {"correlation_id": new_op[leg["operation_id"]],
                     "operation_id": new_op[leg["operation_id"]]} for leg in legs]),
        (log_t, [{**e, "sequence": top_log + i + 1,
                  "hash": hashlib.sha256(f"raw{i}{e['hash']}".encode()).hexdigest()}
                 for i, e in enumerate(log)]),
    ]
    account_rows = [{"_id": leg["account_id"],
                     **{c: accounts[leg["account_id"]][c]
                        for c in ("balance_kg", "pool", "version")}}
                    for leg in legs if leg["account_id"]]
    statement = (update(acc_t).where(acc_t.c.id == bindparam("_id"))
                 .values(balance_kg=bindparam("balance_kg"), pool=bindparam("pool"),
                         version=bindparam("version")))
    rows = sum(len(r) for _, r in tables) + len(account_rows)
    with rolled_back(engine) as conn:
        start, cpu = time.perf_counter(), time.process_time()
        for table, table_rows in tables:
            if table_rows:
                conn.execute(insert(table), table_rows)
        if account_rows:
            conn.execute(statement, account_rows)
        seconds = time.perf_counter() - start
        cpu = max(time.process_time() - cpu, 1e-6)
    return {"events": len(events), "rows": rows, "seconds": round(seconds, 4),
            "cpu_seconds": round(cpu, 4), "per_s": round(len(events) / seconds, 1),
            "per_cpu_s": round(len(events) / cpu, 1), "rows_per_s": round(rows / seconds)}


def _parts(values: list[Any], size: int = 500) -> list[list[Any]]:
    return [values[i:i + size] for i in range(0, len(values), size)]
