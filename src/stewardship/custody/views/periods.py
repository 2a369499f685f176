"""Accounting periods: the list of an entity's periods with the button that closes an
ended one (carrying its balance forward by the entity's rule), and the member admin's
custody settings (period length while no account exists, carry-over cap and expiry)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor, Role, require
from stewardship.core.errors import DomainError, NotFound
from stewardship.core.web import CsrfChecked, DbSession, OptionalActor, redirect
from stewardship.custody.schemas import PeriodClose, SettingsUpdate
from stewardship.custody.service import periods, reads
from stewardship.custody.views.common import (
    MATERIAL_LABELS,
    QueryText,
    Short,
    choose_entity,
    errors_of,
    render,
    reraise_access,
    today,
    validate,
)

router = APIRouter(include_in_schema=False)

PERIOD_LENGTHS = [("12", "12 months (a year)"), ("3", "3 months (a quarter)"),
                  ("1", "1 month")]
SETTINGS_FIELDS = ("period_months", "carry_over_cap", "carry_over_expiry")


def _entity_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw.strip())
    except ValueError:
        raise NotFound("no such entity", field="entity_id") from None


# --- periods ----------------------------------------------------------------------------


def periods_page(request: Request, db: Session, actor: Actor | None, entity: str, *,
                 errors: dict[str, str] | None = None, failed: str = "",
                 status_code: int = 200) -> Response:
    actor = require(actor, action="see accounting periods")
    choice = choose_entity(db, actor, entity)
    rows = reads.periods(db, actor, choice.id) if choice.id else []
    settings = periods.get_settings(db, actor, choice.id) if choice.id else None
    return render(request, "custody/periods.html", {
        "choice": choice, "periods": rows, "settings": settings, "today": today(),
        "errors": errors or {}, "failed": failed,
        "may_admin": actor.role is Role.MEMBER_ADMIN,
    }, status_code)


@router.get("/custody/periods")
def period_list(request: Request, db: DbSession, actor: OptionalActor,
                entity: QueryText = "") -> Response:
    return periods_page(request, db, actor, entity)


@router.post("/custody/periods/close", dependencies=[CsrfChecked])
def close(request: Request, db: DbSession, actor: OptionalActor, entity_id: Short = "",
          period_start: Short = "") -> Response:
    actor = require(actor, action="close accounting periods")
    try:
        data = validate(PeriodClose, {"entity_id": entity_id,
                                      "period_start": period_start.strip()})
        done = periods.close_period(db, actor, data)
    except DomainError as exc:
        reraise_access(exc)
        db.rollback()
        return periods_page(request, db, actor, entity_id,
                            errors=errors_of(exc, shown=("period_start",),
                                             fallback="period_start"),
                            failed=period_start.strip(), status_code=exc.status_code)

    def listed(kg: dict[str, int]) -> str:
        return "; ".join(f"{MATERIAL_LABELS.get(m, m)} {n:,} kg" for m, n in kg.items()
                         if n) or "nothing"

    return redirect(request, f"/custody/periods?entity={entity_id}",
                    f"The period {done.period_start.isoformat()} to "
                    f"{done.period_end.isoformat()} is closed. Carried into the next: "
                    f"{listed(done.carried)}. Expired: {listed(done.expired)}.")


# --- settings ---------------------------------------------------------------------------


def settings_page(request: Request, db: Session, actor: Actor | None, entity: str, *,
                  errors: dict[str, str] | None = None, values: dict[str, Any] | None = None,
                  status_code: int = 200) -> Response:
    actor = require(actor, action="see custody settings")
    choice = choose_entity(db, actor, entity)
    current = periods.get_settings(db, actor, choice.id) if choice.id else None
    if values is None and current is not None:
        values = {"period_months": str(current.period_months),
                  "carry_over_cap": "" if current.carry_over_cap is None
                  else str(current.carry_over_cap),
                  "carry_over_expiry": str(current.carry_over_expiry)}
    return render(request, "custody/settings.html", {
        "choice": choice, "settings": current, "errors": errors or {},
        "values": values or {}, "lengths": PERIOD_LENGTHS,
        "may_change": actor.role is Role.MEMBER_ADMIN,
    }, status_code)


@router.get("/custody/settings")
def settings_form(request: Request, db: DbSession, actor: OptionalActor,
                  entity: QueryText = "") -> Response:
    return settings_page(request, db, actor, entity)


@router.post("/custody/settings", dependencies=[CsrfChecked])
def change_settings(request: Request, db: DbSession, actor: OptionalActor,
                    entity_id: Short = "", period_months: Short = "",
                    carry_over_cap: Short = "", carry_over_expiry: Short = "") -> Response:
    actor = require(actor, Role.MEMBER_ADMIN, action="change custody settings")
    values = {"period_months": period_months.strip(),
              "carry_over_cap": carry_over_cap.strip().replace(",", ""),
              "carry_over_expiry": carry_over_expiry.strip()}
    try:
        months = values["period_months"]  # a Literal of ints: pydantic does not coerce it
        data = validate(SettingsUpdate, {**values, "period_months": int(months)
                                         if months.isdecimal() else months})
        saved = periods.update_settings(db, actor, _entity_id(entity_id), data)
    except DomainError as exc:
        reraise_access(exc)
        db.rollback()
        return settings_page(request, db, actor, entity_id,
                             errors=errors_of(exc, shown=SETTINGS_FIELDS), values=values,
                             status_code=exc.status_code)
    cap = "no cap" if saved.carry_over_cap is None else f"a cap of {saved.carry_over_cap:,} kg"
    return redirect(request, f"/custody/settings?entity={entity_id}",
                    f"Custody settings saved: {saved.period_months}-month periods, {cap}, "
                    f"carried kilograms expire after {saved.carry_over_expiry} "
                    f"period{'s' if saved.carry_over_expiry != 1 else ''}.")
