"""Capture workers on committed data: jobs survive a dead worker (lease), concurrent
workers never take one job twice, the server's embedded worker and the CLI command."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update

from stewardship.core import clock
from stewardship.core.auth import Actor, Role
from stewardship.core.config import Settings
from stewardship.core.db import make_sessionmaker, transaction
from stewardship.interop import repository as repo
from stewardship.interop.epcis import jobs
from stewardship.interop.epcis.validation import Validation
from stewardship.interop.epcis.worker import Worker
from stewardship.interop.models import EpcisCaptureJob, EpcisEvent
from stewardship.registry.service import accounts
from tests import factories
from tests.interop.conftest import document, object_event


def _member(engine: Engine) -> Actor:
    with transaction(make_sessionmaker(engine)) as db:
        slug = factories.organization(db)
        return factories.user(db, Role.MEMBER_ADMIN, organization=slug)


def _queue(engine: Engine, actor: Actor, settings: Settings, validation: Validation,
           events: list[dict[str, Any]]) -> str:
    doc = document(*events)
    with transaction(make_sessionmaker(engine)) as db:
        job = jobs.submit_capture(db, actor, json.dumps(doc), doc, "rollback", validation,
                                  settings)
        return str(job.id)


def _jobs(engine: Engine) -> list[EpcisCaptureJob]:
    with make_sessionmaker(engine)() as db:
        return list(db.scalars(select(EpcisCaptureJob).order_by(EpcisCaptureJob.created_at)))


def test_a_job_left_running_by_a_dead_worker_is_taken_again_after_its_lease(
        scratch_engine: Engine, epcis_settings: Settings, validation: Validation) -> None:
    actor = _member(scratch_engine)
    job_id = _queue(scratch_engine, actor, epcis_settings, validation, [object_event(1)])
    factory = make_sessionmaker(scratch_engine)
    with transaction(factory) as db:  # a worker claims it, then dies before finishing
        claimed = repo.claim_job(db, token="dead-worker", now=clock.now(),
                                 lease_seconds=60)
        assert claimed is not None and str(claimed.id) == job_id
    alive = Worker(scratch_engine, epcis_settings)
    assert alive.run_once() == 0  # the lease still holds
    with transaction(factory) as db:
        db.execute(update(EpcisCaptureJob).values(
            lease_until=clock.now() - timedelta(seconds=1)))
    assert alive.run_once() == 1
    (job,) = _jobs(scratch_engine)
    assert (job.status, job.success, job.attempts, job.captured_count) == ("done", True, 2, 1)
    assert job.worker == alive.token and job.document is None
    # The dead worker's late completion is refused.
    with transaction(factory) as db:
        assert repo.finish_job(db, job.id, "dead-worker", success=False) is False


def test_a_job_is_given_up_after_too_many_attempts(scratch_engine: Engine,
                                                   epcis_settings: Settings,
                                                   validation: Validation) -> None:
    actor = _member(scratch_engine)
    _queue(scratch_engine, actor, epcis_settings, validation, [object_event(1)])
    with transaction(make_sessionmaker(scratch_engine)) as db:
        db.execute(update(EpcisCaptureJob).values(
            status="running", attempts=epcis_settings.epcis_job_max_attempts,
            lease_until=clock.now() - timedelta(seconds=1)))
    assert Worker(scratch_engine, epcis_settings).run_once() == 1
    (job,) = _jobs(scratch_engine)
    assert (job.status, job.success, job.captured_count) == ("done", False, 0)
    assert "given up" in job.errors[0]["detail"]


def test_two_workers_never_process_one_job_twice(scratch_engine: Engine,
                                                 epcis_settings: Settings,
                                                 validation: Validation) -> None:
    """On PostgreSQL the claim skips rows another worker has locked; on SQLite the
    write lock serialises claims. Either way each job is captured exactly once."""
    actor = _member(scratch_engine)
    for j in range(12):
        _queue(scratch_engine, actor, epcis_settings, validation,
               [object_event(1000 * j + n) for n in range(1, 21)])
    workers = [Worker(scratch_engine, epcis_settings) for _ in range(2)]
    start = threading.Barrier(2)

    def run(worker: Worker) -> None:
        start.wait()
        worker.run_once()

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    done = _jobs(scratch_engine)
    assert [(j.status, j.success, j.attempts, j.captured_count) for j in done] == \
        [("done", True, 1, 20)] * 12
    assert sum(w.processed for w in workers) == 12
    if scratch_engine.dialect.name == "postgresql":
        assert all(w.processed > 0 for w in workers)  # they really worked side by side
    with make_sessionmaker(scratch_engine)() as db:
        assert db.scalar(select(func.count()).select_from(EpcisEvent)) == 240


def test_two_claims_racing_for_one_job_get_it_once(scratch_engine: Engine,
                                                   epcis_settings: Settings,
                                                   validation: Validation) -> None:
    actor = _member(scratch_engine)
    _queue(scratch_engine, actor, epcis_settings, validation, [object_event(1)])
    factory = make_sessionmaker(scratch_engine)
    start = threading.Barrier(2)
    got: list[str | None] = []

    def claim(token: str) -> None:
        start.wait()
        with transaction(factory) as db:
            job = repo.claim_job(db, token=token, now=clock.now(), lease_seconds=60)
            got.append(job.worker if job is not None else None)

    threads = [threading.Thread(target=claim, args=(t,)) for t in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(got, key=str) in (["one", None], ["two", None], [None, "one"],
                                    [None, "two"])
    assert [j.attempts for j in _jobs(scratch_engine)] == [1]


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Any:
    from tests.conftest import scratch_database

    with scratch_database("sqlite", tmp_path) as engine:
        yield engine


def test_the_server_runs_a_worker_on_sqlite(sqlite_file: Engine, epcis_settings: Settings
                                            ) -> None:
    from stewardship.web.app import create_app

    actor = _member(sqlite_file)
    with transaction(make_sessionmaker(sqlite_file)) as db:
        token = accounts.create_token(db, actor, "tests").token
    settings = epcis_settings.model_copy(update={"embedded_worker": True})
    app = create_app(settings=settings, engine=sqlite_file)
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        assert app.state.epcis_worker is not None
        accepted = client.post("/epcis/capture", json=document(object_event(1)))
        assert accepted.status_code == 202
        deadline = clock.now() + timedelta(seconds=20)
        job = accepted.json()
        while job["running"] and clock.now() < deadline:
            threading.Event().wait(0.05)
            job = client.get(accepted.headers["location"]).json()
        assert (job["running"], job["success"], job["capturedCount"]) == (False, True, 1)
        thread = app.state.epcis_worker.thread
    assert not thread.is_alive()  # stopped with the app


def test_the_worker_command_drains_the_queue(sqlite_file: Engine, epcis_settings: Settings,
                                             validation: Validation) -> None:
    from tests.test_cli import invoke

    actor = _member(sqlite_file)
    _queue(sqlite_file, actor, epcis_settings, validation, [object_event(1)])
    path = Path(str(sqlite_file.url.database))
    result = invoke(path, "worker", "--once")
    assert result.exit_code == 0, result.output
    assert "1 capture job(s) processed" in result.output
    assert [j.status for j in _jobs(sqlite_file)] == ["done"]


def test_a_long_proceed_job_commits_in_chunks_and_a_new_claimant_resumes_it(
        scratch_engine: Engine, epcis_settings: Settings, validation: Validation,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Under ``proceed`` each chunk of events is its own transaction (each has its own
    record time); a claim lost after the first chunk leaves it stored, and the next worker
    counts those events as captured, not as duplicates."""
    monkeypatch.setattr(jobs, "CHUNK_EVENTS", 10)
    actor = _member(scratch_engine)
    events = [object_event(n) for n in range(35)]
    events[17] = events[3]  # the same eventTime and EPC: a duplicate in the document
    doc = document(*events)
    factory = make_sessionmaker(scratch_engine)
    with transaction(factory) as db:
        job_id = jobs.submit_capture(db, actor, json.dumps(doc), doc, "proceed", validation,
                                     epcis_settings).id
    with transaction(factory) as db:
        claimed = repo.claim_job(db, token="first", now=clock.now(), lease_seconds=60)
        assert claimed is not None
    # The first worker gets one chunk done, then its claim runs out.
    real = jobs.capture_document
    calls: list[int] = []

    def one_chunk_then_lose_the_claim(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise jobs.LostClaim(job_id)
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs, "capture_document", one_chunk_then_lose_the_claim)
    with pytest.raises(jobs.LostClaim):
        jobs.process_in_chunks(factory, job_id, "first", validation, epcis_settings)
    monkeypatch.setattr(jobs, "capture_document", real)
    with transaction(factory) as db:  # the lease ran out
        db.execute(update(EpcisCaptureJob).where(EpcisCaptureJob.id == job_id)
                   .values(lease_until=clock.now() - timedelta(seconds=1)))
    with make_sessionmaker(scratch_engine)() as db:
        assert db.scalar(select(func.count()).select_from(EpcisEvent)) == 10
    assert Worker(scratch_engine, epcis_settings).run_once() == 1
    [job] = _jobs(scratch_engine)
    assert (job.status, job.attempts, job.captured_count) == ("done", 2, 34)
    assert not job.success
    assert [e["eventIndex"] for e in job.errors] == [17] and job.errors[0]["status"] == 409
    with make_sessionmaker(scratch_engine)() as db:
        assert db.scalar(select(func.count()).select_from(EpcisEvent)) == 34
        record_times = db.scalars(select(func.distinct(EpcisEvent.record_time))).all()
    assert len(record_times) == 4  # one per committed chunk: 10, then 10, 10 and 4
