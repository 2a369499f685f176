"""Revisions of a standard: drafts, consultation rounds, public comments and answers."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, timedelta

from sqlalchemy.orm import Session

from stewardship.core import clock, eventlog
from stewardship.core.auth import Actor, Role, require
from stewardship.core.config import Settings
from stewardship.core.db import utcnow
from stewardship.core.errors import Conflict, InvalidInput, NotFound, TooManyRequests
from stewardship.standards import repository as repo
from stewardship.standards.models import Comment, ConsultationRound, Revision
from stewardship.standards.package import parse_package_cached
from stewardship.standards.rules import (
    RevisionStatus,
    StandardPackage,
    TransitionRefused,
    check_round_dates,
    check_transition,
    comments_allowed,
    round_accepts_comments,
)
from stewardship.standards.schemas import (
    CommentCreate,
    CommentRead,
    DiffRead,
    RevisionCreate,
    RevisionRead,
    RoundOpen,
    RoundRead,
)
from stewardship.standards.service import library


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def move_status(db: Session, actor: Actor, revision: Revision, target: RevisionStatus,
          payload: dict[str, object], **checks: int) -> None:
    try:
        check_transition(RevisionStatus(revision.status), target, **checks)
    except TransitionRefused as exc:
        raise Conflict(str(exc), field="status") from None
    previous, revision.status = revision.status, target.value
    db.flush()
    eventlog.append(db, actor, f"standards.revision.{target.value}", f"revision:{revision.id}",
                    {"from": previous, **payload})


def load(db: Session, revision_id: uuid.UUID) -> Revision:
    revision = repo.revision_by_id(db, revision_id)
    if revision is None:
        raise NotFound("no such revision", field="revision_id")
    return revision


def settled(db: Session, revision_id: uuid.UUID) -> Revision:
    """The revision once a vote of it past its closing time has closed itself."""
    from stewardship.standards.service import votes

    votes.close_due(db, revision_id=revision_id)
    return load(db, revision_id)


def draft_package(revision: Revision) -> StandardPackage:
    return parse_package_cached(revision.draft_yaml)


def _check_draft(db: Session, standard_slug: str, text: str) -> StandardPackage:
    package = library.parse_or_reject(text)
    standard = library.load_standard(db, standard_slug)
    if package.urn != standard.urn:
        raise InvalidInput(f"the draft is for {package.urn}, not {standard.urn}", field="draft")
    latest = repo.max_version(db, standard.id)
    if package.version <= latest:
        raise InvalidInput(f"the draft must be a version above {latest}", field="draft")
    return package


# --- reading ----------------------------------------------------------------------------


def _round_read(r: ConsultationRound, comments: list[Comment], today: date) -> RoundRead:
    mine = [c for c in comments if c.round_id == r.id]
    return RoundRead(id=r.id, number=r.number, opens_on=r.opens_on, closes_on=r.closes_on,
                     closed_at=r.closed_at,
                     open_for_comments=round_accepts_comments(r.opens_on, r.closes_on,
                                                              r.closed_at is not None, today),
                     comment_count=len(mine),
                     unanswered=sum(1 for c in mine if c.response is None))


def to_read(db: Session, revision: Revision) -> RevisionRead:
    from stewardship.standards.service import votes

    comments = repo.comments_of(db, [r.id for r in revision.rounds])
    today = clock.today()
    published = (repo.version_by_id(db, revision.published_version_id)
                 if revision.published_version_id else None)
    return RevisionRead(
        id=revision.id, standard=revision.standard.slug, standard_title=revision.standard.title,
        target_version=revision.target_version, title=revision.title,
        summary=revision.summary, status=revision.status, created_at=revision.created_at,
        rounds=[_round_read(r, comments, today) for r in revision.rounds],
        votes=[votes.vote_read(db, v) for v in repo.votes_of(db, revision.id)],
        published_version=published.version if published else None)


def list_revisions(db: Session, actor: Actor | None) -> list[RevisionRead]:
    """Revisions in progress and past. Public; drafts not yet consulted on are the
    secretariat's until a round opens."""
    from stewardship.standards.service import votes

    votes.close_due(db)
    rows = repo.list_revisions(db)
    if actor is None or not actor.is_secretariat():
        # Never consulted on (still a draft, or withdrawn before a round): not public.
        rows = [r for r in rows if r.rounds]
    return [to_read(db, r) for r in rows]


def get_revision(db: Session, actor: Actor | None, revision_id: uuid.UUID) -> RevisionRead:
    revision = settled(db, revision_id)
    if not revision.rounds and not (
            actor is not None and actor.is_secretariat()):
        raise NotFound("no such revision", field="revision_id")
    return to_read(db, revision)


