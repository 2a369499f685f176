"""The chain behind a document, tier by tier, and the documents still waiting for their
recipient."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Row
from sqlalchemy.orm import Session

from stewardship.assurance.rules import add_months
from stewardship.core import labels
from stewardship.core.auth import Actor, Role, require
from stewardship.core.errors import InvalidInput, NotFound
from stewardship.core.pagination import PageParams
from stewardship.custody import repository as repo
from stewardship.custody import rules
from stewardship.custody.models import CocDocument
from stewardship.custody.origins import stored
from stewardship.custody.schemas import (
    ChainLink,
    ChainRead,
    ChainTier,
    DocumentPage,
    OriginShare,
    OriginSite,
    UnmatchedPair,
    UnmatchedRead,
    UpstreamShare,
)
from stewardship.custody.service import common
from stewardship.custody.service.documents import to_reads

MAX_DEPTH = 20
PER_TIER = 25
PER_DOCUMENT = 10


@dataclass(frozen=True)
class _Node:
    id: uuid.UUID
    number: str
    issuer_entity_id: uuid.UUID
    recipient_entity_id: uuid.UUID
    material: str
    coc_quantity_kg: int
    shipment_date: date
    period_start: date
    composition: str
    """The composition's stored text."""
    levels: str | None
    """The origin levels kept beside it (`origins.stored`), as text, or None."""
    levels_of: str | None


def _node(d: Row) -> _Node:  # type: ignore[type-arg]
    return _Node(d.id, d.number, d.issuer_entity_id, d.recipient_entity_id, d.material,
                 d.coc_quantity_kg, d.shipment_date, d.period_start, d.composition,
                 d.origin_levels, d.origin_levels_of)


def _root_node(d: CocDocument) -> _Node:
    return _Node(d.id, d.number, d.issuer_entity_id, d.recipient_entity_id, d.material,
                 d.coc_quantity_kg, d.shipment_date, d.period_start,
                 stored.composition_text(d.composition),
                 None if d.origin_levels is None else json.dumps(d.origin_levels),
                 d.origin_levels_of)


class _Kept:
    """What is known of one document's origins: its levels (plain tuples) and the
    facilities they name, for the composition text they belong to; and the origins last
    shown of them with the facility names they were shown with."""

    __slots__ = ("composition", "facilities", "levels", "names", "origins")

    def __init__(self, composition: str, levels: tuple[stored.LevelRow, ...]) -> None:
        self.composition = composition
        self.levels = levels
        self.facilities = stored.facilities(levels)
        self.names: tuple[tuple[str, str], ...] | None = None
        self.origins: list[OriginShare] = []


# What is known of each document's origins, kept between traces: a pure function of the
# document's composition (never rewritten after issue), its text compared again on every
# use, and of the facilities' names, compared again before the origins kept are shown, so
# what is kept can never be shown stale. Keeping the origins shown, not building them on
# every trace, also spares the garbage collector: a trace that built its ~9,000 models
# afresh brought on a full collection every 15 to 20 traces.
_ORIGINS: dict[uuid.UUID, _Kept] = {}
ORIGINS_KEPT = 50_000


def _levels(d: _Node) -> _Kept:
    """What is known of the document's origins: kept from an earlier trace, else the
    levels stored beside it when they and its composition read as they were written,
    else computed from the composition."""
    kept = _ORIGINS.get(d.id)
    if kept is not None and kept.composition == d.composition:
        return kept
    if d.levels is not None and d.levels_of == stored.digest(d.composition, d.levels):
        data = json.loads(d.levels)
    else:
        data = stored.levels_to_data(stored.levels_of(json.loads(d.composition)))
    kept = _Kept(d.composition, stored.levels_as_rows(data))
    if len(_ORIGINS) >= ORIGINS_KEPT:
        _ORIGINS.clear()
    _ORIGINS[d.id] = kept
    return kept


def _origins(kept: _Kept, names: common.Names,
             sites: dict[tuple[str, str, str, str], OriginSite]) -> list[OriginShare]:
    """`common.origins` of the document: those kept when shown with the same facility
    names, else built from its levels (with `model_construct`: the values are the
    platform's own, already checked); `sites`: the earlier-stage sites already built in
    this trace, shared by the documents that name them."""
    facility = names.facility
    if kept.names is not None and all(facility(f) == name for f, name in kept.names):
        return kept.origins
    stages = labels.STAGES

    def site(key: tuple[str, str, str]) -> OriginSite:
        stage, f, country = key
        name = facility(f)
        found = sites.get((stage, f, country, name))
        if found is None:
            found = sites[(stage, f, country, name)] = OriginSite.model_construct(
                stage=stage, stage_label=stages[stage], facility_id=f, facility=name,
                country=country)
        return found

    kept.origins = [OriginShare.model_construct(
        facility_id=f, facility=facility(f), country=c, route=route, stage=stage,
        stage_label=stages[stage], kilograms=kg, percent=percent,
        upstream=[UpstreamShare.model_construct(sites=[site(k) for k in keys],
                                                kilograms=ukg, percent=up)
                  for keys, ukg, up in upstream] if any(u[0] for u in upstream) else [])
        for stage, f, c, route, kg, percent, upstream in kept.levels]
    kept.names = tuple((f, facility(f)) for f in kept.facilities)
    return kept.origins


