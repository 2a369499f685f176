"""Pages of the certification flow, audit side: planning an audit, its page (plan notice,
start, findings and corrective action plans), the auditor's assigned audits and rating
page, the report, and the secretariat's review and decision."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from stewardship.assurance.rules import AuditStatus, AuditType, Maturity, Rating, may_start
from stewardship.assurance.schemas import (
    AuditCreate,
    AuditPage,
    AuditReschedule,
    ClosureVerify,
    CorrectivePlan,
    Note,
    PlanReceipt,
    PlanSubmit,
    RatingBatch,
    Reason,
    ReportSubmit,
)
from stewardship.assurance.service import audits, decisions, findings, rating_aids, scopes
from stewardship.assurance.views.flow_common import (
    errors_of,
    render,
    reraise_access,
    validate,
)
from stewardship.core import clock
from stewardship.core.auth import Actor, Role, require
from stewardship.core.errors import DomainError, InvalidInput
from stewardship.core.web import CsrfChecked, DbSession, OptionalActor, Pagination, redirect

router = APIRouter(include_in_schema=False)

RATINGS = [(Rating.CONFORMANCE.value, "Conformance"), (Rating.MINOR.value, "Minor"),
           (Rating.MAJOR.value, "Major"), (Rating.NOT_APPLICABLE.value, "Not applicable")]
MATURITIES = [(m.value, m.value.capitalize()) for m in Maturity]

Short = Annotated[str, Form(max_length=200)]
Text = Annotated[str, Form(max_length=20_000)]


# --- planning an audit (on the scope page) ----------------------------------------------


@router.post("/assurance/scopes/{scope_id}/audits", dependencies=[CsrfChecked])
def plan_audit(request: Request, db: DbSession, actor: OptionalActor, scope_id: uuid.UUID,
               audit_firm: Short = "", lead_auditor_id: Short = "", audit_type: Short = "",
               start_on: Short = "", end_on: Short = "", plan: Text = "") -> Response:
    from stewardship.assurance.views.flow import scope_page

    actor = require(actor, Role.MEMBER_ADMIN, action="plan audits")
    values = {"audit_firm": audit_firm, "lead_auditor_id": lead_auditor_id,
              "audit_type": audit_type, "start_on": start_on, "end_on": end_on, "plan": plan}
    try:
        data = validate(AuditCreate, {**values, "scope_id": scope_id})
        created = audits.plan_audit(db, actor, data)
    except DomainError as exc:
        reraise_access(exc)
        db.rollback()
        return scope_page(request, db, actor, scope_id,
                          errors=errors_of(exc, rename={"scope_id": "form"}), values=values,
                          status_code=exc.status_code)
    return redirect(request, f"/assurance/audits/{created.id}",
                    f"The audit with {created.audit_firm.name} is planned. Send the audit "
                    "plan to the secretariat when it is ready.")


# --- lists ------------------------------------------------------------------------------


AUDIT_STATUSES = [(s.value, s.value.replace("_", " ").capitalize()) for s in AuditStatus]


@router.get("/assurance/audits")
def audit_list(request: Request, db: DbSession, actor: OptionalActor, paging: Pagination,
               status: Annotated[str, Query(max_length=20)] = "") -> Response:
    actor = require(actor, action="list audits")
    problem, code = "", 200
    if status and status not in {s.value for s in AuditStatus}:
        problem = "The status is planned, in progress, submitted, decided or cancelled."
        code = 422
        page = AuditPage(items=[], total=0, page=1, per_page=paging.per_page, pages=1)
    else:
        page = audits.list_audits(db, actor, paging, status=status or None)
    return render(request, "assurance/flow/audits.html", {
        "page": page, "heading": "Your firm's audits" if actor.role is Role.AUDITOR
        else "Audits", "status": status, "statuses": AUDIT_STATUSES, "problem": problem}, code)


@router.get("/secretariat/audits")
def secretariat_audits(request: Request, db: DbSession, actor: OptionalActor,
                       paging: Pagination) -> Response:
    actor = require(actor, Role.SECRETARIAT, action="review audit reports")
    page = audits.list_audits(db, actor, paging, status=AuditStatus.SUBMITTED.value)
    return render(request, "assurance/flow/secretariat_audits.html", {"page": page})


# --- the audit page ---------------------------------------------------------------------


def _audit_page(request: Request, db: Session, actor: Actor | None, audit_id: uuid.UUID, *,
                errors: dict[str, str] | None = None, failed: str = "",
                values: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    actor = require(actor, action="see audits")
    audit = audits.get_audit(db, actor, audit_id)
    scope = scopes.get_scope(db, actor, audit.scope_id)
    start_refusal = may_start(AuditType(audit.audit_type), scope.activities,
                              audit.plan_submitted_on, audit.start_on)
    if clock.today() < audit.start_on:
        start_refusal = "; ".join(filter(None, [
            f"it starts on {audit.start_on:%d %b %Y}, and work on it opens that day",
            start_refusal]))
    preview = None
    if actor.is_secretariat() and audit.status == AuditStatus.SUBMITTED:
        try:
            preview = decisions.preview_decision(db, actor, audit.id)
        except DomainError as exc:  # e.g. the applicable criteria changed since the report
            preview_error = exc.message
        else:
            preview_error = ""
    else:
        preview_error = ""
    own_admin = (actor.role is Role.MEMBER_ADMIN
                 and actor.organization_slug == audit.organization.slug)
    return render(request, "assurance/flow/audit.html", {
        "audit": audit, "scope": scope, "findings": findings.list_findings(db, actor, audit.id),
        "start_refusal": start_refusal, "own_admin": own_admin, "preview": preview,
        "preview_error": preview_error,
        "is_auditor": actor.role is Role.AUDITOR, "is_secretariat": actor.is_secretariat(),
        "errors": errors or {}, "failed": failed, "values": values or {},
    }, status_code)


@router.get("/assurance/audits/{audit_id}")
def audit_detail(request: Request, db: DbSession, actor: OptionalActor,
                 audit_id: uuid.UUID) -> Response:
    return _audit_page(request, db, actor, audit_id)


def _act(request: Request, db: Session, actor: Actor | None, audit_id: uuid.UUID,
         failed: str, action: Callable[[], Any], done: str | Callable[[Any], str], *,
         values: dict[str, Any] | None = None, back: str = "",
         rename: dict[str, str] | None = None, page: Any = None) -> Response:
    """Run a service action; on refusal show the page again with the form's errors."""
    try:
        result = action()
    except DomainError as exc:
        reraise_access(exc)
        db.rollback()
        show = page or _audit_page
        return show(request, db, actor, audit_id, errors=errors_of(exc, rename=rename),
                    failed=failed, values=values, status_code=exc.status_code)
    message = done(result) if callable(done) else done
    return redirect(request, back or f"/assurance/audits/{audit_id}", message)


