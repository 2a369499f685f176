"""Error declarations (EPCIS 2.0 §7.4.1.2): an event repeating the eventID of an event its
capturer got wrong, with ``errorDeclaration`` (``declarationTime``, ``reason``,
``correctiveEventIDs``).

Only the capturer of the original may declare an error in it. For a chain-of-custody event
(one whose capture moved the ledger through the profile) the declaration undoes that
movement through the custody services, with their checks:

- a transformation, production or scrap intake is reversed by the custody reversal
  service (refused when the material it credited has already left the balance, the entry
  sits in a closed period, or it was reversed before); for an event of a transformation
  set (a shared ``transformationID``) that is the set's transformation, and the id stays
  closed;
- a CoC document's issue (shipping) is undone by cancelling the document (refused once
  the recipient received it);
- a receipt is not undone: the material now belongs to the recipient, who passes it on
  or corrects it through the custody API.

The declaration's corrective events, captured in the same document, follow in the same
capture (``order``): all of it stands or, under ``rollback``, none of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor
from stewardship.core.errors import Conflict, DomainError
from stewardship.custody.models import CustodyOperation
from stewardship.custody.schemas import Refusal, ReversalCreate
from stewardship.custody.service import documents, reversals
from stewardship.interop import profile, transformation_sets

FIELD = "errorDeclaration"


class _Ordered(Protocol):
    index: int
    stored: dict[str, Any]


def corrective_ids(event: Mapping[str, Any]) -> list[str]:
    declaration = event.get("errorDeclaration")
    ids = declaration.get("correctiveEventIDs") if isinstance(declaration, dict) else None
    return [str(i) for i in ids if isinstance(i, str)] if isinstance(ids, list) else []


T = TypeVar("T", bound=_Ordered)


def order(items: Sequence[T]) -> list[T]:
    """The events in document order, except that a declaration comes before the first of
    its corrective events when the document lists that one earlier: the correction is
    written against the ledger as the declaration leaves it."""
    if not any("errorDeclaration" in item.stored for item in items):
        return list(items)
    first: dict[str, int] = {}
    for position, item in enumerate(items):
        if "errorDeclaration" not in item.stored:
            first.setdefault(str(item.stored.get("eventID")), position)

    def key(pair: tuple[int, T]) -> tuple[float, int]:
        position, item = pair
        earlier = [first[i] for i in corrective_ids(item.stored) if i in first]
        if "errorDeclaration" in item.stored and earlier and min(earlier) < position:
            return min(earlier) - 0.5, position
        return float(position), position

    return [item for _, item in sorted(enumerate(items), key=key)]


def _reason(event: Mapping[str, Any]) -> str:
    declaration = event.get("errorDeclaration")
    declaration = declaration if isinstance(declaration, dict) else {}
    reason = declaration.get("reason")
    text = f"EPCIS error declaration for event {event.get('eventID')}"
    if isinstance(reason, str) and reason:
        text += f" ({reason.rsplit(':', 1)[-1].rsplit('-', 1)[-1]})"
    when = declaration.get("declarationTime")
    if isinstance(when, str):
        text += f", declared {when}"
    return text[:2_000]


def _operation(db: Session, actor: Actor, event: Mapping[str, Any]) -> CustodyOperation | None:
    """The journal entry the capturer's event made (profile's note), or the one its
    transformation set made (an event sharing a transformationID)."""
    notes = [profile.event_note(str(event.get("eventID")))]
    transformation_id = event.get("transformationID")
    if event.get("type") == "TransformationEvent" and isinstance(transformation_id, str) \
            and transformation_id.strip():
        notes.append(transformation_sets.set_note(transformation_id))
    return db.scalars(select(CustodyOperation).where(
        CustodyOperation.organization_id == actor.organization_id,
        CustodyOperation.note.in_(notes),
        CustodyOperation.kind.in_(("transformation", "production", "scrap_intake")))
        .order_by(CustodyOperation.recorded_at.desc())).first()


def _refused(error: DomainError, what: str) -> DomainError:
    """The service's refusal, its class (and so its status) kept, naming the declaration."""
    return type(error)(f"the error declaration cannot undo {what}: {error.message}",
                       field=FIELD)


def declare(db: Session, actor: Actor, event: dict[str, Any]) -> str | None:
    """Undo what the declared event did to the custody ledger; a line saying so, or None
    when that event moved nothing. Raises the custody service's refusal (409 when the
    material has left, 403/404 as the service decides) with the field ``errorDeclaration``."""
    kind = profile.profile_kind(event)
    if kind is None:
        return None
    event_id = str(event.get("eventID"))
    reason = _reason(event)
    if kind in ("transformation", "commissioning"):
        op = _operation(db, actor, event)
        if op is None:
            return None
        try:
            reversal = reversals.reverse_operation(db, actor, op.id,
                                                   ReversalCreate(reason=reason))
        except DomainError as error:
            raise _refused(error, f"the {op.kind.replace('_', ' ')} of event {event_id}"
                           ) from error
        return profile.operation_effect(reversal)
    number = profile.document_number(event)
    if kind == "shipping":
        try:
            doc = documents.cancel_document(db, actor, number, Refusal(reason=reason))
        except DomainError as error:
            raise _refused(error, f"the issue of CoC document {number}") from error
        return (f"CoC document {doc.number} cancelled: {doc.coc_quantity_kg} kg CoC "
                f"{doc.material.value} back with the issuer")
    raise Conflict(f"the error declaration cannot undo the receipt of CoC document {number}: "
                   "received material is the recipient's; correct it through the custody "
                   "API", field=FIELD)
