"""Pure rules of the standards context: applicability, diffs between versions, the
revision state machine, consultation rounds, flood control and vote counting."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stewardship.registry.rules import Activity, MembershipClass
from stewardship.standards.rules import (
    ALL_ACTIVITIES,
    CERTIFYING,
    Chamber,
    Choice,
    Criterion,
    Part,
    Principle,
    PrincipleGroup,
    RevisionStatus,
    StandardKind,
    StandardPackage,
    Threshold,
    TransitionRefused,
    VoteRule,
    applicable_criteria,
    check_round_dates,
    check_transition,
    comments_allowed,
    criterion_sort_key,
    diff_criteria,
    minimum_round_days,
    parse_fraction,
    round_accepts_comments,
    tally,
    usable_for_new_audit,
)

PT = MembershipClass.PRODUCTION_TRANSFORMATION.value
IU = MembershipClass.INDUSTRIAL_USERS.value
ACTIVITIES = sorted(ALL_ACTIVITIES)


def crit(number: str, *, title: str | None = None, requirement: str | None = None,
         guidance: str = "", activities: set[str] | None = None,
         classes: set[str] | frozenset[str] = CERTIFYING, parts: tuple[Part, ...] = (),
         thresholds: tuple[Threshold, ...] = ()) -> Criterion:
    return Criterion(number=number, title=title or f"Title of {number}",
                     requirement=requirement or f"Requirement of {number}.",
                     guidance=guidance,
                     activities=frozenset(activities) if activities is not None else None,
                     member_classes=frozenset(classes), parts=parts, thresholds=thresholds)


# --- applicability ----------------------------------------------------------------------


def test_member_class_outside_the_criterion_is_excluded_with_the_class_named() -> None:
    only_pt = crit("1.1", classes={PT})
    [row] = applicable_criteria([only_pt], ["smelting"], IU)
    assert not row.applicable
    assert "Industrial Users" in row.reason
    [row] = applicable_criteria([only_pt], ["smelting"], PT)
    assert row.applicable


def test_a_class_that_does_not_certify_gets_nothing() -> None:
    criteria = [crit("1.1"), crit("1.2", activities={"smelting"})]
    rows = applicable_criteria(criteria, ["smelting"], MembershipClass.CIVIL_SOCIETY.value)
    assert [r.applicable for r in rows] == [False, False]


def test_activities_must_intersect() -> None:
    criterion = crit("5.2", activities={"smelting", "casthouse"})
    [row] = applicable_criteria([criterion], ["casthouse", "semi_fabrication"], PT)
    assert row.applicable
    assert row.reason == "applies to casthouse"
    [row] = applicable_criteria([criterion], ["bauxite_mining"], PT)
    assert not row.applicable
    assert row.reason == "none of the scope's activities"


def test_all_activities_applies_to_any_scope_even_an_empty_one() -> None:
    every = crit("1.1")
    for scope in ([], ["bauxite_mining"], ACTIVITIES):
        [row] = applicable_criteria([every], scope, IU)
        assert row.applicable
        assert row.reason == "applies to every activity"


def test_exclusions_are_reported_with_their_reason_never_dropped() -> None:
    criteria = [crit("1.1"), crit("1.2"), crit("1.3", activities={"smelting"})]
    rows = applicable_criteria(criteria, ["smelting"], PT,
                               {"1.2": "no employees on site", "1.3": "smelter closed"})
    assert [r.criterion.number for r in rows] == ["1.1", "1.2", "1.3"]
    assert [r.applicable for r in rows] == [True, False, False]
    assert rows[1].reason == "marked not applicable: no employees on site"
    assert rows[2].reason == "marked not applicable: smelter closed"


def test_an_exclusion_does_not_hide_the_reason_a_criterion_never_applied() -> None:
    [row] = applicable_criteria([crit("1.3", activities={"smelting"})], ["casthouse"], PT,
                                {"1.3": "whatever"})
    assert not row.applicable
    assert row.reason == "none of the scope's activities"


def test_unknown_activity_raises_naming_it() -> None:
    with pytest.raises(ValueError, match="pottery"):
        applicable_criteria([crit("1.1")], ["smelting", "pottery"], PT)


def test_result_is_in_numeric_not_text_order() -> None:
    criteria = [crit("10.1"), crit("9.2"), crit("1.10"), crit("1.9"), crit("2.1")]
    rows = applicable_criteria(criteria, ["smelting"], PT)
    assert [r.criterion.number for r in rows] == ["1.9", "1.10", "2.1", "9.2", "10.1"]


@st.composite
def criteria_lists(draw: st.DrawFn) -> list[Criterion]:
    numbers = draw(st.lists(st.tuples(st.integers(1, 12), st.integers(1, 12)), unique=True,
                            max_size=15))
    out = []
    for major, minor in numbers:
        acts = draw(st.none() | st.frozensets(st.sampled_from(ACTIVITIES), min_size=1))
        classes = draw(st.frozensets(st.sampled_from(sorted(CERTIFYING)), min_size=1))
        out.append(crit(f"{major}.{minor}", activities=set(acts) if acts else None,
                        classes=classes))
    return draw(st.permutations(out))


scopes = st.sets(st.sampled_from(ACTIVITIES))
classes = st.sampled_from([c.value for c in MembershipClass])


@settings(deadline=None)  # no timing assertions: shared CI machines vary
@given(criteria_lists(), scopes, scopes, classes)
def test_applicable_set_is_monotone_in_the_activities(criteria: list[Criterion],
                                                      scope: set[str], more: set[str],
                                                      member_class: str) -> None:
    def applicable(acts: set[str]) -> set[str]:
        return {r.criterion.number for r in applicable_criteria(criteria, acts, member_class)
                if r.applicable}

    assert applicable(scope) <= applicable(scope | more)


@settings(deadline=None)  # no timing assertions: shared CI machines vary
@given(criteria_lists(), scopes, st.sampled_from(sorted(CERTIFYING)))
def test_every_activity_criterion_applies_to_every_certifying_scope(
        criteria: list[Criterion], scope: set[str], member_class: str) -> None:
    rows = applicable_criteria(criteria, scope, member_class)
    for row in rows:
        c = row.criterion
        if c.activities is None and member_class in c.member_classes:
            assert row.applicable


@settings(deadline=None)  # no timing assertions: shared CI machines vary
@given(criteria_lists(), scopes, classes)
def test_result_covers_every_criterion_once_in_numeric_order(criteria: list[Criterion],
                                                             scope: set[str],
                                                             member_class: str) -> None:
    rows = applicable_criteria(criteria, scope, member_class)
    numbers = [r.criterion.number for r in rows]
    assert sorted(numbers) == sorted(c.number for c in criteria)
    assert len(set(numbers)) == len(numbers)
    keys = [tuple(int(p) for p in n.split(".")) for n in numbers]
    assert keys == sorted(keys)
    for row in rows:
        assert row.reason


# --- diff -------------------------------------------------------------------------------


def test_diff_of_a_version_with_itself_is_empty() -> None:
    criteria = [crit("1.1"), crit("1.2", activities={"smelting"}),
                crit("2.1", thresholds=(Threshold("k", Decimal("8.0"), "t"),))]
    d = diff_criteria(criteria, criteria)
    assert d.is_empty
    assert d.unchanged == 3


def test_added_and_removed() -> None:
    d = diff_criteria([crit("1.1"), crit("1.2")], [crit("1.1"), crit("1.3")])
    assert [c.number for c in d.added] == ["1.3"]
    assert [c.number for c in d.removed] == ["1.2"]
    assert d.unchanged == 1


def test_a_criterion_inserted_before_others_shows_them_renumbered() -> None:
    old = [crit("3.1", title="Reporting"), crit("3.2", title="Disclosure")]
    new = [crit("3.1", title="Entity overview"),
           crit("3.2", title="Reporting", requirement=old[0].requirement),
           crit("3.3", title="Disclosure", requirement=old[1].requirement)]
    d = diff_criteria(old, new)
    assert [(r.old.number, r.new.number, r.reworded) for r in d.renumbered] == [
        ("3.1", "3.2", False), ("3.2", "3.3", False)]
    assert [c.number for c in d.added] == ["3.1"]
    assert d.removed == []
    assert d.reworded == []


def test_renumbered_and_retitled_is_found_by_its_requirement() -> None:
    old = [crit("4.1", title="Old name", requirement="Keep records of scrap.")]
    new = [crit("4.2", title="New name", requirement="Keep records of scrap.")]
    d = diff_criteria(old, new)
    assert [(r.old.number, r.new.number) for r in d.renumbered] == [("4.1", "4.2")]
    assert d.renumbered[0].reworded  # the title changed
    assert not d.added and not d.removed


def test_reworded_requirement_guidance_or_parts() -> None:
    old = [crit("2.4"), crit("2.5"), crit("2.6", parts=(Part("a", "x"),))]
    new = [crit("2.4", requirement="Stronger."), crit("2.5", guidance="More help."),
           crit("2.6", parts=(Part("a", "x"), Part("b", "y")))]
    d = diff_criteria(old, new)
    assert [c.new.number for c in d.reworded] == ["2.4", "2.5", "2.6"]
    assert not d.added and not d.removed and not d.renumbered
    assert d.unchanged == 0


def test_a_retitled_criterion_keeping_its_number_and_text_is_reworded_not_renumbered() -> None:
    d = diff_criteria([crit("3.1", title="Old title", requirement="Same text.")],
                      [crit("3.1", title="New title", requirement="Same text.")])
    assert d.renumbered == []
    assert [(c.old.title, c.new.title) for c in d.reworded] == [("Old title", "New title")]
    assert not d.added and not d.removed


def test_a_criterion_replaced_under_its_number_is_removed_and_added() -> None:
    d = diff_criteria([crit("5.3", title="GHG targets", requirement="Set targets.")],
                      [crit("5.3", title="GHG pathway", requirement="Follow a pathway.")])
    assert [c.title for c in d.added] == ["GHG pathway"]
    assert [c.title for c in d.removed] == ["GHG targets"]


def test_applicability_changes_of_activities_and_member_classes() -> None:
    old = [crit("2.3", activities={"smelting"}), crit("2.4"), crit("2.5")]
    new = [crit("2.3", activities={"smelting", "bauxite_development"}),
           crit("2.4", classes={PT}), crit("2.5")]
    d = diff_criteria(old, new)
    assert [c.new.number for c in d.applicability_changed] == ["2.3", "2.4"]
    assert d.reworded == []
    assert d.unchanged == 1


def test_threshold_changes() -> None:
    old_t = Threshold("smelter_max", Decimal("8.0"), "t CO2e/t Al", applies_from=date(2020, 1, 1))
    new_t = Threshold("smelter_max", Decimal("11.0"), "t CO2e/t Al",
                      applies_from=date(2020, 1, 1))
    d = diff_criteria([crit("5.2", thresholds=(old_t,))], [crit("5.2", thresholds=(new_t,))])
    assert [(c.old.thresholds[0].value, c.new.thresholds[0].value)
            for c in d.thresholds_changed] == [(Decimal("8.0"), Decimal("11.0"))]
    assert d.reworded == []


def test_a_renumbered_criterion_with_new_thresholds_reports_them() -> None:
    t1 = Threshold("k", Decimal("1"), "u")
    t2 = Threshold("k", Decimal("2"), "u")
    d = diff_criteria([crit("3.1", title="T", thresholds=(t1,))],
                      [crit("3.2", title="T", thresholds=(t2,))])
    assert [(r.old.number, r.new.number) for r in d.renumbered] == [("3.1", "3.2")]
    assert [(c.old.number, c.new.number) for c in d.thresholds_changed] == [("3.1", "3.2")]


def test_criteria_sharing_a_title_are_each_paired() -> None:
    old = [crit("1.1", title="Monitoring", requirement="Monitor air."),
           crit("2.1", title="Monitoring", requirement="Monitor water.")]
    new = [crit("1.2", title="Monitoring", requirement="Monitor air quality."),
           crit("2.2", title="Monitoring", requirement="Monitor water quality.")]
    d = diff_criteria(old, new)
    assert [(r.old.number, r.new.number, r.reworded) for r in d.renumbered] == [
        ("1.1", "1.2", True), ("2.1", "2.2", True)]
    assert not d.added and not d.removed


words = st.sampled_from(["Policy", "Monitoring", "Reporting", "Water", "Waste"])


@st.composite
def versions(draw: st.DrawFn) -> list[Criterion]:
    numbers = draw(st.lists(st.tuples(st.integers(1, 4), st.integers(1, 6)), unique=True,
                            max_size=10))
    return [crit(f"{a}.{b}", title=draw(words),
                 requirement=draw(st.sampled_from(["Do A.", "Do B.", "Do C.", "Do D."])),
                 activities=draw(st.none() | st.just({"smelting"})))
            for a, b in numbers]


@settings(deadline=None)  # no timing assertions: shared CI machines vary
@given(versions(), versions())
def test_reversing_a_diff_swaps_added_and_removed(old: list[Criterion],
                                                  new: list[Criterion]) -> None:
    forward, backward = diff_criteria(old, new), diff_criteria(new, old)
    assert [c.number for c in forward.added] == [c.number for c in backward.removed]
    assert [c.number for c in forward.removed] == [c.number for c in backward.added]
    assert sorted((r.old.number, r.new.number) for r in forward.renumbered) == sorted(
        (r.new.number, r.old.number) for r in backward.renumbered)
    assert forward.unchanged == backward.unchanged


@settings(deadline=None)  # no timing assertions: shared CI machines vary
@given(versions())
def test_every_criterion_is_accounted_for_once(old: list[Criterion]) -> None:
    new = [crit(c.number, title=c.title + " v2", requirement=c.requirement) for c in old[::2]]
    d = diff_criteria(old, new)
    paired_old = ([c.old.number for c in d.reworded] + [r.old.number for r in d.renumbered])
    unchanged_or_changed = len(paired_old) + d.unchanged
    assert unchanged_or_changed + len(d.removed) == len(old)
    assert unchanged_or_changed + len(d.added) == len(new)


@settings(deadline=None)  # no timing assertions: shared CI machines vary
@given(st.lists(st.integers(1, 8), unique=True, min_size=1, max_size=8), st.data())
def test_renumbering_unchanged_text_is_renumbered_not_added_and_removed(
        minors: list[int], data: st.DataObject) -> None:
    old = [crit(f"3.{m}", title=f"Criterion about topic {m}",
                requirement=f"Requirement text {m}.") for m in minors]
    shift = data.draw(st.integers(1, 5))
    new = [crit(f"3.{m + shift}", title=c.title, requirement=c.requirement)
           for m, c in zip(minors, old, strict=True)]
    d = diff_criteria(old, new)
    assert not d.added and not d.removed and not d.reworded
    assert sorted((r.old.number, r.new.number) for r in d.renumbered) == sorted(
        (f"3.{m}", f"3.{m + shift}") for m in minors)
    assert all(not r.reworded for r in d.renumbered)


# --- the revision state machine ---------------------------------------------------------

S = RevisionStatus
ALLOWED = {
    (S.DRAFT, S.CONSULTATION), (S.DRAFT, S.VOTE), (S.DRAFT, S.WITHDRAWN),
    (S.CONSULTATION, S.DRAFT), (S.CONSULTATION, S.WITHDRAWN),
    (S.VOTE, S.APPROVED), (S.VOTE, S.DRAFT), (S.VOTE, S.WITHDRAWN),
    (S.APPROVED, S.PUBLISHED), (S.APPROVED, S.WITHDRAWN),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(S, S)),
                         ids=lambda s: s.value)
def test_transition_table(current: RevisionStatus, target: RevisionStatus) -> None:
    if (current, target) in ALLOWED:
        check_transition(current, target, closed_rounds=1)
    else:
        with pytest.raises(TransitionRefused, match=f"{current.value} cannot move to "
                                                    f"{target.value}"):
            check_transition(current, target, closed_rounds=1)


def test_published_and_withdrawn_are_terminal() -> None:
    for terminal in (S.PUBLISHED, S.WITHDRAWN):
        for target in S:
            with pytest.raises(TransitionRefused):
                check_transition(terminal, target, closed_rounds=5)


def test_a_round_cannot_close_with_unanswered_comments() -> None:
    with pytest.raises(TransitionRefused, match="3 comment"):
        check_transition(S.CONSULTATION, S.DRAFT, unanswered_comments=3)
    check_transition(S.CONSULTATION, S.DRAFT, unanswered_comments=0)


def test_unanswered_comments_do_not_block_withdrawal() -> None:
    check_transition(S.CONSULTATION, S.WITHDRAWN, unanswered_comments=3)


def test_a_vote_needs_a_closed_round() -> None:
    with pytest.raises(TransitionRefused, match="consultation round"):
        check_transition(S.DRAFT, S.VOTE, closed_rounds=0)
    check_transition(S.DRAFT, S.VOTE, closed_rounds=1)


# --- consultation rounds ----------------------------------------------------------------


def test_minimum_round_days() -> None:
    assert minimum_round_days(1) == 60
    assert [minimum_round_days(n) for n in (2, 3, 7)] == [30, 30, 30]
    assert minimum_round_days(1, first_days=90) == 90


@pytest.mark.parametrize(("round_number", "days"), [(1, 60), (2, 30), (3, 30)])
def test_round_length_boundary(round_number: int, days: int) -> None:
    opens = date(2026, 1, 1)
    check_round_dates(round_number, opens, opens + timedelta(days=days))
    check_round_dates(round_number, opens, opens + timedelta(days=days + 100))
    short = opens + timedelta(days=days - 1)
    with pytest.raises(ValueError, match=str(opens + timedelta(days=days))):
        check_round_dates(round_number, opens, short)


def test_a_round_closing_before_it_opens_is_refused() -> None:
    with pytest.raises(ValueError):
        check_round_dates(2, date(2026, 3, 1), date(2026, 2, 1))


def test_round_lengths_come_from_settings() -> None:
    opens = date(2026, 1, 1)
    check_round_dates(1, opens, opens + timedelta(days=10), first_days=10)
    with pytest.raises(ValueError, match="at least 45 days"):
        check_round_dates(2, opens, opens + timedelta(days=44), later_days=45)


def test_round_accepts_comments_on_its_days_inclusive() -> None:
    opens, closes = date(2026, 1, 1), date(2026, 3, 2)
    assert not round_accepts_comments(opens, closes, False, date(2025, 12, 31))
    assert round_accepts_comments(opens, closes, False, opens)
    assert round_accepts_comments(opens, closes, False, date(2026, 2, 1))
    assert round_accepts_comments(opens, closes, False, closes)
    assert not round_accepts_comments(opens, closes, False, date(2026, 3, 3))
    assert not round_accepts_comments(opens, closes, True, date(2026, 2, 1))


def test_comment_flood_control() -> None:
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert comments_allowed([], now, per_hour=2)
    assert comments_allowed([now - timedelta(minutes=10)], now, per_hour=2)
    assert not comments_allowed([now - timedelta(minutes=10), now - timedelta(minutes=59)],
                                now, per_hour=2)
    assert comments_allowed([now - timedelta(minutes=10), now - timedelta(hours=1)],
                            now, per_hour=2)
    assert comments_allowed([now - timedelta(hours=3)] * 50, now, per_hour=1)


# --- votes ------------------------------------------------------------------------------

UP = Chamber.INDUSTRY_UPSTREAM.value
DOWN = Chamber.INDUSTRY_DOWNSTREAM.value
CIVIL = Chamber.CIVIL_SOCIETY.value
INDIGENOUS = Chamber.INDIGENOUS_PEOPLES.value


def ballots(yes: int = 0, no: int = 0, abstain: int = 0,
            chamber: str = UP) -> list[tuple[str, Choice]]:
    return ([(chamber, Choice.YES)] * yes + [(chamber, Choice.NO)] * no
            + [(chamber, Choice.ABSTAIN)] * abstain)


def test_the_worked_check_from_the_schemes_history() -> None:
    result = tally(ballots(yes=26, no=2), eligible=28)
    assert (result.yes, result.no, result.abstain, result.cast) == (26, 2, 0, 28)
    assert result.quorum_met
    assert result.passed


def test_exactly_two_thirds_passes() -> None:
    assert tally(ballots(yes=2, no=1), eligible=3).passed
    assert tally(ballots(yes=20, no=10), eligible=30).passed


def test_just_under_two_thirds_fails() -> None:
    result = tally(ballots(yes=3, no=2), eligible=5)
    assert result.quorum_met
    assert not result.passed
    assert not tally(ballots(yes=19, no=10), eligible=29).passed


def test_abstentions_are_not_votes_cast() -> None:
    result = tally(ballots(yes=2, no=1, abstain=7), eligible=10)
    assert result.cast == 3
    assert result.participated == 10
    assert result.passed  # 2 of 3 cast, abstentions do not dilute the yes share
    assert not tally(ballots(yes=1, no=1, abstain=8), eligible=10).passed


def test_abstentions_count_for_the_quorum() -> None:
    assert tally(ballots(yes=1, abstain=4), eligible=10).quorum_met
    assert tally(ballots(yes=1, abstain=4), eligible=10).passed
    assert not tally(ballots(yes=1, abstain=3), eligible=10).quorum_met
    assert not tally(ballots(yes=1, abstain=3), eligible=10).passed


def test_quorum_is_exactly_half() -> None:
    assert tally(ballots(yes=2), eligible=4).quorum_met
    assert tally(ballots(yes=2), eligible=4).passed
    assert not tally(ballots(yes=2), eligible=5).quorum_met
    assert not tally(ballots(yes=2), eligible=5).passed
    assert tally(ballots(yes=3), eligible=5).passed


def test_zero_ballots_fail() -> None:
    for eligible in (0, 1, 5):
        result = tally([], eligible=eligible)
        assert not result.passed
        assert not result.quorum_met


def test_only_abstentions_fail() -> None:
    result = tally(ballots(abstain=4), eligible=4)
    assert result.quorum_met
    assert not result.passed


def test_more_ballots_than_eligible_raises() -> None:
    with pytest.raises(ValueError, match="more ballots"):
        tally(ballots(yes=3), eligible=2)
    with pytest.raises(ValueError):
        tally([], eligible=-1)


def test_counts_by_chamber() -> None:
    result = tally(ballots(yes=2, chamber=UP) + ballots(yes=1, no=1, chamber=DOWN)
                   + ballots(no=1, abstain=1, chamber=CIVIL), eligible=10)
    assert set(result.by_chamber) == {c.value for c in Chamber}
    assert (result.by_chamber[UP].yes, result.by_chamber[UP].no) == (2, 0)
    assert (result.by_chamber[DOWN].yes, result.by_chamber[DOWN].no) == (1, 1)
    assert (result.by_chamber[CIVIL].no, result.by_chamber[CIVIL].abstain) == (1, 1)
    assert result.by_chamber[INDIGENOUS] == type(result.by_chamber[INDIGENOUS])(0, 0, 0)
    assert (result.yes, result.no, result.abstain) == (3, 2, 1)


def test_the_rule_is_data() -> None:
    majority = VoteRule(pass_share=Fraction(1, 2), quorum_share=Fraction(3, 4))
    assert tally(ballots(yes=3, no=3), eligible=8, rule=majority).passed
    assert not tally(ballots(yes=3, no=2), eligible=8, rule=majority).passed  # 5/8 < 3/4


def test_choices_read_back_as_text_count_as_what_they_say() -> None:
    result = tally([(UP, "yes"), (DOWN, "no"), (CIVIL, "yes")], eligible=3)
    assert (result.yes, result.no, result.abstain) == (2, 1, 0)
    assert result.passed
    with pytest.raises(ValueError):
        tally([(UP, "maybe")], eligible=3)


@settings(deadline=None)  # no timing assertions: shared CI machines vary
@given(st.lists(st.tuples(st.sampled_from([c.value for c in Chamber]),
                          st.sampled_from(list(Choice))), max_size=40),
       st.integers(0, 20))
def test_passing_implies_quorum_and_two_thirds(votes: list[tuple[str, Choice]],
                                               spare: int) -> None:
    result = tally(votes, eligible=len(votes) + spare)
    if result.passed:
        assert result.quorum_met
        assert result.yes * 3 >= 2 * (result.yes + result.no)
        assert result.yes > 0
    assert result.passed == (result.quorum_met and result.cast > 0
                             and result.yes * 3 >= 2 * result.cast)
    assert result.quorum_met == (2 * result.participated >= result.eligible > 0)
    assert sum(c.yes for c in result.by_chamber.values()) == result.yes
    assert sum(c.no for c in result.by_chamber.values()) == result.no
    assert sum(c.abstain for c in result.by_chamber.values()) == result.abstain


@pytest.mark.parametrize(("text", "value"), [("2/3", Fraction(2, 3)), ("0.5", Fraction(1, 2)),
                                             (" 1/2 ", Fraction(1, 2)), ("1", Fraction(1))])
def test_parse_fraction(text: str, value: Fraction) -> None:
    assert parse_fraction(text) == value


@pytest.mark.parametrize("text", ["0", "3/2", "-1/2", "abc", "", "1/0", "2"])
def test_parse_fraction_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_fraction(text)


# --- which version a new audit may use --------------------------------------------------


def test_usable_for_new_audit() -> None:
    effective = date(2022, 5, 19)
    assert not usable_for_new_audit(effective, None, date(2022, 5, 18))
    assert usable_for_new_audit(effective, None, effective)
    assert usable_for_new_audit(effective, None, date(2040, 1, 1))
    transition = date(2023, 6, 1)
    assert usable_for_new_audit(effective, transition, date(2023, 5, 31))
    assert not usable_for_new_audit(effective, transition, transition)
    assert not usable_for_new_audit(effective, transition, date(2024, 1, 1))


def test_criterion_sort_key_handles_parts() -> None:
    numbers = ["10.1", "9.1.b", "9.1", "9.1.a", "1.10", "1.2"]
    assert sorted(numbers, key=criterion_sort_key) == [
        "1.2", "1.10", "9.1", "9.1.a", "9.1.b", "10.1"]


def test_activity_vocabulary_matches_the_registry() -> None:
    assert frozenset(a.value for a in Activity) == ALL_ACTIVITIES
    assert frozenset({PT, IU}) == CERTIFYING


# --- look-ups in a package --------------------------------------------------------------

GHG = Threshold(key="ghg_max", value=Decimal("8.0"), unit="t CO2e/t Al",
                applies_from=date(2025, 1, 1))
WATER = Threshold(key="water_max", value=Decimal("12"), unit="m3/t")


def _package() -> StandardPackage:
    governance = Principle(number=1, title="Business integrity", group=PrincipleGroup.GOVERNANCE,
                           intent="", criteria=(crit("1.1"), crit("1.2")))
    environment = Principle(number=2, title="Emissions", group=PrincipleGroup.ENVIRONMENT,
                            intent="", criteria=(crit("2.1", thresholds=(GHG,)),
                                                 crit("2.2"),
                                                 crit("2.3", thresholds=(WATER,))))
    return StandardPackage(
        urn="urn:stewardship:standard:mini", version=1, kind=StandardKind.PERFORMANCE,
        title="Mini", provider="Stewardship", copyright="", illustrative=True,
        published_on=date(2024, 6, 1), effective_on=date(2025, 1, 1), transition_ends_on=None,
        principles=(governance, environment))


def test_a_package_lists_its_criteria_in_principle_order() -> None:
    assert [c.number for c in _package().criteria()] == ["1.1", "1.2", "2.1", "2.2", "2.3"]


def test_a_criterion_is_found_by_its_number_or_not_at_all() -> None:
    package = _package()
    found = package.criterion("2.2")
    assert found is not None and found.title == "Title of 2.2"
    assert package.criterion("3.1") is None
    assert package.criterion("2.20") is None


def test_a_threshold_is_found_in_whichever_criterion_holds_it() -> None:
    package = _package()
    # water_max sits on the last criterion: the search passes criteria without thresholds
    # and criteria whose thresholds are others
    assert package.threshold("water_max") is WATER
    assert package.threshold("ghg_max") is GHG
    assert package.threshold("energy_max") is None


# --- seats and closing times ------------------------------------------------------------


def test_industry_seats_need_a_users_organisation_and_other_chambers_do_not() -> None:
    from stewardship.standards.rules import Chamber, check_seat_holder

    for chamber in (Chamber.INDUSTRY_UPSTREAM, Chamber.INDUSTRY_DOWNSTREAM):
        check_seat_holder(chamber, has_account=True, has_organization=True)
        with pytest.raises(ValueError, match="member organisation"):
            check_seat_holder(chamber, has_account=False, has_organization=False)
        with pytest.raises(ValueError):
            check_seat_holder(chamber, has_account=True, has_organization=False)
    for chamber in (Chamber.CIVIL_SOCIETY, Chamber.INDIGENOUS_PEOPLES):
        check_seat_holder(chamber, has_account=False, has_organization=False)


def test_a_seat_counts_within_its_term_until_the_day_it_ends_early() -> None:
    from datetime import date

    from stewardship.standards.rules import check_seat_end, last_serving_day, seat_serves

    start, end = date(2030, 1, 1), date(2031, 12, 31)
    assert seat_serves(start, end, None, start) and seat_serves(start, end, None, end)
    assert not seat_serves(start, end, None, date(2029, 12, 31))
    assert not seat_serves(start, end, None, date(2032, 1, 1))
    ended = date(2030, 6, 1)
    assert seat_serves(start, end, ended, date(2030, 5, 31))
    assert not seat_serves(start, end, ended, ended)
    assert last_serving_day(end, None) == end
    assert last_serving_day(end, ended) == date(2030, 5, 31)
    check_seat_end(start, end, start)
    check_seat_end(start, end, end)
    for outside in (date(2029, 12, 31), date(2032, 1, 1)):
        with pytest.raises(ValueError, match="can end from 2030-01-01"):
            check_seat_end(start, end, outside)


def test_a_vote_closes_at_midnight_utc_after_its_closing_day() -> None:
    from datetime import UTC, date, datetime

    from stewardship.standards.rules import closing_instant, counting_day, vote_is_due

    day = date(2030, 12, 31)
    assert closing_instant(day) == datetime(2031, 1, 1, tzinfo=UTC)
    assert not vote_is_due(day, day) and vote_is_due(day, date(2031, 1, 1))
    assert counting_day(day, date(2031, 1, 3)) == day
    assert counting_day(day, date(2030, 12, 20)) == date(2030, 12, 20)


# --- whole messages, exact values and boundaries (each kills a surviving mutant) --------


def test_unknown_activities_are_all_named_in_order() -> None:
    with pytest.raises(ValueError) as refused:
        applicable_criteria([crit("1.1")], ["weaving", "smelting", "pottery"], PT)
    assert str(refused.value) == "unknown activities: pottery, weaving"


def test_applicability_is_a_boolean_and_every_shared_activity_is_named() -> None:
    criterion = crit("5.2", activities={"smelting", "casthouse", "recycling"})
    [row] = applicable_criteria([criterion], ["smelting", "casthouse", "semi_fabrication"], PT)
    assert row.applicable is True
    assert row.reason == "applies to casthouse, smelting"
    [row] = applicable_criteria([criterion], ["bauxite_mining"], PT)
    assert row.applicable is False


def test_an_applicability_change_keeps_the_old_criterion_and_is_not_unchanged() -> None:
    old_c = crit("2.3", activities={"smelting"})
    new_c = crit("2.3", activities={"casthouse"})
    d = diff_criteria([old_c], [new_c])
    assert [(c.old, c.new) for c in d.applicability_changed] == [(old_c, new_c)]
    assert d.unchanged == 0
    assert not d.is_empty


def test_a_renumbered_applicability_change_keeps_the_old_criterion() -> None:
    old_c = crit("3.1", title="T", activities={"smelting"})
    new_c = crit("3.2", title="T", activities={"casthouse"})
    d = diff_criteria([old_c], [new_c])
    assert [(c.old, c.new) for c in d.applicability_changed] == [(old_c, new_c)]


def test_threshold_changes_are_listed_in_numeric_order() -> None:
    t1, t2 = Threshold("k", Decimal("1"), "u"), Threshold("k", Decimal("2"), "u")
    old = [crit("10.1", thresholds=(t1,)), crit("9.1", thresholds=(t1,)),
           crit("2.1", thresholds=(t1,))]
    new = [crit(c.number, thresholds=(t2,)) for c in old]
    d = diff_criteria(old, new)
    assert [c.new.number for c in d.thresholds_changed] == ["2.1", "9.1", "10.1"]
    assert d.unchanged == 0


def test_a_vote_without_rounds_named_is_refused_in_full_words() -> None:
    # The default is no closed round: a caller that says nothing cannot open a vote.
    with pytest.raises(TransitionRefused) as refused:
        check_transition(S.DRAFT, S.VOTE)
    assert str(refused.value) == ("a revision goes to a vote only after at least one "
                                  "consultation round")


def test_tally_refusals_in_full_words() -> None:
    with pytest.raises(ValueError) as refused:
        tally([], eligible=-1)
    assert str(refused.value) == "eligible must not be negative"
    with pytest.raises(ValueError) as refused:
        tally(ballots(yes=3), eligible=2)
    assert str(refused.value) == "more ballots than eligible voters"


@pytest.mark.parametrize("cast", [ballots(abstain=3), ballots(no=3), ballots(yes=1, no=2)])
def test_every_kind_of_ballot_counts_towards_too_many(cast: list[tuple[str, Choice]]) -> None:
    with pytest.raises(ValueError, match="more ballots than eligible voters"):
        tally(cast, eligible=2)
    assert tally(cast, eligible=3).participated == 3


def test_a_chamber_outside_the_four_is_counted_from_zero() -> None:
    result = tally([("observers", Choice.YES), ("observers", Choice.NO),
                    ("observers", Choice.ABSTAIN), ("observers", Choice.YES)], eligible=4)
    assert result.by_chamber["observers"] == type(result.by_chamber[UP])(2, 1, 1)
    assert (result.yes, result.no, result.abstain) == (2, 1, 1)


def test_parse_fraction_refusals_in_full_words() -> None:
    with pytest.raises(ValueError) as refused:
        parse_fraction("1/0")
    assert str(refused.value) == "'1/0' divides by zero"
    for text in ("0", "3/2"):
        with pytest.raises(ValueError) as refused:
            parse_fraction(text)
        assert str(refused.value) == "a share must be above 0 and at most 1"
