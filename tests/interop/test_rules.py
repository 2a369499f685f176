"""The pure EPCIS rules: the CBV 2.0 event hash id, identifiers, the query language."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stewardship.interop import rules
from tests.interop.conftest import CONFORMANCE, object_event


def test_timestamps_are_utc_milliseconds_rounded_half_up() -> None:
    assert rules.canonical_time("2005-04-04T20:33:31.116-06:00") == "2005-04-05T02:33:31.116Z"
    assert rules.canonical_time("2020-03-04T11:00:30+01:00") == "2020-03-04T10:00:30.000Z"
    assert rules.canonical_time("2020-03-04T11:00:30.1234999Z") == "2020-03-04T11:00:30.123Z"
    assert rules.canonical_time("2020-03-04T11:00:30.9995Z") == "2020-03-04T11:00:31.000Z"
    assert rules.parse_time("2005-04-03T20:33:31.116000-06:00") == \
        datetime(2005, 4, 4, 2, 33, 31, 116000, tzinfo=UTC)
    with pytest.raises(ValueError):
        rules.parse_time("2005-04-03T20:33:31")


def test_epc_urns_become_canonical_digital_links_with_check_digits() -> None:
    px = dict(rules.DEFAULT_PREFIXES)
    assert rules.canonical_id("urn:epc:id:sgtin:0614141.011111.987", px) == \
        "https://id.gs1.org/01/00614141111114/21/987"
    assert rules.canonical_id("urn:epc:id:sgln:4012345.00011.0", px) == \
        "https://id.gs1.org/414/4012345000115"
    assert rules.canonical_id("urn:epc:id:sgln:4012345.00011.987", px) == \
        "https://id.gs1.org/414/4012345000115/254/987"
    assert rules.canonical_id("urn:epc:id:pgln:4012345.00000", px) == \
        "https://id.gs1.org/417/4012345000009"
    assert rules.canonical_id("urn:epc:id:gdti:4012345.11111.123", px) == \
        "https://id.gs1.org/253/4012345111118123"
    assert rules.canonical_id("urn:epc:id:sscc:4012345.1112223334", px) == \
        "https://id.gs1.org/00/140123451122233341"
    assert rules.canonical_id("urn:epc:class:lgtin:4012345.012345.998877", px) == \
        "https://id.gs1.org/01/04012345123456/10/998877"
    assert rules.canonical_id("https://example.com/shop/01/09521234543213/21/x?a=b", px) == \
        "https://id.gs1.org/01/09521234543213/21/x"
    assert rules.canonical_id("urn:epcglobal:cbv:bizstep:receiving", px) == \
        "https://ref.gs1.org/cbv/BizStep-receiving"
    assert rules.canonical_id("gs1:Temperature", px) == "https://gs1.org/voc/Temperature"


def test_cbv_values_have_one_short_form() -> None:
    for value in ("shipping", "urn:epcglobal:cbv:bizstep:shipping",
                  "https://ref.gs1.org/cbv/BizStep-shipping", "cbv:BizStep-shipping"):
        assert rules.cbv_short(value, "BizStep") == "shipping"
    assert rules.cbv_short("urn:epcglobal:cbv:disp:in_transit", "Disp") == "in_transit"
    assert rules.cbv_short("https://example.com/steps/melt", "BizStep") == \
        "https://example.com/steps/melt"


def test_the_pre_hash_string_follows_the_canonical_order() -> None:
    event = {
        "type": "ObjectEvent", "eventTime": "2020-03-04T11:00:30+01:00",
        "eventTimeZoneOffset": "+01:00", "epcList": ["urn:epc:id:sgtin:0614141.011111.987"],
        "action": "OBSERVE", "bizStep": "departing", "disposition": "in_transit",
        "readPoint": {"id": "urn:epc:id:sgln:4012345.00011.0", "example:myField1": "AB-12"},
        "bizTransactionList": [{"type": "po",
                                "bizTransaction": "urn:epc:id:gdti:4012345.11111.123"}],
        "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:4012345.00000"}],
        "example:userExt": "CD-34", "quantityList": [
            {"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": 200.0,
             "uom": "KGM"}],
    }
    prefixes = rules.context_prefixes([{"example": "https://ns.example.com/epcis/"}])
    assert rules.pre_hash(event, prefixes) == (
        "eventType=ObjectEvent"
        "eventTime=2020-03-04T10:00:30.000Z"
        "eventTimeZoneOffset=+01:00"
        "epcListepc=https://id.gs1.org/01/00614141111114/21/987"
        "quantityListquantityElementepcClass=https://id.gs1.org/01/04012345123456/10/998877"
        "quantity=200uom=KGM"
        "action=OBSERVE"
        "bizStep=https://ref.gs1.org/cbv/BizStep-departing"
        "disposition=https://ref.gs1.org/cbv/Disp-in_transit"
        "readPointid=https://id.gs1.org/414/4012345000115"
        "{https://ns.example.com/epcis/}myField1=AB-12"
        "bizTransactionListbizTransaction=https://id.gs1.org/253/4012345111118123"
        "type=https://ref.gs1.org/cbv/BTT-po"
        "sourceListsource=https://id.gs1.org/417/4012345000009"
        "type=https://ref.gs1.org/cbv/SDT-owning_party"
        "{https://ns.example.com/epcis/}userExt=CD-34")
    assert rules.event_hash_id(event, prefixes).startswith("ni:///sha-256;")
    assert rules.event_hash_id(event, prefixes).endswith("?ver=CBV2.0")


def _examples() -> list[tuple[dict[str, Any], dict[str, str]]]:
    found = []
    for path in sorted((CONFORMANCE / "JSON").rglob("*.jsonld")) if CONFORMANCE else []:
        document = json.loads(path.read_text("utf-8"))
        for event in rules.event_list(document) or []:
            found.append((event, rules.context_prefixes(document.get("@context"))))
    return found


EXAMPLES = _examples()


def _shuffled(value: Any) -> Any:
    """The same JSON with every object's keys and every list reversed."""
    if isinstance(value, dict):
        return {k: _shuffled(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_shuffled(v) for v in reversed(value)]
    return value


@pytest.mark.skipif(not EXAMPLES, reason="GS1's conformance examples are not beside this "
                    "checkout (shared/conformance/epcis)")
def test_the_hash_id_ignores_order_and_sees_every_change_in_the_gs1_examples() -> None:
    by_id: dict[str, list[dict[str, Any]]] = {}
    for event, prefixes in EXAMPLES:
        eid = rules.event_hash_id(event, prefixes)
        # Same content, another order, another way of writing standard values: same id.
        assert rules.event_hash_id(_shuffled(event), prefixes) == eid
        without = {k: v for k, v in event.items() if k not in ("eventID", "recordTime")}
        assert rules.event_hash_id(without, prefixes) == eid
        # Different content: different id.
        changed = copy.deepcopy(event)
        changed["eventTime"] = "1999-01-01T00:00:00Z"
        assert rules.event_hash_id(changed, prefixes) != eid
        by_id.setdefault(eid, []).append(event)
    # GS1 repeats some events across files (the query document, the commented copy, the
    # Digital Link twins): they share an id only where they are the same event, up to
    # what the hash leaves out and the URN / Digital Link spelling of identifiers.
    ignored = ("eventID", "recordTime", "errorDeclaration", "rdfs:comment", "comment")
    px = dict(rules.DEFAULT_PREFIXES)

    def spelled_alike(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: spelled_alike(v) for k, v in value.items() if k not in ignored}
        if isinstance(value, list):
            return [spelled_alike(v) for v in value]
        return rules.canonical_id(value, px) if isinstance(value, str) else value

    for eid, same in by_id.items():
        contents = {json.dumps(spelled_alike(e), sort_keys=True) for e in same}
        assert len(contents) == 1, (eid, contents)
    assert len(by_id) > 40


def test_urn_and_web_uri_forms_hash_alike() -> None:
    bare = object_event(bizStep="shipping", disposition="in_transit")
    urn = object_event(bizStep="urn:epcglobal:cbv:bizstep:shipping",
                       disposition="urn:epcglobal:cbv:disp:in_transit")
    assert rules.event_hash_id(bare) == rules.event_hash_id(urn)
    assert rules.event_hash_id(bare) != rules.event_hash_id(object_event(2))


values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                      lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.from_regex(r"ex:[a-z]{1,4}", fullmatch=True), inner,
                                        max_size=3), max_leaves=6)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.from_regex(r"ex:[a-z]{1,5}", fullmatch=True), values, max_size=4),
       st.lists(st.integers(1, 10**6), min_size=1, max_size=5, unique=True))
