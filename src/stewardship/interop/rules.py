"""Pure EPCIS 2.0 rules: the event hash id, vocabulary normalisation, the query language,
and the structural checks used when no JSON Schema is configured. No I/O.

The event hash id (CBV 2.0 section 8.9) is computed in ``epcis.rules``: its canonical tree,
order and value forms, as GS1's reference hash generator computes them (the tests compare
every event of GS1's JSON and XML examples with it); this module gives it the identifier
and timestamp forms: EPC URNs as canonical GS1 Digital Links on ``https://id.gs1.org``
(check digits computed), Digital Links constrained to that host and their finest key
qualifier, UTC milliseconds rounded half up.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any, Protocol

import stewardship.interop.epcis.rules as event_hash

CBV_WEB = "https://ref.gs1.org/cbv/"
GS1_VOC = "https://gs1.org/voc/"
DL_HOST = "https://id.gs1.org"
HASH_VERSION = "CBV2.0"
DEFAULT_PREFIXES = {"gs1": GS1_VOC, "cbv": CBV_WEB, "epcis": "https://ref.gs1.org/epcis/"}
STANDARD_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"

EVENT_TYPES = ("ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent",
               "AssociationEvent")

# Kinds of the narrow index table rows (small integers keep the table narrow).
EPC, PARENT, INPUT_EPC, OUTPUT_EPC, CLASS, INPUT_CLASS, OUTPUT_CLASS, PARTY_ORG = range(1, 9)
CANONICAL_OFFSET = 20
"""Kind + 20: an EPC or class of kind 1 to 7 as its canonical GS1 Digital Link."""
EPC_FIELDS = (("epcList", EPC), ("childEPCs", EPC), ("inputEPCList", INPUT_EPC),
              ("outputEPCList", OUTPUT_EPC))
CLASS_FIELDS = (("quantityList", CLASS), ("childQuantityList", CLASS),
                ("inputQuantityList", INPUT_CLASS), ("outputQuantityList", OUTPUT_CLASS))

# The platform's own identifiers (fixed; the CoC profile maps against them).
URN_FACILITY = "urn:stewardship:facility:"
URN_ENTITY = "urn:stewardship:entity:"
URN_ORG = "urn:stewardship:org:"
URN_MATERIAL = "urn:stewardship:material:"
URN_PLATFORM = "urn:stewardship:"
PARTY_TYPES = ("owning_party", "possessing_party")

_URN_CBV = (("urn:epcglobal:cbv:bizstep:", "BizStep-"), ("urn:epcglobal:cbv:disp:", "Disp-"),
            ("urn:epcglobal:cbv:btt:", "BTT-"), ("urn:epcglobal:cbv:sdt:", "SDT-"),
            ("urn:epcglobal:cbv:er:", "ER-"))
_TIME = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")
_OFFSET = re.compile(r"^[+-]\d\d:\d\d$")
_CANONICAL_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")


# --- time ----------------------------------------------------------------------------------


_ZONES: dict[str, tzinfo] = {"Z": UTC}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _zone(text: str) -> tzinfo:
    zone = _ZONES.get(text)
    if zone is None:
        sign = 1 if text[0] == "+" else -1
        zone = timezone(sign * timedelta(hours=int(text[1:3]), minutes=int(text[4:6])))
        _ZONES[text] = zone
    return zone


def _parts(value: str) -> tuple[datetime, str]:
    """The timestamp to the second (UTC) and its fraction digits."""
    match = _TIME.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not a date-time with a time zone")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                      tzinfo=_zone(zone))
    return moment.astimezone(UTC), fraction or ""


def parse_time(value: str) -> datetime:
    """An EPCIS timestamp (``xsd:dateTime`` with a zone) as an aware UTC datetime."""
    if isinstance(value, str) and _CANONICAL_TIME.fullmatch(value):
        try:
            return datetime.fromisoformat(value)  # UTC milliseconds, the common form
        except ValueError:
            pass  # an impossible date: refused below, in the words of the general path
    moment, fraction = _parts(value)
    return moment.replace(microsecond=int(fraction[:6].ljust(6, "0"))) if fraction else moment


def canonical_time(value: str) -> str:
    """UTC, millisecond precision, half-up rounding at the fourth decimal, ``Z``."""
    if isinstance(value, str) and _CANONICAL_TIME.fullmatch(value):
        return value  # already in the form (an impossible date is kept as written too)
    try:
        moment, fraction = _parts(value)
    except ValueError:
        return str(value).strip()
    millis = int(fraction[:3].ljust(3, "0"))
    if len(fraction) > 3 and fraction[3] >= "5":
        millis += 1
    if millis:
        moment += timedelta(milliseconds=millis)
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:"
            f"{moment.minute:02d}:{moment.second:02d}.{moment.microsecond // 1000:03d}Z")


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{moment.microsecond // 1000:03d}Z"


# --- vocabularies and identifiers ------------------------------------------------------------


@lru_cache(maxsize=4096)
def cbv_short(value: str, kind: str) -> str:
    """The bare-word form of a standard CBV value (what the JSON binding uses); custom
    values unchanged. ``kind`` is the web-URI infix: BizStep, Disp, BTT, SDT, ER."""
    text = value.strip()
    for urn, infix in _URN_CBV:
        if infix == kind + "-" and text.startswith(urn):
            return text[len(urn):]
    web = f"{CBV_WEB}{kind}-"
    if text.startswith(web):
        return text[len(web):]
    if text.startswith(f"cbv:{kind}-"):
        return text[len(kind) + 5:]
    return text


def cbv_uri(value: str, kind: str, prefixes: dict[str, str]) -> str:
    text = cbv_short(value, kind)
    if ":" not in text:
        return f"{CBV_WEB}{kind}-{text}"
    return expand_curie(text, prefixes)


def expand_curie(value: str, prefixes: dict[str, str]) -> str:
    prefix, sep, rest = value.partition(":")
    if sep and not rest.startswith("//") and prefix in prefixes:
        return prefixes[prefix] + rest
    return value


def context_prefixes(context: Any) -> dict[str, str]:
    """Namespace prefixes a JSON-LD ``@context`` defines (string-valued terms only)."""
    found = dict(DEFAULT_PREFIXES)
    items = context if isinstance(context, list) else [context]
    for item in items:
        if isinstance(item, dict):
            for key, value in item.items():
                if isinstance(value, str) and not key.startswith("@"):
                    found[key] = value
    return found


def _check_digit(digits: str) -> str:
    """GS1 check digit: weights 3, 1, 3... from the right."""
    total = 3 * sum(map(int, digits[::-2])) + sum(map(int, digits[-2::-2]))
    return str(-total % 10)


def _with_check(digits: str) -> str:
    return digits + _check_digit(digits)


def _gtin(company: str, item: str) -> str:
    return _cached_gtin(company, item)


@lru_cache(maxsize=4096)
def _cached_gtin(company: str, item: str) -> str:
    return _with_check(item[:1] + company + item[1:])


_EPC_URN = re.compile(r"^urn:epc:(id|class|idpat):([a-z]+):(.+)$")
_DL_KEYS = ("00", "01", "253", "255", "401", "402", "414", "417", "8003", "8004", "8006",
            "8010", "8017", "8018")
_DL_QUALIFIERS = {"01": ("21", "235", "10"), "414": ("254",), "8006": ("21", "10"),
                  "8010": ("8011",)}
_DL_PATH = re.compile(r"/(" + "|".join(_DL_KEYS) + r")/")


_SIMPLE_KEYS = {  # EPC scheme: (GS1 application identifier, fields after the company)
    "sscc": ("00", 1), "pgln": ("417", 1), "gsrn": ("8018", 1), "gsrnp": ("8017", 1),
    "gsin": ("402", 1), "giai": ("8004", 1), "ginc": ("401", 1),
    "gdti": ("253", 2), "sgcn": ("255", 2), "grai": ("8003", 2),
}


def _urn_to_dl(scheme: str, kind: str, fields: list[str]) -> str | None:
    digits_only = all(f.isdecimal() for f in fields[:2])
    if kind == "id" and scheme == "sgtin" and len(fields) == 3 and digits_only:
        return f"{DL_HOST}/01/{_gtin(fields[0], fields[1])}/21/{fields[2]}"
    if kind == "class" and scheme == "lgtin" and len(fields) == 3 and digits_only:
        return f"{DL_HOST}/01/{_gtin(fields[0], fields[1])}/10/{fields[2]}"
    if kind == "idpat" and scheme == "sgtin" and len(fields) == 3 and digits_only \
            and fields[2] == "*":
        return f"{DL_HOST}/01/{_gtin(fields[0], fields[1])}"
    if kind != "id" or not fields or not fields[0].isdecimal():
        return None
    company, rest = fields[0], fields[1:]
    simple = _SIMPLE_KEYS
    if scheme == "sscc" and len(rest) == 1:
        return f"{DL_HOST}/00/{_with_check(rest[0][:1] + company + rest[0][1:])}"
    if scheme == "sgln" and len(rest) == 2:
        gln = _with_check(company + rest[0])
        return f"{DL_HOST}/414/{gln}" + (f"/254/{rest[1]}" if rest[1] != "0" else "")
    if scheme in ("pgln", "gsrn", "gsrnp", "gsin") and len(rest) == 1:
        return f"{DL_HOST}/{simple[scheme][0]}/{_with_check(company + rest[0])}"
    if scheme in ("giai", "ginc") and len(rest) == 1:
        return f"{DL_HOST}/{simple[scheme][0]}/{company}{rest[0]}"
    if scheme in ("gdti", "sgcn") and len(rest) == 2:
        return f"{DL_HOST}/{simple[scheme][0]}/{_with_check(company + rest[0])}{rest[1]}"
    if scheme == "grai" and len(rest) == 2:
        return f"{DL_HOST}/8003/0{_with_check(company + rest[0])}{rest[1]}"
    if scheme == "cpi" and len(rest) == 2:
        return f"{DL_HOST}/8010/{company}{rest[0]}/8011/{rest[1]}"
    return None


def _constrain_dl(value: str) -> str:
    scheme_end = value.find("://")
    path_start = value.find("/", scheme_end + 3)
    if path_start < 0:
        return value
    path = value[path_start:].split("?", 1)[0].split("#", 1)[0]
    match = _DL_PATH.search(path)
    if match is None:
        return value
    parts = path[match.start() + 1:].strip("/").split("/")
    pairs = dict(zip(parts[0::2], parts[1::2], strict=False))
    key = parts[0]
    if not pairs.get(key):  # a key without its value names nothing
        return value
    out = f"{DL_HOST}/{key}/{pairs[key]}"
    for qualifier in _DL_QUALIFIERS.get(key, ()):
        if qualifier in pairs:
            out += f"/{qualifier}/{pairs[qualifier]}"
            break
    return out


def canonical_id(value: str, prefixes: dict[str, str]) -> str:
    """An identifier as the hash sees it: EPC URNs and Digital Links as constrained
    canonical Digital Links, CBV URNs as web URIs, CURIEs expanded."""
    text = value.strip()
    if text.startswith(("urn:", "http://", "https://")):
        return _canonical_uri(text)
    return expand_curie(text, prefixes)


@lru_cache(maxsize=8192)
def _canonical_uri(text: str) -> str:
    match = _EPC_URN.match(text)
    if match is not None:
        converted = _urn_to_dl(match.group(2), match.group(1), match.group(3).split("."))
        return converted or text
    if text.startswith(("http://", "https://")):
        return _constrain_dl(text)
    for urn, infix in _URN_CBV:
        if text.startswith(urn):
            return f"{CBV_WEB}{infix}{text[len(urn):]}"
    return text


# --- the event hash id ------------------------------------------------------------------------


def declared_prefixes(context: Any) -> dict[str, str]:
    """The namespace prefixes a document's ``@context`` itself declares (what the event hash
    expands; the standard ``gs1``/``cbv`` prefixes are not assumed there)."""
    items = context if isinstance(context, list) else [context]
    return {key: value for item in items if isinstance(item, dict)
            for key, value in item.items() if isinstance(value, str) and not key.startswith("@")}


def pre_hash(event: dict[str, Any], prefixes: dict[str, str] | None = None) -> str:
    """The canonical pre-hash string of one event (``epcis.rules``); ``prefixes`` as
    ``declared_prefixes`` gives them, the event's own ``@context`` added."""
    declared = dict(prefixes or {})
    declared.update(declared_prefixes(event.get("@context")))
    return event_hash.pre_hash(event, declared, canonical_id=_hash_id_value,
                               canonical_time=canonical_time)


