"""The pure rules of the chain of custody: transformations and physical yields, periods,
the mass-balance ledger and its carry-over, paired movements, the input percentage, the
provenance pool and the conservation check; with property tests of the invariants."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from dataclasses import field as dc_field
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
)

from stewardship.custody.plausibility.rules import (
    TransformRecord,
    conservation_breaks,
)
from stewardship.custody.rules import (
    Balance,
    CarryOverRule,
    CocMaterial,
    LedgerError,
    Movement,
    OriginKey,
    Period,
    Pool,
    Route,
    ScrapKind,
    Transformation,
    YieldError,
    YieldLimit,
    YieldPolicy,
    account_totals,
    activity_refusal,
    add,
    attribute_per_kg,
    cancel,
    check_period_months,
    check_shipment_in_period,
    check_transformation,
    check_yield,
    close_period,
    document_number,
    input_percentage,
    issue,
    next_period,
    open_balance,
    pair,
    period_for,
    pool_from_data,
    pool_of,
    pool_to_data,
    produce,
    receive,
    recipient_refusal,
    record_non_coc,
    reverse,
    route_share,
    scale,
    shares,
    take,
    take_in_scrap,
    transform,
    typical_yield,
    yield_limit,
    yield_output,
)

YEAR = Period(date(2024, 1, 1), date(2024, 12, 31))
AL, ALUMINA, BAUXITE, SCRAP = (CocMaterial.ASI_ALUMINIUM, CocMaterial.ASI_ALUMINA,
                               CocMaterial.ASI_BAUXITE, CocMaterial.ELIGIBLE_SCRAP)


# --- transformations and yields ---------------------------------------------------------


def test_transformations_map_inputs_to_outputs() -> None:
    assert Transformation.REFINING.inputs == {BAUXITE}
    assert Transformation.REFINING.output is ALUMINA
    assert Transformation.SMELTING.inputs == {ALUMINA}
    assert Transformation.SMELTING.output is AL
    assert Transformation.REMELTING.inputs == {SCRAP, AL}
    for t in (Transformation.CASTING, Transformation.ROLLING, Transformation.EXTRUSION,
              Transformation.CONVERSION):
        assert t.inputs == {AL} and t.output is AL


def test_check_transformation_refuses_wrong_materials() -> None:
    check_transformation(Transformation.REMELTING, SCRAP, AL)
    with pytest.raises(LedgerError, match="Smelting takes ASI Alumina as input, not ASI Bauxite"):
        check_transformation(Transformation.SMELTING, BAUXITE, AL)
    with pytest.raises(LedgerError, match="Refining produces ASI Alumina, not ASI Aluminium"):
        check_transformation(Transformation.REFINING, BAUXITE, AL)


def test_yield_limits_are_physics() -> None:
    assert yield_limit(Transformation.SMELTING) == Decimal("0.5293")
    assert yield_limit(Transformation.REFINING) == Decimal("0.85")
    assert yield_limit(Transformation.ROLLING) == Decimal("1")


def test_check_yield_boundaries() -> None:
    check_yield(Transformation.SMELTING, Decimal("0.5293"))
    check_yield(Transformation.REFINING, Decimal("0.85"))
    check_yield(Transformation.CASTING, Decimal("1"))
    check_yield(Transformation.SMELTING, Decimal("0.0001"))
    with pytest.raises(YieldError, match=r"exceeds the physical limit of 0\.5293 kg/kg"):
        check_yield(Transformation.SMELTING, Decimal("0.5294"))
    with pytest.raises(YieldError, match=r"0\.85 kg/kg.*boehmite"):
        check_yield(Transformation.REFINING, Decimal("0.86"))
    with pytest.raises(YieldError, match="never create aluminium"):
        check_yield(Transformation.REMELTING, Decimal("1.0001"))
    with pytest.raises(YieldError, match="greater than 0"):
        check_yield(Transformation.CASTING, Decimal("0"))
    with pytest.raises(YieldError, match="greater than 0"):
        check_yield(Transformation.CASTING, Decimal("-0.5"))
    with pytest.raises(YieldError, match="greater than 0"):
        check_yield(Transformation.CASTING, Decimal("NaN"))
    with pytest.raises(YieldError, match="not float"):
        check_yield(Transformation.CASTING, 0.5)  # type: ignore[arg-type]


def test_typical_yields_are_shown_as_indicative() -> None:
    assert typical_yield(Transformation.SMELTING).label == "about 0.52 kg/kg (indicative)"
    assert typical_yield(Transformation.REFINING).label == "0.3 to 0.5 kg/kg (indicative)"
    for t in Transformation:
        typical = typical_yield(t)
        assert typical.indicative and typical.high <= yield_limit(t)


def test_yield_output_rounds_down() -> None:
    assert yield_output(1000, Decimal("0.5293")) == 529
    assert yield_output(3, Decimal("0.5")) == 1
    assert yield_output(1, Decimal("0.99")) == 0


@settings(deadline=None)
@given(st.sampled_from(list(Transformation)),
       st.decimals(min_value=Decimal("-2"), max_value=Decimal("3"), places=5))
def test_yields_beyond_physics_are_always_refused(t: Transformation, declared: Decimal) -> None:
    if Decimal(0) < declared <= yield_limit(t):
        check_yield(t, declared)
    else:
        with pytest.raises(YieldError):
            check_yield(t, declared)
        source, target = open_balance(next(iter(t.inputs)), YEAR), open_balance(t.output, YEAR)
        if source.material in {BAUXITE, ALUMINA, AL}:
            source = produce(source, 1000)
        else:
            source = take_in_scrap(source, 1000, ScrapKind.POST_CONSUMER)
        with pytest.raises(YieldError):
            transform(source, target, t, 100, declared)


# --- periods ----------------------------------------------------------------------------


def test_period_months_are_1_3_or_12() -> None:
    for months in (1, 3, 12):
        check_period_months(months)
    with pytest.raises(ValueError, match="1, 3 or 12 months, not 6"):
        check_period_months(6)
    with pytest.raises(ValueError, match="1, 3 or 12 months"):
        period_for(date(2024, 5, 5), 2)


def test_period_for() -> None:
    assert period_for(date(2024, 5, 5)) == YEAR
    assert period_for(date(2024, 5, 5), 3) == (date(2024, 4, 1), date(2024, 6, 30))
    assert period_for(date(2024, 2, 29), 1) == (date(2024, 2, 1), date(2024, 2, 29))
    assert period_for(date(2024, 5, 5), 12, date(2023, 7, 1)) == (date(2023, 7, 1),
                                                                   date(2024, 6, 30))
    assert period_for(date(1999, 12, 31), 3) == (date(1999, 10, 1), date(1999, 12, 31))
    with pytest.raises(ValueError, match="first day of a month"):
        period_for(date(2024, 5, 5), 12, date(2024, 1, 15))


@settings(deadline=None)
@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31)),
       st.sampled_from([1, 3, 12]),
       st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 1)))
def test_period_contains_the_day_and_chains(day: date, months: int, anchor: date) -> None:
    anchor = anchor.replace(day=1)
    period = period_for(day, months, anchor)
    assert period.contains(day) and period.months == months
    following = next_period(period)
    assert following == period_for(following.start, months, anchor)


def test_shipment_must_fall_in_period() -> None:
    check_shipment_in_period(date(2024, 1, 1), YEAR)
    check_shipment_in_period(date(2024, 12, 31), YEAR)
    with pytest.raises(ValueError, match="2025-01-01 is outside the accounting period "
                                         "2024-01-01 to 2024-12-31"):
        check_shipment_in_period(date(2025, 1, 1), YEAR)


# --- ledger operations ------------------------------------------------------------------


def test_produce_and_scrap_intake() -> None:
    bauxite = produce(open_balance(BAUXITE, YEAR), 1000)
    assert bauxite.kilograms == 1000 and bauxite.produced == 1000
    with pytest.raises(LedgerError, match="eligible scrap enters through a remelter"):
        produce(open_balance(SCRAP, YEAR), 10)
    scrap = take_in_scrap(open_balance(SCRAP, YEAR), 50, ScrapKind.PRE_CONSUMER)
    assert scrap.kilograms == 50
    with pytest.raises(LedgerError, match="not ASI Aluminium"):
        take_in_scrap(open_balance(AL, YEAR), 50, ScrapKind.POST_CONSUMER)


@pytest.mark.parametrize("bad", [0, -5, True, 1.5, Decimal("2")])
def test_quantities_are_positive_whole_kilograms(bad: object) -> None:
    with pytest.raises(LedgerError, match="production"):
        produce(open_balance(AL, YEAR), bad)  # type: ignore[arg-type]


def test_non_coc_inputs_count_for_the_percentage_only() -> None:
    b = record_non_coc(produce(open_balance(AL, YEAR), 300), 700)
    assert b.kilograms == 300 and b.non_coc_in == 700
    assert input_percentage(b.coc_in, b.non_coc_in) == Decimal("30.00")


def test_transform_consumes_input_and_rounds_output_down() -> None:
    alumina = produce(open_balance(ALUMINA, YEAR), 1000)
    source, target = transform(alumina, open_balance(AL, YEAR), Transformation.SMELTING, 999,
                               Decimal("0.5293"))
    assert source.kilograms == 1 and source.transformed_out == 999
    assert target.kilograms == 528 and target.transformed_in == 528  # 528.7707 down
    with pytest.raises(LedgerError, match="exceeds the available balance of 1 kg"):
        transform(source, target, Transformation.SMELTING, 2, Decimal("0.5"))


def test_metal_to_metal_transform_on_one_account() -> None:
    metal = produce(open_balance(AL, YEAR), 1000)
    after, same = transform(metal, metal, Transformation.ROLLING, 1000, Decimal("0.96"))
    assert after == same and after.kilograms == 960


def test_transform_stays_in_one_period() -> None:
    alumina = produce(open_balance(ALUMINA, YEAR), 1000)
    with pytest.raises(LedgerError, match="stays in one period"):
        transform(alumina, open_balance(AL, next_period(YEAR)), Transformation.SMELTING, 10,
                  Decimal("0.5"))


def test_issue_boundaries() -> None:
    b = produce(open_balance(AL, YEAR), 100)
    assert issue(b, 100, 100).kilograms == 0
    assert issue(b, 500, 40).kilograms == 60
    with pytest.raises(LedgerError, match="exceeds the available balance of 100 kg"):
        issue(b, 200, 101)
    with pytest.raises(LedgerError, match="exceeds the shipped quantity"):
        issue(b, 10, 11)
    with pytest.raises(LedgerError, match="CoC quantity must be positive"):
        issue(b, 10, 0)
    with pytest.raises(LedgerError, match="quantity must be positive"):
        issue(b, -1, 1)


def test_cancel_returns_to_issuer_and_receive_credits() -> None:
    b = issue(produce(open_balance(AL, YEAR), 100), 80, 80)
    assert cancel(b, 80).kilograms == 100
    with pytest.raises(LedgerError, match="only 80 kg of ASI Aluminium was issued"):
        cancel(b, 81)
    assert receive(open_balance(AL, YEAR), 80).kilograms == 80


def test_balance_refuses_negative_counters() -> None:
    with pytest.raises(LedgerError, match="non-negative"):
        Balance(AL, YEAR, produced=-1)


def test_close_period_default_carries_one_period() -> None:
    b = issue(produce(open_balance(AL, YEAR), 100), 30, 30)
    opening = close_period(b)
    assert opening.period == next_period(YEAR) and opening.kilograms == 70
    assert opening.carried == (70,)
    # nothing new comes in: the 70 kg expire at the next close
    assert close_period(opening).kilograms == 0


def test_close_period_spends_oldest_first_and_expires() -> None:
    rule = CarryOverRule(expiry_periods=2)
    first = close_period(produce(open_balance(AL, YEAR), 100), rule)
    second = issue(produce(first, 50), 60, 60)    # spends 60 of the carried 100 first
    third = close_period(second, rule)
    assert third.carried == (50, 40)
    assert close_period(third, rule).carried == (0, 50)
    assert close_period(close_period(third, rule), rule).carried == ()


def test_close_period_cap_keeps_newest() -> None:
    rule = CarryOverRule(cap=60, expiry_periods=2)
    first = close_period(produce(open_balance(AL, YEAR), 100), rule)
    assert first.kilograms == 60
    second = close_period(produce(first, 50), rule)
    assert second.carried == (50, 10)


def test_carry_over_rule_validation() -> None:
    with pytest.raises(ValueError, match="cap"):
        CarryOverRule(cap=-1)
    with pytest.raises(ValueError, match="at least one period"):
        CarryOverRule(expiry_periods=0)
    assert close_period(produce(open_balance(AL, YEAR), 9), CarryOverRule(cap=0)).carried == ()


def test_close_refuses_a_negative_balance() -> None:
    with pytest.raises(LedgerError, match="negative"):
        close_period(Balance(AL, YEAR, issued=5))


# --- movements --------------------------------------------------------------------------


def test_pair_and_reverse() -> None:
    m = Movement("A:asi_aluminium", "B:asi_aluminium", 25, "doc-1")
    debit, credit = pair(m)
    assert debit == ("A:asi_aluminium", -25, "doc-1") and credit.kilograms == 25
    back = reverse(m)
    assert back.debit == m.credit and back.correlation_id == "doc-1:reversal"
    assert reverse(m, "fix-9").correlation_id == "fix-9"
    with pytest.raises(LedgerError, match="two accounts"):
        Movement("A", "A", 1, "x")
    with pytest.raises(LedgerError, match="correlation id"):
        Movement("A", "B", 1, "")
    with pytest.raises(LedgerError, match="must be positive"):
        Movement("A", "B", 0, "x")


@settings(deadline=None)
@given(st.text(min_size=1, max_size=5), st.text(min_size=1, max_size=5),
       st.integers(min_value=1, max_value=10**12), st.text(min_size=1, max_size=8))
def test_pair_sums_to_zero_and_reverse_cancels(a: str, b: str, kg: int, cid: str) -> None:
    if a == b:
        b = a + "x"
    m = Movement(a, b, kg, cid)
    rows = pair(m)
    assert sum(r.kilograms for r in rows) == 0
    assert all(v == 0 for v in account_totals([*rows, *pair(reverse(m))]).values())


# --- input percentage -------------------------------------------------------------------


def test_input_percentage() -> None:
    assert input_percentage(0, 0) == Decimal("0.00")
    assert input_percentage(1, 0) == Decimal("100.00")
    assert input_percentage(0, 5) == Decimal("0.00")
    assert input_percentage(2, 1) == Decimal("66.66")
    assert input_percentage(1, 2) == Decimal("33.33")
    assert input_percentage(9999, 1) == Decimal("99.99")
    with pytest.raises(ValueError, match="non-negative"):
        input_percentage(-1, 1)


# --- provenance pool --------------------------------------------------------------------

SMELTER = OriginKey("smelter-x", "NO", Route.PRIMARY)
REMELTER = OriginKey("remelter-y", "DE", Route.RECYCLED)


def test_pool_add_shares_and_attributes() -> None:
    pool = add(pool_of(SMELTER, 620, {"co2e": Decimal("4")}),
               pool_of(REMELTER, 380, {"co2e": Decimal("0.5")}))
    assert pool.kilograms == 1000
    assert shares(pool) == {REMELTER: Decimal("38.00"), SMELTER: Decimal("62.00")}
    assert route_share(pool, Route.RECYCLED) == Decimal("38.00")
    assert attribute_per_kg(pool, "co2e") == Decimal("2.67")
    assert attribute_per_kg(pool, "water") is None


def test_take_splits_proportionally() -> None:
    pool = add(pool_of(SMELTER, 2, {"co2e": Decimal("3")}), pool_of(REMELTER, 1))
    taken, remaining = take(pool, 2)
    assert taken.kilograms == 2 and remaining.kilograms == 1
    assert taken.attributes["co2e"] + remaining.attributes["co2e"] == Decimal("6")
    with pytest.raises(LedgerError, match="cannot take 4 kg from a pool of 3 kg"):
        take(pool, 4)
    with pytest.raises(LedgerError, match="must be positive"):
        take(pool, 0)
    with pytest.raises(LedgerError, match="pool part"):
        Pool({SMELTER: 0})


# Three origins whose keys sort F1 < F2 < F3 (the tie-break order of every split).
F1, F2, F3 = (OriginKey("F1", "AU", Route.PRIMARY), OriginKey("F2", "BR", Route.PRIMARY),
              OriginKey("F3", "DE", Route.RECYCLED))


@pytest.mark.parametrize(("parts", "kilograms", "taken"), [
    # 1 kg of {F1: 1, F2: 2}: exact shares 1/3 and 2/3, floors 0 and 0; the one missing
    # kilogram goes to the larger remainder, F2's 2/3.
    ({F1: 1, F2: 2}, 1, {F2: 1}),
    # 7 kg of {F1: 5, F2: 3, F3: 2}: exact 3.5, 2.1, 1.4; floors 3 + 2 + 1 = 6; the
    # remainders .5, .1, .4 give the seventh kilogram to F1.
    ({F1: 5, F2: 3, F3: 2}, 7, {F1: 4, F2: 2, F3: 1}),
    # 6 kg of {F1: 1, F2: 3, F3: 6}: exact 0.6, 1.8, 3.6; floors 0 + 1 + 3 = 4; the two
    # largest remainders .8 (F2) and .6 (F1 and F3 tie, F1 the lower key) get one each.
    ({F1: 1, F2: 3, F3: 6}, 6, {F1: 1, F2: 2, F3: 3}),
    # 5 kg of {F1: 7, F2: 2, F3: 1}: exact 3.5, 1.0, 0.5; F1 and F3 tie at .5 and the
    # lower key F1 gets the fifth kilogram; F2's exact share has no remainder at all.
    ({F1: 7, F2: 2, F3: 1}, 5, {F1: 4, F2: 1}),
    # equal parts, equal remainders: the lower keys take the kilograms.
    ({F1: 1, F2: 1, F3: 1}, 2, {F1: 1, F2: 1}),
    ({F3: 1, F1: 1}, 1, {F1: 1}),
    # the whole pool: every part whole, nothing left.
    ({F1: 4, F2: 9}, 13, {F1: 4, F2: 9}),
])
def test_take_known_splits(parts: dict[OriginKey, int], kilograms: int,
                           taken: dict[OriginKey, int]) -> None:
    got, rest = take(Pool(parts), kilograms)
    assert dict(got.parts) == taken
    assert dict(rest.parts) == {k: kg - taken.get(k, 0) for k, kg in parts.items()
                                if kg - taken.get(k, 0)}


@pytest.mark.parametrize(("parts", "kilograms", "scaled"), [
    # {F1: 2, F2: 1} down to 2 kg: exact 4/3 and 2/3, floors 1 and 0, F2's 2/3 wins.
    ({F1: 2, F2: 1}, 2, {F1: 1, F2: 1}),
    # {F1: 1, F2: 2} up to 10 kg: exact 3 1/3 and 6 2/3, floors 3 and 6, F2 gets the 10th.
    ({F1: 1, F2: 2}, 10, {F1: 3, F2: 7}),
    # {F1: 1, F2: 1, F3: 2} to 3 kg: exact .75, .75, 1.5; floors 0 + 0 + 1; the remainders
    # .75, .75, .5 give the two missing kilograms to F1 and F2.
    ({F1: 1, F2: 1, F3: 2}, 3, {F1: 1, F2: 1, F3: 1}),
    # to 1 kg: F3's .5 beats F1's and F2's .25.
    ({F1: 1, F2: 1, F3: 2}, 1, {F3: 1}),
])
def test_scale_known_splits(parts: dict[OriginKey, int], kilograms: int,
                            scaled: dict[OriginKey, int]) -> None:
    pool = Pool(parts, {"co2e": Decimal("12")})
    out = scale(pool, kilograms)
    assert dict(out.parts) == scaled
    assert out.attributes == {"co2e": Decimal("12")}  # the whole footprint rides along


def test_scale_refuses_an_empty_pool_and_no_mass() -> None:
    with pytest.raises(LedgerError, match="cannot scale an empty pool"):
        scale(Pool(), 5)
    with pytest.raises(LedgerError, match="scaled pool mass must be positive"):
        scale(Pool({F1: 1}), 0)


def test_take_splits_attributes_by_mass() -> None:
    pool = Pool({F1: 3, F2: 1}, {"co2e": Decimal("8"), "water": Decimal("2")})
    got, rest = take(pool, 1)
    assert got.attributes == {"co2e": Decimal("2"), "water": Decimal("0.5")}
    assert rest.attributes == {"co2e": Decimal("6"), "water": Decimal("1.5")}


ORIGINS = st.builds(OriginKey, st.sampled_from(["f1", "f2", "f3", "f4", "f5"]),
                    st.sampled_from(["NO", "DE", "CA"]), st.sampled_from(list(Route)))


@settings(deadline=None)
@given(st.dictionaries(ORIGINS, st.integers(min_value=1, max_value=10**9), min_size=1,
                       max_size=12),
       st.data())
def test_take_conserves_kilograms_and_shares(parts: dict[OriginKey, int],
                                             data: st.DataObject) -> None:
    pool = Pool(parts, {"co2e": Decimal(sum(parts.values())) * Decimal("1.7")})
    kg = data.draw(st.integers(min_value=1, max_value=pool.kilograms))
    taken, remaining = take(pool, kg)
    assert taken.kilograms == kg
    assert taken.kilograms + remaining.kilograms == pool.kilograms
    merged = add(taken, remaining)
    assert dict(merged.parts) == parts
    assert abs(merged.attributes["co2e"] - pool.attributes["co2e"]) < Decimal("1e-12")
    for key, part in taken.parts.items():
        assert 0 <= part <= parts[key]
        assert abs(Decimal(part) - Decimal(parts[key] * kg) / pool.kilograms) < 1
    whole, part_shares = shares(pool), shares(taken)
    # Each shown share is within 0.01 of its exact value but for the 0.01 minimums
    # given to the smallest origins (at most one per origin).
    rounding = Decimal("0.01") * len(parts)
    for key, share in part_shares.items():
        assert abs(share - whole[key]) <= Decimal(100) / kg + 2 * rounding


# --- conservation -----------------------------------------------------------------------


def test_conservation_breaks_names_entity_and_period() -> None:
    good = issue(produce(open_balance(AL, YEAR), 100), 100, 100)
    bad = Balance(AL, YEAR, carried=(10,), received=50, issued=70)
    breaks = conservation_breaks([("Smelter X", good), ("Trader Z", bad)])
    assert breaks == [
        "Trader Z, asi_aluminium, 2024-01-01 to 2024-12-31: CoC out 70 kg exceeds CoC in "
        "after yields 50 kg plus carry-over 10 kg",
    ]


def test_conservation_checks_transformations_and_network() -> None:
    records = [
        TransformRecord("S", YEAR, Transformation.SMELTING, 1000, 529, Decimal("0.5293")),
        TransformRecord("S", YEAR, Transformation.SMELTING, 1000, 530, Decimal("0.5293")),
        TransformRecord("R", YEAR, Transformation.CASTING, 100, 100, Decimal("1.1")),
    ]
    breaks = conservation_breaks([("B", receive(open_balance(AL, YEAR), 5))], records)
    assert any("S, smelting" in b and "530 kg exceeds" in b for b in breaks)
    assert any("R, casting" in b and "physical limit" in b for b in breaks)
    assert any(b.startswith("network, asi_aluminium") for b in breaks)
    assert len(breaks) == 3
    # a document issued in one period and received in the next does not break
    issued = issue(produce(open_balance(AL, YEAR), 5), 5, 5)
    later = receive(open_balance(AL, next_period(YEAR)), 5)
    assert conservation_breaks([("A", issued), ("B", later)]) == []


def test_conservation_holds_a_transformation_to_its_declared_yield() -> None:
    # 1000 kg of alumina declared at 0.5 kg/kg gives at most 500 kg: 520 kg is within
    # physics (529 kg at 0.5293) but beyond the declaration, and breaks.
    declared = Decimal("0.5")
    over = TransformRecord("S", YEAR, Transformation.SMELTING, 1000, 520, declared)
    exact = TransformRecord("S", YEAR, Transformation.SMELTING, 1000, 500, declared)
    assert conservation_breaks([], [exact]) == []
    assert conservation_breaks([], [over]) == [
        "S, smelting, 2024-01-01 to 2024-12-31: CoC output 520 kg exceeds input 1000 kg x "
        "declared yield 0.5"]


def test_conservation_network_check_can_be_left_to_the_caller() -> None:
    unmatched = [("B", receive(open_balance(AL, YEAR), 5))]
    assert conservation_breaks(unmatched, network=False) == []
    assert conservation_breaks(unmatched) == [
        "network, asi_aluminium, up to 2024-01-01 to 2024-12-31: received 5 kg exceeds "
        "issued 0 kg"]


# --- the ledger as a state machine ------------------------------------------------------
#
# Hypothesis drives the pure ledger through production, scrap intake, transformations,
# documents issued, received and cancelled, double spends and period closes, while the
# test keeps its own books in plain integers. Before each step the model says whether the
# step is allowed, and if not, which refusal it must meet: an allowed step must succeed
# and land on the model's numbers, a refused one must raise that refusal and nothing else.

ENTITIES = ("mine", "smelter", "roller")

# The physical maxima of the scheme (kg output per kg input), written out here so that
# the model does not read them from the code under test.
PHYSICAL_LIMIT = {Transformation.REFINING: Decimal("0.85"),
                  Transformation.SMELTING: Decimal("0.5293")}


@dataclass
class Books:
    """The model of one account: carried kilograms by age in periods, this period's CoC
    in-flow and out-flow, and the part of the out-flow that documents took."""

    carried: dict[int, int] = dc_field(default_factory=dict)
    fresh: int = 0
    out: int = 0
    issued: int = 0

    @property
    def available(self) -> int:
        return sum(self.carried.values()) + self.fresh - self.out


@dataclass(frozen=True)
class Document:
    issuer: str
    recipient: str
    material: CocMaterial
    coc_kg: int


Refusal = tuple[type[Exception], str] | None


class Ledger(RuleBasedStateMachine):
    documents = Bundle("documents")

    def __init__(self) -> None:
        super().__init__()
        self.period = YEAR
        self.real: dict[tuple[str, CocMaterial], Balance] = {}
        self.model: dict[tuple[str, CocMaterial], Books] = {}
        self.history: list[tuple[str, Balance]] = []
        self.records: list[TransformRecord] = []

    def balance(self, entity: str, material: CocMaterial) -> Balance:
        return self.real.get((entity, material), open_balance(material, self.period))

    def books(self, entity: str, material: CocMaterial) -> Books:
        return self.model.setdefault((entity, material), Books())

    def step(self, refusal: Refusal, action: Callable[[], object]) -> bool:
        """Run `action`; True when it ran. Only the refusal the model named may stop it."""
        if refusal is None:
            action()
            return True
        kind, says = refusal
        with pytest.raises(kind, match=says):
            action()
        return False

    @staticmethod
    def positive(kg: int, what: str) -> Refusal:
        return None if kg > 0 else (LedgerError, f"{what} must be positive")

    @rule(entity=st.sampled_from(ENTITIES), material=st.sampled_from(list(CocMaterial)),
          kg=st.integers(min_value=-2, max_value=5000), intake=st.booleans())
    def bring_in(self, entity: str, material: CocMaterial, kg: int, intake: bool) -> None:
        """Production at an origin, or eligible scrap through a remelter's intake."""
        refusal = self.positive(kg, "scrap intake" if intake else "production")
        if refusal is None and intake and material is not SCRAP:
            refusal = (LedgerError, "scrap is taken into an eligible scrap account")
        if refusal is None and not intake and material is SCRAP:
            refusal = (LedgerError, "is not produced at an origin")
        b = self.balance(entity, material)

        def act() -> None:
            self.real[(entity, material)] = (take_in_scrap(b, kg, ScrapKind.PRE_CONSUMER)
                                             if intake else produce(b, kg))
        if self.step(refusal, act):
            self.books(entity, material).fresh += kg

    @rule(entity=st.sampled_from(ENTITIES), t=st.sampled_from(list(Transformation)),
          kg=st.integers(min_value=-2, max_value=5000), pick=st.integers(0, 1),
          declared=st.one_of(
              st.decimals(min_value=Decimal("-0.1"), max_value=Decimal("1.2"), places=4),
              st.sampled_from([Decimal(0), Decimal("0.85"), Decimal("0.5293"), Decimal(1),
                               Decimal("0.8501"), Decimal("1.0001")])))
    def transform_step(self, entity: str, t: Transformation, kg: int, pick: int,
                       declared: Decimal) -> None:
        inputs = sorted(t.inputs)
        source = inputs[pick % len(inputs)]
        limit = PHYSICAL_LIMIT.get(t, Decimal(1))
        src_books = self.books(entity, source)
        refusal = self.positive(kg, "transformation input")
        if refusal is None and declared <= 0:
            refusal = (YieldError, "must be greater than 0 kg/kg")
        if refusal is None and declared > limit:
            refusal = (YieldError, "exceeds the physical limit")
        if refusal is None and kg > src_books.available:
            refusal = (LedgerError, "exceeds the available balance")
        src, dst = self.balance(entity, source), self.balance(entity, t.output)

        def act() -> None:
            s, d = transform(src, dst, t, kg, declared)
            self.real[(entity, source)] = s
            self.real[(entity, t.output)] = d
        if self.step(refusal, act):
            num, den = declared.as_integer_ratio()
            output = kg * num // den  # floor: output never rounds up
            src_books.out += kg
            self.books(entity, t.output).fresh += output
            self.records.append(TransformRecord(entity, self.period, t, kg, output, declared))

    def _issue(self, issuer: str, recipient: str, material: CocMaterial, quantity: int,
               coc_kg: int) -> Document | None:
        books = self.books(issuer, material)
        refusal = self.positive(quantity, "quantity") or self.positive(coc_kg, "CoC quantity")
        if refusal is None and coc_kg > quantity:
            refusal = (LedgerError, "exceeds the shipped quantity")
        if refusal is None and coc_kg > books.available:
            refusal = (LedgerError, "exceeds the available balance")
        b = self.balance(issuer, material)

        def act() -> None:
            self.real[(issuer, material)] = issue(b, quantity, coc_kg)
        if not self.step(refusal, act):
            return None
        books.out += coc_kg
        books.issued += coc_kg
        return Document(issuer, recipient, material, coc_kg)

    @rule(target=documents, issuer=st.sampled_from(ENTITIES),
          recipient=st.sampled_from(ENTITIES), material=st.sampled_from(list(CocMaterial)),
          quantity=st.integers(min_value=-2, max_value=5000),
          coc_kg=st.integers(min_value=-2, max_value=5000))
    def ship(self, issuer: str, recipient: str, material: CocMaterial, quantity: int,
             coc_kg: int) -> object:
        document = self._issue(issuer, recipient, material, quantity, coc_kg)
        return multiple() if document is None else document

    @rule(target=documents, issuer=st.sampled_from(ENTITIES),
          first=st.sampled_from(ENTITIES), second=st.sampled_from(ENTITIES),
          material=st.sampled_from(list(CocMaterial)), extra=st.integers(0, 3))
    def double_spend(self, issuer: str, first: str, second: str, material: CocMaterial,
                     extra: int) -> object:
        """The whole balance to one customer, then the same kilograms to another."""
        everything = self.books(issuer, material).available
        if everything == 0:
            return multiple()
        document = self._issue(issuer, first, material, everything, everything)
        assert document is not None
        again = max(1, everything - 1 + extra)  # any kilogram more is one too many
        assert self._issue(issuer, second, material, again, again) is None
        return document

    @rule(document=consumes(documents))
    def receive_document(self, document: Document) -> None:
        b = self.balance(document.recipient, document.material)
        self.real[(document.recipient, document.material)] = receive(b, document.coc_kg)
        self.books(document.recipient, document.material).fresh += document.coc_kg

    @rule(document=consumes(documents))
    def cancel_document(self, document: Document) -> None:
        books = self.books(document.issuer, document.material)
        # A cancellation returns kilograms issued in the current period only.
        refusal: Refusal = None if document.coc_kg <= books.issued else (
            LedgerError, f"cannot cancel {document.coc_kg} kg")
        b = self.balance(document.issuer, document.material)

        def act() -> None:
            self.real[(document.issuer, document.material)] = cancel(b, document.coc_kg)
        if self.step(refusal, act):
            books.out -= document.coc_kg
            books.issued -= document.coc_kg

    @rule(cap=st.sampled_from([None, 0, 100, 1000, 10**6]), expiry=st.integers(1, 3))
    def close(self, cap: int | None, expiry: int) -> None:
        keys = set(self.real) | set(self.model)
        self.history.extend((e, self.balance(e, m)) for e, m in keys)
        self.real = {(e, m): close_period(self.balance(e, m), CarryOverRule(cap, expiry))
                     for e, m in keys}
        self.period = next_period(self.period)
        for key in keys:
            old = self.books(*key)
            # out-goings spend the oldest kilograms first, then this period's
            lots = [[age, kg] for age, kg in sorted(old.carried.items(), reverse=True)]
            lots.append([0, old.fresh])
            spend = old.out
            for lot in lots:
                used = min(lot[1], spend)
                lot[1] -= used
                spend -= used
            kept = {age + 1: kg for age, kg in lots if age + 1 <= expiry and kg}
            room = cap
            for age in sorted(kept):  # the newest kilograms are kept under a cap
                if room is not None:
                    kept[age] = min(kept[age], room)
                    room -= kept[age]
            self.model[key] = Books(carried={a: kg for a, kg in kept.items() if kg})

    @invariant()
    def books_agree(self) -> None:
        for (entity, material), books in self.model.items():
            b = self.balance(entity, material)
            assert b.period == self.period
            assert b.kilograms == books.available >= 0
            ages = range(1, max(books.carried, default=0) + 1)
            assert b.carried == tuple(books.carried.get(age, 0) for age in ages)
            assert b.issued == books.issued

    @invariant()
    def nothing_breaks(self) -> None:
        current = [(e, b) for (e, _), b in self.real.items()]
        assert conservation_breaks([*self.history, *current], self.records) == []


