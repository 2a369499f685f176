"""The pure EPCIS rules: the CBV 2.0 event hash id, identifiers, the query language."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stewardship.interop import rules
from stewardship.interop.epcis import params
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


# --- time ---------------------------------------------------------------------------------


def test_a_time_that_is_no_timestamp_is_hashed_as_written() -> None:
    # the structural checks refuse it; the hash still gives such an event an id
    assert rules.canonical_time(" yesterday ") == "yesterday"
    assert rules.canonical_time("2024-05-01T10:00:00") == "2024-05-01T10:00:00"


def test_format_time_writes_utc_milliseconds() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert rules.format_time(datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=plus_two)) == \
        "2024-05-01T10:00:00.123Z"
    assert rules.format_time(datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC)) == \
        "2024-12-31T23:59:59.000Z"


# --- identifiers --------------------------------------------------------------------------

PX = dict(rules.DEFAULT_PREFIXES)


@pytest.mark.parametrize(("urn", "link"), [
    # the URN examples of GS1's EPCIS 2.0 examples 9.6.3 and 9.6.4 and the Digital Links
    # of their WithDigitalLinkID twins (9.6.1's twin names another GTIN, 70614141123451:
    # indicator 7, company 0614141, item 12345, its URN below)
    ("urn:epc:id:sgtin:0614141.712345.2017", "https://id.gs1.org/01/70614141123451/21/2017"),
    ("urn:epc:idpat:sgtin:4012345.098765.*", "https://id.gs1.org/01/04012345987652"),
    ("urn:epc:class:lgtin:0614141.077777.987", "https://id.gs1.org/01/00614141777778/10/987"),
    ("urn:epc:idpat:sgtin:4012345.066666.*", "https://id.gs1.org/01/04012345666663"),
    # GS1's sensor examples name the same device as a GIAI URN and as a Digital Link
    ("urn:epc:id:giai:4000001.111", "https://id.gs1.org/8004/4000001111"),
])
def test_gs1_examples_urn_and_digital_link_twins(urn: str, link: str) -> None:
    assert rules.canonical_id(urn, PX) == link
    assert rules.canonical_id(link, PX) == link


@pytest.mark.parametrize(("urn", "link"), [
    # SGTIN: indicator digit, company, the rest of the item reference, check digit; over
    # 1061414107346 the weights 3, 1 from the right give 3 x (6+3+0+4+4+6+1) + (4+7+1+1+1+0)
    # = 86, check 4
    ("urn:epc:id:sgtin:0614141.107346.2017", "https://id.gs1.org/01/10614141073464/21/2017"),
    # GRAI: 0, company + asset type, check digit, serial. GS1's sensor examples carry
    # https://id.example.com/8003/040123450007718765; over 401234500077 the weights 3, 1
    # from the right give 3 x (7+0+0+4+2+0) + (7+0+5+3+1+4) = 59, check 1
    ("urn:epc:id:grai:4012345.00077.8765", "https://id.gs1.org/8003/040123450007718765"),
    # 401234555555: 3 x (5+5+5+4+2+0) + (5+5+5+3+1+4) = 86, check 4
    ("urn:epc:id:grai:4012345.55555.987", "https://id.gs1.org/8003/04012345555554987"),
    # GSRN over 06141410000010253: 3 x (3+2+1+0+0+1+1+1+0) + (5+0+0+0+0+4+4+6) = 46, check 4
    ("urn:epc:id:gsrn:0614141.0000010253", "https://id.gs1.org/8018/061414100000102534"),
    ("urn:epc:id:gsrnp:0614141.0000010253", "https://id.gs1.org/8017/061414100000102534"),
    # GSIN over 0614141123456789: 3 x 39 + 23 = 140, check 0
    ("urn:epc:id:gsin:0614141.123456789", "https://id.gs1.org/402/06141411234567890"),
    # SGCN: company + coupon reference, check (3 x 20 + 29 = 89: 1), then the serial
    ("urn:epc:id:sgcn:4012345.67890.04711", "https://id.gs1.org/255/401234567890104711"),
    # GIAI and GINC carry no check digit
    ("urn:epc:id:giai:4012345.ABC", "https://id.gs1.org/8004/4012345ABC"),
    ("urn:epc:id:ginc:0614141.xyz3311cba", "https://id.gs1.org/401/0614141xyz3311cba"),
    # CPI: company + part reference, then the serial under 8011
    ("urn:epc:id:cpi:0614141.123ABC.123456789",
     "https://id.gs1.org/8010/0614141123ABC/8011/123456789"),
])
def test_epc_urns_of_every_scheme_become_digital_links(urn: str, link: str) -> None:
    assert rules.canonical_id(urn, PX) == link


@pytest.mark.parametrize("urn", [
    "urn:epc:id:sgtin:ABC.107346.2017",  # a company prefix is digits
    "urn:epc:class:lgtin:4012345.01234X.998877",  # so is an item reference
    "urn:epc:idpat:sgtin:4012345.098765.400",  # a pattern without a star has no GTIN link
    "urn:epc:class:other:4012345.1",
    "urn:epc:id:sgln:4012345.00011",  # a GLN needs its extension
    "urn:epc:id:sscc:4012345.1.2",
    "urn:epc:id:usdod:2S194.12345",
])
def test_epc_urns_without_a_digital_link_are_kept_as_written(urn: str) -> None:
    assert rules.canonical_id(f"  {urn} ", PX) == urn


@pytest.mark.parametrize(("uri", "canonical"), [
    ("https://id.gs1.org", "https://id.gs1.org"),  # no path: nothing to constrain
    ("https://example.com/about/us", "https://example.com/about/us"),  # no GS1 key
    ("https://example.com/01/09521234543213/10/LOT1/21/x#top",
     "https://id.gs1.org/01/09521234543213/21/x"),  # the finest qualifier only
    ("https://example.com/414/4012345000115/254/987?linkType=all",
     "https://id.gs1.org/414/4012345000115/254/987"),
])
def test_digital_links_are_constrained_to_the_gs1_host_and_finest_key(uri: str,
                                                                      canonical: str) -> None:
    assert rules.canonical_id(uri, PX) == canonical


# --- the pre-hash of sparse and untidy events --------------------------------------------


def test_the_pre_hash_of_an_event_with_nothing_but_a_type() -> None:
    assert rules.pre_hash({"type": "ObjectEvent"}) == "eventType=ObjectEvent"
    assert rules.pre_hash({}) == "eventType="


# --- what an event names ------------------------------------------------------------------


def test_index_terms_name_each_epc_parent_and_class_once_by_kind() -> None:
    event = {
        "epcList": ["urn:epc:id:sgtin:0614141.107346.2017", 7,
                    "urn:epc:id:sgtin:0614141.107346.2017"],
        "parentID": "urn:epc:id:sscc:0614141.1234567890",
        "inputEPCList": ["urn:epc:id:sgtin:4012345.011111.1"],
        "outputEPCList": ["urn:epc:id:sgtin:4012345.022222.1"],
        "quantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.012345.998877"},
                         {"quantity": 5}, "junk"],
        "inputQuantityList": [{"epcClass": "urn:epc:class:lgtin:0614141.077777.987"}],
        "outputQuantityList": [{"epcClass": "urn:epc:idpat:sgtin:4012345.066666.*"}],
    }
    assert rules.index_terms(event) == [
        (rules.EPC, "urn:epc:id:sgtin:0614141.107346.2017"),
        (rules.PARENT, "urn:epc:id:sscc:0614141.1234567890"),
        (rules.INPUT_EPC, "urn:epc:id:sgtin:4012345.011111.1"),
        (rules.OUTPUT_EPC, "urn:epc:id:sgtin:4012345.022222.1"),
        (rules.CLASS, "urn:epc:class:lgtin:4012345.012345.998877"),
        (rules.INPUT_CLASS, "urn:epc:class:lgtin:0614141.077777.987"),
        (rules.OUTPUT_CLASS, "urn:epc:idpat:sgtin:4012345.066666.*"),
        # each also as its canonical Digital Link, so that either form matches the other
        (rules.EPC + 20, "https://id.gs1.org/01/10614141073464/21/2017"),
        (rules.PARENT + 20, "https://id.gs1.org/00/106141412345678908"),
        (rules.INPUT_EPC + 20, "https://id.gs1.org/01/04012345111118/21/1"),
        (rules.OUTPUT_EPC + 20, "https://id.gs1.org/01/04012345222227/21/1"),
        (rules.CLASS + 20, "https://id.gs1.org/01/04012345123456/10/998877"),
        (rules.INPUT_CLASS + 20, "https://id.gs1.org/01/00614141777778/10/987"),
        (rules.OUTPUT_CLASS + 20, "https://id.gs1.org/01/04012345666663"),
    ]
    assert rules.index_terms({"type": "ObjectEvent", "parentID": None}) == []


def test_party_ids_are_owning_or_possessing_parties_in_any_spelling() -> None:
    event = {
        "sourceList": [
            {"type": "owning_party", "source": "urn:epc:id:pgln:4012345.00000"},
            {"type": "location", "source": "urn:epc:id:sgln:4012345.00011.0"},
            {"type": "urn:epcglobal:cbv:sdt:possessing_party", "source": 12},
            "junk"],
        "destinationList": [
            {"type": "https://ref.gs1.org/cbv/SDT-possessing_party",
             "destination": "urn:stewardship:org:rhein-walzwerk"},
            {"destination": "urn:epc:id:pgln:0614141.00000"}],
    }
    assert rules.party_ids(event) == {"urn:epc:id:pgln:4012345.00000",
                                      "urn:stewardship:org:rhein-walzwerk"}
    assert rules.party_ids({}) == set()


def test_where_id_reads_a_location_id_or_nothing() -> None:
    event = {"readPoint": {"id": "urn:epc:id:sgln:4012345.00011.0"},
             "bizLocation": {"id": 5}}
    assert rules.where_id(event, "readPoint") == "urn:epc:id:sgln:4012345.00011.0"
    assert rules.where_id(event, "bizLocation") is None
    assert rules.where_id({"readPoint": "urn:epc:id:sgln:4012345.00011.0"}, "readPoint") is None
    assert rules.where_id({}, "readPoint") is None


# --- structural checks ---------------------------------------------------------------------


def test_an_event_that_is_not_an_object_is_refused() -> None:
    assert rules.event_problems(["ObjectEvent"]) == [("", "an event must be a JSON object")]


def test_every_structural_fault_of_an_event_is_named_where_it_is() -> None:
    event = {"type": "ObjectEvent", "eventTimeZoneOffset": "CET", "action": "ADD",
             "epcList": "urn:epc:id:sgtin:0614141.107346.2017",
             "childEPCs": ["urn:epc:id:sgtin:0614141.107346.1", 2],
             "quantityList": [{"quantity": 5}, "junk",
                              {"epcClass": "urn:epc:class:lgtin:4012345.012345.998877"}],
             "eventID": 42}
    assert rules.event_problems(event) == [
        ("", '"eventTime" is a required property'),
        ("/eventTimeZoneOffset", "must look like +01:00 or -06:00"),
        ("/epcList", "must be a list of URIs"),
        ("/childEPCs", "must be a list of URIs"),
        ("/quantityList/0", '"epcClass" is a required property'),
        ("/quantityList/1", '"epcClass" is a required property'),
        ("/eventID", "must be a URI"),
    ]


def test_unknown_event_types_are_refused_but_extension_types_pass() -> None:
    base = {"eventTime": "2024-01-01T00:00:00Z", "eventTimeZoneOffset": "+00:00"}
    assert rules.event_problems({**base, "type": "ObjectEvnt"}) == [
        ("/type", "unknown event type 'ObjectEvnt'")]
    assert rules.event_problems({**base}) == [("/type", "unknown event type None")]
    # a type in a namespace of its own: no action or list is asked of it
    assert rules.event_problems({**base, "type": "ex:MeltEvent"}) == []


def test_each_event_type_needs_its_own_fields() -> None:
    base = {"eventTime": "2024-01-01T00:00:00Z", "eventTimeZoneOffset": "+00:00"}
    assert rules.event_problems({**base, "type": "AssociationEvent", "action": "ADD"}) == [
        ("", "AssociationEvent needs one of: parentID")]
    assert rules.event_problems({**base, "type": "TransactionEvent",
                                 "bizTransactionList": []}) == [
        ("/action", "must be one of ADD, OBSERVE, DELETE")]
    assert rules.event_problems({**base, "type": "AggregationEvent", "action": "DELETE",
                                 "parentID": "urn:epc:id:sscc:0614141.1234567890"}) == []


def test_a_document_that_is_not_an_object_or_has_no_event_list_is_refused() -> None:
    assert rules.document_problems([]) == [("", "the document must be a JSON object")]
    assert rules.document_problems({"type": "EPCISDocument", "epcisBody": {}}) == [
        ("/@context", '"@context" is a required property'),
        ("/schemaVersion", '"schemaVersion" is a required property'),
        ("/creationDate", '"creationDate" is a required property'),
        ("/epcisBody/eventList", "an event list is required")]
    query_document = {"@context": [], "type": "EPCISQueryDocument", "schemaVersion": "2.0",
                      "creationDate": "2024-01-01T00:00:00Z",
                      "epcisBody": {"queryResults": {"resultsBody": {"eventList": "none"}}}}
    assert rules.document_problems(query_document) == [
        ("/epcisBody/queryResults/resultsBody/eventList", "an event list is required")]
    assert rules.event_list({"type": "EPCISQueryDocument", "epcisBody": []}) is None


# --- the query language --------------------------------------------------------------------


@pytest.mark.parametrize(("value", "kinds", "exact", "prefixes"), [
    ("urn:epc:id:sgtin:0614141.107346.2017", (rules.EPC,),
     ["urn:epc:id:sgtin:0614141.107346.2017"], []),
    ("https://id.gs1.org/01/70614141123451/21/2017", (rules.EPC,),
     ["https://id.gs1.org/01/70614141123451/21/2017"], []),
    ("urn:epc:idpat:sgtin:0614141.*.*", (rules.EPC, rules.PARENT),
     ["urn:epc:idpat:sgtin:0614141.*.*"], ["urn:epc:id:sgtin:0614141."]),
    ("urn:epc:idpat:sgtin:*.*.*", (rules.EPC,), ["urn:epc:idpat:sgtin:*.*.*"],
     ["urn:epc:id:sgtin:"]),
    ("urn:epc:idpat:sgtin:4012345.012345.*", (rules.CLASS,),
     ["urn:epc:idpat:sgtin:4012345.012345.*"],
     ["urn:epc:id:sgtin:4012345.012345.", "urn:epc:class:lgtin:4012345.012345."]),
    ("urn:epc:idpat:grai:4012345.55555.*", (rules.CLASS,),
     ["urn:epc:idpat:grai:4012345.55555.*"], ["urn:epc:id:grai:4012345.55555."]),
    # no star: the pattern names one EPC
    ("urn:epc:idpat:sgtin:0614141.107346.2017", (rules.EPC,),
     ["urn:epc:idpat:sgtin:0614141.107346.2017", "urn:epc:id:sgtin:0614141.107346.2017"],
     []),
])
def test_match_terms(value: str, kinds: tuple[int, ...], exact: list[str],
                     prefixes: list[str]) -> None:
    assert rules.match_terms(value, kinds) == (exact, prefixes)


def test_dispositions_are_queried_by_their_short_form() -> None:
    query = rules.parse_query([("EQ_disposition", "urn:epcglobal:cbv:disp:in_transit"),
                               ("EQ_disposition", "https://ref.gs1.org/cbv/Disp-active"),
                               ("EQ_action", "ADD|OBSERVE"),
                               ("EQ_readPoint", "urn:epc:id:sgln:4012345.00011.0")],
                              per_page_default=30, per_page_max=100)
    assert query.dispositions == ("in_transit", "active")
    # other values are kept as given: only CBV vocabularies have a short form
    assert query.actions == ("ADD", "OBSERVE")
    assert query.read_points == ("urn:epc:id:sgln:4012345.00011.0",)
    assert query.per_page == 30 and query.after is None


@pytest.mark.parametrize(("params", "parameter", "message"), [
    ([("eventType", " | ")], "eventType", "eventType needs at least one value"),
    ([("MATCH_epc", "")], "MATCH_epc", "MATCH_epc needs at least one value"),
    ([("EQ_nonsense", "x"), ("ALPHA", "y")], "ALPHA",
     "query parameter ALPHA is not supported here; supported: "
     + ", ".join(p for p in rules.SUPPORTED_PARAMETERS if p not in (
         "orderBy", "orderDirection", "eventCountLimit", "maxEventCount"))),
    ([("perPage", "101")], "perPage", "perPage must be a whole number from 1 to 100"),
    ([("perPage", "-1")], "perPage", "perPage must be a whole number from 1 to 100"),
    ([("LT_recordTime", "2024-05-01")], "LT_recordTime",
     "LT_recordTime must be a date-time with a time zone, e.g. 2024-05-01T00:00:00Z"),
    ([("nextPageToken", "%%%")], "nextPageToken",
     "the nextPageToken is not one this repository issued"),
])
def test_refused_query_parameters_are_named_with_the_reason(
        params: list[tuple[str, str]], parameter: str, message: str) -> None:
    with pytest.raises(rules.QueryParameterError) as refused:
        rules.parse_query(params, per_page_default=30, per_page_max=100)
    assert (refused.value.parameter, refused.value.message) == (parameter, message)
    assert str(refused.value) == message


# --- known answers: every URN scheme, its company-prefix lengths, and GS1's hash example ---


@pytest.mark.parametrize(("urn", "link"), [
    # serials and lots are any GS1 characters, not only digits
    ("urn:epc:id:sgtin:0614141.107346.A-2017", "https://id.gs1.org/01/10614141073464/21/A-2017"),
    ("urn:epc:class:lgtin:4012345.012345.LOT-7", "https://id.gs1.org/01/04012345123456/10/LOT-7"),
    # a 12-digit company prefix leaves the item reference its indicator digit only
    ("urn:epc:id:sgtin:061414112345.0.1", "https://id.gs1.org/01/00614141123452/21/1"),
    ("urn:epc:idpat:sgtin:061414112345.1.*", "https://id.gs1.org/01/10614141123459"),
    # ... and an SGLN an empty location reference; extension 0 is the GLN itself
    ("urn:epc:id:sgln:061414112345..0", "https://id.gs1.org/414/0614141123452"),
    ("urn:epc:id:sgln:061414112345..00", "https://id.gs1.org/414/0614141123452/254/00"),
    # SSCC: the extension digit goes in front of the company prefix
    ("urn:epc:id:sscc:061414112345.01234", "https://id.gs1.org/00/006141411234512340"),
    ("urn:epc:id:pgln:061414112345.", "https://id.gs1.org/417/0614141123452"),
    ("urn:epc:id:gdti:061414112345..X1", "https://id.gs1.org/253/0614141123452X1"),
    ("urn:epc:id:grai:061414112345..7", "https://id.gs1.org/8003/006141411234527"),
    ("urn:epc:id:cpi:0614141.5PQ7%2FZ43.12345",
     "https://id.gs1.org/8010/06141415PQ7%2FZ43/8011/12345"),
])
def test_urn_known_answers_for_serials_lots_and_company_prefix_lengths(urn: str,
                                                                         link: str) -> None:
    assert rules.canonical_id(urn, PX) == link
    assert rules.canonical_id(link, PX) == link  # a canonical link is its own canonical form


@pytest.mark.parametrize("urn", [
    "urn:epc:id:sgtin:0614141.107346",  # an SGTIN needs its serial
    "urn:epc:id:sgtin:0614141.107346.1.2",
    "urn:epc:id:sgtin:0614141.10734X.2017",
    "urn:epc:class:lgtin:4012345.012345",
    "urn:epc:class:sgtin:4012345.012345.998877",  # a class is a lot, not a serial
    "urn:epc:id:lgtin:4012345.012345.998877",
    "urn:epc:idpat:sgtin:4012345.*.*",
    "urn:epc:idpat:sgtin:ABC.098765.*",
    "urn:epc:idpat:sgtin:4012345.098765",
    "urn:epc:idpat:sgln:4012345.00011.*",  # only GTIN patterns have a link
    "urn:epc:class:sscc:4012345.1112223334",
    "urn:epc:id:giai:ABC.111",  # every scheme's company prefix is digits
    "urn:epc:id:sscc:ABC.1112223334",
    "urn:epc:id:sgln:40123X5.00011.0",
    "urn:epc:id:sscc:4012345",  # and each has its own number of fields
    "urn:epc:id:sgln:4012345.00011.0.1",
    "urn:epc:id:pgln:4012345.00000.1",
    "urn:epc:id:gsrn:0614141",
    "urn:epc:id:gsrnp:0614141.1.2",
    "urn:epc:id:gsin:0614141",
    "urn:epc:id:giai:4012345",
    "urn:epc:id:ginc:0614141.a.b",
    "urn:epc:id:gdti:4012345.11111",
    "urn:epc:id:sgcn:4012345.67890.1.2",
    "urn:epc:id:grai:4012345.00077",
    "urn:epc:id:cpi:0614141.123ABC",
    "urn:epc:id:cpi:0614141.1.2.3",
    "urn:epc:tag:sgtin-96:3.0614141.107346.2017",  # tag URIs (filter, partition) are not ids
])
def test_urns_of_the_wrong_shape_have_no_digital_link(urn: str) -> None:
    assert rules.canonical_id(urn, PX) == urn


@pytest.mark.parametrize(("uri", "canonical"), [
    # any host, http too, a path prefix before the key; key qualifiers by rank
    ("http://example.com/01/09521234543213", "https://id.gs1.org/01/09521234543213"),
    ("https://example.com/a/b/01/09521234543213/10/LOT1",
     "https://id.gs1.org/01/09521234543213/10/LOT1"),
    ("https://example.com/01/09521234543213/235/TPX/10/LOT1",
     "https://id.gs1.org/01/09521234543213/235/TPX"),
    ("https://example.com/01/09521234543213/22/V1/10/LOT1?17=290101",
     "https://id.gs1.org/01/09521234543213/10/LOT1"),
    ("https://example.com/8006/095212345432130102/10/L2/21/S3",
     "https://id.gs1.org/8006/095212345432130102/21/S3"),
    ("https://example.com/8010/0614141123ABC/8011/123456789",
     "https://id.gs1.org/8010/0614141123ABC/8011/123456789"),
    ("https://example.com/00/106141411234567897/",
     "https://id.gs1.org/00/106141411234567897"),
    ("https://example.com/8004/4000001111#x", "https://id.gs1.org/8004/4000001111"),
    ("https://example.com/417/4012345000009/21/x", "https://id.gs1.org/417/4012345000009"),
    ("https://example.com/8003", "https://example.com/8003"),  # a key needs its value
    ("https://example.com/?01/09521234543213", "https://example.com/?01/09521234543213"),
    ("https://example.com", "https://example.com"),
])
def test_digital_link_known_answers(uri: str, canonical: str) -> None:
    assert rules.canonical_id(uri, PX) == canonical


@pytest.mark.parametrize(("uri", "canonical"), [
    # a key in the host is not a key: the path starts after the host
    ("https://417/01/09521234543213", "https://id.gs1.org/01/09521234543213"),
    ("https:///01/09521234543213", "https://id.gs1.org/01/09521234543213"),  # or no host
    # the query and fragment end at their first mark, even a link inside the query
    ("https://example.com/01/09521234543213?next=https://example.org/x",
     "https://id.gs1.org/01/09521234543213"),
    ("https://example.com/01/09521234543213/21/x?a?b", "https://id.gs1.org/01/09521234543213/21/x"),
    ("https://example.com/01/09521234543213/21/x#a#b", "https://id.gs1.org/01/09521234543213/21/x"),
    # a trailing qualifier without its value is no qualifier; values keep their letters
    ("https://example.com/01/09521234543213/21/", "https://id.gs1.org/01/09521234543213"),
    ("https://example.com/01/09521234543213/21", "https://id.gs1.org/01/09521234543213"),
    ("https://example.com/01/09521234543213/21/ABX", "https://id.gs1.org/01/09521234543213/21/ABX"),
])
def test_digital_link_paths_are_read_after_the_host_and_before_the_query(
        uri: str, canonical: str) -> None:
    assert rules.canonical_id(uri, PX) == canonical


@pytest.mark.parametrize("uri", ["https://example.com/8003/", "https://example.org/x/01//"])
def test_a_key_without_its_value_is_no_digital_link(uri: str) -> None:
    # two such addresses on different hosts must not hash alike
    assert rules.canonical_id(uri, PX) == uri


def test_a_time_that_is_no_timestamp_is_refused_in_full_words() -> None:
    with pytest.raises(ValueError) as refused:
        rules.parse_time("2005-04-03T20:33:31")
    assert str(refused.value) == "'2005-04-03T20:33:31' is not a date-time with a time zone"
    with pytest.raises(ValueError) as refused:
        rules.parse_time(5)  # type: ignore[arg-type]
    assert str(refused.value) == "5 is not a date-time with a time zone"


# --- the query language: page tokens, fingerprints, boundaries and whole refusals ---------

@pytest.mark.parametrize(("after", "fingerprint", "token"), [
    (42, "0123456789ab", "NDIuMDEyMzQ1Njc4OWFi"),  # no padding to drop
    (7, "5456da81b485", "Ny41NDU2ZGE4MWI0ODU"),  # one "=" dropped
    (123, "0123456789ab", "MTIzLjAxMjM0NTY3ODlhYg"),  # two "=" dropped
    (123456789, "5456da81b485", "MTIzNDU2Nzg5LjU0NTZkYTgxYjQ4NQ"),  # 30 characters
    (1, "W", "MS5X"),  # a token may end in "X"
])
def test_page_tokens_known_answers_and_round_trips(after: int, fingerprint: str,
                                                   token: str) -> None:
    assert rules.encode_page_token(after, fingerprint) == token
    assert rules._decode_page_token(token, fingerprint) == (after, None, 0)


@pytest.mark.parametrize(("token", "message"), [
    ("NDIuMDEyMzQ1Njc4OWFi", "the nextPageToken belongs to a query with other parameters"),
    ("Ny41NDU2ZGE4MWI0ODU", "the nextPageToken belongs to a query with other parameters"),
    ("eC4wMTIzNDU2Nzg5YWI", "the nextPageToken is not one this repository issued"),  # x.
    ("_w", "the nextPageToken is not one this repository issued"),  # not UTF-8
])
def test_a_page_token_of_another_query_or_forged_is_refused_in_full_words(
        token: str, message: str) -> None:
    with pytest.raises(rules.QueryParameterError) as refused:
        rules._decode_page_token(token, "ffffffffffff")
    assert (refused.value.parameter, refused.value.message) == ("nextPageToken", message)


def test_the_query_fingerprint_is_the_filters_alone_and_a_token_survives_page_size() -> None:
    filters = [("EQ_bizStep", "shipping")]
    first = rules.parse_query(filters, per_page_default=2, per_page_max=10)
    assert first.fingerprint == "5456da81b485"
    token = rules.encode_page_token(42, first.fingerprint)
    later = rules.parse_query([("perPage", "10"), *filters, ("nextPageToken", token)],
                              per_page_default=2, per_page_max=10)
    assert (later.fingerprint, later.after, later.per_page) == ("5456da81b485", 42, 10)
    assert later.params == (("EQ_bizStep", "shipping"),)
    # the filters keep the order they were given in for the next page's link
    both = rules.parse_query([("EQ_action", "ADD"), ("perPage", "3"), ("EQ_bizStep", "x")],
                             per_page_default=2, per_page_max=10)
    assert both.params == (("EQ_action", "ADD"), ("EQ_bizStep", "x"))


@pytest.mark.parametrize("per_page", ["1", "100"])
def test_per_page_accepts_both_ends_of_its_range(per_page: str) -> None:
    query = rules.parse_query([("perPage", per_page)], per_page_default=30, per_page_max=100)
    assert query.per_page == int(per_page)


def test_match_parameters_gather_every_value_and_pattern_of_their_kinds() -> None:
    query = rules.parse_query([
        ("MATCH_epc", "urn:epc:id:sgtin:0614141.107346.2017|urn:epc:idpat:sgtin:0614141.1.*"),
        ("MATCH_epc", "urn:epc:idpat:grai:4012345.55555.*"),
        ("MATCH_anyEPCClass", "urn:epc:class:lgtin:4012345.012345.998877")],
        per_page_default=30, per_page_max=100)
    assert query.matches == (
        rules.Match((rules.EPC,),
                    ("urn:epc:id:sgtin:0614141.107346.2017", "urn:epc:idpat:sgtin:0614141.1.*",
                     "urn:epc:idpat:grai:4012345.55555.*"),
                    ("urn:epc:id:sgtin:0614141.1.", "urn:epc:id:grai:4012345.55555."),
                    # a pattern whose GTIN is not whole has no Digital Link to match
                    ("https://id.gs1.org/01/10614141073464/21/2017",)),
        rules.Match((rules.CLASS, rules.INPUT_CLASS, rules.OUTPUT_CLASS),
                    ("urn:epc:class:lgtin:4012345.012345.998877",), (),
                    ("https://id.gs1.org/01/04012345123456/10/998877",)))
    pattern = rules.parse_query([("MATCH_anyEPCClass", "urn:epc:idpat:sgtin:4012345.012345.*"),
                                 ("MATCH_epc", "https://example.com/01/04012345123456/21/*")],
                                per_page_default=30, per_page_max=100)
    assert [(m.canonical, m.canonical_prefixes) for m in pattern.matches] == [
        ((), ("https://id.gs1.org/01/04012345123456/21/",)),
        (("https://id.gs1.org/01/04012345123456",),
         ("https://id.gs1.org/01/04012345123456/21/",
          "https://id.gs1.org/01/04012345123456/10/"))]


def test_an_eq_parameter_without_a_value_is_named() -> None:
    with pytest.raises(rules.QueryParameterError) as refused:
        rules.parse_query([("EQ_bizStep", " | ")], per_page_default=30, per_page_max=100)
    assert (refused.value.parameter, refused.value.message) == (
        "EQ_bizStep", "EQ_bizStep needs at least one value")


@pytest.fixture
def machine_zone_plus_five_thirty(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's own time zone set to +05:30, so UTC can't be taken for local time."""
    monkeypatch.setenv("TZ", "IST-5:30")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("machine_zone_plus_five_thirty")
