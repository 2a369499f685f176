"""Organisations: the public register, applications, admission, status, entities."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date

from sqlalchemy import Select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stewardship.core import clock, eventlog, labels
from stewardship.core.auth import Actor, Role, require
from stewardship.core.db import utcnow
from stewardship.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from stewardship.core.pagination import Page, PageParams
from stewardship.registry import repository as repo
from stewardship.registry.models import AuditFirm, Entity, Organization, OrganizationNameChange
from stewardship.registry.rules import (
    Activity,
    MembershipClass,
    OrganizationStatus,
    certification_deadline,
    country_name,
    good_standing,
    may_transition,
    name_key,
    normalize_country,
    numbered_slug,
    slugify,
)
from stewardship.registry.schemas import (
    EntityCreate,
    EntityRead,
    NameChangeRead,
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


def holds_live_certificate(db: Session, organization: Organization) -> bool:
    """Whether a certificate of the member is in force or suspended: it carries the name."""
    from stewardship.assurance import repository as assurance_repo

    return assurance_repo.holds_live_certificate(db, organization.id, clock.today())


def _read(db: Session, org: Organization, activities: set[str], facility_count: int,
          today: date, pending_name: str | None = None, *,
          certified: bool | None = None) -> OrganizationRead:
    mclass = MembershipClass(org.membership_class)
    if certified is None:
        certified = holds_performance_certificate(db, org)
    standing = good_standing(mclass, org.joined_on, certified, today)
    return OrganizationRead(
        slug=org.slug, name=org.name, membership_class=mclass,
        membership_class_label=mclass.label, status=org.status, joined_on=org.joined_on,
        country=org.country, country_name=country_name(org.country), website=org.website,
        description=org.description,
        certification_deadline=certification_deadline(mclass, org.joined_on),
        standing=standing.value, activities=sorted(activities),  # type: ignore[arg-type]
        facility_count=facility_count,
        entities=[EntityRead.model_validate(e) for e in org.entities],
        pending_name=pending_name,
    )


def _reads(db: Session, orgs: list[Organization]) -> list[OrganizationRead]:
    ids = [o.id for o in orgs]
    activities = repo.activities_by_organization(db, ids)
    counts = repo.facility_counts(db, ids)
    renames = repo.pending_names(db, ids)
    today = clock.today()
    # One read for the whole page (not one per row), through assurance's service.
    from stewardship.assurance.service import register as certification

    certified = certification.performance_holders(db, ids, today=today)
    return [_read(db, o, activities.get(o.id, set()), counts.get(o.id, 0), today,
                  renames.get(o.id), certified=o.id in certified) for o in orgs]


def visible_statuses(actor: Actor | None) -> tuple[str, ...]:
    return ALL_STATUSES if actor is not None and actor.is_secretariat() else PUBLIC_STATUSES


def list_organizations(db: Session, actor: Actor | None, params: PageParams, *,
                       membership_class: str | None = None, country: str | None = None,
                       activity: str | None = None, q: str | None = None,
                       status: str | None = None,
                       holders: Select[tuple[uuid.UUID]] | None = None,
                       holding: bool = True) -> Page[OrganizationRead]:
    """The register. The public sees members in good order; the secretariat sees everyone.
    ``holders`` / ``holding``: keep (or leave out) the organisations whose ids the sub-query
    gives, e.g. assurance's holders of a current certificate."""
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
                                   activity=activity, q=(q or "").strip()[:100] or None,
                                   holders=holders, holding=holding)
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


# --- names ------------------------------------------------------------------------------


def _key_of(name: str) -> str:
    key = name_key(name)
    if not key:
        raise InvalidInput("the name needs at least one letter or digit", field="name")
    return key


def _name_taken(actor: Actor | None, name: str, other: Organization | None, *,
                pending: bool = False) -> Conflict:
    """409 naming the organisation that has the name, where the actor may see it (an
    applicant's name is not revealed to members)."""
    visible = other is not None and (
        other.status in PUBLIC_STATUSES
        or (actor is not None and (actor.is_secretariat() or actor.belongs_to(other.id))))
    who = f"{other.name} ({other.slug})" if visible and other is not None \
        else "another organisation"
    how = "has asked to be renamed so" if pending else "is registered under that name"
    details = [{"field": "organization", "message": other.slug}] if visible and other else []
    return Conflict(f"the name '{name}' is taken: {who} {how} (names are compared without "
                    "case, accents or punctuation)", field="name", details=details)


def _check_name_free(db: Session, actor: Actor | None, name: str, key: str,
                     own: Organization | None) -> None:
    """Refuse a name another organisation has, or has asked for."""
    other = repo.organization_by_name_key(db, key)
    if other is not None and (own is None or other.id != own.id):
        raise _name_taken(actor, name, other)
    claim = repo.name_change_claiming(db, key)
    if claim is not None and (own is None or claim.organization_id != own.id):
        raise _name_taken(actor, name, db.get(Organization, claim.organization_id),
                          pending=True)


def _write_name(db: Session, actor: Actor | None, name: str,
                write: Callable[[], None]) -> None:
    """Make the change and flush it under a savepoint: the unique name index refuses what
    a concurrent request took between the check and the write, and that answers 409, not
    500. (The change is made inside the savepoint: opening one flushes what is pending.)"""
    try:
        with db.begin_nested():
            write()
            db.flush()
    except IntegrityError as exc:
        with db.no_autoflush:
            holder = repo.organization_by_name_key(db, _key_of(name))
        raise _name_taken(actor, name, holder) from exc


