"""What the chain of custody asks of carbon: the emissions an entity's own process adds to
each kilogram it puts out, from its inventory for the period."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlalchemy.orm import Session

from stewardship.carbon import repository, rules
from stewardship.carbon.rules import ProcessEmissions


def process_emissions(db: Session, entity_id: uuid.UUID, process: str, on: date
                      ) -> ProcessEmissions | None:
    """Scope 1 and 2 of the entity's inventory covering ``on`` (or, for a day whose period
    is not over yet, its latest inventory, if that ended within
    ``rules.LATEST_INVENTORY_DAYS``), allocated to ``process`` per kg of its output; None
    where the entity has no such inventory or the inventory does not cover the process."""
    inv = repository.inventory_covering(
        db, entity_id, on, ended_after=on - timedelta(days=rules.LATEST_INVENTORY_DAYS))
    if inv is None:
        return None
    outputs = {p.process: p.output_kg for p in inv.processes}
    if process not in outputs:
        return None
    own = inv.scope1_t + inv.pfc_t + inv.scope2_t
    per_kg = rules.process_intensity(own, outputs, process, inv.allocation,
                                     {p.process: p.declared_t for p in inv.processes})
    return ProcessEmissions(kg_co2e_per_kg=per_kg, primary=True)
