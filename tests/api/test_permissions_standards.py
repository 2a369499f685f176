"""Who may do what with standards: the role x action matrix of /api/v1/standards.

Same shape as ``test_permissions.py`` (which reads ``MATRIX`` from here to prove every
endpoint has a row). One world per backend, built once inside an outer transaction; every
case runs in a savepoint that is rolled back, so each request sees the same world:

- the shipped standards (performance v2 and v3, chain of custody v2) and one entity;
- the member_admin of alpha seated on the standard-setting body (the whole roll);
- ``fresh``: a revision never consulted on (the secretariat's alone);
- ``consult``: a revision in consultation, its round open today, with one comment;
- ``closable``: a revision whose round ran out but is not closed yet;
- ``drafted``: back in draft after a closed round, ready for another round or a vote;
- ``voting``: a vote open, the seated member has voted yes (so it can also be closed);
- ``approved``: its vote closed and passed, ready to publish.

Roles, in ``ROLES`` order: anonymous, secretariat, member_admin of alpha (seated on the
body), member_admin of another member, member_user of alpha, auditor.

A row's body is JSON, or a ``str`` sent as it is with content-type application/yaml (the
package import).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine

from stewardship.core.auth import Role
from stewardship.core.config import Settings
from stewardship.registry.service import accounts
from stewardship.standards.demo import shipped_package_text
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
from stewardship.web.app import create_app
from tests import factories
from tests.api.matrix import (
    World,
    assert_rows_well_formed,
    cases,
    check_case,
    savepoint,
)
from tests.api.test_permissions import ROLES
from tests.conftest import BACKENDS, _engine_for, session_on
from tests.factories import SYSTEM
from tests.today import TODAY

S = "/api/v1/standards"
ALL_OK = (200,) * 6
ALL_CREATED = (201,) * 6
STAFF_ONLY = (401, 200, 403, 403, 403, 403)
STAFF_CREATES = (401, 201, 403, 403, 403, 403)
HIDDEN = (404, 200, 404, 404, 404, 404)
SHIPPED = ("performance-v2.yaml", "performance-v3.yaml", "chain-of-custody-v2.yaml")


def draft_text(source: str, version: int, **changes: Any) -> str:
    """A shipped package raised to ``version``, with some top-level fields changed."""
    data = yaml.safe_load(shipped_package_text(source))
    data.update(version=version, **changes)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


COC_V3 = draft_text("chain-of-custody-v2.yaml", 3)
COC_V7 = draft_text("chain-of-custody-v2.yaml", 7)
PERF_V4 = draft_text("performance-v3.yaml", 4)

COMMENT_BODY = {"body": "Please define carry-over more tightly.", "name": "Matrix Reader",
                "contact_email": "reader@forum.example"}
REVISION_BODY = {"standard": "chain-of-custody", "title": "Chain of Custody Standard v3",
                 "summary": "Caps carry-over.", "draft": COC_V3}

MATRIX: list[tuple[str, str, str, Any, tuple[int, ...]]] = [
    # the library
    ("GET", S, S, None, ALL_OK),
    ("POST", f"{S}/packages", f"{S}/packages", COC_V7, STAFF_CREATES),
    ("GET", f"{S}/{{slug}}/versions/{{version}}", f"{S}/performance/versions/3", None, ALL_OK),
    ("GET", f"{S}/{{slug}}/versions/{{version}}/package",
     f"{S}/chain-of-custody/versions/2/package", None, ALL_OK),
    ("GET", f"{S}/{{slug}}/versions/{{version}}/criteria/{{number}}",
     f"{S}/performance/versions/3/criteria/1.1", None, ALL_OK),
    ("POST", f"{S}/{{slug}}/versions/{{version}}/applicability",
     f"{S}/performance/versions/3/applicability",
     {"activities": ["smelting"], "member_class": "production_transformation",
      "entity_id": "{entity}"}, ALL_OK),
    ("POST", f"{S}/{{slug}}/versions/{{version}}/exclusions",
     f"{S}/performance/versions/3/exclusions",
     {"entity_id": "{entity}", "criterion": "1.1", "reason": "Not relevant to this scope."},
     STAFF_CREATES),
    ("GET", f"{S}/{{slug}}/diff", f"{S}/performance/diff?from=2&to=3", None, ALL_OK),
    # pages of the library: the full text of a version, and its PDF (public)
    ("GET", "/standards/{slug}/v{version}/full-text", "/standards/performance/v3/full-text",
     None, ALL_OK),
    ("GET", "/standards/{slug}/v{version}/full-text.pdf",
     "/standards/chain-of-custody/v2/full-text.pdf", None, ALL_OK),
    # a consulted revision's page, its draft shown as changes against the current version
    ("GET", "/consultations/{revision_id}", "/consultations/{approved}", None, ALL_OK),
    # revisions: public once consulted on, the secretariat's before
    ("GET", f"{S}/revisions", f"{S}/revisions", None, ALL_OK),
    ("POST", f"{S}/revisions", f"{S}/revisions", REVISION_BODY, STAFF_CREATES),
    ("GET", f"{S}/revisions/{{revision_id}}", f"{S}/revisions/{{consult}}", None, ALL_OK),
    ("GET", f"{S}/revisions/{{revision_id}}", f"{S}/revisions/{{fresh}}", None, HIDDEN),
    ("GET", f"{S}/revisions/{{revision_id}}/draft", f"{S}/revisions/{{consult}}/draft", None,
     ALL_OK),
    ("GET", f"{S}/revisions/{{revision_id}}/draft", f"{S}/revisions/{{fresh}}/draft", None,
     HIDDEN),
    ("PUT", f"{S}/revisions/{{revision_id}}/draft", f"{S}/revisions/{{drafted}}/draft",
     {"draft": draft_text("chain-of-custody-v2.yaml", 3, title="Chain of Custody (draft 2)")},
     STAFF_ONLY),
    ("POST", f"{S}/revisions/{{revision_id}}/rounds", f"{S}/revisions/{{drafted}}/rounds",
     {"opens_on": str(TODAY), "closes_on": str(TODAY + timedelta(days=30))}, STAFF_CREATES),
    ("POST", f"{S}/revisions/{{revision_id}}/rounds/close",
     f"{S}/revisions/{{closable}}/rounds/close", {}, STAFF_ONLY),
    ("POST", f"{S}/revisions/{{revision_id}}/withdraw", f"{S}/revisions/{{consult}}/withdraw",
     {"reason": "Superseded by a wider revision."}, STAFF_ONLY),
    # comments: anyone may comment while a round is open; the secretariat answers
    ("GET", f"{S}/revisions/{{revision_id}}/comments", f"{S}/revisions/{{consult}}/comments",
     None, ALL_OK),
    ("GET", f"{S}/revisions/{{revision_id}}/comments", f"{S}/revisions/{{fresh}}/comments",
     None, HIDDEN),
    ("POST", f"{S}/revisions/{{revision_id}}/comments", f"{S}/revisions/{{consult}}/comments",
     COMMENT_BODY, ALL_CREATED),
    ("PUT", f"{S}/comments/{{comment_id}}/response", f"{S}/comments/{{comment}}/response",
     {"response": "Agreed; draft 2 caps carry-over."}, STAFF_ONLY),
    # the body, its votes, publication
    ("GET", f"{S}/body", f"{S}/body", None, ALL_OK),
    ("POST", f"{S}/body", f"{S}/body",
     {"email": "{unseated_email}", "chamber": "civil_society", "affiliation": "Beta",
      "term_starts_on": str(TODAY), "term_ends_on": str(TODAY + timedelta(days=700))},
     STAFF_CREATES),
    ("POST", f"{S}/body/import", f"{S}/body/import",
     ("text/csv", "email,name,chamber,affiliation,term_starts_on,term_ends_on\n"
                  f"ina.river@forum.example,Ina River,civil_society,,{TODAY},"
                  f"{TODAY + timedelta(days=700)}\n"), STAFF_CREATES),
    ("POST", f"{S}/body/{{member_id}}/end", f"{S}/body/{{independent}}/end",
     {"ended_on": str(TODAY), "reason": "Stood down from the body."}, STAFF_ONLY),
    ("PUT", f"{S}/votes/{{vote_id}}/ballots/{{member_id}}",
     f"{S}/votes/{{vote}}/ballots/{{independent}}",
     {"choice": "yes", "received_by": "E-mail to the secretariat"}, STAFF_ONLY),
    ("POST", f"{S}/revisions/{{revision_id}}/votes", f"{S}/revisions/{{drafted}}/votes",
     {"closes_on": str(TODAY + timedelta(days=14))}, STAFF_CREATES),
    ("GET", f"{S}/votes/{{vote_id}}", f"{S}/votes/{{vote}}", None, ALL_OK),
    # Only a member on the vote's roll may vote: the seated member_admin of alpha.
    ("PUT", f"{S}/votes/{{vote_id}}/ballot", f"{S}/votes/{{vote}}/ballot", {"choice": "no"},
     (401, 403, 200, 403, 403, 403)),
    ("POST", f"{S}/votes/{{vote_id}}/close", f"{S}/votes/{{vote}}/close", {}, STAFF_ONLY),
    ("POST", f"{S}/revisions/{{revision_id}}/publish", f"{S}/revisions/{{approved}}/publish",
     {"effective_on": str(TODAY + timedelta(days=30)),
      "transition_ends_on": str(TODAY + timedelta(days=400))}, STAFF_ONLY),
]


# --- the world ----------------------------------------------------------------------------


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, engines: dict[str, Engine],
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    engine = _engine_for(request.param, engines, tmp_path_factory.getbasetemp())
    connection = engine.connect()
    outer = connection.begin()
    db = session_on(connection)
    try:
        settings = Settings(environment="test", var_dir=tmp_path_factory.mktemp("sperm"),
                            secret_key="m" * 40)
        for name in SHIPPED:
            library.store_version(db, SYSTEM, parse_package(shipped_package_text(name)))
        alpha = factories.organization(db, name="Alpha Standards Metals")
        beta = factories.organization(db, name="Beta Standards Metals")
        entity = factories.entity(db, alpha, name="Alpha Standards AS")
        firm = factories.audit_firm(db, name="Matrix Standards Assurance")
        actors = {
            "secretariat": factories.user(db, Role.SECRETARIAT),
            "member_admin": factories.user(db, Role.MEMBER_ADMIN, organization=alpha),
            "other_member_admin": factories.user(db, Role.MEMBER_ADMIN, organization=beta),
            "member_user": factories.user(db, Role.MEMBER_USER, organization=alpha),
            "auditor": factories.user(db, Role.AUDITOR, audit_firm=firm),
        }
        tokens = {role: accounts.create_token(db, actor, "matrix").token
                  for role, actor in actors.items()}
        voter = actors["member_admin"]
        votes.add_body_member(db, SYSTEM, BodyMemberCreate(
            email=voter.email, chamber=Chamber.INDUSTRY_UPSTREAM, affiliation="Alpha",
            term_starts_on=TODAY - timedelta(days=30),
            term_ends_on=TODAY + timedelta(days=700)))
        # Seated in her own right: no organisation, no account.
        independent = votes.add_body_member(db, SYSTEM, BodyMemberCreate(
            email="tove.independent@forum.example", name="Tove Independent",
            chamber=Chamber.CIVIL_SOCIETY, term_starts_on=TODAY - timedelta(days=30),
            term_ends_on=TODAY + timedelta(days=700)))

        def revision(standard: str, draft: str) -> Any:
            return revisions.create_revision(db, SYSTEM, RevisionCreate(
                standard=standard, title=f"Revision of {standard}", summary="Matrix.",
                draft=draft)).id

        def round_(revision_id: Any, opens: int, closes: int) -> None:
            revisions.open_round(db, SYSTEM, revision_id, RoundOpen(
                opens_on=TODAY + timedelta(days=opens),
                closes_on=TODAY + timedelta(days=closes)), settings)

        def consulted(standard: str, draft: str) -> Any:
            revision_id = revision(standard, draft)
            round_(revision_id, -100, -40)
            revisions.close_round(db, SYSTEM, revision_id)
            return revision_id

        def put_to_vote(revision_id: Any) -> Any:
            votes.open_vote(db, SYSTEM, revision_id,
                            VoteOpen(closes_on=TODAY + timedelta(days=14)), settings)
            vote_id = revisions.to_read(db, revisions.load(db, revision_id)).votes[-1].id
            votes.cast(db, voter, vote_id, Choice.YES)
            votes.record_ballot(db, SYSTEM, vote_id, independent.id, Choice.YES, "By post")
            return vote_id

        fresh = revision("chain-of-custody", COC_V3)
        consult = revision("chain-of-custody", COC_V3)
        round_(consult, -10, 50)
        comment = revisions.add_comment(db, None, consult, CommentCreate(
            body="What counts as eligible recycled input?", name="Lena Fischer",
            contact_email="lena@forum.example"), settings, source_address="world")
        closable = revision("chain-of-custody", COC_V3)
        round_(closable, -100, -40)
        drafted = consulted("chain-of-custody", COC_V3)
        vote = put_to_vote(consulted("chain-of-custody", COC_V3))
        approved = consulted("performance", PERF_V4)
        votes.close_vote(db, SYSTEM, put_to_vote(approved))
        db.flush()
        app = create_app(settings=settings, engine=engine)
        app.state.sessionmaker = lambda: session_on(connection)
        yield World(connection=connection, app=app, tokens=tokens, values={
            "entity": str(entity.id), "unseated_email": actors["other_member_admin"].email,
            "fresh": str(fresh), "consult": str(consult), "closable": str(closable),
            "drafted": str(drafted), "approved": str(approved), "vote": str(vote),
            "comment": str(comment.id), "independent": str(independent.id)})
    finally:
        db.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def isolated(world: World) -> Iterator[World]:
    with savepoint(world):
        yield world


@pytest.mark.parametrize(("method", "url", "body", "role", "expected"), cases(MATRIX, ROLES))
def test_standards_permission_matrix(isolated: World, method: str, url: str, body: Any,
                                     role: str, expected: int) -> None:
    check_case(isolated, method, url, body, role, expected, media_type="application/yaml")


def test_standards_rows_are_well_formed() -> None:
    assert_rows_well_formed(MATRIX, ROLES)
