"""Master data sent in a capture document's header
(``epcisHeader.epcisMasterData.vocabularyList``): locations, read points, parties and any
other vocabulary, each element with its attributes.

An XML document's ``EPCISHeader/extension/EPCISMasterData`` arrives here translated to
that same shape (``xml_master``). An attribute value that is an object keeps the
``@context`` its keys' prefixes were declared in.

Kept per capturer, the latest sending of an element replacing the earlier one: one
member's description of a location neither shows to nor overrides another's. The
top-level resources (``GET /epcis/bizLocations/{id}``...) show the master data the reader
may see: its own, and the secretariat all.

A business location (or read point) may name the platform facility it is, with the
attribute ``urn:stewardship:epcis:facility`` (``stw:facility`` under the document's
prefix, or any prefix mapped to ``urn:stewardship:epcis:``) holding the facility's public
id; the CoC profile then resolves a ``bizLocation`` of that id to the facility.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Text, cast, or_, select
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor
from stewardship.core.errors import InvalidInput
from stewardship.interop.models import EpcisMasterData

LOCATION = "urn:epcglobal:epcis:vtype:BusinessLocation"
READ_POINT = "urn:epcglobal:epcis:vtype:ReadPoint"
PARTY = "urn:epcglobal:epcis:vtype:Party"
VOCABULARY_OF = {"bizLocations": (LOCATION,), "readPoints": (READ_POINT, LOCATION),
                 "epcs": ("urn:epcglobal:epcis:vtype:EPCInstance",)}
"""The vocabularies whose elements a top-level resource's instance may be."""
EXTENSION_NS = "urn:stewardship:epcis:"
FACILITY_ATTRIBUTE = EXTENSION_NS + "facility"
"""The attribute naming the platform facility a location is: its public id."""
MAX_ELEMENTS = 10_000


def _expand(name: str, prefixes: Mapping[str, str]) -> str:
    prefix, sep, rest = name.partition(":")
    if sep and prefix in prefixes and not rest.startswith("//"):
        return prefixes[prefix] + rest
    return name


