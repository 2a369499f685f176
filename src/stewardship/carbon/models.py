"""Tables of the carbon context.

An inventory is what one entity (or one of its facilities, which CBAM calls an
installation) emitted in one period, in tonnes of CO2e, beside what it produced: one
``carbon_inventory_processes`` row per process it ran, with its output in integer
kilograms. Scope 2 is stored as the electricity consumed and the factor applied, never as a
figure that could disagree with them.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stewardship.core.db import Base, IdMixin, TimestampMixin

TONNES = Numeric(16, 3)
"""t CO2e to the kilogram."""


class CarbonInventory(IdMixin, TimestampMixin, Base):
    """One entity's (or installation's) emissions for one period."""

    __tablename__ = "carbon_inventories"
    __table_args__ = (
        UniqueConstraint("entity_id", "facility_id", "period_start"),
        CheckConstraint("period_end >= period_start", name="period"),
        CheckConstraint("scope1_t >= 0 AND pfc_t >= 0 AND electricity_mwh >= 0 "
                        "AND electricity_factor_t_per_mwh >= 0 AND scope3_cat1_t >= 0 "
                        "AND scope3_cat3_t >= 0 AND scope3_cat4_t >= 0", name="not_negative"),
        CheckConstraint("pfc_method IS NULL OR pfc_method IN ('slope', 'overvoltage')",
                        name="pfc_method"),
        CheckConstraint("allocation IN ('mass', 'declared')", name="allocation"),
        CheckConstraint("verification IN ('self_declared', 'third_party_verified')",
                        name="verification"),
        Index("ix_carbon_inventories_entity_period", "entity_id", "period_start"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"),
                                                       index=True)
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"))
    facility_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("facilities.id"),
                                                          index=True)
    """The installation, where the inventory is one facility's; none for the whole entity."""
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    scope1_t: Mapped[Decimal] = mapped_column(TONNES, default=Decimal(0))
    """Direct emissions from fuels and processes, PFCs excluded (they are ``pfc_t``)."""
    pfc_t: Mapped[Decimal] = mapped_column(TONNES, default=Decimal(0))
    """CF4 and C2F6 from anode effects, as CO2e (smelters)."""
    pfc_method: Mapped[str | None] = mapped_column(String(12))
    """How the anode-effect PFCs were quantified: ``slope`` or ``overvoltage``."""
    anodes_consumed_t: Mapped[Decimal | None] = mapped_column(TONNES)
    electricity_mwh: Mapped[Decimal] = mapped_column(TONNES, default=Decimal(0))
    electricity_factor_t_per_mwh: Mapped[Decimal] = mapped_column(Numeric(10, 6),
                                                                  default=Decimal(0))
    electricity_factor_source: Mapped[str] = mapped_column(String(200), default="")
    """Where the factor comes from (a supplier's contract, a grid average and its year)."""
    scope3_cat1_t: Mapped[Decimal] = mapped_column(TONNES, default=Decimal(0))
    """Upstream: purchased goods and services."""
    scope3_cat3_t: Mapped[Decimal] = mapped_column(TONNES, default=Decimal(0))
    """Upstream: fuel- and energy-related activities."""
    scope3_cat4_t: Mapped[Decimal] = mapped_column(TONNES, default=Decimal(0))
    """Upstream: transport and distribution."""
    allocation: Mapped[str] = mapped_column(String(12), default="mass")
    """How the entity's Scope 1 and 2 are shared between its processes: ``mass`` (by
    output mass) or ``declared`` (each process's own figure, ``declared_t``)."""
    method: Mapped[str] = mapped_column(String(200), default="")
    """The accounting method followed (GHG Protocol, IAI guidance, ...)."""
    verification: Mapped[str] = mapped_column(String(24), default="self_declared")
    recorded_by: Mapped[str] = mapped_column(String(120))
    commissioned_year: Mapped[int | None] = mapped_column(Integer)
    """The year the smelter the inventory covers was commissioned (for the smelter threshold:
    from 2020 the limit applies from the start, before it by 2030); none without smelting.
    Kept on the inventory, as declared with it, so that an entity-wide inventory of a
    smelting entity carries it too."""
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """1 as recorded; each correction adds one (the event log keeps what changed)."""

    processes: Mapped[list[CarbonProcess]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="CarbonProcess.process")

    @property
    def scope2_t(self) -> Decimal:
        return (self.electricity_mwh * self.electricity_factor_t_per_mwh).quantize(
            Decimal("0.001"))


class CarbonProcess(IdMixin, Base):
    """One process an inventory covers (``mining``, or a custody transformation such as
    ``smelting``), with what it produced."""

    __tablename__ = "carbon_inventory_processes"
    __table_args__ = (
        UniqueConstraint("inventory_id", "process"),
        CheckConstraint("output_kg > 0", name="output"),
        CheckConstraint("declared_t IS NULL OR declared_t >= 0", name="declared"),
    )

    inventory_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("carbon_inventories.id", ondelete="CASCADE"), index=True)
    process: Mapped[str] = mapped_column(String(20))
    output_kg: Mapped[int] = mapped_column(BigInteger)
    declared_t: Mapped[Decimal | None] = mapped_column(TONNES)
    """This process's share of Scope 1 and 2, where the inventory's allocation is
    ``declared``."""
