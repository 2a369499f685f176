"""SimpleEventQuery master data attribute parameters on GET /epcis/events (EPCIS 2.0
section 8.2.7.1): ``HASATTR_<field>`` and ``EQATTR_<field>_<attribute>`` on
``bizLocation`` and ``readPoint``, read through the master data the reader may see (its
own, the secretariat all). Each test asserts exactly which eventIDs come back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stewardship.core.auth import Actor
from tests.interop.conftest import World, capture_ok, document, event_ids, object_event

Clients = Callable[[Actor], TestClient]
Jobs = Callable[[], int]
CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
EXT = "https://example.com/ext1/"
SITE = "urn:epc:id:sgln:0614141.00001.0"
DOCK = "urn:epc:id:sgln:0614141.00002.0"
OTHER = "urn:epc:id:sgln:0614141.00009.0"
GATE = "urn:epc:id:sgln:0614141.00005.1"


def refused(client: TestClient, name: str, value: str = "x") -> str:
    response = client.get("/epcis/events", params={name: value})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["type"] == "epcisException:QueryParameterException", body
    assert name in body["detail"], body
    return str(body["detail"])


def with_master_data(locations: dict[str, dict[str, Any]], read_points: dict[str, dict[str, Any]],
                     *events: dict[str, Any]) -> dict[str, Any]:
    def elements(given: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"id": ident, "attributes": [{"id": k, "attribute": v} for k, v in attrs.items()]}
                for ident, attrs in given.items()]

    doc = document(*events, context=[CONTEXT, {"ext1": EXT}])
    vocabularies = [{"type": "urn:epcglobal:epcis:vtype:BusinessLocation",
                     "vocabularyElementList": elements(locations)}]
    if read_points:
        vocabularies.append({"type": "urn:epcglobal:epcis:vtype:ReadPoint",
                             "vocabularyElementList": elements(read_points)})
    doc["epcisHeader"] = {"epcisMasterData": {"vocabularyList": vocabularies}}
    return doc


def ev(n: int, prefix: str = "e", **extra: Any) -> dict[str, Any]:
    return object_event(n, eventID=f"urn:test:{prefix}:{n}", **extra)


@pytest.fixture
def a(world: World, client_for: Clients, run_jobs: Jobs) -> TestClient:
    client = client_for(world.a)
    capture_ok(client, run_jobs, with_master_data(
        # sst kept as the CURIE (no prefix declared), the others expanded to full URIs
        {SITE: {"cbvmda:sst": "201", "ext1:grade": "A"},
         DOCK: {"urn:epcglobal:cbv:mda:sst": "202", "ext1:grade": "B", "cbvmda:name": "Dock",
                "ext1:floors": 3}},
        {GATE: {"ext1:gate": "north"}},
        ev(1, bizLocation={"id": SITE}, readPoint={"id": GATE}),
        ev(2, bizLocation={"id": DOCK}),
        ev(3, bizLocation={"id": OTHER}),
        ev(4, readPoint={"id": DOCK})))
    return client


E1, E2, E3, E4 = (f"urn:test:e:{n}" for n in range(1, 5))


def test_hasattr_on_biz_location_with_full_and_short_names(a: TestClient) -> None:
    assert event_ids(a, HASATTR_bizLocation="cbvmda:sst") == {E1, E2}
    assert event_ids(a, HASATTR_bizLocation="urn:epcglobal:cbv:mda:sst") == {E1, E2}
    assert event_ids(a, HASATTR_bizLocation="urn:epcglobal:cbv:mda:name") == {E2}
    assert event_ids(a, HASATTR_bizLocation="cbvmda:name") == {E2}
    assert event_ids(a, HASATTR_bizLocation=EXT + "grade") == {E1, E2}
    assert event_ids(a, HASATTR_bizLocation=f"cbvmda:city|{EXT}floors") == {E2}
    assert event_ids(a, HASATTR_bizLocation="cbvmda:city") == set()
    assert event_ids(a, HASATTR_bizLocation=EXT + "gate") == set()  # a read point's, not here
    assert event_ids(a) == {E1, E2, E3, E4}


def test_eqattr_on_biz_location(a: TestClient) -> None:
    assert event_ids(a, **{"EQATTR_bizLocation_cbvmda:sst": "201"}) == {E1}
    assert event_ids(a, **{"EQATTR_bizLocation_urn:epcglobal:cbv:mda:sst": "202"}) == {E2}
    assert event_ids(a, **{"EQATTR_bizLocation_cbvmda:sst": "201|202"}) == {E1, E2}
    assert event_ids(a, **{f"EQATTR_bizLocation_{EXT}grade": "B"}) == {E2}
    assert event_ids(a, **{f"EQATTR_bizLocation_{EXT}floors": "3"}) == {E2}
    assert event_ids(a, **{"EQATTR_bizLocation_cbvmda:sst": "999"}) == set()
    assert event_ids(a, **{"EQATTR_bizLocation_cbvmda:name": "201"}) == set()
    assert event_ids(a, **{"HASATTR_bizLocation": "cbvmda:sst",
                     "EQATTR_bizLocation_cbvmda:sst": "202"}) == {E2}
    assert event_ids(a, **{"EQATTR_bizLocation_cbvmda:sst": "201", "EQ_bizLocation": DOCK}) == set()


def test_attributes_on_read_point(a: TestClient) -> None:
    assert event_ids(a, HASATTR_readPoint=EXT + "gate") == {E1}
    assert event_ids(a, **{f"EQATTR_readPoint_{EXT}gate": "north"}) == {E1}
    assert event_ids(a, **{f"EQATTR_readPoint_{EXT}gate": "south"}) == set()
    # a read point described as a business location
    assert event_ids(a, HASATTR_readPoint="cbvmda:sst") == {E4}
    assert event_ids(a, **{"EQATTR_readPoint_urn:epcglobal:cbv:mda:sst": "202"}) == {E4}
    assert event_ids(a, HASATTR_readPoint="cbvmda:city") == set()


def test_another_members_master_data_is_never_used(a: TestClient, world: World,
                                                   client_for: Clients,
                                                   run_jobs: Jobs) -> None:
    b = client_for(world.b)
    capture_ok(b, run_jobs, with_master_data(
        {SITE: {"cbvmda:sst": "999"}}, {},
        ev(7, "b", bizLocation={"id": SITE}), ev(8, "b", bizLocation={"id": DOCK})))
    assert event_ids(a, **{"EQATTR_bizLocation_cbvmda:sst": "999"}) == set()
    assert event_ids(a, **{"EQATTR_bizLocation_cbvmda:sst": "201"}) == {E1}
    assert event_ids(b, **{"EQATTR_bizLocation_cbvmda:sst": "999"}) == {"urn:test:b:7"}
    assert event_ids(b, **{"EQATTR_bizLocation_cbvmda:sst": "201"}) == set()
    assert event_ids(b, HASATTR_bizLocation="cbvmda:name") == set()  # only A's dock has a name
    assert event_ids(b, HASATTR_bizLocation="cbvmda:sst") == {"urn:test:b:7"}
    secretariat = client_for(world.secretariat)
    assert event_ids(secretariat, **{"EQATTR_bizLocation_cbvmda:sst": "999"}) == {
        E1, "urn:test:b:7"}
    assert event_ids(secretariat, HASATTR_bizLocation="cbvmda:name") == {E2, "urn:test:b:8"}


def test_bad_attribute_parameters_are_refused_naming_them(a: TestClient) -> None:
    refused(a, "HASATTR_epcList")
    refused(a, "HASATTR_")
    refused(a, "EQATTR_bizLocation")
    refused(a, "EQATTR_bizLocation_")
    refused(a, "EQATTR_disposition_cbvmda:sst")
    assert "at least one value" in refused(a, "HASATTR_bizLocation", "|")
    assert "at least one value" in refused(a, "EQATTR_readPoint_cbvmda:sst", "")
