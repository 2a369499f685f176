"""The event log's Merkle tree against RFC 6962's definition and its published test vectors."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stewardship.core import merkle
from stewardship.core.merkle import ProofError

# The eight entries of the RFC 6962 test vectors used by Certificate Transparency's own
# implementations, and the root of each prefix of them.
VECTOR_ENTRIES = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
                  bytes(range(0x50, 0x58)), bytes(range(0x60, 0x70))]
VECTOR_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, word for word: the reference the stored tree must agree with."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return merkle.node_hash(mth(leaves[:k]), mth(leaves[k:]))


class Store:
    """A dictionary of complete subtrees, filled by appending as the platform's store is."""

    def __init__(self, entries: list[bytes]) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.leaves = [merkle.leaf_hash(e) for e in entries]
        for i, leaf in enumerate(self.leaves):
            for level, index, h in merkle.completed_nodes(i, leaf, self.node):
                self.nodes[(level, index)] = h

    def node(self, level: int, index: int) -> bytes:
        return self.nodes[(level, index)]


def entries(n: int) -> list[bytes]:
    return [f"entry {i}".encode() for i in range(n)]


def test_roots_match_the_rfc_6962_vectors() -> None:
    store = Store(VECTOR_ENTRIES)
    assert [merkle.root(n, store.node).hex() for n in range(1, 9)] == VECTOR_ROOTS
    assert merkle.root(0, store.node).hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    assert merkle.leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert merkle.node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()


def test_inclusion_proof_of_the_vectors() -> None:
    store = Store(VECTOR_ENTRIES)
    # Entry 0 of 8: its sibling leaf, then the hash of entries 2-3, then of 4-7.
    proof = merkle.inclusion_proof(0, 8, store.node)
    assert proof == [store.leaves[1], mth(store.leaves[2:4]), mth(store.leaves[4:8])]
    # Entry 6 of 7: the lone right leaf climbs straight to the 4-6 subtree.
    assert merkle.inclusion_proof(6, 7, store.node) == [mth(store.leaves[4:6]),
                                                        mth(store.leaves[0:4])]


def test_consistency_proof_of_the_vectors() -> None:
    store = Store(VECTOR_ENTRIES)
    # RFC 6962 section 2.1.3's example: from 3 entries to 7 is [c, d, g, h] in its drawing.
    proof = merkle.consistency_proof(3, 7, store.node)
    assert proof == [store.leaves[2], store.leaves[3], mth(store.leaves[0:2]),
                     mth(store.leaves[4:7])]
    assert merkle.consistency_proof(4, 7, store.node) == [mth(store.leaves[4:7])]


@given(st.data())
def test_every_inclusion_proof_verifies_and_matches_the_reference(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, 300), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    store = Store(entries(size))
    root = merkle.root(size, store.node)
    assert root == mth(store.leaves)
    proof = merkle.inclusion_proof(index, size, store.node)
    merkle.verify_inclusion(store.leaves[index], index, size, proof, root)
    # Log2 bound: never more hashes than the tree is deep.
    assert len(proof) <= (size - 1).bit_length()


@given(st.data())
def test_every_consistency_proof_verifies(data: st.DataObject) -> None:
    second = data.draw(st.integers(1, 300), label="second")
    first = data.draw(st.integers(0, second), label="first")
    store = Store(entries(second))
    old = mth(store.leaves[:first])
    new = mth(store.leaves)
    proof = merkle.consistency_proof(first, second, store.node)
    merkle.verify_consistency(first, second, old, new, proof)


@given(st.data())
def test_a_changed_hash_or_position_fails_inclusion(data: st.DataObject) -> None:
    size = data.draw(st.integers(2, 200), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    store = Store(entries(size))
    root = merkle.root(size, store.node)
    proof = merkle.inclusion_proof(index, size, store.node)
    bad = list(proof)
    at = data.draw(st.integers(0, len(bad) - 1), label="at")
    bad[at] = bytes(32)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(store.leaves[index], index, size, bad, root)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(merkle.leaf_hash(b"forged"), index, size, proof, root)
    other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index), label="other")
    with pytest.raises(ProofError):
        merkle.verify_inclusion(store.leaves[index], other, size, proof, root)


@given(st.data())
def test_a_rewritten_history_fails_consistency(data: st.DataObject) -> None:
    second = data.draw(st.integers(2, 200), label="second")
    first = data.draw(st.integers(1, second - 1), label="first")
    changed = data.draw(st.integers(0, first - 1), label="changed")
    honest = entries(second)
    rewritten = list(honest)
    rewritten[changed] = b"rewritten"
    old = mth([merkle.leaf_hash(e) for e in honest[:first]])
    store = Store(rewritten)
    proof = merkle.consistency_proof(first, second, store.node)
    with pytest.raises(ProofError):
        merkle.verify_consistency(first, second, old, merkle.root(second, store.node), proof)


