"""Writers racing for one balance on a real, committed database (SQLite and PostgreSQL):
the balance is never spent twice, a document is received once, and a first-time account
opened by two writers at once ends up as one account."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from stewardship.core import issuance
from stewardship.core.db import make_sessionmaker, transaction
from stewardship.core.errors import Conflict
from stewardship.custody.models import MaterialAccount
from stewardship.custody.schemas import NonCocInputCreate
from stewardship.custody.service import audit, inputs
from tests import custody_world as cw
from tests.conftest import scratch_database

WRITERS = 8
UNFINISHED = object()
"""What a writer's slot holds until its thread records an outcome."""


def _race(engine: Engine, work: Callable[[object], object], *,
          timeout: float = 60) -> list[object]:
    """Run `work(session)` in WRITERS threads released together, each in its own
    transaction; return what each returned or raised. Every thread must finish within
    `timeout` seconds and record its outcome: a writer still blocked (a lock never
    released) or one that died before recording fails the race instead of passing for a
    writer that returned None."""
    factory = make_sessionmaker(engine)
    start = threading.Barrier(WRITERS)
    results: list[object] = [UNFINISHED] * WRITERS

    def run(i: int) -> None:
        start.wait(timeout=timeout)
        try:
            with transaction(factory) as session:
                results[i] = work(session)
        except Exception as error:
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,), name=f"writer-{i}", daemon=True)
               for i in range(WRITERS)]
    for t in threads:
        t.start()
    ends = time.monotonic() + timeout
    for t in threads:
        t.join(timeout=max(0.0, ends - time.monotonic()))
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"still running after {timeout} s: {', '.join(stuck)}"
    silent = [threads[i].name for i, r in enumerate(results) if r is UNFINISHED]
    assert not silent, f"finished without an outcome: {', '.join(silent)}"
    return results


def test_a_writer_that_never_finishes_fails_the_race(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'race.db'}")
    release = threading.Event()

    def blocked(_session: object) -> None:
        release.wait(30)

    try:
        with pytest.raises(AssertionError, match=r"still running after 0\.5 s: writer-0"):
            _race(engine, blocked, timeout=0.5)
    finally:
        release.set()
        engine.dispose()


class _Killed(BaseException):
    """Not an Exception: a writer that raises it records nothing."""


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_writer_that_dies_unrecorded_fails_the_race(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'race.db'}")

    def dies(_session: object) -> None:
        raise _Killed

    try:
        with pytest.raises(AssertionError, match="finished without an outcome: writer-0"):
            _race(engine, dies, timeout=5)
    finally:
        engine.dispose()


@contextmanager
def committed_chain(backend: str, tmp_path: Path, issuer: issuance.Issuer | None = None
                    ) -> Iterator[tuple[Engine, sessionmaker[Session], cw.Chain]]:
    """A scratch database holding the custody world, 1,000 kg of ASI Aluminium produced
    at the smelter, committed (credentials signed by ``issuer`` where one is given)."""
    with scratch_database(backend, tmp_path) as engine:
        factory = make_sessionmaker(engine)
        signing = issuance.issuing_as(issuer) if issuer is not None else nullcontext()
        with transaction(factory) as session, signing:
            chain = cw.build(session)
            cw.produce(session, chain.smelter, "asi_aluminium", 1_000)
        yield engine, factory, chain


@pytest.fixture
def chain_db(backend: str, tmp_path: Path) -> object:
    with committed_chain(backend, tmp_path) as made:
        yield made


def test_two_writers_never_spend_one_balance_twice(chain_db: object) -> None:
    engine, factory, w = chain_db  # type: ignore[misc]
    results = _race(engine, lambda s: cw.ship(s, w.smelter, w.mill, "asi_aluminium", 300))
    won = [r for r in results if isinstance(r, str)]
    lost = [r for r in results if isinstance(r, Exception)]
    assert len(won) == 3, results
    assert len(lost) == WRITERS - 3
    assert all(isinstance(e, Conflict) and "exceeds the available balance" in e.message
               for e in lost), lost
    with transaction(factory) as session:
        balance = session.scalar(select(MaterialAccount.balance_kg).where(
            MaterialAccount.entity_id == w.smelter.entity_id))
        assert balance == 100
        assert audit.audit(session, w.secretariat).ok


def test_a_document_is_received_once_whoever_clicks_first(chain_db: object) -> None:
    engine, factory, w = chain_db  # type: ignore[misc]
    with transaction(factory) as session:
        number = cw.ship(session, w.smelter, w.mill, "asi_aluminium", 700)
    results = _race(engine, lambda s: cw.receive(s, w.mill, number))
    assert sum(1 for r in results if r is None) == 1, results
    assert all(isinstance(r, Conflict) for r in results if r is not None), results
    with transaction(factory) as session:
        received = session.scalar(select(func.sum(MaterialAccount.received)).where(
            MaterialAccount.entity_id == w.mill.entity_id))
        assert received == 700
        assert audit.audit(session, w.secretariat).ok


def test_racing_first_writers_share_one_new_account(chain_db: object) -> None:
    engine, factory, w = chain_db  # type: ignore[misc]

    def alumina_in(session: object) -> None:
        inputs.record_non_coc_input(session, w.smelter.user, NonCocInputCreate(  # type: ignore[arg-type]
            material="asi_alumina", kilograms=10, occurred_on=cw.TODAY))

    results = _race(engine, alumina_in)
    assert all(r is None for r in results), results
    with transaction(factory) as session:
        rows = session.scalars(select(MaterialAccount).where(
            MaterialAccount.entity_id == w.smelter.entity_id,
            MaterialAccount.material == "asi_alumina")).all()
        assert len(rows) == 1
        assert rows[0].non_coc_in == WRITERS * 10


def test_racing_batch_receipts_receive_each_document_once(chain_db: object) -> None:
    """Writers receiving the same documents in one batch each, half of them listing the
    documents the other way round: the documents and accounts are locked in a fixed
    order, so none waits on another in a circle; each document is received once, by
    whichever writer locked it first, and the others see it received already."""
    from stewardship.core.eventlog import verify_chain
    from stewardship.custody.service import receipts

    engine, factory, w = chain_db  # type: ignore[misc]
    with transaction(factory) as session:
        numbers = [cw.ship(session, w.smelter, w.mill, "asi_aluminium", 200)
                   for _ in range(4)]
    turn = iter(range(WRITERS))

    def receive_all(session: object) -> list[object]:
        order = numbers if next(turn) % 2 else numbers[::-1]
        return receipts.receive_documents(session, w.mill.user, [  # type: ignore[arg-type]
            receipts.ReceiptItem(n, None, cw.TODAY) for n in order])

    results = _race(engine, receive_all)
    assert all(isinstance(r, list) for r in results), results
    received = [o.number for r in results for o in r  # type: ignore[union-attr]
                if isinstance(o, receipts.Shipped)]
    assert sorted(received) == sorted(numbers), results
    refused = [o for r in results for o in r if not isinstance(o, receipts.Shipped)]  # type: ignore[union-attr]
    assert len(refused) == 4 * (WRITERS - 1)
    assert all(isinstance(e, Conflict) and "already received" in e.message for e in refused)
    with transaction(factory) as session:
        got = session.scalar(select(func.sum(MaterialAccount.received)).where(
            MaterialAccount.entity_id == w.mill.entity_id))
        assert got == 800
        assert audit.audit(session, w.secretariat).ok
        assert verify_chain(session).ok
