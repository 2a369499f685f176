"""Pages of the complaints mechanism.

Public: the case log (/complaints), a published case (/complaints/{ref}), the filing form
(/complaints/new, multipart with files) and its confirmation, which shows the private
tracking link once; the complainant's tracking page with the appeal and consent forms.
Secretariat: the case list with status filter and overdue badges, and the case page to
assign, move on, resolve and record the respondent's consent.

Views read the form, build the API's input models, call the services and render; a
refused post rolls back and shows the form again with what was typed and what to fix.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from stewardship.complaints.rules import AttachmentUpload, ComplaintStatus, Sanction, SubjectKind
from stewardship.complaints.schemas import ComplaintCreate, TransitionRequest
from stewardship.complaints.service import cases, filing, handling
from stewardship.core.auth import Role, require
from stewardship.core.errors import DomainError, InvalidInput
from stewardship.core.forms import field_message
from stewardship.core.web import (
    CsrfChecked,
    DbSession,
    OptionalActor,
    Pagination,
    public_base_url,
    redirect,
    revealed,
    settings_of,
)

router = APIRouter(include_in_schema=False)

STATUSES = [(s.value, s.label) for s in ComplaintStatus]
SANCTIONS = [(s.value, s.label) for s in Sanction]
_NO_STORE = {"Cache-Control": "no-store"}
_FIELD_OF = {"subject_kind": "about", "subject": "about"}
"""Service and model fields shown under another form field."""


def _render(request: Request, name: str, context: dict[str, Any], status_code: int = 200,
            private: bool = False) -> Response:
    response: Response = request.app.state.templates.render(request, name, context, status_code)
    if private:
        response.headers.update(_NO_STORE)
    return response


def _sentence(message: str) -> str:
    text = message.strip().removeprefix("Value error, ")
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


def _errors(exc: DomainError) -> dict[str, str]:
    """Messages by form field; several about one field (two bad files) are joined."""
    out: dict[str, str] = {}
    for item in exc.details:
        name = _FIELD_OF.get(str(item.get("field") or ""), str(item.get("field") or ""))
        if not name:
            continue
        message = _sentence(str(item.get("message", "")))
        out[name] = f"{out[name]} {message}" if name in out else message
    if not out:
        out["form"] = _sentence(exc.message)
    return out


def _validate(model: type[BaseModel], values: dict[str, Any]) -> Any:
    """An input model from form values (blank ones count as not given); its errors become
    one InvalidInput naming the fields, handled like a service's refusal."""
    given = {k: v for k, v in values.items() if v not in ("", None, [])}
    try:
        return model.model_validate(given)
    except ValidationError as exc:
        details = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "form"
            message = field_message(dict(err), field) if err["type"] == "missing" else err["msg"]
            if err["type"] == "string_too_short":
                message = f"Use at least {err.get('ctx', {}).get('min_length', 1)} characters"
            details.append({"field": field, "message": message})
        raise InvalidInput(details[0]["message"], details=details) from None


# --- filing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FilingInput:
    """What the filing form sent: its text fields and its files."""

    values: dict[str, str]
    uploads: list[AttachmentUpload]


async def _filing_input(request: Request) -> FilingInput:
    limit = settings_of(request).complaint_attachment_max_bytes
    form = await request.form()
    values: dict[str, str] = {}
    uploads = []
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if key == "attachments" and (value.filename or (value.size or 0) > 0):
                uploads.append(AttachmentUpload(value.filename or "", await value.read(limit + 1)))
        elif key != "csrf_token":
            values[key] = value.strip()
    return FilingInput(values=values, uploads=uploads)


def _form_context(request: Request, db: Any, actor: Any, values: dict[str, str],
                  errors: dict[str, str]) -> dict[str, Any]:
    settings = settings_of(request)
    return {"values": values, "errors": errors,
            "subjects": filing.subject_choices(db, actor),
            "max_files": settings.complaint_attachments_max,
            "max_mb": round(settings.complaint_attachment_max_bytes / 1_000_000, 1)}


@router.get("/complaints/new")
def new_complaint(request: Request, db: DbSession, actor: OptionalActor,
                  about: Annotated[str, Query(max_length=120)] = "") -> Response:
    return _render(request, "complaints/new.html",
                   _form_context(request, db, actor, {"about": about}, {}))


