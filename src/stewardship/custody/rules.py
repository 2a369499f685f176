"""Pure rules of the chain of custody: materials, transformations and their physical
yield limits, accounting periods, the mass-balance ledger, paired movements, the CoC
input percentage, the provenance pool and the conservation check.

No I/O here. Mass is whole kilograms (int) everywhere; yields and shares are Decimal.
Every rounding of a CoC quantity goes down, so nothing is ever over-claimed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import ROUND_DOWN, ROUND_FLOOR, ROUND_UP, Decimal
from enum import StrEnum
from typing import NamedTuple

from stewardship.assurance.rules import add_months
from stewardship.registry.rules import ID_ALPHABET, mod37_2_check

# --- vocabularies -----------------------------------------------------------------------


class CocMaterial(StrEnum):
    ASI_BAUXITE = "asi_bauxite"
    ASI_ALUMINA = "asi_alumina"
    ASI_ALUMINIUM = "asi_aluminium"
    ELIGIBLE_SCRAP = "eligible_scrap"

    @property
    def label(self) -> str:
        return MATERIAL_LABELS[self]


MATERIAL_LABELS = {
    CocMaterial.ASI_BAUXITE: "ASI bauxite",
    CocMaterial.ASI_ALUMINA: "ASI alumina",
    CocMaterial.ASI_ALUMINIUM: "ASI aluminium",
    CocMaterial.ELIGIBLE_SCRAP: "Eligible scrap",
}

# Materials a certified origin (mine, refinery, smelter) may put into the chain as
# production; eligible scrap enters only through a remelter's intake after due diligence.
ORIGIN_MATERIALS = frozenset(
    {CocMaterial.ASI_BAUXITE, CocMaterial.ASI_ALUMINA, CocMaterial.ASI_ALUMINIUM})


class ScrapKind(StrEnum):
    PRE_CONSUMER = "pre_consumer"
    POST_CONSUMER = "post_consumer"


class Route(StrEnum):
    PRIMARY = "primary"
    RECYCLED = "recycled"


class Transformation(StrEnum):
    REFINING = "refining"
    SMELTING = "smelting"
    REMELTING = "remelting"
    CASTING = "casting"
    ROLLING = "rolling"
    EXTRUSION = "extrusion"
    CONVERSION = "conversion"

    @property
    def inputs(self) -> frozenset[CocMaterial]:
        return TRANSFORMATION_INPUTS[self]

    @property
    def output(self) -> CocMaterial:
        return TRANSFORMATION_OUTPUT[self]


_METAL = frozenset({CocMaterial.ASI_ALUMINIUM})

TRANSFORMATION_INPUTS: dict[Transformation, frozenset[CocMaterial]] = {
    Transformation.REFINING: frozenset({CocMaterial.ASI_BAUXITE}),
    Transformation.SMELTING: frozenset({CocMaterial.ASI_ALUMINA}),
    Transformation.REMELTING: frozenset({CocMaterial.ELIGIBLE_SCRAP,
                                         CocMaterial.ASI_ALUMINIUM}),
    Transformation.CASTING: _METAL,
    Transformation.ROLLING: _METAL,
    Transformation.EXTRUSION: _METAL,
    Transformation.CONVERSION: _METAL,
}

TRANSFORMATION_OUTPUT: dict[Transformation, CocMaterial] = {
    Transformation.REFINING: CocMaterial.ASI_ALUMINA,
    Transformation.SMELTING: CocMaterial.ASI_ALUMINIUM,
    Transformation.REMELTING: CocMaterial.ASI_ALUMINIUM,
    Transformation.CASTING: CocMaterial.ASI_ALUMINIUM,
    Transformation.ROLLING: CocMaterial.ASI_ALUMINIUM,
    Transformation.EXTRUSION: CocMaterial.ASI_ALUMINIUM,
    Transformation.CONVERSION: CocMaterial.ASI_ALUMINIUM,
}


# Facility activities where each step may happen (a smelter casts its own metal).
TRANSFORMATION_ACTIVITIES: dict[Transformation, frozenset[str]] = {
    Transformation.REFINING: frozenset({"alumina_refining"}),
    Transformation.SMELTING: frozenset({"smelting"}),
    Transformation.REMELTING: frozenset({"remelting_refining"}),
    Transformation.CASTING: frozenset({"casthouse", "smelting", "remelting_refining"}),
    Transformation.ROLLING: frozenset({"semi_fabrication"}),
    Transformation.EXTRUSION: frozenset({"semi_fabrication"}),
    Transformation.CONVERSION: frozenset({"material_conversion", "other_manufacturing",
                                          "semi_fabrication"}),
}

# The activity of a facility where CoC material of each kind originates.
ORIGIN_ACTIVITIES: dict[CocMaterial, str] = {
    CocMaterial.ASI_BAUXITE: "bauxite_mining",
    CocMaterial.ASI_ALUMINA: "alumina_refining",
    CocMaterial.ASI_ALUMINIUM: "smelting",
    CocMaterial.ELIGIBLE_SCRAP: "remelting_refining",
}


def activity_refusal(activities: Iterable[str], *, transformation: Transformation | None = None,
                     material: CocMaterial | None = None) -> str | None:
    """Why a facility with these activities may not host the step (None: it may)."""
    have = set(activities)
    if transformation is not None:
        need = TRANSFORMATION_ACTIVITIES[transformation]
        if not have & need:
            return (f"{transformation.value} happens at a facility with one of these "
                    f"activities: {', '.join(sorted(need))}")
    if material is not None and ORIGIN_ACTIVITIES[material] not in have:
        return (f"{material.value} originates at a facility with the "
                f"{ORIGIN_ACTIVITIES[material]} activity")
    return None


def check_transformation(transformation: Transformation, source: CocMaterial,
                         target: CocMaterial) -> None:
    """Raise LedgerError unless `transformation` turns `source` into `target`."""
    if source not in transformation.inputs:
        allowed = ", ".join(sorted(m.value for m in transformation.inputs))
        raise LedgerError(f"{transformation.value} takes {allowed} as input, not {source.value}")
    if target is not transformation.output:
        raise LedgerError(f"{transformation.value} produces {transformation.output.value}, "
                          f"not {target.value}")


# --- yields: physics as data ------------------------------------------------------------


class YieldError(ValueError):
    """A declared yield outside what physics allows."""


@dataclass(frozen=True)
class YieldLimit:
    maximum: Decimal
    reason: str


@dataclass(frozen=True)
class TypicalYield:
    """A typical yield, shown beside a declared one. Indicative only: never enforced."""

    low: Decimal
    high: Decimal
    indicative: bool = True

    @property
    def label(self) -> str:
        text = f"about {self.low}" if self.low == self.high else f"{self.low} to {self.high}"
        return f"{text} kg/kg (indicative)" if self.indicative else f"{text} kg/kg"


_NO_NEW_METAL = YieldLimit(Decimal("1"), "metal-to-metal transformations never create "
                                         "aluminium; alloying additions are declared as inputs")

DEFAULT_YIELD_LIMITS: dict[Transformation, YieldLimit] = {
    Transformation.REFINING: YieldLimit(
        Decimal("0.85"), "bauxite -> alumina cannot exceed pure boehmite (0.85 kg/kg)"),
    Transformation.SMELTING: YieldLimit(
        Decimal("0.5293"), "alumina -> aluminium cannot exceed the Al share of Al2O3 "
                           "(0.5293 kg/kg)"),
    Transformation.REMELTING: _NO_NEW_METAL,
    Transformation.CASTING: _NO_NEW_METAL,
    Transformation.ROLLING: _NO_NEW_METAL,
    Transformation.EXTRUSION: _NO_NEW_METAL,
    Transformation.CONVERSION: _NO_NEW_METAL,
}

DEFAULT_TYPICAL_YIELDS: dict[Transformation, TypicalYield] = {
    Transformation.REFINING: TypicalYield(Decimal("0.3"), Decimal("0.5")),
    Transformation.SMELTING: TypicalYield(Decimal("0.52"), Decimal("0.52")),
    Transformation.REMELTING: TypicalYield(Decimal("0.90"), Decimal("0.98")),
    Transformation.CASTING: TypicalYield(Decimal("0.95"), Decimal("0.98")),
    Transformation.ROLLING: TypicalYield(Decimal("0.95"), Decimal("0.98")),
    Transformation.EXTRUSION: TypicalYield(Decimal("0.95"), Decimal("0.98")),
    Transformation.CONVERSION: TypicalYield(Decimal("0.95"), Decimal("0.98")),
}


@dataclass(frozen=True)
class YieldPolicy:
    """Physical maxima (enforced) and typical yields (shown) per transformation."""

    limits: Mapping[Transformation, YieldLimit] = field(
        default_factory=lambda: dict(DEFAULT_YIELD_LIMITS))
    typical: Mapping[Transformation, TypicalYield] = field(
        default_factory=lambda: dict(DEFAULT_TYPICAL_YIELDS))


DEFAULT_YIELDS = YieldPolicy()


def yield_limit(transformation: Transformation,
                policy: YieldPolicy = DEFAULT_YIELDS) -> Decimal:
    return policy.limits[transformation].maximum


def typical_yield(transformation: Transformation,
                  policy: YieldPolicy = DEFAULT_YIELDS) -> TypicalYield:
    return policy.typical[transformation]


def check_yield(transformation: Transformation, declared: Decimal,
                policy: YieldPolicy = DEFAULT_YIELDS) -> None:
    """Raise YieldError when `declared` is not a Decimal in (0, physical limit]."""
    if not isinstance(declared, Decimal):
        raise YieldError(f"a yield is a Decimal, not {type(declared).__name__}")
    if not declared.is_finite() or declared <= 0:
        raise YieldError(f"declared yield for {transformation.value} must be greater than "
                         f"0 kg/kg, got {declared}")
    limit = policy.limits[transformation]
    if declared > limit.maximum:
        raise YieldError(f"declared yield {declared} kg/kg for {transformation.value} exceeds "
                         f"the physical limit of {limit.maximum} kg/kg: {limit.reason}")


def yield_output(kilograms: int, declared: Decimal) -> int:
    """CoC output of `kilograms` input at `declared` yield, always rounded down."""
    return int((Decimal(kilograms) * declared).to_integral_value(rounding=ROUND_FLOOR))


YIELD_PLACES = Decimal("0.000001")
"""The journal keeps a yield to six decimals (rounded down, never over-stated)."""


@dataclass(frozen=True)
class Physical:
    """A transformation as it physically happened: everything that went in, everything
    that came out, and the CoC part of what went in. The yield, the CoC credit and the
    CoC input percentage follow from these three."""

    total_input: int
    total_output: int
    coc_input: int

    @property
    def exact_yield(self) -> Decimal:
        return Decimal(self.total_output) / Decimal(self.total_input)

    @property
    def declared_yield(self) -> Decimal:
        """The yield as the journal records it: six decimals, rounded down."""
        return self.exact_yield.quantize(YIELD_PLACES, rounding=ROUND_DOWN)

    @property
    def coc_output(self) -> int:
        """The CoC credit: the CoC input times the yield, exactly, rounded down."""
        return self.coc_input * self.total_output // self.total_input

    @property
    def coc_input_percent(self) -> Decimal:
        return input_percentage(self.coc_input, self.total_input - self.coc_input)


def physical(total_input: int, total_output: int, coc_input: int,
             transformation: Transformation,
             policy: YieldPolicy = DEFAULT_YIELDS) -> Physical:
    """The transformation's figures checked: whole positive kilograms, the CoC input
    within the total input, the yield (total output / total input) within physics.
    FigureError names the figure refused (``total_input_kg``...); YieldError is about
    the yield."""
    for value, what in ((total_input, "total_input_kg"), (total_output, "total_output_kg"),
                        (coc_input, "coc_input_kg")):
        try:
            _kilograms(value, what)
        except LedgerError as error:
            raise FigureError(str(error), what) from None
    if coc_input > total_input:
        raise FigureError(f"the CoC input {coc_input} kg exceeds the total input "
                          f"{total_input} kg", "coc_input_kg")
    found = Physical(total_input, total_output, coc_input)
    limit = policy.limits[transformation]
    if found.exact_yield > limit.maximum:
        shown = found.exact_yield.quantize(YIELD_PLACES, rounding=ROUND_UP).normalize()
        raise YieldError(f"{total_output} kg out of {total_input} kg is a yield of {shown:f} "
                         f"kg/kg for {transformation.value}, which exceeds the physical limit of "
                         f"{limit.maximum} kg/kg: {limit.reason}")
    if found.declared_yield == 0:
        raise YieldError(f"{total_output} kg out of {total_input} kg is a yield below "
                         f"{YIELD_PLACES} kg/kg")
    return found


# --- capacity: what a facility can physically put out -----------------------------------

# The facility activity whose capacity bounds the output of each step, in order of
# preference (the first the facility has counts). A metal step at a smelter without a
# casthouse is not held against the smelting capacity: that metal was counted once when
# it was smelted.
CAPACITY_ACTIVITIES: dict[Transformation, tuple[str, ...]] = {
    Transformation.REFINING: ("alumina_refining",),
    Transformation.SMELTING: ("smelting",),
    Transformation.REMELTING: ("remelting_refining",),
    Transformation.CASTING: ("casthouse",),
    Transformation.ROLLING: ("semi_fabrication",),
    Transformation.EXTRUSION: ("semi_fabrication",),
    Transformation.CONVERSION: ("material_conversion", "other_manufacturing",
                                "semi_fabrication"),
}


def output_activity(activities: Iterable[str], *, transformation: Transformation | None = None,
                    material: CocMaterial | None = None) -> str | None:
    """The activity whose capacity a step's output (or an origin's production of
    `material`) counts against at a facility with these activities; None: none does."""
    have = set(activities)
    if transformation is not None:
        return next((a for a in CAPACITY_ACTIVITIES[transformation] if a in have), None)
    if material is not None and material in ORIGIN_MATERIALS:
        activity = ORIGIN_ACTIVITIES[material]
        return activity if activity in have else None
    return None


def capacity_for(annual_kg: int, period: Period) -> Decimal:
    """The annual capacity prorated to the period (by whole months)."""
    return Decimal(annual_kg) * period.months / 12


def over_capacity(output_kg: int, annual_kg: int, period: Period) -> bool:
    """Whether `output_kg` in the period is beyond the annual capacity prorated to it
    (compared exactly, in whole numbers)."""
    return output_kg * 12 > annual_kg * period.months


def capacity_refusal(facility: str, activity: str, annual_kg: int, period: Period,
                     recorded_kg: int, adding_kg: int) -> str | None:
    """Why output of `adding_kg` beside `recorded_kg` already recorded in the period is
    refused at a facility of `annual_kg` a year for the activity (None: it fits)."""
    total = recorded_kg + adding_kg
    if not over_capacity(total, annual_kg, period):
        return None
    room = int(capacity_for(annual_kg, period).to_integral_value(rounding=ROUND_FLOOR))
    return (f"{adding_kg:,} kg would bring the {activity} output of {facility} in "
            f"{period.label} to {total:,} kg, beyond its capacity of {room:,} kg for the "
            f"period ({annual_kg:,} kg a year; {recorded_kg:,} kg recorded already); the "
            "secretariat may record it with a capacity override and the reason")


# --- plausibility: what the audit flags without calling the books broken -----------------

YIELD_FLAG_MARGIN = Decimal("0.1")
"""A yield is far from typical when it is more than this share below the typical low or
above the typical high."""


def capacity_flag(annual_kg: int, period: Period, output_kg: int) -> str | None:
    """A sentence when the period's output is beyond the prorated capacity."""
    if not over_capacity(output_kg, annual_kg, period):
        return None
    share = (Decimal(100) * output_kg / capacity_for(annual_kg, period)).quantize(
        Decimal(1), rounding=ROUND_DOWN)
    return (f"output {output_kg:,} kg is {share:,}% of the capacity for the period "
            f"({annual_kg:,} kg a year)")


