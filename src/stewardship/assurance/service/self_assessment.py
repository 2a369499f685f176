"""Self-assessments: the member's own rating of each applicable criterion, its progress,
its export, and its move to a newer version of the standard."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.orm import Session

from stewardship.assurance import repository as repo
from stewardship.assurance.models import (
    CertificationScope,
    Evidence,
    ScopeFacility,
    SelfAssessment,
    SelfAssessmentAnswer,
)
from stewardship.assurance.rules import Rating, carry_over
from stewardship.assurance.schemas import (
    AnswerRead,
    AnswerWrite,
    CarriedRead,
    CriterionBrief,
    MoveReport,
    MoveRequest,
    Progress,
    RedoRead,
    SelfAssessmentItem,
    SelfAssessmentRead,
)
from stewardship.assurance.service import evidence as evidence_service
from stewardship.assurance.service import scopes
from stewardship.assurance.service.common import (
    Applicable,
    applicability,
    may_see,
    scope_applicability,
    scope_labels,
    slug_of,
    today_or,
    version_refusal,
    version_row,
)
from stewardship.core import eventlog
from stewardship.core.auth import MEMBER_ROLES, Actor, Role, require
from stewardship.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from stewardship.standards.rules import diff_criteria
from stewardship.standards.service import library


def _load(db: Session, actor: Actor,
          assessment_id: uuid.UUID) -> tuple[SelfAssessment, CertificationScope]:
    assessment = repo.self_assessment_by_id(db, assessment_id)
    if assessment is None or not may_see(db, actor, assessment.organization_id):
        raise NotFound("no such self-assessment", field="assessment_id")
    scope = repo.scope_by_id(db, assessment.scope_id)
    assert scope is not None
    return assessment, scope


def _answer_read(answer: SelfAssessmentAnswer,
                 evidence: dict[uuid.UUID, Evidence]) -> AnswerRead:
    refs = [evidence[uuid.UUID(i)] for i in answer.evidence_ids if uuid.UUID(i) in evidence]
    return AnswerRead(criterion=answer.criterion_number, rating=Rating(answer.rating),
                      narrative=answer.narrative,
                      evidence=[evidence_service.to_ref(e) for e in refs],
                      updated_at=answer.updated_at)


def _read(db: Session, assessment: SelfAssessment, scope: CertificationScope,
          applicable: Applicable) -> SelfAssessmentRead:
    answers = {a.criterion_number: a for a in repo.answers_of(db, assessment.id)}
    evidence_ids = {uuid.UUID(i) for a in answers.values() for i in a.evidence_ids}
    evidence = repo.evidence_of(db, assessment.organization_id, list(evidence_ids))
    items = [SelfAssessmentItem(
        number=row.number, title=row.title, principle=row.principle,
        answer=_answer_read(answers[row.number], evidence) if row.number in answers else None)
        for row in applicable.rows if row.applicable]
    answered = sum(1 for item in items if item.answer is not None)
    labels = scope_labels(db, [scope])
    return SelfAssessmentRead(
        id=assessment.id, scope_id=scope.id, scope_name=scope.name,
        organization=labels.organization(scope.organization_id),
        entity=labels.entity(scope.entity_id), standard=labels.standard(assessment.version_id),
        status=assessment.status, moved_from_id=assessment.moved_from_id,
        progress=Progress(answered=answered, applicable=len(items),
                          percent=round(100 * answered / len(items)) if items else 100),
        items=items, created_at=assessment.created_at)


def get_self_assessment(db: Session, actor: Actor | None,
                        assessment_id: uuid.UUID) -> SelfAssessmentRead:
    """Every applicable criterion with the member's answer, and the progress (answered of
    applicable). The member's own users, the secretariat and its auditors may read it."""
    actor = require(actor, action="read self-assessments")
    assessment, scope = _load(db, actor, assessment_id)
    return _read(db, assessment, scope, scope_applicability(db, scope))


def _open_for_answers(db: Session, actor: Actor | None, assessment_id: uuid.UUID
                      ) -> tuple[Actor, SelfAssessment, Applicable]:
    actor = require(actor, *MEMBER_ROLES, action="answer self-assessments")
    assessment, scope = _load(db, actor, assessment_id)
    if not actor.belongs_to(assessment.organization_id):
        raise Forbidden("only the organisation's own users answer its self-assessment")
    if assessment.status != "in_progress":
        raise Conflict("this self-assessment was moved to a newer version; answer that one",
                       field="assessment_id")
    return actor, assessment, scope_applicability(db, scope)


def _not_applicable_problem(applicable: Applicable, criterion: str) -> str:
    why = applicable.reason(criterion)
    return (f"criterion {criterion} does not apply to this scope"
            + (f" ({why})" if why else " (the version has no such criterion)"))