def test_times_are_utc_whatever_the_machines_zone() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert rules.format_time(datetime(2024, 5, 1, 12, 0, 0, 1000, tzinfo=plus_two)) == \
        "2024-05-01T10:00:00.001Z"
    assert rules.canonical_time("2024-05-01T12:00:00.5+02:00") == "2024-05-01T10:00:00.500Z"
    moment = rules.parse_time("2024-05-01T12:00:00+02:00")
    assert (moment.hour, moment.utcoffset()) == (10, timedelta(0))


def test_an_event_time_that_is_no_timestamp_is_refused_with_the_value() -> None:
    event = {"type": "ObjectEvent", "eventTime": "yesterday", "eventTimeZoneOffset": "+00:00",
             "action": "ADD", "epcList": []}
    assert rules.event_problems(event) == [
        ("/eventTime", "'yesterday' is not a date-time with a time zone")]


@pytest.mark.parametrize(("text", "microsecond"), [
    ("2024-05-01T12:00:00Z", 0), ("2024-05-01T12:00:00.5Z", 500000),
    ("2024-05-01T12:00:00.000123Z", 123), ("2024-05-01T12:00:00.1234567Z", 123456)])
def test_parse_time_keeps_microseconds_and_drops_finer_digits(text: str,
                                                              microsecond: int) -> None:
    assert rules.parse_time(text) == datetime(2024, 5, 1, 12, 0, 0, microsecond, tzinfo=UTC)


