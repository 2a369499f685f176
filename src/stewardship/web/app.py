"""The application factory: mounts every context's API and pages."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.responses import Response
from starlette.types import ASGIApp

from stewardship import __version__
from stewardship.assurance import api as assurance_api
from stewardship.assurance import views as assurance_views
from stewardship.carbon import api as carbon_api
from stewardship.carbon import views as carbon_views
from stewardship.complaints import api as complaints_api
from stewardship.complaints import views as complaints_views
from stewardship.core.checkpointer import start_checkpointer
from stewardship.core.config import Settings, get_settings
from stewardship.core.db import make_engine, make_sessionmaker
from stewardship.core.errors import InvalidInput
from stewardship.core.jsonbody import JsonBodyGuard
from stewardship.core.keys import log_signer, published_keys
from stewardship.core.mail import Mailer
from stewardship.core.migrate import pending_message
from stewardship.core.openapi import install_openapi
from stewardship.core.replica import CONNECT_TIMEOUT_SECONDS, ReplicaRouter
from stewardship.core.security import use_password_profile
from stewardship.core.templating import Templates
from stewardship.core.web import (
    ApiCsrfGuard,
    BodySizeLimit,
    SecurityHeaders,
    content_security_policy,
    inline_script_hashes,
    install_error_handlers,
)
from stewardship.custody import api as custody_api
from stewardship.custody import views as custody_views
from stewardship.interop import epcis_api
from stewardship.interop import import_api as custody_import_api
from stewardship.interop.epcis.problems import EpcisProblem, problem_response
from stewardship.interop.epcis.queries_api import ws_router as epcis_ws_router
from stewardship.interop.epcis.subscriptions import start_deliverer
from stewardship.interop.epcis.subscriptions import wake as wake_subscribers
from stewardship.interop.epcis.worker import start_embedded_worker
from stewardship.interop.pact import api as pact_api
from stewardship.interop.pact import clients_api as pact_clients_api
from stewardship.interop.pact import views as pact_views
from stewardship.interop.pact.sender import start_sender
from stewardship.registry import api as registry_api
from stewardship.registry import firm_views as registry_firm_views
from stewardship.registry import user_views as registry_user_views
from stewardship.registry import views as registry_views
from stewardship.registry.service.accounts import resolve_actor
from stewardship.standards import api as standards_api
from stewardship.standards import views as standards_views
from stewardship.web import (
    credential_views,
    credentials_api,
    dashboard_views,
    integrity_views,
    log_api,
    log_views,
)
from stewardship.web import views as web_views

PACKAGE = Path(__file__).resolve().parent.parent
TEMPLATE_DIRS = [PACKAGE / "web" / "templates", PACKAGE / "registry" / "templates",
                 PACKAGE / "standards" / "templates", PACKAGE / "complaints" / "templates",
                 PACKAGE / "assurance" / "templates", PACKAGE / "custody" / "templates",
                 PACKAGE / "interop" / "pact" / "templates", PACKAGE / "carbon" / "templates"]

DESCRIPTION = """\
The open platform of a responsible-sourcing scheme for the aluminium value chain: the
member register, facilities, audit firms and users, with a tamper-evident event log.

Public lists need no token. Everything else takes a personal bearer token
(`Authorization: Bearer stw_...`), created at `POST /api/v1/auth/tokens` or on the
*API tokens* page. Errors are `{"error": {"code", "message", "details"}}`; lists paginate
with `page` and `per_page`.

A browser signed in to the pages may call the API with its session cookie, but then every
POST, PUT, PATCH and DELETE must send the page's CSRF token (its `<meta name="csrf-token">`)
in the `X-CSRF-Token` header and come from this site; otherwise it is refused with 403.
Bearer tokens need no such header. (On this page, *Authorize* with a bearer token to try
the unsafe operations out.)
"""

# The interactive API docs load Swagger UI from its CDN and start it with one inline
# script; that page alone gets a policy naming the CDN, the script's hash and inline styles
# (Swagger UI styles its widgets inline). Every other answer has core.web.PAGE_CSP.
SWAGGER_CDN = "https://cdn.jsdelivr.net"
SWAGGER_FAVICON = "https://fastapi.tiangolo.com"


class MigrationsPending(RuntimeError):
    pass


class StewardshipApp(FastAPI):
    """FastAPI with the security headers outside everything else.

    Starlette puts its server-error middleware, which sends the 500 page, outside all the
    middleware an app adds; wrapping the built stack here is what puts the headers on a
    500 as well as on every other answer.
    """

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack(), self.state.settings)


def _api_docs(request: Request) -> HTMLResponse:
    """The Swagger page of the API. A module-level endpoint reading its app from the
    request: FastAPI memoises what it learns of each endpoint by the function object, so an
    endpoint made per app (a closure over it) would keep every app ever built alive."""
    app = request.app
    page = get_swagger_ui_html(openapi_url=app.openapi_url or "/api/openapi.json",
                               title=f"{app.title} - docs",
                               swagger_ui_parameters={"validatorUrl": None})
    policy = content_security_policy(
        script_src=(SWAGGER_CDN, *inline_script_hashes(bytes(page.body).decode())),
        style_src=(SWAGGER_CDN, "'unsafe-inline'"), img_src=(SWAGGER_FAVICON,))
    page.headers["content-security-policy"] = policy
    return page


def _unreadable_json(path: str, message: str) -> Response:
    """A JSON body that is not UTF-8 or nests too deeply: a problem document under /epcis,
    the platform's error shape (naming the body) everywhere else."""
    if path.startswith("/epcis"):
        refusal = EpcisProblem(400, message, instance=path)
        return problem_response(refusal.body())
    if path == "/pact" or path.startswith("/pact/"):
        return JSONResponse({"code": "BadRequest", "message": message}, status_code=400)
    error = InvalidInput(message, field="body")
    return JSONResponse(error.to_dict(), status_code=error.status_code)


