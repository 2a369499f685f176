"""Named queries (/epcis/queries) against GS1's REST bindings and query schema: create,
list by page, read, run with the caller's visibility, delete; another member's query does
not exist for you; bad bodies and subscription requests are problem documents."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from stewardship.core.auth import Actor
from stewardship.interop.epcis.schedule import FIELDS
from tests.interop.conftest import CONFORMANCE, World, needs_conformance, object_event

PROBLEM = "application/problem+json"
Clients = Callable[[Actor], TestClient]
REST = CONFORMANCE / "REST-Bindings" if CONFORMANCE else None


def _problem(response: Any, status: int, type_: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    if type_ is not None:
        assert body["type"] == type_, body
    return dict(body)


def _event_ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "EPCISQueryDocument"
    return [e["eventID"] for e in body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]]


def _capture(client: TestClient, n: int, **extra: Any) -> str:
    event = {"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
             **object_event(n, **extra)}
    response = client.post("/epcis/events", json=event)
    assert response.status_code == 201, response.text
    return str(response.json()["eventID"])


SHIPPING = {"eventType": ["ObjectEvent"], "EQ_bizStep": ["shipping"]}


@needs_conformance
def test_a_named_query_is_created_read_listed_run_and_deleted(world: World,
                                                              client_for: Clients) -> None:
    a, b = client_for(world.a), client_for(world.b)
    shipped = _capture(a, 1)
    _capture(a, 2, bizStep="receiving")
    others = _capture(b, 3)  # B's shipping event: A may not see it
    created = a.post("/epcis/queries", json={"name": "shipped", "query": SHIPPING})
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/epcis/queries/shipped"
    assert a.get("/epcis/queries/shipped").json()["query"] == SHIPPING
    assert _event_ids(a.get("/epcis/queries/shipped/events")) == [shipped]
    b.post("/epcis/queries", json={"name": "shipped", "query": SHIPPING})  # B's own
    assert _event_ids(b.get("/epcis/queries/shipped/events")) == [others]
    for name in ("b-query", "c-query"):
        assert a.post("/epcis/queries", json={"name": name, "query": {}}).status_code == 201
    first = a.get("/epcis/queries", params={"perPage": 2})
    assert [q["name"] for q in first.json()] == ["b-query", "c-query"]
    link = first.headers["link"]
    assert link.endswith('>; rel="next"') and "nextPageToken=" in link
    second = a.get(link[1:link.index(">")])
    assert [q["name"] for q in second.json()] == ["shipped"]
    assert "link" not in second.headers
    assert a.delete("/epcis/queries/shipped").status_code == 204
    _problem(a.get("/epcis/queries/shipped"), 404, "epcisException:NoSuchResourceException")
    assert _event_ids(b.get("/epcis/queries/shipped/events")) == [others]  # B's remains


@needs_conformance
def test_a_named_query_pages_its_events(world: World, client_for: Clients) -> None:
    a = client_for(world.a)
    ids = [_capture(a, n) for n in range(1, 4)]
    a.post("/epcis/queries", json={"name": "all", "query": {}})
    first = a.get("/epcis/queries/all/events", params={"perPage": 2})
    assert _event_ids(first) == ids[:2]
    link = first.headers["link"]
    assert _event_ids(a.get(link[1:link.index(">")])) == ids[2:]


@needs_conformance
def test_another_members_query_is_not_found(world: World, client_for: Clients) -> None:
    a, b = client_for(world.a), client_for(world.b)
    a.post("/epcis/queries", json={"name": "mine", "query": SHIPPING})
    for response in (b.get("/epcis/queries/mine"), b.get("/epcis/queries/mine/events"),
                     b.delete("/epcis/queries/mine"),
                     b.get("/epcis/queries/mine/subscriptions"),
                     b.post("/epcis/queries/mine/subscriptions",
                            json={"dest": "https://example.com/hook", "stream": True})):
        _problem(response, 404)
    assert b.get("/epcis/queries").json() == []
    assert a.get("/epcis/queries/mine").status_code == 200
    _problem(client_for(world.auditor).get("/epcis/queries"), 403)
    _problem(TestClient(a.app).get("/epcis/queries"), 401)


@needs_conformance
@pytest.mark.parametrize(("body", "pointer"), [
    ({"query": SHIPPING}, "#/name"),
    ({"name": "has space", "query": SHIPPING}, "#/name"),
    ({"name": "q"}, "#/query"),
    ({"name": "q", "query": {"EQ_action": ["JUMP"]}}, "#/query/EQ_action/0"),  # GS1 schema
    ({"name": "q", "query": {"GE_eventTime": "yesterday"}}, "#/query/GE_eventTime"),
    ({"name": "q", "query": {"HASATTR_epcList": ["x"]}}, None),  # not run on EPCs here
    ({"name": "q", "query": SHIPPING, "owner": "x"}, "#/owner"),
    ([1, 2], None),
])
def test_a_bad_query_body_is_a_problem_naming_the_field(
        world: World, client_for: Clients, body: Any, pointer: str | None) -> None:
    a = client_for(world.a)
    problem = _problem(a.post("/epcis/queries", json=body), 400)
    assert problem["type"] in ("epcisException:QueryParameterException",
                               "epcisException:ValidationException")
    if pointer is not None:
        assert problem["instance"] == pointer, problem
    assert a.get("/epcis/queries").json() == []  # nothing was saved


@needs_conformance
def test_a_query_name_is_unique_per_owner_and_bodies_must_be_json(world: World,
                                                                  client_for: Clients) -> None:
    a = client_for(world.a)
    assert a.post("/epcis/queries", json={"name": "q", "query": {}}).status_code == 201
    _problem(a.post("/epcis/queries", json={"name": "q", "query": {}}), 409)
    _problem(a.post("/epcis/queries", content=b"{", headers={
        "content-type": "application/json"}), 400)
    _problem(a.post("/epcis/queries", content=b"name=q", headers={
        "content-type": "application/x-www-form-urlencoded"}), 415)
    _problem(a.get("/epcis/queries/q/events", params={"EQ_bizStep": "shipping"}), 400)


@needs_conformance
def test_the_schedule_fields_are_gs1s_and_the_query_schema_is_checked() -> None:
    assert REST is not None
    schedule = json.loads((REST / "query-schedule.json").read_text("utf-8"))
    assert [name for name, _, _ in FIELDS] == list(schedule["properties"])
    spec = yaml.safe_load((REST / "openapi.yaml").read_text("utf-8"))
    for path in ("/queries", "/queries/{queryName}", "/queries/{queryName}/events",
                 "/queries/{queryName}/subscriptions",
                 "/queries/{queryName}/subscriptions/{subscriptionID}"):
        assert path in spec["paths"]


@needs_conformance
@pytest.mark.parametrize(("body", "pointer"), [
    ({"dest": "https://example.com/hook"}, "#/stream"),  # neither stream nor schedule
    ({"dest": "https://example.com/hook", "stream": True, "schedule": {"minute": "5"}},
     "#/stream"),
    ({"dest": "https://example.com/hook", "schedule": {"minute": "[5-70]"}},
     "#/schedule/minute"),
    ({"dest": "https://example.com/hook", "schedule": {"minute": "five"}}, "#/schedule/minute"),
    ({"dest": "https://example.com/hook", "schedule": {"fortnight": "1"}},
     "#/schedule/fortnight"),
    ({"dest": "ftp://example.com/hook", "stream": True}, "#/dest"),
    ({"dest": "https://user:pw@example.com/hook", "stream": True}, "#/dest"),
    ({"dest": "http://127.0.0.1:9/hook", "stream": True}, "#/dest"),  # loopback
    ({"dest": "http://10.1.2.3/hook", "stream": True}, "#/dest"),  # private
    ({"dest": "http://169.254.169.254/latest", "stream": True}, "#/dest"),  # link-local
    ({"dest": "http://[::1]/hook", "stream": True}, "#/dest"),
    ({"dest": "http://localhost/hook", "stream": True}, "#/dest"),
    ({"stream": True}, "#/dest"),
    ({"dest": "https://example.com/hook", "stream": True, "signatureToken": 5},
     "#/signatureToken"),
])
def test_a_bad_subscription_is_a_problem_and_subscribes_nothing(
        world: World, client_for: Clients, body: dict[str, Any], pointer: str) -> None:
    a = client_for(world.a)
    a.post("/epcis/queries", json={"name": "q", "query": SHIPPING})
    problem = _problem(a.post("/epcis/queries/q/subscriptions", json=body), 400,
                       "epcisException:SubscriptionControlsException")
    assert problem["instance"] == pointer
    assert a.get("/epcis/queries/q/subscriptions").json() == []


@needs_conformance
def test_a_destination_outside_the_allow_list_is_refused(world: World, client_for: Clients,
                                                         app: Any) -> None:
    app.state.settings = app.state.settings.model_copy(update={
        "epcis_webhook_allowed_hosts": ["hooks.example.com", "*.example.net",
                                        "93.184.215.0/24"]})
    a = client_for(world.a)
    a.post("/epcis/queries", json={"name": "q", "query": SHIPPING})
    problem = _problem(a.post("/epcis/queries/q/subscriptions", json={
        "dest": "https://example.org/hook", "stream": True}), 400)
    assert "not among the destinations" in problem["detail"]
    for dest in ("https://hooks.example.com/in", "https://a.example.net/in",
                 "http://93.184.215.14/in"):
        made = a.post("/epcis/queries/q/subscriptions",
                      json={"dest": dest, "stream": True, "signatureToken": "s3cret"})
        assert made.status_code == 201, made.text
        assert "s3cret" not in made.text and made.json()["signed"] is True
        assert made.headers["location"].endswith(made.json()["subscriptionID"])
    listed = a.get("/epcis/queries/q/subscriptions").json()
    assert len(listed) == 3 and all("signatureToken" not in s for s in listed)
    one = listed[0]["subscriptionID"]
    shown = a.get(f"/epcis/queries/q/subscriptions/{one}").json()
    assert shown["deliveries"] == [] and shown["stream"] is True
    assert a.delete(f"/epcis/queries/q/subscriptions/{one}").status_code == 204
    _problem(a.get(f"/epcis/queries/q/subscriptions/{one}"), 404)
    _problem(a.get("/epcis/queries/q/subscriptions/not-an-id"), 404)
