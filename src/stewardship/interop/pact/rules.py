"""The PACT translation, pure: a CoC document's facts as a ProductFootprint (v3 and v2),
the list filters, CloudEvents read and written, and the signed access tokens.

Nothing here decides anything about custody or carbon: the footprint is the one the CoC
document states, the company and product ids are the platform's URNs, the geography is the
issuing facility's country, and the classification is the CN heading of the material (and,
for metal, of the product the issuer named).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

# The CN mapping of materials and descriptions is shared with CBAM (carbon.cn.rules).
from stewardship.carbon.cn.rules import cn_code

SPEC_V3 = "3.0.0"
SPEC_V2 = "2.3.0"
EXTENSION_VERSION = "1.0.0"
EXTENSION_PATH = f"/pact/extensions/coc/{EXTENSION_VERSION}/schema.json"
CLASSIFICATION = "urn:pact:productclassification:cn:"
URN_ORG = "urn:stewardship:org:"
URN_ENTITY = "urn:stewardship:entity:"
URN_COC = "urn:stewardship:coc:"
URN_MATERIAL = "urn:stewardship:material:"
VALIDITY_YEARS = 3
"""A footprint is valid for three years after its reference period ends, PACT's default."""

V3_EVENTS = {
    "created": "org.wbcsd.pact.ProductFootprint.RequestCreatedEvent.3",
    "fulfilled": "org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3",
    "rejected": "org.wbcsd.pact.ProductFootprint.RequestRejectedEvent.3",
    "published": "org.wbcsd.pact.ProductFootprint.PublishedEvent.3",
}
V2_EVENTS = {
    "created": "org.wbcsd.pathfinder.ProductFootprintRequest.Created.v1",
    "fulfilled": "org.wbcsd.pathfinder.ProductFootprintRequest.Fulfilled.v1",
    "rejected": "org.wbcsd.pathfinder.ProductFootprintRequest.Rejected.v1",
    "published": "org.wbcsd.pathfinder.ProductFootprint.Published.v1",
}


