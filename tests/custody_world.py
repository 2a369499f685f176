"""A small value chain for the custody tests: a bauxite mine and refinery (AU), a smelter
with its casthouse (NO), a remelter (DE), a rolling mill (DE), a can maker (BR) and an
uncertified trader (GB), each with an entity, a facility and an admin and a user.

Certificates are written straight into the assurance tables (one scope, one decided audit
and one certificate per kind): the custody tests need certificates to exist with given
dates, not the audit flow that the assurance tests cover."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from stewardship.assurance.models import (
    Audit,
    Certificate,
    CertificationScope,
    ScopeFacility,
)
from stewardship.assurance.service import certificates
from stewardship.core import eventlog
from stewardship.core.auth import Actor, Role
from stewardship.custody.schemas import (
    DocumentCreate,
    ProductionCreate,
    Receipt,
    TransformationCreate,
)
from stewardship.custody.service import documents, inputs
from stewardship.registry.schemas import AuditorCreate
from stewardship.registry.service import audit_firms
from tests import factories
from tests.assurance_world import load_standard
from tests.factories import SYSTEM
from tests.today import TODAY

YEAR_START = date(TODAY.year, 1, 1)
_seq = itertools.count(1)


@dataclass
class Member:
    slug: str
    entity_id: uuid.UUID
    facility: str
    """Public id of its facility."""
    admin: Actor
    user: Actor
    country: str
    certificates: dict[str, str] = field(default_factory=dict)


@dataclass
class Chain:
    mine: Member
    smelter: Member
    remelter: Member
    mill: Member
    canmaker: Member
    trader: Member
    secretariat: Actor
    auditor: Actor
    firm_id: uuid.UUID
    lead_id: uuid.UUID
    versions: dict[str, uuid.UUID]


def _member(db: Session, name: str, country: str, activities: list[str]) -> Member:
    n = next(_seq)
    slug = factories.organization(db, name=f"{name} {n}", country=country)
    entity = factories.entity(db, slug, f"{name} {n} Ltd")
    facility = factories.facility(db, slug, name=f"{name} {n} Works", country=country,
                                  address=f"{n} Works Road", activities=activities,
                                  entity_id=entity.id).facility.id
    return Member(slug=slug, entity_id=entity.id, facility=facility,
                  admin=factories.user(db, Role.MEMBER_ADMIN, organization=slug),
                  user=factories.user(db, Role.MEMBER_USER, organization=slug),
                  country=country)


def certify(db: Session, chain: Chain, m: Member, kind: str, *,
            valid_from: date = date(2020, 1, 1),
            valid_until: date = TODAY + timedelta(days=400)) -> str:
    """A current certificate of `kind` (performance or chain_of_custody) for the member."""
    from stewardship.registry import repository as registry_repo

    org = registry_repo.organization_by_slug(db, m.slug)
    facility = registry_repo.facility_by_public_id(db, m.facility)
    assert org is not None and facility is not None
    version_id = chain.versions[kind]
    scope = CertificationScope(organization_id=org.id, entity_id=m.entity_id,
                               version_id=version_id, standard_kind=kind,
                               member_class="production_transformation",
                               activities=facility.activities, name=f"{kind} scope")
    db.add(scope)
    db.flush()
    db.add(ScopeFacility(scope_id=scope.id, facility_id=facility.id))
    audit = Audit(organization_id=org.id, scope_id=scope.id, audit_firm_id=chain.firm_id,
                  lead_auditor_id=chain.lead_id, audit_type="certification",
                  start_on=valid_from - timedelta(days=30),
                  end_on=valid_from - timedelta(days=26), status="decided",
                  outcome="certified", maturity="high", decided_by=SYSTEM.ref)
    db.add(audit)
    db.flush()
    # Recorded as the services record them, so that the database verifies against the log.
    ref = f"audit:{audit.id}"
    eventlog.append(db, SYSTEM, "assurance.audit.planned", ref, {"scope": str(scope.id)})
    eventlog.append(db, SYSTEM, "assurance.audit.submitted", ref,
                    {"from": "in_progress", "proposed_maturity": None})
    eventlog.append(db, SYSTEM, "assurance.audit.decided", ref,
                    {"outcome": "certified", "maturity": "high"})
    number = f"T{'P' if kind == 'performance' else 'C'}-{next(_seq):05d}"
    cert = Certificate(number=number, organization_id=org.id, entity_id=m.entity_id,
                       holder_name=org.name, entity_name=f"{org.name} entity",
                       scope_id=scope.id, audit_id=audit.id, version_id=version_id,
                       standard_kind=kind, certificate_type="full", maturity="high",
                       valid_from=valid_from, valid_until=valid_until, status="active")
    certificates.attach_coverage(cert, [], [])
    db.add(cert)
    db.flush()
    certificates.record_change(db, SYSTEM, cert, None, "active", "issued")
    m.certificates[kind] = number
    return number


def build(db: Session, *, certified: bool = True) -> Chain:
    firm = factories.audit_firm(db)
    from stewardship.registry import repository as registry_repo

    lead = audit_firms.add_auditor(db, SYSTEM, firm, AuditorCreate(
        name="Lee Lead", email=f"lee.{next(_seq)}@firm.example", lead=True))
    firm_row = registry_repo.audit_firm_by_slug(db, firm)
    assert firm_row is not None
    versions = {"performance": load_standard(db),
                "chain_of_custody": load_standard(db, "chain-of-custody-v2.yaml")}
    chain = Chain(
        mine=_member(db, "Red Earth Bauxite", "AU", ["bauxite_mining", "alumina_refining"]),
        smelter=_member(db, "Fjell Aluminium", "NO", ["smelting", "casthouse"]),
        remelter=_member(db, "Kreis Remelt", "DE", ["remelting_refining", "casthouse"]),
        mill=_member(db, "Walz Rolling", "DE", ["semi_fabrication"]),
        canmaker=_member(db, "Lata Cans", "BR", ["material_conversion"]),
        trader=_member(db, "Plain Trading", "GB", ["other_manufacturing"]),
        secretariat=factories.user(db, Role.SECRETARIAT),
        auditor=factories.user(db, Role.AUDITOR, audit_firm=firm),
        firm_id=firm_row.id, lead_id=lead.id, versions=versions)
    if certified:
        for m in (chain.mine, chain.smelter, chain.remelter, chain.mill, chain.canmaker):
            certify(db, chain, m, "performance")
            certify(db, chain, m, "chain_of_custody")
    return chain


# --- short-hands ------------------------------------------------------------------------


def produce(db: Session, m: Member, material: str, kg: int, on: date | None = None) -> None:
    inputs.record_production(db, m.user, ProductionCreate(
        facility_id=m.facility, material=material, kilograms=kg,
        occurred_on=on or TODAY), today=TODAY)


def transform(db: Session, m: Member, transformation: str, source: str, kg: int,
              declared: str, on: date | None = None) -> None:
    inputs.record_transformation(db, m.user, TransformationCreate(
        facility_id=m.facility, transformation=transformation, source_material=source,
        input_kg=kg, declared_yield=Decimal(declared), occurred_on=on or TODAY), today=TODAY)


def ship(db: Session, issuer: Member, recipient: Member, material: str, coc_kg: int, *,
         quantity: int | None = None, on: date | None = None) -> str:
    return documents.issue_document(db, issuer.user, DocumentCreate(
        recipient_entity_id=recipient.entity_id, material=material,
        quantity_kg=quantity or coc_kg, coc_quantity_kg=coc_kg,
        shipment_date=on or TODAY), today=TODAY).number


def receive(db: Session, recipient: Member, number: str, on: date | None = None) -> None:
    documents.receive_document(db, recipient.user, number, Receipt(received_on=on),
                               today=TODAY)


def add_member(db: Session, chain: Chain, name: str, country: str, activities: list[str], *,
               certified: bool = True) -> Member:
    """One more member beside the chain's (e.g. a third smelter for the network's
    three-entity rule), certified for both standards unless told otherwise."""
    m = _member(db, name, country, activities)
    if certified:
        certify(db, chain, m, "performance")
        certify(db, chain, m, "chain_of_custody")
    return m


def add_facility(db: Session, m: Member, name: str, activities: list[str]) -> str:
    """Another facility of the member's entity; returns its public id."""
    n = next(_seq)
    return str(factories.facility(db, m.slug, name=f"{name} {n}", country=m.country,
                                  address=f"{n} Side Road", activities=activities,
                                  entity_id=m.entity_id).facility.id)