def test_an_event_without_any_of_its_fields_is_told_every_choice() -> None:
    event = {"type": "TransformationEvent", "eventTime": "2024-05-01T12:00:00Z",
             "eventTimeZoneOffset": "+00:00"}
    assert rules.event_problems(event) == [
        ("", "TransformationEvent needs one of: inputEPCList, inputQuantityList, "
             "outputEPCList, outputQuantityList")]


EX = {**rules.DEFAULT_PREFIXES, "ex": "https://example.com/ns/"}


def test_curies_expand_at_their_first_colon_and_never_a_web_address() -> None:
    assert rules.expand_curie("ex:a:b", EX) == "https://example.com/ns/a:b"
    assert rules.expand_curie("ex://example.com/a", EX) == "ex://example.com/a"
    assert rules.expand_curie("nope:a", EX) == "nope:a"


def test_a_context_defines_only_its_string_valued_terms() -> None:
    context = [rules.STANDARD_CONTEXT,
               {"@vocab": "https://example.org/vocab/", "ex": "https://example.com/ns/",
                "term": {"@id": "ex:term", "@type": "@id"}}]
    assert rules.context_prefixes(context) == EX



def test_an_ordered_page_token_carries_the_last_key_and_the_count_so_far() -> None:
    ordered = [("orderBy", "eventTime"), ("orderDirection", "ASC")]
    first = rules.parse_query(ordered, per_page_default=2, per_page_max=10, fields=params)
    assert (first.order_by, first.order_desc, first.after_key, first.seen) == \
        ("eventTime", False, None, 0)
    last = rules.parse_time("2024-05-01T10:00:03.5+02:00")
    token = rules.encode_page_token(42, first.fingerprint, last, 4)
    again = rules.parse_query([*ordered, ("nextPageToken", token)], per_page_default=2,
                              per_page_max=10, fields=params)
    assert (again.after, again.after_key, again.seen) == (42, last, 4)
    assert rules.parse_query([], per_page_default=2, per_page_max=10).order_desc is True
    with pytest.raises(rules.QueryParameterError):  # the service gives the field parser
        rules.parse_query(ordered, per_page_default=2, per_page_max=10)


def test_exists_error_declaration_false_asks_for_nothing() -> None:
    def declared(value: str) -> bool:
        return rules.parse_query([("EXISTS_errorDeclaration", value)], per_page_default=2,
                                 per_page_max=10).declared

    assert declared("") and declared("1") and declared("true")
    assert not declared("false") and not declared("0")
