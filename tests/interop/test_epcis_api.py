"""The /epcis REST bindings: problem documents, limits, single-event capture, the query
parameters and paging, and the access rule over HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor
from stewardship.interop.epcis import capture as service
from stewardship.interop.epcis.validation import Validation
from tests.interop.conftest import World, document, object_event

PROBLEM = "application/problem+json"
Clients = Callable[[Actor], TestClient]


def _problem(response: Any, status: int, type_: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["type"] == type_ and body["status"] == status
    assert body["title"] and body["detail"]
    return dict(body)


def _events(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return list(response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"])


def test_discovery_and_version_headers(client: TestClient) -> None:
    found = client.get("/epcis")
    assert found.status_code == 200
    assert found.json()["validation"]["mode"] in ("gs1-json-schema", "structural")
    for name in ("GS1-EPCIS-Version", "GS1-EPCIS-Min", "GS1-EPCIS-Max", "GS1-CBV-Version",
                 "GS1-CBV-Min", "GS1-CBV-Max"):
        assert found.headers[name] == "2.0.0"
    options = client.options("/epcis/capture")
    assert options.status_code == 204
    assert int(options.headers["GS1-EPCIS-Capture-Limit"]) > 0
    assert int(options.headers["GS1-EPCIS-Capture-File-Size-Limit"]) > 0


def test_anonymous_callers_and_auditors_are_refused(client: TestClient, world: World,
                                                    client_for: Clients) -> None:
    for response in (client.get("/epcis/events"), client.post("/epcis/capture", json={}),
                     client.get("/epcis/capture/x"), client.post("/epcis/events", json={})):
        _problem(response, 401, "epcisException:SecurityException")
    bad_token = TestClient(client.app, headers={"Authorization": "Bearer stw_nonsense"})
    _problem(bad_token.get("/epcis/events"), 401, "epcisException:SecurityException")
    auditor = client_for(world.auditor)
    _problem(auditor.post("/epcis/capture", json=document(object_event())), 403,
             "epcisException:SecurityException")
    assert _events(auditor.get("/epcis/events")) == []


def test_malformed_json_and_schema_violations_are_named(world: World,
                                                        client_for: Clients) -> None:
    member = client_for(world.a)
    broken = _problem(member.post("/epcis/capture", content=b'{"type": "EPCISDocument",',
                                  headers={"Content-Type": "application/json"}), 400,
                      "epcisException:ValidationException")
    assert "line 1" in broken["detail"]
    _problem(member.post("/epcis/capture", content=b"eventTime,action",
                         headers={"Content-Type": "text/csv"}), 415,
             "epcisException:UnsupportedMediaTypeException")
    bad = object_event(2, action="SHOUT", eventID="urn:uuid:00000000-0000-4000-8000-00000000000b")
    invalid = _problem(member.post("/epcis/capture", json=document(object_event(1), bad)), 400,
                       "epcisException:ValidationException")
    error = invalid["errors"][0]
    assert (error["eventIndex"], error["eventID"], error["path"]) == \
        (1, bad["eventID"], "/epcisBody/eventList/1/action")
    assert "event 1 (urn:uuid:" in error["detail"]
    not_a_document = _problem(member.post("/epcis/capture", json={"type": "Nonsense"}), 400,
                              "epcisException:ValidationException")
    assert not_a_document["errors"]
    assert _events(member.get("/epcis/events")) == []


def test_the_capture_limits_answer_413(app: FastAPI, world: World,
                                       client_for: Clients) -> None:
    settings = app.state.settings
    app.state.settings = settings.model_copy(update={"epcis_capture_max_bytes": 2000,
                                                     "epcis_capture_limit": 2})
    member = client_for(world.a)
    large = document(*(object_event(n) for n in range(1, 9)))
    too_big = member.post("/epcis/capture", json=large)
    _problem(too_big, 413, "epcisException:CaptureLimitExceededException")
    assert too_big.headers["GS1-EPCIS-Capture-File-Size-Limit"] == "2000"
    too_many = member.post("/epcis/capture", json=document(*(object_event(n)
                                                             for n in range(1, 4))))
    problem = _problem(too_many, 413, "epcisException:CaptureLimitExceededException")
    assert "3 events" in problem["detail"]
    assert too_many.headers["GS1-EPCIS-Capture-Limit"] == "2"


def test_proceed_over_http_reports_the_skipped_event(world: World, client_for: Clients,
                                                     run_jobs: Callable[[], int]) -> None:
    member = client_for(world.a)
    bad = object_event(2, action="SHOUT")
    accepted = member.post("/epcis/capture", json=document(object_event(1), bad),
                           headers={"GS1-Capture-Error-Behaviour": "proceed"})
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["running"] is True
    run_jobs()
    job = member.get(accepted.headers["location"]).json()
    assert (job["running"], job["success"], job["capturedCount"]) == (False, False, 1)
    assert {e["eventIndex"] for e in job["errors"]} == {1}
    assert len(_events(member.get("/epcis/events"))) == 1
    assert [j["captureID"] for j in member.get("/epcis/capture").json()] == \
        [accepted.json()["captureID"]]
    _problem(client_for(world.c).get(accepted.headers["location"]), 404,
             "epcisException:NoSuchResourceException")


def test_single_event_capture_201_then_409(world: World, client_for: Clients) -> None:
    member = client_for(world.a)
    event = {"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
             **object_event(7)}
    created = member.post("/epcis/events", json=event)
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    assert location == f"/epcis/events/{quote(created.json()['eventID'], safe='')}"
    again = _problem(member.post("/epcis/events", json=event), 409,
                     "epcisException:ResourceAlreadyExistsException")
    assert again["errors"][0]["eventID"] == created.json()["eventID"]
    fetched = member.get(location)
    assert fetched.json()["type"] == "EPCISQueryDocument"
    assert [e["eventID"] for e in _events(fetched)] == [created.json()["eventID"]]
    assert fetched.json()["@context"][0].endswith("epcis-context.jsonld")
    _problem(client_for(world.b).get(location), 404, "epcisException:NoSuchResourceException")
    _problem(member.post("/epcis/events", json=object_event(8)), 400,
             "epcisException:ValidationException")  # no @context


@pytest.fixture
def captured(db: Session, world: World, validation: Validation) -> list[str]:
    events = [
        object_event(1, bizLocation={"id": "urn:stewardship:facility:NO2024FT1F3YK"},
                     eventTime="2024-05-01T08:00:00+02:00", eventTimeZoneOffset="+02:00"),
        object_event(2, bizStep="receiving",
                     disposition="in_progress",
                     quantityList=[{"epcClass": "urn:epc:class:lgtin:4012345.012345.998877",
                                    "quantity": 200, "uom": "KGM"}]),
        {"type": "TransformationEvent", "eventTime": "2024-06-01T00:00:00Z",
         "eventTimeZoneOffset": "+00:00", "transformationID": "urn:uuid:cast-4711",
         "inputQuantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.099999.7",
                                "quantity": 1930, "uom": "KGM"}],
         "outputEPCList": ["urn:epc:id:sgtin:4012345.077889.25"],
         "readPoint": {"id": "urn:stewardship:facility:NO2024FT1F3YK"}},
        {"type": "AggregationEvent", "eventTime": "2024-07-01T00:00:00Z",
         "eventTimeZoneOffset": "+00:00", "action": "ADD",
         "parentID": "urn:epc:id:sscc:4012345.1112223334",
         "childEPCs": ["urn:epc:id:sgtin:0614141.107346.99"]},
    ]
    result = service.capture_document(db, world.a, document(*events), validation=validation)
    assert result.success, result.errors
    return result.event_ids


QUERIES: list[tuple[dict[str, str], list[int]]] = [
    ({}, [0, 1, 2, 3]),
    ({"eventType": "ObjectEvent"}, [0, 1]),
    ({"eventType": "TransformationEvent|AggregationEvent"}, [2, 3]),
    ({"GE_eventTime": "2024-05-01T06:00:00Z", "LT_eventTime": "2024-06-01T00:00:00Z"},
     [0, 1]),
    ({"GE_eventTime": "2024-05-01T10:00:03Z"}, [2, 3]),
    ({"GE_recordTime": "2000-01-01T00:00:00Z"}, [0, 1, 2, 3]),
    ({"LT_recordTime": "2000-01-01T00:00:00Z"}, []),
    ({"EQ_bizStep": "urn:epcglobal:cbv:bizstep:receiving"}, [1]),
    ({"EQ_bizStep": "https://ref.gs1.org/cbv/BizStep-shipping"}, [0]),
    ({"EQ_disposition": "in_progress|in_transit"}, [0, 1]),
    ({"EQ_bizLocation": "urn:stewardship:facility:NO2024FT1F3YK"}, [0]),
    ({"EQ_readPoint": "urn:stewardship:facility:NO2024FT1F3YK"}, [2]),
    ({"MATCH_epcClass": "urn:epc:class:lgtin:4012345.012345.998877"}, [1]),
    ({"MATCH_epcClass": "urn:epc:idpat:sgtin:4012345.012345.*"}, [1]),
    ({"MATCH_anyEPCClass": "urn:epc:class:lgtin:4012345.099999.7"}, [2]),
    ({"MATCH_epcClass": "urn:epc:class:lgtin:4012345.099999.7"}, []),
    ({"MATCH_anyEPC": "urn:epc:id:sgtin:4012345.077889.25"}, [2]),
    ({"MATCH_anyEPC": "urn:epc:id:sscc:4012345.1112223334"}, [3]),
    ({"MATCH_anyEPC": "urn:epc:idpat:sgtin:0614141.107346.*"}, [0, 1, 3]),
    ({"MATCH_epc": "urn:epc:id:sgtin:0614141.107346.99"}, [3]),
    ({"EQ_transformationID": "urn:uuid:cast-4711"}, [2]),
    ({"EQ_action": "ADD"}, [3]),
    ({"eventType": "ObjectEvent", "EQ_bizStep": "shipping"}, [0]),
]


def test_query_parameters(captured: list[str], world: World, client_for: Clients) -> None:
    member = client_for(world.a)
    wrong = []
    for params, expected in QUERIES:
        found = [e["eventID"] for e in _events(member.get("/epcis/events", params=params))]
        if found != [captured[i] for i in expected]:
            wrong.append((params, [captured.index(f) for f in found], expected))
    assert wrong == []


def test_paging_follows_the_link_header(captured: list[str], world: World,
                                        client_for: Clients) -> None:
    member = client_for(world.a)
    seen: list[str] = []
    response = member.get("/epcis/events", params={"perPage": 3})
    while True:
        seen += [e["eventID"] for e in _events(response)]
        link = response.headers.get("link")
        if not link:
            break
        assert link.endswith('>; rel="next"')
        response = member.get(link[1:link.index(">")])
    assert seen == captured
    _problem(member.get("/epcis/events", params={"EQ_nonsense": "x"}), 400,
             "epcisException:QueryParameterException")
    _problem(member.get("/epcis/events", params={"perPage": 0}), 400,
             "epcisException:QueryParameterException")


def test_parties_named_see_the_event_over_http(db: Session, world: World, client_for: Clients,
                                                validation: Validation) -> None:
    shipped = object_event(1, sourceList=[
        {"type": "owning_party", "source": f"urn:stewardship:org:{world.a_slug}"}],
        destinationList=[{"type": "owning_party",
                          "destination": f"urn:stewardship:org:{world.b_slug}"}])
    event_id = service.capture_document(db, world.a, document(shipped),
                                        validation=validation).event_ids[0]
    path = f"/epcis/events/{quote(event_id, safe='')}"
    assert client_for(world.b).get(path).status_code == 200
    assert client_for(world.secretariat).get(path).status_code == 200
    _problem(client_for(world.c).get(path), 404, "epcisException:NoSuchResourceException")
    assert json.dumps(_events(client_for(world.b).get("/epcis/events"))).count(event_id) == 1


def test_a_guessed_event_id_reveals_nothing_and_blocks_no_one(world: World,
                                                              client_for: Clients) -> None:
    a, b = client_for(world.a), client_for(world.b)
    context = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
    event_id = "urn:uuid:3c2e8f0a-7d41-4b6e-9f12-0a9b8c7d6e5f"
    mine = {"@context": context, **object_event(11, eventID=event_id)}
    created = a.post("/epcis/events", json=mine)
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    # B reading A's id and reading an id nobody used get the same answer.
    unknown = "/epcis/events/" + quote("urn:uuid:00000000-0000-4000-8000-000000000000",
                                       safe="")
    seen = _problem(b.get(location), 404, "epcisException:NoSuchResourceException")
    never = _problem(b.get(unknown), 404, "epcisException:NoSuchResourceException")
    assert seen["title"] == never["title"]
    # B capturing the same id succeeds as B's own event: no 409 to learn from.
    theirs = {"@context": context, **object_event(12, eventID=event_id,
                                                  bizStep="receiving")}
    again = b.post("/epcis/events", json=theirs)
    assert again.status_code == 201, again.text
    assert again.headers["location"] == location
    assert [e["bizStep"] for e in _events(b.get(location))] == ["receiving"]
    assert [e["bizStep"] for e in _events(a.get(location))] == ["shipping"]
    assert [e["bizStep"] for e in _events(a.get("/epcis/events",
                                                params={"EQ_eventID": event_id}))] == [
        "shipping"]
    _problem(b.post("/epcis/events", json=theirs), 409,
             "epcisException:ResourceAlreadyExistsException")
