"""The Merkle tree of the event log, as RFC 6962 / RFC 9162 define it (SHA-256).

Pure functions, no storage: a tree is read through ``NodeSource``, a function that gives the
hash of a *complete, aligned* subtree, ``node(level, index)``, covering the entries
``[index * 2**level, (index + 1) * 2**level)``. The store keeps those hashes as the log
grows (``completed_nodes`` says which each append completes), so a proof reads about two
hashes per level of the tree and never recomputes it.

Every proof is planned first (``*_plan`` give the node coordinates it needs, so a store can
fetch them in one query) and then assembled from what was fetched.

Tiles (C2SP tlog-tiles) are the same hashes served as static files: the tile at tile level
``L`` and index ``N`` holds ``node(8 * L, N * 256 + i)`` for ``i`` in ``0..255``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

HASH_SIZE = 32
TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT

Node = tuple[int, int]
"""(level, index) of a complete, aligned subtree."""
NodeSource = Callable[[int, int], bytes]


class ProofError(ValueError):
    """A proof was asked for something the tree cannot prove (an index past its end, a
    size larger than the tree), or a proof does not verify."""


def leaf_hash(entry: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || entry)."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root of the empty tree: SHA-256 of nothing."""


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def range_nodes(start: int, end: int) -> list[Node]:
    """The complete aligned subtrees that make up ``[start, end)``, left to right, for a
    range that appears in the tree's own structure (a subtree of RFC 6962's split). The
    range's hash is their right fold: H(c1, H(c2, ... H(c[k-1], c[k])))."""
    if not 0 <= start < end:
        raise ProofError(f"an empty or negative range [{start}, {end})")
    nodes: list[Node] = []
    at = start
    while at < end:
        size = 1 << ((end - at).bit_length() - 1)
        while at % size:
            size >>= 1
        level = size.bit_length() - 1
        nodes.append((level, at >> level))
        at += size
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """The right fold of ``range_nodes``' hashes: the range's Merkle tree hash."""
    if not hashes:
        raise ProofError("nothing to fold")
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def root_plan(size: int) -> list[Node]:
    """The nodes whose fold is the root of a tree of ``size`` entries."""
    return [] if size == 0 else range_nodes(0, size)


def root(size: int, node: NodeSource) -> bytes:
    """The root hash of the first ``size`` entries."""
    if size == 0:
        return EMPTY_ROOT
    return fold([node(level, index) for level, index in range_nodes(0, size)])


def _inclusion_ranges(index: int, start: int, end: int, out: list[tuple[int, int]]) -> None:
    # RFC 6962 section 2.1.1, PATH(m, D[start:end]); the sibling ranges, leaf upwards.
    if end - start == 1:
        return
    k = _split(end - start)
    if index < start + k:
        _inclusion_ranges(index, start, start + k, out)
        out.append((start + k, end))
    else:
        _inclusion_ranges(index, start + k, end, out)
        out.append((start, start + k))


def _consistency_ranges(m: int, start: int, end: int, whole: bool,
                        out: list[tuple[int, int]]) -> None:
    # RFC 6962 section 2.1.2, SUBPROOF(m, D[start:end], b).
    n = end - start
    if m == n:
        if not whole:
            out.append((start, end))
        return
    k = _split(n)
    if m <= k:
        _consistency_ranges(m, start, start + k, whole, out)
        out.append((start + k, end))
    else:
        _consistency_ranges(m - k, start + k, end, False, out)
        out.append((start, start + k))


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The ranges whose hashes make the audit path of entry ``index`` in a tree of
    ``size`` entries, from the leaf up."""
    if not 0 <= index < size:
        raise ProofError(f"entry {index} is not in a tree of {size} entries")
    out: list[tuple[int, int]] = []
    _inclusion_ranges(index, 0, size, out)
    return out


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The ranges whose hashes prove the tree of ``first`` entries is a prefix of the tree
    of ``second`` entries."""
    if not 0 <= first <= second:
        raise ProofError(f"no consistency proof from size {first} to size {second}")
    out: list[tuple[int, int]] = []
    if 0 < first < second:
        _consistency_ranges(first, 0, second, True, out)
    return out


