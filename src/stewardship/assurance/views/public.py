"""Public pages of assurance: the certificate register with its charts and CSV export, each
certificate's page, PDF and QR code (with the secretariat's suspend / reinstate /
withdraw), the findings register, public audit summaries, and claims (a member asks, the
secretariat decides, the world sees the approved ones).

Views read the query or form, call the assurance services and render; every rule and
permission is the service's. A refused post rolls back and shows the page again with the
reason next to the field.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from stewardship.assurance import charts
from stewardship.assurance.pdf import certificate_pdf
from stewardship.assurance.rules import CertificateStatus, ClaimKind, certificate_may_move
from stewardship.assurance.schemas import (
    CertificateQuery,
    ClaimCreate,
    FindingQuery,
    Note,
    Reason,
    StatusChange,
)
from stewardship.assurance.service import certificates, claims, imports, register
from stewardship.core import clock, issuance
from stewardship.core.auth import Actor, Role, require
from stewardship.core.csvexport import csv_text
from stewardship.core.errors import DomainError, InvalidInput
from stewardship.core.forms import form_input
from stewardship.core.pagination import Page, PageParams
from stewardship.core.qr import qr_svg
from stewardship.core.templating import sentence
from stewardship.core.web import (
    CsrfChecked,
    DbSession,
    OptionalActor,
    Pagination,
    public_base_url,
    redirect,
    settings_of,
)
from stewardship.registry.rules import Activity, all_countries, country_name
from stewardship.standards.service import library

router = APIRouter(include_in_schema=False)

API = "/api/v1/assurance"
ACTIVITIES = [(a.value, a.label) for a in Activity]
ACTIVITY_LABELS = dict(ACTIVITIES)
KINDS = [("performance", "Performance Standard"), ("chain_of_custody", "Chain of Custody")]
STATUSES = [(s.value, s.value.capitalize()) for s in CertificateStatus]
RATINGS = [("major", "Major"), ("minor", "Minor")]
CLAIM_KINDS = [(ClaimKind.OFF_PRODUCT.value, "Off-product (company, report, website)"),
               (ClaimKind.ON_PRODUCT.value, "On-product (label, packaging)")]
STATUS_ACTIONS: dict[str, tuple[CertificateStatus, str, str]] = {
    # action: (target, button label, what the flash says happened)
    "suspend": (CertificateStatus.SUSPENDED, "Suspend", "is suspended"),
    "reinstate": (CertificateStatus.ACTIVE, "Reinstate", "is reinstated"),
    "withdraw": (CertificateStatus.WITHDRAWN, "Withdraw", "is withdrawn"),
}
Number = Annotated[str, Path(max_length=40)]
Text = Annotated[str, Query(max_length=100)]


def _render(request: Request, name: str, context: dict[str, Any],
            status_code: int = 200) -> Response:
    response: Response = request.app.state.templates.render(request, name, context, status_code)
    return response


def _reraise_access(exc: DomainError) -> None:
    if exc.status_code in (401, 403):
        raise exc


def _errors(exc: DomainError, fallback: str, rename: dict[str, str] | None = None,
            ) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, message in exc.field_errors().items():
        out.setdefault((rename or {}).get(name, name), sentence(message))
    if not out:
        out[fallback] = sentence(exc.message)
    return out


def _validated(model: type[Any], values: dict[str, Any]) -> Any:
    """The form's input model; see core.forms.form_input."""
    return form_input(model, values)


def _standards(db: Session) -> tuple[list[tuple[str, str]], list[int], set[tuple[str, int]]]:
    """The standards and version numbers to filter by, and the illustrative versions."""
    rows = library.list_standards(db)
    options = [(s.slug, s.title) for s in rows]
    versions = sorted({v.version for s in rows for v in s.versions})
    illustrative = {(s.slug, v.version) for s in rows for v in s.versions if v.illustrative}
    return options, versions, illustrative


def _empty(paging: PageParams) -> Page[Any]:
    return Page([], 0, paging.page, paging.per_page)


def _query_string(values: dict[str, Any]) -> str:
    pairs = [(k, str(v)) for k, v in values.items() if v not in ("", None)]
    return ("?" + urlencode(pairs)) if pairs else ""


# --- the certificate register -----------------------------------------------------------


