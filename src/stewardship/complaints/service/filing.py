"""The complainant's side: file a complaint, follow it, appeal, agree to publish.

Anyone may file, signed in or not. The answer carries a private tracking token once; only
its SHA-256 digest is kept, so a lost link cannot be recovered, only the secretariat can
help from the reference. Everything is checked before anything is written, so a refused
filing stores nothing and appends nothing to the event log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from stewardship.complaints import repository as repo
from stewardship.complaints.models import Complaint, ComplaintAttachment
from stewardship.complaints.rules import (
    FLOOD_WINDOW,
    AttachmentUpload,
    AttachmentVerdict,
    ComplaintStatus,
    SubjectKind,
    appeal_problem,
    attachments_count_problem,
    check_attachment,
    flood_limited,
    format_reference,
    next_due,
    source_digest,
)
from stewardship.complaints.schemas import ComplaintCreate, ComplaintTrack
from stewardship.complaints.service.cases import (
    COMPLAINANT_LOG_ACTOR,
    COMPLAINANT_REF,
    add_step,
    clock,
    refreshed,
    schedule_of,
    to_track,
)
from stewardship.core import eventlog
from stewardship.core.auth import Actor
from stewardship.core.config import Settings
from stewardship.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
)
from stewardship.core.pagination import PageParams
from stewardship.core.security import new_token, token_digest
from stewardship.registry.service import audit_firms, organizations


def _problem(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


def _complainant_problems(data: ComplaintCreate) -> list[dict[str, str]]:
    """A named complaint needs a name and an e-mail address; an anonymous one keeps no
    name (an e-mail address is optional, for news of the case, and never published)."""
    problems = []
    if data.anonymous:
        if data.complainant_name:
            problems.append(_problem(
                "complainant_name",
                "leave your name out of an anonymous complaint, or untick anonymous"))
    else:
        if not data.complainant_name:
            problems.append(_problem("complainant_name",
                                     "give your name, or file the complaint anonymously"))
        if not data.complainant_email:
            problems.append(_problem(
                "complainant_email",
                "give an e-mail address so the secretariat can reach you, or file "
                "anonymously"))
    return problems


def _resolve_subject(db: Session, actor: Actor | None,
                     data: ComplaintCreate) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The subject's foreign keys, read through the registry's services (which hide what
    the filer may not see), or the problem with it."""
    slug = (data.subject or "").strip().lower()
    if data.subject_kind is SubjectKind.SECRETARIAT:
        if slug:
            return {}, [_problem("subject", "leave the subject empty for a complaint about "
                                            "the secretariat")]
        return {}, []
    if not slug:
        what = "member" if data.subject_kind is SubjectKind.MEMBER else "audit firm"
        return {}, [_problem("subject", f"say which {what} the complaint is about")]
    try:
        if data.subject_kind is SubjectKind.MEMBER:
            return {"organization_id": organizations.load(db, actor, slug).id}, []
        return {"audit_firm_id": audit_firms.load(db, actor, slug).id}, []
    except NotFound:
        what = "member" if data.subject_kind is SubjectKind.MEMBER else "audit firm"
        return {}, [_problem("subject", f"there is no {what} '{slug}' in the register")]


def _check_files(uploads: Sequence[AttachmentUpload],
                 settings: Settings) -> tuple[list[AttachmentVerdict], list[dict[str, str]], bool]:
    """Verdicts on the files, the problems, and whether a problem is a file's size."""
    problems = []
    too_many = attachments_count_problem(len(uploads), settings.complaint_attachments_max)
    if too_many:
        return [], [_problem("attachments", too_many)], False
    verdicts = [check_attachment(u, max_bytes=settings.complaint_attachment_max_bytes)
                for u in uploads]
    oversize = False
    for upload, verdict in zip(uploads, verdicts, strict=True):
        if verdict.reason:
            problems.append(_problem("attachments", verdict.reason))
            oversize = oversize or len(upload.data) > settings.complaint_attachment_max_bytes
    return verdicts, problems, oversize


