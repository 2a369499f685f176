"""The measured phases, each through the real services on the loaded world and, where the
question is "how close to the database's own speed", beside a raw baseline taken in the
same run on the same database.

Every service call runs as a request would: its own session, its own transaction,
committed. Baselines write the same rows with Core ``insert()`` executemany in one
transaction that is then rolled back, so the ledger the later phases see is the one the
services wrote. Times are ``time.perf_counter``; nothing here asserts a time."""

from __future__ import annotations

import hashlib
import math
import resource
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.world import YEAR, Member, World
from stewardship.core.db import make_sessionmaker
from stewardship.core.eventlog import EventLogEntry
from stewardship.custody.models import CocDocument, CustodyOperation, MaterialAccount, Movement
from stewardship.custody.schemas import DocumentCreate, PeriodClose
from stewardship.custody.service import audit, chain, documents, periods, reads

Progress = Callable[[str, int, int], None]
Result = dict[str, Any]

LAST_DAY = date(YEAR, 12, 31)


def peak_rss_mb() -> int:
    """The process's peak resident set so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile of seconds, in milliseconds."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return round(ordered[rank - 1] * 1000, 3)


class Samples:
    """Wall-clock latencies, and beside each the CPU time this process spent on it (on
    SQLite that is the whole of the work: what the call costs on a machine that is not
    shared)."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    @contextmanager
    def timed(self) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        self.wall.append(time.perf_counter() - wall)
        self.cpu.append(time.process_time() - cpu)

    def __len__(self) -> int:
        return len(self.wall)

    def summary(self) -> Result:
        out = latency(self.wall)
        out.update(cpu_p50_ms=percentile(self.cpu, 50), cpu_p99_ms=percentile(self.cpu, 99),
                   cpu_mean_ms=round(sum(self.cpu) / len(self.cpu) * 1000, 3)
                   if self.cpu else None)
        return out


def latency(samples: list[float]) -> Result:
    return {"n": len(samples), "p50_ms": percentile(samples, 50),
            "p99_ms": percentile(samples, 99), "max_ms": percentile(samples, 100),
            "mean_ms": round(sum(samples) / len(samples) * 1000, 3) if samples else None}


@contextmanager
def request(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One request's unit of work: a session, committed at the end."""
    with factory() as db:
        yield db
        db.commit()


@contextmanager
def rolled_back(engine: Engine) -> Iterator[Any]:
    """A connection whose transaction is rolled back: the baselines' writes are timed,
    then undone."""
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            yield conn
        finally:
            trans.rollback()


# --- the conservation audit -------------------------------------------------------------


def measure_audit(engine: Engine, world: World) -> Result:
    factory = make_sessionmaker(engine)
    start, cpu = time.perf_counter(), time.process_time()
    with factory() as db:
        result = audit.audit(db, world.secretariat)
    seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 3), "cpu_seconds": round(time.process_time() - cpu, 3),
            "ok": result.ok, "accounts": result.accounts,
            "movements": result.movements, "documents": result.documents,
            "movements_per_s": round(result.movements / seconds),
            "problems": result.problems[:20], "peak_rss_mb": peak_rss_mb()}


# --- issuing documents ------------------------------------------------------------------


