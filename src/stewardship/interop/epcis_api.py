"""EPCIS 2.0 REST bindings under ``/epcis``: discovery (``GET /epcis``, ``OPTIONS`` on every
resource), capture (asynchronous documents and single events), capture jobs, the event
query, single events, and the top-level resources (``eventTypes``, ``epcs``, ``bizSteps``,
``bizLocations``, ``readPoints``, ``dispositions``) with their events. Errors are RFC 7807
problem documents, unknown paths and methods included; every response carries the GS1
version headers, and the request's version and ``Accept`` headers are honoured (406).
Sign in with a bearer token."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, BackgroundTasks, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from stewardship.core.auth import Actor
from stewardship.core.config import Settings
from stewardship.core.web import DbSession, OptionalActor, settings_of
from stewardship.interop.epcis import capture as capture_service
from stewardship.interop.epcis import (
    jobs,
    master_data,
    queries_api,
    query,
    resources,
    subscriptions,
    xml_master,
)
from stewardship.interop.epcis import xml as epcis_xml
from stewardship.interop.epcis.problems import (
    PROBLEM_JSON,
    VERSION_HEADERS,
    EpcisProblem,
    EpcisRoute,
    negotiate,
)
from stewardship.interop.epcis.validation import Validation, validation_for

# Documented in /api/openapi.json beside the platform's own /api routes; GS1's OpenAPI
# (REST Bindings) remains the reference for the standard's semantics.
_NEGOTIATION: dict[int | str, dict[str, Any]] = {
    400: {"description": "A GS1 version header that is not a version (problem document)",
          "content": {PROBLEM_JSON: {}}},
    406: {"description": "A GS1-EPCIS or GS1-CBV version this repository does not speak, "
                         "or an Accept it cannot send (problem document)",
          "content": {PROBLEM_JSON: {}}}}
router = APIRouter(prefix="/epcis", tags=["EPCIS 2.0"], route_class=EpcisRoute,
                   dependencies=[Depends(negotiate)], responses=_NEGOTIATION)

JSON_TYPES = ("application/json", "application/ld+json")
_PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {PROBLEM_JSON: {}}}
    for status, text in ((400, "Not a valid EPCIS document or query (problem document)"),
                         (401, "No valid bearer token"), (403, "Your role may not do this"),
                         (404, "Not found, or not yours to see"),
                         (409, "You captured an event with this eventID already"),
                         (413, "Over the capture limits"), (415, "Neither JSON nor XML"))}
_QUERY_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **{k: v for k, v in _PROBLEMS.items() if k in (400, 401, 403, 404)},
    413: {"description": "A query over the bounds: more than 200 parameters or 1000 values "
                         "(QueryTooComplexException)", "content": {PROBLEM_JSON: {}}}}
_LINK = {"Link": {"description": 'The next page: `<url>; rel="next"` (absent on the last '
                                 "page)", "schema": {"type": "string"}}}
_JSON_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object"}},
    "application/ld+json": {"schema": {"type": "object"}},
    "application/xml": {"schema": {"type": "string"}},
    "text/xml": {"schema": {"type": "string"}}}}}


def _validation(settings: Settings, request: Request | None = None) -> Validation:
    """GS1's JSON Schema (or structural checks) for JSON; for XML, translated after GS1's
    XSD accepted it, the structural checks of the JSON binding's shape."""
    if request is not None and getattr(request.state, "epcis_xml", False):
        return validation_for(None)
    return validation_for(settings.epcis_schema)


def _xml_wanted(request: Request) -> bool:
    return epcis_xml.prefers_xml(request.headers.get("accept", ""))


def _answer(request: Request, document: dict[str, Any], *, status_code: int = 200,
            headers: dict[str, str] | None = None) -> Response:
    """A query document (or, with ``job``, a capture job) as JSON or, if asked, XML."""
    if not _xml_wanted(request):
        return JSONResponse(document, status_code=status_code, headers=headers)
    if "captureID" in document:
        body = epcis_xml.capture_job(document)
    else:
        body = epcis_xml.query_document(document)
    return Response(body, status_code=status_code, headers=headers,
                    media_type="application/xml")


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
    if media.lower() not in JSON_TYPES + epcis_xml.XML_TYPES:
        raise EpcisProblem(415, f"send EPCIS JSON (application/json or application/ld+json) "
                           f"or XML (application/xml or text/xml), not {media}")
    try:
        raw = await request.body()
    except StarletteHTTPException as exc:
        if exc.status_code == 413:
            raise too_large from None
        raise
    if len(raw) > limit:
        raise too_large
    if media.lower() in epcis_xml.XML_TYPES:
        document = epcis_xml.from_request(raw, settings.epcis_xsd)
        request.state.epcis_xml = True
        return capture_service.dumps(document), document
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
read_json_body = _json_body


