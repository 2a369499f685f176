"""Carbon arithmetic, pure: intensities and the share of an inventory a process carries.

Every figure is a Decimal; t CO2e per t is the same number as kg CO2e per kg.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

PER_KG = Decimal("0.000001")
"""Intensities per kilogram are kept to six places (a milligram of CO2e per kilogram)."""

PROCESSES = ("mining", "refining", "smelting", "remelting", "casting", "rolling",
             "extrusion", "conversion")


LATEST_INVENTORY_DAYS = 730
"""Material made in a period whose inventory is not recorded yet (it is recorded once the
period is over) takes the entity's latest inventory, if that ended at most this many days
before: the most recent primary data, as footprints are usually reported."""


class CarbonError(ValueError):
    """An inventory that cannot be used as it stands."""


@dataclass(frozen=True)
class ProcessEmissions:
    """What one process adds to each kilogram it puts out."""

    kg_co2e_per_kg: Decimal
    primary: bool
    """True where the figure is the entity's own (primary) data, verified or not."""


def process_intensity(own_t: Decimal, outputs_kg: Mapping[str, int], process: str,
                      allocation: str, declared_t: Mapping[str, Decimal | None]
                      ) -> Decimal:
    """The process's kg CO2e per kg of output from the entity's own emissions ``own_t``
    (Scope 1 and 2, t CO2e), shared by output mass or by each process's declared figure."""
    if process not in outputs_kg:
        raise CarbonError(f"the inventory records no output for {process}")
    out = outputs_kg[process]
    if out <= 0:
        raise CarbonError(f"the output of {process} must be more than 0 kg")
    if allocation == "mass":
        total = sum(outputs_kg.values())
        share = own_t * Decimal(1000) * Decimal(out) / Decimal(total)
    elif allocation == "declared":
        figure = declared_t.get(process)
        if figure is None:
            raise CarbonError(f"the inventory declares no emissions for {process}")
        share = figure * Decimal(1000)
    else:
        raise CarbonError(f"unknown allocation {allocation!r}: mass or declared")
    return (share / Decimal(out)).quantize(PER_KG)


# --- vocabularies -------------------------------------------------------------------------

SMELTING = "smelting"
TONNE_SCALE = Decimal("0.001")
"""Tonnes of CO2e are kept to the kilogram."""
INTENSITY = Decimal("0.001")
"""Intensities shown and checked, t CO2e per t, to three places."""


class Process(StrEnum):
    """What an inventory's production is counted by: the stages of the chain, named as
    the chain of custody names its transformations (plus mining, which transforms
    nothing)."""

    MINING = "mining"
    REFINING = "refining"
    SMELTING = "smelting"
    REMELTING = "remelting"
    CASTING = "casting"
    ROLLING = "rolling"
    EXTRUSION = "extrusion"
    CONVERSION = "conversion"


class PfcMethod(StrEnum):
    """How a smelter quantifies the PFCs of its anode effects."""

    SLOPE = "slope"
    OVERVOLTAGE = "overvoltage"


class Allocation(StrEnum):
    MASS = "mass"
    DECLARED = "declared"


class Verification(StrEnum):
    SELF_DECLARED = "self_declared"
    THIRD_PARTY_VERIFIED = "third_party_verified"


class ThresholdStatus(StrEnum):
    """Where a smelter's Scope 1+2 intensity stands against the standard's threshold."""

    MEETS = "meets"
    """At or below the limit."""
    ON_PATH = "on_path"
    """Above the limit, but a smelter commissioned before 2020 on its path to it."""
    OFF_PATH = "off_path"
    """Above its path to the limit (flagged)."""
    ABOVE = "above"
    """Above a limit that already applies to it (flagged)."""


FLAGGED = frozenset({ThresholdStatus.OFF_PATH, ThresholdStatus.ABOVE})


# --- intensities --------------------------------------------------------------------------


def scope2_t(electricity_mwh: Decimal, factor_t_per_mwh: Decimal) -> Decimal:
    """Scope 2 from the electricity consumed and its factor, to the kilogram."""
    return (electricity_mwh * factor_t_per_mwh).quantize(TONNE_SCALE)


