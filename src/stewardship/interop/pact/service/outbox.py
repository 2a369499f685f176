"""The outbox of answer events: what is due, and how a try went (sent, or tried again
later with a doubling wait, or given up after the configured number of tries)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from stewardship.interop.pact import repository as repo
from stewardship.interop.pact.rules import retry_wait
from stewardship.interop.pact.service.clients import events_secret


@dataclass(frozen=True)
class Delivery:
    id: uuid.UUID
    attempts: int
    target_url: str
    body: dict[str, Any]
    events_base_url: str
    client_id: str
    client_secret: str


def claim_due(db: Session, now: datetime, secret_key: str, *, lease_seconds: float,
              limit: int = 20) -> list[Delivery]:
    """The due events, each claimed for ``lease_seconds`` (its next try moved past the
    lease, under a row lock that another sender skips): a second sender, in this process
    or another, does not take them meanwhile. The try's outcome is recorded by
    ``record_attempt``; a sender that dies leaves the event due again after the lease."""
    out = []
    for pk in repo.due_events(db, now, limit):
        event = repo.event_for_update(db, pk)
        if event is None or event.status != "pending" or event.next_attempt_at > now:
            continue
        client = repo.client_by_id(db, event.client_pk)
        if client is None:
            continue
        event.next_attempt_at = now + timedelta(seconds=lease_seconds)
        out.append(Delivery(event.id, event.attempts, event.target_url, dict(event.body),
                            client.events_base_url, client.events_client_id,
                            events_secret(client, secret_key)))
    db.flush()
    return out


def record_attempt(db: Session, delivery: Delivery, error: str | None, now: datetime, *,
                   max_attempts: int, first_wait_seconds: float) -> str:
    """Record one try; the event's status after it. A try another sender recorded first
    (the attempt count moved on) changes nothing."""
    event = repo.event_for_update(db, delivery.id)
    if event is None or event.status != "pending" or event.attempts != delivery.attempts:
        return event.status if event is not None else "gone"
    event.attempts += 1
    if error is None:
        event.status, event.sent_at, event.last_error = "sent", now, ""
    else:
        event.last_error = error[:2000]
        if event.attempts >= max_attempts:
            event.status = "failed"
        else:
            event.next_attempt_at = now + retry_wait(event.attempts, first_wait_seconds)
    db.flush()
    return event.status
