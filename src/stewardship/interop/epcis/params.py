"""The SimpleEventQuery parameters on event fields (EPCIS 2.0 section 8.2.7.1.1) beyond
the columns: persistent dispositions, typed business transactions, sources and
destinations, quantities, error declarations, sensor data, ILMD and extension fields,
the master data attribute parameters (``HASATTR_``, ``EQATTR_``), and the result controls
(``orderBy``, ``orderDirection``, ``eventCountLimit``, ``maxEventCount``). Each field
parameter becomes a ``Condition`` the repository runs as one ``EXISTS`` over the narrow
index rows ``fields`` writes; an attribute parameter an ``AttributeFilter`` the service
resolves to locations through the master data. Pure; no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from stewardship.interop.epcis import fields as f
from stewardship.interop.rules import (
    DEFAULT_PREFIXES,
    QueryParameterError,
    cbv_short,
    parse_time,
)


@dataclass(frozen=True)
class Alternative:
    """Index rows of one kind whose value is one of ``keys`` and, for numbers and times,
    whose number compares with ``numbers`` by ``op`` (``in``, ``gt``, ``ge``, ``lt``,
    ``le``; None: any number)."""

    kind: int
    keys: tuple[str, ...]
    op: str | None = None
    numbers: tuple[float, ...] = ()


@dataclass(frozen=True)
class Condition:
    """One parameter: the event has an index row matching one of the alternatives."""

    parameter: str
    alternatives: tuple[Alternative, ...]


@dataclass(frozen=True)
class AttributeFilter:
    """``HASATTR_<field>`` (``values`` None: the master data of the field's value has one
    of the attributes ``names``) or ``EQATTR_<field>_<attr>`` (``names`` is that one
    attribute, whose value is one of ``values``)."""

    parameter: str
    field: str
    names: tuple[str, ...]
    values: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Controls:
    order_by: str | None = None
    order_keys: tuple[str, ...] = ()
    """For an extension field's order: its index keys (its names)."""
    order_desc: bool = True
    count_limit: int | None = None
    max_count: int | None = None


ORDER_FIELDS = ("eventTime", "recordTime")
RESULT_CONTROLS = ("orderBy", "orderDirection", "eventCountLimit", "maxEventCount")
_OPS = {"GT": "gt", "GE": "ge", "LT": "lt", "LE": "le"}
_SENSOR_TEXT = {f"EQ_{name}": name for name in f.SENSOR_TEXT}
_SENSOR_TIME = {f"{op}_{name}": (name, _OPS[op]) for name in f.SENSOR_TIMES
                for op in ("GE", "LT")}
_NUMERIC = re.compile(r"^(EQ|GT|GE|LT|LE)_(quantity|value|minValue|maxValue|meanValue|sDev"
                      r"|percValue|percRank)(?:_([A-Za-z0-9]{2,4}))?$")
_TYPED = re.compile(r"^EQ_(bizTransaction|source|destination)_(.+)$")
_SCOPES = ("ERROR_DECLARATION_", "SENSORELEMENT_", "SENSORMETADATA_", "SENSORREPORT_",
           "ILMD_")
_EXTENSION = re.compile(r"^(EQ|GT|GE|LT|LE|EXISTS)_(INNER_)?(" + "|".join(_SCOPES)
                        + r")?(.+)$")
ATTRIBUTE_FIELDS = ("readPoint", "bizLocation")
"""The vocabulary-typed fields whose master data HASATTR_/EQATTR_ read here."""
_CBV_KIND = {"bizTransaction": "BTT", "source": "SDT", "destination": "SDT"}
STANDARD = ("EQ_persistentDisposition_set", "EQ_persistentDisposition_unset",
            "EQ_quantity", "GT_quantity", "GE_quantity", "LT_quantity", "LE_quantity",
            "GE_errorDeclarationTime", "LT_errorDeclarationTime",
            "EQ_errorReason", "EQ_correctiveEventID", "EXISTS_sensorElementList",
            *_SENSOR_TIME, *_SENSOR_TEXT,
            *(f"{op}_{name}" for name in f.SENSOR_NUMBERS
              for op in ("EQ", "GT", "GE", "LT", "LE")),
            "EQ_bizTransaction_<type>", "EQ_source_<type>", "EQ_destination_<type>",
            "EQ_<field>", "GT_<field>", "GE_<field>", "LT_<field>", "LE_<field>",
            "EXISTS_<field>", "EQ_ILMD_<field>", "EQ_INNER_<field>",
            "EQ_value_<uom>", "EQ_quantity_<uom>",
            *(f"HASATTR_{name}" for name in ATTRIBUTE_FIELDS),
            *(f"EQATTR_{name}_<attr>" for name in ATTRIBUTE_FIELDS))
