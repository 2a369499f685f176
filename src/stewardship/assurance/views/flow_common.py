"""What the certification-flow pages share: rendering, building input models from form
values, and turning a service's refusal into field errors for the form shown again."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel

from stewardship.core.errors import DomainError
from stewardship.core.forms import form_input
from stewardship.core.pagination import PageParams
from stewardship.core.templating import sentence
from stewardship.core.web import settings_of


def render(request: Request, name: str, context: dict[str, Any],
           status_code: int = 200) -> Response:
    response: Response = request.app.state.templates.render(request, name, context, status_code)
    return response


def all_rows(request: Request) -> PageParams:
    """One page as long as the platform allows: choices offered in a form."""
    return PageParams(page=1, per_page=settings_of(request).page_size_max)


def validate(model: type[BaseModel], values: dict[str, Any]) -> Any:
    """The form's input model; see core.forms.form_input."""
    return form_input(model, values)


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
