"""The share of an inventory's Scope 1 and 2 that each process carries per kilogram."""

from __future__ import annotations

from decimal import Decimal

import pytest

from stewardship.carbon.rules import CarbonError, process_intensity


def test_mass_allocation_gives_every_process_the_entity_mean() -> None:
    outputs = {"casting": 60_000_000, "rolling": 40_000_000}
    for process in outputs:
        assert process_intensity(Decimal("50000"), outputs, process, "mass", {}) == \
            Decimal("0.500000")


def test_declared_allocation_divides_the_process_figure_by_its_own_output() -> None:
    outputs = {"casting": 60_000_000, "rolling": 40_000_000}
    declared = {"casting": Decimal("12000"), "rolling": Decimal("30000.52")}
    assert process_intensity(Decimal("42000.52"), outputs, "casting", "declared",
                             declared) == Decimal("0.200000")
    assert process_intensity(Decimal("42000.52"), outputs, "rolling", "declared",
                             declared) == Decimal("0.750013")


@pytest.mark.parametrize(("process", "allocation", "declared", "message"), [
    ("smelting", "mass", {}, "no output for smelting"),
    ("casting", "declared", {"casting": None}, "declares no emissions for casting"),
    ("casting", "by value", {}, "unknown allocation"),
])
def test_an_inventory_that_cannot_answer_says_why(process: str, allocation: str,
                                                   declared: dict[str, Decimal | None],
                                                   message: str) -> None:
    with pytest.raises(CarbonError, match=message):
        process_intensity(Decimal(1), {"casting": 1000}, process, allocation, declared)
