"""Accounting periods: an entity's period length and carry-over rule, and closing a
period, which carries each material's positive balance into the next by that rule."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.orm import Session

from stewardship.core.auth import Actor, Role, require
from stewardship.core.errors import Conflict, InvalidInput
from stewardship.custody import repository as repo
from stewardship.custody import rules
from stewardship.custody.models import CustodySettings
from stewardship.custody.rules import CocMaterial, Period
from stewardship.custody.schemas import CloseResult, PeriodClose, SettingsRead, SettingsUpdate
from stewardship.custody.service import common
from stewardship.custody.service.common import Leg


def _settings_read(db: Session, s: CustodySettings) -> SettingsRead:
    return SettingsRead(entity_id=s.entity_id, period_months=s.period_months,
                        carry_over_cap=s.carry_over_cap,
                        carry_over_expiry=s.carry_over_expiry,
                        changeable=not repo.entity_has_accounts(db, s.entity_id))


def get_settings(db: Session, actor: Actor | None, entity_id: uuid.UUID) -> SettingsRead:
    if actor is None:
        require(actor, action="see custody settings")
    entity = common.readable_entity(db, actor, entity_id)
    return _settings_read(db, common.settings_of(db, entity))


def update_settings(db: Session, actor: Actor | None, entity_id: uuid.UUID,
                    data: SettingsUpdate) -> SettingsRead:
    """Period length and carry-over rule, set by the member admin. The period length is
    fixed once the entity has an account: periods never overlap or leave gaps."""
    actor = require(actor, Role.MEMBER_ADMIN, action="change custody settings")
    entity = common.readable_entity(db, actor, entity_id)  # another member's: 404
    found = repo.settings_of(db, entity.id)
    current = common.settings_of(db, entity)
    if data.period_months != current.period_months and repo.entity_has_accounts(db, entity.id):
        raise Conflict("the period length is fixed once accounts exist; "
                       f"it stays {current.period_months} months", field="period_months")
    if found is None:
        found = current
        db.add(found)
    found.period_months = data.period_months
    found.carry_over_cap = data.carry_over_cap
    found.carry_over_expiry = data.carry_over_expiry
    db.flush()
    common.log(db, actor, "settings.changed", f"entity:{entity.id}",
               {"period_months": data.period_months, "carry_over_cap": data.carry_over_cap,
                "carry_over_expiry": data.carry_over_expiry})
    return _settings_read(db, found)


def close_period(db: Session, actor: Actor | None, data: PeriodClose, *,
                 today: date | None = None) -> CloseResult:
    """Close every account of the entity in the period: carried kilograms (newest kept,
    older ones expiring by the rule) open the next period's accounts with their share of
    the origins; the rest expires. Periods close in order, after they end."""
    actor = common.member(actor, "close accounting periods")
    entity = common.own_entity(db, actor, data.entity_id)
    settings = common.settings_of(db, entity)
    period = rules.period_for(data.period_start, settings.period_months)
    if period.start != data.period_start:
        raise InvalidInput(f"{data.period_start.isoformat()} does not start an accounting "
                           f"period; the period containing it starts on "
                           f"{period.start.isoformat()}", field="period_start")
    if common.today_or(today) <= period.end:
        raise Conflict(f"the period {period.label} has not ended yet", field="period_start")
    if repo.open_accounts_before(db, entity.id, period.start):
        raise Conflict("an earlier period is still open: close periods in order",
                       field="period_start")
    rows = repo.accounts_of_period(db, entity.id, period.start, lock=True)
    if not rows:
        raise InvalidInput(f"{entity.name} has no accounts in {period.label}",
                           field="period_start")
    if all(r.status == "closed" for r in rows):
        raise Conflict(f"the period {period.label} is already closed", field="period_start")
    rule = common.carry_over_rule(settings)
    nxt = rules.next_period(period)
    carried: dict[str, int] = {}
    expired: dict[str, int] = {}
    for row in rows:
        if row.status == "closed":
            continue
        b = common.balance(row)
        opening = rules.close_period(b, rule)
        keep = opening.carried_in
        lost = b.kilograms - keep
        legs: list[Leg] = []
        kept_pool = rules.Pool()
        pool = common.pool(row)
        if keep:
            kept_pool, pool = rules.take(pool, keep)
            target = common.account(db, entity, CocMaterial(row.material), nxt,
                                    field="period_start")
            tb = common.balance(target)
            merged = tuple(a + c for a, c in _zip_longest(tb.carried, opening.carried))
            new_target = rules.Balance(tb.material, tb.period, carried=merged,
                                       produced=tb.produced, received=tb.received,
                                       transformed_in=tb.transformed_in,
                                       transformed_out=tb.transformed_out, issued=tb.issued,
                                       non_coc_in=tb.non_coc_in)
            common.store(target, new_target, rules.add(common.pool(target), kept_pool))
            legs += [Leg(row, None, -keep), Leg(target, None, keep)]
        if lost:
            legs += [Leg(row, None, -lost), Leg(None, f"expired:{entity.id}", lost)]
        row.carried_out, row.expired = keep, lost
        row.status = "closed"
        common.store(row, b, rules.Pool())
        carried[row.material], expired[row.material] = keep, lost
        common.journal(db, actor, entity, "period_close", material=row.material,
                       kilograms=keep, input_kg=lost, occurred_on=period.end, period=period,
                       legs=legs)
    common.log(db, actor, "period.closed", f"entity:{entity.id}",
               {"period": [period.start, period.end], "carried": carried,
                "expired": expired})
    return CloseResult(entity_id=entity.id, period_start=period.start, period_end=period.end,
                       carried=carried, expired=expired)


def _zip_longest(a: tuple[int, ...], b: tuple[int, ...]) -> list[tuple[int, int]]:
    n = max(len(a), len(b))
    return [(a[i] if i < len(a) else 0, b[i] if i < len(b) else 0) for i in range(n)]


def period_label(start: date, end: date) -> str:
    return Period(start, end).label
