"""The chain-of-custody profile of EPCIS 2.0: events built here move the ledger through
the custody services (transformation at the declared yield, production, a CoC document
issued on shipping and received on receiving), every rule breach raises with its reason,
and events outside the profile, the official GS1 examples among them, change nothing."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stewardship.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from stewardship.core.eventlog import EventLogEntry
from stewardship.core.pagination import PageParams
from stewardship.custody.models import CustodyOperation
from stewardship.custody.service import documents, reads
from stewardship.interop.profile import CONTEXT, apply_event, event_day, kilograms
from tests import custody_world as cw
from tests.today import TODAY

DAY = TODAY - timedelta(days=2)
GS1_EXAMPLES = Path("/work/shared/conformance/epcis/JSON")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "epcis-profile.md"
ALL = PageParams(1, 100)
EPCIS_CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", CONTEXT]


def _facility(m: cw.Member) -> dict[str, str]:
    return {"id": f"urn:stewardship:facility:{m.facility}"}


def _q(material: str, quantity: float | int, uom: str = "KGM") -> dict[str, Any]:
    return {"epcClass": f"urn:stewardship:material:{material}", "quantity": quantity,
            "uom": uom}


def _base(kind: str, day: date = DAY, **fields: Any) -> dict[str, Any]:
    return {"@context": EPCIS_CONTEXT, "type": kind,
            "eventTime": f"{day.isoformat()}T10:00:00.000Z", "eventTimeZoneOffset": "+00:00",
            **fields}


def _transformation(m: cw.Member, inputs: list[dict[str, Any]],
                    outputs: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return _base("TransformationEvent", eventID="urn:uuid:5b3c1e1a-0000-4000-8000-000000000001",
                 inputQuantityList=inputs, outputQuantityList=outputs,
                 bizStep="commissioning", bizLocation=_facility(m), **extra)


def _shipping(issuer: cw.Member, recipient: cw.Member | None, number: str, *,
              quantity: float | int = 24.5, coc: float | int | None = 20,
              material: str = "asi_aluminium", **extra: Any) -> dict[str, Any]:
    event = _base("ObjectEvent", action="OBSERVE", bizStep="shipping",
                  disposition="in_transit", readPoint=_facility(issuer),
                  quantityList=[_q(material, quantity, "TNE")],
                  bizTransactionList=[{"type": "po", "bizTransaction": "urn:example:po:4711"},
                                      {"type": "cert",
                                       "bizTransaction": f"urn:stewardship:coc:{number}"}],
                  sourceList=[{"type": "owning_party",
                               "source": f"urn:stewardship:org:{issuer.slug}"}])
    if recipient is not None:
        event["destinationList"] = [{"type": "owning_party",
                                     "destination": f"urn:stewardship:entity:"
                                                    f"{recipient.entity_id}"}]
    if coc is not None:
        event["stw:cocQuantity"] = {"quantity": coc, "uom": "TNE"}
    event.update(extra)
    return event


def _receiving(recipient: cw.Member, number: str, day: date = DAY,
               **extra: Any) -> dict[str, Any]:
    return _base("ObjectEvent", day, action="OBSERVE",
                 bizStep="urn:epcglobal:cbv:bizstep:receiving",
                 disposition="in_progress", bizLocation=_facility(recipient),
                 bizTransactionList=[{"type": "urn:epcglobal:cbv:btt:cert",
                                      "bizTransaction": f"urn:stewardship:coc:{number}"}],
                 destinationList=[{"type": "urn:epcglobal:cbv:sdt:owning_party",
                                   "destination": f"urn:stewardship:org:{recipient.slug}"}],
                 **extra)


def _balance(db: Session, m: cw.Member, material: str) -> int:
    page = reads.list_accounts(db, m.user, ALL, entity_id=m.entity_id)
    return sum(a.balance_kg for a in page.items
               if a.material.value == material and a.status == "open")


def _raises(error: type[Exception], db: Session, actor: Any, event: dict[str, Any],
            *words: str) -> Any:
    with pytest.raises(error) as raised:
        apply_event(db, actor, event)
    for word in words:
        assert word in raised.value.message  # type: ignore[attr-defined]
    return raised.value


# --- moving the ledger --------------------------------------------------------------------


def test_transformation_moves_the_ledger_at_the_declared_yield(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.mine, "asi_bauxite", 5_000_000, on=DAY)
    effect = apply_event(db, w.mine.user, _transformation(
        w.mine, [_q("asi_bauxite", 3000, "TNE"), _q("asi_bauxite", 1_000_000)],
        [_q("asi_alumina", 1800, "TNE")]))
    assert effect is not None
    assert "refining" in effect and "0.45 kg/kg" in effect and "1800000 kg" in effect
    op = reads.list_operations(db, w.mine.user, w.mine.entity_id, ALL,
                               kind="transformation").items[0]
    assert (op.input_kg, op.kilograms, op.declared_yield) == (4_000_000, 1_800_000,
                                                              Decimal("0.45"))
    assert op.occurred_on == DAY and op.facility_id == w.mine.facility
    assert "urn:uuid:5b3c1e1a" in op.note
    assert _balance(db, w.mine, "asi_bauxite") == 1_000_000
    assert _balance(db, w.mine, "asi_alumina") == 1_800_000


def test_a_yield_beyond_six_decimals_is_shown_rounded_down_and_the_output_kept(
        db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.mine, "asi_bauxite", 7_000_000, on=DAY)
    effect = apply_event(db, w.mine.user, _transformation(
        w.mine, [_q("asi_bauxite", 7_000_000)], [_q("asi_alumina", 3_000_001)]))
    assert effect is not None and "0.428571 kg/kg" in effect
    # The whole input was CoC: the CoC output is the event's output, to the kilogram
    # (the CoC input times the exact yield), never above it.
    assert _balance(db, w.mine, "asi_alumina") == 3_000_001


def test_a_transformation_event_with_non_coc_input_credits_the_coc_part(
        db: Session) -> None:
    # 10,000 t of bauxite, of which 6,000 t CoC, refined into 4,000 t of alumina.
    w = cw.build(db)
    cw.produce(db, w.mine, "asi_bauxite", 6_000_000, on=DAY)
    effect = apply_event(db, w.mine.user, _transformation(
        w.mine, [_q("asi_bauxite", 10_000, "TNE")], [_q("asi_alumina", 4_000, "TNE")],
        **{"stw:cocQuantity": {"quantity": 6_000, "uom": "TNE"}}))
    assert effect is not None and "60.00% CoC input" in effect
    op = reads.list_operations(db, w.mine.user, w.mine.entity_id, ALL,
                               kind="transformation").items[0]
    assert (op.total_input_kg, op.total_output_kg, op.input_kg, op.kilograms) == (
        10_000_000, 4_000_000, 6_000_000, 2_400_000)
    assert (op.declared_yield, op.coc_input_percent) == (Decimal("0.4"), Decimal("60.00"))
    assert _balance(db, w.mine, "asi_bauxite") == 0
    assert _balance(db, w.mine, "asi_alumina") == 2_400_000
    # A CoC part beyond the whole input names stw:cocQuantity.
    error = _raises(InvalidInput, db, w.mine.user, _transformation(
        w.mine, [_q("asi_bauxite", 1_000)], [_q("asi_alumina", 400)],
        **{"stw:cocQuantity": {"quantity": 2, "uom": "TNE"}}), "exceeds the total input")
    assert error.details[0]["field"] == "stw:cocQuantity"


def test_commissioning_is_production_on_the_local_date(db: Session) -> None:
    w = cw.build(db)
    event = _base("ObjectEvent", action="ADD", bizStep="https://ref.gs1.org/cbv/BizStep-"
                  "commissioning", bizLocation=_facility(w.smelter),
                  quantityList=[_q("asi_aluminium", 12.5, "TNE")],
                  eventTime=f"{(DAY - timedelta(days=1)).isoformat()}T23:30:00Z",
                  eventTimeZoneOffset="+02:00")
    effect = apply_event(db, w.smelter.user, event)
    assert effect == (f"production at {w.smelter.facility} on {DAY.isoformat()}: 12500 kg "
                      "asi_aluminium")
    assert _balance(db, w.smelter, "asi_aluminium") == 12_500


def test_shipping_issues_the_document_and_receiving_confirms_it(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 50_000, on=DAY)
    effect = apply_event(db, w.smelter.user, _shipping(w.smelter, w.mill, "COC-EPCIS-0001"))
    assert effect is not None and effect.startswith("CoC document COC-EPCIS-0001 issued")
    doc = documents.get_document(db, w.smelter.user, "COC-EPCIS-0001")
    assert (doc.status, doc.quantity_kg, doc.coc_quantity_kg) == ("issued", 24_500, 20_000)
    assert doc.shipment_date == DAY and doc.recipient.entity_id == w.mill.entity_id
    assert _balance(db, w.smelter, "asi_aluminium") == 30_000

    effect = apply_event(db, w.mill.user, _receiving(w.mill, "COC-EPCIS-0001",
                                                     quantityList=[_q("asi_aluminium",
                                                                      24_500)]))
    assert effect is not None and "COC-EPCIS-0001 received on" in effect
    doc = documents.get_document(db, w.mill.user, "COC-EPCIS-0001")
    assert doc.status == "received" and doc.received_on == DAY
    assert _balance(db, w.mill, "asi_aluminium") == 20_000
    # received at most once
    _raises(Conflict, db, w.mill.user, _receiving(w.mill, "COC-EPCIS-0001"),
            "already received")


def test_a_transaction_event_ships_too_with_our_prefix_declared_otherwise(
        db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 5_000, on=DAY)
    event = _shipping(w.smelter, w.mill, "COC-EPCIS-0002", quantity=5, coc=None,
                      type="TransactionEvent", action="ADD")
    event["@context"] = [EPCIS_CONTEXT[0], {"asi": "urn:stewardship:epcis:"}]
    event["asi:cocQuantity"] = {"quantity": 5000, "uom": "KGM"}
    event["asi:recycledContent"] = {"percent": 12.5, "method": "mass balance of scrap"}
    assert apply_event(db, w.smelter.user, event) is not None
    doc = documents.get_document(db, w.smelter.user, "COC-EPCIS-0002")
    assert doc.recycled_percent == Decimal("12.5") and doc.coc_quantity_kg == 5_000


def test_the_documented_examples_move_the_ledger(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.mine, "asi_bauxite", 4_000_000, on=DAY)
    cw.transform(db, w.mine, "refining", "asi_bauxite", 4_000_000, "0.5", on=DAY)
    cw.receive(db, w.smelter, cw.ship(db, w.mine, w.smelter, "asi_alumina", 1_000_000,
                                      on=DAY), on=DAY)
    text = DOCS.read_text("utf-8")
    for fictional, real in (("NO2024FJE11A4", w.smelter.facility),
                            ("DE2024WA1ZMKI", w.mill.facility),
                            ("fjell-aluminium", w.smelter.slug), ("walz-rolling", w.mill.slug),
                            ("02f25f35-2b21-47aa-8d81-056e0ce5d8e1", str(w.mill.entity_id)),
                            ("2026-03-02T", f"{DAY.isoformat()}T"),
                            ("2026-03-04T", f"{DAY.isoformat()}T")):
        text = text.replace(fictional, real)
    examples = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)
                if "EPCISDocument" in block]
    captures = [(w.smelter.user, examples[0]), (w.smelter.user, examples[1]),
                (w.mill.user, examples[2])]
    effects = []
    for actor, document in captures:
        for event in document["epcisBody"]["eventList"]:
            effects.append(apply_event(db, actor, {"@context": document["@context"], **event}))
    assert [e.split(":")[0] if e else None for e in effects] == [
        f"transformation (smelting) at {w.smelter.facility} on {DAY.isoformat()}",
        f"CoC document COC-2026-7KQ2M9XD issued on {DAY.isoformat()}",
        f"CoC document COC-2026-7KQ2M9XD received on {DAY.isoformat()}"]
    doc = documents.get_document(db, w.mill.user, "COC-2026-7KQ2M9XD")
    assert (doc.status, doc.coc_quantity_kg, doc.recycled_percent) == ("received", 20_000,
                                                                        Decimal("12.5"))
    assert _balance(db, w.smelter, "asi_aluminium") == 500_000


# --- refusals, each with its reason -------------------------------------------------------


def test_an_unknown_epc_class_is_refused(db: Session) -> None:
    w = cw.build(db)
    error = _raises(InvalidInput, db, w.mine.user, _transformation(
        w.mine, [_q("asi_bauxite", 1000)], [_q("asi_copper", 400)]),
        "unknown epcClass", "asi_copper")
    assert error.details[0]["field"] == "outputQuantityList[0].epcClass"
    event = _transformation(w.mine, [_q("asi_bauxite", 1000)], [_q("asi_alumina", 400)])
    event["inputQuantityList"].append({"epcClass": "urn:epc:class:lgtin:4012345.012345.998877",
                                       "quantity": 50, "uom": "KGM"})
    _raises(InvalidInput, db, w.mine.user, event, "unknown epcClass", "lgtin")


def test_a_yield_beyond_physics_is_refused(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.mine, "asi_bauxite", 10_000, on=DAY)
    error = _raises(InvalidInput, db, w.mine.user, _transformation(
        w.mine, [_q("asi_bauxite", 1000)], [_q("asi_alumina", 900)]),
        "physical limit of 0.85", "boehmite")
    assert error.details[0]["field"] == "outputQuantityList"
    # metal never grows: 1000 kg rolled into 1010 kg
    _raises(InvalidInput, db, w.mill.user, _transformation(
        w.mill, [_q("asi_aluminium", 1000)], [_q("asi_aluminium", 1010)],
        **{"stw:transformation": "rolling"}), "exceeds the physical limit of 1")
    assert _balance(db, w.mine, "asi_alumina") == 0


def test_a_metal_step_must_be_named_and_fit_the_facility(db: Session) -> None:
    w = cw.build(db)
    _raises(InvalidInput, db, w.mill.user, _transformation(
        w.mill, [_q("asi_aluminium", 1000)], [_q("asi_aluminium", 970)]),
        "name the step in stw:transformation")
    _raises(InvalidInput, db, w.mill.user, _transformation(
        w.mill, [_q("asi_aluminium", 1000)], [_q("asi_aluminium", 970)],
        **{"stw:transformation": "smelting"}), "Smelting takes ASI Alumina")


def test_fractional_kilograms_and_other_units_are_refused(db: Session) -> None:
    w = cw.build(db)
    _raises(InvalidInput, db, w.mine.user, _transformation(
        w.mine, [_q("asi_bauxite", 1.0005, "TNE")], [_q("asi_alumina", 400)]),
        "1000.5 kg", "whole kilograms")
    _raises(InvalidInput, db, w.mine.user, _transformation(
        w.mine, [_q("asi_bauxite", 2200, "LBR")], [_q("asi_alumina", 400)]),
        "KGM or TNE")
    assert kilograms(24.5, "TNE", "q") == 24_500
    assert kilograms(Decimal("0.001"), "TNE", "q") == 1


def test_a_facility_of_another_member_is_refused(db: Session) -> None:
    w = cw.build(db)
    error = _raises(InvalidInput, db, w.mill.user, _transformation(
        w.smelter, [_q("asi_alumina", 1000)], [_q("asi_aluminium", 500)]),
        f"facility {w.smelter.facility} is not one of your organisation's")
    assert error.details[0]["field"] == "bizLocation"


def test_shipping_without_destination_or_coc_quantity_is_refused(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 50_000, on=DAY)
    error = _raises(InvalidInput, db, w.smelter.user,
                    _shipping(w.smelter, None, "COC-EPCIS-0003"), "destinationList")
    assert error.details[0]["field"] == "destinationList"
    _raises(InvalidInput, db, w.smelter.user,
            _shipping(w.smelter, w.mill, "COC-EPCIS-0003", coc=None), "stw:cocQuantity")
    _raises(InvalidInput, db, w.smelter.user,
            _shipping(w.smelter, w.mill, "COC-EPCIS-0003", **{"stw:cocQty": 3}),
            "unknown extension stw:cocQty")
    assert documents.list_documents(db, w.smelter.user, ALL).total == 0


def test_shipping_beyond_the_balance_is_a_conflict(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 10_000, on=DAY)
    error = _raises(Conflict, db, w.smelter.user,
                    _shipping(w.smelter, w.mill, "COC-EPCIS-0004", quantity=25, coc=20),
                    "exceeds the available balance of 10000 kg")
    assert error.details[0]["field"] == "stw:cocQuantity"


def test_shipping_without_certificates_or_to_oneself_is_refused(db: Session) -> None:
    w = cw.build(db)
    error = _raises(Conflict, db, w.trader.user,
                    _shipping(w.trader, w.mill, "COC-EPCIS-0005", quantity=1, coc=1),
                    "no valid Performance or Chain of Custody certificate")
    assert error.details[0]["field"] == "eventTime"
    cw.produce(db, w.smelter, "asi_aluminium", 10_000, on=DAY)
    _raises(InvalidInput, db, w.smelter.user,
            _shipping(w.smelter, w.smelter, "COC-EPCIS-0006", quantity=1, coc=1),
            "not to its issuer")
    _raises(InvalidInput, db, w.smelter.user, _shipping(
        w.smelter, w.mill, "COC-EPCIS-0007", quantity=1, coc=1,
        sourceList=[{"type": "owning_party", "source": f"urn:stewardship:org:{w.mill.slug}"}]),
        "is not your organisation")


def test_receiving_by_the_wrong_party_is_refused(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 50_000, on=DAY)
    apply_event(db, w.smelter.user, _shipping(w.smelter, w.mill, "COC-EPCIS-0008"))
    _raises(NotFound, db, w.canmaker.user, _receiving(w.canmaker, "COC-EPCIS-0008"),
            "no CoC document")
    receipt = _receiving(w.mill, "COC-EPCIS-0008")
    del receipt["bizLocation"]
    _raises(Forbidden, db, w.smelter.user, receipt, "only the recipient")
    wrong = _receiving(w.mill, "COC-EPCIS-0008")
    wrong["destinationList"][0]["destination"] = f"urn:stewardship:org:{w.canmaker.slug}"
    _raises(Conflict, db, w.mill.user, wrong, "as recipient, not")
    partial = _receiving(w.mill, "COC-EPCIS-0008", **{"stw:cocQuantity": {
        "quantity": 19, "uom": "TNE"}})
    _raises(Conflict, db, w.mill.user, partial, "received whole or rejected")
    assert documents.get_document(db, w.mill.user, "COC-EPCIS-0008").status == "issued"


def test_only_members_move_the_ledger_and_no_error_declaration_does(db: Session) -> None:
    w = cw.build(db)
    event = _shipping(w.smelter, w.mill, "COC-EPCIS-0009")
    _raises(Forbidden, db, w.auditor, event, "may not move the custody ledger")
    event["errorDeclaration"] = {"declarationTime": f"{DAY.isoformat()}T11:00:00Z",
                                 "reason": "incorrect_data"}
    _raises(InvalidInput, db, w.smelter.user, event, "error declaration")


def test_the_event_date_is_the_local_date() -> None:
    late = {"eventTime": "2025-03-01T23:30:00Z", "eventTimeZoneOffset": "+02:00"}
    assert event_day(late) == date(2025, 3, 2)
    early = {"eventTime": "2025-03-01T02:00:00+00:00", "eventTimeZoneOffset": "-05:00"}
    assert event_day(early) == date(2025, 2, 28)
    assert event_day({"eventTime": "2025-03-01T12:00:00+09:00"}) == date(2025, 3, 1)
    with pytest.raises(InvalidInput, match="eventTime"):
        event_day({"eventTime": "yesterday", "eventTimeZoneOffset": "+00:00"})


# --- events outside the profile change nothing --------------------------------------------


def _ledger_size(db: Session) -> tuple[int, int]:
    return (db.scalar(select(func.count()).select_from(EventLogEntry)) or 0,
            db.scalar(select(func.count()).select_from(CustodyOperation)) or 0)


def _gs1_events() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(GS1_EXAMPLES.rglob("*.json*")):
        document = json.loads(path.read_text("utf-8"))
        body = document.get("epcisBody", {})
        events = body.get("eventList") or body.get("queryResults", {}).get(
            "resultsBody", {}).get("eventList") or []
        found.extend((path.name, e) for e in events)
    return found


@pytest.mark.skipif(not GS1_EXAMPLES.is_dir(),
                    reason=f"the GS1 EPCIS examples are not at {GS1_EXAMPLES}")
def test_the_official_gs1_examples_are_not_ledger_events(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 1_000, on=DAY)
    events = _gs1_events()
    assert len(events) > 40
    before = _ledger_size(db)
    effects = {(name, e.get("type")): apply_event(db, w.smelter.user, e) for name, e in events}
    assert set(effects.values()) == {None}
    assert _ledger_size(db) == before


def test_logistics_events_at_a_registered_facility_are_left_alone(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 1_000, on=DAY)
    before = _ledger_size(db)
    gtin_shipping = _base("ObjectEvent", action="OBSERVE", bizStep="shipping",
                          bizLocation=_facility(w.smelter),
                          quantityList=[{"epcClass": "urn:epc:class:lgtin:4012345.012345.9",
                                         "quantity": 200, "uom": "KGM"}])
    storing = _base("ObjectEvent", action="OBSERVE", bizStep="storing",
                    bizLocation=_facility(w.smelter), quantityList=[_q("asi_aluminium", 1)])
    packing = _base("AggregationEvent", action="ADD", bizStep="packing",
                    parentID="urn:epc:id:sscc:4012345.0000000001",
                    childQuantityList=[_q("asi_aluminium", 1)])
    for event in (gtin_shipping, storing, packing, {"type": "ObjectEvent"}, {}):
        assert apply_event(db, w.smelter.user, event) is None
    assert _ledger_size(db) == before