def _hash_id_value(text: str) -> str:
    if text.startswith(_SERIALISED):
        # Serialised items are many and each is seen once: the Digital Link up to the
        # serial is memoised per company prefix and item reference instead.
        head, _, serial = text.rpartition(".")
        base = _serial_base(head)
        if base is not None and serial and "\n" not in serial:
            return base + serial
    return _canonical_uri(text) if text.startswith(("urn:", "http://", "https://")) else text


_SERIALISED = ("urn:epc:id:sgtin:", "urn:epc:class:lgtin:")


@lru_cache(maxsize=4096)
def _serial_base(head: str) -> str | None:
    """The canonical Digital Link of ``<head>.<serial>`` less the serial (``.../21/``),
    for the SGTIN and LGTIN URNs ``head`` begins; None when ``head`` is not one."""
    converted = _canonical_uri(head + ".0")
    return converted[:-1] if converted.endswith(("/21/0", "/10/0")) else None


def event_hash_id(event: dict[str, Any], prefixes: dict[str, str] | None = None) -> str:
    return event_hash.hash_id(pre_hash(event, prefixes))


_EPC_KINDS = dict(EPC_FIELDS)


def flat_event(event: dict[str, Any], prefixes: dict[str, str],
               hashed: bool) -> tuple[str | None, list[tuple[int, str]]] | None:
    """For an event the flat writer takes (``epcis.rules``: string properties, EPC lists,
    a readPoint and bizLocation of one id), in one pass over its members: its hash id
    (``hashed``; else None) and its index terms, the ones ``index_terms`` gives, each EPC's
    Digital Link computed once for both. ``prefixes`` as ``pre_hash`` is given them (the
    event's own ``@context`` included). None for any other event."""
    declared = prefixes if event.get("@context") is None else \
        {**prefixes, **declared_prefixes(event.get("@context"))}
    epcs: list[tuple[str, str, str | None]] = []
    pre = event_hash._writer(_hash_id_value, canonical_time).flat(
        event, declared, hashed=hashed, epcs=epcs)
    if pre is None:
        return None
    terms: set[tuple[int, str]] = set()
    for name, epc, canonical in epcs:
        kind = _EPC_KINDS[name]
        terms.add((kind, epc))
        if canonical is None:
            if not epc.startswith(("urn:", "http")):
                continue
            canonical = _hash_id_value(epc.strip())
        if canonical.startswith(DL_HOST) and len(canonical) <= 512:
            terms.add((kind + CANONICAL_OFFSET, canonical))
    parent = event.get("parentID")
    if isinstance(parent, str):
        terms.add((PARENT, parent))
        if parent.startswith(("urn:", "http")):
            canonical = _hash_id_value(parent.strip())
            if canonical.startswith(DL_HOST) and len(canonical) <= 512:
                terms.add((PARENT + CANONICAL_OFFSET, canonical))
    return (event_hash.hash_id(pre) if hashed else None), sorted(terms)


