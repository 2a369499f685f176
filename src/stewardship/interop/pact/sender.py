"""Sends queued PACT answer events to buyers, from a daemon thread of the server.

Each try signs in at the buyer's ``{base}/auth/token`` first when its credentials name a
client id there (HTTP Basic, ``grant_type=client_credentials``), then POSTs the CloudEvent
(``application/cloudevents+json``) to the buyer's ``/3/events`` (``/2/events``). A failed
try (no answer, or not 2xx) is tried again after ``pact_event_retry_seconds``, each later
wait doubling, until ``pact_event_attempts`` tries were made. Each sender claims the due
events it tries for a while (row locks skipped by other senders on PostgreSQL), so that
several server processes do not send one event at once. Delivery is still at least once (a
sender may die after sending, before recording it): a buyer recognises a repeat by the
event's ``id``.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import urllib.error
import urllib.parse
import urllib.request

from sqlalchemy import Engine

from stewardship.core.config import Settings
from stewardship.core.db import make_sessionmaker, transaction, utcnow
from stewardship.interop.pact.service.outbox import Delivery, claim_due, record_attempt

log = logging.getLogger("stewardship.pact")
TIMEOUT_SECONDS = 10.0
POLL_SECONDS = 2.0
LEASE_SECONDS = 120.0
"""A claimed event is another sender's to try again only after this long (a try takes at
most two requests of TIMEOUT_SECONDS each)."""


class SendFailed(Exception):
    pass


def _request(url: str, data: bytes, headers: dict[str, str]) -> bytes:
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:
            return bytes(answer.read(1_000_000))
    except urllib.error.HTTPError as exc:
        raise SendFailed(f"{url} answered {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise SendFailed(f"{url} could not be reached: {exc}") from None


def _token(delivery: Delivery) -> str | None:
    if not delivery.client_id:
        return None
    basic = base64.b64encode(f"{delivery.client_id}:{delivery.client_secret}".encode()).decode()
    raw = _request(f"{delivery.events_base_url}/auth/token",
                   urllib.parse.urlencode({"grant_type": "client_credentials"}).encode(),
                   {"Authorization": f"Basic {basic}",
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "application/json"})
    try:
        token = json.loads(raw)["access_token"]
    except (ValueError, KeyError, TypeError):
        raise SendFailed("the buyer's token endpoint gave no access_token") from None
    return str(token)


def send_one(delivery: Delivery) -> None:
    headers = {"Content-Type": "application/cloudevents+json; charset=UTF-8"}
    token = _token(delivery)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    _request(delivery.target_url, json.dumps(delivery.body).encode(), headers)


def send_due_events(engine: Engine, settings: Settings) -> int:
    """Try every due event once; how many were sent."""
    factory = make_sessionmaker(engine)
    with transaction(factory) as db:
        due = claim_due(db, utcnow(), settings.secret_key, lease_seconds=LEASE_SECONDS)
    sent = 0
    for delivery in due:
        error = None
        try:
            send_one(delivery)
        except SendFailed as exc:
            error = str(exc)
        with transaction(factory) as db:
            status = record_attempt(db, delivery, error, utcnow(),
                                    max_attempts=settings.pact_event_attempts,
                                    first_wait_seconds=settings.pact_event_retry_seconds)
        if error is None:
            sent += 1
        else:
            log.warning("PACT event %s not delivered (%s): %s", delivery.id, status, error)
    return sent


class PactSender:
    def __init__(self, engine: Engine, settings: Settings,
                 poll_seconds: float = POLL_SECONDS) -> None:
        self.engine, self.settings, self.poll_seconds = engine, settings, poll_seconds
        self.stopping = threading.Event()
        self.wake_up = threading.Event()
        self.thread = threading.Thread(target=self._run, name="pact-sender", daemon=True)

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                send_due_events(self.engine, self.settings)
            except Exception:  # a database hiccup: log it and look again at the next poll
                log.exception("the PACT sender could not send events")
            self.wake_up.wait(self.poll_seconds)
            self.wake_up.clear()

    def start(self) -> None:
        self.thread.start()

    def wake(self) -> None:
        self.wake_up.set()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        self.wake_up.set()
        if self.thread.is_alive():
            self.thread.join(timeout)


def start_sender(engine: Engine, settings: Settings) -> PactSender | None:
    if not settings.runs_pact_sender:
        return None
    sender = PactSender(engine, settings)
    sender.start()
    return sender
