"""The standard-setting body, its votes on revisions, and publication of the result.

A vote closes itself at its closing time (midnight UTC after its closing day): whatever
first touches it after that moment (a page, an API read, a ballot, the secretariat, the
``stewardship standards close-votes`` command) counts it and publishes the tally, once
(``close_due``). A read that finds a vote due closes it in a short write transaction of
its own (``core.db.write_now``); the vote's row is locked while it is counted, so two
requests at once count it once.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import replace
from datetime import date
from fractions import Fraction

from pydantic import ValidationError
from sqlalchemy.orm import Session

from stewardship.core import clock, eventlog
from stewardship.core.auth import Actor, Role, require, system_actor
from stewardship.core.config import Settings
from stewardship.core.db import utcnow, write_now
from stewardship.core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from stewardship.standards import repository as repo
from stewardship.standards.models import Ballot, BodyMember, Vote
from stewardship.standards.rules import (
    Chamber,
    Choice,
    RevisionStatus,
    VoteRule,
    check_seat_end,
    check_seat_holder,
    closing_instant,
    counting_day,
    last_serving_day,
    parse_fraction,
    seat_serves,
    tally,
    vote_is_due,
)
from stewardship.standards.schemas import (
    BodyMemberCreate,
    BodyMemberRead,
    ChamberResult,
    OwnBallotRead,
    PublishRequest,
    RevisionRead,
    RollEntry,
    SeatEnd,
    SeatingReport,
    SeatingRow,
    VoteOpen,
    VoteRead,
)
from stewardship.standards.service import library, revisions

CLOSING_TIME = system_actor("vote closing time")
"""Who closes a vote that closes itself, in the event log."""

# --- the body ---------------------------------------------------------------------------


def member_read(m: BodyMember) -> BodyMemberRead:
    return BodyMemberRead(id=m.id, name=m.name, affiliation=m.affiliation, chamber=m.chamber,
                          term_starts_on=m.term_starts_on, term_ends_on=m.term_ends_on,
                          has_account=m.user_id is not None, ended_on=m.ended_on,
                          end_reason=m.end_reason)


def serves(m: BodyMember, on: date) -> bool:
    return seat_serves(m.term_starts_on, m.term_ends_on, m.ended_on, on)


def list_body(db: Session, *, on: date | None = None) -> list[BodyMemberRead]:
    """Members of the standard-setting body (serving on ``on``, or every seat ever, ended
    ones included). Public."""
    rows = repo.active_body_members(db, on) if on else repo.body_members(db)
    return [member_read(m) for m in rows]


def _seat(db: Session, actor: Actor, data: BodyMemberCreate) -> BodyMember:
    """Seat a user, or a person in their own right, in a chamber for a term."""
    from stewardship.registry.service import accounts

    if data.term_ends_on <= data.term_starts_on:
        raise InvalidInput("the term must end after it starts", field="term_ends_on")
    email = str(data.email).lower()
    user = accounts.find_user(db, email)
    if user is None and not data.name:
        raise NotFound(f"no user with e-mail {email}: invite them first, or give the "
                       "person's name to seat them in their own right", field="email")
    try:
        check_seat_holder(data.chamber, has_account=user is not None,
                          has_organization=user is not None and user.organization_id is not None)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="chamber") from None
    name = user.name if user is not None else str(data.name)
    seats = (repo.body_members_of_user(db, user.id) if user is not None
             else repo.body_members_of_email(db, email))
    for seat in seats:
        if seat.term_starts_on <= data.term_ends_on and \
                data.term_starts_on <= last_serving_day(seat.term_ends_on, seat.ended_on):
            raise Conflict(f"{name} already has a seat in that period", field="email")
    member = BodyMember(user_id=user.id if user is not None else None,
                        email=None if user is not None else email, name=name,
                        affiliation=data.affiliation, chamber=data.chamber.value,
                        term_starts_on=data.term_starts_on, term_ends_on=data.term_ends_on)
    db.add(member)
    db.flush()
    eventlog.append(db, actor, "standards.body.seated", f"body_member:{member.id}",
                    {"chamber": member.chamber, "from": member.term_starts_on,
                     "to": member.term_ends_on,
                     "holder": "user" if user is not None else "in own right"})
    return member


def add_body_member(db: Session, actor: Actor | None, data: BodyMemberCreate) -> BodyMemberRead:
    """Seat a member on the standard-setting body in a chamber for a term (secretariat):
    a user of the platform, found by e-mail, or a person in their own right without an
    organisation or account (name and e-mail), in a chamber that allows it."""
    actor = require(actor, Role.SECRETARIAT, action="seat body members")
    return member_read(_seat(db, actor, data))


SEATING_COLUMNS = ("email", "name", "chamber", "affiliation", "term_starts_on",
                   "term_ends_on")
SEATING_REQUIRED = ("email", "chamber", "term_starts_on", "term_ends_on")
MAX_SEATING_ROWS = 500


class SeatingRefused(InvalidInput):
    """Some rows of a seating file are refused: nothing was stored. The error names each
    refused row and column; the body carries the whole report."""

    def __init__(self, report: SeatingReport) -> None:
        bad = [r for r in report.rows if not r.ok]
        super().__init__(
            f"{len(bad)} of {len(report.rows)} row(s) are refused; nobody was seated",
            details=[{"field": f"row {r.row}" + (f": {r.field}" if r.field else ""),
                      "message": r.message} for r in bad[:100]])
        self.report = report

    def to_dict(self) -> dict[str, object]:
        body = super().to_dict()
        body["report"] = self.report.model_dump(mode="json")
        return body


def _seating_rows(text: str) -> list[tuple[int, dict[str, str]]]:
    """The file's rows with the line each starts on, or InvalidInput naming what is wrong
    with the file as a whole."""
    header_line = text.lstrip("\ufeff").split("\n", 1)[0]
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise InvalidInput("the file is empty: give a header line, then one row per seat",
                           field="file") from None
    except csv.Error as exc:
        raise InvalidInput(f"line 1 cannot be read as CSV: {exc}", field="file") from None
    unknown = [h for h in header if h not in SEATING_COLUMNS]
    missing = [c for c in SEATING_REQUIRED if c not in header]
    if unknown or missing or len(set(header)) != len(header):
        problems = ([f"unknown column(s) {', '.join(unknown)}"] if unknown else []) + (
            [f"missing column(s) {', '.join(missing)}"] if missing else []) + (
            ["a column is named twice"] if len(set(header)) != len(header) else [])
        raise InvalidInput(f"line 1: {'; '.join(problems)}. The columns are "
                           f"{', '.join(SEATING_COLUMNS)}", field="file")
    rows: list[tuple[int, dict[str, str]]] = []
    line = reader.line_num + 1
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                if len(cells) > len(header):
                    raise InvalidInput(f"line {line}: {len(cells)} cells for "
                                       f"{len(header)} columns", field="file")
                rows.append((line, dict(zip(header, (c.strip() for c in cells),
                                            strict=False))))
                if len(rows) > MAX_SEATING_ROWS:
                    raise InvalidInput(f"at most {MAX_SEATING_ROWS} seats per file",
                                       field="file")
            line = reader.line_num + 1
    except csv.Error as exc:
        raise InvalidInput(f"line {line} cannot be read as CSV: {exc}", field="file") from None
    if not rows:
        raise InvalidInput("the file has a header but no seats", field="file")
    return rows


def _row_input(cells: dict[str, str]) -> BodyMemberCreate:
    values: dict[str, str | None] = {k: v for k, v in cells.items() if v}
    return BodyMemberCreate.model_validate(values)


def _seat_row(db: Session, actor: Actor, line: int, cells: dict[str, str]) -> list[SeatingRow]:
    """Seat one row of a seating file, in a savepoint; what it did, or each fault."""
    try:
        data = _row_input(cells)
    except ValidationError as exc:
        return [SeatingRow(row=line, ok=False, field=str(err["loc"][0]) if err["loc"] else None,
                           message=str(err["msg"]).removeprefix("Value error, "))
                for err in exc.errors()]
    try:
        with db.begin_nested():
            member = _seat(db, actor, data)
    except DomainError as exc:
        return [SeatingRow(row=line, ok=False, field=field or None, message=message)
                for field, message in (exc.field_errors() or {"": exc.message}).items()]
    return [SeatingRow(row=line, ok=True,
                       message=f"{member.name}, {member.chamber.replace('_', ' ')}, "
                               f"{member.term_starts_on} to {member.term_ends_on}")]


def seat_from_csv(db: Session, actor: Actor | None, text: str) -> SeatingReport:
    """Seat the body from a CSV file (secretariat): one seat per row, columns email, name,
    chamber, affiliation, term_starts_on, term_ends_on (name only for a person without an
    account). Every row is checked, in file order (a row may clash with an earlier one);
    the seats are stored only when every row is valid, and otherwise SeatingRefused
    names each refused row and column."""
    actor = require(actor, Role.SECRETARIAT, action="seat body members")
    rows = _seating_rows(text)
    results: list[SeatingRow] = []
    # The whole file in one savepoint, each row in one of its own: a refused row is
    # undone alone and reported, and any refusal undoes every row.
    with db.begin_nested():
        for line, cells in rows:
            results.extend(_seat_row(db, actor, line, cells))
        report = SeatingReport(seated=0, rows=results)
        if any(not r.ok for r in results):
            raise SeatingRefused(report)
    return report.model_copy(update={"seated": len(results)})


def end_seat(db: Session, actor: Actor | None, member_id: uuid.UUID,
             data: SeatEnd) -> BodyMemberRead:
    """End a seat before its term (secretariat), with the reason: from ``ended_on`` it
    no longer counts for the quorum of a vote, nor may it vote. The seat stays on record."""
    actor = require(actor, Role.SECRETARIAT, action="end seats")
    close_due(db)  # votes already past their closing time are counted with the seat
    member = repo.body_member_by_id(db, member_id)
    if member is None:
        raise NotFound("no such seat", field="member_id")
    if member.ended_on is not None:
        raise Conflict(f"{member.name}'s seat ended on {member.ended_on} already",
                       field="member_id")
    reason = data.reason.strip()
    if len(reason) < 3:
        raise InvalidInput("say why the seat ends", field="reason")
    try:
        check_seat_end(member.term_starts_on, member.term_ends_on, data.ended_on)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="ended_on") from None
    member.ended_on, member.end_reason = data.ended_on, reason
    db.flush()
    eventlog.append(db, actor, "standards.body.seat_ended", f"body_member:{member.id}",
                    {"ended_on": data.ended_on, "reason": reason})
    return member_read(member)


# --- votes ------------------------------------------------------------------------------


def _rule(vote: Vote) -> VoteRule:
    return VoteRule(pass_share=Fraction(vote.pass_share), quorum_share=Fraction(vote.quorum_share))


def _roll(db: Session, vote: Vote) -> list[BodyMember]:
    return repo.body_members_by_ids(db, [uuid.UUID(m) for m in vote.eligible])


def vote_read(db: Session, vote: Vote) -> VoteRead:
    ballots = repo.ballots_of(db, vote.id)
    members = _roll(db, vote)
    result = vote.result
    if result is not None and "eligible" in result:
        eligible = int(result["eligible"])
    elif vote.closed_at is None:
        eligible = sum(1 for m in members if serves_roll(m, clock.today()))
    else:
        eligible = len(vote.eligible)
    base = VoteRead(id=vote.id, revision_id=vote.revision_id, opened_at=vote.opened_at,
                    closes_on=vote.closes_on, closes_at=closing_instant(vote.closes_on),
                    pass_share=vote.pass_share, quorum_share=vote.quorum_share,
                    eligible=eligible, ballots=len(ballots), closed_at=vote.closed_at,
                    passed=vote.passed)
    if vote.closed_at is None or result is None:
        return base
    choice_of = {b.member_id: b.choice for b in ballots}
    counted = set(result["counted"]) if "counted" in result else {str(m.id) for m in members}
    return base.model_copy(update={
        "yes": result["yes"], "no": result["no"], "abstain": result["abstain"],
        "quorum_met": result["quorum_met"],
        "by_chamber": [ChamberResult(chamber=k, **v) for k, v in result["by_chamber"].items()],
        "roll": [RollEntry(name=m.name, affiliation=m.affiliation, chamber=m.chamber,
                           choice=choice_of.get(m.id), counted=str(m.id) in counted,
                           seat_ended_on=m.ended_on if str(m.id) not in counted else None)
                 for m in members],
    })


def serves_roll(m: BodyMember, on: date) -> bool:
    """Whether a member on a vote's roll still counts on ``on``: the roll is fixed when the
    vote opens, less the seats that ended early since."""
    return m.ended_on is None or on < m.ended_on


def load_vote(db: Session, vote_id: uuid.UUID) -> Vote:
    vote = repo.vote_by_id(db, vote_id)
    if vote is None:
        raise NotFound("no such vote", field="vote_id")
    return vote


def get_vote(db: Session, vote_id: uuid.UUID) -> VoteRead:
    """A vote; the tally by chamber and the roll of who voted how are public once it
    closes (by itself at its closing time, or earlier by the secretariat)."""
    close_due(db, vote_id=vote_id)
    return vote_read(db, load_vote(db, vote_id))


def _close(db: Session, actor: Actor, vote: Vote, today: date) -> None:
    """Count a vote and move its revision: passing approves it, failing returns it to
    draft. Only seats on the roll that have not ended by the counting day count, for the
    quorum and with their ballots."""
    day = counting_day(vote.closes_on, today)
    counted = [m for m in _roll(db, vote) if serves_roll(m, day)]
    chamber_of = {m.id: m.chamber for m in counted}
    ballots = [b for b in repo.ballots_of(db, vote.id) if b.member_id in chamber_of]
    result = tally(((chamber_of[b.member_id], Choice(b.choice)) for b in ballots),
                   len(counted), _rule(vote))
    by_itself = vote_is_due(vote.closes_on, today)
    vote.closed_at = closing_instant(vote.closes_on) if by_itself else utcnow()
    vote.passed = result.passed
    vote.result = {"yes": result.yes, "no": result.no, "abstain": result.abstain,
                   "quorum_met": result.quorum_met, "eligible": len(counted),
                   "counted": [str(m.id) for m in counted],
                   "by_chamber": {k: {"yes": v.yes, "no": v.no, "abstain": v.abstain}
                                  for k, v in result.by_chamber.items()}}
    db.flush()
    eventlog.append(db, actor, "standards.vote.closed", f"vote:{vote.id}",
                    {"passed": result.passed, "at_closing_time": by_itself, **vote.result})
    revision = revisions.load(db, vote.revision_id)
    target = RevisionStatus.APPROVED if result.passed else RevisionStatus.DRAFT
    revisions.move_status(db, actor, revision, target, {"vote": vote.id})


def _close_due_in(db: Session, today: date, vote_id: uuid.UUID | None,
                  revision_id: uuid.UUID | None) -> list[uuid.UUID]:
    closed: list[uuid.UUID] = []
    # Locked and read again: a vote another transaction closed meanwhile is not due now.
    for vote in repo.due_votes(db, today, vote_id=vote_id, revision_id=revision_id,
                               lock=True):
        _close(db, CLOSING_TIME, vote, today)
        closed.append(vote.id)
    return closed


def close_due(db: Session, *, vote_id: uuid.UUID | None = None,
              revision_id: uuid.UUID | None = None) -> list[uuid.UUID]:
    """Close and count the votes past their closing time (one vote's, one revision's or
    all), each once; the ids closed now. Safe to call from a read: the closing is written
    at once, in a transaction of its own when the caller's only reads."""
    today = clock.today()
    if not repo.due_votes(db, today, vote_id=vote_id, revision_id=revision_id):
        return []
    return write_now(db, lambda s: _close_due_in(s, today, vote_id, revision_id))


