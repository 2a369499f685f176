"""What the SimpleEventQuery's field parameters read in an event, as rows of the narrow
index (``epcis_event_terms``): persistent dispositions, typed business transactions,
sources and destinations, quantities, error declarations, sensor data, ILMD and
extension fields. Pure; no I/O.

Each row is ``(kind, value, number)``. ``value`` is a key made of a scope, a field name
and (for text rows) the field's text; ``number`` holds the number of a numeric row and
the UTC epoch milliseconds of a time row, so that ``GT_``/``LT_`` compare in SQL:

- ``TEXT``: the field holds this text (``EQ_``);
- ``NUMBER``: the field holds a number (``EQ_``/``GT_``/``GE_``/``LT_``/``LE_``);
- ``TIME``: the field holds a date-time;
- ``PRESENT``: the event has the field (``EXISTS_``).

Scopes: ``std`` (standard fields: ``quantity``, ``errorReason``, sensor attributes...),
then the extension scopes the parameters name: ``""`` (top-level extension fields),
``ILMD``, ``ERROR_DECLARATION``, ``SENSORELEMENT``, ``SENSORMETADATA``, ``SENSORREPORT``,
each also as ``INNER_...`` for fields nested within such a field. An extension field is
indexed under its name as written (``ext1:float``) and as the IRI its prefix expands to.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

TEXT, NUMBER, TIME, PRESENT = 40, 41, 42, 43
FIELD_KINDS = (TEXT, NUMBER, TIME, PRESENT)
CANONICAL_OFFSET = 20
"""An EPC (kind 1 to 7) also appears as its canonical GS1 Digital Link under kind + 20."""
STD = "std"
MAX_KEY = 512
MAX_ROWS = 2000
"""At most this many field rows per event (deeply nested extensions are cut there)."""
MAX_DEPTH = 8
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

SENSOR_TEXT = ("type", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod",
               "bizRules", "microorganism", "chemicalSubstance", "stringValue",
               "booleanValue", "hexBinaryValue", "uriValue", "uom", "component",
               "exception", "coordinateReferenceSystem")
SENSOR_NUMBERS = ("value", "minValue", "maxValue", "meanValue", "sDev", "percRank",
                  "percValue")
SENSOR_TIMES = ("time", "startTime", "endTime")
GS1_VOC = "https://gs1.org/voc/"


def key(scope: str, name: str, text: str | None = None) -> str:
    """The index value of a field (and its text); a long text stands as its digest."""
    if text is None:
        return f"{scope}\x1f{name}"
    out = f"{scope}\x1f{name}\x1f{text}"
    if len(out) > MAX_KEY:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        out = f"{scope}\x1f{name}\x1f#{digest}"
    return out[:MAX_KEY]


def millis(moment: datetime) -> float:
    return (moment - _EPOCH).total_seconds() * 1000.0


def as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            return None
        return number if text and number == number and abs(number) != float("inf") else None
    return None


def as_time(value: Any) -> float | None:
    from stewardship.interop.rules import parse_time  # the one timestamp grammar

    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        return millis(parse_time(value))
    except ValueError:
        return None


def text_of(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value).strip()
    return None


def measurement_type(value: str) -> str:
    """A measurement type as the bare word of GS1's vocabulary when it is one of it."""
    text = value.strip()
    for prefix in (GS1_VOC, "gs1:"):
        if text.startswith(prefix):
            return text[len(prefix):]
    return text


def names(name: str, prefixes: Mapping[str, str]) -> set[str]:
    """The names an extension field is indexed under: as written, and expanded."""
    found = {name}
    prefix, sep, rest = name.partition(":")
    if sep and not rest.startswith("//") and prefix in prefixes:
        found.add(prefixes[prefix] + rest)
    return found


def is_extension(name: str) -> bool:
    return ":" in name


class _Rows:
    def __init__(self, prefixes: Mapping[str, str]) -> None:
        self.prefixes = prefixes
        self.rows: set[tuple[int, str, float | None]] = set()

    def add(self, kind: int, value: str, number: float | None = None) -> None:
        if len(self.rows) < MAX_ROWS:
            self.rows.add((kind, value, number))

    def scalar(self, scope: str, name: str, value: Any) -> None:
        """One value of a field: its text, and its number or time when it reads as one."""
        text = text_of(value)
        if text is None:
            return
        self.add(TEXT, key(scope, name, text))
        number = as_number(value)
        if number is not None:
            self.add(NUMBER, key(scope, name), number)
        moment = as_time(value)
        if moment is not None:
            self.add(TIME, key(scope, name), moment)

    def extension(self, scope: str, name: str, value: Any, depth: int = 0) -> None:
        """An extension field of ``scope`` (and what it nests, under INNER_ scope)."""
        if depth > MAX_DEPTH:
            return
        inner = scope if scope.startswith("INNER") else ("INNER_" + scope).rstrip("_")
        for written in names(name, self.prefixes):
            self.add(PRESENT, key(scope, written))
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict):
                    self.nested(inner, item, depth + 1)
                else:
                    self.scalar(scope, written, item)

    def nested(self, scope: str, element: Mapping[str, Any], depth: int) -> None:
        for name, value in element.items():
            if is_extension(name):
                self.extension(scope, name, value, depth)

    def extensions(self, scope: str, element: Any) -> None:
        if isinstance(element, dict):
            self.nested(scope, element, 0)


