"""Standards in the demo world: the shipped packages, the body, a revision in
consultation with comments, and a revision whose vote has closed.

Each step is written on the day it represents (threads of ``core.timeline``): a package
is stored on its publication day, the body seated when its terms start, a round opened on
its opening day.

Idempotent: each part is skipped when it exists already.
"""

from __future__ import annotations

import copy
from datetime import date, timedelta
from importlib import resources
from typing import Any

import yaml
from sqlalchemy.orm import Session

from stewardship.core import clock, timeline
from stewardship.core.auth import Actor
from stewardship.core.config import Settings
from stewardship.registry.service import accounts
from stewardship.standards import repository as repo
from stewardship.standards.package import parse_package
from stewardship.standards.rules import Chamber, Choice
from stewardship.standards.schemas import (
    BodyMemberCreate,
    CommentCreate,
    RevisionCreate,
    RoundOpen,
    VoteOpen,
)
from stewardship.standards.service import library, revisions, votes

SHIPPED = ("performance-v2.yaml", "performance-v3.yaml", "chain-of-custody-v2.yaml")


def shipped_package_text(name: str) -> str:
    return resources.files("stewardship.data").joinpath("standards", name).read_text("utf-8")


def load_shipped_standards(db: Session, actor: Actor) -> int:
    loaded: int = timeline.run_one(_shipped(db, actor))
    return loaded


def _shipped(db: Session, actor: Actor) -> timeline.Thread:
    """Store the shipped packages not yet stored, each on its publication day."""
    loaded = 0
    for name in SHIPPED:
        package = parse_package(shipped_package_text(name))
        yield timeline.at(package.published_on, 8)
        standard = repo.standard_by_urn(db, package.urn)
        if standard is not None and repo.max_version(db, standard.id) >= package.version:
            continue
        library.store_version(db, actor, package)
        loaded += 1
    return loaded


def _next_draft(slug: str, version: int, edits: dict[str, str], today: date) -> str:
    """A draft of the next version: the shipped package with some requirements reworded."""
    source = {"performance": "performance-v3.yaml",
              "chain-of-custody": "chain-of-custody-v2.yaml"}[slug]
    data: dict[str, Any] = copy.deepcopy(yaml.safe_load(shipped_package_text(source)))
    data["version"] = version
    data["title"] = data["title"].replace("(illustrative)", "(illustrative draft)")
    data["published_on"] = data["effective_on"] = today + timedelta(days=365)
    data["transition_ends_on"] = today + timedelta(days=730)
    for principle in data["principles"]:
        for criterion in principle["criteria"]:
            if criterion["number"] in edits:
                criterion["requirement"] = edits[criterion["number"]]
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _seat_body(db: Session, actor: Actor, seats: list[dict[str, str]],
               today: date) -> timeline.Thread:
    yield timeline.at(today - timedelta(days=410), 9)
    if repo.body_members(db):
        return
    for seat in seats:
        if accounts.find_user(db, seat["email"]) is None:
            continue
        votes.add_body_member(db, actor, BodyMemberCreate(
            email=seat["email"], chamber=Chamber(seat["chamber"]),
            affiliation=seat.get("affiliation", ""),
            term_starts_on=today - timedelta(days=400), term_ends_on=today + timedelta(days=695)))


def load_demo_standards(db: Session, actor: Actor, seats: list[dict[str, str]],
                        settings: Settings) -> None:
    timeline.run_one(demo_standards(db, actor, seats, settings))


def demo_standards(db: Session, actor: Actor, seats: list[dict[str, str]],
                   settings: Settings) -> timeline.Thread:
    """The shipped packages, the body and two revisions, each step on its own day: threads
    of the demo's timeline (``core.timeline``)."""
    today = clock.today()  # the load's day, read before any step moves the clock
    yield from _shipped(db, actor)
    yield from _seat_body(db, actor, seats, today)
    yield timeline.at(today - timedelta(days=161), 9)
    if repo.list_revisions(db):
        return
    yield _performance_revision(db, actor, settings, today)
    yield _coc_revision(db, actor, settings, today)