def plan(ranges: Iterable[tuple[int, int]]) -> list[Node]:
    """Every node the ranges need, each once, in first-use order."""
    seen: dict[Node, None] = {}
    for start, end in ranges:
        for n in range_nodes(start, end):
            seen.setdefault(n, None)
    return list(seen)


def assemble(ranges: Iterable[tuple[int, int]], fetched: Mapping[Node, bytes]) -> list[bytes]:
    """The proof's hashes from the fetched nodes (``plan`` said which)."""
    proof = []
    for start, end in ranges:
        try:
            proof.append(fold([fetched[n] for n in range_nodes(start, end)]))
        except KeyError as exc:
            raise ProofError(f"the store has no hash for subtree {exc.args[0]}") from exc
    return proof


def inclusion_proof(index: int, size: int, node: NodeSource) -> list[bytes]:
    ranges = inclusion_ranges(index, size)
    return assemble(ranges, {n: node(*n) for n in plan(ranges)})


def consistency_proof(first: int, second: int, node: NodeSource) -> list[bytes]:
    ranges = consistency_ranges(first, second)
    return assemble(ranges, {n: node(*n) for n in plan(ranges)})


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes],
                     root_hash: bytes) -> None:
    """RFC 9162 section 2.1.3.2; raises ``ProofError`` saying why a proof fails."""
    if not 0 <= index < size:
        raise ProofError(f"entry {index} is not in a tree of {size} entries")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    if r != root_hash:
        raise ProofError("the inclusion proof does not lead to the root hash")


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       proof: Sequence[bytes]) -> None:
    """RFC 9162 section 2.1.4.2; raises ``ProofError`` saying why a proof fails."""
    if not 0 <= first <= second:
        raise ProofError(f"no consistency proof from size {first} to size {second}")
    if first == second:
        if proof:
            raise ProofError("a proof between equal sizes must be empty")
        if first_root != second_root:
            raise ProofError("two roots of the same size differ")
        return
    if first == 0:
        if proof:
            raise ProofError("a proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is shorter than the tree is deep")
    if fr != first_root:
        raise ProofError("the consistency proof does not lead to the earlier root")
    if sr != second_root:
        raise ProofError("the consistency proof does not lead to the later root")


def completed_nodes(index: int, leaf: bytes, node: NodeSource) -> list[tuple[int, int, bytes]]:
    """The subtrees that appending ``leaf`` at ``index`` completes, as (level, index,
    hash), the leaf first. Left siblings come from ``node``; the right one is the hash
    just made."""
    out = [(0, index, leaf)]
    current, at, level = leaf, index, 0
    while at & 1:
        current = node_hash(node(level, at - 1), current)
        at >>= 1
        level += 1
        out.append((level, at, current))
    return out


class Appender:
    """Appends many leaves in memory, reading left siblings from a store only when the
    batch did not make them itself: a batch costs about one hash per completed node."""

    def __init__(self, size: int, node: NodeSource) -> None:
        self.size = size
        self._node = node
        self.made: dict[Node, bytes] = {}

    def _get(self, level: int, index: int) -> bytes:
        found = self.made.get((level, index))
        return found if found is not None else self._node(level, index)

    def append(self, leaf: bytes) -> int:
        index = self.size
        for level, at, h in completed_nodes(index, leaf, self._get):
            self.made[(level, at)] = h
        self.size += 1
        return index

    def root(self) -> bytes:
        return root(self.size, self._get)


def tile_index_path(n: int) -> str:
    """C2SP tlog-tiles index encoding: 1234067 -> ``x001/x234/067``."""
    if n < 0:
        raise ValueError("a tile index is never negative")
    groups = []
    while True:
        groups.append(f"{n % 1000:03d}")
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])


