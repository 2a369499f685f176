"""The append-only, hash-chained event log.

Every state change that matters to trust appends one entry in the same transaction as the
change. Each entry's hash covers its own fields and the previous entry's hash, so rewriting
any entry breaks every hash after it; ``verify_chain`` re-walks the chain and names the
first entry that does not match.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import orjson
from sqlalchemy import JSON, BigInteger, Row, String, Table, func, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from stewardship.core import bulkinsert, canonical, merkle
from stewardship.core.auth import Actor
from stewardship.core.db import Base, UTCDateTime, utcnow
from stewardship.core.pagination import Page, PageParams

GENESIS_HASH = "0" * 64
canonical_json = canonical.canonical_json
canonical_bytes = canonical.canonical_bytes
# Key for PostgreSQL's transaction-scoped advisory lock that serialises appends.
_APPEND_LOCK_KEY = 0x5354574C  # "STWL"


class EventLogEntry(Base):
    __tablename__ = "event_log"

    sequence: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    """Position in the chain, from 1, without gaps."""
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(120))
    """``user:<uuid>`` or ``system:<name>``."""
    kind: Mapped[str] = mapped_column(String(120), index=True)
    """What happened, as ``context.thing.verb``."""
    subject: Mapped[str] = mapped_column(String(200), index=True)
    """What it happened to, as ``type:key``."""
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    payload_digest: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


@dataclass(frozen=True, slots=True)
class Ready:
    """A payload made ready for the log once: its JSON data (``json_ready``) and the digest
    of that data (``digest_payload``), for ``append_many`` to take as they are."""

    data: Any
    digest: str
    plain: bool = False
    """The data is what orjson read back from its own text: only dicts, lists, strings,
    integers, booleans and null (``canonical.compact_json`` need not walk it again)."""


def prepared(value: Any) -> Ready:
    """``json_ready`` and ``digest_payload`` of the result, from one serialisation when
    orjson's text is the standard library's (the data read back has the same text, so
    the same digest)."""
    text = canonical.fast_text(value)
    if text is None:
        data = json.loads(canonical.python_text(value))
        return Ready(data, digest_payload(data))
    return Ready(orjson.loads(text), hashlib.sha256(text).hexdigest(), plain=True)


def json_ready(value: Any) -> Any:
    """The value as plain JSON data (UUIDs, dates and Decimals as strings)."""
    text = canonical.fast_text(value)
    return json.loads(canonical.python_text(value)) if text is None else orjson.loads(text)


def _time_text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def digest_payload(payload: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(payload)).hexdigest()


def entry_body(sequence: int, recorded_at: datetime, actor: str, kind: str, subject: str,
               payload_digest: str, prev_hash: str) -> bytes:
    """The entry as the bytes its hash covers: also the Merkle tree's leaf entry, and what
    the log's entry bundles serve to mirrors."""
    return canonical_bytes([sequence, _time_text(recorded_at), actor, kind, subject,
                            payload_digest, prev_hash])


def body_of(entry: Any) -> bytes:
    """The ``entry_body`` bytes of a stored entry: an ``EventLogEntry`` or a row read from
    its table (anything with the entry's fields as attributes)."""
    return entry_body(entry.sequence, entry.recorded_at, entry.actor, entry.kind,
                      entry.subject, entry.payload_digest, entry.prev_hash)


def leaf_of(entry: Any) -> bytes:
    """The Merkle leaf hash of a stored entry (leaf ``sequence - 1`` of the log's tree)."""
    return merkle.leaf_hash(body_of(entry))


def entry_hash(sequence: int, recorded_at: datetime, actor: str, kind: str, subject: str,
               payload_digest: str, prev_hash: str) -> str:
    return hashlib.sha256(entry_body(sequence, recorded_at, actor, kind, subject,
                                     payload_digest, prev_hash)).hexdigest()


def append(session: Session, actor: Actor, kind: str, subject: str,
           payload: dict[str, Any] | None = None) -> Appended:
    """Append one entry in the caller's transaction: ``append_many`` with one item."""
    (entry,) = append_many(session, actor, [(kind, subject, payload)])
    return entry


@dataclass(frozen=True)
class Appended:
    """An entry ``append_many`` wrote: its stored fields (what ``body_of`` and ``leaf_of``
    read), without an ORM object for each, and its ``entry_body`` bytes."""

    sequence: int
    recorded_at: datetime
    actor: str
    kind: str
    subject: str
    payload: dict[str, Any]
    payload_digest: str
    prev_hash: str
    hash: str
    body: bytes = b""

    @property
    def leaf(self) -> bytes:
        """The entry's Merkle leaf hash (``leaf_of``), from the body already made."""
        return merkle.leaf_hash(self.body) if self.body else leaf_of(self)


Payload = dict[str, Any] | Ready | None
"""A payload to append: JSON data (made ready here, or already, see ``append_many``), or
a ``Ready`` one with its digest."""


