"""EPCIS 2.0 REST bindings of named queries and subscriptions under ``/epcis/queries``
(registered on the ``/epcis`` router by ``register``), and the WebSocket stream of a named
query's events (``ws_router``: ``GET /epcis/queries/{name}/events`` upgraded)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, BackgroundTasks, Depends, Path, Query, Request, WebSocket
from fastapi.responses import JSONResponse, Response
from starlette.websockets import WebSocketDisconnect

from stewardship.core import clock
from stewardship.core.auth import Actor
from stewardship.core.config import Settings
from stewardship.core.db import transaction
from stewardship.core.errors import DomainError, Unauthenticated
from stewardship.core.web import DbSession, OptionalActor, settings_of
from stewardship.interop.epcis import named, store, subscriptions
from stewardship.interop.epcis import xml as epcis_xml
from stewardship.interop.epcis.problems import PROBLEM_JSON, SERVED_TYPES, XML_SERVED, accepts
from stewardship.interop.epcis.schedule import FIELDS, ScheduleError, parse_schedule

_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object"}}}}}
_LINK = {"Link": {"description": 'The next page: `<url>; rel="next"`',
                  "schema": {"type": "string"}}}
PerPage = Annotated[int, Query(alias="perPage", ge=1, le=1000)]
PageToken = Annotated[str | None, Query(alias="nextPageToken", max_length=400)]


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    text = {400: "Not a valid query or subscription (problem document)",
            401: "No valid bearer token", 403: "Your role may not use named queries",
            404: "No such query of yours", 409: "You have a query of this name already",
            413: "A query over the bounds", 415: "Not JSON"}
    return {s: {"description": text[s], "content": {PROBLEM_JSON: {}}} for s in statuses}


def _schema_path(settings: Settings) -> Any:
    return settings.epcis_query_schema


async def _body(request: Request) -> tuple[str, Any]:
    """The JSON body, read as the ``/epcis`` router reads every body (size, media type)."""
    from stewardship.interop.epcis_api import read_json_body  # the router imports this module

    return await read_json_body(request)


Body = Annotated[tuple[str, Any], Depends(_body)]


def register(router: APIRouter) -> None:
    """Add the named-query and subscription routes to the ``/epcis`` router."""

    @router.post("/queries", status_code=201, summary="Create a named query",
                 responses=_problems(400, 401, 403, 409, 413, 415), openapi_extra=_BODY)
    def create_query(request: Request, db: DbSession, actor: OptionalActor,
                     body: Body) -> JSONResponse:
        """Save an EPCIS Query Language query (`{"name": ..., "query": {...}}`, the query
        checked against GS1's query schema) under a name of your organisation; 201 with
        `Location: /epcis/queries/{name}`. 409 when you have one of that name."""
        settings = settings_of(request)
        row = named.create(db, actor, body[1], settings, _schema_path(settings))
        return JSONResponse(named.definition(row), status_code=201,
                            headers={"Location": f"/epcis/queries/{row.name}"})

    @router.get("/queries", summary="Your named queries",
                responses={**_problems(400, 401, 403),
                           200: {"description": "One page, by name", "headers": _LINK}})
    def list_queries(request: Request, db: DbSession, actor: OptionalActor,
                     per_page: PerPage = 30, next_page: PageToken = None) -> JSONResponse:
        """Your organisation's named queries by name, `perPage` at a time; the next page
        is in the `Link` header (`nextPageToken`)."""
        found, token = named.listing(db, actor, per_page, next_page)
        headers = {}
        if token is not None:
            url = request.url.include_query_params(perPage=per_page, nextPageToken=token)
            headers["Link"] = f'<{url}>; rel="next"'
        return JSONResponse(found, headers=headers)

    @router.get("/queries/{queryName}", summary="One named query",
                responses=_problems(400, 401, 403, 404))
    def get_query(db: DbSession, actor: OptionalActor,
                  query_name: Annotated[str, named_path()]) -> dict[str, Any]:
        """The query's name and definition; 404 unless it is your organisation's."""
        return named.definition(named.get(db, actor, query_name))

    @router.delete("/queries/{queryName}", status_code=204, response_class=Response,
                   summary="Delete a named query and its subscriptions",
                   responses=_problems(400, 401, 403, 404))
    def delete_query(db: DbSession, actor: OptionalActor,
                     query_name: Annotated[str, named_path()]) -> Response:
        """Delete the query and every subscription to it."""
        named.remove(db, actor, query_name)
        return Response(status_code=204)

    @router.get("/queries/{queryName}/events", summary="The events of a named query",
                responses={**_problems(400, 401, 403, 404, 413),
                           200: {"description": "An EPCISQueryDocument", "headers": _LINK}})
    def query_events(request: Request, db: DbSession, actor: OptionalActor,
                     query_name: Annotated[str, named_path()]) -> JSONResponse:
        """Run the query: the events it matches that you may see, as an
        EPCISQueryDocument, `perPage` at a time (`nextPageToken` in the `Link` header).
        Upgraded to a WebSocket (`stream=true`, or schedule parameters) it sends them as
        they are captured or at the scheduled times."""
        document, next_query = named.run(db, actor, query_name,
                                         request.query_params.multi_items(),
                                         settings_of(request))
        headers = {}
        if next_query is not None:
            headers["Link"] = f'<{request.url.replace(query=next_query)}>; rel="next"'
        return JSONResponse(document, headers=headers)

    @router.post("/queries/{queryName}/subscriptions", status_code=201,
                 summary="Subscribe a webhook to a named query",
                 responses=_problems(400, 401, 403, 404, 415), openapi_extra=_BODY)
    def subscribe(request: Request, db: DbSession, actor: OptionalActor, body: Body,
                  query_name: Annotated[str, named_path()],
                  background: BackgroundTasks) -> JSONResponse:
        """`{"dest": url, "signatureToken": secret, "stream": true}` or with a `schedule`
        (GS1's query schedule; `reportIfEmpty`); `format` (`application/json`, the default,
        `application/ld+json`, or `application/xml` / `text/xml` for GS1's XML binding)
        is what the deliveries are sent as. Deliveries are POSTs of
        EPCISQueryDocuments signed `GS1-Signature: sha256=<hex HMAC-SHA256 of the body>`
        with the signatureToken, retried with exponential back-off; the destination must
        be allowed by the platform (internal addresses are refused). 201 with
        `Location`; the secret is never shown again."""
        sub = subscriptions.subscribe(db, actor, query_name, body[1], settings_of(request))
        background.add_task(subscriptions.wake, request.app.state)
        location = f"/epcis/queries/{query_name}/subscriptions/{sub.id}"
        return JSONResponse(subscriptions.response(sub), status_code=201,
                            headers={"Location": location})

    @router.get("/queries/{queryName}/subscriptions", summary="The subscriptions of a query",
                responses=_problems(400, 401, 403, 404))
    def list_subscriptions(db: DbSession, actor: OptionalActor,
                           query_name: Annotated[str, named_path()]) -> list[dict[str, Any]]:
        """Every subscription to your query, oldest first."""
        return subscriptions.listing(db, actor, query_name)

    @router.get("/queries/{queryName}/subscriptions/{subscriptionID}",
                summary="One subscription and its delivery log",
                responses=_problems(400, 401, 403, 404))
    def get_subscription(db: DbSession, actor: OptionalActor,
                         query_name: Annotated[str, named_path()],
                         subscription_id: Annotated[str, sub_path()]) -> dict[str, Any]:
        """The subscription and its latest delivery attempts (`deliveries`, newest first:
        time, attempt, event count, outcome `delivered`/`failed`/`given_up`, status, error)."""
        return subscriptions.show(db, actor, query_name, subscription_id)

    @router.delete("/queries/{queryName}/subscriptions/{subscriptionID}", status_code=204,
                   response_class=Response, summary="Unsubscribe",
                   responses=_problems(400, 401, 403, 404))
    def delete_subscription(db: DbSession, actor: OptionalActor,
                            query_name: Annotated[str, named_path()],
                            subscription_id: Annotated[str, sub_path()]) -> Response:
        """End the subscription (its delivery log goes with it)."""
        subscriptions.unsubscribe(db, actor, query_name, subscription_id)
        return Response(status_code=204)


def named_path() -> Any:
    return Path(alias="queryName", max_length=100)


def sub_path() -> Any:
    return Path(alias="subscriptionID", max_length=60)


# --- the WebSocket stream ---------------------------------------------------------------------

ws_router = APIRouter()
POLICY = 1008


def _open(app: Any, token: str | None, name: str) -> tuple[Actor, Any, int]:
    """The caller, their query and the last event captured so far (what the stream
    starts after), in a unit of work of its own; else a DomainError."""
    with transaction(app.state.sessionmaker, write=False) as db:
        actor = app.state.actor_resolver(db, "bearer", token) if token else None
        if actor is None:
            raise Unauthenticated("sign in with a bearer token")
        query = named.get(db, actor, name)
        db.expunge(query)
        return actor, query, store.last_event_pk(db)


def _fetch(app: Any, actor: Actor, query: Any, after: int, settings: Settings,
           name: str) -> tuple[dict[str, Any] | None, int]:
    with transaction(app.state.sessionmaker, write=False) as db:
        rows = subscriptions.new_events(db, actor, query, after, settings)
        if not rows:
            return None, after
        doc = subscriptions.document(db, [(b, c) for _, b, c in rows], name, "websocket")
        return doc, rows[-1][0]


@ws_router.websocket("/epcis/queries/{queryName}/events")
async def stream(websocket: WebSocket, queryName: str) -> None:
    """GS1's WebSocket subscription: `stream=true` sends each batch of matching events
    captured since the connection opened; schedule parameters (`second`, `minute`...,
    `reportIfEmpty`) send what was captured since the last send at those times. Messages
    are JSON text, or GS1's XML EPCISQueryDocument when the handshake's `Accept` ranks
    `application/xml` (or `text/xml`) above JSON."""
    app = websocket.app
    settings: Settings = app.state.settings
    params = dict(websocket.query_params)
    header = websocket.headers.get("authorization", "")
    token = header.partition(" ")[2].strip() if header.lower().startswith("bearer ") else None
    try:
        actor, query, cursor = await to_thread.run_sync(_open, app, token, queryName)
    except DomainError as exc:
        await websocket.close(code=POLICY, reason=exc.message[:120])
        return
    accept = websocket.headers.get("accept", "")
    if accept.strip() and not accepts(accept, SERVED_TYPES + XML_SERVED):
        await websocket.close(code=POLICY, reason="messages are sent as application/json, "
                              "application/ld+json or application/xml")
        return
    as_xml = epcis_xml.prefers_xml(accept)
    stream_on = params.get("stream", "").lower() == "true"
    given = {name: params[name] for name, _, _ in FIELDS if name in params}
    report_empty = params.get("reportIfEmpty", "").lower() == "true"
    if stream_on == bool(given):
        await websocket.close(code=POLICY, reason="set stream=true or a schedule, not both")
        return
    schedule = None
    if given:
        try:
            schedule = parse_schedule(given)
        except ScheduleError as exc:
            await websocket.close(code=POLICY, reason=exc.message[:120])
            return
    await websocket.accept()
    loop = asyncio.get_running_loop()
    woken = asyncio.Event()
    subscriptions.listen(loop, woken)
    closed = asyncio.create_task(_until_closed(websocket))
    try:
        due: datetime | None = schedule.next_after(clock.now()) if schedule else None
        while not closed.done():
            if due is None:
                wait = settings.epcis_delivery_poll_seconds
            else:
                wait = max(0.0, (due - clock.now()).total_seconds())
            waker = asyncio.create_task(woken.wait())
            await asyncio.wait({closed, waker}, timeout=wait,
                               return_when=asyncio.FIRST_COMPLETED)
            waker.cancel()
            woken.clear()
            if closed.done():
                break
            if due is not None and clock.now() < due:
                continue
            doc, cursor = await to_thread.run_sync(_fetch, app, actor, query, cursor,
                                                   settings, queryName)
            if doc is None and due is not None and report_empty:
                doc = subscriptions.empty_document(queryName, "websocket")
            if doc is not None and as_xml:
                await websocket.send_text(epcis_xml.query_document(doc).decode("utf-8"))
            elif doc is not None:
                await websocket.send_json(doc)
            if schedule is not None:
                due = schedule.next_after(clock.now())
    finally:
        subscriptions.unlisten(loop, woken)
        closed.cancel()
        with contextlib.suppress(Exception):
            await websocket.close()


async def _until_closed(websocket: WebSocket) -> None:
    try:
        while True:
            await websocket.receive_text()
    except (WebSocketDisconnect, RuntimeError):
        return