@dataclass(frozen=True)
class StageIntensity:
    """One process's intensities, t CO2e per t of its output."""

    process: str
    output_kg: int
    scope12: Decimal
    """Scope 1 and 2 allocated to the process, per t of its output."""
    cradle_to_gate: Decimal | None
    """Scope 1, 2 and the upstream Scope 3 categories, per t of its output; None where no
    upstream emissions are recorded."""


def stage_intensities(own_t: Decimal, scope3_t: Decimal, outputs_kg: Mapping[str, int],
                      allocation: str, declared_t: Mapping[str, Decimal | None]
                      ) -> list[StageIntensity]:
    """Every process's intensities. Scope 1 and 2 (``own_t``) are shared as the inventory
    says (by output mass or by each process's declared figure); upstream Scope 3 is always
    shared by output mass, so it adds the same figure per tonne to every process."""
    total_kg = sum(outputs_kg.values())
    upstream = (scope3_t * Decimal(1000) / Decimal(total_kg)) if scope3_t and total_kg \
        else None
    out = []
    for process in sorted(outputs_kg):
        own = process_intensity(own_t, outputs_kg, process, allocation, declared_t)
        out.append(StageIntensity(
            process=process, output_kg=outputs_kg[process], scope12=own.quantize(INTENSITY),
            cradle_to_gate=(own + upstream).quantize(INTENSITY) if upstream is not None
            else None))
    return out


def entity_intensity(own_t: Decimal, outputs_kg: Mapping[str, int]) -> Decimal | None:
    """Scope 1 and 2 per t of all the inventory's output; None without output."""
    total = sum(outputs_kg.values())
    if total <= 0:
        return None
    return (own_t * Decimal(1000) / Decimal(total)).quantize(INTENSITY)


# --- the smelter threshold and the path to it ---------------------------------------------


@dataclass(frozen=True)
class SmelterThresholds:
    """The two limits the standard version carries for smelters' Scope 1+2 intensity."""

    new_max: Decimal
    """The limit for smelters commissioned on or after ``new_from``, from their start."""
    new_from: date
    existing_max: Decimal
    """The limit that smelters commissioned before ``new_from`` must reach by
    ``existing_by``."""
    existing_by: date


@dataclass(frozen=True)
class ThresholdCheck:
    status: ThresholdStatus
    limit: Decimal
    """The limit that applies to the smelter (reached now or by the due day)."""
    allowed: Decimal
    """What the smelter may emit per tonne in the period checked: the limit, or the point
    of its path for that period."""
    due_on: date | None
    """For an older smelter still above the limit: the day it must reach it."""
    new_smelter: bool

    @property
    def flagged(self) -> bool:
        return self.status in FLAGGED


def path_allowance(baseline: Decimal, start: date, limit: Decimal, due: date, on: date
                   ) -> Decimal:
    """The point of an older smelter's path on day ``on``: a straight line from its first
    inventory's intensity (``baseline``, at the end of that inventory's period, ``start``)
    down to ``limit`` on ``due``; the limit itself from ``due`` on, and wherever the
    baseline is already at or below it. Never above the baseline, never below the limit."""
    if baseline <= limit or on >= due:
        return limit
    if on <= start:
        return baseline
    span = Decimal((due - start).days)
    gone = Decimal((on - start).days)
    return (baseline - (baseline - limit) * gone / span).quantize(INTENSITY)


def check_smelter(intensity: Decimal, commissioned_year: int | None,
                  thresholds: SmelterThresholds, on: date,
                  baseline: tuple[Decimal, date] | None) -> ThresholdCheck:
    """Check a smelter's Scope 1+2 intensity for the period ending ``on``.

    A smelter commissioned from ``new_from``'s year (or whose commissioning year is not
    recorded: the stricter reading) must be at or below ``new_max`` from the start. An older
    one must be at or below ``existing_max`` from ``existing_by`` on; before that it is on a
    linear path from its first inventory (``baseline``: that inventory's intensity and the
    last day of its period) to the limit on ``existing_by``, and is flagged when above it."""
    new = commissioned_year is None or commissioned_year >= thresholds.new_from.year
    if new:
        limit = thresholds.new_max
        status = ThresholdStatus.MEETS if intensity <= limit else ThresholdStatus.ABOVE
        return ThresholdCheck(status, limit, limit, None, True)
    limit, due = thresholds.existing_max, thresholds.existing_by
    if intensity <= limit:
        return ThresholdCheck(ThresholdStatus.MEETS, limit, limit, None, False)
    if on >= due:
        return ThresholdCheck(ThresholdStatus.ABOVE, limit, limit, None, False)
    first, start = baseline if baseline is not None else (intensity, on)
    allowed = path_allowance(first, start, limit, due, on)
    status = ThresholdStatus.ON_PATH if intensity <= allowed else ThresholdStatus.OFF_PATH
    return ThresholdCheck(status, limit, allowed, due, False)


