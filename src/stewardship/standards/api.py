"""REST API of the standards context: /api/v1/standards."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import PlainTextResponse

from stewardship.core.openapi import RATE_LIMITED, refused_with_report
from stewardship.core.params import MAX_VERSION, VersionNumber
from stewardship.core.uploads import csv_request_body, read_text_upload
from stewardship.core.web import CurrentActor, DbSession, OptionalActor, settings_of
from stewardship.registry.rules import Activity
from stewardship.standards.package import MAX_PACKAGE_BYTES
from stewardship.standards.schemas import (
    ApplicabilityQuery,
    ApplicabilityRead,
    BallotCast,
    BallotRecord,
    BodyMemberCreate,
    BodyMemberRead,
    CommentCreate,
    CommentRead,
    CriterionRead,
    DiffRead,
    DraftUpdate,
    ExclusionCreate,
    ExclusionRead,
    PublishRequest,
    ResponseCreate,
    RevisionCreate,
    RevisionRead,
    RoundOpen,
    SeatEnd,
    SeatingReport,
    StandardRead,
    Transition,
    VersionRead,
    VoteOpen,
    VoteRead,
)
from stewardship.standards.service import library, revisions, votes

router = APIRouter(prefix="/api/v1/standards", tags=["standards"])
MAX_SEATING_BYTES = 200_000

YAML_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/yaml": {"schema": {"type": "string"}},
                    "text/plain": {"schema": {"type": "string"}}},
    }
}


# --- library ----------------------------------------------------------------------------


@router.get("", response_model=list[StandardRead])
def list_standards(db: DbSession) -> list[StandardRead]:
    """Every standard with its versions and their status (current, superseded, retired)."""
    return library.list_standards(db)


@router.post("/packages", response_model=VersionRead, status_code=status.HTTP_201_CREATED,
             openapi_extra=YAML_BODY)
async def import_package(request: Request, db: DbSession, actor: CurrentActor) -> VersionRead:
    """Load a standard version from its YAML package (secretariat). The package is
    rejected whole, with the path and line of every problem; a version lower than or
    equal to one loaded for the same URN is refused (409)."""
    body = await request.body()
    if len(body) > MAX_PACKAGE_BYTES:
        from stewardship.core.errors import PayloadTooLarge

        raise PayloadTooLarge(f"a package may be at most {MAX_PACKAGE_BYTES} bytes")
    return library.import_package(db, actor, body)


@router.get("/{slug}/versions/{version}", response_model=VersionRead)
def get_version(db: DbSession, slug: str, version: VersionNumber,
                activity: Activity | None = None) -> VersionRead:
    """One version with its principles and criteria; ``activity`` keeps the criteria
    that apply to it."""
    return library.get_version(db, slug, version,
                               activity=activity.value if activity else None)


@router.get("/{slug}/versions/{version}/package", response_class=PlainTextResponse,
            responses={200: {"content": {"application/yaml": {}}}})
def export_package(db: DbSession, slug: str, version: VersionNumber) -> PlainTextResponse:
    """The version as a YAML package, in the import format."""
    text = library.export_package(db, slug, version)
    return PlainTextResponse(text, media_type="application/yaml", headers={
        "Content-Disposition": f'attachment; filename="{slug}-v{version}.yaml"'})


@router.get("/{slug}/versions/{version}/criteria/{number}", response_model=CriterionRead)
def get_criterion(db: DbSession, slug: str, version: VersionNumber, number: str) -> CriterionRead:
    """One criterion."""
    return library.get_criterion(db, slug, version, number)


@router.post("/{slug}/versions/{version}/applicability", response_model=ApplicabilityRead)
def applicability(db: DbSession, slug: str, version: VersionNumber,
                  body: ApplicabilityQuery) -> ApplicabilityRead:
    """The criteria that apply to a scope of these activities and member class, each with
    the reason it applies or not."""
    return library.applicability(db, slug, version, body)


@router.post("/{slug}/versions/{version}/exclusions", response_model=ExclusionRead,
             status_code=status.HTTP_201_CREATED)
def mark_not_applicable(db: DbSession, actor: CurrentActor, slug: str, version: VersionNumber,
                        body: ExclusionCreate) -> ExclusionRead:
    """Mark a criterion not applicable for one entity's scope, with the reason
    (secretariat)."""
    return library.mark_not_applicable(db, actor, slug, version, body)


@router.get("/{slug}/diff", response_model=DiffRead)
def diff(db: DbSession, slug: str,
         from_version: Annotated[int, Query(alias="from", ge=1, le=MAX_VERSION)],
         to_version: Annotated[int, Query(alias="to", ge=1, le=MAX_VERSION)]) -> DiffRead:
    """Criteria added, removed, renumbered, reworded, with changed applicability or
    thresholds, between two versions."""
    return library.diff(db, slug, from_version, to_version)


# --- standard setting -------------------------------------------------------------------


@router.get("/revisions", response_model=list[RevisionRead], tags=["standard setting"])
def list_revisions(db: DbSession, actor: OptionalActor) -> list[RevisionRead]:
    """Revisions with their consultation rounds and votes."""
    return revisions.list_revisions(db, actor)


@router.post("/revisions", response_model=RevisionRead, status_code=status.HTTP_201_CREATED,
             tags=["standard setting"])
def create_revision(db: DbSession, actor: CurrentActor, body: RevisionCreate) -> RevisionRead:
    """Start a revision from a complete draft package (secretariat)."""
    return revisions.create_revision(db, actor, body)


@router.get("/revisions/{revision_id}", response_model=RevisionRead, tags=["standard setting"])
def get_revision(db: DbSession, actor: OptionalActor, revision_id: uuid.UUID) -> RevisionRead:
    """One revision."""
    return revisions.get_revision(db, actor, revision_id)


@router.get("/revisions/{revision_id}/draft", response_class=PlainTextResponse,
            tags=["standard setting"])
def get_draft(db: DbSession, actor: OptionalActor, revision_id: uuid.UUID) -> PlainTextResponse:
    """The current draft package (public once consulted on)."""
    revisions.get_revision(db, actor, revision_id)
    return PlainTextResponse(revisions.load(db, revision_id).draft_yaml,
                             media_type="application/yaml")


@router.put("/revisions/{revision_id}/draft", response_model=RevisionRead,
            tags=["standard setting"])
def update_draft(db: DbSession, actor: CurrentActor, revision_id: uuid.UUID,
                 body: DraftUpdate) -> RevisionRead:
    """Replace the draft between rounds (secretariat)."""
    return revisions.update_draft(db, actor, revision_id, body.draft)


@router.post("/revisions/{revision_id}/rounds", response_model=RevisionRead,
             status_code=status.HTTP_201_CREATED, tags=["standard setting"])
def open_round(request: Request, db: DbSession, actor: CurrentActor, revision_id: uuid.UUID,
               body: RoundOpen) -> RevisionRead:
    """Open a consultation round (secretariat): 60 days at least for the first, 30 later."""
    return revisions.open_round(db, actor, revision_id, body, settings_of(request))


@router.post("/revisions/{revision_id}/rounds/close", response_model=RevisionRead,
             tags=["standard setting"])
def close_round(db: DbSession, actor: CurrentActor, revision_id: uuid.UUID) -> RevisionRead:
    """Close the open round and publish its synopsis (secretariat); refused while a
    comment is unanswered."""
    return revisions.close_round(db, actor, revision_id)


@router.post("/revisions/{revision_id}/withdraw", response_model=RevisionRead,
             tags=["standard setting"])
def withdraw(db: DbSession, actor: CurrentActor, revision_id: uuid.UUID,
             body: Transition) -> RevisionRead:
    """Withdraw a revision at any step before publication (secretariat)."""
    return revisions.withdraw(db, actor, revision_id, body.reason)


@router.get("/revisions/{revision_id}/comments", response_model=list[CommentRead],
            tags=["standard setting"])
def list_comments(db: DbSession, actor: OptionalActor,
                  revision_id: uuid.UUID) -> list[CommentRead]:
    """The synopsis of comments and responses of closed rounds (the secretariat sees the
    open round too)."""
    return revisions.comments(db, actor, revision_id)


@router.post("/revisions/{revision_id}/comments", response_model=CommentRead,
             status_code=status.HTTP_201_CREATED, tags=["standard setting"],
             responses=RATE_LIMITED)
def add_comment(request: Request, db: DbSession, actor: OptionalActor, revision_id: uuid.UUID,
                body: CommentCreate) -> CommentRead:
    """Comment on the draft or one clause while a round is open. No account needed: then
    give a name and a contact e-mail."""
    return revisions.add_comment(db, actor, revision_id, body, settings_of(request),
                                 request.client.host if request.client else "")


@router.put("/comments/{comment_id}/response", response_model=CommentRead,
            tags=["standard setting"])
def respond(db: DbSession, actor: CurrentActor, comment_id: uuid.UUID,
            body: ResponseCreate) -> CommentRead:
    """Answer a comment (secretariat)."""
    return revisions.respond(db, actor, comment_id, body.response)


@router.get("/body", response_model=list[BodyMemberRead], tags=["standard setting"])
def list_body(db: DbSession) -> list[BodyMemberRead]:
    """The standard-setting body: members, chambers, terms."""
    return votes.list_body(db)


@router.post("/body", response_model=BodyMemberRead, status_code=status.HTTP_201_CREATED,
             tags=["standard setting"])
def seat_member(db: DbSession, actor: CurrentActor, body: BodyMemberCreate) -> BodyMemberRead:
    """Seat a member on the body in a chamber for a term (secretariat): a user found by
    e-mail, or a person without an organisation or account, given by name and e-mail."""
    return votes.add_body_member(db, actor, body)


SEATING_BODY = csv_request_body(
    "email,name,chamber,affiliation,term_starts_on,term_ends_on\n"
    "a.mensah@upstream.example,,industry_upstream,Upstream Metals,2027-01-01,2028-12-31\n"
    "n.tjapaltjarri@ipaf.example,Nora Tjapaltjarri,indigenous_peoples,Nominated by the "
    "Indigenous Peoples Advisory Forum,2027-01-01,2028-12-31\n")
SEATING_REFUSED: dict[int | str, dict[str, Any]] = {
    422: refused_with_report("Rows are refused (nobody seated): the error names each row "
                             "and column, and `report` holds the whole row-by-row report; "
                             "or the file itself is malformed", "SeatingReport"),
    413: {"description": f"The file is larger than {MAX_SEATING_BYTES:,} bytes"},
}


async def read_seating_csv(request: Request) -> str:
    return await read_text_upload(request, max_bytes=MAX_SEATING_BYTES,
                                  too_large=f"the file is larger than {MAX_SEATING_BYTES:,} "
                                            "bytes")


@router.post("/body/import", response_model=SeatingReport, status_code=status.HTTP_201_CREATED,
             responses=SEATING_REFUSED, openapi_extra={"requestBody": SEATING_BODY},
             tags=["standard setting"])
def seat_from_csv(db: DbSession, actor: CurrentActor,
                  text: Annotated[str, Depends(read_seating_csv)]) -> SeatingReport:
    """Seat the body from a CSV file (secretariat): columns email, name, chamber,
    affiliation, term_starts_on, term_ends_on; one seat per row. A user is found by
    e-mail; a person without an organisation or account is seated in their own right with
    a name (civil society or Indigenous peoples chamber). Every row is checked; the seats
    are stored only when every row is valid, otherwise 422 names each refused row and
    column and nobody is seated."""
    return votes.seat_from_csv(db, actor, text)


@router.post("/body/{member_id}/end", response_model=BodyMemberRead, tags=["standard setting"])
def end_seat(db: DbSession, actor: CurrentActor, member_id: uuid.UUID,
             body: SeatEnd) -> BodyMemberRead:
    """End a seat before its term, with the reason (secretariat). From `ended_on` the seat
    no longer counts for the quorum of a vote, nor may it vote; it stays on record."""
    return votes.end_seat(db, actor, member_id, body)


@router.post("/revisions/{revision_id}/votes", response_model=RevisionRead,
             status_code=status.HTTP_201_CREATED, tags=["standard setting"])
def open_vote(request: Request, db: DbSession, actor: CurrentActor, revision_id: uuid.UUID,
              body: VoteOpen) -> RevisionRead:
    """Put a revision to the body's vote (secretariat)."""
    return votes.open_vote(db, actor, revision_id, body, settings_of(request))


