"""SimpleEventQuery field parameters on GET /epcis/events: persistent dispositions, typed
business transactions, sources and destinations, quantities, error declarations, sensor
data, ILMD and extension fields, WD_ locations through master data, and EPC URNs matching
GS1 Digital Links both ways. Events come from GS1's JSON examples (read where they are)
or are written here; each test asserts exactly which eventIDs come back."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stewardship.core.auth import Actor
from tests.interop.conftest import (
    CONFORMANCE,
    World,
    capture_ok,
    document,
    event_ids,
    needs_conformance,
    object_event,
)

Clients = Callable[[Actor], TestClient]
Jobs = Callable[[], int]
CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"


def example(path: str) -> dict[str, Any]:
    assert CONFORMANCE is not None
    return dict(json.loads((CONFORMANCE / "JSON" / path).read_text(encoding="utf-8")))


def problem(client: TestClient, status: int, type_: str, **params: Any) -> str:
    response = client.get("/epcis/events", params=params)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == type_, body
    return str(body["detail"])


def named(doc: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The example with eventIDs of this test's own (``prefix:0``, ``prefix:1``...)."""
    out = copy.deepcopy(doc)
    for i, event in enumerate(out["epcisBody"]["eventList"]):
        event["eventID"] = f"urn:test:{prefix}:{i}"
    return out


def ev(n: int, **extra: Any) -> dict[str, Any]:
    return object_event(n, eventID=f"urn:test:e:{n}", **extra)


@pytest.fixture
def a(world: World, client_for: Clients) -> TestClient:
    return client_for(world.a)


@needs_conformance
def test_persistent_disposition_set_and_unset(a: TestClient, run_jobs: Jobs) -> None:
    capture_ok(a, run_jobs, named(example("PersistentDisposition-example.jsonld"), "pd"))
    capture_ok(a, run_jobs, document(
        ev(1, persistentDisposition={"set": ["https://ref.gs1.org/cbv/Disp-recalled"]}),
        ev(2, persistentDisposition={"unset": ["recalled"]}), ev(3)))
    gs1 = [e["persistentDisposition"] for e in example(
        "PersistentDisposition-example.jsonld")["epcisBody"]["eventList"]]
    first_set = gs1[0]["set"][0]
    assert event_ids(a, EQ_persistentDisposition_set=first_set) == {
        f"urn:test:pd:{i}" for i, p in enumerate(gs1) if first_set in p.get("set", [])}
    # A standard value matches as a bare word, a CBV URN or web URI alike.
    assert event_ids(a, EQ_persistentDisposition_set="urn:epcglobal:cbv:disp:recalled") == \
        {"urn:test:e:1"}
    assert event_ids(a, EQ_persistentDisposition_unset="recalled") == {"urn:test:e:2"}
    assert event_ids(a, EQ_persistentDisposition_set="recalled|damaged",
               EQ_persistentDisposition_unset="recalled") == set()