# 100 examples (Hypothesis's default) in a normal run, fewer under mutmut (tests/conftest.py).
Ledger.TestCase.settings = settings(stateful_step_count=30, deadline=None)
test_the_ledger_agrees_with_independent_books = Ledger.TestCase


# --- where a step may happen ------------------------------------------------------------


@pytest.mark.parametrize(("activities", "transformation"), [
    (["alumina_refining"], Transformation.REFINING),
    (["smelting"], Transformation.SMELTING),
    (["smelting"], Transformation.CASTING),  # a smelter casts its own metal
    (["remelting_refining", "casthouse"], Transformation.CASTING),
    (["semi_fabrication"], Transformation.EXTRUSION),
    (["other_manufacturing"], Transformation.CONVERSION),
])
def test_a_facility_with_a_fitting_activity_may_host_the_step(
        activities: list[str], transformation: Transformation) -> None:
    assert activity_refusal(activities, transformation=transformation) is None


@pytest.mark.parametrize(("activities", "transformation", "refusal"), [
    (["casthouse"], Transformation.SMELTING,
     "Smelting happens at a facility with one of these activities: Smelting"),
    (["semi_fabrication"], Transformation.CASTING,
     "Casting happens at a facility with one of these activities: Casthouse, "
     "Remelting / refining, Smelting"),
    ([], Transformation.ROLLING,
     "Rolling happens at a facility with one of these activities: Semi-fabrication"),
])
def test_a_facility_without_a_fitting_activity_is_refused_with_the_ones_needed(
        activities: list[str], transformation: Transformation, refusal: str) -> None:
    assert activity_refusal(activities, transformation=transformation) == refusal


