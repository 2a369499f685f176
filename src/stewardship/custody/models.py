"""Tables of the chain of custody: per-entity settings, material accounts (one per entity,
CoC material and accounting period), the journal of operations, the append-only paired
movements, and CoC documents. Tenant-owned rows carry ``organization_id``."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from stewardship.core.db import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid); PostgreSQL gets BIGINT.
BigId = BigInteger().with_variant(Integer, "sqlite")

MATERIALS_SQL = "('asi_bauxite', 'asi_alumina', 'asi_aluminium', 'eligible_scrap')"
OPERATION_KINDS_SQL = ("('production', 'scrap_intake', 'non_coc_input', 'transformation', "
                       "'issue', 'receipt', 'rejection', 'cancellation', 'period_close', "
                       "'reversal')")


class CustodySettings(TimestampMixin, Base):
    """How one entity keeps its mass balance: period length and the carry-over rule."""

    __tablename__ = "custody_settings"
    __table_args__ = (
        CheckConstraint("period_months IN (1, 3, 12)", name="period_months"),
        CheckConstraint("carry_over_cap IS NULL OR carry_over_cap >= 0", name="cap"),
        CheckConstraint("carry_over_expiry >= 1", name="expiry"),
    )

    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"),
                                                       index=True)
    period_months: Mapped[int] = mapped_column(Integer, default=12)
    carry_over_cap: Mapped[int | None] = mapped_column(BigInteger)
    """At most this many kg carried into the next period; NULL: no cap."""
    carry_over_expiry: Mapped[int] = mapped_column(Integer, default=1)
    """Carried kilograms expire after this many periods."""


class MaterialAccount(IdMixin, TimestampMixin, Base):
    """One entity's account of one CoC material in one accounting period.

    The counters mirror ``rules.Balance``; ``balance_kg`` is what may still be issued or
    transformed and never goes negative (a check constraint backs the rules). ``pool`` is
    the mass-weighted origin composition of that balance. ``version`` guards concurrent
    writers (optimistic) on top of the row lock taken before every spend."""

    __tablename__ = "material_accounts"
    __table_args__ = (
        UniqueConstraint("entity_id", "material", "period_start"),
        CheckConstraint(f"material IN {MATERIALS_SQL}", name="material"),
        CheckConstraint("status IN ('open', 'closed')", name="status"),
        CheckConstraint("balance_kg >= 0", name="balance_not_negative"),
        CheckConstraint("produced >= 0 AND received >= 0 AND transformed_in >= 0 AND "
                        "transformed_out >= 0 AND issued >= 0 AND non_coc_in >= 0 AND "
                        "carried_in >= 0 AND carried_out >= 0 AND expired >= 0",
                        name="counters_not_negative"),
        Index("ix_material_accounts_org_period", "organization_id", "period_start"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"))
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"))
    material: Mapped[str] = mapped_column(String(20))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="open")
    carried: Mapped[list[int]] = mapped_column(JSON, default=list)
    """Kilograms brought in from earlier periods, newest first (index 0: one period back)."""
    carried_in: Mapped[int] = mapped_column(BigInteger, default=0)
    produced: Mapped[int] = mapped_column(BigInteger, default=0)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    transformed_in: Mapped[int] = mapped_column(BigInteger, default=0)
    transformed_out: Mapped[int] = mapped_column(BigInteger, default=0)
    issued: Mapped[int] = mapped_column(BigInteger, default=0)
    non_coc_in: Mapped[int] = mapped_column(BigInteger, default=0)
    carried_out: Mapped[int] = mapped_column(BigInteger, default=0)
    """Moved to the next period at close."""
    expired: Mapped[int] = mapped_column(BigInteger, default=0)
    """Lost at close by expiry or the cap."""
    balance_kg: Mapped[int] = mapped_column(BigInteger, default=0)
    pool: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Origin composition of ``balance_kg``: ``{"parts": [[facility, country, route, kg,
    stage, [[stage, facility, country], ...]]], "attributes": {name: mass-weighted sum}}``
    (``rules.pool_to_data``; parts stored before stages were kept have only the first
    four fields and are read as they are, see ``rules.pool_from_data``)."""
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class CustodyOperation(IdMixin, Base):
    """The journal: one row per thing a member did to its accounts. Reports and the
    conservation audit read it; the movements carry the kilograms."""

    __tablename__ = "custody_operations"
    __table_args__ = (
        CheckConstraint(f"kind IN {OPERATION_KINDS_SQL}", name="kind"),
        Index("ix_custody_operations_entity_period", "entity_id", "period_start", "kind"),
        # An entry is reversed at most once, whoever asks first.
        Index("uq_custody_operations_reverses_id", "reverses_id", unique=True),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"),
                                                       index=True)
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"))
    kind: Mapped[str] = mapped_column(String(20))
    material: Mapped[str] = mapped_column(String(20))
    """The account's material (a transformation's output)."""
    source_material: Mapped[str | None] = mapped_column(String(20))
    transformation: Mapped[str | None] = mapped_column(String(20))
    facility_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("facilities.id"))
    input_kg: Mapped[int | None] = mapped_column(BigInteger)
    """A transformation's CoC input (a period close: the kilograms expired)."""
    kilograms: Mapped[int] = mapped_column(BigInteger)
    """Kilograms credited or debited (a transformation's CoC output)."""
    declared_yield: Mapped[Decimal | None] = mapped_column(Numeric(8, 6))
    """A transformation's yield: total output / total input, six decimals rounded down."""
    total_input_kg: Mapped[int | None] = mapped_column(BigInteger)
    """Everything a transformation took in, CoC or not (``input_kg`` is its CoC part)."""
    total_output_kg: Mapped[int | None] = mapped_column(BigInteger)
    """Everything a transformation put out (``kilograms`` is its CoC part)."""
    capacity_override: Mapped[str | None] = mapped_column(Text)
    """The secretariat's reason for recording output beyond the facility's capacity."""
    scrap_kind: Mapped[str | None] = mapped_column(String(20))
    occurred_on: Mapped[date] = mapped_column(Date)
    period_start: Mapped[date] = mapped_column(Date)
    document_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("coc_documents.id"),
                                                          index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    """Free text; a reversal's reason."""
    actor: Mapped[str] = mapped_column(String(120))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reverses_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("custody_operations.id"))
    """A reversal: the entry it undoes (same entity, period and figures)."""
    composition: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The origins the entry moved, as pools: ``{"in": ...}`` added to the credited account,
    ``{"out": ...}`` taken from the debited one; what a reversal gives back. NULL on
    entries that move no origins and on those written before it was kept."""


class Movement(Base):
    """One leg of a paired movement: append-only (the database refuses UPDATE and
    DELETE). Every operation's legs share its correlation id and sum to zero. A leg
    either hits a material account or a named system account (origin, transit, process,
    expired)."""

    __tablename__ = "custody_movements"
    __table_args__ = (
        CheckConstraint("(account_id IS NULL) <> (system_account IS NULL)", name="one_side"),
        CheckConstraint("kilograms <> 0", name="not_zero"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    correlation_id: Mapped[uuid.UUID] = mapped_column(index=True)
    operation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("custody_operations.id"))
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"))
    account_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("material_accounts.id"),
                                                         index=True)
    system_account: Mapped[str | None] = mapped_column(String(80))
    kilograms: Mapped[int] = mapped_column(BigInteger)
    """Signed: negative on the debited side."""
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CocDocument(IdMixin, Base):
    """A CoC document: CoC material passed from one entity to another."""

    __tablename__ = "coc_documents"
    __table_args__ = (
        CheckConstraint(f"material IN {MATERIALS_SQL}", name="material"),
        CheckConstraint("status IN ('issued', 'received', 'rejected', 'cancelled')",
                        name="status"),
        CheckConstraint("coc_quantity_kg > 0 AND coc_quantity_kg <= quantity_kg",
                        name="quantities"),
        CheckConstraint("issuer_entity_id <> recipient_entity_id", name="two_parties"),
        Index("ix_coc_documents_issuer", "issuer_entity_id", "status", "shipment_date"),
        Index("ix_coc_documents_recipient", "recipient_entity_id", "status",
              "receipt_period_start", "received_on"),
        # The chain trace's largest-first read of what an entity received (0021).
        Index("ix_coc_documents_chain", "recipient_entity_id", "status",
              "coc_quantity_kg", "number", "receipt_period_start", "received_on", "id"),
        Index("ix_coc_documents_status_shipment", "status", "shipment_date"),
    )

    number: Mapped[str] = mapped_column(String(40), unique=True)
    issuer_organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"),
                                                              index=True)
    issuer_entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"))
    recipient_organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id"), index=True)
    recipient_entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"))
    issuer_performance_certificate: Mapped[str] = mapped_column(String(40))
    issuer_coc_certificate: Mapped[str] = mapped_column(String(40))
    recipient_performance_certificate: Mapped[str | None] = mapped_column(String(40))
    recipient_coc_certificate: Mapped[str | None] = mapped_column(String(40))
    material: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(String(200), default="")
    """What was shipped, in the issuer's words (``5182 coil, 1.2 mm``)."""
    quantity_kg: Mapped[int] = mapped_column(BigInteger)
    coc_quantity_kg: Mapped[int] = mapped_column(BigInteger)
    shipment_date: Mapped[date] = mapped_column(Date)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    recycled_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    recycled_method: Mapped[str | None] = mapped_column(String(200))
    composition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The share of the issuer's pool this document took (same shape as an account's)."""
    origin_levels: Mapped[list[Any] | None] = mapped_column(JSON)
    """The origins of `composition` without names, written at issue for the chain trace
    (`custody.origins.stored`); used only while `origin_levels_of`, the digest of the
    composition text they were computed from and of their own text, names both as they
    stand."""
    origin_levels_of: Mapped[str | None] = mapped_column(String(32))
    footprint_kg_co2e_per_kg: Mapped[Decimal | None] = mapped_column(Numeric(12, 6))
    """Cradle-to-gate carbon footprint of the metal the document covers, kg CO2e per kg
    of its CoC quantity, as the mass-weighted footprint of the pool it was drawn from
    (``custody.footprints.rules``: each entity's own Scope 1 and 2 per kg of its
    process's output, what a transformation carried divided by its yield, eligible scrap
    burden-free). NULL where unknown: some of the metal drawn has no known footprint
    (the reasons are in ``composition["footprint"]["gaps"]``), never a guess or zero."""
    footprint_primary_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    """The share of that footprint that is primary data (the rest secondary or default);
    NULL where the footprint is unknown, or 0 (no share of nothing)."""
    footprint_tiers: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    """How the footprint was built up, tier by tier down the chain; NULL where unknown.
    A list, tier 0 first (the issuer), then its suppliers (1), theirs (2), ...; within a
    tier the largest first. Each row::

        {"tier": 0, "entity_id": "<uuid>" | null, "entity": "Walz Rolling Ltd",
         "organization": "Walz Rolling", "country": "DE", "process": "rolling",
         "kg_co2e_per_kg": "0.250000", "primary": true, "merged": 0}

    ``process`` is the custody process (mining, refining, smelting, remelting, casting,
    rolling, extrusion, conversion); ``kg_co2e_per_kg`` (a decimal string, six places)
    is what that entity's process contributes per kg of this document's metal, and the
    rows add up to ``footprint_kg_co2e_per_kg`` exactly; ``primary``: the entity's own
    inventory (true) or secondary/default data (false); ``country``: where the process
    ran. Rows beyond tier 6 merge into one row per kind of data at tier 7 (process
    ``upstream``), rows of one tier beyond the largest 8 into one (process ``various``);
    a merged row has no entity id, empty names and ``merged`` the number of rows it
    stands for."""
    status: Mapped[str] = mapped_column(String(12), default="issued")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    issued_by: Mapped[str] = mapped_column(String(120))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(120))
    received_on: Mapped[date | None] = mapped_column(Date)
    receipt_period_start: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text, default="")
    """Why it was rejected or cancelled."""
