"""Client credentials a member admin makes for a buyer, and signing in with them: the
OAuth2 client-credentials grant and the bearer tokens it hands out."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.orm import Session

from stewardship.core import eventlog
from stewardship.core.auth import Actor, Role, require
from stewardship.core.db import utcnow
from stewardship.core.errors import Forbidden, InvalidInput, NotFound
from stewardship.core.security import token_digest
from stewardship.interop.pact import repository as repo
from stewardship.interop.pact.models import PactClient
from stewardship.interop.pact.rules import PactError, bad_request, mint_token, read_token
from stewardship.interop.pact.schemas import PactClientCreate, PactClientCreated, PactClientRead

SCOPES = "footprint:list footprint:read"


def _admin(actor: Actor | None) -> Actor:
    actor = require(actor, Role.MEMBER_ADMIN, action="manage PACT client credentials")
    if actor.organization_id is None:
        raise Forbidden("only a member organisation's admin manages PACT client credentials")
    return actor


def _box(secret_key: str) -> Fernet:
    digest = hashlib.sha256(b"stewardship: pact events secret\0" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def events_secret(client: PactClient, secret_key: str) -> str:
    """The secret the platform signs in with at the buyer's token endpoint ("" if none)."""
    if not client.events_client_secret:
        return ""
    try:
        return _box(secret_key).decrypt(client.events_client_secret.encode()).decode()
    except InvalidToken:
        return ""


def _read(client: PactClient, buyer_slug: str, buyer_name: str) -> PactClientRead:
    return PactClientRead(id=client.id, name=client.name, client_id=client.client_id,
                          buyer=buyer_slug, buyer_name=buyer_name,
                          events_base_url=client.events_base_url,
                          created_at=client.created_at, last_used_at=client.last_used_at,
                          revoked_at=client.revoked_at)


def create_client(db: Session, actor: Actor | None, data: PactClientCreate,
                  secret_key: str, *, https_only: bool = False,
                  credentials: tuple[str, str] | None = None) -> PactClientCreated:
    """New credentials for a buyer; the secret is in the answer and nowhere else. With
    ``https_only`` (production) the buyer's events address must be https. ``credentials``
    (client id, secret) are the demo world's published fictional ones; otherwise both are
    drawn at random."""
    actor = _admin(actor)
    if https_only and data.events_base_url and not data.events_base_url.startswith("https://"):
        raise InvalidInput("the buyer's PACT address must start with https://: events carry "
                           "footprints and a token", field="events_base_url")
    buyer = repo.organization_by_slug(db, data.buyer.strip().lower())
    if buyer is None or buyer.status not in ("member", "suspended"):
        raise InvalidInput(f"no member organisation has the key {data.buyer!r}", field="buyer")
    if buyer.id == actor.organization_id:
        raise InvalidInput("the buyer must be another organisation than yours", field="buyer")
    if data.events_client_secret and not data.events_client_id:
        raise InvalidInput("give the client id that goes with the secret",
                           field="events_client_id")
    client_id, secret = credentials or ("pact_" + secrets.token_hex(10),
                                        "pcs_" + secrets.token_urlsafe(32))
    client = PactClient(
        organization_id=actor.organization_id, buyer_organization_id=buyer.id,
        name=data.name, client_id=client_id,
        secret_digest=token_digest(secret), events_base_url=data.events_base_url.rstrip("/"),
        events_client_id=data.events_client_id,
        events_client_secret=(_box(secret_key).encrypt(data.events_client_secret.encode())
                              .decode() if data.events_client_secret else ""),
        created_by=actor.ref, created_at=utcnow())
    db.add(client)
    db.flush()
    eventlog.append(db, actor, "interop.pact_client.created", f"pact_client:{client.id}",
                    {"client_id": client.client_id, "buyer": buyer.slug, "name": client.name})
    read = _read(client, buyer.slug, buyer.name)
    return PactClientCreated(**read.model_dump(), client_secret=secret)


