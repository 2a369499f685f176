"""REST API of the complaints mechanism: /api/v1/complaints.

Filing is ``multipart/form-data`` (the fields of ``ComplaintCreate`` plus up to five
``attachments`` files), so the same request carries the files; every other body is JSON.
"""

from __future__ import annotations

import copy
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from stewardship.complaints.rules import AttachmentUpload, ComplaintStatus
from stewardship.complaints.schemas import (
    AppealRequest,
    AssignRequest,
    ComplaintCase,
    ComplaintCreate,
    ComplaintFiled,
    ComplaintPage,
    ComplaintRead,
    ComplaintTrack,
    ConsentRequest,
    PublicComplaintPage,
    TransitionRequest,
)
from stewardship.complaints.service import cases, filing, handling
from stewardship.core.openapi import RATE_LIMITED
from stewardship.core.pagination import Page
from stewardship.core.web import (
    CurrentActor,
    DbSession,
    OptionalActor,
    Pagination,
    public_base_url,
    settings_of,
)

router = APIRouter(prefix="/api/v1/complaints", tags=["complaints"])

# More parts than this is not a complaint; the service counts the files against the limit.
_MAX_PARTS = 100


def _page(page: Page, model: type) -> object:  # type: ignore[type-arg]
    return model(items=page.items, total=page.total, page=page.page, per_page=page.per_page,
                 pages=page.pages)


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema with its ``$defs`` written in place (for a hand-made request body)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(copy.deepcopy(defs[ref.rsplit("/", 1)[-1]]))
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)  # type: ignore[no-any-return]


def _filing_body_schema() -> dict[str, Any]:
    schema = _inline_refs(ComplaintCreate.model_json_schema())
    schema["properties"]["attachments"] = {
        "type": "array", "maxItems": 5,
        "items": {"type": "string", "format": "binary"},
        "description": "PDF, PNG, JPEG or plain-text files, each at most "
                       "complaint_attachment_max_bytes (default 5 MB); the type is read "
                       "from the bytes, not the name",
    }
    return {"required": True,
            "content": {"multipart/form-data": {"schema": schema}}}


async def read_filing(request: Request) -> tuple[ComplaintCreate, list[AttachmentUpload]]:
    """The filing form: fields into ``ComplaintCreate`` (unknown ones refused by name; blank
    ones count as not given), files into uploads read at most one byte past the limit."""
    limit = settings_of(request).complaint_attachment_max_bytes
    form = await request.form(max_files=_MAX_PARTS, max_fields=_MAX_PARTS)
    fields: dict[str, Any] = {}
    uploads: list[AttachmentUpload] = []
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if key != "attachments":
                fields[key] = value.filename or "file"
            elif value.filename or (value.size or 0) > 0:
                uploads.append(AttachmentUpload(value.filename or "", await value.read(limit + 1)))
        elif key == "attachments":
            continue  # an empty file input
        elif value.strip():
            fields[key] = value
    try:
        return ComplaintCreate.model_validate(fields), uploads
    except ValidationError as exc:
        errors = [{**err, "loc": ("body", *err["loc"])} for err in exc.errors()]
        raise RequestValidationError(errors) from None


FilingForm = Annotated[tuple[ComplaintCreate, list[AttachmentUpload]], Depends(read_filing)]


