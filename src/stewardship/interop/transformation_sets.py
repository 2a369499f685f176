"""A transformation told in several TransformationEvents sharing a ``transformationID``
(the CoC profile; docs/epcis-profile.md, "Transformations").

The set is the capturer's own: the TransformationEvents following the profile that its
organisation captured with that ``transformationID`` (another member's events never join
it, whatever id they carry), less those it declared an error in. Each event is checked
when captured (facility, quantities, date, extensions), then:

- while the set lacks inputs or outputs (CoC material in ``inputQuantityList`` /
  ``outputQuantityList``) the event is stored and nothing moves;
- the capture that gives the set both applies ONE custody transformation: every input
  of the set against every output, at the set's one facility, dated by its latest
  event, with ``stw:cocQuantity`` / ``stw:transformation`` from whichever event gives
  them (two different values are refused). Its journal note is
  ``EPCIS transformation <transformationID>``;
- from then on the id is closed: a further event with it is refused (409, field
  ``transformationID``), so the mass balance is never claimed twice.

A set complete in one event (inputs and outputs together) is recorded at once and closes
its id the same way. The id is held (``repository.lock_transformation``) while a capture
reads and completes it, so two captures never both complete (or both miss) one set.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor
from stewardship.core.errors import Conflict, InvalidInput
from stewardship.custody.models import CustodyOperation
from stewardship.interop import profile
from stewardship.interop import repository as repo

SIDES = ("inputQuantityList", "outputQuantityList")
SHARED = ("cocQuantity", "transformation")
"""The extensions one event of the set gives for all of it."""


def set_note(transformation_id: str) -> str:
    """The journal note of the transformation a set made."""
    return f"EPCIS transformation {transformation_id}"[:2_000]


def recorded(db: Session, actor: Actor, transformation_id: str) -> CustodyOperation | None:
    """The transformation the capturer's set of this id made, if it is complete."""
    return db.scalars(select(CustodyOperation).where(
        CustodyOperation.organization_id == actor.organization_id,
        CustodyOperation.kind == "transformation",
        CustodyOperation.note == set_note(transformation_id))).first()


def _members(db: Session, actor: Actor, event: Mapping[str, Any],
             transformation_id: str) -> list[dict[str, Any]]:
    """The set's other stored events (with their @context), then this one."""
    rows = repo.transformation_members(db, actor.organization_id, transformation_id)
    own_id = event.get("eventID")
    contexts = repo.contexts(db, [c for _, _, c in rows if c is not None])
    members: list[dict[str, Any]] = []
    for event_id, body, context_id in rows:
        if event_id == own_id:
            continue
        member = json.loads(body)
        if context_id is not None and context_id in contexts:
            member["@context"] = json.loads(contexts[context_id])
        if profile.profile_kind(member) == "transformation":
            members.append(member)
    return [*members, dict(event)]


def _shared(members: list[dict[str, Any]], transformation_id: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for member in members:
        ext = profile.extensions(member)
        for name in SHARED:
            value = ext.get(name)
            if value is None:
                continue
            if name in found and found[name] != value:
                raise InvalidInput(f"{profile.PREFIX}:{name} of event {member.get('eventID')} "
                                   f"differs from another event of transformation "
                                   f"{transformation_id}: give it once for the set",
                                   field=f"{profile.PREFIX}:{name}")
            found[name] = value
    return found


def _who(members: list[dict[str, Any]]) -> str:
    return ", ".join(str(m.get("eventID")) for m in members)


def apply(db: Session, actor: Actor, event: Mapping[str, Any], ext: dict[str, Any]) -> str:
    """Check one event of a set; record the set's transformation when this event
    completes it. The line saying what happened (a pending set moves nothing)."""
    transformation_id = str(event["transformationID"])
    shown = transformation_id.strip()[:200]
    repo.lock_transformation(db, actor.organization_id, transformation_id)
    done = recorded(db, actor, transformation_id)
    if done is not None:
        raise Conflict(f"transformationID {shown} is complete: its transformation was "
                       f"recorded on {done.occurred_on.isoformat()} from the events captured "
                       "before; a further event with this transformationID is refused (give "
                       "another transformation an id of its own)", field="transformationID")
    profile._when(event)  # a future event is refused whatever the set holds
    facility = profile._facility(db, actor, event, required=True)
    assert facility is not None
    own = {side: profile._quantities(event, side) for side in SIDES}
    if not own[SIDES[0]] and not own[SIDES[1]]:
        raise InvalidInput(f"an event of transformation {shown} carries CoC material in "
                           "inputQuantityList (what went in) or outputQuantityList (what "
                           "came out)", field="inputQuantityList")
    members = _members(db, actor, event, transformation_id)
    for member in members[:-1]:
        theirs = profile._facility(db, actor, member, required=True)
        if theirs is not None and theirs[0] != facility[0]:
            raise InvalidInput(f"transformation {shown} happened at facility {theirs[0]} "
                               f"(event {member.get('eventID')}); this event names "
                               f"{facility[0]}: one transformation, one facility",
                               field="bizLocation")
    shared = _shared(members, shown)
    merged = {side: [q for m in members for q in profile._elements(m, side)]
              for side in SIDES}
    # Each side holds one material, whichever events bring it.
    sides = {side: profile._one(merged, side) for side in SIDES if merged[side]}
    if len(sides) < 2:
        have, wanted = (("inputs", "outputs") if SIDES[0] in sides else ("outputs", "inputs"))
        material, kg = next(iter(sides.values()))
        return (f"no ledger movement yet: transformation {shown} has its {have} ({kg} kg "
                f"{material.value}, events {_who(members)}); it is recorded once an event "
                f"with its {wanted} is captured")
    latest = max(members, key=lambda m: profile._moment(m)[0])
    day, today = profile._when(latest)
    op = profile.record_transformation(db, actor, merged, {**ext, **shared}, facility, day,
                                       today, set_note(transformation_id))
    return (f"{profile.operation_effect(op)} (transformation {shown}: events "
            f"{_who(members)})")