def test_refusals_name_the_problem() -> None:
    store = Store(entries(5))
    with pytest.raises(ProofError, match="entry 5 is not in a tree of 5 entries"):
        merkle.inclusion_proof(5, 5, store.node)
    with pytest.raises(ProofError, match="from size 6 to size 5"):
        merkle.consistency_proof(6, 5, store.node)
    root = merkle.root(5, store.node)
    proof = merkle.inclusion_proof(1, 5, store.node)
    with pytest.raises(ProofError, match="longer than the tree is deep"):
        merkle.verify_inclusion(store.leaves[1], 1, 5, [*proof, bytes(32)], root)
    with pytest.raises(ProofError, match="shorter than the tree is deep"):
        merkle.verify_inclusion(store.leaves[1], 1, 5, proof[:-1], root)
    with pytest.raises(ProofError, match="equal sizes must be empty"):
        merkle.verify_consistency(5, 5, root, root, [root])
    with pytest.raises(ProofError, match="same size differ"):
        merkle.verify_consistency(5, 5, root, bytes(32), [])
    with pytest.raises(ProofError, match="is empty"):
        merkle.verify_consistency(3, 5, root, root, [])
    with pytest.raises(KeyError):
        merkle.inclusion_proof(1, 6, store.node)  # the store holds five entries


def test_a_proof_needs_about_two_hashes_per_level() -> None:
    # A tree of 100 million entries: the plan names the nodes to fetch, at most 2 per level.
    size = 100_000_000
    for index in (0, 12_345_678, size - 1):
        needed = merkle.plan(merkle.inclusion_ranges(index, size))
        assert len(needed) <= 2 * size.bit_length()
    needed = merkle.plan(merkle.consistency_ranges(77_777_777, size))
    assert len(needed) <= 2 * size.bit_length()


def test_appender_batches_agree_with_single_appends() -> None:
    first = Store(entries(37))
    batch = merkle.Appender(37, first.node)
    more = [merkle.leaf_hash(e) for e in entries(120)[37:]]
    for leaf in more:
        batch.append(leaf)
    assert batch.root() == mth(first.leaves + more)
    whole = Store(entries(120))
    for (level, index), h in batch.made.items():
        assert whole.nodes[(level, index)] == h


def test_tile_paths_follow_c2sp() -> None:
    assert merkle.tile_index_path(1234067) == "x001/x234/067"
    assert merkle.tile_index_path(0) == "000"
    assert merkle.tile_index_path(1000) == "x001/000"
    assert merkle.tile_path(0, 1234067, 256) == "tile/0/x001/x234/067"
    assert merkle.tile_path(2, 5, 17) == "tile/2/005.p/17"
    assert merkle.parse_tile_index_path(["x001", "x234", "067"]) == 1234067
    for bad in (["x001", "x234"], ["01"], ["x000", "001"], ["1234"]):
        with pytest.raises(ValueError):
            merkle.parse_tile_index_path(bad)


def test_tile_widths_of_a_tree_of_70000_entries() -> None:
    # The worked example of C2SP tlog-tiles.
    size = 70_000
    level0 = [merkle.tile_width(0, n, size) for n in range(275)]
    assert level0.count(256) == 273 and level0[273] == 112 and level0[274] == 0
    assert merkle.tile_width(1, 0, size) == 256
    assert merkle.tile_width(1, 1, size) == 17
    assert merkle.tile_width(2, 0, size) == 1
    assert merkle.tile_width(3, 0, size) == 0
    assert merkle.tile_nodes(1, 1, 2) == [(8, 256), (8, 257)]


def test_entry_bundles_round_trip_and_refuse_truncation() -> None:
    items = [b"", b"a", bytes(300)]
    data = merkle.entry_bundle(items)
    assert data[:2] == b"\x00\x00" and data[2:5] == b"\x00\x01a"
    assert merkle.read_entry_bundle(data) == items
    with pytest.raises(ValueError, match="inside an entry"):
        merkle.read_entry_bundle(data[:-1])
    with pytest.raises(ValueError, match="length prefix"):
        merkle.read_entry_bundle(b"\x00")
    with pytest.raises(ValueError, match="does not fit"):
        merkle.entry_bundle([bytes(70_000)])


def test_frontier_rebuilds_every_root_in_little_memory() -> None:
    frontier = merkle.Frontier()
    leaves = [merkle.leaf_hash(e) for e in entries(300)]
    assert frontier.root() == merkle.EMPTY_ROOT
    for n, leaf in enumerate(leaves, start=1):
        frontier.append(leaf)
        assert frontier.root() == mth(leaves[:n])
        assert len(frontier._stack) == bin(n).count("1")


def test_right_edge_emits_what_the_store_would_hold() -> None:
    whole = Store(entries(200))
    start = Store(entries(77))
    edge = merkle.RightEdge.of_tree(77, start.node)
    emitted: dict[tuple[int, int], bytes] = {}
    for leaf in whole.leaves[77:]:
        for level, index, h in edge.append(leaf):
            emitted[(level, index)] = h
    assert emitted == {k: v for k, v in whole.nodes.items() if k not in start.nodes}
    assert edge.size == 200
    with pytest.raises(ProofError):
        merkle.RightEdge(5, {}).append(bytes(32))


@given(st.integers(min_value=0, max_value=300))
def test_the_right_edge_knows_the_root_of_every_size_it_grows_through(size: int) -> None:
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    edge = merkle.RightEdge()
    if size == 0:
        assert edge.root() == merkle.EMPTY_ROOT
    for n, leaf in enumerate(leaves, start=1):
        edge.append(leaf)
        if n in (1, 2, 3, size) or n % 17 == 0:
            assert edge.root() == mth(leaves[:n])
