"""Error declarations that undo a chain-of-custody event (reversal or cancellation through
the custody services, refused once the material has left), corrective events in the same
capture, who may declare; an event's own JSON-LD context kept; header master data stored
and naming a facility; CoC refusals with their status, field pointer and ledger effect."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stewardship.custody.models import CocDocument, CustodyOperation
from stewardship.interop.epcis import capture as service
from stewardship.interop.epcis import query
from stewardship.interop.epcis.master_data import FACILITY_ATTRIBUTE, LOCATION
from stewardship.interop.epcis.validation import Validation, _shorten
from stewardship.interop.models import EpcisEvent
from tests import custody_world as cw
from tests.interop.conftest import document
from tests.interop.test_profile import _balance, _facility, _q, _receiving, _shipping
from tests.today import TODAY

DAY = TODAY - timedelta(days=2)
STANDARD = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
STW = {"stw": "urn:stewardship:epcis:"}
PRODUCTION_ID = "urn:uuid:0f6c4b2e-1111-4a00-8000-00000000aa01"


def _doc(*events: dict[str, Any], context: list[Any] | None = None,
         header: dict[str, Any] | None = None) -> dict[str, Any]:
    body = document(*[{k: v for k, v in e.items() if k != "@context"} for e in events],
                    context=context or [STANDARD, STW])
    if header is not None:
        body["epcisHeader"] = header
    return body


def _production(m: cw.Member, kg: int, event_id: str = PRODUCTION_ID,
                **extra: Any) -> dict[str, Any]:
    return {"type": "ObjectEvent", "eventID": event_id, "action": "ADD",
            "bizStep": "commissioning", "eventTime": f"{DAY.isoformat()}T08:00:00Z",
            "eventTimeZoneOffset": "+00:00", "bizLocation": _facility(m),
            "quantityList": [_q("asi_bauxite", kg)], **extra}


def _declared(event: dict[str, Any], *correctives: str) -> dict[str, Any]:
    declaration: dict[str, Any] = {"declarationTime": f"{TODAY.isoformat()}T07:00:00Z",
                                   "reason": "incorrect_data"}
    if correctives:
        declaration["correctiveEventIDs"] = list(correctives)
    return {**event, "errorDeclaration": declaration}


def _ops(db: Session, m: cw.Member, kind: str) -> int:
    return db.scalar(select(func.count()).select_from(CustodyOperation).where(
        CustodyOperation.entity_id == m.entity_id, CustodyOperation.kind == kind)) or 0


def _listed(found: dict[str, Any]) -> list[dict[str, Any]]:
    return list(found["epcisBody"]["queryResults"]["resultsBody"]["eventList"])


# --- error declarations -------------------------------------------------------------------


def test_a_declared_production_is_reversed_and_both_events_are_returned(
        db: Session, validation: Validation) -> None:
    w = cw.build(db)
    first = service.capture_document(db, w.mine.user, _doc(_production(w.mine, 5000)),
                                     validation=validation)
    assert first.success and _balance(db, w.mine, "asi_bauxite") == 5000
    result = service.capture_document(db, w.mine.user,
                                      _doc(_declared(_production(w.mine, 5000))),
                                      validation=validation)
    assert result.success, result.errors
    assert _balance(db, w.mine, "asi_bauxite") == 0 and _ops(db, w.mine, "reversal") == 1
    assert result.effects[0]["eventID"] == PRODUCTION_ID
    assert "reversal of entry" in result.effects[0]["effect"]
    found = _listed(query.get_event(db, w.mine.user, PRODUCTION_ID))
    assert ["errorDeclaration" in e for e in found] == [False, True]
    assert found[1]["errorDeclaration"]["reason"].endswith("incorrect_data")
    # Declared once only: the id's one declaration is taken.
    with pytest.raises(service.CaptureRejected) as twice:
        service.capture_document(db, w.mine.user, _doc(_declared(_production(w.mine, 5000))),
                                 validation=validation)
    assert twice.value.status_code == 409
    assert _ops(db, w.mine, "reversal") == 1


def test_a_declaration_is_refused_when_the_material_has_left(
        db: Session, validation: Validation) -> None:
    w = cw.build(db)
    service.capture_document(db, w.mine.user, _doc(_production(w.mine, 5000)),
                             validation=validation)
    cw.transform(db, w.mine, "refining", "asi_bauxite", 5000, "0.4", on=DAY)
    with pytest.raises(service.CaptureRejected) as refused:
        service.capture_document(db, w.mine.user, _doc(_declared(_production(w.mine, 5000))),
                                 validation=validation)
    assert refused.value.status_code == 409
    error = refused.value.errors[0]
    assert error["path"] == "/epcisBody/eventList/0/errorDeclaration"
    assert "cannot undo the production" in error["detail"]
    assert "cannot be reversed" in error["detail"]
    count = db.scalar(select(func.count()).select_from(EpcisEvent).where(
        EpcisEvent.error_declaration.is_(True)))
    assert count == 0 and _ops(db, w.mine, "reversal") == 0


def test_corrective_events_apply_in_the_same_capture_or_nothing_does(
        db: Session, validation: Validation) -> None:
    w = cw.build(db)
    service.capture_document(db, w.mine.user, _doc(_production(w.mine, 5000)),
                             validation=validation)
    corrected = "urn:uuid:0f6c4b2e-1111-4a00-8000-00000000aa02"
    # The corrective event comes first in the document; the declaration is applied
    # before it all the same.
    bad = _production(w.mine, 4000, corrected,
                      quantityList=[_q("asi_bauxite", 4000, "LBR")])
    with pytest.raises(service.CaptureRejected):
        service.capture_document(db, w.mine.user, _doc(
            bad, _declared(_production(w.mine, 5000), corrected)), validation=validation)
    assert _balance(db, w.mine, "asi_bauxite") == 5000 and _ops(db, w.mine, "reversal") == 0
    result = service.capture_document(db, w.mine.user, _doc(
        _production(w.mine, 4000, corrected),
        _declared(_production(w.mine, 5000), corrected)), validation=validation)
    assert result.success, result.errors
    assert _balance(db, w.mine, "asi_bauxite") == 4000
    assert [e["eventIndex"] for e in result.effects] == [1, 0]


def test_only_the_capturer_of_the_original_may_declare_an_error_in_it(
        db: Session, validation: Validation) -> None:
    w = cw.build(db)
    service.capture_document(db, w.mine.user, _doc(_production(w.mine, 5000)),
                             validation=validation)
    with pytest.raises(service.CaptureRejected) as refused:
        service.capture_document(db, w.smelter.user,
                                 _doc(_declared(_production(w.mine, 5000))),
                                 validation=validation)
    assert refused.value.status_code == 403
    assert refused.value.errors[0]["path"].endswith("/errorDeclaration")
    assert _balance(db, w.mine, "asi_bauxite") == 5000


def test_a_declared_shipping_cancels_the_document_until_it_is_received(
        db: Session, validation: Validation) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 50_000, on=DAY)
    shipped = [_shipping(w.smelter, w.mill, number, eventID=f"urn:uuid:{n}")
               for n, number in ((f"7a0e0000-0000-4000-8000-00000000000{i}", f"COC-DECL-000{i}")
                                 for i in (1, 2))]
    for event in shipped:
        assert service.capture_document(db, w.smelter.user, _doc(event),
                                        validation=validation).success
    assert _balance(db, w.smelter, "asi_aluminium") == 10_000
    cancelled = service.capture_document(db, w.smelter.user, _doc(_declared(shipped[0])),
                                         validation=validation)
    assert cancelled.success, cancelled.errors
    assert "cancelled" in cancelled.ledger[0]
    assert _balance(db, w.smelter, "asi_aluminium") == 30_000
    status = db.scalar(select(CocDocument.status).where(CocDocument.number == "COC-DECL-0001"))
    assert status == "cancelled"
    cw.receive(db, w.mill, "COC-DECL-0002", on=DAY)
    with pytest.raises(service.CaptureRejected) as refused:
        service.capture_document(db, w.smelter.user, _doc(_declared(shipped[1])),
                                 validation=validation)
    assert refused.value.status_code == 409
    assert "already received" in refused.value.errors[0]["detail"]


# --- JSON-LD contexts ---------------------------------------------------------------------


def test_an_events_own_context_is_kept_and_its_prefixes_apply(
        db: Session, validation: Validation) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 50_000, on=DAY)
    event = _shipping(w.smelter, w.mill, "COC-CTX-0001", coc=None,
                      eventID="urn:uuid:7a0e0000-0000-4000-8000-0000000000c1")
    event.pop("@context")
    event["@context"] = [{"asi": "urn:stewardship:epcis:"},
                         {"ex2": "https://example.org/ext2/"},
                         "https://example.org/never-fetched/context.jsonld"]
    event["asi:cocQuantity"] = {"quantity": 20, "uom": "TNE"}
    event["ex2:colour"] = "silver"
    body = document(context=[STANDARD])
    body["epcisBody"]["eventList"] = [event]
    result = service.capture_document(db, w.smelter.user, body, validation=validation)
    assert result.success, result.errors
    assert "COC-CTX-0001 issued" in result.ledger[0]
    found = query.get_event(db, w.smelter.user, event["eventID"])
    assert found["@context"][0] == STANDARD
    assert {"ex2": "https://example.org/ext2/"} in found["@context"]
    assert {"asi": "urn:stewardship:epcis:"} in found["@context"]
    assert "https://example.org/never-fetched/context.jsonld" in found["@context"]
    assert _listed(found)[0]["ex2:colour"] == "silver"


def test_ld_json_responses_carry_their_contexts(client_for: Any, db: Session) -> None:
    w = cw.build(db)
    member: TestClient = client_for(w.mine.user)
    event = {**_production(w.mine, 1000), "@context": [STANDARD, STW,
                                                      {"ex2": "https://example.org/ext2/"}],
             "ex2:colour": "red"}
    answer = member.post("/epcis/events", json=event,
                         headers={"Content-Type": "application/ld+json"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["ledger"]
    read = member.get(f"/epcis/events/{quote(PRODUCTION_ID, safe='')}",
                      headers={"Accept": "application/ld+json"})
    assert read.status_code == 200
    assert {"ex2": "https://example.org/ext2/"} in read.json()["@context"]


# --- master data --------------------------------------------------------------------------


def _header(location: str, facility: str, prefix: str = "stw") -> dict[str, Any]:
    return {"epcisMasterData": {"vocabularyList": [{
        "type": LOCATION,
        "vocabularyElementList": [{"id": location, "attributes": [
            {"id": "urn:epcglobal:cbv:mda:name", "attribute": "Mine gate"},
            {"id": f"{prefix}:facility", "attribute": facility}]}]}]}}


def test_master_data_names_the_facility_and_shows_on_the_location(
        db: Session, validation: Validation, client_for: Any) -> None:
    w = cw.build(db)
    location = "urn:epc:id:sgln:4012345.00001.0"
    event = _production(w.mine, 3000, bizLocation={"id": location})
    # Without master data the location is no facility of ours.
    with pytest.raises(service.CaptureRejected) as refused:
        service.capture_document(db, w.mine.user, _doc(event), validation=validation)
    assert refused.value.errors[0]["path"] == "/epcisBody/eventList/0/bizLocation"
    header = _header(location, w.mine.facility, prefix="mine")
    body = _doc(event, context=[STANDARD, {"mine": "urn:stewardship:epcis:"}], header=header)
    result = service.capture_document(db, w.mine.user, body, validation=validation)
    assert result.success, result.errors
    assert _balance(db, w.mine, "asi_bauxite") == 3000
    shown = client_for(w.mine.user).get(f"/epcis/bizLocations/{quote(location, safe='')}")
    assert shown.status_code == 200, shown.text
    attributes = shown.json()["masterData"][0]["attributes"]
    assert {"id": FACILITY_ATTRIBUTE, "attribute": w.mine.facility} in attributes
    # Another member neither sees the master data nor resolves the location with it.
    other = client_for(w.smelter.user).get(f"/epcis/bizLocations/{quote(location, safe='')}")
    assert other.status_code == 404


# --- the profile's errors -----------------------------------------------------------------


def _receipt(m: cw.Member, number: str) -> dict[str, Any]:
    return _receiving(m, number, quantityList=[_q("asi_aluminium", 24.5, "TNE")])


def test_coc_refusals_keep_status_and_field(db: Session, validation: Validation) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 10_000, on=DAY)
    with pytest.raises(service.CaptureRejected) as over:
        service.capture_document(db, w.smelter.user,
                                 _doc(_shipping(w.smelter, w.mill, "COC-ERR-0001")),
                                 validation=validation)
    assert over.value.status_code == 409
    assert over.value.errors[0]["path"] == "/epcisBody/eventList/0/stw:cocQuantity"
    assert "exceeds the available balance" in over.value.errors[0]["detail"]
    cw.produce(db, w.smelter, "asi_aluminium", 40_000, on=DAY)
    service.capture_document(db, w.smelter.user,
                             _doc(_shipping(w.smelter, w.mill, "COC-ERR-0002")),
                             validation=validation)
    with pytest.raises(service.CaptureRejected) as stranger:
        service.capture_document(db, w.canmaker.user,
                                 _doc(_receipt(w.canmaker, "COC-ERR-0002")),
                                 validation=validation)
    assert stranger.value.status_code == 404
    assert stranger.value.errors[0]["path"] == "/epcisBody/eventList/0/bizTransactionList"
    by_issuer = _receipt(w.smelter, "COC-ERR-0002")
    by_issuer["destinationList"][0]["destination"] = f"urn:stewardship:org:{w.mill.slug}"
    with pytest.raises(service.CaptureRejected) as issuer:
        service.capture_document(db, w.smelter.user, _doc(by_issuer), validation=validation)
    assert issuer.value.status_code == 403
    # GS1's schema wants an ObjectEvent to say what it is about: without quantityList
    # (or epcList) the refusal says so, rather than quoting the event.
    if validation.mode == "gs1-json-schema":
        with pytest.raises(service.CaptureRejected) as bare:
            service.capture_document(db, w.mill.user, _doc(
                _receiving(w.mill, "COC-ERR-0002")), validation=validation)
        assert '"quantityList" is a required property' in bare.value.errors[0]["detail"]
    # Its bizStep, transaction and party types as CBV URNs, it is received.
    received = service.capture_document(db, w.mill.user, _doc(_receipt(
        w.mill, "COC-ERR-0002")), validation=validation)
    assert received.success and "received" in received.ledger[0]


def test_the_capture_job_shows_each_events_ledger_effect(
        db: Session, client_for: Any, run_jobs: Any) -> None:
    w = cw.build(db)
    member: TestClient = client_for(w.mine.user)
    shipping_urn = _production(w.mine, 2000)
    plain = {**_production(w.mine, 1, "urn:uuid:0f6c4b2e-1111-4a00-8000-00000000aa09"),
             "bizStep": "urn:epcglobal:cbv:bizstep:inspecting", "action": "OBSERVE",
             "quantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.012345.998877",
                               "quantity": 1, "uom": "KGM"}], "bizLocation": {
                 "id": "urn:epc:id:sgln:4012345.00001.0"}}
    answer = member.post("/epcis/capture", json=_doc(
        {**shipping_urn, "bizStep": "urn:epcglobal:cbv:bizstep:commissioning"}, plain))
    assert answer.status_code == 202, answer.text
    run_jobs()
    job = member.get(answer.headers["Location"]).json()
    assert job["success"], job
    assert [(e["eventIndex"], e["eventID"]) for e in job["ledger"]] == [(0, PRODUCTION_ID)]
    assert "production" in job["ledger"][0]["effect"]


def test_a_long_schema_message_keeps_its_reason() -> None:
    value = {"quantity": "x" * 500, "uom": "KGM"}
    message = json.dumps(value, sort_keys=True, separators=(",", ":")) + \
        " is not valid under any of the schemas listed in the 'anyOf' keyword"
    short = _shorten(message, value)
    assert len(short) <= 300 and short.endswith("'anyOf' keyword")
    assert _shorten("unexpected " * 60).endswith("unexpected ")


def test_a_schema_refusal_of_a_big_event_names_what_is_wrong(
        db: Session, validation: Validation) -> None:
    if validation.mode != "gs1-json-schema":
        pytest.skip("GS1's schema is not configured")
    w = cw.build(db)
    event = _production(w.mine, 1000, ilmd={"x": "y" * 400})
    event["action"] = "EXPLODE"
    issues = validation.document_issues(_doc(event))
    assert issues and all(len(i.message) <= 300 for i in issues)
    assert any("EXPLODE" in i.message or "action" in i.pointer for i in issues)
