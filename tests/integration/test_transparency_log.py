"""The event log's Merkle tree as stored: roots, proofs, tiles, checkpoints and witnesses on
a real database, checked against RFC 6962's definition recomputed from the entries."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from stewardship.core import eventlog, merkle, notes, tlog
from stewardship.core.errors import InvalidInput, NotFound
from tests.factories import SYSTEM

ORIGIN = "stewardship.test/log"


def reference_root(leaves: list[bytes]) -> bytes:
    if not leaves:
        return merkle.EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return merkle.node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def leaves_of(db: Session) -> list[bytes]:
    rows = db.scalars(select(eventlog.EventLogEntry).order_by(eventlog.EventLogEntry.sequence))
    return [merkle.leaf_hash(eventlog.entry_body(e.sequence, e.recorded_at, e.actor, e.kind,
                                                 e.subject, e.payload_digest, e.prev_hash))
            for e in rows]


def append(db: Session, n: int, *, hash_tree: bool = True) -> None:
    for i in range(n):
        eventlog.append(db, SYSTEM, "tests.tree", f"item:{i}", {"i": i})
    if hash_tree:
        tlog.catch_up(db)


def log_signer() -> notes.Signer:
    return notes.Signer(ORIGIN, Ed25519PrivateKey.generate())


def test_appends_store_the_tree_that_rfc_6962_defines(db: Session) -> None:
    append(db, 100, hash_tree=False)
    assert tlog.tree_size(db) == 0  # appending does no tree work
    assert tlog.catch_up(db) == 100
    append(db, 200)
    leaves = leaves_of(db)
    assert tlog.tree_size(db) == len(leaves) == 300
    for size in (1, 2, 3, 255, 256, 257, 300):
        assert tlog.root_hash(db, size) == reference_root(leaves[:size])
    # About two stored nodes per entry, never a recomputation of the tree.
    stored = db.scalar(text("SELECT count(*) FROM event_log_nodes"))
    assert stored == 2 * 300 - bin(300).count("1")


def test_proofs_from_the_store_verify(db: Session) -> None:
    append(db, 70)
    leaves = leaves_of(db)
    root = tlog.root_hash(db, 70)
    for index in (0, 33, 69):
        proof = tlog.inclusion_proof(db, index, 70)
        merkle.verify_inclusion(leaves[index], index, 70, proof, root)
    for first in (1, 32, 50, 70):
        proof = tlog.consistency_proof(db, first, 70)
        merkle.verify_consistency(first, 70, reference_root(leaves[:first]), root, proof)
    with pytest.raises(InvalidInput, match="size 71 is beyond it"):
        tlog.inclusion_proof(db, 0, 71)
    with pytest.raises(InvalidInput, match="entry 70 is not in a tree of 70"):
        tlog.inclusion_proof(db, 70, 70)


def test_tiles_and_entry_bundles(db: Session) -> None:
    append(db, 260)
    leaves = leaves_of(db)
    full = tlog.tile(db, 0, 0, None, 260)
    assert full == b"".join(leaves[:256])
    partial = tlog.tile(db, 0, 1, 4, 260)
    assert partial == b"".join(leaves[256:260])
    level1 = tlog.tile(db, 1, 0, 1, 260)
    assert level1 == reference_root(leaves[:256])
    with pytest.raises(NotFound, match="no such tile"):
        tlog.tile(db, 0, 1, None, 260)  # not full yet
    with pytest.raises(NotFound, match="no such tile"):
        tlog.tile(db, 0, 1, 3, 260)  # a width this size never had
    with pytest.raises(NotFound, match="no such tile"):
        tlog.tile(db, 0, 2, 1, 260)  # not begun
    bundle = merkle.read_entry_bundle(tlog.entry_bundle(db, 1, 4, 260))
    assert [merkle.leaf_hash(e) for e in bundle] == leaves[256:260]
    assert len(merkle.read_entry_bundle(tlog.entry_bundle(db, 0, 256, 260))) == 256
    for width in (None, 3, 5):  # not full yet; a width this size never had; beyond it
        with pytest.raises(NotFound, match="no such entry bundle"):
            tlog.entry_bundle(db, 1, width, 260)


def test_an_entry_and_its_stored_row_give_the_same_body_and_leaf(db: Session) -> None:
    append(db, 3)
    entry = db.get(eventlog.EventLogEntry, 2)
    assert entry is not None
    row = tlog.entry_rows(db, 2, 1)[0]
    body = eventlog.entry_body(entry.sequence, entry.recorded_at, entry.actor, entry.kind,
                               entry.subject, entry.payload_digest, entry.prev_hash)
    assert eventlog.body_of(entry) == eventlog.body_of(row) == body
    assert hashlib.sha256(body).hexdigest() == entry.hash  # the chain's hash covers it
    assert eventlog.leaf_of(entry) == eventlog.leaf_of(row) == leaves_of(db)[1]
    assert tlog.fetch(db, [(0, 1)])[(0, 1)] == eventlog.leaf_of(row)


def test_checkpoints_are_signed_notes_of_the_tree_head(db: Session) -> None:
    signer = log_signer()
    append(db, 5)
    first = tlog.make_checkpoint(db, signer, ORIGIN)
    parsed, _ = notes.open_note(first.note, signer.verifier)
    head = notes.parse_checkpoint(parsed.text)
    assert (head.origin, head.size, head.root_hash) == (ORIGIN, 5, reference_root(leaves_of(db)))
    # The same size signs once.
    assert tlog.make_checkpoint(db, signer, ORIGIN).note == first.note
    append(db, 3)
    second = tlog.make_checkpoint(db, signer, ORIGIN)
    assert second.size == 8
    assert tlog.latest_checkpoint(db) == second
    assert tlog.checkpoint_at(db, 5) == first
    with pytest.raises(NotFound):
        tlog.checkpoint_at(db, 6)


def test_witness_cosignatures_are_checked_and_served(db: Session) -> None:
    signer = log_signer()
    witness = notes.Signer("witness.test/firm", Ed25519PrivateKey.generate())
    wv = notes.witness_verifier(witness.name, witness.private_key.public_key())
    tlog.register_witness(db, wv.vkey, "user:secretariat")
    append(db, 4)
    cp = tlog.make_checkpoint(db, signer, ORIGIN)
    text_ = notes.parse(cp.note).text
    line = notes.cosign(text_, witness, 1_800_000_000).line
    tlog.add_cosignature(db, cp.size, line)
    served = tlog.checkpoint_at(db, cp.size).note
    assert served.endswith(line)
    note, _ = notes.open_note(served, signer.verifier)
    cosig = next(s for s in note.signatures if s.name == witness.name)
    assert notes.verify_cosignature(note.text, cosig, wv) == 1_800_000_000
    # Twice is once; a cosignature of another head, or by an unknown witness, is refused.
    tlog.add_cosignature(db, cp.size, line)
    assert served == tlog.checkpoint_at(db, cp.size).note
    append(db, 1)
    later = tlog.make_checkpoint(db, signer, ORIGIN)
    with pytest.raises(InvalidInput, match="does not verify"):
        tlog.add_cosignature(db, later.size, line)
    stranger = notes.Signer("stranger.test/w", Ed25519PrivateKey.generate())
    with pytest.raises(InvalidInput, match="not a registered witness"):
        tlog.add_cosignature(db, cp.size, notes.cosign(text_, stranger, 1).line)
    with pytest.raises(InvalidInput, match="registered already"):
        tlog.register_witness(db, wv.vkey, "user:secretariat")
    with pytest.raises(InvalidInput, match="type 0x04"):
        tlog.register_witness(db, signer.verifier.vkey, "user:secretariat")


def test_needs_checkpoint_by_growth_and_by_age(db: Session) -> None:
    from datetime import timedelta

    signer = log_signer()
    now = eventlog.utcnow()
    assert not tlog.needs_checkpoint(db, every_entries=10, every_seconds=60, now=now)
    append(db, 1)
    assert tlog.needs_checkpoint(db, every_entries=10, every_seconds=60, now=now)
    cp = tlog.make_checkpoint(db, signer, ORIGIN)
    assert not tlog.needs_checkpoint(db, every_entries=10, every_seconds=60, now=now)
    append(db, 9)
    assert not tlog.needs_checkpoint(db, every_entries=10, every_seconds=60,
                                     now=cp.created_at)
    assert tlog.needs_checkpoint(db, every_entries=10, every_seconds=60,
                                 now=cp.created_at + timedelta(seconds=61))
    append(db, 1)
    assert tlog.needs_checkpoint(db, every_entries=10, every_seconds=60, now=cp.created_at)


@pytest.mark.parametrize("table", ["event_log_nodes", "event_log_checkpoints"])
def test_tree_tables_are_append_only(db: Session, table: str) -> None:
    append(db, 2)
    tlog.make_checkpoint(db, log_signer(), ORIGIN)
    with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
        db.execute(text(f"DELETE FROM {table}"))


def _drop_triggers(db: Session, table: str) -> None:
    """What someone with the database's password would do first (rolled back after)."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text(f"DROP TRIGGER {table}_no_change ON {table}"))
    else:
        db.execute(text(f"DROP TRIGGER {table}_no_update"))
        db.execute(text(f"DROP TRIGGER {table}_no_delete"))


