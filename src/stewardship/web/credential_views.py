"""The public page where anyone checks a credential bundle: pasted, uploaded, or fetched
by the credential's number from a certificate or CoC document page (and its QR code).
The check is the offline one (``core.bundles``), trusting this platform as the issuer."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from stewardship.core import bundles, issuance
from stewardship.core.errors import DomainError
from stewardship.core.params import INT64_MAX
from stewardship.core.web import CsrfChecked, DbSession
from stewardship.web.credentials_api import issuer_for

router = APIRouter(include_in_schema=False)
TONES = {"valid": "success", "suspended": "warning", "expired": "warning"}


def _render(request: Request, context: dict[str, Any], status_code: int = 200) -> Response:
    response: Response = request.app.state.templates.render(
        request, "verify_credential.html", {"verdict": None, "text": "", "errors": {},
                                             "tone": "", "credential_id": None, **context},
        status_code)
    return response


def _verdict_context(request: Request, raw: bytes | str) -> dict[str, Any]:
    verdict = bundles.verify_bundle(raw, trusted_issuers={issuer_for(request).did})
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


async def _submitted(request: Request) -> tuple[str, bytes | None]:
    form = await request.form(max_files=1, max_fields=3)
    text = form.get("bundle_text")
    upload = form.get("bundle_file")
    data = None
    if isinstance(upload, UploadFile) and (upload.filename or (upload.size or 0) > 0):
        data = await upload.read(bundles.MAX_BUNDLE_BYTES + 1)
    return (text if isinstance(text, str) else ""), data


@router.post("/verify/credential", dependencies=[CsrfChecked])
def verify_submitted(request: Request,
                     submitted: Annotated[tuple[str, bytes | None], Depends(_submitted)]
                     ) -> Response:
    text, data = submitted
    raw: bytes | str = data if data else text.strip()
    if not raw:
        return _render(request, {"errors": {
            "bundle_text": "Paste a verification bundle, or choose its file"}}, 422)
    return _render(request, {**_verdict_context(request, raw),
                             "text": text if len(text) < 200_000 else ""})
