"""Standard setting on a real database: a revision from draft through consultation
rounds, public comments and answers, the body's vote, to a published version."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stewardship.core import eventlog
from stewardship.core.auth import Actor, Role
from stewardship.core.config import Settings
from stewardship.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyRequests,
    Unauthenticated,
)
from stewardship.core.eventlog import EventLogEntry
from stewardship.standards.demo import shipped_package_text
from stewardship.standards.models import Ballot
from stewardship.standards.rules import Chamber, Choice
from stewardship.standards.schemas import (
    BodyMemberCreate,
    CommentCreate,
    PublishRequest,
    RevisionCreate,
    RoundOpen,
    VoteOpen,
)
from stewardship.standards.service import library, revisions, votes
from tests import factories
from tests.today import TODAY

SYSTEM = factories.SYSTEM


def coc_draft(version: int = 3, **changes: object) -> str:
    data = yaml.safe_load(shipped_package_text("chain-of-custody-v2.yaml"))
    data["version"] = version
    data.update(changes)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


@pytest.fixture
def coc(db: Session) -> None:
    library.import_package(db, SYSTEM, shipped_package_text("chain-of-custody-v2.yaml"))


@pytest.fixture
def few_comments(tmp_path: Path) -> Settings:
    return Settings(environment="test", var_dir=tmp_path, secret_key="t" * 40,
                    comments_per_hour=2)


def new_revision(db: Session, **changes: object) -> uuid.UUID:
    return revisions.create_revision(db, SYSTEM, RevisionCreate(
        standard="chain-of-custody", title="Chain of Custody Standard version 3",
        summary="Caps carry-over.", draft=coc_draft(**changes))).id  # type: ignore[arg-type]


def open_now(db: Session, revision_id: uuid.UUID, settings: Settings, days: int = 60,
             before: int = 10) -> None:
    """Open a round that includes today, so comments are accepted."""
    revisions.open_round(db, SYSTEM, revision_id, RoundOpen(
        opens_on=TODAY - timedelta(days=before),
        closes_on=TODAY - timedelta(days=before) + timedelta(days=days)), settings)


def closes_on(db: Session, revision_id: uuid.UUID) -> date:
    return revisions.load(db, revision_id).rounds[-1].closes_on


def consulted(db: Session, settings: Settings) -> uuid.UUID:
    """A revision with one closed round, back in draft."""
    revision_id = new_revision(db)
    revisions.open_round(db, SYSTEM, revision_id, RoundOpen(
        opens_on=TODAY - timedelta(days=100), closes_on=TODAY - timedelta(days=40)), settings)
    revisions.close_round(db, SYSTEM, revision_id)
    return revision_id


def seat(db: Session, chamber: Chamber, *, starts: date | None = None,
         ends: date | None = None) -> Actor:
    person = factories.user(db, Role.MEMBER_USER, organization=factories.organization(db))
    votes.add_body_member(db, SYSTEM, BodyMemberCreate(
        email=person.email, chamber=chamber, affiliation=f"{chamber.value} org",
        term_starts_on=starts or TODAY - timedelta(days=30),
        term_ends_on=ends or TODAY + timedelta(days=700)))
    return person


def kinds_for(db: Session, subject: str) -> list[str]:
    db.flush()
    return list(db.scalars(select(EventLogEntry.kind).where(EventLogEntry.subject == subject)
                           .order_by(EventLogEntry.sequence)))


def anonymous(body: str = "Please define carry-over more tightly.",
              criterion: str | None = None) -> CommentCreate:
    return CommentCreate(body=body, criterion=criterion, name="Lena Fischer",
                         contact_email="lena@forum.example")


# --- the whole way ----------------------------------------------------------------------


def test_a_revision_from_draft_to_published_version(db: Session, coc: None,
                                                    settings: Settings) -> None:
    # Draft.
    created = revisions.create_revision(db, SYSTEM, RevisionCreate(
        standard="chain-of-custody", title="Chain of Custody Standard version 3",
        summary="Caps carry-over.", draft=coc_draft()))
    rid = created.id
    subject = f"revision:{rid}"
    assert (created.status, created.target_version, created.rounds) == ("draft", 3, [])
    with pytest.raises(NotFound):
        revisions.get_revision(db, None, rid)  # not public before a round opens
    assert revisions.list_revisions(db, None) == []

    # A first round shorter than 60 days is refused, naming the day it could close.
    opens = TODAY - timedelta(days=10)
    with pytest.raises(InvalidInput, match=str(opens + timedelta(days=60))) as info:
        revisions.open_round(db, SYSTEM, rid, RoundOpen(
            opens_on=opens, closes_on=opens + timedelta(days=59)), settings)
    assert info.value.details[0]["field"] == "closes_on"
    assert revisions.get_revision(db, SYSTEM, rid).status == "draft"
    revisions.open_round(db, SYSTEM, rid, RoundOpen(
        opens_on=opens, closes_on=opens + timedelta(days=60)), settings)
    revision = revisions.get_revision(db, None, rid)
    assert revision.status == "consultation"
    [round_] = revision.rounds
    assert (round_.number, round_.open_for_comments) == (1, True)
    closes = round_.closes_on

    # Comments: anonymous with a contact, and by a user; on the draft and on a clause.
    member = factories.user(db, Role.MEMBER_USER, organization=factories.organization(db))
    by_public = revisions.add_comment(db, None, rid, anonymous(), settings, "198.51.100.7")
    assert by_public.author_name == "Lena Fischer"
    assert by_public.criterion is None
    assert "lena@forum.example" not in by_public.model_dump_json()
    by_member = revisions.add_comment(db, member, rid, CommentCreate(
        body="Clause 1.1 should name the responsible manager.", criterion="1.1"), settings)
    assert (by_member.criterion, by_member.author_name, by_member.round_number) == (
        "1.1", member.name, 1)

    # The round cannot close early, nor with unanswered comments.
    with pytest.raises(Conflict, match=f"runs until {closes}"):
        revisions.close_round(db, SYSTEM, rid)
    with pytest.raises(Conflict, match="2 comment"):
        revisions.close_round(db, SYSTEM, rid, today=closes)
    revisions.respond(db, SYSTEM, by_public.id, "Agreed: carry-over is capped at one period.")
    with pytest.raises(Conflict, match="1 comment"):
        revisions.close_round(db, SYSTEM, rid, today=closes)
    revisions.respond(db, SYSTEM, by_member.id, "Done in 1.1.b.")

    # The synopsis is the secretariat's until the round closes.
    assert revisions.comments(db, None, rid) == []
    assert revisions.comments(db, member, rid) == []
    assert len(revisions.comments(db, SYSTEM, rid)) == 2
    closed = revisions.close_round(db, SYSTEM, rid, today=closes)
    assert closed.status == "draft"
    assert closed.rounds[0].closed_at is not None
    assert (closed.rounds[0].comment_count, closed.rounds[0].unanswered) == (2, 0)
    synopsis = revisions.comments(db, None, rid)
    assert [(c.author_name, c.response) for c in synopsis] == [
        ("Lena Fischer", "Agreed: carry-over is capped at one period."),
        (member.name, "Done in 1.1.b.")]
    assert all("lena@forum.example" not in c.model_dump_json() for c in synopsis)
    with pytest.raises(Conflict):
        revisions.add_comment(db, None, rid, anonymous("Too late now."), settings, "1.2.3.4")
    with pytest.raises(Conflict, match="closed"):
        revisions.respond(db, SYSTEM, by_public.id, "A changed answer")

    # The body: members in different chambers; a second overlapping seat is refused.
    voters = [seat(db, Chamber.INDUSTRY_UPSTREAM), seat(db, Chamber.INDUSTRY_DOWNSTREAM),
              seat(db, Chamber.CIVIL_SOCIETY), seat(db, Chamber.INDIGENOUS_PEOPLES)]
    with pytest.raises(Conflict, match="already has a seat"):
        votes.add_body_member(db, SYSTEM, BodyMemberCreate(
            email=voters[0].email, chamber=Chamber.CIVIL_SOCIETY,
            term_starts_on=TODAY + timedelta(days=100),
            term_ends_on=TODAY + timedelta(days=900)))
    assert len(votes.list_body(db)) == 4

    # The vote.
    opened = votes.open_vote(db, SYSTEM, rid, VoteOpen(closes_on=TODAY + timedelta(days=14)),
                             settings)
    assert opened.status == "vote"
    [vote] = opened.votes
    assert (vote.eligible, vote.pass_share, vote.quorum_share) == (4, "2/3", "1/2")
    stranger = factories.user(db, Role.MEMBER_USER, organization=factories.organization(db))
    with pytest.raises(Forbidden):
        votes.cast(db, stranger, vote.id, Choice.YES)
    with pytest.raises(Forbidden):
        votes.cast(db, SYSTEM, vote.id, Choice.YES)
    with pytest.raises(Unauthenticated):
        votes.cast(db, None, vote.id, Choice.YES)
    votes.cast(db, voters[0], vote.id, Choice.NO)
    changed = votes.cast(db, voters[0], vote.id, Choice.YES)
    assert changed.ballots == 1
    assert changed.roll == [] and changed.yes is None  # nothing public while open
    votes.cast(db, voters[0], vote.id, Choice.YES)  # the same choice again changes nothing
    assert db.scalar(select(func.count()).select_from(Ballot)) == 1
    assert kinds_for(db, f"vote:{vote.id}") == ["standards.ballot.cast",
                                                "standards.ballot.changed"]
    with pytest.raises(Conflict, match="3 member"):
        votes.close_vote(db, SYSTEM, vote.id)
    votes.cast(db, voters[1], vote.id, Choice.YES)
    votes.cast(db, voters[2], vote.id, Choice.NO)
    votes.cast(db, voters[3], vote.id, Choice.YES)
    with pytest.raises(Forbidden):
        votes.close_vote(db, voters[0], vote.id)
    approved = votes.close_vote(db, SYSTEM, vote.id)
    assert approved.status == "approved"
    result = votes.get_vote(db, vote.id)
    assert (result.yes, result.no, result.abstain, result.quorum_met, result.passed) == (
        3, 1, 0, True, True)
    chambers = {c.chamber: (c.yes, c.no, c.abstain) for c in result.by_chamber}
    assert chambers == {"industry_upstream": (1, 0, 0), "industry_downstream": (1, 0, 0),
                        "civil_society": (0, 1, 0), "indigenous_peoples": (1, 0, 0)}
    roll = {r.name: (r.chamber, r.choice) for r in result.roll}
    assert roll == {voters[0].name: ("industry_upstream", "yes"),
                    voters[1].name: ("industry_downstream", "yes"),
                    voters[2].name: ("civil_society", "no"),
                    voters[3].name: ("indigenous_peoples", "yes")}
    with pytest.raises(Conflict):
        votes.cast(db, voters[2], vote.id, Choice.YES)
    with pytest.raises(Conflict, match="closed already"):
        votes.close_vote(db, SYSTEM, vote.id)

    # Publication.
    effective, transition = TODAY + timedelta(days=30), TODAY + timedelta(days=400)
    with pytest.raises(InvalidInput):
        votes.publish(db, SYSTEM, rid, PublishRequest(effective_on=effective,
                                                      transition_ends_on=effective))
    published = votes.publish(db, SYSTEM, rid, PublishRequest(
        effective_on=effective, transition_ends_on=transition))
    assert (published.status, published.published_version) == ("published", 3)
    version = library.get_version(db, "chain-of-custody", 3)
    assert (version.published_on, version.effective_on, version.transition_ends_on) == (
        TODAY, effective, transition)
    [standard] = library.list_standards(db)
    assert [(v.version, v.status) for v in standard.versions] == [(3, "upcoming"),
                                                                  (2, "current")]
    assert library.diff(db, "chain-of-custody", 2, 3).unchanged == len(
        [c for p in version.principles for c in p.criteria])
    with pytest.raises(Conflict):
        revisions.withdraw(db, SYSTEM, rid, "Too late")

    # The event log saw every step, and its chain holds.
    assert kinds_for(db, subject) == [
        "standards.revision.created", "standards.revision.consultation",
        "standards.comment.received", "standards.comment.received",
        "standards.revision.draft", "standards.revision.vote", "standards.revision.approved",
        "standards.revision.published"]
    assert kinds_for(db, f"comment:{by_public.id}") == ["standards.comment.answered"]
    assert kinds_for(db, f"vote:{vote.id}")[-1] == "standards.vote.closed"
    assert kinds_for(db, "standard:chain-of-custody") == ["standards.version.loaded"] * 2
    seated = db.scalars(select(EventLogEntry).where(
        EventLogEntry.kind == "standards.body.seated")).all()
    assert len(seated) == 4
    assert eventlog.verify_chain(db).ok


# --- drafts -----------------------------------------------------------------------------


def test_a_draft_must_be_a_valid_package_above_the_latest_version(db: Session,
                                                                  coc: None) -> None:
    with pytest.raises(InvalidInput, match="above 2"):
        new_revision(db, version=2)
    with pytest.raises(InvalidInput, match="urn:stewardship:standard:performance"):
        new_revision(db, urn="urn:stewardship:standard:performance")
    with pytest.raises(InvalidInput) as info:
        revisions.create_revision(db, SYSTEM, RevisionCreate(
            standard="chain-of-custody", title="Broken", draft="urn: [oops\nversion: 3\n"))
    assert info.value.details[0]["line"] is not None
    with pytest.raises(NotFound):
        revisions.create_revision(db, SYSTEM, RevisionCreate(
            standard="nothing", title="Nothing", draft=coc_draft()))


def test_only_the_secretariat_runs_revisions(db: Session, coc: None, settings: Settings) -> None:
    admin = factories.user(db, Role.MEMBER_ADMIN, organization=factories.organization(db))
    data = RevisionCreate(standard="chain-of-custody", title="Mine", draft=coc_draft())
    with pytest.raises(Forbidden):
        revisions.create_revision(db, admin, data)
    with pytest.raises(Unauthenticated):
        revisions.create_revision(db, None, data)
    rid = new_revision(db)
    rounds = RoundOpen(opens_on=TODAY, closes_on=TODAY + timedelta(days=60))
    steps: list[Callable[[Actor | None], object]] = [
        lambda a: revisions.open_round(db, a, rid, rounds, settings),
        lambda a: revisions.update_draft(db, a, rid, coc_draft(4)),
        lambda a: revisions.withdraw(db, a, rid, "no"),
        lambda a: votes.open_vote(db, a, rid, VoteOpen(closes_on=TODAY), settings),
        lambda a: votes.publish(db, a, rid, PublishRequest(effective_on=TODAY)),
        lambda a: votes.add_body_member(db, a, BodyMemberCreate(
            email=admin.email, chamber=Chamber.CIVIL_SOCIETY, term_starts_on=TODAY,
            term_ends_on=TODAY + timedelta(days=5))),
    ]
    for call in steps:
        with pytest.raises(Forbidden):
            call(admin)
        with pytest.raises(Unauthenticated):
            call(None)
    assert revisions.get_revision(db, SYSTEM, rid).status == "draft"


def test_the_draft_changes_only_between_rounds(db: Session, coc: None,
                                               settings: Settings) -> None:
    rid = new_revision(db)
    updated = revisions.update_draft(db, SYSTEM, rid, coc_draft(4))
    assert updated.target_version == 4
    open_now(db, rid, settings)
    with pytest.raises(Conflict, match="consultation"):
        revisions.update_draft(db, SYSTEM, rid, coc_draft(5))
    assert kinds_for(db, f"revision:{rid}")[:2] == ["standards.revision.created",
                                                    "standards.revision.draft_updated"]


# --- rounds and comments ----------------------------------------------------------------


def test_rounds_may_lie_in_the_past_and_later_rounds_last_30_days(
        db: Session, coc: None, settings: Settings) -> None:
    rid = new_revision(db)
    revisions.open_round(db, SYSTEM, rid, RoundOpen(
        opens_on=date(2020, 1, 1), closes_on=date(2020, 3, 1)), settings)
    with pytest.raises(Conflict, match=r"not open for comments|takes comments"):
        revisions.add_comment(db, None, rid, anonymous(), settings)
    with pytest.raises(Conflict):  # one round at a time
        revisions.open_round(db, SYSTEM, rid, RoundOpen(
            opens_on=TODAY, closes_on=TODAY + timedelta(days=90)), settings)
    revisions.close_round(db, SYSTEM, rid)
    with pytest.raises(InvalidInput, match="at least 30 days"):
        revisions.open_round(db, SYSTEM, rid, RoundOpen(
            opens_on=TODAY, closes_on=TODAY + timedelta(days=29)), settings)
    second = revisions.open_round(db, SYSTEM, rid, RoundOpen(
        opens_on=TODAY, closes_on=TODAY + timedelta(days=30)), settings)
    assert [r.number for r in second.rounds] == [1, 2]
    assert second.status == "consultation"
    assert second.rounds[1].open_for_comments


def test_anonymous_comments_need_a_name_and_an_address(db: Session, coc: None,
                                                       settings: Settings) -> None:
    rid = new_revision(db)
    open_now(db, rid, settings)
    with pytest.raises(InvalidInput) as info:
        revisions.add_comment(db, None, rid, CommentCreate(
            body="No name given", contact_email="x@example.org"), settings)
    assert info.value.details[0]["field"] == "name"
    with pytest.raises(InvalidInput) as info:
        revisions.add_comment(db, None, rid, CommentCreate(body="No address", name="X"),
                              settings)
    assert info.value.details[0]["field"] == "contact_email"


def test_comments_on_an_unknown_clause_are_refused(db: Session, coc: None,
                                                   settings: Settings) -> None:
    rid = new_revision(db)
    open_now(db, rid, settings)
    with pytest.raises(InvalidInput, match=r"no clause 9\.9") as info:
        revisions.add_comment(db, None, rid, anonymous(criterion="9.9"), settings)
    assert info.value.details[0]["field"] == "criterion"
    ok = revisions.add_comment(db, None, rid, anonymous(criterion="2.1"), settings)
    assert ok.criterion == "2.1"


def test_no_comments_before_a_round_or_after_withdrawal(db: Session, coc: None,
                                                        settings: Settings) -> None:
    rid = new_revision(db)
    with pytest.raises(Conflict):
        revisions.add_comment(db, None, rid, anonymous(), settings)
    open_now(db, rid, settings)
    revisions.withdraw(db, SYSTEM, rid, "Superseded by a new mandate")
    with pytest.raises(Conflict):
        revisions.add_comment(db, None, rid, anonymous(), settings)
    with pytest.raises(NotFound):
        revisions.add_comment(db, None, uuid.uuid4(), anonymous(), settings)


def test_a_comment_flood_is_refused(db: Session, coc: None, few_comments: Settings) -> None:
    rid = new_revision(db)
    open_now(db, rid, few_comments)
    for i in range(few_comments.comments_per_hour):
        revisions.add_comment(db, None, rid, anonymous(f"Comment number {i}"), few_comments,
                              "203.0.113.9")
    with pytest.raises(TooManyRequests, match="at most 2 comments an hour"):
        revisions.add_comment(db, None, rid, anonymous("One too many"), few_comments,
                              "203.0.113.9")
    # Another address, and a signed-in user, are counted on their own.
    revisions.add_comment(db, None, rid, anonymous("From elsewhere"), few_comments,
                          "203.0.113.10")
    member = factories.user(db, Role.MEMBER_USER, organization=factories.organization(db))
    for i in range(2):
        revisions.add_comment(db, member, rid, CommentCreate(body=f"Mine {i}"), few_comments,
                              "203.0.113.9")
    with pytest.raises(TooManyRequests):
        revisions.add_comment(db, member, rid, CommentCreate(body="Mine again"), few_comments,
                              "198.51.100.1")
    assert len(revisions.comments(db, SYSTEM, rid)) == 5


def test_the_default_flood_limit_comes_from_settings(db: Session, coc: None,
                                                     settings: Settings) -> None:
    rid = new_revision(db)
    open_now(db, rid, settings)
    for i in range(settings.comments_per_hour):
        revisions.add_comment(db, None, rid, anonymous(f"Comment {i}"), settings, "a")
    with pytest.raises(TooManyRequests):
        revisions.add_comment(db, None, rid, anonymous("Over"), settings, "a")


def test_answers_are_the_secretariats(db: Session, coc: None, settings: Settings) -> None:
    rid = new_revision(db)
    open_now(db, rid, settings)
    comment = revisions.add_comment(db, None, rid, anonymous(), settings)
    member = factories.user(db, Role.MEMBER_USER, organization=factories.organization(db))
    with pytest.raises(Forbidden):
        revisions.respond(db, member, comment.id, "I answer myself")
    with pytest.raises(NotFound):
        revisions.respond(db, SYSTEM, uuid.uuid4(), "Nobody")
    first = revisions.respond(db, SYSTEM, comment.id, "First answer")
    second = revisions.respond(db, SYSTEM, comment.id, "Revised answer")
    assert (first.response, second.response) == ("First answer", "Revised answer")
    assert kinds_for(db, f"comment:{comment.id}") == ["standards.comment.answered"] * 2


# --- votes ------------------------------------------------------------------------------


def test_a_vote_needs_a_serving_body_and_a_closed_round(db: Session, coc: None,
                                                        settings: Settings) -> None:
    fresh = new_revision(db)
    with pytest.raises(Conflict, match="no member of the standard-setting body"):
        votes.open_vote(db, SYSTEM, fresh, VoteOpen(closes_on=TODAY + timedelta(days=7)),
                        settings)
    seat(db, Chamber.CIVIL_SOCIETY, starts=TODAY - timedelta(days=900),
         ends=TODAY - timedelta(days=1))  # served, no longer serving
    with pytest.raises(Conflict, match="no member"):
        votes.open_vote(db, SYSTEM, fresh, VoteOpen(closes_on=TODAY + timedelta(days=7)),
                        settings)
    seat(db, Chamber.INDUSTRY_UPSTREAM)
    with pytest.raises(Conflict, match="consultation round"):
        votes.open_vote(db, SYSTEM, fresh, VoteOpen(closes_on=TODAY + timedelta(days=7)),
                        settings)
    open_now(db, fresh, settings)
    with pytest.raises(Conflict):  # the round is still open
        votes.open_vote(db, SYSTEM, fresh, VoteOpen(closes_on=TODAY + timedelta(days=7)),
                        settings)
    ready = consulted(db, settings)
    with pytest.raises(InvalidInput):
        votes.open_vote(db, SYSTEM, ready, VoteOpen(closes_on=TODAY - timedelta(days=1)),
                        settings)
    with pytest.raises(InvalidInput):
        votes.open_vote(db, SYSTEM, ready, VoteOpen(closes_on=TODAY, pass_share="1/0"),
                        settings)
    opened = votes.open_vote(db, SYSTEM, ready, VoteOpen(closes_on=TODAY), settings)
    assert opened.votes[0].eligible == 1  # only the member serving today is on the roll


def test_body_member_rules(db: Session) -> None:
    person = factories.user(db, Role.MEMBER_USER, organization=factories.organization(db))
    with pytest.raises(InvalidInput):
        votes.add_body_member(db, SYSTEM, BodyMemberCreate(
            email=person.email, chamber=Chamber.CIVIL_SOCIETY, term_starts_on=TODAY,
            term_ends_on=TODAY))
    with pytest.raises(NotFound):
        votes.add_body_member(db, SYSTEM, BodyMemberCreate(
            email="nobody@nowhere.example", chamber=Chamber.CIVIL_SOCIETY,
            term_starts_on=TODAY, term_ends_on=TODAY + timedelta(days=10)))
    votes.add_body_member(db, SYSTEM, BodyMemberCreate(
        email=person.email, chamber=Chamber.CIVIL_SOCIETY, term_starts_on=TODAY,
        term_ends_on=TODAY + timedelta(days=10)))
    with pytest.raises(Conflict):  # touching terms overlap on the shared day
        votes.add_body_member(db, SYSTEM, BodyMemberCreate(
            email=person.email, chamber=Chamber.CIVIL_SOCIETY,
            term_starts_on=TODAY + timedelta(days=10), term_ends_on=TODAY + timedelta(days=20)))
    votes.add_body_member(db, SYSTEM, BodyMemberCreate(
        email=person.email, chamber=Chamber.INDUSTRY_DOWNSTREAM,
        term_starts_on=TODAY + timedelta(days=11), term_ends_on=TODAY + timedelta(days=20)))
    assert [m.chamber for m in votes.list_body(db)] == ["civil_society", "industry_downstream"]
    assert [m.chamber for m in votes.list_body(db, on=TODAY + timedelta(days=15))] == [
        "industry_downstream"]


def test_a_failing_vote_returns_the_revision_to_draft(db: Session, coc: None,
                                                      settings: Settings) -> None:
    voters = [seat(db, Chamber.INDUSTRY_UPSTREAM), seat(db, Chamber.CIVIL_SOCIETY),
              seat(db, Chamber.INDIGENOUS_PEOPLES)]
    rid = consulted(db, settings)
    opened = votes.open_vote(db, SYSTEM, rid, VoteOpen(closes_on=TODAY + timedelta(days=7)),
                             settings)
    vote_id = opened.votes[0].id
    for voter, choice in zip(voters, [Choice.YES, Choice.NO, Choice.NO], strict=True):
        votes.cast(db, voter, vote_id, choice)
    back = votes.close_vote(db, SYSTEM, vote_id)
    assert back.status == "draft"
    result = votes.get_vote(db, vote_id)
    assert (result.passed, result.quorum_met, result.yes, result.no) == (False, True, 1, 2)
    assert {r.choice for r in result.roll} == {"yes", "no"}
    with pytest.raises(Conflict):
        votes.publish(db, SYSTEM, rid, PublishRequest(effective_on=TODAY))
    # A second round, then a second vote.
    again = revisions.open_round(db, SYSTEM, rid, RoundOpen(
        opens_on=TODAY - timedelta(days=40), closes_on=TODAY - timedelta(days=5)), settings)
    assert again.status == "consultation"
    revisions.close_round(db, SYSTEM, rid)
    second = votes.open_vote(db, SYSTEM, rid, VoteOpen(closes_on=TODAY + timedelta(days=7)),
                             settings)
    assert len(second.votes) == 2
    assert kinds_for(db, f"revision:{rid}") == [
        "standards.revision.created", "standards.revision.consultation",
        "standards.revision.draft", "standards.revision.vote", "standards.revision.draft",
        "standards.revision.consultation", "standards.revision.draft",
        "standards.revision.vote"]


def test_a_vote_short_of_quorum_fails(db: Session, coc: None, settings: Settings) -> None:
    voters = [seat(db, Chamber.INDUSTRY_UPSTREAM) for _ in range(5)]
    rid = consulted(db, settings)
    vote_id = votes.open_vote(db, SYSTEM, rid, VoteOpen(closes_on=TODAY), settings).votes[0].id
    votes.cast(db, voters[0], vote_id, Choice.YES)
    votes.cast(db, voters[1], vote_id, Choice.YES)
    with pytest.raises(Conflict):  # the vote runs today and three have not voted
        votes.close_vote(db, SYSTEM, vote_id)
    votes.cast(db, voters[2], vote_id, Choice.ABSTAIN)
    votes.cast(db, voters[3], vote_id, Choice.ABSTAIN)
    votes.cast(db, voters[4], vote_id, Choice.ABSTAIN)
    assert votes.close_vote(db, SYSTEM, vote_id).status == "approved"  # 2 of 2 cast, 5 of 5


def test_the_rule_given_when_the_vote_opens_is_used(db: Session, coc: None,
                                                    settings: Settings) -> None:
    voters = [seat(db, Chamber.INDUSTRY_UPSTREAM) for _ in range(4)]
    rid = consulted(db, settings)
    vote_id = votes.open_vote(db, SYSTEM, rid, VoteOpen(
        closes_on=TODAY, pass_share="3/4", quorum_share="0.5"), settings).votes[0].id
    for voter, choice in zip(voters, [Choice.YES, Choice.YES, Choice.NO, Choice.ABSTAIN],
                             strict=True):
        votes.cast(db, voter, vote_id, choice)
    assert votes.close_vote(db, SYSTEM, vote_id).status == "draft"  # 2/3 < 3/4
    result = votes.get_vote(db, vote_id)
    assert (result.pass_share, result.quorum_share, result.passed) == ("3/4", "1/2", False)


@pytest.mark.parametrize("stage", ["draft", "consultation", "vote", "approved"])
def test_withdraw_from_any_step_before_publication(db: Session, coc: None, settings: Settings,
                                                   stage: str) -> None:
    voter = seat(db, Chamber.CIVIL_SOCIETY)
    if stage == "draft":
        rid = new_revision(db)
    elif stage == "consultation":
        rid = new_revision(db)
        open_now(db, rid, settings)
    else:
        rid = consulted(db, settings)
        vote_id = votes.open_vote(db, SYSTEM, rid, VoteOpen(closes_on=TODAY + timedelta(days=3)),
                                  settings).votes[0].id
        if stage == "approved":
            votes.cast(db, voter, vote_id, Choice.YES)
            votes.close_vote(db, SYSTEM, vote_id)
    assert revisions.get_revision(db, SYSTEM, rid).status == stage
    with pytest.raises(InvalidInput):
        revisions.withdraw(db, SYSTEM, rid, "   ")
    withdrawn = revisions.withdraw(db, SYSTEM, rid, "The mandate changed")
    assert withdrawn.status == "withdrawn"
    assert kinds_for(db, f"revision:{rid}")[-1] == "standards.revision.withdrawn"
    with pytest.raises(Conflict):
        revisions.withdraw(db, SYSTEM, rid, "Twice")
    with pytest.raises(Conflict):
        revisions.open_round(db, SYSTEM, rid, RoundOpen(
            opens_on=TODAY, closes_on=TODAY + timedelta(days=60)), settings)
    with pytest.raises(Conflict):
        votes.publish(db, SYSTEM, rid, PublishRequest(effective_on=TODAY))
    if stage == "vote":
        # The withdrawn revision's vote takes no more ballots and is never counted.
        with pytest.raises(Conflict):
            votes.cast(db, voter, vote_id, Choice.YES)
        with pytest.raises(Conflict):
            votes.close_vote(db, SYSTEM, vote_id)
        assert votes.get_vote(db, vote_id).passed is None
    assert eventlog.verify_chain(db).ok


def test_publication_takes_effect_no_earlier_than_today(db: Session, coc: None,
                                                        settings: Settings) -> None:
    voter = seat(db, Chamber.INDUSTRY_DOWNSTREAM)
    rid = consulted(db, settings)
    vote_id = votes.open_vote(db, SYSTEM, rid, VoteOpen(closes_on=TODAY), settings).votes[0].id
    votes.cast(db, voter, vote_id, Choice.YES)
    votes.close_vote(db, SYSTEM, vote_id)
    with pytest.raises(InvalidInput) as info:
        votes.publish(db, SYSTEM, rid, PublishRequest(effective_on=TODAY - timedelta(days=1)))
    assert info.value.details[0]["field"] == "effective_on"
    published = votes.publish(db, SYSTEM, rid, PublishRequest(effective_on=TODAY))
    assert published.published_version == 3
    # The stored version is a valid package again: export and diff work.
    package = library.to_package(library.load_version(db, "chain-of-custody", 3))
    assert package.published_on == package.effective_on == TODAY
    diff = library.diff(db, "chain-of-custody", 2, 3)
    assert not (diff.added or diff.removed or diff.renumbered or diff.reworded)
    [standard] = library.list_standards(db)
    # No transition period given: the old version stops being usable at once.
    assert [(v.version, v.status) for v in standard.versions] == [(3, "current"),
                                                                  (2, "retired")]


def test_two_revisions_cannot_publish_the_same_version(db: Session, coc: None,
                                                       settings: Settings) -> None:
    voter = seat(db, Chamber.INDUSTRY_DOWNSTREAM)
    first, second = consulted(db, settings), consulted(db, settings)
    for rid in (first, second):
        vote_id = votes.open_vote(db, SYSTEM, rid, VoteOpen(closes_on=TODAY),
                                  settings).votes[0].id
        votes.cast(db, voter, vote_id, Choice.YES)
        votes.close_vote(db, SYSTEM, vote_id)
    votes.publish(db, SYSTEM, first, PublishRequest(effective_on=TODAY))
    with pytest.raises(Conflict, match="version 3"):
        votes.publish(db, SYSTEM, second, PublishRequest(effective_on=TODAY))


def test_public_lists_show_revisions_once_consulted(db: Session, coc: None,
                                                    settings: Settings) -> None:
    hidden = new_revision(db)
    shown = new_revision(db)
    open_now(db, shown, settings)
    assert [r.id for r in revisions.list_revisions(db, None)] == [shown]
    assert {r.id for r in revisions.list_revisions(db, SYSTEM)} == {hidden, shown}
    assert revisions.get_revision(db, SYSTEM, hidden).status == "draft"
    with pytest.raises(NotFound):
        revisions.get_revision(db, None, uuid.uuid4())