def xml_pre_hash(element: Any) -> str:
    """The pre-hash string of one event of the XML binding (a parsed element)."""
    return event_hash.xml_pre_hash(element, canonical_id=_hash_id_value,
                                   canonical_time=canonical_time)


# --- what an event names ----------------------------------------------------------------------


def index_terms(event: dict[str, Any]) -> list[tuple[int, str]]:
    """(kind, value) pairs for the narrow index: EPCs, parent ids and EPC classes."""
    terms: set[tuple[int, str]] = set()
    for name, kind in EPC_FIELDS:
        for epc in event.get(name) or ():
            if isinstance(epc, str):
                terms.add((kind, epc))
    if isinstance(event.get("parentID"), str):
        terms.add((PARENT, event["parentID"]))
    for name, kind in CLASS_FIELDS:
        for element in event.get(name) or ():
            if isinstance(element, dict) and isinstance(element.get("epcClass"), str):
                terms.add((kind, element["epcClass"]))
    for kind, value in list(terms):  # GS1-EPC-Format: a URN matches its Digital Link
        canonical = _hash_id_value(value.strip()) if value.startswith(("urn:", "http")) \
            else value
        if canonical.startswith(DL_HOST) and len(canonical) <= 512:
            terms.add((kind + CANONICAL_OFFSET, canonical))
    return sorted(terms)


