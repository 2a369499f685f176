"""The event log on a real database: chaining, tamper detection, append-only, races."""

from __future__ import annotations

import threading
from datetime import date
from itertools import pairwise

import pytest
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from stewardship.core import eventlog
from stewardship.core.auth import Role
from stewardship.core.config import Settings
from stewardship.core.db import make_sessionmaker, transaction
from stewardship.core.eventlog import GENESIS_HASH, EventLogEntry, verify_chain
from stewardship.core.pagination import PageParams
from stewardship.registry.models import Organization
from stewardship.registry.rules import OrganizationStatus
from stewardship.registry.schemas import (
    AuditorCreate,
    EntityCreate,
    InvitationCreate,
    UserUpdate,
)
from stewardship.registry.service import accounts, audit_firms, facilities, organizations
from tests import factories
from tests.factories import SYSTEM


def _drop_append_only_triggers(connection: Connection) -> None:
    """What an attacker with database access would do first (rolled back with the test)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("DROP TRIGGER event_log_no_change ON event_log"))
    else:
        connection.execute(text("DROP TRIGGER event_log_no_update"))
        connection.execute(text("DROP TRIGGER event_log_no_delete"))


def _some_history(db: Session) -> None:
    slug = factories.organization(db, name="Chain Metals")
    factories.facility(db, slug)
    organizations.change_status(db, SYSTEM, slug, OrganizationStatus.SUSPENDED, "fees")


def test_every_use_case_appends_its_entry(db: Session, settings: Settings) -> None:
    slug = factories.organization(db, admitted=False)
    organizations.admit(db, SYSTEM, slug, date(2024, 3, 1))
    entity = organizations.add_entity(db, SYSTEM, slug, EntityCreate(name="Chain Metals AS"))
    admin = factories.user(db, Role.MEMBER_ADMIN, organization=slug)
    a = factories.facility(db, slug, name="Log A", entity_id=entity.id).facility
    b = factories.facility(db, slug, name="Log B").facility
    facilities.merge(db, SYSTEM, a.id, b.id)
    firm = factories.audit_firm(db)
    audit_firms.add_auditor(db, SYSTEM, firm, AuditorCreate(name="Ann Audit", email="a@x.io"))
    _, token = accounts.invite(db, admin, InvitationCreate(
        email="joiner@example.org", name="Joiner", role="member_user"), settings)
    joined = accounts.accept_invitation(db, token, "a-long-password")
    accounts.update_user(db, admin, joined.id, UserUpdate(role="member_admin"))
    created = accounts.create_token(db, admin, "script")
    accounts.revoke_token(db, admin, created.id)
    organizations.change_status(db, SYSTEM, slug, OrganizationStatus.TERMINATED, "left")
    assert factories.event_kinds(db) == [
        "registry.organization.applied",
        "registry.organization.member",
        "registry.entity.created",
        "registry.user.created",
        "registry.facility.registered",
        "registry.facility.registered",
        "registry.facility.merged",
        "registry.audit_firm.accredited",
        "registry.auditor.named",
        "registry.user.invited",
        "registry.user.joined",
        "registry.user.updated",
        "registry.token.created",
        "registry.token.revoked",
        "registry.organization.terminated",
    ]
    entries = factories.events(db)
    assert [e.sequence for e in entries] == list(range(1, len(entries) + 1))
    assert entries[0].prev_hash == GENESIS_HASH
    assert all(later.prev_hash == earlier.hash for earlier, later in pairwise(entries))
    report = verify_chain(db)
    assert report.ok
    assert (report.entries, report.head_hash) == (len(entries), entries[-1].hash)


def test_verify_an_empty_chain(db: Session) -> None:
    report = verify_chain(db)
    assert (report.ok, report.entries, report.head_hash) == (True, 0, GENESIS_HASH)


def test_a_refused_call_appends_nothing(db: Session) -> None:
    slug = factories.organization(db)
    before = factories.event_kinds(db)
    with pytest.raises(Exception), db.begin_nested():  # noqa: B017 - any refusal will do
        organizations.admit(db, SYSTEM, slug)
    assert factories.event_kinds(db) == before


@pytest.mark.parametrize("batch", [1, 2, 2000])
def test_tampered_payload_is_named_by_sequence(db: Session, connection: Connection,
                                               batch: int) -> None:
    _some_history(db)
    held = factories.events(db)  # loaded and referenced, as a caller's session would have them
    assert len(held) == 4
    _drop_append_only_triggers(connection)
    db.execute(
        eventlog.EventLogEntry.__table__.update()
        .where(EventLogEntry.sequence == 3)
        .values(payload={"name": "Somebody Else"})
    )
    # Verified in the same session that wrote the entries: it must read what is stored.
    report = verify_chain(db, batch=batch)
    assert not report.ok
    assert report.first_bad_sequence == 3
    assert report.reason == "payload does not match its digest"
    assert report.entries == 2
    assert held[2].sequence == 3


def test_rewritten_entry_with_a_fresh_digest_breaks_its_hash(db: Session,
                                                             connection: Connection) -> None:
    _some_history(db)
    _drop_append_only_triggers(connection)
    fake = {"name": "Rewritten"}
    db.execute(
        EventLogEntry.__table__.update().where(EventLogEntry.sequence == 2)
        .values(payload=fake, payload_digest=eventlog.digest_payload(fake))
    )
    report = verify_chain(db)
    assert (report.first_bad_sequence, report.reason) == (2, "entry hash does not match its fields")


def test_a_deleted_entry_is_a_gap(db: Session, connection: Connection) -> None:
    _some_history(db)
    _drop_append_only_triggers(connection)
    db.execute(EventLogEntry.__table__.delete().where(EventLogEntry.sequence == 3))
    report = verify_chain(db)
    assert report.first_bad_sequence == 4
    assert report.reason is not None and "gap" in report.reason


def test_verify_leaves_the_callers_objects_attached(db: Session) -> None:
    slug = factories.organization(db)
    org = db.scalar(select(Organization).where(Organization.slug == slug))
    assert org is not None
    assert verify_chain(db).ok
    assert org in db
    org.description = "changed after verifying"
    db.flush()
    db.expire_all()
    assert organizations.get_organization(db, None, slug).description == "changed after verifying"


@pytest.mark.parametrize("statement", [
    "UPDATE event_log SET kind = 'registry.nothing' WHERE sequence = 1",
    "DELETE FROM event_log WHERE sequence = 1",
])
def test_the_log_is_append_only_in_the_database(db: Session, statement: str) -> None:
    _some_history(db)
    with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
        db.execute(text(statement))
    assert verify_chain(db).ok
    assert factories.events(db)[0].kind == "registry.organization.applied"


def test_list_entries_filters_and_pages(db: Session) -> None:
    _some_history(db)
    page = eventlog.list_entries(db, PageParams(page=1, per_page=2), kind_prefix="registry.org")
    assert page.total == 3
    assert [e.kind for e in page.items] == ["registry.organization.suspended",
                                            "registry.organization.member"]
    assert eventlog.count_entries(db) == 4


# --- concurrency: committed data on a database of the test's own ------------------------

THREADS = 2
PER_THREAD = 15


def test_concurrent_appenders_keep_the_chain_gapless(scratch_engine: Engine) -> None:
    factory = make_sessionmaker(scratch_engine)
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            start.wait()
            for i in range(PER_THREAD):
                with transaction(factory) as session:
                    eventlog.append(session, SYSTEM, "tests.race", f"worker:{n}", {"i": i})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with factory() as session:
        rows = session.execute(
            select(EventLogEntry.sequence, EventLogEntry.subject).order_by(EventLogEntry.sequence)
        ).all()
        report = verify_chain(session)
    assert [r.sequence for r in rows] == list(range(1, THREADS * PER_THREAD + 1))
    assert {r.subject for r in rows} == {f"worker:{n}" for n in range(THREADS)}
    assert report.ok and report.entries == THREADS * PER_THREAD