@pytest.mark.parametrize(("activities", "material", "refusal"), [
    (["bauxite_mining"], BAUXITE, None),
    (["smelting", "casthouse"], AL, None),
    (["remelting_refining"], SCRAP, None),
    (["casthouse"], AL, "ASI Aluminium originates at a facility with the Smelting activity"),
    (["smelting"], ALUMINA,
     "ASI Alumina originates at a facility with the Alumina refining activity"),
    (["casthouse"], SCRAP,
     "Eligible scrap originates at a facility with the Remelting / refining activity"),
])
def test_material_originates_only_where_its_activity_is(
        activities: list[str], material: CocMaterial, refusal: str | None) -> None:
    assert activity_refusal(activities, material=material) == refusal


def test_the_step_is_checked_before_the_material_and_nothing_asked_is_nothing_refused() -> None:
    # a casthouse neither smelts nor makes aluminium: the step is named first
    assert activity_refusal(["casthouse"], transformation=Transformation.SMELTING,
                            material=AL) == \
        "Smelting happens at a facility with one of these activities: Smelting"
    assert activity_refusal(["smelting"], transformation=Transformation.CASTING,
                            material=ALUMINA) == \
        "ASI Alumina originates at a facility with the Alumina refining activity"
    assert activity_refusal([]) is None