def party_ids(event: dict[str, Any]) -> set[str]:
    """Owning or possessing parties named as source or destination."""
    found: set[str] = set()
    for name, item in (("sourceList", "source"), ("destinationList", "destination")):
        for entry in event.get(name) or ():
            if isinstance(entry, dict) and isinstance(entry.get(item), str) and \
                    cbv_short(str(entry.get("type", "")), "SDT") in PARTY_TYPES:
                found.add(entry[item])
    return found


def where_id(event: dict[str, Any], name: str) -> str | None:
    where = event.get(name)
    if isinstance(where, dict) and isinstance(where.get("id"), str):
        return str(where["id"])
    return None


# --- structural checks (when no JSON Schema is configured) -------------------------------------

_ACTIONS = ("ADD", "OBSERVE", "DELETE")
_NEEDS = {  # event type: (needs action, one of these fields must be present)
    "ObjectEvent": (True, ("epcList", "quantityList")),
    "AggregationEvent": (True, ("childEPCs", "childQuantityList", "parentID")),
    "TransactionEvent": (True, ("bizTransactionList",)),
    "TransformationEvent": (False, ("inputEPCList", "inputQuantityList", "outputEPCList",
                                    "outputQuantityList")),
    "AssociationEvent": (True, ("parentID",)),
}
_LISTS_OF_STRINGS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")


