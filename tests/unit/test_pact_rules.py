"""The PACT translation's pure rules: CN headings, decimals and instants as PACT writes
them, the filters' AND/OR, tokens, events read strictly, and the retry waits."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stewardship.interop.pact import rules


@pytest.mark.parametrize(("material", "description", "code"), [
    ("asi_aluminium", "5182 coil, 1.2 mm", "7606"), ("asi_aluminium", "Sheet ingot", "7601"),
    ("asi_aluminium", "6063 extruded profiles", "7604"),
    ("asi_aluminium", "6063 extrusion billet", "7601"), ("asi_aluminium", "T-bar", "7601"),
    ("asi_aluminium", "Household foil 11 µm", "7607"), ("asi_aluminium", "", "7601"),
    ("asi_aluminium", "Can body stock", "7612"), ("asi_bauxite", "coil", "2606"),
    ("asi_alumina", "", "281820"), ("eligible_scrap", "sheet", "7602")])
def test_cn_headings(material: str, description: str, code: str) -> None:
    assert rules.cn_code(material, description) == code


def test_decimals_and_instants_are_written_plainly() -> None:
    assert rules.decimal_text(Decimal("8.123400")) == "8.1234"
    assert rules.decimal_text(Decimal("0E-6")) == "0"
    assert rules.decimal_text(Decimal("1E+3")) == "1000"
    when = datetime(2026, 5, 1, 12, 0, 0, 123, tzinfo=UTC)
    assert rules.moment(when) == "2026-05-01T12:00:00Z"


@given(st.decimals(min_value=Decimal("-1e6"), max_value=Decimal("1e6"), places=6))
def test_decimal_text_reads_back_as_the_same_number(value: Decimal) -> None:
    text = rules.decimal_text(value)
    assert "E" not in text and Decimal(text) == value


def _fp(**changes: object) -> dict[str, object]:
    fp: dict[str, object] = {
        "productIds": ["urn:a:1"], "companyIds": ["urn:c:1"], "status": "Active",
        "productClassifications": ["urn:k:1"], "pcf": {"geographyCountry": "NO"},
        "validityPeriodStart": "2026-01-01T00:00:00Z",
        "validityPeriodEnd": "2029-01-01T00:00:00Z"}
    fp.update(changes)
    return fp


def test_filters_and_across_or_within() -> None:
    f = rules.parse_filters([("productId", "urn:a:1"), ("productId", "urn:a:2"),
                             ("geography", "NO")])
    assert rules.matches(_fp(), f)
    assert rules.matches(_fp(productIds=["urn:a:2"]), f)
    assert not rules.matches(_fp(productIds=["urn:a:3"]), f)
    assert not rules.matches(_fp(pcf={"geographyCountry": "DE"}), f)
    on = rules.parse_filters([("validOn", "2026-01-01T00:00:00Z")])
    assert rules.matches(_fp(), on)
    assert not rules.matches(_fp(), rules.parse_filters([("validAfter", "2026-01-01T00:00:00Z")]))
    assert rules.matches(_fp(), rules.parse_filters([("validAfter", "2025-12-31")]))
    assert not rules.matches(_fp(), rules.parse_filters([("validBefore", "2029-01-01T00:00:00Z")]))
    assert not rules.matches(_fp(), rules.parse_filters([("status", "BogusStatus")]))
    # an unencoded '+' arrives as a space
    spaced = rules.parse_filters([("validOn", "2026-06-01T02:00:00 02:00")])
    assert spaced.valid_on == datetime(2026, 6, 1, tzinfo=UTC)


@pytest.mark.parametrize("items", [[("validOn", "tomorrow")], [("limit", "0")],
                                   [("offset", "x")], [("sort", "created")],
                                   [("validBefore", "2026-01-01T00:00:00")]])
def test_malformed_filters_are_refused(items: list[tuple[str, str]]) -> None:
    with pytest.raises(rules.PactError) as refused:
        rules.parse_filters(items)
    assert refused.value.status == 400 and items[0][0] in refused.value.message


def test_next_link_carries_the_filters() -> None:
    f = rules.parse_filters([("status", "Active"), ("limit", "2")])
    assert rules.next_link("https://x/pact/3/footprints", f, 2, 2) == (
        '<https://x/pact/3/footprints?status=Active&offset=2&limit=2>; rel="next"')


def test_tokens_read_back_expire_and_refuse_forgeries() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    token = rules.mint_token("k" * 40, "pact_abc", now + timedelta(minutes=5))
    assert rules.read_token("k" * 40, token, now) == "pact_abc"
    with pytest.raises(rules.PactError) as expired:
        rules.read_token("k" * 40, token, now + timedelta(minutes=5))
    assert (expired.value.status, expired.value.code) == (401, "TokenExpired")
    for bad in (token[:-2] + "xx", "pact.x.y", "nonsense", token.replace("pact.", "")):
        with pytest.raises(rules.PactError) as refused:
            rules.read_token("k" * 40, bad, now)
        assert refused.value.code == "BadRequest"
    with pytest.raises(rules.PactError):
        rules.read_token("another" * 6, token, now)


def _event(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {"specversion": "1.0", "id": "e1", "source": "https://b.example",
                               "time": "2026-01-01T00:00:00Z",
                               "type": rules.V3_EVENTS["published"],
                               "data": {"pfIds": [str(uuid.uuid4())]}}
    body.update(changes)
    return body


def test_events_are_read_strictly() -> None:
    assert rules.read_event(_event(), 3).kind == "published"
    for bad in (_event(specversion="0.3"), _event(id=""), _event(time="noon"),
                _event(data=[]), _event(type=rules.V2_EVENTS["published"]),
                _event(data={"pfIds": ["urn:gtin:1"]}), [1]):
        with pytest.raises(rules.PactError):
            rules.read_event(bad, 3)
    v2 = rules.read_event(_event(type=rules.V2_EVENTS["created"], data={"pf": {
        "productIds": ["urn:a:1"]}}), 2)
    assert rules.request_filters(v2, 2).product_ids == {"urn:a:1"}


def test_answers_fulfil_or_reject() -> None:
    asked = rules.Event("created", "r1", "https://b.example", {})
    now = datetime(2026, 1, 1, tzinfo=UTC)
    fulfilled = rules.answer_event(asked, 3, "https://p/pact", now, footprints=[{"id": "x"}])
    assert fulfilled["type"] == rules.V3_EVENTS["fulfilled"]
    assert fulfilled["data"] == {"requestEventId": "r1", "pfs": [{"id": "x"}]}
    rejected = rules.answer_event(asked, 2, "https://p/pact", now, footprints=[])
    assert rejected["type"] == rules.V2_EVENTS["rejected"]
    assert rejected["data"]["error"]["code"] == "NoSuchFootprint"


def test_retry_waits_double_up_to_six_hours() -> None:
    assert [rules.retry_wait(n, 30).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert rules.retry_wait(40, 30) == timedelta(hours=6)


def test_a_large_limit_is_served_in_pages_of_the_most() -> None:
    assert rules.parse_filters([("limit", "5000")], max_limit=1000).limit == 1000
    assert rules.parse_filters([("limit", "7")]).limit == 7


def _facts(**changes: object) -> rules.DocumentFacts:
    from dataclasses import replace
    from datetime import date

    facts = rules.DocumentFacts(
        id=uuid.UUID(int=7), number="FJ-2026-0001", material="asi_aluminium",
        material_label="ASI Aluminium", description="5182 coil", quantity_kg=1000,
        coc_quantity_kg=800, shipment_date=date(2026, 3, 10), period_start=date(2026, 1, 1),
        period_end=date(2026, 12, 31), issued_at=datetime(2026, 3, 10, 9, tzinfo=UTC),
        footprint=Decimal("8.120000"), primary_percent=Decimal("70.00"), tiers=[],
        recycled_percent=None, recycled_method=None,
        composition={"parts": [["F1", "NO", "primary", 600, "smelter", []],
                               ["F2", "IS", "primary", 200, "smelter", []]]},
        issuer_slug="fjell", issuer_name="Fjell", issuer_entity_id=uuid.UUID(int=9),
        issuer_entity_name="Fjell AS", country="NO", performance_certificate="P-1",
        coc_certificate="C-1", recipient_name="Walz")
    return replace(facts, **changes)  # type: ignore[arg-type]


def test_periods_end_with_the_shipment_and_last_three_years() -> None:
    from datetime import date

    start, end = rules.reference_period(_facts())
    assert (start, end) == (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 11, tzinfo=UTC))
    assert rules.validity_period(_facts()) == (end, datetime(2029, 3, 11, tzinfo=UTC))
    late = _facts(shipment_date=date(2027, 1, 5), period_end=date(2026, 12, 31))
    assert rules.reference_period(late)[1] == datetime(2027, 1, 1, tzinfo=UTC)
    leap = _facts(shipment_date=date(2028, 2, 28), period_start=date(2028, 1, 1),
                  period_end=date(2028, 12, 31))
    assert rules.validity_period(leap)[1] == datetime(2031, 2, 28, tzinfo=UTC)


def test_a_footprint_carries_the_documents_figures() -> None:
    fp = rules.footprint_v3(_facts(), "https://p/schema.json")
    assert fp["id"] == str(uuid.UUID(int=7)) and fp["created"] == "2026-03-10T09:00:00Z"
    assert fp["pcf"]["pcfExcludingBiogenicUptake"] == "8.12"
    assert fp["pcf"]["primaryDataShare"] == "70"
    origins = fp["extensions"][0]["data"]["origins"]
    assert [(o["country"], o["sharePercent"]) for o in origins] == [("IS", "25"), ("NO", "75")]
    v2 = rules.footprint_v2(_facts(primary_percent=None), "https://p/schema.json")
    assert v2["productCategoryCpc"] == "41533" and "primaryDataShare" not in v2["pcf"]


def test_an_answer_goes_to_the_source_only_where_it_is_safe_to_send() -> None:
    from stewardship.interop.pact.rules import PactError, answer_address

    assert answer_address("https://buyer.example/pact/", https_only=True) == \
        "https://buyer.example/pact"
    assert answer_address("http://127.0.0.1:8004", https_only=False) == "http://127.0.0.1:8004"
    for source in ("http://buyer.example", "https://127.0.0.1:8004", "https://localhost",
                   "https://10.0.0.7/x", "https://[fe80::1]/", "mailto:x@y.example"):
        with pytest.raises(PactError):
            answer_address(source, https_only=True)
