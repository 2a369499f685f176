"""Intensities per stage and the smelter threshold with an older smelter's path to it."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from stewardship.carbon.rules import (
    SmelterThresholds,
    ThresholdStatus,
    check_smelter,
    entity_intensity,
    overlaps,
    path_allowance,
    scope2_t,
    stage_intensities,
)

LIMITS = SmelterThresholds(new_max=Decimal("8.0"), new_from=date(2020, 1, 1),
                           existing_max=Decimal("8.0"), existing_by=date(2030, 1, 1))
DUE = LIMITS.existing_by

tonnes = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("10000000"), places=3)
kilograms = st.integers(min_value=1_000, max_value=10**12)
days = st.dates(min_value=date(2015, 1, 1), max_value=date(2035, 12, 31))


def test_scope2_is_electricity_times_its_factor_to_the_kilogram() -> None:
    assert scope2_t(Decimal("6300000"), Decimal("0.011")) == Decimal("69300.000")
    assert scope2_t(Decimal("1.5"), Decimal("0.3333")) == Decimal("0.500")


def test_stages_share_scope_1_and_2_by_mass_and_add_upstream_per_tonne() -> None:
    stages = {s.process: s for s in stage_intensities(
        Decimal("50000"), Decimal("10000"), {"casting": 60_000_000, "rolling": 40_000_000},
        "mass", {})}
    assert stages["casting"].scope12 == stages["rolling"].scope12 == Decimal("0.500")
    assert stages["casting"].cradle_to_gate == Decimal("0.600")
    none = stage_intensities(Decimal("50000"), Decimal(0), {"casting": 1000}, "mass", {})
    assert none[0].cradle_to_gate is None
    assert entity_intensity(Decimal("50000"), {"casting": 100_000_000}) == Decimal("0.500")
    assert entity_intensity(Decimal("1"), {}) is None


@given(own=tonnes, output=kilograms, factor=st.integers(min_value=2, max_value=50))
def test_intensity_scales_linearly_with_emissions_and_inversely_with_output(
        own: Decimal, output: int, factor: int) -> None:
    base = stage_intensities(own, Decimal(0), {"smelting": output}, "mass", {})[0].scope12
    more = stage_intensities(own * factor, Decimal(0), {"smelting": output}, "mass",
                             {})[0].scope12
    # rounding to three places on each side: within half a unit of the last place times k
    assert abs(more - base * factor) <= Decimal("0.0005") * (factor + 1)
    same = stage_intensities(own * factor, Decimal(0), {"smelting": output * factor},
                             "mass", {})[0].scope12
    assert abs(same - base) <= Decimal("0.001")


@given(own=tonnes, a=kilograms, b=kilograms)
def test_mass_allocation_gives_every_stage_the_entity_mean(own: Decimal, a: int,
                                                          b: int) -> None:
    stages = stage_intensities(own, Decimal(0), {"casting": a, "rolling": b}, "mass", {})
    mean = entity_intensity(own, {"casting": a, "rolling": b})
    assert all(abs(s.scope12 - mean) <= Decimal("0.001") for s in stages)  # type: ignore[operator]


def test_a_new_smelter_meets_the_limit_from_the_start_or_is_above_it() -> None:
    at = check_smelter(Decimal("8.0"), 2021, LIMITS, date(2022, 12, 31), None)
    assert at.status is ThresholdStatus.MEETS and not at.flagged
    above = check_smelter(Decimal("8.001"), 2021, LIMITS, date(2022, 12, 31), None)
    assert above.status is ThresholdStatus.ABOVE and above.flagged and above.new_smelter
    unknown = check_smelter(Decimal("9"), None, LIMITS, date(2022, 12, 31), None)
    assert unknown.new_smelter and unknown.status is ThresholdStatus.ABOVE


def test_an_older_smelter_is_on_its_path_until_2030_and_flagged_off_it() -> None:
    first = (Decimal("16.0"), date(2024, 12, 31))
    # halfway from the end of 2024 to 2030 the path allows about 12 t/t
    mid = date(2027, 7, 2)
    allowed = path_allowance(first[0], first[1], Decimal("8.0"), DUE, mid)
    assert Decimal("11.9") <= allowed <= Decimal("12.1")
    on = check_smelter(Decimal("11.5"), 1968, LIMITS, mid, first)
    assert on.status is ThresholdStatus.ON_PATH and not on.flagged
    assert on.due_on == DUE
    off = check_smelter(Decimal("13"), 1968, LIMITS, mid, first)
    assert off.status is ThresholdStatus.OFF_PATH and off.flagged
    late = check_smelter(Decimal("8.5"), 1968, LIMITS, date(2030, 12, 31), first)
    assert late.status is ThresholdStatus.ABOVE and late.flagged
    done = check_smelter(Decimal("7.9"), 1968, LIMITS, date(2026, 12, 31), first)
    assert done.status is ThresholdStatus.MEETS
    # the first inventory itself is where the path starts
    start = check_smelter(Decimal("16.0"), 1968, LIMITS, first[1], first)
    assert start.status is ThresholdStatus.ON_PATH


@given(baseline=st.decimals(min_value=Decimal("0"), max_value=Decimal("40"), places=3),
       start=days, one=days, two=days)
def test_the_path_never_rises_and_stays_between_the_limit_and_the_baseline(
        baseline: Decimal, start: date, one: date, two: date) -> None:
    early, late = sorted((one, two))
    limit = Decimal("8.0")
    a = path_allowance(baseline, start, limit, DUE, early)
    b = path_allowance(baseline, start, limit, DUE, late)
    assert b <= a
    assert min(baseline, limit) <= b and a <= max(baseline, limit)
    assert path_allowance(baseline, start, limit, DUE, DUE + timedelta(days=1)) == limit


def test_periods_overlap_when_they_share_a_day() -> None:
    assert overlaps(date(2025, 1, 1), date(2025, 12, 31), date(2025, 12, 31), date(2026, 3, 1))
    assert not overlaps(date(2025, 1, 1), date(2025, 12, 31), date(2026, 1, 1),
                        date(2026, 12, 31))