def _replica_router(settings: Settings, engine: Engine) -> ReplicaRouter | None:
    """The read replica's router when ``STEWARDSHIP_READ_DATABASE_URL`` is set: its pool
    has a connection for every request the process works on at once, and one for the
    watcher; a connection that takes longer than a moment counts the replica as down."""
    if not settings.read_database_url:
        return None
    if engine.dialect.name != "postgresql":
        raise ValueError("STEWARDSHIP_READ_DATABASE_URL needs a PostgreSQL primary; "
                         f"the database is {engine.dialect.name}")
    replica = make_engine(settings.read_database_url, pool_size=settings.server_threads + 1,
                          wait_seconds=settings.database_wait_seconds,
                          connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS})
    return ReplicaRouter(engine, replica,
                         max_lag_seconds=settings.read_replica_max_lag_seconds)


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or get_settings()
    use_password_profile(settings.password_profile)
    # A connection for every request the server works on at once, and two for the
    # embedded capture worker and the odd command run beside it.
    engine = engine or make_engine(settings.resolved_database_url,
                                   pool_size=settings.server_threads + 2,
                                   wait_seconds=settings.database_wait_seconds)
    replica = _replica_router(settings, engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        problem = pending_message(engine)
        if problem:
            raise MigrationsPending(problem)
        # Sync endpoints run in this thread pool: as many threads as requests admitted to
        # the database at once (core.web.get_db), so an admitted request finds a thread.
        to_thread.current_default_thread_limiter().total_tokens = settings.server_threads
        worker = start_embedded_worker(engine, settings)
        _app.state.epcis_worker = worker
        checkpointer = start_checkpointer(engine, settings, _app.state.log_signer)
        deliverer = start_deliverer(engine, settings)
        _app.state.epcis_deliverer = deliverer
        if worker is not None and deliverer is not None:
            worker.worker.on_captured = lambda: wake_subscribers(_app.state)
        sender = start_sender(engine, settings)
        _app.state.pact_sender = sender
        if replica is not None:
            replica.start()
        if settings.freezes_at_start:
            # What the process holds now lives as long as it does (some 160,000 objects
            # of modules, routes and templates): a full collection would visit them all,
            # 100 ms and more inside whichever request it interrupts.
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            if replica is not None:
                replica.stop()
            _app.state.pact_sender = None
            if sender is not None:
                sender.stop()
            _app.state.epcis_worker = None
            if worker is not None:
                worker.stop()
            if checkpointer is not None:
                checkpointer.stop()
            _app.state.epcis_deliverer = None
            if deliverer is not None:
                deliverer.stop()

    app = StewardshipApp(
        title="Stewardship API",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.replica = replica
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.actor_resolver = resolve_actor
    app.state.templates = Templates(TEMPLATE_DIRS)
    app.state.mailer = Mailer(settings)
    # The log's signing key, read once: a missing or unreadable key stops the start here.
    app.state.log_signer = log_signer(settings)
    app.state.log_keys = published_keys(settings, app.state.log_signer)

    install_error_handlers(app)

    # Outermost first: SecurityHeaders (see StewardshipApp), the body limit, the API's CSRF
    # guard, which refuses before any endpoint or body parsing runs, then the JSON body
    # guard, which reads a JSON body once to refuse one nested too deeply.
    app.add_middleware(JsonBodyGuard, refuse=_unreadable_json)
    app.add_middleware(credentials_api.IssuerContext)
    app.add_middleware(ApiCsrfGuard, settings=settings)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_api_route("/api/docs", _api_docs, methods=["GET"], include_in_schema=False)

    app.include_router(registry_api.router)
    app.include_router(registry_api.auth_router)
    app.include_router(standards_api.router)
    app.include_router(assurance_api.router)
    app.include_router(log_api.router)
    app.include_router(log_api.tiles)
    app.include_router(credentials_api.router)
    app.include_router(credentials_api.api)
    app.include_router(credential_views.router)
    app.include_router(log_views.router)
    app.include_router(web_views.router)
    app.include_router(dashboard_views.router)
    app.include_router(integrity_views.router)
    app.include_router(registry_views.router)
    app.include_router(registry_firm_views.router)
    app.include_router(registry_user_views.router)
    app.include_router(complaints_api.router)
    app.include_router(complaints_views.router)
    app.include_router(standards_views.router)
    app.include_router(assurance_views.router)
    app.include_router(custody_api.router)
    app.include_router(custody_import_api.router)
    app.include_router(epcis_api.router)
    app.include_router(epcis_ws_router)
    app.include_router(custody_views.router)
    app.include_router(pact_clients_api.router)
    app.include_router(pact_views.router)
    pact_api.install(app)
    app.include_router(carbon_api.router)
    app.include_router(carbon_views.router)
    install_openapi(app)
    app.mount("/static", StaticFiles(directory=PACKAGE / "web" / "static"), name="static")
    return app
