"""The CBV 2.0 event hash id against GS1's reference implementation
(``epcis-event-hash-generator``, a dev dependency) as the oracle: over every event of GS1's
JSON and XML examples, and over events written to reach each rule.

The oracle reads a document whole and skips, without a word, any event it cannot read; it
is asked here one event at a time so that each of its answers is matched to its event."""

from __future__ import annotations

import copy
import json
import logging
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import pytest

from stewardship.interop import rules
from tests.interop.conftest import CONFORMANCE, needs_conformance

oracle = pytest.importorskip("epcis_event_hash_generator.hash_generator")
oracle_json = pytest.importorskip("epcis_event_hash_generator.json_to_py")
oracle_xml = pytest.importorskip("epcis_event_hash_generator.xml_to_py")
oracle_model = pytest.importorskip("epcis_event_hash_generator.json_xml_model_mismatch_correction")

STANDARD_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
# Prefixes the standard context protects: JSON-LD refuses a document that redefines them.
_PROTECTED = frozenset({"epcis", "cbv", "cbvmda", "gs1", "rdfs", "owl", "xsd", "dcterms"})


def _quiet() -> None:
    logging.getLogger().setLevel(logging.CRITICAL)


def oracle_pre_hashes(document: dict[str, Any]) -> list[str | None]:
    """The oracle's pre-hash string of each event of a JSON document (None where it has
    none). Its reading of a document is taken step by step, so that it reads what GS1 wrote
    where its whole-document reader stops: the event list of a query document, a context
    entry that is an object (it takes only strings), a protected prefix redefined (JSON-LD
    refuses the document; the prefix still names the extensions' namespace)."""
    _quiet()
    events = rules.event_list(document) or []
    context = document.get("@context")
    items = context if isinstance(context, list) else [context]
    for_expansion = [item if isinstance(item, str) else
                     {k: v for k, v in item.items() if k not in _PROTECTED}
                     for item in items if item is not None]
    namespaces = [item if isinstance(item, str) else
                  {k: v for k, v in item.items() if isinstance(v, str)}
                  for item in items if item is not None]
    out: list[str | None] = []
    for event in events:
        single = {"@context": for_expansion, "type": "EPCISDocument",
                  "epcisBody": {"eventList": [copy.deepcopy(event)]}}
        expanded = oracle_json._bare_string_pre_preocessing(single)
        oracle_json._namespaces.clear()
        oracle_json._collect_namespaces_from_jsonld_context(namespaces)
        try:
            tree = oracle_model.deep_structure_correction(
                oracle_json._json_to_py(expanded["epcisBody"]["eventList"][0]))
        except IndexError:  # a typed entry without its type
            out.append(None)
            continue
        found = oracle.derive_prehashes_from_events(("EventList", "", [tree]))
        out.append(found[0] if found else None)
    return out


def oracle_xml_pre_hashes(text: str) -> list[str | None]:
    _quiet()
    root = ElementTree.fromstring(text.replace("<extension>", "").replace("</extension>", "")
                                  .replace("<baseExtension>", "")
                                  .replace("</baseExtension>", ""))
    event_list = root.find("*EventList")
    out: list[str | None] = []
    for element in list(event_list) if event_list is not None else []:
        try:
            tree = oracle_xml._expand_value_prefix(oracle_xml._xml_to_py(element))
        except IndexError:  # a typed entry without its type
            out.append(None)
            continue
        found = oracle.derive_prehashes_from_events(("EventList", "", [tree]))
        out.append(found[0] if found else None)
    return out


def _json_examples() -> list[Path]:
    if CONFORMANCE is None:
        return []
    return [*sorted((CONFORMANCE / "JSON").rglob("*.jsonld")),
            CONFORMANCE / "XML" / "WithEventHashID" / "event_with_identical_hash_id_7.json"]


def _xml_examples() -> list[Path]:
    return sorted((CONFORMANCE / "XML").rglob("*.xml")) if CONFORMANCE else []


def _xml_events(path: Path) -> list[ElementTree.Element]:
    root = ElementTree.fromstring(path.read_text("utf-8"))
    event_list = root.find("*EventList")
    return list(event_list) if event_list is not None else []


