"""The record checks of the conservation audit: every CoC document against the journal
rows and movement legs its issue, receipt, rejection or cancellation wrote and against the
digest the event log recorded when it was issued; every journal row against the legs it
calls for and against what the event log recorded of it; every account's counters against
the journal. Someone with write access to the database who changes one of these tables
leaves the others, and the hash-chained event log, disagreeing with it.

Each table is read once, in bulk: the legs are streamed in operation order beside the
journal (a merge, never a query per row), documents and the event log are reduced to the
few values the checks compare."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.orm import Session

from stewardship.core import eventlog
from stewardship.custody import repository as repo
from stewardship.custody import rules
from stewardship.custody.rules import Period
from stewardship.custody.service import documents, footprints

# Ids are compared as 32 lower-case hex digits throughout (how the repository streams
# them): building a UUID object per value would cost more than every check here.
Hex = str

# The event log kinds the custody services append, by the journal kind they vouch for.
_INPUT_KINDS = {"production": "custody.production.recorded",
                "scrap_intake": "custody.scrap_intake.recorded",
                "non_coc_input": "custody.non_coc_input.recorded",
                "transformation": "custody.transformation.recorded"}
_DOCUMENT_KINDS = {"issue", "receipt", "rejection", "cancellation"}
# Counters of an account, in this order, as the journal gives them.
COUNTERS = ("carried_in", "produced", "received", "transformed_in", "transformed_out",
            "issued", "non_coc_in", "carried_out", "expired")
(_CARRIED_IN, _PRODUCED, _RECEIVED, _T_IN, _T_OUT, _ISSUED, _NON_COC, _CARRIED_OUT,
 _EXPIRED) = range(len(COUNTERS))

AccountKey = tuple[Hex, str, date]
"""(entity, material, period start): how the journal names an account."""


def hex_id(value: object) -> Hex:
    """Any spelling of an id (a UUID, with or without dashes) as the audit compares it."""
    if isinstance(value, uuid.UUID):
        return value.hex
    return str(value).replace("-", "").lower()


def uuid_of(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


@dataclass(frozen=True)
class Break:
    """One place where the records disagree: the table holding the record found wrong
    (or missing), the record, its entity and period, and what disagrees."""

    table: str
    record: str
    entity_id: uuid.UUID | None
    period: Period | None
    problem: str
    entry: int | None = None
    """The sequence of the event-log entry the record contradicts (the one that recorded
    it, or the operation it belongs to); None when no entry records it."""


@dataclass
class _Doc:
    number: str
    issuer: Hex
    recipient: Hex
    issuer_org: Hex
    recipient_org: Hex
    material: str
    coc: int
    period: Period
    shipment_date: date
    status: str
    received_on: date | None
    receipt_period_start: date | None
    digest: str
    footprint_drift: str | None = None
    """How its footprint columns disagree with its digest-covered composition."""
    ops: list[tuple[str, Hex, Hex, Hex, int, date, date]] = field(default_factory=list)
    """(kind, operation, entity, organisation, kg, occurred on, period start)."""


@dataclass
class _Log:
    """What the verified event log recorded of custody, reduced to what is compared."""

    operations: dict[Hex, tuple[str, str, dict[str, Any]]] = field(default_factory=dict)
    """operation -> (kind, actor, payload) of an input or transformation."""
    issued: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    decided: dict[str, tuple[str, str, dict[str, Any]]] = field(default_factory=dict)
    """number -> (received / rejected / cancelled, actor, payload)."""
    closes: dict[tuple[Hex, str], tuple[str, dict[str, Any]]] = field(default_factory=dict)
    """(entity, period start) -> (actor, payload) of a period close."""
    digests: dict[str, set[str]] = field(default_factory=dict)
    """number -> every digest the log recorded for the document."""
    sequences: dict[object, int] = field(default_factory=dict)
    """The entry behind each of the above: an operation's id, ``("issued", number)``,
    ``("decided", number)``, ``("close", entity, period start)``."""

    def visit(self, entry: Any) -> None:
        kind = entry.kind
        if not kind.startswith("custody."):
            return
        subject, payload = entry.subject, entry.payload
        _, _, key = subject.partition(":")
        if subject.startswith("custody_operation:"):
            self.operations[hex_id(key)] = (kind, entry.actor, payload)
            self.sequences[hex_id(key)] = entry.sequence
        elif subject.startswith("coc_document:"):
            if "digest" in payload:
                self.digests.setdefault(key, set()).add(str(payload["digest"]))
            if kind == "custody.document.issued":
                self.issued[key] = (entry.actor, payload)
                self.sequences[("issued", key)] = entry.sequence
            elif kind in ("custody.document.received", "custody.document.rejected",
                          "custody.document.cancelled"):
                self.decided[key] = (kind.rsplit(".", 1)[1], entry.actor, payload)
                self.sequences[("decided", key)] = entry.sequence
        elif kind == "custody.period.closed" and subject.startswith("entity:"):
            period = payload.get("period") or [""]
            self.closes[(hex_id(key), str(period[0]))] = (entry.actor, payload)
            self.sequences[("close", hex_id(key), str(period[0]))] = entry.sequence

    def document_entry(self, number: str) -> int | None:
        """The entry that recorded the document's latest step (its issue, or the
        receipt, rejection or cancellation after it)."""
        return self.sequences.get(("decided", number), self.sequences.get(("issued", number)))

    def operation_entry(self, op: Any, docs: dict[Hex, _Doc]) -> int | None:
        """The entry that recorded the journal row ``op`` (for a document's operation,
        the document's issue or decision; for a period close, the close)."""
        if op.kind == "period_close":
            return self.sequences.get(("close", op.entity_id, op.period_start.isoformat()))
        if op.kind in _DOCUMENT_KINDS:
            doc = docs.get(op.document_id)
            if doc is None:
                return None
            return self.sequences.get(("issued" if op.kind == "issue" else "decided",
                                       doc.number))
        return self.sequences.get(op.id)


@dataclass
class Findings:
    """What the record checks found and what the account checks need from the journal."""

    breaks: list[Break] = field(default_factory=list)
    counters: dict[AccountKey, list[int]] = field(default_factory=dict)
    """Each account's counters as its journal rows give them (``COUNTERS`` order)."""
    transformations: list[Any] = field(default_factory=list)
    """The journal rows of transformations, for the yield checks."""
    chain_ok: bool = True
    account_entries: dict[AccountKey, int] = field(default_factory=dict)
    """The last entry that moved each account (what an account's break contradicts)."""


@dataclass(frozen=True)
class Accounts:
    """The accounts as the record checks need them."""

    by_key: dict[AccountKey, tuple[Hex, date]]
    """(entity, material, period start) -> (account, period end)."""
    by_id: dict[Hex, AccountKey]


def _kg(value: int) -> str:
    return f"{value:+d} kg"


def _leg_text(target: tuple[str, Any], kg: int, accounts: Accounts) -> str:
    kind, ref = target
    if kind == "system":
        return f"{ref} {_kg(kg)}"
    if kind == "missing":
        return f"{ref[1]} account of {ref[2].isoformat()} (none) {_kg(kg)}"
    key = accounts.by_id.get(ref)
    if key is None:
        return f"account {ref} {_kg(kg)}"
    return f"{key[1]} account of {key[2].isoformat()} {_kg(kg)}"


LogReader = _Log
"""What a caller that walks the log itself feeds (``visit``) and passes to ``check``."""


def check(db: Session, accounts: Accounts, progress: Callable[[str, int, int], None],
          walked: tuple[eventlog.ChainReport, _Log] | None = None) -> Findings:
    """Run every record check; the account checks then compare counters with
    ``Findings.counters``. ``walked``: the chain's report and the log as a caller read it
    in its own walk of the chain (else the chain is walked here)."""
    found = Findings()
    if walked is None:
        log = _Log()
        report = eventlog.verify_chain(db, visit=log.visit)
    else:
        report, log = walked
    if not report.ok:
        found.chain_ok = False
        found.breaks.append(Break(
            "event_log", f"entry {report.first_bad_sequence}", None, None,
            f"the event log does not verify ({report.reason}), so nothing it records after "
            "that entry vouches for a custody record", report.first_bad_sequence))
    progress("event log", report.entries, report.entries)
    docs = _documents(db)
    progress("documents", len(docs), len(docs))
    _journal(db, accounts, docs, log, found, progress)
    for doc in docs.values():
        _check_document(doc, log, found)
    if found.chain_ok:
        _unknown_in_log(docs, log, found)
    return found


# --- documents --------------------------------------------------------------------------


def _documents(db: Session) -> dict[Hex, _Doc]:
    docs: dict[Hex, _Doc] = {}
    for row in repo.documents_in_bulk(db):
        docs[row.id.hex] = _Doc(
            number=row.number, issuer=row.issuer_entity_id.hex,
            recipient=row.recipient_entity_id.hex, issuer_org=row.issuer_organization_id.hex,
            recipient_org=row.recipient_organization_id.hex, material=row.material,
            coc=row.coc_quantity_kg, period=Period(row.period_start, row.period_end),
            shipment_date=row.shipment_date, status=row.status, received_on=row.received_on,
            receipt_period_start=row.receipt_period_start, digest=documents.digest(row),
            footprint_drift=footprints.drift(row))
    return docs


def _check_document(doc: _Doc, log: _Log, found: Findings) -> None:
    def fail(problem: str, table: str = "coc_documents", step: str = "") -> None:
        entry = (log.sequences.get(("issued" if step == "issue" else "decided", doc.number))
                 if step else None) or log.document_entry(doc.number)
        found.breaks.append(Break(table, doc.number, uuid_of(doc.issuer), doc.period, problem,
                                  entry))

    found.breaks += _digest_breaks(doc, log, found.chain_ok)
    if doc.footprint_drift:
        fail(f"its footprint does not match its composition: {doc.footprint_drift}")
    decided = log.decided.get(doc.number)
    if doc.status == "issued" and decided is not None:
        fail(f"the row says issued but the event log recorded it {decided[0]}")
    elif doc.status != "issued" and found.chain_ok and (decided is None
                                                        or decided[0] != doc.status):
        fail(f"the row says {doc.status} but the event log recorded "
             f"{decided[0] if decided else 'no decision'}")
    elif doc.status == "received" and decided is not None and str(
            decided[2].get("received_on")) != (doc.received_on.isoformat()
                                               if doc.received_on else None):
        fail(f"received on {doc.received_on} by the row but on "
             f"{decided[2].get('received_on')} by the event log")
    # The journal: exactly the operations its status calls for, each moving its CoC kg.
    wanted: dict[str, tuple[Hex, Hex, date | None, date | None]] = {
        "issue": (doc.issuer, doc.issuer_org, doc.period.start, doc.shipment_date)}
    if doc.status == "received":
        wanted["receipt"] = (doc.recipient, doc.recipient_org, doc.receipt_period_start,
                             doc.received_on)
    elif doc.status in ("rejected", "cancelled"):
        wanted["rejection" if doc.status == "rejected" else "cancellation"] = (
            doc.issuer, doc.issuer_org, None, None)
    seen: dict[str, int] = {}
    for kind, op_id, entity, org, kg, occurred, start in doc.ops:
        seen[kind] = seen.get(kind, 0) + 1
        if kind not in wanted:
            fail(f"journal operation {uuid_of(op_id)} ({kind}) names this {doc.status} "
                 "document", "custody_operations", kind)
            continue
        w_entity, w_org, w_start, w_day = wanted[kind]
        wrong = []
        if kg != doc.coc:
            wrong.append(f"moves {kg} kg, not the document's CoC quantity {doc.coc} kg")
        if entity != w_entity or org != w_org:
            wrong.append("belongs to another entity than the document names")
        if w_start is not None and start != w_start:
            wrong.append(f"is in the period from {start.isoformat()}, not "
                         f"{w_start.isoformat()}")
        if w_day is not None and occurred != w_day:
            wrong.append(f"happened on {occurred.isoformat()}, not {w_day.isoformat()}")
        if wrong:
            fail(f"its {kind} operation {uuid_of(op_id)} " + "; ".join(wrong), step=kind)
    for kind in wanted:
        if seen.get(kind, 0) != 1:
            fail(f"{seen.get(kind, 0)} {kind} operations in the journal, not 1",
                 "custody_operations", kind)


def _digest_breaks(doc: _Doc, log: _Log, chain_ok: bool) -> list[Break]:
    """The stored row's digest against the one the event log recorded at issue (and any
    later entry's): the row was changed since when they differ."""
    def fail(problem: str) -> list[Break]:
        return [Break("coc_documents", doc.number, uuid_of(doc.issuer), doc.period, problem,
                      log.sequences.get(("issued", doc.number)))]

    issued = log.issued.get(doc.number)
    if issued is None:
        return fail("no issue of this document is recorded in the event log") if chain_ok else []
    recorded = str(issued[1].get("digest", ""))
    if recorded != doc.digest:
        return fail(f"does not match the record: the stored row's digest {doc.digest[:16]}… "
                    f"is not the digest {recorded[:16]}… the event log recorded at issue")
    if log.digests.get(doc.number, set()) - {doc.digest}:
        return fail("does not match the record: a later entry of the event log recorded "
                    "another digest for it")
    return []


def verify_documents(db: Session, *, progress: Callable[[int], None] | None = None) -> tuple[
        eventlog.ChainReport, int, list[Break]]:
    """The event log's chain, then every CoC document against the digest the log
    recorded for it (``stewardship verify``): the chain report, the documents checked and
    the breaks. Nothing else of the ledger is read."""
    log = _Log()
    report = eventlog.verify_chain(db, progress=progress, visit=log.visit)
    found = Findings(chain_ok=report.ok)
    docs = _documents(db)
    for doc in docs.values():
        found.breaks += _digest_breaks(doc, log, report.ok)
    if report.ok:
        _unknown_in_log(docs, log, found)
    return report, len(docs), found.breaks


def _unknown_in_log(docs: dict[Hex, _Doc], log: _Log, found: Findings) -> None:
    numbers = {d.number for d in docs.values()}
    for number in log.issued:
        if number not in numbers:
            found.breaks.append(Break("coc_documents", number, None, None,
                                      "the event log recorded its issue but there is no "
                                      "such row", log.sequences.get(("issued", number))))


# --- the journal and its legs -----------------------------------------------------------


def _groups(rows: Iterator[Any]) -> Iterator[tuple[Hex, list[Any]]]:
    """Legs grouped by operation, in the order the repository gives them."""
    current: Hex | None = None
    group: list[Any] = []
    for row in rows:
        if row.correlation_id != current:
            if current is not None:
                yield current, group
            current, group = row.correlation_id, []
        group.append(row)
    if current is not None:
        yield current, group


def _journal(db: Session, accounts: Accounts, docs: dict[Hex, _Doc], log: _Log,
             found: Findings, progress: Callable[[str, int, int], None]) -> None:
    facilities = repo.facility_public_ids(db)
    legs = _groups(repo.legs_by_operation(db))
    pending = next(legs, None)
    seen_ops: set[Hex] = set()
    reversals: list[tuple[Any, list[Any]]] = []
    count = 0

    def orphans(group: tuple[Hex, list[Any]]) -> None:
        op_id, rows = group
        entity = next((accounts.by_id[r.account_id][0] for r in rows
                       if r.account_id in accounts.by_id), None)
        found.breaks.append(Break("custody_movements", f"operation {uuid_of(op_id)}",
                                  uuid_of(entity), None,
                                  f"{len(rows)} leg(s) name an operation that is not in the "
                                  "journal", log.sequences.get(op_id)))

    for op in repo.operations_by_id(db):
        while pending is not None and pending[0] < op.id:
            orphans(pending)
            pending = next(legs, None)
        mine: list[Any] = []
        if pending is not None and pending[0] == op.id:
            mine = pending[1]
            pending = next(legs, None)
        seen_ops.add(op.id)
        if op.kind == "reversal":  # checked below, beside the entry it names
            reversals.append((op, mine))
        else:
            _check_operation(op, mine, accounts, docs, log, facilities, found)
        count += 1
        if count % 50_000 == 0:
            progress("journal", count, count)
    while pending is not None:
        orphans(pending)
        pending = next(legs, None)
    originals = repo.operations_named(db, sorted({op.reverses_id for op, _ in reversals
                                                  if op.reverses_id is not None}))
    reversed_once: set[Hex] = set()
    for op, mine in reversals:
        _check_operation(op, mine, accounts, docs, log, facilities, found, originals)
        _check_reversal(op, originals.get(op.reverses_id), reversed_once, accounts, found,
                        log.sequences.get(op.id))
    progress("journal", count, count)
    for correlation, operation in repo.misfiled_legs(db):
        found.breaks.append(Break("custody_movements", f"operation {correlation}", None, None,
                                  f"a leg names operation {operation} or another "
                                  "organisation than its operation's",
                                  log.sequences.get(hex_id(correlation))))
    if found.chain_ok:
        for op_id in log.operations.keys() - seen_ops:
            kind, _, payload = log.operations[op_id]
            found.breaks.append(Break("custody_operations", f"operation {uuid_of(op_id)}",
                                      uuid_of(payload.get("entity")), None,
                                      f"the event log recorded it ({kind}) but there is no "
                                      "such journal row", log.sequences.get(op_id)))


def _expected(op: Any, accounts: Accounts, docs: dict[Hex, _Doc],
              facilities: dict[Hex, str], counters: dict[AccountKey, list[int]],
              originals: dict[Hex, Any] | None = None) -> list[tuple[Any, int]]:
    """The legs a journal row calls for, as (account key or system account, kg), adding
    what it does to each account's counters into `counters`. A reversal calls for the
    legs and counters of the entry it names (`originals`), the other way."""
    if op.kind == "reversal":
        original = (originals or {}).get(op.reverses_id)
        if original is None or rules.reversal_refusal(original.kind) is not None:
            return []
        undone: dict[AccountKey, list[int]] = {}
        calls_for = _expected(original, accounts, docs, facilities, undone)
        for key, values in undone.items():
            sums = counters.setdefault(key, [0] * len(COUNTERS))
            for at, value in enumerate(values):
                sums[at] -= value
        return [(target, -kg) for target, kg in calls_for]
    e, start = op.entity_id, op.period_start
    here: AccountKey = (e, op.material, start)
    kg = op.kilograms
    size = len(COUNTERS)

    def add(key: AccountKey, at: int, value: int) -> None:
        row = counters.get(key)
        if row is None:
            row = counters[key] = [0] * size
        row[at] += value

    kind = op.kind
    if kind in ("production", "scrap_intake"):
        add(here, _PRODUCED, kg)
        return [(("system", f"origin:{facilities.get(op.facility_id, op.facility_id)}"), -kg),
                (here, kg)]
    if kind == "non_coc_input":
        add(here, _NON_COC, kg)
        return []
    if kind == "transformation":
        source: AccountKey = (e, op.source_material or "", start)
        process = ("system", f"process:{facilities.get(op.facility_id, op.facility_id)}")
        used = op.input_kg or 0
        add(source, _T_OUT, used)
        add(here, _T_IN, kg)
        return [(source, -used), (process, used), (process, -kg), (here, kg)]
    if kind in _DOCUMENT_KINDS:
        doc = docs.get(op.document_id)
        transit = ("system", f"transit:{doc.number if doc else op.document_id}")
        if kind == "issue":
            add(here, _ISSUED, kg)
            return [(here, -kg), (transit, kg)]
        if kind == "receipt":
            add(here, _RECEIVED, kg)
        elif doc is not None and start == doc.period.start:
            add(here, _ISSUED, -kg)  # back into the open period it left
        else:
            add(here, _RECEIVED, kg)  # that period had closed: into a later one
        return [(transit, -kg), (here, kg)]
    if kind == "period_close":
        lost = op.input_kg or 0
        legs: list[tuple[Any, int]] = []
        if kg:
            closed = accounts.by_key.get(here)
            nxt: AccountKey = (e, op.material, (closed[1] if closed else start)
                               + timedelta(days=1))
            legs += [(here, -kg), (nxt, kg)]
            add(nxt, _CARRIED_IN, kg)
        if lost:
            legs += [(here, -lost), (("system", f"expired:{uuid_of(e)}"), lost)]
        add(here, _CARRIED_OUT, kg)
        add(here, _EXPIRED, lost)
        return legs
    return []


def _failing(op: Any, accounts: Accounts, found: Findings,
             entry: int | None = None) -> Callable[[str, str], None]:
    """How a break of journal row `op` is recorded: its table, the row, entity, period
    and the entry that recorded it."""
    def fail(table: str, problem: str) -> None:
        end = accounts.by_key.get((op.entity_id, op.material, op.period_start))
        found.breaks.append(Break(table, f"operation {uuid_of(op.id)} ({op.kind})",
                                  uuid_of(op.entity_id),
                                  Period(op.period_start, end[1] if end else op.period_start),
                                  problem, entry))
    return fail


# What a reversal copies from the entry it reverses.
_REVERSAL_COPIES = ("organization_id", "entity_id", "material", "source_material",
                    "transformation", "facility_id", "input_kg", "kilograms",
                    "declared_yield", "scrap_kind", "occurred_on", "period_start")


def _check_reversal(op: Any, original: Any, reversed_once: set[Hex], accounts: Accounts,
                    found: Findings, entry: int | None = None) -> None:
    """A reversal names an entry of the journal that may be reversed, reversed by it
    alone, and carries that entry's figures."""
    fail = _failing(op, accounts, found, entry)
    if original is None:
        fail("custody_operations", f"reverses entry {uuid_of(op.reverses_id)}, which is not "
             "in the journal")
        return
    refusal = rules.reversal_refusal(original.kind)
    if refusal is not None:
        fail("custody_operations", f"reverses a {original.kind} entry ({refusal})")
    if original.id in reversed_once:
        fail("custody_operations", f"entry {uuid_of(original.id)} is reversed more than once")
    reversed_once.add(original.id)
    differ = [f"{name} {getattr(op, name)} (the entry has {getattr(original, name)})"
              for name in _REVERSAL_COPIES if getattr(op, name) != getattr(original, name)]
    if differ:
        fail("custody_operations", "differs from the entry it reverses: " + "; ".join(differ))


def _check_operation(op: Any, rows: list[Any], accounts: Accounts,
                     docs: dict[Hex, _Doc], log: _Log, facilities: dict[Hex, str],
                     found: Findings, originals: dict[Hex, Any] | None = None) -> None:
    entry = log.operation_entry(op, docs)
    fail = _failing(op, accounts, found, entry)
    expected = _expected(op, accounts, docs, facilities, found.counters, originals)
    if entry is not None:
        for target, _ in expected:
            if target[0] != "system":
                found.account_entries[target] = max(entry, found.account_entries.get(
                    target, 0))
    kind = op.kind
    if kind == "transformation":
        found.transformations.append(op)
    elif kind in _DOCUMENT_KINDS:
        doc = docs.get(op.document_id)
        if doc is None:
            fail("custody_operations", f"names CoC document {uuid_of(op.document_id)}, which "
                 "is not in coc_documents")
        else:
            doc.ops.append((kind, op.id, op.entity_id, op.organization_id, op.kilograms,
                            op.occurred_on, op.period_start))
    # The legs it wrote against the legs its row calls for (zero legs are never written).
    by_key = accounts.by_key
    want = sorted((t if t[0] == "system" else ("account", by_key[t][0]) if t in by_key
                   else ("missing", t), k) for t, k in expected if k)
    have = sorted((("account", r.account_id) if r.account_id is not None
                   else ("system", r.system_account), r.kilograms) for r in rows)
    if want != have:
        if not rows:
            fail("custody_operations", f"has no movement legs, though it moves "
                 f"{op.kilograms} kg")
        else:
            fail("custody_movements", "its legs are "
                 + ", ".join(_leg_text(t, k, accounts) for t, k in have)
                 + " but its journal row calls for "
                 + (", ".join(_leg_text(t, k, accounts) for t, k in want) or "none"))
    total = sum(r.kilograms for r in rows)
    if total:
        fail("custody_movements", f"its legs sum to {total} kg, not 0")
    if found.chain_ok:
        _against_log(op, log, docs, facilities, fail)


def _against_log(op: Any, log: _Log, docs: dict[Hex, _Doc], facilities: dict[Hex, str],
                 fail: Callable[[str, str], None]) -> None:
    """The journal row against what the event log recorded when it was written."""
    table = "custody_operations"
    if op.kind in _INPUT_KINDS:
        entry = log.operations.get(op.id)
        if entry is None or entry[0] != _INPUT_KINDS[op.kind]:
            fail(table, "not recorded in the event log as written")
            return
        _, actor, p = entry
        wanted: dict[str, object] = {"on": op.occurred_on.isoformat()}
        if op.kind == "transformation":
            wanted |= {"facility": facilities.get(op.facility_id),
                       "transformation": op.transformation, "input_kg": op.input_kg,
                       "output_kg": op.kilograms}
            if "total_input_kg" in p or op.total_input_kg is not None:
                wanted |= {"total_input_kg": op.total_input_kg,
                           "total_output_kg": op.total_output_kg}
        else:
            wanted |= {"material": op.material, "kilograms": op.kilograms}
            if op.kind != "non_coc_input":
                wanted["facility"] = facilities.get(op.facility_id)
        if "capacity_override" in p or op.capacity_override is not None:
            wanted["capacity_override"] = op.capacity_override
        differ = [f"{name} {value} (the event log recorded {p.get(name)})"
                  for name, value in wanted.items() if p.get(name) != value]
        if hex_id(p.get("entity")) != op.entity_id:
            differ.append(f"entity {uuid_of(op.entity_id)} (the event log recorded "
                          f"{p.get('entity')})")
        if op.kind == "transformation" and not _same_decimal(p.get("declared_yield"),
                                                             op.declared_yield):
            differ.append(f"declared yield {op.declared_yield} (the event log recorded "
                          f"{p.get('declared_yield')})")
        if actor != op.actor:
            differ.append(f"actor {op.actor} (the event log recorded {actor})")
        if differ:
            fail(table, "changed after the event log recorded it: " + "; ".join(differ))
    elif op.kind == "reversal":
        written = log.operations.get(op.id)
        if written is None or written[0] != "custody.reversal.recorded":
            fail(table, "not recorded in the event log as written")
            return
        _, actor, p = written
        differ = []
        if hex_id(p.get("reverses")) != op.reverses_id:
            differ.append(f"reverses {uuid_of(op.reverses_id)} (the event log recorded "
                          f"{p.get('reverses')})")
        if hex_id(p.get("entity")) != op.entity_id:
            differ.append(f"entity {uuid_of(op.entity_id)} (the event log recorded "
                          f"{p.get('entity')})")
        if p.get("kilograms") != op.kilograms:
            differ.append(f"{op.kilograms} kg (the event log recorded {p.get('kilograms')})")
        if p.get("reason") != op.note:
            differ.append(f"reason {op.note!r} (the event log recorded {p.get('reason')!r})")
        if actor != op.actor:
            differ.append(f"actor {op.actor} (the event log recorded {actor})")
        if differ:
            fail(table, "changed after the event log recorded it: " + "; ".join(differ))
    elif op.kind == "period_close":
        entry = log.closes.get((op.entity_id, op.period_start.isoformat()))
        if entry is None:
            fail(table, "no close of this period is recorded in the event log")
            return
        actor, p = entry
        carried = (p.get("carried") or {}).get(op.material)
        expired = (p.get("expired") or {}).get(op.material)
        differ = []
        if carried != op.kilograms:
            differ.append(f"carried {op.kilograms} kg (the event log recorded {carried})")
        if expired != (op.input_kg or 0):
            differ.append(f"expired {op.input_kg} kg (the event log recorded {expired})")
        if actor != op.actor:
            differ.append(f"actor {op.actor} (the event log recorded {actor})")
        if differ:
            fail(table, "changed after the event log recorded it: " + "; ".join(differ))
    elif op.kind in _DOCUMENT_KINDS:
        # The document vouches for the quantities and parties (its digest is in the log);
        # here the row's actor and, for an issue, the figures the log itself holds.
        doc = docs.get(op.document_id)
        if doc is None:
            return
        if op.kind == "issue":
            entry = log.issued.get(doc.number)
            if entry is None:
                return
            actor, p = entry
            differ = []
            if p.get("coc_quantity_kg") != op.kilograms:
                differ.append(f"{op.kilograms} kg (the event log recorded "
                              f"{p.get('coc_quantity_kg')} kg)")
            if hex_id(p.get("issuer")) != op.entity_id:
                differ.append("the issuer")
        else:
            decided = log.decided.get(doc.number)
            if decided is None:
                return
            _, actor, p = decided
            differ = []
            if op.kind == "receipt" and p.get("received_on") != op.occurred_on.isoformat():
                differ.append(f"received on {op.occurred_on.isoformat()} (the event log "
                              f"recorded {p.get('received_on')})")
        if actor != op.actor:
            differ.append(f"actor {op.actor} (the event log recorded {actor})")
        if differ:
            fail(table, f"changed after the event log recorded document {doc.number}: "
                 + "; ".join(differ))


def _same_decimal(recorded: object, stored: Decimal | None) -> bool:
    if recorded is None or stored is None:
        return recorded is None and stored is None
    try:
        return Decimal(str(recorded)) == Decimal(stored)
    except InvalidOperation:
        return False
