"""The SimpleEventQuery result controls on GET /epcis/events: orderBy (eventTime,
recordTime) and orderDirection (DESC by default) across pages, eventCountLimit cutting
the ordered result, maxEventCount refusing a larger one with QueryTooLargeException, and
the combinations GS1 forbids."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import pytest
from fastapi.testclient import TestClient

from stewardship.core.auth import Actor
from tests.interop.conftest import World, document, object_event

Clients = Callable[[Actor], TestClient]
PARAMETER = "epcisException:QueryParameterException"
# Captured in this order; event times are not in capture order.
TIMES = {1: "2024-05-01T10:00:03Z", 2: "2024-05-01T09:00:00Z", 3: "2024-05-01T12:00:00Z",
         4: "2024-05-01T11:00:00+02:00", 5: "2024-05-01T10:00:03Z"}


@pytest.fixture
def member(world: World, client_for: Clients, run_jobs: Callable[[], int]) -> TestClient:
    client = client_for(world.a)
    for n, when in TIMES.items():  # one capture each: record times follow this order
        accepted = client.post("/epcis/capture", json=document(object_event(
            n, eventID=f"urn:test:o:{n}", eventTime=when)))
        assert accepted.status_code == 202, accepted.text
        run_jobs()
    return client


def pages(client: TestClient, **params: Any) -> list[list[str]]:
    """The eventIDs of each page, following the Link headers."""
    out: list[list[str]] = []
    query: list[tuple[str, str]] = [(k, str(v)) for k, v in params.items()]
    while True:
        response = client.get("/epcis/events", params=query)
        assert response.status_code == 200, response.text
        found = response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        out.append([e["eventID"] for e in found])
        link = response.headers.get("link")
        if not link:
            return out
        target = link.split(";")[0].strip("<> ")
        query = parse_qsl(target.split("?", 1)[1], keep_blank_values=True)


def flat(client: TestClient, **params: Any) -> list[str]:
    return [event for page in pages(client, **params) for event in page]


def o(*numbers: int) -> list[str]:
    return [f"urn:test:o:{n}" for n in numbers]


def test_order_by_event_time_both_directions_across_pages(member: TestClient) -> None:
    # Ties (events 1 and 5) in capture order, in the query's direction.
    assert flat(member, orderBy="eventTime", orderDirection="ASC") == o(2, 4, 1, 5, 3)
    assert flat(member, orderBy="eventTime", orderDirection="DESC") == o(3, 5, 1, 4, 2)
    assert flat(member, orderBy="eventTime") == o(3, 5, 1, 4, 2)  # DESC by default
    assert pages(member, orderBy="eventTime", orderDirection="ASC", perPage=2) == [
        o(2, 4), o(1, 5), o(3)]
    assert pages(member, orderBy="eventTime", perPage=2) == [o(3, 5), o(1, 4), o(2)]


def test_order_by_record_time(member: TestClient) -> None:
    assert flat(member, orderBy="recordTime", orderDirection="ASC") == o(1, 2, 3, 4, 5)
    assert pages(member, orderBy="recordTime", perPage=3) == [o(5, 4, 3), o(2, 1)]
    assert flat(member, orderBy="recordTime", orderDirection="ASC",
                GE_eventTime="2024-05-01T10:00:00Z") == o(1, 3, 5)


def test_event_count_limit_cuts_the_ordered_result(member: TestClient) -> None:
    assert flat(member, orderBy="eventTime", orderDirection="ASC", eventCountLimit=3) == \
        o(2, 4, 1)
    assert pages(member, orderBy="eventTime", eventCountLimit=3, perPage=2) == [
        o(3, 5), o(1)]
    assert flat(member, orderBy="eventTime", eventCountLimit=50) == o(3, 5, 1, 4, 2)


def test_max_event_count_refuses_a_larger_result(member: TestClient) -> None:
    assert flat(member, maxEventCount=5) == o(1, 2, 3, 4, 5)
    assert flat(member, maxEventCount=2, GE_eventTime="2024-05-01T10:00:04Z") == o(3)
    response = member.get("/epcis/events", params={"maxEventCount": 4})
    assert response.status_code == 413, response.text
    body = response.json()
    assert body["type"] == "epcisException:QueryTooLargeException"
    assert "maxEventCount" in body["detail"]


@pytest.mark.parametrize(("params", "named"), [
    ({"eventCountLimit": 2}, "eventCountLimit"),  # needs orderBy
    ({"orderBy": "eventTime", "eventCountLimit": 2, "maxEventCount": 3}, "eventCountLimit"),
    ({"orderBy": "eventTime", "orderDirection": "UP"}, "orderDirection"),
    ({"orderBy": "colour"}, "orderBy"),
    ({"maxEventCount": "0"}, "maxEventCount"),
    ({"maxEventCount": "9" * 30}, "maxEventCount"),  # no integer overflow in the database
    ({"orderBy": "eventTime", "eventCountLimit": "two"}, "eventCountLimit"),
])
def test_forbidden_controls_are_parameter_problems(world: World, client_for: Clients,
                                                   params: dict[str, Any], named: str) -> None:
    response = client_for(world.a).get("/epcis/events", params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["type"] == PARAMETER and named in body["detail"], body


def test_a_page_token_of_another_order_is_refused(member: TestClient) -> None:
    first = member.get("/epcis/events", params={"orderBy": "eventTime", "perPage": 2})
    token = dict(parse_qsl(first.headers["link"].split(";")[0].strip("<> ").split("?", 1)[1]))
    response = member.get("/epcis/events", params={"orderBy": "recordTime", "perPage": 2,
                                                   "nextPageToken": token["nextPageToken"]})
    assert response.status_code == 400, response.text
    assert "nextPageToken" in response.json()["detail"]


def test_order_by_an_extension_field_numbers_as_numbers_texts_by_code_point(
        world: World, client_for: Clients, run_jobs: Callable[[], int]) -> None:
    client = client_for(world.b)
    ranks = {1: ("10", "b"), 2: ("9", "a"), 3: ("100", "C"), 4: (None, "c")}
    events = []
    for n, (rank, name) in ranks.items():
        extra = {"ext1:name": name, **({"ext1:rank": rank} if rank else {})}
        events.append(object_event(n, eventID=f"urn:test:o:{n}", **extra))
    doc = document(*events, context=["https://ref.gs1.org/standards/epcis/2.0.0/"
                                     "epcis-context.jsonld", {"ext1": "http://example.com/x/"}])
    assert client.post("/epcis/capture", json=doc).status_code == 202
    run_jobs()
    ranked = {"EXISTS_ext1:rank": ""}
    assert flat(client, orderBy="ext1:rank", orderDirection="ASC", **ranked) == o(2, 1, 3)
    assert pages(client, orderBy="http://example.com/x/rank", perPage=2, **ranked) == [
        o(3, 1), o(2)]
    assert flat(client, orderBy="ext1:name", orderDirection="ASC") == o(3, 2, 1, 4)
    assert flat(client, orderBy="ext1:rank", orderDirection="ASC", eventCountLimit=2,
                **ranked) == o(2, 1)
    assert sorted(flat(client, orderBy="ext1:rank")) == o(1, 2, 3, 4)  # unranked: anywhere
