"""Form messages name their field, so that each line of an errors summary reads alone and
two fields never say the same words."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, Field

from stewardship.core.errors import InvalidInput
from stewardship.core.forms import field_message, form_input


class _Shipment(BaseModel):
    quantity_kg: int = Field(ge=0)
    coc_quantity_kg: int = Field(ge=0)
    shipment_date: str
    period_months: Literal[1, 3, 12] = 12


def _refusal(values: dict[str, object]) -> list[dict[str, str]]:
    with pytest.raises(InvalidInput) as refused:
        form_input(_Shipment, values)
    return refused.value.details


def test_two_fields_with_the_same_fault_say_which_is_which() -> None:
    details = _refusal({"quantity_kg": "lots", "coc_quantity_kg": "many"})
    messages = {d["field"]: d["message"] for d in details}
    assert messages == {"quantity_kg": "Enter a whole number for the quantity kg",
                        "coc_quantity_kg": "Enter a whole number for the coc quantity kg",
                        "shipment_date": "the shipment date is required"}
    assert len(set(messages.values())) == len(messages)


@pytest.mark.parametrize(("err", "field", "message"), [
    ({"type": "missing"}, "name", "the name is required"),
    ({"type": "missing"}, "shipment_date", "the shipment date is required"),
    ({"type": "int_parsing"}, "annual_capacity_t",
     "Enter a whole number for the annual capacity in tonnes"),
    ({"type": "int_parsing"}, "capacity_semi_fabrication",
     "Enter a whole number for the capacity of semi-fabrication"),
    ({"type": "date_parsing"}, "expires_on", "Enter a date as YYYY-MM-DD for the expiry date"),
    ({"type": "literal_error"}, "role", "Choose one of the listed options for the role"),
    ({"type": "greater_than_equal", "ctx": {"ge": 0}}, "quantity_kg",
     "Enter zero or more for the quantity kg"),
    ({"type": "string_too_short", "ctx": {"min_length": 3}}, "reason",
     "the reason needs at least 3 characters"),
    ({"type": "string_too_long", "ctx": {"max_length": 200}}, "name",
     "the name takes at most 200 characters"),
    ({"type": "decimal_parsing", "msg": "Input should be a valid decimal"}, "declared_yield",
     "the declared yield: input should be a valid decimal"),
    ({"type": "value_error", "msg": "Value error, Say how the recycled content was measured"},
     "recycled_method", "Say how the recycled content was measured"),
])
def test_every_message_names_its_field(err: dict[str, object], field: str, message: str) -> None:
    assert field_message(err, field) == message


def test_a_field_is_not_told_the_same_thing_twice() -> None:
    class Either(BaseModel):
        count: int | Literal["none"]

    details = _refusal_of(Either, {"count": "lots"})
    assert [d["field"] for d in details].count("count") == len(
        {d["message"] for d in details if d["field"] == "count"})


def _refusal_of(model: type[BaseModel], values: dict[str, object]) -> list[dict[str, str]]:
    with pytest.raises(InvalidInput) as refused:
        form_input(model, values)
    return refused.value.details
