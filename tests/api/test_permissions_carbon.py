"""Who may do what with emission inventories: the role x action matrix of /api/v1/carbon.

Same shape as ``test_permissions.py`` (which reads ``MATRIX`` from here to prove every
endpoint has a row). One world per backend (``tests/carbon_world.py``) with one inventory
of the smelter member, built once inside an outer transaction; every case runs in a
savepoint that is rolled back.

Roles, in ``ROLES`` order: anonymous, secretariat, member_admin of the smelter, member_user
of the smelter, member_admin of the mill (another member: it records for its own entity,
and never sees the smelter's inventory), auditor.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from stewardship.carbon.schemas import InventoryCreate
from stewardship.carbon.service import inventories
from stewardship.core.config import Settings
from stewardship.registry.service import accounts
from stewardship.web.app import create_app
from tests import carbon_world as kw
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
C = "/api/v1/carbon"
YEAR = TODAY.year - 1
# A casting inventory: any member may record one for its own only entity.
BODY = {"period_start": f"{YEAR}-01-01", "period_end": f"{YEAR}-12-31", "scope1_t": "1000",
        "method": "GHG Protocol", "processes": [{"process": "casting", "output_kg": 5000}]}
CORRECTION = {**kw.smelter_body(YEAR - 1, scope1="650000"), "reason": "meter corrected"}
CSV = ("period_start,period_end,scope1_t,method,output_kg_casting\n"
       f"{YEAR - 2}-01-01,{YEAR - 2}-12-31,900,GHG Protocol,4000\n")

MATRIX: list[tuple[str, str, str, Any, tuple[int, ...]]] = [
    ("GET", f"{C}/inventories", f"{C}/inventories", None, (401, 200, 200, 200, 200, 403)),
    ("POST", f"{C}/inventories", f"{C}/inventories", BODY, (401, 403, 201, 201, 201, 403)),
    ("GET", f"{C}/inventories/{{inventory_id}}", f"{C}/inventories/{{inventory}}", None,
     (401, 200, 200, 200, 404, 403)),
    ("PUT", f"{C}/inventories/{{inventory_id}}", f"{C}/inventories/{{inventory}}",
     CORRECTION, (401, 403, 200, 200, 404, 403)),
    ("POST", f"{C}/inventories/import", f"{C}/inventories/import?apply=true", CSV,
     (401, 403, 200, 200, 200, 403)),
    ("GET", f"{C}/smelters", f"{C}/smelters", None, (200,) * 6),
    # CBAM: the smelter's installation data (its own and the secretariat's); the importer's
    # declaration for the mill (DE, in the EU) only: the smelter (NO) is outside the EU,
    # the secretariat must name the importer.
    ("GET", f"{C}/inventories/{{inventory_id}}/cbam", f"{C}/inventories/{{inventory}}/cbam",
     None, (401, 200, 200, 200, 404, 403)),
    ("GET", f"{C}/inventories/{{inventory_id}}/cbam.xlsx",
     f"{C}/inventories/{{inventory}}/cbam.xlsx", None, (401, 200, 200, 200, 404, 403)),
    ("GET", f"{C}/cbam/imports", f"{C}/cbam/imports?year={YEAR}", None,
     (401, 422, 403, 403, 200, 403)),
    ("GET", f"{C}/cbam/imports.csv", f"{C}/cbam/imports.csv?year={YEAR}", None,
     (401, 422, 403, 403, 200, 403)),
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
        w = kw.build(db)
        made = inventories.record_inventory(db, w.smelter.admin, InventoryCreate.model_validate(
            kw.smelter_body(YEAR - 1)))
        actors = {"secretariat": w.secretariat, "member_admin": w.smelter.admin,
                  "member_user": w.smelter.user, "other_member_admin": w.mill.admin,
                  "auditor": w.auditor}
        tokens = {role: accounts.create_token(db, actor, "matrix").token
                  for role, actor in actors.items()}
        db.flush()
        settings = Settings(environment="test", var_dir=tmp_path_factory.mktemp("cperm"),
                            secret_key="m" * 40)
        app = create_app(settings=settings, engine=engine)
        app.state.sessionmaker = lambda: session_on(connection)
        yield World(connection=connection, app=app, tokens=tokens,
                    values={"inventory": str(made.id)})
    finally:
        db.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def isolated(world: World) -> Iterator[World]:
    with savepoint(world):
        yield world


@pytest.mark.parametrize(("method", "url", "body", "role", "expected"), cases(MATRIX, ROLES))
def test_carbon_permission_matrix(isolated: World, method: str, url: str, body: Any,
                                  role: str, expected: int) -> None:
    check_case(isolated, method, url, body, role, expected, ERROR_CODES)


def test_matrix_rows_are_well_formed() -> None:
    assert_rows_well_formed(MATRIX, ROLES, ERROR_CODES)
