"""Named queries (``/epcis/queries``): an EPCIS Query Language query saved under a name.

A query belongs to the organisation whose member created it (the secretariat's to the
secretariat); to anyone else it does not exist (404). Its body is checked against GS1's
query schema (``query-schema.json``, when configured) and then against what this
repository's SimpleEventQuery supports, so that a saved query always runs. Running it
(``/events``, deliveries) shows only the events the reader may see.
"""

from __future__ import annotations

import base64
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jsonschema_rs
from sqlalchemy.orm import Session

from stewardship.core.auth import MEMBER_ROLES, Actor
from stewardship.core.config import Settings
from stewardship.core.errors import Forbidden, NotFound, Unauthenticated
from stewardship.interop import rules
from stewardship.interop.epcis import query as event_query
from stewardship.interop.epcis import store
from stewardship.interop.epcis.problems import EpcisProblem
from stewardship.interop.subscription_models import EpcisNamedQuery

NAME = re.compile(r"^[A-Za-z0-9._~-]{1,100}$")
PAGING = ("perPage", "nextPageToken")


@lru_cache(maxsize=4)
def _validator(path: str) -> Any:
    return jsonschema_rs.validator_for(json.loads(Path(path).read_text("utf-8")),
                                       validate_formats=True)


def owner_of(actor: Actor | None) -> str:
    """The owner key of what ``actor`` creates: its organisation, or the secretariat."""
    if actor is None:
        raise Unauthenticated("sign in (a bearer token) to use named queries")
    if actor.is_secretariat():
        return "secretariat"
    if actor.role in MEMBER_ROLES and actor.organization_id is not None:
        return actor.organization_id.hex
    raise Forbidden("named queries are for members and the secretariat")


def _invalid(detail: str, pointer: str = "") -> EpcisProblem:
    return EpcisProblem(400, detail, type_="epcisException:QueryParameterException",
                        title="Invalid query", instance=f"#{pointer}")


def to_parameters(query: dict[str, Any]) -> list[tuple[str, str]]:
    """The query as SimpleEventQuery parameters (lists joined with ``|``)."""
    params: list[tuple[str, str]] = []
    for key, value in query.items():
        if key == "@context":
            continue
        if key in PAGING:
            raise _invalid(f"query/{key}: paging is asked for when reading, not saved",
                           f"/query/{key}")
        if value is None or isinstance(value, bool):  # EXISTS_... null, EQ_booleanValue
            params.append((key, "" if value is None else str(value).lower()))
            continue
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, str | int | float) and
                                 not isinstance(v, bool) for v in values):
            raise _invalid(f"query/{key} must be a string, a number or a list of them",
                           f"/query/{key}")
        params.append((key, "|".join(str(v) for v in values)))
    return params


def check_body(body: Any, settings: Settings, schema: Path | None) -> tuple[str, dict[str, Any]]:
    """The name and query of a ``POST /epcis/queries`` body, or a 400 naming the field."""
    if not isinstance(body, dict):
        raise _invalid("the body must be an object with name and query")
    name, query = body.get("name"), body.get("query")
    unknown = sorted(set(body) - {"name", "query"})
    if unknown:
        raise _invalid(f"{unknown[0]}: not a field of a query definition (name, query)",
                       f"/{unknown[0]}")
    if not isinstance(name, str) or not NAME.match(name):
        raise _invalid("name is required: 1 to 100 letters, digits, '.', '_', '~' or '-'",
                       "/name")
    if not isinstance(query, dict):
        raise _invalid("query is required: an object of EPCIS Query Language parameters",
                       "/query")
    if schema is not None:
        for error in _validator(str(schema)).iter_errors(query):
            where = "/".join(str(p) for p in error.instance_path)
            raise _invalid(f"query/{where}: {error.message[:300]} (GS1 query schema)",
                           f"/query/{where}")
    params = to_parameters(query)
    event_query.parse(params, settings)  # what this repository cannot run is refused now
    return name, query


def definition(row: EpcisNamedQuery) -> dict[str, Any]:
    return {"name": row.name, "query": row.query, "createdAt": rules.format_time(row.created_at)}


def create(db: Session, actor: Actor | None, body: Any, settings: Settings,
           schema: Path | None) -> EpcisNamedQuery:
    owner = owner_of(actor)
    name, query = check_body(body, settings, schema)
    if store.named_query(db, owner, name) is not None:
        raise EpcisProblem(409, f"you have a query named {name} already")
    return store.add(db, EpcisNamedQuery(owner=owner, name=name, query=query))


def get(db: Session, actor: Actor | None, name: str) -> EpcisNamedQuery:
    row = store.named_query(db, owner_of(actor), name)
    if row is None:
        raise NotFound(f"you have no query named {name[:100]}")
    return row


def remove(db: Session, actor: Actor | None, name: str) -> None:
    store.delete_named_query(db, get(db, actor, name))


def _token(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def _after(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise EpcisProblem(400, "the nextPageToken is not one this repository issued for "
                           "/epcis/queries", type_="epcisException:QueryParameterException",
                           title="Invalid query parameter") from None


def listing(db: Session, actor: Actor | None, per_page: int,
            token: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the caller's queries by name, and the next page's token."""
    rows = store.named_queries(db, owner_of(actor), _after(token) if token else None,
                               per_page + 1)
    more = len(rows) > per_page
    rows = rows[:per_page]
    return [definition(r) for r in rows], (_token(rows[-1].name) if more else None)


def run(db: Session, actor: Actor | None, name: str, params: list[tuple[str, str]],
        settings: Settings) -> tuple[dict[str, Any], str | None]:
    """One page of the query's events the caller may see, and the next page's paging
    parameters (as a query string), for ``GET /epcis/queries/{name}/events``."""
    row = get(db, actor, name)
    extra = sorted({key for key, _ in params} - set(PAGING))
    if extra:
        raise _invalid(f"{extra[0]}: a named query takes only perPage and nextPageToken "
                       "here (its parameters are saved)", f"/{extra[0]}")
    document, next_query = event_query.query_events(db, actor, [*to_parameters(row.query),
                                                                *params], settings)
    document["epcisBody"]["queryResults"]["queryName"] = row.name
    if next_query is not None:
        next_query = urlencode([(k, v) for k, v in parse_qsl(next_query) if k in PAGING])
    return document, next_query
