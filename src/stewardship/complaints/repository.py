"""Every query of the complaints context."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import ColumnElement, Select, func, select, text
from sqlalchemy.orm import Session, selectinload, undefer

from stewardship.complaints.models import Complaint, ComplaintAttachment, ComplaintStep
from stewardship.core.pagination import Page, PageParams
from stewardship.registry.models import User

# Key for PostgreSQL's transaction-scoped advisory lock that serialises reference numbers.
_NUMBER_LOCK_KEY = 0x5354434D  # "STCM"

_CASE_LOAD = (
    selectinload(Complaint.organization),
    selectinload(Complaint.audit_firm),
    selectinload(Complaint.owner),
    selectinload(Complaint.steps),
    selectinload(Complaint.attachments),
)
_LIST_LOAD = (
    selectinload(Complaint.organization),
    selectinload(Complaint.audit_firm),
    selectinload(Complaint.owner),
)


def _page(session: Session, query: Select, params: PageParams) -> Page:  # type: ignore[type-arg]
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = session.scalars(query.offset(params.offset).limit(params.per_page)).all()
    return Page(list(rows), total or 0, params.page, params.per_page)


def next_number(session: Session, year: int) -> int:
    """The next reference number of ``year``. On PostgreSQL concurrent filings queue on an
    advisory lock until the caller's transaction ends; SQLite's writers queue anyway."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _NUMBER_LOCK_KEY})
    current = session.scalar(select(func.max(Complaint.ref_number))
                             .where(Complaint.ref_year == year))
    return (current or 0) + 1


def filings_since(session: Session, source_digest: str, since: datetime) -> list[datetime]:
    return list(session.scalars(
        select(Complaint.created_at).where(Complaint.source_digest == source_digest,
                                           Complaint.created_at >= since)
    ))


def _one(session: Session, condition: ColumnElement[bool], lock: bool) -> Complaint | None:
    query = select(Complaint).where(condition)
    if lock:
        # Writers to one case queue here on PostgreSQL (SQLite's writers queue anyway).
        query = query.with_for_update(of=Complaint)
    return session.scalar(query.options(*_CASE_LOAD)
                          .execution_options(populate_existing=True))


def by_reference(session: Session, reference: str, *, lock: bool = False) -> Complaint | None:
    """A case with its subject, owner, steps and attachments; ``lock`` before changing it."""
    return _one(session, Complaint.reference == reference, lock)


def by_token_digest(session: Session, digest: str, *, lock: bool = False) -> Complaint | None:
    return _one(session, Complaint.token_digest == digest, lock)


def list_complaints(session: Session, params: PageParams, *,
                    statuses: Sequence[str] | None = None, overdue_on: date | None = None,
                    public_only: bool = False) -> Page[Complaint]:
    """Cases by due date (soonest first, closed ones last), then newest reference.

    ``overdue_on`` keeps the cases whose due date lies before that day.
    """
    query = select(Complaint)
    if statuses is not None:  # an empty list keeps no case
        query = query.where(Complaint.status.in_(statuses))
    if overdue_on is not None:
        query = query.where(Complaint.due_on.is_not(None), Complaint.due_on < overdue_on)
    if public_only:
        query = query.where(Complaint.consent_complainant.is_(True),
                            Complaint.consent_respondent.is_(True))
        query = query.order_by(Complaint.ref_year.desc(), Complaint.ref_number.desc())
    else:
        query = query.order_by(Complaint.due_on.is_(None), Complaint.due_on,
                               Complaint.ref_year.desc(), Complaint.ref_number.desc())
    return _page(session, query.options(*_LIST_LOAD), params)


def last_step_sequence(session: Session, complaint_id: uuid.UUID) -> int:
    return session.scalar(select(func.max(ComplaintStep.sequence))
                          .where(ComplaintStep.complaint_id == complaint_id)) or 0


def attachment_with_data(session: Session, complaint_id: uuid.UUID,
                         attachment_id: uuid.UUID) -> ComplaintAttachment | None:
    return session.scalar(
        select(ComplaintAttachment)
        .where(ComplaintAttachment.id == attachment_id,
               ComplaintAttachment.complaint_id == complaint_id)
        .options(undefer(ComplaintAttachment.data))
    )


# --- secretariat staff (read from the registry's table) ---------------------------------


def secretariat_user(session: Session, user_id: uuid.UUID) -> User | None:
    """An active secretariat user: the only people who may own a case."""
    return session.scalar(select(User).where(User.id == user_id, User.role == "secretariat",
                                             User.active.is_(True)))


def secretariat_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).where(User.role == "secretariat",
                                                   User.active.is_(True))
                                .order_by(User.name)))


def count_rows(session: Session) -> dict[str, int]:
    """How many complaints, steps and attachments exist (for reports and checks)."""
    return {
        "complaints": session.scalar(select(func.count()).select_from(Complaint)) or 0,
        "steps": session.scalar(select(func.count()).select_from(ComplaintStep)) or 0,
        "attachments": session.scalar(
            select(func.count()).select_from(ComplaintAttachment)) or 0,
    }