def file_complaint(db: Session, actor: Actor | None, data: ComplaintCreate,
                   uploads: Sequence[AttachmentUpload], *, settings: Settings, source: str,
                   now: datetime | None = None) -> tuple[ComplaintTrack, str]:
    """File a complaint (anyone). Returns the case as the complainant sees it and the raw
    tracking token, which is not stored and cannot be shown again.

    Refused, with every problem named by field, when the complainant's details do not fit
    the anonymous choice, the subject is not in the register, a file is empty, too large
    (413) or not really a PDF, PNG, JPEG or plain text, or there are too many files; and
    with 429 when the same client address filed ``complaints_per_hour`` in the last hour.
    """
    moment, today = clock(now)
    schedule = schedule_of(settings)
    subject_keys, problems = _resolve_subject(db, actor, data)
    problems = _complainant_problems(data) + problems
    verdicts, file_problems, oversize = _check_files(uploads, settings)
    problems += file_problems
    if problems:
        error = PayloadTooLarge if oversize else InvalidInput
        raise error(problems[0]["message"] if len(problems) == 1
                    else "the complaint cannot be filed: " + "; ".join(
                        p["message"] for p in problems[:5]), details=problems)
    digest = source_digest(settings.secret_key, source)
    if flood_limited(repo.filings_since(db, digest, moment - FLOOD_WINDOW), moment,
                     settings.complaints_per_hour):
        raise TooManyRequests(
            f"at most {settings.complaints_per_hour} complaints can be filed from one "
            "address in an hour; please try again later, or write to the secretariat")

    token = new_token()
    number = repo.next_number(db, today.year)
    status = ComplaintStatus.RECEIVED
    case = Complaint(
        reference=format_reference(today.year, number), ref_year=today.year, ref_number=number,
        subject_kind=data.subject_kind.value, summary=data.summary,
        description=data.description, anonymous=data.anonymous,
        complainant_name=None if data.anonymous else data.complainant_name,
        complainant_email=str(data.complainant_email) if data.complainant_email else None,
        complainant_affiliation=data.complainant_affiliation or None,
        status=status.value, status_since=today, due_on=next_due(status, today, schedule),
        token_digest=token_digest(token), consent_complainant=data.consent_public,
        consent_respondent=False, sanctions=[], source_digest=digest, created_at=moment,
        updated_at=moment, **subject_keys)
    db.add(case)
    db.flush()
    stored = []
    for upload, verdict in zip(uploads, verdicts, strict=True):
        assert verdict.content_type is not None
        attachment = ComplaintAttachment(
            complaint_id=case.id, filename=verdict.filename, content_type=verdict.content_type,
            size=len(upload.data), sha256=hashlib.sha256(upload.data).hexdigest(),
            data=upload.data, created_at=moment)
        db.add(attachment)
        stored.append({"sha256": attachment.sha256, "size": attachment.size,
                       "content_type": attachment.content_type})
    note = "Complaint received."
    if data.consent_public:
        note += " The complainant agrees that the case log may be published."
    add_step(db, case, kind="filed", from_status=None, note=note, public=True,
             actor_role=COMPLAINANT_REF, actor_ref=COMPLAINANT_REF, at=moment)
    eventlog.append(db, COMPLAINANT_LOG_ACTOR, "complaints.complaint.filed",
                    f"complaint:{case.reference}",
                    {"subject_kind": data.subject_kind.value,
                     "subject": (data.subject or "").strip().lower() or None,
                     "anonymous": data.anonymous, "due_on": case.due_on,
                     "consent_complainant": data.consent_public, "attachments": stored})
    return to_track(refreshed(db, case), today, schedule), token


