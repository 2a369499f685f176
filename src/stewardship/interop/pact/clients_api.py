"""The PACT client credentials through the platform's API, under ``/api/v1/pact``: the
same use cases as the member admin's page."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from stewardship.core.web import CurrentActor, DbSession, settings_of
from stewardship.interop.pact.schemas import PactClientCreate, PactClientCreated, PactClientRead
from stewardship.interop.pact.service import clients

router = APIRouter(prefix="/api/v1/pact", tags=["PACT"])


@router.get("/clients", summary="Your PACT client credentials")
def list_clients(db: DbSession, actor: CurrentActor) -> list[PactClientRead]:
    """The client credentials your organisation made for its buyers (member admins)."""
    return clients.list_clients(db, actor)


@router.post("/clients", status_code=201, summary="Make PACT client credentials for a buyer")
def create_client(request: Request, db: DbSession, actor: CurrentActor,
                  body: PactClientCreate) -> PactClientCreated:
    """A client id and secret for one buyer organisation: its software signs in at
    `/pact/auth/token` and sees the footprints of your CoC documents addressed to it. The
    secret is in this answer only. `events_base_url` is where answers to its requests go
    (`{url}/3/events`; https in production)."""
    settings = settings_of(request)
    return clients.create_client(db, actor, body, settings.secret_key,
                                 https_only=settings.environment == "production")


@router.post("/clients/{client_pk}/revoke", summary="Revoke PACT client credentials")
def revoke_client(db: DbSession, actor: CurrentActor, client_pk: uuid.UUID) -> PactClientRead:
    """The credentials stop working at once, and so do their access tokens."""
    return clients.revoke_client(db, actor, client_pk)