def open_vote(db: Session, actor: Actor | None, revision_id: uuid.UUID, data: VoteOpen,
              settings: Settings) -> RevisionRead:
    """Put a revision to the body's vote (secretariat). The roll is the members serving
    today; the rule (default two-thirds of votes cast, quorum half the eligible) is data."""
    actor = require(actor, Role.SECRETARIAT, action="open votes")
    revision = revisions.settled(db, revision_id)
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
    return vote.closed_at is None and not vote_is_due(vote.closes_on, clock.today())


def _seat_on_roll(db: Session, actor: Actor, vote: Vote) -> BodyMember | None:
    """The actor's seat on the vote's roll, if any (ended or not)."""
    if actor.user_id is None:
        return None
    seats = {m.id: m for m in repo.body_members_of_user(db, actor.user_id)}
    return next((seats[uuid.UUID(m)] for m in vote.eligible if uuid.UUID(m) in seats), None)


def own_ballot(db: Session, actor: Actor | None, vote_id: uuid.UUID) -> OwnBallotRead | None:
    """The actor's seat and current choice in a vote they may cast a ballot in now; None
    for anyone else (not signed in, not on the roll, their seat ended, or the vote is
    closed)."""
    close_due(db, vote_id=vote_id)
    vote = load_vote(db, vote_id)
    if actor is None or not _is_open(vote):
        return None
    member = _seat_on_roll(db, actor, vote)
    if member is None or not serves_roll(member, clock.today()):
        return None
    ballot = repo.ballot_of(db, vote.id, member.id)
    return OwnBallotRead(name=member.name, chamber=member.chamber,
                         choice=ballot.choice if ballot else None)


