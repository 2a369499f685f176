"""Input and output models of the standards API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import EmailStr, Field

from stewardship.core.schemas import InputModel, OutputModel
from stewardship.registry.rules import Activity, MembershipClass
from stewardship.standards.rules import Chamber, Choice


class ThresholdRead(OutputModel):
    key: str
    value: Decimal
    unit: str
    description: str = ""
    applies_from: date | None = None


class PartRead(OutputModel):
    letter: str
    requirement: str


class CriterionRead(OutputModel):
    number: str
    title: str
    requirement: str
    guidance: str
    activities: list[str] | None = Field(description="null: every activity")
    member_classes: list[str]
    parts: list[PartRead]
    thresholds: list[ThresholdRead]


class PrincipleRead(OutputModel):
    number: int
    title: str
    group: str
    intent: str
    criteria: list[CriterionRead]


class VersionSummary(OutputModel):
    version: int
    title: str
    published_on: date
    effective_on: date
    transition_ends_on: date | None
    illustrative: bool
    criteria_count: int
    status: str = Field(description="current, superseded (still usable until the successor's "
                                    "transition ends), retired or upcoming")


class StandardRead(OutputModel):
    urn: str
    slug: str
    kind: str
    title: str
    versions: list[VersionSummary]


class VersionRead(OutputModel):
    urn: str
    slug: str
    kind: str
    version: int
    title: str
    provider: str
    copyright: str
    illustrative: bool
    published_on: date
    effective_on: date
    transition_ends_on: date | None
    digest: str
    loaded_at: datetime
    principles: list[PrincipleRead]


class ApplicabilityQuery(InputModel):
    activities: list[Activity] = Field(min_length=1)
    member_class: MembershipClass
    entity_id: uuid.UUID | None = Field(
        default=None, description="Apply the exclusions recorded for this entity's scope")


class ApplicabilityRow(OutputModel):
    number: str
    title: str
    applicable: bool
    reason: str


class ApplicabilityRead(OutputModel):
    applicable_count: int
    rows: list[ApplicabilityRow]


class ExclusionCreate(InputModel):
    entity_id: uuid.UUID
    criterion: str = Field(min_length=3, max_length=10)
    reason: str = Field(min_length=5, max_length=2000)


class ExclusionRead(OutputModel):
    id: uuid.UUID
    entity_id: uuid.UUID
    criterion_number: str
    reason: str
    decided_by: str
    decided_at: datetime


class CriterionBrief(OutputModel):
    number: str
    title: str


class ChangeRead(OutputModel):
    old_number: str
    new_number: str
    title: str
    old: dict[str, Any]
    new: dict[str, Any]


class DiffRead(OutputModel):
    slug: str
    from_version: int
    to_version: int
    added: list[CriterionBrief]
    removed: list[CriterionBrief]
    renumbered: list[ChangeRead]
    reworded: list[ChangeRead]
    applicability_changed: list[ChangeRead]
    thresholds_changed: list[ChangeRead]
    unchanged: int


class ProblemRead(OutputModel):
    path: str
    line: int | None
    message: str


# --- standard setting -------------------------------------------------------------------


class RevisionCreate(InputModel):
    standard: str = Field(min_length=2, max_length=80, description="Standard slug")
    title: str = Field(min_length=3, max_length=300)
    summary: str = Field(default="", max_length=5000)
    draft: str = Field(min_length=10, max_length=2_000_000,
                       description="The complete draft package, YAML")


class DraftUpdate(InputModel):
    draft: str = Field(min_length=10, max_length=2_000_000)


class RoundOpen(InputModel):
    opens_on: date
    closes_on: date


class RoundRead(OutputModel):
    id: uuid.UUID
    number: int
    opens_on: date
    closes_on: date
    closed_at: datetime | None
    open_for_comments: bool
    comment_count: int
    unanswered: int


class CommentCreate(InputModel):
    body: str = Field(min_length=3, max_length=10_000)
    criterion: str | None = Field(default=None, max_length=10,
                                  description="Clause commented on; leave out for the whole draft")
    name: str | None = Field(default=None, max_length=200,
                             description="Needed without an account")
    contact_email: EmailStr | None = Field(default=None, description="Needed without an account")


class CommentRead(OutputModel):
    id: uuid.UUID
    round_number: int
    criterion: str | None
    body: str
    author_name: str
    created_at: datetime
    response: str | None
    responded_at: datetime | None


class ResponseCreate(InputModel):
    response: str = Field(min_length=3, max_length=10_000)


class VoteOpen(InputModel):
    closes_on: date
    pass_share: str | None = Field(default=None, pattern=r"^\d+(/\d+|\.\d+)?$",
                                   description="Default from settings, e.g. 2/3")
    quorum_share: str | None = Field(default=None, pattern=r"^\d+(/\d+|\.\d+)?$")


class BallotCast(InputModel):
    choice: Choice


class ChamberResult(OutputModel):
    chamber: str
    yes: int
    no: int
    abstain: int


class RollEntry(OutputModel):
    name: str
    affiliation: str
    chamber: str
    choice: str | None = Field(description="null: did not vote")
    counted: bool = Field(default=True, description="False: the seat ended before the "
                                                    "count, so neither it nor its ballot "
                                                    "counted")
    seat_ended_on: date | None = None


class OwnBallotRead(OutputModel):
    """A voter's own seat and current choice in an open vote."""

    name: str
    chamber: str
    choice: str | None = Field(description="null: not voted yet")


