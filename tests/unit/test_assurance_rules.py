"""The pure rules of assurance: the decision over every count of non-conformities, its
invariants, ratings across facilities, the plan notice, the state machines, dates,
claims, evidence files, certificate numbers and the carry-over to a new version."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stewardship.assurance.rules import (
    AUDIT_TRANSITIONS,
    CERTIFICATE_TRANSITIONS,
    AssurancePolicy,
    AuditStatus,
    AuditType,
    CertificateStatus,
    ClaimKind,
    EvidenceVerdict,
    Maturity,
    Outcome,
    Rating,
    add_months,
    audit_may_move,
    carry_over,
    certificate_changes,
    certificate_may_move,
    certificate_type,
    check_evidence,
    claim_refusal,
    closure_due,
    decide,
    describe_changes,
    effective_status,
    finding_severity,
    is_current,
    issued_to_label,
    looks_like_csv,
    maturity_for,
    may_start,
    missing_ratings,
    next_certificate_number,
    plan_notice_required,
    safe_filename,
    scope_rating,
    scope_ratings,
    sniff_evidence,
)
from stewardship.standards.rules import Criterion, Threshold, diff_criteria

AUDIT_END = date(2026, 3, 31)
DECIDED = date(2026, 5, 29)

# --- the decision over every combination --------------------------------------------------

EXPECTED_FULL = dict(valid_from=DECIDED, valid_until=date(2029, 5, 28),
                     surveillance_due=date(2027, 11, 29))
EXPECTED_PROVISIONAL = dict(valid_from=DECIDED, valid_until=date(2027, 5, 28),
                            surveillance_due=None)


def _ratings(majors: int, minors: int, conforming: int = 7) -> list[Rating]:
    return ([Rating.MAJOR] * majors + [Rating.MINOR] * minors
            + [Rating.CONFORMANCE] * conforming + [Rating.NOT_APPLICABLE])


@pytest.mark.parametrize(("majors", "minors"),
                         list(itertools.product(range(6), range(4))))
def test_decide_over_every_combination(majors: int, minors: int) -> None:
    d = decide(_ratings(majors, minors), AUDIT_END, DECIDED)
    assert (d.majors, d.minors) == (majors, minors)
    if majors == 0:
        assert d.outcome is Outcome.CERTIFIED
        expected = EXPECTED_FULL
    elif majors <= 3:
        assert d.outcome is Outcome.PROVISIONAL
        expected = EXPECTED_PROVISIONAL
    else:
        assert d.outcome is Outcome.REFUSED
        expected = dict(valid_from=None, valid_until=None, surveillance_due=None)
    assert (d.valid_from, d.valid_until, d.surveillance_due) == (
        expected["valid_from"], expected["valid_until"], expected["surveillance_due"])
    assert d.withdraw_current is (majors > 3)
    # Corrective action plan a month after the audit when anything was found; majors
    # closed within 12 months of the audit.
    assert d.corrective_plan_due == (date(2026, 4, 30) if majors + minors else None)
    assert d.major_closure_due == (date(2027, 3, 31) if majors else None)
    assert d.maturity is (Maturity.HIGH if majors + minors == 0
                          else Maturity.MEDIUM if majors == 0 else Maturity.LOW)


def test_the_auditors_maturity_proposal_is_capped_never_raised() -> None:
    assert maturity_for(0, 0, Maturity.LOW) is Maturity.LOW
    assert maturity_for(0, 0, Maturity.MEDIUM) is Maturity.MEDIUM
    assert maturity_for(0, 2, Maturity.HIGH) is Maturity.MEDIUM
    assert maturity_for(1, 0, Maturity.HIGH) is Maturity.LOW
    assert decide([Rating.CONFORMANCE], AUDIT_END, DECIDED,
                  proposed_maturity=Maturity.MEDIUM).maturity is Maturity.MEDIUM


def test_a_leap_day_decision_ends_on_the_28th() -> None:
    d = decide([Rating.CONFORMANCE], date(2028, 2, 1), date(2028, 2, 29))
    assert d.valid_until == date(2031, 2, 27)
    assert d.surveillance_due == date(2029, 8, 29)


# --- invariants of the decision ----------------------------------------------------------

RANK = {Outcome.CERTIFIED: 2, Outcome.PROVISIONAL: 1, Outcome.REFUSED: 0}
ratings_lists = st.lists(st.sampled_from(list(Rating)), max_size=40)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31))
maturities = st.none() | st.sampled_from(list(Maturity))


@given(ratings_lists, st.integers(min_value=1, max_value=5), days, maturities)
def test_more_majors_never_give_a_better_outcome(ratings: list[Rating], extra: int, day: date,
                                                 proposed: Maturity | None) -> None:
    before = decide(ratings, day, day, proposed_maturity=proposed)
    after = decide(ratings + [Rating.MAJOR] * extra, day, day, proposed_maturity=proposed)
    assert RANK[after.outcome] <= RANK[before.outcome]
    order = [Maturity.LOW, Maturity.MEDIUM, Maturity.HIGH]
    assert order.index(after.maturity) <= order.index(before.maturity)


@given(ratings_lists, days, days, maturities)
def test_decision_invariants(ratings: list[Rating], end: date, decided: date,
                             proposed: Maturity | None) -> None:
    d = decide(ratings, end, decided, proposed_maturity=proposed)
    if d.maturity is Maturity.HIGH:
        assert d.majors == d.minors == 0
    if d.valid_from is not None:
        assert d.valid_until is not None and d.valid_until > d.valid_from
    assert (d.outcome is Outcome.PROVISIONAL) == (1 <= d.majors <= 3)
    assert (d.outcome is Outcome.REFUSED) == (d.majors > 3) == d.withdraw_current
    assert (d.surveillance_due is not None) == (d.outcome is Outcome.CERTIFIED)
    if d.surveillance_due is not None:
        assert d.valid_from is not None and d.valid_until is not None
        assert d.valid_from < d.surveillance_due < d.valid_until


# --- ratings across facilities -----------------------------------------------------------


@pytest.mark.parametrize(("ratings", "expected"), [
    ([], None),
    ([Rating.NOT_APPLICABLE], Rating.NOT_APPLICABLE),
    ([Rating.NOT_APPLICABLE, Rating.NOT_APPLICABLE], Rating.NOT_APPLICABLE),
    ([Rating.NOT_APPLICABLE, Rating.CONFORMANCE], Rating.CONFORMANCE),
    ([Rating.CONFORMANCE, Rating.MINOR, Rating.CONFORMANCE], Rating.MINOR),
    ([Rating.MINOR, Rating.MAJOR, Rating.NOT_APPLICABLE], Rating.MAJOR),
    ([Rating.MAJOR, Rating.CONFORMANCE], Rating.MAJOR),
])
def test_scope_rating_worst_wins(ratings: list[Rating], expected: Rating | None) -> None:
    assert scope_rating(ratings) is expected
    assert scope_rating(reversed(ratings)) is expected


@given(st.lists(st.sampled_from(list(Rating)), min_size=1, max_size=12))
def test_not_applicable_only_when_every_facility_says_so(ratings: list[Rating]) -> None:
    result = scope_rating(ratings)
    assert (result is Rating.NOT_APPLICABLE) == all(r is Rating.NOT_APPLICABLE for r in ratings)
    assert result in ratings


def test_a_non_conformance_at_one_facility_applies_to_the_scope() -> None:
    by_facility = {
        "smelter": {"1.1": Rating.CONFORMANCE, "6.3": Rating.MINOR, "8.1": Rating.NOT_APPLICABLE},
        "casthouse": {"1.1": Rating.MAJOR, "6.3": Rating.CONFORMANCE,
                      "8.1": Rating.NOT_APPLICABLE},
    }
    assert scope_ratings(by_facility) == {"1.1": Rating.MAJOR, "6.3": Rating.MINOR,
                                          "8.1": Rating.NOT_APPLICABLE}
    assert finding_severity(by_facility[f]["1.1"] for f in by_facility) is Rating.MAJOR
    assert finding_severity([Rating.CONFORMANCE, Rating.NOT_APPLICABLE]) is None


def test_missing_ratings_lists_every_unrated_pair_in_order() -> None:
    rated = {"B": {"1.1": Rating.CONFORMANCE, "1.2": Rating.MINOR}, "A": {"1.2": Rating.MAJOR}}
    assert missing_ratings(["1.2", "1.1", "2.1"], ["B", "A"], rated) == [
        ("A", "1.1"), ("A", "2.1"), ("B", "2.1")]
    assert missing_ratings(["1.1"], ["A"], {"A": {"1.1": Rating.NOT_APPLICABLE}}) == []
    assert missing_ratings(["1.1"], [], {}) == []


# --- the audit plan notice ---------------------------------------------------------------

START = date(2026, 6, 15)


@pytest.mark.parametrize("activity", ["bauxite_mining", "alumina_refining", "smelting"])
def test_plan_notice_boundaries(activity: str) -> None:
    activities = [activity, "casthouse"]
    assert may_start(AuditType.CERTIFICATION, activities, date(2026, 5, 4), START) is None
    assert may_start(AuditType.CERTIFICATION, activities, date(2026, 4, 1), START) is None
    late = may_start(AuditType.CERTIFICATION, activities, date(2026, 5, 5), START)
    assert late is not None and "2026-05-04" in late and "2026-05-05" in late
    missing = may_start(AuditType.CERTIFICATION, activities, None, START)
    assert missing is not None and "2026-05-04" in missing and "6 weeks" in missing


@pytest.mark.parametrize("audit_type", [AuditType.SURVEILLANCE, AuditType.RECERTIFICATION,
                                        AuditType.SCOPE_CHANGE])
def test_only_initial_audits_need_notice(audit_type: AuditType) -> None:
    assert not plan_notice_required(audit_type, ["smelting"])
    assert may_start(audit_type, ["smelting"], None, START) is None
    assert may_start(audit_type, ["bauxite_mining"], START, START) is None


@pytest.mark.parametrize("activities", [["casthouse"], ["semi_fabrication", "remelting_refining"],
                                        ["bauxite_development", "high_purity_alumina"], []])
def test_other_activities_never_need_notice(activities: list[str]) -> None:
    assert not plan_notice_required(AuditType.CERTIFICATION, activities)
    assert may_start(AuditType.CERTIFICATION, activities, None, START) is None


# --- state machines ----------------------------------------------------------------------

C = CertificateStatus
CERTIFICATE_ALLOWED = {(C.ACTIVE, C.SUSPENDED), (C.ACTIVE, C.WITHDRAWN), (C.ACTIVE, C.EXPIRED),
                       (C.SUSPENDED, C.ACTIVE), (C.SUSPENDED, C.WITHDRAWN),
                       (C.SUSPENDED, C.EXPIRED), (C.ACTIVE, C.SUPERSEDED),
                       (C.SUSPENDED, C.SUPERSEDED)}
A = AuditStatus
AUDIT_ALLOWED = {(A.PLANNED, A.IN_PROGRESS), (A.PLANNED, A.CANCELLED),
                 (A.IN_PROGRESS, A.SUBMITTED), (A.IN_PROGRESS, A.CANCELLED),
                 (A.SUBMITTED, A.DECIDED), (A.SUBMITTED, A.IN_PROGRESS)}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(C, C)))
def test_certificate_state_machine(current: C, target: C) -> None:
    assert certificate_may_move(current, target) is ((current, target) in CERTIFICATE_ALLOWED)


@pytest.mark.parametrize(("current", "target"), list(itertools.product(A, A)))
def test_audit_state_machine(current: A, target: A) -> None:
    assert audit_may_move(current, target) is ((current, target) in AUDIT_ALLOWED)


def test_the_tables_name_every_state() -> None:
    assert set(CERTIFICATE_TRANSITIONS) == set(C)
    assert set(AUDIT_TRANSITIONS) == set(A)


@pytest.mark.parametrize(("outcome", "audit_type", "expected"), [
    (Outcome.REFUSED, AuditType.RECERTIFICATION, (None, (), ("A", "B"), ())),
    (Outcome.REFUSED, AuditType.SURVEILLANCE, (None, (), ("A", "B"), ())),
    (Outcome.CERTIFIED, AuditType.SURVEILLANCE, (None, (), (), ("A", "B"))),
    (Outcome.PROVISIONAL, AuditType.SURVEILLANCE, ("provisional", ("A", "B"), (), ())),
    (Outcome.CERTIFIED, AuditType.RECERTIFICATION, ("full", ("A", "B"), (), ())),
    (Outcome.CERTIFIED, AuditType.CERTIFICATION, ("full", ("A", "B"), (), ())),
    (Outcome.PROVISIONAL, AuditType.SCOPE_CHANGE, ("provisional", ("A", "B"), (), ())),
])
def test_what_a_decision_does_to_the_scopes_certificates(
        outcome: Outcome, audit_type: AuditType,
        expected: tuple[str | None, tuple[str, ...], tuple[str, ...], tuple[str, ...]]) -> None:
    changes = certificate_changes(outcome, audit_type, ["A", "B"])
    assert (changes.issue, changes.supersede, changes.withdraw, changes.keep) == expected


def test_the_decisions_effect_in_words() -> None:
    issue = certificate_changes(Outcome.PROVISIONAL, AuditType.SURVEILLANCE, ["PS-1"])
    assert describe_changes(issue, done=False, valid_until=date(2027, 3, 1)) == (
        "Issues a provisional certificate, valid until 2027-03-01; it supersedes "
        "certificate PS-1.")
    assert describe_changes(issue, done=True, issued="PS-2", valid_until=date(2027, 3, 1)) \
        == ("Issued a provisional certificate PS-2, valid until 2027-03-01; it superseded "
            "certificate PS-1.")
    refused = certificate_changes(Outcome.REFUSED, AuditType.SURVEILLANCE, ["PS-1", "PS-2"])
    assert describe_changes(refused, done=True) == "Withdrew certificates PS-1, PS-2."
    kept = certificate_changes(Outcome.CERTIFIED, AuditType.SURVEILLANCE, ["PS-1"])
    assert describe_changes(kept, done=False) == (
        "Certificate PS-1 stays in force as it was; the surveillance audit is done.")
    nothing = certificate_changes(Outcome.CERTIFIED, AuditType.SURVEILLANCE, [])
    assert describe_changes(nothing, done=True) == (
        "No certificate of the scope is issued or changed.")
    first = certificate_changes(Outcome.CERTIFIED, AuditType.CERTIFICATION, [])
    assert describe_changes(first, done=False) == "Issues a full certificate."


def test_expiry_happens_by_date() -> None:
    end = date(2026, 12, 31)
    assert effective_status(C.ACTIVE, end, end) is C.ACTIVE
    assert effective_status(C.ACTIVE, end, date(2027, 1, 1)) is C.EXPIRED
    assert effective_status(C.SUSPENDED, end, date(2027, 1, 1)) is C.EXPIRED
    assert effective_status(C.WITHDRAWN, end, date(2027, 1, 1)) is C.WITHDRAWN
    assert is_current(C.ACTIVE, date(2026, 1, 1), end, end)
    assert not is_current(C.ACTIVE, date(2026, 1, 1), end, date(2027, 1, 1))
    assert not is_current(C.ACTIVE, date(2026, 1, 1), end, date(2025, 12, 31))
    assert not is_current(C.SUSPENDED, date(2026, 1, 1), end, date(2026, 6, 1))


# --- dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(("day", "months", "expected"), [
    (date(2025, 1, 31), 1, date(2025, 2, 28)),
    (date(2024, 1, 31), 1, date(2024, 2, 29)),
    (date(2024, 3, 31), 1, date(2024, 4, 30)),
    (date(2024, 3, 31), -1, date(2024, 2, 29)),
    (date(2025, 12, 15), 1, date(2026, 1, 15)),
    (date(2026, 8, 31), 18, date(2028, 2, 29)),
    (date(2026, 5, 29), 0, date(2026, 5, 29)),
    (date(2026, 1, 10), -13, date(2024, 12, 10)),
    (date(2024, 2, 29), 12, date(2025, 2, 28)),
])
def test_add_months(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


@pytest.mark.parametrize(("day", "months"), [
    (date(9999, 12, 1), 1),
    (date(1, 1, 31), -1),
])
def test_add_months_beyond_the_calendar_says_so(day: date, months: int) -> None:
    # the date's own refusal, not a claim that some month has no 28th
    with pytest.raises(ValueError, match=r"^year -?\d+ is out of range$"):
        add_months(day, months)


def test_closure_due_dates() -> None:
    assert closure_due(Rating.MAJOR, AUDIT_END) == date(2027, 3, 31)
    assert closure_due(Rating.MINOR, AUDIT_END) == date(2028, 3, 31)
    assert closure_due(Rating.CONFORMANCE, AUDIT_END) is None


# --- claims ------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "performance", "coc", "allowed"), [
    (ClaimKind.OFF_PRODUCT, True, False, True),
    (ClaimKind.OFF_PRODUCT, True, True, True),
    (ClaimKind.OFF_PRODUCT, False, True, False),
    (ClaimKind.ON_PRODUCT, True, True, True),
    (ClaimKind.ON_PRODUCT, True, False, False),
    (ClaimKind.ON_PRODUCT, False, True, False),
    (ClaimKind.ON_PRODUCT, False, False, False),
])
def test_claim_refusal(kind: ClaimKind, performance: bool, coc: bool, allowed: bool) -> None:
    refusal = claim_refusal(kind, performance, coc)
    assert (refusal is None) is allowed
    if kind is ClaimKind.ON_PRODUCT and performance and not coc:
        assert refusal is not None and "Chain of Custody" in refusal


# --- evidence files ----------------------------------------------------------------------

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
CSV = b"site;tonnes\nFjord;1 200\n\"Rhein; Neuss\";800\n"
TEXT = "Water permit renewed on 3 March; ø and é are fine.\n".encode()


@pytest.mark.parametrize(("data", "expected"), [
    (PDF, "application/pdf"), (PNG, "image/png"), (JPEG, "image/jpeg"), (CSV, "text/csv"),
    (TEXT, "text/plain"), (b"\xef\xbb\xbfa,b\n1,2\n", "text/csv"),
    (b"MZ\x90\x00\x03\x00\x00\x00", None), (b"hello\x00world", None), (b"\xff\xfe\x00", None),
])
def test_sniffing_reads_the_bytes(data: bytes, expected: str | None) -> None:
    assert sniff_evidence(data) == expected


@pytest.mark.parametrize(("name", "declared", "data", "content_type"), [
    ("report.pdf", "application/pdf", PDF, "application/pdf"),
    ("site.png", "image/png", PNG, "image/png"),
    ("photo.jpg", "image/jpg", JPEG, "image/jpeg"),
    ("flows.csv", "text/csv; charset=utf-8", CSV, "text/csv"),
    ("flows.csv", "application/vnd.ms-excel", CSV, "text/csv"),
    ("flows.txt", "text/plain", CSV, "text/plain"),
    ("note.txt", "Text/Plain", TEXT, "text/plain"),
])
def test_accepted_evidence(name: str, declared: str, data: bytes, content_type: str) -> None:
    verdict = check_evidence(name, declared, data, 1000)
    assert (verdict.content_type, verdict.problem) == (content_type, None)


@pytest.mark.parametrize(("name", "declared", "data", "words"), [
    ("report.pdf", "application/pdf", PNG, ["report.pdf", "PDF", "PNG"]),
    ("photo.png", "image/png", JPEG, ["photo.png", "JPEG"]),
    ("note.csv", "text/csv", TEXT, ["note.csv", "CSV", "plain text"]),
    ("tool.exe", "application/pdf", b"MZ\x90\x00binary\x00", ["tool.exe", "not a PDF"]),
    ("macro.docm", "application/msword", PDF, ["macro.docm", "application/msword"]),
    ("empty.pdf", "application/pdf", b"", ["empty.pdf", "empty"]),
])
def test_refused_evidence_names_the_file(name: str, declared: str, data: bytes,
                                         words: list[str]) -> None:
    verdict = check_evidence(name, declared, data, 1000)
    assert verdict.content_type is None and verdict.problem is not None
    assert not verdict.too_large
    for word in words:
        assert word in verdict.problem


def test_oversized_evidence_is_flagged_before_anything_else() -> None:
    verdict = check_evidence("../../big.pdf", "application/pdf", PDF + bytes(100), 100)
    assert verdict.too_large and verdict.problem is not None
    assert "big.pdf" in verdict.problem and "100 bytes" in verdict.problem
    assert check_evidence("ok.pdf", "application/pdf", PDF, len(PDF)).problem is None


@pytest.mark.parametrize(("text", "table"), [
    ("site;tonnes\nFjord;1 200\n", True),
    ("a\tb\tc\n1\t2\t3\n\n4\t5\t6\n", True),  # blank lines do not count
    ('name,"city, country"\nFjord,"Sunndal, NO"\n', True),  # quoted delimiters respected
    ("a,b\n", False),  # one line is no table
    ("first line\nsecond line\n", False),  # one field per line on every delimiter
    ("a,b\nc\n", False),  # uneven rows
    ("a;b\nc,d\n", False),  # two lines, but not on one delimiter
    # a field beyond what the csv reader takes fails on every delimiter: not a table
    ("x" * 140_000 + ",a\nb,c\n", False),
])
def test_looks_like_csv(text: str, table: bool) -> None:
    assert looks_like_csv(text) is table


def test_text_with_a_field_too_long_for_csv_is_plain_text() -> None:
    data = ("x" * 140_000 + ",a\nb,c\n").encode()
    assert sniff_evidence(data) == "text/plain"
    verdict = check_evidence("flows.csv", "text/csv", data, len(data))
    assert verdict.content_type is None
    assert verdict.problem is not None and "flows.csv" in verdict.problem


def test_safe_filenames() -> None:
    assert safe_filename("C:\\docs\\permit.pdf") == "permit.pdf"
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("a\x00b\nc.pdf") == "abc.pdf"
    assert safe_filename("   ") == "evidence"
    assert len(safe_filename("x" * 500 + ".pdf")) == 200


# --- certificate numbers -----------------------------------------------------------------


def test_certificate_numbers_run_per_year_and_standard() -> None:
    existing = ["STW-PS-2026-0001", "STW-PS-2026-0009", "STW-PS-2025-0044",
                "STW-COC-2026-0003", "OTHER-1"]
    assert next_certificate_number("performance", 2026, existing) == "STW-PS-2026-0010"
    assert next_certificate_number("performance", 2027, existing) == "STW-PS-2027-0001"
    assert next_certificate_number("chain_of_custody", 2026, existing) == "STW-COC-2026-0004"
    assert next_certificate_number("chain_of_custody", 2025, []) == "STW-COC-2025-0001"


def test_a_provisional_outcome_gives_a_provisional_certificate() -> None:
    assert certificate_type(Outcome.PROVISIONAL) == "provisional"
    assert certificate_type(Outcome.CERTIFIED) == "full"


@pytest.mark.parametrize(("issued_to", "now", "label"), [
    ("Fjord Aluminium", "Fjord Metals", "Fjord Aluminium (now Fjord Metals)"),
    ("Fjord Aluminium", "Fjord Aluminium", "Fjord Aluminium"),
    ("Fjord Aluminium", "", "Fjord Aluminium"),  # the holder's present name unknown
])
def test_issued_to_label(issued_to: str, now: str, label: str) -> None:
    assert issued_to_label(issued_to, now) == label


# --- carrying answers to a new version ---------------------------------------------------


def _c(number: str, title: str, requirement: str = "", **kw: object) -> Criterion:
    return Criterion(number=number, title=title, requirement=requirement or f"Do {title}.",
                     **kw)  # type: ignore[arg-type]


def test_carry_over_keeps_unchanged_and_renumbered_criteria() -> None:
    old = [_c("1.1", "Law"), _c("1.2", "Bribery"), _c("3.1", "Reporting"),
           _c("3.2", "Disclosure"), _c("5.3", "Targets"), _c("7.3", "Catchment"),
           _c("8.1", "Biodiversity", activities=frozenset({"smelting"}))]
    new = [_c("1.1", "Law"), _c("1.2", "Bribery", "Prohibit bribery in every form."),
           _c("3.1", "Entity overview"), _c("3.2", "Reporting"), _c("3.3", "Disclosure"),
           _c("5.3", "Pathway"), _c("7.3", "Catchment"),
           _c("8.1", "Biodiversity", activities=frozenset({"smelting", "casthouse"}))]
    plan = carry_over(["1.1", "1.2", "3.1", "3.2", "5.3", "8.1"],
                      diff_criteria(old, new))
    assert plan.carried == {"1.1": "1.1", "3.1": "3.2", "3.2": "3.3"}
    assert plan.redo == {"1.2": "reworded", "3.1": "added", "5.3": "added",
                         "8.1": "applicability changed"}
    assert plan.dropped == ["5.3"]


def test_a_renumbered_and_reworded_criterion_is_answered_again() -> None:
    # 4.1 moves to 4.2 under its title with a stricter requirement; 6.1 moves to 6.4 under
    # its requirement with a new title. Both are the same criteria, renumbered, and both
    # changed their wording: neither answer may carry, and each new number says why.
    old = [_c("4.1", "Grievance", "Have a grievance mechanism."),
           _c("6.1", "Water", "Measure water withdrawal."), _c("7.1", "Waste")]
    new = [_c("4.1", "Remedy"), _c("4.2", "Grievance", "Have an accessible grievance mechanism."),
           _c("6.4", "Water use", "Measure water withdrawal."), _c("7.2", "Waste")]
    plan = carry_over(["4.1", "6.1", "7.1"], diff_criteria(old, new))
    assert plan.carried == {"7.1": "7.2"}
    assert plan.redo == {"4.1": "added", "4.2": "reworded", "6.4": "reworded"}
    assert plan.dropped == []


# --- exact values and boundaries (each kills a surviving mutant) --------------------------


def test_a_certificate_counts_from_its_first_day() -> None:
    start, end = date(2026, 1, 1), date(2028, 12, 31)
    assert is_current(CertificateStatus.ACTIVE, start, end, start)


def test_missing_ratings_in_numeric_order_and_for_a_facility_with_no_ratings() -> None:
    rated = {"A": {"1.9": Rating.CONFORMANCE}}
    assert missing_ratings(["1.10", "1.9", "2.1"], ["C", "A"], rated) == [
        ("A", "1.10"), ("A", "2.1"), ("C", "1.9"), ("C", "1.10"), ("C", "2.1")]


def test_carry_over_names_changed_thresholds_and_reads_past_a_removed_criterion() -> None:
    low = (Threshold("k", Decimal("1"), "t"),)
    high = (Threshold("k", Decimal("2"), "t"),)
    old = [_c("1.1", "Gone"), _c("1.2", "Kept"), _c("1.3", "Limit", thresholds=low),
           _c("1.10", "Also gone")]
    new = [_c("1.2", "Kept"), _c("1.3", "Limit", thresholds=high)]
    plan = carry_over(["1.10", "1.1", "1.2", "1.3"], diff_criteria(old, new))
    assert plan.dropped == ["1.1", "1.10"]
    assert plan.carried == {"1.2": "1.2"}
    assert plan.redo == {"1.3": "thresholds changed"}


def test_claim_refusals_in_full_words() -> None:
    assert claim_refusal(ClaimKind.ON_PRODUCT, False, True) == (
        "a claim needs a current Performance Standard certificate")
    assert claim_refusal(ClaimKind.ON_PRODUCT, True, False) == (
        "an on-product claim also needs a current Chain of Custody certificate")


def test_the_plan_notice_follows_the_policy_in_force() -> None:
    policy = AssurancePolicy(plan_notice_days=14, plan_notice_activities=frozenset({"casthouse"}))
    # Under the policy, casthouse needs notice and smelting does not.
    assert may_start(AuditType.CERTIFICATION, ["smelting"], None, START, policy) is None
    assert may_start(AuditType.CERTIFICATION, ["casthouse"], date(2026, 6, 1), START,
                     policy) is None
    assert may_start(AuditType.CERTIFICATION, ["casthouse"], date(2026, 6, 2), START,
                     policy) == ("the audit plan reached the secretariat on 2026-06-02, "
                                 "after 2026-06-01; move the start date")


def test_evidence_verdicts_keep_the_safe_name_and_say_why_in_full_words() -> None:
    assert check_evidence("a/big.pdf", "application/pdf", PDF + bytes(2000), 1234) == (
        EvidenceVerdict("big.pdf", None, "big.pdf is larger than the limit of 1 234 bytes",
                        too_large=True))
    assert check_evidence("a/none.pdf", "application/pdf", b"", 100) == (
        EvidenceVerdict("none.pdf", None, "none.pdf is empty"))
    assert check_evidence("a/x.bin", "application/pdf", b"\x00\x01\x02", 100) == (
        EvidenceVerdict("x.bin", None, "x.bin is not a PDF, PNG, JPEG, UTF-8 text or CSV file"))
    assert check_evidence("a/r.pdf", None, PDF, 100) == EvidenceVerdict(
        "r.pdf", None, "r.pdf is declared as 'nothing'; "
        "evidence must be PDF, PNG, JPEG, plain text or CSV")
    assert check_evidence("a/r.pdf", "Application/PDF; x=1; y=2", PDF, 100) == (
        EvidenceVerdict("r.pdf", "application/pdf"))
    assert check_evidence("a/r.png", "image/png", PDF, 100) == EvidenceVerdict(
        "r.png", None, "r.png is declared as PNG (image/png) but its content is PDF")
    # Plain text may be a CSV; a CSV declared as plain text passes, not the other way round.
    assert check_evidence("a/t.csv", "text/csv", b"just words\n", 100).problem == (
        "t.csv is declared as CSV (text/csv) but its content is plain text")
    assert check_evidence("a/r.txt", "text/plain", PDF, 100).problem == (
        "r.txt is declared as plain text (text/plain) but its content is PDF")


@pytest.mark.parametrize(("raw", "safe"), [
    ("", "evidence"),
    ("C:\\a\\b/..hidden..", "hidden"),
    ("my report X.pdf", "my report X.pdf"),
    ("bad\x7fname\x1f.pdf", "badname.pdf"),
    ("X-ray.pdf", "X-ray.pdf"),
])
def test_evidence_file_names(raw: str, safe: str) -> None:
    assert safe_filename(raw) == safe


def test_dropped_criteria_are_listed_in_numeric_order() -> None:
    old = [_c("1.10", "Ten"), _c("1.9", "Nine"), _c("2.1", "Kept")]
    plan = carry_over(["1.10", "1.9", "2.1"], diff_criteria(old, [_c("2.1", "Kept")]))
    assert plan.dropped == ["1.9", "1.10"]