def base_version(db: Session, revision: Revision) -> int | None:
    """The version a revision's draft revises: the standard's newest version below the
    draft's; None for a standard's first version."""
    standard = next((s for s in library.list_standards(db) if s.slug == revision.standard.slug),
                    None)
    below = [v.version for v in standard.versions
             if v.version < revision.target_version] if standard else []
    return max(below) if below else None


def draft_changes(db: Session, actor: Actor | None, revision_id: uuid.UUID) -> DiffRead | None:
    """The draft of a revision as changes against the version it revises: criteria added,
    removed, renumbered, reworded, with other applicability or thresholds. Public once the
    draft has been consulted on, like the revision; None when there is no earlier version."""
    get_revision(db, actor, revision_id)
    revision = load(db, revision_id)
    base = base_version(db, revision)
    if base is None:
        return None
    current = library.to_package(library.load_version(db, revision.standard.slug, base))
    return library.diff_packages(revision.standard.slug, current, draft_package(revision))


# --- the secretariat's steps ------------------------------------------------------------


def create_revision(db: Session, actor: Actor | None, data: RevisionCreate) -> RevisionRead:
    """Start a revision from a complete draft package (secretariat)."""
    actor = require(actor, Role.SECRETARIAT, action="start revisions")
    package = _check_draft(db, data.standard, data.draft)
    standard = library.load_standard(db, data.standard)
    revision = Revision(standard_id=standard.id, target_version=package.version,
                        title=data.title, summary=data.summary, status="draft",
                        draft_yaml=data.draft, draft_digest=_digest(data.draft))
    db.add(revision)
    db.flush()
    eventlog.append(db, actor, "standards.revision.created", f"revision:{revision.id}",
                    {"standard": standard.slug, "target_version": package.version,
                     "draft_digest": revision.draft_digest})
    return to_read(db, load(db, revision.id))


def update_draft(db: Session, actor: Actor | None, revision_id: uuid.UUID,
                 text: str) -> RevisionRead:
    """Replace the draft between consultation rounds (secretariat)."""
    actor = require(actor, Role.SECRETARIAT, action="edit drafts")
    revision = load(db, revision_id)
    if revision.status != RevisionStatus.DRAFT:
        raise Conflict(f"the draft can change only while the revision is a draft, not in "
                       f"{revision.status}", field="status")
    package = _check_draft(db, revision.standard.slug, text)
    revision.draft_yaml, revision.draft_digest = text, _digest(text)
    revision.target_version = package.version
    db.flush()
    eventlog.append(db, actor, "standards.revision.draft_updated", f"revision:{revision.id}",
                    {"draft_digest": revision.draft_digest})
    return to_read(db, revision)


def open_round(db: Session, actor: Actor | None, revision_id: uuid.UUID, data: RoundOpen,
               settings: Settings) -> RevisionRead:
    """Open the next consultation round on the current draft (secretariat).

    The first round lasts at least 60 days, later ones 30 (settings). Dates may lie in
    the past to record a round held before the platform."""
    actor = require(actor, Role.SECRETARIAT, action="open consultation rounds")
    revision = load(db, revision_id)
    number = len(revision.rounds) + 1
    try:
        check_round_dates(number, data.opens_on, data.closes_on,
                          first_days=settings.consultation_first_round_days,
                          later_days=settings.consultation_later_round_days)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="closes_on") from None
    move_status(db, actor, revision, RevisionStatus.CONSULTATION,
          {"round": number, "opens_on": data.opens_on, "closes_on": data.closes_on})
    db.add(ConsultationRound(revision_id=revision.id, number=number, opens_on=data.opens_on,
                             closes_on=data.closes_on, draft_digest=revision.draft_digest))
    db.flush()
    return to_read(db, load(db, revision.id))


def current_round(revision: Revision) -> ConsultationRound:
    if not revision.rounds or revision.rounds[-1].closed_at is not None:
        raise Conflict("no consultation round is open on this revision", field="round")
    return revision.rounds[-1]


def close_round(db: Session, actor: Actor | None, revision_id: uuid.UUID,
                today: date | None = None) -> RevisionRead:
    """Close the open round and publish its synopsis (secretariat). Refused before the
    round's closing date, and while any comment is unanswered."""
    actor = require(actor, Role.SECRETARIAT, action="close consultation rounds")
    revision = load(db, revision_id)
    round_ = current_round(revision)
    day = today or clock.today()
    if day < round_.closes_on:
        raise Conflict(f"round {round_.number} runs until {round_.closes_on}; it cannot close "
                       "early", field="round")
    move_status(db, actor, revision, RevisionStatus.DRAFT, {"round": round_.number},
          unanswered_comments=repo.count_unanswered(db, round_.id))
    round_.closed_at = utcnow()
    db.flush()
    return to_read(db, revision)


