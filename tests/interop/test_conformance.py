"""Every official GS1 EPCIS 2.0 JSON example is captured through the API and queried back,
and every query result validates against GS1's schema. The examples are read from the
shared conformance folder (GS1's files have no open licence; they are not copied here)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from stewardship.core.auth import Actor
from stewardship.interop import rules
from stewardship.interop.epcis.validation import Validation
from tests.interop.conftest import CONFORMANCE, World, needs_conformance

EXAMPLES = sorted((CONFORMANCE / "JSON").rglob("*.jsonld")) if CONFORMANCE else []
pytestmark = needs_conformance


def _name(path: Path) -> str:
    assert CONFORMANCE is not None
    return path.relative_to(CONFORMANCE / "JSON").as_posix()


def test_all_47_official_examples_are_there() -> None:
    assert len(EXAMPLES) == 47


def _without_server_fields(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k not in ("recordTime", "eventID")}


def _capture_and_query_back(path: Path, world: World, member: TestClient, other: TestClient,
                            run_jobs: Callable[[], int], validation: Validation) -> None:
    text = path.read_text("utf-8")
    sent = json.loads(text)
    events = rules.event_list(sent)
    assert events

    accepted = member.post("/epcis/capture", content=text.encode(),
                           headers={"Content-Type": "application/ld+json"})
    assert accepted.status_code == 202, accepted.text
    assert accepted.headers["location"].startswith("/epcis/capture/")
    assert accepted.headers["GS1-EPCIS-Version"] == "2.0.0"
    assert run_jobs() == 1
    job = member.get(accepted.headers["location"]).json()
    assert (job["running"], job["success"], job["errors"]) == (False, True, [])
    assert job["capturedCount"] == len(events)

    found = member.get("/epcis/events", params={"perPage": 100})
    assert found.status_code == 200, found.text
    result = found.json()
    assert validation.is_valid_query_document(result), result
    returned = result["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert [_without_server_fields(e) for e in returned] == \
        [_without_server_fields(e) for e in events]
    for original, back in zip(events, returned, strict=True):
        assert back["eventID"] == original.get("eventID", back["eventID"])
        assert back["eventID"].startswith(("ni:///sha-256;", "urn:uuid:"))
        one = member.get(f"/epcis/events/{quote(back['eventID'], safe='')}")
        assert one.status_code == 200, one.text
        assert validation.is_valid_query_document(one.json()), one.json()
        [alone] = one.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        assert alone["eventID"] == back["eventID"]
    # The prefixes the document declared come back with its events.
    declared = [c for c in sent["@context"] if isinstance(c, dict)] \
        if isinstance(sent["@context"], list) else []
    for item in declared:
        assert item in result["@context"]
    # Nobody else sees them.
    seen = other.get("/epcis/events").json()
    assert seen["epcisBody"]["queryResults"]["resultsBody"]["eventList"] == []


def test_every_official_example_is_captured_and_queried_back(
        world: World, client_for: Callable[[Actor], TestClient], connection: Connection,
        run_jobs: Callable[[], int], validation: Validation) -> None:
    """Each of GS1's 47 examples in a SAVEPOINT of its own (several share eventIDs), one
    app for all (building an app's routes is the slow part); failures are collected."""
    member, other = client_for(world.a), client_for(world.c)
    failures = []
    for path in EXAMPLES:
        savepoint = connection.begin_nested()
        try:
            _capture_and_query_back(path, world, member, other, run_jobs, validation)
        except AssertionError as exc:
            failures.append(f"{_name(path)}: {str(exc)[:300]}")
        finally:
            savepoint.rollback()
    assert failures == []


@pytest.mark.parametrize("path", EXAMPLES[:1], ids=[_name(p) for p in EXAMPLES[:1]])
def test_a_second_capture_of_the_same_document_is_rejected_whole(
        path: Path, world: World, client_for: Callable[[Actor], TestClient],
        run_jobs: Callable[[], int]) -> None:
    member = client_for(world.a)
    first = member.post("/epcis/capture", content=path.read_bytes())
    run_jobs()
    assert member.get(first.headers["location"]).json()["success"] is True
    again = member.post("/epcis/capture", content=path.read_bytes())
    run_jobs()
    job = member.get(again.headers["location"]).json()
    assert (job["running"], job["success"], job["capturedCount"]) == (False, False, 0)
    assert job["errors"][0]["type"] == "epcisException:ResourceAlreadyExistsException"
    assert "eventID" in job["errors"][0]
