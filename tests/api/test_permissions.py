"""Who may do what: a role x action matrix over every endpoint of /api/v1.

One world per backend is built once for this module inside an outer transaction; every
case runs in a savepoint of its own that is rolled back, so each request sees the same
world and nothing persists.

This module holds the rows of the registry, auth and log endpoints. Another context puts
its rows, and the world they need, in ``tests/api/test_permissions_<context>.py`` as a
``MATRIX`` list of the same shape; ``test_every_api_endpoint_has_a_row_in_the_matrix``
reads every such module, so an endpoint without a row anywhere fails.
"""

from __future__ import annotations

import importlib
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import Engine

from stewardship.core import notes
from stewardship.core.auth import Role
from stewardship.core.config import Settings
from stewardship.registry.models import OrganizationNameChange
from stewardship.registry.rules import OrganizationStatus
from stewardship.registry.schemas import InvitationCreate
from stewardship.registry.service import accounts, organizations
from stewardship.web.app import create_app
from tests import factories
from tests.api.matrix import (
    World,
    assert_rows_well_formed,
    cases,
    check_case,
    savepoint,
)
from tests.conftest import BACKENDS, _engine_for, session_on
from tests.factories import SYSTEM
from tests.today import TODAY

ROLES = ("anonymous", "secretariat", "member_admin", "other_member_admin", "member_user",
         "auditor")

# --- the matrix ---------------------------------------------------------------------------
# Each row: method, the route as the app declares it, the URL to call (placeholders come
# from the world), the body, and the expected status for each role in ROLES order:
#   anonymous, secretariat, member_admin (of the organisation acted on), member_admin of
#   another organisation, member_user (of the organisation acted on), auditor.
# 2xx allowed; 401 nobody signed in; 403 wrong role; 404 not yours / hidden.

R = "/api/v1/registry"
A = "/api/v1/auth"
ALL_OK = (200,) * 6
L = "/api/v1/log"
WITNESS_VKEY = notes.witness_verifier(
    "firm.example/w", Ed25519PrivateKey.from_private_bytes(bytes(32)).public_key()).vkey

ORG_BODY = {"name": "Brand New Metals", "membership_class": "industrial_users", "country": "DE"}
FACILITY_BODY = {"organization": "{alpha}", "name": "Alpha Casthouse", "country": "NO",
                 "activities": ["casthouse"]}
ACCREDITATION = {"standards": ["performance"], "countries": ["NO"], "activities": ["smelting"],
                 "expires_on": str(TODAY + timedelta(days=365))}
FIRM_BODY = {"name": "Fresh Audits Ltd", "country": "GB", "accreditation": ACCREDITATION}
INVITE_BODY = {"email": "invitee@example.org", "name": "In Vitee", "role": "member_user",
               "organization": "{alpha}"}

