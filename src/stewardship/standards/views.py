"""Pages of the standards context: the library (standards, versions, criteria, diffs,
applicability), consultations and comments, votes of the standard-setting body, and the
secretariat's pages for loading standards and running revisions.

Views read the form, build the input models the API uses, call the standards services
and render. Every rule and permission is the services'; a refused post rolls back and
shows the page again with what was typed and what to fix, with the error's status.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from fractions import Fraction
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel

from stewardship.core import clock
from stewardship.core.auth import Actor, Role, require
from stewardship.core.errors import DomainError, InvalidInput, NotFound
from stewardship.core.forms import field_message, form_input
from stewardship.core.labels import label
from stewardship.core.params import VersionNumber
from stewardship.core.web import CsrfChecked, DbSession, OptionalActor, redirect, settings_of
from stewardship.registry.rules import Activity, MembershipClass
from stewardship.standards import diffview, text_views
from stewardship.standards.package import MAX_PACKAGE_BYTES
from stewardship.standards.schemas import (
    ApplicabilityQuery,
    BallotCast,
    BodyMemberCreate,
    CommentCreate,
    DraftUpdate,
    PrincipleRead,
    PublishRequest,
    ResponseCreate,
    RevisionCreate,
    RevisionRead,
    RoundOpen,
    SeatEnd,
    StandardRead,
    VersionSummary,
    VoteOpen,
)
from stewardship.standards.service import library, revisions, votes

router = APIRouter(include_in_schema=False)
router.include_router(text_views.router)  # the full text of a version, as a page and a PDF

M = TypeVar("M", bound=BaseModel)

ACTIVITIES = [(a.value, a.label) for a in Activity]
CLASSES = [(m.value, m.label) for m in MembershipClass]
CHAMBERS = [(c, label(c)) for c in votes.chambers()]
LABELS = {"activity": dict(ACTIVITIES), "class": dict(CLASSES), "chamber": dict(CHAMBERS)}
DEFAULT_VOTE_DAYS = 14

Text = Annotated[str, Form(max_length=400)]
LongText = Annotated[str, Form(max_length=20_000)]
PackageText = Annotated[str, Form(max_length=2 * MAX_PACKAGE_BYTES)]
Upload = Annotated[UploadFile | None, File()]


# --- helpers ------------------------------------------------------------------------------


def _render(request: Request, name: str, context: dict[str, Any],
            status_code: int = 200) -> Response:
    merged = {"labels": LABELS, "errors": {}, "notices": [], "problems": [], "values": {},
              "today": clock.today(), **context}
    response: Response = request.app.state.templates.render(
        request, f"standards/{name}", merged, status_code)
    return response


def _sentence(message: str) -> str:
    text = message.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


_MESSAGES = {
    "date_parsing": "Enter a date as YYYY-MM-DD",
    "date_from_datetime_parsing": "Enter a date as YYYY-MM-DD",
    "date_type": "Enter a date as YYYY-MM-DD",
    "enum": "Choose one of the listed options",
    "too_short": "Choose at least one",
    "string_pattern_mismatch": "Enter a share such as 2/3 or 0.5",
}


def _message(err: dict[str, Any]) -> str:
    kind = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    if kind == "string_too_short":
        return f"Use at least {ctx.get('min_length', 1)} characters"
    if kind == "string_too_long":
        return f"Use at most {ctx.get('max_length')} characters"
    if kind == "value_error" and "email" in str(err.get("msg", "")):
        return "Enter an e-mail address such as name@example.org"
    return _MESSAGES.get(kind, str(err.get("msg", "is not valid")).removeprefix("Value error, "))


def _build(model: type[M], values: dict[str, Any]) -> M:
    """The form's input model with this context's wording; see core.forms.form_input."""
    return form_input(model, values, message=lambda err, field: field_message(err, field)
                      if err.get("type") == "missing" else _message(err))


def _problems(exc: DomainError, fields: set[str],
              rename: dict[str, str] | None = None) -> dict[str, Any]:
    """What a refusal says, for the page: ``errors`` of the form's own fields, ``notices``
    for everything else, and ``problems``, every problem of a rejected package with its
    line."""
    errors: dict[str, str] = {}
    notices: list[str] = []
    problems: list[str] = []
    for item in exc.details:
        raw = str(item.get("field") or "")
        name = (rename or {}).get(raw, raw)
        message = str(item.get("message", ""))
        if "line" in item:
            where = f"line {item['line']}: " if item.get("line") else ""
            problems.append(f"{where}{raw}: {message}")
        elif name in fields:
            errors.setdefault(name, _sentence(message))
        else:
            notices.append(_sentence(message))
    if problems:
        notices.insert(0, f"The package was rejected whole: {len(problems)} problem(s), "
                          "and nothing was stored.")
    elif not errors and not notices:
        notices.append(_sentence(exc.message))
    return {"errors": errors, "notices": notices, "problems": problems}


def _refused(db: Any, exc: DomainError, fields: set[str]) -> None:
    """Sign-in and permission refusals, and a missing page (not a missing thing named in
    a form field), are pages of their own; anything else is shown on the form, after
    undoing what the request did."""
    if exc.status_code in (401, 403) or (
            exc.status_code == 404 and not set(exc.field_errors()) & fields):
        raise exc
    db.rollback()


def _upload_text(upload: UploadFile | None, field: str, kind: str = "YAML") -> str:
    if upload is None:
        return ""
    raw = upload.file.read(MAX_PACKAGE_BYTES + 1)
    if len(raw) > MAX_PACKAGE_BYTES:
        raise InvalidInput(f"the file is larger than {MAX_PACKAGE_BYTES} bytes", field=field)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"the file is not UTF-8 text; save it as UTF-8 {kind}",
                           field=field) from None


def _standard(db: Any, slug: str) -> StandardRead:
    found = next((s for s in library.list_standards(db) if s.slug == slug), None)
    if found is None:
        raise NotFound(f"no standard '{slug}'", field="standard")
    return found


def _summary(standard: StandardRead, version: int) -> VersionSummary:
    found = next((v for v in standard.versions if v.version == version), None)
    if found is None:
        raise NotFound(f"standard '{standard.slug}' has no version {version}", field="version")
    return found


def _groups(principles: list[PrincipleRead]) -> list[tuple[str, list[PrincipleRead]]]:
    """Principles under their group (Governance, Environment, Social), in order."""
    out: list[tuple[str, list[PrincipleRead]]] = []
    for p in principles:
        if not out or out[-1][0] != p.group:
            out.append((p.group, []))
        out[-1][1].append(p)
    return out


def _share(text: str) -> str:
    value = Fraction(text)
    return f"{text} ({float(value) * 100:.1f} %)".replace(".0 %", " %")


def _draft_changes(db: Any, actor: Actor | None,
                   revision_id: uuid.UUID) -> dict[str, Any] | None:
    """A revision's draft as changes against the version it revises, for its pages."""
    diff = revisions.draft_changes(db, actor, revision_id)
    if diff is None:
        return None
    draft = revisions.draft_package(revisions.load(db, revision_id))
    return diffview.draft_context(diff, draft, LABELS["activity"])


