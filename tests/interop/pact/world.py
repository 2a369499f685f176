"""A small PACT world on the custody chain of ``tests/custody_world.py``: the smelter (NO)
ships CoC aluminium to the rolling mill (the buyer) and to the remelter (another buyer),
documents are issued through the custody service and then given the footprint columns
that the footprint work fills, and the smelter's admin makes PACT client credentials for
the mill (and for the remelter)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from stewardship.custody import repository as custody_repo
from stewardship.custody.schemas import DocumentCreate, Refusal
from stewardship.custody.service import documents
from stewardship.interop.pact.schemas import PactClientCreate
from stewardship.interop.pact.service import clients
from tests import custody_world as cw
from tests.today import TODAY

TIERS = [{"tier": 1, "stage": "smelting", "entity": "Fjell Aluminium",
          "kg_co2e_per_kg": "6.100000", "primary": True},
         {"tier": 2, "stage": "refining", "entity": "Red Earth Bauxite",
          "kg_co2e_per_kg": "2.023456", "primary": False}]


@dataclass
class PactWorld:
    chain: cw.Chain
    client_id: str
    client_secret: str
    other_client_id: str
    other_client_secret: str
    mill_documents: list[str]
    """Numbers of the documents the mill's client sees (three, oldest first)."""
    hidden: dict[str, str]
    """Documents the mill's client must not see: why -> number."""


def _issue(db: Session, chain: cw.Chain, recipient: cw.Member, kg: int, description: str,
           footprint: str | None, *, days_ago: int, recycled: str | None = None) -> str:
    number = documents.issue_document(db, chain.smelter.user, DocumentCreate(
        recipient_entity_id=recipient.entity_id, material="asi_aluminium", quantity_kg=kg,
        coc_quantity_kg=kg, shipment_date=TODAY - timedelta(days=days_ago),
        description=description, recycled_percent=Decimal(recycled) if recycled else None,
        recycled_method="mass balance" if recycled else None), today=TODAY).number
    document = custody_repo.document_by_number(db, number)
    assert document is not None
    if footprint is not None:
        document.footprint_kg_co2e_per_kg = Decimal(footprint)
        document.footprint_primary_percent = Decimal("72.50")
        document.footprint_tiers = TIERS
    db.flush()
    return number


def build(db: Session, secret_key: str, *, events_base_url: str = "") -> PactWorld:
    chain = cw.build(db)
    cw.produce(db, chain.smelter, "asi_aluminium", 20_000, on=cw.YEAR_START)
    mill = [_issue(db, chain, chain.mill, 3_000, "5182 coil, 1.2 mm", "8.123456", days_ago=3),
            _issue(db, chain, chain.mill, 2_000, "Sheet ingot", "8.123456", days_ago=2,
                   recycled="12.5"),
            _issue(db, chain, chain.mill, 1_000, "", "4.5", days_ago=1)]
    hidden = {"other buyer": _issue(db, chain, chain.remelter, 1_500, "Billet",
                                        "7.25", days_ago=2),
              "no footprint": _issue(db, chain, chain.mill, 500, "Sow", None, days_ago=1),
              "cancelled": _issue(db, chain, chain.mill, 400, "T-bar", "9", days_ago=1)}
    documents.cancel_document(db, chain.smelter.user, hidden["cancelled"],
                              Refusal(reason="shipped twice"), today=TODAY)
    made = clients.create_client(db, chain.smelter.admin, PactClientCreate(
        name="Mill connector", buyer=chain.mill.slug, events_base_url=events_base_url,
        events_client_id="test_client_id" if events_base_url else "",
        events_client_secret="test_client_secret" if events_base_url else ""), secret_key)
    other = clients.create_client(db, chain.smelter.admin, PactClientCreate(
        name="Remelter connector", buyer=chain.remelter.slug), secret_key)
    db.flush()
    return PactWorld(chain, made.client_id, made.client_secret, other.client_id,
                     other.client_secret, mill, hidden)
