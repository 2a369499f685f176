"""The event log's pure parts: canonical JSON and the entry hash."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stewardship.core.eventlog import (
    GENESIS_HASH,
    canonical_json,
    digest_payload,
    entry_hash,
)


def test_canonical_json_ignores_key_order_and_whitespace() -> None:
    a = {"b": 1, "a": {"y": [1, 2], "x": "z"}}
    b = {"a": {"x": "z", "y": [1, 2]}, "b": 1}
    assert canonical_json(a) == canonical_json(b) == '{"a":{"x":"z","y":[1,2]},"b":1}'
    assert digest_payload(a) == digest_payload(b)


def test_canonical_json_renders_decimal_uuid_dates_and_sets_stably() -> None:
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    value = {
        "mass": Decimal("1.50"),
        "id": ident,
        "day": date(2024, 2, 29),
        "at": datetime(2024, 2, 29, 13, 5, 7, 120, tzinfo=UTC),
        "tags": {"b", "a"},
        "name": "Førde",
    }
    assert json.loads(canonical_json(value)) == {
        "mass": "1.50",
        "id": "12345678-1234-5678-1234-567812345678",
        "day": "2024-02-29",
        "at": "2024-02-29T13:05:07.000120+00:00",
        "tags": ["a", "b"],
        "name": "Førde",
    }
    # Non-ASCII stays as UTF-8 rather than \u escapes: one spelling per value.
    assert "Førde" in canonical_json(value)
    assert canonical_json(value) == canonical_json(dict(reversed(list(value.items()))))


def test_decimal_scale_is_part_of_the_value() -> None:
    assert digest_payload({"m": Decimal("1.5")}) != digest_payload({"m": Decimal("1.50")})


def test_canonical_json_refuses_what_it_cannot_render_stably() -> None:
    with pytest.raises(TypeError, match="cannot put object in the event log"):
        canonical_json({"x": object()})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=4),
    max_leaves=12,
)


@settings(max_examples=60)
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_property_canonical_json_roundtrips_to_the_same_text(payload: dict) -> None:  # type: ignore[type-arg]
    text = canonical_json(payload)
    assert canonical_json(json.loads(text)) == text


BASE = {
    "sequence": 7,
    "recorded_at": datetime(2025, 1, 2, 3, 4, 5, 600, tzinfo=UTC),
    "actor": "user:1",
    "kind": "registry.organization.applied",
    "subject": "organization:fjordal",
    "payload_digest": digest_payload({"name": "Fjordal"}),
    "prev_hash": GENESIS_HASH,
}
CHANGED = {
    "sequence": 8,
    "recorded_at": BASE["recorded_at"] + timedelta(microseconds=1),  # type: ignore[operator]
    "actor": "user:2",
    "kind": "registry.organization.member",
    "subject": "organization:fjordal-2",
    "payload_digest": digest_payload({"name": "Fjordal "}),
    "prev_hash": "f" * 64,
}


def test_entry_hash_is_a_deterministic_sha256() -> None:
    first = entry_hash(**BASE)  # type: ignore[arg-type]
    assert first == entry_hash(**BASE)  # type: ignore[arg-type]
    assert len(first) == 64
    int(first, 16)


@pytest.mark.parametrize("field", sorted(BASE))
def test_entry_hash_changes_when_any_field_changes(field: str) -> None:
    altered = {**BASE, field: CHANGED[field]}
    assert entry_hash(**altered) != entry_hash(**BASE)  # type: ignore[arg-type]