def event_list_path(document: dict[str, Any]) -> tuple[str, ...] | None:
    """Where a document keeps its events: an EPCISDocument or an EPCISQueryDocument."""
    if document.get("type") == "EPCISQueryDocument":
        return ("epcisBody", "queryResults", "resultsBody", "eventList")
    if document.get("type") == "EPCISDocument":
        return ("epcisBody", "eventList")
    return None


def event_list(document: dict[str, Any]) -> list[Any] | None:
    path = event_list_path(document)
    node: Any = document
    for step in path or ():
        node = node.get(step) if isinstance(node, dict) else None
    return node if path is not None and isinstance(node, list) else None


def event_problems(event: Any) -> list[tuple[str, str]]:
    """(relative JSON pointer, message) for each structural fault of one event."""
    if not isinstance(event, dict):
        return [("", "an event must be a JSON object")]
    problems: list[tuple[str, str]] = []
    kind = event.get("type")
    if kind not in _NEEDS and (not isinstance(kind, str) or ":" not in kind):
        problems.append(("/type", f"unknown event type {kind!r}"))
    for name in ("eventTime", "eventTimeZoneOffset"):
        if name not in event:
            problems.append(("", f'"{name}" is a required property'))
    if "eventTime" in event:
        try:
            parse_time(str(event["eventTime"]))
        except ValueError as exc:
            problems.append(("/eventTime", str(exc)))
    offset = event.get("eventTimeZoneOffset")
    if offset is not None and not (isinstance(offset, str) and _OFFSET.match(offset)):
        problems.append(("/eventTimeZoneOffset", "must look like +01:00 or -06:00"))
    if kind in _NEEDS:
        needs_action, one_of = _NEEDS[kind]
        if needs_action and event.get("action") not in _ACTIONS:
            problems.append(("/action", f"must be one of {', '.join(_ACTIONS)}"))
        if not any(name in event for name in one_of):
            problems.append(("", f"{kind} needs one of: {', '.join(one_of)}"))
    for name in _LISTS_OF_STRINGS:
        value = event.get(name)
        if value is not None and not (isinstance(value, list)
                                      and all(isinstance(v, str) for v in value)):
            problems.append((f"/{name}", "must be a list of URIs"))
    for name, _kind in CLASS_FIELDS:
        for i, element in enumerate(event.get(name) or []):
            if not isinstance(element, dict) or not isinstance(element.get("epcClass"), str):
                problems.append((f"/{name}/{i}", '"epcClass" is a required property'))
    if "eventID" in event and not isinstance(event["eventID"], str):
        problems.append(("/eventID", "must be a URI"))
    return problems


def document_problems(document: Any) -> list[tuple[str, str]]:
    """(JSON pointer, message) for each structural fault of a capture document."""
    if not isinstance(document, dict):
        return [("", "the document must be a JSON object")]
    path = event_list_path(document)
    if path is None:
        return [("/type", "must be EPCISDocument or EPCISQueryDocument")]
    problems = [(f"/{name}", f'"{name}" is a required property')
                for name in ("@context", "schemaVersion", "creationDate")
                if name not in document]
    events = event_list(document)
    if events is None:
        return [*problems, ("/" + "/".join(path), "an event list is required")]
    prefix = "/" + "/".join(path)
    for i, event in enumerate(events):
        problems.extend((f"{prefix}/{i}{where}", message)
                        for where, message in event_problems(event))
    return problems


# --- the query language (SimpleEventQuery parameters on GET /epcis/events) -----------------


class QueryParameterError(ValueError):
    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message


@dataclass(frozen=True)
class Match:
    """One MATCH_ parameter: any of the kinds, equal to a value or starting with a prefix."""

    kinds: tuple[int, ...]
    values: tuple[str, ...]
    prefixes: tuple[str, ...]
    canonical: tuple[str, ...] = ()
    canonical_prefixes: tuple[str, ...] = ()
    """Among the canonical Digital Links (kinds + ``CANONICAL_OFFSET``)."""


