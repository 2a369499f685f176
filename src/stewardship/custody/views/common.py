"""What the custody pages share: rendering, building the API's input models from form
values with messages that name the custody fields, turning a service's refusal into field
errors, the entity a member's page is about and the choices the forms offer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import Form, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from stewardship.core import clock, labels
from stewardship.core.auth import Actor
from stewardship.core.errors import DomainError, NotFound
from stewardship.core.forms import field_message, form_input
from stewardship.core.pagination import PageParams
from stewardship.core.templating import sentence
from stewardship.core.web import public_base_url, settings_of
from stewardship.custody import rules
from stewardship.custody.rules import CocMaterial, ScrapKind, Transformation
from stewardship.custody.schemas import Party
from stewardship.custody.service import reads
from stewardship.registry.service import facilities as registry_facilities

Short = Annotated[str, Form(max_length=200)]
LongText = Annotated[str, Form(max_length=2_000)]
QueryText = Annotated[str, Query(max_length=100)]

MATERIALS = [(m.value, m.label) for m in CocMaterial]
MATERIAL_LABELS = dict(MATERIALS)
SCRAP_KINDS = [(ScrapKind.PRE_CONSUMER.value, "Pre-consumer"),
               (ScrapKind.POST_CONSUMER.value, "Post-consumer")]
TRANSFORMATIONS = [(t.value, labels.label(t)) for t in Transformation]
STATUSES = [("issued", "Issued, waiting for the recipient"), ("received", "Received"),
            ("rejected", "Rejected"), ("cancelled", "Cancelled")]
DIRECTIONS = [("incoming", "Incoming (to us)"), ("outgoing", "Outgoing (from us)")]

# How messages name the custody fields, so each line of an errors summary reads alone.
FIELD_NAMES = {
    "recipient_entity_id": "the recipient", "issuer_entity_id": "your entity",
    "entity_id": "the entity", "material": "the material",
    "quantity_kg": "the quantity shipped", "coc_quantity_kg": "the CoC quantity",
    "shipment_date": "the shipment date", "period_start": "the period start",
    "number": "the document number", "recycled_percent": "the recycled content",
    "recycled_method": "the recycled-content method", "facility_id": "the facility",
    "kilograms": "the kilograms", "occurred_on": "the date", "scrap_kind": "the kind of scrap",
    "transformation": "the transformation", "source_material": "the input material",
    "input_kg": "the input", "declared_yield": "the declared yield", "reason": "the reason",
    "total_input_kg": "the total input", "total_output_kg": "the total output",
    "coc_input_kg": "the CoC input",
    "received_on": "the date of receipt", "period_months": "the period length",
    "carry_over_cap": "the carry-over cap", "carry_over_expiry": "the carry-over expiry",
}


def render(request: Request, name: str, context: dict[str, Any],
           status_code: int = 200) -> Response:
    response: Response = request.app.state.templates.render(request, name, context, status_code)
    return response


def all_rows(request: Request) -> PageParams:
    """One page as long as the platform allows: choices offered in a form."""
    return PageParams(page=1, per_page=settings_of(request).page_size_max)


def _message(err: dict[str, Any], field: str) -> str:
    kind = str(err.get("type", ""))
    named = FIELD_NAMES.get(field, field.replace("_", " "))
    if kind == "missing":
        return f"{named} is required"
    if kind == "decimal_parsing":
        return "Enter a number such as 0.97"
    if kind in ("greater_than", "less_than_equal", "greater_than_equal", "decimal_max_places",
                "decimal_max_digits", "string_too_long", "string_pattern_mismatch"):
        if field == "number" and kind == "string_pattern_mismatch":
            return ("Use 4 to 40 capital letters, digits and hyphens, starting with a letter "
                    "or digit")
        text = str(err.get("msg", "is not valid"))
        return f"{named}: {text[0].lower()}{text[1:]}"
    return field_message(err, field).removeprefix(f"{field}: ")


def validate(model: type[BaseModel], values: dict[str, Any], *,
             whole_form_field: str = "form") -> Any:
    """The form's input model; see core.forms.form_input."""
    return form_input(model, values, message=_message, whole_form_field=whole_form_field)


