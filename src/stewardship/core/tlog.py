"""The event log as a transparency log: its Merkle tree, checkpoints and cosignatures.

Every event-log entry is a leaf (its ``entry_body`` bytes; leaf ``sequence - 1``). Appending
stores the hash of each complete subtree the leaf finishes (``event_log_nodes``: two rows
per entry on average), so a root, a proof or a C2SP tile is a handful of rows read in one
query, however long the log grows.

A checkpoint (C2SP tlog-checkpoint) is the tree head at a size, signed with the platform's
Ed25519 key as a C2SP signed note; witnesses add cosignatures (C2SP tlog-cosignature),
which are stored beside it and served with it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from stewardship.core import bulkinsert, merkle, notes
from stewardship.core.db import Base, UTCDateTime, utcnow
from stewardship.core.errors import InvalidInput, NotFound

_TREE_LOCK_KEY = 0x5354574D  # "STWM": one catch-up of the tree at a time


class LogNode(Base):
    """The hash of one complete, aligned subtree of the log's Merkle tree."""

    __tablename__ = "event_log_nodes"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    """Height of the subtree: 0 for a leaf."""
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    """Position among the subtrees of its level: it covers leaves
    ``[idx * 2**level, (idx + 1) * 2**level)``."""
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LogCheckpoint(Base):
    """A signed tree head."""

    __tablename__ = "event_log_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    origin: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[str] = mapped_column(String(8))
    """Hex id of the log key that signed it (keys rotate; each keeps its id)."""
    note: Mapped[str] = mapped_column(Text)
    """The signed note as the log signed it, without cosignatures."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LogCosignature(Base):
    """A witness's cosignature of a checkpoint."""

    __tablename__ = "event_log_cosignatures"
    __table_args__ = (UniqueConstraint("checkpoint_size", "witness", "key_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True)
    checkpoint_size: Mapped[int] = mapped_column(
        ForeignKey("event_log_checkpoints.size"), index=True)
    witness: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[str] = mapped_column(String(8))
    cosigned_at: Mapped[int] = mapped_column(BigInteger)
    """The witness's own time stamp (POSIX seconds) inside the cosignature."""
    line: Mapped[str] = mapped_column(Text)
    """The signature line as it is appended to the checkpoint note."""
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LogWitness(Base):
    """A witness the secretariat registered: its name and Ed25519 cosigning key."""

    __tablename__ = "event_log_witnesses"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    vkey: Mapped[str] = mapped_column(Text)
    """The C2SP verifier key (type 0x04)."""
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    registered_by: Mapped[str] = mapped_column(String(120))
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


# --- the tree ----------------------------------------------------------------------------


def fetch(session: Session, wanted: Iterable[merkle.Node]) -> dict[merkle.Node, bytes]:
    """The stored hashes of the named subtrees, in one query."""
    keys = list(dict.fromkeys(wanted))
    if not keys:
        return {}
    found: dict[merkle.Node, bytes] = {}
    # One query per 500 nodes: the wanted (level, idx) pairs as a VALUES list joined to the
    # primary key, which both databases answer with one index lookup per pair (a row-value
    # IN makes SQLite scan the table; OR-ed conditions cost four times as much to build).
    for at in range(0, len(keys), 500):
        chunk = keys[at:at + 500]
        pairs = ", ".join(f"(:l{i}, :i{i})" for i in range(len(chunk)))
        params: dict[str, int] = {}
        for i, (level, index) in enumerate(chunk):
            params[f"l{i}"], params[f"i{i}"] = level, index
        rows = session.execute(text(
            f"WITH wanted(l, i) AS (VALUES {pairs}) "  # the text holds bind names only
            "SELECT n.level, n.idx, n.hash FROM wanted "
            "JOIN event_log_nodes n ON n.level = wanted.l AND n.idx = wanted.i"), params)
        found.update({(r[0], r[1]): bytes(r[2]) for r in rows})
    return found


def _source(found: dict[merkle.Node, bytes]) -> merkle.NodeSource:
    def node(level: int, index: int) -> bytes:
        try:
            return found[(level, index)]
        except KeyError as exc:
            raise merkle.ProofError(
                f"the log has no stored hash for subtree ({level}, {index})") from exc
    return node


def add_leaf(session: Session, index: int, entry: bytes) -> bytes:
    """Store the leaf for the entry at ``index`` and every subtree it completes, reading
    the left siblings it needs; the caller holds the tree's lock (``catch_up`` does)."""
    leaf = merkle.leaf_hash(entry)
    ones = (~index & (index + 1)).bit_length() - 1  # trailing one bits: left siblings
    siblings = [(k, (index >> k) - 1) for k in range(ones)]
    made = merkle.completed_nodes(index, leaf, _source(fetch(session, siblings)))
    session.execute(insert(LogNode), [{"level": lv, "idx": i, "hash": h} for lv, i, h in made])
    return leaf


_TOP_LEAF = select(func.max(LogNode.idx)).where(LogNode.level == 0)
"""Built once: a checkpoint per credential asks it for every document issued."""


def tree_size(session: Session) -> int:
    """How many leaves the stored tree has (it may trail the log: ``catch_up``)."""
    top = session.scalar(_TOP_LEAF)
    return 0 if top is None else int(top) + 1


def log_size(session: Session) -> int:
    """How many entries the event log has."""
    from stewardship.core.eventlog import EventLogEntry

    return session.scalar(select(func.max(EventLogEntry.sequence))) or 0


def catch_up(session: Session, *, batch: int = 5000) -> int:
    """Bring the stored tree up to the event log: hash the entries appended since it was
    last brought up, and store the subtrees they complete, in bulk. Appending an entry
    does no tree work; this runs before every checkpoint (and so before every proof a
    checkpoint vouches for). Serialised by a lock of its own (PostgreSQL) or by SQLite's
    single writer. Returns the tree's size."""
    return _catch_up(session, batch)[0]


@functools.lru_cache(maxsize=8)
def _sequences_after(batch: int) -> Any:
    """The next ``batch`` sequences of the log after ``:after`` (built once per size)."""
    from stewardship.core.eventlog import EventLogEntry

    sequence = EventLogEntry.__table__.c.sequence
    return (select(sequence).where(sequence > bindparam("after")).order_by(sequence)
            .limit(batch))


def _catch_up(session: Session, batch: int = 5000, leaves: Mapping[int, bytes] | None = None
              ) -> tuple[int, merkle.RightEdge | None]:
    """``catch_up``, with the tree's right edge in memory when it grew (None when the tree
    was already up to the log). ``leaves``: leaf hashes by sequence of entries the caller
    has just written and hashed in this transaction (the others are hashed here)."""
    leaves = leaves or {}
    from stewardship.core.eventlog import EventLogEntry, leaf_of

    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _TREE_LOCK_KEY})
    size = tree_size(session)
    entries = EventLogEntry.__table__

    def _rows(after: int) -> list[Any]:
        if not leaves:
            return [(r.sequence, r) for r in session.execute(
                select(entries).where(entries.c.sequence > after)
                .order_by(entries.c.sequence).limit(batch))]
        # The sequences first: entries whose leaf the caller hashed are not read whole
        # (nor their payloads parsed); the others are, to be hashed here.
        found = list(session.scalars(_sequences_after(batch), {"after": after}))
        missing = [s for s in found if s not in leaves]
        whole = {r.sequence: r for r in session.execute(
            select(entries).where(entries.c.sequence >= missing[0],
                                  entries.c.sequence <= missing[-1]))} if missing else {}
        return [(s, whole.get(s) if s not in leaves else None) for s in found]

    rows = _rows(size)
    if not rows:
        return size, None
    found = fetch(session, merkle.root_plan(size))
    edge = merkle.RightEdge.of_tree(size, _source(found))
    while rows:
        made: list[dict[str, Any]] = []
        for sequence, row in rows:
            if sequence != edge.size + 1:
                raise merkle.ProofError(f"the event log has a gap before entry {sequence}")
            leaf = leaves[sequence] if row is None else leaf_of(row)
            made.extend({"level": lv, "idx": i, "hash": h} for lv, i, h in edge.append(leaf))
        bulkinsert.insert_rows(session.connection(), cast(Table, LogNode.__table__), made)
        if len(rows) < batch:
            break
        rows = _rows(edge.size)
    return edge.size, edge


