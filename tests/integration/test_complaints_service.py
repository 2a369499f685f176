"""The complaints services on a real database (SQLite, and PostgreSQL where reachable)."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from stewardship.complaints import repository as repo
from stewardship.complaints.models import Complaint, ComplaintStep
from stewardship.complaints.rules import AttachmentUpload, ComplaintStatus, Sanction
from stewardship.complaints.schemas import ComplaintCase, ComplaintCreate, TransitionRequest
from stewardship.complaints.service import cases, filing, handling
from stewardship.core import eventlog
from stewardship.core.auth import Role
from stewardship.core.config import Settings
from stewardship.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unauthenticated,
)
from stewardship.core.eventlog import EventLogEntry
from stewardship.core.pagination import PageParams
from stewardship.registry import repository as registry_repo
from tests import factories
from tests.complaint_samples import EXE, PDF, png_bytes

S = ComplaintStatus
T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
DAY = timedelta(days=1)
_sources = itertools.count(1)

NAME, EMAIL = "Mariam Konaté", "mariam.konate@villages.example"


def complaint(subject_kind: str = "member", subject: str | None = None,
              **overrides: Any) -> ComplaintCreate:
    values: dict[str, Any] = {
        "subject_kind": subject_kind, "subject": subject,
        "summary": "Dust from the haul road covers our fields",
        "description": "Since March the trucks run at night without covering their loads; "
                       "dust settles on the fields and in the school.",
        "anonymous": False, "complainant_name": NAME, "complainant_email": EMAIL,
    }
    values.update(overrides)
    return ComplaintCreate(**values)


def file(db: Session, settings: Settings, data: ComplaintCreate,
         uploads: list[AttachmentUpload] | None = None, *, now: datetime = T0,
         source: str | None = None) -> tuple[Any, str]:
    return filing.file_complaint(db, None, data, uploads or [], settings=settings,
                                 source=source or f"192.0.2.{next(_sources)}", now=now)


def kinds(db: Session) -> list[str]:
    db.flush()
    return list(db.scalars(select(EventLogEntry.kind).order_by(EventLogEntry.sequence)))


@pytest.fixture
def secretariat(db: Session) -> Any:
    return factories.user(db, Role.SECRETARIAT)


@pytest.fixture
def member(db: Session) -> str:
    return factories.organization(db, name="Riverbend Bauxite")


def move(db: Session, actor: Any, settings: Settings, ref: str, to: S, at: datetime,
         **extra: Any) -> Any:
    return handling.transition(db, actor, ref, TransitionRequest(to=to, **extra),
                               settings=settings, now=at)


# --- filing -----------------------------------------------------------------------------


def test_filing_named_stores_only_the_token_digest(db: Session, settings: Settings,
                                                   member: str) -> None:
    case, token = file(db, settings, complaint(subject=member))
    assert case.reference == "C-2026-0001"
    assert case.status is S.RECEIVED
    assert case.due_on == T0.date() + 14 * DAY
    row = db.scalar(select(Complaint).where(Complaint.reference == case.reference))
    assert row is not None
    assert row.token_digest == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr([getattr(row, c.key) for c in Complaint.__table__.columns])
    assert row.complainant_name == NAME and row.complainant_email == EMAIL
    assert row.organization_id is not None
    assert filing.track(db, token, settings=settings).reference == case.reference
    second, _ = file(db, settings, complaint(subject=member))
    assert second.reference == "C-2026-0002"


def test_filing_anonymously_keeps_no_name(db: Session, settings: Settings, member: str) -> None:
    case, token = file(db, settings, complaint(subject=member, anonymous=True,
                                               complainant_name=None, complainant_email=None))
    row = db.scalar(select(Complaint).where(Complaint.reference == case.reference))
    assert row is not None and row.anonymous
    assert row.complainant_name is None and row.complainant_email is None
    tracked = filing.track(db, token, settings=settings)
    assert tracked.anonymous and tracked.steps[0].kind == "filed"


def test_named_complaints_need_name_and_email_and_anonymous_ones_no_name(
        db: Session, settings: Settings, member: str) -> None:
    with pytest.raises(InvalidInput) as missing:
        file(db, settings, complaint(subject=member, complainant_name=None,
                                     complainant_email=None))
    assert set(missing.value.field_errors()) == {"complainant_name", "complainant_email"}
    with pytest.raises(InvalidInput) as named:
        file(db, settings, complaint(subject=member, anonymous=True))
    assert "complainant_name" in named.value.field_errors()


@pytest.mark.parametrize(("kind", "slug"), [
    ("member", "no-such-member"), ("member", None), ("audit_firm", "no-such-firm"),
    ("secretariat", "someone"),
])
def test_the_subject_must_be_in_the_register(db: Session, settings: Settings, kind: str,
                                            slug: str | None) -> None:
    with pytest.raises(InvalidInput) as refused:
        file(db, settings, complaint(subject_kind=kind, subject=slug))
    assert "subject" in refused.value.field_errors()


def test_applicants_are_not_visible_subjects_to_the_public(db: Session,
                                                          settings: Settings) -> None:
    hidden = factories.organization(db, admitted=False)
    with pytest.raises(InvalidInput):
        file(db, settings, complaint(subject=hidden))


def test_complaints_about_audit_firms_and_the_secretariat(db: Session,
                                                          settings: Settings) -> None:
    firm = factories.audit_firm(db)
    about_firm, _ = file(db, settings, complaint(subject_kind="audit_firm", subject=firm))
    assert about_firm.subject.slug == firm
    about_us, _ = file(db, settings, complaint(subject_kind="secretariat"))
    assert about_us.subject.name == "The secretariat"


def test_attachments_are_typed_by_their_bytes(db: Session, settings: Settings,
                                              member: str) -> None:
    case, _ = file(db, settings, complaint(subject=member), [
        AttachmentUpload("photo.pdf", png_bytes()), AttachmentUpload("letter.pdf", PDF)])
    assert [(a.filename, a.content_type) for a in case.attachments] == [
        ("photo.png", "image/png"), ("letter.pdf", "application/pdf")]
    staff = factories.user(db, Role.SECRETARIAT)
    stored = handling.attachment(db, staff, case.reference, case.attachments[0].id)
    assert stored.data == png_bytes()
    assert stored.sha256 == hashlib.sha256(png_bytes()).hexdigest()
    other = factories.user(db, Role.MEMBER_ADMIN, organization=member)
    with pytest.raises(Forbidden):
        handling.attachment(db, other, case.reference, case.attachments[0].id)


@pytest.mark.parametrize(("uploads", "error", "needle"), [
    ([AttachmentUpload("run.pdf", EXE)], InvalidInput, "run.pdf"),
    ([AttachmentUpload(f"n{i}.txt", b"note") for i in range(6)], InvalidInput, "at most 5"),
    ([AttachmentUpload("huge.pdf", PDF + b"x" * 2_000)], PayloadTooLarge, "huge.pdf"),
])
def test_a_refused_filing_stores_nothing(db: Session, settings: Settings, member: str,
                                        uploads: list[AttachmentUpload], error: type,
                                        needle: str) -> None:
    settings.complaint_attachment_max_bytes = 1_000
    before_rows, before_events = repo.count_rows(db), eventlog.count_entries(db)
    with pytest.raises(error) as refused:
        file(db, settings, complaint(subject=member), uploads)
    assert needle in str(refused.value.details)
    assert refused.value.field_errors().keys() == {"attachments"}
    db.flush()
    assert repo.count_rows(db) == before_rows
    assert eventlog.count_entries(db) == before_events


def test_flood_control_per_source(db: Session, settings: Settings, member: str) -> None:
    settings.complaints_per_hour = 2
    for minute in (0, 10):
        file(db, settings, complaint(subject=member), now=T0 + timedelta(minutes=minute),
             source="198.51.100.7")
    before_rows, before_events = repo.count_rows(db), eventlog.count_entries(db)
    with pytest.raises(TooManyRequests):
        file(db, settings, complaint(subject=member), now=T0 + timedelta(minutes=30),
             source="198.51.100.7")
    assert repo.count_rows(db) == before_rows and eventlog.count_entries(db) == before_events
    file(db, settings, complaint(subject=member), now=T0 + timedelta(minutes=30),
         source="198.51.100.8")
    file(db, settings, complaint(subject=member), now=T0 + timedelta(minutes=61),
         source="198.51.100.7")


def test_filing_event_carries_no_personal_data(db: Session, settings: Settings,
                                               member: str) -> None:
    case, token = file(db, settings, complaint(subject=member, complainant_affiliation="Kolo"),
                       [AttachmentUpload("my-name-is-mariam.txt", b"notes")])
    entry = db.scalar(select(EventLogEntry).where(EventLogEntry.kind ==
                                                  "complaints.complaint.filed"))
    assert entry is not None
    assert entry.subject == f"complaint:{case.reference}"
    assert entry.actor == "system:complainant"
    text = repr(entry.payload)
    for secret in (NAME, EMAIL, "Kolo", "mariam", token, "Dust"):
        assert secret not in text
    assert entry.payload["subject"] == member
    assert entry.payload["attachments"][0]["sha256"] == hashlib.sha256(b"notes").hexdigest()


def test_unknown_tracking_token(db: Session, settings: Settings) -> None:
    with pytest.raises(NotFound):
        filing.track(db, "not-a-token", settings=settings)


# --- handling ---------------------------------------------------------------------------


def test_transitions_set_due_dates_owner_and_log(db: Session, settings: Settings,
                                                 member: str, secretariat: Any) -> None:
    case, token = file(db, settings, complaint(subject=member))
    ref = case.reference
    read = handling.assign(db, secretariat, ref, secretariat.user_id, settings=settings,
                           now=T0 + DAY)
    assert read.owner is not None and read.owner.id == secretariat.user_id
    read = move(db, secretariat, settings, ref, S.ACCEPTED, T0 + 3 * DAY,
                note="Within scope: principle 7.", public_note=True)
    assert read.status is S.ACCEPTED and read.due_on == (T0 + 17 * DAY).date()
    read = move(db, secretariat, settings, ref, S.INVESTIGATION, T0 + 10 * DAY,
                note="Site visit planned with the mediator's notes (internal).")
    assert read.due_on == (T0 + 100 * DAY).date()
    assert read.status_since == (T0 + 10 * DAY).date()
    assert [s.kind for s in read.steps] == ["filed", "assigned", "transition", "transition"]
    assert read.steps[-1].due_on == read.due_on
    assert [s.to_status for s in read.steps] == [S.RECEIVED, S.RECEIVED, S.ACCEPTED,
                                                 S.INVESTIGATION]
    assert kinds(db)[-3:] == ["complaints.complaint.assigned", "complaints.complaint.accepted",
                              "complaints.complaint.sent_to_investigation"]
    tracked = filing.track(db, token, settings=settings)
    assert [s.note for s in tracked.steps][2:] == ["Within scope: principle 7.", ""]


def test_only_the_secretariat_moves_cases_and_only_legally(db: Session, settings: Settings,
                                                           member: str,
                                                           secretariat: Any) -> None:
    case, _ = file(db, settings, complaint(subject=member))
    admin = factories.user(db, Role.MEMBER_ADMIN, organization=member)
    with pytest.raises(Forbidden):
        move(db, admin, settings, case.reference, S.ACCEPTED, T0)
    with pytest.raises(Unauthenticated):
        move(db, None, settings, case.reference, S.ACCEPTED, T0)
    with pytest.raises(Conflict) as illegal:
        move(db, secretariat, settings, case.reference, S.RESOLVED, T0, outcome="x",
             sanctions=[Sanction.NONE])
    assert illegal.value.field_errors() == {"to": illegal.value.message}
    with pytest.raises(InvalidInput) as why:
        move(db, secretariat, settings, case.reference, S.OUT_OF_SCOPE, T0)
    assert "note" in why.value.field_errors()
    with pytest.raises(InvalidInput):
        handling.assign(db, secretariat, case.reference, admin.user_id, settings=settings)


def _to_investigation(db: Session, settings: Settings, secretariat: Any,
                      member: str) -> tuple[str, str]:
    case, token = file(db, settings, complaint(subject=member))
    move(db, secretariat, settings, case.reference, S.ACCEPTED, T0 + DAY)
    move(db, secretariat, settings, case.reference, S.INVESTIGATION, T0 + 2 * DAY)
    return case.reference, token


def test_resolving_needs_outcome_and_sanctions(db: Session, settings: Settings, member: str,
                                               secretariat: Any) -> None:
    ref, _ = _to_investigation(db, settings, secretariat, member)
    with pytest.raises(InvalidInput) as no_outcome:
        move(db, secretariat, settings, ref, S.RESOLVED, T0 + 3 * DAY,
             sanctions=[Sanction.WARNING])
    assert "outcome" in no_outcome.value.field_errors()
    with pytest.raises(InvalidInput) as no_sanctions:
        move(db, secretariat, settings, ref, S.RESOLVED, T0 + 3 * DAY, outcome="Upheld.")
    assert "sanctions" in no_sanctions.value.field_errors()
    with pytest.raises(InvalidInput):
        move(db, secretariat, settings, ref, S.RESOLVED, T0 + 3 * DAY, outcome="Upheld.",
             sanctions=[Sanction.WITHDRAW_ACCREDITATION])
    with pytest.raises(InvalidInput):
        move(db, secretariat, settings, ref, S.PANEL, T0 + 3 * DAY, outcome="Too early.")


def test_suspend_membership_goes_through_the_registry(db: Session, settings: Settings,
                                                      member: str, secretariat: Any) -> None:
    ref, _ = _to_investigation(db, settings, secretariat, member)
    read = move(db, secretariat, settings, ref, S.RESOLVED, T0 + 20 * DAY,
                outcome="Upheld: run-off controls were never built.", public_note=True,
                note="Decision of the secretariat.",
                sanctions=[Sanction.SUSPEND_MEMBERSHIP, Sanction.SUSPEND_CERTIFICATE])
    org = registry_repo.organization_by_slug(db, member)
    assert org is not None and org.status == "suspended"
    assert read.sanctions == [Sanction.SUSPEND_MEMBERSHIP, Sanction.SUSPEND_CERTIFICATE]
    assert read.due_on == (T0 + 50 * DAY).date()
    note = read.steps[-1].note
    assert "Membership of Riverbend Bauxite suspended." in note
    assert "Riverbend Bauxite holds no current certificate to suspend." in note
    recent = kinds(db)[-2:]
    assert recent == ["registry.organization.suspended", "complaints.complaint.resolved"]
    suspended = db.scalar(select(EventLogEntry).where(
        EventLogEntry.kind == "registry.organization.suspended"))
    assert suspended is not None and ref in suspended.payload["reason"]


def test_suspend_certificate_suspends_the_members_current_certificates(
        db: Session, settings: Settings) -> None:
    from stewardship.assurance.service import certificates
    from tests import assurance_world as aw

    w = aw.build(db)
    decision = aw.certify(db, w, aw.scope(db, w))
    number = decision.certificate.number if decision.certificate else None
    assert number is not None
    ref, _ = _to_investigation(db, settings, w.secretariat, w.org)
    read = move(db, w.secretariat, settings, ref, S.RESOLVED, T0 + 20 * DAY,
                outcome="Upheld.", note="Decision of the secretariat.",
                sanctions=[Sanction.SUSPEND_CERTIFICATE])
    assert f"suspended: {number}" in read.steps[-1].note
    certificate = certificates.get_certificate(db, number)
    assert certificate.status == "suspended"
    assert ref in certificate.history[-1].reason


def test_suspending_an_already_suspended_member_changes_nothing(
        db: Session, settings: Settings, member: str, secretariat: Any) -> None:
    ref, _ = _to_investigation(db, settings, secretariat, member)
    from stewardship.registry.rules import OrganizationStatus
    from stewardship.registry.service import organizations

    organizations.change_status(db, secretariat, member, OrganizationStatus.SUSPENDED, "fees")
    read = move(db, secretariat, settings, ref, S.RESOLVED, T0 + 5 * DAY, outcome="Upheld.",
                sanctions=[Sanction.SUSPEND_MEMBERSHIP])
    assert "already" in read.steps[-1].note


def test_appeal_window_close_and_terminal_closed(db: Session, settings: Settings, member: str,
                                                 secretariat: Any) -> None:
    ref, token = _to_investigation(db, settings, secretariat, member)
    decided = T0 + 10 * DAY
    move(db, secretariat, settings, ref, S.RESOLVED, decided, outcome="Not upheld.",
         sanctions=[Sanction.NONE])
    tracked = filing.track(db, token, settings=settings, now=decided + 29 * DAY)
    assert tracked.appeal_open and tracked.appeal_last_day == (decided + 29 * DAY).date()
    with pytest.raises(Conflict):
        move(db, secretariat, settings, ref, S.CLOSED, decided + 29 * DAY)
    with pytest.raises(Conflict) as late:
        filing.appeal(db, token, "The evidence was not read.", settings=settings,
                      now=decided + 30 * DAY)
    assert "window closed" in late.value.message
    appealed = filing.appeal(db, token, "The evidence was not read.", settings=settings,
                             now=decided + 29 * DAY)
    assert appealed.status is S.APPEALED
    assert appealed.due_on == (decided + 89 * DAY).date()
    assert appealed.steps[-1].note == "The evidence was not read."   # their own words
    assert kinds(db)[-1] == "complaints.complaint.appealed"
    move(db, secretariat, settings, ref, S.PANEL, decided + 40 * DAY)
    move(db, secretariat, settings, ref, S.RESOLVED, decided + 80 * DAY, outcome="Upheld.",
         sanctions=[Sanction.WARNING])
    with pytest.raises(Conflict) as twice:
        filing.appeal(db, token, "Again, please.", settings=settings, now=decided + 81 * DAY)
    assert "once" in twice.value.message
    closed = move(db, secretariat, settings, ref, S.CLOSED, decided + 81 * DAY)
    assert closed.status is S.CLOSED and closed.due_on is None and closed.next_statuses == []
    for target in S:
        with pytest.raises(Conflict):
            move(db, secretariat, settings, ref, target, decided + 90 * DAY)


def test_out_of_scope_can_be_appealed_and_dismissed(db: Session, settings: Settings,
                                                    member: str, secretariat: Any) -> None:
    case, token = file(db, settings, complaint(subject=member))
    move(db, secretariat, settings, case.reference, S.OUT_OF_SCOPE, T0 + DAY,
         note="About a road the member does not operate.", public_note=True)
    filing.appeal(db, token, "The member runs the trucks on that road.", settings=settings,
                  now=T0 + 5 * DAY)
    with pytest.raises(InvalidInput):
        move(db, secretariat, settings, case.reference, S.CLOSED, T0 + 6 * DAY)
    closed = move(db, secretariat, settings, case.reference, S.CLOSED, T0 + 6 * DAY,
                  note="Dismissed: the trucks belong to a contractor of another company.")
    assert closed.status is S.CLOSED


# --- consent and the public log ---------------------------------------------------------


def test_public_log_needs_both_consents_and_hides_the_complainant(
        db: Session, settings: Settings, member: str, secretariat: Any) -> None:
    case, token = file(db, settings, complaint(subject=member, complainant_affiliation="Kolo"),
                       [AttachmentUpload("mariam-evidence.txt", b"sampling notes")])
    ref = case.reference
    move(db, secretariat, settings, ref, S.ACCEPTED, T0 + DAY,
         note="Accepted; we wrote to Mariam Konaté.", public_note=False)
    everyone = PageParams(1, 20)
    with pytest.raises(NotFound):
        cases.get_case(db, None, ref, settings=settings)
    filing.set_complainant_consent(db, token, True, settings=settings, now=T0 + 2 * DAY)
    assert cases.list_public(db, everyone).total == 0
    with pytest.raises(NotFound):
        cases.get_case(db, None, ref, settings=settings)
    admin = factories.user(db, Role.MEMBER_ADMIN, organization=member)
    handling.set_respondent_consent(db, admin, ref, True, settings=settings, now=T0 + 3 * DAY)
    listed = cases.list_public(db, everyone)
    assert [c.reference for c in listed.items] == [ref]
    public = cases.get_case(db, None, ref, settings=settings)
    assert type(public) is ComplaintCase and public.public
    shown = public.model_dump_json() + listed.items[0].model_dump_json()
    for secret in (NAME, EMAIL, "Kolo", "mariam-evidence", "Mariam", "Since March"):
        assert secret not in shown
    assert [s.actor_role for s in public.steps][-1] == "respondent"
    consents = [k for k in kinds(db) if k.startswith("complaints.consent.")]
    assert consents == ["complaints.consent.given", "complaints.consent.given"]
    filing.set_complainant_consent(db, token, False, settings=settings, now=T0 + 4 * DAY)
    assert cases.list_public(db, everyone).total == 0
    assert kinds(db)[-1] == "complaints.consent.withdrawn"


def test_who_may_answer_for_the_respondent(db: Session, settings: Settings, member: str,
                                           secretariat: Any) -> None:
    case, _ = file(db, settings, complaint(subject=member))
    ref = case.reference
    user = factories.user(db, Role.MEMBER_USER, organization=member)
    with pytest.raises(Forbidden):
        handling.set_respondent_consent(db, user, ref, True, settings=settings)
    stranger = factories.user(db, Role.MEMBER_ADMIN, organization=factories.organization(db))
    with pytest.raises(NotFound):
        handling.set_respondent_consent(db, stranger, ref, True, settings=settings)
    assert isinstance(cases.get_case(db, user, ref, settings=settings), ComplaintCase)
    with pytest.raises(NotFound):
        cases.get_case(db, stranger, ref, settings=settings)
    read = handling.set_respondent_consent(db, secretariat, ref, True, settings=settings)
    assert read.consent_respondent   # type: ignore[union-attr]
    steps = db.scalars(select(ComplaintStep).where(ComplaintStep.kind == "consent")).all()
    assert [s.actor_role for s in steps] == ["secretariat"]


def test_secretariat_list_filters(db: Session, settings: Settings, member: str,
                                  secretariat: Any) -> None:
    late, _ = file(db, settings, complaint(subject=member), now=T0)
    fresh, _ = file(db, settings, complaint(subject=member), now=T0 + 20 * DAY)
    move(db, secretariat, settings, fresh.reference, S.ACCEPTED, T0 + 21 * DAY)
    params = PageParams(1, 20)
    now = T0 + 22 * DAY
    every = cases.list_complaints(db, secretariat, params, now=now)
    assert [c.reference for c in every.items] == [late.reference, fresh.reference]
    assert [c.overdue for c in every.items] == [True, False]
    overdue = cases.list_complaints(db, secretariat, params, overdue=True, now=now)
    assert [c.reference for c in overdue.items] == [late.reference]
    accepted = cases.list_complaints(db, secretariat, params, status="accepted", now=now)
    assert [c.reference for c in accepted.items] == [fresh.reference]
    with pytest.raises(InvalidInput):
        cases.list_complaints(db, secretariat, params, status="pending")
    with pytest.raises(Forbidden):
        cases.list_complaints(db, factories.user(db, Role.MEMBER_ADMIN, organization=member),
                              params)


def test_demo_complaints_load_once(db: Session, settings: Settings) -> None:
    from stewardship.complaints.demo import load_demo_complaints

    factories.organization(db, name="Kebbe Bauxite")
    org = registry_repo.organization_by_slug(db, "kebbe-bauxite")
    assert org is not None
    firm = factories.audit_firm(db, name="Thistlebrook Assurance")
    assert firm == "thistlebrook-assurance"
    assert load_demo_complaints(db, settings, now=T0) == 2
    assert load_demo_complaints(db, settings, now=T0) == 0
    public = cases.list_public(db, PageParams(1, 20), now=T0)
    assert [c.subject.slug for c in public.items] == ["kebbe-bauxite"]
    assert public.items[0].status is S.MEDIATION
    staff = factories.user(db, Role.SECRETARIAT)
    listed = cases.list_complaints(db, staff, PageParams(1, 20), overdue=True, now=T0)
    assert [c.subject.slug for c in listed.items] == ["thistlebrook-assurance"]
    assert listed.items[0].anonymous


def test_two_staff_moving_one_case_at_once_queue(scratch_engine: Any,
                                                 settings: Settings) -> None:
    import threading

    from stewardship.core.db import make_sessionmaker, transaction

    factory = make_sessionmaker(scratch_engine)
    with transaction(factory) as db:
        member = factories.organization(db)
        staff = factories.user(db, Role.SECRETARIAT)
        case, _ = file(db, settings, complaint(subject=member))
    ready = threading.Barrier(2)
    results: list[str] = []

    def move_on() -> None:
        ready.wait()
        try:
            with transaction(factory) as db:
                handling.transition(db, staff, case.reference,
                                    TransitionRequest(to=S.ACCEPTED), settings=settings)
            results.append("moved")
        except Conflict:
            results.append("refused")

    workers = [threading.Thread(target=move_on) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert sorted(results) == ["moved", "refused"]
    with transaction(factory) as db:
        read = cases.get_for_secretariat(db, staff, case.reference, settings=settings)
        assert [s.kind for s in read.steps] == ["filed", "transition"]
