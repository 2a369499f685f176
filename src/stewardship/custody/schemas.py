"""Input and output models of the custody API and pages."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from stewardship.core.schemas import InputModel, OutputModel, PageOut
from stewardship.custody.rules import CocMaterial, ScrapKind, Transformation

MAX_KG = 10**12  # a gigatonne: far beyond any single movement, well inside BIGINT
Kilograms = Annotated[int, Field(gt=0, le=MAX_KG, description="Whole kilograms, above zero")]
Note = Annotated[str, Field(default="", max_length=2_000)]
DOCUMENT_NUMBER = r"^[A-Z0-9][A-Z0-9-]{3,39}$"

# --- inputs -----------------------------------------------------------------------------


class _EntityInput(InputModel):
    entity_id: uuid.UUID | None = Field(
        default=None, description="The entity of your organisation whose account moves; "
                                  "may be left out when the organisation has one entity")


OverrideReason = Annotated[str | None, Field(
    min_length=10, max_length=2_000,
    description="Secretariat only: why output beyond the facility's capacity for the "
                "period is recorded all the same (stored on the operation and in the "
                "event log). The secretariat records for a member's entity, named in "
                "entity_id, only with this reason; a member sending it is refused (403).")]


class ProductionCreate(_EntityInput):
    """CoC material produced at its origin: a certified mine's bauxite, a certified
    refinery's alumina, a certified smelter's aluminium."""

    facility_id: str = Field(min_length=13, max_length=13,
                             description="Public id of the producing facility")
    material: CocMaterial
    kilograms: Kilograms
    occurred_on: date
    note: Note
    capacity_override_reason: OverrideReason = None


class ScrapIntakeCreate(_EntityInput):
    """Eligible scrap taken in by a remelter after its due diligence."""

    facility_id: str = Field(min_length=13, max_length=13,
                             description="Public id of the remelting facility")
    scrap_kind: ScrapKind
    kilograms: Kilograms
    occurred_on: date
    note: Note = Field(default="", max_length=2_000,
                       description="Supplier and due-diligence reference")


class NonCocInputCreate(_EntityInput):
    """Material taken in without CoC status: counted for the CoC input percentage only."""

    material: CocMaterial
    kilograms: Kilograms
    occurred_on: date
    note: Note


OptionalKilograms = Annotated[int | None, Field(gt=0, le=MAX_KG)]


class TransformationCreate(_EntityInput):
    """A transformation as it physically happened: ``total_input_kg`` (everything that
    went in, CoC or not), ``total_output_kg`` (everything that came out) and
    ``coc_input_kg`` (the CoC part of the input, taken from the balance). The yield is
    total output / total input (held against physics), the CoC credit is the CoC input
    times that yield, rounded down.

    The older shape, ``input_kg`` at a ``declared_yield``, still works and means a
    transformation whose whole input was CoC (input_kg is then total and CoC input, and
    the total output is input_kg times the yield, rounded down). Give one shape."""

    facility_id: str = Field(min_length=13, max_length=13)
    transformation: Transformation
    source_material: CocMaterial
    total_input_kg: OptionalKilograms = Field(
        default=None, description="Everything that went in, CoC and non-CoC, whole kg")
    total_output_kg: OptionalKilograms = Field(
        default=None, description="Everything that came out, whole kg")
    coc_input_kg: OptionalKilograms = Field(
        default=None, description="The CoC part of the input (at most the total input); "
                                  "it must be covered by the balance")
    input_kg: OptionalKilograms = Field(
        default=None, description="Older shape: CoC input, all of the input")
    declared_yield: Decimal | None = Field(
        default=None, gt=0, le=1, max_digits=8, decimal_places=6,
        description="Older shape: kg of output per kg of input")
    occurred_on: date
    note: Note
    capacity_override_reason: OverrideReason = None


class DocumentCreate(InputModel):
    """A CoC document to a customer."""

    issuer_entity_id: uuid.UUID | None = Field(
        default=None, description="Your entity; may be left out when you have one")
    recipient_entity_id: uuid.UUID = Field(description="The customer's entity")
    material: CocMaterial
    quantity_kg: Kilograms = Field(description="Kilograms shipped")
    coc_quantity_kg: Kilograms = Field(description="Kilograms of it designated CoC material")
    shipment_date: date
    period_start: date | None = Field(
        default=None, description="The accounting period the shipment belongs to; "
                                  "computed from the shipment date when left out")
    number: str | None = Field(default=None, pattern=DOCUMENT_NUMBER,
                               description="Your own document number; generated when left out")
    description: str = Field(default="", max_length=200)
    recycled_percent: Decimal | None = Field(default=None, ge=0, le=100, max_digits=5,
                                             decimal_places=2)
    recycled_method: str | None = Field(default=None, max_length=200, validate_default=True)

    @field_validator("recycled_method")
    @classmethod
    def _recycled_needs_method(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("recycled_percent") is not None and not value:
            raise ValueError("say how the recycled content was determined")
        return value


MAX_BATCH = 1_000
"""Most CoC documents one batch issues; split longer lists into several requests."""


class DocumentBatch(InputModel):
    """Several CoC documents issued together, all or nothing (an ERP's shipments)."""

    items: list[DocumentCreate] = Field(
        min_length=1, max_length=MAX_BATCH,
        description=f"The documents, 1 to {MAX_BATCH:,}; one refused item refuses the "
                    "batch, naming the item's index")


class Receipt(InputModel):
    received_on: date | None = Field(default=None, description="Defaults to today")


class Refusal(InputModel):
    reason: str = Field(min_length=3, max_length=2_000)


class ReversalCreate(InputModel):
    """Why a journal entry is reversed: it stays in the journal, beside its reversal."""

    reason: str = Field(min_length=3, max_length=2_000,
                        description="Why the entry was mistaken (kept on the reversal)")


class PeriodClose(_EntityInput):
    period_start: date


class SettingsUpdate(InputModel):
    period_months: Literal[1, 3, 12] = 12
    carry_over_cap: int | None = Field(default=None, ge=0, le=MAX_KG)
    carry_over_expiry: int = Field(default=1, ge=1, le=12)


# --- outputs ----------------------------------------------------------------------------


class Party(OutputModel):
    entity_id: uuid.UUID
    entity: str
    organization: str = Field(description="Organisation slug")
    organization_name: str
    performance_certificate: str | None = None
    coc_certificate: str | None = None


class OriginSite(OutputModel):
    stage: str = Field(description="smelter, remelter, refinery, bauxite_mine, or "
                                   "unrecorded (an origin stored before stages were kept)")
    stage_label: str
    facility_id: str
    facility: str
    country: str


class UpstreamShare(OutputModel):
    """Part of an origin, by where it came from before its first-level site."""

    sites: list[OriginSite] = Field(description="The earlier stages, latest first (the "
                                                "refinery, then the mine); empty: not "
                                                "recorded in the chain")
    kilograms: int
    percent: Decimal = Field(description="Percent of this origin; an origin's add up to "
                                         "100.00")


class OriginShare(OutputModel):
    """A first-level origin: the smelter or remelter of metal (the refinery of alumina,
    the mine of bauxite), and where its material came from before."""

    facility_id: str
    facility: str
    country: str
    route: str = Field(description="primary or recycled")
    stage: str = Field(description="smelter, remelter, refinery, bauxite_mine or "
                                   "unrecorded")
    stage_label: str
    kilograms: int
    percent: Decimal = Field(description="Percent of the composition, rounded to the "
                                         "nearest by the largest remainder: the origins "
                                         "add up to exactly 100.00, and none with mass "
                                         "shows less than 0.01")
    upstream: list[UpstreamShare] = Field(
        default_factory=list, description="The second level: its earlier stages (for "
                                          "smelted metal its refinery and mine), largest "
                                          "first; empty when none is recorded")


class Composition(OutputModel):
    kilograms: int
    origins: list[OriginShare]
    recycled_percent: Decimal = Field(description="Primary and recycled add up to 100.00")
    primary_percent: Decimal
    attributes_per_kg: dict[str, Decimal] = Field(default_factory=dict)
    summary: str = Field(description="In words: '62.00% Fjordal Smelter (NO), ...'")


class AccountRead(OutputModel):
    id: uuid.UUID
    entity: Party
    material: CocMaterial
    material_label: str
    period_start: date
    period_end: date
    status: str
    carried_in: int
    produced: int
    received: int
    transformed_in: int
    transformed_out: int
    issued: int
    non_coc_in: int
    carried_out: int
    expired: int
    balance_kg: int
    input_percentage: Decimal = Field(description="CoC share of all input, percent")
    composition: Composition


class BalancePoint(OutputModel):
    """The balance of an account at the end of one day on which it moved."""

    on: date
    change_kg: int = Field(description="Net movement of the day, whole kilograms "
                                       "(negative: out)")
    balance_kg: int = Field(description="Balance after the day's movements")
    movements: int = Field(description="Journal legs on the account that day")


class AccountHistory(OutputModel):
    """An account's balance over its period, day by day, from its journal."""

    account: AccountRead
    points: list[BalancePoint]


class AccountPage(PageOut[AccountRead]):
    pass


class OperationRead(OutputModel):
    id: uuid.UUID
    entity_id: uuid.UUID
    kind: str
    material: str
    source_material: str | None
    transformation: str | None
    facility_id: str | None
    input_kg: int | None = Field(description="A transformation's CoC input")
    kilograms: int = Field(description="Kilograms credited or debited (a transformation's "
                                       "CoC output)")
    declared_yield: Decimal | None = Field(
        description="A transformation's yield, total output / total input (six decimals)")
    typical_yield: str | None = None
    total_input_kg: int | None = Field(
        default=None, description="A transformation's whole input, CoC and non-CoC")
    total_output_kg: int | None = Field(
        default=None, description="A transformation's whole output")
    coc_input_percent: Decimal | None = Field(
        default=None, description="A transformation's CoC share of its input, percent")
    capacity_override: str | None = Field(
        default=None, description="The secretariat's reason for recording output beyond "
                                  "the facility's capacity")
    scrap_kind: str | None
    occurred_on: date
    period_start: date
    document: str | None
    note: str
    """Free text; a reversal's reason."""
    recorded_at: datetime
    reverses: uuid.UUID | None = Field(default=None, description="A reversal: the entry "
                                                                 "it undoes")
    reversed_by: uuid.UUID | None = Field(default=None, description="The reversal that "
                                                                    "undid this entry")
    reversible: bool = Field(default=False, description="A reversal of this entry may be "
                                                        "asked for (its kind allows one and "
                                                        "none exists yet)")


class OperationPage(PageOut[OperationRead]):
    pass


class CertificateAtShipment(OutputModel):
    number: str
    kind: str
    status_now: str
    valid_on_shipment: bool
    valid_from: date
    valid_until: date
    status_since: date | None = Field(
        default=None, description="The day the certificate took its status of today "
                                  "(None: unchanged since issue)")


class FootprintTierRead(OutputModel):
    """One row of a footprint's breakdown: what one entity's process adds per kg."""

    tier: int = Field(description="0: the document's issuer; 1: its suppliers; ...")
    entity: str = Field(description="The entity (empty on the public page; a merged row "
                                    "says how many it stands for)")
    organization: str
    country: str = Field(description="Where the process ran (ISO 3166-1 alpha-2)")
    process: str = Field(description="mining, refining, smelting, remelting, casting, "
                                     "rolling, extrusion, conversion; various or upstream "
                                     "for a merged row")
    kg_co2e_per_kg: Decimal = Field(description="kg CO2e it contributes per kg of the "
                                                "document's metal; the rows add up to "
                                                "the footprint exactly")
    percent: Decimal = Field(description="Its share of the footprint (rows add up to "
                                         "100.00)")
    primary: bool = Field(description="Primary data (the entity's own inventory) or "
                                      "secondary (default values)")
    merged: int = Field(0, description="How many rows this merged row stands for")


class FootprintGapRead(OutputModel):
    """Kilograms whose footprint is not known, and why."""

    tier: int
    entity: str
    organization: str
    process: str
    kilograms: int
    reason: str


class DocumentFootprint(OutputModel):
    """The carbon footprint of the metal a CoC document covers and how it was built up."""

    known: bool
    kg_co2e_per_kg: Decimal | None = Field(description="Cradle-to-gate kg CO2e per kg of "
                                                       "the CoC quantity; null: unknown")
    t_co2e_total: Decimal | None = Field(description="The whole CoC quantity's, t CO2e")
    primary_percent: Decimal | None = Field(description="Share of the footprint that is "
                                                        "primary data")
    secondary_percent: Decimal | None = Field(description="Share from secondary or "
                                                          "default values")
    tiers: list[FootprintTierRead]
    gaps: list[FootprintGapRead] = Field(description="Where unknown: why, with the "
                                                     "kilograms each reason covers")
    basis: str


class DocumentRead(OutputModel):
    number: str
    status: str
    issuer: Party
    recipient: Party
    material: CocMaterial
    material_label: str
    description: str
    quantity_kg: int
    coc_quantity_kg: int
    shipment_date: date
    period_start: date
    period_end: date
    recycled_percent: Decimal | None
    recycled_method: str | None
    composition: Composition
    issued_at: datetime
    decided_at: datetime | None
    received_on: date | None
    reason: str
    verify_path: str
    digest: str = Field(description="SHA-256 of the document's canonical JSON")
    footprint: DocumentFootprint | None = Field(
        None, description="The carbon footprint of the metal it covers, tier by tier")


class DocumentPage(PageOut[DocumentRead]):
    pass


class DocumentBatchRead(OutputModel):
    """The documents a batch issued, in the order the items came."""

    count: int
    items: list[DocumentRead]


class DocumentVerification(OutputModel):
    """What anyone holding the number sees."""

    number: str
    status: str
    issuer: Party
    recipient: Party
    material: CocMaterial
    material_label: str
    quantity_kg: int
    coc_quantity_kg: int
    shipment_date: date
    recycled_percent: Decimal | None
    recycled_method: str | None
    certificates: list[CertificateAtShipment]
    composition: Composition
    digest: str
    """The SHA-256 of the stored document's canonical JSON, recomputed for this answer."""
    record: str
    """``matches``: the digest is the one the event log recorded at issue;
    ``does_not_match``: the stored document was changed since (its figures are not to be
    trusted); ``unrecorded``: the event log holds no trustworthy entry of its issue."""
    recorded_digest: str | None = None
    """The digest the event log recorded at issue."""
    recorded_coc_quantity_kg: int | None = None
    """The CoC quantity the event log recorded at issue."""
    valid_on_shipment: bool = False
    """Whether the issuer held a valid Performance and a valid Chain of Custody
    certificate on the shipment date (what makes the material CoC material)."""
    footprint: DocumentFootprint | None = None
    """The footprint per kg, its primary share and its tiers by process and country
    (the entities are named to the document's parties only)."""
    issuer_standing_today: str = "active"
    """``active`` when every certificate of the issuer listed is active today; otherwise
    the gravest status among them (``withdrawn``, ``suspended``, ``expired``,
    ``superseded``)."""


class ChainLink(OutputModel):
    number: str
    issuer: str
    recipient: str
    material: str
    coc_quantity_kg: int
    shipment_date: date
    origins: list[OriginShare] = Field(
        default_factory=list, description="Where its CoC material came from: facility, "
                                          "country and share, smelter or remelter first")
    fed: list[str] = Field(description="Documents of the tier below this one may have fed")


class ChainTier(OutputModel):
    depth: int
    documents: list[ChainLink]
    more: int = Field(description="Documents at this depth not listed")


class ChainRead(OutputModel):
    number: str
    tiers: list[ChainTier]
    truncated: bool


class UnmatchedPair(OutputModel):
    issuer: Party
    recipient: Party
    documents: int
    coc_quantity_kg: int
    oldest_shipment: date
    days_waiting: int


class UnmatchedRead(OutputModel):
    days: int
    pairs: list[UnmatchedPair]
    documents: DocumentPage


class SettingsRead(OutputModel):
    entity_id: uuid.UUID
    period_months: int
    carry_over_cap: int | None
    carry_over_expiry: int
    changeable: bool


class PeriodRead(OutputModel):
    period_start: date
    period_end: date
    status: str


class CloseResult(OutputModel):
    entity_id: uuid.UUID
    period_start: date
    period_end: date
    carried: dict[str, int]
    expired: dict[str, int]


class AuditBreak(OutputModel):
    """One place the custody records disagree."""

    table: str
    """The table holding the record found wrong or missing."""
    record: str
    """Document number, operation id or account (material) within the table."""
    entity: str
    period: str
    problem: str
    entry: int | None = None
    """The event-log entry the record contradicts; None when no entry records it."""


class AuditFlag(OutputModel):
    """Something implausible the audit points at without calling the books broken."""

    kind: Literal["capacity", "yield"]
    entity: str
    period: str
    facility: str = Field(description="Facility public id (capacity flags)")
    subject: str = Field(description="The activity (capacity) or transformation (yield)")
    problem: str


class AuditResult(OutputModel):
    ok: bool
    accounts: int
    movements: int
    documents: int
    problems: list[str]
    """Every break as one sentence naming table, record, entity and period."""
    breaks: list[AuditBreak] = []
    flags: list[AuditFlag] = []
    """Output beyond a facility's capacity, yields far from typical: worth a look, not
    breaks (``ok`` does not depend on them)."""


class ReportLine(OutputModel):
    material: str
    material_label: str
    carried_in: int
    produced: int
    received: int
    transformed_in: int
    non_coc_in: int
    issued: int
    transformed_out: int
    carried_out: int
    expired: int
    closing_kg: int
    input_percentage: Decimal


class ActivityLine(OutputModel):
    transformation: str
    source_material: str
    material: str
    operations: int
    input_kg: int
    output_kg: int
    average_yield: Decimal
    typical_yield: str
    total_input_kg: int = Field(default=0, description="All input, CoC or not, kg")
    total_output_kg: int = Field(default=0, description="All output, kg")
    yield_flag: str | None = Field(
        default=None, description="Why the year's yield (total output over total input) is "
                                  "far from the typical range; None when it is within it")


class AnnualReport(OutputModel):
    entity: Party
    year: int
    periods: list[PeriodRead]
    materials: list[ReportLine]
    activities: list[ActivityLine]
    documents_issued: int
    documents_received: int
    generated_at: datetime


class FlowLink(OutputModel):
    source: str
    target: str
    material: str
    kilograms: int
    contributors: int
    published: bool = Field(default=True, description="Whether enough issuing entities "
                                                      "contribute for the public view to "
                                                      "show the link")


class NetworkFlows(OutputModel):
    year: int
    minimum_contributors: int
    links: list[FlowLink]
    hidden_links: int = Field(description="Links the public view leaves out: fewer "
                                          "contributing entities than the competition "
                                          "rule allows (the secretariat sees them, marked "
                                          "not published)")
