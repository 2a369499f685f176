"""A CoC document as a verifiable credential: issued with the document, in its transaction,
and revoked in the transaction that cancels or rejects it.

The credential is a UN Transparency Protocol Digital Traceability Event (UNTP DTE 0.5.0,
``@context`` ``https://test.uncefact.org/vocabulary/untp/dte/0.5.0/``). Its subject is one
``TransactionEvent``, the transfer of CoC material from the issuer to the recipient, in
the event's own terms (``sourcePartyId``, ``destinationPartyId``, ``quantityList`` with
the shipped kilograms, ``bizStep``, ``disposition``); under ``chainOfCustody`` it states
what the scheme's document says beyond them: the material, the shipped and the CoC
quantities in whole kilograms, the shipment date and accounting period, the parties by
organisation and entity, the origin composition as stored, the recycled share with its
method, the issuer's certificates, the document's number, page and digest. UNTP defines
no term for these; the VC 2.0 base context maps undefined terms to issuer-dependent
IRIs, which is what they are. A UNTP credential may carry several events; a document is
one, so the subject is that event itself, as VC 2.0 allows.

Like a certificate's, the credential is recorded in the transparency log with a checkpoint
covering it (``core.issuance``), so its evidence names the log entry and its leaf hash."""

from __future__ import annotations

import uuid
from datetime import UTC
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from stewardship.core import issuance
from stewardship.core.auth import Actor
from stewardship.custody.models import CocDocument
from stewardship.custody.schemas import DocumentRead, Party
from stewardship.custody.service import footprints

KIND = "coc_document"
DTE_CONTEXT = "https://test.uncefact.org/vocabulary/untp/dte/0.5.0/"
TYPES = ["DigitalTraceabilityEvent"]
SHIPPING = "https://ref.gs1.org/cbv/BizStep-shipping"
IN_TRANSIT = "https://ref.gs1.org/cbv/Disp-in_transit"
CENT = Decimal("0.01")
"""Percentages as the document stores them, to two places (the same at issue as later)."""


def subject_ref(number: str) -> str:
    """The credential's subject as the event log names the document."""
    return f"coc_document:{number}"


def _party(organization_id: uuid.UUID, party: Party, **more: object) -> dict[str, object]:
    return {"organization": {"id": f"urn:stewardship:org:{organization_id}",
                             "name": party.organization_name},
            "entity": {"id": f"urn:stewardship:entity:{party.entity_id}",
                       "name": party.entity}, **more}


def footprint(db: Session, doc: CocDocument) -> dict[str, object] | None:
    """The product carbon footprint the document passes on, per kilogram of its CoC
    material, as the document states it (UNTP's emissions scorecard, with the breakdown by
    tier as the public page shows it: process and country, no entity names); None where
    the footprint is unknown, and the credential then states none (never a guessed one).
    Figures are decimal strings, exact as stored."""
    del db
    stated = footprints.read(doc, public=True)
    if not stated.known or stated.kg_co2e_per_kg is None:
        return None
    primary = stated.primary_percent
    return {
        "emissionsScorecard": {
            "carbonFootprint": str(stated.kg_co2e_per_kg), "declaredUnit": "kilogram",
            "operationalScope": "CradleToGate",
            "primarySourcedRatio": (str((primary / 100).quantize(Decimal("0.0001")))
                                    if primary is not None else None),
            "reportingStandard": stated.basis},
        "tiers": [{"tier": r.tier, "process": r.process, "country": r.country,
                   "kgCo2ePerKg": str(r.kg_co2e_per_kg), "primary": r.primary}
                  for r in stated.tiers],
    }