def _check_size(session: Session, size: int) -> None:
    if size < 0:
        raise InvalidInput("a tree size is zero or more", field="size")
    current = tree_size(session)
    if size > current:
        raise InvalidInput(f"the log has {current} entries; size {size} is beyond it",
                           field="size")


def root_hash(session: Session, size: int) -> bytes:
    _check_size(session, size)
    return merkle.root(size, _source(fetch(session, merkle.root_plan(size))))


def inclusion_proof(session: Session, index: int, size: int) -> list[bytes]:
    """The audit path of leaf ``index`` (sequence ``index + 1``) in the tree of ``size``."""
    _check_size(session, size)
    if not 0 <= index < size:
        raise InvalidInput(f"entry {index} is not in a tree of {size} entries", field="index")
    ranges = merkle.inclusion_ranges(index, size)
    return merkle.assemble(ranges, fetch(session, merkle.plan(ranges)))


def consistency_proof(session: Session, first: int, second: int) -> list[bytes]:
    _check_size(session, second)
    if not 0 <= first <= second:
        raise InvalidInput(f"no consistency proof from size {first} to size {second}",
                           field="first")
    ranges = merkle.consistency_ranges(first, second)
    return merkle.assemble(ranges, fetch(session, merkle.plan(ranges)))


def _served_width(tile_level: int, n: int, width: int | None, size: int, what: str) -> int:
    """How many hashes (or entries) tile ``n`` at ``tile_level`` serves when asked for at
    ``width`` (None for a full tile) in a tree of ``size`` leaves: a full tile (None or 256)
    only once it is full, a partial one only at the width ``size`` gives it; otherwise
    ``NotFound`` naming ``what``."""
    have = merkle.tile_width(tile_level, n, size)
    wanted = merkle.TILE_WIDTH if width is None else width
    if have == 0 or wanted > have or (width is not None and width != have
                                       and width != merkle.TILE_WIDTH):
        raise NotFound(f"no such {what} at the latest checkpoint")
    return wanted


