"""Every query of the EPCIS repository: bulk inserts, the visibility rule, the event query,
and the capture-job queue (claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's
``BEGIN IMMEDIATE`` makes the claim atomic there)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    false,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from stewardship.core import bulkinsert
from stewardship.interop import rules
from stewardship.interop.models import EpcisCaptureJob, EpcisContext, EpcisEvent, EpcisEventTerm
from stewardship.registry.models import Entity, Organization

EVENTS = EpcisEvent.__table__
TERMS = EpcisEventTerm.__table__
CHUNK = 500


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


# --- contexts, parties ---------------------------------------------------------------------


def context_id_for(db: Session, body: str) -> int:
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    found = db.scalar(select(EpcisContext.id).where(EpcisContext.digest == digest))
    if found is not None:
        return int(found)
    try:
        with db.begin_nested():
            db.execute(insert(EpcisContext).values(digest=digest, body=body))
    except IntegrityError:
        pass  # captured at the same moment by another worker: theirs is as good
    return int(db.scalar(select(EpcisContext.id).where(EpcisContext.digest == digest)) or 0)


def contexts(db: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = db.execute(select(EpcisContext.id, EpcisContext.body)
                      .where(EpcisContext.id.in_(wanted)))
    return {int(i): str(b) for i, b in rows}


def organizations_by_slug(db: Session, slugs: Iterable[str]) -> dict[str, uuid.UUID]:
    wanted = sorted(set(slugs))
    found: dict[str, uuid.UUID] = {}
    for part in _chunks(wanted):
        rows = db.execute(select(Organization.slug, Organization.id)
                          .where(Organization.slug.in_(part)))
        found.update({slug: org for slug, org in rows})
    return found


def organizations_of_entities(db: Session, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID,
                                                                             uuid.UUID]:
    wanted = sorted(set(ids))
    found: dict[uuid.UUID, uuid.UUID] = {}
    for part in _chunks(wanted):
        rows = db.execute(select(Entity.id, Entity.organization_id)
                          .where(Entity.id.in_(part)))
        found.update({entity: org for entity, org in rows})
    return found


# --- events --------------------------------------------------------------------------------


def existing_event_ids(db: Session, keys: Sequence[tuple[str, bool]], *,
                       organization_id: uuid.UUID | None) -> set[tuple[str, bool]]:
    """Which (eventID, is an error declaration) pairs the organisation (None: the
    secretariat) captured already. Other organisations' events are not looked at: an id
    is the capturer's own."""
    owner = (EpcisEvent.organization_id.is_(None) if organization_id is None
             else EpcisEvent.organization_id == organization_id)
    wanted = set(keys)
    found: set[tuple[str, bool]] = set()
    for part in _chunks(sorted({event_id for event_id, _ in wanted})):
        rows = db.execute(select(EpcisEvent.event_id, EpcisEvent.error_declaration)
                          .where(owner, EpcisEvent.event_id.in_(part)))
        found.update((str(e), bool(d)) for e, d in rows)
    return found & wanted


def event_ids_captured_by_others(db: Session, event_ids: Sequence[str], *,
                                 organization_id: uuid.UUID | None) -> set[str]:
    """Which of these eventIDs another capturer used for an event (not a declaration)
    while this one (None: the secretariat) did not: an error in them is not its to
    declare."""
    mine = set(event_id for event_id, _ in existing_event_ids(
        db, [(e, False) for e in event_ids], organization_id=organization_id))
    other = (EpcisEvent.organization_id.is_not(None) if organization_id is None
             else or_(EpcisEvent.organization_id.is_(None),
                      EpcisEvent.organization_id != organization_id))
    found: set[str] = set()
    for part in _chunks(sorted(set(event_ids) - mine)):
        found.update(str(e) for e in db.scalars(
            select(EpcisEvent.event_id).where(other, EpcisEvent.event_id.in_(part),
                                              EpcisEvent.error_declaration.is_(False))))
    return found


