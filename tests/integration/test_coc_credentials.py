"""A CoC document's credential follows it, on SQLite and PostgreSQL: issued with it as a
UNTP Digital Traceability Event recorded in the log, which a buyer's offline check finds
valid; revoked when the document is cancelled or rejected; untouched by a receipt and by
a refused reversal; and a bundle edited after it left the platform is tampered."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stewardship.core import bundles, issuance, notes, tlog
from stewardship.core import credentials as vc
from stewardship.core.errors import Conflict, InvalidInput
from stewardship.custody.models import CocDocument, CustodyOperation
from stewardship.custody.schemas import DocumentCreate, Refusal, ReversalCreate
from stewardship.custody.service import document_credentials, documents, reversals
from tests import custody_world as cw
from tests.today import TODAY

BASE = "https://register.example.org"
ISSUER = issuance.Issuer(BASE, notes.Signer("register.example.org/log",
                                            Ed25519PrivateKey.generate()))
WHY = Refusal(reason="Wrong lot on the papers")


@pytest.fixture
def w(db: Session) -> cw.Chain:
    with issuance.issuing_as(ISSUER):
        chain = cw.build(db)
        cw.produce(db, chain.smelter, "asi_aluminium", 600_000)
        return chain


def _ship(db: Session, w: cw.Chain, coc_kg: int = 250_000, **extra: Any) -> str:
    with issuance.issuing_as(ISSUER):
        return documents.issue_document(db, w.smelter.user, DocumentCreate(
            recipient_entity_id=w.mill.entity_id, material="asi_aluminium",
            quantity_kg=extra.pop("quantity_kg", coc_kg), coc_quantity_kg=coc_kg,
            shipment_date=TODAY, **extra), today=TODAY).number


def _row(db: Session, number: str) -> issuance.IssuedCredential:
    row = document_credentials.credential_of(db, number)
    assert row is not None, f"no credential for {number}"
    return row


def _bundle(db: Session, number: str) -> dict[str, Any]:
    return issuance.bundle(db, ISSUER, _row(db, number).id)


def _verdict(data: dict[str, Any]) -> bundles.Verdict:
    return bundles.verify_bundle(json.dumps(data), trusted_issuers={ISSUER.did})


def test_issuing_a_document_issues_its_traceability_credential(db: Session,
                                                              w: cw.Chain) -> None:
    number = _ship(db, w, 250_000, quantity_kg=310_000, recycled_percent=Decimal("12.5"),
                   recycled_method="Mass balance over the period")
    doc = db.scalars(select(CocDocument).where(CocDocument.number == number)).one()
    row = _row(db, number)
    assert (row.kind, row.subject_ref) == ("coc_document", f"coc_document:{number}")
    assert row.organization_id == str(doc.issuer_organization_id)
    token = vc.decode_jwt(row.token)
    assert token.header["kid"] == ISSUER.kid
    credential = token.payload
    assert credential["@context"] == [vc.VC_CONTEXT, document_credentials.DTE_CONTEXT]
    assert credential["type"] == ["VerifiableCredential", "DigitalTraceabilityEvent"]
    assert credential["issuer"] == ISSUER.did
    event = credential["credentialSubject"]
    assert event["type"] == ["TransactionEvent", "Event"]
    assert event["sourcePartyId"] == f"urn:stewardship:org:{doc.issuer_organization_id}"
    assert event["destinationPartyId"] == f"urn:stewardship:org:{doc.recipient_organization_id}"
    assert event["quantityList"] == [{"productId": "urn:stewardship:material:asi_aluminium",
                                      "productName": "ASI Aluminium", "quantity": 310_000,
                                      "uom": "KGM"}]
    coc = event["chainOfCustody"]
    assert (coc["quantityKg"], coc["cocQuantityKg"]) == (310_000, 250_000)
    assert isinstance(coc["cocQuantityKg"], int)
    assert coc["documentNumber"] == number
    assert coc["documentURL"] == f"{BASE}/verify/coc/{number}"
    assert coc["documentDigest"] == documents.digest(doc)
    assert coc["shipmentDate"] == TODAY.isoformat()
    assert coc["period"] == {"start": doc.period_start.isoformat(),
                             "end": doc.period_end.isoformat()}
    assert coc["issuer"]["performanceCertificate"] == w.smelter.certificates["performance"]
    assert coc["issuer"]["cocCertificate"] == w.smelter.certificates["chain_of_custody"]
    assert coc["issuer"]["entity"] == {"id": f"urn:stewardship:entity:{w.smelter.entity_id}",
                                       "name": doc_party(db, number, "issuer")}
    assert coc["recipient"]["entity"]["id"] == f"urn:stewardship:entity:{w.mill.entity_id}"
    assert coc["recipient"]["organization"]["name"]
    assert coc["originComposition"] == json.loads(json.dumps(doc.composition))
    assert coc["origins"][0]["facilityId"] == w.smelter.facility
    assert sum(o["kilograms"] for o in coc["origins"]) == 250_000
    assert coc["recycledShare"] == {"declaredPercent": "12.50",
                                    "method": "Mass balance over the period",
                                    "byOriginPercent": "0.00"}
    assert "footprint" not in coc, "no footprint is stated until the carbon work gives one"
    given = {"pcfExcludingBiogenic": "8.123", "declaredUnit": "kilogram"}
    with_footprint = document_credentials.traceability_event(
        doc, documents.to_read(db, doc), BASE, carbon=given)
    assert with_footprint["chainOfCustody"]["footprint"] == given  # type: ignore[index]
    evidence = credential["evidence"][0]
    assert evidence["leafIndex"] == row.leaf_index
    leaf = tlog.fetch(db, [(0, row.leaf_index)])[(0, row.leaf_index)]
    assert evidence["leafHash"] == base64.b64encode(leaf).decode()
    verdict = _verdict(_bundle(db, number))
    assert verdict.status == "valid", verdict.checks


def doc_party(db: Session, number: str, side: str) -> str:
    read = documents.verify_document(db, number)
    return read.issuer.entity if side == "issuer" else read.recipient.entity


def test_a_refused_issue_issues_no_credential(db: Session, w: cw.Chain) -> None:
    before = db.scalar(select(func.count()).select_from(issuance.IssuedCredential))
    with pytest.raises(Conflict, match="exceeds the available balance"):
        _ship(db, w, 900_000)
    assert db.scalar(select(func.count()).select_from(issuance.IssuedCredential)) == before


def test_cancelling_revokes_the_credential(db: Session, w: cw.Chain) -> None:
    number = _ship(db, w)
    other = _ship(db, w, 1_000)
    documents.cancel_document(db, w.smelter.user, number, WHY, today=TODAY)
    verdict = _verdict(_bundle(db, number))
    assert verdict.status == "revoked" and "revocation bit is set" in verdict.reason
    assert _row(db, number).revoked and not _row(db, number).suspended
    assert _verdict(_bundle(db, other)).status == "valid"


def test_rejecting_revokes_the_credential_and_receiving_keeps_it_valid(
        db: Session, w: cw.Chain) -> None:
    rejected = _ship(db, w)
    received = _ship(db, w, 100_000)
    documents.reject_document(db, w.mill.user, rejected, WHY, today=TODAY)
    cw.receive(db, w.mill, received)
    assert _verdict(_bundle(db, rejected)).status == "revoked"
    assert _verdict(_bundle(db, received)).status == "valid"


def test_a_documents_entry_is_not_reversed_so_its_credential_stands_until_cancelled(
        db: Session, w: cw.Chain) -> None:
    number = _ship(db, w)
    doc = db.scalars(select(CocDocument).where(CocDocument.number == number)).one()
    entry = db.scalars(select(CustodyOperation).where(
        CustodyOperation.document_id == doc.id, CustodyOperation.kind == "issue")).one()
    with pytest.raises(InvalidInput, match="corrected by cancelling the document"):
        reversals.reverse_operation(db, w.smelter.user, entry.id,
                                    ReversalCreate(reason="Entered by mistake"))
    assert _verdict(_bundle(db, number)).status == "valid"
    documents.cancel_document(db, w.smelter.user, number, WHY, today=TODAY)
    assert _verdict(_bundle(db, number)).status == "revoked"


def _resigned_payload(token: str, change: dict[str, Any]) -> str:
    """The token with its payload edited and the issuer's old signature kept."""
    header, _payload, signature = token.split(".")
    body = vc.decode_jwt(token).payload
    body["credentialSubject"]["chainOfCustody"].update(change)
    return f"{header}.{vc.b64url(json.dumps(body).encode())}.{signature}"


def test_an_edited_coc_bundle_is_tampered(db: Session, w: cw.Chain) -> None:
    number = _ship(db, w)
    data = _bundle(db, number)
    assert _verdict(data).status == "valid"
    more = dict(data, credential=_resigned_payload(data["credential"],
                                                   {"cocQuantityKg": 2_500_000}))
    verdict = _verdict(more)
    assert (verdict.status, verdict.failed_check) == ("tampered", "credential signature")
    # A genuine credential of another document, with this document's log entry: the
    # entry does not record that credential's subject.
    second = _ship(db, w, 2_000)
    swapped = dict(_bundle(db, second), logEntry=data["logEntry"])
    verdict = _verdict(swapped)
    assert (verdict.status, verdict.failed_check) == ("tampered", "log entry")
