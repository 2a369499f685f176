"""An entity's carbon page: which entity it is and the footprints stated on the CoC
documents it issued most recently (read through the custody service), for the entity's own
organisation and the secretariat."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from stewardship.carbon.service.inventories import may_read, reader
from stewardship.core.auth import Actor
from stewardship.core.errors import NotFound
from stewardship.core.pagination import PageParams
from stewardship.custody.schemas import DocumentRead
from stewardship.custody.service import documents
from stewardship.registry import repository as registry_repo

RECENT = 8
"""How many of the entity's latest documents its page shows."""


@dataclass(frozen=True)
class EntityCarbon:
    entity_id: uuid.UUID
    name: str
    organization: str
    organization_name: str
    issued: list[DocumentRead]
    """Its latest documents as issuer, latest shipment first, each with its footprint."""


def entity_carbon(db: Session, actor: Actor | None, entity_id: uuid.UUID) -> EntityCarbon:
    """The entity and its latest issued documents; 404 for an entity the actor may not
    read the inventories of (another member's is not told apart from none)."""
    actor = reader(actor)
    entity = registry_repo.entity_by_id(db, entity_id)
    if entity is None or not may_read(actor, entity.organization_id):
        raise NotFound("no such entity of your organisation", field="entity")
    org = registry_repo.organization_by_id(db, entity.organization_id)
    assert org is not None
    page = documents.list_documents(db, actor, PageParams(1, 4 * RECENT),
                                    direction="outgoing", entity_id=entity_id,
                                    organization=org.slug if actor.is_secretariat() else None)
    issued = [d for d in page.items if d.issuer.entity_id == entity_id][:RECENT]
    return EntityCarbon(entity_id=entity.id, name=entity.name, organization=org.slug,
                        organization_name=org.name, issued=issued)
