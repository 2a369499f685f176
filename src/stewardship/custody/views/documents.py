"""CoC documents as their parties see them: the list with its filters, one document with
its origins, QR code, credential bundle and the actions its party may take (the recipient
receives or rejects, the issuer cancels while it waits), and the chain behind it."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from stewardship.core.auth import MEMBER_ROLES, Actor, require
from stewardship.core.errors import DomainError, InvalidInput
from stewardship.core.qr import qr_svg
from stewardship.core.templating import sentence
from stewardship.core.web import CsrfChecked, DbSession, OptionalActor, Pagination, redirect
from stewardship.custody import charts
from stewardship.custody.schemas import DocumentPage, DocumentRead, Receipt, Refusal
from stewardship.custody.service import chain, document_credentials, documents
from stewardship.custody.views.common import (
    DIRECTIONS,
    STATUSES,
    LongText,
    QueryText,
    Short,
    absolute,
    errors_of,
    render,
    reraise_access,
    validate,
)

router = APIRouter(include_in_schema=False)

Number = Annotated[str, Path(max_length=40)]


# --- the list ---------------------------------------------------------------------------


def _day(raw: str) -> date | None:
    """A date filter as the form and the dashboards' links send it (YYYY-MM-DD)."""
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput("the shipment date is a date such as 2026-03-31",
                           field="shipped_to") from None


@router.get("/custody/documents")
def document_list(request: Request, db: DbSession, actor: OptionalActor, paging: Pagination,
                  direction: QueryText = "", status: QueryText = "",
                  q: QueryText = "", shipped_to: QueryText = "") -> Response:
    actor = require(actor, action="see CoC documents")
    filters = {"direction": direction, "status": status, "q": q.strip(),
               "shipped_to": shipped_to.strip()}
    problem, code = "", 200
    try:
        page: Any = documents.list_documents(db, actor, paging, direction=direction or None,
                                             status=status or None, q=filters["q"] or None,
                                             shipped_to=_day(filters["shipped_to"]))
    except DomainError as exc:
        if exc.status_code in (401, 403):
            raise
        problem, code = sentence(exc.message), exc.status_code
        page = DocumentPage(items=[], total=0, page=paging.page, per_page=paging.per_page,
                            pages=1)
    return render(request, "custody/documents.html", {
        "page": page, "filters": filters, "problem": problem,
        "filtered": any(filters.values()), "directions": DIRECTIONS, "statuses": STATUSES,
        "ours": actor.organization_slug, "secretariat": actor.is_secretariat(),
    }, code)


# --- one document -----------------------------------------------------------------------


def _side(actor: Actor, doc: DocumentRead) -> tuple[bool, bool]:
    """(is the issuer's user, is the recipient's user)."""
    if actor.role not in MEMBER_ROLES:
        return False, False
    return (actor.organization_slug == doc.issuer.organization,
            actor.organization_slug == doc.recipient.organization)


def document_page(request: Request, db: Session, actor: Actor | None, number: str, *,
                  errors: dict[str, str] | None = None, failed: str = "",
                  values: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    actor = require(actor, action="see CoC documents")
    doc = documents.get_document(db, actor, number)
    issuer, recipient = _side(actor, doc)
    waiting = doc.status == "issued"
    verify_url = absolute(request, doc.verify_path)
    return render(request, "custody/document.html", {
        "doc": doc, "verify_url": verify_url, "qr": qr_svg(verify_url),
        "credential": document_credentials.credential_of(db, doc.number),
        "footprint_svg": charts.footprint_svg(doc.footprint),
        "may_receive": recipient and waiting, "may_cancel": issuer and waiting,
        "we_issued": issuer, "errors": errors or {}, "failed": failed,
        "values": values or {},
    }, status_code)


@router.get("/custody/documents/{number}")
def document_detail(request: Request, db: DbSession, actor: OptionalActor,
                    number: Number) -> Response:
    return document_page(request, db, actor, number)


@router.post("/custody/documents/{number}/receive", dependencies=[CsrfChecked])
def receive(request: Request, db: DbSession, actor: OptionalActor, number: Number,
            received_on: Short = "") -> Response:
    actor = require(actor, action="confirm CoC documents")
    values = {"received_on": received_on.strip()}
    try:
        doc = documents.receive_document(db, actor, number, validate(Receipt, values))
    except DomainError as exc:
        reraise_access(exc)
        db.rollback()
        return document_page(request, db, actor, number, failed="receive", values=values,
                             errors=errors_of(exc, shown=("received_on",),
                                              fallback="received_on"),
                             status_code=exc.status_code)
    return redirect(request, f"/custody/documents/{doc.number}",
                    f"Document {doc.number} is received: {doc.coc_quantity_kg:,} kg of "
                    f"{doc.material_label} are in your account.")


def _refuse(request: Request, db: Session, actor: Actor | None, number: str, reason: str,
            action: str) -> Response:
    actor = require(actor, action=f"{action} CoC documents")
    values = {"reason": reason.strip()}
    act = documents.reject_document if action == "reject" else documents.cancel_document
    try:
        doc = act(db, actor, number, validate(Refusal, values))
    except DomainError as exc:
        reraise_access(exc)
        db.rollback()
        return document_page(request, db, actor, number, failed=action, values=values,
                             errors=errors_of(exc, shown=("reason",), fallback="reason"),
                             status_code=exc.status_code)
    done = "rejected" if action == "reject" else "cancelled"
    return redirect(request, f"/custody/documents/{doc.number}",
                    f"Document {doc.number} is {done}: its {doc.coc_quantity_kg:,} kg went "
                    "back to the issuer's account.")


@router.post("/custody/documents/{number}/reject", dependencies=[CsrfChecked])
def reject(request: Request, db: DbSession, actor: OptionalActor, number: Number,
           reason: LongText = "") -> Response:
    return _refuse(request, db, actor, number, reason, "reject")


@router.post("/custody/documents/{number}/cancel", dependencies=[CsrfChecked])
def cancel(request: Request, db: DbSession, actor: OptionalActor, number: Number,
           reason: LongText = "") -> Response:
    return _refuse(request, db, actor, number, reason, "cancel")


# --- the chain --------------------------------------------------------------------------


@router.get("/custody/documents/{number}/chain")
def document_chain(request: Request, db: DbSession, actor: OptionalActor, number: Number,
                   depth: Annotated[int, Query(ge=1, le=chain.MAX_DEPTH)] = 8) -> Response:
    actor = require(actor, action="see a document's chain")
    read = chain.chain(db, actor, number, depth=depth)
    return render(request, "custody/chain.html", {
        "chain": read, "depth": depth, "max_depth": chain.MAX_DEPTH,
        "per_tier": chain.PER_TIER, "graph": charts.chain_svg(read)})
