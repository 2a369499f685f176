"""Carbon arithmetic, pure: intensities and the share of an inventory a process carries.

Every figure is a Decimal; t CO2e per t is the same number as kg CO2e per kg.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

PER_KG = Decimal("0.000001")
"""Intensities per kilogram are kept to six places (a milligram of CO2e per kilogram)."""

PROCESSES = ("mining", "refining", "smelting", "remelting", "casting", "rolling",
             "extrusion", "conversion")


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