def field_terms(event: Mapping[str, Any],
                prefixes: Mapping[str, str]) -> list[tuple[int, str, float | None]]:
    """The field rows of one event (see the module's description)."""
    from stewardship.interop.rules import cbv_short

    rows = _Rows(prefixes)
    persistent = event.get("persistentDisposition")
    if isinstance(persistent, dict):
        for part in ("set", "unset"):
            for value in persistent.get(part) or ():
                if isinstance(value, str):
                    rows.add(TEXT, key(STD, "persistentDisposition_" + part,
                                       cbv_short(value, "Disp")))
    for entry in _dicts(event.get("bizTransactionList")):
        if isinstance(entry.get("bizTransaction"), str):
            kind = cbv_short(str(entry.get("type") or ""), "BTT")
            rows.add(TEXT, key(STD, "bizTransaction_" + kind, entry["bizTransaction"]))
    for name, item in (("sourceList", "source"), ("destinationList", "destination")):
        for entry in _dicts(event.get(name)):
            if isinstance(entry.get(item), str):
                kind = cbv_short(str(entry.get("type") or ""), "SDT")
                rows.add(TEXT, key(STD, f"{item}_{kind}", entry[item]))
    for name in ("quantityList", "childQuantityList", "inputQuantityList",
                 "outputQuantityList"):
        for element in _dicts(event.get(name)):
            quantity = as_number(element.get("quantity"))
            if quantity is not None:
                rows.add(NUMBER, key(STD, "quantity"), quantity)
                uom = element.get("uom")
                if isinstance(uom, str) and uom:
                    rows.add(NUMBER, key(STD, "quantity_" + uom.strip()), quantity)
    declaration = event.get("errorDeclaration")
    if isinstance(declaration, dict):
        _declaration(rows, declaration, cbv_short)
    sensors = event.get("sensorElementList")
    if isinstance(sensors, list) and sensors:
        rows.add(PRESENT, key(STD, "sensorElementList"))
        for element in _dicts(sensors):
            _sensor(rows, element)
    rows.extensions("ILMD", event.get("ilmd"))
    for name, value in event.items():
        if is_extension(name):
            rows.extension("", name, value)
    return sorted(rows.rows, key=lambda row: (row[0], row[1], row[2] or 0.0))


def _declaration(rows: _Rows, declaration: Mapping[str, Any], cbv_short: Any) -> None:
    reason = declaration.get("reason")
    if isinstance(reason, str):
        rows.add(TEXT, key(STD, "errorReason", cbv_short(reason, "ER")))
    for corrective in declaration.get("correctiveEventIDs") or ():
        if isinstance(corrective, str):
            rows.add(TEXT, key(STD, "correctiveEventID", corrective))
    moment = as_time(declaration.get("declarationTime"))
    if moment is not None:
        rows.add(TIME, key(STD, "errorDeclarationTime"), moment)
    rows.extensions("ERROR_DECLARATION", declaration)


def _sensor(rows: _Rows, element: Mapping[str, Any]) -> None:
    rows.extensions("SENSORELEMENT", element)
    metadata = element.get("sensorMetadata")
    parts = [("SENSORMETADATA", metadata)] if isinstance(metadata, dict) else []
    parts += [("SENSORREPORT", report) for report in _dicts(element.get("sensorReport"))]
    for scope, part in parts:
        rows.extensions(scope, part)
        uom = part.get("uom") if isinstance(part.get("uom"), str) else None
        for name in SENSOR_TEXT:
            text = text_of(part.get(name))
            if text is not None:
                if name == "type":
                    text = measurement_type(text)
                elif name == "hexBinaryValue":
                    text = text.lower()
                rows.add(TEXT, key(STD, name, text))
        for name in SENSOR_NUMBERS:
            number = as_number(part.get(name))
            if number is not None:
                rows.add(NUMBER, key(STD, name), number)
                if uom:
                    rows.add(NUMBER, key(STD, f"{name}_{uom.strip()}"), number)
        for name in SENSOR_TIMES:
            moment = as_time(part.get(name))
            if moment is not None:
                rows.add(TIME, key(STD, name), moment)


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    for item in value if isinstance(value, list) else ():
        if isinstance(item, dict):
            yield item
