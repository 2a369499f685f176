"""JSON-LD negotiation under /epcis: a client asking for ``application/ld+json`` gets every
JSON answer labelled so, each object carrying its ``@context``; plain ``application/json``
is answered as before; problem documents stay ``application/problem+json``; a type the
repository cannot send is still 406; capture takes ``Content-Type: application/ld+json``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from stewardship.core.auth import Actor
from stewardship.interop import rules
from stewardship.interop.epcis.problems import prefers_json_ld
from tests.interop.conftest import World, document, needs_conformance, object_event

Clients = Callable[[Actor], TestClient]
LD = {"Accept": "application/ld+json"}
STANDARD = rules.STANDARD_CONTEXT
SHIPPING = {"eventType": ["ObjectEvent"], "EQ_bizStep": ["shipping"]}


def _ld(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == "application/ld+json"
    assert response.headers["GS1-EPCIS-Version"] == "2.0.0"
    body = json.loads(response.content)
    for item in body if isinstance(body, list) else [body]:
        context = item["@context"]
        assert STANDARD in (context if isinstance(context, list) else [context]), item
    return body


def _plain(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == "application/json"
    return response.json()


def _captured(member: TestClient, n: int, content_type: str = "application/ld+json") -> str:
    event = {"@context": [STANDARD], **object_event(n)}
    answer = member.post("/epcis/events", content=json.dumps(event),
                         headers={"Content-Type": content_type, **LD})
    body = _ld(answer, 201)
    assert answer.headers["location"].startswith("/epcis/events/")
    return str(body["eventID"])


@needs_conformance
def test_every_json_route_answers_json_ld_when_asked(world: World, client_for: Clients,
                                                     run_jobs: Callable[[], int]) -> None:
    member = client_for(world.a)
    event_id = _captured(member, 1)
    # Capture of a document sent as JSON-LD: the job comes back as JSON-LD too.
    accepted = member.post("/epcis/capture", content=json.dumps(document(object_event(2))),
                           headers={"Content-Type": "application/ld+json", **LD})
    job = _ld(accepted, 202)
    assert job["captureID"] and accepted.headers["location"] == f"/epcis/capture/{job['captureID']}"
    assert run_jobs() == 1
    assert _ld(member.get(f"/epcis/capture/{job['captureID']}", headers=LD))["success"] is True
    jobs = _ld(member.get("/epcis/capture", headers=LD))
    assert [j["captureID"] for j in jobs] == [job["captureID"]]

    events = _ld(member.get("/epcis/events", headers=LD))
    listed = events["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert len(listed) == 2 and event_id in [e["eventID"] for e in listed]
    one = _ld(member.get(f"/epcis/events/{quote(event_id, safe='')}", headers=LD))
    assert one["type"] == "EPCISQueryDocument"
    assert _ld(member.get("/epcis", headers=LD))["type"] == "Collection"
    epc = quote("urn:epc:id:sgtin:0614141.107346.1", safe="")
    assert "urn:epc:id:sgtin:0614141.107346.1" in _ld(member.get("/epcis/epcs",
                                                                 headers=LD))["member"]
    assert _ld(member.get(f"/epcis/epcs/{epc}", headers=LD))["member"] == ["events"]
    assert _ld(member.get(f"/epcis/epcs/{epc}/events", headers=LD))["type"] == \
        "EPCISQueryDocument"

    made = member.post("/epcis/queries", content=json.dumps({"name": "q", "query": SHIPPING}),
                       headers={"Content-Type": "application/ld+json", **LD})
    assert _ld(made, 201)["name"] == "q"
    assert [q["name"] for q in _ld(member.get("/epcis/queries", headers=LD))] == ["q"]
    assert _ld(member.get("/epcis/queries/q", headers=LD))["name"] == "q"
    ran = _ld(member.get("/epcis/queries/q/events", headers=LD))
    assert len(ran["epcisBody"]["queryResults"]["resultsBody"]["eventList"]) == 2
    sub = member.post("/epcis/queries/q/subscriptions", headers=LD,
                      json={"dest": "https://example.com/hook", "stream": True})
    subscription = _ld(sub, 201)
    assert [s["subscriptionID"] for s in _ld(member.get("/epcis/queries/q/subscriptions",
                                                        headers=LD))] == \
        [subscription["subscriptionID"]]
    shown = _ld(member.get(sub.headers["location"], headers=LD))
    assert shown["deliveries"] == []
    # No body: nothing to label.
    deleted = member.delete(sub.headers["location"], headers=LD)
    assert deleted.status_code == 204 and not deleted.content


@needs_conformance
def test_plain_json_stays_plain_and_the_context_is_not_invented(world: World,
                                                                client_for: Clients) -> None:
    member = client_for(world.a)
    event_id = _captured(member, 1, content_type="application/json")
    for accept in (None, "application/json", "*/*", "application/json, application/ld+json",
                   "application/ld+json;q=0.5, application/json"):
        headers = {"Accept": accept} if accept else {}
        job = member.get("/epcis/capture", headers=headers)
        assert _plain(job) == []
        body = _plain(member.get(f"/epcis/events/{quote(event_id, safe='')}", headers=headers))
        assert body["@context"]
        created = _plain(member.post("/epcis/queries", headers=headers,
                                     json={"name": f"q{len(accept or '')}", "query": SHIPPING}),
                         201)
        assert "@context" not in created  # plain JSON is answered as it always was
    # An object that has its own context keeps it, and GS1's is not added twice.
    event = {"@context": [STANDARD, {"ex": "https://example.org/ex/"}],
             **object_event(3, **{"ex:colour": "red"})}
    captured = member.post("/epcis/events", json=event)
    read = _ld(member.get(f"/epcis/events/{quote(captured.json()['eventID'], safe='')}",
                          headers=LD))
    assert read["@context"].count(STANDARD) == 1
    assert {"ex": "https://example.org/ex/"} in read["@context"]


@needs_conformance
def test_errors_stay_problem_documents_and_unsupported_types_are_406(
        world: World, client_for: Clients) -> None:
    member = client_for(world.a)
    for answer, status in ((member.get("/epcis/events/urn%3Anone", headers=LD), 404),
                           (member.get("/epcis/nonsense", headers=LD), 404),
                           (member.post("/epcis/events", content=b"{", headers={
                               "Content-Type": "application/ld+json", **LD}), 400),
                           (member.get("/epcis/events", headers={
                               "Accept": "application/ld+json;q=0"}), 406),
                           (member.get("/epcis/events", headers={"Accept": "text/html"}), 406),
                           (member.post("/epcis/events", content=b"<x/>", headers={
                               "Content-Type": "text/html", **LD}), 415)):
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert "@context" not in answer.json()
    # XML asked above JSON-LD on a route that sends XML: XML it is.
    xml = member.get("/epcis/events", headers={
        "Accept": "application/xml, application/ld+json;q=0.5"})
    assert xml.status_code == 200 and xml.headers["content-type"].startswith("application/xml")


@pytest.mark.parametrize(("accept", "wanted"), [
    ("application/ld+json", True),
    ("application/ld+json;profile=\"https://www.w3.org/ns/json-ld#compacted\"", True),
    ("application/json;q=0.5, application/ld+json", True),
    ("application/json", False),
    ("application/ld+json, application/json", False),
    ("*/*", False),
    ("application/ld+json;q=0", False),
    ("application/xml, application/ld+json;q=0.9", False),
    ("", False),
])
def test_which_accept_headers_ask_for_json_ld(accept: str, wanted: bool) -> None:
    assert prefers_json_ld(accept) is wanted