# --- the library --------------------------------------------------------------------------


@router.get("/standards")
def standards_page(request: Request, db: DbSession, actor: OptionalActor) -> Response:
    return _render(request, "standards.html", {"standards": library.list_standards(db)})


@router.get("/standards/body")
def body_page(request: Request, db: DbSession, actor: OptionalActor) -> Response:
    members = votes.list_body(db)
    serving = {m.id for m in votes.list_body(db, on=clock.today())}
    chambers = [(value, name, [m for m in members if m.chamber == value])
                for value, name in CHAMBERS]
    return _render(request, "body.html", {"chambers": chambers, "serving": serving,
                                          "total": len(members)})


@router.get("/standards/{slug}/v{version:int}")
def version_page(request: Request, db: DbSession, actor: OptionalActor, slug: str,
                 version: VersionNumber,
                 activity: Annotated[str, Query(max_length=40)] = "") -> Response:
    errors: dict[str, str] = {}
    chosen = activity.strip()
    if chosen and chosen not in LABELS["activity"]:
        errors["activity"] = "Choose one of the listed activities."
        chosen = ""
    data = library.get_version(db, slug, version, activity=chosen or None)
    standard = _standard(db, slug)
    summary = _summary(standard, version)
    older = [v.version for v in standard.versions if v.version < version]
    newer = [v.version for v in standard.versions if v.version > version]
    return _render(request, "version.html", {
        "standard": standard, "version": data, "summary": summary,
        "groups": _groups(data.principles), "activity": chosen, "activities": ACTIVITIES,
        "shown": sum(len(p.criteria) for p in data.principles),
        "previous": max(older) if older else None, "next": min(newer) if newer else None,
        "errors": errors}, status_code=422 if errors else 200)