def tile(session: Session, tile_level: int, n: int, width: int | None, size: int) -> bytes:
    """The bytes of a C2SP tile in a tree of ``size`` leaves (see ``_served_width``)."""
    wanted = _served_width(tile_level, n, width, size, "tile")
    nodes = merkle.tile_nodes(tile_level, n, wanted)
    found = fetch(session, nodes)
    return b"".join(_source(found)(lv, i) for lv, i in nodes)


def entry_rows(session: Session, start: int, count: int) -> list[Any]:
    """The stored rows of entries ``start`` to ``start + count - 1``, in order."""
    from stewardship.core.eventlog import EventLogEntry

    table = EventLogEntry.__table__
    end = min(start + count, 2**63 - 1)
    return list(session.execute(select(table).where(table.c.sequence >= start,
                                                    table.c.sequence < end)
                                .order_by(table.c.sequence)).all())


def entry_bundle(session: Session, n: int, width: int | None, size: int) -> bytes:
    from stewardship.core.eventlog import EventLogEntry, body_of

    wanted = _served_width(0, n, width, size, "entry bundle")
    first = n * merkle.TILE_WIDTH + 1
    table = EventLogEntry.__table__
    rows = session.execute(select(table).where(table.c.sequence >= first,
                                               table.c.sequence < first + wanted)
                           .order_by(table.c.sequence)).all()
    return merkle.entry_bundle(body_of(r) for r in rows)


# --- checkpoints and witnesses ----------------------------------------------------------


@dataclass(frozen=True)
class SignedCheckpoint:
    size: int
    root_hash: bytes
    note: str
    """The log's signed note with every stored cosignature line appended."""
    created_at: datetime


def _with_cosignatures(session: Session, row: LogCheckpoint) -> SignedCheckpoint:
    lines = session.scalars(select(LogCosignature.line)
                            .where(LogCosignature.checkpoint_size == row.size)
                            .order_by(LogCosignature.id)).all()
    note = row.note + "".join(lines)
    return SignedCheckpoint(row.size, bytes(row.root_hash), note, row.created_at)


def make_checkpoint(session: Session, signer: notes.Signer, origin: str, *,
                    leaves: Mapping[int, bytes] | None = None) -> SignedCheckpoint:
    """Bring the tree up to the log and sign its head (or return the checkpoint at that
    size when one exists already). The log never signs two heads of one size.
    ``leaves``: as ``_catch_up`` takes them."""
    size, edge = _catch_up(session, leaves=leaves)
    if edge is None:
        # The tree did not grow: the head may have been signed already.
        existing = session.get(LogCheckpoint, size)
        if existing is not None:
            return _with_cosignatures(session, existing)
        head = root_hash(session, size)
    else:
        # It grew under the lock: no head of this size was signed, and its root is on the
        # edge just built.
        head = edge.root()
    body = notes.Checkpoint(origin, size, head).text
    note, created_at = notes.sign(body, signer), utcnow()
    # The row Core writes (no ORM unit of work for one insert per credential issued)
    bulkinsert.insert_rows(session.connection(), cast(Table, LogCheckpoint.__table__), [
        {"size": size, "root_hash": head, "origin": origin,
         "key_id": signer.verifier.key_id.hex(), "note": note, "created_at": created_at}])
    return SignedCheckpoint(size, head, note, created_at)


