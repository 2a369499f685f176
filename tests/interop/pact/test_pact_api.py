"""The PACT API in the app, on SQLite and PostgreSQL: who sees which footprints, what a
footprint says and that it validates against PACT's schema, tokens, the errors in PACT's
shape, the refusal of plain HTTP, and events queued for the sender."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stewardship.core.config import Settings
from stewardship.core.db import utcnow
from stewardship.custody import repository as custody_repo
from stewardship.interop.pact import repository as pact_repo
from stewardship.interop.pact.rules import mint_token
from tests.interop.pact.conftest import basic, token_for
from tests.interop.pact.schema import needs_conformance, problems
from tests.interop.pact.world import PactWorld

EVENT_TYPE = "application/cloudevents+json; charset=UTF-8"


def _auth(pact: TestClient, pw: PactWorld, *, other: bool = False) -> dict[str, str]:
    token = (token_for(pact, pw.other_client_id, pw.other_client_secret) if other
             else token_for(pact, pw.client_id, pw.client_secret))
    return {"Authorization": f"Bearer {token}"}


def _event(kind: str, data: dict[str, Any], n: int = 1) -> dict[str, Any]:
    return {"specversion": "1.0", "id": f"run/{n}", "source": "https://buyer.example",
            "time": "2026-12-01T10:00:00Z", "type": kind, "data": data}


def _ids(db: Session, numbers: list[str]) -> list[str]:
    out = []
    for number in numbers:
        document = custody_repo.document_by_number(db, number)
        assert document is not None
        out.append(str(document.id))
    return out


def test_a_buyer_sees_only_its_suppliers_documents_addressed_to_it(
        pact: TestClient, pw: PactWorld, db: Session) -> None:
    mine = pact.get("/pact/3/footprints", headers=_auth(pact, pw))
    assert mine.status_code == 200, mine.text
    assert [fp["id"] for fp in mine.json()["data"]] == _ids(db, pw.mill_documents)
    others = pact.get("/pact/3/footprints", headers=_auth(pact, pw, other=True))
    assert [fp["id"] for fp in others.json()["data"]] == _ids(db, [pw.hidden["other buyer"]])
    for why, number in pw.hidden.items():
        hidden_id = _ids(db, [number])[0]
        answer = pact.get(f"/pact/3/footprints/{hidden_id}", headers=_auth(pact, pw))
        assert answer.status_code == 404, why
        assert answer.json()["code"] == "NotFound"
        v2 = pact.get(f"/pact/2/footprints/{hidden_id}", headers=_auth(pact, pw))
        assert v2.status_code == 404 and v2.json()["code"] == "NoSuchFootprint"
    asked = pact.get("/pact/3/footprints", headers=_auth(pact, pw),
                     params={"productId": f"urn:stewardship:coc:{pw.hidden['other buyer']}"})
    assert asked.json() == {"data": []}


@needs_conformance
def test_a_footprint_states_the_documents_facts_and_validates(
        pact: TestClient, pw: PactWorld, db: Session) -> None:
    listed = pact.get("/pact/3/footprints", headers=_auth(pact, pw)).json()
    assert problems("3", "ProductFootprint", listed, wrap="list") == []
    coil = listed["data"][0]
    assert coil["pcf"]["pcfExcludingBiogenicUptake"] == "8.123456"
    assert coil["pcf"]["primaryDataShare"] == "72.5"
    assert coil["pcf"]["geographyCountry"] == "NO"
    assert coil["pcf"]["declaredUnitOfMeasurement"] == "kilogram"
    assert coil["productClassifications"] == ["urn:pact:productclassification:cn:7606"]
    assert listed["data"][2]["productClassifications"] == [
        "urn:pact:productclassification:cn:7601"]
    assert coil["productIds"][0] == f"urn:stewardship:coc:{pw.mill_documents[0]}"
    assert coil["companyIds"][0] == f"urn:stewardship:org:{pw.chain.smelter.slug}"
    extension = coil["extensions"][0]
    assert extension["dataSchema"].endswith("/pact/extensions/coc/1.0.0/schema.json")
    assert extension["data"]["claim"]["cocQuantityKg"] == 3_000
    assert extension["data"]["origins"] and extension["data"]["footprintTiers"][0]["tier"] == 1
    assert listed["data"][1]["extensions"][0]["data"]["recycledContent"]["percent"] == "12.5"
    one = pact.get(f"/pact/3/footprints/{coil['id']}", headers=_auth(pact, pw)).json()
    assert one == {"data": coil}
    v2 = pact.get("/pact/2/footprints", headers=_auth(pact, pw)).json()
    for version in ("2.0", "2.2", "2.3"):
        assert problems(version, "ProductFootprint", v2, wrap="list") == [], version
    assert v2["data"][0]["pcf"]["pCfExcludingBiogenic"] == "8.123456"
    schema = pact.get(extension["dataSchema"].removeprefix("http://testserver")).json()
    import jsonschema_rs
    assert jsonschema_rs.validator_for(schema).is_valid(extension["data"])


def test_the_token_endpoint_speaks_oauth2(pact: TestClient, pw: PactWorld) -> None:
    good = basic(pw.client_id, pw.client_secret)
    issued = pact.post("/pact/auth/token", data={"grant_type": "client_credentials"},
                       headers=good)
    assert issued.status_code == 200
    assert issued.json()["token_type"] == "bearer" and issued.json()["expires_in"] == 3600
    assert issued.headers["cache-control"] == "no-store"
    wrong = pact.post("/pact/auth/token", data={"grant_type": "client_credentials"},
                      headers=basic(pw.client_id, "not-the-secret"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong.json()["code"] == "AccessDenied"
    assert wrong.headers["www-authenticate"].startswith("Basic")
    assert pact.post("/pact/auth/token", data={"grant_type": "client_credentials"}
                     ).status_code == 401
    grant = pact.post("/pact/auth/token", data={"grant_type": "password"}, headers=good)
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"
    missing = pact.post("/pact/auth/token", headers=good)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    garbled = pact.post("/pact/auth/token", data={"grant_type": "client_credentials"},
                        headers={"Authorization": "Basic %%%"})
    assert garbled.status_code == 401


def test_bad_expired_and_revoked_tokens(pact: TestClient, pw: PactWorld, db: Session,
                                        settings: Settings) -> None:
    for header in ("Bearer nonsense", "Bearer pact.e30.AAAA"):
        answer = pact.get("/pact/3/footprints", headers={"Authorization": header})
        assert answer.status_code == 400 and answer.json()["code"] == "BadRequest"
    none = pact.get("/pact/3/footprints")
    assert none.status_code == 401 and none.json()["code"] == "AccessDenied"
    expired = mint_token(settings.secret_key, pw.client_id, utcnow() - timedelta(seconds=1))
    answer = pact.get("/pact/3/footprints", headers={"Authorization": f"Bearer {expired}"})
    assert answer.status_code == 401 and answer.json()["code"] == "TokenExpired"
    forged = mint_token("another key" * 4, pw.client_id, utcnow() + timedelta(hours=1))
    assert pact.get("/pact/3/footprints", headers={"Authorization": f"Bearer {forged}"}
                    ).json()["code"] == "BadRequest"
    headers = _auth(pact, pw)
    client = pact_repo.client_by_client_id(db, pw.client_id)
    assert client is not None
    from stewardship.interop.pact.service import clients
    clients.revoke_client(db, pw.chain.smelter.admin, client.id)
    db.flush()
    revoked = pact.get("/pact/3/footprints", headers=headers)
    assert revoked.status_code == 403 and revoked.json()["code"] == "AccessDenied"
    assert pact.post("/pact/auth/token", data={"grant_type": "client_credentials"},
                     headers=basic(pw.client_id, pw.client_secret)).status_code == 401


@pytest.mark.parametrize(("query", "names"), [
    ("validOn=yesterday", "validOn"), ("validAfter=2026-13-01T00:00:00Z", "validAfter"),
    ("limit=0", "limit"), ("limit=lots", "limit"), ("offset=-1", "offset"),
    ("colour=blue", "colour"), ("validBefore=2026-01-01T00:00:00", "validBefore")])
def test_malformed_filters_are_400_naming_the_parameter(pact: TestClient, pw: PactWorld,
                                                        query: str, names: str) -> None:
    answer = pact.get(f"/pact/3/footprints?{query}", headers=_auth(pact, pw))
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "BadRequest" and names in answer.json()["message"]


def test_errors_are_pacts_shape_on_every_route(pact: TestClient, pw: PactWorld) -> None:
    headers = _auth(pact, pw)
    for method, url, status in (
            ("GET", "/pact/3/nothing", 404), ("DELETE", "/pact/3/footprints", 405),
            ("GET", "/pact/3/footprints/not-a-uuid", 400),
            ("GET", "/pact/2/footprints?$filter=created ge '2026-01-01'", 400)):
        answer = pact.request(method, url, headers=headers)
        assert answer.status_code == status, (url, answer.text)
        body = answer.json()
        assert set(body) == {"code", "message"} and body["message"], body
        assert answer.headers["content-type"].startswith("application/json")


def test_plain_http_is_refused_not_redirected(make_app: Callable[..., FastAPI],
                                              pw: PactWorld) -> None:
    strict = TestClient(make_app(), raise_server_exceptions=False)
    for method, url in (("POST", "/pact/auth/token"), ("GET", "/pact/3/footprints"),
                        ("GET", f"/pact/3/footprints/{uuid.uuid4()}"), ("POST", "/pact/3/events"),
                        ("GET", "/pact/2/footprints")):
        answer = strict.request(method, url, headers=basic(pw.client_id, pw.client_secret),
                                data={"grant_type": "client_credentials"},
                                follow_redirects=False)
        assert answer.status_code == 403, url
        assert answer.json()["code"] == "AccessDenied" and "HTTPS" in answer.json()["message"]
        assert "location" not in answer.headers


def test_events_are_read_strictly_and_requests_queued(pact: TestClient, pw: PactWorld,
                                                      db: Session) -> None:
    headers = {**_auth(pact, pw), "Content-Type": EVENT_TYPE}
    created = "org.wbcsd.pact.ProductFootprint.RequestCreatedEvent.3"
    product = f"urn:stewardship:coc:{pw.mill_documents[0]}"
    cases = [("text/plain", b"{}"), (EVENT_TYPE, b"{not json")]
    for media, raw in cases:
        answer = pact.post("/pact/3/events", content=raw,
                           headers={**headers, "Content-Type": media})
        assert answer.status_code == 400 and answer.json()["code"] == "BadRequest"
    bad = [{"specversion": "1.0"}, {**_event(created, {}), "specversion": "0.3"},
           {**_event(created, {}), "time": "soon"},
           _event("org.example.Unknown", {}),
           _event("org.wbcsd.pact.ProductFootprint.PublishedEvent.3",
                  {"pfIds": ["urn:gtin:4712345060507"]}),
           _event(created, {"productId": "not a list", "validOn": 5})]
    for body in bad:
        answer = pact.post("/pact/3/events", json=body, headers=headers)
        assert answer.status_code == 400, body
    answer = pact.post("/pact/3/events", headers=headers, json=_event(
        "org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3",
        {"requestEventId": "x", "pfs": []}))
    assert answer.status_code == 400 and answer.json()["code"] == "NotImplemented"
    client = pact_repo.client_by_client_id(db, pw.client_id)
    assert client is not None
    assert pact_repo.events_of(db, client.id) == []
    published = pact.post("/pact/3/events", headers=headers, json=_event(
        "org.wbcsd.pact.ProductFootprint.PublishedEvent.3", {"pfIds": [str(uuid.uuid4())]}))
    assert published.status_code == 200
    asked = pact.post("/pact/3/events", headers=headers,
                      json=_event(created, {"productId": [product]}, 2))
    assert asked.status_code == 200
    nothing = pact.post("/pact/3/events", headers=headers,
                        json=_event(created, {"productId": ["urn:pact:null"]}, 3))
    assert nothing.status_code == 200
    v2 = pact.post("/pact/2/events", headers=headers, json=_event(
        "org.wbcsd.pathfinder.ProductFootprintRequest.Created.v1",
        {"pf": {"productIds": [product]}, "comment": "please"}, 4))
    assert v2.status_code == 200
    queued = pact_repo.events_of(db, client.id)
    assert [e.target_url for e in queued] == ["http://127.0.0.1:9/buyer/3/events"] * 2 + [
        "http://127.0.0.1:9/buyer/2/events"]
    fulfilled, rejected, v2_fulfilled = (e.body for e in queued)
    assert fulfilled["type"].endswith("RequestFulfilledEvent.3")
    assert fulfilled["data"]["requestEventId"] == "run/2"
    assert [fp["productIds"][0] for fp in fulfilled["data"]["pfs"]] == [product]
    assert rejected["type"].endswith("RequestRejectedEvent.3")
    assert rejected["data"] == {"requestEventId": "run/3", "error": {
        "code": "NotFound", "message": "no footprint you may see matches the request"}}
    assert v2_fulfilled["type"] == "org.wbcsd.pathfinder.ProductFootprintRequest.Fulfilled.v1"
    assert v2_fulfilled["data"]["pfs"][0]["specVersion"] == "2.3.0"
    # Credentials with no events address: the answer goes to the request's source, as
    # PACT has it, where that is an http(s) address with no user part.
    other = {**_auth(pact, pw, other=True), "Content-Type": EVENT_TYPE}
    answered = pact.post("/pact/3/events", headers=other,
                         json=_event(created, {"productId": [product]}, 5))
    assert answered.status_code == 200
    for source, why in (("ftp://buyer.example", "not an http(s) address"),
                        ("https://who:pw@buyer.example", "user name or password")):
        refused = pact.post("/pact/3/events", headers=other, json={
            **_event(created, {"productId": [product]}, 6), "source": source})
        assert refused.status_code == 400 and why in refused.json()["message"]


def test_refusals_before_any_route_are_pacts_shape_too(make_app: Callable[..., FastAPI],
                                                       pw: PactWorld) -> None:
    small = TestClient(make_app(pact_allow_http=True, max_body_bytes=100),
                       raise_server_exceptions=False)
    big = small.post("/pact/3/events", content=b"{" + b" " * 200 + b"}",
                     headers={"Content-Type": EVENT_TYPE})
    assert big.status_code == 413 and big.json()["code"] == "BadRequest"
    small.cookies.set("stw_session", "a-session")
    forged = small.post("/pact/3/events", content=b"{}", headers={"Content-Type": EVENT_TYPE})
    assert forged.status_code == 403 and forged.json()["code"] == "AccessDenied"
    roomy = TestClient(make_app(pact_allow_http=True), raise_server_exceptions=False)
    deep = roomy.post("/pact/3/events", content=b"[" * 2000 + b"]" * 2000,
                      headers={"Content-Type": EVENT_TYPE})
    assert deep.status_code == 400 and deep.json()["code"] == "BadRequest"


def test_production_wants_an_https_events_address(db: Session, pw: PactWorld,
                                                  settings: Settings) -> None:
    from stewardship.core.errors import InvalidInput
    from stewardship.interop.pact.schemas import PactClientCreate
    from stewardship.interop.pact.service import clients

    data = PactClientCreate(name="Plain", buyer=pw.chain.canmaker.slug,
                            events_base_url="http://buyer.example/pact")
    with pytest.raises(InvalidInput) as refused:
        clients.create_client(db, pw.chain.smelter.admin, data, settings.secret_key,
                              https_only=True)
    assert refused.value.field_errors() == {
        "events_base_url": refused.value.message}
    made = clients.create_client(db, pw.chain.smelter.admin, data.model_copy(
        update={"events_base_url": "https://buyer.example/pact"}), settings.secret_key,
        https_only=True)
    assert made.events_base_url == "https://buyer.example/pact"
