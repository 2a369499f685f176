"""The footprint a custody pool carries beside its origins: whole milligrams, so that no
step makes CO2e appear or vanish; mixing gives the mass-weighted mean, drawing keeps the
per-kg value, a transformation divides the carried footprint by its yield and adds its
own; unknown stays unknown, with where it was lost."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stewardship.custody import rules
from stewardship.custody.footprints import rules as fp
from stewardship.custody.footprints.rules import Contributor, Footprint, Gap
from stewardship.custody.rules import Route, Site, Stage

MINE = Contributor(0, "e-mine", "Mine Ltd", "Mine Org", "AU", "mining")
REFINERY = Contributor(0, "e-ref", "Refinery Ltd", "Refinery Org", "AU", "refining")
DEFAULT = Contributor(1, "e-x", "Trader", "Trader Org", "GB", "casting", primary=False)
NO_INVENTORY = Gap(0, "e-smelter", "Smelter Ltd", "Smelter Org", "NO", "smelting")

contributors = st.sampled_from([MINE, REFINERY, DEFAULT,
                                Contributor(2, "e-far", "Far", "Far Org", "CN", "smelting")])
known_footprints = st.builds(
    lambda kg, mg: Footprint(kg, {c: v for c, v in mg.items() if v}),
    st.integers(1, 10**7), st.dictionaries(contributors, st.integers(0, 10**13), max_size=4))
gaps = st.dictionaries(st.sampled_from([NO_INVENTORY, fp.BEFORE_FOOTPRINTS]),
                       st.integers(1, 10**6), max_size=2)
footprints = st.builds(lambda f, g: Footprint(f.known_kg, f.mg, g), known_footprints, gaps)


def _per_kg(f: Footprint) -> Fraction:
    """Milligrams per known kilogram, exactly."""
    return Fraction(f.total_mg, f.known_kg)


@given(footprints, st.data())
@settings(max_examples=300)
def test_drawing_splits_exactly_and_keeps_the_per_kg_value(f: Footprint,
                                                           data: st.DataObject) -> None:
    k = data.draw(st.integers(0, f.kilograms))
    taken, left = fp.draw(f, k)
    assert taken.kilograms == k and left.kilograms == f.kilograms - k
    assert fp.mix(taken, left) == f                  # nothing appears or vanishes
    assert taken.total_mg + left.total_mg == f.total_mg
    if taken.known_kg:
        # the taken share's per kg is the pool's, to half a milligram of the whole taken
        assert abs(taken.total_mg - _per_kg(f) * taken.known_kg) <= Fraction(1, 2)


@given(known_footprints, known_footprints)
def test_mixing_gives_the_mass_weighted_mean(a: Footprint, b: Footprint) -> None:
    mixed = fp.mix(a, b)
    assert mixed.known_kg == a.known_kg + b.known_kg
    assert _per_kg(mixed) == (_per_kg(a) * a.known_kg + _per_kg(b) * b.known_kg) / (
        a.known_kg + b.known_kg)
    assert mixed.primary_mg == a.primary_mg + b.primary_mg


@given(known_footprints, st.data(),
       st.integers(0, 50_000_000).map(lambda mg: Decimal(mg).scaleb(-6)))
@settings(max_examples=300)
def test_a_transformation_adds_its_own_and_loses_nothing(f: Footprint, data: st.DataObject,
                                                         own: Decimal) -> None:
    out = data.draw(st.integers(1, f.kilograms))
    scaled = fp.rescale(f, out)
    assert scaled.known_kg == out and scaled.total_mg == f.total_mg  # divided by the yield
    after = fp.add_process(scaled, REFINERY, own, NO_INVENTORY)
    added = fp.mg_per_kg(own) * out
    assert fp.conserved(f, added, after)             # in = out - what the process added
    assert after.total_mg - added == f.total_mg


def test_the_carried_footprint_per_kg_is_divided_by_the_yield() -> None:
    bauxite = fp.produced(4_000, MINE, Decimal("0.010000"), NO_INVENTORY)
    alumina = fp.add_process(fp.rescale(bauxite, 2_000), REFINERY, Decimal("0.700000"),
                             NO_INVENTORY)
    said = fp.state(alumina)
    # 4,000 kg x 0.01 over 2,000 kg = 0.02, plus 0.7 of its own
    assert said.kg_co2e_per_kg == Decimal("0.720000")
    assert [(t.contributor.process, t.kg_co2e_per_kg) for t in said.tiers] == [
        ("refining", Decimal("0.700000")), ("mining", Decimal("0.020000"))]
    assert said.primary_percent == Decimal("100.00")


def test_without_a_figure_the_footprint_is_unknown_never_zero() -> None:
    f = fp.produced(1_000, MINE, None, NO_INVENTORY)
    assert not f.known and f.total_mg == 0
    said = fp.state(f)
    assert said.kg_co2e_per_kg is None and said.primary_percent is None and not said.tiers
    assert said.gaps == ((NO_INVENTORY, 1_000),)
    assert "no emission inventory covering smelting" in fp.gap_reason(NO_INVENTORY)
    # a later step with a figure does not make it known
    later = fp.add_process(f, REFINERY, Decimal("1"), NO_INVENTORY)
    assert not later.known
    # and a step without one turns a known footprint unknown from there on
    known = fp.produced(1_000, MINE, Decimal("1"), NO_INVENTORY)
    lost = fp.add_process(known, REFINERY, None, NO_INVENTORY)
    assert lost.known_kg == 0 and lost.gaps == {NO_INVENTORY: 1_000}


def test_part_unknown_mix_states_unknown() -> None:
    mixed = fp.mix(fp.produced(900, MINE, Decimal("1"), NO_INVENTORY), fp.unknown(100))
    taken, _ = fp.draw(mixed, 500)
    assert taken.known_kg == 450 and taken.gaps == {fp.BEFORE_FOOTPRINTS: 50}
    assert fp.state(taken).kg_co2e_per_kg is None


def test_scrap_enters_burden_free() -> None:
    scrap = fp.burden_free(1_000)
    assert scrap.known and fp.state(scrap).kg_co2e_per_kg == Decimal("0.000000")
    assert fp.state(scrap).primary_percent is None  # no share of nothing
    metal = fp.add_process(fp.rescale(scrap, 900), REFINERY, Decimal("0.5"), NO_INVENTORY)
    assert fp.state(metal).kg_co2e_per_kg == Decimal("0.500000")


@given(footprints.filter(lambda f: f.known and f.known_kg > 0))
def test_stated_tiers_add_up_to_the_footprint_exactly(f: Footprint) -> None:
    said = fp.state(f)
    assert said.kg_co2e_per_kg is not None
    assert sum(t.kg_co2e_per_kg for t in said.tiers) == said.kg_co2e_per_kg
    assert abs(said.kg_co2e_per_kg * f.known_kg * fp.MG_PER_KG - f.total_mg) <= (
        Decimal(f.known_kg) / 2)
    # a recipient receives what the document states, exactly, one tier up
    got = fp.received(said.kg_co2e_per_kg, said.tiers, 1_234, NO_INVENTORY)
    assert got.total_mg == fp.mg_per_kg(said.kg_co2e_per_kg) * 1_234
    assert {c.tier for c in got.mg} <= {t.contributor.tier + 1 for t in said.tiers}


def test_primary_share_counts_secondary_data_apart() -> None:
    f = Footprint(1_000, {MINE: 3_000_000_000, DEFAULT: 1_000_000_000})
    said = fp.state(f)
    assert said.kg_co2e_per_kg == Decimal("4.000000")
    assert said.primary_percent == Decimal("75.00")


def test_deep_and_wide_tiers_are_merged_and_counted() -> None:
    mg = {Contributor(t, f"e{t}", f"E{t}", "O", "NO", "smelting"): 1_000_000
          for t in range(fp.MAX_TIER + 4)}
    mg.update({Contributor(1, f"w{i}", f"W{i}", "O", "DE", "rolling"): 10_000 * (i + 1)
               for i in range(fp.MAX_ROWS_PER_TIER + 3)})
    said = fp.state(Footprint(1, mg))
    deep = [t for t in said.tiers if t.contributor.tier > fp.MAX_TIER]
    assert [(t.contributor.tier, t.contributor.merged, t.contributor.process)
            for t in deep] == [(fp.MAX_TIER + 1, 3, "upstream")]
    wide = [t for t in said.tiers if t.contributor.tier == 1]
    assert len(wide) == fp.MAX_ROWS_PER_TIER + 1
    assert [t.contributor.merged for t in wide if t.contributor.merged] == [4]
    assert sum(t.kg_co2e_per_kg for t in said.tiers) == said.kg_co2e_per_kg


def test_reversal_removes_exactly_what_an_entry_added() -> None:
    a = fp.produced(400, MINE, Decimal("2"), NO_INVENTORY)
    b = fp.produced(600, MINE, Decimal("1"), NO_INVENTORY)
    assert fp.remove(fp.mix(a, b), a, 600) == b


def test_pools_carry_the_footprint_beside_their_origins() -> None:
    key = rules.entry_origin(rules.CocMaterial.ASI_ALUMINIUM, "F1", "NO")
    pool = rules.pool_of(key, 1_000, footprint=fp.produced(1_000, MINE, Decimal("8"),
                                                           NO_INVENTORY))
    legacy = rules.pool_of(rules.origin_key(Route.PRIMARY, [Site(Stage.SMELTER, "F2", "IS")]),
                           1_000)
    both = rules.add(pool, legacy)
    assert both.footprint is not None and both.footprint.gaps == {fp.BEFORE_FOOTPRINTS: 1_000}
    taken, left = rules.take(both, 500)
    assert rules.add(taken, left).footprint == both.footprint
    data = rules.pool_to_data(taken)
    assert rules.pool_from_data(data) == taken
    # a pool stored without a footprint keeps its old shape
    assert "footprint" not in rules.pool_to_data(legacy)
    out = rules.scale(pool, 520)
    assert out.footprint is not None and out.footprint.total_mg == 8_000_000_000
    with pytest.raises(rules.LedgerError):
        rules.Pool(pool.parts, {}, Footprint(999))


def test_a_stored_footprint_not_covering_its_pool_reads_as_unknown() -> None:
    key = rules.entry_origin(rules.CocMaterial.ASI_BAUXITE, "F1", "AU")
    data = rules.pool_to_data(rules.pool_of(key, 1_000, footprint=fp.burden_free(1_000)))
    data["footprint"] = {"known_kg": 999, "mg": [], "gaps": []}
    read = rules.pool_from_data(data)
    assert read.footprint == fp.unknown(1_000, fp.DAMAGED)
    data["footprint"] = {"known_kg": -5}
    assert rules.pool_from_data(data).footprint == fp.unknown(1_000, fp.DAMAGED)
    assert "custody audit" in fp.gap_reason(fp.DAMAGED)
