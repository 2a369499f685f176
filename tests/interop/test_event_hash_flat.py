"""The pre-hash string written straight from a flat event is the one the tree gives, the
index terms the same pass collects are the ones ``index_terms`` gives, and the memoised
SGTIN/LGTIN Digital Links and canonical times are the general ones."""

from __future__ import annotations

import json
from typing import Any

import pytest

import stewardship.interop.epcis.rules as event_hash
from stewardship.interop import rules
from tests.interop.conftest import CONFORMANCE, needs_conformance

PREFIXES = {"ex": "https://example.com/ns/", "gs1": "https://gs1.org/voc/"}

EVENTS: list[dict[str, Any]] = [
    {"type": "ObjectEvent", "eventTime": "2025-06-01T08:00:00.000Z",
     "eventTimeZoneOffset": "+00:00", "action": "OBSERVE", "bizStep": "shipping",
     "disposition": "in_transit",
     "epcList": ["urn:epc:id:sgtin:0614141.107346.2018", "urn:epc:id:sgtin:0614141.107346.17"],
     "readPoint": {"id": "urn:epc:id:sgln:0614141.00777.0"},
     "bizLocation": {"id": "urn:epc:id:sgln:0614141.00888.0"}},
    {"type": "ObjectEvent", "eventTime": "2025-06-01T10:00:00.12345+02:00",
     "eventTimeZoneOffset": "+02:00", "action": "ADD", "bizStep": "ex:custom",
     "disposition": "urn:epcglobal:cbv:disp:active", "epcList": ["", "  ", "ex:thing"],
     "eventID": "urn:uuid:1", "recordTime": "2025-06-02T00:00:00Z",
     "rdfs:comment": "left out", "@context": ["https://example.com/context"]},
    {"type": "AggregationEvent", "eventTime": "2025-13-01T08:00:00.000Z",
     "eventTimeZoneOffset": "-05:00", "parentID": "urn:epc:id:sscc:0614141.1234567890",
     "childEPCs": ["https://id.gs1.org/01/09521141123454/21/x?y=1"], "action": "ADD",
     "bizStep": "urn:epcglobal:cbv:bizstep:packing", "readPoint": {"id": ""}},
    {"type": "TransformationEvent", "eventTime": "2025-06-01T08:00:00Z",
     "eventTimeZoneOffset": "+00:00", "transformationID": "urn:uuid:42",
     "inputEPCList": ["urn:epc:class:lgtin:4012345.012345.998877",
                      "urn:epc:id:sgtin:4012345.011111.a.b"],
     "outputEPCList": ["urn:epc:id:sgtin:4012345.0.1", "urn:epc:id:sgtin:4012345.011111."],
     "epcList": []},
    {"type": "ObjectEvent", "eventTime": " 2025-06-01T08:00:00.000Z ", "action": "12.50",
     "eventTimeZoneOffset": "+00:00", "epcList": ["urn:epc:id:sgtin:0614141.107346.0012"]},
]


@pytest.mark.parametrize("event", EVENTS)
def test_a_flat_event_is_written_as_its_tree(event: dict[str, Any]) -> None:
    writer = event_hash._Writer(rules._hash_id_value, rules.canonical_time)
    flat = writer.flat_pre_hash(event, PREFIXES)
    assert flat is not None
    assert flat == writer.pre_hash(event_hash.event_tree(event, PREFIXES))


@pytest.mark.parametrize("event", [
    {"type": "ObjectEvent", "eventTime": "2025-06-01T08:00:00Z", "ex:temperature": "20"},
    {"type": "ObjectEvent", "eventTime": "2025-06-01T08:00:00Z",
     "readPoint": {"id": "urn:x", "ex:more": "y"}},
    {"type": "ObjectEvent", "eventTime": "2025-06-01T08:00:00Z", "epcList": [1, 2]},
    {"type": "ObjectEvent", "eventTime": "2025-06-01T08:00:00Z",
     "quantityList": [{"epcClass": "urn:x", "quantity": 1}]},
    {"type": "ObjectEvent", "eventTime": "2025-06-01T08:00:00Z",
     "errorDeclaration": {"declarationTime": "2025-06-01T08:00:00Z"}},
])
def test_other_events_take_the_tree(event: dict[str, Any]) -> None:
    writer = event_hash._Writer(rules._hash_id_value, rules.canonical_time)
    assert writer.flat_pre_hash(event, PREFIXES) is None


