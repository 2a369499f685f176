"""Pages of the registry: the public register, organisations and facilities (the audit
firms' pages are in `registry.firm_views`, invitations and users in `registry.user_views`);
the member admin's facilities; the secretariat's admission and merge pages.

Views read the form, build the same input models the API uses, call the registry
services and render. Every rule and permission is the service's; a failed post rolls
back and shows the form again with what was typed and what to fix.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from pydantic import BaseModel
from sqlalchemy.orm import Session

from stewardship.assurance.service import register as certification
from stewardship.core import timezones
from stewardship.core.auth import MEMBER_ROLES, Actor, Role, require
from stewardship.core.errors import DomainError, InvalidInput, NotFound
from stewardship.core.forms import form_input
from stewardship.core.pagination import Page, PageParams
from stewardship.core.templating import sentence
from stewardship.core.web import (
    CsrfChecked,
    DbSession,
    OptionalActor,
    Pagination,
    public_base_url,
    redirect,
    revealed,
    settings_of,
)
from stewardship.registry import map as facility_map
from stewardship.registry.rules import (
    Activity,
    MembershipClass,
    OrganizationStatus,
    Standard,
    all_countries,
    may_transition,
)
from stewardship.registry.schemas import (
    AdmitRequest,
    CapacityUpdate,
    DuplicateCheck,
    EntityCreate,
    FacilityCreate,
    FacilityUpdate,
    OrganizationCreate,
    OrganizationUpdate,
    StatusChange,
)
from stewardship.registry.service import facilities, organizations

router = APIRouter(include_in_schema=False)

# --- vocabularies shown in forms ----------------------------------------------------------

COUNTRIES = all_countries()
COUNTRY_NAMES = dict(COUNTRIES)
ACTIVITIES = [(a.value, a.label) for a in Activity]
ZONES = timezones.all_zones()
CLASSES = [(m.value, m.label) for m in MembershipClass]
STANDARDS = [(Standard.PERFORMANCE.value, "Performance Standard"),
             (Standard.CHAIN_OF_CUSTODY.value, "Chain of Custody Standard")]
ORG_STATUSES = [(s.value, s.value.capitalize()) for s in OrganizationStatus]
MEMBER_ROLE_CHOICES = [("member_user", "Member user"), ("member_admin", "Member admin")]
STATUS_ACTIONS: dict[str, tuple[OrganizationStatus, str, str]] = {
    # action: (target status, button label, what the flash says happened)
    "suspend": (OrganizationStatus.SUSPENDED, "Suspend the membership", "is suspended"),
    "reinstate": (OrganizationStatus.MEMBER, "Reinstate the membership", "is reinstated"),
    "terminate": (OrganizationStatus.TERMINATED, "Terminate", "is terminated"),
}

Short = Annotated[str, Form(max_length=200)]
Medium = Annotated[str, Form(max_length=400)]
Long = Annotated[str, Form(max_length=2000)]
Many = Annotated[list[str] | None, Form(max_length=20)]
QueryText = Annotated[str, Query(max_length=100)]


# --- helpers ------------------------------------------------------------------------------


def _render(request: Request, name: str, context: dict[str, Any],
            status_code: int = 200) -> Response:
    response: Response = request.app.state.templates.render(request, name, context, status_code)
    return response


def _validate(model: type[BaseModel], values: dict[str, Any], *,
              whole_form_field: str = "") -> Any:
    """The form's input model; see core.forms.form_input."""
    return form_input(model, values, whole_form_field=whole_form_field)


def _errors(exc: DomainError, *, prefix: str = "", fallback: str = "form",
            rename: dict[str, str] | None = None) -> dict[str, str]:
    """Field errors keyed by the form's field names; a message without a field goes to
    ``fallback`` so that it is never lost."""
    out: dict[str, str] = {}
    for name, message in exc.field_errors().items():
        name = (rename or {}).get(name, name)
        out.setdefault(prefix + name, sentence(message))
    if not out:
        out[prefix + fallback] = sentence(exc.message)
    return out


def _reraise_access(exc: DomainError) -> None:
    """Sign-in and permission refusals are pages of their own, not form errors."""
    if exc.status_code in (401, 403):
        raise exc


