"""Every query of the standards context."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from stewardship.standards.models import (
    ApplicabilityExclusion,
    Ballot,
    BodyMember,
    Comment,
    ConsultationRound,
    Criterion,
    Principle,
    Revision,
    Standard,
    StandardVersion,
    Vote,
)


def standard_by_urn(db: Session, urn: str) -> Standard | None:
    return db.scalar(select(Standard).where(Standard.urn == urn)
                     .options(selectinload(Standard.versions)))


def standard_by_slug(db: Session, slug: str) -> Standard | None:
    return db.scalar(select(Standard).where(Standard.slug == slug)
                     .options(selectinload(Standard.versions)).execution_options(
                         populate_existing=True))


def list_standards(db: Session) -> list[Standard]:
    return list(db.scalars(select(Standard).options(selectinload(Standard.versions))
                           .order_by(Standard.kind.desc(), Standard.title)))


def version_of(db: Session, standard_id: uuid.UUID, version: int) -> StandardVersion | None:
    return db.scalar(select(StandardVersion).where(StandardVersion.standard_id == standard_id,
                                                   StandardVersion.version == version)
                     .options(selectinload(StandardVersion.standard)))


def version_by_id(db: Session, version_id: uuid.UUID) -> StandardVersion | None:
    return db.get(StandardVersion, version_id, options=[selectinload(StandardVersion.standard)])


def max_version(db: Session, standard_id: uuid.UUID) -> int:
    return db.scalar(select(func.max(StandardVersion.version))
                     .where(StandardVersion.standard_id == standard_id)) or 0


def principles_of(db: Session, version_id: uuid.UUID) -> list[Principle]:
    return list(db.scalars(select(Principle).where(Principle.version_id == version_id)
                           .order_by(Principle.number)))


def criteria_of(db: Session, version_id: uuid.UUID) -> list[Criterion]:
    return list(db.scalars(select(Criterion).where(Criterion.version_id == version_id)
                           .order_by(Criterion.principle_number, Criterion.minor)))


def criterion_of(db: Session, version_id: uuid.UUID, number: str) -> Criterion | None:
    return db.scalar(select(Criterion).where(Criterion.version_id == version_id,
                                             Criterion.number == number))


def exclusions_for(db: Session, version_id: uuid.UUID,
                   entity_id: uuid.UUID) -> list[ApplicabilityExclusion]:
    return list(db.scalars(select(ApplicabilityExclusion).where(
        ApplicabilityExclusion.version_id == version_id,
        ApplicabilityExclusion.entity_id == entity_id)))


# --- standard setting -------------------------------------------------------------------


def revision_by_id(db: Session, revision_id: uuid.UUID) -> Revision | None:
    return db.get(Revision, revision_id,
                  options=[selectinload(Revision.standard), selectinload(Revision.rounds)],
                  populate_existing=True)


def list_revisions(db: Session, *, statuses: Sequence[str] | None = None) -> list[Revision]:
    query = select(Revision).options(selectinload(Revision.standard),
                                     selectinload(Revision.rounds))
    if statuses is not None:
        query = query.where(Revision.status.in_(statuses))
    return list(db.scalars(query.order_by(Revision.created_at.desc())))


def round_by_id(db: Session, round_id: uuid.UUID) -> ConsultationRound | None:
    return db.get(ConsultationRound, round_id)


def comments_of(db: Session, round_ids: Sequence[uuid.UUID]) -> list[Comment]:
    if not round_ids:
        return []
    return list(db.scalars(select(Comment).where(Comment.round_id.in_(round_ids))
                           .order_by(Comment.created_at, Comment.id)))


def count_unanswered(db: Session, round_id: uuid.UUID) -> int:
    return db.scalar(select(func.count()).select_from(Comment).where(
        Comment.round_id == round_id, Comment.response.is_(None))) or 0


def comment_by_id(db: Session, comment_id: uuid.UUID) -> Comment | None:
    return db.get(Comment, comment_id)


def comment_times_from(db: Session, source: str, since: datetime) -> list[datetime]:
    return list(db.scalars(select(Comment.created_at).where(Comment.source == source,
                                                            Comment.created_at >= since)))


def body_members(db: Session) -> list[BodyMember]:
    return list(db.scalars(select(BodyMember).order_by(BodyMember.chamber, BodyMember.name)))


def active_body_members(db: Session, on: date) -> list[BodyMember]:
    """Seats that count on ``on``: within their term and not ended before it."""
    return list(db.scalars(select(BodyMember).where(
        BodyMember.term_starts_on <= on, BodyMember.term_ends_on >= on,
        or_(BodyMember.ended_on.is_(None), BodyMember.ended_on > on))
        .order_by(BodyMember.chamber, BodyMember.name)))


def body_members_of_user(db: Session, user_id: uuid.UUID) -> list[BodyMember]:
    return list(db.scalars(select(BodyMember).where(BodyMember.user_id == user_id)))


def body_members_of_email(db: Session, email: str) -> list[BodyMember]:
    """Seats held without an account by the person with this contact address."""
    return list(db.scalars(select(BodyMember).where(BodyMember.user_id.is_(None),
                                                    BodyMember.email == email)))


def body_member_by_id(db: Session, member_id: uuid.UUID) -> BodyMember | None:
    return db.get(BodyMember, member_id, populate_existing=True)


def body_members_by_ids(db: Session, ids: Sequence[uuid.UUID]) -> list[BodyMember]:
    if not ids:
        return []
    return list(db.scalars(select(BodyMember).where(BodyMember.id.in_(ids))
                           .order_by(BodyMember.chamber, BodyMember.name)))


def vote_by_id(db: Session, vote_id: uuid.UUID) -> Vote | None:
    return db.get(Vote, vote_id, populate_existing=True)


def votes_of(db: Session, revision_id: uuid.UUID) -> list[Vote]:
    return list(db.scalars(select(Vote).where(Vote.revision_id == revision_id)
                           .order_by(Vote.opened_at)))


def vote_for_update(db: Session, vote_id: uuid.UUID) -> Vote | None:
    """The vote, its row locked until the transaction ends (PostgreSQL; SQLite has one
    writer at a time), read afresh."""
    return db.scalar(select(Vote).where(Vote.id == vote_id).with_for_update()
                     .execution_options(populate_existing=True))


def due_votes(db: Session, today: date, *, vote_id: uuid.UUID | None = None,
              revision_id: uuid.UUID | None = None, lock: bool = False) -> list[Vote]:
    """Open votes whose closing day is over (of one vote or revision, or all), oldest
    first; ``lock`` locks their rows and reads them afresh."""
    query = select(Vote).where(Vote.closed_at.is_(None), Vote.closes_on < today)
    if vote_id is not None:
        query = query.where(Vote.id == vote_id)
    if revision_id is not None:
        query = query.where(Vote.revision_id == revision_id)
    query = query.order_by(Vote.closes_on, Vote.opened_at)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return list(db.scalars(query))


def open_vote_of(db: Session, revision_id: uuid.UUID) -> Vote | None:
    return db.scalar(select(Vote).where(Vote.revision_id == revision_id,
                                        Vote.closed_at.is_(None)))


def ballots_of(db: Session, vote_id: uuid.UUID) -> list[Ballot]:
    return list(db.scalars(select(Ballot).where(Ballot.vote_id == vote_id)))


def ballot_of(db: Session, vote_id: uuid.UUID, member_id: uuid.UUID) -> Ballot | None:
    return db.scalar(select(Ballot).where(Ballot.vote_id == vote_id,
                                          Ballot.member_id == member_id))


def closed_votes(db: Session) -> list[Vote]:
    return list(db.scalars(select(Vote).where(Vote.closed_at.is_not(None))
                           .order_by(Vote.closed_at.desc())))
