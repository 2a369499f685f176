"""Input and output models of the carbon API and pages.

Every quantity names its unit in its field name (``scope1_t``: tonnes of CO2e,
``output_kg``: whole kilograms, ``electricity_mwh``): a field in any other unit is an
unknown field and refused by name.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field, field_validator

from stewardship.carbon.rules import (
    Allocation,
    PfcMethod,
    Process,
    ThresholdStatus,
    Verification,
)
from stewardship.core.schemas import InputModel, OutputModel, PageOut

MAX_KG = 10**13
"""Ten million tonnes of one process's output in a period: beyond any site."""
Tonnes = Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=3,
                                  description="t CO2e, zero or more, to the kilogram")]
Intensity = Annotated[Decimal, Field(description="t CO2e per t of product")]


class ProcessInput(InputModel):
    """One process the inventory covers and what it put out in the period."""

    process: Process
    output_kg: int = Field(gt=0, le=MAX_KG, description="Output of the period, whole kg")
    declared_t: Tonnes | None = Field(
        default=None, description="This process's own share of Scope 1 and 2, t CO2e; "
                                  "required for every process when allocation is declared")


class InventoryFigures(InputModel):
    """What an inventory says for its period: emissions in t CO2e, electricity and its
    factor (Scope 2 is their product), production per process."""

    period_start: date
    period_end: date
    scope1_t: Tonnes = Field(description="Direct emissions from fuels and processes, t "
                                         "CO2e, PFCs excluded")
    pfc_t: Tonnes = Field(default=Decimal(0), description="CF4 and C2F6 from anode effects, "
                                                          "t CO2e (smelting only)")
    pfc_method: PfcMethod | None = Field(
        default=None, description="How the PFCs were quantified; required with pfc_t")
    anodes_consumed_t: Tonnes | None = Field(
        default=None, description="Carbon anodes consumed, tonnes (smelting only)")
    electricity_mwh: Tonnes = Field(default=Decimal(0), description="Electricity consumed, "
                                                                    "MWh")
    electricity_factor_t_per_mwh: Decimal = Field(
        default=Decimal(0), ge=0, le=5, max_digits=10, decimal_places=6,
        description="Emission factor of that electricity, t CO2e per MWh")
    electricity_factor_source: str = Field(
        default="", max_length=200,
        description="Where the factor comes from (a supply contract, a grid average and "
                    "its year); required with electricity")
    scope3_cat1_t: Tonnes = Field(default=Decimal(0), description="Upstream purchased goods "
                                                                  "and services")
    scope3_cat3_t: Tonnes = Field(default=Decimal(0), description="Upstream fuel- and "
                                                                  "energy-related activities")
    scope3_cat4_t: Tonnes = Field(default=Decimal(0), description="Upstream transport and "
                                                                  "distribution")
    allocation: Allocation = Allocation.MASS
    method: str = Field(min_length=2, max_length=200,
                        description="The accounting method followed (GHG Protocol, the "
                                    "aluminium sector's guidance, ...)")
    verification: Verification = Verification.SELF_DECLARED
    commissioned_year: int | None = Field(
        default=None, ge=1850, le=2200,
        description="Year the smelter was commissioned; required with smelting")
    processes: list[ProcessInput] = Field(min_length=1, max_length=len(Process),
                                          description="Production per process")

    @field_validator("processes")
    @classmethod
    def _once_each(cls, value: list[ProcessInput]) -> list[ProcessInput]:
        seen: set[str] = set()
        for p in value:
            if p.process.value in seen:
                raise ValueError(f"the process {p.process.value} is listed twice")
            seen.add(p.process.value)
        return value


class InventoryCreate(InventoryFigures):
    """An inventory of one entity, or of one of its facilities (an installation), for one
    period."""

    entity_id: uuid.UUID | None = Field(
        default=None, description="The entity of your organisation; may be left out when "
                                  "it has one entity")
    facility_id: str | None = Field(
        default=None, min_length=13, max_length=13,
        description="Public id of the installation, for a facility's own inventory; left "
                    "out for the whole entity")


class InventoryCorrection(InventoryFigures):
    """The inventory's figures as they should read, with why they changed. Entity and
    facility stay; the period may move (never onto another inventory's)."""

    reason: str = Field(min_length=5, max_length=2_000,
                        description="Why the figures are corrected (kept in the event log)")


# --- outputs ----------------------------------------------------------------------------


class ProcessRead(OutputModel):
    process: str
    process_label: str
    output_kg: int
    declared_t: Decimal | None
    intensity_t_per_t: Intensity = Field(description="Scope 1+2 allocated to the process, "
                                                     "per t of its output")
    cradle_to_gate_t_per_t: Decimal | None = Field(
        description="Scope 1+2 plus the upstream Scope 3 categories, per t of its output; "
                    "null where no upstream emissions are recorded")


class ThresholdRead(OutputModel):
    """The smelter threshold check of one inventory."""

    status: ThresholdStatus
    status_label: str
    flagged: bool = Field(description="Above a limit that applies, or off the path to it")
    intensity_t_per_t: Intensity = Field(description="Smelting's intensity on the limits' "
                                                     "basis, per t Al")
    limit_t_per_t: Intensity
    allowed_t_per_t: Intensity = Field(description="The limit, or for an older smelter "
                                                   "before 2030 the point of its path")
    due_on: date | None = Field(description="When an older smelter must reach the limit")
    new_smelter: bool = Field(description="Commissioned from 2020 (or year not recorded)")
    commissioned_year: int | None
    criterion: str = Field(description="The standard's criterion and version the limits "
                                       "come from")
    basis: str = Field(description="What the limits count: scope12 (Scope 1+2 of smelting "
                                   "per t Al) or cradle_to_gate (with upstream Scope 3 "
                                   "categories 1, 3, 4), as the standard version says")
    basis_label: str
    summary: str


