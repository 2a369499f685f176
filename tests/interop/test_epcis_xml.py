"""EPCIS XML: GS1's XML examples captured and queried back, XML and JSON giving the same
events and hash ids, responses valid against GS1's XSD, and hostile or broken XML refused
with a problem document and nothing stored. GS1's files are read where they are."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from lxml import etree

from stewardship.core.auth import Actor
from stewardship.core.config import Settings
from stewardship.interop.epcis import xml as epcis_xml
from tests.interop.conftest import CONFORMANCE, SCHEMA, World, needs_conformance
from tests.interop.test_event_hash import oracle_xml_pre_hashes

pytestmark = needs_conformance
XSD = CONFORMANCE / "XSD" if CONFORMANCE else None
XML_DIR = CONFORMANCE / "XML" if CONFORMANCE else Path("missing")
XML = {"Content-Type": "application/xml"}
WANT_XML = {"Accept": "application/xml"}
Clients = Callable[[Actor], TestClient]


def _examples() -> list[Path]:
    """GS1's XML examples that are EPCIS 2.0 documents holding events."""
    found = []
    for path in sorted(XML_DIR.rglob("*.xml")):
        root = etree.parse(str(path)).getroot()
        if etree.QName(root).localname == "EPCISDocument" and root.find("EPCISBody/EventList") \
                is not None and len(root.find("EPCISBody/EventList")):
            found.append(path)
    return found


EXAMPLES = _examples() if CONFORMANCE else []


@pytest.fixture
def epcis_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"epcis_schema": SCHEMA, "epcis_xsd": XSD})


def _xsd() -> etree.XMLSchema:
    schema = epcis_xml.schema_for(XSD)
    assert schema is not None
    return schema


def _valid_xml(body: bytes) -> etree._Element:
    root = etree.fromstring(body)
    schema = _xsd()
    assert schema.validate(root), str(schema.error_log)
    return root