def _first_page(request: Request) -> PageParams:
    return PageParams(page=1, per_page=settings_of(request).page_size_default)


def _empty(paging: PageParams) -> Page[Any]:
    return Page([], 0, paging.page, paging.per_page)


def _check_choice(field: str, value: str, allowed: list[tuple[str, str]], what: str) -> None:
    if value and value not in {v for v, _ in allowed}:
        raise InvalidInput(f"'{value}' is not a {what} of the scheme", field=field)


def _manages(actor: Actor | None, slug: str) -> bool:
    """Whether to offer the organisation's management forms (the services decide)."""
    return actor is not None and (
        actor.is_secretariat()
        or (actor.role is Role.MEMBER_ADMIN and actor.organization_slug == slug))


def _sees_carbon(actor: Actor | None, slug: str) -> bool:
    """Whether to link the organisation's emission inventories: its own users' and the
    secretariat's (the carbon pages decide)."""
    return actor is not None and (
        actor.is_secretariat()
        or (actor.role in MEMBER_ROLES and actor.organization_slug == slug))


# --- the public register ------------------------------------------------------------------


@router.get("/register")
def register(request: Request, db: DbSession, actor: OptionalActor, paging: Pagination,
             membership_class: Annotated[str, Query(max_length=40)] = "",
             country: Annotated[str, Query(max_length=60)] = "",
             activity: Annotated[str, Query(max_length=40)] = "",
             certification_filter: Annotated[str, Query(alias="certification",
                                                        max_length=40)] = "",
             q: QueryText = "") -> Response:
    filters = {"membership_class": membership_class, "country": country.strip().upper(),
               "activity": activity, "certification": certification_filter, "q": q.strip()}
    problem, status = "", 200
    try:
        _check_choice("membership_class", membership_class, CLASSES, "membership class")
        _check_choice("activity", activity, ACTIVITIES, "supply-chain activity")
        # Who holds a current certificate is assurance's to say: a sub-query of its
        # service that the register's own paginated query filters by.
        holders = certification.certification_filter(certification_filter)
        page = organizations.list_organizations(
            db, actor, paging, membership_class=membership_class or None,
            country=filters["country"] or None, activity=activity or None,
            q=filters["q"] or None,
            holders=holders.organization_ids if holders else None,
            holding=holders.holding if holders else True)
    except DomainError as exc:
        _reraise_access(exc)
        page, problem, status = _empty(paging), sentence(exc.message), exc.status_code
    return _render(request, "registry/register.html", {
        "page": page, "filters": filters, "problem": problem,
        "countries": COUNTRIES, "activities": ACTIVITIES, "classes": CLASSES,
        "certifications": list(certification.CERTIFICATION_CHOICES),
        "certified": certification.certification_by_organization(
            db, [o.slug for o in page.items]),
        "filtered": any(filters.values()),
    }, status)