@router.post("/assurance/audits/{audit_id}/plan", dependencies=[CsrfChecked])
def submit_plan(request: Request, db: DbSession, actor: OptionalActor, audit_id: uuid.UUID,
                plan: Text = "") -> Response:
    actor = require(actor, Role.MEMBER_ADMIN, action="submit audit plans")
    return _act(request, db, actor, audit_id, "plan",
                lambda: audits.submit_plan(db, actor, audit_id,
                                           validate(PlanSubmit, {"plan": plan})),
                lambda a: f"The audit plan reached the secretariat on "
                          f"{a.plan_submitted_on:%d %b %Y}.",
                values={"plan": plan}, rename={"status": "plan"})


@router.post("/assurance/audits/{audit_id}/plan-received", dependencies=[CsrfChecked])
def plan_received(request: Request, db: DbSession, actor: OptionalActor,
                  audit_id: uuid.UUID, received_on: Short = "", note: Text = "") -> Response:
    actor = require(actor, Role.SECRETARIAT, action="record audit plans")
    values = {"received_on": received_on, "note": note}
    return _act(request, db, actor, audit_id, "received",
                lambda: audits.record_plan_received(db, actor, audit_id,
                                                    validate(PlanReceipt, values)),
                lambda a: f"The plan is recorded as received on "
                          f"{a.plan_submitted_on:%d %b %Y}.",
                values=values, rename={"status": "form"})


