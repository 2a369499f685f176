"""Issuing credentials: each one recorded in the transparency log, signed as a VC-JOSE
token by the platform's did:web, with a place in the suspension and revocation lists.

A context (assurance for certificates, custody for CoC documents) calls ``issue`` in the
transaction that issues the record, and ``set_status`` in the transaction that suspends,
reinstates or withdraws it; the status lists read the same rows, so a list is current the
moment that transaction commits. Issuing signs a checkpoint of the log as it then stands,
so every credential has a signed tree head covering it from the start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import (
    BigInteger,
    Boolean,
    Integer,
    String,
    Text,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from stewardship.core import bundles, eventlog, notes, tlog
from stewardship.core import credentials as vc
from stewardship.core.auth import Actor
from stewardship.core.config import Settings, get_settings
from stewardship.core.db import Base, UTCDateTime, utcnow
from stewardship.core.errors import Conflict, NotFound
from stewardship.core.keys import log_signer, verifiers

Purpose = Literal["revocation", "suspension"]
PURPOSES: tuple[Purpose, ...] = ("revocation", "suspension")
LIST_SIZE = vc.STATUS_LIST_BITS
LOCAL_BASE_URL = "http://127.0.0.1:8000"
"""The address credentials name when none is configured and no request says otherwise."""


class IssuedCredential(Base):
    """A credential the platform signed; its status bits are the two booleans."""

    __tablename__ = "issued_credentials"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True)
    """Also its place in the status lists: list ``(id - 1) // 131072``, bit ``(id - 1) %
    131072``."""
    subject_ref: Mapped[str] = mapped_column(String(200), index=True)
    """What it is about, as the event log names subjects (``certificate:STW-…``)."""
    organization_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(40))
    token: Mapped[str] = mapped_column(Text)
    """The compact JWS (``application/vc+jwt``)."""
    leaf_index: Mapped[int] = mapped_column(BigInteger)
    key_id: Mapped[str] = mapped_column(String(8))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


@dataclass(frozen=True)
class Issuer:
    """Who signs: the platform's did:web (from its public base URL) and its log key."""

    base_url: str
    signer: notes.Signer
    previous: tuple[notes.Verifier, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings, signer: notes.Signer | None = None, *,
                      base_url: str | None = None) -> Issuer:
        """The issuer the settings describe: ``signer`` (read from the settings when not
        given) with every earlier key the settings still publish, at ``base_url`` or the
        configured public address (the local one when neither is set)."""
        signer = signer if signer is not None else log_signer(settings)
        previous = tuple(v for v in verifiers(settings, signer)
                         if v.key_id != signer.verifier.key_id)
        return cls(base_url or settings.base_url or LOCAL_BASE_URL, signer, previous)

    @property
    def did(self) -> str:
        return vc.did_web(self.base_url)

    def fragment(self, key_id: bytes) -> str:
        return f"key-{key_id.hex()}"

    @property
    def kid(self) -> str:
        return f"{self.did}#{self.fragment(self.signer.verifier.key_id)}"

    def document(self) -> dict[str, Any]:
        keys: list[tuple[str, Ed25519PublicKey]] = [
            (self.fragment(self.signer.verifier.key_id), self.signer.private_key.public_key())]
        keys += [(self.fragment(v.key_id), v.public_key) for v in self.previous
                 if v.key_id != self.signer.verifier.key_id]
        return vc.did_document(self.did, keys)

    def status_url(self, purpose: str, list_number: int) -> str:
        return f"{self.base_url.rstrip('/')}/credentials/status/{purpose}/{list_number}"


IssuerSource = Issuer | Callable[[], Issuer]
"""An issuer, or how to make one when a credential is first issued or served (a request
sets the latter, so that requests that issue nothing never build one)."""

_current: ContextVar[IssuerSource | None] = ContextVar("stewardship_issuer", default=None)
_configured: list[tuple[Settings, Issuer]] = []


@contextmanager
def issuing_as(issuer: IssuerSource) -> Iterator[None]:
    """Credentials issued inside the block are signed by ``issuer`` (the app sets, per
    request, how to make the issuer of the address the request came to)."""
    token = _current.set(issuer)
    try:
        yield
    finally:
        _current.reset(token)


def current_issuer() -> Issuer:
    """The request's issuer; outside a request (the CLI, the demo loader), the configured
    public address, or the default local one, with the configured key (read once per
    settings)."""
    found = _current.get()
    if isinstance(found, Issuer):
        return found
    if found is not None:
        return found()
    settings = get_settings()
    if not _configured or _configured[0][0] is not settings:
        _configured[:] = [(settings, Issuer.from_settings(settings))]
    return _configured[0][1]


