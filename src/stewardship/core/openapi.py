"""The OpenAPI document says which errors each operation can answer, in the shape it answers.

FastAPI documents only the success and a 422 of its own shape (``{"detail": [...]}``),
which is not what the platform sends. ``install_openapi`` builds the document as usual and
then declares, per operation, the errors its route can give, each with the one error
shape of ``core/errors.py`` (or, on a route class that answers RFC 7807 problem documents,
``application/problem+json``):

- 422 where the route takes any input (parameters or a body): a field breaks a rule;
- 401 and 403 where it reads the caller (a bad bearer token is refused even on a public
  route), 404 where it takes input naming a record, 409 where it changes state, 413
  where it reads a body, 400 where the body is a form (a malformed multipart body, or
  more parts than the route reads, never reaches the route).

A route declares other errors, or a different description, in its own ``responses=``
(429 where the service counts attempts, say); those are kept and given the error shape
unless they name a schema of their own.
A route class may set ``error_media_type`` (the media type of its errors) and
``validation_status`` (the status of its parameter errors, if not 422).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from stewardship.core.web import get_optional_actor

JSON = "application/json"
PROBLEM_JSON = "application/problem+json"

DESCRIPTIONS = {
    400: "The request is malformed: a form that cannot be split into its fields",
    401: "No valid bearer token (or session) where one is needed",
    403: "Your role or organisation may not do this",
    404: "Not found, or not yours to see",
    409: "Conflicts with the current state: a duplicate, a step out of order, or a "
         "change made at the same moment",
    413: "The request body is larger than allowed",
    415: "The body's media type is not accepted",
    422: "Invalid input; the details name each field and the reason",
    429: "Too many attempts; try again later",
}

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "description": "The one error shape of the platform's API",
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message", "details"],
        "properties": {
            "code": {"type": "string", "description": "A stable name for the kind of error"},
            "message": {"type": "string", "description": "What went wrong, for people"},
            "details": {"type": "array", "description": "One entry per field at fault",
                        "items": {"type": "object", "properties": {
                            "field": {"type": "string"}, "message": {"type": "string"}}}},
        },
    }},
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 7807 problem document",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"},
        "status": {"type": "integer"}, "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
        "errorCount": {"type": "integer"},
    },
}

RATE_LIMITED: dict[int | str, dict[str, Any]] = {429: {"description": DESCRIPTIONS[429]}}
"""``responses=`` of a route whose service counts attempts (sign-ins, comments, filings)."""

_REFS = {JSON: "#/components/schemas/Error", PROBLEM_JSON: "#/components/schemas/Problem"}
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_FORM_TYPES = {"multipart/form-data", "application/x-www-form-urlencoded"}


def refused_with_report(description: str, report_schema: str) -> dict[str, Any]:
    """A 422 of an all-or-nothing import: the platform's error, which names each refused
    row, and beside it `report`, the whole row-by-row report (schema `report_schema`)."""
    return {"description": description, "content": {JSON: {"schema": {
        "type": "object", "required": ["error"], "additionalProperties": False,
        "properties": {"error": {"$ref": "#/components/schemas/Error/properties/error"},
                       "report": {"$ref": f"#/components/schemas/{report_schema}"}}}}}}


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def error_statuses(route: Any) -> set[int]:
    """The errors a route can answer, from what it reads (see the module's docstring)."""
    dependant = route.dependant
    reads_caller = get_optional_actor in set(_calls(dependant))
    has_body = route.body_field is not None or "requestBody" in (route.openapi_extra or {})

    def flat(d: Dependant, kind: str) -> bool:
        return bool(getattr(d, kind)) or any(flat(s, kind) for s in d.dependencies)

    takes_input = has_body or flat(dependant, "path_params") or flat(dependant, "query_params")
    statuses: set[int] = set()
    if takes_input or flat(dependant, "header_params"):
        statuses |= {getattr(_original(route), "validation_status", 422), 404}
    if reads_caller:
        statuses |= {401, 403}
    if (route.methods or set()) & _BODY_METHODS:
        statuses.add(409)
    if has_body:
        statuses.add(413)
    return statuses


def _original(route: Any) -> Any:
    """The route as declared (FastAPI wraps an included router's routes in a context)."""
    return getattr(route, "original_route", route)


def _declare(operation: dict[str, Any], status: int, media: str) -> None:
    responses = operation.setdefault("responses", {})
    response = responses.setdefault(str(status), {})
    response.setdefault("description", DESCRIPTIONS.get(status, "Error"))
    content = response.get("content") or {}
    if not content or "HTTPValidationError" in str(content):
        content = {media: {}}
    for entry in content.values():
        if not entry.get("schema"):
            entry["schema"] = {"$ref": _REFS.get(media, _REFS[JSON])}
    response["content"] = content


def document_errors(schema: dict[str, Any], routes: list[Any]) -> dict[str, Any]:
    """Declares each operation's errors in ``schema`` (a built OpenAPI document)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    components["Problem"] = PROBLEM_SCHEMA
    for route in iter_route_contexts(routes):
        declared_route = _original(route)
        if not isinstance(declared_route, APIRoute) or not route.include_in_schema:
            continue
        item = schema["paths"].get(route.path_format, {})
        media = getattr(declared_route, "error_media_type", JSON)
        validation = getattr(declared_route, "validation_status", 422)
        for method in route.methods or ():
            operation = item.get(method.lower())
            if operation is None:
                continue
            if validation != 422:
                operation.get("responses", {}).pop("422", None)
            declared = {int(code) for code in operation.get("responses", {})
                        if code.isdecimal() and int(code) >= 400}
            statuses = error_statuses(route) | declared
            body_types = set(operation.get("requestBody", {}).get("content", {}))
            if body_types & _FORM_TYPES:
                statuses.add(400)  # a form Starlette cannot split into its parts
            for status in sorted(statuses):
                _declare(operation, status, media)
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused not in str(schema["paths"]):
            components.pop(unused, None)
    return schema


def install_openapi(app: FastAPI) -> None:
    """Serve the document with every operation's errors declared (built once, on the
    first request for it)."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 openapi_version=app.openapi_version,
                                 description=app.description, routes=app.routes,
                                 tags=app.openapi_tags, servers=app.servers)
            app.openapi_schema = document_errors(schema, app.routes)
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]