def append_many(session: Session, actor: Actor, items: Sequence[tuple[str, str, Payload]],
                *, ready: bool = False) -> list[Appended]:
    """Append several entries (kind, subject, payload) in the caller's transaction, in
    order: the head read once, the entries chained in memory and written in one statement.
    The same entries as ``append`` once per item. ``ready``: the payloads are JSON data
    already (``json_ready``); a ``Ready`` payload is taken as it is."""
    if not items:
        return []
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _APPEND_LOCK_KEY})
    head = session.execute(
        select(EventLogEntry.sequence, EventLogEntry.hash)
        .order_by(EventLogEntry.sequence.desc())
        .limit(1)
    ).first()
    sequence = head[0] if head else 0
    prev_hash = head[1] if head else GENESIS_HASH
    now = utcnow()
    stamp = _time_text(now)
    who = actor.ref
    entries = []
    for kind, subject, payload in items:
        sequence += 1
        if isinstance(payload, Ready):
            clean, p_digest = payload.data, payload.digest
        elif ready:
            clean = payload or {}
            p_digest = digest_payload(clean)
        else:
            made = prepared(payload or {})
            clean, p_digest = made.data, made.digest
        body = canonical_bytes([sequence, stamp, who, kind, subject, p_digest, prev_hash])
        entry = Appended(sequence, now, who, kind, subject, clean, p_digest, prev_hash,
                         hashlib.sha256(body).hexdigest(), body)
        prev_hash = entry.hash
        entries.append(entry)
    bulkinsert.insert_rows(session.connection(), cast(Table, EventLogEntry.__table__), [
        {"sequence": e.sequence, "recorded_at": e.recorded_at, "actor": e.actor,
         "kind": e.kind, "subject": e.subject, "payload": e.payload,
         "payload_digest": e.payload_digest, "prev_hash": e.prev_hash, "hash": e.hash}
        for e in entries])
    return entries


@dataclass(frozen=True)
class ChainReport:
    entries: int
    head_hash: str
    first_bad_sequence: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.first_bad_sequence is None


def _walk(session: Session, batch: int) -> Iterator[Row[Any]]:
    # Plain rows, not mapped entries: what is stored, never an object cached earlier in
    # this session, and no identity map to fill and empty on a long chain.
    table = EventLogEntry.__table__
    last = 0
    while True:
        rows = session.execute(
            select(table).where(table.c.sequence > last).order_by(table.c.sequence)
            .limit(batch)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].sequence


def verify_chain(session: Session, *, batch: int = 2000,
                 progress: Callable[[int], None] | None = None,
                 visit: Callable[[Row[Any]], None] | None = None) -> ChainReport:
    """Re-walk the whole chain; stop at the first entry whose stored fields do not match.
    `visit` sees each entry once it has verified, so a caller that cross-checks records
    against the log reads it in the same pass and only trusts what the chain vouches for."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    count = 0
    for entry in _walk(session, batch):
        problem: str | None = None
        if entry.sequence != expected_seq:
            problem = f"sequence gap: expected {expected_seq}, found {entry.sequence}"
        elif entry.prev_hash != expected_prev:
            problem = "previous hash does not match the entry before it"
        elif digest_payload(entry.payload) != entry.payload_digest:
            problem = "payload does not match its digest"
        elif entry.hash != entry_hash(entry.sequence, entry.recorded_at, entry.actor,
                                      entry.kind, entry.subject, entry.payload_digest,
                                      entry.prev_hash):
            problem = "entry hash does not match its fields"
        if problem is not None:
            return ChainReport(count, expected_prev, entry.sequence, problem)
        if visit is not None:
            visit(entry)
        expected_prev = entry.hash
        expected_seq += 1
        count += 1
        if progress is not None:
            progress(count)
    return ChainReport(count, expected_prev)


def vouched_entry(session: Session, kind: str, subject: str) -> EventLogEntry | None:
    """The first entry of `kind` about `subject`, if it vouches for its payload: the payload
    matches its digest, the entry's hash matches its fields and the entry after it (when
    there is one) chains to it. A cheap check for one record; ``verify_chain`` walks all."""
    entry = session.scalars(
        select(EventLogEntry).where(EventLogEntry.subject == subject,
                                    EventLogEntry.kind == kind)
        .order_by(EventLogEntry.sequence).limit(1)).first()
    if entry is None:
        return None
    if digest_payload(entry.payload) != entry.payload_digest or entry.hash != entry_hash(
            entry.sequence, entry.recorded_at, entry.actor, entry.kind, entry.subject,
            entry.payload_digest, entry.prev_hash):
        return None
    after = session.scalar(select(EventLogEntry.prev_hash)
                           .where(EventLogEntry.sequence == entry.sequence + 1))
    if after is not None and after != entry.hash:
        return None
    return entry


def count_entries(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(EventLogEntry)) or 0


def list_entries(session: Session, params: PageParams, *, kind_prefix: str | None = None,
                 subject: str | None = None) -> Page[EventLogEntry]:
    query = select(EventLogEntry)
    if kind_prefix:
        query = query.where(EventLogEntry.kind.startswith(kind_prefix))
    if subject:
        query = query.where(EventLogEntry.subject == subject)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(EventLogEntry.sequence.desc()).offset(params.offset).limit(params.per_page)
    ).all()
    return Page(list(rows), total, params.page, params.per_page)