@router.get("/votes/{vote_id}", response_model=VoteRead, tags=["standard setting"])
def get_vote(db: DbSession, vote_id: uuid.UUID) -> VoteRead:
    """A vote; the tally by chamber and who voted how are public once it closes. Past
    its closing time (`closes_at`) a vote closes itself: the first read counts it."""
    return votes.get_vote(db, vote_id)


@router.put("/votes/{vote_id}/ballot", response_model=VoteRead, tags=["standard setting"])
def cast(db: DbSession, actor: CurrentActor, vote_id: uuid.UUID, body: BallotCast) -> VoteRead:
    """Cast or change your ballot (members of the body on the vote's roll)."""
    return votes.cast(db, actor, vote_id, body.choice)


@router.put("/votes/{vote_id}/ballots/{member_id}", response_model=VoteRead,
            tags=["standard setting"])
def record_ballot(db: DbSession, actor: CurrentActor, vote_id: uuid.UUID,
                  member_id: uuid.UUID, body: BallotRecord) -> VoteRead:
    """Record the ballot that a member seated without an account sent in (secretariat),
    saying how it came."""
    return votes.record_ballot(db, actor, vote_id, member_id, body.choice, body.received_by)


@router.post("/votes/{vote_id}/close", response_model=RevisionRead, tags=["standard setting"])
def close_vote(db: DbSession, actor: CurrentActor, vote_id: uuid.UUID) -> RevisionRead:
    """Close and count a vote (secretariat)."""
    return votes.close_vote(db, actor, vote_id)


@router.post("/revisions/{revision_id}/publish", response_model=RevisionRead,
             tags=["standard setting"])
def publish(db: DbSession, actor: CurrentActor, revision_id: uuid.UUID,
            body: PublishRequest) -> RevisionRead:
    """Publish an approved revision as a new version (secretariat)."""
    return votes.publish(db, actor, revision_id, body)
