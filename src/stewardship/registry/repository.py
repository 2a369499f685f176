"""Every query of the registry context."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from stewardship.core.pagination import Page, PageParams
from stewardship.registry.models import (
    ApiToken,
    AuditFirm,
    Entity,
    Facility,
    FacilityActivity,
    FacilityAlias,
    Invitation,
    LoginAttempt,
    LoginLink,
    Organization,
    OrganizationNameChange,
    User,
    UserSession,
)


def _page(session: Session, query: Select, params: PageParams) -> Page:  # type: ignore[type-arg]
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = session.scalars(query.offset(params.offset).limit(params.per_page)).all()
    return Page(list(rows), total or 0, params.page, params.per_page)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


# --- organisations ----------------------------------------------------------------------


def organization_by_slug(session: Session, slug: str) -> Organization | None:
    return session.scalar(
        select(Organization).where(Organization.slug == slug)
        .options(selectinload(Organization.entities))
    )


def organization_by_id(session: Session, organization_id: uuid.UUID) -> Organization | None:
    return session.get(Organization, organization_id,
                       options=[selectinload(Organization.entities)], populate_existing=True)


def organization_by_name_key(session: Session, key: str) -> Organization | None:
    return session.scalar(select(Organization).where(Organization.name_key == key))


def pending_name_change(session: Session,
                        organization_id: uuid.UUID) -> OrganizationNameChange | None:
    return session.scalar(select(OrganizationNameChange).where(
        OrganizationNameChange.organization_id == organization_id,
        OrganizationNameChange.status == "pending"))


def pending_names(session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The pending new name of each organisation that has one."""
    if not ids:
        return {}
    rows = session.execute(select(OrganizationNameChange.organization_id,
                                  OrganizationNameChange.new_name)
                           .where(OrganizationNameChange.organization_id.in_(list(ids)),
                                  OrganizationNameChange.status == "pending"))
    return {org_id: name for org_id, name in rows}


def name_change_claiming(session: Session, key: str) -> OrganizationNameChange | None:
    """A pending rename to a name with this key: the name is spoken for until decided."""
    return session.scalar(select(OrganizationNameChange).where(
        OrganizationNameChange.new_name_key == key,
        OrganizationNameChange.status == "pending"))


def pending_name_changes(session: Session) -> list[tuple[OrganizationNameChange, Organization]]:
    rows = session.execute(
        select(OrganizationNameChange, Organization)
        .join(Organization, Organization.id == OrganizationNameChange.organization_id)
        .where(OrganizationNameChange.status == "pending")
        .order_by(OrganizationNameChange.requested_at))
    return [(change, org) for change, org in rows]


def slug_taken(session: Session, model: type[Organization] | type[AuditFirm], slug: str) -> bool:
    return session.scalar(select(exists().where(model.slug == slug))) or False


def list_organizations(
    session: Session, params: PageParams, *, statuses: Sequence[str],
    membership_class: str | None = None, country: str | None = None,
    activity: str | None = None, q: str | None = None,
    holders: Select[tuple[uuid.UUID]] | None = None, holding: bool = True,
) -> Page[Organization]:
    """``holders``: a sub-query of organisation ids (another context's, e.g. who holds a
    current certificate) to keep, or to leave out when ``holding`` is false."""
    query = select(Organization).where(Organization.status.in_(statuses))
    if holders is not None:
        query = query.where(Organization.id.in_(holders) if holding
                            else Organization.id.not_in(holders))
    if membership_class:
        query = query.where(Organization.membership_class == membership_class)
    if country:
        query = query.where(Organization.country == country)
    if activity:
        query = query.where(
            exists().where(
                FacilityActivity.facility_id == Facility.id,
                FacilityActivity.activity == activity,
                Facility.organization_id == Organization.id,
                Facility.status == "active",
            )
        )
    if q:
        query = query.where(func.lower(Organization.name).like(_like(q), escape="\\"))
    query = query.options(selectinload(Organization.entities)).order_by(
        Organization.name, Organization.id)
    return _page(session, query, params)


