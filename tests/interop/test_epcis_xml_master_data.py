"""Master data in XML headers: an XML EPCISDocument's
``EPCISHeader/extension/EPCISMasterData/VocabularyList`` is captured into the store the
JSON ``epcisHeader`` fills, shown by the top-level resources the same way, resolves a
location to a facility for the CoC profile, and comes back in XML as GS1's
EPCISMasterDataDocument, valid against GS1's XSD. GS1's files are read where they are."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy.orm import Session

from stewardship.core.config import Settings
from stewardship.interop.epcis import xml as epcis_xml
from stewardship.interop.epcis.master_data import FACILITY_ATTRIBUTE, LOCATION, READ_POINT
from stewardship.interop.epcis.xml_master import NS_MASTER_DATA
from tests import custody_world as cw
from tests.interop.conftest import CONFORMANCE, SCHEMA, World, needs_conformance
from tests.interop.test_profile import _balance
from tests.today import TODAY

pytestmark = needs_conformance
XSD = CONFORMANCE / "XSD" if CONFORMANCE else None
XML = {"Content-Type": "application/xml"}
WANT_XML = {"Accept": "application/xml"}
DAY = TODAY - timedelta(days=2)
GATE = "urn:epc:id:sgln:4012345.00001.0"
FULL = "WithFullCombinationOfFields/masterdata_all_possible_fields.xml"


@pytest.fixture
def epcis_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"epcis_schema": SCHEMA, "epcis_xsd": XSD})


def _master_data_xsd() -> etree.XMLSchema:
    assert XSD is not None
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(str(XSD / "EPCglobal-epcis-masterdata-2_0.xsd"),
                                       parser))


def _valid_master_data(body: bytes) -> etree._Element:
    root = etree.fromstring(body)
    schema = _master_data_xsd()
    assert schema.validate(root), str(schema.error_log)
    assert etree.QName(root) == etree.QName(NS_MASTER_DATA, "EPCISMasterDataDocument")
    return root


def _capture_xml(member: TestClient, raw: bytes, run_jobs: Callable[[], int]) -> dict[str, Any]:
    answer = member.post("/epcis/capture", content=raw, headers=XML)
    assert answer.status_code == 202, answer.text
    assert run_jobs() == 1
    return dict(member.get(answer.headers["Location"]).json())


def _production_xml(facility: str, kg: int, *, header: bool = True) -> bytes:
    master = f"""
  <EPCISHeader><extension><EPCISMasterData><VocabularyList>
    <Vocabulary type="{LOCATION}"><VocabularyElementList>
      <VocabularyElement id="{GATE}">
        <attribute id="urn:epcglobal:cbv:mda:name">Mine gate</attribute>
        <attribute id="{FACILITY_ATTRIBUTE}">{facility}</attribute>
        <attribute id="https://example.org/md/address"><ex:street>1 Pit Road</ex:street>
          <ex:town>Weipa</ex:town></attribute>
        <children><id>{GATE[:-1]}7</id></children>
      </VocabularyElement>
    </VocabularyElementList></Vocabulary>
    <Vocabulary type="{READ_POINT}"><VocabularyElementList>
      <VocabularyElement id="{GATE[:-1]}7">
        <attribute id="urn:epcglobal:cbv:mda:sst">201</attribute></VocabularyElement>
    </VocabularyElementList></Vocabulary>
  </VocabularyList></EPCISMasterData></extension></EPCISHeader>""" if header else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" xmlns:ex="https://example.org/md/"
    schemaVersion="2.0" creationDate="{DAY.isoformat()}T09:00:00Z">{master}
  <EPCISBody><EventList><ObjectEvent>
    <eventTime>{DAY.isoformat()}T08:00:00Z</eventTime>
    <eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
    <epcList/>
    <action>ADD</action>
    <bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep>
    <bizLocation><id>{GATE}</id></bizLocation>
    <quantityList><quantityElement>
      <epcClass>urn:stewardship:material:asi_bauxite</epcClass>
      <quantity>{kg}</quantity><uom>KGM</uom>
    </quantityElement></quantityList>
  </ObjectEvent></EventList></EPCISBody>
</epcis:EPCISDocument>""".encode()