@pytest.mark.parametrize("epc", [
    "urn:epc:id:sgtin:0614141.107346.2018", "urn:epc:id:sgtin:0614141.107346.a.b",
    "urn:epc:id:sgtin:0614141.107346.", "urn:epc:id:sgtin:0614141.107346",
    "urn:epc:id:sgtin:061414x.107346.1", "urn:epc:class:lgtin:4012345.012345.998877",
    "urn:epc:class:lgtin:4012345.012345.99%2F88", "urn:epc:id:sgtin:0614141.107346.1\n2",
])
def test_memoised_digital_links_are_the_general_ones(epc: str) -> None:
    assert rules._hash_id_value(epc) == rules._canonical_uri(epc)


@pytest.mark.parametrize("moment", [
    "2025-06-01T08:00:00.000Z", "2025-02-30T08:00:00.000Z", "2025-06-01T08:00:00.0005Z",
    "2025-06-01T23:59:59.999+01:00", "2025-06-01T08:00:00Z"])
def test_canonical_times_already_canonical_are_kept(moment: str) -> None:
    assert rules.canonical_time(moment) == rules.canonical_time(moment + " ")


# Events whose EPCs the index reads in other forms: spaces, prefixes, other schemes, a
# parent, the same EPC twice.
INDEXED: list[dict[str, Any]] = [
    *EVENTS,
    {"type": "AggregationEvent", "eventTime": "2025-06-01T08:00:00.000Z",
     "eventTimeZoneOffset": "+00:00", "action": "ADD", "parentID": " urn:epc:id:sscc:0614141.1",
     "childEPCs": [" urn:epc:id:sgtin:0614141.107346.1", "urn:epc:id:sgtin:0614141.107346.1",
                   "urn:epc:id:sgtin:0614141.107346.1", "https://id.gs1.org/414/9521141123454",
                   "urn:uuid:5", "gs1:thing", "urn:epc:id:giai:4000001.111"]},
    {"type": "ObjectEvent", "eventTime": "2025-06-01T08:00:00.000Z", "action": "OBSERVE",
     "eventTimeZoneOffset": "+00:00", "epcList": ["urn:epc:id:sgtin:0614141.107346.x\n"],
     "parentID": "https://example.com/01/09521141123454/21/7"},
    {"type": "ObjectEvent", "eventTime": "2025-06-01T08:00:00.000Z", "action": "OBSERVE",
     "eventTimeZoneOffset": "+00:00", "epcList": ["ex:a"],
     "@context": [{"ex": "urn:epc:id:sgtin:0614141.107346."}]},
]


@pytest.mark.parametrize("event", INDEXED)
@pytest.mark.parametrize("prefixes", [PREFIXES, {}])
def test_one_pass_gives_the_hash_id_and_the_index_terms(event: dict[str, Any],
                                                        prefixes: dict[str, str]) -> None:
    declared = {**prefixes, **rules.declared_prefixes(event.get("@context"))}
    tree = event_hash._Writer(rules._hash_id_value, rules.canonical_time).pre_hash(
        event_hash.event_tree(event, declared))
    stored = {k: v for k, v in event.items() if k != "@context"}
    for hashed in (True, False):
        found = rules.flat_event(event, prefixes, hashed)
        assert found is not None
        hash_id, terms = found
        assert hash_id == (event_hash.hash_id(tree) if hashed else None)
        assert terms == rules.index_terms(stored)


@needs_conformance
def test_every_flat_gs1_example_event_gives_the_same_id_and_terms() -> None:
    assert CONFORMANCE is not None
    flat = 0
    for path in sorted((CONFORMANCE / "JSON").rglob("*.jsonld")):
        document = json.loads(path.read_text("utf-8"))
        prefixes = rules.declared_prefixes(document.get("@context"))
        for event in rules.event_list(document) or []:
            found = rules.flat_event(event, prefixes, True)
            if found is None:
                continue
            flat += 1
            stored = {k: v for k, v in event.items() if k != "@context"}
            assert found == (rules.event_hash_id(event, prefixes), rules.index_terms(stored))
            assert event_hash._writer(rules._hash_id_value, rules.canonical_time).pre_hash(
                event_hash.event_tree(event, {**prefixes, **rules.declared_prefixes(
                    event.get("@context"))})) == rules.pre_hash(event, prefixes)
    assert flat > 0