def list_clients(db: Session, actor: Actor | None) -> list[PactClientRead]:
    actor = _admin(actor)
    assert actor.organization_id is not None
    out = []
    for client, _name in repo.clients_of(db, actor.organization_id):
        buyer = repo.organization_by_id(db, client.buyer_organization_id)
        assert buyer is not None
        out.append(_read(client, buyer.slug, buyer.name))
    return out


def revoke_client(db: Session, actor: Actor | None, pk: uuid.UUID) -> PactClientRead:
    """Revoke credentials: their tokens stop working at once."""
    actor = _admin(actor)
    client = repo.client_by_id(db, pk)
    if client is None or client.organization_id != actor.organization_id:
        raise NotFound("no such PACT client credentials of your organisation")
    if client.revoked_at is None:
        client.revoked_at = utcnow()
        db.flush()
        eventlog.append(db, actor, "interop.pact_client.revoked", f"pact_client:{client.id}",
                        {"client_id": client.client_id})
    buyer = repo.organization_by_id(db, client.buyer_organization_id)
    assert buyer is not None
    return _read(client, buyer.slug, buyer.name)


# --- signing in ---------------------------------------------------------------------------


def _oauth_error(status: int, error: str, message: str) -> PactError:
    code = "BadRequest" if status == 400 else "AccessDenied"
    refusal = PactError(status, code, message, oauth=error)
    if status == 401:
        refusal.headers["WWW-Authenticate"] = 'Basic realm="pact"'
    return refusal


def basic_credentials(header: str) -> tuple[str, str]:
    """The client id and secret of an HTTP Basic ``Authorization`` header."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        raise _oauth_error(401, "invalid_client", "sign in with HTTP Basic authentication: "
                           "the client id and secret")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _oauth_error(401, "invalid_client", "the Basic credentials are not base64 "
                           "of client_id:client_secret") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise _oauth_error(401, "invalid_client", "the Basic credentials lack the ':' "
                           "between client id and secret")
    return client_id, secret


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


def issue_token(db: Session, authorization: str, grant_type: str | None, secret_key: str,
                minutes: int) -> IssuedToken:
    """The client-credentials grant (RFC 6749 §4.4): a bearer token for valid, unrevoked
    credentials; errors as §5.2 names them."""
    client_id, secret = basic_credentials(authorization)
    if grant_type is None or not grant_type.strip():
        raise _oauth_error(400, "invalid_request", "grant_type is missing; send "
                           "grant_type=client_credentials as a form field")
    if grant_type != "client_credentials":
        raise _oauth_error(400, "unsupported_grant_type",
                           f"grant_type {grant_type[:40]!r} is not supported; use "
                           "client_credentials")
    client = repo.client_by_client_id(db, client_id[:40])
    if (client is None or client.revoked_at is not None
            or not secrets.compare_digest(client.secret_digest, token_digest(secret))):
        raise _oauth_error(401, "invalid_client", "the client id or secret is wrong, or the "
                           "credentials were revoked")
    now = utcnow()
    repo.record_client_use(db, client.id, now)
    expires = now + timedelta(minutes=minutes)
    return IssuedToken(mint_token(secret_key, client.client_id, expires), minutes * 60)


def client_for(db: Session, authorization: str, secret_key: str,
               now: datetime | None = None) -> PactClient:
    """The client a PACT request's bearer token stands for, or the PACT error: 401
    AccessDenied without a token, 400 BadRequest for a token that is not valid, 401
    TokenExpired for an expired one, 403 AccessDenied for revoked credentials."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        if not authorization.strip():
            raise PactError(401, "AccessDenied", "send an access token from /pact/auth/token "
                            "as Authorization: Bearer <token>",
                            {"WWW-Authenticate": 'Bearer realm="pact"'})
        raise bad_request("the Authorization header must be Bearer <access token>")
    client_id = read_token(secret_key, token.strip(), now or utcnow())
    client = repo.client_by_client_id(db, client_id)
    if client is None:
        raise bad_request("the access token is not valid")
    if client.revoked_at is not None:
        raise PactError(403, "AccessDenied", "these client credentials were revoked")
    return client
