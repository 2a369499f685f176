"""Form helpers shared by every context's pages: a submitted form becomes the same input
model the API takes, and its validation errors become one InvalidInput naming the form's
fields in words a person understands, handled exactly like a service's refusal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from stewardship.core.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)
Message = Callable[[dict[str, Any], str], str]

FRIENDLY = {
    "int_parsing": "Enter a whole number",
    "date_parsing": "Enter a date as YYYY-MM-DD",
    "date_from_datetime_parsing": "Enter a date as YYYY-MM-DD",
    "enum": "Choose one of the listed options",
    "literal_error": "Choose one of the listed options",
    "uuid_parsing": "Choose one of the listed options",
    "greater_than_equal": "Enter zero or more",
}
LIST_FIELDS = {"activities": "Choose at least one activity",
               "facilities": "Choose at least one facility",
               "standards": "Choose at least one standard",
               "countries": "Enter at least one country code"}
# How messages name a field, so that each line of an errors summary makes sense alone.
FIELD_NAMES = {"name": "the name", "email": "the e-mail address", "country": "the country",
               "membership_class": "the membership class", "role": "the role",
               "expires_on": "the expiry date", "reason": "the reason",
               "address": "the address"}


def field_message(err: dict[str, Any], field: str) -> str:
    """The message for one pydantic error on one form field."""
    kind = str(err.get("type", ""))
    named = FIELD_NAMES.get(field, field.replace("_", " "))
    if kind in ("missing", "too_short") and field in LIST_FIELDS:
        return LIST_FIELDS[field]
    if kind == "missing":
        return f"{named} is required"
    if kind == "string_pattern_mismatch" and field in ("website", "url"):
        return "Enter a full web address starting with https:// or http://"
    if kind == "string_too_short":
        ctx = err.get("ctx") or {}
        return f"{named} needs at least {ctx.get('min_length', 1)} characters"
    if kind in FRIENDLY:
        return FRIENDLY[kind]
    return str(err.get("msg", "is not valid")).removeprefix("Value error, ")


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
            details.append({"field": field, "message": message(dict(err), field)})
        raise InvalidInput("some fields need correcting", details=details) from exc