def latest_checkpoint(session: Session) -> SignedCheckpoint | None:
    row = session.scalars(select(LogCheckpoint).order_by(LogCheckpoint.size.desc())
                          .limit(1)).first()
    return None if row is None else _with_cosignatures(session, row)


def checkpoint_at(session: Session, size: int) -> SignedCheckpoint:
    row = session.get(LogCheckpoint, size)
    if row is None:
        raise NotFound(f"no checkpoint was signed at size {size}")
    return _with_cosignatures(session, row)


def needs_checkpoint(session: Session, *, every_entries: int, every_seconds: int,
                     now: datetime) -> bool:
    """Whether the log has grown by ``every_entries`` since its last checkpoint, or has
    grown at all and the last is older than ``every_seconds``."""
    last = session.scalars(select(LogCheckpoint).order_by(LogCheckpoint.size.desc())
                           .limit(1)).first()
    size = log_size(session)
    if last is None:
        return size > 0
    grown = size - last.size
    if grown <= 0:
        return False
    return grown >= every_entries or (now - last.created_at).total_seconds() >= every_seconds


def register_witness(session: Session, vkey: str, registered_by: str) -> LogWitness:
    try:
        verifier = notes.parse_vkey(vkey)
    except notes.NoteError as exc:
        raise InvalidInput(str(exc), field="vkey") from exc
    if verifier.signature_type != notes.COSIGNATURE_ED25519:
        raise InvalidInput("a witness key is a cosignature key (type 0x04)", field="vkey")
    if len(verifier.name) > 200 or not verifier.name.isprintable():
        raise InvalidInput("a witness's name is at most 200 printable characters",
                           field="vkey")
    existing = session.get(LogWitness, verifier.name)
    if existing is not None and existing.retired_at is None:
        raise InvalidInput(f"a witness named {verifier.name} is registered already",
                           field="vkey")
    if existing is not None:
        existing.vkey, existing.retired_at = verifier.vkey, None
        existing.registered_by, existing.registered_at = registered_by, utcnow()
        session.flush()
        return existing
    row = LogWitness(name=verifier.name, vkey=verifier.vkey, registered_by=registered_by,
                     registered_at=utcnow())
    session.add(row)
    session.flush()
    return row


def witnesses(session: Session) -> list[LogWitness]:
    return list(session.scalars(select(LogWitness).where(LogWitness.retired_at.is_(None))
                                .order_by(LogWitness.name)))


def add_cosignature(session: Session, size: int, line: str) -> LogCosignature:
    """Store a registered witness's cosignature of the checkpoint at ``size``, once it
    verifies against that checkpoint's text."""
    checkpoint = session.get(LogCheckpoint, size)
    if checkpoint is None:
        raise NotFound(f"no checkpoint was signed at size {size}")
    try:
        parsed = notes.parse(checkpoint.note.split("\n\n")[0] + "\n\n" + line.strip() + "\n")
    except notes.NoteError as exc:
        raise InvalidInput(str(exc), field="cosignature") from exc
    if len(parsed.signatures) != 1:
        raise InvalidInput("send one cosignature line", field="cosignature")
    signature = parsed.signatures[0]
    witness = session.get(LogWitness, signature.name)
    if witness is None or witness.retired_at is not None:
        raise InvalidInput(f"{signature.name} is not a registered witness", field="cosignature")
    verifier = notes.parse_vkey(witness.vkey)
    try:
        stamp = notes.verify_cosignature(parsed.text, signature, verifier)
    except notes.NoteError as exc:
        raise InvalidInput(str(exc), field="cosignature") from exc
    duplicate = session.scalars(select(LogCosignature).where(
        LogCosignature.checkpoint_size == size, LogCosignature.witness == signature.name,
        LogCosignature.key_id == signature.key_id.hex())).first()
    if duplicate is not None:
        return duplicate
    row = LogCosignature(checkpoint_size=size, witness=signature.name,
                         key_id=signature.key_id.hex(), cosigned_at=stamp,
                         line=signature.line, received_at=utcnow())
    session.add(row)
    session.flush()
    return row


