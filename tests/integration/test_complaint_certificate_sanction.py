"""A complaint's "suspend certificate" sanction is carried out through assurance: the named
certificate (or every current one of the member) is suspended with the complaint as the
reason, in the certificate's history and the event log; a wrong name changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from stewardship.assurance.schemas import StatusChange
from stewardship.assurance.service import certificates
from stewardship.complaints.rules import ComplaintStatus as S
from stewardship.complaints.rules import Sanction, SubjectKind
from stewardship.complaints.schemas import ComplaintCreate, TransitionRequest
from stewardship.complaints.service import filing, handling
from stewardship.core.config import Settings
from stewardship.core.errors import InvalidInput
from stewardship.core.eventlog import EventLogEntry
from tests import assurance_world as aw
from tests.today import TODAY

NOW = datetime.combine(TODAY, datetime.min.time(), UTC) + timedelta(hours=9)


def _case_in_investigation(db: Session, settings: Settings, w: aw.World) -> str:
    case, _ = filing.file_complaint(db, None, ComplaintCreate(
        subject_kind=SubjectKind.MEMBER, subject=w.org, summary="Spent pot lining dumped",
        description="Trucks unload black lumps in the old quarry behind the smelter.",
        anonymous=True), [], settings=settings, source="203.0.113.9")
    for status in (S.ACCEPTED, S.INVESTIGATION):
        handling.transition(db, w.secretariat, case.reference, TransitionRequest(to=status),
                            settings=settings, now=NOW)
    return case.reference


def _resolve(db: Session, settings: Settings, w: aw.World, reference: str,
             **extra: object) -> object:
    return handling.transition(db, w.secretariat, reference, TransitionRequest.model_validate(
        {"to": S.RESOLVED, "outcome": "Upheld: the lining was dumped.",
         "sanctions": [Sanction.SUSPEND_CERTIFICATE], **extra}), settings=settings, now=NOW)


@pytest.fixture
def two_certificates(db: Session) -> tuple[aw.World, str, str]:
    w = aw.build(db)
    first = aw.certify(db, w, aw.scope(db, w, facilities=[w.smelter],
                                       activities=["smelting"]))
    second = aw.certify(db, w, aw.scope(db, w, facilities=[w.casthouse],
                                        activities=["casthouse"]))
    assert first.certificate is not None and second.certificate is not None
    return w, first.certificate.number, second.certificate.number


def test_the_named_certificate_alone_is_suspended_with_the_complaint_as_reason(
        db: Session, settings: Settings, two_certificates: tuple[aw.World, str, str]) -> None:
    w, named, other = two_certificates
    reference = _case_in_investigation(db, settings, w)
    offered = handling.suspendable_certificates(db, w.secretariat, reference)
    assert {n for n, _ in offered} == {named, other}
    assert all("Performance Standard" in d and "valid until" in d for _, d in offered)
    read = _resolve(db, settings, w, reference, certificate=named)
    assert f"suspended: {named}." in read.steps[-1].note  # type: ignore[attr-defined]
    suspended = certificates.get_certificate(db, named)
    assert suspended.status == "suspended"
    assert reference in suspended.history[-1].reason
    assert suspended.history[-1].by == "secretariat"
    assert certificates.get_certificate(db, other).status == "active"
    entry = db.scalar(select(EventLogEntry).where(
        EventLogEntry.kind == "assurance.certificate.suspended",
        EventLogEntry.subject == f"certificate:{named}"))
    assert entry is not None and reference in entry.payload["reason"]
    assert handling.suspendable_certificates(db, w.secretariat, reference) == [
        (n, d) for n, d in offered if n == other]


def test_without_a_name_every_current_certificate_is_suspended(
        db: Session, settings: Settings, two_certificates: tuple[aw.World, str, str]) -> None:
    w, first, second = two_certificates
    reference = _case_in_investigation(db, settings, w)
    _resolve(db, settings, w, reference)
    assert {certificates.get_certificate(db, n).status for n in (first, second)} == \
        {"suspended"}


def test_a_certificate_of_someone_else_or_not_active_is_refused_by_name(
        db: Session, settings: Settings, two_certificates: tuple[aw.World, str, str]) -> None:
    w, first, _ = two_certificates
    stranger = aw.build(db)
    theirs = aw.certify(db, stranger, aw.scope(db, stranger)).certificate
    assert theirs is not None
    reference = _case_in_investigation(db, settings, w)
    with pytest.raises(InvalidInput) as not_theirs:
        _resolve(db, settings, w, reference, certificate=theirs.number)
    assert set(not_theirs.value.field_errors()) == {"certificate"}
    assert "not a certificate of the organisation" in not_theirs.value.message
    assert certificates.get_certificate(db, theirs.number).status == "active"
    certificates.suspend(db, w.secretariat, first,
                         StatusChange(reason="surveillance audit missed"))
    with pytest.raises(InvalidInput) as suspended:
        _resolve(db, settings, w, reference, certificate=first)
    assert "is suspended" in suspended.value.message
    with pytest.raises(InvalidInput) as without_sanction:
        _resolve(db, settings, w, reference, certificate=first,
                 sanctions=[Sanction.WARNING])
    assert set(without_sanction.value.field_errors()) == {"certificate"}
