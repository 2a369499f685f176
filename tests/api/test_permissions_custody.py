"""Who may do what in the chain of custody: the role x action matrix of /api/v1/custody.

Same shape as ``test_permissions.py`` (which reads ``MATRIX`` from here to prove every
endpoint has a row). One world per backend, built once inside an outer transaction with
``tests/custody_world.py``: a certified smelter (the issuer) with production last year and
this year, one CoC document to a rolling mill still waiting for receipt and one already
received; every case runs in a savepoint that is rolled back.

Roles, in ``ROLES`` order: anonymous, secretariat, member_admin of the smelter (the
issuer, whose entity and accounts these are), member_user of the smelter, member_admin of
the mill (the recipient), member_admin of the can maker (a member with no part in these
documents), an auditor.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from stewardship.core.config import Settings
from stewardship.core.pagination import PageParams
from stewardship.custody.models import CustodyOperation
from stewardship.custody.service import reads
from stewardship.registry.service import accounts
from stewardship.web.app import create_app
from tests import custody_world as cw
from tests.api.matrix import (
    World,
    assert_rows_well_formed,
    cases,
    check_case,
    client_as,
    savepoint,
)
from tests.conftest import BACKENDS, _engine_for, session_on
from tests.today import TODAY

ROLES = ("anonymous", "secretariat", "member_admin", "member_user", "recipient_admin",
         "other_member_admin", "auditor")
C = "/api/v1/custody"
LAST_YEAR = date(TODAY.year - 1, 6, 1)

ALL_OK = (200,) * 7
STAFF_ONLY = (401, 200, 403, 403, 403, 403, 403)
# every signed-in member and the secretariat; an auditor has no custody role
MEMBERS_AND_STAFF = (401, 200, 200, 200, 200, 200, 403)
# the issuer's own entity: its users and the secretariat; hidden from everyone else
ISSUER_READS = (401, 200, 200, 200, 404, 404, 404)
# a document: its two parties and the secretariat
PARTIES_READ = (401, 200, 200, 200, 200, 404, 404)
# moving the issuer's account: its users only; others cannot name its entity (422)
ISSUER_WRITES = (401, 403, 201, 201, 422, 422, 403)
# the named recipient only; the issuer is told so (403), a stranger sees nothing (404)
RECIPIENT_ONLY = (401, 403, 403, 403, 200, 404, 403)
ISSUER_ONLY = (401, 403, 200, 200, 403, 404, 403)

ENTITY = "{smelter_entity}"
PRODUCTION = {"entity_id": ENTITY, "facility_id": "{smelter_facility}",
              "material": "asi_aluminium", "kilograms": 1_000, "occurred_on": str(TODAY)}
SCRAP = {"entity_id": ENTITY, "facility_id": "{remelt_line}", "scrap_kind": "post_consumer",
         "kilograms": 2_000, "occurred_on": str(TODAY), "note": "DD file 7"}
NON_COC = {"entity_id": ENTITY, "material": "asi_aluminium", "kilograms": 300,
           "occurred_on": str(TODAY)}
TRANSFORMATION = {"entity_id": ENTITY, "facility_id": "{smelter_facility}",
                  "transformation": "casting", "source_material": "asi_aluminium",
                  "input_kg": 1_000, "declared_yield": "0.98", "occurred_on": str(TODAY)}
DOCUMENT = {"issuer_entity_id": ENTITY, "recipient_entity_id": "{mill_entity}",
            "material": "asi_aluminium", "quantity_kg": 800, "coc_quantity_kg": 500,
            "shipment_date": str(TODAY)}
SETTINGS = {"period_months": 12, "carry_over_cap": 5_000, "carry_over_expiry": 1}
CLOSE = {"entity_id": ENTITY, "period_start": str(date(TODAY.year - 1, 1, 1))}
REASON = {"reason": "Not what was ordered"}

MATRIX: list[tuple[str, str, str, Any, tuple[int, ...]]] = [
    # accounts: a member lists its own (200, possibly empty); naming another's is 404
    ("GET", f"{C}/accounts", f"{C}/accounts", None, MEMBERS_AND_STAFF),
    ("GET", f"{C}/accounts", f"{C}/accounts?entity_id={ENTITY}", None,
     (401, 200, 200, 200, 404, 404, 403)),
    ("GET", f"{C}/accounts", f"{C}/accounts?organization={{smelter}}&status=open", None,
     MEMBERS_AND_STAFF),
    ("GET", f"{C}/accounts/{{account_id}}", f"{C}/accounts/{{account}}", None, ISSUER_READS),
    ("GET", f"{C}/accounts/{{account_id}}/history", f"{C}/accounts/{{account}}/history", None,
     ISSUER_READS),
    # the issuer's entity
    ("GET", f"{C}/entities/{{entity_id}}/operations",
     f"{C}/entities/{ENTITY}/operations?kind=production", None, ISSUER_READS),
    ("GET", f"{C}/entities/{{entity_id}}/periods", f"{C}/entities/{ENTITY}/periods", None,
     ISSUER_READS),
    ("GET", f"{C}/entities/{{entity_id}}/settings", f"{C}/entities/{ENTITY}/settings", None,
     ISSUER_READS),
    ("PUT", f"{C}/entities/{{entity_id}}/settings", f"{C}/entities/{ENTITY}/settings",
     SETTINGS, (401, 403, 200, 403, 404, 404, 403)),
    ("GET", f"{C}/entities/{{entity_id}}/report",
     f"{C}/entities/{ENTITY}/report?year={TODAY.year}", None, ISSUER_READS),
    # one journal entry, and its reversal: the issuer's users only
    ("GET", f"{C}/operations/{{operation_id}}", f"{C}/operations/{{last_year_production}}",
     None, ISSUER_READS),
    ("POST", f"{C}/operations/{{operation_id}}/reverse",
     f"{C}/operations/{{last_year_production}}/reverse", {"reason": "Booked twice"},
     (401, 403, 201, 201, 404, 404, 403)),
    # what comes in
    ("POST", f"{C}/production", f"{C}/production", PRODUCTION, ISSUER_WRITES),
    ("POST", f"{C}/scrap-intake", f"{C}/scrap-intake", SCRAP, ISSUER_WRITES),
    ("POST", f"{C}/non-coc-inputs", f"{C}/non-coc-inputs", NON_COC, ISSUER_WRITES),
    ("POST", f"{C}/transformations", f"{C}/transformations", TRANSFORMATION, ISSUER_WRITES),
    # documents
    ("POST", f"{C}/documents", f"{C}/documents", DOCUMENT, ISSUER_WRITES),
    ("POST", f"{C}/documents/batch", f"{C}/documents/batch",
     {"items": [DOCUMENT, DOCUMENT]}, ISSUER_WRITES),
    ("GET", f"{C}/documents", f"{C}/documents?direction=outgoing&status=issued", None,
     MEMBERS_AND_STAFF),
    ("GET", f"{C}/documents", f"{C}/documents?entity_id={ENTITY}", None,
     (401, 200, 200, 200, 404, 404, 403)),
    ("GET", f"{C}/documents/{{number}}", f"{C}/documents/{{issued}}", None, PARTIES_READ),
    ("GET", f"{C}/documents/{{number}}", f"{C}/documents/COC-2000-NOSUCHNO", None,
     (401, 404, 404, 404, 404, 404, 404)),
    ("POST", f"{C}/documents/{{number}}/receive", f"{C}/documents/{{issued}}/receive", {},
     RECIPIENT_ONLY),
    ("POST", f"{C}/documents/{{number}}/reject", f"{C}/documents/{{issued}}/reject", REASON,
     RECIPIENT_ONLY),
    ("POST", f"{C}/documents/{{number}}/cancel", f"{C}/documents/{{issued}}/cancel", REASON,
     ISSUER_ONLY),
    ("GET", f"{C}/documents/{{number}}/chain", f"{C}/documents/{{received}}/chain?depth=3",
     None, PARTIES_READ),
    # public verification: whoever holds the number
    ("GET", f"{C}/verify/{{number}}", f"{C}/verify/{{received}}", None, ALL_OK),
    ("GET", f"{C}/verify/{{number}}", f"{C}/verify/COC-2000-NOSUCHNO", None, (404,) * 7),
    ("GET", f"{C}/unmatched", f"{C}/unmatched?days=0", None, MEMBERS_AND_STAFF),
    # periods
    ("POST", f"{C}/periods/close", f"{C}/periods/close", CLOSE,
     (401, 403, 200, 200, 422, 422, 403)),
    # the secretariat's views of the network
    ("GET", f"{C}/audit", f"{C}/audit", None, STAFF_ONLY),
    ("GET", f"{C}/network", f"{C}/network?year={TODAY.year}", None, STAFF_ONLY),
    ("GET", f"{C}/network.svg", f"{C}/network.svg", None, STAFF_ONLY),
    # the flows as published: anyone
    ("GET", f"{C}/flows", f"{C}/flows?year={TODAY.year}", None, ALL_OK),
]

# The custody pages added for reading (a signed-out visitor of a member's page is sent to
# the sign-in page: 303): method, route, URL, expected status per role.
REPORT = f"entity={ENTITY}&year={TODAY.year}"
PAGE_MATRIX: list[tuple[str, str, str, Any, tuple[int, ...]]] = [
    ("GET", "/custody/accounts/{account_id}", "/custody/accounts/{account}", None,
     (303, 200, 200, 200, 404, 404, 404)),
    ("GET", "/custody/report.csv", f"/custody/report.csv?{REPORT}", None,
     (303, 200, 200, 200, 404, 404, 403)),
    ("GET", "/custody/report.pdf", f"/custody/report.pdf?{REPORT}", None,
     (303, 200, 200, 200, 404, 404, 403)),
    ("GET", "/custody/flows", f"/custody/flows?year={TODAY.year}", None, ALL_OK),
]

ERROR_CODES = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 409: "conflict",
               422: "invalid"}


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, engines: dict[str, Engine],
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    engine = _engine_for(request.param, engines, tmp_path_factory.getbasetemp())
    connection = engine.connect()
    outer = connection.begin()
    db = session_on(connection)
    try:
        w = cw.build(db)
        remelt_line = cw.add_facility(db, w.smelter, "Fjell Remelt Line",
                                      ["remelting_refining"])
        cw.produce(db, w.smelter, "asi_aluminium", 9_000, on=LAST_YEAR)
        cw.produce(db, w.smelter, "asi_aluminium", 50_000)
        issued = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 2_000)
        received = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 3_000)
        cw.receive(db, w.mill, received)
        last_year = db.scalars(select(CustodyOperation.id).where(
            CustodyOperation.entity_id == w.smelter.entity_id,
            CustodyOperation.occurred_on == LAST_YEAR)).one()
        account = reads.list_accounts(db, w.smelter.user, PageParams(1, 10),
                                      entity_id=w.smelter.entity_id).items[0]
        actors = {"secretariat": w.secretariat, "member_admin": w.smelter.admin,
                  "member_user": w.smelter.user, "recipient_admin": w.mill.admin,
                  "other_member_admin": w.canmaker.admin, "auditor": w.auditor}
        tokens = {role: accounts.create_token(db, actor, "matrix").token
                  for role, actor in actors.items()}
        db.flush()
        settings = Settings(environment="test", var_dir=tmp_path_factory.mktemp("cuperm"),
                            secret_key="m" * 40)
        app = create_app(settings=settings, engine=engine)
        app.state.sessionmaker = lambda: session_on(connection)
        yield World(connection=connection, app=app, tokens=tokens, values={
            "smelter": w.smelter.slug, "smelter_entity": str(w.smelter.entity_id),
            "smelter_facility": w.smelter.facility, "remelt_line": remelt_line,
            "mill_entity": str(w.mill.entity_id), "account": str(account.id),
            "issued": issued, "received": received, "last_year_production": str(last_year)})
    finally:
        db.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def isolated(world: World) -> Iterator[World]:
    with savepoint(world):
        yield world


@pytest.mark.parametrize(("method", "url", "body", "role", "expected"), cases(MATRIX, ROLES))
def test_custody_permission_matrix(isolated: World, method: str, url: str, body: Any,
                                   role: str, expected: int) -> None:
    check_case(isolated, method, url, body, role, expected, ERROR_CODES)


@pytest.mark.parametrize(("method", "url", "body", "role", "expected"),
                         cases(PAGE_MATRIX, ROLES))
def test_custody_page_permission_matrix(isolated: World, method: str, url: str, body: Any,
                                        role: str, expected: int) -> None:
    client = client_as(isolated, role)
    response = client.request(method, isolated.fill(url), follow_redirects=False)
    assert response.status_code == expected, response.text[:300]
    if expected == 303:
        assert response.headers["location"].startswith("/login?next=")


def test_page_matrix_covers_the_reading_pages(world: World) -> None:
    try:  # included routers are wrappers in newer FastAPI; this flattens them
        from fastapi.routing import iter_route_contexts
        found: Any = iter_route_contexts(world.app.routes)
    except ImportError:  # pragma: no cover - older FastAPI lists the routes directly
        found = world.app.routes
    routes = {getattr(r, "path", "") for r in found}
    for _method, route, *_ in PAGE_MATRIX:
        assert route in routes, route


def test_matrix_rows_are_well_formed() -> None:
    assert_rows_well_formed(MATRIX, ROLES, ERROR_CODES)


# --- what the 200s hold: nobody is shown another member's ledger --------------------------


def _numbers(client: TestClient, url: str) -> set[str]:
    response = client.get(url)
    assert response.status_code == 200, response.text
    return {d["number"] for d in response.json()["items"]}


def test_each_member_lists_only_its_own_accounts(isolated: World) -> None:
    entity = isolated.values["smelter_entity"]
    staff = client_as(isolated, "secretariat").get(f"{C}/accounts?entity_id={entity}")
    assert staff.json()["total"] >= 2
    for role in ("recipient_admin", "other_member_admin"):
        listed = client_as(isolated, role).get(f"{C}/accounts?per_page=50").json()["items"]
        assert all(a["entity"]["entity_id"] != entity for a in listed), role
    mine = client_as(isolated, "member_user").get(f"{C}/accounts").json()["items"]
    assert mine and all(a["entity"]["entity_id"] == entity for a in mine)


def test_documents_are_listed_to_their_parties_only(isolated: World) -> None:
    both = {isolated.values["issued"], isolated.values["received"]}
    assert _numbers(client_as(isolated, "member_user"), f"{C}/documents") == both
    assert _numbers(client_as(isolated, "recipient_admin"),
                    f"{C}/documents?direction=incoming") == both
    assert _numbers(client_as(isolated, "other_member_admin"), f"{C}/documents") == set()
    assert both <= _numbers(client_as(isolated, "secretariat"), f"{C}/documents?per_page=50")
    waiting = client_as(isolated, "other_member_admin").get(f"{C}/unmatched?days=0").json()
    assert waiting["pairs"] == [] and waiting["documents"]["total"] == 0
