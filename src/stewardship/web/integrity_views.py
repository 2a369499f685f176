"""The secretariat's integrity page: the whole database held against the event log, and
the log against its signed checkpoints, as ``stewardship verify`` checks it.

The check runs in the request (as the custody audit's page runs its audit): on the demo
world it reads every trust table in well under a second, and it grows linearly with the
log. The problems are paginated, optionally of one table."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from stewardship.core.auth import Role, require
from stewardship.core.pagination import Page
from stewardship.core.web import DbSession, OptionalActor, Pagination, settings_of
from stewardship.integrity import Problem, check_database

router = APIRouter(include_in_schema=False)

TableName = Annotated[str, Query(max_length=64)]


@router.get("/secretariat/integrity")
def integrity_page(request: Request, db: DbSession, actor: OptionalActor,
                   paging: Pagination, table: TableName = "") -> Response:
    actor = require(actor, Role.SECRETARIAT, action="check the database's integrity")
    report = check_database(db, actor, settings=settings_of(request))
    chosen = table.strip()
    shown: list[Problem] = [p for p in report.problems if not chosen or p.table == chosen]
    page = Page(shown[paging.offset:paging.offset + paging.per_page], len(shown),
                paging.page, paging.per_page)
    response: Response = request.app.state.templates.render(request, "integrity.html", {
        "report": report, "tables": report.tables(), "page": page, "table": chosen})
    return response