def _capturer(actor: OptionalActor) -> Actor:
    return capture_service.require_capturer(actor)


# Declared before the body, so that a caller who may not capture is refused unread.
Capturer = Annotated[Actor, Depends(_capturer)]


def _wake_worker(request: Request) -> None:
    worker = getattr(request.app.state, "epcis_worker", None)
    if worker is not None:
        worker.wake()
    subscriptions.wake(request.app.state)


@router.get("", summary="The top-level resources of this EPCIS repository")
def discovery(request: Request) -> dict[str, Any]:
    """GS1's collection of top-level resources (`member`), with the versions, the active
    validation (GS1's JSON Schema or structural checks), capture limits, the supported
    query parameters and the platform's EPCIS identifiers. Public."""
    settings = settings_of(request)
    return {**resources.collection(list(resources.TOP_LEVEL)),
            **query.discovery(settings, _validation(settings))}


@router.post("/capture", status_code=202, summary="Capture an EPCIS document (asynchronous)",
             responses=_PROBLEMS, openapi_extra=_JSON_BODY)
def capture(request: Request, db: DbSession, actor: Capturer, body: JsonBody,
            background: BackgroundTasks,
            behaviour: Annotated[str, Header(alias="GS1-Capture-Error-Behaviour")] = "rollback",
            ) -> Response:
    """Accept an EPCISDocument (or EPCISQueryDocument) for capture and return the capture
    job (202, `Location: /epcis/capture/{id}`). The document is validated now: a malformed
    or invalid one is refused with a problem document naming each event (index, eventID)
    and JSON path. Events without an eventID get the CBV 2.0 hash id. With
    `GS1-Capture-Error-Behaviour: rollback` (default) nothing is stored if anything fails;
    with `proceed` failing events are skipped and listed in the job's `errors`."""
    settings = settings_of(request)
    text, document = body
    job = jobs.submit_capture(db, actor, text, document, behaviour.strip().lower(),
                              _validation(settings, request), settings)
    background.add_task(_wake_worker, request)
    location = f"/epcis/capture/{job.id}"
    return _answer(request, jobs.job_document(job), status_code=202,
                   headers={"Location": location, **jobs.limit_headers(settings)})


def _next_link(request: Request, next_query: str | None) -> dict[str, str]:
    if next_query is None:
        return {}
    return {"Link": f'<{request.url.replace(query=next_query)}>; rel="next"'}


@router.get("/capture", summary="Your capture jobs", responses={
    **_PROBLEMS, 200: {"description": "One page of capture jobs, newest first",
                       "headers": _LINK}})
def capture_jobs(request: Request, db: DbSession, actor: Capturer,
                 per_page: Annotated[int, Query(alias="perPage", ge=1, le=1000)] = 30,
                 next_page: Annotated[str | None, Query(alias="nextPageToken",
                                                        max_length=400)] = None,
                 ) -> JSONResponse:
    """The capture jobs of your organisation (all, for the secretariat), newest first,
    `perPage` at a time; the next page is in the `Link` header (`nextPageToken`)."""
    found, token = jobs.list_jobs(db, actor, per_page, next_page)
    next_query = None
    if token is not None:
        next_query = urlencode([("perPage", str(per_page)), ("nextPageToken", token)])
    return JSONResponse(found, headers=_next_link(request, next_query))


@router.get("/capture/{capture_id}", summary="One capture job", responses=_PROBLEMS)
def capture_job(request: Request, capture_id: str, db: DbSession,
                actor: Capturer) -> Response:
    """`running` while queued or being captured; `success` false once an error occurred;
    `errors` lists problem documents naming the events. XML (GS1's `EPCISCaptureJob`)
    with `Accept: application/xml`."""
    return _answer(request, jobs.get_job(db, actor, capture_id))


@router.post("/events", status_code=201, summary="Capture one event (synchronous)",
             responses=_PROBLEMS, openapi_extra=_JSON_BODY)
def capture_event(request: Request, db: DbSession, actor: Capturer,
                  body: JsonBody, background: BackgroundTasks) -> JSONResponse:
    """Capture a single event (with its `@context`): 201 with `Location`, 409 when you
    captured an event with its eventID (given, or the CBV 2.0 hash id) before. EventIDs
    are per capturing organisation: another member's use of the same id is no clash."""
    _, event = body
    if getattr(request.state, "epcis_xml", False):
        event = epcis_xml.single_event(event)
    result = capture_service.capture_event(db, actor, event,
                                           _validation(settings_of(request), request))
    event_id = result.event_ids[0]
    background.add_task(subscriptions.wake, request.app.state)
    return JSONResponse({"eventID": event_id, "ledger": result.ledger}, status_code=201,
                        headers={"Location": f"/epcis/events/{quote(event_id, safe='')}"})


