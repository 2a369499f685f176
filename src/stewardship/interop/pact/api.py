"""The WBCSD PACT data-exchange API under ``/pact``: v3 (``/pact/3/...``) and, for older
partners, v2 (``/pact/2/...``), with the OAuth2 token endpoint ``/pact/auth/token`` both
share. HTTPS only (plain HTTP is refused with 403 AccessDenied, never redirected, unless
``STEWARDSHIP_PACT_ALLOW_HTTP`` is set for local work); every error, unknown paths and
methods included, is PACT's ``{"code", "message"}``.

These routes are not in /api/openapi.json: PACT's own OpenAPI documents (3.0 and 2.x)
describe them, and the README names what the platform adds (the client credentials, the
CoC extension, the events address).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from stewardship.core.web import DbSession, public_base_url, settings_of, use_error_shape
from stewardship.interop.pact import rules
from stewardship.interop.pact.models import PactClient
from stewardship.interop.pact.service import clients, events, footprints

CODES = {400: "BadRequest", 401: "AccessDenied", 403: "AccessDenied", 404: "NotFound",
         405: "BadRequest", 413: "BadRequest", 415: "BadRequest", 422: "BadRequest",
         429: "BadRequest", 501: "NotImplemented"}
EVENT_TYPES = ("application/cloudevents+json", "application/json")


def pact_error_response(request: Request, status: int, message: str,
                        headers: dict[str, str] | None = None) -> Response:
    """Any error under /pact in PACT's shape (a validation error is PACT's 400)."""
    status = 400 if status == 422 else status
    code = CODES.get(status, "InternalError")
    if status == 404 and request.url.path.startswith("/pact/2/"):
        code = "NoSuchFootprint"
    return JSONResponse({"code": code, "message": message}, status_code=status,
                        headers=headers)


async def _pact_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, rules.PactError)
    return JSONResponse(exc.body(), status_code=exc.status,
                        headers={**exc.headers, "Cache-Control": "no-store"})


def install(app: FastAPI) -> None:
    """Mount the router and answer every /pact error in PACT's shape."""
    app.add_exception_handler(rules.PactError, _pact_error)
    use_error_shape(app, "/pact", pact_error_response)
    app.include_router(router)
    app.include_router(public)


def _https_only(request: Request) -> None:
    if request.url.scheme != "https" and not settings_of(request).pact_allow_http:
        raise rules.PactError(403, "AccessDenied", "the PACT API answers over HTTPS only: "
                              "send the request to the https:// address")


router = APIRouter(prefix="/pact", include_in_schema=False,
                   dependencies=[Depends(_https_only)])
public = APIRouter(prefix="/pact", include_in_schema=False)


def _client(request: Request, db: DbSession) -> PactClient:
    return clients.client_for(db, request.headers.get("authorization", ""),
                              settings_of(request).secret_key)


Client = Annotated[PactClient, Depends(_client)]


def _schema_url(request: Request) -> str:
    return public_base_url(request) + rules.EXTENSION_PATH


@router.get("/.well-known/openid-configuration")
def discovery(request: Request) -> dict[str, Any]:
    """Where to get a token (OpenID Connect discovery, as PACT clients look for it)."""
    base = public_base_url(request) + "/pact"
    return {"issuer": base, "token_endpoint": f"{base}/auth/token",
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "scopes_supported": clients.SCOPES.split()}


async def _grant_type(request: Request) -> str | None:
    try:
        form = await request.form()
    except Exception:  # a body that is no form: the grant type is missing
        return None
    grant = form.get("grant_type")
    return grant if isinstance(grant, str) else None