def _issuers(world: World, n: int, coc: int) -> list[tuple[Member, Member]]:
    """(issuer, recipient) pairs, round robin over the members whose year-end balance of
    their output covers their share of `n` documents of `coc` kg."""
    by_index = world.members
    pairs = []
    for m in world.members:
        if not m.customers:
            continue
        acct = m.accounts.get((m.kind.output, m.period(LAST_DAY).start))
        if acct is not None and acct.status == "open" and acct.kg >= coc * 50:
            pairs.append((m, by_index[m.customers[0]]))
    if not pairs:
        return []
    share = max(1, n // len(pairs) + 1)
    pairs = [(m, r) for m, r in pairs
             if m.accounts[(m.kind.output, m.period(LAST_DAY).start)].kg >= coc * share]
    return [pairs[i % len(pairs)] for i in range(n)] if pairs else []


def measure_issue(engine: Engine, world: World, n: int, progress: Progress) -> Result:
    """`n` CoC documents issued through documents.issue_document, one request each
    (issuer checks, certificates on the shipment date, the locked account, the pool's
    share, document, journal, legs, event log, the read model returned), then the same
    rows written raw."""
    coc = 1000
    plan = _issuers(world, n, coc)
    if not plan:
        return {"status": "no member has the balance to issue from"}
    factory = make_sessionmaker(engine)
    today = date.today()
    head = _event_head(engine)
    numbers: list[str] = []
    samples = Samples()
    progress("issuing documents", 0, len(plan))
    start, cpu = time.perf_counter(), time.process_time()
    for i, (issuer, recipient) in enumerate(plan):
        with samples.timed(), request(factory) as db:
            read = documents.issue_document(db, issuer.actor(), DocumentCreate(
                recipient_entity_id=recipient.entity_id, material=issuer.kind.output,
                quantity_kg=coc, coc_quantity_kg=coc, shipment_date=LAST_DAY,
                description="Benchmark lot"), today=today)
        numbers.append(read.number)
        if i % 50 == 0:
            progress("issuing documents", i + 1, len(plan))
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    progress("issuing documents", len(plan), len(plan))
    raw = _raw_issue(engine, numbers, head)
    return {"documents": len(plan), "seconds": round(seconds, 3),
            "cpu_seconds": round(cpu, 3),
            "per_s": round(len(plan) / seconds, 1), "per_cpu_s": round(len(plan) / cpu, 1),
            "latency": samples.summary(), "raw": raw,
            "service_share_of_raw": round((len(plan) / seconds) / raw["per_s"], 4),
            "service_share_of_raw_cpu": round((len(plan) / cpu) / raw["per_cpu_s"], 4),
            "peak_rss_mb": peak_rss_mb()}


def _event_head(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.coalesce(func.max(EventLogEntry.sequence), 0)))
                   or 0)


def _rows(conn: Any, table: Table, where: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(select(table).where(where)).mappings()]


def _raw_issue(engine: Engine, numbers: list[str], head: int) -> Result:
    """The rows the service wrote for those documents (document, operation, two legs,
    event log entry, the account's new state), copied under fresh keys and written with
    Core executemany, one statement per table, in one transaction."""
    docs_t, ops_t = CocDocument.__table__, CustodyOperation.__table__
    legs_t, log_t = Movement.__table__, EventLogEntry.__table__
    acc_t = MaterialAccount.__table__
    with engine.connect() as conn:
        docs = _rows(conn, docs_t, docs_t.c.number.in_(numbers))
        ops = _rows(conn, ops_t, ops_t.c.document_id.in_([d["id"] for d in docs]))
        ops = [o for o in ops if o["kind"] == "issue"]
        legs = _rows(conn, legs_t, legs_t.c.operation_id.in_([o["id"] for o in ops]))
        log = _rows(conn, log_t, log_t.c.sequence > head)
        account_ids = {leg["account_id"] for leg in legs if leg["account_id"]}
        accounts = _rows(conn, acc_t, acc_t.c.id.in_(account_ids))
        top = int(conn.scalar(select(func.max(log_t.c.sequence))) or 0)
    new_doc = {d["id"]: uuid.uuid4() for d in docs}
    new_op = {o["id"]: uuid.uuid4() for o in ops}
    doc_rows = [{**d, "id": new_doc[d["id"]], "number": f"RAW-{i:08d}"}
                for i, d in enumerate(docs)]
    op_rows = [{**o, "id": new_op[o["id"]], "document_id": new_doc[o["document_id"]]}
               for o in ops]
    leg_rows = [{k: v for k, v in leg.items() if k != "id"}
                | {"correlation_id": new_op[leg["operation_id"]],
                   "operation_id": new_op[leg["operation_id"]]} for leg in legs]
    log_rows = [{**e, "sequence": top + i + 1,
                 "hash": hashlib.sha256(f"raw{i}{e['hash']}".encode()).hexdigest()}
                for i, e in enumerate(log)]
    by_id = {a["id"]: a for a in accounts}
    account_rows = [{"_id": leg["account_id"], "balance_kg": by_id[leg["account_id"]]
                     ["balance_kg"], "pool": by_id[leg["account_id"]]["pool"],
                     "version": by_id[leg["account_id"]]["version"]}
                    for leg in legs if leg["account_id"]]
    statement = (update(acc_t).where(acc_t.c.id == bindparam("_id"))
                 .values(balance_kg=bindparam("balance_kg"), pool=bindparam("pool"),
                         version=bindparam("version")))
    rows = len(doc_rows) + len(op_rows) + len(leg_rows) + len(log_rows) + len(account_rows)
    with rolled_back(engine) as conn:
        start, cpu = time.perf_counter(), time.process_time()
        conn.execute(insert(docs_t), doc_rows)
        conn.execute(insert(ops_t), op_rows)
        conn.execute(insert(legs_t), leg_rows)
        if log_rows:
            conn.execute(insert(log_t), log_rows)
        conn.execute(statement, account_rows)
        seconds = time.perf_counter() - start
        cpu = max(time.process_time() - cpu, 1e-6)
    return {"documents": len(doc_rows), "rows": rows, "seconds": round(seconds, 4),
            "cpu_seconds": round(cpu, 4), "per_s": round(len(doc_rows) / seconds, 1),
            "per_cpu_s": round(len(doc_rows) / cpu, 1),
            "rows_per_s": round(rows / seconds)}