def test_xml_master_data_names_the_facility_and_shows_as_json_and_xml(
        db: Session, client_for: Any, run_jobs: Callable[[], int]) -> None:
    w = cw.build(db)
    member: TestClient = client_for(w.mine.user)
    # Without the header the location is no facility of ours: the event is refused.
    refused = _capture_xml(member, _production_xml(w.mine.facility, 3000, header=False),
                           run_jobs)
    assert refused["success"] is False
    assert "bizLocation" in refused["errors"][0]["detail"]
    assert _balance(db, w.mine, "asi_bauxite") == 0
    job = _capture_xml(member, _production_xml(w.mine.facility, 3000), run_jobs)
    assert job["success"], job
    assert "production" in job["ledger"][0]["effect"]
    assert _balance(db, w.mine, "asi_bauxite") == 3000

    url = f"/epcis/bizLocations/{quote(GATE, safe='')}"
    shown = member.get(url)
    assert shown.status_code == 200, shown.text
    [element] = shown.json()["masterData"]
    assert (element["type"], element["id"], element["children"]) == (
        LOCATION, GATE, [GATE[:-1] + "7"])
    attributes = {a["id"]: a["attribute"] for a in element["attributes"]}
    assert attributes[FACILITY_ATTRIBUTE] == w.mine.facility
    assert attributes["urn:epcglobal:cbv:mda:name"] == "Mine gate"
    address = attributes["https://example.org/md/address"]
    prefix = next(p for p, iri in address["@context"].items()
                  if iri == "https://example.org/md/")
    assert address[f"{prefix}:street"] == "1 Pit Road"
    # The read point's vocabulary is there too, under /readPoints.
    point = member.get(f"/epcis/readPoints/{quote(GATE[:-1] + '7', safe='')}").json()
    assert point["masterData"][0]["attributes"] == [
        {"id": "urn:epcglobal:cbv:mda:sst", "attribute": "201"}]

    as_xml = member.get(url, headers=WANT_XML)
    assert as_xml.status_code == 200, as_xml.text
    assert as_xml.headers["content-type"].startswith("application/xml")
    root = _valid_master_data(as_xml.content)
    [vocabulary] = root.findall("EPCISBody/VocabularyList/Vocabulary")
    assert vocabulary.get("type") == LOCATION
    [xml_element] = vocabulary.findall("VocabularyElementList/VocabularyElement")
    assert xml_element.get("id") == GATE
    values = {a.get("id"): a for a in xml_element.findall("attribute")}
    assert values[FACILITY_ATTRIBUTE].text == w.mine.facility
    street = values["https://example.org/md/address"].find("{https://example.org/md/}street")
    assert street is not None and street.text == "1 Pit Road"
    assert [i.text for i in xml_element.findall("children/id")] == [GATE[:-1] + "7"]
    # Another member sees neither form of it.
    other = client_for(w.smelter.user)
    assert other.get(url).status_code == 404
    assert other.get(url, headers=WANT_XML).status_code == 404


def test_gs1s_master_data_example_is_kept_as_sent(world: World, client_for: Any,
                                                  run_jobs: Callable[[], int]) -> None:
    assert CONFORMANCE is not None
    raw = (CONFORMANCE / "XML" / FULL).read_bytes()
    sent = epcis_xml.to_json(epcis_xml.parse(raw))
    vocabularies = sent["epcisHeader"]["epcisMasterData"]["vocabularyList"]
    assert [v["type"] for v in vocabularies] == [LOCATION, READ_POINT]
    member = client_for(world.a)
    job = _capture_xml(member, raw, run_jobs)
    assert job["success"], job
    location = vocabularies[0]["vocabularyElementList"][0]["id"]
    url = f"/epcis/bizLocations/{quote(location, safe='')}"
    [element] = member.get(url).json()["masterData"]
    attributes = [a for a in element["attributes"]]
    ids = [a["id"] for a in attributes]
    assert ids.count("http://example.com/ext1#array") == 2  # repeated attributes stay two
    assert attributes[0] == {"id": "http://example.com/ext1#string", "attribute": "stringValue"}
    nested = next(a["attribute"] for a in attributes if a["id"].endswith("#object2"))
    assert nested["@context"]["ext1"] == "http://example.com/ext1/"
    assert nested["ext1:int"] == "10" and nested["ext1:object"]["ext2:object"] == {
        "ext3:string": "stringInObjectInObject"}
    assert element["children"] == ["urn:epc:id:sgln:0037000.00729.8201"]
    # The master data document in XML: valid, the nested values in their namespaces.
    root = _valid_master_data(member.get(url, headers=WANT_XML).content)
    found = root.findall(".//{http://example.com/ext3/}string")
    assert [e.text for e in found] == ["stringInObjectInObject",
                                       "stringInObjectInObjectInArray"]
    # An EPCISQueryDocument with events and no header keeps reading as before.
    assert "epcisHeader" not in epcis_xml.to_json(epcis_xml.parse(
        (CONFORMANCE / "XML" / "Example_9.6.1-ObjectEvent-2020_06_18a.xml").read_bytes()))


def test_a_location_without_master_data_is_an_empty_document_in_xml(
        world: World, client_for: Any, run_jobs: Callable[[], int]) -> None:
    assert CONFORMANCE is not None
    member = client_for(world.a)
    raw = (CONFORMANCE / "XML" / "Example_9.6.1-ObjectEvent-2020_06_18a.xml").read_bytes()
    assert _capture_xml(member, raw, run_jobs)["success"]
    url = f"/epcis/bizLocations/{quote('urn:epc:id:sgln:0012345.11111.0', safe='')}"
    assert member.get(url).json() == {
        "@context": "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
        "type": "Collection", "member": ["events"]}
    root = _valid_master_data(member.get(url, headers=WANT_XML).content)
    assert root.findall("EPCISBody/VocabularyList/Vocabulary") == []
    # Resources that hold no master data still send JSON only.
    refused = member.get("/epcis/bizSteps/shipping", headers=WANT_XML)
    assert refused.status_code == 406
