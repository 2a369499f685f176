"""The transparency log over HTTP, checked as a mirror or a buyer would check it: with
the published key alone, offline, and the proofs recomputed on this side."""

from __future__ import annotations

import base64
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stewardship.core import eventlog, merkle, notes
from stewardship.core.auth import Actor, Role
from tests import factories
from tests.factories import SYSTEM

B = base64.b64decode


def _grow(db: Session, n: int) -> None:
    for i in range(n):
        eventlog.append(db, SYSTEM, "tests.log", f"item:{i}", {"i": i})
    db.flush()


def _member(db: Session) -> Actor:
    return factories.user(db, Role.MEMBER_ADMIN, organization=factories.organization(db))


def _secretariat(db: Session, client_for: Callable[[Actor], TestClient]) -> TestClient:
    return client_for(factories.user(db, Role.SECRETARIAT))


def test_a_signed_checkpoint_verifies_with_the_published_key(
        db: Session, client: TestClient, client_for: Callable[[Actor], TestClient]) -> None:
    assert client.get("/log/checkpoint").status_code == 404
    staff = _secretariat(db, client_for)
    _grow(db, 20)
    made = staff.post("/api/v1/log/checkpoints")
    assert made.status_code == 201, made.text
    keys = client.get("/api/v1/log/keys").json()
    assert keys[0]["current"] and keys[0]["last_size"] == made.json()["size"]
    verifier = notes.parse_vkey(keys[0]["vkey"])
    served = client.get("/log/checkpoint")
    assert served.headers["content-type"] == "text/plain; charset=utf-8"
    note, _ = notes.open_note(served.text, verifier)
    head = notes.parse_checkpoint(note.text)
    assert head.size == made.json()["size"]
    assert base64.b64encode(head.root_hash).decode() == made.json()["root_hash"]
    # A member may not sign one.
    member = client_for(_member(db))
    assert member.post("/api/v1/log/checkpoints").status_code == 403


def test_inclusion_and_consistency_proofs_verify_on_the_client(
        db: Session, client: TestClient, client_for: Callable[[Actor], TestClient]) -> None:
    staff = _secretariat(db, client_for)
    _grow(db, 10)
    first = staff.post("/api/v1/log/checkpoints").json()
    _grow(db, 25)
    second = staff.post("/api/v1/log/checkpoints").json()
    proof = client.get("/api/v1/log/proof/inclusion", params={"sequence": 7}).json()
    assert proof["tree_size"] == second["size"]
    entry = client.get("/api/v1/log/entries", params={"start": 7, "count": 1}).json()[0]
    assert entry["leaf_hash"] == proof["leaf_hash"]
    merkle.verify_inclusion(B(proof["leaf_hash"]), 6, second["size"],
                            [B(h) for h in proof["hashes"]], B(second["root_hash"]))
    cons = client.get("/api/v1/log/proof/consistency",
                      params={"first": first["size"], "second": second["size"]}).json()
    merkle.verify_consistency(first["size"], second["size"], B(first["root_hash"]),
                              B(second["root_hash"]), [B(h) for h in cons["hashes"]])
    bad = client.get("/api/v1/log/proof/consistency", params={"first": 999, "second": 5})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "first"
    beyond = client.get("/api/v1/log/proof/inclusion",
                        params={"sequence": 1, "size": second["size"] + 50})
    assert beyond.status_code == 422 and "beyond" in beyond.json()["error"]["message"]
    missing = client.get("/api/v1/log/proof/inclusion", params={"sequence": 10_000})
    assert missing.status_code == 404


def test_tiles_rebuild_the_root(db: Session, client: TestClient,
                                client_for: Callable[[Actor], TestClient]) -> None:
    staff = _secretariat(db, client_for)
    _grow(db, 300)
    size = staff.post("/api/v1/log/checkpoints").json()["size"]
    assert size >= 300
    full = client.get("/log/tile/0/000")
    assert full.status_code == 200 and len(full.content) == 256 * 32
    assert full.headers["cache-control"].endswith("immutable")
    width = size - 256
    partial = client.get(f"/log/tile/0/001.p/{width}")
    assert len(partial.content) == width * 32
    level1 = client.get("/log/tile/1/000.p/1").content
    leaves = [full.content[i:i + 32] for i in range(0, 8192, 32)]
    leaves += [partial.content[i:i + 32] for i in range(0, len(partial.content), 32)]
    cp = client.get("/api/v1/log/checkpoint").json()
    store = {(0, i): h for i, h in enumerate(leaves)}
    for i in range(len(leaves)):
        for lv, idx, h in merkle.completed_nodes(i, leaves[i], lambda a, b: store[(a, b)]):
            store[(lv, idx)] = h
    # The level-1 tile's one hash is the subtree of the first 256 leaves.
    assert store[(8, 0)] == level1
    assert base64.b64encode(merkle.root(size, lambda a, b: store[(a, b)])).decode() == (
        cp["root_hash"])
    bundle = merkle.read_entry_bundle(client.get(f"/log/tile/entries/001.p/{width}").content)
    assert [merkle.leaf_hash(e) for e in bundle] == leaves[256:]
    for bad in ("/log/tile/0/001", "/log/tile/0/01", "/log/tile/00/000",
                "/log/tile/0/000.p/0", f"/log/tile/0/001.p/{width - 1}", "/log/tile/64/000"):
        assert client.get(bad).status_code == 404, bad


def test_witnesses_register_and_cosign(db: Session, client: TestClient,
                                       client_for: Callable[[Actor], TestClient]) -> None:
    staff = _secretariat(db, client_for)
    witness = notes.Signer("firm.example/witness", Ed25519PrivateKey.generate())
    vkey = notes.witness_verifier(witness.name, witness.private_key.public_key()).vkey
    auditor = client_for(_member(db))
    assert auditor.post("/api/v1/log/witnesses", json={"vkey": vkey}).status_code == 403
    added = staff.post("/api/v1/log/witnesses", json={"vkey": vkey})
    assert added.status_code == 201, added.text
    assert [w["name"] for w in client.get("/api/v1/log/witnesses").json()] == [witness.name]
    refused = staff.post("/api/v1/log/witnesses", json={"vkey": "nonsense+00+AA=="})
    assert refused.status_code == 422
    assert refused.json()["error"]["details"][0]["field"] == "vkey"
    _grow(db, 3)
    cp = staff.post("/api/v1/log/checkpoints").json()
    text = notes.parse(cp["note"]).text
    line = notes.cosign(text, witness, 1_900_000_000).line
    stored = client.post(f"/api/v1/log/checkpoints/{cp['size']}/cosignatures",
                         json={"cosignature": line})
    assert stored.status_code == 201, stored.text
    assert client.get("/log/checkpoint").text.endswith(line)
    forged = line[:-6] + ("AAAA==" if not line.endswith("AAAA==\n") else "BBBB==") + "\n"
    bad = client.post(f"/api/v1/log/checkpoints/{cp['size']}/cosignatures",
                      json={"cosignature": forged})
    assert bad.status_code == 422
    assert client.post("/api/v1/log/checkpoints/99999/cosignatures",
                       json={"cosignature": line}).status_code == 404
