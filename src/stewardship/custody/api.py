"""REST API of the chain of custody: /api/v1/custody.

Material accounts per entity, material and accounting period; the journal of what moved
them; production, scrap intake, non-CoC inputs and transformations; CoC documents issued
to customers, received or rejected by them or cancelled by their issuer; the chain behind
a document; the public verification of a document number; period close; and, for the
secretariat, the conservation audit and the network's flows. Quantities are whole
kilograms. Every body is JSON; the network diagram answers ``image/svg+xml``.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from fastapi.responses import Response

from stewardship.core import clock
from stewardship.core.web import CurrentActor, DbSession, Pagination
from stewardship.custody.charts import sankey
from stewardship.custody.rules import UNMATCHED_DAYS, CocMaterial
from stewardship.custody.schemas import (
    AccountHistory,
    AccountPage,
    AccountRead,
    AnnualReport,
    AuditResult,
    ChainRead,
    CloseResult,
    DocumentBatch,
    DocumentBatchRead,
    DocumentCreate,
    DocumentPage,
    DocumentRead,
    DocumentVerification,
    NetworkFlows,
    NonCocInputCreate,
    OperationPage,
    OperationRead,
    PeriodClose,
    PeriodRead,
    ProductionCreate,
    Receipt,
    Refusal,
    ReversalCreate,
    ScrapIntakeCreate,
    SettingsRead,
    SettingsUpdate,
    TransformationCreate,
    UnmatchedRead,
)
from stewardship.custody.service import (
    audit,
    batch,
    chain,
    documents,
    inputs,
    periods,
    reads,
    reports,
    reversals,
)

router = APIRouter(prefix="/api/v1/custody", tags=["custody"])

Slug = Annotated[str | None, Query(max_length=80, description="Organisation slug "
                                                             "(secretariat)")]
Number = Annotated[str, Path(max_length=40, description="CoC document number, e.g. "
                                                        "COC-2026-7KQ2M9XD")]
Year = Annotated[int | None, Query(ge=2000, le=2100, description="Calendar year; "
                                                                 "this year when left out")]
OPERATION_KINDS = ("production|scrap_intake|non_coc_input|transformation|issue|receipt|"
                   "rejection|cancellation|period_close|reversal")
SVG_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/svg+xml": {"schema": {"type": "string"}}},
          "description": "An SVG image"}}


def _year(year: int | None) -> int:
    return year if year is not None else clock.today().year


# --- accounts and the journal -----------------------------------------------------------


@router.get("/accounts", response_model=AccountPage)
def list_accounts(db: DbSession, actor: CurrentActor, paging: Pagination,
                  entity_id: uuid.UUID | None = None, material: CocMaterial | None = None,
                  period_start: date | None = None,
                  status: Annotated[str | None, Query(pattern="^(open|closed)$")] = None,
                  organization: Slug = None) -> AccountPage:
    """Material accounts, one per entity, material and accounting period, with their
    counters, balance, CoC input percentage and the origins of the balance: your
    organisation's own (another member's entity gives 404); every member's, or one
    named, for the secretariat."""
    return reads.list_accounts(db, actor, paging, entity_id=entity_id, material=material,
                               period_start=period_start, status=status,
                               organization=organization)


@router.get("/accounts/{account_id}", response_model=AccountRead)
def get_account(db: DbSession, actor: CurrentActor, account_id: uuid.UUID) -> AccountRead:
    """One material account (its organisation and the secretariat; 404 for anyone
    else)."""
    return reads.get_account(db, actor, account_id)


@router.get("/accounts/{account_id}/history", response_model=AccountHistory)
def account_history(db: DbSession, actor: CurrentActor,
                    account_id: uuid.UUID) -> AccountHistory:
    """The account's balance at the end of each day it moved, from its journal legs, in
    whole kilograms (its organisation and the secretariat; 404 for anyone else)."""
    return reads.account_history(db, actor, account_id)


@router.get("/entities/{entity_id}/operations", response_model=OperationPage)
def list_operations(db: DbSession, actor: CurrentActor, entity_id: uuid.UUID,
                    paging: Pagination,
                    kind: Annotated[str | None, Query(pattern=f"^({OPERATION_KINDS})$",
                                                      description="Only this kind")] = None,
                    ) -> OperationPage:
    """The entity's custody journal, newest first: every production, scrap intake,
    non-CoC input, transformation (with the typical yield beside the declared one),
    document issued, received, rejected or cancelled, period close and reversal. A
    reversed entry names its reversal (``reversed_by``), a reversal the entry it undoes
    (``reverses``) and its reason (``note``)."""
    return reads.list_operations(db, actor, entity_id, paging, kind=kind)


@router.get("/operations/{operation_id}", response_model=OperationRead)
def get_operation(db: DbSession, actor: CurrentActor,
                  operation_id: uuid.UUID) -> OperationRead:
    """One journal entry (its organisation and the secretariat; 404 for anyone else)."""
    return reads.get_operation(db, actor, operation_id)


@router.post("/operations/{operation_id}/reverse", response_model=OperationRead,
             status_code=status.HTTP_201_CREATED)
def reverse_operation(db: DbSession, actor: CurrentActor, operation_id: uuid.UUID,
                      body: ReversalCreate) -> OperationRead:
    """Reverse a mistaken production, scrap intake, non-CoC input or transformation of
    your organisation, with the reason: a journal entry of its own that moves the
    kilograms, counters and origins back; the reversed entry stays in the journal.
    Refused (409) when the material it credited has already left the balance (issued or
    transformed since), when it is already reversed, or when its period is closed; (422)
    for a reversal or an entry with its own correction (a document is cancelled)."""
    return reversals.reverse_operation(db, actor, operation_id, body)


@router.get("/entities/{entity_id}/periods", response_model=list[PeriodRead])
def list_periods(db: DbSession, actor: CurrentActor,
                 entity_id: uuid.UUID) -> list[PeriodRead]:
    """The entity's accounting periods that hold accounts, and whether each is open or
    closed."""
    return reads.periods(db, actor, entity_id)


@router.get("/entities/{entity_id}/settings", response_model=SettingsRead)
def get_settings(db: DbSession, actor: CurrentActor, entity_id: uuid.UUID) -> SettingsRead:
    """The entity's accounting period length and carry-over rule (the defaults until a
    member admin sets them)."""
    return periods.get_settings(db, actor, entity_id)


@router.put("/entities/{entity_id}/settings", response_model=SettingsRead)
def update_settings(db: DbSession, actor: CurrentActor, entity_id: uuid.UUID,
                    body: SettingsUpdate) -> SettingsRead:
    """Set the period length (1, 3 or 12 months) and the carry-over cap and expiry
    (member admin). The period length is fixed once the entity has an account (409)."""
    return periods.update_settings(db, actor, entity_id, body)


@router.get("/entities/{entity_id}/report", response_model=AnnualReport)
def annual_report(db: DbSession, actor: CurrentActor, entity_id: uuid.UUID,
                  year: Year = None) -> AnnualReport:
    """The entity's annual CoC report: inputs and outputs of every material over the
    periods starting in the year, and its transformations by kind with their average and
    typical yields; computed from the ledger."""
    return reports.annual_report(db, actor, entity_id, _year(year))


# --- what comes in ----------------------------------------------------------------------


@router.post("/production", response_model=OperationRead, status_code=status.HTTP_201_CREATED)
def record_production(db: DbSession, actor: CurrentActor,
                      body: ProductionCreate) -> OperationRead:
    """Record CoC material produced at a certified origin facility of your entity:
    bauxite at a mine, alumina at a refinery, aluminium at a smelter. Refused (409)
    without valid Performance and CoC certificates on the day, or when it would bring the
    facility's output beyond its capacity for the accounting period (the annual capacity
    of the activity, prorated); the secretariat may record such output for the member's
    entity with `capacity_override_reason`, which is kept on the operation and in the
    event log."""
    return inputs.record_production(db, actor, body)


@router.post("/scrap-intake", response_model=OperationRead,
             status_code=status.HTTP_201_CREATED)
def record_scrap_intake(db: DbSession, actor: CurrentActor,
                        body: ScrapIntakeCreate) -> OperationRead:
    """Record eligible scrap taken in at a remelting facility of your entity after due
    diligence (pre- or post-consumer); it counts as recycled in the origins."""
    return inputs.record_scrap_intake(db, actor, body)


@router.post("/non-coc-inputs", response_model=OperationRead,
             status_code=status.HTTP_201_CREATED)
def record_non_coc_input(db: DbSession, actor: CurrentActor,
                         body: NonCocInputCreate) -> OperationRead:
    """Record material taken in without CoC status: it never adds to the balance and
    counts only for the CoC input percentage."""
    return inputs.record_non_coc_input(db, actor, body)


@router.post("/transformations", response_model=OperationRead,
             status_code=status.HTTP_201_CREATED)
def record_transformation(db: DbSession, actor: CurrentActor,
                          body: TransformationCreate) -> OperationRead:
    """Record a transformation as it physically happened at a facility of your entity
    that hosts the step: `total_input_kg` (all input, CoC or not), `total_output_kg` and
    `coc_input_kg` (the CoC part of the input). The CoC input leaves the balance and the
    CoC input times the yield (total output / total input) arrives as CoC output; the
    answer gives the yield and the CoC input percentage. A yield beyond physics (alumina
    to aluminium above 0.5293, bauxite to alumina above 0.85, any metal step above 1) is
    refused (422); CoC input beyond the balance, or output beyond the facility's capacity
    for the period, is a conflict (409).

    The older body, `input_kg` at a `declared_yield`, is still taken and means that all
    of the input was CoC."""
    return inputs.record_transformation(db, actor, body)


# --- documents --------------------------------------------------------------------------


@router.post("/documents", response_model=DocumentRead, status_code=status.HTTP_201_CREATED)
def issue_document(db: DbSession, actor: CurrentActor, body: DocumentCreate) -> DocumentRead:
    """Issue a CoC document to a customer's entity: the CoC quantity leaves your balance
    with its share of the origins. Refused (409) without valid Performance and CoC
    certificates on the shipment date or beyond the available balance."""
    return documents.issue_document(db, actor, body)


@router.post("/documents/batch", response_model=DocumentBatchRead,
             status_code=status.HTTP_201_CREATED)
def issue_documents(db: DbSession, actor: CurrentActor, body: DocumentBatch
                    ) -> DocumentBatchRead:
    """Issue up to 1,000 CoC documents in one request (an ERP's shipments), all or
    nothing: each item is checked as ``POST /documents`` checks one, in order (a later
    item may draw what an earlier one left). The first refused item refuses the batch
    with the single document's status (422 or 409), its index and field named
    (``items.<i>.<field>``), and nothing is issued; more than 1,000 items is 422."""
    reads = batch.issue_documents(db, actor, body.items)
    return DocumentBatchRead(count=len(reads), items=reads)


@router.get("/documents", response_model=DocumentPage)
def list_documents(
    db: DbSession, actor: CurrentActor, paging: Pagination,
    direction: Annotated[str | None, Query(pattern="^(incoming|outgoing)$")] = None,
    status: Annotated[str | None, Query(
        pattern="^(issued|received|rejected|cancelled)$")] = None,
    material: CocMaterial | None = None, entity_id: uuid.UUID | None = None,
    shipped_from: date | None = None, shipped_to: date | None = None,
    q: Annotated[str | None, Query(max_length=40, description="Part of the number")] = None,
    organization: Slug = None,
) -> DocumentPage:
    """CoC documents your organisation issued (outgoing) or must confirm (incoming),
    newest shipment first; the secretariat sees every one, or one organisation's."""
    return documents.list_documents(db, actor, paging, direction=direction, status=status,
                                    material=material, entity_id=entity_id,
                                    shipped_from=shipped_from, shipped_to=shipped_to, q=q,
                                    organization=organization)


@router.get("/documents/{number}", response_model=DocumentRead)
def get_document(db: DbSession, actor: CurrentActor, number: Number) -> DocumentRead:
    """The whole document with its digest: its two parties and the secretariat (404 for
    anyone else)."""
    return documents.get_document(db, actor, number)


@router.post("/documents/{number}/receive", response_model=DocumentRead)
def receive_document(db: DbSession, actor: CurrentActor, number: Number,
                     body: Receipt | None = None) -> DocumentRead:
    """Confirm receipt (the named recipient only; the body may be left out for today):
    the CoC quantity and its origins arrive in the account of the receipt date's period.
    A second receipt, or one after rejection or cancellation, is a conflict (409)."""
    return documents.receive_document(db, actor, number, body or Receipt())


@router.post("/documents/{number}/reject", response_model=DocumentRead)
def reject_document(db: DbSession, actor: CurrentActor, number: Number,
                    body: Refusal) -> DocumentRead:
    """Refuse a document with the reason (the named recipient only): its CoC quantity
    returns to the issuer."""
    return documents.reject_document(db, actor, number, body)


@router.post("/documents/{number}/cancel", response_model=DocumentRead)
def cancel_document(db: DbSession, actor: CurrentActor, number: Number,
                    body: Refusal) -> DocumentRead:
    """Withdraw a document before it is received, with the reason (the issuer only): its
    CoC quantity returns to the issuer's balance."""
    return documents.cancel_document(db, actor, number, body)


@router.get("/documents/{number}/chain", response_model=ChainRead)
def document_chain(db: DbSession, actor: CurrentActor, number: Number,
                   depth: Annotated[int, Query(ge=1, le=chain.MAX_DEPTH,
                                               description="Tiers to walk back")] = 8,
                   ) -> ChainRead:
    """The documents whose CoC material may have fed this one under mass balance, tier by
    tier back towards the origins (the document's two parties and the secretariat)."""
    return chain.chain(db, actor, number, depth=depth)


@router.get("/verify/{number}", response_model=DocumentVerification)
def verify_document(db: DbSession, number: Number) -> DocumentVerification:
    """Verify a CoC document by its number: who passed what to whom, whether the issuer's
    certificates were valid on the shipment date, the origins and the digest. Public."""
    return documents.verify_document(db, number)


@router.get("/unmatched", response_model=UnmatchedRead)
def unmatched(db: DbSession, actor: CurrentActor, paging: Pagination,
              days: Annotated[int, Query(ge=0, le=3650,
                                         description="Days since shipment")] = UNMATCHED_DAYS,
              organization: Slug = None) -> UnmatchedRead:
    """Documents issued but not received `days` after shipment, per issuer and recipient:
    a member's own, sent or to confirm; every one for the secretariat."""
    return chain.unmatched(db, actor, paging, days=days, organization=organization)


# --- periods ----------------------------------------------------------------------------


@router.post("/periods/close", response_model=CloseResult)
def close_period(db: DbSession, actor: CurrentActor, body: PeriodClose) -> CloseResult:
    """Close an ended accounting period of your entity: each material's positive balance
    is carried into the next period by the carry-over rule, with its origins; the rest
    expires. Periods close in order (409 otherwise)."""
    return periods.close_period(db, actor, body)


# --- the secretariat's views of the network ---------------------------------------------


@router.get("/audit", response_model=AuditResult)
def run_audit(db: DbSession, actor: CurrentActor) -> AuditResult:
    """Run the conservation audit over the whole ledger (secretariat): balances against
    their movements, paired legs, origins, yields within physics, and across the network
    nothing received beyond what was issued. Each problem names the entity and period."""
    return audit.audit(db, actor)


@router.get("/network", response_model=NetworkFlows)
def network(db: DbSession, actor: CurrentActor, year: Year = None) -> NetworkFlows:
    """CoC kilograms shipped in the year between activities, per material (secretariat):
    every link, each marked whether the public view publishes it (``published``: at
    least three issuing entities contribute to it)."""
    return reports.network_flows(db, actor, _year(year))


@router.get("/flows", response_model=NetworkFlows)
def published_flows(db: DbSession, year: Year = None) -> NetworkFlows:
    """The network's flows as published, to anyone: only the links at least three
    issuing entities contribute to, so that no member's trade can be read from one.
    Public."""
    return reports.published_flows(db, _year(year))


@router.get("/network.svg", response_class=Response, responses=SVG_RESPONSE)
def network_svg(db: DbSession, actor: CurrentActor, year: Year = None) -> Response:
    """The same flows as a Sankey diagram (secretariat): every link, those not published
    dashed. With no flow in the year the answer is still 200 and a valid SVG that says
    so."""
    flows = reports.network_flows(db, actor, _year(year))
    drawing = sankey(flows.links, reports.STAGES, reports.STAGE_LABELS) or _empty_svg(flows)
    return Response(drawing, media_type="image/svg+xml")


def _empty_svg(flows: NetworkFlows) -> str:
    text = f"No CoC document was shipped in {flows.year}"
    return ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 900 120" role="img" '
            'aria-labelledby="sankey-title" class="chart sankey empty">'
            '<title id="sankey-title">CoC material flows between activities</title>'
            f'<text x="450" y="64" font-size="14" text-anchor="middle">{text}</text></svg>')