@router.post("/assurance/audits/{audit_id}/reschedule", dependencies=[CsrfChecked])
def reschedule(request: Request, db: DbSession, actor: OptionalActor, audit_id: uuid.UUID,
               start_on: Short = "", end_on: Short = "", reason: Text = "") -> Response:
    actor = require(actor, Role.SECRETARIAT, action="reschedule audits")
    values = {"start_on": start_on, "end_on": end_on, "reason": reason}
    return _act(request, db, actor, audit_id, "reschedule",
                lambda: audits.reschedule_audit(db, actor, audit_id,
                                                validate(AuditReschedule, values)),
                lambda a: f"The audit now runs {a.start_on:%d %b %Y} to {a.end_on:%d %b %Y}.",
                values=values, rename={"status": "form"})


@router.post("/assurance/audits/{audit_id}/start", dependencies=[CsrfChecked])
def start(request: Request, db: DbSession, actor: OptionalActor,
          audit_id: uuid.UUID) -> Response:
    actor = require(actor, Role.AUDITOR, action="start audits")
    return _act(request, db, actor, audit_id, "start",
                lambda: audits.start_audit(db, actor, audit_id),
                "The audit is in progress: rate every applicable criterion at each facility.",
                back=f"/assurance/audits/{audit_id}/ratings",
                rename={"plan_submitted_on": "form", "status": "form", "audit_firm": "form",
                        "start_on": "form"})


@router.post("/assurance/audits/{audit_id}/findings/{finding_id}/corrective-plan",
             dependencies=[CsrfChecked])
def corrective_plan(request: Request, db: DbSession, actor: OptionalActor,
                    audit_id: uuid.UUID, finding_id: uuid.UUID, plan: Text = "") -> Response:
    actor = require(actor, Role.MEMBER_ADMIN, action="file corrective action plans")
    return _act(request, db, actor, audit_id, f"cap-{finding_id}",
                lambda: findings.file_corrective_plan(
                    db, actor, finding_id, validate(CorrectivePlan, {"plan": plan})),
                lambda f: f"The corrective action plan for criterion {f.criterion} is filed.",
                values={"plan": plan}, rename={"status": "plan"})


# --- the auditor's rating page ----------------------------------------------------------


