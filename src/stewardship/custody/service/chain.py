"""The chain behind a document, tier by tier, and the documents still waiting for their
recipient."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from stewardship.assurance.rules import add_months
from stewardship.core.auth import Actor, Role, require
from stewardship.core.errors import InvalidInput, NotFound
from stewardship.core.pagination import PageParams
from stewardship.custody import repository as repo
from stewardship.custody.models import CocDocument
from stewardship.custody.schemas import (
    ChainLink,
    ChainRead,
    ChainTier,
    DocumentPage,
    UnmatchedPair,
    UnmatchedRead,
)
from stewardship.custody.service import common
from stewardship.custody.service.documents import to_reads
from stewardship.registry import repository as registry_repo

MAX_DEPTH = 20
PER_TIER = 25
PER_DOCUMENT = 10


def chain(db: Session, actor: Actor | None, number: str, *, depth: int = 8) -> ChainRead:
    """The documents whose CoC material may have fed this one under mass balance: those
    its issuer received into the document's period or the periods its balance could be
    carried from, on or before the shipment date; then theirs, to `depth` tiers. Shown
    to the document's two parties and the secretariat."""
    if actor is None:
        require(actor, action="see a document's chain")
    if not 1 <= depth <= MAX_DEPTH:
        raise InvalidInput(f"depth is 1 to {MAX_DEPTH}", field="depth")
    root = repo.document_by_number(db, number.strip().upper())
    if root is None or not (common.may_read(actor, root.issuer_organization_id)
                            or common.may_read(actor, root.recipient_organization_id)):
        raise NotFound(f"no CoC document '{number}'", field="number")
    tiers: list[list[CocDocument]] = [[root]]
    fed: dict[str, list[str]] = {}
    more: list[int] = [0]
    seen = {root.id}
    windows: dict[object, int] = {}
    truncated = False
    for level in range(1, depth + 1):
        found: list[CocDocument] = []
        hidden = 0
        for doc in tiers[-1]:
            months = windows.get(doc.issuer_entity_id)
            if months is None:
                entity = registry_repo.entity_by_id(db, doc.issuer_entity_id)
                assert entity is not None
                s = common.settings_of(db, entity)
                months = windows[doc.issuer_entity_id] = s.period_months * s.carry_over_expiry
            since = add_months(doc.period_start, -months)
            rows, total = repo.received_into(db, doc.issuer_entity_id, since, doc.period_start,
                                             doc.shipment_date, PER_DOCUMENT)
            hidden += total - len(rows)
            for row in rows:
                fed.setdefault(row.number, []).append(doc.number)
                if row.id in seen:
                    continue
                seen.add(row.id)
                if len(found) < PER_TIER:
                    found.append(row)
                else:
                    hidden += 1
        if not found and not hidden:
            break
        tiers.append(found)
        more.append(hidden)
        if level == depth and any(True for _ in found):
            truncated = True
    names = common.Names(db, [d.issuer_entity_id for t in tiers for d in t]
                         + [d.recipient_entity_id for t in tiers for d in t])

    def link(d: CocDocument) -> ChainLink:
        return ChainLink(number=d.number, issuer=names.party(d.issuer_entity_id).entity,
                         recipient=names.party(d.recipient_entity_id).entity,
                         material=d.material, coc_quantity_kg=d.coc_quantity_kg,
                         shipment_date=d.shipment_date, fed=sorted(set(fed.get(d.number, []))))

    return ChainRead(number=root.number, truncated=truncated,
                     tiers=[ChainTier(depth=i, documents=[link(d) for d in t], more=more[i])
                            for i, t in enumerate(tiers)])


def unmatched(db: Session, actor: Actor | None, params: PageParams, *, days: int = 30,
              today: date | None = None, organization: str | None = None) -> UnmatchedRead:
    """Documents issued but not received `days` after shipment, per issuer and recipient:
    a member sees those it sent or should confirm; the secretariat sees all."""
    actor = require(actor, Role.SECRETARIAT, Role.MEMBER_ADMIN, Role.MEMBER_USER,
                    action="see unmatched CoC documents")
    if not 0 <= days <= 3650:
        raise InvalidInput("days is 0 to 3650", field="days")
    day = common.today_or(today)
    before = day - timedelta(days=days)
    org_id = actor.organization_id
    if actor.is_secretariat():
        org_id = None
        if organization:
            org = registry_repo.organization_by_slug(db, organization)
            if org is None:
                raise NotFound(f"no organisation '{organization}'", field="organization")
            org_id = org.id
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