@router.get("/events", summary="Query events (SimpleEventQuery parameters)",
            responses={**_QUERY_PROBLEMS, 200: {"description": "An EPCISQueryDocument",
                                                "headers": _LINK}})
def events(request: Request, db: DbSession, actor: OptionalActor) -> Response:
    """Events you may see, as an EPCISQueryDocument, in capture order unless `orderBy`
    says otherwise. Parameters:
    `eventType`, `GE_/LT_eventTime`, `GE_/LT_recordTime`, `EQ_action`, `EQ_bizStep`,
    `EQ_disposition`, `EQ_readPoint`, `EQ_bizLocation`, `EQ_transformationID`,
    `EQ_eventID`, `MATCH_epc`, `MATCH_parentID`, `MATCH_inputEPC`, `MATCH_outputEPC`,
    `MATCH_anyEPC`, `MATCH_epcClass`, `MATCH_inputEPCClass`, `MATCH_outputEPCClass`,
    `MATCH_anyEPCClass` (values separated by `|`; EPC patterns such as
    `urn:epc:idpat:sgtin:0614141.107346.*` match; an EPC URN matches its GS1 Digital
    Link and the other way round), `WD_readPoint`, `WD_bizLocation`,
    `HASATTR_readPoint/bizLocation`, `EQATTR_readPoint/bizLocation_<attr>` (the master
    data attributes of the location, as the reader's master data give them),
    `EQ_persistentDisposition_set/unset`, `EQ_/GT_/GE_/LT_/LE_quantity[_<uom>]`,
    `EXISTS_errorDeclaration`, `GE_/LT_errorDeclarationTime`, `EQ_errorReason`,
    `EQ_correctiveEventID`, `EQ_bizTransaction_<type>`, `EQ_source_<type>`,
    `EQ_destination_<type>`, the sensor parameters (`EXISTS_sensorElementList`, `EQ_type`,
    `EQ_deviceID`..., `GT_value[_<uom>]`..., `GE_/LT_time`...), the field parameters
    (`EQ_/GT_/GE_/LT_/LE_/EXISTS_` with `INNER_`, `ILMD_`... and a CURIE or IRI),
    `orderBy` (`eventTime`, `recordTime`), `orderDirection`, `eventCountLimit`,
    `maxEventCount`, `perPage` and `nextPageToken` (the next page is in the `Link`
    header). At most 200 parameters holding 1000 values."""
    document, next_query = query.query_events(db, actor, request.query_params.multi_items(),
                                              settings_of(request))
    return _answer(request, document, headers=_next_link(request, next_query))


@router.get("/events/{event_id:path}", summary="One event", responses=_PROBLEMS)
def event(request: Request, event_id: str, db: DbSession, actor: OptionalActor) -> Response:
    """An EPCISQueryDocument with the event of this eventID (URL-encoded), if you may see
    it, and the error its capturer declared in it, if any."""
    return _answer(request, query.get_event(db, actor, event_id))


# --- the top-level resources ----------------------------------------------------------------

_RESOURCE_PARAMETERS = {"eventTypes": "eventType", "epcs": "epc", "bizSteps": "bizStep",
                        "bizLocations": "bizLocation", "readPoints": "readPoint",
                        "dispositions": "disposition"}