def traceability_event(doc: CocDocument, read: DocumentRead, base_url: str, *,
                       carbon: dict[str, object] | None = None) -> dict[str, object]:
    """The credential's subject: the document as a UNTP ``TransactionEvent``. ``carbon``
    is the footprint (see ``footprint``), stated under ``chainOfCustody.footprint`` only
    when there is one."""
    base = base_url.rstrip("/")
    page = f"{base}{read.verify_path}"
    certificate = f"{base}/certificates/"
    custody: dict[str, object] = {
        "documentNumber": doc.number,
        "documentURL": page,
        "documentDigest": read.digest,
        "material": doc.material,
        "materialName": read.material_label,
        "description": doc.description,
        "quantityKg": doc.quantity_kg,
        "cocQuantityKg": doc.coc_quantity_kg,
        "shipmentDate": doc.shipment_date.isoformat(),
        "period": {"start": doc.period_start.isoformat(), "end": doc.period_end.isoformat()},
        "issuer": _party(
            doc.issuer_organization_id, read.issuer,
            performanceCertificate=doc.issuer_performance_certificate,
            cocCertificate=doc.issuer_coc_certificate,
            certificateURLs=[certificate + n for n in (
                doc.issuer_performance_certificate, doc.issuer_coc_certificate) if n]),
        "recipient": _party(doc.recipient_organization_id, read.recipient),
        "originComposition": doc.composition,
        "origins": [{"facilityId": o.facility_id, "facility": o.facility,
                     "country": o.country, "route": o.route, "stage": o.stage,
                     "kilograms": o.kilograms, "percent": o.percent}
                    for o in read.composition.origins],
        "recycledShare": {"declaredPercent": (
                              None if doc.recycled_percent is None
                              else Decimal(doc.recycled_percent).quantize(CENT)),
                          "method": doc.recycled_method,
                          "byOriginPercent": read.composition.recycled_percent},
    }
    if carbon is not None:
        custody["footprint"] = carbon
    return {
        "type": ["TransactionEvent", "Event"],
        "id": f"urn:stewardship:coc-document:{doc.number}",
        "processType": "Chain of Custody transfer",
        "eventTime": read.issued_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "action": "Add",
        "bizStep": SHIPPING,
        "disposition": IN_TRANSIT,
        "sourcePartyId": f"urn:stewardship:org:{doc.issuer_organization_id}",
        "destinationPartyId": f"urn:stewardship:org:{doc.recipient_organization_id}",
        "quantityList": [{"productId": f"urn:stewardship:material:{doc.material}",
                          "productName": read.material_label,
                          "quantity": doc.quantity_kg, "uom": "KGM"}],
        "chainOfCustody": custody,
    }


def issue(db: Session, actor: Actor, doc: CocDocument, read: DocumentRead) -> None:
    """Issue the document's credential, in the caller's transaction."""
    issuer = issuance.current_issuer()
    issuance.issue(
        db, actor, issuer, kind=KIND, subject_ref=subject_ref(doc.number), types=TYPES,
        contexts=[DTE_CONTEXT],
        subject=traceability_event(doc, read, issuer.base_url, carbon=footprint(db, doc)),
        valid_from=read.issued_at, organization_id=str(doc.issuer_organization_id))


def planned(db: Session, doc: CocDocument, read: DocumentRead, issuer: issuance.Issuer,
            records: tuple[tuple[str, str, dict[str, Any]], ...]) -> issuance.Planned:
    """The document's credential as one of a batch (``issuance.issue_many``), after the
    document's own event-log entries (``records``): what ``issue`` signs for it alone."""
    return issuance.Planned(
        kind=KIND, subject_ref=subject_ref(doc.number), types=TYPES, contexts=[DTE_CONTEXT],
        subject=traceability_event(doc, read, issuer.base_url, carbon=footprint(db, doc)),
        valid_from=read.issued_at, organization_id=str(doc.issuer_organization_id),
        records=records)


def revoke(db: Session, actor: Actor, number: str) -> None:
    """The document was cancelled or rejected: its credential is revoked for good."""
    issuance.set_status(db, actor, subject_ref(number), revoked=True)


def credential_of(db: Session, number: str) -> issuance.IssuedCredential | None:
    """The document's credential (public, as the credential itself is), if it has one:
    documents issued before credentials were have none."""
    return issuance.latest_for(db, subject_ref(number.strip().upper()))
