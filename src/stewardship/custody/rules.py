"""Pure rules of the chain of custody: materials, transformations and their physical
yield limits, accounting periods, the mass-balance ledger, paired movements, the CoC
input percentage, the provenance pool and the conservation check.

No I/O here. Mass is whole kilograms (int) everywhere; yields and shares are Decimal.
Every rounding of a CoC quantity goes down, so nothing is ever over-claimed; shares of
a whole (origins, routes) round to the nearest so that they add up (`percent_shares`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import ROUND_DOWN, ROUND_FLOOR, ROUND_UP, Decimal
from enum import StrEnum
from typing import NamedTuple

import stewardship.core.labels as labels
from stewardship.assurance.rules import add_months
from stewardship.custody.origins.rules import (  # noqa: F401  (re-exported)
    LedgerError,
    OriginLevel,
    Pool,
    add,
    apportion,
    attribute_per_kg,
    footprint_of,
    origin_key,
    pool_from_data,
    pool_of,
    pool_to_data,
    remove,
    route_share,
    route_shares,
    scale,
    shares,
    take,
    whole_kilograms,
)

# Origins and shares have rules of their own; the services find them here too.
from stewardship.custody.origins.rules import OriginKey as OriginKey
from stewardship.custody.origins.rules import Route as Route
from stewardship.custody.origins.rules import Site as Site
from stewardship.custody.origins.rules import Stage as Stage
from stewardship.custody.origins.rules import origin_levels as _levels
from stewardship.custody.origins.rules import percent_shares as percent_shares
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


MATERIAL_LABELS = {m: labels.MATERIALS[m.value] for m in CocMaterial}

# Materials a certified origin (mine, refinery, smelter) may put into the chain as
# production; eligible scrap enters only through a remelter's intake after due diligence.
ORIGIN_MATERIALS = frozenset(
    {CocMaterial.ASI_BAUXITE, CocMaterial.ASI_ALUMINA, CocMaterial.ASI_ALUMINIUM})


class ScrapKind(StrEnum):
    PRE_CONSUMER = "pre_consumer"
    POST_CONSUMER = "post_consumer"


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
            return (f"{labels.label(transformation)} happens at a facility with one of these "
                    f"activities: {', '.join(sorted(labels.label(a) for a in need))}")
    if material is not None and ORIGIN_ACTIVITIES[material] not in have:
        return (f"{labels.label(material)} originates at a facility with the "
                f"{labels.label(ORIGIN_ACTIVITIES[material])} activity")
    return None


RECIPIENT_STATUSES = frozenset({"member", "suspended"})
"""Membership statuses of an organization whose entities may receive a CoC document."""


def recipient_refusal(recipient_id: object, issuer_id: object, name: str,
                      status: str | None) -> str | None:
    """Why a CoC document may not go to this recipient (None: it may): never to its own
    issuer, only to an entity of a member of the scheme (a suspended member still
    receives)."""
    if recipient_id == issuer_id:
        return "a CoC document goes to another entity, not to its issuer"
    if status not in RECIPIENT_STATUSES:
        return f"{name} belongs to no member of the scheme"
    return None


def check_transformation(transformation: Transformation, source: CocMaterial,
                         target: CocMaterial) -> None:
    """Raise LedgerError unless `transformation` turns `source` into `target`."""
    if source not in transformation.inputs:
        allowed = " or ".join(sorted(labels.label(m) for m in transformation.inputs))
        raise LedgerError(f"{labels.label(transformation)} takes {allowed} as input, "
                          f"not {labels.label(source)}")
    if target is not transformation.output:
        raise LedgerError(f"{labels.label(transformation)} produces "
                          f"{labels.label(transformation.output)}, not {labels.label(target)}")


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
        raise YieldError(f"declared yield for {labels.lower(transformation)} must be greater than "
                         f"0 kg/kg, got {declared}")
    limit = policy.limits[transformation]
    if declared > limit.maximum:
        raise YieldError(f"declared yield {declared} kg/kg for {labels.lower(transformation)} "
                         f"exceeds the physical limit of {limit.maximum} kg/kg: {limit.reason}")


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
            whole_kilograms(value, what)
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
                         f"kg/kg for {labels.lower(transformation)}, which exceeds the physical "
                         f"limit of {limit.maximum} kg/kg: {limit.reason}")
    if found.declared_yield == 0:
        raise YieldError(f"{total_output} kg out of {total_input} kg is a yield below "
                         f"{YIELD_PLACES} kg/kg")
    return found


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
        raise LedgerError(f"{what} of {kilograms} kg of {labels.label(balance.material)} "
                          f"exceeds the available balance of {balance.kilograms} kg in "
                          f"{balance.period.label}")


def produce(balance: Balance, kilograms: int) -> Balance:
    """Production of CoC material at a certified origin (mine, refinery, smelter)."""
    whole_kilograms(kilograms, "production")
    if balance.material not in ORIGIN_MATERIALS:
        raise LedgerError(f"{labels.label(balance.material)} is not produced at an origin; "
                          "eligible scrap enters through a remelter's intake")
    return replace(balance, produced=balance.produced + kilograms)


def take_in_scrap(balance: Balance, kilograms: int, kind: ScrapKind) -> Balance:
    """Eligible scrap (pre- or post-consumer) taken in by a remelter after due diligence."""
    whole_kilograms(kilograms, "scrap intake")
    ScrapKind(kind)
    if balance.material is not CocMaterial.ELIGIBLE_SCRAP:
        raise LedgerError(f"scrap is taken into an eligible scrap account, "
                          f"not {labels.label(balance.material)}")
    return replace(balance, produced=balance.produced + kilograms)


def record_non_coc(balance: Balance, kilograms: int) -> Balance:
    """A non-CoC input: no CoC quantity, counted for the input percentage."""
    whole_kilograms(kilograms, "non-CoC input")
    return replace(balance, non_coc_in=balance.non_coc_in + kilograms)


def transform(source: Balance, target: Balance, transformation: Transformation,
              kilograms: int, declared: Decimal,
              policy: YieldPolicy = DEFAULT_YIELDS) -> tuple[Balance, Balance]:
    """Consume `kilograms` CoC input from `source`, credit floor(kg x yield) CoC output
    to `target`. When source and target are one account (metal to metal) both returned
    balances are the same new one."""
    whole_kilograms(kilograms, "transformation input")
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
    _spend(source, kilograms, f"{labels.lower(transformation)} input")
    if source.material is target.material:
        both = replace(source, transformed_out=source.transformed_out + kilograms,
                       transformed_in=source.transformed_in + output)
        return both, both
    return (replace(source, transformed_out=source.transformed_out + kilograms),
            replace(target, transformed_in=target.transformed_in + output))


def issue(balance: Balance, quantity: int, coc_quantity: int) -> Balance:
    """Designate `coc_quantity` of a shipment of `quantity` kg as CoC material."""
    whole_kilograms(quantity, "quantity")
    whole_kilograms(coc_quantity, "CoC quantity")
    if coc_quantity > quantity:
        raise LedgerError(f"CoC quantity {coc_quantity} kg exceeds the shipped quantity "
                          f"{quantity} kg")
    _spend(balance, coc_quantity, "CoC quantity")
    return replace(balance, issued=balance.issued + coc_quantity)


def cancel(balance: Balance, coc_quantity: int) -> Balance:
    """A document cancelled before receipt: its CoC quantity returns to the issuer."""
    whole_kilograms(coc_quantity, "cancelled CoC quantity")
    if coc_quantity > balance.issued:
        raise LedgerError(f"cannot cancel {coc_quantity} kg: only {balance.issued} kg of "
                          f"{labels.label(balance.material)} was issued in {balance.period.label}")
    return replace(balance, issued=balance.issued - coc_quantity)


def receive(balance: Balance, coc_quantity: int) -> Balance:
    """A received document credits the recipient's account."""
    whole_kilograms(coc_quantity, "received CoC quantity")
    return replace(balance, received=balance.received + coc_quantity)


