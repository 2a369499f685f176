"""Organisations: the public register, applications, admission, status, entities."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.orm import Session

from stewardship.core import clock, eventlog
from stewardship.core.auth import Actor, Role, require
from stewardship.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from stewardship.core.pagination import Page, PageParams
from stewardship.registry import repository as repo
from stewardship.registry.models import AuditFirm, Entity, Organization
from stewardship.registry.rules import (
    Activity,
    MembershipClass,
    OrganizationStatus,
    certification_deadline,
    country_name,
    good_standing,
    may_transition,
    normalize_country,
    numbered_slug,
    slugify,
)
from stewardship.registry.schemas import (
    EntityCreate,
    EntityRead,
    OrganizationCreate,
    OrganizationRead,
    OrganizationUpdate,
)

PUBLIC_STATUSES = (OrganizationStatus.MEMBER.value,)
ALL_STATUSES = tuple(s.value for s in OrganizationStatus)


def holds_performance_certificate(db: Session, organization: Organization) -> bool:
    """Whether the member holds a current Performance Standard certificate (active and in
    date today), as the assurance context records it."""
    # Imported here: assurance reads registry rows, so a module-level import would cycle.
    from stewardship.assurance import repository as assurance_repo

    return assurance_repo.holds_current_certificate(db, organization.id, "performance",
                                                    clock.today())


def _read(db: Session, org: Organization, activities: set[str], facility_count: int,
          today: date) -> OrganizationRead:
    mclass = MembershipClass(org.membership_class)
    standing = good_standing(mclass, org.joined_on, holds_performance_certificate(db, org), today)
    return OrganizationRead(
        slug=org.slug, name=org.name, membership_class=mclass,
        membership_class_label=mclass.label, status=org.status, joined_on=org.joined_on,
        country=org.country, country_name=country_name(org.country), website=org.website,
        description=org.description,
        certification_deadline=certification_deadline(mclass, org.joined_on),
        standing=standing.value, activities=sorted(activities),  # type: ignore[arg-type]
        facility_count=facility_count,
        entities=[EntityRead.model_validate(e) for e in org.entities],
    )


def _reads(db: Session, orgs: list[Organization]) -> list[OrganizationRead]:
    ids = [o.id for o in orgs]
    activities = repo.activities_by_organization(db, ids)
    counts = repo.facility_counts(db, ids)
    today = clock.today()
    return [_read(db, o, activities.get(o.id, set()), counts.get(o.id, 0), today) for o in orgs]


def visible_statuses(actor: Actor | None) -> tuple[str, ...]:
    return ALL_STATUSES if actor is not None and actor.is_secretariat() else PUBLIC_STATUSES


def list_organizations(db: Session, actor: Actor | None, params: PageParams, *,
                       membership_class: str | None = None, country: str | None = None,
                       activity: str | None = None, q: str | None = None,
                       status: str | None = None) -> Page[OrganizationRead]:
    """The register. The public sees members in good order; the secretariat sees everyone."""
    statuses = visible_statuses(actor)
    if status:
        if status not in statuses:
            raise InvalidInput(f"status must be one of {', '.join(statuses)}", field="status")
        statuses = (status,)
    if country:
        try:
            country = normalize_country(country)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="country") from exc
    if membership_class and membership_class not in {c.value for c in MembershipClass}:
        raise InvalidInput(f"'{membership_class}' is not a membership class",
                           field="membership_class")
    if activity and activity not in {a.value for a in Activity}:
        raise InvalidInput(f"'{activity}' is not a supply-chain activity", field="activity")
    page = repo.list_organizations(db, params, statuses=statuses,
                                   membership_class=membership_class, country=country,
                                   activity=activity, q=(q or "").strip()[:100] or None)
    return Page(_reads(db, page.items), page.total, page.page, page.per_page)


def load(db: Session, actor: Actor | None, slug: str) -> Organization:
    """An organisation the actor may see, or 404 (hidden ones are not revealed)."""
    org = repo.organization_by_slug(db, slug)
    if org is None:
        raise NotFound(f"no organisation '{slug}'", field="slug")
    if org.status not in PUBLIC_STATUSES:
        visible = actor is not None and (actor.is_secretariat() or actor.belongs_to(org.id))
        if not visible:
            raise NotFound(f"no organisation '{slug}'", field="slug")
    return org


def get_organization(db: Session, actor: Actor | None, slug: str) -> OrganizationRead:
    return _reads(db, [load(db, actor, slug)])[0]


def unique_slug(db: Session, model: type[Organization] | type[AuditFirm], wanted: str | None,
                name: str, fallback: str) -> str:
    """The slug asked for (409 when taken), or one made from the name and numbered until
    free; ``fallback`` stands in for a name with no Latin letters or digits."""
    if wanted:
        if repo.slug_taken(db, model, wanted):
            raise Conflict(f"the slug '{wanted}' is taken", field="slug")
        return wanted
    base = slugify(name) or fallback
    slug, n = base, 2
    while repo.slug_taken(db, model, slug):
        slug, n = numbered_slug(base, n), n + 1
    return slug


def create_organization(db: Session, actor: Actor | None,
                        data: OrganizationCreate) -> OrganizationRead:
    """Record an application for membership (status applicant)."""
    actor = require(actor, Role.SECRETARIAT, action="register organisations")
    org = Organization(
        slug=unique_slug(db, Organization, data.slug, data.name, "organisation"),
        name=data.name,
        membership_class=data.membership_class.value, status=OrganizationStatus.APPLICANT.value,
        joined_on=None, country=data.country, website=data.website,
        description=data.description,
    )
    db.add(org)
    db.flush()
    eventlog.append(db, actor, "registry.organization.applied", f"organization:{org.slug}",
                    {"name": org.name, "membership_class": org.membership_class,
                     "country": org.country})
    db.refresh(org, ["entities"])
    return _reads(db, [org])[0]


def _transition(db: Session, actor: Actor, org: Organization, target: OrganizationStatus,
                payload: dict[str, object]) -> None:
    current = OrganizationStatus(org.status)
    if not may_transition(current, target):
        raise Conflict(f"an organisation that is {current.value} cannot become {target.value}",
                       field="status")
    org.status = target.value
    db.flush()
    eventlog.append(db, actor, f"registry.organization.{target.value}",
                    f"organization:{org.slug}", {"from": current.value, **payload})


def admit(db: Session, actor: Actor | None, slug: str,
          joined_on: date | None = None) -> OrganizationRead:
    """Admit an applicant as a member; the certification deadline starts counting."""
    actor = require(actor, Role.SECRETARIAT, action="admit members")
    org = load(db, actor, slug)
    if org.status == OrganizationStatus.SUSPENDED:
        raise Conflict("a suspended member is reinstated, not admitted again", field="status")
    today = clock.today()  # read once: the check and the default are the same day
    day = joined_on or today
    if day > today:
        raise InvalidInput("the joining date cannot be in the future", field="joined_on")
    _transition(db, actor, org, OrganizationStatus.MEMBER, {"joined_on": day})
    if org.joined_on is None:
        org.joined_on = day
    return _reads(db, [org])[0]


def change_status(db: Session, actor: Actor | None, slug: str, target: OrganizationStatus,
                  reason: str) -> OrganizationRead:
    """Suspend, reinstate or terminate a membership, with a recorded reason."""
    actor = require(actor, Role.SECRETARIAT, action="change membership status")
    org = load(db, actor, slug)
    if target is OrganizationStatus.MEMBER and org.status == OrganizationStatus.APPLICANT:
        raise Conflict("admit an applicant instead of reinstating it", field="status")
    _transition(db, actor, org, target, {"reason": reason})
    return _reads(db, [org])[0]


def _may_manage(actor: Actor, org: Organization) -> bool:
    return actor.is_secretariat() or actor.is_admin_of(org.id)


def update_organization(db: Session, actor: Actor | None, slug: str,
                        data: OrganizationUpdate) -> OrganizationRead:
    actor = require(actor, Role.SECRETARIAT, Role.MEMBER_ADMIN, action="edit an organisation")
    org = load(db, actor, slug)
    if not _may_manage(actor, org):
        raise Forbidden("only the organisation's admins or the secretariat may edit it")
    changes = data.model_dump(exclude_unset=True)
    for key, value in changes.items():
        if key == "name" and not value:
            continue
        setattr(org, key, value if value is not None else ("" if key == "description" else None))
    db.flush()
    eventlog.append(db, actor, "registry.organization.updated", f"organization:{org.slug}",
                    changes)
    return _reads(db, [org])[0]


def entity_exists(db: Session, entity_id: uuid.UUID) -> bool:
    return repo.entity_by_id(db, entity_id) is not None


def add_entity(db: Session, actor: Actor | None, slug: str, data: EntityCreate) -> EntityRead:
    """Add a legal entity (the thing that gets certified) to an organisation."""
    actor = require(actor, Role.SECRETARIAT, Role.MEMBER_ADMIN, action="add entities")
    org = load(db, actor, slug)
    if not _may_manage(actor, org):
        raise Forbidden("only the organisation's admins or the secretariat may add entities")
    if any(e.name.casefold() == data.name.casefold() for e in org.entities):
        raise Conflict(f"'{org.name}' already has an entity named '{data.name}'", field="name")
    entity = Entity(organization_id=org.id, name=data.name)
    db.add(entity)
    db.flush()
    eventlog.append(db, actor, "registry.entity.created", f"entity:{entity.id}",
                    {"organization": org.slug, "name": entity.name})
    return EntityRead.model_validate(entity)
