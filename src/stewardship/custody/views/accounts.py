"""One material account: its balance over the period as a step chart drawn from its
journal, the same figures day by day in a table, its counters and origins, and the
journal entries that moved it."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from stewardship.core.auth import require
from stewardship.core.web import DbSession, OptionalActor
from stewardship.custody import charts
from stewardship.custody.service import reads
from stewardship.custody.views.common import render, today

router = APIRouter(include_in_schema=False)


@router.get("/custody/accounts/{account_id}")
def account_page(request: Request, db: DbSession, actor: OptionalActor,
                 account_id: uuid.UUID) -> Response:
    actor = require(actor, action="see material accounts")
    history = reads.account_history(db, actor, account_id)
    a = history.account
    until = min(a.period_end, max(today(), a.period_start))
    title = (f"Balance of {a.material_label}, {a.entity.entity}, "
             f"{a.period_start:%d %b %Y} to {a.period_end:%d %b %Y}")
    return render(request, "custody/account.html", {
        "a": a, "points": history.points, "until": until,
        "chart": charts.balance_chart(history.points, a.period_start, until, title=title),
        "entries": reads.account_operations(db, actor, account_id),
        "shown": reads.ACCOUNT_JOURNAL, "kind_labels": reads.KIND_LABELS,
        "entity_query": (
            f"?entity={a.entity.entity_id}" if not actor.is_secretariat() else ""),
    })
