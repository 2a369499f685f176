"""EPCIS events captured over HTTP from members in every time zone: an eventTime is "in the
future" only when its instant is after the present one, whatever its offset, and the
operation is dated by the day where it happened.

Most cases stand at 10:30 UTC on TODAY, when UTC-11 (Niue) still has the day before and
UTC+14 (the Line Islands) already the next day; one is the case members east of UTC met:
an event at 05:01 +08:00, captured at 21:21 UTC the evening before in UTC's calendar."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor
from stewardship.core.pagination import PageParams
from stewardship.custody.service import reads
from stewardship.interop.profile import CONTEXT
from tests import custody_world as cw
from tests.today import TODAY, stopped_at

Clients = Callable[[Actor], TestClient]
EPCIS_CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", CONTEXT]
MORNING = datetime.combine(TODAY, time(10, 30), UTC)
EVENING = datetime.combine(TODAY, time(21, 21), UTC)
YESTERDAY, TOMORROW = TODAY - timedelta(days=1), TODAY + timedelta(days=1)


def _commissioning(m: cw.Member, event_time: str, offset: str, n: int) -> dict[str, Any]:
    return {"@context": EPCIS_CONTEXT, "type": "ObjectEvent", "action": "ADD",
            "eventID": f"urn:uuid:7a1c0e00-0000-4000-8000-{n:012d}",
            "eventTime": event_time, "eventTimeZoneOffset": offset,
            "bizStep": "commissioning",
            "bizLocation": {"id": f"urn:stewardship:facility:{m.facility}"},
            "quantityList": [{"epcClass": "urn:stewardship:material:asi_aluminium",
                              "quantity": 2, "uom": "TNE"}]}


def _productions(db: Session, m: cw.Member) -> list[tuple[date, int]]:
    page = reads.list_operations(db, m.user, m.entity_id, PageParams(1, 50), kind="production")
    return [(op.occurred_on, op.kilograms) for op in page.items]


def _smelter(db: Session, w: cw.Chain, client_for: Clients, country: str,
             zone: str | None) -> cw.Member:
    """A certified smelter in ``country``, its facility's zone set by its admin when given
    (else its country's)."""
    m = cw.add_member(db, w, f"Offset Smelting {country}", country, ["smelting"])
    if zone is not None:
        changed = client_for(m.admin).patch(f"/api/v1/registry/facilities/{m.facility}",
                                            json={"time_zone": zone})
        assert changed.status_code == 200, changed.text
    return m


def _at(day: date, clock_time: str) -> str:
    return f"{day.isoformat()}T{clock_time}"


# (the moment of capture, the facility's country and the zone its admin sets (None: the
# country's: Pacific/Niue, Atlantic/Reykjavik at UTC all year, Asia/Shanghai), eventTime,
# its offset, the day the production is recorded on, or None when the event is refused as
# not yet happened)
CASES = [
    (MORNING, "NU", None, _at(YESTERDAY, "23:20:00-11:00"), "-11:00", YESTERDAY),
    (MORNING, "NU", None, _at(YESTERDAY, "23:40:00-11:00"), "-11:00", None),
    (MORNING, "IS", None, _at(TODAY, "10:20:00Z"), "+00:00", TODAY),
    (MORNING, "IS", None, _at(TODAY, "10:40:00Z"), "+00:00", None),
    (MORNING, "KI", "Pacific/Kiritimati", _at(TOMORROW, "00:20:00+14:00"), "+14:00", TOMORROW),
    (MORNING, "KI", "Pacific/Kiritimati", _at(TOMORROW, "00:40:00+14:00"), "+14:00", None),
    (MORNING, "KI", "Pacific/Kiritimati", _at(TODAY, "10:20:00Z"), "+14:00", TOMORROW),
    (EVENING, "CN", None, _at(TOMORROW, "05:01:00+08:00"), "+08:00", TOMORROW),
]
IDS = ["UTC-11 past", "UTC-11 ahead", "UTC past", "UTC ahead", "UTC+14 past",
       "UTC+14 ahead", "UTC+14 instant in Z", "05:01 +08:00 at 21:21 UTC"]


@pytest.mark.parametrize(("moment", "country", "zone", "event_time", "offset", "day"), CASES,
                         ids=IDS)
def test_an_event_is_refused_only_before_it_has_happened(
        db: Session, client_for: Clients, moment: datetime, country: str, zone: str | None,
        event_time: str, offset: str, day: date | None) -> None:
    w = cw.build(db)
    m = _smelter(db, w, client_for, country, zone)
    member = client_for(m.user)
    with stopped_at(moment):
        response = member.post("/epcis/events", json=_commissioning(m, event_time, offset, 1))
    if day is not None:
        assert response.status_code == 201, response.text
        assert _productions(db, m) == [(day, 2_000)]
        return
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["type"] == "epcisException:ValidationException"
    assert f"eventTime {event_time} is after the present instant" in problem["detail"]
    assert problem["errors"][0]["eventIndex"] == 0
    assert _productions(db, m) == []
    assert member.get("/epcis/events").json()["epcisBody"]["queryResults"]["resultsBody"][
        "eventList"] == []
