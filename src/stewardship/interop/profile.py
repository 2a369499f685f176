"""The chain-of-custody profile of EPCIS 2.0: which captured events move the custody
ledger, and how. docs/epcis-profile.md describes it for the people writing the events.

A translator at the edge: it reads an event, maps it onto the custody service's input
models and calls the service, so every custody rule applies unchanged (certificates on
the day, balances, physical yields, periods, who may act). It decides nothing the custody
services decide; what it checks itself is only what the EPCIS form adds (units, URNs,
that a named facility or party is the capturing user's own).

An event follows the profile when it is one of four ledger kinds AND uses the scheme's
identifiers (a material class ``urn:stewardship:material:*``, a CoC document transaction
``urn:stewardship:coc:*`` or one of our ``stw:`` extensions):

- TransformationEvent: a transformation as it happened: the input and output quantity
  lists are the whole input and output (their ratio the yield), ``stw:cocQuantity`` the
  CoC part of the input (all of it when left out);
- ObjectEvent, action ADD, bizStep commissioning: production at an origin facility (or
  eligible scrap taken in by a remelter);
- ObjectEvent or TransactionEvent, bizStep shipping: a CoC document is issued;
- ObjectEvent or TransactionEvent, bizStep receiving: the CoC document is received.

Every other event returns None and changes nothing, even at a registered facility: an
observation of a CoC lot in a warehouse is logistics, not custody.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from stewardship.core import clock
from stewardship.core.auth import Actor, Role, require
from stewardship.core.errors import Conflict, DomainError, InvalidInput
from stewardship.custody import rules
from stewardship.custody.rules import CocMaterial, LedgerError, Transformation
from stewardship.custody.schemas import (
    DOCUMENT_NUMBER,
    DocumentCreate,
    DocumentRead,
    OperationRead,
    Party,
    ProductionCreate,
    Receipt,
    ScrapIntakeCreate,
    TransformationCreate,
)
from stewardship.custody.service import batch, documents, inputs, receipts
from stewardship.interop.epcis import master_data
from stewardship.registry.service import facilities as facility_service
from stewardship.registry.service import organizations as organization_service

# --- the platform's identifiers ----------------------------------------------------------

FACILITY = "urn:stewardship:facility:"
"""bizLocation / readPoint id: ``urn:stewardship:facility:<public id>``."""
ENTITY = "urn:stewardship:entity:"
"""Owning party: ``urn:stewardship:entity:<uuid>``."""
ORGANIZATION = "urn:stewardship:org:"
"""Owning party: ``urn:stewardship:org:<slug>`` (an organisation with one entity)."""
MATERIAL = "urn:stewardship:material:"
"""epcClass of a quantity element: ``urn:stewardship:material:<material>``."""
COC_DOCUMENT = "urn:stewardship:coc:"
"""The cert business transaction: ``urn:stewardship:coc:<document number>``."""
EXTENSION_NS = "urn:stewardship:epcis:"
"""The IRI our extension prefix stands for; a document declares
``"@context": [..., {"stw": "urn:stewardship:epcis:"}]``."""
PREFIX = "stw"
CONTEXT = {PREFIX: EXTENSION_NS}
EXTENSIONS = ("cocQuantity", "transformation", "scrapKind", "recycledContent")

UNITS = {"KGM": 1, "TNE": 1000}
"""UN/ECE Rec 20 units of mass the profile takes, in kilograms."""
QUANTITY_LISTS = ("quantityList", "inputQuantityList", "outputQuantityList",
                  "childQuantityList")
MATERIALS = "|".join(m.value for m in CocMaterial)

_CBV = {
    "bizstep": ("urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-",
                "http://ref.gs1.org/cbv/BizStep-", "cbv:BizStep-"),
    "btt": ("urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-",
            "http://ref.gs1.org/cbv/BTT-", "cbv:BTT-"),
    "sdt": ("urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-",
            "http://ref.gs1.org/cbv/SDT-", "cbv:SDT-"),
}

# Custody input fields, as the event names them: a service's refusal points at the part
# of the event to fix.
EPCIS_FIELDS = {
    "facility_id": "bizLocation", "entity_id": "bizLocation", "input_kg": "inputQuantityList",
    "source_material": "inputQuantityList", "declared_yield": "outputQuantityList",
    "total_input_kg": "inputQuantityList", "total_output_kg": "outputQuantityList",
    "coc_input_kg": "stw:cocQuantity",
    "transformation": "stw:transformation", "material": "quantityList",
    "kilograms": "quantityList", "quantity_kg": "quantityList", "scrap_kind": "stw:scrapKind",
    "occurred_on": "eventTime", "shipment_date": "eventTime", "received_on": "eventTime",
    "period_start": "eventTime", "coc_quantity_kg": "stw:cocQuantity",
    "recipient_entity_id": "destinationList", "issuer_entity_id": "sourceList",
    "number": "bizTransactionList", "recycled_percent": "stw:recycledContent",
    "recycled_method": "stw:recycledContent", "description": "stw:recycledContent",
    "note": "eventID",
}

M = TypeVar("M", bound=BaseModel)


# --- shared with the CSV import ------------------------------------------------------------


def build(model: type[M], names: Mapping[str, str], **data: Any) -> M:
    """The custody input model, or InvalidInput naming the field as the caller's format
    names it (``names`` maps the model's field names to the format's)."""
    try:
        return model(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first.get("loc") or ()
        name = str(loc[0]) if loc else ""
        field = names.get(name, name) or None
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        raise InvalidInput(f"{field}: {message}" if field else message,
                           field=field) from None


@contextmanager
def fields_named(names: Mapping[str, str]) -> Iterator[None]:
    """Re-raise a service's refusal with its fields named as the caller's format names
    them; the class (and so the HTTP status) and the message stay."""
    try:
        yield
    except DomainError as error:
        raise renamed(error, names) from error


def renamed(error: DomainError, names: Mapping[str, str]) -> DomainError:
    """The refusal with its fields named as the caller's format names them (what
    ``fields_named`` raises); its cause is the service's own."""
    details = [{**d, "field": names.get(str(d.get("field")), d.get("field"))}
               for d in error.details]
    out = type(error)(error.message, details=details)
    out.__cause__ = error
    return out


