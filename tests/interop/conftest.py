"""EPCIS fixtures: GS1's conformance files (read where they are, never copied), an app
bound to the test's rolled-back connection, members of three organisations, and a way to
run the capture worker inside the test's transaction."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor, Role
from stewardship.core.config import Settings
from stewardship.interop import rules
from stewardship.interop.epcis.jobs import process_next_job
from stewardship.interop.epcis.validation import Validation, validation_for
from stewardship.registry.service import accounts
from stewardship.web.app import create_app
from tests import factories
from tests.conftest import session_on

ROOT = Path(__file__).resolve().parents[2]


def conformance_dir() -> Path | None:
    """GS1's EPCIS conformance folder: $STEWARDSHIP_EPCIS_CONFORMANCE, the shared folder
    beside this checkout, or /work/shared."""
    candidates = [os.environ.get("STEWARDSHIP_EPCIS_CONFORMANCE", ""),
                  str(ROOT.parent / "shared" / "conformance" / "epcis"),
                  "/work/shared/conformance/epcis"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "EPCIS-JSON-Schema.json").is_file():
            return Path(candidate)
    return None


CONFORMANCE = conformance_dir()
SCHEMA = CONFORMANCE / "EPCIS-JSON-Schema.json" if CONFORMANCE else None
QUERY_SCHEMA = CONFORMANCE / "REST-Bindings" / "query-schema.json" if CONFORMANCE else None
needs_conformance = pytest.mark.skipif(
    CONFORMANCE is None, reason="GS1's EPCIS conformance files (shared/conformance/epcis) are "
    "not beside this checkout; set STEWARDSHIP_EPCIS_CONFORMANCE to their folder")


@pytest.fixture(autouse=True)
def _cold_rule_caches() -> None:
    """Each test starts with the rules' memo caches empty, so a test that asserts an
    identifier computes it rather than reading what an earlier test left behind. Under
    mutmut this is what makes a test reach the mutated function: each mutant's run is forked
    from the process that ran every test once, caches full, and a cached answer never calls
    the (mutated) code below the cache."""
    rules._canonical_uri.cache_clear()
    rules._cached_gtin.cache_clear()
    rules.cbv_short.cache_clear()
    rules._ZONES.clear()
    rules._ZONES["Z"] = UTC


@pytest.fixture
def epcis_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"epcis_schema": SCHEMA, "epcis_query_schema": QUERY_SCHEMA})


@pytest.fixture
def validation(epcis_settings: Settings) -> Validation:
    return validation_for(epcis_settings.epcis_schema)


@pytest.fixture
def app(engine: Engine, connection: Connection, epcis_settings: Settings) -> FastAPI:
    application = create_app(settings=epcis_settings, engine=engine)
    application.state.sessionmaker = lambda: session_on(connection)
    return application


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client_for(app: FastAPI, db: Session) -> Callable[[Actor], TestClient]:
    def make(actor: Actor) -> TestClient:
        token = accounts.create_token(db, actor, "tests").token
        db.flush()
        return TestClient(app, raise_server_exceptions=False,
                          headers={"Authorization": f"Bearer {token}"})

    return make


@pytest.fixture
def run_jobs(connection: Connection, epcis_settings: Settings,
             validation: Validation) -> Callable[[], int]:
    """Process every queued capture job inside the test's transaction."""

    def run() -> int:
        done = 0
        while process_next_job(lambda: session_on(connection), epcis_settings, validation):
            done += 1
        return done

    return run


@dataclass
class World:
    a_slug: str
    b_slug: str
    c_slug: str
    a: Actor
    b: Actor
    c: Actor
    secretariat: Actor
    auditor: Actor


@pytest.fixture
def world(db: Session) -> World:
    slugs = [factories.organization(db, name=f"EPCIS Metals {x}") for x in "ABC"]
    firm = factories.audit_firm(db)
    return World(*slugs,
                 *(factories.user(db, Role.MEMBER_ADMIN, organization=s) for s in slugs),
                 factories.user(db, Role.SECRETARIAT),
                 factories.user(db, Role.AUDITOR, audit_firm=firm))


def document(*events: dict[str, Any], context: list[Any] | None = None) -> dict[str, Any]:
    return {"@context": context or ["https://ref.gs1.org/standards/epcis/2.0.0/"
                                    "epcis-context.jsonld"],
            "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2024-05-01T10:00:00Z", "epcisBody": {"eventList": list(events)}}


def object_event(n: int = 1, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "ObjectEvent", "eventTime": f"2024-05-01T10:{n // 60 % 60:02d}:{n % 60:02d}Z",
        "eventTimeZoneOffset": "+00:00", "action": "OBSERVE",
        "epcList": [f"urn:epc:id:sgtin:0614141.107346.{n}"], "bizStep": "shipping",
        "disposition": "in_transit", "readPoint": {"id": "urn:epc:id:sgln:0614141.00777.0"},
    }
    event.update(extra)
    return event


def capture_ok(client: TestClient, run_jobs: Callable[[], int], doc: dict[str, Any]) -> None:
    """Capture ``doc`` through the REST API and run the job; the job must succeed."""
    accepted = client.post("/epcis/capture", json=doc)
    assert accepted.status_code == 202, accepted.text
    run_jobs()
    job = client.get(accepted.headers["location"]).json()
    assert job["success"] is True, job["errors"]


def event_ids(client: TestClient, **params: Any) -> set[str]:
    """The eventIDs ``GET /epcis/events`` answers for ``params`` (one page)."""
    response = client.get("/epcis/events", params=params)
    assert response.status_code == 200, response.text
    body = response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    return {e["eventID"] for e in body}