class PactError(Exception):
    """An error in PACT's own shape: ``{"code", "message"}`` with its HTTP status."""

    def __init__(self, status: int, code: str, message: str,
                 headers: Mapping[str, str] | None = None, *, oauth: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.oauth = oauth
        """At the token endpoint: the RFC 6749 §5.2 error name, sent beside PACT's."""

    def body(self) -> dict[str, str]:
        out = {"code": self.code, "message": self.message}
        if self.oauth:
            out.update({"error": self.oauth, "error_description": self.message})
        return out


def bad_request(message: str) -> PactError:
    return PactError(400, "BadRequest", message)


def not_found(version: int, message: str) -> PactError:
    # v3 names it NotFound; the v2 specification NoSuchFootprint.
    return PactError(404, "NotFound" if version >= 3 else "NoSuchFootprint", message)


# --- the document as a footprint ----------------------------------------------------------


@dataclass(frozen=True)
class DocumentFacts:
    """What a footprint is made of: one CoC document and the parties' register data."""

    id: uuid.UUID
    number: str
    material: str
    material_label: str
    description: str
    quantity_kg: int
    coc_quantity_kg: int
    shipment_date: date
    period_start: date
    period_end: date
    issued_at: datetime
    footprint: Decimal
    primary_percent: Decimal | None
    tiers: Sequence[Mapping[str, Any]]
    recycled_percent: Decimal | None
    recycled_method: str | None
    composition: Mapping[str, Any]
    issuer_slug: str
    issuer_name: str
    issuer_entity_id: uuid.UUID
    issuer_entity_name: str
    country: str
    """The issuing facility's country (ISO 3166-1 alpha-2)."""
    performance_certificate: str
    coc_certificate: str
    recipient_name: str


# CPC Ver. 2.1 subclasses, for v2's required productCategoryCpc.
MATERIAL_CPC = {"asi_bauxite": "14240", "asi_alumina": "41433", "asi_aluminium": "41432",
                "eligible_scrap": "39140"}
CN_CPC = {"7604": "41531", "7605": "41532", "7606": "41533", "7607": "41534",
          "7608": "41535", "7612": "42943", "7603": "41539"}


def decimal_text(value: Decimal) -> str:
    """A decimal as PACT writes it: a plain string, no exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def moment(value: datetime) -> str:
    """An instant in UTC with a ``Z`` (a ``+`` would read as a space in an unencoded URL)."""
    return value.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def reference_period(facts: DocumentFacts) -> tuple[datetime, datetime]:
    """The activity data behind the metal: from the start of the custody period it was
    drawn from to the end of its shipment day (or of the period, if that came first), as
    [start, end) instants."""
    end = min(facts.period_end, facts.shipment_date) + timedelta(days=1)
    return _midnight(facts.period_start), _midnight(end)


def validity_period(facts: DocumentFacts) -> tuple[datetime, datetime]:
    """From the end of the reference period to three years after it (PACT's default)."""
    return validity_after(min(facts.period_end, facts.shipment_date))


def validity_after(last_day: date) -> tuple[datetime, datetime]:
    """The validity period of a footprint whose reference period ends with ``last_day``
    (the earlier of the custody period's end and the shipment day)."""
    ref_end = _midnight(last_day + timedelta(days=1))
    try:
        end = ref_end.replace(year=ref_end.year + VALIDITY_YEARS)
    except ValueError:  # 29 February
        end = ref_end.replace(year=ref_end.year + VALIDITY_YEARS, day=28)
    return ref_end, end


def product_ids(facts: DocumentFacts) -> list[str]:
    return [f"{URN_COC}{facts.number}", f"{URN_MATERIAL}{facts.material}"]


def company_ids(facts: DocumentFacts) -> list[str]:
    return [f"{URN_ORG}{facts.issuer_slug}", f"{URN_ENTITY}{facts.issuer_entity_id}"]


def origins(composition: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The document's origin composition by country and route, with each one's mass and
    share (parts as the custody ledger stores them: facility, country, route, kg, ...)."""
    totals: dict[tuple[str, str], int] = {}
    for part in composition.get("parts") or []:
        if isinstance(part, list | tuple) and len(part) >= 4:
            key = (str(part[1]), str(part[2]))
            totals[key] = totals.get(key, 0) + int(part[3])
    whole = sum(totals.values())
    return [{"country": country, "route": route, "kg": kg,
             "sharePercent": decimal_text((Decimal(kg) * 100 / whole).quantize(Decimal("0.01")))}
            for (country, route), kg in sorted(totals.items())] if whole else []


def coc_extension(facts: DocumentFacts, schema_url: str) -> dict[str, Any]:
    """Our CoC claim, origin composition and recycled content, as a DataModelExtension."""
    data: dict[str, Any] = {
        "documentNumber": facts.number,
        "claim": {
            "standard": "Chain of Custody", "material": facts.material,
            "materialLabel": facts.material_label,
            "cocQuantityKg": facts.coc_quantity_kg, "quantityKg": facts.quantity_kg,
            "cocCertificate": facts.coc_certificate,
            "performanceCertificate": facts.performance_certificate,
        },
        "origins": origins(facts.composition),
        "footprintTiers": [dict(t) for t in facts.tiers],
    }
    if facts.recycled_percent is not None:
        data["recycledContent"] = {"percent": decimal_text(facts.recycled_percent),
                                   "method": facts.recycled_method or ""}
    return {"specVersion": "2.0.0", "dataSchema": schema_url, "data": data}


def extension_schema(schema_url: str) -> dict[str, Any]:
    """The JSON Schema (2020-12) of the CoC extension's ``data``, served at its own URL."""
    decimal = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "$id": schema_url,
        "title": "Chain of Custody data of a product footprint",
        "description": "The CoC document the footprint is translated from: its claim, the "
                       "origin composition of the metal and its recycled content, and how "
                       "the footprint was built up tier by tier.",
        "type": "object",
        "required": ["documentNumber", "claim", "origins", "footprintTiers"],
        "properties": {
            "documentNumber": {"type": "string", "minLength": 1},
            "claim": {"type": "object",
                      "required": ["standard", "material", "cocQuantityKg", "quantityKg"],
                      "properties": {
                          "standard": {"const": "Chain of Custody"},
                          "material": {"type": "string"}, "materialLabel": {"type": "string"},
                          "cocQuantityKg": {"type": "integer", "minimum": 1},
                          "quantityKg": {"type": "integer", "minimum": 1},
                          "cocCertificate": {"type": "string"},
                          "performanceCertificate": {"type": "string"}}},
            "origins": {"type": "array", "items": {
                "type": "object", "required": ["country", "route", "kg", "sharePercent"],
                "properties": {"country": {"type": "string"}, "route": {"type": "string"},
                               "kg": {"type": "integer", "minimum": 0},
                               "sharePercent": decimal}}},
            "recycledContent": {"type": "object", "required": ["percent"],
                                "properties": {"percent": decimal,
                                               "method": {"type": "string"}}},
            "footprintTiers": {"type": "array", "items": {"type": "object"}},
        },
    }


def _description(facts: DocumentFacts) -> str:
    what = facts.description or facts.material_label
    return f"{what} ({facts.material_label}), CoC document {facts.number}"


def _boundary(facts: DocumentFacts) -> str:
    return ("Cradle-to-gate: the mass-weighted footprint of the pool the metal was drawn "
            "from, each stage adding its own process emissions per kg of output "
            f"({len(facts.tiers)} tier(s) recorded down the chain of custody).")


def footprint_v3(facts: DocumentFacts, schema_url: str) -> dict[str, Any]:
    ref_start, ref_end = reference_period(facts)
    valid_start, valid_end = validity_period(facts)
    value = decimal_text(facts.footprint)
    pcf: dict[str, Any] = {
        "declaredUnitOfMeasurement": "kilogram", "declaredUnitAmount": "1",
        "productMassPerDeclaredUnit": "1",
        "referencePeriodStart": moment(ref_start), "referencePeriodEnd": moment(ref_end),
        "geographyCountry": facts.country,
        "boundaryProcessesDescription": _boundary(facts),
        "pcfExcludingBiogenicUptake": value, "pcfIncludingBiogenicUptake": value,
        "fossilGhgEmissions": value, "fossilCarbonContent": "0",
        "biogenicCarbonContent": "0", "packagingEmissionsIncluded": False,
        "ipccCharacterizationFactors": ["AR6"], "crossSectoralStandards": ["GHGP-Product"],
        "exemptedEmissionsPercent": "0",
        "allocationRulesDescription": "Mass balance: mass-weighted pools, yields applied",
    }
    if facts.primary_percent is not None:
        pcf["primaryDataShare"] = decimal_text(facts.primary_percent)
    return {
        "id": str(facts.id), "specVersion": SPEC_V3, "created": moment(facts.issued_at),
        "status": "Active", "validityPeriodStart": moment(valid_start),
        "validityPeriodEnd": moment(valid_end), "companyName": facts.issuer_name,
        "companyIds": company_ids(facts), "productDescription": _description(facts),
        "productIds": product_ids(facts),
        "productClassifications": [CLASSIFICATION + cn_code(facts.material,
                                                            facts.description)],
        "productNameCompany": facts.description or facts.material_label,
        "comment": f"Issued to {facts.recipient_name} on CoC document {facts.number}.",
        "pcf": pcf, "extensions": [coc_extension(facts, schema_url)],
    }


def footprint_v2(facts: DocumentFacts, schema_url: str) -> dict[str, Any]:
    """The same footprint in the shape of PACT 2.x (2.3)."""
    v3 = footprint_v3(facts, schema_url)
    pcf3 = v3["pcf"]
    code = cn_code(facts.material, facts.description)
    pcf: dict[str, Any] = {
        "declaredUnit": "kilogram", "unitaryProductAmount": "1",
        "productMassPerDeclaredUnit": "1",
        "pCfExcludingBiogenic": pcf3["pcfExcludingBiogenicUptake"],
        "pCfIncludingBiogenic": pcf3["pcfIncludingBiogenicUptake"],
        "fossilGhgEmissions": pcf3["fossilGhgEmissions"], "fossilCarbonContent": "0",
        "biogenicCarbonContent": "0", "characterizationFactors": "AR6",
        "ipccCharacterizationFactorsSources": ["AR6"],
        "crossSectoralStandardsUsed": ["GHG Protocol Product standard"],
        "boundaryProcessesDescription": pcf3["boundaryProcessesDescription"],
        "referencePeriodStart": pcf3["referencePeriodStart"],
        "referencePeriodEnd": pcf3["referencePeriodEnd"],
        "geographyCountry": facts.country, "exemptedEmissionsPercent": 0,
        "exemptedEmissionsDescription": "None", "packagingEmissionsIncluded": False,
        "allocationRulesDescription": pcf3["allocationRulesDescription"],
    }
    if facts.primary_percent is not None:
        pcf["primaryDataShare"] = float(facts.primary_percent)  # v2 writes a JSON number
    return {
        "id": v3["id"], "specVersion": SPEC_V2, "version": 1, "created": v3["created"],
        "status": "Active", "validityPeriodStart": v3["validityPeriodStart"],
        "validityPeriodEnd": v3["validityPeriodEnd"], "companyName": v3["companyName"],
        "companyIds": v3["companyIds"], "productDescription": v3["productDescription"],
        "productIds": v3["productIds"],
        "productCategoryCpc": CN_CPC.get(code, MATERIAL_CPC.get(facts.material, "41432")),
        "productNameCompany": v3["productNameCompany"], "comment": v3["comment"],
        "pcf": pcf, "extensions": v3["extensions"],
    }


# --- list filters (v3) --------------------------------------------------------------------

LIST_PARAMETERS = frozenset({"limit", "offset", "productId", "companyId", "geography",
                             "classification", "validOn", "validAfter", "validBefore",
                             "status"})


def parse_instant(name: str, text: str) -> datetime:
    """An RFC 3339 date-time (or a date, read as its midnight UTC), or a 400 naming it."""
    raw = text.strip().replace(" ", "+")  # an unencoded '+' arrives as a space
    try:
        if len(raw) == 10:
            return _midnight(date.fromisoformat(raw))
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise bad_request(f"{name} must be an RFC 3339 date-time such as "
                          f"2026-01-31T00:00:00Z, not {text[:60]!r}") from None
    if value.tzinfo is None:
        raise bad_request(f"{name} must name its time zone (e.g. end with Z)")
    return value.astimezone(UTC)


def _whole(name: str, text: str, least: int, most: int) -> int:
    if not text.strip().isdecimal() or not least <= int(text) <= most:
        raise bad_request(f"{name} must be a whole number from {least} to {most}, "
                          f"not {text[:20]!r}")
    return int(text)


@dataclass(frozen=True)
class Filters:
    """The v3 list filters: AND across parameters, OR within one repeated parameter."""

    product_ids: frozenset[str] = frozenset()
    company_ids: frozenset[str] = frozenset()
    geographies: frozenset[str] = frozenset()
    classifications: frozenset[str] = frozenset()
    statuses: frozenset[str] = frozenset()
    valid_on: datetime | None = None
    valid_after: datetime | None = None
    valid_before: datetime | None = None
    limit: int | None = None
    offset: int = 0
    echo: tuple[tuple[str, str], ...] = field(default=())
    """The filter parameters as sent, carried into the next page's link."""


def parse_filters(items: Iterable[tuple[str, str]], *, max_limit: int = 1000) -> Filters:
    sets: dict[str, set[str]] = {k: set() for k in
                                 ("productId", "companyId", "geography", "classification",
                                  "status")}
    moments: dict[str, datetime] = {}
    limit: int | None = None
    offset = 0
    echo: list[tuple[str, str]] = []
    unknown = []
    for name, value in items:
        if name not in LIST_PARAMETERS:
            unknown.append(name)
        elif name == "limit":
            # A host may return fewer than asked: a larger limit is served in pages of
            # at most max_limit, the rest behind the Link header.
            limit = min(_whole("limit", value, 1, 10**9), max_limit)
        elif name == "offset":
            offset = _whole("offset", value, 0, 10**9)
        elif name in sets:
            sets[name].add(value.strip())
            echo.append((name, value))
        else:
            moments[name] = parse_instant(name, value)
            echo.append((name, value))
    if unknown:
        raise bad_request(f"unknown query parameter(s): {', '.join(sorted(set(unknown)))}; "
                          f"the list takes {', '.join(sorted(LIST_PARAMETERS))}")
    return Filters(product_ids=frozenset(sets["productId"]),
                   company_ids=frozenset(sets["companyId"]),
                   geographies=frozenset(sets["geography"]),
                   classifications=frozenset(sets["classification"]),
                   statuses=frozenset(sets["status"]), valid_on=moments.get("validOn"),
                   valid_after=moments.get("validAfter"),
                   valid_before=moments.get("validBefore"), limit=limit, offset=offset,
                   echo=tuple(echo))


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def matches(footprint: Mapping[str, Any], filters: Filters) -> bool:
    """Whether a v3 footprint passes every filter given."""
    pcf = footprint.get("pcf") or {}
    if filters.product_ids and not filters.product_ids & set(footprint.get("productIds", [])):
        return False
    if filters.company_ids and not filters.company_ids & set(footprint.get("companyIds", [])):
        return False
    if filters.classifications and not filters.classifications & set(
            footprint.get("productClassifications") or []):
        return False
    if filters.geographies:
        places = {pcf.get(k) for k in ("geographyCountry", "geographyRegionOrSubregion",
                                       "geographyCountrySubdivision")} - {None}
        if not filters.geographies & places:
            return False
    if filters.statuses and footprint.get("status") not in filters.statuses:
        return False
    start = _instant(footprint["validityPeriodStart"])
    end = _instant(footprint["validityPeriodEnd"])
    if filters.valid_on is not None and not start <= filters.valid_on <= end:
        return False
    if filters.valid_after is not None and not start > filters.valid_after:
        return False
    return filters.valid_before is None or end < filters.valid_before


@dataclass(frozen=True)
class ColumnFilters:
    """The v3 filters as conditions on a CoC document's own columns, for the query to apply.

    Each set given is OR within, the sets AND across, as ``matches`` reads them: a company
    id names the issuer organisation (``slugs``) or entity (``entity_ids``), a product id
    the document (``numbers``) or its material (``materials``); the validity filters bound
    the document's last reference day, the earlier of its period's end and its shipment
    day (``first_day`` <= it <= ``last_day``). ``nothing``: no document can pass."""

    company: bool = False
    slugs: frozenset[str] = frozenset()
    entity_ids: frozenset[uuid.UUID] = frozenset()
    product: bool = False
    numbers: frozenset[str] = frozenset()
    materials: frozenset[str] = frozenset()
    first_day: date | None = None
    last_day: date | None = None
    nothing: bool = False
    complete: bool = True
    """Whether these are all the filters (no geography or classification, which are read on
    the translated footprint): then the query's page is the list's page."""


def _tails(values: frozenset[str], prefix: str) -> frozenset[str]:
    return frozenset(v[len(prefix):] for v in values if v.startswith(prefix))


def _uuids(texts: frozenset[str]) -> frozenset[uuid.UUID]:
    found = set()
    for text in texts:
        try:
            pk = uuid.UUID(text)
        except ValueError:
            continue
        if str(pk) == text:  # the id as a footprint writes it, nothing else matches
            found.add(pk)
    return frozenset(found)


_FIRST, _LAST = date(1, 1, 2).toordinal(), date(9990, 12, 31).toordinal()


def _first_day(passes: Callable[[date], bool]) -> date | None:
    """The first day for which ``passes`` (false, then true, as days go on) holds."""
    low, high = _FIRST, _LAST + 1
    while low < high:
        middle = (low + high) // 2
        if passes(date.fromordinal(middle)):
            high = middle
        else:
            low = middle + 1
    return date.fromordinal(low) if low <= _LAST else None


def column_filters(filters: Filters) -> ColumnFilters:
    """The filters that map to columns; exactly the documents ``matches`` keeps on them."""
    nothing = bool(filters.statuses) and "Active" not in filters.statuses
    starts: list[Callable[[date], bool]] = []  # false then true as the last day goes on
    stops: list[Callable[[date], bool]] = []  # true then false
    if filters.valid_on is not None:
        on = filters.valid_on
        starts.append(lambda day: validity_after(day)[1] >= on)
        stops.append(lambda day: validity_after(day)[0] <= on)
    if filters.valid_after is not None:
        after = filters.valid_after
        starts.append(lambda day: validity_after(day)[0] > after)
    if filters.valid_before is not None:
        before = filters.valid_before
        stops.append(lambda day: validity_after(day)[1] < before)
    first = last = None
    if starts:
        first = _first_day(lambda day: all(p(day) for p in starts))
        nothing = nothing or first is None
    if stops:
        beyond = _first_day(lambda day: not all(p(day) for p in stops))
        last = date.fromordinal(beyond.toordinal() - 1) if beyond is not None else None
        nothing = nothing or (beyond is not None and beyond.toordinal() <= _FIRST)
    if first is not None and last is not None and first > last:
        nothing = True
    return ColumnFilters(
        company=bool(filters.company_ids), slugs=_tails(filters.company_ids, URN_ORG),
        entity_ids=_uuids(_tails(filters.company_ids, URN_ENTITY)),
        product=bool(filters.product_ids), numbers=_tails(filters.product_ids, URN_COC),
        materials=_tails(filters.product_ids, URN_MATERIAL), first_day=first, last_day=last,
        nothing=nothing, complete=not (filters.geographies or filters.classifications))


def next_link(base: str, filters: Filters, offset: int, limit: int) -> str:
    """The RFC 8288 ``Link`` header value of the next page."""
    query = urlencode([*filters.echo, ("offset", str(offset)), ("limit", str(limit))])
    return f'<{base}?{query}>; rel="next"'


# --- CloudEvents --------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    kind: str
    """``created``, ``fulfilled``, ``rejected`` or ``published``."""
    id: str
    source: str
    data: Mapping[str, Any]


def read_event(body: Any, version: int) -> Event:
    """A CloudEvent (structured JSON mode) sent to ``/{version}/events``, or a 400 naming
    what is wrong."""
    if not isinstance(body, dict):
        raise bad_request("the body must be a CloudEvent: a JSON object")
    missing = [k for k in ("type", "specversion", "id", "source", "time", "data")
               if k not in body]
    if missing:
        raise bad_request(f"the CloudEvent lacks {', '.join(missing)}")
    if body["specversion"] != "1.0":
        raise bad_request("specversion must be \"1.0\"")
    for name in ("id", "source", "type"):
        if not isinstance(body[name], str) or not body[name].strip():
            raise bad_request(f"{name} must be a non-empty string")
    if not isinstance(body["time"], str):
        raise bad_request("time must be an RFC 3339 date-time")
    parse_instant("time", body["time"])
    if not isinstance(body["data"], dict):
        raise bad_request("data must be a JSON object")
    types = V3_EVENTS if version >= 3 else V2_EVENTS
    kinds = {t: k for k, t in types.items()}
    if body["type"] not in kinds:
        raise bad_request(f"unknown event type {body['type'][:120]!r}; /{version}/events "
                          f"takes {', '.join(sorted(types.values()))}")
    event = Event(kinds[body["type"]], body["id"], body["source"], body["data"])
    if event.kind == "published":
        ids = event.data.get("pfIds")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise bad_request("data.pfIds must be a list of footprint ids (UUIDs)")
        for value in ids:
            try:
                uuid.UUID(value)
            except ValueError:
                raise bad_request(f"data.pfIds holds {value[:80]!r}, which is not a "
                                  "footprint id (a UUID)") from None
    return event


def request_filters(event: Event, version: int) -> Filters:
    """The footprints a RequestCreated event asks for, as list filters."""
    data = event.data
    if version < 3:
        pf = data.get("pf")
        if not isinstance(pf, dict):
            raise bad_request("data.pf must be an object naming the footprint asked for")
        data = {"productId": pf.get("productIds"), "companyId": pf.get("companyIds")}
    items: list[tuple[str, str]] = []
    for name in ("productId", "companyId", "geography", "classification", "status"):
        values = data.get(name)
        if values is None:
            continue
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise bad_request(f"data.{name} must be a list of strings")
        items.extend((name, v) for v in values)
    for name in ("validOn", "validAfter", "validBefore"):
        value = data.get(name)
        if value is not None:
            if not isinstance(value, str):
                raise bad_request(f"data.{name} must be an RFC 3339 date-time")
            items.append((name, value))
    return parse_filters(items)


def answer_event(request: Event, version: int, source: str, now: datetime, *,
                 footprints: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The RequestFulfilled event carrying ``footprints``, or, when there are none, the
    RequestRejected event saying so."""
    types = V3_EVENTS if version >= 3 else V2_EVENTS
    event: dict[str, Any] = {"specversion": "1.0", "id": str(uuid.uuid4()),
                             "source": source, "time": moment(now)}
    if footprints:
        event["type"] = types["fulfilled"]
        event["data"] = {"requestEventId": request.id, "pfs": list(footprints)}
    else:
        error = not_found(version, "no footprint you may see matches the request")
        event["type"] = types["rejected"]
        event["data"] = {"requestEventId": request.id, "error": error.body()}
    return event


def retry_wait(attempts: int, first_seconds: float) -> timedelta:
    """The wait after the ``attempts``-th failed try: doubling, at most six hours."""
    return timedelta(seconds=min(first_seconds * 2 ** max(attempts - 1, 0), 6 * 3600))


# --- access tokens ------------------------------------------------------------------------

TOKEN_PREFIX = "pact."


def _token_key(secret_key: str) -> bytes:
    return hashlib.sha256(b"stewardship: pact access token\0" + secret_key.encode()).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def mint_token(secret_key: str, client_id: str, expires: datetime) -> str:
    """A signed bearer token naming the client and its expiry (nothing is stored)."""
    claims = _b64(json.dumps({"c": client_id, "e": int(expires.timestamp())},
                             separators=(",", ":")).encode())
    mac = hmac.new(_token_key(secret_key), claims.encode(), hashlib.sha256).digest()
    return f"{TOKEN_PREFIX}{claims}.{_b64(mac)}"


def read_token(secret_key: str, token: str, now: datetime) -> str:
    """The client id a token was minted for; 400 BadRequest for a token that is not ours,
    401 TokenExpired for one past its expiry."""
    invalid = bad_request("the access token is not valid")
    if not token.startswith(TOKEN_PREFIX) or token.count(".") != 2:
        raise invalid
    claims, mac = token[len(TOKEN_PREFIX):].split(".")
    expected = _b64(hmac.new(_token_key(secret_key), claims.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(mac, expected):
        raise invalid
    try:
        data = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
        client_id, expires = str(data["c"]), int(data["e"])
    except (ValueError, KeyError, TypeError):
        raise invalid from None
    if now.timestamp() >= expires:
        raise PactError(401, "TokenExpired", "the access token has expired; request a new "
                        "one at /pact/auth/token",
                        {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return client_id


def answer_address(source: str, *, https_only: bool) -> str:
    """Where to answer a request whose credentials name no events address: the request's
    own ``source``, as PACT has it, if it is an absolute http(s) address with no user
    part; in production only https, and never a loopback, private or link-local host."""
    parts = urllib.parse.urlsplit(source.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad_request("the event's source is not an http(s) address to answer to, and "
                          "these client credentials name no events address")
    if parts.username or parts.password:
        raise bad_request("the event's source may not carry a user name or password")
    if https_only:
        if parts.scheme != "https":
            raise bad_request("the event's source must be an https address")
        host = parts.hostname
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        if host == "localhost" or (ip is not None and (ip.is_loopback or ip.is_private
                                                       or ip.is_link_local)):
            raise bad_request("the event's source is an internal address; ask your supplier "
                              "to register your events address with your credentials")
    return f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")

