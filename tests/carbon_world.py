"""A small carbon world for the carbon tests: the Performance standard (version 3, whose
smelter threshold is cradle to gate) loaded, a smelter member whose one entity has a smelter
and a casthouse, a mill member, each with an admin and a user, the secretariat and an
auditor."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from stewardship.core.auth import Actor, Role
from tests import factories
from tests.assurance_world import load_standard


@dataclass
class Member:
    slug: str
    entity_id: uuid.UUID
    facility: str
    admin: Actor
    user: Actor


@dataclass
class CarbonWorld:
    smelter: Member
    casthouse: str
    """Public id of the smelter member's casthouse."""
    mill: Member
    secretariat: Actor
    auditor: Actor


def _member(db: Session, name: str, country: str, activities: list[str]) -> Member:
    slug = factories.organization(db, name=name, country=country)
    entity = factories.entity(db, slug, f"{name} AS")
    facility = factories.facility(db, slug, name=f"{name} Works", country=country,
                                  activities=activities, entity_id=entity.id).facility.id
    return Member(slug=slug, entity_id=entity.id, facility=facility,
                  admin=factories.user(db, Role.MEMBER_ADMIN, organization=slug),
                  user=factories.user(db, Role.MEMBER_USER, organization=slug))


def build(db: Session, *, standard: str = "performance-v3.yaml") -> CarbonWorld:
    load_standard(db, standard)
    smelter = _member(db, f"Carbon Smelter {uuid.uuid4().hex[:4]}", "NO", ["smelting"])
    casthouse = factories.facility(db, smelter.slug, name="Carbon Casthouse", country="NO",
                                   address="Kaia 2", activities=["casthouse"],
                                   entity_id=smelter.entity_id).facility.id
    mill = _member(db, f"Carbon Mill {uuid.uuid4().hex[:4]}", "DE", ["semi_fabrication"])
    firm = factories.audit_firm(db)
    return CarbonWorld(smelter=smelter, casthouse=casthouse, mill=mill,
                       secretariat=factories.user(db, Role.SECRETARIAT),
                       auditor=factories.user(db, Role.AUDITOR, audit_firm=firm))


def smelter_body(year: int, *, facility: str | None = None, scope1: str = "640000",
                 electricity_mwh: str = "6300000", factor: str = "0.011",
                 output_kg: int = 420_000_000, commissioned: int = 1968,
                 **extra: Any) -> dict[str, Any]:
    """A year's smelter inventory as the API takes it (hydro-powered unless told)."""
    body: dict[str, Any] = {
        "period_start": date(year, 1, 1).isoformat(), "period_end": date(year, 12, 31).isoformat(),
        "scope1_t": scope1, "pfc_t": "42000", "pfc_method": "slope",
        "anodes_consumed_t": "180000", "electricity_mwh": electricity_mwh,
        "electricity_factor_t_per_mwh": factor,
        "electricity_factor_source": "hydropower supply contract",
        "scope3_cat1_t": "0", "method": "GHG Protocol with the sector's guidance",
        "commissioned_year": commissioned,
        "processes": [{"process": "smelting", "output_kg": output_kg}]}
    if facility is not None:
        body["facility_id"] = facility
    body.update(extra)
    return body
