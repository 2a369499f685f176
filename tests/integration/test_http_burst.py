"""A real ``stewardship serve`` under a burst of concurrent clients, on SQLite and on
PostgreSQL (there with two server processes): no answer is a 5xx, racing issues from one
balance are each either issued (201) or refused (409), and the balance afterwards is
exactly the starting one minus what was issued. Not timed: the figures are the benchmark's
(``benchmarks/http_load.py``, docs/performance.md)."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

import httpx
import pytest
from benchmarks.http_load import balance, run_load, serve_live, world_for_load
from sqlalchemy import Engine, select

from stewardship.core.auth import Role
from stewardship.core.db import make_sessionmaker, transaction
from stewardship.custody.service import audit
from stewardship.registry import repository as repo
from stewardship.registry.models import User
from stewardship.registry.service.accounts import actor_for
from tests.conftest import scratch_database

ISSUES = 50
KG = 100
START = 2_000  # room for 20 of the 50 issues


@pytest.fixture
def live(backend: str, tmp_path: Path) -> object:
    with scratch_database(backend, tmp_path) as engine:
        world = world_for_load(engine, START)
        url = engine.url.render_as_string(hide_password=False)
        engine.dispose()
        workers = 2 if backend == "postgresql" else 1
        with serve_live(url, workers=workers, threads=16, log=tmp_path / "server.log",
                        extra_env={"STEWARDSHIP_EMBEDDED_WORKER": "true"}) as base:
            yield engine, world, base


def _audit_ok(engine: Engine) -> bool:
    with transaction(make_sessionmaker(engine), write=False) as db:
        staff = db.scalars(select(User.id).where(User.role == Role.SECRETARIAT.value)).first()
        user = repo.user_by_id(db, staff) if staff is not None else None
        assert user is not None
        return bool(audit.audit(db, actor_for(user)).ok)


def test_fifty_racing_issues_from_one_balance_are_201_or_409_and_exact(live: object) -> None:
    engine, world, base = live  # type: ignore[misc]
    start = threading.Barrier(ISSUES)
    statuses: list[int] = [0] * ISSUES
    bodies: list[str] = [""] * ISSUES

    def issue(i: int) -> None:
        with httpx.Client(base_url=base, timeout=120) as http:
            start.wait()
            response = http.post("/api/v1/custody/documents", json={
                "recipient_entity_id": world.mill_entity, "material": world.material,
                "quantity_kg": KG, "coc_quantity_kg": KG,
                "shipment_date": date.today().isoformat()},
                headers={"Authorization": f"Bearer {world.smelter_token}"})
            statuses[i], bodies[i] = response.status_code, response.text

    threads = [threading.Thread(target=issue, args=(i,)) for i in range(ISSUES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert set(statuses) <= {201, 409}, [(s, b[:200]) for s, b in zip(statuses, bodies,
                                                                        strict=True)
                                         if s not in (201, 409)]
    issued = statuses.count(201)
    assert issued == START // KG  # serialised fairly, every issue that fits goes through
    assert balance(base, world) == START - issued * KG == 0
    assert _audit_ok(engine)


def test_a_mixed_burst_answers_no_5xx_and_keeps_the_balance_exact(live: object) -> None:
    engine, world, base = live  # type: ignore[misc]
    result = run_load(base, world, clients=30, seconds=60, steps=12, issue_kg=10,
                      timeout=120)
    assert result.tally.server_errors == 0, result.tally.failures
    assert sum(len(t) for t in result.tally.times.values()) >= 30 * 12 * 0.9
    assert result.tally.statuses["issue"].get(201, 0) > 0
    assert result.balance_exact, (result.balance_before, result.tally.issued_kg,
                                  result.balance_after)
    assert _audit_ok(engine)