@dataclass(frozen=True)
class EventQuery:
    event_types: tuple[str, ...] = ()
    ge_event_time: datetime | None = None
    lt_event_time: datetime | None = None
    ge_record_time: datetime | None = None
    lt_record_time: datetime | None = None
    actions: tuple[str, ...] = ()
    biz_steps: tuple[str, ...] = ()
    dispositions: tuple[str, ...] = ()
    read_points: tuple[str, ...] = ()
    biz_locations: tuple[str, ...] = ()
    transformation_ids: tuple[str, ...] = ()
    event_ids: tuple[str, ...] = ()
    matches: tuple[Match, ...] = ()
    per_page: int = 30
    after: int | None = None
    fingerprint: str = ""
    params: tuple[tuple[str, str], ...] = field(default=())
    """The filter parameters as given (for the next page's link)."""
    within: tuple[str, str] | None = None
    """A top-level resource instance the events must name: (``epcs``, the EPC),
    (``bizSteps``, a bare-word or custom step)..."""
    conditions: tuple[Any, ...] = ()
    """Field parameters (``epcis.params.Condition``): each an EXISTS over the index."""
    wd_read_points: tuple[str, ...] = ()
    wd_biz_locations: tuple[str, ...] = ()
    """WD_ values (the repository adds their descendants from master data)."""
    attributes: tuple[Any, ...] = ()
    """HASATTR_/EQATTR_ parameters (``epcis.params.AttributeFilter``): the service finds
    the locations whose master data match."""
    declared: bool = False
    """EXISTS_errorDeclaration: only events that declare an error."""
    order_by: str | None = None
    order_keys: tuple[str, ...] = ()
    """``order_by`` an extension field: the index keys it is kept under (pages then go by
    the count of events so far)."""
    order_desc: bool = True
    count_limit: int | None = None
    max_count: int | None = None
    after_key: datetime | None = None
    """With ``order_by``: the ordered field of the previous page's last event."""
    seen: int = 0
    """Events the previous pages returned (``eventCountLimit`` counts them)."""


_MATCH_KINDS = {
    "MATCH_epc": (EPC,), "MATCH_parentID": (PARENT,), "MATCH_inputEPC": (INPUT_EPC,),
    "MATCH_outputEPC": (OUTPUT_EPC,), "MATCH_anyEPC": (EPC, PARENT, INPUT_EPC, OUTPUT_EPC),
    "MATCH_epcClass": (CLASS,), "MATCH_inputEPCClass": (INPUT_CLASS,),
    "MATCH_outputEPCClass": (OUTPUT_CLASS,),
    "MATCH_anyEPCClass": (CLASS, INPUT_CLASS, OUTPUT_CLASS),
}
_CLASS_KINDS = frozenset({CLASS, INPUT_CLASS, OUTPUT_CLASS})
_EQ_FIELDS = {"EQ_action": "actions", "EQ_bizStep": "biz_steps",
              "EQ_disposition": "dispositions", "EQ_readPoint": "read_points",
              "EQ_bizLocation": "biz_locations", "EQ_transformationID": "transformation_ids",
              "EQ_eventID": "event_ids"}
_TIME_PARAMS = {"GE_eventTime": "ge_event_time", "LT_eventTime": "lt_event_time",
                "GE_recordTime": "ge_record_time", "LT_recordTime": "lt_record_time"}
_WD_FIELDS = {"WD_readPoint": "wd_read_points", "WD_bizLocation": "wd_biz_locations"}
_CONTROLS = ("orderBy", "orderDirection", "eventCountLimit", "maxEventCount")
_KNOWN = frozenset(("eventType", *_TIME_PARAMS, *_EQ_FIELDS, *_MATCH_KINDS, *_WD_FIELDS,
                    *_CONTROLS, "EXISTS_errorDeclaration", "perPage", "nextPageToken"))
SUPPORTED_PARAMETERS = ("eventType", *_TIME_PARAMS, *_EQ_FIELDS, *_WD_FIELDS, *_MATCH_KINDS,
                        *_CONTROLS, "EXISTS_errorDeclaration", "perPage", "nextPageToken")
"""The fixed names; the field parameters (``epcis.params.STANDARD``) follow them."""


