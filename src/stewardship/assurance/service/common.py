"""What every assurance use case shares: who may see an organisation's confidential work,
loading a scope or an audit the actor may see, the applicable criteria of a scope, and
the labels (organisation, entity, standard, facilities) the read models carry."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from stewardship.assurance import repository as repo
from stewardship.assurance.models import Audit, CertificationScope
from stewardship.assurance.schemas import (
    CriterionApplicability,
    EntityRef,
    FacilityBrief,
    OrganizationRef,
    StandardRef,
)
from stewardship.core import clock
from stewardship.core.auth import Actor, Role
from stewardship.core.errors import InvalidInput, NotFound
from stewardship.registry import repository as registry_repo
from stewardship.registry.models import Organization
from stewardship.standards import repository as standards_repo
from stewardship.standards.models import StandardVersion
from stewardship.standards.rules import usable_for_new_audit
from stewardship.standards.schemas import ApplicabilityQuery
from stewardship.standards.service import library


def today_or(day: date | None) -> date:
    return day if day is not None else clock.today()


def own_organization(db: Session, actor: Actor) -> Organization:
    """The organisation a member acts for."""
    if actor.organization_id is None:
        raise InvalidInput("this account belongs to no organisation", field="organization")
    org = registry_repo.organization_by_id(db, actor.organization_id)
    if org is None:
        raise NotFound("your organisation no longer exists", field="organization")
    return org


def organization_for(db: Session, actor: Actor, slug: str | None) -> uuid.UUID | None:
    """The organisation a list is narrowed to: the member's own, the one the secretariat
    names, or None for the secretariat's view of everyone."""
    if actor.role in (Role.MEMBER_ADMIN, Role.MEMBER_USER):
        return actor.organization_id
    if slug:
        org = registry_repo.organization_by_slug(db, slug)
        if org is None:
            raise NotFound(f"no organisation '{slug}'", field="organization")
        return org.id
    return None


def may_see(db: Session, actor: Actor, organization_id: uuid.UUID) -> bool:
    """Confidential work of an organisation (scopes, self-assessments, evidence, audits):
    its own members, the secretariat, and an audit firm with an audit of it."""
    if actor.is_secretariat() or actor.belongs_to(organization_id):
        return True
    if actor.role is Role.AUDITOR and actor.audit_firm_id is not None:
        return repo.firm_audits_organization(db, actor.audit_firm_id, organization_id)
    return False


def load_scope(db: Session, actor: Actor, scope_id: uuid.UUID) -> CertificationScope:
    scope = repo.scope_by_id(db, scope_id)
    if scope is None or not _may_see_scope(db, actor, scope):
        raise NotFound("no such certification scope", field="scope_id")
    return scope


def _may_see_scope(db: Session, actor: Actor, scope: CertificationScope) -> bool:
    if actor.is_secretariat() or actor.belongs_to(scope.organization_id):
        return True
    return (actor.role is Role.AUDITOR and actor.audit_firm_id is not None
            and repo.firm_audits_scope(db, actor.audit_firm_id, scope.id))


def load_audit(db: Session, actor: Actor, audit_id: uuid.UUID) -> Audit:
    """An audit the actor may see: its organisation's members, the secretariat, and the
    assigned firm's auditors. Anyone else is told it does not exist."""
    audit = repo.audit_by_id(db, audit_id)
    visible = audit is not None and (
        actor.is_secretariat() or actor.belongs_to(audit.organization_id)
        or (actor.role is Role.AUDITOR and actor.audit_firm_id == audit.audit_firm_id))
    if audit is None or not visible:
        raise NotFound("no such audit", field="audit_id")
    return audit


# --- the standard version of a scope ----------------------------------------------------


def slug_of(db: Session, version: StandardVersion) -> str:
    return repo.standard_of(db, version).slug


def kind_of(db: Session, version: StandardVersion) -> str:
    return repo.standard_of(db, version).kind


def version_row(db: Session, version_id: uuid.UUID) -> StandardVersion:
    row = standards_repo.version_by_id(db, version_id)
    if row is None:  # pragma: no cover - a foreign key keeps it
        raise NotFound("the scope's standard version is missing")
    return row