def issue(session: Session, actor: Actor, issuer: Issuer, *, kind: str, subject_ref: str,
          types: list[str], contexts: list[str], subject: dict[str, Any],
          valid_from: datetime, valid_until: datetime | None = None,
          organization_id: str | None = None) -> IssuedCredential:
    """Record ``subject`` in the log, sign a checkpoint covering it, and sign the VC."""
    clean = eventlog.json_ready(subject)
    entry = eventlog.append(session, actor, f"credential.{kind}.issued", subject_ref, clean)
    row = _row(issuer, kind, subject_ref, organization_id, entry)
    session.add(row)
    session.flush()
    tlog.make_checkpoint(session, issuer.signer, issuer.signer.name)
    row.token = _token(issuer, row, entry, types=types, contexts=contexts, subject=clean,
                       valid_from=valid_from, valid_until=valid_until)
    session.flush()
    return row


@dataclass(frozen=True)
class Planned:
    """One credential of ``issue_many``: ``issue``'s arguments, and the event-log entries
    of the record it is about (kind, subject, payload), written just before its own."""

    kind: str
    subject_ref: str
    types: list[str]
    contexts: list[str]
    subject: dict[str, Any]
    valid_from: datetime
    valid_until: datetime | None = None
    organization_id: str | None = None
    records: tuple[tuple[str, str, dict[str, Any]], ...] = ()


def issue_many(session: Session, actor: Actor, issuer: Issuer,
               planned: list[Planned]) -> list[int]:
    """``issue`` for several credentials at once: every log entry (each record's, then
    its credential's) chained and written together, ONE checkpoint covering them all,
    then each VC signed; the credentials' ids. The same log entries and credentials as
    ``issue`` in turn, with a checkpoint for the batch instead of one for each."""
    if not planned:
        return []
    subjects = [eventlog.prepared(p.subject) for p in planned]
    items: list[tuple[str, str, eventlog.Payload]] = []
    for p, subject_ in zip(planned, subjects, strict=True):
        items += [(kind, subject, eventlog.prepared(payload))
                  for kind, subject, payload in p.records]
        items.append((f"credential.{p.kind}.issued", p.subject_ref, subject_))
    entries = eventlog.append_many(session, actor, items)
    leaves = {e.sequence: e.leaf for e in entries}
    mine, at = [], 0
    for p in planned:
        at += len(p.records) + 1
        mine.append(entries[at - 1])
    table = IssuedCredential.__table__
    key_id, now = issuer.signer.verifier.key_id.hex(), utcnow()
    ids = list(session.scalars(
        insert(table).returning(table.c.id, sort_by_parameter_order=True),
        [{"subject_ref": p.subject_ref, "organization_id": p.organization_id,
          "kind": p.kind, "token": "", "leaf_index": entry.sequence - 1, "key_id": key_id,
          "issued_at": now, "revoked": False, "suspended": False,
          "status_changed_at": None} for p, entry in zip(planned, mine, strict=True)]))
    tlog.make_checkpoint(session, issuer.signer, issuer.signer.name, leaves=leaves)
    did, kid = issuer.did, issuer.kid
    tokens = [{"_id": row_id, "token": _signed(
        issuer, row_id, entry.sequence - 1, leaves[entry.sequence], did=did, kid=kid,
        types=p.types, contexts=p.contexts, subject=made.data, valid_from=p.valid_from,
        valid_until=p.valid_until, plain=made.plain)}
        for p, made, row_id, entry in zip(planned, subjects, ids, mine, strict=True)]
    session.execute(update(table).where(table.c.id == bindparam("_id"))
                    .values(token=bindparam("token")), tokens)
    return ids


def _row(issuer: Issuer, kind: str, subject_ref: str, organization_id: str | None,
         entry: eventlog.Appended) -> IssuedCredential:
    return IssuedCredential(subject_ref=subject_ref, organization_id=organization_id,
                            kind=kind, token="", leaf_index=entry.sequence - 1,
                            key_id=issuer.signer.verifier.key_id.hex(), issued_at=utcnow())


def _token(issuer: Issuer, row: IssuedCredential, entry: eventlog.Appended, *,
           types: list[str], contexts: list[str], subject: dict[str, Any],
           valid_from: datetime, valid_until: datetime | None) -> str:
    """The signed VC of a stored row (its id is its place in the status lists)."""
    return _signed(issuer, row.id, row.leaf_index, eventlog.leaf_of(entry), did=issuer.did,
                   kid=issuer.kid, types=types, contexts=contexts, subject=subject,
                   valid_from=valid_from, valid_until=valid_until)


