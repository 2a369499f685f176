"""The /epcis REST bindings against GS1's REST OpenAPI: every path and method GS1 names
(named queries included), the top-level resources and their events for the events a caller
may see, paging by Link, discovery with OPTIONS, version and media-type negotiation, and
problem documents for whatever is refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor
from stewardship.core.config import Settings
from stewardship.interop.epcis import capture as service
from stewardship.interop.epcis import query
from stewardship.interop.epcis.problems import EpcisProblem
from stewardship.interop.epcis.validation import Validation
from tests.interop.conftest import CONFORMANCE, World, document, needs_conformance, object_event

PROBLEM = "application/problem+json"
Clients = Callable[[Actor], TestClient]
VERSION_HEADERS = ("GS1-EPCIS-Version", "GS1-EPCIS-Min", "GS1-EPCIS-Max", "GS1-CBV-Version",
                   "GS1-CBV-Min", "GS1-CBV-Max")
NOT_YET = ("/nextPageToken",)
"""GS1's paths this repository does not offer yet."""


def _problem(response: Any, status: int, type_: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    for name in VERSION_HEADERS:
        assert response.headers[name] == "2.0.0"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    if type_ is not None:
        assert body["type"] == type_, body
    return dict(body)


def _events(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "EPCISQueryDocument"
    return list(body["epcisBody"]["queryResults"]["resultsBody"]["eventList"])


def _pages(client: TestClient, url: str, **params: Any) -> list[list[Any]]:
    """Every page of a collection (or query), following the Link header."""
    pages = []
    response = client.get(url, params=params)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["member"] if body.get("type") == "Collection" else
                     body["epcisBody"]["queryResults"]["resultsBody"]["eventList"])
        link = response.headers.get("link")
        if not link:
            return pages
        assert link.endswith('>; rel="next"') and "nextPageToken=" in link
        response = client.get(link[1:link.index(">")])


def _gs1_operations() -> list[tuple[str, str]]:
    if CONFORMANCE is None:
        return []
    spec = yaml.safe_load((CONFORMANCE / "REST-Bindings" / "openapi.yaml").read_text("utf-8"))
    return [(path, method) for path, item in spec["paths"].items()
            if not path.startswith(NOT_YET)
            for method in item if method in ("get", "post", "put", "delete", "options")]


def _shape(path: str) -> str:
    """A path with its parameters' names left out: ``/epcs/{}/events``."""
    out, depth = [], 0
    for char in path:
        if char == "{":
            depth += 1
            out.append("{}")
        elif char == "}":
            depth -= 1
        elif depth == 0:
            out.append(char)
    return "".join(out)


@needs_conformance
def test_every_path_and_method_gs1_names_is_in_our_openapi(client: TestClient) -> None:
    ours = client.get("/api/openapi.json").json()["paths"]
    shapes = {_shape(path): item for path, item in ours.items()}
    operations = _gs1_operations()
    assert len(operations) > 40
    missing = [f"{method.upper()} {path}" for path, method in operations
               if method not in shapes.get(_shape("/epcis" + path.rstrip("/")), {})]
    assert missing == []
    # The path parameters carry GS1's names.
    for name in ("eventType", "epc", "bizStep", "bizLocation", "readPoint", "disposition"):
        assert any(f"{{{name}}}" in path for path in ours), name


SAMPLES = {"{eventType}": "ObjectEvent", "{epc}": quote("urn:epc:id:sgtin:0614141.107346.1",
                                                        safe=""),
           "{bizStep}": "shipping", "{bizLocation}": "x", "{readPoint}": "x",
           "{disposition}": "in_transit", "{eventID}": "x", "{captureID}": "x",
           "{queryName}": "q", "{subscriptionID}": "x"}


@needs_conformance
def test_options_on_every_gs1_resource_answer_gs1s_headers(client: TestClient) -> None:
    by_path: dict[str, set[str]] = {}
    for path, method in _gs1_operations():
        by_path.setdefault(path, set()).add(method.upper())
    for path, methods in by_path.items():
        url = "/epcis" + path.rstrip("/")
        for placeholder, value in SAMPLES.items():
            url = url.replace(placeholder, value)
        answer = client.options(url)
        assert answer.status_code == 204, (url, answer.text)
        allowed = {m.strip() for m in answer.headers["allow"].split(",")}
        assert methods <= allowed, (url, allowed)
        for name in (*VERSION_HEADERS, "GS1-EPC-Format", "GS1-CBV-XML-Format"):
            assert answer.headers[name], (url, name)
    capture = client.options("/epcis/capture")
    assert int(capture.headers["GS1-EPCIS-Capture-Limit"]) > 0


@pytest.fixture
def both(db: Session, world: World, validation: Validation) -> dict[str, list[str]]:
    """A and B capture events naming different EPCs, steps, places and dispositions."""
    a = [object_event(1), object_event(
        2, bizStep="receiving", disposition="in_progress",
        readPoint={"id": "urn:epc:id:sgln:0614141.00777.1"},
        bizLocation={"id": "urn:epc:id:sgln:0614141.00777.0"}),
        {"type": "AggregationEvent", "eventTime": "2024-07-01T00:00:00Z",
         "eventTimeZoneOffset": "+00:00", "action": "ADD",
         "parentID": "urn:epc:id:sscc:0614141.1112223334",
         "childEPCs": ["urn:epc:id:sgtin:0614141.107346.1"]}]
    b = [object_event(901, bizStep="loading",
                      disposition="damaged", readPoint={"id": "urn:epc:id:sgln:4012345.00001.0"},
                      bizLocation={"id": "urn:epc:id:sgln:4012345.00002.0"})]
    return {"a": service.capture_document(db, world.a, document(*a), validation=validation
                                          ).event_ids,
            "b": service.capture_document(db, world.b, document(*b), validation=validation
                                          ).event_ids}


def test_collections_list_what_the_caller_may_see(both: dict[str, list[str]], world: World,
                                                  client_for: Clients) -> None:
    a, b, staff = (client_for(x) for x in (world.a, world.b, world.secretariat))
    epcs = [m for page in _pages(a, "/epcis/epcs") for m in page]
    assert epcs == sorted(["urn:epc:id:sgtin:0614141.107346.1",
                           "urn:epc:id:sgtin:0614141.107346.2",
                           "urn:epc:id:sscc:0614141.1112223334"])
    assert [m for page in _pages(b, "/epcis/epcs") for m in page] == [
        "urn:epc:id:sgtin:0614141.107346.901"]
    assert len([m for page in _pages(staff, "/epcis/epcs") for m in page]) == 4
    assert _pages(a, "/epcis/bizSteps") == [["receiving", "shipping"]]
    assert _pages(b, "/epcis/bizSteps") == [["loading"]]
    assert _pages(a, "/epcis/dispositions") == [["in_progress", "in_transit"]]
    assert _pages(a, "/epcis/readPoints") == [["urn:epc:id:sgln:0614141.00777.0",
                                               "urn:epc:id:sgln:0614141.00777.1"]]
    assert _pages(a, "/epcis/bizLocations") == [["urn:epc:id:sgln:0614141.00777.0"]]
    assert _pages(b, "/epcis/bizLocations") == [["urn:epc:id:sgln:4012345.00002.0"]]
    # The five standard event types whatever was captured; a member sees no one else's.
    types = _pages(client_for(world.c), "/epcis/eventTypes")
    assert types == [sorted(["ObjectEvent", "AggregationEvent", "TransactionEvent",
                             "TransformationEvent", "AssociationEvent"])]
    assert _pages(client_for(world.c), "/epcis/epcs") == [[]]
    collection = a.get("/epcis/epcs").json()
    assert collection["type"] == "Collection" and collection["@context"]


def test_collections_page_with_link_and_refuse_foreign_tokens(both: dict[str, list[str]],
                                                              world: World,
                                                              client_for: Clients) -> None:
    staff = client_for(world.secretariat)
    pages = _pages(staff, "/epcis/epcs", perPage=1)
    assert [len(p) for p in pages] == [1, 1, 1, 1]
    assert [p[0] for p in pages] == sorted(p[0] for p in pages)
    assert len(_pages(staff, "/epcis/eventTypes", perPage=2)) == 3
    first = staff.get("/epcis/epcs", params={"perPage": 1})
    token = first.headers["link"].split("nextPageToken=")[1].split(">")[0]
    _problem(staff.get("/epcis/bizSteps", params={"nextPageToken": token}), 400,
             "epcisException:QueryParameterException")
    for junk in ("%%%", "x" * 5000, "bm9uc2Vuc2U"):
        _problem(staff.get("/epcis/epcs", params={"nextPageToken": junk}), 400,
                 "epcisException:QueryParameterException")
    _problem(staff.get("/epcis/epcs", params={"perPage": 0}), 400)
    _problem(staff.get("/epcis/epcs", params={"EQ_bizStep": "shipping"}), 400)


def test_the_events_of_a_resource_are_the_callers_only(both: dict[str, list[str]],
                                                       world: World,
                                                       client_for: Clients) -> None:
    a, b = client_for(world.a), client_for(world.b)
    epc = quote("urn:epc:id:sgtin:0614141.107346.1", safe="")
    assert [e["eventID"] for e in _events(a.get(f"/epcis/epcs/{epc}/events"))] == [
        both["a"][0], both["a"][2]]  # as EPC and as child of the aggregation
    assert a.get(f"/epcis/epcs/{epc}").json()["member"] == ["events"]
    # B never sees A's events, nor learns that A's EPC exists.
    missing = _problem(b.get(f"/epcis/epcs/{epc}/events"), 404,
                       "epcisException:NoSuchResourceException")
    never = _problem(b.get("/epcis/epcs/urn%3Aepc%3Aid%3Asgtin%3A1.2.3/events"), 404)
    assert missing["title"] == never["title"]
    _problem(b.get(f"/epcis/epcs/{epc}"), 404)
    for url in ("/epcis/bizSteps/shipping/events", "/epcis/dispositions/in_transit/events",
                "/epcis/readPoints/urn%3Aepc%3Aid%3Asgln%3A0614141.00777.1/events"):
        assert {e["eventID"] for e in _events(a.get(url))} <= set(both["a"])
        _problem(b.get(url), 404)
    # Standard values in any of their forms; further restricted by query parameters.
    urn = quote("urn:epcglobal:cbv:bizstep:receiving", safe="")
    assert [e["eventID"] for e in _events(a.get(f"/epcis/bizSteps/{urn}/events"))] == [
        both["a"][1]]
    web = quote("https://ref.gs1.org/cbv/BizStep-loading", safe="")
    assert [e["eventID"] for e in _events(b.get(f"/epcis/bizSteps/{web}/events"))] == both["b"]
    assert [e["eventID"] for e in _events(a.get("/epcis/eventTypes/ObjectEvent/events"))] == \
        both["a"][:2]
    assert _events(b.get("/epcis/eventTypes/AggregationEvent/events")) == []
    assert [e["eventID"] for e in _events(a.get(
        "/epcis/eventTypes/ObjectEvent/events", params={"EQ_bizStep": "receiving"}))] == \
        [both["a"][1]]
    _problem(a.get("/epcis/eventTypes/NoSuchEvent/events"), 404)
    _problem(a.get("/epcis/eventTypes/ObjectEvent/events", params={"EQ_nonsense": "x"}), 400,
             "epcisException:QueryParameterException")
    staff = client_for(world.secretariat)
    assert len(_events(staff.get("/epcis/eventTypes/ObjectEvent/events"))) == 3
    pages = _pages(staff, "/epcis/eventTypes/ObjectEvent/events", perPage=1)
    assert [len(p) for p in pages] == [1, 1, 1]


def test_anonymous_callers_get_a_bearer_challenge(client: TestClient) -> None:
    for url in ("/epcis/events", "/epcis/epcs", "/epcis/eventTypes/ObjectEvent/events",
                "/epcis/capture"):
        refused = client.get(url)
        _problem(refused, 401, "epcisException:SecurityException")
        assert refused.headers["www-authenticate"].startswith("Bearer")
    bad = TestClient(client.app, headers={"Authorization": "Bearer stw_nonsense"})
    assert bad.get("/epcis/epcs").headers["www-authenticate"].startswith("Bearer")


def test_capture_jobs_page_with_link(world: World, client_for: Clients) -> None:
    member = client_for(world.a)
    made = []
    for n in range(3):
        accepted = member.post("/epcis/capture", json=document(object_event(100 + n)))
        assert accepted.status_code == 202, accepted.text
        made.append(accepted.json()["captureID"])
    pages = []
    response = member.get("/epcis/capture", params={"perPage": 2})
    while True:
        assert response.status_code == 200, response.text
        pages.append([job["captureID"] for job in response.json()])
        link = response.headers.get("link")
        if not link:
            break
        response = member.get(link[1:link.index(">")])
    assert [len(p) for p in pages] == [2, 1]
    assert sorted(j for p in pages for j in p) == sorted(made)
    assert client_for(world.b).get("/epcis/capture").json() == []
    _problem(member.get("/epcis/capture", params={"nextPageToken": "not-a-token"}), 400,
             "epcisException:QueryParameterException")


def test_one_event_is_a_query_document_with_its_error_declaration(
        db: Session, world: World, client_for: Clients, validation: Validation) -> None:
    event_id = "urn:uuid:6f1e0c52-1b57-4f0e-9a7d-1d7f3c9b2a10"
    event = object_event(31, eventID=event_id)
    declared = dict(event, errorDeclaration={"declarationTime": "2024-06-01T00:00:00Z",
                                             "reason": "incorrect_data"})
    for captured in (event, declared):
        result = service.capture_document(db, world.a, document(captured), validation=validation)
        assert result.success, result.errors
    found = _events(client_for(world.a).get(f"/epcis/events/{quote(event_id, safe='')}"))
    assert [e["eventID"] for e in found] == [event_id, event_id]
    assert "errorDeclaration" not in found[0] and "errorDeclaration" in found[1]
    _problem(client_for(world.b).get(f"/epcis/events/{quote(event_id, safe='')}"), 404)


@pytest.mark.parametrize(("headers", "status"), [
    ({"GS1-EPCIS-Version": "3.0.0"}, 406),
    ({"GS1-CBV-Version": "9.9.9"}, 406),
    ({"GS1-EPCIS-Min": "3.0.0"}, 406),
    ({"GS1-EPCIS-Max": "1.2.0"}, 406),
    ({"GS1-CBV-Min": "2.1"}, 406),
    ({"GS1-EPCIS-Version": "two"}, 400),
    ({"GS1-CBV-Max": "2.0.0.0"}, 400),
    ({"GS1-EPCIS-Min": "2.0.0", "GS1-EPCIS-Max": "1.0.0"}, 400),
    ({"Accept": "image/png"}, 406),
    ({"Accept": "text/html, application/xhtml+xml"}, 406),
    ({"Accept": "application/json;q=0"}, 406),
    ({"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0"}, 200),
    ({"GS1-EPCIS-Min": "1.2.0", "GS1-EPCIS-Max": "2.1.0", "GS1-CBV-Max": "2.0.0"}, 200),
    ({"Accept": "application/xml, application/json;q=0.5"}, 200),
    ({"Accept": "application/ld+json"}, 200),
    ({"Accept": "*/*"}, 200),
    ({"Accept": "application/*"}, 200),
])
def test_versions_and_media_types_are_negotiated(world: World, client_for: Clients,
                                                 headers: dict[str, str], status: int) -> None:
    member = client_for(world.a)
    for url in ("/epcis", "/epcis/events", "/epcis/epcs"):
        answer = member.get(url, headers=headers)
        if status == 200:
            assert answer.status_code == 200, (url, answer.text)
            assert answer.headers["GS1-EPCIS-Version"] == "2.0.0"
        else:
            body = _problem(answer, status)
            assert body["type"] == ("epcisException:NotAcceptableException" if status == 406
                                    else "epcisException:ValidationException")
    # A version refused even before the caller is known; OPTIONS says what is spoken.
    client = TestClient(member.app)
    _problem(client.get("/epcis/events", headers={"GS1-EPCIS-Version": "3.0.0"}), 406)
    if "Accept" in headers:
        assert client.options("/epcis/events", headers=headers).status_code == 204


def test_unknown_paths_and_wrong_methods_are_problem_documents(client: TestClient) -> None:
    for url in ("/epcis/nonsense", "/epcis/epcs-and-more", "/epcis/", "/epcis/querys"):
        _problem(client.get(url), 404, "epcisException:NoSuchResourceException")
        _problem(client.options(url), 404)
    for method, url, allowed in (("DELETE", "/epcis/events", {"GET", "POST", "OPTIONS"}),
                                 ("POST", "/epcis", {"GET", "OPTIONS"}),
                                 ("PUT", "/epcis/epcs/x/events", {"GET", "OPTIONS"}),
                                 ("PATCH", "/epcis/capture", {"GET", "POST", "OPTIONS"}),
                                 ("PUT", "/epcis/queries/q", {"GET", "DELETE", "OPTIONS"})):
        refused = client.request(method, url)
        _problem(refused, 405, "epcisException:MethodNotAllowedException")
        assert {m.strip() for m in refused.headers["allow"].split(",")} == allowed


def test_a_query_with_ten_thousand_parameters_is_refused_in_bounded_work(
        world: World, client_for: Clients, epcis_settings: Settings) -> None:
    member = client_for(world.a)
    many = "&".join(["a=1"] * 10_000)  # short names: the whole URL stays under 64 KiB
    for url in ("/epcis/events", "/epcis/eventTypes/ObjectEvent/events"):
        refused = _problem(member.get(f"{url}?{many}"), 413,
                           "epcisException:QueryTooComplexException")
        assert "10000 parameters" in refused["detail"]
    _problem(member.get(f"/epcis/epcs?{many}"), 400, "epcisException:QueryParameterException")
    one = "|".join(["x"] * 10_000)
    refused = _problem(member.get("/epcis/events", params={"EQ_bizStep": one}), 413)
    assert "10000 values" in refused["detail"]
    # Supported parameters count alike (their URL is past what an HTTP client sends).
    with pytest.raises(EpcisProblem) as too_many:
        query.parse([("EQ_bizStep", f"step{n}") for n in range(10_000)], epcis_settings)
    assert too_many.value.status_code == 413
    # Within the bounds, the query runs.
    assert _events(member.get("/epcis/events", params=[("EQ_bizStep", f"s{n}")
                                                       for n in range(200)])) == []


def test_a_party_named_in_an_event_reaches_it_through_the_resources(
        db: Session, world: World, client_for: Clients, validation: Validation) -> None:
    shipped = object_event(41, destinationList=[
        {"type": "owning_party", "destination": f"urn:stewardship:org:{world.b_slug}"}])
    [event_id] = service.capture_document(db, world.a, document(shipped),
                                          validation=validation).event_ids
    epc = "urn:epc:id:sgtin:0614141.107346.41"
    b, c = client_for(world.b), client_for(world.c)
    assert _pages(b, "/epcis/epcs") == [[epc]]
    assert [e["eventID"] for e in _events(b.get(f"/epcis/epcs/{quote(epc, safe='')}/events"))
            ] == [event_id]
    assert _pages(c, "/epcis/epcs") == [[]]
    _problem(c.get(f"/epcis/epcs/{quote(epc, safe='')}/events"), 404)