def yield_flag(transformation: Transformation, total_input: int, total_output: int,
               policy: YieldPolicy = DEFAULT_YIELDS) -> str | None:
    """A sentence when the period's yield of a step is far from its typical yield."""
    if total_input <= 0:
        return None
    typical = policy.typical[transformation]
    actual = Decimal(total_output) / Decimal(total_input)
    low = typical.low * (1 - YIELD_FLAG_MARGIN)
    high = typical.high * (1 + YIELD_FLAG_MARGIN)
    if low <= actual <= high:
        return None
    shown = actual.quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
    return (f"{transformation.value} yield {shown} kg/kg ({total_output:,} kg out of "
            f"{total_input:,} kg) is far from the typical {typical.label}")


# --- accounting periods -----------------------------------------------------------------

PERIOD_MONTHS = (1, 3, 12)
DEFAULT_PERIOD_MONTHS = 12
DEFAULT_ANCHOR = date(2000, 1, 1)


class Period(NamedTuple):
    """An accounting period, both ends inclusive."""

    start: date
    end: date

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    @property
    def months(self) -> int:
        after = self.end + timedelta(days=1)
        return (after.year - self.start.year) * 12 + after.month - self.start.month

    @property
    def label(self) -> str:
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


def check_period_months(months: int) -> None:
    if months not in PERIOD_MONTHS:
        raise ValueError(f"an accounting period is 1, 3 or 12 months, not {months}")


