"""Offline verification of a credential bundle: every verdict, each naming its check."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from stewardship.core import bundles, merkle, notes
from stewardship.core import credentials as vc
from stewardship.core.eventlog import canonical_json

DID = vc.did_web("https://register.example.org")
ORIGIN = "register.example.org/log"
KID = f"{DID}#key-1"
REVOKE = "https://register.example.org/credentials/status/revocation"
SUSPEND = "https://register.example.org/credentials/status/suspension"
NOW = datetime(2026, 12, 2, tzinfo=UTC)


class World:
    def __init__(self, *, suspended: bool = False, revoked: bool = False) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.document = vc.did_document(DID, [("key-1", self.key.public_key())])
        self.subject = {"type": ["ConformityAttestation"], "id": "urn:stewardship:cert:STW-1",
                        "issuedToParty": {"name": "Fjordal Aluminium AS"}}
        entries = [canonical_json([i + 1, "t", "system:x", "k", "s", "0" * 64, "0" * 64])
                   .encode() for i in range(6)]
        entry = canonical_json([7, "2026-01-01T00:00:00.000000Z", "user:a",
                                "assurance.certificate.credential_issued", "certificate:STW-1",
                                bundles.subject_digest(self.subject), "0" * 64]).encode()
        entries.append(entry)
        entries += [f"later {i}".encode() for i in range(5)]
        self.leaves = [merkle.leaf_hash(e) for e in entries]
        self.store: dict[tuple[int, int], bytes] = {}
        for i, leaf in enumerate(self.leaves):
            for lv, idx, h in merkle.completed_nodes(i, leaf, lambda a, b: self.store[(a, b)]):
                self.store[(lv, idx)] = h
        size = len(self.leaves)
        root = merkle.root(size, lambda a, b: self.store[(a, b)])
        signer = notes.Signer(ORIGIN, self.key)
        self.checkpoint = notes.sign(notes.Checkpoint(ORIGIN, size, root).text, signer)
        self.entry = entry
        self.credential = {
            "@context": [vc.VC_CONTEXT], "type": ["VerifiableCredential",
                                                  "DigitalConformityCredential"],
            "issuer": DID, "validFrom": "2026-01-01T00:00:00Z",
            "validUntil": "2029-01-01T00:00:00Z", "credentialSubject": self.subject,
            "credentialStatus": [vc.status_entry(url=REVOKE, purpose="revocation", index=41),
                                 vc.status_entry(url=SUSPEND, purpose="suspension", index=41)],
            "evidence": [bundles.log_evidence(origin=ORIGIN, leaf_index=6,
                                              leaf_hash=self.leaves[6])]}
        self.lists = {REVOKE: self.status_list(REVOKE, "revocation", {41} if revoked else set()),
                      SUSPEND: self.status_list(SUSPEND, "suspension",
                                                {41} if suspended else {3})}
        self.proof = merkle.inclusion_proof(6, size, lambda a, b: self.store[(a, b)])
        self.size = size

    def status_list(self, url: str, purpose: str, bits: set[int],
                    issuer: str = DID) -> str:
        body = vc.status_list_credential(issuer=issuer, url=url, purpose=purpose,
                                         encoded=vc.encode_status_list(bits),
                                         valid_from="2026-12-01T00:00:00Z")
        return vc.sign_jwt(body, self.key, KID)

    def bundle(self, **change: Any) -> dict[str, Any]:
        data = bundles.make_bundle(
            credential=vc.sign_jwt(self.credential, self.key, KID), did_document=self.document,
            status_lists=self.lists, checkpoint=self.checkpoint, log_entry=self.entry,
            leaf_index=6, tree_size=self.size, hashes=self.proof)
        data.update(change)
        return data


def verify(data: Any, **kw: Any) -> bundles.Verdict:
    raw = data if isinstance(data, str | bytes) else json.dumps(data)
    return bundles.verify_bundle(raw, now=NOW, **kw)


def test_a_sound_bundle_is_valid_and_lists_its_checks() -> None:
    verdict = verify(World().bundle(), trusted_issuers={DID})
    assert verdict.status == "valid", verdict.checks
    assert [c.name for c in verdict.checks] == [
        "issuer", "credential signature", "validity period", "log entry", "checkpoint",
        "inclusion proof", "status (revocation)", "status (suspension)"]
    assert verdict.failed_check is None
    untrusted = verify(World().bundle())
    assert untrusted.status == "valid" and "not pinned" in untrusted.checks[0].detail


@pytest.mark.parametrize(("flags", "status"), [({"suspended": True}, "suspended"),
                                               ({"revoked": True}, "revoked")])
def test_status_bits_suspend_and_revoke(flags: dict[str, bool], status: str) -> None:
    verdict = verify(World(**flags).bundle())
    assert verdict.status == status
    assert "bit is set" in verdict.reason


def test_an_edited_credential_is_tampered() -> None:
    world = World()
    data = world.bundle()
    header, payload, signature = data["credential"].split(".")
    edited = json.loads(base64.urlsafe_b64decode(payload + "=="))
    edited["credentialSubject"]["issuedToParty"]["name"] = "Someone Else"
    forged = vc.b64url(json.dumps(edited).encode())
    verdict = verify(world.bundle(credential=f"{header}.{forged}.{signature}"))
    assert (verdict.status, verdict.failed_check) == ("tampered", "credential signature")


def test_a_credential_whose_subject_the_log_did_not_record_is_tampered() -> None:
    world = World()
    world.credential["credentialSubject"] = {**world.subject, "scope": "more than certified"}
    verdict = verify(world.bundle())
    assert (verdict.status, verdict.failed_check) == ("tampered", "log entry")
    assert "another subject" in verdict.reason


def test_forged_proofs_and_foreign_checkpoints_are_named() -> None:
    world = World()
    bad = world.bundle()
    bad["inclusionProof"]["hashes"][0] = base64.b64encode(bytes(32)).decode()
    assert verify(bad).failed_check == "inclusion proof"
    other_log = notes.sign(notes.Checkpoint("elsewhere.example/log", 1, bytes(32)).text,
                           notes.Signer("elsewhere.example/log", world.key))
    verdict = verify(world.bundle(checkpoint=other_log))
    assert (verdict.status, verdict.failed_check) == ("tampered", "checkpoint")
    stranger = notes.sign(notes.parse(world.checkpoint).text,
                          notes.Signer(ORIGIN, Ed25519PrivateKey.generate()))
    assert verify(world.bundle(checkpoint=stranger)).failed_check == "checkpoint"
    swapped = world.bundle(logEntry=base64.b64encode(b"another entry").decode())
    assert verify(swapped).failed_check == "log entry"


def test_issuers_and_keys_that_are_not_the_platforms() -> None:
    world = World()
    assert verify(world.bundle(), trusted_issuers={"did:web:other.example"}).status == (
        "unknown issuer")
    stranger_doc = vc.did_document("did:web:other.example",
                                   [("key-1", world.key.public_key())])
    assert verify(world.bundle(didDocument=stranger_doc)).status == "unknown issuer"
    rotated = vc.did_document(DID, [("key-2", Ed25519PrivateKey.generate().public_key())])
    verdict = verify(world.bundle(didDocument=rotated))
    assert (verdict.status, verdict.failed_check) == ("unknown issuer", "issuer key")


def test_a_status_list_of_another_issuer_is_refused() -> None:
    world = World()
    world.lists[SUSPEND] = world.status_list(SUSPEND, "suspension", set(),
                                             issuer="did:web:other.example")
    verdict = verify(world.bundle())
    assert (verdict.status, verdict.failed_check) == ("tampered", "status (suspension)")
    assert "not by did:web:register.example.org" in verdict.reason


def test_malformed_and_oversized_bundles_get_a_verdict_not_a_crash() -> None:
    assert verify("not json").status == "malformed"
    assert verify("[]").status == "malformed"
    assert verify(json.dumps({"type": bundles.BUNDLE_TYPE})).reason == (
        "the bundle has no credential")
    assert verify("x" * (bundles.MAX_BUNDLE_BYTES + 1)).status == "malformed"
    world = World()
    assert verify(world.bundle(credential="a.b")).failed_check == "credential format"
    assert verify(world.bundle(logEntry="***")).status == "malformed"
    expired = World()
    expired.credential["validUntil"] = "2026-06-01T00:00:00Z"
    assert verify(expired.bundle()).status == "expired"


def test_status_lists_round_trip_at_the_minimum_length() -> None:
    encoded = vc.encode_status_list({0, 7, 8, 131_071})
    bits = vc.decode_status_list(encoded)
    assert len(bits) == 16_384
    assert [vc.status_bit(bits, i) for i in (0, 1, 7, 8, 9, 131_071)] == [
        True, False, True, True, False, True]
    assert bits[0] == 0b1000_0001
    with pytest.raises(vc.CredentialError, match="at least 131072"):
        vc.decode_status_list(vc.encode_status_list(set(), length=8))
    with pytest.raises(vc.CredentialError, match="outside"):
        vc.encode_status_list({131_072})


def test_did_web_of_addresses() -> None:
    assert vc.did_web("https://register.example.org") == "did:web:register.example.org"
    assert vc.did_web("http://127.0.0.1:8000/") == "did:web:127.0.0.1%3A8000"
    assert vc.did_web("https://example.org/asi/scheme") == "did:web:example.org:asi:scheme"
    assert vc.did_document_url("did:web:127.0.0.1%3A8000") == (
        "https://127.0.0.1:8000/.well-known/did.json")
    assert vc.did_document_url("did:web:example.org:asi") == "https://example.org/asi/did.json"