@router.get("/standards/{slug}/v{version:int}/criteria/{number}")
def criterion_page(request: Request, db: DbSession, actor: OptionalActor, slug: str,
                   version: VersionNumber, number: str) -> Response:
    criterion = library.get_criterion(db, slug, version, number)
    data = library.get_version(db, slug, version)
    flat = [(p, c) for p in data.principles for c in p.criteria]
    index = next(i for i, (_, c) in enumerate(flat) if c.number == criterion.number)
    return _render(request, "criterion.html", {
        "version": data, "principle": flat[index][0], "criterion": criterion,
        "before": flat[index - 1][1] if index > 0 else None,
        "after": flat[index + 1][1] if index + 1 < len(flat) else None})


def _version_number(text: str) -> int | None:
    text = text.strip().removeprefix("v")
    return int(text) if text.isdecimal() and 0 < int(text) < 100_000 else None


@router.get("/standards/{slug}/diff")
def diff_page(request: Request, db: DbSession, actor: OptionalActor, slug: str,
              from_: Annotated[str, Query(alias="from", max_length=10)] = "",
              to: Annotated[str, Query(max_length=10)] = "") -> Response:
    standard = _standard(db, slug)
    numbers = sorted(v.version for v in standard.versions)
    old, new = _version_number(from_), _version_number(to)
    errors: dict[str, str] = {}
    if new is None and not to and numbers:
        new = numbers[-1]
    if old is None and not from_ and new is not None:
        earlier = [n for n in numbers if n < new]
        old = earlier[-1] if earlier else None
    for name, text, value in (("from", from_, old), ("to", to, new)):
        if (text and value is None) or (value is not None and value not in numbers):
            errors[name] = "Choose one of the listed versions."
    context: dict[str, Any] = {"standard": standard, "old": old, "new": new, "diff": None,
                               "numbers": [(str(n), f"Version {n}") for n in numbers]}
    status = 422 if errors else 200
    if old is not None and new is not None and not errors:
        try:
            diff = library.diff(db, slug, old, new)
        except InvalidInput as exc:
            errors = {k: _sentence(v) for k, v in exc.field_errors().items()}
            status = exc.status_code
        else:
            context.update(diffview.context(diff, LABELS["activity"]))
    return _render(request, "diff.html", {**context, "errors": errors}, status_code=status)


@router.get("/standards/{slug}/v{version:int}/applicability")
def applicability_page(request: Request, db: DbSession, actor: OptionalActor, slug: str,
                       version: VersionNumber,
                       activities: Annotated[list[str] | None, Query(max_length=20)] = None,
                       member_class: Annotated[str, Query(max_length=40)] = "") -> Response:
    standard = _standard(db, slug)
    summary = _summary(standard, version)
    submitted = "member_class" in request.query_params or "activities" in request.query_params
    chosen = [a for a in activities or [] if a]
    context: dict[str, Any] = {
        "standard": standard, "summary": summary, "activities": ACTIVITIES,
        "classes": CLASSES, "chosen": chosen,
        "member_class": member_class or "production_transformation", "result": None}
    if not submitted:
        return _render(request, "applicability.html", context)
    try:
        query = _build(ApplicabilityQuery, {"activities": chosen, "member_class": member_class})
        context["result"] = library.applicability(db, slug, version, query)
    except DomainError as exc:
        if exc.status_code != 422:
            raise
        found = _problems(exc, {"activities", "member_class"})
        if "activities" in found["errors"]:
            found["errors"]["activities"] = "Choose at least one of the listed activities."
        return _render(request, "applicability.html", {**context, **found}, status_code=422)
    return _render(request, "applicability.html", context)


