"""A transformation told in several TransformationEvents sharing a transformationID: one
ledger transformation once the set has inputs and outputs, in one document or across
captures, outputs first or inputs first; nothing moves for a partial set; a further event
after completion is refused (409, transformationID); another member's events never join a
member's set; what the set's events disagree on is refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from stewardship.custody.models import CustodyOperation
from stewardship.interop.epcis import capture as service
from stewardship.interop.epcis.validation import Validation
from stewardship.interop.transformation_sets import set_note
from tests import custody_world as cw
from tests.interop.conftest import document
from tests.interop.test_profile import _balance, _facility, _q
from tests.today import TODAY

DAY = TODAY - timedelta(days=2)
STANDARD = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
STW = {"stw": "urn:stewardship:epcis:"}
TID = "urn:uuid:7d0c2a4e-0000-4000-8000-00000000c0de"


def _doc(*events: dict[str, Any]) -> dict[str, Any]:
    return document(*events, context=[STANDARD, STW])


def _part(m: cw.Member, n: int, *, inputs: list[dict[str, Any]] | None = None,
          outputs: list[dict[str, Any]] | None = None, hour: int = 8,
          tid: str = TID, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "TransformationEvent", "eventID": f"urn:uuid:7d0c2a4e-0000-4000-8000-{n:012d}",
        "eventTime": f"{DAY.isoformat()}T{hour:02d}:00:00Z", "eventTimeZoneOffset": "+00:00",
        "transformationID": tid, "bizStep": "commissioning", "bizLocation": _facility(m),
        **extra}
    if inputs is not None:
        event["inputQuantityList"] = inputs
    if outputs is not None:
        event["outputQuantityList"] = outputs
    return event


def _capture(db: Session, m: cw.Member, validation: Validation, *events: dict[str, Any],
             behaviour: str = "rollback") -> service.CaptureResult:
    return service.capture_document(db, m.user, _doc(*events), behaviour,
                                    validation=validation)


def _transformations(db: Session, m: cw.Member) -> list[CustodyOperation]:
    return list(db.scalars(select(CustodyOperation).where(
        CustodyOperation.organization_id == m.admin.organization_id,
        CustodyOperation.kind == "transformation")))


INPUTS = [_q("asi_bauxite", 3000, "TNE"), _q("asi_bauxite", 1_000_000)]
OUTPUTS = [_q("asi_alumina", 1800, "TNE")]


def _assert_refined(db: Session, m: cw.Member) -> None:
    [op] = _transformations(db, m)
    assert (op.total_input_kg, op.total_output_kg, op.input_kg, op.kilograms) == (
        4_000_000, 1_800_000, 4_000_000, 1_800_000)
    assert op.transformation == "refining" and op.note == set_note(TID)
    assert _balance(db, m, "asi_bauxite") == 1_000_000
    assert _balance(db, m, "asi_alumina") == 1_800_000


def test_a_set_in_one_document_is_one_transformation(db: Session,
                                                     validation: Validation) -> None:
    w = cw.build(db)
    cw.produce(db, w.mine, "asi_bauxite", 5_000_000, on=DAY)
    result = _capture(db, w.mine, validation, _part(w.mine, 1, inputs=INPUTS[:1]),
                      _part(w.mine, 2, inputs=INPUTS[1:]),
                      _part(w.mine, 3, outputs=OUTPUTS, hour=9))
    assert result.success, result.errors
    assert [e["eventIndex"] for e in result.effects] == [0, 1, 2]
    assert all(e["effect"].startswith("no ledger movement yet") for e in result.effects[:2])
    assert "refining" in result.effects[2]["effect"] and TID in result.effects[2]["effect"]
    _assert_refined(db, w.mine)
    [op] = _transformations(db, w.mine)
    assert op.occurred_on == DAY


@pytest.mark.parametrize("outputs_first", [False, True])
def test_a_set_across_two_captures_moves_nothing_until_complete(
        db: Session, validation: Validation, outputs_first: bool) -> None:
    w = cw.build(db)
    cw.produce(db, w.mine, "asi_bauxite", 5_000_000, on=DAY)
    first, second = (_part(w.mine, 1, inputs=INPUTS), _part(w.mine, 2, outputs=OUTPUTS))
    if outputs_first:
        first, second = second, first
    pending = _capture(db, w.mine, validation, first)
    assert pending.success, pending.errors
    assert "no ledger movement yet" in pending.ledger[0]
    assert ("its outputs" if outputs_first else "its inputs") in pending.ledger[0]
    # A partial set has no ledger effect at all.
    assert _transformations(db, w.mine) == []
    assert _balance(db, w.mine, "asi_bauxite") == 5_000_000
    assert _balance(db, w.mine, "asi_alumina") == 0
    done = _capture(db, w.mine, validation, second)
    assert done.success, done.errors
    assert "refining" in done.ledger[0]
    _assert_refined(db, w.mine)


def test_an_event_after_completion_is_refused_409_naming_the_transformation_id(
        db: Session, validation: Validation) -> None:
    w = cw.build(db)
    cw.produce(db, w.mine, "asi_bauxite", 5_000_000, on=DAY)
    assert _capture(db, w.mine, validation, _part(w.mine, 1, inputs=INPUTS),
                    _part(w.mine, 2, outputs=OUTPUTS)).success
    for late in (_part(w.mine, 3, inputs=[_q("asi_bauxite", 1000)]),
                 _part(w.mine, 4, outputs=[_q("asi_alumina", 1)]),
                 _part(w.mine, 5, inputs=[_q("asi_bauxite", 10)],
                       outputs=[_q("asi_alumina", 4)])):
        with pytest.raises(service.CaptureRejected) as refused:
            _capture(db, w.mine, validation, late)
        assert refused.value.status_code == 409
        error = refused.value.errors[0]
        assert error["path"] == "/epcisBody/eventList/0/transformationID"
        assert f"transformationID {TID} is complete" in error["detail"]
    _assert_refined(db, w.mine)  # still the one transformation, nothing claimed twice
    # Under proceed the late event is skipped and reported; the ledger is unchanged.
    skipped = _capture(db, w.mine, validation, _part(w.mine, 6, outputs=OUTPUTS),
                       behaviour="proceed")
    assert skipped.captured == 0 and skipped.errors[0]["status"] == 409
    _assert_refined(db, w.mine)
    # A single event complete by itself closes its id as well.
    other = "urn:uuid:7d0c2a4e-0000-4000-8000-0000000000ff"
    assert _capture(db, w.mine, validation, _part(w.mine, 7, tid=other,
                                                  inputs=[_q("asi_bauxite", 1000)],
                                                  outputs=[_q("asi_alumina", 400)])).success
    with pytest.raises(service.CaptureRejected) as closed:
        _capture(db, w.mine, validation, _part(w.mine, 8, tid=other,
                                               outputs=[_q("asi_alumina", 1)]))
    assert closed.value.status_code == 409


def test_another_members_events_never_join_a_set(db: Session,
                                                 validation: Validation) -> None:
    w = cw.build(db)
    rival = cw.add_member(db, w, "Second Bauxite", "AU", ["bauxite_mining", "alumina_refining"])
    cw.produce(db, w.mine, "asi_bauxite", 5_000_000, on=DAY)
    cw.produce(db, rival, "asi_bauxite", 5_000_000, on=DAY)
    assert _capture(db, w.mine, validation, _part(w.mine, 1, inputs=INPUTS)).success
    # The rival's outputs under the same id complete nothing of the mine's...
    theirs = _capture(db, rival, validation, _part(rival, 2, outputs=OUTPUTS))
    assert theirs.success and "no ledger movement yet" in theirs.ledger[0]
    assert _transformations(db, w.mine) == [] and _transformations(db, rival) == []
    assert _balance(db, w.mine, "asi_alumina") == 0 and _balance(db, rival, "asi_alumina") == 0
    # ...and the mine's set completes with its own outputs only; the rival's stays open.
    assert _capture(db, w.mine, validation, _part(w.mine, 3, outputs=OUTPUTS)).success
    _assert_refined(db, w.mine)
    assert _transformations(db, rival) == []
    rival_done = _capture(db, rival, validation,
                          _part(rival, 4, inputs=[_q("asi_bauxite", 4_000, "TNE")]))
    assert rival_done.success and "refining" in rival_done.ledger[0]
    [op] = _transformations(db, rival)
    assert (op.total_input_kg, op.total_output_kg) == (4_000_000, 1_800_000)


def test_what_the_events_of_a_set_disagree_on_is_refused(db: Session,
                                                        validation: Validation) -> None:
    w = cw.build(db)
    cw.produce(db, w.mine, "asi_bauxite", 5_000_000, on=DAY)
    other_site = cw.add_facility(db, w.mine, "Second Refinery", ["alumina_refining"])
    coc = {"stw:cocQuantity": {"quantity": 3000, "uom": "TNE"}}
    assert _capture(db, w.mine, validation, _part(w.mine, 1, inputs=INPUTS, **coc)).success
    cases = [
        (_part(w.mine, 2, outputs=OUTPUTS,
               bizLocation={"id": f"urn:stewardship:facility:{other_site}"}), "bizLocation",
         "one transformation, one facility"),
        (_part(w.mine, 3, outputs=OUTPUTS,
               **{"stw:cocQuantity": {"quantity": 2000, "uom": "TNE"}}), "stw:cocQuantity",
         "differs from another event"),
        (_part(w.mine, 4, outputs=[_q("asi_aluminium", 100)]), "outputQuantityList",
         "no transformation turns"),
        (_part(w.mine, 5, inputs=[_q("asi_alumina", 100)]), "inputQuantityList",
         "one CoC material"),
        (_part(w.mine, 6, inputEPCList=["urn:epc:id:sgtin:4012345.011111.1"],
               **{"stw:transformation": "refining"}), "inputQuantityList",
         "carries CoC material in inputQuantityList"),
    ]
    for event, field, words in cases:
        with pytest.raises(service.CaptureRejected) as refused:
            _capture(db, w.mine, validation, event)
        error = refused.value.errors[0]
        assert error["path"].startswith(f"/epcisBody/eventList/0/{field}"), error
        assert words in error["detail"], error
    assert _transformations(db, w.mine) == []
    # The CoC part given once for the set applies to the whole of it.
    done = _capture(db, w.mine, validation, _part(w.mine, 7, outputs=OUTPUTS))
    assert done.success, done.errors
    [op] = _transformations(db, w.mine)
    assert (op.total_input_kg, op.input_kg, op.kilograms) == (4_000_000, 3_000_000, 1_350_000)


def test_a_declared_member_leaves_the_set_and_a_declared_set_is_reversed(
        db: Session, validation: Validation) -> None:
    w = cw.build(db)
    cw.produce(db, w.mine, "asi_bauxite", 5_000_000, on=DAY)
    wrong = _part(w.mine, 1, inputs=[_q("asi_bauxite", 4_500_000)])
    assert _capture(db, w.mine, validation, wrong).success
    declaration = {**wrong, "errorDeclaration": {
        "declarationTime": f"{TODAY.isoformat()}T07:00:00Z", "reason": "incorrect_data"}}
    declared = _capture(db, w.mine, validation, declaration)
    assert declared.success and declared.ledger == []  # nothing had moved
    # The declared event is no longer part of the set: the corrected inputs stand alone.
    assert _capture(db, w.mine, validation, _part(w.mine, 2, inputs=INPUTS)).success
    assert _capture(db, w.mine, validation, _part(w.mine, 3, outputs=OUTPUTS)).success
    _assert_refined(db, w.mine)
    # Declaring an error in a member of the completed set reverses its transformation.
    undone = _capture(db, w.mine, validation, {**_part(w.mine, 3, outputs=OUTPUTS),
                                               "errorDeclaration": {
        "declarationTime": f"{TODAY.isoformat()}T07:00:00Z", "reason": "incorrect_data"}})
    assert undone.success, undone.errors
    assert "reversal" in undone.ledger[0]
    assert _balance(db, w.mine, "asi_bauxite") == 5_000_000
    assert _balance(db, w.mine, "asi_alumina") == 0
