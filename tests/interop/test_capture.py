"""capture_document: ids, all-or-nothing and greedy behaviour, duplicates, the CoC profile
hook under SAVEPOINTs, structural checks, and who sees what."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor
from stewardship.core.errors import InvalidInput, NotFound
from stewardship.interop import profile, rules
from stewardship.interop.epcis import capture as service
from stewardship.interop.epcis import query
from stewardship.interop.epcis.validation import Validation
from stewardship.interop.models import EpcisContext, EpcisEvent
from tests.interop.conftest import World, document, object_event


def _count(db: Session, model: Any = EpcisEvent) -> int:
    return int(db.scalar(select(func.count()).select_from(model)) or 0)


def _events(db: Session, actor: Actor, settings: Any, **params: str) -> list[dict[str, Any]]:
    result, _ = query.query_events(db, actor, list(params.items()), settings)
    return list(result["epcisBody"]["queryResults"]["resultsBody"]["eventList"])


def test_events_get_hash_ids_and_a_record_time(db: Session, world: World,
                                               validation: Validation) -> None:
    with_id = object_event(2, eventID="urn:uuid:6f4b2a52-6b3c-4a53-9a24-fb5c7c9a0a01")
    result = service.capture_document(db, world.a, document(object_event(1), with_id),
                                      validation=validation)
    assert result.success and result.captured == 2
    assert result.event_ids[0] == rules.event_hash_id(object_event(1))
    assert result.event_ids[1] == with_id["eventID"]
    row = db.scalars(select(EpcisEvent).where(EpcisEvent.event_id == result.event_ids[0])).one()
    assert (row.biz_step, row.disposition, row.organization_id) == \
        ("shipping", "in_transit", world.a.organization_id)
    assert '"recordTime"' in row.body


def test_rollback_stores_nothing_when_one_event_is_invalid(db: Session, world: World,
                                                            validation: Validation) -> None:
    bad = object_event(2, action="SHOUT", eventID="urn:uuid:00000000-0000-4000-8000-000000000002")
    with pytest.raises(service.CaptureRejected) as caught:
        service.capture_document(db, world.a, document(object_event(1), bad),
                                 validation=validation)
    assert _count(db) == 0
    error = caught.value.errors[0]
    assert caught.value.status_code == 400
    assert (error["eventIndex"], error["eventID"]) == (1, bad["eventID"])
    assert error["path"] == "/epcisBody/eventList/1/action"
    assert error["type"] == "epcisException:ValidationException"


def test_proceed_keeps_the_good_events_and_reports_the_bad(db: Session, world: World,
                                                            validation: Validation) -> None:
    bad = object_event(2)
    del bad["eventTime"]
    result = service.capture_document(db, world.a, document(object_event(1), bad,
                                                            object_event(3)),
                                      "proceed", validation=validation)
    assert (result.captured, _count(db)) == (2, 2)
    assert [e["eventIndex"] for e in result.errors] == [1]
    assert "eventTime" in result.errors[0]["detail"]


def test_duplicates_in_the_document_and_in_the_repository(db: Session, world: World,
                                                          validation: Validation) -> None:
    service.capture_document(db, world.a, document(object_event(1)), validation=validation)
    with pytest.raises(service.CaptureRejected) as caught:
        service.capture_document(db, world.a, document(object_event(1)),
                                 validation=validation)
    assert caught.value.status_code == 409
    result = service.capture_document(db, world.a, document(object_event(1), object_event(2),
                                                            object_event(2)),
                                      "proceed", validation=validation)
    assert result.captured == 1
    assert [(e["eventIndex"], e["status"]) for e in result.errors] == [(0, 409), (2, 409)]
    assert _count(db) == 2


def _ledger_event(n: int, kilograms: int) -> dict[str, Any]:
    return object_event(n, quantityList=[{"epcClass": "urn:stewardship:material:asi_aluminium",
                                          "quantity": kilograms, "uom": "KGM"}])


@pytest.fixture
def fake_profile(monkeypatch: pytest.MonkeyPatch, db: Session) -> list[str]:
    """A stand-in for the CoC profile: writes a row (its 'ledger effect'), then refuses
    events over 100 kg."""
    seen: list[str] = []

    def apply(session: Session, actor: Actor, event: dict[str, Any]) -> str | None:
        seen.append(event["eventID"])
        session.add(EpcisContext(digest=event["eventID"][-64:], body="[]"))
        session.flush()
        if event["quantityList"][0]["quantity"] > 100:
            raise InvalidInput("more than the balance", field="quantityList")
        return f"moved {event['quantityList'][0]['quantity']} kg"

    monkeypatch.setattr(profile, "apply_event", apply)
    return seen


def test_profile_failures_roll_back_everything_by_default(
        db: Session, world: World, validation: Validation, fake_profile: list[str]) -> None:
    doc = document(object_event(1), _ledger_event(2, 50), _ledger_event(3, 500))
    with pytest.raises(service.CaptureRejected) as caught:
        service.capture_document(db, world.a, doc, validation=validation)
    assert "more than the balance" in caught.value.errors[0]["detail"]
    assert caught.value.errors[0]["eventIndex"] == 2
    assert (_count(db), _count(db, EpcisContext)) == (0, 0)
    assert len(fake_profile) == 2  # the plain event never reached the profile


def test_proceed_skips_a_failing_profile_event_and_its_effect(
        db: Session, world: World, validation: Validation, fake_profile: list[str]) -> None:
    doc = document(object_event(1), _ledger_event(2, 50), _ledger_event(3, 500),
                   object_event(4))
    result = service.capture_document(db, world.a, doc, "proceed", validation=validation)
    assert result.captured == 3
    assert result.ledger == ["moved 50 kg"]
    assert [e["eventIndex"] for e in result.errors] == [2]
    assert (_count(db), _count(db, EpcisContext)) == (3, 1)


def test_structural_checks_apply_without_a_schema(db: Session, world: World) -> None:
    structural = Validation(None)
    assert structural.mode == "structural"
    bad = object_event(2)
    del bad["action"]
    with pytest.raises(service.CaptureRejected) as caught:
        service.capture_document(db, world.a, document(object_event(1), bad),
                                 validation=structural)
    assert caught.value.errors[0]["path"] == "/epcisBody/eventList/1/action"
    result = service.capture_document(db, world.a, document(object_event(1)),
                                      validation=structural)
    assert result.captured == 1


def test_an_organisation_sees_what_it_captured_and_what_names_it(
        db: Session, world: World, validation: Validation, epcis_settings: Any) -> None:
    from stewardship.registry.repository import organization_by_slug

    b = organization_by_slug(db, world.b_slug)
    assert b is not None
    to_b = object_event(1, destinationList=[
        {"type": "owning_party", "destination": f"urn:stewardship:org:{world.b_slug}"}])
    via_entity = object_event(2, sourceList=[
        {"type": "possessing_party", "source": f"urn:stewardship:entity:{_entity_of(db, b)}"}])
    location_only = object_event(3, destinationList=[
        {"type": "location", "destination": f"urn:stewardship:org:{world.b_slug}"}])
    service.capture_document(db, world.a, document(to_b, via_entity, location_only),
                             validation=validation)
    assert len(_events(db, world.a, epcis_settings)) == 3
    assert [e["eventTime"] for e in _events(db, world.b, epcis_settings)] == \
        [to_b["eventTime"], via_entity["eventTime"]]
    assert _events(db, world.c, epcis_settings) == []
    assert _events(db, world.auditor, epcis_settings) == []
    assert len(_events(db, world.secretariat, epcis_settings)) == 3


def _entity_of(db: Session, organization: Any) -> str:
    from tests import factories

    return str(factories.entity(db, organization.slug, name="EPCIS Metals B GmbH").id)


def test_only_members_and_the_secretariat_capture(db: Session, world: World,
                                                  validation: Validation) -> None:
    from stewardship.core.errors import Forbidden

    with pytest.raises(Forbidden):
        service.capture_document(db, world.auditor, document(object_event(1)),
                                 validation=validation)
    assert service.capture_document(db, world.secretariat, document(object_event(1)),
                                    validation=validation).captured == 1


# --- eventIDs are the capturer's own --------------------------------------------------------


SHARED_ID = "urn:uuid:0d3f4c1e-2b9a-4e51-8c77-5a1f0e6b9c42"


def test_another_member_captures_the_same_event_id_as_its_own(db: Session, world: World,
                                                              validation: Validation,
                                                              epcis_settings: Any) -> None:
    mine = object_event(1, eventID=SHARED_ID)
    theirs = object_event(2, eventID=SHARED_ID, bizStep="receiving")
    service.capture_document(db, world.a, document(mine), validation=validation)
    # B guessed (or happens to use) A's id: captured as B's own event, nothing refused.
    result = service.capture_document(db, world.b, document(theirs), validation=validation)
    assert result.success and result.event_ids == [SHARED_ID]
    staff = service.capture_document(db, world.secretariat,
                                     document(object_event(3, eventID=SHARED_ID)),
                                     validation=validation)
    assert staff.success
    owners = sorted(str(o) for o in db.scalars(
        select(EpcisEvent.organization_id).where(EpcisEvent.event_id == SHARED_ID)))
    assert len(owners) == 3
    # Each reads its own event under the id; the one with no event under it sees none.
    assert [e["bizStep"] for e in _listed(query.get_event(db, world.a, SHARED_ID))] == [
        "shipping"]
    assert [e["bizStep"] for e in _listed(query.get_event(db, world.b, SHARED_ID))] == [
        "receiving"]
    with pytest.raises(NotFound):
        query.get_event(db, world.c, SHARED_ID)
    # A query by eventID finds the reader's event only; the secretariat sees all three.
    assert [e["bizStep"] for e in _events(db, world.b, epcis_settings,
                                          EQ_eventID=SHARED_ID)] == ["receiving"]
    assert len(_events(db, world.secretariat, epcis_settings, EQ_eventID=SHARED_ID)) == 3
    # Each capturer's own id is still refused a second time, and only its own.
    for actor in (world.a, world.b, world.secretariat):
        with pytest.raises(service.CaptureRejected) as refused:
            service.capture_document(db, actor, document(object_event(9, eventID=SHARED_ID)),
                                     validation=validation)
        assert refused.value.status_code == 409
    assert _count(db) == 3


def test_an_error_declaration_repeats_its_events_id_once(db: Session, world: World,
                                                         validation: Validation,
                                                         epcis_settings: Any) -> None:
    original = object_event(1, eventID=SHARED_ID)
    declaration = {**original, "errorDeclaration": {
        "declarationTime": "2024-05-02T09:00:00Z", "reason": "incorrect_data"}}
    service.capture_document(db, world.a, document(original), validation=validation)
    assert service.capture_document(db, world.a, document(declaration),
                                    validation=validation).success
    with pytest.raises(service.CaptureRejected) as twice:
        service.capture_document(db, world.a, document(declaration), validation=validation)
    assert twice.value.status_code == 409
    found = _events(db, world.a, epcis_settings, EQ_eventID=SHARED_ID)
    assert ["errorDeclaration" in e for e in found] == [False, True]
    # Reading by id answers the event itself, then its declaration.
    assert ["errorDeclaration" in e for e in _listed(query.get_event(db, world.a, SHARED_ID))
            ] == [False, True]
    # A hash id is kept by the declaration too: the pair is captured in one document.
    plain = object_event(5)
    declared = {**plain, "errorDeclaration": {"declarationTime": "2024-05-02T09:00:00Z"}}
    pair = service.capture_document(db, world.b, document(plain, declared),
                                    validation=validation)
    assert pair.success and pair.event_ids[0] == pair.event_ids[1]


def _listed(document: dict[str, Any]) -> list[dict[str, Any]]:
    assert document["type"] == "EPCISQueryDocument"
    return list(document["epcisBody"]["queryResults"]["resultsBody"]["eventList"])