def client_source(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("", response_model=ComplaintFiled, status_code=status.HTTP_201_CREATED,
             responses=RATE_LIMITED, openapi_extra={"requestBody": _filing_body_schema()})
def file_complaint(request: Request, db: DbSession, actor: OptionalActor,
                   form: FilingForm) -> ComplaintFiled:
    """File a complaint about a member, an audit firm or the secretariat. Public: anyone
    may file, named or anonymously, as ``multipart/form-data`` with up to five files.

    The answer holds the private tracking token and link **once**; only a digest of the
    token is kept. Bad input is refused with every problem named by field (422; 413 when a
    file is too large; 429 after too many filings from one address in an hour), and then
    nothing is stored."""
    settings = settings_of(request)
    data, uploads = form
    case, token = filing.file_complaint(db, actor, data, uploads, settings=settings,
                                        source=client_source(request))
    return ComplaintFiled(reference=case.reference, status=case.status, due_on=case.due_on,
                          tracking_token=token,
                          tracking_url=f"{public_base_url(request)}/complaints/track/{token}",
                          attachments=case.attachments)


@router.get("", response_model=ComplaintPage)
def list_complaints(db: DbSession, actor: CurrentActor, paging: Pagination,
                    status: ComplaintStatus | None = None,
                    overdue: Annotated[bool, Query(description="Only cases past due")] = False,
                    ) -> object:
    """Every case, soonest due first; filter by status or to the overdue ones
    (secretariat)."""
    page = cases.list_complaints(db, actor, paging, status=status.value if status else None,
                                 overdue=overdue)
    return _page(page, ComplaintPage)


@router.get("/public", response_model=PublicComplaintPage)
def list_public(db: DbSession, paging: Pagination) -> object:
    """The public case log: cases whose complainant and respondent both agreed to publish
    it. Public. Never shows who complained."""
    return _page(cases.list_public(db, paging), PublicComplaintPage)


@router.get("/track/{token}", response_model=ComplaintTrack)
def track(request: Request, db: DbSession, token: str) -> ComplaintTrack:
    """The complainant's view of their case. Public: the private token is the credential."""
    return filing.track(db, token, settings=settings_of(request))


@router.post("/track/{token}/appeal", response_model=ComplaintTrack)
def appeal(request: Request, db: DbSession, token: str, body: AppealRequest) -> ComplaintTrack:
    """Appeal a decision (resolved or out of scope) within the appeal window (30 days by
    default), once per case. Through the private token."""
    return filing.appeal(db, token, body.grounds, settings=settings_of(request))


@router.post("/track/{token}/consent", response_model=ComplaintTrack)
def complainant_consent(request: Request, db: DbSession, token: str,
                        body: ConsentRequest) -> ComplaintTrack:
    """The complainant agrees that the case log may be published, or withdraws that.
    The log is public only while the respondent agrees too."""
    return filing.set_complainant_consent(db, token, body.consent,
                                          settings=settings_of(request))


@router.get("/{reference}", response_model=ComplaintRead | ComplaintCase)
def get_complaint(request: Request, db: DbSession, actor: OptionalActor,
                  reference: str) -> ComplaintRead | ComplaintCase:
    """One case. The secretariat sees all of it; the respondent, and everyone once both
    parties agreed to publish, see the public log (never the complainant's identity,
    contact or files); anyone else gets 404."""
    return cases.get_case(db, actor, reference, settings=settings_of(request))


@router.post("/{reference}/transition", response_model=ComplaintRead)
def transition(request: Request, db: DbSession, actor: CurrentActor, reference: str,
               body: TransitionRequest) -> ComplaintRead:
    """Move a case on (secretariat): received -> accepted | out_of_scope; accepted ->
    mediation | investigation | panel (switchable); -> resolved (with ``outcome`` and
    ``sanctions``) -> closed after the appeal window, or appealed -> panel | closed.
    Each step gets its due date; a suspended membership goes through the registry."""
    return handling.transition(db, actor, reference, body, settings=settings_of(request))


@router.post("/{reference}/assign", response_model=ComplaintRead)
def assign(request: Request, db: DbSession, actor: CurrentActor, reference: str,
           body: AssignRequest) -> ComplaintRead:
    """Make a secretariat user the case's owner, or unassign it (secretariat)."""
    return handling.assign(db, actor, reference, body.owner, settings=settings_of(request))


@router.post("/{reference}/respondent-consent", response_model=ComplaintRead | ComplaintCase)
def respondent_consent(request: Request, db: DbSession, actor: CurrentActor, reference: str,
                       body: ConsentRequest) -> ComplaintRead | ComplaintCase:
    """The respondent agrees (or no longer agrees) to publish the case log: given by a
    member admin of the organisation complained about, or recorded by the secretariat."""
    return handling.set_respondent_consent(db, actor, reference, body.consent,
                                           settings=settings_of(request))


@router.get("/{reference}/attachments/{attachment_id}", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}}})
def download_attachment(db: DbSession, actor: CurrentActor, reference: str,
                        attachment_id: uuid.UUID) -> Response:
    """Download a file sent with a complaint (secretariat). Served as an attachment with
    the type read from its bytes."""
    found = handling.attachment(db, actor, reference, attachment_id)
    return Response(found.data, media_type=found.content_type, headers={
        "Content-Disposition": f'attachment; filename="{found.filename}"',
        "Cache-Control": "no-store"})