def transformation_for(source: CocMaterial, target: CocMaterial, named: object,
                       field: str = "stw:transformation") -> Transformation:
    """The step named, or the only step that turns ``source`` into ``target``."""
    if named is not None:
        try:
            step = Transformation(str(named))
        except ValueError:
            steps = ", ".join(t.value for t in Transformation)
            raise InvalidInput(f"{named!r} is not a transformation (one of: {steps})",
                               field=field) from None
    else:
        fits = [t for t in Transformation if source in t.inputs and t.output is target]
        if len(fits) > 1:
            raise InvalidInput(
                f"{source.value} -> {target.value} may be {', '.join(t.value for t in fits)}:"
                f" name the step in {field}", field=field)
        if not fits:
            raise InvalidInput(f"no transformation turns {source.value} into {target.value}",
                               field="outputQuantityList")
        step = fits[0]
    try:
        rules.check_transformation(step, source, target)
    except LedgerError as error:
        raise InvalidInput(str(error), field=field) from error
    return step


def operation_effect(op: OperationRead) -> str:
    """One line saying what a journal operation did."""
    where = f" at {op.facility_id}" if op.facility_id else ""
    day = op.occurred_on.isoformat()
    if op.kind == "transformation":
        yield_ = f"{op.declared_yield.normalize():f}" if op.declared_yield is not None else "?"
        text = (f"transformation ({op.transformation}){where} on {day}: {op.input_kg} kg "
                f"{op.source_material} -> {op.kilograms} kg {op.material} at a declared "
                f"yield of {yield_} kg/kg")
        if op.total_input_kg != op.input_kg:
            text += (f" (CoC part of {op.total_input_kg} kg in, {op.total_output_kg} kg out; "
                     f"{op.coc_input_percent}% CoC input)")
        return text
    if op.kind == "scrap_intake":
        return f"scrap intake ({op.scrap_kind}){where} on {day}: {op.kilograms} kg {op.material}"
    if op.kind == "reversal":
        return (f"reversal of entry {op.reverses}{where} of {day}: {op.kilograms} kg "
                f"{op.material} undone ({op.note})")
    label = "non-CoC input" if op.kind == "non_coc_input" else op.kind
    return f"{label}{where} on {day}: {op.kilograms} kg {op.material}"


