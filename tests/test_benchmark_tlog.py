"""The transparency log benchmark's synthetic tree is the tree appending would store, and
the proofs measured on it verify against its root."""

from __future__ import annotations

import random

import pytest
from benchmarks.tlog import reuse_ok, synthetic_leaf, write_tree
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from stewardship.core import merkle, tlog


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 6962's Merkle tree hash, from its definition."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return merkle.node_hash(_mth(leaves[:k]), _mth(leaves[k:]))


@pytest.mark.parametrize("entries", [1, 2, 7, 64, 333])
def test_the_tree_written_a_level_at_a_time_is_the_appended_tree(
        scratch_engine: Engine, entries: int) -> None:
    write_tree(scratch_engine, entries, lambda _line: None)
    edge = merkle.RightEdge()
    expected = {(lv, idx): h for i in range(entries)
                for lv, idx, h in edge.append(synthetic_leaf(i))}
    table = tlog.LogNode.__table__
    with Session(scratch_engine) as db:
        stored = {(r.level, r.idx): bytes(r.hash) for r in db.execute(select(table))}
        assert stored == expected
        leaves = [synthetic_leaf(i) for i in range(entries)]
        size_root = tlog.root_hash(db, entries)
        assert size_root == _mth(leaves)
        rng = random.Random(entries)
        for _ in range(10):
            index = rng.randrange(entries)
            proof = tlog.inclusion_proof(db, index, entries)
            merkle.verify_inclusion(leaves[index], index, entries, proof, size_root)


def test_a_stored_tree_is_recognised_only_when_complete(scratch_engine: Engine) -> None:
    assert not reuse_ok(scratch_engine, 5)
    write_tree(scratch_engine, 5, lambda _line: None)
    assert reuse_ok(scratch_engine, 5)
    assert not reuse_ok(scratch_engine, 6)
    assert not reuse_ok(scratch_engine, 4)