# --- document numbers -------------------------------------------------------------------


@pytest.mark.parametrize(("year", "random_part", "number"), [
    # 2026 then 00000000, MOD 37-2 (p -> (p + value) x 2 mod 37):
    #   2: 4   0: 8   2: 20   6: 52 -> 15   then eight zeros: 30, 60 -> 23, 46 -> 9, 18,
    #   36, 72 -> 35, 70 -> 33, 66 -> 29; check (1 - 29) mod 37 = 9 = '9'
    (2026, "00000000", "COC-2026-000000009"),
    (2026, "7KQ2M9XD", "COC-2026-7KQ2M9XD7"),
    (2026, "ZZZZZZZZ", "COC-2026-ZZZZZZZZU"),  # the check may be a letter the body omits
    # the year always has four digits: 0987 then 00000000,
    #   0: 0   9: 18   8: 52 -> 15   7: 44 -> 7   then 14, 28, 56 -> 19, 38 -> 1, 2, 4, 8, 16;
    #   check (1 - 16) mod 37 = 22 = 'M'
    (987, "00000000", "COC-0987-00000000M"),
])
def test_document_number_known_answers(year: int, random_part: str, number: str) -> None:
    assert document_number(year, random_part) == number


def test_a_random_part_whose_check_would_be_a_star_is_drawn_again() -> None:
    # after 2026 and seven zeros p = 33; '5' gives (33 + 5) x 2 = 76 -> 2, and the check
    # (1 - 2) mod 37 = 36 is '*', which no document number may carry
    assert document_number(2026, "00000005") is None