def subject_choices(db: Session, actor: Actor | None) -> dict[str, list[tuple[str, str]]]:
    """What a complaint can be about, for the filing form: ``(value, label)`` pairs of the
    members and the accredited audit firms the filer can see; the value is
    ``member:<slug>`` or ``audit_firm:<slug>``."""
    members: list[tuple[str, str]] = []
    firms: list[tuple[str, str]] = []
    number = 1
    while True:
        page = organizations.list_organizations(db, actor, PageParams(number, 200),
                                                status="member")
        members += [(f"member:{o.slug}", o.name) for o in page.items]
        if number >= page.pages:
            break
        number += 1
    number = 1
    while True:
        firm_page = audit_firms.list_audit_firms(db, None, PageParams(number, 200))
        firms += [(f"audit_firm:{f.slug}", f.name) for f in firm_page.items]
        if number >= firm_page.pages:
            break
        number += 1
    return {"members": members, "audit_firms": firms}


# --- through the tracking token ---------------------------------------------------------


def _by_token(db: Session, token: str, *, lock: bool = False) -> Complaint:
    case = repo.by_token_digest(db, token_digest((token or "").strip()), lock=lock)
    if case is None:
        raise NotFound("this tracking link is not known; check that it was copied whole",
                       field="token")
    return case


def track(db: Session, token: str, *, settings: Settings,
          now: datetime | None = None) -> ComplaintTrack:
    """The complainant's view of their case: status, due dates, public notes, their own
    appeal, consents, the files they sent, and whether they may appeal now."""
    _, today = clock(now)
    return to_track(_by_token(db, token), today, schedule_of(settings))


def appeal(db: Session, token: str, grounds: str, *, settings: Settings,
           now: datetime | None = None) -> ComplaintTrack:
    """Appeal a decision (resolved or out of scope) within the appeal window, once."""
    moment, today = clock(now)
    schedule = schedule_of(settings)
    case = _by_token(db, token, lock=True)
    current = ComplaintStatus(case.status)
    problem = appeal_problem(current, case.status_since, today,
                             already_appealed=case.appealed_on is not None, schedule=schedule)
    if problem:
        raise Conflict(problem, field="grounds")
    if not grounds.strip():
        raise InvalidInput("say why the decision should be reconsidered", field="grounds")
    target = ComplaintStatus.APPEALED
    case.status, case.status_since, case.appealed_on = target.value, today, today
    case.due_on = next_due(target, today, schedule)
    add_step(db, case, kind="appeal", from_status=current.value, note=grounds, public=False,
             actor_role=COMPLAINANT_REF, actor_ref=COMPLAINANT_REF, at=moment)
    eventlog.append(db, COMPLAINANT_LOG_ACTOR, "complaints.complaint.appealed",
                    f"complaint:{case.reference}",
                    {"from": current.value, "to": target.value, "due_on": case.due_on,
                     "by": COMPLAINANT_REF})
    return to_track(refreshed(db, case), today, schedule)


def set_complainant_consent(db: Session, token: str, consent: bool, *, settings: Settings,
                            now: datetime | None = None) -> ComplaintTrack:
    """The complainant agrees to publish the case log, or withdraws that agreement."""
    moment, today = clock(now)
    case = _by_token(db, token, lock=True)
    if case.consent_complainant != consent:
        case.consent_complainant = consent
        note = ("The complainant agrees that the case log may be published." if consent
                else "The complainant withdrew the agreement to publish the case log.")
        add_step(db, case, kind="consent", from_status=case.status, note=note, public=True,
                 actor_role=COMPLAINANT_REF, actor_ref=COMPLAINANT_REF, at=moment)
        eventlog.append(db, COMPLAINANT_LOG_ACTOR,
                        f"complaints.consent.{'given' if consent else 'withdrawn'}",
                        f"complaint:{case.reference}",
                        {"party": "complainant",
                         "public": consent and case.consent_respondent})
        case = refreshed(db, case)
    return to_track(case, today, schedule_of(settings))