@router.post("/auth/token")
def token(request: Request, db: DbSession,
          grant_type: Annotated[str | None, Depends(_grant_type)]) -> Response:
    """OAuth2 client credentials (RFC 6749 §4.4): HTTP Basic with the client id and
    secret, form body ``grant_type=client_credentials``; a bearer token for
    ``pact_token_minutes``."""
    settings = settings_of(request)
    issued = clients.issue_token(db, request.headers.get("authorization", ""), grant_type,
                                 settings.secret_key, settings.pact_token_minutes)
    return JSONResponse({"access_token": issued.access_token, "token_type": "bearer",
                         "expires_in": issued.expires_in, "scope": clients.SCOPES},
                        headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


# --- v3 -------------------------------------------------------------------------------------


@router.get("/3/footprints")
def list_v3(request: Request, db: DbSession, client: Client) -> Response:
    """ListFootprints: offset/limit pages (next page in ``Link``); the filters productId,
    companyId, geography, classification, status (each repeatable, OR within one) and
    validOn, validAfter, validBefore, AND across them."""
    settings = settings_of(request)
    filters = rules.parse_filters(request.query_params.multi_items())
    page = footprints.list_footprints(db, client, filters, version=3,
                                      schema_url=_schema_url(request),
                                      default_limit=settings.pact_page_size)
    return _page(request, page, filters, "/pact/3/footprints")


def _page(request: Request, page: footprints.FootprintPage, filters: rules.Filters,
          path: str) -> Response:
    headers = {}
    if page.next_offset is not None:
        headers["Link"] = rules.next_link(public_base_url(request) + path, filters,
                                          page.next_offset, page.limit)
    return JSONResponse({"data": page.items}, headers=headers)


@router.get("/3/footprints/{footprint_id}")
def get_v3(request: Request, db: DbSession, client: Client, footprint_id: str) -> Response:
    """GetFootprint."""
    found = footprints.get_footprint(db, client, footprint_id, version=3,
                                     schema_url=_schema_url(request))
    return JSONResponse({"data": found})


async def _event_body(request: Request) -> Any:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in EVENT_TYPES:
        raise rules.bad_request("send the event as application/cloudevents+json (or "
                                f"application/json), not {media or 'no content type'}")
    raw = await request.body()
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise rules.bad_request("the body is not a JSON CloudEvent") from None


EventBody = Annotated[Any, Depends(_event_body)]


def _wake_sender(request: Request) -> None:
    sender = getattr(request.app.state, "pact_sender", None)
    if sender is not None:
        sender.wake()


def _take_event(request: Request, db: DbSession, client: PactClient, body: Any,
                version: int, background: BackgroundTasks) -> Response:
    done = events.receive_event(db, client, body, version=version,
                                source=public_base_url(request) + "/pact",
                                schema_url=_schema_url(request),
                                https_only=settings_of(request).environment == "production")
    if done == "queued":
        background.add_task(_wake_sender, request)
    return JSONResponse({}, status_code=200)


@router.post("/3/events")
def events_v3(request: Request, db: DbSession, client: Client, body: EventBody,
              background: BackgroundTasks) -> Response:
    """A CloudEvent: RequestCreated (answered later at the client's events address with
    RequestFulfilled or RequestRejected) or Published (acknowledged)."""
    return _take_event(request, db, client, body, 3, background)


# --- v2 -------------------------------------------------------------------------------------


@router.get("/2/footprints")
def list_v2(request: Request, db: DbSession, client: Client) -> Response:
    """ListFootprints (v2): ``limit`` pages, the next in ``Link``; ``$filter`` is not
    implemented."""
    settings = settings_of(request)
    items = request.query_params.multi_items()
    if any(name == "$filter" for name, _ in items):
        raise rules.PactError(400, "NotImplemented", "$filter is not implemented; list "
                              "without it, or use the v3 filters at /pact/3/footprints")
    unknown = sorted({name for name, _ in items} - {"limit", "offset"})
    if unknown:
        raise rules.bad_request(f"unknown query parameter(s): {', '.join(unknown)}; the v2 "
                                "list takes limit (and offset, in its next-page links)")
    filters = rules.parse_filters(items)
    page = footprints.list_footprints(db, client, filters, version=2,
                                      schema_url=_schema_url(request),
                                      default_limit=settings.pact_page_size)
    return _page(request, page, filters, "/pact/2/footprints")


@router.get("/2/footprints/{footprint_id}")
def get_v2(request: Request, db: DbSession, client: Client, footprint_id: str) -> Response:
    """GetFootprint (v2)."""
    found = footprints.get_footprint(db, client, footprint_id, version=2,
                                     schema_url=_schema_url(request))
    return JSONResponse({"data": found})


@router.post("/2/events")
def events_v2(request: Request, db: DbSession, client: Client, body: EventBody,
              background: BackgroundTasks) -> Response:
    """A v2 CloudEvent: ProductFootprintRequest.Created.v1 (answered later with
    Fulfilled.v1 or Rejected.v1) or ProductFootprint.Published.v1 (acknowledged)."""
    return _take_event(request, db, client, body, 2, background)


# --- the CoC extension's schema -------------------------------------------------------------


@public.get(f"/extensions/coc/{rules.EXTENSION_VERSION}/schema.json")
def extension_schema(request: Request) -> Response:
    """The JSON Schema of the CoC data extension in every footprint's ``extensions``."""
    return JSONResponse(rules.extension_schema(_schema_url(request)),
                        media_type="application/schema+json")