# --- consultations ------------------------------------------------------------------------


@router.get("/consultations")
def consultations_page(request: Request, db: DbSession, actor: OptionalActor) -> Response:
    consulted = [r for r in revisions.list_revisions(db, actor) if r.rounds]
    return _render(request, "consultations.html", {
        "open": [r for r in consulted if r.status == "consultation"],
        "past": [r for r in consulted if r.status != "consultation"]})


COMMENT_FIELDS = {"body", "criterion", "name", "contact_email"}


def _revision_page(request: Request, db: Any, actor: Actor | None, revision_id: uuid.UUID,
                   **extra: Any) -> Response:
    revision = revisions.get_revision(db, actor, revision_id)
    package = revisions.draft_package(revisions.load(db, revision_id))
    closed = {r.number for r in revision.rounds if r.closed_at is not None}
    synopsis = [c for c in revisions.comments(db, actor, revision_id)
                if c.round_number in closed]
    current = revision.rounds[-1] if revision.rounds else None
    accepting = (revision.status == "consultation" and current is not None
                 and current.open_for_comments)
    status_code = extra.pop("status_code", 200)
    return _render(request, "revision.html", {
        "revision": revision, "package": package, "current": current,
        "draft_changes": _draft_changes(db, actor, revision_id),
        "accepting": accepting, "clauses": [(c.number, f"{c.number} {c.title}")
                                            for c in package.criteria()],
        "synopsis": [(r, [c for c in synopsis if c.round_number == r.number])
                     for r in revision.rounds if r.number in closed],
        **extra}, status_code=status_code)


@router.get("/consultations/{revision_id}")
def revision_page(request: Request, db: DbSession, actor: OptionalActor,
                  revision_id: uuid.UUID) -> Response:
    return _revision_page(request, db, actor, revision_id)


@router.post("/consultations/{revision_id}/comments", dependencies=[CsrfChecked])
def post_comment(request: Request, db: DbSession, actor: OptionalActor,
                 revision_id: uuid.UUID, body: LongText = "",
                 criterion: Annotated[str, Form(max_length=20)] = "", name: Text = "",
                 contact_email: Text = "") -> Response:
    values = {"body": body, "criterion": criterion, "name": name,
              "contact_email": contact_email}
    try:
        data = _build(CommentCreate, values)
        revisions.add_comment(db, actor, revision_id, data, settings_of(request),
                              request.client.host if request.client else "")
    except DomainError as exc:
        _refused(db, exc, COMMENT_FIELDS)
        return _revision_page(request, db, actor, revision_id, values=values,
                              status_code=exc.status_code, **_problems(exc, COMMENT_FIELDS))
    return redirect(request, f"/consultations/{revision_id}",
                    "Thank you, your comment was received.")


# --- votes and the body -------------------------------------------------------------------


def _vote_page(request: Request, db: Any, actor: Actor | None, vote_id: uuid.UUID,
               **extra: Any) -> Response:
    vote = votes.get_vote(db, vote_id)
    revision = revisions.get_revision(db, actor, vote.revision_id)
    on_roll: dict[str, int] = {}
    for entry in vote.roll:
        if entry.counted:
            on_roll[entry.chamber] = on_roll.get(entry.chamber, 0) + 1
    status_code = extra.pop("status_code", 200)
    return _render(request, "vote.html", {
        "vote": vote, "revision": revision, "mine": votes.own_ballot(db, actor, vote_id),
        "pass_share": _share(vote.pass_share), "quorum_share": _share(vote.quorum_share),
        "on_roll": on_roll,
        "choices": [("yes", "Yes, approve the revision"), ("no", "No"),
                    ("abstain", "Abstain (counts towards the quorum, not as a vote cast)")],
        **extra}, status_code=status_code)