def _resource_routes(resource: str, parameter: str) -> None:
    what = resource[0].upper() + resource[1:]
    Value = Annotated[str, Path(alias=parameter, max_length=512,
                                description=f"The {parameter} (URL-encoded)")]

    def listing(request: Request, db: DbSession, actor: OptionalActor) -> JSONResponse:
        found, next_query = resources.list_resource(
            db, actor, resource, request.query_params.multi_items(), settings_of(request))
        return JSONResponse(found, headers=_next_link(request, next_query))

    def events_of(request: Request, value: Value, db: DbSession,
                  actor: OptionalActor) -> Response:
        document, next_query = resources.resource_events(
            db, actor, resource, value, request.query_params.multi_items(),
            settings_of(request))
        return _answer(request, document, headers=_next_link(request, next_query))

    def sub_resources(request: Request, value: Value, db: DbSession,
                      actor: OptionalActor) -> Response:
        found = resources.sub_resources(db, actor, resource, value)
        if resource in master_data.VOCABULARY_OF and _xml_wanted(request):
            return Response(xml_master.master_data_document(found.get("masterData", [])),
                            media_type="application/xml")
        return JSONResponse(found)

    # The path parameter's type is local to this function: give it as an object, not as
    # the name postponed evaluation leaves (FastAPI resolves names in the module).
    events_of.__annotations__["value"] = Value
    sub_resources.__annotations__["value"] = Value
    listing.__doc__ = (f"The {resource} named by the events you may see, as GS1's "
                       "Collection, `perPage` at a time (`nextPageToken` in the `Link` "
                       "header)." + (" The five standard event types are always listed."
                                     if resource == "eventTypes" else ""))
    events_of.__doc__ = (f"An EPCISQueryDocument of the events you may see that name this "
                         f"{parameter}, further restricted by the SimpleEventQuery parameters "
                         "of `GET /epcis/events`; 404 when none of them names it.")
    sub_resources.__doc__ = "Its sub-resources (`events`); 404 when no event you may see " \
                            "names it." + (
                                " With its master data you may see (`masterData`); in XML "
                                "(`Accept: application/xml`) GS1's EPCISMasterDataDocument "
                                "of it." if resource in master_data.VOCABULARY_OF else "")
    page: dict[int | str, dict[str, Any]] = {200: {"description": "One page",
                                                   "headers": _LINK}}
    router.add_api_route(f"/{resource}", listing, methods=["GET"],
                         summary=f"{what}: the collection",
                         responses={**_QUERY_PROBLEMS, **page}, name=f"epcis_{resource}")
    router.add_api_route(f"/{resource}/{{{parameter}:path}}/events", events_of,
                         methods=["GET"], summary=f"{what}: the events of one",
                         responses={**_QUERY_PROBLEMS, **page},
                         name=f"epcis_{resource}_events")
    router.add_api_route(f"/{resource}/{{{parameter}:path}}", sub_resources, methods=["GET"],
                         summary=f"{what}: one, its sub-resources", responses=_PROBLEMS,
                         name=f"epcis_{resource}_one")


for _resource, _parameter in _RESOURCE_PARAMETERS.items():
    _resource_routes(_resource, _parameter)


queries_api.register(router)


# --- OPTIONS on every resource, and problem documents for unknown paths and methods ----------

DISCOVERY_HEADERS = {**VERSION_HEADERS, "GS1-Extensions": "",
                     "GS1-Vendor-Version": "stewardship"}


def _allowed(path: str) -> list[str]:
    """The methods the resource at ``path`` answers (empty: no such resource)."""
    methods: set[str] = set()
    for route in router.routes:
        if isinstance(route, EpcisRoute) and route.name not in _CATCH_ALL and \
                route.path_regex.match(path):
            methods |= set(route.methods or ())
    return sorted(methods | {"OPTIONS"}) if methods else []


def _options_route(path: str) -> None:
    def options(request: Request) -> Response:
        headers = {**DISCOVERY_HEADERS, "Allow": ", ".join(_allowed(request.url.path))}
        if path == "/capture":
            headers.update(jobs.limit_headers(settings_of(request)))
        return Response(status_code=204, headers=headers)

    options.__doc__ = ("The methods this resource answers (`Allow`) and the EPCIS and CBV "
                       "versions, as headers.")
    names = re.findall(r"{(\w+)(?::\w+)?}", path)
    parameters = [{"name": name, "in": "path", "required": True,
                   "schema": {"type": "string"}} for name in names]
    router.add_api_route(path, options, methods=["OPTIONS"], status_code=204,
                         summary="Discover this resource", name=f"epcis_options{path}",
                         response_class=Response,
                         openapi_extra={"parameters": parameters} if parameters else None,
                         responses={204: {"description": "No body: the headers say it",
                                          "headers": {n: {"schema": {"type": "string"}}
                                                      for n in ("Allow", *VERSION_HEADERS)}}})


_CATCH_ALL = frozenset({"epcis_unknown", "epcis_unknown_root"})
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def _unknown(request: Request) -> Response:
    path = request.url.path
    allowed = _allowed(path)
    if not allowed:
        raise EpcisProblem(404, f"nothing is at {path[:200]}; GET /epcis lists the resources")
    raise EpcisProblem(405, f"{path[:200]} answers {', '.join(allowed)}, not "
                       f"{request.method}", headers={"Allow": ", ".join(allowed)})


for _path in dict.fromkeys(route.path.removeprefix("/epcis") for route in router.routes
                           if isinstance(route, EpcisRoute)
                           and "OPTIONS" not in (route.methods or ())):
    _options_route(_path)
router.add_api_route("/{rest:path}", _unknown, methods=_METHODS, include_in_schema=False,
                     name="epcis_unknown")
router.add_api_route("", _unknown, methods=[m for m in _METHODS if m not in ("GET", "OPTIONS")],
                     include_in_schema=False, name="epcis_unknown_root")
