"""A member's custody dashboard: its balances per material and period, the documents
waiting for its confirmation, the issue-document form, the documents nobody has matched
yet, and the way to every other custody page. The secretariat's custody page is the
network view."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor, Role, require
from stewardship.core.errors import DomainError
from stewardship.core.pagination import PageParams
from stewardship.core.templating import sentence
from stewardship.core.web import CsrfChecked, DbSession, OptionalActor, Pagination, redirect
from stewardship.custody.rules import UNMATCHED_DAYS
from stewardship.custody.schemas import DocumentCreate
from stewardship.custody.service import chain, documents, reads
from stewardship.custody.views.common import (
    MATERIALS,
    QueryText,
    Short,
    choose_entity,
    errors_of,
    recipient_options,
    render,
    reraise_access,
    today,
    validate,
    whole_number,
)

router = APIRouter(include_in_schema=False)

ISSUE_FIELDS = ("recipient_entity_id", "material", "quantity_kg", "coc_quantity_kg",
                "shipment_date", "period_start", "number", "description", "recycled_percent",
                "recycled_method")
INCOMING_SHOWN = 20
UNMATCHED_SHOWN = 10


def dashboard_page(request: Request, db: Session, actor: Actor, paging: PageParams,
                   entity: str, days: str, *, errors: dict[str, str] | None = None,
                   values: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    choice = choose_entity(db, actor, entity)
    context: dict[str, Any] = {
        "choice": choice, "errors": errors or {}, "values": values or {},
        "materials": MATERIALS, "today": today(), "year": today().year,
        "may_admin": actor.role is Role.MEMBER_ADMIN, "accounts": None, "incoming": None,
        "recipients": [],
    }
    if choice.selected is not None:
        context["accounts"] = reads.list_accounts(db, actor, paging, entity_id=choice.id)
        context["incoming"] = documents.list_documents(
            db, actor, PageParams(1, INCOMING_SHOWN), direction="incoming", status="issued",
            entity_id=choice.id)
        context["recipients"] = recipient_options(reads.member_entities(db, actor), choice.id)
    wait = whole_number(days, UNMATCHED_DAYS)
    problem = ""
    unmatched = None
    try:
        if wait is None:
            problem = "The number of days is a whole number."
        else:
            unmatched = chain.unmatched(db, actor, PageParams(1, UNMATCHED_SHOWN), days=wait)
    except DomainError as exc:
        reraise_access(exc)
        problem = sentence(exc.message)
    context.update(unmatched=unmatched, days=days.strip() or str(UNMATCHED_DAYS),
                   days_problem=problem)
    return render(request, "custody/dashboard.html", context, status_code)


@router.get("/custody")
def dashboard(request: Request, db: DbSession, actor: OptionalActor, paging: Pagination,
              entity: QueryText = "", days: QueryText = "") -> Response:
    actor = require(actor, action="see your custody accounts")
    if actor.is_secretariat():
        return RedirectResponse("/custody/network", status_code=303)
    return dashboard_page(request, db, actor, paging, entity, days)


@router.post("/custody/documents", dependencies=[CsrfChecked])
def issue(request: Request, db: DbSession, actor: OptionalActor, paging: Pagination,
          issuer_entity_id: Short = "", recipient_entity_id: Short = "", material: Short = "",
          quantity_kg: Short = "", coc_quantity_kg: Short = "", shipment_date: Short = "",
          period_start: Short = "", number: Short = "", description: Short = "",
          recycled_percent: Short = "", recycled_method: Short = "") -> Response:
    actor = require(actor, Role.MEMBER_ADMIN, Role.MEMBER_USER, action="issue CoC documents")
    values = {"recipient_entity_id": recipient_entity_id, "material": material,
              "quantity_kg": quantity_kg.strip().replace(",", ""),
              "coc_quantity_kg": coc_quantity_kg.strip().replace(",", ""),
              "shipment_date": shipment_date.strip(), "period_start": period_start.strip(),
              "number": number.strip().upper(), "description": description.strip(),
              "recycled_percent": recycled_percent.strip(),
              "recycled_method": recycled_method.strip()}
    try:
        data = validate(DocumentCreate, {**values, "issuer_entity_id": issuer_entity_id},
                        whole_form_field="recycled_method")
        created = documents.issue_document(db, actor, data)
    except DomainError as exc:
        reraise_access(exc)
        db.rollback()
        return dashboard_page(request, db, actor, paging, issuer_entity_id, "",
                              errors=errors_of(exc, shown=ISSUE_FIELDS), values=values,
                              status_code=exc.status_code)
    return redirect(request, f"/custody/documents/{created.number}",
                    f"Document {created.number} is issued to {created.recipient.entity}: "
                    f"{created.coc_quantity_kg:,} kg of {created.material_label} as CoC "
                    "material. It waits for the recipient's confirmation.")