def key_spans(session: Session) -> dict[str, tuple[int, int]]:
    """For each key id, the smallest and largest checkpoint size it signed."""
    rows = session.execute(select(LogCheckpoint.key_id, func.min(LogCheckpoint.size),
                                  func.max(LogCheckpoint.size))
                           .group_by(LogCheckpoint.key_id))
    return {key: (int(low), int(high)) for key, low, high in rows}


# --- verification ------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeProblem:
    table: str
    key: str
    problem: str
    entry: int | None = None
    """The sequence of the log entry the row contradicts (a leaf's own entry, the last
    entry a checkpoint or subtree covers); None when no entry accounts for the row."""


@dataclass(frozen=True)
class TreeReport:
    size: int
    checkpoints: int
    """Checkpoints whose signature and root were checked."""
    problems: tuple[TreeProblem, ...]
    nodes: int = 0
    """Stored subtree hashes checked against the tree rebuilt from the entries."""
    cosignatures: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _node_key(level: int, index: int) -> str:
    return f"leaf {index}" if level == 0 else f"level {level} index {index}"


def verify_tree(session: Session, verifiers: list[notes.Verifier], *, batch: int = 2000,
                progress: Callable[[int], None] | None = None) -> TreeReport:
    """Rebuild the tree from the entries as they are stored now and hold it against what
    was stored and signed: every stored subtree hash (leaves and the nodes above them)
    must be the rebuilt one, no subtree may be stored beyond the entries, every
    checkpoint's root the rebuilt root at its size and its signature a published key's,
    every cosignature a registered witness's over its checkpoint, and the stored subtrees
    must give the same root as the rebuilt tree. Reads the log once, in batches."""
    from stewardship.core.eventlog import EventLogEntry, leaf_of

    problems: list[TreeProblem] = []
    checkpoints = {row.size: row for row in session.scalars(select(LogCheckpoint))}
    frontier = merkle.Frontier()
    edge = merkle.RightEdge()
    entries = EventLogEntry.__table__
    checked = 0
    nodes_checked = 0
    wrong: set[merkle.Node] = set()

    def check_checkpoint(size: int, root: bytes) -> None:
        nonlocal checked
        row = checkpoints.get(size)
        if row is None:
            return
        key = f"size {size}"
        entry = size or None
        if bytes(row.root_hash) != root:
            problems.append(TreeProblem("event_log_checkpoints", key, "its root is not the "
                                        "root of the entries as they are stored now", entry))
        try:
            note, _ = notes.open_note(row.note, *verifiers)
            head = notes.parse_checkpoint(note.text)
        except notes.NoteError as exc:
            problems.append(TreeProblem("event_log_checkpoints", key,
                                        f"its note does not verify: {exc}", entry))
        else:
            if (head.size, head.root_hash) != (size, bytes(row.root_hash)):
                problems.append(TreeProblem("event_log_checkpoints", key,
                                            "its signed note names another tree head", entry))
        checked += 1

    check_checkpoint(0, merkle.EMPTY_ROOT)
    stored_size = tree_size(session)
    stored_frontier_root = merkle.EMPTY_ROOT
    last = 0
    while True:
        rows = session.execute(select(entries).where(entries.c.sequence > last)
                               .order_by(entries.c.sequence).limit(batch)).all()
        if not rows:
            break
        made: list[tuple[int, int, bytes, int]] = []
        for r in rows:
            leaf = leaf_of(r)
            # Entries appended since the tree was last brought up have nothing stored yet.
            if r.sequence <= stored_size:
                made.extend((lv, i, h, r.sequence) for lv, i, h in edge.append(leaf))
            frontier.append(leaf)
            check_checkpoint(frontier.size, frontier.root())
            if frontier.size == stored_size:
                stored_frontier_root = frontier.root()
        stored = fetch(session, [(lv, i) for lv, i, _, _ in made])
        for lv, i, h, sequence in made:
            nodes_checked += 1
            found = stored.get((lv, i))
            if found == h:
                continue
            wrong.add((lv, i))
            if lv and ((lv - 1, 2 * i) in wrong or (lv - 1, 2 * i + 1) in wrong):
                continue  # follows from the subtree below it, named already
            what = (f"entry {sequence}" if lv == 0
                    else f"entries {i * 2**lv + 1} to {sequence}")
            problems.append(TreeProblem(
                "event_log_nodes", _node_key(lv, i),
                "missing" if found is None else f"does not hash {what} as it is stored now",
                sequence))
        last = rows[-1].sequence
        if progress is not None:
            progress(frontier.size)
    for size in sorted(s for s in checkpoints if s > frontier.size):
        problems.append(TreeProblem("event_log_checkpoints", f"size {size}",
                                    f"signed for {size} entries; the log holds "
                                    f"{frontier.size}"))
    covered = min(stored_size, frontier.size)
    for level, index in _nodes_beyond(session, covered):
        problems.append(TreeProblem("event_log_nodes", _node_key(level, index),
                                    f"stored beyond the {covered} entries the tree covers: "
                                    "no entry records it"))
    if stored_size and stored_size <= frontier.size:
        try:
            stored_root = root_hash(session, stored_size)
        except (merkle.ProofError, InvalidInput) as exc:
            problems.append(TreeProblem("event_log_nodes", "tree", str(exc), stored_size))
        else:
            if stored_root != stored_frontier_root:
                problems.append(TreeProblem("event_log_nodes", "tree", "the stored subtrees "
                                            "give another root than the entries",
                                            stored_size))
    cosigned = _verify_cosignatures(session, checkpoints, problems)
    return TreeReport(frontier.size, checked, tuple(_leaf_runs(problems)), nodes_checked,
                      cosigned)