@router.get("/votes/{vote_id}")
def vote_page(request: Request, db: DbSession, actor: OptionalActor,
              vote_id: uuid.UUID) -> Response:
    return _vote_page(request, db, actor, vote_id)


@router.post("/votes/{vote_id}/ballot", dependencies=[CsrfChecked])
def post_ballot(request: Request, db: DbSession, actor: OptionalActor, vote_id: uuid.UUID,
                choice: Annotated[str, Form(max_length=20)] = "") -> Response:
    try:
        votes.cast(db, actor, vote_id, _build(BallotCast, {"choice": choice}).choice)
    except DomainError as exc:
        _refused(db, exc, {"choice"})
        return _vote_page(request, db, actor, vote_id, status_code=exc.status_code,
                          **_problems(exc, {"choice"}))
    return redirect(request, f"/votes/{vote_id}",
                    "Your vote is recorded; you may change it until the vote closes.")


# --- the secretariat: loading standards ---------------------------------------------------


def _admin_standards(request: Request, db: Any, **extra: Any) -> Response:
    status_code = extra.pop("status_code", 200)
    return _render(request, "admin_standards.html",
                   {"standards": library.list_standards(db), **extra}, status_code=status_code)


@router.get("/secretariat/standards")
def admin_standards_page(request: Request, db: DbSession, actor: OptionalActor) -> Response:
    require(actor, Role.SECRETARIAT, action="load standards")
    return _admin_standards(request, db)


@router.post("/secretariat/standards", dependencies=[CsrfChecked])
def import_standard(request: Request, db: DbSession, actor: OptionalActor,
                    package_file: Upload = None, package_text: PackageText = "") -> Response:
    require(actor, Role.SECRETARIAT, action="load standards")
    try:
        text = _upload_text(package_file, "package_file") or package_text
        if not text.strip():
            raise InvalidInput("choose a YAML file or paste the package", field="package_text")
        loaded = library.import_package(db, actor, text.encode("utf-8"))
    except DomainError as exc:
        _refused(db, exc, {"package_file", "package_text"})
        return _admin_standards(request, db, values={"package_text": package_text},
                                status_code=exc.status_code,
                                **_problems(exc, {"package_file", "package_text"}))
    count = sum(len(p.criteria) for p in loaded.principles)
    return redirect(request, f"/standards/{loaded.slug}/v{loaded.version}",
                    f"Loaded {loaded.title}, version {loaded.version}, with {count} criteria.")


def _admin_body(request: Request, db: Any, **extra: Any) -> Response:
    status_code = extra.pop("status_code", 200)
    members = votes.list_body(db)
    today = clock.today()
    serving = {m.id for m in votes.list_body(db, on=today)}
    values = {"term_starts_on": today.isoformat(), **extra.pop("values", {})}
    return _render(request, "admin_body.html", {
        "members": members, "serving": serving, "chambers": CHAMBERS, "values": values,
        "form": "", **extra}, status_code=status_code)


@router.get("/secretariat/standards/body")
def admin_body_page(request: Request, db: DbSession, actor: OptionalActor) -> Response:
    require(actor, Role.SECRETARIAT, action="seat body members")
    return _admin_body(request, db)