def _coc_revision(db: Session, actor: Actor, settings: Settings, today: date
                  ) -> timeline.Thread:
    """A Chain of Custody revision out for public comment."""
    yield timeline.at(today - timedelta(days=28), 9)
    coc = revisions.create_revision(db, actor, RevisionCreate(
        standard="chain-of-custody", title="Chain of Custody Standard version 3",
        summary="Tightens mass-balance carry-over, adds recycled-content disclosure on CoC "
                "documents and clarifies scrap due diligence for remelters.",
        draft=_next_draft("chain-of-custody", 3, {}, today)))
    yield timeline.at(today - timedelta(days=21), 9)
    revisions.open_round(db, actor, coc.id, RoundOpen(
        opens_on=today - timedelta(days=21), closes_on=today + timedelta(days=39)), settings)
    criteria = [c.number for c in revisions.draft_package(revisions.load(db, coc.id)).criteria()]
    samples = [
        (None, "Lena Fischer", "lena.fischer@recycling-forum.example",
         "Please make the carry-over cap explicit: an open-ended carry-over lets a site bank "
         "CoC credit for years and weakens the link between claim and material."),
        (criteria[min(5, len(criteria) - 1)], "Tomás Ibarra", "t.ibarra@scrap-traders.example",
         "Due diligence on informal collectors should be proportionate; small collectors "
         "cannot produce the same paperwork as a shredder."),
        (criteria[min(9, len(criteria) - 1)], "Anonymous reviewer", "reviewer@mailbox.example",
         "State which recycled-content method (pre- or post-consumer) must be printed on the "
         "document, so buyers can compare claims."),
    ]
    for i, (clause, name, email, body) in enumerate(samples):
        yield timeline.at(today - timedelta(days=18 - 5 * i), 15)
        comment = revisions.add_comment(db, None, coc.id, CommentCreate(
            body=body, criterion=clause, name=name, contact_email=email),
            settings, source_address=f"demo-{i}")
        if i == 0:
            yield timeline.at(today - timedelta(days=16), 11)
            revisions.respond(db, actor, comment.id,
                              "Agreed. Draft 2 will cap carry-over at one accounting period by "
                              "default, configurable by the secretariat.")


def _performance_revision(db: Session, actor: Actor, settings: Settings, today: date
                          ) -> timeline.Thread:
    """A Performance Standard revision whose vote has closed and passed."""
    yield timeline.at(today - timedelta(days=160), 9)
    ps = revisions.create_revision(db, actor, RevisionCreate(
        standard="performance", title="Performance Standard version 4 (GHG pathway update)",
        summary="Aligns criterion 5.3 with the updated pathway method.",
        draft=_next_draft("performance", 4, {}, today)))
    yield timeline.at(today - timedelta(days=150), 9)
    revisions.open_round(db, actor, ps.id, RoundOpen(
        opens_on=today - timedelta(days=150), closes_on=today - timedelta(days=90)), settings)
    yield timeline.at(today - timedelta(days=89), 9)
    revisions.close_round(db, actor, ps.id)
    yield timeline.at(today - timedelta(days=12), 9)
    votes.open_vote(db, actor, ps.id, VoteOpen(closes_on=today + timedelta(days=14)), settings)
    vote_id = revisions.to_read(db, revisions.load(db, ps.id)).votes[-1].id
    members = repo.active_body_members(db, today)
    choices = [Choice.YES] * max(0, len(members) - 2) + [Choice.NO, Choice.ABSTAIN]
    for i, (member, choice) in enumerate(zip(members, choices, strict=False)):
        yield timeline.at(today - timedelta(days=11 - i // 2), 10 + i % 2 * 4)
        if member.user_id is None:
            votes.record_ballot(db, actor, vote_id, member.id, choice, "by e-mail")
        else:
            votes.cast(db, accounts.user_actor(db, member.user_id), vote_id, choice)
    yield timeline.at(today - timedelta(days=1), 17)
    votes.close_vote(db, actor, vote_id)