@pytest.mark.parametrize("random_part", ["0000000", "000000000", "0000000I", "0000000o",
                                         "0000-000"])
def test_document_number_refuses_a_bad_random_part(random_part: str) -> None:
    with pytest.raises(ValueError, match=r"^the random part is 8 characters of "
                                         r"0123456789ABCDEFGHJKMNPQRSTVWXYZ$"):
        document_number(2026, random_part)


# --- pools stored as data and empty pools -----------------------------------------------


def test_a_pool_written_as_data_reads_back_the_same() -> None:
    pool = add(pool_of(SMELTER, 620, {"co2e": Decimal("4.25")}), pool_of(REMELTER, 380))
    data = pool_to_data(pool)
    assert data == {"parts": [["remelter-y", "DE", "recycled", 380, "unrecorded", []],
                              ["smelter-x", "NO", "primary", 620, "unrecorded", []]],
                    "attributes": {"co2e": "2635.00"}}
    assert pool_from_data(data) == pool


@pytest.mark.parametrize("data", [None, {}, {"parts": [], "attributes": {}},
                                  {"parts": None}])
def test_no_stored_pool_is_the_empty_pool(data: dict[str, object] | None) -> None:
    assert pool_from_data(data) == Pool()


def test_stored_parts_without_attributes_read_back() -> None:
    assert pool_from_data({"parts": [["F1", "AU", "primary", 5]]}) == Pool({F1: 5})


