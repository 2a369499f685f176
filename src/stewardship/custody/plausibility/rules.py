"""Pure rules of what is physically plausible in the books: the capacity per activity of
a facility (output beyond it in a period is refused at recording and flagged by the audit),
yields far from the typical range (flagged), and the conservation check the audit runs
over every transformation (output within its declared yield and the physical limits).

No I/O here. Mass is whole kilograms; the capacity of a period is prorated by its months.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_FLOOR, Decimal

from stewardship.custody.origins.rules import LedgerError
from stewardship.custody.rules import (
    DEFAULT_YIELDS,
    ORIGIN_ACTIVITIES,
    ORIGIN_MATERIALS,
    Balance,
    CocMaterial,
    Period,
    Transformation,
    YieldError,
    YieldPolicy,
    check_yield,
    physical,
    yield_output,
)

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
