"""Who may do what with complaints: the role x action matrix of /api/v1/complaints.

Same shape as ``test_permissions.py`` (which reads ``MATRIX`` from here to prove every
endpoint has a row). One world per backend, built once inside an outer transaction: an
anonymous complaint (with one file) about the member ``alpha``; every case runs in a
savepoint that is rolled back.

Roles, in ``ROLES`` order: anonymous, secretariat, member_admin of alpha (the respondent),
member_admin of another member, member_user of alpha, auditor.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from stewardship.complaints.rules import AttachmentUpload, SubjectKind
from stewardship.complaints.schemas import ComplaintCreate
from stewardship.complaints.service import filing
from stewardship.core.auth import Role
from stewardship.core.config import Settings
from stewardship.registry.service import accounts
from stewardship.web.app import create_app
from tests import factories
from tests.api.matrix import (
    World,
    assert_rows_well_formed,
    cases,
    check_case,
    savepoint,
)
from tests.api.test_permissions import ALL_OK, ROLES
from tests.conftest import BACKENDS, _engine_for, session_on

C = "/api/v1/complaints"
NOBODY_BUT_STAFF = (401, 200, 403, 403, 403, 403)

MATRIX: list[tuple[str, str, str, Any, tuple[int, ...]]] = [
    # Filing is public and multipart: a JSON body is malformed for everyone alike.
    ("POST", C, C, {"subject_kind": "member"}, (422,) * 6),
    ("GET", C, C, None, NOBODY_BUT_STAFF),
    ("GET", f"{C}/public", f"{C}/public", None, ALL_OK),
    # The tracking token is the credential, whoever holds it.
    ("GET", f"{C}/track/{{token}}", f"{C}/track/{{tracking}}", None, ALL_OK),
    ("POST", f"{C}/track/{{token}}/appeal", f"{C}/track/{{tracking}}/appeal",
     {"grounds": "Nothing was decided yet."}, (409,) * 6),
    ("POST", f"{C}/track/{{token}}/consent", f"{C}/track/{{tracking}}/consent",
     {"consent": True}, ALL_OK),
    ("GET", f"{C}/track/{{token}}", f"{C}/track/not-a-token", None, (404,) * 6),
    # Not published: the secretariat and the respondent's people see it, nobody else.
    ("GET", f"{C}/{{reference}}", f"{C}/{{complaint}}", None, (404, 200, 200, 404, 200, 404)),
    ("POST", f"{C}/{{reference}}/transition", f"{C}/{{complaint}}/transition",
     {"to": "accepted"}, NOBODY_BUT_STAFF),
    ("POST", f"{C}/{{reference}}/assign", f"{C}/{{complaint}}/assign", {"owner": None},
     NOBODY_BUT_STAFF),
    ("POST", f"{C}/{{reference}}/respondent-consent", f"{C}/{{complaint}}/respondent-consent",
     {"consent": True}, (401, 200, 200, 404, 403, 404)),
    ("GET", f"{C}/{{reference}}/attachments/{{attachment_id}}",
     f"{C}/{{complaint}}/attachments/{{attachment}}", None, NOBODY_BUT_STAFF),
]

ERROR_CODES = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 409: "conflict",
               422: "validation_error"}




@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, engines: dict[str, Engine],
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    engine = _engine_for(request.param, engines, tmp_path_factory.getbasetemp())
    connection = engine.connect()
    outer = connection.begin()
    db = session_on(connection)
    try:
        alpha = factories.organization(db, name="Alpha Bauxite")
        beta = factories.organization(db, name="Beta Rolling")
        firm = factories.audit_firm(db, name="Matrix Audits")
        actors = {
            "secretariat": factories.user(db, Role.SECRETARIAT),
            "member_admin": factories.user(db, Role.MEMBER_ADMIN, organization=alpha),
            "other_member_admin": factories.user(db, Role.MEMBER_ADMIN, organization=beta),
            "member_user": factories.user(db, Role.MEMBER_USER, organization=alpha),
            "auditor": factories.user(db, Role.AUDITOR, audit_firm=firm),
        }
        tokens = {role: accounts.create_token(db, actor, "matrix").token
                  for role, actor in actors.items()}
        settings = Settings(environment="test", var_dir=tmp_path_factory.mktemp("cperm"),
                            secret_key="m" * 40)
        case, tracking = filing.file_complaint(db, None, ComplaintCreate(
            subject_kind=SubjectKind.MEMBER, subject=alpha, summary="Dust on the fields",
            description="Trucks run uncovered at night past the village.", anonymous=True,
        ), [AttachmentUpload("notes.txt", b"dates")], settings=settings, source="matrix")
        db.flush()
        app = create_app(settings=settings, engine=engine)
        app.state.sessionmaker = lambda: session_on(connection)
        yield World(connection=connection, app=app, tokens=tokens, values={
            "complaint": case.reference, "tracking": tracking,
            "attachment": str(case.attachments[0].id)})
    finally:
        db.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def isolated(world: World) -> Iterator[World]:
    with savepoint(world):
        yield world


@pytest.mark.parametrize(("method", "url", "body", "role", "expected"), cases(MATRIX, ROLES))
def test_complaints_permission_matrix(isolated: World, method: str, url: str, body: Any,
                                      role: str, expected: int) -> None:
    check_case(isolated, method, url, body, role, expected, ERROR_CODES)


def test_rows_are_well_formed() -> None:
    assert_rows_well_formed(MATRIX, ROLES, ERROR_CODES)
