"""Who may manage PACT client credentials: the role x action matrix of
``/api/v1/pact/clients``.

Same shape as ``test_permissions.py`` (which reads ``MATRIX`` from here to prove every
endpoint has a row). One world per backend, built once inside an outer transaction with
``tests/custody_world.py``; every case runs in a savepoint that is rolled back.

Roles, in ``ROLES`` order: anonymous, secretariat, member_admin of the smelter (the
supplier that made the credentials), member_user of the smelter, member_admin of the mill
(the buyer: credentials it did not make are not its to see or revoke), auditor.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from stewardship.core.config import Settings
from stewardship.interop.pact.schemas import PactClientCreate
from stewardship.interop.pact.service import clients
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

ROLES = ("anonymous", "secretariat", "member_admin", "member_user", "other_member_admin",
         "auditor")
P = "/api/v1/pact"
ADMINS = (401, 403, 200, 403, 200, 403)

MATRIX: list[tuple[str, str, str, Any, tuple[int, ...]]] = [
    ("GET", f"{P}/clients", f"{P}/clients", None, ADMINS),
    ("POST", f"{P}/clients", f"{P}/clients", {"name": "Connector", "buyer": "{remelter}"},
     (401, 403, 201, 403, 201, 403)),
    ("POST", f"{P}/clients/{{client_pk}}/revoke", f"{P}/clients/{{client}}/revoke", {},
     (401, 403, 200, 403, 404, 403)),
]

ERROR_CODES = {401: "unauthenticated", 403: "forbidden", 404: "not_found"}


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
        settings = Settings(environment="test", var_dir=tmp_path_factory.mktemp("pactperm"),
                            secret_key="m" * 40)
        made = clients.create_client(db, w.smelter.admin, PactClientCreate(
            name="Mill connector", buyer=w.mill.slug), settings.secret_key)
        db.flush()
        app = create_app(settings=settings, engine=engine)
        app.state.sessionmaker = lambda: session_on(connection)
        yield World(connection=connection, app=app, tokens=tokens,
                    values={"remelter": w.remelter.slug, "client": str(made.id)})
    finally:
        db.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def isolated(world: World) -> Iterator[World]:
    with savepoint(world):
        yield world


@pytest.mark.parametrize(("method", "url", "body", "role", "expected"), cases(MATRIX, ROLES))
def test_pact_permission_matrix(isolated: World, method: str, url: str, body: Any,
                                role: str, expected: int) -> None:
    response = check_case(isolated, method, url, body, role, expected, ERROR_CODES)
    if expected == 201:
        assert response.json()["client_secret"].startswith("pcs_")


def test_matrix_rows_are_well_formed() -> None:
    assert_rows_well_formed(MATRIX, ROLES, ERROR_CODES)