def canonical_match(value: str, kinds: tuple[int, ...]) -> tuple[list[str], list[str]]:
    """What one MATCH_ value stands for among the canonical Digital Links the index keeps
    beside each EPC (exact values, prefixes): an EPC URN or Digital Link as its canonical
    Digital Link, an ``idpat`` pattern or a Digital Link ending in ``*`` as a prefix."""
    text = value.strip()
    if text.endswith("/*") and text.startswith(("http://", "https://")):
        base, _, last = text[:-2].rpartition("/")
        if last in ("21", "10", "254", "8011", "235"):  # .../01/<gtin>/21/*: the serials
            stem = _canonical_uri(base) + f"/{last}/"
        else:  # .../01/<gtin>/*: all under the key
            stem = _canonical_uri(text[:-2]) + "/"
        return [], ([stem] if stem.startswith(DL_HOST) else [])
    match = _EPC_URN.match(text)
    if match is not None and match.group(1) == "idpat":
        fields = match.group(3).split(".")
        if match.group(2) == "sgtin" and len(fields) == 3 and fields[2] == "*" \
                and (fields[0] + fields[1]).isdecimal() and len(fields[0] + fields[1]) == 13:
            gtin = _urn_to_dl("sgtin", "idpat", fields)
            if gtin is None:
                return [], []
            stems = [gtin + "/21/"]
            if _CLASS_KINDS & set(kinds):
                return [gtin], [*stems, gtin + "/10/"]
            return [], stems
        if "*" in fields:
            return [], []
        text = f"urn:epc:id:{match.group(2)}:{match.group(3)}"
    canonical = _canonical_uri(text) if text.startswith(("urn:", "http")) else text
    return ([canonical], []) if canonical.startswith(DL_HOST) else ([], [])


def match_terms(value: str, kinds: tuple[int, ...]) -> tuple[list[str], list[str]]:
    """Exact values and prefixes one MATCH_ value stands for (EPC patterns as prefixes:
    ``urn:epc:idpat:sgtin:0614141.107346.*`` matches every serial and, for classes, every
    lot of that GTIN). A pattern without a star names one EPC, and matches that EPC."""
    match = _EPC_URN.match(value)
    if match is None or match.group(1) != "idpat":
        return [value], []
    scheme, fields = match.group(2), match.group(3).split(".")
    if "*" not in fields:
        return [value, f"urn:epc:id:{scheme}:{match.group(3)}"], []
    stem = "".join(f"{part}." for part in fields[:fields.index("*")])
    prefixes = [f"urn:epc:id:{scheme}:{stem}"]
    if _CLASS_KINDS & set(kinds) and scheme == "sgtin":
        prefixes.append(f"urn:epc:class:lgtin:{stem}")
    return [value], prefixes


def _values(name: str, raw: list[str]) -> list[str]:
    out = [v.strip() for text in raw for v in text.split("|") if v.strip()]
    if not out:
        raise QueryParameterError(name, f"{name} needs at least one value")
    return out


def _query_time(name: str, text: str) -> datetime:
    try:
        # A "+" left unencoded in a query string arrives as a space.
        return parse_time(text.replace(" ", "+"))
    except ValueError:
        raise QueryParameterError(
            name, f"{name} must be a date-time with a time zone, e.g. "
            "2024-05-01T00:00:00Z") from None


def encode_page_token(after: int, fingerprint: str, key: datetime | None = None,
                      seen: int = 0) -> str:
    """The last event's row id and the query's fingerprint; for an ordered query also the
    last event's ordered field and how many events the pages so far returned."""
    text = f"{after}.{fingerprint}"
    if key is not None:
        text += f"~{key.astimezone(UTC).isoformat()}~{seen}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_page_token(token: str, fingerprint: str) -> tuple[int, datetime | None, int]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        after_text, _, rest = raw.partition(".")
        after = int(after_text)
        seen_print, *ordered = rest.split("~")
        key = datetime.fromisoformat(ordered[0]) if ordered else None
        count = int(ordered[1]) if ordered else 0
    except (ValueError, UnicodeDecodeError, IndexError):
        raise QueryParameterError("nextPageToken", "the nextPageToken is not one this "
                                  "repository issued") from None
    if seen_print != fingerprint:
        raise QueryParameterError("nextPageToken", "the nextPageToken belongs to a query "
                                  "with other parameters")
    return after, key, count


MAX_PARAMETERS = 200
MAX_VALUES = 1000
"""Bounds of one query: parameters given, and values they hold (``|``-separated)."""


class QueryTooComplex(QueryParameterError):
    pass


class FieldParameters(Protocol):
    """The parser of the field parameters and result controls (``epcis.params``), given
    to ``parse_query`` by the service."""

    STANDARD: tuple[str, ...]

    def condition(self, name: str, raw: list[str]) -> Any: ...

    def attribute(self, name: str, raw: list[str]) -> Any: ...

    def controls(self, grouped: dict[str, list[str]]) -> Any: ...