def _leaf_runs(problems: list[TreeProblem]) -> list[TreeProblem]:
    """Consecutive leaves wrong in the same way as one problem: an entry rewritten and
    the chain rehashed after it changes every leaf from there on."""
    out: list[TreeProblem] = []
    run: list[TreeProblem] = []

    def flush() -> None:
        if len(run) == 1:
            out.append(run[0])
        elif run:
            first, last = run[0].entry or 0, run[-1].entry or 0
            what = ("missing" if run[0].problem == "missing" else
                    f"do not hash entries {first} to {last} as they are stored now")
            out.append(TreeProblem("event_log_nodes", f"leaves {first - 1} to {last - 1}",
                                   what, first))
        run.clear()

    leaves = [p for p in problems if p.table == "event_log_nodes" and p.key.startswith("leaf ")]
    for p in leaves:
        if run and not (p.entry == (run[-1].entry or 0) + 1 and (
                p.problem == "missing") == (run[-1].problem == "missing")):
            flush()
        run.append(p)
    flush()
    named = {id(p) for p in leaves}
    return out + [p for p in problems if id(p) not in named]


def _nodes_beyond(session: Session, size: int) -> list[tuple[int, int]]:
    """Stored subtrees that reach past leaf ``size``: none is made before its last leaf."""
    nodes = LogNode.__table__
    found: list[tuple[int, int]] = []
    for level in session.scalars(select(nodes.c.level).distinct()):
        found += [(level, int(i)) for i in session.scalars(
            select(nodes.c.idx).where(nodes.c.level == level,
                                      nodes.c.idx >= size >> level)
            .order_by(nodes.c.idx).limit(100))]
    return sorted(found)


def _verify_cosignatures(session: Session, checkpoints: dict[int, LogCheckpoint],
                         problems: list[TreeProblem]) -> int:
    """Every stored cosignature verifies with its witness's registered key over the
    checkpoint it is stored with, at the time it is stored with."""
    keys = {w.name: w.vkey for w in session.scalars(select(LogWitness))}
    count = 0
    for row in session.scalars(select(LogCosignature).order_by(LogCosignature.id)):
        count += 1
        key = f"{row.id} ({row.witness}, size {row.checkpoint_size})"
        checkpoint = checkpoints.get(row.checkpoint_size)

        def fail(problem: str, key: str = key, size: int = row.checkpoint_size) -> None:
            problems.append(TreeProblem("event_log_cosignatures", key, problem, size or None))

        if checkpoint is None:
            fail("its checkpoint is not stored")
            continue
        vkey = keys.get(row.witness)
        if vkey is None:
            fail(f"{row.witness} is not a registered witness")
            continue
        body = checkpoint.note.split("\n\n")[0] + "\n"
        try:
            parsed = notes.parse(body + "\n" + row.line.strip() + "\n")
            if len(parsed.signatures) != 1:
                raise notes.NoteError("it is not one signature line")
            signature = parsed.signatures[0]
            stamp = notes.verify_cosignature(parsed.text, signature, notes.parse_vkey(vkey))
        except notes.NoteError as exc:
            fail(f"does not verify over checkpoint {row.checkpoint_size}: {exc}")
            continue
        if signature.key_id.hex() != row.key_id or stamp != row.cosigned_at:
            fail("its key id or time differs from the signature line it stores")
    return count
