"""What the custody context asks someone to act on, for the dashboards: the documents a
member has to receive (or reject), oldest first, and the documents nobody has matched
some days after shipment (the secretariat). Each comes with the list page that shows
exactly those documents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from stewardship.core.auth import Actor, Role, require
from stewardship.core.errors import InvalidInput
from stewardship.custody import repository as repo
from stewardship.custody.rules import UNMATCHED_DAYS, CocMaterial
from stewardship.custody.service import common

WAITING_SHOWN = 5
"""How many of the documents waiting for receipt a dashboard names (oldest first)."""

WAITING_URL = "/custody/documents?" + urlencode({"direction": "incoming", "status": "issued"})


@dataclass(frozen=True)
class WaitingDocument:
    number: str
    issuer: str
    """The issuing entity's name."""
    issuer_organization: str
    material: str
    material_label: str
    coc_quantity_kg: int
    shipment_date: date
    issued_on: date
    days_waiting: int
    """Whole days since the document was issued."""


@dataclass(frozen=True)
class Waiting:
    total: int
    oldest: list[WaitingDocument]
    url: str = WAITING_URL
    """The document list filtered to exactly these documents."""


@dataclass(frozen=True)
class Unmatched:
    total: int
    days: int
    shipped_to: date
    """The latest shipment date counted: documents shipped on or before it."""

    @property
    def url(self) -> str:
        return "/custody/documents?" + urlencode({"status": "issued",
                                                  "shipped_to": self.shipped_to.isoformat()})


def waiting_for_receipt(db: Session, actor: Actor | None, *, shown: int = WAITING_SHOWN,
                        today: date | None = None) -> Waiting:
    """The CoC documents addressed to the member's own organisation that it has not yet
    received or rejected: how many, and the ones issued longest ago with the days each
    has waited. Only the member's own users ask."""
    actor = common.member(actor, "see the documents waiting for your receipt")
    assert actor.organization_id is not None
    day = common.today_or(today)
    total, rows = repo.waiting_for_receipt(db, actor.organization_id, shown)
    names = common.Names(db, [d.issuer_entity_id for d in rows])
    oldest = []
    for d in rows:
        issuer = names.party(d.issuer_entity_id)
        issued_on = d.issued_at.date()
        oldest.append(WaitingDocument(
            number=d.number, issuer=issuer.entity, issuer_organization=issuer.organization_name,
            material=d.material, material_label=CocMaterial(d.material).label,
            coc_quantity_kg=d.coc_quantity_kg, shipment_date=d.shipment_date,
            issued_on=issued_on, days_waiting=max(0, (day - issued_on).days)))
    return Waiting(total=total, oldest=oldest)


def unmatched(db: Session, actor: Actor | None, *, days: int = UNMATCHED_DAYS,
              today: date | None = None) -> Unmatched:
    """How many documents of any member still wait for their recipient more than ``days``
    after shipment (the secretariat's view of the whole scheme)."""
    require(actor, Role.SECRETARIAT, action="see unmatched CoC documents")
    if not 0 <= days <= 3650:
        raise InvalidInput("days is 0 to 3650", field="days")
    before = common.today_or(today) - timedelta(days=days)
    return Unmatched(total=repo.count_unmatched(db, before), days=days,
                     shipped_to=before - timedelta(days=1))