def period_for(day: date, months: int = DEFAULT_PERIOD_MONTHS,
               anchor: date = DEFAULT_ANCHOR) -> Period:
    """The period of `months` months containing `day`; periods start at `anchor` and
    every `months` months before or after it. The anchor is the first of a month."""
    check_period_months(months)
    if anchor.day != 1:
        raise ValueError(f"a period anchor is the first day of a month, not {anchor}")
    offset = (day.year - anchor.year) * 12 + day.month - anchor.month
    start = add_months(anchor, (offset // months) * months)
    return Period(start, add_months(start, months) - timedelta(days=1))


def next_period(period: Period) -> Period:
    start = period.end + timedelta(days=1)
    return Period(start, add_months(start, period.months) - timedelta(days=1))


def check_shipment_in_period(shipment_date: date, period: Period) -> None:
    if not period.contains(shipment_date):
        raise ValueError(f"shipment date {shipment_date.isoformat()} is outside the "
                         f"accounting period {period.label}")


# --- the ledger: balances per (material, period) ----------------------------------------


class LedgerError(ValueError):
    """An operation the mass balance refuses."""


class FigureError(LedgerError):
    """One figure of an operation refused; `figure` names it as the API does."""

    def __init__(self, message: str, figure: str) -> None:
        super().__init__(message)
        self.figure = figure


@dataclass(frozen=True)
class CarryOverRule:
    """How a positive balance moves to the next period: at most `cap` kg (None: no cap),
    and kilograms older than `expiry_periods` periods expire (oldest spent first)."""

    cap: int | None = None
    expiry_periods: int = 1

    def __post_init__(self) -> None:
        if self.cap is not None and (isinstance(self.cap, bool) or self.cap < 0):
            raise ValueError(f"a carry-over cap is a non-negative number of kg, not {self.cap}")
        if self.expiry_periods < 1:
            raise ValueError("carried-over balance expires after at least one period, "
                             f"not {self.expiry_periods}")


DEFAULT_CARRY_OVER = CarryOverRule()


def _kilograms(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise LedgerError(f"{what} is a whole number of kilograms, not {value!r}")
    if value <= 0:
        raise LedgerError(f"{what} must be positive, got {value} kg")
    return value


@dataclass(frozen=True)
class Balance:
    """One entity's account for one CoC material in one period, as counters.

    `carried[i]` is the kilograms brought in from the period i+1 periods back. The
    available balance is what came in (carried, produced, received, transformed in)
    less what went out (issued, transformed out). Non-CoC inputs are tracked only for
    the input percentage.
    """

    material: CocMaterial
    period: Period
    carried: tuple[int, ...] = ()
    produced: int = 0
    received: int = 0
    transformed_in: int = 0
    transformed_out: int = 0
    issued: int = 0
    non_coc_in: int = 0

    def __post_init__(self) -> None:
        counters = (*self.carried, self.produced, self.received, self.transformed_in,
                    self.transformed_out, self.issued, self.non_coc_in)
        if any(isinstance(c, bool) or not isinstance(c, int) or c < 0 for c in counters):
            raise LedgerError("balance counters are non-negative whole kilograms")

    @property
    def carried_in(self) -> int:
        return sum(self.carried)

    @property
    def coc_in(self) -> int:
        return self.carried_in + self.produced + self.received + self.transformed_in

    @property
    def coc_out(self) -> int:
        return self.issued + self.transformed_out

    @property
    def kilograms(self) -> int:
        return self.coc_in - self.coc_out


def open_balance(material: CocMaterial, period: Period) -> Balance:
    return Balance(material, period)


def _spend(balance: Balance, kilograms: int, what: str) -> None:
    if kilograms > balance.kilograms:
        raise LedgerError(f"{what} of {kilograms} kg of {balance.material.value} exceeds the "
                          f"available balance of {balance.kilograms} kg in {balance.period.label}")


def produce(balance: Balance, kilograms: int) -> Balance:
    """Production of CoC material at a certified origin (mine, refinery, smelter)."""
    _kilograms(kilograms, "production")
    if balance.material not in ORIGIN_MATERIALS:
        raise LedgerError(f"{balance.material.value} is not produced at an origin; "
                          "eligible scrap enters through a remelter's intake")
    return replace(balance, produced=balance.produced + kilograms)


def take_in_scrap(balance: Balance, kilograms: int, kind: ScrapKind) -> Balance:
    """Eligible scrap (pre- or post-consumer) taken in by a remelter after due diligence."""
    _kilograms(kilograms, "scrap intake")
    ScrapKind(kind)
    if balance.material is not CocMaterial.ELIGIBLE_SCRAP:
        raise LedgerError(f"scrap is taken into an eligible_scrap account, "
                          f"not {balance.material.value}")
    return replace(balance, produced=balance.produced + kilograms)


def record_non_coc(balance: Balance, kilograms: int) -> Balance:
    """A non-CoC input: no CoC quantity, counted for the input percentage."""
    _kilograms(kilograms, "non-CoC input")
    return replace(balance, non_coc_in=balance.non_coc_in + kilograms)


def transform(source: Balance, target: Balance, transformation: Transformation,
              kilograms: int, declared: Decimal,
              policy: YieldPolicy = DEFAULT_YIELDS) -> tuple[Balance, Balance]:
    """Consume `kilograms` CoC input from `source`, credit floor(kg x yield) CoC output
    to `target`. When source and target are one account (metal to metal) both returned
    balances are the same new one."""
    _kilograms(kilograms, "transformation input")
    check_transformation(transformation, source.material, target.material)
    check_yield(transformation, declared, policy)
    return _transform(source, target, transformation, kilograms,
                      yield_output(kilograms, declared))


def transform_physical(source: Balance, target: Balance, transformation: Transformation,
                       found: Physical) -> tuple[Balance, Balance]:
    """Consume the CoC input of a transformation as it physically happened (checked by
    `physical`) from `source` and credit its CoC output to `target`."""
    check_transformation(transformation, source.material, target.material)
    return _transform(source, target, transformation, found.coc_input, found.coc_output)


def _transform(source: Balance, target: Balance, transformation: Transformation,
               kilograms: int, output: int) -> tuple[Balance, Balance]:
    if source.period != target.period:
        raise LedgerError(f"a transformation stays in one period: input in "
                          f"{source.period.label}, output in {target.period.label}")
    _spend(source, kilograms, f"{transformation.value} input")
    if source.material is target.material:
        both = replace(source, transformed_out=source.transformed_out + kilograms,
                       transformed_in=source.transformed_in + output)
        return both, both
    return (replace(source, transformed_out=source.transformed_out + kilograms),
            replace(target, transformed_in=target.transformed_in + output))


def issue(balance: Balance, quantity: int, coc_quantity: int) -> Balance:
    """Designate `coc_quantity` of a shipment of `quantity` kg as CoC material."""
    _kilograms(quantity, "quantity")
    _kilograms(coc_quantity, "CoC quantity")
    if coc_quantity > quantity:
        raise LedgerError(f"CoC quantity {coc_quantity} kg exceeds the shipped quantity "
                          f"{quantity} kg")
    _spend(balance, coc_quantity, "CoC quantity")
    return replace(balance, issued=balance.issued + coc_quantity)


def cancel(balance: Balance, coc_quantity: int) -> Balance:
    """A document cancelled before receipt: its CoC quantity returns to the issuer."""
    _kilograms(coc_quantity, "cancelled CoC quantity")
    if coc_quantity > balance.issued:
        raise LedgerError(f"cannot cancel {coc_quantity} kg: only {balance.issued} kg of "
                          f"{balance.material.value} was issued in {balance.period.label}")
    return replace(balance, issued=balance.issued - coc_quantity)


def receive(balance: Balance, coc_quantity: int) -> Balance:
    """A received document credits the recipient's account."""
    _kilograms(coc_quantity, "received CoC quantity")
    return replace(balance, received=balance.received + coc_quantity)


def close_period(balance: Balance, rule: CarryOverRule = DEFAULT_CARRY_OVER) -> Balance:
    """The opening balance of the next period. Out-goings spend the oldest kilograms
    first; what is left ages one period, expires past `rule.expiry_periods`, and the
    total carried is cut to `rule.cap` (oldest dropped first)."""
    if balance.kilograms < 0:
        raise LedgerError(f"{balance.material.value} balance in {balance.period.label} is "
                          f"negative ({balance.kilograms} kg); recompute before closing")
    fresh = balance.produced + balance.received + balance.transformed_in
    lots = [*balance.carried[::-1], fresh]           # oldest first, this period last
    ages = [*range(len(balance.carried), 0, -1), 0]  # periods since earned
    spent = balance.coc_out
    for i, kg in enumerate(lots):
        used = min(kg, spent)
        lots[i], spent = kg - used, spent - used
    kept = {age + 1: kg for age, kg in zip(ages, lots, strict=True)
            if age + 1 <= rule.expiry_periods}
    if rule.cap is not None:
        room = rule.cap
        for age in sorted(kept):                     # newest first keeps room
            kept[age] = min(kept[age], room)
            room -= kept[age]
    carried = tuple(kept.get(age, 0) for age in range(1, max(kept, default=0) + 1))
    while carried and carried[-1] == 0:
        carried = carried[:-1]
    return Balance(balance.material, next_period(balance.period), carried=carried)


# --- document numbers -------------------------------------------------------------------


def document_number(year: int, random_part: str) -> str | None:
    """``COC-<year>-<8 characters><check>``; None when the random part gives no issuable
    check character (draw again)."""
    if len(random_part) != 8 or any(c not in ID_ALPHABET for c in random_part):
        raise ValueError(f"the random part is 8 characters of {ID_ALPHABET}")
    check = mod37_2_check(f"{year:04d}{random_part}")
    return None if check == "*" else f"COC-{year:04d}-{random_part}{check}"


# --- paired movements -------------------------------------------------------------------


@dataclass(frozen=True)
class Movement:
    """Kilograms leaving `debit` and arriving at `credit`, under one correlation id."""

    debit: str
    credit: str
    kilograms: int
    correlation_id: str

    def __post_init__(self) -> None:
        _kilograms(self.kilograms, "a movement")
        if self.debit == self.credit:
            raise LedgerError(f"a movement needs two accounts, got {self.debit!r} twice")
        if not self.correlation_id:
            raise LedgerError("a movement needs a correlation id")


class Row(NamedTuple):
    account: str
    kilograms: int  # signed: negative on the debited account
    correlation_id: str


def pair(movement: Movement) -> tuple[Row, Row]:
    """The two ledger rows of a movement; their kilograms always sum to zero."""
    return (Row(movement.debit, -movement.kilograms, movement.correlation_id),
            Row(movement.credit, movement.kilograms, movement.correlation_id))


def reverse(movement: Movement, correlation_id: str | None = None) -> Movement:
    """The correction of a movement: the same kilograms back the other way."""
    return Movement(movement.credit, movement.debit, movement.kilograms,
                    correlation_id or f"{movement.correlation_id}:reversal")


def account_totals(rows: Iterable[Row]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for row in rows:
        totals[row.account] = totals.get(row.account, 0) + row.kilograms
    return totals


# --- CoC input percentage ---------------------------------------------------------------

_CENT = Decimal("0.01")


def input_percentage(coc_in: int, non_coc_in: int) -> Decimal:
    """Share of CoC input in all input, percent with 2 decimals, rounded down."""
    for value, what in ((coc_in, "CoC input"), (non_coc_in, "non-CoC input")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{what} is a non-negative whole number of kg, not {value!r}")
    total = coc_in + non_coc_in
    if total == 0:
        return Decimal("0.00")
    return (Decimal(100) * coc_in / total).quantize(_CENT, rounding=ROUND_DOWN)


# --- provenance pool --------------------------------------------------------------------


class OriginKey(NamedTuple):
    facility_id: str
    country: str
    route: Route


@dataclass(frozen=True)
class Pool:
    """A mass-weighted composition: kg per origin, and per attribute the mass-weighted
    sum (kg x value per kg), so any per-kg attribute (a footprint) rides along."""

    parts: Mapping[OriginKey, int] = field(default_factory=dict)
    attributes: Mapping[str, Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key, kg in self.parts.items():
            if isinstance(kg, bool) or not isinstance(kg, int) or kg <= 0:
                raise LedgerError(f"pool part {key} must be positive whole kg, not {kg!r}")

    @property
    def kilograms(self) -> int:
        return sum(self.parts.values())


def pool_of(key: OriginKey, kilograms: int,
            per_kg: Mapping[str, Decimal] | None = None) -> Pool:
    """A pool of one origin; `per_kg` gives attribute values per kilogram."""
    _kilograms(kilograms, "pool mass")
    return Pool({key: kilograms},
                {name: value * kilograms for name, value in (per_kg or {}).items()})


def add(pool: Pool, other: Pool) -> Pool:
    parts = dict(pool.parts)
    for key, kg in other.parts.items():
        parts[key] = parts.get(key, 0) + kg
    attributes = dict(pool.attributes)
    for name, value in other.attributes.items():
        attributes[name] = attributes.get(name, Decimal(0)) + value
    return Pool(parts, attributes)


def _apportion(parts: Mapping[OriginKey, int], kilograms: int) -> dict[OriginKey, int]:
    """`kilograms` shared over `parts` in proportion (largest remainder): each origin gets
    the floor of its exact share, and the kilograms still missing go one each to the
    origins with the largest remainders; equal remainders go to the lower origin key
    (facility id, then country, then route), so a split never depends on insertion order.
    The shares sum to exactly `kilograms` and each is within 1 kg of its exact share."""
    total = sum(parts.values())
    keys = sorted(parts)
    floors = {k: parts[k] * kilograms // total for k in keys}
    rests = {k: parts[k] * kilograms % total for k in keys}
    missing = kilograms - sum(floors.values())
    for k in sorted(keys, key=lambda k: -rests[k])[:missing]:  # sorted is stable
        floors[k] += 1
    return floors


def take(pool: Pool, kilograms: int) -> tuple[Pool, Pool]:
    """Split off `kilograms` in proportion to the composition: (taken, remaining).
    Largest remainder rounding: the taken parts sum to exactly `kilograms` and every
    part is within 1 kg of its exact share; attributes split exactly by mass."""
    _kilograms(kilograms, "kilograms taken")
    total = pool.kilograms
    if kilograms > total:
        raise LedgerError(f"cannot take {kilograms} kg from a pool of {total} kg")
    split = _apportion(pool.parts, kilograms)
    taken = {k: kg for k, kg in split.items() if kg}
    remaining = {k: kg - split[k] for k, kg in sorted(pool.parts.items()) if kg - split[k]}
    taken_attrs = {n: v * kilograms / total for n, v in pool.attributes.items()}
    remaining_attrs = {n: v - taken_attrs[n] for n, v in pool.attributes.items()}
    return Pool(taken, taken_attrs), Pool(remaining, remaining_attrs)


def shares(pool: Pool) -> dict[OriginKey, Decimal]:
    """Percent of the pool per origin, 2 decimals, rounded down."""
    total = pool.kilograms
    return {k: (Decimal(100) * kg / total).quantize(_CENT, rounding=ROUND_DOWN)
            for k, kg in sorted(pool.parts.items())}


def route_share(pool: Pool, route: Route) -> Decimal:
    """Percent of the pool from `route` (primary or recycled), 2 decimals, rounded down."""
    total = pool.kilograms
    if total == 0:
        return Decimal("0.00")
    kg = sum(v for k, v in pool.parts.items() if k.route is route)
    return (Decimal(100) * kg / total).quantize(_CENT, rounding=ROUND_DOWN)


def attribute_per_kg(pool: Pool, name: str) -> Decimal | None:
    """The mass-weighted average of an attribute, or None when the pool lacks it."""
    if name not in pool.attributes or pool.kilograms == 0:
        return None
    return pool.attributes[name] / pool.kilograms


def scale(pool: Pool, kilograms: int) -> Pool:
    """The same composition carried by `kilograms` (a transformation's output): parts
    rescaled with largest-remainder rounding so they sum to exactly `kilograms`; the
    attribute sums are kept whole, so a per-kg attribute (a footprint) rises as the yield
    loses mass."""
    _kilograms(kilograms, "scaled pool mass")
    total = pool.kilograms
    if total == 0:
        raise LedgerError("cannot scale an empty pool")
    split = _apportion(pool.parts, kilograms)
    return Pool({k: kg for k, kg in split.items() if kg}, dict(pool.attributes))


def pool_to_data(pool: Pool) -> dict[str, object]:
    """The pool as JSON data: parts sorted, attributes as decimal strings."""
    return {"parts": [[k.facility_id, k.country, k.route.value, kg]
                      for k, kg in sorted(pool.parts.items())],
            "attributes": {n: str(v) for n, v in sorted(pool.attributes.items())}}


def pool_from_data(data: Mapping[str, object] | None) -> Pool:
    if not data:
        return Pool()
    parts_data = data.get("parts") or []
    attrs_data = data.get("attributes") or {}
    assert isinstance(parts_data, list) and isinstance(attrs_data, dict)
    parts = {OriginKey(str(f), str(c), Route(str(r))): int(kg) for f, c, r, kg in parts_data}
    return Pool(parts, {str(n): Decimal(str(v)) for n, v in attrs_data.items()})


# --- conservation -----------------------------------------------------------------------


@dataclass(frozen=True)
class TransformRecord:
    """One transformation as recorded: CoC input and CoC output kilograms at a yield,
    and, where recorded, the total input and output it was part of."""

    entity: str
    period: Period
    transformation: Transformation
    input_kg: int
    output_kg: int
    declared: Decimal
    total_input_kg: int | None = None
    total_output_kg: int | None = None


def conservation_breaks(balances: Iterable[tuple[str, Balance]],
                        transforms: Iterable[TransformRecord] = (),
                        policy: YieldPolicy = DEFAULT_YIELDS, *,
                        network: bool = True) -> list[str]:
    """Every place the mass balance breaks, as a sentence naming entity and period:
    out beyond in (after yields) plus carry-over, a transformation beyond its declared
    yield or physics, and network-wide receipts beyond issues per material (cumulative
    up to each period, since a document may be received in a later period)."""
    breaks: list[str] = []
    issued: dict[tuple[CocMaterial, Period], int] = {}
    received: dict[tuple[CocMaterial, Period], int] = {}
    for entity, b in balances:
        if b.coc_out > b.coc_in:
            breaks.append(
                f"{entity}, {b.material.value}, {b.period.label}: CoC out {b.coc_out} kg "
                f"exceeds CoC in after yields {b.coc_in - b.carried_in} kg plus carry-over "
                f"{b.carried_in} kg")
        key = (b.material, b.period)
        issued[key] = issued.get(key, 0) + b.issued
        received[key] = received.get(key, 0) + b.received
    for t in transforms:
        where = f"{t.entity}, {t.transformation.value}, {t.period.label}"
        if t.total_input_kg is not None and t.total_output_kg is not None:
            breaks += [f"{where}: {problem}" for problem in _physical_breaks(t, policy)]
            continue
        try:
            check_yield(t.transformation, t.declared, policy)
        except YieldError as error:
            breaks.append(f"{where}: {error}")
            continue
        if t.output_kg > yield_output(t.input_kg, t.declared):
            breaks.append(f"{where}: CoC output {t.output_kg} kg exceeds input {t.input_kg} "
                          f"kg x declared yield {t.declared}")
    if not network:  # the caller checks receipts against issues document by document
        return breaks
    running: dict[CocMaterial, tuple[int, int]] = {}  # cumulative (issued, received)
    for material, period in sorted(issued, key=lambda k: (k[1], k[0])):
        done_in, done_out = running.get(material, (0, 0))
        done_in += issued[(material, period)]
        done_out += received[(material, period)]
        running[material] = (done_in, done_out)
        if done_out > done_in:
            breaks.append(f"network, {material.value}, up to {period.label}: received "
                          f"{done_out} kg exceeds issued {done_in} kg")
    return breaks


def _physical_breaks(t: TransformRecord, policy: YieldPolicy) -> list[str]:
    """A transformation recorded with its totals: the yield they give within physics,
    the CoC input within the total, the CoC output within the CoC input times the yield."""
    assert t.total_input_kg is not None and t.total_output_kg is not None
    try:
        found = physical(t.total_input_kg, t.total_output_kg, t.input_kg, t.transformation,
                         policy)
    except (LedgerError, YieldError) as error:
        return [str(error)]
    if t.output_kg > found.coc_output:
        return [f"CoC output {t.output_kg} kg exceeds CoC input {t.input_kg} kg x the yield "
                f"{t.total_output_kg} kg / {t.total_input_kg} kg"]
    return []
