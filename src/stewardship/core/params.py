"""Bounds for the integers callers send in paths, queries and bodies.

Every integer a caller sends ends up compared with a database column. PostgreSQL's
``INTEGER`` holds 32 bits and refuses a larger parameter; SQLite's driver cannot bind a
Python integer past 64 bits at all. Unbounded, ``/versions/99999999999999999999999``
would reach the database and fail there; bounded at the edge, FastAPI answers 422 naming
the parameter and the OpenAPI document says the range. ``tests/api/test_openapi.py``
checks that every integer parameter and request-body property carries both bounds.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

INT32_MAX = 2**31 - 1
"""The largest value of an ``INTEGER`` column on PostgreSQL."""

INT64_MAX = 2**63 - 1
"""The largest value of a ``BIGINT`` column (and of any SQLite integer)."""

MAX_VERSION = INT32_MAX
"""Standard versions are numbered from 1 in an ``INTEGER`` column."""

VersionNumber = Annotated[int, Path(ge=1, le=MAX_VERSION,
                                    description="The version's number, from 1")]
"""A standard version in a path, on the API and on the pages."""
