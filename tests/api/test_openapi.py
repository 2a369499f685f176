"""The OpenAPI document builds and documents every operation.

The document does not touch the database, so one app serves the whole module.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stewardship.core.config import Settings
from stewardship.web.app import create_app

REGISTRY_PATHS = [
    "/api/v1/registry/organizations",
    "/api/v1/registry/organizations/{slug}",
    "/api/v1/registry/organizations/{slug}/admit",
    "/api/v1/registry/facilities",
    "/api/v1/registry/facilities/{facility_id}",
    "/api/v1/registry/facilities/{facility_id}/merge",
    "/api/v1/registry/audit-firms",
    "/api/v1/registry/users",
    "/api/v1/registry/invitations",
    "/api/v1/auth/tokens",
    "/api/v1/auth/me",
    "/api/v1/log/verify",
]
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(environment="test", var_dir=tmp_path_factory.mktemp("openapi"))
    yield TestClient(create_app(settings=settings), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def schema(client: TestClient) -> dict[str, Any]:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, item in schema["paths"].items()
            for method, op in item.items() if method in METHODS]


def test_openapi_builds_with_the_registry_paths(schema: dict[str, Any]) -> None:
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Stewardship API"
    assert "Bearer" in schema["info"]["description"]
    missing = [p for p in REGISTRY_PATHS if p not in schema["paths"]]
    assert missing == []
    assert set(schema["paths"]["/api/v1/registry/organizations"]) >= {"get", "post"}


def test_pages_are_not_in_the_api_schema(schema: dict[str, Any]) -> None:
    # The API: our own under /api/, and the EPCIS 2.0 repository at its standard path.
    assert all(path.startswith(("/api/", "/epcis")) for path in schema["paths"])
    assert any(path.startswith("/epcis") for path in schema["paths"])


def test_every_operation_is_described(schema: dict[str, Any]) -> None:
    undocumented = [f"{method.upper()} {path}" for method, path, op in _operations(schema)
                    if not (op.get("summary") and op.get("description", "").strip())]
    assert undocumented == []


def test_operation_ids_are_unique(schema: dict[str, Any]) -> None:
    ids = [op["operationId"] for *_, op in _operations(schema)]
    assert len(ids) == len(set(ids))


def test_schema_names_the_error_and_page_shapes(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    page = components["OrganizationPage"]["properties"]
    assert {"items", "total", "page", "per_page", "pages"} <= set(page)
    created = components["FacilityCreated"]["properties"]
    assert {"facility", "possible_duplicates"} <= set(created)
    token = components["TokenRead"]["properties"]
    assert "token" not in token and "token_digest" not in token


def test_docs_page_is_served(client: TestClient) -> None:
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/api/openapi.json" in response.text


def _integers(schema: dict[str, Any], node: Any, where: str, seen: frozenset[str]
              ) -> list[tuple[str, dict[str, Any]]]:
    """Every integer schema under ``node`` (following references), with where it is."""
    if not isinstance(node, dict):
        return []
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return []
        return _integers(schema, schema["components"]["schemas"][name], f"{where}>{name}",
                         seen | {name})
    found = [(where, node)] if node.get("type") == "integer" else []
    for key in ("anyOf", "oneOf", "allOf"):
        for option in node.get(key, []):
            found += _integers(schema, option, where, seen)
    for name, sub in node.get("properties", {}).items():
        found += _integers(schema, sub, f"{where}.{name}", seen)
    if isinstance(node.get("items"), dict):
        found += _integers(schema, node["items"], f"{where}[]", seen)
    return found


def test_every_integer_a_caller_sends_is_bounded(schema: dict[str, Any]) -> None:
    # An unbounded integer reaches the database, whose columns are 32 or 64 bits.
    unbounded = []
    for method, path, op in _operations(schema):
        inputs = [(f"{p['in']}:{p['name']}", p.get("schema", {}))
                  for p in op.get("parameters", [])]
        inputs += [("body", c.get("schema", {}))
                   for c in op.get("requestBody", {}).get("content", {}).values()]
        for where, node in inputs:
            for name, integer in _integers(schema, node, where, frozenset()):
                bounded = "enum" in integer or "const" in integer or (
                    {"minimum", "exclusiveMinimum"} & set(integer)
                    and {"maximum", "exclusiveMaximum"} & set(integer))
                if not bounded:
                    unbounded.append(f"{method.upper()} {path} {name}")
    assert unbounded == []


def test_every_error_is_declared_in_the_shape_it_is_sent(schema: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in str(schema)
    wrong = []
    for method, path, op in _operations(schema):
        for status, response in op["responses"].items():
            if int(status) < 400:
                continue
            content = response.get("content", {})
            expected = ("application/problem+json" if path.startswith("/epcis")
                        else "application/json")
            if list(content) != [expected] or not content[expected].get("schema"):
                wrong.append(f"{method.upper()} {path} {status}")
    assert wrong == []


@pytest.mark.parametrize(("method", "path", "statuses"), [
    ("get", "/api/v1/standards", set()),
    ("get", "/api/v1/standards/{slug}/versions/{version}", {"404", "422"}),
    ("post", "/api/v1/registry/organizations", {"401", "403", "409", "413", "422"}),
    ("get", "/api/v1/registry/organizations", {"401", "403", "422"}),
    ("post", "/epcis/events", {"400", "401", "403", "409", "413", "415"}),
    ("post", "/api/v1/auth/tokens", {"401", "422", "429"}),
    ("post", "/api/v1/complaints", {"400", "422", "429"}),
    ("post", "/api/v1/standards/revisions/{revision_id}/comments", {"404", "422", "429"}),
])
def test_operations_declare_the_errors_they_can_give(schema: dict[str, Any], method: str,
                                                     path: str, statuses: set[str]) -> None:
    declared = {s for s in schema["paths"][path][method]["responses"] if int(s) >= 400}
    assert statuses <= declared
    if not statuses:
        assert declared == set()
    if path.startswith("/epcis"):
        assert "422" not in declared  # parameter errors there are 400 problem documents