def lock_transformation(db: Session, organization_id: uuid.UUID | None,
                        transformation_id: str) -> None:
    """Hold the capturer's transformationID until the transaction ends, so that two
    captures never both complete (or both miss) one set: PostgreSQL's transaction-level
    advisory lock; on SQLite the write lock taken at BEGIN IMMEDIATE serialises already."""
    if db.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"epcis-transformation|{organization_id}|{transformation_id}"
                            .encode()).digest()
    db.execute(text("SELECT pg_advisory_xact_lock(:key)"),
               {"key": int.from_bytes(digest[:8], "big", signed=True)})


def transformation_members(db: Session, organization_id: uuid.UUID | None,
                           transformation_id: str) -> list[tuple[str, str, int | None]]:
    """(eventID, body, context id) of the TransformationEvents this capturer (only this
    one) stored with this transformationID, in capture order, less those it declared an
    error in."""
    owner = (EpcisEvent.organization_id.is_(None) if organization_id is None
             else EpcisEvent.organization_id == organization_id)
    other = aliased(EpcisEvent)
    declared = select(other.event_id).where(
        other.organization_id.is_(None) if organization_id is None
        else other.organization_id == organization_id, other.error_declaration.is_(True))
    rows = db.execute(select(EpcisEvent.event_id, EpcisEvent.body, EpcisEvent.context_id)
                      .where(owner, EpcisEvent.transformation_id == transformation_id,
                             EpcisEvent.event_type == "TransformationEvent",
                             EpcisEvent.error_declaration.is_(False),
                             EpcisEvent.event_id.not_in(declared))
                      .order_by(EpcisEvent.id))
    return [(str(e), str(b), int(c) if c is not None else None) for e, b, c in rows]


def event_ids_of_job(db: Session, job_id: uuid.UUID) -> frozenset[str]:
    """The eventIDs a capture job has stored so far (its committed chunks)."""
    return frozenset(db.scalars(select(EpcisEvent.event_id)
                                .where(EpcisEvent.job_id == job_id)))


def _new_event_ids(db: Session, count: int) -> list[int]:
    """Row ids for ``count`` new events, taken before the insert so that it needs no
    RETURNING (one executemany instead of a statement per row)."""
    if db.get_bind().dialect.name == "sqlite":
        # The transaction holds SQLite's write lock (BEGIN IMMEDIATE): nobody else inserts.
        start = int(db.scalar(select(func.max(EpcisEvent.id))) or 0)
        return list(range(start + 1, start + 1 + count))
    sequence = db.scalar(text("SELECT pg_get_serial_sequence('epcis_events', 'id')"))
    rows = db.scalars(text("SELECT nextval(:sequence) FROM generate_series(1, :count)"),
                      {"sequence": sequence, "count": count})
    return [int(i) for i in rows]