@router.post("/complaints/new", dependencies=[CsrfChecked])
def file_complaint(request: Request, db: DbSession, actor: OptionalActor,
                   form: Annotated[FilingInput, Depends(_filing_input)]) -> Response:
    values = dict(form.values)
    kind, _, slug = values.get("about", "").partition(":")
    fields = {k: v for k, v in values.items() if k != "about"}
    fields.update(subject_kind=kind, subject=slug)
    for box in ("anonymous", "consent_public"):
        fields[box] = "true" if values.get(box) else "false"
    settings = settings_of(request)
    try:
        data = _validate(ComplaintCreate, fields)
        _, token = filing.file_complaint(
            db, actor, data, form.uploads, settings=settings,
            source=request.client.host if request.client else "unknown")
    except DomainError as exc:
        db.rollback()
        return _render(request, "complaints/new.html",
                       _form_context(request, db, actor, values, _errors(exc)),
                       status_code=exc.status_code)
    return redirect(request, "/complaints/filed", reveal={"tracking": token})


@router.get("/complaints/filed")
def filed(request: Request, db: DbSession) -> Response:
    """The confirmation after filing (post/redirect/get): the private tracking link, shown
    this once from what the filing left for this page; later visits find nothing to show."""
    token = revealed(request).get("tracking")
    if not isinstance(token, str) or not token:
        return _render(request, "complaints/filed.html", {"case": None, "token": "",
                                                           "tracking_url": ""}, private=True)
    case = filing.track(db, token, settings=settings_of(request))
    return _render(request, "complaints/filed.html",
                   {"case": case, "token": token,
                    "tracking_url": f"{public_base_url(request)}/complaints/track/{token}"},
                   private=True)


# --- following a case -------------------------------------------------------------------


def _track_page(request: Request, db: Any, token: str, errors: dict[str, str] | None = None,
                grounds: str = "", status_code: int = 200) -> Response:
    case = filing.track(db, token, settings=settings_of(request))
    return _render(request, "complaints/track.html",
                   {"case": case, "token": token, "errors": errors or {}, "grounds": grounds},
                   status_code=status_code, private=True)


@router.get("/complaints/track/{token}")
def track(request: Request, db: DbSession, token: str) -> Response:
    return _track_page(request, db, token)


@router.post("/complaints/track/{token}/appeal", dependencies=[CsrfChecked])
def appeal(request: Request, db: DbSession, token: str,
           grounds: Annotated[str, Form(max_length=5000)] = "") -> Response:
    try:
        filing.appeal(db, token, grounds, settings=settings_of(request))
    except DomainError as exc:
        db.rollback()
        if exc.status_code == 404:
            raise
        return _track_page(request, db, token, _errors(exc), grounds, exc.status_code)
    return redirect(request, f"/complaints/track/{token}",
                    "Your appeal is lodged; the secretariat will decide on it.")


@router.post("/complaints/track/{token}/consent", dependencies=[CsrfChecked])
def complainant_consent(request: Request, db: DbSession, token: str,
                        consent: Annotated[str, Form(max_length=5)] = "") -> Response:
    agreed = consent == "yes"
    filing.set_complainant_consent(db, token, agreed, settings=settings_of(request))
    message = ("You agreed to publish the case log; it is public once the respondent agrees."
               if agreed else "The case log will not be published.")
    return redirect(request, f"/complaints/track/{token}", message)


# --- the public case log ----------------------------------------------------------------


@router.get("/complaints")
def public_cases(request: Request, db: DbSession, paging: Pagination) -> Response:
    return _render(request, "complaints/public_list.html",
                   {"page": cases.list_public(db, paging)})


@router.get("/complaints/{reference}")
def public_case(request: Request, db: DbSession, actor: OptionalActor,
                reference: str) -> Response:
    case = cases.get_case(db, actor, reference, settings=settings_of(request), full=False)
    can_consent = (actor is not None and actor.role is Role.MEMBER_ADMIN
                   and case.subject.kind is SubjectKind.MEMBER
                   and case.subject.slug == actor.organization_slug)
    return _render(request, "complaints/case.html", {"case": case, "can_consent": can_consent})


@router.post("/complaints/{reference}/respondent-consent", dependencies=[CsrfChecked])
def respondent_consent(request: Request, db: DbSession, actor: OptionalActor, reference: str,
                       consent: Annotated[str, Form(max_length=5)] = "") -> Response:
    agreed = consent == "yes"
    handling.set_respondent_consent(db, actor, reference, agreed,
                                    settings=settings_of(request))
    return redirect(request, f"/complaints/{reference}",
                    "Your agreement is recorded." if agreed else "Your agreement is withdrawn.")


# --- the secretariat --------------------------------------------------------------------


