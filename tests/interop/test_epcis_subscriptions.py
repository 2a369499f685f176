"""Subscriptions delivered for real, on committed data: a webhook receiver on 127.0.0.1
gets signed EPCISQueryDocuments on capture and on a schedule, a failed delivery is retried
and logged, a destination that never answers times out without holding up capture, a
WebSocket stream sends events as they are captured, and nobody ever receives an event
they may not see."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from starlette.websockets import WebSocketDisconnect

from stewardship.core import clock
from stewardship.core.auth import Role
from stewardship.core.config import Settings
from stewardship.core.db import make_sessionmaker, transaction
from stewardship.interop import rules
from stewardship.registry.service import accounts
from stewardship.web.app import create_app
from tests import factories
from tests.interop.conftest import needs_conformance, object_event

SECRET = "13df38d8275b13f05704629e5f1cf3d45d6132d5"
DEADLINE = timedelta(seconds=30)
SHIPPING = {"eventType": ["ObjectEvent"], "EQ_bizStep": ["shipping"]}


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST; ``statuses`` answers the first
    requests (then 200)."""

    statuses: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    url: str = ""

    def wait(self, done: Callable[[], bool]) -> None:
        """Wait until ``done()`` (checked whenever a request came), at most DEADLINE."""
        end = clock.now() + DEADLINE
        with self.changed:
            while not done() and clock.now() < end:
                self.changed.wait(0.2)
        assert done(), f"the receiver got {len(self.received)} requests"

    def documents(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body, status in self.received if status == 200]

    def event_ids(self) -> list[str]:
        return [e["eventID"] for doc in self.documents()
                for e in doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with state.changed:
                status = state.statuses.pop(0) if state.statuses else 200
                state.received.append((dict(self.headers.items()), body, status))
                state.changed.notify_all()
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@dataclass
class Live:
    app: Any
    a: dict[str, str]
    b: dict[str, str]
    a_slug: str


@pytest.fixture
def live(scratch_engine: Engine, epcis_settings: Settings) -> Live:
    with transaction(make_sessionmaker(scratch_engine)) as db:
        a_slug, b_slug = (factories.organization(db, name=f"Hook Metals {x}") for x in "AB")
        tokens = [accounts.create_token(db, factories.user(db, Role.MEMBER_ADMIN,
                                                           organization=slug), "t").token
                  for slug in (a_slug, b_slug)]
    settings = epcis_settings.model_copy(update={
        "epcis_deliveries": True, "epcis_webhook_allow_internal": True,
        "epcis_webhook_retry_seconds": 0.05, "epcis_delivery_poll_seconds": 0.1,
        "epcis_webhook_timeout_seconds": 0.5, "epcis_webhook_max_attempts": 3})
    app = create_app(settings=settings, engine=scratch_engine)
    return Live(app, *({"Authorization": f"Bearer {t}"} for t in tokens), a_slug)


def _capture(client: TestClient, headers: dict[str, str], n: int, **extra: Any) -> str:
    event = {"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
             **object_event(n, **extra)}
    response = client.post("/epcis/events", json=event, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["eventID"])


def _subscribe(client: TestClient, headers: dict[str, str], body: dict[str, Any],
               query: dict[str, Any] | None = None) -> str:
    made = client.post("/epcis/queries", json={"name": "q", "query": query or SHIPPING},
                       headers=headers)
    assert made.status_code == 201, made.text
    sub = client.post("/epcis/queries/q/subscriptions", json=body, headers=headers)
    assert sub.status_code == 201, sub.text
    return str(sub.headers["location"])


def _logged(client: TestClient, location: str, headers: dict[str, str],
            done: Callable[[list[dict[str, Any]]], bool]) -> dict[str, Any]:
    """The subscription once its delivery log satisfies ``done`` (at most DEADLINE)."""
    end = clock.now() + DEADLINE
    shown = client.get(location, headers=headers).json()
    while not done(shown["deliveries"]) and clock.now() < end:
        threading.Event().wait(0.1)
        shown = client.get(location, headers=headers).json()
    return dict(shown)


def _naming(slug: str) -> dict[str, Any]:
    return {"sourceList": [{"type": "owning_party", "source": rules.URN_ORG + slug}]}


@needs_conformance
def test_a_stream_subscription_gets_signed_deliveries_of_what_it_may_see_on_capture(
        live: Live, receiver: Receiver) -> None:
    with TestClient(live.app) as client:
        assert live.app.state.epcis_deliverer is not None
        location = _subscribe(client, live.a, {"dest": receiver.url, "stream": True,
                                               "signatureToken": SECRET})
        hidden = _capture(client, live.b, 1)  # B's own: A may not see it
        _capture(client, live.a, 2, bizStep="receiving")  # A's, not matched by the query
        shared = _capture(client, live.b, 3, **_naming(live.a_slug))  # names A: visible
        mine = _capture(client, live.a, 4)
        receiver.wait(lambda: {shared, mine} <= set(receiver.event_ids()))
        assert hidden not in receiver.event_ids()
        assert sorted(receiver.event_ids()) == sorted([shared, mine])
        for headers, body, _ in receiver.received:
            expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            assert headers["GS1-Signature"] == expected
            assert headers["Content-Type"] == "application/json"
        doc = receiver.documents()[0]
        assert doc["type"] == "EPCISQueryDocument"
        assert doc["epcisBody"]["queryResults"]["queryName"] == "q"
        # The log is written once the receiver has answered: wait for it as well.
        shown = _logged(client, location, live.a, lambda log: sum(
            d["eventCount"] for d in log) >= 2)
        assert shown["lastNotifiedAt"]
        assert {d["outcome"] for d in shown["deliveries"]} == {"delivered"}
        assert sum(d["eventCount"] for d in shown["deliveries"]) == 2
        assert client.get(location, headers=live.b).status_code == 404


@needs_conformance
def test_a_failed_delivery_is_retried_and_logged(live: Live, receiver: Receiver) -> None:
    receiver.statuses = [500]
    with TestClient(live.app) as client:
        location = _subscribe(client, live.a, {"dest": receiver.url, "stream": True})
        event = _capture(client, live.a, 1)
        receiver.wait(lambda: event in receiver.event_ids())
        assert [status for _, _, status in receiver.received] == [500, 200]
        assert "GS1-Signature" not in receiver.received[0][0]  # no token, no signature
        deliveries = _logged(client, location, live.a, lambda log: len(log) >= 2)["deliveries"]
        assert [(d["attempt"], d["outcome"], d["statusCode"]) for d in deliveries] == [
            (2, "delivered", 200), (1, "failed", 500)]


@needs_conformance
def test_a_destination_that_never_answers_times_out_is_retried_and_holds_up_nothing(
        live: Live) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections are accepted by the kernel, never answered
    try:
        with TestClient(live.app) as client:
            port = silent.getsockname()[1]
            location = _subscribe(client, live.a, {"dest": f"http://127.0.0.1:{port}/h",
                                                   "stream": True})
            for n in range(1, 4):  # capture goes on meanwhile
                _capture(client, live.a, n)
            end = clock.now() + DEADLINE
            deliveries: list[dict[str, Any]] = []
            while clock.now() < end and not any(d["outcome"] == "given_up"
                                                for d in deliveries):
                threading.Event().wait(0.2)
                deliveries = client.get(location, headers=live.a).json()["deliveries"]
            assert [d["outcome"] for d in deliveries][:3] == ["given_up", "failed", "failed"]
            assert all("Timeout" in d["error"] and d["statusCode"] is None
                       for d in deliveries)
    finally:
        silent.close()


@needs_conformance
def test_a_scheduled_subscription_delivers_at_its_times(live: Live,
                                                       receiver: Receiver) -> None:
    with TestClient(live.app) as client:
        _subscribe(client, live.a, {"dest": receiver.url, "signatureToken": SECRET,
                                    "schedule": {"second": "[0-59]"}})
        hidden = _capture(client, live.b, 1)
        mine = _capture(client, live.a, 2)
        receiver.wait(lambda: mine in receiver.event_ids())
        assert hidden not in receiver.event_ids()
        assert receiver.event_ids().count(mine) == 1  # each event once, not at every run


def _receive(ws: Any) -> dict[str, Any]:
    """The next message, waiting at most DEADLINE."""
    out: list[Any] = []
    reader = threading.Thread(target=lambda: out.append(ws.receive_json()), daemon=True)
    reader.start()
    reader.join(DEADLINE.total_seconds())
    assert out, "no message on the WebSocket"
    return dict(out[0])


@needs_conformance
@pytest.mark.parametrize("controls", ["stream=true", "second=[0-59]"])
def test_a_websocket_stream_sends_the_events_it_may_see(live: Live, controls: str) -> None:
    with TestClient(live.app) as client:
        client.post("/epcis/queries", json={"name": "q", "query": SHIPPING}, headers=live.a)
        with client.websocket_connect(f"/epcis/queries/q/events?{controls}",
                                      headers=live.a) as ws:
            hidden = _capture(client, live.b, 1)
            mine = _capture(client, live.a, 2)
            seen: list[str] = []
            while mine not in seen:
                doc = _receive(ws)
                assert doc["type"] == "EPCISQueryDocument"
                seen += [e["eventID"] for e in
                         doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]]
            assert hidden not in seen


@needs_conformance
@pytest.mark.parametrize(("who", "url"), [
    ("b", "/epcis/queries/q/events?stream=true"),  # another member: no such query
    ("nobody", "/epcis/queries/q/events?stream=true"),
    ("a", "/epcis/queries/q/events"),  # neither stream nor schedule
    ("a", "/epcis/queries/q/events?stream=true&minute=5"),
    ("a", "/epcis/queries/q/events?minute=99"),
])
def test_a_websocket_that_may_not_stream_is_refused(live: Live, who: str, url: str) -> None:
    with TestClient(live.app) as client:
        client.post("/epcis/queries", json={"name": "q", "query": SHIPPING}, headers=live.a)
        headers = {"a": live.a, "b": live.b, "nobody": {}}[who]
        with pytest.raises(WebSocketDisconnect) as refused, \
                client.websocket_connect(url, headers=headers) as ws:
            ws.receive_json()
        assert refused.value.code == 1008
