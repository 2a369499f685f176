"""Canonical JSON through orjson is the standard library's text, byte for byte: the event
log's digests and hashes and the credentials' signatures never depend on which one wrote
it. Every value is compared with the standard library's own text of it."""

from __future__ import annotations

import enum
import hashlib
import json
import math
import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stewardship.core import canonical, eventlog
from stewardship.core.credentials import _json_bytes


def _python(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=canonical._default)


def _python_plain(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False,
                      sort_keys=True).encode()


class Colour(enum.Enum):
    RED = "red"


class Route(enum.StrEnum):
    PRIMARY = "primary"


class Level(enum.IntEnum):
    ONE = 1


class Text(str):
    pass


_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(), st.uuids(),
    st.decimals(allow_nan=True, allow_infinity=True), st.dates(),
    st.datetimes(timezones=st.sampled_from([None, UTC, timezone(timedelta(hours=5,
                                                                           minutes=30))])),
    st.sampled_from([Route.PRIMARY, Level.ONE, Text("sub"), frozenset({3, 1, 2})]))
_values = st.recursive(_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.lists(inner, max_size=3).map(tuple),
    st.dictionaries(st.text(max_size=8), inner, max_size=5)), max_leaves=30)
_plain_leaf = st.one_of(st.none(), st.booleans(),
                        st.integers(min_value=-(2**70), max_value=2**70),
                        st.floats(allow_nan=False), st.text())
_plain = st.recursive(_plain_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=5)),
    max_leaves=30)


@settings(max_examples=400, deadline=None)
@given(_values)
def test_the_fast_text_is_the_standard_librarys(value: Any) -> None:
    expected = _python(value)
    assert eventlog.canonical_json(value) == expected
    assert eventlog.canonical_bytes(value) == expected.encode("utf-8")
    assert eventlog.digest_payload(value) == hashlib.sha256(expected.encode()).hexdigest()


@settings(max_examples=300, deadline=None)
@given(_values)
def test_prepared_payloads_are_json_ready_and_their_digest(value: Any) -> None:
    expected = json.loads(_python(value))
    made = eventlog.prepared(value)
    assert _python(made.data) == _python(expected)
    assert eventlog.json_ready(value) == made.data or _has_nan(expected)
    assert made.digest == hashlib.sha256(_python(expected).encode()).hexdigest()


@settings(max_examples=300, deadline=None)
@given(_plain)
def test_compact_json_is_the_standard_librarys(value: Any) -> None:
    assert _json_bytes(value) == _python_plain(value)


def _has_nan(value: Any) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, dict):
        return any(_has_nan(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_nan(v) for v in value)
    return False


@pytest.mark.parametrize("value", [
    1e-05, 1e16, -3.304327475492364e-05, 2.602452087674581e-09, math.nan, math.inf,
    {"kg": 1e22}, [1, 2.5], {"a": float("-inf")}])
def test_floats_keep_the_standard_librarys_text(value: Any) -> None:
    """orjson writes these otherwise (0.00001, 1e16, null): the standard library writes
    them, as it always did."""
    assert eventlog.canonical_json(value) == _python(value)
    assert eventlog.canonical_json([value, "x"]) == _python([value, "x"])


@pytest.mark.parametrize("value", [
    {"z": 1, "a": {"é": 2, "e": 3, "\U0001f600": 4, "\uffff": 5}},
    {"ctrl": "".join(chr(c) for c in range(0x20)) + "\x7f\u2028\u2029\"\\"},
    [2**63 - 1, -(2**63), 2**64 - 1, 2**64, -(2**63) - 1],
    {"id": uuid.UUID(int=7), "day": date(2025, 12, 31), "pct": Decimal("12.50"),
     "at": datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=UTC), "naive": datetime(2025, 1, 2)},
    {"set": {3, 1, 2}, "frozen": frozenset({"b", "a"})},
    {"route": Route.PRIMARY, "level": Level.ONE, "text": Text("x")},
    {10: "ten", 9: "nine"},
    {"deep": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]
              ]]]]]]]]]]]]]]]]]},
    ])
def test_edge_values_match(value: Any) -> None:
    assert eventlog.canonical_json(value) == _python(value)


def test_the_same_values_are_refused_with_the_same_error() -> None:
    for value in ({"when": time(10, 0)}, {"colour": Colour.RED}, {"bytes": b"x"}):
        with pytest.raises(TypeError, match="in the event log"):
            eventlog.canonical_json(value)
    with pytest.raises(TypeError, match="not supported between"):
        eventlog.canonical_json({1: "int key", "1": "str key"})
    circular: list[Any] = []
    circular.append(circular)
    with pytest.raises(ValueError, match="Circular reference"):
        eventlog.canonical_json(circular)
    with pytest.raises(TypeError, match="not JSON serializable"):
        _json_bytes({"id": uuid.UUID(int=1)})


def test_entry_bodies_and_hashes_are_unchanged() -> None:
    at = datetime(2025, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
    fields = (41, at, "user:ü", "custody.document.issued", "coc_document:CoC-2025-X",
              "a" * 64, "b" * 64)
    body = _python([41, "2025-06-01T12:00:00.123456Z", *fields[2:]]).encode()
    assert eventlog.entry_body(*fields) == body
    assert eventlog.entry_hash(*fields) == hashlib.sha256(body).hexdigest()


def test_which_values_take_orjson() -> None:
    """Plain payloads (strings, integers, UUIDs, dates, Decimals) are written by orjson;
    a float, an enum, a set or a subclass anywhere sends the value to the standard
    library."""
    typical = {"digest": "ab" * 32, "issuer": uuid.UUID(int=3), "kg": 1000,
               "day": date(2025, 12, 31), "pct": Decimal("1.00"), "none": None,
               "parts": [["f", "NO", "primary", 500, "smelter", []]]}
    assert canonical.fast_text(typical) == _python(typical).encode()
    for odd in (1.5, Route.PRIMARY, {1}, Text("x"), 2**64):
        assert canonical.fast_text({**typical, "odd": [odd]}) is None


def test_a_subject_known_plain_is_written_as_the_standard_library_writes_it() -> None:
    made = eventlog.prepared({"id": uuid.UUID(int=9), "kg": 10, "pct": Decimal("2.50"),
                              "names": ["é", None, True]})
    assert made.plain
    credential = {"credentialSubject": made.data, "id": "urn:x", "credentialStatus": [
        {"statusListIndex": "7", "type": "BitstringStatusListEntry"}]}
    assert _json_bytes(credential, (made.data,)) == _python_plain(credential)
    floats = eventlog.prepared({"kg": 1e-05})
    assert not floats.plain and floats.data == {"kg": 1e-05}
