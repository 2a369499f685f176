"""Credentials the platform issues, fetched and verified as a buyer would: the bundle from
the platform, then checked offline with nothing but its contents and the issuer's DID."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from stewardship.core import bundles, issuance
from stewardship.core import credentials as vc
from stewardship.core.auth import Actor
from stewardship.core.config import Settings
from tests.api.pages import csrf
from tests.factories import SYSTEM

DID = "did:web:testserver"


def _issue(app: FastAPI, db: Session, ref: str = "certificate:STW-TEST-1") -> int:
    issuer = issuance.Issuer("http://testserver", app.state.log_signer)
    row = issuance.issue(db, SYSTEM, issuer, kind="certificate", subject_ref=ref,
                         types=["DigitalConformityCredential"], contexts=[],
                         subject={"type": ["ConformityAttestation"], "id": f"urn:x:{ref}",
                                  "issuedToParty": {"name": "Fjordal Aluminium AS"}},
                         valid_from=datetime.now(UTC) - timedelta(days=1),
                         valid_until=datetime.now(UTC) + timedelta(days=365))
    db.flush()
    return row.id


def _verdict(client: TestClient, cid: int) -> bundles.Verdict:
    raw = client.get(f"/credentials/{cid}/bundle")
    assert raw.status_code == 200, raw.text
    assert "attachment" in raw.headers["content-disposition"]
    return bundles.verify_bundle(raw.content, trusted_issuers={DID})


def test_did_document_names_the_current_key(app: FastAPI, client: TestClient) -> None:
    doc = client.get("/.well-known/did.json")
    assert doc.headers["content-type"] == "application/did+json"
    body = doc.json()
    assert body["id"] == DID
    kid = body["assertionMethod"][0]
    key = vc.key_in_document(body, kid)
    assert key.public_bytes_raw() == app.state.log_signer.private_key.public_key(
        ).public_bytes_raw()


def test_an_issued_credential_verifies_offline(app: FastAPI, db: Session,
                                               client: TestClient) -> None:
    cid = _issue(app, db)
    token = client.get(f"/credentials/{cid}")
    assert token.headers["content-type"] == "application/vc+jwt"
    payload = vc.decode_jwt(token.text).payload
    assert payload["issuer"] == DID and payload["credentialSubject"]["issuedToParty"]
    verdict = _verdict(client, cid)
    assert verdict.status == "valid", verdict.checks


def test_suspension_and_revocation_reach_the_status_lists(app: FastAPI, db: Session,
                                                          client: TestClient) -> None:
    cid = _issue(app, db)
    other = _issue(app, db, "certificate:STW-TEST-2")
    assert issuance.set_status(db, SYSTEM, "certificate:STW-TEST-1", suspended=True) == 1
    db.flush()
    assert _verdict(client, cid).status == "suspended"
    assert _verdict(client, other).status == "valid"
    issuance.set_status(db, SYSTEM, "certificate:STW-TEST-1", suspended=False)
    db.flush()
    assert _verdict(client, cid).status == "valid"
    issuance.set_status(db, SYSTEM, "certificate:STW-TEST-1", revoked=True)
    db.flush()
    assert _verdict(client, cid).status == "revoked"
    listed = client.get("/credentials/status/revocation/0")
    assert listed.headers["content-type"] == "application/vc+jwt"
    subject = vc.decode_jwt(listed.text).payload["credentialSubject"]
    bits = vc.decode_status_list(subject["encodedList"])
    assert vc.status_bit(bits, cid - 1) and not vc.status_bit(bits, other - 1)
    assert client.get("/credentials/status/expiry/0").status_code == 404
    assert client.get("/credentials/status/revocation/7").status_code == 404


def test_a_token_edited_in_the_database_is_tampered(app: FastAPI, db: Session,
                                                    client: TestClient) -> None:
    cid = _issue(app, db)
    token = db.get(issuance.IssuedCredential, cid).token
    header, _payload, signature = token.split(".")
    body = vc.decode_jwt(token).payload
    body["credentialSubject"]["issuedToParty"]["name"] = "Someone Else"
    forged = f"{header}.{vc.b64url(json.dumps(body).encode())}.{signature}"
    db.execute(text("UPDATE issued_credentials SET token = :t WHERE id = :i"),
               {"t": forged, "i": cid})
    db.expire_all()
    verdict = _verdict(client, cid)
    assert (verdict.status, verdict.failed_check) == ("tampered", "credential signature")


def test_the_verify_endpoint_gives_a_verdict_for_anything(
        app: FastAPI, db: Session, client: TestClient,
        client_for: Callable[[Actor], TestClient]) -> None:
    cid = _issue(app, db)
    bundle = client.get(f"/credentials/{cid}/bundle").json()
    answer = client.post("/api/v1/credentials/verify", json=bundle).json()
    assert answer["status"] == "valid" and answer["failed_check"] is None
    bundle["logEntry"] = "AAAA"
    answer = client.post("/api/v1/credentials/verify", json=bundle).json()
    assert (answer["status"], answer["failed_check"]) == ("tampered", "log entry")
    nonsense = client.post("/api/v1/credentials/verify", json={"what": 1}).json()
    assert nonsense["status"] == "malformed"
    assert client.get("/credentials/999999/bundle").status_code == 404


def test_the_verification_page_checks_a_pasted_or_uploaded_bundle(
        app: FastAPI, db: Session, client: TestClient) -> None:
    cid = _issue(app, db)
    bundle = client.get(f"/credentials/{cid}/bundle").text
    token = csrf(client, "/verify/credential")
    pasted = client.post("/verify/credential", data={"csrf_token": token,
                                                     "bundle_text": bundle})
    assert pasted.status_code == 200
    assert 'class="verdict verdict-success"' in pasted.text and ">Valid</h2>" in pasted.text
    uploaded = client.post("/verify/credential", data={"csrf_token": token},
                           files={"bundle_file": ("b.json", bundle.encode(), "application/json")})
    assert "verdict-success" in uploaded.text
    tampered = json.loads(bundle)
    tampered["logEntry"] = "AAAA"
    bad = client.post("/verify/credential", data={"csrf_token": token,
                                                  "bundle_text": json.dumps(tampered)})
    assert "verdict-danger" in bad.text and "Tampered" in bad.text
    assert "The check that failed: <strong>log entry</strong>" in bad.text
    empty = client.post("/verify/credential", data={"csrf_token": token, "bundle_text": " "})
    assert empty.status_code == 422 and 'href="#field-bundle_text"' in empty.text
    issuance.set_status(db, SYSTEM, "certificate:STW-TEST-1", suspended=True)
    db.flush()
    linked = client.get(f"/verify/credential/{cid}")
    assert "verdict-warning" in linked.text and "Suspended" in linked.text
    assert f'href="/credentials/{cid}/bundle"' in linked.text
    assert client.get("/verify/credential/424242").status_code == 404


def test_verify_credential_on_the_command_line(app: FastAPI, db: Session, client: TestClient,
                                               tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from stewardship.cli import app as cli
    from stewardship.core.config import get_settings

    cid = _issue(app, db)
    good = tmp_path / "good.json"
    good.write_bytes(client.get(f"/credentials/{cid}/bundle").content)
    bad = tmp_path / "bad.json"
    data = json.loads(good.read_text())
    data["inclusionProof"]["treeSize"] += 1
    bad.write_text(json.dumps(data))
    monkeypatch.setenv("STEWARDSHIP_BASE_URL", "http://testserver")
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        ok = runner.invoke(cli, ["verify-credential", str(good)])
        assert ok.exit_code == 0, ok.output
        assert "VALID: every check passed" in ok.output
        refused = runner.invoke(cli, ["verify-credential", str(bad)])
        assert refused.exit_code == 1
        assert "FAIL inclusion proof" in refused.output and "TAMPERED" in refused.output
        other = runner.invoke(cli, ["verify-credential", str(good), "--issuer", "did:web:x"])
        assert other.exit_code == 1 and "UNKNOWN ISSUER" in other.output
        missing = runner.invoke(cli, ["verify-credential", str(tmp_path / "none.json")])
        assert missing.exit_code == 2
    finally:
        get_settings.cache_clear()


def test_the_request_and_the_command_line_issue_as_one_issuer(
        engine: Engine, connection: Connection, settings: Settings) -> None:
    """The app's issuer and the one the command line builds from the same settings agree:
    one DID, the current key and every earlier key still published."""
    from stewardship.core import notes
    from stewardship.web.app import create_app
    from tests.conftest import session_on

    retired = notes.Signer("register.example.org/log", Ed25519PrivateKey.generate())
    configured = settings.model_copy(update={
        "base_url": "https://register.example.org",
        "log_previous_keys": [retired.verifier.vkey]})
    app = create_app(settings=configured, engine=engine)
    app.state.sessionmaker = lambda: session_on(connection)
    served = TestClient(app, raise_server_exceptions=False).get("/.well-known/did.json").json()
    built = issuance.Issuer.from_settings(configured)
    assert built.did == served["id"] == "did:web:register.example.org"
    assert built.document() == served
    assert [v.key_id for v in built.previous] == [retired.verifier.key_id]
    assert len(served["verificationMethod"]) == 2
    assert built.signer.verifier.key_id == app.state.log_signer.verifier.key_id
    local = issuance.Issuer.from_settings(settings, app.state.log_signer)
    assert (local.base_url, local.previous) == (issuance.LOCAL_BASE_URL, ())
