"""What the transparency-log pages show and do: the checkpoints with their cosignatures,
the witnesses and whether each keeps up, the log keys with the span each one signed, and
the secretariat's two actions (register a witness, sign a checkpoint now).

The queries live here (``core.tlog`` holds the tree and its rows); the pages only render.
Registering a witness is a change to whom the log trusts, so it is appended to the event
log, as the CLI and the API do. Signing a checkpoint is not: the checkpoint is the log's own
signed statement about itself, kept and checked beside it (``tlog.verify_tree``), and an
entry for it would put the log past the checkpoint at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stewardship.core import eventlog, notes, tlog
from stewardship.core.auth import Actor, Role, require
from stewardship.core.errors import InvalidInput
from stewardship.core.keys import PublishedKey
from stewardship.core.pagination import Page, PageParams

MAX_VKEY_CHARS = 400
"""As the API takes it: a name of up to 200 characters, an id and 44 of base64."""


@dataclass(frozen=True)
class CheckpointRow:
    size: int
    root_hash: bytes
    key_id: str
    created_at: datetime
    witnesses: tuple[str, ...]
    """The witnesses that cosigned it, by name."""

    @property
    def cosignatures(self) -> int:
        return len(self.witnesses)


def checkpoints(session: Session, params: PageParams) -> Page[CheckpointRow]:
    """The signed checkpoints, newest first, each with the witnesses that cosigned it."""
    total = session.scalar(select(func.count()).select_from(tlog.LogCheckpoint)) or 0
    rows = session.scalars(select(tlog.LogCheckpoint)
                           .order_by(tlog.LogCheckpoint.size.desc())
                           .offset(params.offset).limit(params.per_page)).all()
    sizes = [r.size for r in rows]
    by_size: dict[int, list[str]] = {size: [] for size in sizes}
    if sizes:
        for size, name in session.execute(
                select(tlog.LogCosignature.checkpoint_size, tlog.LogCosignature.witness)
                .where(tlog.LogCosignature.checkpoint_size.in_(sizes))
                .order_by(tlog.LogCosignature.id)):
            if name not in by_size[size]:
                by_size[size].append(name)
    items = [CheckpointRow(r.size, bytes(r.root_hash), r.key_id, r.created_at,
                           tuple(by_size[r.size])) for r in rows]
    return Page(items, total, params.page, params.per_page)


@dataclass(frozen=True)
class WitnessStatus:
    name: str
    vkey: str
    registered_at: datetime
    registered_by: str
    """The actor reference (``user:…``, ``system:cli``) that registered it."""
    last_size: int | None
    """The largest checkpoint it cosigned, if any."""
    last_received_at: datetime | None
    latest_size: int | None
    """The latest checkpoint's size: the one it should have cosigned by now."""

    @property
    def behind(self) -> bool:
        """A checkpoint newer than any it cosigned has been signed."""
        return self.latest_size is not None and (self.last_size or -1) < self.latest_size


def witness_statuses(session: Session) -> list[WitnessStatus]:
    """Every registered witness with the last checkpoint it cosigned."""
    latest = session.scalar(select(func.max(tlog.LogCheckpoint.size)))
    last = {name: (int(size), at) for name, size, at in session.execute(
        select(tlog.LogCosignature.witness, func.max(tlog.LogCosignature.checkpoint_size),
               func.max(tlog.LogCosignature.received_at))
        .group_by(tlog.LogCosignature.witness))}
    out = []
    for w in tlog.witnesses(session):
        size, at = last.get(w.name, (None, None))
        out.append(WitnessStatus(w.name, w.vkey, w.registered_at, w.registered_by, size, at,
                                 None if latest is None else int(latest)))
    return out


@dataclass(frozen=True)
class KeySpan:
    key_id: str
    vkey: str | None
    """The public verifier key; None for a key that signed checkpoints here but is no
    longer published (its checkpoints no longer verify with any published key)."""
    current: bool
    checkpoints: int
    first_size: int | None
    last_size: int | None
    first_signed_at: datetime | None
    last_signed_at: datetime | None


def key_spans(session: Session, published: list[PublishedKey]) -> list[KeySpan]:
    """The log's keys, current first, then the retired ones still published, each with the
    checkpoints it signed (its validity as the log itself shows it); then any key that
    signed here and is published no more."""
    stats = {key: (int(n), int(low), int(high), first, last)
             for key, n, low, high, first, last in session.execute(
                 select(tlog.LogCheckpoint.key_id, func.count(),
                        func.min(tlog.LogCheckpoint.size), func.max(tlog.LogCheckpoint.size),
                        func.min(tlog.LogCheckpoint.created_at),
                        func.max(tlog.LogCheckpoint.created_at))
                 .group_by(tlog.LogCheckpoint.key_id))}
    out = []
    for key in published:
        n, low, high, first, last = stats.get(key.key_id, (0, None, None, None, None))
        out.append(KeySpan(key.key_id, key.vkey, key.current, n, low, high, first, last))
    known = {k.key_id for k in published}
    for key_id in sorted(set(stats) - known):
        n, low, high, first, last = stats[key_id]
        out.append(KeySpan(key_id, None, False, n, low, high, first, last))
    return out


def register_witness(session: Session, actor: Actor, vkey: str) -> tlog.LogWitness:
    """Register a witness by its verifier key, as ``stewardship log add-witness`` does, and
    record it in the event log. Secretariat only."""
    require(actor, Role.SECRETARIAT, action="register a witness")
    text = vkey.strip()
    if not text:
        raise InvalidInput("enter the witness's verifier key (the line `stewardship witness "
                           "keygen` printed)", field="vkey")
    if len(text) > MAX_VKEY_CHARS:
        raise InvalidInput(f"a verifier key is at most {MAX_VKEY_CHARS} characters",
                           field="vkey")
    witness = tlog.register_witness(session, text, actor.ref)
    eventlog.append(session, actor, "log.witness.registered", f"witness:{witness.name}",
                    {"vkey": witness.vkey})
    return witness


@dataclass(frozen=True)
class Signed:
    checkpoint: tlog.SignedCheckpoint
    new: bool
    """False when the log had not grown since the latest checkpoint (that one is kept)."""


def sign_checkpoint(session: Session, actor: Actor, signer: notes.Signer,
                    origin: str) -> Signed:
    """Sign a checkpoint of the log as it is now. Secretariat only. When the server's own
    checkpointer signs the same size at the same moment, its checkpoint is the one kept."""
    require(actor, Role.SECRETARIAT, action="sign a checkpoint")
    before = session.scalar(select(func.max(tlog.LogCheckpoint.size)))
    try:
        with session.begin_nested():
            made = tlog.make_checkpoint(session, signer, origin)
    except IntegrityError:
        latest = tlog.latest_checkpoint(session)
        assert latest is not None
        return Signed(latest, False)
    return Signed(made, before is None or made.size > before)