def _name(path: Path) -> str:
    return str(path.relative_to(CONFORMANCE)) if CONFORMANCE else path.name


# Events the oracle cannot hash at all: a bizTransaction without a type (its reading of a
# typed entry needs the type). Ours hashes them like any other (the value alone).
NO_ORACLE_ANSWER = {("JSON/Example-TransactionEvents-2020_07_03y.jsonld", 0),
                    ("JSON/Example-TransactionEvents-2020_07_03y.jsonld", 1),
                    ("XML/Example-TransactionEvent-2020_07_03y.xml", 0),
                    ("XML/Example-TransactionEvent-2020_07_03y.xml", 1)}


@needs_conformance
@pytest.mark.parametrize("path", _json_examples(), ids=_name)
def test_every_json_example_event_hashes_as_the_reference_does(path: Path) -> None:
    document = json.loads(path.read_text("utf-8"))
    events = rules.event_list(document) or []
    assert events, "an example without events"
    prefixes = rules.declared_prefixes(document.get("@context"))
    for index, (event, expected) in enumerate(zip(events, oracle_pre_hashes(document),
                                                  strict=True)):
        ours = rules.pre_hash(event, prefixes)
        if expected is None:
            assert (_name(path), index) in NO_ORACLE_ANSWER, f"the oracle fails event {index}"
            continue
        assert ours == expected, f"event {index}"
        assert rules.event_hash_id(event, prefixes) == \
            oracle.calculate_hashes_from_pre_hashes([expected])[0]


@needs_conformance
@pytest.mark.parametrize("path", _xml_examples(), ids=_name)
def test_every_xml_example_event_hashes_as_the_reference_does(path: Path) -> None:
    text = path.read_text("utf-8")
    elements = _xml_events(path)
    expected_all = oracle_xml_pre_hashes(text)
    assert len(expected_all) == len(elements)
    for index, (element, expected) in enumerate(zip(elements, expected_all, strict=True)):
        if expected is None:
            assert (_name(path), index) in NO_ORACLE_ANSWER, f"the oracle fails event {index}"
            continue
        assert rules.xml_pre_hash(element) == expected, f"event {index}"


@needs_conformance
def test_every_example_event_was_compared() -> None:
    """The examples hold 57 JSON events and 60 XML events; all but the four the oracle
    cannot read have an answer to compare with."""
    json_events = sum(len(rules.event_list(json.loads(p.read_text("utf-8"))) or [])
                      for p in _json_examples())
    xml_events = sum(len(_xml_events(p)) for p in _xml_examples())
    assert (json_events, xml_events) == (57, 60)


@needs_conformance
def test_gs1s_identical_hash_id_examples_hash_alike() -> None:
    """``XML/WithEventHashID``: the base event (1) and the ones written differently
    (3: EPCs in another order, 4: quantities in another order, 5: another prefix for the
    same extension namespace) share one id; 2 has another
    eventTimeZoneOffset and 6 an explicit ``xsi:type``, which the hash reads, as the
    reference does; the JSON twin (7) carries no ``xsi:type`` on its extensions."""
    assert CONFORMANCE is not None
    folder = CONFORMANCE / "XML" / "WithEventHashID"
    ids = {}
    for n in range(1, 7):
        [element] = _xml_events(folder / f"event_with_identical_hash_id_{n}.xml")
        ids[n] = rules.xml_pre_hash(element)
        [expected] = oracle_xml_pre_hashes(
            (folder / f"event_with_identical_hash_id_{n}.xml").read_text("utf-8"))
        assert ids[n] == expected
    assert ids[1] == ids[3] == ids[4] == ids[5]
    assert ids[2] != ids[1] and ids[6] != ids[1]
    assert ids[2].replace("eventTimeZoneOffset=-05:00", "eventTimeZoneOffset=-06:00") == ids[1]


CONTEXT = [STANDARD_CONTEXT, {"ex": "https://ex.example/", "example": "https://ns.example.com/epcis/"}]


def _document(*events: dict[str, Any]) -> dict[str, Any]:
    return {"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2024-01-01T00:00:00Z", "epcisBody": {"eventList": list(events)}}