def activities_by_organization(session: Session,
                               organization_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, set[str]]:
    out: dict[uuid.UUID, set[str]] = {oid: set() for oid in organization_ids}
    if not organization_ids:
        return out
    rows = session.execute(
        select(Facility.organization_id, FacilityActivity.activity)
        .join(FacilityActivity, FacilityActivity.facility_id == Facility.id)
        .where(Facility.organization_id.in_(organization_ids), Facility.status == "active")
        .distinct()
    )
    for org_id, activity in rows:
        out[org_id].add(activity)
    return out


def facility_counts(session: Session,
                    organization_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not organization_ids:
        return {}
    rows = session.execute(
        select(Facility.organization_id, func.count())
        .where(Facility.organization_id.in_(organization_ids), Facility.status == "active")
        .group_by(Facility.organization_id)
    )
    return {org_id: count for org_id, count in rows}


def entity_by_id(session: Session, entity_id: uuid.UUID) -> Entity | None:
    return session.get(Entity, entity_id)


def entity_of(session: Session, organization_id: uuid.UUID, entity_id: uuid.UUID) -> Entity | None:
    return session.scalar(
        select(Entity).where(Entity.id == entity_id, Entity.organization_id == organization_id)
    )


# --- facilities -------------------------------------------------------------------------

_FACILITY_LOAD = (
    selectinload(Facility.organization),
    selectinload(Facility.entity),
    selectinload(Facility.activity_rows),
)


def facility_by_public_id(session: Session, public_id: str) -> Facility | None:
    return session.scalar(
        select(Facility).where(Facility.public_id == public_id).options(*_FACILITY_LOAD)
    )


def facility_by_id(session: Session, facility_id: uuid.UUID) -> Facility | None:
    return session.get(Facility, facility_id, options=list(_FACILITY_LOAD), populate_existing=True)


def alias_target(session: Session, alias: str) -> uuid.UUID | None:
    return session.scalar(select(FacilityAlias.facility_id).where(FacilityAlias.alias == alias))


def public_id_taken(session: Session, public_id: str) -> bool:
    return bool(
        session.scalar(select(exists().where(Facility.public_id == public_id)))
        or session.scalar(select(exists().where(FacilityAlias.alias == public_id)))
    )


def list_facilities(
    session: Session, params: PageParams, *, organization_statuses: Sequence[str],
    country: str | None = None, activity: str | None = None, q: str | None = None,
    organization_id: uuid.UUID | None = None,
) -> Page[Facility]:
    query = (
        select(Facility)
        .join(Organization, Organization.id == Facility.organization_id)
        .where(Facility.status == "active", Organization.status.in_(organization_statuses))
    )
    if organization_id:
        query = query.where(Facility.organization_id == organization_id)
    if country:
        query = query.where(Facility.country == country)
    if activity:
        query = query.where(exists().where(FacilityActivity.facility_id == Facility.id,
                                           FacilityActivity.activity == activity))
    if q:
        pattern = _like(q)
        query = query.where(or_(func.lower(Facility.name).like(pattern, escape="\\"),
                                func.lower(Facility.address).like(pattern, escape="\\")))
    query = query.options(*_FACILITY_LOAD).order_by(Facility.name, Facility.id)
    return _page(session, query, params)


def facilities_in_country(session: Session, country: str) -> list[Facility]:
    return list(session.scalars(
        select(Facility).where(Facility.country == country, Facility.status == "active")
        .options(selectinload(Facility.organization))
    ))


def main_zone(session: Session, organization_id: uuid.UUID,
              entity_id: uuid.UUID | None = None) -> tuple[str | None, str | None]:
    """The time zone of the main facility (the first registered active one) of the entity
    (else its organisation's first not assigned to any entity) or, without an entity, of
    the organisation; None when there is none. With the organisation's country."""
    query = select(Facility.time_zone).where(Facility.organization_id == organization_id,
                                             Facility.status == "active")
    if entity_id is not None:
        query = query.where(or_(Facility.entity_id == entity_id, Facility.entity_id.is_(None)))
        query = query.order_by(Facility.entity_id.is_(None))
    zone = session.scalar(query.order_by(Facility.created_at, Facility.public_id).limit(1))
    country = session.scalar(select(Organization.country)
                             .where(Organization.id == organization_id))
    return zone, country


def facilities_by_ids(session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Facility]:
    if not ids:
        return {}
    rows = session.scalars(select(Facility).where(Facility.id.in_(ids)).options(*_FACILITY_LOAD))
    return {f.id: f for f in rows}


def repoint_aliases(session: Session, old_facility_id: uuid.UUID,
                    new_facility_id: uuid.UUID) -> None:
    for alias in session.scalars(select(FacilityAlias)
                                 .where(FacilityAlias.facility_id == old_facility_id)):
        alias.facility_id = new_facility_id


# --- audit firms ------------------------------------------------------------------------


def audit_firm_by_slug(session: Session, slug: str) -> AuditFirm | None:
    return session.scalar(
        select(AuditFirm).where(AuditFirm.slug == slug).options(selectinload(AuditFirm.auditors))
    )


def audit_firm_by_id(session: Session, firm_id: uuid.UUID) -> AuditFirm | None:
    return session.get(AuditFirm, firm_id, options=[selectinload(AuditFirm.auditors)],
                       populate_existing=True)


def list_audit_firms(session: Session, params: PageParams, *, statuses: Sequence[str],
                     country: str | None = None) -> Page[AuditFirm]:
    query = select(AuditFirm).where(AuditFirm.status.in_(statuses))
    if country:
        query = query.where(AuditFirm.country == country)
    query = query.options(selectinload(AuditFirm.auditors)).order_by(AuditFirm.name)
    return _page(session, query, params)


# --- users and access -------------------------------------------------------------------

_USER_LOAD = (selectinload(User.organization), selectinload(User.audit_firm))


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.lower()).options(*_USER_LOAD))