class InventoryRead(OutputModel):
    id: uuid.UUID
    organization: str
    organization_name: str
    entity_id: uuid.UUID
    entity: str
    facility_id: str | None
    facility: str | None
    period_start: date
    period_end: date
    scope1_t: Decimal
    pfc_t: Decimal
    pfc_method: str | None
    anodes_consumed_t: Decimal | None
    electricity_mwh: Decimal
    electricity_factor_t_per_mwh: Decimal
    electricity_factor_source: str
    scope2_t: Decimal = Field(description="electricity_mwh x electricity_factor_t_per_mwh")
    scope12_t: Decimal = Field(description="Scope 1 (PFCs included) and Scope 2")
    scope3_cat1_t: Decimal
    scope3_cat3_t: Decimal
    scope3_cat4_t: Decimal
    scope3_t: Decimal
    allocation: str
    method: str
    verification: str
    commissioned_year: int | None
    output_kg: int = Field(description="All processes' output together")
    intensity_t_per_t: Decimal | None = Field(description="Scope 1+2 per t of all output")
    processes: list[ProcessRead]
    threshold: ThresholdRead | None = Field(
        description="The smelter threshold check, for an inventory with smelting")
    revision: int = Field(description="1 as recorded, one more for each correction")
    recorded_by: str
    created_at: datetime
    updated_at: datetime


class InventoryPage(PageOut[InventoryRead]):
    pass


class SmelterRead(OutputModel):
    """One smelter's latest inventory against the threshold: public."""

    organization: str
    organization_name: str
    entity: str
    facility: str | None
    facility_id: str | None = None
    """The smelter's public facility id (its page is /facilities/{id}): the inventory's
    facility, or the entity's smelting facility for an entity-wide inventory."""
    country: str | None
    period_start: date
    period_end: date
    verification: str
    threshold: ThresholdRead


class SmelterBoard(OutputModel):
    """Smelters' Scope 1+2 intensity against the standard's threshold."""

    new_max_t_per_t: Decimal | None
    new_from: date | None
    existing_max_t_per_t: Decimal | None
    existing_by: date | None
    criterion: str | None
    basis: str | None
    basis_label: str | None
    smelters: list[SmelterRead]


# --- CBAM -------------------------------------------------------------------------------


class CbamInstallationData(OutputModel):
    """Who the installation is: the facility, or the entity where its inventory is
    entity-wide (then its sole or first facility's address and coordinates)."""

    name: str
    kind: str = Field(description="facility or entity")
    facility_id: str | None
    operator: str
    address: str
    country: str
    un_locode: str | None = Field(description="Not recorded by the platform: always null")
    latitude: Decimal | None
    longitude: Decimal | None


class CbamProcessRead(OutputModel):
    """Emissions and energy of one process of the installation, as attributed to it."""

    process: str
    output_kg: int
    direct_co2_t: Decimal = Field(description="Scope 1 (PFCs apart) attributed, t CO2")
    pfc_t: Decimal = Field(description="PFCs attributed, t CO2e")
    direct_t: Decimal
    electricity_mwh: Decimal
    electricity_factor_t_per_mwh: Decimal
    indirect_t: Decimal


class CbamPrecursorRead(OutputModel):
    """One received CoC document whose metal the good consumed."""

    document: str
    cn_code: str
    description: str
    supplier: str
    origin_country: str
    quantity_kg: int
    see_direct_t_per_t: Decimal
    embedded_t: Decimal
    source: str = Field(description="supplier_direct (the suppliers' direct share), "
                                    "supplier_scope12 (the direct share could not be "
                                    "separated: Scope 1+2 taken whole), default, or scrap")
    default_used: bool
    note: str


class CbamGoodRead(OutputModel):
    cn_code: str
    name: str
    route: str | None = Field(description="7601: primary or secondary (more than half "
                                          "scrap); null for aluminium products")
    processes: list[str]
    activity_level_kg: int
    direct_t: Decimal
    precursors_t: Decimal
    see_direct_t_per_t: Decimal
    indirect_t: Decimal
    see_indirect_t_per_t: Decimal
    precursors: list[CbamPrecursorRead]
    notes: list[str]


class CbamReference(OutputModel):
    illustrative: bool
    defaults_source: str
    defaults_date: str
    benchmarks: list[dict[str, str]]


class CbamReport(OutputModel):
    """An installation's CBAM data for one period, from one emission inventory."""

    inventory_id: uuid.UUID
    period_start: date
    period_end: date
    installation: CbamInstallationData
    verification: str
    method: str
    electricity_factor_source: str
    processes: list[CbamProcessRead]
    goods: list[CbamGoodRead]
    not_covered: list[str] = Field(description="Processes whose output CBAM's aluminium "
                                               "goods do not include (bauxite, alumina)")
    reference: CbamReference
    notes: list[str]


class CbamImportLine(OutputModel):
    cn_code: str
    name: str
    origin_country: str
    documents: int
    quantity_kg: int
    embedded_direct_t: Decimal
    see_direct_t_per_t: Decimal
    default_documents: int = Field(description="Documents for which default values stood "
                                               "in (no supplier footprint)")
    scope12_documents: int = Field(description="Documents whose direct share could not be "
                                               "separated: Scope 1+2 taken whole")


class CbamImports(OutputModel):
    """What an EU importer received from non-EU installations in a year, for its annual
    declaration, by CN code and origin country."""

    organization: str
    country: str
    year: int
    cn_code: str | None
    lines: list[CbamImportLine]
    total_quantity_kg: int
    total_embedded_direct_t: Decimal
    documents: list[CbamPrecursorRead]
    reference: CbamReference