@router.get("/secretariat/complaints")
def secretariat_list(request: Request, db: DbSession, actor: OptionalActor,
                     paging: Pagination,
                     status: Annotated[str, Query(max_length=20)] = "",
                     overdue: Annotated[str, Query(max_length=5)] = "",
                     open_only: Annotated[str, Query(alias="open", max_length=5)] = "",
                     ) -> Response:
    require(actor, Role.SECRETARIAT, action="handle complaints")
    problem = None
    try:
        page = cases.list_complaints(db, actor, paging, status=status or None,
                                     overdue=bool(overdue), open_only=bool(open_only))
    except InvalidInput as exc:
        problem = _sentence(exc.message)
        page = cases.list_complaints(db, actor, paging)
    return _render(request, "complaints/secretariat_list.html",
                   {"page": page, "statuses": STATUSES, "problem": problem,
                    "filters": {"status": status, "overdue": bool(overdue),
                                "open": bool(open_only)}})


def _case_page(request: Request, db: Any, actor: Any, reference: str,
               errors: dict[str, str] | None = None, values: dict[str, Any] | None = None,
               status_code: int = 200) -> Response:
    case = cases.get_for_secretariat(db, actor, reference, settings=settings_of(request))
    return _render(request, "complaints/secretariat_case.html", {
        "case": case, "staff": cases.secretariat_staff(db, actor),
        "targets": [(s.value, s.label) for s in case.next_statuses],
        "sanctions": SANCTIONS, "errors": errors or {}, "values": values or {},
        "certificates": handling.suspendable_certificates(db, actor, reference),
    }, status_code=status_code, private=True)


@router.get("/secretariat/complaints/{reference}")
def secretariat_case(request: Request, db: DbSession, actor: OptionalActor,
                     reference: str) -> Response:
    require(actor, Role.SECRETARIAT, action="handle complaints")
    return _case_page(request, db, actor, reference)


@router.post("/secretariat/complaints/{reference}/assign", dependencies=[CsrfChecked])
def assign(request: Request, db: DbSession, actor: OptionalActor, reference: str,
           owner: Annotated[str, Form(max_length=40)] = "") -> Response:
    require(actor, Role.SECRETARIAT, action="assign complaints")
    try:
        try:
            owner_id = uuid.UUID(owner) if owner else None
        except ValueError:
            raise InvalidInput("choose one of the listed people", field="owner") from None
        case = handling.assign(db, actor, reference, owner_id, settings=settings_of(request))
    except DomainError as exc:
        db.rollback()
        if exc.status_code == 404:
            raise
        return _case_page(request, db, actor, reference, _errors(exc),
                          status_code=exc.status_code)
    who = case.owner.name if case.owner else "nobody"
    return redirect(request, f"/secretariat/complaints/{reference}",
                    f"{case.reference} is assigned to {who}.")


@router.post("/secretariat/complaints/{reference}/transition", dependencies=[CsrfChecked])
def transition(request: Request, db: DbSession, actor: OptionalActor, reference: str,
               to: Annotated[str, Form(max_length=20)] = "",
               note: Annotated[str, Form(max_length=5000)] = "",
               public_note: Annotated[str, Form(max_length=5)] = "",
               outcome: Annotated[str, Form(max_length=10_000)] = "",
               sanctions: Annotated[list[str] | None, Form(max_length=7)] = None,
               certificate: Annotated[str, Form(max_length=40)] = "") -> Response:
    require(actor, Role.SECRETARIAT, action="move complaints on")
    values = {"to": to, "note": note, "public_note": bool(public_note), "outcome": outcome,
              "sanctions": sanctions or [], "certificate": certificate or None}
    try:
        data = _validate(TransitionRequest, values)
        case = handling.transition(db, actor, reference, data, settings=settings_of(request))
    except DomainError as exc:
        db.rollback()
        if exc.status_code == 404:
            raise
        return _case_page(request, db, actor, reference, _errors(exc), values,
                          status_code=exc.status_code)
    return redirect(request, f"/secretariat/complaints/{reference}",
                    f"{case.reference} is now {case.status_label.lower()}.")


@router.post("/secretariat/complaints/{reference}/respondent-consent",
             dependencies=[CsrfChecked])
def record_respondent_consent(request: Request, db: DbSession, actor: OptionalActor,
                              reference: str,
                              consent: Annotated[str, Form(max_length=5)] = "") -> Response:
    require(actor, Role.SECRETARIAT, action="record the respondent's answer")
    agreed = consent == "yes"
    handling.set_respondent_consent(db, actor, reference, agreed,
                                    settings=settings_of(request))
    return redirect(request, f"/secretariat/complaints/{reference}",
                    "The respondent's agreement is recorded." if agreed
                    else "The respondent's agreement is withdrawn.")


@router.get("/secretariat/complaints/{reference}/attachments/{attachment_id}")
def download(db: DbSession, actor: OptionalActor, reference: str,
             attachment_id: uuid.UUID) -> Response:
    found = handling.attachment(db, actor, reference, attachment_id)
    return Response(found.data, media_type=found.content_type, headers={
        "Content-Disposition": f'attachment; filename="{found.filename}"', **_NO_STORE})