def _organization_page(request: Request, db: Session, actor: Actor | None, slug: str,
                       paging: PageParams | None = None, *, errors: dict[str, str] | None = None,
                       values: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    org = organizations.get_organization(db, actor, slug)
    sites = facilities.list_facilities(db, actor, paging or _first_page(request),
                                       organization=slug)
    actions: list[tuple[str, str]] = []
    if actor is not None and actor.is_secretariat():
        current = OrganizationStatus(org.status)
        for action, (target, button, _done) in STATUS_ACTIONS.items():
            if current is OrganizationStatus.APPLICANT and target is OrganizationStatus.MEMBER:
                continue  # an applicant is admitted, not reinstated
            if may_transition(current, target):
                label = ("Refuse the application" if current is OrganizationStatus.APPLICANT
                         and action == "terminate" else button)
                actions.append((action, label))
    return _render(request, "registry/organization.html", {
        "org": org, "sites": sites, "manage": _manages(actor, org.slug),
        "carbon": _sees_carbon(actor, org.slug),
        "certificates": certification.live_certificates(db, organization=org.slug),
        "status_actions": actions, "errors": errors or {}, "values": values or {},
    }, status_code)


@router.get("/organizations/{slug}")
def organization_page(request: Request, db: DbSession, actor: OptionalActor, paging: Pagination,
                      slug: Annotated[str, Path(max_length=80)]) -> Response:
    return _organization_page(request, db, actor, slug, paging)


@router.post("/organizations/{slug}/entities", dependencies=[CsrfChecked])
def add_entity(request: Request, db: DbSession, actor: OptionalActor,
               slug: Annotated[str, Path(max_length=80)], entity_name: Short = "") -> Response:
    actor = require(actor, Role.SECRETARIAT, Role.MEMBER_ADMIN, action="add entities")
    try:
        entity = organizations.add_entity(db, actor, slug,
                                          _validate(EntityCreate, {"name": entity_name}))
    except DomainError as exc:
        _reraise_access(exc)
        db.rollback()
        return _organization_page(request, db, actor, slug,
                                  errors=_errors(exc, prefix="entity_", fallback="name"),
                                  values={"entity_name": entity_name},
                                  status_code=exc.status_code)
    return redirect(request, f"/organizations/{slug}",
                    f"Entity “{entity.name}” is added; facilities can now be assigned to it.")


@router.post("/organizations/{slug}/name", dependencies=[CsrfChecked])
def rename(request: Request, db: DbSession, actor: OptionalActor,
           slug: Annotated[str, Path(max_length=80)], new_name: Short = "") -> Response:
    """Rename the organisation; for a certified member this asks the secretariat."""
    actor = require(actor, Role.SECRETARIAT, Role.MEMBER_ADMIN, action="rename organisations")
    try:
        if not new_name.strip():
            raise InvalidInput("enter the new name", field="new_name")
        org = organizations.update_organization(
            db, actor, slug, _validate(OrganizationUpdate, {"name": new_name}))
    except DomainError as exc:
        _reraise_access(exc)
        db.rollback()
        return _organization_page(request, db, actor, slug,
                                  errors=_errors(exc, fallback="new_name",
                                                 rename={"name": "new_name",
                                                         "organization": "new_name"}),
                                  values={"new_name": new_name}, status_code=exc.status_code)
    if org.pending_name == new_name:
        return redirect(request, f"/organizations/{slug}",
                        f"The rename to “{new_name}” is sent to the secretariat: a member "
                        "holding a certificate is renamed once they approve.")
    return redirect(request, f"/organizations/{slug}", f"The organisation is now “{org.name}”.")


@router.post("/organizations/{slug}/name-change", dependencies=[CsrfChecked])
def decide_name_change(request: Request, db: DbSession, actor: OptionalActor,
                       slug: Annotated[str, Path(max_length=80)],
                       decision: Annotated[str, Form(max_length=10)] = "",
                       reason: Annotated[str, Form(max_length=1000)] = "") -> Response:
    """The secretariat approves or refuses a certified member's pending rename."""
    actor = require(actor, Role.SECRETARIAT, action="review name changes")
    try:
        if decision not in ("approve", "refuse"):
            raise InvalidInput("choose approve or refuse", field="decision")
        change = organizations.decide_name_change(db, actor, slug,
                                                  approve=decision == "approve", reason=reason)
    except DomainError as exc:
        _reraise_access(exc)
        db.rollback()
        return _organization_page(request, db, actor, slug,
                                  errors=_errors(exc, fallback="reason",
                                                 rename={"name": "reason", "slug": "decision"}),
                                  values={"decision": decision, "reason": reason},
                                  status_code=exc.status_code)
    done = (f"renamed to “{change.new_name}”" if change.status == "approved"
            else f"keeps its name; the rename to “{change.new_name}” is refused")
    return redirect(request, f"/organizations/{slug}", f"{change.old_name} {done}.")


@router.post("/organizations/{slug}/admit", dependencies=[CsrfChecked])
def admit(request: Request, db: DbSession, actor: OptionalActor,
          slug: Annotated[str, Path(max_length=80)],
          joined_on: Annotated[str, Form(max_length=20)] = "") -> Response:
    actor = require(actor, Role.SECRETARIAT, action="admit members")
    try:
        data = _validate(AdmitRequest, {"joined_on": joined_on})
        org = organizations.admit(db, actor, slug, data.joined_on)
    except DomainError as exc:
        _reraise_access(exc)
        db.rollback()
        return _organization_page(request, db, actor, slug,
                                  errors=_errors(exc, fallback="joined_on",
                                                 rename={"status": "joined_on"}),
                                  values={"joined_on": joined_on}, status_code=exc.status_code)
    return redirect(request, f"/organizations/{slug}",
                    f"{org.name} is admitted as a member from {org.joined_on:%d %b %Y}.")


@router.post("/organizations/{slug}/status", dependencies=[CsrfChecked])
def change_status(request: Request, db: DbSession, actor: OptionalActor,
                  slug: Annotated[str, Path(max_length=80)],
                  action: Annotated[str, Form(max_length=20)] = "",
                  reason: Annotated[str, Form(max_length=1000)] = "") -> Response:
    actor = require(actor, Role.SECRETARIAT, action="change membership status")
    try:
        if action not in STATUS_ACTIONS:
            raise InvalidInput("choose what to do with the membership", field="action")
        data = _validate(StatusChange, {"reason": reason})
        target, _label, done = STATUS_ACTIONS[action]
        org = organizations.change_status(db, actor, slug, target, data.reason)
    except DomainError as exc:
        _reraise_access(exc)
        db.rollback()
        return _organization_page(request, db, actor, slug,
                                  errors=_errors(exc, fallback="reason",
                                                 rename={"status": "action"}),
                                  values={"action": action, "reason": reason},
                                  status_code=exc.status_code)
    return redirect(request, f"/organizations/{slug}", f"{org.name} {done}.")


# --- facilities ---------------------------------------------------------------------------


@router.get("/facilities")
def facility_list(request: Request, db: DbSession, actor: OptionalActor, paging: Pagination,
                  country: Annotated[str, Query(max_length=60)] = "",
                  activity: Annotated[str, Query(max_length=40)] = "", q: QueryText = "",
                  go_to: Annotated[str, Query(alias="id", max_length=40)] = "") -> Response:
    if go_to.strip():
        # "Go to a facility id": its page checks the id and explains what is wrong with it.
        return RedirectResponse(f"/facilities/{quote(go_to.strip(), safe='')}", status_code=303)
    filters = {"country": country.strip().upper(), "activity": activity, "q": q.strip()}
    problem, status = "", 200
    try:
        _check_choice("activity", activity, ACTIVITIES, "supply-chain activity")
        page = facilities.list_facilities(db, actor, paging, country=filters["country"] or None,
                                          activity=activity or None, q=filters["q"] or None)
    except DomainError as exc:
        _reraise_access(exc)
        page, problem, status = _empty(paging), sentence(exc.message), exc.status_code
    return _render(request, "registry/facilities.html", {
        "page": page, "filters": filters, "problem": problem, "countries": COUNTRIES,
        "activities": ACTIVITIES, "filtered": any(filters.values()),
        **_list_map(page.items),
    }, status)


def _list_map(items: list[Any]) -> dict[str, Any]:
    """The register's map: a marker per facility of the page shown (the table beside it is
    the text alternative, so both show the same facilities)."""
    markers = facility_map.facility_markers(items)
    if not markers:
        return {"facility_map": None}
    svg = facility_map.world_map(
        markers, title=f"Map of {len(markers)} facilities listed on this page",
        desc="Each dot links to a facility's page; the table lists the same facilities.")
    return {"facility_map": Markup(svg), "mapped": len(markers)}


def _facility_page_map(db: Session, actor: Actor | None, facility: Any) -> dict[str, Any]:
    """The facility's region, it highlighted among the country's other facilities."""
    if facility.latitude is None or facility.longitude is None:
        return {"facility_map": None}
    neighbours = facilities.list_facilities(db, actor, PageParams(1, 100),
                                            country=facility.country).items
    markers = facility_map.facility_markers(
        [facility, *(f for f in neighbours if f.id != facility.id)], current=facility.id)
    svg = facility_map.region_map(
        markers, float(facility.longitude), float(facility.latitude),
        title=f"Map of the region of {facility.name}",
        desc=f"{facility.name} is the large red dot; the other dots are facilities in "
             f"{facility.country_name}, each a link to its page.")
    return {"facility_map": Markup(svg)}


@router.get("/facilities/{facility_id}")
def facility_page(request: Request, db: DbSession, actor: OptionalActor,
                  facility_id: Annotated[str, Path(max_length=40)],
                  merged: Annotated[str, Query(max_length=40)] = "") -> Response:
    facility = facilities.get_facility(db, actor, facility_id)
    if facility.requested_id is not None:
        # A retired id: its page has moved for good to the survivor's.
        return RedirectResponse(f"/facilities/{facility.id}?merged={facility.requested_id}",
                                status_code=301)
    if facility_id != facility.id:
        # Lower case, spaces or hyphens: the canonical spelling has the page.
        return RedirectResponse(f"/facilities/{facility.id}", status_code=301)
    merged_from = ""
    if merged:
        try:
            if facilities.get_facility(db, actor, merged).id == facility.id:
                merged_from = merged.upper()
        except DomainError:
            merged_from = ""  # a hand-made link; say nothing rather than something untrue
    return _facility_page(request, db, actor, facility, merged_from=merged_from)


def _facility_page(request: Request, db: Session, actor: Actor | None, facility: Any, *,
                   merged_from: str = "", errors: dict[str, str] | None = None,
                   time_zone: str | None = None,
                   capacity_errors: dict[str, str] | None = None,
                   values: dict[str, str] | None = None, status_code: int = 200) -> Response:
    # A zone set through the API may be one no place's list has (Etc/GMT-14): offer it too.
    zones = ZONES if facility.time_zone in ZONES else sorted([*ZONES, facility.time_zone])
    return _render(request, "registry/facility.html", {
        "facility": facility, "merged_from": merged_from,
        "certificates": certification.live_certificates(db, facility=facility.id),
        "manage": _manages(actor, facility.organization.slug), "zones": zones,
        "errors": errors or {}, "time_zone": facility.time_zone if time_zone is None
        else time_zone,
        "capacity_errors": capacity_errors or {}, "capacity_values": values or {},
        **_facility_page_map(db, actor, facility),
    }, status_code)


@router.post("/members/facilities/{facility_id}/time-zone", dependencies=[CsrfChecked])
def change_time_zone(request: Request, db: DbSession, actor: OptionalActor,
                     facility_id: Annotated[str, Path(max_length=40)],
                     time_zone: Annotated[str, Form(max_length=64)] = "") -> Response:
    """Set the zone the site keeps: the day its dates without a time are judged in."""
    actor = require(actor, Role.SECRETARIAT, Role.MEMBER_ADMIN,
                    action="change a facility's time zone")
    try:
        changed = facilities.change_time_zone(
            db, actor, facility_id, _validate(FacilityUpdate, {"time_zone": time_zone}))
    except DomainError as exc:
        _reraise_access(exc)
        db.rollback()
        facility = facilities.get_facility(db, actor, facility_id)
        return _facility_page(request, db, actor, facility,
                              errors=_errors(exc, fallback="time_zone"), time_zone=time_zone,
                              status_code=exc.status_code)
    return redirect(request, f"/facilities/{changed.id}",
                    f"The time zone of {changed.name} is {changed.time_zone}: its dates "
                    "without a time are judged by the day there.")


@router.post("/facilities/{facility_id}/capacities", dependencies=[CsrfChecked])
def set_capacities(request: Request, db: DbSession, actor: OptionalActor,
                   facility_id: Annotated[str, Path(max_length=40)],
                   activity: Annotated[list[str], Form(max_length=11)],
                   annual_capacity_kg: Annotated[list[str], Form(max_length=11)]) -> Response:
    """The facility page's capacity form: one annual figure in kg per activity; an empty
    one clears it."""
    actor = require(actor, Role.SECRETARIAT, Role.MEMBER_ADMIN,
                    action="set facility capacities")
    values = {a[:40]: v.strip()[:24] for a, v in zip(activity, annual_capacity_kg,
                                                      strict=False)}
    try:
        capacities: dict[str, int | None] = {}
        for name, raw in values.items():
            digits = raw.replace(",", "").replace(" ", "").replace("\u202f", "")
            if digits and not digits.isdigit():
                raise InvalidInput(f"the capacity of {name} is whole kilograms a year, "
                                   f"not {raw!r}", field=f"capacities.{name}")
            capacities[name] = int(digits) if digits else None
        done = facilities.set_capacities(db, actor, facility_id,
                                         _validate(CapacityUpdate, {"capacities": capacities}))
    except DomainError as exc:
        _reraise_access(exc)
        db.rollback()
        facility = facilities.get_facility(db, actor, facility_id)
        errors = {name.replace("capacities.", "capacity_"): message
                  for name, message in _errors(exc, fallback="form").items()}
        return _facility_page(request, db, actor, facility, capacity_errors=errors, values=values,
                              status_code=exc.status_code)
    return redirect(request, f"/facilities/{done.id}",
                    f"The capacities of {done.name} are saved.")


def _facility_form(request: Request, db: Session, actor: Actor, values: dict[str, Any], *,
                   errors: dict[str, str] | None = None, duplicates: list[Any] | None = None,
                   confirmation: str = "", status_code: int = 200) -> Response:
    errors = dict(errors or {})
    slug = values.get("organization") if actor.is_secretariat() else actor.organization_slug
    organization = None
    if slug:
        try:
            organization = organizations.get_organization(db, actor, slug)
        except NotFound as exc:
            errors.setdefault("organization", sentence(exc.message))
    return _render(request, "registry/facility_form.html", {
        "values": values, "errors": errors, "duplicates": duplicates,
        "confirmation": confirmation, "organization": organization, "countries": COUNTRIES,
        "activities": ACTIVITIES, "zones": ZONES,
        "entities": [(str(e.id), e.name) for e in organization.entities] if organization else [],
    }, status_code)


def _facility_values(organization: str, name: str, address: str, country: str,
                     latitude: str, longitude: str, activities: list[str] | None,
                     annual_capacity_t: str, entity_id: str,
                     time_zone: str) -> dict[str, Any]:
    return {"organization": organization.strip(), "name": name, "address": address,
            "country": country, "latitude": latitude.strip(), "longitude": longitude.strip(),
            "activities": activities or [],
            "annual_capacity_t": annual_capacity_t.replace(" ", "").replace("\u202f", ""),
            "entity_id": entity_id, "time_zone": time_zone.strip()}


FacilityQuery = Annotated[str, Query(max_length=400)]


@router.get("/members/facilities/new")
def new_facility(request: Request, db: DbSession, actor: OptionalActor,
                 organization: Annotated[str, Query(max_length=80)] = "",
                 name: FacilityQuery = "", address: FacilityQuery = "",
                 country: FacilityQuery = "", latitude: FacilityQuery = "",
                 longitude: FacilityQuery = "",
                 activities: Annotated[list[str] | None, Query(max_length=20)] = None,
                 annual_capacity_t: FacilityQuery = "", entity_id: FacilityQuery = "",
                 time_zone: FacilityQuery = "", check: FacilityQuery = "") -> Response:
    """The form; after "Check for duplicates" (``check=1``) it comes back filled in, with
    the likely duplicates of what was typed. Nothing is stored by either."""
    actor = require(actor, Role.SECRETARIAT, Role.MEMBER_ADMIN, action="register facilities")
    values = _facility_values(organization, name, address, country, latitude, longitude,
                              activities, annual_capacity_t, entity_id, time_zone)
    if not check:
        return _facility_form(request, db, actor, values)
    try:
        data = _validate(DuplicateCheck, {"name": name, "address": address, "country": country})
        duplicates = facilities.check_duplicates(db, actor, data)
    except DomainError as exc:
        _reraise_access(exc)
        return _facility_form(request, db, actor, values, errors=_errors(exc, fallback="name"),
                              status_code=exc.status_code)
    return _facility_form(request, db, actor, values, duplicates=duplicates)


@router.post("/members/facilities/new", dependencies=[CsrfChecked])
def create_facility(request: Request, db: DbSession, actor: OptionalActor,
                    organization: Annotated[str, Form(max_length=80)] = "",
                    name: Short = "", address: Medium = "",
                    country: Annotated[str, Form(max_length=2)] = "",
                    latitude: Annotated[str, Form(max_length=20)] = "",
                    longitude: Annotated[str, Form(max_length=20)] = "",
                    activities: Many = None,
                    annual_capacity_t: Annotated[str, Form(max_length=20)] = "",
                    entity_id: Annotated[str, Form(max_length=40)] = "",
                    time_zone: Annotated[str, Form(max_length=64)] = "",
                    confirm_duplicate: Annotated[str, Form(max_length=40)] = "") -> Response:
    """Register a facility. A likely duplicate is asked about first (409, the form again
    with the registered sites it resembles); "Register anyway" sends the confirmation."""
    actor = require(actor, Role.SECRETARIAT, Role.MEMBER_ADMIN, action="register facilities")
    values = _facility_values(organization, name, address, country, latitude, longitude,
                              activities, annual_capacity_t, entity_id, time_zone)
    fields = dict(values)
    if not actor.is_secretariat():
        fields["organization"] = ""
    try:
        data = _validate(FacilityCreate, fields, whole_form_field="latitude")
        created = facilities.create_facility(db, actor, data, ask_first=True,
                                             confirmed=confirm_duplicate.strip())
    except facilities.LikelyDuplicate as exc:
        db.rollback()
        return _facility_form(request, db, actor, values, errors=_errors(exc),
                              duplicates=exc.duplicates, confirmation=exc.confirmation,
                              status_code=exc.status_code)
    except DomainError as exc:
        _reraise_access(exc)
        db.rollback()
        return _facility_form(request, db, actor, values,
                              errors=_errors(exc, fallback="name"),
                              status_code=exc.status_code)
    f = created.facility
    also = len(created.possible_duplicates)
    message = (f"{f.name} is registered with id {f.id}; quote it on audits and chain-of-custody "
               "documents.")
    if also:
        message += (f" You confirmed it is another site than the {also} that look like it; "
                    "the secretariat can still merge them.")
    return redirect(request, f"/facilities/{f.id}", message)


@router.post("/members/facilities/check", dependencies=[CsrfChecked])
def check_facility(request: Request, db: DbSession, actor: OptionalActor,
                   organization: Annotated[str, Form(max_length=80)] = "",
                   name: Short = "", address: Medium = "",
                   country: Annotated[str, Form(max_length=2)] = "",
                   latitude: Annotated[str, Form(max_length=20)] = "",
                   longitude: Annotated[str, Form(max_length=20)] = "",
                   activities: Many = None,
                   annual_capacity_t: Annotated[str, Form(max_length=20)] = "",
                   entity_id: Annotated[str, Form(max_length=40)] = "",
                   time_zone: Annotated[str, Form(max_length=64)] = "") -> Response:
    """The form's "Check for duplicates" button: back to the form, filled in, with the
    likely duplicates (post/redirect/get; the check itself is the GET's)."""
    require(actor, Role.SECRETARIAT, Role.MEMBER_ADMIN, action="check facilities")
    values = _facility_values(organization, name, address, country, latitude, longitude,
                              activities, annual_capacity_t, entity_id, time_zone)
    query = [(k, v) for k, v in values.items() if k != "activities" and v]
    query += [("activities", a) for a in values["activities"]]
    return RedirectResponse("/members/facilities/new?" + urlencode([*query, ("check", "1")]),
                            status_code=303)


@router.get("/secretariat/facilities/merge")
def merge_form(request: Request, actor: OptionalActor,
               facility_id: Annotated[str, Query(max_length=40)] = "",
               into: Annotated[str, Query(max_length=40)] = "") -> Response:
    require(actor, Role.SECRETARIAT, action="merge facilities")
    return _render(request, "registry/merge.html", {
        "values": {"facility_id": facility_id, "into": into}, "errors": {}})


@router.post("/secretariat/facilities/merge", dependencies=[CsrfChecked])
def merge(request: Request, db: DbSession, actor: OptionalActor,
          facility_id: Annotated[str, Form(max_length=40)] = "",
          into: Annotated[str, Form(max_length=40)] = "") -> Response:
    actor = require(actor, Role.SECRETARIAT, action="merge facilities")
    values = {"facility_id": facility_id.strip(), "into": into.strip()}
    try:
        missing = [{"field": f, "message": m} for f, m in (
            ("facility_id", "enter the id of the duplicate facility"),
            ("into", "enter the id of the facility that stays")) if not values[f]]
        if missing:
            raise InvalidInput("both ids are needed", details=missing)
        survivor = facilities.merge(db, actor, values["facility_id"], values["into"])
    except DomainError as exc:
        _reraise_access(exc)
        db.rollback()
        return _render(request, "registry/merge.html",
                       {"values": values, "errors": _errors(exc, fallback="facility_id")},
                       exc.status_code)
    retired = values["facility_id"].upper()
    return redirect(request, f"/facilities/{survivor.id}",
                    f"{retired} is merged into {survivor.id}; links to the old id now lead here.")


# --- audit firms --------------------------------------------------------------------------


# --- invitations --------------------------------------------------------------------------

# --- member admins: users -----------------------------------------------------------------


def reveal_invitation(request: Request, invitation: Any, token: str) -> dict[str, Any]:
    """An invitation's link, to be shown once on the page the invite redirects to."""
    return {"invited": {
        "name": invitation.name, "email": invitation.email,
        "role": str(getattr(invitation.role, "value", invitation.role)),
        "expires_at": invitation.expires_at.isoformat(),
        "link": f"{public_base_url(request)}/invitations/{token}"}}


def invited_shown(request: Request) -> dict[str, Any] | None:
    """The invitation link that ``reveal_invitation`` left for this page, if any."""
    shown = revealed(request).get("invited")
    if not isinstance(shown, dict):
        return None
    try:
        expires = datetime.fromisoformat(str(shown["expires_at"]))
        invitation = {"name": str(shown["name"]), "email": str(shown["email"]),
                      "role": str(shown["role"]), "expires_at": expires}
        return {"invitation": invitation, "link": str(shown["link"])}
    except (KeyError, ValueError):
        return None


# --- secretariat: organisations -----------------------------------------------------------


def _secretariat_orgs_page(request: Request, db: Session, actor: Actor, paging: PageParams,
                           status: str, *, values: dict[str, Any] | None = None,
                           errors: dict[str, str] | None = None,
                           status_code: int = 200) -> Response:
    problem = ""
    try:
        _check_choice("status", status, ORG_STATUSES, "membership status")
        page = organizations.list_organizations(db, actor, paging, status=status or None)
    except DomainError as exc:
        page, problem = _empty(paging), sentence(exc.message)
        status_code = exc.status_code if status_code == 200 else status_code
    return _render(request, "registry/secretariat_organizations.html", {
        "page": page, "status": status, "statuses": ORG_STATUSES, "problem": problem,
        "values": values or {}, "errors": errors or {}, "classes": CLASSES,
        "countries": COUNTRIES,
    }, status_code)


@router.get("/secretariat/organizations")
def secretariat_organizations(request: Request, db: DbSession, actor: OptionalActor,
                              paging: Pagination,
                              status: Annotated[str, Query(max_length=20)] = "") -> Response:
    actor = require(actor, Role.SECRETARIAT, action="manage the membership")
    return _secretariat_orgs_page(request, db, actor, paging, status)


@router.post("/secretariat/organizations", dependencies=[CsrfChecked])
def create_organization(request: Request, db: DbSession, actor: OptionalActor,
                        name: Short = "",
                        membership_class: Annotated[str, Form(max_length=40)] = "",
                        country: Annotated[str, Form(max_length=2)] = "",
                        website: Annotated[str, Form(max_length=300)] = "",
                        description: Long = "") -> Response:
    actor = require(actor, Role.SECRETARIAT, action="register organisations")
    values = {"name": name, "membership_class": membership_class, "country": country,
              "website": website.strip(), "description": description}
    try:
        org = organizations.create_organization(db, actor, _validate(OrganizationCreate, values))
    except DomainError as exc:
        _reraise_access(exc)
        db.rollback()
        return _secretariat_orgs_page(request, db, actor, _first_page(request), "",
                                      values=values, errors=_errors(exc, fallback="name"),
                                      status_code=exc.status_code)
    return redirect(request, f"/organizations/{org.slug}",
                    f"{org.name} is recorded as an applicant. Admit it below once the "
                    "application is approved.")
