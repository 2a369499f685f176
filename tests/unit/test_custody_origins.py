"""Origins kept stage by stage (mine, refinery, smelter or remelter) and the shares shown
of a whole: rounded to the nearest by the largest remainder, adding up to 100.00, with no
real share shown as 0.00."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stewardship.custody.origins.rules import (
    OriginKey,
    Route,
    Site,
    Stage,
    origin_key,
    percent_shares,
)
from stewardship.custody.rules import (
    CocMaterial,
    Pool,
    Transformation,
    add,
    entry_origin,
    origin_levels,
    pool_from_data,
    pool_of,
    pool_to_data,
    route_shares,
    shares,
    through,
)

HUNDRED = Decimal("100.00")

# --- shares that add up -------------------------------------------------------------------


@pytest.mark.parametrize(("weights", "expected"), [
    # 67.7966 % and 32.2034 %: rounded down they showed 67.79 + 32.20 = 99.99.
    ({"a": 677_966, "b": 322_034}, {"a": Decimal("67.80"), "b": Decimal("32.20")}),
    # thirds: the one hundredth left over goes to the lower key.
    ({"a": 1, "b": 1, "c": 1}, {"a": Decimal("33.34"), "b": Decimal("33.33"),
                                "c": Decimal("33.33")}),
    # a real share of 0.001 %: shown as the minimum 0.01, taken from the larger share.
    ({"a": 1, "b": 99_999}, {"a": Decimal("0.01"), "b": Decimal("99.99")}),
    # two minimums from two donors standing equally above their exact shares: one each.
    ({"a": 1, "b": 1, "c": 10**9, "d": 10**9},
     {"a": Decimal("0.01"), "b": Decimal("0.01"), "c": Decimal("49.99"),
      "d": Decimal("49.99")}),
    # a zero weight is no real share; nothing at all shares nothing.
    ({"a": 0, "b": 5}, {"a": Decimal("0.00"), "b": HUNDRED}),
    ({"a": 0, "b": 0}, {"a": Decimal("0.00"), "b": Decimal("0.00")}),
    ({}, {}),
])
def test_known_shares(weights: dict[str, int], expected: dict[str, Decimal]) -> None:
    got = percent_shares(weights)
    assert got == expected
    assert all(str(v) == f"{v:.2f}" for v in got.values())  # always two places


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_a_weight_is_a_non_negative_whole_number(bad: object) -> None:
    with pytest.raises(ValueError, match="the weight of a is a non-negative whole number"):
        percent_shares({"a": bad, "b": 1})


def test_more_real_shares_than_hundredths_keep_the_total() -> None:
    got = percent_shares({i: 1 for i in range(10_001)})
    assert sum(got.values()) == HUNDRED
    assert list(got.values()).count(Decimal("0.00")) == 1  # one key: no hundredth left


@settings(deadline=None, max_examples=200)
@given(st.dictionaries(st.integers(0, 30), st.integers(min_value=0, max_value=10**12),
                       max_size=30))
def test_shares_always_add_up_and_no_real_share_is_zero(weights: dict[int, int]) -> None:
    got = percent_shares(weights)
    total = sum(weights.values())
    assert set(got) == set(weights)
    assert sum(got.values()) == (HUNDRED if total else Decimal(0))
    for key, w in weights.items():
        assert (got[key] >= Decimal("0.01")) if w else (got[key] == 0)
    if total and all(w == 0 or 10_000 * w >= total for w in weights.values()):
        # no minimum needed: every share within 0.01 of its exact value
        for key, w in weights.items():
            assert abs(got[key] - Decimal(100 * w) / total) < Decimal("0.01")


def test_route_shares_add_up() -> None:
    pool = add(pool_of(entry_origin(CocMaterial.ASI_ALUMINIUM, "S", "NO"), 2),
               pool_of(entry_origin(CocMaterial.ELIGIBLE_SCRAP, "R", "DE"), 1))
    assert route_shares(pool) == {Route.PRIMARY: Decimal("66.67"),
                                  Route.RECYCLED: Decimal("33.33")}
    tiny = add(pool_of(entry_origin(CocMaterial.ASI_ALUMINIUM, "S", "NO"), 999_990),
               pool_of(entry_origin(CocMaterial.ELIGIBLE_SCRAP, "R", "DE"), 10))
    assert route_shares(tiny)[Route.RECYCLED] == Decimal("0.01")  # was shown as 0.00
    assert sum(shares(tiny).values()) == HUNDRED


# --- origins stage by stage ---------------------------------------------------------------

MINE = Site(Stage.MINE, "MINE", "AU")
REFINERY = Site(Stage.REFINERY, "REF", "AU")
SMELTER = Site(Stage.SMELTER, "SMELT", "NO")


def _smelted(kilograms: int) -> Pool:
    """Bauxite mined, refined and smelted: each step through its facility."""
    bauxite = pool_of(entry_origin(CocMaterial.ASI_BAUXITE, "MINE", "AU"), kilograms)
    alumina = through(bauxite, Transformation.REFINING, "REF", "AU")
    return through(alumina, Transformation.SMELTING, "SMELT", "NO")


def test_each_stage_is_kept_and_the_smelter_comes_first() -> None:
    metal = _smelted(1_000)
    assert list(metal.parts) == [OriginKey("SMELT", "NO", Route.PRIMARY, Stage.SMELTER,
                                           (REFINERY, MINE))]
    # casting, rolling and conversion change no origin
    for step in (Transformation.CASTING, Transformation.ROLLING,
                 Transformation.CONVERSION, Transformation.EXTRUSION):
        assert through(metal, step, "MILL", "DE") == metal


def test_the_same_metal_shows_the_same_origin_however_it_entered() -> None:
    made = pool_of(entry_origin(CocMaterial.ASI_ALUMINIUM, "SMELT", "NO"), 1_000)
    both = add(made, _smelted(3_000))
    [level] = origin_levels(both)
    assert (level.site, level.route, level.kilograms, level.percent) == (
        SMELTER, Route.PRIMARY, 4_000, HUNDRED)
    assert [(u.sites, u.kilograms, u.percent) for u in level.upstream] == [
        ((REFINERY, MINE), 3_000, Decimal("75.00")), ((), 1_000, Decimal("25.00"))]


def test_remelting_names_the_remelter_of_the_recycled_route_only() -> None:
    scrap = pool_of(entry_origin(CocMaterial.ELIGIBLE_SCRAP, "INTAKE", "DE"), 600)
    primary = _smelted(400)
    out = through(add(scrap, primary), Transformation.REMELTING, "FURNACE", "DE")
    assert dict(out.parts) == {
        OriginKey("FURNACE", "DE", Route.RECYCLED, Stage.REMELTER): 600,
        OriginKey("SMELT", "NO", Route.PRIMARY, Stage.SMELTER, (REFINERY, MINE)): 400}
    levels = origin_levels(out)
    assert [(lv.site.stage, lv.percent) for lv in levels] == [
        (Stage.REMELTER, Decimal("60.00")), (Stage.SMELTER, Decimal("40.00"))]
    assert levels[0].upstream == (((), 600, HUNDRED),)


def test_origins_that_come_to_name_the_same_sites_merge() -> None:
    two = add(pool_of(entry_origin(CocMaterial.ELIGIBLE_SCRAP, "A", "DE"), 5),
              pool_of(entry_origin(CocMaterial.ELIGIBLE_SCRAP, "B", "DE"), 7))
    out = through(two, Transformation.REMELTING, "C", "DE")
    assert dict(out.parts) == {OriginKey("C", "DE", Route.RECYCLED, Stage.REMELTER): 12}


def test_an_origin_names_one_site_per_stage() -> None:
    with pytest.raises(ValueError, match="at least one site"):
        origin_key(Route.PRIMARY, [])
    with pytest.raises(ValueError, match="one site per stage"):
        origin_key(Route.PRIMARY, [MINE, Site(Stage.MINE, "OTHER", "GN")])
    assert origin_key(Route.PRIMARY, [MINE, SMELTER, REFINERY]).sites == (
        SMELTER, REFINERY, MINE)


def test_entry_stages_follow_the_material() -> None:
    assert [entry_origin(m, "F", "NO").stage for m in CocMaterial] == [
        Stage.MINE, Stage.REFINERY, Stage.SMELTER, Stage.REMELTER]
    assert entry_origin(CocMaterial.ELIGIBLE_SCRAP, "F", "NO").route is Route.RECYCLED
    assert Stage.UNRECORDED.label == "Origin (stage not recorded)"


# --- stored pools, old and new ------------------------------------------------------------


def test_a_pool_with_stages_reads_back_the_same() -> None:
    pool = add(_smelted(620), pool_of(entry_origin(CocMaterial.ELIGIBLE_SCRAP, "R", "DE"),
                                      380, {"co2e": Decimal("0.5")}))
    data = pool_to_data(pool)
    assert data["parts"] == [
        ["R", "DE", "recycled", 380, "remelter", []],
        ["SMELT", "NO", "primary", 620, "smelter",
         [["refinery", "REF", "AU"], ["bauxite_mine", "MINE", "AU"]]]]
    assert pool_from_data(data) == pool


def test_a_pool_stored_before_stages_were_kept_is_still_read() -> None:
    old = {"parts": [["F1", "AU", "primary", 5], ["F2", "DE", "recycled", 3]],
           "attributes": {}}
    pool = pool_from_data(old)
    assert dict(pool.parts) == {
        OriginKey("F1", "AU", Route.PRIMARY, Stage.UNRECORDED): 5,
        OriginKey("F2", "DE", Route.RECYCLED, Stage.REMELTER): 3}
    # smelted later, the old origin becomes the upstream of the smelter
    metal = through(pool, Transformation.SMELTING, "S", "NO")
    assert OriginKey("S", "NO", Route.PRIMARY, Stage.SMELTER,
                     (Site(Stage.UNRECORDED, "F1", "AU"),)) in metal.parts


# --- whole messages, ties and order (each kills a surviving mutant) -----------------------


def test_origin_refusals_in_full_words() -> None:
    with pytest.raises(ValueError, match=r"^an origin names at least one site$"):
        origin_key(Route.PRIMARY, [])
    with pytest.raises(ValueError, match=r"^an origin names one site per stage$"):
        origin_key(Route.PRIMARY, [MINE, Site(Stage.MINE, "OTHER", "GN")])


def test_origin_levels_come_largest_first_and_equal_upstreams_by_their_sites() -> None:
    small = pool_of(entry_origin(CocMaterial.ASI_ALUMINIUM, "A-SMELTER", "NO"), 100)
    large = pool_of(entry_origin(CocMaterial.ASI_ALUMINIUM, "B-SMELTER", "NO"), 300)
    assert [lv.site.facility_id for lv in origin_levels(add(small, large))] == [
        "B-SMELTER", "A-SMELTER"]
    # equal kilograms within an origin: the upstream sites in order (none known first),
    # whichever entered the pool first
    smelted = _smelted(500)
    made = pool_of(entry_origin(CocMaterial.ASI_ALUMINIUM, "SMELT", "NO"), 500)
    [level] = origin_levels(add(smelted, made))
    assert [u.sites for u in level.upstream] == [(), (REFINERY, MINE)]


def test_route_shares_sum_every_origin_of_a_route() -> None:
    pool = add(add(pool_of(entry_origin(CocMaterial.ASI_ALUMINIUM, "S1", "NO"), 1),
                   pool_of(entry_origin(CocMaterial.ASI_ALUMINIUM, "S2", "NO"), 1)),
               pool_of(entry_origin(CocMaterial.ELIGIBLE_SCRAP, "R", "DE"), 2))
    assert route_shares(pool) == {Route.PRIMARY: Decimal("50.00"),
                                  Route.RECYCLED: Decimal("50.00")}


def test_stored_rows_of_one_origin_add_up() -> None:
    old = {"parts": [["F1", "AU", "primary", 5], ["F1", "AU", "primary", 3]]}
    assert dict(pool_from_data(old).parts) == {
        OriginKey("F1", "AU", Route.PRIMARY, Stage.UNRECORDED): 8}


def test_a_step_that_names_a_new_stage_keeps_the_attribute_sums() -> None:
    alumina = pool_of(entry_origin(CocMaterial.ASI_ALUMINA, "REF", "AU"), 10,
                      {"co2e": Decimal("1.5")})
    metal = through(alumina, Transformation.SMELTING, "SMELT", "NO")
    assert metal.attributes == {"co2e": Decimal("15.0")}


@pytest.mark.parametrize(("weights", "expected"), [
    # Exact shares of b and d: 39.8054 and 60.1943 (in hundredths 3980.54 and 6019.43);
    # b rounds up to 39.81, so it stands furthest above and gives the first minimum,
    # then d (0.43 hundredths below) before b again (0.54 below).
    ({"a": 1, "b": 436_397, "c": 1, "d": 659_925, "e": 1},
     {"a": Decimal("0.01"), "b": Decimal("39.79"), "c": Decimal("0.01"),
      "d": Decimal("60.18"), "e": Decimal("0.01")}),
    # e (exact 0.0153 %) got 0.02: it gives first, being 0.47 hundredths above, and a
    # share of exactly 0.02 may give; c gives the second minimum.
    ({"a": 1, "b": 1, "c": 19_593, "d": 1, "e": 3},
     {"a": Decimal("0.01"), "b": Decimal("0.01"), "c": Decimal("99.96"),
      "d": Decimal("0.01"), "e": Decimal("0.01")}),
    # h (exact 0.0282 %) got 0.03; having given one minimum it keeps 0.02, still the
    # furthest above, and gives a second.
    ({"a": 1, "b": 1, "c": 1, "d": 474_345, "e": 1, "f": 3, "g": 274_160, "h": 211},
     {"a": Decimal("0.01"), "b": Decimal("0.01"), "c": Decimal("0.01"),
      "d": Decimal("63.34"), "e": Decimal("0.01"), "f": Decimal("0.01"),
      "g": Decimal("36.60"), "h": Decimal("0.01")}),
])
def test_minimums_are_taken_from_the_share_furthest_above(
        weights: dict[str, int], expected: dict[str, Decimal]) -> None:
    assert percent_shares(weights) == expected


def test_beyond_ten_thousand_real_shares_the_smallest_keep_zero() -> None:
    weights = {0: 1, **{i: 2 for i in range(1, 10_000)}, 10_000: 5}
    got = percent_shares(weights)
    assert [k for k, v in got.items() if not v] == [0]
    assert sum(got.values()) == HUNDRED


def test_adding_pools_sums_the_kilograms_of_a_shared_origin() -> None:
    key = entry_origin(CocMaterial.ASI_ALUMINIUM, "S", "NO")
    other = entry_origin(CocMaterial.ELIGIBLE_SCRAP, "R", "DE")
    assert dict(add(add(pool_of(key, 5), pool_of(other, 1)), pool_of(key, 7)).parts) == {
        key: 12, other: 1}