# --- reversals -------------------------------------------------------------------------

REVERSIBLE_KINDS = frozenset({"production", "scrap_intake", "non_coc_input", "transformation"})
_OWN_CORRECTION = {"issue": "an issued document is corrected by cancelling the document",
                   "reversal": "a reversal cannot itself be reversed; record the entry again"}


def reversal_refusal(kind: str) -> str | None:
    """Why a journal entry of `kind` cannot be reversed (None: it can): an issue has its
    own correction, a reversal is not undone, a document's other entries and a period
    close are final."""
    if kind in REVERSIBLE_KINDS:
        return None
    return _OWN_CORRECTION.get(kind, f"a {kind.replace('_', ' ')} entry is final")


def unwind(balance: Balance, held: int = 0, **counters: int) -> Balance:
    """`balance` with an entry's counters taken back (``produced=400``), refused when the
    `held` kg it credited are no longer in the balance (issued or transformed since).
    Counters never go below zero (``Balance`` refuses)."""
    if held > balance.kilograms:
        raise LedgerError(f"the {held} kg of {labels.label(balance.material)} the entry credited "
                          f"have already left: only {balance.kilograms} kg remain in "
                          f"{balance.period.label}")
    return replace(balance, **{n: getattr(balance, n) - kg for n, kg in counters.items()})


