"""The public verification of a CoC document: anyone holding its number, signed in or
not, sees who passed what to whom, whether the issuer's certificates were valid on the
shipment date and are today, the origins and the digest, and the document's signed
credential (its bundle to download, the link to check it, a QR code of this page). A
number nobody issued gets a page that says so and offers to look up another."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from stewardship.core.errors import NotFound
from stewardship.core.qr import qr_svg
from stewardship.core.web import DbSession, redirect
from stewardship.custody import charts
from stewardship.custody.schemas import DOCUMENT_NUMBER
from stewardship.custody.service import document_credentials, documents
from stewardship.custody.views.common import QueryText, absolute, render

router = APIRouter(include_in_schema=False)

NUMBER = re.compile(DOCUMENT_NUMBER)


@router.get("/verify/coc")
def lookup(request: Request, number: QueryText = "") -> Response:
    wanted = number.strip().upper()
    if not wanted:
        return render(request, "custody/verify_lookup.html", {"number": "", "error": "",
                                                              "missing": False})
    if not NUMBER.match(wanted):
        return render(request, "custody/verify_lookup.html", {
            "number": number.strip(), "missing": False,
            "error": "A document number is 4 to 40 letters, digits and hyphens, as printed "
                     "on the document."}, 422)
    return redirect(request, documents.verify_path(wanted))


@router.get("/verify/coc/{number}")
def verify(request: Request, db: DbSession,
           number: Annotated[str, Path(max_length=100)]) -> Response:
    try:
        found = documents.verify_document(db, number)
    except NotFound:
        return render(request, "custody/verify_lookup.html", {
            "number": number, "error": "", "missing": True}, 404)
    url = absolute(request, documents.verify_path(found.number))
    return render(request, "custody/verify.html", {
        "v": found, "url": url, "qr": qr_svg(url),
        "credential": document_credentials.credential_of(db, found.number),
        "footprint_svg": charts.footprint_svg(found.footprint)})