WRITTEN = [
    {"type": "ObjectEvent", "eventTime": "2020-03-04T11:00:30+01:00",
     "eventTimeZoneOffset": "+01:00", "epcList": ["urn:epc:id:sgtin:0614141.011111.987"],
     "action": "OBSERVE", "bizStep": "departing", "disposition": "in_transit",
     "readPoint": {"id": "urn:epc:id:sgln:4012345.00011.0", "example:myField1": "AB-12"},
     "bizTransactionList": [{"type": "po", "bizTransaction": "urn:epc:id:gdti:4012345.11111.123"},
                            {"type": "inv", "bizTransaction": "urn:epc:id:gdti:4012345.11111.9"}],
     "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:4012345.00000"},
                    {"type": "location", "source": "urn:epc:id:sgln:4012345.00011.0"}],
     "destinationList": [{"type": "possessing_party",
                          "destination": "urn:epc:id:pgln:0614141.00000"}],
     "example:userExt": "CD-34", "quantityList": [
         {"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": 200.0,
          "uom": "KGM"}]},
    {"type": "TransformationEvent", "eventTime": "2024-01-01T10:00:00+10:30",
     "eventTimeZoneOffset": "+10:30", "certificationInfo": ["https://cert.example.com/b",
                                                             "https://cert.example.com/a"],
     "inputEPCList": ["ex:in1"], "outputEPCList": ["ex:out2", "ex:out1"],
     "inputQuantityList": [{"epcClass": "ex:iq", "quantity": "3.50", "uom": "KGM"}],
     "outputQuantityList": [{"epcClass": "ex:oq", "quantity": 4}],
     "transformationID": "ex:t1", "bizStep": "ex:melt",
     "persistentDisposition": {"set": ["ex:d1"], "unset": ["active"]},
     "ilmd": {"ex:lot": "L-7", "ex:mass": {"ex:kg": 1500, "ex:note": "first"}}},
    {"type": "AggregationEvent", "eventTime": "2024-01-01T10:00:00.1239Z",
     "eventTimeZoneOffset": "+00:00", "parentID": "urn:epc:id:sscc:4012345.1112223334",
     "childEPCs": ["urn:epc:id:sgtin:0614141.011111.2", "urn:epc:id:sgtin:0614141.011111.1"],
     "childQuantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.012345.1", "quantity": 2}],
     "action": "ADD", "bizLocation": {"id": "ex:site", "ex:dock": "4"},
     "sensorElementList": [{"sensorMetadata": {"time": "2024-01-01T11:00:00+01:00",
                                               "deviceID": "ex:dev", "example:x": "1"},
                            "sensorReport": [{"type": "Temperature", "value": 2.50, "uom": "CEL"},
                                             {"type": "RelativeHumidity", "value": 1, "uom": "A93",
                                              "component": "x"},
                                             {"type": "ex:Colour", "stringValue": "red"}]}],
     "rdfs:comment": "comments are left out", "eventID": "urn:uuid:left-out",
     "recordTime": "2024-01-02T00:00:00Z"},
]


@pytest.mark.parametrize("event", WRITTEN, ids=[e["type"] for e in WRITTEN])
def test_events_that_reach_each_rule_hash_as_the_reference_does(event: dict[str, Any]) -> None:
    document = _document(event)
    [expected] = oracle_pre_hashes(document)
    prefixes = rules.declared_prefixes(CONTEXT)
    assert rules.pre_hash(event, prefixes) == expected
    # Key order and list order do not change it.
    assert rules.pre_hash(_reversed(event), prefixes) == expected


def _reversed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reversed(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reversed(v) for v in reversed(value)]
    return value


def test_an_events_own_context_declares_its_prefixes() -> None:
    event = {"@context": [{"ex": "https://ex.example/"}], "type": "ObjectEvent",
             "eventTime": "2024-01-01T00:00:00Z", "eventTimeZoneOffset": "+00:00",
             "action": "OBSERVE", "epcList": ["ex:a"], "ex:colour": "red"}
    assert rules.pre_hash(event) == (
        "eventType=ObjectEventeventTime=2024-01-01T00:00:00.000ZeventTimeZoneOffset=+00:00"
        "epcListepc=https://ex.example/aaction=OBSERVE{https://ex.example/}colour=red")
