"""Capture workers: loops that take queued capture jobs from the database.

- ``stewardship worker`` runs them as a process, on any number of machines: on PostgreSQL
  the claim uses ``SELECT ... FOR UPDATE SKIP LOCKED``, so workers never take one job twice.
- With the embedded SQLite default, the server runs one worker in a background thread
  (``EmbeddedWorker``, started and stopped by the app's lifespan); the capture endpoint
  wakes it, and it polls every few seconds for jobs left by a restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine

from stewardship.core.config import Settings
from stewardship.core.db import make_sessionmaker
from stewardship.interop.epcis.jobs import process_next_job, worker_token
from stewardship.interop.epcis.validation import validation_for

log = logging.getLogger("stewardship.epcis")
POLL_SECONDS = 2.0


class Worker:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.factory = make_sessionmaker(engine)
        self.settings = settings
        self.validation = validation_for(settings.epcis_schema)
        self.token = worker_token()
        self.stopping = threading.Event()
        self.wake_up = threading.Event()
        self.processed = 0
        self.on_captured: Callable[[], None] | None = None
        """Called after jobs were captured (the server wakes its subscription deliverer)."""

    def run_once(self) -> int:
        """Process jobs until the queue is empty (or the worker is stopped)."""
        done = 0
        while not self.stopping.is_set():
            try:
                if not process_next_job(self.factory, self.settings, self.validation,
                                        self.token):
                    break
            except Exception:  # a database hiccup: log it and try again at the next poll
                log.exception("capture worker %s could not take a job", self.token)
                break
            done += 1
        self.processed += done
        if done and self.on_captured is not None:
            self.on_captured()
        return done

    def run_forever(self, poll_seconds: float = POLL_SECONDS) -> None:
        while not self.stopping.is_set():
            if self.run_once() == 0:
                self.wake_up.wait(poll_seconds)
                self.wake_up.clear()

    def wake(self) -> None:
        self.wake_up.set()

    def stop(self) -> None:
        self.stopping.set()
        self.wake_up.set()


class EmbeddedWorker:
    """One worker in a daemon thread of the server process."""

    def __init__(self, engine: Engine, settings: Settings,
                 poll_seconds: float = POLL_SECONDS) -> None:
        self.worker = Worker(engine, settings)
        self.thread = threading.Thread(target=self.worker.run_forever, args=(poll_seconds,),
                                       name="epcis-capture-worker", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def wake(self) -> None:
        self.worker.wake()

    def stop(self, timeout: float = 10.0) -> None:
        self.worker.stop()
        if self.thread.is_alive():
            self.thread.join(timeout)


def run_workers(engine: Engine, settings: Settings, *, concurrency: int = 1,
                once: bool = False, poll_seconds: float = POLL_SECONDS) -> int:
    """Run ``concurrency`` workers in threads until stopped (Ctrl-C), or, with ``once``,
    until the queue is empty; the number of jobs processed."""
    workers = [Worker(engine, settings) for _ in range(max(1, concurrency))]
    target = (lambda w: w.run_once()) if once else (lambda w: w.run_forever(poll_seconds))
    threads = [threading.Thread(target=target, args=(w,), name=f"epcis-worker-{i}",
                                daemon=True) for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)
    except KeyboardInterrupt:
        for w in workers:
            w.stop()
        for thread in threads:
            thread.join(30)
    return sum(w.processed for w in workers)


def start_embedded_worker(engine: Engine, settings: Settings) -> EmbeddedWorker | None:
    """The server's own worker thread, on SQLite when the settings allow it (else None:
    run ``stewardship worker`` processes)."""
    if engine.dialect.name != "sqlite" or not settings.runs_embedded_worker:
        return None
    worker = EmbeddedWorker(engine, settings)
    worker.start()
    return worker