@router.post("/secretariat/standards/body", dependencies=[CsrfChecked])
def seat_member(request: Request, db: DbSession, actor: OptionalActor, email: Text = "",
                name: Text = "", chamber: Text = "", affiliation: Text = "",
                term_starts_on: Text = "", term_ends_on: Text = "") -> Response:
    require(actor, Role.SECRETARIAT, action="seat body members")
    values = {"email": email, "name": name, "chamber": chamber, "affiliation": affiliation,
              "term_starts_on": term_starts_on, "term_ends_on": term_ends_on}
    try:
        seated = votes.add_body_member(db, actor, _build(
            BodyMemberCreate, {**values, "name": name.strip() or None}))
    except DomainError as exc:
        _refused(db, exc, set(values))
        return _admin_body(request, db, values=values, form="seat",
                           status_code=exc.status_code, **_problems(exc, set(values)))
    own = "" if seated.has_account else " in their own right"
    return redirect(request, "/secretariat/standards/body",
                    f"{seated.name} is seated{own} in the {LABELS['chamber'][seated.chamber]} "
                    f"chamber until {seated.term_ends_on:%d %b %Y}.")


@router.post("/secretariat/standards/body/import", dependencies=[CsrfChecked])
def seat_from_csv(request: Request, db: DbSession, actor: OptionalActor,
                  seats_file: Upload = None) -> Response:
    require(actor, Role.SECRETARIAT, action="seat body members")
    try:
        text = _upload_text(seats_file, "seats_file", "CSV")
        if not text.strip():
            raise InvalidInput("choose a CSV file with one seat per row", field="seats_file")
        report = votes.seat_from_csv(db, actor, text)
    except votes.SeatingRefused as exc:
        db.rollback()
        return _admin_body(request, db, form="import", status_code=exc.status_code,
                           notices=[_sentence(exc.message)],
                           problems=[f"Row {r.row}" + (f", {r.field}" if r.field else "")
                                     + f": {r.message}" for r in exc.report.rows if not r.ok])
    except DomainError as exc:
        _refused(db, exc, {"seats_file"})
        return _admin_body(request, db, form="import", status_code=exc.status_code,
                           **_problems(exc, {"seats_file"}, {"file": "seats_file"}))
    return redirect(request, "/secretariat/standards/body",
                    f"{report.seated} member(s) are seated from the file.")


@router.post("/secretariat/standards/body/{member_id}/end", dependencies=[CsrfChecked])
def end_seat(request: Request, db: DbSession, actor: OptionalActor, member_id: uuid.UUID,
             ended_on: Text = "", reason: LongText = "") -> Response:
    require(actor, Role.SECRETARIAT, action="end seats")
    values = {"ended_on": ended_on, "reason": reason}
    try:
        ended = votes.end_seat(db, actor, member_id, _build(SeatEnd, values))
    except DomainError as exc:
        _refused(db, exc, set(values))
        return _admin_body(request, db, form=f"end-{member_id}", values=values,
                           status_code=exc.status_code, **_problems(exc, set(values)))
    return redirect(request, "/secretariat/standards/body",
                    f"{ended.name}'s seat ends on {ended.ended_on:%d %b %Y}; from that day "
                    "it no longer counts for any vote.")


# --- the secretariat: revisions -----------------------------------------------------------


def _admin_revisions(request: Request, db: Any, actor: Actor, **extra: Any) -> Response:
    status_code = extra.pop("status_code", 200)
    standards = library.list_standards(db)
    return _render(request, "admin_revisions.html", {
        "revisions": revisions.list_revisions(db, actor), "standards": standards,
        "standard_options": [(s.slug, s.title) for s in standards], **extra},
        status_code=status_code)


@router.get("/secretariat/revisions")
def admin_revisions_page(request: Request, db: DbSession, actor: OptionalActor) -> Response:
    actor = require(actor, Role.SECRETARIAT, action="manage revisions")
    return _admin_revisions(request, db, actor)


@router.post("/secretariat/revisions", dependencies=[CsrfChecked])
def start_revision(request: Request, db: DbSession, actor: OptionalActor, standard: Text = "",
                   title: Text = "", summary: LongText = "", draft: PackageText = "",
                   draft_file: Upload = None) -> Response:
    actor = require(actor, Role.SECRETARIAT, action="start revisions")
    values = {"standard": standard, "title": title, "summary": summary, "draft": draft}
    try:
        text = _upload_text(draft_file, "draft_file") or draft
        created = revisions.create_revision(db, actor, _build(RevisionCreate,
                                                              {**values, "draft": text}))
    except DomainError as exc:
        _refused(db, exc, set(values))
        return _admin_revisions(request, db, actor, values=values,
                                status_code=exc.status_code, **_problems(exc, set(values) | {
                                    "draft_file"}))
    return redirect(request, f"/secretariat/revisions/{created.id}",
                    f"Revision “{created.title}” is started as a draft of version "
                    f"{created.target_version}.")