def test_extensions_and_lists_hash_order_independently(extensions: dict[str, Any],
                                                       serials: list[int]) -> None:
    event = object_event(epcList=[f"urn:epc:id:sgtin:0614141.107346.{s}" for s in serials],
                         **extensions)
    prefixes = rules.context_prefixes([{"ex": "https://example.com/ns/"}])
    assert rules.event_hash_id(_shuffled(event), prefixes) == \
        rules.event_hash_id(event, prefixes)
    fewer = dict(event, epcList=event["epcList"][1:])
    assert rules.event_hash_id(fewer, prefixes) != rules.event_hash_id(event, prefixes)


def test_query_parameters_are_parsed_and_unknown_ones_refused() -> None:
    query = rules.parse_query([
        ("eventType", "ObjectEvent|TransformationEvent"),
        ("GE_eventTime", "2024-05-01T00:00:00 02:00"),  # an unencoded "+" arrives as " "
        ("EQ_bizStep", "urn:epcglobal:cbv:bizstep:shipping|receiving"),
        ("MATCH_anyEPC", "urn:epc:idpat:sgtin:0614141.107346.*"),
        ("MATCH_epcClass", "urn:epc:idpat:sgtin:4012345.012345.*"),
        ("perPage", "5")], per_page_default=30, per_page_max=100)
    assert query.event_types == ("ObjectEvent", "TransformationEvent")
    assert query.ge_event_time == datetime(2024, 4, 30, 22, 0, tzinfo=UTC)
    assert query.biz_steps == ("shipping", "receiving")
    assert query.matches[0].prefixes == ("urn:epc:id:sgtin:0614141.107346.",)
    assert "urn:epc:class:lgtin:4012345.012345." in query.matches[1].prefixes
    assert query.per_page == 5
    for bad in ([("EQ_nonsense", "x")], [("perPage", "0")], [("GE_eventTime", "yesterday")],
                [("nextPageToken", "forged")]):
        with pytest.raises(rules.QueryParameterError):
            rules.parse_query(bad, per_page_default=30, per_page_max=100)


