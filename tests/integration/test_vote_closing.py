"""A vote closes itself at its closing time, on databases whose commits persist: a read
(a GET's read-only unit) that finds a vote due closes it in a write transaction of its own;
two readers at once count it once; ``stewardship standards close-votes`` sweeps the rest."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from stewardship.cli import app
from stewardship.core import clock
from stewardship.core.auth import Actor, Role
from stewardship.core.config import Settings, get_settings
from stewardship.core.db import make_engine, make_sessionmaker, transaction
from stewardship.core.eventlog import EventLogEntry, verify_chain
from stewardship.core.migrate import upgrade
from stewardship.standards.demo import shipped_package_text
from stewardship.standards.rules import Chamber, Choice, closing_instant
from stewardship.standards.schemas import BodyMemberCreate, RevisionCreate, RoundOpen, VoteOpen
from stewardship.standards.service import library, revisions, votes
from tests import factories
from tests.today import TODAY

SYSTEM = factories.SYSTEM


def open_vote_with_ballots(engine: Engine, settings: Settings) -> uuid.UUID:
    """A vote closing today, three members on its roll, two yes ballots; committed."""
    factory = make_sessionmaker(engine)
    with transaction(factory) as db:
        library.import_package(db, SYSTEM, shipped_package_text("chain-of-custody-v2.yaml"))
        people: list[Actor] = []
        for chamber in (Chamber.INDUSTRY_UPSTREAM, Chamber.CIVIL_SOCIETY,
                        Chamber.INDIGENOUS_PEOPLES):
            person = factories.user(db, Role.MEMBER_USER,
                                    organization=factories.organization(db))
            votes.add_body_member(db, SYSTEM, BodyMemberCreate(
                email=person.email, chamber=chamber, term_starts_on=TODAY - timedelta(days=5),
                term_ends_on=TODAY + timedelta(days=400)))
            people.append(person)
        data = yaml.safe_load(shipped_package_text("chain-of-custody-v2.yaml"))
        data["version"] = 3
        rid = revisions.create_revision(db, SYSTEM, RevisionCreate(
            standard="chain-of-custody", title="CoC v3",
            draft=yaml.safe_dump(data, sort_keys=False))).id
        revisions.open_round(db, SYSTEM, rid, RoundOpen(
            opens_on=TODAY - timedelta(days=90), closes_on=TODAY - timedelta(days=30)),
            settings)
        revisions.close_round(db, SYSTEM, rid)
        vote_id = votes.open_vote(db, SYSTEM, rid, VoteOpen(closes_on=TODAY),
                                  settings).votes[0].id
        votes.cast(db, people[0], vote_id, Choice.YES)
        votes.cast(db, people[1], vote_id, Choice.YES)
    return vote_id


def closings(engine: Engine, vote_id: uuid.UUID) -> int:
    with transaction(make_sessionmaker(engine), write=False) as db:
        return db.scalar(select(func.count()).select_from(EventLogEntry).where(
            EventLogEntry.kind == "standards.vote.closed",
            EventLogEntry.subject == f"vote:{vote_id}")) or 0


def after_closing() -> Any:
    return clock.use(clock.FixedClock(closing_instant(TODAY) + timedelta(minutes=1)))


def test_a_read_only_unit_closes_a_due_vote_in_a_write_transaction_of_its_own(
        scratch_engine: Engine, settings: Settings) -> None:
    vote_id = open_vote_with_ballots(scratch_engine, settings)
    factory = make_sessionmaker(scratch_engine)
    with transaction(factory, write=False) as db:  # before the closing time: still open
        assert votes.get_vote(db, vote_id).closed_at is None
    with after_closing():
        with transaction(factory, write=False) as db:  # what a GET gets
            read = votes.get_vote(db, vote_id)
            assert (read.passed, read.yes, read.eligible) == (True, 2, 3)
        # Stored, though the reader's own unit only read and was never committed to.
        with transaction(factory, write=False) as db:
            revision = revisions.get_revision(db, None, read.revision_id)
            assert revision.status == "approved"
            assert revision.votes[0].closed_at == closing_instant(TODAY)
            assert verify_chain(db).ok
    assert closings(scratch_engine, vote_id) == 1


def test_two_readers_at_once_count_a_vote_once(scratch_engine: Engine,
                                               settings: Settings) -> None:
    vote_id = open_vote_with_ballots(scratch_engine, settings)
    factory = make_sessionmaker(scratch_engine)
    ready = threading.Barrier(3)
    seen: list[bool | None] = []
    failures: list[BaseException] = []

    def read() -> None:
        ready.wait()
        try:
            with transaction(factory, write=False) as db:
                seen.append(votes.get_vote(db, vote_id).passed)
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    with after_closing():
        readers = [threading.Thread(target=read) for _ in range(3)]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join(timeout=60)
    assert failures == []
    assert seen == [True, True, True]
    assert closings(scratch_engine, vote_id) == 1


def test_the_close_votes_command_closes_due_votes_once(tmp_path: Path,
                                                       settings: Settings) -> None:
    path = tmp_path / "votes.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
        vote_id = open_vote_with_ballots(engine, settings)
    finally:
        engine.dispose()
    runner = CliRunner()

    def run() -> str:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("STEWARDSHIP_DATABASE_URL", f"sqlite:///{path}")
            patch.setenv("STEWARDSHIP_ENVIRONMENT", "development")
            patch.setenv("COLUMNS", "200")
            get_settings.cache_clear()
            try:
                result = runner.invoke(app, ["standards", "close-votes"])
            finally:
                get_settings.cache_clear()
        assert result.exit_code == 0, result.output
        return result.output

    assert "No vote is past its closing time" in run()  # today: it still runs
    with after_closing():
        first = run()
        assert f"Vote {vote_id} closed at {TODAY + timedelta(days=1)} 00:00 UTC: PASSED" \
            in first
        assert "yes 2, no 0, abstain 0, 3 eligible" in first
        assert "No vote is past its closing time" in run()
    engine = make_engine(f"sqlite:///{path}")
    try:
        assert closings(engine, vote_id) == 1
    finally:
        engine.dispose()
