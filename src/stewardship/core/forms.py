"""Form helpers shared by every context's pages: a submitted form becomes the same input
model the API takes, and its validation errors become one InvalidInput naming the form's
fields in words a person understands, handled exactly like a service's refusal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from stewardship.core import labels
from stewardship.core.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)
Message = Callable[[dict[str, Any], str], str]

LIST_FIELDS = {"activities": "Choose at least one activity",
               "facilities": "Choose at least one facility",
               "standards": "Choose at least one standard",
               "countries": "Enter at least one country code"}
# How messages name a field, so that each line of an errors summary makes sense alone.
FIELD_NAMES = {"name": "the name", "email": "the e-mail address", "country": "the country",
               "membership_class": "the membership class", "role": "the role",
               "expires_on": "the expiry date", "reason": "the reason",
               "address": "the address", "website": "the website", "url": "the web address",
               "annual_capacity_t": "the annual capacity in tonnes",
               "latitude": "the latitude", "longitude": "the longitude"}


def field_name(field: str) -> str:
    """A field as messages name it: ``shipment_date`` -> ``the shipment date``; a capacity
    field of an activity (``capacity_smelting``) takes the activity's words from the table."""
    if field in FIELD_NAMES:
        return FIELD_NAMES[field]
    head, _, code = field.partition("_")
    if head == "capacity" and labels.known(code):
        return f"the capacity of {labels.lower(code)}"
    return "the " + field.replace("_", " ")


def field_message(err: dict[str, Any], field: str) -> str:
    """The message for one pydantic error on one form field; every message names the field,
    so that it reads alone in an errors summary and two fields never say the same thing."""
    kind = str(err.get("type", ""))
    named = field_name(field)
    ctx = err.get("ctx") or {}
    if kind in ("missing", "too_short") and field in LIST_FIELDS:
        return LIST_FIELDS[field]
    if kind == "missing":
        return f"{named} is required"
    if kind == "string_pattern_mismatch" and field in ("website", "url"):
        return f"Enter a full web address starting with https:// or http:// as {named}"
    if kind == "string_too_short":
        return f"{named} needs at least {ctx.get('min_length', 1)} characters"
    if kind == "string_too_long":
        return f"{named} takes at most {ctx.get('max_length')} characters"
    if kind == "int_parsing":
        return f"Enter a whole number for {named}"
    if kind in ("date_parsing", "date_from_datetime_parsing", "date_type"):
        return f"Enter a date as YYYY-MM-DD for {named}"
    if kind in ("enum", "literal_error", "uuid_parsing"):
        return f"Choose one of the listed options for {named}"
    if kind == "greater_than_equal":
        return f"Enter zero or more for {named}" if ctx.get("ge") in (0, "0") else \
            f"{named} must be at least {ctx.get('ge')}"
    if kind == "greater_than":
        return f"{named} must be more than {ctx.get('gt')}"
    if kind == "less_than_equal":
        return f"{named} must be at most {ctx.get('le')}"
    text = str(err.get("msg", "is not valid")).removeprefix("Value error, ")
    if kind in ("value_error", "assertion_error") or field.replace("_", " ") in text:
        return text  # the schema's own words, written for the field they check
    return f"{named}: {text[:1].lower()}{text[1:]}"


def form_input(model: type[M], values: dict[str, Any], *, message: Message = field_message,
               whole_form_field: str = "form") -> M:
    """Build ``model`` from form values; blank fields count as not given. Errors of nested
    models (``accreditation.countries.0``) name their innermost field; whole-model errors
    name ``whole_form_field``."""
    given = {k: v for k, v in values.items() if v not in ("", None, [])}
    try:
        return model(**given)
    except ValidationError as exc:
        details = []
        for err in exc.errors():
            names = [str(p) for p in err.get("loc", ()) if isinstance(p, str)]
            field = names[-1] if names else whole_form_field
            detail = {"field": field, "message": message(dict(err), field)}
            if detail not in details:  # one field, one message: a union's branches agree
                details.append(detail)
        raise InvalidInput("some fields need correcting", details=details) from exc