# --- reads ------------------------------------------------------------------------------


def measure_reads(engine: Engine, world: World, n: int, progress: Progress) -> Result:
    """Origin composition reads: an account (reads.get_account) and a document
    (documents.get_document), each as its owner would open it, one session each."""
    factory = make_sessionmaker(engine)
    by_index = world.members
    by_entity = world.member_by_entity()
    accounts = world.accounts[:n]
    numbers = world.documents[:n]
    with factory() as db:
        issuers = dict(db.execute(select(CocDocument.number, CocDocument.issuer_entity_id)
                                  .where(CocDocument.number.in_(numbers))).all())
    account_samples = Samples()
    cpu = time.process_time()
    progress("reading accounts", 0, len(accounts))
    for i, (account_id, member) in enumerate(accounts):
        actor = by_index[member].actor()
        with account_samples.timed(), factory() as db:
            reads.get_account(db, actor, account_id)
        if i % 100 == 0:
            progress("reading accounts", i + 1, len(accounts))
    progress("reading accounts", len(accounts), len(accounts))
    document_samples = Samples()
    progress("reading documents", 0, len(numbers))
    parts = 0
    for i, number in enumerate(numbers):
        actor = by_entity[issuers[number]].actor()
        with document_samples.timed(), factory() as db:
            read = documents.get_document(db, actor, number)
        parts += len(read.composition.origins)
        if i % 100 == 0:
            progress("reading documents", i + 1, len(numbers))
    progress("reading documents", len(numbers), len(numbers))
    both = Samples()
    both.wall, both.cpu = (account_samples.wall + document_samples.wall,
                           account_samples.cpu + document_samples.cpu)
    return {"account": account_samples.summary(), "document": document_samples.summary(),
            "cpu_seconds": round(time.process_time() - cpu, 3),
            "origins_per_document": round(parts / max(1, len(numbers)), 1),
            "p99_ms": both.summary()["p99_ms"], "cpu_p99_ms": both.summary()["cpu_p99_ms"],
            "peak_rss_mb": peak_rss_mb()}


# --- the chain behind a document --------------------------------------------------------