@needs_conformance
def test_error_declaration_parameters(a: TestClient, run_jobs: Jobs) -> None:
    declared = example("WithErrorDeclaration/Example_9.6.1-ObjectEvent-with-error-declaration"
                       ".jsonld")
    capture_ok(a, run_jobs, declared)
    declaration = declared["epcisBody"]["eventList"][0]
    event_id = declaration["eventID"]
    corrective = declaration["errorDeclaration"]["correctiveEventIDs"]

    def declarations(**params: Any) -> list[dict[str, Any]]:
        response = a.get("/epcis/events", params=params)
        assert response.status_code == 200, response.text
        return list(response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"])

    found = declarations(EXISTS_errorDeclaration="")
    assert [(e["eventID"], "errorDeclaration" in e) for e in found] == [(event_id, True)]
    assert len(declarations(EQ_errorReason="incorrect_data")) == 1
    assert len(declarations(EQ_errorReason="urn:epcglobal:cbv:er:incorrect_data")) == 1
    assert declarations(EQ_errorReason="did_not_occur") == []
    assert len(declarations(EQ_correctiveEventID=corrective[1])) == 1
    assert declarations(EQ_correctiveEventID="urn:uuid:none") == []
    # declarationTime is 2021-02-01T22:46:31.117Z
    assert len(declarations(GE_errorDeclarationTime="2021-02-01T22:46:31.117Z")) == 1
    assert declarations(GE_errorDeclarationTime="2021-02-01T22:46:31.118Z") == []
    assert len(declarations(LT_errorDeclarationTime="2021-02-01T23:46:32+01:00")) == 1
    assert declarations(LT_errorDeclarationTime="2021-02-01T22:46:31.117Z") == []
    detail = problem(a, 400, "epcisException:QueryParameterException",
                     GE_errorDeclarationTime="yesterday")
    assert "GE_errorDeclarationTime" in detail


def test_quantity_comparisons_with_and_without_unit(a: TestClient, run_jobs: Jobs) -> None:
    lot = "urn:epc:class:lgtin:4012345.012345.998877"
    capture_ok(a, run_jobs, document(
        ev(1, quantityList=[{"epcClass": lot, "quantity": 200, "uom": "KGM"}]),
        ev(2, quantityList=[{"epcClass": lot, "quantity": 5}]),
        ev(3, quantityList=[{"epcClass": lot, "quantity": 12.5, "uom": "LTR"}]), ev(4)))
    assert event_ids(a, EQ_quantity="200") == {"urn:test:e:1"}
    assert event_ids(a, EQ_quantity="5|12.5") == {"urn:test:e:2", "urn:test:e:3"}
    assert event_ids(a, GT_quantity="12.5") == {"urn:test:e:1"}
    assert event_ids(a, GE_quantity="12.5") == {"urn:test:e:1", "urn:test:e:3"}
    assert event_ids(a, LT_quantity="12.5") == {"urn:test:e:2"}
    assert event_ids(a, LE_quantity="12.5") == {"urn:test:e:2", "urn:test:e:3"}
    assert event_ids(a, GE_quantity="5", LT_quantity="200") == {"urn:test:e:2", "urn:test:e:3"}
    assert event_ids(a, GE_quantity_KGM="1") == {"urn:test:e:1"}
    assert event_ids(a, EQ_quantity_LTR="12.5") == {"urn:test:e:3"}
    assert event_ids(a, EQ_quantity_KGM="12.5") == set()
    detail = problem(a, 400, "epcisException:QueryParameterException", GT_quantity="lots")
    assert "GT_quantity" in detail


@needs_conformance
def test_typed_transactions_sources_and_destinations(a: TestClient, run_jobs: Jobs) -> None:
    full = named(example("WithFullCombinationOfFields/object_event_all_possible_fields.jsonld"),
                 "full")
    capture_ok(a, run_jobs, full)
    capture_ok(a, run_jobs, document(ev(1, bizTransactionList=[
        {"type": "inv", "bizTransaction": "urn:epc:id:gdti:0614141.00001.1618034"}])))
    po = "urn:epc:id:gdti:0614141.00001.1618034"
    assert event_ids(a, EQ_bizTransaction_po=po) == {"urn:test:full:0"}
    assert event_ids(a, EQ_bizTransaction_inv=po) == {"urn:test:e:1"}
    assert event_ids(a, EQ_bizTransaction_pedigree=po) == set()
    assert event_ids(a, EQ_source_location="urn:epc:id:sgln:4012345.00225.0") == {"urn:test:full:0"}
    assert event_ids(a, EQ_source_owning_party="urn:epc:id:pgln:4012345.00225") == \
        {"urn:test:full:0"}
    assert event_ids(a, EQ_destination_owning_party="urn:epc:id:pgln:4012345.00225") == set()
    assert event_ids(a, EQ_destination_location="urn:epc:id:sgln:0614141.00777.0|urn:x") == \
        {"urn:test:full:0"}


@needs_conformance
def test_ilmd_extension_and_inner_fields(a: TestClient, run_jobs: Jobs) -> None:
    full = named(example("WithFullCombinationOfFields/object_event_all_possible_fields.jsonld"),
                 "full")
    capture_ok(a, run_jobs, full)
    capture_ok(a, run_jobs, document(ev(1, **{"ext1:int": "3"}), ev(2),
                                  context=[CONTEXT, {"ext1": "http://example.com/ext1/"}]))
    both, mine = {"urn:test:full:0", "urn:test:e:1"}, {"urn:test:full:0"}
    assert event_ids(a, **{"EQ_ext1:string": "string"}) == mine
    assert event_ids(a, **{"EQ_ext1:string": "strings"}) == set()
    assert event_ids(a, **{"EXISTS_ext1:int": ""}) == both
    assert event_ids(a, **{"GT_ext1:int": "5"}) == mine
    assert event_ids(a, **{"LE_ext1:int": "5"}) == {"urn:test:e:1"}
    assert event_ids(a, **{"EQ_ext1:float": "20.0"}) == mine  # numbers compare as numbers
    assert event_ids(a, **{"GE_ext1:time": "2013-06-08T14:58:56.591Z"}) == mine
    assert event_ids(a, **{"LT_ext1:time": "2013-06-08T14:58:56.591Z"}) == set()
    # The field's IRI stands for it as well as the CURIE, and the XML binding's ns#name.
    assert event_ids(a, **{"EXISTS_http://example.com/ext1/int": ""}) == both
    assert event_ids(a, **{"EQ_http://example.com/ext1#string": "string"}) == mine
    # Nested fields answer to INNER_ only; ILMD fields to ILMD_ only.
    assert event_ids(a, **{"EQ_ext2:string": "stringInObject"}) == set()
    assert event_ids(a, **{"EQ_INNER_ext2:string": "stringInObject"}) == mine
    assert event_ids(a, **{"EQ_INNER_ext3:string": "stringInObjectInObjectInArray"}) == mine
    assert event_ids(a, **{"EQ_ILMD_ext1:float": "20"}) == mine
    assert event_ids(a, **{"EXISTS_ILMD_ext1:int": ""}) == mine
    assert event_ids(a, **{"EQ_INNER_ILMD_ext2:string": "stringInObject"}) == mine
    assert event_ids(a, **{"EXISTS_ILMD_ext1:nothing": ""}) == set()
    detail = problem(a, 400, "epcisException:QueryParameterException",
                     **{"GT_ext1:int": "many"})
    assert "GT_ext1:int" in detail


@needs_conformance
def test_sensor_parameters(a: TestClient, run_jobs: Jobs) -> None:
    files = ["SensorDataExample1.jsonld", "SensorDataExample2.jsonld",
             "SensorDataExample3.jsonld", "SensorDataExample9.jsonld"]
    for n, name in enumerate(files):
        capture_ok(a, run_jobs, named(example(f"WithSensorData/{name}"), f"s{n}"))
    capture_ok(a, run_jobs, document(ev(1)))
    one, two, three, nine = "urn:test:s0:0", "urn:test:s1:0", "urn:test:s2:0", "urn:test:s3:0"
    assert event_ids(a, EXISTS_sensorElementList="") == {one, two, three, nine}
    assert event_ids(a, EQ_type="Temperature") == {one, two, three, nine}
    assert event_ids(a, EQ_type="gs1:Speed") == {one, two}
    assert event_ids(a, EQ_deviceID="urn:epc:id:giai:4000001.111") == {one, two}
    assert event_ids(a, EQ_bizRules="https://example.com/253/4012345000054987") == {two}
    assert event_ids(a, EQ_uriValue="https://example.com/ErrorCode-A827") == {nine}
    assert event_ids(a, EQ_booleanValue="true") == {nine}
    assert event_ids(a, EQ_booleanValue="false") == set()
    assert event_ids(a, GT_value="150") == {one}
    assert event_ids(a, GE_value_CEL="26", LT_value_CEL="26.1") == {one}
    assert event_ids(a, GE_value_KMH="26") == {one}
    assert event_ids(a, GE_value_A93="26") == set()
    assert event_ids(a, LT_minValue_CEL="20") == {three}
    assert event_ids(a, GE_maxValue="26.2") == {two, three}
    assert event_ids(a, GE_time="2019-04-02T13:05:00Z", LT_time="2019-04-02T13:05:00.001Z") == {one}
    assert event_ids(a, GE_startTime="2019-04-02T12:00:00Z") == {two}
    assert event_ids(a, LT_endTime="2019-04-02T13:58:00Z") == {two}
    assert "EQ_booleanValue" in problem(a, 400, "epcisException:QueryParameterException",
                                        EQ_booleanValue="maybe")
    assert "LT_value" in problem(a, 400, "epcisException:QueryParameterException",
                                 LT_value="cold")


def _with_hierarchy(children: dict[str, list[str]], *events: dict[str, Any]) -> dict[str, Any]:
    doc = document(*events)
    doc["epcisHeader"] = {"epcisMasterData": {"vocabularyList": [{
        "type": "urn:epcglobal:epcis:vtype:BusinessLocation",
        "vocabularyElementList": [{"id": parent, "children": kids}
                                  for parent, kids in children.items()]}]}}
    return doc


def test_with_descendants_reads_the_readers_master_data(world: World, client_for: Clients,
                                                        run_jobs: Jobs) -> None:
    a, b = client_for(world.a), client_for(world.b)
    site, hall, dock = "urn:epc:id:sgln:0614141.00001.0", "urn:epc:id:sgln:0614141.00002.0", \
        "urn:epc:id:sgln:0614141.00003.0"
    other = "urn:epc:id:sgln:0614141.00009.0"
    capture_ok(a, run_jobs, _with_hierarchy(
        {site: [hall], hall: [dock]},
        ev(1, bizLocation={"id": site}), ev(2, bizLocation={"id": hall}, readPoint={"id": dock}),
        ev(3, bizLocation={"id": dock}), ev(4, bizLocation={"id": other})))
    assert event_ids(a, WD_bizLocation=site) == {"urn:test:e:1", "urn:test:e:2", "urn:test:e:3"}
    assert event_ids(a, WD_bizLocation=hall) == {"urn:test:e:2", "urn:test:e:3"}
    assert event_ids(a, WD_bizLocation=f"{dock}|{other}") == {"urn:test:e:3", "urn:test:e:4"}
    assert event_ids(a, EQ_bizLocation=site) == {"urn:test:e:1"}
    assert event_ids(a, WD_readPoint=site) == {"urn:test:e:2"}
    assert event_ids(a, WD_readPoint=other) == set()
    # B's own events at A's locations: A's hierarchy is not B's to read.
    capture_ok(b, run_jobs, document(object_event(7, eventID="urn:test:b:7",
                                               bizLocation={"id": hall})))
    assert event_ids(b, WD_bizLocation=site) == set()
    assert event_ids(b, WD_bizLocation=hall) == {"urn:test:b:7"}
    assert event_ids(client_for(world.secretariat), WD_bizLocation=site) == {
        "urn:test:e:1", "urn:test:e:2", "urn:test:e:3", "urn:test:b:7"}


GTIN_DL = "https://id.gs1.org/01/10614141073464"  # urn:epc:idpat:sgtin:0614141.107346.*


def test_urns_and_digital_links_match_both_ways(a: TestClient, run_jobs: Jobs) -> None:
    capture_ok(a, run_jobs, document(
        ev(1, epcList=["urn:epc:id:sgtin:0614141.107346.2017"]),
        ev(2, epcList=[f"{GTIN_DL}/21/2018"]),
        ev(3, epcList=["https://example.com/01/10614141073464/21/2019?x=1"]),
        ev(4, epcList=["urn:epc:id:sgtin:0614141.107346.3000"],
           quantityList=[{"epcClass": "urn:epc:class:lgtin:0614141.107346.L1",
                          "quantity": 1}]),
        {**{k: v for k, v in ev(5).items() if k != "epcList"}, "type": "AggregationEvent",
         "action": "ADD", "parentID": "urn:epc:id:sscc:0614141.1234567890",
         "childEPCs": ["urn:epc:id:sgtin:0614141.107346.4000"]},
        ev(6, epcList=["urn:epc:id:sgtin:0614141.999999.1"])))
    assert event_ids(a, MATCH_epc=f"{GTIN_DL}/21/2017") == {"urn:test:e:1"}
    assert event_ids(a, MATCH_epc="urn:epc:id:sgtin:0614141.107346.2018") == {"urn:test:e:2"}
    assert event_ids(a, MATCH_epc="urn:epc:id:sgtin:0614141.107346.2019") == {"urn:test:e:3"}
    assert event_ids(a, MATCH_epc="urn:epc:idpat:sgtin:0614141.107346.*") == {
        "urn:test:e:1", "urn:test:e:2", "urn:test:e:3", "urn:test:e:4", "urn:test:e:5"}
    assert event_ids(a, MATCH_anyEPC=f"{GTIN_DL}/21/*") == {
        "urn:test:e:1", "urn:test:e:2", "urn:test:e:3", "urn:test:e:4", "urn:test:e:5"}
    assert event_ids(a, MATCH_parentID="https://id.gs1.org/00/106141412345678908") == \
        {"urn:test:e:5"}
    assert event_ids(a, MATCH_epc="https://id.gs1.org/00/106141412345678908") == set()
    assert event_ids(a, MATCH_anyEPC="https://id.gs1.org/00/106141412345678908") == {"urn:test:e:5"}
    assert event_ids(a, MATCH_epcClass=f"{GTIN_DL}/10/L1") == {"urn:test:e:4"}
    assert event_ids(a, MATCH_epcClass="urn:epc:idpat:sgtin:0614141.107346.*") == {"urn:test:e:4"}
    assert event_ids(a, MATCH_epc="urn:epc:idpat:sgtin:0614141.999999.*") == {"urn:test:e:6"}


def test_members_see_only_their_events_through_field_parameters(
        world: World, client_for: Clients, run_jobs: Jobs) -> None:
    a, c = client_for(world.a), client_for(world.c)
    lot = "urn:epc:class:lgtin:4012345.012345.998877"
    capture_ok(a, run_jobs, document(ev(1, quantityList=[{"epcClass": lot, "quantity": 3}])))
    capture_ok(c, run_jobs, document(object_event(2, eventID="urn:test:c:2", quantityList=[
        {"epcClass": lot, "quantity": 3}])))
    assert event_ids(a, EQ_quantity="3") == {"urn:test:e:1"}
    assert event_ids(c, EQ_quantity="3", MATCH_epcClass=lot) == {"urn:test:c:2"}
    assert event_ids(client_for(world.secretariat), EQ_quantity="3") == {"urn:test:e:1",
                                                                    "urn:test:c:2"}


def test_unknown_and_malformed_parameters_are_named(a: TestClient) -> None:
    for name in ("EQ_colour", "GT_weight", "EXISTS_thing", "EQ_INNER_plain"):
        detail = problem(a, 400, "epcisException:QueryParameterException", **{name: "1"})
        assert name in detail
    assert "EQ_quantity" in problem(a, 400, "epcisException:QueryParameterException",
                                    EQ_quantity="1|x")
    assert "GE_time" in problem(a, 400, "epcisException:QueryParameterException",
                                GE_time="2024-13-01")


def test_named_queries_take_the_field_parameters(a: TestClient, run_jobs: Jobs) -> None:
    lot = "urn:epc:class:lgtin:4012345.012345.998877"
    capture_ok(a, run_jobs, document(ev(1, quantityList=[{"epcClass": lot, "quantity": 30}]),
                                  ev(2, quantityList=[{"epcClass": lot, "quantity": 3}])))
    created = a.post("/epcis/queries", json={"name": "heavy", "query": {"GT_quantity": 10}})
    assert created.status_code == 201, created.text
    response = a.get("/epcis/queries/heavy/events")
    assert response.status_code == 200, response.text
    found = response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert [e["eventID"] for e in found] == ["urn:test:e:1"]
    refused = a.post("/epcis/queries", json={"name": "bad", "query": {"GT_quantity": "x"}})
    assert refused.status_code == 400, refused.text