def parse_tile_index_path(parts: Sequence[str]) -> int:
    """The inverse of ``tile_index_path`` on its ``/``-separated parts; ValueError when the
    parts are not in the canonical form."""
    if not parts:
        raise ValueError("a tile index has at least one part")
    value = 0
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        digits = part if last else part.removeprefix("x")
        if (not last and not part.startswith("x")) or len(digits) != 3 or not digits.isdigit():
            raise ValueError(f"tile index part {part!r} is not in the form x000 / 000")
        value = value * 1000 + int(digits)
    if tile_index_path(value) != "/".join(parts):
        raise ValueError("the tile index has leading zero parts")
    return value


def tile_width(tile_level: int, n: int, size: int) -> int:
    """How many hashes the tile holds in a tree of ``size`` entries: 256 when full, the
    partial width otherwise, 0 when the tile does not exist yet."""
    hashes_at_level = size >> (TILE_HEIGHT * tile_level)
    return max(0, min(TILE_WIDTH, hashes_at_level - n * TILE_WIDTH))


def tile_nodes(tile_level: int, n: int, width: int) -> list[Node]:
    """The nodes a tile's bytes are the concatenation of."""
    level = TILE_HEIGHT * tile_level
    return [(level, n * TILE_WIDTH + i) for i in range(width)]


def tile_path(tile_level: int, n: int, width: int) -> str:
    """``tile/<L>/<N>`` for a full tile, ``tile/<L>/<N>.p/<W>`` for a partial one."""
    path = f"tile/{tile_level}/{tile_index_path(n)}"
    return path if width == TILE_WIDTH else f"{path}.p/{width}"


def entry_bundle(entries: Iterable[bytes]) -> bytes:
    """C2SP tlog-tiles entry bundle: each entry as a big-endian uint16 length and its
    bytes."""
    out = bytearray()
    for e in entries:
        if len(e) > 0xFFFF:
            raise ValueError(f"an entry of {len(e)} bytes does not fit an entry bundle")
        out += len(e).to_bytes(2, "big") + e
    return bytes(out)


def read_entry_bundle(data: bytes) -> list[bytes]:
    entries, at = [], 0
    while at < len(data):
        if at + 2 > len(data):
            raise ValueError("an entry bundle ends inside a length prefix")
        length = int.from_bytes(data[at:at + 2], "big")
        at += 2
        if at + length > len(data):
            raise ValueError("an entry bundle ends inside an entry")
        entries.append(data[at:at + length])
        at += length
    return entries


class Frontier:
    """The right edge of a tree being rebuilt leaf by leaf, in O(log n) memory: the roots
    of its complete subtrees, largest first. What a verifier keeps to recompute the root
    of a log it reads from the start."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []

    def append(self, leaf: bytes) -> None:
        level, current = 0, leaf
        while self._stack and self._stack[-1][0] == level:
            _, left = self._stack.pop()
            current = node_hash(left, current)
            level += 1
        self._stack.append((level, current))
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        return fold([h for _, h in self._stack])


class RightEdge:
    """The last complete subtree at each level, with its position: all that appending
    needs (every left sibling a new leaf needs is on the edge). Lets a bulk writer append
    leaves and emit the nodes to store without reading the store back."""

    def __init__(self, size: int = 0, edge: Mapping[int, tuple[int, bytes]] | None = None
                 ) -> None:
        self.size = size
        self._edge: dict[int, tuple[int, bytes]] = dict(edge or {})

    @classmethod
    def of_tree(cls, size: int, node: NodeSource) -> RightEdge:
        """The edge of a stored tree of ``size`` leaves (one read per set bit of size)."""
        return cls(size, {lv: (i, node(lv, i)) for lv, i in range_nodes(0, size)}
                   if size else {})

    def _left(self, level: int, index: int) -> bytes:
        found = self._edge.get(level)
        if found is None or found[0] != index:
            raise ProofError(f"the edge holds no subtree ({level}, {index})")
        return found[1]

    def root(self) -> bytes:
        """The root of the tree of ``size`` leaves: the subtrees of its decomposition are
        each the last complete one of their level, so all are on the edge."""
        return root(self.size, self._left)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        made = completed_nodes(self.size, leaf, self._left)
        for level, index, h in made:
            self._edge[level] = (index, h)
        self.size += 1
        return made