class VoteRead(OutputModel):
    id: uuid.UUID
    revision_id: uuid.UUID
    opened_at: datetime
    closes_on: date
    closes_at: datetime = Field(description="When the vote closes by itself: midnight UTC "
                                            "after its closing day")
    pass_share: str
    quorum_share: str
    eligible: int
    ballots: int
    closed_at: datetime | None
    passed: bool | None
    yes: int | None = None
    no: int | None = None
    abstain: int | None = None
    quorum_met: bool | None = None
    by_chamber: list[ChamberResult] = []
    roll: list[RollEntry] = Field(default=[], description="Public once the vote closes")


class Transition(InputModel):
    reason: str = Field(default="", max_length=2000)


class PublishRequest(InputModel):
    effective_on: date
    transition_ends_on: date | None = None


class RevisionRead(OutputModel):
    id: uuid.UUID
    standard: str
    standard_title: str
    target_version: int
    title: str
    summary: str
    status: str
    created_at: datetime
    rounds: list[RoundRead]
    votes: list[VoteRead]
    published_version: int | None


class BodyMemberCreate(InputModel):
    email: EmailStr = Field(description="The e-mail of the member's user account; for a "
                                        "person seated in their own right (no organisation, "
                                        "no account), their contact address")
    name: str | None = Field(default=None, min_length=2, max_length=200,
                             description="Needed for a person without an account; a user's "
                                         "seat takes the user's name")
    affiliation: str = Field(default="", max_length=200)
    chamber: Chamber
    term_starts_on: date
    term_ends_on: date


class BodyMemberRead(OutputModel):
    id: uuid.UUID
    name: str
    affiliation: str
    chamber: str
    term_starts_on: date
    term_ends_on: date
    has_account: bool = Field(description="False: seated in their own right, without an "
                                          "account; the secretariat records their ballots")
    ended_on: date | None = Field(description="The seat ended before its term: from this "
                                              "day it no longer counts")
    end_reason: str | None


class SeatEnd(InputModel):
    ended_on: date = Field(description="The first day the seat no longer counts")
    reason: str = Field(min_length=3, max_length=2000)


class SeatingRow(OutputModel):
    row: int = Field(description="Line of the file; the header is line 1")
    ok: bool
    field: str | None = Field(default=None, description="The column at fault")
    message: str = Field(description="Who the row seats, or why it is refused")


class SeatingReport(OutputModel):
    seated: int = Field(description="Seats created; 0 unless every row is valid")
    rows: list[SeatingRow]


class BallotRecord(InputModel):
    """A ballot that a member without an account sent to the secretariat."""

    choice: Choice
    received_by: str = Field(min_length=3, max_length=200,
                             description="How the ballot reached the secretariat "
                                         "(e-mail of 3 May, the meeting's minutes...)")