def elements(document: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(vocabulary type, element) of every vocabulary element in the header; InvalidInput
    naming the pointer when the header's master data is not of GS1's shape (the schema
    checks it too, where it is configured)."""
    header = document.get("epcisHeader")
    if not isinstance(header, dict):
        return []
    master = header.get("epcisMasterData")
    if master is None:
        return []
    base = "/epcisHeader/epcisMasterData"
    vocabularies = master.get("vocabularyList") if isinstance(master, dict) else None
    if not isinstance(vocabularies, list):
        raise InvalidInput(f"{base}/vocabularyList: a list of vocabularies is expected",
                           field=f"{base}/vocabularyList")
    found: list[tuple[str, dict[str, Any]]] = []
    for i, vocabulary in enumerate(vocabularies):
        where = f"{base}/vocabularyList/{i}"
        kind = vocabulary.get("type") if isinstance(vocabulary, dict) else None
        if not isinstance(kind, str) or not kind:
            raise InvalidInput(f"{where}/type: a vocabulary names its type", field=where)
        items = vocabulary.get("vocabularyElementList") or []
        if not isinstance(items, list):
            raise InvalidInput(f"{where}/vocabularyElementList: a list is expected",
                               field=where)
        for j, element in enumerate(items):
            ident = element.get("id") if isinstance(element, dict) else None
            if not isinstance(ident, str) or not ident or len(ident) > 512:
                raise InvalidInput(f"{where}/vocabularyElementList/{j}/id: an element has "
                                   "an id (a URI of at most 512 characters)", field=where)
            attributes = element.get("attributes") or []
            if not isinstance(attributes, list) or not all(
                    isinstance(a, dict) and isinstance(a.get("id"), str) for a in attributes):
                raise InvalidInput(f"{where}/vocabularyElementList/{j}/attributes: a list "
                                   'of {"id": <uri>, "attribute": <value>}', field=where)
            found.append((kind, element))
    if len(found) > MAX_ELEMENTS:
        raise InvalidInput(f"{base}: {len(found)} vocabulary elements; at most "
                           f"{MAX_ELEMENTS} are taken in one document", field=base)
    return found


def store(db: Session, actor: Actor, document: Mapping[str, Any],
          prefixes: Mapping[str, str]) -> int:
    """Keep the header's master data for the capturer; how many elements it held.
    Attribute ids are kept as sent, with their CURIEs expanded through the document's
    prefixes (so ``stw:facility`` is found whatever the prefix was called)."""
    found = elements(document)
    for kind, element in found:
        attributes = [{**a, "id": _expand(str(a["id"]), prefixes),
                       **({"attribute": _in_context(a["attribute"], prefixes)}
                          if "attribute" in a else {})}
                      for a in element.get("attributes") or []]
        children = [str(c) for c in element.get("children") or [] if isinstance(c, str)]
        row = db.scalars(select(EpcisMasterData).where(*_owner(actor.organization_id),
                                                       EpcisMasterData.vocabulary == kind,
                                                       EpcisMasterData.element_id ==
                                                       element["id"])).first()
        if row is None:
            db.add(EpcisMasterData(organization_id=actor.organization_id, vocabulary=kind,
                                   element_id=element["id"], attributes=attributes,
                                   children=children))
        else:
            row.attributes, row.children = attributes, children
    if found:
        db.flush()
    return len(found)


def _used_prefixes(value: Any, prefixes: Mapping[str, str], found: set[str]) -> None:
    if isinstance(value, list):
        for item in value:
            _used_prefixes(item, prefixes, found)
    elif isinstance(value, dict):
        for key, inner in value.items():
            prefix, sep, rest = str(key).partition(":")
            if sep and prefix in prefixes and not rest.startswith("//"):
                found.add(prefix)
            _used_prefixes(inner, prefixes, found)


def _in_context(value: Any, prefixes: Mapping[str, str]) -> Any:
    """An attribute value that is an object, with the ``@context`` declaring the prefixes
    of its keys (as the document declared them): kept beside it, its keys stay meaningful
    once the document is gone (and are written back in their namespaces in XML)."""
    if not isinstance(value, dict) or "@context" in value:
        return value
    used: set[str] = set()
    _used_prefixes(value, prefixes, used)
    if not used:
        return value
    return {"@context": {p: prefixes[p] for p in sorted(used)}, **value}


def _owner(organization_id: uuid.UUID | None) -> list[Any]:
    if organization_id is None:
        return [EpcisMasterData.organization_id.is_(None)]
    return [EpcisMasterData.organization_id == organization_id]


def visible(db: Session, element_id: str, vocabularies: tuple[str, ...], *,
            organization_id: uuid.UUID | None, see_all: bool) -> list[dict[str, Any]]:
    """The master data of this element the reader may see, as GS1 vocabulary elements
    (with the vocabulary type)."""
    stmt = select(EpcisMasterData).where(EpcisMasterData.element_id == element_id,
                                         EpcisMasterData.vocabulary.in_(vocabularies))
    if not see_all:
        if organization_id is None:
            return []
        stmt = stmt.where(EpcisMasterData.organization_id == organization_id)
    rows = db.scalars(stmt.order_by(EpcisMasterData.id)).all()
    return [{"type": row.vocabulary, "id": row.element_id, "attributes": row.attributes,
             **({"children": row.children} if row.children else {})} for row in rows]


def element_exists(db: Session, element_id: str, vocabularies: tuple[str, ...], *,
                   organization_id: uuid.UUID | None, see_all: bool) -> bool:
    return bool(visible(db, element_id, vocabularies, organization_id=organization_id,
                        see_all=see_all))


def facility_of_location(db: Session, organization_id: uuid.UUID | None,
                         location: str) -> str | None:
    """The facility public id the capturer's master data gives this location, if any."""
    rows = db.scalars(select(EpcisMasterData).where(
        *_owner(organization_id), EpcisMasterData.element_id == location,
        EpcisMasterData.vocabulary.in_((LOCATION, READ_POINT)))).all()
    for row in rows:
        for attribute in row.attributes or []:
            if attribute.get("id") == FACILITY_ATTRIBUTE:
                value = attribute.get("attribute")
                if isinstance(value, str) and value.strip():
                    return value.strip()
    return None


MAX_DESCENDANTS = 1000
"""At most this many locations a WD_ parameter stands for (the value and what its
hierarchy holds below it)."""


def with_descendants(db: Session, ids: tuple[str, ...], *, organization_id: uuid.UUID | None,
                     see_all: bool) -> list[str]:
    """The locations (business locations or read points) and their direct or indirect
    descendants, as the ``children`` of the master data the reader may see give them
    (EPCIS 2.0 section 6.5): its own, and the secretariat all."""
    found = dict.fromkeys(ids)
    frontier = list(ids)
    if not see_all and organization_id is None:
        return list(found)
    while frontier and len(found) < MAX_DESCENDANTS:
        stmt = select(EpcisMasterData.children).where(
            EpcisMasterData.element_id.in_(frontier[:500]),
            EpcisMasterData.vocabulary.in_((LOCATION, READ_POINT)))
        if not see_all:
            stmt = stmt.where(EpcisMasterData.organization_id == organization_id)
        frontier = frontier[500:]
        for children in db.scalars(stmt):
            for child in children or []:
                if isinstance(child, str) and child not in found \
                        and len(found) < MAX_DESCENDANTS:
                    found[child] = None
                    frontier.append(child)
    return list(found)


ATTRIBUTE_PREFIXES = {"gs1": "https://gs1.org/voc/", "cbv": "https://ref.gs1.org/cbv/",
                      "cbvmda": "urn:epcglobal:cbv:mda:", "stw": EXTENSION_NS}
"""The prefixes an attribute name is read through when a query names it and when the
stored id kept its CURIE (a document that did not declare the prefix): ``cbvmda:sst``
and ``urn:epcglobal:cbv:mda:sst`` are the same attribute."""
MAX_SCANNED = 20_000
"""At most this many master data elements read for one HASATTR_/EQATTR_ parameter."""
_VOCABULARY_OF_FIELD = {"readPoint": (READ_POINT, LOCATION), "bizLocation": (LOCATION,)}


def attribute_name(name: str) -> str:
    """An attribute name as its full URI (its CURIE expanded)."""
    return _expand(name.strip(), ATTRIBUTE_PREFIXES)


def _local(name: str) -> str:
    """The name's last part (after its last ``:``, ``#`` or ``/``): in every form of it."""
    return name[max(name.rfind(sep) for sep in ":#/") + 1:]


def _same_value(stored: Any, wanted: tuple[str, ...]) -> bool:
    if isinstance(stored, bool):
        text = "true" if stored else "false"
    elif isinstance(stored, int | float | str):
        text = str(stored).strip()
    else:
        return False
    if text in wanted:
        return True
    try:
        number = float(text)
    except ValueError:
        return False
    for value in wanted:
        try:
            if float(value) == number:
                return True
        except ValueError:
            continue
    return False


def with_attribute(db: Session, field: str, names: tuple[str, ...],
                   values: tuple[str, ...] | None, *, organization_id: uuid.UUID | None,
                   see_all: bool) -> list[str]:
    """The ids of the locations (``field``: ``readPoint`` or ``bizLocation``) whose master
    data the reader may see (its own, the secretariat all) has a non-null attribute of
    one of ``names`` and, with ``values``, whose value is one of them (EPCIS 2.0
    HASATTR_/EQATTR_); at most ``MAX_DESCENDANTS``. One query, prefiltered on the
    attributes' local names in the stored JSON, at most ``MAX_SCANNED`` rows."""
    if not see_all and organization_id is None:
        return []
    wanted = {attribute_name(n) for n in names}
    stmt = select(EpcisMasterData.element_id, EpcisMasterData.attributes).where(
        EpcisMasterData.vocabulary.in_(_VOCABULARY_OF_FIELD[field]))
    if not see_all:
        stmt = stmt.where(EpcisMasterData.organization_id == organization_id)
    locals_ = {_local(n) for n in wanted}
    if all(n and n.isascii() and n.isprintable() and not set(n) & {'"', "\\"}
           for n in locals_):  # the JSON text holds them as written (nothing escaped)
        text = cast(EpcisMasterData.attributes, Text)
        stmt = stmt.where(or_(*(text.contains(n, autoescape=True) for n in locals_)))
    found: dict[str, None] = {}
    for element_id, attributes in db.execute(stmt.order_by(EpcisMasterData.id)
                                             .limit(MAX_SCANNED)):
        for item in attributes or []:
            if not isinstance(item, dict) or item.get("attribute") is None \
                    or attribute_name(str(item.get("id", ""))) not in wanted:
                continue
            if values is None or _same_value(item["attribute"], values):
                found[element_id] = None
                break
        if len(found) >= MAX_DESCENDANTS:
            break
    return list(found)