def _write(db: Session, actor: Actor, assessment: SelfAssessment, criterion: str,
           data: AnswerWrite, row: SelfAssessmentAnswer | None) -> SelfAssessmentAnswer:
    if row is None:
        row = SelfAssessmentAnswer(organization_id=assessment.organization_id,
                                   assessment_id=assessment.id, criterion_number=criterion)
        db.add(row)
    row.rating = data.rating.value
    row.narrative = data.narrative
    row.evidence_ids = [str(i) for i in dict.fromkeys(data.evidence_ids)]
    db.flush()
    eventlog.append(db, actor, "assurance.self_assessment.answered",
                    f"self_assessment:{assessment.id}",
                    {"criterion": criterion, "rating": row.rating,
                     "evidence": row.evidence_ids})
    return row


def answer(db: Session, actor: Actor | None, assessment_id: uuid.UUID, criterion: str,
           data: AnswerWrite) -> AnswerRead:
    """Rate one applicable criterion yourself, with a narrative and evidence."""
    actor, assessment, applicable = _open_for_answers(db, actor, assessment_id)
    if criterion not in applicable.numbers:
        raise InvalidInput(_not_applicable_problem(applicable, criterion), field="criterion")
    if data.rating is Rating.NOT_APPLICABLE and not data.narrative:
        raise InvalidInput("say in the narrative why the criterion does not apply",
                           field="narrative")
    found = evidence_service.check_refs(db, assessment.organization_id, data.evidence_ids)
    row = _write(db, actor, assessment, criterion, data,
                 repo.answer_of(db, assessment.id, criterion))
    return _answer_read(row, found)


def _same(row: SelfAssessmentAnswer, data: AnswerWrite) -> bool:
    return (row.rating == data.rating.value and row.narrative == data.narrative
            and list(row.evidence_ids) == [str(i) for i in dict.fromkeys(data.evidence_ids)])


def _problems(db: Session, assessment: SelfAssessment, applicable: Applicable,
              answers: dict[str, AnswerWrite]) -> list[dict[str, str]]:
    problems: list[dict[str, str]] = []
    numbers = set(applicable.numbers)
    for criterion, data in answers.items():
        where = f"answers.{criterion}"
        if criterion not in numbers:
            problems.append({"field": f"{where}.rating",
                             "message": _not_applicable_problem(applicable, criterion)})
            continue
        if data.rating is Rating.NOT_APPLICABLE and not data.narrative:
            problems.append({"field": f"{where}.narrative",
                             "message": f"criterion {criterion}: say in the narrative why it "
                                        "does not apply"})
            continue
        try:
            evidence_service.check_refs(db, assessment.organization_id, data.evidence_ids,
                                        field=f"{where}.evidence_ids")
        except InvalidInput as exc:
            problems.append({"field": f"{where}.evidence_ids",
                             "message": f"criterion {criterion}: {exc.message}"})
    return problems


def check_answers(db: Session, actor: Actor | None, assessment_id: uuid.UUID,
                  answers: dict[str, AnswerWrite]) -> list[dict[str, str]]:
    """What ``answer_all`` would refuse in these answers (field and message each), without
    saving anything: a form with problems of its own reports these with them."""
    _, assessment, applicable = _open_for_answers(db, actor, assessment_id)
    return _problems(db, assessment, applicable, answers)


def answer_all(db: Session, actor: Actor | None, assessment_id: uuid.UUID,
               answers: dict[str, AnswerWrite]) -> int:
    """Save every answer of the self-assessment page at once, all or nothing: each
    criterion must apply, a not-applicable answer needs its narrative, evidence must be the
    organisation's. Every problem is reported together, each naming its criterion (field
    ``answers.<criterion>.<rating|narrative|evidence_ids>``). An answer the same as the one
    stored is left alone; returns how many answers were saved."""
    actor, assessment, applicable = _open_for_answers(db, actor, assessment_id)
    if not answers:
        raise InvalidInput("choose a self-rating for at least one criterion", field="answers")
    problems = _problems(db, assessment, applicable, answers)
    if problems:
        raise InvalidInput(f"{len(problems)} answer(s) could not be saved: "
                           + "; ".join(p["message"] for p in problems), details=problems)
    stored = {a.criterion_number: a for a in repo.answers_of(db, assessment.id)}
    saved = 0
    for criterion in sorted(answers, key=_key):
        data, row = answers[criterion], stored.get(criterion)
        if row is not None and _same(row, data):
            continue
        _write(db, actor, assessment, criterion, data, row)
        saved += 1
    return saved


EXPORT_HEADER = ["criterion", "principle", "title", "self_rating", "narrative", "evidence",
                 "evidence_effective_on", "answered_at"]


