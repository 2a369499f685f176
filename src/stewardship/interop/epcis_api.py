"""EPCIS 2.0 REST bindings under ``/epcis``: capture (asynchronous documents and single
events), capture jobs, the event query and single events. Errors are RFC 7807 problem
documents; every response carries the GS1 version headers. Sign in with a bearer token."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, BackgroundTasks, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from stewardship.core.auth import Actor
from stewardship.core.config import Settings
from stewardship.core.web import DbSession, OptionalActor, settings_of
from stewardship.interop.epcis import capture as capture_service
from stewardship.interop.epcis import jobs, query
from stewardship.interop.epcis.problems import PROBLEM_JSON, EpcisProblem, EpcisRoute
from stewardship.interop.epcis.validation import Validation, validation_for

# Documented in /api/openapi.json beside the platform's own /api routes; GS1's OpenAPI
# (REST Bindings) remains the reference for the standard's semantics.
router = APIRouter(prefix="/epcis", tags=["EPCIS 2.0"], route_class=EpcisRoute)

JSON_TYPES = ("application/json", "application/ld+json")
_PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {PROBLEM_JSON: {}}}
    for status, text in ((400, "Not a valid EPCIS document or query (problem document)"),
                         (401, "No valid bearer token"), (403, "Your role may not do this"),
                         (404, "Not found, or not yours to see"),
                         (409, "You captured an event with this eventID already"),
                         (413, "Over the capture limits"), (415, "Not JSON"))}
_JSON_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object"}},
    "application/ld+json": {"schema": {"type": "object"}}}}}


def _validation(settings: Settings) -> Validation:
    return validation_for(settings.epcis_schema)


async def _json_body(request: Request) -> tuple[str, Any]:
    """The request body as text and parsed JSON, within the capture file-size limit."""
    settings = settings_of(request)
    limit = settings.epcis_capture_max_bytes
    declared = request.headers.get("content-length", "")
    too_large = EpcisProblem(413, f"the body is larger than {limit} bytes, the capture "
                             "file-size limit", headers=jobs.limit_headers(settings))
    if declared.isdecimal() and int(declared) > limit:
        raise too_large
    media = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if media.lower() not in JSON_TYPES:
        raise EpcisProblem(415, f"send EPCIS JSON (application/json or application/ld+json), "
                           f"not {media}")
    try:
        raw = await request.body()
    except StarletteHTTPException as exc:
        if exc.status_code == 413:
            raise too_large from None
        raise
    if len(raw) > limit:
        raise too_large
    try:
        text = raw.decode("utf-8")
        return text, capture_service.loads(raw)
    except UnicodeDecodeError:
        raise EpcisProblem(400, "the body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise EpcisProblem(400, f"the body is not valid JSON: {exc.msg} at line {exc.lineno}, "
                           f"column {exc.colno} (character {exc.pos})",
                           instance=f"#char={exc.pos}") from None


JsonBody = Annotated[tuple[str, Any], Depends(_json_body)]


def _capturer(actor: OptionalActor) -> Actor:
    return capture_service.require_capturer(actor)


# Declared before the body, so that a caller who may not capture is refused unread.
Capturer = Annotated[Actor, Depends(_capturer)]


def _wake_worker(request: Request) -> None:
    worker = getattr(request.app.state, "epcis_worker", None)
    if worker is not None:
        worker.wake()


@router.get("", summary="Discover this EPCIS repository")
def discovery(request: Request) -> dict[str, Any]:
    """Versions, the active validation (GS1's JSON Schema or structural checks), capture
    limits, the supported query parameters and the platform's EPCIS identifiers. Public."""
    settings = settings_of(request)
    return query.discovery(settings, _validation(settings))


@router.options("/capture", status_code=204, summary="Discover the capture interface")
def capture_options(request: Request) -> Response:
    """The capture limits and error behaviours, as headers."""
    headers = {"Allow": "OPTIONS, POST, GET", **jobs.limit_headers(settings_of(request))}
    return Response(status_code=204, headers=headers)


@router.post("/capture", status_code=202, summary="Capture an EPCIS document (asynchronous)",
             responses=_PROBLEMS, openapi_extra=_JSON_BODY)
def capture(request: Request, db: DbSession, actor: Capturer, body: JsonBody,
            background: BackgroundTasks,
            behaviour: Annotated[str, Header(alias="GS1-Capture-Error-Behaviour")] = "rollback",
            ) -> JSONResponse:
    """Accept an EPCISDocument (or EPCISQueryDocument) for capture and return the capture
    job (202, `Location: /epcis/capture/{id}`). The document is validated now: a malformed
    or invalid one is refused with a problem document naming each event (index, eventID)
    and JSON path. Events without an eventID get the CBV 2.0 hash id. With
    `GS1-Capture-Error-Behaviour: rollback` (default) nothing is stored if anything fails;
    with `proceed` failing events are skipped and listed in the job's `errors`."""
    settings = settings_of(request)
    text, document = body
    job = jobs.submit_capture(db, actor, text, document, behaviour.strip().lower(),
                              _validation(settings), settings)
    background.add_task(_wake_worker, request)
    location = f"/epcis/capture/{job.id}"
    return JSONResponse(jobs.job_document(job), status_code=202,
                        headers={"Location": location, **jobs.limit_headers(settings)})


@router.get("/capture", summary="Your capture jobs", responses=_PROBLEMS)
def capture_jobs(request: Request, db: DbSession, actor: Capturer,
                 per_page: Annotated[int, Query(alias="perPage", ge=1, le=1000)] = 30,
                 ) -> list[dict[str, Any]]:
    """The latest capture jobs of your organisation (all, for the secretariat)."""
    return jobs.list_jobs(db, actor, per_page)


@router.get("/capture/{capture_id}", summary="One capture job", responses=_PROBLEMS)
def capture_job(capture_id: str, db: DbSession, actor: Capturer) -> dict[str, Any]:
    """`running` while queued or being captured; `success` false once an error occurred;
    `errors` lists problem documents naming the events."""
    return jobs.get_job(db, actor, capture_id)


@router.post("/events", status_code=201, summary="Capture one event (synchronous)",
             responses=_PROBLEMS, openapi_extra=_JSON_BODY)
def capture_event(request: Request, db: DbSession, actor: Capturer,
                  body: JsonBody) -> JSONResponse:
    """Capture a single event (with its `@context`): 201 with `Location`, 409 when you
    captured an event with its eventID (given, or the CBV 2.0 hash id) before. EventIDs
    are per capturing organisation: another member's use of the same id is no clash."""
    _, event = body
    result = capture_service.capture_event(db, actor, event, _validation(settings_of(request)))
    event_id = result.event_ids[0]
    return JSONResponse({"eventID": event_id, "ledger": result.ledger}, status_code=201,
                        headers={"Location": f"/epcis/events/{quote(event_id, safe='')}"})


@router.get("/events", summary="Query events (SimpleEventQuery parameters)",
            responses=_PROBLEMS)
def events(request: Request, db: DbSession, actor: OptionalActor) -> JSONResponse:
    """Events you may see, as an EPCISQueryDocument, in capture order. Parameters:
    `eventType`, `GE_/LT_eventTime`, `GE_/LT_recordTime`, `EQ_action`, `EQ_bizStep`,
    `EQ_disposition`, `EQ_readPoint`, `EQ_bizLocation`, `EQ_transformationID`,
    `EQ_eventID`, `MATCH_epc`, `MATCH_parentID`, `MATCH_inputEPC`, `MATCH_outputEPC`,
    `MATCH_anyEPC`, `MATCH_epcClass`, `MATCH_inputEPCClass`, `MATCH_outputEPCClass`,
    `MATCH_anyEPCClass` (values separated by `|`; EPC patterns such as
    `urn:epc:idpat:sgtin:0614141.107346.*` match), `perPage` and `nextPageToken` (the
    next page is in the `Link` header)."""
    document, next_query = query.query_events(db, actor, request.query_params.multi_items(),
                                              settings_of(request))
    headers = {}
    if next_query is not None:
        headers["Link"] = f'<{request.url.replace(query=next_query)}>; rel="next"'
    return JSONResponse(document, headers=headers)


@router.get("/events/{event_id:path}", summary="One event", responses=_PROBLEMS)
def event(event_id: str, db: DbSession, actor: OptionalActor) -> dict[str, Any]:
    """The event with this eventID (URL-encoded), if you may see it."""
    return query.get_event(db, actor, event_id)
