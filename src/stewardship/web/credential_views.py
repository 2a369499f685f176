"""The public page where anyone checks a credential bundle: pasted, uploaded, or fetched
by the credential's number from a certificate or CoC document page (and its QR code).
The check is the offline one (``core.bundles``), trusting this platform as the issuer and
holding the credential to the platform's own DID document (every key, current and retired),
never to the copy a bundle carries.

A bundle too large for the page, or a form that cannot be read, is said so on the page
itself (413 / 400), never an error page."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from stewardship.core import bundles, issuance
from stewardship.core.errors import DomainError
from stewardship.core.params import INT64_MAX
from stewardship.core.web import DbSession, verify_csrf
from stewardship.web.credentials_api import issuer_for

router = APIRouter(include_in_schema=False)
TONES = {"valid": "success", "suspended": "warning", "expired": "warning"}
MAX_FORM_PART = bundles.MAX_BUNDLE_BYTES + 1024
"""A pasted bundle's field may be a little over the bundle limit (the verdict says it is too
large); Starlette's own default (1 MiB) would refuse a bundle the page takes."""
TOO_LARGE = (f"The bundle is larger than this page takes ({bundles.MAX_BUNDLE_BYTES:,} bytes); "
             "a certificate's or CoC document's bundle is a few kilobytes: check the file")


def _render(request: Request, context: dict[str, Any], status_code: int = 200) -> Response:
    response: Response = request.app.state.templates.render(
        request, "verify_credential.html", {"verdict": None, "text": "", "errors": {},
                                             "tone": "", "credential_id": None,
                                             "max_bytes": bundles.MAX_BUNDLE_BYTES,
                                             **context},
        status_code)
    return response


def _verdict_context(request: Request, raw: bytes | str) -> dict[str, Any]:
    issuer = issuer_for(request)
    verdict = bundles.verify_bundle(raw, trusted_issuers={issuer.did},
                                    known_documents={issuer.did: issuer.document()})
    return {"verdict": verdict, "tone": TONES.get(verdict.status, "danger")}


@router.get("/verify/credential")
def verify_form(request: Request) -> Response:
    return _render(request, {})


@router.get("/verify/credential/{credential_id}")
def verify_issued(request: Request, db: DbSession,
                  credential_id: Annotated[int, Path(ge=1, le=INT64_MAX)]) -> Response:
    """What a QR code or a 'check this credential' link opens: the platform's own bundle
    for the credential, checked as a buyer would check it offline."""
    try:
        data = issuance.bundle(db, issuer_for(request), credential_id)
    except DomainError as exc:
        return _render(request, {"errors": {"bundle": exc.message}}, exc.status_code)
    return _render(request, {**_verdict_context(request, json.dumps(data)),
                             "credential_id": credential_id})


@dataclass(frozen=True)
class Submitted:
    text: str = ""
    data: bytes | None = None
    problem: tuple[str, str, int] | None = None
    """(field, message, status) when the form itself could not be taken."""


async def _submitted(request: Request) -> Submitted:
    """The form, read once with this page's limits, then its CSRF token checked (the check
    reads the same form; run first, it would read it with Starlette's smaller defaults)."""
    try:
        form = await request.form(max_files=1, max_fields=3, max_part_size=MAX_FORM_PART)
    except HTTPException as exc:
        # The body is over the platform's limit (413), a field over the page's (Starlette
        # answers 400 "... exceeded maximum size"), or the form is not one (400).
        if exc.status_code == 413 or "maximum size" in str(exc.detail):
            return Submitted(problem=("bundle_file", TOO_LARGE, 413))
        return Submitted(problem=("bundle_text", f"The form could not be read "
                                  f"({exc.detail}); paste the bundle or choose one file", 400))
    await verify_csrf(request)
    text = form.get("bundle_text")
    upload = form.get("bundle_file")
    data = None
    if isinstance(upload, UploadFile) and (upload.filename or (upload.size or 0) > 0):
        data = await upload.read(bundles.MAX_BUNDLE_BYTES + 1)
        if len(data) > bundles.MAX_BUNDLE_BYTES:
            return Submitted(problem=("bundle_file", TOO_LARGE, 413))
    text = text if isinstance(text, str) else ""
    if len(text) > bundles.MAX_BUNDLE_BYTES:
        return Submitted(problem=("bundle_text", TOO_LARGE, 413))
    return Submitted(text, data)


@router.post("/verify/credential")
def verify_submitted(request: Request,
                     submitted: Annotated[Submitted, Depends(_submitted)]) -> Response:
    if submitted.problem is not None:
        field, message, status = submitted.problem
        return _render(request, {"errors": {field: message}}, status)
    text, data = submitted.text, submitted.data
    raw: bytes | str = data if data else text.strip()
    if not raw:
        return _render(request, {"errors": {
            "bundle_text": "Paste a verification bundle, or choose its file"}}, 422)
    return _render(request, {**_verdict_context(request, raw),
                             "text": text if len(text) < 200_000 else ""})
