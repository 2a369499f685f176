"""The footprints a PACT client sees: its supplier's standing CoC documents addressed to
its buyer organisation that state a footprint, each translated by ``rules``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from stewardship.core import labels
from stewardship.custody.models import CocDocument
from stewardship.interop.pact import repository as repo
from stewardship.interop.pact import rules
from stewardship.interop.pact.models import PactClient
from stewardship.registry.models import Entity, Organization


def _facts(document: CocDocument, issuer: Organization, recipient: Organization,
           entity: Entity, country: str) -> rules.DocumentFacts:
    assert document.footprint_kg_co2e_per_kg is not None
    return rules.DocumentFacts(
        id=document.id, number=document.number, material=document.material,
        material_label=labels.label(document.material), description=document.description,
        quantity_kg=document.quantity_kg, coc_quantity_kg=document.coc_quantity_kg,
        shipment_date=document.shipment_date, period_start=document.period_start,
        period_end=document.period_end, issued_at=document.issued_at,
        footprint=Decimal(document.footprint_kg_co2e_per_kg),
        primary_percent=(Decimal(document.footprint_primary_percent)
                         if document.footprint_primary_percent is not None else None),
        tiers=list(document.footprint_tiers or []),
        recycled_percent=(Decimal(document.recycled_percent)
                          if document.recycled_percent is not None else None),
        recycled_method=document.recycled_method, composition=document.composition or {},
        issuer_slug=issuer.slug, issuer_name=issuer.name, issuer_entity_id=entity.id,
        issuer_entity_name=entity.name, country=country,
        performance_certificate=document.issuer_performance_certificate,
        coc_certificate=document.issuer_coc_certificate, recipient_name=recipient.name)


def _translate(db: Session, rows: Sequence[tuple[CocDocument, Organization, Organization,
                                                 Entity]],
               version: int, schema_url: str) -> list[dict[str, Any]]:
    countries = repo.entity_countries(db, [e.id for *_, e in rows])
    make = rules.footprint_v3 if version >= 3 else rules.footprint_v2
    return [make(_facts(d, i, r, e, countries.get(e.id, i.country)), schema_url)
            for d, i, r, e in rows]


def all_footprints(db: Session, client: PactClient, version: int,
                   schema_url: str) -> list[dict[str, Any]]:
    rows = repo.footprint_documents(db, client.organization_id, client.buyer_organization_id)
    return _translate(db, rows, version, schema_url)


def _rows_read_on_footprints(db: Session, client: PactClient, filters: rules.Filters,
                             columns: rules.ColumnFilters, schema_url: str,
                             ) -> list[tuple[CocDocument, Organization, Organization, Entity]]:
    """The documents the column filters find, then those whose v3 footprint passes the
    filters read on it (geography, classification)."""
    rows = repo.footprint_documents(db, client.organization_id, client.buyer_organization_id,
                                    columns)
    return [row for row, fp in zip(rows, _translate(db, rows, 3, schema_url), strict=True)
            if rules.matches(fp, filters)]


def matching_footprints(db: Session, client: PactClient, filters: rules.Filters, *,
                        version: int, schema_url: str) -> list[dict[str, Any]]:
    """Every footprint of the client's that passes the filters (as a request for
    footprints asks), oldest issue first: the column filters are the query's, as for a
    list, and only what they cannot say is read on the translated footprints."""
    columns = rules.column_filters(filters)
    if columns.nothing:
        return []
    if columns.complete:
        rows = repo.footprint_documents(db, client.organization_id,
                                        client.buyer_organization_id, columns)
    else:
        rows = _rows_read_on_footprints(db, client, filters, columns, schema_url)
    return _translate(db, rows, version, schema_url)


@dataclass(frozen=True)
class FootprintPage:
    items: list[dict[str, Any]]
    next_offset: int | None
    limit: int


def list_footprints(db: Session, client: PactClient, filters: rules.Filters, *,
                    version: int, schema_url: str, default_limit: int) -> FootprintPage:
    """One page of the client's footprints that pass the filters (v3 filters are read on
    the v3 shape; v2 lists take no filters but the page). The filters that map to the
    documents' columns, and the page, are the query's; geography and classification, read
    on the translated footprint, are applied to what the query found."""
    limit = filters.limit or default_limit
    columns = rules.column_filters(filters)
    if columns.nothing:
        return FootprintPage([], None, limit)
    supplier, buyer = client.organization_id, client.buyer_organization_id
    if columns.complete:
        rows = repo.footprint_documents(db, supplier, buyer, columns, offset=filters.offset,
                                        limit=limit + 1)
        more = len(rows) > limit
        return FootprintPage(_translate(db, rows[:limit], version, schema_url),
                             filters.offset + limit if more else None, limit)
    kept = _rows_read_on_footprints(db, client, filters, columns, schema_url)
    page = kept[filters.offset:filters.offset + limit]
    more = filters.offset + limit < len(kept)
    return FootprintPage(_translate(db, page, version, schema_url),
                         filters.offset + limit if more else None, limit)


def get_footprint(db: Session, client: PactClient, footprint_id: str, *, version: int,
                  schema_url: str) -> dict[str, Any]:
    """One footprint, or 404 (NotFound in v3, NoSuchFootprint in v2) for an id that is no
    footprint this client may see: another buyer's is not told apart from none."""
    try:
        pk = uuid.UUID(footprint_id)
    except ValueError:
        raise rules.bad_request(f"{footprint_id[:80]!r} is not a footprint id (a UUID)") from None
    row = repo.footprint_document(db, client.organization_id, client.buyer_organization_id,
                                  pk)
    if row is None:
        raise rules.not_found(version, f"no footprint {pk} is available to you")
    return _translate(db, [row], version, schema_url)[0]