def measure_chain(engine: Engine, world: World, n: int, progress: Progress) -> Result:
    """chain.chain at depth 8 from documents the second-to-last tier shipped in the last
    quarter (nine tiers of members behind them), as their recipient would ask."""
    factory = make_sessionmaker(engine)
    by_entity = world.member_by_entity()
    roots = world.chain_roots[:n]
    with factory() as db:
        recipients = dict(db.execute(select(CocDocument.number,
                                            CocDocument.recipient_entity_id)
                                     .where(CocDocument.number.in_(roots))).all())
    samples = Samples()
    depths: dict[int, int] = {}
    documents_seen = 0
    cpu = time.process_time()
    progress("tracing chains", 0, len(roots))
    for i, number in enumerate(roots):
        actor = by_entity[recipients[number]].actor()
        with samples.timed(), factory() as db:
            read = chain.chain(db, actor, number, depth=8)
        reached = len(read.tiers) - 1
        depths[reached] = depths.get(reached, 0) + 1
        documents_seen += sum(len(t.documents) for t in read.tiers)
        if i % 20 == 0:
            progress("tracing chains", i + 1, len(roots))
    progress("tracing chains", len(roots), len(roots))
    return {**samples.summary(), "depth": 8,
            "cpu_seconds": round(time.process_time() - cpu, 3),
            "depth_reached": {str(k): v for k, v in sorted(depths.items())},
            "documents_per_trace": round(documents_seen / max(1, len(roots)), 1),
            "peak_rss_mb": peak_rss_mb()}


# --- closing the year -------------------------------------------------------------------


def measure_close(engine: Engine, world: World, progress: Progress) -> Result:
    """periods.close_period for every entity's last period of the year, one request each:
    balances carried into the next year by the rule, the rest expired."""
    factory = make_sessionmaker(engine)
    today = date.today()
    members = [m for m in world.members
               if any(start == m.period(LAST_DAY).start for _, start in m.accounts)]
    samples = Samples()
    progress("closing the year", 0, len(members))
    start, cpu = time.perf_counter(), time.process_time()
    accounts = 0
    for i, m in enumerate(members):
        period = m.period(LAST_DAY)
        with samples.timed(), request(factory) as db:
            result = periods.close_period(db, m.actor(), PeriodClose(
                entity_id=m.entity_id, period_start=period.start), today=today)
        accounts += len(result.carried)
        if i % 20 == 0:
            progress("closing the year", i + 1, len(members))
    seconds = time.perf_counter() - start
    progress("closing the year", len(members), len(members))
    return {"entities": len(members), "accounts": accounts, "seconds": round(seconds, 3),
            "cpu_seconds": round(time.process_time() - cpu, 3),
            "entities_per_s": round(len(members) / seconds, 1), "latency": samples.summary(),
            "peak_rss_mb": peak_rss_mb()}


# --- EPCIS capture ----------------------------------------------------------------------


@dataclass
class _Capture:
    capture_document: Callable[..., Any]
    events: Table
    terms: Table
    context: str


def _capture_api() -> _Capture | str:
    """The EPCIS repository's capture, when this checkout has it (imported lazily: the
    suite runs without it and says so)."""
    try:
        from stewardship.interop import rules as epcis_rules
        from stewardship.interop.epcis.capture import capture_document
        from stewardship.interop.models import EpcisEvent, EpcisEventTerm
    except ImportError as error:  # pragma: no cover - depends on the checkout
        return f"not available: {error}"
    return _Capture(capture_document, EpcisEvent.__table__, EpcisEventTerm.__table__,
                    epcis_rules.STANDARD_CONTEXT)