def chain(db: Session, actor: Actor | None, number: str, *, depth: int = 8) -> ChainRead:
    """The documents whose CoC material may have fed this one under mass balance: those
    its issuer received into the document's period or the periods its balance could be
    carried from, on or before the shipment date (the largest PER_DOCUMENT of them); then
    theirs, to `depth` tiers; each with its origins (facility, country, share). A tier
    is one statement for its windows, one for its new documents and one for its new
    issuers' settings. Shown to the document's two parties and the secretariat."""
    if actor is None:
        require(actor, action="see a document's chain")
    if not 1 <= depth <= MAX_DEPTH:
        raise InvalidInput(f"depth is 1 to {MAX_DEPTH}", field="depth")
    root = repo.document_by_number(db, number.strip().upper())
    if root is None or not (common.may_read(actor, root.issuer_organization_id)
                            or common.may_read(actor, root.recipient_organization_id)):
        raise NotFound(f"no CoC document '{number}'", field="number")
    tiers: list[list[_Node]] = [[_root_node(root)]]
    fed: dict[str, list[str]] = {}
    more: list[int] = [0]
    seen = {root.id.hex}
    months: dict[uuid.UUID, int] = {}
    truncated = False
    for level in range(1, depth + 1):
        parents = tiers[-1]
        unknown = list({p.issuer_entity_id for p in parents
                        if p.issuer_entity_id not in months})
        found_settings = repo.carry_months_of_entities(db, unknown)
        for entity_id in unknown:
            s = found_settings.get(entity_id)
            months[entity_id] = s[0] * s[1] if s else rules.DEFAULT_PERIOD_MONTHS
        windows = [(k, p.issuer_entity_id,
                    add_months(p.period_start, -months[p.issuer_entity_id]), p.period_start,
                    p.shipment_date) for k, p in enumerate(parents)]
        hidden = 0
        new: list[str] = []
        for k, total, ranked in repo.received_in_windows(db, windows, PER_DOCUMENT):
            hidden += total - min(total, PER_DOCUMENT)
            for doc_id, doc_number in ranked:
                fed.setdefault(doc_number, []).append(parents[k].number)
                if doc_id in seen:
                    continue
                seen.add(doc_id)
                if len(new) < PER_TIER:
                    new.append(doc_id)
                else:
                    hidden += 1
        if not new and not hidden:
            break
        rows = repo.chain_nodes(db, [uuid.UUID(i) for i in new])
        tiers.append([_node(rows[uuid.UUID(i)]) for i in new])
        more.append(hidden)
        if level == depth and new:
            truncated = True
    nodes = [d for t in tiers for d in t]
    known = {d.id: _levels(d) for d in nodes}
    names = common.Names(db, [d.issuer_entity_id for d in nodes]
                         + [d.recipient_entity_id for d in nodes],
                         list({f for k in known.values() for f in k.facilities}))

    sites: dict[tuple[str, str, str, str], OriginSite] = {}

    def link(d: _Node) -> ChainLink:
        return ChainLink(number=d.number, issuer=names.entity(d.issuer_entity_id),
                         recipient=names.entity(d.recipient_entity_id),
                         material=d.material, coc_quantity_kg=d.coc_quantity_kg,
                         shipment_date=d.shipment_date,
                         origins=_origins(known[d.id], names, sites),
                         fed=sorted(set(fed.get(d.number, []))))

    return ChainRead(number=root.number, truncated=truncated,
                     tiers=[ChainTier(depth=i, documents=[link(d) for d in t], more=more[i])
                            for i, t in enumerate(tiers)])


def unmatched(db: Session, actor: Actor | None, params: PageParams, *,
              days: int = rules.UNMATCHED_DAYS,
              today: date | None = None, organization: str | None = None) -> UnmatchedRead:
    """Documents issued but not received `days` after shipment, per issuer and recipient:
    a member sees those it sent or should confirm; the secretariat sees all."""
    actor = require(actor, Role.SECRETARIAT, Role.MEMBER_ADMIN, Role.MEMBER_USER,
                    action="see unmatched CoC documents")
    if not 0 <= days <= 3650:
        raise InvalidInput("days is 0 to 3650", field="days")
    day = common.today_or(today)
    before = day - timedelta(days=days)
    org_id = common.organization_for(db, actor, organization)
    pairs = repo.unmatched_by_pair(db, before, organization_id=org_id)
    names = common.Names(db, [p[0] for p in pairs] + [p[1] for p in pairs])
    page = repo.unmatched(db, before, params, organization_id=org_id)
    return UnmatchedRead(
        days=days,
        pairs=[UnmatchedPair(issuer=names.party(i), recipient=names.party(r), documents=n,
                             coc_quantity_kg=kg, oldest_shipment=oldest,
                             days_waiting=(day - oldest).days)
               for i, r, n, kg, oldest in pairs],
        documents=DocumentPage(items=to_reads(db, page.items), total=page.total,
                               page=page.page, per_page=page.per_page, pages=page.pages))