def _events(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return list(response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"])


def _normalised(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k != "recordTime"} for e in events]


def _nothing_stored(member: TestClient) -> None:
    assert _events(member.get("/epcis/events")) == []
    assert member.get("/epcis/capture").json() == []


def test_the_examples_are_found() -> None:
    assert len(EXAMPLES) >= 20


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_xml_example_is_captured_and_queried_back(
        path: Path, world: World, client_for: Clients,
        run_jobs: Callable[[], int]) -> None:
    member = client_for(world.a)
    raw = path.read_bytes()
    sent = epcis_xml.to_json(epcis_xml.parse(raw))["epcisBody"]["eventList"]
    answer = member.post("/epcis/capture", content=raw, headers=XML)
    assert answer.status_code == 202, answer.text
    assert run_jobs() == 1
    job = member.get(answer.headers["Location"]).json()
    assert (job["success"], job["capturedCount"], job["errors"]) == (True, len(sent), [])
    stored = _events(member.get("/epcis/events", params={"perPage": 100}))
    assert len(stored) == len(sent)
    for given, kept in zip(sent, stored, strict=True):
        assert kept["eventID"].startswith("ni:///sha-256;") or kept["eventID"] == \
            given["eventID"]
        assert {k: v for k, v in kept.items() if k not in ("recordTime", "eventID")} == \
            {k: v for k, v in given.items() if k not in ("recordTime", "eventID")}
    as_xml = member.get("/epcis/events", params={"perPage": 100}, headers=WANT_XML)
    assert as_xml.headers["content-type"].startswith("application/xml")
    root = _valid_xml(as_xml.content)
    back = epcis_xml.to_json(root)["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert _normalised(back) == _normalised(stored)
    first = quote(stored[0]["eventID"], safe="")
    _valid_xml(member.get(f"/epcis/events/{first}", headers=WANT_XML).content)


def test_xml_events_gs1_hashes_alike_get_one_hash_id(
        world: World, client_for: Clients) -> None:
    """GS1's six "identical hash id" events: the second differs in its time-zone offset
    (GS1's reference generator gives it its own id too); the sixth differs only in what
    the JSON binding cannot tell apart (the generator also hashes xsi:type)."""
    member = client_for(world.a)
    paths = sorted((XML_DIR / "WithEventHashID").glob("*.xml"))
    assert len(paths) == 6
    reference = {p.name: hashlib.sha256(str(oracle_xml_pre_hashes(p.read_text("utf-8"))[0])
                                        .encode("utf-8")).hexdigest() for p in paths}
    assert reference[paths[0].name] == reference[paths[2].name] != reference[paths[1].name]
    answers = [member.post("/epcis/events", content=p.read_bytes(), headers=XML)
               for p in paths]
    assert [a.status_code for a in answers] == [201, 201, 409, 409, 409, 409]
    first = answers[0].json()["eventID"]
    assert first.startswith("ni:///sha-256;") and answers[2].json()["errors"][0][
        "eventID"] == first
    assert len(_events(member.get("/epcis/events"))) == 2


JSON_EXAMPLES = ["Example_9.6.1-ObjectEvent.jsonld", "Example_9.6.3-AggregationEvent.jsonld",
                 "Example_9.6.4-TransformationEvent.jsonld",
                 "WithSensorData/SensorDataExample1.jsonld",
                 "WithFullCombinationOfFields/transformation_event_all_possible_fields.jsonld"]


@pytest.mark.parametrize("name", JSON_EXAMPLES)
def test_json_in_xml_out_and_xml_in_json_out_give_the_same_events(
        name: str, world: World, client_for: Clients, run_jobs: Callable[[], int]) -> None:
    path = CONFORMANCE / "JSON" / name if CONFORMANCE else Path("missing")
    if not path.is_file():
        pytest.skip(f"{name} is not in the conformance folder")
    a, b = client_for(world.a), client_for(world.b)
    sent = json.loads(path.read_text("utf-8"))
    for event in sent["epcisBody"]["eventList"]:
        event.pop("eventID", None)
    assert a.post("/epcis/capture", json=sent).status_code == 202
    run_jobs()
    from_json = _events(a.get("/epcis/events"))
    xml_out = a.get("/epcis/events", headers=WANT_XML)
    root = _valid_xml(xml_out.content)
    # Sent back without the eventIDs: the XML capture computes the same hash ids.
    for element in root.iter("eventID"):
        element.getparent().remove(element)
    answer = b.post("/epcis/capture", content=etree.tostring(root), headers=XML)
    assert answer.status_code == 202, answer.text
    run_jobs()
    assert b.get(answer.headers["Location"]).json()["success"] is True
    from_xml = _events(b.get("/epcis/events"))
    assert _normalised(from_xml) == _normalised(from_json)


def test_one_xml_event_is_captured_synchronously_and_a_job_reads_as_xml(
        world: World, client_for: Clients) -> None:
    member = client_for(world.a)
    raw = (XML_DIR / "WithExtension" / "TransformationEvent.xml").read_bytes()
    created = member.post("/epcis/events", content=raw,
                          headers={"Content-Type": "text/xml; charset=utf-8"})
    assert created.status_code == 201, created.text
    one = member.get(created.headers["Location"], headers=WANT_XML)
    root = _valid_xml(one.content)
    assert [e.text for e in root.iter("eventID")] == [created.json()["eventID"]]
    two = (XML_DIR / "Example_9.6.1-ObjectEvent-2020_06_18a.xml").read_bytes()
    refused = member.post("/epcis/events", content=two, headers=XML)
    assert refused.status_code == 400 and "exactly one event" in refused.json()["detail"]
    job = member.post("/epcis/capture", content=two, headers={**XML, **WANT_XML})
    assert job.status_code == 202
    read = member.get(job.headers["Location"], headers=WANT_XML)
    assert read.headers["content-type"].startswith("application/xml")
    element = etree.fromstring(read.content)
    assert etree.QName(element).localname == "EPCISCaptureJob"
    assert element.get("captureID") == job.headers["Location"].rsplit("/", 1)[1]
    assert element.get("running") == "true"
    # JSON stays the default, and resources that have no XML form still refuse XML.
    assert member.get("/epcis/events").headers["content-type"].startswith("application/json")
    for url in ("/epcis", "/epcis/epcs", "/epcis/capture"):
        assert _problem(member.get(url, headers=WANT_XML), 406)["type"] == \
            "epcisException:NotAcceptableException"
    assert member.get("/epcis/epcs/urn:epc:id:sgtin:4012345.012345.987/events",
                      headers=WANT_XML).headers["content-type"].startswith("application/xml")


_MINIMAL = (b'<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0"'
            b' creationDate="2024-05-01T10:00:00Z"><EPCISBody><EventList><ObjectEvent>'
            b'<eventTime>%s</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>'
            b'<epcList><epc>urn:epc:id:sgtin:0614141.107346.1</epc></epcList>'
            b'%s</ObjectEvent></EventList></EPCISBody></epcis:EPCISDocument>')


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return dict(response.json())


def test_malformed_and_invalid_xml_are_refused_naming_the_fault(
        world: World, client_for: Clients) -> None:
    member = client_for(world.a)
    broken = _MINIMAL % (b"2024-05-01T10:00:00Z", b"<action>OBSERVE</action>")
    broken = broken.replace(b"</EventList>", b"</Eventlist>")
    body = _problem(member.post("/epcis/capture", content=broken, headers=XML), 400)
    assert "not well-formed XML" in body["detail"] and "line 1" in body["detail"]
    no_action = _MINIMAL % (b"2024-05-01T10:00:00Z", b"")
    body = _problem(member.post("/epcis/capture", content=no_action, headers=XML), 400)
    assert "XSD" in body["detail"] and "action" in body["detail"]
    assert body["errors"][0]["eventIndex"] == 0
    wrong_root = b'<EPCISDocument schemaVersion="2.0"/>'
    body = _problem(member.post("/epcis/events", content=wrong_root, headers=XML), 400)
    assert "root element" in body["detail"]
    _nothing_stored(member)


def test_an_xml_bomb_is_refused_unexpanded(world: World, client_for: Clients) -> None:
    member = client_for(world.a)
    entities = "".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10))
    bomb = (f'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">{entities}]>'
            ).encode() + _MINIMAL % (b"&lol9;", b"<action>OBSERVE</action>")
    body = _problem(member.post("/epcis/capture", content=bomb, headers=XML), 400)
    assert "entities" in body["detail"]
    _nothing_stored(member)


