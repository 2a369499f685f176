"""Capturing EPCIS documents into the repository.

``capture_document`` is the one path every captured event takes (the capture worker, the
synchronous ``POST /epcis/events`` and the benchmark call it):

1. validate (GS1's schema with jsonschema-rs, compiled once, or the structural checks);
2. give events without an eventID the CBV 2.0 hash id, stamp ``recordTime``;
3. refuse eventIDs seen twice in the document or captured before by the same
   organisation (an id is unique per capturer: another member's use of it is neither
   revealed nor in the way; an error declaration may repeat its event's id once);
4. insert events in document order, in batches with ``executemany`` (one row per event
   plus narrow term rows), each batch under a SAVEPOINT;
5. hand each event that names a platform identifier (``urn:stewardship:``) to the CoC
   profile (``interop.profile.apply_event``) right after storing it, under its own
   SAVEPOINT; events that name none cannot move the ledger and skip that cost.
   Consecutive shipping events go together: their documents are issued in one call of
   the batch use case (``profile.apply_shipments``) under one SAVEPOINT, each event's
   ledger effect still reported as its own; when one is refused they run one by one.
   Consecutive receiving events go together too (``profile.apply_receipts``, the batch
   receipt): a refused one drops out with its own error, the others are received.

``rollback`` (the default) keeps all or nothing: any fault raises ``CaptureRejected`` and
the whole capture's SAVEPOINT is rolled back. ``proceed`` skips a faulty event (and its
ledger effect) and reports it in ``CaptureResult.errors``. The caller owns the transaction.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stewardship.core import clock
from stewardship.core.auth import Actor, Role
from stewardship.core.config import get_settings
from stewardship.core.errors import DomainError, Forbidden, InvalidInput, Unauthenticated
from stewardship.custody.schemas import MAX_BATCH
from stewardship.custody.service import common as custody_common
from stewardship.interop import profile, rules
from stewardship.interop import repository as repo
from stewardship.interop.epcis import corrections, fields, master_data
from stewardship.interop.epcis.problems import EpcisProblem, problem
from stewardship.interop.epcis.validation import Issue, Validation, validation_for
from stewardship.registry.service import facilities

ROLLBACK, PROCEED = "rollback", "proceed"
BEHAVIOURS = (ROLLBACK, PROCEED)
CAPTURE_ROLES = frozenset({Role.SECRETARIAT, Role.MEMBER_ADMIN, Role.MEMBER_USER})
BATCH = 2000
DUPLICATE = "epcisException:ResourceAlreadyExistsException"


@dataclass
class CaptureResult:
    event_count: int = 0
    captured: int = 0
    event_ids: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    ledger: list[str] = field(default_factory=list)
    """What the CoC profile did, one line per ledger event."""
    effects: list[dict[str, Any]] = field(default_factory=list)
    """The same, naming each event: ``{"eventIndex", "eventID", "effect"}``."""

    @property
    def success(self) -> bool:
        return not self.errors


class CaptureRejected(EpcisProblem):
    """Nothing of the document was captured; ``errors`` says what and where."""

    def __init__(self, detail: str, errors: list[dict[str, Any]]) -> None:
        # One kind of refusal answers with its status (409 duplicates or a CoC conflict,
        # 403, 404); a mixture is a 400.
        statuses = {e.get("status") for e in errors}
        status = statuses.pop() if len(statuses) == 1 else 400
        super().__init__(status if status in (403, 404, 409) else 400, detail,
                         errors=errors)


def dumps(value: Any) -> str:
    """Compact JSON text (orjson; the standard library for what orjson refuses, such as
    integers beyond 64 bits)."""
    try:
        return orjson.dumps(value).decode("utf-8")
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def loads(text: str | bytes) -> Any:
    """Parse JSON (orjson; the standard library's parser and its messages on failure)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def require_capturer(actor: Actor | None) -> Actor:
    if actor is None:
        raise Unauthenticated("sign in (a bearer token) to capture EPCIS events")
    if actor.role not in CAPTURE_ROLES:
        raise Forbidden(f"your role ({actor.role.label}) may not capture EPCIS events")
    return actor


def default_validation() -> Validation:
    return validation_for(get_settings().epcis_schema)


def event_problem(index: int, event: Any, where: str, message: str, *, status: int = 400,
                  type_: str | None = None, title: str | None = None) -> dict[str, Any]:
    """A problem naming the event (index, eventID) and the JSON pointer ``where``."""
    event_id = event.get("eventID") if isinstance(event, dict) else None
    who = f"event {index}" + (f" ({event_id})" if event_id else "")
    return problem(status, f"{who} at {where or '/'}: {message}", type_=type_, title=title,
                   instance=f"#{where}", eventIndex=index, eventID=event_id, path=where)


def _context_id(db: Session, context: Any) -> int | None:
    items = context if isinstance(context, list) else [context]
    # Only GS1's own context URL is recognised (and never fetched); any other URL is kept
    # as given, so that the events come back declaring it.
    extra = [item for item in items if item is not None and item != rules.STANDARD_CONTEXT]
    if not extra:
        return None
    return repo.context_id_for(db, json.dumps(items, sort_keys=True, separators=(",", ":")))


@dataclass(slots=True)
class _Prepared:
    index: int
    stored: dict[str, Any]
    row: dict[str, Any]
    terms: list[tuple[int, str]]
    """Index rows of what it names: (kind, value)."""
    field_rows: list[tuple[int, str, float | None]]
    """Index rows of its fields: (kind, value, number)."""
    parties: set[str] | frozenset[str]
    profiled: bool
    """Whether the CoC profile could act on it (it names a platform identifier)."""
    context: Any = None
    """The JSON-LD context the event is read in: the document's, then its own."""


def merged_context(document: Any, own: Any) -> Any:
    """The document's @context followed by the entries of an event's own not in it."""
    if own is None:
        return document
    items = list(document) if isinstance(document, list) else (
        [document] if document is not None else [])
    for entry in own if isinstance(own, list) else [own]:
        if entry not in items:
            items.append(entry)
    return items


def platform_prefixes(prefixes: dict[str, str]) -> frozenset[str]:
    """``stw`` and every prefix the document maps into the platform's namespace."""
    return frozenset({"stw", *(p for p, iri in prefixes.items()
                               if iri.startswith(rules.URN_PLATFORM))})


def _prepare(index: int, event: dict[str, Any], prefixes: dict[str, str], record_time: str,
             now: datetime, common: dict[str, Any], ours: frozenset[str]) -> _Prepared:
    stored = dict(event)
    stored.pop("@context", None)
    hashed = not stored.get("eventID")
    # Most events are flat: one pass gives the hash id and the index terms together.
    flat = rules.flat_event(event, prefixes, hashed)
    if flat is not None:
        event_id, index_terms = flat
        if hashed:
            stored["eventID"] = event_id
    elif hashed:
        stored["eventID"] = rules.event_hash_id(event, prefixes)
    stored["recordTime"] = record_time
    biz_step, disposition = stored.get("bizStep"), stored.get("disposition")
    row = {
        "event_id": stored["eventID"], "error_declaration": "errorDeclaration" in stored,
        "event_type": str(stored.get("type", "")),
        "event_time": rules.parse_time(str(stored["eventTime"])), "record_time": now,
        "action": stored.get("action"),
        "biz_step": rules.cbv_short(biz_step, "BizStep") if isinstance(biz_step, str) else None,
        "disposition": (rules.cbv_short(disposition, "Disp")
                        if isinstance(disposition, str) else None),
        "biz_location": rules.where_id(stored, "bizLocation"),
        "read_point": rules.where_id(stored, "readPoint"),
        "transformation_id": stored.get("transformationID"),
        "body": dumps(stored),
        **common,
    }
    keys = "".join(stored)
    if ":" in keys:
        profiled = any(key.partition(":")[0] in ours for key in stored)
    else:  # each member name is its own prefix
        profiled = not ours.isdisjoint(stored)
    profiled = profiled or rules.URN_PLATFORM in row["body"]
    if flat is not None:
        # A flat event names no parties, and fields only through extension members.
        return _Prepared(index, stored, row, index_terms,
                         fields.field_terms(stored, prefixes) if ":" in keys else [],
                         _NO_PARTIES, profiled)
    return _Prepared(index, stored, row, rules.index_terms(stored),
                     fields.field_terms(stored, prefixes), rules.party_ids(stored), profiled)


_NO_PARTIES: frozenset[str] = frozenset()


def _pointer(base: str, index: int, field: object) -> str:
    """The JSON pointer of a profile field name (``bizTransactionList[0]``,
    ``inputQuantityList[1].epcClass``, ``stw:cocQuantity``) within event ``index``."""
    where = f"{base}/{index}"
    if not isinstance(field, str) or not field:
        return where
    for part in re.findall(r"[^.\[\]]+", field):
        where += "/" + part.replace("~", "~0").replace("/", "~1")
    return where


def _key(item: _Prepared) -> tuple[str, bool]:
    """What must be unique within the capturer's events: the id, and whether the event
    declares an error in the event of that id."""
    return item.row["event_id"], item.row["error_declaration"]


_ALREADY = "you captured an event with this eventID already"


def _party_organizations(db: Session, prepared: list[_Prepared]) -> dict[str, str]:
    """Platform party URNs (organisation or entity) -> the organisation id (hex)."""
    slugs: dict[str, str] = {}
    entities: dict[str, uuid.UUID] = {}
    for item in prepared:
        for party in item.parties:
            if party.startswith(rules.URN_ORG):
                slugs[party] = party[len(rules.URN_ORG):]
            elif party.startswith(rules.URN_ENTITY):
                try:
                    entities[party] = uuid.UUID(party[len(rules.URN_ENTITY):])
                except ValueError:
                    continue
    found: dict[str, str] = {}
    if slugs:
        by_slug = repo.organizations_by_slug(db, slugs.values())
        found.update({urn: by_slug[s].hex for urn, s in slugs.items() if s in by_slug})
    if entities:
        by_entity = repo.organizations_of_entities(db, entities.values())
        found.update({urn: by_entity[e].hex for urn, e in entities.items() if e in by_entity})
    return found


class _Writer:
    """Inserts prepared events in order: plain ones in batches, profile ones one by one."""

    def __init__(self, db: Session, actor: Actor, behaviour: str, parties: dict[str, str],
                 result: CaptureResult, base: str, context: Any) -> None:
        self.db, self.actor, self.behaviour = db, actor, behaviour
        self.parties, self.result, self.base = parties, result, base
        self.context = context
        self.pending: list[_Prepared] = []
        self.shipping: list[_Prepared] = []
        """Consecutive shipping events, issued together (``_ship``)."""
        self.receiving: list[_Prepared] = []
        """Consecutive receiving events, received together (``_receive``)."""

    def _terms(self, items: list[_Prepared], ids: list[int]) -> list[tuple[Any, ...]]:
        """The events' term rows, as ``repo.TERM_COLUMNS`` names their values."""
        rows: list[tuple[Any, ...]] = []
        for item, pk in zip(items, ids, strict=True):
            rows += [(pk, kind, value, None) for kind, value in item.terms]
            if item.field_rows:
                rows += [(pk, kind, value, number) for kind, value, number in item.field_rows]
            if item.parties:
                orgs = {self.parties[p] for p in item.parties if p in self.parties}
                rows += [(pk, rules.PARTY_ORG, o, None) for o in sorted(orgs)]
        return rows

    def _insert(self, items: list[_Prepared]) -> None:
        ids = repo.insert_events(self.db, [item.row for item in items])
        repo.insert_term_tuples(self.db, self._terms(items, ids))

    def _fail(self, item: _Prepared, message: str, *, status: int = 400,
              type_: str | None = None, title: str | None = None,
              where: str | None = None) -> None:
        error = event_problem(item.index, item.stored, where or f"{self.base}/{item.index}",
                              message, status=status, type_=type_, title=title)
        if self.behaviour == ROLLBACK:
            raise CaptureRejected(f"nothing was captured: {error['detail']}", [error])
        self.result.errors.append(error)

    def _captured(self, item: _Prepared) -> None:
        self.result.captured += 1
        self.result.event_ids.append(item.stored["eventID"])

    def add(self, item: _Prepared) -> None:
        kind = (profile.profile_kind(_profiled(item))
                if item.profiled and not item.row["error_declaration"] else None)
        if kind == "shipping":
            self._receive()
            self._flush_plain()
            self.shipping.append(item)
            if len(self.shipping) >= MAX_BATCH:
                self._ship()
            return
        self._ship()
        if kind == "receiving":
            self._flush_plain()
            self.receiving.append(item)
            if len(self.receiving) >= MAX_BATCH:
                self._receive()
            return
        self._receive()
        if item.profiled:
            self.flush()
            self._profile_event(item)
            return
        self.pending.append(item)
        if len(self.pending) >= BATCH:
            self.flush()

    def _ship(self) -> None:
        """The waiting shipping events' documents issued by the batch use case, under one
        savepoint, each event's ledger effect reported as its own; should one be refused
        (or their places' days differ), they run one by one for their own reports."""
        items, self.shipping = self.shipping, []
        if len(items) < 2:
            for item in items:
                self._profile_event(item)
            return
        def ship() -> list[str]:
            self._insert(items)
            notes = profile.apply_shipments(self.db, self.actor,
                                            [_profiled(item) for item in items])
            if notes is None:
                raise InvalidInput("the events' days differ")
            return notes

        notes = self._together(items, ship)
        if notes is None:
            return
        for item, note in zip(items, notes, strict=True):
            self._captured(item)
            self.result.ledger.append(note)
            self.result.effects.append({"eventIndex": item.index,
                                        "eventID": item.stored["eventID"], "effect": note})

    def _receive(self) -> None:
        """The waiting receiving events' documents (one or more) received by the batch
        use case under one savepoint: a refused event drops out with its own error
        (``rollback``: the first refusal rejects the capture), the others are stored
        with their effects.
        Should the batch itself fail (an eventID captured meanwhile), they run one by
        one."""
        items, self.receiving = self.receiving, []
        if not items:
            return
        def receive() -> list[str | DomainError]:
            outcomes = profile.apply_receipts(self.db, self.actor,
                                              [_profiled(item) for item in items])
            refused = [(item, o) for item, o in zip(items, outcomes, strict=True)
                       if isinstance(o, DomainError)]
            if refused and self.behaviour == ROLLBACK:
                raise _Refused(*refused[0])
            self._insert([item for item, o in zip(items, outcomes, strict=True)
                          if not isinstance(o, DomainError)])
            return outcomes

        try:
            outcomes = self._together(items, receive)
        except _Refused as first:  # rollback: the first refusal rejects the capture
            self._refuse(first.item, first.error)
            raise AssertionError("unreachable") from None  # pragma: no cover
        if outcomes is None:
            return
        for item, outcome in zip(items, outcomes, strict=True):
            if isinstance(outcome, DomainError):
                self._refuse(item, outcome)
                continue
            self._captured(item)
            self.result.ledger.append(outcome)
            self.result.effects.append({"eventIndex": item.index,
                                        "eventID": item.stored["eventID"],
                                        "effect": outcome})

    def _together(self, items: list[_Prepared], work: Callable[[], _T]) -> _T | None:
        """``work`` (a batch use case over ``items``) under one savepoint, flushed: its
        result, or None when it was refused as a whole (a domain error, an eventID captured
        meanwhile), after which the items have run one by one for their own reports. Any
        other exception rolls the savepoint back and goes on."""
        savepoint = self.db.begin_nested()
        try:
            done = work()
            self.db.flush()
        except (DomainError, IntegrityError):
            savepoint.rollback()
            for item in items:
                self._profile_event(item)
            return None
        except BaseException:
            savepoint.rollback()
            raise
        savepoint.commit()
        return done

    def _refuse(self, item: _Prepared, exc: DomainError) -> None:
        """The event's refusal by a chain-of-custody rule, reported as its own."""
        field = exc.details[0].get("field") if exc.details else None
        status = 400 if exc.status_code in (400, 422) else exc.status_code
        self._fail(item, exc.message, status=status,
                   title="The event breaks a chain-of-custody rule",
                   where=_pointer(self.base, item.index, field))

    def flush(self) -> None:
        self._ship()
        self._receive()
        self._flush_plain()

    def _flush_plain(self) -> None:
        items, self.pending = self.pending, []
        if not items:
            return
        try:
            with self.db.begin_nested():
                self._insert(items)
        except IntegrityError:
            # An eventID captured at this very moment by another capture of the same
            # organisation (others' events cannot clash: the index is per capturer).
            if self.behaviour == ROLLBACK:
                raise CaptureRejected("nothing was captured: an eventID of the document was "
                                      "captured concurrently by another request", []) from None
            for item in items:
                try:
                    with self.db.begin_nested():
                        self._insert([item])
                except IntegrityError:
                    self._fail(item, _ALREADY, status=409, type_=DUPLICATE)
                else:
                    self._captured(item)
            return
        for item in items:
            self._captured(item)

    def _profile_event(self, item: _Prepared) -> None:
        savepoint = self.db.begin_nested()
        try:
            self._insert([item])
            event = _profiled(item)
            if item.row["error_declaration"]:
                note = corrections.declare(self.db, self.actor, event)
            else:
                note = profile.apply_event(self.db, self.actor, event)
            self.db.flush()
        except DomainError as exc:
            savepoint.rollback()
            self._refuse(item, exc)
            return
        except IntegrityError:
            savepoint.rollback()
            self._fail(item, _ALREADY, status=409, type_=DUPLICATE)
            return
        except BaseException:
            savepoint.rollback()
            raise
        savepoint.commit()
        self._captured(item)
        if note:
            self.result.ledger.append(note)
            self.result.effects.append({"eventIndex": item.index,
                                        "eventID": item.stored["eventID"], "effect": note})


_T = TypeVar("_T")


class _Refused(Exception):
    """A receipt of the group refused under ``rollback``."""

    def __init__(self, item: _Prepared, error: DomainError) -> None:
        super().__init__(error.message)
        self.item, self.error = item, error


def _profiled(item: _Prepared) -> dict[str, Any]:
    """The event as the profile sees it: with the document's @context and its own."""
    return {"@context": item.context, **item.stored} if item.context else item.stored


def capture_document(db: Session, actor: Actor, document: dict[str, Any],
                     behaviour: str = ROLLBACK, *, issues: list[Issue] | None = None,
                     validation: Validation | None = None,
                     job_id: uuid.UUID | None = None, indexes: range | None = None,
                     captured_before: frozenset[str] = frozenset()) -> CaptureResult:
    """Capture every event of an EPCISDocument (or EPCISQueryDocument); see the module
    docstring. ``issues``: validation already done (by the request), else it runs here.

    ``indexes``: capture only the events at these positions (one chunk of a long
    ``proceed`` job, each committed on its own; errors still name the document's
    positions). ``captured_before``: eventIDs that this same job stored in a chunk
    committed before a restart; they count as captured, not as duplicates."""
    actor = require_capturer(actor)
    if behaviour not in BEHAVIOURS:
        raise EpcisProblem(400, f"GS1-Capture-Error-Behaviour must be one of "
                           f"{', '.join(BEHAVIOURS)}")
    if issues is None:
        issues = (validation or default_validation()).document_issues(document)
    events = rules.event_list(document) if isinstance(document, dict) else None
    document_level = [problem(400, f"{i.pointer or '/'}: {i.message}", instance=f"#{i.pointer}",
                              path=i.pointer) for i in issues if i.index is None]
    if events is None or document_level:
        raise CaptureRejected("the document is not a valid EPCIS 2.0 document; nothing was "
                              "captured", document_level)
    path = rules.event_list_path(document) or ()
    base = "/" + "/".join(path)
    result = CaptureResult(event_count=len(events))
    skipped = {i.index for i in issues}
    wanted = indexes if indexes is not None else range(len(events))
    result.errors = [event_problem(i.index, events[i.index], i.pointer, i.message)
                     for i in issues if i.index is not None and i.index < len(events)
                     and i.index in wanted]
    if result.errors and behaviour == ROLLBACK:
        raise CaptureRejected(f"{len(skipped)} of {len(events)} events are not valid; nothing "
                              "was captured", result.errors)
    context = document.get("@context")
    prefixes = rules.declared_prefixes(context)
    now = clock.now()
    common = {"organization_id": actor.organization_id, "job_id": job_id,
              "context_id": _context_id(db, context)}
    ours = platform_prefixes(prefixes)
    prepared: list[_Prepared] = []
    seen: dict[tuple[str, bool], int] = {}
    record_time = rules.format_time(now)
    for index, event in enumerate(events):
        if index in skipped or index not in wanted:
            continue
        try:
            own = event.get("@context") if isinstance(event, dict) else None
            if own is None:
                item = _prepare(index, event, prefixes, record_time, now, common, ours)
                item.context = context
            else:  # the event's own @context: its prefixes too, kept with it
                mine = merged_context(context, own)
                declared = {**prefixes, **rules.declared_prefixes(own)}
                item = _prepare(index, event, declared, record_time, now,
                                {**common, "context_id": _context_id(db, mine)},
                                platform_prefixes(declared))
                item.context = mine
        except ValueError as exc:
            result.errors.append(event_problem(index, event, f"{base}/{index}/eventTime",
                                               str(exc)))
            continue
        key = _key(item)
        if key in seen:
            result.errors.append(event_problem(
                index, item.stored, f"{base}/{index}/eventID",
                f"the same eventID is given to event {seen[key]} of this document",
                status=409, type_=DUPLICATE))
            continue
        seen[key] = index
        prepared.append(item)
    known = repo.existing_event_ids(db, list(seen), organization_id=actor.organization_id)
    resumed = {key for key in known if key[0] in captured_before}
    if resumed:
        for item in prepared:
            if _key(item) in resumed:
                result.captured += 1
                result.event_ids.append(item.stored["eventID"])
        prepared = [item for item in prepared if _key(item) not in resumed]
        known -= resumed
    if known:
        for item in prepared:
            if _key(item) in known:
                result.errors.append(event_problem(
                    item.index, item.stored, f"{base}/{item.index}/eventID",
                    _ALREADY, status=409, type_=DUPLICATE))
        prepared = [item for item in prepared if _key(item) not in known]
    prepared = _declarable(db, actor, prepared, seen, result, base)
    if result.errors and behaviour == ROLLBACK:
        raise CaptureRejected(f"{len(result.errors)} problem(s) in the document; nothing was "
                              "captured", result.errors)
    writer = _Writer(db, actor, behaviour, _party_organizations(db, prepared), result, base,
                     context)
    outer = db.begin_nested()
    try:
        if indexes is None or 0 in indexes:
            _store_master_data(db, actor, document, prefixes)
        with facilities.resolutions_remembered(), custody_common.lookups_remembered():
            for item in corrections.order(prepared):
                writer.add(item)
            writer.flush()
    except BaseException:
        outer.rollback()
        raise
    outer.commit()
    result.errors.sort(key=lambda e: e.get("eventIndex", -1))
    return result


def _store_master_data(db: Session, actor: Actor, document: dict[str, Any],
                       prefixes: dict[str, str]) -> None:
    try:
        master_data.store(db, actor, document, prefixes)
    except InvalidInput as exc:
        where = str(exc.details[0].get("field")) if exc.details else ""
        raise CaptureRejected(f"nothing was captured: {exc.message}", [problem(
            400, exc.message, instance=f"#{where}", path=where)]) from None


def _declarable(db: Session, actor: Actor, prepared: list[_Prepared],
                seen: dict[tuple[str, bool], int], result: CaptureResult,
                base: str) -> list[_Prepared]:
    """The prepared events less the error declarations the capturer may not make: only
    the member that captured an event may declare an error in it."""
    declared = [item for item in prepared if item.row["error_declaration"]]
    if not declared:
        return prepared
    ids = [item.row["event_id"] for item in declared
           if (item.row["event_id"], False) not in seen]
    others = repo.event_ids_captured_by_others(db, ids, organization_id=actor.organization_id)
    refused = {item.index for item in declared if item.row["event_id"] in others}
    for item in declared:
        if item.index in refused:
            result.errors.append(event_problem(
                item.index, item.stored, f"{base}/{item.index}/errorDeclaration",
                "only the member that captured the event may declare an error in it",
                status=403))
    return [item for item in prepared if item.index not in refused]


def capture_event(db: Session, actor: Actor, event: Any,
                  validation: Validation | None = None) -> CaptureResult:
    """Capture one event on its own (``POST /epcis/events``): all or nothing, and 409 when
    the capturer captured its eventID (given, or the hash id) before."""
    actor = require_capturer(actor)
    issues = (validation or default_validation()).event_issues(event)
    if issues:
        errors = [event_problem(0, event, i.pointer, i.message) for i in issues]
        raise EpcisProblem(400, "the event is not a valid EPCIS 2.0 event: "
                           f"{errors[0]['detail']}", errors=errors)
    document = {"@context": event.get("@context"), "type": "EPCISDocument",
                "schemaVersion": "2.0", "creationDate": rules.format_time(clock.now()),
                "epcisBody": {"eventList": [event]}}
    return capture_document(db, actor, document, ROLLBACK, issues=[])