def _manage_page(request: Request, db: Any, actor: Actor, revision_id: uuid.UUID,
                 form: str = "", **extra: Any) -> Response:
    status_code = extra.pop("status_code", 200)
    revision = revisions.get_revision(db, actor, revision_id)
    comments = revisions.comments(db, actor, revision_id)
    settings = settings_of(request)
    today = clock.today()
    days = (settings.consultation_first_round_days if not revision.rounds
            else settings.consultation_later_round_days)
    closed_rounds = {r.number for r in revision.rounds if r.closed_at is not None}
    values = {
        "opens_on": today.isoformat(), "closes_on": (today + timedelta(days=days)).isoformat(),
        "vote_closes_on": (today + timedelta(days=DEFAULT_VOTE_DAYS)).isoformat(),
        "effective_on": today.isoformat(),
        "draft": revisions.load(db, revision_id).draft_yaml, **extra.pop("values", {})}
    return _render(request, "admin_revision.html", {
        "revision": revision, "comments": comments, "form": form, "values": values,
        "closed_rounds": closed_rounds, "round_days": days,
        "unanswered": sum(1 for c in comments if c.response is None),
        "open_vote": next((v for v in revision.votes if v.closed_at is None), None),
        "draft_changes": _draft_changes(db, actor, revision_id),
        "settings": settings, **extra}, status_code=status_code)


@router.get("/secretariat/revisions/{revision_id}")
def manage_revision(request: Request, db: DbSession, actor: OptionalActor,
                    revision_id: uuid.UUID) -> Response:
    actor = require(actor, Role.SECRETARIAT, action="manage revisions")
    return _manage_page(request, db, actor, revision_id)


def _act(request: Request, db: Any, actor: Actor | None, revision_id: uuid.UUID, form: str,
         values: dict[str, str], fields: set[str], step: Callable[[Actor], str],
         rename: dict[str, str] | None = None) -> Response:
    """Run one of the secretariat's steps on a revision; back to its page with a flash,
    or the page again with what was refused and why."""
    actor = require(actor, Role.SECRETARIAT, action="manage revisions")
    try:
        message = step(actor)
    except DomainError as exc:
        _refused(db, exc, fields)
        return _manage_page(request, db, actor, revision_id, form, values=values,
                            status_code=exc.status_code, **_problems(exc, fields, rename))
    return redirect(request, f"/secretariat/revisions/{revision_id}", message)


@router.post("/secretariat/revisions/{revision_id}/draft", dependencies=[CsrfChecked])
def update_draft(request: Request, db: DbSession, actor: OptionalActor,
                 revision_id: uuid.UUID, draft: PackageText = "") -> Response:
    def step(who: Actor) -> str:
        done = revisions.update_draft(db, who, revision_id,
                                      _build(DraftUpdate, {"draft": draft}).draft)
        return f"The draft is updated (version {done.target_version})."

    return _act(request, db, actor, revision_id, "draft", {"draft": draft}, {"draft"}, step)


@router.post("/secretariat/revisions/{revision_id}/rounds", dependencies=[CsrfChecked])
def open_round(request: Request, db: DbSession, actor: OptionalActor, revision_id: uuid.UUID,
               opens_on: Text = "", closes_on: Text = "") -> Response:
    values = {"opens_on": opens_on, "closes_on": closes_on}

    def step(who: Actor) -> str:
        done = revisions.open_round(db, who, revision_id, _build(RoundOpen, values),
                                    settings_of(request))
        r = done.rounds[-1]
        return f"Consultation round {r.number} is open from {r.opens_on:%d %b %Y} to " \
               f"{r.closes_on:%d %b %Y}."

    return _act(request, db, actor, revision_id, "round", values, set(values), step)


