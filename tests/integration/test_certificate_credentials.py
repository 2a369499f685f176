"""A certificate's credential follows it: issued with it as a Digital Conformity Credential
recorded in the log, then suspended, reinstated and revoked with it, each checked by the
offline verifier a buyer runs."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from stewardship.assurance.schemas import StatusChange
from stewardship.assurance.service import certificates
from stewardship.core import bundles, issuance, notes
from stewardship.core import credentials as vc
from tests import assurance_world as aw

BASE = "https://register.example.org"
ISSUER = issuance.Issuer(BASE, notes.Signer("register.example.org/log",
                                            Ed25519PrivateKey.generate()))


def _verdict(db: Session, ref: str) -> bundles.Verdict:
    row = issuance.latest_for(db, ref)
    assert row is not None, f"no credential for {ref}"
    data = issuance.bundle(db, ISSUER, row.id)
    return bundles.verify_bundle(json.dumps(data), trusted_issuers={ISSUER.did})


def test_a_certificates_credential_follows_its_status(db: Session) -> None:
    with issuance.issuing_as(ISSUER):
        w = aw.build(db)
        s = aw.scope(db, w)
        number = aw.certify(db, w, s).certificate.number  # type: ignore[union-attr]
        ref = f"certificate:{number}"
        row = issuance.latest_for(db, ref)
        assert row is not None and row.kind == "certificate"
        credential = vc.decode_jwt(row.token).payload
        assert credential["type"] == ["VerifiableCredential", "DigitalConformityCredential"]
        subject = credential["credentialSubject"]
        assert subject["attestationType"] == "Certification"
        assert subject["conformityCertificate"]["linkURL"] == f"{BASE}/certificates/{number}"
        assert subject["issuedToParty"]["name"]
        assert _verdict(db, ref).status == "valid"

        certificates.suspend(db, w.secretariat, number, StatusChange(reason="Complaint upheld"))
        assert _verdict(db, ref).status == "suspended"
        certificates.reinstate(db, w.secretariat, number, StatusChange(reason="Restored"))
        assert _verdict(db, ref).status == "valid"
        certificates.withdraw(db, w.secretariat, number, StatusChange(reason="Fraud"))
        verdict = _verdict(db, ref)
        assert verdict.status == "revoked" and "revocation bit is set" in verdict.reason