def create_organization(db: Session, actor: Actor | None,
                        data: OrganizationCreate) -> OrganizationRead:
    """Record an application for membership (status applicant). Names are unique."""
    actor = require(actor, Role.SECRETARIAT, action="register organisations")
    key = _key_of(data.name)
    _check_name_free(db, actor, data.name, key, None)
    org = Organization(
        slug=unique_slug(db, Organization, data.slug, data.name, "organisation"),
        name=data.name, name_key=key,
        membership_class=data.membership_class.value, status=OrganizationStatus.APPLICANT.value,
        joined_on=None, country=data.country, website=data.website,
        description=data.description,
    )
    _write_name(db, actor, data.name, lambda: db.add(org))
    eventlog.append(db, actor, "registry.organization.applied", f"organization:{org.slug}",
                    {"name": org.name, "membership_class": org.membership_class,
                     "country": org.country})
    db.refresh(org, ["entities"])
    return _reads(db, [org])[0]


def _transition(db: Session, actor: Actor, org: Organization, target: OrganizationStatus,
                payload: dict[str, object]) -> None:
    current = OrganizationStatus(org.status)
    if not may_transition(current, target):
        raise Conflict(f"an organisation that is {labels.lower(current)} cannot become "
                       f"{labels.lower(target)}", field="status")
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
    """Edit name, website or description. A new name must be free; a member admin's rename
    of a member holding a live certificate waits for the secretariat's approval (the
    other changes apply at once)."""
    actor = require(actor, Role.SECRETARIAT, Role.MEMBER_ADMIN, action="edit an organisation")
    org = load(db, actor, slug)
    if not _may_manage(actor, org):
        raise Forbidden("only the organisation's admins or the secretariat may edit it")
    changes = data.model_dump(exclude_unset=True)
    new_name = changes.pop("name", None)
    if new_name is not None and new_name != org.name:
        key = _key_of(new_name)
        _check_name_free(db, actor, new_name, key, org)
        if not actor.is_secretariat() and holds_live_certificate(db, org):
            _request_rename(db, actor, org, new_name, key)
        else:
            _rename(db, actor, org, new_name, key)
    for key_, value in changes.items():
        setattr(org, key_, value if value is not None else ("" if key_ == "description"
                                                            else None))
    if changes:
        db.flush()
        eventlog.append(db, actor, "registry.organization.updated", f"organization:{org.slug}",
                        changes)
    return _reads(db, [org])[0]


def _rename(db: Session, actor: Actor, org: Organization, new_name: str, key: str) -> None:
    old_name = org.name

    def write() -> None:
        org.name, org.name_key = new_name, key

    _write_name(db, actor, new_name, write)
    eventlog.append(db, actor, "registry.organization.renamed", f"organization:{org.slug}",
                    {"from": old_name, "to": new_name})


def _request_rename(db: Session, actor: Actor, org: Organization, new_name: str,
                    key: str) -> None:
    """Record (or replace) the member's pending rename for the secretariat to decide."""
    previous = repo.pending_name_change(db, org.id)
    if previous is not None:
        previous.status, previous.decided_at = "refused", utcnow()
        previous.decided_by, previous.reason = actor.ref, "replaced by a newer request"
        db.flush()
    change = OrganizationNameChange(organization_id=org.id, old_name=org.name,
                                    new_name=new_name, new_name_key=key, status="pending",
                                    requested_by=actor.ref, requested_at=utcnow())
    db.add(change)
    db.flush()
    eventlog.append(db, actor, "registry.organization.rename_requested",
                    f"organization:{org.slug}",
                    {"change": change.id, "from": org.name, "to": new_name})


def _change_read(change: OrganizationNameChange, org: Organization) -> NameChangeRead:
    return NameChangeRead(id=change.id, organization=org.slug, old_name=change.old_name,
                          new_name=change.new_name, status=change.status,  # type: ignore[arg-type]
                          requested_by=change.requested_by, requested_at=change.requested_at,
                          decided_at=change.decided_at, reason=change.reason)


def pending_name_changes(db: Session, actor: Actor | None) -> list[NameChangeRead]:
    """Renames of certified members waiting for the secretariat, oldest first."""
    require(actor, Role.SECRETARIAT, action="review name changes")
    return [_change_read(c, o) for c, o in repo.pending_name_changes(db)]


def decide_name_change(db: Session, actor: Actor | None, slug: str, *, approve: bool,
                       reason: str = "") -> NameChangeRead:
    """Approve (the member is renamed; its certificates keep the name they were issued
    to) or refuse, with a reason, the organisation's pending rename."""
    actor = require(actor, Role.SECRETARIAT, action="review name changes")
    org = load(db, actor, slug)
    change = repo.pending_name_change(db, org.id)
    if change is None:
        raise NotFound(f"{org.name} has no pending name change", field="slug")
    reason = reason.strip()
    if not approve and len(reason) < 3:
        raise InvalidInput("say why the name change is refused", field="reason")
    change.status = "approved" if approve else "refused"
    change.decided_by, change.decided_at, change.reason = actor.ref, utcnow(), reason
    db.flush()
    if approve:
        _check_name_free(db, actor, change.new_name, change.new_name_key, org)
        _rename(db, actor, org, change.new_name, change.new_name_key)
    else:
        eventlog.append(db, actor, "registry.organization.rename_refused",
                        f"organization:{org.slug}",
                        {"change": change.id, "to": change.new_name, "reason": reason})
    return _change_read(change, org)


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
