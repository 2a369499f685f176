"""Pure rules of the registry: ids, cleaning, matching, obligations, throttling."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from iso3166 import countries_by_alpha2

from stewardship.registry.rules import (
    CHECK_ALPHABET,
    ID_ALPHABET,
    SLUG_MAX_LENGTH,
    SLUG_PATTERN,
    Activity,
    FacilityFingerprint,
    FacilityIdError,
    MembershipClass,
    OrganizationStatus,
    Standing,
    accreditation_covers,
    all_countries,
    certification_deadline,
    clean_address,
    clean_name,
    country_name,
    find_duplicates,
    good_standing,
    login_locked_until,
    may_transition,
    mod37_2_check,
    new_facility_id,
    normalize_country,
    numbered_slug,
    parse_coordinate,
    parse_facility_id,
    score_pair,
    slugify,
    validate_coordinates,
)

# --- facility ids -----------------------------------------------------------------------

SAMPLE_ID = new_facility_id("NO", 2024, "FT1F3Y")
COUNTRIES = sorted(countries_by_alpha2)


def _substitutions(value: str) -> list[str]:
    return [value[:i] + c + value[i + 1:]
            for i in range(len(value)) for c in CHECK_ALPHABET if c != value[i]]


def _adjacent_swaps(value: str) -> list[str]:
    return [value[:i] + value[i + 1] + value[i] + value[i + 2:]
            for i in range(len(value) - 1) if value[i] != value[i + 1]]


def _accepted(candidate: str) -> bool:
    try:
        parse_facility_id(candidate)
    except FacilityIdError:
        return False
    return True


def test_new_id_has_the_documented_shape_and_parses() -> None:
    assert len(SAMPLE_ID) == 13
    assert SAMPLE_ID.startswith("NO2024FT1F3Y")
    assert parse_facility_id(SAMPLE_ID) == SAMPLE_ID


def test_random_ids_use_the_look_alike_free_alphabet() -> None:
    for _ in range(50):
        value = new_facility_id("de", 2031)
        assert value[:6] == "DE2031"
        assert all(c in ID_ALPHABET for c in value[6:12])
        assert value[12] in CHECK_ALPHABET
        assert parse_facility_id(value) == value


def test_every_single_character_substitution_is_caught_exhaustively() -> None:
    wrong = _substitutions(SAMPLE_ID)
    assert len(wrong) == 13 * 35
    assert [w for w in wrong if _accepted(w)] == []


def test_every_adjacent_transposition_is_caught_exhaustively() -> None:
    swaps = _adjacent_swaps(SAMPLE_ID)
    assert len(swaps) >= 10
    assert [s for s in swaps if _accepted(s)] == []


def test_the_transposition_the_old_hybrid_check_missed_is_caught() -> None:
    # MOD 37-36 accepted CM2045D9H0XNP for CM2054D9H0XNP; the year digits were swapped.
    original = new_facility_id("CM", 2054, "D9H0XN")
    swapped = original[:4] + "45" + original[6:]
    assert not _accepted(swapped)


# Known answers for ISO/IEC 7064 MOD 37-2, worked by hand so that a check computed with
# another radix, modulus or final step cannot pass. Characters take their index in
# 0-9A-Z (A=10 ... Z=35); the check symbol of value 36 is '*'. Each step is
# p = (p + value) x 2 mod 37 from p = 0; the check is the value c with (p + c) = 1 mod 37.
#
#   G123498654321 (the standard's own example), p after each character:
#     G=16: 32   1: 66 mod 37 = 29   2: 62 -> 25   3: 56 -> 19   4: 46 -> 9   9: 36
#     8: 88 -> 14   6: 40 -> 3   5: 16   4: 40 -> 3   3: 12   2: 28   1: 58 -> 21
#     check (1 - 21) mod 37 = 17 = 'H'
#   NO2024AB12CD (a facility body):
#     N=23: 46 -> 9   O=24: 66 -> 29   2: 62 -> 25   0: 50 -> 13   2: 30   4: 68 -> 31
#     A=10: 82 -> 8   B=11: 38 -> 1   1: 4   2: 12   C=12: 48 -> 11   D=13: 48 -> 11
#     check (1 - 11) mod 37 = 27 = 'R'
#   A: (0 + 10) x 2 = 20, check (1 - 20) mod 37 = 18 = 'I'
#   Z: (0 + 35) x 2 = 70 -> 33, check (1 - 33) mod 37 = 5 = '5'
#   1: (0 + 1) x 2 = 2, check (1 - 2) mod 37 = 36 = '*'
#   0: p stays 0, check 1 = '1' (the empty body too: nothing moves p from 0)
@pytest.mark.parametrize(("body", "check"), [
    ("G123498654321", "H"), ("NO2024AB12CD", "R"), ("A", "I"), ("Z", "5"), ("1", "*"),
    ("0", "1"), ("", "1"),
])
def test_mod37_2_known_answers(body: str, check: str) -> None:
    assert mod37_2_check(body) == check


def test_facility_ids_carry_the_known_check_character() -> None:
    assert new_facility_id("no", 2024, "AB12CD") == "NO2024AB12CDR"
    assert parse_facility_id("no-2024-ab12cd-r") == "NO2024AB12CDR"
    with pytest.raises(FacilityIdError, match="wrong check character"):
        parse_facility_id("NO2024AB12CDS")


facility_ids = st.builds(
    new_facility_id,
    st.sampled_from(COUNTRIES),
    st.integers(min_value=1900, max_value=9999),
)


@settings(deadline=None)  # 13 x 36 parses per example: slow under coverage tracing
@given(facility_ids)
def test_property_any_id_parses_and_no_single_error_or_swap_slips_through(value: str) -> None:
    assert parse_facility_id(value) == value
    assert not any(_accepted(w) for w in _substitutions(value))
    assert not any(_accepted(s) for s in _adjacent_swaps(value))


@given(st.text(alphabet=ID_ALPHABET, min_size=6, max_size=6))
def test_property_an_explicit_random_part_gives_a_valid_id_or_says_why_not(rand: str) -> None:
    if mod37_2_check(f"NO2024{rand}") == "*":
        with pytest.raises(ValueError, match="no issuable check character"):
            new_facility_id("NO", 2024, rand)
    else:
        assert parse_facility_id(new_facility_id("NO", 2024, rand)).endswith(rand, 0, 12)


@pytest.mark.parametrize("written", [
    SAMPLE_ID.lower(),
    f"{SAMPLE_ID[:2]}-{SAMPLE_ID[2:6]}-{SAMPLE_ID[6:]}",
    f" {SAMPLE_ID[:6]} {SAMPLE_ID[6:]} ",
    f"{SAMPLE_ID[:6].lower()}\t{SAMPLE_ID[6:]}",
])
def test_parse_normalises_case_hyphens_and_spaces(written: str) -> None:
    assert parse_facility_id(written) == SAMPLE_ID


@pytest.mark.parametrize(("raw", "says"), [
    ("", "is not a facility id"),
    (SAMPLE_ID[:-1], "is not a facility id"),
    (SAMPLE_ID + "7", "is not a facility id"),
    ("XX" + SAMPLE_ID[2:], "ISO 3166-1 country"),
    ("N0" + SAMPLE_ID[2:], "is not a facility id"),
    (SAMPLE_ID[:6] + "I" + SAMPLE_ID[7:], "is not a facility id"),  # I is not issued
    (SAMPLE_ID[:12] + "*", "is not a facility id"),
    ("NO\u0662\u0660\u0662\u0664" + SAMPLE_ID[6:], "is not a facility id"),  # Arabic-Indic 2024
])
def test_parse_rejects_malformed_ids_with_a_reason(raw: str, says: str) -> None:
    with pytest.raises(FacilityIdError, match=says):
        parse_facility_id(raw)


def test_wrong_check_character_is_named_as_such() -> None:
    other = next(c for c in CHECK_ALPHABET if c != SAMPLE_ID[-1])
    with pytest.raises(FacilityIdError, match="wrong check character"):
        parse_facility_id(SAMPLE_ID[:-1] + other)


@pytest.mark.parametrize(("country", "year", "rand"), [
    ("XX", 2024, None), ("NOR", 2024, None), ("NO", 1899, None), ("NO", 10000, None),
    ("NO", 2024, "ABC"), ("NO", 2024, "ABCDEI"),
])
def test_new_id_refuses_bad_parts(country: str, year: int, rand: str | None) -> None:
    with pytest.raises(ValueError):
        new_facility_id(country, year, rand)


# --- countries and coordinates ----------------------------------------------------------


@pytest.mark.parametrize(("raw", "code"), [("no", "NO"), (" de ", "DE"), ("Gb", "GB")])
def test_normalize_country(raw: str, code: str) -> None:
    assert normalize_country(raw) == code


@pytest.mark.parametrize("raw", ["", "X", "XX", "UK", "NOR", "N0", "  "])
def test_normalize_country_refuses_non_iso_codes(raw: str) -> None:
    with pytest.raises(ValueError, match="ISO 3166-1"):
        normalize_country(raw)


@pytest.mark.parametrize(("raw", "axis", "value"), [
    ("61.4519", "latitude", Decimal("61.451900")),
    (" -90 ", "latitude", Decimal("-90.000000")),
    ("90", "latitude", Decimal("90.000000")),
    ("180", "longitude", Decimal("180.000000")),
    ("-179.9999999", "longitude", Decimal("-180.000000")),
    ("5.12345649", "longitude", Decimal("5.123456")),
    (Decimal("5.8570"), "longitude", Decimal("5.857000")),
    (12.5, "latitude", Decimal("12.500000")),
    (None, "latitude", None),
    ("  ", "longitude", None),
])
def test_parse_coordinate_keeps_six_decimals(raw: object, axis: str,
                                             value: Decimal | None) -> None:
    parsed = parse_coordinate(raw, axis=axis)  # type: ignore[arg-type]
    assert parsed == value
    if parsed is not None:
        assert parsed.as_tuple().exponent == -6


@pytest.mark.parametrize(("raw", "axis", "says"), [
    ("90.000001", "latitude", "between -90 and 90"),
    ("-91", "latitude", "between -90 and 90"),
    ("100", "latitude", "between -90 and 90"),
    ("180.5", "longitude", "between -180 and 180"),
    ("NaN", "latitude", "between"),
    ("Infinity", "longitude", "between"),
    ("1e400", "latitude", "between"),
    ("north", "latitude", "decimal number"),
    ("12,5", "longitude", "decimal number"),
])
def test_parse_coordinate_refuses_out_of_range_and_junk(raw: str, axis: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_coordinate(raw, axis=axis)


# --- cleaning ---------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "clean"), [
    ("Fjordal Aluminium AS", "fjordal aluminium"),
    ("Rheinmetall Walzwerk GmbH & Co. KG", "rheinmetall walzwerk"),
    ("The Aluminum Company, Inc.", "aluminum"),
    ("Alumínio Brasil S.A.", "aluminio brasil"),
    ("Alumínio Brasil SA", "aluminio brasil"),
    ("Estrusi Italia S.p.A.", "estrusi italia"),
    ("Sør-Norge Aluminium ASA", "sor norge aluminium"),
    ("Straße Metall", "strasse metall"),
    ("Ísal hf. Reyðarfjörður", "isal hf reydarfjordur"),
    ("Łódź Alu", "lodz alu"),
    ("AS", "as"),  # nothing but a suffix: keep it rather than an empty name
    ("Русал Братск", "русал братск"),
    ("中国铝业", "中国铝业"),
])
def test_clean_name(raw: str, clean: str) -> None:
    assert clean_name(raw) == clean


def test_names_in_other_scripts_are_not_all_the_same_empty_name() -> None:
    assert clean_name("中国铝业") != clean_name("云南铝业")
    assert clean_name("中国铝业") != ""


@pytest.mark.parametrize(("raw", "clean"), [
    ("Industrivegen 15, 6800 Førde", "industrivegen 15 6800 forde"),
    ("Hauptstraße 5, Köln", "haupt strasse 5 koln"),
    ("Hauptstr. 5, Köln", "haupt strasse 5 koln"),
    ("Haupt Str. 5, Köln", "haupt strasse 5 koln"),
    ("HAUPTSTRASSE 5 KÖLN", "haupt strasse 5 koln"),
    ("12 Mill Rd., Leeds", "12 mill road leeds"),
    ("1 Park Ave", "1 park avenue"),
    ("", ""),
])
def test_clean_address(raw: str, clean: str) -> None:
    assert clean_address(raw) == clean


# --- duplicate matching -----------------------------------------------------------------


def _fp(key: str, name: str, address: str = "", country: str = "NO") -> FacilityFingerprint:
    return FacilityFingerprint(key, country, clean_name(name), clean_address(address))


def test_exact_match_on_cleaned_fields_scores_100() -> None:
    new = _fp("new", "Fjordal Smelter AS", "Industrivegen 15, 6800 Førde")
    old = _fp("old", "FJORDAL SMELTER", "Industrivegen 15 6800 Forde")
    [match] = find_duplicates(new, [old])
    assert (match.key, match.score, match.exact) == ("old", 100, True)
    assert (match.name_score, match.address_score) == (100, 100)


def test_fuzzy_matches_come_best_first_below_100() -> None:
    new = _fp("new", "Fjordal Smelter", "Industrivegen 15, 6800 Førde")
    close = _fp("close", "Fjordal Smelter Plant", "Industrivegen 15, 6800 Førde")
    closer = _fp("closer", "Fjordal Smelterr", "Industrivegen 15, 6800 Førde")
    exact = _fp("exact", "Fjordal Smelter", "Industrivegen 15, 6800 Førde")
    unrelated = _fp("far", "Nordic Rolling Mill", "Havnegata 2, 3000 Drammen")
    found = find_duplicates(new, [unrelated, close, closer, exact])
    assert found[0].key == "exact"
    assert "far" not in [m.key for m in found]
    scores = [m.score for m in found]
    assert scores == sorted(scores, reverse=True)
    assert all(m.score <= 99 and not m.exact for m in found[1:])
    assert {m.key for m in found} == {"exact", "close", "closer"}


def test_other_countries_and_self_are_excluded() -> None:
    new = _fp("same-key", "Fjordal Smelter", "Industrivegen 15")
    abroad = _fp("abroad", "Fjordal Smelter", "Industrivegen 15", country="SE")
    itself = _fp("same-key", "Fjordal Smelter", "Industrivegen 15")
    assert find_duplicates(new, [abroad, itself]) == []


def test_threshold_is_inclusive_and_limits_results() -> None:
    new = _fp("new", "Fjordal Smelter", "Industrivegen 15")
    near = _fp("near", "Fjordal Smelting Works", "Industrivegen 15")
    [match] = find_duplicates(new, [near], threshold=0)
    assert find_duplicates(new, [near], threshold=match.score) == [match]
    assert find_duplicates(new, [near], threshold=match.score + 1) == []
    many = [_fp(f"k{i:02d}", "Fjordal Smelter", "Industrivegen 15") for i in range(15)]
    found = find_duplicates(new, many, limit=10)
    assert [m.key for m in found] == [f"k{i:02d}" for i in range(10)]


def test_without_addresses_the_name_alone_cannot_reach_a_full_score() -> None:
    new = _fp("new", "Fjordal Smelterr")
    old = _fp("old", "Fjordal Smelter")
    [match] = find_duplicates(new, [old], threshold=0)
    assert match.address_score == 0
    assert match.score < match.name_score


# --- membership obligations -------------------------------------------------------------

CERTIFYING = [MembershipClass.PRODUCTION_TRANSFORMATION, MembershipClass.INDUSTRIAL_USERS]
NON_CERTIFYING = [c for c in MembershipClass if c not in CERTIFYING]


@pytest.mark.parametrize("mclass", CERTIFYING)
def test_deadline_is_two_years_after_joining(mclass: MembershipClass) -> None:
    assert certification_deadline(mclass, date(2024, 1, 15)) == date(2026, 1, 15)
    assert certification_deadline(mclass, date(2024, 2, 29)) == date(2026, 2, 28)
    assert certification_deadline(mclass, date(2023, 12, 31)) == date(2025, 12, 31)
    assert certification_deadline(mclass, None) is None


@pytest.mark.parametrize("mclass", NON_CERTIFYING)
def test_non_certifying_classes_have_no_deadline(mclass: MembershipClass) -> None:
    assert certification_deadline(mclass, date(2024, 1, 15)) is None


@given(st.sampled_from(CERTIFYING), st.dates(min_value=date(1900, 1, 1),
                                             max_value=date(9000, 12, 31)))
def test_property_deadline_is_two_years_on_and_never_before_joining(
        mclass: MembershipClass, joined: date) -> None:
    deadline = certification_deadline(mclass, joined)
    assert deadline is not None
    assert deadline >= joined
    assert deadline.year == joined.year + 2
    if (joined.month, joined.day) == (2, 29):
        assert (deadline.month, deadline.day) == (2, 28)
    else:
        assert (deadline.month, deadline.day) == (joined.month, joined.day)


def test_good_standing() -> None:
    pt = MembershipClass.PRODUCTION_TRANSFORMATION
    joined = date(2024, 1, 15)
    assert good_standing(pt, joined, False, date(2026, 1, 15)) is Standing.WITHIN_DEADLINE
    assert good_standing(pt, joined, False, date(2026, 1, 16)) is Standing.OVERDUE
    assert good_standing(pt, joined, True, date(2030, 1, 1)) is Standing.CERTIFIED
    assert good_standing(pt, None, False, date(2030, 1, 1)) is Standing.NOT_APPLICABLE
    assert (good_standing(MembershipClass.CIVIL_SOCIETY, joined, False, date(2030, 1, 1))
            is Standing.NOT_APPLICABLE)


# --- accreditation ----------------------------------------------------------------------


def _covers(*, on: date = date(2025, 6, 1), expires: date | None = date(2026, 1, 1),
            standard: str = "performance", country: str = "NO",
            needed: tuple[str, ...] = ("smelting",)) -> bool:
    return accreditation_covers(["performance"], ["NO", "DE"], ["smelting", "casthouse"],
                                expires, standard=standard, country=country, needed=needed,
                                on=on)


def test_accreditation_covers_its_scope_until_it_expires() -> None:
    assert _covers()
    assert _covers(needed=("smelting", "casthouse"))
    assert _covers(on=date(2026, 1, 1))
    assert not _covers(on=date(2026, 1, 2))
    assert _covers(expires=None, on=date(2099, 1, 1))


def test_accreditation_does_not_cover_other_standards_countries_or_activities() -> None:
    assert not _covers(standard="chain_of_custody")
    assert not _covers(country="SE")
    assert not _covers(needed=("smelting", "alumina_refining"))


# --- login throttling -------------------------------------------------------------------

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)


def _locked(failures: list[datetime], now: datetime = NOW) -> datetime | None:
    return login_locked_until(failures, now, max_failures=3, window=WINDOW, lockout=LOCKOUT)


def _ago(*minutes: float) -> list[datetime]:
    return [NOW - timedelta(minutes=m) for m in minutes]


def test_under_the_threshold_nothing_is_locked() -> None:
    assert _locked([]) is None
    assert _locked(_ago(1, 2)) is None


def test_at_the_threshold_the_lock_runs_from_the_latest_failure() -> None:
    assert _locked(_ago(5, 3, 1)) == NOW - timedelta(minutes=1) + LOCKOUT


def test_failures_spread_wider_than_the_window_do_not_lock() -> None:
    assert _locked(_ago(20, 10, 1)) is None


def test_the_lock_expires() -> None:
    failures = _ago(5, 4, 3)
    until = _locked(failures)
    assert until is not None
    assert _locked(failures, until - timedelta(seconds=1)) == until
    assert _locked(failures, until) is None
    assert _locked(failures, until + timedelta(hours=1)) is None


# --- membership status ------------------------------------------------------------------

S = OrganizationStatus
ALLOWED = {
    (S.APPLICANT, S.MEMBER), (S.APPLICANT, S.TERMINATED),
    (S.MEMBER, S.SUSPENDED), (S.MEMBER, S.TERMINATED),
    (S.SUSPENDED, S.MEMBER), (S.SUSPENDED, S.TERMINATED),
}


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("target", list(S))
def test_may_transition_table(current: OrganizationStatus, target: OrganizationStatus) -> None:
    assert may_transition(current, target) is ((current, target) in ALLOWED)


def test_name_key_folds_case_accents_spacing_and_punctuation() -> None:
    from stewardship.registry.rules import name_key

    assert name_key("Fjord Alumínium, A.S.") == name_key("  fjord   aluminium as ") == \
        "fjord aluminium as"
    assert name_key("Straße-Metall GmbH") == "strasse metall gmbh"
    assert name_key("Nordic AS") != name_key("Nordic AB")
    assert name_key("中国铝业") == "中国铝业"
    assert name_key("--") == ""


# --- coordinates given together ---------------------------------------------------------


@pytest.mark.parametrize(("latitude", "longitude"), [
    (Decimal("61.451900"), Decimal("5.857000")),
    (None, None),
])
def test_both_coordinates_or_neither_are_accepted(latitude: Decimal | None,
                                                  longitude: Decimal | None) -> None:
    validate_coordinates(latitude, longitude)


@pytest.mark.parametrize(("latitude", "longitude"), [
    (Decimal("61.451900"), None),
    (None, Decimal("5.857000")),
])
def test_one_coordinate_alone_is_refused(latitude: Decimal | None,
                                         longitude: Decimal | None) -> None:
    with pytest.raises(ValueError, match=r"^give both latitude and longitude, or neither$"):
        validate_coordinates(latitude, longitude)


# --- slugs ------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "slug"), [
    ("Fjordal Aluminium AS", "fjordal-aluminium-as"),
    ("Sør-Norge Aluminium ASA", "sor-norge-aluminium-asa"),
    ("  Rheinmetall Walzwerk GmbH & Co. KG  ", "rheinmetall-walzwerk-gmbh-co-kg"),
    ("Straße 42 Metall", "strasse-42-metall"),
    ("Русал Братск", ""),  # no Latin letter or digit: the caller's fallback stands in
    ("中国铝业", ""),
    ("--", ""),
    # 79 letters, a space and one more: cut at 80, the cut leaves no trailing hyphen
    ("a" * 79 + " b", "a" * 79),
    ("x" * 100, "x" * 80),
])
def test_slugify_known_answers(name: str, slug: str) -> None:
    assert slugify(name) == slug


@settings(max_examples=300)
@given(st.text(max_size=120))
def test_property_a_slug_from_any_name_is_valid_or_empty(name: str) -> None:
    slug = slugify(name)
    assert slug == "" or SLUG_PATTERN.match(slug)
    assert len(slug) <= SLUG_MAX_LENGTH


@pytest.mark.parametrize(("base", "n", "slug"), [
    ("fjordal-aluminium", 2, "fjordal-aluminium-2"),
    ("x" * 80, 2, "x" * 78 + "-2"),
    ("x" * 80, 12, "x" * 77 + "-12"),
    # the shortened base would end in a hyphen: "--12" is not a valid slug
    ("x" * 76 + "-yyy", 12, "x" * 76 + "-12"),
])
def test_numbered_slug_known_answers(base: str, n: int, slug: str) -> None:
    numbered = numbered_slug(base, n)
    assert numbered == slug
    assert SLUG_PATTERN.match(numbered)
    assert len(numbered) <= SLUG_MAX_LENGTH


# --- labels and country names -----------------------------------------------------------


def test_every_membership_class_and_activity_has_its_label() -> None:
    assert MembershipClass.PRODUCTION_TRANSFORMATION.label == "Production & Transformation"
    assert MembershipClass.GENERAL_SUPPORTERS.label == "General Supporters"
    assert Activity.REMELTING_REFINING.label == "Remelting / refining"
    assert Activity.HIGH_PURITY_ALUMINA.label == "High-purity alumina"
    # a member added to either vocabulary without a label would fail here, not on a page
    assert all(m.label for m in MembershipClass)
    assert all(a.label for a in Activity)


@pytest.mark.parametrize(("code", "name"), [
    ("NO", "Norway"),
    ("no", "Norway"),
    ("GB", "United Kingdom of Great Britain and Northern Ireland"),
    ("TW", "Taiwan"),  # the apolitical name, not "Taiwan, Province of China"
    ("ZZ", "ZZ"),  # no such country: shown as given rather than refused on a page
])
def test_country_name(code: str, name: str) -> None:
    assert country_name(code) == name


def test_all_countries_lists_every_code_once_sorted_by_name() -> None:
    listed = all_countries()
    assert len(listed) == len(COUNTRIES) == 250
    assert sorted(c for c, _ in listed) == COUNTRIES
    names = [n for _, n in listed]
    assert names == sorted(names)
    assert ("NO", "Norway") in listed


# --- boundaries (each kills a surviving mutant) -------------------------------------------


def test_failures_exactly_a_window_apart_lock() -> None:
    assert _locked(_ago(15, 7, 0)) == NOW + LOCKOUT


def test_a_failure_during_the_lock_extends_it_from_a_burst_window_and_lockout_ago() -> None:
    # -30, -22, -15 are a burst (15 minutes apart, the window): locked until now. The
    # failure at -1 fell inside that lock and extends it; the burst's first failure,
    # exactly window + lockout ago, still counts.
    assert _locked(_ago(30, 22, 15, 1)) == NOW - timedelta(minutes=1) + LOCKOUT


def test_facility_id_refusals_in_full_words_and_the_last_year() -> None:
    assert parse_facility_id(new_facility_id("NO", 9999, "FT1F3Y")).startswith("NO9999FT1F3Y")
    with pytest.raises(ValueError) as refused:
        new_facility_id("NO", 10000, "FT1F3Y")
    assert str(refused.value) == "year out of range"
    with pytest.raises(ValueError) as refused:
        new_facility_id("NO", 2024, "FT1F3")
    assert str(refused.value) == f"the random part is 6 characters of {ID_ALPHABET}"
    with pytest.raises(ValueError) as refused:
        new_facility_id("NO", 2024, "AAAA00")
    assert str(refused.value) == (
        "this random part gives no issuable check character; draw another")
    with pytest.raises(FacilityIdError) as bad:
        parse_facility_id("NO-2024")
    assert str(bad.value) == (
        "'NO-2024' is not a facility id (expected 2 letters, 4 digits, 6 characters and a "
        "check character, e.g. NO2024AB12CDR)")


def test_score_pair_known_answers() -> None:
    # Without both addresses the name alone counts, at 85 %.
    assert score_pair("fjord aluminium", "", "fjord aluminium", "1 main street") == (100, 0, 85)
    assert score_pair("fjord aluminium", "1 main street", "fjord aluminium", "") == (100, 0, 85)
    assert score_pair("fjord aluminium", "1 main street",
                      "fjord aluminum", "1 main road") == (97, 71, 87)


def test_fuzzy_matches_carry_both_scores_skip_other_countries_and_stop_at_ten() -> None:
    new = _fp("new", "Fjord Aluminium", "1 Main Street")
    abroad = _fp("abroad", "Fjord Aluminium", "1 Main Street", country="SE")
    near = [_fp(f"k{i:02d}", "Fjord Aluminum", "1 Main Road") for i in range(12)]
    found = find_duplicates(new, [abroad, *near])
    assert [m.key for m in found] == [f"k{i:02d}" for i in range(10)]
    assert all((m.score, m.exact, m.name_score, m.address_score) == (87, False, 97, 71)
               for m in found)
    assert all(m.exact is False for m in found)
