"""Subscriptions that ask for XML: a webhook subscribed with ``format: application/xml``
receives GS1's XML EPCISQueryDocuments, valid against GS1's XSD and signed over the exact
bytes as JSON deliveries are, carrying only what the subscriber may see; a WebSocket whose
handshake asks ``Accept: application/xml`` gets XML messages. Real HTTP on 127.0.0.1 and
a real WebSocket client; GS1's XSD is read where it is."""

from __future__ import annotations

import hashlib
import hmac
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from starlette.websockets import WebSocketDisconnect

from stewardship.interop.epcis import xml as epcis_xml
from tests.interop import test_epcis_subscriptions as subscriptions
from tests.interop.conftest import CONFORMANCE, needs_conformance
from tests.interop.test_epcis_subscriptions import (
    DEADLINE,
    SECRET,
    SHIPPING,
    Live,
    Receiver,
    _capture,
    _logged,
    _naming,
    _subscribe,
)

pytestmark = needs_conformance
XSD = CONFORMANCE / "XSD" if CONFORMANCE else None
# The subscription tests' webhook receiver on 127.0.0.1 and live app, as fixtures here.
receiver = subscriptions.receiver
live = subscriptions.live


def _valid(body: bytes) -> etree._Element:
    schema = epcis_xml.schema_for(XSD)
    assert schema is not None
    root = etree.fromstring(body)
    assert schema.validate(root), str(schema.error_log)
    assert etree.QName(root).localname == "EPCISQueryDocument"
    return root


def _ids(root: etree._Element) -> list[str]:
    return [str(e.text) for e in root.iter("eventID")]


def _xml_ids(receiver: Receiver) -> list[str]:
    return [i for _, body, status in receiver.received if status == 200
            for i in _ids(etree.fromstring(body))]


def test_a_webhook_asking_for_xml_gets_signed_xml_query_documents(
        live: Live, receiver: Receiver) -> None:
    with TestClient(live.app) as client:
        location = _subscribe(client, live.a, {"dest": receiver.url, "stream": True,
                                               "signatureToken": SECRET,
                                               "format": "application/xml"})
        shown = client.get(location, headers=live.a).json()
        assert shown["format"] == "application/xml"
        hidden = _capture(client, live.b, 1)  # B's own: A may not see it
        shared = _capture(client, live.b, 2, **_naming(live.a_slug))
        mine = _capture(client, live.a, 3)
        receiver.wait(lambda: {shared, mine} <= set(_xml_ids(receiver)))
        assert hidden not in _xml_ids(receiver)
        assert sorted(_xml_ids(receiver)) == sorted([shared, mine])
        subscription_id = location.rsplit("/", 1)[1]
        for headers, body, _ in receiver.received:
            assert headers["Content-Type"] == "application/xml"
            expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            assert headers["GS1-Signature"] == expected
            root = _valid(body)
            results = root.find(f"EPCISBody/{{{epcis_xml.NS_QUERY}}}QueryResults")
            assert results is not None
            assert results.findtext("queryName") == "q"
            assert results.findtext("subscriptionID") == subscription_id
        # The XML carries the events as the JSON query shows them.
        as_json = client.get("/epcis/queries/q/events", headers=live.a).json()
        listed = as_json["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        delivered = [e for _, body, status in receiver.received if status == 200
                     for e in epcis_xml.to_json(etree.fromstring(body))["epcisBody"][
                         "queryResults"]["resultsBody"]["eventList"]]
        assert sorted((e["eventID"], e["bizStep"], e["epcList"]) for e in delivered) == \
            sorted((e["eventID"], e["bizStep"], e["epcList"]) for e in listed)
        log = _logged(client, location, live.a, lambda d: sum(x["eventCount"] for x in d) >= 2)
        assert {d["outcome"] for d in log["deliveries"]} == {"delivered"}


def test_a_scheduled_xml_webhook_reports_an_empty_valid_document(
        live: Live, receiver: Receiver) -> None:
    with TestClient(live.app) as client:
        _subscribe(client, live.a, {"dest": receiver.url, "schedule": {"second": "[0-59]"},
                                    "reportIfEmpty": True, "format": "text/xml"})
        receiver.wait(lambda: len(receiver.received) >= 1)
        headers, body, _ = receiver.received[0]
        assert headers["Content-Type"] == "text/xml"
        assert "GS1-Signature" not in headers  # no token, no signature
        assert _ids(_valid(body)) == []


def test_json_ld_deliveries_are_labelled_so(live: Live, receiver: Receiver) -> None:
    with TestClient(live.app) as client:
        _subscribe(client, live.a, {"dest": receiver.url, "stream": True,
                                    "format": "application/ld+json"})
        mine = _capture(client, live.a, 1)
        receiver.wait(lambda: mine in receiver.event_ids())
        headers = receiver.received[0][0]
        assert headers["Content-Type"] == "application/ld+json"
        assert receiver.documents()[0]["@context"]


@pytest.mark.parametrize("value", ["application/pdf", "xml", 7, ""])
def test_a_format_that_cannot_be_sent_is_refused(live: Live, value: Any) -> None:
    with TestClient(live.app) as client:
        client.post("/epcis/queries", json={"name": "q", "query": SHIPPING}, headers=live.a)
        refused = client.post("/epcis/queries/q/subscriptions", headers=live.a, json={
            "dest": "https://example.com/hook", "stream": True, "format": value})
        assert refused.status_code == 400, refused.text
        problem = refused.json()
        assert problem["type"] == "epcisException:SubscriptionControlsException"
        assert problem["instance"] == "#/format" and "format" in problem["detail"]
        assert client.get("/epcis/queries/q/subscriptions", headers=live.a).json() == []


def _receive_text(ws: Any) -> str:
    out: list[Any] = []
    reader = threading.Thread(target=lambda: out.append(ws.receive_text()), daemon=True)
    reader.start()
    reader.join(DEADLINE.total_seconds())
    assert out, "no message on the WebSocket"
    return str(out[0])


@pytest.mark.parametrize("controls", ["stream=true", "second=[0-59]"])
def test_a_websocket_asking_for_xml_gets_xml_query_documents(live: Live,
                                                            controls: str) -> None:
    with TestClient(live.app) as client:
        client.post("/epcis/queries", json={"name": "q", "query": SHIPPING}, headers=live.a)
        headers = {**live.a, "Accept": "application/xml, application/json;q=0.5"}
        with client.websocket_connect(f"/epcis/queries/q/events?{controls}",
                                      headers=headers) as ws:
            hidden = _capture(client, live.b, 1)
            mine = _capture(client, live.a, 2)
            seen: list[str] = []
            while mine not in seen:
                message = _receive_text(ws)
                assert message.startswith("<?xml")
                seen += _ids(_valid(message.encode()))
            assert hidden not in seen


def test_a_websocket_asking_for_what_cannot_be_sent_is_refused(live: Live) -> None:
    with TestClient(live.app) as client:
        client.post("/epcis/queries", json={"name": "q", "query": SHIPPING}, headers=live.a)
        with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect(
                "/epcis/queries/q/events?stream=true",
                headers={**live.a, "Accept": "image/png"}) as ws:
            ws.receive_text()
        assert refused.value.code == 1008