MATRIX: list[tuple[str, str, str, Any, tuple[int, ...]]] = [
    # organisations
    ("GET", f"{R}/organizations", f"{R}/organizations", None, ALL_OK),
    ("POST", f"{R}/organizations", f"{R}/organizations", ORG_BODY,
     (401, 201, 403, 403, 403, 403)),
    ("GET", f"{R}/organizations/{{slug}}", f"{R}/organizations/{{alpha}}", None, ALL_OK),
    ("GET", f"{R}/organizations/{{slug}}", f"{R}/organizations/{{gamma}}", None,
     (404, 200, 404, 404, 404, 404)),
    ("PATCH", f"{R}/organizations/{{slug}}", f"{R}/organizations/{{alpha}}",
     {"description": "Edited"}, (401, 200, 200, 403, 403, 403)),
    ("POST", f"{R}/organizations/{{slug}}/admit", f"{R}/organizations/{{gamma}}/admit", {},
     (401, 200, 403, 403, 403, 403)),
    ("POST", f"{R}/organizations/{{slug}}/suspend", f"{R}/organizations/{{alpha}}/suspend",
     {"reason": "fees unpaid"}, (401, 200, 403, 403, 403, 403)),
    ("POST", f"{R}/organizations/{{slug}}/reinstate", f"{R}/organizations/{{delta}}/reinstate",
     {"reason": "fees paid"}, (401, 200, 403, 403, 403, 403)),
    ("POST", f"{R}/organizations/{{slug}}/terminate", f"{R}/organizations/{{alpha}}/terminate",
     {"reason": "left the scheme"}, (401, 200, 403, 403, 403, 403)),
    ("POST", f"{R}/organizations/{{slug}}/entities", f"{R}/organizations/{{alpha}}/entities",
     {"name": "Alpha Rolling AS"}, (401, 201, 201, 403, 403, 403)),
    ("GET", f"{R}/name-changes", f"{R}/name-changes", None, (401, 200, 403, 403, 403, 403)),
    ("POST", f"{R}/organizations/{{slug}}/name-change/approve",
     f"{R}/organizations/{{alpha}}/name-change/approve", {},
     (401, 200, 403, 403, 403, 403)),
    ("POST", f"{R}/organizations/{{slug}}/name-change/refuse",
     f"{R}/organizations/{{alpha}}/name-change/refuse", {"reason": "not the legal name"},
     (401, 200, 403, 403, 403, 403)),
    # facilities
    ("GET", f"{R}/facilities", f"{R}/facilities", None, ALL_OK),
    ("POST", f"{R}/facilities", f"{R}/facilities", FACILITY_BODY,
     (401, 201, 201, 403, 403, 403)),
    ("POST", f"{R}/facilities/duplicates", f"{R}/facilities/duplicates",
     {"name": "Alpha Smelter", "country": "NO"}, (401, 200, 200, 200, 403, 403)),
    ("GET", f"{R}/facilities/{{facility_id}}", f"{R}/facilities/{{fa}}", None, ALL_OK),
    ("GET", f"{R}/facilities/{{facility_id}}", f"{R}/facilities/{{fg}}", None,
     (404, 200, 404, 404, 404, 404)),
    ("PATCH", f"{R}/facilities/{{facility_id}}", f"{R}/facilities/{{fa}}",
     {"time_zone": "Europe/Oslo"}, (401, 200, 200, 403, 403, 403)),
    ("PATCH", f"{R}/facilities/{{facility_id}}", f"{R}/facilities/{{fg}}",
     {"time_zone": "Europe/Oslo"}, (401, 200, 404, 404, 403, 403)),
    ("PUT", f"{R}/facilities/{{facility_id}}/capacities", f"{R}/facilities/{{fa}}/capacities",
     {"capacities": {"smelting": 420_000_000}}, (401, 200, 200, 403, 403, 403)),
    ("POST", f"{R}/facilities/{{facility_id}}/merge", f"{R}/facilities/{{fb}}/merge",
     {"into": "{fa}"}, (401, 200, 403, 403, 403, 403)),
    # audit firms
    ("GET", f"{R}/audit-firms", f"{R}/audit-firms", None, ALL_OK),
    ("POST", f"{R}/audit-firms", f"{R}/audit-firms", FIRM_BODY,
     (401, 201, 403, 403, 403, 403)),
    ("GET", f"{R}/audit-firms/{{slug}}", f"{R}/audit-firms/{{firm}}", None, ALL_OK),
    ("PUT", f"{R}/audit-firms/{{slug}}/accreditation", f"{R}/audit-firms/{{firm}}/accreditation",
     ACCREDITATION, (401, 200, 403, 403, 403, 403)),
    ("POST", f"{R}/audit-firms/{{slug}}/auditors", f"{R}/audit-firms/{{firm}}/auditors",
     {"name": "New Auditor", "email": "new.auditor@audit.example"},
     (401, 201, 403, 403, 403, 403)),
    # users and invitations
    ("GET", f"{R}/users", f"{R}/users", None, (401, 200, 200, 200, 200, 403)),
    ("GET", f"{R}/users", f"{R}/users?organization={{alpha}}", None,
     (401, 200, 200, 403, 200, 403)),
    ("PATCH", f"{R}/users/{{user_id}}", f"{R}/users/{{user_a}}", {"active": False},
     (401, 200, 200, 404, 403, 403)),
    ("POST", f"{R}/invitations", f"{R}/invitations", INVITE_BODY,
     (401, 201, 201, 403, 403, 403)),
    ("POST", f"{R}/invitations/{{token}}/accept", f"{R}/invitations/{{invitation}}/accept",
     {"password": "a-long-password"}, (201,) * 6),
    # auth
    ("GET", f"{A}/me", f"{A}/me", None, (401, 200, 200, 200, 200, 200)),
    ("POST", f"{A}/tokens", f"{A}/tokens", {"name": "another"},
     (401, 201, 201, 201, 201, 201)),
    ("GET", f"{A}/tokens", f"{A}/tokens", None, (401, 200, 200, 200, 200, 200)),
    ("DELETE", f"{A}/tokens/{{token_id}}", f"{A}/tokens/{{secretariat_token_id}}", None,
     (401, 200, 404, 404, 404, 404)),
    # event log
    ("GET", "/api/v1/log/verify", "/api/v1/log/verify", None, ALL_OK),
    ("GET", f"{L}/checkpoint", f"{L}/checkpoint", None, (404,) * 6),
    ("GET", f"{L}/checkpoints/{{size}}", f"{L}/checkpoints/1", None, (404,) * 6),
    ("POST", f"{L}/checkpoints", f"{L}/checkpoints", None, (401, 201, 403, 403, 403, 403)),
    # No checkpoint signed in the world: a proof of the latest one is not there for anyone.
    ("GET", f"{L}/proof/inclusion", f"{L}/proof/inclusion?sequence=1", None, (404,) * 6),
    ("GET", f"{L}/proof/consistency", f"{L}/proof/consistency?first=1", None, (404,) * 6),
    ("GET", f"{L}/entries", f"{L}/entries?start=1&count=5", None, ALL_OK),
    ("GET", f"{L}/keys", f"{L}/keys", None, ALL_OK),
    ("GET", f"{L}/witnesses", f"{L}/witnesses", None, ALL_OK),
    ("POST", f"{L}/witnesses", f"{L}/witnesses", {"vkey": WITNESS_VKEY},
     (401, 201, 403, 403, 403, 403)),
    ("POST", f"{L}/checkpoints/{{size}}/cosignatures", f"{L}/checkpoints/1/cosignatures",
     {"cosignature": "\u2014 firm.example/w AAAAAAAAAAAA"}, (404,) * 6),
    # credentials: anyone may have a bundle checked
    ("POST", "/api/v1/credentials/verify", "/api/v1/credentials/verify", {"type": "x"},
     ALL_OK),
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
        alpha = factories.organization(db, name="Alpha Metals")
        beta = factories.organization(db, name="Beta Metals")
        gamma = factories.organization(db, name="Gamma Applicant", admitted=False)
        delta = factories.organization(db, name="Delta Paused")
        organizations.change_status(db, SYSTEM, delta, OrganizationStatus.SUSPENDED, "fees")
        fa = factories.facility(db, alpha, name="Alpha Smelter").facility.id
        fb = factories.facility(db, alpha, name="Alpha Smelter Duplicate").facility.id
        fg = factories.facility(db, gamma, name="Gamma Plant").facility.id
        firm = factories.audit_firm(db, name="Matrix Assurance")
        actors = {
            "secretariat": factories.user(db, Role.SECRETARIAT),
            "member_admin": factories.user(db, Role.MEMBER_ADMIN, organization=alpha),
            "other_member_admin": factories.user(db, Role.MEMBER_ADMIN, organization=beta),
            "member_user": factories.user(db, Role.MEMBER_USER, organization=alpha),
            "auditor": factories.user(db, Role.AUDITOR, audit_firm=firm),
        }
        created = {role: accounts.create_token(db, actor, "matrix")
                   for role, actor in actors.items()}
        settings = Settings(environment="test", var_dir=tmp_path_factory.mktemp("perm"),
                            secret_key="m" * 40)
        _, invitation = accounts.invite(db, SYSTEM, InvitationCreate(
            email="joiner@example.org", name="Joiner", role="member_user", organization=alpha),
            settings)
        # A rename waiting for review, as a certified member's admin would leave it.
        alpha_id = organizations.load(db, SYSTEM, alpha).id
        db.add(OrganizationNameChange(organization_id=alpha_id, old_name="Alpha Metals",
                                      new_name="Alpha Aluminium", new_name_key="alpha aluminium",
                                      requested_by="user:matrix"))
        db.flush()
        app = create_app(settings=settings, engine=engine)
        app.state.sessionmaker = lambda: session_on(connection)
        yield World(
            connection=connection, app=app,
            values={"alpha": alpha, "gamma": gamma, "delta": delta, "fa": fa, "fb": fb,
                    "fg": fg, "firm": firm, "user_a": str(actors["member_user"].user_id),
                    "invitation": invitation,
                    "secretariat_token_id": str(created["secretariat"].id)},
            tokens={role: c.token for role, c in created.items()},
        )
    finally:
        db.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def isolated(world: World) -> Iterator[World]:
    with savepoint(world):
        yield world


@pytest.mark.parametrize(("method", "url", "body", "role", "expected"), cases(MATRIX, ROLES))
def test_permission_matrix(isolated: World, method: str, url: str, body: Any, role: str,
                          expected: int) -> None:
    check_case(isolated, method, url, body, role, expected)


def test_matrix_rows_are_well_formed() -> None:
    assert_rows_well_formed(MATRIX, ROLES)


def api_endpoints(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app serves under /api/v1, however routers are nested."""
    try:  # FastAPI >= 0.16x keeps included routers as wrappers; this flattens them
        from fastapi.routing import iter_route_contexts
        routes: Any = iter_route_contexts(app.routes)
    except ImportError:  # pragma: no cover - older FastAPI lists APIRoutes directly
        routes = app.routes
    return {
        (method, route.path)
        for route in routes
        if isinstance(getattr(route, "original_route", route), APIRoute)
        and route.path.startswith("/api/v1")
        for method in route.methods or ()
        if method != "HEAD"
    }


def _context(path: str) -> str:
    return path.removeprefix("/api/v1/").split("/", 1)[0]


def _declared() -> set[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        return api_endpoints(create_app(settings=Settings(environment="test", var_dir=tmp)))


DECLARED = _declared()
# The contexts with endpoints today; a context that appears later gets its own case.
CONTEXTS = sorted({_context(path) for _, path in DECLARED} | {"registry", "auth", "log"})


def _all_rows() -> list[tuple[str, str, str, Any, tuple[int, ...]]]:
    rows = list(MATRIX)
    for path in sorted(Path(__file__).parent.glob("test_permissions_*.py")):
        module = importlib.import_module(f"{__package__}.{path.stem}")
        rows.extend(getattr(module, "MATRIX", []))
    return rows


@pytest.mark.parametrize("context", CONTEXTS)
def test_every_api_endpoint_has_a_row_in_the_matrix(context: str) -> None:
    declared = {(m, p) for m, p in DECLARED if _context(p) == context}
    covered = {(method, route) for method, route, *_ in _all_rows()
               if _context(route) == context}
    assert declared, f"no /api/v1/{context} routes found"
    missing = sorted(declared - covered)
    assert missing == [], f"/api/v1/{context} endpoints without a row in the permission matrix"
    assert sorted(covered - declared) == [], "rows for endpoints that do not exist"
