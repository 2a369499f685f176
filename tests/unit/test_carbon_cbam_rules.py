"""CBAM arithmetic, pure: a good's specific embedded emissions are (its attributed direct
emissions + its precursors' embedded emissions) / its output; shares of an inventory add up
to the whole; the direct part of a footprint never exceeds it; CN codes as typed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stewardship.carbon import rules
from stewardship.carbon.cn import rules as cn
from stewardship.carbon.rules import CarbonError

tonnes = st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False,
                     allow_infinity=False)
see = st.decimals(min_value=0, max_value=30, places=3, allow_nan=False,
                  allow_infinity=False)
kg = st.integers(min_value=1, max_value=10**9)


@given(tonnes, st.lists(st.tuples(kg, see), max_size=6), kg)
def test_see_of_a_complex_good_is_direct_plus_precursors_over_output(
        direct: Decimal, precursors: list[tuple[int, Decimal]], output: int) -> None:
    embedded = sum((rules.embedded_t(q, s) for q, s in precursors), Decimal(0))
    value = rules.specific_embedded(direct, embedded, output, "coil")
    exact = (direct + embedded) * 1000 / Decimal(output)
    assert abs(value - exact) <= Decimal("0.0005")
    # More precursor emissions never lower it.
    assert rules.specific_embedded(direct, embedded + 1, output, "coil") >= value


def test_a_good_made_of_nothing_has_no_see() -> None:
    with pytest.raises(CarbonError, match="no production of coil"):
        rules.specific_embedded(Decimal(1), Decimal(0), 0, "coil")


@given(tonnes, st.dictionaries(st.sampled_from(rules.PROCESSES), kg, min_size=1))
def test_shares_by_mass_add_up_to_the_whole(total: Decimal, outputs: dict[str, int]) -> None:
    parts = [rules.attributed_t(total, outputs, [p], "mass", {}) for p in outputs]
    assert abs(sum(parts, Decimal(0)) - total) <= Decimal("0.001") * len(parts)
    assert rules.attributed_t(total, outputs, list(outputs), "mass", {}) == total


def test_declared_shares_follow_the_declared_figures() -> None:
    outputs = {"smelting": 100, "casting": 100}
    declared = {"smelting": Decimal(9), "casting": Decimal(1)}
    assert rules.attributed_t(Decimal(50), outputs, ["smelting"], "declared",
                              declared) == Decimal("45.000")
    # Nothing declared: by mass.
    assert rules.attributed_t(Decimal(50), outputs, ["smelting"], "declared",
                              {"smelting": None}) == Decimal("25.000")


@given(st.lists(st.tuples(see, st.one_of(st.none(), st.decimals(
    min_value=0, max_value=1, places=3, allow_nan=False, allow_infinity=False))),
    max_size=8))
def test_the_direct_part_is_never_above_the_footprint(
        tiers: list[tuple[Decimal, Decimal | None]]) -> None:
    direct, unknown = rules.direct_of_tiers(tiers)
    assert Decimal(0) <= direct <= sum((v for v, _ in tiers), Decimal(0))
    assert unknown == sum(1 for v, s in tiers if s is None and v > 0)
    if all(s == 1 for _, s in tiers):
        assert direct == sum((v for v, _ in tiers), Decimal(0))


def test_direct_share_and_route() -> None:
    assert rules.direct_fraction(Decimal(800), Decimal(200)) == Decimal("0.8")
    assert rules.direct_fraction(Decimal(0), Decimal(0)) == 0
    half = Decimal("0.5")
    assert rules.secondary_route(51, 49, half) is True
    assert rules.secondary_route(50, 50, half) is False
    assert rules.secondary_route(0, 0, half) is False


@pytest.mark.parametrize(("typed", "code"), [("7601", "7601"), ("7606 12", "7606"),
                                             ("76169910", "7616"), ("7603", "7603")])
def test_cn_codes_as_typed(typed: str, code: str) -> None:
    assert cn.cbam_code(typed) == code


@pytest.mark.parametrize("typed", ["7602", "7617", "2606", "76x1", "760", ""])
def test_codes_outside_cbam_aluminium_are_refused_by_name(typed: str) -> None:
    with pytest.raises(ValueError, match="not a CN code of CBAM's aluminium goods"):
        cn.cbam_code(typed)


def test_every_aluminium_process_makes_a_covered_good() -> None:
    assert set(cn.PROCESS_CN.values()) <= cn.CBAM_ALUMINIUM
    assert {"mining", "refining"}.isdisjoint(cn.PROCESS_CN)
    assert cn.cn_code("asi_aluminium", "5182 coil") == "7606"
    assert cn.cn_code("eligible_scrap", "") == cn.SCRAP_CN
