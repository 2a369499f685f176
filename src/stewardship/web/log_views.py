"""Pages of the transparency log: the secretariat's (checkpoints, witnesses, keys; register
a witness, sign a checkpoint now) and the public one (the latest checkpoint with its
cosignatures, and how to mirror and check the log). The C2SP resources themselves are in
log_api.py; the queries behind these pages in core/transparency.py."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from stewardship.core import labels, tlog, transparency
from stewardship.core.auth import Actor, Role, require
from stewardship.core.errors import DomainError
from stewardship.core.pagination import PageParams
from stewardship.core.web import (
    CsrfChecked,
    DbSession,
    OptionalActor,
    Pagination,
    public_base_url,
    redirect,
)
from stewardship.registry.service import names as registry_names

router = APIRouter(include_in_schema=False)
PAGE = "/secretariat/log"
WITNESS_NAME = "firm.example/witness"
"""The name the pages' example commands give a witness."""


def _render(request: Request, name: str, context: dict[str, Any],
            status_code: int = 200) -> Response:
    response: Response = request.app.state.templates.render(request, name, context, status_code)
    return response


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _common(request: Request, db: Session) -> dict[str, Any]:
    """What both pages show: the latest checkpoint, the keys, how a witness runs."""
    signer = request.app.state.log_signer
    base = public_base_url(request)
    latest = tlog.latest_checkpoint(db)
    return {
        "latest": latest,
        "latest_root": b64(latest.root_hash) if latest else "",
        "log_size": tlog.log_size(db),
        "origin": request.app.state.settings.resolved_log_origin,
        "keys": transparency.key_spans(db, request.app.state.log_keys),
        "base_url": base,
        "keygen_command": f"stewardship witness keygen --name {WITNESS_NAME} "
                          "--key-file witness.key",
        "witness_command": f"stewardship witness --log {base} --key-file witness.key "
                           f"--name {WITNESS_NAME} --log-vkey {signer.verifier.vkey}",
    }


def _secretariat_page(request: Request, db: Session, actor: Actor, paging: PageParams,
                      errors: dict[str, str] | None = None, vkey: str = "",
                      status_code: int = 200) -> Response:
    history = transparency.checkpoints(db, paging)
    witnesses = transparency.witness_statuses(db)
    names = registry_names.names_of(db, actor, [w.registered_by for w in witnesses])
    return _render(request, "log_secretariat.html", {
        **_common(request, db), "history": history, "b64": b64, "witnesses": witnesses,
        "who": {w.name: labels.event_actor(w.registered_by, names) for w in witnesses},
        "errors": errors or {}, "vkey": vkey,
    }, status_code)


@router.get(PAGE)
def log_page(request: Request, db: DbSession, actor: OptionalActor,
             paging: Pagination) -> Response:
    actor = require(actor, Role.SECRETARIAT, action="manage the transparency log")
    return _secretariat_page(request, db, actor, paging)


@router.post(f"{PAGE}/witnesses", dependencies=[CsrfChecked])
def register_witness(request: Request, db: DbSession, actor: OptionalActor,
                     vkey: Annotated[str, Form(max_length=2000)] = "") -> Response:
    actor = require(actor, Role.SECRETARIAT, action="register a witness")
    try:
        witness = transparency.register_witness(db, actor, vkey)
    except DomainError as exc:
        db.rollback()
        return _secretariat_page(request, db, actor, PageParams(),
                                 errors=exc.field_errors() or {"vkey": exc.message},
                                 vkey=vkey, status_code=exc.status_code)
    return redirect(request, f"{PAGE}#witnesses-heading",
                    f"Witness {witness.name} is registered; the log now accepts and serves "
                    "its cosignatures.")


@router.post(f"{PAGE}/checkpoint", dependencies=[CsrfChecked])
def sign_checkpoint(request: Request, db: DbSession, actor: OptionalActor) -> Response:
    actor = require(actor, Role.SECRETARIAT, action="sign a checkpoint")
    signed = transparency.sign_checkpoint(db, actor, request.app.state.log_signer,
                                          request.app.state.settings.resolved_log_origin)
    size = signed.checkpoint.size
    entries = f"{size:,} {'entry' if size == 1 else 'entries'}"
    if signed.new:
        return redirect(request, PAGE, f"Checkpoint of {entries} signed.")
    return redirect(request, PAGE, f"The log has not grown since its checkpoint of {entries}; "
                    "that checkpoint is still the latest.", "info")


@router.get("/log")
def public_log_page(request: Request, db: DbSession) -> Response:
    return _render(request, "log_public.html", {
        **_common(request, db),
        "witnesses": [w.name for w in transparency.witness_statuses(db)],
    })
