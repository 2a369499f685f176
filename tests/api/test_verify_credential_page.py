"""Bad input on the public verification page (/verify/credential) and its API twin: each
gets a verdict or a message on the page that names the problem, never an error page or a
500, whether pasted or uploaded."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from stewardship.cli import app as cli
from stewardship.core import bundles, merkle, notes
from stewardship.core import credentials as vc
from tests.api.pages import csrf
from tests.api.test_credentials_api import DID, _issue

VERDICT = re.compile(r'<h2 id="verdict-heading">(.*?)</h2>', re.S)
FAILED = re.compile(r"The check that failed: <strong>(.*?)</strong>")


@pytest.fixture
def bundle(app: FastAPI, db: Session, client: TestClient) -> dict[str, Any]:
    cid = _issue(app, db)
    answer = client.get(f"/credentials/{cid}/bundle")
    assert answer.status_code == 200
    data: dict[str, Any] = answer.json()
    return data


def _paste(client: TestClient, raw: str) -> Response:
    return client.post("/verify/credential", data={"csrf_token": _token(client),
                                                   "bundle_text": raw})


def _token(client: TestClient) -> str:
    return csrf(client, "/verify/credential")


def _upload(client: TestClient, raw: bytes) -> Response:
    return client.post("/verify/credential", data={"csrf_token": _token(client)},
                       files={"bundle_file": ("bundle.json", raw, "application/json")})


def _verdict(page: Response) -> tuple[str, str | None]:
    assert page.status_code == 200, page.text[:300]
    heading = VERDICT.search(page.text)
    assert heading, "no verdict on the page"
    failed = FAILED.search(page.text)
    return heading.group(1), failed.group(1) if failed else None


def _both(client: TestClient, data: Any) -> list[tuple[str, str | None]]:
    """The verdict for the bundle pasted, and for it uploaded as a file."""
    raw = data if isinstance(data, str) else json.dumps(data)
    return [_verdict(_paste(client, raw)), _verdict(_upload(client, raw.encode()))]


def _claim(data: dict[str, Any]) -> dict[str, Any]:
    return vc.decode_jwt(data["credential"]).payload


def test_malformed_json_is_named(client: TestClient) -> None:
    for heading, failed in _both(client, '{"type": "StewardshipVerificationBundle",'):
        assert heading.startswith("Malformed: the bundle is not JSON")
        assert failed is None
    nested = _verdict(_paste(client, "[" * 50_000))
    assert nested[0] == "Malformed: the bundle nests its JSON too deeply"
    assert _verdict(_upload(client, b"\xff\xfe\x00"))[0].startswith("Malformed")


def test_a_bundle_signed_with_another_key_under_the_platforms_name(
        client: TestClient, bundle: dict[str, Any], app: FastAPI, tmp_path: Path) -> None:
    """A forger with a key of their own builds a whole bundle under the platform's DID: a
    DID document naming their key, a checkpoint and proof of a tree of their own. It is
    self-consistent, so a verifier that trusts the bundle's DID document is fooled; the
    page holds it to the platform's published keys."""
    forger = Ed25519PrivateKey.generate()
    payload = _claim(bundle)
    kid = vc.decode_jwt(bundle["credential"]).header["kid"]
    entry = base64.b64decode(bundle["logEntry"])
    origin = app.state.settings.resolved_log_origin
    payload["evidence"] = [bundles.log_evidence(origin=origin, leaf_index=0,
                                                leaf_hash=merkle.leaf_hash(entry))]
    payload.pop("credentialStatus", None)
    forged = {**bundle, "credential": vc.sign_jwt(payload, forger, kid),
              "didDocument": vc.did_document(DID, [(kid.split("#")[1], forger.public_key())]),
              "statusLists": {},
              "checkpoint": notes.sign(notes.Checkpoint(origin, 1, merkle.leaf_hash(entry)).text,
                                       notes.Signer(origin, forger)),
              "inclusionProof": {"leafIndex": 0, "treeSize": 1, "hashes": []}}
    fooled = bundles.verify_bundle(json.dumps(forged), trusted_issuers={DID})
    assert fooled.status == "valid", "the forgery is self-consistent"
    for heading, failed in _both(client, forged):
        assert heading.startswith("Tampered: the signature does not verify")
        assert failed == "credential signature"
    # Under a key id the platform never had, the issuer's key itself is unknown.
    other = forged | {"credential": vc.sign_jwt(payload, forger, f"{DID}#key-00000000")}
    heading, failed = _both(client, other)[0]
    assert heading.startswith("Unknown issuer") and failed == "issuer key"
    # The API holds it to the published keys as the page does.
    answer = client.post("/api/v1/credentials/verify", json=forged).json()
    assert answer["status"] == "tampered"
    assert [c["name"] for c in answer["checks"] if not c["ok"]] == ["credential signature"]
    # Offline, a buyer who saved the platform's DID document holds the bundle to it.
    published = client.get("/.well-known/did.json").json()
    folder = tmp_path
    (folder / "forged.json").write_text(json.dumps(forged))
    (folder / "did.json").write_text(json.dumps(published))
    runner = CliRunner()
    trusting = runner.invoke(cli, ["verify-credential", str(folder / "forged.json"),
                                   "--issuer", DID])
    assert trusting.exit_code == 0 and "pass --did-document" in trusting.output
    pinned = runner.invoke(cli, ["verify-credential", str(folder / "forged.json"),
                                 "--did-document", str(folder / "did.json")])
    assert pinned.exit_code == 1, pinned.output
    assert "FAIL credential signature" in pinned.output and "TAMPERED" in pinned.output
    (folder / "not-did.json").write_text("[1, 2]")
    refused = runner.invoke(cli, ["verify-credential", str(folder / "forged.json"),
                                  "--did-document", str(folder / "not-did.json")])
    assert refused.exit_code == 2 and "is not a DID document" in refused.output