def epcis_document(context: str, first: int, count: int, *,
                   event_ids: bool = False) -> dict[str, Any]:
    """An EPCISDocument of `count` ObjectEvents: coils observed leaving a casthouse, two
    to four serialised items each, GS1 identifiers (no platform identifier, so no ledger
    effect: this is the repository's own speed). Without `event_ids` the repository
    gives each event its CBV 2.0 hash id; with them the events carry their own."""
    base = datetime(YEAR, 6, 1, 8, tzinfo=UTC)
    events = []
    for i in range(first, first + count):
        epcs = [f"urn:epc:id:sgtin:0614141.107346.{i * 4 + k}" for k in range(2 + i % 3)]
        events.append({
            "type": "ObjectEvent",
            "eventTime": (base + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "eventTimeZoneOffset": "+00:00", "epcList": epcs, "action": "OBSERVE",
            "bizStep": "shipping", "disposition": "in_transit",
            "readPoint": {"id": f"urn:epc:id:sgln:0614141.00777.{i % 50}"},
            "bizLocation": {"id": "urn:epc:id:sgln:0614141.00888.0"}})
        if event_ids:
            events[-1]["eventID"] = f"urn:uuid:{uuid.UUID(int=i + (7 << 120), version=4)}"
    return {"@context": [context], "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": f"{YEAR}-06-01T08:00:00Z", "epcisBody": {"eventList": events}}


def measure_capture(engine: Engine, world: World, n: int, progress: Progress, *,
                    per_document: int = 1000, event_ids: bool = False) -> Result:
    """`n` events captured through interop's capture_document in documents of
    `per_document` events (one request each: validation, hash ids, duplicate check,
    batched inserts), then the same event and term rows written raw."""
    api = _capture_api()
    if isinstance(api, str):
        return {"status": api}
    factory = make_sessionmaker(engine)
    member = next(m for m in world.members if m.customers)
    actor = member.actor()
    with engine.connect() as conn:
        first_pk = int(conn.scalar(select(func.coalesce(func.max(api.events.c.id), 0))) or 0)
    captured = 0
    samples = Samples()
    progress("capturing EPCIS events", 0, n)
    start, cpu = time.perf_counter(), time.process_time()
    for first in range(0, n, per_document):
        count = min(per_document, n - first)
        document = epcis_document(api.context, first + (10**7 if event_ids else 0), count,
                                  event_ids=event_ids)
        with samples.timed(), request(factory) as db:
            result = api.capture_document(db, actor, document, "rollback")
        captured += result.captured
        progress("capturing EPCIS events", first + count, n)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    raw = _raw_capture(engine, api, first_pk)
    per_s = captured / seconds
    return {"events": captured, "documents": len(samples), "per_document": per_document,
            "event_ids": "given" if event_ids else "hash ids computed by the repository",
            "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
            "per_s": round(per_s, 1), "per_cpu_s": round(captured / cpu, 1),
            "document_latency": samples.summary(), "raw": raw,
            "service_share_of_raw": round(per_s / raw["per_s"], 4) if raw["per_s"] else None,
            "service_share_of_raw_cpu": (round(captured / cpu / raw["per_cpu_s"], 4)
                                         if raw.get("per_cpu_s") else None),
            "peak_rss_mb": peak_rss_mb()}


def _raw_capture(engine: Engine, api: _Capture, first_pk: int) -> Result:
    """The event and term rows the capture wrote, copied under fresh keys and eventIDs,
    written with Core executemany in one transaction (then rolled back)."""
    with engine.connect() as conn:
        events = _rows(conn, api.events, api.events.c.id > first_pk)
        terms = _rows(conn, api.terms, api.terms.c.event_pk > first_pk)
        top = int(conn.scalar(select(func.max(api.events.c.id))) or 0)
        top_term = int(conn.scalar(select(func.max(api.terms.c.id))) or 0)
    if not events:
        return {"rows": 0, "per_s": 0, "per_cpu_s": 0}
    new_pk = {e["id"]: top + i + 1 for i, e in enumerate(events)}
    event_rows = [{**e, "id": new_pk[e["id"]], "event_id": f"raw:{e['event_id']}"}
                  for e in events]
    term_rows = [{**t, "id": top_term + i + 1, "event_pk": new_pk[t["event_pk"]]}
                 for i, t in enumerate(terms)]
    with rolled_back(engine) as conn:
        start, cpu = time.perf_counter(), time.process_time()
        conn.execute(insert(api.events), event_rows)
        if term_rows:
            conn.execute(insert(api.terms), term_rows)
        seconds = time.perf_counter() - start
        cpu = max(time.process_time() - cpu, 1e-6)
    return {"events": len(event_rows), "rows": len(event_rows) + len(term_rows),
            "seconds": round(seconds, 4), "cpu_seconds": round(cpu, 4),
            "per_s": round(len(event_rows) / seconds, 1),
            "per_cpu_s": round(len(event_rows) / cpu, 1),
            "rows_per_s": round((len(event_rows) + len(term_rows)) / seconds)}