def _record_ballot(db: Session, actor: Actor, vote: Vote, member: BodyMember, choice: Choice,
                   extra: dict[str, object]) -> VoteRead:
    ballot = repo.ballot_of(db, vote.id, member.id)
    now = utcnow()
    if ballot is None:
        db.add(Ballot(vote_id=vote.id, member_id=member.id, choice=choice.value, cast_at=now))
        kind = "standards.ballot.cast"
    else:
        if ballot.choice == choice.value:
            return vote_read(db, vote)
        ballot.choice, ballot.changed_at = choice.value, now
        kind = "standards.ballot.changed"
    db.flush()
    eventlog.append(db, actor, kind, f"vote:{vote.id}",
                    {"member": member.id, "choice": choice.value, **extra})
    return vote_read(db, vote)


def _open_for_ballots(db: Session, vote_id: uuid.UUID) -> Vote:
    close_due(db, vote_id=vote_id)
    vote = load_vote(db, vote_id)
    if not _is_open(vote):
        raise Conflict("this vote is closed", field="vote_id")
    return vote


def _check_serving(member: BodyMember) -> None:
    if not serves_roll(member, clock.today()):
        raise Forbidden(f"the seat of {member.name} ended on {member.ended_on}: it no "
                        "longer votes")


def cast(db: Session, actor: Actor | None, vote_id: uuid.UUID, choice: Choice) -> VoteRead:
    """Vote yes, no or abstain; a member may change the vote until it closes."""
    actor = require(actor, action="vote")
    vote = _open_for_ballots(db, vote_id)
    member = _seat_on_roll(db, actor, vote)
    if member is None:
        raise Forbidden("only members of the standard-setting body on this vote's roll "
                        "may vote")
    _check_serving(member)
    return _record_ballot(db, actor, vote, member, choice, {})