def test_a_forged_inclusion_proof(client: TestClient, bundle: dict[str, Any]) -> None:
    proof = bundle["inclusionProof"]
    if proof["hashes"]:
        proof["hashes"][0] = base64.b64encode(bytes(32)).decode()
    else:
        proof["hashes"] = [base64.b64encode(bytes(32)).decode()]
    for heading, failed in _both(client, bundle):
        assert heading.startswith("Tampered") and failed == "inclusion proof"
    proof["hashes"] = ["not base64!"]
    for heading, failed in _both(client, bundle):
        assert heading.startswith("Malformed: a hash of the inclusion proof is not base64")
        assert failed == "inclusion proof"


def test_a_checkpoint_from_another_origin(client: TestClient, bundle: dict[str, Any],
                                          app: FastAPI) -> None:
    head = notes.parse_checkpoint(notes.parse(bundle["checkpoint"]).text)
    elsewhere = notes.Checkpoint("elsewhere.example/log", head.size, head.root_hash)
    bundle["checkpoint"] = notes.sign(elsewhere.text, notes.Signer(
        "elsewhere.example/log", app.state.log_signer.private_key))
    origin = app.state.settings.resolved_log_origin
    for heading, failed in _both(client, bundle):
        assert heading == (f"Tampered: the checkpoint is of log elsewhere.example/log, not of "
                           f"log {origin} that recorded the credential")
        assert failed == "checkpoint"
    bundle["checkpoint"] = "a checkpoint\n"
    heading, failed = _both(client, bundle)[0]
    assert heading.startswith("Malformed: the checkpoint is not a signed checkpoint note")
    assert failed == "checkpoint"


def test_a_status_list_of_another_issuer(client: TestClient, bundle: dict[str, Any]) -> None:
    url = next(u for u in bundle["statusLists"] if "/suspension/" in u)
    listed = vc.decode_jwt(bundle["statusLists"][url]).payload
    listed["issuer"] = "did:web:other.example"
    bundle["statusLists"][url] = vc.sign_jwt(listed, Ed25519PrivateKey.generate(),
                                             "did:web:other.example#key-1")
    for heading, failed in _both(client, bundle):
        assert heading.startswith("Tampered: the status list is issued by "
                                  "did:web:other.example, not by did:web:testserver")
        assert failed == "status (suspension)"