@router.get("/certificates")
def certificate_register(request: Request, db: DbSession, actor: OptionalActor,
                         paging: Pagination, kind: Text = "", standard: Text = "",
                         version: Text = "", activity: Text = "", country: Text = "",
                         status: Text = "", q: Text = "", organization: Text = "") -> Response:
    filters = {"kind": kind, "standard": standard, "version": version.strip(),
               "activity": activity, "country": country.strip().upper(), "status": status,
               "q": q.strip(), "organization": organization.strip()}
    problem, code = "", 200
    try:
        if filters["version"] and not filters["version"].isdecimal():
            raise InvalidInput("the version is a whole number", field="version")
        given = {k: v or None for k, v in filters.items()}
        query = CertificateQuery.model_validate(
            {**given, "version": int(filters["version"]) if filters["version"] else None})
        page: Any = certificates.list_certificates(db, paging, query)
    except (DomainError, ValidationError) as exc:
        if isinstance(exc, DomainError):
            _reraise_access(exc)
            problem, code = sentence(exc.message), exc.status_code
        else:
            problem, code = "Some filters are not valid.", 422
        page = _empty(paging)
    stats = register.register_stats(db)
    standards, versions, _ = _standards(db)
    return _render(request, "assurance/public/register.html", {
        "page": page, "filters": filters, "problem": problem,
        "filtered": any(filters.values()),
        "export_url": f"{API}/certificates/export" + _query_string(filters),
        "kinds": KINDS, "standards": standards, "versions": [(str(v), str(v)) for v in versions],
        "activities": ACTIVITIES, "activity_labels": ACTIVITY_LABELS,
        "countries": all_countries(), "statuses": STATUSES,
        "chart_activity": charts.bar_chart(stats.certificates_by_activity,
                                           title="Current certificates by activity",
                                           cid="chart-activity"),
        "chart_country": charts.bar_chart(stats.certificates_by_country,
                                          title="Current certificates by country",
                                          cid="chart-country"),
        "chart_findings": charts.nonconformity_chart(
            stats.nonconformities_by_principle,
            title="Non-conformities by principle and year", cid="chart-findings"),
        "stats": stats,
    }, code)


# --- one certificate --------------------------------------------------------------------


def _verify_url(request: Request, number: str) -> str:
    return public_base_url(request) + certificates.verify_path(number)


def _status_actions(actor: Actor | None, status: str) -> list[tuple[str, str]]:
    if actor is None or not actor.is_secretariat():
        return []
    current = CertificateStatus(status)
    return [(action, label) for action, (target, label, _done) in STATUS_ACTIONS.items()
            if certificate_may_move(current, target)]


def _certificate_page(request: Request, db: Session, actor: Actor | None, number: str, *,
                      errors: dict[str, str] | None = None,
                      values: dict[str, Any] | None = None,
                      status_code: int = 200) -> Response:
    cert = certificates.get_certificate(db, number)
    _, _, illustrative = _standards(db)
    owner = (actor is not None and actor.role is Role.MEMBER_ADMIN
             and actor.organization_slug == cert.organization.slug)
    approved = claims.list_public_claims(db, PageParams(1, 100),
                                         organization=cert.organization.slug,
                                         include_lapsed=True)
    verify_url = _verify_url(request, cert.number)
    return _render(request, "assurance/public/certificate.html", {
        "cert": cert, "verify_url": verify_url, "qr": qr_svg(verify_url),
        "json_url": f"{API}/certificates/{cert.number}/document",
        "pdf_url": f"/certificates/{cert.number}.pdf",
        "credential": issuance.latest_for(db, f"certificate:{cert.number}"),
        "illustrative": (cert.standard.slug, cert.standard.version) in illustrative,
        "activity_labels": ACTIVITY_LABELS,
        "country_names": {c: country_name(c) for c in cert.countries},
        "status_actions": _status_actions(actor, cert.status), "may_claim": owner,
        "claim_kinds": CLAIM_KINDS,
        "claims": [c for c in approved.items if c.certificate.number == cert.number],
        "errors": errors or {}, "values": values or {},
    }, status_code)


