"""Shared machinery of the role x action permission matrices.

Each ``test_permissions*.py`` module builds its own world and a ``MATRIX`` of rows
``(method, route, url, body, expected status per role)``; these helpers turn rows into
cases, call the API as a role, and check the answer and the rows' shape.

A row's body is JSON (its strings filled from the world), ``None``, an ``Upload`` (a
multipart form), a ``(media type, text)`` pair whose text is filled and sent as it is, or
a ``str`` sent as it is, unfilled, with the media type the module names (a CSV file by
default).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection

ERROR_CODES = {401: "unauthenticated", 403: "forbidden", 404: "not_found"}

Row = tuple[str, str, str, Any, tuple[int, ...]]


@dataclass
class World:
    """What a matrix's cases run against: the app on one open connection, the values its
    URL and body templates are filled with, and a bearer token per role."""

    connection: Connection
    app: FastAPI
    values: dict[str, str]
    tokens: dict[str, str]

    def fill(self, template: Any) -> Any:
        if isinstance(template, str):
            return template.format(**self.values)
        if isinstance(template, dict):
            return {k: self.fill(v) for k, v in template.items()}
        if isinstance(template, list):
            return [self.fill(v) for v in template]
        return template


@contextmanager
def savepoint(world: World) -> Iterator[World]:
    """Run one case in a savepoint rolled back afterwards: every case sees the same world."""
    nested = world.connection.begin_nested()
    try:
        yield world
    finally:
        if nested.is_active:
            nested.rollback()


@dataclass(frozen=True)
class Upload:
    """A multipart body: the form's fields and its files (name: (file name, bytes, media
    type))."""

    data: dict[str, str]
    files: dict[str, tuple[str, bytes, str]]


def cases(matrix: Sequence[Row], roles: Sequence[str]) -> list[Any]:
    return [pytest.param(method, url, body, role, status, id=f"{method} {url} as {role}")
            for method, _route, url, body, expected in matrix
            for role, status in zip(roles, expected, strict=True)]


def client_as(world: World, role: str) -> TestClient:
    headers = {} if role == "anonymous" else {"Authorization": f"Bearer {world.tokens[role]}"}
    return TestClient(world.app, raise_server_exceptions=False, headers=headers)


def assert_answer(response: httpx.Response, expected: int,
                  codes: dict[int, str] = ERROR_CODES) -> None:
    assert response.status_code == expected, response.text
    if expected >= 400:
        error = response.json()["error"]
        assert error["code"] == codes[expected]
        assert error["message"]


def assert_rows_well_formed(matrix: Sequence[Row], roles: Sequence[str],
                            codes: dict[int, str] = ERROR_CODES) -> None:
    for method, route, url, _body, expected in matrix:
        assert len(expected) == len(roles), (method, url)
        assert all(status in (200, 201, 202, *codes) for status in expected), (method, url)
        pattern = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(route))
        concrete = re.sub(r"\{[a-z_]+\}", "x", url.split("?")[0])
        assert re.fullmatch(pattern, concrete), (route, url)


def request_as(world: World, role: str, method: str, url: str, body: Any, *,
               media_type: str = "text/csv") -> httpx.Response:
    """One row's request as the role signed in (a bearer token; none for anonymous)."""
    client = client_as(world, role)
    target = world.fill(url)
    if isinstance(body, Upload):
        return client.request(method, target, data=body.data, files=body.files)
    if isinstance(body, tuple):
        kind, text = body
        return client.request(method, target, content=world.fill(text).encode(),
                              headers={"content-type": kind})
    if isinstance(body, str):
        return client.request(method, target, content=body.encode(),
                              headers={"content-type": media_type})
    return client.request(method, target,
                          json=world.fill(body) if body is not None else None)


def check_case(world: World, method: str, url: str, body: Any, role: str, expected: int,
               codes: dict[int, str] = ERROR_CODES, *,
               media_type: str = "text/csv") -> httpx.Response:
    """Call one case of a matrix as its role and check the status (and, for a refusal, the
    error's code and message); the response, for a module's own further checks."""
    response = request_as(world, role, method, url, body, media_type=media_type)
    assert_answer(response, expected, codes)
    return response
