"""Pages of the certification flow, member side: certification scopes and their applicable
criteria, the self-assessment with its evidence, and the move to a newer version. The
audit pages (planning, rating, findings, the secretariat's review) are in ``audit_pages``.

Views read the form, build the API's input models, call the assurance services and
render; a refused post rolls back and shows the form again with what was typed and what
to fix.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from stewardship.assurance.rules import AuditType, Rating
from stewardship.assurance.schemas import AnswerWrite, MoveRequest, ScopeCreate, ScopeRead
from stewardship.assurance.service import audits, evidence, scopes, self_assessment
from stewardship.assurance.views import audit_pages
from stewardship.assurance.views.flow_common import (
    all_rows,
    errors_of,
    render,
    reraise_access,
    validate,
)
from stewardship.core import labels
from stewardship.core.auth import Actor, Role, require
from stewardship.core.errors import DomainError, InvalidInput
from stewardship.core.web import (
    CsrfChecked,
    DbSession,
    OptionalActor,
    Pagination,
    redirect,
    settings_of,
)
from stewardship.registry.rules import Activity
from stewardship.registry.service import audit_firms, organizations
from stewardship.registry.service import facilities as registry_facilities
from stewardship.standards.service import library

router = APIRouter(include_in_schema=False)
router.include_router(audit_pages.router)

ACTIVITIES = [(a.value, a.label) for a in Activity]
RATINGS = [(Rating.CONFORMANCE.value, "Conformance"), (Rating.MINOR.value, "Minor non-conformance"),
           (Rating.MAJOR.value, "Major non-conformance"),
           (Rating.NOT_APPLICABLE.value, "Not applicable")]
AUDIT_TYPES = [(t.value, labels.label(t)) for t in AuditType]
USABLE = ("current", "superseded")

Short = Annotated[str, Form(max_length=200)]
Many = Annotated[list[str] | None, Form(max_length=50)]
LongText = Annotated[str, Form(max_length=20_000)]


# --- what the forms offer ---------------------------------------------------------------


def _versions(db: Session) -> list[tuple[str, str]]:
    """Standard versions a new scope may use: ("slug:version", label)."""
    out = []
    for s in library.list_standards(db):
        for v in s.versions:
            if v.status in USABLE:
                label = f"{s.title}, version {v.version}"
                if v.status == "superseded":
                    label += " (superseded; usable until the transition ends)"
                out.append((f"{s.slug}:{v.version}", label))
    return out


def _scope_choices(request: Request, db: Session, actor: Actor) -> dict[str, Any]:
    slug = actor.organization_slug or ""
    org = organizations.get_organization(db, actor, slug)
    sites = registry_facilities.list_facilities(db, actor, all_rows(request), organization=slug)
    return {
        "entities": [(str(e.id), e.name) for e in org.entities],
        "facility_options": [(f.id, f"{f.name} ({f.id}, {f.country}: "
                                    f"{', '.join(a.label for a in f.activities)})")
                             for f in sites.items if f.status == "active"],
        "activities": ACTIVITIES, "versions": _versions(db),
    }


def plan_choices(request: Request, db: Session, actor: Actor) -> dict[str, Any]:
    """Accredited audit firms and their active lead auditors, for the plan form."""
    firms = audit_firms.list_audit_firms(db, actor, all_rows(request)).items
    return {
        "firms": [(f.slug, f"{f.name} ({', '.join(f.countries)})") for f in firms],
        "leads": [(str(a.id), f"{a.name} ({f.name})") for f in firms
                  for a in f.auditors if a.lead and a.active],
        "audit_types": AUDIT_TYPES,
    }


# --- scopes -----------------------------------------------------------------------------


def _scopes_page(request: Request, db: Session, actor: Actor | None, paging: Any, *,
                 errors: dict[str, str] | None = None, values: dict[str, Any] | None = None,
                 status_code: int = 200) -> Response:
    actor = require(actor, Role.MEMBER_ADMIN, Role.MEMBER_USER, Role.SECRETARIAT,
                    action="see certification scopes")
    page = scopes.list_scopes(db, actor, paging)
    context: dict[str, Any] = {"page": page, "errors": errors or {}, "values": values or {},
                               "may_define": actor.role is Role.MEMBER_ADMIN}
    if context["may_define"]:
        context.update(_scope_choices(request, db, actor))
    return render(request, "assurance/flow/scopes.html", context, status_code)


@router.get("/assurance/scopes")
def scope_list(request: Request, db: DbSession, actor: OptionalActor,
               paging: Pagination) -> Response:
    return _scopes_page(request, db, actor, paging)


@router.post("/assurance/scopes", dependencies=[CsrfChecked])
def define_scope(request: Request, db: DbSession, actor: OptionalActor, paging: Pagination,
                 entity_id: Short = "", facilities: Many = None, activities: Many = None,
                 standard_version: Short = "", name: Short = "") -> Response:
    actor = require(actor, Role.MEMBER_ADMIN, action="define certification scopes")
    values = {"entity_id": entity_id, "facilities": facilities or [],
              "activities": activities or [], "standard_version": standard_version,
              "name": name}
    try:
        standard, _, version = standard_version.partition(":")
        if not standard or not version.isdecimal():
            raise InvalidInput("choose a standard version", field="standard_version")
        data = validate(ScopeCreate, {"entity_id": entity_id, "facilities": values["facilities"],
                                      "activities": values["activities"], "name": name,
                                      "standard": standard, "version": version})
        created = scopes.create_scope(db, actor, data)
    except DomainError as exc:
        reraise_access(exc)
        db.rollback()
        errors = errors_of(exc, rename={"standard": "standard_version",
                                        "version": "standard_version"})
        return _scopes_page(request, db, actor, paging, errors=errors, values=values,
                            status_code=exc.status_code)
    return redirect(request, f"/assurance/scopes/{created.id}",
                    f"The scope “{created.name}” is defined: {created.applicable_count} "
                    "criteria apply. Its self-assessment is open.")


def scope_page(request: Request, db: Session, actor: Actor | None, scope_id: uuid.UUID, *,
               errors: dict[str, str] | None = None, values: dict[str, Any] | None = None,
               status_code: int = 200) -> Response:
    actor = require(actor, action="see certification scopes")
    scope = scopes.get_scope(db, actor, scope_id)
    scope_audits = audits.list_audits(db, actor, all_rows(request), scope_id=scope.id)
    may_plan = (actor.role is Role.MEMBER_ADMIN and scope.status == "active"
                and actor.organization_slug == scope.organization.slug)
    context: dict[str, Any] = {"scope": scope, "audits": scope_audits.items,
                               "may_plan": may_plan, "errors": errors or {},
                               "values": values or {}}
    if may_plan:
        context.update(plan_choices(request, db, actor))
    return render(request, "assurance/flow/scope.html", context, status_code)


@router.get("/assurance/scopes/{scope_id}")
def scope_detail(request: Request, db: DbSession, actor: OptionalActor,
                 scope_id: uuid.UUID) -> Response:
    return scope_page(request, db, actor, scope_id)


# --- the self-assessment ----------------------------------------------------------------


def _successor(db: Session, scope: ScopeRead) -> int | None:
    """The current version of the scope's standard when it is newer than the scope's."""
    for s in library.list_standards(db):
        if s.slug == scope.standard.slug:
            newer = [v.version for v in s.versions
                     if v.status == "current" and v.version > scope.standard.version]
            return max(newer) if newer else None
    return None


def _assessment_page(request: Request, db: Session, actor: Actor | None, scope_id: uuid.UUID,
                     *, errors: dict[str, str] | None = None, failed: str = "",
                     values: dict[str, Any] | None = None, move_report: Any = None,
                     status_code: int = 200) -> Response:
    actor = require(actor, action="read self-assessments")
    scope = scopes.get_scope(db, actor, scope_id)
    if scope.self_assessment_id is None:  # pragma: no cover - opened with the scope
        raise InvalidInput("this scope has no self-assessment", field="scope_id")
    read = self_assessment.get_self_assessment(db, actor, scope.self_assessment_id)
    own = actor.organization_slug == scope.organization.slug
    files = evidence.list_evidence(db, actor, all_rows(request)).items if own else []
    return render(request, "assurance/flow/self_assessment.html", {
        "scope": scope, "sa": read, "evidence": files, "ratings": RATINGS,
        "may_answer": own and read.status == "in_progress" and scope.status == "active",
        "may_move": own and actor.role is Role.MEMBER_ADMIN and read.status == "in_progress",
        "successor": _successor(db, scope), "errors": errors or {}, "failed": failed,
        "values": values or {}, "report": move_report,
        "max_mb": settings_of(request).evidence_max_bytes / 1_000_000,
    }, status_code)


@router.get("/assurance/scopes/{scope_id}/self-assessment")
def assessment(request: Request, db: DbSession, actor: OptionalActor,
               scope_id: uuid.UUID) -> Response:
    return _assessment_page(request, db, actor, scope_id)


@router.post("/assurance/scopes/{scope_id}/self-assessment/answers",
             dependencies=[CsrfChecked])
async def answer_all(request: Request, db: DbSession, actor: OptionalActor,
                     scope_id: uuid.UUID) -> Response:
    """The whole self-assessment form in one submit: ``rating-<n>``, ``narrative-<n>`` and
    ``evidence-<n>`` per criterion; rows left without a rating and without text are left
    unanswered. All or nothing; every problem is shown at once, naming its criterion."""
    actor = require(actor, action="answer self-assessments")
    form = await request.form()
    values: dict[str, Any] = {}
    answers: dict[str, AnswerWrite] = {}
    problems: list[dict[str, str]] = []
    for key in list(form.keys())[:2000]:
        if not key.startswith("rating-"):
            continue
        number = key.removeprefix("rating-")[:10]
        row = {"rating": str(form.get(key) or "")[:20],
               "narrative": str(form.get(f"narrative-{number}") or "")[:20_000],
               "evidence_ids": [str(v)[:40] for v in form.getlist(f"evidence-{number}")][:50]}
        values[number] = row
        if not row["rating"]:
            if row["narrative"].strip() or row["evidence_ids"]:
                problems.append({"field": f"rating-{number}",
                                 "message": f"criterion {number}: choose a self-rating, or "
                                            "clear the narrative and evidence"})
            continue
        try:
            answers[number] = validate(AnswerWrite, row)
        except DomainError as exc:
            for field, message in exc.field_errors().items():
                name = field.split(".")[0].removesuffix("_ids")
                problems.append({"field": f"{name}-{number}",
                                 "message": f"criterion {number}: {message}"})
    try:
        scope = scopes.get_scope(db, actor, scope_id)
        if scope.self_assessment_id is None:  # pragma: no cover
            raise InvalidInput("this scope has no self-assessment", field="scope_id")
        if problems:  # with what the service would refuse too: every problem at once
            problems += self_assessment.check_answers(db, actor, scope.self_assessment_id,
                                                      answers)
            raise InvalidInput("some answers could not be saved", details=problems)
        saved = self_assessment.answer_all(db, actor, scope.self_assessment_id, answers)
    except DomainError as exc:
        reraise_access(exc)
        db.rollback()
        errors = {}
        for field, message in errors_of(exc, fallback="answers").items():
            if field.startswith("answers.") and field.count(".") >= 2:
                # answers.<n>.<field> (n itself has a dot) -> <field>-<n>, the form's name
                number, name = field.removeprefix("answers.").rsplit(".", 1)
                field = f"{name.removesuffix('_ids')}-{number}"
            errors[field] = message
        return _assessment_page(request, db, actor, scope_id, errors=errors,
                                failed="answers", values=values,
                                status_code=exc.status_code)
    message = (f"{saved} answer(s) saved." if saved
               else "Nothing had changed: your answers are as they were.")
    return redirect(request, f"/assurance/scopes/{scope_id}/self-assessment", message)


@router.post("/assurance/scopes/{scope_id}/self-assessment/answers/{criterion}",
             dependencies=[CsrfChecked])
def answer(request: Request, db: DbSession, actor: OptionalActor, scope_id: uuid.UUID,
           criterion: Annotated[str, Path(max_length=10)], rating: Short = "",
           narrative: LongText = "", evidence_id: Many = None) -> Response:
    actor = require(actor, action="answer self-assessments")
    number = criterion
    values = {"rating": rating, "narrative": narrative, "evidence_ids": evidence_id or []}
    try:
        scope = scopes.get_scope(db, actor, scope_id)
        if scope.self_assessment_id is None:  # pragma: no cover
            raise InvalidInput("this scope has no self-assessment", field="scope_id")
        data = validate(AnswerWrite, values)
        self_assessment.answer(db, actor, scope.self_assessment_id, number, data)
    except DomainError as exc:
        reraise_access(exc)
        db.rollback()
        # Shown on the one form of the page, beside the criterion's own fields.
        errors = {f"{name.split('.')[0].removesuffix('_ids')}-{number}": message
                  for name, message in errors_of(exc, fallback="rating").items()}
        return _assessment_page(request, db, actor, scope_id, errors=errors,
                                failed="answers", values={number: values},
                                status_code=exc.status_code)
    return redirect(request, f"/assurance/scopes/{scope_id}/self-assessment#c-{number}",
                    f"Your answer on criterion {number} is saved.")


@router.post("/assurance/scopes/{scope_id}/self-assessment/evidence",
             dependencies=[CsrfChecked])
async def upload_evidence(request: Request, db: DbSession, actor: OptionalActor,
                          scope_id: uuid.UUID) -> Response:
    actor = require(actor, action="upload evidence")
    form = await request.form()
    upload = form.get("file")
    effective_on = str(form.get("effective_on") or "")
    max_bytes = settings_of(request).evidence_max_bytes
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InvalidInput("choose a file to upload", field="file")
        try:
            day = date.fromisoformat(effective_on)
        except ValueError:
            raise InvalidInput("enter the date the evidence speaks for as YYYY-MM-DD",
                               field="effective_on") from None
        data = await upload.read(max_bytes + 1)
        stored = evidence.upload(db, actor, filename=upload.filename,
                                 declared_type=upload.content_type, data=data,
                                 effective_on=day, max_bytes=max_bytes)
    except DomainError as exc:
        reraise_access(exc)
        db.rollback()
        return _assessment_page(request, db, actor, scope_id,
                                errors=errors_of(exc, fallback="file"), failed="evidence",
                                values={"effective_on": effective_on},
                                status_code=exc.status_code)
    message = (f"“{stored.filename}” was stored before; that record is kept."
               if stored.already_stored else f"“{stored.filename}” is stored as evidence.")
    return redirect(request, f"/assurance/scopes/{scope_id}/self-assessment#evidence", message)


@router.post("/assurance/scopes/{scope_id}/self-assessment/move", dependencies=[CsrfChecked])
def move(request: Request, db: DbSession, actor: OptionalActor, scope_id: uuid.UUID,
         version: Annotated[str, Form(max_length=10)] = "") -> Response:
    actor = require(actor, Role.MEMBER_ADMIN, action="move self-assessments")
    try:
        scope = scopes.get_scope(db, actor, scope_id)
        if scope.self_assessment_id is None:  # pragma: no cover
            raise InvalidInput("this scope has no self-assessment", field="scope_id")
        report = self_assessment.move(db, actor, scope.self_assessment_id,
                                      validate(MoveRequest, {"version": version}))
    except DomainError as exc:
        reraise_access(exc)
        db.rollback()
        return _assessment_page(request, db, actor, scope_id,
                                errors=errors_of(exc, fallback="version"), failed="move",
                                status_code=exc.status_code)
    redo = ", ".join(r.number for r in report.redo[:12]) + ("…" if len(report.redo) > 12 else "")
    message = (f"Moved from version {report.from_version} to version {report.to_version}: "
               f"{len(report.carried)} answer(s) carried over, {len(report.redo)} to answer "
               f"again{f' ({redo})' if redo else ''}, {len(report.dropped)} removed by the new "
               "version. The old scope and its self-assessment are kept as they were.")
    return redirect(request, f"/assurance/scopes/{report.scope.id}/self-assessment", message)