@router.post("/secretariat/revisions/{revision_id}/rounds/close", dependencies=[CsrfChecked])
def close_round(request: Request, db: DbSession, actor: OptionalActor,
                revision_id: uuid.UUID) -> Response:
    def step(who: Actor) -> str:
        done = revisions.close_round(db, who, revision_id)
        return f"Round {done.rounds[-1].number} is closed; its synopsis of comments and " \
               "responses is public."

    return _act(request, db, actor, revision_id, "close_round", {}, set(), step)


@router.post("/secretariat/revisions/{revision_id}/comments/{comment_id}/response",
             dependencies=[CsrfChecked])
def respond(request: Request, db: DbSession, actor: OptionalActor, revision_id: uuid.UUID,
            comment_id: uuid.UUID, response: LongText = "") -> Response:
    def step(who: Actor) -> str:
        revisions.respond(db, who, comment_id, _build(ResponseCreate,
                                                      {"response": response}).response)
        return "The response is saved."

    return _act(request, db, actor, revision_id, f"respond-{comment_id}",
                {f"response-{comment_id}": response}, {"response"}, step)


@router.post("/secretariat/revisions/{revision_id}/votes", dependencies=[CsrfChecked])
def open_vote(request: Request, db: DbSession, actor: OptionalActor, revision_id: uuid.UUID,
              vote_closes_on: Text = "", pass_share: Text = "",
              quorum_share: Text = "") -> Response:
    values = {"vote_closes_on": vote_closes_on, "pass_share": pass_share,
              "quorum_share": quorum_share}

    def step(who: Actor) -> str:
        data = _build(VoteOpen, {"closes_on": vote_closes_on, "pass_share": pass_share,
                                 "quorum_share": quorum_share})
        done = votes.open_vote(db, who, revision_id, data, settings_of(request))
        vote = done.votes[-1]
        return f"The vote is open until {vote.closes_on:%d %b %Y}; {vote.eligible} " \
               "member(s) are on the roll."

    return _act(request, db, actor, revision_id, "vote", values, set(values), step,
                rename={"closes_on": "vote_closes_on"})


@router.post("/secretariat/revisions/{revision_id}/votes/{vote_id}/close",
             dependencies=[CsrfChecked])
def close_vote(request: Request, db: DbSession, actor: OptionalActor, revision_id: uuid.UUID,
               vote_id: uuid.UUID) -> Response:
    def step(who: Actor) -> str:
        done = votes.close_vote(db, who, vote_id)
        if done.status == "approved":
            return "The vote is closed: PASSED. The revision is approved and may be published."
        return "The vote is closed: NOT PASSED. The revision is back to draft."

    return _act(request, db, actor, revision_id, "close_vote", {}, set(), step)


@router.post("/secretariat/revisions/{revision_id}/publish", dependencies=[CsrfChecked])
def publish(request: Request, db: DbSession, actor: OptionalActor, revision_id: uuid.UUID,
            effective_on: Text = "", transition_ends_on: Text = "") -> Response:
    values = {"effective_on": effective_on, "transition_ends_on": transition_ends_on}

    def step(who: Actor) -> str:
        done: RevisionRead = votes.publish(db, who, revision_id, _build(PublishRequest, values))
        return f"Published as version {done.published_version} of {done.standard_title}."

    return _act(request, db, actor, revision_id, "publish", values, set(values), step)


@router.post("/secretariat/revisions/{revision_id}/withdraw", dependencies=[CsrfChecked])
def withdraw(request: Request, db: DbSession, actor: OptionalActor, revision_id: uuid.UUID,
             reason: LongText = "") -> Response:
    def step(who: Actor) -> str:
        revisions.withdraw(db, who, revision_id, reason)
        return "The revision is withdrawn."

    return _act(request, db, actor, revision_id, "withdraw", {"reason": reason}, {"reason"},
                step)
