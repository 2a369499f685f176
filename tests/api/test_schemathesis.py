"""Schemathesis fuzzes every operation of /api/openapi.json against the running app, as
an anonymous caller, a member admin and the secretariat (each with a bearer token), and
checks every answer: no server error, and the status, media type, headers and body are
the ones the document declares.

The app runs on a fresh SQLite database with the demo world committed in it, so that the
operations find real records: path parameters are drawn half the time from the demo's
own slugs, ids and numbers (the other half random), and both the 200 and the 404 paths
are taken. User and token ids are never drawn from the demo, so that the fuzzer cannot
deactivate or revoke the identities it runs as. Requests commit, as in production; the
fuzzer's changes stay in the module's database, which is dropped at the end.

SQLite, not PostgreSQL: the document and the code that answers are the same on both, and
the run must stay short. A scratch SQLite file is made in a moment and every committed
request costs a local fsync, where PostgreSQL would add a database created per module
and a round trip per statement to a budget spent mostly on the demo world and on
Hypothesis; the backend-specific behaviour of the same operations is covered by the API
tests, which run on both. Bounded: a few examples per operation, derandomized, without
Hypothesis's example database and without deadlines (two cores shared by other work).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine, text

from stewardship.core.config import Settings
from stewardship.core.db import make_sessionmaker
from stewardship.demo import load_demo
from stewardship.registry.service import accounts
from stewardship.web.app import create_app
from tests.conftest import scratch_database

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
EXAMPLES = 4
"""Generated cases per operation (each sent as every identity)."""

IDENTITIES = {"anonymous": None, "member": "admin@fjordal.example",
              "secretariat": "secretariat@stewardship.example"}


@dataclass
class Fuzzed:
    app: FastAPI
    tokens: dict[str, str]
    known: dict[str, list[Any]]


def _known_values(engine: Engine) -> dict[str, list[Any]]:
    """Real values for the path parameters, by name (and, for a name two contexts use,
    by the context's path)."""
    queries = {
        "registry:slug": "SELECT slug FROM organizations",
        "standards:slug": "SELECT slug FROM standards",
        "version": "SELECT version FROM standard_versions",
        "facility_id": "SELECT public_id FROM facilities",
        "entity_id": "SELECT id FROM entities",
        "account_id": "SELECT id FROM material_accounts",
        "scope_id": "SELECT id FROM certification_scopes",
        "audit_id": "SELECT id FROM audits",
        "assessment_id": "SELECT id FROM self_assessments",
        "finding_id": "SELECT id FROM findings",
        "evidence_id": "SELECT id FROM evidence",
        "claim_id": "SELECT id FROM claims",
        "revision_id": "SELECT id FROM revisions",
        "vote_id": "SELECT id FROM votes",
        "comment_id": "SELECT id FROM consultation_comments",
        "reference": "SELECT reference FROM complaints",
        "assurance:number": "SELECT number FROM certificates",
        "custody:number": "SELECT number FROM coc_documents",
        "standards:number": "SELECT number FROM criteria",
        "inventory_id": "SELECT id FROM carbon_inventories",
    }
    known: dict[str, list[Any]] = {}
    with engine.connect() as conn:
        for name, query in queries.items():
            rows = [row[0] for row in conn.execute(text(query + " LIMIT 5"))]
            known[name] = [str(value) if not isinstance(value, int) else value
                           for value in rows]
    return known


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    directory: Path = tmp_path_factory.mktemp("schemathesis")
    with scratch_database("sqlite", directory) as engine:
        settings = Settings(environment="test", password_profile="fast", var_dir=directory,
                            secret_key="s" * 40)
        sessions = make_sessionmaker(engine)
        tokens: dict[str, str] = {}
        with sessions() as db:
            load_demo(db, settings=settings)
            for identity, email in IDENTITIES.items():
                if email is None:
                    continue
                user = accounts.find_user(db, email)
                assert user is not None, email
                tokens[identity] = accounts.create_token(db, accounts.actor_for(user),
                                                         "schemathesis").token
            db.commit()
        app = create_app(settings=settings, engine=engine)
        KNOWN.update(_known_values(engine))
        FORWARD.target = app
        try:
            yield Fuzzed(app, tokens, KNOWN)
        finally:
            FORWARD.target = None
            KNOWN.clear()


CONFIG = schemathesis.config.SchemathesisConfig.from_dict({
    "phases": {"examples": {"enabled": True}, "coverage": {"enabled": False},
               "fuzzing": {"enabled": True}, "stateful": {"enabled": False}},
    "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"},
})


class _Forward:
    """The ASGI app Schemathesis calls: it hands each request to the module's app (made
    by the ``fuzzed`` fixture, on the database with the demo world). The lifespan is
    answered here; the app's own only checks migrations, which ``scratch_database`` ran."""

    target: FastAPI | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": f"{message['type']}.complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        assert self.target is not None, "the fuzzed fixture sets the app"
        await self.target(scope, receive, send)


FORWARD = _Forward()
# The document does not touch the database: it is read from an app on an unused
# in-memory one.
schema = schemathesis.openapi.from_dict(
    create_app(Settings(environment="test", database_url="sqlite://")).openapi(),
    config=CONFIG)
schema.app = FORWARD
KNOWN: dict[str, list[Any]] = {}


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
    # Half the cases name records that exist, so the found paths are fuzzed too.
    path = context.operation.path if context.operation else ""
    context_name = path.split("/")[3] if path.startswith("/api/v1/") else ""
    real: dict[str, Any] = {}
    for name in path_parameters or {}:
        values = KNOWN.get(f"{context_name}:{name}") or KNOWN.get(name) or []
        if values:
            real[name] = values[0]
    if not real:
        return st.just(path_parameters)
    return st.sampled_from([path_parameters, {**path_parameters, **real}])


@schema.parametrize()
@hypothesis.settings(deadline=None, derandomize=True, database=None,
                     max_examples=EXAMPLES, suppress_health_check=list(hypothesis.HealthCheck))
def test_every_operation_answers_as_documented(case: Any, fuzzed: Fuzzed) -> None:
    # Each case is sent as each identity: the same input meets the public answer, the
    # member's (their own records, others' refused) and the secretariat's.
    for identity in IDENTITIES:
        token = fuzzed.tokens.get(identity)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        case.call_and_validate(headers=headers, checks=CHECKS)