def parse_query(params: list[tuple[str, str]], *, per_page_default: int,
                per_page_max: int, within: tuple[str, str] | None = None,
                fields: FieldParameters | None = None) -> EventQuery:
    """Parse SimpleEventQuery parameters; unknown or unsupported ones are refused, and so
    is a query over the bounds (``QueryTooComplex``). ``fields``: the parser of the field
    parameters and result controls (without it, those are unknown)."""
    if len(params) > MAX_PARAMETERS:
        raise QueryTooComplex("", f"the query has {len(params)} parameters; at most "
                              f"{MAX_PARAMETERS} are read")
    value_count = sum(value.count("|") + 1 for _, value in params)
    if value_count > MAX_VALUES:
        raise QueryTooComplex("", f"the query's parameters hold {value_count} values; at most "
                              f"{MAX_VALUES} are read")
    grouped: dict[str, list[str]] = {}
    for name, value in params:
        grouped.setdefault(name, []).append(value)
    known = _KNOWN if fields is not None else _KNOWN - set(_CONTROLS)
    listed = ", ".join(SUPPORTED_PARAMETERS if fields is not None else
                       [p for p in SUPPORTED_PARAMETERS if p not in _CONTROLS])
    conditions, attributes = [], []
    for name in sorted(set(grouped) - known):
        filter_ = fields.attribute(name, grouped[name]) if fields is not None else None
        if filter_ is not None:
            attributes.append(filter_)
            continue
        parameter = fields.condition(name, grouped[name]) if fields is not None else None
        if parameter is None:
            more = f", {', '.join(fields.STANDARD)}" if fields is not None else ""
            raise QueryParameterError(name, f"query parameter {name} is not supported here; "
                                      f"supported: {listed}{more}")
        conditions.append(parameter)
    kwargs: dict[str, Any] = {"conditions": tuple(conditions),
                              "attributes": tuple(attributes)}
    if fields is not None:
        controls = fields.controls(grouped)
        kwargs.update(order_by=controls.order_by, order_keys=controls.order_keys,
                      order_desc=controls.order_desc, count_limit=controls.count_limit,
                      max_count=controls.max_count)
    if "EXISTS_errorDeclaration" in grouped:  # a value of false (or 0) asks for nothing
        kwargs["declared"] = grouped["EXISTS_errorDeclaration"][-1].strip().lower() \
            not in ("false", "0")
    for name, attr in _WD_FIELDS.items():
        if name in grouped:
            kwargs[attr] = tuple(_values(name, grouped[name]))
    if "eventType" in grouped:
        kwargs["event_types"] = tuple(_values("eventType", grouped["eventType"]))
    for name, attr in _TIME_PARAMS.items():
        if name in grouped:
            kwargs[attr] = _query_time(name, grouped[name][-1])
    for name, attr in _EQ_FIELDS.items():
        if name in grouped:
            values = _values(name, grouped[name])
            if name == "EQ_bizStep":
                values = [cbv_short(v, "BizStep") for v in values]
            elif name == "EQ_disposition":
                values = [cbv_short(v, "Disp") for v in values]
            kwargs[attr] = tuple(values)
    matches = []
    for name, kinds in _MATCH_KINDS.items():
        if name in grouped:
            exact: list[str] = []
            prefixes: list[str] = []
            canonical: list[str] = []
            canonical_stems: list[str] = []
            for value in _values(name, grouped[name]):
                found, stems = match_terms(value, kinds)
                exact += found
                prefixes += stems
                found, stems = canonical_match(value, kinds)
                canonical += found
                canonical_stems += stems
            matches.append(Match(kinds, tuple(exact), tuple(prefixes),
                                 tuple(dict.fromkeys(canonical)),
                                 tuple(dict.fromkeys(canonical_stems))))
    kwargs["matches"] = tuple(matches)
    per_page = per_page_default
    if "perPage" in grouped:
        text = grouped["perPage"][-1]
        if not text.isdecimal() or not 1 <= int(text) <= per_page_max:
            raise QueryParameterError("perPage", f"perPage must be a whole number from 1 to "
                                      f"{per_page_max}")
        per_page = int(text)
    filters = tuple(sorted((n, v) for n, v in params if n not in ("perPage", "nextPageToken")))
    given = repr(filters) if within is None else repr((filters, within))
    fingerprint = hashlib.sha256(given.encode()).hexdigest()[:12]
    after, after_key, seen = None, None, 0
    if "nextPageToken" in grouped:
        after, after_key, seen = _decode_page_token(grouped["nextPageToken"][-1], fingerprint)
    return EventQuery(per_page=per_page, after=after, fingerprint=fingerprint, within=within,
                      after_key=after_key, seen=seen,
                      params=tuple((n, v) for n, v in params
                                   if n not in ("perPage", "nextPageToken")), **kwargs)
