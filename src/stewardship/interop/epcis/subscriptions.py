"""Subscriptions to named queries (``/epcis/queries/{name}/subscriptions``) and their
delivery.

A webhook subscription posts EPCISQueryDocuments to its ``dest``: with ``stream: true``
whenever events the query matches are captured, with a ``schedule`` (GS1's
``query-schedule.json``) at its times, carrying the events captured since the last
delivery (an empty document at a scheduled time only with ``reportIfEmpty``). Each body
is signed with the subscriber's ``signatureToken``: ``GS1-Signature: sha256=<hex
HMAC-SHA256 of the body>``. A delivery is done when the destination answers 2xx; otherwise
it is retried after ``epcis_webhook_retry_seconds``, doubled each time, and given up
after ``epcis_webhook_max_attempts`` attempts (its events are then skipped: they stay
readable at ``/events``). Every attempt is logged for the subscriber
(``GET .../subscriptions/{id}``). A subscriber only ever receives events it may see.

The ``Deliverer`` runs in a server thread, woken on capture and polling besides; each
delivery is leased, so that several servers never send one twice, and is sent outside any
database transaction with a bounded timeout, so that a destination that never answers
delays nothing but its own retries.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import socket
import threading
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from stewardship.core import clock
from stewardship.core.auth import Actor
from stewardship.core.config import Settings
from stewardship.core.db import make_sessionmaker, transaction
from stewardship.core.errors import NotFound
from stewardship.interop import rules
from stewardship.interop.epcis import named, store
from stewardship.interop.epcis import query as event_query
from stewardship.interop.epcis import xml as epcis_xml
from stewardship.interop.epcis.jobs import actor_from_json, actor_json
from stewardship.interop.epcis.problems import EpcisProblem
from stewardship.interop.epcis.schedule import (
    DestinationError,
    ScheduleError,
    check_destination,
    internal,
    parse_schedule,
)
from stewardship.interop.subscription_models import (
    EpcisDelivery,
    EpcisNamedQuery,
    EpcisSubscription,
)

log = logging.getLogger("stewardship.epcis")
SIGNATURE_HEADER = "GS1-Signature"
BATCH = 500
"""Most events one delivery carries; more follow at once in further deliveries."""
LOG_SHOWN = 50
BODY_FIELDS = {"dest", "signatureToken", "stream", "schedule", "reportIfEmpty", "format"}
JSON = "application/json"
FORMATS = (JSON, "application/ld+json", "application/xml", "text/xml")
"""What deliveries may be sent as (``format``): GS1's JSON binding (plain or labelled
JSON-LD) or its XML ``EPCISQueryDocument``."""


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _controls(detail: str, pointer: str = "") -> EpcisProblem:
    return EpcisProblem(400, detail, type_="epcisException:SubscriptionControlsException",
                        title="Subscription error", instance=f"#{pointer}")


def check_controls(body: Any) -> tuple[bool, dict[str, str] | None, bool]:
    """(stream, schedule, reportIfEmpty) of a subscription request, or a 400."""
    if not isinstance(body, dict):
        raise _controls("the body must be an object with dest and stream or schedule")
    unknown = sorted(set(body) - BODY_FIELDS)
    if unknown:
        raise _controls(f"{unknown[0]} is not supported here; a subscription takes "
                        + ", ".join(sorted(BODY_FIELDS)), f"/{unknown[0]}")
    stream, schedule, empty = body.get("stream", False), body.get("schedule"), \
        body.get("reportIfEmpty", False)
    if not isinstance(stream, bool) or not isinstance(empty, bool):
        raise _controls("stream and reportIfEmpty must be true or false")
    if stream == (schedule is not None):
        raise _controls("set either stream to true or a schedule (not both, not neither)",
                        "/stream")
    if schedule is not None:
        try:
            parse_schedule(schedule)
        except ScheduleError as exc:
            raise _controls(exc.message, f"/schedule/{exc.field}") from None
    media = body.get("format", JSON)
    if not isinstance(media, str) or media.strip().lower() not in FORMATS:
        raise _controls(f"format is the media type deliveries are sent as, one of "
                        f"{', '.join(FORMATS)}; not {str(media)[:60]!r}", "/format")
    return stream, schedule, empty


def document(db: Session, rows: list[tuple[str, int | None]], name: str,
             subscription_id: str) -> dict[str, Any]:
    body = event_query.query_document(db, rows)
    results = body["epcisBody"]["queryResults"]
    results["queryName"], results["subscriptionID"] = name, subscription_id
    return body


def encode(doc: dict[str, Any], media: str) -> bytes:
    """A delivery's body: the query document as JSON, or GS1's XML for an XML type."""
    if media in epcis_xml.XML_TYPES:
        return epcis_xml.query_document(doc)
    return json.dumps(doc, separators=(",", ":")).encode()


def empty_document(name: str, subscription_id: str) -> dict[str, Any]:
    """What a scheduled run with nothing new sends when ``reportIfEmpty`` asks for it."""
    return {"@context": rules.STANDARD_CONTEXT, "type": "EPCISQueryDocument",
            "schemaVersion": "2.0", "creationDate": rules.format_time(clock.now()),
            "epcisBody": {"queryResults": {"queryName": name, "subscriptionID": subscription_id,
                                           "resultsBody": {"eventList": []}}}}


def response(sub: EpcisSubscription, deliveries: list[EpcisDelivery] | None = None,
             ) -> dict[str, Any]:
    """The subscription as GS1 shows it (never its secret), with its delivery log."""
    out: dict[str, Any] = {"subscriptionID": str(sub.id), "dest": sub.dest,
                           "createdAt": rules.format_time(sub.created_at)}
    if sub.last_notified_at is not None:
        out["lastNotifiedAt"] = rules.format_time(sub.last_notified_at)
    if sub.stream:
        out["stream"] = True
    else:
        out["schedule"], out["reportIfEmpty"] = sub.schedule, sub.report_if_empty
    out["signed"] = bool(sub.secret)
    out["format"] = sub.media_type or JSON
    if deliveries is not None:
        out["deliveries"] = [{"at": rules.format_time(d.at), "attempt": d.attempt,
                              "eventCount": d.event_count, "outcome": d.outcome,
                              "statusCode": d.status_code, "error": d.error}
                             for d in deliveries]
    return out


def subscribe(db: Session, actor: Actor | None, name: str, body: Any,
              settings: Settings) -> EpcisSubscription:
    query = named.get(db, actor, name)
    assert actor is not None
    stream, schedule, empty = check_controls(body)
    try:
        dest = check_destination(body.get("dest"), settings.epcis_webhook_allowed_hosts,
                                 settings.epcis_webhook_allow_internal)
    except DestinationError as exc:
        raise _controls(exc.message, "/dest") from None
    secret = body.get("signatureToken")
    if secret is not None and (not isinstance(secret, str) or not 1 <= len(secret) <= 500):
        raise _controls("signatureToken must be a string of 1 to 500 characters",
                        "/signatureToken")
    now = clock.now()
    next_at = parse_schedule(schedule).next_after(now) if schedule is not None else None
    return store.add(db, EpcisSubscription(
        query_id=query.id, actor=actor_json(actor), dest=dest, secret=secret, stream=stream,
        schedule=schedule, report_if_empty=empty,
        media_type=str(body.get("format", JSON)).strip().lower(), cursor=store.last_event_pk(db),
        next_at=next_at, attempts=0, created_at=now))


def _subscription(db: Session, actor: Actor | None, name: str,
                  subscription_id: str) -> EpcisSubscription:
    query = named.get(db, actor, name)
    try:
        ident = uuid.UUID(subscription_id)
    except ValueError:
        ident = None
    sub = store.subscription(db, query.id, ident) if ident else None
    if sub is None:
        raise NotFound(f"query {name} has no subscription {subscription_id[:60]}")
    return sub


def show(db: Session, actor: Actor | None, name: str, subscription_id: str) -> dict[str, Any]:
    sub = _subscription(db, actor, name, subscription_id)
    return response(sub, store.deliveries(db, sub.id, LOG_SHOWN))


def unsubscribe(db: Session, actor: Actor | None, name: str, subscription_id: str) -> None:
    store.delete_subscription(db, _subscription(db, actor, name, subscription_id))


def listing(db: Session, actor: Actor | None, name: str) -> list[dict[str, Any]]:
    query = named.get(db, actor, name)
    return [response(s) for s in store.subscriptions_of(db, query.id)]


# --- running a query for a subscriber ---------------------------------------------------------

def new_events(db: Session, actor: Actor, query: EpcisNamedQuery, after: int,
               settings: Settings, limit: int = BATCH) -> list[tuple[int, str, int | None]]:
    """Events the query matches, captured after row ``after``, that ``actor`` may see."""
    organization, see_all = event_query.reader_scope(actor)
    parsed = event_query.parse(named.to_parameters(query.query), settings)
    # A subscription sends what was captured since its cursor, in capture order.
    ordered = replace(parsed, after=after, after_key=None, order_by=None, count_limit=None,
                      max_count=None)
    return [(pk, body, context) for pk, body, context, _ in event_query.matching(
        db, ordered, organization_id=organization, see_all=see_all, limit=limit)]


class Refused(Exception):
    pass


def _check_resolved(url: str, settings: Settings) -> None:
    """Refuse a destination whose name resolves to an internal address (unless allowed)."""
    if settings.epcis_webhook_allow_internal:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        found = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise Refused(f"{host} does not resolve: {exc}") from None
    import ipaddress
    for *_, address in found:
        if internal(ipaddress.ip_address(address[0])):
            raise Refused(f"{host} resolves to an internal address ({address[0]})")


def post(url: str, body: bytes, headers: dict[str, str],
         settings: Settings) -> tuple[int | None, str | None]:
    """(status, error) of one delivery attempt; never raises."""
    try:
        _check_resolved(url, settings)
        with httpx.Client(timeout=settings.epcis_webhook_timeout_seconds,
                          follow_redirects=False, trust_env=False) as client:
            answer = client.post(url, content=body, headers=headers)
    except Refused as exc:
        return None, f"refused: {exc}"
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {str(exc)[:300] or 'no answer'}"
    if 200 <= answer.status_code < 300:
        return answer.status_code, None
    return answer.status_code, f"the destination answered {answer.status_code}"


class Deliverer:
    """Delivers due subscriptions (a server thread: ``start``/``wake``/``stop``)."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.factory = make_sessionmaker(engine)
        self.settings = settings
        self.stopping = threading.Event()
        self.wake_up = threading.Event()
        self.thread = threading.Thread(target=self._run, name="epcis-deliverer", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def wake(self) -> None:
        self.wake_up.set()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        self.wake_up.set()
        if self.thread.is_alive():
            self.thread.join(timeout)

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                busy = self.run_once()
            except Exception:  # a database hiccup: log it and look again at the next poll
                log.exception("the EPCIS deliverer could not deliver")
                busy = 0
            if not busy:
                self.wake_up.wait(self.settings.epcis_delivery_poll_seconds)
                self.wake_up.clear()

    def run_once(self) -> int:
        """Attempt every due delivery once; the number attempted."""
        with transaction(self.factory, write=False) as db:
            due = [sub.id for sub, query in store.due_subscriptions(db, clock.now())
                   if sub.next_at is not None  # a schedule or a retry that is due
                   or new_events(db, actor_from_json(sub.actor), query, sub.cursor,
                                 self.settings, limit=1)]  # a stream with news
        done = 0
        for sub_id in due:
            if self.stopping.is_set():
                break
            done += self.deliver(sub_id)
        return done

    def _prepare(self, sub_id: uuid.UUID) -> tuple[bytes, dict[str, str], int, int] | None:
        """Lease the subscription and build its delivery: (body, headers, last row, count);
        None when there is nothing to send now."""
        settings = self.settings
        now = clock.now()
        with transaction(self.factory) as db:
            sub = store.subscription_by_id(db, sub_id)
            if sub is None:
                return None
            query = db.get(EpcisNamedQuery, sub.query_id)
            assert query is not None
            rows = new_events(db, actor_from_json(sub.actor), query, sub.cursor, settings)
            scheduled = sub.schedule is not None
            if not rows and not (scheduled and sub.report_if_empty):
                if scheduled and sub.next_at is not None and sub.next_at <= now:
                    sub.next_at = parse_schedule(sub.schedule).next_after(now)
                return None
            until = now + timedelta(seconds=settings.epcis_webhook_timeout_seconds * 3 + 30)
            if not store.lease(db, sub.id, now, until):
                return None
            media = sub.media_type or JSON
            body = encode(document(db, [(b, c) for _, b, c in rows], query.name,
                                   str(sub.id)), media)
            headers = {"Content-Type": media, "GS1-EPCIS-Version": "2.0.0",
                       "GS1-Query-Name": query.name, "GS1-Subscription-ID": str(sub.id)}
            if sub.secret:
                headers[SIGNATURE_HEADER] = sign(sub.secret, body)
            return body, headers, (rows[-1][0] if rows else sub.cursor), len(rows)

    def deliver(self, sub_id: uuid.UUID) -> int:
        prepared = self._prepare(sub_id)
        if prepared is None:
            return 0
        body, headers, last, count = prepared
        with transaction(self.factory, write=False) as db:
            sub = store.subscription_by_id(db, sub_id)
            dest = sub.dest if sub is not None else ""
        status, error = post(dest, body, headers, self.settings)
        self._record(sub_id, status, error, last, count)
        notify()
        return 1

    def _record(self, sub_id: uuid.UUID, status: int | None, error: str | None, last: int,
                count: int) -> None:
        settings = self.settings
        now = clock.now()
        with transaction(self.factory) as db:
            sub = store.subscription_by_id(db, sub_id)
            if sub is None:  # unsubscribed meanwhile
                return
            attempt = sub.attempts + 1
            schedule = parse_schedule(sub.schedule) if sub.schedule is not None else None
            if error is None:
                outcome = "delivered"
            elif attempt >= settings.epcis_webhook_max_attempts:
                outcome = "given_up"
            else:
                outcome = "failed"
            if outcome == "failed":
                sub.attempts = attempt
                wait = min(settings.epcis_webhook_retry_seconds * 2 ** (attempt - 1), 3600.0)
                sub.next_at = now + timedelta(seconds=wait)
            else:
                sub.attempts, sub.cursor = 0, last
                sub.next_at = schedule.next_after(now) if schedule is not None else None
                if outcome == "delivered":
                    sub.last_notified_at = now
            sub.lease_until = None
            store.add(db, EpcisDelivery(subscription_id=sub.id, at=now, attempt=attempt,
                                        event_count=count, outcome=outcome,
                                        status_code=status, error=error))
        if error is not None:
            log.warning("EPCIS delivery to subscription %s %s: %s", sub_id, outcome, error)


def runs_deliverer(settings: Settings) -> bool:
    if settings.epcis_deliveries is None:
        return settings.environment != "test"
    return settings.epcis_deliveries


def start_deliverer(engine: Engine, settings: Settings) -> Deliverer | None:
    if not runs_deliverer(settings):
        return None
    deliverer = Deliverer(engine, settings)
    deliverer.start()
    return deliverer


# --- waking WebSocket streams -----------------------------------------------------------------

_listeners: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
_listeners_lock = threading.Lock()


def listen(loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
    with _listeners_lock:
        _listeners.add((loop, event))


def unlisten(loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
    with _listeners_lock:
        _listeners.discard((loop, event))


def notify() -> None:
    """Wake every WebSocket stream of this process (from any thread)."""
    with _listeners_lock:
        listeners = list(_listeners)
    for loop, event in listeners:
        try:
            loop.call_soon_threadsafe(event.set)
        except RuntimeError:  # its loop has closed
            unlisten(loop, event)


def wake(state: Any) -> None:
    """After a capture: wake the app's deliverer and WebSocket streams."""
    deliverer = getattr(state, "epcis_deliverer", None)
    if deliverer is not None:
        deliverer.wake()
    notify()


def next_scheduled(schedule: dict[str, str], after: datetime) -> datetime | None:
    return parse_schedule(schedule).next_after(after)
