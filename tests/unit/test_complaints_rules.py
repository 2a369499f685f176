"""The complaints mechanism's pure rules: state machine, due dates, appeals, sanctions,
attachment sniffing, the public-log rule, flood control and references."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stewardship.complaints.rules import (
    DECISIONS,
    DEFAULT_SCHEDULE,
    HANDLING,
    TRANSITIONS,
    AttachmentUpload,
    ComplaintStatus,
    DueSchedule,
    Sanction,
    SubjectKind,
    appeal_last_day,
    appeal_problem,
    attachments_count_problem,
    case_log_public,
    check_attachment,
    close_problem,
    flood_limited,
    format_reference,
    may_transition,
    next_due,
    next_statuses,
    overdue,
    parse_reference,
    safe_filename,
    sanctions_problem,
    sniff_type,
    source_digest,
)
from tests.complaint_samples import EXE, JPEG, PDF, png_bytes

S = ComplaintStatus

LEGAL = {
    (S.RECEIVED, S.ACCEPTED), (S.RECEIVED, S.OUT_OF_SCOPE),
    (S.ACCEPTED, S.MEDIATION), (S.ACCEPTED, S.INVESTIGATION), (S.ACCEPTED, S.PANEL),
    (S.MEDIATION, S.INVESTIGATION), (S.MEDIATION, S.PANEL), (S.MEDIATION, S.RESOLVED),
    (S.INVESTIGATION, S.MEDIATION), (S.INVESTIGATION, S.PANEL), (S.INVESTIGATION, S.RESOLVED),
    (S.PANEL, S.MEDIATION), (S.PANEL, S.INVESTIGATION), (S.PANEL, S.RESOLVED),
    (S.RESOLVED, S.CLOSED), (S.RESOLVED, S.APPEALED),
    (S.OUT_OF_SCOPE, S.CLOSED), (S.OUT_OF_SCOPE, S.APPEALED),
    (S.APPEALED, S.PANEL), (S.APPEALED, S.CLOSED),
}
ALL_PAIRS = list(itertools.product(ComplaintStatus, repeat=2))


# --- state machine ----------------------------------------------------------------------


@pytest.mark.parametrize(("current", "target"), sorted(LEGAL))
def test_legal_transitions_are_allowed(current: S, target: S) -> None:
    assert may_transition(current, target)


@pytest.mark.parametrize(("current", "target"),
                         [p for p in ALL_PAIRS if p not in LEGAL])
def test_every_other_transition_is_refused(current: S, target: S) -> None:
    assert not may_transition(current, target)


def test_the_table_is_exactly_the_documented_machine() -> None:
    table = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == LEGAL
    assert set(TRANSITIONS) == set(ComplaintStatus)


def test_closed_is_terminal_and_nothing_returns_to_received() -> None:
    assert next_statuses(S.CLOSED) == []
    assert all(not may_transition(s, S.RECEIVED) for s in ComplaintStatus)


def test_handling_modes_switch_between_each_other() -> None:
    for a, b in itertools.permutations(HANDLING, 2):
        assert may_transition(a, b)


def test_next_statuses_follow_enum_order() -> None:
    assert next_statuses(S.ACCEPTED) == [S.MEDIATION, S.INVESTIGATION, S.PANEL]


@given(st.lists(st.integers(min_value=0, max_value=20), max_size=60))
def test_a_walk_of_legal_transitions_never_leaves_closed(choices: list[int]) -> None:
    status = S.RECEIVED
    reached_closed = False
    for choice in choices:
        options = next_statuses(status)
        if reached_closed:
            assert options == []
            assert status is S.CLOSED
        if not options:
            continue
        status = options[choice % len(options)]
        reached_closed = reached_closed or status is S.CLOSED
    if reached_closed:
        assert status is S.CLOSED


# --- due dates --------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "days"), [
    (S.RECEIVED, 14), (S.ACCEPTED, 14), (S.MEDIATION, 60), (S.INVESTIGATION, 90),
    (S.PANEL, 90), (S.RESOLVED, 30), (S.OUT_OF_SCOPE, 30), (S.APPEALED, 60),
])
def test_default_due_dates(status: S, days: int) -> None:
    assert next_due(status, date(2026, 3, 1)) == date(2026, 3, 1) + timedelta(days=days)


def test_nothing_is_due_once_closed() -> None:
    assert next_due(S.CLOSED, date(2026, 3, 1)) is None
    assert not overdue(None, date(2030, 1, 1))


def test_overdue_from_the_day_after_the_due_date() -> None:
    due = date(2026, 3, 15)
    assert not overdue(due, date(2026, 3, 14))
    assert not overdue(due, due)
    assert overdue(due, date(2026, 3, 16))


def test_schedule_overrides_by_name() -> None:
    schedule = DEFAULT_SCHEDULE.with_overrides({"mediation": 45})
    assert next_due(S.MEDIATION, date(2026, 1, 1), schedule) == date(2026, 2, 15)
    assert schedule.panel == 90


@pytest.mark.parametrize("overrides", [{"mediaton": 45}, {"panel": 0}, {"panel": -3}])
def test_schedule_refuses_unknown_names_and_non_positive_days(overrides: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        DueSchedule().with_overrides(overrides)


# --- appeals and closing ----------------------------------------------------------------


def test_appeal_window_is_thirty_days_counting_the_decision_day_as_day_zero() -> None:
    decided = date(2026, 5, 1)
    assert appeal_last_day(S.RESOLVED, decided) == date(2026, 5, 30)
    assert appeal_problem(S.RESOLVED, decided, decided, already_appealed=False) is None
    assert appeal_problem(S.OUT_OF_SCOPE, decided, date(2026, 5, 30),
                          already_appealed=False) is None
    late = appeal_problem(S.RESOLVED, decided, date(2026, 5, 31), already_appealed=False)
    assert late is not None and "2026-05-30" in late


@pytest.mark.parametrize("status", [s for s in ComplaintStatus if s not in DECISIONS])
def test_only_decisions_can_be_appealed(status: S) -> None:
    assert appeal_problem(status, date(2026, 5, 1), date(2026, 5, 2),
                          already_appealed=False) is not None
    assert appeal_last_day(status, date(2026, 5, 1)) is None


def test_a_case_is_appealed_once() -> None:
    problem = appeal_problem(S.RESOLVED, date(2026, 5, 1), date(2026, 5, 2),
                             already_appealed=True)
    assert problem is not None and "once" in problem


def test_a_decision_closes_only_after_the_appeal_window() -> None:
    decided = date(2026, 5, 1)
    assert close_problem(S.RESOLVED, decided, date(2026, 5, 30),
                         already_appealed=False) is not None
    assert close_problem(S.RESOLVED, decided, date(2026, 5, 31), already_appealed=False) is None
    # the close is due on the first day it is possible
    assert next_due(S.RESOLVED, decided) == date(2026, 5, 31)


def test_an_appealed_case_may_be_closed_at_once_and_others_not_at_all() -> None:
    assert close_problem(S.APPEALED, date(2026, 5, 1), date(2026, 5, 1),
                         already_appealed=True) is None
    assert close_problem(S.MEDIATION, date(2026, 5, 1), date(2027, 5, 1),
                         already_appealed=False) is not None


# --- sanctions --------------------------------------------------------------------------


def test_sanctions_must_be_listed_and_fit_the_subject() -> None:
    member = SubjectKind.MEMBER
    assert sanctions_problem([Sanction.NONE], member) is None
    assert sanctions_problem([Sanction.SUSPEND_MEMBERSHIP, Sanction.SUSPEND_CERTIFICATE],
                             member) is None
    assert sanctions_problem([], member) is not None
    assert sanctions_problem([Sanction.NONE, Sanction.WARNING], member) is not None
    assert sanctions_problem([Sanction.WARNING, Sanction.WARNING], member) is not None
    wrong = sanctions_problem([Sanction.WITHDRAW_ACCREDITATION], member)
    assert wrong is not None and "withdraw_accreditation" in wrong
    assert sanctions_problem([Sanction.WITHDRAW_ACCREDITATION], SubjectKind.AUDIT_FIRM) is None
    assert sanctions_problem([Sanction.SUSPEND_MEMBERSHIP], SubjectKind.SECRETARIAT) is not None


# --- attachments ------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "expected"), [
    (PDF, "application/pdf"), (png_bytes(), "image/png"), (JPEG, "image/jpeg"),
    (b"Wells near the road turned red.\nSee dates below.\n", "text/plain"),
    ("Eau rougeâtre — puits de l'école".encode(), "text/plain"),
    (b"\xef\xbb\xbfwith a byte-order mark", "text/plain"),
    (EXE, None),                                      # a Windows executable
    (b"PK\x03\x04\x14\x00\x06\x00", None),            # a zip / office document
    (b"plain looking\x00but binary", None),           # NUL byte
    (b"\xff\xfe\x00\x00latin?", None),                # not UTF-8
])
def test_sniffing_reads_the_bytes(data: bytes, expected: str | None) -> None:
    assert sniff_type(data) == expected


def test_a_png_named_pdf_is_taken_as_png_and_renamed() -> None:
    verdict = check_attachment(AttachmentUpload("evidence.pdf", png_bytes()))
    assert verdict.ok
    assert verdict.content_type == "image/png"
    assert verdict.filename == "evidence.png"


def test_an_executable_named_pdf_is_refused_with_its_name() -> None:
    verdict = check_attachment(AttachmentUpload("report.pdf", EXE))
    assert not verdict.ok
    assert verdict.reason is not None and "report.pdf" in verdict.reason


def test_oversize_and_empty_files_are_refused() -> None:
    big = check_attachment(AttachmentUpload("scan.pdf", PDF + b"0" * 100), max_bytes=50)
    assert not big.ok and big.reason is not None and "larger than 50 bytes" in big.reason
    exact = check_attachment(AttachmentUpload("scan.pdf", PDF.ljust(50, b" ")), max_bytes=50)
    assert exact.ok
    empty = check_attachment(AttachmentUpload("nothing.txt", b""))
    assert not empty.ok and empty.reason is not None and "empty" in empty.reason


def test_too_many_files() -> None:
    assert attachments_count_problem(5) is None
    problem = attachments_count_problem(6)
    assert problem is not None and "at most 5" in problem
    assert attachments_count_problem(3, max_files=2) is not None


@pytest.mark.parametrize(("raw", "kind", "expected"), [
    ("../../etc/passwd", None, "passwd"),
    ("C:\\Users\\me\\Photo 1.JPG", "image/jpeg", "Photo_1.jpg"),
    ("réunion du 3 mai.txt", "text/plain", "reunion_du_3_mai.txt"),
    ("", "application/pdf", "attachment.pdf"),
    ("...", None, "attachment"),
    ("notes", "text/plain", "notes.txt"),
])
def test_safe_filenames(raw: str, kind: str | None, expected: str) -> None:
    assert safe_filename(raw, kind) == expected


def test_long_names_are_cut() -> None:
    assert len(safe_filename("a" * 300 + ".pdf", "application/pdf")) == 100


# --- consent, flood control, references -------------------------------------------------


@pytest.mark.parametrize(("complainant", "respondent", "public"), [
    (False, False, False), (True, False, False), (False, True, False), (True, True, True),
])
def test_case_log_is_public_only_when_both_parties_agree(complainant: bool, respondent: bool,
                                                         public: bool) -> None:
    assert case_log_public(complainant, respondent) is public


def test_flood_control_counts_the_last_hour() -> None:
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    recent = [now - timedelta(minutes=m) for m in (5, 20, 59)]
    assert flood_limited(recent, now, per_hour=3)
    assert not flood_limited(recent, now, per_hour=4)
    old = [now - timedelta(minutes=m) for m in (5, 20, 61)]
    assert not flood_limited(old, now, per_hour=3)


def test_source_digest_is_keyed_and_stable() -> None:
    assert source_digest("k1", "10.0.0.1") == source_digest("k1", "10.0.0.1")
    assert source_digest("k1", "10.0.0.1") != source_digest("k2", "10.0.0.1")
    assert "10.0.0.1" not in source_digest("k1", "10.0.0.1")


def test_references() -> None:
    assert format_reference(2026, 1) == "C-2026-0001"
    assert format_reference(2026, 12345) == "C-2026-12345"
    assert parse_reference(" c-2026-0042 ") == (2026, 42)
    with pytest.raises(ValueError):
        parse_reference("2026-0042")
    with pytest.raises(ValueError):
        format_reference(2026, 0)


# --- whole messages, exact values and boundaries (each kills a surviving mutant) --------


def test_close_refusals_in_full_words() -> None:
    decided = date(2026, 5, 1)
    assert close_problem(S.MEDIATION, decided, decided, already_appealed=False) == (
        "a case that is in mediation cannot be closed")
    assert close_problem(S.RESOLVED, decided, date(2026, 5, 30), already_appealed=False) == (
        "the complainant may appeal until 2026-05-30; the case can be closed after that")


def test_a_case_resolved_again_after_its_appeal_closes_at_once() -> None:
    # The appeal decision is final: no second window holds the case open.
    decided = date(2026, 5, 1)
    assert close_problem(S.RESOLVED, decided, decided, already_appealed=True) is None


def test_closing_follows_the_schedule_in_force() -> None:
    decided = date(2026, 5, 1)
    short = DueSchedule(appeal_window=10)
    assert close_problem(S.OUT_OF_SCOPE, decided, date(2026, 5, 10), already_appealed=False,
                         schedule=short) == (
        "the complainant may appeal until 2026-05-10; the case can be closed after that")
    assert close_problem(S.OUT_OF_SCOPE, decided, date(2026, 5, 11), already_appealed=False,
                         schedule=short) is None


def test_a_filing_exactly_an_hour_old_no_longer_counts() -> None:
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert not flood_limited([now - timedelta(hours=1)], now, per_hour=1)
    assert flood_limited([now - timedelta(minutes=59, seconds=59)], now, per_hour=1)


def test_source_digest_known_answer_and_per_source() -> None:
    # HMAC-SHA256 keyed "k1" over "complaint-source:10.0.0.1".
    assert source_digest("k1", "10.0.0.1") == (
        "ac6fe05d5a9514f0384dc5876ebef3404d0eb2362238a7c375cdbb8eb3ae2aba")
    assert source_digest("k1", "10.0.0.1") != source_digest("k1", "10.0.0.2")


def test_reference_numbers_run_to_999999_and_refusals_are_in_full_words() -> None:
    assert format_reference(2026, 999_999) == "C-2026-999999"
    assert parse_reference("C-2026-999999") == (2026, 999_999)
    for number in (0, 1_000_000):
        with pytest.raises(ValueError) as refused:
            format_reference(2026, number)
        assert str(refused.value) == "a complaint number runs from 1 to 999999"
    with pytest.raises(ValueError) as refused:
        parse_reference("2026-0042")
    assert str(refused.value) == "'2026-0042' is not a complaint reference (like C-2026-0001)"


def test_sanction_refusals_in_full_words() -> None:
    member = SubjectKind.MEMBER
    assert sanctions_problem([], member) == (
        "list the sanctions, or 'none' when the outcome carries no sanction")
    assert sanctions_problem([Sanction.WARNING, Sanction.WARNING], member) == (
        "a sanction is listed twice")
    assert sanctions_problem([Sanction.NONE, Sanction.WARNING], member) == (
        "'none' cannot be combined with other sanctions")
    assert sanctions_problem([Sanction.SUSPEND_MEMBERSHIP, Sanction.WARNING,
                              Sanction.TERMINATE_MEMBERSHIP], SubjectKind.SECRETARIAT) == (
        "suspend_membership, terminate_membership cannot fall on a complaint about "
        "the secretariat")


def test_appeal_refusals_in_full_words_and_by_the_schedule_in_force() -> None:
    decided = date(2026, 5, 1)
    assert appeal_problem(S.MEDIATION, decided, decided, already_appealed=False) == (
        "only a decision (resolved or out of scope) can be appealed")
    assert appeal_problem(S.RESOLVED, decided, decided, already_appealed=True) == (
        "this case has been appealed once already; an appeal decision is final")
    short = DueSchedule(appeal_window=10)
    assert appeal_problem(S.RESOLVED, decided, date(2026, 5, 11), already_appealed=False,
                          schedule=short) == "the appeal window closed on 2026-05-10"


def test_a_refused_file_keeps_its_safe_name_and_the_size_is_grouped_by_spaces() -> None:
    empty = check_attachment(AttachmentUpload("a/nothing.txt", b""))
    assert (empty.filename, empty.reason) == ("nothing.txt", "the file nothing.txt is empty")
    big = check_attachment(AttachmentUpload("scan.pdf", PDF + b"0" * 2000), max_bytes=1234)
    assert (big.filename, big.reason) == ("scan.pdf",
                                          "the file scan.pdf is larger than 1 234 bytes")
    exe = check_attachment(AttachmentUpload("report.pdf", EXE))
    assert (exe.filename, exe.reason) == (
        "report.pdf", "the file report.pdf is not a PDF, PNG, JPEG or plain-text file")


@pytest.mark.parametrize(("raw", "kind", "expected"), [
    ("report.v2.pdf", "application/pdf", "report.v2.pdf"),   # only the last extension goes
    ("X-ray_.png", "image/png", "X-ray.png"),                # the stem loses a trailing _
    ("X-ray", None, "X-ray"),
])
def test_safe_filenames_keep_inner_dots_and_capitals(raw: str, kind: str | None,
                                                      expected: str) -> None:
    assert safe_filename(raw, kind) == expected


def test_a_name_without_a_type_is_cut_to_100_characters() -> None:
    assert safe_filename("a" * 300) == "a" * 100


def test_schedule_override_refusals_in_full_words_and_one_day_is_enough() -> None:
    assert DueSchedule().with_overrides({"received": 1}).received == 1
    with pytest.raises(ValueError) as refused:
        DueSchedule().with_overrides({"zeta": 3, "alpha": 3})
    assert str(refused.value) == (
        "unknown complaint due-date names: alpha, zeta; known: accepted, appeal_decision, "
        "appeal_window, close, investigation, mediation, panel, received")
    with pytest.raises(ValueError) as refused:
        DueSchedule().with_overrides({"panel": 0, "close": -2})
    assert str(refused.value) == (
        "complaint due days must be whole numbers of at least 1: close, panel")
