"""Every mandatory case of PACT's conformance checklist (shared/conformance/pact/README.md,
sections 3 and 4, numbered as there) against a real ``stewardship serve --tls-cert
--tls-key``: HTTPS with a certificate made here by a CA made here, called with httpx
verifying against that CA, on SQLite and PostgreSQL. The asynchronous answers go to a
small HTTP receiver started here (the buyer's ``/auth/token`` and ``/3/events``), which
refuses the first event sent to each path, so that each answer arrives only by a retry."""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from stewardship.core.db import make_sessionmaker, transaction
from stewardship.interop.pact.rules import mint_token
from tests.conftest import BACKENDS, scratch_database
from tests.interop.pact.schema import needs_conformance, problems
from tests.interop.pact.world import build

pytestmark = needs_conformance
CHECKOUT = Path(__file__).resolve().parents[3]
SECRET_KEY = "pact-conformance-" + "k" * 32
EVENTS = "application/cloudevents+json; charset=UTF-8"
V3 = "org.wbcsd.pact.ProductFootprint."
V2 = "org.wbcsd.pathfinder."


# --- a CA and a server certificate ------------------------------------------------------


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key) as PEM files: the server's names
    127.0.0.1 and localhost and is signed by the CA."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Stewardship test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                       crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False,
                                       decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    server = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
              .issuer_name(ca_name).public_key(key.public_key())
              .serial_number(x509.random_serial_number())
              .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=2))
              .add_extension(x509.SubjectAlternativeName([
                  x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                  critical=False)
              .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                             critical=False)
              .sign(ca_key, hashes.SHA256()))
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


# --- the buyer's receiver ---------------------------------------------------------------


@dataclass
class Receiver:
    base: str
    events: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)
    """(path, event, Authorization header) of every event accepted."""
    refused: list[str] = field(default_factory=list)
    """Paths of the events refused (the first one sent to each path)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, request_id: str, deadline: float = 90.0) -> tuple[str, dict[str, Any],
                                                                          str]:
        """The answer to the request ``request_id`` once it has arrived."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            with self.lock:
                for path, event, auth in self.events:
                    if event.get("data", {}).get("requestEventId") == request_id:
                        return path, event, auth
            time.sleep(0.2)
        raise AssertionError(f"no answer to {request_id} arrived; refused: {self.refused}")


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(b"test_client_id:test_client_secret").decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path == "/auth/token":
                signed_in = self.headers.get("Authorization") == expected
                if not signed_in or b"client_credentials" not in raw:
                    self._answer(401, {"error": "invalid_client"})
                else:
                    self._answer(200, {"access_token": "buyer-token", "token_type": "bearer"})
                return
            if self.path not in ("/3/events", "/2/events"):
                self._answer(404, {"code": "NotFound", "message": self.path})
                return
            with receiver.lock:
                if self.path not in receiver.refused:
                    receiver.refused.append(self.path)
                    self._answer(503, {"code": "InternalError", "message": "try later"})
                    return
                receiver.events.append((self.path, json.loads(raw),
                                        self.headers.get("Authorization", "")))
            self._answer(200, {})

    return Handler


@contextmanager
def receiving() -> Iterator[Receiver]:
    """The buyer's receiver on a free port of 127.0.0.1, in a thread."""
    receiver = Receiver("")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    receiver.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


# --- the server ---------------------------------------------------------------------------


@dataclass
class Live:
    base: str
    """https://127.0.0.1:<port>/pact"""
    plain: str
    """The same address with http://"""
    verify: ssl.SSLContext
    client_id: str
    client_secret: str
    receiver: Receiver
    hidden_ids: list[str]

    def http(self) -> httpx.Client:
        return httpx.Client(verify=self.verify, timeout=30)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module", params=BACKENDS)