def user_by_id(session: Session, user_id: uuid.UUID) -> User | None:
    return session.get(User, user_id, options=list(_USER_LOAD), populate_existing=True)


def list_users(session: Session, params: PageParams, *,
               organization_id: uuid.UUID | None = None,
               audit_firm_id: uuid.UUID | None = None, role: str | None = None) -> Page[User]:
    query = select(User)
    if organization_id:
        query = query.where(User.organization_id == organization_id)
    if audit_firm_id:
        query = query.where(User.audit_firm_id == audit_firm_id)
    if role:
        query = query.where(User.role == role)
    return _page(session, query.options(*_USER_LOAD).order_by(User.name, User.id), params)


def count_admins(session: Session, organization_id: uuid.UUID) -> int:
    return session.scalar(
        select(func.count()).select_from(User).where(
            User.organization_id == organization_id, User.role == "member_admin", User.active)
    ) or 0


def pending_invitation(session: Session, email: str, now: datetime, *,
                       organization_id: uuid.UUID | None,
                       audit_firm_id: uuid.UUID | None) -> Invitation | None:
    """The live invitation of ``email`` from one inviting body: an organisation, an audit
    firm, or the secretariat (both ids None). Other bodies' invitations are not matched."""
    return session.scalar(
        select(Invitation).where(Invitation.email == email.lower(),
                                 _same_body(organization_id, audit_firm_id),
                                 Invitation.accepted_at.is_(None),
                                 Invitation.revoked_at.is_(None), Invitation.expires_at > now)
    )


def _same_body(organization_id: uuid.UUID | None,
               audit_firm_id: uuid.UUID | None) -> ColumnElement[bool]:
    return and_(Invitation.organization_id.is_(None) if organization_id is None
                else Invitation.organization_id == organization_id,
                Invitation.audit_firm_id.is_(None) if audit_firm_id is None
                else Invitation.audit_firm_id == audit_firm_id)


def open_invitations_of(session: Session, email: str) -> list[Invitation]:
    """Every invitation of ``email`` neither accepted nor revoked (expired ones too)."""
    return list(session.scalars(
        select(Invitation).where(Invitation.email == email.lower(),
                                 Invitation.accepted_at.is_(None),
                                 Invitation.revoked_at.is_(None))))


def invitation_by_digest(session: Session, digest: str) -> Invitation | None:
    return session.scalar(select(Invitation).where(Invitation.token_digest == digest))


