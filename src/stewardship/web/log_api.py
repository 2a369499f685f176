"""Public API over the event log: its hash chain, its Merkle tree and signed checkpoints.

Two faces:

- ``/log/checkpoint`` and ``/log/tile/...``: the log as C2SP tlog-tiles, static resources
  that any mirror can copy as files (the checkpoint as a signed note in plain text, tiles
  and entry bundles as bytes);
- ``/api/v1/log/...``: the same as JSON (checkpoints, inclusion and consistency proofs,
  entries of a range, the published keys), and what the secretariat and witnesses do:
  sign a checkpoint now, register a witness, hand in a cosignature.

Hashes in JSON are base64, as in the checkpoint note.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from stewardship.core import eventlog, merkle, notes, tlog
from stewardship.core.auth import Role, require
from stewardship.core.errors import InvalidInput, NotFound
from stewardship.core.keys import PublishedKey
from stewardship.core.params import INT64_MAX
from stewardship.core.web import CurrentActor, DbSession

router = APIRouter(prefix="/api/v1/log", tags=["event log"])
TreeSize = Annotated[int, Path(ge=0, le=INT64_MAX, description="A tree size (entries)")]
tiles = APIRouter(prefix="/log", include_in_schema=False)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class TreeProblemRead(BaseModel):
    table: str
    key: str
    problem: str


class ChainStatus(BaseModel):
    entries: int
    head_hash: str
    ok: bool = Field(description="The hash chain and the Merkle tree both verify.")
    first_bad_sequence: int | None
    reason: str | None
    checkpoints_checked: int = Field(description="Signed checkpoints held against the "
                                     "tree rebuilt from the entries.")
    tree_problems: list[TreeProblemRead]


@router.get("/verify", response_model=ChainStatus)
def verify(request: Request, db: DbSession) -> ChainStatus:
    """Re-walk the hash chain of the event log and report the first entry that does not
    match, if any; rebuild the Merkle tree from the entries and hold it against the stored
    subtrees and every signed checkpoint. Public: anyone may check that history was not
    rewritten."""
    report = eventlog.verify_chain(db)
    keys = [notes.parse_vkey(k.vkey) for k in request.app.state.log_keys]
    tree = tlog.verify_tree(db, keys)
    return ChainStatus(entries=report.entries, head_hash=report.head_hash,
                       ok=report.ok and tree.ok,
                       first_bad_sequence=report.first_bad_sequence, reason=report.reason,
                       checkpoints_checked=tree.checkpoints,
                       tree_problems=[TreeProblemRead(table=p.table, key=p.key,
                                                      problem=p.problem)
                                      for p in tree.problems])


class CheckpointRead(BaseModel):
    size: int = Field(description="Entries the tree head covers.")
    root_hash: str = Field(description="RFC 6962 root hash, base64.")
    note: str = Field(description="The C2SP checkpoint: the log's signed note with every "
                      "witness cosignature line after the log's own signature.")
    created_at: datetime


def _read(cp: tlog.SignedCheckpoint) -> CheckpointRead:
    return CheckpointRead(size=cp.size, root_hash=_b64(cp.root_hash), note=cp.note,
                          created_at=cp.created_at)


def _latest(db: Session) -> tlog.SignedCheckpoint:
    cp = tlog.latest_checkpoint(db)
    if cp is None:
        raise NotFound("the log has signed no checkpoint yet")
    return cp


@router.get("/checkpoint", response_model=CheckpointRead)
def latest_checkpoint(db: DbSession) -> CheckpointRead:
    """The latest signed checkpoint and its cosignatures."""
    return _read(_latest(db))


@router.get("/checkpoints/{size}", response_model=CheckpointRead)
def checkpoint_at(db: DbSession, size: TreeSize) -> CheckpointRead:
    """The checkpoint signed at one tree size."""
    return _read(tlog.checkpoint_at(db, size))


@router.post("/checkpoints", response_model=CheckpointRead, status_code=201)
def sign_checkpoint(request: Request, db: DbSession, actor: CurrentActor) -> CheckpointRead:
    """Sign a checkpoint of the log as it is now (the server also signs them as the log
    grows). Secretariat only."""
    require(actor, Role.SECRETARIAT, action="sign a checkpoint")
    settings = request.app.state.settings
    return _read(tlog.make_checkpoint(db, request.app.state.log_signer,
                                      settings.resolved_log_origin))


class InclusionProof(BaseModel):
    sequence: int
    leaf_index: int = Field(description="The entry's leaf: its sequence minus one.")
    tree_size: int
    leaf_hash: str
    hashes: list[str] = Field(description="The audit path, leaf upwards, base64.")
    root_hash: str


def _size_or_latest(db: Session, size: int | None) -> int:
    return _latest(db).size if size is None else size


@router.get("/proof/inclusion", response_model=InclusionProof)
def inclusion(db: DbSession, sequence: Annotated[int, Query(ge=1, le=INT64_MAX)],
              size: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None) -> InclusionProof:
    """That entry ``sequence`` is in the tree of ``size`` entries (the latest checkpoint's
    size unless given)."""
    tree_size = _size_or_latest(db, size)
    found = tlog.entry_rows(db, sequence, 1)
    if not found:
        raise NotFound(f"the log has no entry {sequence}")
    entry = found[0]
    proof = tlog.inclusion_proof(db, sequence - 1, tree_size)
    leaf = eventlog.leaf_of(entry)
    return InclusionProof(sequence=sequence, leaf_index=sequence - 1, tree_size=tree_size,
                          leaf_hash=_b64(leaf), hashes=[_b64(h) for h in proof],
                          root_hash=_b64(tlog.root_hash(db, tree_size)))


class ConsistencyProof(BaseModel):
    first: int
    second: int
    hashes: list[str]
    first_root: str
    second_root: str


@router.get("/proof/consistency", response_model=ConsistencyProof)
def consistency(db: DbSession, first: Annotated[int, Query(ge=0, le=INT64_MAX)],
                second: Annotated[int | None, Query(ge=0, le=INT64_MAX)] = None
                ) -> ConsistencyProof:
    """That the tree of ``first`` entries is a prefix of the tree of ``second`` (the latest
    checkpoint's size unless given): nothing before ``first`` was rewritten."""
    to = _size_or_latest(db, second)
    if first > to:
        raise InvalidInput(f"the first size ({first}) is larger than the second ({to})",
                           field="first")
    proof = tlog.consistency_proof(db, first, to)
    return ConsistencyProof(first=first, second=to, hashes=[_b64(h) for h in proof],
                            first_root=_b64(tlog.root_hash(db, first)),
                            second_root=_b64(tlog.root_hash(db, to)))


class EntryRead(BaseModel):
    sequence: int
    recorded_at: datetime
    actor: str
    kind: str
    subject: str
    payload: dict[str, object]
    payload_digest: str
    prev_hash: str
    hash: str
    leaf_hash: str


@router.get("/entries", response_model=list[EntryRead])
def entries(db: DbSession, start: Annotated[int, Query(ge=1, le=INT64_MAX)] = 1,
            count: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[EntryRead]:
    """Entries ``start`` to ``start + count - 1`` (fewer at the end of the log), each with
    its leaf hash."""
    rows = tlog.entry_rows(db, start, count)
    return [EntryRead(sequence=r.sequence, recorded_at=r.recorded_at, actor=r.actor,
                      kind=r.kind, subject=r.subject, payload=r.payload,
                      payload_digest=r.payload_digest, prev_hash=r.prev_hash, hash=r.hash,
                      leaf_hash=_b64(eventlog.leaf_of(r)))
            for r in rows]


class KeyRead(BaseModel):
    vkey: str = Field(description="C2SP verifier key: name+id+base64(0x01 || key).")
    key_id: str
    current: bool
    first_size: int | None = Field(description="Smallest checkpoint size it signed.")
    last_size: int | None = Field(description="Largest checkpoint size it signed.")


@router.get("/keys", response_model=list[KeyRead])
def keys(request: Request, db: DbSession) -> list[KeyRead]:
    """The log's signing keys, current first, each with the checkpoints it signed: its
    validity, read from the log itself."""
    published: list[PublishedKey] = request.app.state.log_keys
    spans = tlog.key_spans(db)
    return [KeyRead(vkey=k.vkey, key_id=k.key_id, current=k.current,
                    first_size=spans.get(k.key_id, (None, None))[0],
                    last_size=spans.get(k.key_id, (None, None))[1]) for k in published]


class WitnessCreate(BaseModel):
    vkey: str = Field(min_length=3, max_length=400,
                      description="The witness's C2SP verifier key of type 0x04.")


class WitnessRead(BaseModel):
    name: str
    vkey: str
    registered_at: datetime


@router.get("/witnesses", response_model=list[WitnessRead])
def list_witnesses(db: DbSession) -> list[WitnessRead]:
    """The witnesses whose cosignatures the log accepts and serves."""
    return [WitnessRead(name=w.name, vkey=w.vkey, registered_at=w.registered_at)
            for w in tlog.witnesses(db)]


@router.post("/witnesses", response_model=WitnessRead, status_code=201)
def register_witness(db: DbSession, actor: CurrentActor, body: WitnessCreate) -> WitnessRead:
    """Register a witness (an accredited audit firm, or anyone the secretariat trusts).
    Secretariat only."""
    require(actor, Role.SECRETARIAT, action="register a witness")
    w = tlog.register_witness(db, body.vkey, actor.ref)
    eventlog.append(db, actor, "log.witness.registered", f"witness:{w.name}",
                    {"vkey": w.vkey})
    return WitnessRead(name=w.name, vkey=w.vkey, registered_at=w.registered_at)


class CosignatureCreate(BaseModel):
    cosignature: str = Field(min_length=10, max_length=400,
                             description="One signature line: '— <witness> <base64>'.")


@router.post("/checkpoints/{size}/cosignatures", response_model=CheckpointRead,
             status_code=201)
def add_cosignature(db: DbSession, size: TreeSize, body: CosignatureCreate) -> CheckpointRead:
    """A registered witness hands in its cosignature of the checkpoint at ``size``. The
    signature itself is the credential: it must verify against the witness's key."""
    tlog.add_cosignature(db, size, body.cosignature)
    return _read(tlog.checkpoint_at(db, size))


# --- C2SP tlog-tiles ---------------------------------------------------------------------

TEXT = "text/plain; charset=utf-8"
BYTES = "application/octet-stream"
IMMUTABLE = "public, max-age=31536000, immutable"


def _tile_address(path: str) -> tuple[int, int | None]:
    """``x001/x234/067`` or ``x001/067.p/12`` -> (index, width or None)."""
    width: int | None = None
    if ".p/" in path:
        path, _, w = path.partition(".p/")
        if not w.isdigit() or w.startswith("0") or not 1 <= int(w) <= 255:
            raise NotFound("a partial tile's width is 1 to 255")
        width = int(w)
    try:
        return merkle.parse_tile_index_path(path.split("/")), width
    except ValueError as exc:
        raise NotFound(str(exc)) from exc


@tiles.get("/checkpoint")
def checkpoint_text(db: DbSession) -> Response:
    cp = _latest(db)
    return Response(cp.note, media_type=TEXT, headers={"cache-control": "no-cache, max-age=5"})


@tiles.get("/tile/entries/{path:path}")
def entry_bundle(db: DbSession, path: str) -> Response:
    index, width = _tile_address(path)
    data = tlog.entry_bundle(db, index, width, _latest(db).size)
    return Response(data, media_type=BYTES, headers={"cache-control": IMMUTABLE})


@tiles.get("/tile/{level}/{path:path}")
def tile(db: DbSession, level: str, path: str) -> Response:
    if not level.isdigit() or (level != "0" and level.startswith("0")) or int(level) > 63:
        raise NotFound("a tile level is 0 to 63")
    index, width = _tile_address(path)
    data = tlog.tile(db, int(level), index, width, _latest(db).size)
    return Response(data, media_type=BYTES, headers={"cache-control": IMMUTABLE})