def test_external_entities_and_dtds_are_never_read(world: World, client_for: Clients,
                                                   tmp_path: Path) -> None:
    member = client_for(world.a)
    secret = tmp_path / "secret.txt"
    secret.write_text("2024-05-01T10:00:00Z-TOP-SECRET", "utf-8")
    entity = (f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY s SYSTEM "{secret.as_uri()}">]>'
              ).encode() + _MINIMAL % (b"&s;", b"<action>OBSERVE</action>")
    external_dtd = (f'<?xml version="1.0"?><!DOCTYPE d SYSTEM "{secret.as_uri()}">'
                    ).encode() + _MINIMAL % (b"2024-05-01T10:00:00Z",
                                             b"<action>OBSERVE</action>")
    for raw in (entity, external_dtd):
        for path in ("/epcis/capture", "/epcis/events"):
            answer = member.post(path, content=raw, headers=XML)
            body = _problem(answer, 400)
            assert "TOP-SECRET" not in answer.text
            assert "no external file or URL is read" in body["detail"]
    _nothing_stored(member)


def test_oversized_xml_is_refused(app: Any, world: World, client_for: Clients) -> None:
    member = client_for(world.a)
    raw = _MINIMAL % (b"2024-05-01T10:00:00Z", b"<action>OBSERVE</action>")
    app.state.settings = app.state.settings.model_copy(
        update={"epcis_capture_max_bytes": len(raw) - 1})
    body = _problem(member.post("/epcis/capture", content=raw, headers=XML), 413)
    assert "file-size limit" in body["detail"]
    _nothing_stored(member)


def test_prefers_xml_only_when_asked_above_json() -> None:
    assert epcis_xml.prefers_xml("application/xml")
    assert epcis_xml.prefers_xml("text/xml, application/json;q=0.5")
    assert not epcis_xml.prefers_xml("application/json, application/xml;q=0.9")
    assert not epcis_xml.prefers_xml("*/*")
    assert not epcis_xml.prefers_xml("application/xml;q=0")


def test_without_the_xsd_the_structure_is_checked(app: Any, world: World,
                                                  client_for: Clients) -> None:
    member = client_for(world.a)
    app.state.settings = app.state.settings.model_copy(update={"epcis_xsd": None})
    raw = (XML_DIR / "Example_9.6.1-ObjectEvent-2020_06_18a.xml").read_bytes()
    assert member.post("/epcis/capture", content=raw, headers=XML).status_code == 202
    no_action = _MINIMAL % (b"2024-05-01T10:00:00Z", b"")
    body = _problem(member.post("/epcis/events", content=no_action, headers=XML), 400)
    assert "XSD" not in body["detail"] and "action" in body["detail"]
    no_body = b'<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2"/>'
    body = _problem(member.post("/epcis/capture", content=no_body, headers=XML), 400)
    assert "EPCISBody" in body["detail"]
