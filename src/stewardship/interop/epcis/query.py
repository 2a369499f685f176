"""Reading the repository: the event query (``GET /epcis/events``), one event, discovery.

Who sees what: an organisation sees the events it captured and those naming it (as
``urn:stewardship:org:<slug>``, or one of its entities as ``urn:stewardship:entity:<id>``)
as owning or possessing party in a source or destination; the secretariat sees all;
nobody else sees any. An event one may not see is "not found", never "forbidden".
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from stewardship.core import clock
from stewardship.core.auth import MEMBER_ROLES, Actor
from stewardship.core.config import Settings
from stewardship.core.errors import NotFound, Unauthenticated
from stewardship.interop import repository as repo
from stewardship.interop import rules
from stewardship.interop.epcis import master_data
from stewardship.interop.epcis import params as field_params
from stewardship.interop.epcis.capture import loads
from stewardship.interop.epcis.problems import EpcisProblem
from stewardship.interop.epcis.validation import Validation


def reader_scope(actor: Actor | None) -> tuple[uuid.UUID | None, bool]:
    if actor is None:
        raise Unauthenticated("sign in (a bearer token) to read EPCIS events")
    organization = actor.organization_id if actor.role in MEMBER_ROLES else None
    return organization, actor.is_secretariat()


def result_context(db: Session, context_ids: list[int | None]) -> list[Any]:
    """The standard context plus every distinct extra entry the events were written in."""
    merged: list[Any] = [rules.STANDARD_CONTEXT]
    for body in repo.contexts(db, [c for c in context_ids if c is not None]).values():
        for item in json.loads(body):
            if item == rules.STANDARD_CONTEXT:  # other URLs are returned as given
                continue
            if item not in merged:
                merged.append(item)
    return merged


def query_document(db: Session, rows: list[tuple[str, int | None]]) -> dict[str, Any]:
    """An EPCISQueryDocument of these events (JSON body, context id)."""
    return {
        "@context": result_context(db, [c for _, c in rows]),
        "type": "EPCISQueryDocument", "schemaVersion": "2.0",
        "creationDate": rules.format_time(clock.now()),
        "epcisBody": {"queryResults": {
            "queryName": "SimpleEventQuery",
            "resultsBody": {"eventList": [loads(body) for body, _ in rows]}}},
    }


def parse(params: list[tuple[str, str]], settings: Settings,
          within: tuple[str, str] | None = None) -> rules.EventQuery:
    """The query, or a problem: 400 for a bad parameter, 413 for one over the bounds."""
    try:
        return rules.parse_query(params, per_page_default=settings.epcis_per_page_default,
                                 per_page_max=settings.epcis_per_page_max, within=within,
                                 fields=field_params)
    except rules.QueryTooComplex as exc:
        raise EpcisProblem(413, exc.message, type_="epcisException:QueryTooComplexException",
                           title="The query is too complex") from None
    except rules.QueryParameterError as exc:
        raise EpcisProblem(400, exc.message, type_="epcisException:QueryParameterException",
                           title="Invalid query parameter") from None


def matching(db: Session, query: rules.EventQuery, *, organization_id: uuid.UUID | None,
             see_all: bool, limit: int) -> list[tuple[int, str, int | None, Any]]:
    """The repository's matching events, the WD_ locations read with their descendants
    and the HASATTR_/EQATTR_ ones found by their attributes (the master data the reader
    may see); ``maxEventCount`` checked first."""
    wd: dict[str, Any] = {
        name: master_data.with_descendants(db, values, organization_id=organization_id,
                                           see_all=see_all) if values else []
        for name, values in (("wd_read_points", query.wd_read_points),
                             ("wd_biz_locations", query.wd_biz_locations))}
    wd["located"] = [(a.field, master_data.with_attribute(
        db, a.field, a.names, a.values, organization_id=organization_id, see_all=see_all))
        for a in query.attributes]
    if query.max_count is not None and repo.count_events(
            db, query, organization_id=organization_id, see_all=see_all,
            up_to=query.max_count + 1, **wd) > query.max_count:
        raise EpcisProblem(413, f"the query matches more than maxEventCount "
                           f"({query.max_count}) events",
                           type_="epcisException:QueryTooLargeException",
                           title="The query result is too large")
    if query.count_limit is not None:
        limit = min(limit, max(query.count_limit - query.seen, 0))
        if limit == 0:
            return []
    return repo.query_events(db, query, organization_id=organization_id, see_all=see_all,
                             limit=limit, **wd)


def query_events(db: Session, actor: Actor | None, params: list[tuple[str, str]],
                 settings: Settings, within: tuple[str, str] | None = None,
                 ) -> tuple[dict[str, Any], str | None]:
    """An EPCISQueryDocument with one page of matching events, and the next page's query
    string (None on the last page). ``within``: only events naming that top-level
    resource instance."""
    organization, see_all = reader_scope(actor)
    query = parse(params, settings, within)
    rows = matching(db, query, organization_id=organization, see_all=see_all,
                    limit=query.per_page + 1)
    more = len(rows) > query.per_page
    rows = rows[:query.per_page]
    document = query_document(db, [(body, context) for _, body, context, _ in rows])
    next_query = None
    if more:
        last = rows[-1]
        token = rules.encode_page_token(
            last[0], query.fingerprint,
            (last[3] if not query.order_keys else rules.EPOCH) if query.order_by else None,
            query.seen + len(rows))
        next_query = urlencode([*query.params, ("perPage", str(query.per_page)),
                                ("nextPageToken", token)])
    return document, next_query


def get_event(db: Session, actor: Actor | None, event_id: str) -> dict[str, Any]:
    """An EPCISQueryDocument with the event of this id and, when its capturer declared an
    error in it, that error declaration."""
    organization, see_all = reader_scope(actor)
    found = repo.events_with_event_id(db, event_id, organization_id=organization,
                                      see_all=see_all)
    if not found:
        raise NotFound(f"no event {event_id} that you may see")
    return query_document(db, found)


def discovery(settings: Settings, validation: Validation) -> dict[str, Any]:
    """What this repository offers: versions, validation, limits, query parameters."""
    return {
        "epcisVersion": "2.0.0", "cbvVersion": "2.0.0",
        "validation": validation.describe(),
        "capture": {"limit": settings.epcis_capture_limit,
                    "fileSizeLimit": settings.epcis_capture_max_bytes,
                    "errorBehaviours": ["rollback", "proceed"],
                    "eventIdWhenMissing": "CBV 2.0 event hash id (ni:///sha-256;...?ver=CBV2.0)"},
        "query": {"parameters": [*rules.SUPPORTED_PARAMETERS, *field_params.STANDARD],
                  "perPageDefault": settings.epcis_per_page_default,
                  "perPageMax": settings.epcis_per_page_max},
        "access": "an organisation sees the events it captured and those naming it as owning "
                  "or possessing party; the secretariat sees all",
        "identifiers": {"facility": rules.URN_FACILITY + "<PUBLIC_ID>",
                        "entity": rules.URN_ENTITY + "<uuid>",
                        "organisation": rules.URN_ORG + "<slug>",
                        "material": rules.URN_MATERIAL + "<asi_bauxite|asi_alumina|"
                                    "asi_aluminium|eligible_scrap>"},
    }