def test_an_empty_pool_has_no_route_share() -> None:
    assert route_share(Pool(), Route.RECYCLED) == Decimal("0.00")
    assert route_share(Pool({F1: 3}), Route.RECYCLED) == Decimal("0.00")
    assert route_share(Pool({F1: 3}), Route.PRIMARY) == Decimal("100.00")


def test_every_material_has_its_label() -> None:
    assert [m.label for m in CocMaterial] == ["ASI Bauxite", "ASI Alumina", "ASI Aluminium",
                                              "Eligible scrap"]


# --- transformations as they physically happen ------------------------------------------

BAUXITE, ALUMINA = CocMaterial.ASI_BAUXITE, CocMaterial.ASI_ALUMINA


def test_physical_figures_give_the_coc_credit_and_input_percentage() -> None:
    from stewardship.custody.rules import physical, transform_physical
    # 10,000 t of bauxite (6,000 t CoC) refined into 4,000 t of alumina.
    found = physical(10_000_000, 4_000_000, 6_000_000, Transformation.REFINING)
    assert (found.coc_output, found.declared_yield) == (2_400_000, Decimal("0.4"))
    assert found.coc_input_percent == Decimal("60.00")
    source = produce(open_balance(BAUXITE, YEAR), 6_000_000)
    spent, made = transform_physical(source, open_balance(ALUMINA, YEAR),
                                     Transformation.REFINING, found)
    assert (spent.kilograms, made.kilograms) == (0, 2_400_000)
    # The credit is the exact ratio, rounded down once: 7 t of which 3 t CoC at 1/3.
    assert physical(7_000, 2_333, 3_000, Transformation.REFINING).coc_output == 999
    with pytest.raises(LedgerError, match="exceeds the available balance"):
        transform_physical(source, open_balance(ALUMINA, YEAR), Transformation.REFINING,
                           physical(10_000_000, 4_000_000, 6_000_001, Transformation.REFINING))


@pytest.mark.parametrize(("figures", "figure", "words"), [
    ((0, 400, 0), "total_input_kg", "must be positive"),
    ((1000, -1, 10), "total_output_kg", "must be positive"),
    ((1000, 400, True), "coc_input_kg", "whole number"),
    ((1000, 400, 1001), "coc_input_kg", "exceeds the total input 1000 kg"),
])
def test_physical_figures_are_refused_naming_the_figure(
        figures: tuple[int, int, int], figure: str, words: str) -> None:
    from stewardship.custody.rules import FigureError, physical
    with pytest.raises(FigureError, match=words) as raised:
        physical(*figures, Transformation.REFINING)
    assert raised.value.figure == figure


def test_physical_yield_is_held_to_physics_and_six_decimals() -> None:
    from stewardship.custody.rules import physical
    with pytest.raises(YieldError, match=r"yield of 0\.850001 kg/kg .* exceeds the physical "
                                         r"limit of 0\.85"):
        physical(1_000_000, 850_001, 1, Transformation.REFINING)
    with pytest.raises(YieldError, match=r"below 0\.000001"):
        physical(10_000_000, 1, 1, Transformation.REFINING)


def test_conservation_checks_recorded_totals() -> None:
    def record(coc_in: int, coc_out: int, total_in: int, total_out: int) -> TransformRecord:
        return TransformRecord("M", YEAR, Transformation.REFINING, coc_in, coc_out,
                               Decimal("0.4"), total_in, total_out)

    assert conservation_breaks([], [record(6_000, 2_400, 10_000, 4_000)]) == []
    assert conservation_breaks([], [record(6_000, 2_401, 10_000, 4_000)]) == [
        "M, refining, 2024-01-01 to 2024-12-31: CoC output 2401 kg exceeds CoC input "
        "6000 kg x the yield 4000 kg / 10000 kg"]
    [beyond] = conservation_breaks([], [record(6_000, 2_400, 10_000, 9_000)])
    assert "physical limit of 0.85" in beyond
    [over] = conservation_breaks([], [record(11_000, 2_400, 10_000, 4_000)])
    assert "exceeds the total input" in over


# --- capacity and plausibility ----------------------------------------------------------


def test_the_output_of_each_step_counts_against_one_activity() -> None:
    from stewardship.custody.plausibility.rules import output_activity
    smelter = ["smelting", "casthouse"]
    assert output_activity(smelter, material=CocMaterial.ASI_ALUMINIUM) == "smelting"
    assert output_activity(smelter, transformation=Transformation.CASTING) == "casthouse"
    assert output_activity(["smelting"], transformation=Transformation.CASTING) is None
    assert output_activity(["smelting"], material=BAUXITE) is None
    assert output_activity(["remelting_refining"],
                           material=CocMaterial.ELIGIBLE_SCRAP) is None
    assert output_activity(["semi_fabrication", "other_manufacturing"],
                           transformation=Transformation.CONVERSION) == "other_manufacturing"
    assert output_activity([]) is None


