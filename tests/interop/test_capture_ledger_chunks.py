"""A capture that moves the ledger event after event, as one chunk of a ``proceed`` job
does: good and refused events side by side each keep their own effect or refusal, the
facilities named again and again are looked up once, ``rollback`` keeps nothing, and
the conservation audit is clean after."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stewardship.core.pagination import PageParams
from stewardship.custody.models import CustodyOperation
from stewardship.custody.service import audit, reads
from stewardship.interop.epcis.capture import PROCEED, ROLLBACK, CaptureRejected, capture_document
from stewardship.interop.models import EpcisEvent
from stewardship.interop.profile import CONTEXT
from tests import custody_world as cw
from tests.today import TODAY

DAY = TODAY.replace(day=1) if TODAY.day > 2 else TODAY
CONTEXT_LIST = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", CONTEXT]
ALL = PageParams(1, 100)


def _q(material: str, kg: int) -> dict[str, Any]:
    return {"epcClass": f"urn:stewardship:material:{material}", "quantity": kg, "uom": "KGM"}


def _at(facility: str) -> dict[str, str]:
    return {"id": f"urn:stewardship:facility:{facility}"}


def _event(n: int, kind: str, day: date = DAY, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "eventID": f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
            "eventTime": f"{day.isoformat()}T10:00:00.000Z", "eventTimeZoneOffset": "+00:00",
            **fields}


def _commission(n: int, facility: str, kg: int) -> dict[str, Any]:
    return _event(n, "ObjectEvent", action="ADD", bizStep="commissioning",
                  bizLocation=_at(facility), quantityList=[_q("asi_bauxite", kg)])


def _refine(n: int, facility: str, kg: int, out: int) -> dict[str, Any]:
    return _event(n, "TransformationEvent", bizStep="commissioning", bizLocation=_at(facility),
                  inputQuantityList=[_q("asi_bauxite", kg)],
                  outputQuantityList=[_q("asi_alumina", out)])


def _document(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {"@context": CONTEXT_LIST, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": f"{DAY.isoformat()}T12:00:00Z", "epcisBody": {"eventList": events}}


def _balance(db: Session, m: cw.Member, material: str) -> int:
    page = reads.list_accounts(db, m.user, ALL, entity_id=m.entity_id)
    return sum(a.balance_kg for a in page.items
               if a.material.value == material and a.status == "open")


def _operations(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(CustodyOperation)) or 0)


def _mixed(w: cw.Chain) -> list[dict[str, Any]]:
    mine = w.mine.facility
    return [
        _commission(1, mine, 5_000),                 # good: 5,000 kg of bauxite
        _refine(2, mine, 9_000, 4_000),              # refused: only 5,000 kg held
        _commission(3, w.smelter.facility, 1_000),   # refused: not the mine's facility
        _refine(4, mine, 4_000, 1_800),              # good: 1,000 kg of bauxite left
        _commission(5, mine, 2_000),                 # good
        _commission(6, w.smelter.facility, 1_000),   # refused again, for the same reason
        _refine(7, mine, 3_000, 1_350),              # good: uses all 3,000 kg
    ]


def test_a_proceed_chunk_keeps_each_ledger_events_own_effect(db: Session) -> None:
    w = cw.build(db)
    before = _operations(db)
    result = capture_document(db, w.mine.user, _document(_mixed(w)), PROCEED,
                              indexes=range(0, 200))
    assert result.captured == 4
    assert [e["eventIndex"] for e in result.errors] == [1, 2, 5]
    assert "exceed" in result.errors[0]["detail"] or "balance" in result.errors[0]["detail"]
    assert result.errors[1]["path"] == result.errors[2]["path"].replace("/5/", "/2/")
    assert all(w.smelter.facility in e["detail"] for e in result.errors[1:])
    effects = {e["eventIndex"]: e["effect"] for e in result.effects}
    assert sorted(effects) == [0, 3, 4, 6]
    assert "production" in effects[0] and "5000 kg" in effects[0]
    assert "refining" in effects[3] and "production" in effects[4]
    assert [e["eventID"] for e in result.effects] == [
        _mixed(w)[i]["eventID"] for i in (0, 3, 4, 6)]
    db.flush()
    assert _operations(db) == before + 4
    assert _balance(db, w.mine, "asi_bauxite") == 0
    assert _balance(db, w.mine, "asi_alumina") == 1_800 + 1_350
    stored = set(db.scalars(select(EpcisEvent.event_id)))
    assert {e["eventID"] for e in _mixed(w)} & stored == {
        _mixed(w)[i]["eventID"] for i in (0, 3, 4, 6)}
    assert audit.audit(db, w.secretariat).ok


def test_a_rollback_capture_of_ledger_events_keeps_nothing(db: Session) -> None:
    w = cw.build(db)
    before, events = _operations(db), int(db.scalar(select(func.count(EpcisEvent.id))) or 0)
    with pytest.raises(CaptureRejected) as refused:
        capture_document(db, w.mine.user, _document(_mixed(w)), ROLLBACK)
    assert refused.value.errors[0]["eventIndex"] == 1
    db.flush()
    assert _operations(db) == before
    assert int(db.scalar(select(func.count(EpcisEvent.id))) or 0) == events
    assert _balance(db, w.mine, "asi_bauxite") == 0
    assert audit.audit(db, w.secretariat).ok
    # The same document without its faults is captured whole.
    good = [e for i, e in enumerate(_mixed(w)) if i not in (1, 2, 5)]
    result = capture_document(db, w.mine.user, _document(good), ROLLBACK)
    assert (result.captured, len(result.effects)) == (4, 4)
    assert audit.audit(db, w.secretariat).ok
