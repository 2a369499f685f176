"""Moving a self-assessment from Performance v2 to v3: unchanged answers carry over (under
their new number where only renumbered); the report lists what must be redone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from stewardship.assurance.rules import AuditType, Rating
from stewardship.assurance.schemas import AnswerWrite, AuditCreate, MoveRequest
from stewardship.assurance.service import audits, scopes, self_assessment
from stewardship.core.errors import Conflict, Forbidden, InvalidInput
from stewardship.core.eventlog import count_entries
from tests import assurance_world as aw
from tests.today import TODAY

ANSWERS = {
    "1.1": "unchanged",
    "3.1": "renumbered to 3.2, text unchanged",
    "10.6": "renumbered to 10.7",
    "2.4": "reworded in v3",
    "2.3": "applicability widened in v3",
    "5.2": "threshold changed in v3",
    "5.3": "removed in v3 (a new 5.3 was added)",
    "7.4": "removed in v3",
}


def test_moving_a_self_assessment_to_the_newer_version(db: Session) -> None:
    w = aw.build(db, standard=False)
    aw.load_standard(db, "performance-v2.yaml")
    # v3 in its transition: v2 may still be used until next year
    aw.load_standard(db, transition_ends_on=TODAY + timedelta(days=365))
    s = aw.scope(db, w, version=2)
    assessment_id = s.self_assessment_id
    assert assessment_id is not None
    for number, narrative in ANSWERS.items():
        self_assessment.answer(db, w.member_user, assessment_id, number, AnswerWrite(
            rating=Rating.MINOR if number == "2.4" else Rating.CONFORMANCE,
            narrative=narrative))

    with pytest.raises(Forbidden):
        self_assessment.move(db, w.member_user, assessment_id, MoveRequest(version=3))
    for bad in (2, 1, 7):
        with pytest.raises(InvalidInput) as refused:
            self_assessment.move(db, w.admin, assessment_id, MoveRequest(version=bad))
        assert refused.value.details[0]["field"] == "version"

    report = self_assessment.move(db, w.admin, assessment_id, MoveRequest(version=3))
    assert (report.from_version, report.to_version) == (2, 3)
    carried = {c.from_number: c.to_number for c in report.carried}
    assert carried == {"1.1": "1.1", "3.1": "3.2", "10.6": "10.7"}
    redo = {r.number: r.reason for r in report.redo}
    assert redo["2.4"] == "reworded" and redo["2.3"] == "applicability changed"
    assert redo["5.2"] in ("reworded", "thresholds changed")
    assert redo["3.1"] == redo["5.3"] == redo["10.4"] == "added"
    assert "8.7" not in redo  # reworded, but it does not apply to a smelter
    assert "1.1" not in redo and "3.2" not in redo
    assert [d.number for d in report.dropped] == ["5.3", "7.4"]

    moved = report.assessment
    assert moved.moved_from_id == assessment_id and moved.standard.version == 3
    answers = {i.number: i.answer for i in moved.items if i.answer is not None}
    assert set(answers) == {"1.1", "3.2", "10.7"}
    assert answers["3.2"].narrative == ANSWERS["3.1"]
    assert moved.progress.answered == 3
    assert report.scope.standard.version == 3 and report.scope.status == "active"
    assert {f.id for f in report.scope.facilities} == {w.smelter, w.casthouse}

    old = self_assessment.get_self_assessment(db, w.admin, assessment_id)
    assert old.status == "moved"
    assert scopes.get_scope(db, w.admin, s.id).status == "superseded"
    events = count_entries(db)
    with pytest.raises(Conflict):
        self_assessment.move(db, w.admin, assessment_id, MoveRequest(version=3))
    with pytest.raises(Conflict):
        self_assessment.answer(db, w.admin, assessment_id, "1.2",
                               AnswerWrite(rating=Rating.CONFORMANCE))
    with pytest.raises(Conflict):
        audits.plan_audit(db, w.admin, AuditCreate(
            scope_id=s.id, audit_firm=w.firm, lead_auditor_id=w.lead_auditor_id,
            audit_type=AuditType.CERTIFICATION, start_on=TODAY + timedelta(days=50),
            end_on=TODAY + timedelta(days=52)))
    assert count_entries(db) == events
    # the new self-assessment goes on from where the old one left off
    self_assessment.answer(db, w.admin, moved.id, "2.4", AnswerWrite(
        rating=Rating.CONFORMANCE, narrative="Policy published with due diligence"))
    assert self_assessment.get_self_assessment(db, w.admin, moved.id).progress.answered == 4