def test_capacity_is_prorated_by_months_and_counts_what_is_recorded() -> None:
    from stewardship.custody.plausibility.rules import capacity_refusal
    quarter = Period(date(2024, 1, 1), date(2024, 3, 31))
    assert capacity_refusal("F", "smelting", 420_000_000, quarter, 0, 105_000_000) is None
    refused = capacity_refusal("Fjordal Smelter (NO1)", "smelting", 420_000_000, quarter,
                               100_000_000, 5_000_001)
    assert refused is not None
    assert refused.startswith("5,000,001 kg would bring the smelting output of Fjordal "
                              "Smelter (NO1) in 2024-01-01 to 2024-03-31 to 105,000,001 kg")
    assert "capacity of 105,000,000 kg for the period (420,000,000 kg a year; " \
           "100,000,000 kg recorded already)" in refused
    assert "secretariat" in refused


def test_plausibility_flags() -> None:
    from stewardship.custody.plausibility.rules import capacity_flag, yield_flag
    assert capacity_flag(420_000_000, YEAR, 420_000_000) is None
    assert capacity_flag(420_000_000, YEAR, 900_000_000_000) == (
        "output 900,000,000,000 kg is 214,285% of the capacity for the period "
        "(420,000,000 kg a year)")
    # Refining is typically 0.3 to 0.5: within 10 % beyond either end is not flagged.
    assert yield_flag(Transformation.REFINING, 1000, 270) is None
    assert yield_flag(Transformation.REFINING, 1000, 550) is None
    assert yield_flag(Transformation.REFINING, 1000, 269) == (
        "refining yield 0.2690 kg/kg (269 kg out of 1,000 kg) is far from the typical "
        "0.3 to 0.5 kg/kg (indicative)")
    assert yield_flag(Transformation.REFINING, 1000, 551) is not None
    assert yield_flag(Transformation.REFINING, 0, 10) is None


# --- whole messages and boundaries (each kills a surviving mutant) ------------------------


def test_a_non_coc_input_refusal_names_it() -> None:
    with pytest.raises(LedgerError) as refused:
        record_non_coc(open_balance(AL, YEAR), 0)
    assert str(refused.value) == "non-CoC input must be positive, got 0 kg"


def test_attribute_per_kg_of_an_empty_pool_is_none_and_of_one_kilogram_its_sum() -> None:
    assert attribute_per_kg(Pool({}, {"co2e": Decimal("0")}), "co2e") is None
    one = pool_of(SMELTER, 1, {"co2e": Decimal("4.5")})
    assert attribute_per_kg(one, "co2e") == Decimal("4.5")


def test_quantity_refusals_name_the_quantity() -> None:
    balance = produce(open_balance(AL, YEAR), 100)
    calls: list[tuple[Callable[[], object], str]] = [
        (lambda: cancel(balance, 0), "cancelled CoC quantity"),
        (lambda: receive(balance, 0), "received CoC quantity"),
        (lambda: pool_of(SMELTER, 0), "pool mass")]
    for call, what in calls:
        with pytest.raises(LedgerError) as refused:
            call()
        assert str(refused.value) == f"{what} must be positive, got 0 kg"
    with pytest.raises(LedgerError) as refused:
        scale(Pool(), 5)
    assert str(refused.value) == "cannot scale an empty pool"


@pytest.mark.parametrize(("coc_in", "non_coc_in", "message"), [
    (True, 1, "CoC input is a non-negative whole number of kg, not True"),
    (1.5, 1, "CoC input is a non-negative whole number of kg, not 1.5"),
    (-1, 1, "CoC input is a non-negative whole number of kg, not -1"),
    (1, False, "non-CoC input is a non-negative whole number of kg, not False"),
    (1, 2.0, "non-CoC input is a non-negative whole number of kg, not 2.0"),
])
def test_input_percentage_refusals_in_full_words(coc_in: object, non_coc_in: object,
                                                 message: str) -> None:
    with pytest.raises(ValueError) as refused:
        input_percentage(coc_in, non_coc_in)
    assert str(refused.value) == message


def test_route_share_rounds_to_nearest_and_adds_up() -> None:
    pool = Pool({SMELTER: 2, REMELTER: 1})
    assert route_share(pool, Route.PRIMARY) == Decimal("66.67")
    assert route_share(pool, Route.RECYCLED) == Decimal("33.33")


def test_closing_carries_everything_that_came_in_this_period() -> None:
    balance = Balance(AL, YEAR, produced=100, received=50, transformed_in=30)
    assert close_period(balance).carried == (180,)
    assert close_period(replace(balance, issued=20)).carried == (160,)


def test_account_totals_add_signed_rows() -> None:
    rows = [*pair(Movement("a", "b", 30, "c1")), *pair(Movement("a", "b", 12, "c2")),
            *pair(Movement("b", "c", 5, "c3"))]
    assert account_totals(rows) == {"a": -42, "b": 37, "c": 5}
    assert pair(Movement("a", "b", 30, "c1"))[1] == ("b", 30, "c1")


def test_adding_pools_sums_attributes_from_zero() -> None:
    a = pool_of(SMELTER, 10, {"co2e": Decimal("2")})
    b = pool_of(REMELTER, 30, {"co2e": Decimal("0.5"), "water": Decimal("1")})
    total = add(a, b)
    assert dict(total.attributes) == {"co2e": Decimal("35.0"), "water": Decimal("30")}
    assert add(Pool(), b).attributes == b.attributes


def test_shares_round_to_nearest_by_largest_remainder() -> None:
    assert shares(Pool({SMELTER: 2, REMELTER: 1})) == {SMELTER: Decimal("66.67"),
                                                       REMELTER: Decimal("33.33")}


def test_take_splits_attribute_sums_by_mass_and_names_a_bad_quantity() -> None:
    pool = pool_of(SMELTER, 40, {"co2e": Decimal("2")})   # 80 in all
    taken, remaining = take(pool, 10)
    assert (taken.attributes["co2e"], remaining.attributes["co2e"]) == (Decimal("20"),
                                                                        Decimal("60"))
    with pytest.raises(LedgerError) as refused:
        take(pool, 0)
    assert str(refused.value) == "kilograms taken must be positive, got 0 kg"


def test_custody_refusals_in_full_words() -> None:
    balance = produce(open_balance(AL, YEAR), 100)
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: issue(balance, 101, 101),
         f"CoC quantity of 101 kg of ASI Aluminium exceeds the available balance of 100 kg "
         f"in {YEAR.label}"),
        (lambda: produce(open_balance(SCRAP, YEAR), 5),
         "Eligible scrap is not produced at an origin; eligible scrap enters through a "
         "remelter's intake"),
        (lambda: Balance(AL, YEAR, produced=True),
         "balance counters are non-negative whole kilograms"),
        (lambda: CarryOverRule(expiry_periods=0),
         "carried-over balance expires after at least one period, not 0"),
        (lambda: Movement("a", "b", 0, "c1"), "a movement must be positive, got 0 kg"),
        (lambda: Movement("a", "b", 5, ""), "a movement needs a correlation id"),
        (lambda: check_transformation(Transformation.REMELTING, BAUXITE, AL),
         "Remelting takes ASI Aluminium or Eligible scrap as input, not ASI Bauxite"),
    ]
    for call, message in cases:
        with pytest.raises((LedgerError, ValueError)) as refused:
            call()
        assert str(refused.value) == message


def test_a_spent_oldest_lot_leaves_no_empty_period_behind() -> None:
    # 50 kg carried in, 100 produced, 50 issued: the carried 50 are spent first, and the
    # two-period rule keeps only this period's 100 (no trailing zero for the spent lot).
    balance = Balance(AL, YEAR, carried=(50,), produced=100, issued=50)
    assert close_period(balance, CarryOverRule(expiry_periods=2)).carried == (100,)