def live(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    directory = tmp_path_factory.mktemp(f"pact-{request.param}")
    ca, cert, key = _certificates(directory)
    with receiving() as receiver, scratch_database(request.param, directory) as engine:
        with transaction(make_sessionmaker(engine)) as db:
            world = build(db, SECRET_KEY, events_base_url=receiver.base)
            from stewardship.custody import repository as custody_repo
            hidden = [str(custody_repo.document_by_number(db, n).id)  # type: ignore[union-attr]
                      for n in world.hidden.values()]
        url = engine.url.render_as_string(hide_password=False)
        engine.dispose()
        port = _free_port()
        env = {**os.environ, "STEWARDSHIP_DATABASE_URL": url, "STEWARDSHIP_SECRET_KEY": SECRET_KEY,
               "STEWARDSHIP_VAR_DIR": str(directory), "STEWARDSHIP_ENVIRONMENT": "development",
               "STEWARDSHIP_PACT_ALLOW_HTTP": "false", "STEWARDSHIP_PACT_SENDER": "true",
               "STEWARDSHIP_PACT_EVENT_RETRY_SECONDS": "0.5",
               "STEWARDSHIP_CHECKPOINT_EVERY_MINUTES": "0",
               "STEWARDSHIP_EMBEDDED_WORKER": "false", "STEWARDSHIP_SERVER_THREADS": "8",
               "PYTHONPATH": os.pathsep.join([str(CHECKOUT / "src"),
                                              os.environ.get("PYTHONPATH", "")])}
        log = (directory / "server.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-c", "from stewardship.cli import main; main()", "serve",
             "--port", str(port), "--tls-cert", str(cert), "--tls-key", str(key)],
            env=env, stdout=log, stderr=subprocess.STDOUT)
        verify = ssl.create_default_context(cafile=str(ca))
        base = f"https://127.0.0.1:{port}/pact"
        try:
            deadline = time.monotonic() + 120
            while True:
                assert process.poll() is None, (directory / "server.log").read_text()
                try:
                    if httpx.get(f"{base}/.well-known/openid-configuration", verify=verify,
                                 timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "the server did not answer in 120 s"
                time.sleep(0.3)
            yield Live(base, base.replace("https://", "http://"), verify, world.client_id,
                       world.client_secret, receiver, hidden)
        finally:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


@pytest.fixture(scope="module")
def token(live: Live) -> str:
    with live.http() as http:
        answer = http.post(f"{live.base}/auth/token", data={"grant_type": "client_credentials"},
                           auth=(live.client_id, live.client_secret))
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


@pytest.fixture(scope="module")
def first(live: Live, token: str) -> dict[str, Any]:
    """Pre-flight: the list is 2xx and not empty; FP is its first footprint."""
    with live.http() as http:
        answer = http.get(f"{live.base}/3/footprints", headers=_bearer(token))
    assert answer.status_code == 200 and answer.json()["data"], answer.text
    return dict(answer.json()["data"][0])


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _list(live: Live, token: str, query: str) -> list[dict[str, Any]]:
    # The tester does not URL-encode filter values: neither do we here.
    with live.http() as http:
        answer = http.get(f"{live.base}/3/footprints?{query}", headers=_bearer(token))
    assert answer.status_code == 200, (query, answer.text)
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


def _refused_or_not_ok(call: Any) -> None:
    """Over plain HTTP a request must not succeed: no connection, or no 200 with data."""
    try:
        answer = call()
    except httpx.HTTPError:
        return
    assert answer.status_code != 200
    assert "access_token" not in answer.text


# --- v3 -------------------------------------------------------------------------------------


def test_01_02_tokens(live: Live, token: str) -> None:
    assert token.startswith("pact.")
    with live.http() as http:
        random = http.post(f"{live.base}/auth/token", data={"grant_type": "client_credentials"},
                           auth=("pact_" + uuid.uuid4().hex[:20], uuid.uuid4().hex))
        discovered = http.get(f"{live.base}/.well-known/openid-configuration").json()
    assert random.status_code in (400, 401) and "access_token" not in random.json()
    assert discovered["token_endpoint"] == f"{live.base}/auth/token"


def test_03_04_05_get_list_and_pagination(live: Live, token: str,
                                          first: dict[str, Any]) -> None:
    with live.http() as http:
        one = http.get(f"{live.base}/3/footprints/{first['id']}", headers=_bearer(token))
        everything = http.get(f"{live.base}/3/footprints", headers=_bearer(token))
        page = http.get(f"{live.base}/3/footprints?limit=1", headers=_bearer(token))
        assert one.status_code == 200 and one.json()["data"]["id"] == first["id"]
        assert one.headers["content-type"].startswith("application/json")
        assert problems("3", "ProductFootprint", one.json(), wrap="one") == []
        assert everything.status_code == 200
        assert problems("3", "ProductFootprint", everything.json(), wrap="list") == []
        assert len(everything.json()["data"]) == 3
        assert not set(live.hidden_ids) & {fp["id"] for fp in everything.json()["data"]}
        link = page.headers["link"]
        assert link.startswith(f"<{live.base}/3/footprints?") and link.endswith('rel="next"')
        url = link.split(", ")[0].split(";")[0].strip("<>")
        following = http.get(live.base + url.removeprefix(live.base), headers=_bearer(token))
        seen = [page.json()["data"][0]["id"], following.json()["data"][0]["id"]]
        last = http.get(f"{live.base}/3/footprints?limit=1&offset=2", headers=_bearer(token))
    assert following.status_code == 200 and following.json()["data"][0]["id"]
    assert seen == [fp["id"] for fp in everything.json()["data"][:2]]
    assert "link" not in last.headers and len(last.json()["data"]) == 1


def test_06_07_16_bogus_tokens_and_08_unknown_id(live: Live, token: str,
                                                 first: dict[str, Any]) -> None:
    bogus = _bearer("not-a-token-" + uuid.uuid4().hex)
    with live.http() as http:
        answers = [http.get(f"{live.base}/3/footprints", headers=bogus),
                   http.get(f"{live.base}/3/footprints/{first['id']}", headers=bogus),
                   http.post(f"{live.base}/3/events", headers={**bogus, "Content-Type": EVENTS},
                             content=b"{}")]
        expired = mint_token(SECRET_KEY, live.client_id, datetime.now(UTC) - timedelta(minutes=1))
        late = http.get(f"{live.base}/3/footprints", headers=_bearer(expired))
        unknown = http.get(f"{live.base}/3/footprints/00000000-0000-0000-0000-000000000000",
                           headers=_bearer(token))
        others = [http.get(f"{live.base}/3/footprints/{pk}", headers=_bearer(token))
                  for pk in live.hidden_ids]
    for answer in answers:
        assert answer.status_code in (400, 401) and answer.json()["code"] == "BadRequest"
    assert late.status_code == 401 and late.json()["code"] == "TokenExpired"
    assert unknown.status_code == 404 and unknown.json()["code"] == "NotFound"
    assert [a.status_code for a in others] == [404] * len(live.hidden_ids)


def test_09_10_11_17_plain_http_does_not_succeed(live: Live, token: str,
                                                 first: dict[str, Any]) -> None:
    with httpx.Client(timeout=10) as plain:
        _refused_or_not_ok(lambda: plain.post(f"{live.plain}/auth/token",
                                              data={"grant_type": "client_credentials"},
                                              auth=(live.client_id, live.client_secret)))
        _refused_or_not_ok(lambda: plain.get(f"{live.plain}/3/footprints",
                                             headers=_bearer(token)))
        _refused_or_not_ok(lambda: plain.get(f"{live.plain}/3/footprints/{first['id']}",
                                             headers=_bearer(token)))
        _refused_or_not_ok(lambda: plain.post(f"{live.plain}/3/events", content=b"{}",
                                              headers={**_bearer(token), "Content-Type": EVENTS}))


def _event(kind: str, data: dict[str, Any], live: Live) -> dict[str, Any]:
    return {"specversion": "1.0", "id": f"{uuid.uuid4()}/{kind}", "source": live.receiver.base,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "type": kind,
            "data": data}


def _post_event(live: Live, token: str, event: dict[str, Any], version: int = 3) -> int:
    with live.http() as http:
        answer = http.post(f"{live.base}/{version}/events", content=json.dumps(event).encode(),
                           headers={**_bearer(token), "Content-Type": EVENTS})
    return answer.status_code


def test_12_13_14_requests_are_answered_at_the_buyers_events_endpoint(
        live: Live, token: str, first: dict[str, Any]) -> None:
    asked = _event(V3 + "RequestCreatedEvent.3",
                   {"productId": first["productIds"], "comment": "the first batch"}, live)
    nothing = _event(V3 + "RequestCreatedEvent.3", {"productId": ["urn:pact:null"]}, live)
    assert _post_event(live, token, asked) == 200
    assert _post_event(live, token, nothing) == 200
    path, fulfilled, auth = live.receiver.wait_for(asked["id"])
    assert path == "/3/events" and auth == "Bearer buyer-token"
    assert fulfilled["type"] == V3 + "RequestFulfilledEvent.3"
    assert problems("3", "RequestFulfilledEvent", fulfilled) == []
    assert any(set(fp["productIds"]) & set(first["productIds"])
               for fp in fulfilled["data"]["pfs"])
    path, rejected, _ = live.receiver.wait_for(nothing["id"])
    assert path == "/3/events" and rejected["type"] == V3 + "RequestRejectedEvent.3"
    assert problems("3", "RequestRejectedEvent", rejected) == []
    assert set(rejected["data"]["error"]) == {"code", "message"}
    # The first event sent to /3/events was refused: these arrived by a retry.
    assert "/3/events" in live.receiver.refused


def test_15_40_published_events(live: Live, token: str) -> None:
    assert _post_event(live, token, _event(V3 + "PublishedEvent.3",
                                           {"pfIds": [str(uuid.uuid4())]}, live)) == 200
    assert _post_event(live, token, _event(V3 + "PublishedEvent.3",
                                           {"pfIds": ["urn:gtin:4712345060507"]}, live)) == 400


def test_20_to_29_filters(live: Live, token: str, first: dict[str, Any]) -> None:
    everything = _list(live, token, "")
    product, company = first["productIds"][0], first["companyIds"][0]
    assert all(product in fp["productIds"] for fp in _list(live, token, f"productId={product}"))
    assert len(_list(live, token, f"productId={product}")) == 1
    assert len(_list(live, token, f"companyId={company}")) == 3
    country = first["pcf"]["geographyCountry"]
    assert [fp["pcf"]["geographyCountry"] for fp in _list(live, token, f"geography={country}")
            ] == [country] * 3
    classification = first["productClassifications"][0]
    found = _list(live, token, f"classification={classification}")
    assert found and all(classification in fp["productClassifications"] for fp in found)
    assert len(found) < len(everything)  # the coil is a rolled product (7606); the rest not
    start = datetime.fromisoformat(first["validityPeriodStart"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(first["validityPeriodEnd"].replace("Z", "+00:00"))
    on = _list(live, token, f"validOn={first['validityPeriodStart']}")
    assert first["id"] in {fp["id"] for fp in on}
    for fp in on:
        assert fp["validityPeriodStart"] <= first["validityPeriodStart"] <= fp["validityPeriodEnd"]
    after = (start - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert all(fp["validityPeriodStart"] > after
               for fp in _list(live, token, f"validAfter={after}"))
    assert len(_list(live, token, f"validAfter={after}")) == 3
    before = (end + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert all(fp["validityPeriodEnd"] < before
               for fp in _list(live, token, f"validBefore={before}"))
    assert {fp["status"] for fp in _list(live, token, f"status={first['status']}")} == {"Active"}
    both = _list(live, token, f"status=Active&productId={product}")
    assert [fp["id"] for fp in both] == [first["id"]]
    either = _list(live, token, f"companyId={company}&companyId={uuid.uuid4().hex[:8]}"
                                f"&companyId={uuid.uuid4().hex[:8]}")
    assert len(either) == 3
    two = _list(live, token, f"productId={product}&productId={everything[1]['productIds'][0]}")
    assert [fp["id"] for fp in two] == [fp["id"] for fp in everything[:2]]


@pytest.mark.parametrize("query", [
    "productId=urn:bogus:product:1", "companyId=urn:bogus:company:1", "geography=XX",
    "classification=urn:bogus:classification:1", "validOn=1900-01-01T00:00:00Z",
    "validAfter=2099-12-31T23:59:59Z", "validBefore=1900-01-01T00:00:00Z",
    "status=BogusStatus7f3a", "companyId=urn:bogus:company:1&productId=urn:bogus:product:1",
    "companyId=urn:bogus:a&companyId=urn:bogus:b&companyId=urn:bogus:c"])
def test_30_to_39_filters_matching_nothing_give_an_empty_list(live: Live, token: str,
                                                              query: str) -> None:
    assert _list(live, token, query) == []


# --- v2 -------------------------------------------------------------------------------------


def test_v2_01_to_11(live: Live, token: str) -> None:
    bogus = _bearer("bogus")
    with live.http() as http:
        listed = http.get(f"{live.base}/2/footprints", headers=_bearer(token))
        fp = listed.json()["data"][0]
        one = http.get(f"{live.base}/2/footprints/{fp['id']}", headers=_bearer(token))
        page = http.get(f"{live.base}/2/footprints?limit=1", headers=_bearer(token))
        url = page.headers["link"].split(";")[0].strip("<>")
        following = http.get(url, headers=_bearer(token))
        unknown = http.get(f"{live.base}/2/footprints/{uuid.uuid4()}", headers=_bearer(token))
        refused = [http.get(f"{live.base}/2/footprints", headers=bogus),
                   http.get(f"{live.base}/2/footprints/{fp['id']}", headers=bogus),
                   http.post(f"{live.base}/2/events", headers={**bogus, "Content-Type": EVENTS},
                             content=b"{}")]
    for version in ("2.0", "2.2", "2.3"):
        assert problems(version, "ProductFootprint", listed.json(), wrap="list") == []
        assert problems(version, "ProductFootprint", one.json(), wrap="one") == []
    assert len(listed.json()["data"]) == 3 and one.json()["data"]["id"] == fp["id"]
    assert following.status_code == 200 and following.json()["data"][0]["id"] != fp["id"]
    assert unknown.status_code == 404 and unknown.json()["code"] == "NoSuchFootprint"
    for answer in refused:
        assert answer.status_code in (400, 401) and answer.json()["code"] == "BadRequest"
    with httpx.Client(timeout=10) as plain:
        _refused_or_not_ok(lambda: plain.get(f"{live.plain}/2/footprints",
                                             headers=_bearer(token)))


def test_v2_12_to_21_events(live: Live, token: str) -> None:
    with live.http() as http:
        fp = http.get(f"{live.base}/2/footprints", headers=_bearer(token)).json()["data"][0]
    asked = _event(V2 + "ProductFootprintRequest.Created.v1",
                   {"pf": {"productIds": fp["productIds"]}, "comment": "v2 please"}, live)
    nothing = _event(V2 + "ProductFootprintRequest.Created.v1",
                     {"pf": {"productIds": ["urn:pact:null"]}}, live)
    assert _post_event(live, token, asked, 2) == 200
    assert _post_event(live, token, nothing, 2) == 200
    path, fulfilled, _ = live.receiver.wait_for(asked["id"])
    assert path == "/2/events"
    assert fulfilled["type"] == V2 + "ProductFootprintRequest.Fulfilled.v1"
    assert problems("2.3", "RequestFulfilledEvent", fulfilled) == []
    assert set(fulfilled["data"]["pfs"][0]["productIds"]) & set(fp["productIds"])
    path, rejected, _ = live.receiver.wait_for(nothing["id"])
    assert rejected["type"] == V2 + "ProductFootprintRequest.Rejected.v1"
    assert set(rejected["data"]["error"]) == {"code", "message"}
    assert "/2/events" in live.receiver.refused
    published = V2 + "ProductFootprint.Published.v1"
    assert _post_event(live, token, _event(published, {"pfIds": [str(uuid.uuid4())]}, live),
                       2) == 200
    assert _post_event(live, token, _event(published, {"pfIds": ["urn:gtin:4712345060507"]},
                                           live), 2) == 400