def errors_of(exc: DomainError, *, shown: tuple[str, ...] = (),
              rename: dict[str, str] | None = None, fallback: str = "form") -> dict[str, str]:
    """Field errors keyed by the form's field names. A message without a field, or naming
    a field the form does not show, goes to ``fallback`` so that it is never lost."""
    out: dict[str, str] = {}
    for name, message in exc.field_errors().items():
        name = (rename or {}).get(name, name)
        if shown and name not in shown:
            name = fallback
        out.setdefault(name, sentence(message))
    if not out:
        out[fallback] = sentence(exc.message)
    return out


def reraise_access(exc: DomainError) -> None:
    """Sign-in, permission and not-found refusals are pages of their own, not form
    errors."""
    if exc.status_code in (401, 403, 404):
        raise exc


def absolute(request: Request, path: str) -> str:
    return public_base_url(request) + path


def whole_number(raw: str, default: int) -> int | None:
    """A query's whole number, the default when blank, None when not a number."""
    raw = raw.strip()
    if not raw:
        return default
    return int(raw) if raw.isdecimal() and len(raw) <= 6 else None


# --- the entity a member's page is about ------------------------------------------------


@dataclass(frozen=True)
class EntityChoice:
    entities: list[Party]
    selected: Party | None

    @property
    def id(self) -> uuid.UUID | None:
        return self.selected.entity_id if self.selected else None

    @property
    def value(self) -> str:
        return str(self.selected.entity_id) if self.selected else ""

    @property
    def options(self) -> list[tuple[str, str]]:
        return entity_options(self.entities)

    @property
    def query(self) -> str:
        """``?entity=…`` when the organisation has several entities, else nothing."""
        return f"?entity={self.selected.entity_id}" if self.selected and len(
            self.entities) > 1 else ""


def choose_entity(db: Session, actor: Actor | None, raw: str) -> EntityChoice:
    """The member's entity named in the query, or its first; a name that is not one of
    the organisation's entities is a 404."""
    entities = reads.own_entities(db, actor)
    return EntityChoice(entities, pick(entities, raw))


def pick(entities: list[Party], raw: str) -> Party | None:
    raw = raw.strip()
    if not raw:
        return entities[0] if entities else None
    try:
        wanted = uuid.UUID(raw)
    except ValueError:
        raise NotFound("no such entity", field="entity") from None
    for e in entities:
        if e.entity_id == wanted:
            return e
    raise NotFound("no such entity", field="entity")


def entity_options(entities: list[Party]) -> list[tuple[str, str]]:
    return [(str(e.entity_id), e.entity) for e in entities]


def recipient_options(entities: list[Party], issuer: uuid.UUID | None) -> list[tuple[str, str]]:
    return [(str(e.entity_id), f"{e.entity} ({e.organization_name})") for e in entities
            if e.entity_id != issuer]


def facility_options(request: Request, db: Session, actor: Actor,
                     entity_id: uuid.UUID | None) -> list[tuple[str, str]]:
    """The active facilities of the organisation that the entity may use."""
    sites = registry_facilities.list_facilities(db, actor, all_rows(request),
                                                organization=actor.organization_slug)
    return [(f.id, f"{f.name} ({f.id}, {f.country}: "
                   f"{', '.join(a.label for a in f.activities)})")
            for f in sites.items if f.status == "active"
            and (f.entity is None or f.entity.id == entity_id)]


def yield_rows() -> list[dict[str, str]]:
    """Each transformation's input, output, typical yield and physical maximum."""
    return [{"value": t.value, "name": t.value.capitalize(),
             "inputs": ", ".join(sorted(m.label for m in t.inputs)),
             "output": t.output.label, "typical": rules.typical_yield(t).label,
             "maximum": f"{rules.yield_limit(t)} kg/kg"} for t in Transformation]


def today() -> date:
    return clock.today()


def today_of(db: Session, actor: Actor, choice: EntityChoice) -> date:
    """The day it is where the chosen entity works (at its main facility): the date a
    form offers for what happened today, one the custody service takes as it stands."""
    if choice.selected is None or actor.organization_id is None:
        return today()
    return registry_facilities.today_where(db, actor.organization_id,
                                           choice.selected.entity_id)