def insert_events(db: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert many events with one executemany (the driver's, the columns' processors
    applied a column at a time: ``core.bulkinsert``); their row ids, in order."""
    if not rows:
        return []
    ids = _new_event_ids(db, len(rows))
    for row, new_id in zip(rows, ids, strict=True):
        row["id"] = new_id
    bulkinsert.insert_rows(db.connection(), EVENTS, rows)
    return ids


TERM_COLUMNS = ("event_pk", "kind", "value", "number")


def insert_term_tuples(db: Session, rows: list[tuple[Any, ...]]) -> None:
    """Term rows as tuples of ``TERM_COLUMNS``, one executemany; their numbers are floats
    or None (``epcis.fields``)."""
    if rows:
        bulkinsert.insert_tuples(db.connection(), TERMS, TERM_COLUMNS, rows,
                                 floats=("number",))


def _visible(organization_id: uuid.UUID | None, see_all: bool) -> ColumnElement[bool] | None:
    if see_all:
        return None
    if organization_id is None:
        return false()
    named = exists().where(EpcisEventTerm.event_pk == EpcisEvent.id,
                           EpcisEventTerm.kind == rules.PARTY_ORG,
                           EpcisEventTerm.value == organization_id.hex)
    return or_(EpcisEvent.organization_id == organization_id, named)


def _prefix_condition(db: Session, prefix: str) -> ColumnElement[bool]:
    value = EpcisEventTerm.value
    if db.get_bind().dialect.name == "sqlite":
        # Binary collation: a range is exactly "starts with", and uses the index.
        return and_(value >= prefix, value < prefix + "\U0010ffff")
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return value.like(escaped + "%", escape="\\")


def _filtered(db: Session, query: rules.EventQuery, *, organization_id: uuid.UUID | None,
              see_all: bool, wd_read_points: Sequence[str],
              wd_biz_locations: Sequence[str],
              located: Sequence[tuple[str, Sequence[str]]] = ()) -> Any:
    """The matching visible events (row id, JSON body, context id), unordered.
    ``located``: (``readPoint`` or ``bizLocation``, the locations it must be one of; none:
    no event), one per HASATTR_/EQATTR_ parameter."""
    stmt = select(EpcisEvent.id, EpcisEvent.body, EpcisEvent.context_id)
    visible = _visible(organization_id, see_all)
    if visible is not None:
        stmt = stmt.where(visible)
    columns = ((query.event_types, EpcisEvent.event_type), (query.actions, EpcisEvent.action),
               (query.biz_steps, EpcisEvent.biz_step),
               (query.dispositions, EpcisEvent.disposition),
               (query.read_points, EpcisEvent.read_point),
               (query.biz_locations, EpcisEvent.biz_location),
               (query.transformation_ids, EpcisEvent.transformation_id),
               (query.event_ids, EpcisEvent.event_id))
    for values, column in columns:
        if values:
            stmt = stmt.where(column.in_(values))
    if query.ge_event_time is not None:
        stmt = stmt.where(EpcisEvent.event_time >= query.ge_event_time)
    if query.lt_event_time is not None:
        stmt = stmt.where(EpcisEvent.event_time < query.lt_event_time)
    if query.ge_record_time is not None:
        stmt = stmt.where(EpcisEvent.record_time >= query.ge_record_time)
    if query.lt_record_time is not None:
        stmt = stmt.where(EpcisEvent.record_time < query.lt_record_time)
    for match in query.matches:
        stmt = stmt.where(_match(db, match))
    for condition in query.conditions:
        stmt = stmt.where(_condition(condition))
    if query.declared:
        stmt = stmt.where(EpcisEvent.error_declaration.is_(True))
    for locations, column in ((wd_read_points, EpcisEvent.read_point),
                              (wd_biz_locations, EpcisEvent.biz_location)):
        if locations:
            stmt = stmt.where(column.in_(locations))
    for field_name, locations in located:
        column = {"readPoint": EpcisEvent.read_point,
                  "bizLocation": EpcisEvent.biz_location}[field_name]
        stmt = stmt.where(column.in_(list(locations)))
    if query.within is not None:
        stmt = stmt.where(_within(*query.within))
    return stmt


def query_events(db: Session, query: rules.EventQuery, *, organization_id: uuid.UUID | None,
                 see_all: bool, limit: int, wd_read_points: Sequence[str] = (),
                 wd_biz_locations: Sequence[str] = (),
                 located: Sequence[tuple[str, Sequence[str]]] = ()
                 ) -> list[tuple[int, str, int | None, datetime]]:
    """(row id, JSON body, context id, ordered field) of the matching visible events: in
    capture order, or by ``eventTime``/``recordTime`` when the query orders (ties by
    capture order, in the same direction). ``wd_*``: the WD_ locations with their
    descendants."""
    stmt = _filtered(db, query, organization_id=organization_id, see_all=see_all,
                     wd_read_points=wd_read_points, wd_biz_locations=wd_biz_locations,
                     located=located)
    if query.order_keys:
        return _by_field(db, stmt, query, limit)
    key = {"eventTime": EpcisEvent.event_time,
           "recordTime": EpcisEvent.record_time}.get(query.order_by or "", EpcisEvent.id)
    stmt = stmt.add_columns(key)
    if query.order_by is None:
        if query.after is not None:
            stmt = stmt.where(EpcisEvent.id > query.after)
        order: list[Any] = [EpcisEvent.id]
    elif query.order_desc:
        if query.after is not None and query.after_key is not None:
            stmt = stmt.where(or_(key < query.after_key,
                                  and_(key == query.after_key, EpcisEvent.id < query.after)))
        elif query.after is not None:
            stmt = stmt.where(EpcisEvent.id > query.after)
        order = [key.desc(), EpcisEvent.id.desc()]
    else:
        if query.after is not None and query.after_key is not None:
            stmt = stmt.where(or_(key > query.after_key,
                                  and_(key == query.after_key, EpcisEvent.id > query.after)))
        elif query.after is not None:
            stmt = stmt.where(EpcisEvent.id > query.after)
        order = [key, EpcisEvent.id]
    rows = db.execute(stmt.order_by(*order).limit(limit))
    return [(int(i), str(b), c, k) for i, b, c, k in rows]


def _by_field(db: Session, stmt: Any, query: rules.EventQuery,
              limit: int) -> list[tuple[int, str, int | None, Any]]:
    """Ordered by an extension field: its least number, else its earliest time, else its
    least text (code-point order), ties by capture order; pages by the count so far.
    Events without the field come where the database puts NULLs (GS1: anywhere)."""
    from stewardship.interop.epcis import fields

    def least(kind: int, column: Any) -> Any:
        return (select(func.min(column)).where(
            EpcisEventTerm.event_pk == EpcisEvent.id, EpcisEventTerm.kind == kind,
            EpcisEventTerm.value.in_(query.order_keys)).scalar_subquery())

    texts = [_prefix_condition(db, key + "\x1f") for key in query.order_keys]
    value: Any = EpcisEventTerm.value
    if db.get_bind().dialect.name != "sqlite":  # code-point order, whatever the locale
        value = value.collate("C")
    text_key = (select(func.min(value)).where(
        EpcisEventTerm.event_pk == EpcisEvent.id, EpcisEventTerm.kind == fields.TEXT,
        or_(*texts)).scalar_subquery())
    keys = [least(fields.NUMBER, EpcisEventTerm.number), least(fields.TIME,
                                                                EpcisEventTerm.number),
            text_key, EpcisEvent.id]
    order = [k.desc() for k in keys] if query.order_desc else keys
    rows = db.execute(stmt.add_columns(EpcisEvent.id).order_by(*order)
                      .offset(query.seen).limit(limit))
    return [(int(i), str(b), c, k) for i, b, c, k in rows]


def count_events(db: Session, query: rules.EventQuery, *, organization_id: uuid.UUID | None,
                 see_all: bool, up_to: int, wd_read_points: Sequence[str] = (),
                 wd_biz_locations: Sequence[str] = (),
                 located: Sequence[tuple[str, Sequence[str]]] = ()) -> int:
    """How many visible events match, counted up to ``up_to`` at most."""
    stmt = _filtered(db, query, organization_id=organization_id, see_all=see_all,
                     wd_read_points=wd_read_points, wd_biz_locations=wd_biz_locations,
                     located=located)
    inner = stmt.with_only_columns(EpcisEvent.id).limit(up_to).subquery()
    return int(db.scalar(select(func.count()).select_from(inner)) or 0)


def _match(db: Session, match: rules.Match) -> ColumnElement[bool]:
    """One MATCH_ parameter: the values as given among the EPCs as captured, or their
    canonical Digital Links among the EPCs' canonical Digital Links."""
    wanted: list[ColumnElement[bool]] = (
        [EpcisEventTerm.value.in_(match.values)] if match.values else [])
    wanted += [_prefix_condition(db, p) for p in match.prefixes]
    either = [and_(EpcisEventTerm.kind.in_(match.kinds), or_(*wanted))] if wanted else []
    canonical: list[ColumnElement[bool]] = (
        [EpcisEventTerm.value.in_(match.canonical)] if match.canonical else [])
    canonical += [_prefix_condition(db, p) for p in match.canonical_prefixes]
    if canonical:
        kinds = [k + rules.CANONICAL_OFFSET for k in match.kinds]
        either.append(and_(EpcisEventTerm.kind.in_(kinds), or_(*canonical)))
    if not either:
        return false()
    return exists().where(EpcisEventTerm.event_pk == EpcisEvent.id, or_(*either))


_NUMBER_OPS = {"gt": "__gt__", "ge": "__ge__", "lt": "__lt__", "le": "__le__"}


def _condition(condition: Any) -> ColumnElement[bool]:
    """One field parameter (``epcis.params.Condition``): an index row matching one of its
    alternatives."""
    either = []
    for alternative in condition.alternatives:
        parts = [EpcisEventTerm.kind == alternative.kind,
                 EpcisEventTerm.value.in_(alternative.keys)]
        if alternative.op == "in":
            parts.append(EpcisEventTerm.number.in_(alternative.numbers))
        elif alternative.op is not None:
            parts.append(getattr(EpcisEventTerm.number, _NUMBER_OPS[alternative.op])(
                alternative.numbers[0]))
        either.append(and_(*parts))
    return exists().where(EpcisEventTerm.event_pk == EpcisEvent.id, or_(*either))


_RESOURCE_COLUMNS = {"eventTypes": EpcisEvent.event_type, "bizSteps": EpcisEvent.biz_step,
                     "dispositions": EpcisEvent.disposition,
                     "bizLocations": EpcisEvent.biz_location,
                     "readPoints": EpcisEvent.read_point}
EPC_KINDS = (rules.EPC, rules.PARENT, rules.INPUT_EPC, rules.OUTPUT_EPC)


def _within(resource: str, value: str) -> ColumnElement[bool]:
    """The events a top-level resource instance names (an EPC anywhere in an event)."""
    if resource == "epcs":
        return exists().where(EpcisEventTerm.event_pk == EpcisEvent.id,
                              EpcisEventTerm.kind.in_(EPC_KINDS),
                              EpcisEventTerm.value == value)
    return _RESOURCE_COLUMNS[resource] == value


def resource_values(db: Session, resource: str, *, organization_id: uuid.UUID | None,
                    see_all: bool, after: str | None, limit: int) -> list[str]:
    """The distinct values of a top-level resource (``epcs``, ``bizSteps``...) among the
    events the reader may see, in code-point order, after ``after``."""
    visible = _visible(organization_id, see_all)
    value: Any
    if resource == "epcs":
        named = aliased(EpcisEventTerm)  # the visibility rule reads the terms table too
        value = named.value
        stmt = (select(value).distinct().join(EpcisEvent, EpcisEvent.id == named.event_pk)
                .where(named.kind.in_(EPC_KINDS)))
    else:
        value = _RESOURCE_COLUMNS[resource]
        stmt = select(value).distinct().where(value.is_not(None))
    if visible is not None:
        stmt = stmt.where(visible)
    if after is not None:
        stmt = stmt.where(value > after)
    return [str(v) for v in db.scalars(stmt.order_by(value).limit(limit))]


def resource_exists(db: Session, resource: str, value: str, *,
                    organization_id: uuid.UUID | None, see_all: bool) -> bool:
    """Whether an event the reader may see names this resource instance."""
    stmt = select(EpcisEvent.id).where(_within(resource, value))
    visible = _visible(organization_id, see_all)
    if visible is not None:
        stmt = stmt.where(visible)
    return db.scalar(stmt.limit(1)) is not None


def events_with_event_id(db: Session, event_id: str, *, organization_id: uuid.UUID | None,
                         see_all: bool) -> list[tuple[str, int | None]]:
    """The visible event with this eventID and its capturer's error declaration of it.
    Several organisations may use one id: the reader's own comes first, then the earliest
    captured; an error declaration follows its event."""
    stmt = select(EpcisEvent.body, EpcisEvent.context_id, EpcisEvent.organization_id,
                  EpcisEvent.error_declaration).where(EpcisEvent.event_id == event_id)
    visible = _visible(organization_id, see_all)
    if visible is not None:
        stmt = stmt.where(visible)
    own = (EpcisEvent.organization_id.is_(None) if organization_id is None
           else EpcisEvent.organization_id == organization_id)
    rows = list(db.execute(stmt.order_by(case((own, 0), else_=1),
                                         EpcisEvent.error_declaration, EpcisEvent.id)
                           .limit(20)))
    if not rows:
        return []
    first = rows[0]
    found = [(str(first[0]), first[1])]
    found += [(str(body), context) for body, context, owner, declared in rows[1:]
              if declared and owner == first[2] and not first[3]][:1]
    return found


# --- capture jobs --------------------------------------------------------------------------


def add_job(db: Session, **values: Any) -> EpcisCaptureJob:
    job = EpcisCaptureJob(**values)
    db.add(job)
    db.flush()
    return job


def job_by_id(db: Session, job_id: uuid.UUID) -> EpcisCaptureJob | None:
    return db.get(EpcisCaptureJob, job_id)


def list_jobs(db: Session, *, organization_id: uuid.UUID | None, see_all: bool, limit: int,
              before: tuple[datetime, uuid.UUID] | None = None) -> list[EpcisCaptureJob]:
    """The newest jobs first (ties by id); ``before``: the (created, id) of the last job of
    the previous page."""
    stmt = select(EpcisCaptureJob)
    if not see_all:
        stmt = stmt.where(EpcisCaptureJob.organization_id == organization_id
                          if organization_id is not None else false())
    if before is not None:
        created, job_id = before
        stmt = stmt.where(or_(EpcisCaptureJob.created_at < created,
                              and_(EpcisCaptureJob.created_at == created,
                                   EpcisCaptureJob.id < job_id)))
    stmt = stmt.order_by(EpcisCaptureJob.created_at.desc(),
                         EpcisCaptureJob.id.desc()).limit(limit)
    return list(db.scalars(stmt))


def claim_job(db: Session, *, token: str, now: datetime,
              lease_seconds: int) -> EpcisCaptureJob | None:
    """Take the oldest job that is queued, or running under an expired lease, for this
    worker. Locked rows (another worker claiming) are skipped, never waited for."""
    stmt = (select(EpcisCaptureJob)
            .where(or_(EpcisCaptureJob.status == "queued",
                       and_(EpcisCaptureJob.status == "running",
                            EpcisCaptureJob.lease_until < now)))
            .order_by(EpcisCaptureJob.created_at).limit(1)
            .with_for_update(skip_locked=True))
    job = db.scalars(stmt).first()
    if job is None:
        return None
    job.status = "running"
    job.worker = token
    job.attempts += 1
    job.started_at = now
    # A millisecond per event on top of the base lease: big documents take longer.
    job.lease_until = now + timedelta(seconds=lease_seconds + job.event_count / 1000)
    db.flush()
    return job


def held_job(db: Session, job_id: uuid.UUID, token: str) -> EpcisCaptureJob | None:
    """The job, if this worker's claim still holds it."""
    return db.scalars(select(EpcisCaptureJob).where(EpcisCaptureJob.id == job_id,
                                                    EpcisCaptureJob.worker == token,
                                                    EpcisCaptureJob.status == "running")
                      ).first()


def finish_job(db: Session, job_id: uuid.UUID, token: str, **values: Any) -> bool:
    """Record a job's outcome, only if this worker still holds it (False otherwise)."""
    result = db.execute(update(EpcisCaptureJob)
                        .where(EpcisCaptureJob.id == job_id, EpcisCaptureJob.worker == token,
                               EpcisCaptureJob.status == "running")
                        .values(status="done", document=None, lease_until=None, **values)
                        .execution_options(synchronize_session=False))
    return bool(getattr(result, "rowcount", 0) == 1)