# --- periods ------------------------------------------------------------------------------


def overlaps(a_start: date, a_end: date, b_start: date, b_end: date) -> bool:
    """Two closed periods share at least one day."""
    return a_start <= b_end and b_start <= a_end


# --- CBAM: specific embedded emissions of an installation's goods -------------------------


def attributed_t(total_t: Decimal, outputs_kg: Mapping[str, int], processes: Sequence[str],
                 allocation: str, declared_t: Mapping[str, Decimal | None]) -> Decimal:
    """The part of ``total_t`` (an inventory's direct emissions, or its electricity) that
    ``processes`` carry: by their output mass, or by their share of the declared figures
    (by mass where nothing is declared)."""
    mine = [p for p in processes if p in outputs_kg]
    if not mine or total_t == 0:
        return Decimal(0).quantize(TONNE_SCALE)
    declared = {p: v for p, v in declared_t.items() if v is not None}
    if allocation == "declared" and sum(declared.values(), Decimal(0)) > 0:
        part = sum((declared.get(p, Decimal(0)) for p in mine), Decimal(0))
        whole = sum(declared.values(), Decimal(0))
    else:
        part = Decimal(sum(outputs_kg[p] for p in mine))
        whole = Decimal(sum(outputs_kg.values()))
    return (total_t * part / whole).quantize(TONNE_SCALE)


def embedded_t(quantity_kg: int, see_t_per_t: Decimal) -> Decimal:
    """A precursor's embedded emissions: its quantity (t) times its specific embedded
    emissions (t CO2e per t), to the kilogram."""
    return (Decimal(quantity_kg) / Decimal(1000) * see_t_per_t).quantize(TONNE_SCALE)


def specific_embedded(direct_t: Decimal, precursors_t: Decimal, output_kg: int,
                      good: str) -> Decimal:
    """CBAM's specific embedded emissions of a good, t CO2e per t: (the direct emissions
    attributed to its production + the embedded emissions of the precursors consumed) / the
    activity level (t produced)."""
    if output_kg <= 0:
        raise CarbonError(f"no production of {good} in the period: its specific embedded "
                          "emissions cannot be computed")
    return ((direct_t + precursors_t) * Decimal(1000) / Decimal(output_kg)).quantize(
        INTENSITY)


def direct_fraction(direct_t: Decimal, scope2_t: Decimal) -> Decimal:
    """The share of an inventory's Scope 1+2 that is direct (Scope 1 with PFCs); 0 where
    it emitted nothing."""
    total = direct_t + scope2_t
    return Decimal(0) if total == 0 else direct_t / total


def direct_of_tiers(tiers: Sequence[tuple[Decimal, Decimal | None]]) -> tuple[Decimal, int]:
    """The direct part of a footprint built up tier by tier: each row's kg CO2e per kg
    times its process's direct share, where known; a row whose share is unknown (None)
    counts whole, Scope 1+2 (an upper bound). With the number of such rows."""
    total, unknown = Decimal(0), 0
    for value, share in tiers:
        if share is None:
            total += value
            unknown += value > 0
        else:
            total += value * share
    return total.quantize(PER_KG), unknown


def secondary_route(scrap_kg: int, metal_kg: int, threshold: Decimal) -> bool:
    """Unwrought aluminium is of the secondary route when more than ``threshold`` of its
    metal input (scrap and aluminium) is scrap."""
    total = scrap_kg + metal_kg
    return total > 0 and Decimal(scrap_kg) / Decimal(total) > threshold