def withdraw(db: Session, actor: Actor | None, revision_id: uuid.UUID,
             reason: str) -> RevisionRead:
    actor = require(actor, Role.SECRETARIAT, action="withdraw revisions")
    revision = settled(db, revision_id)
    if not reason.strip():
        raise InvalidInput("say why the revision is withdrawn", field="reason")
    move_status(db, actor, revision, RevisionStatus.WITHDRAWN, {"reason": reason})
    vote = repo.open_vote_of(db, revision.id)
    if vote is not None:
        # A withdrawn revision's vote ends uncounted: no more ballots, no tally.
        vote.closed_at = utcnow()
        db.flush()
    return to_read(db, revision)


# --- comments ---------------------------------------------------------------------------


def _comment_read(c: Comment, round_number: int) -> CommentRead:
    return CommentRead(id=c.id, round_number=round_number, criterion=c.criterion_number,
                       body=c.body, author_name=c.author_name, created_at=c.created_at,
                       response=c.response, responded_at=c.responded_at)


def add_comment(db: Session, actor: Actor | None, revision_id: uuid.UUID, data: CommentCreate,
                settings: Settings, source_address: str = "") -> CommentRead:
    """Comment on the draft or one clause while a round is open. Anyone may comment;
    without an account a name and a contact e-mail are needed."""
    revision = load(db, revision_id)
    if revision.status != RevisionStatus.CONSULTATION:
        raise Conflict("this revision is not open for comments", field="round")
    round_ = current_round(revision)
    if not round_accepts_comments(round_.opens_on, round_.closes_on, False, clock.today()):
        raise Conflict(f"round {round_.number} takes comments from {round_.opens_on} to "
                       f"{round_.closes_on}", field="round")
    if data.criterion is not None and draft_package(revision).criterion(data.criterion) is None:
        raise InvalidInput(f"the draft has no clause {data.criterion}", field="criterion")
    if actor is None:
        if not data.name:
            raise InvalidInput("give your name or organisation", field="name")
        if not data.contact_email:
            raise InvalidInput("give a contact e-mail so the secretariat can reply",
                               field="contact_email")
        name, user_id = data.name, None
        source = _digest(f"address:{source_address}")
    else:
        name, user_id = (data.name or actor.name), actor.user_id
        source = _digest(f"user:{actor.user_id}")
    now = utcnow()
    recent = repo.comment_times_from(db, source, now - timedelta(hours=1))
    if not comments_allowed(recent, now, per_hour=settings.comments_per_hour):
        raise TooManyRequests(f"at most {settings.comments_per_hour} comments an hour; "
                              "please wait a while", field="body")
    comment = Comment(round_id=round_.id, criterion_number=data.criterion, body=data.body,
                      author_name=name, author_user_id=user_id,
                      contact_email=str(data.contact_email) if data.contact_email else None,
                      source=source, created_at=now)
    db.add(comment)
    db.flush()
    eventlog.append(db, actor or _PUBLIC, "standards.comment.received",
                    f"revision:{revision.id}",
                    {"comment": comment.id, "round": round_.number,
                     "criterion": data.criterion, "body_digest": _digest(data.body)})
    return _comment_read(comment, round_.number)


def respond(db: Session, actor: Actor | None, comment_id: uuid.UUID,
            response: str) -> CommentRead:
    """Answer a comment (secretariat); answers can be revised until the round closes."""
    actor = require(actor, Role.SECRETARIAT, action="answer comments")
    comment = repo.comment_by_id(db, comment_id)
    if comment is None:
        raise NotFound("no such comment", field="comment_id")
    round_ = repo.round_by_id(db, comment.round_id)
    assert round_ is not None
    if round_.closed_at is not None:
        raise Conflict("the round is closed; its synopsis is final", field="comment_id")
    comment.response = response
    comment.responded_at = utcnow()
    comment.responded_by = actor.ref
    db.flush()
    eventlog.append(db, actor, "standards.comment.answered", f"comment:{comment.id}",
                    {"response_digest": _digest(response)})
    return _comment_read(comment, round_.number)


def comments(db: Session, actor: Actor | None, revision_id: uuid.UUID) -> list[CommentRead]:
    """The synopsis: comments with their answers. The public sees the comments of closed
    rounds; the secretariat sees all, to answer them."""
    revision = load(db, revision_id)
    secretariat = actor is not None and actor.is_secretariat()
    if not revision.rounds and not secretariat:
        # Never consulted on: hidden like the revision itself (get_revision).
        raise NotFound("no such revision", field="revision_id")
    rounds = {r.id: r for r in revision.rounds if secretariat or r.closed_at is not None}
    return [_comment_read(c, rounds[c.round_id].number)
            for c in repo.comments_of(db, list(rounds))]


_PUBLIC = Actor(user_id=None, role=Role.MEMBER_USER, name="public", email="")