"""What discovery lists (``<field>``: an extension field, a CURIE or an IRI)."""


def values(name: str, raw: list[str]) -> list[str]:
    out = [v.strip() for text in raw for v in text.split("|") if v.strip()]
    if not out:
        raise QueryParameterError(name, f"{name} needs at least one value")
    return out


def number(name: str, text: str) -> float:
    found = f.as_number(text)
    if found is None:
        raise QueryParameterError(name, f"{name} must be a number, not {text!r}")
    return found


def moment(name: str, text: str) -> float:
    try:
        return f.millis(parse_time(text.replace(" ", "+")))
    except ValueError:
        raise QueryParameterError(
            name, f"{name} must be a date-time with a time zone, e.g. "
            "2024-05-01T00:00:00Z") from None


MAX_COUNT = 1_000_000_000


def whole(name: str, text: str) -> int:
    digits = text.strip()
    if not digits.isdecimal() or len(digits) > 10 or not 1 <= int(digits) <= MAX_COUNT:
        raise QueryParameterError(name, f"{name} must be a whole number from 1 to "
                                  f"{MAX_COUNT}")
    return int(digits)


def _text(name: str, field: str, raw: list[str], kind: str | None = None) -> Condition:
    wanted = values(name, raw)
    if kind is not None:
        wanted = [cbv_short(v, kind) for v in wanted]
    return Condition(name, (Alternative(f.TEXT, tuple(f.key(f.STD, field, v)
                                                      for v in wanted)),))


def _compare(name: str, op: str, keys: tuple[str, ...], raw: list[str], *,
             kind: int = f.NUMBER) -> Condition:
    read = number if kind == f.NUMBER else moment
    if op == "EQ":
        found = tuple(read(name, v) for v in values(name, raw))
        return Condition(name, (Alternative(kind, keys, "in", found),))
    return Condition(name, (Alternative(kind, keys, _OPS[op], (read(name, raw[-1]),)),))


def field_names(name: str) -> tuple[str, ...]:
    """The names an extension field parameter may stand for: as given, its CURIE
    expanded with the standard prefixes, and ``namespace#local`` (the XML binding's
    form) read as the namespace followed by the local name."""
    found = dict.fromkeys(f.names(name, DEFAULT_PREFIXES))
    namespace, sep, local = name.rpartition("#")
    if sep and namespace and local:
        found.update(dict.fromkeys((namespace + local, namespace.rstrip("/") + "/" + local)))
    return tuple(found)


def _extension(name: str, raw: list[str]) -> Condition | None:
    match = _EXTENSION.match(name)
    if match is None:
        return None
    op, inner, scope, field = match.groups()
    if not f.is_extension(field) and "#" not in field:
        return None
    scope = (scope or "").rstrip("_")
    scope = ("INNER_" + scope).rstrip("_") if inner else scope
    keys = tuple(f.key(scope, n) for n in field_names(field))
    if op == "EXISTS":
        return Condition(name, (Alternative(f.PRESENT, keys),))
    if op == "EQ":
        texts = values(name, raw)
        alternatives = [Alternative(f.TEXT, tuple(f.key(scope, n, t)
                                                  for n in field_names(field)
                                                  for t in texts))]
        numbers = [f.as_number(t) for t in texts]
        if all(n is not None for n in numbers):
            alternatives.append(Alternative(f.NUMBER, keys, "in", tuple(
                n for n in numbers if n is not None)))
        times = [f.as_time(t.replace(" ", "+")) for t in texts]
        if all(t is not None for t in times):
            alternatives.append(Alternative(f.TIME, keys, "in", tuple(
                t for t in times if t is not None)))
        return Condition(name, tuple(alternatives))
    text = raw[-1].strip().replace(" ", "+")
    if f.as_number(text) is not None:
        return _compare(name, op, keys, [text])
    if f.as_time(text) is not None:
        return _compare(name, op, keys, [text], kind=f.TIME)
    raise QueryParameterError(name, f"{name} must be a number or a date-time with a time "
                              f"zone, not {raw[-1]!r}")