def version_refusal(db: Session, version: StandardVersion, on: date) -> str | None:
    """None when the version may be used by an audit on the day; otherwise why not."""
    standard = library.load_standard(db, slug_of(db, version))
    later = sorted((v for v in standard.versions if v.version > version.version),
                   key=lambda v: v.version)
    successor = later[0] if later else None
    ends = successor.transition_ends_on if successor else None
    if usable_for_new_audit(version.effective_on, ends, on):
        return None
    name = f"version {version.version} of '{standard.slug}'"
    if on < version.effective_on:
        return f"{name} takes effect on {version.effective_on}; it cannot be used before"
    assert successor is not None and ends is not None
    return (f"{name} is retired: the transition to version {successor.version} ended on "
            f"{ends}, and no new audit may use version {version.version} from that day; "
            f"use version {successor.version}")


@dataclass(frozen=True)
class Applicable:
    rows: list[CriterionApplicability]

    @property
    def numbers(self) -> list[str]:
        return [r.number for r in self.rows if r.applicable]

    @property
    def titles(self) -> dict[str, str]:
        return {r.number: r.title for r in self.rows}

    def reason(self, number: str) -> str | None:
        return next((r.reason for r in self.rows if r.number == number), None)


def applicability(db: Session, version: StandardVersion, activities: list[str],
                  member_class: str, entity_id: uuid.UUID) -> Applicable:
    """Every criterion of the version with whether it applies to the scope and why; the
    exclusions the secretariat recorded for the entity are respected."""
    result = library.applicability(db, slug_of(db, version), version.version,
                                   ApplicabilityQuery.model_validate(
                                       {"activities": activities, "member_class": member_class,
                                        "entity_id": entity_id}))
    return Applicable([CriterionApplicability(
        number=r.number, title=r.title, principle=int(r.number.split(".")[0]),
        applicable=r.applicable, reason=r.reason) for r in result.rows])


def scope_applicability(db: Session, scope: CertificationScope) -> Applicable:
    return applicability(db, version_row(db, scope.version_id), list(scope.activities),
                         scope.member_class, scope.entity_id)


# --- labels -----------------------------------------------------------------------------


class Labels:
    """Names for the read models, fetched in a few batched reads."""

    def __init__(self, db: Session, *, organizations: list[uuid.UUID] | None = None,
                 entities: list[uuid.UUID] | None = None,
                 versions: list[uuid.UUID] | None = None,
                 facilities: list[uuid.UUID] | None = None,
                 firms: list[uuid.UUID] | None = None) -> None:
        self._orgs = repo.organization_refs(db, organizations or [])
        self._entities = repo.entity_names(db, entities or [])
        self._versions = repo.version_labels(db, versions or [])
        self._facilities = registry_repo.facilities_by_ids(db, facilities or [])
        self._firms = repo.firm_refs(db, firms or [])

    def organization(self, oid: uuid.UUID) -> OrganizationRef:
        slug, name = self._orgs.get(oid, ("", ""))
        return OrganizationRef(slug=slug, name=name)

    def entity(self, eid: uuid.UUID) -> EntityRef:
        return EntityRef(id=eid, name=self._entities.get(eid, ""))

    def standard(self, vid: uuid.UUID) -> StandardRef:
        label = self._versions[vid]
        return StandardRef(slug=label.slug, kind=label.kind, title=label.title,
                           version=label.version)

    def facility(self, fid: uuid.UUID) -> FacilityBrief:
        f = self._facilities[fid]
        return FacilityBrief(id=f.public_id, name=f.name, country=f.country,
                             activities=f.activities)

    def public_id(self, fid: uuid.UUID) -> str:
        return self._facilities[fid].public_id

    def firm(self, fid: uuid.UUID) -> tuple[str, str]:
        return self._firms.get(fid, ("", ""))


def scope_labels(db: Session, scopes: list[CertificationScope]) -> Labels:
    return Labels(db, organizations=[s.organization_id for s in scopes],
                  entities=[s.entity_id for s in scopes],
                  versions=[s.version_id for s in scopes],
                  facilities=[f.facility_id for s in scopes for f in s.facilities])