def close_period(balance: Balance, rule: CarryOverRule = DEFAULT_CARRY_OVER) -> Balance:
    """The opening balance of the next period. Out-goings spend the oldest kilograms
    first; what is left ages one period, expires past `rule.expiry_periods`, and the
    total carried is cut to `rule.cap` (oldest dropped first)."""
    if balance.kilograms < 0:
        raise LedgerError(f"{labels.label(balance.material)} balance in {balance.period.label} is "
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


# --- documents waiting for their recipient ---------------------------------------------

UNMATCHED_DAYS = 30
"""Days after its shipment date from which an issued CoC document that its recipient has
neither received nor rejected counts as unmatched: the secretariat's dashboard counts
those, and the unmatched lists (page, API, CLI) start from this many days unless told."""


# --- paired movements -------------------------------------------------------------------


@dataclass(frozen=True)
class Movement:
    """Kilograms leaving `debit` and arriving at `credit`, under one correlation id."""

    debit: str
    credit: str
    kilograms: int
    correlation_id: str

    def __post_init__(self) -> None:
        whole_kilograms(self.kilograms, "a movement")
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


def reverse_rows(rows: Iterable[Row], correlation_id: str) -> list[Row]:
    """An operation's ledger rows the other way under the correction's id (``reverse``,
    leg by leg)."""
    if not correlation_id:
        raise LedgerError("a movement needs a correlation id")
    return [Row(row.account, -row.kilograms, correlation_id) for row in rows]


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

# The stage of the facility where CoC material of each kind enters the chain.
ENTRY_STAGES: dict[CocMaterial, Stage] = {
    CocMaterial.ASI_BAUXITE: Stage.MINE,
    CocMaterial.ASI_ALUMINA: Stage.REFINERY,
    CocMaterial.ASI_ALUMINIUM: Stage.SMELTER,
    CocMaterial.ELIGIBLE_SCRAP: Stage.REMELTER,
}

# The stage a transformation's facility becomes for the material it turns out; the
# metal-to-metal steps (casting, rolling, extrusion, conversion) change no origin.
TRANSFORMATION_STAGES: dict[Transformation, Stage] = {
    Transformation.REFINING: Stage.REFINERY,
    Transformation.SMELTING: Stage.SMELTER,
    Transformation.REMELTING: Stage.REMELTER,
}


def entry_origin(material: CocMaterial, facility_id: str, country: str) -> OriginKey:
    """The origin of CoC material put into the chain at a facility: production at a mine
    (bauxite), a refinery (alumina) or a smelter (aluminium), or eligible scrap taken in
    at a remelter (the recycled route)."""
    route = Route.RECYCLED if material is CocMaterial.ELIGIBLE_SCRAP else Route.PRIMARY
    return origin_key(route, [Site(ENTRY_STAGES[material], facility_id, country)])


def through(pool: Pool, transformation: Transformation, facility_id: str,
            country: str) -> Pool:
    """The origins of a transformation's output: refining names the refinery, smelting
    the smelter as each origin's latest stage, keeping the earlier ones (smelted metal
    names its smelter, refinery and mine); remelting names the remelter of the recycled
    route only (remelted primary metal still names its smelter). A stage named already
    is replaced; origins that come to name the same sites merge."""
    stage = TRANSFORMATION_STAGES.get(transformation)
    if stage is None:
        return pool
    site = Site(stage, facility_id, country)
    parts: dict[OriginKey, int] = {}
    for key, kg in sorted(pool.parts.items()):
        if stage is Stage.REMELTER and key.route is not Route.RECYCLED:
            new = key
        else:
            new = origin_key(key.route, [site, *(s for s in key.sites if s.stage != stage)])
        parts[new] = parts.get(new, 0) + kg
    return Pool(parts, dict(pool.attributes), pool.footprint)


def origin_levels(pool: Pool) -> list[OriginLevel]:
    """The pool's origins in two levels, smelter or remelter first (`origins.rules`)."""
    return _levels(pool.parts)
