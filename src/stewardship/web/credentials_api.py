"""The platform as a credential issuer: its DID document, each credential, its status lists
and offline-verification bundles, and a verifier anyone can hand a bundle to.

- ``/.well-known/did.json``: the did:web document, every key current and retired;
- ``/credentials/{id}``: the credential as ``application/vc+jwt``;
- ``/credentials/{id}/bundle``: everything needed to verify it offline, as a download;
- ``/credentials/status/{purpose}/{n}``: a Bitstring Status List credential, signed now;
- ``POST /api/v1/credentials/verify``: a bundle in, a verdict out.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from stewardship.core import bundles, issuance
from stewardship.core.params import INT64_MAX
from stewardship.core.web import DbSession, public_base_url

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1/credentials", tags=["credentials"])
VC_JWT = "application/vc+jwt"
CredentialId = Annotated[int, Path(ge=1, le=INT64_MAX)]


class IssuerContext:
    """Credentials issued while serving a request name the address it came to. Only the
    request is kept (``issuance.issuing_as``): the issuer is built from the app's log keys
    the first time the request issues or serves a credential, never for the others."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        with issuance.issuing_as(lambda: issuer_for(request)):
            await self.app(scope, receive, send)


def issuer_for(request: Request) -> issuance.Issuer:
    """The issuer as this request sees the platform: its public address and the app's
    keys (made once per request)."""
    made: issuance.Issuer | None = getattr(request.state, "credential_issuer", None)
    if made is None:
        made = issuance.Issuer.from_settings(request.app.state.settings,
                                             request.app.state.log_signer,
                                             base_url=public_base_url(request))
        request.state.credential_issuer = made
    return made


@router.get("/.well-known/did.json")
def did_document(request: Request) -> JSONResponse:
    return JSONResponse(issuer_for(request).document(), media_type="application/did+json")


@router.get("/credentials/status/{purpose}/{number}")
def status_list(request: Request, db: DbSession, purpose: str,
                number: Annotated[int, Path(ge=0, le=INT64_MAX)]) -> Response:
    token = issuance.status_list_token(db, issuer_for(request), purpose, number)
    return Response(token, media_type=VC_JWT, headers={"cache-control": "no-cache"})


@router.get("/credentials/{credential_id}")
def credential(db: DbSession, credential_id: CredentialId) -> Response:
    return Response(issuance.get(db, credential_id).token, media_type=VC_JWT)


@router.get("/credentials/{credential_id}/bundle")
def credential_bundle(request: Request, db: DbSession,
                      credential_id: CredentialId) -> Response:
    data = issuance.bundle(db, issuer_for(request), credential_id)
    name = f"credential-{credential_id}-bundle.json"
    return Response(json.dumps(data, indent=2), media_type="application/json",
                    headers={"content-disposition": f'attachment; filename="{name}"'})


class CheckRead(BaseModel):
    name: str
    ok: bool
    detail: str


class VerdictRead(BaseModel):
    status: str = Field(description="valid, suspended, revoked, expired, tampered, unknown "
                        "issuer or malformed")
    reason: str
    failed_check: str | None
    checks: list[CheckRead]
    credential: dict[str, Any] | None


def verdict_read(verdict: bundles.Verdict) -> VerdictRead:
    return VerdictRead(status=verdict.status, reason=verdict.reason,
                       failed_check=verdict.failed_check,
                       checks=[CheckRead(name=c.name, ok=c.ok, detail=c.detail)
                               for c in verdict.checks],
                       credential=verdict.credential)


@api.post("/verify", response_model=VerdictRead)
def verify(request: Request, bundle: Annotated[dict[str, Any], Body(
        description="A verification bundle, as /credentials/{id}/bundle gives it")]
           ) -> VerdictRead:
    """Verify a bundle as a buyer would offline, trusting this platform as the issuer and
    holding it to the keys the platform publishes (the bundle's own copy of the DID
    document is not trusted). A bad bundle gets a verdict naming what is wrong, never an
    error."""
    issuer = issuer_for(request)
    return verdict_read(bundles.verify_bundle(
        json.dumps(bundle), trusted_issuers={issuer.did},
        known_documents={issuer.did: issuer.document()}))
