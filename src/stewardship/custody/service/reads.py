"""Reading accounts and the journal: an organisation's own users and the secretariat."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from stewardship.core import labels
from stewardship.core.auth import Actor, Role, require
from stewardship.core.errors import NotFound
from stewardship.core.pagination import PageParams
from stewardship.custody import repository as repo
from stewardship.custody import rules
from stewardship.custody.models import CustodyOperation, MaterialAccount
from stewardship.custody.repository import AccountFilter
from stewardship.custody.rules import CocMaterial
from stewardship.custody.schemas import (
    AccountHistory,
    AccountPage,
    AccountRead,
    BalancePoint,
    OperationPage,
    OperationRead,
    Party,
    PeriodRead,
)
from stewardship.custody.service import common

KIND_LABELS = dict(labels.OPERATION_KINDS)
"""Each journal kind as the journal names it."""


def operation_reads(db: Session, ops: list[CustodyOperation], *,
                    new: bool = False) -> list[OperationRead]:
    """Journal rows as read models, their facilities' public ids, documents and
    reversals fetched in one batch each. ``new``: rows just written in this
    transaction, which nothing can have reversed yet."""
    facilities = repo.public_ids_of_facilities(
        db, [op.facility_id for op in ops if op.facility_id is not None])
    numbers = repo.document_numbers(db, [op.document_id for op in ops
                                         if op.document_id is not None])
    reversals = {} if new else repo.reversals_of(
        db, [op.id for op in ops if op.kind in rules.REVERSIBLE_KINDS])
    return [_operation_read(op, facilities, numbers, reversals) for op in ops]


def _operation_read(op: CustodyOperation, facilities: dict[uuid.UUID, str],
                    numbers: dict[uuid.UUID, str],
                    reversals: dict[uuid.UUID, CustodyOperation]) -> OperationRead:
    totals: tuple[int | None, int | None, Decimal | None] = (None, None, None)
    if op.kind == "transformation":
        # Rows from before totals were recorded took CoC input only.
        total_in = op.total_input_kg if op.total_input_kg is not None else op.input_kg or 0
        total_out = op.total_output_kg if op.total_output_kg is not None else op.kilograms
        coc_in = op.input_kg or 0
        totals = (total_in, total_out,
                  rules.input_percentage(coc_in, max(total_in - coc_in, 0)))
    return OperationRead(
        id=op.id, entity_id=op.entity_id, kind=op.kind, material=op.material,
        source_material=op.source_material, transformation=op.transformation,
        facility_id=facilities[op.facility_id] if op.facility_id else None,
        input_kg=op.input_kg, kilograms=op.kilograms, declared_yield=op.declared_yield,
        typical_yield=(rules.typical_yield(rules.Transformation(op.transformation)).label
                       if op.transformation else None),
        scrap_kind=op.scrap_kind, occurred_on=op.occurred_on, period_start=op.period_start,
        document=numbers.get(op.document_id) if op.document_id else None, note=op.note,
        recorded_at=op.recorded_at, reverses=op.reverses_id,
        reversed_by=reversals[op.id].id if op.id in reversals else None,
        reversible=rules.reversal_refusal(op.kind) is None and op.id not in reversals,
        total_input_kg=totals[0], total_output_kg=totals[1],
        coc_input_percent=totals[2], capacity_override=op.capacity_override)


def operation_read(db: Session, op: CustodyOperation, *, new: bool = False) -> OperationRead:
    return operation_reads(db, [op], new=new)[0]


def get_operation(db: Session, actor: Actor | None, operation_id: uuid.UUID) -> OperationRead:
    """One journal entry: its organisation's users and the secretariat (404 for anyone
    else)."""
    if actor is None:
        require(actor, action="see the custody journal")
    op = repo.operation_by_id(db, operation_id)
    if op is None or not common.may_read(actor, op.organization_id):
        raise NotFound("no such journal entry", field="operation_id")
    return operation_read(db, op)


def account_reads(db: Session, rows: list[MaterialAccount]) -> list[AccountRead]:
    names = common.Names(db, [r.entity_id for r in rows],
                         common.pool_facilities(*(r.pool for r in rows)))
    out = []
    for r in rows:
        b = common.balance(r)
        out.append(AccountRead(
            id=r.id, entity=names.party(r.entity_id), material=CocMaterial(r.material),
            material_label=CocMaterial(r.material).label, period_start=r.period_start,
            period_end=r.period_end, status=r.status, carried_in=r.carried_in,
            produced=r.produced, received=r.received, transformed_in=r.transformed_in,
            transformed_out=r.transformed_out, issued=r.issued, non_coc_in=r.non_coc_in,
            carried_out=r.carried_out, expired=r.expired, balance_kg=r.balance_kg,
            input_percentage=rules.input_percentage(b.coc_in, r.non_coc_in),
            composition=common.composition(r.pool, names)))
    return out


def list_accounts(db: Session, actor: Actor | None, params: PageParams, *,
                  entity_id: uuid.UUID | None = None, material: CocMaterial | None = None,
                  period_start: date | None = None, status: str | None = None,
                  organization: str | None = None) -> AccountPage:
    """Accounts of the actor's organisation (the secretariat: anyone's, or one named)."""
    actor = require(actor, Role.SECRETARIAT, Role.MEMBER_ADMIN, Role.MEMBER_USER,
                    action="see material accounts")
    org_id = common.organization_for(db, actor, organization)
    if entity_id is not None:
        common.readable_entity(db, actor, entity_id)
    page = repo.list_accounts(db, AccountFilter(
        organization_id=org_id, entity_id=entity_id,
        material=material.value if material else None, period_start=period_start,
        status=status), params)
    return AccountPage(items=account_reads(db, page.items), total=page.total, page=page.page,
                       per_page=page.per_page, pages=page.pages)


def get_account(db: Session, actor: Actor | None, account_id: uuid.UUID) -> AccountRead:
    row = repo.account_by_id(db, account_id)
    if row is None or not common.may_read(actor, row.organization_id):
        raise NotFound("no such account", field="account_id")
    return account_reads(db, [row])[0]


def account_history(db: Session, actor: Actor | None, account_id: uuid.UUID) -> AccountHistory:
    """The account and its balance at the end of each day it moved, from its journal
    legs (its organisation's users and the secretariat; 404 for anyone else)."""
    if actor is None:
        require(actor, action="see material accounts")
    row = repo.account_by_id(db, account_id)
    if row is None or not common.may_read(actor, row.organization_id):
        raise NotFound("no such account", field="account_id")
    return AccountHistory(account=account_reads(db, [row])[0],
                          points=daily_balances(repo.account_movements(db, row.id),
                                                row.period_start, row.period_end))


def daily_balances(legs: list[tuple[date, int]], start: date, end: date) -> list[BalancePoint]:
    """One point per day with movements, in day order: the day's net change and the
    balance after it. A leg dated outside the period (a carry-over booked on the last day
    of the period before) counts on the period's first or last day."""
    points: list[BalancePoint] = []
    balance = 0
    for on, kg in sorted(((min(max(on, start), end), kg) for on, kg in legs),
                         key=lambda leg: leg[0]):
        balance += kg
        if points and points[-1].on == on:
            last = points[-1]
            points[-1] = BalancePoint(on=on, change_kg=last.change_kg + kg,
                                      balance_kg=balance, movements=last.movements + 1)
        else:
            points.append(BalancePoint(on=on, change_kg=kg, balance_kg=balance, movements=1))
    return points


ACCOUNT_JOURNAL = 200
"""Entries of an account listed on its page, newest first."""


def account_operations(db: Session, actor: Actor | None,
                       account_id: uuid.UUID) -> list[OperationRead]:
    """The journal entries with a leg on the account, newest first."""
    if actor is None:
        require(actor, action="see the custody journal")
    row = repo.account_by_id(db, account_id)
    if row is None or not common.may_read(actor, row.organization_id):
        raise NotFound("no such account", field="account_id")
    return operation_reads(db, repo.account_operations(db, row.id, ACCOUNT_JOURNAL))


def list_operations(db: Session, actor: Actor | None, entity_id: uuid.UUID,
                    params: PageParams, *, kind: str | None = None) -> OperationPage:
    """The journal of an entity, newest first."""
    if actor is None:
        require(actor, action="see the custody journal")
    common.readable_entity(db, actor, entity_id)
    page = repo.list_operations(db, entity_id, params, kind=kind)
    return OperationPage(items=operation_reads(db, page.items),
                         total=page.total, page=page.page, per_page=page.per_page,
                         pages=page.pages)


def periods(db: Session, actor: Actor | None, entity_id: uuid.UUID) -> list[PeriodRead]:
    if actor is None:
        require(actor, action="see accounting periods")
    common.readable_entity(db, actor, entity_id)
    return [PeriodRead(period_start=s, period_end=e, status=st)
            for s, e, st in repo.periods_of(db, entity_id)]


def own_entities(db: Session, actor: Actor | None) -> list[Party]:
    """The entities of the actor's organisation, by name: whose accounts it keeps."""
    actor = common.member(actor, "keep CoC accounts")
    assert actor.organization_id is not None
    ids = [e.id for e in repo.entities_of(db, actor.organization_id)]
    names = common.Names(db, ids)
    return [names.party(i) for i in ids]


def member_entities(db: Session, actor: Actor | None) -> list[Party]:
    """Every entity of an organisation in the scheme (members and suspended members), by
    organisation and name: the recipients a CoC document may name."""
    require(actor, Role.SECRETARIAT, Role.MEMBER_ADMIN, Role.MEMBER_USER,
            action="list the scheme's entities")
    return [Party(entity_id=i, entity=name, organization=slug, organization_name=org)
            for i, name, slug, org in repo.member_entities(db)]