def test_a_page_token_only_serves_its_own_query() -> None:
    first = rules.parse_query([("EQ_bizStep", "shipping")], per_page_default=2,
                              per_page_max=10)
    token = rules.encode_page_token(42, first.fingerprint)
    again = rules.parse_query([("EQ_bizStep", "shipping"), ("nextPageToken", token)],
                              per_page_default=2, per_page_max=10)
    assert again.after == 42
    with pytest.raises(rules.QueryParameterError):
        rules.parse_query([("EQ_bizStep", "receiving"), ("nextPageToken", token)],
                          per_page_default=2, per_page_max=10)


def test_structural_checks_name_what_each_event_type_needs() -> None:
    document = {"@context": [], "type": "EPCISDocument", "schemaVersion": "2.0",
                "creationDate": "2024-01-01T00:00:00Z", "epcisBody": {"eventList": [
                    object_event(), {"type": "ObjectEvent", "eventTime": "now",
                                     "eventTimeZoneOffset": "+00:00", "action": "FOO"},
                    {"type": "TransformationEvent", "eventTime": "2024-01-01T00:00:00Z",
                     "eventTimeZoneOffset": "+00:00"}]}}
    problems = rules.document_problems(document)
    where = {p for p, _ in problems}
    assert "/epcisBody/eventList/1/eventTime" in where
    assert "/epcisBody/eventList/1/action" in where
    assert "/epcisBody/eventList/2" in where
    assert not any(p.startswith("/epcisBody/eventList/0") for p in where)
    assert rules.document_problems({"type": "Nonsense"}) == \
        [("/type", "must be EPCISDocument or EPCISQueryDocument")]