def document_effect(doc: DocumentRead | receipts.Shipped, verb: str) -> str:
    """One line saying what happened to a CoC document."""
    if verb == "received":
        return (f"CoC document {doc.number} received on {doc.received_on}: "
                f"{doc.coc_quantity_kg} kg {doc.material.value} from {doc.issuer.entity}")
    return (f"CoC document {doc.number} issued on {doc.shipment_date}: "
            f"{doc.coc_quantity_kg} kg CoC of {doc.quantity_kg} kg {doc.material.value} "
            f"to {doc.recipient.entity}")


# --- reading an event ------------------------------------------------------------------------


def cbv(value: object, vocabulary: str) -> str:
    """The bare CBV term of a value written bare, as a URN or as a GS1 Web URI."""
    if not isinstance(value, str):
        return ""
    for prefix in _CBV[vocabulary]:
        if value.startswith(prefix):
            return value[len(prefix):]
    return value


def _prefixes(event: Mapping[str, Any]) -> set[str]:
    """``stw``, and any other prefix the event's own @context gives our namespace."""
    found = {PREFIX}
    context = event.get("@context")
    for item in context if isinstance(context, list) else [context]:
        if isinstance(item, dict):
            for key, value in item.items():
                target = value.get("@id") if isinstance(value, dict) else value
                if target == EXTENSION_NS:
                    found.add(key)
    return found


def extensions(event: Mapping[str, Any]) -> dict[str, Any]:
    """Our extension values by local name (``stw:cocQuantity`` -> ``cocQuantity``)."""
    prefixes = _prefixes(event)
    out: dict[str, Any] = {}
    for key, value in event.items():
        if key.startswith(EXTENSION_NS):
            out[key[len(EXTENSION_NS):]] = value
            continue
        prefix, sep, name = key.partition(":")
        if sep and prefix in prefixes:
            out[name] = value
    return out


def _elements(event: Mapping[str, Any], key: str) -> list[Any]:
    value = event.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(f"{key} is a list", field=key)
    return value


def _uses_material(event: Mapping[str, Any]) -> bool:
    return any(isinstance(e, dict) and str(e.get("epcClass", "")).startswith(MATERIAL)
               for key in QUANTITY_LISTS if isinstance(event.get(key), list)
               for e in event[key])


