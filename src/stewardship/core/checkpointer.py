"""Signs the transparency log's checkpoints as the log grows, from inside the server.

A daemon thread looks every few seconds whether the log grew by
``checkpoint_every_entries`` since the last checkpoint, or grew at all and the last is older
than ``checkpoint_every_minutes``, and signs one if so. Several server processes may run it
at once: a checkpoint is keyed by its size, so the second one to sign a size finds it there
and signs nothing.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stewardship.core import notes, tlog
from stewardship.core.config import Settings
from stewardship.core.db import make_sessionmaker, transaction, utcnow

log = logging.getLogger("stewardship.log")


def checkpoint_if_due(engine: Engine, settings: Settings, signer: notes.Signer) -> int | None:
    """Sign a checkpoint when one is due; its size, or None."""
    factory = make_sessionmaker(engine)

    def due(db: Session) -> bool:
        return tlog.needs_checkpoint(db, every_entries=settings.checkpoint_every_entries,
                                     every_seconds=settings.checkpoint_every_minutes * 60,
                                     now=utcnow())

    # Look in a reading unit (no writer's turn taken on SQLite), sign in a writing one.
    with transaction(factory, write=False) as db:
        if not due(db):
            return None
    try:
        with transaction(factory) as db:
            if not due(db):
                return None
            return tlog.make_checkpoint(db, signer, settings.resolved_log_origin).size
    except IntegrityError:  # another process signed this size first
        return None


class Checkpointer:
    def __init__(self, engine: Engine, settings: Settings, signer: notes.Signer,
                 poll_seconds: float = 5.0) -> None:
        self.engine, self.settings, self.signer = engine, settings, signer
        self.poll_seconds = poll_seconds
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="log-checkpointer", daemon=True)

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                checkpoint_if_due(self.engine, self.settings, self.signer)
            except Exception:  # a database hiccup: log it and look again at the next poll
                log.exception("the checkpointer could not sign a checkpoint")
            self.stopping.wait(self.poll_seconds)

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout)


def start_checkpointer(engine: Engine, settings: Settings,
                       signer: notes.Signer) -> Checkpointer | None:
    if settings.checkpoint_every_minutes == 0 or settings.environment == "test":
        return None
    worker = Checkpointer(engine, settings, signer)
    worker.start()
    return worker
