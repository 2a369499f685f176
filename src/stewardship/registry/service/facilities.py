"""Facilities: registering, finding likely duplicates, merging, resolving ids."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date

from sqlalchemy.orm import Session

from stewardship.core import clock, eventlog, timezones
from stewardship.core.auth import Actor, Role, require
from stewardship.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from stewardship.core.pagination import Page, PageParams
from stewardship.registry import repository as repo
from stewardship.registry.models import Facility, FacilityActivity, FacilityAlias
from stewardship.registry.rules import (
    FacilityFingerprint,
    FacilityIdError,
    OrganizationStatus,
    clean_address,
    clean_name,
    country_name,
    duplicate_confirmation,
    find_duplicates,
    new_facility_id,
    normalize_country,
    parse_facility_id,
)
from stewardship.registry.schemas import (
    CapacityUpdate,
    DuplicateCheck,
    DuplicateRead,
    EntityRead,
    FacilityCreate,
    FacilityCreated,
    FacilityRead,
    FacilityRef,
    FacilityUpdate,
    OrganizationRef,
)
from stewardship.registry.service import organizations

PUBLIC_ORG_STATUSES = (OrganizationStatus.MEMBER.value,)


def to_read(facility: Facility, requested_id: str | None = None,
            merged_into: str | None = None) -> FacilityRead:
    return FacilityRead(
        id=facility.public_id, name=facility.name, address=facility.address,
        country=facility.country, country_name=country_name(facility.country),
        latitude=facility.latitude, longitude=facility.longitude,
        activities=facility.activities,  # type: ignore[arg-type]
        annual_capacity_t=facility.annual_capacity_t, time_zone=facility.time_zone,
        capacities=facility.capacities,
        status=facility.status,
        organization=OrganizationRef(slug=facility.organization.slug,
                                     name=facility.organization.name),
        entity=EntityRead.model_validate(facility.entity) if facility.entity else None,
        merged_into=merged_into, requested_id=requested_id,
    )


def to_ref(facility: Facility) -> FacilityRef:
    return FacilityRef(id=facility.public_id, name=facility.name, address=facility.address,
                       country=facility.country,
                       organization=OrganizationRef(slug=facility.organization.slug,
                                                    name=facility.organization.name))


def _visible(actor: Actor | None, facility: Facility) -> bool:
    if facility.organization.status in PUBLIC_ORG_STATUSES:
        return True
    return actor is not None and (actor.is_secretariat()
                                  or actor.belongs_to(facility.organization_id))


def list_facilities(db: Session, actor: Actor | None, params: PageParams, *,
                    country: str | None = None, activity: str | None = None,
                    q: str | None = None, organization: str | None = None) -> Page[FacilityRead]:
    statuses = organizations.visible_statuses(actor)
    org_id = None
    if organization:
        org_id = organizations.load(db, actor, organization).id
        statuses = tuple(s.value for s in OrganizationStatus)
    if country:
        try:
            country = normalize_country(country)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="country") from exc
    page = repo.list_facilities(db, params, organization_statuses=statuses, country=country,
                                activity=activity, q=(q or "").strip()[:100] or None,
                                organization_id=org_id)
    return Page([to_read(f) for f in page.items], page.total, page.page, page.per_page)


_RESOLVED: ContextVar[dict[tuple[int, str], tuple[Facility, str]] | None] = ContextVar(
    "stewardship_resolved_facilities", default=None)


@contextmanager
def resolutions_remembered() -> Iterator[None]:
    """Within the block (one unit of work that names the same facilities again and again,
    such as an EPCIS capture moving the ledger event after event), ``resolve`` looks each
    id up once per session; who may see it is still judged on every call. Nothing in the
    block may merge or move facilities."""
    token = _RESOLVED.set({})
    try:
        yield
    finally:
        _RESOLVED.reset(token)


def resolve(db: Session, actor: Actor | None, raw_id: str) -> tuple[Facility, str]:
    """Find a facility by id or by a retired (merged) id. Returns it and the normalised id.

    A malformed id or a wrong check character is a 422 naming the field; an unknown one 404.
    """
    memo = _RESOLVED.get()
    found = memo.get((id(db), raw_id)) if memo is not None else None
    if found is not None and _visible(actor, found[0]):
        return found
    try:
        public_id = parse_facility_id(raw_id)
    except FacilityIdError as exc:
        raise InvalidInput(str(exc), field="facility_id") from exc
    # A merged facility keeps its row (and its public id) for history; its id is an alias
    # of the survivor now, so the alias is looked up first.
    target = repo.alias_target(db, public_id)
    if target is not None:
        facility = repo.facility_by_id(db, target)
    else:
        facility = repo.facility_by_public_id(db, public_id)
    if facility is None or not _visible(actor, facility):
        raise NotFound(f"no facility '{public_id}'", field="facility_id")
    if memo is not None:
        memo[(id(db), raw_id)] = (facility, public_id)
    return facility, public_id


def get_facility(db: Session, actor: Actor | None, raw_id: str) -> FacilityRead:
    facility, public_id = resolve(db, actor, raw_id)
    requested = public_id if public_id != facility.public_id else None
    return to_read(facility, requested_id=requested)


def _fingerprint(key: str, country: str, name: str, address: str) -> FacilityFingerprint:
    return FacilityFingerprint(key=key, country=country, name_clean=clean_name(name),
                               address_clean=clean_address(address))


def duplicates_of(db: Session, actor: Actor | None, *, key: str, country: str, name: str,
                  address: str) -> list[DuplicateRead]:
    """Likely duplicates among the facilities this actor may see (hidden organisations'
    sites are not revealed to other members)."""
    existing = [f for f in repo.facilities_in_country(db, country) if _visible(actor, f)]
    by_key = {f.public_id: f for f in existing}
    matches = find_duplicates(
        _fingerprint(key, country, name, address),
        (FacilityFingerprint(f.public_id, f.country, f.name_clean, f.address_clean)
         for f in existing),
    )
    return [DuplicateRead(facility=to_ref(by_key[m.key]), score=m.score, exact=m.exact,
                          name_score=m.name_score, address_score=m.address_score)
            for m in matches]


def check_duplicates(db: Session, actor: Actor | None, data: DuplicateCheck) -> list[DuplicateRead]:
    """Likely duplicates of a facility about to be registered, best first."""
    require(actor, Role.SECRETARIAT, Role.MEMBER_ADMIN, action="check facilities")
    return duplicates_of(db, actor, key="", country=data.country, name=data.name,
                         address=data.address)


def _new_public_id(db: Session, country: str) -> str:
    for _ in range(20):
        candidate = new_facility_id(country, clock.today().year)
        if not repo.public_id_taken(db, candidate):
            return candidate
    raise Conflict("could not allocate a facility id; try again")


class LikelyDuplicate(Conflict):
    """Registering would list a site again: the page asks first (``ask_first``)."""

    def __init__(self, duplicates: list[DuplicateRead], confirmation: str) -> None:
        count = len(duplicates)
        super().__init__(
            f"{count} registered {'facility looks' if count == 1 else 'facilities look'} "
            "like this one: open it if it is the same site, or confirm that this is another "
            "site", field="confirm_duplicate")
        self.duplicates = duplicates
        self.confirmation = confirmation


def create_facility(db: Session, actor: Actor | None, data: FacilityCreate, *,
                    ask_first: bool = False, confirmed: str = "") -> FacilityCreated:
    """Register a facility; the answer lists likely duplicates in the same country.

    With ``ask_first`` (the page) a likely duplicate stops the registration before anything
    is stored (``LikelyDuplicate``) unless ``confirmed`` is the confirmation it asked for
    (``rules.duplicate_confirmation`` of these very country, name and address). The API
    registers and lists the duplicates; its clients ask first with the check endpoint."""
    actor = require(actor, Role.SECRETARIAT, Role.MEMBER_ADMIN, action="register facilities")
    if data.organization is None:
        if actor.organization_slug is None:
            raise InvalidInput("name the organisation that owns the facility",
                               field="organization")
        slug = actor.organization_slug
    else:
        slug = data.organization
    org = organizations.load(db, actor, slug)
    if not (actor.is_secretariat() or actor.is_admin_of(org.id)):
        raise Forbidden("members may register facilities only for their own organisation")
    if org.status == OrganizationStatus.TERMINATED:
        raise Conflict("a terminated organisation cannot register facilities",
                       field="organization")
    if data.entity_id is not None and repo.entity_of(db, org.id, data.entity_id) is None:
        raise InvalidInput("the entity does not belong to this organisation", field="entity_id")
    if ask_first:
        confirmation = duplicate_confirmation(data.country, data.name, data.address)
        if confirmed != confirmation:
            likely = duplicates_of(db, actor, key="", country=data.country, name=data.name,
                                   address=data.address)
            if likely:
                raise LikelyDuplicate(likely, confirmation)
    facility = Facility(
        public_id=_new_public_id(db, data.country), organization_id=org.id,
        entity_id=data.entity_id, name=data.name, name_clean=clean_name(data.name),
        address=data.address, address_clean=clean_address(data.address),
        country=data.country, latitude=data.latitude, longitude=data.longitude,
        annual_capacity_t=data.annual_capacity_t,
        time_zone=data.time_zone or timezones.default_zone(data.country), status="active",
    )
    facility.activity_rows = [FacilityActivity(activity=a.value)
                              for a in sorted(set(data.activities))]
    db.add(facility)
    db.flush()
    eventlog.append(db, actor, "registry.facility.registered", f"facility:{facility.public_id}",
                    {"organization": org.slug, "name": facility.name,
                     "country": facility.country, "activities": facility.activities,
                     "time_zone": facility.time_zone})
    loaded = repo.facility_by_id(db, facility.id)
    assert loaded is not None
    duplicates = duplicates_of(db, actor, key=loaded.public_id, country=loaded.country,
                               name=loaded.name, address=loaded.address)
    return FacilityCreated(facility=to_read(loaded), possible_duplicates=duplicates)


def change_time_zone(db: Session, actor: Actor | None, raw_id: str,
                     data: FacilityUpdate) -> FacilityRead:
    """Set the zone the site keeps (its owner's admins, or the secretariat): the day its
    dates without a time are judged in from now on; what was recorded stays as it is."""
    actor = require(actor, Role.SECRETARIAT, Role.MEMBER_ADMIN,
                    action="change a facility's time zone")
    facility, _ = resolve(db, actor, raw_id)
    if not (actor.is_secretariat() or actor.is_admin_of(facility.organization_id)):
        raise Forbidden("only the owner's admins may change a facility's time zone",
                        field="facility_id")
    if facility.time_zone != data.time_zone:
        previous, facility.time_zone = facility.time_zone, data.time_zone
        db.flush()
        eventlog.append(db, actor, "registry.facility.time_zone_changed",
                        f"facility:{facility.public_id}",
                        {"from": previous, "to": facility.time_zone})
    return to_read(facility)


def today_at(facility: Facility) -> date:
    """The calendar day it is now at the facility."""
    return clock.today_in(timezones.zone(facility.time_zone))


def today_where(db: Session, organization_id: uuid.UUID,
                entity_id: uuid.UUID | None = None) -> date:
    """The calendar day it is now where the entity (or, without one, the organisation)
    works: at its main facility, its first registered active one (for an entity: of its
    own, else its organisation's first not assigned to an entity); without a facility, in
    the organisation's country's main zone."""
    zone, country = repo.main_zone(db, organization_id, entity_id)
    name = zone or (timezones.default_zone(country) if country else timezones.FALLBACK)
    return clock.today_in(timezones.zone(name))


def set_capacities(db: Session, actor: Actor | None, raw_id: str,
                   data: CapacityUpdate) -> FacilityRead:
    """Set the annual capacity (kg) of activities of a facility: the secretariat, or a
    member admin of the owning organisation."""
    actor = require(actor, Role.SECRETARIAT, Role.MEMBER_ADMIN,
                    action="set facility capacities")
    facility, public_id = resolve(db, actor, raw_id)
    if not (actor.is_secretariat() or actor.is_admin_of(facility.organization_id)):
        raise Forbidden("only the owning organisation's admins and the secretariat set a "
                        "facility's capacities")
    if facility.status != "active" or facility.public_id != public_id:
        raise Conflict(f"facility {public_id} is merged into {facility.public_id}: set the "
                       "capacities there", field="facility_id")
    rows = {row.activity: row for row in facility.activity_rows}
    for activity, kg in data.capacities.items():
        if activity.value not in rows:
            raise InvalidInput(f"{facility.name} does not carry out {activity.value} "
                               f"(its activities: {', '.join(rows)})",
                               field=f"capacities.{activity.value}")
        rows[activity.value].annual_capacity_kg = kg
    db.flush()
    eventlog.append(db, actor, "registry.facility.capacities_set",
                    f"facility:{facility.public_id}",
                    {"capacities": {a.value: kg for a, kg in data.capacities.items()}})
    return to_read(facility)


def merge(db: Session, actor: Actor | None, source_raw: str, into_raw: str) -> FacilityRead:
    """Merge a duplicate into the surviving facility; the old id resolves to the survivor."""
    actor = require(actor, Role.SECRETARIAT, action="merge facilities")
    source, source_id = resolve(db, actor, source_raw)
    if source.public_id != source_id:
        raise Conflict(f"'{source_id}' was already merged into '{source.public_id}'",
                       field="facility_id")
    try:
        into, _ = resolve(db, actor, into_raw)
    except (InvalidInput, NotFound) as exc:
        raise type(exc)(exc.message, field="into") from exc
    if into.id == source.id:
        raise Conflict("a facility cannot be merged into itself", field="into")
    if into.country != source.country:
        raise Conflict("only facilities in the same country can be merged", field="into")
    source.status = "merged"
    source.merged_into_id = into.id
    repo.repoint_aliases(db, source.id, into.id)
    db.add(FacilityAlias(alias=source.public_id, facility_id=into.id, reason="merge"))
    db.flush()
    eventlog.append(db, actor, "registry.facility.merged", f"facility:{source.public_id}",
                    {"into": into.public_id})
    return to_read(into)
