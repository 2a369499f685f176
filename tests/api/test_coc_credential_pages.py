"""A CoC document's credential through HTTP, as its parties and a buyer meet it: issued
by the issue form, linked from the document page and the public verification page (with
the QR code of that page), downloaded as a JSON bundle that verifies offline, checked on
/verify/credential and with ``stewardship verify-credential``, and revoked once the
document is cancelled."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from stewardship.cli import app as cli
from stewardship.core import bundles
from stewardship.core import credentials as vc
from stewardship.core.auth import Actor
from stewardship.core.config import get_settings
from stewardship.custody.service import document_credentials
from tests import custody_world as cw
from tests.api.pages import post, text
from tests.api.test_custody_pages import BASE
from tests.today import TODAY

DID = "did:web:testserver"


@pytest.fixture
def w(db: Session) -> cw.Chain:
    chain = cw.build(db)
    cw.produce(db, chain.smelter, "asi_aluminium", 10_000)
    return chain


def _issued(client: TestClient, w: cw.Chain) -> str:
    done = post(client, "/custody/documents", {
        "issuer_entity_id": str(w.smelter.entity_id),
        "recipient_entity_id": str(w.mill.entity_id), "material": "asi_aluminium",
        "quantity_kg": "8000", "coc_quantity_kg": "6000",
        "shipment_date": TODAY.isoformat(), "number": "FJ-2026-0042"})
    assert done.status_code == 303, text(done)[-600:]
    return "FJ-2026-0042"


def _credential_id(db: Session, number: str) -> int:
    row = document_credentials.credential_of(db, number)
    assert row is not None
    return row.id


def _bundle(client: TestClient, cid: int) -> bytes:
    got = client.get(f"/credentials/{cid}/bundle")
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/json"
    assert got.headers["content-disposition"] == \
        f'attachment; filename="credential-{cid}-bundle.json"'
    return got.content


def test_the_document_page_offers_its_bundle_which_verifies_offline(
        db: Session, w: cw.Chain, client: TestClient,
        signed_in: Callable[[Actor], TestClient]) -> None:
    smelter = signed_in(w.smelter.user)
    number = _issued(smelter, w)
    cid = _credential_id(db, number)
    page = smelter.get(f"/custody/documents/{number}")
    assert f'href="/credentials/{cid}/bundle" download' in page.text
    assert f'href="/verify/credential/{cid}"' in page.text
    assert 'data-credential="issued"' in page.text
    assert 'class="qr-code"' in page.text and f"QR code: {BASE}/verify/coc/{number}" in page.text
    raw = _bundle(client, cid)
    data = json.loads(raw)
    assert data["type"] == bundles.BUNDLE_TYPE
    credential = vc.decode_jwt(data["credential"]).payload
    assert credential["issuer"] == DID  # issued by the request's address, as served
    assert credential["credentialSubject"]["chainOfCustody"]["documentURL"] == \
        f"{BASE}/verify/coc/{number}"
    assert credential["credentialSubject"]["chainOfCustody"]["cocQuantityKg"] == 6_000
    verdict = bundles.verify_bundle(raw, trusted_issuers={DID})
    assert verdict.status == "valid", verdict.checks
    checked = client.get(f"/verify/credential/{cid}")
    assert "verdict-success" in checked.text and ">Valid</h2>" in checked.text
    assert 'data-subject="coc_document"' in checked.text
    assert f"{number}</span>: 6,000 kg of ASI Aluminium CoC material" in checked.text


def test_the_public_page_links_the_bundle_and_shows_revocation(
        db: Session, w: cw.Chain, client: TestClient,
        signed_in: Callable[[Actor], TestClient]) -> None:
    smelter = signed_in(w.smelter.user)
    number = _issued(smelter, w)
    cid = _credential_id(db, number)
    public = client.get(f"/verify/coc/{number}")  # nobody signed in
    assert public.status_code == 200
    assert f'href="/credentials/{cid}/bundle" download' in public.text
    assert f'href="/verify/credential/{cid}"' in public.text
    assert f"QR code: {BASE}/verify/coc/{number}" in public.text
    assert 'data-credential="revoked"' not in public.text
    done = post(smelter, f"/custody/documents/{number}/cancel", {"reason": "Order withdrawn"})
    assert done.status_code == 303
    public = client.get(f"/verify/coc/{number}")
    assert 'data-credential="revoked"' in public.text and "Revoked" in text(public)
    page = smelter.get(f"/custody/documents/{number}")
    assert 'data-credential="revoked"' in page.text
    assert bundles.verify_bundle(_bundle(client, cid), trusted_issuers={DID}).status == \
        "revoked"
    checked = client.get(f"/verify/credential/{cid}")
    assert "verdict-danger" in checked.text and "Revoked" in checked.text


def test_verify_credential_on_the_command_line_with_a_coc_bundle(
        db: Session, w: cw.Chain, client: TestClient, tmp_path: Path,
        signed_in: Callable[[Actor], TestClient], monkeypatch: pytest.MonkeyPatch) -> None:
    smelter = signed_in(w.smelter.user)
    number = _issued(smelter, w)
    cid = _credential_id(db, number)
    good = tmp_path / "coc.json"
    good.write_bytes(_bundle(client, cid))
    edited = json.loads(good.read_text())
    header, _payload, signature = edited["credential"].split(".")
    body = vc.decode_jwt(edited["credential"]).payload
    body["credentialSubject"]["chainOfCustody"]["cocQuantityKg"] = 60_000
    edited["credential"] = f"{header}.{vc.b64url(json.dumps(body).encode())}.{signature}"
    bad = tmp_path / "coc-edited.json"
    bad.write_text(json.dumps(edited))
    assert post(smelter, f"/custody/documents/{number}/cancel",
                {"reason": "Order withdrawn"}).status_code == 303
    later = tmp_path / "coc-cancelled.json"
    later.write_bytes(_bundle(client, cid))
    monkeypatch.setenv("STEWARDSHIP_BASE_URL", "http://testserver")
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        ok = runner.invoke(cli, ["verify-credential", str(good)])
        assert ok.exit_code == 0, ok.output
        assert "VALID: every check passed" in ok.output
        tampered = runner.invoke(cli, ["verify-credential", str(bad)])
        assert tampered.exit_code == 1
        assert "FAIL credential signature" in tampered.output
        assert "TAMPERED" in tampered.output
        revoked = runner.invoke(cli, ["verify-credential", str(later)])
        assert revoked.exit_code == 1 and "REVOKED" in revoked.output
    finally:
        get_settings.cache_clear()
