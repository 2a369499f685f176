"""The standard-setting body, its votes on revisions, and publication of the result."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date
from fractions import Fraction

from sqlalchemy.orm import Session

from stewardship.core import clock, eventlog
from stewardship.core.auth import Actor, Role, require
from stewardship.core.config import Settings
from stewardship.core.db import utcnow
from stewardship.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from stewardship.standards import repository as repo
from stewardship.standards.models import Ballot, BodyMember, Vote
from stewardship.standards.rules import (
    Chamber,
    Choice,
    RevisionStatus,
    VoteRule,
    parse_fraction,
    tally,
)
from stewardship.standards.schemas import (
    BodyMemberCreate,
    BodyMemberRead,
    ChamberResult,
    OwnBallotRead,
    PublishRequest,
    RevisionRead,
    RollEntry,
    VoteOpen,
    VoteRead,
)
from stewardship.standards.service import library, revisions

# --- the body ---------------------------------------------------------------------------


def list_body(db: Session, *, on: date | None = None) -> list[BodyMemberRead]:
    """Members of the standard-setting body (serving on ``on``, or all). Public."""
    rows = repo.active_body_members(db, on) if on else repo.body_members(db)
    return [BodyMemberRead.model_validate(m) for m in rows]


def add_body_member(db: Session, actor: Actor | None, data: BodyMemberCreate) -> BodyMemberRead:
    """Seat a user on the standard-setting body in a chamber for a term (secretariat)."""
    from stewardship.registry.service import accounts

    actor = require(actor, Role.SECRETARIAT, action="seat body members")
    if data.term_ends_on <= data.term_starts_on:
        raise InvalidInput("the term must end after it starts", field="term_ends_on")
    user = accounts.find_user(db, str(data.email))
    if user is None:
        raise NotFound(f"no user with e-mail {data.email}; invite them first", field="email")
    for seat in repo.body_members_of_user(db, user.id):
        if seat.term_starts_on <= data.term_ends_on and data.term_starts_on <= seat.term_ends_on:
            raise Conflict(f"{user.name} already has a seat in that period", field="email")
    member = BodyMember(user_id=user.id, name=user.name, affiliation=data.affiliation,
                        chamber=data.chamber.value, term_starts_on=data.term_starts_on,
                        term_ends_on=data.term_ends_on)
    db.add(member)
    db.flush()
    eventlog.append(db, actor, "standards.body.seated", f"body_member:{member.id}",
                    {"chamber": member.chamber, "from": member.term_starts_on,
                     "to": member.term_ends_on})
    return BodyMemberRead.model_validate(member)


# --- votes ------------------------------------------------------------------------------


def _rule(vote: Vote) -> VoteRule:
    return VoteRule(pass_share=Fraction(vote.pass_share), quorum_share=Fraction(vote.quorum_share))


def vote_read(db: Session, vote: Vote) -> VoteRead:
    ballots = repo.ballots_of(db, vote.id)
    base = VoteRead(id=vote.id, revision_id=vote.revision_id, opened_at=vote.opened_at,
                    closes_on=vote.closes_on, pass_share=vote.pass_share,
                    quorum_share=vote.quorum_share, eligible=len(vote.eligible),
                    ballots=len(ballots), closed_at=vote.closed_at, passed=vote.passed)
    if vote.closed_at is None or vote.result is None:
        return base
    result = vote.result
    choice_of = {b.member_id: b.choice for b in ballots}
    members = repo.body_members_by_ids(db, [uuid.UUID(m) for m in vote.eligible])
    return base.model_copy(update={
        "yes": result["yes"], "no": result["no"], "abstain": result["abstain"],
        "quorum_met": result["quorum_met"],
        "by_chamber": [ChamberResult(chamber=k, **v) for k, v in result["by_chamber"].items()],
        "roll": [RollEntry(name=m.name, affiliation=m.affiliation, chamber=m.chamber,
                           choice=choice_of.get(m.id)) for m in members],
    })


def load_vote(db: Session, vote_id: uuid.UUID) -> Vote:
    vote = repo.vote_by_id(db, vote_id)
    if vote is None:
        raise NotFound("no such vote", field="vote_id")
    return vote


def get_vote(db: Session, vote_id: uuid.UUID) -> VoteRead:
    """A vote; the tally by chamber and the roll of who voted how are public once it
    closes."""
    return vote_read(db, load_vote(db, vote_id))


def open_vote(db: Session, actor: Actor | None, revision_id: uuid.UUID, data: VoteOpen,
              settings: Settings) -> RevisionRead:
    """Put a revision to the body's vote (secretariat). The roll is the members serving
    today; the rule (default two-thirds of votes cast, quorum half the eligible) is data."""
    actor = require(actor, Role.SECRETARIAT, action="open votes")
    revision = revisions.load(db, revision_id)
    today = clock.today()
    if data.closes_on < today:
        raise InvalidInput("the vote must close today or later", field="closes_on")
    try:
        pass_share = parse_fraction(data.pass_share or settings.vote_pass_share)
        quorum_share = parse_fraction(data.quorum_share or settings.vote_quorum_share)
    except (ValueError, ZeroDivisionError) as exc:
        raise InvalidInput(f"bad share: {exc}", field="pass_share") from None
    roll = repo.active_body_members(db, today)
    if not roll:
        raise Conflict("no member of the standard-setting body is serving today",
                       field="revision_id")
    closed_rounds = sum(1 for r in revision.rounds if r.closed_at is not None)
    revisions.move_status(db, actor, revision, RevisionStatus.VOTE,
                    {"closes_on": data.closes_on, "eligible": len(roll),
                     "pass_share": str(pass_share), "quorum_share": str(quorum_share)},
                    closed_rounds=closed_rounds)
    vote = Vote(revision_id=revision.id, closes_on=data.closes_on,
                pass_share=str(pass_share), quorum_share=str(quorum_share),
                eligible=[str(m.id) for m in roll])
    db.add(vote)
    db.flush()
    return revisions.to_read(db, revision)


def _is_open(vote: Vote) -> bool:
    return vote.closed_at is None and clock.today() <= vote.closes_on


def _seat_on_roll(db: Session, actor: Actor, vote: Vote) -> uuid.UUID | None:
    """The actor's seat on the vote's roll, if any."""
    if actor.user_id is None:
        return None
    seats = {m.id for m in repo.body_members_of_user(db, actor.user_id)}
    return next((uuid.UUID(m) for m in vote.eligible if uuid.UUID(m) in seats), None)


def own_ballot(db: Session, actor: Actor | None, vote_id: uuid.UUID) -> OwnBallotRead | None:
    """The actor's seat and current choice in a vote they may cast a ballot in now; None
    for anyone else (not signed in, not on the roll, or the vote is closed)."""
    vote = load_vote(db, vote_id)
    if actor is None or not _is_open(vote):
        return None
    member_id = _seat_on_roll(db, actor, vote)
    if member_id is None:
        return None
    member = repo.body_members_by_ids(db, [member_id])[0]
    ballot = repo.ballot_of(db, vote.id, member_id)
    return OwnBallotRead(name=member.name, chamber=member.chamber,
                         choice=ballot.choice if ballot else None)


def cast(db: Session, actor: Actor | None, vote_id: uuid.UUID, choice: Choice) -> VoteRead:
    """Vote yes, no or abstain; a member may change the vote until it closes."""
    actor = require(actor, action="vote")
    vote = load_vote(db, vote_id)
    if not _is_open(vote):
        raise Conflict("this vote is closed", field="vote_id")
    member_id = _seat_on_roll(db, actor, vote)
    if member_id is None:
        raise Forbidden("only members of the standard-setting body on this vote's roll "
                        "may vote")
    ballot = repo.ballot_of(db, vote.id, member_id)
    now = utcnow()
    if ballot is None:
        db.add(Ballot(vote_id=vote.id, member_id=member_id, choice=choice.value, cast_at=now))
        kind = "standards.ballot.cast"
    else:
        if ballot.choice == choice.value:
            return vote_read(db, vote)
        ballot.choice, ballot.changed_at = choice.value, now
        kind = "standards.ballot.changed"
    db.flush()
    eventlog.append(db, actor, kind, f"vote:{vote.id}",
                    {"member": member_id, "choice": choice.value})
    return vote_read(db, vote)


def close_vote(db: Session, actor: Actor | None, vote_id: uuid.UUID) -> RevisionRead:
    """Close a vote and count it (secretariat). Before its closing date only once every
    member on the roll has voted. Passing approves the revision; failing returns it to
    draft."""
    actor = require(actor, Role.SECRETARIAT, action="close votes")
    vote = load_vote(db, vote_id)
    if vote.closed_at is not None:
        raise Conflict("this vote is closed already", field="vote_id")
    ballots = repo.ballots_of(db, vote.id)
    if clock.today() <= vote.closes_on and len(ballots) < len(vote.eligible):
        raise Conflict(f"the vote runs until {vote.closes_on} and "
                       f"{len(vote.eligible) - len(ballots)} member(s) have not voted",
                       field="vote_id")
    chamber_of = {m.id: m.chamber for m in repo.body_members_by_ids(
        db, [b.member_id for b in ballots])}
    result = tally(((chamber_of[b.member_id], Choice(b.choice)) for b in ballots),
                   len(vote.eligible), _rule(vote))
    vote.closed_at = utcnow()
    vote.passed = result.passed
    vote.result = {"yes": result.yes, "no": result.no, "abstain": result.abstain,
                   "quorum_met": result.quorum_met,
                   "by_chamber": {k: {"yes": v.yes, "no": v.no, "abstain": v.abstain}
                                  for k, v in result.by_chamber.items()}}
    db.flush()
    eventlog.append(db, actor, "standards.vote.closed", f"vote:{vote.id}",
                    {"passed": result.passed, **vote.result})
    revision = revisions.load(db, vote.revision_id)
    target = RevisionStatus.APPROVED if result.passed else RevisionStatus.DRAFT
    revisions.move_status(db, actor, revision, target, {"vote": vote.id})
    return revisions.to_read(db, revision)


def publish(db: Session, actor: Actor | None, revision_id: uuid.UUID,
            data: PublishRequest) -> RevisionRead:
    """Publish an approved revision as the standard's new version, with its effective date
    and the end of the transition from the previous version (secretariat)."""
    actor = require(actor, Role.SECRETARIAT, action="publish standards")
    revision = revisions.load(db, revision_id)
    today = clock.today()  # read once: the day checked is the day recorded
    if data.effective_on < today:
        # The stored package must validate again (export, diff): effective >= published.
        raise InvalidInput(f"a version takes effect on or after the day it is published "
                           f"({today})", field="effective_on")
    if data.transition_ends_on is not None and data.transition_ends_on <= data.effective_on:
        raise InvalidInput("the transition must end after the effective date",
                           field="transition_ends_on")
    package = replace(revisions.draft_package(revision), published_on=today,
                      effective_on=data.effective_on,
                      transition_ends_on=data.transition_ends_on)
    revisions.move_status(db, actor, revision, RevisionStatus.PUBLISHED,
                    {"effective_on": data.effective_on,
                     "transition_ends_on": data.transition_ends_on})
    version = library.store_version(db, actor, package)
    revision.published_version_id = version.id
    db.flush()
    return revisions.to_read(db, revision)


def chambers() -> list[str]:
    return [c.value for c in Chamber]
