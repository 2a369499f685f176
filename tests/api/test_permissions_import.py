"""Who may import custody movements: the role x action matrix of
``POST /api/v1/custody/import``.

Same shape as ``test_permissions.py`` (which reads ``MATRIX`` from here to prove every
endpoint has a row). One world per backend, built once inside an outer transaction with
``tests/custody_world.py``; every case runs in a savepoint that is rolled back. The body
is a CSV file (``text/csv``) with one production row at the smelter's facility.

Roles, in ``ROLES`` order: anonymous, secretariat, member_admin of the smelter, member_user
of the smelter, member_admin of the mill (the row names a facility that is not theirs, so
the row is refused: 422 with the report), auditor.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from stewardship.core.config import Settings
from stewardship.registry.service import accounts
from stewardship.web.app import create_app
from tests import custody_world as cw
from tests.api.matrix import (
    World,
    assert_rows_well_formed,
    cases,
    check_case,
    savepoint,
)
from tests.conftest import BACKENDS, _engine_for, session_on
from tests.today import TODAY

ROLES = ("anonymous", "secretariat", "member_admin", "member_user", "other_member_admin",
         "auditor")
URL = "/api/v1/custody/import"
# the smelter's own users; the mill's admin may import, but not at the smelter's facility
OWN_MEMBERS = (401, 403, 200, 200, 422, 403)

PRODUCTION = ("kind,date,facility_id,material,kilograms\n"
              "production,{today},{smelter_facility},asi_aluminium,1000\n")

MATRIX: list[tuple[str, str, str, Any, tuple[int, ...]]] = [
    ("POST", URL, f"{URL}?apply=false", ("text/csv", PRODUCTION), OWN_MEMBERS),
    ("POST", URL, f"{URL}?apply=true", ("text/csv", PRODUCTION), OWN_MEMBERS),
]

ERROR_CODES = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 422: "invalid"}


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, engines: dict[str, Engine],
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    engine = _engine_for(request.param, engines, tmp_path_factory.getbasetemp())
    connection = engine.connect()
    outer = connection.begin()
    db = session_on(connection)
    try:
        w = cw.build(db)
        actors = {"secretariat": w.secretariat, "member_admin": w.smelter.admin,
                  "member_user": w.smelter.user, "other_member_admin": w.mill.admin,
                  "auditor": w.auditor}
        tokens = {role: accounts.create_token(db, actor, "matrix").token
                  for role, actor in actors.items()}
        db.flush()
        settings = Settings(environment="test", var_dir=tmp_path_factory.mktemp("imperm"),
                            secret_key="m" * 40)
        app = create_app(settings=settings, engine=engine)
        app.state.sessionmaker = lambda: session_on(connection)
        yield World(connection=connection, app=app, tokens=tokens, values={
            "today": TODAY.isoformat(), "smelter_facility": w.smelter.facility})
    finally:
        db.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def isolated(world: World) -> Iterator[World]:
    with savepoint(world):
        yield world


@pytest.mark.parametrize(("method", "url", "body", "role", "expected"), cases(MATRIX, ROLES))
def test_import_permission_matrix(isolated: World, method: str, url: str, body: Any,
                                  role: str, expected: int) -> None:
    response = check_case(isolated, method, url, body, role, expected, ERROR_CODES)
    if expected == 200:
        assert response.json()["applied"] is url.endswith("apply=true")


def test_matrix_rows_are_well_formed() -> None:
    assert_rows_well_formed(MATRIX, ROLES, ERROR_CODES)