def _coc_transactions(event: Mapping[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    items = event.get("bizTransactionList")
    if not isinstance(items, list):
        return []
    return [(i, t) for i, t in enumerate(items) if isinstance(t, dict)
            and str(t.get("bizTransaction", "")).startswith(COC_DOCUMENT)]


def profile_kind(event: object) -> str | None:
    """Which ledger movement the event is (transformation, commissioning, shipping,
    receiving), or None when it does not follow the profile."""
    if not isinstance(event, Mapping):
        return None
    kind = event.get("type")
    ours = _uses_material(event) or bool(extensions(event))
    if kind == "TransformationEvent":
        return "transformation" if ours else None
    if kind not in ("ObjectEvent", "TransactionEvent"):
        return None
    step = cbv(event.get("bizStep"), "bizstep")
    if step in ("shipping", "receiving"):
        return step if ours or _coc_transactions(event) else None
    if step == "commissioning" and kind == "ObjectEvent":
        return "commissioning" if ours else None
    return None


def kilograms(value: object, uom: object, field: str) -> int:
    """A quantity in KGM or TNE as whole kilograms, exactly; fractions are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise InvalidInput(f"{field}: the quantity is a number, not {value!r}", field=field)
    try:
        amount = Decimal(value) if not isinstance(value, float) else Decimal(repr(value))
    except InvalidOperation:  # pragma: no cover - every int, float and Decimal converts
        raise InvalidInput(f"{field}: {value!r} is not a number", field=field) from None
    if not isinstance(uom, str) or uom not in UNITS:
        raise InvalidInput(f"{field}: uom is KGM or TNE for a CoC quantity, not {uom!r}",
                           field=field)
    kg = amount * UNITS[uom]
    if not kg.is_finite() or kg <= 0:
        raise InvalidInput(f"{field}: the quantity must be above zero, got {value} {uom}",
                           field=field)
    if kg != kg.to_integral_value():
        raise InvalidInput(f"{field}: {value} {uom} is {kg.normalize():f} kg; CoC quantities "
                           "are whole kilograms", field=field)
    return int(kg)


def _material(epc_class: object, field: str) -> CocMaterial:
    text = str(epc_class) if epc_class is not None else ""
    if text.startswith(MATERIAL):
        try:
            return CocMaterial(text[len(MATERIAL):])
        except ValueError:
            pass
    raise InvalidInput(f"unknown epcClass {epc_class!r}: a CoC event names its material as "
                       f"{MATERIAL}<{MATERIALS}>", field=field)


def _quantities(event: Mapping[str, Any], key: str) -> dict[CocMaterial, int]:
    totals: dict[CocMaterial, int] = {}
    for i, element in enumerate(_elements(event, key)):
        where = f"{key}[{i}]"
        if not isinstance(element, dict):
            raise InvalidInput(f"{where} is a quantity element", field=where)
        material = _material(element.get("epcClass"), f"{where}.epcClass")
        totals[material] = totals.get(material, 0) + kilograms(
            element.get("quantity"), element.get("uom"), where)
    return totals


def _one(event: Mapping[str, Any], key: str) -> tuple[CocMaterial, int]:
    totals = _quantities(event, key)
    if not totals:
        raise InvalidInput(f"{key} gives no CoC material with its quantity (epcClass "
                           f"{MATERIAL}<material>, quantity, uom KGM or TNE)", field=key)
    if len(totals) > 1:
        names = ", ".join(m.value for m in totals)
        raise InvalidInput(f"{key} holds {names}: one CoC material per event; capture one "
                           "event per material", field=key)
    return next(iter(totals.items()))


_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")


def _zone(offset: object) -> tzinfo | None:
    if offset is None:
        return None
    match = _OFFSET.match(str(offset))
    if not match:
        raise InvalidInput(f"eventTimeZoneOffset {offset!r} is not +hh:mm or -hh:mm",
                           field="eventTimeZoneOffset")
    sign = -1 if match.group(1) == "-" else 1
    return timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))


def _moment(event: Mapping[str, Any]) -> tuple[datetime, tzinfo]:
    """eventTime as an instant, and the zone it happened in: eventTimeZoneOffset (the
    instant's own offset, else UTC, when the offset is missing)."""
    raw = event.get("eventTime")
    if not isinstance(raw, str):
        raise InvalidInput("eventTime is required: the date of the operation", field="eventTime")
    try:
        instant = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput(f"eventTime {raw!r} is not an ISO 8601 date-time",
                           field="eventTime") from None
    zone = _zone(event.get("eventTimeZoneOffset")) or instant.tzinfo or UTC
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=zone)
    return instant, zone


def event_day(event: Mapping[str, Any]) -> date:
    """The operation's date: eventTime as a calendar date where it happened, i.e. the
    instant moved to eventTimeZoneOffset (the instant's own offset, else UTC, when the
    offset is missing)."""
    instant, zone = _moment(event)
    return instant.astimezone(zone).date()


def _when(event: Mapping[str, Any]) -> tuple[date, date]:
    """The operation's date and the day it is now where it happened (what the custody
    service judges the date against). An event that has not happened yet is refused: its
    eventTime is an instant, compared with the present instant whatever the offsets."""
    instant, zone = _moment(event)
    now = clock.now()
    if instant > now:
        raise InvalidInput(f"eventTime {event['eventTime']} is after the present instant "
                           f"({now.astimezone(zone).isoformat(timespec='seconds')} at "
                           "the event's offset): capture an event once it has happened",
                           field="eventTime")
    return instant.astimezone(zone).date(), now.astimezone(zone).date()


def _extension_kilograms(value: object, name: str) -> int:
    field = f"{PREFIX}:{name}"
    if not isinstance(value, dict):
        raise InvalidInput(f'{field} is {{"quantity": <number>, "uom": "KGM" or "TNE"}}',
                           field=field)
    return kilograms(value.get("quantity"), value.get("uom"), field)


def _facility(db: Session, actor: Actor, event: Mapping[str, Any], *,
              required: bool) -> tuple[str, uuid.UUID | None] | None:
    """The registered facility named as bizLocation (or readPoint): its public id and
    entity. Named, it must be one of the actor's organisation's."""
    for key in ("bizLocation", "readPoint"):
        node = event.get(key)
        ident = node.get("id") if isinstance(node, dict) else None
        if isinstance(ident, str) and not ident.startswith(FACILITY):
            # A location of the capturer's own master data may name the facility it is.
            named = master_data.facility_of_location(db, actor.organization_id, ident)
            ident = FACILITY + named.removeprefix(FACILITY) if named else None
        if isinstance(ident, str) and ident.startswith(FACILITY):
            with fields_named({"facility_id": key}):
                facility, _ = facility_service.resolve(db, actor, ident[len(FACILITY):])
            if facility.organization_id != actor.organization_id:
                raise InvalidInput(f"facility {facility.public_id} is not one of your "
                                   "organisation's", field=key)
            return facility.public_id, facility.entity_id
    if required:
        raise InvalidInput(f"bizLocation names a registered facility as {FACILITY}<public id>"
                           f", or a location whose master data names it "
                           f"({master_data.FACILITY_ATTRIBUTE})", field="bizLocation")
    return None


def _owning_party(event: Mapping[str, Any], key: str) -> str | None:
    side = "source" if key == "sourceList" else "destination"
    parties = [item.get(side) for item in _elements(event, key)
               if isinstance(item, dict) and cbv(item.get("type"), "sdt") == "owning_party"]
    if len(parties) > 1:
        raise InvalidInput(f"{key} names {len(parties)} owning parties; a CoC document has "
                           "one issuer and one recipient", field=key)
    if parties and not isinstance(parties[0], str):
        raise InvalidInput(f"{key}: the owning party is a URI", field=key)
    return parties[0] if parties else None


@dataclass(frozen=True)
class _PartyRef:
    uri: str
    entity_id: uuid.UUID | None
    slug: str | None


def _party_ref(uri: str, field: str) -> _PartyRef:
    if uri.startswith(ENTITY):
        try:
            return _PartyRef(uri, uuid.UUID(uri[len(ENTITY):]), None)
        except ValueError:
            raise InvalidInput(f"{uri} is not {ENTITY}<uuid>", field=field) from None
    if uri.startswith(ORGANIZATION) and len(uri) > len(ORGANIZATION):
        return _PartyRef(uri, None, uri[len(ORGANIZATION):])
    raise InvalidInput(f"owning party {uri!r} is not {ENTITY}<uuid> or {ORGANIZATION}<slug>",
                       field=field)


def _entity_of(db: Session, actor: Actor, ref: _PartyRef, field: str) -> uuid.UUID | None:
    """The entity a party names; an organisation stands for its only entity (None when it
    has several, for the service to ask which)."""
    if ref.entity_id is not None or ref.slug is None:
        return ref.entity_id
    with fields_named({"slug": field}):
        org = organization_service.get_organization(db, actor, ref.slug)
    if len(org.entities) == 1:
        return org.entities[0].id
    raise InvalidInput(f"{org.name} has {len(org.entities)} entities: name one as "
                       f"{ENTITY}<uuid>", field=field)


def _same_party(ref: _PartyRef, party: Party, number: str, role: str, field: str) -> None:
    same = (ref.entity_id == party.entity_id if ref.entity_id is not None
            else ref.slug == party.organization)
    if not same:
        raise Conflict(f"document {number} names {party.entity} ({party.organization}) as "
                       f"{role}, not {ref.uri}", field=field)


def _document_number(event: Mapping[str, Any]) -> str:
    found = _coc_transactions(event)
    if not found:
        raise InvalidInput(f"a CoC shipping or receiving event carries the document as a "
                           f"cert bizTransaction {COC_DOCUMENT}<number>",
                           field="bizTransactionList")
    if len(found) > 1:
        raise InvalidInput("one CoC document per event: the event names "
                           f"{len(found)}", field="bizTransactionList")
    index, transaction = found[0]
    where = f"bizTransactionList[{index}]"
    if cbv(transaction.get("type"), "btt") != "cert":
        raise InvalidInput(f"{where}: the CoC document transaction has type cert",
                           field=where)
    number = str(transaction["bizTransaction"])[len(COC_DOCUMENT):].strip().upper()
    if not re.fullmatch(DOCUMENT_NUMBER, number):
        raise InvalidInput(f"{where}: {number!r} is not a CoC document number (4 to 40 "
                           "capital letters, digits and hyphens)", field=where)
    return number


def event_note(event_id: str) -> str:
    """The note a ledger entry made by the event of this id carries."""
    return f"EPCIS event {event_id}"[:2_000]


def _note(event: Mapping[str, Any]) -> str:
    event_id = event.get("eventID")
    return event_note(event_id) if isinstance(event_id, str) else "EPCIS event"


def document_number(event: Mapping[str, Any]) -> str:
    """The CoC document number a shipping or receiving event carries."""
    return _document_number(event)


# --- the four movements ------------------------------------------------------------------


def _transformation(db: Session, actor: Actor, event: Mapping[str, Any],
                    ext: dict[str, Any]) -> str:
    transformation_id = event.get("transformationID")
    if isinstance(transformation_id, str) and transformation_id.strip():
        # Events sharing a transformationID are one transformation, assembled there.
        from stewardship.interop import transformation_sets

        return transformation_sets.apply(db, actor, event, ext)
    day, today = _when(event)
    found = _facility(db, actor, event, required=True)
    assert found is not None
    return operation_effect(record_transformation(db, actor, event, ext, found, day, today,
                                                  _note(event)))


def record_transformation(db: Session, actor: Actor, event: Mapping[str, Any],
                          ext: dict[str, Any], facility: tuple[str, uuid.UUID | None],
                          day: date, today: date, note: str) -> OperationRead:
    """The custody transformation of an event's (or an assembled set's) quantity lists
    at ``facility`` (public id, entity) on ``day``; the journal entry."""
    public_id, entity_id = facility
    source, input_kg = _one(event, "inputQuantityList")
    target, output_kg = _one(event, "outputQuantityList")
    step = transformation_for(source, target, ext.get("transformation"))
    # The quantity lists are everything that went in and came out; stw:cocQuantity, when
    # given, is the CoC part of the input (all of it otherwise).
    coc_kg = (_extension_kilograms(ext["cocQuantity"], "cocQuantity")
              if ext.get("cocQuantity") is not None else input_kg)
    data = build(TransformationCreate, EPCIS_FIELDS, entity_id=entity_id,
                 facility_id=public_id, transformation=step, source_material=source,
                 total_input_kg=input_kg, total_output_kg=output_kg, coc_input_kg=coc_kg,
                 occurred_on=day, note=note)
    with fields_named(EPCIS_FIELDS):
        return inputs.record_transformation(db, actor, data, today=today)


def _commissioning(db: Session, actor: Actor, event: Mapping[str, Any],
                   ext: dict[str, Any]) -> str:
    if event.get("action") != "ADD":
        raise InvalidInput("commissioning puts CoC material into the chain with action ADD",
                           field="action")
    day, today = _when(event)
    found = _facility(db, actor, event, required=True)
    assert found is not None
    public_id, entity_id = found
    material, kg = _one(event, "quantityList")
    scrap_kind = ext.get("scrapKind")
    with fields_named(EPCIS_FIELDS):
        if material is CocMaterial.ELIGIBLE_SCRAP:
            if scrap_kind is None:
                raise InvalidInput("eligible scrap is taken in with stw:scrapKind "
                                   "pre_consumer or post_consumer", field="stw:scrapKind")
            intake = build(ScrapIntakeCreate, EPCIS_FIELDS, entity_id=entity_id,
                           facility_id=public_id, scrap_kind=scrap_kind, kilograms=kg,
                           occurred_on=day, note=_note(event))
            return operation_effect(inputs.record_scrap_intake(db, actor, intake,
                                                               today=today))
        if scrap_kind is not None:
            raise InvalidInput("stw:scrapKind is for eligible scrap only",
                               field="stw:scrapKind")
        production = build(ProductionCreate, EPCIS_FIELDS, entity_id=entity_id,
                            facility_id=public_id, material=material, kilograms=kg,
                            occurred_on=day, note=_note(event))
        return operation_effect(inputs.record_production(db, actor, production,
                                                         today=today))


def _recycled(ext: dict[str, Any]) -> tuple[Decimal | None, str | None]:
    value = ext.get("recycledContent")
    if value is None:
        return None, None
    field = f"{PREFIX}:recycledContent"
    percent = value.get("percent") if isinstance(value, dict) else None
    if isinstance(percent, bool) or not isinstance(percent, (int, float, Decimal)):
        raise InvalidInput(f'{field} is {{"percent": <number>, "method": <text>}}',
                           field=field)
    amount = Decimal(repr(percent)) if isinstance(percent, float) else Decimal(percent)
    method = value.get("method")
    return amount, str(method) if method is not None else None


def _shipping_data(db: Session, actor: Actor, event: Mapping[str, Any],
                   ext: dict[str, Any]) -> tuple[DocumentCreate, date]:
    """The document a shipping event issues, and the day it is where the event was."""
    day, today = _when(event)
    number = _document_number(event)
    _facility(db, actor, event, required=False)
    material, quantity_kg = _one(event, "quantityList")
    if ext.get("cocQuantity") is None:
        raise InvalidInput("a CoC shipping event carries stw:cocQuantity, the kilograms "
                           "designated CoC material", field="stw:cocQuantity")
    coc_kg = _extension_kilograms(ext["cocQuantity"], "cocQuantity")
    destination = _owning_party(event, "destinationList")
    if destination is None:
        raise InvalidInput(f"a CoC shipping event names the recipient in destinationList, "
                           f"type owning_party, as {ENTITY}<uuid> or {ORGANIZATION}<slug>",
                           field="destinationList")
    recipient = _entity_of(db, actor, _party_ref(destination, "destinationList"),
                           "destinationList")
    source = _owning_party(event, "sourceList")
    issuer = None
    if source is not None:
        ref = _party_ref(source, "sourceList")
        if ref.slug is not None and ref.slug != actor.organization_slug:
            raise InvalidInput(f"the source {source} is not your organisation; you ship "
                               "only your own CoC material", field="sourceList")
        issuer = ref.entity_id
    percent, method = _recycled(ext)
    data = build(DocumentCreate, EPCIS_FIELDS, issuer_entity_id=issuer,
                 recipient_entity_id=recipient, material=material, quantity_kg=quantity_kg,
                 coc_quantity_kg=coc_kg, shipment_date=day, number=number,
                 recycled_percent=percent, recycled_method=method)
    return data, today


def _shipping(db: Session, actor: Actor, event: Mapping[str, Any],
              ext: dict[str, Any]) -> str:
    data, today = _shipping_data(db, actor, event, ext)
    with fields_named(EPCIS_FIELDS):
        return document_effect(documents.issue_document(db, actor, data, today=today),
                               "issued")


def _receipt(db: Session, actor: Actor, event: Mapping[str, Any], ext: dict[str, Any]
             ) -> receipts.ReceiptItem:
    """What a receiving event asks of the custody ledger: the document, the day it was
    received, the day it is there, and the event's own checks of the document."""
    day, today = _when(event)
    number = _document_number(event)
    _facility(db, actor, event, required=False)

    def check(doc: receipts.Shipped | DocumentRead) -> None:
        for key, party, role in (("destinationList", doc.recipient, "recipient"),
                                 ("sourceList", doc.issuer, "issuer")):
            uri = _owning_party(event, key)
            if uri is not None:
                _same_party(_party_ref(uri, key), party, doc.number, role, key)
        totals = _quantities(event, "quantityList")
        if totals:
            material, kg = _one(event, "quantityList")
            if (material, kg) != (doc.material, doc.quantity_kg):
                raise Conflict(f"document {doc.number} ships {doc.quantity_kg} kg "
                               f"{doc.material.value}, the event receives {kg} kg "
                               f"{material.value}; a document is received whole or rejected",
                               field="quantityList")
        if ext.get("cocQuantity") is not None:
            coc_kg = _extension_kilograms(ext["cocQuantity"], "cocQuantity")
            if coc_kg != doc.coc_quantity_kg:
                raise Conflict(f"document {doc.number} carries {doc.coc_quantity_kg} kg CoC, "
                               f"the event {coc_kg} kg; a document is received whole or "
                               "rejected", field="stw:cocQuantity")

    return receipts.ReceiptItem(number, day, today, check)


def _receiving(db: Session, actor: Actor, event: Mapping[str, Any],
               ext: dict[str, Any]) -> str:
    asked = _receipt(db, actor, event, ext)
    with fields_named(EPCIS_FIELDS):
        doc = documents.get_document(db, actor, asked.number)
    assert asked.check is not None
    asked.check(doc)
    with fields_named(EPCIS_FIELDS):
        received = documents.receive_document(db, actor, asked.number,
                                              Receipt(received_on=asked.received_on),
                                              today=asked.today)
    return document_effect(received, "received")


_Handler = Callable[[Session, Actor, Mapping[str, Any], dict[str, Any]], str]
_HANDLERS: dict[str, _Handler] = {
    "transformation": _transformation, "commissioning": _commissioning,
    "shipping": _shipping, "receiving": _receiving,
}


def _checked(event: dict[str, Any]) -> dict[str, Any]:
    """The event's extensions, once it is a movement with known extensions only."""
    if "errorDeclaration" in event:
        # The capture hands declarations to interop.epcis.corrections, which undoes the
        # declared event's movement; this translator only reads movements.
        raise InvalidInput("an error declaration is not a movement of its own: capture it "
                           "through the EPCIS repository, which undoes the declared event's "
                           "ledger movement", field="errorDeclaration")
    ext = extensions(event)
    unknown = sorted(set(ext) - set(EXTENSIONS))
    if unknown:
        known = ", ".join(f"{PREFIX}:{name}" for name in EXTENSIONS)
        raise InvalidInput(f"unknown extension {PREFIX}:{unknown[0]} (known: {known})",
                           field=f"{PREFIX}:{unknown[0]}")
    return ext


def apply_shipments(db: Session, actor: Actor,
                    events: list[dict[str, Any]]) -> list[str] | None:
    """Issue the CoC documents of several shipping events (``profile_kind`` "shipping")
    in one call of the batch use case: what ``apply_event`` does for each in turn, all or
    nothing, one line per event. Raises the first refusal (a ``DomainError``, its field
    the batch's ``items.<i>.<field>``); the caller then applies the events one by one
    for their own reports. None, doing nothing, when the events were sent from places
    whose days differ (each is checked against its own day)."""
    actor = require(actor, Role.MEMBER_ADMIN, Role.MEMBER_USER,
                    action="move the custody ledger with EPCIS events")
    items, days = [], set()
    for event in events:
        data, today = _shipping_data(db, actor, event, _checked(event))
        items.append(data)
        days.add(today)
    if len(days) != 1:
        return None
    with fields_named(EPCIS_FIELDS):
        reads = batch.issue_documents(db, actor, items, today=days.pop())
    return [document_effect(read, "issued") for read in reads]


def apply_receipts(db: Session, actor: Actor,
                   events: list[dict[str, Any]]) -> list[str | DomainError]:
    """Receive the CoC documents of several receiving events (``profile_kind``
    "receiving") in one call of the batch use case: for each event in turn what
    ``apply_event`` does (the same checks, refusals and fields), one line or the
    event's refusal each; a refused event drops out, the others are received."""
    actor = require(actor, Role.MEMBER_ADMIN, Role.MEMBER_USER,
                    action="move the custody ledger with EPCIS events")
    asked: list[receipts.ReceiptItem | DomainError] = []
    for event in events:
        try:
            asked.append(_receipt(db, actor, event, _checked(event)))
        except DomainError as error:
            asked.append(error)
    items = [a for a in asked if isinstance(a, receipts.ReceiptItem)]
    done = iter(receipts.receive_documents(db, actor, items))
    out: list[str | DomainError] = []
    for a in asked:
        if isinstance(a, DomainError):
            out.append(a)
            continue
        outcome = next(done)
        out.append(renamed(outcome, EPCIS_FIELDS) if isinstance(outcome, DomainError)
                   else document_effect(outcome, "received"))
    return out


def apply_event(db: Session, actor: Actor, event: dict[str, Any]) -> str | None:
    """Move the ledger for one captured EPCIS event, when it follows the CoC profile.

    Returns None when the event is not a ledger event, a short description when it moved
    the ledger; raises a ``DomainError`` subclass when it follows the profile but breaks a
    rule, the message naming the reason and ``details[0].field`` the part of the event.
    """
    kind = profile_kind(event)
    if kind is None:
        return None
    actor = require(actor, Role.MEMBER_ADMIN, Role.MEMBER_USER,
                    action="move the custody ledger with EPCIS events")
    return _HANDLERS[kind](db, actor, event, _checked(event))
