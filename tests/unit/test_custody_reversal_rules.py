"""The rules of reversing a journal entry: which kinds may be reversed, the counters and
balance going back (refused once the credited material has left), the ledger rows the
other way, and an entry's origins leaving a pool only while all of them are still in it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from stewardship.custody.rules import (
    REVERSIBLE_KINDS,
    Balance,
    CocMaterial,
    LedgerError,
    Movement,
    OriginKey,
    Period,
    Pool,
    Route,
    Row,
    Transformation,
    add,
    issue,
    pair,
    pool_of,
    produce,
    record_non_coc,
    remove,
    reversal_refusal,
    reverse,
    reverse_rows,
    take,
    transform,
    unwind,
)

YEAR = Period(date(2024, 1, 1), date(2024, 12, 31))
NEXT = Period(date(2025, 1, 1), date(2025, 12, 31))
AL, ALUMINA, BAUXITE = CocMaterial.ASI_ALUMINIUM, CocMaterial.ASI_ALUMINA, CocMaterial.ASI_BAUXITE
A = OriginKey("NO2024FJE11A4", "NO", Route.PRIMARY)
B = OriginKey("IS2024ALC22B7", "IS", Route.PRIMARY)


def test_which_kinds_may_be_reversed() -> None:
    assert {"production", "scrap_intake", "non_coc_input",
                                "transformation"} == REVERSIBLE_KINDS
    for kind in REVERSIBLE_KINDS:
        assert reversal_refusal(kind) is None
    issue_refusal = reversal_refusal("issue")
    assert issue_refusal is not None and "cancelling the document" in issue_refusal
    reversal = reversal_refusal("reversal")
    assert reversal is not None and "cannot itself be reversed" in reversal
    assert reversal_refusal("receipt") == "a receipt entry is final"
    assert reversal_refusal("period_close") == "a period close entry is final"


def test_an_entrys_counters_are_taken_back_while_its_kilograms_are_held() -> None:
    b = produce(produce(Balance(AL, YEAR), 1_000), 400)
    back = unwind(b, 400, produced=400)
    assert (back.produced, back.kilograms) == (1_000, 1_000)
    spent = issue(b, 1_200, 1_200)  # 200 kg left
    with pytest.raises(LedgerError, match="the 400 kg of ASI Aluminium the entry credited "
                                          "have already left: only 200 kg remain in 2024"):
        unwind(spent, 400, produced=400)
    assert unwind(spent, 200, produced=200).kilograms == 0
    with pytest.raises(LedgerError, match="non-negative"):  # more than was ever produced
        unwind(Balance(AL, YEAR, carried=(500,)), 300, produced=300)


def test_a_non_coc_input_is_taken_back_whatever_the_balance() -> None:
    b = record_non_coc(issue(produce(Balance(AL, YEAR), 100), 100, 100), 50)
    assert unwind(b, non_coc_in=50).non_coc_in == 0
    with pytest.raises(LedgerError, match="non-negative"):
        unwind(b, non_coc_in=60)


def test_a_transformation_is_taken_back_while_its_output_is_held() -> None:
    bauxite = produce(Balance(BAUXITE, YEAR), 10_000)
    source, target = transform(bauxite, Balance(ALUMINA, YEAR), Transformation.REFINING,
                               4_000, Decimal("0.5"))
    back_target = unwind(target, 2_000, transformed_in=2_000)
    back_source = unwind(source, transformed_out=4_000)
    assert (back_source.kilograms, back_source.transformed_out) == (10_000, 0)
    assert (back_target.kilograms, back_target.transformed_in) == (0, 0)
    with pytest.raises(LedgerError, match="2000 kg of ASI Alumina the entry credited have "
                                          "already left: only 500 kg"):
        unwind(issue(target, 1_500, 1_500), 2_000, transformed_in=2_000)
    metal = produce(Balance(AL, YEAR), 1_000)  # casting: one account
    both, _ = transform(metal, metal, Transformation.CASTING, 1_000, Decimal("0.9"))
    back = unwind(both, 900, transformed_out=1_000, transformed_in=900)
    assert (back.kilograms, back.transformed_in, back.transformed_out) == (1_000, 0, 0)


def test_reversed_rows_go_the_other_way_under_the_reversal_id() -> None:
    m = Movement("origin:NO2024FJE11A4", "account:1", 250, "op-1")
    rows = list(pair(m))
    back = reverse_rows(rows, "op-2")
    assert back == [Row("origin:NO2024FJE11A4", 250, "op-2"), Row("account:1", -250, "op-2")]
    assert sum(r.kilograms for r in rows + back) == 0
    assert back == list(pair(reverse(m, "op-2")))[::-1]  # what ``reverse`` says, leg by leg
    with pytest.raises(LedgerError, match="correlation id"):
        reverse_rows(rows, "")


def test_an_entrys_origins_leave_the_pool_only_when_all_are_still_there() -> None:
    mine = pool_of(A, 600, {"co2": Decimal("4")})
    pool = add(pool_of(B, 400, {"co2": Decimal("2")}), mine)
    left = remove(pool, mine)
    assert left.parts == {B: 400} and left.attributes == {"co2": Decimal("800")}
    assert remove(pool, pool) == Pool()
    assert remove(left, Pool()) == left
    _, after_issue = take(pool, 100)  # a document took 60 kg of A with it
    assert after_issue.parts[A] == 540
    with pytest.raises(LedgerError, match=r"of the 600 kg from NO2024FJE11A4 \(NO, primary\) "
                                          "only 540 kg remain in the balance"):
        remove(after_issue, mine)
    with pytest.raises(LedgerError, match="only 0 kg remain"):
        remove(pool_of(B, 10), mine)


def test_removing_never_leaves_a_negative_attribute_sum() -> None:
    held = Pool({A: 500}, {"co2": Decimal("999.9999")})  # rounding of earlier splits
    part = Pool({A: 100}, {"co2": Decimal("2000")})
    assert remove(held, part).attributes == {"co2": Decimal(0)}
    assert remove(Pool({A: 100, B: 50}, {"co2": Decimal(7)}), Pool({A: 100})).attributes == {
        "co2": Decimal(7)}


def test_reversal_and_removal_refusals_in_full_words() -> None:
    with pytest.raises(LedgerError, match=r"^a movement needs a correlation id$"):
        reverse_rows([Row("account:1", 5, "op-1")], "")
    # an origin absent from the pool, even of 1 kg, is refused with what remains (0 kg)
    with pytest.raises(LedgerError, match=r"^of the 1 kg from NO2024FJE11A4 \(NO, primary\) "
                                          r"only 0 kg remain in the balance; the rest has left "
                                          r"in later documents or transformations$"):
        remove(pool_of(B, 10), pool_of(A, 1))