def condition(name: str, raw: list[str]) -> Condition | None:
    """The condition of one field parameter; None when the name is not one of them."""
    if name in ("EQ_persistentDisposition_set", "EQ_persistentDisposition_unset"):
        return _text(name, name[3:], raw, "Disp")
    if name == "EQ_errorReason":
        return _text(name, "errorReason", raw, "ER")
    if name == "EQ_correctiveEventID":
        return _text(name, "correctiveEventID", raw)
    if name in ("GE_errorDeclarationTime", "LT_errorDeclarationTime",
                "GE_errorDeclaration_Time", "LT_errorDeclaration_Time"):
        return _compare(name, name[:2], (f.key(f.STD, "errorDeclarationTime"),), raw,
                        kind=f.TIME)
    if name == "EXISTS_sensorElementList":
        return Condition(name, (Alternative(f.PRESENT, (f.key(f.STD,
                                                               "sensorElementList"),)),))
    if name in _SENSOR_TEXT:
        field = _SENSOR_TEXT[name]
        wanted = values(name, raw)
        if field == "type":
            wanted = [f.measurement_type(v) for v in wanted]
        elif field == "hexBinaryValue":
            wanted = [v.lower() for v in wanted]
        elif field == "booleanValue":
            wanted = [v.lower() for v in wanted]
            if set(wanted) - {"true", "false"}:
                raise QueryParameterError(name, f"{name} must be true or false")
        return Condition(name, (Alternative(f.TEXT, tuple(f.key(f.STD, field, v)
                                                          for v in wanted)),))
    if name in _SENSOR_TIME:
        field, _ = _SENSOR_TIME[name]
        return _compare(name, name[:2], (f.key(f.STD, field),), raw, kind=f.TIME)
    numeric = _NUMERIC.match(name)
    if numeric is not None:
        op, field, uom = numeric.groups()
        return _compare(name, op, (f.key(f.STD, f"{field}_{uom}" if uom else field),), raw)
    typed = _TYPED.match(name)
    if typed is not None:
        field, kind = typed.groups()
        kind = cbv_short(kind, _CBV_KIND[field])
        return _text(name, f"{field}_{kind}", raw)
    return _extension(name, raw)


def _attribute_field(name: str, field: str) -> str:
    if field not in ATTRIBUTE_FIELDS:
        raise QueryParameterError(name, f"query parameter {name} is not supported here: "
                                  f"master data attributes are read of "
                                  f"{' and '.join(ATTRIBUTE_FIELDS)} (e.g. "
                                  f"HASATTR_bizLocation, EQATTR_bizLocation_<attribute>)")
    return field


def attribute(name: str, raw: list[str]) -> AttributeFilter | None:
    """The filter of one master data attribute parameter (EPCIS 2.0 section 8.2.7.1:
    ``HASATTR_fieldname``, ``EQATTR_fieldname_attrname``); None when the name is not
    one of them."""
    if name.startswith("HASATTR_"):
        field = _attribute_field(name, name[len("HASATTR_"):])
        return AttributeFilter(name, field, tuple(dict.fromkeys(values(name, raw))))
    if name.startswith("EQATTR_"):
        field, _, attr = name[len("EQATTR_"):].partition("_")
        _attribute_field(name, field)
        if not attr.strip():
            raise QueryParameterError(name, f"{name} names no attribute: "
                                      f"EQATTR_{field}_<attribute name>")
        return AttributeFilter(name, field, (attr.strip(),),
                               tuple(dict.fromkeys(values(name, raw))))
    return None


def controls(grouped: dict[str, list[str]]) -> Controls:
    """``orderBy``, ``orderDirection``, ``eventCountLimit``, ``maxEventCount``, with GS1's
    rules: the direction is ASC or DESC (DESC by default), ``eventCountLimit`` needs an
    ``orderBy`` and excludes ``maxEventCount``."""
    out: dict[str, Any] = {}
    if "orderBy" in grouped:
        order_by = grouped["orderBy"][-1].strip()
        if order_by not in ORDER_FIELDS and not (f.is_extension(order_by) or "#" in order_by):
            raise QueryParameterError("orderBy", f"orderBy must be one of "
                                      f"{', '.join(ORDER_FIELDS)} or an extension field's "
                                      f"name (a CURIE or an IRI), not {order_by!r}")
        out["order_by"] = order_by
        if order_by not in ORDER_FIELDS:
            out["order_keys"] = tuple(f.key("", n) for n in field_names(order_by))
    if "orderDirection" in grouped:
        direction = grouped["orderDirection"][-1].strip()
        if direction not in ("ASC", "DESC"):
            raise QueryParameterError("orderDirection", "orderDirection must be ASC or DESC")
        out["order_desc"] = direction == "DESC"
    if "eventCountLimit" in grouped:
        if "maxEventCount" in grouped:
            raise QueryParameterError("eventCountLimit", "eventCountLimit and maxEventCount "
                                      "exclude each other")
        if "orderBy" not in grouped:
            raise QueryParameterError("eventCountLimit", "eventCountLimit needs orderBy")
        out["count_limit"] = whole("eventCountLimit", grouped["eventCountLimit"][-1])
    if "maxEventCount" in grouped:
        out["max_count"] = whole("maxEventCount", grouped["maxEventCount"][-1])
    return Controls(**out)