def record_ballot(db: Session, actor: Actor | None, vote_id: uuid.UUID, member_id: uuid.UUID,
                  choice: Choice, received_by: str) -> VoteRead:
    """Record the ballot a member without an account sent in (secretariat), saying how it
    came; it may be changed until the vote closes, like any ballot."""
    actor = require(actor, Role.SECRETARIAT, action="record ballots")
    vote = _open_for_ballots(db, vote_id)
    member = next((m for m in _roll(db, vote) if m.id == member_id), None)
    if member is None:
        raise NotFound("no such member on this vote's roll", field="member_id")
    if member.user_id is not None:
        raise Conflict(f"{member.name} has an account and casts their own ballot",
                       field="member_id")
    _check_serving(member)
    return _record_ballot(db, actor, vote, member, choice, {"received_by": received_by})


def close_vote(db: Session, actor: Actor | None, vote_id: uuid.UUID) -> RevisionRead:
    """Close a vote and count it (secretariat). Before its closing time only once every
    member on the roll has voted; after it, the vote closes by itself. Passing approves
    the revision; failing returns it to draft."""
    actor = require(actor, Role.SECRETARIAT, action="close votes")
    vote = repo.vote_for_update(db, vote_id)
    if vote is None:
        raise NotFound("no such vote", field="vote_id")
    if vote.closed_at is not None:
        raise Conflict("this vote is closed already", field="vote_id")
    today = clock.today()
    voting = {str(m.id) for m in _roll(db, vote) if serves_roll(m, today)}
    missing = len(voting - {str(b.member_id) for b in repo.ballots_of(db, vote.id)})
    if missing and not vote_is_due(vote.closes_on, today):
        raise Conflict(f"the vote runs until {vote.closes_on} and {missing} member(s) have "
                       "not voted", field="vote_id")
    _close(db, actor, vote, today)
    return revisions.to_read(db, revisions.load(db, vote.revision_id))


def publish(db: Session, actor: Actor | None, revision_id: uuid.UUID,
            data: PublishRequest) -> RevisionRead:
    """Publish an approved revision as the standard's new version, with its effective date
    and the end of the transition from the previous version (secretariat)."""
    actor = require(actor, Role.SECRETARIAT, action="publish standards")
    revision = revisions.settled(db, revision_id)
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