@pytest.mark.parametrize(("change", "check"), [
    ({"inclusionProof": {"leafIndex": float("inf"), "treeSize": 1, "hashes": []}},
     "inclusion proof"),
    ({"statusLists": "all clear"}, "status"),
    ({"inclusionProof": {"leafIndex": "seven", "treeSize": 1, "hashes": []}},
     "inclusion proof"),
    ({"logEntry": ["AAAA"]}, "log entry"),
])
def test_parts_of_the_wrong_shape_are_malformed_naming_the_check(
        client: TestClient, bundle: dict[str, Any], change: dict[str, Any], check: str) -> None:
    bundle.update(change)
    for heading, failed in _both(client, bundle):
        assert heading.startswith("Malformed"), heading
        assert failed == check
    # The API answers the same verdict, not an error.
    answer = client.post("/api/v1/credentials/verify", content=json.dumps(bundle),
                         headers={"content-type": "application/json"})
    assert answer.status_code == 200
    assert answer.json()["status"] == "malformed"


def test_a_wrong_key_shape_is_a_verdict_offline_and_ignored_by_the_api(
        client: TestClient, bundle: dict[str, Any]) -> None:
    bundle["didDocument"] = {"id": DID, "verificationMethod": 5, "assertionMethod": 3}
    # Offline, with nothing but the bundle, its DID document is what is read.
    offline = bundles.verify_bundle(json.dumps(bundle), trusted_issuers={DID})
    assert (offline.status, offline.failed_check) == ("malformed", "issuer key")
    # The platform holds a bundle to the keys it publishes: the bundle's copy is not read.
    answer = client.post("/api/v1/credentials/verify", json=bundle)
    assert answer.status_code == 200
    assert (answer.json()["status"], answer.json()["failed_check"]) == ("valid", None)


def test_oversized_bundles_are_refused_on_the_page(client: TestClient) -> None:
    limit = bundles.MAX_BUNDLE_BYTES
    uploaded = _upload(client, b" " * (limit + 1))
    assert uploaded.status_code == 413
    assert 'href="#field-bundle_file"' in uploaded.text and 'id="error-bundle_file"' in (
        uploaded.text)
    assert f"larger than this page takes ({limit:,} bytes)" in uploaded.text
    pasted = _paste(client, "x" * (limit + 10))
    assert pasted.status_code == 413 and 'id="error-bundle_text"' in pasted.text
    # A paste over Starlette's 1 MiB default, under the page's limit, is still read.
    big = _paste(client, "x" * 1_500_000)
    assert _verdict(big)[0].startswith("Malformed: the bundle is not JSON")
    # Over the platform's body limit: refused before it is read, with a page saying so.
    huge = client.post("/verify/credential", data={"csrf_token": _token(client)},
                       files={"bundle_file": ("b.json", b" " * (26_214_400 + 1),
                                              "application/json")})
    assert huge.status_code == 413 and "text/html" in huge.headers["content-type"]
    assert "the request body is larger than 26214400 bytes" in huge.text


def test_the_form_still_needs_its_csrf_token(client: TestClient) -> None:
    client.get("/verify/credential")
    refused = client.post("/verify/credential", data={"bundle_text": "{}"})
    assert refused.status_code == 403 and "security token" in refused.text


def test_a_form_with_two_files_says_what_to_send(client: TestClient) -> None:
    sent = client.post("/verify/credential", data={"csrf_token": _token(client)},
                       files=[("bundle_file", ("a.json", b"{}", "application/json")),
                              ("bundle_file", ("b.json", b"{}", "application/json"))])
    assert sent.status_code == 400
    assert 'id="error-bundle_text"' in sent.text and "choose one file" in sent.text
