"""The outbox of answer events on SQLite and PostgreSQL: a queued answer is due at once
with the buyer's sign-in credentials read back, and claimed by the sender that takes it; a
failed try waits, doubling, and after the last try the event is given up; a sent one is
done; a try another sender recorded first changes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stewardship.core.config import Settings
from stewardship.core.db import utcnow
from stewardship.interop.pact import repository as repo
from stewardship.interop.pact.service.outbox import Delivery, claim_due, record_attempt
from tests.interop.pact.conftest import token_for
from tests.interop.pact.world import PactWorld


def _ask(pact: TestClient, pw: PactWorld, n: int) -> None:
    answer = pact.post("/pact/3/events", json={
        "specversion": "1.0", "id": f"ask/{n}", "source": "https://buyer.example",
        "time": "2026-12-01T10:00:00Z",
        "type": "org.wbcsd.pact.ProductFootprint.RequestCreatedEvent.3",
        "data": {"productId": [f"urn:stewardship:coc:{pw.mill_documents[0]}"]}},
        headers={"Authorization": f"Bearer {token_for(pact, pw.client_id, pw.client_secret)}",
                 "Content-Type": "application/cloudevents+json"})
    assert answer.status_code == 200, answer.text


def _due(db: Session, now: datetime, key: str) -> list[Delivery]:
    return claim_due(db, now, key, lease_seconds=5)


def test_tries_wait_double_and_give_up(pact: TestClient, pw: PactWorld, db: Session,
                                       settings: Settings) -> None:
    _ask(pact, pw, 1)
    now = utcnow() + timedelta(seconds=1)
    due = _due(db, now, settings.secret_key)
    assert len(due) == 1
    first = due[0]
    # claimed: another sender finds nothing due until the lease ends
    assert _due(db, now, settings.secret_key) == []
    assert first.target_url == "http://127.0.0.1:9/buyer/3/events"
    assert (first.client_id, first.client_secret) == ("test_client_id", "test_client_secret")
    assert first.body["data"]["requestEventId"] == "ask/1"
    assert record_attempt(db, first, "refused", now, max_attempts=3,
                          first_wait_seconds=30) == "pending"
    assert _due(db, now + timedelta(seconds=29), settings.secret_key) == []
    second = _due(db, now + timedelta(seconds=30), settings.secret_key)
    assert [d.attempts for d in second] == [1]
    # the first try again, as a slow second sender would record it: nothing changes
    assert record_attempt(db, first, None, now, max_attempts=3,
                          first_wait_seconds=30) == "pending"
    assert record_attempt(db, second[0], "refused", now + timedelta(seconds=30),
                          max_attempts=3, first_wait_seconds=30) == "pending"
    assert _due(db, now + timedelta(seconds=89), settings.secret_key) == []
    third = _due(db, now + timedelta(seconds=90), settings.secret_key)
    assert record_attempt(db, third[0], "refused", now, max_attempts=3,
                          first_wait_seconds=30) == "failed"
    event = repo.event_by_id(db, first.id)
    assert event is not None and event.attempts == 3 and event.last_error == "refused"
    assert _due(db, now + timedelta(days=9), settings.secret_key) == []


def test_a_sent_event_is_done(pact: TestClient, pw: PactWorld, db: Session,
                              settings: Settings) -> None:
    _ask(pact, pw, 2)
    now = utcnow() + timedelta(seconds=1)
    (delivery,) = _due(db, now, settings.secret_key)
    assert record_attempt(db, delivery, None, now, max_attempts=3,
                          first_wait_seconds=30) == "sent"
    event = repo.event_by_id(db, delivery.id)
    assert event is not None and event.sent_at is not None
    assert _due(db, now + timedelta(days=1), settings.secret_key) == []