def export_rows(db: Session, actor: Actor | None, assessment_id: uuid.UUID) -> list[list[str]]:
    """The self-assessment as table rows (header first), one per applicable criterion."""
    read = get_self_assessment(db, actor, assessment_id)
    rows = [list(EXPORT_HEADER)]
    for item in read.items:
        a = item.answer
        rows.append([
            item.number, str(item.principle), item.title, a.rating.value if a else "",
            a.narrative if a else "", "; ".join(e.filename for e in a.evidence) if a else "",
            "; ".join(e.effective_on.isoformat() for e in a.evidence) if a else "",
            a.updated_at.isoformat(timespec="seconds") if a else ""])
    return rows


def move(db: Session, actor: Actor | None, assessment_id: uuid.UUID, data: MoveRequest, *,
         today: date | None = None) -> MoveReport:
    """Move a self-assessment to a newer version of its standard: a new scope (same entity,
    facilities and activities) and self-assessment on that version, with the answers on
    unchanged criteria carried over (under their new number where only renumbered); the
    report lists what must be answered again."""
    actor = require(actor, Role.MEMBER_ADMIN, action="move self-assessments")
    assessment, scope = _load(db, actor, assessment_id)
    if not actor.is_admin_of(assessment.organization_id):
        raise Forbidden("only the organisation's admins move its self-assessments")
    if assessment.status != "in_progress":
        raise Conflict("this self-assessment was moved already", field="assessment_id")
    old_version = version_row(db, assessment.version_id)
    if data.version <= old_version.version:
        raise InvalidInput(f"move to a version newer than {old_version.version}",
                           field="version")
    try:
        new_version = library.load_version(db, slug_of(db, old_version), data.version)
    except NotFound as exc:
        raise InvalidInput(exc.message, field="version") from exc
    refusal = version_refusal(db, new_version, today_or(today))
    if refusal:
        raise InvalidInput(refusal, field="version")
    answers = repo.answers_of(db, assessment.id)
    diff = diff_criteria(library.to_package(old_version).criteria(),
                         library.to_package(new_version).criteria())
    plan = carry_over([a.criterion_number for a in answers], diff)
    new_scope = CertificationScope(
        organization_id=scope.organization_id, entity_id=scope.entity_id,
        version_id=new_version.id, standard_kind=scope.standard_kind,
        member_class=scope.member_class, activities=list(scope.activities),
        name=scope.name.replace(f"v{old_version.version}", f"v{new_version.version}"),
        status="active")
    new_scope.facilities = [ScopeFacility(facility_id=f.facility_id) for f in scope.facilities]
    db.add(new_scope)
    db.flush()
    applicable = applicability(db, new_version, list(new_scope.activities),
                               new_scope.member_class, new_scope.entity_id)
    applies = set(applicable.numbers)
    moved = SelfAssessment(organization_id=assessment.organization_id, scope_id=new_scope.id,
                           version_id=new_version.id, status="in_progress",
                           moved_from_id=assessment.id)
    db.add(moved)
    db.flush()
    carried: list[CarriedRead] = []
    for old in sorted(answers, key=lambda a: _key(a.criterion_number)):
        target = plan.carried.get(old.criterion_number)
        if target is None or target not in applies:
            continue
        db.add(SelfAssessmentAnswer(
            organization_id=old.organization_id, assessment_id=moved.id,
            criterion_number=target, rating=old.rating, narrative=old.narrative,
            evidence_ids=list(old.evidence_ids)))
        carried.append(CarriedRead(from_number=old.criterion_number, to_number=target,
                                   title=applicable.titles[target]))
    assessment.status = "moved"
    scope.status = "superseded"
    db.flush()
    old_titles = {c.number: c.title for c in library.to_package(old_version).criteria()}
    redo = [RedoRead(number=n, title=applicable.titles[n], reason=plan.redo[n])
            for n in sorted(plan.redo, key=_key) if n in applies]
    dropped = [CriterionBrief(number=n, title=old_titles.get(n, "")) for n in plan.dropped]
    eventlog.append(db, actor, "assurance.self_assessment.moved",
                    f"self_assessment:{assessment.id}",
                    {"to": str(moved.id), "scope": str(new_scope.id),
                     "from_version": old_version.version, "to_version": new_version.version,
                     "carried": {c.from_number: c.to_number for c in carried},
                     "redo": [r.number for r in redo], "dropped": plan.dropped})
    return MoveReport(from_version=old_version.version, to_version=new_version.version,
                      scope=scopes.summaries(db, [new_scope])[0],
                      assessment=_read(db, moved, new_scope, applicable),
                      carried=carried, redo=redo, dropped=dropped)


def _key(number: str) -> tuple[int, ...]:
    return tuple(int(p) for p in number.split(".") if p.isdecimal())
