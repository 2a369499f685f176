"""RFC 7807 problem documents, the EPCIS way: every error under ``/epcis`` leaves as
``application/problem+json`` with ``type`` (an ``epcisException:...`` name), ``title``,
``status``, ``detail`` and ``instance``, plus, for capture, ``errors`` naming each event
(``eventIndex``, ``eventID``) and JSON pointer.

``EpcisRoute`` is the router's route class: it turns the platform's domain errors (401
from the auth dependency, with ``WWW-Authenticate: Bearer``, 403, 404, 409...), request
validation errors and the body-size guard's 413 into problem documents, and puts the
version headers on every response.

``negotiate`` (a dependency of every route) honours the request's ``GS1-EPCIS-Version``,
``GS1-EPCIS-Min``/``-Max``, ``GS1-CBV-Version``/``-Min``/``-Max`` and ``Accept``: a version
outside what this repository speaks (EPCIS 2.0.0, CBV 2.0.0) or a media type it cannot
send answers 406, a header that is not a version 400. A JSON answer to a request whose
``Accept`` ranks ``application/ld+json`` above ``application/json`` leaves labelled
``application/ld+json``, each JSON object at its top carrying an ``@context`` (GS1's, when
it had none); problem documents stay ``application/problem+json``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from stewardship.core.errors import DomainError
from stewardship.interop.rules import STANDARD_CONTEXT

PROBLEM_JSON = "application/problem+json"
LD_JSON = "application/ld+json"
VERSION_HEADERS = {
    "GS1-EPCIS-Version": "2.0.0", "GS1-EPCIS-Min": "2.0.0", "GS1-EPCIS-Max": "2.0.0",
    "GS1-CBV-Version": "2.0.0", "GS1-CBV-Min": "2.0.0", "GS1-CBV-Max": "2.0.0",
    "GS1-EPC-Format": "Never_Translates", "GS1-CBV-XML-Format": "Never_Translates",
}
_BY_STATUS = {
    400: ("epcisException:ValidationException", "The request is not valid"),
    401: ("epcisException:SecurityException", "Unauthorised request"),
    403: ("epcisException:SecurityException", "Access to resource forbidden"),
    404: ("epcisException:NoSuchResourceException", "Resource not found"),
    405: ("epcisException:MethodNotAllowedException", "Method not allowed"),
    406: ("epcisException:NotAcceptableException", "Not acceptable"),
    409: ("epcisException:ResourceAlreadyExistsException",
          "A resource with the provided identifier already exists"),
    413: ("epcisException:CaptureLimitExceededException", "Capture payload too large"),
    414: ("epcisException:URITooLongException", "URI Too Long"),
    415: ("epcisException:UnsupportedMediaTypeException", "Unsupported media type"),
    422: ("epcisException:ValidationException", "The request is not valid"),
    500: ("epcisException:ImplementationException", "A server-side error occurred"),
}
MAX_REPORTED = 100
"""At most this many per-event problems are listed; ``errorCount`` gives the total."""


def problem(status: int, detail: str, *, type_: str | None = None, title: str | None = None,
            instance: str | None = None, **extra: Any) -> dict[str, Any]:
    default_type, default_title = _BY_STATUS.get(status, _BY_STATUS[400])
    body: dict[str, Any] = {"type": type_ or default_type, "title": title or default_title,
                            "status": status, "detail": detail}
    if instance is not None:
        body["instance"] = instance
    body.update(extra)
    return body


class EpcisProblem(DomainError):
    """An error that leaves as a problem document; ``errors`` lists per-event problems."""

    def __init__(self, status: int, detail: str, *, type_: str | None = None,
                 title: str | None = None, instance: str | None = None,
                 errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status_code = status
        self.code = (type_ or _BY_STATUS.get(status, _BY_STATUS[400])[0]).split(":")[-1]
        self.type_ = type_
        self.title = title
        self.instance = instance
        self.errors = errors or []
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.errors:
            extra["errors"] = self.errors[:MAX_REPORTED]
            extra["errorCount"] = len(self.errors)
        return problem(self.status_code, self.message, type_=self.type_, title=self.title,
                       instance=self.instance, **extra)


CHALLENGE = {"WWW-Authenticate": 'Bearer realm="epcis"'}


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    extra = dict(headers or {})
    if int(body["status"]) == 401:
        extra.update(CHALLENGE)
    return JSONResponse(body, status_code=int(body["status"]), media_type=PROBLEM_JSON,
                        headers={**VERSION_HEADERS, **extra})


# --- version and media-type negotiation ----------------------------------------------------

EPCIS_VERSION = CBV_VERSION = (2, 0, 0)
SERVED_TYPES = ("application/json", "application/ld+json")
"""What every route sends; those named in ``XML_ROUTES`` send XML as well."""
XML_SERVED = ("application/xml", "text/xml")
XML_ROUTES = frozenset({"capture", "capture_job", "events", "event",
                        *(f"epcis_{r}_events" for r in ("eventTypes", "epcs", "bizSteps",
                                                        "bizLocations", "readPoints",
                                                        "dispositions")),
                        # the instances that may have master data (EPCISMasterDataDocument)
                        *(f"epcis_{r}_one" for r in ("epcs", "bizLocations", "readPoints"))})
_VERSION = re.compile(r"^(\d{1,4})\.(\d{1,4})(?:\.(\d{1,4}))?$")


def _version(name: str, text: str) -> tuple[int, int, int]:
    match = _VERSION.match(text.strip())
    if match is None:
        raise EpcisProblem(400, f"{name} must be a version such as 2.0.0, not {text[:40]!r}",
                           instance=f"#header={name}")
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def _dotted(version: tuple[int, int, int]) -> str:
    return ".".join(map(str, version))


def _check_versions(headers: Any, standard: str, ours: tuple[int, int, int]) -> None:
    exact, low, high = (headers.get(f"GS1-{standard}-{part}")
                        for part in ("Version", "Min", "Max"))
    served = _dotted(ours)
    if exact is not None and _version(f"GS1-{standard}-Version", exact) != ours:
        raise EpcisProblem(406, f"GS1-{standard}-Version {exact.strip()[:40]} cannot be "
                           f"served: this repository speaks {standard} {served} only",
                           instance=f"#header=GS1-{standard}-Version")
    minimum = _version(f"GS1-{standard}-Min", low) if low is not None else None
    maximum = _version(f"GS1-{standard}-Max", high) if high is not None else None
    if minimum is not None and maximum is not None and minimum > maximum:
        raise EpcisProblem(400, f"GS1-{standard}-Min ({_dotted(minimum)}) is above "
                           f"GS1-{standard}-Max ({_dotted(maximum)})",
                           instance=f"#header=GS1-{standard}-Min")
    if (minimum is not None and minimum > ours) or (maximum is not None and maximum < ours):
        raise EpcisProblem(406, f"no {standard} version between GS1-{standard}-Min and "
                           f"GS1-{standard}-Max can be served: this repository speaks "
                           f"{standard} {served} only", instance=f"#header=GS1-{standard}-Min")


def accept_ranges(header: str) -> list[tuple[str, float]]:
    """(media type, quality) of each range of an ``Accept`` header (at most 50)."""
    ranges = []
    for part in header.split(",")[:50]:
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranges.append((media.lower(), quality))
    return ranges


def prefers_json_ld(header: str) -> bool:
    """Whether an ``Accept`` header ranks ``application/ld+json`` above plain
    ``application/json`` and above XML (wildcards stand for plain JSON)."""
    best = {"ld": 0.0, "other": 0.0}
    for media, quality in accept_ranges(header):
        if media == LD_JSON:
            best["ld"] = max(best["ld"], quality)
        elif media in ("application/json", "application/xml", "text/xml"):
            best["other"] = max(best["other"], quality)
    return best["ld"] > 0 and best["ld"] > best["other"]


def accepts(header: str, served: tuple[str, ...]) -> bool:
    """Whether an ``Accept`` header admits one of the ``served`` media types."""
    for media, quality in accept_ranges(header):
        if quality <= 0 or not media:
            continue
        kind, _, sub = media.partition("/")
        for offered in served:
            offered_kind, _, offered_sub = offered.partition("/")
            if kind == "*" or (kind == offered_kind and sub in ("*", offered_sub)):
                return True
    return False


def negotiate(request: Request) -> None:
    """Refuse what this repository cannot answer in (a dependency of every route)."""
    headers = request.headers
    _check_versions(headers, "EPCIS", EPCIS_VERSION)
    _check_versions(headers, "CBV", CBV_VERSION)
    accept = headers.get("accept")
    route = request.scope.get("route")
    served = SERVED_TYPES + (XML_SERVED if getattr(route, "name", "") in XML_ROUTES else ())
    if request.method != "OPTIONS" and accept and accept.strip() and \
            not accepts(accept, served):
        raise EpcisProblem(406, f"this resource is sent as {' or '.join(served)}; "
                           f"Accept: {accept.strip()[:80]} cannot be served",
                           instance="#header=Accept")


def _from_exception(request: Request, exc: Exception) -> Response | None:
    instance = request.url.path
    if isinstance(exc, EpcisProblem):
        body = exc.body()
        body.setdefault("instance", instance)
        return problem_response(body, exc.headers)
    if isinstance(exc, DomainError):
        return problem_response(problem(exc.status_code, exc.message, instance=instance))
    if isinstance(exc, RequestValidationError):
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "path"))
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
        return problem_response(problem(400, "; ".join(parts[:5]) or "invalid request",
                                        type_="epcisException:QueryParameterException",
                                        instance=instance))
    if isinstance(exc, StarletteHTTPException):
        return problem_response(problem(exc.status_code, str(exc.detail), instance=instance))
    return None


class EpcisRoute(APIRoute):
    """Answers errors as problem documents and adds the GS1 version headers."""

    # Read by core/openapi.py: errors are problem documents, bad parameters a 400.
    error_media_type = PROBLEM_JSON
    validation_status = 400

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except Exception as exc:
                answer = _from_exception(request, exc)
                if answer is None:
                    logging.getLogger("stewardship").exception(
                        "unhandled error on %s", request.url.path)
                    answer = problem_response(problem(
                        500, "something went wrong on our side; nothing was saved",
                        instance=request.url.path))
                return answer
            if prefers_json_ld(request.headers.get("accept", "")):
                response = as_json_ld(response)
            for name, value in VERSION_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return route


def with_context(value: Any) -> Any:
    """A JSON answer as JSON-LD: an object with an ``@context`` (GS1's first, when it had
    none); in a list, each object."""
    if isinstance(value, dict):
        return value if "@context" in value else {"@context": STANDARD_CONTEXT, **value}
    if isinstance(value, list):
        return [with_context(item) if isinstance(item, dict) else item for item in value]
    return value


def as_json_ld(response: Response) -> Response:
    """A plain JSON response relabelled ``application/ld+json`` with its ``@context``;
    any other response (XML, problem documents, no body) as it is."""
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" or not isinstance(getattr(response, "body", None), bytes):
        return response
    body = with_context(_loads(response.body)) if response.body else None
    headers = {k: v for k, v in response.headers.items()
               if k.lower() not in ("content-length", "content-type")}
    return Response(_dumps(body) if body is not None else b"",
                    status_code=response.status_code, headers=headers, media_type=LD_JSON,
                    background=response.background)


def _loads(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:  # what orjson refuses (integers beyond 64 bits)
        return json.loads(raw)


def _dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