def _signed(issuer: Issuer, row_id: int, leaf_index: int, leaf: bytes, *, did: str,
            kid: str, types: list[str], contexts: list[str], subject: dict[str, Any],
            valid_from: datetime, valid_until: datetime | None, plain: bool = False) -> str:
    """The VC of credential ``row_id``, signed (``plain``: the subject is plain JSON
    data, ``eventlog.Ready.plain``)."""
    number, bit = divmod(row_id - 1, LIST_SIZE)
    credential: dict[str, Any] = {
        "@context": [vc.VC_CONTEXT, *contexts],
        "id": f"{issuer.base_url.rstrip('/')}/credentials/{row_id}",
        "type": ["VerifiableCredential", *types],
        "issuer": did,
        "validFrom": _stamp(valid_from),
        "credentialSubject": subject,
        "credentialStatus": [vc.status_entry(url=issuer.status_url(p, number), purpose=p,
                                             index=bit) for p in PURPOSES],
        "evidence": [bundles.log_evidence(origin=issuer.signer.name, leaf_index=leaf_index,
                                          leaf_hash=leaf)],
    }
    if valid_until is not None:
        credential["validUntil"] = _stamp(valid_until)
    return vc.sign_jwt(credential, issuer.signer.private_key, kid,
                       known=(subject,) if plain else ())


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def latest_for(session: Session, subject_ref: str) -> IssuedCredential | None:
    return session.scalars(select(IssuedCredential)
                           .where(IssuedCredential.subject_ref == subject_ref)
                           .order_by(IssuedCredential.id.desc()).limit(1)).first()


def get(session: Session, credential_id: int) -> IssuedCredential:
    row = session.get(IssuedCredential, credential_id)
    if row is None:
        raise NotFound(f"no credential {credential_id}")
    return row


def set_status(session: Session, actor: Actor, subject_ref: str, *,
               suspended: bool | None = None, revoked: bool | None = None) -> int:
    """Set or clear the status bits of every credential about ``subject_ref``, in the
    caller's transaction, with an event-log entry; how many credentials changed."""
    rows = list(session.scalars(select(IssuedCredential)
                                .where(IssuedCredential.subject_ref == subject_ref)))
    changed = 0
    for row in rows:
        if row.revoked and revoked is False:
            raise Conflict("a revoked credential stays revoked")
        before = (row.suspended, row.revoked)
        if suspended is not None:
            row.suspended = suspended
        if revoked is not None:
            row.revoked = revoked
        if (row.suspended, row.revoked) != before:
            row.status_changed_at = utcnow()
            changed += 1
            eventlog.append(session, actor, "credential.status.changed",
                            f"credential:{row.id}",
                            {"subject": subject_ref, "suspended": row.suspended,
                             "revoked": row.revoked})
    session.flush()
    return changed


def status_list_token(session: Session, issuer: Issuer, purpose: str, number: int) -> str:
    """The signed Bitstring Status List credential of one list, as it stands now."""
    if purpose not in PURPOSES:
        raise NotFound(f"no status list for {purpose!r}: revocation or suspension")
    flag = IssuedCredential.revoked if purpose == "revocation" else IssuedCredential.suspended
    low, high = number * LIST_SIZE + 1, (number + 1) * LIST_SIZE
    highest = session.scalar(select(func.max(IssuedCredential.id))) or 0
    if number < 0 or low > max(highest, 1):
        raise NotFound(f"no {purpose} list number {number}")
    ids = session.scalars(select(IssuedCredential.id).where(
        flag.is_(True), IssuedCredential.id >= low, IssuedCredential.id <= high))
    url = issuer.status_url(purpose, number)
    body = vc.status_list_credential(
        issuer=issuer.did, url=url, purpose=purpose,
        encoded=vc.encode_status_list(i - low for i in ids), valid_from=_stamp(utcnow()))
    return vc.sign_jwt(body, issuer.signer.private_key, issuer.kid)


def bundle(session: Session, issuer: Issuer, credential_id: int) -> dict[str, Any]:
    """Everything a buyer needs to verify the credential offline, as of now."""
    row = get(session, credential_id)
    token = vc.decode_jwt(row.token)
    checkpoint = tlog.latest_checkpoint(session)
    if checkpoint is None or checkpoint.size <= row.leaf_index:
        raise Conflict("the log has not signed a checkpoint covering this credential yet")
    lists = {}
    for status in token.payload.get("credentialStatus") or []:
        url = str(status["statusListCredential"])
        purpose, number = url.rsplit("/", 2)[-2:]
        lists[url] = status_list_token(session, issuer, purpose, int(number))
    table = eventlog.EventLogEntry.__table__
    entry = session.execute(select(table).where(table.c.sequence == row.leaf_index + 1)).one()
    body = eventlog.body_of(entry)
    proof = tlog.inclusion_proof(session, row.leaf_index, checkpoint.size)
    return bundles.make_bundle(credential=row.token, did_document=issuer.document(),
                               status_lists=lists, checkpoint=checkpoint.note,
                               log_entry=body, leaf_index=row.leaf_index,
                               tree_size=checkpoint.size, hashes=proof)
