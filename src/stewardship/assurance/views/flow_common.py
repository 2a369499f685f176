"""What the certification-flow pages share: rendering, building input models from form
values, and turning a service's refusal into field errors for the form shown again."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from stewardship.core.errors import DomainError, InvalidInput
from stewardship.core.pagination import PageParams
from stewardship.core.templating import sentence
from stewardship.core.web import settings_of

_FRIENDLY = {
    "int_parsing": "Enter a whole number",
    "date_parsing": "Enter a date as YYYY-MM-DD",
    "date_from_datetime_parsing": "Enter a date as YYYY-MM-DD",
    "enum": "Choose one of the listed options",
    "literal_error": "Choose one of the listed options",
    "uuid_parsing": "Choose one of the listed options",
}
_LISTS = {"activities": "Choose at least one activity",
          "facilities": "Choose at least one facility"}


def render(request: Request, name: str, context: dict[str, Any],
           status_code: int = 200) -> Response:
    response: Response = request.app.state.templates.render(request, name, context, status_code)
    return response


def all_rows(request: Request) -> PageParams:
    """One page as long as the platform allows: choices offered in a form."""
    return PageParams(page=1, per_page=settings_of(request).page_size_max)


def _message(err: dict[str, Any], field: str) -> str:
    kind = str(err.get("type", ""))
    named = field.replace("_", " ")
    if kind in ("missing", "too_short") and field in _LISTS:
        return _LISTS[field]
    if kind == "missing":
        return f"{named} is required"
    if kind == "string_too_short":
        ctx = err.get("ctx") or {}
        return f"{named} needs at least {ctx.get('min_length', 1)} characters"
    if kind in _FRIENDLY:
        return _FRIENDLY[kind]
    return str(err.get("msg", "is not valid")).removeprefix("Value error, ")


def validate(model: type[BaseModel], values: dict[str, Any]) -> Any:
    """Build an input model from form values (blank fields count as not given); its
    errors become one InvalidInput naming the form's fields."""
    given = {k: v for k, v in values.items() if v not in ("", None, [])}
    try:
        return model(**given)
    except ValidationError as exc:
        details = []
        for err in exc.errors():
            names = [str(p) for p in err.get("loc", ()) if isinstance(p, str)]
            field = names[-1] if names else "form"
            details.append({"field": field, "message": _message(dict(err), field)})
        raise InvalidInput("some fields need correcting", details=details) from exc


def errors_of(exc: DomainError, *, rename: dict[str, str] | None = None,
              fallback: str = "form") -> dict[str, str]:
    """Field errors keyed by the form's field names; a message without a field (or with a
    field the form does not show) goes to ``fallback`` so that it is never lost."""
    out: dict[str, str] = {}
    for name, message in exc.field_errors().items():
        out.setdefault((rename or {}).get(name, name), sentence(message))
    if not out:
        out[fallback] = sentence(exc.message)
    return out


def reraise_access(exc: DomainError) -> None:
    """Sign-in, permission and not-found refusals are pages of their own, not form
    errors."""
    if exc.status_code in (401, 403, 404):
        raise exc