def _rewrite_whole_chain(db: Session, sequence: int, payload: dict[str, object]) -> None:
    """Edit one entry and recompute its digest and every hash after it: the hash chain
    alone then verifies again."""
    _drop_triggers(db, "event_log")
    rows = db.scalars(select(eventlog.EventLogEntry)
                      .order_by(eventlog.EventLogEntry.sequence)).all()
    prev = eventlog.GENESIS_HASH
    for e in rows:
        if e.sequence == sequence:
            e.payload = payload
            e.payload_digest = eventlog.digest_payload(payload)
        e.prev_hash = prev
        e.hash = eventlog.entry_hash(e.sequence, e.recorded_at, e.actor, e.kind, e.subject,
                                     e.payload_digest, prev)
        prev = e.hash
    db.flush()


def test_verify_tree_passes_an_untouched_log(db: Session) -> None:
    signer = log_signer()
    append(db, 40)
    tlog.make_checkpoint(db, signer, ORIGIN)
    append(db, 7)
    tlog.make_checkpoint(db, signer, ORIGIN)
    report = tlog.verify_tree(db, [signer.verifier], batch=16)
    assert report.ok, report.problems
    assert (report.size, report.checkpoints) == (47, 2)


def test_a_rewritten_chain_that_rehashes_still_contradicts_its_checkpoint(db: Session) -> None:
    signer = log_signer()
    append(db, 30)
    tlog.make_checkpoint(db, signer, ORIGIN)
    _rewrite_whole_chain(db, 12, {"i": 999})
    assert eventlog.verify_chain(db).ok  # the chain alone is fooled
    report = tlog.verify_tree(db, [signer.verifier])
    found = {(p.table, p.key, p.entry) for p in report.problems}
    assert ("event_log_nodes", "leaves 11 to 29", 12) in found
    assert ("event_log_checkpoints", "size 30", 30) in found


def test_an_edited_node_or_a_forged_checkpoint_is_named(db: Session) -> None:
    signer = log_signer()
    append(db, 9)
    tlog.make_checkpoint(db, signer, ORIGIN)
    _drop_triggers(db, "event_log_nodes")
    db.execute(text("UPDATE event_log_nodes SET hash = :h WHERE level = 3 AND idx = 0"),
               {"h": bytes(32)})
    report = tlog.verify_tree(db, [signer.verifier])
    # The node itself (it covers entries 1 to 8), and the root the stored nodes give.
    assert [(p.table, p.key, p.entry) for p in report.problems] == [
        ("event_log_nodes", "level 3 index 0", 8), ("event_log_nodes", "tree", 9)]


def test_a_checkpoint_signed_by_an_unpublished_key_is_named(db: Session) -> None:
    signer = log_signer()
    append(db, 10)
    tlog.make_checkpoint(db, log_signer(), ORIGIN)
    report = tlog.verify_tree(db, [signer.verifier])
    assert [(p.table, p.key, p.problem) for p in report.problems] == [
        ("event_log_checkpoints", "size 10",
         "its note does not verify: no signature of a known key is on the note")]