@router.get("/certificates/{number}.pdf")
def certificate_pdf_file(request: Request, db: DbSession, number: Number) -> Response:
    cert = certificates.get_certificate(db, number)
    _, _, illustrative = _standards(db)
    body = certificate_pdf(
        cert, _verify_url(request, cert.number), status_as_of=clock.now(),
        demo=(cert.standard.slug, cert.standard.version) in illustrative,
        activity_labels=ACTIVITY_LABELS,
        country_names={c: country_name(c) for c in cert.countries})
    return Response(body, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{cert.number}.pdf"'})


@router.get("/certificates/{number}")
def certificate_page(request: Request, db: DbSession, actor: OptionalActor,
                     number: Number) -> Response:
    return _certificate_page(request, db, actor, number)


@router.post("/certificates/{number}/status", dependencies=[CsrfChecked])
def change_certificate_status(request: Request, db: DbSession, actor: OptionalActor,
                              number: Number,
                              action: Annotated[str, Form(max_length=20)] = "",
                              reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    actor = require(actor, Role.SECRETARIAT, action="change a certificate's status")
    try:
        if action not in STATUS_ACTIONS:
            raise InvalidInput("choose what to do with the certificate", field="action")
        data = _validated(StatusChange, {"reason": reason})
        change = {"suspend": certificates.suspend, "reinstate": certificates.reinstate,
                  "withdraw": certificates.withdraw}[action]
        read = change(db, actor, number, data)
    except DomainError as exc:
        _reraise_access(exc)
        db.rollback()
        return _certificate_page(request, db, actor, number,
                                 errors=_errors(exc, "reason", {"status": "action"}),
                                 values={"action": action, "reason": reason},
                                 status_code=exc.status_code)
    return redirect(request, f"/certificates/{read.number}",
                    f"Certificate {read.number} {STATUS_ACTIONS[action][2]}.")


@router.post("/certificates/{number}/claims", dependencies=[CsrfChecked])
def request_claim(request: Request, db: DbSession, actor: OptionalActor, number: Number,
                  kind: Annotated[str, Form(max_length=20)] = "",
                  uses_logo: Annotated[str, Form(max_length=5)] = "",
                  wording: Annotated[str, Form(max_length=2000)] = "",
                  percentage: Annotated[str, Form(max_length=10)] = "") -> Response:
    actor = require(actor, Role.MEMBER_ADMIN, action="request claims")
    values = {"kind": kind, "uses_logo": uses_logo, "wording": wording,
              "percentage": percentage}
    try:
        data = _validated(ClaimCreate, {"certificate": number, "kind": kind,
                                        "uses_logo": bool(uses_logo), "wording": wording,
                                        "percentage": percentage.strip()})
        claim = claims.request_claim(db, actor, data)
    except DomainError as exc:
        _reraise_access(exc)
        db.rollback()
        return _certificate_page(request, db, actor, number,
                                 errors=_errors(exc, "wording",
                                                {"certificate": "kind", "status": "kind"}),
                                 values=values, status_code=exc.status_code)
    return redirect(request, f"/certificates/{claim.certificate_number}",
                    "Your claim is sent to the secretariat for approval.")


# --- findings and audit summaries -------------------------------------------------------


@router.get("/register/findings")
def findings_register(request: Request, db: DbSession, paging: Pagination,
                      principle: Text = "", criterion: Text = "", rating: Text = "",
                      year: Text = "") -> Response:
    filters = {"principle": principle.strip(), "criterion": criterion.strip(),
               "rating": rating, "year": year.strip()}
    problem, code = "", 200
    counts: dict[str, int] = {}
    try:
        for name in ("principle", "year"):
            if filters[name] and not filters[name].isdecimal():
                raise InvalidInput(f"the {name} is a whole number", field=name)
        query = FindingQuery(
            principle=int(filters["principle"]) if filters["principle"] else None,
            criterion=filters["criterion"] or None, rating=rating or None,
            year=int(filters["year"]) if filters["year"] else None)
        page: Any = register.list_findings(db, paging, query)
        counts = page.counts
    except (DomainError, ValidationError) as exc:
        if isinstance(exc, DomainError):
            problem, code = sentence(exc.message), exc.status_code
        else:
            problem, code = "Some filters are not valid.", 422
        page = _empty(paging)
    return _render(request, "assurance/public/findings.html", {
        "page": page, "filters": filters, "problem": problem, "counts": counts,
        "filtered": any(filters.values()), "ratings": RATINGS,
        "export_url": f"{API}/findings/export" + _query_string(filters),
    }, code)


@router.get("/audits/{audit_id}/summary")
def audit_summary(request: Request, db: DbSession, audit_id: uuid.UUID) -> Response:
    summary = register.audit_summary(db, audit_id)
    return _render(request, "assurance/public/audit_summary.html", {
        "s": summary, "activity_labels": ACTIVITY_LABELS})


# --- claims -----------------------------------------------------------------------------


@router.get("/claims")
def public_claims(request: Request, db: DbSession, paging: Pagination) -> Response:
    page = claims.list_public_claims(db, paging)
    return _render(request, "assurance/public/claims.html", {"page": page})


def _claims_admin(request: Request, db: Session, actor: Actor, paging: PageParams,
                  status: str, *, errors: dict[str, str] | None = None,
                  failed: str = "", values: dict[str, Any] | None = None,
                  status_code: int = 200) -> Response:
    page = claims.list_claim_requests(db, actor, paging, status=status or None)
    return _render(request, "assurance/public/secretariat_claims.html", {
        "page": page, "status": status, "errors": errors or {}, "failed": failed,
        "values": values or {},
        "statuses": [("requested", "Requested"), ("approved", "Approved"),
                     ("rejected", "Rejected")],
    }, status_code)


@router.get("/secretariat/claims")
def claims_admin(request: Request, db: DbSession, actor: OptionalActor, paging: Pagination,
                 status: Annotated[str, Query(pattern="^(|requested|approved|rejected)$")]
                 = "requested") -> Response:
    actor = require(actor, Role.SECRETARIAT, action="decide on claims")
    return _claims_admin(request, db, actor, paging, status)


@router.post("/secretariat/claims/{claim_id}/decide", dependencies=[CsrfChecked])
def decide_claim(request: Request, db: DbSession, actor: OptionalActor, claim_id: uuid.UUID,
                 decision: Annotated[str, Form(max_length=10)] = "",
                 reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    actor = require(actor, Role.SECRETARIAT, action="decide on claims")
    try:
        if decision == "approve":
            claim = claims.approve_claim(db, actor, claim_id, _validated(Note, {"note": reason}))
            done = "approved"
        elif decision == "reject":
            claim = claims.reject_claim(db, actor, claim_id,
                                        _validated(Reason, {"reason": reason}))
            done = "rejected"
        else:
            raise InvalidInput("choose approve or reject", field="decision")
    except DomainError as exc:
        _reraise_access(exc)
        db.rollback()
        first = PageParams(1, settings_of(request).page_size_default)
        return _claims_admin(request, db, actor, first, "requested",
                             errors=_errors(exc, "reason", {"status": "reason"}),
                             failed=str(claim_id), values={"reason": reason},
                             status_code=exc.status_code)
    return redirect(request, "/secretariat/claims",
                    f"The claim of {claim.organization.name} on certificate "
                    f"{claim.certificate_number} is {done}.")


# --- importing certificates issued before the platform ----------------------------------

IMPORT_MAX_BYTES = 2_000_000


def _import_page(request: Request, *, errors: dict[str, str] | None = None,
                 rows: list[Any] | None = None, status_code: int = 200) -> Response:
    return _render(request, "assurance/public/import.html", {
        "columns": imports.CSV_COLUMNS, "required": imports.REQUIRED_COLUMNS,
        "errors": errors or {}, "rows": rows or [], "json_url": f"{API}/certificates/import",
    }, status_code)


@router.get("/secretariat/certificates/import")
def import_form(request: Request, actor: OptionalActor) -> Response:
    require(actor, Role.SECRETARIAT, action="import certificates")
    return _import_page(request)


@router.get("/secretariat/certificates/import/template.csv")
def import_template(actor: OptionalActor) -> Response:
    require(actor, Role.SECRETARIAT, action="import certificates")
    return Response(csv_text(imports.csv_template()), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition":
                             'attachment; filename="certificate-import.csv"'})


@router.post("/secretariat/certificates/import", dependencies=[CsrfChecked])
async def import_upload(request: Request, db: DbSession, actor: OptionalActor) -> Response:
    actor = require(actor, Role.SECRETARIAT, action="import certificates")
    form = await request.form()
    upload = form.get("file")
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InvalidInput("choose a CSV file to upload", field="file")
        data = await upload.read(IMPORT_MAX_BYTES + 1)
        if len(data) > IMPORT_MAX_BYTES:
            raise InvalidInput(f"the file is larger than {IMPORT_MAX_BYTES:,} bytes; split it"
                               .replace(",", " "), field="file")
        report = imports.import_csv(db, actor, data)
    except imports.ImportRefused as exc:
        db.rollback()
        return _import_page(request, errors={"file": sentence(exc.message)}, rows=exc.rows,
                            status_code=exc.status_code)
    except DomainError as exc:
        _reraise_access(exc)
        db.rollback()
        return _import_page(request, errors=_errors(exc, "file"), status_code=exc.status_code)
    return redirect(request, "/certificates",
                    f"{report.imported} certificate(s) imported: "
                    + ", ".join(c.number for c in report.certificates[:10])
                    + (" and more" if report.imported > 10 else "") + ".")
