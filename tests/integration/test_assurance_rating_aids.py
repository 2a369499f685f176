"""Rating with the requirement and the member's self-assessment at hand; "mark the rest
conformant" after confirmation, through the same rating path and event log; the member's
self-assessment saved in one submit, all or nothing, its refusals naming the criterion."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from stewardship.assurance.rules import Rating
from stewardship.assurance.schemas import AnswerWrite, RatingBatch, RatingWrite
from stewardship.assurance.service import audits, rating_aids, self_assessment
from stewardship.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from stewardship.core.eventlog import EventLogEntry
from stewardship.standards.service import library
from tests import assurance_world as aw


@pytest.fixture
def running(db: Session) -> tuple[aw.World, object, object]:
    w = aw.build(db)
    s = aw.scope(db, w)
    audit_id = aw.plan(db, w, s.id)
    aw.start(db, w, audit_id)
    return w, s, audit_id


def _events(db: Session, kind: str) -> list[EventLogEntry]:
    return list(db.scalars(select(EventLogEntry).where(EventLogEntry.kind == kind)
                           .order_by(EventLogEntry.sequence)))


def test_each_criterion_comes_with_its_requirement_and_the_self_assessment(
        db: Session, running: tuple[aw.World, object, object]) -> None:
    w, s, audit_id = running
    first, second = aw.applicable(s)[:2]  # type: ignore[arg-type]
    assert s.self_assessment_id is not None  # type: ignore[attr-defined]
    self_assessment.answer(db, w.admin, s.self_assessment_id, first,  # type: ignore[attr-defined]
                           AnswerWrite(rating=Rating.MINOR, narrative="Grievance log patchy"))
    aids = rating_aids.criterion_aids(db, w.auditor, audit_id)  # type: ignore[arg-type]
    assert list(aids) == aw.applicable(s)  # type: ignore[arg-type]
    wanted = library.get_criterion(db, "performance", 3, first).requirement
    assert aids[first].requirement == wanted and len(wanted) > 20
    assert aids[first].self_rating == "minor"
    assert aids[first].self_narrative == "Grievance log patchy"
    assert aids[second].self_rating is None
    with pytest.raises(NotFound):
        rating_aids.criterion_aids(db, w.other_auditor, audit_id)  # type: ignore[arg-type]


def test_the_rest_is_rated_conformant_only_once_confirmed(
        db: Session, running: tuple[aw.World, object, object]) -> None:
    w, s, audit_id = running
    numbers = aw.applicable(s)  # type: ignore[arg-type]
    audits.rate(db, w.auditor, audit_id, RatingBatch(ratings=[  # type: ignore[arg-type]
        RatingWrite(facility=w.smelter, criterion=numbers[0], rating=Rating.MINOR,
                    reason="Grievance log patchy")]))
    pairs = len(numbers) * 2
    assert len(rating_aids.unrated(db, w.auditor, audit_id)) == pairs - 1  # type: ignore[arg-type]
    before = len(_events(db, "assurance.audit.rated"))
    with pytest.raises(InvalidInput) as unconfirmed:
        rating_aids.rate_rest_conformant(db, w.auditor, audit_id,  # type: ignore[arg-type]
                                         confirmed=False)
    assert set(unconfirmed.value.field_errors()) == {"confirm"}
    assert len(_events(db, "assurance.audit.rated")) == before
    with pytest.raises(Forbidden):
        rating_aids.rate_rest_conformant(db, w.admin, audit_id,  # type: ignore[arg-type]
                                         confirmed=True)
    count, result = rating_aids.rate_rest_conformant(db, w.auditor, audit_id,  # type: ignore[arg-type]
                                                     confirmed=True)
    assert count == pairs - 1
    assert result.progress.rated == result.progress.required == pairs
    kept = {(r.facility, r.criterion): r.rating for r in result.ratings}
    assert kept[(w.smelter, numbers[0])] is Rating.MINOR
    assert kept[(w.casthouse, numbers[0])] is Rating.CONFORMANCE
    assert sum(1 for r in kept.values() if r is Rating.CONFORMANCE) == pairs - 1
    logged = _events(db, "assurance.audit.rated")[before:]
    assert len(logged) == 1
    assert sorted(map(tuple, logged[0].payload["ratings"])) == sorted(
        (f, n, "conformance") for f in (w.smelter, w.casthouse) for n in numbers
        if (f, n) != (w.smelter, numbers[0]))
    with pytest.raises(Conflict):
        rating_aids.rate_rest_conformant(db, w.auditor, audit_id,  # type: ignore[arg-type]
                                         confirmed=True)


def test_the_rest_cannot_be_marked_before_the_audit_runs(db: Session) -> None:
    w = aw.build(db)
    s = aw.scope(db, w)
    audit_id = aw.plan(db, w, s.id, start_on=aw.TODAY + timedelta(days=90))
    with pytest.raises(Conflict):
        rating_aids.rate_rest_conformant(db, w.auditor, audit_id, confirmed=True)


def test_the_self_assessment_saves_all_answers_at_once_or_none(
        db: Session, running: tuple[aw.World, object, object]) -> None:
    w, s, _ = running
    sa = s.self_assessment_id  # type: ignore[attr-defined]
    a, b, c = aw.applicable(s)[:3]  # type: ignore[arg-type]
    before = len(_events(db, "assurance.self_assessment.answered"))
    with pytest.raises(InvalidInput) as refused:
        self_assessment.answer_all(db, w.member_user, sa, {
            a: AnswerWrite(rating=Rating.CONFORMANCE, narrative="Policy signed"),
            b: AnswerWrite(rating=Rating.NOT_APPLICABLE),
            "9.99": AnswerWrite(rating=Rating.CONFORMANCE)})
    errors = refused.value.field_errors()
    assert set(errors) == {f"answers.{b}.narrative", "answers.9.99.rating"}
    assert errors[f"answers.{b}.narrative"].startswith(f"criterion {b}:")
    assert "criterion 9.99 does not apply" in errors["answers.9.99.rating"]
    assert self_assessment.get_self_assessment(db, w.admin, sa).progress.answered == 0
    saved = self_assessment.answer_all(db, w.member_user, sa, {
        a: AnswerWrite(rating=Rating.CONFORMANCE, narrative="Policy signed"),
        b: AnswerWrite(rating=Rating.NOT_APPLICABLE, narrative="No such activity here"),
        c: AnswerWrite(rating=Rating.MINOR)})
    assert saved == 3
    read = self_assessment.get_self_assessment(db, w.admin, sa)
    answered = {i.number: i.answer for i in read.items if i.answer}
    assert answered[b] is not None and answered[b].narrative == "No such activity here"
    assert len(_events(db, "assurance.self_assessment.answered")) == before + 3
    # the same page saved again changes only what changed
    again = self_assessment.answer_all(db, w.member_user, sa, {
        a: AnswerWrite(rating=Rating.CONFORMANCE, narrative="Policy signed"),
        c: AnswerWrite(rating=Rating.MAJOR, narrative="Worse than thought")})
    assert again == 1
    assert len(_events(db, "assurance.self_assessment.answered")) == before + 4
    with pytest.raises(NotFound):
        self_assessment.answer_all(db, w.other_admin, sa, {a: AnswerWrite(
            rating=Rating.MINOR)})