def list_invitations(session: Session, *, organization_id: uuid.UUID | None,
                     now: datetime) -> list[Invitation]:
    query = select(Invitation).where(Invitation.accepted_at.is_(None),
                                     Invitation.revoked_at.is_(None),
                                     Invitation.expires_at > now)
    if organization_id:
        query = query.where(Invitation.organization_id == organization_id)
    return list(session.scalars(query.order_by(Invitation.created_at.desc())))


def token_by_digest(session: Session, digest: str) -> ApiToken | None:
    return session.scalar(select(ApiToken).where(ApiToken.token_digest == digest))


def record_token_use(session: Session, token_id: uuid.UUID, now: datetime,
                     stale_before: datetime) -> bool:
    """Set the token's last use to ``now`` if it is older than ``stale_before``; skipped
    (False) when it is recent, or when another request holds the row at this moment
    (``SKIP LOCKED`` on PostgreSQL: nobody waits for this bookkeeping)."""
    target = (select(ApiToken.id)
              .where(ApiToken.id == token_id,
                     or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < stale_before))
              .with_for_update(skip_locked=True)
              .scalar_subquery())
    result = session.execute(update(ApiToken).where(ApiToken.id == target)
                             .values(last_used_at=now)
                             .execution_options(synchronize_session=False))
    return bool(getattr(result, "rowcount", 0))


def tokens_of(session: Session, user_id: uuid.UUID) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user_id)
                                .order_by(ApiToken.created_at.desc())))


def session_by_digest(session: Session, digest: str) -> UserSession | None:
    return session.scalar(select(UserSession).where(UserSession.token_digest == digest))


def recent_failures(session: Session, email: str, ip: str, since: datetime) -> list[datetime]:
    """Failed sign-ins for this e-mail from this client address since ``since``."""
    return list(session.scalars(
        select(LoginAttempt.at).where(LoginAttempt.email == email.lower(),
                                      LoginAttempt.ip == ip, LoginAttempt.at >= since)
    ))


def clear_failures(session: Session, email: str, ip: str) -> None:
    """Forget the failures from one address: another address's count stays as it is."""
    session.execute(delete(LoginAttempt).where(LoginAttempt.email == email.lower(),
                                               LoginAttempt.ip == ip))


def login_link_by_digest(session: Session, digest: str) -> LoginLink | None:
    return session.scalar(select(LoginLink).where(LoginLink.token_digest == digest))


def count_login_links(session: Session, user_id: uuid.UUID, since: datetime) -> int:
    return session.scalar(select(func.count()).select_from(LoginLink).where(
        LoginLink.user_id == user_id, LoginLink.created_at >= since)) or 0


def delete_session(session: Session, digest: str) -> None:
    session.execute(delete(UserSession).where(UserSession.token_digest == digest))


# --- names for the references the event log keeps ---------------------------------------


def user_names(session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, tuple[str, str]]:
    """Each user's name and the name of the organisation or audit firm they act for ("" for
    the secretariat), in one query."""
    if not ids:
        return {}
    rows = session.execute(
        select(User.id, User.name, Organization.name, AuditFirm.name)
        .outerjoin(Organization, Organization.id == User.organization_id)
        .outerjoin(AuditFirm, AuditFirm.id == User.audit_firm_id)
        .where(User.id.in_(ids)))
    return {uid: (name, org or firm or "") for uid, name, org, firm in rows}


def names_by_key(session: Session, kind: str, keys: Sequence[str]) -> dict[str, str]:
    """Names of organisations and audit firms (by slug), facilities (by public id) or legal
    entities (by id), in one query per kind."""
    if not keys:
        return {}
    if kind == "entity":
        ids = []
        for key in keys:
            try:
                ids.append(uuid.UUID(key))
            except ValueError:
                continue
        rows = session.execute(select(Entity.id, Entity.name).where(Entity.id.in_(ids)))
        return {str(i): name for i, name in rows}
    column = {"organization": (Organization.slug, Organization.name),
              "audit_firm": (AuditFirm.slug, AuditFirm.name),
              "facility": (Facility.public_id, Facility.name)}[kind]
    return {key: name for key, name in session.execute(
        select(*column).where(column[0].in_(keys)))}
