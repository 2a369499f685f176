"""The top-level resources of the REST bindings beside the event query: ``eventTypes``,
``epcs``, ``bizSteps``, ``bizLocations``, ``readPoints`` and ``dispositions``.

Each is a collection of the values that the events the caller may see hold (the five
standard event types are always listed), paged by ``perPage`` with a ``nextPageToken``
named in the ``Link`` header; ``/{resource}/{id}`` lists its sub-resources (``events``) and
``/{resource}/{id}/events`` is the event query restricted to the events naming it. An
instance no visible event names is "not found", whoever else's events name it.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from stewardship.core.auth import Actor
from stewardship.core.config import Settings
from stewardship.core.errors import NotFound
from stewardship.interop import repository as repo
from stewardship.interop import rules
from stewardship.interop.epcis import master_data
from stewardship.interop.epcis.problems import EpcisProblem
from stewardship.interop.epcis.query import query_events, reader_scope

RESOURCES = ("eventTypes", "epcs", "bizSteps", "bizLocations", "readPoints", "dispositions")
TOP_LEVEL = ("capture", "events", *RESOURCES)
"""What ``GET /epcis`` lists (GS1's names)."""
_WHAT = {"eventTypes": "event type", "epcs": "EPC", "bizSteps": "business step",
         "bizLocations": "business location", "readPoints": "read point",
         "dispositions": "disposition"}
_TOKEN_MAX = 2048


def collection(members: list[str]) -> dict[str, Any]:
    return {"@context": rules.STANDARD_CONTEXT, "type": "Collection", "member": members}


def resource_id(resource: str, value: str) -> str:
    """A path's instance as the repository stores it: standard business steps and
    dispositions as bare words, whichever form (URN, web URI, CURIE) names them."""
    if resource == "bizSteps":
        return rules.cbv_short(value, "BizStep")
    if resource == "dispositions":
        return rules.cbv_short(value, "Disp")
    return value.strip()


def _token(resource: str, value: str) -> str:
    raw = f"{resource}\n{value}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(resource: str, token: str) -> str:
    refused = EpcisProblem(400, "the nextPageToken is not one this repository issued for "
                           f"/epcis/{resource}", type_="epcisException:QueryParameterException",
                           title="Invalid query parameter")
    if len(token) > _TOKEN_MAX:
        raise refused
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise refused from None
    seen, sep, value = raw.partition("\n")
    if seen != resource or not sep:
        raise refused
    return value


def _page_parameters(params: list[tuple[str, str]], resource: str,
                     settings: Settings) -> tuple[int, str | None]:
    known = {"perPage", "nextPageToken"}
    unknown = sorted({name for name, _ in params} - known)
    if unknown:
        raise EpcisProblem(400, f"query parameter {unknown[0][:80]} is not read here; "
                           "a collection takes perPage and nextPageToken",
                           type_="epcisException:QueryParameterException",
                           title="Invalid query parameter")
    values = dict(params)
    per_page = settings.epcis_per_page_default
    if "perPage" in values:
        text = values["perPage"]
        if not text.isdecimal() or not 1 <= int(text) <= settings.epcis_per_page_max:
            raise EpcisProblem(400, f"perPage must be a whole number from 1 to "
                               f"{settings.epcis_per_page_max}",
                               type_="epcisException:QueryParameterException",
                               title="Invalid query parameter")
        per_page = int(text)
    after = _after(resource, values["nextPageToken"]) if "nextPageToken" in values else None
    return per_page, after


def list_resource(db: Session, actor: Actor | None, resource: str,
                  params: list[tuple[str, str]], settings: Settings,
                  ) -> tuple[dict[str, Any], str | None]:
    """One page of a top-level collection, and the next page's query string (None on
    the last page)."""
    organization, see_all = reader_scope(actor)
    per_page, after = _page_parameters(params, resource, settings)
    values = repo.resource_values(db, resource, organization_id=organization,
                                  see_all=see_all, after=after, limit=per_page + 1)
    if resource == "eventTypes":
        standard = [t for t in rules.EVENT_TYPES if after is None or t > after]
        values = sorted(set(values) | set(standard))[:per_page + 1]
    more = len(values) > per_page
    values = values[:per_page]
    next_query = None
    if more:
        next_query = urlencode([("perPage", str(per_page)),
                                ("nextPageToken", _token(resource, values[-1]))])
    return collection(values), next_query


def _require(db: Session, actor: Actor | None, resource: str, value: str) -> tuple[str, str]:
    organization, see_all = reader_scope(actor)
    stored = resource_id(resource, value)
    if resource == "eventTypes" and stored in rules.EVENT_TYPES:
        return resource, stored
    if not stored or not repo.resource_exists(db, resource, stored,
                                              organization_id=organization, see_all=see_all):
        raise NotFound(f"no {_WHAT[resource]} {value[:200]} in the events you may see")
    return resource, stored


def sub_resources(db: Session, actor: Actor | None, resource: str,
                  value: str) -> dict[str, Any]:
    """Its sub-resources, and the master data (``epcisHeader``) of it the reader may see:
    the vocabulary elements as sent, under ``masterData``."""
    vocabularies = master_data.VOCABULARY_OF.get(resource)
    if vocabularies is None:
        _require(db, actor, resource, value)
        return collection(["events"])
    organization, see_all = reader_scope(actor)
    known = master_data.visible(db, resource_id(resource, value) or value, vocabularies,
                                organization_id=organization, see_all=see_all)
    if not known:
        _require(db, actor, resource, value)
        return collection(["events"])
    return {**collection(["events"]), "masterData": known}


def resource_events(db: Session, actor: Actor | None, resource: str, value: str,
                    params: list[tuple[str, str]], settings: Settings,
                    ) -> tuple[dict[str, Any], str | None]:
    within = _require(db, actor, resource, value)
    return query_events(db, actor, params, settings, within=within)
