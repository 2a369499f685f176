"""The member admin's page of PACT client credentials: make credentials for a buyer (the
secret shown once), see them and revoke them."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor
from stewardship.core.errors import DomainError
from stewardship.core.forms import form_input
from stewardship.core.web import (
    CsrfChecked,
    DbSession,
    OptionalActor,
    public_base_url,
    redirect,
    revealed,
    settings_of,
)
from stewardship.interop.pact.schemas import PactClientCreate
from stewardship.interop.pact.service import clients

router = APIRouter(include_in_schema=False)
PAGE = "/members/pact-clients"
Text = Annotated[str, Form(max_length=500)]


def _page(request: Request, db: Session, actor: Actor | None, *,
          values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
          status_code: int = 200) -> Response:
    listed = clients.list_clients(db, actor)
    shown = revealed(request)
    created = shown if {"client_id", "client_secret", "name"} <= set(shown) else None
    response: Response = request.app.state.templates.render(request, "pact/clients.html", {
        "clients": listed, "created": created, "values": values or {},
        "errors": errors or {}, "pact_base": public_base_url(request) + "/pact"},
        status_code)
    return response


@router.get(PAGE)
def clients_page(request: Request, db: DbSession, actor: OptionalActor) -> Response:
    return _page(request, db, actor)


@router.post(PAGE, dependencies=[CsrfChecked])
def create_client(request: Request, db: DbSession, actor: OptionalActor, name: Text = "",
                  buyer: Text = "", events_base_url: Text = "", events_client_id: Text = "",
                  events_client_secret: Text = "") -> Response:
    values = {"name": name, "buyer": buyer, "events_base_url": events_base_url,
              "events_client_id": events_client_id}
    clients.list_clients(db, actor)  # who may not manage credentials gets the refusal page
    try:
        data = form_input(PactClientCreate, {**values,
                                             "events_client_secret": events_client_secret})
        settings = settings_of(request)
        made = clients.create_client(db, actor, data, settings.secret_key,
                                     https_only=settings.environment == "production")
    except DomainError as exc:
        if exc.status_code in (401, 403):
            raise
        db.rollback()
        errors: dict[str, Any] = exc.field_errors() or {"name": exc.message}
        return _page(request, db, actor, values=values, errors=errors,
                     status_code=exc.status_code)
    return redirect(request, PAGE, f"Client credentials “{made.name}” are created for "
                    f"{made.buyer_name}.",
                    reveal={"name": made.name, "client_id": made.client_id,
                            "client_secret": made.client_secret,
                            "buyer_name": made.buyer_name})


@router.post(PAGE + "/{client_pk}/revoke", dependencies=[CsrfChecked])
def revoke_client(request: Request, db: DbSession, actor: OptionalActor,
                  client_pk: uuid.UUID) -> Response:
    revoked = clients.revoke_client(db, actor, client_pk)
    return redirect(request, PAGE, f"Client credentials “{revoked.name}” are revoked.")