def _ratings_page(request: Request, db: Session, actor: Actor | None, audit_id: uuid.UUID, *,
                  errors: dict[str, str] | None = None, failed: str = "",
                  values: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    actor = require(actor, Role.AUDITOR, Role.SECRETARIAT, action="see audit ratings")
    audit = audits.get_audit(db, actor, audit_id)
    scope = scopes.get_scope(db, actor, audit.scope_id)
    rated = audits.list_ratings(db, actor, audit_id)
    given = {(r.facility, r.criterion): r for r in rated.ratings}
    return render(request, "assurance/flow/ratings.html", {
        "audit": audit, "scope": scope, "rated": rated, "given": given,
        "aids": rating_aids.criterion_aids(db, actor, audit_id),
        "unrated": rated.progress.required - rated.progress.rated,
        "criteria": [c for c in scope.criteria if c.applicable],
        "findings": findings.list_findings(db, actor, audit_id), "ratings": RATINGS,
        "maturities": MATURITIES,
        "may_rate": actor.role is Role.AUDITOR and audit.status == AuditStatus.IN_PROGRESS,
        "may_verify": actor.role is Role.AUDITOR,
        "errors": errors or {}, "failed": failed, "values": values or {},
    }, status_code)


@router.get("/assurance/audits/{audit_id}/ratings")
def ratings(request: Request, db: DbSession, actor: OptionalActor,
            audit_id: uuid.UUID) -> Response:
    return _ratings_page(request, db, actor, audit_id)


@router.post("/assurance/audits/{audit_id}/ratings", dependencies=[CsrfChecked])
async def rate(request: Request, db: DbSession, actor: OptionalActor,
               audit_id: uuid.UUID) -> Response:
    """One facility's form: every row with a rating chosen is saved, all or nothing."""
    actor = require(actor, Role.AUDITOR, action="rate criteria")
    form = await request.form()
    facility = str(form.get("facility") or "")[:20]
    rows: list[dict[str, str]] = []
    values: dict[str, Any] = {"facility": facility}
    for key in form:
        if key.startswith("rating-"):
            number = key.removeprefix("rating-")[:10]
            row = {"facility": facility, "criterion": number,
                   "rating": str(form.get(key) or ""),
                   "reason": str(form.get(f"reason-{number}") or "")[:10_000],
                   "notes": str(form.get(f"notes-{number}") or "")[:10_000]}
            values[number] = row
            if row["rating"]:
                rows.append(row)

    def save() -> Any:
        if not rows:
            raise InvalidInput("choose a rating for at least one criterion", field="form")
        try:
            batch = RatingBatch.model_validate({"ratings": rows})
        except ValueError:
            raise InvalidInput("choose a listed rating for each criterion",
                               field="form") from None
        return audits.rate(db, actor, audit_id, batch)

    def renamed(exc_field: str) -> str:
        parts = exc_field.split(".")
        if len(parts) >= 2 and parts[0] == "ratings" and parts[1].isdecimal() \
                and int(parts[1]) < len(rows):
            return f"{parts[-1]}-{rows[int(parts[1])]['criterion']}"
        return exc_field

    try:
        result = save()
    except DomainError as exc:
        reraise_access(exc)
        db.rollback()
        errors = {renamed(k): v for k, v in errors_of(exc).items()}
        return _ratings_page(request, db, actor, audit_id, errors=errors,
                             failed=f"facility-{facility}", values=values,
                             status_code=exc.status_code)
    return redirect(request, f"/assurance/audits/{audit_id}/ratings",
                    f"{len(rows)} rating(s) at {facility} saved: {result.progress.rated} of "
                    f"{result.progress.required} rated.")


def _rest_page(request: Request, db: Session, actor: Actor | None, audit_id: uuid.UUID, *,
               errors: dict[str, str] | None = None, status_code: int = 200) -> Response:
    actor = require(actor, Role.AUDITOR, action="rate criteria")
    audit = audits.get_audit(db, actor, audit_id)
    rest = rating_aids.unrated(db, actor, audit_id)
    by_facility: dict[str, list[Any]] = {}
    for pair in rest:
        by_facility.setdefault(f"{pair.facility_name} ({pair.facility})", []).append(pair)
    return render(request, "assurance/flow/rate_rest.html", {
        "audit": audit, "rest": rest, "by_facility": by_facility,
        "may_rate": audit.status == AuditStatus.IN_PROGRESS,
        "errors": errors or {},
    }, status_code)


@router.get("/assurance/audits/{audit_id}/ratings/rest")
def rate_rest_confirm(request: Request, db: DbSession, actor: OptionalActor,
                      audit_id: uuid.UUID) -> Response:
    """The confirmation step of "mark the rest conformant": what would be rated."""
    return _rest_page(request, db, actor, audit_id)


@router.post("/assurance/audits/{audit_id}/ratings/rest", dependencies=[CsrfChecked])
def rate_rest(request: Request, db: DbSession, actor: OptionalActor, audit_id: uuid.UUID,
              confirm: Annotated[str, Form(max_length=5)] = "") -> Response:
    """Rate every still unrated applicable criterion conformant, once confirmed."""
    actor = require(actor, Role.AUDITOR, action="rate criteria")
    try:
        count, result = rating_aids.rate_rest_conformant(db, actor, audit_id,
                                                         confirmed=confirm == "yes")
    except DomainError as exc:
        reraise_access(exc)
        db.rollback()
        return _rest_page(request, db, actor, audit_id,
                          errors=errors_of(exc, fallback="confirm"),
                          status_code=exc.status_code)
    return redirect(request, f"/assurance/audits/{audit_id}/ratings",
                    f"{count} rating(s) marked conformant: {result.progress.rated} of "
                    f"{result.progress.required} rated.")


@router.post("/assurance/audits/{audit_id}/findings/{finding_id}/closure",
             dependencies=[CsrfChecked])
def verify_closure(request: Request, db: DbSession, actor: OptionalActor,
                   audit_id: uuid.UUID, finding_id: uuid.UUID, note: Text = "") -> Response:
    actor = require(actor, Role.AUDITOR, action="verify closures")
    return _act(request, db, actor, audit_id, f"closure-{finding_id}",
                lambda: findings.verify_closure(db, actor, finding_id,
                                                validate(ClosureVerify, {"note": note})),
                lambda f: f"The finding on criterion {f.criterion} is closed.",
                values={"note": note}, rename={"status": "note"}, page=_ratings_page,
                back=f"/assurance/audits/{audit_id}/ratings")


@router.post("/assurance/audits/{audit_id}/report", dependencies=[CsrfChecked])
def submit_report(request: Request, db: DbSession, actor: OptionalActor, audit_id: uuid.UUID,
                  proposed_maturity: Short = "", public_summary: Text = "") -> Response:
    actor = require(actor, Role.AUDITOR, action="submit audit reports")
    values = {"proposed_maturity": proposed_maturity, "public_summary": public_summary}
    return _act(request, db, actor, audit_id, "report",
                lambda: audits.submit_report(db, actor, audit_id,
                                             validate(ReportSubmit, values)),
                "The report is submitted to the secretariat.", values=values,
                rename={"status": "form", "ratings": "form", "end_on": "form"},
                page=_ratings_page)


# --- the secretariat --------------------------------------------------------------------


@router.post("/assurance/audits/{audit_id}/review", dependencies=[CsrfChecked])
def review(request: Request, db: DbSession, actor: OptionalActor, audit_id: uuid.UUID,
           note: Annotated[str, Form(max_length=2000)] = "") -> Response:
    actor = require(actor, Role.SECRETARIAT, action="review audit reports")
    return _act(request, db, actor, audit_id, "review",
                lambda: decisions.review_report(db, actor, audit_id,
                                                validate(Note, {"note": note})),
                "The report is reviewed; it can be decided now.", values={"note": note},
                rename={"status": "form", "reviewed_at": "form"})


@router.post("/assurance/audits/{audit_id}/return", dependencies=[CsrfChecked])
def return_report(request: Request, db: DbSession, actor: OptionalActor, audit_id: uuid.UUID,
                  reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    actor = require(actor, Role.SECRETARIAT, action="return audit reports")
    return _act(request, db, actor, audit_id, "return",
                lambda: decisions.return_report(db, actor, audit_id,
                                                validate(Reason, {"reason": reason})),
                "The report is returned to the auditor.", values={"reason": reason},
                rename={"status": "reason"})


def _decided(d: Any) -> str:
    text = f"Decision: {d.outcome.value}, maturity {d.maturity.value}"
    if d.certificate is not None:
        text += f"; certificate {d.certificate.number} valid until {d.valid_until:%d %b %Y}"
    if d.superseded:
        text += f"; it supersedes {', '.join(d.superseded)}"
    if d.kept:
        text += ", kept as it was (the surveillance audit is done)"
    if d.withdrawn:
        text += f"; withdrawn: {', '.join(d.withdrawn)}"
    return text + "."


@router.post("/assurance/audits/{audit_id}/decision", dependencies=[CsrfChecked])
def decide(request: Request, db: DbSession, actor: OptionalActor, audit_id: uuid.UUID,
           note: Annotated[str, Form(max_length=2000)] = "") -> Response:
    actor = require(actor, Role.SECRETARIAT, action="decide on audits")
    return _act(request, db, actor, audit_id, "decide",
                lambda: decisions.decide_audit(db, actor, audit_id,
                                               validate(Note, {"note": note})),
                _decided, values={"decision_note": note},
                rename={"status": "form", "reviewed_at": "form", "end_on": "form",
                        "ratings": "form"})