def test_closing_strips_only_the_spent_oldest_period() -> None:
    # Three periods kept: 50 kg from two periods back, 30 from the last, 100 produced now;
    # the 50 issued spend the oldest lot, which leaves (100, 30), not (100,).
    balance = Balance(AL, YEAR, carried=(30, 50), produced=100, issued=50)
    assert close_period(balance, CarryOverRule(expiry_periods=3)).carried == (100, 30)


def test_a_pool_part_must_be_whole_kilograms_not_a_boolean() -> None:
    with pytest.raises(LedgerError) as refused:
        Pool({SMELTER: True})
    assert str(refused.value) == f"pool part {SMELTER} must be positive whole kg, not True"


def test_transform_applies_the_policy_in_force_and_names_its_input() -> None:
    strict = YieldPolicy(limits={**YieldPolicy().limits,
                                 Transformation.CASTING: YieldLimit(Decimal("0.9"), "a test cap")})
    source = produce(open_balance(AL, YEAR), 100)
    with pytest.raises(YieldError):
        transform(source, source, Transformation.CASTING, 50, Decimal("0.95"), strict)
    with pytest.raises(LedgerError) as refused:
        transform(source, source, Transformation.CASTING, 150, Decimal("0.95"))
    assert str(refused.value) == (f"casting input of 150 kg of ASI Aluminium exceeds the "
                                  f"available balance of 100 kg in {YEAR.label}")


def test_network_receipts_add_up_across_recipients_and_periods_in_order() -> None:
    later = next_period(YEAR)
    books = [("I", Balance(AL, YEAR, produced=100, issued=100)),
             ("R1", Balance(AL, YEAR, received=60)), ("R2", Balance(AL, YEAR, received=50)),
             ("R3", Balance(AL, later, received=5)),
             ("J", Balance(ALUMINA, later, produced=10, issued=10)),
             ("R4", Balance(ALUMINA, later, received=11))]
    # Receipts add up over recipients and, per material, over the periods up to each one;
    # the breaks come period by period, materials in order within a period.
    assert conservation_breaks(books) == [
        f"network, asi_aluminium, up to {YEAR.label}: received 110 kg exceeds issued 100 kg",
        f"network, asi_alumina, up to {later.label}: received 11 kg exceeds issued 10 kg",
        f"network, asi_aluminium, up to {later.label}: received 115 kg exceeds issued 100 kg"]


def test_every_transformation_is_checked_under_the_policy_in_force() -> None:
    strict = YieldPolicy(limits={**YieldPolicy().limits,
                                 Transformation.CASTING: YieldLimit(Decimal("0.9"), "a test cap")})
    records = [TransformRecord("A", YEAR, Transformation.CASTING, 100, 95, Decimal("0.95")),
               TransformRecord("B", YEAR, Transformation.CASTING, 100, 95, Decimal("0.95"))]
    assert conservation_breaks([], records) == []
    assert [b.split(":")[0] for b in conservation_breaks([], records, strict)] == [
        f"A, casting, {YEAR.label}", f"B, casting, {YEAR.label}"]


# --- physical figures, capacity and plausibility: whole messages and boundaries -----------


def test_physical_figures_at_their_boundaries() -> None:
    from stewardship.custody.rules import FigureError, physical
    with pytest.raises(FigureError, match=r"^total_input_kg must be positive, got 0 kg$"):
        physical(0, 400, 1, Transformation.REFINING)
    # all of the input CoC, and a yield exactly at the physical limit, are accepted
    assert physical(1_000, 400, 1_000, Transformation.REFINING).coc_output == 400
    assert physical(100, 85, 1, Transformation.REFINING).declared_yield == Decimal("0.85")
    # the yield shown beyond the limit is rounded up (0.8500011 shows as 0.850002)
    with pytest.raises(YieldError, match=r"yield of 0\.850002 kg/kg"):
        physical(10_000_000, 8_500_011, 1, Transformation.REFINING)


def test_capacity_refusal_shows_the_room_rounded_down_in_full_words() -> None:
    from stewardship.custody.plausibility.rules import capacity_refusal
    quarter = Period(date(2024, 1, 1), date(2024, 3, 31))
    # 11 kg a year is 2.75 kg a quarter: the room shown is 2 kg, not 3
    assert capacity_refusal("F", "smelting", 11, quarter, 0, 3) == (
        f"3 kg would bring the smelting output of F in {quarter.label} to 3 kg, beyond its "
        "capacity of 2 kg for the period (11 kg a year; 0 kg recorded already); the "
        "secretariat may record it with a capacity override and the reason")


def test_yield_flags_at_one_kilogram_and_rounded_down() -> None:
    from stewardship.custody.plausibility.rules import yield_flag
    assert yield_flag(Transformation.REFINING, 1, 1) == (
        "refining yield 1.0000 kg/kg (1 kg out of 1 kg) is far from the typical "
        "0.3 to 0.5 kg/kg (indicative)")
    flagged = yield_flag(Transformation.REFINING, 100_000, 26_999)
    assert flagged is not None and flagged.startswith("refining yield 0.2699 kg/kg")


def test_conservation_checks_every_record_and_keeps_every_break() -> None:
    bad = Balance(AL, YEAR, carried=(10,), received=50, issued=70)
    fine_totals = TransformRecord("M", YEAR, Transformation.REFINING, 6_000, 2_400,
                                  Decimal("0.4"), 10_000, 4_000)
    # only the total input recorded: held to the declared yield, as without totals
    half = TransformRecord("H", YEAR, Transformation.CASTING, 100, 95, Decimal("0.95"),
                           total_input_kg=100)
    beyond = TransformRecord("X", YEAR, Transformation.CASTING, 100, 95, Decimal("1.5"))
    over = TransformRecord("Y", YEAR, Transformation.CASTING, 100, 96, Decimal("0.95"))
    breaks = conservation_breaks([("Trader Z", bad)], [fine_totals, half, beyond, over],
                                 network=False)
    assert [b.split(":")[0] for b in breaks] == [
        f"Trader Z, asi_aluminium, {YEAR.label}", f"X, casting, {YEAR.label}",
        f"Y, casting, {YEAR.label}"]


def test_recorded_totals_are_checked_under_the_policy_in_force() -> None:
    strict = YieldPolicy(limits={**YieldPolicy().limits,
                                 Transformation.REFINING: YieldLimit(Decimal("0.3"), "a test cap")})
    record = TransformRecord("M", YEAR, Transformation.REFINING, 6_000, 2_400,
                             Decimal("0.4"), 10_000, 4_000)
    assert conservation_breaks([], [record]) == []
    [refused] = conservation_breaks([], [record], strict)
    assert "exceeds the physical limit of 0.3 kg/kg: a test cap" in refused


@pytest.mark.parametrize("status", ["member", "suspended"])
def test_a_document_may_go_to_another_entity_of_a_member_even_a_suspended_one(
        status: str) -> None:
    assert recipient_refusal("rolling-mill", "smelter", "Rolling mill", status) is None


@pytest.mark.parametrize(("recipient", "status", "refusal"), [
    ("smelter", "member", "a CoC document goes to another entity, not to its issuer"),
    ("trader", "applicant", "Trader belongs to no member of the scheme"),
    ("trader", "withdrawn", "Trader belongs to no member of the scheme"),
    ("trader", None, "Trader belongs to no member of the scheme"),
])
def test_a_document_to_its_issuer_or_outside_the_scheme_is_refused(
        recipient: str, status: str | None, refusal: str) -> None:
    assert recipient_refusal(recipient, "smelter", recipient.capitalize(), status) == refusal
